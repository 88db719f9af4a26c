//! The sbomit Store: a SCITT transparency service's log (RFC 9943) for signed evidence and
//! policy.
//!
//! * [`admission`] certifies a submission: it parses a COSE Signed Statement or a DSSE
//!   envelope carrying an in-toto Statement, finds the issuer among the registered
//!   identities, checks the signature and the registration policy ([`policy`]). Pure.
//! * [`backend`] persists the log on SQLite (the embedded default) or PostgreSQL: entries,
//!   content-addressed statement blobs, the RFC 9162 tree's perfect-subtree hashes, signed
//!   checkpoints, issuers, tokens, policies and service keys.
//! * [`sequencer`] batches admitted entries: one transaction and one signed checkpoint per
//!   batch; an entry is acknowledged only after its batch committed.
//! * [`Store`] ties them together and derives receipts and proofs on demand.
//!
//! It does not touch the filesystem beyond its database (and the CA certificates a PostgreSQL
//! URL's `sslrootcert` names): the service key is handed in ([`service_key::ServiceKey`]);
//! the binary keeps its file.
#![forbid(unsafe_code, unused_must_use)]

pub mod admission;
pub mod backend;
mod error;
pub mod graph;
pub mod policy;
pub mod query;
pub mod sequencer;
pub mod service_key;
mod store;
mod tail;
pub mod tokens;

pub use error::StoreError;
pub use store::{
    encode_key_set, CachedAdmission, ConsistencyProof, Deferred, EntryId, Identity,
    InclusionProofJson, Opened, Registration, Store, StoreConfig, Ticket, IDENTITY_CHANGE_TYPE,
    MIN_REFUSAL_RELOAD_INTERVAL, REGISTRATION_POLICY_TYPE,
};
