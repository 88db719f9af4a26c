//! Integration tests of sbomit-cli, one binary (faster linking on small machines).
mod cli;
mod common;
mod document;
mod errors;
mod help;
mod job;
mod layout_lint;
mod sit;
mod store;
mod store_query;
mod trust_model;
