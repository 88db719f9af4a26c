//! RFC 9942 COSE Receipts over RFC 9162 SHA-256 trees (`vds = 1`).
//!
//! A receipt is a COSE_Sign1 by the transparency service: protected header `{alg, kid,
//! vds: 1, CWT claims {iss, sub?, iat?}}`, unprotected header `{vdp (396): {-1: [bstr .cbor
//! [tree_size, leaf_index, [hash...]]]}}`, and a detached payload, the tree head. The leaf is
//! the registered statement re-encoded as a tagged COSE_Sign1 with an empty unprotected
//! header, hashed as an RFC 9162 leaf; scitt_peer.py (pycose) and scitt-cose build it the
//! same way.
//!
//! The COSE_Sign1 is [`crate::cose::CoseSign1`] (on `coset`); `vds`, `vdp` and the proof
//! array are RFC 9942's and have no type in coset, so they are read and written as CBOR values
//! here, with the same strict decoding.
//!
//! The service derives the inclusion proof from its stored hashes ([`sbomit_tlog::merkle`]); this
//! module only wraps and signs it, and verifies receipts offline.

use ciborium::value::Value;

use crate::cose::{self, label, CoseError, CoseKey, CoseSign1, CwtClaims, HeaderMap};
use sbomit_crypto::{PrivateKey, PublicKey};
use sbomit_tlog::merkle::{self, Hash, VerifyError, HASH_LEN, MAX_TREE_SIZE};

/// `vds` of RFC 9162 SHA-256 trees.
pub const VDS_RFC9162_SHA256: i64 = 1;

/// `vdp` map key of the inclusion proofs.
pub const VDP_INCLUSION_PROOFS: i64 = -1;

/// A receipt carries one proof per leaf; more is padding to refuse before doing any work.
const MAX_INCLUSION_PROOFS: usize = 16;

/// Why a receipt could not be built or did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReceiptError {
    #[error("the statement: {0}")]
    Statement(CoseError),
    #[error("the receipt: {0}")]
    Receipt(CoseError),
    #[error("the receipt's verifiable data structure is {0}, not 1 (RFC9162_SHA256)")]
    UnsupportedVds(String),
    #[error("the receipt carries its payload; a receipt's payload is detached")]
    AttachedPayload,
    #[error("the receipt has no inclusion proof (vdp key -1)")]
    NoInclusionProof,
    #[error("the receipt has {0} inclusion proofs (at most {MAX_INCLUSION_PROOFS})")]
    TooManyProofs(usize),
    #[error("malformed inclusion proof: {0}")]
    MalformedProof(&'static str),
    #[error("the inclusion proof does not hold: {0}")]
    Proof(#[from] VerifyError),
    #[error("no service key has the receipt's kid {}", hex::encode(.0))]
    UnknownKid(Vec<u8>),
    #[error("no service key verifies the receipt")]
    NoKeyVerifies,
}

/// An RFC 9162 inclusion proof as a receipt carries it: `[tree_size, leaf_index, [hashes]]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InclusionProof {
    pub tree_size: u64,
    pub leaf_index: u64,
    pub path: Vec<Hash>,
}

impl InclusionProof {
    pub fn encode(&self) -> Result<Vec<u8>, CoseError> {
        cose::to_cbor(&Value::Array(vec![
            Value::from(self.tree_size),
            Value::from(self.leaf_index),
            Value::Array(self.path.iter().map(|h| Value::Bytes(h.to_vec())).collect()),
        ]))
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, ReceiptError> {
        let value =
            cose::decode_strict(bytes, "the inclusion proof").map_err(ReceiptError::Receipt)?;
        let shape = ReceiptError::MalformedProof("expected [tree_size, leaf_index, [hashes]]");
        let Value::Array(items) = value else {
            return Err(shape);
        };
        let Ok::<[Value; 3], _>([size, index, path]) = items.try_into() else {
            return Err(shape);
        };
        let uint = |v: &Value| match v {
            Value::Integer(i) => u64::try_from(*i).ok(),
            _ => None,
        };
        let tree_size = uint(&size).ok_or(ReceiptError::MalformedProof(
            "tree_size is not an unsigned integer",
        ))?;
        let leaf_index = uint(&index).ok_or(ReceiptError::MalformedProof(
            "leaf_index is not an unsigned integer",
        ))?;
        let Value::Array(path) = path else {
            return Err(ReceiptError::MalformedProof("the path is not an array"));
        };
        if tree_size > MAX_TREE_SIZE || path.len() > 64 {
            return Err(ReceiptError::MalformedProof("the tree is too large"));
        }
        let path = path
            .into_iter()
            .map(|v| match v {
                Value::Bytes(b) if b.len() == HASH_LEN => {
                    let mut h = [0u8; HASH_LEN];
                    h.copy_from_slice(&b);
                    Ok(h)
                }
                _ => Err(ReceiptError::MalformedProof(
                    "a path element is not a 32-byte string",
                )),
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(InclusionProof {
            tree_size,
            leaf_index,
            path,
        })
    }

    /// The tree head this proof leads to from `leaf_hash`.
    pub fn root(&self, leaf_hash: &Hash) -> Result<Hash, VerifyError> {
        merkle::root_from_inclusion_proof(self.leaf_index, self.tree_size, leaf_hash, &self.path)
    }
}

/// The leaf entry of a statement: the tagged COSE_Sign1 with an empty unprotected header.
pub fn leaf_entry(statement: &[u8]) -> Result<Vec<u8>, ReceiptError> {
    CoseSign1::decode(statement)
        .and_then(|m| m.encode_without_unprotected())
        .map_err(ReceiptError::Statement)
}

/// The RFC 9162 leaf hash of a statement.
pub fn statement_leaf_hash(statement: &[u8]) -> Result<Hash, ReceiptError> {
    Ok(merkle::leaf_hash(&leaf_entry(statement)?))
}

/// Who signs a receipt, and the claims it makes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceiptHeader {
    /// The service key's id, as published in `/.well-known/scitt-keys`.
    pub kid: Vec<u8>,
    /// The service's identifier.
    pub iss: String,
    pub sub: Option<String>,
    /// Issued-at, seconds since the epoch (the caller's clock).
    pub iat: Option<i64>,
}

/// Builds a receipt for `statement` at `proof` in the tree with head `root`. The proof is
/// checked against the statement and the root first, so a service never signs a receipt that
/// does not verify.
pub fn build_receipt(
    statement: &[u8],
    proof: &InclusionProof,
    root: &Hash,
    header: &ReceiptHeader,
    key: &PrivateKey,
) -> Result<Vec<u8>, ReceiptError> {
    build_receipt_for_leaf(&statement_leaf_hash(statement)?, proof, root, header, key)
}

/// [`build_receipt`] for an entry given by its leaf hash: the log also holds entries that are
/// not COSE statements (DSSE envelopes), whose leaf is the envelope as received.
pub fn build_receipt_for_leaf(
    leaf: &Hash,
    proof: &InclusionProof,
    root: &Hash,
    header: &ReceiptHeader,
    key: &PrivateKey,
) -> Result<Vec<u8>, ReceiptError> {
    merkle::verify_inclusion(proof.leaf_index, proof.tree_size, leaf, &proof.path, root)?;
    let mut protected = HeaderMap::new();
    protected.insert(label::KID, Value::Bytes(header.kid.clone()));
    protected.insert(label::VDS, Value::from(VDS_RFC9162_SHA256));
    CwtClaims {
        iss: Some(header.iss.clone()),
        sub: header.sub.clone(),
        iat: header.iat,
    }
    .insert_into(&mut protected);
    let proof_bytes = proof.encode().map_err(ReceiptError::Receipt)?;
    let mut unprotected = HeaderMap::new();
    unprotected.insert(
        label::VDP,
        Value::Map(vec![(
            Value::from(VDP_INCLUSION_PROOFS),
            Value::Array(vec![Value::Bytes(proof_bytes)]),
        )]),
    );
    CoseSign1::sign(protected, unprotected, root, true, key)
        .and_then(|m| m.encode())
        .map_err(ReceiptError::Receipt)
}

/// What a verified receipt says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedReceipt {
    pub tree_size: u64,
    pub leaf_index: u64,
    pub root: Hash,
    pub kid: Option<Vec<u8>>,
    pub iss: Option<String>,
    pub sub: Option<String>,
    pub iat: Option<i64>,
}

/// A decoded receipt before its signature is checked.
struct ParsedReceipt {
    message: CoseSign1,
    proofs: Vec<InclusionProof>,
}

fn parse_receipt(receipt: &[u8]) -> Result<ParsedReceipt, ReceiptError> {
    let message = CoseSign1::decode(receipt).map_err(ReceiptError::Receipt)?;
    match message.protected().get_int(label::VDS) {
        Some(Value::Integer(i)) if i64::try_from(*i).ok() == Some(VDS_RFC9162_SHA256) => {}
        Some(v) => return Err(ReceiptError::UnsupportedVds(format!("{v:?}"))),
        None => return Err(ReceiptError::UnsupportedVds("absent".into())),
    }
    if message.payload().is_some() {
        return Err(ReceiptError::AttachedPayload);
    }
    let Some(Value::Map(vdp)) = message.unprotected().get_int(label::VDP) else {
        return Err(ReceiptError::NoInclusionProof);
    };
    let proofs = vdp
        .iter()
        .find(|(k, _)| matches!(k, Value::Integer(i) if i64::try_from(*i).ok() == Some(VDP_INCLUSION_PROOFS)))
        .map(|(_, v)| v);
    let Some(Value::Array(proofs)) = proofs else {
        return Err(ReceiptError::NoInclusionProof);
    };
    if proofs.is_empty() {
        return Err(ReceiptError::NoInclusionProof);
    }
    if proofs.len() > MAX_INCLUSION_PROOFS {
        return Err(ReceiptError::TooManyProofs(proofs.len()));
    }
    // Every proof must be well formed, not just the one that verifies.
    let proofs = proofs
        .iter()
        .map(|p| match p {
            Value::Bytes(b) => InclusionProof::decode(b),
            _ => Err(ReceiptError::MalformedProof("not a byte string")),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ParsedReceipt { message, proofs })
}

fn verify_parsed(
    parsed: &ParsedReceipt,
    leaf: &Hash,
    key: &PublicKey,
) -> Result<VerifiedReceipt, ReceiptError> {
    let mut last = ReceiptError::NoInclusionProof;
    for proof in &parsed.proofs {
        let root = match proof.root(leaf) {
            Ok(root) => root,
            Err(e) => {
                last = e.into();
                continue;
            }
        };
        if let Err(e) = parsed.message.verify(key, Some(&root)) {
            last = ReceiptError::Receipt(e);
            continue;
        }
        let claims = CwtClaims::from_header(parsed.message.protected())
            .map_err(ReceiptError::Receipt)?
            .unwrap_or_default();
        return Ok(VerifiedReceipt {
            tree_size: proof.tree_size,
            leaf_index: proof.leaf_index,
            root,
            kid: parsed
                .message
                .kid()
                .map_err(ReceiptError::Receipt)?
                .map(<[u8]>::to_vec),
            iss: claims.iss,
            sub: claims.sub,
            iat: claims.iat,
        });
    }
    Err(last)
}

/// Verifies `receipt` for `statement` with the service's public key, offline.
pub fn verify_receipt(
    statement: &[u8],
    receipt: &[u8],
    key: &PublicKey,
) -> Result<VerifiedReceipt, ReceiptError> {
    let leaf = statement_leaf_hash(statement)?;
    verify_parsed(&parse_receipt(receipt)?, &leaf, key)
}

/// Verifies `receipt` with the service's published keys: the key whose kid the receipt names,
/// or, when the receipt names none, any key.
pub fn verify_receipt_with_keys(
    statement: &[u8],
    receipt: &[u8],
    keys: &[CoseKey],
) -> Result<VerifiedReceipt, ReceiptError> {
    verify_receipt_for_leaf(&statement_leaf_hash(statement)?, receipt, keys)
}

/// [`verify_receipt_with_keys`] for an entry given by its leaf hash.
pub fn verify_receipt_for_leaf(
    leaf: &Hash,
    receipt: &[u8],
    keys: &[CoseKey],
) -> Result<VerifiedReceipt, ReceiptError> {
    let leaf = *leaf;
    let parsed = parse_receipt(receipt)?;
    let kid = parsed.message.kid().map_err(ReceiptError::Receipt)?;
    let candidates: Vec<&CoseKey> = match kid {
        Some(kid) => keys.iter().filter(|k| k.kid() == Some(kid)).collect(),
        None => keys.iter().collect(),
    };
    if candidates.is_empty() {
        return Err(match kid {
            Some(kid) => ReceiptError::UnknownKid(kid.to_vec()),
            None => ReceiptError::NoKeyVerifies,
        });
    }
    let mut last = ReceiptError::NoKeyVerifies;
    for key in candidates {
        match verify_parsed(&parsed, &leaf, key.public_key()) {
            Ok(v) => return Ok(v),
            Err(e) => last = e,
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cose::{SignedStatement, StatementHeader};
    use proptest::prelude::*;
    use sbomit_crypto::KeyKind;
    use sbomit_tlog::merkle::{inclusion_proof, MemoryTree};

    struct Fixture {
        statement: Vec<u8>,
        proof: InclusionProof,
        root: Hash,
        service: PrivateKey,
    }

    fn fixture(kind: KeyKind) -> Fixture {
        let issuer = PrivateKey::generate(KeyKind::EcdsaP256).expect("key");
        let statement = SignedStatement::sign(
            &StatementHeader {
                iss: "https://vendor.example".into(),
                sub: "pkg:npm/app@1".into(),
                content_type: Some("application/json".into()),
                kid: None,
            },
            b"{}",
            &issuer,
        )
        .expect("sign");
        let mut tree = MemoryTree::new();
        for i in 0..7u8 {
            if i == 3 {
                tree.push_leaf_hash(statement_leaf_hash(&statement).expect("leaf"))
                    .expect("push");
            } else {
                tree.push_entry(&[i]).expect("push");
            }
        }
        let path = inclusion_proof(&tree, 3, 7).expect("proof");
        Fixture {
            statement,
            proof: InclusionProof {
                tree_size: 7,
                leaf_index: 3,
                path,
            },
            root: tree.root(),
            service: PrivateKey::generate(kind).expect("key"),
        }
    }

    fn header() -> ReceiptHeader {
        ReceiptHeader {
            kid: b"service-1".to_vec(),
            iss: "https://store.example".into(),
            sub: None,
            iat: Some(1_700_000_000),
        }
    }

    #[test]
    fn receipts_verify_with_key_and_key_set() {
        for kind in [KeyKind::EcdsaP256, KeyKind::Ed25519] {
            let f = fixture(kind);
            let receipt = build_receipt(&f.statement, &f.proof, &f.root, &header(), &f.service)
                .expect("receipt");
            let v = verify_receipt(&f.statement, &receipt, f.service.public_key()).expect("verify");
            assert_eq!((v.tree_size, v.leaf_index, v.root), (7, 3, f.root));
            assert_eq!(v.iss.as_deref(), Some("https://store.example"));
            assert_eq!(v.iat, Some(1_700_000_000));
            assert_eq!(v.kid.as_deref(), Some(&b"service-1"[..]));
            let keys = [
                CoseKey::new(f.service.public_key().clone(), Some(b"service-1".to_vec()))
                    .expect("key"),
            ];
            verify_receipt_with_keys(&f.statement, &receipt, &keys).expect("verify with keys");
            let other =
                [CoseKey::new(f.service.public_key().clone(), Some(b"x".to_vec())).expect("key")];
            assert_eq!(
                verify_receipt_with_keys(&f.statement, &receipt, &other),
                Err(ReceiptError::UnknownKid(b"service-1".to_vec()))
            );
        }
    }

    #[test]
    fn the_leaf_ignores_the_unprotected_header() {
        let f = fixture(KeyKind::Ed25519);
        let mut msg = CoseSign1::decode(&f.statement).expect("decode");
        msg.unprotected_mut()
            .insert(394, Value::Array(vec![Value::Bytes(vec![1, 2])]));
        let with_receipts = msg.encode().expect("encode");
        assert_eq!(
            statement_leaf_hash(&with_receipts),
            statement_leaf_hash(&f.statement)
        );
    }

    #[test]
    fn refuses_to_sign_a_proof_that_does_not_hold() {
        let f = fixture(KeyKind::Ed25519);
        let mut wrong = f.proof.clone();
        wrong.leaf_index = 2;
        assert!(matches!(
            build_receipt(&f.statement, &wrong, &f.root, &header(), &f.service),
            Err(ReceiptError::Proof(VerifyError::RootMismatch { .. }))
        ));
    }

    #[test]
    fn rejects_receipts_for_other_statements_or_keys() {
        let f = fixture(KeyKind::EcdsaP256);
        let receipt =
            build_receipt(&f.statement, &f.proof, &f.root, &header(), &f.service).expect("receipt");
        let other = fixture(KeyKind::EcdsaP256);
        assert!(matches!(
            verify_receipt(&other.statement, &receipt, f.service.public_key()),
            Err(ReceiptError::Receipt(CoseError::BadSignature { .. }))
        ));
        assert!(verify_receipt(&f.statement, &receipt, other.service.public_key()).is_err());
    }

    #[test]
    fn inclusion_proof_encoding_round_trips() {
        let f = fixture(KeyKind::Ed25519);
        let bytes = f.proof.encode().expect("encode");
        assert_eq!(InclusionProof::decode(&bytes), Ok(f.proof.clone()));
        assert!(InclusionProof::decode(&[0x83, 0x01, 0x00, 0x81, 0x41, 0x00]).is_err());
    }

    /// No single-bit change of a receipt makes it vouch for anything else: exhaustive over
    /// its bits, for both key types. The one change that may still verify is the tree size in
    /// the (unsigned) proof when the proof's shape is the same for both sizes — 7 → 6 for
    /// leaf 3: the verifier recomputes the same signed root from the same path, as RFC 9162
    /// verification does; the root and the leaf index, what the receipt attests, are unchanged.
    #[test]
    fn no_flipped_bit_of_a_receipt_changes_what_it_attests() {
        for kind in [KeyKind::Ed25519, KeyKind::EcdsaP256] {
            let f = fixture(kind);
            let receipt = build_receipt(&f.statement, &f.proof, &f.root, &header(), &f.service)
                .expect("receipt");
            for i in 0..receipt.len() {
                for bit in 0..8 {
                    let mut r = receipt.clone();
                    r[i] ^= 1 << bit;
                    if let Ok(v) = verify_receipt(&f.statement, &r, f.service.public_key()) {
                        assert_eq!((v.root, v.leaf_index), (f.root, f.proof.leaf_index));
                        assert_ne!(v.tree_size, f.proof.tree_size, "byte {i} bit {bit}");
                    }
                }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn a_flipped_bit_never_changes_what_a_receipt_attests(at in any::<prop::sample::Index>(), bit in 0u8..8) {
            let f = fixture(KeyKind::Ed25519);
            let mut receipt = build_receipt(&f.statement, &f.proof, &f.root, &header(), &f.service)
                .expect("receipt");
            let i = at.index(receipt.len());
            receipt[i] ^= 1 << bit;
            // See no_flipped_bit_of_a_receipt_changes_what_it_attests for the one change that
            // may verify (the unsigned tree size, with the same root).
            if let Ok(v) = verify_receipt(&f.statement, &receipt, f.service.public_key()) {
                prop_assert_eq!((v.root, v.leaf_index), (f.root, f.proof.leaf_index));
            }
        }

        #[test]
        fn receipt_parsing_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = parse_receipt(&bytes);
            let _ = InclusionProof::decode(&bytes);
            let _ = leaf_entry(&bytes);
        }
    }
}
