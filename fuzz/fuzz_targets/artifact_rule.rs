//! Artifact rules: a rule string (split on whitespace, as a layout source gives it) or a JSON
//! rule list parses or is refused, never panics; a parsed rule written back parses the same.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sbomit_intoto::rules::ArtifactRule;
use serde_json::Value;

fn check(rule: &ArtifactRule) {
    let words = rule.to_vec();
    assert_eq!(ArtifactRule::parse(&words).as_ref(), Ok(rule), "{words:?}");
    assert_eq!(
        ArtifactRule::from_value(&rule.to_value()).as_ref(),
        Ok(rule)
    );
    let _ = rule.pattern();
    let _ = rule.to_string();
}

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = serde_json::from_slice::<Value>(data) {
        if let Ok(rule) = ArtifactRule::from_value(&value) {
            check(&rule);
        }
    }
    let text = String::from_utf8_lossy(data);
    let words: Vec<&str> = text.split_whitespace().collect();
    if let Ok(rule) = ArtifactRule::parse(&words) {
        check(&rule);
    }
});
