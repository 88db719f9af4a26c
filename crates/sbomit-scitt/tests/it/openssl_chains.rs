//! X.509 chains built by OpenSSL, not by rcgen (issue 12 b): the same path rules hold for
//! certificates from another encoder, including the extensions written the way openssl writes
//! them. Runs when `SBOMIT_OPENSSL` names the openssl binary (`.ci/run` sets it).
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

use sbomit_scitt::x509::{certificate_der, validate_chain, X509Error};

const ISS: &str = "https://issuer.example";

/// A scratch directory removed on drop (this crate has no tempfile dependency).
struct Scratch(std::path::PathBuf);

impl Scratch {
    fn new() -> Self {
        let d = std::env::temp_dir().join(format!("sbomit-openssl-chains-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        Scratch(d)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn openssl(dir: &Path, args: &[&str]) {
    let bin = std::env::var_os("SBOMIT_OPENSSL").unwrap();
    let o = Command::new(bin)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// A P-256 key `name.key`.
fn key(dir: &Path, name: &str) {
    openssl(
        dir,
        &[
            "ecparam",
            "-name",
            "prime256v1",
            "-genkey",
            "-noout",
            "-out",
            &format!("{name}.key"),
        ],
    );
}

/// `name.pem`, for key `name.key`, signed by `issuer` (its `.pem` and `.key`) with the
/// extensions `ext` (openssl's config syntax, one per line).
fn cert(dir: &Path, name: &str, issuer: &str, ext: &str) {
    key(dir, name);
    std::fs::write(dir.join(format!("{name}.ext")), ext).unwrap();
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-key",
            &format!("{name}.key"),
            "-subj",
            &format!("/CN={name}"),
            "-out",
            &format!("{name}.csr"),
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &format!("{name}.csr"),
            "-CA",
            &format!("{issuer}.pem"),
            "-CAkey",
            &format!("{issuer}.key"),
            "-set_serial",
            "2",
            "-days",
            "2",
            "-sha256",
            "-extfile",
            &format!("{name}.ext"),
            "-out",
            &format!("{name}.pem"),
        ],
    );
}

fn der(dir: &Path, name: &str) -> Vec<u8> {
    certificate_der(&std::fs::read(dir.join(format!("{name}.pem"))).unwrap()).unwrap()
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

const CA: &str =
    "basicConstraints = critical, CA:TRUE\nkeyUsage = critical, keyCertSign, cRLSign\n";

fn leaf_ext(eku: &str, san: &str) -> String {
    format!(
        "basicConstraints = critical, CA:FALSE\nkeyUsage = critical, digitalSignature\n\
         extendedKeyUsage = {eku}\nsubjectAltName = {san}\n"
    )
}

#[test]
fn openssl_chains_follow_the_same_path_rules() {
    if std::env::var_os("SBOMIT_OPENSSL").is_none() {
        eprintln!("SBOMIT_OPENSSL is not set: skipping the openssl-built chains");
        return;
    }
    let d = Scratch::new();
    let p = d.0.as_path();
    key(p, "root");
    openssl(
        p,
        &[
            "req",
            "-x509",
            "-new",
            "-key",
            "root.key",
            "-subj",
            "/CN=root",
            "-days",
            "2",
            "-sha256",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
            "-out",
            "root.pem",
        ],
    );
    let root = der(p, "root");
    cert(p, "int", "root", CA);
    cert(
        p,
        "good",
        "int",
        &leaf_ext("codeSigning", "URI:https://issuer.example"),
    );
    cert(
        p,
        "tls",
        "int",
        &leaf_ext("serverAuth", "DNS:issuer.example"),
    );
    cert(
        p,
        "other",
        "int",
        &leaf_ext("codeSigning", "URI:https://other.example"),
    );
    // An intermediate that may not have a CA below it, and one constrained to example.org.
    cert(
        p,
        "int0",
        "root",
        "basicConstraints = critical, CA:TRUE, pathlen:0\nkeyUsage = critical, keyCertSign, cRLSign\n",
    );
    cert(p, "sub", "int0", CA);
    cert(
        p,
        "deep",
        "sub",
        &leaf_ext("codeSigning", "URI:https://issuer.example"),
    );
    cert(
        p,
        "named",
        "root",
        &format!("{CA}nameConstraints = critical, permitted;DNS:example.org\n"),
    );
    cert(
        p,
        "outside",
        "named",
        &leaf_ext("codeSigning", "DNS:issuer.example"),
    );

    let chain = |names: &[&str]| -> Result<sbomit_crypto::PublicKey, X509Error> {
        let certs: Vec<Vec<u8>> = names.iter().map(|n| der(p, n)).collect();
        validate_chain(&certs, std::slice::from_ref(&root), ISS, now())
    };
    // A good chain yields the leaf's key.
    let good = chain(&["good", "int"]).unwrap();
    openssl(
        p,
        &["pkey", "-in", "good.key", "-pubout", "-out", "good.pub"],
    );
    let expected =
        sbomit_crypto::PublicKey::from_pem(&std::fs::read(p.join("good.pub")).unwrap(), None)
            .unwrap();
    assert_eq!(good.spki_der(), expected.spki_der());
    assert!(
        matches!(
            chain(&["tls", "int"]),
            Err(X509Error::Path(_) | X509Error::LeafEku { .. })
        ),
        "{:?}",
        chain(&["tls", "int"])
    );
    assert!(
        matches!(
            chain(&["other", "int"]),
            Err(X509Error::IssuerMismatch { .. })
        ),
        "{:?}",
        chain(&["other", "int"])
    );
    // webpki's reasons, by their names (this test does not link webpki itself).
    let path_error = |names: &[&str]| match chain(names) {
        Err(X509Error::Path(e)) => format!("{e:?}"),
        other => panic!("{names:?}: {other:?}"),
    };
    assert!(path_error(&["deep", "sub", "int0"]).contains("PathLen"));
    assert!(path_error(&["outside", "named"]).contains("NameConstraintViolation"));
    // The same leaf after a byte of its TBS changed: the signature no longer holds.
    let mut tampered = der(p, "good");
    let i = tampered.len() / 2;
    tampered[i] ^= 1;
    assert!(validate_chain(
        &[tampered, der(p, "int")],
        std::slice::from_ref(&root),
        ISS,
        now()
    )
    .is_err());
}
