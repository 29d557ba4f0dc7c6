"""Each atheris fuzzer of fuzz/ runs briefly: the committed seed corpus, then a few
thousand mutated inputs (new ones go to a temporary directory, never into the repo).
`make fuzz` runs them without a limit.

Without atheris (the `fuzz` extra) these skip on a developer machine and fail where
CI=true: CI installs it, and these are the only tests that drive the kernels with
arbitrary inputs."""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGETS = {"sha256_many": 4000, "merkle_proofs": 3000, "verify_batch": 800, "mempool": 1500}


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_fuzzer_runs_clean(target, tmp_path) -> None:
    if importlib.util.find_spec("atheris") is None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("CI=true but atheris is not installed (pip install -e '.[fuzz]')")
        pytest.skip("needs atheris (pip install -e '.[fuzz]')")
    seeds = os.path.join(ROOT, "fuzz", "corpus", target)
    assert len(os.listdir(seeds)) >= 3, "the seed corpus is missing"
    r = subprocess.run([sys.executable, os.path.join(ROOT, "fuzz", f"fuzz_{target}.py"), str(tmp_path), seeds,
                        f"-runs={TARGETS[target]}", "-max_total_time=20", "-seed=1",
                        f"-artifact_prefix={tmp_path}/"],
                       cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-4000:]
    assert "Done " in out, out[-4000:]
