//! Registration policy: which issuers (by role or name) may register which statement types.
//!
//! A policy is a JSON document; every version the store has used is kept, and each entry
//! records the version that admitted it, so an auditor can replay the decision:
//!
//! ```json
//! {"rules": [
//!   {"roles": ["policy-manager"], "types": ["*"]},
//!   {"roles": ["attester"], "types": ["*"]},
//!   {"issuers": ["https://ci.example/*"], "types": ["https://slsa.dev/provenance/*"]}
//! ]}
//! ```
//!
//! A submission is admitted when some rule matches its issuer (every listed field must match;
//! `issuers` and `types` are Python-fnmatch patterns) — deny by default. Whatever the policy
//! says, policy statements themselves ([`is_policy_type`]) are admitted only from
//! policy-manager identities: a policy cannot hand that power to attesters.

use serde::{Deserialize, Serialize};

use sbomit_intoto::fnmatch::fnmatch;

/// The statement type of a registration policy or an SBOMit policy document: in-toto
/// predicate types under this prefix…
pub const POLICY_PREDICATE_PREFIX: &str = "https://sbomit.dev/policy/";
/// …or COSE statements with this content type.
pub const POLICY_CONTENT_TYPE: &str = "application/vnd.sbomit.policy+json";

/// Whether `statement_type` (a predicate type or a content type) is a policy document.
pub fn is_policy_type(statement_type: &str) -> bool {
    statement_type.starts_with(POLICY_PREDICATE_PREFIX)
        || statement_type
            .split(';')
            .next()
            .is_some_and(|t| t.trim().eq_ignore_ascii_case(POLICY_CONTENT_TYPE))
}

/// An issuer's role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Registers evidence: SBOMs, provenance, vulnerability and VEX statements, notices…
    Attester,
    /// Registers policy documents (and evidence, unless the policy says otherwise).
    PolicyManager,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Attester => "attester",
            Role::PolicyManager => "policy-manager",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "attester" => Some(Role::Attester),
            "policy-manager" => Some(Role::PolicyManager),
            _ => None,
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One rule: all given fields must match.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<Role>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuers: Option<Vec<String>>,
    pub types: Vec<String>,
}

/// A registration policy document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistrationPolicy {
    pub rules: Vec<Rule>,
}

/// Why a policy document was refused.
#[derive(Debug, thiserror::Error)]
#[error("registration policy: {0}")]
pub struct PolicyError(String);

impl RegistrationPolicy {
    /// The policy of a new store: attesters and policy managers may register any type (policy
    /// types stay reserved to policy managers).
    pub fn default_policy() -> Self {
        RegistrationPolicy {
            rules: vec![Rule {
                roles: Some(vec![Role::Attester, Role::PolicyManager]),
                issuers: None,
                types: vec!["*".into()],
            }],
        }
    }

    pub fn parse(bytes: &[u8]) -> Result<Self, PolicyError> {
        let policy: RegistrationPolicy =
            serde_json::from_slice(bytes).map_err(|e| PolicyError(e.to_string()))?;
        if policy.rules.iter().any(|r| r.types.is_empty()) {
            return Err(PolicyError("a rule lists no types".into()));
        }
        Ok(policy)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| String::from("{\"rules\":[]}"))
    }

    /// Whether an issuer `iss` holding `roles` may register `statement_type`; the reason
    /// when not.
    pub fn admits(&self, iss: &str, roles: &[Role], statement_type: &str) -> Result<(), String> {
        if is_policy_type(statement_type) && !roles.contains(&Role::PolicyManager) {
            return Err(format!(
                "{statement_type} is a policy type: only policy-manager identities may register it"
            ));
        }
        let matched = self.rules.iter().any(|rule| {
            rule.roles
                .as_ref()
                .is_none_or(|rs| rs.iter().any(|r| roles.contains(r)))
                && rule
                    .issuers
                    .as_ref()
                    .is_none_or(|is| is.iter().any(|p| fnmatch(iss, p)))
                && rule.types.iter().any(|p| fnmatch(statement_type, p))
        });
        if matched {
            Ok(())
        } else {
            Err(format!(
                "no rule of the registration policy lets {iss} ({}) register {statement_type}",
                roles
                    .iter()
                    .map(|r| r.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_types_need_a_policy_manager_whatever_the_rules_say() {
        let p = RegistrationPolicy::default_policy();
        let t = "https://sbomit.dev/policy/v0.1";
        assert!(p.admits("a", &[Role::Attester], t).is_err());
        assert!(p.admits("a", &[Role::PolicyManager], t).is_ok());
        assert!(p
            .admits(
                "a",
                &[Role::Attester],
                "application/vnd.sbomit.policy+json; v=1"
            )
            .is_err());
        assert!(p
            .admits("a", &[Role::Attester], "https://cyclonedx.org/bom")
            .is_ok());
    }

    #[test]
    fn rules_deny_by_default_and_match_issuer_and_type_patterns() {
        let p = RegistrationPolicy::parse(
            br#"{"rules":[{"issuers":["https://ci.example/*"],"types":["https://slsa.dev/provenance/*"]}]}"#,
        )
        .unwrap();
        let prov = "https://slsa.dev/provenance/v1";
        assert!(p
            .admits("https://ci.example/a", &[Role::Attester], prov)
            .is_ok());
        assert!(p
            .admits("https://other/a", &[Role::Attester], prov)
            .is_err());
        assert!(p
            .admits(
                "https://ci.example/a",
                &[Role::Attester],
                "https://cyclonedx.org/bom"
            )
            .is_err());
        assert!(RegistrationPolicy::parse(br#"{"rules":[{"types":[]}]}"#).is_err());
        assert!(RegistrationPolicy::parse(br#"{"rules":[{"types":["*"],"x":1}]}"#).is_err());
    }
}
