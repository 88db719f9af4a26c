//! Integration tests of sbomit-store, one binary (faster linking on small machines).
mod common;
mod admission;
mod graph;
mod graph_extract;
mod store;
