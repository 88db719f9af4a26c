//! Envelope payloads by `_type`: a layout, a link, or an in-toto Statement v1 recording a
//! link (link predicate v0.3), read as a link. Above both the models and Statements, so
//! neither needs the other's reader.

use serde_json::Value;

use crate::model::{Layout, Link, ModelError};
use crate::statement::{is_statement_type, Statement, StatementError};

/// A layout or a link, told apart by `_type` as `Metadata.get_payload` does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Metadata {
    Layout(Layout),
    Link(Link),
}

impl Metadata {
    /// Reads an envelope payload as a layout or a link by its `_type`. in-toto Statement v1
    /// link attestations (link predicate v0.3) are read as links.
    pub fn from_payload(value: &Value) -> Result<Self, MetadataError> {
        match value.get("_type").and_then(Value::as_str) {
            Some("layout") => Ok(Metadata::Layout(Layout::from_value(value)?)),
            Some("link") => Ok(Metadata::Link(Link::from_value(value)?)),
            Some(t) if is_statement_type(t) => {
                let statement = Statement::from_value(value)?;
                Ok(Metadata::Link(statement.to_link()?))
            }
            other => Err(MetadataError::UnknownType(
                other.map_or_else(|| "nothing".to_owned(), str::to_owned),
            )),
        }
    }
}

/// Why an envelope payload is neither a layout nor a link.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MetadataError {
    #[error("payload `_type` is {0:?}: neither a layout, a link nor an in-toto Statement")]
    UnknownType(String),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Statement(#[from] StatementError),
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::digest::{DigestSet, Sha256};

    #[test]
    fn a_link_statement_reads_as_the_link_it_records() {
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
        let v = Statement::from_link(&link).to_value();
        assert_eq!(Metadata::from_payload(&v).unwrap(), Metadata::Link(link));
    }

    #[test]
    fn other_types_are_neither_layouts_nor_links() {
        let v = serde_json::json!({"_type": "something"});
        assert_eq!(
            Metadata::from_payload(&v),
            Err(MetadataError::UnknownType("something".into()))
        );
    }
}
