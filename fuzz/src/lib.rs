//! Helpers shared by the fuzz targets (`fuzz_targets/`): the fixed keys that receipts and
//! checkpoints are checked against, and ways of cutting one input into several.
//!
//! A target asserts what the library promises for any input: no panic, and where it is cheap,
//! that what was read is written back and read again unchanged. `docs/fuzzing.md` lists the
//! targets and how to run them.

use sbomit_crypto::{PrivateKey, PublicKey};
use std::sync::OnceLock;

/// The Ed25519 key of in-toto's test suite (testdata/in-toto-python/pems): the "service" that
/// signs the receipt and checkpoint seeds, so a mutated seed gets past the key lookup.
pub const SERVICE_KEY_PEM: &[u8] =
    include_bytes!("../../testdata/in-toto-python/pems/ed25519_private_unencrypted.pem");

/// The origin (and note key name) of the checkpoint seeds.
pub const LOG_ORIGIN: &str = "fuzz.sbomit.example/log";

/// The issuer named by the x5chain seeds' leaf certificate.
pub const X5_ISSUER: &str = "https://vendor.example";

/// The time x5chains are validated at (2030-01-01).
pub const X5_NOW: i64 = 1_893_456_000;

/// The fixed service key. Panics only if the committed fixture is broken.
pub fn service_key() -> &'static PrivateKey {
    static KEY: OnceLock<PrivateKey> = OnceLock::new();
    KEY.get_or_init(|| PrivateKey::from_pem(SERVICE_KEY_PEM, None).expect("the fixture key reads"))
}

pub fn service_public_key() -> &'static PublicKey {
    service_key().public_key()
}

/// The JSON values at the start of `data`, one after the other (at most `n`); stops at the
/// first that does not parse.
pub fn json_values(data: &[u8], n: usize) -> Vec<serde_json::Value> {
    serde_json::Deserializer::from_slice(data)
        .into_iter::<serde_json::Value>()
        .take(n)
        .map_while(Result::ok)
        .collect()
}

/// The first byte as a selector among `n` choices, and the rest.
pub fn select(data: &[u8], n: usize) -> Option<(usize, &[u8])> {
    let (&first, rest) = data.split_first()?;
    Some((usize::from(first) % n, rest))
}
