#!/usr/bin/env bash
# Times the SBOMit trust model (issue 11) on the benchmark document of benches/sit.sh
# (100,000 artifacts): the mutator sealing the document, document verification (binding of
# every part), a signed and recorded SIT, document verification regenerating it (§5.2.1), and
# full SIT verification. Prints a Markdown table for docs/BENCHMARKS.md. Target (issue 11 h):
# `document verify` and `sit generate` each under 2 s.
#
#   benches/roles.sh [N] [OLD_SBOMIT]
#
# With OLD_SBOMIT (a binary from before issue 11), also generates the same SIT with it and
# prints both sizes: the embedded-mode SIT now carries the spec's properties on every
# component, each attestation referenced by digest.
#
# Needs: GNU time, python3, tar. Runs in a scratch directory that is removed at the end.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
N=${1:-100000}
OLD=${2:-}
[ -n "$OLD" ] && OLD=$(realpath "$OLD")

# SBOMIT_BIN: a release binary already built (else this checkout is built).
if [ -n "${SBOMIT_BIN:-}" ]; then
  SB=$(realpath "$SBOMIT_BIN")
else
  cargo build --release --locked -q -p sbomit-cli --manifest-path "$ROOT/Cargo.toml"
  SB=${CARGO_TARGET_DIR:-$ROOT/target}/release/sbomit
fi
W=$(mktemp -d "${TMPDIR:-/tmp}/sbomit-roles-bench.XXXXXX")
trap '[ -n "${KEEP:-}" ] || rm -rf "$W"' EXIT
cd "$W"

measure() {
  /usr/bin/time -f "%e %M %U %S" -o "$W/.time" "$@" >"$W/.out" 2>&1 || { cat "$W/.out" >&2; echo "failed: $*" >&2; exit 1; }
  cat "$W/.time"
}
row() {
  local what=$1; shift
  local r; r=($(measure "$@"))
  awk -v w="$what" -v s="${r[0]}" -v k="${r[1]}" -v u="${r[2]}" -v y="${r[3]}" 'BEGIN {
    printf "| %s | %s s | %.2f s | %.0f MiB |\n", w, s, u + y, k / 1024 }'
}

. "$ROOT/benches/sit-chain.sh"
cp root.layout root.plain.layout
# The same chain under a layout that names a mutator and a SIT generator.
for k in mut gen; do "$SB" key generate --type ed25519 --out "$k" >/dev/null 2>&1; done
python3 - <<'EOF'
s = open("layout.toml").read()
s = s.replace('[keys]\n', '[keys]\nmut = "mut.pub"\ngen = "gen.pub"\n', 1)
s += '[[steps]]\nname = "sbomit-mutate"\nfunctionaries = ["mut"]\n'
s += '[[steps]]\nname = "sbomit-sit"\nfunctionaries = ["gen"]\n'
open("layout.toml", "w").write(s)
EOF
"$SB" -q layout create --from layout.toml --out root.layout --signing-key owner
cp -r links links.plain

export SOURCE_DATE_EPOCH=1700000000
echo "Load average before the runs: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| $N artifacts | wall | CPU (user + sys) | peak RSS |"
echo "|---|---|---|---|"
row '`document create --signing-key` (mutator seals)' "$SB" -q document create --layout root.layout --link-dir links --signing-key mut --out doc.json
row '`document verify` (binding; no SIT yet)' "$SB" -q document verify --document doc.json --layout-keys owner.pub
cp doc.json doc.unrecorded.json
row '`sit generate` cyclonedx-1.6, unsigned' "$SB" -q sit generate --document doc.unrecorded.json --format cyclonedx-1.6 --layout-keys owner.pub --out sit.plain.json
cp doc.json doc.noenv.json
row '`sit generate` cyclonedx-1.6, `--record --no-envelope` (the link signs it)' "$SB" -q sit generate --document doc.noenv.json --format cyclonedx-1.6 --layout-keys owner.pub --out sit.noenv.json --signing-key gen --record --no-envelope
row '`document verify` (regenerates the SIT recorded without envelope)' "$SB" -q document verify --document doc.noenv.json --layout-keys owner.pub
row '`sit generate` cyclonedx-1.6, signed, `--record`' "$SB" -q sit generate --document doc.json --format cyclonedx-1.6 --layout-keys owner.pub --out sit.json --signing-key gen --record
row '`document verify` (regenerates the recorded SIT)' "$SB" -q document verify --document doc.json --layout-keys owner.pub
row '`sit verify` full' "$SB" -q sit verify --sit sit.json --document doc.json --layout-keys owner.pub
echo
echo "Document: $(stat -c %s doc.json) bytes; SIT (cyclonedx-1.6): $(stat -c %s sit.json) bytes; its DSSE envelope: $(stat -c %s sit.json.intoto.json) bytes"

if [ -n "$OLD" ]; then
  # The layout without the role steps (the old binary would want their links), and the
  # same document content.
  "$OLD" -q document create --layout root.plain.layout --link-dir links.plain --out doc.old.json
  "$OLD" -q sit generate --document doc.old.json --format cyclonedx-1.6 --layout-keys owner.pub --out sit.old.json
  "$SB" -q document create --layout root.plain.layout --link-dir links.plain --out doc.new.json
  "$SB" -q sit generate --document doc.new.json --format cyclonedx-1.6 --layout-keys owner.pub --out sit.new.json
  o=$(stat -c %s sit.old.json); n=$(stat -c %s sit.new.json)
  awk -v o="$o" -v n="$n" 'BEGIN { printf "Embedded-mode SIT, same document: before %d bytes, now %d bytes (%+.1f %%)\n", o, n, (n - o) * 100 / o }'
fi
