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
    /// Files the evidence is about; each becomes a subject (its path and SHA-256).
    #[arg(long = "subject", num_args = 1.., required_unless_present = "cose", conflicts_with = "cose")]
    subjects: Vec<PathBuf>,
    /// The issuer's private key (PKCS#8 PEM; `SBOMIT_KEY_PASSWORD` if encrypted).
    #[arg(short = 'k', long = "signing-key")]
    signing_key: PathBuf,
    /// Prompt for the signing key's password.
    #[arg(short = 'p', long = "prompt")]
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
        PasswordSource::Auto
    };
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
        let bytes = dsse_statement(&key, &predicate_type, predicate, &args.subjects)?;
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

/// The subject name of a file: its path as given, with `/` separators.
fn subject_name(path: &Path) -> String {
    let s = path.to_string_lossy();
    let s = s.strip_prefix("./").unwrap_or(&s);
    s.replace(std::path::MAIN_SEPARATOR, "/")
}

/// A DSSE envelope around an in-toto Statement v1, signed by `key`. Built here rather than
/// with `Envelope::new`, which refuses floats (it mirrors canonical JSON for links): a
/// predicate is the attester's document, and vulnerability scores are floats.
fn dsse_statement(
    key: &PrivateKey,
    predicate_type: &str,
    predicate: Value,
    files: &[PathBuf],
) -> Result<Vec<u8>> {
    let mut subjects = Vec::with_capacity(files.len());
    for file in files {
        let (digest, _) = sbomit_fs::record::hash_file(file, false)?;
        subjects.push(json!({
            "name": subject_name(file),
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
