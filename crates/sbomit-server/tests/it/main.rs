//! Integration tests of sbomit-server, one binary (faster linking on small machines).
mod common;
mod events;
mod graph_http;
mod hostile;
mod limits;
mod server;
mod trust_anchor;
