//! Exclude patterns exactly as the reference applies them: in-toto 3.1.0 compiles them with
//! `pathspec.GitIgnoreSpec.from_lines("gitwildmatch", patterns)` (pathspec 1.1.1, the "simple"
//! backend) and asks `match_file(path)` of every path it meets.
//!
//! This is a port of that code, not a reimplementation of gitignore: each pattern is turned
//! into the same regular expression pathspec builds (`GitIgnoreSpecPattern.pattern_to_regex`),
//! searched (not anchored) in the path, and the verdict is taken as pathspec's backend takes it
//! (patterns checked last to first; a match without the directory marker wins over one with
//! it). Git's own rules differ in places: `src/` followed by `!src/m` excludes nothing under
//! `src` that is named `src/m`, and a pattern like `*` or `?` also matches the path `.`, so
//! recording `.` with it records nothing, as the reference does.
//!
//! Python's regular expressions differ from Rust's in three ways that matter here, and the
//! translation accounts for them: `$` also matches before a final newline, a bracket expression
//! is copied verbatim into the regex (Rust would read `[:alpha:]`, `&&` or `--` in it as
//! syntax), and `re.escape` output is not always a valid Rust escape.

use regex_automata::meta::Regex;
use regex_automata::util::primitives::NonMaxUsize;
use regex_automata::{Input, PatternID};

/// A set of compiled exclude patterns.
#[derive(Clone, Debug)]
pub struct ExcludeSpec {
    /// Patterns that are not no-ops, in the order given.
    patterns: Vec<Compiled>,
}

#[derive(Clone, Debug)]
struct Compiled {
    regex: Regex,
    /// `true` excludes, `false` (a `!` pattern) re-includes.
    include: bool,
    /// Slot index of the directory-marker group, when the regex has one.
    dir_mark_slot: Option<usize>,
}

/// Why a pattern was refused (the reference raises on the same patterns).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid exclude pattern {pattern:?}: {reason}")]
pub struct PatternError {
    pub pattern: String,
    pub reason: String,
}

const DIR_MARK: &str = "ps_d";
const DIR_MARK_CG: &str = "(?P<ps_d>/)";
/// Python's `$` without MULTILINE: the end, or just before a newline that ends the string.
const PY_END: &str = r"(?:\n?\z)";

impl ExcludeSpec {
    /// Compiles `patterns` as `GitIgnoreSpec.from_lines("gitwildmatch", patterns)` does.
    pub fn new<S: AsRef<str>>(patterns: &[S]) -> Result<Self, PatternError> {
        let mut compiled = Vec::new();
        for p in patterns {
            let p = p.as_ref();
            // `from_lines` drops empty lines before compiling.
            if p.is_empty() {
                continue;
            }
            let err = |reason: String| PatternError {
                pattern: p.to_owned(),
                reason,
            };
            let Some((regex, include)) = pattern_to_regex(p).map_err(err)? else {
                continue;
            };
            let regex = Regex::new(&regex).map_err(|e| err(e.to_string()))?;
            let dir_mark_slot = regex
                .group_info()
                .to_index(PatternID::ZERO, DIR_MARK)
                .map(|i| i * 2);
            compiled.push(Compiled {
                regex,
                include,
                dir_mark_slot,
            });
        }
        Ok(Self { patterns: compiled })
    }

    /// `GitIgnoreSpec.match_file(path)`: whether `path` is excluded.
    pub fn is_excluded(&self, path: &str) -> bool {
        // `normalize_file`: on POSIX no separator is rewritten; one leading "/" or "./" goes.
        let file = if let Some(rest) = path.strip_prefix('/') {
            rest
        } else if let Some(rest) = path.strip_prefix("./") {
            rest
        } else {
            path
        };
        // The simple backend walks the patterns in reverse: the last pattern that matches as
        // a file pattern decides; failing that, the last one that matched as a directory.
        let mut verdict = None;
        let mut best = 0;
        for p in self.patterns.iter().rev() {
            let Some(dir_mark) = p.search(file) else {
                continue;
            };
            let priority = if dir_mark { 1 } else { 2 };
            if priority > best {
                verdict = Some(p.include);
                best = priority;
            }
            if priority == 2 {
                break;
            }
        }
        verdict == Some(true)
    }
}

impl Compiled {
    /// `None` when the pattern does not match; otherwise whether the directory marker group
    /// took part in the match.
    fn search(&self, file: &str) -> Option<bool> {
        let input = Input::new(file);
        match self.dir_mark_slot {
            None => self.regex.is_match(input).then_some(false),
            Some(slot) => {
                let mut slots: [Option<NonMaxUsize>; 4] = [None; 4];
                self.regex.search_slots(&input, &mut slots)?;
                Some(slots.get(slot).is_some_and(|s| s.is_some()))
            }
        }
    }
}

/// `str.isspace()` in Python 3.11, which is what `str.rstrip()` strips.
fn py_isspace(c: char) -> bool {
    matches!(
        c,
        '\u{9}'..='\u{d}'
            | '\u{1c}'..='\u{20}'
            | '\u{85}'
            | '\u{a0}'
            | '\u{1680}'
            | '\u{2000}'..='\u{200a}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{202f}'
            | '\u{205f}'
            | '\u{3000}'
    )
}

/// A literal character in Rust regex syntax (what `re.escape(char)` means in Python).
fn lit(c: char, out: &mut String) {
    if c.is_ascii_alphanumeric() || c == '_' {
        out.push(c);
    } else {
        out.push_str(&format!("\\x{{{:X}}}", u32::from(c)));
    }
}

/// `GitIgnoreSpecPattern.pattern_to_regex`: `Ok(None)` for a no-op pattern (blank, comment,
/// `/`, or invalid range notation, which Git discards), else the regex and whether a match
/// excludes.
fn pattern_to_regex(pattern: &str) -> Result<Option<(String, bool)>, String> {
    let p = if pattern.ends_with("\\ ") {
        pattern
    } else {
        pattern.trim_end_matches(py_isspace)
    };
    if p.is_empty() || p.starts_with('#') || p == "/" {
        return Ok(None);
    }
    let (p, include) = match p.strip_prefix('!') {
        Some(rest) => (rest, false),
        None => (p, true),
    };
    let mut segs: Vec<&str> = p.split('/').collect();
    let is_dir_pattern = segs.last().is_some_and(|s| s.is_empty());

    // __normalize_segments
    if segs.first().is_some_and(|s| s.is_empty()) {
        segs.remove(0);
    } else if (segs.len() == 1 || (segs.len() == 2 && segs[1].is_empty())) && segs[0] != "**" {
        segs.insert(0, "**");
    }
    let Some(last) = segs.last_mut() else {
        return Err(format!("Invalid git pattern: {pattern:?}"));
    };
    if last.is_empty() {
        *last = "**";
    }
    for i in (1..segs.len()).rev() {
        if segs[i - 1] == "**" && segs[i] == "**" {
            segs.remove(i);
        }
    }
    let over: Option<&str> = match segs.as_slice() {
        ["**"] => Some(if is_dir_pattern { DIR_MARK_CG } else { "." }),
        ["**", "*"] => Some("."),
        ["**", "*", "**"] => Some(if is_dir_pattern { DIR_MARK_CG } else { "/" }),
        _ => None,
    };
    if let Some(o) = over {
        return Ok(Some((o.to_owned(), include)));
    }

    // __translate_segments
    let mut out = String::new();
    let mut need_slash = false;
    let end = segs.len() - 1;
    for (i, seg) in segs.iter().enumerate() {
        if *seg == "**" {
            if i == 0 {
                out.push_str("^(?:.+/)?");
            } else if i < end {
                out.push_str("(?:/.+)?");
                need_slash = true;
            } else if is_dir_pattern {
                out.push_str(DIR_MARK_CG);
            } else {
                out.push('/');
            }
        } else {
            if i == 0 {
                out.push('^');
            }
            if need_slash {
                out.push('/');
            }
            if *seg == "*" {
                out.push_str("[^/]+");
            } else {
                match translate_segment_glob(seg)? {
                    Some(r) => out.push_str(&r),
                    // Invalid range notation: the pattern is discarded.
                    None => return Ok(None),
                }
            }
            if i == end {
                out.push_str("(?:");
                out.push_str(DIR_MARK_CG);
                out.push('|');
                out.push_str(PY_END);
                out.push(')');
            }
            need_slash = true;
        }
    }
    Ok(Some((out, include)))
}

/// `_translate_segment_glob(pattern, "raise")`; `Ok(None)` stands for the range error.
fn translate_segment_glob(seg: &str) -> Result<Option<String>, String> {
    let chars: Vec<char> = seg.chars().collect();
    let end = chars.len();
    let mut out = String::new();
    let mut escape = false;
    let mut i = 0;
    while i < end {
        let c = chars[i];
        i += 1;
        if escape {
            escape = false;
            lit(c, &mut out);
        } else if c == '\\' {
            escape = true;
        } else if c == '*' {
            out.push_str("[^/]*");
        } else if c == '?' {
            out.push_str("[^/]");
        } else if c == '[' {
            let mut j = i;
            if j < end && (chars[j] == '!' || chars[j] == '^') {
                j += 1;
            }
            if j < end && chars[j] == ']' {
                j += 1;
            }
            while j < end && chars[j] != ']' {
                j += 1;
            }
            if j >= end {
                return Ok(None);
            }
            j += 1;
            let mut negate = false;
            if chars[i] == '!' || chars[i] == '^' {
                negate = true;
                i += 1;
            }
            // Python receives "[" (+ "^") + chars[i..j] with backslashes doubled, so every
            // character in it is literal; parse it as sre_parse does.
            out.push_str(&bracket(&chars[i..j], negate)?);
            i = j;
        } else {
            lit(c, &mut out);
        }
    }
    if escape {
        return Err(format!(
            "Escape character found with no next character to escape: {seg:?}"
        ));
    }
    Ok(Some(out))
}

/// A Python bracket expression whose body (with its closing `]`) is `body`, every character
/// literal, rewritten as a Rust class of escaped literals and ranges.
fn bracket(body: &[char], negate: bool) -> Result<String, String> {
    let mut out = String::from(if negate { "[^" } else { "[" });
    let mut k = 0;
    let mut first = true;
    loop {
        let Some(&c) = body.get(k) else {
            return Err("unterminated character set".to_owned());
        };
        k += 1;
        // A "]" closes the set unless the set is still empty.
        if c == ']' && !first {
            break;
        }
        first = false;
        if body.get(k) == Some(&'-') {
            match body.get(k + 1) {
                None => return Err("unterminated character set".to_owned()),
                Some(']') => {
                    // "a-]": a literal "-" before the end.
                    lit(c, &mut out);
                    lit('-', &mut out);
                    k += 2;
                    break;
                }
                Some(&hi) => {
                    if hi < c {
                        return Err(format!("bad character range {c}-{hi}"));
                    }
                    lit(c, &mut out);
                    out.push('-');
                    lit(hi, &mut out);
                    k += 2;
                }
            }
        } else {
            lit(c, &mut out);
        }
    }
    // Python stops at the first closing "]"; anything after it in `body` cannot exist, as
    // the glob scanner ended the body at that same "]".
    let _ = k;
    out.push(']');
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(patterns: &[&str], path: &str) -> bool {
        ExcludeSpec::new(patterns).unwrap().is_excluded(path)
    }

    #[test]
    fn regexes_are_pathspecs() {
        // Expected strings from pathspec 1.1.1 with `$` and escapes in Rust spelling.
        let r = |p: &str| pattern_to_regex(p).unwrap().map(|(r, _)| r);
        assert_eq!(
            r("*.pyc").as_deref(),
            Some(r"^(?:.+/)?[^/]*\x{2E}pyc(?:(?P<ps_d>/)|(?:\n?\z))")
        );
        assert_eq!(r("*").as_deref(), Some("."));
        assert_eq!(r("*/").as_deref(), Some("(?P<ps_d>/)"));
        assert_eq!(r("# c"), None);
        assert_eq!(r("/"), None);
        assert_eq!(r("[abc"), None);
        assert!(pattern_to_regex("!").is_err());
        assert!(pattern_to_regex("a\\").is_err());
    }

    #[test]
    fn defaults() {
        let d = ["*.link*", ".git", "*.pyc", "*~"];
        assert!(ex(&d, "a/b.link"));
        assert!(ex(&d, "x.linkfoo"));
        assert!(ex(&d, ".git"));
        assert!(ex(&d, "sub/.git/HEAD"));
        assert!(ex(&d, "a.txt~"));
        assert!(!ex(&d, "a.txt"));
        assert!(!ex(&d, "."));
        assert!(!ex(&d, ".gitignore"));
        // Python's `$` matches before a final newline.
        assert!(ex(&d, "x.pyc\n"));
    }

    #[test]
    fn pathspec_quirks() {
        // A file pattern that matches beats a directory pattern that matches.
        assert!(!ex(&["src/", "!src/m"], "src/m"));
        assert!(ex(&["src/", "!src/m"], "src/n"));
        assert!(!ex(&["src/"], "src"));
        // "*" and "?" match ".", the path recorded when "." is given.
        assert!(ex(&["*"], "."));
        assert!(ex(&["?"], "."));
        // Bracket bodies are literal in Python.
        assert!(ex(&["[[:]x"], ":x"));
        assert!(ex(&["[&&]"], "&"));
        assert!(ex(&["[!]a-]"], "b"));
        assert!(!ex(&["[!]a-]"], "-"));
        assert!(ExcludeSpec::new(&["[z-a]"]).is_err());
    }
}
