//! Loading keys for the CLI: files, passwords (prompt or `SBOMIT_KEY_PASSWORD`).

use std::path::Path;

use anyhow::{Context, Result};
use sbomit_crypto::{KeyError, PrivateKey, PublicKey};

/// Environment variable holding the password of an encrypted signing key.
pub const PASSWORD_ENV: &str = "SBOMIT_KEY_PASSWORD";

/// How to get a password for an encrypted key.
#[derive(Clone, Debug, Default)]
pub enum PasswordSource {
    /// `SBOMIT_KEY_PASSWORD`, else a prompt on a terminal when the key turns out to be encrypted.
    #[default]
    Auto,
    /// Given on the command line (`-P PASSWORD`).
    Given(String),
    /// Always prompt (`-P` without a value).
    Prompt,
}

fn prompt(what: &str) -> Result<String> {
    rpassword::prompt_password(format!("Password for {what}: "))
        .with_context(|| format!("cannot read a password for {what}"))
}

pub fn load_private(path: &Path, source: &PasswordSource) -> Result<PrivateKey> {
    let bytes = sbomit_fs::io::read_file(path)?;
    let what = path.display().to_string();
    let password = match source {
        PasswordSource::Given(p) => Some(p.clone()),
        PasswordSource::Prompt => Some(prompt(&what)?),
        PasswordSource::Auto => std::env::var(PASSWORD_ENV).ok(),
    };
    match PrivateKey::from_pem(&bytes, password.as_deref().map(str::as_bytes)) {
        Err(KeyError::PasswordNeeded) if matches!(source, PasswordSource::Auto) => {
            if !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
                anyhow::bail!("{what}: the key is encrypted: set {PASSWORD_ENV} or pass -P");
            }
            let p = prompt(&what)?;
            PrivateKey::from_pem(&bytes, Some(p.as_bytes())).with_context(|| what.clone())
        }
        other => other.with_context(|| what.clone()),
    }
}

pub fn load_public(path: &Path) -> Result<PublicKey> {
    let bytes = sbomit_fs::io::read_file(path)?;
    PublicKey::from_pem(&bytes, None).with_context(|| path.display().to_string())
}
