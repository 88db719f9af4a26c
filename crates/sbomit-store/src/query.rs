//! Graph-aware queries over the index (issue 5): evidence about an artifact, its components
//! (transitively), the artifacts that contain a component, and the artifacts a vulnerability
//! affects after VEX. Walks run breadth-first with one database round trip per level, so a
//! query costs at most `depth + 3` round trips whatever the graph, and every answer names the
//! log indexes of the evidence it used, for receipts.

use std::collections::{BTreeSet, HashMap, HashSet};

use serde::Serialize;

use crate::backend::{Backend, EntryRecord, EvidenceFilter, EvidenceSelector, NodeField};
use crate::graph::{Node, VulnStatus};
use crate::StoreError;

/// The deepest walk a query may ask for.
pub const MAX_DEPTH: u32 = 64;
/// The most results one page may hold.
pub const MAX_PAGE: usize = 10_000;

/// What a query is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// `sha256:<hex>` or bare hex.
    Digest(String),
    /// A purl; one without `@version` also matches every version.
    Purl(String),
    /// A node key as the index stores it.
    Key(String),
    Name(String),
}

impl Target {
    /// Reads `digest=…`, `purl=…`, `key=…` or `name=…`.
    pub fn from_pair(field: &str, value: &str) -> Option<Target> {
        let value = value.trim();
        if value.is_empty() {
            return None;
        }
        match field {
            "digest" => Some(Target::Digest(value.to_owned())),
            "purl" => Some(Target::Purl(value.to_owned())),
            "key" => Some(Target::Key(value.to_owned())),
            "name" => Some(Target::Name(value.to_owned())),
            _ => None,
        }
    }
}

/// A node as answers show it.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct NodeView {
    pub key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purl: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

impl From<Node> for NodeView {
    fn from(n: Node) -> Self {
        NodeView {
            key: n.key,
            purl: n.purl,
            name: n.name,
            version: n.version,
            sha256: n.sha256,
        }
    }
}

/// One node a walk reached.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Reached {
    pub node: NodeView,
    pub depth: u32,
    /// Node keys from the artifact (first) to the component (last).
    pub path: Vec<String>,
    /// Log indexes of the statements whose edges make up the path.
    pub evidence: Vec<u64>,
    /// Whether the node is the subject of some statement (an artifact in its own right).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub artifact: bool,
}

/// The answer of a graph query.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct GraphAnswer {
    /// The node keys the target resolved to.
    pub roots: Vec<String>,
    pub results: Vec<Reached>,
    /// Every log index the answer rests on, ascending.
    pub evidence: Vec<u64>,
    /// Total results before paging.
    pub total: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_offset: Option<usize>,
    /// Database round trips the query took (bounded by depth + 3).
    pub db_round_trips: u32,
}

/// Paging and depth of a walk.
#[derive(Clone, Copy, Debug)]
pub struct Walk {
    pub max_depth: u32,
    pub offset: usize,
    pub limit: usize,
}

impl Default for Walk {
    fn default() -> Self {
        Walk {
            max_depth: 10,
            offset: 0,
            limit: 1000,
        }
    }
}

struct Counted<'a> {
    backend: &'a dyn Backend,
    trips: u32,
}

impl Counted<'_> {
    fn trip(&mut self) -> &dyn Backend {
        self.trips += 1;
        self.backend
    }

    /// The node keys a target names (one round trip; a purl without version two).
    fn resolve(&mut self, target: &Target) -> Result<Vec<String>, StoreError> {
        let mut keys: BTreeSet<String> = BTreeSet::new();
        match target {
            Target::Digest(d) => {
                let hex = d.strip_prefix("sha256:").unwrap_or(d).to_ascii_lowercase();
                // A node with a known sha256 is keyed by it (graph.rs), so no lookup is needed.
                keys.insert(format!("sha256:{hex}"));
            }
            Target::Purl(p) => {
                keys.insert(format!("purl:{p}"));
                keys.extend(self.trip().node_keys(NodeField::Purl, p)?);
                if !purl_has_version(p) {
                    keys.extend(self.trip().node_keys(NodeField::PurlBase, p)?);
                }
            }
            Target::Key(k) => {
                keys.insert(k.clone());
            }
            Target::Name(n) => {
                keys.extend(self.trip().node_keys(NodeField::Name, n)?);
            }
        }
        Ok(keys.into_iter().collect())
    }

    /// Breadth-first from `roots`, down (towards components) or up (towards containers),
    /// never entering `blocked`. Returns the reached nodes in order with their depth, and
    /// each one's predecessor with the entry of the edge.
    #[allow(clippy::type_complexity)]
    fn walk(
        &mut self,
        roots: &[String],
        down: bool,
        max_depth: u32,
        blocked: &HashSet<String>,
    ) -> Result<(Vec<(String, u32)>, HashMap<String, (String, u64)>), StoreError> {
        let mut seen: HashSet<String> = roots.iter().cloned().collect();
        let mut order = Vec::new();
        let mut prev: HashMap<String, (String, u64)> = HashMap::new();
        let mut frontier: Vec<String> = roots.to_vec();
        for depth in 1..=max_depth.min(MAX_DEPTH) {
            if frontier.is_empty() {
                break;
            }
            let mut edges = if down {
                self.trip().edges_from(&frontier)?
            } else {
                self.trip().edges_to(&frontier)?
            };
            // Deterministic answers: the lowest entry (the oldest evidence) wins a tie.
            edges.sort_by(|a, b| (a.2, &a.0, &a.1).cmp(&(b.2, &b.0, &b.1)));
            let mut next = Vec::new();
            for (parent, child, entry) in edges {
                let (from, to) = if down {
                    (parent, child)
                } else {
                    (child, parent)
                };
                if blocked.contains(&to) || !seen.insert(to.clone()) {
                    continue;
                }
                prev.insert(to.clone(), (from, entry));
                order.push((to.clone(), depth));
                next.push(to);
            }
            frontier = next;
        }
        Ok((order, prev))
    }
}

fn purl_has_version(purl: &str) -> bool {
    // The version follows the last '@' of the name part (before '?' and '#'); a namespace
    // may hold an encoded '@' (%40) but never a bare one.
    let name_part = purl.split(['?', '#']).next().unwrap_or(purl);
    name_part
        .rsplit('/')
        .next()
        .is_some_and(|n| n.contains('@'))
}

/// Follows predecessors from `node` back to a root: the path root → … → node, and the
/// entries of its edges.
fn chain(node: &str, prev: &HashMap<String, (String, u64)>) -> (Vec<String>, Vec<u64>) {
    let mut path = vec![node.to_owned()];
    let mut entries = Vec::new();
    let mut at = node;
    while let Some((p, e)) = prev.get(at) {
        path.push(p.clone());
        entries.push(*e);
        at = p;
        if path.len() > MAX_DEPTH as usize + 1 {
            break;
        }
    }
    path.reverse();
    entries.sort_unstable();
    entries.dedup();
    (path, entries)
}

fn page<T>(items: Vec<T>, walk: &Walk) -> (Vec<T>, usize, Option<usize>) {
    let total = items.len();
    let limit = walk.limit.clamp(1, MAX_PAGE);
    let page: Vec<T> = items.into_iter().skip(walk.offset).take(limit).collect();
    let next = (walk.offset + page.len() < total).then_some(walk.offset + page.len());
    (page, total, next)
}

fn views(c: &mut Counted<'_>, keys: &[String]) -> Result<HashMap<String, NodeView>, StoreError> {
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(c.trip()
        .nodes(keys)?
        .into_iter()
        .map(|n| (n.key.clone(), NodeView::from(n)))
        .collect())
}

fn view_or_key(views: &HashMap<String, NodeView>, key: &str) -> NodeView {
    views.get(key).cloned().unwrap_or_else(|| NodeView {
        key: key.to_owned(),
        purl: None,
        name: None,
        version: None,
        sha256: None,
    })
}

/// What is inside `target`, transitively, each with its path from the artifact.
pub fn components(
    backend: &dyn Backend,
    target: &Target,
    walk: &Walk,
) -> Result<GraphAnswer, StoreError> {
    let mut c = Counted { backend, trips: 0 };
    let roots = c.resolve(target)?;
    let (order, prev) = c.walk(&roots, true, walk.max_depth, &HashSet::new())?;
    answer(
        c,
        roots,
        order,
        prev,
        walk,
        BTreeSet::new(),
        Direction::Down,
    )
}

/// Which artifacts contain `target`, transitively; each path runs from the artifact down to
/// the component.
pub fn dependents(
    backend: &dyn Backend,
    target: &Target,
    walk: &Walk,
) -> Result<GraphAnswer, StoreError> {
    let mut c = Counted { backend, trips: 0 };
    let roots = c.resolve(target)?;
    let (order, prev) = c.walk(&roots, false, walk.max_depth, &HashSet::new())?;
    answer(c, roots, order, prev, walk, BTreeSet::new(), Direction::Up)
}

/// Which way a walk went.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    /// From an artifact to its components: every node reached is an answer.
    Down,
    /// From components to what contains them: only artifacts are answers, and paths are
    /// turned to run from the artifact down.
    Up,
}

/// Shapes a walk into a page of answers with paths, evidence and node details.
fn answer(
    mut c: Counted<'_>,
    roots: Vec<String>,
    order: Vec<(String, u32)>,
    prev: HashMap<String, (String, u64)>,
    walk: &Walk,
    mut evidence: BTreeSet<u64>,
    direction: Direction,
) -> Result<GraphAnswer, StoreError> {
    let subjects = |c: &mut Counted<'_>, keys: &[String]| -> Result<HashSet<String>, StoreError> {
        if keys.is_empty() {
            return Ok(HashSet::new());
        }
        Ok(c.trip()
            .subject_entries(keys)?
            .into_iter()
            .map(|(k, _)| k)
            .collect())
    };
    let keys_of =
        |items: &[(String, u32)]| -> Vec<String> { items.iter().map(|(k, _)| k.clone()).collect() };
    // Going up, only artifacts are kept, so they must be known before paging; going down,
    // the page's nodes are enough.
    let (page_items, total, next_offset, artifacts) = match direction {
        Direction::Up => {
            let artifacts = subjects(&mut c, &keys_of(&order))?;
            let kept: Vec<(String, u32)> = order
                .into_iter()
                .filter(|(k, _)| artifacts.contains(k))
                .collect();
            let (items, total, next) = page(kept, walk);
            (items, total, next, artifacts)
        }
        Direction::Down => {
            let (items, total, next) = page(order, walk);
            let artifacts = subjects(&mut c, &keys_of(&items))?;
            (items, total, next, artifacts)
        }
    };
    let views = views(&mut c, &keys_of(&page_items))?;
    let results = page_items
        .into_iter()
        .map(|(key, depth)| {
            let (mut path, entries) = chain(&key, &prev);
            if direction == Direction::Up {
                path.reverse();
            }
            evidence.extend(entries.iter().copied());
            Reached {
                node: view_or_key(&views, &key),
                depth,
                path,
                evidence: entries,
                artifact: artifacts.contains(&key),
            }
        })
        .collect();
    Ok(GraphAnswer {
        roots,
        results,
        evidence: evidence.into_iter().collect(),
        total,
        next_offset,
        db_round_trips: c.trips,
    })
}

/// The artifacts `vuln_id` affects. Per node, the newest fact about the vulnerability wins
/// (a VEX `not_affected` after a scanner's `affected` clears it; a later `affected` brings
/// it back). Vulnerable components are those whose newest status is affected or under
/// investigation; the walk up to the artifacts does not pass through nodes whose newest
/// status is not_affected or fixed (a VEX statement about a product covers what it contains).
pub fn affected(
    backend: &dyn Backend,
    vuln_id: &str,
    walk: &Walk,
) -> Result<GraphAnswer, StoreError> {
    let mut c = Counted { backend, trips: 0 };
    let facts = c.trip().vuln_facts(vuln_id)?;
    let mut newest: HashMap<String, (u64, VulnStatus)> = HashMap::new();
    for (node, status, entry) in facts {
        let e = newest.entry(node).or_insert((entry, status));
        if entry >= e.0 {
            *e = (entry, status);
        }
    }
    let mut vulnerable: Vec<String> = Vec::new();
    let mut blocked: HashSet<String> = HashSet::new();
    let mut evidence = BTreeSet::new();
    for (node, (entry, status)) in &newest {
        evidence.insert(*entry);
        match status {
            VulnStatus::Affected | VulnStatus::UnderInvestigation => vulnerable.push(node.clone()),
            VulnStatus::NotAffected | VulnStatus::Fixed => {
                blocked.insert(node.clone());
            }
        }
    }
    vulnerable.sort();
    let (mut order, prev) = c.walk(&vulnerable, false, walk.max_depth, &blocked)?;
    // A vulnerable component that is an artifact itself is affected at depth 0.
    order.splice(0..0, vulnerable.iter().map(|k| (k.clone(), 0)));
    answer(c, vulnerable, order, prev, walk, evidence, Direction::Up)
}

/// Evidence about a target (or by an issuer), filtered and paged by log index.
pub fn evidence(
    backend: &dyn Backend,
    about: Result<&Target, (&str, Option<&str>)>,
    filter: &EvidenceFilter,
) -> Result<(Vec<String>, Vec<EntryRecord>, u32), StoreError> {
    let mut c = Counted { backend, trips: 0 };
    let mut filter = filter.clone();
    filter.limit = filter.limit.clamp(1, MAX_PAGE);
    let (roots, selector) = match about {
        Ok(target) => {
            let keys = c.resolve(target)?;
            (keys.clone(), EvidenceSelector::Nodes(keys))
        }
        Err((iss, sub)) => (
            Vec::new(),
            EvidenceSelector::Issuer {
                iss: iss.to_owned(),
                sub: sub.map(str::to_owned),
            },
        ),
    };
    let entries = c.trip().evidence(&selector, &filter)?;
    Ok((roots, entries, c.trips))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purl_versions_are_found_in_the_name_part_only() {
        assert!(purl_has_version("pkg:npm/lodash@4.17.21"));
        assert!(purl_has_version("pkg:npm/%40scope/x@1?arch=x"));
        assert!(!purl_has_version("pkg:npm/%40scope/x"));
        assert!(!purl_has_version(
            "pkg:maven/org.a/b?repository_url=https://u@h/x"
        ));
    }
}
