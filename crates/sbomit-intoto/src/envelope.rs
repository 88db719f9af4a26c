//! Signature envelopes: classic in-toto `{signed, signatures}` and DSSE.
//!
//! Signatures are checked over what was received: the canonical JSON of the `signed` object
//! exactly as parsed (unknown fields included), or DSSE's PAE over the exact payload bytes.

use base64::Engine as _;
use std::sync::OnceLock;

use serde_json::{Map, Value};

use sbomit_crypto::{KeyId, PrivateKey, PublicKey, SignatureError};

use crate::pyjson;

/// The payload type in-toto uses for layouts and links in DSSE.
pub const INTOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// One signature as found in an envelope (raw bytes, decoded from hex or base64).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signature {
    pub keyid: KeyId,
    pub sig: Vec<u8>,
}

/// The most signatures an envelope may carry. In-toto metadata is signed by one functionary
/// (links) or a few owners (layouts); DSSE statements by one issuer. Verification tries a key
/// against signatures, so a bound here bounds the work a hostile envelope can cause.
pub const MAX_SIGNATURES: usize = 32;

/// How many signatures whose key id does not name the key (keyid-less ones first) a key is
/// tried against after those that name it. Peers compute key ids in different ways (older
/// securesystemslib, in-toto-golang), so a legitimate signature may name the key by an id
/// we do not know; layouts are signed by a handful of owners, so a few attempts find it.
pub const MAX_UNNAMED_ATTEMPTS: usize = 8;

/// Which envelope a piece of metadata came in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EnvelopeKind {
    Classic,
    Dsse,
}

/// Why an envelope could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EnvelopeError {
    #[error("not JSON: {0}")]
    Json(String),
    #[error("neither an in-toto metablock nor a DSSE envelope: {0}")]
    Shape(String),
    #[error("bad encoding: {0}")]
    Encoding(String),
    #[error(transparent)]
    Canonical(#[from] crate::canonical::CanonicalError),
    #[error("the envelope carries {count} signatures, over the limit of {max}")]
    TooManySignatures { count: usize, max: usize },
}

/// Refuses a signature list longer than [`MAX_SIGNATURES`], before any of it is decoded.
fn check_signature_count(count: usize) -> Result<(), EnvelopeError> {
    if count > MAX_SIGNATURES {
        return Err(EnvelopeError::TooManySignatures {
            count,
            max: MAX_SIGNATURES,
        });
    }
    Ok(())
}

/// A signed piece of metadata in either envelope.
#[derive(Clone, Debug)]
pub struct Envelope {
    kind: EnvelopeKind,
    /// The `signed` object, or the DSSE payload parsed as JSON. Built on first use from
    /// `file` (classic) or `payload_bytes` (DSSE), which parsing has already validated:
    /// verification reads links straight from those bytes and never needs the tree.
    payload: OnceLock<Value>,
    /// Classic envelopes read from a file: the file as received (empty otherwise).
    file: Vec<u8>,
    payload_type: Option<String>,
    /// DSSE: the exact payload bytes (empty for classic).
    payload_bytes: Vec<u8>,
    signed_bytes: Vec<u8>,
    signatures: Vec<Signature>,
    /// Fields of each signature object other than `keyid` and `sig`, kept for writing back.
    extra: Vec<Map<String, Value>>,
    /// Classic signature objects we cannot use (GPG `{keyid, signature, other_headers}`), kept
    /// so that writing the file back does not drop them.
    foreign: Vec<Value>,
}

/// URL-safe or standard base64, padded or not (DSSE allows either).
fn b64_decode(s: &str) -> Result<Vec<u8>, base64::DecodeError> {
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    let config =
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    let standard = GeneralPurpose::new(&base64::alphabet::STANDARD, config);
    let url_safe = GeneralPurpose::new(&base64::alphabet::URL_SAFE, config);
    standard
        .decode(s)
        .or_else(|e| url_safe.decode(s).map_err(|_| e))
}

fn b64_encode(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

impl Envelope {
    /// Parses a metadata file's bytes (either envelope, detected by shape).
    pub fn parse(bytes: &[u8]) -> Result<Self, EnvelopeError> {
        Self::parse_owned(bytes.to_vec())
    }

    /// [`Envelope::parse`] keeping `bytes` (a classic envelope holds on to its file).
    pub fn parse_owned(bytes: Vec<u8>) -> Result<Self, EnvelopeError> {
        if let Some(env) = Self::parse_classic_text(&bytes) {
            let mut env = env?;
            env.file = bytes;
            return Ok(env);
        }
        let value: Value =
            serde_json::from_slice(&bytes).map_err(|e| EnvelopeError::Json(e.to_string()))?;
        let Value::Object(mut obj) = value else {
            return Err(EnvelopeError::Shape(
                "the document is not a JSON object".into(),
            ));
        };
        if obj.contains_key("payload") {
            Self::parse_dsse(&mut obj)
        } else if obj.contains_key("signed") {
            let signed = match obj.remove("signed") {
                Some(v @ Value::Object(_)) => v,
                _ => return Err(EnvelopeError::Shape("\"signed\" is not an object".into())),
            };
            let signed_bytes = crate::canonical::encode(&signed)?;
            let env = Self::parse_classic(&mut obj, signed_bytes)?;
            env.payload.get_or_init(|| signed);
            Ok(env)
        } else {
            Err(EnvelopeError::Shape(
                "no \"signed\" or \"payload\" field".into(),
            ))
        }
    }

    /// The fast path for classic files: canonical bytes of `signed` written while parsing,
    /// no `Value` tree. `None` for anything else (DSSE, a malformed or unusual file, a float
    /// in `signed`): the general path above then gives the answer, and its error.
    fn parse_classic_text(bytes: &[u8]) -> Option<Result<Self, EnvelopeError>> {
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let top = serde::Deserializer::deserialize_map(&mut de, TopVisitor(bytes.len())).ok()?;
        de.end().ok()?;
        let mut obj = Map::new();
        if let Some(sigs) = top.signatures {
            obj.insert("signatures".into(), sigs);
        }
        Some(Self::parse_classic(&mut obj, top.signed))
    }
    fn parse_dsse(obj: &mut Map<String, Value>) -> Result<Self, EnvelopeError> {
        let payload_b64 = obj
            .get("payload")
            .and_then(Value::as_str)
            .ok_or_else(|| EnvelopeError::Shape("DSSE \"payload\" is not a string".into()))?;
        let payload_bytes = b64_decode(payload_b64)
            .map_err(|e| EnvelopeError::Encoding(format!("DSSE payload base64: {e}")))?;
        let payload_type = obj
            .get("payloadType")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                EnvelopeError::Shape("DSSE \"payloadType\" missing or not a string".into())
            })?
            .to_string();
        let sigs = match obj.remove("signatures") {
            Some(Value::Array(a)) => a,
            _ => {
                return Err(EnvelopeError::Shape(
                    "DSSE \"signatures\" missing or not an array".into(),
                ))
            }
        };
        check_signature_count(sigs.len())?;
        let mut signatures = Vec::with_capacity(sigs.len());
        let mut extra = Vec::with_capacity(sigs.len());
        for (i, sig) in sigs.into_iter().enumerate() {
            let Value::Object(mut sig) = sig else {
                return Err(EnvelopeError::Shape(format!(
                    "DSSE signature {i} is not an object"
                )));
            };
            // The DSSE spec makes keyid optional; a missing one is the empty id.
            let keyid = match sig.remove("keyid") {
                None | Some(Value::Null) => String::new(),
                Some(Value::String(s)) => s,
                Some(_) => {
                    return Err(EnvelopeError::Shape(format!(
                        "DSSE signature {i}: \"keyid\" is not a string"
                    )))
                }
            };
            let sig_bytes = match sig.remove("sig") {
                Some(Value::String(s)) => b64_decode(&s).map_err(|e| {
                    EnvelopeError::Encoding(format!("DSSE signature {i} base64: {e}"))
                })?,
                _ => {
                    return Err(EnvelopeError::Shape(format!(
                        "DSSE signature {i}: \"sig\" missing or not a string"
                    )))
                }
            };
            signatures.push(Signature {
                keyid: KeyId::new(keyid),
                sig: sig_bytes,
            });
            extra.push(sig);
        }
        // Validated now (the tree is built only if asked for): the streaming canonicaliser
        // runs serde_json's full parser; floats are fine in a DSSE payload.
        let _floats_allowed = crate::canonical::encode_text(&payload_bytes)
            .map_err(|e| EnvelopeError::Json(format!("DSSE payload: {e}")))?;
        Ok(Envelope {
            kind: EnvelopeKind::Dsse,
            payload: OnceLock::new(),
            file: Vec::new(),
            signed_bytes: pae(&payload_type, &payload_bytes),
            payload_type: Some(payload_type),
            payload_bytes,
            signatures,
            extra,
            foreign: Vec::new(),
        })
    }

    fn parse_classic(
        obj: &mut Map<String, Value>,
        signed_bytes: Vec<u8>,
    ) -> Result<Self, EnvelopeError> {
        let sigs = match obj.remove("signatures") {
            None => Vec::new(),
            Some(Value::Array(a)) => a,
            Some(_) => {
                return Err(EnvelopeError::Shape(
                    "\"signatures\" is not an array".into(),
                ))
            }
        };
        check_signature_count(sigs.len())?;
        let mut signatures = Vec::with_capacity(sigs.len());
        let mut extra = Vec::with_capacity(sigs.len());
        let mut foreign = Vec::new();
        for (i, sig) in sigs.into_iter().enumerate() {
            let Value::Object(mut sig) = sig else {
                return Err(EnvelopeError::Shape(format!(
                    "signature {i} is not an object"
                )));
            };
            if !sig.contains_key("sig")
                && sig.contains_key("signature")
                && sig.contains_key("other_headers")
            {
                foreign.push(Value::Object(sig));
                continue;
            }
            let keyid = match sig.remove("keyid") {
                Some(Value::String(s)) => s,
                _ => {
                    return Err(EnvelopeError::Shape(format!(
                        "signature {i}: \"keyid\" missing or not a string"
                    )))
                }
            };
            let sig_bytes = match sig.remove("sig") {
                Some(Value::String(s)) => hex::decode(&s)
                    .map_err(|e| EnvelopeError::Encoding(format!("signature {i} hex: {e}")))?,
                _ => {
                    return Err(EnvelopeError::Shape(format!(
                        "signature {i}: \"sig\" missing or not a string"
                    )))
                }
            };
            signatures.push(Signature {
                keyid: KeyId::new(keyid),
                sig: sig_bytes,
            });
            extra.push(sig);
        }
        Ok(Envelope {
            kind: EnvelopeKind::Classic,
            payload: OnceLock::new(),
            file: Vec::new(),
            payload_type: None,
            payload_bytes: Vec::new(),
            signed_bytes,
            signatures,
            extra,
            foreign,
        })
    }

    /// Wraps unsigned metadata (a JSON object) in a new, unsigned envelope.
    ///
    /// A DSSE payload is serialised as in-toto 3.x does (`json.dumps(..., sort_keys=True)`:
    /// `", "`/`": "` separators, non-ASCII escaped), not as canonical JSON.
    pub fn new(kind: EnvelopeKind, payload: &serde_json::Value) -> Result<Self, EnvelopeError> {
        Self::from_value(kind, payload.clone())
    }

    /// [`Envelope::new`] taking the payload by value: no copy of a large link.
    pub fn from_value(
        kind: EnvelopeKind,
        payload: serde_json::Value,
    ) -> Result<Self, EnvelopeError> {
        if !payload.is_object() {
            return Err(EnvelopeError::Shape(
                "metadata must be a JSON object".into(),
            ));
        }
        match kind {
            EnvelopeKind::Classic => Ok(Envelope {
                kind,
                signed_bytes: crate::canonical::encode(&payload)?,
                payload: OnceLock::from(payload),
                file: Vec::new(),
                payload_type: None,
                payload_bytes: Vec::new(),
                signatures: Vec::new(),
                extra: Vec::new(),
                foreign: Vec::new(),
            }),
            EnvelopeKind::Dsse => {
                // Same rule as canonical JSON: floats are refused, so both envelopes accept the
                // same metadata.
                crate::canonical::encode(&payload)?;
                let payload_bytes = pyjson::dumps(&payload, None).into_bytes();
                Ok(Envelope {
                    kind,
                    payload: OnceLock::from(payload),
                    file: Vec::new(),
                    signed_bytes: pae(INTOTO_PAYLOAD_TYPE, &payload_bytes),
                    payload_type: Some(INTOTO_PAYLOAD_TYPE.to_string()),
                    payload_bytes,
                    signatures: Vec::new(),
                    extra: Vec::new(),
                    foreign: Vec::new(),
                })
            }
        }
    }

    /// A new, unsigned DSSE envelope around `payload`, the exact bytes to be signed, which
    /// must be a JSON document of `payload_type` (verifiers parse it; nothing here does).
    ///
    /// For payloads made as bytes, such as a SIT Statement written around the SIT's own
    /// pretty-printed bytes: hundreds of megabytes that need not become a JSON tree again.
    pub fn dsse_from_payload_bytes(payload_type: &str, payload: Vec<u8>) -> Self {
        Envelope {
            kind: EnvelopeKind::Dsse,
            payload: OnceLock::new(),
            file: Vec::new(),
            signed_bytes: pae(payload_type, &payload),
            payload_type: Some(payload_type.to_owned()),
            payload_bytes: payload,
            signatures: Vec::new(),
            extra: Vec::new(),
            foreign: Vec::new(),
        }
    }

    pub fn kind(&self) -> EnvelopeKind {
        self.kind
    }

    /// The metadata itself: the `signed` object, or the DSSE payload parsed as JSON.
    pub fn payload(&self) -> &serde_json::Value {
        self.payload.get_or_init(|| {
            // Both sources were parsed successfully when the envelope was read, by the same
            // parser, so the `Null` fallbacks are unreachable.
            match self.kind {
                EnvelopeKind::Classic => serde_json::from_slice::<Value>(&self.file)
                    .ok()
                    .and_then(|mut v| v.get_mut("signed").map(Value::take))
                    .unwrap_or(Value::Null),
                EnvelopeKind::Dsse => {
                    serde_json::from_slice(&self.payload_bytes).unwrap_or(Value::Null)
                }
            }
        })
    }

    /// Classic envelopes read from bytes: the file as received (readers of the payload, such
    /// as the link model's, can then parse `signed` from it without a JSON tree). `None` for
    /// DSSE and for envelopes built from a value.
    pub fn received_file(&self) -> Option<&[u8]> {
        match self.kind {
            EnvelopeKind::Classic if !self.file.is_empty() => Some(&self.file),
            _ => None,
        }
    }

    /// DSSE payload type (`None` for classic).
    pub fn payload_type(&self) -> Option<&str> {
        self.payload_type.as_deref()
    }

    /// DSSE: the exact payload bytes; classic: `None`.
    pub fn payload_bytes(&self) -> Option<&[u8]> {
        match self.kind {
            EnvelopeKind::Dsse => Some(&self.payload_bytes),
            EnvelopeKind::Classic => None,
        }
    }

    /// The bytes a signature covers: canonical JSON of `signed`, or PAE(type, payload).
    pub fn signed_bytes(&self) -> &[u8] {
        &self.signed_bytes
    }

    pub fn signatures(&self) -> &[Signature] {
        &self.signatures
    }

    /// Checks that `key` made a signature in this envelope. The signatures whose key id matches
    /// are tried first; then at most [`MAX_UNNAMED_ATTEMPTS`] others, keyid-less ones first, so
    /// that a key whose id the signer computed differently (older securesystemslib) still
    /// verifies: identity is proven by the signature itself. The bound keeps the work per key
    /// small whatever the envelope carries.
    pub fn verify(&self, key: &PublicKey) -> Result<(), SignatureError> {
        let keyid = key.keyid();
        let matching = self.signatures.iter().filter(|s| &s.keyid == keyid);
        let keyless = self
            .signatures
            .iter()
            .filter(|s| s.keyid.as_str().is_empty() && &s.keyid != keyid);
        let others = self
            .signatures
            .iter()
            .filter(|s| !s.keyid.as_str().is_empty() && &s.keyid != keyid);
        if matching
            .chain(keyless.chain(others).take(MAX_UNNAMED_ATTEMPTS))
            .any(|s| key.verify(&self.signed_bytes, &s.sig).is_ok())
        {
            Ok(())
        } else {
            Err(SignatureError::Invalid(keyid.clone()))
        }
    }

    /// Adds a signature by `key` (replacing an earlier one by the same key id).
    pub fn sign(&mut self, key: &PrivateKey) -> Result<&Signature, sbomit_crypto::KeyError> {
        let sig = key.sign(&self.signed_bytes)?;
        let signature = Signature {
            keyid: key.public_key().keyid().clone(),
            sig,
        };
        let index = match self
            .signatures
            .iter()
            .position(|s| s.keyid == signature.keyid)
        {
            Some(i) => {
                self.signatures[i] = signature;
                self.extra[i] = Map::new();
                i
            }
            None => {
                self.signatures.push(signature);
                self.extra.push(Map::new());
                self.signatures.len() - 1
            }
        };
        Ok(&self.signatures[index])
    }

    /// Removes all signatures.
    pub fn clear_signatures(&mut self) {
        self.signatures.clear();
        self.extra.clear();
        self.foreign.clear();
    }

    /// Serialises the file as the reference writes it (classic: `json.dumps(indent=1,
    /// sort_keys=True)`-style; DSSE: `{payload, payloadType, signatures}`).
    ///
    /// Exactly in-toto 3.x's bytes: classic is `Metablock.dump` (`indent=1`, `", "`→`","`
    /// item separator, `": "`, sorted keys, `ensure_ascii`, no trailing newline); DSSE is
    /// `Envelope.dump` (one line, `", "`/`": "`, sorted keys, no trailing newline).
    pub fn to_file_bytes(&self) -> Vec<u8> {
        let mut sigs: Vec<Value> = self
            .signatures
            .iter()
            .zip(&self.extra)
            .map(|(s, extra)| {
                let mut o = extra.clone();
                o.insert("keyid".into(), Value::String(s.keyid.as_str().to_owned()));
                let sig = match self.kind {
                    EnvelopeKind::Classic => hex::encode(&s.sig),
                    EnvelopeKind::Dsse => b64_encode(&s.sig),
                };
                o.insert("sig".into(), Value::String(sig));
                Value::Object(o)
            })
            .collect();
        sigs.extend(self.foreign.iter().cloned());
        let mut file = Map::new();
        file.insert("signatures".into(), Value::Array(sigs));
        match self.kind {
            EnvelopeKind::Classic => {
                // `{"signatures": [...], "signed": {...}}` with indent 1, written around the
                // payload instead of cloning it into a wrapper object (links can be large).
                let mut out = String::with_capacity(64 + self.signed_bytes.len() * 3 / 2);
                out.push_str("{\n \"signatures\": ");
                let sigs = file
                    .remove("signatures")
                    .unwrap_or(Value::Array(Vec::new()));
                pyjson::write(&sigs, Some(1), 1, &mut out);
                out.push_str(",\n \"signed\": ");
                let at = out.len();
                let fast = std::str::from_utf8(&self.signed_bytes)
                    .ok()
                    .and_then(|c| pyjson::write_canonical(c, Some(1), 1, &mut out));
                if fast.is_none() {
                    out.truncate(at);
                    pyjson::write(self.payload(), Some(1), 1, &mut out);
                }
                out.push_str("\n}");
                out.into_bytes()
            }
            EnvelopeKind::Dsse => {
                // `json.dumps(sort_keys=True)` of `{payload, payloadType, signatures}`, written
                // around the base64 text (which needs no escaping) instead of passing a string
                // of hundreds of megabytes through the escaper.
                let payload = b64_encode(&self.payload_bytes);
                let payload_type = Value::String(
                    self.payload_type
                        .clone()
                        .unwrap_or_else(|| INTOTO_PAYLOAD_TYPE.into()),
                );
                let sigs = file
                    .remove("signatures")
                    .unwrap_or(Value::Array(Vec::new()));
                let mut out = String::with_capacity(payload.len() + 256);
                out.push_str("{\"payload\": \"");
                out.push_str(&payload);
                out.push_str("\", \"payloadType\": ");
                out.push_str(&pyjson::dumps(&payload_type, None));
                out.push_str(", \"signatures\": ");
                out.push_str(&pyjson::dumps(&sigs, None));
                out.push('}');
                out.into_bytes()
            }
        }
    }
}

/// What the classic fast path takes from a file's top-level object.
struct Top {
    signed: Vec<u8>,
    signatures: Option<Value>,
}

/// Reads a classic file's top level: `signed` is canonicalised as it is parsed, `signatures`
/// read as JSON, anything else parsed (so the whole file is validated) and dropped. Any
/// surprise (no object, DSSE fields, a repeated key, `signed` not an object or holding a
/// float) is an error that sends the caller down the general path.
struct TopVisitor(usize);

impl<'de> serde::de::Visitor<'de> for TopVisitor {
    type Value = Top;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a metablock")
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Top, A::Error> {
        use serde::de::Error as _;
        let mut signed = None;
        let mut signatures = None;
        let mut seen = std::collections::BTreeSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                return Err(A::Error::custom("repeated key"));
            }
            match key.as_str() {
                "signed" => {
                    let mut c = crate::canonical::Canonicalizer::with_capacity(self.0);
                    map.next_value_seed(c.seed())?;
                    let bytes = c.finish().map_err(A::Error::custom)?;
                    if bytes.first() != Some(&b'{') {
                        return Err(A::Error::custom("`signed` is not an object"));
                    }
                    signed = Some(bytes);
                }
                "signatures" => signatures = Some(map.next_value::<Value>()?),
                "payload" | "payloadType" => return Err(A::Error::custom("DSSE")),
                _ => {
                    map.next_value::<Value>()?;
                }
            }
        }
        Ok(Top {
            signed: signed.ok_or_else(|| A::Error::custom("no `signed`"))?,
            signatures,
        })
    }
}

/// DSSE v1 pre-authentication encoding.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + payload_type.len() + 32);
    out.extend_from_slice(b"DSSEv1 ");
    out.extend_from_slice(payload_type.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload_type.as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload);
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use sbomit_crypto::KeyKind;
    use serde_json::json;

    fn link() -> Value {
        json!({"_type": "link", "name": "x", "command": [], "materials": {}, "products": {},
               "byproducts": {}, "environment": {}})
    }

    fn dsse_file(payload_b64: &str, sigs: Value) -> Vec<u8> {
        serde_json::to_vec(&json!({"payload": payload_b64, "payloadType": INTOTO_PAYLOAD_TYPE, "signatures": sigs}))
            .unwrap()
    }

    #[test]
    fn dsse_file_bytes_are_json_dumps_sort_keys_of_the_whole_envelope() {
        // The DSSE file is written around the base64 text; it must stay exactly what
        // `json.dumps(sort_keys=True)` of the object gives (in-toto 3.x's `Envelope.dump`),
        // extra signature fields and non-ASCII key ids included.
        let a = PrivateKey::generate(KeyKind::Ed25519).unwrap();
        let b = PrivateKey::generate(KeyKind::EcdsaP256).unwrap();
        let payload = serde_json::to_vec(&link()).unwrap();
        let sig = base64::engine::general_purpose::STANDARD.encode(b"sig");
        let file = dsse_file(
            &base64::engine::general_purpose::STANDARD.encode(&payload),
            json!([{"keyid": "k\u{e9}y", "sig": sig, "note": "x\"y"}]),
        );
        let mut env = Envelope::parse(&file).unwrap();
        env.sign(&a).unwrap();
        env.sign(&b).unwrap();
        let mut made = Envelope::dsse_from_payload_bytes(INTOTO_PAYLOAD_TYPE, payload.clone());
        made.sign(&a).unwrap();
        for env in [&env, &made] {
            let whole: Value = serde_json::from_slice(&env.to_file_bytes()).unwrap();
            assert_eq!(
                String::from_utf8(env.to_file_bytes()).unwrap(),
                pyjson::dumps(&whole, None)
            );
        }
        let back = Envelope::parse(&made.to_file_bytes()).unwrap();
        assert_eq!(back.payload_bytes(), Some(payload.as_slice()));
        assert_eq!(back.payload(), &link());
        back.verify(a.public_key()).unwrap();
    }

    #[test]
    fn accepts_url_safe_and_unpadded_base64() {
        let key = PrivateKey::generate(KeyKind::Ed25519).unwrap();
        // A payload whose base64 has '+'/'/' and padding.
        let payload = b"{\"_type\": \"link\", \"name\": \"\xc3\xbf\xc3\xbe>?\"}";
        let sig = key.sign(&pae(INTOTO_PAYLOAD_TYPE, payload)).unwrap();
        let std = base64::engine::general_purpose::STANDARD;
        let url = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        for (p, s) in [
            (std.encode(payload), std.encode(&sig)),
            (url.encode(payload), url.encode(&sig)),
        ] {
            let env = Envelope::parse(&dsse_file(&p, json!([{"keyid": "", "sig": s}]))).unwrap();
            assert_eq!(env.payload_bytes(), Some(payload.as_slice()));
            env.verify(key.public_key()).unwrap();
        }
    }

    #[test]
    fn refuses_an_envelope_with_10000_signatures_at_parse() {
        let sigs: Vec<Value> = (0..10_000)
            .map(|i| json!({"keyid": format!("{i:x}"), "sig": "AAAA"}))
            .collect();
        let std = base64::engine::general_purpose::STANDARD;
        let dsse = dsse_file(&std.encode(b"{}"), Value::Array(sigs.clone()));
        let hex_sigs: Vec<Value> = (0..10_000)
            .map(|i| json!({"keyid": format!("{i:x}"), "sig": "00"}))
            .collect();
        let classic =
            serde_json::to_vec(&json!({"signed": link(), "signatures": hex_sigs})).unwrap();
        for file in [dsse, classic] {
            assert_eq!(
                Envelope::parse(&file).unwrap_err(),
                EnvelopeError::TooManySignatures {
                    count: 10_000,
                    max: MAX_SIGNATURES
                }
            );
        }
    }

    #[test]
    fn a_key_tries_only_a_bounded_number_of_signatures_not_naming_it() {
        let key = PrivateKey::generate(KeyKind::Ed25519).unwrap();
        let payload = serde_json::to_vec(&link()).unwrap();
        let std = base64::engine::general_purpose::STANDARD;
        let good = std.encode(key.sign(&pae(INTOTO_PAYLOAD_TYPE, &payload)).unwrap());
        let junk = std.encode([0u8; 64]);
        let own = key.public_key().keyid().as_str().to_owned();
        // `before` junk signatures under other ids, then the good one under `id`.
        let verifies = |before: usize, id: &str| {
            let mut sigs: Vec<Value> = (0..before)
                .map(|i| json!({"keyid": format!("other{i}"), "sig": junk}))
                .collect();
            sigs.push(json!({"keyid": id, "sig": good}));
            Envelope::parse(&dsse_file(&std.encode(&payload), Value::Array(sigs)))
                .unwrap()
                .verify(key.public_key())
                .is_ok()
        };
        // Named by its id: found wherever it is.
        assert!(verifies(MAX_SIGNATURES - 1, &own));
        // Keyid-less: tried before signatures naming other keys.
        assert!(verifies(MAX_SIGNATURES - 1, ""));
        // Under a foreign id (a peer's way of computing ids): within the bound only.
        assert!(verifies(MAX_UNNAMED_ATTEMPTS - 1, "peer-id"));
        assert!(!verifies(MAX_UNNAMED_ATTEMPTS, "peer-id"));
    }

    #[test]
    fn dsse_keyid_may_be_absent() {
        let key = PrivateKey::generate(KeyKind::Ed25519).unwrap();
        let payload = serde_json::to_vec(&link()).unwrap();
        let sig = key.sign(&pae(INTOTO_PAYLOAD_TYPE, &payload)).unwrap();
        let std = base64::engine::general_purpose::STANDARD;
        let env = Envelope::parse(&dsse_file(
            &std.encode(&payload),
            json!([{"sig": std.encode(sig)}]),
        ))
        .unwrap();
        assert_eq!(env.signatures()[0].keyid, KeyId::new(String::new()));
        env.verify(key.public_key()).unwrap();
    }

    #[test]
    fn classic_signature_covers_unknown_fields_as_received() {
        let key = PrivateKey::generate(KeyKind::Ed25519).unwrap();
        let mut signed = link();
        signed["x-extra"] = json!({"b": 1, "a": "é"});
        let mut env = Envelope::new(EnvelopeKind::Classic, &signed).unwrap();
        env.sign(&key).unwrap();
        let parsed = Envelope::parse(&env.to_file_bytes()).unwrap();
        parsed.verify(key.public_key()).unwrap();
        assert_eq!(parsed.payload()["x-extra"]["a"], "é");
    }

    #[test]
    fn duplicate_json_keys_keep_the_last_like_python() {
        let env = Envelope::parse(
            br#"{"signed": {"_type": "link", "name": "a", "name": "b"}, "signatures": []}"#,
        )
        .unwrap();
        assert_eq!(env.payload()["name"], "b");
        assert_eq!(env.signed_bytes(), br#"{"_type":"link","name":"b"}"#);
    }

    #[test]
    fn sign_replaces_signature_by_same_key() {
        let key = PrivateKey::generate(KeyKind::EcdsaP256).unwrap();
        let other = PrivateKey::generate(KeyKind::Ed25519).unwrap();
        for kind in [EnvelopeKind::Classic, EnvelopeKind::Dsse] {
            let mut env = Envelope::new(kind, &link()).unwrap();
            env.sign(&key).unwrap();
            env.sign(&other).unwrap();
            env.sign(&key).unwrap();
            assert_eq!(env.signatures().len(), 2);
            env.verify(key.public_key()).unwrap();
            env.verify(other.public_key()).unwrap();
            env.clear_signatures();
            assert!(env.verify(key.public_key()).is_err());
        }
    }

    #[test]
    fn rejects_malformed_envelopes() {
        let cases: &[&[u8]] = &[
            b"",
            b"[]",
            b"{}",
            b"{\"signed\": 1}",
            b"{\"signed\": {}, \"signatures\": {}}",
            b"{\"signed\": {}, \"signatures\": [{\"keyid\": \"a\", \"sig\": \"zz\"}]}",
            b"{\"signed\": {}, \"signatures\": [{\"sig\": \"00\"}]}",
            b"{\"signed\": {\"x\": 1.5}}",
            b"{\"payload\": \"!!\", \"payloadType\": \"t\", \"signatures\": []}",
            b"{\"payload\": \"e30\", \"signatures\": []}",
            b"{\"payload\": \"e30\", \"payloadType\": \"t\"}",
            b"{\"payload\": \"bm90IGpzb24\", \"payloadType\": \"t\", \"signatures\": []}",
            b"{\"payload\": \"e30\", \"payloadType\": \"t\", \"signatures\": [{\"keyid\": 1, \"sig\": \"\"}]}",
        ];
        for case in cases {
            assert!(
                Envelope::parse(case).is_err(),
                "{}",
                String::from_utf8_lossy(case)
            );
        }
    }

    #[test]
    fn keeps_gpg_signatures_when_writing_back() {
        let file = br#"{"signatures": [{"keyid": "ab", "other_headers": "04", "signature": "cd"}], "signed": {"_type": "link"}}"#;
        let env = Envelope::parse(file).unwrap();
        assert!(env.signatures().is_empty());
        let back: Value = serde_json::from_slice(&env.to_file_bytes()).unwrap();
        assert_eq!(back["signatures"][0]["other_headers"], "04");
    }

    #[test]
    fn python_float_repr() {
        let cases = [
            (1.5e-7, "1.5e-07"),
            (1e16, "1e+16"),
            (2.0, "2.0"),
            (0.0001, "0.0001"),
            (123.25, "123.25"),
            (-0.5, "-0.5"),
            (1.2345e20, "1.2345e+20"),
            (1e15, "1000000000000000.0"),
        ];
        for (f, want) in cases {
            assert_eq!(pyjson::dumps(&json!(f), None), want);
        }
    }

    proptest::proptest! {
        /// The one-pass writer from canonical bytes gives what writing the parsed value gives,
        /// at any nesting level and in both layouts (it writes every classic link file).
        #[test]
        fn pyjson_from_canonical_text_equals_pyjson_of_the_value(
            v in crate::canonical::tests::json_value(),
            level in 0usize..3,
            indent in proptest::option::of(0usize..3),
        ) {
            let canonical = String::from_utf8(crate::canonical::encode(&v).unwrap()).unwrap();
            let mut fast = String::new();
            pyjson::write_canonical(&canonical, indent, level, &mut fast).unwrap();
            let mut slow = String::new();
            pyjson::write(&v, indent, level, &mut slow);
            proptest::prop_assert_eq!(fast, slow);
        }

        #[test]
        fn pyjson_from_canonical_text_never_panics(text in "[\\[\\]{}\",:a\\\\0-9tfn é-]{0,40}") {
            let mut out = String::new();
            let _ = pyjson::write_canonical(&text, Some(1), 1, &mut out);
        }

        #[test]
        fn parse_never_panics_on_bytes(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            let _ = Envelope::parse(&bytes);
        }

        #[test]
        fn parse_never_panics_on_envelope_shapes(
            payload in "[A-Za-z0-9+/=_-]{0,40}",
            ptype in proptest::option::of("\\PC{0,10}"),
            keyid in proptest::option::of("\\PC{0,10}"),
            sig in "[A-Za-z0-9+/=_-]{0,40}",
            classic in proptest::bool::ANY,
        ) {
            let doc = if classic {
                json!({"signed": {"_type": payload}, "signatures": [{"keyid": keyid, "sig": sig}]})
            } else {
                json!({"payload": payload, "payloadType": ptype, "signatures": [{"keyid": keyid, "sig": sig}]})
            };
            let _ = Envelope::parse(&serde_json::to_vec(&doc).unwrap());
        }

        #[test]
        fn sign_write_parse_verify_round_trips(
            name in "\\PC{0,30}",
            extra in proptest::collection::btree_map("\\PC{0,8}", "\\PC{0,8}", 0..4),
            n in proptest::num::i64::ANY,
            dsse in proptest::bool::ANY,
        ) {
            let key = PrivateKey::generate(KeyKind::Ed25519).unwrap();
            let mut payload = link();
            payload["name"] = json!(name);
            payload["environment"] = json!({"n": n, "extra": extra});
            let kind = if dsse { EnvelopeKind::Dsse } else { EnvelopeKind::Classic };
            let mut env = Envelope::new(kind, &payload).unwrap();
            env.sign(&key).unwrap();
            let bytes = env.to_file_bytes();
            let parsed = Envelope::parse(&bytes).unwrap();
            proptest::prop_assert!(parsed.verify(key.public_key()).is_ok());
            proptest::prop_assert_eq!(parsed.payload(), &payload);
            proptest::prop_assert_eq!(parsed.to_file_bytes(), bytes);
        }
    }
}
