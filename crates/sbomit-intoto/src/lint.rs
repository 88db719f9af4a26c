//! A layout's mistakes that in-toto's verification accepts without a word: a layout that
//! verifies can still let a swapped artifact through or never be satisfiable. `layout lint`
//! prints these; `layout create` refuses a layout with errors and prints its warnings.
//!
//! The artifact-rule checks follow the v1.0 queue semantics: each artifact is consumed by the
//! first rule whose pattern it matches (`MATCH` only consumes what matches its source step;
//! `DISALLOW` fails on what reaches it), and an implicit `ALLOW *` ends every list.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

use crate::fnmatch::fnmatch;
use crate::model::Layout;
use crate::rules::ArtifactRule;

/// How bad a finding is: errors make a layout unusable or unsafe as written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Warning,
    Error,
}

/// One finding: where it is (`step "build", expected_materials rule 2`), and what is wrong and
/// how to fix it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub severity: Severity,
    pub location: String,
    pub message: String,
}

impl Finding {
    fn error(location: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Error,
            location: location.into(),
            message: message.into(),
        }
    }

    fn warning(location: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Warning,
            location: location.into(),
            message: message.into(),
        }
    }
}

/// Lints `layout` as of `now` (for expiry). Findings come in layout order.
pub fn lint(layout: &Layout, now: DateTime<Utc>) -> Vec<Finding> {
    let mut out = Vec::new();
    if layout.expires <= now {
        out.push(Finding::error(
            "layout",
            format!(
                "expired at {}: verification refuses it; set a later `expires`",
                layout.expires_string()
            ),
        ));
    }
    let names: BTreeSet<&str> = layout
        .steps
        .iter()
        .map(|s| s.name.as_str())
        .chain(layout.inspect.iter().map(|i| i.name.as_str()))
        .collect();
    for step in &layout.steps {
        let at = format!("step {:?}", step.name);
        if step.pubkeys.is_empty() {
            out.push(Finding::error(
                &at,
                "no functionary key: no link can ever satisfy it",
            ));
        }
        let mut seen = BTreeSet::new();
        for key in &step.pubkeys {
            if !seen.insert(key) {
                out.push(Finding::error(
                    &at,
                    format!("key {key} is listed twice: one functionary would count twice"),
                ));
            }
            if !layout.keys.contains_key(key) {
                out.push(Finding::error(
                    &at,
                    format!("key {key} is not among the layout's keys"),
                ));
            }
        }
        if step.threshold > seen.len() as u64 {
            out.push(Finding::error(
                &at,
                format!(
                    "threshold {} is more than its {} distinct key(s): it can never be met",
                    step.threshold,
                    seen.len()
                ),
            ));
        }
        rules(
            &at,
            "expected_materials",
            &step.expected_materials,
            &names,
            &mut out,
        );
        rules(
            &at,
            "expected_products",
            &step.expected_products,
            &names,
            &mut out,
        );
    }
    for inspection in &layout.inspect {
        let at = format!("inspection {:?}", inspection.name);
        rules(
            &at,
            "expected_materials",
            &inspection.expected_materials,
            &names,
            &mut out,
        );
        rules(
            &at,
            "expected_products",
            &inspection.expected_products,
            &names,
            &mut out,
        );
    }
    out
}

/// The pattern a rule consumes artifacts by, and whether it consumes them without checking
/// them (everything but `MATCH`, `DISALLOW` and `REQUIRE`).
fn consumes(rule: &ArtifactRule) -> Option<(&str, bool)> {
    match rule {
        ArtifactRule::Match { pattern, .. } => Some((pattern, false)),
        ArtifactRule::Create(p)
        | ArtifactRule::Delete(p)
        | ArtifactRule::Modify(p)
        | ArtifactRule::Allow(p) => Some((p, true)),
        ArtifactRule::Disallow(p) => Some((p, false)),
        ArtifactRule::Require(_) => None,
    }
}

/// Whether every artifact `inner` can match is also matched by `outer` (exactly for a literal
/// `inner`; for a pattern, only the cases that are certain: `*`, or the same pattern).
fn covers(outer: &str, inner: &str) -> bool {
    outer == "*" || outer == inner || (!is_pattern(inner) && fnmatch(inner, outer))
}

fn is_pattern(p: &str) -> bool {
    p.contains(['*', '?', '['])
}

fn rules(
    at: &str,
    list: &str,
    rules: &[ArtifactRule],
    names: &BTreeSet<&str>,
    out: &mut Vec<Finding>,
) {
    let loc = |i: usize| format!("{at}, {list} rule {} `{}`", i + 1, rules[i]);
    for (i, rule) in rules.iter().enumerate() {
        // A rule after one that consumes every artifact is never reached.
        if let Some(j) = (0..i).find(|&j| {
            matches!(&rules[j], ArtifactRule::Allow(p) | ArtifactRule::Disallow(p) if p == "*")
        }) {
            out.push(Finding::warning(
                loc(i),
                format!(
                    "never reached: rule {} `{}` takes every artifact first; move it before that rule",
                    j + 1,
                    rules[j]
                ),
            ));
            continue;
        }
        let ArtifactRule::Match {
            pattern, dest_name, ..
        } = rule
        else {
            continue;
        };
        if !names.contains(dest_name.as_str()) {
            out.push(Finding::error(
                loc(i),
                format!("no step or inspection is named {dest_name:?}"),
            ));
        }
        // An artifact that does not match its source falls through to the next rule that
        // takes it: when that is not a DISALLOW, a swapped artifact passes.
        let next = rules[i + 1..]
            .iter()
            .enumerate()
            .find_map(|(k, r)| match consumes(r) {
                Some((p, unchecked)) if covers(p, pattern) => Some((i + 1 + k, unchecked)),
                _ => None,
            });
        match next {
            Some((_, false)) => {}
            Some((j, true)) => out.push(Finding::warning(
                loc(i),
                format!(
                    "does not protect {pattern:?}: an artifact that does not match {dest_name:?} \
                     falls through to rule {} `{}` and passes; add `DISALLOW {pattern}` right \
                     after this rule",
                    j + 1,
                    rules[j]
                ),
            )),
            None => out.push(Finding::warning(
                loc(i),
                format!(
                    "does not protect {pattern:?}: an artifact that does not match {dest_name:?} \
                     falls through to the implicit `ALLOW *` and passes; add `DISALLOW {pattern}` \
                     (or `DISALLOW *`) after this rule"
                ),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A layout whose one key is known as "aa" (the name is opaque: never recomputed).
    fn layout(steps: serde_json::Value, inspect: serde_json::Value) -> Layout {
        let key = sbomit_crypto::PrivateKey::generate(sbomit_crypto::KeyKind::Ed25519)
            .map(|k| k.public_key().to_securesystemslib())
            .unwrap_or_default();
        let mut key = key;
        key["keyid"] = json!("aa");
        let v = json!({
            "_type": "layout",
            "expires": "2099-01-01T00:00:00Z",
            "readme": "",
            "keys": {"aa": key},
            "steps": steps,
            "inspect": inspect,
        });
        match crate::metadata::Metadata::from_payload(&v) {
            Ok(crate::metadata::Metadata::Layout(l)) => l,
            other => panic!("not a layout: {other:?}"),
        }
    }

    fn step(name: &str, materials: serde_json::Value) -> serde_json::Value {
        json!({"_type": "step", "name": name, "pubkeys": ["aa"], "threshold": 1,
               "expected_command": [], "expected_materials": materials, "expected_products": []})
    }

    fn inspection(materials: serde_json::Value) -> serde_json::Value {
        json!({"_type": "inspection", "name": "untar", "run": ["tar", "xf", "app.tar"],
               "expected_materials": materials, "expected_products": []})
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-07T00:00:00Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default()
    }

    fn messages(l: &Layout) -> Vec<String> {
        lint(l, now())
            .into_iter()
            .map(|f| format!("{:?} {}: {}", f.severity, f.location, f.message))
            .collect()
    }

    #[test]
    fn a_clean_layout_has_no_findings() {
        let l = layout(
            json!([
                step("build", json!([["ALLOW", "src/*"], ["DISALLOW", "*"]])),
                step(
                    "package",
                    json!([
                        ["MATCH", "app", "WITH", "PRODUCTS", "FROM", "build"],
                        ["DISALLOW", "*"]
                    ])
                )
            ]),
            json!([inspection(json!([
                ["MATCH", "app.tar", "WITH", "PRODUCTS", "FROM", "package"],
                ["DISALLOW", "app.tar"]
            ]))]),
        );
        assert_eq!(messages(&l), Vec::<String>::new());
    }

    #[test]
    fn match_then_allow_lets_a_swapped_package_pass_and_is_named() {
        let l = layout(
            json!([step("package", json!([]))]),
            json!([inspection(json!([
                ["MATCH", "app.tar", "WITH", "PRODUCTS", "FROM", "package"],
                ["ALLOW", "*"]
            ]))]),
        );
        let m = messages(&l);
        assert_eq!(m.len(), 1, "{m:?}");
        assert!(m[0].starts_with("Warning inspection \"untar\", expected_materials rule 1 `MATCH app.tar WITH PRODUCTS FROM package`: does not protect \"app.tar\""), "{m:?}");
        assert!(
            m[0].contains("rule 2 `ALLOW *`") && m[0].contains("add `DISALLOW app.tar`"),
            "{m:?}"
        );
    }

    #[test]
    fn a_match_with_nothing_after_it_falls_through_to_the_implicit_allow() {
        let l = layout(
            json!([
                step("build", json!([])),
                step(
                    "package",
                    json!([["MATCH", "app", "WITH", "PRODUCTS", "FROM", "build"]])
                )
            ]),
            json!([]),
        );
        let m = messages(&l);
        assert_eq!(m.len(), 1, "{m:?}");
        assert!(m[0].contains("implicit `ALLOW *`"), "{m:?}");
    }

    #[test]
    fn match_from_a_step_that_does_not_exist_is_an_error() {
        let l = layout(
            json!([step(
                "build",
                json!([
                    ["MATCH", "src/*", "WITH", "PRODUCTS", "FROM", "writecode"],
                    ["DISALLOW", "*"]
                ])
            )]),
            json!([]),
        );
        assert_eq!(
            messages(&l),
            vec!["Error step \"build\", expected_materials rule 1 `MATCH src/* WITH PRODUCTS FROM writecode`: no step or inspection is named \"writecode\"".to_string()]
        );
    }

    #[test]
    fn a_rule_after_allow_everything_is_never_reached() {
        let l = layout(
            json!([step(
                "build",
                json!([["ALLOW", "*"], ["DISALLOW", "secret"]])
            )]),
            json!([]),
        );
        let m = messages(&l);
        assert_eq!(m.len(), 1, "{m:?}");
        assert!(
            m[0].contains("rule 2 `DISALLOW secret`: never reached: rule 1 `ALLOW *`"),
            "{m:?}"
        );
    }

    #[test]
    fn keys_thresholds_and_expiry_are_checked() {
        let mut l = layout(
            json!([step("build", json!([["DISALLOW", "*"]]))]),
            json!([]),
        );
        l.steps[0].pubkeys = vec![
            sbomit_crypto::KeyId::new("aa"),
            sbomit_crypto::KeyId::new("aa"),
            sbomit_crypto::KeyId::new("bb"),
        ];
        l.steps[0].threshold = 3;
        l.expires = now();
        let m = messages(&l);
        assert_eq!(
            m,
            vec![
                "Error layout: expired at 2026-12-07T00:00:00Z: verification refuses it; set a later `expires`".to_string(),
                "Error step \"build\": key aa is listed twice: one functionary would count twice".to_string(),
                "Error step \"build\": key bb is not among the layout's keys".to_string(),
                "Error step \"build\": threshold 3 is more than its 2 distinct key(s): it can never be met".to_string(),
            ]
        );
        l.steps[0].pubkeys.clear();
        l.steps[0].threshold = 1;
        assert!(messages(&l)
            .iter()
            .any(|m| m.contains("no functionary key")));
    }
}
