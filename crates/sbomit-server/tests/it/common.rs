//! The fixture of the server tests: a fresh database per test (`sbomit-testkit`: a SQLite
//! file in a temp dir, or a fresh PostgreSQL schema when `SBOMIT_TEST_POSTGRES` names a
//! server), a store on it, and the server on 127.0.0.1 port 0 in its own runtime thread,
//! spoken to over real HTTP.
#![allow(dead_code, clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use sbomit_crypto::PrivateKey;
use sbomit_server::ServerConfig;
use sbomit_store::backend::Scope;
use sbomit_store::policy::Role;
use sbomit_store::service_key::ServiceKey;
use sbomit_store::{Store, StoreConfig};

pub use sbomit_testkit::{
    backends, cose_statement, each_backend, key, peer_bin, unique_suffix, Backend, Db,
};

/// A running server over a fresh store.
pub struct TestServer {
    pub base: String,
    pub port: u16,
    pub store: Store,
    pub admin_token: String,
    /// The service key of every server on this database.
    pub key: Arc<ServiceKey>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    // Dropped last: the schema goes after the server and store are gone. `None` for a second
    // server on another server's database.
    db: Option<Db>,
}

fn new_service_key() -> Arc<ServiceKey> {
    Arc::new(ServiceKey::generate().unwrap())
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
        Self::start_on(&db.url.clone(), &new_service_key(), config, Some(db))
    }

    /// A server on a fresh PostgreSQL schema whose URL also carries `params` (`a=1&b=2`),
    /// such as the store's `pool_size`.
    pub fn start_postgres_with(base: &str, params: &str, config: ServerConfig) -> TestServer {
        let mut db = Db::new(&Backend::Postgres(base.to_owned()));
        // The URL has a query already: the schema's `options`.
        db.url = format!("{}&{params}", db.url);
        Self::start_on(&db.url.clone(), &new_service_key(), config, Some(db))
    }

    /// Another server process on this server's database and service key (drop it first).
    pub fn second(&self, config: ServerConfig) -> TestServer {
        let db = self.db.as_ref().unwrap();
        Self::start_on(&db.url, &self.key, config, None)
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
            key: Arc::clone(service_key),
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

/// A DSSE envelope of an in-toto Statement v1 about one artifact, signed by `key`.
pub fn dsse_statement(key: &PrivateKey, name: &str, predicate_type: &str) -> Vec<u8> {
    sbomit_testkit::dsse_statement(
        key,
        name,
        predicate_type,
        serde_json::json!({ "builder": { "id": "https://ci.example/builder" } }),
    )
}

/// `../shared/tools/scitt_peer.py`, beside the repository.
pub fn scitt_peer_script() -> std::path::PathBuf {
    sbomit_testkit::shared_tool("scitt_peer.py")
}

pub use sbomit_testkit::Pg;
