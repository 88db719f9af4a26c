//! Integration tests of sbomit-crypto, one binary (faster linking on small machines).
mod crypto_interop;
