//! The `sbomit` binary: parses flags into validated configuration, calls the libraries, and maps
//! outcomes to exit codes (0 ok, 1 verification failed, 2 usage, input or IO error).
//!
//! `anyhow` lives here only: the libraries return typed errors, which this binary turns into a
//! one-line message on stderr.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

// Verification and recording build and drop millions of small strings and maps; mimalloc
// handles that pattern markedly faster than glibc's malloc.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod cmd;
mod keys;
mod progress;

/// Supply-chain integrity: in-toto recording and verification, SBOMit documents and SITs, and
/// the Store (SCITT) for evidence and policy.
#[derive(Parser, Debug)]
#[command(name = "sbomit", version, propagate_version = true)]
struct Cli {
    /// Print less (only errors and the verdict).
    #[arg(short, long, global = true)]
    quiet: bool,
    /// Print more detail.
    #[arg(short, long, global = true)]
    verbose: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Generate keys and print key ids.
    #[command(subcommand)]
    Key(cmd::key::KeyCommand),
    /// Run a supply-chain step and record it as a signed link (as `in-toto-run`).
    Run(cmd::run::RunArgs),
    /// Record a step in two halves, around commands you run yourself (as `in-toto-record`).
    #[command(subcommand)]
    Record(cmd::run::RecordCommand),
    /// Sign (or verify the signatures of) a layout or link, classic or DSSE (as `in-toto-sign`).
    Sign(cmd::sign::SignArgs),
    /// Create a layout from a readable TOML/YAML source, or show one for review.
    #[command(subcommand)]
    Layout(cmd::layout::LayoutCommand),
    /// Verify a supply chain against its signed layout (as `in-toto-verify`).
    Verify(cmd::verify::VerifyArgs),
    /// Build, verify and then tamper with a real three-step supply chain in a scratch directory.
    Demo(cmd::demo::DemoArgs),
    /// Create, amend, show and verify SBOMit documents.
    #[command(subcommand)]
    Document(cmd::document::DocumentCommand),
    /// Generate SITs (attested SBOMs) from SBOMit documents.
    #[command(subcommand)]
    Sit(cmd::sit::SitCommand),
    /// Create signed evidence: an in-toto Statement in a DSSE envelope, or a COSE Signed
    /// Statement.
    Attest(cmd::attest::AttestArgs),
    /// Run the Store (a SCITT transparency service), or register with and query one.
    #[command(subcommand)]
    Store(cmd::store::StoreCommand),
}

/// How a command ended, when it did not end in an error.
pub enum Outcome {
    Ok,
    /// Verification or policy failed: exit 1 (the report was already printed).
    Failed,
}

fn main() -> ExitCode {
    // The HTTPS client (ureq) and the PostgreSQL TLS share one crypto library: aws-lc-rs.
    // An error means a provider was installed already, which is as good.
    let _ = rustls::crypto::CryptoProvider::install_default(std::sync::Arc::unwrap_or_clone(
        sbomit_crypto::tls_provider(),
    ));
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(
                e.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                e.exit();
            }
            eprintln!("sbomit: error: {}", usage_error_line(&e));
            return ExitCode::from(2);
        }
    };
    let out = cmd::Output {
        quiet: cli.quiet,
        verbose: cli.verbose,
    };
    let result = match cli.command {
        Command::Key(c) => cmd::key::run(c, &out),
        Command::Run(a) => cmd::run::run(a, &out),
        Command::Record(c) => cmd::run::record(c, &out),
        Command::Sign(a) => cmd::sign::run(a, &out),
        Command::Layout(c) => cmd::layout::run(c, &out),
        Command::Verify(a) => cmd::verify::run(a, &out),
        Command::Demo(a) => cmd::demo::run(a, &out),
        Command::Document(c) => cmd::document::run(c, &out),
        Command::Sit(c) => cmd::sit::run(c, &out),
        Command::Attest(a) => cmd::attest::run(a, &out),
        Command::Store(c) => cmd::store::run(c, &out),
    };
    match result {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::Failed) => ExitCode::from(1),
        Err(e) => {
            eprintln!("sbomit: error: {}", one_line(&e));
            ExitCode::from(2)
        }
    }
}

/// A usage error as one line, as every other error is: clap's message (its lines joined)
/// and the usage line it gives, without its `error:` prefix and its pointer to `--help`.
fn usage_error_line(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let mut message = Vec::new();
    let mut usage = None;
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with("For more information") {
            continue;
        }
        if let Some(u) = line.strip_prefix("Usage: ") {
            usage = Some(u.to_owned());
            continue;
        }
        message.push(line.strip_prefix("error: ").unwrap_or(line));
    }
    let mut one = message.join(" ");
    if let Some(u) = usage {
        one.push_str(&format!(" (usage: {u})"));
    }
    one
}

/// The error as one line: its chain of contexts and causes, outermost first, each said once.
/// Library errors often carry their source's text in their own message (`"{path}: {source}"`)
/// and also return it as `source()`; printing the chain as it is would repeat it.
fn one_line(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if text.is_empty() || out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out.replace('\n', " ")
}
