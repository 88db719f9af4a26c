//! Graph facts from one registered statement (issue #5): the subjects it is about, the SBOM
//! component edges it states and the vulnerability and VEX facts it asserts. The Store indexes
//! these facts and answers "what is inside X", "which artifacts contain Y" and "which artifacts
//! are affected by V" with recursive queries over them.
//!
//! The formats are read by `sbomit_sbom::read`; this module only opens the envelope the
//! statement was registered in (DSSE around an in-toto Statement, or a COSE Signed Statement
//! whose `sub` is its subject) and hands the content over. No IO and no signature check (a
//! statement is admitted before it is indexed); never panics, whatever the bytes.

use sbomit_intoto::envelope::Envelope;
use sbomit_sbom::read;
use sbomit_scitt::cose::{ContentType, SignedStatement};

pub use sbomit_sbom::read::{Edge, FactKind, Facts, Node, VulnFact, VulnStatus};

use crate::admission::EntryKind;

/// The graph facts of a registered statement: `statement` as stored, `statement_type` its
/// predicate type (DSSE) or content type (COSE), used when the statement itself cannot be read
/// (the types the statement states win otherwise). Never panics, whatever the bytes.
pub fn extract(kind: EntryKind, statement_type: &str, statement: &[u8]) -> Facts {
    match kind {
        EntryKind::Dsse => match Envelope::parse(statement) {
            Ok(env) => read::statement(env.payload(), statement_type),
            Err(e) => read::unreadable(
                FactKind::of_predicate_type(statement_type),
                format!("not a DSSE envelope: {e}"),
            ),
        },
        EntryKind::Cose => match SignedStatement::parse(statement) {
            Ok(st) => {
                let content_type = match st.content_type() {
                    Some(ContentType::Text(t)) => t.clone(),
                    Some(ContentType::CoapFormat(n)) => format!("coap-content-format:{n}"),
                    None => statement_type.to_owned(),
                };
                read::payload(Node::from_identifier(st.sub()), &content_type, st.payload())
            }
            Err(e) => read::unreadable(
                FactKind::of_content_type(statement_type),
                format!("not a COSE Signed Statement: {e}"),
            ),
        },
    }
}
