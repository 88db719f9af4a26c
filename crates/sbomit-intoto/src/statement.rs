//! in-toto Statement v1 and the link predicate v0.3, so that links recorded as attestations
//! (`--format attestation`, in-toto-golang, witness) verify like classic links.
//!
//! A link becomes a Statement whose subjects are the link's products and whose predicate
//! carries the rest (name, command, materials as resource descriptors, byproducts,
//! environment); the way back reverses it.

use serde_json::{Map, Value};

use crate::digest::{ArtifactPath, Artifacts, DigestSet};
use crate::model::{Link, ModelError};

/// `_type` of an in-toto Statement v1.
pub const STATEMENT_V1: &str = "https://in-toto.io/Statement/v1";
/// `_type` of the older Statement v0.1, read for compatibility.
pub const STATEMENT_V01: &str = "https://in-toto.io/Statement/v0.1";
/// The link predicate type.
pub const LINK_PREDICATE_V03: &str = "https://in-toto.io/attestation/link/v0.3";
/// DSSE payload type of Statements (the same as for classic in-toto metadata).
pub const PAYLOAD_TYPE: &str = crate::envelope::INTOTO_PAYLOAD_TYPE;

/// Whether `t` is a Statement `_type` we read.
pub fn is_statement_type(t: &str) -> bool {
    t == STATEMENT_V1 || t == STATEMENT_V01
}

/// Why a Statement could not be read or turned into a link.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StatementError {
    #[error("not an in-toto Statement: {0}")]
    Shape(String),
    #[error("predicateType {0:?} is not the link predicate {LINK_PREDICATE_V03}")]
    NotALink(String),
    #[error("link predicate: {0}")]
    Link(#[from] ModelError),
}

/// A resource descriptor reduced to what links need (`name`, `digest`); other fields are
/// kept so that reading and writing a Statement loses nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceDescriptor {
    pub name: String,
    pub digest: DigestSet,
    pub extra: Map<String, Value>,
}

impl ResourceDescriptor {
    fn from_value(value: &Value, what: &str) -> Result<Self, StatementError> {
        let mut obj = value
            .as_object()
            .cloned()
            .ok_or_else(|| StatementError::Shape(format!("{what} is not an object")))?;
        // A descriptor may name a resource by `uri` only; fall back to it for the path.
        let name = match obj.remove("name") {
            Some(Value::String(s)) => s,
            None => obj
                .get("uri")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            Some(_) => {
                return Err(StatementError::Shape(format!(
                    "{what}: `name` is not a string"
                )))
            }
        };
        let digest = match obj.remove("digest") {
            None => DigestSet::default(),
            Some(Value::Object(m)) => DigestSet::from_iter(
                m.into_iter()
                    .map(|(k, v)| match v {
                        Value::String(s) => Ok((k, s)),
                        _ => Err(StatementError::Shape(format!(
                            "{what}: digest values must be strings"
                        ))),
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
            Some(_) => {
                return Err(StatementError::Shape(format!(
                    "{what}: `digest` is not an object"
                )))
            }
        };
        Ok(ResourceDescriptor {
            name,
            digest,
            extra: obj,
        })
    }

    fn to_value(&self) -> Value {
        let mut obj = self.extra.clone();
        obj.insert("name".into(), Value::String(self.name.clone()));
        obj.insert(
            "digest".into(),
            Value::Object(
                self.digest
                    .iter()
                    .map(|(k, v)| (k.to_owned(), Value::String(v.to_owned())))
                    .collect(),
            ),
        );
        Value::Object(obj)
    }
}

/// An in-toto Statement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Statement {
    /// `_type` as read (v1 when made here).
    pub statement_type: String,
    pub subject: Vec<ResourceDescriptor>,
    pub predicate_type: String,
    pub predicate: Value,
}

fn descriptors(artifacts: &Artifacts) -> Vec<ResourceDescriptor> {
    artifacts
        .iter()
        .map(|(path, digest)| ResourceDescriptor {
            name: path.as_str().to_owned(),
            digest: digest.clone(),
            extra: Map::new(),
        })
        .collect()
}

fn descriptors_value(list: &[ResourceDescriptor]) -> Value {
    Value::Array(list.iter().map(ResourceDescriptor::to_value).collect())
}

fn artifacts_json(list: &[ResourceDescriptor]) -> Value {
    Value::Object(
        list.iter()
            .map(|d| {
                (
                    d.name.clone(),
                    Value::Object(
                        d.digest
                            .iter()
                            .map(|(k, v)| (k.to_owned(), Value::String(v.to_owned())))
                            .collect(),
                    ),
                )
            })
            .collect(),
    )
}

impl Statement {
    /// Reads a Statement (v1 or v0.1).
    pub fn from_value(value: &Value) -> Result<Self, StatementError> {
        let obj = value
            .as_object()
            .ok_or_else(|| StatementError::Shape("not a JSON object".into()))?;
        let statement_type = match obj.get("_type").and_then(Value::as_str) {
            Some(t) if is_statement_type(t) => t.to_owned(),
            other => {
                return Err(StatementError::Shape(format!(
                    "`_type` is {other:?}, not {STATEMENT_V1}"
                )))
            }
        };
        let subject = match obj.get("subject") {
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, v)| ResourceDescriptor::from_value(v, &format!("subject[{i}]")))
                .collect::<Result<_, _>>()?,
            _ => return Err(StatementError::Shape("`subject` is not a list".into())),
        };
        let predicate_type = obj
            .get("predicateType")
            .and_then(Value::as_str)
            .ok_or_else(|| StatementError::Shape("`predicateType` is not a string".into()))?
            .to_owned();
        let predicate = obj.get("predicate").cloned().unwrap_or(Value::Null);
        Ok(Statement {
            statement_type,
            subject,
            predicate_type,
            predicate,
        })
    }

    pub fn to_value(&self) -> Value {
        serde_json::json!({
            "_type": self.statement_type,
            "subject": descriptors_value(&self.subject),
            "predicateType": self.predicate_type,
            "predicate": self.predicate,
        })
    }

    /// A Statement v1 with the link predicate v0.3 for `link`: subjects are its products.
    pub fn from_link(link: &Link) -> Self {
        let predicate = serde_json::json!({
            "name": link.name,
            "command": link.command,
            "materials": descriptors_value(&descriptors(&link.materials)),
            "byproducts": Value::Object(link.byproducts.clone()),
            "environment": Value::Object(link.environment.clone()),
        });
        Statement {
            statement_type: STATEMENT_V1.to_owned(),
            subject: descriptors(&link.products),
            predicate_type: LINK_PREDICATE_V03.to_owned(),
            predicate,
        }
    }

    /// The link a link-predicate Statement records (products from subjects), checked as a
    /// classic link is.
    pub fn to_link(&self) -> Result<Link, StatementError> {
        if self.predicate_type != LINK_PREDICATE_V03 {
            return Err(StatementError::NotALink(self.predicate_type.clone()));
        }
        let pred = self
            .predicate
            .as_object()
            .ok_or_else(|| StatementError::Shape("link predicate is not an object".into()))?;
        let materials: Vec<ResourceDescriptor> = match pred.get("materials") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, v)| ResourceDescriptor::from_value(v, &format!("materials[{i}]")))
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(StatementError::Shape("`materials` is not a list".into())),
        };
        let mut link = serde_json::json!({
            "_type": "link",
            "materials": artifacts_json(&materials),
            "products": artifacts_json(&self.subject),
        });
        // Protobuf JSON leaves out empty fields: absent means empty.
        for field in ["name", "command", "byproducts", "environment"] {
            if let Some(v) = pred.get(field).filter(|v| !v.is_null()) {
                link[field] = v.clone();
            }
        }
        Ok(Link::from_value(&link)?)
    }

    /// The products the subjects name (for callers that only need the artifacts).
    pub fn subject_artifacts(&self) -> Artifacts {
        self.subject
            .iter()
            .map(|d| (ArtifactPath::new(d.name.clone()), d.digest.clone()))
            .collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::digest::Sha256;

    #[test]
    fn link_round_trips_through_a_statement() {
        let mut link = Link {
            name: "build".into(),
            command: vec!["make".into()],
            ..Link::default()
        };
        link.materials
            .insert("src.c".into(), DigestSet::sha256(Sha256::digest(b"a")));
        link.products
            .insert("app".into(), DigestSet::sha256(Sha256::digest(b"b")));
        link.byproducts.insert("return-value".into(), 0.into());
        let st = Statement::from_link(&link);
        let v = st.to_value();
        assert_eq!(v["_type"], STATEMENT_V1);
        assert_eq!(v["predicateType"], LINK_PREDICATE_V03);
        assert_eq!(v["subject"][0]["name"], "app");
        assert_eq!(v["predicate"]["materials"][0]["name"], "src.c");
        let back = Statement::from_value(&v).unwrap().to_link().unwrap();
        assert_eq!(back, link);
    }

    #[test]
    fn refuses_other_predicates_as_links() {
        let v = serde_json::json!({"_type": STATEMENT_V1, "subject": [],
            "predicateType": "https://slsa.dev/provenance/v1", "predicate": {}});
        assert!(matches!(
            Statement::from_value(&v).unwrap().to_link(),
            Err(StatementError::NotALink(_))
        ));
    }
}
