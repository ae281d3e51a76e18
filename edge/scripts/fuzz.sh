#!/usr/bin/env bash
# A long pass of the property tests of the parsers a stranger can feed (issue 15): the MJPEG
# multipart reader, the frame pipe reader, the live page's request heads, the IDX reader, the
# model metadata contract and image decoding. Every test run does a short pass of each; this
# runs CASES cases of each (default 100000). A failure shrinks to a minimal input, which
# proptest saves under edge/proptest-regressions/ (commit it: every later run replays it),
# and the failing test names the parser. It runs the test build, where arithmetic overflow
# panics (a release build would wrap it silently).
#
#   edge/scripts/fuzz.sh [CASES]
set -euo pipefail
cd "$(dirname "$0")/../.."
cases=${1:-100000}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/mnist-edge/target}
cargo test -p edge --lib --no-run -q
start=$(date +%s)
log=$(mktemp)
status=0
PROPTEST_CASES=$cases cargo test -p edge --lib -- fuzz:: >"$log" 2>&1 || status=$?
tests=$(grep -c '^test .*fuzz::.* \.\.\. ' "$log" || true)
grep -E '^test .*fuzz::|^test result|minimal failing input|panicked' "$log" || true
echo "fuzz: $tests property tests × $cases cases in $(( $(date +%s) - start )) s; exit status $status"
rm -f "$log"
exit "$status"
