//! The server's configuration (`[server]`-less TOML, every key optional).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use sbomit_store::sequencer::BatchConfig;
use sbomit_store::service_key::ServiceKey;
use sbomit_store::StoreConfig;

/// How `sbomit store serve` runs. Every field has a default, so an empty file is a valid
/// configuration.
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Where to listen (default `127.0.0.1:8087`).
    pub listen: SocketAddr,
    /// `sqlite://PATH` or `postgres://…` (default: `sbomit-store.db` in the working directory).
    pub database: Option<String>,
    /// The service's Ed25519 key, created when absent (default: `sbomit-store.key`).
    pub service_key: Option<PathBuf>,
    /// The log's origin for a new log (checkpoint first line, receipt `iss`).
    pub origin: Option<String>,
    /// Request bodies over this many bytes are refused with 413 before being read whole.
    pub max_body_bytes: usize,
    /// The body limit of a registration made without a submit token (when
    /// `submit_token_required` is false): anyone can send one, so it is kept small (default
    /// 4 MiB); a registration with a valid submit token gets `max_body_bytes`.
    pub max_anonymous_body_bytes: usize,
    /// GET requests need no token (default true); when false they need a read token.
    pub read_public: bool,
    /// POST /entries and POST /v1/entries need a submit token (default false).
    pub submit_token_required: bool,
    /// The shortest time between the starts of two sequencer batches.
    pub batch_interval_ms: u64,
    /// The most entries in one batch.
    pub max_batch: usize,
    /// How long a registration request waits for its entry to be durable before answering
    /// 303 (SCRAPI) or 202 (JSON API) with a locator to poll.
    pub registration_wait_ms: u64,
    /// Answer `POST /entries` as the CCF SCITT ledger's pyscitt 0.10 client expects (202 and a
    /// CBOR operation) unless the request asks for `application/cose`. See docs/store-api.md.
    pub compat_pyscitt: bool,
    /// The most event streams (`GET /v1/events`) open at once; past it a new stream gets 503
    /// with Retry-After (default 1024).
    pub max_event_streams: usize,
    /// The most event streams one client address may hold open (default 16; 429 past it).
    pub max_event_streams_per_client: usize,
    /// A request (event streams excepted) not answered within this time gets 408 when it has
    /// a body (the client was too slow sending it) or 503, and its connection is closed
    /// (default 60 s). Keep it above `registration_wait_ms`.
    pub request_timeout_ms: u64,
    /// A connection that has not sent a request's whole head within this time is closed;
    /// this also ends idle keep-alive connections (default 10 s).
    pub header_read_timeout_ms: u64,
    /// Requests without a valid token: the sustained rate one client address may make, per
    /// second (default 20; 0 turns the limit off). Past it they get 429 with Retry-After.
    pub anonymous_rate_per_sec: u32,
    /// …and the burst above that rate (default 200).
    pub anonymous_burst: u32,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8087)),
            database: None,
            service_key: None,
            origin: None,
            max_body_bytes: StoreConfig::DEFAULT_MAX_STATEMENT_BYTES,
            max_anonymous_body_bytes: Self::DEFAULT_MAX_ANONYMOUS_BODY_BYTES,
            read_public: true,
            submit_token_required: false,
            batch_interval_ms: 20,
            max_batch: 4096,
            registration_wait_ms: 5000,
            compat_pyscitt: false,
            max_event_streams: 1024,
            max_event_streams_per_client: 16,
            request_timeout_ms: 60_000,
            header_read_timeout_ms: 10_000,
            anonymous_rate_per_sec: 20,
            anonymous_burst: 200,
        }
    }
}

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("server configuration: {0}")]
    Toml(#[from] toml::de::Error),
    #[error("server configuration: {field} must be greater than 0")]
    Zero { field: &'static str },
}

impl ServerConfig {
    pub const DEFAULT_DATABASE: &'static str = "sbomit-store.db";
    pub const DEFAULT_SERVICE_KEY: &'static str = "sbomit-store.key";
    /// Large enough for a DSSE-wrapped SBOM of about 10,000 components; bounds what an
    /// anonymous request makes the server parse and hash.
    pub const DEFAULT_MAX_ANONYMOUS_BODY_BYTES: usize = 4 << 20;

    /// Parses and checks a TOML configuration.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let config: ServerConfig = toml::from_str(text)?;
        config.validate()?;
        Ok(config)
    }

    /// Refuses values that would make the server useless (a zero body limit or batch size).
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.max_body_bytes == 0 {
            return Err(ConfigError::Zero {
                field: "max_body_bytes",
            });
        }
        if self.max_anonymous_body_bytes == 0 {
            return Err(ConfigError::Zero {
                field: "max_anonymous_body_bytes",
            });
        }
        let positive = [
            ("max_batch", self.max_batch as u64),
            ("max_event_streams", self.max_event_streams as u64),
            (
                "max_event_streams_per_client",
                self.max_event_streams_per_client as u64,
            ),
            ("request_timeout_ms", self.request_timeout_ms),
            ("header_read_timeout_ms", self.header_read_timeout_ms),
        ];
        if let Some((field, _)) = positive.iter().find(|(_, v)| *v == 0) {
            return Err(ConfigError::Zero { field });
        }
        if self.anonymous_rate_per_sec > 0 && self.anonymous_burst == 0 {
            return Err(ConfigError::Zero {
                field: "anonymous_burst",
            });
        }
        Ok(())
    }

    /// Where the service key is kept (the binary loads or creates it there).
    pub fn service_key_path(&self) -> PathBuf {
        self.service_key
            .clone()
            .unwrap_or_else(|| PathBuf::from(Self::DEFAULT_SERVICE_KEY))
    }

    /// How the sequencer forms batches.
    pub fn batch_config(&self) -> BatchConfig {
        BatchConfig {
            interval: Duration::from_millis(self.batch_interval_ms),
            max_batch: self.max_batch.max(1),
        }
    }

    /// The store configuration this server configuration implies (defaults filled in), with
    /// the service key the binary loaded from [`ServerConfig::service_key_path`].
    pub fn store_config(&self, service_key: Arc<ServiceKey>) -> StoreConfig {
        let mut c = StoreConfig::new(
            self.database
                .clone()
                .unwrap_or_else(|| Self::DEFAULT_DATABASE.to_owned()),
            service_key,
        );
        c.origin = self.origin.clone();
        c.batch = self.batch_config();
        c.max_statement_bytes = self.max_body_bytes;
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_toml_is_the_default_and_unknown_keys_are_refused() {
        let c = ServerConfig::from_toml("").expect("empty config");
        assert_eq!(c.listen.port(), 8087);
        assert!(c.read_public && !c.submit_token_required && !c.compat_pyscitt);
        assert_eq!(c.max_body_bytes, 64 << 20);
        assert_eq!(c.max_anonymous_body_bytes, 4 << 20);
        assert!(ServerConfig::from_toml("max_anonymous_body_bytes = 0").is_err());
        assert!(ServerConfig::from_toml("lsiten = \"127.0.0.1:1\"").is_err());
        assert!(ServerConfig::from_toml("max_batch = 0").is_err());
        assert!(ServerConfig::from_toml("request_timeout_ms = 0").is_err());
        assert!(ServerConfig::from_toml("header_read_timeout_ms = 0").is_err());
        assert!(ServerConfig::from_toml("max_event_streams = 0").is_err());
        assert!(ServerConfig::from_toml("anonymous_burst = 0").is_err());
        let c = ServerConfig::from_toml("anonymous_rate_per_sec = 0\nanonymous_burst = 0")
            .expect("the rate limit turned off");
        assert_eq!(c.anonymous_rate_per_sec, 0);
        let c = ServerConfig::from_toml("").expect("empty config");
        assert_eq!(
            (c.max_event_streams, c.max_event_streams_per_client),
            (1024, 16)
        );
        assert_eq!(
            (c.request_timeout_ms, c.header_read_timeout_ms),
            (60_000, 10_000)
        );
        assert_eq!((c.anonymous_rate_per_sec, c.anonymous_burst), (20, 200));
        let c = ServerConfig::from_toml(
            "listen = \"0.0.0.0:9000\"\ndatabase = \"postgres://db/x\"\nread_public = false",
        )
        .expect("config");
        assert_eq!(c.listen.port(), 9000);
        let key = Arc::new(ServiceKey::generate().expect("service key"));
        assert_eq!(c.store_config(key).database, "postgres://db/x");
        assert!(!c.read_public);
        let c = ServerConfig::from_toml("compat_pyscitt = true\nregistration_wait_ms = 0")
            .expect("config");
        assert!(c.compat_pyscitt);
        assert_eq!(c.registration_wait_ms, 0);
    }
}
