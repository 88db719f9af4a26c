//! RFC 6902 JSON Patch: the input is two JSON texts, a patch and a document. Reading the patch
//! and applying it never panics; a patch read is written and read back the same; applying is
//! atomic (a failed `apply` leaves nothing) and `apply` equals `apply_in_place`.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sbomit_sbom::jsonpatch::{Patch, Pointer};

fuzz_target!(|data: &[u8]| {
    let values = sbomit_fuzz::json_values(data, 2);
    let Some(patch_value) = values.first() else {
        return;
    };
    if let Some(s) = patch_value.as_str() {
        if let Ok(p) = Pointer::parse(s) {
            assert_eq!(Pointer::parse(&p.to_string()).as_ref(), Ok(&p));
            let _ = values.get(1).map(|doc| p.get(doc));
        }
    }
    let Ok(patch) = Patch::from_value(patch_value) else {
        return;
    };
    assert_eq!(Patch::from_value(&patch.to_value()).as_ref(), Ok(&patch));
    for op in &patch.0 {
        let _ = op.touches();
    }
    let doc = values.get(1).cloned().unwrap_or(serde_json::Value::Null);
    let applied = patch.apply(&doc);
    let mut in_place = doc.clone();
    let result = patch.apply_in_place(&mut in_place);
    match applied {
        Ok(out) => {
            assert!(result.is_ok());
            assert_eq!(out, in_place);
        }
        Err(e) => assert_eq!(result.err().map(|e| e.to_string()), Some(e.to_string())),
    }
});
