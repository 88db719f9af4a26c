#!/usr/bin/env bash
# Times `sbomit sit generate` on a document with 100,000 artifacts, per format, and prints a
# Markdown table for docs/BENCHMARKS.md (wall seconds, peak RSS, output size, RSS / output).
#
#   benches/sit.sh            100,000 files
#   benches/sit.sh --quick    10,000 files: a smoke test that the harness works
#
# The chain: `write-code` creates N small files under src/ (its products), `build` reads them
# all (materials) and packs them into app.tar (the one final product). The document embeds
# both links; each SIT has N + 1 components, and generating it includes verifying the
# document (signatures, rules over N artifacts). Targets (issue 3): < 2 s per format on a
# 2-core machine, peak RSS < 10 x the output size.
#
# Needs: GNU time, python3 (to write the files), tar. Runs in a scratch directory that is
# removed at the end.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
N=100000
if [ "${1:-}" = "--quick" ]; then N=10000; fi

cargo build --release --locked -q -p sbomit-cli --manifest-path "$ROOT/Cargo.toml"
SB=${CARGO_TARGET_DIR:-$ROOT/target}/release/sbomit
W=$(mktemp -d "${TMPDIR:-/tmp}/sbomit-sit-bench.XXXXXX")
trap 'rm -rf "$W"' EXIT
cd "$W"

# Runs a command, prints "wall_seconds peak_rss_kib user_seconds sys_seconds"; fails the
# bench if the command fails. CPU time is printed too: on a shared machine it is the steadier
# figure.
measure() {
  /usr/bin/time -f "%e %M %U %S" -o "$W/.time" "$@" >"$W/.out" 2>&1 || { cat "$W/.out" >&2; echo "failed: $*" >&2; exit 1; }
  cat "$W/.time"
}

# The chain (keys, layout, N files, two links): shared with benches/compare.sh.
. "$ROOT/benches/sit-chain.sh"
doc=$(measure "$SB" -q document create --layout root.layout --link-dir links --out doc.json)
verify=$(measure "$SB" -q document verify --document doc.json --layout-keys owner.pub)

echo "Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo); date $(date -u +%F); $N artifacts"
d=($doc); v=($verify)
echo "Load average before the runs: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "Document: $(stat -c %s doc.json | awk '{printf "%.1f MiB", $1/1048576}'), created in ${d[0]} s, verified (document verify) in ${v[0]} s wall, $(awk -v u="${v[2]}" -v s="${v[3]}" 'BEGIN {printf "%.2f", u + s}') s CPU, $(( ${v[1]} / 1024 )) MiB peak"
echo
echo "| format | wall | CPU (user + sys) | peak RSS | output | peak RSS / output |"
echo "|---|---|---|---|---|---|"
for f in cyclonedx-1.6 spdx-2.3 spdx-3.0.1; do
  r=($(SOURCE_DATE_EPOCH=1700000000 measure "$SB" -q sit generate --document doc.json --format "$f" --layout-keys owner.pub --out "sit.$f.json"))
  size=$(stat -c %s "sit.$f.json")
  awk -v f="$f" -v s="${r[0]}" -v k="${r[1]}" -v u="${r[2]}" -v y="${r[3]}" -v b="$size" 'BEGIN {
    printf "| %s | %s s | %.2f s | %.0f MiB | %.1f MiB | %.1f× |\n", f, s, u + y, k / 1024, b / 1048576, k * 1024 / b }'
done
