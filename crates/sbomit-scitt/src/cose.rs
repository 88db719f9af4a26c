//! COSE_Sign1 (RFC 9052) with ES256 and EdDSA, SCITT Signed Statements (RFC 9943), COSE_Key
//! and COSE_KeySet for P-256 and Ed25519 public keys.
//!
//! ### Built on `coset`, with a strict layer on top
//! The structures are [`coset`]'s: headers are typed by [`coset::Header`] (algorithm, content
//! type, kid, duplicate labels), the to-be-signed `Sig_structure` is coset's, CWT claims are a
//! [`coset::cwt::ClaimsSet`] and keys a [`coset::CoseKey`]. coset has no cryptography: keys and
//! signatures come from `sbomit-crypto`. What this module adds on top, and why:
//!
//! * **Strict decoding** ([`decode_strict`]): coset (through ciborium) accepts any well-formed
//!   CBOR; we also refuse non-preferred forms, duplicate map keys at any depth and trailing
//!   bytes, before coset sees the value.
//! * **Deterministic output** ([`canonicalize`]): coset writes header fields in its own fixed
//!   order (alg, crit, content type, kid, …, then the rest), not RFC 8949 §4.2.1 order, so
//!   everything we sign or encode is re-sorted by our encoder. The bytes are the same as before
//!   coset was used.
//! * **`crit`** stays ours: coset types the labels of `crit` against its compiled-in IANA
//!   registry, which lacks `vds` (395, RFC 9942) and cannot hold unregistered labels, so it
//!   would refuse such a message while decoding with a generic error. We take `crit` out
//!   before coset types the header and check it at verification ([`CoseError::UnknownCritical`]).
//! * **The envelope** (`[protected, unprotected, payload, signature]`, tag 18) is unpacked
//!   here so that the errors name what is wrong ([`CoseError::Shape`], [`CoseError::WrongTag`])
//!   and the unprotected header stays an editable label/value map ([`HeaderMap`]), to which a
//!   service adds receipts after signing.
//!
//! ### Encodings
//! What we produce is deterministic CBOR (RFC 8949 §4.2.1): shortest forms, definite lengths,
//! map keys sorted by their encoded bytes. What we read must be in preferred serialization
//! (shortest forms, definite lengths) without duplicate map keys, at the top level and inside
//! the protected header: otherwise one signed message would have several encodings, and a
//! transparency log must not register the same statement twice under different bytes. Key
//! order of input maps is not checked, since RFC 9052 does not require it. This matches the
//! strict decoder of scitt-cose.
//!
//! Signatures cover the protected header *bytes* as received, never a re-encoding of them
//! (coset's `ProtectedHeader::original_data`).
//!
//! ### Stricter than before coset
//! Header values coset types are refused at decoding when ill-typed: an algorithm outside the
//! IANA registry (or its private range), an empty `kid`, a text content type that is not
//! `type/subtype`, a CoAP content format coset does not know. CWT claims with an integer key
//! coset does not know are ignored (as before), not refused: SCITT profiles register new
//! claims faster than coset's registry follows.

use std::fmt;

use ciborium::value::Value;
use coset::iana::{self, EnumI64};
use coset::{AsCborValue, ProtectedHeader, RegisteredLabel, RegisteredLabelWithPrivate};

use sbomit_crypto::{KeyError, PrivateKey, PublicKey, Scheme};

/// CBOR tag of COSE_Sign1.
pub const TAG_COSE_SIGN1: u64 = 18;

/// COSE header labels used here (RFC 9052 §3.1, RFC 9597 for CWT claims, RFC 9942 for
/// vds/vdp).
pub mod label {
    pub const ALG: i64 = 1;
    pub const CRIT: i64 = 2;
    pub const CONTENT_TYPE: i64 = 3;
    pub const KID: i64 = 4;
    pub const CWT_CLAIMS: i64 = 15;
    pub const VDS: i64 = 395;
    pub const VDP: i64 = 396;
}

/// CWT claim keys (RFC 8392 §3.1).
pub mod claim {
    pub const ISS: i64 = 1;
    pub const SUB: i64 = 2;
    pub const IAT: i64 = 6;
}

/// Protected header labels whose meaning we process, so a `crit` listing them is honoured.
const UNDERSTOOD: [i64; 6] = [
    label::ALG,
    label::CRIT,
    label::CONTENT_TYPE,
    label::KID,
    label::CWT_CLAIMS,
    label::VDS,
];

/// Nesting limit for decoding: COSE headers are a few levels deep, and a bound keeps hostile
/// input from exhausting the stack.
const MAX_DEPTH: usize = 32;

/// Why a COSE structure could not be read, made or verified.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CoseError {
    #[error("{what} is not well-formed CBOR: {reason}")]
    Cbor { what: &'static str, reason: String },
    #[error("{extra} bytes after {what}")]
    TrailingBytes { what: &'static str, extra: usize },
    #[error(
        "{what} is not in preferred CBOR serialization (indefinite length or a longer form than needed)"
    )]
    NotPreferred { what: &'static str },
    #[error("{what} has the map key {key} twice")]
    DuplicateKey { what: &'static str, key: String },
    #[error("expected a COSE_Sign1 (CBOR tag 18), found tag {0}")]
    WrongTag(u64),
    #[error("{what} must be {expected}")]
    Shape {
        what: &'static str,
        expected: &'static str,
    },
    #[error("the protected header has no algorithm (label 1)")]
    MissingAlgorithm,
    #[error("unsupported COSE algorithm {0}")]
    UnsupportedAlgorithm(String),
    #[error("algorithm {alg} cannot be used with a {scheme} key")]
    KeyMismatch { alg: Algorithm, scheme: Scheme },
    #[error("header {0} is marked critical but is not understood")]
    UnknownCritical(String),
    #[error("the payload is detached and none was given")]
    DetachedPayloadMissing,
    #[error("the payload is attached, so no detached payload can be given")]
    PayloadAttached,
    #[error("{alg} signature of {actual} bytes, expected {expected}")]
    SignatureLength {
        alg: Algorithm,
        expected: usize,
        actual: usize,
    },
    #[error("the signature does not verify with key {keyid}")]
    BadSignature { keyid: String },
    #[error("the protected header has no CWT claim {0}")]
    MissingClaim(&'static str),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("cannot encode CBOR: {0}")]
    Encode(String),
    /// coset refused the structure. The reason is coset's message: `coset::CoseError` is not
    /// `Clone` or `Eq`, which this error is (tests and callers compare it).
    #[error("{what} is not a valid COSE structure: {reason}")]
    Cose { what: &'static str, reason: String },
}

impl CoseError {
    fn cose(what: &'static str) -> impl FnOnce(coset::CoseError) -> CoseError {
        move |e| CoseError::Cose {
            what,
            reason: e.to_string(),
        }
    }
}

/// A COSE signature algorithm (RFC 9053 §2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Algorithm {
    /// ECDSA with P-256 and SHA-256, signature `r || s` (64 bytes).
    Es256,
    /// EdDSA; with this module's keys, Ed25519.
    EdDsa,
}

impl Algorithm {
    /// The COSE algorithm identifier.
    pub fn id(self) -> i64 {
        match self {
            Algorithm::Es256 => -7,
            Algorithm::EdDsa => -8,
        }
    }

    pub fn from_id(id: i64) -> Option<Self> {
        match id {
            -7 => Some(Algorithm::Es256),
            -8 => Some(Algorithm::EdDsa),
            _ => None,
        }
    }

    /// The algorithm a key signs with.
    pub fn for_key(key: &PublicKey) -> Result<Self, CoseError> {
        match key.scheme() {
            Scheme::EcdsaSha2Nistp256 => Ok(Algorithm::Es256),
            Scheme::Ed25519 => Ok(Algorithm::EdDsa),
            other => Err(CoseError::UnsupportedAlgorithm(format!(
                "for {other} keys (only P-256 and Ed25519)"
            ))),
        }
    }

    fn check_key(self, key: &PublicKey) -> Result<(), CoseError> {
        if Self::for_key(key).ok() == Some(self) {
            Ok(())
        } else {
            Err(CoseError::KeyMismatch {
                alg: self,
                scheme: key.scheme(),
            })
        }
    }

    fn signature_len(self) -> usize {
        64
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Algorithm::Es256 => "ES256",
            Algorithm::EdDsa => "EdDSA",
        })
    }
}

/// A header label: an integer or a text string.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Label {
    Int(i64),
    Text(String),
}

impl Label {
    fn to_value(&self) -> Value {
        match self {
            Label::Int(i) => Value::from(*i),
            Label::Text(t) => Value::Text(t.clone()),
        }
    }
}

impl From<i64> for Label {
    fn from(i: i64) -> Self {
        Label::Int(i)
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Label::Int(i) => write!(f, "{i}"),
            Label::Text(t) => write!(f, "{t:?}"),
        }
    }
}

/// A COSE header map: unique labels, kept in the order given (encoding sorts them).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct HeaderMap {
    entries: Vec<(Label, Value)>,
}

impl HeaderMap {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn get(&self, label: &Label) -> Option<&Value> {
        self.entries
            .iter()
            .find(|(l, _)| l == label)
            .map(|(_, v)| v)
    }

    pub fn get_int(&self, label: i64) -> Option<&Value> {
        self.get(&Label::Int(label))
    }

    /// Sets a header, replacing an earlier value of the same label.
    pub fn insert(&mut self, label: impl Into<Label>, value: Value) {
        let label = label.into();
        match self.entries.iter_mut().find(|(l, _)| *l == label) {
            Some(slot) => slot.1 = value,
            None => self.entries.push((label, value)),
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &(Label, Value)> {
        self.entries.iter()
    }

    fn from_value(value: Value, what: &'static str) -> Result<Self, CoseError> {
        let Value::Map(pairs) = value else {
            return Err(CoseError::Shape {
                what,
                expected: "a map",
            });
        };
        let mut entries = Vec::with_capacity(pairs.len());
        for (k, v) in pairs {
            let label = match k {
                Value::Integer(i) => {
                    Label::Int(i64::try_from(i).map_err(|_| CoseError::Shape {
                        what,
                        expected: "a map with integer labels that fit in 64 bits",
                    })?)
                }
                Value::Text(t) => Label::Text(t),
                _ => {
                    return Err(CoseError::Shape {
                        what,
                        expected: "a map with integer or text labels",
                    })
                }
            };
            // Duplicates were refused while decoding; a label cannot repeat here.
            entries.push((label, v));
        }
        Ok(HeaderMap { entries })
    }

    fn to_value(&self) -> Value {
        Value::Map(
            self.entries
                .iter()
                .map(|(l, v)| (l.to_value(), v.clone()))
                .collect(),
        )
    }

    /// The header as coset types it, `crit` left out: our layer checks `crit` itself (see the
    /// module doc), coset checks the rest (types of alg, content type, kid; iv/partial iv).
    fn typed(&self, what: &'static str) -> Result<coset::Header, CoseError> {
        let map = Value::Map(
            self.entries
                .iter()
                .filter(|(l, _)| *l != Label::Int(label::CRIT))
                .map(|(l, v)| (l.to_value(), v.clone()))
                .collect(),
        );
        coset::Header::from_cbor_value(map).map_err(CoseError::cose(what))
    }

    /// The protected header's bytes: empty for an empty map (RFC 9052 §3), else the map.
    fn protected_bytes(&self) -> Result<Vec<u8>, CoseError> {
        if self.is_empty() {
            Ok(Vec::new())
        } else {
            to_cbor(&self.to_value())
        }
    }
}

/// A content type header: a media type or a CoAP Content-Format number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ContentType {
    Text(String),
    CoapFormat(u16),
}

impl fmt::Display for ContentType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ContentType::Text(t) => f.write_str(t),
            ContentType::CoapFormat(n) => write!(f, "coap-content-format:{n}"),
        }
    }
}

/// Deterministic encoding (RFC 8949 §4.2.1): every map's keys sorted by their encoded bytes.
pub fn canonicalize(value: &Value) -> Result<Value, CoseError> {
    Ok(match value {
        Value::Map(pairs) => {
            let mut keyed = Vec::with_capacity(pairs.len());
            for (k, v) in pairs {
                keyed.push((to_cbor(k)?, canonicalize(k)?, canonicalize(v)?));
            }
            keyed.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Map(keyed.into_iter().map(|(_, k, v)| (k, v)).collect())
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(canonicalize)
                .collect::<Result<Vec<_>, _>>()?,
        ),
        Value::Tag(tag, inner) => Value::Tag(*tag, Box::new(canonicalize(inner)?)),
        other => other.clone(),
    })
}

/// Encodes as given (maps in their order), shortest forms, definite lengths.
pub fn to_cbor(value: &Value) -> Result<Vec<u8>, CoseError> {
    let mut out = Vec::new();
    ciborium::ser::into_writer(value, &mut out).map_err(|e| CoseError::Encode(e.to_string()))?;
    Ok(out)
}

/// Encodes deterministically (see [`canonicalize`]).
pub fn to_canonical_cbor(value: &Value) -> Result<Vec<u8>, CoseError> {
    to_cbor(&canonicalize(value)?)
}

/// Decodes one CBOR item that must fill `bytes`, in preferred serialization, with no
/// duplicate map keys.
pub fn decode_strict(bytes: &[u8], what: &'static str) -> Result<Value, CoseError> {
    let mut rest = bytes;
    let value: Value = ciborium::de::from_reader_with_recursion_limit(&mut rest, MAX_DEPTH)
        .map_err(|e| CoseError::Cbor {
            what,
            reason: e.to_string(),
        })?;
    if !rest.is_empty() {
        return Err(CoseError::TrailingBytes {
            what,
            extra: rest.len(),
        });
    }
    check_unique_keys(&value, what)?;
    // Re-encoding keeps map order, so any difference is a non-preferred form.
    if to_cbor(&value)? != bytes {
        return Err(CoseError::NotPreferred { what });
    }
    Ok(value)
}

fn check_unique_keys(value: &Value, what: &'static str) -> Result<(), CoseError> {
    match value {
        Value::Map(pairs) => {
            let mut keys = pairs
                .iter()
                .map(|(k, _)| to_cbor(k))
                .collect::<Result<Vec<_>, _>>()?;
            keys.sort();
            if let Some(pair) = keys.windows(2).find(|w| w[0] == w[1]) {
                return Err(CoseError::DuplicateKey {
                    what,
                    key: hex::encode(&pair[0]),
                });
            }
            for (k, v) in pairs {
                check_unique_keys(k, what)?;
                check_unique_keys(v, what)?;
            }
            Ok(())
        }
        Value::Array(items) => items.iter().try_for_each(|v| check_unique_keys(v, what)),
        Value::Tag(_, inner) => check_unique_keys(inner, what),
        _ => Ok(()),
    }
}

fn int_of(value: &Value) -> Option<i64> {
    match value {
        Value::Integer(i) => i64::try_from(*i).ok(),
        _ => None,
    }
}

/// The `Sig_structure` of a COSE_Sign1 (RFC 9052 §4.4): what is signed.
pub fn sig_structure(protected: &[u8], external_aad: &[u8], payload: &[u8]) -> Vec<u8> {
    // `original_data` makes coset write these bytes as they are, never a re-encoding.
    let protected = ProtectedHeader {
        original_data: Some(protected.to_vec()),
        header: coset::Header::default(),
    };
    coset::sig_structure_data(
        coset::SignatureContext::CoseSign1,
        protected,
        None,
        external_aad,
        payload,
    )
}

/// A COSE_Sign1 message.
#[derive(Clone, Debug, PartialEq)]
pub struct CoseSign1 {
    /// coset's message: the protected header's bytes as received (`original_data`) with its
    /// typed form, the payload and the signature. Its unprotected header is left empty: the
    /// unprotected header lives in `unprotected`, which callers edit after signing.
    inner: coset::CoseSign1,
    /// The protected header as a label/value map, for the labels coset does not type (CWT
    /// claims, x5chain, vds, crit).
    protected: HeaderMap,
    unprotected: HeaderMap,
}

impl CoseSign1 {
    /// Decodes a COSE_Sign1, tagged (18) or not.
    pub fn decode(bytes: &[u8]) -> Result<Self, CoseError> {
        let value = decode_strict(bytes, "the COSE_Sign1 message")?;
        let value = match value {
            Value::Tag(TAG_COSE_SIGN1, inner) => *inner,
            Value::Tag(tag, _) => return Err(CoseError::WrongTag(tag)),
            other => other,
        };
        let Value::Array(items) = value else {
            return Err(CoseError::Shape {
                what: "a COSE_Sign1",
                expected: "an array [protected, unprotected, payload, signature]",
            });
        };
        let Ok::<[Value; 4], _>([protected, unprotected, payload, signature]) = items.try_into()
        else {
            return Err(CoseError::Shape {
                what: "a COSE_Sign1",
                expected: "an array of 4 items",
            });
        };
        let Value::Bytes(protected_bytes) = protected else {
            return Err(CoseError::Shape {
                what: "the protected header",
                expected: "a byte string",
            });
        };
        let protected = if protected_bytes.is_empty() {
            HeaderMap::new()
        } else {
            HeaderMap::from_value(
                decode_strict(&protected_bytes, "the protected header")?,
                "the protected header",
            )?
        };
        let unprotected = HeaderMap::from_value(unprotected, "the unprotected header")?;
        if let Some(duplicate) = protected.iter().find(|(l, _)| unprotected.get(l).is_some()) {
            // RFC 9052 §3: a label must not appear in both buckets.
            return Err(CoseError::DuplicateKey {
                what: "the protected and unprotected headers",
                key: duplicate.0.to_string(),
            });
        }
        let payload = match payload {
            Value::Bytes(b) => Some(b),
            Value::Null => None,
            _ => {
                return Err(CoseError::Shape {
                    what: "the payload",
                    expected: "a byte string or nil",
                })
            }
        };
        let Value::Bytes(signature) = signature else {
            return Err(CoseError::Shape {
                what: "the signature",
                expected: "a byte string",
            });
        };
        // The unprotected header is typed too, so an ill-typed kid there is refused now.
        unprotected.typed("the unprotected header")?;
        let inner = coset::CoseSign1 {
            protected: ProtectedHeader {
                header: protected.typed("the protected header")?,
                original_data: Some(protected_bytes),
            },
            unprotected: coset::Header::default(),
            payload,
            signature,
        };
        Ok(CoseSign1 {
            inner,
            protected,
            unprotected,
        })
    }

    /// Signs `payload` with `key`; the algorithm header is set from the key. With `detached`
    /// the payload is left out of the message (nil) but still signed.
    pub fn sign(
        mut protected: HeaderMap,
        unprotected: HeaderMap,
        payload: &[u8],
        detached: bool,
        key: &PrivateKey,
    ) -> Result<Self, CoseError> {
        let alg = Algorithm::for_key(key.public_key())?;
        protected.insert(label::ALG, Value::from(alg.id()));
        // Our encoding of the protected header, not coset's: coset's field order is not the
        // deterministic one (see the module doc).
        let protected =
            HeaderMap::from_value(canonicalize(&protected.to_value())?, "the protected header")?;
        let protected_bytes = protected.protected_bytes()?;
        unprotected.typed("the unprotected header")?;
        let mut inner = coset::CoseSign1 {
            protected: ProtectedHeader {
                header: protected.typed("the protected header")?,
                original_data: Some(protected_bytes),
            },
            unprotected: coset::Header::default(),
            payload: None,
            signature: Vec::new(),
        };
        let tbs = inner.tbs_detached_data(payload, &[]);
        inner.signature = key.sign_fixed(&tbs)?;
        if !detached {
            inner.payload = Some(payload.to_vec());
        }
        Ok(CoseSign1 {
            inner,
            protected,
            unprotected,
        })
    }

    /// Tagged COSE_Sign1, the unprotected header encoded deterministically.
    pub fn encode(&self) -> Result<Vec<u8>, CoseError> {
        self.encode_with_unprotected(&self.unprotected)
    }

    /// The same message with an empty unprotected header: the RFC 9943 leaf entry, and what
    /// a receipt's signer and verifiers hash (scitt_peer.py builds it the same way).
    pub fn encode_without_unprotected(&self) -> Result<Vec<u8>, CoseError> {
        self.encode_with_unprotected(&HeaderMap::new())
    }

    fn encode_with_unprotected(&self, unprotected: &HeaderMap) -> Result<Vec<u8>, CoseError> {
        let message = coset::CoseSign1 {
            unprotected: unprotected.typed("the unprotected header")?,
            ..self.inner.clone()
        };
        let value = message
            .to_cbor_value()
            .map_err(CoseError::cose("the COSE_Sign1 message"))?;
        // coset's header order is its own; the bytes we produce are deterministic. The
        // protected header is a byte string, so this leaves the signed bytes alone.
        to_cbor(&Value::Tag(TAG_COSE_SIGN1, Box::new(canonicalize(&value)?)))
    }

    /// The protected header as signed.
    pub fn protected_bytes(&self) -> &[u8] {
        self.inner.protected.original_data.as_deref().unwrap_or(&[])
    }

    pub fn protected(&self) -> &HeaderMap {
        &self.protected
    }

    pub fn unprotected(&self) -> &HeaderMap {
        &self.unprotected
    }

    /// The unprotected header is not signed: receipts are added to it after signing.
    pub fn unprotected_mut(&mut self) -> &mut HeaderMap {
        &mut self.unprotected
    }

    /// The attached payload; `None` when detached.
    pub fn payload(&self) -> Option<&[u8]> {
        self.inner.payload.as_deref()
    }

    pub fn signature(&self) -> &[u8] {
        &self.inner.signature
    }

    /// The algorithm of the protected header.
    pub fn algorithm(&self) -> Result<Algorithm, CoseError> {
        use RegisteredLabelWithPrivate::{Assigned, PrivateUse, Text};
        match &self.inner.protected.header.alg {
            None => Err(CoseError::MissingAlgorithm),
            Some(Assigned(iana::Algorithm::ES256)) => Ok(Algorithm::Es256),
            Some(Assigned(iana::Algorithm::EdDSA)) => Ok(Algorithm::EdDsa),
            Some(Assigned(other)) => Err(CoseError::UnsupportedAlgorithm(format!(
                "{other:?} ({})",
                other.to_i64()
            ))),
            Some(PrivateUse(id)) => Err(CoseError::UnsupportedAlgorithm(id.to_string())),
            Some(Text(t)) => Err(CoseError::UnsupportedAlgorithm(t.clone())),
        }
    }

    /// RFC 9052 §3.1: every header listed in `crit` must be in the protected header and
    /// understood. Ours, not coset's (see the module doc).
    fn check_critical(&self) -> Result<(), CoseError> {
        let Some(crit) = self.protected.get_int(label::CRIT) else {
            return Ok(());
        };
        let not_list = CoseError::Shape {
            what: "the crit header",
            expected: "a non-empty array of labels",
        };
        let Value::Array(labels) = crit else {
            return Err(not_list);
        };
        if labels.is_empty() {
            return Err(not_list);
        }
        for l in labels {
            let label = match l {
                Value::Integer(_) => int_of(l).map(Label::Int),
                Value::Text(t) => Some(Label::Text(t.clone())),
                _ => None,
            }
            .ok_or(CoseError::Shape {
                what: "the crit header",
                expected: "a non-empty array of labels",
            })?;
            let understood = matches!(label, Label::Int(i) if UNDERSTOOD.contains(&i));
            if !understood || self.protected.get(&label).is_none() {
                return Err(CoseError::UnknownCritical(label.to_string()));
            }
        }
        Ok(())
    }

    /// Verifies the signature with `key`. `detached_payload` is the payload when the message
    /// does not carry it.
    pub fn verify(
        &self,
        key: &PublicKey,
        detached_payload: Option<&[u8]>,
    ) -> Result<(), CoseError> {
        let alg = self.algorithm()?;
        self.check_critical()?;
        alg.check_key(key)?;
        let signature = self.signature();
        if !matches!(
            (self.payload(), detached_payload),
            (Some(_), None) | (None, Some(_))
        ) {
            return Err(match detached_payload {
                None => CoseError::DetachedPayloadMissing,
                Some(_) => CoseError::PayloadAttached,
            });
        }
        if signature.len() != alg.signature_len() {
            return Err(CoseError::SignatureLength {
                alg,
                expected: alg.signature_len(),
                actual: signature.len(),
            });
        }
        let check = |sig: &[u8], tbs: &[u8]| {
            key.verify_fixed(tbs, sig)
                .map_err(|_| CoseError::BadSignature {
                    keyid: key.keyid().to_string(),
                })
        };
        match detached_payload {
            None => self.inner.verify_signature(&[], check),
            Some(p) => self.inner.verify_detached_signature(p, &[], check),
        }
    }

    /// The key id header (protected, else unprotected).
    pub fn kid(&self) -> Result<Option<&[u8]>, CoseError> {
        let protected = &self.inner.protected.header.key_id;
        if !protected.is_empty() {
            return Ok(Some(protected));
        }
        // The unprotected map may have been edited since decoding, so it is read here; coset
        // refuses an empty kid, and so does this.
        match self.unprotected.get_int(label::KID) {
            None => Ok(None),
            Some(Value::Bytes(b)) if !b.is_empty() => Ok(Some(b)),
            Some(_) => Err(CoseError::Shape {
                what: "the kid header",
                expected: "a non-empty byte string",
            }),
        }
    }

    /// The content type header, as coset types it.
    pub fn content_type(&self) -> Option<ContentType> {
        match &self.inner.protected.header.content_type {
            None => None,
            Some(RegisteredLabel::Text(t)) => Some(ContentType::Text(t.clone())),
            Some(RegisteredLabel::Assigned(format)) => {
                // CoAP Content-Formats are 0..=65535 (RFC 7252 §12.3); coset's registry fits.
                u16::try_from(format.to_i64())
                    .ok()
                    .map(ContentType::CoapFormat)
            }
        }
    }
}

/// The CWT claims (header 15) a SCITT statement or receipt carries.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct CwtClaims {
    pub iss: Option<String>,
    pub sub: Option<String>,
    pub iat: Option<i64>,
}

impl CwtClaims {
    /// Reads header 15 of a protected header, if present. coset types the claims it knows
    /// (iss and sub text, iat a number); integer claim keys coset's registry lacks are left out
    /// before, so they are ignored rather than refused (see the module doc).
    pub fn from_header(protected: &HeaderMap) -> Result<Option<Self>, CoseError> {
        let what = "the CWT claims header";
        let Some(value) = protected.get_int(label::CWT_CLAIMS) else {
            return Ok(None);
        };
        let Value::Map(pairs) = value else {
            return Err(CoseError::Shape {
                what,
                expected: "a map",
            });
        };
        let known = pairs
            .iter()
            .filter(|(k, _)| match k {
                Value::Integer(_) => int_of(k).is_some_and(|i| {
                    iana::CwtClaimName::from_i64(i).is_some() || i < iana::CWT_CLAIM_PRIVATE_USE_MAX
                }),
                _ => true,
            })
            .cloned()
            .collect();
        let set = coset::cwt::ClaimsSet::from_cbor_value(Value::Map(known))
            .map_err(CoseError::cose(what))?;
        let iat = match set.issued_at {
            None => None,
            Some(coset::cwt::Timestamp::WholeSeconds(t)) => Some(t),
            Some(coset::cwt::Timestamp::FractionalSeconds(_)) => {
                return Err(CoseError::Shape {
                    what: "the CWT claim iat",
                    expected: "an integer",
                })
            }
        };
        Ok(Some(CwtClaims {
            iss: set.issuer,
            sub: set.subject,
            iat,
        }))
    }

    fn to_value(&self) -> Value {
        let set = coset::cwt::ClaimsSet {
            issuer: self.iss.clone(),
            subject: self.sub.clone(),
            issued_at: self.iat.map(coset::cwt::Timestamp::WholeSeconds),
            ..Default::default()
        };
        // Three claims with distinct keys: coset's encoding cannot fail. Its order (iss, sub,
        // iat) is also the deterministic one; the header is canonicalized when signed anyway.
        set.to_cbor_value().unwrap_or(Value::Map(Vec::new()))
    }

    /// Sets header 15.
    pub fn insert_into(&self, header: &mut HeaderMap) {
        header.insert(label::CWT_CLAIMS, self.to_value());
    }
}

/// A SCITT Signed Statement (RFC 9943 §5.2.1): a COSE_Sign1 whose protected header carries
/// the algorithm and the CWT claims `iss` and `sub`.
#[derive(Clone, Debug, PartialEq)]
pub struct SignedStatement {
    message: CoseSign1,
    alg: Algorithm,
    kid: Option<Vec<u8>>,
    content_type: Option<ContentType>,
    iss: String,
    sub: String,
    iat: Option<i64>,
}

/// What a new Signed Statement says about itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatementHeader {
    pub iss: String,
    pub sub: String,
    pub content_type: Option<String>,
    pub kid: Option<Vec<u8>>,
}

impl SignedStatement {
    /// Parses (does not verify) a Signed Statement.
    pub fn parse(bytes: &[u8]) -> Result<Self, CoseError> {
        let message = CoseSign1::decode(bytes)?;
        let alg = message.algorithm()?;
        let kid = message.kid()?.map(<[u8]>::to_vec);
        let content_type = message.content_type();
        let claims =
            CwtClaims::from_header(message.protected())?.ok_or(CoseError::MissingClaim("set"))?;
        let iss = claims.iss.ok_or(CoseError::MissingClaim("iss"))?;
        let sub = claims.sub.ok_or(CoseError::MissingClaim("sub"))?;
        Ok(SignedStatement {
            alg,
            kid,
            content_type,
            iss,
            sub,
            iat: claims.iat,
            message,
        })
    }

    /// Signs a new Signed Statement over an attached payload; returns its encoding.
    pub fn sign(
        header: &StatementHeader,
        payload: &[u8],
        key: &PrivateKey,
    ) -> Result<Vec<u8>, CoseError> {
        let mut protected = HeaderMap::new();
        if let Some(ct) = &header.content_type {
            protected.insert(label::CONTENT_TYPE, Value::Text(ct.clone()));
        }
        if let Some(kid) = &header.kid {
            protected.insert(label::KID, Value::Bytes(kid.clone()));
        }
        CwtClaims {
            iss: Some(header.iss.clone()),
            sub: Some(header.sub.clone()),
            iat: None,
        }
        .insert_into(&mut protected);
        CoseSign1::sign(protected, HeaderMap::new(), payload, false, key)?.encode()
    }

    /// Verifies the issuer's signature (attached payload).
    pub fn verify(&self, key: &PublicKey) -> Result<(), CoseError> {
        self.message.verify(key, None)
    }

    pub fn message(&self) -> &CoseSign1 {
        &self.message
    }

    pub fn alg(&self) -> Algorithm {
        self.alg
    }

    pub fn kid(&self) -> Option<&[u8]> {
        self.kid.as_deref()
    }

    pub fn content_type(&self) -> Option<&ContentType> {
        self.content_type.as_ref()
    }

    pub fn iss(&self) -> &str {
        &self.iss
    }

    pub fn sub(&self) -> &str {
        &self.sub
    }

    pub fn iat(&self) -> Option<i64> {
        self.iat
    }

    pub fn payload(&self) -> Option<&[u8]> {
        self.message.payload()
    }

    /// The entry the log hashes: the statement with an empty unprotected header.
    pub fn leaf_entry(&self) -> Result<Vec<u8>, CoseError> {
        self.message.encode_without_unprotected()
    }
}

/// A public COSE_Key: EC2 P-256 or OKP Ed25519.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoseKey {
    key: PublicKey,
    alg: Algorithm,
    kid: Option<Vec<u8>>,
}

/// coset's label for a key parameter (RFC 9053 §7.1, §7.2).
fn key_param(p: iana::Ec2KeyParameter) -> coset::Label {
    coset::Label::Int(p as i64)
}

impl CoseKey {
    pub fn new(key: PublicKey, kid: Option<Vec<u8>>) -> Result<Self, CoseError> {
        let alg = Algorithm::for_key(&key)?;
        Ok(CoseKey { key, alg, kid })
    }

    pub fn public_key(&self) -> &PublicKey {
        &self.key
    }

    pub fn alg(&self) -> Algorithm {
        self.alg
    }

    pub fn kid(&self) -> Option<&[u8]> {
        self.kid.as_deref()
    }

    /// The key as coset holds it.
    pub fn to_coset(&self) -> Result<coset::CoseKey, CoseError> {
        let raw = self.key.raw_public_key().ok_or(CoseError::Shape {
            what: "the public key",
            expected: "a key with raw bytes",
        })?;
        let builder = match self.alg {
            Algorithm::Es256 => {
                if raw.len() != 65 || raw[0] != 0x04 {
                    return Err(CoseError::Shape {
                        what: "the P-256 public key",
                        expected: "an uncompressed point",
                    });
                }
                coset::CoseKeyBuilder::new_ec2_pub_key(
                    iana::EllipticCurve::P_256,
                    raw[1..33].to_vec(),
                    raw[33..].to_vec(),
                )
                .algorithm(iana::Algorithm::ES256)
            }
            Algorithm::EdDsa => coset::CoseKeyBuilder::new_okp_key()
                .param(
                    iana::OkpKeyParameter::Crv as i64,
                    Value::from(iana::EllipticCurve::Ed25519 as i64),
                )
                .param(iana::OkpKeyParameter::X as i64, Value::Bytes(raw.to_vec()))
                .algorithm(iana::Algorithm::EdDSA),
        };
        Ok(match &self.kid {
            Some(kid) => builder.key_id(kid.clone()),
            None => builder,
        }
        .build())
    }

    /// The COSE_Key map, deterministically ordered (coset's order is kty, kid, alg, then the
    /// parameters as given).
    pub fn to_value(&self) -> Result<Value, CoseError> {
        let value = self
            .to_coset()?
            .to_cbor_value()
            .map_err(CoseError::cose("the COSE_Key"))?;
        canonicalize(&value)
    }

    pub fn encode(&self) -> Result<Vec<u8>, CoseError> {
        to_cbor(&self.to_value()?)
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, CoseError> {
        Self::from_value(decode_strict(bytes, "the COSE_Key")?)
    }

    pub fn from_value(value: Value) -> Result<Self, CoseError> {
        let what = "the COSE_Key";
        if !matches!(value, Value::Map(_)) {
            return Err(CoseError::Shape {
                what,
                expected: "a map",
            });
        }
        Self::from_coset(coset::CoseKey::from_cbor_value(value).map_err(CoseError::cose(what))?)
    }

    /// A P-256 or Ed25519 public key from coset's form.
    pub fn from_coset(key: coset::CoseKey) -> Result<Self, CoseError> {
        use coset::KeyType;
        let get = |l: coset::Label| key.params.iter().find(|(k, _)| *k == l).map(|(_, v)| v);
        let bytes_of = |l: coset::Label, name: &'static str| match get(l) {
            Some(Value::Bytes(b)) => Ok(b.as_slice()),
            _ => Err(CoseError::Shape {
                what: name,
                expected: "a byte string",
            }),
        };
        // The curve parameter is -1 for both key types (RFC 9053 §7.1, §7.2).
        let crv = get(key_param(iana::Ec2KeyParameter::Crv)).and_then(int_of);
        let (public, alg) = match (&key.kty, crv) {
            (KeyType::Assigned(iana::KeyType::EC2), Some(c))
                if c == iana::EllipticCurve::P_256 as i64 =>
            {
                let (x, y) = (
                    bytes_of(key_param(iana::Ec2KeyParameter::X), "the COSE_Key x")?,
                    bytes_of(key_param(iana::Ec2KeyParameter::Y), "the COSE_Key y")?,
                );
                if x.len() != 32 || y.len() != 32 {
                    return Err(CoseError::Shape {
                        what: "the P-256 coordinates",
                        expected: "32 bytes each",
                    });
                }
                let mut point = Vec::with_capacity(65);
                point.push(0x04);
                point.extend_from_slice(x);
                point.extend_from_slice(y);
                (
                    PublicKey::from_raw(Scheme::EcdsaSha2Nistp256, &point)?,
                    Algorithm::Es256,
                )
            }
            (KeyType::Assigned(iana::KeyType::OKP), Some(c))
                if c == iana::EllipticCurve::Ed25519 as i64 =>
            {
                let x = coset::Label::Int(iana::OkpKeyParameter::X as i64);
                (
                    PublicKey::from_raw(Scheme::Ed25519, bytes_of(x, "the COSE_Key x")?)?,
                    Algorithm::EdDsa,
                )
            }
            _ => {
                return Err(CoseError::Shape {
                    what: "the COSE_Key",
                    expected: "an EC2 P-256 or OKP Ed25519 key",
                })
            }
        };
        if let Some(a) = &key.alg {
            let id = match a {
                RegisteredLabelWithPrivate::Assigned(a) => Some(a.to_i64()),
                RegisteredLabelWithPrivate::PrivateUse(i) => Some(*i),
                RegisteredLabelWithPrivate::Text(_) => None,
            };
            if id.and_then(Algorithm::from_id) != Some(alg) {
                return Err(CoseError::UnsupportedAlgorithm(format!(
                    "{a:?} for a {} key",
                    public.scheme()
                )));
            }
        }
        // coset holds "no kid" as an empty one.
        let kid = (!key.key_id.is_empty()).then_some(key.key_id);
        Ok(CoseKey {
            key: public,
            alg,
            kid,
        })
    }
}

/// Encodes a COSE_KeySet (an array of COSE_Keys).
pub fn encode_key_set(keys: &[CoseKey]) -> Result<Vec<u8>, CoseError> {
    let items = keys
        .iter()
        .map(CoseKey::to_value)
        .collect::<Result<Vec<_>, _>>()?;
    to_cbor(&Value::Array(items))
}

/// Decodes a COSE_KeySet.
pub fn decode_key_set(bytes: &[u8]) -> Result<Vec<CoseKey>, CoseError> {
    let what = "the COSE_KeySet";
    let value = decode_strict(bytes, what)?;
    if !matches!(value, Value::Array(_)) {
        return Err(CoseError::Shape {
            what,
            expected: "an array",
        });
    }
    let set = coset::CoseKeySet::from_cbor_value(value).map_err(CoseError::cose(what))?;
    set.0.into_iter().map(CoseKey::from_coset).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use sbomit_crypto::KeyKind;

    fn header() -> StatementHeader {
        StatementHeader {
            iss: "https://vendor.example".into(),
            sub: "pkg:npm/app@1".into(),
            content_type: Some("application/json".into()),
            kid: Some(b"key-1".to_vec()),
        }
    }

    #[test]
    fn signs_parses_and_verifies_with_both_algorithms() {
        for (kind, alg) in [
            (KeyKind::EcdsaP256, Algorithm::Es256),
            (KeyKind::Ed25519, Algorithm::EdDsa),
        ] {
            let key = PrivateKey::generate(kind).expect("key");
            let bytes = SignedStatement::sign(&header(), b"{\"a\":1}", &key).expect("sign");
            let st = SignedStatement::parse(&bytes).expect("parse");
            assert_eq!(st.alg(), alg);
            assert_eq!(st.iss(), "https://vendor.example");
            assert_eq!(st.sub(), "pkg:npm/app@1");
            assert_eq!(st.kid(), Some(&b"key-1"[..]));
            assert_eq!(
                st.content_type(),
                Some(&ContentType::Text("application/json".into()))
            );
            assert_eq!(st.payload(), Some(&b"{\"a\":1}"[..]));
            st.verify(key.public_key()).expect("verify");
            assert_eq!(st.message().encode().expect("encode"), bytes);
            let other = PrivateKey::generate(kind).expect("key");
            assert!(matches!(
                st.verify(other.public_key()),
                Err(CoseError::BadSignature { .. })
            ));
        }
    }

    #[test]
    fn protected_header_is_deterministic() {
        let key = PrivateKey::generate(KeyKind::Ed25519).expect("key");
        let bytes = SignedStatement::sign(&header(), b"x", &key).expect("sign");
        let msg = CoseSign1::decode(&bytes).expect("decode");
        let value = decode_strict(msg.protected_bytes(), "p").expect("protected");
        assert_eq!(
            to_cbor(&canonicalize(&value).expect("c")).expect("e"),
            msg.protected_bytes()
        );
        // alg (1), content type (3), kid (4), CWT claims (15) in that order.
        let labels: Vec<_> = msg.protected().iter().map(|(l, _)| l.clone()).collect();
        assert_eq!(labels, [1, 3, 4, 15].map(Label::Int));
    }

    #[test]
    fn rejects_wrong_key_type_for_algorithm() {
        let ec = PrivateKey::generate(KeyKind::EcdsaP256).expect("key");
        let ed = PrivateKey::generate(KeyKind::Ed25519).expect("key");
        let bytes = SignedStatement::sign(&header(), b"x", &ec).expect("sign");
        let st = SignedStatement::parse(&bytes).expect("parse");
        assert_eq!(
            st.verify(ed.public_key()),
            Err(CoseError::KeyMismatch {
                alg: Algorithm::Es256,
                scheme: Scheme::Ed25519
            })
        );
    }

    #[test]
    fn rejects_statements_without_iss_or_sub() {
        let key = PrivateKey::generate(KeyKind::Ed25519).expect("key");
        let mut protected = HeaderMap::new();
        CwtClaims {
            iss: Some("i".into()),
            sub: None,
            iat: None,
        }
        .insert_into(&mut protected);
        let msg = CoseSign1::sign(protected, HeaderMap::new(), b"x", false, &key).expect("sign");
        let bytes = msg.encode().expect("encode");
        assert_eq!(
            SignedStatement::parse(&bytes),
            Err(CoseError::MissingClaim("sub"))
        );
        let bare = CoseSign1::sign(HeaderMap::new(), HeaderMap::new(), b"x", false, &key)
            .expect("sign")
            .encode()
            .expect("encode");
        assert_eq!(
            SignedStatement::parse(&bare),
            Err(CoseError::MissingClaim("set"))
        );
    }

    #[test]
    fn rejects_malleable_encodings() {
        let key = PrivateKey::generate(KeyKind::Ed25519).expect("key");
        let bytes = SignedStatement::sign(&header(), b"x", &key).expect("sign");
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert!(matches!(
            CoseSign1::decode(&trailing),
            Err(CoseError::TrailingBytes { extra: 1, .. })
        ));
        // Tag 18 written in a two-byte form.
        let mut long_tag = vec![0xd8, 18];
        long_tag.extend_from_slice(&bytes[1..]);
        assert!(matches!(
            CoseSign1::decode(&long_tag),
            Err(CoseError::NotPreferred { .. })
        ));
        // An unprotected header with a duplicate label.
        let dup = [
            0xd2, 0x84, 0x40, 0xa2, 0x04, 0x41, 0x61, 0x04, 0x41, 0x62, 0xf6, 0x40,
        ];
        assert!(matches!(
            CoseSign1::decode(&dup),
            Err(CoseError::DuplicateKey { .. })
        ));
        assert_eq!(
            CoseSign1::decode(&[0xc1, 0x80]),
            Err(CoseError::WrongTag(1))
        );
    }

    #[test]
    fn critical_headers_must_be_understood() {
        let key = PrivateKey::generate(KeyKind::Ed25519).expect("key");
        let mut protected = HeaderMap::new();
        protected.insert(label::CRIT, Value::Array(vec![Value::from(99)]));
        protected.insert(99, Value::from(1));
        let msg = CoseSign1::sign(protected, HeaderMap::new(), b"x", false, &key).expect("sign");
        assert_eq!(
            msg.verify(key.public_key(), None),
            Err(CoseError::UnknownCritical("99".into()))
        );
    }

    #[test]
    fn crit_may_list_labels_outside_cosets_registry() {
        // vds (395, RFC 9942) is not in coset's registry of header parameters: coset alone
        // would refuse this crit while decoding. Ours understands it.
        let key = PrivateKey::generate(KeyKind::Ed25519).expect("key");
        let mut protected = HeaderMap::new();
        protected.insert(label::CRIT, Value::Array(vec![Value::from(label::VDS)]));
        protected.insert(label::VDS, Value::from(1));
        let bytes = CoseSign1::sign(protected, HeaderMap::new(), b"x", false, &key)
            .expect("sign")
            .encode()
            .expect("encode");
        let msg = CoseSign1::decode(&bytes).expect("decode");
        msg.verify(key.public_key(), None).expect("verify");
        // An unregistered label listed in crit decodes, and is refused at verification.
        let mut protected = HeaderMap::new();
        protected.insert(label::CRIT, Value::Array(vec![Value::from(99)]));
        protected.insert(99, Value::from(1));
        let bytes = CoseSign1::sign(protected, HeaderMap::new(), b"x", false, &key)
            .expect("sign")
            .encode()
            .expect("encode");
        assert_eq!(
            CoseSign1::decode(&bytes)
                .expect("decode")
                .verify(key.public_key(), None),
            Err(CoseError::UnknownCritical("99".into()))
        );
    }

    #[test]
    fn ill_typed_registered_headers_are_refused_by_coset() {
        let key = PrivateKey::generate(KeyKind::Ed25519).expect("key");
        // A text kid in the protected header; an empty kid in the unprotected one.
        let mut protected = HeaderMap::new();
        protected.insert(label::KID, Value::Text("k".into()));
        assert!(matches!(
            CoseSign1::sign(protected, HeaderMap::new(), b"x", false, &key),
            Err(CoseError::Cose {
                what: "the protected header",
                ..
            })
        ));
        // Unprotected `{4: h''}` in an otherwise valid message, built by hand.
        let good = CoseSign1::sign(HeaderMap::new(), HeaderMap::new(), b"x", false, &key)
            .expect("sign")
            .encode()
            .expect("encode");
        // Tag 18, array(4), protected h'a10127', then the empty unprotected map (a0).
        assert_eq!(&good[..7], &[0xd2, 0x84, 0x43, 0xa1, 0x01, 0x27, 0xa0]);
        let mut bad = good[..6].to_vec();
        bad.extend_from_slice(&[0xa1, 0x04, 0x40]);
        bad.extend_from_slice(&good[7..]);
        assert!(matches!(
            CoseSign1::decode(&bad),
            Err(CoseError::Cose {
                what: "the unprotected header",
                ..
            })
        ));
    }

    #[test]
    fn detached_payloads() {
        let key = PrivateKey::generate(KeyKind::EcdsaP256).expect("key");
        let msg =
            CoseSign1::sign(HeaderMap::new(), HeaderMap::new(), b"root", true, &key).expect("sign");
        let msg = CoseSign1::decode(&msg.encode().expect("encode")).expect("decode");
        assert_eq!(msg.payload(), None);
        assert_eq!(
            msg.verify(key.public_key(), None),
            Err(CoseError::DetachedPayloadMissing)
        );
        msg.verify(key.public_key(), Some(b"root")).expect("verify");
        assert!(msg.verify(key.public_key(), Some(b"other")).is_err());
    }

    #[test]
    fn cose_keys_round_trip() {
        let mut keys = Vec::new();
        for kind in [KeyKind::EcdsaP256, KeyKind::Ed25519] {
            let key = PrivateKey::generate(kind).expect("key");
            let ck = CoseKey::new(key.public_key().clone(), Some(b"k".to_vec())).expect("cose key");
            let bytes = ck.encode().expect("encode");
            let back = CoseKey::decode(&bytes).expect("decode");
            assert_eq!(back.public_key().spki_der(), key.public_key().spki_der());
            assert_eq!(back.kid(), Some(&b"k"[..]));
            assert_eq!(back.encode().expect("encode"), bytes);
            keys.push(ck);
        }
        let set = encode_key_set(&keys).expect("set");
        assert_eq!(decode_key_set(&set).expect("decode set").len(), 2);
        let rsa_like = PrivateKey::generate(KeyKind::EcdsaP384).expect("key");
        assert!(CoseKey::new(rsa_like.public_key().clone(), None).is_err());
    }

    #[test]
    fn ed25519_cose_key_matches_rfc_9052_layout() {
        // RFC 8037 A.1 public key; kty 1, crv 6, x, alg -8, sorted by encoded key.
        let x = hex::decode("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
            .expect("hex");
        let key = PublicKey::from_raw(Scheme::Ed25519, &x).expect("key");
        let bytes = CoseKey::new(key, None)
            .expect("cose key")
            .encode()
            .expect("encode");
        let mut expected = vec![0xa4, 0x01, 0x01, 0x03, 0x27, 0x20, 0x06, 0x21, 0x58, 0x20];
        expected.extend_from_slice(&x);
        assert_eq!(bytes, expected);
    }

    proptest! {
        #[test]
        fn parsers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = SignedStatement::parse(&bytes);
            let _ = CoseKey::decode(&bytes);
            let _ = decode_key_set(&bytes);
        }

        #[test]
        fn mutated_statements_never_panic(flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4)) {
            // A fixed statement, so mutations explore the structure around real headers.
            let key = PrivateKey::generate(KeyKind::Ed25519).expect("key");
            let mut bytes = SignedStatement::sign(&header(), b"payload", &key).expect("sign");
            for (at, b) in flips {
                let i = at.index(bytes.len());
                bytes[i] = b;
            }
            if let Ok(st) = SignedStatement::parse(&bytes) {
                let _ = st.verify(key.public_key());
                let _ = st.leaf_entry();
            }
        }
    }
}
