//! Issue 5 at the store level: statements registered in the log are indexed as a graph, and
//! each question — what is inside X, which artifacts contain Y, which artifacts does V affect
//! (after VEX), what evidence exists for X — is one call whose database round trips stay
//! bounded by the walk's depth. Runs on SQLite and, when `SBOMIT_TEST_POSTGRES` is set, on
//! PostgreSQL.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::time::Duration;

use crate::common::each_backend;
use sbomit_crypto::{KeyKind, PrivateKey};
use sbomit_intoto::envelope::{Envelope, EnvelopeKind};
use sbomit_store::admission::EntryKind;
use sbomit_store::backend::EvidenceFilter;
use sbomit_store::policy::Role;
use sbomit_store::query::{Target, Walk};
use sbomit_store::Store;
use serde_json::{json, Value};

fn sha(name: &str) -> String {
    hex::encode(sbomit_intoto::digest::Sha256::digest(name.as_bytes()).as_bytes())
}

fn purl(name: &str) -> String {
    format!("pkg:npm/{name}@1.0.0")
}

fn dsse(key: &PrivateKey, subject: &str, predicate_type: &str, predicate: Value) -> Vec<u8> {
    let statement = json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": subject, "digest": {"sha256": sha(subject)}}],
        "predicateType": predicate_type,
        "predicate": predicate,
    });
    let mut env = Envelope::from_value(EnvelopeKind::Dsse, statement).unwrap();
    env.sign(key).unwrap();
    env.to_file_bytes()
}

fn component(name: &str) -> Value {
    json!({"type": "library", "bom-ref": name, "name": name, "version": "1.0.0",
           "purl": purl(name), "hashes": [{"alg": "SHA-256", "content": sha(name)}]})
}

/// A CycloneDX SBOM of `subject` listing `children` (flat).
fn sbom(key: &PrivateKey, subject: &str, children: &[&str]) -> Vec<u8> {
    let bom = json!({
        "bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1,
        "metadata": {"component": {"type": "application", "bom-ref": subject, "name": subject,
                     "hashes": [{"alg": "SHA-256", "content": sha(subject)}]}},
        "components": children.iter().map(|c| component(c)).collect::<Vec<_>>(),
    });
    dsse(key, subject, "https://cyclonedx.org/bom", bom)
}

fn vulns(key: &PrivateKey, subject: &str, id: &str) -> Vec<u8> {
    dsse(
        key,
        subject,
        "https://in-toto.io/attestation/vulns/v0.1",
        json!({"scanner": {"uri": "pkg:github/aquasecurity/trivy", "result": [{"id": id}]}}),
    )
}

fn vex(key: &PrivateKey, product: &str, id: &str, status: &str, n: u32) -> Vec<u8> {
    dsse(
        key,
        product,
        "https://openvex.dev/ns/v0.2.0",
        json!({"@context": "https://openvex.dev/ns/v0.2.0", "@id": format!("vex-{n}"),
               "author": "vendor", "timestamp": "2026-11-01T00:00:00Z", "version": n,
               "statements": [{"vulnerability": {"name": id},
                               "products": [{"@id": format!("sha256:{}", sha(product))}],
                               "status": status,
                               "justification": "vulnerable_code_not_in_execute_path"}]}),
    )
}

fn register(store: &Store, bytes: &[u8]) -> u64 {
    let index = store.register(EntryKind::Dsse, bytes).unwrap().index;
    assert!(store
        .wait_indexed(index + 1, Duration::from_secs(20))
        .unwrap());
    index
}

fn key_of(name: &str) -> String {
    format!("sha256:{}", sha(name))
}

fn names(answer: &sbomit_store::query::GraphAnswer) -> BTreeSet<String> {
    let by_key: std::collections::BTreeMap<String, &str> =
        ["app", "tool", "lib-b", "lib-c", "lib-d", "lib-e"]
            .iter()
            .map(|n| (key_of(n), *n))
            .collect();
    answer
        .results
        .iter()
        .map(|r| {
            by_key
                .get(&r.node.key)
                .map_or(r.node.key.clone(), |n| n.to_string())
        })
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// app ⊃ {lib-b, lib-c}; lib-b ⊃ {lib-d}; lib-d ⊃ {lib-e}: three SBOM levels. tool ⊃ {lib-d}.
struct Chain {
    sboms: Vec<u64>,
    scan: u64,
}

fn build(store: &Store, key: &PrivateKey) -> Chain {
    let sboms = vec![
        register(store, &sbom(key, "app", &["lib-b", "lib-c"])),
        register(store, &sbom(key, "lib-b", &["lib-d"])),
        register(store, &sbom(key, "lib-d", &["lib-e"])),
        register(store, &sbom(key, "tool", &["lib-d"])),
    ];
    let scan = register(store, &vulns(key, "lib-e", "CVE-2026-0001"));
    Chain { sboms, scan }
}

#[test]
fn components_are_found_transitively_with_paths_and_evidence() {
    each_backend(|db| {
        let store = db.open();
        let key = PrivateKey::generate(KeyKind::Ed25519).unwrap();
        store
            .add_issuer("https://ci.example", Role::Attester, key.public_key())
            .unwrap();
        let chain = build(&store, &key);
        let answer = store
            .components(&Target::Digest(sha("app")), &Walk::default())
            .unwrap();
        assert_eq!(names(&answer), set(&["lib-b", "lib-c", "lib-d", "lib-e"]));
        let e = answer
            .results
            .iter()
            .find(|r| r.node.key == key_of("lib-e"))
            .unwrap();
        assert_eq!(e.depth, 3);
        assert_eq!(
            e.path,
            vec![
                key_of("app"),
                key_of("lib-b"),
                key_of("lib-d"),
                key_of("lib-e")
            ]
        );
        assert_eq!(
            e.evidence,
            vec![chain.sboms[0], chain.sboms[1], chain.sboms[2]]
        );
        assert_eq!(e.node.purl.as_deref(), Some(purl("lib-e").as_str()));
        // The depth limit cuts the walk.
        let shallow = store
            .components(
                &Target::Digest(sha("app")),
                &Walk {
                    max_depth: 1,
                    ..Walk::default()
                },
            )
            .unwrap();
        assert_eq!(names(&shallow), set(&["lib-b", "lib-c"]));
        // Bounded round trips: resolve + one per level + artifacts + nodes.
        assert!(answer.db_round_trips <= 10 + 4, "{}", answer.db_round_trips);
        // Paging.
        let page = store
            .components(
                &Target::Digest(sha("app")),
                &Walk {
                    limit: 3,
                    ..Walk::default()
                },
            )
            .unwrap();
        assert_eq!(
            (page.results.len(), page.total, page.next_offset),
            (3, 4, Some(3))
        );
    });
}

#[test]
fn dependents_are_found_by_purl_purl_without_version_and_digest() {
    each_backend(|db| {
        let store = db.open();
        let key = PrivateKey::generate(KeyKind::Ed25519).unwrap();
        store
            .add_issuer("https://ci.example", Role::Attester, key.public_key())
            .unwrap();
        build(&store, &key);
        let expect = set(&["app", "lib-b", "lib-d", "tool"]);
        for target in [
            Target::Purl(purl("lib-e")),
            Target::Purl("pkg:npm/lib-e".into()),
            Target::Digest(sha("lib-e")),
        ] {
            let answer = store.dependents(&target, &Walk::default()).unwrap();
            assert_eq!(names(&answer), expect, "{target:?}");
            let app = answer
                .results
                .iter()
                .find(|r| r.node.key == key_of("app"))
                .unwrap();
            assert_eq!(
                app.path,
                vec![
                    key_of("app"),
                    key_of("lib-b"),
                    key_of("lib-d"),
                    key_of("lib-e")
                ]
            );
        }
        let answer = store
            .dependents(&Target::Purl(purl("lib-c")), &Walk::default())
            .unwrap();
        assert_eq!(names(&answer), set(&["app"]));
    });
}

#[test]
fn vex_not_affected_removes_an_artifact_and_a_later_affected_brings_it_back() {
    each_backend(|db| {
        let store = db.open();
        let key = PrivateKey::generate(KeyKind::Ed25519).unwrap();
        store
            .add_issuer("https://ci.example", Role::Attester, key.public_key())
            .unwrap();
        let chain = build(&store, &key);
        let cve = "CVE-2026-0001";
        // lib-e is the scanned artifact itself (depth 0); the rest contain it.
        let answer = store.affected(cve, &Walk::default()).unwrap();
        assert_eq!(
            names(&answer),
            set(&["app", "lib-b", "lib-d", "lib-e", "tool"])
        );
        assert!(answer.evidence.contains(&chain.scan));
        let app = answer
            .results
            .iter()
            .find(|r| r.node.key == key_of("app"))
            .unwrap();
        assert_eq!(app.path.last(), Some(&key_of("lib-e")));

        let vex1 = register(&store, &vex(&key, "app", cve, "not_affected", 1));
        let answer = store.affected(cve, &Walk::default()).unwrap();
        assert_eq!(names(&answer), set(&["lib-b", "lib-d", "lib-e", "tool"]));
        assert!(answer.evidence.contains(&vex1));

        register(&store, &vex(&key, "app", cve, "affected", 2));
        let answer = store.affected(cve, &Walk::default()).unwrap();
        assert_eq!(
            names(&answer),
            set(&["app", "lib-b", "lib-d", "lib-e", "tool"])
        );

        // A VEX on the component itself clears every artifact that contains it, except one
        // its vendor declared affected in its own right.
        register(&store, &vex(&key, "lib-e", cve, "fixed", 3));
        let answer = store.affected(cve, &Walk::default()).unwrap();
        assert_eq!(names(&answer), set(&["app"]));
        register(&store, &vex(&key, "app", cve, "fixed", 4));
        let answer = store.affected(cve, &Walk::default()).unwrap();
        assert!(answer.results.is_empty(), "{:?}", names(&answer));
        assert!(store
            .affected("CVE-0000-0000", &Walk::default())
            .unwrap()
            .results
            .is_empty());
    });
}

#[test]
fn evidence_about_an_artifact_is_filtered_by_type_issuer_and_index() {
    each_backend(|db| {
        let store = db.open();
        let key = PrivateKey::generate(KeyKind::Ed25519).unwrap();
        store
            .add_issuer("https://ci.example", Role::Attester, key.public_key())
            .unwrap();
        let chain = build(&store, &key);
        let all = EvidenceFilter {
            limit: 100,
            ..EvidenceFilter::default()
        };
        let (_, entries, trips) = store
            .evidence(Ok(&Target::Digest(sha("lib-e"))), &all)
            .unwrap();
        assert_eq!(
            entries.iter().map(|e| e.index).collect::<Vec<_>>(),
            vec![chain.scan]
        );
        assert!(trips <= 2);
        let (_, entries, _) = store
            .evidence(Ok(&Target::Purl(purl("lib-d"))), &all)
            .unwrap();
        // lib-d's SBOM (its subject is lib-d's digest, which the purl resolves to).
        assert_eq!(
            entries.iter().map(|e| e.index).collect::<Vec<_>>(),
            vec![chain.sboms[2]]
        );
        let only_vulns = EvidenceFilter {
            types: vec!["https://cyclonedx.org/bom".into()],
            ..all.clone()
        };
        let (_, entries, _) = store
            .evidence(Ok(&Target::Digest(sha("lib-e"))), &only_vulns)
            .unwrap();
        assert!(entries.is_empty());
        let (_, entries, _) = store
            .evidence(Err(("https://ci.example", None)), &all)
            .unwrap();
        assert_eq!(entries.len(), 5);
        let after = EvidenceFilter {
            after: Some(chain.sboms[1]),
            ..all.clone()
        };
        let (_, entries, _) = store
            .evidence(Err(("https://ci.example", None)), &after)
            .unwrap();
        assert_eq!(entries.len(), 3);
        let (_, entries, _) = store
            .evidence(Err(("https://ci.example", Some("tool"))), &all)
            .unwrap();
        assert_eq!(
            entries.iter().map(|e| e.index).collect::<Vec<_>>(),
            vec![chain.sboms[3]]
        );
    });
}

#[test]
fn malformed_sbom_content_is_logged_and_indexed_as_unparsed() {
    each_backend(|db| {
        let store = db.open();
        let key = PrivateKey::generate(KeyKind::Ed25519).unwrap();
        store
            .add_issuer("https://ci.example", Role::Attester, key.public_key())
            .unwrap();
        let bad = dsse(
            &key,
            "broken",
            "https://cyclonedx.org/bom",
            json!({"components": "not a list"}),
        );
        let index = register(&store, &bad);
        let (kind, reason) = store.index_status(index).unwrap().unwrap();
        assert_eq!(kind, "sbom");
        assert!(reason.is_some(), "no reason recorded");
        // Still a subject with evidence, and the log goes on.
        let (_, entries, _) = store
            .evidence(
                Ok(&Target::Digest(sha("broken"))),
                &EvidenceFilter {
                    limit: 10,
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(entries.len(), 1);
        register(&store, &sbom(&key, "app", &["lib-b"]));
    });
}

#[test]
fn a_large_sbom_is_indexed_in_bounded_batches() {
    each_backend(|db| {
        let store = db.open();
        let key = PrivateKey::generate(KeyKind::Ed25519).unwrap();
        store
            .add_issuer("https://ci.example", Role::Attester, key.public_key())
            .unwrap();
        let n = 20_000;
        let children: Vec<String> = (0..n).map(|i| format!("c{i}")).collect();
        let refs: Vec<&str> = children.iter().map(String::as_str).collect();
        register(&store, &sbom(&key, "big", &refs));
        let answer = store
            .components(
                &Target::Digest(sha("big")),
                &Walk {
                    limit: 10_000,
                    ..Walk::default()
                },
            )
            .unwrap();
        assert_eq!(answer.total, n);
    });
}
