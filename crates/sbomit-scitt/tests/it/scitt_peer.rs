//! Interop with an independent SCITT peer (`shared/tools/scitt_peer.py`: pycose and
//! scitt-cose): statements it signs parse and verify here, and receipts built here verify
//! there, with the service key as PEM and as our COSE_KeySet encoding.
//!
//! Runs only when `SBOMIT_SCITT_PEER_BIN` names the peer's bin directory, the first line
//! printed by `shared/tools/scitt_peer.sh`.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sbomit_crypto::{KeyKind, PrivateKey, PublicKey};
use sbomit_scitt::cose::{encode_key_set, Algorithm, ContentType, CoseKey, SignedStatement};
use sbomit_scitt::receipt::{
    build_receipt, statement_leaf_hash, verify_receipt, InclusionProof, ReceiptHeader,
};
use sbomit_tlog::merkle::{inclusion_proof, MemoryTree};

struct Peer {
    python: PathBuf,
    script: PathBuf,
    dir: PathBuf,
}

impl Peer {
    fn from_env(test: &str) -> Option<Peer> {
        let Some(bin) = std::env::var_os("SBOMIT_SCITT_PEER_BIN") else {
            eprintln!("SBOMIT_SCITT_PEER_BIN is not set: skipping the SCITT peer test {test}");
            return None;
        };
        let script =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/tools/scitt_peer.py");
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir = std::env::temp_dir().join(format!(
            "sbomit-scitt-peer-{test}-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Some(Peer {
            python: PathBuf::from(bin).join("python"),
            script,
            dir,
        })
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn run(&self, args: &[&str]) -> Output {
        let out = Command::new(&self.python)
            .arg(&self.script)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("running {}: {e}", self.python.display()));
        eprintln!(
            "scitt_peer.py {}: {}\n{}{}",
            args.first().unwrap_or(&""),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// A statement signed by the peer with a fresh P-256 issuer key; returns its bytes and
    /// the issuer's public key.
    fn signed_statement(&self) -> (Vec<u8>, PublicKey) {
        let key = self.path("issuer.pem");
        let key = key.to_str().unwrap();
        assert!(self.run(&["keygen", "--out", key]).status.success());
        let payload = self.path("statement.json");
        std::fs::write(&payload, br#"{"sbom":"cyclonedx","component":"app"}"#).unwrap();
        let out = self.path("statement.cose");
        let status = self
            .run(&[
                "sign",
                "--key",
                key,
                "--iss",
                "https://vendor.example",
                "--sub",
                "pkg:npm/app@1",
                "--content-type",
                "application/json",
                "--kid",
                "issuer-1",
                "--payload",
                payload.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
            ])
            .status;
        assert!(status.success());
        let public = PublicKey::from_pem(&std::fs::read(format!("{key}.pub")).unwrap(), None)
            .expect("issuer public key");
        (std::fs::read(out).unwrap(), public)
    }

    fn verify_receipt(&self, statement: &Path, receipt: &[u8], key_flag: &str, key: &Path) -> bool {
        let path = self.path("receipt.cose");
        std::fs::write(&path, receipt).unwrap();
        self.run(&[
            "verify-receipt",
            "--statement",
            statement.to_str().unwrap(),
            "--receipt",
            path.to_str().unwrap(),
            key_flag,
            key.to_str().unwrap(),
        ])
        .status
        .success()
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A receipt for `statement` as leaf 3 of a 7-leaf tree.
fn receipt_for(statement: &[u8], service: &PrivateKey) -> Vec<u8> {
    let mut tree = MemoryTree::new();
    for i in 0..7u8 {
        if i == 3 {
            tree.push_leaf_hash(statement_leaf_hash(statement).unwrap())
                .unwrap();
        } else {
            tree.push_entry(&[b'e', i]).unwrap();
        }
    }
    let proof = InclusionProof {
        tree_size: 7,
        leaf_index: 3,
        path: inclusion_proof(&tree, 3, 7).unwrap(),
    };
    let header = ReceiptHeader {
        kid: b"service-1".to_vec(),
        iss: "https://store.example".into(),
        sub: None,
        iat: Some(1_760_000_000),
    };
    build_receipt(statement, &proof, &tree.root(), &header, service).unwrap()
}

#[test]
fn peer_signed_statement_parses_and_verifies() {
    let Some(peer) = Peer::from_env("statement") else {
        return;
    };
    let (bytes, issuer) = peer.signed_statement();
    let statement = SignedStatement::parse(&bytes).expect("parse the peer's statement");
    assert_eq!(statement.alg(), Algorithm::Es256);
    assert_eq!(statement.iss(), "https://vendor.example");
    assert_eq!(statement.sub(), "pkg:npm/app@1");
    assert_eq!(statement.kid(), Some(&b"issuer-1"[..]));
    assert_eq!(
        statement.content_type(),
        Some(&ContentType::Text("application/json".into()))
    );
    assert_eq!(
        statement.payload(),
        Some(&br#"{"sbom":"cyclonedx","component":"app"}"#[..])
    );
    statement
        .verify(&issuer)
        .expect("the peer's ES256 signature");
    let stranger = PrivateKey::generate(KeyKind::EcdsaP256).unwrap();
    assert!(statement.verify(stranger.public_key()).is_err());
    // The leaf entry is the statement as pycose wrote it (its unprotected header is empty).
    assert_eq!(statement.leaf_entry().unwrap(), bytes);
}

#[test]
fn our_receipts_verify_with_the_peer() {
    let Some(peer) = Peer::from_env("receipt") else {
        return;
    };
    let (statement, _) = peer.signed_statement();
    let statement_path = peer.path("statement.cose");
    for kind in [KeyKind::EcdsaP256, KeyKind::Ed25519] {
        let service = PrivateKey::generate(kind).unwrap();
        let receipt = receipt_for(&statement, &service);
        verify_receipt(&statement, &receipt, service.public_key()).expect("our own verifier");

        let pem = peer.path("service.pub.pem");
        std::fs::write(&pem, service.public_key().to_pem()).unwrap();
        assert!(
            peer.verify_receipt(&statement_path, &receipt, "--service-pem", &pem),
            "{kind:?} receipt with --service-pem"
        );

        let keys = peer.path("scitt-keys.cbor");
        let key = CoseKey::new(service.public_key().clone(), Some(b"service-1".to_vec())).unwrap();
        std::fs::write(&keys, encode_key_set(std::slice::from_ref(&key)).unwrap()).unwrap();
        assert!(
            peer.verify_receipt(&statement_path, &receipt, "--service-keys", &keys),
            "{kind:?} receipt with a COSE_KeySet"
        );
        std::fs::write(&keys, key.encode().unwrap()).unwrap();
        assert!(
            peer.verify_receipt(&statement_path, &receipt, "--service-keys", &keys),
            "{kind:?} receipt with one COSE_Key"
        );
    }
}

#[test]
fn the_peer_rejects_tampered_receipts() {
    let Some(peer) = Peer::from_env("tampered") else {
        return;
    };
    let (statement, _) = peer.signed_statement();
    let statement_path = peer.path("statement.cose");
    let service = PrivateKey::generate(KeyKind::EcdsaP256).unwrap();
    let pem = peer.path("service.pub.pem");
    std::fs::write(&pem, service.public_key().to_pem()).unwrap();
    let receipt = receipt_for(&statement, &service);

    // The signature's last byte.
    let mut bad_signature = receipt.clone();
    *bad_signature.last_mut().unwrap() ^= 0x01;
    // A byte of the inclusion path: the proof leads to another root.
    let mut bad_path = receipt.clone();
    let at = receipt
        .windows(2)
        .position(|w| w == [0x58, 0x20])
        .expect("a 32-byte hash in the receipt");
    bad_path[at + 2] ^= 0x01;
    // A receipt by another service key.
    let other = PrivateKey::generate(KeyKind::EcdsaP256).unwrap();
    let wrong_key = receipt_for(&statement, &other);

    for (what, bad) in [
        ("signature", &bad_signature),
        ("path", &bad_path),
        ("key", &wrong_key),
    ] {
        assert!(verify_receipt(&statement, bad, service.public_key()).is_err());
        let path = peer.path("receipt.cose");
        std::fs::write(&path, bad).unwrap();
        let out = peer.run(&[
            "verify-receipt",
            "--statement",
            statement_path.to_str().unwrap(),
            "--receipt",
            path.to_str().unwrap(),
            "--service-pem",
            pem.to_str().unwrap(),
        ]);
        assert_eq!(out.status.code(), Some(1), "tampered {what} accepted");
    }
}
