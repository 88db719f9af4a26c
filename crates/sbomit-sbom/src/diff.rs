//! Mutations and addenda computed as differences (SBOMit §5.1.1).
//!
//! [`diff`] is the RFC 6902 JSON Patch turning one JSON value into another: applying it to
//! the first gives exactly the second (a property test checks this for arbitrary values). It is
//! deterministic and small where edits are local:
//!
//! * objects are compared member by member (in key order): a missing member is removed, a new
//!   one added, a changed one diffed recursively;
//! * arrays are compared by their longest common prefix and suffix; in between, items are
//!   aligned (a longest common subsequence) on those that are the same element: equal, or
//!   naming the same identity (`bom-ref`, `SPDXID`, `spdxId`), aligned ones diffed
//!   recursively; the runs between them are paired by position and what one side has more of
//!   is removed (from the end backwards) or added (in order). Inserting or removing one
//!   component therefore costs one operation, and editing a field of a component one operation
//!   at that field's path, even together. A moved item is a removal and an insertion (no
//!   `move`), and beyond [`MAX_ALIGNMENT_CELLS`] item pairs the runs are paired by position
//!   only: still exact, only longer;
//! * anything else that differs (scalars, or values of different types) is replaced whole.
//!
//! [`sit_mutation`] is the mutation turning a SIT as generated into an edited one, to be put in
//! a document's mutations (`document create --mutation FORMAT=PATCH`). A SIT names its
//! generation (creation time, serial number or namespace, the embedded JSF signature): edits
//! there are left out of the mutation, since a mutation is applied to every later generation
//! and would otherwise pin one generation's values (a JSF signature is made after the mutation
//! anyway). [`addendum`] is the addendum turning a document into a newer one.

use serde_json::Value;

use crate::document::{Document, DocumentError};
use crate::jsonpatch::{Operation, Patch, Pointer};
use crate::sit::received::detect_format;
use crate::sit::Format;

/// Why a difference could not be computed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DiffError {
    /// One of the two SITs is not in a format this tool writes.
    #[error("the {side} SIT is not a SIT this tool writes (CycloneDX 1.2-1.7, SPDX 2.3 or SPDX 3.0.1 JSON)")]
    UnknownFormat { side: Side },
    #[error("the SITs are in different formats: {from} and {to}")]
    FormatMismatch {
        from: &'static str,
        to: &'static str,
    },
    /// Boxed: a document error is large, and diffs of SITs never carry one.
    #[error("the {side} document: {source}")]
    Document {
        side: Side,
        #[source]
        source: Box<DocumentError>,
    },
    /// An addendum that changes nothing would only add a signature.
    #[error("the documents do not differ: there is nothing to amend")]
    NoChange,
}

/// Which input a [`DiffError`] is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    From,
    To,
}

impl std::fmt::Display for Side {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Side::From => "old",
            Side::To => "new",
        })
    }
}

/// The patch turning `from` into `to` (see the module documentation).
pub fn diff(from: &Value, to: &Value) -> Patch {
    let mut ops = Vec::new();
    diff_at(&Pointer::root(), from, to, &mut ops);
    Patch(ops)
}

fn diff_at(path: &Pointer, from: &Value, to: &Value, ops: &mut Vec<Operation>) {
    if from == to {
        return;
    }
    match (from, to) {
        (Value::Object(a), Value::Object(b)) => {
            // Removals first, then changes and additions, each in key order: deterministic
            // whatever order the members were parsed in.
            let mut removed: Vec<&String> = a.keys().filter(|k| !b.contains_key(*k)).collect();
            removed.sort();
            for k in removed {
                ops.push(Operation::Remove {
                    path: path.child(k.as_str()),
                });
            }
            let mut keys: Vec<&String> = b.keys().collect();
            keys.sort();
            for k in keys {
                let (child, new) = (path.child(k.as_str()), &b[k]);
                match a.get(k) {
                    Some(old) => diff_at(&child, old, new, ops),
                    None => ops.push(Operation::Add {
                        path: child,
                        value: new.clone(),
                    }),
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => diff_arrays(path, a, b, ops),
        _ => ops.push(Operation::Replace {
            path: path.clone(),
            value: to.clone(),
        }),
    }
}

/// Above this many item pairs between the common prefix and suffix, the items are not
/// aligned (a quadratic table) but paired by position: still exact, only longer.
const MAX_ALIGNMENT_CELLS: usize = 1 << 22;

/// The identity of an array item that names one (a CycloneDX `bom-ref`, an SPDX 2 `SPDXID`,
/// an SPDX 3 `spdxId`): two items with the same identity are the same element, edited.
fn identity(v: &Value) -> Option<&str> {
    let m = v.as_object()?;
    ["bom-ref", "SPDXID", "spdxId"]
        .iter()
        .find_map(|k| m.get(*k).and_then(Value::as_str))
}

fn same_element(a: &Value, b: &Value) -> bool {
    a == b || identity(a).is_some_and(|x| identity(b) == Some(x))
}

/// The pairs (index in `a`, index in `b`) of a longest alignment of items that are the same
/// element (equal, or of the same identity), in order.
fn align(a: &[Value], b: &[Value]) -> Vec<(usize, usize)> {
    let (n, m) = (a.len(), b.len());
    // lcs[i][j]: the longest alignment of a[i..] and b[j..].
    let w = m + 1;
    let mut lcs = vec![0u32; (n + 1) * w];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i * w + j] = if same_element(&a[i], &b[j]) {
                lcs[(i + 1) * w + j + 1] + 1
            } else {
                lcs[(i + 1) * w + j].max(lcs[i * w + j + 1])
            };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < n && j < m {
        if same_element(&a[i], &b[j]) && lcs[i * w + j] == lcs[(i + 1) * w + j + 1] + 1 {
            out.push((i, j));
            i += 1;
            j += 1;
        } else if lcs[(i + 1) * w + j] >= lcs[i * w + j + 1] {
            i += 1;
        } else {
            j += 1;
        }
    }
    out
}

fn diff_arrays(path: &Pointer, a: &[Value], b: &[Value], ops: &mut Vec<Operation>) {
    let prefix = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let suffix = a[prefix..]
        .iter()
        .rev()
        .zip(b[prefix..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let (a_mid, b_mid) = (&a[prefix..a.len() - suffix], &b[prefix..b.len() - suffix]);
    let anchors = if a_mid.len().saturating_mul(b_mid.len()) <= MAX_ALIGNMENT_CELLS {
        align(a_mid, b_mid)
    } else {
        Vec::new()
    };
    // Runs between anchors are paired by position; `pos` is where the run starts in the array
    // as patched so far (everything before it already equals `b`).
    let mut pos = prefix;
    let (mut i, mut j) = (0, 0);
    for (ai, bj) in anchors
        .into_iter()
        .chain(std::iter::once((a_mid.len(), b_mid.len())))
    {
        pos = diff_run(path, pos, &a_mid[i..ai], &b_mid[j..bj], ops);
        if let (Some(x), Some(y)) = (a_mid.get(ai), b_mid.get(bj)) {
            diff_at(&path.child(pos.to_string()), x, y, ops);
            pos += 1;
        }
        (i, j) = (ai + 1, bj + 1);
    }
}

/// Turns the items `a` at `pos` into `b`: pairs by position diffed, the surplus removed from
/// the end backwards (so each index is still the item's own) or added in order. Returns the
/// index after the run.
fn diff_run(
    path: &Pointer,
    pos: usize,
    a: &[Value],
    b: &[Value],
    ops: &mut Vec<Operation>,
) -> usize {
    let paired = a.len().min(b.len());
    for (k, (x, y)) in a.iter().zip(b).enumerate() {
        diff_at(&path.child((pos + k).to_string()), x, y, ops);
    }
    for k in (paired..a.len()).rev() {
        ops.push(Operation::Remove {
            path: path.child((pos + k).to_string()),
        });
    }
    for (k, v) in b.iter().enumerate().skip(paired) {
        ops.push(Operation::Add {
            path: path.child((pos + k).to_string()),
            value: v.clone(),
        });
    }
    pos + b.len()
}

/// A SIT mutation computed from a generated SIT and its edited version.
#[derive(Clone, Debug, PartialEq)]
pub struct SitMutation {
    pub format: Format,
    pub patch: Patch,
    /// The places naming the generation where the SITs differ, left out of the patch.
    pub ignored: Vec<Pointer>,
}

/// Where a SIT names its generation rather than its content (see the module documentation).
fn generation_pointers(format: Format, sit: &Value) -> Vec<Pointer> {
    let p = |tokens: &[&str]| Pointer::from_tokens(tokens.iter().copied());
    match format {
        Format::Spdx23 => vec![p(&["creationInfo", "created"]), p(&["documentNamespace"])],
        Format::Spdx301 => sit
            .get("@graph")
            .and_then(Value::as_array)
            .and_then(|g| {
                g.iter()
                    .position(|e| e.get("type").and_then(Value::as_str) == Some("CreationInfo"))
            })
            .map(|i| vec![p(&["@graph", &i.to_string(), "created"])])
            .unwrap_or_default(),
        // Every CycloneDX version.
        _ => vec![
            p(&["serialNumber"]),
            p(&["metadata", "timestamp"]),
            p(&["signature"]),
        ],
    }
}

/// The value at `pointer` set to `value`, or removed when `value` is `None` (the parent must
/// exist; otherwise nothing changes).
fn set(doc: &mut Value, pointer: &Pointer, value: Option<Value>) {
    let Some((parent, last)) = pointer.split_last() else {
        return;
    };
    let mut cur = doc;
    for t in parent.tokens() {
        cur = match cur {
            Value::Object(m) => match m.get_mut(t) {
                Some(v) => v,
                None => return,
            },
            Value::Array(a) => match t.parse::<usize>().ok().and_then(|i| a.get_mut(i)) {
                Some(v) => v,
                None => return,
            },
            _ => return,
        };
    }
    match (cur, value) {
        (Value::Object(m), Some(v)) => {
            m.insert(last.to_owned(), v);
        }
        (Value::Object(m), None) => {
            m.remove(last);
        }
        (Value::Array(a), Some(v)) => {
            if let Some(slot) = last.parse::<usize>().ok().and_then(|i| a.get_mut(i)) {
                *slot = v;
            }
        }
        _ => {}
    }
}

/// The mutation turning `generated` (a SIT as `sit generate` wrote it) into `edited`. Both
/// must be SITs of the same format.
pub fn sit_mutation(generated: &Value, edited: &Value) -> Result<SitMutation, DiffError> {
    let format = detect_format(generated).ok_or(DiffError::UnknownFormat { side: Side::From })?;
    let to_format = detect_format(edited).ok_or(DiffError::UnknownFormat { side: Side::To })?;
    if format != to_format {
        return Err(DiffError::FormatMismatch {
            from: format.name(),
            to: to_format.name(),
        });
    }
    // The edited SIT with the generation's own values put back, so the patch does not
    // carry them.
    let mut target = edited.clone();
    let mut ignored = Vec::new();
    for pointer in generation_pointers(format, generated) {
        let old = pointer.get(generated);
        if pointer.get(edited) != old {
            set(&mut target, &pointer, old.cloned());
            ignored.push(pointer);
        }
    }
    Ok(SitMutation {
        format,
        patch: diff(generated, &target),
        ignored,
    })
}

/// A document's current state as an addendum sees it: without its `addenda`.
fn addendum_view(doc: &Document, side: Side) -> Result<Value, DiffError> {
    let current = doc.current().map_err(|source| DiffError::Document {
        side,
        source: Box::new(source),
    })?;
    let mut v = current.to_value();
    if let Value::Object(m) = &mut v {
        m.remove("addenda");
    }
    Ok(v)
}

/// The addendum patch turning `old` (with its addenda applied) into `new` (likewise): what
/// `document amend --from-diff` signs. Whether the patch is a legal addendum (it may add, not
/// rewrite, in-toto metadata) is for [`Document::amend`] to decide.
pub fn addendum(old: &Document, new: &Document) -> Result<Patch, DiffError> {
    let patch = diff(
        &addendum_view(old, Side::From)?,
        &addendum_view(new, Side::To)?,
    );
    if patch.is_empty() {
        return Err(DiffError::NoChange);
    }
    Ok(patch)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn ops(p: &Patch) -> Value {
        p.to_value()
    }

    #[test]
    fn equal_values_give_an_empty_patch() {
        let v = json!({"a": [1, {"b": null}], "c": "x"});
        assert!(diff(&v, &v.clone()).is_empty());
    }

    #[test]
    fn object_members_are_removed_added_and_diffed_in_key_order() {
        let a = json!({"z": 1, "keep": {"x": 1, "y": 2}, "gone": true});
        let b = json!({"keep": {"x": 1, "y": 3}, "new": [1], "z": 1});
        assert_eq!(
            ops(&diff(&a, &b)),
            json!([
                {"op": "remove", "path": "/gone"},
                {"op": "replace", "path": "/keep/y", "value": 3},
                {"op": "add", "path": "/new", "value": [1]}
            ])
        );
    }

    #[test]
    fn one_inserted_or_removed_array_item_is_one_operation() {
        let a = json!([{"n": 1}, {"n": 2}, {"n": 3}]);
        let b = json!([{"n": 1}, {"n": 9}, {"n": 2}, {"n": 3}]);
        assert_eq!(
            ops(&diff(&a, &b)),
            json!([{"op": "add", "path": "/1", "value": {"n": 9}}])
        );
        assert_eq!(ops(&diff(&b, &a)), json!([{"op": "remove", "path": "/1"}]));
    }

    #[test]
    fn an_edited_array_item_is_patched_at_the_edited_field() {
        let a = json!({"components": [{"name": "a", "v": 1}, {"name": "b", "v": 1}]});
        let b = json!({"components": [{"name": "a", "v": 1}, {"name": "b", "v": 2, "d": "x"}]});
        assert_eq!(
            ops(&diff(&a, &b)),
            json!([
                {"op": "add", "path": "/components/1/d", "value": "x"},
                {"op": "replace", "path": "/components/1/v", "value": 2}
            ])
        );
    }

    #[test]
    fn an_insertion_and_an_edit_further_on_stay_one_operation_each() {
        let a = json!([{"bom-ref": "a"}, {"bom-ref": "b"}, {"bom-ref": "c"}, {"bom-ref": "d"}]);
        let b = json!([{"bom-ref": "a"}, {"bom-ref": "new"}, {"bom-ref": "b"},
                       {"bom-ref": "c", "licenses": []}, {"bom-ref": "d"}]);
        assert_eq!(
            ops(&diff(&a, &b)),
            json!([
                {"op": "add", "path": "/1", "value": {"bom-ref": "new"}},
                {"op": "add", "path": "/3/licenses", "value": []}
            ])
        );
    }

    #[test]
    fn items_of_the_same_identity_are_diffed_not_replaced() {
        let a = json!([{"bom-ref": "x", "v": 1}, {"bom-ref": "y", "v": 1}]);
        let b = json!([{"bom-ref": "y", "v": 2}]);
        assert_eq!(
            ops(&diff(&a, &b)),
            json!([
                {"op": "remove", "path": "/0"},
                {"op": "replace", "path": "/0/v", "value": 2}
            ])
        );
    }

    #[test]
    fn keys_needing_escapes_are_escaped() {
        let a = json!({"a/b": 1, "c~d": 1});
        let b = json!({"a/b": 2, "c~d": 2});
        assert_eq!(
            ops(&diff(&a, &b)),
            json!([
                {"op": "replace", "path": "/a~1b", "value": 2},
                {"op": "replace", "path": "/c~0d", "value": 2}
            ])
        );
    }

    #[test]
    fn a_different_root_type_is_one_replacement_of_the_whole() {
        let p = diff(&json!([1]), &json!({"a": 1}));
        assert_eq!(
            ops(&p),
            json!([{"op": "replace", "path": "", "value": {"a": 1}}])
        );
        assert_eq!(p.apply(&json!([1])).unwrap(), json!({"a": 1}));
    }

    #[test]
    fn sit_mutation_leaves_out_the_generation_and_refuses_mixed_formats() {
        let generated = json!({"bomFormat": "CycloneDX", "specVersion": "1.6",
            "serialNumber": "urn:uuid:1", "metadata": {"timestamp": "2025-01-01T00:00:00Z"},
            "signature": {"algorithm": "Ed25519", "value": "x"}, "components": []});
        let mut edited = generated.clone();
        edited["serialNumber"] = json!("urn:uuid:2");
        edited["metadata"]["timestamp"] = json!("2026-01-01T00:00:00Z");
        edited.as_object_mut().unwrap().remove("signature");
        edited["metadata"]["supplier"] = json!({"name": "ACME"});
        let m = sit_mutation(&generated, &edited).unwrap();
        assert_eq!(m.format, Format::CycloneDx16);
        assert_eq!(
            ops(&m.patch),
            json!([{"op": "add", "path": "/metadata/supplier", "value": {"name": "ACME"}}])
        );
        assert_eq!(m.ignored.len(), 3);

        let mut older = generated.clone();
        older["specVersion"] = json!("1.2");
        assert!(matches!(
            sit_mutation(&generated, &older),
            Err(DiffError::FormatMismatch {
                from: "cyclonedx-1.6",
                to: "cyclonedx-1.2"
            })
        ));
        assert!(matches!(
            sit_mutation(&json!({}), &generated),
            Err(DiffError::UnknownFormat { side: Side::From })
        ));
    }

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i32>().prop_map(|n| json!(n)),
            Just(json!(1.5)),
            "[a-c~/0-]{0,3}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 5, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                // Elements with an identity, few enough to repeat: the alignment by identity.
                ("[ab]", inner.clone()).prop_map(|(id, v)| json!({"bom-ref": id, "v": v})),
                prop::collection::btree_map("[a-c~/0-]{0,2}", inner, 0..5)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// An edit of `v` at a random place: a value replaced, an array item inserted or removed,
    /// an object member added or removed. `choice` picks the place, `value` what goes there.
    fn edit(v: &mut Value, choice: &mut u64, value: &Value) {
        let here = *choice % 4 == 0;
        *choice /= 4;
        match v {
            Value::Array(a) if !a.is_empty() && !here => {
                let i = (*choice as usize) % a.len();
                *choice /= 7;
                edit(&mut a[i], choice, value);
            }
            Value::Object(m) if !m.is_empty() && !here => {
                let k = m.keys().nth((*choice as usize) % m.len()).cloned().unwrap();
                *choice /= 7;
                if let Some(child) = m.get_mut(&k) {
                    edit(child, choice, value);
                }
            }
            Value::Array(a) => match *choice % 3 {
                0 if !a.is_empty() => {
                    let i = (*choice as usize / 3) % a.len();
                    a.remove(i);
                }
                1 => {
                    let i = (*choice as usize / 3) % (a.len() + 1);
                    a.insert(i, value.clone());
                }
                _ => *v = value.clone(),
            },
            Value::Object(m) => match *choice % 3 {
                0 if !m.is_empty() => {
                    let k = m
                        .keys()
                        .nth((*choice as usize / 3) % m.len())
                        .cloned()
                        .unwrap();
                    m.remove(&k);
                }
                1 => {
                    m.insert(format!("k{}", *choice % 5), value.clone());
                }
                _ => *v = value.clone(),
            },
            _ => *v = value.clone(),
        }
    }

    proptest! {
        /// Issue 11 acceptance g: the diff of any two values turns the first into the second.
        #[test]
        fn applying_the_diff_of_arbitrary_values_gives_the_second(a in arb_json(), b in arb_json()) {
            let p = diff(&a, &b);
            prop_assert_eq!(p.apply(&a).unwrap(), b.clone());
            // The patch survives its JSON form (what `sit diff` writes).
            prop_assert_eq!(Patch::from_value(&p.to_value()).unwrap(), p);
        }

        /// ... and of a value and its arbitrarily edited version, the same patch every time.
        #[test]
        fn applying_the_diff_of_arbitrary_edits_gives_the_edited_value(
            a in arb_json(),
            edits in prop::collection::vec((any::<u64>(), arb_json()), 1..4),
        ) {
            let mut b = a.clone();
            for (choice, value) in &edits {
                let mut c = *choice;
                edit(&mut b, &mut c, value);
            }
            let p = diff(&a, &b);
            prop_assert_eq!(p.apply(&a).unwrap(), b.clone());
            prop_assert_eq!(diff(&a, &b), p, "deterministic");
        }
    }
}
