//! `sbomit sit generate|verify|diff`: SITs (SBOMs whose every hash is attested) from verified
//! SBOMit documents, optionally signed (a DSSE envelope `FILE.intoto.json` around an in-toto
//! Statement whose predicate is the SBOM, and for CycloneDX an embedded JSF signature), and
//! their verification.
//!
//! `sit verify` is light with `--keys` (the signature by one of the given keys, and the SIT
//! bytes equal to the signed predicate) and full with `--document` and `--layout-keys`: the
//! document verifies, the keys authorized by its layout's `sbomit-sit` step signed the SIT,
//! the SIT is what the document yields when regenerated, and no mutation overrode
//! in-toto-derived content. Those checks are `sbomit_sbom::verification::sit::verify_sit`;
//! this command reads the files, verifies the document (running inspections in `--artifacts`),
//! calls it and prints its outcome.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use base64::Engine as _;
use clap::{ArgGroup, Args, Subcommand};
use sbomit_fs::inspect::DEFAULT_INSPECTION_TIMEOUT;
use sbomit_intoto::digest::Sha256;
use sbomit_intoto::envelope::Envelope;
use sbomit_intoto::metadata::Metadata;
use sbomit_sbom::document::{Document, SIT_SIGNING_STEP};
use sbomit_sbom::roles::{self, Role};
use sbomit_sbom::sit::sign::Authorized;
use sbomit_sbom::sit::{self, jsf, Format, SitOptions};

use sbomit_sbom::verification::document::DocumentOutcome;
use sbomit_sbom::verification::sit::{
    verify_sit, Against, ContentOutcome, DocumentCheck, JsfOutcome, OverrideOutcome, ReceivedSit,
    SignatureOutcome, SitVerification, SitVerifyError, SitVerifyInput,
};

use super::document::{
    artifacts_dir, attested_lockfiles, load_keys, print_verdict_as, read_attested_lockfiles,
    read_document, verify_document, TrustArgs,
};
use super::Output;
use crate::keys::{self, PasswordSource};
use crate::progress::Timings;
use crate::Outcome;

#[derive(Subcommand, Debug)]
pub enum SitCommand {
    /// Verify a document, then generate a SIT from its verified metadata (and sign it).
    Generate(GenerateArgs),
    /// Verify a SIT: its signature (light), or also against its document (full).
    Verify(VerifyArgs),
    /// Write the mutation (RFC 6902 JSON Patch) turning a generated SIT into an edited one,
    /// for `document create --mutation FORMAT=PATCH.json`.
    Diff(DiffArgs),
}

#[derive(Args, Debug)]
pub struct DiffArgs {
    /// The SIT as `sit generate` wrote it.
    #[arg(long)]
    from: PathBuf,
    /// The same SIT, edited.
    #[arg(long)]
    to: PathBuf,
    /// Where to write the mutation (atomically).
    #[arg(long)]
    out: PathBuf,
}

#[derive(Args, Debug)]
pub struct GenerateArgs {
    /// The SBOMit document.
    #[arg(long)]
    document: PathBuf,
    /// cyclonedx-1.6 (the default CycloneDX), cyclonedx-1.2 ... cyclonedx-1.7, spdx-2.3 or
    /// spdx-3.0.1.
    #[arg(long, value_parser = parse_format)]
    format: Format,
    #[command(flatten)]
    trust: TrustArgs,
    /// Reference attestations as URLs under this base instead of embedding them.
    #[arg(long = "attestation-url-base")]
    attestation_url_base: Option<String>,
    /// Where to write the SIT.
    #[arg(short = 'o', long)]
    out: PathBuf,
    /// Sign the SIT: a DSSE envelope around an in-toto Statement, written to OUT.intoto.json.
    #[arg(long = "signing-key")]
    signing_key: Option<PathBuf>,
    /// Password of an encrypted signing key; `-P` alone prompts.
    #[arg(short = 'P', long = "password", num_args = 0..=1, default_missing_value = "")]
    password: Option<String>,
    /// Keep packages that have no sha256 matching an attested artifact (each carries a
    /// `sbomit:unhashed` property saying why) instead of refusing to generate.
    #[arg(long = "allow-unhashed")]
    allow_unhashed: bool,
    /// Also embed a JSF signature in the SBOM (CycloneDX only).
    #[arg(long, requires = "signing_key")]
    jsf: bool,
    /// Record the generator's link (written beside OUT as `<step>.<keyid8>.link`) in the
    /// document too, as an addendum signed by the signing key: `document verify` then
    /// regenerates this SIT, and in-toto verifiers see the layout's SIT step done.
    #[arg(long, requires = "signing_key")]
    record: bool,
    /// With --record, write no DSSE envelope: the generator's link recorded in the document
    /// is the SIT's signature (full verification with the document accepts it; light
    /// verification, without the document, needs the envelope). For large SITs: the
    /// envelope repeats the SIT in base64, and signing and writing it dominate generation.
    #[arg(long = "no-envelope", requires = "record")]
    no_envelope: bool,
}

#[derive(Args, Debug)]
#[command(group(ArgGroup::new("trust").required(true).args(["keys", "document"])))]
pub struct VerifyArgs {
    /// The SIT.
    #[arg(long)]
    sit: PathBuf,
    /// Its DSSE envelope (default: SIT.intoto.json).
    #[arg(long)]
    envelope: Option<PathBuf>,
    /// Light verification: public keys trusted to sign SITs (any one suffices).
    #[arg(long, num_args = 1.., conflicts_with = "document")]
    keys: Vec<PathBuf>,
    /// Full verification against the SBOMit document the SIT was generated from; the keys
    /// its layout's `sbomit-sit` step lists are the ones authorized to sign SITs.
    #[arg(long, requires = "layout_keys")]
    document: Option<PathBuf>,
    /// Fetch the document from this Store: --document is then its digest, `sha256:HEX`
    /// (the SIT's `sbomit:document:sha256`).
    #[arg(long, requires = "document")]
    store: Option<String>,
    /// An API token for --store (sent as `Authorization: Bearer`).
    #[arg(long, env = "SBOMIT_STORE_TOKEN", requires = "store")]
    token: Option<String>,
    /// The project owner's public keys (each must have signed the layout).
    #[arg(long = "layout-keys", num_args = 1.., requires = "document")]
    layout_keys: Vec<PathBuf>,
    /// Further public keys trusted to sign addenda.
    #[arg(long = "addendum-keys", num_args = 1.., requires = "document")]
    addendum_keys: Vec<PathBuf>,
    /// The final product's directory: inspections run there and attested lockfiles are
    /// read from it (as for `sit generate`).
    #[arg(long, requires = "document")]
    artifacts: Option<PathBuf>,
    /// Kill an inspection (with everything it started) after this many seconds.
    #[arg(long = "inspection-timeout", value_name = "SECS", default_value_t = DEFAULT_INSPECTION_TIMEOUT.as_secs(), requires = "document")]
    inspection_timeout: u64,
    /// Pass even when the document's mutation overrode in-toto-derived content (warns).
    #[arg(long = "insecure-allow-in-toto-override")]
    insecure_allow_in_toto_override: bool,
    /// With --document: when the document cannot be fully verified (an inspection needs
    /// --artifacts), accept light verification (the signature by the layout's SIT signers)
    /// instead of failing as INCOMPLETE.
    #[arg(long, requires = "document")]
    light: bool,
}

fn parse_format(s: &str) -> Result<Format, String> {
    Format::parse(s).ok_or_else(|| {
        let names: Vec<_> = Format::ALL.iter().map(|f| f.name()).collect();
        format!("unknown format {s:?} (one of {})", names.join(", "))
    })
}

pub fn run(c: SitCommand, out: &Output) -> Result<Outcome> {
    match c {
        SitCommand::Generate(a) => generate(a, out),
        SitCommand::Verify(a) => verify(a, out),
        SitCommand::Diff(a) => diff(a, out),
    }
}

// ---- diff

fn read_sit_json(path: &Path) -> Result<serde_json::Value> {
    let bytes = sbomit_fs::io::read_file(path)?;
    serde_json::from_slice(&bytes).with_context(|| format!("{}: not JSON", path.display()))
}

fn diff(args: DiffArgs, out: &Output) -> Result<Outcome> {
    let from = read_sit_json(&args.from)?;
    let to = read_sit_json(&args.to)?;
    let m = sbomit_sbom::diff::sit_mutation(&from, &to)
        .with_context(|| format!("{} -> {}", args.from.display(), args.to.display()))?;
    for p in &m.ignored {
        out.warn(format!(
            "{p} names the SIT's generation, not its content: the edit there is left out"
        ));
    }
    // A mutation overriding in-toto-derived content would be refused by `document verify`:
    // say so now, while it is still an edit.
    for w in sit::mutation::check(m.format, &from, &m.patch) {
        out.warn(format!(
            "{w} (document verify refuses it without --insecure-allow-in-toto-override)"
        ));
    }
    let mut bytes = serde_json::to_vec_pretty(&m.patch.to_value())?;
    bytes.push(b'\n');
    sbomit_fs::io::write_atomic(&args.out, &bytes, None)?;
    out.info(format!(
        "wrote {} operation(s) to {}; use it as: document create --mutation {}={}",
        m.patch.0.len(),
        args.out.display(),
        m.format.name(),
        args.out.display()
    ));
    Ok(Outcome::Ok)
}

/// The SIT timestamp: `SOURCE_DATE_EPOCH` when set, else now.
fn timestamp() -> Result<chrono::DateTime<chrono::Utc>> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(s) if !s.trim().is_empty() => {
            let secs: i64 = s
                .trim()
                .parse()
                .with_context(|| format!("SOURCE_DATE_EPOCH {s:?} is not an integer"))?;
            chrono::DateTime::from_timestamp(secs, 0)
                .with_context(|| format!("SOURCE_DATE_EPOCH {s:?} is out of range"))
        }
        _ => Ok(chrono::Utc::now()),
    }
}

/// `FILE.intoto.json` beside `sit`.
fn envelope_path(sit: &Path) -> PathBuf {
    let mut name = OsString::from(sit.as_os_str());
    name.push(".intoto.json");
    PathBuf::from(name)
}

/// The layout of a document (whose signatures the caller has verified).
fn document_layout(doc: &Document, what: &str) -> Result<sbomit_intoto::model::Layout> {
    let env = doc
        .current()
        .with_context(|| what.to_owned())?
        .layout_envelope()
        .with_context(|| what.to_owned())?;
    match Metadata::from_payload(env.payload()) {
        Ok(Metadata::Layout(l)) => Ok(l),
        _ => bail!("{what}: the document's layout is not a layout"),
    }
}

fn generate(mut args: GenerateArgs, out: &Output) -> Result<Outcome> {
    if args.jsf && !args.format.can_embed_jsf() {
        bail!(
            "--jsf: JSF signatures are embedded in CycloneDX 1.4 and later only, not {} (its signature is the DSSE envelope)",
            args.format.name()
        );
    }
    // Load the key before the (long) generation, so a wrong password fails fast.
    let signing_key = match &args.signing_key {
        Some(p) => Some(keys::load_private(
            p,
            &PasswordSource::from_flag(args.password.clone()),
        )?),
        None => None,
    };
    let timestamp = timestamp()?;
    let t = Timings::start();
    let mut doc = read_document(&args.document)?;
    t.lap("read the document");
    let what = args.document.display().to_string();
    let embedded = artifacts_dir(args.trust.artifacts.as_deref(), &doc)?;
    args.trust.artifacts = embedded.path.clone();
    let verdict = verify_document(&doc, &what, &args.trust, chrono::Utc::now())?;
    t.lap("verify the document");
    let ok = print_verdict_as(
        &verdict,
        out,
        "sit generate FAILED: no SIT generated: the document did not verify",
    );
    let report = match verdict.outcome {
        DocumentOutcome::Report(r) if ok => *r,
        // An incomplete verification said why above; the verdict is this command's.
        DocumentOutcome::Incomplete(_) => {
            println!(
                "sit generate FAILED: no SIT generated: the document's verification is incomplete"
            );
            return Ok(Outcome::Failed);
        }
        _ => return Ok(Outcome::Failed),
    };

    let lockfiles = match &embedded.read {
        Some(dir) => attested_lockfiles(&doc, &what, dir, out)?,
        None => BTreeMap::new(),
    };

    let mut options = SitOptions::at(timestamp);
    options.attestation_url_base = args.attestation_url_base.clone();
    options.allow_unhashed = args.allow_unhashed;
    let inventory = match sit::derive(&doc, &report, &lockfiles, &options) {
        Ok(i) => i,
        // §4.2.2.1: a policy failure of the inputs, not an input error.
        Err(e @ sit::SitError::Unhashed { .. }) => {
            println!("sit generate FAILED: {e}");
            return Ok(Outcome::Failed);
        }
        Err(e) => return Err(anyhow::Error::new(e).context(what.clone())),
    };
    t.lap("derive the inventory");
    let Some(key) = signing_key else {
        // Unsigned: stream what can be streamed, nothing needs the whole SBOM in memory.
        let stream = sit::generate_stream(&doc, &inventory, args.format, &options)
            .with_context(|| what.clone())?;
        for w in stream.warnings() {
            eprintln!("warning: {w}");
        }
        write_atomic_with(&args.out, |w| stream.write_to(w))?;
        t.lap("emit, mutate and write");
        out.info(format!(
            "wrote {} ({}, {} components)",
            args.out.display(),
            args.format.name(),
            inventory.components.len()
        ));
        exiting((doc, report, inventory));
        return Ok(Outcome::Ok);
    };
    // Tell the signer now if verifiers going by the layout will not accept the signature.
    let layout = document_layout(&doc, &what)?;
    let keyid = key.public_key().keyid().clone();
    let step = roles::step_for(&layout, Role::Generator, args.format.name());
    let functionary = match (&step, Authorized::from_layout(&layout, args.format)) {
        (Some(_), Ok(a)) if a.keys.iter().any(|k| k.keyid() == &keyid) => true,
        (Some(s), _) => {
            out.info(format!(
                "warning: key {keyid} is not listed by the layout's {:?} step: verifiers that go by the layout will reject this signature",
                s.name
            ));
            false
        }
        (None, _) => {
            out.info(format!(
                "warning: the layout has no {SIT_SIGNING_STEP:?} step for {}: no key is authorized to sign its SITs",
                args.format.name()
            ));
            false
        }
    };
    if args.record && !functionary {
        bail!(
            "--record: key {keyid} is not a generator the layout names for {} SITs",
            args.format.name()
        );
    }
    let subjects: Vec<(String, Sha256)> = report
        .summary
        .as_ref()
        .map(|s| {
            s.products
                .iter()
                .filter_map(|(p, d)| {
                    Some((p.as_str().to_owned(), Sha256::from_hex(d.get("sha256")?)?))
                })
                .collect()
        })
        .unwrap_or_default();
    // The SIT file's bytes, made as an unsigned SIT is written (streamed in parallel, no
    // JSON tree of the whole SBOM) unless a JSF signature needs the tree.
    let stream = sit::generate_stream(&doc, &inventory, args.format, &options)
        .with_context(|| what.clone())?;
    for w in stream.warnings() {
        eprintln!("warning: {w}");
    }
    // What the generator's link records: the SIT file's sha256 before any JSF signature.
    let mut staged = None;
    let (sit_sha256, kept) = if args.no_envelope && !args.jsf {
        // Streamed to the file and hashed on the way: the recorded link is the signature.
        // The file is synced and put in place while the link and the addendum are made.
        let mut digest = None;
        staged = Some(stage_with(&args.out, |w| {
            let mut tee = sit::stream::HashingTee::new(w);
            stream.write_to(&mut tee)?;
            digest = Some(tee.finish());
            Ok(())
        })?);
        let digest = digest.context("the SIT was not written")?;
        t.lap("emit, mutate, hash and write");
        (digest, None)
    } else {
        let mut bytes = Vec::new();
        stream.write_to(&mut bytes)?;
        t.lap("emit and mutate");
        let sit_sha256 = Sha256::digest(&bytes);
        if args.jsf {
            let mut value: serde_json::Value =
                serde_json::from_slice(&bytes).context("the generated SIT")?;
            jsf::sign(&mut value, &key).context("JSF signature")?;
            bytes = sit::sign::sit_bytes(&value);
        }
        if args.no_envelope {
            sbomit_fs::io::write_atomic(&args.out, &bytes, None)?;
            (sit_sha256, Some((bytes, None)))
        } else {
            // The SIT is written (and synced) while the envelope is signed and encoded: on a
            // large SIT each takes seconds, and they share nothing but the bytes.
            let env_path = envelope_path(&args.out);
            let (written, envelope) = std::thread::scope(|scope| {
                let writer = scope.spawn(|| sbomit_fs::io::write_atomic(&args.out, &bytes, None));
                let envelope = sit::sign::sign_bytes(args.format, &bytes, &subjects, &key)
                    .context("signing the SIT")
                    .and_then(|e| {
                        sbomit_fs::io::write_atomic(&env_path, &e.to_file_bytes(), None)?;
                        Ok(e)
                    });
                let written = writer
                    .join()
                    .map_err(|_| anyhow::anyhow!("writing {} failed", args.out.display()));
                (written, envelope)
            });
            written??;
            // No SIT without its signature: what was written goes if signing failed.
            let envelope = envelope.inspect_err(|_| {
                let _ = std::fs::remove_file(&args.out);
            })?;
            t.lap("sign, and write the SIT and its envelope");
            (sit_sha256, Some((bytes, Some((env_path, envelope)))))
        }
    };
    let signature = match &kept {
        Some((_, Some((env_path, _)))) => {
            format!("and its signature {} (key {keyid})", env_path.display())
        }
        _ => format!("without an envelope: the generator's link, by key {keyid}, signs it"),
    };
    out.info(format!(
        "wrote {} ({}, {} components{}) {signature}",
        args.out.display(),
        args.format.name(),
        inventory.components.len(),
        if args.jsf { ", JSF-signed" } else { "" },
    ));
    let mut committing = staged.map(|s| std::thread::spawn(move || s.commit()));
    // Whatever happens below, the SIT's commit is waited for before returning: an early
    // return would otherwise end the process in the middle of it.
    let recorded = (|| -> Result<()> {
        if let (Some(step), true) = (step, functionary) {
            let digest = doc.digest().with_context(|| what.clone())?;
            let (name, bytes) =
                roles::generator_link(&step.name, args.format, digest, sit_sha256, &options, &key)
                    .context("the generator's link")?;
            let link_path = match args.out.parent() {
                Some(d) if !d.as_os_str().is_empty() => d.join(&name),
                _ => PathBuf::from(&name),
            };
            let amended = if args.record {
                let link: serde_json::Value =
                    serde_json::from_slice(&bytes).context("the generator's link")?;
                let patch = sbomit_sbom::jsonpatch::Patch::from_value(&serde_json::json!([
                    {"op": "add", "path": format!("/metadata/{name}"), "value": link}
                ]))
                .context("the generator's addendum")?;
                let time = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
                doc.amend(patch, &key, &time)
                    .with_context(|| format!("{what}: recording the generator's link"))?;
                Some(doc.to_bytes())
            } else {
                None
            };
            // The link and the document name the SIT: they are written once it is in place.
            join_commit(&mut committing, &args.out)?;
            sbomit_fs::io::write_atomic(&link_path, &bytes, None)?;
            out.info(format!(
                "wrote the generator's link {}",
                link_path.display()
            ));
            if let Some(doc_bytes) = amended {
                sbomit_fs::io::write_atomic(&args.document, &doc_bytes, None)?;
                out.info(format!(
                    "recorded {name} in {} (addendum {})",
                    args.document.display(),
                    doc.addenda().len()
                ));
            }
        }
        Ok(())
    })();
    let commit = join_commit(&mut committing, &args.out);
    recorded?;
    commit?;
    exiting((doc, report, inventory, kept));
    Ok(Outcome::Ok)
}

/// Waits for a SIT's commit started on another thread (nothing to wait for the second time).
fn join_commit(
    committing: &mut Option<std::thread::JoinHandle<Result<()>>>,
    path: &Path,
) -> Result<()> {
    match committing.take() {
        Some(c) => c
            .join()
            .map_err(|_| anyhow::anyhow!("writing {} failed", path.display()))?,
        None => Ok(()),
    }
}

/// Writes a file atomically (a temporary file beside it, synced, then renamed) through a
/// buffered writer: a 100,000-component SIT is hundreds of megabytes, which need not be
/// held in memory as bytes too.
fn write_atomic_with(
    path: &Path,
    write: impl FnOnce(&mut sit::stream::Sink<'_>) -> std::io::Result<()>,
) -> Result<()> {
    stage_with(path, write)?.commit()
}

/// A file written beside its destination but not yet synced nor in place: [`Staged::commit`]
/// does both; dropped uncommitted (an error on the way), it is removed, so no partial output
/// is ever left.
struct Staged {
    tmp: PathBuf,
    path: PathBuf,
    file: std::fs::File,
    committed: bool,
}

impl Staged {
    /// Syncs the file and renames it into place.
    fn commit(mut self) -> Result<()> {
        let result = self
            .file
            .sync_all()
            .and_then(|()| std::fs::rename(&self.tmp, &self.path));
        self.committed = result.is_ok();
        result.with_context(|| format!("cannot write {}", self.path.display()))
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// The first half of [`write_atomic_with`]: the temporary file, written but not synced.
fn stage_with(
    path: &Path,
    write: impl FnOnce(&mut sit::stream::Sink<'_>) -> std::io::Result<()>,
) -> Result<Staged> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .with_context(|| format!("{}: not a file name", path.display()))?
        .to_string_lossy()
        .into_owned();
    let tmp = dir.join(format!(".{name}.sbomit-{}.tmp", std::process::id()));
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .with_context(|| format!("cannot write {}", path.display()))?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
    let written = write(&mut w).and_then(|()| w.into_inner().map_err(|e| e.into_error()));
    let staged = match written {
        Ok(file) => Staged {
            tmp,
            path: path.to_owned(),
            file,
            committed: false,
        },
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(e).with_context(|| format!("cannot write {}", path.display()));
        }
    };
    Ok(staged)
}

/// Hands the command's large structures to process exit instead of freeing them: the
/// process ends right after the command, and freeing the millions of small allocations of
/// a 100,000-component SIT and its document takes longer than generating parts of it.
fn exiting<T>(big: T) {
    std::mem::forget(big);
}

// ---- verify

/// The SBOMit document with digest `digest` (`sha256:HEX` or HEX), from the Store at `store`:
/// an entry about that digest whose payload is an SBOMit document of which it is a version.
/// The Store's word is not trusted: the document is verified like any other.
fn fetch_document(store: &str, token: Option<&str>, digest: &str) -> Result<Document> {
    use sbomit_client::{Client, EvidenceQuery, Target};
    let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
    let Some(want) = Sha256::from_hex(hex) else {
        bail!("--document {digest:?}: with --store, give the document's digest as sha256:HEX");
    };
    let client = Client::new(store)?.with_token(token);
    let answer = client
        .evidence(&EvidenceQuery::about(Target::Digest(hex)))
        .with_context(|| format!("asking {store} for document {hex}"))?;
    for e in &answer.entries {
        if e.statement_type.as_deref() != Some(sbomit_sbom::read::SBOMIT_DOCUMENT_CONTENT_TYPE) {
            continue;
        }
        let entry = client
            .entry(e.index)
            .with_context(|| format!("fetching entry {} from {store}", e.index))?;
        let Ok(statement) = base64::engine::general_purpose::STANDARD.decode(&entry.statement)
        else {
            continue;
        };
        let Ok(parsed) = sbomit_scitt::cose::SignedStatement::parse(&statement) else {
            continue;
        };
        let Some(payload) = parsed.payload() else {
            continue;
        };
        let Ok(doc) = Document::from_bytes(payload) else {
            continue;
        };
        if doc.version_with_digest(&want)?.is_some() {
            return Ok(doc);
        }
    }
    let types: Vec<String> = answer
        .entries
        .iter()
        .map(|e| e.statement_type.clone().unwrap_or_else(|| "?".into()))
        .collect();
    bail!(
        "the Store at {store} has no SBOMit document with digest {hex} ({} entries about it{}{})",
        answer.entries.len(),
        if types.is_empty() { "" } else { ": " },
        types.join(", ")
    )
}

/// Prints the failure and returns the failed outcome.
fn failed(what: impl std::fmt::Display) -> Outcome {
    println!("verification FAILED: {what}");
    Outcome::Failed
}

fn verify(mut args: VerifyArgs, out: &Output) -> Result<Outcome> {
    let sit_bytes = sbomit_fs::io::read_file_max(&args.sit, sbomit_fs::io::MAX_SBOM_BYTES)?;
    let sit_name = args.sit.display().to_string();
    let sit = ReceivedSit::parse(&sit_bytes).map_err(|e| match e {
        SitVerifyError::NotJson(source) => {
            anyhow::Error::new(source).context(format!("{sit_name}: not JSON"))
        }
        e => anyhow::Error::msg(format!("{sit_name}: {e}")),
    })?;
    let env_path = args
        .envelope
        .clone()
        .unwrap_or_else(|| envelope_path(&args.sit));
    let envelope = if env_path.is_file() {
        let bytes = sbomit_fs::io::read_file_max(&env_path, sbomit_fs::io::MAX_SBOM_BYTES)?;
        Some(Envelope::parse_owned(bytes).with_context(|| env_path.display().to_string())?)
    } else if args.envelope.is_some() {
        bail!("{}: no such file", env_path.display());
    } else {
        None
    };

    let Some(doc_path) = &args.document else {
        // Light, with the verifier's own keys.
        let keys = if envelope.is_some() {
            load_keys(&args.keys)?
        } else {
            Vec::new()
        };
        let input = SitVerifyInput {
            sit: &sit,
            envelope: envelope.as_ref(),
            against: Against::Keys(&keys),
            allow_in_toto_override: args.insecure_allow_in_toto_override,
        };
        let v = verify_sit(input).map_err(|e| match e {
            SitVerifyError::NoEnvelope => anyhow::anyhow!(
                "{}: no such file (light verification checks the SIT's signature)",
                env_path.display()
            ),
            e => anyhow::Error::new(e).context(sit_name.clone()),
        })?;
        return Ok(print_sit_verification(&v, &args, &env_path, || {}));
    };

    let doc = match &args.store {
        Some(store) => fetch_document(store, args.token.as_deref(), &doc_path.to_string_lossy())?,
        None => read_document(doc_path)?,
    };
    let embedded = artifacts_dir(args.artifacts.as_deref(), &doc)?;
    args.artifacts = embedded.path.clone();
    let what = doc_path.display().to_string();
    let trust = TrustArgs {
        layout_keys: args.layout_keys.clone(),
        addendum_keys: args.addendum_keys.clone(),
        artifacts: args.artifacts.clone(),
        inspection_timeout: args.inspection_timeout,
    };
    let verification = verify_document(&doc, &what, &trust, chrono::Utc::now())?;
    // The document's part is printed before the SIT is checked, as it was decided first.
    match DocumentCheck::of(&verification) {
        DocumentCheck::Passed => println!("document: verification passed"),
        // Full verification was asked for: it never becomes light without saying so, and
        // only when --light accepts that (as `document verify` says INCOMPLETE and exits 1).
        DocumentCheck::Incomplete(n) if args.light => println!(
            "document: verification INCOMPLETE (inspection {:?} not run: give --artifacts DIR); light verification only (--light)",
            n.inspection
        ),
        DocumentCheck::Incomplete(n) => {
            println!(
                "document: verification INCOMPLETE (inspection {:?} not run: give --artifacts DIR, or --light to accept light verification)",
                n.inspection
            );
            return Ok(Outcome::Failed);
        }
        DocumentCheck::Failed | DocumentCheck::NotGiven => {
            // The one verdict line (not a second "verification FAILED" below).
            print_verdict_as(
                &verification,
                out,
                "verification FAILED: the document did not verify",
            );
        }
    }
    // Read only when the SIT will be regenerated; the warnings about lockfiles not used are
    // printed when the regeneration that would have used them is reported.
    let mut lockfile_warnings = Vec::new();
    let lockfiles = match &embedded.read {
        Some(dir) if verification.passed() => {
            read_attested_lockfiles(&doc, &what, dir, &mut lockfile_warnings)?
        }
        _ => BTreeMap::new(),
    };
    let print_lockfile_warnings = || {
        for w in &lockfile_warnings {
            out.info(w);
        }
    };
    let input = SitVerifyInput {
        sit: &sit,
        envelope: envelope.as_ref(),
        against: Against::Document {
            document: &doc,
            verification: &verification,
            lockfiles: &lockfiles,
        },
        allow_in_toto_override: args.insecure_allow_in_toto_override,
    };
    let v = verify_sit(input).map_err(|e| match e {
        SitVerifyError::NothingToCheck => anyhow::anyhow!(
            "{}: no such file, and the document could not be fully verified: nothing to check",
            env_path.display()
        ),
        SitVerifyError::NotALayout => {
            anyhow::anyhow!("{what}: the document's layout is not a layout")
        }
        e @ SitVerifyError::Options(_) => anyhow::Error::new(e).context(sit_name.clone()),
        e @ SitVerifyError::Regenerate(_) => {
            print_lockfile_warnings();
            anyhow::Error::new(e).context(what.clone())
        }
        e => anyhow::Error::new(e).context(what.clone()),
    })?;
    Ok(print_sit_verification(
        &v,
        &args,
        &env_path,
        print_lockfile_warnings,
    ))
}

/// Prints a SIT's verification, check by check as they ran (the document's part is printed
/// by the caller; `lockfile_warnings` prints what reading the lockfiles for the regeneration
/// found), and gives the outcome.
fn print_sit_verification(
    v: &SitVerification,
    args: &VerifyArgs,
    env_path: &Path,
    lockfile_warnings: impl Fn(),
) -> Outcome {
    if v.document == DocumentCheck::Failed {
        // Said already, with the reason, when the document's part was printed.
        return Outcome::Failed;
    }
    match &v.signature {
        SignatureOutcome::Verified(s) => {
            let ids: Vec<&str> = s.signed_by.iter().map(|k| k.as_str()).collect();
            println!(
                "signature: verified (signed by {}; {} subject(s))",
                ids.join(", "),
                s.subjects.len()
            );
        }
        SignatureOutcome::Failed(e) => return failed(format!("signature: {e}")),
        SignatureOutcome::Absent => {
            return failed(format!(
                "signature: none ({} does not exist) and no generator the layout names recorded this SIT in the document: nobody vouches for it",
                env_path.display()
            ))
        }
        SignatureOutcome::RecordedByGenerator { link, keyid } => println!(
            "signature: no envelope; recorded by the generator's link {link} (key {keyid})"
        ),
        SignatureOutcome::NotChecked => {}
    }
    match &v.jsf {
        JsfOutcome::Verified(k) => println!("jsf: verified (key {k})"),
        JsfOutcome::Failed(e) => return failed(format!("JSF signature: {e}")),
        JsfOutcome::Absent | JsfOutcome::NotChecked => {}
    }
    if matches!(
        v.content,
        ContentOutcome::Differs { .. } | ContentOutcome::Regenerated { .. }
    ) {
        lockfile_warnings();
    }
    match &v.content {
        ContentOutcome::SignedPredicate => {
            if v.document == DocumentCheck::NotGiven {
                println!("verification passed (light: signature and content; not checked against a document)");
            } else {
                println!(
                    "verification passed (light: signature and content; not regenerated from the document)"
                );
            }
            return Outcome::Ok;
        }
        ContentOutcome::Differs {
            format,
            timestamp,
            difference,
        } => {
            let hint = if args.artifacts.is_none() {
                " (attested lockfiles are read from --artifacts DIR, which was not given)"
            } else {
                ""
            };
            return failed(format!(
                "the SIT is not what the document yields ({} regenerated as of {}){hint}: {difference}",
                format.name(),
                timestamp.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ));
        }
        ContentOutcome::Regenerated {
            components,
            unhashed,
        } => {
            println!(
                "content: the SIT is what the document yields ({components} components, compared order-insensitively)"
            );
            if !unhashed.is_empty() {
                println!(
                    "unhashed: {} component(s) have no sha256 matching an attested artifact (made with --allow-unhashed): {}",
                    unhashed.len(),
                    unhashed.join(", ")
                );
            }
        }
        ContentOutcome::FromAnotherDocument { named, this } => {
            return failed(format!(
                "the SIT was generated from document sha256:{named}, which is not this document (sha256:{this}) nor one of its versions: verify it against the document it names"
            ))
        }
        ContentOutcome::NotChecked => return failed("the SIT's content was not checked"),
    }
    match &v.overrides {
        OverrideOutcome::Refused(warnings) => {
            for w in warnings {
                println!("override: {w}");
            }
            return failed(format!(
                "the document's mutation overrides in-toto-derived content ({} operation(s): {}); --insecure-allow-in-toto-override accepts that",
                warnings.len(),
                warnings
                    .iter()
                    .map(|w| format!("operation {} ({} {})", w.index, w.op, w.path))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        OverrideOutcome::Accepted(warnings) => {
            for w in warnings {
                eprintln!("warning: {w} (accepted: --insecure-allow-in-toto-override)");
            }
        }
        OverrideOutcome::None | OverrideOutcome::NotChecked => {}
    }
    debug_assert!(v.passed());
    println!("verification passed (full)");
    Outcome::Ok
}
