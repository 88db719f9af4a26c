//! COSE: COSE_Sign1 messages, SCITT Signed Statements (headers, CWT claims), COSE keys and key
//! sets. Decoding never panics; what decodes is encoded, decoded and encoded again unchanged.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sbomit_scitt::cose::{
    decode_key_set, decode_strict, encode_key_set, to_canonical_cbor, CoseKey, CoseSign1,
    CwtClaims, SignedStatement,
};

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = decode_strict(data, "fuzz input") {
        let _ = to_canonical_cbor(&value);
    }
    if let Ok(message) = CoseSign1::decode(data) {
        let _ = message.algorithm();
        let _ = message.kid();
        let _ = message.content_type();
        let _ = CwtClaims::from_header(message.protected());
        let _ = message.encode_without_unprotected();
        let _ = message.verify(sbomit_fuzz::service_public_key(), None);
        if let Ok(bytes) = message.encode() {
            let again = CoseSign1::decode(&bytes).expect("an encoded COSE_Sign1 decodes");
            assert_eq!(
                again.encode().as_ref(),
                Ok(&bytes),
                "encoding is not a fixed point"
            );
            assert_eq!(again.payload(), message.payload());
            assert_eq!(again.signature(), message.signature());
        }
    }
    if let Ok(statement) = SignedStatement::parse(data) {
        let _ = statement.leaf_entry();
        let _ = statement.verify(sbomit_fuzz::service_public_key());
        let _ = (
            statement.iss(),
            statement.sub(),
            statement.kid(),
            statement.content_type(),
        );
    }
    if let Ok(key) = CoseKey::decode(data) {
        let bytes = key.encode().expect("a decoded key encodes");
        let again = CoseKey::decode(&bytes).expect("an encoded key decodes");
        assert_eq!(again.encode().as_ref(), Ok(&bytes));
    }
    if let Ok(keys) = decode_key_set(data) {
        let bytes = encode_key_set(&keys).expect("a decoded key set encodes");
        let again = decode_key_set(&bytes).expect("an encoded key set decodes");
        assert_eq!(encode_key_set(&again).as_ref(), Ok(&bytes));
    }
});
