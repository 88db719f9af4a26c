//! Integration tests of sbomit-scitt, one binary (faster linking on small machines).
mod cose_bytes;
mod openssl_chains;
mod scitt_peer;
