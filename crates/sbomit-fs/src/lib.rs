//! The filesystem edge of sbomit.
