//! The store library on both backends: every test runs on a fresh SQLite file, and on a
//! fresh PostgreSQL schema when `SBOMIT_TEST_POSTGRES` names a server (CI sets it).
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use sbomit_crypto::{KeyKind, PrivateKey};
use sbomit_scitt::cose::SignedStatement;
use sbomit_scitt::receipt::{verify_receipt_for_leaf, verify_receipt_with_keys};
use sbomit_store::admission::{EntryKind, Refusal};
use sbomit_store::policy::Role;
use sbomit_store::{Store, StoreError};
use sbomit_tlog::merkle;
use serde_json::json;

use crate::common::{each_backend, Db};
use sbomit_testkit::cose_statement;

/// The store tests' statement: the predicate notes the artifact's name.
fn dsse_statement(key: &PrivateKey, predicate_type: &str, name: &str) -> Vec<u8> {
    sbomit_testkit::dsse_statement(key, name, predicate_type, json!({"note": name}))
}

fn size(store: &Store) -> u64 {
    store.checkpoint().unwrap().map_or(0, |c| c.size)
}

#[test]
fn registered_statements_get_receipts_that_verify_offline() {
    each_backend(|db| {
        let store = db.open();
        let issuer = PrivateKey::generate(KeyKind::EcdsaP256).unwrap();
        store
            .add_issuer(
                "https://vendor.example",
                Role::Attester,
                issuer.public_key(),
            )
            .unwrap()
            .expect("identity change logged");
        let cose = cose_statement(
            &issuer,
            "https://vendor.example",
            "pkg:npm/app@1",
            "application/json",
            b"{}",
        );
        let reg = store.register(EntryKind::Cose, &cose).unwrap();
        assert!(!reg.duplicate);
        let keys = store.service_keys().unwrap();
        let receipt = store.receipt(reg.index).unwrap();
        let v = verify_receipt_with_keys(&cose, &receipt, &keys).unwrap();
        assert_eq!(v.leaf_index, reg.index);
        // A receipt does not verify for another statement.
        let other = cose_statement(
            &issuer,
            "https://vendor.example",
            "pkg:npm/app@2",
            "application/json",
            b"{}",
        );
        assert!(verify_receipt_with_keys(&other, &receipt, &keys).is_err());

        let dsse = dsse_statement(&issuer, "https://cyclonedx.org/bom", "app.tar.gz");
        let reg2 = store.register(EntryKind::Dsse, &dsse).unwrap();
        assert_eq!(reg2.index, reg.index + 1);
        let receipt = store.receipt(reg2.index).unwrap();
        verify_receipt_for_leaf(&merkle::leaf_hash(&dsse), &receipt, &keys).unwrap();
        let (entry, stored) = store.statement(reg2.index).unwrap().unwrap();
        assert_eq!(stored, dsse);
        assert_eq!(entry.statement_type, "https://cyclonedx.org/bom");
        assert_eq!(entry.iss, "https://vendor.example");
        assert_eq!(entry.sub, "app.tar.gz");
    });
}

#[test]
fn the_same_statement_twice_is_one_entry() {
    each_backend(|db| {
        let store = db.open();
        let issuer = PrivateKey::generate(KeyKind::Ed25519).unwrap();
        store
            .add_issuer("iss", Role::Attester, issuer.public_key())
            .unwrap();
        let dsse = dsse_statement(&issuer, "https://example/test", "a");
        let first = store.register(EntryKind::Dsse, &dsse).unwrap();
        let before = size(&store);
        let again = store.register(EntryKind::Dsse, &dsse).unwrap();
        assert_eq!(again.id, first.id);
        assert!(again.duplicate);
        assert_eq!(size(&store), before);
        // Concurrent duplicates inside one batch too.
        let t1 = store
            .submit(
                EntryKind::Dsse,
                &dsse_statement(&issuer, "https://example/test", "b"),
            )
            .unwrap();
        let t2 = store
            .submit(
                EntryKind::Dsse,
                &dsse_statement(&issuer, "https://example/test", "b"),
            )
            .unwrap();
        let (r1, r2) = (t1.wait().unwrap(), t2.wait().unwrap());
        assert_eq!(r1.index, r2.index);
        assert!(r1.duplicate ^ r2.duplicate || r2.duplicate);
    });
}

#[test]
fn refused_submissions_leave_the_log_unchanged() {
    each_backend(|db| {
        let store = db.open();
        let attester = PrivateKey::generate(KeyKind::Ed25519).unwrap();
        let manager = PrivateKey::generate(KeyKind::EcdsaP256).unwrap();
        let stranger = PrivateKey::generate(KeyKind::Ed25519).unwrap();
        store
            .add_issuer("att", Role::Attester, attester.public_key())
            .unwrap();
        store
            .add_issuer("pm", Role::PolicyManager, manager.public_key())
            .unwrap();
        let before = size(&store);
        let refusal = |kind, bytes: &[u8]| match store.register(kind, bytes) {
            Err(StoreError::Refused(r)) => r,
            other => panic!("expected a refusal, got {other:?}"),
        };
        // Unknown issuer, and a known iss with someone else's key.
        let r = refusal(
            EntryKind::Cose,
            &cose_statement(&stranger, "nobody", "s", "application/json", b"{}"),
        );
        assert!(matches!(r, Refusal::UnknownIssuer(_)), "{r:?}");
        let r = refusal(
            EntryKind::Cose,
            &cose_statement(&stranger, "att", "s", "application/json", b"{}"),
        );
        assert!(matches!(r, Refusal::BadSignature(_)), "{r:?}");
        let r = refusal(
            EntryKind::Dsse,
            &dsse_statement(&stranger, "https://example/x", "a"),
        );
        assert!(matches!(r, Refusal::UnknownIssuer(_)), "{r:?}");
        // A flipped payload byte breaks the attester's own signature.
        let mut tampered = cose_statement(&attester, "att", "s", "application/json", b"{\"a\":1}");
        let n = tampered.len();
        tampered[n - 70] ^= 1;
        assert!(store.register(EntryKind::Cose, &tampered).is_err());
        // Unsigned DSSE.
        let unsigned =
            br#"{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[]}"#;
        assert!(store.register(EntryKind::Dsse, unsigned).is_err());
        // Wrong role: an attester registering policy.
        let r = refusal(
            EntryKind::Dsse,
            &dsse_statement(&attester, "https://sbomit.dev/policy/v0.1", "p"),
        );
        assert!(matches!(r, Refusal::NotAllowed(_)), "{r:?}");
        let r = refusal(
            EntryKind::Cose,
            &cose_statement(
                &attester,
                "att",
                "s",
                "application/vnd.sbomit.policy+json",
                b"{}",
            ),
        );
        assert!(matches!(r, Refusal::NotAllowed(_)), "{r:?}");
        // Malformed.
        assert!(matches!(
            refusal(EntryKind::Cose, b"\xa0garbage"),
            Refusal::Malformed(_)
        ));
        assert!(matches!(
            refusal(EntryKind::Dsse, b"{not json"),
            Refusal::Malformed(_)
        ));
        assert_eq!(size(&store), before);
        // The policy manager may register policy.
        store
            .register(
                EntryKind::Dsse,
                &dsse_statement(&manager, "https://sbomit.dev/policy/v0.1", "p"),
            )
            .unwrap();
    });
}

/// The server admits small statements on its async threads with `submit_cached`: it must
/// give the same entries and refusals as `submit`, and defer (`None`) whenever a fresh look
/// at the database could change the answer.
#[test]
fn cached_admission_agrees_with_submit_and_defers_what_the_database_may_change() {
    each_backend(|db| {
        let store = db.open();
        let issuer = PrivateKey::generate(KeyKind::Ed25519).unwrap();
        let stranger = PrivateKey::generate(KeyKind::Ed25519).unwrap();
        store
            .add_issuer("iss", Role::Attester, issuer.public_key())
            .unwrap();
        let dsse = dsse_statement(&issuer, "https://example/test", "cached");
        // `submit` renews a stale snapshot, so the next call finds a fresh one.
        store
            .submit(
                EntryKind::Dsse,
                &dsse_statement(&issuer, "https://example/test", "first"),
            )
            .unwrap();
        let cached = store
            .submit_cached(EntryKind::Dsse, &dsse)
            .expect("a fresh snapshot")
            .unwrap()
            .wait()
            .unwrap();
        let again = store.register(EntryKind::Dsse, &dsse).unwrap();
        assert_eq!(again.index, cached.index);
        assert!(again.duplicate);
        // An unknown issuer may have been registered by another process a moment ago.
        let unknown = dsse_statement(&stranger, "https://example/test", "x");
        assert!(store.submit_cached(EntryKind::Dsse, &unknown).is_none());
        // Malformed stays malformed, whatever the database holds.
        assert!(matches!(
            store.submit_cached(EntryKind::Dsse, b"{not json"),
            Some(Err(StoreError::Refused(Refusal::Malformed(_))))
        ));
    });
}

/// Junk from unknown issuers must not hammer the database: one request reads the registry at
/// most once, and refusals cause at most one read per interval across requests.
#[test]
fn unknown_issuers_read_the_registry_at_most_once_per_request_and_per_interval() {
    each_backend(|db| {
        let store = db.open();
        let stranger = PrivateKey::generate(KeyKind::Ed25519).unwrap();
        let unknown = dsse_statement(&stranger, "https://example/test", "junk");
        let refused = |r: Result<_, StoreError>| {
            matches!(r, Err(StoreError::Refused(Refusal::UnknownIssuer(_))))
        };
        // A stale snapshot is read once, and not read again for the refusal.
        std::thread::sleep(std::time::Duration::from_millis(1100));
        let before = store.registry_loads();
        assert!(refused(store.submit(EntryKind::Dsse, &unknown)));
        assert_eq!(store.registry_loads(), before + 1);
        // A flood.
        let before = store.registry_loads();
        let start = std::time::Instant::now();
        for _ in 0..50 {
            assert!(refused(store.submit(EntryKind::Dsse, &unknown)));
        }
        let ms = start.elapsed().as_millis();
        let allowed = 1 + ms / sbomit_store::MIN_REFUSAL_RELOAD_INTERVAL.as_millis() + ms / 1000;
        let loads = u128::from(store.registry_loads() - before);
        assert!(
            loads <= allowed,
            "{loads} registry reads for 50 refusals in {ms} ms"
        );
    });
}

/// The server's path: a cached admission deferred for an unknown issuer goes on from the
/// snapshot that refused it, without admitting against it again.
#[test]
fn a_deferred_admission_goes_on_from_the_snapshot_that_refused_it() {
    each_backend(|db| {
        let store = db.open();
        let stranger = PrivateKey::generate(KeyKind::Ed25519).unwrap();
        let unknown = dsse_statement(&stranger, "https://example/test", "deferred");
        // A fresh snapshot first.
        assert!(store.submit(EntryKind::Dsse, b"{}").is_err());
        let deferred = match store.try_submit_cached(EntryKind::Dsse, &unknown) {
            sbomit_store::CachedAdmission::Deferred(d) => d,
            sbomit_store::CachedAdmission::Done(_) => panic!("an unknown issuer is deferred"),
        };
        // Registered meanwhile (this store reads the registry again on registration): the
        // snapshot in memory is newer than the one that refused, and admits it.
        store
            .add_issuer("late", Role::Attester, stranger.public_key())
            .unwrap();
        let loads = store.registry_loads();
        store
            .submit_deferred(EntryKind::Dsse, &unknown, deferred)
            .unwrap()
            .wait()
            .unwrap();
        assert_eq!(store.registry_loads(), loads);
    });
}

#[test]
fn registration_policy_versions_are_recorded_and_enforced() {
    each_backend(|db| {
        let store = db.open();
        let attester = PrivateKey::generate(KeyKind::Ed25519).unwrap();
        store
            .add_issuer(
                "https://ci.example/a",
                Role::Attester,
                attester.public_key(),
            )
            .unwrap();
        let first = store
            .register(
                EntryKind::Dsse,
                &dsse_statement(&attester, "https://cyclonedx.org/bom", "x"),
            )
            .unwrap();
        assert_eq!(store.entry(first.index).unwrap().unwrap().policy_version, 1);
        let (version, logged) = store
            .set_registration_policy(
                br#"{"rules":[{"issuers":["https://ci.example/*"],"types":["https://slsa.dev/provenance/*"]}]}"#,
            )
            .unwrap();
        assert_eq!(version, 2);
        let logged = store.statement(logged.index).unwrap().unwrap().0;
        assert_eq!(
            logged.statement_type,
            sbomit_store::REGISTRATION_POLICY_TYPE
        );
        let before = size(&store);
        let refused = store.register(
            EntryKind::Dsse,
            &dsse_statement(&attester, "https://cyclonedx.org/bom", "y"),
        );
        assert!(matches!(
            refused,
            Err(StoreError::Refused(Refusal::NotAllowed(_)))
        ));
        assert_eq!(size(&store), before);
        let ok = store
            .register(
                EntryKind::Dsse,
                &dsse_statement(&attester, "https://slsa.dev/provenance/v1", "z"),
            )
            .unwrap();
        assert_eq!(store.entry(ok.index).unwrap().unwrap().policy_version, 2);
        // The old version stays readable for replay.
        assert!(store.registration_policy(Some(1)).unwrap().is_some());
        assert!(store
            .set_registration_policy(b"{\"rules\":[{\"types\":[]}]}")
            .is_err());
    });
}

#[test]
fn identity_changes_are_logged_by_the_service() {
    each_backend(|db| {
        let store = db.open();
        let k = PrivateKey::generate(KeyKind::Ed25519).unwrap();
        let reg = store
            .add_issuer("iss", Role::Attester, k.public_key())
            .unwrap()
            .unwrap();
        let (entry, bytes) = store.statement(reg.index).unwrap().unwrap();
        assert_eq!(entry.statement_type, sbomit_store::IDENTITY_CHANGE_TYPE);
        assert_eq!(entry.iss, store.origin());
        assert_eq!(entry.sub, "iss");
        let st = SignedStatement::parse(&bytes).unwrap();
        st.verify(store.service_key().private.public_key()).unwrap();
        // Adding the same key and role again changes nothing.
        assert!(store
            .add_issuer("iss", Role::Attester, k.public_key())
            .unwrap()
            .is_none());
    });
}

#[test]
fn proofs_hold_across_batches_and_restarts() {
    each_backend(|db| {
        let issuer = PrivateKey::generate(KeyKind::Ed25519).unwrap();
        let mut statements = Vec::new();
        let mut heads = Vec::new();
        {
            let store = db.open();
            store
                .add_issuer("iss", Role::Attester, issuer.public_key())
                .unwrap();
            for round in 0..3 {
                let tickets: Vec<_> = (0..37)
                    .map(|i| {
                        let s =
                            dsse_statement(&issuer, "https://example/t", &format!("{round}-{i}"));
                        statements.push(s.clone());
                        store.submit(EntryKind::Dsse, &s).unwrap()
                    })
                    .collect();
                for t in tickets {
                    t.wait().unwrap();
                }
                let head = store.checkpoint().unwrap().unwrap();
                heads.push((head.size, head.root));
            }
        }
        // Reopen: the frontier is rebuilt from stored hashes, appends continue the same tree.
        let store = db.open();
        let more = dsse_statement(&issuer, "https://example/t", "after-restart");
        let reg = store.register(EntryKind::Dsse, &more).unwrap();
        let head = store.checkpoint().unwrap().unwrap();
        assert_eq!(head.size, reg.index + 1);
        for (old_size, old_root) in &heads {
            let p = store.consistency_proof(*old_size, head.size).unwrap();
            let path: Vec<merkle::Hash> = p
                .path
                .iter()
                .map(|h| hex::decode(h).unwrap().try_into().unwrap())
                .collect();
            merkle::verify_consistency(*old_size, head.size, &path, old_root, &head.root).unwrap();
        }
        // Every statement's inclusion proof verifies against the newest head.
        for s in statements.iter().chain([&more]) {
            let leaf = merkle::leaf_hash(s);
            let entry = store.backend().entry_by_leaf(&leaf).unwrap().unwrap();
            let p = store.inclusion_proof(entry.index, None).unwrap();
            let path: Vec<merkle::Hash> = p
                .path
                .iter()
                .map(|h| hex::decode(h).unwrap().try_into().unwrap())
                .collect();
            merkle::verify_inclusion(entry.index, head.size, &leaf, &path, &head.root).unwrap();
        }
        // The stored root is the RFC 9162 root of all leaves in order.
        let leaves: Vec<merkle::Hash> = (0..head.size)
            .map(|i| store.entry(i).unwrap().unwrap().leaf_hash)
            .collect();
        assert_eq!(merkle::root_from_leaf_hashes(&leaves), head.root);
        // Checkpoints are signed notes the service key opens.
        let verifier = sbomit_tlog::checkpoint::NoteVerifier::new(
            store.origin(),
            store.service_key().private.public_key().clone(),
        )
        .unwrap();
        let (cp, _) = sbomit_tlog::checkpoint::Checkpoint::open(
            &head.note,
            &[verifier],
            Some(store.origin()),
        )
        .unwrap();
        assert_eq!((cp.size, cp.root), (head.size, head.root));
    });
}

#[test]
fn concurrent_submitters_share_batches_and_get_distinct_entries() {
    each_backend(|db| {
        let store = db.open();
        let issuer = Arc::new(PrivateKey::generate(KeyKind::Ed25519).unwrap());
        store
            .add_issuer("iss", Role::Attester, issuer.public_key())
            .unwrap();
        let start = size(&store);
        let handles: Vec<_> = (0..8)
            .map(|t| {
                let store = store.clone();
                let issuer = Arc::clone(&issuer);
                std::thread::spawn(move || {
                    (0..50)
                        .map(|i| {
                            let s =
                                dsse_statement(&issuer, "https://example/t", &format!("{t}/{i}"));
                            store.register(EntryKind::Dsse, &s).unwrap().index
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut all: Vec<u64> = handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect();
        all.sort();
        let expected: Vec<u64> = (start..start + 400).collect();
        assert_eq!(all, expected);
        assert_eq!(size(&store), start + 400);
    });
}

#[test]
fn tokens_are_stored_hashed_and_scoped() {
    each_backend(|db| {
        let store = db.open();
        let admin = store
            .create_token(sbomit_store::backend::Scope::Admin, "ops")
            .unwrap();
        let read = store
            .create_token(sbomit_store::backend::Scope::Read, "auditor")
            .unwrap();
        assert_eq!(
            store.token_scope(&admin).unwrap(),
            Some(sbomit_store::backend::Scope::Admin)
        );
        assert_eq!(
            store.token_scope(&read).unwrap(),
            Some(sbomit_store::backend::Scope::Read)
        );
        assert_eq!(store.token_scope("sbomit_nope").unwrap(), None);
        assert!(!sbomit_store::backend::Scope::Read.allows(sbomit_store::backend::Scope::Admin));
        // Only the hash is stored: the token's text is nowhere in the database.
        if db.pg.is_none() {
            let path = db.url.strip_prefix("sqlite://").unwrap();
            drop(store);
            let mut bytes = std::fs::read(path).unwrap();
            if let Ok(wal) = std::fs::read(format!("{path}-wal")) {
                bytes.extend(wal);
            }
            assert!(!bytes.windows(admin.len()).any(|w| w == admin.as_bytes()));
        }
    });
}

// The key file itself (created once, mode 0600) is the binary's: see sbomit-cli's
// `keys::tests::the_service_key_file_is_created_once_with_mode_0600`.
#[test]
fn a_reopened_store_keeps_its_service_key_and_origin() {
    let db = Db::sqlite();
    let (store, _) = Store::open(&db.config()).unwrap();
    let kid = store.service_key().kid.clone();
    drop(store);
    let (store, _) = Store::open(&db.config()).unwrap();
    assert_eq!(store.service_key().kid, kid);
    assert_eq!(store.service_keys().unwrap().len(), 1);
    // The origin stays the one the log was created with.
    let mut other = db.config();
    other.origin = Some("other.example/log".into());
    let origin = store.origin().to_owned();
    drop(store);
    let (store, _) = Store::open(&other).unwrap();
    assert_eq!(store.origin(), origin);
}

/// A CA and a statement-signing leaf certificate (codeSigning) for `vendor.example`, the
/// issuer `https://vendor.example`, and the leaf's key as ours.
fn pki() -> (Vec<u8>, Vec<u8>, PrivateKey) {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    };
    let ca_params = || {
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.distinguished_name.push(DnType::CommonName, "vendor root");
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p
    };
    let ca_key = KeyPair::generate().unwrap();
    let ca = ca_params().self_signed(&ca_key).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let mut lp = CertificateParams::new(vec!["vendor.example".into()]).unwrap();
    lp.distinguished_name
        .push(DnType::CommonName, "vendor.example");
    lp.extended_key_usages = vec![ExtendedKeyUsagePurpose::CodeSigning];
    let leaf = lp
        .signed_by(&leaf_key, &Issuer::new(ca_params(), &ca_key))
        .unwrap();
    let ours = PrivateKey::from_pem(leaf_key.serialize_pem().as_bytes(), None).unwrap();
    (ca.der().to_vec(), leaf.der().to_vec(), ours)
}

fn x5chain_statement(key: &PrivateKey, iss: &str, chain: &[Vec<u8>]) -> Vec<u8> {
    use ciborium::value::Value;
    use sbomit_scitt::cose::{CoseSign1, CwtClaims, HeaderMap};
    let mut protected = HeaderMap::new();
    protected.insert(3, Value::Text("application/json".into()));
    protected.insert(
        33,
        Value::Array(chain.iter().map(|c| Value::Bytes(c.clone())).collect()),
    );
    CwtClaims {
        iss: Some(iss.into()),
        sub: Some("pkg:npm/app@1".into()),
        iat: None,
    }
    .insert_into(&mut protected);
    CoseSign1::sign(protected, HeaderMap::new(), b"{}", false, key)
        .unwrap()
        .encode()
        .unwrap()
}

#[test]
fn issuers_registered_by_trust_anchor_sign_with_their_certificate_chain() {
    each_backend(|db| {
        let store = db.open();
        let (ca, leaf, leaf_key) = pki();
        let (other_ca, other_leaf, other_key) = pki();
        let reg = store
            .add_trust_anchor("https://vendor.example", Role::Attester, &ca)
            .unwrap()
            .expect("identity change logged");
        assert_eq!(
            store.entry(reg.index).unwrap().unwrap().statement_type,
            sbomit_store::IDENTITY_CHANGE_TYPE
        );
        let good = x5chain_statement(
            &leaf_key,
            "https://vendor.example",
            std::slice::from_ref(&leaf),
        );
        store.register(EntryKind::Cose, &good).unwrap();
        let before = size(&store);
        // A chain to another anchor, a leaf key that does not match its certificate, no chain.
        for bad in [
            x5chain_statement(
                &other_key,
                "https://vendor.example",
                std::slice::from_ref(&other_leaf),
            ),
            x5chain_statement(
                &other_key,
                "https://vendor.example",
                std::slice::from_ref(&leaf),
            ),
            cose_statement(
                &leaf_key,
                "https://vendor.example",
                "s",
                "application/json",
                b"{}",
            ),
        ] {
            match store.register(EntryKind::Cose, &bad) {
                Err(StoreError::Refused(Refusal::BadSignature(_))) => {}
                other => panic!("expected a bad signature refusal, got {other:?}"),
            }
        }
        assert_eq!(size(&store), before);
        assert!(store
            .add_trust_anchor(
                "https://vendor.example",
                Role::Attester,
                b"not a certificate"
            )
            .is_err());
        let _ = other_ca;
    });
}

/// One CA, and a codeSigning leaf under it for each DNS name, with its key as ours.
fn pki_with_leaves(names: &[&str]) -> (Vec<u8>, Vec<(Vec<u8>, PrivateKey)>) {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    };
    let ca_params = || {
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.distinguished_name.push(DnType::CommonName, "vendor root");
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p
    };
    let ca_key = KeyPair::generate().unwrap();
    let ca = ca_params().self_signed(&ca_key).unwrap();
    let leaves = names
        .iter()
        .map(|name| {
            let key = KeyPair::generate().unwrap();
            let mut lp = CertificateParams::new(vec![(*name).to_owned()]).unwrap();
            lp.extended_key_usages = vec![ExtendedKeyUsagePurpose::CodeSigning];
            let leaf = lp
                .signed_by(&key, &Issuer::new(ca_params(), &ca_key))
                .unwrap();
            let ours = PrivateKey::from_pem(key.serialize_pem().as_bytes(), None).unwrap();
            (leaf.der().to_vec(), ours)
        })
        .collect();
    (ca.der().to_vec(), leaves)
}

#[test]
fn a_certificate_under_the_anchor_signs_only_for_the_issuer_it_names() {
    each_backend(|db| {
        let store = db.open();
        let (ca, leaves) = pki_with_leaves(&["vendor.example", "elsewhere.example"]);
        store
            .add_trust_anchor("https://vendor.example", Role::Attester, &ca)
            .unwrap();
        let [(named, named_key), (other, other_key)] = &leaves[..] else {
            panic!("two leaves")
        };
        let good = x5chain_statement(
            named_key,
            "https://vendor.example",
            std::slice::from_ref(named),
        );
        store.register(EntryKind::Cose, &good).unwrap();
        let before = size(&store);
        // Same anchor, valid chain and signature, but the certificate names another host.
        let bad = x5chain_statement(
            other_key,
            "https://vendor.example",
            std::slice::from_ref(other),
        );
        match store.register(EntryKind::Cose, &bad) {
            Err(StoreError::Refused(Refusal::BadSignature(why))) => {
                assert!(why.contains("does not name the issuer"), "{why}")
            }
            other => panic!("expected a bad signature refusal, got {other:?}"),
        }
        assert_eq!(size(&store), before);
    });
}

#[test]
fn statements_are_found_by_hash_and_read_back_small_and_large() {
    each_backend(|db| {
        let store = db.open();
        let issuer = PrivateKey::generate(KeyKind::Ed25519).unwrap();
        store
            .add_issuer("iss", Role::Attester, issuer.public_key())
            .unwrap();
        // Small statements live in their entry's row, large ones in the blob store.
        let small = cose_statement(&issuer, "iss", "s", "application/json", b"{}");
        let large = cose_statement(
            &issuer,
            "iss",
            "l",
            "application/json",
            &vec![b' '; 200_000],
        );
        for bytes in [&small, &large] {
            let reg = store.register(EntryKind::Cose, bytes).unwrap();
            // Found by statement hash at once (before the indexer) and after it.
            let hash = *sbomit_intoto::digest::Sha256::digest(bytes).as_bytes();
            assert_eq!(
                store.entry_by_statement(&hash).unwrap().unwrap().index,
                reg.index
            );
            assert!(store
                .wait_indexed(reg.index + 1, std::time::Duration::from_secs(20))
                .unwrap());
            assert_eq!(
                store.entry_by_statement(&hash).unwrap().unwrap().index,
                reg.index
            );
            assert_eq!(&store.statement(reg.index).unwrap().unwrap().1, bytes);
        }
        assert!(store.entry_by_statement(&[7u8; 32]).unwrap().is_none());
    });
}

/// A short-lived process closes its store: the sequencer and tail threads let go of the
/// database before it exits (an operator command crashed now and then when they were cut off
/// mid-query at exit).
#[test]
fn close_waits_for_the_background_threads_to_let_go_of_the_database() {
    each_backend(|db| {
        let store = db.open();
        store
            .add_issuer(
                "https://close.example",
                Role::Attester,
                PrivateKey::generate(KeyKind::Ed25519).unwrap().public_key(),
            )
            .unwrap();
        assert!(store.close(std::time::Duration::from_secs(10)));
        // A second handle keeps the store open: close then only waits out its timeout.
        let store = db.open();
        let other = store.clone();
        assert!(!store.close(std::time::Duration::from_millis(50)));
        assert!(other.close(std::time::Duration::from_secs(10)));
    });
}

#[test]
fn identities_are_listed_and_removed_by_id_and_each_removal_is_logged() {
    each_backend(|db| {
        let store = db.open();
        let attester = PrivateKey::generate(KeyKind::Ed25519).unwrap();
        let keyid = attester.public_key().keyid().as_str().to_owned();
        store
            .add_issuer("https://ci.example", Role::Attester, attester.public_key())
            .unwrap();
        store
            .add_issuer(
                "https://other.example",
                Role::Attester,
                attester.public_key(),
            )
            .unwrap();
        let (ca, leaf, leaf_key) = pki();
        store
            .add_trust_anchor("https://vendor.example", Role::Attester, &ca)
            .unwrap();
        let list = store.identities().unwrap();
        assert_eq!(list.len(), 3);
        assert_eq!(
            list.iter()
                .filter(|i| i.id == keyid && !i.trust_anchor)
                .count(),
            2
        );
        let anchor = list.iter().find(|i| i.trust_anchor).unwrap().id.clone();
        assert_eq!(anchor.len(), 64);

        let good = dsse_statement(&attester, "https://slsa.dev/provenance/v1", "a");
        store.register(EntryKind::Dsse, &good).unwrap();
        // No match: nothing removed, nothing logged.
        let before = size(&store);
        assert!(store.remove_identity("0000", None).unwrap().is_empty());
        assert!(store
            .remove_identity(&keyid, Some("https://nobody.example"))
            .unwrap()
            .is_empty());
        assert_eq!(size(&store), before);
        // One issuer's use of the key, then the other's.
        let removed = store
            .remove_identity(&keyid, Some("https://ci.example"))
            .unwrap();
        assert_eq!(removed.len(), 1);
        let entry = store.entry(removed[0].1.index).unwrap().unwrap();
        assert_eq!(entry.statement_type, sbomit_store::IDENTITY_CHANGE_TYPE);
        assert_eq!(entry.sub, "https://ci.example");
        assert_eq!(store.identities().unwrap().len(), 2);
        assert_eq!(store.remove_identity(&keyid, None).unwrap().len(), 1);
        // The key no longer registers anything.
        let again = dsse_statement(&attester, "https://slsa.dev/provenance/v1", "b");
        assert!(matches!(
            store.register(EntryKind::Dsse, &again),
            Err(StoreError::Refused(Refusal::UnknownIssuer(_)))
        ));
        // The trust anchor, by its certificate's SHA-256.
        let signed = x5chain_statement(
            &leaf_key,
            "https://vendor.example",
            std::slice::from_ref(&leaf),
        );
        store.register(EntryKind::Cose, &signed).unwrap();
        assert_eq!(store.remove_identity(&anchor, None).unwrap().len(), 1);
        // Another statement by the same chain (ECDSA: another signature) is refused now.
        let later = x5chain_statement(&leaf_key, "https://vendor.example", &[leaf]);
        assert_ne!(later, signed);
        assert!(matches!(
            store.register(EntryKind::Cose, &later),
            Err(StoreError::Refused(Refusal::UnknownIssuer(_)))
        ));
        assert!(store.identities().unwrap().is_empty());
    });
}
