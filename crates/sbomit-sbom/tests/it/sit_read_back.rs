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

/// The readers key artifacts by sha256: a package and the attested archive it was fetched as
/// (same bytes) are one node, named as the package.
fn from_inventory(inv: &Inventory) -> BTreeSet<Seen> {
    let all: Vec<Seen> = inv
        .components
        .iter()
        .map(|c| {
            let sha = c
                .hashes
                .iter()
                .find(|h| h.alg == HashAlg::Sha256)
                .map(|h| h.hex.clone());
            (Some(c.name.clone()), c.purl.clone(), sha)
        })
        .collect();
    all.iter()
        .filter(|(_, purl, sha)| {
            purl.is_some() || !all.iter().any(|(_, p, s)| p.is_some() && s == sha)
        })
        .map(|(name, purl, sha)| {
            // Which of the two names the merged node keeps depends on the format's order.
            let shared = all.iter().filter(|(_, _, s)| s == sha).count() > 1;
            (
                (!shared).then(|| name.clone()).flatten(),
                purl.clone(),
                sha.clone(),
            )
        })
        .collect()
}

/// [`from_facts`], names dropped for the digests `want` shares between components.
fn normalised(got: BTreeSet<Seen>, want: &BTreeSet<Seen>) -> BTreeSet<Seen> {
    got.into_iter()
        .map(|(name, purl, sha)| {
            let shared = want
                .iter()
                .any(|(n, _, s)| n.is_none() && *s == sha && sha.is_some());
            (if shared { None } else { name }, purl, sha)
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
    // Files (sha256 and path), Cargo packages (purl and sha256), npm packages (purl and the
    // sha256 of their attested tarball) and the product: every one has a sha256 (issue 11).
    assert!(want.len() > 300, "{}", want.len());
    assert!(want.iter().all(|(_, _, sha)| sha.is_some()));
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
        // The SIT's document is a node of its own (issue 11), not a component.
        let components: Vec<read::Node> = f
            .nodes
            .iter()
            .filter(|n| n.name.as_deref() != Some("sbomit document"))
            .cloned()
            .collect();
        let got = normalised(from_facts(&components), &want);
        let missing: Vec<_> = want.difference(&got).collect();
        let extra: Vec<_> = got.difference(&want).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{format:?}: missing {missing:#?}\nextra {extra:#?}"
        );
    }
}
