//! Fresh databases for the store tests (from `sbomit-testkit`): a SQLite file, and a
//! PostgreSQL schema when `SBOMIT_TEST_POSTGRES` names a server, with a store on them.
#![allow(dead_code, clippy::unwrap_used)]

use sbomit_store::{Store, StoreConfig};

/// A fresh database ([`sbomit_testkit::Db`]) and how the store tests open it.
pub struct Db(sbomit_testkit::Db);

impl std::ops::Deref for Db {
    type Target = sbomit_testkit::Db;
    fn deref(&self) -> &sbomit_testkit::Db {
        &self.0
    }
}

impl Db {
    pub fn sqlite() -> Db {
        Db(sbomit_testkit::Db::sqlite())
    }

    pub fn config(&self) -> StoreConfig {
        let mut c = StoreConfig::new(&self.url, self.dir.path().join("service.pem"));
        c.batch.interval = std::time::Duration::from_millis(5);
        c
    }

    pub fn open(&self) -> Store {
        Store::open(&self.config()).unwrap().0
    }
}

/// Runs `f` on every backend available.
pub fn each_backend(f: impl Fn(&Db)) {
    sbomit_testkit::each_backend(|b| f(&Db(sbomit_testkit::Db::new(b))));
}
