#!/usr/bin/env bash
# Micro benchmarks (pytest-benchmark) plus the ratio tables that compare each native
# kernel with a baseline measured in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/setup.sh
.venv/bin/python -m pytest -q bench --benchmark-only --benchmark-columns=min,median,mean,rounds "$@"
for script in bench/ratio_*.py; do
  [ -e "$script" ] || continue
  echo "== $script"
  .venv/bin/python "$script"
done
# A short whole-network run: 4 validators, 10 s, open loop; report + plots in .benchmarks/e2e/ (ignored).
echo "== mbi bench e2e (4 validators, 10 s, open loop)"
.venv/bin/python -m mbi bench e2e --validators 4 --duration 10 --plain --results .benchmarks/e2e
