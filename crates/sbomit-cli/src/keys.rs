//! Loading keys for the CLI: files, passwords (prompt or `SBOMIT_KEY_PASSWORD`).

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use sbomit_crypto::{KeyError, PrivateKey, PublicKey};
use sbomit_store::service_key::ServiceKey;

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

impl PasswordSource {
    /// From `-P/--password [PASSWORD]`: absent, given alone (prompt), or with a value.
    pub fn from_flag(p: Option<String>) -> Self {
        match p {
            None => PasswordSource::Auto,
            Some(p) if p.is_empty() => PasswordSource::Prompt,
            Some(p) => PasswordSource::Given(p),
        }
    }
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

/// The Store's service key at `path`, created (Ed25519, PKCS#8 PEM, mode 0600) when absent;
/// written atomically so a crash never leaves half a key. Returns whether it was created.
///
/// Creation never replaces a key: when several servers start at once on an empty directory,
/// one key wins and every server loads that one (otherwise each would sign with its own key
/// while only the last one written survives on disk).
pub fn load_or_create_service_key(path: &Path) -> Result<(Arc<ServiceKey>, bool)> {
    let what = || format!("the service key {}", path.display());
    let load = || -> Result<(Arc<ServiceKey>, bool)> {
        let pem = sbomit_fs::io::read_file(path).with_context(what)?;
        let key = ServiceKey::from_pem(&pem).with_context(what)?;
        Ok((Arc::new(key), false))
    };
    if path.exists() {
        return load();
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).with_context(what)?;
    }
    let key = ServiceKey::generate().with_context(what)?;
    let pem = key.to_pem().with_context(what)?;
    if sbomit_fs::io::create_atomic(path, pem.as_bytes(), Some(0o600)).with_context(what)? {
        Ok((Arc::new(key), true))
    } else {
        // Another process created it meanwhile: theirs is the key.
        load()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_service_key_file_is_created_once_with_mode_0600() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("keys/service-key.pem");
        let (key, created) = load_or_create_service_key(&path).expect("created");
        assert!(created);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path)
                .expect("key file")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let (again, created) = load_or_create_service_key(&path).expect("loaded");
        assert!(!created);
        assert_eq!(again.kid, key.kid);
    }

    #[test]
    fn servers_racing_on_an_empty_directory_end_with_the_same_key() {
        for _ in 0..20 {
            let dir = tempfile::tempdir().expect("tempdir");
            let path = dir.path().join("service-key.pem");
            let barrier = std::sync::Barrier::new(2);
            let (a, b) = std::thread::scope(|s| {
                let start = || {
                    barrier.wait();
                    load_or_create_service_key(&path).expect("key")
                };
                let a = s.spawn(start);
                let b = s.spawn(start);
                (a.join().expect("thread"), b.join().expect("thread"))
            });
            assert_eq!(a.0.kid, b.0.kid);
            // Exactly one of them made it, and it is the one on disk.
            assert_eq!(u8::from(a.1) + u8::from(b.1), 1, "exactly one created it");
            let (on_disk, _) = load_or_create_service_key(&path).expect("loaded");
            assert_eq!(on_disk.kid, a.0.kid);
        }
    }
}
