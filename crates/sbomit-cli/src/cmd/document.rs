//! `sbomit document create|amend|show|verify`: the SBOMit document (see
//! `docs/formats/sbomit-document.md`).
//!
//! Inspections: `document verify` runs the layout's inspections only when `--artifacts DIR`
//! gives the final product (they run with DIR as their current directory). Without it, a
//! layout that has inspections cannot be fully verified: the inspection runner refuses, and
//! the command reports "verification INCOMPLETE: inspections were not run" and exits 1 (an
//! unchecked inspection is never counted as passed). A layout without inspections verifies
//! fully without `--artifacts`, and the report says so. Each inspection is killed, with what
//! it started, after `--inspection-timeout SECS` (10 minutes by default).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use sbomit_crypto::PublicKey;
use sbomit_fs::inspect::{CommandInspectionRunner, DEFAULT_INSPECTION_TIMEOUT};
use sbomit_intoto::digest::Sha256;
use sbomit_intoto::metadata::Metadata;
use sbomit_intoto::verify::{InspectionRunner, VerifyOptions};
use sbomit_sbom::document::{Document, Supplement};
use sbomit_sbom::jsonpatch::Patch;
use sbomit_sbom::roles::{self, Binding, Role};
use sbomit_sbom::sit::LockfileKind;
use sbomit_sbom::verification::document::{
    verify_document as verify_document_with, DocumentOutcome, DocumentVerification, InspectionMode,
};
use sbomit_sbom::verification::sits::{check_sits, Regeneration};

use super::Output;
use crate::keys::{self, PasswordSource};
use crate::Outcome;

#[derive(Subcommand, Debug)]
pub enum DocumentCommand {
    /// Bundle a signed layout and its in-toto metadata into an SBOMit document.
    Create(CreateArgs),
    /// Sign the document's parts (layout, links, attestations, supplement, mutations) as
    /// the layout's mutator: a link of its `sbomit-mutate` step, added to the document.
    Seal(SealArgs),
    /// Append a signed addendum (a JSON Patch to the document).
    Amend(AmendArgs),
    /// Summarize a document.
    Show(ShowArgs),
    /// Verify a document: its addenda, then the in-toto chain on the embedded metadata.
    Verify(VerifyArgs),
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    /// The signed root layout.
    #[arg(short = 'l', long)]
    layout: PathBuf,
    /// The directory holding the links (`<step>.<keyid8>.link`) and sublayout directories.
    #[arg(long = "link-dir")]
    link_dir: PathBuf,
    /// `.intoto.jsonl` bundles (one DSSE envelope per line) or single DSSE envelopes.
    #[arg(long, num_args = 1..)]
    attestations: Vec<PathBuf>,
    /// Supplemental information (supplier, name, version, ...), TOML or JSON.
    #[arg(long)]
    supplement: Option<PathBuf>,
    /// A SIT mutation as FORMAT=PATCH.json (FORMAT: cyclonedx, cyclonedx-1.6, spdx-2.3, ...).
    #[arg(long = "mutation", num_args = 1.., value_parser = parse_mutation)]
    mutations: Vec<(String, PathBuf)>,
    /// Where to write the document.
    #[arg(short = 'o', long)]
    out: PathBuf,
    /// Embed the attested files found in DIR (every file a link records, whose sha256 is the
    /// one recorded: lockfiles, the final product), so that verification needs only the
    /// document and the keys.
    #[arg(long, value_name = "DIR")]
    embed: Option<PathBuf>,
    /// Sign the document's parts as the layout's mutator (see `document seal`).
    #[arg(long = "signing-key")]
    signing_key: Option<PathBuf>,
    /// The mutator step to sign as (default: the one mutator step the key is listed for).
    #[arg(long, requires = "signing_key")]
    step: Option<String>,
    /// Password of an encrypted signing key; `-P` alone prompts.
    #[arg(short = 'P', long = "password", num_args = 0..=1, default_missing_value = "", requires = "signing_key")]
    password: Option<String>,
}

#[derive(Args, Debug)]
pub struct SealArgs {
    /// The document (rewritten in place, atomically). It must have no addenda yet.
    #[arg(long)]
    document: PathBuf,
    /// The mutator's private key (a functionary of the layout's `sbomit-mutate` step).
    #[arg(long = "signing-key")]
    signing_key: PathBuf,
    /// The mutator step to sign as (default: the one mutator step the key is listed for).
    #[arg(long)]
    step: Option<String>,
    /// Password of an encrypted signing key; `-P` alone prompts.
    #[arg(short = 'P', long = "password", num_args = 0..=1, default_missing_value = "")]
    password: Option<String>,
}

#[derive(Args, Debug)]
pub struct AmendArgs {
    /// The document to amend (rewritten in place, atomically).
    #[arg(long)]
    document: PathBuf,
    /// The RFC 6902 JSON Patch to the document (without its `addenda`). Exactly one of
    /// `--patch` and `--from-diff` is given.
    #[arg(long)]
    patch: Option<PathBuf>,
    /// A newer version of the document (for example newly created with more links): the
    /// addendum is the patch turning the document into it.
    #[arg(long = "from-diff", value_name = "NEW_DOCUMENT")]
    from_diff: Option<PathBuf>,
    /// The author's private key.
    #[arg(long = "signing-key")]
    signing_key: PathBuf,
    /// Password of an encrypted signing key; `-P` alone prompts.
    #[arg(short = 'P', long = "password", num_args = 0..=1, default_missing_value = "")]
    password: Option<String>,
}

#[derive(Args, Debug)]
pub struct ShowArgs {
    /// The document.
    document: PathBuf,
    /// List every addendum (author key id, time, operation count).
    #[arg(long)]
    history: bool,
}

#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// The document.
    #[arg(long)]
    document: PathBuf,
    #[command(flatten)]
    trust: TrustArgs,
    /// Verify as of this time (RFC 3339) instead of now.
    #[arg(long)]
    at: Option<String>,
    /// Pass even when a mutation overrides in-toto-derived content (one warning each).
    #[arg(long = "insecure-allow-in-toto-override")]
    insecure_allow_in_toto_override: bool,
}

/// Keys and final product for verifying a document (shared with `sit generate`).
#[derive(Args, Debug)]
pub struct TrustArgs {
    /// The project owner's public keys: each must have signed the layout; they may also
    /// sign addenda.
    #[arg(long = "layout-keys", num_args = 1.., required = true)]
    pub layout_keys: Vec<PathBuf>,
    /// Further public keys trusted to sign addenda.
    #[arg(long = "addendum-keys", num_args = 1..)]
    pub addendum_keys: Vec<PathBuf>,
    /// The directory holding the final product: inspections run there (and `sit generate`
    /// reads attested lockfiles from it). Without it, inspections are not run.
    #[arg(long)]
    pub artifacts: Option<PathBuf>,
    /// Kill an inspection (with everything it started) after this many seconds.
    #[arg(long = "inspection-timeout", value_name = "SECS", default_value_t = DEFAULT_INSPECTION_TIMEOUT.as_secs())]
    pub inspection_timeout: u64,
}

fn parse_mutation(s: &str) -> Result<(String, PathBuf), String> {
    let (f, p) = s
        .split_once('=')
        .ok_or_else(|| format!("expected FORMAT=PATCH.json, got {s:?}"))?;
    let key = if f.eq_ignore_ascii_case("cyclonedx") {
        "cyclonedx".to_owned()
    } else {
        match sbomit_sbom::sit::Format::parse(f) {
            Some(fmt) => fmt.name().to_owned(),
            None => return Err(format!("unknown SIT format {f:?}")),
        }
    };
    if p.is_empty() {
        return Err(format!("no patch file in {s:?}"));
    }
    Ok((key, PathBuf::from(p)))
}

pub fn run(c: DocumentCommand, out: &Output) -> Result<Outcome> {
    match c {
        DocumentCommand::Create(a) => create(a, out),
        DocumentCommand::Seal(a) => seal(a, out),
        DocumentCommand::Amend(a) => amend(a, out),
        DocumentCommand::Show(a) => show(a),
        DocumentCommand::Verify(a) => verify(a, out),
    }
}

// ---- create

fn read_json(path: &Path) -> Result<serde_json::Value> {
    let bytes = sbomit_fs::io::read_file(path)?;
    serde_json::from_slice(&bytes).with_context(|| format!("{}: not JSON", path.display()))
}

fn read_patch(path: &Path) -> Result<Patch> {
    Patch::from_value(&read_json(path)?)
        .with_context(|| format!("{}: not a JSON Patch", path.display()))
}

/// A sublayout directory is named `<step>.<keyid8>`.
fn is_sublayout_dir(name: &str) -> bool {
    match name.rsplit_once('.') {
        Some((step, id)) => {
            !step.is_empty() && id.len() == 8 && id.bytes().all(|b| b.is_ascii_hexdigit())
        }
        None => false,
    }
}

/// Every `*.link` under `dir` (recursing into sublayout directories), with its name
/// relative to the link directory (`/`-separated).
fn collect_links(dir: &Path, prefix: &str, found: &mut Vec<(String, PathBuf)>) -> Result<()> {
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot list {}", dir.display()))?;
        let path = entry.path();
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        if name.starts_with('.') {
            continue;
        }
        let ty = entry
            .file_type()
            .with_context(|| format!("{}", path.display()))?;
        if ty.is_dir() {
            if is_sublayout_dir(&name) {
                collect_links(&path, &format!("{prefix}{name}/"), found)?;
            }
        } else if name.ends_with(".link") {
            found.push((format!("{prefix}{name}"), path));
        }
    }
    Ok(())
}

fn read_supplement(path: &Path) -> Result<Supplement> {
    let bytes = sbomit_fs::io::read_file(path)?;
    let what = path.display().to_string();
    let is_json = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    if is_json {
        serde_json::from_slice(&bytes).with_context(|| format!("{what}: not a supplement"))
    } else {
        let s = std::str::from_utf8(&bytes).with_context(|| format!("{what}: not UTF-8"))?;
        toml::from_str(s).with_context(|| format!("{what}: not a supplement"))
    }
}

fn create(args: CreateArgs, out: &Output) -> Result<Outcome> {
    let layout = sbomit_fs::io::read_file(&args.layout)?;
    let mut doc = Document::new(&layout).with_context(|| args.layout.display().to_string())?;
    let mut links = Vec::new();
    collect_links(&args.link_dir, "", &mut links)?;
    links.sort();
    for (name, path) in &links {
        let bytes = sbomit_fs::io::read_file(path)?;
        doc.add_metadata(name, &bytes)
            .with_context(|| path.display().to_string())?;
    }
    let mut attested = 0;
    for path in &args.attestations {
        let bytes = sbomit_fs::io::read_file(path)?;
        let what = path.display().to_string();
        // One (possibly pretty-printed) envelope, else a bundle of one envelope per line.
        if serde_json::from_slice::<serde_json::Value>(&bytes).is_ok_and(|v| v.is_object()) {
            doc.add_attestation(&bytes).with_context(|| what.clone())?;
            attested += 1;
        } else {
            attested += doc.import_bundle(&bytes).with_context(|| what.clone())?;
        }
    }
    if let Some(p) = &args.supplement {
        doc.set_supplement(read_supplement(p)?);
    }
    for (format, path) in &args.mutations {
        doc.set_mutation(format, read_patch(path)?);
    }
    if let Some(dir) = &args.embed {
        let n = embed_attested(&mut doc, dir)?;
        out.info(format!(
            "embedded {n} attested files from {}",
            dir.display()
        ));
    }
    if let Some(k) = &args.signing_key {
        let key = keys::load_private(k, &PasswordSource::from_flag(args.password.clone()))?;
        let name = seal_as(&mut doc, args.step.as_deref(), &key)
            .with_context(|| args.out.display().to_string())?;
        out.info(format!("signed the document's parts as {name}"));
    }
    sbomit_fs::io::write_atomic(&args.out, &doc.to_bytes(), None)?;
    out.info(format!(
        "wrote {} ({} metadata files, {} attestations)",
        args.out.display(),
        links.len(),
        attested
    ));
    Ok(Outcome::Ok)
}

// ---- embedded files

/// Embeds every file under `dir` that a link of `doc` records with that sha256; returns how
/// many.
fn embed_attested(doc: &mut Document, dir: &Path) -> Result<usize> {
    if !dir.is_dir() {
        bail!("--embed {}: not a directory", dir.display());
    }
    let mut recorded: std::collections::BTreeMap<String, std::collections::BTreeSet<String>> =
        Default::default();
    for name in doc.metadata().keys() {
        let Some(Ok(env)) = doc.metadata_envelope(name) else {
            continue;
        };
        let Ok(Metadata::Link(link)) = Metadata::from_payload(env.payload()) else {
            continue;
        };
        for (path, d) in link.materials.iter().chain(link.products.iter()) {
            if let Some(sha) = d.get("sha256") {
                recorded
                    .entry(path.as_str().to_owned())
                    .or_default()
                    .insert(sha.to_ascii_lowercase());
            }
        }
    }
    let mut n = 0;
    for (path, shas) in recorded {
        // Link paths are the links' own: never read outside `dir`.
        let Ok(file) = sbomit_fs::io::path_under(dir, &path) else {
            continue;
        };
        if !file.is_file() {
            continue;
        }
        let bytes = sbomit_fs::io::read_file(&file)?;
        if shas.contains(&sbomit_intoto::digest::Sha256::digest(&bytes).to_hex()) {
            doc.add_file(&path, bytes)?;
            n += 1;
        }
    }
    Ok(n)
}

/// The final product's directory for verification, always a fresh temporary directory
/// (removed when this is dropped): a copy of `--artifacts` when given, else the document's
/// embedded files, else none. A copy, because inspections unpack the package where they run:
/// the user's directory is left as it was, and a second verification sees what the first did.
pub(crate) struct ArtifactsDir {
    /// Where inspections run.
    pub path: Option<PathBuf>,
    /// Where attested files (lockfiles) are read, and named in messages: the user's own
    /// directory when one was given (never the copy's temporary name), else the embedded files.
    pub read: Option<PathBuf>,
    _tmp: Option<tempfile::TempDir>,
}

pub(crate) fn artifacts_dir(given: Option<&Path>, doc: &Document) -> Result<ArtifactsDir> {
    if let Some(p) = given {
        if !p.is_dir() {
            bail!("--artifacts {}: not a directory", p.display());
        }
        // Only inspections write there: without any (nor a sublayout that may hold some),
        // the user's directory is used as it is, not copied.
        let payload = doc.layout_envelope()?.payload().clone();
        let has = |k: &str| {
            payload
                .get(k)
                .and_then(serde_json::Value::as_array)
                .is_some_and(|a| !a.is_empty())
        };
        if !has("inspect") && doc.metadata().keys().all(|n| !n.contains('/')) {
            return Ok(ArtifactsDir {
                path: Some(p.to_owned()),
                read: Some(p.to_owned()),
                _tmp: None,
            });
        }
        let tmp = tempfile::Builder::new()
            .prefix("sbomit-artifacts-")
            .tempdir()
            .context("cannot create a directory for a copy of --artifacts")?;
        sbomit_fs::io::copy_tree(p, tmp.path())
            .with_context(|| format!("copying --artifacts {}", p.display()))?;
        return Ok(ArtifactsDir {
            path: Some(tmp.path().to_owned()),
            read: Some(p.to_owned()),
            _tmp: Some(tmp),
        });
    }
    let current = doc.current()?;
    if current.files().is_empty() {
        return Ok(ArtifactsDir {
            path: None,
            read: None,
            _tmp: None,
        });
    }
    let tmp = tempfile::Builder::new()
        .prefix("sbomit-embedded-")
        .tempdir()
        .context("cannot create a directory for the document's embedded files")?;
    for (path, bytes) in current.files() {
        let file = sbomit_fs::io::path_under(tmp.path(), path)?;
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(&file, bytes).with_context(|| format!("cannot write {}", file.display()))?;
    }
    Ok(ArtifactsDir {
        path: Some(tmp.path().to_owned()),
        read: Some(tmp.path().to_owned()),
        _tmp: Some(tmp),
    })
}

// ---- seal

/// Adds the mutator's link by `key`, as `step` or the one mutator step listing the key.
fn seal_as(
    doc: &mut Document,
    step: Option<&str>,
    key: &sbomit_crypto::PrivateKey,
) -> Result<String> {
    let step = match step {
        Some(s) => s.to_owned(),
        None => {
            let layout = roles::layout_of(doc)?;
            let keyid = key.public_key().keyid();
            let mine: Vec<String> = roles::role_steps(&layout, Role::Mutator)
                .filter(|s| s.pubkeys.contains(keyid))
                .map(|s| s.name.clone())
                .collect();
            match mine.as_slice() {
                [one] => one.clone(),
                [] => bail!(
                    "key {keyid} is not a functionary of any mutator step (sbomit-mutate) of the layout"
                ),
                _ => bail!(
                    "key {keyid} is listed for several mutator steps ({}): choose one with --step",
                    mine.join(", ")
                ),
            }
        }
    };
    Ok(roles::seal(doc, &step, key)?)
}

fn seal(args: SealArgs, out: &Output) -> Result<Outcome> {
    let mut doc = read_document(&args.document)?;
    let key = keys::load_private(
        &args.signing_key,
        &PasswordSource::from_flag(args.password.clone()),
    )?;
    let what = args.document.display().to_string();
    let name = seal_as(&mut doc, args.step.as_deref(), &key).with_context(|| what.clone())?;
    sbomit_fs::io::write_atomic(&args.document, &doc.to_bytes(), None)?;
    out.info(format!("signed the document's parts as {name} in {what}"));
    Ok(Outcome::Ok)
}

// ---- amend

pub(crate) fn read_document(path: &Path) -> Result<Document> {
    let bytes = sbomit_fs::io::read_file(path)?;
    Document::from_bytes(&bytes).with_context(|| path.display().to_string())
}

fn amend(args: AmendArgs, out: &Output) -> Result<Outcome> {
    let mut doc = read_document(&args.document)?;
    let patch = match (&args.patch, &args.from_diff) {
        (Some(p), None) => read_patch(p)?,
        (None, Some(new)) => {
            let newer = read_document(new)?;
            sbomit_sbom::diff::addendum(&doc, &newer)
                .with_context(|| format!("{} -> {}", args.document.display(), new.display()))?
        }
        (Some(_), Some(_)) => bail!("document amend: give --patch or --from-diff, not both"),
        (None, None) => {
            bail!("document amend: give the change as --patch PATCH or --from-diff NEW_DOCUMENT")
        }
    };
    let key = keys::load_private(
        &args.signing_key,
        &PasswordSource::from_flag(args.password.clone()),
    )?;
    let time = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let a = doc
        .amend(patch, &key, &time)
        .with_context(|| args.document.display().to_string())?;
    let author = a.author.as_str().to_owned();
    let n = doc.addenda().len();
    sbomit_fs::io::write_atomic(&args.document, &doc.to_bytes(), None)?;
    out.info(format!(
        "appended addendum {n} by {author} to {}",
        args.document.display()
    ));
    Ok(Outcome::Ok)
}

// ---- show

fn show(args: ShowArgs) -> Result<Outcome> {
    let doc = read_document(&args.document)?;
    let what = args.document.display().to_string();
    let digest = doc.digest().with_context(|| what.clone())?;
    let current = doc.current().with_context(|| what.clone())?;
    println!("document: {what}");
    println!("sha256: {}", digest.to_hex());
    let env = current.layout_envelope().with_context(|| what.clone())?;
    match Metadata::from_payload(env.payload()) {
        Ok(Metadata::Layout(l)) => {
            println!("layout: expires {}", l.expires_string());
            for s in &l.steps {
                println!("  step: {}", s.name);
            }
            for i in &l.inspect {
                println!("  inspection: {}", i.name);
            }
        }
        _ => println!("layout: (not a layout)"),
    }
    println!("metadata: {}", current.metadata().len());
    for name in current.metadata().keys() {
        println!("  {name}");
    }
    println!("attestations: {}", current.attestations().len());
    let s = current.supplement();
    if *s == Supplement::default() {
        println!("supplement: none");
    } else {
        println!("supplement:");
        if let Some(p) = &s.supplier {
            println!("  supplier: {}", p.name);
        }
        if let Some(n) = &s.name {
            println!("  name: {n}");
        }
        if let Some(v) = &s.version {
            println!("  version: {v}");
        }
        for a in &s.authors {
            println!("  author: {}", a.name);
        }
        if let Some(l) = &s.license {
            println!("  license: {l}");
        }
        for c in &s.contacts {
            println!("  contact: {}", c.name);
        }
    }
    if current.mutations().is_empty() {
        println!("mutations: none");
    } else {
        println!("mutations:");
        for (f, p) in current.mutations() {
            println!("  {f}: {} operations", p.0.len());
        }
    }
    println!("addenda: {}", doc.addenda().len());
    if args.history {
        for (i, a) in doc.addenda().iter().enumerate() {
            println!(
                "  {}: author {} at {}, {} operations",
                i + 1,
                a.author.as_str(),
                a.time,
                a.patch.0.len()
            );
        }
    }
    Ok(Outcome::Ok)
}

// ---- verify

pub(crate) fn load_keys(paths: &[PathBuf]) -> Result<Vec<PublicKey>> {
    paths.iter().map(|p| keys::load_public(p)).collect()
}

pub(crate) fn parse_time(at: Option<&str>) -> Result<chrono::DateTime<chrono::Utc>> {
    Ok(match at {
        Some(t) => chrono::DateTime::parse_from_rfc3339(t)
            .with_context(|| format!("--at {t:?} is not an RFC 3339 time"))?
            .with_timezone(&chrono::Utc),
        None => chrono::Utc::now(),
    })
}

/// Verifies `doc` (addenda, then the in-toto chain), running inspections in
/// `trust.artifacts` when given, each killed after `inspection_timeout`.
pub(crate) fn verify_document(
    doc: &Document,
    what: &str,
    trust: &TrustArgs,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<DocumentVerification> {
    let layout_keys = load_keys(&trust.layout_keys)?;
    let addendum_keys = load_keys(&trust.addendum_keys)?;
    let options = VerifyOptions::at(now);
    let runner = match &trust.artifacts {
        Some(dir) => {
            if !dir.is_dir() {
                bail!("--artifacts {}: not a directory", dir.display());
            }
            let dir = std::path::absolute(dir)
                .with_context(|| format!("--artifacts {}", dir.display()))?;
            let timeout = Duration::from_secs(trust.inspection_timeout);
            Some(CommandInspectionRunner::in_dir(dir, Some(timeout)))
        }
        None => None,
    };
    let runner = runner.as_ref().map(|r| r as &dyn InspectionRunner);
    verify_document_with(doc, &layout_keys, &addendum_keys, &options, runner)
        .map_err(|e| anyhow::Error::new(e).context(what.to_owned()))
}

/// Prints the verification's outcome; true when the document verified.
pub(crate) fn print_verdict(v: &DocumentVerification, out: &Output) -> bool {
    print_verdict_as(v, out, "verification FAILED")
}

/// [`print_verdict`], with `failed` starting the failure line: commands that verify a
/// document on the way to something else say so in their one verdict line
/// (`sit generate FAILED: the document did not verify …`) instead of printing two.
pub(crate) fn print_verdict_as(v: &DocumentVerification, out: &Output, failed: &str) -> bool {
    match &v.outcome {
        DocumentOutcome::Report(report) => {
            for w in &report.warnings {
                if !out.quiet {
                    eprintln!("warning: {w}");
                }
            }
            match &report.failure {
                None => {
                    println!("verification passed");
                    match &v.binding {
                        Some(Binding::Signed { links }) => println!(
                            "document parts: signed by the layout's mutator ({})",
                            links.join(", ")
                        ),
                        Some(Binding::NoMutator) => println!(
                            "document parts: the layout names no mutator (no sbomit-mutate step); only the in-toto chain binds the metadata"
                        ),
                        None => {}
                    }
                    match v.inspections.mode {
                        InspectionMode::Run => {
                            println!("inspections: run in the given artifacts directory")
                        }
                        InspectionMode::NotRun(_) => println!(
                            "inspections: not run (no --artifacts given); the layout has none to run"
                        ),
                    }
                    true
                }
                Some(f) => {
                    println!("{failed}: {f}");
                    false
                }
            }
        }
        DocumentOutcome::Addendum(e) => {
            println!("{failed}: {e}");
            false
        }
        DocumentOutcome::Unbound(f) => {
            println!("{failed}: {f}");
            false
        }
        DocumentOutcome::Incomplete(n) => {
            println!(
                "verification INCOMPLETE: inspections were not run (no --artifacts given), so inspection {:?} and the rules after it were not checked",
                n.inspection
            );
            println!("give --artifacts DIR (the final product) to run them");
            false
        }
    }
}

fn verify(mut args: VerifyArgs, out: &Output) -> Result<Outcome> {
    let now = parse_time(args.at.as_deref())?;
    let doc = read_document(&args.document)?;
    let embedded = artifacts_dir(args.trust.artifacts.as_deref(), &doc)?;
    args.trust.artifacts = embedded.path.clone();
    let what = args.document.display().to_string();
    let v = verify_document(&doc, &what, &args.trust, now)?;
    if !print_verdict(&v, out) {
        return Ok(Outcome::Failed);
    }
    // §5.2.1: regenerate each SIT a generator recorded, and look at every mutation.
    let lockfiles = match &embedded.read {
        Some(dir) => attested_lockfiles(&doc, &what, dir, out)?,
        None => Default::default(),
    };
    let sits = check_sits(&doc, &v, &lockfiles).with_context(|| what.clone())?;
    for s in &sits.sits {
        let format = s.format.map_or("?", |f| f.name());
        match &s.result {
            Regeneration::Matches => {
                println!("SIT {format} ({}): regenerated byte for byte", s.name)
            }
            Regeneration::Differs { recorded, regenerated } => {
                let hint = if args.trust.artifacts.is_none() {
                    " (attested lockfiles are read from --artifacts DIR, which was not given)"
                } else {
                    ""
                };
                println!(
                    "verification FAILED: SIT {format} ({}): the regenerated SIT is not the one its generator signed (sha256 {recorded} signed, {regenerated} regenerated){hint}",
                    s.name
                )
            }
            Regeneration::UnknownVersion { document } => println!(
                "verification FAILED: SIT {format} ({}): generated from document {document}, which is not a version of this document",
                s.name
            ),
            Regeneration::Malformed { reason } => {
                println!("verification FAILED: {}: {reason}", s.name)
            }
        }
    }
    for step in &sits.not_generated {
        println!("SIT step {step}: no SIT recorded yet");
    }
    let allow = args.insecure_allow_in_toto_override;
    for m in &sits.mutations {
        for w in &m.overrides {
            if allow {
                if !out.quiet {
                    eprintln!("warning: mutation {:?} overrides in-toto content (allowed by --insecure-allow-in-toto-override): {w}", m.key);
                }
            } else {
                println!(
                    "verification FAILED: mutation {:?} overrides in-toto-derived content: {w} (--insecure-allow-in-toto-override accepts it)",
                    m.key
                );
            }
        }
    }
    Ok(if sits.passed(allow) {
        Outcome::Ok
    } else {
        Outcome::Failed
    })
}

/// Attested lockfiles: every lockfile path a link in the document records with a sha256,
/// read from `dir` when present there with one of those digests.
pub(crate) fn attested_lockfiles(
    doc: &Document,
    what: &str,
    dir: &Path,
    out: &Output,
) -> Result<BTreeMap<String, Vec<u8>>> {
    let mut warnings = Vec::new();
    let lockfiles = read_attested_lockfiles(doc, what, dir, &mut warnings)?;
    for w in warnings {
        out.info(w);
    }
    Ok(lockfiles)
}

/// [`attested_lockfiles`], the warnings about files not used collected for the caller to
/// print when it is their turn.
pub(crate) fn read_attested_lockfiles(
    doc: &Document,
    what: &str,
    dir: &Path,
    warnings: &mut Vec<String>,
) -> Result<BTreeMap<String, Vec<u8>>> {
    let mut lockfiles = BTreeMap::new();
    let current = doc.current().with_context(|| what.to_owned())?;
    let mut recorded: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for name in current.metadata().keys() {
        let Some(Ok(env)) = current.metadata_envelope(name) else {
            continue;
        };
        let Ok(Metadata::Link(link)) = Metadata::from_payload(env.payload()) else {
            continue;
        };
        for (path, d) in link.materials.iter().chain(link.products.iter()) {
            if LockfileKind::from_path(path.as_str()).is_some() {
                if let Some(sha) = d.get("sha256") {
                    recorded
                        .entry(path.as_str().to_owned())
                        .or_default()
                        .insert(sha.to_ascii_lowercase());
                }
            }
        }
    }
    for (path, shas) in recorded {
        // Link paths are the document's, maybe an attacker's: never read outside `dir`.
        let file = sbomit_fs::io::path_under(dir, &path)?;
        if !file.is_file() {
            continue;
        }
        let bytes = sbomit_fs::io::read_file(&file)?;
        if shas.contains(&Sha256::digest(&bytes).to_hex()) {
            lockfiles.insert(path, bytes);
        } else {
            warnings.push(format!(
                "warning: {} does not match the sha256 any link records for {path:?}; not used",
                file.display()
            ));
        }
    }
    Ok(lockfiles)
}
