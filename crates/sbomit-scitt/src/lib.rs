//! SCITT: COSE_Sign1 signed statements with their protected headers and CWT claims (strict
//! deterministic CBOR, `crit` handling), COSE keys, RFC 9942 receipts over RFC 9162 trees
//! (vds = 1), and `x5chain` certificate path validation against registered trust anchors.
//!
//! ### What this crate does not do
//! No HTTP (SCRAPI lives in `sbomit-server`), no storage, no registration policy (the Store's).
//! Merkle trees and proofs come from `sbomit-tlog`, keys and signatures from `sbomit-crypto`.
#![forbid(unsafe_code, unused_must_use)]

pub mod cose;
pub mod receipt;
pub mod x509;
