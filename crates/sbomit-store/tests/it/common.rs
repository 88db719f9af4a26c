//! Fresh databases for the store tests (from `sbomit-testkit`): a SQLite file, and a
//! PostgreSQL schema when `SBOMIT_TEST_POSTGRES` names a server, with a store on them.
#![allow(dead_code, clippy::unwrap_used)]

use std::sync::Arc;

use sbomit_store::service_key::ServiceKey;
use sbomit_store::{Store, StoreConfig};

pub use sbomit_testkit::Pg;

/// A fresh database ([`sbomit_testkit::Db`]) and how the store tests open it.
pub struct Db {
    db: sbomit_testkit::Db,
    /// The service key every store opened on this database uses.
    pub key: Arc<ServiceKey>,
}

impl std::ops::Deref for Db {
    type Target = sbomit_testkit::Db;
    fn deref(&self) -> &sbomit_testkit::Db {
        &self.db
    }
}

impl Db {
    fn with_key(db: sbomit_testkit::Db) -> Db {
        Db {
            db,
            key: Arc::new(ServiceKey::generate().unwrap()),
        }
    }

    pub fn sqlite() -> Db {
        Db::with_key(sbomit_testkit::Db::sqlite())
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

/// Runs `f` on every backend available.
pub fn each_backend(f: impl Fn(&Db)) {
    sbomit_testkit::each_backend(|b| f(&Db::with_key(sbomit_testkit::Db::new(b))));
}
