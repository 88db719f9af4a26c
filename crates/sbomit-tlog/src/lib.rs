//! Transparency logs: RFC 9162 SHA-256 Merkle trees (inclusion and consistency proofs, their
//! verification, an in-memory tree) and C2SP signed notes and checkpoints.
//!
//! ### What this crate does not do
//! It is transport- and storage-agnostic: no HTTP, no tiles, no database. Stores pass their
//! hashes in through [`merkle::HashReader`]-style callbacks and keep them where they like.
#![forbid(unsafe_code, unused_must_use)]

pub mod checkpoint;
pub mod merkle;
