//! Verification outcomes as data: what a document's and a SIT's verification checked, what
//! passed, what failed and what could not be checked (and why). A failed check is part of the
//! outcome; an `Err` means the input could not be verified at all (malformed, unreadable).
//!
//! This module sits above [`crate::document`] and [`crate::sit`] and uses both; neither uses
//! it, so the modules form no cycle.

pub mod document;
pub mod sit;
pub mod sits;
