//! `sbomit attest`: signed evidence for the Store. An in-toto Statement v1 in a DSSE envelope
//! (subjects are files, named and SHA-256 hashed; the predicate a JSON file), or with `--cose`
//! a SCITT Signed Statement (COSE_Sign1) whose payload is the predicate file.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use base64::Engine;
use clap::Args;
use serde_json::{json, Value};

use sbomit_crypto::PrivateKey;
use sbomit_intoto::digest::Sha256;
use sbomit_intoto::envelope::{pae, Envelope, INTOTO_PAYLOAD_TYPE};
use sbomit_intoto::statement::STATEMENT_V1;
use sbomit_scitt::cose::{SignedStatement, StatementHeader};

use super::Output;
use crate::keys::{self, PasswordSource};
use crate::Outcome;

#[derive(Args, Debug)]
pub struct AttestArgs {
    /// The in-toto predicate type (a URI), e.g. https://slsa.dev/provenance/v1.
    #[arg(long, required_unless_present = "cose", conflicts_with = "cose")]
    predicate_type: Option<String>,
    /// The predicate: a JSON file (with --cose: the payload, any bytes).
    #[arg(long)]
    predicate: PathBuf,
    /// Files the evidence is about; each becomes a subject (its SHA-256, and a name: see
    /// --subject-name).
    #[arg(long = "subject", num_args = 1.., required_unless_present = "cose", conflicts_with = "cose")]
    subjects: Vec<PathBuf>,
    /// The subjects' names, in the order of --subject (what `store query evidence --name`
    /// finds). Default: the path relative to the working directory, or the file name when
    /// that would start with `..` or the path is outside it.
    #[arg(long = "subject-name", num_args = 1.., requires = "subjects")]
    subject_names: Vec<String>,
    /// The issuer's private key (PKCS#8 PEM; `SBOMIT_KEY_PASSWORD` if encrypted). `-k` is
    /// kept for one release: elsewhere `-k` names verification keys.
    #[arg(long = "signing-key", short_alias = 'k')]
    signing_key: PathBuf,
    /// Password of an encrypted signing key; `-P` alone prompts (`-p`/`--prompt`, which
    /// prompt, are kept for one release).
    #[arg(short = 'P', long = "password", num_args = 0..=1, default_missing_value = "")]
    password: Option<String>,
    #[arg(short = 'p', long = "prompt", hide = true, conflicts_with = "password")]
    prompt: bool,
    /// Where to write the evidence (default: stdout).
    #[arg(short = 'o', long)]
    out: Option<PathBuf>,
    /// Make a COSE Signed Statement (SCITT) instead of a DSSE envelope.
    #[arg(long, requires_all = ["iss", "sub"])]
    cose: bool,
    /// With --cose: the issuer (CWT claim `iss`), as registered in the Store.
    #[arg(long, requires = "cose")]
    iss: Option<String>,
    /// With --cose: what the statement is about (CWT claim `sub`), e.g. a purl.
    #[arg(long, requires = "cose")]
    sub: Option<String>,
    /// With --cose: the payload's content type (default: application/json when the predicate
    /// is JSON).
    #[arg(long, requires = "cose")]
    content_type: Option<String>,
}

pub fn run(args: AttestArgs, out: &Output) -> Result<Outcome> {
    let source = if args.prompt {
        PasswordSource::Prompt
    } else {
        PasswordSource::from_flag(args.password.clone())
    };
    if !args.subject_names.is_empty() && args.subject_names.len() != args.subjects.len() {
        bail!(
            "--subject-name: {} name(s) for {} subject(s); give one per --subject, in order",
            args.subject_names.len(),
            args.subjects.len()
        );
    }
    let key = keys::load_private(&args.signing_key, &source)?;
    let predicate = sbomit_fs::io::read_file(&args.predicate)?;
    let (bytes, what) = if args.cose {
        let (Some(iss), Some(sub)) = (args.iss, args.sub) else {
            bail!("--cose needs --iss and --sub");
        };
        (
            cose_statement(&key, iss, sub, args.content_type, &predicate)?,
            "COSE Signed Statement".to_owned(),
        )
    } else {
        let predicate_type = args
            .predicate_type
            .context("--predicate-type is required")?;
        let predicate: Value = serde_json::from_slice(&predicate)
            .with_context(|| format!("{}: not JSON", args.predicate.display()))?;
        let cwd = std::env::current_dir().context("the working directory")?;
        let subjects: Vec<(String, &Path)> = args
            .subjects
            .iter()
            .enumerate()
            .map(|(i, file)| {
                let name = match args.subject_names.get(i) {
                    Some(n) => n.clone(),
                    None => subject_name(&cwd, file),
                };
                (name, file.as_path())
            })
            .collect();
        let bytes = dsse_statement(&key, &predicate_type, predicate, &subjects)?;
        (
            bytes,
            format!(
                "DSSE envelope, in-toto Statement v1, {} subject(s)",
                args.subjects.len()
            ),
        )
    };
    match &args.out {
        Some(path) => {
            sbomit_fs::io::write_atomic(path, &bytes, None)?;
            out.info(format!("wrote {} ({what})", path.display()));
        }
        None => {
            let mut stdout = std::io::stdout().lock();
            if args.cose && stdout.is_terminal() {
                bail!("a COSE statement is binary: pass --out FILE");
            }
            stdout
                .write_all(&bytes)
                .and_then(|()| stdout.flush())
                .context("writing to stdout")?;
        }
    }
    Ok(Outcome::Ok)
}

/// The default subject name of a file: its path relative to the working directory `cwd`
/// (`/`-separated, `.` steps dropped), or its file name when that path would leave `cwd` (a
/// name with `..` is one nobody queries by).
fn subject_name(cwd: &Path, path: &Path) -> String {
    use std::path::Component;
    let absolute = cwd.join(path);
    let mut parts: Vec<String> = Vec::new();
    let mut outside = false;
    match absolute.strip_prefix(cwd) {
        Ok(rel) => {
            for c in rel.components() {
                match c {
                    Component::Normal(p) => parts.push(p.to_string_lossy().into_owned()),
                    Component::CurDir => {}
                    Component::ParentDir => {
                        if parts.pop().is_none() {
                            outside = true;
                        }
                    }
                    Component::RootDir | Component::Prefix(_) => outside = true,
                }
            }
        }
        Err(_) => outside = true,
    }
    if outside || parts.is_empty() {
        return path
            .file_name()
            .map_or_else(|| path.to_string_lossy(), |n| n.to_string_lossy())
            .into_owned();
    }
    parts.join("/")
}

/// A DSSE envelope around an in-toto Statement v1, signed by `key`. Built here rather than
/// with `Envelope::new`, which refuses floats (it mirrors canonical JSON for links): a
/// predicate is the attester's document, and vulnerability scores are floats.
fn dsse_statement(
    key: &PrivateKey,
    predicate_type: &str,
    predicate: Value,
    files: &[(String, &Path)],
) -> Result<Vec<u8>> {
    let mut subjects = Vec::with_capacity(files.len());
    for (name, file) in files {
        let (digest, _) = sbomit_fs::record::hash_file(file, false)?;
        subjects.push(json!({
            "name": name,
            "digest": { "sha256": digest.to_hex() },
        }));
    }
    let statement = json!({
        "_type": STATEMENT_V1,
        "subject": subjects,
        "predicateType": predicate_type,
        "predicate": predicate,
    });
    let payload = serde_json::to_vec(&statement).context("encoding the statement")?;
    let sig = key
        .sign(&pae(INTOTO_PAYLOAD_TYPE, &payload))
        .context("signing the statement")?;
    let b64 = base64::engine::general_purpose::STANDARD;
    let envelope = json!({
        "payload": b64.encode(&payload),
        "payloadType": INTOTO_PAYLOAD_TYPE,
        "signatures": [{ "keyid": key.public_key().keyid().as_str(), "sig": b64.encode(sig) }],
    });
    let bytes = serde_json::to_vec(&envelope).context("encoding the envelope")?;
    // What the Store will do first: a bug here should not surface as a refusal there.
    Envelope::parse(&bytes)
        .context("the envelope made does not parse")?
        .verify(key.public_key())
        .context("the envelope made does not verify")?;
    Ok(bytes)
}

/// A SCITT Signed Statement over `payload`. Its `kid` is the SHA-256 of the key's
/// SubjectPublicKeyInfo, the convention the Store uses for its own keys.
fn cose_statement(
    key: &PrivateKey,
    iss: String,
    sub: String,
    content_type: Option<String>,
    payload: &[u8],
) -> Result<Vec<u8>> {
    let content_type = content_type.or_else(|| {
        serde_json::from_slice::<Value>(payload)
            .is_ok()
            .then(|| "application/json".to_owned())
    });
    let header = StatementHeader {
        iss,
        sub,
        content_type,
        kid: Some(
            Sha256::digest(key.public_key().spki_der())
                .as_bytes()
                .to_vec(),
        ),
    };
    SignedStatement::sign(&header, payload, key).context("signing the COSE statement")
}

#[cfg(test)]
mod tests {
    use super::subject_name;
    use std::path::Path;

    /// Default subject names are what a query would use: relative to the working directory,
    /// never with `..` (issue 17: `--subject ../delivered/app.tar.gz` was unfindable).
    #[test]
    fn default_subject_names_are_relative_and_never_climb() {
        let cwd = Path::new("/work/project");
        let cases = [
            ("dist/app.tar.gz", "dist/app.tar.gz"),
            ("./dist/./app.tar.gz", "dist/app.tar.gz"),
            ("a/../b.txt", "b.txt"),
            ("../delivered/app.tar.gz", "app.tar.gz"),
            ("/work/project/dist/app.whl", "dist/app.whl"),
            ("/elsewhere/app.whl", "app.whl"),
        ];
        for (path, want) in cases {
            assert_eq!(subject_name(cwd, Path::new(path)), want, "{path}");
        }
    }
}
