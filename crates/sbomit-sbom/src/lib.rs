//! SBOMit: the SBOMit document (layout, links, mutation, addenda), RFC 6902 JSON Patch
//! mutations, SITs (CycloneDX 1.2–1.7, SPDX 2.3, SPDX 3.0.1) derived from a verified document,
//! their signatures (DSSE Statements, JSF), lockfile readers, the verification of documents and
//! SITs (light and full), whose outcomes are data ([`verification`]); and the readers of SBOMs,
//! vulnerability reports and VEX documents (CycloneDX, SPDX 2.3 and 3, OSV, OpenVEX, in-toto
//! vulns) into graph facts ([`read`]), which the Store indexes.
//!
//! ### What this crate does not do
//! It does no IO: documents, links and lockfiles come in as bytes or parsed values, SITs go out
//! through `std::io::Write`. It does not run inspections (`sbomit-fs` does, at the edge, through
//! the runner a caller passes in) and it does not store or transmit anything. It does not open
//! COSE envelopes (`sbomit-scitt` does; the Store hands the readers their payloads) nor check
//! any signature on what it reads.
#![forbid(unsafe_code, unused_must_use)]

pub mod diff;
pub mod document;
pub mod format;
pub mod jsonpatch;
pub mod read;
pub mod roles;
pub mod sit;
pub mod steps;
pub mod verification;
