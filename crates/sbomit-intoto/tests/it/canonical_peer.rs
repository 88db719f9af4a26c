//! Canonical JSON must be byte-equal to securesystemslib's. This compares our encoder with the
//! reference's `encode_canonical` on a corpus of awkward strings (non-ASCII, combining accents,
//! control characters, quotes, backslashes, astral code points). Runs when
//! SBOMIT_INTOTO_REF_BIN names the in-toto reference's virtualenv bin directory (CI sets it).

#![allow(clippy::unwrap_used)] // a test fails loudly on a broken setup

use std::process::Command;

use serde_json::{json, Value};

fn corpus() -> Value {
    let names = [
        "plain.txt",
        "ünïcödé/ﬁle.txt",
        "e\u{301}-combining-accent",
        "\u{e9}-precomposed",
        "tab\there",
        "newline\nhere",
        "ctrl-\u{1}-\u{1f}-\u{7f}",
        "quote\"back\\slash",
        "emoji-\u{1f600}",
        "bidi-\u{202e}txt.exe",
        "zero-width-\u{200b}joiner",
        "cjk-漢字",
        "\u{ffff}\u{10ffff}",
        "/abs/path",
        "",
    ];
    let mut materials = serde_json::Map::new();
    for (i, n) in names.iter().enumerate() {
        materials.insert((*n).to_owned(), json!({"sha256": format!("{i:064x}")}));
    }
    json!({
        "_type": "link",
        "name": "corpus",
        "command": ["echo", "ünï", "\u{0}"],
        "materials": materials,
        "products": {},
        "byproducts": {"return-value": -1, "stdout": "x\r\ny", "stderr": ""},
        "environment": {"nested": {"b": [1, 2, {"z": null, "a": true}], "a": false}},
        "big": 9007199254740993_u64,
        "neg": -9007199254740993_i64,
    })
}

#[test]
fn canonical_json_is_byte_equal_to_securesystemslib() {
    let Some(bin) = std::env::var_os("SBOMIT_INTOTO_REF_BIN") else {
        eprintln!("skipped: SBOMIT_INTOTO_REF_BIN is not set");
        return;
    };
    let dir = std::env::temp_dir().join(format!("sbomit-canonical-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join("corpus.json");
    let value = corpus();
    // serde_json escapes control characters when writing, so the file is valid JSON for Python.
    std::fs::write(&input, serde_json::to_vec(&value).unwrap()).unwrap();
    let script = "import json, sys\n\
        from securesystemslib.formats import encode_canonical\n\
        data = json.load(open(sys.argv[1], encoding='utf-8'))\n\
        sys.stdout.buffer.write(encode_canonical(data).encode('utf-8'))\n";
    let out = Command::new(std::path::Path::new(&bin).join("python"))
        .args(["-c", script])
        .arg(&input)
        .output()
        .expect("run the reference's python");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ours = sbomit_intoto::canonical::encode(&value).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&ours),
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(ours, out.stdout);
    std::fs::remove_dir_all(&dir).ok();
}
