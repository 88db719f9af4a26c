//! Graph facts from SBOMs, vulnerability reports and VEX documents: the components a document
//! lists (artifact → component, nesting preserved), the dependencies between them and the
//! vulnerability and VEX facts it asserts. The Store indexes these facts (issue #5) and answers
//! "what is inside X", "which artifacts contain Y" and "which artifacts are affected by V".
//!
//! ### Pure
//! JSON in, [`Facts`] out: no IO, no envelope and no signature check (the caller opens the
//! DSSE or COSE envelope and passes its content: [`statement`] for an in-toto Statement,
//! [`payload`] for a typed payload). Nothing here panics: content that cannot be read gives
//! [`Facts::unparsed`], with whatever could be read (at least the subjects) still filled in.
//!
//! ### Nodes
//! A [`Node`] is keyed by its strongest identifier: `sha256:<hex>`, else `purl:<purl>`, else
//! `name:<name>@<version>`. The same key in two statements is the same node, which is what
//! makes containment transitive across SBOMs. Edges from a node to itself are dropped.
//!
//! ### Formats (one module each)
//! * CycloneDX JSON (`cyclonedx`): `metadata.component` (the artifact the BOM describes), `components[]`
//!   nested to any depth, `dependencies[]`, `vulnerabilities[]` (VEX inside a BOM).
//! * SPDX 2.3 JSON (`spdx`): packages and files, `documentDescribes`, `hasFiles`, relationships
//!   (contains, depends on, links, generated from, and their reverses); SPDX 3 JSON-LD:
//!   packages and files, `rootElement`, relationships (`contains`, `dependsOn`, links,
//!   `generates`; a Build's outputs are made of its inputs).
//! * `vulns`: OpenVEX, OSV records, in-toto vulns v0.1 and cosign vuln v1 scan results.
//! * End-of-life notices (subjects only).
//!
//! SBOMit SITs are read as the SBOMs they are. Their SPDX forms state the supply chain as
//! "generated from" and Build inputs and outputs rather than as containment; those count as
//! edges, so that a SIT gives the same reachable components in every format.
//!
//! The artifact a document describes (CycloneDX `metadata.component`, SPDX described
//! elements) is the statement's subject when they agree: the same sha256, or a single subject
//! whose sha256 and purl do not contradict it. Otherwise it is a node of its own, below every
//! subject.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use sbomit_intoto::statement::{is_statement_type, Statement};

mod cyclonedx;
mod spdx;
mod vulns;

/// A graph node: an artifact or component, keyed by its strongest identifier.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Node {
    /// `sha256:<hex>` when a sha256 is known, else `purl:<purl>` (the purl as given,
    /// qualifiers kept), else `name:<name>@<version>` (or `name:<name>`).
    pub key: String,
    pub purl: Option<String>,
    pub name: Option<String>,
    pub version: Option<String>,
    /// Lowercase hex.
    pub sha256: Option<String>,
}

impl Node {
    /// A node from what is known of it; `None` when nothing identifies it. Empty strings
    /// count as absent; a sha256 that is not 64 hex digits is dropped.
    pub fn new(
        purl: Option<&str>,
        name: Option<&str>,
        version: Option<&str>,
        sha256: Option<&str>,
    ) -> Option<Node> {
        let given = |s: Option<&str>| s.filter(|s| !s.is_empty()).map(str::to_owned);
        let mut node = Node {
            key: String::new(),
            purl: given(purl),
            name: given(name),
            version: given(version),
            sha256: sha256.and_then(normalize_sha256),
        };
        node.key = node.computed_key()?;
        Some(node)
    }

    /// A node from one identifier string, as in a COSE `sub` or an OpenVEX product:
    /// `sha256:<hex>` is a digest, `pkg:…` a purl, anything else a name.
    pub fn from_identifier(id: &str) -> Option<Node> {
        if let Some(hex) = id.strip_prefix("sha256:") {
            if let Some(hex) = normalize_sha256(hex) {
                return Node::new(None, None, None, Some(&hex));
            }
        }
        if is_purl(id) {
            return Node::new(Some(id), None, None, None);
        }
        Node::new(None, Some(id), None, None)
    }

    /// The purl without `@version`, `?qualifiers` and `#subpath`: what every version of the
    /// package shares.
    pub fn purl_base(&self) -> Option<String> {
        self.purl.as_deref().map(purl_base)
    }

    fn computed_key(&self) -> Option<String> {
        if let Some(sha) = &self.sha256 {
            return Some(format!("sha256:{sha}"));
        }
        if let Some(purl) = &self.purl {
            return Some(format!("purl:{purl}"));
        }
        let name = self.name.as_ref()?;
        Some(match &self.version {
            Some(v) => format!("name:{name}@{v}"),
            None => format!("name:{name}"),
        })
    }

    /// Fills the fields this node lacks from `other` (what is known first wins).
    fn fill_from(&mut self, other: &Node) {
        fn fill(mine: &mut Option<String>, theirs: &Option<String>) {
            if mine.is_none() {
                mine.clone_from(theirs);
            }
        }
        fill(&mut self.purl, &other.purl);
        fill(&mut self.name, &other.name);
        fill(&mut self.version, &other.version);
        fill(&mut self.sha256, &other.sha256);
    }

    /// Whether nothing says `self` and `other` are different artifacts (names do not count:
    /// a subject is named by its path, a component by its product name).
    fn may_be(&self, other: &Node) -> bool {
        if let (Some(a), Some(b)) = (&self.sha256, &other.sha256) {
            return a == b;
        }
        match (self.purl_base(), other.purl_base()) {
            (Some(a), Some(b)) => a == b,
            _ => true,
        }
    }
}

fn purl_base(purl: &str) -> String {
    let purl = purl.split('#').next().unwrap_or_default();
    let purl = purl.split('?').next().unwrap_or_default();
    // The version follows the last `@` of the name (the last path segment): an npm scope
    // (`pkg:npm/@scope/name@1`) keeps its `@`.
    let name_start = purl.rfind('/').map_or(0, |i| i + 1);
    match purl[name_start..].rfind('@') {
        Some(at) => purl[..name_start + at].to_owned(),
        None => purl.to_owned(),
    }
}

fn is_purl(s: &str) -> bool {
    s.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("pkg:"))
}

fn normalize_sha256(s: &str) -> Option<String> {
    let s = s.trim();
    let s = s.strip_prefix("sha256:").unwrap_or(s);
    (s.len() == 64 && s.bytes().all(|c| c.is_ascii_hexdigit())).then(|| s.to_ascii_lowercase())
}

/// An edge between node keys: `parent` contains or depends on `child`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Edge {
    pub parent: String,
    pub child: String,
}

/// What a statement says of a vulnerability in a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum VulnStatus {
    Affected,
    NotAffected,
    Fixed,
    UnderInvestigation,
}

impl VulnStatus {
    pub const ALL: [VulnStatus; 4] = [
        VulnStatus::Affected,
        VulnStatus::NotAffected,
        VulnStatus::Fixed,
        VulnStatus::UnderInvestigation,
    ];

    /// The OpenVEX name: `affected`, `not_affected`, `fixed`, `under_investigation`.
    pub fn name(self) -> &'static str {
        match self {
            VulnStatus::Affected => "affected",
            VulnStatus::NotAffected => "not_affected",
            VulnStatus::Fixed => "fixed",
            VulnStatus::UnderInvestigation => "under_investigation",
        }
    }

    /// The inverse of [`VulnStatus::name`] (also accepting `not-affected`, `Not Affected`).
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim().to_ascii_lowercase().replace(['-', ' '], "_");
        VulnStatus::ALL.into_iter().find(|v| v.name() == s)
    }
}

/// A vulnerability fact: `vuln_id` has `status` in the node keyed `node`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VulnFact {
    pub vuln_id: String,
    pub node: String,
    pub status: VulnStatus,
}

/// What kind of evidence a statement is, for the index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FactKind {
    Sbom,
    Vulnerabilities,
    Vex,
    EndOfLife,
    Other,
}

impl FactKind {
    pub fn name(self) -> &'static str {
        match self {
            FactKind::Sbom => "sbom",
            FactKind::Vulnerabilities => "vulnerabilities",
            FactKind::Vex => "vex",
            FactKind::EndOfLife => "end_of_life",
            FactKind::Other => "other",
        }
    }

    /// The kind of evidence an in-toto predicate type names.
    pub fn of_predicate_type(predicate_type: &str) -> FactKind {
        format_of_predicate_type(predicate_type).kind()
    }

    /// The kind of evidence a media type (or `coap-content-format:<n>`) names.
    pub fn of_content_type(content_type: &str) -> FactKind {
        format_of_content_type(content_type).kind()
    }
}

/// The graph facts of one statement. Lists are sorted (nodes by key, edges, vulns by id and
/// node) and deduplicated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Facts {
    pub kind: FactKind,
    /// What the statement is about (in-toto subjects, the COSE `sub`), merged with the
    /// artifact the document describes when they are the same.
    pub subjects: Vec<Node>,
    /// Every node mentioned, subjects included, deduplicated by key (fields merged).
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
    /// One fact per vulnerability and node; the last statement about a pair wins.
    pub vulns: Vec<VulnFact>,
    /// Why the content could not be indexed, or only partly (malformed entries skipped).
    pub unparsed: Option<String>,
}

impl Facts {
    /// The invariants every result keeps, whatever the input, that this one breaks (none,
    /// unless a reader has a bug): nodes and edges deduplicated, every subject, edge end and
    /// vulnerability on a known node, no self-edge, `sha256:` keys over 64 lowercase hex
    /// digits. The Store indexes facts on that understanding; tests and fuzzers check it.
    pub fn violations(&self) -> Vec<String> {
        let mut out = Vec::new();
        let keys: std::collections::BTreeSet<&str> =
            self.nodes.iter().map(|n| n.key.as_str()).collect();
        if keys.len() != self.nodes.len() {
            out.push("nodes are not deduplicated".to_owned());
        }
        for s in &self.subjects {
            if !keys.contains(s.key.as_str()) {
                out.push(format!("subject {} is not a node", s.key));
            }
        }
        let mut edge_set = std::collections::BTreeSet::new();
        for e in &self.edges {
            if !keys.contains(e.parent.as_str()) || !keys.contains(e.child.as_str()) {
                out.push(format!("edge {e:?} joins an unknown node"));
            }
            if e.parent == e.child {
                out.push(format!("edge {e:?} is a self-edge"));
            }
            edge_set.insert((&e.parent, &e.child));
        }
        if edge_set.len() != self.edges.len() {
            out.push("edges are not deduplicated".to_owned());
        }
        for v in &self.vulns {
            if !keys.contains(v.node.as_str()) {
                out.push(format!("vulnerability {v:?} is on an unknown node"));
            }
        }
        for n in &self.nodes {
            if let Some(h) = &n.sha256 {
                let lower_hex = h.len() == 64
                    && h.bytes()
                        .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c));
                if n.key != format!("sha256:{h}") || !lower_hex {
                    out.push(format!("node {} has sha256 {h:?}", n.key));
                }
            }
        }
        out
    }
}

/// The graph facts of an in-toto Statement (a DSSE envelope's payload): its subjects, then
/// its predicate read by its `predicateType`. `predicate_type` is the type the Statement was
/// registered under, used only when the Statement itself cannot be read.
pub fn statement(statement: &Value, predicate_type: &str) -> Facts {
    let mut b = Builder::default();
    let kind = in_toto(&mut b, statement, predicate_type);
    b.finish(kind)
}

/// The graph facts of a typed payload (a COSE Signed Statement's): `subjects` are what it is
/// about (the COSE `sub`), `content_type` its media type (`coap-content-format:<n>` for a CoAP
/// number), `payload` its bytes (`None` when detached). Plain JSON is sniffed.
pub fn payload(
    subjects: impl IntoIterator<Item = Node>,
    content_type: &str,
    payload: Option<&[u8]>,
) -> Facts {
    let mut b = Builder::default();
    b.pending_subjects.extend(subjects);
    let format = format_of_content_type(content_type);
    let kind = if matches!(
        format,
        Format::Other | Format::EndOfLife | Format::Unreadable(..)
    ) {
        index(&mut b, format, &Value::Null)
    } else {
        match payload.map(serde_json::from_slice::<Value>) {
            None => {
                b.fail("the payload is detached");
                format.kind()
            }
            Some(Ok(value)) => index(&mut b, format, &value),
            Some(Err(e)) => {
                b.fail(format!("the {content_type} payload is not JSON: {e}"));
                format.kind()
            }
        }
    };
    b.finish(kind)
}

/// The facts of content that could not be opened at all (an envelope that does not parse):
/// no nodes, `reason` as [`Facts::unparsed`].
pub fn unreadable(kind: FactKind, reason: impl Into<String>) -> Facts {
    let mut b = Builder::default();
    b.fail(reason);
    b.finish(kind)
}

// ---------------------------------------------------------------------------------------
// Collecting facts

/// At most this many edges and vulnerability facts stated by one statement (repeats
/// included). Nodes are bounded by the statement's size, but edges multiply (every subject ×
/// every top-level component, every finding × every subject): the bound keeps a small
/// statement from costing gigabytes. Real SBOMs, even of 100,000 components with their
/// dependencies, stay far below it.
const MAX_FACTS: usize = 2_000_000;

/// A node's index in [`Builder::nodes`]: edges and references hold these, not key strings,
/// so that a large SBOM costs one key per node and the edges sort as integers.
type Id = usize;

#[derive(Default)]
struct Builder {
    nodes: Vec<Node>,
    index: HashMap<String, Id>,
    edges: Vec<(Id, Id)>,
    vulns: Vec<(String, Id, VulnStatus)>,
    vuln_index: HashMap<(String, Id), usize>,
    /// Subjects not yet in `nodes`: the document's root may still merge into them.
    pending_subjects: Vec<Node>,
    /// The subjects, once placed.
    subject_ids: Option<Vec<Id>>,
    /// Edges and vulnerability facts stated so far (repeats included).
    stated: usize,
    fatal: Option<String>,
    skipped: usize,
    first_skip: Option<String>,
}

impl Builder {
    /// Adds (or merges) a node.
    fn add(&mut self, node: Node) -> Id {
        match self.index.get(&node.key) {
            Some(&id) => {
                if let Some(known) = self.nodes.get_mut(id) {
                    known.fill_from(&node);
                }
                id
            }
            None => {
                let id = self.nodes.len();
                self.index.insert(node.key.clone(), id);
                self.nodes.push(node);
                id
            }
        }
    }

    /// Counts one more stated fact; `false` (noted once) past [`MAX_FACTS`]. Loops over
    /// products of lists stop at the first `false`, so their work stays bounded too.
    fn room(&mut self) -> bool {
        self.stated += 1;
        if self.stated <= MAX_FACTS {
            return true;
        }
        self.fail(format!(
            "more than {MAX_FACTS} edges and vulnerability facts: the rest is not indexed"
        ));
        false
    }

    /// Records `parent → child`; `false` once the bound is reached.
    fn edge(&mut self, parent: Id, child: Id) -> bool {
        if !self.room() {
            return false;
        }
        if parent != child {
            self.edges.push((parent, child));
        }
        true
    }

    /// Records a vulnerability fact (a later one on the same pair wins); `false` once the
    /// bound is reached.
    fn vuln(&mut self, vuln_id: &str, node: Id, status: VulnStatus) -> bool {
        if !self.room() {
            return false;
        }
        let pair = (vuln_id.to_owned(), node);
        if let Some(&i) = self.vuln_index.get(&pair) {
            if let Some(fact) = self.vulns.get_mut(i) {
                fact.2 = status;
            }
        } else {
            self.vuln_index.insert(pair, self.vulns.len());
            self.vulns.push((vuln_id.to_owned(), node, status));
        }
        true
    }

    /// The content cannot be indexed (what was collected so far stays).
    fn fail(&mut self, reason: impl Into<String>) {
        if self.fatal.is_none() {
            self.fatal = Some(reason.into());
        }
    }

    /// One malformed entry was skipped.
    fn skip(&mut self, reason: impl Into<String>) {
        self.skipped += 1;
        if self.first_skip.is_none() {
            self.first_skip = Some(reason.into());
        }
    }

    /// `v[key]` as a list: absent or null is empty; anything else but a list is skipped.
    fn list<'v>(&mut self, v: &'v Value, key: &str) -> &'v [Value] {
        match v.get(key) {
            None | Some(Value::Null) => &[],
            Some(Value::Array(items)) => items,
            Some(_) => {
                self.skip(format!("`{key}` is not a list"));
                &[]
            }
        }
    }

    /// Places the subjects as they are.
    fn subjects(&mut self) -> Vec<Id> {
        if let Some(ids) = &self.subject_ids {
            return ids.clone();
        }
        let pending = std::mem::take(&mut self.pending_subjects);
        let mut ids: Vec<Id> = pending.into_iter().map(|n| self.add(n)).collect();
        dedup_in_order(&mut ids);
        self.subject_ids = Some(ids.clone());
        ids
    }

    /// Places the artifacts a document describes: each merges into the subject it is (same
    /// sha256; or the only subject, for the only root, when nothing contradicts it), else
    /// becomes a node below every subject. Returns, per root, the node standing for it.
    fn attach_roots(&mut self, roots: Vec<Node>) -> Vec<Id> {
        let mut subjects = std::mem::take(&mut self.pending_subjects);
        if self.subject_ids.is_some() {
            subjects.clear();
        }
        let only_one = subjects.len() == 1 && roots.len() == 1;
        // Subjects with the same sha256 are one node: the first stands for them.
        let mut by_sha: HashMap<&str, usize> = HashMap::new();
        for (i, s) in subjects.iter().enumerate() {
            if let Some(sha) = &s.sha256 {
                by_sha.entry(sha).or_insert(i);
            }
        }
        let placements: Vec<Option<usize>> = roots
            .iter()
            .map(|r| {
                if let Some(&i) = r.sha256.as_deref().and_then(|sha| by_sha.get(sha)) {
                    Some(i)
                } else if only_one && subjects.first().is_some_and(|s| s.may_be(r)) {
                    Some(0)
                } else {
                    None
                }
            })
            .collect();
        drop(by_sha);
        for (r, placed) in roots.iter().zip(&placements) {
            if let Some(s) = placed.and_then(|i| subjects.get_mut(i)) {
                s.fill_from(r);
                if let Some(k) = s.computed_key() {
                    s.key = k;
                }
            }
        }
        let placed_subjects: Vec<Id> = subjects.into_iter().map(|s| self.add(s)).collect();
        let subject_ids = match &self.subject_ids {
            Some(ids) => ids.clone(),
            None => {
                let mut ids = placed_subjects.clone();
                dedup_in_order(&mut ids);
                self.subject_ids = Some(ids.clone());
                ids
            }
        };
        roots
            .into_iter()
            .zip(placements)
            .map(
                |(r, placed)| match placed.and_then(|i| placed_subjects.get(i)) {
                    Some(&id) => id,
                    None => {
                        let id = self.add(r);
                        for &s in &subject_ids {
                            if !self.edge(s, id) {
                                break;
                            }
                        }
                        id
                    }
                },
            )
            .collect()
    }

    fn finish(mut self, kind: FactKind) -> Facts {
        let subject_ids = self.subjects();
        let subjects = subject_ids
            .iter()
            .filter_map(|&id| self.nodes.get(id))
            .cloned()
            .collect();
        // Sort the nodes by key; `rank[id]` is where node `id` went. Keys are unique, so
        // ordering edges by ranks orders them by keys.
        let mut order: Vec<Id> = (0..self.nodes.len()).collect();
        order.sort_unstable_by(|&a, &b| self.nodes[a].key.cmp(&self.nodes[b].key));
        let mut rank = vec![0; order.len()];
        for (r, &id) in order.iter().enumerate() {
            rank[id] = r;
        }
        let mut slots: Vec<Option<Node>> = self.nodes.into_iter().map(Some).collect();
        let nodes: Vec<Node> = order
            .iter()
            .filter_map(|&id| slots.get_mut(id).and_then(Option::take))
            .collect();
        let mut ranked: Vec<(usize, usize)> = self
            .edges
            .iter()
            .map(|&(p, c)| (rank[p], rank[c]))
            .collect();
        ranked.sort_unstable();
        ranked.dedup();
        let edges = ranked
            .into_iter()
            .map(|(p, c)| Edge {
                parent: nodes[p].key.clone(),
                child: nodes[c].key.clone(),
            })
            .collect();
        let mut vulns: Vec<VulnFact> = self
            .vulns
            .into_iter()
            .map(|(vuln_id, id, status)| VulnFact {
                vuln_id,
                node: nodes[rank[id]].key.clone(),
                status,
            })
            .collect();
        vulns.sort_unstable_by(|a, b| (&a.vuln_id, &a.node).cmp(&(&b.vuln_id, &b.node)));
        let unparsed = self.fatal.or_else(|| {
            self.first_skip.map(|first| match self.skipped {
                1 => format!("one malformed entry skipped: {first}"),
                n => format!("{n} malformed entries skipped; the first: {first}"),
            })
        });
        Facts {
            kind,
            subjects,
            nodes,
            edges,
            vulns,
            unparsed,
        }
    }
}

fn dedup_in_order(ids: &mut Vec<Id>) {
    let mut seen = HashSet::new();
    ids.retain(|&id| seen.insert(id));
}

/// A non-empty string field.
fn text<'v>(v: &'v Value, key: &str) -> Option<&'v str> {
    v.get(key)?.as_str().filter(|s| !s.is_empty())
}

/// A string or a list of strings (JSON-LD allows both).
fn texts(v: Option<&Value>) -> Vec<&str> {
    match v {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

// ---------------------------------------------------------------------------------------
// Wrappers and dispatch

/// How a payload is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    CycloneDx,
    /// SPDX 2.3 or 3, told apart by the JSON.
    Spdx,
    InTotoVulns,
    Osv,
    OpenVex,
    EndOfLife,
    /// An in-toto Statement in a COSE payload.
    InToto,
    /// An SBOMit document (its identity is its document digest, which SITs reference).
    SbomitDocument,
    /// in-toto link metadata (classic `{signed, signatures}`, or a DSSE payload).
    Link,
    /// Plain JSON: look at it.
    Sniff,
    /// Known, but not in a form indexed here (CycloneDX XML, SPDX tag-value).
    Unreadable(FactKind, &'static str),
    Other,
}

impl Format {
    fn kind(self) -> FactKind {
        match self {
            Format::CycloneDx | Format::Spdx => FactKind::Sbom,
            Format::InTotoVulns | Format::Osv => FactKind::Vulnerabilities,
            Format::OpenVex => FactKind::Vex,
            Format::EndOfLife => FactKind::EndOfLife,
            Format::Unreadable(kind, _) => kind,
            Format::InToto
            | Format::SbomitDocument
            | Format::Link
            | Format::Sniff
            | Format::Other => FactKind::Other,
        }
    }
}

fn is_end_of_life(t: &str) -> bool {
    let t = t.to_ascii_lowercase();
    ["end-of-life", "endoflife", "eol", "lifecycle"]
        .iter()
        .any(|w| t.contains(w))
}

fn format_of_predicate_type(t: &str) -> Format {
    if t.starts_with("https://cyclonedx.org/bom") {
        Format::CycloneDx
    } else if t.starts_with("https://spdx.dev/Document") {
        Format::Spdx
    } else if t.starts_with("https://in-toto.io/attestation/vulns")
        || t.starts_with("https://cosign.sigstore.dev/attestation/vuln")
    {
        Format::InTotoVulns
    } else if t.starts_with("https://ossf.github.io/osv-schema") {
        Format::Osv
    } else if t.starts_with("https://openvex.dev/ns") {
        Format::OpenVex
    } else if is_end_of_life(t) {
        Format::EndOfLife
    } else {
        Format::Other
    }
}

/// The media type under which SBOMit documents are registered as evidence.
pub const SBOMIT_DOCUMENT_CONTENT_TYPE: &str = "application/vnd.sbomit.document+json";
/// The media type under which in-toto links (classic or DSSE) are registered as evidence.
pub const INTOTO_LINK_CONTENT_TYPE: &str = "application/vnd.in-toto.link+json";

/// An SBOMit document: one node, keyed by the document digest (the sha256 of its canonical
/// JSON, which SITs name in `sbomit:document:sha256`), below the statement's subjects.
fn sbomit_document(b: &mut Builder, v: &Value) -> FactKind {
    let doc = match crate::document::Document::from_value(v) {
        Ok(d) => d,
        Err(e) => {
            b.fail(format!("not an SBOMit document: {e}"));
            return FactKind::Other;
        }
    };
    let digest = match doc.digest() {
        Ok(d) => d.to_hex(),
        Err(e) => {
            b.fail(format!("the SBOMit document has no digest: {e}"));
            return FactKind::Other;
        }
    };
    let name = doc
        .supplement()
        .name
        .clone()
        .unwrap_or_else(|| "sbomit document".to_owned());
    let Some(node) = Node::new(
        None,
        Some(&format!("sbomit-document:{name}")),
        None,
        Some(&digest),
    ) else {
        return FactKind::Other;
    };
    // The statement is about the document (a COSE `sub` naming the product merges into it,
    // as an SBOM's root merges into its subject), so the Store finds it by its digest.
    let Some(&id) = b.attach_roots(vec![node]).first() else {
        return FactKind::Other;
    };
    // A SIT names the version it was generated from, which later addenda (a generator's
    // link) leave behind: each earlier version is a node of its own (a bounded number).
    for n in (0..doc.addenda().len()).rev().take(64) {
        if let Some(d) = doc.version(n).and_then(|v| v.digest().ok()) {
            let label = format!("sbomit-document:{name} (version {n})");
            if let Some(node) = Node::new(None, Some(&label), None, Some(&d.to_hex())) {
                let v = b.add(node);
                b.edge(id, v);
            }
        }
    }
    FactKind::Other
}

/// An in-toto link: every material and product with a sha256, named by its path.
fn link(b: &mut Builder, v: &Value) -> FactKind {
    let signed = v.get("signed").unwrap_or(v);
    for field in ["materials", "products"] {
        let Some(Value::Object(artifacts)) = signed.get(field) else {
            continue;
        };
        for (path, digests) in artifacts {
            let sha = digests.get("sha256").and_then(Value::as_str);
            if let Some(node) = Node::new(None, Some(path), None, sha) {
                b.add(node);
            }
        }
    }
    FactKind::Other
}

/// A SIT's `sbomit:document:sha256`: the document it was derived from, as a node, so that
/// the Store finds the SITs of a document and the document of a SIT by its digest.
fn sit_document(b: &mut Builder, v: &Value) {
    if let Some(d) = crate::sit::received::document_digest_from_sit(v) {
        if let Some(node) = Node::new(None, Some("sbomit document"), None, Some(&d.to_hex())) {
            b.add(node);
        }
    }
}

fn format_of_content_type(ct: &str) -> Format {
    let media = ct.split(';').next().unwrap_or_default().trim();
    let media = media.to_ascii_lowercase();
    match media.as_str() {
        "application/vnd.cyclonedx+json" => Format::CycloneDx,
        "application/spdx+json" => Format::Spdx,
        "application/openvex+json" | "application/vex+json" => Format::OpenVex,
        "application/vnd.osv+json" | "application/osv+json" => Format::Osv,
        "application/vnd.in-toto+json" => Format::InToto,
        SBOMIT_DOCUMENT_CONTENT_TYPE => Format::SbomitDocument,
        INTOTO_LINK_CONTENT_TYPE => Format::Link,
        "application/json" | "text/json" | "coap-content-format:50" => Format::Sniff,
        m if m.contains("cyclonedx") || m.contains("spdx") => {
            Format::Unreadable(FactKind::Sbom, "only the JSON forms of SBOMs are indexed")
        }
        m if is_end_of_life(m) => Format::EndOfLife,
        _ => Format::Other,
    }
}

/// What plain JSON looks like.
fn sniff(v: &Value) -> Format {
    let context = texts(v.get("@context"));
    if text(v, "bomFormat").is_some_and(|f| f.eq_ignore_ascii_case("CycloneDX")) {
        Format::CycloneDx
    } else if v.get("spdxVersion").is_some()
        || (v.get("@graph").is_some() && context.iter().any(|c| c.contains("spdx")))
    {
        Format::Spdx
    } else if context.iter().any(|c| c.contains("openvex")) {
        Format::OpenVex
    } else if looks_like_osv(v) {
        Format::Osv
    } else if text(v, "_type").is_some_and(is_statement_type) {
        Format::InToto
    } else if text(v, "_type") == Some(crate::document::DOCUMENT_TYPE) {
        Format::SbomitDocument
    } else if text(v, "_type") == Some("link")
        || v.get("signed").and_then(|s| text(s, "_type")) == Some("link")
    {
        Format::Link
    } else {
        Format::Other
    }
}

fn looks_like_osv(v: &Value) -> bool {
    text(v, "id").is_some() && v.get("affected").is_some_and(Value::is_array)
}

/// An in-toto Statement: its subjects, then its predicate by type.
fn in_toto(b: &mut Builder, value: &Value, statement_type: &str) -> FactKind {
    // Read the Statement without its predicate, which is read in place: a whole SBOM is
    // not copied.
    let without_predicate = match value {
        Value::Object(obj) => Statement::from_value(&Value::Object(
            obj.iter()
                .filter(|(k, _)| k.as_str() != "predicate")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        )),
        _ => Statement::from_value(value),
    };
    let predicate = value.get("predicate").unwrap_or(&Value::Null);
    let st = match without_predicate {
        Ok(st) => st,
        Err(e) => {
            b.fail(e.to_string());
            return format_of_predicate_type(statement_type).kind();
        }
    };
    for s in &st.subject {
        let sha = s
            .digest
            .iter()
            .find(|(alg, _)| alg.eq_ignore_ascii_case("sha256"))
            .map(|(_, hex)| hex);
        let purl = is_purl(&s.name).then_some(s.name.as_str());
        b.pending_subjects
            .extend(Node::new(purl, Some(&s.name), None, sha));
    }
    let format = format_of_predicate_type(&st.predicate_type);
    // Some tools embed the document as a JSON string.
    let embedded = match (predicate, format) {
        (Value::String(s), Format::CycloneDx | Format::Spdx | Format::OpenVex | Format::Osv) => {
            serde_json::from_str::<Value>(s).ok()
        }
        _ => None,
    };
    // (A predicate type never names an in-toto Statement or plain JSON: no recursion here.)
    index(b, format, embedded.as_ref().unwrap_or(predicate))
}

fn index(b: &mut Builder, format: Format, v: &Value) -> FactKind {
    match format {
        Format::CycloneDx => {
            sit_document(b, v);
            cyclonedx::cyclonedx(b, v)
        }
        Format::Spdx if v.get("@graph").is_some() => {
            sit_document(b, v);
            spdx::spdx3(b, v)
        }
        Format::Spdx => {
            sit_document(b, v);
            spdx::spdx2(b, v)
        }
        Format::InTotoVulns => vulns::in_toto_vulns(b, v),
        Format::Osv => vulns::osv(b, v),
        Format::OpenVex => vulns::openvex(b, v),
        Format::EndOfLife => FactKind::EndOfLife,
        Format::InToto => in_toto(b, v, ""),
        Format::SbomitDocument => sbomit_document(b, v),
        Format::Link => link(b, v),
        Format::Sniff => match sniff(v) {
            Format::Sniff => FactKind::Other,
            f => index(b, f, v),
        },
        Format::Unreadable(kind, why) => {
            b.fail(why);
            kind
        }
        Format::Other if looks_like_osv(v) => vulns::osv(b, v),
        Format::Other => FactKind::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::time::Instant;

    fn node(key: &str) -> Node {
        Node {
            key: key.into(),
            purl: None,
            name: None,
            version: None,
            sha256: None,
        }
    }

    #[test]
    fn keys_prefer_the_strongest_identifier() {
        let sha = "AB".repeat(32);
        let n = Node::new(Some("pkg:cargo/a@1"), Some("a"), Some("1"), Some(&sha)).unwrap();
        assert_eq!(n.key, format!("sha256:{}", "ab".repeat(32)));
        assert_eq!(n.sha256.as_deref(), Some("ab".repeat(32).as_str()));
        let n = Node::new(Some("pkg:cargo/a@1?x=y"), Some("a"), None, Some("short")).unwrap();
        assert_eq!(n.key, "purl:pkg:cargo/a@1?x=y");
        assert_eq!(n.sha256, None);
        assert_eq!(
            Node::new(None, Some("a"), Some("1"), None).unwrap().key,
            "name:a@1"
        );
        assert_eq!(
            Node::new(None, Some("a"), None, None).unwrap().key,
            "name:a"
        );
        assert_eq!(Node::new(Some(""), Some(""), Some("1"), None), None);
    }

    #[test]
    fn identifiers() {
        let hex = "0f".repeat(32);
        assert_eq!(
            Node::from_identifier(&format!("sha256:{hex}")).unwrap().key,
            format!("sha256:{hex}")
        );
        let n = Node::from_identifier("pkg:npm/a@1").unwrap();
        assert_eq!(
            (n.key.as_str(), n.purl.as_deref()),
            ("purl:pkg:npm/a@1", Some("pkg:npm/a@1"))
        );
        assert_eq!(
            Node::from_identifier("sha256:xyz").unwrap().key,
            "name:sha256:xyz"
        );
        assert_eq!(Node::from_identifier("demo").unwrap().key, "name:demo");
        assert_eq!(Node::from_identifier(""), None);
    }

    #[test]
    fn purl_base_strips_version_qualifiers_and_subpath() {
        for (purl, base) in [
            ("pkg:cargo/serde@1.0.210", "pkg:cargo/serde"),
            ("pkg:npm/@angular/core@16.0.0", "pkg:npm/@angular/core"),
            (
                "pkg:npm/%40angular/core@16.0.0?x=1#a/b",
                "pkg:npm/%40angular/core",
            ),
            ("pkg:maven/org.a/b@1?type=jar", "pkg:maven/org.a/b"),
            (
                "pkg:golang/github.com/a/b#sub@x",
                "pkg:golang/github.com/a/b",
            ),
            ("pkg:deb/debian/curl", "pkg:deb/debian/curl"),
            ("pkg:generic/x@", "pkg:generic/x"),
            ("", ""),
        ] {
            let n = Node {
                purl: Some(purl.into()),
                ..node("k")
            };
            assert_eq!(n.purl_base().as_deref(), Some(base), "{purl}");
        }
        assert_eq!(node("k").purl_base(), None);
    }

    #[test]
    fn statuses_round_trip() {
        for s in VulnStatus::ALL {
            assert_eq!(VulnStatus::parse(s.name()), Some(s));
        }
        assert_eq!(
            VulnStatus::parse("Not-Affected"),
            Some(VulnStatus::NotAffected)
        );
        assert_eq!(VulnStatus::parse("exploitable"), None);
    }

    #[test]
    fn builder_merges_nodes_and_drops_self_edges() {
        let mut b = Builder::default();
        let k = b.add(Node::new(Some("pkg:a/b@1"), None, None, None).unwrap());
        assert_eq!(
            b.add(Node::new(Some("pkg:a/b@1"), Some("b"), Some("1"), None).unwrap()),
            k
        );
        b.edge(k, k);
        b.vuln("V", k, VulnStatus::Affected);
        b.vuln("V", k, VulnStatus::Fixed);
        let f = b.finish(FactKind::Other);
        assert_eq!(f.nodes.len(), 1);
        assert_eq!(f.nodes[0].name.as_deref(), Some("b"));
        assert!(f.edges.is_empty());
        assert_eq!(f.vulns.len(), 1);
        assert_eq!(f.vulns[0].status, VulnStatus::Fixed);
    }

    #[test]
    fn facts_are_bounded() {
        let mut b = Builder::default();
        let a = b.add(Node::from_identifier("a").unwrap());
        let c = b.add(Node::from_identifier("c").unwrap());
        for _ in 0..MAX_FACTS + 10 {
            b.edge(a, c);
        }
        b.vuln("V", a, VulnStatus::Affected);
        assert_eq!(b.edges.len(), MAX_FACTS);
        let f = b.finish(FactKind::Sbom);
        assert_eq!(f.edges.len(), 1);
        assert!(f.vulns.is_empty());
        assert!(f.unparsed.unwrap().starts_with("more than 2000000 edges"));
    }

    fn big_bom(n: usize) -> Value {
        // Groups of 10 top-level libraries, each with a nested component (n in all).
        let components: Vec<Value> = (0..n / 2)
            .map(|i| {
                json!({
                    "bom-ref": format!("c{i}"),
                    "name": format!("lib{i}"),
                    "version": "1.0.0",
                    "purl": format!("pkg:cargo/lib{i}@1.0.0"),
                    "hashes": [{"alg": "SHA-256", "content": format!("{i:064x}")}],
                    "components": [{"name": format!("inner{i}"), "version": "1"}],
                })
            })
            .collect();
        let dependencies: Vec<Value> = (1..n / 2)
            .map(|i| json!({"ref": format!("c{i}"), "dependsOn": [format!("c{}", i - 1)]}))
            .collect();
        json!({
            "bomFormat": "CycloneDX",
            "specVersion": "1.6",
            "metadata": {"component": {"bom-ref": "root", "name": "app", "version": "2"}},
            "components": components,
            "dependencies": dependencies,
        })
    }

    #[test]
    fn large_sbom_is_linear() {
        let n = if cfg!(debug_assertions) {
            20_000
        } else {
            100_000
        };
        let bom = big_bom(n);
        let start = Instant::now();
        let mut b = Builder::default();
        let kind = index(&mut b, Format::CycloneDx, &bom);
        let facts = b.finish(kind);
        let took = start.elapsed();
        assert_eq!(facts.kind, FactKind::Sbom);
        assert_eq!(facts.unparsed, None);
        assert_eq!(facts.nodes.len(), n + 1);
        // root → top level, top level → nested, and the dependency chain.
        assert_eq!(facts.edges.len(), n / 2 + n / 2 + (n / 2 - 1));
        // Without subjects the described component is the root.
        assert!(facts.subjects.is_empty());
        assert_eq!(
            facts
                .edges
                .iter()
                .filter(|e| e.parent == "name:app@2")
                .count(),
            n / 2
        );
        // No time bound here (timings belong in benchmarks); the counts above would not
        // change if the work went quadratic, the printed time would.
        eprintln!("{n} components: {took:?}");
    }

    #[test]
    fn violations_name_a_dangling_edge_a_self_edge_and_duplicates() {
        let a = Node::from_identifier("pkg:npm/a@1").unwrap();
        let mut f = Facts {
            kind: FactKind::Sbom,
            subjects: vec![a.clone()],
            nodes: vec![a.clone()],
            edges: Vec::new(),
            vulns: Vec::new(),
            unparsed: None,
        };
        assert_eq!(f.violations(), Vec::<String>::new());
        let edge = |p: &str, c: &str| Edge {
            parent: p.to_owned(),
            child: c.to_owned(),
        };
        f.edges = vec![
            edge(&a.key, "purl:pkg:npm/b@1"),
            edge(&a.key, &a.key),
            edge(&a.key, &a.key),
        ];
        f.nodes.push(a.clone());
        let v = f.violations();
        assert!(
            v.contains(&"nodes are not deduplicated".to_owned()),
            "{v:?}"
        );
        assert!(
            v.contains(&"edges are not deduplicated".to_owned()),
            "{v:?}"
        );
        assert!(
            v.iter().any(|m| m.contains("joins an unknown node")),
            "{v:?}"
        );
        assert!(v.iter().any(|m| m.contains("is a self-edge")), "{v:?}");
    }
}
