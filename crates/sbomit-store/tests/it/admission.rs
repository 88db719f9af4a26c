//! Admission is the store's untrusted-input edge: whatever bytes arrive, it answers with an
//! entry or a refusal, never a panic; a changed byte of a signed statement is refused.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use sbomit_crypto::{KeyKind, PrivateKey};
use sbomit_intoto::envelope::{Envelope, EnvelopeKind};
use sbomit_scitt::cose::{SignedStatement, StatementHeader};
use sbomit_store::admission::{admit, EntryKind, IssuerKey, Refusal, Registry};
use sbomit_store::policy::{RegistrationPolicy, Role};
use serde_json::json;
use std::sync::OnceLock;

struct Fixture {
    registry: Registry,
    cose: Vec<u8>,
    dsse: Vec<u8>,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let key = PrivateKey::generate(KeyKind::Ed25519).unwrap();
        let cose = SignedStatement::sign(
            &StatementHeader {
                iss: "iss".into(),
                sub: "pkg:npm/a@1".into(),
                content_type: Some("application/json".into()),
                kid: None,
            },
            b"{\"k\":\"v\"}",
            &key,
        )
        .unwrap();
        let mut env = Envelope::from_value(
            EnvelopeKind::Dsse,
            json!({"_type":"https://in-toto.io/Statement/v1",
                   "subject":[{"name":"a","digest":{"sha256":"00".repeat(32)}}],
                   "predicateType":"https://example/p","predicate":{}}),
        )
        .unwrap();
        env.sign(&key).unwrap();
        Fixture {
            registry: Registry {
                issuers: vec![IssuerKey {
                    iss: "iss".into(),
                    role: Role::Attester,
                    key: key.public_key().clone(),
                }],
                anchors: Vec::new(),
                policy_version: 1,
                policy: RegistrationPolicy::default_policy(),
                now: 0,
            },
            cose,
            dsse: env.to_file_bytes(),
        }
    })
}

#[test]
fn the_fixture_statements_are_admitted() {
    let f = fixture();
    admit(EntryKind::Cose, &f.cose, &f.registry, 1 << 20).unwrap();
    admit(EntryKind::Dsse, &f.dsse, &f.registry, 1 << 20).unwrap();
    assert!(matches!(
        admit(EntryKind::Cose, &f.cose, &f.registry, 10),
        Err(Refusal::TooLarge { .. })
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes_are_refused_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let f = fixture();
        prop_assert!(admit(EntryKind::Cose, &bytes, &f.registry, 1 << 20).is_err());
        prop_assert!(admit(EntryKind::Dsse, &bytes, &f.registry, 1 << 20).is_err());
    }

    #[test]
    fn a_changed_byte_of_a_signed_cose_statement_is_refused(pos in any::<prop::sample::Index>(), bit in 0u8..8) {
        let f = fixture();
        let mut bytes = f.cose.clone();
        let i = pos.index(bytes.len());
        bytes[i] ^= 1 << bit;
        // The unprotected header is not signed, but this statement's is empty (one byte,
        // 0xa0, that cannot change into another valid map alone): every byte counts.
        prop_assert!(admit(EntryKind::Cose, &bytes, &f.registry, 1 << 20).is_err());
    }

    #[test]
    fn a_changed_byte_of_a_dsse_envelope_is_refused_or_harmless(pos in any::<prop::sample::Index>(), bit in 0u8..8) {
        let f = fixture();
        let mut bytes = f.dsse.clone();
        let i = pos.index(bytes.len());
        bytes[i] ^= 1 << bit;
        // A changed key id or whitespace may still verify (identity is the signature); the
        // payload and signature themselves may not change.
        if let Ok(e) = admit(EntryKind::Dsse, &bytes, &f.registry, 1 << 20) {
            let a = Envelope::parse(&e.statement).unwrap();
            let b = Envelope::parse(&f.dsse).unwrap();
            prop_assert_eq!(a.payload_bytes(), b.payload_bytes());
        }
    }
}
