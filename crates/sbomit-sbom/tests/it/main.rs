//! Integration tests of sbomit-sbom, one binary (faster linking on small machines).
mod json_patch_suite;
mod read;
mod sit_read_back;
mod sit_schema;
mod sit_validate;
mod verification;
