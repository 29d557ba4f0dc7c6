#!/usr/bin/env bash
# The whole test suite (the README's test command runs this through `make test`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/setup.sh
.venv/bin/python -m pytest -q tests "$@"
