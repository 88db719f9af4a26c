//! `sbomit sit generate`: a SIT (an SBOM whose every hash is attested) from a verified SBOMit
//! document.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use sbomit_core::digest::Sha256;
use sbomit_core::model::Metadata;
use sbomit_core::sit::{self, Format, LockfileKind, SitOptions};

use super::document::{print_verdict, read_document, verify_document, TrustArgs, Verdict};
use super::Output;
use crate::Outcome;

#[derive(Subcommand, Debug)]
pub enum SitCommand {
    /// Verify a document, then generate a SIT from its verified metadata.
    Generate(GenerateArgs),
}

#[derive(Args, Debug)]
pub struct GenerateArgs {
    /// The SBOMit document.
    #[arg(long)]
    document: PathBuf,
    /// cyclonedx-1.6, cyclonedx-1.5, cyclonedx-1.7, spdx-2.3 or spdx-3.0.1.
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
    }
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

fn generate(args: GenerateArgs, out: &Output) -> Result<Outcome> {
    let timestamp = timestamp()?;
    let doc = read_document(&args.document)?;
    let what = args.document.display().to_string();
    let verdict = verify_document(&doc, &what, &args.trust, chrono::Utc::now())?;
    let ok = print_verdict(&verdict, args.trust.artifacts.is_some(), out);
    let report = match verdict {
        Verdict::Report(r) if ok => *r,
        _ => {
            eprintln!("sbomit: no SIT generated: the document did not verify");
            return Ok(Outcome::Failed);
        }
    };

    // Attested lockfiles: every lockfile path a link in the document records with a sha256,
    // read from the artifacts directory when present there with one of those digests.
    let mut lockfiles = BTreeMap::new();
    if let Some(dir) = &args.trust.artifacts {
        let current = doc.current().with_context(|| what.clone())?;
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
            let file = dir.join(&path);
            if !file.is_file() {
                continue;
            }
            let bytes = sbomit_fs::io::read_file(&file)?;
            if shas.contains(&Sha256::digest(&bytes).to_hex()) {
                lockfiles.insert(path, bytes);
            } else {
                out.info(format!(
                    "warning: {} does not match the sha256 any link records for {path:?}; not used",
                    file.display()
                ));
            }
        }
    }

    let mut options = SitOptions::at(timestamp);
    options.attestation_url_base = args.attestation_url_base.clone();
    let inventory =
        sit::derive(&doc, &report, &lockfiles, &options).with_context(|| what.clone())?;
    let generated =
        sit::generate(&doc, &inventory, args.format, &options).with_context(|| what.clone())?;
    for w in &generated.warnings {
        eprintln!("warning: {w}");
    }
    if generated.value.is_null() {
        bail!("the SIT is empty");
    }
    sbomit_fs::io::write_atomic(&args.out, &generated.to_bytes(), None)?;
    out.info(format!(
        "wrote {} ({}, {} components)",
        args.out.display(),
        args.format.name(),
        inventory.components.len()
    ));
    Ok(Outcome::Ok)
}
