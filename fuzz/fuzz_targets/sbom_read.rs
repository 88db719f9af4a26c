//! The SBOM / VEX / OSV readers (CycloneDX, SPDX 2.3 and 3, OpenVEX, OSV, in-toto vulns): any
//! bytes under every media type the Store indexes, and any JSON as an in-toto Statement under
//! every predicate type, give facts that keep the readers' invariants (`Facts::violations`).
#![no_main]
use libfuzzer_sys::fuzz_target;
use sbomit_sbom::read::{payload, statement, Facts, Node};
use serde_json::Value;

const CONTENT_TYPES: &[&str] = &[
    "application/json",
    "application/vnd.cyclonedx+json",
    "application/spdx+json",
    "application/openvex+json",
    "application/vnd.osv+json",
    "application/vnd.in-toto+json",
    "application/vnd.cyclonedx+xml",
];

const PREDICATE_TYPES: &[&str] = &[
    "https://cyclonedx.org/bom",
    "https://spdx.dev/Document/v2.3",
    "https://spdx.dev/Document/v3",
    "https://in-toto.io/attestation/vulns/v0.1",
    "https://cosign.sigstore.dev/attestation/vuln/v1",
    "https://ossf.github.io/osv-schema/v1",
    "https://openvex.dev/ns/v0.2.0",
    "https://example.com/other",
];

fn check(facts: &Facts) {
    let violations = facts.violations();
    assert!(violations.is_empty(), "{violations:?} in {facts:#?}");
}

fuzz_target!(|data: &[u8]| {
    let Some((pick, rest)) = sbomit_fuzz::select(data, CONTENT_TYPES.len()) else {
        return;
    };
    let subjects = Node::from_identifier("pkg:npm/fuzz@1");
    check(&payload(subjects.clone(), CONTENT_TYPES[pick], Some(rest)));
    check(&payload(None, "application/json", Some(data)));
    if let Ok(value) = serde_json::from_slice::<Value>(rest) {
        check(&statement(
            &value,
            PREDICATE_TYPES[pick % PREDICATE_TYPES.len()],
        ));
    }
});
