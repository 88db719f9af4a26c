//! Graph-aware queries over the store's index (issue 5), under `/v1/query`: evidence about an
//! artifact or by an issuer, the components of an artifact, the artifacts that contain a
//! component, and the artifacts a vulnerability affects after VEX. Each question is one
//! request: the store walks the graph server-side, and every answer names the log indexes of
//! the evidence it rests on (so a client can fetch their receipts) and the database round
//! trips it took. Also `GET /v1/openapi.json`, the API's description.
//!
//! Query strings are parsed here rather than by `serde_urlencoded` because `type` repeats.

use std::time::Duration;

use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use sbomit_store::backend::{EntryRecord, EvidenceFilter};
use sbomit_store::query::{GraphAnswer, Reached, Target, Walk, MAX_DEPTH, MAX_PAGE};
use sbomit_store::EntryId;

use crate::problem::{ApiError, JsonProblem};
use crate::state::AppState;

type ApiResult = Result<Response, JsonProblem>;

/// The OpenAPI 3.1 description of the JSON API, written by hand next to this file.
const OPENAPI: &str = include_str!("openapi.json");

/// Evidence entries per page unless `limit` says otherwise.
const DEFAULT_EVIDENCE_LIMIT: usize = 100;
/// The longest a query waits for `minIndexed`: the index normally trails the log by
/// milliseconds, so a longer wait means trouble the answer's `minIndexedReached` shows.
const MAX_INDEX_WAIT: Duration = Duration::from_secs(10);

fn json_response(value: &Value) -> Response {
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        value.to_string(),
    )
        .into_response()
}

pub(crate) fn millis_to_rfc3339(ms: i64) -> Option<String> {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

// ---- query strings ----

/// Whether every `%` in a query string starts a two-hex-digit escape. `form_urlencoded`
/// passes a malformed escape through as text; we refuse it, so that a mangled parameter is a
/// 400 rather than a different question.
fn escapes_well_formed(raw: &str) -> bool {
    let b = raw.as_bytes();
    b.iter().enumerate().all(|(i, &c)| {
        c != b'%'
            || b.get(i + 1..i + 3)
                .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit))
    })
}

/// A parsed query string: the pairs in order, repeated names kept.
pub(crate) struct Params(Vec<(String, String)>);

impl Params {
    /// Parses `raw`, refusing names not in `allowed` (a typo should not widen a query).
    pub(crate) fn parse(raw: Option<&str>, allowed: &[&str]) -> Result<Params, ApiError> {
        let mut pairs = Vec::new();
        for part in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            // Decoded bytes that are not UTF-8 are refused too: the crate would replace them.
            let decoded = escapes_well_formed(part)
                .then(|| form_urlencoded::parse(part.as_bytes()).next())
                .flatten()
                .filter(|(k, v)| !k.contains('\u{FFFD}') && !v.contains('\u{FFFD}'));
            let Some((k, v)) = decoded else {
                return Err(ApiError::bad_request(format!(
                    "the query parameter {part:?} is not well encoded"
                )));
            };
            let (k, v) = (k.into_owned(), v.into_owned());
            if !allowed.contains(&k.as_str()) {
                return Err(ApiError::bad_request(format!(
                    "unknown query parameter {k:?}; this resource takes {}",
                    allowed.join(", ")
                )));
            }
            pairs.push((k, v));
        }
        Ok(Params(pairs))
    }

    /// The one value of `name`, if given; given twice is an error.
    pub(crate) fn one(&self, name: &str) -> Result<Option<&str>, ApiError> {
        let mut values = self.0.iter().filter(|(k, v)| k == name && !v.is_empty());
        let first = values.next().map(|(_, v)| v.as_str());
        if values.next().is_some() {
            return Err(ApiError::bad_request(format!(
                "the query parameter {name:?} is given more than once"
            )));
        }
        Ok(first)
    }

    /// Every value of a repeatable `name`, empty ones dropped.
    pub(crate) fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn number<T: std::str::FromStr>(&self, name: &str) -> Result<Option<T>, ApiError> {
        match self.one(name)? {
            None => Ok(None),
            Some(v) => v.trim().parse().map(Some).map_err(|_| {
                ApiError::bad_request(format!("{name}={v:?} is not a non-negative integer"))
            }),
        }
    }
}

/// An instant as RFC 3339 or milliseconds since the epoch.
fn parse_time(name: &str, v: &str) -> Result<i64, ApiError> {
    let v = v.trim();
    if let Ok(ms) = v.parse::<i64>() {
        return Ok(ms);
    }
    chrono::DateTime::parse_from_rfc3339(v)
        .map(|t| t.timestamp_millis())
        .map_err(|_| {
            ApiError::bad_request(format!(
                "{name}={v:?} is neither RFC 3339 nor milliseconds since the epoch"
            ))
        })
}

const TARGET_FIELDS: [&str; 4] = ["digest", "purl", "key", "name"];

/// The one target of a query (`digest=`, `purl=`, `key=` or `name=`), or `None`.
fn target(p: &Params) -> Result<Option<Target>, ApiError> {
    let mut found = None;
    for field in TARGET_FIELDS {
        if let Some(v) = p.one(field)? {
            if found.is_some() {
                return Err(ApiError::bad_request(
                    "give one of digest, purl, key or name, not several",
                ));
            }
            found = Some(
                Target::from_pair(field, v)
                    .ok_or_else(|| ApiError::bad_request(format!("{field}= is empty")))?,
            );
        }
    }
    Ok(found)
}

fn walk(p: &Params) -> Result<Walk, ApiError> {
    let mut w = Walk::default();
    if let Some(d) = p.number::<u32>("depth")? {
        if d == 0 || d > MAX_DEPTH {
            return Err(ApiError::bad_request(format!(
                "depth={d}: between 1 and {MAX_DEPTH}"
            )));
        }
        w.max_depth = d;
    }
    if let Some(o) = p.number::<usize>("offset")? {
        w.offset = o;
    }
    if let Some(l) = p.number::<usize>("limit")? {
        w.limit = page_limit(l)?;
    }
    Ok(w)
}

fn page_limit(l: usize) -> Result<usize, ApiError> {
    if l == 0 || l > MAX_PAGE {
        return Err(ApiError::bad_request(format!(
            "limit={l}: between 1 and {MAX_PAGE}"
        )));
    }
    Ok(l)
}

// ---- answers ----

/// Where the log stood when the query ran: its committed size (free: the store's watch), and
/// whether the graph index covered the `minIndexed` entries the client asked for.
struct Coverage {
    tree_size: u64,
    min_indexed: Option<(u64, bool)>,
}

impl Coverage {
    fn add_to(&self, v: &mut Value) {
        v["treeSize"] = json!(self.tree_size);
        if let Some((min, reached)) = self.min_indexed {
            v["minIndexed"] = json!(min);
            v["minIndexedReached"] = json!(reached);
        }
    }
}

/// Waits (blocking) for the index to cover `min` entries. The wait's polling is not counted
/// in `dbRoundTrips`: it is waiting for the index, not answering the question.
fn coverage(
    store: &sbomit_store::Store,
    min: Option<u64>,
) -> Result<Coverage, sbomit_store::StoreError> {
    let min_indexed = match min {
        Some(min) => Some((min, store.wait_indexed(min, MAX_INDEX_WAIT)?)),
        None => None,
    };
    Ok(Coverage {
        tree_size: *store.watch_size().borrow(),
        min_indexed,
    })
}

fn reached_json(r: &Reached) -> Value {
    let mut v = json!({
        "node": r.node,
        "depth": r.depth,
        "path": r.path,
        "evidence": r.evidence,
    });
    if r.artifact {
        v["artifact"] = json!(true);
    }
    v
}

fn graph_json(a: &GraphAnswer, trips: u32, c: &Coverage) -> Value {
    let mut v = json!({
        "roots": a.roots,
        "results": a.results.iter().map(reached_json).collect::<Vec<_>>(),
        "evidence": a.evidence,
        "total": a.total,
        "dbRoundTrips": trips,
    });
    c.add_to(&mut v);
    if let Some(n) = a.next_offset {
        v["nextOffset"] = json!(n);
    }
    v
}

/// An evidence entry as answers and events show it.
pub(crate) fn entry_summary(e: &EntryRecord) -> Value {
    json!({
        "index": e.index,
        "entryId": EntryId(e.index).to_string(),
        "kind": e.kind.name(),
        "iss": e.iss,
        "sub": e.sub,
        "type": e.statement_type,
        "subjects": serde_json::from_str::<Value>(&e.subjects).unwrap_or(Value::Null),
        "registeredAt": millis_to_rfc3339(e.registered_ms),
        "policyVersion": e.policy_version,
    })
}

// ---- handlers ----

const EVIDENCE_PARAMS: &[&str] = &[
    "digest",
    "purl",
    "key",
    "name",
    "iss",
    "sub",
    "type",
    "issuer",
    "since",
    "until",
    "after",
    "limit",
    "status",
    "minIndexed",
];

/// `GET /v1/query/evidence`: the entries about a target (`digest|purl|key|name`) or by an
/// issuer (`iss[&sub]`), filtered by `type` (repeatable), `issuer`, `since`, `until`, paged
/// by `after` (an index) and `limit`. `status=true` adds how each entry was indexed (one
/// more round trip per entry).
pub async fn get_evidence(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    state.require_read(&headers).await?;
    let p = Params::parse(raw.as_deref(), EVIDENCE_PARAMS)?;
    let target = target(&p)?;
    let iss = p.one("iss")?.map(str::to_owned);
    let sub = p.one("sub")?.map(str::to_owned);
    match (&target, &iss) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request(
                "ask about a target (digest, purl, key, name) or an issuer (iss), not both",
            )
            .into())
        }
        (None, None) => {
            return Err(ApiError::bad_request(
                "say what the evidence is about: digest=, purl=, key=, name= or iss= (with sub=)",
            )
            .into())
        }
        _ => {}
    }
    if sub.is_some() && iss.is_none() {
        return Err(ApiError::bad_request("sub= goes with iss=").into());
    }
    let filter = EvidenceFilter {
        types: p.all("type").map(str::to_owned).collect(),
        iss: p.one("issuer")?.map(str::to_owned),
        since_ms: p
            .one("since")?
            .map(|v| parse_time("since", v))
            .transpose()?,
        until_ms: p
            .one("until")?
            .map(|v| parse_time("until", v))
            .transpose()?,
        after: p.number("after")?,
        limit: match p.number::<usize>("limit")? {
            Some(l) => page_limit(l)?,
            None => DEFAULT_EVIDENCE_LIMIT,
        },
    };
    let with_status = match p.one("status")? {
        None | Some("false") => false,
        Some("true") => true,
        Some(v) => {
            return Err(ApiError::bad_request(format!("status={v:?}: true or false")).into())
        }
    };
    let min_indexed = p.number::<u64>("minIndexed")?;
    let limit = filter.limit;
    let (roots, entries, statuses, trips, cov) = state
        .blocking("answering an evidence query", move |s| {
            let cov = coverage(s, min_indexed)?;
            let about = match (&target, &iss) {
                (Some(t), _) => Ok(t),
                (None, iss) => Err((iss.as_deref().unwrap_or_default(), sub.as_deref())),
            };
            let (roots, entries, trips) = s.evidence(about, &filter)?;
            let mut statuses = Vec::new();
            if with_status {
                for e in &entries {
                    statuses.push(s.index_status(e.index)?);
                }
            }
            let trips = trips + statuses.len() as u32;
            Ok((roots, entries, statuses, trips, cov))
        })
        .await?;
    let list: Vec<Value> = entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let mut v = entry_summary(e);
            if with_status {
                v["indexStatus"] = match statuses.get(i).cloned().flatten() {
                    Some((kind, unparsed)) => json!({ "kind": kind, "unparsed": unparsed }),
                    // Not indexed yet: the index trails the log by a moment.
                    None => json!({ "kind": null, "unparsed": null, "pending": true }),
                };
            }
            v
        })
        .collect();
    let mut body = json!({
        "roots": roots,
        "entries": list,
        "evidence": entries.iter().map(|e| e.index).collect::<Vec<_>>(),
        "dbRoundTrips": trips,
    });
    cov.add_to(&mut body);
    if entries.len() == limit {
        if let Some(last) = entries.last() {
            body["nextAfter"] = json!(last.index);
        }
    }
    Ok(json_response(&body))
}

const GRAPH_PARAMS: &[&str] = &[
    "digest",
    "purl",
    "key",
    "name",
    "depth",
    "offset",
    "limit",
    "minIndexed",
];

#[derive(Clone, Copy)]
enum Direction {
    Components,
    Dependents,
}

async fn walk_query(
    state: AppState,
    headers: HeaderMap,
    raw: Option<String>,
    direction: Direction,
) -> ApiResult {
    state.require_read(&headers).await?;
    let p = Params::parse(raw.as_deref(), GRAPH_PARAMS)?;
    let target = target(&p)?.ok_or_else(|| {
        ApiError::bad_request("say what to walk from: digest=, purl=, key= or name=")
    })?;
    let walk = walk(&p)?;
    let min_indexed = p.number::<u64>("minIndexed")?;
    let (answer, trips, cov) = state
        .blocking("answering a graph query", move |s| {
            let cov = coverage(s, min_indexed)?;
            let answer = match direction {
                Direction::Components => s.components(&target, &walk)?,
                Direction::Dependents => s.dependents(&target, &walk)?,
            };
            let trips = answer.db_round_trips;
            Ok((answer, trips, cov))
        })
        .await?;
    Ok(json_response(&graph_json(&answer, trips, &cov)))
}

/// `GET /v1/query/components?digest=|purl=|key=|name=&depth=&offset=&limit=`: what is
/// inside an artifact, transitively, each with its path from the artifact.
pub async fn get_components(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    walk_query(state, headers, raw, Direction::Components).await
}

/// `GET /v1/query/dependents?…`: the artifacts that contain a component, transitively.
pub async fn get_dependents(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    walk_query(state, headers, raw, Direction::Dependents).await
}

const AFFECTED_PARAMS: &[&str] = &["vuln", "depth", "offset", "limit", "minIndexed"];

/// `GET /v1/query/affected?vuln=ID&depth=&offset=&limit=`: the artifacts a vulnerability
/// affects, VEX statements taken into account, with the path down to the vulnerable
/// component.
pub async fn get_affected(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    state.require_read(&headers).await?;
    let p = Params::parse(raw.as_deref(), AFFECTED_PARAMS)?;
    let vuln = p
        .one("vuln")?
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::bad_request("vuln= names the vulnerability (CVE-…, GHSA-…)"))?
        .to_owned();
    let walk = walk(&p)?;
    let min_indexed = p.number::<u64>("minIndexed")?;
    let id = vuln.clone();
    let (answer, trips, cov) = state
        .blocking("answering an impact query", move |s| {
            let cov = coverage(s, min_indexed)?;
            let answer = s.affected(&id, &walk)?;
            let trips = answer.db_round_trips;
            Ok((answer, trips, cov))
        })
        .await?;
    let mut body = graph_json(&answer, trips, &cov);
    body["vulnerability"] = json!(vuln);
    Ok(json_response(&body))
}

/// `GET /v1/openapi.json`.
pub async fn get_openapi(State(state): State<AppState>, headers: HeaderMap) -> ApiResult {
    state.require_read(&headers).await?;
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        OPENAPI,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_strings_decode_and_refuse_unknown_or_repeated_names() {
        let p = Params::parse(
            Some("type=a%2Fb&type=c+d&purl=pkg%3Anpm%2Fx%401&limit=5"),
            GRAPH_PARAMS
                .iter()
                .chain(&["type"])
                .copied()
                .collect::<Vec<_>>()
                .as_slice(),
        )
        .map_err(|e| e.detail)
        .expect("parses");
        assert_eq!(p.all("type").collect::<Vec<_>>(), vec!["a/b", "c d"]);
        assert_eq!(p.one("purl").ok().flatten(), Some("pkg:npm/x@1"));
        assert!(Params::parse(Some("dpeth=3"), GRAPH_PARAMS).is_err());
        assert!(Params::parse(Some("depth=%zz"), GRAPH_PARAMS).is_err());
        let twice = Params::parse(Some("depth=1&depth=2"), GRAPH_PARAMS).map_err(|e| e.detail);
        assert!(twice.is_ok_and(|p| p.one("depth").is_err()));
    }

    #[test]
    fn times_are_rfc3339_or_milliseconds() {
        assert_eq!(parse_time("since", "1000").ok(), Some(1000));
        assert_eq!(parse_time("since", "1970-01-01T00:00:01Z").ok(), Some(1000));
        assert!(parse_time("since", "yesterday").is_err());
    }

    #[test]
    fn the_openapi_description_is_json_and_lists_the_query_and_event_paths() {
        let v: Value = serde_json::from_str(OPENAPI).expect("openapi.json is JSON");
        assert_eq!(v["openapi"], "3.1.0");
        for path in [
            "/v1/query/evidence",
            "/v1/query/components",
            "/v1/query/dependents",
            "/v1/query/affected",
            "/v1/events",
            "/v1/entries",
        ] {
            assert!(v["paths"].get(path).is_some(), "{path} missing");
        }
    }
}
