//! Golden bytes: what we sign and publish (statements, receipts, key sets, the leaf entry)
//! keeps its exact encoding. Ed25519 signatures are deterministic, so with a fixed key the
//! whole message is fixed. The expected values were produced before the COSE structures moved
//! onto `coset`, by the hand-written encoder.
#![allow(clippy::unwrap_used)]

use ciborium::value::Value;
use sbomit_crypto::PrivateKey;
use sbomit_scitt::cose::{
    encode_key_set, CoseKey, CoseSign1, HeaderMap, SignedStatement, StatementHeader,
};
use sbomit_scitt::receipt::{build_receipt, statement_leaf_hash, InclusionProof, ReceiptHeader};
use sbomit_tlog::merkle::{inclusion_proof, MemoryTree};

const KEY: &str = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIL6oW/n2VGAN4o+Db0XmCR3Qnks3+YTrABA6QMOIkCwB\n-----END PRIVATE KEY-----\n";

const STATEMENT: &[&str] = &[
        "d2845842a4012703706170706c69636174696f6e2f6a736f6e04426b310fa2017668747470733a2f2f76656e646f722e",
        "6578616d706c65026d706b673a6e706d2f6170704031a0477b2261223a317d5840c681add6c76ccac31a2686105564e5",
        "d2896ed32204db1fa5ea37dcf28ffc02434dd33b057d24bc42c67e6e48c27744b73624820af1b2f743d5bac8052364e7",
        "03",
];
const BARE: &[&str] = &[
        "d28443a10127a0f6584098464622f2ad102c72b329bc70772d0f1b98ef18419002d4894f03c991bf7d9eb43dc865e104",
        "89b409dc1a48dc67c9c3dc216bf89484bf0288183feb2687c003",
];
const KEYSET: &[&str] = &[
        "82a501010243737663032720062158209289d301256132738690fb473f764fe7d1109cf5f43f84b7a0bfd740897f31dd",
        "a40101032720062158209289d301256132738690fb473f764fe7d1109cf5f43f84b7a0bfd740897f31dd",
];
const RECEIPT: &[&str] = &[
        "d284582ea4012704437376630fa3017568747470733a2f2f73746f72652e6578616d706c65026173061a6553f1001901",
        "8b01a119018ca12081586a830502835820583c7dfb7b3055d99465544032a571e10a134b1b6f769422bbb71fd7fa167a",
        "5d5820a20bf9a7cc2dc8a08f5f415a71b19f6ac427bab54d24eec868b5d3103449953a58204f35212d12f9ad2036492c",
        "95f1fe79baf4ec7bd9bef3dffa7579f2293ff546a4f658407d75579b8295929f50634817448e05ac606fea699370ece8",
        "b3534d6ba84792ef80e73f7c1f35de6feee6cfde9f65baa228babd74cd2b692e626086b0c2df650a",
];
const WITHRECEIPT: &[&str] = &[
        "d2845842a4012703706170706c69636174696f6e2f6a736f6e04426b310fa2017668747470733a2f2f76656e646f722e",
        "6578616d706c65026d706b673a6e706d2f6170704031a119018a8158e8d284582ea4012704437376630fa30175687474",
        "70733a2f2f73746f72652e6578616d706c65026173061a6553f10019018b01a119018ca12081586a830502835820583c",
        "7dfb7b3055d99465544032a571e10a134b1b6f769422bbb71fd7fa167a5d5820a20bf9a7cc2dc8a08f5f415a71b19f6a",
        "c427bab54d24eec868b5d3103449953a58204f35212d12f9ad2036492c95f1fe79baf4ec7bd9bef3dffa7579f2293ff5",
        "46a4f658407d75579b8295929f50634817448e05ac606fea699370ece8b3534d6ba84792ef80e73f7c1f35de6feee6cf",
        "de9f65baa228babd74cd2b692e626086b0c2df650a477b2261223a317d5840c681add6c76ccac31a2686105564e5d289",
        "6ed32204db1fa5ea37dcf28ffc02434dd33b057d24bc42c67e6e48c27744b73624820af1b2f743d5bac8052364e703",
];
const LEAF: &[&str] = &[
        "d2845842a4012703706170706c69636174696f6e2f6a736f6e04426b310fa2017668747470733a2f2f76656e646f722e",
        "6578616d706c65026d706b673a6e706d2f6170704031a0477b2261223a317d5840c681add6c76ccac31a2686105564e5",
        "d2896ed32204db1fa5ea37dcf28ffc02434dd33b057d24bc42c67e6e48c27744b73624820af1b2f743d5bac8052364e7",
        "03",
];

fn hex_of(parts: &[&str]) -> String {
    parts.concat()
}

#[test]
fn statements_receipts_and_key_sets_keep_their_exact_bytes() {
    let key = PrivateKey::from_pem(KEY.as_bytes(), None).unwrap();
    let statement = SignedStatement::sign(
        &StatementHeader {
            iss: "https://vendor.example".into(),
            sub: "pkg:npm/app@1".into(),
            content_type: Some("application/json".into()),
            kid: Some(b"k1".to_vec()),
        },
        b"{\"a\":1}",
        &key,
    )
    .unwrap();
    assert_eq!(hex::encode(&statement), hex_of(STATEMENT));

    let bare = CoseSign1::sign(HeaderMap::new(), HeaderMap::new(), b"x", true, &key)
        .unwrap()
        .encode()
        .unwrap();
    assert_eq!(hex::encode(&bare), hex_of(BARE));

    let keys = [
        CoseKey::new(key.public_key().clone(), Some(b"svc".to_vec())).unwrap(),
        CoseKey::new(key.public_key().clone(), None).unwrap(),
    ];
    assert_eq!(hex::encode(encode_key_set(&keys).unwrap()), hex_of(KEYSET));

    let mut tree = MemoryTree::new();
    for i in 0..5u8 {
        if i == 2 {
            tree.push_leaf_hash(statement_leaf_hash(&statement).unwrap())
                .unwrap();
        } else {
            tree.push_entry(&[i]).unwrap();
        }
    }
    let path = inclusion_proof(&tree, 2, 5).unwrap();
    let receipt = build_receipt(
        &statement,
        &InclusionProof {
            tree_size: 5,
            leaf_index: 2,
            path,
        },
        &tree.root(),
        &ReceiptHeader {
            kid: b"svc".to_vec(),
            iss: "https://store.example".into(),
            sub: Some("s".into()),
            iat: Some(1_700_000_000),
        },
        &key,
    )
    .unwrap();
    assert_eq!(hex::encode(&receipt), hex_of(RECEIPT));

    // A registered statement with its receipt in the unprotected header (394), and its leaf
    // entry, which leaves the unprotected header out.
    let mut message = CoseSign1::decode(&statement).unwrap();
    message
        .unprotected_mut()
        .insert(394, Value::Array(vec![Value::Bytes(receipt)]));
    assert_eq!(hex::encode(message.encode().unwrap()), hex_of(WITHRECEIPT));
    assert_eq!(
        hex::encode(message.encode_without_unprotected().unwrap()),
        hex_of(LEAF)
    );
}
