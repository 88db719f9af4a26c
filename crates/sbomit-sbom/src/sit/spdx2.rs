//! SPDX 2.3 JSON.
//!
//! Every component is a package (`filesAnalyzed: false`): SPDX 2.3 files must carry a SHA1,
//! which in-toto links do not record, and we never invent digests. Final products are
//! `DESCRIBES`d by the document; packages are `DEPENDS_ON` dependencies of each product and
//! lockfiles their `DEPENDENCY_MANIFEST_OF`; each step gives `GENERATED_FROM` relationships
//! from its products to its materials. `sbomit:*` evidence is in package annotations
//! (`name=value` comments).

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::stream::{Arrays, Lazy};
use super::{
    derived_uuid, sbomit_properties, timestamp, Component, ComponentKind, HashAlg, Inventory,
    SitOptions,
};
use crate::document::Party;
use sbomit_intoto::digest::Sha256;

/// Above this many product × material pairs in one step, its `GENERATED_FROM` relationships
/// are not written (the CycloneDX formulation and SPDX 3 build still record the step).
pub const MAX_STEP_PAIRS: usize = 1_000_000;

fn alg(a: HashAlg) -> &'static str {
    match a {
        HashAlg::Sha256 => "SHA256",
        HashAlg::Sha384 => "SHA384",
        HashAlg::Sha512 => "SHA512",
    }
}

/// `[A-Za-z0-9.-]` only, as SPDX identifiers allow.
fn sanitize(s: &str, max: usize) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .take(max)
        .collect();
    if out.is_empty() {
        out.push('x');
    }
    out
}

/// A stable SPDXID: readable prefix plus a digest of the unique component id.
pub fn spdx_id(c: &Component) -> String {
    let kind = match c.kind {
        ComponentKind::Application => "Product",
        ComponentKind::File => "File",
        ComponentKind::Library => "Package",
    };
    let h = Sha256::digest(c.id.as_bytes()).to_hex();
    format!("SPDXRef-{kind}-{}-{}", sanitize(&c.name, 48), &h[..12])
}

fn party(kind: &str, p: &Party) -> String {
    match &p.email {
        Some(e) => format!("{kind}: {} ({e})", p.name),
        None => format!("{kind}: {}", p.name),
    }
}

fn annotation(inv: &Inventory, options: &SitOptions, comment: String) -> Value {
    json!({
        "annotationDate": timestamp(inv),
        "annotationType": "OTHER",
        "annotator": format!("Tool: {}-{}", options.tool_name, options.tool_version),
        "comment": comment,
    })
}

fn package(inv: &Inventory, c: &Component, options: &SitOptions) -> Value {
    let mut m = Map::new();
    m.insert("SPDXID".into(), json!(spdx_id(c)));
    m.insert("name".into(), json!(c.name));
    if let Some(v) = &c.version {
        m.insert("versionInfo".into(), json!(v));
    }
    m.insert("downloadLocation".into(), json!("NOASSERTION"));
    m.insert("filesAnalyzed".into(), json!(false));
    m.insert(
        "primaryPackagePurpose".into(),
        json!(match c.kind {
            ComponentKind::Application => "APPLICATION",
            ComponentKind::File => "FILE",
            ComponentKind::Library => "LIBRARY",
        }),
    );
    if c.kind == ComponentKind::Application {
        if let Some(s) = &inv.supplier {
            m.insert("supplier".into(), json!(party("Organization", s)));
        }
        if let Some(l) = &inv.license {
            m.insert("licenseDeclared".into(), json!(l));
        }
    }
    if !c.hashes.is_empty() {
        m.insert(
            "checksums".into(),
            Value::Array(
                c.hashes
                    .iter()
                    .map(|h| json!({"algorithm": alg(h.alg), "checksumValue": h.hex}))
                    .collect(),
            ),
        );
    }
    if let Some(p) = &c.purl {
        m.insert(
            "externalRefs".into(),
            json!([{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl",
                    "referenceLocator": p}]),
        );
    }
    let mut notes: Vec<Value> = sbomit_properties(inv, c, options)
        .into_iter()
        .map(|(n, v)| annotation(inv, options, format!("{n}={v}")))
        .collect();
    let link_hashes: Vec<String> = c
        .evidence
        .iter()
        .filter_map(|i| inv.attestations.get(*i))
        .map(|e| e.sha256.to_hex())
        .collect();
    if !link_hashes.is_empty() {
        notes.push(annotation(
            inv,
            options,
            format!("sbomit:attestation:sha256={}", link_hashes.join(",")),
        ));
    }
    if !notes.is_empty() {
        m.insert("annotations".into(), Value::Array(notes));
    }
    Value::Object(m)
}

fn rel(from: &str, kind: &str, to: &str) -> Value {
    json!({"spdxElementId": from, "relationshipType": kind, "relatedSpdxElement": to})
}

/// The document, its packages and its step relationships made while writing
/// ([`super::stream`]).
pub fn emit_lazy<'a>(inv: &'a Inventory, options: &'a SitOptions) -> Lazy<'a> {
    let mut arrays = Arrays::default();
    let ids: BTreeMap<&str, String> = inv
        .components
        .iter()
        .map(|c| (c.id.as_str(), spdx_id(c)))
        .collect();
    let packages = arrays.array(inv.components.len(), move |i| {
        package(inv, &inv.components[i], options)
    });

    let mut relationships = Vec::new();
    for p in &inv.primary {
        if let Some(pid) = ids.get(p.as_str()) {
            relationships.push(rel("SPDXRef-DOCUMENT", "DESCRIBES", pid));
        }
    }
    for c in inv.packages() {
        for p in &inv.primary {
            if let (Some(pid), Some(cid)) = (ids.get(p.as_str()), ids.get(c.id.as_str())) {
                relationships.push(rel(pid, "DEPENDS_ON", cid));
            }
        }
    }
    let mut lockfiles: Vec<&str> = inv
        .packages()
        .filter_map(|c| c.from_lockfile.as_deref())
        .collect();
    lockfiles.sort_unstable();
    lockfiles.dedup();
    for l in lockfiles {
        for p in &inv.primary {
            if let (Some(lid), Some(pid)) = (ids.get(l), ids.get(p.as_str())) {
                if lid != pid {
                    relationships.push(rel(lid, "DEPENDENCY_MANIFEST_OF", pid));
                }
            }
        }
    }
    // Product × material pairs (100,000 for a step that packs 100,000 files): made while
    // writing, from (product, material, step) triples.
    let mut pairs: Vec<(String, String, &str)> = Vec::new();
    for s in &inv.steps {
        if s.products.len().saturating_mul(s.materials.len()) > MAX_STEP_PAIRS {
            continue;
        }
        for p in &s.products {
            for m in &s.materials {
                if let (Some(pid), Some(mid)) = (ids.get(p.as_str()), ids.get(m.as_str())) {
                    if pid != mid {
                        pairs.push((pid.clone(), mid.clone(), s.name.as_str()));
                    }
                }
            }
        }
    }
    let fixed = relationships.len();
    let listed = relationships;
    let relationships = arrays.array(fixed + pairs.len(), move |i| match listed.get(i) {
        Some(r) => r.clone(),
        None => {
            let (pid, mid, step) = &pairs[i - fixed];
            let mut r = rel(pid, "GENERATED_FROM", mid);
            r["comment"] = json!(format!("in-toto step {step}"));
            r
        }
    });

    let mut creators = vec![format!(
        "Tool: {}-{}",
        options.tool_name, options.tool_version
    )];
    if let Some(s) = &inv.supplier {
        creators.push(party("Organization", s));
    }
    creators.extend(inv.authors.iter().map(|a| party("Person", a)));
    let uuid = derived_uuid(inv, "spdx-2.3");
    let doc_ref = format!("sbomit:document:sha256={}", inv.document_sha256.to_hex());
    let doc = json!({
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": format!("{}-sit", inv.name),
        "documentNamespace": format!("https://sbomit.dev/spdx/{}-{uuid}", sanitize(&inv.name, 64)),
        "comment": doc_ref,
        "creationInfo": {
            "created": timestamp(inv),
            "creators": creators,
            "comment": doc_ref,
        },
        "packages": packages,
        "relationships": relationships,
    });
    arrays.finish(doc)
}
