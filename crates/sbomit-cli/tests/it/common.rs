//! Helpers shared by the CLI's test binaries: run `sbomit`, check exit codes and output.

// Each test binary uses its own subset of these.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

/// Runs `sbomit ARGS` in `dir`, without the environment variables that change its behaviour.
pub fn sbomit(dir: &Path, args: &[&str]) -> Output {
    sbomit_env(dir, args, &[])
}

/// [`sbomit`] with extra environment variables.
pub fn sbomit_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sbomit"));
    c.args(args)
        .current_dir(dir)
        .env_remove("SBOMIT_KEY_PASSWORD")
        .env_remove("SOURCE_DATE_EPOCH");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run sbomit")
}

pub fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[track_caller]
pub fn ok(o: Output) -> Output {
    assert_eq!(code(&o), 0, "expected success:\n{}", text(&o));
    o
}

#[track_caller]
pub fn fails_with(o: Output, exit: i32, needles: &[&str]) {
    let t = text(&o);
    assert_eq!(code(&o), exit, "expected exit {exit}:\n{t}");
    for n in needles {
        assert!(t.contains(n), "expected {n:?} in:\n{t}");
    }
}

pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

/// A PostgreSQL session for the tests' own setup and checks, on the async client the store
/// uses, with a runtime of its own (the tests are synchronous).
pub struct Pg {
    rt: tokio::runtime::Runtime,
    client: tokio_postgres::Client,
}

impl Pg {
    pub fn connect(url: &str) -> Result<Pg, tokio_postgres::Error> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let client = rt.block_on(async {
            let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
            // Driven whenever a query below is.
            tokio::spawn(async move {
                let _ = connection.await;
            });
            Ok::<_, tokio_postgres::Error>(client)
        })?;
        Ok(Pg { rt, client })
    }

    pub fn batch_execute(&self, sql: &str) -> Result<(), tokio_postgres::Error> {
        self.rt.block_on(self.client.batch_execute(sql))
    }

    pub fn query(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Vec<tokio_postgres::Row>, tokio_postgres::Error> {
        self.rt.block_on(self.client.query(sql, params))
    }

    pub fn query_one(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<tokio_postgres::Row, tokio_postgres::Error> {
        self.rt.block_on(self.client.query_one(sql, params))
    }
}
