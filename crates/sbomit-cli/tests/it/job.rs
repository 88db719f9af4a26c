//! `sbomit run` runs its step as a shell runs a foreground job (issue 12 e): in a process group
//! of its own, so a timeout kills everything the step started; with the terminal handed to it,
//! so it can still read the terminal and Ctrl-C reaches it; and with our signals passed on.
//! The terminal tests run `sbomit` under util-linux `script`, which gives it a pseudo-terminal.

#![cfg(unix)]
#![allow(clippy::unwrap_used)] // tests fail loudly on broken fixtures

use crate::common::*;

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn keys(dir: &Path) {
    ok(sbomit(dir, &["key", "generate", "--out", "dev"]));
}

fn links_in(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".link"))
        .collect()
}

/// Waits up to 10 s for `path` to exist.
fn wait_for(path: &Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits up to 20 s for `child` to end, and returns its exit code (-1 for a signal).
fn wait_code(child: &mut Child) -> i32 {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code().unwrap_or(-1);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("still running after 20 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `sbomit run ARGS` under `script`, in a pseudo-terminal of its own; its output (the
/// terminal's) goes to `dir/terminal.out`.
fn on_a_terminal(dir: &Path, args: &str) -> Child {
    let command = format!("{} {args}", env!("CARGO_BIN_EXE_sbomit"));
    Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .current_dir(dir)
        .env_remove("SBOMIT_KEY_PASSWORD")
        .stdin(Stdio::piped())
        .stdout(std::fs::File::create(dir.join("terminal.out")).unwrap())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("util-linux `script` runs the terminal tests")
}

#[test]
fn run_timeout_kills_everything_the_step_started() {
    let d = tempdir();
    let p = d.path();
    keys(p);
    fails_with(
        sbomit(
            p,
            &[
                "run",
                "-n",
                "slow",
                "--signing-key",
                "dev",
                "--run-timeout",
                "1",
                "--",
                "sh",
                "-c",
                "sleep 30 & echo $! > grandchild; wait",
            ],
        ),
        2,
        &["did not finish"],
    );
    assert!(links_in(p).is_empty());
    let pid = std::fs::read_to_string(p.join("grandchild")).unwrap();
    let pid = pid.trim();
    // Gone, or a zombie waiting for an init that does not reap (as in some containers).
    let alive = || match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while alive() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        !alive(),
        "the step's `sleep 30` ({pid}) outlived the timeout"
    );
}

/// A CI runner cancelling a job sends SIGTERM to sbomit: the step gets it too (here it traps
/// it and says so), and sbomit writes no link for a step it did not let finish.
#[test]
fn sigterm_to_sbomit_reaches_the_step_and_no_link_is_written() {
    let d = tempdir();
    let p = d.path();
    keys(p);
    // Bounded, so that a broken forwarding leaves no process behind for long.
    let script = "trap 'echo term > got; exit 7' TERM; echo ready > ready; \
                  i=0; while [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done";
    let mut child = Command::new(env!("CARGO_BIN_EXE_sbomit"))
        .args([
            "run",
            "-n",
            "long",
            "--signing-key",
            "dev",
            "--run-timeout",
            "60",
            "--",
            "sh",
            "-c",
            script,
        ])
        .current_dir(p)
        .env_remove("SBOMIT_KEY_PASSWORD")
        .stdin(Stdio::null())
        // Files, not pipes: if the step outlived sbomit, reading a pipe would never end.
        .stdout(std::fs::File::create(p.join("sbomit.out")).unwrap())
        .stderr(std::fs::File::create(p.join("sbomit.err")).unwrap())
        .spawn()
        .unwrap();
    wait_for(&p.join("ready"));
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let code = wait_code(&mut child);
    let t = std::fs::read_to_string(p.join("sbomit.err")).unwrap();
    assert_eq!(code, 2, "{t}");
    assert!(t.contains("stopped by SIGTERM"), "{t}");
    assert!(t.contains("no link was written"), "{t}");
    assert_eq!(
        std::fs::read_to_string(p.join("got")).unwrap().trim(),
        "term"
    );
    assert!(links_in(p).is_empty());
}

/// With a timeout the step runs in a group of its own, yet it still owns the terminal: it can
/// read it (a background group would be stopped by SIGTTIN until the timeout killed it), and
/// sbomit gets the terminal back afterwards and records the step.
#[test]
fn a_step_with_a_timeout_can_read_the_terminal() {
    let d = tempdir();
    let p = d.path();
    keys(p);
    let mut child = on_a_terminal(
        p,
        "run -n ask --signing-key dev --run-timeout 10 -p answer -- \
         sh -c 'read x; echo \"$x\" > answer'",
    );
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"hello\n").unwrap();
    let code = wait_code(&mut child);
    drop(stdin);
    let terminal = std::fs::read_to_string(p.join("terminal.out")).unwrap();
    assert_eq!(code, 0, "{terminal}");
    assert_eq!(
        std::fs::read_to_string(p.join("answer")).unwrap().trim(),
        "hello"
    );
    assert_eq!(links_in(p).len(), 1, "{terminal}");
}

/// Ctrl-C typed on the terminal reaches the step's group, which holds the terminal, and sbomit
/// reports the interruption instead of recording a link.
#[test]
fn ctrl_c_on_the_terminal_stops_the_step_and_no_link_is_written() {
    let d = tempdir();
    let p = d.path();
    keys(p);
    let mut child = on_a_terminal(
        p,
        "run -n long --signing-key dev --run-timeout 60 -- sh -c 'echo ready > ready; sleep 30'",
    );
    let mut stdin = child.stdin.take().unwrap();
    wait_for(&p.join("ready"));
    stdin.write_all(b"\x03").unwrap();
    stdin.flush().unwrap();
    let code = wait_code(&mut child);
    drop(stdin);
    let terminal = std::fs::read_to_string(p.join("terminal.out")).unwrap();
    assert_eq!(code, 2, "{terminal}");
    assert!(terminal.contains("stopped by SIGINT"), "{terminal}");
    assert!(links_in(p).is_empty());
}
