"""Operator errors of `mbi init/start/devnet/status`, run as real subprocesses: a wrong flag, a
missing home, a bad config value, a corrupt database, a port in use. Each is one line on
stderr naming the problem and a non-zero exit, never a traceback."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from node_util import REPO


def mbi(*args: str, timeout: float = 60.0) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mbi", *args], capture_output=True, text=True, timeout=timeout,
                          cwd=str(REPO), stdin=subprocess.DEVNULL)


def one_line_error(r: subprocess.CompletedProcess, code: int, *needles: str, logs_before: bool = False) -> str:
    assert r.returncode == code, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert lines, "no message on stderr"
    if not logs_before:
        assert len(lines) == 1, f"not one line:\n{r.stderr}"
    msg = lines[-1]
    for n in needles:
        assert n in msg, f"{n!r} not in {msg!r}"
    return msg


@pytest.fixture
def home(tmp_path: Path) -> Path:
    h = tmp_path / "home"
    r = mbi("init", "--home", str(h), "--p2p-port", "0", "--api-port", "0")
    assert r.returncode == 0, r.stderr
    return h


def test_wrong_flag(home: Path) -> None:
    one_line_error(mbi("start", "--home", str(home), "--bogus"), 2, "--bogus")
    one_line_error(mbi("start", "--home", str(home), "--p2p-port", "99999"), 2, "--p2p-port", "99999")
    one_line_error(mbi("start", "--home", str(home), "--log-format", "xml"), 2, "--log-format", "xml")
    one_line_error(mbi("devnet", "--validators", "0", "--home", str(home.parent / "d")), 2, "--validators")
    one_line_error(mbi("start"), 2, "--home")


def test_missing_home(tmp_path: Path) -> None:
    missing = tmp_path / "nonexistent"
    one_line_error(mbi("start", "--home", str(missing)), 1, str(missing), "no such home directory")
    one_line_error(mbi("status", "--home", str(missing)), 1, "config")
    assert not missing.exists()  # nothing was created


def test_home_without_its_files(home: Path) -> None:
    (home / "node_key.json").unlink()
    one_line_error(mbi("start", "--home", str(home)), 1, "node_key.json", "not found")
    (home / "node_key.json").write_text("{not json")
    one_line_error(mbi("start", "--home", str(home)), 1, "node_key.json", "not a node key file")
    (home / "genesis.json").write_text("[]")
    one_line_error(mbi("start", "--home", str(home)), 1, "genesis.json")


@pytest.mark.parametrize("edit,needles", [
    (("max_block_txs = 10000", "max_block_txs = -5"), ("block.max_block_txs", "must be >= 1", "-5")),
    (("round_timeout_base = 1.0", 'round_timeout_base = "fast"'), ("consensus.round_timeout_base", "fast")),
    (('format = "text"', 'format = "xml"'), ("log.format", "xml")),
    (("[block]", "[blocks]"), ("unknown section [blocks]",)),
    (("[block]", "[block"), ("invalid TOML",)),
])
def test_bad_config_value(home: Path, edit: tuple[str, str], needles: tuple[str, ...]) -> None:
    cfg = home / "config.toml"
    text = cfg.read_text()
    assert edit[0] in text
    cfg.write_text(text.replace(edit[0], edit[1], 1))
    msg = one_line_error(mbi("start", "--home", str(home)), 1, *needles)
    assert str(cfg) in msg
    assert not (home / "data").exists()  # refused before anything was opened


def test_corrupt_database(home: Path) -> None:
    data = home / "data"
    data.mkdir()
    (data / "junk.bin").write_bytes(os.urandom(5000))
    one_line_error(mbi("start", "--home", str(home)), 1, "cannot open the node's data", "not a RocksDB database")
    (data / "CURRENT").write_bytes(os.urandom(3000))
    (data / "MANIFEST-000001").write_bytes(os.urandom(3000))
    one_line_error(mbi("start", "--home", str(home)), 1, "cannot open the node's data", str(data))
    assert (data / "junk.bin").exists()  # nothing of the operator's was removed


def test_port_in_use(home: Path) -> None:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", 0))
        s.listen()
        port = s.getsockname()[1]
        one_line_error(mbi("start", "--home", str(home), "--p2p-port", str(port)), 1, "cannot start",
                       logs_before=True)


def test_status_of_a_node_that_is_not_there() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: connection refused
        one_line_error(mbi("status", "--url", f"http://127.0.0.1:{port}"), 1, "not reachable")


def test_damaged_safety_record(home: Path) -> None:
    """A validator whose safety record is garbage must not start as if it never voted."""
    p = subprocess.Popen([sys.executable, "-m", "mbi", "start", "--home", str(home)], cwd=str(REPO),
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        safety = home / "data" / "safety.bin"
        end = time.monotonic() + 60
        # a one-validator chain votes for its own blocks: wait for a record in slot 0 too
        while not (safety.exists() and safety.read_bytes()[:8] == b"MBISAFE1"):
            assert p.poll() is None and time.monotonic() < end, "the node never wrote a safety record"
            time.sleep(0.2)
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(30)
    size = safety.stat().st_size
    safety.write_bytes(os.urandom(size))
    one_line_error(mbi("start", "--home", str(home)), 1, "safety record is damaged", logs_before=True)
