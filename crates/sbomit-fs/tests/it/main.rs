//! Integration tests of sbomit-fs, one binary (faster linking on small machines).
mod fs;
