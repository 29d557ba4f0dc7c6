#!/bin/bash
# Interleaved e2e A/B: `mbi bench e2e` from a git worktree of OLD_REV and from this tree,
# alternating old/new PAIRS times, one summary line per run and then the medians of each
# side (bench/cluster/summarize.py; docs/bench-e2e.md).
#
#   bench/cluster/ab_e2e.sh OLD_REV [PAIRS=3] [DURATION=60] [OUT=/tmp/mbi-ab] [-- extra e2e flags]
#
# Each side's validators run the code of the tree they were started from (network.py
# starts `mbi start` from the repository its own file is in). The native core_ext
# modules are this checkout's, copied into the worktree (they are not in git); for an
# A/B of a native change, OLD_SO=DIR copies DIR's .so files over them (the old build).
set -euo pipefail
OLD_REV=${1:?usage: ab_e2e.sh OLD_REV [PAIRS] [DURATION] [OUT] [-- e2e flags]}
PAIRS=${2:-3}
DURATION=${3:-60}
OUT=${4:-/tmp/mbi-ab}
shift $(( $# < 4 ? $# : 4 ))
[ "${1:-}" = "--" ] && shift
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PY=$ROOT/.venv/bin/python
OLD=$OUT/old-tree
mkdir -p "$OUT"
if [ ! -d "$OLD" ]; then
  git -C "$ROOT" worktree add --detach "$OLD" "$OLD_REV" >/dev/null
fi
cp "$ROOT"/core_ext/*.so "$OLD"/core_ext/
if [ -n "${OLD_SO:-}" ]; then cp "$OLD_SO"/*.so "$OLD"/core_ext/; fi
for i in $(seq 1 "$PAIRS"); do
  for side in old new; do
    dir=$ROOT; [ $side = old ] && dir=$OLD
    (cd "$dir" && "$PY" -m mbi bench e2e --duration "$DURATION" --json "$OUT/$side-$i.json" --plain --quiet "$@" \
      > "$OUT/$side-$i.log" 2>&1) || echo "$side $i: e2e exited $? (see $OUT/$side-$i.log)"
    "$PY" - "$OUT/$side-$i.json" "$side" "$i" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"{sys.argv[2]} {sys.argv[3]} {r['config'].get('git')}: tps {r['tps']:,.0f}  us/tx {r['cpu']['validators_us_per_tx']}  "
      f"p50 {r['latency_ms']['p50']:.0f} ms  p99 {r['latency_ms']['p99']:.0f} ms  lost {r['lost']}  dup {r['duplicated']}  "
      f"libsodium {r['reference']['libsodium_verify_per_s']:,}/s", flush=True)
PY
  done
done
{ "$PY" "$ROOT/bench/cluster/summarize.py" "$OUT" | sed -n '/^medians/,$p'; } || true  # old and new medians
echo "worktree left at $OLD (git -C $ROOT worktree remove --force $OLD)"
