//! `sbomit store …`: run the Store (a SCITT transparency service) and talk to one.
//!
//! `serve`, `issuer add|list|remove` and `token create|list|revoke` are the operator's
//! commands and open the database directly; `submit`, `get` and `checkpoint` talk to a running store through sbomit-client;
//! `verify-receipt` is offline: a statement, its receipt and the service's key are enough.

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};

use sbomit_client::Client;
use sbomit_crypto::{PrivateKey, PublicKey};
use sbomit_intoto::digest::Sha256;
use sbomit_scitt::cose::{self, CoseKey};
use sbomit_scitt::receipt;
use sbomit_server::ServerConfig;
use sbomit_store::backend::Scope;
use sbomit_store::policy::Role;
use sbomit_store::{Store, StoreConfig};
use sbomit_tlog::checkpoint::{Checkpoint, NoteVerifier};
use sbomit_tlog::merkle;

use super::Output;
use crate::keys;
use crate::Outcome;

// `store query` and `store watch` (issue 5) live in their own file.
#[path = "store_query.rs"]
mod store_query;

#[derive(Subcommand, Debug)]
pub enum StoreCommand {
    /// Run the Store's HTTP service (SCRAPI and the in-toto evidence API).
    Serve(ServeArgs),
    /// Register, list and remove issuer identities (direct database access).
    #[command(subcommand)]
    Issuer(IssuerCommand),
    /// Create, list and revoke API tokens (direct database access).
    #[command(subcommand)]
    Token(TokenCommand),
    /// Register a signed statement (COSE or DSSE) with a running store; saves its receipt.
    Submit(SubmitArgs),
    /// Fetch the receipt of an entry.
    Get(GetArgs),
    /// Verify a receipt offline against the statement and the service's key.
    VerifyReceipt(VerifyReceiptArgs),
    /// Fetch (and optionally verify) the store's latest signed checkpoint.
    Checkpoint(CheckpointArgs),
    /// Ask a running store a graph question: evidence, components, dependents, affected.
    #[command(subcommand)]
    Query(store_query::QueryCommand),
    /// Follow a running store's new entries as they are registered (resumes after drops).
    Watch(store_query::WatchArgs),
    /// Print the service's public key(s): the COSE kid receipts name, the key id `key id`
    /// prints, and the SPKI PEM that `verify-receipt --service-key` and
    /// `checkpoint --verify-key` take.
    Key(KeyArgs),
}

#[derive(Args, Debug)]
pub struct KeyArgs {
    #[command(flatten)]
    remote: RemoteArgs,
    /// Also write the (first) key's PEM to this file.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// Where the store keeps its data: the database and the service's signing key.
#[derive(Args, Debug)]
pub struct DatabaseArgs {
    /// `sqlite://PATH` or `postgres://…`. Default: store.db (SQLite) in the data directory:
    /// $SBOMIT_DATA_DIR, else $XDG_DATA_HOME/sbomit, else ~/.local/share/sbomit.
    #[arg(long)]
    database: Option<String>,
    /// The service's Ed25519 signing key (PKCS#8 PEM), created (mode 0600) when absent.
    /// Default: service-key.pem in the data directory.
    #[arg(long)]
    service_key: Option<PathBuf>,
    /// Operator commands (`issuer`, `token`): create the store and its service key when they
    /// do not exist, instead of refusing (a mistyped or defaulted location would otherwise
    /// become a new, empty store the server never reads). `serve` always creates them.
    #[arg(long)]
    create: bool,
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on (port 0: any free port; the bound address is printed).
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// A TOML configuration file (the server's settings; flags given here win).
    #[arg(long)]
    config: Option<PathBuf>,
    #[command(flatten)]
    db: DatabaseArgs,
}

#[derive(Subcommand, Debug)]
pub enum IssuerCommand {
    /// Register a public key for an issuer, with a role; the change is logged.
    Add(IssuerAddArgs),
    /// List the registered identities: id, kind (key or trust anchor), role, issuer, added.
    List(DatabaseOnlyArgs),
    /// Remove an identity by the id `issuer list` shows; each removal is logged.
    Remove(IssuerRemoveArgs),
}

#[derive(Args, Debug)]
pub struct DatabaseOnlyArgs {
    #[command(flatten)]
    db: DatabaseArgs,
}

#[derive(Args, Debug)]
pub struct IssuerRemoveArgs {
    #[command(flatten)]
    db: DatabaseArgs,
    /// A key id, or a trust anchor's SHA-256, as `issuer list` shows it.
    id: String,
    /// Only the identity of this issuer (by default every issuer's with this id).
    #[arg(long)]
    iss: Option<String>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum RoleArg {
    Attester,
    PolicyManager,
}

#[derive(Args, Debug)]
pub struct IssuerAddArgs {
    #[command(flatten)]
    db: DatabaseArgs,
    /// The issuer identity (COSE statements: their `iss` claim).
    #[arg(long)]
    iss: String,
    /// The issuer's public key (PEM).
    #[arg(
        long,
        required_unless_present = "trust_anchor",
        conflicts_with = "trust_anchor"
    )]
    key: Option<PathBuf>,
    /// Or an X.509 trust anchor (CA certificate, PEM or DER): the issuer's COSE statements
    /// then carry an `x5chain` leading to it.
    #[arg(long = "trust-anchor")]
    trust_anchor: Option<PathBuf>,
    #[arg(long, value_enum)]
    role: RoleArg,
}

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Create an API token; it is printed once (only its hash is stored).
    Create(TokenCreateArgs),
    /// List the tokens: id, scope, created, expires, revoked, label (never the secret).
    List(DatabaseOnlyArgs),
    /// Revoke a token by the id `token list` shows (or a unique prefix of 8+ digits).
    Revoke(TokenRevokeArgs),
}

#[derive(Args, Debug)]
pub struct TokenRevokeArgs {
    #[command(flatten)]
    db: DatabaseArgs,
    id: String,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum ScopeArg {
    Admin,
    Submit,
    Read,
}

#[derive(Args, Debug)]
pub struct TokenCreateArgs {
    #[command(flatten)]
    db: DatabaseArgs,
    #[arg(long, value_enum)]
    scope: ScopeArg,
    /// A note on what the token is for.
    #[arg(long, default_value = "")]
    label: String,
    /// The token stops working after this long: a number with s, m, h, d or w (`90d`).
    #[arg(long, conflicts_with = "expires")]
    expires_in: Option<String>,
    /// The token stops working at this instant (RFC 3339, `2027-01-01T00:00:00Z`).
    #[arg(long)]
    expires: Option<String>,
}

/// A running store.
#[derive(Args, Debug)]
pub struct RemoteArgs {
    /// The store's base URL (default: `store serve`'s own default address).
    #[arg(
        long,
        env = "SBOMIT_STORE_URL",
        default_value = "http://127.0.0.1:8087"
    )]
    url: String,
    /// An API token (sent as `Authorization: Bearer`).
    #[arg(long, env = "SBOMIT_STORE_TOKEN", hide_env_values = true)]
    token: Option<String>,
}

#[derive(Args, Debug)]
pub struct SubmitArgs {
    /// A COSE Signed Statement or a DSSE envelope (told apart by content).
    file: PathBuf,
    #[command(flatten)]
    remote: RemoteArgs,
    /// Where to save the receipt (default: FILE.receipt.cose).
    #[arg(long)]
    receipt: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct GetArgs {
    /// The entry id (`1.N`, or just `N`).
    id: String,
    #[command(flatten)]
    remote: RemoteArgs,
    /// Where to write the receipt (default: stdout, when it is not a terminal).
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct VerifyReceiptArgs {
    /// The statement as registered (COSE Signed Statement or DSSE envelope).
    #[arg(long)]
    statement: PathBuf,
    /// Its receipt (COSE, RFC 9942).
    #[arg(long)]
    receipt: PathBuf,
    /// The service's key: a PEM key, or a COSE_Key / COSE_KeySet as served at
    /// /.well-known/scitt-keys.
    #[arg(long)]
    service_key: PathBuf,
}

#[derive(Args, Debug)]
pub struct CheckpointArgs {
    #[command(flatten)]
    remote: RemoteArgs,
    /// Verify the checkpoint's signature with the service's key (PEM, COSE_Key or
    /// COSE_KeySet); exit 1 when it does not verify.
    #[arg(long)]
    verify_key: Option<PathBuf>,
}

pub fn run(command: StoreCommand, out: &Output) -> Result<Outcome> {
    match command {
        StoreCommand::Serve(a) => serve(a, out),
        StoreCommand::Issuer(IssuerCommand::Add(a)) => issuer_add(a, out),
        StoreCommand::Issuer(IssuerCommand::List(a)) => issuer_list(a, out),
        StoreCommand::Issuer(IssuerCommand::Remove(a)) => issuer_remove(a, out),
        StoreCommand::Token(TokenCommand::Create(a)) => token_create(a, out),
        StoreCommand::Token(TokenCommand::List(a)) => token_list(a, out),
        StoreCommand::Token(TokenCommand::Revoke(a)) => token_revoke(a, out),
        StoreCommand::Submit(a) => submit(a, out),
        StoreCommand::Get(a) => get(a, out),
        StoreCommand::VerifyReceipt(a) => verify_receipt(a),
        StoreCommand::Checkpoint(a) => checkpoint(a, out),
        StoreCommand::Query(c) => store_query::query(c, out),
        StoreCommand::Watch(a) => store_query::watch(a, out),
        StoreCommand::Key(a) => service_key(a, out),
    }
}

fn service_key(args: KeyArgs, out: &Output) -> Result<Outcome> {
    let keys = client(&args.remote)?
        .service_keys()
        .with_context(|| format!("{}: the service's keys", args.remote.url))?;
    let Some(first) = keys.first() else {
        bail!("{}: the service publishes no key", args.remote.url);
    };
    for k in &keys {
        // Receipts name the COSE kid; sbomit's own commands show the securesystemslib key
        // id: both are printed, for the same key.
        let kid = k.kid().map(hex::encode).unwrap_or_else(|| "(none)".into());
        println!("kid {kid} (key id {})", k.public_key().keyid());
        print!("{}", k.public_key().to_pem());
    }
    if let Some(path) = &args.out {
        sbomit_fs::io::write_atomic(path, first.public_key().to_pem().as_bytes(), None)?;
        out.info(format!("wrote {}", path.display()));
    }
    Ok(Outcome::Ok)
}

// ---- the operator's commands ----

/// `$SBOMIT_DATA_DIR`, else `$XDG_DATA_HOME/sbomit`, else `~/.local/share/sbomit`.
fn data_dir() -> Result<PathBuf> {
    let var = |name| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(dir) = var("SBOMIT_DATA_DIR") {
        return Ok(dir.into());
    }
    if let Some(dir) = var("XDG_DATA_HOME") {
        return Ok(PathBuf::from(dir).join("sbomit"));
    }
    let home = var("HOME").context("no data directory: set SBOMIT_DATA_DIR or pass --database")?;
    Ok(PathBuf::from(home).join(".local/share/sbomit"))
}

/// The database URL and service key path, with the defaults filled in.
fn locations(
    database: Option<&str>,
    service_key: Option<&Path>,
    create: bool,
) -> Result<(String, PathBuf)> {
    let dir = || -> Result<PathBuf> {
        let dir = data_dir()?;
        if create {
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
        }
        Ok(dir)
    };
    let database = match database {
        Some(d) => d.to_owned(),
        None => format!("sqlite://{}", dir()?.join("store.db").display()),
    };
    let service_key = match service_key {
        Some(k) => k.to_owned(),
        None => dir()?.join("service-key.pem"),
    };
    Ok((database, service_key))
}

fn open_store(config: &StoreConfig) -> Result<(Store, sbomit_store::Opened)> {
    Store::open(config).with_context(|| format!("opening the store {}", config.database))
}

/// A database URL without its password, for printing.
fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(s), Some(at)) if at > s => {
            let userinfo = &url[s + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

fn serve(args: ServeArgs, out: &Output) -> Result<Outcome> {
    let mut config = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            ServerConfig::from_toml(&text).with_context(|| path.display().to_string())?
        }
        None => ServerConfig::default(),
    };
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    if let Some(d) = args.db.database {
        config.database = Some(d);
    }
    if let Some(k) = args.db.service_key {
        config.service_key = Some(k);
    }
    let (database, service_key) = locations(
        config.database.as_deref(),
        config.service_key.as_deref(),
        true,
    )?;
    config.database = Some(database);
    config.service_key = Some(service_key);

    // The port first: a server that cannot start creates no key and no database.
    let listen = config.listen;
    let listener = std::net::TcpListener::bind(listen)
        .with_context(|| format!("cannot listen on {listen}"))?;
    listener
        .set_nonblocking(true)
        .with_context(|| format!("cannot listen on {listen}"))?;
    let key_path = config.service_key_path();
    let (key, created_key) = keys::load_or_create_service_key(&key_path)?;
    let store_config = config.store_config(key);
    let (store, opened) = open_store(&store_config)?;
    // stdout: what a script (or a test) starting the server needs to know.
    println!(
        "database: {} ({})",
        redact(&store_config.database),
        opened.backend
    );
    println!(
        "service key: {}{}",
        key_path.display(),
        if created_key { " (created)" } else { "" }
    );
    println!("origin: {}", opened.origin);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(listener)
            .with_context(|| format!("cannot listen on {listen}"))?;
        let addr = listener.local_addr().context("reading the bound address")?;
        println!("listening on http://{addr}");
        sbomit_server::serve(store, config, listener, shutdown_signal())
            .await
            .context("serving")
    })?;
    out.info("stopped");
    Ok(Outcome::Ok)
}

/// Resolves on SIGINT or SIGTERM: the server then stops accepting, finishes the requests in
/// flight (their batches commit) and returns.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let Ok(mut term) = signal(SignalKind::terminate()) else {
            let _ = tokio::signal::ctrl_c().await;
            return;
        };
        let (tx, mut rx) = tokio::sync::mpsc::channel::<()>(2);
        let tx2 = tx.clone();
        tokio::spawn(async move {
            term.recv().await;
            let _ = tx.send(()).await;
        });
        tokio::spawn(async move {
            let _ = tokio::signal::ctrl_c().await;
            let _ = tx2.send(()).await;
        });
        rx.recv().await;
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Runs `f` on the store `db` names, then closes it: its threads let go of the database
/// before this short-lived process exits, instead of being cut off in the middle of a query.
/// The SQLite file a `sqlite://PATH[?…]` URL names (`None` for other databases).
fn sqlite_file(database: &str) -> Option<PathBuf> {
    let rest = database.strip_prefix("sqlite://")?;
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path))
}

/// Opens the store an operator command acts on, says which on stderr, runs `f` on it. A store
/// or service key that does not exist is refused (exit 2) unless `--create` is given.
fn with_operator_store<T>(
    db: &DatabaseArgs,
    out: &Output,
    f: impl FnOnce(&Store) -> Result<T>,
) -> Result<T> {
    let (database, service_key) =
        locations(db.database.as_deref(), db.service_key.as_deref(), db.create)?;
    if !db.create {
        if let Some(file) = sqlite_file(&database).filter(|f| !f.exists()) {
            bail!(
                "no store at {}: give --database with the server's store, or --create to make a new one",
                file.display()
            );
        }
        if !service_key.exists() {
            bail!(
                "no service key at {}: give --service-key with the server's key, or --create to make a new one",
                service_key.display()
            );
        }
    }
    out.info(format!("store: {}", redact(&database)));
    let (key, _) = keys::load_or_create_service_key(&service_key)?;
    let store = open_store(&StoreConfig::new(database, key))?.0;
    let result = f(&store);
    store.close(std::time::Duration::from_secs(5));
    result
}

fn issuer_add(args: IssuerAddArgs, out: &Output) -> Result<Outcome> {
    let role = match args.role {
        RoleArg::Attester => Role::Attester,
        RoleArg::PolicyManager => Role::PolicyManager,
    };
    with_operator_store(&args.db, out, |store| {
        issuer_add_on(store, &args, role, out)
    })
}

fn issuer_add_on(store: &Store, args: &IssuerAddArgs, role: Role, out: &Output) -> Result<Outcome> {
    let Some(key_path) = &args.key else {
        let Some(anchor) = &args.trust_anchor else {
            bail!("give --key or --trust-anchor");
        };
        let bytes = sbomit_fs::io::read_file(anchor)?;
        match store
            .add_trust_anchor(&args.iss, role, &bytes)
            .with_context(|| format!("adding a trust anchor for {}", args.iss))?
        {
            Some(reg) => {
                out.info(format!(
                    "issuer {} ({role}) trusts {}; logged as entry {}",
                    args.iss,
                    anchor.display(),
                    reg.id
                ));
                println!("{}", reg.id);
            }
            None => out.info(format!(
                "issuer {} already trusts {} as {role}",
                args.iss,
                anchor.display()
            )),
        }
        return Ok(Outcome::Ok);
    };
    let key = keys::load_public(key_path)?;
    match store
        .add_issuer(&args.iss, role, &key)
        .with_context(|| format!("adding issuer {}", args.iss))?
    {
        Some(reg) => {
            out.info(format!(
                "issuer {} ({role}) added with key {}; logged as entry {}",
                args.iss,
                key.keyid(),
                reg.id
            ));
            println!("{}", reg.id);
        }
        None => out.info(format!(
            "issuer {} already has key {} as {role}",
            args.iss,
            key.keyid()
        )),
    }
    Ok(Outcome::Ok)
}

fn issuer_list(args: DatabaseOnlyArgs, out: &Output) -> Result<Outcome> {
    let identities = with_operator_store(&args.db, out, |store| {
        store.identities().context("reading the identities")
    })?;
    println!("ID\tKIND\tROLE\tISS\tADDED");
    for i in identities {
        println!(
            "{}\t{}\t{}\t{}\t{}",
            i.id,
            if i.trust_anchor {
                "trust-anchor"
            } else {
                "key"
            },
            i.record.role,
            i.record.iss,
            rfc3339(i.record.added_ms)
        );
    }
    Ok(Outcome::Ok)
}

fn issuer_remove(args: IssuerRemoveArgs, out: &Output) -> Result<Outcome> {
    let removed = with_operator_store(&args.db, out, |store| {
        store
            .remove_identity(&args.id, args.iss.as_deref())
            .with_context(|| format!("removing identity {}", args.id))
    })?;
    if removed.is_empty() {
        match &args.iss {
            Some(iss) => bail!(
                "no identity {} of issuer {iss} (see `store issuer list`)",
                args.id
            ),
            None => bail!("no identity {} (see `store issuer list`)", args.id),
        }
    }
    for (identity, reg) in removed {
        out.info(format!(
            "removed {} of issuer {} ({}); logged as entry {}",
            identity.id, identity.record.iss, identity.record.role, reg.id
        ));
        println!("{}", reg.id);
    }
    Ok(Outcome::Ok)
}

/// Unix milliseconds as RFC 3339 (UTC).
fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| ms.to_string())
}

/// `90d`, `12h`, `30m`, `45s`, `2w`: a positive number and its unit.
fn parse_duration(text: &str) -> Result<chrono::Duration> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let n: i64 = number
        .parse()
        .ok()
        .filter(|n| *n > 0)
        .with_context(|| format!("--expires-in {text:?}: expected a positive number and a unit (s, m, h, d, w), such as 90d"))?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 604_800,
        _ => bail!("--expires-in {text:?}: the unit must be s, m, h, d or w"),
    };
    n.checked_mul(seconds)
        .and_then(chrono::Duration::try_seconds)
        .with_context(|| format!("--expires-in {text:?} is too long"))
}

/// When a new token expires (Unix milliseconds), from `--expires-in` or `--expires`.
fn token_expiry(args: &TokenCreateArgs) -> Result<Option<i64>> {
    let now = chrono::Utc::now();
    let at = match (&args.expires_in, &args.expires) {
        (Some(d), _) => now
            .checked_add_signed(parse_duration(d)?)
            .with_context(|| format!("--expires-in {d:?} is too long"))?,
        (None, Some(t)) => chrono::DateTime::parse_from_rfc3339(t)
            .with_context(|| format!("--expires {t:?}: not an RFC 3339 time"))?
            .with_timezone(&chrono::Utc),
        (None, None) => return Ok(None),
    };
    if at <= now {
        bail!(
            "the token would expire at {}, which is not in the future",
            at.to_rfc3339()
        );
    }
    Ok(Some(at.timestamp_millis()))
}

fn token_create(args: TokenCreateArgs, out: &Output) -> Result<Outcome> {
    let scope = match args.scope {
        ScopeArg::Admin => Scope::Admin,
        ScopeArg::Submit => Scope::Submit,
        ScopeArg::Read => Scope::Read,
    };
    let expires = token_expiry(&args)?;
    let token = with_operator_store(&args.db, out, |store| {
        store
            .create_token_expiring(scope, &args.label, expires)
            .context("creating the token")
    })?;
    println!("{token}");
    Ok(Outcome::Ok)
}

fn token_list(args: DatabaseOnlyArgs, out: &Output) -> Result<Outcome> {
    let tokens = with_operator_store(&args.db, out, |store| {
        store.tokens().context("reading the tokens")
    })?;
    println!("ID\tSCOPE\tCREATED\tEXPIRES\tREVOKED\tLABEL");
    let never = || "-".to_owned();
    for t in tokens {
        println!(
            "{}\t{}\t{}\t{}\t{}\t{}",
            t.id,
            t.scope.name(),
            rfc3339(t.created_ms),
            t.expires_ms.map(rfc3339).unwrap_or_else(never),
            t.revoked_ms.map(rfc3339).unwrap_or_else(never),
            t.label
        );
    }
    Ok(Outcome::Ok)
}

fn token_revoke(args: TokenRevokeArgs, out: &Output) -> Result<Outcome> {
    let revoked = with_operator_store(&args.db, out, |store| {
        store
            .revoke_token(&args.id)
            .with_context(|| format!("revoking token {}", args.id))
    })?;
    match revoked {
        Some(t) => out.info(format!(
            "revoked token {} ({}, {:?}); running servers refuse it within a second",
            t.id,
            t.scope.name(),
            t.label
        )),
        None => out.info(format!("token {} was revoked already", args.id)),
    }
    Ok(Outcome::Ok)
}

// ---- HTTP clients ----

/// A client of the store `remote` names (the HTTP is sbomit-client's).
fn client(remote: &RemoteArgs) -> Result<Client> {
    Ok(Client::new(&remote.url)?.with_token(remote.token.as_deref()))
}

/// DSSE envelopes are JSON; COSE statements are CBOR (which never starts with `{`).
fn is_json(bytes: &[u8]) -> bool {
    bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
}

/// An entry id as the store names it (`1.N`), from `N` or `1.N`; anything else is refused
/// rather than sent as `1.<whatever was typed>`.
fn entry_path_id(id: &str) -> Result<String> {
    let n = id.strip_prefix("1.").unwrap_or(id);
    if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
        bail!("{id:?} is not an entry id: give its log index N, or 1.N");
    }
    Ok(format!("1.{n}"))
}

fn submit(args: SubmitArgs, out: &Output) -> Result<Outcome> {
    let bytes = sbomit_fs::io::read_file(&args.file)?;
    let what = args.file.display().to_string();
    let client = client(&args.remote)?;
    let registering = || format!("registering {what}");
    let (id, receipt, before) = if is_json(&bytes) {
        let reg = client.register_dsse(&bytes).with_context(registering)?;
        let receipt = client
            .entry_receipt(reg.index)
            .with_context(|| format!("fetching the receipt of {}", reg.entry_id))?;
        (reg.entry_id, receipt, reg.duplicate)
    } else {
        let reg = client.register_cose(&bytes).with_context(registering)?;
        (reg.entry_id, reg.receipt, false)
    };
    let receipt_path = args.receipt.unwrap_or_else(|| {
        let mut name = args.file.clone().into_os_string();
        name.push(".receipt.cose");
        PathBuf::from(name)
    });
    sbomit_fs::io::write_atomic(&receipt_path, &receipt, None)?;
    // Said once: a statement registered before is not registered again.
    out.info(format!(
        "{} {what} as entry {id}; receipt in {}",
        if before {
            "registered before:"
        } else {
            "registered"
        },
        receipt_path.display()
    ));
    println!("{id}");
    Ok(Outcome::Ok)
}

fn get(args: GetArgs, out: &Output) -> Result<Outcome> {
    let id = entry_path_id(&args.id)?;
    let receipt = client(&args.remote)?
        .receipt(&id)
        .with_context(|| format!("fetching entry {id}"))?;
    match &args.out {
        Some(path) => {
            sbomit_fs::io::write_atomic(path, &receipt, None)?;
            out.info(format!("wrote the receipt of {id} to {}", path.display()));
        }
        None => {
            let mut stdout = std::io::stdout().lock();
            if stdout.is_terminal() {
                bail!("a receipt is binary: pass --out FILE");
            }
            stdout
                .write_all(&receipt)
                .and_then(|()| stdout.flush())
                .context("writing to stdout")?;
        }
    }
    Ok(Outcome::Ok)
}

/// Service keys from a file: a PEM public (or the service's private) key, a COSE_Key or a
/// COSE_KeySet.
fn load_service_keys(path: &Path) -> Result<Vec<CoseKey>> {
    let what = path.display().to_string();
    let bytes = sbomit_fs::io::read_file(path)?;
    if bytes.windows(10).any(|w| w == b"-----BEGIN") {
        let key = match PublicKey::from_pem(&bytes, None) {
            Ok(k) => k,
            Err(public_err) => PrivateKey::from_pem(&bytes, None)
                .map(|k| k.public_key().clone())
                .map_err(|_| public_err)
                .with_context(|| what.clone())?,
        };
        // The store names its key by the SHA-256 of the SubjectPublicKeyInfo; receipts carry
        // that kid, and only a key with it is tried.
        let kid = Sha256::digest(key.spki_der()).as_bytes().to_vec();
        return Ok(vec![
            CoseKey::new(key, Some(kid)).with_context(|| what.clone())?
        ]);
    }
    match cose::decode_key_set(&bytes) {
        Ok(keys) => Ok(keys),
        Err(set_err) => CoseKey::decode(&bytes)
            .map(|k| vec![k])
            .map_err(|_| set_err)
            .with_context(|| format!("{what}: not a PEM key, COSE_Key or COSE_KeySet")),
    }
}

fn verify_receipt(args: VerifyReceiptArgs) -> Result<Outcome> {
    let statement = sbomit_fs::io::read_file(&args.statement)?;
    let receipt_bytes = sbomit_fs::io::read_file(&args.receipt)?;
    let keys = load_service_keys(&args.service_key)?;
    // The log's leaf: a DSSE envelope is hashed as registered; a COSE statement as itself
    // with an empty unprotected header (RFC 9942).
    let leaf = if is_json(&statement) {
        merkle::leaf_hash(&statement)
    } else {
        receipt::statement_leaf_hash(&statement).with_context(|| {
            format!(
                "{}: neither a DSSE envelope nor a COSE statement",
                args.statement.display()
            )
        })?
    };
    match receipt::verify_receipt_for_leaf(&leaf, &receipt_bytes, &keys) {
        Ok(v) => {
            println!(
                "receipt verified: entry 1.{} in the log of {} entries (root {}){}",
                v.leaf_index,
                v.tree_size,
                hex::encode(v.root),
                v.iss.map(|i| format!(", by {i}")).unwrap_or_default()
            );
            Ok(Outcome::Ok)
        }
        Err(e) => {
            eprintln!(
                "{}: the receipt does not verify for {}: {e}",
                args.receipt.display(),
                args.statement.display()
            );
            Ok(Outcome::Failed)
        }
    }
}

fn checkpoint(args: CheckpointArgs, out: &Output) -> Result<Outcome> {
    let note = client(&args.remote)?
        .checkpoint()
        .context("fetching the checkpoint")?;
    if let Some(path) = &args.verify_key {
        let keys = load_service_keys(path)?;
        // A checkpoint's signature name is its origin, its first line.
        let origin = note.lines().next().unwrap_or_default();
        let verifiers: Vec<NoteVerifier> = keys
            .iter()
            .filter_map(|k| NoteVerifier::new(origin, k.public_key().clone()).ok())
            .collect();
        if verifiers.is_empty() {
            bail!("{}: no Ed25519 key to verify a checkpoint", path.display());
        }
        match Checkpoint::open(&note, &verifiers, None) {
            Ok((c, _)) => out.info(format!(
                "checkpoint of {} verified: {} entries, root {}",
                c.origin,
                c.size,
                hex::encode(c.root)
            )),
            Err(e) => {
                eprintln!("the checkpoint does not verify: {e}");
                return Ok(Outcome::Failed);
            }
        }
    }
    print!("{note}");
    Ok(Outcome::Ok)
}
