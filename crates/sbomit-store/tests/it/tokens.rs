//! API tokens (issue 12): expiry, revocation, the operator's list, and the migration of a
//! version-1 database (tokens without a lifetime) to version 2.
#![allow(clippy::unwrap_used)]

use sbomit_store::backend::{Scope, SCHEMA_VERSION};
use sbomit_store::tokens::TokenStatus;
use sbomit_store::StoreError;

use crate::common::{each_backend, Db, Pg};

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[test]
fn expired_and_revoked_tokens_have_no_scope() {
    each_backend(|db| {
        let store = db.open();
        let now = now_ms();
        let expired = store
            .create_token_expiring(Scope::Admin, "old", Some(now - 1))
            .unwrap();
        let later = store
            .create_token_expiring(Scope::Admin, "later", Some(now + 3_600_000))
            .unwrap();
        let forever = store.create_token(Scope::Read, "forever").unwrap();
        assert_eq!(store.token_status(&expired).unwrap(), TokenStatus::Expired);
        assert_eq!(store.token_scope(&expired).unwrap(), None);
        assert_eq!(
            store.token_status(&later).unwrap(),
            TokenStatus::Valid(Scope::Admin)
        );
        assert_eq!(store.token_scope(&forever).unwrap(), Some(Scope::Read));
        // By label: tokens made in the same millisecond are listed in hash order.
        let id = store
            .tokens()
            .unwrap()
            .into_iter()
            .find(|t| t.label == "forever")
            .unwrap()
            .id;
        assert!(store.revoke_token(&id).unwrap().is_some());
        assert_eq!(store.token_status(&forever).unwrap(), TokenStatus::Revoked);
        assert_eq!(store.token_scope(&forever).unwrap(), None);
        assert_eq!(
            store.token_status("sbomit_unknown").unwrap(),
            TokenStatus::Unknown
        );
    });
}

#[test]
fn the_token_list_shows_ids_scopes_and_lifetimes_never_the_secret() {
    each_backend(|db| {
        let store = db.open();
        let expires = now_ms() + 86_400_000;
        let a = store
            .create_token_expiring(Scope::Submit, "ci", Some(expires))
            .unwrap();
        let b = store.create_token(Scope::Read, "dashboard").unwrap();
        // Listed by creation time, then hash: tokens made in the same millisecond come in
        // any order, so the test goes by label.
        let by_label = || {
            let mut list = store.tokens().unwrap();
            list.sort_by(|x, y| x.label.cmp(&y.label));
            list
        };
        let list = by_label();
        assert_eq!(list.len(), 2);
        assert_eq!(
            (list[0].scope, list[0].label.as_str(), list[0].expires_ms),
            (Scope::Submit, "ci", Some(expires))
        );
        assert_eq!(
            (list[1].scope, list[1].label.as_str(), list[1].expires_ms),
            (Scope::Read, "dashboard", None)
        );
        for t in &list {
            assert_eq!(t.id.len(), 16);
            assert!(t.revoked_ms.is_none());
            assert!(!a.contains(&t.id) && !b.contains(&t.id));
        }
        assert_ne!(list[0].id, list[1].id);
        // Revoked, it stays listed, with the time.
        store.revoke_token(&list[1].id).unwrap().unwrap();
        let list = by_label();
        assert!(list[1].revoked_ms.is_some() && list[0].revoked_ms.is_none());
        // A unique prefix of 8 digits is enough.
        store.revoke_token(&list[0].id[..8]).unwrap().unwrap();
    });
}

#[test]
fn revoke_refuses_short_malformed_and_unknown_ids() {
    let db = Db::sqlite();
    let store = db.open();
    store.create_token(Scope::Read, "r").unwrap();
    for bad in ["", "abc", "not-hex-at-all", "zzzzzzzzzzzz"] {
        assert!(
            matches!(store.revoke_token(bad), Err(StoreError::BadRequest(_))),
            "{bad:?}"
        );
    }
    // Well-formed, but not a token's id (a token id is never all zeros… nearly).
    let id = store.tokens().unwrap()[0].id.clone();
    let other = if id.starts_with('0') {
        "ffffffffffffffff"
    } else {
        "0000000000000000"
    };
    assert!(matches!(
        store.revoke_token(other),
        Err(StoreError::NoEntry(_))
    ));
    assert!(store.tokens().unwrap()[0].revoked_ms.is_none());
}

/// Turns a fresh database back into schema version 1: no token lifetimes.
fn downgrade_to_v1(db: &Db) {
    let sql = "ALTER TABLE tokens DROP COLUMN expires_ms; \
               ALTER TABLE tokens DROP COLUMN revoked_ms; \
               UPDATE meta SET value = '1' WHERE key = 'schema';";
    match &db.pg {
        None => {
            let path = db.url.strip_prefix("sqlite://").unwrap();
            let c = rusqlite::Connection::open(path).unwrap();
            c.execute_batch(sql).unwrap();
        }
        Some(_) => Pg::connect(&db.url).unwrap().batch_execute(sql).unwrap(),
    }
}

fn stored_schema(db: &Db) -> String {
    let sql = "SELECT value FROM meta WHERE key = 'schema'";
    match &db.pg {
        None => {
            let path = db.url.strip_prefix("sqlite://").unwrap();
            let c = rusqlite::Connection::open(path).unwrap();
            c.query_row(sql, [], |r| r.get(0)).unwrap()
        }
        Some(_) => Pg::connect(&db.url)
            .unwrap()
            .query_one(sql, &[])
            .unwrap()
            .get(0),
    }
}

#[test]
fn a_version_1_database_is_migrated_and_its_tokens_keep_working() {
    each_backend(|db| {
        let store = db.open();
        let old = store.create_token(Scope::Submit, "from v1").unwrap();
        store.close(std::time::Duration::from_secs(5));
        downgrade_to_v1(db);
        assert_eq!(stored_schema(db), "1");
        let store = db.open();
        assert_eq!(store.token_scope(&old).unwrap(), Some(Scope::Submit));
        let list = store.tokens().unwrap();
        assert_eq!((list.len(), list[0].expires_ms), (1, None));
        let expiring = store
            .create_token_expiring(Scope::Read, "new", Some(now_ms() - 1))
            .unwrap();
        assert_eq!(store.token_status(&expiring).unwrap(), TokenStatus::Expired);
        store.revoke_token(&list[0].id).unwrap().unwrap();
        assert_eq!(store.token_status(&old).unwrap(), TokenStatus::Revoked);
        assert_eq!(stored_schema(db), SCHEMA_VERSION.to_string());
        assert_eq!(SCHEMA_VERSION, 2);
    });
}
