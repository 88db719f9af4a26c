//! Job control for a step run in a process group of its own, as a shell does for a foreground
//! job, so that a timeout can kill everything the step started without taking the terminal or
//! the user's signals away from it.
//!
//! * [`Foreground`] hands the terminal to the step's group while it runs (when ours has it), so
//!   the step can read the terminal and Ctrl-C reaches it; dropping it takes the terminal back.
//! * [`Forwarding`] passes SIGINT, SIGTERM, SIGHUP and SIGQUIT sent to us on to the step's group,
//!   so `kill <sbomit>` (a CI runner cancelling a job) stops the step too instead of orphaning it.
//!   Between steps those signals keep their default action.

use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Mutex, OnceLock};

use rustix::process::Pid;

/// The signals passed on to a running step's group.
const FORWARDED: [i32; 4] = [
    signal_hook::consts::SIGINT,
    signal_hook::consts::SIGTERM,
    signal_hook::consts::SIGHUP,
    signal_hook::consts::SIGQUIT,
];

/// The running step's process group (0: none), read by the forwarding thread.
static GROUP: AtomicI32 = AtomicI32::new(0);
/// The last signal passed on to the running step (0: none).
static FORWARDED_SIGNAL: AtomicI32 = AtomicI32::new(0);
/// One step forwards at a time: a second concurrent one runs without forwarding.
static FORWARDING: Mutex<()> = Mutex::new(());
/// The thread that receives the signals, started on first use and kept for the process's life
/// (signal handlers cannot be uninstalled cleanly; with no step running it acts as the default).
static RECEIVER: OnceLock<bool> = OnceLock::new();

/// The terminal on our stdin, handed to a step's group for as long as this lives.
pub(crate) struct Foreground {
    ours: Pid,
}

impl Foreground {
    /// Hands the terminal to `group` if our stdin is a terminal whose foreground group is ours;
    /// otherwise (not a terminal, or we run in the background) leaves everything as it is.
    ///
    /// The step's group may already have touched the terminal before this (and been stopped
    /// by SIGTTIN or SIGTTOU for it); it is continued once it owns the terminal.
    pub(crate) fn hand_to(group: Pid) -> Option<Foreground> {
        let stdin = std::io::stdin();
        let ours = rustix::process::getpgrp();
        if rustix::termios::tcgetpgrp(&stdin).ok()? != ours {
            return None;
        }
        rustix::termios::tcsetpgrp(&stdin, group).ok()?;
        let _ = rustix::process::kill_process_group(group, rustix::process::Signal::CONT);
        Some(Foreground { ours })
    }
}

impl Drop for Foreground {
    /// Takes the terminal back. We are a background group by now, and a background group that
    /// sets the foreground is stopped by SIGTTOU unless it blocks that signal, as shells do.
    fn drop(&mut self) {
        use nix::sys::signal::{SigSet, SigmaskHow, Signal};
        let mut ttou = SigSet::empty();
        ttou.add(Signal::SIGTTOU);
        let mut before = SigSet::empty();
        let blocked = nix::sys::signal::pthread_sigmask(
            SigmaskHow::SIG_BLOCK,
            Some(&ttou),
            Some(&mut before),
        )
        .is_ok();
        let _ = rustix::termios::tcsetpgrp(std::io::stdin(), self.ours);
        if blocked && !before.contains(Signal::SIGTTOU) {
            let _ = nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_UNBLOCK, Some(&ttou), None);
        }
    }
}

/// Signals sent to us are passed on to a step's group for as long as this lives.
pub(crate) struct Forwarding {
    _only: std::sync::MutexGuard<'static, ()>,
}

impl Forwarding {
    /// Starts passing signals to `group`; `None` when another step already forwards, or the
    /// signal handlers could not be installed (the step then runs as it would without).
    pub(crate) fn to(group: Pid) -> Option<Forwarding> {
        let only = FORWARDING.try_lock().ok()?;
        if !*RECEIVER.get_or_init(start_receiver) {
            return None;
        }
        FORWARDED_SIGNAL.store(0, Ordering::SeqCst);
        GROUP.store(group.as_raw_nonzero().get(), Ordering::SeqCst);
        Some(Forwarding { _only: only })
    }

    /// The signal passed on to the step, if one was.
    pub(crate) fn forwarded(&self) -> Option<i32> {
        match FORWARDED_SIGNAL.load(Ordering::SeqCst) {
            0 => None,
            s => Some(s),
        }
    }
}

impl Drop for Forwarding {
    fn drop(&mut self) {
        GROUP.store(0, Ordering::SeqCst);
    }
}

/// Installs the handlers and the thread that acts on them; false if that failed.
fn start_receiver() -> bool {
    let Ok(mut signals) = signal_hook::iterator::Signals::new(FORWARDED) else {
        return false;
    };
    std::thread::Builder::new()
        .name("sbomit-signals".into())
        .spawn(move || {
            for signal in signals.forever() {
                let group = GROUP.load(Ordering::SeqCst);
                match Pid::from_raw(group).zip(rustix::process::Signal::from_named_raw(signal)) {
                    Some((group, sig)) => {
                        FORWARDED_SIGNAL.store(signal, Ordering::SeqCst);
                        let _ = rustix::process::kill_process_group(group, sig);
                    }
                    // No step running: what the signal would have done without us.
                    None => {
                        let _ = signal_hook::low_level::emulate_default_handler(signal);
                    }
                }
            }
        })
        .is_ok()
}

/// A signal's name (`SIGTERM`), or its number when it has none we know.
pub(crate) fn signal_name(signal: i32) -> String {
    use nix::sys::signal::Signal;
    Signal::try_from(signal).map_or_else(|_| format!("signal {signal}"), |s| s.as_str().into())
}
