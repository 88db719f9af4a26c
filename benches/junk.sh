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
# start_server, stop_server, cpu_of, val, one_backend
. "$ROOT/benches/store-lib.sh"
one_backend junk "${JUNK_BIN_DIR:-}"

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
