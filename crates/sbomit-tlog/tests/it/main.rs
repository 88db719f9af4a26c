//! Integration tests of sbomit-tlog: one binary (see docs/architecture.md). Most of the crate's
//! tests are unit tests beside the code; these guard inputs found by fuzzing (docs/fuzzing.md).
mod checkpoint_fuzz_regressions;
