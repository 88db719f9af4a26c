//! Python `fnmatch` patterns: any pattern against any name (split at the first NUL) compiles and
//! matches without panicking; the one-shot and compiled forms agree; a pattern free of
//! wildcards matches exactly itself.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sbomit_intoto::fnmatch::{filter, fnmatch, Pattern};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (pattern, name) = text.split_once('\0').unwrap_or((&text, ""));
    let compiled = Pattern::new(pattern);
    let matched = compiled.matches(name);
    assert_eq!(matched, fnmatch(name, pattern));
    assert_eq!(filter([name], pattern).len(), usize::from(matched));
    if !pattern.contains(['*', '?', '[']) {
        assert!(
            compiled.matches(pattern),
            "{pattern:?} does not match itself"
        );
    }
});
