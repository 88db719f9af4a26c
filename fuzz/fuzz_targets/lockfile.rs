//! Lockfile readers (Cargo.lock, package-lock.json, requirements.txt, poetry.lock, uv.lock):
//! the first byte picks the format, the rest is the file; nothing panics.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sbomit_sbom::sit::lockfile::{parse, LockfileKind};

const KINDS: [LockfileKind; 5] = [
    LockfileKind::Cargo,
    LockfileKind::Npm,
    LockfileKind::Requirements,
    LockfileKind::Poetry,
    LockfileKind::Uv,
];

fuzz_target!(|data: &[u8]| {
    let Some((pick, rest)) = sbomit_fuzz::select(data, KINDS.len()) else {
        return;
    };
    let _ = parse(KINDS[pick], rest);
});
