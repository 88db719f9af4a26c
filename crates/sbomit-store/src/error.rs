use crate::admission::Refusal;

/// Why a store operation failed. Refusals of a submission are [`StoreError::Refused`]; the
/// rest are the store's own trouble (database, key, configuration).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error("SQLite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("PostgreSQL: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    /// The pool's own trouble (a connection's is [`StoreError::Postgres`]).
    #[error("PostgreSQL connection pool: {0}")]
    PostgresPool(#[source] deadpool_postgres::PoolError),
    #[error("PostgreSQL TLS: {0}")]
    PostgresTls(#[source] rustls::Error),
    #[error("database URL parameter {name}: {reason}")]
    DatabaseParameter { name: String, reason: String },
    #[error("unsupported database URL {0:?} (expected sqlite://PATH or postgres://…)")]
    DatabaseUrl(String),
    #[error("the database is from a newer sbomit (schema {found}, this build knows {known})")]
    Schema { found: i64, known: i64 },
    #[error("the stored log is inconsistent: {0}")]
    Corrupt(String),
    #[error("the service key: {0}")]
    ServiceKey(#[from] crate::service_key::ServiceKeyError),
    #[error("no entry {0}")]
    NoEntry(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("appending the batch failed: {0}")]
    Append(String),
    #[error("the sequencer stopped")]
    SequencerStopped,
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// A COSE structure of the service's own (its key, a statement it signs, its key set).
    #[error("the service's COSE structure: {0}")]
    Cose(#[from] sbomit_scitt::cose::CoseError),
    #[error("signing a checkpoint: {0}")]
    Checkpoint(#[from] sbomit_tlog::checkpoint::NoteError),
    #[error("the system's random source: {0}")]
    Random(#[source] sbomit_crypto::KeyError),
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        match e {
            // Connecting failed: the database's error says why, without the pool's wrapping.
            deadpool_postgres::PoolError::Backend(e) => StoreError::Postgres(e),
            other => StoreError::PostgresPool(other),
        }
    }
}

impl StoreError {
    pub(crate) fn corrupt(what: impl Into<String>) -> Self {
        StoreError::Corrupt(what.into())
    }
}
