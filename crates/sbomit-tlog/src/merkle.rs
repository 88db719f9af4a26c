//! RFC 9162 (Certificate Transparency 2.0) SHA-256 Merkle trees: tree heads, inclusion and
//! consistency proofs, and a compact range for appending.
//!
//! Leaf hash = SHA-256(0x00 || entry), node hash = SHA-256(0x01 || left || right), the hash of
//! the empty tree = SHA-256("").
//!
//! ### Where proofs come from: stored perfect subtrees
//! Proofs are generated through [`HashReader`], which returns the hashes of *perfect*
//! subtrees, named by [`NodeId`] `(level, index)`: the subtree of `2^level` leaves starting at
//! leaf `index * 2^level` (level 0 is the leaf hashes). Such a hash never changes once the
//! subtree is complete, so an append-only store can write each one exactly once, when
//! [`CompactRange::append`] reports it, and never rewrite it. Every element of an RFC 9162
//! PATH or SUBPROOF is the hash of either a perfect subtree or a subtree on the right edge of
//! the tree, which is a fold of at most `log2(n)` perfect ones, so a proof costs O(log n)
//! reads, batched into one [`HashReader::read_hashes`] call. This is the node layout behind
//! transparency-dev's tiles (Tessera, Sunlight): a store that wants tiles groups 8 levels by
//! 256 indexes under the same ids, and a store that keeps only leaf hashes can use
//! [`LeafHashes`], which folds each subtree from its leaves (O(n) per proof).
//!
//! Nothing here does IO: readers are the caller's. Verification needs no reader.

use std::fmt;

use sbomit_crypto::{sha256, sha256_parts};

/// A SHA-256 hash: a leaf hash, a node hash or a tree head.
pub type Hash = [u8; 32];

/// The length of a [`Hash`].
pub const HASH_LEN: usize = 32;

/// The largest tree size accepted from a proof or appended to: the depth of a proof stays
/// at most 62, as in other RFC 9162 verifiers (scitt-cose).
pub const MAX_TREE_SIZE: u64 = 1 << 62;

/// RFC 9162 §2.1.1 leaf hash: SHA-256(0x00 || entry).
pub fn leaf_hash(entry: &[u8]) -> Hash {
    sha256_parts(&[&[0x00], entry])
}

/// RFC 9162 §2.1.1 interior node hash: SHA-256(0x01 || left || right).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    sha256_parts(&[&[0x01], left, right])
}

/// The tree head of the empty tree: SHA-256 of nothing.
pub fn empty_root() -> Hash {
    sha256(b"")
}

/// The Merkle Tree Hash (RFC 9162 §2.1.1) of a list of leaf hashes.
pub fn root_from_leaf_hashes(leaves: &[Hash]) -> Hash {
    let mut range = CompactRange::new();
    for leaf in leaves {
        // A slice cannot hold MAX_TREE_SIZE hashes, so appending cannot fail.
        let _ = range.append(*leaf, |_, _| {});
    }
    range.root()
}

/// The Merkle Tree Hash of a list of entries.
pub fn root_from_entries<E: AsRef<[u8]>>(entries: &[E]) -> Hash {
    let leaves: Vec<Hash> = entries.iter().map(|e| leaf_hash(e.as_ref())).collect();
    root_from_leaf_hashes(&leaves)
}

/// A perfect subtree: `2^level` leaves starting at leaf `index << level`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId {
    pub level: u8,
    pub index: u64,
}

impl NodeId {
    pub fn new(level: u8, index: u64) -> Self {
        NodeId { level, index }
    }

    /// The leaf at `index`.
    pub fn leaf(index: u64) -> Self {
        NodeId { level: 0, index }
    }

    /// The leaves it covers, `[begin, end)`; `None` past `u64`.
    pub fn leaf_range(&self) -> Option<(u64, u64)> {
        let width = 1u64.checked_shl(u32::from(self.level))?;
        let begin = self.index.checked_mul(width)?;
        Some((begin, begin.checked_add(width)?))
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.level, self.index)
    }
}

/// Reads stored perfect-subtree hashes (see the module doc).
pub trait HashReader {
    type Error;

    /// The hashes of `ids`, in the same order. Every id names a subtree that is complete in
    /// the tree the proof is for.
    fn read_hashes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, Self::Error>;
}

/// Why a proof or a tree head could not be generated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError<E> {
    #[error("leaf index {index} is not in a tree of size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    #[error("no consistency proof from tree size {size1} to the smaller size {size2}")]
    SizesOutOfOrder { size1: u64, size2: u64 },
    #[error("tree size {size} is over the limit {MAX_TREE_SIZE}")]
    TooLarge { size: u64 },
    #[error("the hash reader returned {got} hashes for {asked} nodes")]
    ReaderCount { asked: usize, got: usize },
    #[error("reading stored hashes: {0}")]
    Read(E),
}

/// Why a proof did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    #[error("leaf index {index} is not in a tree of size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    #[error("tree size {size} is over the limit {MAX_TREE_SIZE}")]
    TooLarge { size: u64 },
    #[error("no consistency proof from tree size {size1} to the smaller size {size2}")]
    SizesOutOfOrder { size1: u64, size2: u64 },
    #[error("the proof has {actual} hashes where {expected} are needed")]
    ProofLength { expected: usize, actual: usize },
    #[error(
        "the proof leads to root {} instead of {}",
        hex::encode(computed),
        hex::encode(expected)
    )]
    RootMismatch { computed: Hash, expected: Hash },
}

/// The largest power of two strictly below `n` (`n >= 2`).
fn split_point(n: u64) -> u64 {
    1u64 << (63 - (n - 1).leading_zeros())
}

/// The leaf ranges whose hashes form PATH(index, D[size]) (RFC 9162 §2.1.3.1), in proof
/// order (bottom up).
fn inclusion_ranges(index: u64, size: u64) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let (mut lo, mut hi) = (0u64, size);
    while hi - lo > 1 {
        let k = split_point(hi - lo);
        if index < lo + k {
            out.push((lo + k, hi));
            hi = lo + k;
        } else {
            out.push((lo, lo + k));
            lo += k;
        }
    }
    out.reverse();
    out
}

/// The leaf ranges whose hashes form PROOF(size1, D[size2]) = SUBPROOF(size1, D[size2], true)
/// (RFC 9162 §2.1.4.1) for `0 < size1 < size2`, in proof order.
fn consistency_ranges(size1: u64, size2: u64) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let (mut lo, mut hi) = (0u64, size2);
    let mut whole_old_tree = true;
    // size1 is absolute: the old tree is the prefix [lo, size1) of the subtree [lo, hi).
    loop {
        if size1 == hi {
            if !whole_old_tree {
                out.push((lo, hi));
            }
            break;
        }
        let k = split_point(hi - lo);
        if size1 <= lo + k {
            out.push((lo + k, hi));
            hi = lo + k;
        } else {
            out.push((lo, lo + k));
            lo += k;
            whole_old_tree = false;
        }
    }
    out.reverse();
    out
}

/// Splits `[begin, end)` into perfect subtrees, largest first. `begin` is aligned to the
/// largest of them, which holds for every range of a PATH or SUBPROOF and for `[0, n)`.
fn perfect_nodes(begin: u64, end: u64, out: &mut Vec<NodeId>) {
    let mut start = begin;
    while start < end {
        let level = 63 - (end - start).leading_zeros();
        out.push(NodeId::new(level as u8, start >> level));
        start += 1u64 << level;
    }
}

/// The hash of each range, read through `reader` in one batch.
fn range_hashes<R: HashReader + ?Sized>(
    reader: &R,
    ranges: &[(u64, u64)],
) -> Result<Vec<Hash>, ProofError<R::Error>> {
    let mut ids = Vec::new();
    let mut counts = Vec::with_capacity(ranges.len());
    for &(begin, end) in ranges {
        let before = ids.len();
        perfect_nodes(begin, end, &mut ids);
        counts.push(ids.len() - before);
    }
    let hashes = reader.read_hashes(&ids).map_err(ProofError::Read)?;
    if hashes.len() != ids.len() {
        return Err(ProofError::ReaderCount {
            asked: ids.len(),
            got: hashes.len(),
        });
    }
    let mut out = Vec::with_capacity(ranges.len());
    let mut rest = hashes.as_slice();
    for count in counts {
        let (parts, tail) = rest.split_at(count);
        rest = tail;
        out.push(fold_right(parts));
    }
    Ok(out)
}

/// The hash of adjacent perfect subtrees, largest first: the right-edge subtree they form.
fn fold_right(parts: &[Hash]) -> Hash {
    let mut iter = parts.iter().rev();
    let Some(last) = iter.next() else {
        return empty_root();
    };
    iter.fold(*last, |acc, left| node_hash(left, &acc))
}

fn check_size<E>(size: u64) -> Result<(), ProofError<E>> {
    if size > MAX_TREE_SIZE {
        return Err(ProofError::TooLarge { size });
    }
    Ok(())
}

/// The tree head of the first `size` leaves.
pub fn root_at<R: HashReader + ?Sized>(
    reader: &R,
    size: u64,
) -> Result<Hash, ProofError<R::Error>> {
    check_size(size)?;
    if size == 0 {
        return Ok(empty_root());
    }
    Ok(range_hashes(reader, &[(0, size)])?
        .pop()
        .unwrap_or_else(empty_root))
}

/// The inclusion proof (audit path) of leaf `index` in the tree of `size` leaves
/// (RFC 9162 §2.1.3.1).
pub fn inclusion_proof<R: HashReader + ?Sized>(
    reader: &R,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, ProofError<R::Error>> {
    check_size(size)?;
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    range_hashes(reader, &inclusion_ranges(index, size))
}

/// The consistency proof from the tree of `size1` leaves to the tree of `size2` leaves
/// (RFC 9162 §2.1.4.1); empty when `size1` is 0 or equal to `size2`.
pub fn consistency_proof<R: HashReader + ?Sized>(
    reader: &R,
    size1: u64,
    size2: u64,
) -> Result<Vec<Hash>, ProofError<R::Error>> {
    check_size(size2)?;
    if size1 > size2 {
        return Err(ProofError::SizesOutOfOrder { size1, size2 });
    }
    if size1 == 0 || size1 == size2 {
        return Ok(Vec::new());
    }
    range_hashes(reader, &consistency_ranges(size1, size2))
}

/// The number of hashes in the inclusion proof of `index` in a tree of `size` (0 when the
/// leaf is not in the tree).
pub fn inclusion_proof_len(index: u64, size: u64) -> usize {
    if index >= size {
        return 0;
    }
    let (inner, border) = decompose_inclusion(index, size);
    (inner + border) as usize
}

/// Inclusion proof = `inner` hashes below the point where the paths to `index` and to the
/// last leaf meet, then `border` hashes along the right border.
fn decompose_inclusion(index: u64, size: u64) -> (u32, u32) {
    let inner = 64 - (index ^ (size - 1)).leading_zeros();
    let border = index.checked_shr(inner).unwrap_or(0).count_ones();
    (inner, border)
}

/// The number of hashes in the consistency proof from `size1` to `size2`.
pub fn consistency_proof_len(size1: u64, size2: u64) -> usize {
    if size1 == 0 || size1 >= size2 {
        return 0;
    }
    let (inner, border) = decompose_inclusion(size1 - 1, size2);
    let shift = size1.trailing_zeros();
    let seed = usize::from(size1 != 1u64 << shift);
    seed + (inner - shift + border) as usize
}

fn check_root(computed: Hash, expected: &Hash) -> Result<(), VerifyError> {
    if &computed == expected {
        Ok(())
    } else {
        Err(VerifyError::RootMismatch {
            computed,
            expected: *expected,
        })
    }
}

/// The tree head an inclusion proof leads to (RFC 9162 §2.1.3.2, without the last comparison).
pub fn root_from_inclusion_proof(
    index: u64,
    size: u64,
    leaf_hash: &Hash,
    proof: &[Hash],
) -> Result<Hash, VerifyError> {
    if size > MAX_TREE_SIZE {
        return Err(VerifyError::TooLarge { size });
    }
    if index >= size {
        return Err(VerifyError::IndexOutOfRange { index, size });
    }
    let expected = inclusion_proof_len(index, size);
    if proof.len() != expected {
        return Err(VerifyError::ProofLength {
            expected,
            actual: proof.len(),
        });
    }
    let (mut f_n, mut s_n) = (index, size - 1);
    let mut r = *leaf_hash;
    for p in proof {
        if s_n == 0 {
            // Unreachable after the length check; kept as the RFC states it.
            return Err(VerifyError::ProofLength {
                expected,
                actual: proof.len(),
            });
        }
        if f_n & 1 == 1 || f_n == s_n {
            r = node_hash(p, &r);
            while f_n & 1 == 0 && f_n != 0 {
                f_n >>= 1;
                s_n >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if s_n != 0 {
        return Err(VerifyError::ProofLength {
            expected,
            actual: proof.len(),
        });
    }
    Ok(r)
}

/// Verifies that `leaf_hash` is leaf `index` of the tree of `size` with head `root`.
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf_hash: &Hash,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), VerifyError> {
    check_root(
        root_from_inclusion_proof(index, size, leaf_hash, proof)?,
        root,
    )
}

/// Verifies that the tree of `size2` with head `root2` extends the tree of `size1` with head
/// `root1` (RFC 9162 §2.1.4.2). Size 0 is consistent with every tree, with an empty proof.
pub fn verify_consistency(
    size1: u64,
    size2: u64,
    proof: &[Hash],
    root1: &Hash,
    root2: &Hash,
) -> Result<(), VerifyError> {
    if size2 > MAX_TREE_SIZE {
        return Err(VerifyError::TooLarge { size: size2 });
    }
    if size1 > size2 {
        return Err(VerifyError::SizesOutOfOrder { size1, size2 });
    }
    let expected = consistency_proof_len(size1, size2);
    if proof.len() != expected {
        return Err(VerifyError::ProofLength {
            expected,
            actual: proof.len(),
        });
    }
    if size1 == size2 {
        return check_root(*root2, root1);
    }
    if size1 == 0 {
        return Ok(());
    }
    // Step 2: a power-of-two old tree is itself the first node of the path.
    let mut path = Vec::with_capacity(proof.len() + 1);
    if size1.is_power_of_two() {
        path.push(*root1);
    }
    path.extend_from_slice(proof);
    let (mut f_n, mut s_n) = (size1 - 1, size2 - 1);
    while f_n & 1 == 1 {
        f_n >>= 1;
        s_n >>= 1;
    }
    let (first, rest) = path.split_first().ok_or(VerifyError::ProofLength {
        expected,
        actual: 0,
    })?;
    let (mut fr, mut sr) = (*first, *first);
    for c in rest {
        if s_n == 0 {
            return Err(VerifyError::ProofLength {
                expected,
                actual: proof.len(),
            });
        }
        if f_n & 1 == 1 || f_n == s_n {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while f_n & 1 == 0 && f_n != 0 {
                f_n >>= 1;
                s_n >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if s_n != 0 {
        return Err(VerifyError::ProofLength {
            expected,
            actual: proof.len(),
        });
    }
    check_root(fr, root1)?;
    check_root(sr, root2)
}

/// Why a compact range could not be built or grown.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CompactRangeError {
    #[error("a tree of size {size} has {expected} frontier hashes, not {actual}")]
    HashCount {
        size: u64,
        expected: usize,
        actual: usize,
    },
    #[error("the tree is full ({MAX_TREE_SIZE} leaves)")]
    Full,
}

/// The frontier of a tree: the perfect subtrees covering `[0, size)`, largest first (one per
/// set bit of `size`). Appending is amortised O(1) hashes and the tree head costs O(log n).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CompactRange {
    size: u64,
    hashes: Vec<Hash>,
}

impl CompactRange {
    /// The empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// A frontier from its hashes, as stored (see [`CompactRange::node_ids`]).
    pub fn from_parts(size: u64, hashes: Vec<Hash>) -> Result<Self, CompactRangeError> {
        if size > MAX_TREE_SIZE {
            return Err(CompactRangeError::Full);
        }
        let expected = size.count_ones() as usize;
        if hashes.len() != expected {
            return Err(CompactRangeError::HashCount {
                size,
                expected,
                actual: hashes.len(),
            });
        }
        Ok(CompactRange { size, hashes })
    }

    /// The frontier of the tree of `size` leaves, read from stored hashes (to resume
    /// appending after a restart).
    pub fn from_reader<R: HashReader + ?Sized>(
        reader: &R,
        size: u64,
    ) -> Result<Self, ProofError<R::Error>> {
        check_size(size)?;
        let ids = Self::frontier_ids(size);
        let hashes = reader.read_hashes(&ids).map_err(ProofError::Read)?;
        if hashes.len() != ids.len() {
            return Err(ProofError::ReaderCount {
                asked: ids.len(),
                got: hashes.len(),
            });
        }
        Ok(CompactRange { size, hashes })
    }

    fn frontier_ids(size: u64) -> Vec<NodeId> {
        let mut ids = Vec::new();
        perfect_nodes(0, size, &mut ids);
        ids
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// The frontier hashes, largest subtree first.
    pub fn hashes(&self) -> &[Hash] {
        &self.hashes
    }

    /// The ids of [`CompactRange::hashes`].
    pub fn node_ids(&self) -> Vec<NodeId> {
        Self::frontier_ids(self.size)
    }

    /// Appends a leaf hash. `visit` sees every perfect subtree this completes, the leaf first
    /// and then each parent up: exactly the hashes a store needs to keep for [`HashReader`].
    pub fn append(
        &mut self,
        leaf_hash: Hash,
        mut visit: impl FnMut(NodeId, &Hash),
    ) -> Result<(), CompactRangeError> {
        if self.size >= MAX_TREE_SIZE {
            return Err(CompactRangeError::Full);
        }
        let index = self.size;
        visit(NodeId::leaf(index), &leaf_hash);
        let mut hash = leaf_hash;
        let mut level = 0u8;
        // Each set low bit of the old size is a left sibling now complete on its right.
        while (index >> level) & 1 == 1 {
            let Some(left) = self.hashes.pop() else {
                break;
            };
            hash = node_hash(&left, &hash);
            level += 1;
            visit(NodeId::new(level, index >> level), &hash);
        }
        self.hashes.push(hash);
        self.size = index + 1;
        Ok(())
    }

    /// The tree head (RFC 9162 MTH) of the leaves appended so far.
    pub fn root(&self) -> Hash {
        fold_right(&self.hashes)
    }
}

/// A stored node was missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("no stored hash for node {0}")]
pub struct MissingNode(pub NodeId);

/// A whole tree in memory, every perfect subtree hash kept by level: the reference layout a
/// store persists, and a [`HashReader`] for tests and small logs.
#[derive(Clone, Debug, Default)]
pub struct MemoryTree {
    levels: Vec<Vec<Hash>>,
    frontier: CompactRange,
}

impl MemoryTree {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends an entry; returns its leaf index.
    pub fn push_entry(&mut self, entry: &[u8]) -> Result<u64, CompactRangeError> {
        self.push_leaf_hash(leaf_hash(entry))
    }

    /// Appends a leaf hash; returns its leaf index.
    pub fn push_leaf_hash(&mut self, leaf: Hash) -> Result<u64, CompactRangeError> {
        let index = self.frontier.size();
        let levels = &mut self.levels;
        self.frontier.append(leaf, |id, hash| {
            let level = usize::from(id.level);
            if levels.len() <= level {
                levels.resize_with(level + 1, Vec::new);
            }
            levels[level].push(*hash);
        })?;
        Ok(index)
    }

    pub fn size(&self) -> u64 {
        self.frontier.size()
    }

    /// The current tree head.
    pub fn root(&self) -> Hash {
        self.frontier.root()
    }
}

impl HashReader for MemoryTree {
    type Error = MissingNode;

    fn read_hashes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, MissingNode> {
        ids.iter()
            .map(|id| {
                usize::try_from(id.index)
                    .ok()
                    .and_then(|i| self.levels.get(usize::from(id.level))?.get(i))
                    .copied()
                    .ok_or(MissingNode(*id))
            })
            .collect()
    }
}

/// A [`HashReader`] over leaf hashes alone: each perfect subtree is folded from its leaves.
#[derive(Clone, Copy, Debug)]
pub struct LeafHashes<'a>(pub &'a [Hash]);

impl HashReader for LeafHashes<'_> {
    type Error = MissingNode;

    fn read_hashes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, MissingNode> {
        ids.iter()
            .map(|id| {
                let leaves = id
                    .leaf_range()
                    .and_then(|(b, e)| Some((usize::try_from(b).ok()?, usize::try_from(e).ok()?)))
                    .and_then(|(b, e)| self.0.get(b..e))
                    .ok_or(MissingNode(*id))?;
                Ok(root_from_leaf_hashes(leaves))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn h(s: &str) -> Hash {
        let v = hex::decode(s).expect("hex");
        v.try_into().expect("32 bytes")
    }

    // Test vectors of transparency-dev/merkle (testonly/constants.go, proof/verify_test.go),
    // which Trillian and the RFC 6962 reference implementation share.
    const LEAVES: [&[u8]; 8] = [
        b"",
        b"\x00",
        b"\x10",
        b"\x20\x21",
        b"\x30\x31",
        b"\x40\x41\x42\x43",
        b"\x50\x51\x52\x53\x54\x55\x56\x57",
        b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
    ];

    const ROOTS: [&str; 9] = [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];

    const NODES: [&[&str]; 4] = [
        &[
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
            "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
        ],
        &[
            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        ],
        &[
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
        &["5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"],
    ];

    /// (leaf index, tree size, proof)
    const INCLUSION: [(u64, u64, &[&str]); 5] = [
        (
            0,
            8,
            &[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            5,
            8,
            &[
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
        (
            2,
            3,
            &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
        ),
        (
            1,
            5,
            &[
                "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ],
        ),
        (0, 1, &[]),
    ];

    /// (size1, size2, proof)
    const CONSISTENCY: [(u64, u64, &[&str]); 5] = [
        (1, 1, &[]),
        (
            1,
            8,
            &[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            6,
            8,
            &[
                "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
        (
            2,
            5,
            &[
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ],
        ),
        (
            6,
            7,
            &[
                "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
    ];

    fn vector_tree() -> MemoryTree {
        let mut tree = MemoryTree::new();
        for leaf in LEAVES {
            tree.push_entry(leaf).expect("push");
        }
        tree
    }

    fn hashes(list: &[&str]) -> Vec<Hash> {
        list.iter().map(|s| h(s)).collect()
    }

    #[test]
    fn roots_match_reference_vectors() {
        assert_eq!(empty_root(), h(ROOTS[0]));
        for size in 0..=LEAVES.len() {
            assert_eq!(
                root_from_entries(&LEAVES[..size]),
                h(ROOTS[size]),
                "size {size}"
            );
        }
        let tree = vector_tree();
        for size in 0..=8u64 {
            assert_eq!(root_at(&tree, size), Ok(h(ROOTS[size as usize])));
        }
    }

    #[test]
    fn stored_nodes_match_reference_vectors() {
        let tree = vector_tree();
        for (level, nodes) in NODES.iter().enumerate() {
            for (index, node) in nodes.iter().enumerate() {
                let id = NodeId::new(level as u8, index as u64);
                assert_eq!(tree.read_hashes(&[id]), Ok(vec![h(node)]), "node {id}");
            }
        }
    }

    #[test]
    fn inclusion_proofs_match_reference_vectors() {
        let tree = vector_tree();
        for (index, size, proof) in INCLUSION {
            let proof = hashes(proof);
            assert_eq!(inclusion_proof(&tree, index, size), Ok(proof.clone()));
            let leaf = leaf_hash(LEAVES[index as usize]);
            let root = h(ROOTS[size as usize]);
            assert_eq!(verify_inclusion(index, size, &leaf, &proof, &root), Ok(()));
        }
    }

    #[test]
    fn consistency_proofs_match_reference_vectors() {
        let tree = vector_tree();
        for (size1, size2, proof) in CONSISTENCY {
            let proof = hashes(proof);
            assert_eq!(consistency_proof(&tree, size1, size2), Ok(proof.clone()));
            let (r1, r2) = (h(ROOTS[size1 as usize]), h(ROOTS[size2 as usize]));
            assert_eq!(verify_consistency(size1, size2, &proof, &r1, &r2), Ok(()));
        }
    }

    #[test]
    fn rejects_inclusion_outside_the_tree() {
        let some = leaf_hash(b"x");
        assert_eq!(
            verify_inclusion(0, 0, &some, &[], &empty_root()),
            Err(VerifyError::IndexOutOfRange { index: 0, size: 0 })
        );
        assert_eq!(
            verify_inclusion(2, 1, &some, &[], &some),
            Err(VerifyError::IndexOutOfRange { index: 2, size: 1 })
        );
        assert_eq!(
            inclusion_proof(&vector_tree(), 8, 8),
            Err(ProofError::IndexOutOfRange { index: 8, size: 8 })
        );
    }

    #[test]
    fn consistency_edge_cases() {
        let (a, b) = (leaf_hash(b"a"), leaf_hash(b"b"));
        assert_eq!(verify_consistency(0, 0, &[], &a, &a), Ok(()));
        assert_eq!(verify_consistency(0, 5, &[], &a, &b), Ok(()));
        assert!(verify_consistency(1, 1, &[], &a, &b).is_err());
        assert_eq!(
            verify_consistency(2, 1, &[], &a, &b),
            Err(VerifyError::SizesOutOfOrder { size1: 2, size2: 1 })
        );
        assert_eq!(
            verify_consistency(1, 2, &[], &a, &b),
            Err(VerifyError::ProofLength {
                expected: 1,
                actual: 0
            })
        );
        assert_eq!(
            verify_consistency(0, 1, &[a], &a, &b),
            Err(VerifyError::ProofLength {
                expected: 0,
                actual: 1
            })
        );
    }

    #[test]
    fn reader_errors_and_short_answers_are_reported() {
        struct Short;
        impl HashReader for Short {
            type Error = MissingNode;
            fn read_hashes(&self, _: &[NodeId]) -> Result<Vec<Hash>, MissingNode> {
                Ok(Vec::new())
            }
        }
        assert_eq!(
            inclusion_proof(&Short, 0, 2),
            Err(ProofError::ReaderCount { asked: 1, got: 0 })
        );
        assert_eq!(
            inclusion_proof(&MemoryTree::new(), 0, 2),
            Err(ProofError::Read(MissingNode(NodeId::leaf(1))))
        );
    }

    #[test]
    fn proofs_read_logarithmically_many_nodes() {
        struct Counting<'a>(&'a MemoryTree, std::cell::Cell<usize>);
        impl HashReader for Counting<'_> {
            type Error = MissingNode;
            fn read_hashes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, MissingNode> {
                self.1.set(self.1.get() + ids.len());
                self.0.read_hashes(ids)
            }
        }
        let mut tree = MemoryTree::new();
        for i in 0u32..1000 {
            tree.push_entry(&i.to_be_bytes()).expect("push");
        }
        let reader = Counting(&tree, std::cell::Cell::new(0));
        for (index, size) in [(0, 1000), (999, 1000), (511, 777), (3, 999)] {
            reader.1.set(0);
            inclusion_proof(&reader, index, size).expect("proof");
            assert!(reader.1.get() <= 2 * 10, "{} reads", reader.1.get());
        }
        reader.1.set(0);
        consistency_proof(&reader, 333, 999).expect("proof");
        assert!(reader.1.get() <= 2 * 10, "{} reads", reader.1.get());
    }

    #[test]
    fn compact_range_reports_every_perfect_subtree_and_resumes() {
        let mut range = CompactRange::new();
        let mut seen = Vec::new();
        for (i, leaf) in LEAVES.iter().enumerate() {
            range
                .append(leaf_hash(leaf), |id, hash| seen.push((id, *hash)))
                .expect("append");
            assert_eq!(range.root(), h(ROOTS[i + 1]));
        }
        assert_eq!(seen.len(), 15);
        let tree = vector_tree();
        for (id, hash) in seen {
            assert_eq!(tree.read_hashes(&[id]), Ok(vec![hash]));
        }
        let resumed = CompactRange::from_reader(&tree, 7).expect("resume");
        assert_eq!(resumed.node_ids().len(), 3);
        assert_eq!(resumed.root(), h(ROOTS[7]));
        assert_eq!(
            CompactRange::from_parts(7, vec![h(ROOTS[1])]),
            Err(CompactRangeError::HashCount {
                size: 7,
                expected: 3,
                actual: 1
            })
        );
    }

    // Reference recursions, written as RFC 9162 states them, over leaf hashes.
    fn mth(d: &[Hash]) -> Hash {
        match d.len() {
            0 => empty_root(),
            1 => d[0],
            n => {
                let k = split_point(n as u64) as usize;
                node_hash(&mth(&d[..k]), &mth(&d[k..]))
            }
        }
    }

    fn path(m: usize, d: &[Hash]) -> Vec<Hash> {
        if d.len() <= 1 {
            return Vec::new();
        }
        let k = split_point(d.len() as u64) as usize;
        if m < k {
            let mut p = path(m, &d[..k]);
            p.push(mth(&d[k..]));
            p
        } else {
            let mut p = path(m - k, &d[k..]);
            p.push(mth(&d[..k]));
            p
        }
    }

    fn subproof(m: usize, d: &[Hash], b: bool) -> Vec<Hash> {
        let n = d.len();
        if m == n {
            return if b { Vec::new() } else { vec![mth(d)] };
        }
        let k = split_point(n as u64) as usize;
        if m <= k {
            let mut p = subproof(m, &d[..k], b);
            p.push(mth(&d[k..]));
            p
        } else {
            let mut p = subproof(m - k, &d[k..], false);
            p.push(mth(&d[..k]));
            p
        }
    }

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n as u32).map(|i| leaf_hash(&i.to_le_bytes())).collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn every_inclusion_proof_verifies(size in 1usize..300, pick in any::<prop::sample::Index>(), bit in 0usize..256) {
            let d = leaves(size);
            let mut tree = MemoryTree::new();
            for l in &d { tree.push_leaf_hash(*l).expect("push"); }
            let root = mth(&d);
            prop_assert_eq!(tree.root(), root);
            let index = pick.index(size);
            let proof = inclusion_proof(&tree, index as u64, size as u64).expect("proof");
            prop_assert_eq!(&proof, &path(index, &d));
            prop_assert_eq!(inclusion_proof(&LeafHashes(&d), index as u64, size as u64), Ok(proof.clone()));
            prop_assert_eq!(proof.len(), inclusion_proof_len(index as u64, size as u64));
            prop_assert_eq!(verify_inclusion(index as u64, size as u64, &d[index], &proof, &root), Ok(()));
            // One flipped bit anywhere (proof, leaf or root) must fail.
            let mut bad = proof.clone();
            if !bad.is_empty() {
                let i = bit % bad.len();
                bad[i][bit / 8 % HASH_LEN] ^= 1 << (bit % 8);
                prop_assert!(verify_inclusion(index as u64, size as u64, &d[index], &bad, &root).is_err());
            }
            let mut bad_leaf = d[index];
            bad_leaf[bit / 8] ^= 1 << (bit % 8);
            prop_assert!(verify_inclusion(index as u64, size as u64, &bad_leaf, &proof, &root).is_err());
            if size > 1 {
                let other = (index + 1) % size;
                prop_assert!(verify_inclusion(other as u64, size as u64, &d[index], &proof, &root).is_err());
            }
        }

        #[test]
        fn every_consistency_proof_verifies(size2 in 1usize..300, pick in any::<prop::sample::Index>(), bit in 0usize..256) {
            let d = leaves(size2);
            let mut tree = MemoryTree::new();
            for l in &d { tree.push_leaf_hash(*l).expect("push"); }
            let size1 = pick.index(size2 + 1);
            let (r1, r2) = (mth(&d[..size1]), mth(&d));
            let proof = consistency_proof(&tree, size1 as u64, size2 as u64).expect("proof");
            if 0 < size1 && size1 < size2 {
                prop_assert_eq!(&proof, &subproof(size1, &d, true));
            }
            prop_assert_eq!(proof.len(), consistency_proof_len(size1 as u64, size2 as u64));
            prop_assert_eq!(verify_consistency(size1 as u64, size2 as u64, &proof, &r1, &r2), Ok(()));
            if !proof.is_empty() {
                let mut bad = proof.clone();
                let i = bit % bad.len();
                bad[i][bit / 8 % HASH_LEN] ^= 1 << (bit % 8);
                prop_assert!(verify_consistency(size1 as u64, size2 as u64, &bad, &r1, &r2).is_err());
                let mut bad_r1 = r1;
                bad_r1[bit / 8] ^= 1 << (bit % 8);
                prop_assert!(verify_consistency(size1 as u64, size2 as u64, &proof, &bad_r1, &r2).is_err());
                let mut bad_r2 = r2;
                bad_r2[bit / 8] ^= 1 << (bit % 8);
                prop_assert!(verify_consistency(size1 as u64, size2 as u64, &proof, &r1, &bad_r2).is_err());
                prop_assert!(verify_consistency(size1 as u64, size2 as u64, &proof[1..], &r1, &r2).is_err());
            }
        }

        #[test]
        fn verifiers_never_panic(index in any::<u64>(), size in any::<u64>(), size2 in any::<u64>(), n in 0usize..70) {
            let proof = vec![[7u8; 32]; n];
            let _ = verify_inclusion(index, size, &[1; 32], &proof, &[2; 32]);
            let _ = verify_consistency(size, size2, &proof, &[1; 32], &[2; 32]);
            let _ = verify_consistency(size.min(size2), size.max(size2), &proof, &[1; 32], &[2; 32]);
        }
    }
}
