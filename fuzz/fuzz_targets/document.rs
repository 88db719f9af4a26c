//! SBOMit documents (`Document::from_bytes`): any bytes are read or refused; a document read
//! is written and read back to the same bytes and digest; its addenda apply or are refused,
//! and its embedded envelopes and SIT detection never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sbomit_sbom::document::Document;
use sbomit_sbom::verification::sit::ReceivedSit;

fuzz_target!(|data: &[u8]| {
    let _ = ReceivedSit::parse(data);
    let Ok(doc) = Document::from_bytes(data) else {
        return;
    };
    let bytes = doc.to_bytes();
    let again = Document::from_bytes(&bytes).expect("a written document reads");
    assert_eq!(
        again.to_bytes(),
        bytes,
        "writing a document is not a fixed point"
    );
    assert_eq!(
        again.digest().map_err(|e| e.to_string()),
        doc.digest().map_err(|e| e.to_string())
    );
    let _ = doc.layout_file_bytes();
    for name in doc.metadata().keys() {
        let _ = doc.metadata_file_bytes(name);
    }
    let _ = doc.verify_addenda(&[]);
    if let Ok(current) = doc.current() {
        let _ = current.digest();
    }
});
