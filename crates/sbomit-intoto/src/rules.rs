//! Artifact rules: parsing (`rulelib.unpack_rule`), printing (`rulelib.pack_rule`) and the
//! v1.0 queue engine (`verifylib.verify_item_rules` and the `verify_*_rule` functions).
//!
//! The engine works like a firewall: the item's materials or products are put in a queue,
//! rules consume from it in order, and only DISALLOW (something left matches) and REQUIRE (a
//! literal path is not in the queue) fail. Whatever is left at the end is allowed.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value;

use crate::digest::{ArtifactPath, ArtifactTable, Artifacts, DigestSet};
use crate::fnmatch::Pattern;
use crate::model::{CompactLink, Link};

/// Which artifacts of a link a rule looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ArtifactType {
    Materials,
    Products,
}

impl ArtifactType {
    /// The lowercase name the reference uses (`materials`, `products`).
    pub fn as_str(self) -> &'static str {
        match self {
            ArtifactType::Materials => "materials",
            ArtifactType::Products => "products",
        }
    }

    /// The artifacts of this type in `link`.
    pub fn of(self, link: &Link) -> &Artifacts {
        match self {
            ArtifactType::Materials => &link.materials,
            ArtifactType::Products => &link.products,
        }
    }

    /// The artifacts of this type in `link`.
    pub fn of_compact(self, link: &CompactLink) -> &ArtifactTable {
        match self {
            ArtifactType::Materials => &link.materials,
            ArtifactType::Products => &link.products,
        }
    }
}

impl fmt::Display for ArtifactType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One artifact rule. Patterns and prefixes are kept as written (case included); an empty
/// prefix means "no prefix", as in the reference (`IN ""` behaves like no `IN`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ArtifactRule {
    Match {
        pattern: String,
        source_prefix: String,
        dest_type: ArtifactType,
        dest_prefix: String,
        dest_name: String,
    },
    Create(String),
    Delete(String),
    Modify(String),
    Allow(String),
    Disallow(String),
    /// A literal path, not a pattern (as the reference treats it).
    Require(String),
}

/// Why a rule array is not a rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RuleError {
    #[error("a rule must be a list of strings, got {0}")]
    NotAList(String),
    #[error("element {index} of rule {rule} is not a string")]
    NotAString { rule: String, index: usize },
    #[error("rule {rule:?} must start with one of MATCH, CREATE, DELETE, MODIFY, ALLOW, DISALLOW, REQUIRE and give a pattern")]
    UnknownRule { rule: Vec<String> },
    #[error("rule {rule:?}: {keyword} takes exactly one pattern")]
    GenericArity { rule: Vec<String>, keyword: String },
    #[error("rule {rule:?} must have the form MATCH <pattern> [IN <source-path-prefix>] WITH (MATERIALS|PRODUCTS) [IN <destination-path-prefix>] FROM <step>")]
    MatchSyntax { rule: Vec<String> },
    #[error("rule {rule:?}: the destination must be MATERIALS or PRODUCTS, got {got:?}")]
    MatchDestination { rule: Vec<String>, got: String },
}

impl ArtifactRule {
    /// Parses a rule array as `rulelib.unpack_rule` does (keywords case-insensitive).
    pub fn parse<S: AsRef<str>>(rule: &[S]) -> Result<Self, RuleError> {
        // Words are compared to keywords without allocating (a 500-step layout has thousands
        // of them); the owned copy is made only for an error.
        let word = |i: usize| rule[i].as_ref();
        let raw = || -> Vec<String> { rule.iter().map(|s| s.as_ref().to_owned()).collect() };
        // `word.lower() == keyword` as Python has it: for ASCII that is a case-insensitive
        // comparison; anything else goes through full Unicode lowercasing.
        let kw = |i: usize, keyword: &str| {
            let w = word(i);
            if w.is_ascii() {
                w.eq_ignore_ascii_case(keyword)
            } else {
                w.to_lowercase() == keyword
            }
        };
        if rule.len() < 2 {
            return Err(RuleError::UnknownRule { rule: raw() });
        }
        let generic: Option<fn(String) -> ArtifactRule> = if kw(0, "create") {
            Some(ArtifactRule::Create)
        } else if kw(0, "delete") {
            Some(ArtifactRule::Delete)
        } else if kw(0, "modify") {
            Some(ArtifactRule::Modify)
        } else if kw(0, "allow") {
            Some(ArtifactRule::Allow)
        } else if kw(0, "disallow") {
            Some(ArtifactRule::Disallow)
        } else if kw(0, "require") {
            Some(ArtifactRule::Require)
        } else if kw(0, "match") {
            None
        } else {
            return Err(RuleError::UnknownRule { rule: raw() });
        };
        let pattern = word(1).to_owned();
        if let Some(make) = generic {
            if rule.len() != 2 {
                let keyword = word(0).to_owned();
                return Err(RuleError::GenericArity {
                    rule: raw(),
                    keyword,
                });
            }
            return Ok(make(pattern));
        }
        let n = rule.len();
        let owned = |i: usize| word(i).to_owned();
        let (source_prefix, dest_type, dest_prefix, dest_name) =
            if n == 10 && kw(2, "in") && kw(4, "with") && kw(6, "in") && kw(8, "from") {
                (owned(3), 5, owned(7), owned(9))
            } else if n == 8 && kw(2, "in") && kw(4, "with") && kw(6, "from") {
                (owned(3), 5, String::new(), owned(7))
            } else if n == 8 && kw(2, "with") && kw(4, "in") && kw(6, "from") {
                (String::new(), 3, owned(5), owned(7))
            } else if n == 6 && kw(2, "with") && kw(4, "from") {
                (String::new(), 3, String::new(), owned(5))
            } else {
                return Err(RuleError::MatchSyntax { rule: raw() });
            };
        let dest_type = if kw(dest_type, "materials") {
            ArtifactType::Materials
        } else if kw(dest_type, "products") {
            ArtifactType::Products
        } else {
            let got = owned(dest_type);
            return Err(RuleError::MatchDestination { rule: raw(), got });
        };
        Ok(ArtifactRule::Match {
            pattern,
            source_prefix,
            dest_type,
            dest_prefix,
            dest_name,
        })
    }

    /// Parses a rule from JSON (a list of strings), as the layout carries it.
    pub fn from_value(value: &Value) -> Result<Self, RuleError> {
        let Value::Array(items) = value else {
            return Err(RuleError::NotAList(value.to_string()));
        };
        let mut rule = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            match item {
                Value::String(s) => rule.push(s.as_str()),
                _ => {
                    return Err(RuleError::NotAString {
                        rule: value.to_string(),
                        index,
                    })
                }
            }
        }
        Self::parse(&rule)
    }

    /// The canonical rule array (`rulelib.pack_rule`): uppercase keywords, empty prefixes
    /// left out.
    pub fn to_vec(&self) -> Vec<String> {
        let generic = |kw: &str, p: &str| vec![kw.to_owned(), p.to_owned()];
        match self {
            ArtifactRule::Match {
                pattern,
                source_prefix,
                dest_type,
                dest_prefix,
                dest_name,
            } => {
                let mut v = vec!["MATCH".to_owned(), pattern.clone()];
                if !source_prefix.is_empty() {
                    v.extend(["IN".to_owned(), source_prefix.clone()]);
                }
                v.extend(["WITH".to_owned(), dest_type.as_str().to_uppercase()]);
                if !dest_prefix.is_empty() {
                    v.extend(["IN".to_owned(), dest_prefix.clone()]);
                }
                v.extend(["FROM".to_owned(), dest_name.clone()]);
                v
            }
            ArtifactRule::Create(p) => generic("CREATE", p),
            ArtifactRule::Delete(p) => generic("DELETE", p),
            ArtifactRule::Modify(p) => generic("MODIFY", p),
            ArtifactRule::Allow(p) => generic("ALLOW", p),
            ArtifactRule::Disallow(p) => generic("DISALLOW", p),
            ArtifactRule::Require(p) => generic("REQUIRE", p),
        }
    }

    /// The rule as JSON (the canonical array).
    pub fn to_value(&self) -> Value {
        Value::Array(self.to_vec().into_iter().map(Value::String).collect())
    }

    /// The pattern (or, for REQUIRE, the path).
    pub fn pattern(&self) -> &str {
        match self {
            ArtifactRule::Match { pattern, .. }
            | ArtifactRule::Create(pattern)
            | ArtifactRule::Delete(pattern)
            | ArtifactRule::Modify(pattern)
            | ArtifactRule::Allow(pattern)
            | ArtifactRule::Disallow(pattern)
            | ArtifactRule::Require(pattern) => pattern,
        }
    }

    /// Applies `f` to every string that is not a keyword (used by parameter substitution,
    /// which the reference applies to every stanza; keywords never contain braces in a valid
    /// layout, so substituting them would be a no-op).
    pub fn try_map_strings<E>(
        &self,
        mut f: impl FnMut(&str) -> Result<String, E>,
    ) -> Result<Self, E> {
        Ok(match self {
            ArtifactRule::Match {
                pattern,
                source_prefix,
                dest_type,
                dest_prefix,
                dest_name,
            } => ArtifactRule::Match {
                pattern: f(pattern)?,
                source_prefix: f(source_prefix)?,
                dest_type: *dest_type,
                dest_prefix: f(dest_prefix)?,
                dest_name: f(dest_name)?,
            },
            ArtifactRule::Create(p) => ArtifactRule::Create(f(p)?),
            ArtifactRule::Delete(p) => ArtifactRule::Delete(f(p)?),
            ArtifactRule::Modify(p) => ArtifactRule::Modify(f(p)?),
            ArtifactRule::Allow(p) => ArtifactRule::Allow(f(p)?),
            ArtifactRule::Disallow(p) => ArtifactRule::Disallow(f(p)?),
            ArtifactRule::Require(p) => ArtifactRule::Require(f(p)?),
        })
    }
}

impl fmt::Display for ArtifactRule {
    /// The canonical array joined by spaces, as the reference prints rules in its messages.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_vec().join(" "))
    }
}

/// How the rules of one item failed. Only DISALLOW and REQUIRE fail in the reference;
/// `MatchHashMismatch` is a DISALLOW hit explained: the artifact a MATCH rule did not consume
/// because its hash differs from the destination's.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RuleViolation {
    /// A DISALLOW rule matched artifacts left in the queue (sorted).
    Disallowed {
        rule: ArtifactRule,
        artifacts: Vec<ArtifactPath>,
    },
    /// A DISALLOW rule matched `artifact`, which an earlier MATCH rule left in the queue
    /// because its digest differs from the destination artifact's.
    MatchHashMismatch {
        match_rule: ArtifactRule,
        disallow_rule: ArtifactRule,
        artifact: ArtifactPath,
        digest: DigestSet,
        dest_name: String,
        dest_path: ArtifactPath,
        dest_digest: DigestSet,
    },
    /// A REQUIRE rule did not find its path in the queue.
    RequireMissing {
        rule: ArtifactRule,
        artifact: ArtifactPath,
    },
    /// A MATCH rule with a source prefix produced a path that is not among the source
    /// artifacts (the reference crashes with a KeyError here, failing verification).
    MatchSourceUnresolvable {
        rule: ArtifactRule,
        artifact: ArtifactPath,
    },
}

impl fmt::Display for RuleViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RuleViolation::Disallowed { rule, artifacts } => {
                let list: Vec<&str> = artifacts.iter().map(ArtifactPath::as_str).collect();
                write!(f, "'{rule}' matched the following artifacts: {list:?}")
            }
            RuleViolation::MatchHashMismatch {
                match_rule,
                disallow_rule,
                artifact,
                dest_name,
                dest_path,
                ..
            } => write!(
                f,
                "'{disallow_rule}' matched {:?}, which '{match_rule}' did not consume: \
                 its digest differs from {:?} in the {dest_name:?} link",
                artifact.as_str(),
                dest_path.as_str()
            ),
            RuleViolation::RequireMissing { rule, artifact } => {
                write!(f, "'{rule}' did not find {:?}", artifact.as_str())
            }
            RuleViolation::MatchSourceUnresolvable { rule, artifact } => {
                write!(
                    f,
                    "'{rule}' cannot resolve source artifact {:?}",
                    artifact.as_str()
                )
            }
        }
    }
}

/// `posixpath.join(a, b)` for two components.
fn posix_join(a: &str, b: &str) -> String {
    if b.starts_with('/') {
        b.to_owned()
    } else if a.is_empty() || a.ends_with('/') {
        format!("{a}{b}")
    } else {
        format!("{a}/{b}")
    }
}

/// A pattern compiled for the common shapes first: rules are run over every artifact of a
/// link, and most patterns are `*`, a literal, or a literal directory followed by `*`.
enum Matcher {
    Any,
    Literal(String),
    Prefix(String),
    Suffix(String),
    Glob(Pattern),
}

impl Matcher {
    fn new(pattern: &str) -> Self {
        let special = |s: &str| s.contains(['*', '?', '[']);
        if pattern.chars().all(|c| c == '*') && !pattern.is_empty() {
            Matcher::Any
        } else if !special(pattern) {
            Matcher::Literal(pattern.to_owned())
        } else if let Some(p) = pattern.strip_suffix('*').filter(|p| !special(p)) {
            Matcher::Prefix(p.to_owned())
        } else if let Some(p) = pattern.strip_prefix('*').filter(|p| !special(p)) {
            Matcher::Suffix(p.to_owned())
        } else {
            Matcher::Glob(Pattern::new(pattern))
        }
    }

    fn matches(&self, name: &str) -> bool {
        match self {
            Matcher::Any => true,
            Matcher::Literal(l) => name == l,
            Matcher::Prefix(p) => name.starts_with(p.as_str()),
            Matcher::Suffix(p) => name.ends_with(p.as_str()),
            Matcher::Glob(p) => p.matches(name),
        }
    }
}

/// Why a MATCH rule left an artifact in the queue, kept to explain a later DISALLOW.
struct MatchMiss {
    rule: ArtifactRule,
    digest: DigestSet,
    dest_name: String,
    dest_path: ArtifactPath,
    dest_digest: DigestSet,
}

/// Applies `rules` to the `source_type` artifacts of the item `source_name`, whose link is
/// `links[source_name]`; `links` also holds the MATCH destinations (steps, and for
/// inspections, inspections too). A missing source link is treated as a link without
/// artifacts.
// A violation ends the item's verification, so its size does not matter.
#[allow(clippy::result_large_err)]
pub fn verify_item_rules(
    source_name: &str,
    source_type: ArtifactType,
    rules: &[ArtifactRule],
    links: &BTreeMap<&str, &Link>,
) -> Result<(), RuleViolation> {
    let compact: Vec<(&str, CompactLink)> = links
        .iter()
        .map(|(name, link)| (*name, CompactLink::from_link(link)))
        .collect();
    let refs: BTreeMap<&str, &CompactLink> = compact.iter().map(|(n, l)| (*n, l)).collect();
    verify_compact_item_rules(source_name, source_type, rules, &refs)
}

/// [`verify_item_rules`] over [`CompactLink`]s, what verification uses. The queue is a flag
/// per artifact of the source table (sorted by path, the order the reference reports in).
#[allow(clippy::result_large_err)]
pub fn verify_compact_item_rules(
    source_name: &str,
    source_type: ArtifactType,
    rules: &[ArtifactRule],
    links: &BTreeMap<&str, &CompactLink>,
) -> Result<(), RuleViolation> {
    let empty = ArtifactTable::default();
    let source = links.get(source_name);
    let materials = source.map_or(&empty, |l| &l.materials);
    let products = source.map_or(&empty, |l| &l.products);
    let artifacts = match source_type {
        ArtifactType::Materials => materials,
        ArtifactType::Products => products,
    };
    let mut queued = vec![true; artifacts.len()];
    // Keyed by the index of the source artifact.
    let mut misses: BTreeMap<usize, MatchMiss> = BTreeMap::new();

    for rule in rules {
        match rule {
            ArtifactRule::Match {
                pattern,
                source_prefix,
                dest_type,
                dest_prefix,
                dest_name,
            } => {
                // The rule can only consume artifacts if the destination link exists.
                let Some(dest) = links.get(dest_name.as_str()) else {
                    continue;
                };
                let dest_artifacts = dest_type.of_compact(dest);
                let matcher = Matcher::new(pattern);
                // Strip the source prefix before globbing so the prefix is never a glob.
                let norm = (!source_prefix.is_empty())
                    .then(|| posix_join(source_prefix, "").replace('\\', "/"));
                let mut consumed = Vec::new();
                let mut dest_cursor = 0;
                for i in (0..artifacts.len()).filter(|&i| queued[i]) {
                    let name = artifacts.name(i);
                    let path = match &norm {
                        None => name,
                        Some(n) => match name.strip_prefix(n.as_str()) {
                            Some(p) => p,
                            None => continue,
                        },
                    };
                    if !matcher.matches(path) {
                        continue;
                    }
                    let source_index = if norm.is_none() {
                        i
                    } else {
                        let full = posix_join(source_prefix, path).replace('\\', "/");
                        match artifacts.find(&full) {
                            Some(j) => j,
                            None => {
                                return Err(RuleViolation::MatchSourceUnresolvable {
                                    rule: rule.clone(),
                                    artifact: ArtifactPath(full),
                                })
                            }
                        }
                    };
                    let full_dest;
                    let dest_path = if dest_prefix.is_empty() {
                        path
                    } else {
                        full_dest = posix_join(dest_prefix, path).replace('\\', "/");
                        full_dest.as_str()
                    };
                    // Paths come in sorted order, so (without prefixes) their destinations do
                    // too: search on from the last one.
                    let found = dest_artifacts.find_from(dest_path, dest_cursor);
                    let Ok(d) = found else {
                        if let Err(at) = found {
                            dest_cursor = at;
                        }
                        continue;
                    };
                    dest_cursor = d + 1;
                    let dest_digest = dest_artifacts.digest(d);
                    let source_digest = artifacts.digest(source_index);
                    if source_digest != dest_digest {
                        misses.entry(source_index).or_insert_with(|| MatchMiss {
                            rule: rule.clone(),
                            digest: source_digest.to_set(),
                            dest_name: dest_name.clone(),
                            dest_path: ArtifactPath(dest_path.to_owned()),
                            dest_digest: dest_digest.to_set(),
                        });
                        continue;
                    }
                    consumed.push(source_index);
                }
                for j in consumed {
                    queued[j] = false;
                }
            }
            // CREATE, DELETE, MODIFY and ALLOW consume the queued artifacts their pattern
            // matches, when the artifact was created, deleted, modified or (ALLOW) at all.
            ArtifactRule::Create(p)
            | ArtifactRule::Delete(p)
            | ArtifactRule::Modify(p)
            | ArtifactRule::Allow(p) => {
                let matcher = Matcher::new(p);
                for (i, q) in queued.iter_mut().enumerate() {
                    if !*q {
                        continue;
                    }
                    let name = artifacts.name(i);
                    if !matcher.matches(name) {
                        continue;
                    }
                    // The source table answers for its own type without a search.
                    let in_materials = || match source_type {
                        ArtifactType::Materials => Some(artifacts.digest(i)),
                        ArtifactType::Products => materials.get(name),
                    };
                    let in_products = || match source_type {
                        ArtifactType::Products => Some(artifacts.digest(i)),
                        ArtifactType::Materials => products.get(name),
                    };
                    let consume = match rule {
                        ArtifactRule::Create(_) => {
                            in_products().is_some() && in_materials().is_none()
                        }
                        ArtifactRule::Delete(_) => {
                            in_materials().is_some() && in_products().is_none()
                        }
                        ArtifactRule::Modify(_) => {
                            matches!((in_materials(), in_products()), (Some(m), Some(p)) if m != p)
                        }
                        _ => true,
                    };
                    if consume {
                        *q = false;
                    }
                }
            }
            ArtifactRule::Disallow(p) => {
                let matcher = Matcher::new(p);
                let hits: Vec<usize> = (0..artifacts.len())
                    .filter(|&i| queued[i] && matcher.matches(artifacts.name(i)))
                    .collect();
                if let Some(&first) = hits.first() {
                    if let Some(miss) = misses.remove(&first) {
                        return Err(RuleViolation::MatchHashMismatch {
                            match_rule: miss.rule,
                            disallow_rule: rule.clone(),
                            artifact: ArtifactPath(artifacts.name(first).to_owned()),
                            digest: miss.digest,
                            dest_name: miss.dest_name,
                            dest_path: miss.dest_path,
                            dest_digest: miss.dest_digest,
                        });
                    }
                    return Err(RuleViolation::Disallowed {
                        rule: rule.clone(),
                        artifacts: hits
                            .into_iter()
                            .map(|i| ArtifactPath::from(artifacts.name(i)))
                            .collect(),
                    });
                }
            }
            ArtifactRule::Require(path) => {
                if !artifacts.find(path).is_some_and(|i| queued[i]) {
                    return Err(RuleViolation::RequireMissing {
                        rule: rule.clone(),
                        artifact: ArtifactPath(path.clone()),
                    });
                }
            }
        }
    }
    // Implicit `ALLOW *`: whatever is left passes.
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn r(parts: &[&str]) -> Result<ArtifactRule, RuleError> {
        ArtifactRule::parse(parts)
    }

    #[test]
    fn parses_all_forms_case_insensitively() {
        assert_eq!(
            r(&["create", "a*"]).unwrap(),
            ArtifactRule::Create("a*".into())
        );
        assert_eq!(
            r(&["ReQuIrE", "f"]).unwrap(),
            ArtifactRule::Require("f".into())
        );
        assert_eq!(
            r(&["match", "*.py", "in", "src", "with", "Products", "in", "dst", "from", "build"])
                .unwrap(),
            ArtifactRule::Match {
                pattern: "*.py".into(),
                source_prefix: "src".into(),
                dest_type: ArtifactType::Products,
                dest_prefix: "dst".into(),
                dest_name: "build".into(),
            }
        );
        assert!(matches!(
            r(&["MATCH", "x", "WITH", "MATERIALS", "FROM", "s"]).unwrap(),
            ArtifactRule::Match { ref source_prefix, ref dest_prefix, dest_type: ArtifactType::Materials, .. }
                if source_prefix.is_empty() && dest_prefix.is_empty()
        ));
    }

    #[test]
    fn rejects_malformed_rules() {
        assert!(matches!(r(&["CREATE"]), Err(RuleError::UnknownRule { .. })));
        assert!(matches!(
            r(&["FOO", "x"]),
            Err(RuleError::UnknownRule { .. })
        ));
        assert!(matches!(
            r(&["CREATE", "a", "b"]),
            Err(RuleError::GenericArity { .. })
        ));
        assert!(matches!(
            r(&["MATCH", "x", "WITH", "ARTIFACTS", "FROM", "s"]),
            Err(RuleError::MatchDestination { .. })
        ));
        assert!(matches!(
            r(&["MATCH", "x", "FROM", "s"]),
            Err(RuleError::MatchSyntax { .. })
        ));
        assert!(matches!(
            ArtifactRule::from_value(&serde_json::json!(["CREATE", 1])),
            Err(RuleError::NotAString { index: 1, .. })
        ));
    }

    #[test]
    fn prints_canonical_form() {
        let rule = r(&[
            "match", "*", "in", "", "with", "products", "in", "d", "from", "s",
        ])
        .unwrap();
        assert_eq!(rule.to_string(), "MATCH * WITH PRODUCTS IN d FROM s");
    }

    fn words() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("MATCH".to_owned()),
            Just("in".to_owned()),
            Just("With".to_owned()),
            Just("FROM".to_owned()),
            Just("materials".to_owned()),
            Just("PRODUCTS".to_owned()),
            Just("create".to_owned()),
            Just("REQUIRE".to_owned()),
            Just("disallow".to_owned()),
            Just(String::new()),
            "[a-z*?/\\[\\]]{1,6}",
            any::<String>(),
        ]
    }

    proptest! {
        #[test]
        fn parser_never_panics(rule in proptest::collection::vec(words(), 0..12)) {
            let _ = ArtifactRule::parse(&rule);
        }

        #[test]
        fn parse_print_parse_round_trips(rule in proptest::collection::vec(words(), 0..12)) {
            if let Ok(parsed) = ArtifactRule::parse(&rule) {
                let again = ArtifactRule::parse(&parsed.to_vec()).unwrap();
                prop_assert_eq!(&again, &parsed);
                prop_assert_eq!(ArtifactRule::from_value(&parsed.to_value()).unwrap(), parsed);
            }
        }
    }
}
