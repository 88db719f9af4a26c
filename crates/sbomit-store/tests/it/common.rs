//! Fresh databases for the store tests: a SQLite file, and a PostgreSQL schema when
//! `SBOMIT_TEST_POSTGRES` names a server.
#![allow(dead_code, clippy::unwrap_used)]

use std::sync::Arc;

use sbomit_store::service_key::ServiceKey;
use sbomit_store::{Store, StoreConfig};

/// A fresh database: a SQLite file in a temp dir, or a PostgreSQL schema dropped on drop.
pub struct Db {
    pub url: String,
    pub dir: tempfile::TempDir,
    pub pg: Option<(String, String)>,
    /// The service key every store opened on this database uses.
    pub key: Arc<ServiceKey>,
}

impl Db {
    pub fn sqlite() -> Db {
        let dir = tempfile::tempdir().unwrap();
        Db {
            url: format!("sqlite://{}", dir.path().join("log.db").display()),
            dir,
            pg: None,
            key: Arc::new(ServiceKey::generate().unwrap()),
        }
    }

    pub fn postgres(base: &str) -> Db {
        let schema = format!("t_{}", hex::encode(rand_bytes()));
        let c = Pg::connect(base).unwrap();
        c.batch_execute(&format!("CREATE SCHEMA {schema}")).unwrap();
        let sep = if base.contains('?') { '&' } else { '?' };
        Db {
            url: format!("{base}{sep}options=-csearch_path%3D{schema}"),
            dir: tempfile::tempdir().unwrap(),
            pg: Some((base.to_owned(), schema)),
            key: Arc::new(ServiceKey::generate().unwrap()),
        }
    }

    pub fn config(&self) -> StoreConfig {
        let mut c = StoreConfig::new(&self.url, Arc::clone(&self.key));
        c.batch.interval = std::time::Duration::from_millis(5);
        c
    }

    pub fn open(&self) -> Store {
        Store::open(&self.config()).unwrap().0
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

fn rand_bytes() -> [u8; 6] {
    let mut b = [0u8; 6];
    sbomit_crypto::random_bytes(&mut b).unwrap();
    b
}

/// Runs `f` on every backend available.
pub fn each_backend(f: impl Fn(&Db)) {
    f(&Db::sqlite());
    match std::env::var("SBOMIT_TEST_POSTGRES") {
        Ok(url) if !url.is_empty() => f(&Db::postgres(&url)),
        _ => eprintln!("SBOMIT_TEST_POSTGRES is not set: PostgreSQL backend skipped"),
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
