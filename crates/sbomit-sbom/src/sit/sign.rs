//! Signed SITs: a DSSE envelope (payloadType `application/vnd.in-toto+json`) around an
//! in-toto Statement v1 whose subjects are the final products, whose predicateType names the
//! SBOM format ([`Format::predicate_type`]) and whose predicate is the SBOM itself.
//!
//! Who may sign is decided by the signed layout alone: its step named
//! [`SIT_SIGNING_STEP`](crate::document::SIT_SIGNING_STEP) lists the keys (and the threshold)
//! authorized to sign SITs; it is not a build step and has no link.

use serde_json::{json, Value};

use super::Format;
use crate::document::SIT_SIGNING_STEP;
use sbomit_crypto::{KeyError, KeyId, PrivateKey, PublicKey};
use sbomit_intoto::digest::Sha256;
use sbomit_intoto::envelope::{Envelope, EnvelopeError, EnvelopeKind, INTOTO_PAYLOAD_TYPE};
use sbomit_intoto::model::Layout;
use sbomit_intoto::statement::{Statement, STATEMENT_V1};

/// Why a SIT signature could not be made or does not hold.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SitSignatureError {
    #[error("the envelope: {0}")]
    Envelope(#[from] EnvelopeError),
    #[error("signing: {0}")]
    Key(#[from] KeyError),
    #[error("the envelope is not DSSE")]
    NotDsse,
    #[error("the envelope's payloadType is {found:?}, expected {INTOTO_PAYLOAD_TYPE:?}")]
    PayloadType { found: String },
    #[error("the envelope's payload is not an in-toto Statement v1: {0}")]
    NotStatement(String),
    #[error(
        "the Statement's predicateType is {found:?}, expected {expected:?} for a {format} SIT"
    )]
    PredicateType {
        format: &'static str,
        expected: &'static str,
        found: String,
    },
    #[error("the SIT is not JSON: {0}")]
    SitNotJson(String),
    #[error("the SIT's content differs from the signed predicate: {at}")]
    ContentDiffers { at: String },
    #[error("the SIT file is not byte-identical to the signed predicate (its formatting changed)")]
    BytesDiffer,
    #[error("subject {name:?} (sha256 {sha256}) is not a component hash of the SIT")]
    SubjectNotInSit { name: String, sha256: String },
    #[error("the layout has no {SIT_SIGNING_STEP:?} step (nor one for this format): no key is authorized to sign SITs")]
    NoSitStep,
    #[error(
        "signed by {found} authorized key(s), {needed} needed (authorized: {authorized}; signatures by: {signed_by})"
    )]
    Threshold {
        needed: u64,
        found: usize,
        authorized: String,
        signed_by: String,
    },
}

/// The keys authorized to sign SITs and how many of them must have signed.
#[derive(Clone)]
pub struct Authorized {
    pub keys: Vec<PublicKey>,
    pub threshold: u64,
}

impl Authorized {
    /// Any one of `keys` (the verifier names the keys it trusts itself).
    pub fn any_of(keys: Vec<PublicKey>) -> Self {
        Authorized { keys, threshold: 1 }
    }

    /// The keys of the layout's generator step for SITs of `format` (the most specific of
    /// `sbomit-sit-<format>`, `sbomit-sit-<family>`, [`SIT_SIGNING_STEP`]; see
    /// [`crate::steps`]). The caller has verified the layout's signatures and expiry.
    pub fn from_layout(layout: &Layout, format: Format) -> Result<Self, SitSignatureError> {
        let step = crate::steps::step_for(layout, crate::steps::Role::Generator, format.name())
            .ok_or(SitSignatureError::NoSitStep)?;
        let keys = step
            .pubkeys
            .iter()
            .filter_map(|id| layout.public_key(id).and_then(Result::ok))
            .collect();
        Ok(Authorized {
            keys,
            threshold: step.threshold.max(1),
        })
    }
}

/// The Statement for a SIT: `subjects` are the final products (name, sha256).
pub fn statement(format: Format, sbom: &Value, subjects: &[(String, Sha256)]) -> Value {
    let subject: Vec<Value> = subjects
        .iter()
        .map(|(name, sha)| json!({"name": name, "digest": {"sha256": sha.to_hex()}}))
        .collect();
    json!({
        "_type": STATEMENT_V1,
        "subject": subject,
        "predicateType": format.predicate_type(),
        "predicate": sbom,
    })
}

/// Signs a SIT: the DSSE envelope around its Statement.
pub fn sign(
    format: Format,
    sbom: &Value,
    subjects: &[(String, Sha256)],
    key: &PrivateKey,
) -> Result<Envelope, SitSignatureError> {
    let mut env = Envelope::from_value(EnvelopeKind::Dsse, statement(format, sbom, subjects))?;
    env.sign(key)?;
    Ok(env)
}

/// Signs a SIT given as its file bytes (pretty JSON and a final newline, as written): the
/// DSSE envelope around the same Statement as [`sign`], its payload written around those
/// bytes instead of re-serialising a tree of hundreds of megabytes. The payload is the
/// Statement with sorted keys and the SBOM as the SIT file has it, pretty-printed;
/// [`verify`] compares the predicate with the SIT as JSON, so either layout verifies.
pub fn sign_bytes(
    format: Format,
    sit: &[u8],
    subjects: &[(String, Sha256)],
    key: &PrivateKey,
) -> Result<Envelope, SitSignatureError> {
    let head = statement(format, &Value::Null, subjects);
    let text = |v: &Value| sbomit_intoto::pyjson::dumps(v, None);
    let mut payload = Vec::with_capacity(sit.len() + 4096);
    payload.extend_from_slice(
        format!("{{\"_type\": {}, \"predicate\": ", text(&head["_type"])).as_bytes(),
    );
    payload.extend_from_slice(sit.strip_suffix(b"\n").unwrap_or(sit));
    payload.extend_from_slice(
        format!(
            ", \"predicateType\": {}, \"subject\": {}}}",
            text(&head["predicateType"]),
            text(&head["subject"])
        )
        .as_bytes(),
    );
    let mut env = Envelope::dsse_from_payload_bytes(INTOTO_PAYLOAD_TYPE, payload);
    env.sign(key)?;
    Ok(env)
}

/// The file bytes of a SIT value: pretty JSON and a final newline.
pub fn sit_bytes(sbom: &Value) -> Vec<u8> {
    let mut out = serde_json::to_vec_pretty(sbom).unwrap_or_default();
    out.push(b'\n');
    out
}

/// What a verified SIT signature says.
#[derive(Clone, Debug)]
pub struct VerifiedSignature {
    /// The authorized keys whose signatures verified.
    pub signed_by: Vec<KeyId>,
    pub subjects: Vec<(String, String)>,
}

/// A Statement read without making a tree of its predicate (hundreds of megabytes for a
/// large SIT): the predicate stays the bytes the signer wrote.
#[derive(serde::Deserialize)]
struct RawStatement<'a> {
    #[serde(rename = "_type")]
    statement_type: Value,
    subject: Value,
    #[serde(rename = "predicateType")]
    predicate_type: Value,
    #[serde(borrow)]
    predicate: &'a serde_json::value::RawValue,
}

/// Checks a SIT's envelope: DSSE with the in-toto payload type, a Statement v1 of the SIT
/// format's predicate type whose predicate is exactly the SIT (`sit` are the file bytes,
/// `sit_value` the same parsed), whose subjects are component hashes of the SIT, signed by
/// `threshold` distinct authorized keys.
pub fn verify(
    envelope: &Envelope,
    format: Format,
    sit: &[u8],
    sit_value: &Value,
    authorized: &Authorized,
) -> Result<VerifiedSignature, SitSignatureError> {
    if envelope.kind() != EnvelopeKind::Dsse {
        return Err(SitSignatureError::NotDsse);
    }
    match envelope.payload_type() {
        Some(INTOTO_PAYLOAD_TYPE) => {}
        other => {
            return Err(SitSignatureError::PayloadType {
                found: other.unwrap_or_default().to_owned(),
            })
        }
    }
    // Signatures first: nothing else in an unauthenticated payload is worth reading.
    let mut signed_by: Vec<KeyId> = Vec::new();
    for k in &authorized.keys {
        if envelope.verify(k).is_ok() && !signed_by.contains(k.keyid()) {
            signed_by.push(k.keyid().clone());
        }
    }
    if (signed_by.len() as u64) < authorized.threshold {
        let ids = |it: &mut dyn Iterator<Item = &KeyId>| {
            let v: Vec<&str> = it.map(KeyId::as_str).collect();
            if v.is_empty() {
                "none".to_owned()
            } else {
                v.join(", ")
            }
        };
        return Err(SitSignatureError::Threshold {
            needed: authorized.threshold,
            found: signed_by.len(),
            authorized: ids(&mut authorized.keys.iter().map(PublicKey::keyid)),
            signed_by: ids(&mut envelope.signatures().iter().map(|s| &s.keyid)),
        });
    }
    let raw: RawStatement<'_> =
        serde_json::from_slice(envelope.payload_bytes().unwrap_or_default())
            .map_err(|e| SitSignatureError::NotStatement(e.to_string()))?;
    // Everything but the predicate goes through the Statement model's checks.
    let head = json!({
        "_type": raw.statement_type,
        "subject": raw.subject,
        "predicateType": raw.predicate_type,
        "predicate": {},
    });
    let st =
        Statement::from_value(&head).map_err(|e| SitSignatureError::NotStatement(e.to_string()))?;
    if st.statement_type != STATEMENT_V1 {
        return Err(SitSignatureError::NotStatement(format!(
            "`_type` is {:?}",
            st.statement_type
        )));
    }
    if st.predicate_type != format.predicate_type() {
        return Err(SitSignatureError::PredicateType {
            format: format.name(),
            expected: format.predicate_type(),
            found: st.predicate_type,
        });
    }
    // The predicate as signed is the SIT file's bytes ([`sign_bytes`]): equal, nothing more
    // to compare. Otherwise (a payload serialised another way) compare content, then
    // require the file to be the SIT's canonical rendering: whitespace edits are changes too.
    let trimmed = sit.strip_suffix(b"\n").unwrap_or(sit);
    if raw.predicate.get().as_bytes() != trimmed {
        let predicate: Value = serde_json::from_str(raw.predicate.get())
            .map_err(|e| SitSignatureError::NotStatement(e.to_string()))?;
        if *sit_value != predicate {
            let at = crate::sit::compare::difference(&predicate, sit_value)
                .unwrap_or_else(|| "array elements in another order".into());
            return Err(SitSignatureError::ContentDiffers { at });
        }
        if sit_bytes(sit_value) != sit {
            return Err(SitSignatureError::BytesDiffer);
        }
    }
    let hashes = super::mutation::facts(format, sit_value).1;
    let mut subjects = Vec::new();
    for d in &st.subject {
        let sha = d
            .digest
            .get("sha256")
            .unwrap_or_default()
            .to_ascii_lowercase();
        if !hashes.iter().any(|(_, h)| *h == sha) {
            return Err(SitSignatureError::SubjectNotInSit {
                name: d.name.clone(),
                sha256: sha,
            });
        }
        subjects.push((d.name.clone(), sha));
    }
    Ok(VerifiedSignature {
        signed_by,
        subjects,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use sbomit_crypto::KeyKind;

    #[test]
    fn a_statement_written_around_the_sit_bytes_is_the_statement_of_the_sit() {
        let key = PrivateKey::generate(KeyKind::Ed25519).unwrap();
        let sbom = json!({"bomFormat": "CycloneDX", "components": [
            {"name": "a\u{e9}", "hashes": [{"alg": "SHA-256", "content": "ab"}]}]});
        let sit = sit_bytes(&sbom);
        let subjects = vec![("app.tar".to_owned(), Sha256::digest(b"app"))];
        let env = sign_bytes(Format::CycloneDx16, &sit, &subjects, &key).unwrap();
        assert_eq!(
            env.payload(),
            &statement(Format::CycloneDx16, &sbom, &subjects)
        );
        let authorized = Authorized::any_of(vec![key.public_key().clone()]);
        // The subject is not a component hash of this tiny SBOM: everything up to that
        // check held (signature, payload type, Statement, predicate equal to the SIT).
        match verify(&env, Format::CycloneDx16, &sit, &sbom, &authorized) {
            Err(SitSignatureError::SubjectNotInSit { name, .. }) => assert_eq!(name, "app.tar"),
            other => panic!("{other:?}"),
        }
        // Another key's signature does not count.
        let other = PrivateKey::generate(KeyKind::Ed25519).unwrap();
        let env = sign_bytes(Format::CycloneDx16, &sit, &subjects, &other).unwrap();
        assert!(matches!(
            verify(&env, Format::CycloneDx16, &sit, &sbom, &authorized),
            Err(SitSignatureError::Threshold { .. })
        ));
    }
}
