"""`make devnet` (the README's first command) brings up 4 validators that commit: every
node's /status reaches height 10 while the devnet runs, and Ctrl-C stops them all cleanly.

The Makefile target itself runs, with `-o setup` (the venv the suite runs in is the one
`setup` makes) and DEVNET_HOME in a temporary folder instead of .devnet."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

from node_util import REPO, HttpNode


def test_make_devnet_reaches_height_10_on_all_4_nodes(tmp_path: Path) -> None:
    home = tmp_path / "devnet"
    out = open(tmp_path / "devnet.out", "w+b")
    p = subprocess.Popen(["make", "-s", "-o", "setup", "devnet", f"DEVNET_HOME={home}",
                          "DEVNET_ARGS=--plain --duration 150"], cwd=str(REPO), stdout=out,
                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    pids: list[int] = []
    try:
        end = time.monotonic() + 60
        while not (home / "devnet.json").exists():
            assert p.poll() is None, f"make devnet exited with {p.returncode}"
            assert time.monotonic() < end, "no devnet.json after 60 s"
            time.sleep(0.2)
        info = json.loads((home / "devnet.json").read_text())
        nodes = info["nodes"]
        assert [n["name"] for n in nodes] == ["node0", "node1", "node2", "node3"]
        assert info["faucet"]["address"].startswith("ZTX") and info["faucet"]["private_key"].startswith("priv")
        assert oct(os.stat(home / "devnet.json").st_mode & 0o777) == "0o600"  # it holds the faucet key
        pids = [n["pid"] for n in nodes]
        apis = []
        for n in nodes:
            assert n["url"].startswith("http://127.0.0.1:") and n["p2p"].startswith("127.0.0.1:")
            assert Path(n["home"], "config.toml").exists()
            apis.append(HttpNode("127.0.0.1", int(n["url"].rsplit(":", 1)[1])))
        heights = [0] * 4
        end = time.monotonic() + 90
        while min(heights) < 10:
            assert p.poll() is None, f"the devnet ended at heights {heights}"
            assert time.monotonic() < end, f"heights {heights} after 90 s"
            time.sleep(0.5)
            for i, api in enumerate(apis):
                st = api.get("/status")
                if isinstance(st, dict):
                    heights[i] = st["height"]
                    assert st["validators"] == 4 and st["halted"] is None
        # the same ledger 10 on all four (committed, so final)
        hashes = {api.get("/getLedger?seq=11")["result"]["header"]["hash"] for api in apis}
        assert len(hashes) == 1, hashes
        for api in apis:
            api.close()
        devnet = [int(x) for x in Path(f"/proc/{p.pid}/task/{p.pid}/children").read_text().split()]
        os.killpg(p.pid, signal.SIGINT)  # Ctrl-C in the terminal: make and the devnet get it
        p.wait(60)  # make itself dies of the signal, as make does
        end = time.monotonic() + 60
        while any(Path(f"/proc/{x}").exists() for x in devnet + pids):
            assert time.monotonic() < end, "the devnet did not stop within 60 s of Ctrl-C"
            time.sleep(0.2)
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
        for pid in pids:  # a node the devnet failed to stop must not outlive the test
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    out.seek(0)
    text = out.read().decode(errors="replace")
    assert "devnet: stopped (all nodes exited cleanly)" in text, text[-3000:]
