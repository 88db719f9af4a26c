//! SITs: SBOMs derived from a verified SBOMit document, in CycloneDX 1.2 to 1.7, SPDX 2.3
//! JSON and SPDX 3.0.1 JSON-LD.
//!
//! [`derive`] turns a verified document into one [`Inventory`] (the NTIA minimum elements:
//! supplier, name, version, unique identifiers, relationships, author, timestamp); [`generate`]
//! emits it in a [`Format`], applies the document's mutation for that format and reports
//! every mutation operation that changes in-toto-derived content.
//!
//! Every hash in an inventory comes from a verified link (a material or product digest) or
//! from an attested lockfile whose bytes match the link's sha256. Output is deterministic: the
//! timestamp comes from the caller, ordering is stable, and serial numbers and namespaces are
//! derived from the document digest.

// `SitError` wraps `DocumentError` with its context; a SIT is generated once per run, so the
// size of the `Err` variant does not matter.
#![allow(clippy::result_large_err)]

pub mod compare;
pub mod cyclonedx;
pub mod jsf;
pub mod lockfile;
pub mod mutation;
pub mod received;
pub mod sign;
pub mod spdx2;
pub mod spdx3;
pub mod stream;

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine as _;
use chrono::{DateTime, Utc};

use crate::document::{Document, DocumentError, Party};
use crate::jsonpatch::PatchError;
use sbomit_crypto::KeyId;
use sbomit_intoto::digest::{CompactDigest, Sha256};
use sbomit_intoto::envelope::Envelope;
use sbomit_intoto::metadata::{Metadata, MetadataError};
use sbomit_intoto::model::{CompactLink, Layout};
use sbomit_intoto::verify::{LinkSource, SourceError, VerificationReport};

pub use lockfile::{Hash, HashAlg, LockfileKind, Package};
pub use mutation::MutationWarning;
pub use stream::Lazy;

pub use crate::format::Format;

/// Why a SIT could not be derived or generated.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SitError {
    #[error(
        "the document did not pass verification: SITs are derived from verified metadata only"
    )]
    NotVerified,
    #[error("verification produced no final products: nothing to describe")]
    NoFinalProduct,
    #[error(transparent)]
    Document(#[from] DocumentError),
    /// A link or sublayout the document names could not be read from it.
    #[error("metadata {name:?}: {source}")]
    Source {
        name: String,
        #[source]
        source: SourceError,
    },
    /// The document's layout envelope carries something else.
    #[error("metadata {name:?}: not a layout")]
    NotLayout { name: String },
    /// A link's payload is neither a link, a layout nor a Statement.
    #[error("metadata {name:?}: {source}")]
    Metadata {
        name: String,
        #[source]
        source: MetadataError,
    },
    #[error("lockfile {path:?}: {source}")]
    Lockfile {
        path: String,
        #[source]
        source: lockfile::LockfileError,
    },
    #[error("lockfile {path:?} has sha256 {found}, but the link records {expected}")]
    LockfileMismatch {
        path: String,
        expected: String,
        found: Sha256,
    },
    #[error("lockfile {path:?} is not an attested material with a sha256 in any link")]
    LockfileNotAttested { path: String },
    /// §4.2.2.1: every component must have a sha256 matching an attested artifact.
    #[error("{} package(s) have no sha256 matching an attested artifact (record their archives in a step, or pass --allow-unhashed): {}", .packages.len(), .packages.join(", "))]
    Unhashed { packages: Vec<String> },
    #[error("the {format} mutation does not apply: {source}")]
    Mutation {
        format: &'static str,
        #[source]
        source: PatchError,
    },
    /// Writing the SIT's bytes failed (only a writer that fails: files, pipes).
    #[error("writing the SIT: {0}")]
    Write(#[source] std::io::Error),
}

/// What kind of thing a component is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ComponentKind {
    /// A final product (the primary component).
    Application,
    /// A material or product file recorded by a link.
    File,
    /// A package an attested lockfile pins.
    Library,
}

/// A piece of in-toto metadata a SIT points to as evidence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Evidence {
    /// The metadata name in the document (`<step>.<keyid8>.link`, `root.layout`).
    pub name: String,
    /// The step the link records (empty for layouts).
    pub step: String,
    /// The envelope file bytes (as the reference writes them).
    pub bytes: Vec<u8>,
    pub sha256: Sha256,
}

/// One component of the inventory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Component {
    /// Unique within the inventory: `file:<path>@sha256:<hex>` or the purl.
    pub id: String,
    pub kind: ComponentKind,
    pub name: String,
    pub version: Option<String>,
    pub purl: Option<String>,
    /// Only digests from a verified link or an attested lockfile, under their own algorithm.
    pub hashes: Vec<Hash>,
    /// Indices into [`Inventory::attestations`] of the metadata recording this component.
    pub evidence: Vec<usize>,
    /// For a package: the id of the lockfile component it was read from.
    pub from_lockfile: Option<String>,
    /// Why the component has no sha256 matching an attested artifact (only with
    /// [`SitOptions::allow_unhashed`]; otherwise [`derive`] refuses such a package).
    pub unhashed: Option<String>,
}

/// One in-toto step as performed (from its verified link).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuildStep {
    /// The step name (`outer/inner` for sublayout steps).
    pub name: String,
    pub command: Vec<String>,
    /// Indices into [`Inventory::attestations`].
    pub links: Vec<usize>,
    /// Component ids.
    pub materials: Vec<String>,
    pub products: Vec<String>,
}

/// Everything a SIT says, format-independent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inventory {
    /// sha256 of the canonical JSON of the originating document (with its addenda).
    pub document_sha256: Sha256,
    pub name: String,
    pub version: Option<String>,
    pub supplier: Option<Party>,
    pub authors: Vec<Party>,
    pub contacts: Vec<Party>,
    pub license: Option<String>,
    pub timestamp: DateTime<Utc>,
    /// The signed layout file.
    pub layout: Evidence,
    /// Links (and sublayouts) in step order.
    pub attestations: Vec<Evidence>,
    /// Ids of the primary components (the final products), sorted.
    pub primary: Vec<String>,
    /// All components, primary ones first, then by id.
    pub components: Vec<Component>,
    pub steps: Vec<BuildStep>,
}

impl Inventory {
    pub fn component(&self, id: &str) -> Option<&Component> {
        self.components.iter().find(|c| c.id == id)
    }

    /// The packages (library components).
    pub fn packages(&self) -> impl Iterator<Item = &Component> {
        self.components
            .iter()
            .filter(|c| c.kind == ComponentKind::Library)
    }
}

/// Options for emitting a SIT.
#[derive(Clone, Debug)]
pub struct SitOptions {
    /// The SIT's creation time (from `SOURCE_DATE_EPOCH` when set; the core has no clock).
    pub timestamp: DateTime<Utc>,
    /// With a base, components carry `sbomit:*:urls` (`<base>/<metadata name>`) instead of
    /// base64 contents.
    pub attestation_url_base: Option<String>,
    pub tool_name: String,
    pub tool_version: String,
    /// Keep packages without an attested sha256 (each then carries `sbomit:unhashed` saying
    /// why) instead of refusing to derive the inventory.
    pub allow_unhashed: bool,
}

impl SitOptions {
    pub fn at(timestamp: DateTime<Utc>) -> Self {
        SitOptions {
            timestamp,
            attestation_url_base: None,
            tool_name: "sbomit".into(),
            tool_version: env!("CARGO_PKG_VERSION").into(),
            allow_unhashed: false,
        }
    }
}

/// The file name under which the layout is published next to the links with `--attestation-url-base`.
pub const LAYOUT_FILE_NAME: &str = "root.layout";

/// The digests of an artifact under their own algorithms; `sha256` is [`sha256_hex`] of it,
/// made once by the caller.
fn hashes_of(d: &CompactDigest, sha256: Option<&str>) -> Vec<Hash> {
    match d {
        CompactDigest::Sha256(h) => vec![Hash {
            alg: HashAlg::Sha256,
            hex: sha256.map_or_else(|| h.to_hex(), str::to_owned),
        }],
        CompactDigest::Other(pairs) => {
            let mut out: Vec<Hash> = pairs
                .iter()
                .filter_map(|(alg, hex)| Hash::new(HashAlg::from_intoto_name(alg)?, hex))
                .collect();
            out.sort();
            out
        }
    }
}

/// The link's sha256 of an artifact, lowercase.
fn sha256_hex(d: &CompactDigest) -> Option<String> {
    match d {
        CompactDigest::Sha256(h) => Some(h.to_hex()),
        CompactDigest::Other(pairs) => pairs
            .iter()
            .find(|(alg, _)| &**alg == "sha256")
            .map(|(_, hex)| hex.to_ascii_lowercase()),
    }
}

fn file_id(path: &str, sha256: Option<&str>) -> String {
    match sha256 {
        Some(h) => format!("file:{path}@sha256:{h}"),
        None => format!("file:{path}"),
    }
}

struct Builder {
    attestations: Vec<Evidence>,
    components: BTreeMap<String, Component>,
    steps: Vec<BuildStep>,
    /// material path → (sha256 hex, component id, link evidence indices).
    lockfile_materials: BTreeMap<String, (String, String, Vec<usize>)>,
}

impl Builder {
    fn artifact(&mut self, path: &str, d: &CompactDigest, evidence: &[usize]) -> Option<String> {
        let sha256 = sha256_hex(d);
        let hashes = hashes_of(d, sha256.as_deref());
        // Artifacts recorded with no digest we can name are left out: every component's
        // hash must come from a link, and a component without one would prove nothing.
        if hashes.is_empty() {
            return None;
        }
        let id = file_id(path, sha256.as_deref());
        let c = self
            .components
            .entry(id.clone())
            .or_insert_with(|| Component {
                id: id.clone(),
                kind: ComponentKind::File,
                name: path.to_owned(),
                version: None,
                purl: None,
                hashes,
                evidence: Vec::new(),
                from_lockfile: None,
                unhashed: None,
            });
        for e in evidence {
            if !c.evidence.contains(e) {
                c.evidence.push(*e);
            }
        }
        if LockfileKind::from_path(path).is_some() {
            if let Some(sha) = sha256 {
                let entry = self
                    .lockfile_materials
                    .entry(path.to_owned())
                    .or_insert_with(|| (sha, id.clone(), Vec::new()));
                entry.2.extend_from_slice(evidence);
            }
        }
        Some(id)
    }

    /// Collects the verified links of `layout`'s steps from `source` (recursing into
    /// sublayouts), named with `prefix`.
    fn collect(
        &mut self,
        layout: &Layout,
        source: &dyn LinkSource,
        name_prefix: &str,
        step_prefix: &str,
        depth: usize,
    ) -> Result<(), SitError> {
        for step in &layout.steps {
            // SBOMit's role steps (mutator, generators) build nothing: their artifacts are the
            // document's parts and the SITs, not components.
            if depth == 0 && crate::steps::Role::of_step(&step.name).is_some() {
                continue;
            }
            let mut links = Vec::new();
            let mut first: Option<CompactLink> = None;
            for keyid in &step.pubkeys {
                let name = format!("{name_prefix}{}.{}.link", step.name, keyid.short());
                let source_err = |source: SourceError| SitError::Source {
                    name: name.clone(),
                    source,
                };
                let Some(signed) = source.load(&step.name, keyid).map_err(source_err)? else {
                    continue;
                };
                let env = signed.envelope();
                if !signed_by_layout_key(layout, keyid, env) {
                    continue;
                }
                let index = self.attestations.len();
                let bytes = env.to_file_bytes();
                self.attestations.push(Evidence {
                    name: name.clone(),
                    step: format!("{step_prefix}{}", step.name),
                    sha256: Sha256::digest(&bytes),
                    bytes,
                });
                links.push(index);
                // Plain links are read straight into tables (no JSON tree, no string maps);
                // anything else (sublayouts, Statements) through the general model.
                if let Some(l) = signed.compact_link() {
                    if first.is_none() {
                        first = Some(l.clone());
                    }
                    continue;
                }
                match Metadata::from_payload(env.payload()) {
                    Ok(Metadata::Link(l)) => {
                        first.get_or_insert_with(|| CompactLink::from_link(&l));
                    }
                    Ok(Metadata::Layout(sub))
                        if depth < sbomit_intoto::verify::DEFAULT_MAX_DEPTH =>
                    {
                        let inner = source
                            .sublayout_source(&step.name, keyid)
                            .map_err(source_err)?;
                        let sub_prefix = format!("{name_prefix}{}.{}/", step.name, keyid.short());
                        let sub_step = format!("{step_prefix}{}/", step.name);
                        self.collect(&sub, inner.as_ref(), &sub_prefix, &sub_step, depth + 1)?;
                    }
                    Ok(Metadata::Layout(_)) => {}
                    Err(source) => {
                        return Err(SitError::Metadata {
                            name: name.clone(),
                            source,
                        })
                    }
                }
            }
            if let Some(link) = first {
                let materials = link
                    .materials
                    .iter()
                    .filter_map(|(p, d)| self.artifact(p, d, &links))
                    .collect();
                let products = link
                    .products
                    .iter()
                    .filter_map(|(p, d)| self.artifact(p, d, &links))
                    .collect();
                self.steps.push(BuildStep {
                    name: format!("{step_prefix}{}", step.name),
                    command: link.command.clone(),
                    links,
                    materials,
                    products,
                });
            }
        }
        Ok(())
    }
}

/// The attested artifacts (every verified link's materials and products), to find a
/// package's archive among them.
struct AttestedArtifacts {
    by_sha256: BTreeSet<String>,
    /// file name → sha256 hex, for names that could be archives.
    by_file_name: BTreeMap<String, String>,
    /// path → sha256 hex of the Go module archives (`.../@v/VERSION.zip`).
    go_zips: BTreeMap<String, String>,
}

impl AttestedArtifacts {
    fn of(components: &BTreeMap<String, Component>) -> Self {
        let mut by_sha256 = BTreeSet::new();
        let mut by_file_name = BTreeMap::new();
        let mut go_zips = BTreeMap::new();
        for c in components
            .values()
            .filter(|c| c.kind != ComponentKind::Library)
        {
            let Some(h) = c.hashes.iter().find(|h| h.alg == HashAlg::Sha256) else {
                continue;
            };
            by_sha256.insert(h.hex.clone());
            let base = c.name.rsplit('/').next().unwrap_or(&c.name);
            if [".tgz", ".crate", ".whl", ".tar.gz", ".zip"]
                .iter()
                .any(|x| base.ends_with(x))
            {
                by_file_name.insert(base.to_owned(), h.hex.clone());
            }
            if c.name.contains("/@v/") && c.name.ends_with(".zip") {
                go_zips.insert(c.name.clone(), h.hex.clone());
            }
        }
        AttestedArtifacts {
            by_sha256,
            by_file_name,
            go_zips,
        }
    }

    /// The sha256 of the attested archive of a package, found by the file name its
    /// ecosystem gives it: npm `name-version.tgz` (`@scope/name` → `scope-name-version.tgz`),
    /// Cargo `name-version.crate`, Python `name-version.tar.gz` or a wheel
    /// `name-version-*.whl` (name normalised with `_`).
    fn archive_of(&self, kind: LockfileKind, name: &str, version: &str) -> Option<String> {
        let names: Vec<String> = match kind {
            LockfileKind::Npm => {
                let n = name.trim_start_matches('@').replace('/', "-");
                let short = name.rsplit('/').next().unwrap_or(name);
                vec![
                    format!("{n}-{version}.tgz"),
                    format!("{short}-{version}.tgz"),
                ]
            }
            LockfileKind::Cargo => vec![format!("{name}-{version}.crate")],
            LockfileKind::GoSum => {
                // The module cache's `<escaped module>/@v/<version>.zip`.
                let suffix = format!("{}/@v/{version}.zip", lockfile::go_escape(name));
                return self
                    .go_zips
                    .iter()
                    .find(|(p, _)| *p == &suffix || p.ends_with(&format!("/{suffix}")))
                    .map(|(_, h)| h.clone());
            }
            LockfileKind::Requirements | LockfileKind::Poetry | LockfileKind::Uv => {
                let n = name.to_ascii_lowercase().replace(['-', '.'], "_");
                let prefix = format!("{n}-{version}-");
                if let Some((_, h)) = self.by_file_name.iter().find(|(f, _)| {
                    f.to_ascii_lowercase().starts_with(&prefix) && f.ends_with(".whl")
                }) {
                    return Some(h.clone());
                }
                vec![
                    format!("{n}-{version}.tar.gz"),
                    format!("{name}-{version}.tar.gz"),
                ]
            }
        };
        names.iter().find_map(|f| self.by_file_name.get(f)).cloned()
    }
}

fn signed_by_layout_key(layout: &Layout, keyid: &KeyId, env: &Envelope) -> bool {
    match layout.public_key(keyid) {
        Some(Ok(k)) => env.verify(&k).is_ok(),
        _ => false,
    }
}

/// Derives the inventory of a document that passed verification (`report` is what
/// [`Document::verify`] returned for it). `lockfiles` maps attested material paths to the
/// lockfile bytes (read by the caller); each must match the sha256 its link records.
pub fn derive(
    doc: &Document,
    report: &VerificationReport,
    lockfiles: &BTreeMap<String, Vec<u8>>,
    options: &SitOptions,
) -> Result<Inventory, SitError> {
    if !report.passed() {
        return Err(SitError::NotVerified);
    }
    let summary = report.summary.as_ref().ok_or(SitError::NotVerified)?;
    let current = doc.current()?;
    let layout_env = current.layout_envelope()?;
    let layout = match Metadata::from_payload(layout_env.payload()) {
        Ok(Metadata::Layout(l)) => l,
        _ => {
            return Err(SitError::NotLayout {
                name: "layout".into(),
            })
        }
    };
    let layout_bytes = layout_env.to_file_bytes();
    let mut b = Builder {
        attestations: Vec::new(),
        components: BTreeMap::new(),
        steps: Vec::new(),
        lockfile_materials: BTreeMap::new(),
    };
    let links = current.links();
    // The document digest (canonical JSON of tens of megabytes) on the other core.
    let (document_sha256, collected) =
        rayon::join(|| doc.digest(), || b.collect(&layout, &links, "", "", 0));
    let document_sha256 = document_sha256?;
    collected?;

    // Final products: the primary components, evidenced by the whole chain.
    let all: Vec<usize> = (0..b.attestations.len()).collect();
    let mut primary = Vec::new();
    for (path, d) in &summary.products {
        if let Some(id) = b.artifact(path.as_str(), &CompactDigest::from_set(d), &all) {
            if let Some(c) = b.components.get_mut(&id) {
                c.kind = ComponentKind::Application;
                c.evidence = all.clone();
            }
            primary.push(id);
        }
    }
    if primary.is_empty() {
        return Err(SitError::NoFinalProduct);
    }
    primary.sort();
    primary.dedup();
    let supplement = current.supplement();
    if primary.len() == 1 {
        if let Some(c) = b.components.get_mut(&primary[0]) {
            if let Some(n) = &supplement.name {
                c.name = n.clone();
            }
            c.version = supplement.version.clone();
        }
    }

    // Lockfiles.
    let attested = AttestedArtifacts::of(&b.components);
    let mut unhashed: Vec<String> = Vec::new();
    for (path, bytes) in lockfiles {
        let Some((expected, lock_id, evidence)) = b.lockfile_materials.get(path).cloned() else {
            return Err(SitError::LockfileNotAttested { path: path.clone() });
        };
        let found = Sha256::digest(bytes);
        if found.to_hex() != expected {
            return Err(SitError::LockfileMismatch {
                path: path.clone(),
                expected,
                found,
            });
        }
        let Some(kind) = LockfileKind::from_path(path) else {
            return Err(SitError::LockfileNotAttested { path: path.clone() });
        };
        let packages = lockfile::parse(kind, bytes).map_err(|source| SitError::Lockfile {
            path: path.clone(),
            source,
        })?;
        for p in packages {
            let c = b
                .components
                .entry(p.purl.clone())
                .or_insert_with(|| Component {
                    id: p.purl.clone(),
                    kind: ComponentKind::Library,
                    name: p.name.clone(),
                    version: Some(p.version.clone()),
                    purl: Some(p.purl.clone()),
                    hashes: Vec::new(),
                    evidence: Vec::new(),
                    from_lockfile: Some(lock_id.clone()),
                    unhashed: None,
                });
            for h in p.hashes {
                if !c.hashes.contains(&h) {
                    c.hashes.push(h);
                }
            }
            // §4.2.2.1: every component has a sha256 matching an attested artifact. The
            // package's archive, when a step recorded it (by the digest the lockfile gives,
            // else by its file name), else the sha256 the attested lockfile records for it.
            let archive = c
                .hashes
                .iter()
                .find(|h| h.alg == HashAlg::Sha256 && attested.by_sha256.contains(&h.hex))
                .map(|h| h.hex.clone())
                .or_else(|| attested.archive_of(kind, &p.name, &p.version));
            match archive {
                Some(hex) => {
                    let h = Hash {
                        alg: HashAlg::Sha256,
                        hex,
                    };
                    if !c.hashes.contains(&h) {
                        c.hashes.push(h);
                    }
                    c.unhashed = None;
                }
                None if c.hashes.iter().any(|h| h.alg == HashAlg::Sha256) => c.unhashed = None,
                None => {
                    let reason = format!(
                        "{} records no sha256 for {}@{} and no attested step recorded its archive",
                        kind.name(),
                        p.name,
                        p.version
                    );
                    if !options.allow_unhashed {
                        unhashed.push(format!("{} ({})", p.purl, kind.name()));
                    }
                    c.unhashed = Some(reason);
                }
            }
            c.hashes.sort();
            for e in &evidence {
                if !c.evidence.contains(e) {
                    c.evidence.push(*e);
                }
            }
        }
    }

    if !unhashed.is_empty() {
        unhashed.sort();
        unhashed.dedup();
        return Err(SitError::Unhashed { packages: unhashed });
    }
    let primary_set: BTreeSet<&String> = primary.iter().collect();
    let mut components: Vec<Component> = Vec::with_capacity(b.components.len());
    for id in &primary {
        if let Some(c) = b.components.get(id) {
            components.push(c.clone());
        }
    }
    components.extend(
        b.components
            .into_iter()
            .filter(|(id, _)| !primary_set.contains(id))
            .map(|(_, mut c)| {
                c.evidence.sort_unstable();
                c
            }),
    );
    let name = supplement.name.clone().unwrap_or_else(|| {
        components
            .first()
            .map(|c| c.name.clone())
            .unwrap_or_default()
    });
    Ok(Inventory {
        document_sha256,
        name,
        version: supplement.version.clone(),
        supplier: supplement.supplier.clone(),
        authors: supplement.authors.clone(),
        contacts: supplement.contacts.clone(),
        license: supplement.license.clone(),
        timestamp: options.timestamp,
        layout: Evidence {
            name: LAYOUT_FILE_NAME.into(),
            step: String::new(),
            sha256: Sha256::digest(&layout_bytes),
            bytes: layout_bytes,
        },
        attestations: b.attestations,
        primary,
        components,
        steps: b.steps,
    })
}

/// A generated SIT: the mutated SBOM and the warnings about its mutation.
#[derive(Clone, Debug)]
pub struct Sit {
    pub format: Format,
    /// The SBOM before the mutation, when a mutation applied (kept only then: for 100,000
    /// components a copy costs hundreds of megabytes).
    pub base: Option<serde_json::Value>,
    /// The SBOM after the mutation.
    pub value: serde_json::Value,
    /// Mutation operations that change in-toto-derived content.
    pub warnings: Vec<MutationWarning>,
}

impl Sit {
    /// The file bytes: pretty JSON with a final newline (object keys sorted).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec_pretty(&self.value).unwrap_or_default();
        out.push(b'\n');
        out
    }
}

/// Emits the inventory in `format` without any mutation, its large arrays deferred (see
/// [`stream`]).
pub fn emit_lazy<'a>(inv: &'a Inventory, format: Format, options: &'a SitOptions) -> Lazy<'a> {
    match format {
        Format::CycloneDx12 => cyclonedx::emit_lazy(inv, cyclonedx::Version::V1_2, options),
        Format::CycloneDx13 => cyclonedx::emit_lazy(inv, cyclonedx::Version::V1_3, options),
        Format::CycloneDx14 => cyclonedx::emit_lazy(inv, cyclonedx::Version::V1_4, options),
        Format::CycloneDx15 => cyclonedx::emit_lazy(inv, cyclonedx::Version::V1_5, options),
        Format::CycloneDx16 => cyclonedx::emit_lazy(inv, cyclonedx::Version::V1_6, options),
        Format::CycloneDx17 => cyclonedx::emit_lazy(inv, cyclonedx::Version::V1_7, options),
        Format::Spdx23 => spdx2::emit_lazy(inv, options),
        Format::Spdx301 => spdx3::emit_lazy(inv, options),
    }
}

/// Emits the inventory in `format` without any mutation.
pub fn emit(inv: &Inventory, format: Format, options: &SitOptions) -> serde_json::Value {
    emit_lazy(inv, format, options).into_value()
}

/// Emits the inventory in `format`, then applies the document's mutation for it (keyed by
/// the format name, else its family) and reports the operations that touch in-toto-derived
/// content.
pub fn generate(
    doc: &Document,
    inv: &Inventory,
    format: Format,
    options: &SitOptions,
) -> Result<Sit, SitError> {
    let base = emit(inv, format, options);
    let current = doc.current()?;
    let patch = current
        .mutation(format.name())
        .or_else(|| current.mutation(format.family()));
    let (base, value, warnings) = match patch {
        Some(p) => {
            let value = p.apply(&base).map_err(|source| SitError::Mutation {
                format: format.name(),
                source,
            })?;
            let warnings = mutation::check(format, &base, p);
            (Some(base), value, warnings)
        }
        None => (None, base, Vec::new()),
    };
    Ok(Sit {
        format,
        base,
        value,
        warnings,
    })
}

/// A SIT ready to be written: whole, or streamed (without a mutation: the large arrays are
/// made in parallel chunks while writing, so a 100,000-component SIT is never held in memory
/// at once).
pub enum SitStream<'a> {
    Whole(Sit),
    Streamed(Lazy<'a>),
}

impl SitStream<'_> {
    /// Mutation warnings (a streamed SIT has no mutation).
    pub fn warnings(&self) -> &[MutationWarning] {
        match self {
            SitStream::Whole(s) => &s.warnings,
            SitStream::Streamed(_) => &[],
        }
    }

    /// Writes the SIT file's bytes (the same as [`sign::sit_bytes`] of the whole SBOM).
    pub fn write_to(self, w: &mut stream::Sink<'_>) -> std::io::Result<()> {
        match self {
            SitStream::Whole(s) => {
                serde_json::to_writer_pretty(&mut *w, &s.value)?;
                w.write_all(b"\n")
            }
            SitStream::Streamed(lazy) => lazy.write_to(w),
        }
    }
}

/// Like [`generate`], but streams what can be streamed (see [`SitStream`]).
pub fn generate_stream<'a>(
    doc: &Document,
    inv: &'a Inventory,
    format: Format,
    options: &'a SitOptions,
) -> Result<SitStream<'a>, SitError> {
    let current = doc.current()?;
    let mutated =
        current.mutation(format.name()).is_some() || current.mutation(format.family()).is_some();
    if mutated {
        return Ok(SitStream::Whole(generate(doc, inv, format, options)?));
    }
    Ok(SitStream::Streamed(emit_lazy(inv, format, options)))
}

// ---- helpers shared by the emitters

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Percent-encodes a metadata name for a URL path (keeps `/`).
fn url_path(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Where a piece of evidence can be found: `<base>/<name>`, or a URN naming the entry
/// inside the originating document.
fn evidence_url(inv: &Inventory, options: &SitOptions, name: &str) -> String {
    match &options.attestation_url_base {
        Some(base) => format!("{}/{}", base.trim_end_matches('/'), url_path(name)),
        None => format!(
            "urn:sbomit:document:sha256:{}:{}",
            inv.document_sha256,
            url_path(name)
        ),
    }
}

/// Whether any of `c`'s evidence indices names a piece of metadata.
fn has_evidence(inv: &Inventory, c: &Component) -> bool {
    c.evidence.iter().any(|i| *i < inv.attestations.len())
}

/// How many pairs [`sbomit_properties`] gives for `c`, without making them (the primary
/// component's carry megabytes of base64): emitters that number elements ahead of making
/// them need it.
fn sbomit_property_count(inv: &Inventory, c: &Component, options: &SitOptions) -> usize {
    let primary = usize::from(c.kind == ComponentKind::Application);
    let evidence = usize::from(has_evidence(inv, c));
    let unhashed = usize::from(c.unhashed.is_some());
    match &options.attestation_url_base {
        Some(_) => evidence + primary + unhashed,
        // Every component names the layout (contents on the primary, a reference elsewhere).
        None => evidence + 1 + unhashed,
    }
}

/// The reference, by digest, to an attestation embedded elsewhere in the SIT (in the
/// primary component's `sbomit:attestation:contents`).
pub fn attestation_urn(sha256: &Sha256) -> String {
    format!("urn:sbomit:attestation:sha256:{}", sha256.to_hex())
}

/// The reference, by digest, to the layout embedded in the primary component's
/// `sbomit:layout:contents`.
pub fn layout_urn(sha256: &Sha256) -> String {
    format!("urn:sbomit:layout:sha256:{}", sha256.to_hex())
}

/// The `sbomit:*` name/value pairs of a component.
fn sbomit_properties(
    inv: &Inventory,
    c: &Component,
    options: &SitOptions,
) -> Vec<(&'static str, String)> {
    let primary = c.kind == ComponentKind::Application;
    let mut out = Vec::new();
    let evidence = c.evidence.iter().filter_map(|i| inv.attestations.get(*i));
    match &options.attestation_url_base {
        Some(_) => {
            let urls: Vec<String> = evidence
                .map(|e| evidence_url(inv, options, &e.name))
                .collect();
            if !urls.is_empty() {
                out.push(("sbomit:attestation:urls", urls.join(",")));
            }
            if primary {
                out.push((
                    "sbomit:layout:urls",
                    evidence_url(inv, options, &inv.layout.name),
                ));
            }
        }
        None if primary => {
            // Contents are embedded once, on the primary component that the whole chain
            // describes; repeating them on every component would make SITs quadratic.
            let contents: Vec<String> = evidence.map(|e| b64(&e.bytes)).collect();
            if !contents.is_empty() {
                out.push(("sbomit:attestation:contents", contents.join(",")));
            }
            out.push(("sbomit:layout:contents", b64(&inv.layout.bytes)));
        }
        None => {
            // Every other component carries the spec's properties too (§4.2.2.2), each
            // attestation recording it referenced by its digest: the contents are embedded
            // once, on the primary, and a SIT stays linear in size.
            let urls: Vec<String> = evidence.map(|e| attestation_urn(&e.sha256)).collect();
            if !urls.is_empty() {
                out.push(("sbomit:attestation:urls", urls.join(",")));
            }
            out.push(("sbomit:layout:urls", layout_urn(&inv.layout.sha256)));
        }
    }
    if let Some(reason) = &c.unhashed {
        out.push(("sbomit:unhashed", reason.clone()));
    }
    out
}

/// A name-based UUID (v5 layout) from the document digest and a label: the same document
/// gives the same serial number.
fn derived_uuid(inv: &Inventory, label: &str) -> String {
    let mut input = inv.document_sha256.to_hex().into_bytes();
    input.push(b':');
    input.extend_from_slice(label.as_bytes());
    let h = Sha256::digest(&input);
    let mut b = [0u8; 16];
    b.copy_from_slice(&h.as_bytes()[..16]);
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    let x = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &x[0..8],
        &x[8..12],
        &x[12..16],
        &x[16..20],
        &x[20..32]
    )
}

fn timestamp(inv: &Inventory) -> String {
    inv.timestamp.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}
