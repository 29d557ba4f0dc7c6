#!/usr/bin/env bash
# `make fuzz`: run the atheris fuzzers of fuzz/ without a time limit (Ctrl-C stops them).
#
#   bash ci/fuzz.sh [target...]     targets: sha256_many merkle_proofs verify_batch mempool
#                                   (default: all, one process each, in parallel)
# Seeds come from fuzz/corpus/<target>/ (kept in the repo); new inputs go to
# build/fuzz/<target>/ and crashes to build/fuzz/crash-<target>-*. libFuzzer keeps only
# inputs that reached new coverage, so copying build/fuzz/<t>/* into fuzz/corpus/<t>/
# grows the committed corpus; a crash file replays with: fuzz/fuzz_<t>.py <file>.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
"$PY" -c 'import atheris' 2>/dev/null || { echo "fuzz: atheris missing: $PY -m pip install -e '.[fuzz]'" >&2; exit 1; }
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(sha256_many merkle_proofs verify_batch mempool)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' INT TERM EXIT
for t in "${targets[@]}"; do
  [ -f "fuzz/fuzz_$t.py" ] || { echo "fuzz: no fuzz/fuzz_$t.py" >&2; exit 1; }
  mkdir -p "build/fuzz/$t"
  "$PY" "fuzz/fuzz_$t.py" "build/fuzz/$t" "fuzz/corpus/$t" -artifact_prefix="build/fuzz/crash-$t-" \
    -print_final_stats=1 >"build/fuzz/$t.log" 2>&1 &
  pids+=($!)
  echo "fuzz: $t running (pid $!, log build/fuzz/$t.log)"
done
status=0
for p in "${pids[@]}"; do wait "$p" || status=1; done
exit $status
