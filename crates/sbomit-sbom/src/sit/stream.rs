//! SBOMs written while they are made.
//!
//! A SIT for 100,000 artifacts is a few hundred megabytes of JSON; as a `serde_json::Value`
//! tree it is several times that, and most of the time went into the kernel handing out and
//! zeroing fresh pages for it. An emitter therefore builds a small *skeleton* in which each
//! large array is a placeholder, and registers, for each placeholder, how to make item `i`
//! ([`Arrays::array`]). [`Lazy::write_to`] writes the skeleton pretty-printed and makes the
//! items in parallel chunks while writing, so memory stays bounded by a few chunks and the
//! freed memory is reused; [`Lazy::into_value`] makes the whole tree when a caller needs it
//! (a mutation, a signature, a comparison). Both give the same JSON: the written bytes are
//! exactly `serde_json::to_writer_pretty` of [`Lazy::into_value`], plus a newline.
//!
//! Items may themselves hold placeholders (an SPDX 3 relationship listing 100,000 inputs).

use std::io::Write;

use rayon::prelude::*;
use serde_json::Value;

/// The text of a placeholder: the only element of an array to be filled. A NUL never occurs
/// in generated strings, so no real value can be mistaken for one.
const MARKER_PREFIX: &str = "\u{0}sbomit:splice:";
/// How the placeholder's prefix looks in serde_json's output (a NUL is written `\u0000`).
const MARKER_JSON_PREFIX: &[u8] = b"\"\\u0000sbomit:splice:";

/// Built once: `render` runs for every item of every array.
static MARKER_FINDER: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| memchr::memmem::Finder::new(MARKER_JSON_PREFIX));

/// Items made and rendered per parallel task, and tasks per window: a window's output is the
/// most that is held in memory at once.
const CHUNK: usize = 512;
const WINDOW: usize = 8;

type BlockFn<'a> = dyn Fn(usize) -> Vec<Value> + Sync + 'a;

/// Where SITs are written: `Send`, so that one window is written while the next is made.
pub type Sink<'w> = dyn Write + Send + 'w;

/// A sink that only hashes what is written to it: a SIT's sha256 without its bytes.
#[derive(Default)]
pub struct HashingWriter(sbomit_crypto::Sha256Hasher);

impl HashingWriter {
    pub fn finish(self) -> sbomit_intoto::digest::Sha256 {
        sbomit_intoto::digest::Sha256::from_bytes(self.0.finish())
    }
}

impl Write for HashingWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Writes through to `inner`, hashing what it passes on: a SIT written to its file and
/// hashed for the generator's link in one pass, never held whole.
pub struct HashingTee<W> {
    inner: W,
    hasher: HashingWriter,
}

impl<W: Write> HashingTee<W> {
    pub fn new(inner: W) -> Self {
        HashingTee {
            inner,
            hasher: HashingWriter::default(),
        }
    }

    /// The sha256 of everything written.
    pub fn finish(self) -> sbomit_intoto::digest::Sha256 {
        self.hasher.finish()
    }
}

impl<W: Write> Write for HashingTee<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.0.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// An array made of `blocks` runs of consecutive items, block `b` being `block(b)`.
struct LazyArray<'a> {
    blocks: usize,
    block: Box<BlockFn<'a>>,
}

/// The arrays an emitter defers, collected while it builds the skeleton.
#[derive(Default)]
pub struct Arrays<'a>(Vec<LazyArray<'a>>);

impl<'a> Arrays<'a> {
    /// A placeholder for an array of `len` items, item `i` being `item(i)`; put it where the
    /// array goes.
    pub fn array(&mut self, len: usize, item: impl Fn(usize) -> Value + Sync + 'a) -> Value {
        self.blocks(len, move |i| vec![item(i)])
    }

    /// A placeholder for the array made of `blocks` runs of items, run `b` being `block(b)`
    /// (possibly empty): for items that are cheaper to make together.
    pub fn blocks(
        &mut self,
        blocks: usize,
        block: impl Fn(usize) -> Vec<Value> + Sync + 'a,
    ) -> Value {
        let k = self.0.len();
        self.0.push(LazyArray {
            blocks,
            block: Box::new(block),
        });
        Value::Array(vec![Value::String(format!("{MARKER_PREFIX}{k}"))])
    }

    /// The SBOM whose placeholders are these arrays.
    pub fn finish(self, skeleton: Value) -> Lazy<'a> {
        Lazy {
            skeleton,
            arrays: self.0,
        }
    }
}

/// An SBOM whose large arrays are made on demand (see the module documentation).
pub struct Lazy<'a> {
    skeleton: Value,
    arrays: Vec<LazyArray<'a>>,
}

impl Lazy<'_> {
    /// The whole SBOM as one value.
    pub fn into_value(self) -> Value {
        let mut v = self.skeleton;
        fill(&mut v, &self.arrays);
        v
    }

    /// Writes the SBOM pretty-printed, plus a newline: the bytes of
    /// `serde_json::to_writer_pretty(&self.into_value())` and `\n`.
    pub fn write_to(self, w: &mut Sink<'_>) -> std::io::Result<()> {
        let text = serde_json::to_vec_pretty(&self.skeleton)?;
        drop(self.skeleton);
        render(w, &text, b"", &self.arrays)?;
        w.write_all(b"\n")
    }
}

/// The placeholder index if `items` is a placeholder array.
fn marker(items: &[Value]) -> Option<usize> {
    match items {
        [Value::String(s)] => s.strip_prefix(MARKER_PREFIX)?.parse().ok(),
        _ => None,
    }
}

fn fill(v: &mut Value, arrays: &[LazyArray<'_>]) {
    match v {
        Value::Array(items) => match marker(items).and_then(|k| arrays.get(k)) {
            Some(a) => {
                *items = (0..a.blocks)
                    .into_par_iter()
                    .flat_map_iter(|b| {
                        let mut block = (a.block)(b);
                        block.iter_mut().for_each(|x| fill(x, arrays));
                        block
                    })
                    .collect();
            }
            None => items.iter_mut().for_each(|x| fill(x, arrays)),
        },
        Value::Object(m) => m.values_mut().for_each(|x| fill(x, arrays)),
        _ => {}
    }
}

fn invalid(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned())
}

/// Writes `text` (serde_json pretty output), with `indent` after every newline, expanding
/// each placeholder array with its items.
fn render(
    w: &mut Sink<'_>,
    text: &[u8],
    indent: &[u8],
    arrays: &[LazyArray<'_>],
) -> std::io::Result<()> {
    let mut pos = 0;
    while let Some(rel) = MARKER_FINDER.find(&text[pos..]) {
        let at = pos + rel;
        let digits_at = at + MARKER_JSON_PREFIX.len();
        let close_quote = digits_at
            + text[digits_at..]
                .iter()
                .position(|b| *b == b'"')
                .ok_or_else(|| invalid("unterminated placeholder"))?;
        let array = std::str::from_utf8(&text[digits_at..close_quote])
            .ok()
            .and_then(|k| k.parse::<usize>().ok())
            .and_then(|k| arrays.get(k))
            .ok_or_else(|| invalid("unknown placeholder"))?;
        let after = close_quote + 1;
        // Pretty output puts the lone element on a line of its own: `[`, newline, indent,
        // the marker, newline, indent, `]`.
        let line_start = text[..at]
            .iter()
            .rposition(|b| *b == b'\n')
            .ok_or_else(|| invalid("placeholder not on its own line"))?
            + 1;
        let mut item_indent = indent.to_vec();
        item_indent.extend_from_slice(&text[line_start..at]);
        let mut chunks = Chunks {
            array,
            indent: &item_indent,
            arrays,
            next: 0,
        };
        match chunks.first_window()? {
            None => {
                // An empty array is `[]`: drop the marker's line.
                let close = after
                    + text[after..]
                        .iter()
                        .position(|b| *b == b']')
                        .ok_or_else(|| invalid("placeholder array not closed"))?;
                write_indented(w, &text[pos..line_start - 1], indent)?;
                pos = close;
            }
            Some(mut window) => {
                write_indented(w, &text[pos..line_start], indent)?;
                w.write_all(&text[line_start..at])?;
                let mut first = true;
                // Each window is written while the next one is made on the other cores.
                loop {
                    let (written, next) = rayon::join(
                        || -> std::io::Result<()> {
                            for chunk in &window {
                                if !std::mem::take(&mut first) {
                                    w.write_all(b",\n")?;
                                    w.write_all(&item_indent)?;
                                }
                                w.write_all(chunk)?;
                            }
                            Ok(())
                        },
                        || chunks.window(),
                    );
                    written?;
                    match next? {
                        Some(next) => window = next,
                        None => break,
                    }
                }
                pos = after;
            }
        }
    }
    write_indented(w, &text[pos..], indent)
}

/// Writes `text` with `indent` after every newline.
fn write_indented(w: &mut Sink<'_>, text: &[u8], indent: &[u8]) -> std::io::Result<()> {
    if indent.is_empty() {
        return w.write_all(text);
    }
    let mut start = 0;
    for nl in memchr::memchr_iter(b'\n', text) {
        w.write_all(&text[start..=nl])?;
        w.write_all(indent)?;
        start = nl + 1;
    }
    w.write_all(&text[start..])
}

/// An array's items rendered in chunks of consecutive blocks: each chunk is its items at
/// `indent` (the first one's indentation left to the caller) separated by `,` and a newline.
/// Chunks are made and rendered a window at a time in parallel, in order; chunks without
/// items are left out.
struct Chunks<'x, 'a> {
    array: &'x LazyArray<'a>,
    indent: &'x [u8],
    arrays: &'x [LazyArray<'a>],
    /// The first block not yet rendered.
    next: usize,
}

impl Chunks<'_, '_> {
    /// The first window with any items, or `None` if the array is empty.
    fn first_window(&mut self) -> std::io::Result<Option<Vec<Vec<u8>>>> {
        while let Some(window) = self.window()? {
            if !window.is_empty() {
                return Ok(Some(window));
            }
        }
        Ok(None)
    }

    /// The next window's non-empty chunks (possibly none), or `None` after the last block.
    fn window(&mut self) -> std::io::Result<Option<Vec<Vec<u8>>>> {
        if self.next >= self.array.blocks {
            return Ok(None);
        }
        let first = self.next;
        let end = (first + CHUNK * WINDOW).min(self.array.blocks);
        self.next = end;
        let this = &*self;
        let rendered: Vec<Vec<u8>> = (first..end)
            .step_by(CHUNK)
            .collect::<Vec<_>>()
            .into_par_iter()
            .map(|start| this.render_chunk(start, (start + CHUNK).min(end)))
            .collect::<std::io::Result<_>>()?;
        Ok(Some(
            rendered.into_iter().filter(|c| !c.is_empty()).collect(),
        ))
    }

    fn render_chunk(&self, start: usize, end: usize) -> std::io::Result<Vec<u8>> {
        let mut buf = Vec::new();
        for b in start..end {
            for item in (self.array.block)(b) {
                if !buf.is_empty() {
                    buf.extend_from_slice(b",\n");
                    buf.extend_from_slice(self.indent);
                }
                let text = serde_json::to_vec_pretty(&item)?;
                render(&mut buf, &text, self.indent, self.arrays)?;
            }
        }
        Ok(buf)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn item(i: usize) -> Value {
        match i % 3 {
            0 => {
                json!({"name": format!("c{i}"), "hashes": [{"alg": "SHA-256", "content": "00"}], "e": {}})
            }
            1 => json!(format!("x{i}")),
            _ => json!({"nested": {"deep": [1, 2, []]}}),
        }
    }

    /// Writing expands placeholders to exactly the pretty bytes of the whole value: empty,
    /// small and multi-chunk arrays, nested placeholders inside items, at several depths.
    #[test]
    fn written_bytes_are_the_pretty_bytes_of_the_whole_value() {
        for n in [0, 1, 3, CHUNK - 1, CHUNK + 1, 3 * CHUNK * WINDOW / 2] {
            let make = || {
                let mut arrays = Arrays::default();
                let top = arrays.array(n, item);
                let inner = arrays.array(n / 2, |i| json!(i));
                let nested =
                    arrays.array(n.min(40), move |i| json!({"rel": i, "to": inner.clone()}));
                let empty = arrays.array(0, item);
                // Runs of 0, 1 and 2 items: empty runs leave no trace.
                let runs = arrays.blocks(n, |b| (0..b % 3).map(|k| json!([b, k])).collect());
                let all_empty = arrays.blocks(n, |_| Vec::new());
                arrays.finish(json!({
                    "a": 1,
                    "components": top,
                    "deeper": {"x": [{"y": nested}], "empty": empty, "runs": runs},
                    "all_empty": all_empty,
                    "z": {"k": [true]},
                }))
            };
            let whole = make().into_value();
            assert_eq!(whole["components"].as_array().unwrap().len(), n);
            let mut expected = serde_json::to_vec_pretty(&whole).unwrap();
            expected.push(b'\n');
            let mut out = Vec::new();
            make().write_to(&mut out).unwrap();
            assert_eq!(
                String::from_utf8(out).unwrap(),
                String::from_utf8(expected).unwrap(),
                "{n} items"
            );
        }
    }
}
