#!/usr/bin/env bash
# The whole test suite (the README's test command runs this through `make test`): the
# pytest suite, then the native kernels' tests again under AddressSanitizer and
# UndefinedBehaviorSanitizer, on the default and the portable backends (ci/sanitize.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/setup.sh
.venv/bin/python -m pytest -q tests "$@"
bash ci/sanitize.sh
