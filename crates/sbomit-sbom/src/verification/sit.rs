//! Verifying a SIT, with every check's result as data.
//!
//! *Light* verification checks the SIT's signature (a DSSE envelope around an in-toto Statement
//! whose predicate is the SIT, byte for byte) and an embedded JSF signature, against keys the
//! verifier trusts itself, or against the keys the document's layout authorizes when the
//! document could not be fully verified (its inspections did not run). *Full* verification
//! needs a fully verified document: the layout's `sbomit-sit` step decides who may sign, the
//! SIT must be what the document yields when regenerated with the SIT's own options, and no
//! mutation may override in-toto-derived content unless the verifier accepts that.
//!
//! [`verify_sit`] does no IO: the caller reads the SIT, its envelope, the document and the
//! attested lockfiles, and verifies the document (which may run inspections) beforehand.

// `SitVerifyError` wraps `DocumentError` and `SitError` with their context; a SIT is verified
// once per run, so the size of the `Err` variant does not matter.
#![allow(clippy::result_large_err)]

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::Value;

use sbomit_crypto::{KeyId, PublicKey};
use sbomit_intoto::envelope::Envelope;
use sbomit_intoto::metadata::Metadata;
use sbomit_intoto::model::Layout;

use super::document::{DocumentOutcome, DocumentVerification, InspectionNotRun};
use crate::document::{Document, DocumentError};
use crate::sit::jsf::{self, JsfError};
use crate::sit::received::{
    detect_format, document_digest_from_sit, options_from_sit, SitReadError,
};
use crate::sit::sign::{Authorized, SitSignatureError, VerifiedSignature};
use crate::sit::{self, compare, Format, MutationWarning, SitError};

/// A SIT as received: its file bytes, their JSON and its format.
#[derive(Clone, Debug)]
pub struct ReceivedSit<'a> {
    bytes: &'a [u8],
    value: Value,
    format: Format,
}

impl<'a> ReceivedSit<'a> {
    /// Reads a SIT file's bytes: JSON, in a format this tool writes.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, SitVerifyError> {
        let value: Value = serde_json::from_slice(bytes).map_err(SitVerifyError::NotJson)?;
        let format = detect_format(&value).ok_or(SitVerifyError::UnknownFormat)?;
        Ok(ReceivedSit {
            bytes,
            value,
            format,
        })
    }

    pub fn bytes(&self) -> &[u8] {
        self.bytes
    }

    pub fn value(&self) -> &Value {
        &self.value
    }

    pub fn format(&self) -> Format {
        self.format
    }

    /// Whether the SIT embeds a JSF signature (CycloneDX only).
    pub fn has_jsf(&self) -> bool {
        self.format.family() == "cyclonedx" && self.value.get(jsf::SIGNATURE_PROPERTY).is_some()
    }
}

/// What a SIT is verified against.
#[derive(Clone, Copy, Debug)]
pub enum Against<'a> {
    /// Light: keys the verifier trusts to sign SITs (any one suffices).
    Keys(&'a [PublicKey]),
    /// The document the SIT was generated from, the outcome of verifying it, and the attested
    /// lockfiles (path to bytes whose sha256 a link records) to regenerate the SIT with.
    Document {
        document: &'a Document,
        verification: &'a DocumentVerification,
        lockfiles: &'a BTreeMap<String, Vec<u8>>,
    },
}

/// What [`verify_sit`] needs.
#[derive(Clone, Copy, Debug)]
pub struct SitVerifyInput<'a> {
    pub sit: &'a ReceivedSit<'a>,
    /// Its DSSE envelope, when there is one.
    pub envelope: Option<&'a Envelope>,
    pub against: Against<'a>,
    /// Pass even when the document's mutation overrides in-toto-derived content
    /// (`--insecure-allow-in-toto-override`).
    pub allow_in_toto_override: bool,
}

/// Why a SIT could not be verified at all (a failed check is a [`SitVerification`] instead).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SitVerifyError {
    #[error("the SIT is not JSON")]
    NotJson(#[source] serde_json::Error),
    #[error("not a CycloneDX 1.2-1.7, SPDX 2.3 or SPDX 3.0.1 SIT")]
    UnknownFormat,
    /// Light verification against the verifier's keys checks the signature, which is missing.
    #[error("no envelope: light verification checks the SIT's signature")]
    NoEnvelope,
    /// No envelope, and a document that was not fully verified: nothing can be checked.
    #[error("no envelope, and the document could not be fully verified: nothing to check")]
    NothingToCheck,
    #[error(transparent)]
    Document(#[from] DocumentError),
    #[error("the document's layout is not a layout")]
    NotALayout,
    /// The options the SIT was generated with could not be read back from it.
    #[error(transparent)]
    Options(#[from] SitReadError),
    /// The document did not yield a SIT to compare with.
    #[error(transparent)]
    Regenerate(#[from] SitError),
}

/// Light or full (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Light,
    Full,
}

/// What became of the document the SIT is checked against.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DocumentCheck {
    /// Light verification against the verifier's own keys.
    NotGiven,
    Passed,
    /// Everything up to the inspections verified: the layout's authorization of SIT signers
    /// stands, but the content cannot be regenerated.
    Incomplete(InspectionNotRun),
    /// The document did not verify: nothing else was checked.
    Failed,
}

impl DocumentCheck {
    /// What a document's verification means for SITs generated from it.
    pub fn of(verification: &DocumentVerification) -> Self {
        match &verification.outcome {
            DocumentOutcome::Report(r) if r.passed() => DocumentCheck::Passed,
            DocumentOutcome::Incomplete(n) => DocumentCheck::Incomplete(n.clone()),
            _ => DocumentCheck::Failed,
        }
    }
}

/// The SIT's DSSE signature.
#[derive(Debug)]
pub enum SignatureOutcome {
    NotChecked,
    /// No envelope, and no generator recorded the SIT in the document: nobody vouches for
    /// it, so verification fails.
    Absent,
    /// No envelope, but a generator named for the format recorded this SIT's sha256 in the
    /// document (its link, signed by a key the layout lists; see [`crate::roles`]).
    RecordedByGenerator {
        link: String,
        keyid: KeyId,
    },
    Verified(VerifiedSignature),
    /// The signature does not hold, or the layout authorizes no signer.
    Failed(SitSignatureError),
}

/// Why an embedded JSF signature did not verify.
#[derive(Debug, thiserror::Error)]
pub enum JsfFailure {
    /// The layout authorizes no SIT signer.
    #[error(transparent)]
    Authorization(SitSignatureError),
    #[error(transparent)]
    Signature(JsfError),
}

/// The SIT's embedded JSF signature (CycloneDX).
#[derive(Debug)]
pub enum JsfOutcome {
    /// The SIT has none.
    Absent,
    NotChecked,
    /// Verified with this authorized key.
    Verified(KeyId),
    Failed(JsfFailure),
}

/// The SIT's content.
#[derive(Debug, PartialEq, Eq)]
pub enum ContentOutcome {
    NotChecked,
    /// Light: the SIT's bytes are the signed predicate (checked with the signature).
    SignedPredicate,
    /// Full: the SIT is what the document yields (`components` in it), compared
    /// order-insensitively.
    Regenerated {
        components: usize,
        /// Components without a sha256 matching an attested artifact (the SIT was made with
        /// `--allow-unhashed`): their ids.
        unhashed: Vec<String>,
    },
    /// Full: the SIT is not what the document yields, regenerated in `format` as of
    /// `timestamp` (read back from the SIT).
    Differs {
        format: Format,
        timestamp: DateTime<Utc>,
        difference: String,
    },
    /// Full: the SIT names the document it was generated from, and that is neither this
    /// document nor one of its versions: nothing to regenerate it from.
    FromAnotherDocument {
        /// The digest the SIT names (`sbomit:document:sha256`).
        named: sbomit_intoto::digest::Sha256,
        /// This document's digest.
        this: sbomit_intoto::digest::Sha256,
    },
}

/// Mutation operations of the document that override in-toto-derived content.
#[derive(Debug, PartialEq, Eq)]
pub enum OverrideOutcome {
    NotChecked,
    /// The mutation overrides nothing in-toto derived.
    None,
    /// Overrides, accepted by the verifier (`allow_in_toto_override`).
    Accepted(Vec<MutationWarning>),
    /// Overrides, not accepted: verification fails.
    Refused(Vec<MutationWarning>),
}

/// The outcome of verifying a SIT: each check, in the order they ran; a check after a failed
/// one is [`NotChecked`](SignatureOutcome::NotChecked).
#[derive(Debug)]
pub struct SitVerification {
    pub level: Level,
    pub document: DocumentCheck,
    pub signature: SignatureOutcome,
    pub jsf: JsfOutcome,
    pub content: ContentOutcome,
    pub overrides: OverrideOutcome,
}

impl SitVerification {
    fn start(level: Level, document: DocumentCheck) -> Self {
        SitVerification {
            level,
            document,
            signature: SignatureOutcome::NotChecked,
            jsf: JsfOutcome::NotChecked,
            content: ContentOutcome::NotChecked,
            overrides: OverrideOutcome::NotChecked,
        }
    }

    /// True when every check that verification at its level needs passed.
    pub fn passed(&self) -> bool {
        let document = !matches!(self.document, DocumentCheck::Failed);
        let signature = match &self.signature {
            SignatureOutcome::Verified(_) => true,
            SignatureOutcome::RecordedByGenerator { .. } => self.level == Level::Full,
            SignatureOutcome::Absent
            | SignatureOutcome::NotChecked
            | SignatureOutcome::Failed(_) => false,
        };
        let jsf = matches!(self.jsf, JsfOutcome::Absent | JsfOutcome::Verified(_));
        let content = match self.level {
            Level::Light => self.content == ContentOutcome::SignedPredicate,
            Level::Full => matches!(self.content, ContentOutcome::Regenerated { .. }),
        };
        let overrides = match self.level {
            Level::Light => true,
            Level::Full => matches!(
                self.overrides,
                OverrideOutcome::None | OverrideOutcome::Accepted(_)
            ),
        };
        document && signature && jsf && content && overrides
    }
}

/// Verifies a SIT (see the module documentation). Checks stop at the first failure, which
/// the outcome records; `Err` is for inputs that cannot be verified at all.
pub fn verify_sit(input: SitVerifyInput<'_>) -> Result<SitVerification, SitVerifyError> {
    let SitVerifyInput {
        sit,
        envelope,
        against,
        allow_in_toto_override,
    } = input;
    let (document, verification, lockfiles) = match against {
        Against::Keys(keys) => {
            let envelope = envelope.ok_or(SitVerifyError::NoEnvelope)?;
            let mut v = SitVerification::start(Level::Light, DocumentCheck::NotGiven);
            if check_signatures(&mut v, sit, envelope, &Authorized::any_of(keys.to_vec())) {
                v.content = ContentOutcome::SignedPredicate;
            }
            return Ok(v);
        }
        Against::Document {
            document,
            verification,
            lockfiles,
        } => (document, verification, lockfiles),
    };

    let check = DocumentCheck::of(verification);
    let level = match check {
        DocumentCheck::Passed => Level::Full,
        DocumentCheck::Failed => {
            return Ok(SitVerification::start(Level::Light, check));
        }
        DocumentCheck::NotGiven | DocumentCheck::Incomplete(_) => Level::Light,
    };
    let mut v = SitVerification::start(level, check);
    // Only the layout decides who may sign SITs, per format.
    let layout = document_layout(document)?;
    let authorized = Authorized::from_layout(&layout, sit.format());
    match envelope {
        Some(envelope) => {
            let authorized = match authorized {
                Ok(a) => a,
                Err(e) => {
                    v.signature = SignatureOutcome::Failed(e);
                    return Ok(v);
                }
            };
            if !check_signatures(&mut v, sit, envelope, &authorized) {
                return Ok(v);
            }
        }
        None if level == Level::Full => {
            v.signature = match recorded_by_generator(document, &layout, sit) {
                Some((link, keyid)) => SignatureOutcome::RecordedByGenerator { link, keyid },
                None => {
                    v.signature = SignatureOutcome::Absent;
                    return Ok(v);
                }
            };
            v.jsf = if sit.has_jsf() {
                match authorized {
                    Err(e) => JsfOutcome::Failed(JsfFailure::Authorization(e)),
                    Ok(a) => match jsf::verify(sit.value(), &a.keys) {
                        Ok(k) => JsfOutcome::Verified(k),
                        Err(e) => JsfOutcome::Failed(JsfFailure::Signature(e)),
                    },
                }
            } else {
                JsfOutcome::Absent
            };
            if matches!(v.jsf, JsfOutcome::Failed(_)) {
                return Ok(v);
            }
        }
        None => return Err(SitVerifyError::NothingToCheck),
    }
    if level == Level::Light {
        v.content = ContentOutcome::SignedPredicate;
        return Ok(v);
    }

    // Full: regenerate with the SIT's own options and compare.
    let Some(report) = verification.report() else {
        // `Level::Full` means the document passed, which only a report does.
        return Ok(SitVerification::start(Level::Full, DocumentCheck::Failed));
    };
    let format = sit.format();
    let options = options_from_sit(format, sit.value())?;
    // The SIT names the document version it was generated from; later addenda (a
    // generator's link, say) do not change what it should be.
    let version = match document_digest_from_sit(sit.value()) {
        Some(d) => match document.version_with_digest(&d)? {
            Some(n) => document.version(n),
            None => {
                // Say so, rather than regenerate from this one and report its first
                // difference, which would only be the document digest it names.
                v.content = ContentOutcome::FromAnotherDocument {
                    named: d,
                    this: document.digest()?,
                };
                return Ok(v);
            }
        },
        None => None,
    };
    let document = version.as_ref().unwrap_or(document);
    let inventory = sit::derive(document, report, lockfiles, &options)?;
    // The regenerated SIT's bytes are hashed as they are made (in parallel, never whole):
    // when they are the received SIT's bytes, there is nothing to compare. Otherwise both are
    // compared as JSON, which also names the first difference.
    let mut hasher = sit::stream::HashingWriter::default();
    let stream = sit::generate_stream(document, &inventory, format, &options)?;
    let warnings = stream.warnings().to_vec();
    stream.write_to(&mut hasher).map_err(SitError::Write)?;
    let same_bytes = hasher.finish() == unsigned_sit_sha256(sit);
    let generated = if same_bytes {
        None
    } else {
        Some(sit::generate(document, &inventory, format, &options)?)
    };
    if let Some(generated) = generated {
        if let Some(difference) = difference_from(&generated.value, sit) {
            v.content = ContentOutcome::Differs {
                format,
                timestamp: options.timestamp,
                difference,
            };
            return Ok(v);
        }
    }
    v.content = ContentOutcome::Regenerated {
        components: inventory.components.len(),
        unhashed: inventory
            .components
            .iter()
            .filter(|c| c.unhashed.is_some())
            .map(|c| c.id.clone())
            .collect(),
    };
    v.overrides = if warnings.is_empty() {
        OverrideOutcome::None
    } else if allow_in_toto_override {
        OverrideOutcome::Accepted(warnings)
    } else {
        OverrideOutcome::Refused(warnings)
    };
    Ok(v)
}

/// How the received SIT differs from the generated one as JSON (its JSF signature, checked
/// already, left out), if it does.
fn difference_from(generated: &Value, sit: &ReceivedSit<'_>) -> Option<String> {
    let stripped;
    let received = if sit.has_jsf() {
        // The JSF signature was checked above; it is not part of the generated content.
        let mut value = sit.value().clone();
        if let Some(m) = value.as_object_mut() {
            m.remove(jsf::SIGNATURE_PROPERTY);
        }
        stripped = value;
        &stripped
    } else {
        sit.value()
    };
    compare::difference(generated, received)
}

/// Checks the envelope, then an embedded JSF signature, against the authorized keys,
/// recording both; true when they hold.
fn check_signatures(
    v: &mut SitVerification,
    sit: &ReceivedSit<'_>,
    envelope: &Envelope,
    authorized: &Authorized,
) -> bool {
    match sit::sign::verify(envelope, sit.format(), sit.bytes(), sit.value(), authorized) {
        Ok(s) => v.signature = SignatureOutcome::Verified(s),
        Err(e) => {
            v.signature = SignatureOutcome::Failed(e);
            return false;
        }
    }
    if !sit.has_jsf() {
        v.jsf = JsfOutcome::Absent;
        return true;
    }
    match jsf::verify(sit.value(), &authorized.keys) {
        Ok(k) => {
            v.jsf = JsfOutcome::Verified(k);
            true
        }
        Err(e) => {
            v.jsf = JsfOutcome::Failed(JsfFailure::Signature(e));
            false
        }
    }
}

/// The generator link in `document` that records this SIT (the sha256 of its bytes without a
/// JSF signature), by a functionary of the generator step named for its format.
fn recorded_by_generator(
    document: &Document,
    layout: &Layout,
    sit: &ReceivedSit<'_>,
) -> Option<(String, KeyId)> {
    let step = crate::roles::step_for(layout, crate::roles::Role::Generator, sit.format().name())?;
    let digest = unsigned_sit_sha256(sit);
    let current = document.current().ok()?;
    crate::roles::generator_links(&current, layout)
        .into_iter()
        .flatten()
        .find(|g| g.step == step.name && g.format == sit.format() && g.sit == digest)
        .map(|g| (g.name, g.keyid))
}

/// The sha256 generators record for a SIT: of its file bytes, rendered without a JSF
/// signature (which is made after the content, over it).
pub fn unsigned_sit_sha256(sit: &ReceivedSit<'_>) -> sbomit_intoto::digest::Sha256 {
    if !sit.has_jsf() {
        return sbomit_intoto::digest::Sha256::digest(sit.bytes());
    }
    let mut value = sit.value().clone();
    if let Some(m) = value.as_object_mut() {
        m.remove(jsf::SIGNATURE_PROPERTY);
    }
    sbomit_intoto::digest::Sha256::digest(&crate::sit::sign::sit_bytes(&value))
}

/// The layout of a document (whose signatures were verified with the document).
fn document_layout(doc: &Document) -> Result<Layout, SitVerifyError> {
    let env = doc.current()?.layout_envelope()?;
    match Metadata::from_payload(env.payload()) {
        Ok(Metadata::Layout(l)) => Ok(l),
        _ => Err(SitVerifyError::NotALayout),
    }
}
