//! RFC 6902 JSON Patch over RFC 6901 JSON Pointers.
//!
//! The operations are applied by the `json-patch` crate. This module keeps what the SIT code
//! and the CLI need around it: its own [`Patch`]/[`Operation`]/[`Pointer`] types (with
//! [`Operation::touches`]), `test` comparing numbers by value (1 == 1.0, RFC 6902 §4.6, which
//! the crate does not do), and precise failure reasons ([`OpFailure`]), worked out again when
//! the crate reports one.
//!
//! Used for SBOMit mutations (a patch applied to a generated SIT) and addenda (a patch applied
//! to an SBOMit document). Application is atomic: the patch runs on a copy, and the first
//! failing operation is returned as an error naming its index, so a caller never sees a half
//! applied document.
//!
//! [`Operation::touches`] says which pointers an operation writes, removes or reads, so the
//! SIT code can tell which operations reach into in-toto-derived content.

use std::fmt;

use serde_json::{Map, Value};

/// Why a string is not a JSON Pointer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PointerError {
    #[error("JSON pointer {pointer:?} must be empty or start with '/'")]
    NoLeadingSlash { pointer: String },
    #[error("JSON pointer {pointer:?}: '~' must be followed by '0' or '1'")]
    BadEscape { pointer: String },
}

/// A parsed RFC 6901 JSON Pointer: the reference tokens, unescaped.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pointer {
    tokens: Vec<String>,
}

impl Pointer {
    /// The pointer to the whole document (`""`).
    pub fn root() -> Self {
        Pointer { tokens: Vec::new() }
    }

    /// Parses `""` or `/a/b~1c/0` (`~1` is `/`, `~0` is `~`).
    pub fn parse(s: &str) -> Result<Self, PointerError> {
        if s.is_empty() {
            return Ok(Self::root());
        }
        let Some(rest) = s.strip_prefix('/') else {
            return Err(PointerError::NoLeadingSlash {
                pointer: s.to_owned(),
            });
        };
        let mut tokens = Vec::new();
        for raw in rest.split('/') {
            let mut token = String::with_capacity(raw.len());
            let mut chars = raw.chars();
            while let Some(c) = chars.next() {
                if c == '~' {
                    match chars.next() {
                        Some('0') => token.push('~'),
                        Some('1') => token.push('/'),
                        _ => {
                            return Err(PointerError::BadEscape {
                                pointer: s.to_owned(),
                            })
                        }
                    }
                } else {
                    token.push(c);
                }
            }
            tokens.push(token);
        }
        Ok(Pointer { tokens })
    }

    /// Builds a pointer from unescaped tokens.
    pub fn from_tokens<I, S>(tokens: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Pointer {
            tokens: tokens.into_iter().map(Into::into).collect(),
        }
    }

    pub fn tokens(&self) -> &[String] {
        &self.tokens
    }

    /// This pointer with one more token.
    pub fn child(&self, token: impl Into<String>) -> Self {
        let mut tokens = self.tokens.clone();
        tokens.push(token.into());
        Pointer { tokens }
    }

    /// The parent pointer and the last token (`None` for the root).
    pub fn split_last(&self) -> Option<(Pointer, &str)> {
        let (last, parent) = self.tokens.split_last()?;
        Some((
            Pointer {
                tokens: parent.to_vec(),
            },
            last.as_str(),
        ))
    }

    /// True when `self` is `other` or one of its ancestors.
    pub fn is_prefix_of(&self, other: &Pointer) -> bool {
        other.tokens.len() >= self.tokens.len() && other.tokens[..self.tokens.len()] == self.tokens
    }

    /// The value this pointer names in `doc`, if any (`-` never names anything).
    pub fn get<'a>(&self, doc: &'a Value) -> Option<&'a Value> {
        let mut cur = doc;
        for t in &self.tokens {
            cur = match cur {
                Value::Object(m) => m.get(t)?,
                Value::Array(a) => a.get(array_index(t).ok()?)?,
                _ => return None,
            };
        }
        Some(cur)
    }
}

impl Pointer {
    /// The same pointer for the `json-patch` crate.
    fn to_json_patch(&self) -> json_patch::jsonptr::PointerBuf {
        json_patch::jsonptr::PointerBuf::from_tokens(
            self.tokens
                .iter()
                .map(|t| json_patch::jsonptr::Token::new(t.as_str())),
        )
    }
}

impl fmt::Display for Pointer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for t in &self.tokens {
            f.write_str("/")?;
            f.write_str(&t.replace('~', "~0").replace('/', "~1"))?;
        }
        Ok(())
    }
}

/// An array index token: decimal without leading zeros (RFC 6901 §4).
fn array_index(token: &str) -> Result<usize, ()> {
    let ok = !token.is_empty()
        && token.bytes().all(|b| b.is_ascii_digit())
        && (token == "0" || !token.starts_with('0'));
    if !ok {
        return Err(());
    }
    token.parse().map_err(|_| ())
}

/// One JSON Patch operation.
#[derive(Clone, Debug, PartialEq)]
pub enum Operation {
    Add { path: Pointer, value: Value },
    Remove { path: Pointer },
    Replace { path: Pointer, value: Value },
    Move { from: Pointer, path: Pointer },
    Copy { from: Pointer, path: Pointer },
    Test { path: Pointer, value: Value },
}

/// What an operation does to a location.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TouchKind {
    /// Only read (`test`, the source of `copy`).
    Read,
    /// Written: a value is put there (`add`, `replace`, the target of `move`/`copy`).
    Write,
    /// Removed (`remove`, the source of `move`).
    Remove,
}

/// A location an operation touches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Touch {
    pub kind: TouchKind,
    pub pointer: Pointer,
}

impl Operation {
    /// The operation's name as written in the patch (`"add"`, `"remove"`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Operation::Add { .. } => "add",
            Operation::Remove { .. } => "remove",
            Operation::Replace { .. } => "replace",
            Operation::Move { .. } => "move",
            Operation::Copy { .. } => "copy",
            Operation::Test { .. } => "test",
        }
    }

    /// The target location (`path`).
    pub fn path(&self) -> &Pointer {
        match self {
            Operation::Add { path, .. }
            | Operation::Remove { path }
            | Operation::Replace { path, .. }
            | Operation::Move { path, .. }
            | Operation::Copy { path, .. }
            | Operation::Test { path, .. } => path,
        }
    }

    /// The pointers this operation touches and how. A write at `p` changes everything under
    /// `p`; a write into an array also shifts the indices of the elements after it.
    pub fn touches(&self) -> Vec<Touch> {
        let t = |kind, pointer: &Pointer| Touch {
            kind,
            pointer: pointer.clone(),
        };
        match self {
            Operation::Add { path, .. } | Operation::Replace { path, .. } => {
                vec![t(TouchKind::Write, path)]
            }
            Operation::Remove { path } => vec![t(TouchKind::Remove, path)],
            Operation::Move { from, path } => {
                vec![t(TouchKind::Remove, from), t(TouchKind::Write, path)]
            }
            Operation::Copy { from, path } => {
                vec![t(TouchKind::Read, from), t(TouchKind::Write, path)]
            }
            Operation::Test { path, .. } => vec![t(TouchKind::Read, path)],
        }
    }

    /// The operation as JSON (`{"op": ..., "path": ..., ...}`).
    pub fn to_value(&self) -> Value {
        let mut m = Map::new();
        m.insert("op".into(), Value::String(self.name().into()));
        m.insert("path".into(), Value::String(self.path().to_string()));
        match self {
            Operation::Add { value, .. }
            | Operation::Replace { value, .. }
            | Operation::Test { value, .. } => {
                m.insert("value".into(), value.clone());
            }
            Operation::Move { from, .. } | Operation::Copy { from, .. } => {
                m.insert("from".into(), Value::String(from.to_string()));
            }
            Operation::Remove { .. } => {}
        }
        Value::Object(m)
    }

    /// The operation for the `json-patch` crate, which applies everything but `test`.
    fn to_json_patch(&self) -> json_patch::PatchOperation {
        use json_patch::{
            AddOperation, CopyOperation, MoveOperation, PatchOperation, RemoveOperation,
            ReplaceOperation, TestOperation,
        };
        match self {
            Operation::Add { path, value } => PatchOperation::Add(AddOperation {
                path: path.to_json_patch(),
                value: value.clone(),
            }),
            Operation::Remove { path } => PatchOperation::Remove(RemoveOperation {
                path: path.to_json_patch(),
            }),
            Operation::Replace { path, value } => PatchOperation::Replace(ReplaceOperation {
                path: path.to_json_patch(),
                value: value.clone(),
            }),
            Operation::Move { from, path } => PatchOperation::Move(MoveOperation {
                from: from.to_json_patch(),
                path: path.to_json_patch(),
            }),
            Operation::Copy { from, path } => PatchOperation::Copy(CopyOperation {
                from: from.to_json_patch(),
                path: path.to_json_patch(),
            }),
            Operation::Test { path, value } => PatchOperation::Test(TestOperation {
                path: path.to_json_patch(),
                value: value.clone(),
            }),
        }
    }

    /// Applies this one operation in place; on error `doc` is as it was.
    fn apply(&self, doc: &mut Value) -> Result<(), OpFailure> {
        if let Operation::Test { path, value } = self {
            // Our own `test`: the crate compares with `serde_json`'s `==`, where 1 and 1.0
            // differ; RFC 6902 §4.6 says numbers are equal when their values are.
            let found = path.get(doc).ok_or(OpFailure::NotFound {
                pointer: path.to_string(),
            })?;
            return if json_equal(found, value) {
                Ok(())
            } else {
                Err(OpFailure::TestFailed)
            };
        }
        // One operation at a time through the crate's atomic `patch`, so that the reason for a
        // failure can be worked out on the document it failed on.
        let op = self.to_json_patch();
        // The crate's `move` removes the source before adding it at the target and does not
        // put it back when the add fails: keep the source (only for `move`) to restore it.
        let source = match self {
            Operation::Move { from, .. } => from.get(doc).cloned().map(|v| (from, v)),
            _ => None,
        };
        json_patch::patch(doc, std::slice::from_ref(&op)).map_err(|e| {
            if let Some((from, value)) = source {
                // The crate reports a failed removal of the source as an invalid `from`, and
                // only a failed add (after the removal) as an invalid `path`.
                if matches!(e.kind, json_patch::PatchErrorKind::InvalidPointer) {
                    let back = Operation::Add {
                        path: from.clone(),
                        value,
                    };
                    // Re-adding where it was removed from cannot fail (its parent is there).
                    let _ = json_patch::patch(doc, std::slice::from_ref(&back.to_json_patch()));
                }
            }
            self.diagnose(doc, &e.kind)
        })
    }

    /// Why this operation failed on `doc`. The crate says only "path is invalid" for a
    /// missing member, a bad index and a non-container alike; callers and tests rely on
    /// which it was (and on the array's length), so the pointers are walked again here,
    /// read-only, on the error path only.
    fn diagnose(&self, doc: &Value, kind: &json_patch::PatchErrorKind) -> OpFailure {
        let precise = match self {
            Operation::Add { path, .. } => check_add(doc, path),
            Operation::Remove { path } => check_remove(doc, path),
            Operation::Replace { path, .. } => locate(doc, path).map(drop),
            Operation::Move { from, path } if from == path => {
                from.get(doc).map(drop).ok_or_else(|| OpFailure::NotFound {
                    pointer: from.to_string(),
                })
            }
            Operation::Move { from, path } if from.is_prefix_of(path) => {
                Err(OpFailure::MoveIntoItself)
            }
            Operation::Move { from, path } => check_remove(doc, from).and_then(|()| {
                // The target is looked up after the source is gone (indices shift).
                let mut after = doc.clone();
                let remove = Operation::Remove { path: from.clone() }.to_json_patch();
                match json_patch::patch(&mut after, std::slice::from_ref(&remove)) {
                    Ok(()) => check_add(&after, path),
                    Err(_) => Ok(()),
                }
            }),
            Operation::Copy { from, path } => from
                .get(doc)
                .ok_or_else(|| OpFailure::NotFound {
                    pointer: from.to_string(),
                })
                .and_then(|_| check_add(doc, path)),
            Operation::Test { .. } => Ok(()),
        };
        precise.err().unwrap_or_else(|| {
            // The walk found nothing wrong where the crate did: keep what the crate said.
            use json_patch::PatchErrorKind as K;
            match (kind, self) {
                (K::TestFailed, _) => OpFailure::TestFailed,
                (K::CannotMoveInsideItself, _) => OpFailure::MoveIntoItself,
                (
                    K::InvalidFromPointer,
                    Operation::Move { from, .. } | Operation::Copy { from, .. },
                ) => OpFailure::NotFound {
                    pointer: from.to_string(),
                },
                _ => OpFailure::NotFound {
                    pointer: self.path().to_string(),
                },
            }
        })
    }
}

fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            if x.is_f64() || y.is_f64() {
                x.as_f64() == y.as_f64()
            } else {
                x.as_i64() == y.as_i64() && x.as_u64() == y.as_u64()
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_equal(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_equal(v, w)))
        }
        _ => a == b,
    }
}

/// Why one operation could not be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OpFailure {
    #[error("{pointer} does not exist")]
    NotFound { pointer: String },
    #[error("{pointer} is neither an object nor an array")]
    NotAContainer { pointer: String },
    #[error("{token:?} is not a valid index into the array at {pointer} of length {len}")]
    BadIndex {
        pointer: String,
        token: String,
        len: usize,
    },
    #[error("the whole document cannot be removed")]
    RemoveRoot,
    #[error("a value cannot be moved into one of its own children")]
    MoveIntoItself,
    #[error("the value differs from the tested value")]
    TestFailed,
}

/// Why a patch could not be read or applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PatchError {
    #[error("a JSON Patch is an array of operations")]
    NotAnArray,
    #[error("operation {index}: {reason}")]
    Malformed { index: usize, reason: String },
    #[error("operation {index}: {source}")]
    Pointer {
        index: usize,
        #[source]
        source: PointerError,
    },
    #[error("operation {index} ({op} {path}) failed: {reason}")]
    Failed {
        index: usize,
        op: &'static str,
        path: String,
        reason: OpFailure,
    },
}

/// An RFC 6902 JSON Patch: operations applied in order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Patch(pub Vec<Operation>);

impl Patch {
    /// Reads a patch from its JSON form. Unknown members of an operation are ignored
    /// (RFC 6902 §4).
    pub fn from_value(value: &Value) -> Result<Self, PatchError> {
        let Value::Array(items) = value else {
            return Err(PatchError::NotAnArray);
        };
        let mut ops = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            let malformed = |reason: &str| PatchError::Malformed {
                index,
                reason: reason.to_owned(),
            };
            let Value::Object(o) = item else {
                return Err(malformed("not an object"));
            };
            let pointer = |field: &str| -> Result<Pointer, PatchError> {
                let s = o
                    .get(field)
                    .and_then(Value::as_str)
                    .ok_or_else(|| malformed(&format!("\"{field}\" missing or not a string")))?;
                Pointer::parse(s).map_err(|source| PatchError::Pointer { index, source })
            };
            let value = || {
                o.get("value")
                    .cloned()
                    .ok_or_else(|| malformed("\"value\" missing"))
            };
            let op = o
                .get("op")
                .and_then(Value::as_str)
                .ok_or_else(|| malformed("\"op\" missing or not a string"))?;
            ops.push(match op {
                "add" => Operation::Add {
                    path: pointer("path")?,
                    value: value()?,
                },
                "remove" => Operation::Remove {
                    path: pointer("path")?,
                },
                "replace" => Operation::Replace {
                    path: pointer("path")?,
                    value: value()?,
                },
                "move" => Operation::Move {
                    from: pointer("from")?,
                    path: pointer("path")?,
                },
                "copy" => Operation::Copy {
                    from: pointer("from")?,
                    path: pointer("path")?,
                },
                "test" => Operation::Test {
                    path: pointer("path")?,
                    value: value()?,
                },
                other => return Err(malformed(&format!("unknown op {other:?}"))),
            });
        }
        Ok(Patch(ops))
    }

    pub fn to_value(&self) -> Value {
        Value::Array(self.0.iter().map(Operation::to_value).collect())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Applies the patch to a copy of `doc`: all operations or none.
    pub fn apply(&self, doc: &Value) -> Result<Value, PatchError> {
        let mut out = doc.clone();
        self.apply_in_place(&mut out)?;
        Ok(out)
    }

    /// Applies the patch to `doc` itself; on error `doc` holds the operations before the
    /// failing one (that one is undone). Use [`Patch::apply`] for atomicity.
    pub fn apply_in_place(&self, doc: &mut Value) -> Result<(), PatchError> {
        for (index, op) in self.0.iter().enumerate() {
            op.apply(doc).map_err(|reason| PatchError::Failed {
                index,
                op: op.name(),
                path: op.path().to_string(),
                reason,
            })?;
        }
        Ok(())
    }
}

/// The value at `path`, or the first reason it cannot be reached.
fn locate<'a>(doc: &'a Value, path: &Pointer) -> Result<&'a Value, OpFailure> {
    let mut cur = doc;
    for (depth, t) in path.tokens.iter().enumerate() {
        let here = || Pointer::from_tokens(path.tokens[..depth].iter().cloned()).to_string();
        cur = match cur {
            Value::Object(m) => m.get(t).ok_or_else(|| OpFailure::NotFound {
                pointer: path.to_string(),
            })?,
            Value::Array(a) => {
                let len = a.len();
                let i = array_index(t).ok().filter(|i| *i < len).ok_or_else(|| {
                    OpFailure::BadIndex {
                        pointer: here(),
                        token: t.clone(),
                        len,
                    }
                })?;
                &a[i]
            }
            _ => return Err(OpFailure::NotAContainer { pointer: here() }),
        };
    }
    Ok(cur)
}

/// Whether a value can be added at `path` (RFC 6902 §4.1: an existing parent; an index up to
/// the array's length, or `-`).
fn check_add(doc: &Value, path: &Pointer) -> Result<(), OpFailure> {
    let Some((parent, last)) = path.split_last() else {
        return Ok(());
    };
    match locate(doc, &parent)? {
        Value::Object(_) => Ok(()),
        Value::Array(a) => {
            let len = a.len();
            if last == "-" || array_index(last).is_ok_and(|i| i <= len) {
                Ok(())
            } else {
                Err(OpFailure::BadIndex {
                    pointer: parent.to_string(),
                    token: last.to_owned(),
                    len,
                })
            }
        }
        _ => Err(OpFailure::NotAContainer {
            pointer: parent.to_string(),
        }),
    }
}

/// Whether the value at `path` can be removed (it exists and is not the whole document).
fn check_remove(doc: &Value, path: &Pointer) -> Result<(), OpFailure> {
    let Some((parent, last)) = path.split_last() else {
        return Err(OpFailure::RemoveRoot);
    };
    match locate(doc, &parent)? {
        Value::Object(m) if m.contains_key(last) => Ok(()),
        Value::Object(_) => Err(OpFailure::NotFound {
            pointer: path.to_string(),
        }),
        Value::Array(a) => {
            let len = a.len();
            if array_index(last).is_ok_and(|i| i < len) {
                Ok(())
            } else {
                Err(OpFailure::BadIndex {
                    pointer: parent.to_string(),
                    token: last.to_owned(),
                    len,
                })
            }
        }
        _ => Err(OpFailure::NotAContainer {
            pointer: parent.to_string(),
        }),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn patch(v: Value) -> Patch {
        Patch::from_value(&v).unwrap()
    }

    #[test]
    fn pointer_escapes_round_trip() {
        let p = Pointer::parse("/a~1b/c~0d/0/").unwrap();
        assert_eq!(p.tokens(), ["a/b", "c~d", "0", ""]);
        assert_eq!(p.to_string(), "/a~1b/c~0d/0/");
        assert_eq!(
            Pointer::parse("a"),
            Err(PointerError::NoLeadingSlash {
                pointer: "a".into()
            })
        );
        assert_eq!(
            Pointer::parse("/~2"),
            Err(PointerError::BadEscape {
                pointer: "/~2".into()
            })
        );
        // "~01" is "~1" unescaped once, not "/".
        assert_eq!(Pointer::parse("/~01").unwrap().tokens(), ["~1"]);
    }

    #[test]
    fn rfc6901_examples() {
        let doc = json!({"foo": ["bar", "baz"], "": 0, "a/b": 1, "c%d": 2, "e^f": 3,
                         "g|h": 4, "i\\j": 5, "k\"l": 6, " ": 7, "m~n": 8});
        let get = |p: &str| Pointer::parse(p).unwrap().get(&doc).cloned();
        assert_eq!(get(""), Some(doc.clone()));
        assert_eq!(get("/foo/0"), Some(json!("bar")));
        assert_eq!(get("/"), Some(json!(0)));
        assert_eq!(get("/a~1b"), Some(json!(1)));
        assert_eq!(get("/m~0n"), Some(json!(8)));
        assert_eq!(get("/foo/01"), None);
        assert_eq!(get("/foo/-"), None);
    }

    #[test]
    fn rfc6902_appendix_examples() {
        let cases = [
            (
                json!({"foo": "bar"}),
                json!([{"op": "add", "path": "/baz", "value": "qux"}]),
                json!({"baz": "qux", "foo": "bar"}),
            ),
            (
                json!({"foo": ["bar", "baz"]}),
                json!([{"op": "add", "path": "/foo/1", "value": "qux"}]),
                json!({"foo": ["bar", "qux", "baz"]}),
            ),
            (
                json!({"baz": "qux", "foo": "bar"}),
                json!([{"op": "remove", "path": "/baz"}]),
                json!({"foo": "bar"}),
            ),
            (
                json!({"foo": ["bar", "qux", "baz"]}),
                json!([{"op": "remove", "path": "/foo/1"}]),
                json!({"foo": ["bar", "baz"]}),
            ),
            (
                json!({"baz": "qux", "foo": "bar"}),
                json!([{"op": "replace", "path": "/baz", "value": "boo"}]),
                json!({"baz": "boo", "foo": "bar"}),
            ),
            (
                json!({"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}}),
                json!([{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}]),
                json!({"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}}),
            ),
            (
                json!({"foo": ["all", "grass", "cows", "eat"]}),
                json!([{"op": "move", "from": "/foo/1", "path": "/foo/3"}]),
                json!({"foo": ["all", "cows", "eat", "grass"]}),
            ),
            (
                json!({"foo": ["bar"]}),
                json!([{"op": "add", "path": "/foo/-", "value": ["abc", "def"]}]),
                json!({"foo": ["bar", ["abc", "def"]]}),
            ),
            (
                json!({"foo": 1}),
                json!([{"op": "copy", "from": "/foo", "path": "/bar"}]),
                json!({"foo": 1, "bar": 1}),
            ),
            (
                json!({"baz": "qux", "foo": ["a", 2, "c"]}),
                json!([{"op": "test", "path": "/baz", "value": "qux"},
                       {"op": "test", "path": "/foo/1", "value": 2}]),
                json!({"baz": "qux", "foo": ["a", 2, "c"]}),
            ),
            (
                json!({"foo": "bar"}),
                json!([{"op": "add", "path": "/child", "value": {"grandchild": {}}}]),
                json!({"foo": "bar", "child": {"grandchild": {}}}),
            ),
            (
                json!({"/": 9, "~1": 10}),
                json!([{"op": "test", "path": "/~01", "value": 10}]),
                json!({"/": 9, "~1": 10}),
            ),
            (
                json!({"foo": "bar"}),
                json!([{"op": "add", "path": "", "value": [1]}]),
                json!([1]),
            ),
        ];
        for (doc, p, want) in cases {
            assert_eq!(patch(p.clone()).apply(&doc).unwrap(), want, "{p}");
        }
    }

    #[test]
    fn failures_name_the_operation_and_leave_the_input_alone() {
        let doc = json!({"baz": "qux", "foo": ["a"]});
        let p = patch(json!([
            {"op": "add", "path": "/new", "value": 1},
            {"op": "test", "path": "/baz", "value": "bar"}
        ]));
        assert_eq!(
            p.apply(&doc),
            Err(PatchError::Failed {
                index: 1,
                op: "test",
                path: "/baz".into(),
                reason: OpFailure::TestFailed
            })
        );
        let e = patch(json!([{"op": "add", "path": "/baz/bat", "value": "qux"}]))
            .apply(&doc)
            .unwrap_err();
        assert_eq!(
            e,
            PatchError::Failed {
                index: 0,
                op: "add",
                path: "/baz/bat".into(),
                reason: OpFailure::NotAContainer {
                    pointer: "/baz".into()
                }
            }
        );
        let e = patch(json!([{"op": "add", "path": "/foo/2", "value": 1}]))
            .apply(&doc)
            .unwrap_err();
        assert!(matches!(
            e,
            PatchError::Failed {
                reason: OpFailure::BadIndex { len: 1, .. },
                ..
            }
        ));
        let e = patch(json!([{"op": "remove", "path": "/missing"}]))
            .apply(&doc)
            .unwrap_err();
        assert!(matches!(
            e,
            PatchError::Failed {
                reason: OpFailure::NotFound { .. },
                ..
            }
        ));
        let e = patch(json!([{"op": "move", "from": "/foo", "path": "/foo/0"}]))
            .apply(&doc)
            .unwrap_err();
        assert!(matches!(
            e,
            PatchError::Failed {
                reason: OpFailure::MoveIntoItself,
                ..
            }
        ));
        assert!(matches!(
            Patch::from_value(&json!([{"op": "frob", "path": ""}])),
            Err(PatchError::Malformed { index: 0, .. })
        ));
        assert!(matches!(
            Patch::from_value(&json!([{"op": "add", "path": "/x"}])),
            Err(PatchError::Malformed { index: 0, .. })
        ));
        assert_eq!(Patch::from_value(&json!({})), Err(PatchError::NotAnArray));
    }

    #[test]
    fn failing_move_leaves_the_document_as_it_was() {
        let doc = json!({"a": {"x": 1}, "b": [1, 2]});
        for (p, reason) in [
            (
                json!([{"op": "move", "from": "/a", "path": "/missing/x"}]),
                OpFailure::NotFound {
                    pointer: "/missing".into(),
                },
            ),
            (
                json!([{"op": "move", "from": "/b/0", "path": "/b/2"}]),
                OpFailure::BadIndex {
                    pointer: "/b".into(),
                    token: "2".into(),
                    len: 1,
                },
            ),
        ] {
            let mut d = doc.clone();
            let e = patch(p.clone()).apply_in_place(&mut d).unwrap_err();
            assert_eq!(d, doc, "{p}");
            assert!(
                matches!(&e, PatchError::Failed { reason: r, .. } if *r == reason),
                "{p}: {e:?}"
            );
        }
    }

    #[test]
    fn test_compares_numbers_by_value() {
        let doc = json!({"n": 1});
        assert!(patch(json!([{"op": "test", "path": "/n", "value": 1}]))
            .apply(&doc)
            .is_ok());
        assert!(patch(json!([{"op": "test", "path": "/n", "value": 1.0}]))
            .apply(&doc)
            .is_ok());
        assert!(patch(json!([{"op": "test", "path": "/n", "value": 2}]))
            .apply(&doc)
            .is_err());
    }

    #[test]
    fn touches_name_the_locations() {
        let p = patch(json!([
            {"op": "move", "from": "/a/0", "path": "/b"},
            {"op": "copy", "from": "/c", "path": "/d"},
        ]));
        assert_eq!(
            p.0[0].touches(),
            vec![
                Touch {
                    kind: TouchKind::Remove,
                    pointer: Pointer::parse("/a/0").unwrap()
                },
                Touch {
                    kind: TouchKind::Write,
                    pointer: Pointer::parse("/b").unwrap()
                }
            ]
        );
        assert_eq!(p.0[1].touches()[0].kind, TouchKind::Read);
        assert!(Pointer::parse("/a")
            .unwrap()
            .is_prefix_of(&Pointer::parse("/a/0").unwrap()));
        assert!(!Pointer::parse("/a/0")
            .unwrap()
            .is_prefix_of(&Pointer::parse("/a").unwrap()));
        assert_eq!(Patch::from_value(&p.to_value()).unwrap(), p);
    }

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i32>().prop_map(|n| json!(n)),
            "[a-c~/0-]{0,3}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 32, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map("[a-c~/0-]{0,2}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn arb_pointer() -> impl Strategy<Value = String> {
        prop::collection::vec("[a-c0-2~/-]{0,2}|-|0|1", 0..4).prop_map(|ts| {
            ts.iter()
                .map(|t| format!("/{}", t.replace('~', "~0").replace('/', "~1")))
                .collect()
        })
    }

    fn arb_op() -> impl Strategy<Value = Value> {
        (
            prop_oneof![
                Just("add"),
                Just("remove"),
                Just("replace"),
                Just("move"),
                Just("copy"),
                Just("test"),
                Just("bogus")
            ],
            arb_pointer(),
            arb_pointer(),
            arb_json(),
        )
            .prop_map(|(op, path, from, value)| {
                json!({"op": op, "path": path, "from": from, "value": value})
            })
    }

    proptest! {
        #[test]
        fn never_panics(doc in arb_json(), ops in prop::collection::vec(arb_op(), 0..6),
                        raw in "[\\[\\]{}\"a-z:,~/0-9 ]{0,40}") {
            if let Ok(p) = Patch::from_value(&Value::Array(ops)) {
                let before = doc.clone();
                let _ = p.apply(&doc);
                prop_assert_eq!(&doc, &before);
                for op in &p.0 { let _ = op.touches(); }
            }
            if let Ok(v) = serde_json::from_str::<Value>(&raw) {
                let _ = Patch::from_value(&v).map(|p| p.apply(&doc));
            }
        }

        #[test]
        fn in_place_failure_keeps_the_operations_before_it(
            doc in arb_json(),
            ops in prop::collection::vec(arb_op(), 1..6),
        ) {
            let Ok(p) = Patch::from_value(&Value::Array(ops)) else { return Ok(()) };
            let mut d = doc.clone();
            if let Err(PatchError::Failed { index, .. }) = p.apply_in_place(&mut d) {
                let before = Patch(p.0[..index].to_vec()).apply(&doc).unwrap();
                prop_assert_eq!(d, before);
            }
        }

        #[test]
        fn add_then_remove_round_trips(doc in arb_json(), path in arb_pointer(), value in arb_json()) {
            let Ok(pointer) = Pointer::parse(&path) else { return Ok(()) };
            // Only new object members and array insertions are undone by remove.
            let Some((parent, last)) = pointer.split_last() else { return Ok(()) };
            let fresh = match parent.get(&doc) {
                Some(Value::Object(m)) => !m.contains_key(last),
                Some(Value::Array(a)) => last != "-" && array_index(last).is_ok_and(|i| i <= a.len()),
                _ => false,
            };
            prop_assume!(fresh);
            let add = Patch(vec![Operation::Add { path: pointer.clone(), value: value.clone() }]);
            let added = add.apply(&doc).unwrap();
            prop_assert_eq!(pointer.get(&added), Some(&value));
            let remove = Patch(vec![Operation::Remove { path: pointer }]);
            prop_assert_eq!(remove.apply(&added).unwrap(), doc);
        }
    }
}
