//! Digests and artifact paths: the newtypes that keep hashes and names from being mixed up.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// A SHA-256 digest.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sha256([u8; 32]);

impl Sha256 {
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// Hashes `data` in one call.
    pub fn digest(data: &[u8]) -> Self {
        Self(sbomit_crypto::sha256(data))
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// 64 lowercase hex digits, with a table instead of the `hex` crate's per-character
    /// iterator: a large SIT writes a digest several times for each of 100,000 components.
    pub fn to_hex(&self) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut out = String::with_capacity(64);
        for b in self.0 {
            out.push(char::from(DIGITS[usize::from(b >> 4)]));
            out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
        }
        out
    }

    /// Parses 64 lowercase hex digits, the form links hold, with a table instead of the
    /// `hex` crate's checked per-digit decode (300,000 digests in a large verification).
    pub fn from_lower_hex(s: &str) -> Option<Self> {
        const INVALID: u8 = 0xff;
        const TABLE: [u8; 256] = {
            let mut t = [INVALID; 256];
            let mut i = 0;
            while i < 10 {
                t[b'0' as usize + i] = i as u8;
                i += 1;
            }
            let mut i = 0;
            while i < 6 {
                t[b'a' as usize + i] = 10 + i as u8;
                i += 1;
            }
            t
        };
        let bytes = s.as_bytes();
        if bytes.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        let mut seen = 0u8;
        for (o, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
            let (hi, lo) = (TABLE[pair[0] as usize], TABLE[pair[1] as usize]);
            seen |= hi | lo;
            *o = (hi << 4) | (lo & 0x0f);
        }
        // Every valid digit is below 16; one invalid one sets the high bits.
        (seen < 16).then_some(Self(out))
    }

    /// Parses 64 hex digits (either case).
    pub fn from_hex(s: &str) -> Option<Self> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).ok()?;
        Some(Self(out))
    }
}

impl fmt::Debug for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.to_hex())
    }
}

impl fmt::Display for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// An in-toto digest set: algorithm name → lowercase hex, as in link `materials`/`products`
/// and Statement subjects. Kept as strings so algorithms we do not compute (sha512, gitoid,
/// dirHash) survive a round trip and compare exactly as the reference compares them.
///
/// Pairs sorted by algorithm, each algorithm once (a JSON object's last value wins, as in
/// Python and serde's maps): a map would allocate a ~500-byte node for the lone `sha256`
/// of every one of a link's 100,000 artifacts, and zeroing that memory was a tenth of
/// recording them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct DigestSet(Vec<(String, String)>);

impl DigestSet {
    pub fn sha256(d: Sha256) -> Self {
        Self(vec![("sha256".to_owned(), d.to_hex())])
    }

    pub fn get(&self, algorithm: &str) -> Option<&str> {
        self.0
            .binary_search_by(|(k, _)| k.as_str().cmp(algorithm))
            .ok()
            .map(|i| self.0[i].1.as_str())
    }

    /// Sets `algorithm`'s digest, returning the previous one.
    pub fn insert(&mut self, algorithm: String, hex: String) -> Option<String> {
        match self.0.binary_search_by(|(k, _)| k.as_str().cmp(&algorithm)) {
            Ok(i) => Some(std::mem::replace(&mut self.0[i].1, hex)),
            Err(i) => {
                self.0.insert(i, (algorithm, hex));
                None
            }
        }
    }

    /// `(algorithm, hex)` in algorithm order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl FromIterator<(String, String)> for DigestSet {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(pairs: I) -> Self {
        let mut set = DigestSet::default();
        for (k, v) in pairs {
            set.insert(k, v);
        }
        set
    }
}

impl Serialize for DigestSet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for DigestSet {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = DigestSet;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map of digests")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<DigestSet, A::Error> {
                let mut set = DigestSet::default();
                while let Some((k, v)) = map.next_entry::<String, String>()? {
                    set.insert(k, v);
                }
                Ok(set)
            }
        }
        d.deserialize_map(V)
    }
}

/// A path as recorded in a link's `materials` or `products` (always `/`-separated, relative
/// unless the user recorded absolute paths). It is a name, not a filesystem path: turning it
/// into one is the job of `sbomit-fs`, which checks it stays inside the intended directory.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ArtifactPath(String);

impl ArtifactPath {
    pub fn new(path: impl Into<String>) -> Self {
        Self(path.into())
    }

    pub fn into_string(self) -> String {
        self.0
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ArtifactPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for ArtifactPath {
    fn from(s: &str) -> Self {
        Self(s.to_owned())
    }
}

/// `posixpath.join(a, b)` for two components, as the Python reference joins artifact paths
/// (a rule's `IN` prefix, a resolver's directory): an absolute `b` replaces `a`.
pub fn posix_join(a: &str, b: &str) -> String {
    if b.starts_with('/') {
        b.to_owned()
    } else if a.is_empty() || a.ends_with('/') {
        format!("{a}{b}")
    } else {
        format!("{a}/{b}")
    }
}

/// A link's materials or products.
pub type Artifacts = BTreeMap<ArtifactPath, DigestSet>;

/// A digest set in the form the rule engine compares: a lone lowercase `sha256` (what every
/// link we and the reference write holds) as 32 bytes, anything else as sorted string pairs.
/// Two digest sets are equal exactly when their string maps are (the reference compares the
/// dicts), because the `Sha256` form is only used when the map is `{"sha256": lowercase hex}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CompactDigest {
    Sha256(Sha256),
    Other(Box<[(Box<str>, Box<str>)]>),
}

impl CompactDigest {
    /// From `(algorithm, hex)` pairs in any order; a repeated algorithm keeps its last value,
    /// as a JSON object read by Python does.
    pub fn from_pairs(mut pairs: Vec<(Box<str>, Box<str>)>) -> Self {
        if let [(alg, hex)] = pairs.as_slice() {
            if &**alg == "sha256" {
                if let Some(d) = Sha256::from_lower_hex(hex) {
                    return CompactDigest::Sha256(d);
                }
            }
        }
        // Stable sort, then keep the last of equal algorithms.
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        let mut out: Vec<(Box<str>, Box<str>)> = Vec::with_capacity(pairs.len());
        for p in pairs {
            match out.last_mut() {
                Some(last) if last.0 == p.0 => *last = p,
                _ => out.push(p),
            }
        }
        if let [(alg, hex)] = out.as_slice() {
            if &**alg == "sha256" {
                if let Some(d) = Sha256::from_lower_hex(hex) {
                    return CompactDigest::Sha256(d);
                }
            }
        }
        CompactDigest::Other(out.into_boxed_slice())
    }

    pub fn from_set(set: &DigestSet) -> Self {
        Self::from_pairs(
            set.0
                .iter()
                .map(|(k, v)| (k.as_str().into(), v.as_str().into()))
                .collect(),
        )
    }

    pub fn to_set(&self) -> DigestSet {
        match self {
            CompactDigest::Sha256(d) => DigestSet::sha256(*d),
            CompactDigest::Other(pairs) => DigestSet(
                pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
        }
    }
}

/// A link's materials or products for verification: every path in one string buffer and
/// the entries sorted by path bytes (the order Python sorts `str` in), so that 100,000
/// artifacts are two allocations instead of 300,000 and lookups are binary searches.
#[derive(Clone, Debug, Default)]
pub struct ArtifactTable {
    names: String,
    entries: Vec<TableEntry>,
}

#[derive(Clone, Debug)]
struct TableEntry {
    start: usize,
    end: usize,
    digest: CompactDigest,
}

/// Builds an [`ArtifactTable`] from entries in any order.
#[derive(Default)]
pub struct ArtifactTableBuilder {
    table: ArtifactTable,
    /// Whether the entries so far came strictly sorted (the usual case: files are written
    /// with sorted keys), so that `finish` has nothing to do.
    sorted: bool,
}

impl ArtifactTableBuilder {
    pub fn with_capacity(entries: usize, name_bytes: usize) -> Self {
        ArtifactTableBuilder {
            table: ArtifactTable {
                names: String::with_capacity(name_bytes),
                entries: Vec::with_capacity(entries),
            },
            sorted: true,
        }
    }

    pub fn push(&mut self, path: &str, digest: CompactDigest) {
        let start = self.table.names.len();
        self.table.names.push_str(path);
        let end = self.table.names.len();
        if self.sorted {
            if let Some(last) = self.table.entries.last() {
                if self.table.names.as_bytes()[last.start..last.end] >= *path.as_bytes() {
                    self.sorted = false;
                }
            }
        }
        self.table.entries.push(TableEntry { start, end, digest });
    }

    /// The table, sorted by path; of entries with the same path the last one pushed wins
    /// (a JSON object with a repeated key, read by Python, keeps the last value).
    pub fn finish(self) -> ArtifactTable {
        let mut table = self.table;
        if !self.sorted {
            let names = table.names.as_bytes();
            // Stable: equal paths stay in push order, so the last of them is kept below.
            table
                .entries
                .sort_by(|a, b| names[a.start..a.end].cmp(&names[b.start..b.end]));
            let mut out: Vec<TableEntry> = Vec::with_capacity(table.entries.len());
            for e in table.entries {
                match out.last_mut() {
                    Some(last) if names[last.start..last.end] == names[e.start..e.end] => *last = e,
                    _ => out.push(e),
                }
            }
            table.entries = out;
        }
        table
    }
}

impl ArtifactTable {
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The path of entry `i` (entries are sorted by path).
    pub fn name(&self, i: usize) -> &str {
        let e = &self.entries[i];
        &self.names[e.start..e.end]
    }

    pub fn digest(&self, i: usize) -> &CompactDigest {
        &self.entries[i].digest
    }

    /// The index of `path`, if present.
    pub fn find(&self, path: &str) -> Option<usize> {
        let names = self.names.as_bytes();
        self.entries
            .binary_search_by(|e| names[e.start..e.end].cmp(path.as_bytes()))
            .ok()
    }

    /// [`ArtifactTable::find`] for paths asked for in increasing order: starts at `from`
    /// (the position after the previous answer) and tries it before searching, since
    /// rules over sorted tables mostly ask for the very next entry. Returns the index, or
    /// where `path` would be.
    pub fn find_from(&self, path: &str, from: usize) -> Result<usize, usize> {
        let names = self.names.as_bytes();
        let key = |e: &TableEntry| &names[e.start..e.end];
        let from = from.min(self.entries.len());
        match self.entries.get(from).map(|e| key(e).cmp(path.as_bytes())) {
            Some(std::cmp::Ordering::Equal) => Ok(from),
            // Past the end, or past `path`: it can only be before `from`.
            None | Some(std::cmp::Ordering::Greater) => {
                self.entries[..from].binary_search_by(|e| key(e).cmp(path.as_bytes()))
            }
            Some(std::cmp::Ordering::Less) => self.entries[from..]
                .binary_search_by(|e| key(e).cmp(path.as_bytes()))
                .map(|i| i + from)
                .map_err(|i| i + from),
        }
    }

    pub fn get(&self, path: &str) -> Option<&CompactDigest> {
        self.find(path).map(|i| &self.entries[i].digest)
    }

    pub fn contains(&self, path: &str) -> bool {
        self.find(path).is_some()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &CompactDigest)> + '_ {
        self.entries
            .iter()
            .map(|e| (&self.names[e.start..e.end], &e.digest))
    }

    pub fn from_artifacts(artifacts: &Artifacts) -> Self {
        let bytes = artifacts.keys().map(|k| k.0.len()).sum();
        let mut b = ArtifactTableBuilder::with_capacity(artifacts.len(), bytes);
        for (path, set) in artifacts {
            b.push(path.as_str(), CompactDigest::from_set(set));
        }
        b.finish()
    }

    pub fn to_artifacts(&self) -> Artifacts {
        self.iter()
            .map(|(p, d)| (ArtifactPath::new(p), d.to_set()))
            .collect()
    }
}

/// Equal when they hold the same paths with equal digests (however the buffer is laid out).
impl PartialEq for ArtifactTable {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for ArtifactTable {}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The table-driven hex is the `hex` crate's, and reads back.
        #[test]
        fn sha256_hex_is_lowercase_hex_and_round_trips(bytes in proptest::array::uniform32(0u8..)) {
            let d = Sha256(bytes);
            proptest::prop_assert_eq!(d.to_hex(), hex::encode(bytes));
            proptest::prop_assert_eq!(Sha256::from_lower_hex(&d.to_hex()), Some(d));
        }
    }

    /// A digest set reads and writes as the JSON object a map would: keys in order, the
    /// last of a repeated algorithm kept, equality independent of the order given.
    #[test]
    fn digest_set_behaves_as_the_map_it_replaces() {
        let text = r#"{"sha512":"bb","sha256":"aa","gitoid":"cc","sha256":"dd"}"#;
        let set: DigestSet = serde_json::from_str(text).unwrap();
        let map: BTreeMap<String, String> = serde_json::from_str(text).unwrap();
        assert_eq!(
            serde_json::to_string(&set).unwrap(),
            serde_json::to_string(&map).unwrap()
        );
        assert_eq!(set.get("sha256"), Some("dd"));
        assert_eq!(set.get("md5"), None);
        assert_eq!(set.len(), 3);
        let reordered: DigestSet = [("gitoid", "cc"), ("sha256", "dd"), ("sha512", "bb")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        assert_eq!(set, reordered);
        assert!(serde_json::from_str::<DigestSet>(r#"{"sha256": 1}"#).is_err());
        assert!(serde_json::from_str::<DigestSet>("[]").is_err());
    }

    #[test]
    fn lower_hex_decodes_like_the_hex_crate() {
        let h = "00ff7a".repeat(10) + "9b0c";
        assert_eq!(Sha256::from_lower_hex(&h), Sha256::from_hex(&h));
        assert!(Sha256::from_lower_hex(&h.to_uppercase()).is_none());
        assert!(Sha256::from_lower_hex(&format!("{}g", &h[1..])).is_none());
        assert!(Sha256::from_lower_hex(&h[2..]).is_none());
    }

    #[test]
    fn table_sorts_keeps_last_and_finds_from_anywhere() {
        let d = |b: u8| CompactDigest::Sha256(Sha256::from_bytes([b; 32]));
        let mut b = ArtifactTableBuilder::default();
        for (p, x) in [("c", 1), ("a", 2), ("b", 3), ("a", 4)] {
            b.push(p, d(x));
        }
        let t = b.finish();
        let names: Vec<&str> = t.iter().map(|(p, _)| p).collect();
        assert_eq!(names, ["a", "b", "c"]);
        assert_eq!(t.get("a"), Some(&d(4)));
        for from in 0..5 {
            assert_eq!(t.find_from("b", from), Ok(1));
            assert_eq!(t.find_from("bb", from), Err(2));
            assert_eq!(t.find_from("0", from), Err(0));
        }
    }
}
