//! Python's `json.dumps(value, sort_keys=True, indent=..)` with its default `ensure_ascii`:
//! what the reference writes for files and DSSE payloads.

use serde_json::Value;

/// `indent: None` is Python's one-line form (`", "` and `": "` separators); `Some(n)` puts
/// each item on its own line indented by `n` spaces per level, with `","` and `": "`.
pub fn dumps(value: &Value, indent: Option<usize>) -> String {
    let mut out = String::new();
    write(value, indent, 0, &mut out);
    out
}

fn newline(indent: Option<usize>, level: usize, out: &mut String) {
    if let Some(n) = indent {
        out.push('\n');
        const SPACES: &str = "                                                                ";
        let mut left = n * level;
        while left > 0 {
            let k = left.min(SPACES.len());
            out.push_str(&SPACES[..k]);
            left -= k;
        }
    }
}

/// Writes `value` as at nesting `level` (for wrappers written by hand around a payload).
pub(crate) fn write(value: &Value, indent: Option<usize>, level: usize, out: &mut String) {
    let item_sep = if indent.is_some() { "," } else { ", " };
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() => out.push_str(&float_repr(f)),
            _ => out.push_str(&n.to_string()),
        },
        Value::String(s) => write_str(s, out),
        Value::Array(items) => {
            if items.is_empty() {
                out.push_str("[]");
                return;
            }
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(item_sep);
                }
                newline(indent, level + 1, out);
                write(item, indent, level + 1, out);
            }
            newline(indent, level, out);
            out.push(']');
        }
        Value::Object(map) => {
            if map.is_empty() {
                out.push_str("{}");
                return;
            }
            // Python sorts str keys by code point: the order of their UTF-8 bytes, which is
            // the order serde_json's (BTreeMap) Map iterates in; `canonical` has a test that
            // fails if a feature ever turns the Map into an insertion-ordered one.
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(item_sep);
                }
                newline(indent, level + 1, out);
                write_str(k, out);
                out.push_str(": ");
                write(v, indent, level + 1, out);
            }
            newline(indent, level, out);
            out.push('}');
        }
    }
}

/// [`write`] of the value whose canonical JSON (securesystemslib's: sorted keys, no
/// whitespace, only `"` and `\\` escaped, no floats) is `canonical`, in one pass over the
/// text: a classic envelope keeps its payload's canonical bytes for signatures, so its
/// file is written without building the payload's tree (tens of megabytes for a link of
/// 100,000 artifacts). `None` if `canonical` is not such text.
pub(crate) fn write_canonical(
    canonical: &str,
    indent: Option<usize>,
    base: usize,
    out: &mut String,
) -> Option<()> {
    let mut level = base;
    let item_sep = if indent.is_some() { "," } else { ", " };
    let bytes = canonical.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            open @ (b'{' | b'[') => {
                let close = if open == b'{' { b'}' } else { b']' };
                if bytes.get(i + 1) == Some(&close) {
                    out.push(open as char);
                    out.push(close as char);
                    i += 2;
                    continue;
                }
                out.push(open as char);
                level += 1;
                newline(indent, level, out);
            }
            close @ (b'}' | b']') => {
                if level == base {
                    return None;
                }
                level -= 1;
                newline(indent, level, out);
                out.push(close as char);
            }
            b',' => {
                out.push_str(item_sep);
                newline(indent, level, out);
            }
            b':' => out.push_str(": "),
            b'"' => {
                // The string's text up to the closing quote; canonical JSON escapes only
                // `"` and `\\`.
                let start = i + 1;
                let mut j = start;
                let mut plain = true;
                loop {
                    match *bytes.get(j)? {
                        b'"' => break,
                        b'\\' => {
                            j += 2;
                            continue;
                        }
                        b' '..=b'~' => {}
                        _ => plain = false,
                    }
                    j += 1;
                }
                let text = canonical.get(start..j)?;
                if plain {
                    // Printable ASCII: Python writes the same escapes for `"` and `\\`.
                    out.push('"');
                    out.push_str(text);
                    out.push('"');
                } else {
                    let mut unescaped = String::with_capacity(text.len());
                    let mut chars = text.chars();
                    while let Some(c) = chars.next() {
                        unescaped.push(if c == '\\' { chars.next()? } else { c });
                    }
                    write_str(&unescaped, out);
                }
                i = j + 1;
                continue;
            }
            b'-' | b'0'..=b'9' | b't' | b'f' | b'n' => {
                // Integers and literals are written alike.
                let end = bytes[i..]
                    .iter()
                    .position(|b| matches!(b, b',' | b'}' | b']' | b':'))
                    .map_or(bytes.len(), |k| i + k);
                out.push_str(canonical.get(i..end)?);
                i = end;
                continue;
            }
            _ => return None,
        }
        i += 1;
    }
    (level == base).then_some(())
}

fn write_str(s: &str, out: &mut String) {
    out.push('"');
    // Fast path: printable ASCII without quotes or backslashes is written as is (paths and
    // hex digests, nearly everything in a link).
    if s.bytes()
        .all(|b| (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\')
    {
        out.push_str(s);
        out.push('"');
        return;
    }
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            _ => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    use std::fmt::Write;
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
        }
    }
    out.push('"');
}

/// Python's `repr(float)`: shortest round-tripping digits, exponent form outside
/// `1e-4 <= |f| < 1e16`.
fn float_repr(f: f64) -> String {
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let mut out = String::new();
    if negative {
        out.push('-');
    }
    if (-4..16).contains(&exp) {
        let decpt = exp + 1;
        if decpt <= 0 {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', (-decpt) as usize));
            out.push_str(&digits);
        } else if decpt as usize >= digits.len() {
            out.push_str(&digits);
            out.extend(std::iter::repeat_n('0', decpt as usize - digits.len()));
            out.push_str(".0");
        } else {
            out.push_str(&digits[..decpt as usize]);
            out.push('.');
            out.push_str(&digits[decpt as usize..]);
        }
    } else {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push_str(&format!(
            "e{}{:02}",
            if exp < 0 { '-' } else { '+' },
            exp.abs()
        ));
    }
    out
}
