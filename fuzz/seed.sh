#!/usr/bin/env bash
# Seeds fuzz/corpus/<target>/ from the repository's fixtures (testdata/, crates/*/tests) and the
# committed binary seeds (fuzz/seeds/<target>/, written by `make-seeds`). The corpus directory is
# not committed: libFuzzer grows it in place. Existing corpus files are kept.
set -euo pipefail
cd "$(dirname "$0")"
root=..
td=$root/testdata

put() { # put TARGET FILE... : copy fixtures into the target's corpus
    local target=$1
    shift
    mkdir -p "corpus/$target"
    for f in "$@"; do
        [ -f "$f" ] || continue
        cp "$f" "corpus/$target/$(echo "${f#"$root"/}" | tr '/' '_')"
    done
}

put_selected() { # put_selected TARGET SELECTOR-BYTE NAME FILE: one seed with a selector byte
    local target=$1 byte=$2 name=$3 file=$4
    mkdir -p "corpus/$target"
    [ -f "$file" ] || return 0
    { printf "\\x$byte"; head -c 16384 "$file"; } >"corpus/$target/$name"
}

metadata=(
    "$td"/in-toto-golang/*.link "$td"/in-toto-golang/*.layout
    "$td"/in-toto-python/demo_files/*.link "$td"/in-toto-python/demo_files/*.template
    "$td"/in-toto-python/demo_dsse_files/*.link "$td"/in-toto-python/demo_dsse_files/*.template
    "$td"/intoto-python-3.1.0/*.link "$td"/intoto-python-3.1.0/link.json
)
graph=("$td"/graph/*.json)

for target in canonical_json pyjson envelope metadata; do
    put "$target" "${metadata[@]}"
done
# The payloads of the envelopes too: the models read payloads, not files.
for f in "$td"/in-toto-golang/*.link "$td"/in-toto-golang/*.layout; do
    mkdir -p corpus/metadata
    python3 - "$f" >"corpus/metadata/payload_$(basename "$f")" <<'PY' || rm -f "corpus/metadata/payload_$(basename "$f")"
import base64, json, sys
d = json.load(open(sys.argv[1]))
print(json.dumps(d["signed"]) if "signed" in d else base64.b64decode(d["payload"]).decode())
PY
done
put canonical_json "${graph[@]}"
put pyjson "${graph[@]}"

mkdir -p corpus/artifact_rule
i=0
for r in "MATCH src/* WITH PRODUCTS FROM write-code" "MATCH foo IN bar WITH MATERIALS IN baz FROM step" \
    "CREATE app" "DELETE x" "MODIFY *" "ALLOW *" "DISALLOW *" "REQUIRE foo.tar.gz" \
    '["MATCH", "*", "WITH", "PRODUCTS", "FROM", "b"]'; do
    printf '%s' "$r" >"corpus/artifact_rule/rule$i"
    i=$((i + 1))
done

mkdir -p corpus/fnmatch
i=0
for p in 'src/*.py' 'foo.tar.gz' '[!a-c]?x' '*[[]*' 'a[]-]b' '[z-a]' '\*'; do
    printf '%s\0%s' "$p" "src/main.py" >"corpus/fnmatch/pattern$i"
    i=$((i + 1))
done

for target in cose_sign1 receipt x5chain checkpoint; do
    put "$target" seeds/"$target"/*
done
put cose_sign1 seeds/receipt/* seeds/x5chain/statement-x5chain.cose
put x5chain seeds/fixtures/x5chain_root.der "$td"/openssl/rsa1024_public.pem

mkdir -p corpus/merkle_proof
printf '\x02\x00\x00\x00\x00\x00\x00\x00\x05\x00\x00\x00\x00\x00\x00\x00\x00' >corpus/merkle_proof/index2-size5
printf '\x03\x00\x00\x00\x00\x00\x00\x00\x07\x00\x00\x00\x00\x00\x00\x00\x80' >corpus/merkle_proof/wide

# The readers: every graph fixture under every media-type selector that fits it.
n=0
for f in "${graph[@]}"; do
    for sel in 00 01 02 03 04 05; do
        put_selected sbom_read "$sel" "$(basename "$f").$sel" "$f"
    done
    n=$((n + 1))
done

mkdir -p corpus/json_patch
printf '%s\n%s' '[{"op":"add","path":"/a/-","value":1},{"op":"test","path":"/b","value":"x"},{"op":"move","from":"/b","path":"/c"},{"op":"copy","from":"/a","path":"/d"},{"op":"replace","path":"/a/0","value":null},{"op":"remove","path":"/d"}]' \
    '{"a":[0],"b":"x"}' >corpus/json_patch/all-ops
printf '%s\n%s' '[{"op":"add","path":"/components/0/hashes","value":[{"alg":"SHA-256","content":"00"}]}]' \
    "$(cat "$td"/graph/sit-cyclonedx-1.6.json)" >corpus/json_patch/sit-mutation
printf '"/a~1b/~0c/0"\n{"a/b":{"~c":[1]}}' >corpus/json_patch/pointer

put_selected lockfile 00 Cargo.lock "$root"/Cargo.lock
put_selected lockfile 01 package-lock.json "$td"/npm-app/package-lock.json
mkdir -p corpus/lockfile
printf '\x02%s\n' 'requests==2.31.0 \' '    --hash=sha256:58cd2187c01e70e6e26505bca751777aa9f2ee0b7f4300988b709f44e013003f' '# comment' '-e ./local' >corpus/lockfile/requirements.txt
printf '\x03%s\n' '[[package]]' 'name = "requests"' 'version = "2.31.0"' 'files = [' '    {file = "requests-2.31.0.tar.gz", hash = "sha256:942c5a758f98d790eaed1a29cb6eefc7ffb0d1cf7af05c3d2791656dbd6ad1e1"},' ']' >corpus/lockfile/poetry.lock
printf '\x04%s\n' 'version = 1' '[[package]]' 'name = "idna"' 'version = "3.7"' 'source = { registry = "https://pypi.org/simple" }' 'sdist = { url = "https://x/idna-3.7.tar.gz", hash = "sha256:028ff3aadf0609c1fd278d8ea3089299412a7a8b9bd005dd08b9f8285bcb5cfc", size = 189575 }' >corpus/lockfile/uv.lock

# SBOMit documents: the ones the tests write (if a test run left any), and the SITs (for
# ReceivedSit). A document is made by `sbomit document create`; see docs/fuzzing.md.
put document "${graph[@]}"
put document seeds/document/*

# Committed seeds (regressions included) for every target.
for d in seeds/*/; do
    t=$(basename "$d")
    [ "$t" = fixtures ] && continue
    put "$t" "$d"*
done
for d in ../testdata/fuzz-regressions/*/; do
    [ -d "$d" ] || continue
    put "$(basename "$d")" "$d"*
done
echo "seeded: $(for d in corpus/*/; do printf '%s=%s ' "$(basename "$d")" "$(ls "$d" | wc -l)"; done)"
