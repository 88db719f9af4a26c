//! Running inspections at verification time, as the reference does (`run_all_inspections`):
//! record everything in the inspection's directory as materials (symlinked directories
//! followed, default excludes), run the command there with its output discarded and recorded as
//! empty strings, record products.
//!
//! The directory is given to the child (`Command::current_dir`) and to the recorder (as its
//! base path): the process's own directory never changes, so nothing else running in it sees
//! a different one. Each inspection runs in a process group of its own and, past its timeout,
//! is killed with everything it started.

use std::path::PathBuf;
use std::time::Duration;

use sbomit_intoto::model::{Inspection, Link};
use sbomit_intoto::verify::{InspectionRunner, SourceError};

use crate::record::{record_artifacts, NoProgress, RecordOptions};
use crate::run::{run_command_with, RunOptions, Streams};

/// How long an inspection may run by default before it is killed: long enough for a real
/// check of a large product, short enough that a hung one does not hold a verifier forever.
pub const DEFAULT_INSPECTION_TIMEOUT: Duration = Duration::from_secs(10 * 60);

/// Runs inspection commands in a directory (by default the current one).
pub struct CommandInspectionRunner {
    dir: Option<PathBuf>,
    timeout: Option<Duration>,
}

impl CommandInspectionRunner {
    /// Runs inspections in the current directory, killed after `timeout` when given.
    pub fn new(timeout: Option<Duration>) -> Self {
        Self { dir: None, timeout }
    }

    /// Runs inspections in `dir` (recorded names are relative to it), killed after `timeout`
    /// when given.
    pub fn in_dir(dir: impl Into<PathBuf>, timeout: Option<Duration>) -> Self {
        Self {
            dir: Some(dir.into()),
            timeout,
        }
    }
}

impl InspectionRunner for CommandInspectionRunner {
    fn run(&self, inspection: &Inspection) -> Result<Link, SourceError> {
        let here = vec![".".to_owned()];
        let options = RecordOptions {
            base_path: self.dir.clone(),
            ..RecordOptions::default()
        };
        let materials = record_artifacts(&here, &options, &NoProgress)?;
        let run = RunOptions {
            current_dir: self.dir.as_deref(),
            own_process_group: true,
            ..RunOptions::new(Streams::Discard, self.timeout)
        };
        let byproducts = run_command_with(&inspection.run, &run)?;
        let products = record_artifacts(&here, &options, &NoProgress)?;
        Ok(Link {
            name: inspection.name.clone(),
            command: inspection.run.clone(),
            materials,
            products,
            byproducts,
            environment: serde_json::Map::new(),
        })
    }
}
