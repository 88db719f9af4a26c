pub mod attest;
pub mod demo;
pub mod document;
pub mod key;
pub mod layout;
pub mod run;
pub mod sign;
pub mod sit;
pub mod store;
pub mod verify;

/// Output preferences shared by all commands.
pub struct Output {
    pub quiet: bool,
    /// Reserved for detail output; accepted now so scripts can pass it.
    #[allow(dead_code)]
    pub verbose: bool,
}

impl Output {
    /// An informational line on stderr (stdout is kept for data a script may parse).
    pub fn info(&self, msg: impl std::fmt::Display) {
        if !self.quiet {
            eprintln!("{msg}");
        }
    }

    /// Something the user likely did not mean, said even with `-q`.
    pub fn warn(&self, msg: impl std::fmt::Display) {
        eprintln!("warning: {msg}");
    }
}
