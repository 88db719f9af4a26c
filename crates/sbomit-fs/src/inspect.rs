//! Running inspections at verification time, as the reference does (`run_all_inspections`):
//! record everything in the current directory as materials (symlinked directories followed,
//! default excludes, no base path), run the command with its output discarded and recorded as
//! empty strings, record products.

use std::time::Duration;

use sbomit_intoto::model::{Inspection, Link};
use sbomit_intoto::verify::{InspectionRunner, SourceError};

use crate::record::{record_artifacts, NoProgress, RecordOptions};
use crate::run::{run_command, Streams};

/// Runs inspection commands in the current directory.
pub struct CommandInspectionRunner {
    timeout: Option<Duration>,
}

impl CommandInspectionRunner {
    pub fn new(timeout: Option<Duration>) -> Self {
        Self { timeout }
    }
}

impl InspectionRunner for CommandInspectionRunner {
    fn run(&self, inspection: &Inspection) -> Result<Link, SourceError> {
        let here = vec![".".to_owned()];
        let options = RecordOptions::default();
        let materials = record_artifacts(&here, &options, &NoProgress)?;
        let byproducts = run_command(&inspection.run, Streams::Discard, self.timeout)?;
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
