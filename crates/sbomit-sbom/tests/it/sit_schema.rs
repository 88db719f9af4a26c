//! The SITs satisfy their formats' JSON schemas, checked with the toolchain alone (the
//! `jsonschema` crate, offline): CycloneDX 1.2 and 1.3 (plain and strict), 1.4 and 1.6 (with
//! the SPDX licence-id and JSF schemas they reference), SPDX 2.3 and SPDX 3.0.1, vendored
//! under `testdata/schemas/` (see the README there). The third-party validators (`SBOMIT_VALIDATE_SBOM`, in `sit_validate.rs`) still
//! run in CI; this check runs in every `cargo test`. A SIT missing a required field fails it.
#![allow(clippy::unwrap_used)]

use serde_json::{json, Value};

use sbomit_sbom::jsonpatch::Patch;
use sbomit_sbom::sit::{self, Format};

use crate::sit_validate::{chain, inventory, options};

fn schema(path: &str) -> Value {
    let path = format!(
        "{}/../../testdata/schemas/{path}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

/// The validator for a SIT format. The CycloneDX schema's relative `$ref`s resolve against
/// its `$id` (`http://cyclonedx.org/schema/`): the vendored files are registered under those
/// URIs and nothing is ever fetched (`offline`), so a reference that is not vendored fails
/// here rather than going to the network.
fn validator(format: Format) -> jsonschema::Validator {
    let root = match format {
        Format::CycloneDx12 => "cyclonedx/bom-1.2.schema.json",
        Format::CycloneDx13 => "cyclonedx/bom-1.3.schema.json",
        Format::CycloneDx14 => "cyclonedx/bom-1.4.schema.json",
        Format::CycloneDx16 => "cyclonedx/bom-1.6.schema.json",
        Format::Spdx23 => "spdx/spdx-2.3.schema.json",
        Format::Spdx301 => "spdx/spdx-3.0.1.schema.json",
        other => panic!("no schema vendored for {other:?}"),
    };
    validator_for(root)
}

/// The strict variant of a CycloneDX schema (1.2 and 1.3 have one; from 1.4 on the schema
/// itself is strict), which refuses members the version does not define.
fn strict_validator(format: Format) -> Option<jsonschema::Validator> {
    match format {
        Format::CycloneDx12 => Some(validator_for("cyclonedx/bom-1.2-strict.schema.json")),
        Format::CycloneDx13 => Some(validator_for("cyclonedx/bom-1.3-strict.schema.json")),
        _ => None,
    }
}

fn validator_for(root: &str) -> jsonschema::Validator {
    let others: &[(&str, &str)] = if root.starts_with("cyclonedx/") {
        &[
            (
                "http://cyclonedx.org/schema/spdx.schema.json",
                "cyclonedx/spdx.schema.json",
            ),
            (
                "http://cyclonedx.org/schema/jsf-0.82.schema.json",
                "cyclonedx/jsf-0.82.schema.json",
            ),
        ]
    } else {
        &[]
    };
    let mut registry = jsonschema::Registry::new();
    for (uri, path) in others {
        registry = registry.add(*uri, schema(path)).unwrap();
    }
    let registry = registry.prepare().unwrap();
    jsonschema::options()
        .offline()
        .should_validate_formats(true)
        .with_registry(&registry)
        .build(&schema(root))
        .unwrap()
}

/// Every schema error, with where it is.
fn errors(v: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    v.iter_errors(instance)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

const FORMATS: [Format; 6] = [
    Format::CycloneDx12,
    Format::CycloneDx13,
    Format::CycloneDx14,
    Format::CycloneDx16,
    Format::Spdx23,
    Format::Spdx301,
];

#[test]
fn sit_satisfies_the_vendored_json_schemas() {
    let c = chain();
    let inv = inventory(&c);
    for format in FORMATS {
        let v = validator(format);
        let strict = strict_validator(format);
        for url_base in [None, Some("https://attestations.example/app/1.2.3")] {
            let mut opts = options();
            opts.attestation_url_base = url_base.map(str::to_owned);
            let s = sit::generate(&c.doc, &inv, format, &opts).unwrap();
            // The bytes as written, read back: what a consumer validates.
            let written: Value = serde_json::from_slice(&s.to_bytes()).unwrap();
            let mut errs = errors(&v, &written);
            if let Some(strict) = &strict {
                errs.extend(
                    errors(strict, &written)
                        .into_iter()
                        .map(|e| format!("strict: {e}")),
                );
            }
            assert!(
                errs.is_empty(),
                "{format:?} {url_base:?}:\n{}",
                errs.join("\n")
            );
        }
    }
}

/// Each patch breaks the SIT in one way the schema forbids: a required field removed, a value
/// outside an enum, a licence id that only the referenced SPDX licence schema knows is wrong
/// (so the `$ref` to the vendored file is followed).
#[test]
fn sit_broken_in_a_way_its_schema_forbids_is_rejected() {
    let c = chain();
    let inv = inventory(&c);
    for (format, patch) in [
        (
            Format::CycloneDx16,
            json!([{"op": "remove", "path": "/bomFormat"}]),
        ),
        (
            Format::CycloneDx16,
            json!([{"op": "remove", "path": "/components/0/name"}]),
        ),
        (
            Format::CycloneDx16,
            json!([{"op": "replace", "path": "/components/0/hashes/0/alg", "value": "SHA-999"}]),
        ),
        (
            Format::CycloneDx16,
            json!([{"op": "add", "path": "/components/0/licenses",
                    "value": [{"license": {"id": "NOT-A-LICENSE"}}]}]),
        ),
        // 1.2 and 1.3 require a component version; 1.4 knows no `attestation` references.
        (
            Format::CycloneDx12,
            json!([{"op": "remove", "path": "/components/0/version"}]),
        ),
        (
            Format::CycloneDx13,
            json!([{"op": "remove", "path": "/components/0/version"}]),
        ),
        (
            Format::CycloneDx14,
            json!([{"op": "replace", "path": "/components/0/externalReferences/0/type",
                    "value": "attestation"}]),
        ),
        (
            Format::Spdx23,
            json!([{"op": "remove", "path": "/spdxVersion"}]),
        ),
        (
            Format::Spdx23,
            json!([{"op": "remove", "path": "/packages/0/SPDXID"}]),
        ),
        (
            Format::Spdx301,
            json!([{"op": "remove", "path": "/@context"}]),
        ),
    ] {
        let v = validator(format);
        let sbom = sit::generate(&c.doc, &inv, format, &options())
            .unwrap()
            .value;
        assert!(v.is_valid(&sbom), "{format:?}");
        let broken = Patch::from_value(&patch).unwrap().apply(&sbom).unwrap();
        assert!(
            !v.is_valid(&broken),
            "{format:?}: still valid after {patch}"
        );
    }
    // What 1.2 cannot carry (`properties`, reference hashes, `formulation`), its strict
    // schema refuses: the reason the 1.2 SIT puts the `sbomit:*` pairs elsewhere.
    let strict = strict_validator(Format::CycloneDx12).unwrap();
    let old = sit::generate(&c.doc, &inv, Format::CycloneDx12, &options())
        .unwrap()
        .value;
    assert!(strict.is_valid(&old));
    for patch in [
        json!([{"op": "add", "path": "/components/0/properties",
                "value": [{"name": "sbomit:x", "value": "y"}]}]),
        json!([{"op": "add", "path": "/components/0/externalReferences/0/hashes",
                "value": [{"alg": "SHA-256", "content": "0".repeat(64)}]}]),
        json!([{"op": "add", "path": "/formulation", "value": []}]),
    ] {
        let broken = Patch::from_value(&patch).unwrap().apply(&old).unwrap();
        assert!(!strict.is_valid(&broken), "1.2 strict accepts {patch}");
    }
    // The licence schema accepts a real id there.
    let sbom = sit::generate(&c.doc, &inv, Format::CycloneDx16, &options())
        .unwrap()
        .value;
    let licensed = Patch::from_value(&json!([{"op": "add", "path": "/components/0/licenses",
        "value": [{"license": {"id": "MIT"}}]}]))
    .unwrap()
    .apply(&sbom)
    .unwrap();
    assert!(validator(Format::CycloneDx16).is_valid(&licensed));
}
