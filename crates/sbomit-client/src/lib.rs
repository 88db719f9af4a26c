//! A typed, blocking client of the sbomit Store's HTTP API (`docs/store-api.md`): SCRAPI
//! registration and receipts, the service keys, the `/v1` evidence API and proofs, the
//! checkpoint, administration (issuers, trust anchors, the registration policy, tokens), the
//! graph queries and the `/v1/events` stream as an iterator.
//!
//! It does not print, parse command lines, retry dropped event streams (the caller decides;
//! every frame says where to resume) or verify what it fetches: receipts and checkpoints are
//! checked with `sbomit-scitt` and `sbomit-tlog`. Errors are [`ClientError`]s carrying the
//! status and the store's problem details.
//!
//! ### The token stays with its origin
//! A bearer token is sent only to the origin (scheme, host, port) the client was made with.
//! The store answers pending registrations with a `Location` to poll; one that names another
//! origin is followed **without** the token (the store's own locations are paths, so this
//! only matters when something between client and store rewrites them). The HTTP library's
//! own redirect following is off: every hop goes through the same check.
//!
//! ### TLS
//! `https://` stores are reached with rustls on its aws-lc-rs provider, set here explicitly,
//! so no other crypto library (ring, rustls's default) is linked.

use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde_json::Value;

mod error;
mod events;
mod types;

pub use error::{ClientError, Malformed, Problem, ProblemFormat};
pub use events::{Event, EventQuery, EventStream, StreamItem};
pub use types::*;

/// Answers are read whole up to this size: a receipt or checkpoint is small, a statement at
/// most the store's own limit, a graph answer at most 10,000 results.
const MAX_RESPONSE_BYTES: u64 = 256 << 20;
/// Error bodies are problem details: small.
const MAX_ERROR_BYTES: u64 = 1 << 20;

const COSE: &str = "application/cose";
const JSON: &str = "application/json";

/// The scheme, host and port of a URL: what a token is bound to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    scheme: String,
    host: String,
    port: u16,
}

impl Origin {
    /// The origin of an absolute `http(s)://` URL.
    pub fn of(url: &str) -> Result<Origin, ClientError> {
        let invalid = |reason| ClientError::InvalidUrl {
            url: url.to_owned(),
            reason,
        };
        let uri: ureq::http::Uri = url.parse().map_err(|_| invalid("cannot parse it"))?;
        let scheme = uri
            .scheme_str()
            .ok_or_else(|| invalid("no scheme"))?
            .to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "http" => 80,
            "https" => 443,
            _ => return Err(invalid("the scheme is not http or https")),
        };
        let host = uri
            .host()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| invalid("no host"))?
            .to_ascii_lowercase();
        Ok(Origin {
            port: uri.port_u16().unwrap_or(default_port),
            scheme,
            host,
        })
    }
}

/// A store at one base URL, with an optional bearer token.
#[derive(Clone)]
pub struct Client {
    agent: ureq::Agent,
    /// The base URL without a trailing slash; paths are appended to it.
    base: String,
    origin: Origin,
    token: Option<String>,
    timeout: Duration,
    registration_timeout: Duration,
    poll_interval: Duration,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the token.
        f.debug_struct("Client")
            .field("base", &self.base)
            .field("token", &self.token.as_ref().map(|_| "***"))
            .finish()
    }
}

enum Method {
    Get,
    Post,
    Put,
}

impl Method {
    fn name(&self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
        }
    }
}

/// An answer read whole.
struct Answer {
    url: String,
    status: u16,
    location: Option<String>,
    body: Vec<u8>,
}

impl Answer {
    fn json<T: DeserializeOwned>(&self) -> Result<T, ClientError> {
        serde_json::from_slice(&self.body).map_err(|e| self.malformed(Malformed::NotJson(e)))
    }

    fn malformed(&self, reason: Malformed) -> ClientError {
        ClientError::Malformed {
            url: self.url.clone(),
            reason,
        }
    }

    fn location(&self) -> Result<&str, ClientError> {
        self.location
            .as_deref()
            .ok_or_else(|| self.malformed(Malformed::NoLocation))
    }

    /// `Ok(self)` for the expected statuses, else the store's refusal.
    fn expect(self, ok: &[u16]) -> Result<Answer, ClientError> {
        if ok.contains(&self.status) {
            Ok(self)
        } else {
            Err(refusal(&self.url, self.status, &self.body))
        }
    }
}

fn refusal(url: &str, status: u16, body: &[u8]) -> ClientError {
    if status < 400 {
        return ClientError::Malformed {
            url: url.to_owned(),
            reason: Malformed::UnexpectedStatus(status),
        };
    }
    ClientError::Status {
        status,
        problem: Problem::from_body(body),
    }
}

/// Percent-encodes a query value (RFC 3986 unreserved characters stay).
fn encode(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `path?k=v&…`, values percent-encoded.
fn with_query(path: &str, params: &[(&str, String)]) -> String {
    if params.is_empty() {
        return path.to_owned();
    }
    let query: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect();
    format!("{path}?{}", query.join("&"))
}

/// `1.N` for an entry id given as `N` or `1.N`.
fn scrapi_id(id: &str) -> String {
    if id.contains('.') {
        id.to_owned()
    } else {
        format!("1.{id}")
    }
}

impl Client {
    /// A client of the store at `base_url` (`http(s)://host[:port][/prefix]`).
    pub fn new(base_url: &str) -> Result<Client, ClientError> {
        let origin = Origin::of(base_url)?;
        let provider = sbomit_crypto::tls_provider();
        let agent: ureq::Agent = ureq::Agent::config_builder()
            // Error statuses are answers whose body says why; they become `ClientError::Status`.
            .http_status_as_error(false)
            // Redirects are followed here, so each hop's token decision is ours.
            .max_redirects(0)
            .tls_config(
                ureq::tls::TlsConfig::builder()
                    .provider(ureq::tls::TlsProvider::Rustls)
                    .unversioned_rustls_crypto_provider(provider)
                    .build(),
            )
            .build()
            .into();
        Ok(Client {
            agent,
            base: base_url.trim_end_matches('/').to_owned(),
            origin,
            token: None,
            timeout: Duration::from_secs(120),
            registration_timeout: Duration::from_secs(120),
            poll_interval: Duration::from_millis(250),
        })
    }

    /// Sends `token` as `Authorization: Bearer` to this store's origin (an empty token is
    /// none).
    pub fn with_token(mut self, token: Option<&str>) -> Client {
        self.token = token.filter(|t| !t.is_empty()).map(str::to_owned);
        self
    }

    /// The longest one request may take (default 120 s; event streams have none).
    pub fn with_timeout(mut self, timeout: Duration) -> Client {
        self.timeout = timeout;
        self
    }

    /// How long a registration the store has not finished within its own wait is polled
    /// (default 120 s), and how often (default 250 ms).
    pub fn with_registration_polling(mut self, timeout: Duration, interval: Duration) -> Client {
        self.registration_timeout = timeout;
        self.poll_interval = interval;
        self
    }

    /// The base URL, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    // ---- requests ----

    /// A path (`/v1/…`, or a path a `Location` names) is appended to the base URL, as the
    /// store's paths are relative to where it is mounted; a full URL is taken as it is (and
    /// gets the token only on this client's origin).
    fn url(&self, path: &str) -> String {
        if path.contains("://") {
            path.to_owned()
        } else if path.starts_with('/') {
            format!("{}{path}", self.base)
        } else {
            format!("{}/{path}", self.base)
        }
    }

    /// The `Authorization` value for `url`: only for this client's own origin.
    fn auth_for(&self, url: &str) -> Result<Option<String>, ClientError> {
        let origin = Origin::of(url)?;
        Ok(self
            .token
            .as_ref()
            .filter(|_| origin == self.origin)
            .map(|t| format!("Bearer {t}")))
    }

    fn call(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<(&str, &[u8])>,
        timeout: Option<Duration>,
    ) -> Result<(String, ureq::http::Response<ureq::Body>), ClientError> {
        let url = self.url(path);
        let auth = self.auth_for(&url)?;
        let mut extra: Vec<(&str, &str)> = headers.to_vec();
        if let Some(a) = &auth {
            extra.push(("Authorization", a));
        }
        let transport = |e: ureq::Error| ClientError::Transport {
            method: method.name(),
            url: url.clone(),
            source: Box::new(e),
        };
        let result = match (&method, body) {
            (Method::Get, _) => {
                let mut req = self.agent.get(&url);
                for (k, v) in &extra {
                    req = req.header(*k, *v);
                }
                req.config().timeout_global(timeout).build().call()
            }
            (Method::Post | Method::Put, body) => {
                let mut req = match method {
                    Method::Put => self.agent.put(&url),
                    _ => self.agent.post(&url),
                };
                let (content_type, bytes) = body.unwrap_or(("application/octet-stream", &[]));
                req = req.header("Content-Type", content_type);
                for (k, v) in &extra {
                    req = req.header(*k, *v);
                }
                req.config().timeout_global(timeout).build().send(bytes)
            }
        };
        let resp = result.map_err(transport)?;
        Ok((url, resp))
    }

    fn request(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<(&str, &[u8])>,
    ) -> Result<Answer, ClientError> {
        let name = method.name();
        let (url, mut resp) = self.call(method, path, headers, body, Some(self.timeout))?;
        let status = resp.status().as_u16();
        let location = resp
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .map(str::to_owned);
        let limit = if status >= 400 {
            MAX_ERROR_BYTES
        } else {
            MAX_RESPONSE_BYTES
        };
        let body = resp
            .body_mut()
            .with_config()
            .limit(limit)
            .read_to_vec()
            .map_err(|e| ClientError::Transport {
                method: name,
                url: url.clone(),
                source: Box::new(e),
            })?;
        Ok(Answer {
            url,
            status,
            location,
            body,
        })
    }

    fn get(&self, path: &str, accept: Option<&str>) -> Result<Answer, ClientError> {
        let headers: Vec<(&str, &str)> = accept.map(|a| ("Accept", a)).into_iter().collect();
        self.request(Method::Get, path, &headers, None)
    }

    fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        self.get(path, None)?.expect(&[200])?.json()
    }

    fn get_bytes(&self, path: &str, accept: Option<&str>) -> Result<Vec<u8>, ClientError> {
        Ok(self.get(path, accept)?.expect(&[200])?.body)
    }

    /// A JSON answer typed, keeping the JSON itself in the answer's `raw`.
    fn get_raw_json<T: DeserializeOwned>(
        &self,
        path: &str,
        set_raw: impl FnOnce(&mut T, Value),
    ) -> Result<T, ClientError> {
        let answer = self.get(path, None)?.expect(&[200])?;
        let raw: Value = answer.json()?;
        let mut typed: T = serde_json::from_value(raw.clone())
            .map_err(|e| answer.malformed(Malformed::NotJson(e)))?;
        set_raw(&mut typed, raw);
        Ok(typed)
    }

    fn send_json<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: &[u8],
        ok: &[u16],
    ) -> Result<T, ClientError> {
        self.request(method, path, &[], Some((JSON, body)))?
            .expect(ok)?
            .json()
    }

    // ---- SCRAPI ----

    /// Registers a COSE Signed Statement (`POST /entries`), waiting for its receipt: a 303 to
    /// a pending operation is polled with `Accept: application/cose` until the receipt is
    /// there.
    pub fn register_cose(&self, statement: &[u8]) -> Result<CoseRegistration, ClientError> {
        let headers = [("Accept", COSE)];
        let mut answer =
            self.request(Method::Post, "/entries", &headers, Some((COSE, statement)))?;
        let deadline = Instant::now() + self.registration_timeout;
        let mut operation: Option<String> = None;
        while answer.status == 303 || answer.status == 202 {
            if Instant::now() > deadline {
                return Err(ClientError::NotDurable {
                    after: self.registration_timeout,
                });
            }
            if answer.status == 303 || operation.is_none() {
                operation = Some(answer.location()?.to_owned());
            }
            let op = operation.clone().unwrap_or_default();
            if answer.status == 202 {
                std::thread::sleep(self.poll_interval);
            }
            answer = self.get(&op, Some(COSE))?;
        }
        let answer = answer.expect(&[200, 201])?;
        let entry = answer.location()?;
        let entry_id = entry.rsplit('/').next().unwrap_or(entry).to_owned();
        Ok(CoseRegistration {
            entry_id,
            receipt: answer.body,
        })
    }

    /// `GET /entries/{1.N}`: a fresh receipt (`id` as `1.N` or `N`).
    pub fn receipt(&self, id: &str) -> Result<Vec<u8>, ClientError> {
        self.get_bytes(&format!("/entries/{}", scrapi_id(id)), None)
    }

    /// `GET /entries/{1.N}/statement`: the Transparent Statement (COSE) or, for DSSE entries,
    /// the envelope.
    pub fn transparent_statement(&self, id: &str) -> Result<Vec<u8>, ClientError> {
        self.get_bytes(&format!("/entries/{}/statement", scrapi_id(id)), None)
    }

    /// `GET /.well-known/scitt-keys`: the service's keys (retired ones kept).
    pub fn service_keys(&self) -> Result<Vec<sbomit_scitt::cose::CoseKey>, ClientError> {
        let answer = self.get("/.well-known/scitt-keys", None)?.expect(&[200])?;
        sbomit_scitt::cose::decode_key_set(&answer.body)
            .map_err(|e| answer.malformed(Malformed::NotCoseKey(e)))
    }

    /// `GET /.well-known/scitt-keys` as served: the COSE_KeySet's bytes.
    pub fn service_key_set_bytes(&self) -> Result<Vec<u8>, ClientError> {
        self.get_bytes("/.well-known/scitt-keys", None)
    }

    /// `GET /.well-known/scitt-keys/{kid}` (`kid` in hex or unpadded base64url).
    pub fn service_key(&self, kid: &str) -> Result<sbomit_scitt::cose::CoseKey, ClientError> {
        let answer = self
            .get(&format!("/.well-known/scitt-keys/{kid}"), None)?
            .expect(&[200])?;
        sbomit_scitt::cose::CoseKey::decode(&answer.body)
            .map_err(|e| answer.malformed(Malformed::NotCoseKey(e)))
    }

    /// `GET /.well-known/transparency-configuration` (the JSON form).
    pub fn transparency_configuration(&self) -> Result<TransparencyConfiguration, ClientError> {
        self.get_json("/.well-known/transparency-configuration")
    }

    /// `GET /jwks`: the service keys as a JWK set.
    pub fn jwks(&self) -> Result<Value, ClientError> {
        self.get_json("/jwks")
    }

    /// `GET /checkpoint`: the newest signed checkpoint (a C2SP signed note), unverified.
    pub fn checkpoint(&self) -> Result<String, ClientError> {
        let answer = self.get("/checkpoint", None)?.expect(&[200])?;
        let url = answer.url;
        String::from_utf8(answer.body).map_err(|e| ClientError::Malformed {
            url,
            reason: Malformed::NotText(e),
        })
    }

    // ---- the /v1 evidence API ----

    /// Registers a DSSE envelope (`POST /v1/entries`); a 202 is polled until the entry is
    /// durable.
    pub fn register_dsse(&self, envelope: &[u8]) -> Result<DsseRegistration, ClientError> {
        let answer = self.request(Method::Post, "/v1/entries", &[], Some((JSON, envelope)))?;
        let (value, duplicate): (Value, bool) = match answer.status {
            200 | 201 => {
                let v: Value = answer.json()?;
                let duplicate = v.get("duplicate") == Some(&Value::Bool(true));
                (v, duplicate)
            }
            // Accepted, not yet durable: the operation says when it is.
            202 => {
                let op = answer.location()?.to_owned();
                let deadline = Instant::now() + self.registration_timeout;
                loop {
                    if Instant::now() > deadline {
                        return Err(ClientError::NotDurable {
                            after: self.registration_timeout,
                        });
                    }
                    std::thread::sleep(self.poll_interval);
                    let polled = self.get(&op, None)?.expect(&[200])?;
                    let v: Value = polled.json()?;
                    match v.get("status").and_then(Value::as_str) {
                        Some("running") => continue,
                        Some("succeeded") => break (v, false),
                        _ => return Err(ClientError::RegistrationFailed),
                    }
                }
            }
            status => return Err(refusal(&answer.url, status, &answer.body)),
        };
        let index = value
            .get("index")
            .and_then(Value::as_u64)
            .ok_or_else(|| answer.malformed(Malformed::NotJson(missing("index"))))?;
        let entry_id = value
            .get("entryId")
            .and_then(Value::as_str)
            .map_or_else(|| format!("1.{index}"), str::to_owned);
        Ok(DsseRegistration {
            entry_id,
            index,
            duplicate,
        })
    }

    /// `GET /v1/operations/{sha256}`.
    pub fn operation(&self, id: &str) -> Result<Operation, ClientError> {
        self.get_json(&format!("/v1/operations/{id}"))
    }

    /// `GET /v1/entries/{N}`: an entry's metadata and statement.
    pub fn entry(&self, index: u64) -> Result<Entry, ClientError> {
        self.get_json(&format!("/v1/entries/{index}"))
    }

    /// `GET /v1/entries/{N}/receipt`: a fresh receipt (for DSSE the leaf is the envelope).
    pub fn entry_receipt(&self, index: u64) -> Result<Vec<u8>, ClientError> {
        self.get_bytes(&format!("/v1/entries/{index}/receipt"), None)
    }

    /// `GET /v1/proofs/inclusion?index=N[&treeSize=M]`.
    pub fn inclusion_proof(
        &self,
        index: u64,
        tree_size: Option<u64>,
    ) -> Result<InclusionProof, ClientError> {
        let mut q = vec![("index", index.to_string())];
        if let Some(t) = tree_size {
            q.push(("treeSize", t.to_string()));
        }
        self.get_json(&with_query("/v1/proofs/inclusion", &q))
    }

    /// `GET /v1/proofs/consistency?first=A&second=B`.
    pub fn consistency_proof(
        &self,
        first: u64,
        second: u64,
    ) -> Result<ConsistencyProof, ClientError> {
        let q = [("first", first.to_string()), ("second", second.to_string())];
        self.get_json(&with_query("/v1/proofs/consistency", &q))
    }

    /// `GET /v1/registration-policy[?version=N]`.
    pub fn registration_policy(&self, version: Option<i64>) -> Result<PolicyVersion, ClientError> {
        let q: Vec<(&str, String)> = version
            .map(|v| ("version", v.to_string()))
            .into_iter()
            .collect();
        self.get_json(&with_query("/v1/registration-policy", &q))
    }

    /// `GET /v1/openapi.json`.
    pub fn openapi(&self) -> Result<Value, ClientError> {
        self.get_json("/v1/openapi.json")
    }

    // ---- administration (admin token) ----

    /// `POST /v1/admin/issuers`: registers an issuer key (SPKI PEM) with a role.
    pub fn add_issuer(
        &self,
        iss: &str,
        role: Role,
        public_key_pem: &str,
    ) -> Result<IssuerChange, ClientError> {
        let body = serde_json::json!({ "iss": iss, "role": role.as_str(), "publicKeyPem": public_key_pem });
        self.send_json(
            Method::Post,
            "/v1/admin/issuers",
            body.to_string().as_bytes(),
            &[200, 201],
        )
    }

    /// `POST /v1/admin/issuers`: registers an X.509 trust anchor (CA certificate PEM) the
    /// issuer's COSE `x5chain`s must lead to.
    pub fn add_trust_anchor(
        &self,
        iss: &str,
        role: Role,
        certificate_pem: &str,
    ) -> Result<IssuerChange, ClientError> {
        let body = serde_json::json!({ "iss": iss, "role": role.as_str(), "trustAnchorPem": certificate_pem });
        self.send_json(
            Method::Post,
            "/v1/admin/issuers",
            body.to_string().as_bytes(),
            &[200, 201],
        )
    }

    /// `GET /v1/admin/issuers`.
    pub fn issuers(&self) -> Result<Vec<Issuer>, ClientError> {
        Ok(self.get_json::<Issuers>("/v1/admin/issuers")?.issuers)
    }

    /// `PUT /v1/admin/registration-policy`: a new policy version (the policy JSON).
    pub fn set_registration_policy(&self, policy: &[u8]) -> Result<PolicyChange, ClientError> {
        self.send_json(Method::Put, "/v1/admin/registration-policy", policy, &[200])
    }

    /// `POST /v1/admin/tokens`: a new API token, shown once.
    pub fn create_token(&self, scope: Scope, label: &str) -> Result<NewToken, ClientError> {
        let body = serde_json::json!({ "scope": scope.as_str(), "label": label });
        self.send_json(
            Method::Post,
            "/v1/admin/tokens",
            body.to_string().as_bytes(),
            &[201],
        )
    }

    // ---- graph queries ----

    fn graph(&self, path: &str, params: &[(&str, String)]) -> Result<GraphAnswer, ClientError> {
        self.get_raw_json(&with_query(path, params), |a: &mut GraphAnswer, raw| {
            a.raw = raw
        })
    }

    /// `GET /v1/query/components`: what is inside the artifact, transitively.
    pub fn components(&self, target: Target<'_>, walk: &Walk) -> Result<GraphAnswer, ClientError> {
        let mut q = vec![target.param()];
        walk.params(&mut q);
        self.graph("/v1/query/components", &q)
    }

    /// `GET /v1/query/dependents`: the artifacts containing the component, transitively.
    pub fn dependents(&self, target: Target<'_>, walk: &Walk) -> Result<GraphAnswer, ClientError> {
        let mut q = vec![target.param()];
        walk.params(&mut q);
        self.graph("/v1/query/dependents", &q)
    }

    /// `GET /v1/query/affected`: the artifacts a vulnerability affects, VEX taken into account.
    pub fn affected(&self, vuln: &str, walk: &Walk) -> Result<GraphAnswer, ClientError> {
        let mut q = vec![("vuln", vuln.to_owned())];
        walk.params(&mut q);
        self.graph("/v1/query/affected", &q)
    }

    /// `GET /v1/query/evidence`: the entries about a target or by an issuer.
    pub fn evidence(&self, query: &EvidenceQuery) -> Result<EvidenceAnswer, ClientError> {
        let path = with_query("/v1/query/evidence", &query.params());
        self.get_raw_json(&path, |a: &mut EvidenceAnswer, raw| a.raw = raw)
    }

    // ---- events ----

    /// Opens `GET /v1/events`. The answer's head has arrived when this returns, so the
    /// stream is subscribed: entries registered from now on will be in it.
    pub fn events(&self, query: &EventQuery) -> Result<EventStream, ClientError> {
        let path = with_query("/v1/events", &query.params());
        let resume = query.after.map(|n| n.to_string());
        let mut headers = vec![("Accept", "text/event-stream")];
        if let Some(n) = &resume {
            headers.push(("Last-Event-ID", n));
        }
        let (url, mut resp) = self.call(Method::Get, &path, &headers, None, None)?;
        let status = resp.status().as_u16();
        if status != 200 {
            let body = resp
                .body_mut()
                .with_config()
                .limit(MAX_ERROR_BYTES)
                .read_to_vec()
                .unwrap_or_default();
            return Err(refusal(&url, status, &body));
        }
        Ok(EventStream::new(resp.into_body(), query.silence))
    }
}

/// The error of a JSON answer that lacks a field.
fn missing(field: &'static str) -> serde_json::Error {
    <serde_json::Error as serde::de::Error>::missing_field(field)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(
            with_query("/p", &[("purl", "pkg:npm/a@1".into())]),
            "/p?purl=pkg%3Anpm%2Fa%401"
        );
    }

    #[test]
    fn origins_compare_scheme_host_and_port() -> Result<(), ClientError> {
        let a = Origin::of("http://127.0.0.1:8087/prefix")?;
        assert_eq!(a, Origin::of("HTTP://127.0.0.1:8087/other?x=1")?);
        assert_ne!(a, Origin::of("http://127.0.0.1:8088/prefix")?);
        assert_ne!(a, Origin::of("https://127.0.0.1:8087/prefix")?);
        assert_ne!(a, Origin::of("http://localhost:8087/prefix")?);
        assert_eq!(
            Origin::of("https://store.example/")?,
            Origin::of("https://store.example:443")?
        );
        assert!(matches!(
            Origin::of("ftp://store.example"),
            Err(ClientError::InvalidUrl { .. })
        ));
        assert!(matches!(
            Origin::of("/entries/1.2"),
            Err(ClientError::InvalidUrl { .. })
        ));
        Ok(())
    }

    #[test]
    fn problem_summaries_keep_scrapi_titles_and_v1_details() {
        let json =
            br#"{"type":"about:blank","title":"Bad Request","status":400,"detail":"depth 0"}"#;
        assert_eq!(
            Problem::from_body(json).summary().as_deref(),
            Some("depth 0")
        );
        let mut cbor = Vec::new();
        ciborium::ser::into_writer(
            &ciborium::value::Value::Map(vec![
                (
                    ciborium::value::Value::Integer((-1).into()),
                    ciborium::value::Value::Text("Unknown Issuer".into()),
                ),
                (
                    ciborium::value::Value::Integer((-2).into()),
                    ciborium::value::Value::Text("no issuer x".into()),
                ),
            ]),
            &mut cbor,
        )
        .map_err(|_| ClientError::RegistrationFailed)
        .ok();
        assert_eq!(
            Problem::from_body(&cbor).summary().as_deref(),
            Some("Unknown Issuer: no issuer x")
        );
        assert_eq!(Problem::from_body(b"").summary(), None);
    }
}
