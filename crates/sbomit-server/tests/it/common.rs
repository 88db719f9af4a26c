//! The fixture of the server tests: a fresh database per test (a SQLite file in a temp dir,
//! or a fresh PostgreSQL schema when `SBOMIT_TEST_POSTGRES` names a server), a store on it,
//! and the server on 127.0.0.1 port 0 in its own runtime thread, spoken to over real HTTP:
//! through `sbomit-client` where a typed call exists, raw requests (below) where a test looks
//! at statuses, headers and problem details or sends what a client never would.
#![allow(dead_code, clippy::unwrap_used)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sbomit_crypto::{KeyKind, PrivateKey};
use sbomit_intoto::envelope::{Envelope, EnvelopeKind};
use sbomit_scitt::cose::{SignedStatement, StatementHeader};
use sbomit_server::ServerConfig;
use sbomit_store::backend::Scope;
use sbomit_store::policy::Role;
use sbomit_store::service_key::ServiceKey;
use sbomit_store::{Store, StoreConfig};

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

/// SQLite always; PostgreSQL too when `SBOMIT_TEST_POSTGRES` is set.
pub fn backends() -> Vec<Backend> {
    let mut v = vec![Backend::Sqlite];
    match std::env::var("SBOMIT_TEST_POSTGRES") {
        Ok(url) if !url.is_empty() => v.push(Backend::Postgres(url)),
        _ => eprintln!("SBOMIT_TEST_POSTGRES is not set: PostgreSQL backend skipped"),
    }
    v
}

/// Runs `f` once per backend, naming the backend when it fails.
pub fn each_backend(f: impl Fn(&Backend)) {
    for b in backends() {
        eprintln!("-- backend {}", b.name());
        f(&b);
    }
}

pub fn unique_suffix() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "{}_{}_{}",
        std::process::id(),
        t % 1_000_000_000_000,
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A fresh database, removed on drop.
pub struct Db {
    pub url: String,
    pub dir: tempfile::TempDir,
    pg: Option<(String, String)>,
    /// The service key of every server on this database.
    pub key: Arc<ServiceKey>,
}

impl Db {
    pub fn new(backend: &Backend) -> Db {
        let dir = tempfile::tempdir().unwrap();
        match backend {
            Backend::Sqlite => Db {
                url: format!("sqlite://{}", dir.path().join("log.db").display()),
                dir,
                pg: None,
                key: Arc::new(ServiceKey::generate().unwrap()),
            },
            Backend::Postgres(base) => {
                let schema = format!("t_srv_{}", unique_suffix());
                let c = Pg::connect(base).unwrap();
                c.batch_execute(&format!("CREATE SCHEMA {schema}")).unwrap();
                let sep = if base.contains('?') { '&' } else { '?' };
                Db {
                    url: format!("{base}{sep}options=-csearch_path%3D{schema}"),
                    dir,
                    pg: Some((base.clone(), schema)),
                    key: Arc::new(ServiceKey::generate().unwrap()),
                }
            }
        }
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        if let Some((base, schema)) = &self.pg {
            if let Ok(c) = Pg::connect(base) {
                let _ = c.batch_execute(&format!("DROP SCHEMA {schema} CASCADE"));
            }
        }
    }
}

/// A running server over a fresh store.
pub struct TestServer {
    pub base: String,
    pub port: u16,
    pub store: Store,
    pub admin_token: String,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    // Dropped last: the schema goes after the server and store are gone. `None` for a second
    // server on another server's database.
    db: Option<Db>,
}

/// The test defaults: a short batch interval, a generous registration wait.
pub fn config() -> ServerConfig {
    ServerConfig {
        batch_interval_ms: 5,
        ..ServerConfig::default()
    }
}

impl TestServer {
    pub fn start(backend: &Backend, config: ServerConfig) -> TestServer {
        let db = Db::new(backend);
        Self::start_on(&db.url.clone(), &Arc::clone(&db.key), config, Some(db))
    }

    /// A server on a fresh PostgreSQL schema whose URL also carries `params` (`a=1&b=2`),
    /// such as the store's `pool_size`.
    pub fn start_postgres_with(base: &str, params: &str, config: ServerConfig) -> TestServer {
        let mut db = Db::new(&Backend::Postgres(base.to_owned()));
        // The URL has a query already: the schema's `options`.
        db.url = format!("{}&{params}", db.url);
        Self::start_on(&db.url.clone(), &Arc::clone(&db.key), config, Some(db))
    }

    /// Another server process on this server's database and service key (drop it first).
    pub fn second(&self, config: ServerConfig) -> TestServer {
        let db = self.db.as_ref().unwrap();
        Self::start_on(&db.url, &Arc::clone(&db.key), config, None)
    }

    fn start_on(
        url: &str,
        service_key: &Arc<ServiceKey>,
        config: ServerConfig,
        db: Option<Db>,
    ) -> TestServer {
        let mut sc = StoreConfig::new(url, Arc::clone(service_key));
        sc.batch = config.batch_config();
        sc.max_statement_bytes = config.max_body_bytes;
        let (store, _) = Store::open(&sc).unwrap();
        let admin_token = store.create_token(Scope::Admin, "test admin").unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let served = store.clone();
        let thread = std::thread::spawn(move || {
            rt.block_on(async move {
                sbomit_server::serve(served, config, listener, async {
                    let _ = rx.await;
                })
                .await
                .unwrap();
            });
        });
        TestServer {
            base: format!("http://127.0.0.1:{port}"),
            port,
            store,
            admin_token,
            shutdown: Some(tx),
            thread: Some(thread),
            db,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Registers `key` for `iss` directly in the store (the fixture's shortcut).
    pub fn add_issuer(&self, iss: &str, role: Role, key: &PrivateKey) {
        self.store.add_issuer(iss, role, key.public_key()).unwrap();
    }

    /// A typed client of this server, without a token. Registrations are not polled: a
    /// success is the store's immediate 201, as the tests expect of their generous wait.
    pub fn client(&self) -> sbomit_client::Client {
        sbomit_client::Client::new(&self.base)
            .unwrap()
            .with_registration_polling(Duration::ZERO, Duration::ZERO)
    }

    /// [`TestServer::client`] with the admin token.
    pub fn admin_client(&self) -> sbomit_client::Client {
        self.client().with_token(Some(&self.admin_token))
    }

    /// The tree size of the newest checkpoint, read over HTTP.
    pub fn checkpoint_size(&self) -> u64 {
        let note = self
            .client()
            .checkpoint()
            .unwrap_or_else(|e| panic!("GET /checkpoint: {e}"));
        note.lines().nth(1).unwrap().parse().unwrap()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A response, read whole.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    /// The (title, detail) of RFC 9290 concise problem details.
    pub fn concise_problem(&self) -> (String, String) {
        assert_eq!(
            self.header("content-type"),
            Some("application/concise-problem-details+cbor"),
            "status {}: {}",
            self.status,
            self.text()
        );
        let v: ciborium::value::Value = ciborium::de::from_reader(&self.body[..]).unwrap();
        let map = v.as_map().unwrap();
        let field = |k: i64| {
            map.iter()
                .find(|(key, _)| key.as_integer() == Some(k.into()))
                .and_then(|(_, v)| v.as_text())
                .unwrap()
                .to_owned()
        };
        (field(-1), field(-2))
    }

    /// The title of RFC 9457 problem details.
    pub fn json_problem_title(&self) -> String {
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "status {}: {}",
            self.status,
            self.text()
        );
        let v = self.json();
        assert_eq!(v["status"], self.status);
        v["title"].as_str().unwrap().to_owned()
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .build(),
    )
}

fn collect(r: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Resp {
    let mut r = r.unwrap();
    let headers = r
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    Resp {
        status: r.status().as_u16(),
        headers,
        body: r
            .body_mut()
            .with_config()
            .limit(64 << 20)
            .read_to_vec()
            .unwrap(),
    }
}

pub fn get(url: &str, headers: &[(&str, &str)]) -> Resp {
    let mut req = agent().get(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    collect(req.call())
}

pub fn post(url: &str, content_type: Option<&str>, body: &[u8], headers: &[(&str, &str)]) -> Resp {
    let mut req = agent().post(url);
    if let Some(ct) = content_type {
        req = req.header("Content-Type", ct);
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    collect(req.send(body))
}

/// A POST whose body is streamed chunked (no Content-Length), so only the server's streaming
/// limit can stop it.
pub fn post_chunked(url: &str, content_type: &str, body: Vec<u8>) -> Resp {
    let req = agent().post(url).header("Content-Type", content_type);
    collect(
        req.send(ureq::SendBody::from_owned_reader(std::io::Cursor::new(
            body,
        ))),
    )
}

pub fn put(url: &str, content_type: &str, body: &[u8], headers: &[(&str, &str)]) -> Resp {
    let mut req = agent().put(url).header("Content-Type", content_type);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    collect(req.send(body))
}

pub fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

pub fn key(kind: KeyKind) -> PrivateKey {
    PrivateKey::generate(kind).unwrap()
}

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

/// A DSSE envelope of an in-toto Statement v1 about one artifact, signed by `key`.
pub fn dsse_statement(key: &PrivateKey, name: &str, predicate_type: &str) -> Vec<u8> {
    let digest = hex::encode(sbomit_intoto::digest::Sha256::digest(name.as_bytes()).as_bytes());
    let statement = serde_json::json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{ "name": name, "digest": { "sha256": digest } }],
        "predicateType": predicate_type,
        "predicate": { "builder": { "id": "https://ci.example/builder" } },
    });
    let mut env = Envelope::from_value(EnvelopeKind::Dsse, statement).unwrap();
    env.sign(key).unwrap();
    env.to_file_bytes()
}

/// Whether a peer tool's variable is set; prints the skip line when not.
pub fn peer_bin(var: &str) -> Option<std::path::PathBuf> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Some(v.into()),
        _ => {
            eprintln!("{var} is not set: skipped (CI sets it; see .ci/run)");
            None
        }
    }
}

/// `../shared/tools/scitt_peer.py`, beside the repository.
pub fn scitt_peer_script() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/tools/scitt_peer.py")
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
