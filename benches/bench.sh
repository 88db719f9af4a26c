#!/usr/bin/env bash
# Benchmarks sbomit against its peers on the same inputs in the same run, and prints a
# Markdown table for docs/BENCHMARKS.md (wall seconds, peak RSS, ratio peer/ours).
#
#   benches/bench.sh            full sizes (100,000 files, 1 GiB, 500 steps)
#   benches/bench.sh --quick    a tenth of the sizes: a smoke test that the harness works
#   RUNS=5 benches/bench.sh     verification cases: fastest of 5 runs per side (default 3)
#
# Needs: the in-toto reference (../shared/tools/intoto_reference.sh installs it), sha256sum,
# GNU time. Everything happens in a scratch directory that is removed at the end.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
N=100000; BIG_MB=1024; STEPS=500
if [ "${1:-}" = "--quick" ]; then N=10000; BIG_MB=128; STEPS=50; fi

cargo build --release --locked -q -p sbomit-cli --manifest-path "$ROOT/Cargo.toml"
SB=${CARGO_TARGET_DIR:-$ROOT/target}/release/sbomit
REF=$("$ROOT/../shared/tools/intoto_reference.sh")
W=$(mktemp -d "${TMPDIR:-/tmp}/sbomit-bench.XXXXXX")
trap 'rm -rf "$W"' EXIT
cd "$W"

# Runs a command, prints "wall_seconds peak_rss_kib"; fails the bench if the command fails.
# Wall time to the millisecond from bash's clock (GNU time's %e has only two decimals, too
# coarse for a 20 ms verification); peak RSS from GNU time.
measure() {
  local t0=$EPOCHREALTIME
  /usr/bin/time -f "%M" -o "$W/.time" "$@" >"$W/.out" 2>&1 || { cat "$W/.out" >&2; echo "failed: $*" >&2; exit 1; }
  local t1=$EPOCHREALTIME
  echo "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }') $(cat "$W/.time")"
}
# The fastest of $RUNS runs (verification cases, which change nothing on disk): on a shared
# machine the minimum is the figure least disturbed by other work. Same for both sides.
RUNS=${RUNS:-3}
best() {
  local best="" m
  for _ in $(seq "$RUNS"); do
    m=$(measure "$@")
    if [ -z "$best" ] || awk -v a="${m% *}" -v b="${best% *}" 'BEGIN { exit !(a < b) }'; then best=$m; fi
  done
  echo "$best"
}
row() { # name, ours "secs kib", peer "secs kib"
  local name=$1 o=($2) p=($3)
  local ratio; ratio=$(awk -v a="${p[0]}" -v b="${o[0]}" 'BEGIN { if (b == 0) b = 0.01; printf "%.1f", a / b }')
  printf '| %s | %s s | %s MiB | %s s | %s MiB | %s× |\n' "$name" "${o[0]}" "$((o[1] / 1024))" "${p[0]}" "$((p[1] / 1024))" "$ratio"
}

"$SB" key generate --type ed25519 --out key >/dev/null 2>&1

echo "Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo); date $(date -u +%F)"
echo
echo "| case | sbomit | sbomit peak RSS | peer | peer peak RSS | peer / sbomit |"
echo "|---|---|---|---|---|---|"

# 1. run over N files of 4 KiB.
mkdir tree
for d in $(seq 0 99); do mkdir "tree/d$d"; done
python3 - "$N" <<'PY'
import os, sys
n = int(sys.argv[1]); block = os.urandom(4096)
for i in range(n):
    with open(f"tree/d{i % 100}/f{i}", "wb") as f:
        f.write(block[:4000] + i.to_bytes(8, "little") + block[4008:])
PY
find tree -type f -exec cat {} + >/dev/null   # warm the page cache for both
mkdir out-ours out-ref
ours=$(measure "$SB" run -n bench --signing-key key -m tree -d out-ours -x)
peer=$(measure "$REF/in-toto-run" -n bench --signing-key key -m tree -d out-ref -x)
row "run, $N files of 4 KiB (peer: in-toto-run)" "$ours" "$peer"

# 2. one big file.
head -c "${BIG_MB}M" /dev/urandom >big
cat big >/dev/null
ours=$(measure "$SB" run -n big --signing-key key -m big -d out-ours -x)
peer=$(measure sha256sum big)
row "run, one ${BIG_MB} MiB file (peer: sha256sum)" "$ours" "$peer"

# 3. verify a 2-step layout with N artifacts per link.
mkdir chain2
"$SB" run -n build --signing-key key -p tree -d chain2 -x >/dev/null 2>&1
"$SB" run -n package --signing-key key -m tree -p tree -d chain2 -x >/dev/null 2>&1
cat >layout2.toml <<TOML
expires = "2099-01-01T00:00:00Z"
[keys]
dev = "key.pub"
[[steps]]
name = "build"
functionaries = ["dev"]
expected_products = ["CREATE tree/*", "DISALLOW *"]
[[steps]]
name = "package"
functionaries = ["dev"]
expected_materials = ["MATCH tree/* WITH PRODUCTS FROM build", "DISALLOW *"]
expected_products = ["MATCH tree/* WITH PRODUCTS FROM build", "DISALLOW *"]
TOML
"$SB" layout create --from layout2.toml --out chain2/root.layout --signing-key key >/dev/null 2>&1
ours=$(best "$SB" verify --layout chain2/root.layout --verification-keys key.pub --link-dir chain2)
peer=$(best "$REF/in-toto-verify" --layout chain2/root.layout --verification-keys key.pub --link-dir chain2)
row "verify, 2 steps × $N artifacts (peer: in-toto-verify)" "$ours" "$peer"

# 4. verify a chain of STEPS steps, each matching the previous one's product.
mkdir chainN
echo hello >a.txt
{
  echo 'expires = "2099-01-01T00:00:00Z"'
  echo '[keys]'
  echo 'dev = "key.pub"'
  for i in $(seq 0 $((STEPS - 1))); do
    echo '[[steps]]'
    echo "name = \"s$i\""
    echo 'functionaries = ["dev"]'
    if [ "$i" -gt 0 ]; then echo "expected_materials = [\"MATCH a.txt WITH PRODUCTS FROM s$((i - 1))\", \"DISALLOW *\"]"; fi
    echo 'expected_products = ["ALLOW a.txt", "DISALLOW *"]'
  done
} >layoutN.toml
for i in $(seq 0 $((STEPS - 1))); do
  "$SB" run -q -n "s$i" --signing-key key -m a.txt -p a.txt -d chainN -x
done
"$SB" layout create --from layoutN.toml --out chainN/root.layout --signing-key key >/dev/null 2>&1
ours=$(best "$SB" verify --layout chainN/root.layout --verification-keys key.pub --link-dir chainN)
peer=$(best "$REF/in-toto-verify" --layout chainN/root.layout --verification-keys key.pub --link-dir chainN)
row "verify, $STEPS-step chain (peer: in-toto-verify)" "$ours" "$peer"
