//! Final product verification: `verifylib.in_toto_verify`, in the reference's order:
//!
//! 1. layout signatures (every given key must have signed);
//! 2. expiry against the caller's time;
//! 3. parameter substitution;
//! 4. loading links (at least `threshold` per step);
//! 5. link signatures and thresholds (distinct authorized keys);
//! 6. sublayouts (recursively, replaced by their summary links);
//! 7. command alignment (warnings only);
//! 8. links of one step must agree;
//! 9. step rules;
//! 10. inspections (run only now);
//! 11. inspection rules.
//!
//! Pure: links come from a [`LinkSource`], inspection results from an [`InspectionRunner`],
//! the time from the caller. A failed verification is a [`VerificationReport`] naming the
//! step, rule and artifact; `Err` is kept for inputs that cannot be processed at all.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::{DateTime, Utc};
use serde_json::Value;

use std::borrow::Cow;
use std::sync::OnceLock;

use crate::envelope::{Envelope, EnvelopeKind};
use sbomit_crypto::{KeyError, KeyId, PublicKey};

use crate::metadata::{Metadata, MetadataError};
use crate::model::{CompactLink, Inspection, Layout, Link, SubstitutionError};
use crate::rule_engine::{verify_compact_item_rules, RuleViolation};
use crate::rules::{ArtifactRule, ArtifactType};

/// Errors from the IO side (link files, inspection commands), passed through.
pub type SourceError = Box<dyn std::error::Error + Send + Sync>;

/// Where link metadata comes from. The filesystem implementation (`sbomit-fs`) reads
/// `<step>.<keyid8>.link` and looks for a sublayout's links in `<step>.<keyid8>/`.
pub trait LinkSource {
    /// The metadata recorded for `step` by the functionary `keyid`, or `None` when there is
    /// none (a missing file is not an error: authorized is not required).
    fn load(&self, step: &str, keyid: &KeyId) -> Result<Option<SignedLink>, SourceError>;

    /// The source of the links of the sublayout that `keyid` signed for `step`.
    fn sublayout_source(
        &self,
        step: &str,
        keyid: &KeyId,
    ) -> Result<Box<dyn LinkSource + '_>, SourceError>;
}

/// A link's envelope with the link read from it once. Verification, SIT derivation and the
/// filesystem source's prefetch (which warms it on all cores) all need the link, and parsing
/// a link of 100,000 artifacts is most of a verification's time; the envelope itself knows
/// nothing of links. Clones share nothing but copy what was already read.
#[derive(Clone, Debug)]
pub struct SignedLink {
    envelope: Envelope,
    link: OnceLock<Option<CompactLink>>,
}

impl SignedLink {
    pub fn new(envelope: Envelope) -> Self {
        SignedLink {
            envelope,
            link: OnceLock::new(),
        }
    }

    pub fn envelope(&self) -> &Envelope {
        &self.envelope
    }

    pub fn into_envelope(self) -> Envelope {
        self.envelope
    }

    /// The payload read as a link without building a JSON tree, computed once. `None` when
    /// the payload is not a plain link, or a classic envelope was not read from bytes: read
    /// the envelope's payload then.
    pub fn compact_link(&self) -> Option<&CompactLink> {
        self.link
            .get_or_init(|| match self.envelope.kind() {
                EnvelopeKind::Classic => self
                    .envelope
                    .received_file()
                    .and_then(CompactLink::from_metablock_text),
                EnvelopeKind::Dsse => self
                    .envelope
                    .payload_bytes()
                    .filter(|p| !p.is_empty())
                    .and_then(CompactLink::from_payload_text),
            })
            .as_ref()
    }
}

impl From<Envelope> for SignedLink {
    fn from(envelope: Envelope) -> Self {
        SignedLink::new(envelope)
    }
}

/// Runs inspections at verification time and returns the link they produce (materials and
/// products recorded, `byproducts["return-value"]` set).
pub trait InspectionRunner {
    fn run(&self, inspection: &Inspection) -> Result<Link, SourceError>;
}

/// How deep sublayouts may nest before verification gives up.
pub const DEFAULT_MAX_DEPTH: usize = 16;

/// What verification needs besides metadata.
#[derive(Clone, Debug)]
pub struct VerifyOptions {
    /// The verification time; the layout must expire strictly after it.
    pub now: DateTime<Utc>,
    /// Values for `{NAME}` in the layout (`None`: no substitution at all, as the reference).
    pub parameters: Option<BTreeMap<String, String>>,
    pub max_depth: usize,
    /// Steps of the root layout that are not build steps and so have no links (SBOMit's
    /// `sbomit-sit`, which only names who may sign SITs): they are left out of link loading,
    /// thresholds, rules and the summary. The layout's signatures still cover them.
    pub skip_steps: BTreeSet<String>,
    /// Steps of the root layout that are verified like any other (links, thresholds,
    /// rules) but make nothing the build delivers: the summary's first and last step are
    /// chosen among the others (SBOMit's `sbomit-mutate` and `sbomit-sit` steps, whose
    /// products are the document's parts and the SITs, not the final product).
    pub summary_skip_steps: BTreeSet<String>,
    /// Whether the report carries the summary link (building it copies the last step's
    /// products; the CLI, which does not print it, turns it off).
    pub summary: bool,
}

impl VerifyOptions {
    pub fn at(now: DateTime<Utc>) -> Self {
        VerifyOptions {
            now,
            parameters: None,
            max_depth: DEFAULT_MAX_DEPTH,
            skip_steps: BTreeSet::new(),
            summary_skip_steps: BTreeSet::new(),
            summary: true,
        }
    }
}

/// A step or an inspection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ItemKind {
    Step,
    Inspection,
}

/// Why a link did not count towards its step's threshold.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rejection {
    /// The step lists the key id but the layout has no key for it.
    KeyNotInLayout,
    /// The layout's key for this key id cannot be used (unsupported type, GPG, malformed).
    UnusableKey(KeyError),
    /// The link is not signed by the authorized key: its signatures name other keys.
    UnauthorizedKey { signed_by: Vec<KeyId> },
    /// A signature names the authorized key but does not verify.
    BadSignature,
    /// The layout lists this key id's public key under another id too, whose link already
    /// counts: one functionary counts once towards the threshold.
    SameKeyAs { keyid: KeyId },
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejection::KeyNotInLayout => f.write_str("the layout has no key with this id"),
            Rejection::UnusableKey(e) => write!(f, "the layout key cannot be used: {e}"),
            Rejection::UnauthorizedKey { signed_by } => {
                let ids: Vec<&str> = signed_by.iter().map(KeyId::as_str).collect();
                write!(f, "signed by unauthorized key(s) {ids:?}")
            }
            Rejection::BadSignature => f.write_str("bad signature"),
            Rejection::SameKeyAs { keyid } => {
                write!(
                    f,
                    "the same public key as {keyid}, whose link already counts"
                )
            }
        }
    }
}

/// A link left out of a step's threshold count.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RejectedLink {
    /// The authorized key id the link was loaded for.
    pub keyid: KeyId,
    pub reason: Rejection,
}

/// Why verification failed: the first problem found, in the reference's order.
// Failures are built once per verification; boxing the larger variants would only add noise.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Failure {
    /// A verification key made no signature on the layout.
    LayoutSignatureMissing { keyid: KeyId },
    /// A signature names the verification key but does not verify.
    LayoutSignatureBad { keyid: KeyId },
    LayoutExpired {
        expires: DateTime<Utc>,
        now: DateTime<Utc>,
    },
    /// Fewer link files than the threshold (`LinkNotFoundError`).
    LinkMissing {
        step: String,
        threshold: u64,
        found: usize,
    },
    /// The only link of a single-functionary step is signed by another key.
    LinkUnauthorized {
        step: String,
        keyid: KeyId,
        signed_by: Vec<KeyId>,
    },
    /// The only link of a single-functionary step has a bad signature.
    LinkSignatureBad { step: String, keyid: KeyId },
    /// Fewer validly signed links by distinct authorized functionaries than the threshold.
    ThresholdNotMet {
        step: String,
        threshold: u64,
        valid: usize,
        rejected: Vec<RejectedLink>,
    },
    /// Two links of one step report different materials or products.
    LinksDisagree {
        step: String,
        reference_keyid: KeyId,
        keyid: KeyId,
    },
    /// A DISALLOW or REQUIRE rule failed (a MATCH hash mismatch shows up here as the
    /// DISALLOW it leads to).
    ArtifactRule {
        item: String,
        kind: ItemKind,
        source_type: ArtifactType,
        violation: RuleViolation,
    },
    /// An inspection's return value was not the integer 0.
    InspectionFailed {
        inspection: String,
        return_value: Option<Value>,
    },
    /// Verification of the sublayout `keyid` signed for `step` failed.
    Sublayout {
        step: String,
        keyid: KeyId,
        failure: Box<Failure>,
    },
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::LayoutSignatureMissing { keyid } => {
                write!(f, "the layout has no signature by key {keyid}")
            }
            Failure::LayoutSignatureBad { keyid } => {
                write!(f, "the layout signature by key {keyid} does not verify")
            }
            Failure::LayoutExpired { expires, now } => write!(
                f,
                "the layout expired at {} (verification time {})",
                expires.format(crate::model::EXPIRES_FORMAT),
                now.format(crate::model::EXPIRES_FORMAT)
            ),
            Failure::LinkMissing {
                step,
                threshold,
                found,
            } => write!(
                f,
                "step {step:?} requires {threshold} link metadata file(s), found {found}"
            ),
            Failure::LinkUnauthorized {
                step,
                keyid,
                signed_by,
            } => {
                let ids: Vec<&str> = signed_by.iter().map(KeyId::as_str).collect();
                write!(
                    f,
                    "the link for step {step:?} expected from key {keyid} is signed by unauthorized key(s) {ids:?}"
                )
            }
            Failure::LinkSignatureBad { step, keyid } => {
                write!(
                    f,
                    "the link for step {step:?} by key {keyid} has a bad signature"
                )
            }
            Failure::ThresholdNotMet {
                step,
                threshold,
                valid,
                rejected,
            } => {
                write!(
                    f,
                    "step {step:?} requires at least {threshold} link(s) validly signed by different authorized functionaries, found {valid}"
                )?;
                for r in rejected {
                    write!(f, "; link by {}: {}", r.keyid, r.reason)?;
                }
                Ok(())
            }
            Failure::LinksDisagree {
                step,
                reference_keyid,
                keyid,
            } => write!(
                f,
                "links {step}.{}.link and {step}.{}.link have different artifacts",
                reference_keyid.short(),
                keyid.short()
            ),
            Failure::ArtifactRule {
                item,
                kind,
                source_type,
                violation,
            } => {
                let kind = match kind {
                    ItemKind::Step => "step",
                    ItemKind::Inspection => "inspection",
                };
                write!(f, "{kind} {item:?}, expected_{source_type}: {violation}")
            }
            Failure::InspectionFailed {
                inspection,
                return_value,
            } => match return_value {
                Some(v) => write!(f, "inspection {inspection:?} returned {v}"),
                None => write!(f, "inspection {inspection:?} recorded no return value"),
            },
            Failure::Sublayout {
                step,
                keyid,
                failure,
            } => write!(f, "sublayout for step {step:?} by key {keyid}: {failure}"),
        }
    }
}

/// Something worth telling that does not fail verification.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Warning {
    /// The recorded command differs from the expected command (the spec makes this a warning).
    CommandMismatch {
        step: String,
        keyid: KeyId,
        command: Vec<String>,
        expected: Vec<String>,
    },
    /// A link left out of a step whose threshold was still met.
    LinkIgnored {
        step: String,
        keyid: KeyId,
        reason: Rejection,
    },
    /// A warning from inside a sublayout.
    Sublayout {
        step: String,
        keyid: KeyId,
        warning: Box<Warning>,
    },
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::CommandMismatch {
                step,
                keyid,
                command,
                expected,
            } => write!(
                f,
                "step {step:?} (key {keyid}): run command {command:?} differs from expected command {expected:?}"
            ),
            Warning::LinkIgnored {
                step,
                keyid,
                reason,
            } => write!(f, "step {step:?}: ignored link by {keyid}: {reason}"),
            Warning::Sublayout {
                step,
                keyid,
                warning,
            } => write!(f, "sublayout {step:?} (key {keyid}): {warning}"),
        }
    }
}

/// The outcome of a verification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerificationReport {
    /// `None` when verification passed.
    pub failure: Option<Failure>,
    pub warnings: Vec<Warning>,
    /// The summary link (materials of the first step, products, byproducts and command of
    /// the last), present when verification passed.
    pub summary: Option<Link>,
}

impl VerificationReport {
    pub fn passed(&self) -> bool {
        self.failure.is_none()
    }
}

/// Inputs that cannot be verified at all (as opposed to a failed verification).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    #[error("layout verification requires at least one key")]
    NoLayoutKeys,
    #[error("the metadata to verify is not a layout (`_type` {found:?})")]
    NotALayout { found: String },
    #[error("layout: {0}")]
    Layout(#[source] MetadataError),
    #[error("parameter substitution: {0}")]
    Parameters(#[from] SubstitutionError),
    #[error("loading the link for step {step:?} by key {keyid}: {source}")]
    LinkSource {
        step: String,
        keyid: KeyId,
        source: SourceError,
    },
    #[error("the link for step {step:?} by key {keyid}: {source}")]
    Link {
        step: String,
        keyid: KeyId,
        source: MetadataError,
    },
    #[error("running inspection {inspection:?}: {source}")]
    Inspection {
        inspection: String,
        source: SourceError,
    },
    #[error("sublayouts nested deeper than {max_depth} at step {step:?}")]
    SublayoutTooDeep { step: String, max_depth: usize },
    #[error("sublayout for step {step:?} by key {keyid}: {source}")]
    Sublayout {
        step: String,
        keyid: KeyId,
        source: Box<VerifyError>,
    },
}

/// Verifies the supply chain described by the signed `layout` (either envelope).
///
/// `keys` are the project owner's keys: each one must have signed the layout.
// One error per run at most: its size does not matter.
#[allow(clippy::result_large_err)]
pub fn verify(
    layout: &Envelope,
    keys: &[PublicKey],
    options: &VerifyOptions,
    links: &dyn LinkSource,
    inspections: &dyn InspectionRunner,
) -> Result<VerificationReport, VerifyError> {
    let mut warnings = Vec::new();
    let ctx = Ctx {
        options,
        runner: inspections,
    };
    let outcome = ctx.verify_layout(
        layout,
        keys,
        options.parameters.as_ref(),
        links,
        "",
        0,
        &mut warnings,
    )?;
    Ok(match outcome {
        Ok(summary) => VerificationReport {
            failure: None,
            warnings,
            summary: options.summary.then(|| summary.to_link()),
        },
        Err(failure) => VerificationReport {
            failure: Some(failure),
            warnings,
            summary: None,
        },
    })
}

struct Ctx<'a> {
    options: &'a VerifyOptions,
    runner: &'a dyn InspectionRunner,
}

/// The result of one layout's verification: the summary link, or why it failed.
type Outcome = Result<CompactLink, Failure>;

/// A loaded, authorized and validly signed piece of metadata for a step.
struct Verified<'e> {
    keyid: KeyId,
    signed: &'e SignedLink,
    key: PublicKey,
}

/// Whether each envelope is signed by its key, in order, checked on all cores: signatures
/// over large links hash megabytes each, and long chains have hundreds of them.
fn check_signatures(checks: &[(&Envelope, &PublicKey)]) -> Vec<bool> {
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(checks.len());
    if threads <= 1 {
        return checks.iter().map(|(e, k)| e.verify(k).is_ok()).collect();
    }
    // Contiguous chunks in order, so the results line up with `checks`.
    let chunk = checks.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = checks
            .chunks(chunk)
            .map(|part| {
                let handle = scope.spawn(move || {
                    part.iter()
                        .map(|(e, k)| e.verify(k).is_ok())
                        .collect::<Vec<bool>>()
                });
                (part.len(), handle)
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|(len, h)| {
                // A verification thread cannot panic on input; should it, its links count as
                // not validly signed.
                h.join().unwrap_or_else(|_| vec![false; len])
            })
            .collect()
    })
}

/// The id a layout key object carries inside (what the reference counts distinct keys by).
fn inner_keyid(layout: &Layout, keyid: &KeyId) -> String {
    layout
        .keys
        .get(keyid)
        .and_then(|k| k.get("keyid"))
        .and_then(Value::as_str)
        .map_or_else(|| keyid.as_str().to_owned(), str::to_owned)
}

fn payload_type_name(v: &Value) -> String {
    v.get("_type")
        .and_then(Value::as_str)
        .unwrap_or("nothing")
        .to_owned()
}

/// Why a layout's verification stopped early: a failed verification (reported) or an input
/// that cannot be verified (an error). Lets each step below use `?` for both.
enum Stop {
    Failed(Failure),
    Error(VerifyError),
}

impl From<Failure> for Stop {
    fn from(f: Failure) -> Self {
        Stop::Failed(f)
    }
}

impl From<VerifyError> for Stop {
    fn from(e: VerifyError) -> Self {
        Stop::Error(e)
    }
}

/// The links loaded for each step (step 4), by the authorized key they were loaded for.
type Loaded = Vec<Vec<(KeyId, SignedLink)>>;

/// Each step's links read as compact links (step 6), by key.
type Chain<'l> = Vec<Vec<(KeyId, Cow<'l, CompactLink>)>>;

/// One link per step (the first), by step name: what rules are checked against.
type Reduced<'l> = BTreeMap<&'l str, &'l CompactLink>;

// `Stop::Failed` is the rare, once-per-run path; see `Failure`.
#[allow(clippy::result_large_err)]
impl Ctx<'_> {
    // One argument per input of a (sub)layout's verification.
    #[allow(clippy::too_many_arguments)]
    fn verify_layout(
        &self,
        envelope: &Envelope,
        keys: &[PublicKey],
        parameters: Option<&BTreeMap<String, String>>,
        source: &dyn LinkSource,
        name: &str,
        depth: usize,
        warnings: &mut Vec<Warning>,
    ) -> Result<Outcome, VerifyError> {
        let steps = self.verify_steps(envelope, keys, parameters, source, name, depth, warnings);
        match steps {
            Ok(summary) => Ok(Ok(summary)),
            Err(Stop::Failed(failure)) => Ok(Err(failure)),
            Err(Stop::Error(e)) => Err(e),
        }
    }

    /// The steps of the module documentation, in order.
    #[allow(clippy::too_many_arguments)]
    fn verify_steps(
        &self,
        envelope: &Envelope,
        keys: &[PublicKey],
        parameters: Option<&BTreeMap<String, String>>,
        source: &dyn LinkSource,
        name: &str,
        depth: usize,
        warnings: &mut Vec<Warning>,
    ) -> Result<CompactLink, Stop> {
        // The reference reads the layout when loading the file, before checking signatures.
        let mut layout = read_layout(envelope)?;
        check_layout_signatures(envelope, keys)?; // 1
        self.check_expiry(&layout)?; // 2
        self.substitute_parameters(&mut layout, parameters, depth)?; // 3
        let loaded = load_links(&layout, source)?; // 4
        let verified = check_link_signatures(&layout, &loaded, warnings)?; // 5
        let chain = self.read_links(&layout, &verified, source, depth, warnings)?; // 6
        check_commands(&layout, &chain, warnings); // 7
        let reduced = check_links_agree(&layout, &chain)?; // 8
        check_step_rules(&layout, &reduced)?; // 9
        let inspection_links = self.run_inspections(&layout)?; // 10
        check_inspection_rules(&layout, &reduced, &inspection_links)?; // 11
        let skip = if depth == 0 {
            &self.options.summary_skip_steps
        } else {
            &BTreeSet::new()
        };
        Ok(summary_link(&layout, &reduced, name, skip))
    }

    /// Step 2: expiry.
    fn check_expiry(&self, layout: &Layout) -> Result<(), Failure> {
        if layout.expires <= self.options.now {
            return Err(Failure::LayoutExpired {
                expires: layout.expires,
                now: self.options.now,
            });
        }
        Ok(())
    }

    /// Step 3: parameters.
    fn substitute_parameters(
        &self,
        layout: &mut Layout,
        parameters: Option<&BTreeMap<String, String>>,
        depth: usize,
    ) -> Result<(), VerifyError> {
        if let Some(p) = parameters {
            layout.substitute_parameters(p)?;
        }
        // Signatures were checked over the layout as received; only then are non-build
        // steps dropped (root layout only: sublayouts are plain in-toto).
        if depth == 0 && !self.options.skip_steps.is_empty() {
            layout
                .steps
                .retain(|s| !self.options.skip_steps.contains(&s.name));
        }
        Ok(())
    }

    /// Step 6: sublayouts, replaced by their summary links; other payloads read as links.
    fn read_links<'l>(
        &self,
        layout: &Layout,
        verified: &[Vec<Verified<'l>>],
        source: &dyn LinkSource,
        depth: usize,
        warnings: &mut Vec<Warning>,
    ) -> Result<Chain<'l>, Stop> {
        let mut chain: Chain<'l> = Vec::with_capacity(layout.steps.len());
        for (step, good) in layout.steps.iter().zip(verified) {
            let mut per_step = Vec::with_capacity(good.len());
            for v in good {
                // Plain links are read without a JSON tree; anything else (sublayouts,
                // Statements, malformed links and their errors) through the payload.
                if let Some(link) = v.signed.compact_link() {
                    per_step.push((v.keyid.clone(), Cow::Borrowed(link)));
                    continue;
                }
                let link = match Metadata::from_payload(v.signed.envelope().payload()) {
                    Ok(Metadata::Link(l)) => CompactLink::from_link(&l),
                    Err(source) => {
                        return Err(VerifyError::Link {
                            step: step.name.clone(),
                            keyid: v.keyid.clone(),
                            source,
                        }
                        .into())
                    }
                    Ok(Metadata::Layout(_)) => {
                        self.verify_sublayout(&step.name, v, source, depth, warnings)?
                    }
                };
                per_step.push((v.keyid.clone(), Cow::Owned(link)));
            }
            chain.push(per_step);
        }
        Ok(chain)
    }

    /// Step 6, for one sublayout: verified with the key that signed it for `step`, it stands
    /// for the step by its summary link.
    fn verify_sublayout(
        &self,
        step: &str,
        v: &Verified<'_>,
        source: &dyn LinkSource,
        depth: usize,
        warnings: &mut Vec<Warning>,
    ) -> Result<CompactLink, Stop> {
        if depth + 1 > self.options.max_depth {
            return Err(VerifyError::SublayoutTooDeep {
                step: step.to_owned(),
                max_depth: self.options.max_depth,
            }
            .into());
        }
        let wrap = |source: VerifyError| VerifyError::Sublayout {
            step: step.to_owned(),
            keyid: v.keyid.clone(),
            source: Box::new(source),
        };
        let sub_source =
            source
                .sublayout_source(step, &v.keyid)
                .map_err(|source| VerifyError::LinkSource {
                    step: step.to_owned(),
                    keyid: v.keyid.clone(),
                    source,
                })?;
        let mut sub_warnings = Vec::new();
        let outcome = self
            .verify_layout(
                v.signed.envelope(),
                std::slice::from_ref(&v.key),
                None,
                sub_source.as_ref(),
                step,
                depth + 1,
                &mut sub_warnings,
            )
            .map_err(wrap)?;
        warnings.extend(sub_warnings.into_iter().map(|w| Warning::Sublayout {
            step: step.to_owned(),
            keyid: v.keyid.clone(),
            warning: Box::new(w),
        }));
        outcome.map_err(|failure| {
            Stop::Failed(Failure::Sublayout {
                step: step.to_owned(),
                keyid: v.keyid.clone(),
                failure: Box::new(failure),
            })
        })
    }

    /// Step 10: inspections, each checked for a zero return value as soon as it ran.
    fn run_inspections<'a>(&self, layout: &'a Layout) -> Result<Vec<(&'a str, CompactLink)>, Stop> {
        let mut inspection_links = Vec::with_capacity(layout.inspect.len());
        for inspection in &layout.inspect {
            let link = self
                .runner
                .run(inspection)
                .map_err(|source| VerifyError::Inspection {
                    inspection: inspection.name.clone(),
                    source,
                })?;
            if !zero_return_value(link.return_value()) {
                return Err(Failure::InspectionFailed {
                    inspection: inspection.name.clone(),
                    return_value: link.return_value().cloned(),
                }
                .into());
            }
            inspection_links.push((inspection.name.as_str(), CompactLink::from_link(&link)));
        }
        Ok(inspection_links)
    }
}

/// Reads the layout from its envelope (before any check, as the reference does).
#[allow(clippy::result_large_err)]
fn read_layout(envelope: &Envelope) -> Result<Layout, VerifyError> {
    match Metadata::from_payload(envelope.payload()) {
        Ok(Metadata::Layout(l)) => Ok(l),
        Ok(Metadata::Link(_)) => Err(VerifyError::NotALayout {
            found: payload_type_name(envelope.payload()),
        }),
        Err(MetadataError::UnknownType(found)) => Err(VerifyError::NotALayout { found }),
        Err(e) => Err(VerifyError::Layout(e)),
    }
}

/// Step 1: every given key must have signed.
#[allow(clippy::result_large_err)]
fn check_layout_signatures(envelope: &Envelope, keys: &[PublicKey]) -> Result<(), Stop> {
    if keys.is_empty() {
        return Err(VerifyError::NoLayoutKeys.into());
    }
    for key in keys {
        if envelope.verify(key).is_err() {
            let keyid = key.keyid().clone();
            let named = envelope.signatures().iter().any(|s| s.keyid == keyid);
            return Err(if named {
                Failure::LayoutSignatureBad { keyid }
            } else {
                Failure::LayoutSignatureMissing { keyid }
            }
            .into());
        }
    }
    Ok(())
}

/// Step 4: every authorized key's link, if present.
#[allow(clippy::result_large_err)]
fn load_links(layout: &Layout, source: &dyn LinkSource) -> Result<Loaded, Stop> {
    let mut loaded: Loaded = Vec::with_capacity(layout.steps.len());
    for step in &layout.steps {
        let mut per_step: Vec<(KeyId, SignedLink)> = Vec::new();
        for keyid in &step.pubkeys {
            if per_step.iter().any(|(k, _)| k == keyid) {
                continue;
            }
            let found =
                source
                    .load(&step.name, keyid)
                    .map_err(|source| VerifyError::LinkSource {
                        step: step.name.clone(),
                        keyid: keyid.clone(),
                        source,
                    })?;
            if let Some(link) = found {
                per_step.push((keyid.clone(), link));
            }
        }
        if (per_step.len() as u64) < step.threshold {
            return Err(Failure::LinkMissing {
                step: step.name.clone(),
                threshold: step.threshold,
                found: per_step.len(),
            }
            .into());
        }
        loaded.push(per_step);
    }
    Ok(loaded)
}

/// Step 5: signatures and thresholds. Each layout key is read once, and every link's
/// signature is checked up front on all cores (a 500-step chain is 500 signatures); the results are then
/// taken in the reference's order.
#[allow(clippy::result_large_err)]
fn check_link_signatures<'l>(
    layout: &Layout,
    loaded: &'l Loaded,
    warnings: &mut Vec<Warning>,
) -> Result<Vec<Vec<Verified<'l>>>, Failure> {
    let mut layout_keys: BTreeMap<&KeyId, Option<Result<PublicKey, KeyError>>> = BTreeMap::new();
    for (keyid, _) in loaded.iter().flatten() {
        layout_keys
            .entry(keyid)
            .or_insert_with(|| layout.public_key(keyid));
    }
    let checks: Vec<(&Envelope, &PublicKey)> = loaded
        .iter()
        .flatten()
        .filter_map(|(keyid, signed)| match layout_keys.get(keyid) {
            Some(Some(Ok(key))) => Some((signed.envelope(), key)),
            _ => None,
        })
        .collect();
    let mut signature_ok = check_signatures(&checks).into_iter();
    drop(checks);
    let mut verified: Vec<Vec<Verified<'l>>> = Vec::with_capacity(layout.steps.len());
    for (step, per_step) in layout.steps.iter().zip(loaded.iter()) {
        let mut good = Vec::new();
        let mut rejected = Vec::new();
        let mut main_keyids = BTreeSet::new();
        // Key material already counted, by SPKI: layouts are refused when they list a key
        // twice, but a `Layout` can be built by hand.
        let mut counted: BTreeMap<&[u8], &KeyId> = BTreeMap::new();
        for (keyid_ref, signed) in per_step {
            let keyid = keyid_ref.clone();
            let key = match layout_keys.get(&keyid) {
                None | Some(None) => {
                    rejected.push(RejectedLink {
                        keyid,
                        reason: Rejection::KeyNotInLayout,
                    });
                    continue;
                }
                Some(Some(Err(e))) => {
                    rejected.push(RejectedLink {
                        keyid,
                        reason: Rejection::UnusableKey(e.clone()),
                    });
                    continue;
                }
                Some(Some(Ok(k))) => k,
            };
            if signature_ok.next() != Some(true) {
                let inner = inner_keyid(layout, &keyid);
                let signatures = signed.envelope().signatures();
                let named = signatures
                    .iter()
                    .any(|s| s.keyid == keyid || s.keyid.as_str() == inner);
                let reason = if named {
                    Rejection::BadSignature
                } else {
                    Rejection::UnauthorizedKey {
                        signed_by: signatures.iter().map(|s| s.keyid.clone()).collect(),
                    }
                };
                rejected.push(RejectedLink { keyid, reason });
                continue;
            }
            if let Some(first) = counted.get(key.spki_der()) {
                rejected.push(RejectedLink {
                    keyid,
                    reason: Rejection::SameKeyAs {
                        keyid: (*first).clone(),
                    },
                });
                continue;
            }
            counted.insert(key.spki_der(), keyid_ref);
            main_keyids.insert(inner_keyid(layout, &keyid));
            good.push(Verified {
                keyid,
                signed,
                key: key.clone(),
            });
        }
        if (main_keyids.len() as u64) < step.threshold {
            return Err(threshold_failure(
                &step.name,
                step.threshold,
                main_keyids.len(),
                rejected,
            ));
        }
        for r in rejected {
            warnings.push(Warning::LinkIgnored {
                step: step.name.clone(),
                keyid: r.keyid,
                reason: r.reason,
            });
        }
        verified.push(good);
    }
    Ok(verified)
}

/// Step 7: command alignment, a warning only.
fn check_commands(layout: &Layout, chain: &Chain<'_>, warnings: &mut Vec<Warning>) {
    for (step, per_step) in layout.steps.iter().zip(chain) {
        for (keyid, link) in per_step {
            if link.command != step.expected_command {
                warnings.push(Warning::CommandMismatch {
                    step: step.name.clone(),
                    keyid: keyid.clone(),
                    command: link.command.clone(),
                    expected: step.expected_command.clone(),
                });
            }
        }
    }
}

/// Step 8: links of one step must agree on their artifacts; the first of each step then
/// stands for it.
#[allow(clippy::result_large_err)]
fn check_links_agree<'l>(layout: &'l Layout, chain: &'l Chain<'_>) -> Result<Reduced<'l>, Failure> {
    for (step, per_step) in layout.steps.iter().zip(chain) {
        if step.threshold <= 1 {
            continue;
        }
        if (per_step.len() as u64) < step.threshold {
            return Err(threshold_failure(
                &step.name,
                step.threshold,
                per_step.len(),
                Vec::new(),
            ));
        }
        if let Some((ref_keyid, reference)) = per_step.first() {
            for (keyid, link) in &per_step[1..] {
                if link.materials != reference.materials || link.products != reference.products {
                    return Err(Failure::LinksDisagree {
                        step: step.name.clone(),
                        reference_keyid: ref_keyid.clone(),
                        keyid: keyid.clone(),
                    });
                }
            }
        }
    }
    Ok(layout
        .steps
        .iter()
        .zip(chain)
        .filter_map(|(step, per_step)| {
            per_step
                .first()
                .map(|(_, l)| (step.name.as_str(), l.as_ref()))
        })
        .collect())
}

/// Step 9: step rules (before inspections run, so they never run on compromised files).
#[allow(clippy::result_large_err)]
fn check_step_rules(layout: &Layout, reduced: &Reduced<'_>) -> Result<(), Failure> {
    for step in &layout.steps {
        item_rules(
            &step.name,
            ItemKind::Step,
            &step.expected_materials,
            &step.expected_products,
            reduced,
        )?;
    }
    Ok(())
}

/// Step 11: inspection rules, over step and inspection links.
#[allow(clippy::result_large_err)]
fn check_inspection_rules(
    layout: &Layout,
    reduced: &Reduced<'_>,
    inspection_links: &[(&str, CompactLink)],
) -> Result<(), Failure> {
    let mut combined = reduced.clone();
    for (name, link) in inspection_links {
        combined.insert(name, link);
    }
    for inspection in &layout.inspect {
        item_rules(
            &inspection.name,
            ItemKind::Inspection,
            &inspection.expected_materials,
            &inspection.expected_products,
            &combined,
        )?;
    }
    Ok(())
}

/// Picks the most telling failure for a step short of valid links: a single-functionary
/// step with exactly one rejected link fails for that link's reason; otherwise the
/// threshold failure lists every rejected link.
fn threshold_failure(
    step: &str,
    threshold: u64,
    valid: usize,
    mut rejected: Vec<RejectedLink>,
) -> Failure {
    if threshold == 1 && valid == 0 && rejected.len() == 1 {
        if let Some(r) = rejected.pop() {
            match r.reason {
                Rejection::UnauthorizedKey { signed_by } => {
                    return Failure::LinkUnauthorized {
                        step: step.to_owned(),
                        keyid: r.keyid,
                        signed_by,
                    }
                }
                Rejection::BadSignature => {
                    return Failure::LinkSignatureBad {
                        step: step.to_owned(),
                        keyid: r.keyid,
                    }
                }
                reason => rejected.push(RejectedLink {
                    keyid: r.keyid,
                    reason,
                }),
            }
        }
    }
    Failure::ThresholdNotMet {
        step: step.to_owned(),
        threshold,
        valid,
        rejected,
    }
}

/// `_raise_on_bad_retval`: only an int equal to 0 passes (Python's `False` is an int too).
fn zero_return_value(v: Option<&Value>) -> bool {
    match v {
        Some(Value::Number(n)) => n.as_i64() == Some(0) || n.as_u64() == Some(0),
        Some(Value::Bool(b)) => !b,
        _ => false,
    }
}

#[allow(clippy::result_large_err)]
fn item_rules(
    name: &str,
    kind: ItemKind,
    materials: &[ArtifactRule],
    products: &[ArtifactRule],
    links: &BTreeMap<&str, &CompactLink>,
) -> Result<(), Failure> {
    for (source_type, rules) in [
        (ArtifactType::Materials, materials),
        (ArtifactType::Products, products),
    ] {
        verify_compact_item_rules(name, source_type, rules, links).map_err(|violation| {
            Failure::ArtifactRule {
                item: name.to_owned(),
                kind,
                source_type,
                violation,
            }
        })?;
    }
    Ok(())
}

/// `get_summary_link`: materials of the first step, products, byproducts and command of the
/// last, named after the step the (sub)layout stands for.
fn summary_link(
    layout: &Layout,
    reduced: &BTreeMap<&str, &CompactLink>,
    name: &str,
    skip: &BTreeSet<String>,
) -> CompactLink {
    let mut summary = CompactLink::default();
    let mut steps = layout.steps.iter().filter(|s| !skip.contains(&s.name));
    let first = steps.next().and_then(|s| reduced.get(s.name.as_str()));
    let last = steps
        .next_back()
        .or_else(|| layout.steps.iter().find(|s| !skip.contains(&s.name)))
        .and_then(|s| reduced.get(s.name.as_str()));
    if let (Some(first), Some(last)) = (first, last) {
        summary.name = name.to_owned();
        summary.materials = first.materials.clone();
        summary.products = last.products.clone();
        summary.byproducts = last.byproducts.clone();
        summary.command = last.command.clone();
    }
    summary
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::model::Step;
    use sbomit_crypto::{KeyKind, PrivateKey};

    #[test]
    fn threshold_counts_one_key_listed_under_two_ids_once() {
        // A `Layout` built by hand: `Layout::from_value` refuses this one outright.
        let key = PrivateKey::generate(KeyKind::Ed25519).unwrap();
        let (first, second) = (KeyId::new("aa".repeat(32)), KeyId::new("bb".repeat(32)));
        let mut keys = BTreeMap::new();
        for id in [&first, &second] {
            let mut object = key.public_key().to_securesystemslib();
            object["keyid"] = Value::String(id.as_str().to_owned());
            keys.insert(id.clone(), object);
        }
        let layout = Layout {
            expires: DateTime::<Utc>::MAX_UTC,
            readme: String::new(),
            keys,
            steps: vec![Step {
                name: "build".into(),
                pubkeys: vec![first.clone(), second.clone()],
                threshold: 2,
                expected_command: Vec::new(),
                expected_materials: Vec::new(),
                expected_products: Vec::new(),
            }],
            inspect: Vec::new(),
        };
        let signed = || {
            let link = Link {
                name: "build".into(),
                ..Link::default()
            };
            let mut envelope = Envelope::from_value(EnvelopeKind::Dsse, link.to_value()).unwrap();
            envelope.sign(&key).unwrap();
            SignedLink::new(envelope)
        };
        let loaded: Loaded = vec![vec![(first.clone(), signed()), (second.clone(), signed())]];
        let mut warnings = Vec::new();
        let failure = check_link_signatures(&layout, &loaded, &mut warnings)
            .err()
            .unwrap();
        assert_eq!(
            failure,
            Failure::ThresholdNotMet {
                step: "build".into(),
                threshold: 2,
                valid: 1,
                rejected: vec![RejectedLink {
                    keyid: second,
                    reason: Rejection::SameKeyAs { keyid: first },
                }],
            }
        );
    }
}
