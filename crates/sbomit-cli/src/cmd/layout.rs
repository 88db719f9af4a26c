//! `sbomit layout create|show`: layouts without Python.
//!
//! The source is TOML or YAML (chosen by extension; TOML otherwise):
//!
//! ```toml
//! expires = "2027-01-01T00:00:00Z"   # or: expires_in_days = 365 (one of them is required)
//! readme = "what this layout is for"
//! [keys]
//! alice = "keys/alice.pub"           # a name for each public key file (relative to this file)
//! [[steps]]
//! name = "build"
//! functionaries = ["alice"]          # key names from [keys], or public key file paths
//! threshold = 1
//! expected_command = ["make"]        # an array, or a string split on whitespace
//! expected_materials = ["MATCH src/* WITH PRODUCTS FROM write-code", "DISALLOW *"]
//! expected_products = [["CREATE", "a file with spaces"]]   # rules as strings or arrays
//! [[inspect]]
//! name = "untar"
//! run = ["tar", "xzf", "foo.tar.gz"]
//! expected_materials = ["MATCH foo.tar.gz WITH PRODUCTS FROM package"]
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use sbomit_intoto::envelope::{Envelope, EnvelopeKind};
use sbomit_intoto::lint::{lint, Finding, Severity};
use sbomit_intoto::model::Layout;
use serde::Deserialize;
use serde_json::{json, Value};

use super::Output;
use crate::keys::{self, PasswordSource};
use crate::Outcome;

#[derive(Subcommand, Debug)]
pub enum LayoutCommand {
    /// Turn a TOML or YAML source into a layout (signed when --signing-key is given).
    Create {
        /// The readable source (.toml, .yaml or .yml).
        #[arg(long)]
        from: PathBuf,
        /// Where to write the layout.
        #[arg(long, short = 'o')]
        out: PathBuf,
        /// The project owner's private key(s); without one the layout is written unsigned,
        /// for `sbomit sign`.
        #[arg(long = "signing-key", num_args = 1..)]
        signing_keys: Vec<PathBuf>,
        /// Write a DSSE envelope instead of the classic {signed, signatures}.
        #[arg(long)]
        use_dsse: bool,
    },
    /// Print a layout for review: who may sign each step, thresholds, rules, expiry.
    Show { layout: PathBuf },
    /// Check a layout (a layout file, or its .toml/.yaml source) for mistakes in-toto accepts
    /// silently: rules that let a swapped artifact through, MATCH from no step, unreachable
    /// rules, unsatisfiable thresholds, duplicate or unknown keys, expiry. Exit 1 on errors.
    Lint { layout: PathBuf },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Source {
    expires: Option<String>,
    expires_in_days: Option<i64>,
    #[serde(default)]
    readme: String,
    #[serde(default)]
    keys: BTreeMap<String, String>,
    #[serde(default)]
    steps: Vec<StepSource>,
    #[serde(default)]
    inspect: Vec<InspectionSource>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StepSource {
    name: String,
    functionaries: Vec<String>,
    #[serde(default = "one")]
    threshold: u64,
    #[serde(default)]
    expected_command: Words,
    #[serde(default)]
    expected_materials: Vec<Words>,
    #[serde(default)]
    expected_products: Vec<Words>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InspectionSource {
    name: String,
    run: Words,
    #[serde(default)]
    expected_materials: Vec<Words>,
    #[serde(default)]
    expected_products: Vec<Words>,
}

fn one() -> u64 {
    1
}

/// A command or rule: an array of words, or a string split on whitespace.
#[derive(Deserialize, Default)]
#[serde(untagged)]
enum Words {
    #[default]
    None,
    Text(String),
    List(Vec<String>),
}

impl Words {
    fn to_vec(&self) -> Vec<String> {
        match self {
            Words::None => Vec::new(),
            Words::Text(s) => s.split_whitespace().map(str::to_owned).collect(),
            Words::List(v) => v.clone(),
        }
    }
}

pub fn run(cmd: LayoutCommand, out: &Output) -> Result<Outcome> {
    match cmd {
        LayoutCommand::Create {
            from,
            out: target,
            signing_keys,
            use_dsse,
        } => {
            let layout = layout_from_source(&from)?;
            // Errors refuse the layout (nothing is written); warnings are printed.
            let findings = lint_value(&layout).with_context(|| from.display().to_string())?;
            let errors = print_findings(&findings);
            if errors > 0 {
                bail!(
                    "{}: {errors} error(s) in the layout (listed above); nothing written",
                    from.display()
                );
            }
            let kind = if use_dsse {
                EnvelopeKind::Dsse
            } else {
                EnvelopeKind::Classic
            };
            let mut envelope =
                Envelope::new(kind, &layout).with_context(|| from.display().to_string())?;
            for path in &signing_keys {
                let key = keys::load_private(path, &PasswordSource::Auto)?;
                envelope
                    .sign(&key)
                    .with_context(|| format!("signing with {}", path.display()))?;
            }
            sbomit_fs::io::write_atomic(&target, &envelope.to_file_bytes(), None)?;
            out.info(format!(
                "wrote {} ({} signature{})",
                target.display(),
                signing_keys.len(),
                if signing_keys.len() == 1 { "" } else { "s" }
            ));
            Ok(Outcome::Ok)
        }
        LayoutCommand::Lint { layout: path } => {
            let value = if is_source(&path) {
                layout_from_source(&path)?
            } else {
                let bytes = sbomit_fs::io::read_file(&path)?;
                Envelope::parse(&bytes)
                    .with_context(|| path.display().to_string())?
                    .payload()
                    .clone()
            };
            let findings = lint_value(&value).with_context(|| path.display().to_string())?;
            let errors = print_findings(&findings);
            let warnings = findings.len() - errors;
            println!(
                "{}: {errors} error(s), {warnings} warning(s)",
                path.display()
            );
            Ok(if errors > 0 {
                Outcome::Failed
            } else {
                Outcome::Ok
            })
        }
        LayoutCommand::Show { layout } => {
            let bytes = sbomit_fs::io::read_file(&layout)?;
            let envelope = Envelope::parse(&bytes).with_context(|| layout.display().to_string())?;
            print!(
                "{}",
                describe(&envelope).with_context(|| layout.display().to_string())?
            );
            Ok(Outcome::Ok)
        }
    }
}

/// Whether `path` names a layout source (.toml, .yaml, .yml) rather than a layout file.
fn is_source(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| matches!(e, "toml" | "yaml" | "yml"))
}

/// Lints a layout's `signed` JSON as of now.
fn lint_value(value: &Value) -> Result<Vec<Finding>> {
    let layout = Layout::from_value(value)?;
    Ok(lint(&layout, chrono::Utc::now()))
}

/// Prints each finding on stderr (`error: …` / `warning: …`); returns how many are errors.
fn print_findings(findings: &[Finding]) -> usize {
    for f in findings {
        let level = match f.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        eprintln!("{level}: {}: {}", f.location, f.message);
    }
    findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count()
}

/// Reads a layout source and returns the layout's `signed` JSON, shaped as the reference writes it.
pub fn layout_from_source(path: &Path) -> Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default();
    let source: Source = if ext == "yaml" || ext == "yml" {
        serde_norway::from_str(&text)
            .with_context(|| format!("{}: not a valid layout source", path.display()))?
    } else {
        toml::from_str(&text)
            .with_context(|| format!("{}: not a valid layout source", path.display()))?
    };
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();

    let mut keys = serde_json::Map::new();
    let mut by_name = BTreeMap::new();
    let mut load = |reference: &str| -> Result<String> {
        if let Some(id) = by_name.get(reference) {
            return Ok(String::clone(id));
        }
        let file = source
            .keys
            .get(reference)
            .map_or_else(|| PathBuf::from(reference), PathBuf::from);
        let file = if file.is_absolute() {
            file
        } else {
            base.join(file)
        };
        if !source.keys.contains_key(reference) && !file.exists() {
            bail!(
                "{}: {reference:?} is neither a name in [keys] nor a key file",
                path.display()
            );
        }
        let key = keys::load_public(&file)?;
        let mut object = key.to_securesystemslib();
        if let Some(o) = object.as_object_mut() {
            o.insert("keyid".into(), Value::String(key.keyid().to_string()));
        }
        keys.insert(key.keyid().to_string(), object);
        by_name.insert(reference.to_owned(), key.keyid().to_string());
        Ok(key.keyid().to_string())
    };
    for name in source.keys.keys() {
        load(name)?;
    }
    let mut steps = Vec::new();
    for s in &source.steps {
        let pubkeys = s
            .functionaries
            .iter()
            .map(|f| load(f))
            .collect::<Result<Vec<_>>>()?;
        steps.push(json!({
            "_type": "step",
            "name": s.name,
            "pubkeys": pubkeys,
            "threshold": s.threshold,
            "expected_command": s.expected_command.to_vec(),
            "expected_materials": s.expected_materials.iter().map(Words::to_vec).collect::<Vec<_>>(),
            "expected_products": s.expected_products.iter().map(Words::to_vec).collect::<Vec<_>>(),
        }));
    }
    let inspect: Vec<Value> = source
        .inspect
        .iter()
        .map(|i| {
            json!({
                "_type": "inspection",
                "name": i.name,
                "run": i.run.to_vec(),
                "expected_materials": i.expected_materials.iter().map(Words::to_vec).collect::<Vec<_>>(),
                "expected_products": i.expected_products.iter().map(Words::to_vec).collect::<Vec<_>>(),
            })
        })
        .collect();
    let expires = match (&source.expires, source.expires_in_days) {
        (Some(_), Some(_)) => bail!(
            "{}: give `expires` or `expires_in_days`, not both",
            path.display()
        ),
        (Some(e), None) => e.clone(),
        (None, Some(days)) => {
            let at = chrono::Utc::now() + chrono::Duration::days(days);
            at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
        }
        // Required, as docs/compatibility.md says: a default would quietly decide how long
        // the owner's signature is trusted.
        (None, None) => bail!(
            "{}: the layout has no expiry: give `expires` (RFC 3339) or `expires_in_days`",
            path.display()
        ),
    };
    let layout = json!({
        "_type": "layout",
        "expires": expires,
        "readme": source.readme,
        "keys": keys,
        "steps": steps,
        "inspect": inspect,
    });
    // Same validation as when reading a layout: names, thresholds, rules, expiry format.
    sbomit_intoto::model::Layout::from_value(&layout)
        .with_context(|| path.display().to_string())?;
    Ok(layout)
}

/// The review text of `layout show`.
fn describe(envelope: &Envelope) -> Result<String> {
    use std::fmt::Write;
    let layout = Layout::from_value(envelope.payload())?;
    let mut s = String::new();
    let kind = match envelope.kind() {
        EnvelopeKind::Classic => "classic",
        EnvelopeKind::Dsse => "DSSE",
    };
    let expired = if layout.expires <= chrono::Utc::now() {
        " (expired)"
    } else {
        ""
    };
    let _ = writeln!(
        s,
        "Layout ({kind} envelope), expires {}{expired}",
        layout.expires_string()
    );
    let signers: Vec<_> = envelope
        .signatures()
        .iter()
        .map(|sig| sig.keyid.to_string())
        .collect();
    let _ = writeln!(
        s,
        "Signed by: {}",
        if signers.is_empty() {
            "nobody (unsigned)".to_owned()
        } else {
            signers.join(", ")
        }
    );
    if !layout.readme.is_empty() {
        let _ = writeln!(s, "Readme: {}", layout.readme);
    }
    let _ = writeln!(s, "\nKeys:");
    for (id, key) in &layout.keys {
        let keytype = key.get("keytype").and_then(Value::as_str).unwrap_or("?");
        let scheme = key.get("scheme").and_then(Value::as_str).unwrap_or("?");
        let _ = writeln!(s, "  {id}  {keytype} {scheme}");
    }
    for step in &layout.steps {
        let _ = writeln!(
            s,
            "\nStep {:?}: {} of {} key(s) must sign",
            step.name,
            step.threshold,
            step.pubkeys.len()
        );
        for k in &step.pubkeys {
            let _ = writeln!(s, "  functionary {k}");
        }
        if !step.expected_command.is_empty() {
            let _ = writeln!(s, "  expected command: {}", step.expected_command.join(" "));
        }
        for r in &step.expected_materials {
            let _ = writeln!(s, "  materials: {r}");
        }
        for r in &step.expected_products {
            let _ = writeln!(s, "  products:  {r}");
        }
    }
    for insp in &layout.inspect {
        let _ = writeln!(
            s,
            "\nInspection {:?}: runs {}",
            insp.name,
            insp.run.join(" ")
        );
        for r in &insp.expected_materials {
            let _ = writeln!(s, "  materials: {r}");
        }
        for r in &insp.expected_products {
            let _ = writeln!(s, "  products:  {r}");
        }
    }
    Ok(s)
}
