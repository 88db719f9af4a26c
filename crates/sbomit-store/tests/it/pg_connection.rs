//! The PostgreSQL connection: TLS as `sslmode` asks, and our URL parameters. Run against the
//! server `SBOMIT_TEST_POSTGRES` names (skipped without it).
#![allow(clippy::unwrap_used)]

use crate::common::Pg;
use sbomit_store::backend;
use sbomit_store::StoreError;

fn base() -> Option<String> {
    match std::env::var("SBOMIT_TEST_POSTGRES") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            eprintln!("SBOMIT_TEST_POSTGRES is not set: skipped");
            None
        }
    }
}

fn with_params(base: &str, params: &str) -> String {
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}{params}")
}

fn unique_app() -> String {
    let mut b = [0u8; 6];
    sbomit_crypto::random_bytes(&mut b).unwrap();
    format!("sbomit_tls_{}", hex::encode(b))
}

/// Whether the server offers TLS at all (`ssl = on`).
fn server_offers_tls(base: &str) -> bool {
    let c = Pg::connect(base).unwrap();
    let ssl: String = c.query_one("SHOW ssl", &[]).unwrap().get(0);
    ssl == "on"
}

/// Whether each session named `app` is encrypted.
fn sessions_encrypted(base: &str, app: &str) -> Vec<bool> {
    let c = Pg::connect(base).unwrap();
    c.query(
        "SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) \
         WHERE a.application_name = $1",
        &[&app],
    )
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}

#[test]
fn sslmode_prefer_encrypts_when_the_server_offers_tls_and_disable_never_does() {
    let Some(base) = base() else { return };
    let tls = server_offers_tls(&base);
    // No sslmode is libpq's default, prefer: a server with a self-signed certificate (as
    // Debian's) keeps working, encrypted.
    for (mode, encrypted) in [
        ("", tls),
        ("sslmode=prefer", tls),
        ("sslmode=disable", false),
    ] {
        let app = unique_app();
        let url = with_params(&base, &format!("application_name={app}&{mode}"));
        let backend = backend::open(&url).unwrap_or_else(|e| panic!("{mode:?}: {e}"));
        assert_eq!(backend.name(), "postgres");
        // Opening checks one connection out and keeps it in the pool.
        assert_eq!(sessions_encrypted(&base, &app), vec![encrypted], "{mode:?}");
        drop(backend);
    }
}

#[test]
fn sslmode_require_refuses_a_server_whose_certificate_no_trusted_root_signed() {
    let Some(base) = base() else { return };
    // Without TLS on the server, require fails for that; with TLS, the test server's
    // certificate is self-signed, so the webpki roots do not cover it.
    let err = backend::open(&with_params(&base, "sslmode=require"))
        .err()
        .expect("require connected to a server it cannot verify");
    assert!(matches!(err, StoreError::Postgres(_)), "{err}");
    if server_offers_tls(&base) {
        let text = format!("{err:?}");
        assert!(
            text.contains("certificate") || text.contains("Certificate"),
            "{text}"
        );
    }
    // A root of our own that did not sign the server's certificate does not either, even
    // with prefer: given roots are always checked.
    let dir = tempfile::tempdir().unwrap();
    let ca = rcgen::CertificateParams::new(vec!["not-the-server.example".into()])
        .unwrap()
        .self_signed(&rcgen::KeyPair::generate().unwrap())
        .unwrap();
    let path = dir.path().join("ca.pem");
    std::fs::write(&path, ca.pem()).unwrap();
    if server_offers_tls(&base) {
        let url = with_params(
            &base,
            &format!("sslmode=prefer&sslrootcert={}", path.display()),
        );
        assert!(backend::open(&url).is_err());
    }
}

#[test]
fn bad_pool_size_and_missing_sslrootcert_are_refused_naming_the_parameter() {
    let Some(base) = base() else { return };
    for (params, name) in [
        ("pool_size=0", "pool_size"),
        ("pool_size=many", "pool_size"),
        ("sslrootcert=/nonexistent/ca.pem", "sslrootcert"),
    ] {
        match backend::open(&with_params(&base, params)) {
            Err(StoreError::DatabaseParameter { name: n, .. }) => assert_eq!(n, name, "{params}"),
            Err(e) => panic!("{params}: {e}"),
            Ok(_) => panic!("{params}: accepted"),
        }
    }
}

#[test]
fn sslmode_require_connects_to_a_server_whose_certificate_sslrootcert_signed() {
    let Some(base) = base() else { return };
    if !server_offers_tls(&base) {
        eprintln!("the server does not offer TLS: skipped");
        return;
    }
    // The server's own certificate as the root (self-signed, as Debian's snake-oil one, whose
    // name is localhost); only when this machine runs the server and can read it.
    let c = Pg::connect(&base).unwrap();
    let cert: String = c.query_one("SHOW ssl_cert_file", &[]).unwrap().get(0);
    let Some(local) = base
        .contains("@127.0.0.1:")
        .then(|| base.replace("@127.0.0.1:", "@localhost:"))
        .filter(|_| std::fs::metadata(&cert).is_ok())
    else {
        eprintln!("the server's certificate is not readable here: skipped");
        return;
    };
    let app = unique_app();
    let url = with_params(
        &local,
        &format!("sslmode=require&sslrootcert={cert}&application_name={app}"),
    );
    let backend = match backend::open(&url) {
        Ok(b) => b,
        // A certificate not issued for localhost proves nothing either way.
        Err(e) if format!("{e:?}").contains("NotValidForName") => {
            eprintln!("the server's certificate does not name localhost: skipped");
            return;
        }
        Err(e) => panic!("{e:?}"),
    };
    assert_eq!(sessions_encrypted(&base, &app), vec![true]);
    drop(backend);
}
