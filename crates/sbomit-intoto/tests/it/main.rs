//! Integration tests of sbomit-intoto, one binary (faster linking on small machines).
mod canonical_peer;
mod envelope_interop;
mod fuzz_regressions;
mod parsers_never_panic;
mod verify_chain;
