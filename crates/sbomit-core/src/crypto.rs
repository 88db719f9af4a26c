//! Keys and signatures: one provider (aws-lc-rs) behind this module; nothing else in the
//! workspace names the crypto library.
//!
//! Reads PKCS#8 (plain and encrypted), SPKI, PKCS#1 RSA PEM and securesystemslib key objects;
//! writes PKCS#8 / SPKI PEM. Schemes: `ed25519`, `ecdsa-sha2-nistp256`, `ecdsa-sha2-nistp384`
//! (DER signatures), `rsassa-pss-sha256` (sign with digest-length salt, verify any salt length).

use std::fmt;

use serde::{Deserialize, Serialize};

/// A key id. Opaque when read from metadata: peers compute them in two different ways, so a
/// key id is never recomputed to match. New keys get securesystemslib ≥ 1.0 ids.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct KeyId(pub String);

impl KeyId {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first eight characters, as used in link file names (`<step>.<keyid8>.link`).
    pub fn short(&self) -> &str {
        let end = self.0.char_indices().nth(8).map_or(self.0.len(), |(i, _)| i);
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

/// A public key that can verify signatures.
#[derive(Clone)]
pub struct PublicKey {
    keyid: KeyId,
    scheme: Scheme,
    _private: (),
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicKey").field("keyid", &self.keyid).field("scheme", &self.scheme).finish()
    }
}

impl PublicKey {
    /// Reads a securesystemslib key object (`{keytype, scheme, keyval: {public}}`, other fields
    /// ignored). `keyid` is the id under which the metadata lists it: kept as given.
    pub fn from_securesystemslib(keyid: KeyId, object: &serde_json::Value) -> Result<Self, KeyError> {
        let _ = (keyid, object);
        todo!("crypto helper")
    }

    /// Reads a PEM public key (SPKI, or PKCS#1 `RSA PUBLIC KEY`). `scheme` picks the scheme where
    /// the key type allows several (RSA: only `rsassa-pss-sha256`); `None` takes the default.
    /// The key id is computed as securesystemslib ≥ 1.0 computes it.
    pub fn from_pem(pem: &[u8], scheme: Option<Scheme>) -> Result<Self, KeyError> {
        let _ = (pem, scheme);
        todo!("crypto helper")
    }

    pub fn keyid(&self) -> &KeyId {
        &self.keyid
    }

    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The securesystemslib key object `{keytype, scheme, keyval: {public}}` (no keyid field),
    /// as in-toto 3.x writes it into layouts.
    pub fn to_securesystemslib(&self) -> serde_json::Value {
        todo!("crypto helper")
    }

    /// SPKI PEM.
    pub fn to_pem(&self) -> String {
        todo!("crypto helper")
    }

    /// Verifies `signature` (raw bytes, already decoded from hex/base64) over `message`.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), SignatureError> {
        let _ = (message, signature);
        todo!("crypto helper")
    }
}

/// A private key that can sign.
pub struct PrivateKey {
    _private: (),
}

impl PrivateKey {
    /// Generates a new key.
    pub fn generate(kind: KeyKind) -> Result<Self, KeyError> {
        let _ = kind;
        todo!("crypto helper")
    }

    /// Reads a PEM private key: PKCS#8 (plain or `ENCRYPTED PRIVATE KEY`, PBES2 and the PBES1
    /// schemes the reference's fixtures use), PKCS#1 `RSA PRIVATE KEY`, SEC1 `EC PRIVATE KEY`.
    pub fn from_pem(pem: &[u8], password: Option<&[u8]>) -> Result<Self, KeyError> {
        let _ = (pem, password);
        todo!("crypto helper")
    }

    /// PKCS#8 PEM, encrypted (PBES2, scrypt or PBKDF2-SHA256, AES-256-CBC) when a password is given.
    pub fn to_pkcs8_pem(&self, password: Option<&[u8]>) -> Result<String, KeyError> {
        let _ = password;
        todo!("crypto helper")
    }

    pub fn public_key(&self) -> &PublicKey {
        todo!("crypto helper")
    }

    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        let _ = message;
        todo!("crypto helper")
    }
}
