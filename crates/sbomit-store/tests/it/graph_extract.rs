//! Graph extraction (issue #5) as the Store does it: the DSSE or COSE envelope of a registered
//! statement is opened here and its content handed to `sbomit_sbom::read` (whose tests check
//! every format, under `crates/sbomit-sbom/tests/it/read.rs`). These check the opening: the
//! same facts as the readers give on the content, the COSE `sub` and content type, bytes that
//! are no envelope, and a large SBOM through the whole path. Fixtures are in `testdata/graph/`.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;

use proptest::prelude::*;
use sbomit_intoto::envelope::{Envelope, EnvelopeKind};
use sbomit_sbom::read;
use sbomit_scitt::cose::{SignedStatement, StatementHeader};
use sbomit_store::admission::EntryKind;
use sbomit_store::graph::{extract, FactKind, Facts, Node};
use serde_json::{json, Value};

use sbomit_testkit::{
    dsse_with_subjects as dsse_bytes, graph_fixture as fixture, hex64 as hex, sha256_of as sha,
    shared_key as key,
};

/// The usual subject: the artifact `app` (sha256 `aaaa…`).
fn app_subject() -> Vec<(&'static str, Option<String>)> {
    vec![("dist/app-1.0.tar.gz", Some(hex('a')))]
}

fn cose_bytes(sub: &str, content_type: Option<&str>, payload: &[u8]) -> Vec<u8> {
    SignedStatement::sign(
        &StatementHeader {
            iss: "https://issuer.example".into(),
            sub: sub.into(),
            content_type: content_type.map(Into::into),
            kid: None,
        },
        payload,
        key(),
    )
    .unwrap()
}

fn subject_keys(f: &Facts) -> Vec<String> {
    f.subjects.iter().map(|n| n.key.clone()).collect()
}

fn edges(f: &Facts) -> BTreeSet<(String, String)> {
    f.edges
        .iter()
        .map(|e| (e.parent.clone(), e.child.clone()))
        .collect()
}

/// The invariants every result keeps, whatever the input (`Facts::violations`).
fn well_formed(f: &Facts) {
    assert_eq!(f.violations(), Vec::<String>::new(), "{f:?}");
}

#[test]
fn envelopes_hand_their_content_to_the_readers() {
    let bom = fixture("cyclonedx-nested-1.6.json");
    let t = "https://cyclonedx.org/bom";
    let bytes = dsse_bytes(t, &app_subject(), bom.clone());
    let f = extract(EntryKind::Dsse, t, &bytes);
    well_formed(&f);
    assert_eq!((f.kind, f.unparsed.as_deref()), (FactKind::Sbom, None));
    assert_eq!(subject_keys(&f), vec![sha('a')]);
    let env = Envelope::parse(&bytes).unwrap();
    assert_eq!(f, read::statement(env.payload(), t));

    let payload = serde_json::to_vec(&bom).unwrap();
    let ct = "application/vnd.cyclonedx+json";
    let c = extract(
        EntryKind::Cose,
        ct,
        &cose_bytes("pkg:generic/app@1.0", Some(ct), &payload),
    );
    well_formed(&c);
    assert_eq!(c.unparsed, None);
    assert_eq!(
        c,
        read::payload(
            Node::from_identifier("pkg:generic/app@1.0"),
            ct,
            Some(&payload)
        )
    );
    assert_eq!(edges(&c), edges(&f));
    // Without a content type in the header, the type it was registered under is used.
    let d = extract(
        EntryKind::Cose,
        ct,
        &cose_bytes("pkg:generic/app@1.0", None, &payload),
    );
    assert_eq!(d, c);
}

#[test]
fn bytes_that_are_no_envelope_are_unparsed() {
    for kind in [EntryKind::Dsse, EntryKind::Cose] {
        let f = extract(kind, "https://cyclonedx.org/bom", b"garbage");
        assert!(f.unparsed.is_some());
        assert!(f.subjects.is_empty() && f.nodes.is_empty());
        assert_eq!(f.kind, FactKind::Sbom);
    }
    let f = extract(EntryKind::Cose, "application/openvex+json", b"garbage");
    assert_eq!(f.kind, FactKind::Vex);
    assert!(f
        .unparsed
        .unwrap()
        .starts_with("not a COSE Signed Statement"));
    // A DSSE envelope whose payload is not an in-toto Statement.
    let mut env = Envelope::from_value(EnvelopeKind::Dsse, json!({"hello": 1})).unwrap();
    env.sign(key()).unwrap();
    let f = extract(EntryKind::Dsse, "x", &env.to_file_bytes());
    assert!(f.unparsed.is_some());
}

// --- Large SBOMs ---

/// Whole path (envelope, JSON, extraction) on a large SBOM: linear (the debug build checks
/// 20,000 components for speed, release 100,000; the extraction proper is timed by the unit
/// test `read::tests::large_sbom_is_linear` of sbomit-sbom).
#[test]
fn large_sbom_in_a_dsse_envelope() {
    let n = if cfg!(debug_assertions) {
        20_000
    } else {
        100_000
    };
    let components: Vec<Value> = (0..n)
        .map(|i| {
            json!({
                "bom-ref": format!("c{i}"),
                "name": format!("lib{i}"),
                "version": "1.0.0",
                "purl": format!("pkg:npm/lib{i}@1.0.0"),
                "hashes": [{"alg": "SHA-256", "content": format!("{i:064x}")}],
            })
        })
        .collect();
    let dependencies: Vec<Value> = (1..n)
        .map(|i| json!({"ref": format!("c{i}"), "dependsOn": [format!("c{}", i - 1)]}))
        .collect();
    let bom = json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "metadata": {"component": {"bom-ref": "root", "name": "app", "version": "1"}},
        "components": components,
        "dependencies": dependencies,
    });
    let bytes = dsse_bytes("https://cyclonedx.org/bom", &app_subject(), bom);
    let start = std::time::Instant::now();
    let f = extract(EntryKind::Dsse, "https://cyclonedx.org/bom", &bytes);
    let took = start.elapsed();
    assert_eq!(f.unparsed, None);
    assert_eq!(f.nodes.len(), n + 1);
    assert_eq!(f.edges.len(), n + (n - 1));
    assert_eq!(subject_keys(&f), vec![sha('a')]);
    assert_eq!(f.subjects[0].name.as_deref(), Some("dist/app-1.0.tar.gz"));
    eprintln!("{n} components in {} bytes: {took:?}", bytes.len());
    // Typically 0.3-0.8 s on two busy shared cores, a quarter of it the envelope's JSON;
    // timed by the graph benchmark (crates/sbomit-store/examples/graph_bench.rs), not here.
}

// --- Never a panic ---

const PREDICATE_TYPES: &[&str] = &[
    "https://cyclonedx.org/bom",
    "https://spdx.dev/Document",
    "https://spdx.dev/Document/v3",
    "https://openvex.dev/ns/v0.2.0",
    "https://ossf.github.io/osv-schema/v1.6.0",
    "https://in-toto.io/attestation/vulns/v0.1",
    "https://cosign.sigstore.dev/attestation/vuln/v1",
    "https://example.com/end-of-life/v1",
    "https://example.com/other",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic(
        bytes in prop::collection::vec(any::<u8>(), 0..512),
        t in prop::sample::select(PREDICATE_TYPES),
    ) {
        for kind in [EntryKind::Dsse, EntryKind::Cose] {
            let f = extract(kind, t, &bytes);
            well_formed(&f);
            prop_assert!(f.unparsed.is_some());
        }
    }

}
