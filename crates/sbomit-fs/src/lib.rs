//! The filesystem edge of sbomit: walking and hashing artifacts, running step and inspection
//! commands, reading and writing metadata and key files. Everything that decides lives in the
//! specification crates (`sbomit-intoto`, `sbomit-sbom`, ...); this crate only touches the disk
//! and processes.
//!
//! ### What this crate does not do
//! It never changes the process's current directory: a command runs in a directory given to
//! it (`Command::current_dir`), so threads and callers never see the directory move.
#![forbid(unsafe_code)]

pub mod exclude;
pub mod inspect;
pub mod io;
#[cfg(unix)]
mod job;
pub mod links;
pub mod record;
pub mod run;
