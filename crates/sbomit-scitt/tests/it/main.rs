//! Integration tests of sbomit-scitt, one binary (faster linking on small machines).
mod scitt_peer;
