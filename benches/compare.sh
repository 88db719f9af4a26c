#!/usr/bin/env bash
# Compares the output of two sbomit binaries on the same inputs, byte for byte: SITs in every
# format (the benchmark document of benches/sit.sh), document and in-toto verification reports
# (passing and failing), layout show. Used to show that a refactoring changed no output
# (issue 10, acceptance c).
#
#   benches/compare.sh OLD_SBOMIT NEW_SBOMIT [N]     N artifacts (default 10,000)
#
# Prints one line per comparison and exits 1 if any differs.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OLD=$(realpath "$1"); NEW=$(realpath "$2"); N=${3:-10000}
W=$(mktemp -d "${TMPDIR:-/tmp}/sbomit-compare.XXXXXX")
trap 'rm -rf "$W"' EXIT
cd "$W"

# The chain of benches/sit.sh (keys, layout, N files, two links), made by the new binary.
SB=$NEW
. "$ROOT/benches/sit-chain.sh"
"$NEW" -q document create --layout root.layout --link-dir links --out doc.json

differs=0
# Runs the same arguments with both binaries; compares stdout, stderr and the exit code.
same() {
  local name=$1; shift
  local a b
  set +e
  "$OLD" "$@" >old.out 2>old.err; a=$?
  "$NEW" "$@" >new.out 2>new.err; b=$?
  set -e
  if [ "$a" = "$b" ] && cmp -s old.out new.out && cmp -s old.err new.err; then
    echo "same: $name (exit $a)"
  else
    echo "DIFFERS: $name (exit $a vs $b)"; diff old.out new.out | head -5 || true
    diff old.err new.err | head -5 || true; differs=1
  fi
}
# Runs both binaries writing FILE; compares the files.
same_file() {
  local name=$1 file=$2; shift 2
  SOURCE_DATE_EPOCH=1700000000 "$OLD" -q "$@" --out "old.$file" >/dev/null 2>&1
  SOURCE_DATE_EPOCH=1700000000 "$NEW" -q "$@" --out "new.$file" >/dev/null 2>&1
  local f
  for f in "$file" "$file.intoto.json"; do
    [ -e "new.$f" ] || [ -e "old.$f" ] || continue
    if cmp -s "old.$f" "new.$f"; then echo "same: $name, $f ($(stat -c %s "new.$f") bytes)"
    else echo "DIFFERS: $name, $f"; differs=1; fi
  done
}

for f in cyclonedx-1.5 cyclonedx-1.6 cyclonedx-1.7 spdx-2.3 spdx-3.0.1; do
  same_file "sit generate $f" "sit.$f.json" sit generate --document doc.json --format "$f" --layout-keys owner.pub
done
same "document verify (passes)" document verify --document doc.json --layout-keys owner.pub
same "verify (passes)" verify --layout root.layout --verification-keys owner.pub --link-dir links
same "verify --output json (passes)" verify --layout root.layout --verification-keys owner.pub --link-dir links --output json
same "layout show" layout show root.layout
same "document show" document show --history doc.json
same "sit verify, light, no signature" sit verify --sit new.sit.cyclonedx-1.6.json --keys owner.pub
# Signed SITs (Ed25519 signatures are deterministic, so the envelopes compare too).
same_file "sit generate cyclonedx-1.6, signed, JSF" "signed.cdx.json" sit generate --document doc.json --format cyclonedx-1.6 --layout-keys owner.pub --signing-key owner --jsf
same_file "sit generate spdx-2.3, signed" "signed.spdx.json" sit generate --document doc.json --format spdx-2.3 --layout-keys owner.pub --signing-key owner
same "sit verify, light (passes)" sit verify --sit new.signed.spdx.json --keys owner.pub
same "sit verify, light, tampered" sit verify --sit new.sit.spdx-2.3.json --keys owner.pub
same "sit verify, full, unsigned" sit verify --sit new.sit.spdx-2.3.json --document doc.json --layout-keys owner.pub
# Failing cases: a link signed by a key the layout does not name, a missing link, a wrong key.
"$NEW" key generate --type ed25519 --out mallory >/dev/null 2>&1
same "verify (wrong layout key)" verify --layout root.layout --verification-keys mallory.pub --link-dir links
mkdir -p partial && cp links/write-code.*.link partial/
same "verify (missing link)" verify --layout root.layout --verification-keys owner.pub --link-dir partial
same "document verify (wrong key)" document verify --document doc.json --layout-keys mallory.pub
same "verify (no such layout)" verify --layout nope.layout --verification-keys owner.pub
exit $differs
