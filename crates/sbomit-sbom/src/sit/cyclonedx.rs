//! CycloneDX 1.5 / 1.6 / 1.7 JSON.
//!
//! Final product → `metadata.component` (more than one: the others are `application`
//! components); materials and products → `file` components; lockfile packages → `library`
//! components with purls; steps → `formulation` tasks with their inputs, outputs and
//! commands. `sbomit:*` evidence goes in component `properties`, each link also as an
//! `externalReferences` entry of type `attestation` carrying the link file's SHA-256.

use serde_json::{json, Map, Value};

use super::stream::{Arrays, Lazy};
use super::{
    derived_uuid, evidence_url, sbomit_properties, timestamp, Component, ComponentKind, HashAlg,
    Inventory, SitOptions,
};
use crate::document::Party;

fn alg(a: HashAlg) -> &'static str {
    match a {
        HashAlg::Sha256 => "SHA-256",
        HashAlg::Sha384 => "SHA-384",
        HashAlg::Sha512 => "SHA-512",
    }
}

fn contact(p: &Party) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), json!(p.name));
    if let Some(e) = &p.email {
        m.insert("email".into(), json!(e));
    }
    Value::Object(m)
}

fn supplier(p: &Party, contacts: &[Party]) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), json!(p.name));
    if let Some(u) = &p.url {
        m.insert("url".into(), json!([u]));
    }
    let c: Vec<Value> = contacts.iter().map(contact).collect();
    if !c.is_empty() {
        m.insert("contact".into(), Value::Array(c));
    }
    Value::Object(m)
}

fn component(inv: &Inventory, c: &Component, options: &SitOptions) -> Value {
    let mut m = Map::new();
    let kind = match c.kind {
        ComponentKind::Application => "application",
        ComponentKind::File => "file",
        ComponentKind::Library => "library",
    };
    m.insert("type".into(), json!(kind));
    m.insert("bom-ref".into(), json!(c.id));
    m.insert("name".into(), json!(c.name));
    if let Some(v) = &c.version {
        m.insert("version".into(), json!(v));
    }
    if c.kind == ComponentKind::Application {
        if let Some(s) = &inv.supplier {
            m.insert("supplier".into(), supplier(s, &inv.contacts));
        }
        if let Some(l) = &inv.license {
            m.insert("licenses".into(), json!([{"expression": l}]));
        }
    }
    if !c.hashes.is_empty() {
        m.insert(
            "hashes".into(),
            Value::Array(
                c.hashes
                    .iter()
                    .map(|h| json!({"alg": alg(h.alg), "content": h.hex}))
                    .collect(),
            ),
        );
    }
    if let Some(p) = &c.purl {
        m.insert("purl".into(), json!(p));
    }
    let props: Vec<Value> = sbomit_properties(inv, c, options)
        .into_iter()
        .map(|(n, v)| json!({"name": n, "value": v}))
        .collect();
    if !props.is_empty() {
        m.insert("properties".into(), Value::Array(props));
    }
    let refs: Vec<Value> = c
        .evidence
        .iter()
        .filter_map(|i| inv.attestations.get(*i))
        .map(|e| {
            json!({
                "type": "attestation",
                "url": evidence_url(inv, options, &e.name),
                "comment": format!("in-toto link metadata for step {}", e.step),
                "hashes": [{"alg": "SHA-256", "content": e.sha256.to_hex()}],
            })
        })
        .collect();
    if !refs.is_empty() {
        m.insert("externalReferences".into(), Value::Array(refs));
    }
    Value::Object(m)
}

fn formulation<'a>(inv: &'a Inventory, arrays: &mut Arrays<'a>) -> Value {
    let tasks: Vec<Value> = inv
        .steps
        .iter()
        .map(|s| {
            let mut t = Map::new();
            t.insert("bom-ref".into(), json!(format!("task:{}", s.name)));
            t.insert("uid".into(), json!(s.name));
            t.insert("name".into(), json!(s.name));
            t.insert("taskTypes".into(), json!(["build"]));
            if !s.command.is_empty() {
                t.insert(
                    "steps".into(),
                    json!([{"name": s.name, "commands": [{"executed": s.command.join(" ")}]}]),
                );
            }
            // A build step of 100,000 files has 100,000 inputs: made while writing.
            let mut resources = |ids: &'a [String]| {
                arrays.array(ids.len(), move |i| json!({"resource": {"ref": ids[i]}}))
            };
            if !s.materials.is_empty() {
                t.insert("inputs".into(), resources(&s.materials));
            }
            if !s.products.is_empty() {
                t.insert("outputs".into(), resources(&s.products));
            }
            let names: Vec<&str> = s
                .links
                .iter()
                .filter_map(|i| inv.attestations.get(*i))
                .map(|e| e.name.as_str())
                .collect();
            if !names.is_empty() {
                t.insert(
                    "properties".into(),
                    json!([{"name": "sbomit:attestation:names", "value": names.join(",")}]),
                );
            }
            Value::Object(t)
        })
        .collect();
    let mut workflow = Map::new();
    workflow.insert("bom-ref".into(), json!("workflow:in-toto"));
    workflow.insert(
        "uid".into(),
        json!(format!("sha256:{}", inv.layout.sha256.to_hex())),
    );
    workflow.insert("name".into(), json!("in-toto supply chain"));
    workflow.insert("taskTypes".into(), json!(["build"]));
    if !tasks.is_empty() {
        workflow.insert("tasks".into(), Value::Array(tasks));
    }
    json!([{"bom-ref": "formula:in-toto", "workflows": [Value::Object(workflow)]}])
}

/// The SBOM for `spec_version` (`1.5`, `1.6`, `1.7`), its components and formulation
/// resources made while writing ([`super::stream`]).
pub fn emit_lazy<'a>(inv: &'a Inventory, spec_version: &str, options: &'a SitOptions) -> Lazy<'a> {
    let mut arrays = Arrays::default();
    let mut metadata = Map::new();
    metadata.insert("timestamp".into(), json!(timestamp(inv)));
    metadata.insert(
        "tools".into(),
        json!({"components": [{"type": "application", "name": options.tool_name,
                               "version": options.tool_version}]}),
    );
    // The first component is the metadata component when it is the final product.
    let first_is_primary = inv
        .components
        .first()
        .is_some_and(|c| c.kind == ComponentKind::Application);
    if first_is_primary {
        if let Some(c) = inv.components.first() {
            metadata.insert("component".into(), component(inv, c, options));
        }
    }
    let rest = &inv.components[usize::from(first_is_primary)..];
    let components = arrays.array(rest.len(), move |i| component(inv, &rest[i], options));
    if let Some(s) = &inv.supplier {
        metadata.insert("supplier".into(), supplier(s, &inv.contacts));
    }
    if !inv.authors.is_empty() {
        metadata.insert(
            "authors".into(),
            Value::Array(inv.authors.iter().map(contact).collect()),
        );
    }
    metadata.insert(
        "properties".into(),
        json!([{"name": "sbomit:document:sha256", "value": inv.document_sha256.to_hex()}]),
    );

    // Relationships: each final product depends on every attested package; each lockfile
    // lists the packages read from it.
    let packages: Vec<&Component> = inv.packages().collect();
    let mut dependencies = Vec::new();
    let all_pkgs: Vec<&str> = packages.iter().map(|c| c.id.as_str()).collect();
    for p in &inv.primary {
        dependencies.push(json!({"ref": p, "dependsOn": all_pkgs}));
    }
    let mut by_lockfile: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
    for c in &packages {
        if let Some(l) = &c.from_lockfile {
            by_lockfile.entry(l.as_str()).or_default().push(&c.id);
        }
    }
    for (l, pkgs) in by_lockfile {
        if !inv.primary.iter().any(|p| p == l) {
            dependencies.push(json!({"ref": l, "dependsOn": pkgs}));
        }
    }
    for c in &packages {
        dependencies.push(json!({"ref": c.id}));
    }

    let mut bom = Map::new();
    bom.insert(
        "$schema".into(),
        json!(format!(
            "http://cyclonedx.org/schema/bom-{spec_version}.schema.json"
        )),
    );
    bom.insert("bomFormat".into(), json!("CycloneDX"));
    bom.insert("specVersion".into(), json!(spec_version));
    bom.insert(
        "serialNumber".into(),
        json!(format!(
            "urn:uuid:{}",
            derived_uuid(inv, &format!("cyclonedx-{spec_version}"))
        )),
    );
    bom.insert("version".into(), json!(1));
    bom.insert("metadata".into(), Value::Object(metadata));
    bom.insert("components".into(), components);
    bom.insert("dependencies".into(), Value::Array(dependencies));
    bom.insert("formulation".into(), formulation(inv, &mut arrays));
    arrays.finish(Value::Object(bom))
}
