//! RFC 9942 receipts and their inclusion proofs: any bytes as a receipt for the seed statement,
//! checked against the seed service key (seeds are receipts it signed, so mutations reach the
//! proof and signature checks); inclusion proofs decode, re-encode and lead to a root or not.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sbomit_scitt::cose::CoseKey;
use sbomit_scitt::receipt::{
    statement_leaf_hash, verify_receipt, verify_receipt_for_leaf, InclusionProof,
};
use std::sync::OnceLock;

const STATEMENT: &[u8] = include_bytes!("../seeds/fixtures/receipt_statement.cose");

fn keys() -> &'static [CoseKey] {
    static KEYS: OnceLock<Vec<CoseKey>> = OnceLock::new();
    KEYS.get_or_init(|| {
        let key = sbomit_fuzz::service_public_key().clone();
        vec![CoseKey::new(key, Some(b"fuzz-service".to_vec())).expect("an Ed25519 COSE key")]
    })
}

fuzz_target!(|data: &[u8]| {
    if let Ok(proof) = InclusionProof::decode(data) {
        let leaf = [7u8; 32];
        let _ = proof.root(&leaf);
        let bytes = proof.encode().expect("a decoded proof encodes");
        assert_eq!(InclusionProof::decode(&bytes).as_ref().ok(), Some(&proof));
    }
    let leaf = statement_leaf_hash(STATEMENT).expect("the seed statement is a COSE_Sign1");
    if let Ok(verified) = verify_receipt_for_leaf(&leaf, data, keys()) {
        assert!(verified.leaf_index < verified.tree_size);
    }
    let _ = verify_receipt(STATEMENT, data, sbomit_fuzz::service_public_key());
    let _ = verify_receipt_for_leaf(&[0u8; 32], data, &[]);
});
