//! Writes the binary seeds under `fuzz/seeds/` that no fixture in the repository provides:
//! COSE statements and keys, receipts signed by the fixed service key, x5chains (rcgen), signed
//! checkpoints. Run once from `fuzz/` (`cargo run --features seeds --bin make-seeds`); the
//! output is committed, so the fuzz targets' `include_bytes!` fixtures stay stable.
//! Keys are generated afresh, so running it again changes the bytes (not their shape).

use ciborium::value::Value;
use sbomit_crypto::{KeyKind, PrivateKey};
use sbomit_fuzz::{service_key, LOG_ORIGIN, X5_ISSUER};
use sbomit_scitt::cose::{
    encode_key_set, CoseKey, CoseSign1, CwtClaims, HeaderMap, SignedStatement, StatementHeader,
};
use sbomit_scitt::receipt::{build_receipt, statement_leaf_hash, InclusionProof, ReceiptHeader};
use sbomit_tlog::checkpoint::{Checkpoint, NoteVerifier};
use sbomit_tlog::merkle::{inclusion_proof, MemoryTree};
use std::path::Path;

fn write(dir: &str, name: &str, bytes: &[u8]) {
    let dir = Path::new("seeds").join(dir);
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(dir.join(name), bytes).expect("write");
}

fn cbor(value: &Value) -> Vec<u8> {
    sbomit_scitt::cose::to_cbor(value).expect("cbor")
}

fn statement(key: &PrivateKey, ct: &str, payload: &[u8]) -> Vec<u8> {
    SignedStatement::sign(
        &StatementHeader {
            iss: "https://issuer.example".into(),
            sub: "pkg:npm/app@1".into(),
            content_type: Some(ct.into()),
            kid: Some(b"issuer-key-1".to_vec()),
        },
        payload,
        key,
    )
    .expect("sign")
}

fn main() {
    let ed = PrivateKey::generate(KeyKind::Ed25519).expect("key");
    let p256 = PrivateKey::generate(KeyKind::EcdsaP256).expect("key");

    // COSE_Sign1 statements, keys, key sets.
    let st = statement(&ed, "application/json", br#"{"hello":"world"}"#);
    write("cose_sign1", "statement-ed25519.cose", &st);
    let cdx = std::fs::read("../testdata/graph/cyclonedx-nested-1.6.json").expect("fixture");
    write(
        "cose_sign1",
        "statement-es256-cyclonedx.cose",
        &statement(&p256, "application/vnd.cyclonedx+json", &cdx),
    );
    let mut protected = HeaderMap::new();
    protected.insert(3, Value::Text("text/plain".into()));
    protected.insert(2, Value::Array(vec![Value::Integer(1.into())]));
    protected.insert(1000, Value::Text("critical".into()));
    let detached = CoseSign1::sign(protected, HeaderMap::new(), b"detached", true, &ed)
        .and_then(|m| m.encode())
        .expect("sign");
    write("cose_sign1", "detached-crit.cose", &detached);
    let ked = CoseKey::new(ed.public_key().clone(), Some(b"ed".to_vec())).expect("key");
    let kp = CoseKey::new(p256.public_key().clone(), Some(b"p256".to_vec())).expect("key");
    write("cose_sign1", "key-p256.cbor", &kp.encode().expect("encode"));
    write(
        "cose_sign1",
        "keyset.cbor",
        &encode_key_set(&[ked, kp]).expect("encode"),
    );

    // Receipts: the statement at index 2 of a 5-entry tree, signed by the service key.
    write("fixtures", "receipt_statement.cose", &st);
    let mut tree = MemoryTree::new();
    let mut index = 0;
    for i in 0u8..5 {
        if i == 2 {
            index = tree
                .push_leaf_hash(statement_leaf_hash(&st).expect("leaf"))
                .expect("push");
        } else {
            tree.push_entry(&[i]).expect("push");
        }
    }
    let size = tree.size();
    let path = inclusion_proof(&tree, index, size).expect("proof");
    let proof = InclusionProof {
        tree_size: size,
        leaf_index: index,
        path,
    };
    let header = ReceiptHeader {
        kid: b"fuzz-service".to_vec(),
        iss: "https://store.example".into(),
        sub: Some("pkg:npm/app@1".into()),
        iat: Some(1_800_000_000),
    };
    let receipt =
        build_receipt(&st, &proof, &tree.root(), &header, service_key()).expect("receipt");
    write("receipt", "receipt.cose", &receipt);
    write("receipt", "proof.cbor", &proof.encode().expect("encode"));

    // x5chain: root → intermediate → leaf (codeSigning, names vendor.example).
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    };
    let ca_params = |cn: &str| {
        let mut p = CertificateParams::new(Vec::<String>::new()).expect("params");
        p.distinguished_name.push(DnType::CommonName, cn);
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p
    };
    let root_key = KeyPair::generate().expect("key");
    let root = ca_params("fuzz root").self_signed(&root_key).expect("cert");
    let mid_key = KeyPair::generate().expect("key");
    let mid = ca_params("fuzz intermediate")
        .signed_by(&mid_key, &Issuer::new(ca_params("fuzz root"), &root_key))
        .expect("cert");
    let leaf_key = KeyPair::generate().expect("key");
    let mut leaf_params = CertificateParams::new(vec!["vendor.example".into()]).expect("params");
    leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::CodeSigning];
    let leaf = leaf_params
        .signed_by(
            &leaf_key,
            &Issuer::new(ca_params("fuzz intermediate"), &mid_key),
        )
        .expect("cert");
    write("fixtures", "x5chain_root.der", root.der());
    let chain = Value::Array(vec![
        Value::Bytes(leaf.der().to_vec()),
        Value::Bytes(mid.der().to_vec()),
    ]);
    write("x5chain", "chain.cbor", &cbor(&chain));
    write(
        "x5chain",
        "leaf.cbor",
        &cbor(&Value::Bytes(leaf.der().to_vec())),
    );
    write("x5chain", "root.pem", root.pem().as_bytes());
    let signer = PrivateKey::from_pem(leaf_key.serialize_pem().as_bytes(), None).expect("key");
    let mut protected = HeaderMap::new();
    protected.insert(3, Value::Text("application/json".into()));
    protected.insert(33, chain);
    CwtClaims {
        iss: Some(X5_ISSUER.into()),
        sub: Some("pkg:npm/app@1".into()),
        iat: None,
    }
    .insert_into(&mut protected);
    let x5 = CoseSign1::sign(protected, HeaderMap::new(), b"{}", false, &signer)
        .and_then(|m| m.encode())
        .expect("sign");
    write("x5chain", "statement-x5chain.cose", &x5);

    // Checkpoints: signed by the service key under the log's name; its verifier key.
    let checkpoint = Checkpoint {
        origin: LOG_ORIGIN.into(),
        size,
        root: tree.root(),
        extensions: vec!["ext line".into()],
    };
    write(
        "checkpoint",
        "signed.note",
        checkpoint
            .sign(LOG_ORIGIN, service_key())
            .expect("sign")
            .as_bytes(),
    );
    let v = NoteVerifier::new(LOG_ORIGIN, service_key().public_key().clone()).expect("verifier");
    write("checkpoint", "verifier.vkey", v.to_vkey().as_bytes());

    // An SBOMit document: in-toto-golang's demo layout and links, a mutation, an addendum.
    use sbomit_sbom::document::Document;
    use sbomit_sbom::jsonpatch::Patch;
    let td = Path::new("../testdata/in-toto-golang");
    let mut doc =
        Document::new(&std::fs::read(td.join("demo.layout")).expect("fixture")).expect("document");
    for link in ["write-code.b7d643de.link", "package.d3ffd108.link"] {
        doc.add_metadata(link, &std::fs::read(td.join(link)).expect("fixture"))
            .expect("link");
    }
    let patch = |v: serde_json::Value| Patch::from_value(&v).expect("patch");
    doc.set_mutation(
        "cyclonedx-1.6",
        patch(serde_json::json!([{"op": "add", "path": "/metadata/supplier", "value": {"name": "ACME"}}])),
    );
    doc.amend(
        patch(serde_json::json!([{"op": "add", "path": "/supplement", "value": {"supplier": {"name": "ACME"}}}])),
        service_key(),
        "2026-01-01T00:00:00Z",
    )
    .expect("amend");
    write("document", "demo.sbomit.json", &doc.to_bytes());
}
