//! C2SP signed notes (<https://c2sp.org/signed-note>) with Ed25519 keys, and the transparency
//! log checkpoints they carry (<https://c2sp.org/tlog-checkpoint>).
//!
//! A note is UTF-8 text ending in a newline, a blank line, then signature lines
//! `— <name> <base64(key hash || signature)>`. The Ed25519 key hash is the first 4 bytes of
//! SHA-256(name || 0x0A || 0x01 || public key); verifier keys are written
//! `<name>+<hex key hash>+<base64(0x01 || public key)>`. A checkpoint's text is the origin,
//! the tree size in decimal and the base64 tree head, one per line, then extension lines.

use std::fmt::Write as _;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;

use crate::merkle::{Hash, HASH_LEN};
use sbomit_crypto::{sha256_parts, KeyError, PrivateKey, PublicKey, Scheme};

/// The signature type byte of Ed25519 in key hashes and verifier keys.
const ALG_ED25519: u8 = 0x01;

/// The separator of a signature line: an em dash and a space.
const SIG_PREFIX: &str = "\u{2014} ";

/// Notes with more signatures are refused before any verification work, as Go's does.
const MAX_SIGNATURES: usize = 100;

/// Why a note or checkpoint could not be made, read or verified.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NoteError {
    #[error("malformed note: {0}")]
    Malformed(&'static str),
    #[error("invalid key name {0:?}: it must be non-empty, without spaces or '+'")]
    BadName(String),
    #[error("malformed verifier key: {0}")]
    BadVerifierKey(&'static str),
    #[error("signed notes here use Ed25519 keys, not {0}")]
    UnsupportedKey(Scheme),
    #[error("the signature of {name} does not verify")]
    BadSignature { name: String },
    #[error("no signature by a known key")]
    NoKnownSignature,
    #[error("more than {MAX_SIGNATURES} signatures")]
    TooManySignatures,
    #[error("malformed checkpoint: {0}")]
    Checkpoint(&'static str),
    #[error(transparent)]
    Key(#[from] KeyError),
}

fn check_name(name: &str) -> Result<(), NoteError> {
    if name.is_empty() || name.contains('+') || name.chars().any(char::is_whitespace) {
        return Err(NoteError::BadName(name.to_string()));
    }
    Ok(())
}

fn ed25519_raw(key: &PublicKey) -> Result<[u8; 32], NoteError> {
    if key.scheme() != Scheme::Ed25519 {
        return Err(NoteError::UnsupportedKey(key.scheme()));
    }
    key.raw_public_key()
        .and_then(|raw| raw.try_into().ok())
        .ok_or(NoteError::UnsupportedKey(key.scheme()))
}

/// The key hash of an Ed25519 key under `name`.
pub fn key_hash(name: &str, raw_public_key: &[u8; 32]) -> u32 {
    let digest = sha256_parts(&[name.as_bytes(), b"\n", &[ALG_ED25519], raw_public_key]);
    u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
}

/// A trusted note signer's public key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    key_hash: u32,
    key: PublicKey,
}

impl NoteVerifier {
    pub fn new(name: &str, key: PublicKey) -> Result<Self, NoteError> {
        check_name(name)?;
        let raw = ed25519_raw(&key)?;
        Ok(NoteVerifier {
            name: name.to_string(),
            key_hash: key_hash(name, &raw),
            key,
        })
    }

    /// Reads a verifier key `<name>+<hash>+<base64(0x01 || key)>`.
    pub fn parse(vkey: &str) -> Result<Self, NoteError> {
        // The base64 part may itself contain '+': split off the first two fields only.
        let mut parts = vkey.splitn(3, '+');
        let (Some(name), Some(hash), Some(material)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(NoteError::BadVerifierKey("expected name+hash+key"));
        };
        check_name(name)?;
        if hash.len() != 8 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(NoteError::BadVerifierKey(
                "the key hash is not 8 hex digits",
            ));
        }
        let hash = u32::from_str_radix(hash, 16)
            .map_err(|_| NoteError::BadVerifierKey("the key hash is not 8 hex digits"))?;
        let material = B64
            .decode(material)
            .map_err(|_| NoteError::BadVerifierKey("the key is not base64"))?;
        let [ALG_ED25519, raw @ ..] = material.as_slice() else {
            return Err(NoteError::BadVerifierKey("not an Ed25519 key (type 0x01)"));
        };
        let raw: [u8; 32] = raw
            .try_into()
            .map_err(|_| NoteError::BadVerifierKey("an Ed25519 key is 32 bytes"))?;
        let verifier = NoteVerifier::new(name, PublicKey::from_raw(Scheme::Ed25519, &raw)?)?;
        if verifier.key_hash != hash {
            return Err(NoteError::BadVerifierKey(
                "the key hash does not match the key",
            ));
        }
        Ok(verifier)
    }

    /// The verifier key string.
    pub fn to_vkey(&self) -> String {
        let mut material = vec![ALG_ED25519];
        material.extend_from_slice(self.key.raw_public_key().unwrap_or_default());
        format!(
            "{}+{:08x}+{}",
            self.name,
            self.key_hash,
            B64.encode(material)
        )
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn key_hash(&self) -> u32 {
        self.key_hash
    }

    pub fn public_key(&self) -> &PublicKey {
        &self.key
    }
}

/// One signature line of a note.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteSignature {
    pub name: String,
    pub key_hash: u32,
    pub signature: Vec<u8>,
}

fn check_text(text: &str) -> Result<(), NoteError> {
    if !text.ends_with('\n') {
        return Err(NoteError::Malformed("the text does not end in a newline"));
    }
    if text.chars().any(|c| c.is_control() && c != '\n') {
        return Err(NoteError::Malformed("control characters in the text"));
    }
    Ok(())
}

/// The signature line `key` makes over `text` under `name`.
pub fn signature_line(text: &str, name: &str, key: &PrivateKey) -> Result<String, NoteError> {
    check_name(name)?;
    check_text(text)?;
    let raw = ed25519_raw(key.public_key())?;
    let mut blob = key_hash(name, &raw).to_be_bytes().to_vec();
    blob.extend_from_slice(&key.sign(text.as_bytes())?);
    Ok(format!("{SIG_PREFIX}{name} {}\n", B64.encode(blob)))
}

/// Signs `text` into a note with one signature.
pub fn sign_note(text: &str, name: &str, key: &PrivateKey) -> Result<String, NoteError> {
    let line = signature_line(text, name, key)?;
    Ok(format!("{text}\n{line}"))
}

/// A note whose signatures were checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenedNote {
    pub text: String,
    /// Signatures by the verifiers given, all valid.
    pub verified: Vec<NoteSignature>,
    /// Signatures by keys not given, not checked.
    pub unverified: Vec<NoteSignature>,
}

/// Splits a note, checks every signature by a known key (a bad one is an error, as in Go's
/// `note.Open`) and requires at least one.
pub fn open_note(note: &str, verifiers: &[NoteVerifier]) -> Result<OpenedNote, NoteError> {
    let split = note
        .rfind("\n\n")
        .ok_or(NoteError::Malformed("no blank line before the signatures"))?;
    let (text, sigs) = (&note[..=split], &note[split + 2..]);
    check_text(text)?;
    if !sigs.ends_with('\n') {
        return Err(NoteError::Malformed(
            "the signatures do not end in a newline",
        ));
    }
    let lines: Vec<&str> = sigs[..sigs.len() - 1].split('\n').collect();
    if lines.len() > MAX_SIGNATURES {
        return Err(NoteError::TooManySignatures);
    }
    let mut opened = OpenedNote {
        text: text.to_string(),
        verified: Vec::new(),
        unverified: Vec::new(),
    };
    for line in lines {
        let rest = line.strip_prefix(SIG_PREFIX).ok_or(NoteError::Malformed(
            "a signature line does not start with '— '",
        ))?;
        let (name, b64) = rest
            .split_once(' ')
            .ok_or(NoteError::Malformed("a signature line has no signature"))?;
        check_name(name)?;
        let blob = B64
            .decode(b64)
            .map_err(|_| NoteError::Malformed("a signature is not base64"))?;
        if blob.len() < 5 {
            return Err(NoteError::Malformed("a signature is too short"));
        }
        let sig = NoteSignature {
            name: name.to_string(),
            key_hash: u32::from_be_bytes([blob[0], blob[1], blob[2], blob[3]]),
            signature: blob[4..].to_vec(),
        };
        match verifiers
            .iter()
            .find(|v| v.name == sig.name && v.key_hash == sig.key_hash)
        {
            Some(v) => {
                v.key.verify(text.as_bytes(), &sig.signature).map_err(|_| {
                    NoteError::BadSignature {
                        name: sig.name.clone(),
                    }
                })?;
                opened.verified.push(sig);
            }
            None => opened.unverified.push(sig),
        }
    }
    if opened.verified.is_empty() {
        return Err(NoteError::NoKnownSignature);
    }
    Ok(opened)
}

/// A transparency log checkpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's unique identity, conventionally a schema-less URL.
    pub origin: String,
    pub size: u64,
    pub root: Hash,
    /// Optional extension lines, each non-empty.
    pub extensions: Vec<String>,
}

impl Checkpoint {
    /// The note text.
    pub fn to_text(&self) -> Result<String, NoteError> {
        let bad_line = |s: &str| s.is_empty() || s.contains('\n');
        if bad_line(&self.origin) || self.extensions.iter().any(|e| bad_line(e)) {
            return Err(NoteError::Checkpoint(
                "origin and extension lines must be single non-empty lines",
            ));
        }
        let mut text = String::new();
        let _ = writeln!(text, "{}", self.origin);
        let _ = writeln!(text, "{}", self.size);
        let _ = writeln!(text, "{}", B64.encode(self.root));
        for e in &self.extensions {
            let _ = writeln!(text, "{e}");
        }
        check_text(&text)?;
        Ok(text)
    }

    /// Reads a checkpoint's note text (as [`open_note`] returns it).
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        let body = text
            .strip_suffix('\n')
            .ok_or(NoteError::Checkpoint("the text does not end in a newline"))?;
        // What `to_text` and signing refuse is refused here too, so a checkpoint read is one
        // that can be written and signed (fuzzing found a tab and NULs in an extension line).
        check_text(text)?;
        let mut lines = body.split('\n');
        let origin = lines
            .next()
            .filter(|o| !o.is_empty())
            .ok_or(NoteError::Checkpoint("no origin line"))?;
        let size = lines
            .next()
            .ok_or(NoteError::Checkpoint("no tree size line"))?;
        // ASCII decimal without sign or leading zeros: one text per size.
        if size.is_empty()
            || !size.bytes().all(|b| b.is_ascii_digit())
            || (size.len() > 1 && size.starts_with('0'))
        {
            return Err(NoteError::Checkpoint(
                "the tree size is not a decimal number",
            ));
        }
        let size: u64 = size
            .parse()
            .map_err(|_| NoteError::Checkpoint("the tree size is out of range"))?;
        let root = lines
            .next()
            .ok_or(NoteError::Checkpoint("no root hash line"))?;
        let root: Hash = B64
            .decode(root)
            .ok()
            .and_then(|r| <[u8; HASH_LEN]>::try_from(r).ok())
            .ok_or(NoteError::Checkpoint(
                "the root hash is not 32 bytes of base64",
            ))?;
        let extensions: Vec<String> = lines.map(str::to_string).collect();
        if extensions.iter().any(String::is_empty) {
            return Err(NoteError::Checkpoint("an extension line is empty"));
        }
        Ok(Checkpoint {
            origin: origin.to_string(),
            size,
            root,
            extensions,
        })
    }

    /// Signs the checkpoint into a note.
    pub fn sign(&self, name: &str, key: &PrivateKey) -> Result<String, NoteError> {
        sign_note(&self.to_text()?, name, key)
    }

    /// Opens a signed checkpoint with the trusted verifiers; the origin must be `origin`
    /// when given.
    pub fn open(
        note: &str,
        verifiers: &[NoteVerifier],
        origin: Option<&str>,
    ) -> Result<(Self, OpenedNote), NoteError> {
        let opened = open_note(note, verifiers)?;
        let checkpoint = Checkpoint::parse(&opened.text)?;
        if origin.is_some_and(|o| o != checkpoint.origin) {
            return Err(NoteError::Checkpoint("unexpected origin"));
        }
        Ok((checkpoint, opened))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use sbomit_crypto::KeyKind;

    // golang.org/x/mod/sumdb/note: the PeterNeumann example of the package documentation.
    const VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    const SKEY: &str =
        "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    const TEXT: &str = "If you think cryptography is the answer to your problem,\n\
                        then you don't know what your problem is.\n";
    const NOTE_SIG: &str = "\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

    /// The Go signer key's seed as an Ed25519 PKCS#8 key.
    fn go_signer() -> PrivateKey {
        let material = B64
            .decode(SKEY.splitn(5, '+').nth(4).expect("key"))
            .expect("b64");
        let mut der = hex::decode("302e020100300506032b657004220420").expect("hex");
        der.extend_from_slice(&material[1..]);
        let pem = format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            B64.encode(der)
        );
        PrivateKey::from_pem(pem.as_bytes(), None).expect("key")
    }

    #[test]
    fn reproduces_the_go_note_vector() {
        let key = go_signer();
        let verifier = NoteVerifier::new("PeterNeumann", key.public_key().clone()).expect("v");
        assert_eq!(verifier.to_vkey(), VKEY);
        assert_eq!(NoteVerifier::parse(VKEY).expect("parse"), verifier);
        let note = sign_note(TEXT, "PeterNeumann", &key).expect("sign");
        assert_eq!(note, format!("{TEXT}\n{NOTE_SIG}"));
        let opened = open_note(&note, std::slice::from_ref(&verifier)).expect("open");
        assert_eq!(opened.text, TEXT);
        assert_eq!(opened.verified.len(), 1);
        let tampered = note.replace("cryptography", "cryptographY");
        assert_eq!(
            open_note(&tampered, &[verifier]),
            Err(NoteError::BadSignature {
                name: "PeterNeumann".into()
            })
        );
    }

    #[test]
    fn rejects_mangled_verifier_keys() {
        assert!(NoteVerifier::parse(
            "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
        )
        .is_err());
        assert!(NoteVerifier::parse("PeterNeumann+c74f20a3").is_err());
        assert!(NoteVerifier::parse(
            "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
        )
        .is_err());
        assert!(NoteVerifier::parse(
            "PeterNeumann+c74f20a3+Apc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
        )
        .is_err());
    }

    #[test]
    fn checkpoints_round_trip_and_need_a_known_signature() {
        let key = PrivateKey::generate(KeyKind::Ed25519).expect("key");
        let cp = Checkpoint {
            origin: "store.example/log".into(),
            size: 7,
            root: crate::merkle::empty_root(),
            extensions: vec!["ext line".into()],
        };
        let note = cp.sign("store.example/log", &key).expect("sign");
        assert!(note.starts_with(
            "store.example/log\n7\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\next line\n\n\u{2014} store.example/log "
        ));
        let verifier = NoteVerifier::new("store.example/log", key.public_key().clone()).expect("v");
        let (back, _) = Checkpoint::open(
            &note,
            std::slice::from_ref(&verifier),
            Some("store.example/log"),
        )
        .expect("open");
        assert_eq!(back, cp);
        assert_eq!(
            Checkpoint::open(&note, &[verifier], Some("other")),
            Err(NoteError::Checkpoint("unexpected origin"))
        );
        let stranger = PrivateKey::generate(KeyKind::Ed25519).expect("key");
        let other = NoteVerifier::new("someone", stranger.public_key().clone()).expect("v");
        assert_eq!(open_note(&note, &[other]), Err(NoteError::NoKnownSignature));
        let ec = PrivateKey::generate(KeyKind::EcdsaP256).expect("key");
        assert_eq!(
            cp.sign("x", &ec),
            Err(NoteError::UnsupportedKey(Scheme::EcdsaSha2Nistp256))
        );
    }

    #[test]
    fn rejects_malformed_checkpoints() {
        let root = B64.encode([0u8; 32]);
        for bad in [
            format!("o\n07\n{root}\n"),
            format!("o\n-1\n{root}\n"),
            format!("\n1\n{root}\n"),
            "o\n1\nAAAA\n".to_string(),
            format!("o\n1\n{root}"),
            format!("o\n1\n{root}\n\n"),
        ] {
            assert!(Checkpoint::parse(&bad).is_err(), "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn note_parsers_never_panic(s in "\\PC*(\n\n\u{2014} [a-z]+ [A-Za-z0-9+/=]*\n)?") {
            let key = PrivateKey::generate(KeyKind::Ed25519).expect("key");
            let v = NoteVerifier::new("a", key.public_key().clone()).expect("v");
            let _ = open_note(&s, &[v]);
            let _ = Checkpoint::parse(&s);
            let _ = NoteVerifier::parse(&s);
        }
    }
}
