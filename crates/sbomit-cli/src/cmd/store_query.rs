//! `sbomit store query …` and `sbomit store watch`: clients of a running store's graph
//! queries (`/v1/query/…`, one request per question) and of its live event stream
//! (`/v1/events`, Server-Sent Events).
//!
//! `watch` reads the stream line by line from a ureq response body on a reader thread, so the
//! main thread can notice a connection that went silent (no event and no heartbeat) and
//! reconnect. After any drop it resumes with `Last-Event-ID` set to the last index it saw, so
//! no entry is missed or printed twice; Ctrl-C ends it.

use std::io::{BufRead, BufReader, Write};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use serde_json::Value;

use super::{Output, RemoteArgs};
use crate::Outcome;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned columns for people.
    #[default]
    Table,
    /// The store's JSON answer (`watch`: one JSON object per line).
    Json,
}

#[derive(Subcommand, Debug)]
pub enum QueryCommand {
    /// Evidence about an artifact (by digest, purl, name or node key) or by an issuer.
    Evidence(EvidenceArgs),
    /// What is inside an artifact, transitively, with paths.
    Components(WalkArgs),
    /// Which artifacts contain a component, transitively, with paths.
    Dependents(WalkArgs),
    /// Which artifacts a vulnerability affects, VEX statements taken into account.
    Affected(AffectedArgs),
}

/// What a query is about: exactly one.
#[derive(Args, Debug)]
#[group(required = true, multiple = false)]
pub struct TargetArgs {
    /// `sha256:<hex>` or bare hex.
    #[arg(long)]
    digest: Option<String>,
    /// A package URL; without `@version` every version matches.
    #[arg(long)]
    purl: Option<String>,
    /// A component or subject name.
    #[arg(long)]
    name: Option<String>,
    /// A node key as the index stores it (`sha256:…`, `purl:…`, `name:…`).
    #[arg(long)]
    key: Option<String>,
}

impl TargetArgs {
    fn pair(&self) -> Option<(&'static str, &str)> {
        [
            ("digest", &self.digest),
            ("purl", &self.purl),
            ("name", &self.name),
            ("key", &self.key),
        ]
        .into_iter()
        .find_map(|(k, v)| v.as_deref().map(|v| (k, v)))
    }
}

/// Paging and depth of a walk.
#[derive(Args, Debug)]
pub struct PageArgs {
    /// How deep to walk (1–64; the store's default is 10).
    #[arg(long)]
    depth: Option<u32>,
    /// Results to skip (the previous page's next offset).
    #[arg(long)]
    offset: Option<usize>,
    /// Results per page (the store's default is 1000).
    #[arg(long)]
    limit: Option<usize>,
}

impl PageArgs {
    fn params(&self, q: &mut Vec<(&'static str, String)>) {
        if let Some(d) = self.depth {
            q.push(("depth", d.to_string()));
        }
        if let Some(o) = self.offset {
            q.push(("offset", o.to_string()));
        }
        if let Some(l) = self.limit {
            q.push(("limit", l.to_string()));
        }
    }
}

#[derive(Args, Debug)]
pub struct WalkArgs {
    #[command(flatten)]
    target: TargetArgs,
    #[command(flatten)]
    page: PageArgs,
    #[command(flatten)]
    remote: RemoteArgs,
    /// How to print the answer.
    #[arg(long, value_enum, default_value_t)]
    output: Format,
}

#[derive(Args, Debug)]
pub struct AffectedArgs {
    /// The vulnerability id (CVE-…, GHSA-…).
    #[arg(long)]
    vuln: String,
    #[command(flatten)]
    page: PageArgs,
    #[command(flatten)]
    remote: RemoteArgs,
    /// How to print the answer.
    #[arg(long, value_enum, default_value_t)]
    output: Format,
}

#[derive(Args, Debug)]
#[group(id = "about", required = true, multiple = false, args = ["digest", "purl", "name", "key", "iss"])]
pub struct EvidenceArgs {
    /// `sha256:<hex>` or bare hex.
    #[arg(long)]
    digest: Option<String>,
    /// A package URL; without `@version` every version matches.
    #[arg(long)]
    purl: Option<String>,
    /// A subject name.
    #[arg(long)]
    name: Option<String>,
    /// A node key as the index stores it.
    #[arg(long)]
    key: Option<String>,
    /// The statements of this issuer (instead of a target).
    #[arg(long)]
    iss: Option<String>,
    /// With --iss: only statements with this subject.
    #[arg(long, requires = "iss")]
    sub: Option<String>,
    /// Statement types to keep (predicate or content types); repeatable.
    #[arg(long = "type", value_name = "TYPE")]
    types: Vec<String>,
    /// Only statements by this issuer.
    #[arg(long)]
    issuer: Option<String>,
    /// Registered at or after (RFC 3339 or milliseconds since the epoch).
    #[arg(long)]
    since: Option<String>,
    /// Registered at or before (RFC 3339 or milliseconds since the epoch).
    #[arg(long)]
    until: Option<String>,
    /// Only entries with a larger index (the previous page's last index).
    #[arg(long)]
    after: Option<u64>,
    /// Entries per page (the store's default is 100).
    #[arg(long)]
    limit: Option<usize>,
    /// Also show how each entry was indexed (and why content could not be read).
    #[arg(long)]
    status: bool,
    #[command(flatten)]
    remote: RemoteArgs,
    /// How to print the answer.
    #[arg(long, value_enum, default_value_t)]
    output: Format,
}

#[derive(Args, Debug)]
pub struct WatchArgs {
    #[command(flatten)]
    remote: RemoteArgs,
    /// Only entries about this subject (a name or `sha256:<hex>`); repeatable.
    #[arg(long)]
    subject: Vec<String>,
    /// Only entries about this package (its `sub` or a subject name); without `@version`,
    /// any version; repeatable.
    #[arg(long)]
    purl: Vec<String>,
    /// Only entries of this statement type; repeatable.
    #[arg(long = "type", value_name = "TYPE")]
    types: Vec<String>,
    /// Start after this log index (default: with the entries registered from now on).
    #[arg(long)]
    after: Option<u64>,
    /// Stop after this many events.
    #[arg(long)]
    count: Option<u64>,
    /// How to print the answer.
    #[arg(long, value_enum, default_value_t)]
    output: Format,
}

// ---- HTTP ----

fn agent(timeout: Option<Duration>) -> ureq::Agent {
    ureq::Agent::config_builder()
        // Error statuses carry problem details; they are reported, not raised.
        .http_status_as_error(false)
        .timeout_global(timeout)
        .build()
        .into()
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

fn url_with(base: &str, path: &str, params: &[(&str, String)]) -> String {
    let query: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect();
    let base = base.trim_end_matches('/');
    if query.is_empty() {
        format!("{base}{path}")
    } else {
        format!("{base}{path}?{}", query.join("&"))
    }
}

/// The `detail` (or `title`) of problem details, else the start of the body.
fn problem(body: &[u8]) -> String {
    if let Ok(v) = serde_json::from_slice::<Value>(body) {
        for k in ["detail", "title"] {
            if let Some(s) = v.get(k).and_then(Value::as_str) {
                return s.to_owned();
            }
        }
    }
    String::from_utf8_lossy(body).chars().take(300).collect()
}

/// One GET of a query: the store's JSON answer.
fn get_json(remote: &RemoteArgs, path: &str, params: &[(&str, String)]) -> Result<Value> {
    let url = url_with(&remote.url, path, params);
    let mut req = agent(Some(Duration::from_secs(120))).get(&url);
    if let Some(t) = remote.token.as_deref().filter(|t| !t.is_empty()) {
        req = req.header("Authorization", format!("Bearer {t}"));
    }
    let mut resp = req.call().with_context(|| format!("GET {url}"))?;
    let status = resp.status().as_u16();
    let body = resp
        .body_mut()
        .with_config()
        .limit(256 << 20)
        .read_to_vec()
        .with_context(|| format!("reading the answer of {url}"))?;
    if status != 200 {
        bail!("{path}: HTTP {status}: {}", problem(&body));
    }
    serde_json::from_slice(&body).with_context(|| format!("the answer of {url} is not JSON"))
}

// ---- tables ----

/// Prints rows in columns as wide as their widest cell (the last column is not padded).
fn print_table(out: &mut impl Write, header: &[&str], rows: &[Vec<String>]) -> Result<()> {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &mut dyn Iterator<Item = &str>| {
        let cells: Vec<&str> = cells.collect();
        let last = cells.len().saturating_sub(1);
        let mut s = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if i == last {
                s.push_str(cell);
            } else {
                s.push_str(&format!("{cell:<w$}  "));
            }
        }
        s
    };
    writeln!(out, "{}", line(&mut header.iter().copied()))?;
    for row in rows {
        writeln!(out, "{}", line(&mut row.iter().map(String::as_str)))?;
    }
    Ok(())
}

fn indexes(v: &Value) -> String {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_u64)
                .map(|i| i.to_string())
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default()
}

/// A short label for a node: its purl, else name@version, else its key (a digest
/// shortened).
fn label(node: &Value) -> String {
    let text = |k: &str| node.get(k).and_then(Value::as_str);
    if let Some(p) = text("purl") {
        return p.to_owned();
    }
    if let Some(n) = text("name") {
        return match text("version") {
            Some(v) => format!("{n}@{v}"),
            None => n.to_owned(),
        };
    }
    short_key(text("key").unwrap_or("?"))
}

fn short_key(key: &str) -> String {
    match key.strip_prefix("sha256:") {
        Some(hex) if hex.len() > 12 => format!("sha256:{}…", &hex[..12]),
        _ => key
            .strip_prefix("purl:")
            .or_else(|| key.strip_prefix("name:"))
            .unwrap_or(key)
            .to_owned(),
    }
}

/// `target`: how the user named what the walk starts from (a purl, a name), which labels
/// the root keys better than a shortened digest.
fn print_graph(answer: &Value, target: Option<&str>, out: &Output) -> Result<()> {
    let results = answer["results"].as_array().cloned().unwrap_or_default();
    // Path elements are node keys; the answer's own nodes give them readable labels.
    let mut labels: std::collections::HashMap<&str, String> = results
        .iter()
        .filter_map(|r| Some((r["node"]["key"].as_str()?, label(&r["node"]))))
        .collect();
    if let (Some(t), Some(roots)) = (target, answer["roots"].as_array()) {
        for root in roots.iter().filter_map(Value::as_str) {
            labels.entry(root).or_insert_with(|| t.to_owned());
        }
    }
    let rows: Vec<Vec<String>> = results
        .iter()
        .map(|r| {
            let path = r["path"]
                .as_array()
                .map(|p| {
                    p.iter()
                        .filter_map(Value::as_str)
                        .map(|k| labels.get(k).cloned().unwrap_or_else(|| short_key(k)))
                        .collect::<Vec<_>>()
                        .join(" > ")
                })
                .unwrap_or_default();
            vec![
                r["depth"].to_string(),
                label(&r["node"]),
                if r["artifact"] == true { "yes" } else { "" }.to_owned(),
                indexes(&r["evidence"]),
                path,
            ]
        })
        .collect();
    let mut stdout = std::io::stdout().lock();
    print_table(
        &mut stdout,
        &["DEPTH", "NODE", "ARTIFACT", "EVIDENCE", "PATH"],
        &rows,
    )?;
    stdout.flush().context("writing to stdout")?;
    out.info(format!(
        "{} of {} result(s); evidence: {}; {} database round trip(s){}",
        rows.len(),
        answer["total"],
        match indexes(&answer["evidence"]) {
            s if s.is_empty() => "none".to_owned(),
            s => s,
        },
        answer["dbRoundTrips"],
        answer
            .get("nextOffset")
            .and_then(Value::as_u64)
            .map(|n| format!("; next page: --offset {n}"))
            .unwrap_or_default()
    ));
    Ok(())
}

fn print_evidence(answer: &Value, with_status: bool, out: &Output) -> Result<()> {
    let entries = answer["entries"].as_array().cloned().unwrap_or_default();
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|e| {
            let mut row = vec![
                e["index"].to_string(),
                text(&e["registeredAt"]),
                text(&e["iss"]),
                text(&e["sub"]),
                text(&e["type"]),
            ];
            if with_status {
                let s = &e["indexStatus"];
                row.push(match (s["kind"].as_str(), s["unparsed"].as_str()) {
                    (_, Some(why)) => format!("unparsed: {why}"),
                    (Some(kind), None) => kind.to_owned(),
                    (None, None) => "not indexed yet".to_owned(),
                });
            }
            row
        })
        .collect();
    let mut header = vec!["INDEX", "REGISTERED", "ISS", "SUB", "TYPE"];
    if with_status {
        header.push("INDEXED");
    }
    let mut stdout = std::io::stdout().lock();
    print_table(&mut stdout, &header, &rows)?;
    stdout.flush().context("writing to stdout")?;
    out.info(format!(
        "{} entr{}; {} database round trip(s){}",
        rows.len(),
        if rows.len() == 1 { "y" } else { "ies" },
        answer["dbRoundTrips"],
        answer
            .get("nextAfter")
            .and_then(Value::as_u64)
            .map(|n| format!("; next page: --after {n}"))
            .unwrap_or_default()
    ));
    Ok(())
}

fn print_json(v: &Value) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut stdout, v).context("writing to stdout")?;
    writeln!(stdout).context("writing to stdout")?;
    Ok(())
}

// ---- query ----

pub fn query(command: QueryCommand, out: &Output) -> Result<Outcome> {
    match command {
        QueryCommand::Evidence(a) => evidence(a, out),
        QueryCommand::Components(a) => walk("/v1/query/components", a, out),
        QueryCommand::Dependents(a) => walk("/v1/query/dependents", a, out),
        QueryCommand::Affected(a) => affected(a, out),
    }
}

fn walk(path: &str, args: WalkArgs, out: &Output) -> Result<Outcome> {
    let (field, value) = args
        .target
        .pair()
        .context("give one of --digest, --purl, --name or --key")?;
    let mut params = vec![(field, value.to_owned())];
    args.page.params(&mut params);
    let answer = get_json(&args.remote, path, &params)?;
    // A digest is clearer shortened, as the other keys are.
    let target = (field == "purl" || field == "name").then_some(value);
    match args.output {
        Format::Json => print_json(&answer)?,
        Format::Table => print_graph(&answer, target, out)?,
    }
    Ok(Outcome::Ok)
}

fn affected(args: AffectedArgs, out: &Output) -> Result<Outcome> {
    let mut params = vec![("vuln", args.vuln.clone())];
    args.page.params(&mut params);
    let answer = get_json(&args.remote, "/v1/query/affected", &params)?;
    match args.output {
        Format::Json => print_json(&answer)?,
        Format::Table => print_graph(&answer, None, out)?,
    }
    Ok(Outcome::Ok)
}

fn evidence(args: EvidenceArgs, out: &Output) -> Result<Outcome> {
    let mut params: Vec<(&str, String)> = Vec::new();
    let about = [
        ("digest", &args.digest),
        ("purl", &args.purl),
        ("name", &args.name),
        ("key", &args.key),
        ("iss", &args.iss),
        ("sub", &args.sub),
        ("issuer", &args.issuer),
        ("since", &args.since),
        ("until", &args.until),
    ];
    for (k, v) in about {
        if let Some(v) = v {
            params.push((k, v.clone()));
        }
    }
    params.extend(args.types.iter().map(|t| ("type", t.clone())));
    if let Some(a) = args.after {
        params.push(("after", a.to_string()));
    }
    if let Some(l) = args.limit {
        params.push(("limit", l.to_string()));
    }
    if args.status {
        params.push(("status", "true".to_owned()));
    }
    let answer = get_json(&args.remote, "/v1/query/evidence", &params)?;
    match args.output {
        Format::Json => print_json(&answer)?,
        Format::Table => print_evidence(&answer, args.status, out)?,
    }
    Ok(Outcome::Ok)
}

// ---- watch ----

/// The server's heartbeat we ask for, and how long silence may last before the connection
/// is taken for dead.
const HEARTBEAT: Duration = Duration::from_secs(15);
const SILENCE: Duration = Duration::from_secs(45);
const BACKOFF_START: Duration = Duration::from_millis(250);
const BACKOFF_MAX: Duration = Duration::from_secs(30);

/// Where a (re)connection resumes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Resume {
    /// With the entries registered from now on.
    Now,
    /// After this index (`Last-Event-ID`).
    After(u64),
    /// From the very first entry (the log was empty when the stream started).
    Start,
}

/// Why a connection ended.
enum Ended {
    /// `--count` events were printed.
    Done,
    /// Dropped (or refused with a status worth retrying): reconnect.
    Dropped(String),
}

/// One line of the stream, from the reader thread.
enum Line {
    Text(String),
    End(String),
}

pub fn watch(args: WatchArgs, out: &Output) -> Result<Outcome> {
    let mut resume = args.after.map_or(Resume::Now, Resume::After);
    let mut printed = 0u64;
    let mut backoff = BACKOFF_START;
    loop {
        match connect_and_follow(&args, &mut resume, &mut printed, &mut backoff)? {
            Ended::Done => return Ok(Outcome::Ok),
            Ended::Dropped(why) => {
                out.info(format!(
                    "sbomit store watch: {why}; reconnecting in {:.1}s{}",
                    backoff.as_secs_f64(),
                    match resume {
                        Resume::After(n) => format!(" after entry {n}"),
                        _ => String::new(),
                    }
                ));
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(BACKOFF_MAX);
            }
        }
    }
}

fn stream_params(args: &WatchArgs, resume: Resume) -> Vec<(&'static str, String)> {
    let mut params = vec![("heartbeatMs", HEARTBEAT.as_millis().to_string())];
    params.extend(args.subject.iter().map(|s| ("subject", s.clone())));
    params.extend(args.purl.iter().map(|p| ("purl", p.clone())));
    params.extend(args.types.iter().map(|t| ("type", t.clone())));
    if resume == Resume::Start {
        params.push(("from", "0".to_owned()));
    }
    params
}

fn connect_and_follow(
    args: &WatchArgs,
    resume: &mut Resume,
    printed: &mut u64,
    backoff: &mut Duration,
) -> Result<Ended> {
    let url = url_with(
        &args.remote.url,
        "/v1/events",
        &stream_params(args, *resume),
    );
    let mut req = agent(None).get(&url).header("Accept", "text/event-stream");
    if let Some(t) = args.remote.token.as_deref().filter(|t| !t.is_empty()) {
        req = req.header("Authorization", format!("Bearer {t}"));
    }
    if let Resume::After(n) = *resume {
        req = req.header("Last-Event-ID", n.to_string());
    }
    let mut resp = match req.call() {
        Ok(r) => r,
        Err(e) => return Ok(Ended::Dropped(format!("cannot connect: {e}"))),
    };
    let status = resp.status().as_u16();
    if status != 200 {
        let body = resp
            .body_mut()
            .with_config()
            .limit(1 << 20)
            .read_to_vec()
            .unwrap_or_default();
        let why = format!("HTTP {status}: {}", problem(&body));
        // The store is busy or restarting: retry. Anything else will not get better.
        if status >= 500 || status == 429 {
            return Ok(Ended::Dropped(why));
        }
        bail!("/v1/events: {why}");
    }
    // The reader thread blocks on the socket; the main thread waits on it with a deadline,
    // so a connection that went silent is noticed and abandoned.
    let (tx, rx) = mpsc::sync_channel::<Line>(256);
    let reader = resp.into_body().into_reader();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(reader);
        loop {
            let mut line = String::new();
            let msg = match lines.read_line(&mut line) {
                Ok(0) => Line::End("the store closed the stream".to_owned()),
                Ok(_) => Line::Text(line),
                Err(e) => Line::End(format!("the stream broke: {e}")),
            };
            let end = matches!(msg, Line::End(_));
            if tx.send(msg).is_err() || end {
                return;
            }
        }
    });
    let mut stdout = std::io::stdout().lock();
    let (mut id, mut data) = (None::<u64>, String::new());
    loop {
        let line = match rx.recv_timeout(SILENCE) {
            Ok(Line::Text(l)) => l,
            Ok(Line::End(why)) => return Ok(Ended::Dropped(why)),
            Err(_) => {
                return Ok(Ended::Dropped(format!(
                    "nothing from the store for {}s",
                    SILENCE.as_secs()
                )))
            }
        };
        // The connection works: the next drop starts backing off afresh.
        *backoff = BACKOFF_START;
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            // An `id:` without data (the stream's first frame) still moves the resume point.
            if let Some(n) = id.take() {
                *resume = Resume::After(n);
            } else if *resume == Resume::Now {
                // A stream that starts at an empty log names no index before its start.
                *resume = Resume::Start;
            }
            if !data.is_empty() {
                let event: Value = serde_json::from_str(&data)
                    .with_context(|| format!("the store sent an event that is not JSON: {data}"))?;
                data.clear();
                print_event(&mut stdout, &event, args.output)?;
                *printed += 1;
                if args.count.is_some_and(|c| *printed >= c) {
                    return Ok(Ended::Done);
                }
            }
            continue;
        }
        if line.starts_with(':') {
            continue;
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "id" => id = value.trim().parse().ok(),
            "data" => {
                if !data.is_empty() {
                    data.push('\n');
                }
                data.push_str(value);
            }
            _ => {}
        }
    }
}

fn print_event(stdout: &mut impl Write, e: &Value, format: Format) -> Result<()> {
    match format {
        Format::Json => writeln!(stdout, "{e}"),
        Format::Table => {
            let text = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or_default();
            writeln!(
                stdout,
                "{}  {}  {}  {}  {}",
                text("entryId"),
                text("registeredAt"),
                text("type"),
                text("iss"),
                text("sub")
            )
        }
    }
    .and_then(|()| stdout.flush())
    .context("writing to stdout")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_columns_and_leave_the_last_unpadded() {
        let mut out = Vec::new();
        print_table(
            &mut out,
            &["A", "BB", "C"],
            &[
                vec!["xxx".into(), "y".into(), "z".into()],
                vec!["1".into(), "22".into(), "333".into()],
            ],
        )
        .expect("table");
        assert_eq!(
            String::from_utf8(out).expect("utf-8"),
            "A    BB  C\nxxx  y   z\n1    22  333\n"
        );
    }

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(
            url_with("http://h/", "/p", &[("purl", "pkg:npm/a@1".into())]),
            "http://h/p?purl=pkg%3Anpm%2Fa%401"
        );
    }
}
