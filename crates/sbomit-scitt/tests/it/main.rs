//! Integration tests of sbomit-scitt, one binary (faster linking on small machines).
mod cose_bytes;
mod scitt_peer;
