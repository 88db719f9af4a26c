//! Keys and signatures: one provider (aws-lc-rs) behind this module; nothing else in the
//! workspace names the crypto library.
//!
//! Reads PKCS#8 (plain and encrypted), SPKI, PKCS#1 RSA PEM and securesystemslib key objects;
//! writes PKCS#8 / SPKI PEM. Schemes: `ed25519`, `ecdsa-sha2-nistp256`, `ecdsa-sha2-nistp384`
//! (DER signatures), `rsassa-pss-sha256` (sign with digest-length salt, verify any salt length).

use std::fmt;

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der};
use aws_lc_rs::signature::{self, KeyPair};
use base64::Engine as _;
use der::{Decode, Encode};
use num_bigint::BigUint;
use rustls_pki_types::SignatureVerificationAlgorithm;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use zeroize::Zeroizing;

/// A key id. Opaque when read from metadata: peers compute them in two different ways, so a
/// key id is never recomputed to match. New keys get securesystemslib ≥ 1.0 ids.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct KeyId(String);

impl KeyId {
    /// A key id as metadata names it; never checked against the key (see above).
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    pub fn into_string(self) -> String {
        self.0
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first eight characters, as used in link file names (`<step>.<keyid8>.link`).
    pub fn short(&self) -> &str {
        let end = self
            .0
            .char_indices()
            .nth(8)
            .map_or(self.0.len(), |(i, _)| i);
        &self.0[..end]
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A signature scheme, named as securesystemslib names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Scheme {
    Ed25519,
    EcdsaSha2Nistp256,
    EcdsaSha2Nistp384,
    RsassaPssSha256,
    /// Read and verified (the reference supports it); `generate` does not make P-521 keys.
    EcdsaSha2Nistp521,
}

/// What `sbomit key generate --type` accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    Ed25519,
    EcdsaP256,
    EcdsaP384,
    /// RSA 3072, as securesystemslib generates.
    Rsa,
}

/// Why a key could not be read, written or used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    #[error("not a PEM key: {0}")]
    NotPem(String),
    #[error("unsupported key: {0}")]
    Unsupported(String),
    #[error("GPG keys are not supported; use a PEM key (PKCS#8, SPKI or PKCS#1)")]
    Gpg,
    #[error("the private key is encrypted: a password is needed")]
    PasswordNeeded,
    #[error("cannot decrypt the private key: wrong password or damaged file")]
    Decrypt,
    #[error("malformed key: {0}")]
    Malformed(String),
    #[error("the key object's scheme {scheme:?} does not fit its key type {keytype:?}")]
    SchemeMismatch { keytype: String, scheme: String },
    #[error("signing failed")]
    Sign,
    #[error("the system's random source failed")]
    Random,
    /// RSA below 2048 bits is factorable with public means within the lifetime of supply-chain
    /// metadata (NIST SP 800-131A disallows it for signatures since 2013).
    #[error("RSA key of {bits} bits: at least {min} bits are required")]
    RsaKeyTooSmall { bits: u64, min: u64 },
    /// A password-based key derivation asks for more work than any honest file does; refused
    /// before any of it is done, so that a hostile key file cannot pin a CPU.
    #[error("{kdf} iteration count {count} is above the limit of {max}")]
    KdfIterations {
        kdf: &'static str,
        count: u64,
        max: u64,
    },
    /// scrypt parameters asking for more memory or work than the limits allow.
    #[error("scrypt parameters N={cost} r={block_size} p={parallelization} exceed the limits (128·N·r ≤ 1 GiB, p ≤ 16)")]
    ScryptTooCostly {
        cost: u64,
        block_size: u32,
        parallelization: u32,
    },
}

/// The smallest RSA modulus accepted anywhere a key is read.
pub const MIN_RSA_BITS: u64 = 2048;

/// The largest RSA modulus accepted (verification cost grows with the square of the size).
const MAX_RSA_BITS: u64 = 16384;

/// Refuses RSA moduli outside `MIN_RSA_BITS..=MAX_RSA_BITS`.
fn check_rsa_bits(bits: u64) -> Result<(), KeyError> {
    if bits < MIN_RSA_BITS {
        Err(KeyError::RsaKeyTooSmall {
            bits,
            min: MIN_RSA_BITS,
        })
    } else if bits > MAX_RSA_BITS {
        Err(KeyError::Unsupported(format!("RSA key of {bits} bits")))
    } else {
        Ok(())
    }
}

/// Checks an RSA private key's size from its PKCS#1 `RSAPrivateKey` DER before the provider
/// reads it, so that a small key gets [`KeyError::RsaKeyTooSmall`] and not the provider's
/// generic rejection.
fn check_rsa_private_der(pkcs1_der: &[u8]) -> Result<(), KeyError> {
    let key = pkcs1::RsaPrivateKey::from_der(pkcs1_der)
        .map_err(|e| KeyError::Malformed(format!("bad RSA private key: {e}")))?;
    check_rsa_bits(BigUint::from_bytes_be(key.modulus.as_bytes()).bits())
}

/// Why a signature did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    #[error("bad signature by key {0}")]
    Invalid(KeyId),
    #[error("malformed signature by key {keyid}: {reason}")]
    Malformed { keyid: KeyId, reason: String },
}

impl Scheme {
    /// The scheme's securesystemslib name.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Ed25519 => "ed25519",
            Scheme::EcdsaSha2Nistp256 => "ecdsa-sha2-nistp256",
            Scheme::EcdsaSha2Nistp384 => "ecdsa-sha2-nistp384",
            Scheme::RsassaPssSha256 => "rsassa-pss-sha256",
            Scheme::EcdsaSha2Nistp521 => "ecdsa-sha2-nistp521",
        }
    }

    /// Parses a securesystemslib scheme name (`None` for schemes we do not implement).
    pub fn from_name(name: &str) -> Option<Scheme> {
        match name {
            "ed25519" => Some(Scheme::Ed25519),
            "ecdsa-sha2-nistp256" => Some(Scheme::EcdsaSha2Nistp256),
            "ecdsa-sha2-nistp384" => Some(Scheme::EcdsaSha2Nistp384),
            "rsassa-pss-sha256" => Some(Scheme::RsassaPssSha256),
            "ecdsa-sha2-nistp521" => Some(Scheme::EcdsaSha2Nistp521),
            _ => None,
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// SHA-256 of `data` (the one hash the rest of the workspace needs from the provider).
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// A public key that can verify signatures.
#[derive(Clone)]
pub struct PublicKey {
    keyid: KeyId,
    scheme: Scheme,
    /// The securesystemslib `keytype` as read (`ed25519`, `ecdsa`, `rsa`, or the older
    /// `ecdsa-sha2-nistp256` spelling).
    keytype: String,
    /// `keyval.public` as written in key objects: hex (ed25519) or SPKI PEM.
    public_value: String,
    /// SPKI DER as the provider re-encodes it.
    spki_der: Vec<u8>,
    material: Material,
}

#[derive(Clone)]
enum Material {
    Ed25519(signature::ParsedPublicKey),
    Ecdsa(signature::ParsedPublicKey),
    Rsa {
        parsed: signature::ParsedPublicKey,
        n: BigUint,
        e: BigUint,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Algorithm {
    Ed25519,
    P256,
    P384,
    P521,
    Rsa,
}

impl Algorithm {
    fn keytype(self) -> &'static str {
        match self {
            Algorithm::Ed25519 => "ed25519",
            Algorithm::P256 | Algorithm::P384 | Algorithm::P521 => "ecdsa",
            Algorithm::Rsa => "rsa",
        }
    }

    fn default_scheme(self) -> Scheme {
        match self {
            Algorithm::Ed25519 => Scheme::Ed25519,
            Algorithm::P256 => Scheme::EcdsaSha2Nistp256,
            Algorithm::P384 => Scheme::EcdsaSha2Nistp384,
            Algorithm::P521 => Scheme::EcdsaSha2Nistp521,
            Algorithm::Rsa => Scheme::RsassaPssSha256,
        }
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicKey")
            .field("keyid", &self.keyid)
            .field("scheme", &self.scheme)
            .finish()
    }
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.keyid == other.keyid && self.scheme == other.scheme && self.spki_der == other.spki_der
    }
}

impl Eq for PublicKey {}

const OID_ED25519: der::oid::ObjectIdentifier =
    der::oid::ObjectIdentifier::new_unwrap("1.3.101.112");
const OID_EC: der::oid::ObjectIdentifier =
    der::oid::ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_P256: der::oid::ObjectIdentifier =
    der::oid::ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const OID_P384: der::oid::ObjectIdentifier = der::oid::ObjectIdentifier::new_unwrap("1.3.132.0.34");
const OID_P521: der::oid::ObjectIdentifier = der::oid::ObjectIdentifier::new_unwrap("1.3.132.0.35");
const OID_RSA: der::oid::ObjectIdentifier =
    der::oid::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

/// The parts of an SPKI we need: algorithm and the key bytes.
fn spki_algorithm(spki: &spki::SubjectPublicKeyInfoRef<'_>) -> Result<Algorithm, KeyError> {
    let alg = &spki.algorithm;
    if alg.oid == OID_ED25519 {
        Ok(Algorithm::Ed25519)
    } else if alg.oid == OID_RSA {
        Ok(Algorithm::Rsa)
    } else if alg.oid == OID_EC {
        let curve = alg
            .parameters_oid()
            .map_err(|e| KeyError::Malformed(format!("EC key without named curve: {e}")))?;
        if curve == OID_P256 {
            Ok(Algorithm::P256)
        } else if curve == OID_P384 {
            Ok(Algorithm::P384)
        } else if curve == OID_P521 {
            Ok(Algorithm::P521)
        } else {
            Err(KeyError::Unsupported(format!(
                "elliptic curve {curve} (only P-256, P-384 and P-521)"
            )))
        }
    } else {
        Err(KeyError::Unsupported(format!(
            "public key algorithm {}",
            alg.oid
        )))
    }
}

fn scheme_fits(alg: Algorithm, scheme: Scheme) -> bool {
    matches!(
        (alg, scheme),
        (Algorithm::Ed25519, Scheme::Ed25519)
            | (Algorithm::P256, Scheme::EcdsaSha2Nistp256)
            | (Algorithm::P384, Scheme::EcdsaSha2Nistp384)
            | (Algorithm::P521, Scheme::EcdsaSha2Nistp521)
            | (Algorithm::Rsa, Scheme::RsassaPssSha256)
    )
}

/// PEM as pyca `cryptography` (and OpenSSL) writes it: 64-column base64, trailing newline.
fn pem_encode(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::with_capacity(b64.len() + b64.len() / 64 + 2 * label.len() + 40);
    out.push_str("-----BEGIN ");
    out.push_str(label);
    out.push_str("-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        // base64 output is ASCII, so every chunk boundary is a char boundary.
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str("-----END ");
    out.push_str(label);
    out.push_str("-----\n");
    out
}

/// One decoded PEM block.
struct Pem {
    label: String,
    headers: Vec<(String, String)>,
    der: Zeroizing<Vec<u8>>,
}

/// A lenient PEM reader: text before the block, CRLF, any line width, RFC 1421 headers.
fn pem_decode(input: &[u8]) -> Result<Pem, KeyError> {
    let text = String::from_utf8_lossy(input);
    if text.contains("-----BEGIN PGP") {
        return Err(KeyError::Gpg);
    }
    let mut lines = text.lines().map(str::trim);
    let label = loop {
        let line = lines
            .next()
            .ok_or_else(|| KeyError::NotPem("no \"-----BEGIN\" line".into()))?;
        if let Some(rest) = line.strip_prefix("-----BEGIN ") {
            let label = rest
                .strip_suffix("-----")
                .ok_or_else(|| KeyError::NotPem(format!("malformed BEGIN line {line:?}")))?;
            break label.to_string();
        }
    };
    let end = format!("-----END {label}-----");
    let mut headers = Vec::new();
    let mut body = Zeroizing::new(String::new());
    let mut ended = false;
    for line in lines.by_ref() {
        if line == end {
            ended = true;
            break;
        }
        if line.starts_with("-----") {
            return Err(KeyError::NotPem(format!(
                "unexpected line {line:?} inside {label}"
            )));
        }
        if body.is_empty() {
            if let Some((k, v)) = line.split_once(':') {
                headers.push((k.trim().to_string(), v.trim().to_string()));
                continue;
            }
        }
        body.push_str(line);
    }
    if !ended {
        return Err(KeyError::NotPem(format!("missing {end:?}")));
    }
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    let der = engine
        .decode(body.as_bytes())
        .map_err(|e| KeyError::NotPem(format!("bad base64 in {label}: {e}")))?;
    Ok(Pem {
        label,
        headers,
        der: Zeroizing::new(der),
    })
}

fn compute_keyid(keytype: &str, scheme: Scheme, public: &str) -> KeyId {
    KeyId(hex::encode(sha256(&keyid_preimage(
        keytype,
        scheme.as_str(),
        public,
    ))))
}

/// The securesystemslib canonical JSON of `{keytype, keyval: {public}, scheme}`: the bytes a key
/// id hashes. The object holds only strings under fixed, sorted keys, so it is written here
/// directly instead of pulling the in-toto crate's canonical encoder into the crypto crate;
/// `sbomit-intoto` has a test that both give the same bytes.
pub fn keyid_preimage(keytype: &str, scheme: &str, public: &str) -> Vec<u8> {
    // Canonical JSON escapes only `"` and `\`; everything else is written raw.
    fn string(out: &mut Vec<u8>, s: &str) {
        out.push(b'"');
        for b in s.bytes() {
            if b == b'"' || b == b'\\' {
                out.push(b'\\');
            }
            out.push(b);
        }
        out.push(b'"');
    }
    let mut out = Vec::with_capacity(64 + public.len());
    out.extend_from_slice(br#"{"keytype":"#);
    string(&mut out, keytype);
    out.extend_from_slice(br#","keyval":{"public":"#);
    string(&mut out, public);
    out.extend_from_slice(br#"},"scheme":"#);
    string(&mut out, scheme);
    out.push(b'}');
    out
}

impl PublicKey {
    /// Builds a key from SPKI DER; the key id is left empty for the caller to fill.
    fn from_spki_der(der_bytes: &[u8]) -> Result<(Algorithm, Self), KeyError> {
        let spki = spki::SubjectPublicKeyInfoRef::from_der(der_bytes)
            .map_err(|e| KeyError::Malformed(format!("not a SubjectPublicKeyInfo: {e}")))?;
        let alg = spki_algorithm(&spki)?;
        let key_bytes = spki
            .subject_public_key
            .as_bytes()
            .ok_or_else(|| KeyError::Malformed("public key bit string has unused bits".into()))?;
        let rejected = |e: aws_lc_rs::error::KeyRejected| {
            KeyError::Malformed(format!("invalid {alg:?} public key: {e}"))
        };
        let (material, public_value) = match alg {
            Algorithm::Ed25519 => {
                if key_bytes.len() != 32 {
                    return Err(KeyError::Malformed(format!(
                        "ed25519 key of {} bytes",
                        key_bytes.len()
                    )));
                }
                let parsed = signature::ParsedPublicKey::new(&signature::ED25519, key_bytes)
                    .map_err(rejected)?;
                (Material::Ed25519(parsed), hex::encode(key_bytes))
            }
            Algorithm::P256 | Algorithm::P384 | Algorithm::P521 => {
                let valg: &'static signature::EcdsaVerificationAlgorithm = match alg {
                    Algorithm::P256 => &signature::ECDSA_P256_SHA256_ASN1,
                    Algorithm::P384 => &signature::ECDSA_P384_SHA384_ASN1,
                    _ => &signature::ECDSA_P521_SHA512_ASN1,
                };
                let parsed = signature::ParsedPublicKey::new(valg, der_bytes).map_err(rejected)?;
                (Material::Ecdsa(parsed), String::new())
            }
            Algorithm::Rsa => {
                let pkcs1 = pkcs1::RsaPublicKey::from_der(key_bytes)
                    .map_err(|e| KeyError::Malformed(format!("bad RSA public key: {e}")))?;
                let n = BigUint::from_bytes_be(pkcs1.modulus.as_bytes());
                let e = BigUint::from_bytes_be(pkcs1.public_exponent.as_bytes());
                check_rsa_bits(n.bits())?;
                if e.bits() > 64 || e < BigUint::from(3u8) {
                    return Err(KeyError::Unsupported(format!(
                        "RSA public exponent of {} bits",
                        e.bits()
                    )));
                }
                let parsed = signature::ParsedPublicKey::new(
                    &signature::RSA_PSS_2048_8192_SHA256,
                    key_bytes,
                )
                .map_err(rejected)?;
                (Material::Rsa { parsed, n, e }, String::new())
            }
        };
        let spki_der = match &material {
            Material::Ed25519(p) | Material::Ecdsa(p) | Material::Rsa { parsed: p, .. } => {
                AsDer::<PublicKeyX509Der<'static>>::as_der(p)
                    .map(|d| d.as_ref().to_vec())
                    .map_err(|_| KeyError::Malformed("cannot re-encode the public key".into()))?
            }
        };
        let public_value = if public_value.is_empty() {
            pem_encode("PUBLIC KEY", &spki_der)
        } else {
            public_value
        };
        let key = PublicKey {
            keyid: KeyId(String::new()),
            scheme: alg.default_scheme(),
            keytype: alg.keytype().to_string(),
            public_value,
            spki_der,
            material,
        };
        Ok((alg, key))
    }

    /// The SPKI DER of an RSA key given as PKCS#1 `RSAPublicKey`.
    fn pkcs1_to_spki(pkcs1_der: &[u8]) -> Result<Vec<u8>, KeyError> {
        let bits = der::asn1::BitStringRef::from_bytes(pkcs1_der)
            .map_err(|e| KeyError::Malformed(format!("bad RSA public key: {e}")))?;
        let spki = spki::SubjectPublicKeyInfoRef {
            algorithm: spki::AlgorithmIdentifierRef {
                oid: OID_RSA,
                parameters: Some(der::asn1::AnyRef::NULL),
            },
            subject_public_key: bits,
        };
        spki.to_der()
            .map_err(|e| KeyError::Malformed(format!("bad RSA public key: {e}")))
    }

    /// Reads a securesystemslib key object (`{keytype, scheme, keyval: {public}}`, other fields
    /// ignored). `keyid` is the id under which the metadata lists it: kept as given.
    pub fn from_securesystemslib(
        keyid: KeyId,
        object: &serde_json::Value,
    ) -> Result<Self, KeyError> {
        let obj = object
            .as_object()
            .ok_or_else(|| KeyError::Malformed("key object is not a JSON object".into()))?;
        // GPG keys (in-toto's gpg format): {"type", "method": "pgp+...", "hashes", "keyval": {"public": {...}}}
        let public = obj.get("keyval").and_then(|kv| kv.get("public"));
        if obj.contains_key("method") || public.is_some_and(Value::is_object) {
            return Err(KeyError::Gpg);
        }
        let keytype = obj
            .get("keytype")
            .and_then(Value::as_str)
            .ok_or_else(|| KeyError::Malformed("key object without a \"keytype\" string".into()))?;
        let scheme_name = obj
            .get("scheme")
            .and_then(Value::as_str)
            .ok_or_else(|| KeyError::Malformed("key object without a \"scheme\" string".into()))?;
        let public = public.and_then(Value::as_str).ok_or_else(|| {
            KeyError::Malformed("key object without a \"keyval.public\" string".into())
        })?;
        let mismatch = || KeyError::SchemeMismatch {
            keytype: keytype.to_string(),
            scheme: scheme_name.to_string(),
        };
        let allowed: &[Algorithm] = match keytype {
            "ed25519" => &[Algorithm::Ed25519],
            "ecdsa" => &[Algorithm::P256, Algorithm::P384, Algorithm::P521],
            "ecdsa-sha2-nistp256" => &[Algorithm::P256],
            "ecdsa-sha2-nistp384" => &[Algorithm::P384],
            "ecdsa-sha2-nistp521" => &[Algorithm::P521],
            "rsa" => &[Algorithm::Rsa],
            other => return Err(KeyError::Unsupported(format!("key type {other:?}"))),
        };
        let scheme = match Scheme::from_name(scheme_name) {
            Some(s) => s,
            None if KNOWN_SSLIB_SCHEMES.contains(&scheme_name) => {
                if allowed
                    .iter()
                    .any(|a| scheme_family(scheme_name) == Some(*a))
                {
                    return Err(KeyError::Unsupported(format!(
                        "signature scheme {scheme_name:?}"
                    )));
                }
                return Err(mismatch());
            }
            None => {
                return Err(KeyError::Unsupported(format!(
                    "signature scheme {scheme_name:?}"
                )))
            }
        };
        if !allowed.iter().any(|a| scheme_fits(*a, scheme)) {
            return Err(mismatch());
        }
        let (alg, mut key) = if keytype == "ed25519"
            && public.len() == 64
            && public.bytes().all(|b| b.is_ascii_hexdigit())
        {
            let raw = hex::decode(public)
                .map_err(|e| KeyError::Malformed(format!("bad ed25519 hex: {e}")))?;
            let mut der_bytes = ED25519_SPKI_PREFIX.to_vec();
            der_bytes.extend_from_slice(&raw);
            Self::from_spki_der(&der_bytes)?
        } else {
            let pem = pem_decode(public.as_bytes())?;
            let der_bytes = match pem.label.as_str() {
                "PUBLIC KEY" => pem.der.to_vec(),
                "RSA PUBLIC KEY" => Self::pkcs1_to_spki(&pem.der)?,
                other => {
                    return Err(KeyError::Unsupported(format!(
                        "PEM block {other:?} in a key object"
                    )))
                }
            };
            Self::from_spki_der(&der_bytes)?
        };
        if !scheme_fits(alg, scheme) {
            return Err(mismatch());
        }
        key.keyid = keyid;
        key.scheme = scheme;
        key.keytype = keytype.to_string();
        key.public_value = public.to_string();
        Ok(key)
    }

    /// Reads a PEM public key (SPKI, or PKCS#1 `RSA PUBLIC KEY`). `scheme` picks the scheme where
    /// the key type allows several (RSA: only `rsassa-pss-sha256`); `None` takes the default.
    /// The key id is computed as securesystemslib ≥ 1.0 computes it.
    pub fn from_pem(pem: &[u8], scheme: Option<Scheme>) -> Result<Self, KeyError> {
        let block = pem_decode(pem)?;
        let der_bytes = match block.label.as_str() {
            "PUBLIC KEY" => block.der.to_vec(),
            "RSA PUBLIC KEY" => Self::pkcs1_to_spki(&block.der)?,
            "PRIVATE KEY" | "ENCRYPTED PRIVATE KEY" | "RSA PRIVATE KEY" | "EC PRIVATE KEY" => {
                return Err(KeyError::Unsupported(format!(
                    "a private key ({}) where a public key is expected",
                    block.label
                )))
            }
            other => return Err(KeyError::Unsupported(format!("PEM block {other:?}"))),
        };
        let (alg, mut key) = Self::from_spki_der(&der_bytes)?;
        if let Some(s) = scheme {
            if !scheme_fits(alg, s) {
                return Err(KeyError::SchemeMismatch {
                    keytype: alg.keytype().into(),
                    scheme: s.as_str().into(),
                });
            }
            key.scheme = s;
        }
        key.keyid = compute_keyid(&key.keytype, key.scheme, &key.public_value);
        Ok(key)
    }

    pub fn keyid(&self) -> &KeyId {
        &self.keyid
    }

    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The securesystemslib key type (`ed25519`, `ecdsa`, `rsa`; as read for key objects).
    pub fn keytype(&self) -> &str {
        &self.keytype
    }

    /// The key id securesystemslib ≥ 1.0 would compute for this key object.
    pub fn computed_keyid(&self) -> KeyId {
        compute_keyid(&self.keytype, self.scheme, &self.public_value)
    }

    /// The same key under another key id.
    pub fn with_keyid(mut self, keyid: KeyId) -> Self {
        self.keyid = keyid;
        self
    }

    /// The securesystemslib key object `{keytype, scheme, keyval: {public}}` (no keyid field),
    /// as in-toto 3.x writes it into layouts.
    pub fn to_securesystemslib(&self) -> serde_json::Value {
        serde_json::json!({
            "keytype": self.keytype,
            "scheme": self.scheme.as_str(),
            "keyval": {"public": self.public_value},
        })
    }

    /// SPKI PEM.
    pub fn to_pem(&self) -> String {
        pem_encode("PUBLIC KEY", &self.spki_der)
    }

    /// Verifies `signature` (raw bytes, already decoded from hex/base64) over `message`.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), SignatureError> {
        let invalid = || SignatureError::Invalid(self.keyid.clone());
        match &self.material {
            Material::Ed25519(p) | Material::Ecdsa(p) => {
                p.verify_sig(message, signature).map_err(|_| invalid())
            }
            Material::Rsa { parsed, n, e } => {
                if parsed.verify_sig(message, signature).is_ok() {
                    return Ok(());
                }
                // Not digest-length salt, or a key size outside the provider's range: check the
                // encoding ourselves, recovering the salt length from it.
                if pss_verify_any_salt(n, e, message, signature) {
                    Ok(())
                } else {
                    Err(invalid())
                }
            }
        }
    }
}

const ED25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// securesystemslib scheme names we recognise but do not implement, for error messages.
const KNOWN_SSLIB_SCHEMES: &[&str] = &[
    "rsassa-pss-sha224",
    "rsassa-pss-sha384",
    "rsassa-pss-sha512",
    "rsa-pkcs1v15-sha224",
    "rsa-pkcs1v15-sha256",
    "rsa-pkcs1v15-sha384",
    "rsa-pkcs1v15-sha512",
];

fn scheme_family(name: &str) -> Option<Algorithm> {
    if name.starts_with("rsa") {
        Some(Algorithm::Rsa)
    } else if name.starts_with("ecdsa") {
        Some(Algorithm::P256)
    } else {
        None
    }
}

/// RSASSA-PSS verification (RFC 8017 §8.1.2, EMSA-PSS-VERIFY §9.1.2) with SHA-256 and
/// MGF1-SHA-256, taking the salt length from the encoded message.
fn pss_verify_any_salt(n: &BigUint, e: &BigUint, message: &[u8], sig: &[u8]) -> bool {
    const H_LEN: usize = 32;
    let mod_bits = n.bits() as usize;
    let k = mod_bits.div_ceil(8);
    if sig.len() != k {
        return false;
    }
    let s = BigUint::from_bytes_be(sig);
    if &s >= n {
        return false;
    }
    let m = s.modpow(e, n);
    let em_bits = mod_bits - 1;
    let em_len = em_bits.div_ceil(8);
    let m_bytes = m.to_bytes_be();
    if m_bytes.len() > em_len || em_len < H_LEN + 2 {
        return false;
    }
    let mut em = vec![0u8; em_len];
    em[em_len - m_bytes.len()..].copy_from_slice(&m_bytes);
    if em[em_len - 1] != 0xbc {
        return false;
    }
    let db_len = em_len - H_LEN - 1;
    let (masked_db, rest) = em.split_at(db_len);
    let h = &rest[..H_LEN];
    let top_bits = 8 * em_len - em_bits;
    let top_mask = if top_bits == 0 {
        0u8
    } else {
        0xffu8 << (8 - top_bits)
    };
    if masked_db[0] & top_mask != 0 {
        return false;
    }
    let mut db = mgf1_sha256(h, db_len);
    for (d, m) in db.iter_mut().zip(masked_db) {
        *d ^= m;
    }
    db[0] &= !top_mask;
    let Some(one) = db.iter().position(|&b| b != 0) else {
        return false;
    };
    if db[one] != 0x01 {
        return false;
    }
    let salt = &db[one + 1..];
    let m_hash = sha256(message);
    let mut m_prime = Vec::with_capacity(8 + H_LEN + salt.len());
    m_prime.extend_from_slice(&[0u8; 8]);
    m_prime.extend_from_slice(&m_hash);
    m_prime.extend_from_slice(salt);
    sha256(&m_prime) == h
}

fn mgf1_sha256(seed: &[u8], len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 32);
    let mut counter: u32 = 0;
    while out.len() < len {
        let mut input = seed.to_vec();
        input.extend_from_slice(&counter.to_be_bytes());
        out.extend_from_slice(&sha256(&input));
        counter = counter.wrapping_add(1);
    }
    out.truncate(len);
    out
}

enum PrivateMaterial {
    Ed25519(signature::Ed25519KeyPair),
    Ecdsa(signature::EcdsaKeyPair),
    Rsa(signature::RsaKeyPair),
}

/// A private key that can sign.
pub struct PrivateKey {
    material: PrivateMaterial,
    public: PublicKey,
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKey")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

impl PrivateKey {
    fn from_material(material: PrivateMaterial) -> Result<Self, KeyError> {
        let bad = |_| KeyError::Malformed("cannot encode the public key".into());
        let spki = match &material {
            PrivateMaterial::Ed25519(k) => {
                AsDer::<PublicKeyX509Der<'static>>::as_der(k.public_key()).map_err(bad)?
            }
            PrivateMaterial::Ecdsa(k) => {
                AsDer::<PublicKeyX509Der<'static>>::as_der(k.public_key()).map_err(bad)?
            }
            PrivateMaterial::Rsa(k) => {
                AsDer::<PublicKeyX509Der<'static>>::as_der(k.public_key()).map_err(bad)?
            }
        };
        let (_, mut public) = PublicKey::from_spki_der(spki.as_ref())?;
        public.keyid = public.computed_keyid();
        Ok(PrivateKey { material, public })
    }

    /// Generates a new key.
    pub fn generate(kind: KeyKind) -> Result<Self, KeyError> {
        let failed = |_| KeyError::Unsupported("key generation failed".into());
        let material = match kind {
            KeyKind::Ed25519 => {
                PrivateMaterial::Ed25519(signature::Ed25519KeyPair::generate().map_err(failed)?)
            }
            KeyKind::EcdsaP256 => PrivateMaterial::Ecdsa(
                signature::EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_ASN1_SIGNING)
                    .map_err(failed)?,
            ),
            KeyKind::EcdsaP384 => PrivateMaterial::Ecdsa(
                signature::EcdsaKeyPair::generate(&signature::ECDSA_P384_SHA384_ASN1_SIGNING)
                    .map_err(failed)?,
            ),
            KeyKind::Rsa => PrivateMaterial::Rsa(
                signature::RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa3072)
                    .map_err(failed)?,
            ),
        };
        Self::from_material(material)
    }

    /// Reads PKCS#8 `PrivateKeyInfo` DER.
    fn from_pkcs8_der(der_bytes: &[u8]) -> Result<Self, KeyError> {
        let info = pkcs8::PrivateKeyInfo::from_der(der_bytes)
            .map_err(|e| KeyError::Malformed(format!("not a PKCS#8 private key: {e}")))?;
        let rejected = |e: aws_lc_rs::error::KeyRejected| {
            KeyError::Malformed(format!("private key rejected: {e}"))
        };
        let oid = info.algorithm.oid;
        let material = if oid == OID_ED25519 {
            PrivateMaterial::Ed25519(
                signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(der_bytes)
                    .map_err(rejected)?,
            )
        } else if oid == OID_EC {
            let curve = info
                .algorithm
                .parameters_oid()
                .map_err(|e| KeyError::Malformed(format!("EC key without named curve: {e}")))?;
            let alg = ecdsa_signing_alg(curve)?;
            PrivateMaterial::Ecdsa(
                signature::EcdsaKeyPair::from_pkcs8(alg, der_bytes).map_err(rejected)?,
            )
        } else if oid == OID_RSA {
            check_rsa_private_der(info.private_key)?;
            PrivateMaterial::Rsa(signature::RsaKeyPair::from_pkcs8(der_bytes).map_err(rejected)?)
        } else {
            return Err(KeyError::Unsupported(format!(
                "private key algorithm {oid}"
            )));
        };
        Self::from_material(material)
    }

    /// Reads a PEM private key: PKCS#8 (plain or `ENCRYPTED PRIVATE KEY`, PBES2 and the PBES1
    /// schemes the reference's fixtures use), PKCS#1 `RSA PRIVATE KEY`, SEC1 `EC PRIVATE KEY`.
    pub fn from_pem(pem: &[u8], password: Option<&[u8]>) -> Result<Self, KeyError> {
        let block = pem_decode(pem)?;
        let rejected = |e: aws_lc_rs::error::KeyRejected| {
            KeyError::Malformed(format!("private key rejected: {e}"))
        };
        if block
            .headers
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case("Proc-Type") && v.contains("ENCRYPTED"))
        {
            return match password {
                None => Err(KeyError::PasswordNeeded),
                Some(_) => Err(KeyError::Unsupported(
                    "legacy OpenSSL PEM encryption; convert the key to encrypted PKCS#8".into(),
                )),
            };
        }
        match block.label.as_str() {
            "PRIVATE KEY" => Self::from_pkcs8_der(&block.der),
            "ENCRYPTED PRIVATE KEY" => {
                let password = password.ok_or(KeyError::PasswordNeeded)?;
                let plain = pbe::decrypt(&block.der, password)?;
                Self::from_pkcs8_der(&plain)
            }
            "RSA PRIVATE KEY" => {
                check_rsa_private_der(&block.der)?;
                Self::from_material(PrivateMaterial::Rsa(
                    signature::RsaKeyPair::from_der(&block.der).map_err(rejected)?,
                ))
            }
            "EC PRIVATE KEY" => Self::from_material(PrivateMaterial::Ecdsa(sec1_key(&block.der)?)),
            "PUBLIC KEY" | "RSA PUBLIC KEY" => Err(KeyError::Unsupported(
                "a public key where a private key is expected".into(),
            )),
            other => Err(KeyError::Unsupported(format!("PEM block {other:?}"))),
        }
    }

    fn pkcs8_der(&self) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        let failed = |_| KeyError::Unsupported("cannot encode the private key".into());
        let der_bytes = match &self.material {
            PrivateMaterial::Ed25519(k) => k.to_pkcs8v1().map_err(failed)?.as_ref().to_vec(),
            PrivateMaterial::Ecdsa(k) => k.to_pkcs8v1().map_err(failed)?.as_ref().to_vec(),
            PrivateMaterial::Rsa(k) => AsDer::<Pkcs8V1Der<'static>>::as_der(k)
                .map_err(failed)?
                .as_ref()
                .to_vec(),
        };
        Ok(Zeroizing::new(der_bytes))
    }

    /// PKCS#8 PEM, encrypted (PBES2, scrypt or PBKDF2-SHA256, AES-256-CBC) when a password is given.
    pub fn to_pkcs8_pem(&self, password: Option<&[u8]>) -> Result<String, KeyError> {
        let der_bytes = self.pkcs8_der()?;
        match password {
            None => Ok(pem_encode("PRIVATE KEY", &der_bytes)),
            Some(pw) => {
                let enc = pbe::encrypt(&der_bytes, pw)?;
                Ok(pem_encode("ENCRYPTED PRIVATE KEY", &enc))
            }
        }
    }

    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        match &self.material {
            PrivateMaterial::Ed25519(k) => Ok(k
                .try_sign(message)
                .map_err(|_| KeyError::Sign)?
                .as_ref()
                .to_vec()),
            PrivateMaterial::Ecdsa(k) => Ok(k
                .sign(&rng, message)
                .map_err(|_| KeyError::Sign)?
                .as_ref()
                .to_vec()),
            PrivateMaterial::Rsa(k) => {
                let mut sig = vec![0u8; k.public_modulus_len()];
                k.sign(&signature::RSA_PSS_SHA256, &rng, message, &mut sig)
                    .map_err(|_| KeyError::Sign)?;
                Ok(sig)
            }
        }
    }
}

fn ecdsa_signing_alg(
    curve: der::oid::ObjectIdentifier,
) -> Result<&'static signature::EcdsaSigningAlgorithm, KeyError> {
    if curve == OID_P256 {
        Ok(&signature::ECDSA_P256_SHA256_ASN1_SIGNING)
    } else if curve == OID_P384 {
        Ok(&signature::ECDSA_P384_SHA384_ASN1_SIGNING)
    } else if curve == OID_P521 {
        Ok(&signature::ECDSA_P521_SHA512_ASN1_SIGNING)
    } else {
        Err(KeyError::Unsupported(format!(
            "elliptic curve {curve} (only P-256, P-384 and P-521)"
        )))
    }
}

/// Tries the curves we support on a SEC1 `ECPrivateKey` (the provider checks the curve).
fn sec1_key(der_bytes: &[u8]) -> Result<signature::EcdsaKeyPair, KeyError> {
    signature::EcdsaKeyPair::from_private_key_der(
        &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
        der_bytes,
    )
    .or_else(|_| {
        signature::EcdsaKeyPair::from_private_key_der(
            &signature::ECDSA_P384_SHA384_ASN1_SIGNING,
            der_bytes,
        )
    })
    .or_else(|_| {
        signature::EcdsaKeyPair::from_private_key_der(
            &signature::ECDSA_P521_SHA512_ASN1_SIGNING,
            der_bytes,
        )
    })
    .map_err(|e| KeyError::Malformed(format!("not a P-256 or P-384 SEC1 EC private key: {e}")))
}

/// Password-based encryption of PKCS#8 keys (RFC 8018): PBES2 and PBES1 pbeWithMD5AndDES-CBC.
mod pbe {
    use std::num::NonZeroU32;

    use aws_lc_rs::cipher::{
        DecryptionContext, EncryptionContext, PaddedBlockDecryptingKey, PaddedBlockEncryptingKey,
        UnboundCipherKey,
    };
    use aws_lc_rs::iv::FixedLength;
    use aws_lc_rs::pbkdf2;
    use der::{Decode, Encode};
    use pkcs8::pkcs5::{self, pbes1, pbes2};
    use zeroize::Zeroizing;

    use super::KeyError;

    /// PBKDF2 iterations for keys we write (OWASP 2023 recommendation for PBKDF2-HMAC-SHA256).
    const ITERATIONS: u32 = 600_000;

    /// The most PBKDF1/PBKDF2 iterations a key file may ask for. Honest files ask for far
    /// fewer (OpenSSL writes 2,048 for PBES1 and PBES2, OWASP recommends 600,000 for
    /// PBKDF2-SHA256 and 1,300,000 for SHA-1, and we write 600,000); ten million PBKDF2-SHA256
    /// iterations are a few seconds of one core, so a hostile file costs at most that.
    pub(super) const MAX_ITERATIONS: u32 = 10_000_000;

    /// scrypt limits: memory is 128·N·r bytes, capped at 1 GiB (N = 2^20, r = 8, the scrypt
    /// paper's "sensitive storage" setting; OpenSSL's default is 2^14 and 8, 16 MiB); the work
    /// is that times p, capped at p = 16.
    const MAX_SCRYPT_MEMORY: u64 = 1 << 30;
    const MAX_SCRYPT_PARALLELIZATION: u16 = 16;

    fn iterations_error(kdf: &'static str, count: u32) -> KeyError {
        KeyError::KdfIterations {
            kdf,
            count: u64::from(count),
            max: u64::from(MAX_ITERATIONS),
        }
    }

    pub(super) fn decrypt(
        der_bytes: &[u8],
        password: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        let info = pkcs8::EncryptedPrivateKeyInfo::from_der(der_bytes)
            .map_err(|e| KeyError::Malformed(format!("not an encrypted PKCS#8 key: {e}")))?;
        let plain = match &info.encryption_algorithm {
            pkcs5::EncryptionScheme::Pbes1(alg) => {
                pbes1_decrypt(alg, password, info.encrypted_data)?
            }
            pkcs5::EncryptionScheme::Pbes2(params) => {
                pbes2_decrypt(params, password, info.encrypted_data)?
            }
            _ => {
                return Err(KeyError::Unsupported(
                    "password-based encryption scheme".into(),
                ))
            }
        };
        // A wrong password usually fails the padding check; when it does not, the plaintext is
        // garbage: either way it is a decryption failure.
        if pkcs8::PrivateKeyInfo::from_der(&plain).is_err() {
            return Err(KeyError::Decrypt);
        }
        Ok(plain)
    }

    fn pbes1_decrypt(
        alg: &pbes1::Algorithm,
        password: &[u8],
        data: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        use cbc::cipher::{block_padding::Pkcs7, BlockDecryptMut, KeyIvInit};
        use md5::Digest;
        if alg.encryption != pbes1::EncryptionScheme::PbeWithMd5AndDesCbc {
            return Err(KeyError::Unsupported(format!(
                "PBES1 scheme {:?}",
                alg.encryption
            )));
        }
        let iterations = alg.parameters.iteration_count;
        if iterations == 0 {
            return Err(KeyError::Malformed("PBES1 iteration count 0".into()));
        }
        // The decoder reads the count as a u16 today (at most 65,535 MD5 iterations, a few
        // milliseconds; larger counts fail to decode), so this only keeps the bound should the
        // dependency widen the field.
        if u32::from(iterations) > MAX_ITERATIONS {
            return Err(iterations_error("PBKDF1", u32::from(iterations)));
        }
        // PBKDF1 (RFC 8018 §5.1) with MD5: T_1 = MD5(P || S), T_i = MD5(T_{i-1}); DK = T_c[..16].
        let mut hasher = md5::Md5::new();
        hasher.update(password);
        hasher.update(alg.parameters.salt);
        let mut t = Zeroizing::new(hasher.finalize().to_vec());
        for _ in 1..iterations {
            *t = md5::Md5::digest(&*t).to_vec();
        }
        let (key, iv) = t.split_at(8);
        let dec = cbc::Decryptor::<des::Des>::new_from_slices(key, iv)
            .map_err(|_| KeyError::Malformed("bad DES key length".into()))?;
        dec.decrypt_padded_vec_mut::<Pkcs7>(data)
            .map(Zeroizing::new)
            .map_err(|_| KeyError::Decrypt)
    }

    fn pbes2_decrypt(
        params: &pbes2::Parameters<'_>,
        password: &[u8],
        data: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        let (cipher, iv): (&'static aws_lc_rs::cipher::Algorithm, &[u8; 16]) =
            match params.encryption {
                pbes2::EncryptionScheme::Aes128Cbc { iv } => (&aws_lc_rs::cipher::AES_128, iv),
                pbes2::EncryptionScheme::Aes192Cbc { iv } => (&aws_lc_rs::cipher::AES_192, iv),
                pbes2::EncryptionScheme::Aes256Cbc { iv } => (&aws_lc_rs::cipher::AES_256, iv),
                #[allow(unreachable_patterns)]
                _ => {
                    return Err(KeyError::Unsupported(
                        "PBES2 cipher other than AES-CBC".into(),
                    ))
                }
            };
        let key_len = params.encryption.key_size();
        let mut key = Zeroizing::new(vec![0u8; key_len]);
        match &params.kdf {
            pbes2::Kdf::Pbkdf2(p) => {
                let prf = match p.prf {
                    pbes2::Pbkdf2Prf::HmacWithSha1 => pbkdf2::PBKDF2_HMAC_SHA1,
                    pbes2::Pbkdf2Prf::HmacWithSha256 => pbkdf2::PBKDF2_HMAC_SHA256,
                    pbes2::Pbkdf2Prf::HmacWithSha384 => pbkdf2::PBKDF2_HMAC_SHA384,
                    pbes2::Pbkdf2Prf::HmacWithSha512 => pbkdf2::PBKDF2_HMAC_SHA512,
                    other => return Err(KeyError::Unsupported(format!("PBKDF2 PRF {other:?}"))),
                };
                if p.key_length.is_some_and(|l| usize::from(l) != key_len) {
                    return Err(KeyError::Malformed(
                        "PBKDF2 key length does not fit the cipher".into(),
                    ));
                }
                // Bound the work a hostile file can ask for.
                if p.iteration_count > MAX_ITERATIONS {
                    return Err(iterations_error("PBKDF2", p.iteration_count));
                }
                let iterations = NonZeroU32::new(p.iteration_count)
                    .ok_or_else(|| KeyError::Malformed("PBKDF2 iteration count 0".into()))?;
                pbkdf2::derive(prf, iterations, p.salt, password, &mut key);
            }
            pbes2::Kdf::Scrypt(s) => {
                // Checked before the scrypt crate allocates 128·N·r bytes.
                let memory = 128u64
                    .saturating_mul(s.cost_parameter)
                    .saturating_mul(u64::from(s.block_size));
                if memory > MAX_SCRYPT_MEMORY || s.parallelization > MAX_SCRYPT_PARALLELIZATION {
                    return Err(KeyError::ScryptTooCostly {
                        cost: s.cost_parameter,
                        block_size: u32::from(s.block_size),
                        parallelization: u32::from(s.parallelization),
                    });
                }
                return params
                    .decrypt(password, data)
                    .map(Zeroizing::new)
                    .map_err(|_| KeyError::Decrypt);
            }
            _ => {
                return Err(KeyError::Unsupported(
                    "PBES2 key derivation function".into(),
                ))
            }
        }
        let unbound = UnboundCipherKey::new(cipher, &key)
            .map_err(|_| KeyError::Malformed("bad AES key".into()))?;
        let dec = PaddedBlockDecryptingKey::cbc_pkcs7(unbound)
            .map_err(|_| KeyError::Malformed("bad AES key".into()))?;
        let mut buf = Zeroizing::new(data.to_vec());
        let plain = dec
            .decrypt(&mut buf, DecryptionContext::Iv128(FixedLength::from(iv)))
            .map_err(|_| KeyError::Decrypt)?;
        Ok(Zeroizing::new(plain.to_vec()))
    }

    /// PBES2 with PBKDF2-HMAC-SHA256 and AES-256-CBC, as OpenSSL 3 writes by default.
    pub(super) fn encrypt(plain: &[u8], password: &[u8]) -> Result<Vec<u8>, KeyError> {
        let failed = |_| KeyError::Unsupported("cannot encrypt the private key".into());
        let mut salt = [0u8; 16];
        let mut iv = [0u8; 16];
        aws_lc_rs::rand::fill(&mut salt).map_err(failed)?;
        aws_lc_rs::rand::fill(&mut iv).map_err(failed)?;
        let iterations = NonZeroU32::new(ITERATIONS).ok_or(KeyError::Sign)?;
        let mut key = Zeroizing::new([0u8; 32]);
        pbkdf2::derive(
            pbkdf2::PBKDF2_HMAC_SHA256,
            iterations,
            &salt,
            password,
            &mut *key,
        );
        let unbound = UnboundCipherKey::new(&aws_lc_rs::cipher::AES_256, &*key).map_err(failed)?;
        let enc = PaddedBlockEncryptingKey::cbc_pkcs7(unbound).map_err(failed)?;
        let mut data = plain.to_vec();
        enc.less_safe_encrypt(&mut data, EncryptionContext::Iv128(FixedLength::from(iv)))
            .map_err(failed)?;
        let params = pbes2::Parameters::pbkdf2_sha256_aes256cbc(ITERATIONS, &salt, &iv)
            .map_err(|e| KeyError::Unsupported(format!("cannot encode PBES2 parameters: {e}")))?;
        let info = pkcs8::EncryptedPrivateKeyInfo {
            encryption_algorithm: pkcs5::EncryptionScheme::Pbes2(params),
            encrypted_data: &data,
        };
        info.to_der()
            .map_err(|e| KeyError::Unsupported(format!("cannot encode the encrypted key: {e}")))
    }
}

/// SHA-256 over the concatenation of `parts`, without copying them together (Merkle node
/// hashes are `0x01 || left || right`).
pub fn sha256_parts(parts: &[&[u8]]) -> [u8; 32] {
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    for part in parts {
        ctx.update(part);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// Incremental SHA-256, for streaming files through the hash without holding them.
pub struct Sha256Hasher(aws_lc_rs::digest::Context);

impl Sha256Hasher {
    pub fn new() -> Self {
        Self(aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256))
    }

    pub fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    pub fn finish(self) -> [u8; 32] {
        let mut out = [0u8; 32];
        out.copy_from_slice(self.0.finish().as_ref());
        out
    }
}

impl Default for Sha256Hasher {
    fn default() -> Self {
        Self::new()
    }
}

/// Fills `buf` from the system's secure random source (tokens, nonces).
pub fn random_bytes(buf: &mut [u8]) -> Result<(), KeyError> {
    aws_lc_rs::rand::fill(buf).map_err(|_| KeyError::Random)
}

/// The signature algorithms X.509 path validation accepts (rustls-webpki, backed by
/// aws-lc-rs): ECDSA P-256/P-384 with SHA-256/384, Ed25519, RSA PKCS#1 v1.5 (2048 to 8192
/// bits) with SHA-256/384/512 — the set the hand-written x5chain validation accepted. Listed
/// here, not taken from webpki's `ALL_VERIFICATION_ALGS`, so that no other provider's
/// algorithms (ring's, if another crate enables it) can enter through feature unification.
pub fn webpki_algorithms() -> &'static [&'static dyn SignatureVerificationAlgorithm] {
    use webpki::aws_lc_rs as algs;
    static ALGORITHMS: &[&dyn SignatureVerificationAlgorithm] = &[
        algs::ECDSA_P256_SHA256,
        algs::ECDSA_P256_SHA384,
        algs::ECDSA_P384_SHA256,
        algs::ECDSA_P384_SHA384,
        algs::ED25519,
        algs::RSA_PKCS1_2048_8192_SHA256,
        algs::RSA_PKCS1_2048_8192_SHA384,
        algs::RSA_PKCS1_2048_8192_SHA512,
    ];
    ALGORITHMS
}

/// The TLS provider of every TLS client in the workspace (the Store client's HTTPS, the
/// PostgreSQL backend's TLS): rustls on aws-lc-rs, so that the workspace ships one crypto
/// library and no other crate names it.
pub fn tls_provider() -> std::sync::Arc<rustls::crypto::CryptoProvider> {
    std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// SPKI DER prefix of an uncompressed P-256 point (id-ecPublicKey, prime256v1, BIT STRING).
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// Fixed-size (`r || s`) ECDSA signatures and raw key bytes, as COSE and JOSE carry them;
/// the securesystemslib-facing API above keeps DER signatures and PEM keys.
impl PublicKey {
    /// Builds a key from SPKI DER, with the key id computed as [`PublicKey::from_pem`] does.
    pub fn from_spki(der_bytes: &[u8]) -> Result<Self, KeyError> {
        let (_, mut key) = Self::from_spki_der(der_bytes)?;
        key.keyid = key.computed_keyid();
        Ok(key)
    }

    /// Builds a key from its raw bytes: 32 bytes for `Ed25519`, the uncompressed SEC1 point
    /// (`0x04 || x || y`, 65 bytes) for `EcdsaSha2Nistp256`. Other schemes are unsupported.
    pub fn from_raw(scheme: Scheme, raw: &[u8]) -> Result<Self, KeyError> {
        let mut der_bytes = match scheme {
            Scheme::Ed25519 if raw.len() == 32 => ED25519_SPKI_PREFIX.to_vec(),
            Scheme::EcdsaSha2Nistp256 if raw.len() == 65 && raw[0] == 0x04 => {
                P256_SPKI_PREFIX.to_vec()
            }
            Scheme::Ed25519 | Scheme::EcdsaSha2Nistp256 => {
                return Err(KeyError::Malformed(format!(
                    "{} public key of {} bytes",
                    scheme.as_str(),
                    raw.len()
                )))
            }
            other => {
                return Err(KeyError::Unsupported(format!(
                    "raw {} public keys",
                    other.as_str()
                )))
            }
        };
        der_bytes.extend_from_slice(raw);
        Self::from_spki(&der_bytes)
    }

    /// SubjectPublicKeyInfo DER.
    pub fn spki_der(&self) -> &[u8] {
        &self.spki_der
    }

    /// The raw key bytes inside the SPKI: 32 bytes for Ed25519, the SEC1 point for ECDSA,
    /// PKCS#1 `RSAPublicKey` for RSA.
    pub fn raw_public_key(&self) -> Option<&[u8]> {
        spki::SubjectPublicKeyInfoRef::from_der(&self.spki_der)
            .ok()
            .and_then(|spki| spki.subject_public_key.as_bytes())
    }

    /// Verifies a signature in fixed-size form: `r || s` for ECDSA (each scalar left-padded to
    /// the curve size), the plain signature for Ed25519 and RSA.
    pub fn verify_fixed(&self, message: &[u8], signature: &[u8]) -> Result<(), SignatureError> {
        let fixed: &'static signature::EcdsaVerificationAlgorithm = match self.scheme {
            Scheme::EcdsaSha2Nistp256 => &signature::ECDSA_P256_SHA256_FIXED,
            Scheme::EcdsaSha2Nistp384 => &signature::ECDSA_P384_SHA384_FIXED,
            Scheme::EcdsaSha2Nistp521 => &signature::ECDSA_P521_SHA512_FIXED,
            Scheme::Ed25519 | Scheme::RsassaPssSha256 => return self.verify(message, signature),
        };
        signature::UnparsedPublicKey::new(fixed, &self.spki_der)
            .verify(message, signature)
            .map_err(|_| SignatureError::Invalid(self.keyid.clone()))
    }
}

/// The curve order's byte size for an ECDSA scheme.
fn ecdsa_scalar_len(scheme: Scheme) -> Option<usize> {
    match scheme {
        Scheme::EcdsaSha2Nistp256 => Some(32),
        Scheme::EcdsaSha2Nistp384 => Some(48),
        Scheme::EcdsaSha2Nistp521 => Some(66),
        Scheme::Ed25519 | Scheme::RsassaPssSha256 => None,
    }
}

/// `ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER }` to `r || s`.
fn ecdsa_der_to_fixed(der_sig: &[u8], width: usize) -> Option<Vec<u8>> {
    use der::Reader as _;
    let mut reader = der::SliceReader::new(der_sig).ok()?;
    let (r, s) = reader
        .sequence(|seq| {
            let r = der::asn1::UintRef::decode(seq)?;
            let s = der::asn1::UintRef::decode(seq)?;
            Ok((r, s))
        })
        .ok()?;
    if !reader.is_finished() {
        return None;
    }
    let mut out = vec![0u8; 2 * width];
    for (scalar, slot) in [r, s].iter().zip(out.chunks_mut(width)) {
        let bytes = scalar.as_bytes();
        if bytes.len() > width {
            return None;
        }
        slot[width - bytes.len()..].copy_from_slice(bytes);
    }
    Some(out)
}

impl PrivateKey {
    /// Signs, giving the signature in fixed-size form (see [`PublicKey::verify_fixed`]).
    pub fn sign_fixed(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        let sig = self.sign(message)?;
        match ecdsa_scalar_len(self.public.scheme) {
            Some(width) => ecdsa_der_to_fixed(&sig, width).ok_or(KeyError::Sign),
            None => Ok(sig),
        }
    }
}

#[cfg(test)]
mod fixed_form_tests {
    use super::*;

    #[test]
    fn fixed_ecdsa_signatures_round_trip() {
        for kind in [KeyKind::EcdsaP256, KeyKind::EcdsaP384, KeyKind::Ed25519] {
            let key = PrivateKey::generate(kind).expect("generate");
            let sig = key.sign_fixed(b"message").expect("sign");
            if kind == KeyKind::EcdsaP256 {
                assert_eq!(sig.len(), 64);
            }
            let public = key.public_key();
            public.verify_fixed(b"message", &sig).expect("verify");
            assert!(public.verify_fixed(b"other", &sig).is_err());
            let raw = public.raw_public_key().expect("raw key");
            let again = PublicKey::from_raw(public.scheme(), raw);
            if kind == KeyKind::EcdsaP384 {
                assert!(again.is_err());
            } else {
                assert_eq!(again.expect("from raw").spki_der(), public.spki_der());
            }
        }
    }

    #[test]
    fn sha256_parts_matches_concatenation() {
        assert_eq!(sha256_parts(&[b"ab", b"", b"c"]), sha256(b"abc"));
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const RSA_PUBLIC: &str = include_str!("../../../testdata/in-toto-python/pems/rsa_public.pem");

    /// pyca `cryptography` signatures of b"max salt" with the fixture RSA key: PSS salt of
    /// maximal length, 0 bytes and 20 bytes. securesystemslib verifies with `PSS.AUTO`.
    const PSS_OTHER_SALTS: [&str; 3] = [
        "9bc23cf8e78378f28474807f49accffb734bfea1550b2be6f4b38f0c135f9fece227705a8b7adbf792af6dc98c9b49e70f073651971d4751edb22d85c2bc96bcf3dc70768205213ec4d2d91dfd7643cc4537505afc3ba60a7f2710ac629cea3b782a0038f2f6e0d5936f7f128a0b33dbfb600cf40bcb0f145b8fd6f28abad4530c8baf8d7e9ce5cb690a7f4158a8cdb1b38f0da168f90054083e5ced884a3c63bd244a5d0a3241d13c017a9623d12d4790a5a90c0792646368bad10c21cddaafd20ce580b6c1cd9b0111bc4eaa4c41081037e14a3fd2554922cd6797ef8273e646d10e901c7516628e16203db7851d8cf9716efeb38d4aefdef31e666f915444",
        "9e9525b15f141607a9f48bb1253d8e896a4813e779091016e172c56e4ac716dac90e0543fb85996347af23affe78ed154f6467dc71de87cf4cf2b1cb4ed80a45fd4a2c0f9112c578a37795f1d5343967ed8a214726d084d3442aa0f9b818d2375a8e647124a26ec7b732c0c4f7cf23443316410a064325ee4fe0c3d2a5f761b3fda960d03997399dada3277a99170494516086c7c0ee936664331249cd95f896d0cd269dcd9266f1539470879ab2aac619b91f755ed34cc137ce939725502e3703fc24256249db280f3046771570342a2b5e79e2027d18668f9b3508d26624a09cd5e51e3c7de92aa8f7d54e8d7aee2a653154e4da7978cc397780cd9cbc1532",
        "a8b71d8f93ec36931a44028c5b72b1b8d21a6bb40a9e71f5694fd103d88dffabad9145edef2d3c3a8074fcee85f3e77e1ac2513ae955ca2e4393fd5580c391d80e402bd52fd906fc6edd6f12753c25550686b922ab7f3bfb9bfbe865625e328b4154a52063050dc4924510695fedbec6b42fc2e07ea029664f43d7c7886069e245b0f0f95c993f80d8e93cc77fa045142bb4fa4375d0a504df8d185daae27d9ede94c9f2be453921b2f6df1a27ff08368c932e6247e826afbcfae6dbeed0a9c8bc31ff0c943eef43890eb4fb8414f04d52dc2f0a6bca7042a4e7df0744034c9f777bf7d5923236a2a515c61aab4d7fcc1ec36416e7014b2ce1e340604678ac39",
    ];

    #[test]
    fn rsa_pss_verifies_any_salt_length() {
        let key = PublicKey::from_pem(RSA_PUBLIC.as_bytes(), None).unwrap();
        for sig in PSS_OTHER_SALTS {
            let sig = hex::decode(sig).unwrap();
            key.verify(b"max salt", &sig).unwrap();
            assert!(key.verify(b"max salu", &sig).is_err());
        }
    }

    #[test]
    fn rsa_pss_fallback_checks_our_own_signatures() {
        let key = PrivateKey::generate(KeyKind::Rsa).unwrap();
        let sig = key.sign(b"m").unwrap();
        let Material::Rsa { n, e, .. } = &key.public_key().material else {
            panic!("not RSA")
        };
        assert!(pss_verify_any_salt(n, e, b"m", &sig));
        assert!(!pss_verify_any_salt(n, e, b"n", &sig));
        let mut bad = sig.clone();
        bad[10] ^= 1;
        assert!(!pss_verify_any_salt(n, e, b"m", &bad));
    }

    #[test]
    fn reads_pkcs1_rsa_public_key() {
        let spki = PublicKey::from_pem(RSA_PUBLIC.as_bytes(), None).unwrap();
        let block = pem_decode(RSA_PUBLIC.as_bytes()).unwrap();
        let info = spki::SubjectPublicKeyInfoRef::from_der(&block.der).unwrap();
        let pkcs1 = pem_encode("RSA PUBLIC KEY", info.subject_public_key.raw_bytes());
        let key = PublicKey::from_pem(pkcs1.as_bytes(), None).unwrap();
        assert_eq!(key, spki);
    }

    #[test]
    fn writes_pem_as_cryptography_does() {
        let key = PublicKey::from_pem(RSA_PUBLIC.as_bytes(), None).unwrap();
        assert_eq!(key.to_pem(), RSA_PUBLIC);
    }

    #[test]
    fn reads_sec1_ec_private_key() {
        for kind in [KeyKind::EcdsaP256, KeyKind::EcdsaP384] {
            let key = PrivateKey::generate(kind).unwrap();
            let PrivateMaterial::Ecdsa(pair) = &key.material else {
                panic!("not EC")
            };
            let sec1 = AsDer::<aws_lc_rs::encoding::EcPrivateKeyRfc5915Der<'static>>::as_der(
                &pair.private_key(),
            )
            .unwrap();
            let pem = pem_encode("EC PRIVATE KEY", sec1.as_ref());
            let again = PrivateKey::from_pem(pem.as_bytes(), None).unwrap();
            assert_eq!(again.public_key(), key.public_key());
        }
    }

    #[test]
    fn rejects_public_key_as_private_and_vice_versa() {
        assert!(matches!(
            PrivateKey::from_pem(RSA_PUBLIC.as_bytes(), None),
            Err(KeyError::Unsupported(_))
        ));
        let private = PrivateKey::generate(KeyKind::Ed25519)
            .unwrap()
            .to_pkcs8_pem(None)
            .unwrap();
        assert!(matches!(
            PublicKey::from_pem(private.as_bytes(), None),
            Err(KeyError::Unsupported(_))
        ));
        assert!(matches!(
            PublicKey::from_pem(b"hello", None),
            Err(KeyError::NotPem(_))
        ));
    }

    const RSA1024_PUBLIC: &str = include_str!("../../../testdata/openssl/rsa1024_public.pem");
    const RSA1024_PRIVATE: &str = include_str!("../../../testdata/openssl/rsa1024_private.pem");
    const RSA1024_PRIVATE_PKCS1: &str =
        include_str!("../../../testdata/openssl/rsa1024_private_pkcs1.pem");

    fn too_small() -> KeyError {
        KeyError::RsaKeyTooSmall {
            bits: 1024,
            min: 2048,
        }
    }

    #[test]
    fn refuses_rsa_keys_under_2048_bits_everywhere_a_key_is_read() {
        // SPKI PEM.
        assert_eq!(
            PublicKey::from_pem(RSA1024_PUBLIC.as_bytes(), None).unwrap_err(),
            too_small()
        );
        // PKCS#1 `RSA PUBLIC KEY`.
        let block = pem_decode(RSA1024_PUBLIC.as_bytes()).unwrap();
        let info = spki::SubjectPublicKeyInfoRef::from_der(&block.der).unwrap();
        let pkcs1 = pem_encode("RSA PUBLIC KEY", info.subject_public_key.raw_bytes());
        assert_eq!(
            PublicKey::from_pem(pkcs1.as_bytes(), None).unwrap_err(),
            too_small()
        );
        // securesystemslib key objects, SPKI and PKCS#1 inside.
        for public in [RSA1024_PUBLIC, pkcs1.as_str()] {
            let object = serde_json::json!({
                "keytype": "rsa", "scheme": "rsassa-pss-sha256", "keyval": {"public": public}
            });
            assert_eq!(
                PublicKey::from_securesystemslib(KeyId("k".into()), &object).unwrap_err(),
                too_small()
            );
        }
        // Private keys: PKCS#8, PKCS#1, and PKCS#8 encrypted.
        for pem in [RSA1024_PRIVATE, RSA1024_PRIVATE_PKCS1] {
            assert_eq!(
                PrivateKey::from_pem(pem.as_bytes(), None).unwrap_err(),
                too_small()
            );
        }
        let block = pem_decode(RSA1024_PRIVATE.as_bytes()).unwrap();
        let encrypted = pem_encode(
            "ENCRYPTED PRIVATE KEY",
            &pbe::encrypt(&block.der, b"pw").unwrap(),
        );
        assert_eq!(
            PrivateKey::from_pem(encrypted.as_bytes(), Some(b"pw")).unwrap_err(),
            too_small()
        );
    }

    #[test]
    fn every_fixture_key_still_loads() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata");
        let mut stack = vec![dir];
        let mut loaded = 0;
        while let Some(d) = stack.pop() {
            for entry in std::fs::read_dir(&d).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                let bytes = std::fs::read(&path).unwrap();
                let text = String::from_utf8_lossy(&bytes);
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                if !text.starts_with("-----BEGIN") || name.starts_with("rsa1024") {
                    continue;
                }
                let public = PublicKey::from_pem(&bytes, None);
                let private = PrivateKey::from_pem(&bytes, Some(b"hunter2"))
                    .or_else(|_| PrivateKey::from_pem(&bytes, None));
                assert!(
                    public.is_ok() || private.is_ok(),
                    "{}: {public:?} / {private:?}",
                    path.display()
                );
                loaded += 1;
            }
        }
        assert!(loaded >= 20, "only {loaded} PEM fixtures found");
    }

    fn encrypted_pem(scheme: pkcs8::pkcs5::EncryptionScheme<'_>) -> String {
        let info = pkcs8::EncryptedPrivateKeyInfo {
            encryption_algorithm: scheme,
            encrypted_data: &[0u8; 32],
        };
        pem_encode("ENCRYPTED PRIVATE KEY", &info.to_der().unwrap())
    }

    #[test]
    fn refuses_pbkdf2_iteration_count_above_the_cap() {
        use pkcs8::pkcs5::{pbes2, EncryptionScheme};
        let params =
            pbes2::Parameters::pbkdf2_sha256_aes256cbc(10_000_001, &[7; 16], &[9; 16]).unwrap();
        let pem = encrypted_pem(EncryptionScheme::Pbes2(params));
        assert_eq!(
            PrivateKey::from_pem(pem.as_bytes(), Some(b"pw")).unwrap_err(),
            KeyError::KdfIterations {
                kdf: "PBKDF2",
                count: 10_000_001,
                max: 10_000_000
            }
        );
    }

    #[test]
    fn refuses_scrypt_parameters_above_one_gib() {
        use pkcs8::pkcs5::{pbes2, EncryptionScheme};
        // N = 2^20 and r = 1024: 128 GiB, which the old check (N ≤ 2^20, r·p ≤ 1024) let
        // through to the allocator.
        let params = pbes2::Parameters {
            kdf: pbes2::Kdf::Scrypt(pbes2::ScryptParams {
                salt: &[7; 16],
                cost_parameter: 1 << 20,
                block_size: 1024,
                parallelization: 1,
                key_length: None,
            }),
            encryption: pbes2::EncryptionScheme::Aes256Cbc { iv: &[9; 16] },
        };
        let pem = encrypted_pem(EncryptionScheme::Pbes2(params));
        assert_eq!(
            PrivateKey::from_pem(pem.as_bytes(), Some(b"pw")).unwrap_err(),
            KeyError::ScryptTooCostly {
                cost: 1 << 20,
                block_size: 1024,
                parallelization: 1
            }
        );
    }

    #[test]
    fn pbes1_iteration_count_is_bounded_by_decoding() {
        // pbeWithMD5AndDES-CBC with iteration count 10,000,001: the decoder reads the count as
        // a u16, so the file is refused before any MD5 is computed.
        let mut der_bytes = vec![0x30, 0x29, 0x30, 0x1d];
        der_bytes.extend_from_slice(&[
            0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x05, 0x03,
        ]);
        der_bytes.extend_from_slice(&[0x30, 0x10, 0x04, 0x08, 1, 2, 3, 4, 5, 6, 7, 8]);
        der_bytes.extend_from_slice(&[0x02, 0x04, 0x00, 0x98, 0x96, 0x81]);
        der_bytes.extend_from_slice(&[0x04, 0x08, 0, 0, 0, 0, 0, 0, 0, 0]);
        let pem = pem_encode("ENCRYPTED PRIVATE KEY", &der_bytes);
        let err = PrivateKey::from_pem(pem.as_bytes(), Some(b"pw")).unwrap_err();
        assert!(
            matches!(&err, KeyError::Malformed(m) if m.starts_with("not an encrypted PKCS#8 key")),
            "{err:?}"
        );
    }

    #[test]
    fn keyid_short_is_eight_chars() {
        assert_eq!(KeyId("2f89b9272acfc8f4".into()).short(), "2f89b927");
        assert_eq!(KeyId("ab".into()).short(), "ab");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        #[test]
        fn private_key_from_pem_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..600)) {
            let _ = PrivateKey::from_pem(&bytes, None);
            let _ = PrivateKey::from_pem(&bytes, Some(b"pw"));
        }

        #[test]
        fn public_key_from_pem_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..600)) {
            let _ = PublicKey::from_pem(&bytes, None);
        }

        #[test]
        fn pem_framed_garbage_never_panics(
            label in proptest::sample::select(vec!["PUBLIC KEY", "RSA PUBLIC KEY", "PRIVATE KEY",
                "ENCRYPTED PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY"]),
            der in proptest::collection::vec(proptest::num::u8::ANY, 0..400),
        ) {
            let pem = pem_encode(label, &der);
            let _ = PublicKey::from_pem(pem.as_bytes(), None);
            let _ = PrivateKey::from_pem(pem.as_bytes(), Some(b"pw"));
        }

        #[test]
        fn mutated_real_keys_never_panic(index in 0usize..2000, bit in 0u8..8, which in 0usize..4) {
            let files = [
                include_bytes!("../../../testdata/in-toto-python/pems/rsa_private_encrypted.pem").as_slice(),
                include_bytes!("../../../testdata/in-toto-python/pems/ed25519_private_encrypted.pem").as_slice(),
                include_bytes!("../../../testdata/in-toto-python/pems/ecdsa_private_unencrypted.pem").as_slice(),
                RSA_PUBLIC.as_bytes(),
            ];
            // Flip a bit inside the DER, so that the ASN.1 parsers see near-valid input.
            let block = pem_decode(files[which]).unwrap();
            let mut der = block.der.to_vec();
            let i = index % der.len();
            der[i] ^= 1 << bit;
            let pem = pem_encode(&block.label, &der);
            let _ = PrivateKey::from_pem(pem.as_bytes(), Some(b"hunter2"));
            let _ = PublicKey::from_pem(pem.as_bytes(), None);
        }

        #[test]
        fn from_securesystemslib_never_panics(json in arbitrary_json()) {
            let _ = PublicKey::from_securesystemslib(KeyId("k".into()), &json);
        }

        #[test]
        fn verify_never_panics_on_arbitrary_signatures(sig in proptest::collection::vec(proptest::num::u8::ANY, 0..600)) {
            let key = PublicKey::from_pem(RSA_PUBLIC.as_bytes(), None).unwrap();
            proptest::prop_assert!(key.verify(b"m", &sig).is_err());
        }
    }

    /// Arbitrary JSON, biased towards key-object shapes.
    fn arbitrary_json() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            prop::sample::select(vec![
                "ed25519",
                "ecdsa",
                "rsa",
                "ecdsa-sha2-nistp256",
                "rsassa-pss-sha256",
                "ecdsa-sha2-nistp384",
                "ecdsa-sha2-nistp521",
                "rsa-pkcs1v15-sha256",
                RSA_PUBLIC,
                "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
                "0000000000000000000000000000000000000000000000000000000000000000"
            ])
            .prop_map(|s| Value::String(s.into())),
            "\\PC{0,20}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map(
                    prop::sample::select(vec![
                        "keytype", "scheme", "keyval", "public", "private", "keyid", "method", "x"
                    ]),
                    inner,
                    0..5
                )
                .prop_map(|m| Value::Object(
                    m.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
                )),
            ]
        })
    }
}
