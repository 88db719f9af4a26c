//! Integration tests of sbomit-store, one binary (faster linking on small machines).
mod admission;
mod common;
mod graph;
mod graph_extract;
mod pg_connection;
mod pg_plans;
mod store;
mod tokens;
