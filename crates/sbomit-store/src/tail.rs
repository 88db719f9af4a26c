//! The tail of the log: one thread per process that follows the committed entries. It
//! publishes the tree size (what the live event stream waits on) and keeps the graph index
//! up to date. Local commits wake it at once; entries another process committed (PostgreSQL)
//! are seen within [`POLL`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use tokio::sync::watch;

use crate::backend::Backend;
use crate::graph::{self, Facts};
use crate::StoreError;

/// How often the tail looks for entries it was not told about.
pub const POLL: Duration = Duration::from_millis(100);
/// Entries read per round.
const ENTRIES_PER_ROUND: usize = 512;
/// Facts (nodes + edges + vulnerabilities) written per transaction, so one enormous SBOM
/// does not hold the write lock for long together with many others.
const FACTS_PER_TRANSACTION: usize = 50_000;

/// Counts the store's background threads still running, so that a short-lived process
/// (an operator command) can let them finish their database work before it exits.
#[derive(Default)]
pub(crate) struct Running {
    count: Mutex<usize>,
    cond: Condvar,
}

impl Running {
    /// Counts one more thread; the guard counts it out when the thread ends, panics included.
    pub fn enter(self: &Arc<Self>) -> RunningGuard {
        *self.count.lock().unwrap_or_else(|p| p.into_inner()) += 1;
        RunningGuard(Arc::clone(self))
    }

    /// Waits until no thread runs, or `timeout` passes; whether they all ended.
    pub fn wait_idle(&self, timeout: Duration) -> bool {
        let guard = self.count.lock().unwrap_or_else(|p| p.into_inner());
        let (guard, _) = self
            .cond
            .wait_timeout_while(guard, timeout, |n| *n > 0)
            .unwrap_or_else(|p| p.into_inner());
        *guard == 0
    }
}

pub(crate) struct RunningGuard(Arc<Running>);

impl Drop for RunningGuard {
    fn drop(&mut self) {
        let mut n = self.0.count.lock().unwrap_or_else(|p| p.into_inner());
        *n = n.saturating_sub(1);
        self.0.cond.notify_all();
    }
}

/// Wakes the tail.
#[derive(Default)]
pub(crate) struct Bell {
    rung: Mutex<bool>,
    cond: Condvar,
    pub stop: AtomicBool,
}

impl Bell {
    pub fn ring(&self) {
        *self.rung.lock().unwrap_or_else(|p| p.into_inner()) = true;
        self.cond.notify_all();
    }

    fn wait(&self, timeout: Duration) {
        let guard = self.rung.lock().unwrap_or_else(|p| p.into_inner());
        let (mut guard, _) = self
            .cond
            .wait_timeout_while(guard, timeout, |rung| !*rung)
            .unwrap_or_else(|p| p.into_inner());
        *guard = false;
    }
}

fn size_of(f: &Facts) -> usize {
    1 + f.nodes.len() + f.edges.len() + f.vulns.len() + f.subjects.len()
}

/// One round: publish the size, index what is new. Returns whether there may be more.
fn round(backend: &dyn Backend, size_tx: &watch::Sender<u64>) -> Result<bool, StoreError> {
    let size = backend.latest_checkpoint()?.map_or(0, |c| c.size);
    size_tx.send_if_modified(|s| {
        let changed = *s != size;
        *s = size;
        changed
    });
    let cursor = backend.graph_cursor()?;
    if cursor >= size {
        return Ok(false);
    }
    let entries = backend.entries_from(cursor, ENTRIES_PER_ROUND)?;
    let mut batch: Vec<(crate::backend::EntryRecord, Facts)> = Vec::new();
    let mut from = cursor;
    let mut weight = 0;
    for e in entries {
        if e.index != from + batch.len() as u64 {
            return Err(StoreError::corrupt(format!(
                "entry {} follows entry {}",
                e.index,
                from + batch.len() as u64
            )));
        }
        let bytes = backend
            .statement(e.index)?
            .ok_or_else(|| StoreError::corrupt(format!("no statement for entry {}", e.index)))?;
        let facts = graph::extract(e.kind, &e.statement_type, &bytes);
        weight += size_of(&facts);
        batch.push((e, facts));
        if weight >= FACTS_PER_TRANSACTION {
            if !backend.index_facts(from, &batch)? {
                return Ok(true);
            }
            from += batch.len() as u64;
            batch.clear();
            weight = 0;
        }
    }
    if !batch.is_empty() && !backend.index_facts(from, &batch)? {
        return Ok(true);
    }
    Ok(true)
}

pub(crate) fn spawn(
    backend: Arc<dyn Backend>,
    bell: Arc<Bell>,
    size_tx: watch::Sender<u64>,
    running: RunningGuard,
) -> Result<(), StoreError> {
    std::thread::Builder::new()
        .name("sbomit-tail".into())
        .spawn(move || {
            // Dropped last, after the backend: the thread has let go of the database.
            let _running = running;
            let backend = backend;
            let mut failures = 0u32;
            while !bell.stop.load(Ordering::Relaxed) {
                match round(&*backend, &size_tx) {
                    Ok(true) => failures = 0,
                    Ok(false) => {
                        failures = 0;
                        bell.wait(POLL);
                    }
                    Err(e) => {
                        // The index can always be rebuilt from the log: report and retry
                        // later rather than stop following it.
                        failures += 1;
                        if failures == 1 || failures % 100 == 0 {
                            eprintln!("sbomit store: indexing: {e}");
                        }
                        // Short: the same loop publishes the tree size that event streams wait on.
                        bell.wait(POLL * failures.min(5));
                    }
                }
            }
        })
        .map_err(|source| StoreError::Io {
            what: "starting the tail thread".into(),
            source,
        })?;
    Ok(())
}
