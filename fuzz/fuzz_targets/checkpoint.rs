//! C2SP signed notes and checkpoints: any text as a note opened with the seed log's verifier,
//! as a checkpoint body and as a verifier key. A checkpoint read is written back and read again
//! unchanged.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sbomit_tlog::checkpoint::{open_note, Checkpoint, NoteVerifier};
use std::sync::OnceLock;

fn verifiers() -> &'static [NoteVerifier] {
    static V: OnceLock<Vec<NoteVerifier>> = OnceLock::new();
    V.get_or_init(|| {
        let key = sbomit_fuzz::service_public_key().clone();
        vec![NoteVerifier::new(sbomit_fuzz::LOG_ORIGIN, key).expect("an Ed25519 note key")]
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = open_note(text, verifiers());
    if let Ok((checkpoint, opened)) = Checkpoint::open(text, verifiers(), None) {
        assert!(!opened.verified.is_empty());
        assert_eq!(checkpoint.to_text().as_deref(), Ok(opened.text.as_str()));
    }
    if let Ok(checkpoint) = Checkpoint::parse(text) {
        let written = checkpoint.to_text().expect("a parsed checkpoint writes");
        assert_eq!(written, text, "a checkpoint is not written back as read");
        assert_eq!(Checkpoint::parse(&written).as_ref(), Ok(&checkpoint));
    }
    if let Ok(v) = NoteVerifier::parse(text) {
        let vkey = v.to_vkey();
        let again = NoteVerifier::parse(&vkey).expect("a written verifier key reads");
        assert_eq!(again.to_vkey(), vkey);
    }
});
