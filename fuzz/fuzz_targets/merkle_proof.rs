//! RFC 9162 proofs as a receipt or a client hands them in: any (index, size, path) for an
//! inclusion proof and any (size1, size2, path) for a consistency proof are verified or
//! refused, never panic; a proof made by the in-memory tree verifies.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sbomit_tlog::merkle::{
    consistency_proof, inclusion_proof, root_from_inclusion_proof, verify_consistency,
    verify_inclusion, MemoryTree,
};

fn u64_at(data: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    for (i, v) in data.iter().skip(at).take(8).enumerate() {
        b[i] = *v;
    }
    u64::from_le_bytes(b)
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 17 {
        return;
    }
    // Small sizes are where the interesting edges are; the top bit of the selector keeps the
    // full 64-bit range reachable too.
    let wide = data[16] & 0x80 != 0;
    let narrow = |v: u64| if wide { v } else { v % 300 };
    let (a, b) = (narrow(u64_at(data, 0)), narrow(u64_at(data, 8)));
    let path: Vec<[u8; 32]> = data[17..]
        .chunks(32)
        .map(|c| {
            let mut h = [0u8; 32];
            h[..c.len()].copy_from_slice(c);
            h
        })
        .collect();
    let leaf = [1u8; 32];
    let root = [2u8; 32];
    let _ = root_from_inclusion_proof(a, b, &leaf, &path);
    let _ = verify_inclusion(a, b, &leaf, &path, &root);
    let _ = verify_consistency(a, b, &path, &root, &leaf);
    // Honest proofs from a small tree verify.
    if !wide && b > 0 && b <= 64 {
        let mut tree = MemoryTree::new();
        for i in 0..b {
            tree.push_entry(&i.to_le_bytes())
                .expect("a small tree grows");
        }
        let size1 = a % b + 1;
        let index = a % b;
        let leaf = sbomit_tlog::merkle::leaf_hash(&index.to_le_bytes());
        let proof = inclusion_proof(&tree, index, b).expect("the tree has every node");
        verify_inclusion(index, b, &leaf, &proof, &tree.root()).expect("an honest inclusion proof");
        let root1 = sbomit_tlog::merkle::root_at(&tree, size1).expect("an earlier root");
        let proof = consistency_proof(&tree, size1, b).expect("the tree has every node");
        verify_consistency(size1, b, &proof, &root1, &tree.root())
            .expect("an honest consistency proof");
    }
});
