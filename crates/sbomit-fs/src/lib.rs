//! The filesystem edge of sbomit: walking and hashing artifacts, running step and inspection
//! commands, reading and writing metadata and key files. Everything that decides lives in
//! `sbomit-core`; this crate only touches the disk and processes.
#![forbid(unsafe_code)]

pub mod exclude;
pub mod inspect;
pub mod io;
pub mod links;
pub mod record;
pub mod run;
