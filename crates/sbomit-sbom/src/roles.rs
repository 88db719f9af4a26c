//! SBOMit's roles in the layout: who signs the document's parts (the SIT *mutator*) and who
//! generates each SIT (the SIT *generator*), SBOMit §2.2 and §4.1.1.
//!
//! The layout names them with ordinary in-toto steps, so that standard verifiers
//! (in-toto-verify, `sbomit verify`) accept the layout with its links, and each role's
//! contribution is an ordinary link signed by a key the layout lists for that step:
//!
//! * **Mutator**: step `sbomit-mutate`, or `sbomit-mutate-<format>` / `sbomit-mutate-<family>`
//!   for the mutation of one SIT format. Its link records, as materials, the document's base
//!   parts the mutator saw (`sbomit/layout`, `sbomit/metadata/<name>` for every build link,
//!   `sbomit/attestations/<i>`, `sbomit/files/<path>`) and, as products, what it contributes (`sbomit/supplement`,
//!   `sbomit/mutations/<key>`), each with the sha256 of its bytes. An edit to any part of the
//!   base, a link swapped or added, breaks a recorded digest and names the part.
//! * **Generator**: step `sbomit-sit`, or `sbomit-sit-<format>` / `sbomit-sit-<family>`. Its
//!   link records, as material, the document version the SIT was generated from
//!   (`sbomit/document`, the document digest) and, as product, the SIT file
//!   (`sbomit/sit/<format>`, sha256 of its bytes); its `environment` holds the generation
//!   options, so that a verifier can regenerate the SIT and compare.
//!
//! The most specific step wins: the mutation keyed `cyclonedx` belongs to
//! `sbomit-mutate-cyclonedx` when the layout has it, else to `sbomit-mutate`; a CycloneDX 1.6
//! SIT to `sbomit-sit-cyclonedx-1.6`, else `sbomit-sit-cyclonedx`, else `sbomit-sit`.

// `RoleError` wraps `DocumentError` with its context; roles are checked once per run, so the
// size of the `Err` variant does not matter (as in `document`).
#![allow(clippy::result_large_err)]

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use crate::document::{Document, DocumentError, Supplement};
use crate::sit::{Format, SitOptions};
use crate::steps::is_role_entry;
pub use crate::steps::{
    all_role_steps, metadata_step, role_steps, step_for, Role, DOCUMENT_ARTIFACT, MUTATE_STEP,
    OPTIONS_KEY, SIT_STEP,
};
use sbomit_crypto::{KeyId, PrivateKey};
use sbomit_intoto::digest::{ArtifactPath, Artifacts, DigestSet, Sha256};
use sbomit_intoto::envelope::{Envelope, EnvelopeKind};
use sbomit_intoto::metadata::Metadata;
use sbomit_intoto::model::{Layout, Link, Step};

/// The JSON pointer (into the document) of a part named `sbomit/...`.
pub fn part_pointer(artifact: &str) -> String {
    format!("/{}", artifact.strip_prefix("sbomit/").unwrap_or(artifact))
}

/// Whether a part is something the mutator contributes (a product) rather than saw.
fn is_contribution(artifact: &str) -> bool {
    artifact == "sbomit/supplement" || artifact.starts_with("sbomit/mutations/")
}

/// The mutation key a part stands for (`cyclonedx` for `sbomit/mutations/cyclonedx`).
fn mutation_key(artifact: &str) -> Option<&str> {
    artifact.strip_prefix("sbomit/mutations/")
}

/// The base parts of `doc` (which must have no addenda): artifact name → sha256 of the part's
/// bytes (the layout and link files as in-toto writes them, the canonical JSON of the rest).
/// Role links are not parts: they sign the parts.
pub fn base_parts(doc: &Document) -> Result<BTreeMap<String, Sha256>, DocumentError> {
    use sbomit_intoto::canonical::encode;
    let mut parts = BTreeMap::new();
    parts.insert(
        "sbomit/layout".to_owned(),
        Sha256::digest(&doc.layout_file_bytes()?),
    );
    for name in doc.metadata().keys() {
        if is_role_entry(name) {
            continue;
        }
        if let Some(bytes) = doc.metadata_file_bytes(name) {
            parts.insert(format!("sbomit/metadata/{name}"), Sha256::digest(&bytes?));
        }
    }
    for (i, a) in doc.attestations().iter().enumerate() {
        parts.insert(
            format!("sbomit/attestations/{i}"),
            Sha256::digest(&encode(a)?),
        );
    }
    for (path, bytes) in doc.files() {
        parts.insert(format!("sbomit/files/{path}"), Sha256::digest(bytes));
    }
    let supplement = serde_json::to_value(doc.supplement()).unwrap_or(Value::Null);
    parts.insert(
        "sbomit/supplement".to_owned(),
        Sha256::digest(&encode(&supplement)?),
    );
    for (key, patch) in doc.mutations() {
        parts.insert(
            format!("sbomit/mutations/{key}"),
            Sha256::digest(&encode(&patch.to_value())?),
        );
    }
    Ok(parts)
}

/// Why a role's link could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RoleError {
    #[error(transparent)]
    Document(#[from] DocumentError),
    #[error("the document has addenda: the mutator signs the base document, before any addendum")]
    HasAddenda,
    #[error("the layout is not a layout")]
    NotALayout,
    #[error("the layout has no {step:?} step")]
    NoStep { step: String },
    #[error("key {keyid} is not a functionary of the layout's {step:?} step")]
    NotAFunctionary { keyid: KeyId, step: String },
    #[error("signing: {0}")]
    Sign(String),
}

fn artifacts(parts: impl IntoIterator<Item = (String, Sha256)>) -> Artifacts {
    parts
        .into_iter()
        .map(|(n, d)| (ArtifactPath::new(n), DigestSet::sha256(d)))
        .collect()
}

/// Signs `link` as a classic metablock with `key` (the form in-toto 3.x writes by default).
fn sign_link(link: Link, key: &PrivateKey) -> Result<Vec<u8>, RoleError> {
    let mut env = Envelope::from_value(EnvelopeKind::Classic, link.into_value())
        .map_err(|e| RoleError::Sign(e.to_string()))?;
    env.sign(key).map_err(|e| RoleError::Sign(e.to_string()))?;
    Ok(env.to_file_bytes())
}

/// The layout of a document (signatures are the verifier's business).
pub fn layout_of(doc: &Document) -> Result<Layout, RoleError> {
    match Metadata::from_payload(doc.layout_envelope()?.payload()) {
        Ok(Metadata::Layout(l)) => Ok(l),
        _ => Err(RoleError::NotALayout),
    }
}

/// Makes the mutator's link for `doc` (no addenda yet) as a functionary of `step` (a mutator
/// step of the layout) and adds it to the document. It records every base part, except the
/// mutations that belong to another mutator step. Returns the metadata name.
pub fn seal(doc: &mut Document, step: &str, key: &PrivateKey) -> Result<String, RoleError> {
    if !doc.addenda().is_empty() {
        return Err(RoleError::HasAddenda);
    }
    let layout = layout_of(doc)?;
    let s = layout.step(step).ok_or_else(|| RoleError::NoStep {
        step: step.to_owned(),
    })?;
    let keyid = key.public_key().keyid().clone();
    if !s.pubkeys.contains(&keyid) {
        return Err(RoleError::NotAFunctionary {
            keyid,
            step: step.to_owned(),
        });
    }
    let parts = base_parts(doc)?;
    let (mut materials, mut products) = (Vec::new(), Vec::new());
    for (name, d) in parts {
        let mine = match mutation_key(&name) {
            Some(k) => step_for(&layout, Role::Mutator, k).map(|s| s.name.as_str()) == Some(step),
            None => true,
        };
        match (mine, is_contribution(&name)) {
            (false, _) => {}
            (true, true) => products.push((name, d)),
            (true, false) => materials.push((name, d)),
        }
    }
    let link = Link {
        name: step.to_owned(),
        command: Vec::new(),
        materials: artifacts(materials),
        products: artifacts(products),
        byproducts: Map::new(),
        environment: Map::new(),
    };
    let name = format!("{step}.{}.link", keyid.short());
    let bytes = sign_link(link, key)?;
    doc.add_metadata(&name, &bytes)?;
    Ok(name)
}

/// How a part of the base document disagrees with what the mutator signed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BindingProblem {
    /// The part's bytes are not those the mutator signed.
    Changed { recorded: String, found: Sha256 },
    /// The mutator signed a part the document no longer has.
    Removed,
    /// No mutator link records the part (added afterwards, or signed by nobody).
    NotSigned,
    /// A mutation is signed, but not by the mutator step named for its format.
    WrongMutator { expected: String },
}

/// A base part that is not bound by the mutator's signature.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", describe(.part, .problem, .step.as_deref()))]
pub struct BindingFailure {
    /// The part, as a JSON pointer into the document (`/supplement`, `/metadata/NAME`).
    pub part: String,
    pub problem: BindingProblem,
    /// The mutator link that recorded it, when one did.
    pub step: Option<String>,
}

fn describe(part: &str, problem: &BindingProblem, step: Option<&str>) -> String {
    let by = step.map_or(String::new(), |s| format!(" ({s} link)"));
    match problem {
        BindingProblem::Changed { recorded, found } => format!(
            "document part {part} was changed after the mutator signed it{by}: sha256 {recorded} signed, {found} found"
        ),
        BindingProblem::Removed => {
            format!("document part {part} was signed by the mutator{by} but is missing")
        }
        BindingProblem::NotSigned => format!(
            "document part {part} is not signed by any mutator of the layout (added or changed afterwards)"
        ),
        BindingProblem::WrongMutator { expected } => format!(
            "document part {part} is not signed by its mutator step {expected:?}{by}"
        ),
    }
}

/// How the base document is bound.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Binding {
    /// Every part is recorded, unchanged, by the mutator links (their names).
    Signed { links: Vec<String> },
    /// The layout names no mutator, and the document carries no supplement or mutation: only
    /// the in-toto chain binds its metadata (a plain in-toto layout).
    NoMutator,
}

/// Checks that the mutator links of `base` (the document without addenda) record every base
/// part unchanged. The links are those of the layout's mutator steps by their functionaries
/// whose signature verifies (in-toto verification checks their threshold).
pub fn check_binding(base: &Document, layout: &Layout) -> Result<Binding, BindingFailure> {
    let fail = |part: &str, problem, step: Option<&str>| BindingFailure {
        part: part_pointer(part),
        problem,
        step: step.map(str::to_owned),
    };
    let steps: Vec<&Step> = role_steps(layout, Role::Mutator).collect();
    if steps.is_empty() {
        let unsigned = if *base.supplement() != Supplement::default() {
            Some("sbomit/supplement".to_owned())
        } else {
            base.mutations()
                .keys()
                .next()
                .map(|k| format!("sbomit/mutations/{k}"))
        };
        return match unsigned {
            Some(p) => Err(fail(&p, BindingProblem::NotSigned, None)),
            None => Ok(Binding::NoMutator),
        };
    }
    let parts =
        base_parts(base).map_err(|_| fail("sbomit/layout", BindingProblem::NotSigned, None))?;
    // part → the mutator steps that recorded it
    let mut recorded_by: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut names = Vec::new();
    for step in &steps {
        for keyid in &step.pubkeys {
            let name = format!("{}.{}.link", step.name, keyid.short());
            let Some(Ok(env)) = base.metadata_envelope(&name) else {
                continue;
            };
            let Some(Ok(key)) = layout.public_key(keyid) else {
                continue;
            };
            if env.verify(&key).is_err() {
                continue;
            }
            let Ok(Metadata::Link(link)) = Metadata::from_payload(env.payload()) else {
                continue;
            };
            for (path, digests) in link.materials.iter().chain(&link.products) {
                let recorded = digests.get("sha256").unwrap_or("").to_ascii_lowercase();
                match parts.get(path.as_str()) {
                    None => return Err(fail(path.as_str(), BindingProblem::Removed, Some(&name))),
                    Some(d) if d.to_hex() != recorded => {
                        return Err(fail(
                            path.as_str(),
                            BindingProblem::Changed {
                                recorded,
                                found: *d,
                            },
                            Some(&name),
                        ))
                    }
                    Some(_) => {}
                }
                recorded_by
                    .entry(path.as_str().to_owned())
                    .or_default()
                    .insert(step.name.clone());
            }
            names.push(name);
        }
    }
    for part in parts.keys() {
        let Some(by) = recorded_by.get(part) else {
            return Err(fail(part, BindingProblem::NotSigned, None));
        };
        if let Some(key) = mutation_key(part) {
            let expected = step_for(layout, Role::Mutator, key)
                .map(|s| s.name.clone())
                .unwrap_or_default();
            if !by.contains(&expected) {
                return Err(fail(
                    part,
                    BindingProblem::WrongMutator { expected },
                    by.iter().next().map(String::as_str),
                ));
            }
        }
    }
    Ok(Binding::Signed { links: names })
}

// ---- generators

/// What a generator link says about the SIT it made.
#[derive(Clone, Debug)]
pub struct GeneratedSit {
    /// The link's metadata name and the generator's key.
    pub name: String,
    pub keyid: KeyId,
    pub step: String,
    pub format: Format,
    /// The digest of the document version the SIT was generated from.
    pub document: Sha256,
    /// The sha256 of the SIT file.
    pub sit: Sha256,
    pub options: SitOptions,
}

/// Why a generator link does not describe a SIT.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GeneratorLinkError {
    #[error("{name}: {reason}")]
    Malformed { name: String, reason: String },
}

/// The generator's link for a SIT of `format` whose file has sha256 `sit`, generated from the
/// document version with digest `document` with `options`, signed by `key` as a functionary
/// of `step`. Returns the metadata name and the link file bytes.
pub fn generator_link(
    step: &str,
    format: Format,
    document: Sha256,
    sit: Sha256,
    options: &SitOptions,
    key: &PrivateKey,
) -> Result<(String, Vec<u8>), RoleError> {
    let mut environment = Map::new();
    environment.insert(
        OPTIONS_KEY.to_owned(),
        json!({
            "format": format.name(),
            "timestamp": options.timestamp.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "attestation-url-base": options.attestation_url_base,
            "tool-name": options.tool_name,
            "tool-version": options.tool_version,
            "allow-unhashed": options.allow_unhashed,
        }),
    );
    let link = Link {
        name: step.to_owned(),
        command: Vec::new(),
        materials: artifacts([(DOCUMENT_ARTIFACT.to_owned(), document)]),
        products: artifacts([(format!("sbomit/sit/{}", format.name()), sit)]),
        byproducts: Map::new(),
        environment,
    };
    let name = format!("{step}.{}.link", key.public_key().keyid().short());
    Ok((name, sign_link(link, key)?))
}

/// Reads a generator link (already verified as a functionary's link of `step`).
pub fn read_generator_link(
    name: &str,
    step: &str,
    keyid: &KeyId,
    link: &Link,
) -> Result<GeneratedSit, GeneratorLinkError> {
    let bad = |reason: &str| GeneratorLinkError::Malformed {
        name: name.to_owned(),
        reason: reason.to_owned(),
    };
    let sha = |a: &Artifacts, path: &str| {
        a.get(&ArtifactPath::new(path))
            .and_then(|d| d.get("sha256"))
            .and_then(Sha256::from_hex)
    };
    let document = sha(&link.materials, DOCUMENT_ARTIFACT)
        .ok_or_else(|| bad("no sha256 of sbomit/document among its materials"))?;
    let opts = link
        .environment
        .get(OPTIONS_KEY)
        .ok_or_else(|| bad("no generation options in its environment"))?;
    let s = |k: &str| opts.get(k).and_then(Value::as_str);
    let format = s("format")
        .and_then(Format::parse)
        .filter(|f| s("format") == Some(f.name()))
        .ok_or_else(|| bad("no known SIT format in its options"))?;
    let sit = sha(&link.products, &format!("sbomit/sit/{}", format.name()))
        .ok_or_else(|| bad("no sha256 of the SIT among its products"))?;
    let timestamp = s("timestamp")
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| bad("no RFC 3339 timestamp in its options"))?;
    let mut options = SitOptions::at(timestamp);
    options.attestation_url_base = s("attestation-url-base").map(str::to_owned);
    options.allow_unhashed = opts
        .get("allow-unhashed")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if let (Some(n), Some(v)) = (s("tool-name"), s("tool-version")) {
        options.tool_name = n.to_owned();
        options.tool_version = v.to_owned();
    }
    Ok(GeneratedSit {
        name: name.to_owned(),
        keyid: keyid.clone(),
        step: step.to_owned(),
        format,
        document,
        sit,
        options,
    })
}

/// The generator links in `doc`'s (current) metadata for the layout's generator steps, by
/// functionaries whose signature verifies.
pub fn generator_links(
    doc: &Document,
    layout: &Layout,
) -> Vec<Result<GeneratedSit, GeneratorLinkError>> {
    let mut out = Vec::new();
    for step in role_steps(layout, Role::Generator) {
        for keyid in &step.pubkeys {
            let name = format!("{}.{}.link", step.name, keyid.short());
            let Some(Ok(env)) = doc.metadata_envelope(&name) else {
                continue;
            };
            let Some(Ok(key)) = layout.public_key(keyid) else {
                continue;
            };
            if env.verify(&key).is_err() {
                continue;
            }
            out.push(match Metadata::from_payload(env.payload()) {
                Ok(Metadata::Link(link)) => read_generator_link(&name, &step.name, keyid, &link),
                _ => Err(GeneratorLinkError::Malformed {
                    name: name.clone(),
                    reason: "not a link".into(),
                }),
            });
        }
    }
    out
}

/// The generator steps without any link in `doc`: verification leaves them out until a SIT
/// of theirs is generated (in-toto verifiers need the links, so they see them afterwards).
pub fn generator_steps_without_links(doc: &Document, layout: &Layout) -> BTreeSet<String> {
    crate::steps::generator_steps_without_links(doc.metadata(), layout)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn role_of_step_names() {
        assert_eq!(Role::of_step("sbomit-sit"), Some(Role::Generator));
        assert_eq!(Role::of_step("sbomit-sit-spdx-2.3"), Some(Role::Generator));
        assert_eq!(Role::of_step("sbomit-mutate"), Some(Role::Mutator));
        assert_eq!(
            Role::of_step("sbomit-mutate-cyclonedx"),
            Some(Role::Mutator)
        );
        assert_eq!(Role::of_step("sbomit-situation"), None);
        assert_eq!(Role::of_step("build"), None);
    }

    #[test]
    fn metadata_entries_belong_to_their_root_step() {
        assert_eq!(metadata_step("build.1a2b3c4d.link"), Some("build"));
        assert_eq!(
            metadata_step("sbomit-sit-spdx-2.3.1a2b3c4d.link"),
            Some("sbomit-sit-spdx-2.3")
        );
        assert_eq!(
            metadata_step("pkg.1a2b3c4d/compile.5e6f7a8b.link"),
            Some("pkg")
        );
        assert!(is_role_entry("sbomit-mutate.1a2b3c4d.link"));
        assert!(!is_role_entry("pkg.1a2b3c4d/sbomit-mutate.5e6f7a8b.link"));
    }
}
