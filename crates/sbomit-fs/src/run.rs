//! Running a step's command: the reference's byproducts (`stdout`, `stderr`, `return-value`).
//!
//! Unlike the reference, which keeps all of a command's output in memory, a recorded stream is
//! capped ([`RunOptions::max_output_bytes`]): its first bytes are recorded, followed by a
//! [`truncation_marker`] line saying how much was left out; the rest is still read (and shown,
//! with [`Streams::Tee`]) so the command is never blocked on a full pipe.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
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
    #[error(
        "{program:?} wrote {stream} that is not UTF-8 text, which the reference cannot record"
    )]
    NotText {
        program: String,
        stream: &'static str,
    },
    #[error("{program:?} was stopped by {signal}; no link was written")]
    Interrupted { program: String, signal: String },
    #[error("waiting for {program:?}: {source}")]
    Wait {
        program: String,
        source: std::io::Error,
    },
}

/// What happens to a command's stdout and stderr.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Streams {
    /// Thrown away and recorded as empty strings: what the reference does without
    /// `--record-streams`, and always for inspections.
    Discard,
    /// Shown on ours, recorded as empty strings (not what the reference does: it discards).
    Inherit,
    /// Shown on ours and recorded (`--record-streams`).
    Tee,
    /// Recorded only (inspections, whose output must not mix with a report).
    Capture,
}

/// The reference's default `--run-timeout` (`in_toto.settings.LINK_CMD_EXEC_TIMEOUT`), also
/// used for inspections.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// How a command runs: what becomes of its streams, how long it may take, where it runs, and
/// whether it gets a process group of its own.
#[derive(Clone, Copy, Debug)]
pub struct RunOptions<'a> {
    pub streams: Streams,
    /// Killed (with its process group when it has its own) after this long.
    pub timeout: Option<Duration>,
    /// The command's working directory; `None` runs it in ours. Ours is never changed, so
    /// commands may run from several threads at once.
    pub current_dir: Option<&'a Path>,
    /// Start the command in a new process group (Unix), so that a timeout kills whatever it
    /// started too, not only the command itself. Its stdin is then `/dev/null`: a background
    /// process group that reads the terminal would be stopped (`SIGTTIN`) until the timeout.
    /// Off for steps, which may be interactive: see [`RunOptions::foreground_job`].
    pub own_process_group: bool,
    /// Run the command as a shell runs a foreground job (Unix; for steps): in a process group
    /// of its own, so that a timeout kills whatever it started, but with our stdin, the
    /// terminal handed to its group while it runs (so it can read the terminal and Ctrl-C
    /// reaches it), and SIGINT, SIGTERM, SIGHUP and SIGQUIT sent to us passed on to its group.
    /// A command stopped by such a signal is [`RunError::Interrupted`], not a result to record.
    pub foreground_job: bool,
    /// How many bytes of each recorded stream are kept in memory and recorded; past it the
    /// recorded text ends with a [`truncation_marker`].
    pub max_output_bytes: usize,
}

/// The default [`RunOptions::max_output_bytes`]: far more than any log worth reading in a
/// link, little enough that two streams of a hostile command cannot exhaust memory.
pub const DEFAULT_MAX_OUTPUT_BYTES: usize = 64 << 20;

impl RunOptions<'_> {
    pub fn new(streams: Streams, timeout: Option<Duration>) -> Self {
        RunOptions {
            streams,
            timeout,
            current_dir: None,
            own_process_group: false,
            foreground_job: false,
            max_output_bytes: DEFAULT_MAX_OUTPUT_BYTES,
        }
    }
}

/// The line that ends a recorded stream cut at `kept` of `total` bytes.
pub fn truncation_marker(kept: usize, total: u64) -> String {
    format!("\n[sbomit: output truncated: recorded the first {kept} of {total} bytes]\n")
}

/// The first bytes of a stream, and how many it had in all.
#[derive(Default)]
struct Captured {
    head: Vec<u8>,
    total: u64,
}

/// Runs `argv` as the reference's `execute_link` does (see [`run_command_with`]), in the current
/// directory and the current process group.
pub fn run_command(
    argv: &[String],
    streams: Streams,
    timeout: Option<Duration>,
) -> Result<Map<String, Value>, RunError> {
    run_command_with(argv, &RunOptions::new(streams, timeout))
}

/// Runs `argv` as the reference's `execute_link` does. Recorded streams are read as the
/// reference reads them, as UTF-8 text with universal newlines (CRLF and CR become LF); a
/// stream that is not UTF-8 is an error, as it is there. The return value is the exit code, or
/// minus the signal number when the process was killed, as Python reports it. A program that
/// cannot be started is an error (the reference raises), not a return value of 127.
pub fn run_command_with(
    argv: &[String],
    options: &RunOptions<'_>,
) -> Result<Map<String, Value>, RunError> {
    let RunOptions {
        streams,
        timeout,
        current_dir,
        own_process_group,
        foreground_job,
        max_output_bytes,
    } = *options;
    let own_process_group = own_process_group || (foreground_job && cfg!(unix));
    let (program, args) = argv.split_first().ok_or(RunError::Empty)?;
    let mut cmd = Command::new(program);
    cmd.args(args).stdin(
        if streams == Streams::Capture || (own_process_group && !foreground_job) {
            Stdio::null()
        } else {
            Stdio::inherit()
        },
    );
    if let Some(dir) = current_dir {
        cmd.current_dir(dir);
    }
    #[cfg(unix)]
    if own_process_group {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }
    match streams {
        Streams::Discard => {
            cmd.stdout(Stdio::null()).stderr(Stdio::null());
        }
        Streams::Inherit => {}
        Streams::Tee | Streams::Capture => {
            cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        }
    }
    let echo = streams == Streams::Tee;
    let mut child = cmd.spawn().map_err(|source| RunError::Spawn {
        program: program.clone(),
        source,
    })?;
    // From here until the command is reaped, its group holds the terminal and our signals.
    #[cfg(unix)]
    let job = foreground_job.then(|| {
        let group = i32::try_from(child.id())
            .ok()
            .and_then(rustix::process::Pid::from_raw);
        group.map(|g| {
            (
                crate::job::Foreground::hand_to(g),
                crate::job::Forwarding::to(g),
            )
        })
    });
    let tee = move |stream: Option<Box<dyn Read + Send>>, mut sink: Box<dyn Write + Send>| {
        std::thread::spawn(move || {
            let mut captured = Captured::default();
            if let Some(mut s) = stream {
                let mut buf = [0u8; 8192];
                while let Ok(n) = s.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    // Past the cap the rest is still read, so the command never blocks on a
                    // full pipe, but not kept.
                    let room = max_output_bytes.saturating_sub(captured.head.len());
                    captured.head.extend_from_slice(&buf[..n.min(room)]);
                    captured.total += n as u64;
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
                    kill(&mut child, own_process_group);
                    let _ = child.wait();
                    #[cfg(unix)]
                    drop(job);
                    return Err(RunError::Timeout {
                        program: program.clone(),
                        seconds: limit.as_secs(),
                    });
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    };
    #[cfg(unix)]
    if let Some(Some((foreground, forwarding))) = job {
        let had_terminal = foreground.is_some();
        drop(foreground);
        let forwarded = forwarding.as_ref().and_then(|f| f.forwarded());
        drop(forwarding);
        if let Some(signal) = interrupted_by(&status, forwarded, had_terminal) {
            return Err(RunError::Interrupted {
                program: program.clone(),
                signal: crate::job::signal_name(signal),
            });
        }
    }
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
    let text = |captured: Captured, stream: &'static str| {
        let Captured { mut head, total } = captured;
        let truncated = total > head.len() as u64;
        if truncated {
            // The cut may fall inside a character: keep only whole ones, so a text stream
            // stays text.
            if let Err(e) = std::str::from_utf8(&head) {
                if e.error_len().is_none() {
                    head.truncate(e.valid_up_to());
                }
            }
        }
        let kept = head.len();
        let mut s = String::from_utf8(head)
            .map(|s| universal_newlines(&s))
            .map_err(|_| RunError::NotText {
                program: program.clone(),
                stream,
            })?;
        if truncated {
            s.push_str(&truncation_marker(kept, total));
        }
        Ok(s)
    };
    let mut m = Map::new();
    m.insert("stdout".into(), Value::String(text(stdout, "stdout")?));
    m.insert("stderr".into(), Value::String(text(stderr, "stderr")?));
    m.insert("return-value".into(), Value::from(code));
    Ok(m)
}

/// Kills a child that overran its time, with its whole process group when it leads one.
///
/// The child is not reaped yet, so its pid (which is the group's id) cannot have been reused:
/// signalling `-pid` reaches only what it started (less anything that left the group).
fn kill(child: &mut Child, own_process_group: bool) {
    #[cfg(unix)]
    if own_process_group {
        let group = i32::try_from(child.id())
            .ok()
            .and_then(rustix::process::Pid::from_raw);
        if let Some(group) = group {
            if rustix::process::kill_process_group(group, rustix::process::Signal::KILL).is_ok() {
                return;
            }
        }
    }
    let _ = own_process_group;
    let _ = child.kill();
}

/// The signal that stopped a foreground job on the user's behalf: one we passed on to it, or
/// Ctrl-C or Ctrl-\ typed on the terminal it held (which reached it, not us).
#[cfg(unix)]
fn interrupted_by(
    status: &std::process::ExitStatus,
    forwarded: Option<i32>,
    had_terminal: bool,
) -> Option<i32> {
    use std::os::unix::process::ExitStatusExt;
    let typed = [signal_hook::consts::SIGINT, signal_hook::consts::SIGQUIT];
    forwarded.or_else(|| {
        status
            .signal()
            .filter(|s| had_terminal && typed.contains(s))
    })
}

/// Python's text-mode reading: `\r\n` and lone `\r` read as `\n`.
fn universal_newlines(s: &str) -> String {
    if s.contains('\r') {
        s.replace("\r\n", "\n").replace('\r', "\n")
    } else {
        s.to_owned()
    }
}
