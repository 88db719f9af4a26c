//! in-toto v1.0 metadata models: `Layout` (with `Step` and `Inspection`) and `Link`.
//!
//! Read from JSON with the checks `in_toto.models` applies when it reads metadata, and
//! written in the shape its `to_dict()` produces (same fields, same defaults). Unknown fields
//! are ignored when reading, as the reference ignores them (Go writes extras); the bytes a
//! signature covers are the envelope's business, never re-derived from these models.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::{Map, Value};

use crate::digest::{
    ArtifactPath, ArtifactTable, ArtifactTableBuilder, Artifacts, CompactDigest, DigestSet, Sha256,
};
use crate::rules::{ArtifactRule, ArtifactType, RuleError};
use sbomit_crypto::{KeyError, KeyId, PublicKey};

/// The layout expiry format the reference accepts and writes.
pub const EXPIRES_FORMAT: &str = "%Y-%m-%dT%H:%M:%SZ";

/// Why metadata does not have the shape the reference requires.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    #[error("{what} is not a JSON object")]
    NotAnObject { what: String },
    #[error("expected `_type` {expected:?}, got {found}")]
    WrongType {
        expected: &'static str,
        found: String,
    },
    #[error("{what}: field `{field}` is missing")]
    Missing { what: String, field: &'static str },
    #[error("{what}: field `{field}` must be {expected}")]
    Field {
        what: String,
        field: &'static str,
        expected: &'static str,
    },
    #[error("{what}: {value:?} is not a hex string")]
    Hex { what: String, value: String },
    #[error("there is already a step or inspection named {name:?}; names must be unique within a layout")]
    DuplicateName { name: String },
    #[error("step {step:?}: threshold must be an integer of at least 1, got {value}")]
    Threshold { step: String, value: String },
    #[error("layout `expires` {value:?} is not a date in the form YYYY-MM-DDTHH:MM:SSZ")]
    Expires { value: String },
    #[error("layout key {keyid}: {reason}")]
    Key { keyid: String, reason: String },
    /// One public key listed under two key ids would let one functionary count twice
    /// towards a step's threshold.
    #[error("layout keys {first} and {second} are the same public key")]
    DuplicateKey { first: KeyId, second: KeyId },
    #[error("{item:?}: {field}[{index}]: {source}")]
    Rule {
        item: String,
        field: &'static str,
        index: usize,
        source: RuleError,
    },
}

/// Why parameter substitution (`verifylib.substitute_parameters`, i.e. Python `str.format`)
/// failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SubstitutionError {
    #[error("parameter name {name:?} must match [a-zA-Z0-9_-]+")]
    InvalidName { name: String },
    #[error("{item:?}: no value for parameter {name:?} used in {text:?}")]
    Missing {
        item: String,
        name: String,
        text: String,
    },
    #[error("{item:?}: unbalanced brace in {text:?}")]
    Brace { item: String, text: String },
    #[error("{item:?}: unsupported replacement field {field:?} in {text:?} (only {{NAME}} is supported)")]
    Unsupported {
        item: String,
        field: String,
        text: String,
    },
}

/// Evidence of a performed step or inspection.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Link {
    pub name: String,
    pub command: Vec<String>,
    pub materials: Artifacts,
    pub products: Artifacts,
    /// Opaque; by convention `stdout`, `stderr` (strings) and `return-value` (int).
    pub byproducts: Map<String, Value>,
    /// Opaque.
    pub environment: Map<String, Value>,
}

/// A software supply chain definition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    pub expires: DateTime<Utc>,
    pub readme: String,
    /// Functionary keys by key id, kept exactly as received (securesystemslib key objects).
    pub keys: BTreeMap<KeyId, Value>,
    pub steps: Vec<Step>,
    pub inspect: Vec<Inspection>,
}

/// One step of the supply chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    pub name: String,
    pub pubkeys: Vec<KeyId>,
    pub threshold: u64,
    pub expected_command: Vec<String>,
    pub expected_materials: Vec<ArtifactRule>,
    pub expected_products: Vec<ArtifactRule>,
}

/// A command the verifier runs, with rules over its artifacts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inspection {
    pub name: String,
    pub run: Vec<String>,
    pub expected_materials: Vec<ArtifactRule>,
    pub expected_products: Vec<ArtifactRule>,
}

// ---------------------------------------------------------------------------------------
// Reading helpers

type Obj = Map<String, Value>;

fn object<'a>(value: &'a Value, what: &str) -> Result<&'a Obj, ModelError> {
    value.as_object().ok_or_else(|| ModelError::NotAnObject {
        what: what.to_owned(),
    })
}

fn field_err(what: &str, field: &'static str, expected: &'static str) -> ModelError {
    ModelError::Field {
        what: what.to_owned(),
        field,
        expected,
    }
}

fn is_hex(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A string field; `default` when absent (`None`: required).
fn string(
    obj: &Obj,
    what: &str,
    field: &'static str,
    default: Option<&str>,
) -> Result<String, ModelError> {
    match obj.get(field) {
        Some(Value::String(s)) => Ok(s.clone()),
        None => default.map(str::to_owned).ok_or(ModelError::Missing {
            what: what.to_owned(),
            field,
        }),
        Some(_) => Err(field_err(what, field, "a string")),
    }
}

/// A list of strings, empty when absent (the reference's default).
fn string_list(obj: &Obj, what: &str, field: &'static str) -> Result<Vec<String>, ModelError> {
    match obj.get(field) {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| field_err(what, field, "a list of strings"))
            })
            .collect(),
        Some(_) => Err(field_err(what, field, "a list of strings")),
    }
}

fn map_field(obj: &Obj, what: &str, field: &'static str) -> Result<Obj, ModelError> {
    Ok(map_field_ref(obj, what, field)?
        .cloned()
        .unwrap_or_default())
}

/// [`map_field`] without copying the map (artifact maps can hold 100,000 entries).
fn map_field_ref<'a>(
    obj: &'a Obj,
    what: &str,
    field: &'static str,
) -> Result<Option<&'a Obj>, ModelError> {
    match obj.get(field) {
        None => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m)),
        Some(_) => Err(field_err(what, field, "an object")),
    }
}

/// `materials`/`products`: path → {algorithm: hex} (`_check_hash_dict`).
fn artifacts(obj: &Obj, what: &str, field: &'static str) -> Result<Artifacts, ModelError> {
    // Collected into a Vec first: the JSON map yields paths in order, so building the BTreeMap
    // from it is a bulk build instead of 100,000 searched inserts over long shared prefixes.
    let Some(map) = map_field_ref(obj, what, field)? else {
        return Ok(Artifacts::new());
    };
    let mut out = Vec::with_capacity(map.len());
    for (path, digests) in map {
        let digests = digests
            .as_object()
            .ok_or_else(|| field_err(what, field, "an object of digest objects"))?;
        let mut set = DigestSet::default();
        for (alg, hex) in digests {
            let hex = hex
                .as_str()
                .ok_or_else(|| field_err(what, field, "an object of digest objects"))?;
            if !is_hex(hex) {
                return Err(ModelError::Hex {
                    what: format!("{what}: {field} {path:?} {alg}"),
                    value: hex.to_owned(),
                });
            }
            set.insert(alg.clone(), hex.to_owned());
        }
        out.push((ArtifactPath::new(path.clone()), set));
    }
    Ok(out.into_iter().collect())
}

fn rules(obj: &Obj, item: &str, field: &'static str) -> Result<Vec<ArtifactRule>, ModelError> {
    match obj.get(field) {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(index, v)| {
                ArtifactRule::from_value(v).map_err(|source| ModelError::Rule {
                    item: item.to_owned(),
                    field,
                    index,
                    source,
                })
            })
            .collect(),
        Some(_) => Err(field_err(item, field, "a list of rules")),
    }
}

fn check_type(obj: &Obj, expected: &'static str) -> Result<(), ModelError> {
    match obj.get("_type") {
        Some(Value::String(s)) if s == expected => Ok(()),
        other => Err(ModelError::WrongType {
            expected,
            found: other.map_or_else(|| "nothing".to_owned(), Value::to_string),
        }),
    }
}

fn artifacts_into_value(a: Artifacts) -> Value {
    Value::Object(
        a.into_iter()
            .map(|(p, d)| {
                let digests = d
                    .iter()
                    .map(|(k, v)| (k.to_owned(), Value::String(v.to_owned())))
                    .collect();
                (p.into_string(), Value::Object(digests))
            })
            .collect(),
    )
}

fn artifacts_value(a: &Artifacts) -> Value {
    Value::Object(
        a.iter()
            .map(|(p, d)| {
                let digests = d
                    .iter()
                    .map(|(k, v)| (k.to_owned(), Value::String(v.to_owned())))
                    .collect();
                (p.as_str().to_owned(), Value::Object(digests))
            })
            .collect(),
    )
}

fn strings_value(v: &[String]) -> Value {
    Value::Array(v.iter().cloned().map(Value::String).collect())
}

fn rules_value(v: &[ArtifactRule]) -> Value {
    Value::Array(v.iter().map(ArtifactRule::to_value).collect())
}

// ---------------------------------------------------------------------------------------

impl Link {
    /// Reads a link (`Link.read`): `_type` must be `link`; absent fields take the
    /// reference's defaults.
    pub fn from_value(value: &Value) -> Result<Self, ModelError> {
        let obj = object(value, "link")?;
        check_type(obj, "link")?;
        let name = string(obj, "link", "name", Some(""))?;
        let what = format!("link {name:?}");
        Ok(Link {
            command: string_list(obj, &what, "command")?,
            materials: artifacts(obj, &what, "materials")?,
            products: artifacts(obj, &what, "products")?,
            byproducts: map_field(obj, &what, "byproducts")?,
            environment: map_field(obj, &what, "environment")?,
            name,
        })
    }

    /// The dictionary `Link.to_dict()` writes.
    pub fn to_value(&self) -> Value {
        serde_json::json!({
            "_type": "link",
            "name": self.name,
            "command": strings_value(&self.command),
            "materials": artifacts_value(&self.materials),
            "products": artifacts_value(&self.products),
            "byproducts": Value::Object(self.byproducts.clone()),
            "environment": Value::Object(self.environment.clone()),
        })
    }

    /// [`Link::to_value`] without copying: moves the (possibly 100,000) artifact names and
    /// digests into the JSON value.
    pub fn into_value(self) -> Value {
        let mut m = Map::new();
        m.insert("_type".into(), Value::String("link".into()));
        m.insert("name".into(), Value::String(self.name));
        m.insert("command".into(), strings_value(&self.command));
        m.insert("materials".into(), artifacts_into_value(self.materials));
        m.insert("products".into(), artifacts_into_value(self.products));
        m.insert("byproducts".into(), Value::Object(self.byproducts));
        m.insert("environment".into(), Value::Object(self.environment));
        Value::Object(m)
    }

    /// `byproducts["return-value"]`, if recorded.
    pub fn return_value(&self) -> Option<&Value> {
        self.byproducts.get("return-value")
    }

    /// The materials or the products.
    pub fn artifacts(&self, which: ArtifactType) -> &Artifacts {
        match which {
            ArtifactType::Materials => &self.materials,
            ArtifactType::Products => &self.products,
        }
    }
}

impl Step {
    fn from_value(value: &Value, index: usize) -> Result<Self, ModelError> {
        let obj = object(value, &format!("steps[{index}]"))?;
        // As in the reference, a step's own `_type` is not checked: `Step(**data)` overwrites
        // it with "step".
        let name = string(obj, &format!("steps[{index}]"), "name", None)?;
        let what = format!("step {name:?}");
        let pubkeys = match obj.get("pubkeys") {
            None => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| match v.as_str() {
                    Some(s) if is_hex(s) => Ok(KeyId::new(s.to_owned())),
                    Some(s) => Err(ModelError::Hex {
                        what: format!("{what}: pubkeys"),
                        value: s.to_owned(),
                    }),
                    None => Err(field_err(&what, "pubkeys", "a list of key ids")),
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(field_err(&what, "pubkeys", "a list of key ids")),
        };
        let threshold = match obj.get("threshold") {
            None => 1,
            Some(Value::Number(n)) => match n.as_u64() {
                Some(t) if t >= 1 => t,
                _ => {
                    return Err(ModelError::Threshold {
                        step: name,
                        value: n.to_string(),
                    })
                }
            },
            Some(other) => {
                return Err(ModelError::Threshold {
                    step: name,
                    value: other.to_string(),
                })
            }
        };
        Ok(Step {
            pubkeys,
            threshold,
            expected_command: string_list(obj, &what, "expected_command")?,
            expected_materials: rules(obj, &name, "expected_materials")?,
            expected_products: rules(obj, &name, "expected_products")?,
            name,
        })
    }

    /// The dictionary the reference writes for a step.
    pub fn to_value(&self) -> Value {
        serde_json::json!({
            "_type": "step",
            "name": self.name,
            "pubkeys": Value::Array(self.pubkeys.iter().map(|k| Value::String(k.as_str().to_owned())).collect()),
            "threshold": self.threshold,
            "expected_command": strings_value(&self.expected_command),
            "expected_materials": rules_value(&self.expected_materials),
            "expected_products": rules_value(&self.expected_products),
        })
    }
}

impl Inspection {
    fn from_value(value: &Value, index: usize) -> Result<Self, ModelError> {
        let obj = object(value, &format!("inspect[{index}]"))?;
        let name = string(obj, &format!("inspect[{index}]"), "name", None)?;
        let what = format!("inspection {name:?}");
        Ok(Inspection {
            run: string_list(obj, &what, "run")?,
            expected_materials: rules(obj, &name, "expected_materials")?,
            expected_products: rules(obj, &name, "expected_products")?,
            name,
        })
    }

    /// The dictionary the reference writes for an inspection.
    pub fn to_value(&self) -> Value {
        serde_json::json!({
            "_type": "inspection",
            "name": self.name,
            "run": strings_value(&self.run),
            "expected_materials": rules_value(&self.expected_materials),
            "expected_products": rules_value(&self.expected_products),
        })
    }
}

/// `_check_public_key`: a securesystemslib key object (or a GPG one) with a `keyid`.
fn check_key(keyid: &str, key: &Value) -> Result<(), ModelError> {
    let bad = |reason: &str| ModelError::Key {
        keyid: keyid.to_owned(),
        reason: reason.to_owned(),
    };
    if !is_hex(keyid) {
        return Err(ModelError::Hex {
            what: "layout keys".to_owned(),
            value: keyid.to_owned(),
        });
    }
    let obj = key.as_object().ok_or_else(|| bad("not an object"))?;
    if !obj.contains_key("keyid") {
        return Err(bad("no `keyid` field"));
    }
    let gpg = ["type", "method", "hashes", "keyval"]
        .iter()
        .all(|f| obj.contains_key(*f));
    let sslib = obj.get("keytype").is_some_and(Value::is_string)
        && obj.get("scheme").is_some_and(Value::is_string)
        && obj.get("keyval").is_some_and(Value::is_object);
    if gpg || sslib {
        Ok(())
    } else {
        Err(bad("not a public key object (keytype, scheme, keyval)"))
    }
}

/// Refuses a layout listing the same public key (same SPKI, however its PEM is written) under
/// two key ids. Keys that do not load are left for verification to report, as before.
fn refuse_duplicate_keys(keys: &BTreeMap<KeyId, Value>) -> Result<(), ModelError> {
    let mut seen: BTreeMap<Vec<u8>, &KeyId> = BTreeMap::new();
    for (keyid, object) in keys {
        let Ok(key) = PublicKey::from_securesystemslib(keyid.clone(), object) else {
            continue;
        };
        if let Some(first) = seen.insert(key.spki_der().to_vec(), keyid) {
            return Err(ModelError::DuplicateKey {
                first: first.clone(),
                second: keyid.clone(),
            });
        }
    }
    Ok(())
}

/// Parses `s` exactly as `_check_iso8601` plus dateutil accept it.
pub fn parse_expires(s: &str) -> Result<DateTime<Utc>, ModelError> {
    let err = || ModelError::Expires {
        value: s.to_owned(),
    };
    let b = s.as_bytes();
    let shape_ok = b.len() == 20
        && b.iter().enumerate().all(|(i, &c)| match i {
            4 | 7 => c == b'-',
            10 => c == b'T',
            13 | 16 => c == b':',
            19 => c == b'Z',
            _ => c.is_ascii_digit(),
        });
    // chrono would accept second 60 as a leap second; dateutil does not.
    if !shape_ok || &s[17..19] == "60" {
        return Err(err());
    }
    NaiveDateTime::parse_from_str(s, EXPIRES_FORMAT)
        .map(|n| n.and_utc())
        .map_err(|_| err())
}

impl Layout {
    /// Reads a layout (`Layout.read`): `_type` must be `layout`, `steps`, `inspect` and
    /// `expires` are required, step and inspection names unique, rules valid.
    pub fn from_value(value: &Value) -> Result<Self, ModelError> {
        let obj = object(value, "layout")?;
        check_type(obj, "layout")?;
        let list = |field: &'static str| match obj.get(field) {
            Some(Value::Array(a)) => Ok(a),
            None => Err(ModelError::Missing {
                what: "layout".into(),
                field,
            }),
            Some(_) => Err(field_err("layout", field, "a list")),
        };
        let steps = list("steps")?
            .iter()
            .enumerate()
            .map(|(i, v)| Step::from_value(v, i))
            .collect::<Result<Vec<_>, _>>()?;
        let inspect = list("inspect")?
            .iter()
            .enumerate()
            .map(|(i, v)| Inspection::from_value(v, i))
            .collect::<Result<Vec<_>, _>>()?;
        let mut keys = BTreeMap::new();
        for (keyid, key) in map_field(obj, "layout", "keys")? {
            check_key(&keyid, &key)?;
            keys.insert(KeyId::new(keyid), key);
        }
        refuse_duplicate_keys(&keys)?;
        // The reference sets a default expiry from the clock; sbomit-core has no clock, so an
        // absent `expires` is an error here.
        let expires = parse_expires(&string(obj, "layout", "expires", None)?)?;
        let readme = string(obj, "layout", "readme", Some(""))?;
        let mut seen = BTreeSet::new();
        let names = steps
            .iter()
            .map(|s| &s.name)
            .chain(inspect.iter().map(|i| &i.name));
        for name in names {
            if !seen.insert(name) {
                return Err(ModelError::DuplicateName { name: name.clone() });
            }
        }
        Ok(Layout {
            expires,
            readme,
            keys,
            steps,
            inspect,
        })
    }

    /// The dictionary `Layout.to_dict()` writes.
    pub fn to_value(&self) -> Value {
        serde_json::json!({
            "_type": "layout",
            "expires": self.expires_string(),
            "readme": self.readme,
            "keys": Value::Object(self.keys.iter().map(|(k, v)| (k.as_str().to_owned(), v.clone())).collect()),
            "steps": Value::Array(self.steps.iter().map(Step::to_value).collect()),
            "inspect": Value::Array(self.inspect.iter().map(Inspection::to_value).collect()),
        })
    }

    /// `expires` as written: `YYYY-MM-DDTHH:MM:SSZ`.
    pub fn expires_string(&self) -> String {
        self.expires.format(EXPIRES_FORMAT).to_string()
    }

    /// The functionary key listed under `keyid`, usable for verification (the key id is
    /// kept as listed, never recomputed).
    pub fn public_key(&self, keyid: &KeyId) -> Option<Result<PublicKey, KeyError>> {
        self.keys
            .get(keyid)
            .map(|v| PublicKey::from_securesystemslib(keyid.clone(), v))
    }

    pub fn step(&self, name: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.name == name)
    }

    /// `verifylib.substitute_parameters`: `{NAME}` in every step's expected command and
    /// rules and every inspection's run and rules is replaced by the parameter's value.
    pub fn substitute_parameters(
        &mut self,
        parameters: &BTreeMap<String, String>,
    ) -> Result<(), SubstitutionError> {
        for name in parameters.keys() {
            let ok = !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            if !ok {
                return Err(SubstitutionError::InvalidName { name: name.clone() });
            }
        }
        for step in &mut self.steps {
            let item = step.name.clone();
            let f = |s: &str| format_python(s, parameters, &item);
            step.expected_materials = map_rules(&step.expected_materials, f)?;
            step.expected_products = map_rules(&step.expected_products, f)?;
            step.expected_command = step
                .expected_command
                .iter()
                .map(|s| f(s))
                .collect::<Result<_, _>>()?;
        }
        for inspection in &mut self.inspect {
            let item = inspection.name.clone();
            let f = |s: &str| format_python(s, parameters, &item);
            inspection.expected_materials = map_rules(&inspection.expected_materials, f)?;
            inspection.expected_products = map_rules(&inspection.expected_products, f)?;
            inspection.run = inspection
                .run
                .iter()
                .map(|s| f(s))
                .collect::<Result<_, _>>()?;
        }
        Ok(())
    }
}

fn map_rules(
    rules: &[ArtifactRule],
    f: impl Fn(&str) -> Result<String, SubstitutionError>,
) -> Result<Vec<ArtifactRule>, SubstitutionError> {
    rules.iter().map(|r| r.try_map_strings(&f)).collect()
}

/// Python's `text.format(**parameters)` for string values: `{{`/`}}` are braces, `{NAME}` and
/// `{NAME!s}`/`{NAME:}` are the value; the rest of the format mini-language (attribute and
/// index access, conversions, format specs, positional fields) is refused rather than
/// imitated.
fn format_python(
    text: &str,
    parameters: &BTreeMap<String, String>,
    item: &str,
) -> Result<String, SubstitutionError> {
    let brace = || SubstitutionError::Brace {
        item: item.to_owned(),
        text: text.to_owned(),
    };
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                out.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                out.push('}');
            }
            '}' => return Err(brace()),
            '{' => {
                let mut field = String::new();
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some('{') | None => return Err(brace()),
                        Some(ch) => field.push(ch),
                    }
                }
                let name = field
                    .strip_suffix("!s")
                    .or_else(|| field.strip_suffix(':'))
                    .unwrap_or(&field);
                let plain = !name.is_empty()
                    && !name.bytes().all(|b| b.is_ascii_digit())
                    && !name.contains(['.', '[', '!', ':']);
                if !plain {
                    return Err(SubstitutionError::Unsupported {
                        item: item.to_owned(),
                        field,
                        text: text.to_owned(),
                    });
                }
                match parameters.get(name) {
                    Some(v) => out.push_str(v),
                    None => {
                        return Err(SubstitutionError::Missing {
                            item: item.to_owned(),
                            name: name.to_owned(),
                            text: text.to_owned(),
                        })
                    }
                }
            }
            other => out.push(other),
        }
    }
    Ok(out)
}

/// A link as verification uses it: artifacts in [`ArtifactTable`]s (one buffer of paths,
/// 32-byte digests) instead of maps of owned strings, which for links of 100,000 artifacts
/// were most of a verification's time and memory.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CompactLink {
    pub name: String,
    pub command: Vec<String>,
    pub materials: ArtifactTable,
    pub products: ArtifactTable,
    pub byproducts: Map<String, Value>,
    pub environment: Map<String, Value>,
}

impl CompactLink {
    /// The materials or the products.
    pub fn artifacts(&self, which: ArtifactType) -> &ArtifactTable {
        match which {
            ArtifactType::Materials => &self.materials,
            ArtifactType::Products => &self.products,
        }
    }

    pub fn from_link(link: &Link) -> Self {
        CompactLink {
            name: link.name.clone(),
            command: link.command.clone(),
            materials: ArtifactTable::from_artifacts(&link.materials),
            products: ArtifactTable::from_artifacts(&link.products),
            byproducts: link.byproducts.clone(),
            environment: link.environment.clone(),
        }
    }

    pub fn to_link(&self) -> Link {
        Link {
            name: self.name.clone(),
            command: self.command.clone(),
            materials: self.materials.to_artifacts(),
            products: self.products.to_artifacts(),
            byproducts: self.byproducts.clone(),
            environment: self.environment.clone(),
        }
    }

    /// Reads a link payload (JSON text) straight into the compact form. `None` when the text
    /// is anything but a plain, valid link (another `_type`, a repeated field, a malformed
    /// value): the caller then reads it through `metadata::Metadata::from_payload`, which
    /// gives the reference's answer and error for every case. When this succeeds, the result
    /// equals `CompactLink::from_link(&Link::from_value(..))` of the same text.
    pub fn from_payload_text(json: &[u8]) -> Option<Self> {
        let mut de = serde_json::Deserializer::from_slice(json);
        let link = serde::Deserializer::deserialize_map(&mut de, CompactLinkVisitor).ok()?;
        de.end().ok()?;
        Some(link)
    }

    /// [`CompactLink::from_payload_text`] for the `signed` member of a classic metablock file.
    pub fn from_metablock_text(file: &[u8]) -> Option<Self> {
        let mut de = serde_json::Deserializer::from_slice(file);
        let link = serde::Deserializer::deserialize_map(&mut de, MetablockVisitor).ok()?;
        de.end().ok()?;
        Some(link)
    }
}

struct MetablockVisitor;

impl<'de> serde::de::Visitor<'de> for MetablockVisitor {
    type Value = CompactLink;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a metablock")
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<CompactLink, A::Error> {
        use serde::de::Error as _;
        let mut signed = None;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if key == "signed" {
                if signed.is_some() {
                    return Err(A::Error::custom("repeated `signed`"));
                }
                signed = Some(map.next_value_seed(LinkSeed)?);
            } else {
                map.next_value::<Skip>()?;
            }
        }
        signed.ok_or_else(|| A::Error::custom("no `signed`"))
    }
}

/// A value read and dropped, its strings checked. serde's `IgnoredAny` lets serde_json skip a
/// string without checking its UTF-8, so a link with invalid UTF-8 in a member it does not read
/// was accepted here while the JSON reader (and the reference) refuse the file (found by
/// fuzzing). Asking for any value makes serde_json parse, and so check, every string; nothing
/// is built or copied.
struct Skip;

impl<'de> serde::Deserialize<'de> for Skip {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(Skip)
    }
}

impl<'de> serde::de::Visitor<'de> for Skip {
    type Value = Skip;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_str<E>(self, _: &str) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_unit<E>(self) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Skip, A::Error> {
        while seq.next_element::<Skip>()?.is_some() {}
        Ok(Skip)
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Skip, A::Error> {
        while map.next_entry::<Skip, Skip>()?.is_some() {}
        Ok(Skip)
    }
}

struct LinkSeed;

impl<'de> serde::de::DeserializeSeed<'de> for LinkSeed {
    type Value = CompactLink;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<CompactLink, D::Error> {
        d.deserialize_map(CompactLinkVisitor)
    }
}

struct CompactLinkVisitor;

impl<'de> serde::de::Visitor<'de> for CompactLinkVisitor {
    type Value = CompactLink;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a link")
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<CompactLink, A::Error> {
        use serde::de::Error as _;
        let mut link = CompactLink::default();
        let mut seen = [false; 7];
        let fields = [
            "_type",
            "name",
            "command",
            "materials",
            "products",
            "byproducts",
            "environment",
        ];
        while let Some(key) = map.next_key::<StrKey<'de>>()? {
            let Some(i) = fields.iter().position(|f| *f == key.0) else {
                map.next_value::<Skip>()?;
                continue;
            };
            if std::mem::replace(&mut seen[i], true) {
                return Err(A::Error::custom("repeated field"));
            }
            match i {
                0 => {
                    if map.next_value::<StrKey<'de>>()?.0 != "link" {
                        return Err(A::Error::custom("not a link"));
                    }
                }
                1 => link.name = map.next_value()?,
                2 => link.command = map.next_value()?,
                3 => link.materials = map.next_value_seed(TableSeed)?,
                4 => link.products = map.next_value_seed(TableSeed)?,
                5 => link.byproducts = map.next_value()?,
                _ => link.environment = map.next_value()?,
            }
        }
        if !seen[0] {
            return Err(A::Error::custom("no `_type`"));
        }
        Ok(link)
    }
}

/// A string, borrowed from the input when it has no escapes.
struct StrKey<'de>(std::borrow::Cow<'de, str>);

impl<'de> serde::Deserialize<'de> for StrKey<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = StrKey<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<StrKey<'de>, E> {
                Ok(StrKey(std::borrow::Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<StrKey<'de>, E> {
                Ok(StrKey(std::borrow::Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(V)
    }
}

struct TableSeed;

impl<'de> serde::de::DeserializeSeed<'de> for TableSeed {
    type Value = ArtifactTable;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<ArtifactTable, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> serde::de::Visitor<'de> for TableSeed {
    type Value = ArtifactTable;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an object of digest objects")
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(
        self,
        mut map: A,
    ) -> Result<ArtifactTable, A::Error> {
        let n = map.size_hint().unwrap_or(0);
        let mut table = ArtifactTableBuilder::with_capacity(n, n * 24);
        while let Some(path) = map.next_key::<StrKey<'de>>()? {
            let digest = map.next_value_seed(DigestSeed)?;
            table.push(&path.0, digest);
        }
        Ok(table.finish())
    }
}

struct DigestSeed;

impl<'de> serde::de::DeserializeSeed<'de> for DigestSeed {
    type Value = CompactDigest;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<CompactDigest, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> serde::de::Visitor<'de> for DigestSeed {
    type Value = CompactDigest;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a digest object")
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(
        self,
        mut map: A,
    ) -> Result<CompactDigest, A::Error> {
        use serde::de::Error as _;
        // The usual single `sha256` entry is decoded without allocating.
        let mut first: Option<(StrKey<'de>, StrKey<'de>, Option<Sha256>)> = None;
        let mut rest: Vec<(Box<str>, Box<str>)> = Vec::new();
        while let Some(alg) = map.next_key::<StrKey<'de>>()? {
            let hex = map.next_value::<StrKey<'de>>()?;
            if first.is_none() && rest.is_empty() {
                // A lowercase sha256 decodes only if it is hex: no separate check needed.
                let quick = (alg.0 == "sha256")
                    .then(|| Sha256::from_lower_hex(&hex.0))
                    .flatten();
                if quick.is_none() && !is_hex(&hex.0) {
                    return Err(A::Error::custom("not hex"));
                }
                first = Some((alg, hex, quick));
            } else {
                if !is_hex(&hex.0) {
                    return Err(A::Error::custom("not hex"));
                }
                if let Some((a, h, _)) = first.take() {
                    rest.push((a.0.into(), h.0.into()));
                }
                rest.push((alg.0.into(), hex.0.into()));
            }
        }
        Ok(match first {
            Some((_, _, Some(d))) => CompactDigest::Sha256(d),
            Some((alg, hex, None)) => CompactDigest::from_pairs(vec![(alg.0.into(), hex.0.into())]),
            None => CompactDigest::from_pairs(rest),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn layout_json() -> Value {
        json!({
            "_type": "layout",
            "expires": "2030-01-01T00:00:00Z",
            "readme": "",
            "keys": {},
            "steps": [{"_type": "step", "name": "build", "threshold": 1, "pubkeys": [],
                       "expected_command": ["make", "{VERSION}"],
                       "expected_materials": [["match", "*", "with", "products", "from", "{UP}"]],
                       "expected_products": [["CREATE", "out-{VERSION}"]],
                       "unknown": 1}],
            "inspect": [{"_type": "inspection", "name": "check", "run": ["ls", "{{x}}"],
                         "expected_materials": [], "expected_products": []}],
            "extra": true
        })
    }

    #[test]
    fn refuses_a_layout_listing_one_key_under_two_ids() {
        let key = sbomit_crypto::PrivateKey::generate(sbomit_crypto::KeyKind::EcdsaP256).unwrap();
        let mut object = key.public_key().to_securesystemslib();
        let (first, second) = ("aa".repeat(32), "bb".repeat(32));
        let mut v = layout_json();
        object["keyid"] = json!(first);
        v["keys"][&first] = object.clone();
        object["keyid"] = json!(second);
        v["keys"][&second] = object;
        v["steps"][0]["pubkeys"] = json!([first, second]);
        v["steps"][0]["threshold"] = json!(2);
        assert_eq!(
            Layout::from_value(&v).unwrap_err(),
            ModelError::DuplicateKey {
                first: KeyId::new(first),
                second: KeyId::new(second)
            }
        );
    }

    #[test]
    fn reads_and_writes_the_reference_shape() {
        let layout = Layout::from_value(&layout_json()).unwrap();
        let out = layout.to_value();
        let step = &out["steps"][0];
        let mut fields: Vec<&String> = step.as_object().unwrap().keys().collect();
        fields.sort();
        assert_eq!(
            fields,
            [
                "_type",
                "expected_command",
                "expected_materials",
                "expected_products",
                "name",
                "pubkeys",
                "threshold"
            ]
        );
        assert_eq!(out["expires"], "2030-01-01T00:00:00Z");
        assert!(out.get("extra").is_none());
        assert_eq!(Layout::from_value(&out).unwrap(), layout);
        let link = Link {
            name: "x".into(),
            ..Link::default()
        };
        assert_eq!(
            link.to_value(),
            json!({"_type": "link", "byproducts": {}, "command": [], "environment": {},
                   "materials": {}, "name": "x", "products": {}})
        );
    }

    #[test]
    fn rejects_invalid_layouts() {
        let mut v = layout_json();
        v["steps"][0]["threshold"] = json!(0);
        assert!(matches!(
            Layout::from_value(&v),
            Err(ModelError::Threshold { .. })
        ));
        let mut v = layout_json();
        v["inspect"][0]["name"] = json!("build");
        assert!(matches!(
            Layout::from_value(&v),
            Err(ModelError::DuplicateName { .. })
        ));
        let mut v = layout_json();
        v["expires"] = json!("2030-01-01 00:00:00");
        assert!(matches!(
            Layout::from_value(&v),
            Err(ModelError::Expires { .. })
        ));
        let mut v = layout_json();
        v["expires"] = json!("2030-02-30T00:00:00Z");
        assert!(matches!(
            Layout::from_value(&v),
            Err(ModelError::Expires { .. })
        ));
        let mut v = layout_json();
        v["_type"] = json!("link");
        assert!(matches!(
            Layout::from_value(&v),
            Err(ModelError::WrongType { .. })
        ));
        let mut v = layout_json();
        v["steps"][0]["expected_products"] = json!([["CREATE"]]);
        assert!(matches!(
            Layout::from_value(&v),
            Err(ModelError::Rule { .. })
        ));
        let mut v = layout_json();
        v["steps"][0]["pubkeys"] = json!(["xyz"]);
        assert!(matches!(
            Layout::from_value(&v),
            Err(ModelError::Hex { .. })
        ));
        let mut v = layout_json();
        v.as_object_mut().unwrap().remove("steps");
        assert!(matches!(
            Layout::from_value(&v),
            Err(ModelError::Missing { .. })
        ));
    }

    #[test]
    fn rejects_non_hex_digests_in_links() {
        let v = json!({"_type": "link", "name": "a", "materials": {"f": {"sha256": "xyz"}}});
        assert!(matches!(Link::from_value(&v), Err(ModelError::Hex { .. })));
    }

    #[test]
    fn substitutes_parameters_like_str_format() {
        let mut layout = Layout::from_value(&layout_json()).unwrap();
        let params: BTreeMap<String, String> = [
            ("VERSION".into(), "1.2".into()),
            ("UP".into(), "fetch".into()),
        ]
        .into();
        layout.substitute_parameters(&params).unwrap();
        assert_eq!(layout.steps[0].expected_command, ["make", "1.2"]);
        assert_eq!(
            layout.steps[0].expected_products[0].to_string(),
            "CREATE out-1.2"
        );
        assert_eq!(
            layout.steps[0].expected_materials[0].to_string(),
            "MATCH * WITH PRODUCTS FROM fetch"
        );
        assert_eq!(layout.inspect[0].run, ["ls", "{x}"]);

        let mut layout = Layout::from_value(&layout_json()).unwrap();
        let missing: BTreeMap<String, String> = [("VERSION".into(), "1".into())].into();
        assert_eq!(
            layout.substitute_parameters(&missing),
            Err(SubstitutionError::Missing {
                item: "build".into(),
                name: "UP".into(),
                text: "{UP}".into()
            })
        );
    }

    #[test]
    fn compact_link_text_reads_as_the_value_path() {
        let h = "ab".repeat(32);
        let texts = [
            format!(
                r#"{{"_type": "link", "name": "x", "materials": {{"b": {{"sha256": "{h}"}}, "a": {{"sha256": "{h}"}}}}}}"#
            ),
            format!(
                r#"{{"_type": "link", "products": {{"a": {{"sha256": "{h}"}}, "a": {{"sha512": "00"}}}}, "extra": [1.5]}}"#
            ),
            format!(
                r#"{{"_type": "link", "products": {{"p\u00e9\"": {{"sha256": "{}", "md5": "0A"}}}}}}"#,
                h.to_uppercase()
            ),
            format!(
                r#"{{"_type": "link", "products": {{"x": {{"sha256": "{}"}}}}}}"#,
                h.to_uppercase()
            ),
            r#"{"_type": "link", "name": "a", "name": "b"}"#.to_owned(),
            r#"{"_type": "layout"}"#.to_owned(),
            r#"{"_type": "link", "byproducts": null}"#.to_owned(),
            r#"{"_type": "link", "products": {"f": {"sha256": "xyz"}}}"#.to_owned(),
            r#"{"_type": "link", "command": ["a", 1]}"#.to_owned(),
            r#"{"_type": "link", "products": {"f": {}}, "byproducts": {"return-value": 0}}"#
                .to_owned(),
        ];
        for text in &texts {
            let value: Value = serde_json::from_str(text).unwrap();
            let slow = Link::from_value(&value).map(|l| CompactLink::from_link(&l));
            match CompactLink::from_payload_text(text.as_bytes()) {
                Some(fast) => assert_eq!(Ok(fast), slow, "{text}"),
                None => assert!(
                    slow.is_err() || text.contains("\"name\": \"a\", \"name\""),
                    "{text}"
                ),
            }
        }
        let wrapped = format!(r#"{{"signatures": [], "signed": {}}}"#, texts[0]);
        assert_eq!(
            CompactLink::from_metablock_text(wrapped.as_bytes()),
            CompactLink::from_payload_text(texts[0].as_bytes())
        );
    }
}
