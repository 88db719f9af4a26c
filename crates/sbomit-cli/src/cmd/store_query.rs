//! `sbomit store query …` and `sbomit store watch`: clients of a running store's graph
//! queries (`/v1/query/…`, one request per question) and of its live event stream
//! (`/v1/events`, Server-Sent Events).
//!
//! The HTTP is sbomit-client's; this file parses, calls and prints. `watch` follows the
//! client's event stream, which says when a connection went silent (no event and no
//! heartbeat); after any drop it reconnects with `Last-Event-ID` set to the last index it
//! saw, so no entry is missed or printed twice; Ctrl-C ends it.

use std::io::Write;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use serde_json::Value;

use sbomit_client::{ClientError, EventQuery, EvidenceQuery, StreamItem, Target, Walk};

use super::{client, Output};
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
    #[arg(long, value_parser = sha256_arg)]
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
    fn target(&self) -> Option<Target<'_>> {
        (self.digest.as_deref().map(Target::Digest))
            .or_else(|| self.purl.as_deref().map(Target::Purl))
            .or_else(|| self.name.as_deref().map(Target::Name))
            .or_else(|| self.key.as_deref().map(Target::Key))
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
    fn walk(&self) -> Walk {
        Walk {
            depth: self.depth,
            offset: self.offset,
            limit: self.limit,
            min_indexed: None,
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
    remote: super::RemoteArgs,
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
    remote: super::RemoteArgs,
    /// How to print the answer.
    #[arg(long, value_enum, default_value_t)]
    output: Format,
}

#[derive(Args, Debug)]
#[group(id = "about", required = true, multiple = false, args = ["digest", "purl", "name", "key", "iss"])]
pub struct EvidenceArgs {
    /// `sha256:<hex>` or bare hex.
    #[arg(long, value_parser = sha256_arg)]
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
    remote: super::RemoteArgs,
    /// How to print the answer.
    #[arg(long, value_enum, default_value_t)]
    output: Format,
}

#[derive(Args, Debug)]
pub struct WatchArgs {
    #[command(flatten)]
    remote: super::RemoteArgs,
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
    #[arg(long, conflicts_with = "from")]
    after: Option<u64>,
    /// Start at this log index (0: the first entry of the log).
    #[arg(long)]
    from: Option<u64>,
    /// Stop after this many events.
    #[arg(long)]
    count: Option<u64>,
    /// How to print the answer.
    #[arg(long, value_enum, default_value_t)]
    output: Format,
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
    let target = args
        .target
        .target()
        .context("give one of --digest, --purl, --name or --key")?;
    let client = client(&args.remote)?;
    let answer = match path {
        "/v1/query/dependents" => client.dependents(target, &args.page.walk()),
        _ => client.components(target, &args.page.walk()),
    }
    .with_context(|| path.to_owned())?;
    // A digest is clearer shortened, as the other keys are.
    let label = match target {
        Target::Purl(v) | Target::Name(v) => Some(v),
        Target::Digest(_) | Target::Key(_) => None,
    };
    match args.output {
        Format::Json => print_json(&answer.raw)?,
        Format::Table => print_graph(&answer.raw, label, out)?,
    }
    Ok(Outcome::Ok)
}

fn affected(args: AffectedArgs, out: &Output) -> Result<Outcome> {
    let answer = client(&args.remote)?
        .affected(&args.vuln, &args.page.walk())
        .context("/v1/query/affected")?;
    match args.output {
        Format::Json => print_json(&answer.raw)?,
        Format::Table => print_graph(&answer.raw, None, out)?,
    }
    Ok(Outcome::Ok)
}

fn evidence(args: EvidenceArgs, out: &Output) -> Result<Outcome> {
    let about = [
        ("digest", &args.digest),
        ("purl", &args.purl),
        ("name", &args.name),
        ("key", &args.key),
        ("iss", &args.iss),
    ]
    .into_iter()
    .find_map(|(k, v)| v.clone().map(|v| (k, v)));
    let query = EvidenceQuery {
        about,
        sub: args.sub.clone(),
        types: args.types.clone(),
        issuer: args.issuer.clone(),
        since: args.since.clone(),
        until: args.until.clone(),
        after: args.after,
        limit: args.limit,
        status: args.status,
        min_indexed: None,
    };
    let answer = client(&args.remote)?
        .evidence(&query)
        .context("/v1/query/evidence")?;
    match args.output {
        Format::Json => print_json(&answer.raw)?,
        Format::Table => print_evidence(&answer.raw, args.status, out)?,
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

pub fn watch(args: WatchArgs, out: &Output) -> Result<Outcome> {
    let client = client(&args.remote)?;
    let mut resume = match (args.after, args.from) {
        (Some(n), _) => Resume::After(n),
        (None, Some(0)) => Resume::Start,
        (None, Some(n)) => Resume::After(n - 1),
        (None, None) => Resume::Now,
    };
    let mut printed = 0u64;
    let mut backoff = BACKOFF_START;
    loop {
        match follow(&client, &args, &mut resume, &mut printed, &mut backoff)? {
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

fn event_query(args: &WatchArgs, resume: Resume) -> EventQuery {
    EventQuery {
        subjects: args.subject.clone(),
        purls: args.purl.clone(),
        types: args.types.clone(),
        after: match resume {
            Resume::After(n) => Some(n),
            _ => None,
        },
        from_start: resume == Resume::Start,
        heartbeat: HEARTBEAT,
        silence: SILENCE,
    }
}

/// One connection: prints its events until it drops or `--count` is reached.
fn follow(
    client: &sbomit_client::Client,
    args: &WatchArgs,
    resume: &mut Resume,
    printed: &mut u64,
    backoff: &mut Duration,
) -> Result<Ended> {
    let stream = match client.events(&event_query(args, *resume)) {
        Ok(s) => s,
        Err(e @ ClientError::Transport { .. }) => {
            let why = std::error::Error::source(&e).map_or_else(String::new, |s| s.to_string());
            return Ok(Ended::Dropped(format!("cannot connect: {why}")));
        }
        // The store is busy or restarting: retry. Anything else will not get better.
        Err(e) if e.status().is_some_and(|s| s >= 500 || s == 429) => {
            return Ok(Ended::Dropped(e.to_string()))
        }
        Err(e) => return Err(anyhow::Error::new(e).context("/v1/events")),
    };
    let mut stdout = std::io::stdout().lock();
    for item in stream {
        let item = match item {
            Ok(item) => item,
            Err(ClientError::Stream(e)) => {
                return Ok(Ended::Dropped(format!("the stream broke: {e}")))
            }
            Err(e @ ClientError::Silent { .. }) => return Ok(Ended::Dropped(e.to_string())),
            Err(e) => return Err(e.into()),
        };
        // The connection works: the next drop starts backing off afresh.
        *backoff = BACKOFF_START;
        match item {
            StreamItem::Event(event) => {
                *resume = Resume::After(event.index);
                print_event(&mut stdout, &event.raw, args.output)?;
                *printed += 1;
                if args.count.is_some_and(|c| *printed >= c) {
                    return Ok(Ended::Done);
                }
            }
            // An `id:` without data (the stream's first frame) still moves the resume point.
            StreamItem::Marker { id: Some(n) } => *resume = Resume::After(n),
            // A stream that starts at an empty log names no index before its start.
            StreamItem::Marker { id: None } if *resume == Resume::Now => *resume = Resume::Start,
            StreamItem::Marker { id: None } => {}
        }
    }
    Ok(Ended::Dropped("the store closed the stream".to_owned()))
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

/// A `--digest`: `sha256:` and 64 hex digits, or the bare hex. Anything else is a usage error
/// (exit 2) rather than a question no entry can answer.
fn sha256_arg(s: &str) -> Result<String, String> {
    let hex = s.strip_prefix("sha256:").unwrap_or(s);
    if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(s.to_owned())
    } else {
        Err("give a SHA-256 digest: `sha256:` and 64 hex digits, or the 64 digits alone".into())
    }
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
}
