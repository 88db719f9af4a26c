#!/usr/bin/env bash
# Benchmarks the Store (issue #4, acceptance e) and prints a Markdown table for
# docs/BENCHMARKS.md:
#   * registration throughput: N pre-signed Ed25519 DSSE statements POSTed over C keep-alive
#     connections to `sbomit store serve` (release build); every 201 is a durable entry;
#   * CPU per entry of the server and of the load generator over that run, and the load
#     average as it ends (the two share this machine's cores, maybe with other work);
#   * receipt (GET /entries/1.N) and inclusion-proof (GET /v1/proofs/inclusion) latency for
#     random N once the log holds FILL entries (filled through the Store library directly);
#   * storage bytes per entry at that size.
# On SQLite always, and on PostgreSQL unless SBOMIT_BENCH_POSTGRES is set to "" (default
# postgres://postgres@127.0.0.1:5432/test, in a schema of its own that is dropped afterwards).
#
#   benches/store.sh            N=20,000 submissions over C=512 connections, FILL=1,000,000
#   benches/store.sh --quick    N=5,000, FILL=100,000: a smoke test that the harness works
# N, C, FILL and SAMPLES can also be set in the environment.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
N=${N:-20000}; C=${C:-512}; FILL=${FILL:-1000000}; SAMPLES=${SAMPLES:-2000}
if [ "${1:-}" = "--quick" ]; then N=5000; FILL=100000; SAMPLES=500; fi
PG=${SBOMIT_BENCH_POSTGRES-postgres://postgres@127.0.0.1:5432/test}
PG_SCHEMA=sbomit_bench_$$

cargo build --release --locked -q -p sbomit-cli --bins --examples --manifest-path "$ROOT/Cargo.toml"
T=${CARGO_TARGET_DIR:-$ROOT/target}/release
SB=$T/sbomit
LOAD=$T/examples/store-load
W=$(mktemp -d "${TMPDIR:-/tmp}/sbomit-store-bench.XXXXXX")
SERVER=
cleanup() {
  if [ -n "$SERVER" ]; then kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; fi
  if [ -n "$PG" ]; then psql -q "$PG" -c "DROP SCHEMA IF EXISTS $PG_SCHEMA CASCADE" >/dev/null 2>&1 || true; fi
  rm -rf "$W"
}
trap cleanup EXIT

# start_server, stop_server, cpu_of, val
. "$ROOT/benches/store-lib.sh"

# One backend: throughput on an empty log, then fill, then latency and storage.
bench() { # name, database URL
  local name=$1 db=$2
  start_server "$db"
  # The server's CPU over the whole submit run (its pre-signing included, which costs the
  # server nothing), and the load average as the run ends.
  local cpu0; cpu0=$(cpu_of "$SERVER")
  "$LOAD" submit --url "$URL" --database "$db" --service-key "$W/service-key.pem" -n "$N" -c "$C" \
    >"$W/submit.txt" 2>"$W/submit.err" || { cat "$W/submit.err" >&2; exit 1; }
  local load; load=$(cut -d' ' -f1 /proc/loadavg)
  local server_us; server_us=$(awk -v a="$cpu0" -v b="$(cpu_of "$SERVER")" -v n="$N" \
    'BEGIN { printf "%.0f", (b - a) * 1e6 / n }')
  stop_server
  "$LOAD" fill --database "$db" --service-key "$W/service-key.pem" --to "$FILL" \
    >"$W/fill.txt" 2>"$W/fill.err" || { cat "$W/fill.err" >&2; exit 1; }
  start_server "$db"
  "$LOAD" latency --url "$URL" --database "$db" --service-key "$W/service-key.pem" --samples "$SAMPLES" \
    >"$W/latency.txt" 2>"$W/latency.err" || { cat "$W/latency.err" >&2; exit 1; }
  stop_server
  printf '| %s | %s | %s / %s ms | %s / %s µs | %s | %s | %s | %s / %s ms | %s / %s ms | %s |\n' "$name" \
    "$(val entries_per_second "$W/submit.txt")" \
    "$(val submit_p50_ms "$W/submit.txt")" "$(val submit_p99_ms "$W/submit.txt")" \
    "$server_us" "$(val client_cpu_us_per_entry "$W/submit.txt")" "$load" \
    "$(val fill_entries_per_second "$W/fill.txt")" "$(val size "$W/latency.txt")" \
    "$(val receipt_p50_ms "$W/latency.txt")" "$(val receipt_p99_ms "$W/latency.txt")" \
    "$(val inclusion_p50_ms "$W/latency.txt")" "$(val inclusion_p99_ms "$W/latency.txt")" \
    "$(val bytes_per_entry "$W/latency.txt")"
  rm -f "$W/service-key.pem"
}

echo "Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo); date $(date -u +%F)"
echo "Registration: $N statements over $C connections (server and load generator on the same machine)."
echo
echo "| backend | entries/s (durable 201) | submit p50 / p99 | CPU / entry server / load generator | load avg (1 min) | fill entries/s (library) | log size | receipt p50 / p99 | inclusion proof p50 / p99 | bytes / entry |"
echo "|---|---|---|---|---|---|---|---|---|---|"
bench SQLite "sqlite://$W/store.db"
if [ -n "$PG" ]; then
  psql -q "$PG" -c "DROP SCHEMA IF EXISTS $PG_SCHEMA CASCADE; CREATE SCHEMA $PG_SCHEMA" >/dev/null
  sep='?'; case "$PG" in *\?*) sep='&' ;; esac
  bench PostgreSQL "$PG${sep}options=-csearch_path%3D$PG_SCHEMA"
fi
