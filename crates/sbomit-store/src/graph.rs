//! Graph facts from one registered statement (issue #5): the subjects it is about, the SBOM
//! component edges it states (artifact → component, nesting preserved) and the
//! vulnerability and VEX facts it asserts. The Store indexes these facts and answers "what is
//! inside X", "which artifacts contain Y" and "which artifacts are affected by V" with
//! recursive queries over them.
//!
//! ### Pure
//! Bytes in, [`Facts`] out: no IO, no database and no signature check (a statement is admitted
//! before it is indexed). [`extract`] never panics: content it cannot read gives
//! [`Facts::unparsed`], with whatever could be read (at least the subjects) still filled in.
//!
//! ### Nodes
//! A [`Node`] is keyed by its strongest identifier: `sha256:<hex>`, else `purl:<purl>`, else
//! `name:<name>@<version>`. The same key in two statements is the same node, which is what
//! makes containment transitive across SBOMs. Edges from a node to itself are dropped.
//!
//! ### Formats
//! * CycloneDX JSON: `metadata.component` (the artifact the BOM describes), `components[]`
//!   nested to any depth, `dependencies[]`, `vulnerabilities[]` (VEX inside a BOM).
//! * SPDX 2.3 JSON: packages and files, `documentDescribes`, `hasFiles`, relationships
//!   (contains, depends on, links, generated from, and their reverses).
//! * SPDX 3 JSON-LD: packages and files, `rootElement`, relationships (`contains`,
//!   `dependsOn`, links, `generates`; a Build's outputs are made of its inputs).
//! * OpenVEX, OSV records, in-toto vulns v0.1 and cosign vuln v1 scan results.
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

use sbomit_intoto::envelope::Envelope;
use sbomit_intoto::statement::{is_statement_type, Statement};
use sbomit_scitt::cose::{ContentType, SignedStatement};

use crate::admission::EntryKind;

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

/// The graph facts of a registered statement: `statement` as stored, `statement_type` its
/// predicate type (DSSE) or content type (COSE), used when the statement itself cannot be read
/// (the types the statement states win otherwise). Never panics, whatever the bytes.
pub fn extract(kind: EntryKind, statement_type: &str, statement: &[u8]) -> Facts {
    let mut b = Builder::default();
    let kind = match kind {
        EntryKind::Dsse => dsse(&mut b, statement_type, statement),
        EntryKind::Cose => cose(&mut b, statement_type, statement),
    };
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
            Format::InToto | Format::Sniff | Format::Other => FactKind::Other,
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

fn format_of_content_type(ct: &str) -> Format {
    let media = ct.split(';').next().unwrap_or_default().trim();
    let media = media.to_ascii_lowercase();
    match media.as_str() {
        "application/vnd.cyclonedx+json" => Format::CycloneDx,
        "application/spdx+json" => Format::Spdx,
        "application/openvex+json" | "application/vex+json" => Format::OpenVex,
        "application/vnd.osv+json" | "application/osv+json" => Format::Osv,
        "application/vnd.in-toto+json" => Format::InToto,
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
    } else {
        Format::Other
    }
}

fn looks_like_osv(v: &Value) -> bool {
    text(v, "id").is_some() && v.get("affected").is_some_and(Value::is_array)
}

fn dsse(b: &mut Builder, statement_type: &str, bytes: &[u8]) -> FactKind {
    match Envelope::parse(bytes) {
        Ok(env) => in_toto(b, env.payload(), statement_type),
        Err(e) => {
            b.fail(format!("not a DSSE envelope: {e}"));
            format_of_predicate_type(statement_type).kind()
        }
    }
}

fn cose(b: &mut Builder, statement_type: &str, bytes: &[u8]) -> FactKind {
    let st = match SignedStatement::parse(bytes) {
        Ok(st) => st,
        Err(e) => {
            b.fail(format!("not a COSE Signed Statement: {e}"));
            return format_of_content_type(statement_type).kind();
        }
    };
    b.pending_subjects.extend(Node::from_identifier(st.sub()));
    let content_type = match st.content_type() {
        Some(ContentType::Text(t)) => t.clone(),
        Some(ContentType::CoapFormat(n)) => format!("coap-content-format:{n}"),
        None => statement_type.to_owned(),
    };
    let format = format_of_content_type(&content_type);
    if matches!(
        format,
        Format::Other | Format::EndOfLife | Format::Unreadable(..)
    ) {
        return index(b, format, &Value::Null);
    }
    let Some(payload) = st.payload() else {
        b.fail("the payload is detached");
        return format.kind();
    };
    match serde_json::from_slice::<Value>(payload) {
        Ok(value) => index(b, format, &value),
        Err(e) => {
            b.fail(format!("the {content_type} payload is not JSON: {e}"));
            format.kind()
        }
    }
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
        Format::CycloneDx => cyclonedx(b, v),
        Format::Spdx if v.get("@graph").is_some() => spdx3(b, v),
        Format::Spdx => spdx2(b, v),
        Format::InTotoVulns => in_toto_vulns(b, v),
        Format::Osv => osv(b, v),
        Format::OpenVex => openvex(b, v),
        Format::EndOfLife => FactKind::EndOfLife,
        Format::InToto => in_toto(b, v, ""),
        Format::Sniff => match sniff(v) {
            Format::Sniff => FactKind::Other,
            f => index(b, f, v),
        },
        Format::Unreadable(kind, why) => {
            b.fail(why);
            kind
        }
        Format::Other if looks_like_osv(v) => osv(b, v),
        Format::Other => FactKind::Other,
    }
}

// ---------------------------------------------------------------------------------------
// CycloneDX

fn cyclonedx(b: &mut Builder, bom: &Value) -> FactKind {
    if !bom.is_object() {
        b.fail("the CycloneDX BOM is not a JSON object");
        return FactKind::Sbom;
    }
    // bom-ref → node.
    let mut refs: HashMap<&str, Id> = HashMap::new();
    let root = bom
        .get("metadata")
        .and_then(|m| m.get("component"))
        .filter(|c| c.is_object());
    let roots = match root.and_then(cdx_node) {
        Some(node) => b.attach_roots(vec![node]),
        None => b.subjects(),
    };
    if let (Some(c), Some(&first)) = (root, roots.first()) {
        if let Some(r) = text(c, "bom-ref") {
            refs.insert(r, first);
        }
    }

    // Depth-first, without recursion: (the nearest identified ancestor, or the roots).
    let top = b.list(bom, "components");
    let under_root = match root {
        Some(c) => b.list(c, "components"),
        None => &[],
    };
    let mut components = top.len();
    let mut stack: Vec<(Option<Id>, &Value)> =
        top.iter().chain(under_root).map(|c| (None, c)).collect();
    while let Some((parent, c)) = stack.pop() {
        if !c.is_object() {
            b.skip("a component is not an object");
            continue;
        }
        let here = match cdx_node(c) {
            Some(node) => {
                let id = b.add(node);
                match parent {
                    Some(p) => {
                        b.edge(p, id);
                    }
                    None => {
                        for &r in &roots {
                            if !b.edge(r, id) {
                                break;
                            }
                        }
                    }
                }
                if let Some(r) = text(c, "bom-ref") {
                    refs.entry(r).or_insert(id);
                }
                Some(id)
            }
            None => {
                b.skip("a component has no name, purl or sha256");
                parent
            }
        };
        let nested = b.list(c, "components");
        components += nested.len();
        stack.extend(nested.iter().map(|n| (here, n)));
    }

    for d in b.list(bom, "dependencies") {
        // Refs to components this BOM does not list (other BOMs) are not edges here.
        let Some(&from) = text(d, "ref").and_then(|r| refs.get(r)) else {
            continue;
        };
        for to in b.list(d, "dependsOn") {
            if let Some(&to) = to.as_str().and_then(|r| refs.get(r)) {
                if !b.edge(from, to) {
                    break;
                }
            }
        }
    }

    let vulnerabilities = b.list(bom, "vulnerabilities");
    for v in vulnerabilities {
        let Some(id) = text(v, "id") else {
            b.skip("a vulnerability has no id");
            continue;
        };
        let status = match v.get("analysis").and_then(|a| text(a, "state")) {
            Some("not_affected" | "false_positive") => VulnStatus::NotAffected,
            Some("resolved" | "resolved_with_pedigree") => VulnStatus::Fixed,
            Some("in_triage") => VulnStatus::UnderInvestigation,
            // `exploitable`, no analysis, or a state this code does not know: do not hide it.
            _ => VulnStatus::Affected,
        };
        for a in b.list(v, "affects") {
            let Some(r) = text(a, "ref") else {
                continue;
            };
            if let Some(node) = cdx_ref(b, &refs, r) {
                b.vuln(id, node, status);
            }
        }
    }

    if components == 0 && !vulnerabilities.is_empty() {
        FactKind::Vex
    } else {
        FactKind::Sbom
    }
}

/// A component: purl, name, version, the first valid SHA-256 of `hashes[]`.
fn cdx_node(c: &Value) -> Option<Node> {
    let sha = c
        .get("hashes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|h| {
            text(h, "alg").is_some_and(|a| a.eq_ignore_ascii_case("SHA-256") || a == "SHA256")
        })
        .find_map(|h| text(h, "content").and_then(normalize_sha256));
    Node::new(
        text(c, "purl"),
        text(c, "name"),
        text(c, "version"),
        sha.as_deref(),
    )
}

/// A vulnerability's `affects[].ref`: a bom-ref here, a BOM-Link (`urn:cdx:…#bom-ref`) whose
/// fragment is one, or a purl.
fn cdx_ref(b: &mut Builder, refs: &HashMap<&str, Id>, r: &str) -> Option<Id> {
    if let Some(&id) = refs.get(r) {
        return Some(id);
    }
    let fragment = r.rsplit_once('#').map_or(r, |(_, f)| f);
    if let Some(&id) = refs.get(fragment) {
        return Some(id);
    }
    let node = is_purl(fragment).then(|| Node::new(Some(fragment), None, None, None))??;
    Some(b.add(node))
}

// ---------------------------------------------------------------------------------------
// SPDX

/// Elements by SPDX id, in document order (first definition wins).
#[derive(Default)]
struct Elements<'v> {
    order: Vec<(&'v str, Node)>,
    by_id: HashMap<&'v str, usize>,
}

impl<'v> Elements<'v> {
    fn insert(&mut self, id: &'v str, node: Node) {
        if !self.by_id.contains_key(id) {
            self.by_id.insert(id, self.order.len());
            self.order.push((id, node));
        }
    }

    /// Places every element (the described ones first, in the order the document describes
    /// them, see [`Builder::attach_roots`]); returns the node standing for each SPDX id.
    fn place(self, b: &mut Builder, described: &[&'v str]) -> HashMap<&'v str, Id> {
        let Elements { order, by_id } = self;
        let mut slots: Vec<Option<(&'v str, Node)>> = order.into_iter().map(Some).collect();
        let mut root_ids = Vec::new();
        let mut root_nodes = Vec::new();
        for id in described {
            // Taking the element out of its slot also skips repeated descriptions.
            if let Some((id, node)) = by_id
                .get(id)
                .and_then(|&i| slots.get_mut(i))
                .and_then(Option::take)
            {
                root_ids.push(id);
                root_nodes.push(node);
            }
        }
        let mut keys: HashMap<&str, Id> = HashMap::with_capacity(slots.len());
        if root_nodes.is_empty() {
            b.subjects();
        } else {
            keys.extend(root_ids.into_iter().zip(b.attach_roots(root_nodes)));
        }
        for (id, node) in slots.into_iter().flatten() {
            keys.insert(id, b.add(node));
        }
        keys
    }
}

/// An edge between two SPDX ids (none when either is not an element here); `false` once the
/// bound is reached, which an unresolved link counts towards too.
fn link(b: &mut Builder, keys: &HashMap<&str, Id>, parent: &str, child: &str) -> bool {
    match (keys.get(parent), keys.get(child)) {
        (Some(&p), Some(&c)) => b.edge(p, c),
        _ => b.room(),
    }
}

fn spdx2(b: &mut Builder, doc: &Value) -> FactKind {
    if !doc.is_object() {
        b.fail("the SPDX document is not a JSON object");
        return FactKind::Sbom;
    }
    let doc_id = text(doc, "SPDXID").unwrap_or("SPDXRef-DOCUMENT");
    let mut elements = Elements::default();
    let mut has_files: Vec<(&str, &str)> = Vec::new();
    for (list, name_field) in [("packages", "name"), ("files", "fileName")] {
        for e in b.list(doc, list) {
            let Some(id) = text(e, "SPDXID") else {
                b.skip(format!("an element of `{list}` has no SPDXID"));
                continue;
            };
            has_files.extend(texts(e.get("hasFiles")).into_iter().map(|f| (id, f)));
            let purl = e
                .get("externalRefs")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter(|r| text(r, "referenceType") == Some("purl"))
                .find_map(|r| text(r, "referenceLocator"));
            let sha = e
                .get("checksums")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter(|c| text(c, "algorithm").is_some_and(|a| a.eq_ignore_ascii_case("SHA256")))
                .find_map(|c| text(c, "checksumValue").and_then(normalize_sha256));
            match Node::new(
                purl,
                text(e, name_field),
                text(e, "versionInfo"),
                sha.as_deref(),
            ) {
                Some(node) => elements.insert(id, node),
                None => b.skip(format!("{id} has no name, purl or sha256")),
            }
        }
    }

    let relationships = b.list(doc, "relationships");
    let mut described: Vec<&str> = texts(doc.get("documentDescribes"));
    for r in relationships {
        match (
            text(r, "spdxElementId"),
            text(r, "relationshipType"),
            text(r, "relatedSpdxElement"),
        ) {
            (Some(a), Some("DESCRIBES"), Some(x)) if a == doc_id => described.push(x),
            (Some(x), Some("DESCRIBED_BY"), Some(a)) if a == doc_id => described.push(x),
            _ => {}
        }
    }
    let keys = elements.place(b, &described);

    for (package, file) in has_files {
        link(b, &keys, package, file);
    }
    for r in relationships {
        let (Some(a), Some(t), Some(x)) = (
            text(r, "spdxElementId"),
            text(r, "relationshipType"),
            text(r, "relatedSpdxElement"),
        ) else {
            if !r.is_object() {
                b.skip("a relationship is not an object");
            }
            continue;
        };
        // What an artifact is made of: its contents, its dependencies, and what it was
        // generated from (SBOMit SITs record the supply chain's materials that way).
        match t {
            "CONTAINS" | "DEPENDS_ON" | "STATIC_LINK" | "DYNAMIC_LINK" | "GENERATED_FROM" => {
                link(b, &keys, a, x);
            }
            "CONTAINED_BY" | "DEPENDENCY_OF" | "RUNTIME_DEPENDENCY_OF" | "GENERATES" => {
                link(b, &keys, x, a);
            }
            _ => {}
        }
    }
    FactKind::Sbom
}

/// The local name of an SPDX 3 type or vocabulary IRI (`software_Package` → `Package`,
/// `…/RelationshipType/contains` → `contains`).
fn local_name(s: &str) -> &str {
    s.rsplit(['/', '#', ':', '_']).next().unwrap_or(s)
}

fn spdx3(b: &mut Builder, doc: &Value) -> FactKind {
    let graph = match doc.get("@graph") {
        Some(Value::Array(items)) => items,
        _ => {
            b.fail("the SPDX 3 `@graph` is not a list");
            return FactKind::Sbom;
        }
    };
    let mut elements = Elements::default();
    let mut described: Vec<&str> = Vec::new();
    let mut relationships: Vec<(&str, &str, Vec<&str>)> = Vec::new();
    for e in graph {
        if !e.is_object() {
            b.skip("an element of `@graph` is not an object");
            continue;
        }
        let ty = text(e, "type")
            .or_else(|| text(e, "@type"))
            .unwrap_or_default();
        let id = text(e, "spdxId").or_else(|| text(e, "@id"));
        described.extend(texts(e.get("rootElement")));
        match (local_name(ty), id) {
            ("Package" | "File", Some(id)) => {
                let purl = text(e, "software_packageUrl")
                    .or_else(|| text(e, "packageUrl"))
                    .or_else(|| {
                        e.get("externalIdentifier")
                            .and_then(Value::as_array)
                            .into_iter()
                            .flatten()
                            .filter(|x| text(x, "externalIdentifierType") == Some("packageUrl"))
                            .find_map(|x| text(x, "identifier"))
                    });
                let version =
                    text(e, "software_packageVersion").or_else(|| text(e, "packageVersion"));
                let sha = e
                    .get("verifiedUsing")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter(|h| {
                        text(h, "algorithm").is_some_and(|a| {
                            let a = local_name(a);
                            a.eq_ignore_ascii_case("sha256") || a.eq_ignore_ascii_case("sha-256")
                        })
                    })
                    .find_map(|h| text(h, "hashValue").and_then(normalize_sha256));
                match Node::new(purl, text(e, "name"), version, sha.as_deref()) {
                    Some(node) => elements.insert(id, node),
                    None => b.skip(format!("{id} has no name, purl or sha256")),
                }
            }
            ("Relationship" | "LifecycleScopedRelationship", _) => {
                let (Some(from), Some(t)) = (text(e, "from"), text(e, "relationshipType")) else {
                    b.skip("a relationship has no `from` or `relationshipType`");
                    continue;
                };
                let t = local_name(t);
                let to = texts(e.get("to"));
                if t == "describes" {
                    described.extend(to.iter().copied());
                }
                relationships.push((from, t, to));
            }
            ("Package" | "File", None) => b.skip(format!("a {ty} has no spdxId")),
            _ => {}
        }
    }
    // `rootElement`s name the described packages directly or through an Sbom; only those
    // that are packages or files are placed as roots.
    let keys = elements.place(b, &described);
    // A build's outputs are made of its inputs (SBOMit SITs record each supply-chain step as
    // a Build with `hasInput` / `hasOutput`).
    let mut builds: HashMap<&str, (Vec<&str>, Vec<&str>)> = HashMap::new();
    for (from, t, to) in relationships {
        match t {
            "contains" | "dependsOn" | "hasStaticLink" | "hasDynamicLink" => {
                for x in to {
                    link(b, &keys, from, x);
                }
            }
            "generates" => {
                for x in to {
                    link(b, &keys, x, from);
                }
            }
            "hasInput" => builds.entry(from).or_default().0.extend(to),
            "hasOutput" => builds.entry(from).or_default().1.extend(to),
            _ => {}
        }
    }
    for (inputs, outputs) in builds.into_values() {
        for output in &outputs {
            for input in &inputs {
                if !link(b, &keys, output, input) {
                    break;
                }
            }
        }
    }
    FactKind::Sbom
}

// ---------------------------------------------------------------------------------------
// Vulnerabilities and VEX

/// in-toto vulns v0.1 (`scanner.result[].id`) and cosign vuln v1 (`scanner.result`, any
/// scanner output: a list of `{id}`, Grype `matches[].vulnerability.id` or Trivy
/// `Results[].Vulnerabilities[].VulnerabilityID`): each finding affects every subject.
fn in_toto_vulns(b: &mut Builder, predicate: &Value) -> FactKind {
    let result = predicate.get("scanner").and_then(|s| s.get("result"));
    let mut ids: Vec<&str> = Vec::new();
    match result {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for r in items {
                match text(r, "id") {
                    Some(id) => ids.push(id),
                    None => b.skip("a scanner result has no id"),
                }
            }
        }
        Some(r @ Value::Object(_)) => {
            for m in b.list(r, "matches") {
                ids.extend(m.get("vulnerability").and_then(|v| text(v, "id")));
            }
            for res in b.list(r, "Results") {
                for v in b.list(res, "Vulnerabilities") {
                    ids.extend(text(v, "VulnerabilityID"));
                }
            }
        }
        Some(_) => b.fail("`scanner.result` is neither a list nor an object"),
    }
    let subjects = b.subjects();
    for id in ids {
        for &s in &subjects {
            if !b.vuln(id, s, VulnStatus::Affected) {
                break;
            }
        }
    }
    FactKind::Vulnerabilities
}

/// The purl type of an OSV ecosystem (`Debian:11` → `deb/debian`).
fn osv_purl(ecosystem: &str, name: &str) -> String {
    let eco = ecosystem.split(':').next().unwrap_or_default().trim();
    let eco = eco.to_ascii_lowercase();
    let (ty, name) = match eco.as_str() {
        "crates.io" => ("cargo".to_owned(), name.to_owned()),
        "go" => ("golang".to_owned(), name.to_owned()),
        "rubygems" => ("gem".to_owned(), name.to_owned()),
        "packagist" => ("composer".to_owned(), name.to_owned()),
        "maven" => ("maven".to_owned(), name.replacen(':', "/", 1)),
        "debian" | "ubuntu" => (format!("deb/{eco}"), name.to_owned()),
        "alpine" => ("apk/alpine".to_owned(), name.to_owned()),
        _ => (eco.replace(' ', "-"), name.to_owned()),
    };
    format!("pkg:{ty}/{name}")
}

/// An OSV record: `id` affects each `affected[].package`.
fn osv(b: &mut Builder, record: &Value) -> FactKind {
    if !record.is_object() {
        b.fail("the OSV record is not a JSON object");
        return FactKind::Vulnerabilities;
    }
    let Some(id) = text(record, "id") else {
        b.fail("the OSV record has no id");
        return FactKind::Vulnerabilities;
    };
    for a in b.list(record, "affected") {
        let Some(package) = a.get("package").filter(|p| p.is_object()) else {
            b.skip("an `affected` entry has no package");
            continue;
        };
        let name = text(package, "name");
        let purl = match (text(package, "purl"), text(package, "ecosystem"), name) {
            (Some(purl), _, _) => purl.to_owned(),
            (None, Some(eco), Some(name)) => osv_purl(eco, name),
            _ => {
                b.skip("an affected package has neither a purl nor an ecosystem and name");
                continue;
            }
        };
        if let Some(node) = Node::new(Some(&purl), name, None, None) {
            let node = b.add(node);
            b.vuln(id, node, VulnStatus::Affected);
        }
    }
    FactKind::Vulnerabilities
}

/// An OpenVEX product: a string identifier, or `{@id, identifiers {purl, …}, hashes}`.
fn vex_product(p: &Value) -> Option<Node> {
    if let Some(s) = p.as_str() {
        return Node::from_identifier(s);
    }
    let id = text(p, "@id");
    let identifiers = p.get("identifiers");
    let hashes = p.get("hashes");
    let sha = ["sha-256", "sha256"]
        .iter()
        .find_map(|alg| hashes.and_then(|h| text(h, alg)))
        .or_else(|| identifiers.and_then(|i| text(i, "sha256")))
        .and_then(normalize_sha256)
        .or_else(|| {
            id.and_then(|i| i.strip_prefix("sha256:"))
                .and_then(normalize_sha256)
        });
    let purl = identifiers
        .and_then(|i| text(i, "purl"))
        .or_else(|| id.filter(|i| is_purl(i)));
    // The @id names the product only when nothing stronger does.
    let name = id.filter(|_| sha.is_none() && purl.is_none());
    Node::new(purl, name, None, sha.as_deref())
}

fn openvex(b: &mut Builder, doc: &Value) -> FactKind {
    if !doc.is_object() {
        b.fail("the OpenVEX document is not a JSON object");
        return FactKind::Vex;
    }
    let subjects = b.subjects();
    for s in b.list(doc, "statements") {
        let vulnerability = s.get("vulnerability");
        let id = match vulnerability {
            Some(Value::String(id)) if !id.is_empty() => Some(id.as_str()),
            Some(v) => text(v, "name").or_else(|| text(v, "@id")),
            None => None,
        };
        let Some(id) = id else {
            b.skip("a VEX statement names no vulnerability");
            continue;
        };
        let Some(status) = text(s, "status").and_then(VulnStatus::parse) else {
            b.skip(format!("the VEX statement on {id} has no known status"));
            continue;
        };
        let products = b.list(s, "products");
        if products.is_empty() {
            // A statement without products is about what the envelope is about.
            for &node in &subjects {
                if !b.vuln(id, node, status) {
                    break;
                }
            }
        }
        for p in products {
            match vex_product(p) {
                Some(node) => {
                    let node = b.add(node);
                    b.vuln(id, node, status);
                }
                None => b.skip(format!("a product of the VEX statement on {id} has no id")),
            }
        }
    }
    FactKind::Vex
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
}
