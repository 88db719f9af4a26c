//! Python's `fnmatch` as the reference uses it on POSIX: case-sensitive, `*` matches
//! anything including `/` and newlines, `?` one character, `[seq]`, `[!seq]` and ranges, and a
//! `[` without a closing `]` is literal. Bracket expressions follow `fnmatch.translate` of
//! Python 3.11 exactly, including its odd corners (`[z-a]` never matches, `[!z-a]` matches any
//! character, a trailing `-` is literal).
//!
//! A direct matcher instead of a regex: every token except `*` consumes exactly one
//! character, so the classic two-pointer walk that backtracks only to the last `*` is exact
//! and runs in O(pattern × name) at worst.

/// One compiled pattern, reusable across names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pattern {
    tokens: Vec<Token>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    Star,
    /// `?`
    Any,
    Literal(char),
    Class(Class),
    /// An empty bracket expression after Python drops its empty ranges: matches nothing.
    Never,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Class {
    negated: bool,
    /// Inclusive ranges; a single character is `(c, c)`.
    ranges: Vec<(char, char)>,
}

impl Class {
    fn contains(&self, c: char) -> bool {
        self.ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != self.negated
    }
}

impl Token {
    fn matches(&self, c: char) -> bool {
        match self {
            Token::Star => true,
            Token::Any => true,
            Token::Literal(l) => *l == c,
            Token::Class(class) => class.contains(c),
            Token::Never => false,
        }
    }
}

impl Pattern {
    /// Compiles `pattern`. Never fails: like `fnmatch.translate`, every string is a pattern.
    pub fn new(pattern: &str) -> Self {
        let pat: Vec<char> = pattern.chars().collect();
        let n = pat.len();
        let mut tokens = Vec::new();
        let mut i = 0;
        while i < n {
            let c = pat[i];
            i += 1;
            match c {
                '*' => {
                    if tokens.last() != Some(&Token::Star) {
                        tokens.push(Token::Star);
                    }
                }
                '?' => tokens.push(Token::Any),
                '[' => {
                    let mut j = i;
                    if j < n && pat[j] == '!' {
                        j += 1;
                    }
                    if j < n && pat[j] == ']' {
                        j += 1;
                    }
                    while j < n && pat[j] != ']' {
                        j += 1;
                    }
                    if j >= n {
                        tokens.push(Token::Literal('['));
                    } else {
                        tokens.push(bracket(&pat, i, j));
                        i = j + 1;
                    }
                }
                other => tokens.push(Token::Literal(other)),
            }
        }
        Pattern { tokens }
    }

    /// Whether `name` matches the whole pattern.
    pub fn matches(&self, name: &str) -> bool {
        let name: Vec<char> = name.chars().collect();
        let toks = &self.tokens;
        let (mut p, mut n) = (0usize, 0usize);
        // (token after the last `*`, name position that `*` currently extends to)
        let mut star: Option<(usize, usize)> = None;
        while n < name.len() {
            match toks.get(p) {
                Some(Token::Star) => {
                    star = Some((p + 1, n));
                    p += 1;
                    continue;
                }
                Some(t) if t.matches(name[n]) => {
                    p += 1;
                    n += 1;
                    continue;
                }
                _ => {}
            }
            match star {
                Some((sp, sn)) => {
                    p = sp;
                    n = sn + 1;
                    star = Some((sp, sn + 1));
                }
                None => return false,
            }
        }
        toks[p.min(toks.len())..].iter().all(|t| *t == Token::Star)
    }
}

/// Translates the bracket expression `pat[i..j]` (between `[` and `]`) as Python 3.11's
/// `fnmatch.translate` does, then reads the resulting regex set back as ranges.
fn bracket(pat: &[char], i: usize, j: usize) -> Token {
    let stuff = &pat[i..j];
    let chunks: Vec<Vec<char>> = if !stuff.contains(&'-') {
        vec![stuff.to_vec()]
    } else {
        // Split at the hyphens that make ranges; the first character (after `!`) and the
        // character after a range's end cannot start a range, hence the `+ 2` / `k + 3`.
        let mut chunks: Vec<Vec<char>> = Vec::new();
        let mut start = i;
        let mut k = if pat[i] == '!' { i + 2 } else { i + 1 };
        loop {
            let found = (k..j).find(|&x| pat[x] == '-');
            let Some(h) = found else { break };
            chunks.push(pat[start..h].to_vec());
            start = h + 1;
            k = h + 3;
        }
        let last = &pat[start.min(j)..j];
        if !last.is_empty() {
            chunks.push(last.to_vec());
        } else if let Some(prev) = chunks.last_mut() {
            prev.push('-');
        }
        // Remove empty ranges (`z-a`), merging their neighbours, as Python does.
        let mut k = chunks.len().saturating_sub(1);
        while k >= 1 {
            let prev_last = chunks[k - 1].last().copied();
            let next_first = chunks[k].first().copied();
            if let (Some(a), Some(b)) = (prev_last, next_first) {
                if a > b {
                    let tail: Vec<char> = chunks[k][1..].to_vec();
                    let prev = &mut chunks[k - 1];
                    prev.pop();
                    prev.extend(tail);
                    chunks.remove(k);
                }
            }
            k -= 1;
        }
        chunks
    };
    let negated = pat[i] == '!';
    let total: usize = chunks.iter().map(Vec::len).sum();
    if total == 0 {
        return Token::Never;
    }
    if negated && total == 1 {
        // Python: a set that is just `!` becomes `.`
        return Token::Any;
    }
    let mut ranges = Vec::new();
    let count = chunks.len();
    for (t, chunk) in chunks.iter().enumerate() {
        let skip_first = usize::from(t == 0 && negated);
        let body = &chunk[skip_first.min(chunk.len())..];
        for (x, &c) in body.iter().enumerate() {
            let is_range_end = t > 0 && x + skip_first == 0;
            let is_range_start = t + 1 < count && x + 1 == body.len();
            if is_range_start {
                if let Some(&hi) = chunks[t + 1].first() {
                    ranges.push((c, hi));
                }
            } else if !is_range_end {
                ranges.push((c, c));
            }
        }
    }
    Token::Class(Class { negated, ranges })
}

/// `fnmatch.fnmatch(name, pattern)` on POSIX.
pub fn fnmatch(name: &str, pattern: &str) -> bool {
    Pattern::new(pattern).matches(name)
}

/// `fnmatch.filter(names, pattern)`: the names that match, in their order.
pub fn filter<'a, I>(names: I, pattern: &str) -> Vec<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    let p = Pattern::new(pattern);
    names.into_iter().filter(|n| p.matches(n)).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NAMES: &[&str] = &[
        "",
        "a",
        "b",
        "d",
        "-",
        "]",
        "[",
        "!",
        "^",
        "\\",
        "&",
        "x",
        "bx",
        "ax",
        "ab",
        "abc",
        "axbxc",
        "a/b",
        "a/b/c",
        "foo.py",
        "dir/foo.py",
        "\n",
        "a\n",
        "[a",
        "a[",
        "z",
        "e",
        "c",
        "foo/x/bar",
        "foo/bar",
        "*",
        ".x",
        "12",
        "1a",
        "x.tar.gz",
        "é",
        "aXbYc",
    ];
    /// (pattern, names of NAMES that Python 3.11 `fnmatch.filter` keeps)
    const CASES: &[(&str, &[&str])] = &[
        (
            "*",
            &[
                "",
                "a",
                "b",
                "d",
                "-",
                "]",
                "[",
                "!",
                "^",
                "\\",
                "&",
                "x",
                "bx",
                "ax",
                "ab",
                "abc",
                "axbxc",
                "a/b",
                "a/b/c",
                "foo.py",
                "dir/foo.py",
                "\n",
                "a\n",
                "[a",
                "a[",
                "z",
                "e",
                "c",
                "foo/x/bar",
                "foo/bar",
                "*",
                ".x",
                "12",
                "1a",
                "x.tar.gz",
                "é",
                "aXbYc",
            ],
        ),
        ("*.py", &["foo.py", "dir/foo.py"]),
        ("a/*", &["a/b", "a/b/c"]),
        (
            "?",
            &[
                "a", "b", "d", "-", "]", "[", "!", "^", "\\", "&", "x", "\n", "z", "e", "c", "*",
                "é",
            ],
        ),
        (
            "??",
            &["bx", "ax", "ab", "a\n", "[a", "a[", ".x", "12", "1a"],
        ),
        ("[abc]", &["a", "b", "c"]),
        (
            "[!abc]",
            &[
                "d", "-", "]", "[", "!", "^", "\\", "&", "x", "\n", "z", "e", "*", "é",
            ],
        ),
        ("[a-c]", &["a", "b", "c"]),
        (
            "[!a-c]",
            &[
                "d", "-", "]", "[", "!", "^", "\\", "&", "x", "\n", "z", "e", "*", "é",
            ],
        ),
        ("[", &["["]),
        ("[]", &[]),
        ("[]]", &["]"]),
        ("[!]", &[]),
        (
            "[!]]",
            &[
                "a", "b", "d", "-", "[", "!", "^", "\\", "&", "x", "\n", "z", "e", "c", "*", "é",
            ],
        ),
        ("[a-]", &["a", "-"]),
        ("[-a]", &["a", "-"]),
        ("[z-a]", &[]),
        (
            "[!z-a]",
            &[
                "a", "b", "d", "-", "]", "[", "!", "^", "\\", "&", "x", "\n", "z", "e", "c", "*",
                "é",
            ],
        ),
        ("[b-a]x", &[]),
        ("[a-c-e]", &["a", "b", "-", "e", "c"]),
        ("[\\]", &["\\"]),
        ("a[", &["a["]),
        ("[a", &["[a"]),
        ("*[", &["[", "a["]),
        ("[^a]", &["a", "^"]),
        ("[[]", &["["]),
        ("a*b*c", &["abc", "axbxc", "a/b/c", "aXbYc"]),
        (
            "**",
            &[
                "",
                "a",
                "b",
                "d",
                "-",
                "]",
                "[",
                "!",
                "^",
                "\\",
                "&",
                "x",
                "bx",
                "ax",
                "ab",
                "abc",
                "axbxc",
                "a/b",
                "a/b/c",
                "foo.py",
                "dir/foo.py",
                "\n",
                "a\n",
                "[a",
                "a[",
                "z",
                "e",
                "c",
                "foo/x/bar",
                "foo/bar",
                "*",
                ".x",
                "12",
                "1a",
                "x.tar.gz",
                "é",
                "aXbYc",
            ],
        ),
        ("*a", &["a", "[a", "1a"]),
        (
            "a*",
            &[
                "a", "ax", "ab", "abc", "axbxc", "a/b", "a/b/c", "a\n", "a[", "aXbYc",
            ],
        ),
        ("[a-c-a-b]", &["a", "b", "-", "c"]),
        (
            "[!-a]",
            &[
                "b", "d", "]", "[", "!", "^", "\\", "&", "x", "\n", "z", "e", "c", "*", "é",
            ],
        ),
        ("[&&]", &["&"]),
        ("foo/**/bar", &["foo/x/bar"]),
        ("\\*", &["\\"]),
        (".*", &[".x"]),
        ("[0-9][0-9]", &["12"]),
        ("*.tar.gz", &["x.tar.gz"]),
        (
            "?*?",
            &[
                "bx",
                "ax",
                "ab",
                "abc",
                "axbxc",
                "a/b",
                "a/b/c",
                "foo.py",
                "dir/foo.py",
                "a\n",
                "[a",
                "a[",
                "foo/x/bar",
                "foo/bar",
                ".x",
                "12",
                "1a",
                "x.tar.gz",
                "aXbYc",
            ],
        ),
    ];

    #[test]
    fn agrees_with_python_fnmatch_table() {
        for (pat, expected) in CASES {
            let got = filter(NAMES.iter().copied(), pat);
            assert_eq!(&got, expected, "pattern {pat:?}");
        }
    }

    #[test]
    fn star_does_not_blow_up() {
        let pat = "*a*a*a*a*a*a*a*a*a*a*a*a*b";
        let name = "a".repeat(5000);
        assert!(!fnmatch(&name, pat));
    }

    proptest! {
        #[test]
        fn never_panics(pat in "[\\[\\]!*?a-c\\-^\\\\/.]{0,12}", name in "[\\[\\]!*?a-c\\-^\\\\/.]{0,12}") {
            let _ = fnmatch(&name, &pat);
        }

        #[test]
        fn never_panics_any_unicode(pat in any::<String>(), name in any::<String>()) {
            let _ = fnmatch(&name, &pat);
        }

        #[test]
        fn literal_patterns_match_themselves(name in "[a-z0-9/._]{0,20}") {
            prop_assert!(fnmatch(&name, &name));
        }
    }
}
