//! The SBOMit document: a signed in-toto layout and every piece of in-toto metadata about one
//! build, exactly as received, plus what in-toto does not carry (supplier, product name and
//! version, authors, license, contacts), the per-format SIT mutations, and signed addenda.
//!
//! The format is described in `docs/formats/sbomit-document.md`. In short:
//!
//! ```json
//! {
//!   "_type": "https://sbomit.dev/document/v0.1",
//!   "layout": { <layout envelope file, as received> },
//!   "metadata": { "<step>.<keyid8>.link": { <envelope> },
//!                 "<step>.<keyid8>/<inner>.<keyid8>.link": { <envelope> } },
//!   "attestations": [ { <DSSE envelope around an in-toto Statement> } ],
//!   "supplement": { "supplier": {...}, "name": "...", "version": "...", ... },
//!   "mutations": { "cyclonedx": [ <JSON Patch> ], "spdx-2.3": [...], "spdx-3.0.1": [...] },
//!   "addenda": [ { "patch": [...], "author": "<keyid>", "time": "<RFC 3339>",
//!                  "previous": "<sha256 hex>", "signature": "<hex>" } ]
//! }
//! ```
//!
//! Envelopes are kept as JSON values: a classic envelope's signature covers the canonical
//! JSON of `signed`, which a value reproduces; a DSSE envelope's `payload` stays the base64
//! string received, so its exact bytes survive. Every envelope re-verifies from the document.

// Errors carry their context (op index, pointer, key id) inline; a document is read or
// amended once per run, so the size of the `Err` variant does not matter.
#![allow(clippy::result_large_err)]

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::jsonpatch::{Patch, PatchError};
use sbomit_crypto::{KeyId, PrivateKey, PublicKey};
use sbomit_intoto::digest::Sha256;
use sbomit_intoto::envelope::{Envelope, EnvelopeError, EnvelopeKind};
use sbomit_intoto::verify::{
    InspectionRunner, LinkSource, SignedLink, SourceError, VerificationReport, VerifyError,
    VerifyOptions,
};

/// The `_type` of an SBOMit document of this version.
pub const DOCUMENT_TYPE: &str = "https://sbomit.dev/document/v0.1";

/// The layout step reserved for SIT generators (see [`crate::steps`]): its `pubkeys` and
/// `threshold` say which keys may sign SITs of the document (per format, the most specific of
/// `sbomit-sit-<format>`, `sbomit-sit-<family>`, `sbomit-sit`).
pub const SIT_SIGNING_STEP: &str = crate::steps::SIT_STEP;

/// Why a document cannot be built, read or amended.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DocumentError {
    #[error("not JSON: {0}")]
    Json(String),
    #[error("document field `{field}`: {reason}")]
    Shape { field: String, reason: String },
    #[error("document `_type` is {found:?}, expected {DOCUMENT_TYPE:?}")]
    WrongType { found: String },
    #[error("metadata {name:?}: {source}")]
    Envelope {
        name: String,
        #[source]
        source: EnvelopeError,
    },
    #[error("metadata name {name:?}: {reason}")]
    BadName { name: String, reason: &'static str },
    #[error("attestation bundle line {line}: {source}")]
    BundleLine {
        line: usize,
        #[source]
        source: EnvelopeError,
    },
    #[error("attestation bundle line {line} is not a DSSE envelope")]
    BundleNotDsse { line: usize },
    #[error("mutation for {format:?}: {source}")]
    Mutation {
        format: String,
        #[source]
        source: PatchError,
    },
    #[error("canonical JSON: {0}")]
    Canonical(#[from] sbomit_intoto::canonical::CanonicalError),
    /// `index` counts from 0; the message counts from 1, as `document show --history` and
    /// `document amend` do.
    #[error("addendum {}: {reason}", .index + 1)]
    Addendum { index: usize, reason: AddendumError },
    #[error("signing: {0}")]
    Sign(#[from] sbomit_crypto::KeyError),
}

/// Why an addendum is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AddendumError {
    #[error("time {time:?} is not an RFC 3339 date-time")]
    BadTime { time: String },
    #[error("`previous` is {found}, but the document before this addendum has digest {expected}")]
    BrokenChain { expected: Sha256, found: Sha256 },
    #[error("author {author} is not a key trusted to amend this document")]
    UntrustedAuthor { author: KeyId },
    #[error("the signature by {author} does not verify")]
    BadSignature { author: KeyId },
    #[error("the patch does not apply: {0}")]
    Patch(PatchError),
    #[error("the patch rewrites history or in-toto metadata at {what}")]
    Rewrites { what: String },
    #[error("the amended document is not a valid document: {0}")]
    Invalid(String),
    /// A SIT generator (not otherwise trusted to amend) may only add its own links.
    #[error("author {author} is a SIT generator: its addenda may only add its own generator links (at {what})")]
    GeneratorOverreach { author: KeyId, what: String },
}

/// A person or organisation (supplier, author, contact).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Party {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// What in-toto does not record: the NTIA elements a human has to supply.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Supplement {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supplier: Option<Party>,
    /// Product name (the primary component's name; the final product's path otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authors: Vec<Party>,
    /// An SPDX license expression for the product.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contacts: Vec<Party>,
}

/// One signed change to a document. History is append-only: addenda are never removed or
/// edited, and each one commits to the document as it was before it (`previous`).
#[derive(Clone, Debug, PartialEq)]
pub struct Addendum {
    pub patch: Patch,
    pub author: KeyId,
    /// RFC 3339, given by the caller (the core has no clock).
    pub time: String,
    /// sha256 of the canonical JSON of the document holding only the addenda before this one.
    pub previous: Sha256,
    /// Signature over [`Addendum::signed_bytes`].
    pub signature: Vec<u8>,
}

impl Addendum {
    /// The canonical JSON of `{patch, author, time, previous}`: what the author signs.
    pub fn signed_bytes(&self) -> Result<Vec<u8>, sbomit_intoto::canonical::CanonicalError> {
        sbomit_intoto::canonical::encode(&serde_json::json!({
            "patch": self.patch.to_value(),
            "author": self.author.as_str(),
            "time": self.time,
            "previous": self.previous.to_hex(),
        }))
    }

    fn to_value(&self) -> Value {
        serde_json::json!({
            "patch": self.patch.to_value(),
            "author": self.author.as_str(),
            "time": self.time,
            "previous": self.previous.to_hex(),
            "signature": hex::encode(&self.signature),
        })
    }

    fn from_value(v: &Value, index: usize) -> Result<Self, DocumentError> {
        let field = format!("addenda[{index}]");
        let shape = |reason: &str| DocumentError::Shape {
            field: field.clone(),
            reason: reason.to_owned(),
        };
        let s = |name: &str| {
            v.get(name)
                .and_then(Value::as_str)
                .ok_or_else(|| shape(&format!("`{name}` missing or not a string")))
        };
        let patch = Patch::from_value(v.get("patch").unwrap_or(&Value::Null))
            .map_err(|e| shape(&e.to_string()))?;
        let previous =
            Sha256::from_hex(s("previous")?).ok_or_else(|| shape("`previous` is not a sha256"))?;
        let signature =
            hex::decode(s("signature")?).map_err(|_| shape("`signature` is not hex"))?;
        Ok(Addendum {
            patch,
            author: KeyId::new(s("author")?.to_owned()),
            time: s("time")?.to_owned(),
            previous,
            signature,
        })
    }
}

/// An SBOMit document.
#[derive(Clone, Debug, PartialEq)]
pub struct Document {
    layout: Value,
    /// Shared, not copied, by clones: the versions and amended copies of a document all hold
    /// the same links, up to tens of megabytes each, and an entry is never changed in place.
    metadata: BTreeMap<String, Arc<Value>>,
    attestations: Vec<Value>,
    supplement: Supplement,
    mutations: BTreeMap<String, Patch>,
    /// Attested files embedded so that verification needs only the document and the keys
    /// (lockfiles, the final product for inspections): path → bytes.
    files: BTreeMap<String, Vec<u8>>,
    addenda: Vec<Addendum>,
    parsed: EnvelopeCache,
    current: CurrentCache,
}

/// The document with its addenda applied, made on first use: every command asks for it
/// several times, and applying the addenda of a 100,000-artifact document copies tens of
/// megabytes. A clone starts empty (clones are made to be changed: versions, amendments), and
/// every method that changes the document empties it.
///
/// It also keeps the digests of the document's versions (by number of addenda): each is the
/// canonical JSON of the whole document hashed, and verification asks for the same ones
/// several times (the addenda chain, the version a SIT names).
#[derive(Default)]
struct CurrentCache(
    std::sync::OnceLock<Box<Document>>,
    std::sync::Mutex<BTreeMap<usize, Sha256>>,
);

impl Clone for CurrentCache {
    fn clone(&self) -> Self {
        CurrentCache::default()
    }
}

impl PartialEq for CurrentCache {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl std::fmt::Debug for CurrentCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CurrentCache")
    }
}

/// A document's members, borrowed, in the order of [`Document::to_value`] (serde_json's maps
/// are sorted by key): [`Document::to_bytes`] writes them without copying the links.
#[derive(serde::Serialize)]
struct DocumentView<'a> {
    #[serde(rename = "_type")]
    kind: &'a str,
    addenda: Vec<Value>,
    attestations: &'a [Value],
    #[serde(skip_serializing_if = "Option::is_none")]
    files: Option<Value>,
    layout: &'a Value,
    metadata: MetadataView<'a>,
    mutations: Value,
    supplement: Value,
}

struct MetadataView<'a>(&'a BTreeMap<String, Arc<Value>>);

impl serde::Serialize for MetadataView<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(k, v)| (k, v.as_ref())))
    }
}

/// What of a document a patch reaches: whole top-level members, and single entries of
/// `metadata` and `files` (see [`Document::apply_patch_owned`]).
#[derive(Default)]
struct PatchScope {
    members: BTreeSet<String>,
    metadata: BTreeSet<String>,
    files: BTreeSet<String>,
}

impl PatchScope {
    /// `None` when an operation reaches the whole document, `/metadata` or `/files`.
    fn of(patch: &Patch) -> Option<PatchScope> {
        let mut scope = PatchScope::default();
        for op in &patch.0 {
            for touch in op.touches() {
                match touch.pointer.tokens() {
                    [] => return None,
                    [m] if m == "metadata" || m == "files" => return None,
                    [m, name, ..] if m == "metadata" => {
                        scope.metadata.insert(name.clone());
                    }
                    [m, name, ..] if m == "files" => {
                        scope.files.insert(name.clone());
                    }
                    [m, ..] => {
                        scope.members.insert(m.clone());
                    }
                }
            }
        }
        Some(scope)
    }
}

/// The layout (key `""`) and metadata envelopes already parsed, by name: reading,
/// verifying and deriving a SIT would otherwise parse (and canonicalise) each envelope, up
/// to tens of megabytes for 100,000 artifacts, three times. Not part of the document's
/// value: a clone starts empty and equality ignores it.
#[derive(Default)]
struct EnvelopeCache(std::sync::Mutex<BTreeMap<String, SignedLink>>);

impl EnvelopeCache {
    fn get_or_parse(&self, name: &str, value: &Value) -> Result<SignedLink, DocumentError> {
        let what = if name.is_empty() { "layout" } else { name };
        let Ok(mut cache) = self.0.lock() else {
            return parse_envelope(what, value).map(SignedLink::new);
        };
        if let Some(e) = cache.get(name) {
            return Ok(e.clone());
        }
        let e = parse_warm(what, value)?;
        cache.insert(name.to_owned(), e.clone());
        Ok(e)
    }

    /// Parses the envelopes of `entries` on all cores and keeps them; the first (in order)
    /// that does not parse is the error.
    fn parse_all(&self, entries: &[(&String, &Value)]) -> Result<(), DocumentError> {
        use rayon::prelude::*;
        let parsed: Vec<Result<SignedLink, DocumentError>> = entries
            .par_iter()
            .map(|(name, value)| parse_warm(name, value))
            .collect();
        let Ok(mut cache) = self.0.lock() else {
            return parsed.into_iter().try_for_each(|r| r.map(drop));
        };
        for ((name, _), e) in entries.iter().zip(parsed) {
            cache.insert((*name).clone(), e?);
        }
        Ok(())
    }

    fn put(&self, name: &str, e: SignedLink) {
        if let Ok(mut cache) = self.0.lock() {
            cache.insert(name.to_owned(), e);
        }
    }

    fn forget(&self, name: &str) {
        if let Ok(mut cache) = self.0.lock() {
            cache.remove(name);
        }
    }
}

impl EnvelopeCache {
    /// The envelope parsed for `name` if `value` (what the entry now holds) is what was
    /// parsed: `known` holds the values the cache's entries were parsed from.
    fn reuse(&self, name: &str, value: &Value, known: &Value) -> Option<SignedLink> {
        if value != known {
            return None;
        }
        self.0.lock().ok()?.get(name).cloned()
    }
}

impl Clone for EnvelopeCache {
    /// A clone keeps the parsed envelopes: it belongs to a document with the same fields,
    /// and the only field write ([`Document::insert_metadata`]) forgets the entry it replaces.
    /// (Versions and amended documents would otherwise parse tens of megabytes again.)
    fn clone(&self) -> Self {
        match self.0.lock() {
            Ok(m) => EnvelopeCache(std::sync::Mutex::new(m.clone())),
            Err(_) => EnvelopeCache::default(),
        }
    }
}

impl PartialEq for EnvelopeCache {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl std::fmt::Debug for EnvelopeCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EnvelopeCache")
    }
}

/// A metadata name is a relative, `/`-separated path made of plain components, ending in
/// `.link` (links and sublayouts are both stored as `<step>.<keyid8>.link`).
fn check_name(name: &str) -> Result<(), DocumentError> {
    let bad = |reason| DocumentError::BadName {
        name: name.to_owned(),
        reason,
    };
    if !name.ends_with(".link") {
        return Err(bad("must end in .link"));
    }
    if name.starts_with('/') || name.contains('\\') {
        return Err(bad("must be a relative path with '/' separators"));
    }
    if name
        .split('/')
        .any(|c| c.is_empty() || c == "." || c == "..")
    {
        return Err(bad("must not contain empty, '.' or '..' components"));
    }
    Ok(())
}

/// An embedded file's path: relative, `/`-separated, plain components.
fn check_file_path(path: &str) -> Result<(), DocumentError> {
    let bad = |reason: &str| DocumentError::Shape {
        field: format!("files/{path}"),
        reason: reason.to_owned(),
    };
    if path.starts_with('/') || path.contains('\\') {
        return Err(bad("must be a relative path with '/' separators"));
    }
    if path
        .split('/')
        .any(|c| c.is_empty() || c == "." || c == "..")
    {
        return Err(bad("must not contain empty, '.' or '..' components"));
    }
    Ok(())
}

/// `{path: {"sha256": HEX, "content": BASE64}}`: the digest lets a reader see what a file is
/// without decoding it, and is checked on reading.
fn files_value(files: &BTreeMap<String, Vec<u8>>) -> Value {
    use base64::Engine as _;
    Value::Object(
        files
            .iter()
            .map(|(p, b)| {
                (
                    p.clone(),
                    serde_json::json!({
                        "sha256": Sha256::digest(b).to_hex(),
                        "content": base64::engine::general_purpose::STANDARD.encode(b),
                    }),
                )
            })
            .collect(),
    )
}

fn files_from_value(v: &Value) -> Result<BTreeMap<String, Vec<u8>>, DocumentError> {
    use base64::Engine as _;
    let shape = |field: String, reason: &str| DocumentError::Shape {
        field,
        reason: reason.to_owned(),
    };
    let Value::Object(m) = v else {
        return Err(shape("files".into(), "not an object"));
    };
    let mut out = BTreeMap::new();
    for (path, f) in m {
        check_file_path(path)?;
        let field = format!("files/{path}");
        let content = f
            .get("content")
            .and_then(Value::as_str)
            .ok_or_else(|| shape(field.clone(), "no base64 `content`"))?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(content)
            .map_err(|_| shape(field.clone(), "`content` is not base64"))?;
        let sha = f.get("sha256").and_then(Value::as_str).unwrap_or("");
        if Sha256::digest(&bytes).to_hex() != sha.to_ascii_lowercase() {
            return Err(shape(field, "`sha256` is not the sha256 of `content`"));
        }
        out.insert(path.clone(), bytes);
    }
    Ok(out)
}

/// [`parse_envelope`], with the payload read as a link when it is one: verification and
/// SIT derivation both need it, and clones of a cached envelope share the work.
fn parse_warm(name: &str, value: &Value) -> Result<SignedLink, DocumentError> {
    let e = SignedLink::new(parse_envelope(name, value)?);
    let _ = e.compact_link();
    Ok(e)
}

fn parse_envelope(name: &str, value: &Value) -> Result<Envelope, DocumentError> {
    let bytes = serde_json::to_vec(value).map_err(|e| DocumentError::Json(e.to_string()))?;
    Envelope::parse(&bytes).map_err(|source| DocumentError::Envelope {
        name: name.to_owned(),
        source,
    })
}

fn envelope_value(name: &str, bytes: &[u8]) -> Result<Value, DocumentError> {
    // Parse first so that only well-formed, verifiable envelopes get in.
    Envelope::parse(bytes).map_err(|source| DocumentError::Envelope {
        name: name.to_owned(),
        source,
    })?;
    serde_json::from_slice(bytes).map_err(|e| DocumentError::Json(e.to_string()))
}

impl Document {
    /// A document around the signed layout file `layout` (either envelope), with nothing
    /// else yet.
    pub fn new(layout: &[u8]) -> Result<Self, DocumentError> {
        Ok(Document {
            layout: envelope_value("layout", layout)?,
            metadata: BTreeMap::new(),
            attestations: Vec::new(),
            supplement: Supplement::default(),
            mutations: BTreeMap::new(),
            files: BTreeMap::new(),
            addenda: Vec::new(),
            parsed: EnvelopeCache::default(),
            current: CurrentCache::default(),
        })
    }

    /// Adds (or replaces, before any addendum) a link or sublayout file under its name
    /// relative to the link directory: `<step>.<keyid8>.link`, or
    /// `<step>.<keyid8>/<inner>.<keyid8>.link` for a sublayout's links.
    pub fn add_metadata(&mut self, name: &str, bytes: &[u8]) -> Result<(), DocumentError> {
        self.current = CurrentCache::default();
        check_name(name)?;
        let value = envelope_value(name, bytes)?;
        self.parsed.forget(name);
        self.metadata.insert(name.to_owned(), Arc::new(value));
        Ok(())
    }

    /// Adds one DSSE envelope (an in-toto Statement) as an attestation.
    pub fn add_attestation(&mut self, bytes: &[u8]) -> Result<(), DocumentError> {
        self.current = CurrentCache::default();
        let name = format!("attestations[{}]", self.attestations.len());
        let env = Envelope::parse(bytes).map_err(|source| DocumentError::Envelope {
            name: name.clone(),
            source,
        })?;
        if env.kind() != EnvelopeKind::Dsse {
            return Err(DocumentError::Shape {
                field: name,
                reason: "attestations are DSSE envelopes".into(),
            });
        }
        self.attestations
            .push(serde_json::from_slice(bytes).map_err(|e| DocumentError::Json(e.to_string()))?);
        Ok(())
    }

    /// Imports an `.intoto.jsonl` bundle: one DSSE envelope per line (blank lines skipped).
    /// All or nothing. Returns how many attestations were added.
    pub fn import_bundle(&mut self, jsonl: &[u8]) -> Result<usize, DocumentError> {
        self.current = CurrentCache::default();
        let mut added = Vec::new();
        for (i, line) in jsonl.split(|b| *b == b'\n').enumerate() {
            let line = line.trim_ascii();
            if line.is_empty() {
                continue;
            }
            let env = Envelope::parse(line).map_err(|source| DocumentError::BundleLine {
                line: i + 1,
                source,
            })?;
            if env.kind() != EnvelopeKind::Dsse {
                return Err(DocumentError::BundleNotDsse { line: i + 1 });
            }
            added.push(
                serde_json::from_slice(line).map_err(|e| DocumentError::Json(e.to_string()))?,
            );
        }
        let n = added.len();
        self.attestations.extend(added);
        Ok(n)
    }

    pub fn set_supplement(&mut self, supplement: Supplement) {
        self.current = CurrentCache::default();
        self.supplement = supplement;
    }

    /// Sets the mutation for a SIT format: a format's name (`cyclonedx-1.6`, `spdx-2.3`,
    /// `spdx-3.0.1`), or its family (`cyclonedx`) for every version of it.
    pub fn set_mutation(&mut self, format: &str, patch: Patch) {
        self.current = CurrentCache::default();
        self.mutations.insert(format.to_owned(), patch);
    }

    // ---- reading

    /// The layout envelope file as received.
    pub fn layout_value(&self) -> &Value {
        &self.layout
    }

    /// The layout envelope, parsed for verification.
    pub fn layout_envelope(&self) -> Result<Envelope, DocumentError> {
        self.parsed
            .get_or_parse("", &self.layout)
            .map(SignedLink::into_envelope)
    }

    /// Links and sublayouts by name.
    pub fn metadata(&self) -> &BTreeMap<String, Arc<Value>> {
        &self.metadata
    }

    pub fn metadata_envelope(&self, name: &str) -> Option<Result<Envelope, DocumentError>> {
        self.metadata.get(name).map(|v| {
            self.parsed
                .get_or_parse(name, v)
                .map(SignedLink::into_envelope)
        })
    }

    pub fn attestations(&self) -> &[Value] {
        &self.attestations
    }

    pub fn supplement(&self) -> &Supplement {
        &self.supplement
    }

    pub fn mutations(&self) -> &BTreeMap<String, Patch> {
        &self.mutations
    }

    /// The embedded files: path → bytes.
    pub fn files(&self) -> &BTreeMap<String, Vec<u8>> {
        &self.files
    }

    /// Embeds a file (path relative to the final product's directory, `/`-separated).
    pub fn add_file(&mut self, path: &str, bytes: Vec<u8>) -> Result<(), DocumentError> {
        self.current = CurrentCache::default();
        check_file_path(path)?;
        self.files.insert(path.to_owned(), bytes);
        Ok(())
    }

    pub fn mutation(&self, format: &str) -> Option<&Patch> {
        self.mutations.get(format)
    }

    pub fn addenda(&self) -> &[Addendum] {
        &self.addenda
    }

    // ---- serialisation

    pub fn to_value(&self) -> Value {
        self.to_value_with(self.addenda.len())
    }

    /// The document holding only its first `n` addenda.
    fn to_value_with(&self, n: usize) -> Value {
        let mut m = Map::new();
        for name in ["_type", "layout"] {
            if let Some(v) = self.member_value(name) {
                m.insert(name.into(), v);
            }
        }
        m.insert(
            "metadata".into(),
            Value::Object(
                self.metadata
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::clone(v)))
                    .collect(),
            ),
        );
        for name in ["attestations", "supplement", "mutations", "files"] {
            if let Some(v) = self.member_value(name) {
                m.insert(name.into(), v);
            }
        }
        m.insert(
            "addenda".into(),
            Value::Array(self.addenda[..n].iter().map(Addendum::to_value).collect()),
        );
        Value::Object(m)
    }

    /// A top-level member of [`Document::to_value`] other than `metadata` and `addenda`
    /// (`None` for those, for unknown names, and for `files` when there are none).
    fn member_value(&self, name: &str) -> Option<Value> {
        Some(match name {
            "_type" => Value::String(DOCUMENT_TYPE.into()),
            "layout" => self.layout.clone(),
            "attestations" => Value::Array(self.attestations.clone()),
            // A struct of strings and vectors of structs always serialises.
            "supplement" => serde_json::to_value(&self.supplement).unwrap_or(Value::Null),
            "mutations" => Value::Object(
                self.mutations
                    .iter()
                    .map(|(k, p)| (k.clone(), p.to_value()))
                    .collect(),
            ),
            "files" if !self.files.is_empty() => files_value(&self.files),
            _ => return None,
        })
    }

    /// The document file: pretty JSON with a final newline. The pretty JSON of
    /// [`Document::to_value`], written from borrowed members instead of a copy of the
    /// (possibly tens of megabytes of) links.
    pub fn to_bytes(&self) -> Vec<u8> {
        let member = |name| self.member_value(name).unwrap_or(Value::Null);
        let view = DocumentView {
            kind: DOCUMENT_TYPE,
            addenda: self.addenda.iter().map(Addendum::to_value).collect(),
            attestations: &self.attestations,
            files: self.member_value("files"),
            layout: &self.layout,
            metadata: MetadataView(&self.metadata),
            mutations: member("mutations"),
            supplement: member("supplement"),
        };
        let mut out = serde_json::to_vec_pretty(&view).unwrap_or_default();
        out.push(b'\n');
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DocumentError> {
        let v: Value =
            serde_json::from_slice(bytes).map_err(|e| DocumentError::Json(e.to_string()))?;
        Self::from_owned_value(v)
    }

    /// Reads a document; every envelope must parse (signatures are checked by `verify`).
    pub fn from_value(v: &Value) -> Result<Self, DocumentError> {
        Self::from_owned_value(v.clone())
    }

    /// [`Document::from_value`] taking the value: the envelopes are moved, not copied.
    pub fn from_owned_value(v: Value) -> Result<Self, DocumentError> {
        Self::from_owned_value_reusing(v, None)
    }

    /// [`Document::from_owned_value`], taking the envelopes already parsed by `known` for the
    /// entries whose value is unchanged (an amended document keeps all of them).
    fn from_owned_value_reusing(v: Value, known: Option<&Document>) -> Result<Self, DocumentError> {
        let shape = |field: &str, reason: &str| DocumentError::Shape {
            field: field.to_owned(),
            reason: reason.to_owned(),
        };
        let Value::Object(mut obj) = v else {
            return Err(shape("", "a document is a JSON object"));
        };
        match obj.get("_type").and_then(Value::as_str) {
            Some(DOCUMENT_TYPE) => {}
            other => {
                return Err(DocumentError::WrongType {
                    found: other.unwrap_or("nothing").to_owned(),
                })
            }
        }
        let layout = obj
            .remove("layout")
            .ok_or_else(|| shape("layout", "missing"))?;
        let parsed = EnvelopeCache::default();
        let reused = |name: &str, value: &Value| {
            let k = known?;
            let old = if name.is_empty() {
                &k.layout
            } else {
                k.metadata.get(name)?
            };
            k.parsed.reuse(name, value, old)
        };
        match reused("", &layout) {
            Some(e) => parsed.put("", e),
            None => drop(parsed.get_or_parse("", &layout)?),
        }
        let mut metadata = BTreeMap::new();
        match obj.remove("metadata") {
            None => {}
            Some(Value::Object(m)) => {
                for name in m.keys() {
                    check_name(name)?;
                }
                let mut entries: Vec<(&String, &Value)> = Vec::new();
                for (name, value) in &m {
                    match reused(name, value) {
                        Some(e) => parsed.put(name, e),
                        None => entries.push((name, value)),
                    }
                }
                // Links of 100,000 artifacts take tens of milliseconds each to parse.
                parsed.parse_all(&entries)?;
                metadata.extend(m.into_iter().map(|(k, v)| (k, Arc::new(v))));
            }
            Some(_) => return Err(shape("metadata", "not an object")),
        }
        let mut attestations = Vec::new();
        match obj.remove("attestations") {
            None => {}
            Some(Value::Array(a)) => {
                for (i, value) in a.into_iter().enumerate() {
                    parse_envelope(&format!("attestations[{i}]"), &value)?;
                    attestations.push(value);
                }
            }
            Some(_) => return Err(shape("attestations", "not an array")),
        }
        let supplement = match obj.get("supplement") {
            None | Some(Value::Null) => Supplement::default(),
            Some(s) => serde_json::from_value(s.clone())
                .map_err(|e| shape("supplement", &e.to_string()))?,
        };
        let mut mutations = BTreeMap::new();
        match obj.get("mutations") {
            None => {}
            Some(Value::Object(m)) => {
                for (format, p) in m {
                    let patch = Patch::from_value(p).map_err(|source| DocumentError::Mutation {
                        format: format.clone(),
                        source,
                    })?;
                    mutations.insert(format.clone(), patch);
                }
            }
            Some(_) => return Err(shape("mutations", "not an object")),
        }
        let addenda = match obj.get("addenda") {
            None => Vec::new(),
            Some(Value::Array(a)) => a
                .iter()
                .enumerate()
                .map(|(i, v)| Addendum::from_value(v, i))
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(shape("addenda", "not an array")),
        };
        let files = match obj.get("files") {
            None => BTreeMap::new(),
            Some(v) => files_from_value(v)?,
        };
        Ok(Document {
            layout,
            metadata,
            attestations,
            supplement,
            mutations,
            files,
            addenda,
            parsed,
            current: CurrentCache::default(),
        })
    }

    /// sha256 of the canonical JSON of the whole document: its identity, referenced from
    /// SITs and chained by addenda. Independent of how the file is formatted.
    pub fn digest(&self) -> Result<Sha256, DocumentError> {
        self.digest_with(self.addenda.len())
    }

    /// The document as it was with only its first `n` addenda (`None` past the last): its
    /// digest is the digest that version had.
    pub fn version(&self, n: usize) -> Option<Document> {
        if n > self.addenda.len() {
            return None;
        }
        let mut d = self.clone();
        d.addenda.truncate(n);
        // The versions up to `n` are the same documents: their digests are known.
        if let (Ok(mine), Ok(mut theirs)) = (self.current.1.lock(), d.current.1.lock()) {
            theirs.extend(mine.range(..=n).map(|(k, v)| (*k, *v)));
        }
        Some(d)
    }

    /// How many addenda the version of this document with digest `digest` had, if it is
    /// one of its versions (SITs name the version they were generated from).
    pub fn version_with_digest(&self, digest: &Sha256) -> Result<Option<usize>, DocumentError> {
        // Those already computed first (verifying the addenda computes all but the last).
        let known = self.current.1.lock().ok().and_then(|m| {
            m.iter()
                .find(|(n, d)| **n <= self.addenda.len() && *d == digest)
                .map(|(n, _)| *n)
        });
        if known.is_some() {
            return Ok(known);
        }
        for n in (0..=self.addenda.len()).rev() {
            if &self.digest_with(n)? == digest {
                return Ok(Some(n));
            }
        }
        Ok(None)
    }

    /// The digest of the document with its first `n` addenda: the canonical JSON of
    /// [`Document::to_value_with`], written member by member from the fields instead of
    /// from a copy of the (possibly tens of megabytes of) document.
    fn digest_with(&self, n: usize) -> Result<Sha256, DocumentError> {
        if let Some(d) = self.current.1.lock().ok().and_then(|m| m.get(&n).copied()) {
            return Ok(d);
        }
        let d = self.digest_uncached(n)?;
        if let Ok(mut m) = self.current.1.lock() {
            m.insert(n, d);
        }
        Ok(d)
    }

    fn digest_uncached(&self, n: usize) -> Result<Sha256, DocumentError> {
        use sbomit_intoto::canonical::encode;
        let key = |out: &mut Vec<u8>, first: bool, k: &str| -> Result<(), DocumentError> {
            if !first {
                out.push(b',');
            }
            out.extend_from_slice(&encode(&Value::String(k.to_owned()))?);
            out.push(b':');
            Ok(())
        };
        // Members in canonical (byte) order of their names.
        let mut out = Vec::new();
        out.push(b'{');
        key(&mut out, true, "_type")?;
        out.extend_from_slice(&encode(&Value::String(DOCUMENT_TYPE.into()))?);
        key(&mut out, false, "addenda")?;
        out.extend_from_slice(&encode(&Value::Array(
            self.addenda[..n].iter().map(Addendum::to_value).collect(),
        ))?);
        key(&mut out, false, "attestations")?;
        out.push(b'[');
        for (i, a) in self.attestations.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(&encode(a)?);
        }
        out.push(b']');
        if !self.files.is_empty() {
            key(&mut out, false, "files")?;
            out.extend_from_slice(&encode(&files_value(&self.files))?);
        }
        key(&mut out, false, "layout")?;
        out.extend_from_slice(&encode(&self.layout)?);
        key(&mut out, false, "metadata")?;
        out.push(b'{');
        // A BTreeMap<String, _> iterates in byte order, canonical JSON's key order.
        for (i, (name, v)) in self.metadata.iter().enumerate() {
            key(&mut out, i == 0, name)?;
            out.extend_from_slice(&encode(v)?);
        }
        out.push(b'}');
        key(&mut out, false, "mutations")?;
        out.extend_from_slice(&encode(&Value::Object(
            self.mutations
                .iter()
                .map(|(k, p)| (k.clone(), p.to_value()))
                .collect(),
        ))?);
        key(&mut out, false, "supplement")?;
        out.extend_from_slice(&encode(
            // A struct of strings and vectors of structs always serialises.
            &serde_json::to_value(&self.supplement).unwrap_or(Value::Null),
        )?);
        out.push(b'}');
        Ok(Sha256::digest(&out))
    }

    // ---- addenda

    /// The base document (no addenda) with the first `n` addenda applied.
    fn apply_addenda(&self, n: usize) -> Result<Document, DocumentError> {
        let mut base = self.clone();
        base.addenda.clear();
        for (index, a) in self.addenda[..n].iter().enumerate() {
            base = base
                .apply_patch_owned(&a.patch)
                .map_err(|reason| DocumentError::Addendum { index, reason })?;
        }
        Ok(base)
    }

    /// The document as amended: the base with every addendum applied in order (the result
    /// has no addenda of its own).
    ///
    /// Borrowed when there are no addenda: documents with 100,000 artifacts are tens of
    /// megabytes, and every command asks for the current document several times.
    pub fn current(&self) -> Result<Cow<'_, Document>, DocumentError> {
        if self.addenda.is_empty() {
            return Ok(Cow::Borrowed(self));
        }
        if let Some(d) = self.current.0.get() {
            return Ok(Cow::Borrowed(d));
        }
        let d = self.apply_addenda(self.addenda.len())?;
        Ok(Cow::Borrowed(self.current.0.get_or_init(|| Box::new(d))))
    }

    /// Applies an addendum patch to a document without addenda. Patches see the document
    /// without its `addenda` field and may add metadata, attestations, supplement and
    /// mutations, but not change or remove the layout or in-toto metadata already there.
    fn apply_patch(&self, patch: &Patch) -> Result<Document, AddendumError> {
        let mut v = self.to_value();
        if let Value::Object(m) = &mut v {
            m.remove("addenda");
        }
        // `v` is this function's own copy: applied in place, no second copy of the document.
        let next = self.patched(v, patch, self.metadata.keys(), self.files.keys())?;
        if next.attestations.get(..self.attestations.len()) != Some(&self.attestations[..]) {
            return Err(AddendumError::Rewrites {
                what: "/attestations".into(),
            });
        }
        Ok(next)
    }

    /// `patch` applied to `v` (this document, or the part of it the patch reaches), read back
    /// as a document, and checked to rewrite no history: not the layout, and none of the
    /// metadata entries `names` nor the files `paths` this document has.
    fn patched<'a>(
        &self,
        mut v: Value,
        patch: &Patch,
        names: impl Iterator<Item = &'a String>,
        paths: impl Iterator<Item = &'a String>,
    ) -> Result<Document, AddendumError> {
        patch.apply_in_place(&mut v).map_err(AddendumError::Patch)?;
        if v.get("addenda").is_some() {
            return Err(AddendumError::Rewrites {
                what: "/addenda".into(),
            });
        }
        let next = Document::from_owned_value_reusing(v, Some(self))
            .map_err(|e| AddendumError::Invalid(e.to_string()))?;
        if next.layout != self.layout {
            return Err(AddendumError::Rewrites {
                what: "/layout".into(),
            });
        }
        for name in names {
            if let Some(value) = self.metadata.get(name) {
                if next.metadata.get(name) != Some(value) {
                    return Err(AddendumError::Rewrites {
                        what: format!("/metadata/{name}"),
                    });
                }
            }
        }
        for path in paths {
            if let Some(bytes) = self.files.get(path) {
                if next.files.get(path) != Some(bytes) {
                    return Err(AddendumError::Rewrites {
                        what: format!("/files/{path}"),
                    });
                }
            }
        }
        Ok(next)
    }

    /// [`Document::apply_patch`] on a document it may consume, without copying it: the patch
    /// is applied to a document made of only what it can reach (an addendum typically adds
    /// one link beside 100,000 artifacts' worth of others), and what it did not reach is
    /// moved into the result. Same result and same errors as `apply_patch` (a property test
    /// holds them equal); patches that reach `/metadata` or `/files` as a whole, or the whole
    /// document, take `apply_patch` itself.
    fn apply_patch_owned(self, patch: &Patch) -> Result<Document, AddendumError> {
        let Some(scope) = PatchScope::of(patch) else {
            return self.apply_patch(patch);
        };
        let mut reach = Map::new();
        for name in ["_type", "layout"]
            .into_iter()
            .chain(scope.members.iter().map(String::as_str))
        {
            if let Some(v) = self.member_value(name) {
                reach.insert(name.to_owned(), v);
            }
        }
        let entries = |names: &BTreeSet<String>, of: &dyn Fn(&str) -> Option<Value>| {
            Value::Object(
                names
                    .iter()
                    .filter_map(|n| Some((n.clone(), of(n)?)))
                    .collect(),
            )
        };
        reach.insert(
            "metadata".into(),
            entries(&scope.metadata, &|n| {
                self.metadata.get(n).map(|v| Value::clone(v))
            }),
        );
        if !self.files.is_empty() {
            let all = files_value(&self.files);
            reach.insert(
                "files".into(),
                entries(&scope.files, &|n| all.get(n).cloned()),
            );
        }
        let part = self.patched(
            Value::Object(reach),
            patch,
            scope.metadata.iter(),
            scope.files.iter(),
        )?;
        let reached = |m: &str| scope.members.contains(m);
        if reached("attestations")
            && part.attestations.get(..self.attestations.len()) != Some(&self.attestations[..])
        {
            return Err(AddendumError::Rewrites {
                what: "/attestations".into(),
            });
        }
        let Document {
            layout,
            mut metadata,
            attestations,
            supplement,
            mutations,
            mut files,
            parsed,
            ..
        } = self;
        let mut cache = parsed.0.into_inner().unwrap_or_default();
        cache.extend(part.parsed.0.into_inner().unwrap_or_default());
        metadata.extend(part.metadata);
        files.extend(part.files);
        Ok(Document {
            layout,
            metadata,
            attestations: if reached("attestations") {
                part.attestations
            } else {
                attestations
            },
            supplement: if reached("supplement") {
                part.supplement
            } else {
                supplement
            },
            mutations: if reached("mutations") {
                part.mutations
            } else {
                mutations
            },
            files,
            addenda: Vec::new(),
            parsed: EnvelopeCache(std::sync::Mutex::new(cache)),
            current: CurrentCache::default(),
        })
    }

    /// Appends an addendum signed by `key`, at `time` (RFC 3339, from the caller). The
    /// patch must apply to the current document.
    pub fn amend(
        &mut self,
        patch: Patch,
        key: &PrivateKey,
        time: &str,
    ) -> Result<&Addendum, DocumentError> {
        let index = self.addenda.len();
        let err = |reason| DocumentError::Addendum { index, reason };
        if chrono::DateTime::parse_from_rfc3339(time).is_err() {
            return Err(err(AddendumError::BadTime {
                time: time.to_owned(),
            }));
        }
        // A copy of the current document is cheap (its links are shared), and a patch
        // applied to what it reaches does not copy them either.
        let next = self
            .current()?
            .into_owned()
            .apply_patch_owned(&patch)
            .map_err(err)?;
        let mut a = Addendum {
            patch,
            author: key.public_key().keyid().clone(),
            time: time.to_owned(),
            previous: self.digest()?,
            signature: Vec::new(),
        };
        a.signature = key.sign(&a.signed_bytes()?)?;
        self.addenda.push(a);
        // The amended document is the one the check above made.
        self.current = CurrentCache::default();
        let _ = self.current.0.set(Box::new(next));
        Ok(&self.addenda[index])
    }

    /// Checks every addendum: the digest chain, a valid signature by a `trusted` key whose
    /// id is the author, a patch that applies and rewrites no history.
    ///
    /// Trust: the caller passes the keys the layout owner trusts to amend. `sbomit document
    /// verify` passes the project owner's layout keys (the keys that must have signed the
    /// layout) plus any `--addendum-keys`.
    pub fn verify_addenda(&self, trusted: &[PublicKey]) -> Result<(), DocumentError> {
        self.verify_addenda_with(trusted, &BTreeMap::new())
    }

    /// [`Document::verify_addenda`], also accepting addenda by SIT generators: `generators`
    /// maps a generator's key to the generator steps it is a functionary of, and such an
    /// addendum may only add that key's links for those steps (`/metadata/<step>.<keyid8>.link`).
    pub fn verify_addenda_with(
        &self,
        trusted: &[PublicKey],
        generators: &BTreeMap<KeyId, (PublicKey, Vec<String>)>,
    ) -> Result<(), DocumentError> {
        if self.addenda.is_empty() {
            return Ok(());
        }
        // The addenda applied in order, unless the current document was already made (by
        // [`Document::current`], which applies them with the same checks): then only the
        // chain, the authors and the signatures are left to check.
        let mut state = match self.current.0.get() {
            Some(_) => None,
            None => {
                let mut base = self.clone();
                base.addenda.clear();
                Some(base)
            }
        };
        for (index, a) in self.addenda.iter().enumerate() {
            let err = |reason| DocumentError::Addendum { index, reason };
            let expected = self.digest_with(index)?;
            if a.previous != expected {
                return Err(err(AddendumError::BrokenChain {
                    expected,
                    found: a.previous,
                }));
            }
            if chrono::DateTime::parse_from_rfc3339(&a.time).is_err() {
                return Err(err(AddendumError::BadTime {
                    time: a.time.clone(),
                }));
            }
            let key = match trusted.iter().find(|k| k.keyid() == &a.author) {
                Some(k) => k,
                None => match generators.get(&a.author) {
                    Some((k, steps)) => {
                        generator_patch_only_adds_own_links(&a.patch, &a.author, steps)
                            .map_err(err)?;
                        k
                    }
                    None => {
                        return Err(err(AddendumError::UntrustedAuthor {
                            author: a.author.clone(),
                        }))
                    }
                },
            };
            let msg = a.signed_bytes()?;
            key.verify(&msg, &a.signature).map_err(|_| {
                err(AddendumError::BadSignature {
                    author: a.author.clone(),
                })
            })?;
            if let Some(s) = state.take() {
                state = Some(s.apply_patch_owned(&a.patch).map_err(err)?);
            }
        }
        // What the addenda made is the current document: [`Document::current`] need not make
        // it again.
        if let Some(state) = state {
            let _ = self.current.0.set(Box::new(state));
        }
        Ok(())
    }

    // ---- verification

    /// Runs in-toto verification of the amended document's layout over its embedded links,
    /// after checking the addenda against `layout_keys` and `addendum_keys`.
    pub fn verify(
        &self,
        layout_keys: &[PublicKey],
        addendum_keys: &[PublicKey],
        options: &VerifyOptions,
        inspections: &dyn InspectionRunner,
    ) -> Result<VerificationReport, DocumentVerifyError> {
        let trusted: Vec<PublicKey> = layout_keys.iter().chain(addendum_keys).cloned().collect();
        // The layout is the base's: addenda cannot change it. Its signatures are checked by
        // the in-toto verification below; until then it only says who the generators are,
        // and what they may add is checked again there (their links, by their keys).
        let roles_layout = match sbomit_intoto::metadata::Metadata::from_payload(
            self.layout_envelope()?.payload(),
        ) {
            Ok(sbomit_intoto::metadata::Metadata::Layout(l)) => Some(l),
            _ => None,
        };
        let generators = roles_layout
            .as_ref()
            .map(generator_keys)
            .unwrap_or_default();
        self.verify_addenda_with(&trusted, &generators)?;
        let current = self.current()?;
        let layout = current.layout_envelope()?;
        let mut options = options.clone();
        if let Some(l) = &roles_layout {
            // Generator steps without links are left out until a SIT of theirs exists;
            // no role step delivers the final product.
            options
                .skip_steps
                .extend(crate::steps::generator_steps_without_links(
                    current.metadata(),
                    l,
                ));
            options
                .summary_skip_steps
                .extend(crate::steps::all_role_steps(l));
        }
        Ok(sbomit_intoto::verify::verify(
            &layout,
            layout_keys,
            &options,
            &current.links(),
            inspections,
        )?)
    }

    /// The embedded metadata as a [`LinkSource`].
    pub fn links(&self) -> EmbeddedLinks<'_> {
        EmbeddedLinks {
            doc: self,
            prefix: String::new(),
        }
    }

    /// The metadata file bytes of entry `name`, as the reference writes the envelope (for
    /// files the reference wrote, the bytes received).
    pub fn metadata_file_bytes(&self, name: &str) -> Option<Result<Vec<u8>, DocumentError>> {
        self.metadata_envelope(name)
            .map(|r| r.map(|e| e.to_file_bytes()))
    }

    /// The layout file bytes (see [`Document::metadata_file_bytes`]).
    pub fn layout_file_bytes(&self) -> Result<Vec<u8>, DocumentError> {
        Ok(self.layout_envelope()?.to_file_bytes())
    }
}

/// The keys of the layout's generator steps, with the steps each is a functionary of.
fn generator_keys(
    layout: &sbomit_intoto::model::Layout,
) -> BTreeMap<KeyId, (PublicKey, Vec<String>)> {
    let mut out: BTreeMap<KeyId, (PublicKey, Vec<String>)> = BTreeMap::new();
    for step in crate::steps::role_steps(layout, crate::steps::Role::Generator) {
        for keyid in &step.pubkeys {
            if let Some(Ok(k)) = layout.public_key(keyid) {
                out.entry(keyid.clone())
                    .or_insert_with(|| (k, Vec::new()))
                    .1
                    .push(step.name.clone());
            }
        }
    }
    out
}

/// A generator's addendum may only add its own links for its steps.
fn generator_patch_only_adds_own_links(
    patch: &Patch,
    author: &KeyId,
    steps: &[String],
) -> Result<(), AddendumError> {
    use crate::jsonpatch::Operation;
    let allowed: Vec<String> = steps
        .iter()
        .map(|s| format!("{s}.{}.link", author.short()))
        .collect();
    for op in &patch.0 {
        let ok = match op {
            Operation::Add { path, .. } => matches!(path.tokens(),
                [m, name] if m == "metadata" && allowed.contains(name)),
            _ => false,
        };
        if !ok {
            return Err(AddendumError::GeneratorOverreach {
                author: author.clone(),
                what: op_summary(op),
            });
        }
    }
    Ok(())
}

fn op_summary(op: &crate::jsonpatch::Operation) -> String {
    use crate::jsonpatch::Operation as O;
    let (name, path) = match op {
        O::Add { path, .. } => ("add", path),
        O::Remove { path } => ("remove", path),
        O::Replace { path, .. } => ("replace", path),
        O::Move { path, .. } => ("move", path),
        O::Copy { path, .. } => ("copy", path),
        O::Test { path, .. } => ("test", path),
    };
    let p: String = path.tokens().iter().map(|t| format!("/{t}")).collect();
    format!("{name} {p}")
}

/// Why a document did not verify (as opposed to failing verification, which is a report).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DocumentVerifyError {
    #[error(transparent)]
    Document(#[from] DocumentError),
    #[error(transparent)]
    Verify(#[from] VerifyError),
}

/// The links of a document (or of one of its sublayouts) as a [`LinkSource`]: a link is the
/// entry `<prefix><step>.<keyid8>.link`, or else a link attestation (Statement v1, link
/// predicate) for `step` signed with `keyid` among the document's attestations.
pub struct EmbeddedLinks<'a> {
    doc: &'a Document,
    prefix: String,
}

impl EmbeddedLinks<'_> {
    /// The metadata name a step's link by `keyid` has here.
    pub fn name(&self, step: &str, keyid: &KeyId) -> String {
        format!("{}{step}.{}.link", self.prefix, keyid.short())
    }
}

impl LinkSource for EmbeddedLinks<'_> {
    fn load(&self, step: &str, keyid: &KeyId) -> Result<Option<SignedLink>, SourceError> {
        let name = self.name(step, keyid);
        if let Some(v) = self.doc.metadata.get(&name) {
            return Ok(Some(self.doc.parsed.get_or_parse(&name, v)?));
        }
        if !self.prefix.is_empty() {
            return Ok(None);
        }
        for (i, v) in self.doc.attestations.iter().enumerate() {
            let env = parse_envelope(&format!("attestations[{i}]"), v)?;
            let p = env.payload();
            let is_link = p.get("predicateType").and_then(Value::as_str)
                == Some(sbomit_intoto::statement::LINK_PREDICATE_V03);
            let for_step = p.pointer("/predicate/name").and_then(Value::as_str) == Some(step);
            if is_link && for_step && env.signatures().iter().any(|s| &s.keyid == keyid) {
                return Ok(Some(SignedLink::new(env)));
            }
        }
        Ok(None)
    }

    fn sublayout_source(
        &self,
        step: &str,
        keyid: &KeyId,
    ) -> Result<Box<dyn LinkSource + '_>, SourceError> {
        Ok(Box::new(EmbeddedLinks {
            doc: self.doc,
            prefix: format!("{}{step}.{}/", self.prefix, keyid.short()),
        }))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use sbomit_crypto::KeyKind;
    use serde_json::json;

    fn layout_bytes(owner: &PrivateKey) -> Vec<u8> {
        let layout = json!({"_type": "layout", "expires": "2030-01-01T00:00:00Z", "readme": "",
                            "keys": {}, "steps": [], "inspect": []});
        let mut e = Envelope::new(EnvelopeKind::Classic, &layout).unwrap();
        e.sign(owner).unwrap();
        e.to_file_bytes()
    }

    fn doc(owner: &PrivateKey) -> Document {
        Document::new(&layout_bytes(owner)).unwrap()
    }

    fn supplier_patch(name: &str) -> Patch {
        Patch::from_value(&json!([
            {"op": "add", "path": "/supplement/supplier", "value": {"name": name}}
        ]))
        .unwrap()
    }

    /// A document with something in every member, for the patch equivalence test.
    fn full_doc(owner: &PrivateKey) -> Document {
        let mut d = doc(owner);
        let bytes = layout_bytes(owner);
        d.add_metadata("a.12345678.link", &bytes).unwrap();
        d.add_metadata("b.12345678.link", &bytes).unwrap();
        let st = json!({"_type": "https://in-toto.io/Statement/v1",
                        "subject": [{"name": "a", "digest": {"sha256": "00"}}],
                        "predicateType": "https://example.com/p", "predicate": {}});
        let mut e = Envelope::new(EnvelopeKind::Dsse, &st).unwrap();
        e.sign(owner).unwrap();
        d.add_attestation(&e.to_file_bytes()).unwrap();
        d.set_supplement(Supplement {
            name: Some("demo".into()),
            ..Supplement::default()
        });
        d.set_mutation("cyclonedx", supplier_patch("x"));
        d.add_file("Cargo.lock", b"lock".to_vec()).unwrap();
        d
    }

    /// Addenda are numbered from 1 in messages, as `document show --history` numbers them.
    #[test]
    fn addendum_errors_count_from_one() {
        let owner = shared_owner();
        let mut d = doc(owner);
        d.amend(supplier_patch("A"), owner, "2025-01-01T00:00:00Z")
            .unwrap();
        let stranger = PrivateKey::generate(KeyKind::Ed25519).unwrap();
        let e = d
            .verify_addenda(&[stranger.public_key().clone()])
            .unwrap_err();
        assert!(e.to_string().starts_with("addendum 1: "), "{e}");
    }

    /// The file written from borrowed members is the pretty JSON of the whole value.
    #[test]
    fn document_bytes_are_the_pretty_json_of_its_value() {
        let owner = shared_owner();
        let mut d = full_doc(owner);
        d.amend(supplier_patch("A"), owner, "2025-01-01T00:00:00Z")
            .unwrap();
        let mut want = serde_json::to_vec_pretty(&d.to_value()).unwrap();
        want.push(b'\n');
        assert_eq!(d.to_bytes(), want);
        let empty = doc(owner);
        let mut want = serde_json::to_vec_pretty(&empty.to_value()).unwrap();
        want.push(b'\n');
        assert_eq!(empty.to_bytes(), want);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(400))]
        /// Applying a patch to only what it reaches (addenda of large documents) gives the
        /// same document, or the same error, as applying it to the whole document.
        #[test]
        fn a_patch_applied_to_what_it_reaches_equals_one_applied_to_the_whole_document(
            ops in proptest::collection::vec((0usize..6, 0usize..22, 0usize..22, 0usize..8), 1..4),
        ) {
            let owner = shared_owner();
            let d = full_doc(owner);
            let whole = d.to_value();
            let paths = [
                "/metadata/a.12345678.link", "/metadata/new.12345678.link",
                "/metadata/a.12345678.link/signatures/0", "/metadata/b.12345678.link/payload",
                "/metadata/bad name", "/files/Cargo.lock", "/files/new.txt",
                "/files/Cargo.lock/content", "/supplement/supplier", "/supplement",
                "/supplement/name", "/attestations/-", "/attestations/0", "/mutations/spdx-2.3",
                "/mutations", "/layout", "/addenda", "/_type", "/metadata", "/files", "", "/foo",
            ];
            let values = [
                whole["metadata"]["a.12345678.link"].clone(),
                whole["files"]["Cargo.lock"].clone(),
                json!({"name": "ACME"}),
                json!("text"),
                json!([]),
                whole["attestations"][0].clone(),
                json!([{"op": "add", "path": "/x", "value": 1}]),
                json!({}),
            ];
            let kinds = ["add", "remove", "replace", "test", "copy", "move"];
            let patch: Vec<Value> = ops
                .iter()
                .map(|&(k, path, from, value)| {
                    json!({"op": kinds[k], "path": paths[path], "from": paths[from],
                           "value": values[value]})
                })
                .collect();
            let patch = Patch::from_value(&Value::Array(patch)).unwrap();
            let expected = d.apply_patch(&patch);
            let got = d.clone().apply_patch_owned(&patch);
            match (expected, got) {
                (Ok(a), Ok(b)) => proptest::prop_assert_eq!(a, b),
                (Err(a), Err(b)) => proptest::prop_assert_eq!(a.to_string(), b.to_string()),
                (a, b) => proptest::prop_assert!(false, "{:?} vs {:?}", a.map(|_| ()), b.map(|_| ())),
            }
        }
    }

    fn shared_owner() -> &'static PrivateKey {
        static KEY: std::sync::OnceLock<PrivateKey> = std::sync::OnceLock::new();
        KEY.get_or_init(|| PrivateKey::generate(KeyKind::Ed25519).unwrap())
    }

    #[test]
    fn embedded_files_are_checked_on_reading_and_cannot_be_rewritten_by_addenda() {
        let owner = PrivateKey::generate(KeyKind::Ed25519).unwrap();
        let mut d = doc(&owner);
        assert!(d.add_file("../etc/passwd", vec![1]).is_err());
        assert!(d.add_file("/abs", vec![1]).is_err());
        d.add_file("Cargo.lock", b"lock".to_vec()).unwrap();
        let back = Document::from_bytes(&d.to_bytes()).unwrap();
        assert_eq!(back.files(), d.files());
        let mut v = d.to_value();
        v["files"]["Cargo.lock"]["content"] = json!("b3RoZXI="); // "other"
        assert!(
            Document::from_value(&v).is_err(),
            "a content not matching its sha256"
        );
        let patch = Patch::from_value(&json!([
            {"op": "replace", "path": "/files/Cargo.lock/content", "value": "b3RoZXI="}
        ]))
        .unwrap();
        assert!(d.amend(patch, &owner, "2025-01-01T00:00:00Z").is_err());
    }

    #[test]
    fn round_trips_through_bytes() {
        let owner = PrivateKey::generate(KeyKind::Ed25519).unwrap();
        let mut d = doc(&owner);
        d.set_supplement(Supplement {
            name: Some("demo".into()),
            ..Supplement::default()
        });
        d.set_mutation("cyclonedx", supplier_patch("x"));
        d.amend(supplier_patch("ACME"), &owner, "2025-01-01T00:00:00Z")
            .unwrap();
        let back = Document::from_bytes(&d.to_bytes()).unwrap();
        assert_eq!(back, d);
        assert_eq!(back.digest().unwrap(), d.digest().unwrap());
        back.verify_addenda(&[owner.public_key().clone()]).unwrap();
        assert_eq!(
            back.current().unwrap().supplement().supplier,
            Some(Party {
                name: "ACME".into(),
                ..Party::default()
            })
        );
        // The layout still verifies from the document.
        back.layout_envelope()
            .unwrap()
            .verify(owner.public_key())
            .unwrap();
    }

    /// The digest written member by member is the digest of the whole value.
    #[test]
    fn digest_is_the_canonical_json_of_the_whole_document() {
        let owner = PrivateKey::generate(KeyKind::Ed25519).unwrap();
        let mut d = doc(&owner);
        let bytes = layout_bytes(&owner);
        d.add_metadata("b.12345678.link", &bytes).unwrap();
        d.add_metadata("a.12345678.link", &bytes).unwrap();
        let st = json!({"_type": "https://in-toto.io/Statement/v1",
                        "subject": [{"name": "a", "digest": {"sha256": "00"}}],
                        "predicateType": "https://example.com/p", "predicate": {}});
        let mut e = Envelope::new(EnvelopeKind::Dsse, &st).unwrap();
        e.sign(&owner).unwrap();
        d.add_attestation(&e.to_file_bytes()).unwrap();
        d.add_attestation(&e.to_file_bytes()).unwrap();
        d.set_supplement(Supplement {
            name: Some("n\"ame".into()),
            ..Supplement::default()
        });
        d.set_mutation("cyclonedx", supplier_patch("x"));
        d.add_file("dist/app.tar.gz", b"\x1f\x8b app".to_vec())
            .unwrap();
        d.amend(supplier_patch("A"), &owner, "2025-01-01T00:00:00Z")
            .unwrap();
        d.amend(supplier_patch("B"), &owner, "2025-01-02T00:00:00Z")
            .unwrap();
        for n in 0..=2 {
            let whole = sbomit_intoto::canonical::encode(&d.to_value_with(n)).unwrap();
            assert_eq!(d.digest_with(n).unwrap(), Sha256::digest(&whole), "{n}");
        }
        assert_eq!(
            d.digest().unwrap(),
            Sha256::digest(&sbomit_intoto::canonical::encode(&d.to_value()).unwrap())
        );
    }

    #[test]
    fn rejects_tampered_untrusted_and_rewriting_addenda() {
        let owner = PrivateKey::generate(KeyKind::Ed25519).unwrap();
        let other = PrivateKey::generate(KeyKind::Ed25519).unwrap();
        let trusted = [owner.public_key().clone()];
        let mut d = doc(&owner);
        d.amend(supplier_patch("A"), &owner, "2025-01-01T00:00:00Z")
            .unwrap();
        d.amend(supplier_patch("B"), &owner, "2025-01-02T00:00:00Z")
            .unwrap();
        d.verify_addenda(&trusted).unwrap();
        assert_eq!(d.addenda().len(), 2);

        let mut tampered = d.clone();
        tampered.addenda[0].patch = supplier_patch("Evil");
        assert!(matches!(
            tampered.verify_addenda(&trusted),
            Err(DocumentError::Addendum {
                index: 0,
                reason: AddendumError::BadSignature { .. }
            })
        ));

        // Rewriting an earlier addendum breaks the chain of the next one too.
        let mut dropped = d.clone();
        dropped.addenda.remove(0);
        assert!(matches!(
            dropped.verify_addenda(&trusted),
            Err(DocumentError::Addendum {
                index: 0,
                reason: AddendumError::BrokenChain { .. }
            })
        ));

        let mut untrusted = d.clone();
        untrusted
            .amend(supplier_patch("C"), &other, "2025-01-03T00:00:00Z")
            .unwrap();
        assert!(matches!(
            untrusted.verify_addenda(&trusted),
            Err(DocumentError::Addendum {
                index: 2,
                reason: AddendumError::UntrustedAuthor { .. }
            })
        ));

        let rewrite = Patch::from_value(&json!([
            {"op": "replace", "path": "/layout/signatures", "value": []}
        ]))
        .unwrap();
        assert!(matches!(
            d.clone().amend(rewrite, &owner, "2025-01-03T00:00:00Z"),
            Err(DocumentError::Addendum {
                reason: AddendumError::Rewrites { .. },
                ..
            })
        ));
        assert!(matches!(
            d.clone().amend(supplier_patch("D"), &owner, "yesterday"),
            Err(DocumentError::Addendum {
                reason: AddendumError::BadTime { .. },
                ..
            })
        ));
    }

    #[test]
    fn imports_a_jsonl_bundle_all_or_nothing() {
        let owner = PrivateKey::generate(KeyKind::Ed25519).unwrap();
        let mut d = doc(&owner);
        let st = json!({"_type": "https://in-toto.io/Statement/v1",
                        "subject": [{"name": "a", "digest": {"sha256": "00"}}],
                        "predicateType": "https://example.com/p", "predicate": {}});
        let mut e = Envelope::new(EnvelopeKind::Dsse, &st).unwrap();
        e.sign(&owner).unwrap();
        let line = e.to_file_bytes();
        let mut bundle = line.clone();
        bundle.extend_from_slice(b"\n\n");
        bundle.extend_from_slice(&line);
        bundle.push(b'\n');
        assert_eq!(d.import_bundle(&bundle).unwrap(), 2);
        let mut bad = line.clone();
        bad.extend_from_slice(b"\n{\"signed\": {}, \"signatures\": []}\n");
        assert!(matches!(
            d.import_bundle(&bad),
            Err(DocumentError::BundleNotDsse { line: 2 })
        ));
        assert_eq!(d.attestations().len(), 2);
        // DSSE payload bytes survive exactly.
        let back = Document::from_bytes(&d.to_bytes()).unwrap();
        let env = parse_envelope("a", &back.attestations()[0]).unwrap();
        env.verify(owner.public_key()).unwrap();
    }

    #[test]
    fn rejects_unsafe_metadata_names() {
        let owner = PrivateKey::generate(KeyKind::Ed25519).unwrap();
        let mut d = doc(&owner);
        let bytes = layout_bytes(&owner);
        for name in ["../x.link", "/abs.link", "a//b.link", "x.json", "a\\b.link"] {
            assert!(
                matches!(
                    d.add_metadata(name, &bytes),
                    Err(DocumentError::BadName { .. })
                ),
                "{name}"
            );
        }
        d.add_metadata("sub.12345678/inner.abcdef01.link", &bytes)
            .unwrap();
    }
}
