//! Pure logic of sbomit.
//!
//! ### sbomit-core does no IO
//! It does not read or write files, run commands, open sockets or look at the clock: callers
//! pass bytes, parsed metadata, the verification time and the results of inspections in, and
//! get values, reports and typed errors back. That keeps every rule testable without a disk.
#![forbid(unsafe_code, unused_must_use)]

pub mod canonical;
pub mod checkpoint;
pub mod cose;
pub mod crypto;
pub mod digest;
pub mod document;
pub mod envelope;
pub mod fnmatch;
pub mod jsonpatch;
pub mod merkle;
pub mod model;
pub mod receipt;
pub mod rules;
pub mod sit;
pub mod statement;
pub mod verify;
pub mod x509;
