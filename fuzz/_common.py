"""Shared set-up of the atheris harnesses in fuzz/ (see fuzz/README.md)."""
from __future__ import annotations

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
# the tree under test first, then the pure-Python references in tests/
for p in (os.path.join(ROOT, "tests"), ROOT):
    if p not in sys.path:
        sys.path.insert(0, p)


def run(test_one_input, argv: list[str]) -> None:
    """libFuzzer's command line: corpus dirs, -runs=N, -max_total_time=S, ..."""
    import atheris

    atheris.Setup(argv, test_one_input)
    atheris.Fuzz()
