#!/usr/bin/env bash
# What junk costs the Store (issue 12, acceptance a): `sbomit store serve` (release build,
# anonymous rate limit off, so junk reaches the parsers) receives, each on a fresh connection,
# COUNT requests of each kind: a DSSE envelope with 10,000 signatures, one with 10,000
# distinct key ids, and JSON nested 100,000 deep. Prints the server's CPU per refusal (from
# /proc/PID/stat, 10 ms ticks over the whole run) and the status it refuses with. Then
# registration throughput (N over C connections), quiet and while FLOOD connections send junk
# as fast as they are answered. Target: under 10 ms of server CPU per junk request, and at
# least 50 % of the quiet throughput under the flood.
#
#   benches/junk.sh [--backend sqlite|postgres]
#
# COUNT (200), N (3000), C (16), FLOOD (16) from the environment; JUNK_BIN_DIR: a directory
# holding a built `sbomit` and `examples/store-load` (no build).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BACKEND=sqlite
[ "${1:-}" = "--backend" ] && BACKEND=${2:-sqlite}
COUNT=${COUNT:-200}; N=${N:-3000}; C=${C:-16}; FLOOD=${FLOOD:-16}
PG=${SBOMIT_BENCH_POSTGRES-postgres://postgres@127.0.0.1:5432/test}
PG_SCHEMA=sbomit_junk_$$

if [ -z "${JUNK_BIN_DIR:-}" ]; then
  cargo build --release --locked -q -p sbomit-cli --bins --examples --manifest-path "$ROOT/Cargo.toml"
fi
T=${JUNK_BIN_DIR:-${CARGO_TARGET_DIR:-$ROOT/target}/release}
SB=$T/sbomit
LOAD=$T/examples/store-load
W=$(mktemp -d "${TMPDIR:-/tmp}/sbomit-junk.XXXXXX")
SERVER=
cleanup() {
  if [ -n "$SERVER" ]; then kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; fi
  if [ "$BACKEND" = postgres ]; then psql -q "$PG" -c "DROP SCHEMA IF EXISTS $PG_SCHEMA CASCADE" >/dev/null 2>&1 || true; fi
  rm -rf "$W"
}
trap cleanup EXIT
# start_server, stop_server, cpu_of, val
. "$ROOT/benches/store-lib.sh"

case "$BACKEND" in
  sqlite) DB="sqlite://$W/store.db" ;;
  postgres)
    psql -q "$PG" -c "CREATE SCHEMA $PG_SCHEMA" >/dev/null
    DB="$PG?options=-csearch_path%3D$PG_SCHEMA" ;;
  *) echo "usage: benches/junk.sh [--backend sqlite|postgres]" >&2; exit 2 ;;
esac

start_server "$DB"
echo "Backend: $BACKEND; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
"$LOAD" junk --url "$URL" --database "$DB" --service-key "$W/service-key.pem" \
  --server-pid "$SERVER" --count "$COUNT" -n "$N" -c "$C" --flood "$FLOOD" >"$W/junk.txt" 2>"$W/junk.err" \
  || { cat "$W/junk.err" >&2; exit 1; }
stop_server
echo
echo "| junk kind | body | refused with | server CPU each | wall each |"
echo "|---|---|---|---|---|"
for k in signatures_10000 keyids_10000 nested_100000; do
  printf '| %s | %s bytes | %s | %s ms | %s ms |\n' "$k" "$(val "${k}_bytes" "$W/junk.txt")" \
    "$(val "${k}_statuses" "$W/junk.txt")" "$(val "${k}_server_cpu_ms_each" "$W/junk.txt")" \
    "$(val "${k}_wall_ms_each" "$W/junk.txt")"
done
echo
echo "Registrations ($N over $C connections): quiet $(val quiet_entries_per_second "$W/junk.txt")/s," \
  "under a flood of $FLOOD junk connections $(val flooded_entries_per_second "$W/junk.txt")/s" \
  "($(val flooded_share_of_quiet_percent "$W/junk.txt") % of quiet);" \
  "$(val junk_sent_during_flood "$W/junk.txt") junk requests sent meanwhile," \
  "$(val junk_not_refused_with_4xx "$W/junk.txt") not refused with a 4xx."
