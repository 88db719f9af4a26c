//! Envelopes (classic `{signed, signatures}` and DSSE): parsing never panics, and a parsed
//! envelope written back reads as the same envelope (kind, payload, signatures).
#![no_main]
use libfuzzer_sys::fuzz_target;
use sbomit_intoto::envelope::Envelope;
use sbomit_intoto::metadata::Metadata;

fuzz_target!(|data: &[u8]| {
    let Ok(env) = Envelope::parse(data) else {
        return;
    };
    let _ = env.signed_bytes();
    let _ = Metadata::from_payload(env.payload());
    let written = env.to_file_bytes();
    let again = Envelope::parse(&written).expect("a written envelope parses");
    assert_eq!(again.kind(), env.kind());
    assert_eq!(again.payload(), env.payload());
    assert_eq!(again.payload_type(), env.payload_type());
    assert_eq!(again.signatures(), env.signatures());
    assert_eq!(
        again.to_file_bytes(),
        written,
        "writing is not a fixed point"
    );
});
