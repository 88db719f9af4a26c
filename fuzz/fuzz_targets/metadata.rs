//! Links, layouts and link Statements (the models): reading any JSON never panics; a model read
//! is written back and read again unchanged; the fast link reader agrees with the model's.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sbomit_intoto::metadata::Metadata;
use sbomit_intoto::model::{CompactLink, Layout, Link};
use sbomit_intoto::statement::Statement;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let compact = CompactLink::from_payload_text(data);
    let _ = CompactLink::from_metablock_text(data);
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        assert!(compact.is_none(), "the fast link reader read non-JSON");
        return;
    };
    if let Some(compact) = compact {
        let link = Link::from_value(&value).expect("the model reads what the fast reader read");
        assert_eq!(CompactLink::from_link(&link), compact);
    }
    if let Ok(link) = Link::from_value(&value) {
        assert_eq!(Link::from_value(&link.to_value()).as_ref(), Ok(&link));
        assert_eq!(CompactLink::from_link(&link).to_link(), link);
    }
    if let Ok(layout) = Layout::from_value(&value) {
        assert_eq!(Layout::from_value(&layout.to_value()).as_ref(), Ok(&layout));
        let _ = layout.expires_string();
        for key in layout.keys.keys() {
            let _ = layout.public_key(key);
        }
    }
    if let Ok(st) = Statement::from_value(&value) {
        let again = Statement::from_value(&st.to_value()).expect("a written Statement reads");
        assert_eq!(again.to_value(), st.to_value());
        let _ = st.to_link();
        let _ = st.subject_artifacts();
    }
    let _ = Metadata::from_payload(&value);
});
