#!/usr/bin/env bash
# Soak test of the Store (issue 12, acceptance h): `sbomit store serve` under mixed load for
# MINUTES at half its measured registration capacity, a line per minute, and at the end a check
# that every acknowledged entry is in the log. docs/BENCHMARKS.md ("Soak") says how to read it.
#
#   benches/soak.sh [MINUTES] [--backend sqlite|postgres]     default 10 minutes, SQLite
#
# The load (crates/sbomit-cli/examples/store-load.rs, `soak`): signed registrations from a
# registered issuer, queries (receipts, inclusion proofs, evidence, checkpoint), a long-lived and
# short-lived event streams, junk (random bodies, a body declared at 64 MiB, non-HTTP bytes, an
# unregistered signer) and slow-drip connections. SOAK_RATE (registrations a second) skips the
# capacity measurement; SOAK_SLOW sets the number of slow-drip connections (default 32).
# PostgreSQL: SBOMIT_BENCH_POSTGRES (default postgres://postgres@127.0.0.1:5432/test), in a
# schema of its own that is dropped afterwards. Exits 1 if anything acknowledged is missing or
# any request failed other than as intended.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
MINUTES=10
BACKEND=sqlite
while [ $# -gt 0 ]; do
  case "$1" in
    --backend) BACKEND=$2; shift 2 ;;
    --backend=*) BACKEND=${1#--backend=}; shift ;;
    [0-9]*) MINUTES=$1; shift ;;
    *) echo "usage: benches/soak.sh [MINUTES] [--backend sqlite|postgres]" >&2; exit 2 ;;
  esac
done
# start_server, stop_server, cpu_of, val, one_backend
. "$ROOT/benches/store-lib.sh"
# SOAK_BIN_DIR: a directory holding a built `sbomit` and `examples/store-load` (no build).
one_backend soak "${SOAK_BIN_DIR:-}"

start_server "$DB"
if [ -z "${SOAK_RATE:-}" ]; then
  # Capacity: registrations a second with durable 201s over 64 connections (as store.sh).
  "$LOAD" submit --url "$URL" --database "$DB" --service-key "$W/service-key.pem" -n 3000 -c 64 \
    >"$W/capacity.txt" 2>"$W/capacity.err" || { cat "$W/capacity.err" >&2; exit 1; }
  CAPACITY=$(val entries_per_second "$W/capacity.txt")
  SOAK_RATE=$((CAPACITY / 2))
else
  CAPACITY="not measured (SOAK_RATE given)"
fi

echo "Soak: $MINUTES min on $BACKEND, $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo); date $(date -u +%F)"
echo "Capacity: $CAPACITY registrations/s; soak rate: $SOAK_RATE registrations/s + as many queries + $((SOAK_RATE / 10)) junk/s + ${SOAK_SLOW:-32} slow-drip connections"
echo
cpu0=$(cpu_of "$SERVER")
status=0
"$LOAD" soak --url "$URL" --database "$DB" --service-key "$W/service-key.pem" \
  --minutes "$MINUTES" --rate "$SOAK_RATE" --server-pid "$SERVER" --slow "${SOAK_SLOW:-32}" || status=$?
echo "server_cpu_seconds: $(awk -v a="$cpu0" -v b="$(cpu_of "$SERVER")" 'BEGIN { printf "%.1f", b - a }')"
echo "load_average_1min_at_end: $(cut -d' ' -f1 /proc/loadavg)"
if ! kill -0 "$SERVER" 2>/dev/null; then
  echo "the server died:" >&2; tail -n 20 "$W/serve.err" >&2; exit 1
fi
stop_server
exit "$status"
