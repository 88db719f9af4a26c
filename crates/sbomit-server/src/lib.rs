//! The sbomit Store over HTTP (being built).
