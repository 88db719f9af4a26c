//! SITs from an in-memory chain: a `fetch` step producing this repository's `Cargo.lock`, a
//! small npm `package-lock.json` and a source file, and a `build` step turning them into
//! `target/app`, all signed with fresh ed25519 keys and bundled into an SBOMit document.
//!
//! * every format's SIT but SPDX 3 (validated by the CLI's SIT tests) passes
//!   `validate_sbom.sh` when `SBOMIT_VALIDATE_SBOM` names it;
//! * every component hash in every SIT is a digest a link or an attested lockfile records;
//! * a mutation replacing a component hash or removing a component is flagged, naming the
//!   operation; one adding supplier and license data is not;
//! * the same document gives the same bytes.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};

use chrono::{TimeZone, Utc};
use serde_json::{json, Value};

use sbomit_crypto::{KeyKind, PrivateKey};
use sbomit_intoto::digest::{ArtifactPath, DigestSet, Sha256};
use sbomit_intoto::envelope::{Envelope, EnvelopeKind};
use sbomit_intoto::model::{Inspection, Link};
use sbomit_intoto::verify::{InspectionRunner, SourceError, VerifyOptions};
use sbomit_sbom::document::{Document, Party, Supplement};
use sbomit_sbom::jsonpatch::Patch;
use sbomit_sbom::sit::{self, mutation::Change, Format, Inventory, SitOptions};

const PACKAGE_LOCK: &str = r#"{
  "name": "web", "version": "1.0.0", "lockfileVersion": 3, "requires": true,
  "packages": {
    "": {"name": "web", "version": "1.0.0", "dependencies": {"left-pad": "^1.3.0"}},
    "node_modules/left-pad": {"version": "1.3.0",
      "resolved": "https://registry.npmjs.org/left-pad/-/left-pad-1.3.0.tgz",
      "integrity": "sha512-z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY7kxvUdBeoGlODJ6+SfaPg=="},
    "node_modules/@types/node": {"version": "20.1.0",
      "integrity": "sha512-z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY7kxvUdBeoGlODJ6+SfaPg=="}
  }
}
"#;

struct NoInspections;
impl InspectionRunner for NoInspections {
    fn run(&self, i: &Inspection) -> Result<Link, SourceError> {
        Err(format!("no inspections here ({})", i.name).into())
    }
}

fn digest(bytes: &[u8]) -> DigestSet {
    DigestSet::sha256(Sha256::digest(bytes))
}

pub(crate) struct Chain {
    pub(crate) doc: Document,
    owner: PrivateKey,
    lockfiles: BTreeMap<String, Vec<u8>>,
    links: Vec<Link>,
}

pub(crate) fn chain() -> Chain {
    chain_with(true)
}

/// [`chain`]; `tarballs`: whether the fetch step records the npm packages' tarballs.
pub(crate) fn chain_with(tarballs: bool) -> Chain {
    let owner = PrivateKey::generate(KeyKind::Ed25519).unwrap();
    let func = PrivateKey::generate(KeyKind::Ed25519).unwrap();
    let fid = func.public_key().keyid().clone();
    let cargo_lock =
        std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.lock")).unwrap();
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("Cargo.lock", cargo_lock.clone()),
        ("web/package-lock.json", PACKAGE_LOCK.as_bytes().to_vec()),
        ("src/main.rs", b"fn main() {}\n".to_vec()),
        // The npm packages' tarballs as fetched (npm's lockfile records only sha512 for
        // them): their sha256 is what every npm component carries (issue 11).
        (
            "web/npm-cache/left-pad-1.3.0.tgz",
            b"left-pad tarball".to_vec(),
        ),
        (
            "web/npm-cache/types-node-20.1.0.tgz",
            b"@types/node tarball".to_vec(),
        ),
    ];
    let files: Vec<(&str, Vec<u8>)> = files
        .into_iter()
        .filter(|(p, _)| tarballs || !p.ends_with(".tgz"))
        .collect();
    let mut fetch = Link {
        name: "fetch".into(),
        command: vec!["git".into(), "clone".into(), "repo".into()],
        ..Link::default()
    };
    for (p, b) in &files {
        fetch.products.insert(ArtifactPath::from(*p), digest(b));
    }
    fetch.byproducts.insert("return-value".into(), 0.into());
    let mut build = Link {
        name: "build".into(),
        command: vec!["cargo".into(), "build".into(), "--release".into()],
        materials: fetch.products.clone(),
        ..Link::default()
    };
    build
        .products
        .insert(ArtifactPath::from("target/app"), digest(b"\x7fELF app"));
    build.byproducts.insert("return-value".into(), 0.into());

    let mut key = func.public_key().to_securesystemslib();
    key["keyid"] = json!(fid.as_str());
    let layout = json!({
        "_type": "layout", "expires": "2030-01-01T00:00:00Z", "readme": "demo",
        "keys": {fid.as_str(): key},
        "steps": [
            {"_type": "step", "name": "fetch", "pubkeys": [fid.as_str()], "threshold": 1,
             "expected_command": ["git", "clone", "repo"],
             "expected_materials": [], "expected_products": [["CREATE", "*"]]},
            {"_type": "step", "name": "build", "pubkeys": [fid.as_str()], "threshold": 1,
             "expected_command": ["cargo", "build", "--release"],
             "expected_materials": [["MATCH", "*", "WITH", "PRODUCTS", "FROM", "fetch"],
                                    ["DISALLOW", "*"]],
             "expected_products": [["CREATE", "target/app"], ["DISALLOW", "*"]]}
        ],
        "inspect": []
    });
    let mut le = Envelope::new(EnvelopeKind::Classic, &layout).unwrap();
    le.sign(&owner).unwrap();
    let mut doc = Document::new(&le.to_file_bytes()).unwrap();
    for (l, kind) in [
        (&fetch, EnvelopeKind::Classic),
        (&build, EnvelopeKind::Dsse),
    ] {
        let mut e = Envelope::new(kind, &l.to_value()).unwrap();
        e.sign(&func).unwrap();
        doc.add_metadata(
            &format!("{}.{}.link", l.name, fid.short()),
            &e.to_file_bytes(),
        )
        .unwrap();
    }
    doc.set_supplement(Supplement {
        name: Some("app".into()),
        version: Some("1.2.3".into()),
        supplier: Some(Party {
            name: "ACME Corp".into(),
            email: None,
            url: Some("https://acme.example".into()),
        }),
        authors: vec![Party {
            name: "Jane Doe".into(),
            email: Some("jane@acme.example".into()),
            url: None,
        }],
        contacts: vec![Party {
            name: "Security".into(),
            email: Some("security@acme.example".into()),
            url: None,
        }],
        license: Some("Apache-2.0".into()),
    });
    let lockfiles = BTreeMap::from([
        ("Cargo.lock".to_owned(), cargo_lock),
        (
            "web/package-lock.json".to_owned(),
            PACKAGE_LOCK.as_bytes().to_vec(),
        ),
    ]);
    Chain {
        doc,
        owner,
        lockfiles,
        links: vec![fetch, build],
    }
}

pub(crate) fn options() -> SitOptions {
    SitOptions::at(Utc.with_ymd_and_hms(2025, 6, 1, 12, 0, 0).unwrap())
}

pub(crate) fn inventory(c: &Chain) -> Inventory {
    let report = c
        .doc
        .verify(
            &[c.owner.public_key().clone()],
            &[],
            &VerifyOptions::at(Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap()),
            &NoInspections,
        )
        .unwrap();
    assert!(report.passed(), "{:?}", report.failure);
    sit::derive(&c.doc, &report, &c.lockfiles, &options()).unwrap()
}

/// (algorithm, lowercase hex) of every hash on every component of a SIT.
fn component_hashes(format: Format, sbom: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let norm = |a: &str| a.to_ascii_lowercase().replace('-', "");
    match format {
        Format::Spdx23 => {
            for p in sbom["packages"].as_array().unwrap() {
                for h in p["checksums"].as_array().into_iter().flatten() {
                    out.push((
                        norm(h["algorithm"].as_str().unwrap()),
                        h["checksumValue"].as_str().unwrap().to_owned(),
                    ));
                }
            }
        }
        Format::Spdx301 => {
            for e in sbom["@graph"].as_array().unwrap() {
                for h in e["verifiedUsing"].as_array().into_iter().flatten() {
                    out.push((
                        norm(h["algorithm"].as_str().unwrap()),
                        h["hashValue"].as_str().unwrap().to_owned(),
                    ));
                }
            }
        }
        _ => {
            let comps = sbom["components"]
                .as_array()
                .unwrap()
                .iter()
                .chain(std::iter::once(&sbom["metadata"]["component"]));
            for c in comps {
                for h in c["hashes"].as_array().into_iter().flatten() {
                    out.push((
                        norm(h["alg"].as_str().unwrap()),
                        h["content"].as_str().unwrap().to_owned(),
                    ));
                }
            }
        }
    }
    out
}

/// What the links and the lockfiles attest, read independently of the SIT code: link
/// digests, Cargo.lock `checksum` lines, npm `integrity` sha512 values.
fn attested(c: &Chain) -> BTreeSet<(String, String)> {
    use base64::Engine as _;
    let mut out = BTreeSet::new();
    for l in &c.links {
        for d in l.materials.values().chain(l.products.values()) {
            for (alg, hex) in d.iter() {
                out.insert((alg.to_owned(), hex.to_owned()));
            }
        }
    }
    let cargo = String::from_utf8(c.lockfiles["Cargo.lock"].clone()).unwrap();
    for line in cargo.lines() {
        if let Some(v) = line.strip_prefix("checksum = \"") {
            out.insert(("sha256".into(), v.trim_end_matches('"').to_owned()));
        }
    }
    let npm: Value = serde_json::from_str(PACKAGE_LOCK).unwrap();
    for p in npm["packages"].as_object().unwrap().values() {
        if let Some(i) = p["integrity"]
            .as_str()
            .and_then(|i| i.strip_prefix("sha512-"))
        {
            let raw = base64::engine::general_purpose::STANDARD.decode(i).unwrap();
            out.insert(("sha512".into(), hex::encode(raw)));
        }
    }
    out
}

#[test]
fn sit_every_component_hash_is_attested() {
    let c = chain();
    let inv = inventory(&c);
    let attested = attested(&c);
    assert!(inv.packages().any(|p| p.name == "serde_json"));
    let left_pad = inv.packages().find(|p| p.name == "left-pad").unwrap();
    assert_eq!(left_pad.purl.as_deref(), Some("pkg:npm/left-pad@1.3.0"));
    // Its lockfile records sha512; the sha256 is its attested tarball's.
    let tarball = sit::Hash {
        alg: sit::HashAlg::Sha256,
        hex: Sha256::digest(b"left-pad tarball").to_hex(),
    };
    assert!(left_pad.hashes.contains(&tarball), "{:?}", left_pad.hashes);
    assert!(left_pad
        .hashes
        .iter()
        .any(|h| h.alg == sit::HashAlg::Sha512));
    // §4.2.2.1, literally: every component has a sha256, and it is an attested digest.
    for c in &inv.components {
        let sha = c.hashes.iter().find(|h| h.alg == sit::HashAlg::Sha256);
        let sha = sha.unwrap_or_else(|| panic!("{} has no sha256", c.id));
        assert!(
            attested.contains(&("sha256".to_owned(), sha.hex.clone())),
            "{}: sha256 {} is not attested",
            c.id,
            sha.hex
        );
    }
    for format in Format::ALL {
        let s = sit::generate(&c.doc, &inv, format, &options()).unwrap();
        let hashes = component_hashes(format, &s.value);
        assert!(hashes.len() > 50, "{format:?}: {}", hashes.len());
        for h in hashes {
            assert!(attested.contains(&h), "{format:?}: {h:?} is not attested");
        }
    }
}

#[test]
fn sit_rejects_a_lockfile_that_does_not_match_its_link() {
    let mut c = chain();
    c.lockfiles
        .get_mut("Cargo.lock")
        .unwrap()
        .extend_from_slice(b"\n");
    let report = c
        .doc
        .verify(
            &[c.owner.public_key().clone()],
            &[],
            &VerifyOptions::at(Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap()),
            &NoInspections,
        )
        .unwrap();
    assert!(matches!(
        sit::derive(&c.doc, &report, &c.lockfiles, &options()),
        Err(sit::SitError::LockfileMismatch { .. })
    ));
}

#[test]
fn sit_output_is_deterministic() {
    let c = chain();
    let a = inventory(&c);
    let b = inventory(&c);
    for format in Format::ALL {
        let x = sit::generate(&c.doc, &a, format, &options()).unwrap();
        let y = sit::generate(&c.doc, &b, format, &options()).unwrap();
        assert_eq!(x.to_bytes(), y.to_bytes(), "{format:?}");
    }
}

#[test]
fn sit_mutation_overriding_in_toto_content_is_flagged_by_op() {
    let mut c = chain();
    let supplemental = Patch::from_value(&json!([
        {"op": "add", "path": "/metadata/component/description", "value": "the app"},
        {"op": "add", "path": "/metadata/manufacturer", "value": {"name": "ACME"}},
        {"op": "add", "path": "/components/0/licenses", "value": [{"expression": "MIT"}]}
    ]))
    .unwrap();
    c.doc.set_mutation("cyclonedx", supplemental);
    let inv = inventory(&c);
    let s = sit::generate(&c.doc, &inv, Format::CycloneDx16, &options()).unwrap();
    assert!(s.warnings.is_empty(), "{:?}", s.warnings);
    assert_eq!(s.value["metadata"]["component"]["description"], "the app");

    let hostile = Patch::from_value(&json!([
        {"op": "add", "path": "/metadata/component/description", "value": "fine"},
        {"op": "replace", "path": "/components/0/hashes/0/content", "value": "0".repeat(64)},
        {"op": "remove", "path": "/components/1"}
    ]))
    .unwrap();
    c.doc.set_mutation("cyclonedx", hostile.clone());
    c.doc.set_mutation("spdx-2.3", {
        Patch::from_value(&json!([
            {"op": "replace", "path": "/packages/1/checksums/0/checksumValue", "value": "1".repeat(64)}
        ]))
        .unwrap()
    });
    let s = sit::generate(&c.doc, &inv, Format::CycloneDx16, &options()).unwrap();
    let ops: BTreeSet<usize> = s.warnings.iter().map(|w| w.index).collect();
    assert_eq!(ops, BTreeSet::from([1, 2]), "{:#?}", s.warnings);
    assert!(s
        .warnings
        .iter()
        .any(|w| w.index == 1 && w.op == "replace" && w.change == Change::Changed));
    assert!(s
        .warnings
        .iter()
        .any(|w| w.index == 1 && matches!(w.change, Change::UnattestedHash { .. })));
    assert!(s
        .warnings
        .iter()
        .any(|w| w.index == 2 && w.op == "remove" && w.change == Change::Removed));
    let text = s.warnings[0].to_string();
    assert!(
        text.contains("operation 1 (replace /components/0/hashes/0/content)"),
        "{text}"
    );

    let s = sit::generate(&c.doc, &inv, Format::Spdx23, &options()).unwrap();
    assert!(s.warnings.iter().all(|w| w.index == 0));
    assert!(!s.warnings.is_empty());
}

#[test]
fn sit_validates_with_third_party_validators() {
    let Ok(script) = std::env::var("SBOMIT_VALIDATE_SBOM") else {
        eprintln!("SBOMIT_VALIDATE_SBOM not set: skipping the third-party validators");
        return;
    };
    let c = chain();
    let inv = inventory(&c);
    let dir = std::env::temp_dir().join(format!("sbomit-sit-validate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut failed = Vec::new();
    for format in Format::ALL {
        // SPDX 3's SHACL check takes minutes per SIT; the CLI's SIT tests (crates/sbomit-cli/
        // tests/sit.rs) run it on four chains (this repository's Cargo.lock and an npm
        // lockfile among them), so CI pays for it there only.
        if format == Format::Spdx301 {
            continue;
        }
        let url_bases: &[Option<&str>] = &[None, Some("https://attestations.example/app/1.2.3")];
        for url_base in url_bases {
            let mut opts = options();
            opts.attestation_url_base = url_base.map(str::to_owned);
            let s = sit::generate(&c.doc, &inv, format, &opts).unwrap();
            let path = dir.join(format!(
                "{}{}.json",
                format.name(),
                if url_base.is_some() { "-urls" } else { "" }
            ));
            std::fs::write(&path, s.to_bytes()).unwrap();
            // One at a time: the validators share one Python venv, which they create and
            // install into on first use, and two processes doing that at once race.
            let status = std::process::Command::new("bash")
                .arg(&script)
                .arg(&path)
                .arg(format.validator_name())
                .status()
                .unwrap();
            if !status.success() {
                failed.push(path.display().to_string());
            }
        }
    }
    assert!(failed.is_empty(), "invalid SITs: {failed:?}");
    std::fs::remove_dir_all(&dir).ok();
}

/// Issue 11: a package with no attested sha256 (npm records only sha512, and no step recorded
/// its tarball) is refused, naming it, unless unhashed packages are allowed; then it carries
/// `sbomit:unhashed` saying why, in every format.
#[test]
fn sit_refuses_packages_without_an_attested_sha256_unless_allowed() {
    let c = chain_with(false);
    let report = c
        .doc
        .verify(
            &[c.owner.public_key().clone()],
            &[],
            &VerifyOptions::at(Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap()),
            &NoInspections,
        )
        .unwrap();
    let err = sit::derive(&c.doc, &report, &c.lockfiles, &options()).unwrap_err();
    let sit::SitError::Unhashed { packages } = &err else {
        panic!("{err}");
    };
    assert_eq!(
        packages,
        &[
            "pkg:npm/%40types/node@20.1.0 (package-lock.json)".to_owned(),
            "pkg:npm/left-pad@1.3.0 (package-lock.json)".to_owned()
        ]
    );
    let mut allowed = options();
    allowed.allow_unhashed = true;
    let inv = sit::derive(&c.doc, &report, &c.lockfiles, &allowed).unwrap();
    let left_pad = inv.packages().find(|p| p.name == "left-pad").unwrap();
    assert!(left_pad.unhashed.as_deref().unwrap().contains("no sha256"));
    for format in Format::ALL {
        let s = sit::generate(&c.doc, &inv, format, &allowed).unwrap();
        let text = serde_json::to_string(&s.value).unwrap();
        assert_eq!(text.matches("sbomit:unhashed").count(), 2, "{format:?}");
        // Read back, the SIT says it was made allowing them.
        let back = sit::received::options_from_sit(format, &s.value).unwrap();
        assert!(back.allow_unhashed, "{format:?}");
    }
}
