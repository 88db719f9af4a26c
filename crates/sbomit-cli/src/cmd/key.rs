use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Subcommand, ValueEnum};
use sbomit_crypto::{KeyKind, PrivateKey};

use super::Output;
use crate::keys::{self, PASSWORD_ENV};
use crate::Outcome;

#[derive(Subcommand, Debug)]
pub enum KeyCommand {
    /// Write a new private key NAME (PKCS#8 PEM, mode 0600) and its public key NAME.pub (SPKI PEM).
    Generate {
        #[arg(long = "type", short = 't', value_enum, default_value_t = KeyType::Ed25519)]
        key_type: KeyType,
        /// Path of the private key; the public key goes to the same path plus `.pub`.
        #[arg(long, short = 'o')]
        out: PathBuf,
        /// Encrypt the private key with a password read from a prompt (or SBOMIT_KEY_PASSWORD).
        #[arg(long, short = 'P')]
        password: bool,
    },
    /// Print the key id of a public or private key file.
    Id { file: PathBuf },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum KeyType {
    Ed25519,
    #[value(name = "ecdsa-p256", alias = "ecdsa")]
    EcdsaP256,
    #[value(name = "ecdsa-p384")]
    EcdsaP384,
    Rsa,
}

impl From<KeyType> for KeyKind {
    fn from(t: KeyType) -> Self {
        match t {
            KeyType::Ed25519 => KeyKind::Ed25519,
            KeyType::EcdsaP256 => KeyKind::EcdsaP256,
            KeyType::EcdsaP384 => KeyKind::EcdsaP384,
            KeyType::Rsa => KeyKind::Rsa,
        }
    }
}

pub fn run(cmd: KeyCommand, out: &Output) -> Result<Outcome> {
    match cmd {
        KeyCommand::Generate {
            key_type,
            out: path,
            password,
        } => {
            let key = PrivateKey::generate(key_type.into())?;
            let password = match std::env::var(PASSWORD_ENV) {
                Ok(p) if !p.is_empty() => Some(p),
                _ if password => {
                    let p = rpassword::prompt_password("Password for the new key: ")
                        .context("cannot read a password")?;
                    let again = rpassword::prompt_password("Repeat it: ")
                        .context("cannot read a password")?;
                    anyhow::ensure!(p == again, "the passwords differ");
                    Some(p)
                }
                _ => None,
            };
            let pem = key.to_pkcs8_pem(password.as_deref().map(str::as_bytes))?;
            let mut pub_path = path.clone().into_os_string();
            pub_path.push(".pub");
            let pub_path = PathBuf::from(pub_path);
            sbomit_fs::io::write_atomic(&path, pem.as_bytes(), Some(0o600))?;
            sbomit_fs::io::write_atomic(&pub_path, key.public_key().to_pem().as_bytes(), None)?;
            out.info(format!(
                "wrote {} and {}",
                path.display(),
                pub_path.display()
            ));
            println!("{}", key.public_key().keyid());
            Ok(Outcome::Ok)
        }
        KeyCommand::Id { file } => {
            let bytes = sbomit_fs::io::read_file(&file)?;
            let id = match sbomit_crypto::PublicKey::from_pem(&bytes, None) {
                Ok(k) => k.keyid().clone(),
                Err(_) => keys::load_private(&file, &keys::PasswordSource::Auto)?
                    .public_key()
                    .keyid()
                    .clone(),
            };
            println!("{id}");
            Ok(Outcome::Ok)
        }
    }
}
