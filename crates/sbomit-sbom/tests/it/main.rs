//! Integration tests of sbomit-sbom, one binary (faster linking on small machines).
mod sit_validate;
mod verification;
