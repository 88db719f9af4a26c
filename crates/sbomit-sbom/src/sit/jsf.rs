//! JSF (JSON Signature Format, as CycloneDX embeds it in a BOM's `signature` property) over
//! JCS (RFC 8785, the JSON Canonicalization Scheme).
//!
//! A JSF signature is `{"algorithm", "publicKey": JWK, "value": base64url}` inside the signed
//! object. It covers the JCS serialization of the whole object *with* the signature object
//! but without its `value`: the signer inserts `{algorithm, publicKey}`, canonicalizes,
//! signs, then adds `value`; the verifier removes `value` and does the same.
//!
//! Algorithms are JWA names (RFC 7518; JSF names Ed25519 explicitly instead of `EdDSA`):
//! `Ed25519`, `ES256`, `ES384` (ECDSA signatures in fixed `r || s` form, as JOSE carries
//! them) and `PS256` (RSA-PSS with SHA-256 and a 32-byte salt, what our RSA keys make).

use base64::Engine as _;
use serde_json::{Map, Value};

use sbomit_crypto::{KeyError, KeyId, PrivateKey, PublicKey, Scheme};

/// Why a JSF signature could not be made or did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JsfError {
    #[error("JCS: {0}")]
    Canonical(String),
    #[error("keys of scheme {0} have no JSF algorithm")]
    UnsupportedKey(&'static str),
    #[error("the signed JSON is not an object")]
    NotAnObject,
    #[error("no JSF `signature` property")]
    Missing,
    #[error("the JSF signature is malformed: {0}")]
    Malformed(String),
    #[error("the JSF signature's public key is not one of the authorized keys")]
    UnknownKey,
    #[error("the JSF signature (algorithm {algorithm}) does not verify with key {keyid}")]
    Invalid { algorithm: String, keyid: KeyId },
    #[error(transparent)]
    Key(#[from] KeyError),
}

/// The property CycloneDX keeps a JSF signature in.
pub const SIGNATURE_PROPERTY: &str = "signature";

fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The JWA name of the algorithm a key of `scheme` signs with.
pub fn algorithm(scheme: Scheme) -> Result<&'static str, JsfError> {
    match scheme {
        Scheme::Ed25519 => Ok("Ed25519"),
        Scheme::EcdsaSha2Nistp256 => Ok("ES256"),
        Scheme::EcdsaSha2Nistp384 => Ok("ES384"),
        Scheme::RsassaPssSha256 => Ok("PS256"),
        other => Err(JsfError::UnsupportedKey(other.as_str())),
    }
}

/// The key as a JWK (RFC 7517/7518/8037), as JSF's `publicKey` carries it.
pub fn jwk(key: &PublicKey) -> Result<Value, JsfError> {
    let raw = key
        .raw_public_key()
        .ok_or_else(|| JsfError::Malformed("the key has no raw form".into()))?;
    let mut m = Map::new();
    match key.scheme() {
        Scheme::Ed25519 => {
            m.insert("kty".into(), "OKP".into());
            m.insert("crv".into(), "Ed25519".into());
            m.insert("x".into(), b64url(raw).into());
        }
        s @ (Scheme::EcdsaSha2Nistp256 | Scheme::EcdsaSha2Nistp384) => {
            let (crv, width) = if s == Scheme::EcdsaSha2Nistp256 {
                ("P-256", 32)
            } else {
                ("P-384", 48)
            };
            if raw.len() != 1 + 2 * width || raw[0] != 0x04 {
                return Err(JsfError::Malformed("not an uncompressed EC point".into()));
            }
            m.insert("kty".into(), "EC".into());
            m.insert("crv".into(), crv.into());
            m.insert("x".into(), b64url(&raw[1..1 + width]).into());
            m.insert("y".into(), b64url(&raw[1 + width..]).into());
        }
        Scheme::RsassaPssSha256 => {
            use pkcs1::der::Decode as _;
            let k = pkcs1::RsaPublicKey::from_der(raw)
                .map_err(|e| JsfError::Malformed(format!("RSA public key: {e}")))?;
            m.insert("kty".into(), "RSA".into());
            m.insert("n".into(), b64url(k.modulus.as_bytes()).into());
            m.insert("e".into(), b64url(k.public_exponent.as_bytes()).into());
        }
        other => return Err(JsfError::UnsupportedKey(other.as_str())),
    }
    Ok(Value::Object(m))
}

/// Signs `object` in place: adds `signature` = `{algorithm, publicKey, value}` (replacing
/// any signature already there).
pub fn sign(object: &mut Value, key: &PrivateKey) -> Result<(), JsfError> {
    let public = key.public_key();
    let mut sig = Map::new();
    sig.insert("algorithm".into(), algorithm(public.scheme())?.into());
    sig.insert("publicKey".into(), jwk(public)?);
    let obj = object.as_object_mut().ok_or(JsfError::NotAnObject)?;
    obj.insert(SIGNATURE_PROPERTY.into(), Value::Object(sig));
    let message = jcs(object)?;
    let value = key.sign_fixed(&message)?;
    if let Some(Value::Object(sig)) = object.get_mut(SIGNATURE_PROPERTY) {
        sig.insert("value".into(), b64url(&value).into());
    }
    Ok(())
}

/// Verifies the JSF signature of `object` with one of `keys` (the one whose JWK is the
/// signature's `publicKey`; every key when the signature names none). Returns that key's id.
pub fn verify(object: &Value, keys: &[PublicKey]) -> Result<KeyId, JsfError> {
    let obj = object.as_object().ok_or(JsfError::NotAnObject)?;
    let sig = match obj.get(SIGNATURE_PROPERTY) {
        Some(Value::Object(s)) => s,
        Some(_) => return Err(JsfError::Malformed("not an object".into())),
        None => return Err(JsfError::Missing),
    };
    let algorithm = sig
        .get("algorithm")
        .and_then(Value::as_str)
        .ok_or_else(|| JsfError::Malformed("no `algorithm`".into()))?
        .to_owned();
    let value = sig
        .get("value")
        .and_then(Value::as_str)
        .ok_or_else(|| JsfError::Malformed("no `value`".into()))?;
    let value = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(value.trim_end_matches('='))
        .map_err(|e| JsfError::Malformed(format!("`value` is not base64url: {e}")))?;
    let named = sig.get("publicKey");
    let candidates: Vec<&PublicKey> = keys
        .iter()
        .filter(|k| algorithm_of(k) == Some(algorithm.as_str()))
        .filter(|k| named.is_none() || jwk(k).ok().as_ref() == named)
        .collect();
    if candidates.is_empty() {
        return Err(JsfError::UnknownKey);
    }
    // The signed form: the object with the signature minus its `value`.
    let mut unsigned = obj.clone();
    let mut core = sig.clone();
    core.remove("value");
    unsigned.insert(SIGNATURE_PROPERTY.into(), Value::Object(core));
    let message = jcs(&Value::Object(unsigned))?;
    let mut last = None;
    for k in candidates {
        if k.verify_fixed(&message, &value).is_ok() {
            return Ok(k.keyid().clone());
        }
        last = Some(k.keyid().clone());
    }
    Err(JsfError::Invalid {
        algorithm,
        keyid: last.unwrap_or_else(|| KeyId::new(String::new())),
    })
}

fn algorithm_of(key: &PublicKey) -> Option<&'static str> {
    algorithm(key.scheme()).ok()
}

// ---- JCS (RFC 8785)

/// The JCS serialization of `value`: object members sorted by their names' UTF-16 code
/// units, no whitespace, strings escaped as ECMAScript's `JSON.stringify` does, numbers as
/// ECMAScript's `Number.prototype.toString`.
pub fn jcs(value: &Value) -> Result<Vec<u8>, JsfError> {
    let mut out = String::new();
    write_jcs(value, &mut out)?;
    Ok(out.into_bytes())
}

fn write_jcs(value: &Value, out: &mut String) -> Result<(), JsfError> {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => write_number(n, out)?,
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_jcs(v, out)?;
            }
            out.push(']');
        }
        Value::Object(m) => {
            let mut members: Vec<(&String, &Value)> = m.iter().collect();
            // UTF-16 code unit order differs from UTF-8 byte order only above U+FFFF.
            members.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
            out.push('{');
            for (i, (k, v)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(k, out);
                out.push(':');
                write_jcs(v, out)?;
            }
            out.push('}');
        }
    }
    Ok(())
}

fn write_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// The largest integer every IEEE 754 double represents exactly (I-JSON's limit).
const MAX_SAFE: u64 = (1 << 53) - 1;

fn write_number(n: &serde_json::Number, out: &mut String) -> Result<(), JsfError> {
    if let Some(u) = n.as_u64() {
        if u > MAX_SAFE {
            return Err(JsfError::Canonical(format!(
                "{u} is outside I-JSON's range"
            )));
        }
        out.push_str(&u.to_string());
        return Ok(());
    }
    if let Some(i) = n.as_i64() {
        if i.unsigned_abs() > MAX_SAFE {
            return Err(JsfError::Canonical(format!(
                "{i} is outside I-JSON's range"
            )));
        }
        out.push_str(&i.to_string());
        return Ok(());
    }
    let f = n
        .as_f64()
        .ok_or_else(|| JsfError::Canonical(format!("number {n}")))?;
    out.push_str(&es_number(f)?);
    Ok(())
}

/// ECMAScript's Number.prototype.toString for a finite double (ES2015 7.1.12.1).
fn es_number(f: f64) -> Result<String, JsfError> {
    if !f.is_finite() {
        return Err(JsfError::Canonical("NaN or infinity".into()));
    }
    if f == 0.0 {
        return Ok("0".into());
    }
    // Rust's `{:e}` gives the shortest digits that round-trip, as ECMAScript requires.
    let sci = format!("{:e}", f.abs());
    let (mantissa, exp) = sci
        .split_once('e')
        .ok_or_else(|| JsfError::Canonical(sci.clone()))?;
    let exp: i32 = exp.parse().map_err(|_| JsfError::Canonical(sci.clone()))?;
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let k = digits.len() as i32;
    let n = exp + 1;
    let mut s = String::new();
    if f < 0.0 {
        s.push('-');
    }
    if k <= n && n <= 21 {
        s.push_str(&digits);
        s.extend(std::iter::repeat_n('0', (n - k) as usize));
    } else if 0 < n && n <= 21 {
        s.push_str(&digits[..n as usize]);
        s.push('.');
        s.push_str(&digits[n as usize..]);
    } else if -6 < n && n <= 0 {
        s.push_str("0.");
        s.extend(std::iter::repeat_n('0', (-n) as usize));
        s.push_str(&digits);
    } else {
        s.push_str(&digits[..1]);
        if k > 1 {
            s.push('.');
            s.push_str(&digits[1..]);
        }
        s.push('e');
        s.push(if n > 0 { '+' } else { '-' });
        s.push_str(&(n - 1).abs().to_string());
    }
    Ok(s)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use sbomit_crypto::KeyKind;
    use serde_json::json;

    /// RFC 8785 section 3.2.2 and appendix B examples. (serde_json's default float parser
    /// is not correctly rounded for 333333333.33333329, so that one is checked directly.)
    #[test]
    fn jcs_matches_rfc8785_examples() {
        let v: Value = serde_json::from_str(
            r#"{"numbers": [333333333.3333333, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
                "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
                "literals": [null, true, false]}"#,
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(jcs(&v).unwrap()).unwrap(),
            r#"{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}"#
        );
        for (f, s) in [
            #[allow(clippy::excessive_precision)]
            (333333333.33333329, "333333333.3333333"),
            (1e21, "1e+21"),
            (1e20, "100000000000000000000"),
            (-1.5e-7, "-1.5e-7"),
            (0.000001, "0.000001"),
            (123.0, "123"),
            (-0.0, "0"),
            (5e-324, "5e-324"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
        ] {
            assert_eq!(es_number(f).unwrap(), s, "{f}");
        }
        // Sorting is by UTF-16 code units: U+1F600 (D83D ...) sorts before U+FB33.
        let v = json!({"\u{fb33}": 1, "\u{1f600}": 2, "a": 3});
        assert_eq!(
            String::from_utf8(jcs(&v).unwrap()).unwrap(),
            "{\"a\":3,\"\u{1f600}\":2,\"\u{fb33}\":1}"
        );
        assert!(jcs(&json!(9007199254740993u64)).is_err());
    }

    #[test]
    fn jsf_signs_and_verifies_with_every_key_kind() {
        for kind in [
            KeyKind::Ed25519,
            KeyKind::EcdsaP256,
            KeyKind::EcdsaP384,
            KeyKind::Rsa,
        ] {
            let key = PrivateKey::generate(kind).unwrap();
            let other = PrivateKey::generate(kind).unwrap();
            let mut bom = json!({"bomFormat": "CycloneDX", "components": [{"name": "a"}]});
            sign(&mut bom, &key).unwrap();
            let keys = [other.public_key().clone(), key.public_key().clone()];
            assert_eq!(&verify(&bom, &keys).unwrap(), key.public_key().keyid());
            assert_eq!(
                verify(&bom, &keys[..1]).unwrap_err(),
                JsfError::UnknownKey,
                "{kind:?}"
            );
            let mut tampered = bom.clone();
            tampered["components"][0]["name"] = json!("b");
            assert!(matches!(
                verify(&tampered, &keys),
                Err(JsfError::Invalid { .. })
            ));
        }
    }
}
