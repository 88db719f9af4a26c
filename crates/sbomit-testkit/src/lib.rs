//! Helpers shared by the workspace's integration tests: a fresh database per test (a SQLite
//! file in a temp dir, or a PostgreSQL schema of its own when `SBOMIT_TEST_POSTGRES` names a
//! server), fresh keys, signed statements (COSE and DSSE), and the peer tools' locations.
//!
//! ### What this crate does not do
//! It is a dev-dependency only (`publish = false`): nothing here is for production code, and
//! it panics on any setup failure, as a test fixture should. It does not depend on the crates
//! that use it (`sbomit-store`, `sbomit-server`, `sbomit-cli`), so their own types stay in
//! their tests' `common.rs`; nor does it make HTTP calls.
#![forbid(unsafe_code, unused_must_use)]
// A fixture that cannot be set up is a failed test: panicking with the cause is the point.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sbomit_crypto::{KeyKind, PrivateKey};
use sbomit_intoto::envelope::{Envelope, EnvelopeKind};
use sbomit_scitt::cose::{SignedStatement, StatementHeader};
use serde_json::Value;

// ---------------------------------------------------------------------------------------
// Databases

/// The variable naming the PostgreSQL server tests may use (CI sets it; see `.ci/run`).
pub const POSTGRES_VAR: &str = "SBOMIT_TEST_POSTGRES";

/// The PostgreSQL server's URL from [`POSTGRES_VAR`], or `None` (with the skip line on
/// stderr) when it is not set.
pub fn postgres_base() -> Option<String> {
    match std::env::var(POSTGRES_VAR) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            eprintln!("{POSTGRES_VAR} is not set: PostgreSQL skipped");
            None
        }
    }
}

/// A PostgreSQL session for the tests' own setup and checks, on the async client the store
/// uses, with a runtime of its own (the tests are synchronous).
pub struct Pg {
    rt: tokio::runtime::Runtime,
    client: tokio_postgres::Client,
}

impl Pg {
    pub fn connect(url: &str) -> Result<Pg, tokio_postgres::Error> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let client = rt.block_on(async {
            let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
            // Driven whenever a query below is.
            tokio::spawn(async move {
                let _ = connection.await;
            });
            Ok::<_, tokio_postgres::Error>(client)
        })?;
        Ok(Pg { rt, client })
    }

    pub fn batch_execute(&self, sql: &str) -> Result<(), tokio_postgres::Error> {
        self.rt.block_on(self.client.batch_execute(sql))
    }

    pub fn query(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Vec<tokio_postgres::Row>, tokio_postgres::Error> {
        self.rt.block_on(self.client.query(sql, params))
    }

    pub fn query_one(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<tokio_postgres::Row, tokio_postgres::Error> {
        self.rt.block_on(self.client.query_one(sql, params))
    }
}

/// A PostgreSQL schema of its own for one test, dropped (with everything in it) on drop.
pub struct PgSchema {
    base: String,
    name: String,
}

impl PgSchema {
    /// Creates a schema named `<prefix>_<unique suffix>` on the server at `base`. The suffix
    /// is unique across processes and calls, so parallel tests and reruns never meet.
    pub fn create(base: &str, prefix: &str) -> PgSchema {
        let name = format!("{prefix}_{}", unique_suffix());
        let c = Pg::connect(base).unwrap();
        c.batch_execute(&format!("CREATE SCHEMA {name}")).unwrap();
        PgSchema {
            base: base.to_owned(),
            name,
        }
    }

    /// [`PgSchema::create`] on the server [`POSTGRES_VAR`] names; `None` when it is not set.
    pub fn from_env(prefix: &str) -> Option<PgSchema> {
        postgres_base().map(|base| PgSchema::create(&base, prefix))
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The server's URL with this schema as the search path.
    pub fn url(&self) -> String {
        let sep = if self.base.contains('?') { '&' } else { '?' };
        format!("{}{sep}options=-csearch_path%3D{}", self.base, self.name)
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        if let Ok(c) = Pg::connect(&self.base) {
            let _ = c.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name));
        }
    }
}

/// `<pid>_<random hex>_<counter>`: lowercase, so it is a valid unquoted SQL identifier.
pub fn unique_suffix() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let mut random = [0u8; 4];
    sbomit_crypto::random_bytes(&mut random).unwrap();
    format!(
        "{}_{}_{}",
        std::process::id(),
        hex::encode(random),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Which database a test runs on.
#[derive(Clone, Debug)]
pub enum Backend {
    Sqlite,
    /// The server's base URL.
    Postgres(String),
}

impl Backend {
    pub fn name(&self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }
}

/// SQLite always; PostgreSQL too when [`POSTGRES_VAR`] is set.
pub fn backends() -> Vec<Backend> {
    let mut v = vec![Backend::Sqlite];
    v.extend(postgres_base().map(Backend::Postgres));
    v
}

/// Runs `f` once per backend, naming the backend first so a failure says which.
pub fn each_backend(f: impl Fn(&Backend)) {
    for b in backends() {
        eprintln!("-- backend {}", b.name());
        f(&b);
    }
}

/// A fresh database: a SQLite file (`log.db`) in a temp dir, or a PostgreSQL schema (with
/// a temp dir beside it for the service key). Removed on drop.
pub struct Db {
    /// The store URL (`sqlite://…` or `postgres://…?options=-csearch_path%3D…`).
    pub url: String,
    pub dir: tempfile::TempDir,
    /// The schema, for PostgreSQL.
    pub pg: Option<PgSchema>,
}

impl Db {
    pub fn new(backend: &Backend) -> Db {
        match backend {
            Backend::Sqlite => Db::sqlite(),
            Backend::Postgres(base) => Db::postgres(base),
        }
    }

    pub fn sqlite() -> Db {
        let dir = tempdir();
        Db {
            url: format!("sqlite://{}", dir.path().join("log.db").display()),
            dir,
            pg: None,
        }
    }

    pub fn postgres(base: &str) -> Db {
        let schema = PgSchema::create(base, "t");
        Db {
            url: schema.url(),
            dir: tempdir(),
            pg: Some(schema),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Files, keys and statements

pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

/// A fresh key of `kind`.
pub fn key(kind: KeyKind) -> PrivateKey {
    PrivateKey::generate(kind).unwrap()
}

/// A COSE Sign1 SCITT Signed Statement by `key` with the given issuer, subject and content
/// type.
pub fn cose_statement(key: &PrivateKey, iss: &str, sub: &str, ct: &str, payload: &[u8]) -> Vec<u8> {
    SignedStatement::sign(
        &StatementHeader {
            iss: iss.into(),
            sub: sub.into(),
            content_type: Some(ct.into()),
            kid: None,
        },
        payload,
        key,
    )
    .unwrap()
}

/// A DSSE envelope file, signed by `key`, of an in-toto Statement v1 about one artifact
/// `name` (its sha256 is that of the name's bytes).
pub fn dsse_statement(
    key: &PrivateKey,
    name: &str,
    predicate_type: &str,
    predicate: Value,
) -> Vec<u8> {
    let digest = hex::encode(sbomit_intoto::digest::Sha256::digest(name.as_bytes()).as_bytes());
    let statement = serde_json::json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{ "name": name, "digest": { "sha256": digest } }],
        "predicateType": predicate_type,
        "predicate": predicate,
    });
    let mut env = Envelope::from_value(EnvelopeKind::Dsse, statement).unwrap();
    env.sign(key).unwrap();
    env.to_file_bytes()
}

// ---------------------------------------------------------------------------------------
// Graph fixtures (the SBOM / VEX / OSV readers and the Store's extraction of them)

/// One key for a test binary's statements (its identity does not matter to the readers).
pub fn shared_key() -> &'static PrivateKey {
    static KEY: std::sync::OnceLock<PrivateKey> = std::sync::OnceLock::new();
    KEY.get_or_init(|| key(KeyKind::Ed25519))
}

/// A JSON fixture under `testdata/graph/` (see the README there).
pub fn graph_fixture(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/graph")
        .join(name);
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

/// 64 hex digits all `c`: a recognisable fake SHA-256.
pub fn hex64(c: char) -> String {
    c.to_string().repeat(64)
}

/// `sha256:` and [`hex64`].
pub fn sha256_of(c: char) -> String {
    format!("sha256:{}", hex64(c))
}

/// A DSSE envelope file, signed by [`shared_key`], of an in-toto Statement with these
/// subjects (a subject without a sha256 gets only a sha512) and this predicate.
pub fn dsse_with_subjects(
    predicate_type: &str,
    subjects: &[(&str, Option<String>)],
    predicate: Value,
) -> Vec<u8> {
    let subject: Vec<Value> = subjects
        .iter()
        .map(|(name, digest)| match digest {
            Some(d) => serde_json::json!({"name": name, "digest": {"sha256": d}}),
            None => serde_json::json!({"name": name, "digest": {"sha512": "00"}}),
        })
        .collect();
    let statement = serde_json::json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": subject,
        "predicateType": predicate_type,
        "predicate": predicate,
    });
    let mut env = Envelope::from_value(EnvelopeKind::Dsse, statement).unwrap();
    env.sign(shared_key()).unwrap();
    env.to_file_bytes()
}

// ---------------------------------------------------------------------------------------
// Peers

/// The path a peer tool's variable names, or `None` (with the skip line on stderr) when it
/// is not set: peer tests are skipped then, and CI always sets them (see `.ci/run`).
pub fn peer_bin(var: &str) -> Option<PathBuf> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Some(v.into()),
        _ => {
            eprintln!("{var} is not set: skipped (CI sets it; see .ci/run)");
            None
        }
    }
}

/// `../shared/tools/<name>`, beside the repository (the peer drivers).
pub fn shared_tool(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/tools")
        .join(name)
}
