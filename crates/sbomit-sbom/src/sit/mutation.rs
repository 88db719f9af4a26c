//! Which mutation operations change in-toto-derived content.
//!
//! The in-toto-derived facts of a SIT are extracted per element (keyed by its bom-ref or
//! SPDX id): name, version, purl, hashes, `sbomit:*` evidence, relationships, build steps and
//! the document reference. Supplier, license, description and other supplemental fields are
//! not facts, so mutations may add or change them freely.
//!
//! Operations are applied one at a time; an operation is reported when a fact present in
//! the generated SIT changes or disappears across it, or when it introduces a hash no link
//! or lockfile attested. Comparing facts by element id (not by JSON pointer) means inserting
//! into an array, which shifts indices, is not mistaken for a change.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};

use super::Format;
use crate::jsonpatch::{Operation, Patch, Pointer, TouchKind};

/// A mutation operation that overrides in-toto-derived content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MutationWarning {
    /// The operation's index in the patch.
    pub index: usize,
    pub op: &'static str,
    pub path: String,
    /// The element whose in-toto-derived content changed (bom-ref, SPDX id, ...).
    pub element: String,
    pub change: Change,
}

/// What an operation did to in-toto-derived content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// The element (or relationship set) is gone.
    Removed,
    /// Its derived fields (hashes, name, version, purl, evidence) differ.
    Changed,
    /// A hash that no link or lockfile attests was introduced.
    UnattestedHash { alg: String, value: String },
}

impl std::fmt::Display for MutationWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "mutation operation {} ({} {}) ",
            self.index, self.op, self.path
        )?;
        match &self.change {
            Change::Removed => write!(f, "removes in-toto-derived {}", self.element),
            Change::Changed => write!(f, "changes in-toto-derived content of {}", self.element),
            Change::UnattestedHash { alg, value } => write!(
                f,
                "adds the unattested {alg} hash {value} to {}",
                self.element
            ),
        }
    }
}

/// The SIT locations whose changes can matter; operations touching nothing under (or
/// above) them are skipped without re-extracting facts.
fn protected_roots(format: Format) -> Vec<Pointer> {
    let roots: &[&[&str]] = match format {
        Format::CycloneDx12
        | Format::CycloneDx13
        | Format::CycloneDx14
        | Format::CycloneDx15
        | Format::CycloneDx16
        | Format::CycloneDx17 => &[
            &["metadata", "component"],
            &["metadata", "properties"],
            // CycloneDX 1.2's document reference.
            &["externalReferences"],
            &["components"],
            &["dependencies"],
            &["formulation"],
        ],
        Format::Spdx23 => &[
            &["packages"],
            &["files"],
            &["relationships"],
            &["comment"],
            &["creationInfo", "comment"],
        ],
        Format::Spdx301 => &[&["@graph"]],
    };
    roots
        .iter()
        .map(|r| Pointer::from_tokens(r.iter().copied()))
        .collect()
}

fn may_matter(op: &Operation, roots: &[Pointer]) -> bool {
    op.touches().iter().any(|t| {
        t.kind != TouchKind::Read
            && roots
                .iter()
                .any(|r| r.is_prefix_of(&t.pointer) || t.pointer.is_prefix_of(r))
    })
}

type Facts = BTreeMap<String, Value>;

fn sorted(mut v: Vec<Value>) -> Value {
    v.sort_by_key(|x| x.to_string());
    Value::Array(v)
}

fn arr(v: Option<&Value>) -> &[Value] {
    v.and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

fn s(v: &Value, k: &str) -> Value {
    v.get(k).cloned().unwrap_or(Value::Null)
}

fn is_sbomit(text: Option<&str>) -> bool {
    text.is_some_and(|t| t.starts_with("sbomit:"))
}

fn cdx_component(c: &Value, facts: &mut Facts, hashes: &mut BTreeSet<(String, String)>) {
    let Some(id) = c.get("bom-ref").and_then(Value::as_str) else {
        return;
    };
    for h in arr(c.get("hashes")) {
        hashes.insert((
            s(h, "alg").as_str().unwrap_or("").to_owned(),
            s(h, "content").as_str().unwrap_or("").to_ascii_lowercase(),
        ));
    }
    let props: Vec<Value> = arr(c.get("properties"))
        .iter()
        .filter(|p| is_sbomit(p.get("name").and_then(Value::as_str)))
        .cloned()
        .collect();
    // Links are `attestation` references from CycloneDX 1.5 on, `other` references saying
    // so before; CycloneDX 1.2 carries the `sbomit:*` pairs as references too.
    let refs: Vec<Value> = arr(c.get("externalReferences"))
        .iter()
        .filter(|r| {
            let comment = r.get("comment").and_then(Value::as_str);
            r.get("type").and_then(Value::as_str) == Some("attestation")
                || is_sbomit(comment)
                || comment.is_some_and(|t| t.starts_with("in-toto link metadata"))
        })
        .cloned()
        .collect();
    facts.insert(
        format!("component {id}"),
        json!({"type": s(c, "type"), "name": s(c, "name"), "version": s(c, "version"),
               "purl": s(c, "purl"), "hashes": sorted(arr(c.get("hashes")).to_vec()),
               "properties": sorted(props), "attestations": sorted(refs)}),
    );
    for inner in arr(c.get("components")) {
        cdx_component(inner, facts, hashes);
    }
}

fn spdx2_facts(sbom: &Value, facts: &mut Facts, hashes: &mut BTreeSet<(String, String)>) {
    for p in arr(sbom.get("packages"))
        .iter()
        .chain(arr(sbom.get("files")))
    {
        let Some(id) = p.get("SPDXID").and_then(Value::as_str) else {
            continue;
        };
        for h in arr(p.get("checksums")) {
            hashes.insert((
                s(h, "algorithm").as_str().unwrap_or("").to_owned(),
                s(h, "checksumValue")
                    .as_str()
                    .unwrap_or("")
                    .to_ascii_lowercase(),
            ));
        }
        let notes: Vec<Value> = arr(p.get("annotations"))
            .iter()
            .filter(|a| is_sbomit(a.get("comment").and_then(Value::as_str)))
            .map(|a| s(a, "comment"))
            .collect();
        let purls: Vec<Value> = arr(p.get("externalRefs"))
            .iter()
            .filter(|r| r.get("referenceType").and_then(Value::as_str) == Some("purl"))
            .map(|r| s(r, "referenceLocator"))
            .collect();
        let name = if p.get("fileName").is_some() {
            s(p, "fileName")
        } else {
            s(p, "name")
        };
        facts.insert(
            format!("element {id}"),
            json!({"name": name, "version": s(p, "versionInfo"),
                   "checksums": sorted(arr(p.get("checksums")).to_vec()),
                   "purls": sorted(purls), "annotations": sorted(notes)}),
        );
    }
    let mut rels: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for r in arr(sbom.get("relationships")) {
        let from = r
            .get("spdxElementId")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        rels.entry(from).or_default().push(json!([
            s(r, "relationshipType"),
            s(r, "relatedSpdxElement")
        ]));
    }
    for (from, list) in rels {
        facts.insert(format!("relationships of {from}"), sorted(list));
    }
    facts.insert("document reference".into(), s(sbom, "comment"));
}

fn spdx3_facts(sbom: &Value, facts: &mut Facts, hashes: &mut BTreeSet<(String, String)>) {
    for e in arr(sbom.get("@graph")) {
        let Some(id) = e.get("spdxId").and_then(Value::as_str) else {
            continue;
        };
        let t = e.get("type").and_then(Value::as_str).unwrap_or("");
        for h in arr(e.get("verifiedUsing")) {
            hashes.insert((
                s(h, "algorithm").as_str().unwrap_or("").to_owned(),
                s(h, "hashValue")
                    .as_str()
                    .unwrap_or("")
                    .to_ascii_lowercase(),
            ));
        }
        let fact = match t {
            "software_Package" | "software_File" => json!({
                "type": t, "name": s(e, "name"), "version": s(e, "software_packageVersion"),
                "purl": s(e, "software_packageUrl"),
                "hashes": sorted(arr(e.get("verifiedUsing")).to_vec()),
            }),
            "Relationship" => json!({
                "from": s(e, "from"), "type": s(e, "relationshipType"),
                "to": sorted(arr(e.get("to")).to_vec()),
            }),
            "build_Build" => json!({"buildId": s(e, "build_buildId")}),
            "Annotation" if is_sbomit(e.get("statement").and_then(Value::as_str)) => json!({
                "subject": s(e, "subject"), "statement": s(e, "statement"),
            }),
            _ => continue,
        };
        facts.insert(format!("element {id}"), fact);
    }
}

/// The in-toto-derived facts of a SIT, and the set of (algorithm, hex) hashes it carries.
pub fn facts(format: Format, sbom: &Value) -> (Facts, BTreeSet<(String, String)>) {
    let mut facts = Facts::new();
    let mut hashes = BTreeSet::new();
    match format {
        Format::CycloneDx12
        | Format::CycloneDx13
        | Format::CycloneDx14
        | Format::CycloneDx15
        | Format::CycloneDx16
        | Format::CycloneDx17 => {
            if let Some(c) = sbom.pointer("/metadata/component") {
                cdx_component(c, &mut facts, &mut hashes);
            }
            for c in arr(sbom.get("components")) {
                cdx_component(c, &mut facts, &mut hashes);
            }
            for d in arr(sbom.get("dependencies")) {
                let r = d.get("ref").and_then(Value::as_str).unwrap_or("");
                facts.insert(
                    format!("dependencies of {r}"),
                    sorted(arr(d.get("dependsOn")).to_vec()),
                );
            }
            facts.insert("formulation".into(), s(sbom, "formulation"));
            let doc_ref: Vec<Value> = arr(sbom.pointer("/metadata/properties"))
                .iter()
                .filter(|p| is_sbomit(p.get("name").and_then(Value::as_str)))
                .chain(
                    arr(sbom.get("externalReferences"))
                        .iter()
                        .filter(|r| is_sbomit(r.get("comment").and_then(Value::as_str))),
                )
                .cloned()
                .collect();
            facts.insert("document reference".into(), sorted(doc_ref));
        }
        Format::Spdx23 => spdx2_facts(sbom, &mut facts, &mut hashes),
        Format::Spdx301 => spdx3_facts(sbom, &mut facts, &mut hashes),
    }
    (facts, hashes)
}

/// The operations of `patch` that override in-toto-derived content of `base` (the SIT as
/// generated). Operations after a failing one are not examined (the patch does not apply).
pub fn check(format: Format, base: &Value, patch: &Patch) -> Vec<MutationWarning> {
    let roots = protected_roots(format);
    let (base_facts, base_hashes) = facts(format, base);
    let mut doc = base.clone();
    let mut before = base_facts.clone();
    let mut seen_hashes = base_hashes.clone();
    let mut out = Vec::new();
    for (index, op) in patch.0.iter().enumerate() {
        let single = Patch(vec![op.clone()]);
        if single.apply_in_place(&mut doc).is_err() {
            break;
        }
        if !may_matter(op, &roots) {
            continue;
        }
        let (after, hashes) = facts(format, &doc);
        let warn = |element: &str, change: Change| MutationWarning {
            index,
            op: op.name(),
            path: op.path().to_string(),
            element: element.to_owned(),
            change,
        };
        for (key, base_value) in &base_facts {
            let prev = before.get(key);
            let now = after.get(key);
            if prev != now && prev == Some(base_value) {
                out.push(warn(
                    key,
                    if now.is_none() {
                        Change::Removed
                    } else {
                        Change::Changed
                    },
                ));
            }
        }
        for (alg, value) in hashes.difference(&seen_hashes) {
            if !base_hashes.contains(&(alg.clone(), value.clone())) {
                out.push(warn(
                    "a component",
                    Change::UnattestedHash {
                        alg: alg.clone(),
                        value: value.clone(),
                    },
                ));
            }
        }
        seen_hashes.extend(hashes);
        before = after;
    }
    out
}
