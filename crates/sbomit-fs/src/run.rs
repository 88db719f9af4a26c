//! Running a step's command: the reference's byproducts (`stdout`, `stderr`, `return-value`).

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    #[error("no command given")]
    Empty,
    #[error("cannot start {program:?}: {source}")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    #[error("{program:?} did not finish within {seconds} s and was killed")]
    Timeout { program: String, seconds: u64 },
    #[error("waiting for {program:?}: {source}")]
    Wait {
        program: String,
        source: std::io::Error,
    },
}

/// What happens to a command's stdout and stderr.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Streams {
    /// Shown on ours, recorded as empty strings (the reference's default).
    Inherit,
    /// Shown on ours and recorded (`--record-streams`).
    Tee,
    /// Recorded only (inspections, whose output must not mix with a report).
    Capture,
}

/// Runs `argv`. Recorded streams are text, invalid UTF-8 replaced. The return value is the
/// exit code, or minus the signal number when the process was killed, as Python reports it.
pub fn run_command(
    argv: &[String],
    streams: Streams,
    timeout: Option<Duration>,
) -> Result<Map<String, Value>, RunError> {
    let (program, args) = argv.split_first().ok_or(RunError::Empty)?;
    let mut cmd = Command::new(program);
    cmd.args(args).stdin(if streams == Streams::Capture {
        Stdio::null()
    } else {
        Stdio::inherit()
    });
    if streams != Streams::Inherit {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    }
    let echo = streams == Streams::Tee;
    let mut child = cmd.spawn().map_err(|source| RunError::Spawn {
        program: program.clone(),
        source,
    })?;
    let tee = move |stream: Option<Box<dyn Read + Send>>, mut sink: Box<dyn Write + Send>| {
        std::thread::spawn(move || {
            let mut captured = Vec::new();
            if let Some(mut s) = stream {
                let mut buf = [0u8; 8192];
                while let Ok(n) = s.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    captured.extend_from_slice(&buf[..n]);
                    if echo {
                        let _ = sink.write_all(&buf[..n]);
                    }
                }
            }
            captured
        })
    };
    let out_thread = tee(
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
        Box::new(std::io::stdout()),
    );
    let err_thread = tee(
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
        Box::new(std::io::stderr()),
    );
    let wait_err = |source| RunError::Wait {
        program: program.clone(),
        source,
    };
    let status = match timeout {
        None => child.wait().map_err(wait_err)?,
        Some(limit) => {
            let start = Instant::now();
            loop {
                if let Some(s) = child.try_wait().map_err(wait_err)? {
                    break s;
                }
                if start.elapsed() >= limit {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(RunError::Timeout {
                        program: program.clone(),
                        seconds: limit.as_secs(),
                    });
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    };
    let stdout = out_thread.join().unwrap_or_default();
    let stderr = err_thread.join().unwrap_or_default();
    let code = status.code().map(i64::from).unwrap_or_else(|| {
        #[cfg(unix)]
        {
            use std::os::unix::process::ExitStatusExt;
            status.signal().map_or(-1, |s| -i64::from(s))
        }
        #[cfg(not(unix))]
        {
            -1
        }
    });
    let mut m = Map::new();
    m.insert(
        "stdout".into(),
        Value::String(String::from_utf8_lossy(&stdout).into_owned()),
    );
    m.insert(
        "stderr".into(),
        Value::String(String::from_utf8_lossy(&stderr).into_owned()),
    );
    m.insert("return-value".into(), Value::from(code));
    Ok(m)
}
