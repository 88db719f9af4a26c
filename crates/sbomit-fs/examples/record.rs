//! Records the given paths as `sbomit run` would and prints how many artifacts and how long:
//! `cargo run --release -p sbomit-fs --example record -- .` (a quick check of walking and
//! hashing speed without the CLI).

use std::time::Instant;

use sbomit_fs::record::{record_artifacts, NoProgress, RecordOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let paths: Vec<String> = std::env::args().skip(1).collect();
    let start = Instant::now();
    let artifacts = record_artifacts(&paths, &RecordOptions::default(), &NoProgress)?;
    println!("{} artifacts in {:?}", artifacts.len(), start.elapsed());
    Ok(())
}
