use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use sbomit_intoto::envelope::Envelope;
use sbomit_intoto::rule_engine::RuleViolation;
use sbomit_intoto::verify::{self, Failure, VerificationReport, VerifyOptions};
use serde_json::{json, Value};

use super::Output;
use crate::keys;
use crate::Outcome;

#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// The root layout.
    #[arg(short = 'l', long)]
    layout: PathBuf,
    /// The project owner's public keys: each must have signed the layout.
    #[arg(long = "verification-keys", short = 'k', num_args = 1.., required_unless_present = "gpg")]
    verification_keys: Vec<PathBuf>,
    /// Where the links are (default: the current directory).
    #[arg(long = "link-dir", default_value = ".")]
    link_dir: PathBuf,
    /// Values for `{NAME}` placeholders in the layout, as NAME=VALUE.
    #[arg(long = "param", num_args = 1.., value_parser = parse_param)]
    params: Vec<(String, String)>,
    /// Seconds an inspection command may run (default: no limit).
    #[arg(long = "inspection-timeout")]
    inspection_timeout: Option<u64>,
    /// Verify as of this time (RFC 3339) instead of now: for audits and expired fixtures.
    #[arg(long)]
    at: Option<String>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    output: Format,
    /// GPG keys are not supported (accepted only to say so).
    #[arg(short = 'g', long = "gpg", num_args = 0.., hide = true)]
    gpg: Option<Vec<String>>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

fn parse_param(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(format!("expected NAME=VALUE, got {s:?}")),
    }
}

pub fn run(args: VerifyArgs, out: &Output) -> Result<Outcome> {
    if args.gpg.is_some() {
        bail!("GPG keys are not supported; use PEM public keys with --verification-keys");
    }
    let now = match &args.at {
        Some(t) => chrono::DateTime::parse_from_rfc3339(t)
            .with_context(|| format!("--at {t:?} is not an RFC 3339 time"))?
            .with_timezone(&chrono::Utc),
        None => chrono::Utc::now(),
    };
    let what = args.layout.display().to_string();
    let bytes = sbomit_fs::io::read_file(&args.layout)?;
    let layout = Envelope::parse_owned(bytes).with_context(|| what.clone())?;
    let keys = args
        .verification_keys
        .iter()
        .map(|p| keys::load_public(p))
        .collect::<Result<Vec<_>>>()?;
    let mut options = VerifyOptions::at(now);
    // The summary link is not printed.
    options.summary = false;
    if !args.params.is_empty() {
        options.parameters = Some(args.params.iter().cloned().collect::<BTreeMap<_, _>>());
    }
    let links = sbomit_fs::links::DirLinkSource::new(&args.link_dir);
    // Read the links the layout names in parallel; verification then takes them in order.
    // Only step names and key ids are needed here, so they are read from the JSON instead of
    // building the layout model twice (verify builds it, and reports a malformed layout).
    let wanted: Vec<_> = layout
        .payload()
        .get("steps")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|step| {
            let name = step.get("name")?.as_str()?;
            let keys = step.get("pubkeys")?.as_array()?;
            Some(keys.iter().filter_map(move |k| {
                Some((
                    name.to_owned(),
                    sbomit_crypto::KeyId::new(k.as_str()?.to_owned()),
                ))
            }))
        })
        .flatten()
        .collect();
    links.prefetch(&wanted);
    let inspections = sbomit_fs::inspect::CommandInspectionRunner::new(
        args.inspection_timeout.map(Duration::from_secs),
    );
    let report = verify::verify(&layout, &keys, &options, &links, &inspections)
        .with_context(|| what.clone())?;
    let hints = match &report.failure {
        Some(Failure::ThresholdNotMet { step, .. } | Failure::LinkMissing { step, .. }) => {
            let functionaries: Vec<_> = wanted
                .iter()
                .filter(|(s, _)| s == step)
                .map(|(_, k)| k.clone())
                .collect();
            sbomit_fs::links::missing_link_hints(&args.link_dir, step, &functionaries)
                .iter()
                .map(ToString::to_string)
                .collect()
        }
        _ => Vec::new(),
    };
    match args.output {
        Format::Text => print_text(&report, &hints, out),
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&report_json(&report, &hints))?
        ),
    }
    Ok(if report.passed() {
        Outcome::Ok
    } else {
        Outcome::Failed
    })
}

fn print_text(report: &VerificationReport, hints: &[String], out: &Output) {
    for w in &report.warnings {
        if !out.quiet {
            eprintln!("warning: {w}");
        }
    }
    match &report.failure {
        None => println!("verification passed"),
        Some(f) => {
            println!("verification FAILED: {f}");
            let d = details(f);
            for (k, v) in [("step", &d.step), ("rule", &d.rule)] {
                if let Some(v) = v {
                    println!("  {k}: {v}");
                }
            }
            for a in &d.artifacts {
                println!("  artifact: {a}");
            }
            if let Some(g) = &d.digests {
                println!("  digest: {}", g.found);
                println!("  expected: {} ({})", g.expected, g.expected_from);
            }
            for h in hints {
                println!("  hint: {h}");
            }
        }
    }
}

/// Step, rule and artifacts a failure is about, for the report.
#[derive(Default)]
struct Details {
    step: Option<String>,
    rule: Option<String>,
    artifacts: Vec<String>,
    /// For an artifact a MATCH did not consume: its digest and the one it was matched with.
    digests: Option<Digests>,
}

/// The two digests of a MATCH that failed on a hash.
struct Digests {
    found: String,
    expected: String,
    /// Where the expected digest is from: the path and the link.
    expected_from: String,
}

/// `sha256:HEX` (each algorithm a link records, comma-separated).
fn digest_text(d: &sbomit_intoto::digest::DigestSet) -> String {
    d.iter()
        .map(|(alg, hex)| format!("{alg}:{hex}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn details(f: &Failure) -> Details {
    match f {
        Failure::LinkMissing { step, .. }
        | Failure::LinkUnauthorized { step, .. }
        | Failure::LinkSignatureBad { step, .. }
        | Failure::ThresholdNotMet { step, .. }
        | Failure::LinksDisagree { step, .. } => Details {
            step: Some(step.clone()),
            ..Details::default()
        },
        Failure::ArtifactRule {
            item,
            violation,
            source_type,
            ..
        } => {
            let mut digests = None;
            let (rule, artifacts) = match violation {
                RuleViolation::Disallowed { rule, artifacts } => (
                    rule.to_string(),
                    artifacts.iter().map(ToString::to_string).collect(),
                ),
                RuleViolation::MatchHashMismatch {
                    match_rule,
                    artifact,
                    digest,
                    dest_name,
                    dest_path,
                    dest_digest,
                    ..
                } => {
                    digests = Some(Digests {
                        found: digest_text(digest),
                        expected: digest_text(dest_digest),
                        expected_from: format!("{dest_path} in the {dest_name:?} link"),
                    });
                    (match_rule.to_string(), vec![artifact.to_string()])
                }
                RuleViolation::RequireMissing { rule, artifact }
                | RuleViolation::MatchSourceUnresolvable { rule, artifact } => {
                    (rule.to_string(), vec![artifact.to_string()])
                }
                #[allow(unreachable_patterns)]
                _ => (String::new(), Vec::new()),
            };
            Details {
                step: Some(item.clone()),
                rule: Some(format!("expected_{source_type}: {rule}")),
                artifacts,
                digests,
            }
        }
        Failure::InspectionFailed { inspection, .. } => Details {
            step: Some(inspection.clone()),
            ..Details::default()
        },
        Failure::Sublayout { step, failure, .. } => {
            let inner = details(failure);
            Details {
                step: Some(match inner.step {
                    Some(s) => format!("{step} > {s}"),
                    None => step.clone(),
                }),
                ..inner
            }
        }
        _ => Details::default(),
    }
}

fn report_json(report: &VerificationReport, hints: &[String]) -> Value {
    let failure = report.failure.as_ref().map(|f| {
        let d = details(f);
        let digests = d.digests.as_ref().map(
            |g| json!({"found": g.found, "expected": g.expected, "expected_from": g.expected_from}),
        );
        json!({"message": f.to_string(), "step": d.step, "rule": d.rule, "artifacts": d.artifacts,
               "digests": digests, "hints": hints})
    });
    json!({
        "verified": report.passed(),
        "failure": failure,
        "warnings": report.warnings.iter().map(ToString::to_string).collect::<Vec<_>>(),
    })
}
