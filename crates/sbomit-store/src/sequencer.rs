//! Batched sequencing. Admitted entries queue here; one thread takes whatever has arrived
//! (waiting up to `interval` after the previous batch began, so a burst becomes one batch),
//! appends it in one transaction with one signed checkpoint, and only then answers each
//! submitter. Under load, batches grow while the previous commit runs: the commit cost is
//! shared by every entry in it.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use sbomit_tlog::merkle::Hash;

use crate::admission::NewEntry;
use crate::backend::Backend;
use crate::StoreError;

/// How batches are formed.
#[derive(Clone, Copy, Debug)]
pub struct BatchConfig {
    /// The shortest time between the starts of two batches.
    pub interval: Duration,
    /// The most entries in one batch.
    pub max_batch: usize,
}

impl Default for BatchConfig {
    fn default() -> Self {
        BatchConfig {
            interval: Duration::from_millis(20),
            max_batch: 4096,
        }
    }
}

/// Where an acknowledged entry is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sequenced {
    pub index: u64,
    /// The tree size of the checkpoint that first includes it.
    pub tree_size: u64,
    /// The same leaf had been registered before.
    pub duplicate: bool,
}

pub(crate) struct Job {
    pub entry: NewEntry,
    pub reply: oneshot::Sender<Result<Sequenced, StoreError>>,
}

pub(crate) type SealFn = Box<dyn Fn(u64, &Hash) -> Result<String, StoreError> + Send>;
pub(crate) type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// Starts the sequencer thread; it ends when every sender is dropped and the queue is empty.
pub(crate) fn spawn(
    backend: Arc<dyn Backend>,
    seal: SealFn,
    now_ms: Clock,
    config: BatchConfig,
    committed: Box<dyn Fn() + Send>,
    running: crate::tail::RunningGuard,
) -> Result<mpsc::Sender<Job>, StoreError> {
    let (tx, rx) = mpsc::channel::<Job>();
    std::thread::Builder::new()
        .name("sbomit-sequencer".into())
        .spawn(move || {
            // Dropped last, after the backend: the thread has let go of the database.
            let _running = running;
            let backend = backend;
            run(&*backend, &seal, &*now_ms, config, rx, &*committed)
        })
        .map_err(|source| StoreError::Io {
            what: "starting the sequencer thread".into(),
            source,
        })?;
    Ok(tx)
}

fn run(
    backend: &dyn Backend,
    seal: &SealFn,
    now_ms: &(dyn Fn() -> i64 + Send + Sync),
    config: BatchConfig,
    rx: mpsc::Receiver<Job>,
    committed: &dyn Fn(),
) {
    let mut last_start: Option<Instant> = None;
    while let Ok(first) = rx.recv() {
        let mut jobs = vec![first];
        let deadline = last_start.map(|t| t + config.interval);
        while jobs.len() < config.max_batch {
            let next = match deadline {
                Some(d) if d > Instant::now() => match rx.recv_timeout(d - Instant::now()) {
                    Ok(j) => Some(j),
                    Err(RecvTimeoutError::Timeout) => None,
                    Err(RecvTimeoutError::Disconnected) => None,
                },
                _ => rx.try_recv().ok(),
            };
            match next {
                Some(j) => jobs.push(j),
                None => break,
            }
        }
        last_start = Some(Instant::now());
        let (entries, replies): (Vec<NewEntry>, Vec<_>) =
            jobs.into_iter().map(|j| (j.entry, j.reply)).unzip();
        match backend.append(&entries, now_ms(), &|size, root| seal(size, root)) {
            Ok(results) => {
                committed();
                let tree_size = results
                    .iter()
                    .filter(|a| !a.duplicate)
                    .map(|a| a.index + 1)
                    .max();
                for (reply, a) in replies.into_iter().zip(results) {
                    let _ = reply.send(Ok(Sequenced {
                        index: a.index,
                        tree_size: tree_size.unwrap_or(a.index + 1).max(a.index + 1),
                        duplicate: a.duplicate,
                    }));
                }
            }
            Err(e) => {
                let message = e.to_string();
                for reply in replies {
                    let _ = reply.send(Err(StoreError::Append(message.clone())));
                }
            }
        }
    }
}
