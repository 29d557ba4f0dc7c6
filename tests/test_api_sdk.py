"""The unmodified Zetrix SDK (zetrix-sdk-nodejs 1.0.1, installed by ci/setup.sh into
tests/js) drives a live 4-validator devnet (`mbi devnet` subprocess) as a wallet would:
tests/js/sdk_devnet.js checks every value it gets back."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
JS = REPO / "tests" / "js"
NODE = shutil.which("node")

pytestmark = pytest.mark.skipif(
    NODE is None or not (JS / "node_modules" / "zetrix-sdk-nodejs").is_dir(),
    reason="node or zetrix-sdk-nodejs missing: run ci/setup.sh")


def _up(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/getLedger", timeout=2) as r:
            return json.loads(r.read())["result"]["header"]["seq"] >= 2
    except (OSError, ValueError, KeyError, TypeError):
        return False


def test_sdk_drives_a_devnet(tmp_path):
    home = tmp_path / "devnet"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.Popen([sys.executable, "-m", "mbi", "devnet", "--validators", "4", "--home", str(home),
                             "--plain", "--duration", "170"], cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        info_path = home / "devnet.json"
        deadline = time.time() + 60
        while time.time() < deadline and not info_path.exists():
            time.sleep(0.2)
        assert info_path.exists(), "devnet.json not written"
        info = json.loads(info_path.read_text())
        while time.time() < deadline and not all(_up(n["url"]) for n in info["nodes"]):
            time.sleep(0.3)
        assert all(_up(n["url"]) for n in info["nodes"]), "devnet did not start committing"
        r = subprocess.run([NODE, str(JS / "sdk_devnet.js"), str(info_path)], cwd=JS, capture_output=True,
                           text=True, timeout=150)
        assert r.returncode == 0, f"sdk script failed:\n{r.stderr}\n{r.stdout}"
        out = json.loads(r.stdout.strip().splitlines()[-1])
        assert out["steps"] == ["getNumber", "activate two accounts", "fund both", "pay coin", "issue and pay asset",
                                "set metadata", "log", "pay with the estimated fee", "lookup every hash",
                                "replayed nonce refused", "checkStatus"]
        assert len(out["hashes"]) == 7
        # every node agrees on every transaction (the API of each answers the same); the SDK
        # waited on one node, and another may still be executing the last block
        for n in info["nodes"]:
            for h in out["hashes"]:
                until = time.time() + 10
                while True:
                    with urllib.request.urlopen(f"{n['url']}/getTransactionHistory?hash={h}", timeout=5) as resp:
                        got = json.loads(resp.read())
                    if got["error_code"] != 4 or time.time() > until:  # 4: not (yet) on this node
                        break
                    time.sleep(0.1)
                assert got["error_code"] == 0 and got["result"]["transactions"][0]["error_code"] == 0, (n, h, got)
        assert proc.poll() is None, "the devnet stopped during the session"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
