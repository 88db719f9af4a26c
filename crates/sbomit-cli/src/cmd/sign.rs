use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;
use sbomit_intoto::envelope::Envelope;

use super::Output;
use crate::keys::{self, PasswordSource};
use crate::Outcome;

#[derive(Args, Debug)]
pub struct SignArgs {
    /// The layout or link to sign (classic or DSSE; the envelope is kept).
    #[arg(short = 'f', long = "file")]
    file: PathBuf,
    /// Private keys to sign with (public keys with --verify).
    #[arg(short = 'k', long = "signing-key", alias = "key", num_args = 1.., required = true)]
    keys: Vec<PathBuf>,
    /// Add signatures instead of replacing the existing ones.
    #[arg(short = 'a', long)]
    append: bool,
    /// Where to write the result. Default: links go to `<step>.<keyid8>.link`, layouts are
    /// signed in place.
    #[arg(short = 'o', long)]
    output: Option<PathBuf>,
    /// Only verify: every key given must have signed the file.
    #[arg(long)]
    verify: bool,
    /// Prompt for the signing keys' password.
    #[arg(short = 'p', long = "prompt")]
    prompt: bool,
}

pub fn run(args: SignArgs, out: &Output) -> Result<Outcome> {
    let what = args.file.display().to_string();
    let bytes = sbomit_fs::io::read_file(&args.file)?;
    let mut envelope = Envelope::parse(&bytes).with_context(|| what.clone())?;
    if args.verify {
        let mut failed = false;
        for path in &args.keys {
            let key = keys::load_public(path)?;
            match envelope.verify(&key) {
                Ok(()) => out.info(format!("{what}: signature by {} verified", key.keyid())),
                Err(e) => {
                    eprintln!("{what}: {e}");
                    failed = true;
                }
            }
        }
        return Ok(if failed { Outcome::Failed } else { Outcome::Ok });
    }
    let source = if args.prompt {
        PasswordSource::Prompt
    } else {
        PasswordSource::Auto
    };
    if !args.append {
        envelope.clear_signatures();
    }
    let mut last_keyid = None;
    for path in &args.keys {
        let key = keys::load_private(path, &source)?;
        let sig = envelope
            .sign(&key)
            .with_context(|| format!("signing with {}", path.display()))?;
        last_keyid = Some(sig.keyid.clone());
    }
    let payload = envelope.payload();
    let kind = payload
        .get("_type")
        .and_then(|t| t.as_str())
        .unwrap_or_default();
    let target = match (&args.output, kind) {
        (Some(o), _) => o.clone(),
        (None, "layout") => args.file.clone(),
        (None, "link") => {
            let name = payload
                .get("name")
                .and_then(|n| n.as_str())
                .context("the link has no name")?;
            let keyid = last_keyid.context("no signature was made")?;
            // As the reference: into the current directory, named after the new signature.
            PathBuf::from(sbomit_fs::io::link_file_name(name, &keyid)?)
        }
        (None, other) => {
            bail!("{what}: cannot tell where to write metadata of type {other:?}: pass -o")
        }
    };
    sbomit_fs::io::write_atomic(&target, &envelope.to_file_bytes(), None)?;
    out.info(format!("wrote {}", target.display()));
    Ok(Outcome::Ok)
}
