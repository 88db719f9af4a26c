//! SCITT: COSE_Sign1 signed statements with their protected headers and CWT claims (strict
//! deterministic CBOR, `crit` handling), COSE keys, RFC 9942 receipts over RFC 9162 trees
//! (vds = 1), and `x5chain` certificate path validation against registered trust anchors.
//!
//! ### Built on reviewed libraries
//! * COSE structures are [`coset`]'s (headers, `Sig_structure`, CWT claims, COSE_Key and
//!   COSE_KeySet); [`cose`] keeps a strict layer on top: preferred-serialization decoding
//!   without duplicate keys or trailing bytes, deterministic (RFC 8949 §4.2.1) output, `crit`
//!   handling. What we sign and publish has the same bytes as before coset was used
//!   (`tests/it/cose_bytes.rs`).
//! * X.509 path validation is `rustls-webpki`'s, with the signature algorithms of
//!   `sbomit-crypto` (aws-lc-rs); [`x509`] adds keyCertSign on issuers, the EKU codeSigning on
//!   the leaf and the binding of the leaf to the issuer (`iss`) by subjectAltName.
//!
//! ### What this crate does not do
//! No HTTP (SCRAPI lives in `sbomit-server`), no storage, no registration policy (the Store's).
//! Merkle trees and proofs come from `sbomit-tlog`, keys and signatures from `sbomit-crypto`
//! (coset and webpki have no cryptography of their own here; no crate but `sbomit-crypto`
//! names aws-lc-rs). No COSE encryption or MAC structures, no COSE_Sign (multi-signer), no
//! algorithms but ES256 and EdDSA for statements and receipts; no X.509 revocation (CRL, OCSP)
//! or certificate policies; no clock (callers pass the validation time).
#![forbid(unsafe_code, unused_must_use)]

pub mod cose;
pub mod receipt;
pub mod x509;
