//! Digests and artifact paths: the newtypes that keep hashes and names from being mixed up.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// A SHA-256 digest.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sha256([u8; 32]);

impl Sha256 {
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// Hashes `data` in one call.
    pub fn digest(data: &[u8]) -> Self {
        let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data);
        let mut out = [0u8; 32];
        out.copy_from_slice(d.as_ref());
        Self(out)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses 64 hex digits (either case).
    pub fn from_hex(s: &str) -> Option<Self> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).ok()?;
        Some(Self(out))
    }
}

impl fmt::Debug for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.to_hex())
    }
}

impl fmt::Display for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// An in-toto digest set: algorithm name → lowercase hex, as in link `materials`/`products`
/// and Statement subjects. Kept as strings so algorithms we do not compute (sha512, gitoid,
/// dirHash) survive a round trip and compare exactly as the reference compares them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DigestSet(pub BTreeMap<String, String>);

impl DigestSet {
    pub fn sha256(d: Sha256) -> Self {
        let mut m = BTreeMap::new();
        m.insert("sha256".to_owned(), d.to_hex());
        Self(m)
    }

    pub fn get(&self, algorithm: &str) -> Option<&str> {
        self.0.get(algorithm).map(String::as_str)
    }
}

/// A path as recorded in a link's `materials` or `products` (always `/`-separated, relative
/// unless the user recorded absolute paths). It is a name, not a filesystem path: turning it
/// into one is the job of `sbomit-fs`, which checks it stays inside the intended directory.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ArtifactPath(pub String);

impl ArtifactPath {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ArtifactPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for ArtifactPath {
    fn from(s: &str) -> Self {
        Self(s.to_owned())
    }
}

/// A link's materials or products.
pub type Artifacts = BTreeMap<ArtifactPath, DigestSet>;
