//! The client's integration tests: one binary, one module per concern.
mod events;
mod fake;
mod token_origin;
