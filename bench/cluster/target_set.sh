#!/bin/bash
# Issue 13's targets, interleaved: ROUNDS rounds of the five runs (open loop, --rate, one
# validator, --rate with 1% invalid signatures, --rate with a validator killed at 20 s and
# restarted 10 s later), each a `mbi bench e2e --duration DURATION`, then the medians
# of each (bench/cluster/summarize.py). Interleaving puts every configuration in every
# stretch of a machine whose speed drifts (docs/bench-e2e.md).
#
#   bench/cluster/target_set.sh [ROUNDS=3] [OUT=/tmp/mbi-targets] [RATE=10500] [DURATION=60]
#
# RATE sits a little above 10,000 so that what commits inside the window reaches 10,000
# (the last few hundred ms of submissions commit after it). The open-loop and
# single-node runs sign enough in advance not to run out (a warning says if they did).
set -euo pipefail
ROUNDS=${1:-3}
OUT=${2:-/tmp/mbi-targets}
RATE=${3:-10500}
DURATION=${4:-60}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PY=$ROOT/.venv/bin/python
mkdir -p "$OUT"
run() {
  local name=$1; shift
  echo "$(date -u +%T) $name: mbi bench e2e --duration $DURATION $*"
  (cd "$ROOT" && "$PY" -m mbi bench e2e --duration "$DURATION" --json "$OUT/$name.json" --plain --quiet "$@" \
    > "$OUT/$name.log" 2>&1) || echo "$name: e2e exited $? (see $OUT/$name.log)"
}
for i in $(seq 1 "$ROUNDS"); do
  run "open-$i" --presign $((DURATION * 20000))
  run "rate-$i" --rate "$RATE"
  run "single-$i" --single-node --presign $((DURATION * 30000)) --accounts 8000
  run "invalid-$i" --rate "$RATE" --invalid-rate 0.01
  run "kill-$i" --rate "$RATE" --kill-at 20 --restart-after 10
done
"$PY" "$ROOT/bench/cluster/summarize.py" "$OUT"
