//! `sbomit run` and `sbomit record start|stop`: the functionary's side, flag for flag with
//! `in-toto-run` and `in-toto-record`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use sbomit_crypto::PrivateKey;
use sbomit_fs::record::{record_artifacts, RecordOptions};
use sbomit_intoto::digest::Artifacts;
use sbomit_intoto::envelope::{Envelope, EnvelopeKind};
use sbomit_intoto::model::Link;
use sbomit_intoto::statement::Statement;

use super::Output;
use crate::keys::{self, PasswordSource};
use crate::progress::Bar;
use crate::Outcome;

/// Flags shared by `run`, `record start` and `record stop`.
#[derive(Args, Debug)]
pub struct CommonArgs {
    /// The step's name, as in the layout; also names the link file.
    #[arg(short = 'n', long = "step-name")]
    step_name: String,
    /// The functionary's private key (PKCS#8, PKCS#1 or SEC1 PEM).
    #[arg(long = "signing-key", required_unless_present = "gpg")]
    signing_key: Option<PathBuf>,
    /// Password of an encrypted signing key; `-P` alone prompts. Default: SBOMIT_KEY_PASSWORD,
    /// else a prompt when the key is encrypted.
    #[arg(short = 'P', long = "password", num_args = 0..=1, default_missing_value = "")]
    password: Option<String>,
    /// GPG is not supported (accepted only to say so).
    #[arg(short = 'g', long = "gpg", num_args = 0..=1, hide = true)]
    gpg: Option<Option<String>>,
    /// Patterns of paths not to record (gitignore syntax). Default: *.link*, .git, *.pyc, *~.
    #[arg(long, num_args = 1..)]
    exclude: Option<Vec<String>>,
    /// Directory relative paths are resolved against (not recorded).
    #[arg(long = "base-path")]
    base_path: Option<PathBuf>,
    /// Prefixes to strip from recorded paths.
    #[arg(long = "lstrip-paths", num_args = 1..)]
    lstrip_paths: Vec<String>,
    /// Where to write the link (default: the current directory).
    #[arg(short = 'd', long = "metadata-directory", default_value = ".")]
    metadata_directory: PathBuf,
    /// Write a DSSE envelope instead of the classic {signed, signatures}.
    #[arg(long = "use-dsse")]
    use_dsse: bool,
    /// `link`: in-toto link metadata; `attestation`: an in-toto Statement v1 with the link
    /// v0.3 predicate, in DSSE.
    #[arg(long, value_enum, default_value_t = LinkFormat::Link)]
    format: LinkFormat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LinkFormat {
    Link,
    Attestation,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// Files or directories recorded before the command runs (`dir:PATH` for one digest of a tree).
    #[arg(short = 'm', long = "materials", num_args = 1..)]
    materials: Vec<String>,
    /// Files or directories recorded after the command runs.
    #[arg(short = 'p', long = "products", num_args = 1..)]
    products: Vec<String>,
    /// Also show the command's stdout and stderr on this terminal while recording them.
    #[arg(short = 's', long = "record-streams")]
    record_streams: bool,
    /// Record without running a command (for example a review step).
    #[arg(short = 'x', long = "no-command")]
    no_command: bool,
    /// Seconds after which the command, and every process it started, is killed (default: no
    /// limit).
    #[arg(long = "run-timeout")]
    run_timeout: Option<u64>,
    /// With --record-streams, bytes of stdout and of stderr each recorded; past it the
    /// recorded text is cut and ends with a line saying so (the command still runs to its end).
    #[arg(long = "max-output-bytes", value_name = "BYTES", default_value_t = sbomit_fs::run::DEFAULT_MAX_OUTPUT_BYTES)]
    max_output_bytes: usize,
    /// The command to run, after `--`.
    #[arg(last = true)]
    command: Vec<String>,
}

#[derive(Subcommand, Debug)]
pub enum RecordCommand {
    /// Record materials and write `.<step>.<keyid8>.link-unfinished`.
    Start {
        #[command(flatten)]
        common: CommonArgs,
        #[arg(short = 'm', long = "materials", num_args = 1..)]
        materials: Vec<String>,
    },
    /// Record products, sign, and turn the unfinished link into `<step>.<keyid8>.link`.
    Stop {
        #[command(flatten)]
        common: CommonArgs,
        #[arg(short = 'p', long = "products", num_args = 1..)]
        products: Vec<String>,
    },
}

impl CommonArgs {
    fn key(&self) -> Result<PrivateKey> {
        if self.gpg.is_some() {
            bail!("GPG keys are not supported; use a PEM key with --signing-key");
        }
        let path = self
            .signing_key
            .as_deref()
            .context("--signing-key is required")?;
        let source = match &self.password {
            None => PasswordSource::Auto,
            Some(p) if p.is_empty() => PasswordSource::Prompt,
            Some(p) => PasswordSource::Given(p.clone()),
        };
        keys::load_private(path, &source)
    }

    fn record_options(&self) -> RecordOptions {
        let mut o = RecordOptions::default();
        if let Some(e) = &self.exclude {
            o.exclude_patterns = Some(e.clone());
        }
        o.base_path = self.base_path.clone();
        o.lstrip_paths = self.lstrip_paths.clone();
        o
    }

    fn record(&self, paths: &[String], what: &str, out: &Output) -> Result<Artifacts> {
        if paths.is_empty() {
            return Ok(Artifacts::new());
        }
        let flag = if what == "materials" { "-m" } else { "-p" };
        for path in paths {
            // `dir:` names a directory to hash as one; other `scheme:` resolvers are not files.
            let plain = path.strip_prefix("dir:").unwrap_or(path);
            if plain.contains(':') {
                continue;
            }
            let on_disk = match &self.base_path {
                Some(base) => base.join(plain),
                None => PathBuf::from(plain),
            };
            if std::fs::symlink_metadata(&on_disk).is_err() {
                out.warn(format!(
                    "{flag} {path}: no such file or directory, so nothing is recorded for it"
                ));
            }
        }
        let bar = Bar::new(what, out.quiet);
        record_artifacts(paths, &self.record_options(), &bar)
            .with_context(|| format!("recording {what}"))
    }

    fn envelope(&self, link: Link) -> Result<Envelope> {
        let (kind, payload) = match self.format {
            LinkFormat::Link => (
                if self.use_dsse {
                    EnvelopeKind::Dsse
                } else {
                    EnvelopeKind::Classic
                },
                link.into_value(),
            ),
            LinkFormat::Attestation => (EnvelopeKind::Dsse, Statement::from_link(&link).to_value()),
        };
        Ok(Envelope::from_value(kind, payload)?)
    }
}

fn write_link(dir: &Path, name: &str, envelope: &Envelope, out: &Output) -> Result<PathBuf> {
    let path = dir.join(name);
    sbomit_fs::io::write_atomic(&path, &envelope.to_file_bytes(), None)?;
    out.info(format!("wrote {}", path.display()));
    Ok(path)
}

pub fn run(args: RunArgs, out: &Output) -> Result<Outcome> {
    let c = &args.common;
    let key = c.key()?;
    let link_name = sbomit_fs::io::link_file_name(&c.step_name, key.public_key().keyid())?;
    if args.no_command && !args.command.is_empty() {
        bail!("--no-command and a command to run exclude each other");
    }
    if !args.no_command && args.command.is_empty() {
        bail!("no command to run: give one after `--`, or pass --no-command");
    }
    let timer = crate::progress::Timings::start();
    let materials = c.record(&args.materials, "materials", out)?;
    timer.lap("record materials");
    let mut byproducts = serde_json::Map::new();
    if !args.no_command {
        let timeout = args.run_timeout.map(Duration::from_secs);
        let streams = if args.record_streams {
            sbomit_fs::run::Streams::Tee
        } else {
            sbomit_fs::run::Streams::Inherit
        };
        // A foreground job: a timeout kills everything the step started, and a signal that
        // stops sbomit stops the step too (and no link is written).
        let options = sbomit_fs::run::RunOptions {
            max_output_bytes: args.max_output_bytes,
            foreground_job: true,
            ..sbomit_fs::run::RunOptions::new(streams, timeout)
        };
        byproducts = sbomit_fs::run::run_command_with(&args.command, &options)
            .with_context(|| format!("running {:?}", args.command.join(" ")))?;
        match byproducts.get("return-value").and_then(|v| v.as_i64()) {
            Some(0) | None => {}
            Some(code) => out.warn(format!(
                "{:?} exited with code {code}; the link records that",
                args.command.join(" ")
            )),
        }
    }
    let products = c.record(&args.products, "products", out)?;
    timer.lap("run and record products");
    let link = Link {
        name: c.step_name.clone(),
        command: args.command.clone(),
        materials,
        products,
        byproducts,
        environment: serde_json::Map::new(),
    };
    let mut envelope = c.envelope(link)?;
    timer.lap("build envelope");
    envelope.sign(&key)?;
    timer.lap("sign");
    write_link(&c.metadata_directory, &link_name, &envelope, out)?;
    timer.lap("write");
    Ok(Outcome::Ok)
}

pub fn record(cmd: RecordCommand, out: &Output) -> Result<Outcome> {
    match cmd {
        RecordCommand::Start {
            common: c,
            materials,
        } => {
            let key = c.key()?;
            let name = sbomit_fs::io::link_file_name(&c.step_name, key.public_key().keyid())?;
            let materials = c.record(&materials, "materials", out)?;
            let link = Link {
                name: c.step_name.clone(),
                command: Vec::new(),
                materials,
                products: Artifacts::new(),
                byproducts: serde_json::Map::new(),
                environment: serde_json::Map::new(),
            };
            let mut envelope = c.envelope(link)?;
            envelope.sign(&key)?;
            write_link(
                &c.metadata_directory,
                &format!(".{name}-unfinished"),
                &envelope,
                out,
            )?;
            Ok(Outcome::Ok)
        }
        RecordCommand::Stop {
            common: c,
            products,
        } => {
            let key = c.key()?;
            let name = sbomit_fs::io::link_file_name(&c.step_name, key.public_key().keyid())?;
            let unfinished = c.metadata_directory.join(format!(".{name}-unfinished"));
            let bytes = sbomit_fs::io::read_file(&unfinished).with_context(|| {
                format!(
                    "no unfinished link: run `sbomit record start -n {}` first",
                    c.step_name
                )
            })?;
            let what = unfinished.display().to_string();
            let previous = Envelope::parse(&bytes).with_context(|| what.clone())?;
            // The start half must be ours: otherwise someone else's materials would be signed.
            previous
                .verify(key.public_key())
                .with_context(|| format!("{what} is not signed by the signing key"))?;
            let mut link = match c.format {
                LinkFormat::Link => {
                    Link::from_value(previous.payload()).with_context(|| what.clone())?
                }
                LinkFormat::Attestation => Statement::from_value(previous.payload())
                    .and_then(|s| s.to_link())
                    .with_context(|| what.clone())?,
            };
            link.products = c.record(&products, "products", out)?;
            let mut envelope = c.envelope(link)?;
            envelope.sign(&key)?;
            write_link(&c.metadata_directory, &name, &envelope, out)?;
            std::fs::remove_file(&unfinished).with_context(|| format!("cannot remove {what}"))?;
            Ok(Outcome::Ok)
        }
    }
}
