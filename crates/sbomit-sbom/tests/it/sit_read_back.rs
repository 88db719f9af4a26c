//! SITs read back by the graph readers: a SIT emitted in every format (CycloneDX 1.5 to 1.7,
//! SPDX 2.3, SPDX 3.0.1) from the same document gives back, through `sbomit_sbom::read`, the components
//! of the inventory it was emitted from (names, purls and sha256s), the same in every format.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;

use sbomit_sbom::read::{self, FactKind, Node};
use sbomit_sbom::sit::{self, Format, HashAlg, Inventory};

use crate::sit_validate::{chain, inventory, options};

/// (name, purl, sha256) of a component.
type Seen = (Option<String>, Option<String>, Option<String>);

fn from_inventory(inv: &Inventory) -> BTreeSet<Seen> {
    inv.components
        .iter()
        .map(|c| {
            let sha = c
                .hashes
                .iter()
                .find(|h| h.alg == HashAlg::Sha256)
                .map(|h| h.hex.clone());
            (Some(c.name.clone()), c.purl.clone(), sha)
        })
        .collect()
}

fn from_facts(nodes: &[Node]) -> BTreeSet<Seen> {
    nodes
        .iter()
        .map(|n| (n.name.clone(), n.purl.clone(), n.sha256.clone()))
        .collect()
}

#[test]
fn sit_components_read_back_alike_in_every_format() {
    let c = chain();
    let inv = inventory(&c);
    let want = from_inventory(&inv);
    // Files (sha256 and path), Cargo packages (purl and sha256), npm packages (purl only: their
    // lockfile has sha512) and the product.
    assert!(want.len() > 300, "{}", want.len());
    assert!(want
        .iter()
        .any(|(_, purl, sha)| purl.is_some() && sha.is_none()));
    for format in Format::ALL {
        let content_type = match format {
            Format::Spdx23 | Format::Spdx301 => "application/spdx+json",
            _ => "application/vnd.cyclonedx+json",
        };
        let s = sit::generate(&c.doc, &inv, format, &options()).unwrap();
        let f = read::payload([], content_type, Some(&s.to_bytes()));
        assert_eq!(
            (f.kind, f.unparsed.as_deref()),
            (FactKind::Sbom, None),
            "{format:?}"
        );
        let got = from_facts(&f.nodes);
        let missing: Vec<_> = want.difference(&got).collect();
        let extra: Vec<_> = got.difference(&want).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{format:?}: missing {missing:#?}\nextra {extra:#?}"
        );
    }
}
