//! Integration tests of sbomit-cli, one binary (faster linking on small machines).
mod common;
mod cli;
mod document;
mod sit;
mod store;
mod store_query;
