# Helpers shared by benches/store.sh and benches/soak.sh (sourced, not run). They expect SB
# (the sbomit binary) and W (a scratch directory) to be set.

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
