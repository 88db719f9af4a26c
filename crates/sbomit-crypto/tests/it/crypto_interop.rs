//! Keys from the reference implementations: ids, PEM forms, signing and verifying.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use sbomit_crypto::{KeyError, KeyId, KeyKind, PrivateKey, PublicKey, Scheme};

/// A fixture from another implementation, vendored under `testdata/` (see its README).
fn interop(rel: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata")
        .join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Key ids printed by `intoto_ref.py keyid --pub FILE` (in-toto 3.1.0 / securesystemslib 1.x).
const REFERENCE_KEYIDS: &[(&str, &str, Scheme)] = &[
    (
        "in-toto-python/pems/ecdsa_public.pem",
        "50d7e110ad65f3b2dba5c3cfc8c5ca259be9774cc26be3410044ffd4be3aa5f3",
        Scheme::EcdsaSha2Nistp256,
    ),
    (
        "in-toto-python/pems/ed25519_public.pem",
        "c6d8bf2e4f48b41ac2ce8eca21415ca8ef68c133b47fc33df03d4070a7e1e9cc",
        Scheme::Ed25519,
    ),
    (
        "in-toto-python/pems/rsa_public.pem",
        "2f685fa7546f1856b123223ab086b3def14c89d24eef18f49c32508c2f60e241",
        Scheme::RsassaPssSha256,
    ),
    (
        "in-toto-python/demo_files/alice.pub",
        "c8ef46bd3ccb95e2617a80e447d0c8c6338f85334c2f6c6cb640e140fc183763",
        Scheme::RsassaPssSha256,
    ),
    (
        "in-toto-python/demo_files/bob.pub",
        "210dcc50ed4dd534fca6dcf71e4ea8bd36b399d1098c3116bcd53004784f16ae",
        Scheme::RsassaPssSha256,
    ),
    (
        "in-toto-python/demo_files/carl.pub",
        "be06db20cdcfd928a905c0b7ede61a27eeaa60b6dbdaee9dd9fb2ebf6f393fbd",
        Scheme::RsassaPssSha256,
    ),
    (
        "in-toto-golang/alice.pub",
        "84f7dd43d6a3c167807839134bab8c0f46cf1ddd57d7c5331e2fb3cfe0687574",
        Scheme::RsassaPssSha256,
    ),
    (
        "in-toto-golang/carol.pub",
        "4b14284670182934c5043942231d5c6d2c429f376dbb3b03fb2fb89320f49aca",
        Scheme::Ed25519,
    ),
    (
        "in-toto-golang/dan.pub",
        "1e33f73fa044b17c8597ea5f453620a71569b22114bd54298af6ed19c2ca44bf",
        Scheme::RsassaPssSha256,
    ),
    (
        "in-toto-golang/frank.pub",
        "ecdd08fe32f5219f1dc110d6688f7717b774a528160917ef896dc4e913a0de45",
        Scheme::EcdsaSha2Nistp521,
    ),
    (
        "in-toto-golang/grace.pub",
        "065cffc2c2bf4ef818f9c7162601cbaca595390a038b1b7f13695af2c24a1990",
        Scheme::EcdsaSha2Nistp384,
    ),
];

#[test]
fn keyids_match_the_reference() {
    for (file, id, scheme) in REFERENCE_KEYIDS {
        let key =
            PublicKey::from_pem(&interop(file), None).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(key.keyid().as_str(), *id, "{file}");
        assert_eq!(key.scheme(), *scheme, "{file}");
    }
}

/// (private key file, password, matching public key file)
const PRIVATE_KEYS: &[(&str, Option<&str>, &str)] = &[
    (
        "in-toto-python/pems/ecdsa_private_unencrypted.pem",
        None,
        "in-toto-python/pems/ecdsa_public.pem",
    ),
    (
        "in-toto-python/pems/ecdsa_private_encrypted.pem",
        Some("hunter2"),
        "in-toto-python/pems/ecdsa_public.pem",
    ),
    (
        "in-toto-python/pems/ed25519_private_unencrypted.pem",
        None,
        "in-toto-python/pems/ed25519_public.pem",
    ),
    (
        "in-toto-python/pems/ed25519_private_encrypted.pem",
        Some("hunter2"),
        "in-toto-python/pems/ed25519_public.pem",
    ),
    (
        "in-toto-python/pems/rsa_private_unencrypted.pem",
        None,
        "in-toto-python/pems/rsa_public.pem",
    ),
    (
        "in-toto-python/pems/rsa_private_encrypted.pem",
        Some("hunter2"),
        "in-toto-python/pems/rsa_public.pem",
    ),
    (
        "in-toto-python/demo_files/alice",
        None,
        "in-toto-python/demo_files/alice.pub",
    ),
    (
        "in-toto-python/demo_files/bob",
        None,
        "in-toto-python/demo_files/bob.pub",
    ),
    (
        "in-toto-python/demo_files/carl",
        None,
        "in-toto-python/demo_files/carl.pub",
    ),
    ("in-toto-golang/alice", None, "in-toto-golang/alice.pub"),
    ("in-toto-golang/carol", None, "in-toto-golang/carol.pub"),
    ("in-toto-golang/dan", None, "in-toto-golang/dan.pub"),
    ("in-toto-golang/frank", None, "in-toto-golang/frank.pub"),
    ("in-toto-golang/grace", None, "in-toto-golang/grace.pub"),
];

#[test]
fn reads_reference_private_keys_and_signs_verifiably() {
    for (file, password, public) in PRIVATE_KEYS {
        let key = PrivateKey::from_pem(&interop(file), password.map(str::as_bytes))
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        let public = PublicKey::from_pem(&interop(public), None).unwrap();
        assert_eq!(key.public_key(), &public, "{file}");
        let sig = key.sign(b"message").unwrap();
        public
            .verify(b"message", &sig)
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(
            public.verify(b"messagf", &sig),
            Err(sbomit_crypto::SignatureError::Invalid(
                public.keyid().clone()
            ))
        );
    }
}

#[test]
fn encrypted_key_without_password_needs_one() {
    for file in [
        "in-toto-python/pems/ecdsa_private_encrypted.pem",
        "in-toto-python/pems/ed25519_private_encrypted.pem",
    ] {
        assert_eq!(
            PrivateKey::from_pem(&interop(file), None).unwrap_err(),
            KeyError::PasswordNeeded
        );
    }
}

#[test]
fn rejects_wrong_password() {
    for file in [
        "in-toto-python/pems/ecdsa_private_encrypted.pem",
        "in-toto-python/pems/rsa_private_encrypted.pem",
        "in-toto-python/pems/ed25519_private_encrypted.pem",
    ] {
        assert_eq!(
            PrivateKey::from_pem(&interop(file), Some(b"hunter3")).unwrap_err(),
            KeyError::Decrypt,
            "{file}"
        );
    }
}

#[test]
fn rejects_gpg_keys() {
    let armored =
        b"-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQENBF...\n-----END PGP PUBLIC KEY BLOCK-----\n";
    assert_eq!(
        PublicKey::from_pem(armored, None).unwrap_err(),
        KeyError::Gpg
    );
    assert_eq!(
        PrivateKey::from_pem(armored, None).unwrap_err(),
        KeyError::Gpg
    );
    let gpg_object = serde_json::json!({
        "keyid": "8465a1e2e0fb2b40adb2478e18fb3f7b4b8c0b39",
        "type": "rsa",
        "method": "pgp+rsa-pkcsv1.5",
        "hashes": ["pgp+SHA2"],
        "keyval": {"private": "", "public": {"e": "010001", "n": "c152fc1f"}}
    });
    assert_eq!(
        PublicKey::from_securesystemslib(KeyId::new("8465a1e2"), &gpg_object).unwrap_err(),
        KeyError::Gpg
    );
}

#[test]
fn each_key_kind_signs_and_verifies_round_trip() {
    for kind in [
        KeyKind::Ed25519,
        KeyKind::EcdsaP256,
        KeyKind::EcdsaP384,
        KeyKind::Rsa,
    ] {
        let key = PrivateKey::generate(kind).unwrap();
        let sig = key.sign(b"data").unwrap();
        key.public_key().verify(b"data", &sig).unwrap();
        // The PEM forms read back to the same key and id.
        let again = PrivateKey::from_pem(key.to_pkcs8_pem(None).unwrap().as_bytes(), None).unwrap();
        assert_eq!(again.public_key(), key.public_key());
        let public = PublicKey::from_pem(key.public_key().to_pem().as_bytes(), None).unwrap();
        assert_eq!(&public, key.public_key());
        // And the key object reads back under its id.
        let object = key.public_key().to_securesystemslib();
        let from_object =
            PublicKey::from_securesystemslib(key.public_key().keyid().clone(), &object).unwrap();
        assert_eq!(&from_object, key.public_key());
        from_object.verify(b"data", &sig).unwrap();
        // A different key of the same kind does not verify.
        let other = PrivateKey::generate(kind).unwrap();
        assert!(other.public_key().verify(b"data", &sig).is_err());
    }
}

#[test]
fn generated_rsa_is_3072_bits_with_digest_length_salt() {
    let key = PrivateKey::generate(KeyKind::Rsa).unwrap();
    assert_eq!(key.sign(b"x").unwrap().len(), 384);
}

#[test]
fn encrypted_pkcs8_round_trips() {
    let key = PrivateKey::generate(KeyKind::EcdsaP256).unwrap();
    let pem = key.to_pkcs8_pem(Some(b"correct horse")).unwrap();
    assert!(pem.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----\n"));
    assert_eq!(
        PrivateKey::from_pem(pem.as_bytes(), None).unwrap_err(),
        KeyError::PasswordNeeded
    );
    assert_eq!(
        PrivateKey::from_pem(pem.as_bytes(), Some(b"wrong")).unwrap_err(),
        KeyError::Decrypt
    );
    let again = PrivateKey::from_pem(pem.as_bytes(), Some(b"correct horse")).unwrap();
    assert_eq!(again.public_key(), key.public_key());
}

/// The reference (pyca `cryptography`) reads what we write, encrypted or not, and computes
/// the same key id. Runs when `SBOMIT_INTOTO_REF_BIN` names the reference's bin directory.
#[test]
fn reference_reads_our_private_keys() {
    let Ok(bin) = std::env::var("SBOMIT_INTOTO_REF_BIN") else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("sbomit-crypto-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for kind in [
        KeyKind::Ed25519,
        KeyKind::EcdsaP256,
        KeyKind::EcdsaP384,
        KeyKind::Rsa,
    ] {
        let key = PrivateKey::generate(kind).unwrap();
        for password in [None, Some("s3cret")] {
            let path = dir.join("key.pem");
            std::fs::write(
                &path,
                key.to_pkcs8_pem(password.map(str::as_bytes)).unwrap(),
            )
            .unwrap();
            let script = "import sys\n\
                from cryptography.hazmat.primitives.serialization import load_pem_private_key\n\
                from securesystemslib.signer import SSlibKey\n\
                pw = sys.argv[2].encode() if len(sys.argv) > 2 else None\n\
                k = load_pem_private_key(open(sys.argv[1], 'rb').read(), pw)\n\
                print(SSlibKey.from_crypto(k.public_key()).keyid)\n";
            let mut cmd = std::process::Command::new(PathBuf::from(&bin).join("python"));
            cmd.arg("-c").arg(script).arg(&path);
            if let Some(pw) = password {
                cmd.arg(pw);
            }
            let out = cmd.output().unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(
                String::from_utf8_lossy(&out.stdout).trim(),
                key.public_key().keyid().as_str()
            );
        }
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn reads_layout_key_objects_keeping_their_ids() {
    for layout in [
        "in-toto-golang/demo.layout",
        "in-toto-golang/super.layout",
        "in-toto-python/demo_files/demo.layout.template",
    ] {
        let doc: serde_json::Value = serde_json::from_slice(&interop(layout)).unwrap();
        for (id, object) in doc["signed"]["keys"].as_object().unwrap() {
            let key = PublicKey::from_securesystemslib(KeyId::new(id.clone()), object)
                .unwrap_or_else(|e| panic!("{layout} {id}: {e}"));
            assert_eq!(key.keyid().as_str(), id);
        }
    }
}

#[test]
fn reads_old_securesystemslib_json_key() {
    // danny.pub is a securesystemslib ≤ 0.x JSON ed25519 key, with keyid_hash_algorithms.
    let object: serde_json::Value =
        serde_json::from_slice(&interop("in-toto-python/demo_files/danny.pub")).unwrap();
    let key = PublicKey::from_securesystemslib(KeyId::new("danny"), &object).unwrap();
    assert_eq!(key.scheme(), Scheme::Ed25519);
    assert_eq!(
        key.to_securesystemslib()["keyval"]["public"],
        object["keyval"]["public"]
    );
}

#[test]
fn reads_go_style_ecdsa_key_objects() {
    let pem = String::from_utf8(interop("in-toto-python/pems/ecdsa_public.pem")).unwrap();
    for keytype in ["ecdsa", "ecdsa-sha2-nistp256"] {
        let object = serde_json::json!({
            "keyid": "abc", "keyid_hash_algorithms": ["sha256", "sha512"],
            "keytype": keytype, "scheme": "ecdsa-sha2-nistp256",
            "keyval": {"private": "", "public": pem}, "extra": 1
        });
        let key = PublicKey::from_securesystemslib(KeyId::new("abc"), &object).unwrap();
        assert_eq!(key.scheme(), Scheme::EcdsaSha2Nistp256);
    }
}

#[test]
fn rejects_scheme_that_does_not_fit_the_key() {
    let ed = String::from_utf8(interop("in-toto-python/pems/ed25519_public.pem")).unwrap();
    let ed_hex = PublicKey::from_pem(ed.as_bytes(), None)
        .unwrap()
        .to_securesystemslib()["keyval"]["public"]
        .clone();
    let ec = String::from_utf8(interop("in-toto-python/pems/ecdsa_public.pem")).unwrap();
    let rsa = String::from_utf8(interop("in-toto-python/pems/rsa_public.pem")).unwrap();
    let cases = [
        ("ed25519", "rsassa-pss-sha256", ed_hex.clone()),
        (
            "ecdsa",
            "ecdsa-sha2-nistp384",
            serde_json::Value::String(ec.clone()),
        ),
        (
            "ecdsa-sha2-nistp384",
            "ecdsa-sha2-nistp256",
            serde_json::Value::String(ec),
        ),
        ("rsa", "ed25519", serde_json::Value::String(rsa.clone())),
        (
            "ecdsa",
            "ecdsa-sha2-nistp256",
            serde_json::Value::String(rsa),
        ),
    ];
    for (keytype, scheme, public) in cases {
        let object =
            serde_json::json!({"keytype": keytype, "scheme": scheme, "keyval": {"public": public}});
        assert_eq!(
            PublicKey::from_securesystemslib(KeyId::new("k"), &object).unwrap_err(),
            KeyError::SchemeMismatch {
                keytype: keytype.into(),
                scheme: scheme.into()
            },
            "{keytype}/{scheme}"
        );
    }
    assert!(matches!(
        PublicKey::from_pem(ed.as_bytes(), Some(Scheme::RsassaPssSha256)),
        Err(KeyError::SchemeMismatch { .. })
    ));
}

#[test]
fn reads_scrypt_and_pbkdf2_sha1_encrypted_keys() {
    let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/openssl");
    for (file, public) in [
        (
            "ed25519_scrypt.pem",
            "in-toto-python/pems/ed25519_public.pem",
        ),
        (
            "ecdsa_pbkdf2_sha1_aes128.pem",
            "in-toto-python/pems/ecdsa_public.pem",
        ),
    ] {
        let pem = std::fs::read(data.join(file)).unwrap();
        let key =
            PrivateKey::from_pem(&pem, Some(b"hunter2")).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(
            key.public_key(),
            &PublicKey::from_pem(&interop(public), None).unwrap()
        );
        assert_eq!(
            PrivateKey::from_pem(&pem, Some(b"hunter3")).unwrap_err(),
            KeyError::Decrypt,
            "{file}"
        );
    }
}
