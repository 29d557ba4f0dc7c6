"""The examples run and do what they claim."""
from __future__ import annotations

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_replicated_kv_replicas_agree_under_twins_partitions_and_crashes() -> None:
    p = subprocess.run([sys.executable, os.path.join(ROOT, "examples", "replicated_kv.py"), "--seeds", "0:4"],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    lines = p.stdout.splitlines()
    assert len(lines) == 4 and all(ln.startswith("ok   seed") for ln in lines)
    assert all("ops applied 40/40" in ln and "replicas agree: True" in ln for ln in lines)


def test_replicated_kv_is_small() -> None:
    with open(os.path.join(ROOT, "examples", "replicated_kv.py")) as f:
        assert len(f.read().splitlines()) < 200
