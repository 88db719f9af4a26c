#!/usr/bin/env bash
# Builds every fuzz target once and runs each for SECONDS (libFuzzer -max_total_time); fails on
# the first crash, leak of a panic or timeout (the input is left in fuzz/artifacts/<target>/).
#
#   fuzz/run.sh [SECONDS] [TARGET...]      default 20 s, every target
#
# Needs the nightly toolchain; installs cargo-fuzz if it is missing. The targets are built in
# release with debug assertions (integer overflow panics) and without a sanitizer: the crates
# forbid unsafe code, so the findings are panics, overflows, stack exhaustion and runaway
# memory or time, which libFuzzer reports without ASan (and ASan would double the build).
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-20}
shift || true
export CARGO_TERM_COLOR=never

if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

if [ $# -gt 0 ]; then targets=("$@"); else mapfile -t targets < <(cargo +nightly fuzz list | grep -vx make-seeds); fi

flags=(--release --debug-assertions --sanitizer none)
echo "== building ${#targets[@]} fuzz targets"
start=$(date +%s)
cargo +nightly fuzz build "${flags[@]}" >/dev/null
echo "   built in $(($(date +%s) - start)) s"

./seed.sh
failed=()
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t" "artifacts/$t"
    # -rss_limit_mb and -timeout: a hostile input must not make a parser take 2 GB or 10 s.
    if cargo +nightly fuzz run "${flags[@]}" "$t" "corpus/$t" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -max_len=65536 \
        -print_final_stats=1 >"artifacts/$t.log" 2>&1; then
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "artifacts/$t.log")
        printf '   %-16s ok   %s runs\n' "$t" "${runs:-?}"
    else
        printf '   %-16s FAILED (fuzz/artifacts/%s.log)\n' "$t" "$t"
        { grep -E -A1 'panicked|ERROR|SUMMARY|Test unit written' "artifacts/$t.log" || tail -n 5 "artifacts/$t.log"; } | head -n 12 | sed 's/^/      /'
        failed+=("$t")
    fi
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzzing found crashes in: ${failed[*]}" >&2
    exit 1
fi
