//! The SIT formats and their names: the bottom layer, used by the document's role steps
//! as well as by SIT generation.

/// The SIT formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Format {
    CycloneDx12,
    CycloneDx13,
    CycloneDx14,
    CycloneDx15,
    CycloneDx16,
    CycloneDx17,
    Spdx23,
    Spdx301,
}

impl Format {
    /// Oldest first within a family (the newest of a family is the one a family-wide
    /// mutation is checked in).
    pub const ALL: [Format; 8] = [
        Format::CycloneDx12,
        Format::CycloneDx13,
        Format::CycloneDx14,
        Format::CycloneDx15,
        Format::CycloneDx16,
        Format::CycloneDx17,
        Format::Spdx23,
        Format::Spdx301,
    ];

    /// The CLI name: `cyclonedx-1.6`, `spdx-2.3`, `spdx-3.0.1`, ...
    pub fn name(self) -> &'static str {
        match self {
            Format::CycloneDx12 => "cyclonedx-1.2",
            Format::CycloneDx13 => "cyclonedx-1.3",
            Format::CycloneDx14 => "cyclonedx-1.4",
            Format::CycloneDx15 => "cyclonedx-1.5",
            Format::CycloneDx16 => "cyclonedx-1.6",
            Format::CycloneDx17 => "cyclonedx-1.7",
            Format::Spdx23 => "spdx-2.3",
            Format::Spdx301 => "spdx-3.0.1",
        }
    }

    pub fn parse(s: &str) -> Option<Format> {
        match s.to_ascii_lowercase().as_str() {
            "cyclonedx" | "cyclonedx-1.6" | "cdx" => Some(Format::CycloneDx16),
            "cyclonedx-1.2" => Some(Format::CycloneDx12),
            "cyclonedx-1.3" => Some(Format::CycloneDx13),
            "cyclonedx-1.4" => Some(Format::CycloneDx14),
            "cyclonedx-1.5" => Some(Format::CycloneDx15),
            "cyclonedx-1.7" => Some(Format::CycloneDx17),
            "spdx-2.3" | "spdx2" => Some(Format::Spdx23),
            "spdx-3.0.1" | "spdx3" => Some(Format::Spdx301),
            _ => None,
        }
    }

    /// The format family name that mutations may also be keyed by (`cyclonedx` covers every
    /// CycloneDX version).
    pub fn family(self) -> &'static str {
        match self {
            Format::CycloneDx12
            | Format::CycloneDx13
            | Format::CycloneDx14
            | Format::CycloneDx15
            | Format::CycloneDx16
            | Format::CycloneDx17 => "cyclonedx",
            Format::Spdx23 => "spdx-2.3",
            Format::Spdx301 => "spdx-3.0.1",
        }
    }

    /// The name `validate_sbom.sh` takes: the family name, which it knows for each family.
    pub fn validator_name(self) -> &'static str {
        self.family()
    }

    /// The predicate type of the in-toto Statement that signs a SIT of this format.
    pub fn predicate_type(self) -> &'static str {
        match self {
            Format::CycloneDx12
            | Format::CycloneDx13
            | Format::CycloneDx14
            | Format::CycloneDx15
            | Format::CycloneDx16
            | Format::CycloneDx17 => "https://cyclonedx.org/bom",
            Format::Spdx23 => "https://spdx.dev/Document/v2.3",
            Format::Spdx301 => "https://spdx.dev/Document/v3",
        }
    }
}

impl Format {
    /// Whether a SIT of this format can carry an embedded JSF signature: CycloneDX has a
    /// `signature` property from 1.4 on. Older CycloneDX and SPDX SITs are signed by their
    /// DSSE envelope only.
    pub fn can_embed_jsf(self) -> bool {
        matches!(
            self,
            Format::CycloneDx14 | Format::CycloneDx15 | Format::CycloneDx16 | Format::CycloneDx17
        )
    }
}
