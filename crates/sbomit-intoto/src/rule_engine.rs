//! Artifact rules, the evaluation: the v1.0 queue engine (`verifylib.verify_item_rules` and
//! the `verify_*_rule` functions), over links.
//!
//! The engine works like a firewall: the item's materials or products are put in a queue,
//! rules consume from it in order, and only DISALLOW (something left matches) and REQUIRE (a
//! literal path is not in the queue) fail. Whatever is left at the end is allowed.

use std::collections::BTreeMap;
use std::fmt;

use crate::digest::{posix_join, ArtifactPath, ArtifactTable, DigestSet};
use crate::fnmatch::Pattern;
use crate::model::{CompactLink, Link};
use crate::rules::{ArtifactRule, ArtifactType};

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
                let dest_artifacts = dest.artifacts(*dest_type);
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
                                    artifact: ArtifactPath::new(full),
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
                            dest_path: ArtifactPath::new(dest_path.to_owned()),
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
                            artifact: ArtifactPath::new(artifacts.name(first).to_owned()),
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
                        artifact: ArtifactPath::new(path.clone()),
                    });
                }
            }
        }
    }
    // Implicit `ALLOW *`: whatever is left passes.
    Ok(())
}
