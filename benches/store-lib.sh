# Helpers shared by benches/store.sh, soak.sh and junk.sh (sourced, not run). The server
# helpers expect SB (the sbomit binary) and W (a scratch directory) to be set.

# Starts the server on DB (a free port); sets SERVER (its pid) and URL.
# The load generators submit without a token from one address, so the anonymous rate limit
# is off (the limit has its own tests in sbomit-server).
start_server() {
  printf 'anonymous_rate_per_sec = 0\n' >"$W/serve.toml"
  "$SB" store serve --listen 127.0.0.1:0 --config "$W/serve.toml" --database "$1" \
    --service-key "$W/service-key.pem" >"$W/serve.out" 2>"$W/serve.err" &
  SERVER=$!
  URL=
  for _ in $(seq 600); do
    URL=$(sed -n 's/^listening on //p' "$W/serve.out")
    [ -n "$URL" ] && return 0
    kill -0 "$SERVER" 2>/dev/null || break
    sleep 0.1
  done
  cat "$W/serve.err" >&2; echo "the server did not start" >&2; exit 1
}

stop_server() {
  kill -TERM "$SERVER"; wait "$SERVER" || true; SERVER=
}

# CPU seconds (user + system) process $1 has used so far (USER_HZ = 100 ticks a second).
cpu_of() { awk '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / 100 }' "/proc/$1/stat"; }

# The value of `key: value` line $1 in file $2.
val() { awk -F': ' -v k="$1" '$1 == k { print $2 }' "$2"; }

# For the one-backend harnesses (soak.sh, junk.sh), with ROOT and BACKEND set: builds the
# release binaries unless directory $2 holds them (`sbomit`, `examples/store-load`), sets SB,
# LOAD and the scratch directory W (named after $1), and DB for BACKEND (sqlite, or postgres
# at SBOMIT_BENCH_POSTGRES in a schema of its own); on exit stops the server, drops the
# schema and removes W.
one_backend() { # name, bin-dir
  if [ -z "$2" ]; then
    cargo build --release --locked -q -p sbomit-cli --bins --examples --manifest-path "$ROOT/Cargo.toml"
  fi
  local t=${2:-${CARGO_TARGET_DIR:-$ROOT/target}/release}
  SB=$t/sbomit
  LOAD=$t/examples/store-load
  W=$(mktemp -d "${TMPDIR:-/tmp}/sbomit-$1.XXXXXX")
  SERVER=
  PG=${SBOMIT_BENCH_POSTGRES-postgres://postgres@127.0.0.1:5432/test}
  PG_SCHEMA=sbomit_$1_$$
  trap one_backend_cleanup EXIT
  case "$BACKEND" in
    sqlite) DB="sqlite://$W/store.db" ;;
    postgres)
      psql -q "$PG" -c "DROP SCHEMA IF EXISTS $PG_SCHEMA CASCADE; CREATE SCHEMA $PG_SCHEMA" >/dev/null
      local sep='?'; case "$PG" in *\?*) sep='&' ;; esac
      DB="$PG${sep}options=-csearch_path%3D$PG_SCHEMA" ;;
    *) echo "--backend is sqlite or postgres" >&2; exit 2 ;;
  esac
}

one_backend_cleanup() {
  if [ -n "$SERVER" ]; then kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; fi
  if [ "$BACKEND" = postgres ]; then psql -q "$PG" -c "DROP SCHEMA IF EXISTS $PG_SCHEMA CASCADE" >/dev/null 2>&1 || true; fi
  rm -rf "$W"
}
