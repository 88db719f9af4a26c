//! in-toto: canonical JSON, envelopes (classic `{signed, signatures}` and DSSE), layouts and
//! links (v1.0), artifact rules and Python `fnmatch` patterns, digests, in-toto Statement v1,
//! and the verification of a layout over its links.
//!
//! ### What this crate does not do
//! It does no IO: it does not read or write files, run commands, open sockets or look at the
//! clock. Callers pass bytes, parsed metadata, the verification time and the results of
//! inspections in, and get values, reports and typed errors back, so every rule is testable
//! without a disk. Keys and signatures come from `sbomit-crypto`; walking and hashing files
//! and running steps live in `sbomit-fs`.
#![forbid(unsafe_code, unused_must_use)]

pub mod canonical;
pub mod digest;
pub mod envelope;
pub mod fnmatch;
pub mod lint;
pub mod metadata;
pub mod model;
pub mod pyjson;
pub mod rule_engine;
pub mod rules;
pub mod statement;
pub mod verify;
