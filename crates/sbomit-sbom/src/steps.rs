//! The layout steps SBOMit reserves for its roles (the SIT mutator and the SIT generator,
//! see [`crate::roles`]): their names and which step of a layout plays a role for a format.
//! Only names and the layout: the document and SIT generation both build on this.

use std::collections::{BTreeMap, BTreeSet};

use crate::format::Format;
use sbomit_intoto::model::{Layout, Step};

/// The mutator's step name (and the prefix of per-format mutator steps).
pub const MUTATE_STEP: &str = "sbomit-mutate";
/// The SIT generator's step name (and the prefix of per-format generator steps).
pub const SIT_STEP: &str = "sbomit-sit";

/// The artifact name of the document version a generator link was made from.
pub const DOCUMENT_ARTIFACT: &str = "sbomit/document";
/// The `environment` key of a generator link holding the generation options.
pub const OPTIONS_KEY: &str = "sbomit-sit";

/// A role the layout names with a reserved step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Mutator,
    Generator,
}

impl Role {
    pub fn prefix(self) -> &'static str {
        match self {
            Role::Mutator => MUTATE_STEP,
            Role::Generator => SIT_STEP,
        }
    }

    /// The role a step name reserves, if any (`sbomit-mutate`, `sbomit-sit-spdx-2.3`, ...).
    pub fn of_step(name: &str) -> Option<Role> {
        [Role::Mutator, Role::Generator].into_iter().find(|r| {
            let p = r.prefix();
            name == p || name.strip_prefix(p).is_some_and(|s| s.starts_with('-'))
        })
    }
}

/// The layout's steps of `role`.
pub fn role_steps(layout: &Layout, role: Role) -> impl Iterator<Item = &Step> {
    layout
        .steps
        .iter()
        .filter(move |s| Role::of_step(&s.name) == Some(role))
}

/// The step of `role` responsible for SIT format (or mutation key) `key`: the most specific
/// of `<prefix>-<key>`, `<prefix>-<family>`, `<prefix>`.
pub fn step_for<'l>(layout: &'l Layout, role: Role, key: &str) -> Option<&'l Step> {
    let p = role.prefix();
    let mut names = vec![format!("{p}-{key}")];
    if let Some(f) = Format::parse(key) {
        names.push(format!("{p}-{}", f.name()));
        names.push(format!("{p}-{}", f.family()));
    }
    names.push(p.to_owned());
    names.into_iter().find_map(|n| layout.step(&n))
}

/// The root-layout step a metadata entry belongs to (`build` for `build.1a2b3c4d.link` and for
/// everything under `build.1a2b3c4d/`).
pub fn metadata_step(name: &str) -> Option<&str> {
    let first = name.split('/').next()?;
    let stem = if name.contains('/') {
        first
    } else {
        first.strip_suffix(".link")?
    };
    stem.rsplit_once('.').map(|(step, _)| step)
}

/// Whether a metadata entry is a role's link (not a build step's).
pub fn is_role_entry(name: &str) -> bool {
    metadata_step(name).is_some_and(|s| Role::of_step(s).is_some())
}

/// The generator steps without any link in `doc`: verification leaves them out until a SIT
/// of theirs is generated (in-toto verifiers need the links, so they see them afterwards).
pub fn generator_steps_without_links<V>(
    metadata: &BTreeMap<String, V>,
    layout: &Layout,
) -> BTreeSet<String> {
    role_steps(layout, Role::Generator)
        .filter(|s| {
            !s.pubkeys
                .iter()
                .any(|k| metadata.contains_key(&format!("{}.{}.link", s.name, k.short())))
        })
        .map(|s| s.name.clone())
        .collect()
}

/// Every role step of the layout (left out of the summary: they deliver no product).
pub fn all_role_steps(layout: &Layout) -> BTreeSet<String> {
    layout
        .steps
        .iter()
        .filter(|s| Role::of_step(&s.name).is_some())
        .map(|s| s.name.clone())
        .collect()
}
