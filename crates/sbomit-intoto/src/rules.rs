//! Artifact rules, the type: parsing (`rulelib.unpack_rule`) and printing
//! (`rulelib.pack_rule`). Layouts carry rules; applying them to links is
//! the rule engine's (`rule_engine`), so this module knows nothing of links.

use std::fmt;

use serde_json::Value;

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
