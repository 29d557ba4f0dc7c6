"""Node config: defaults, TOML round trip, and a one-line ConfigError naming the key for
every kind of bad input."""
from __future__ import annotations

import dataclasses
import os
import tomllib
from pathlib import Path

import pytest

from mbi.node import config as C
from mbi.p2p import P2PConfig, parse_peer
from mbi.store.db import StoreTuning


def test_defaults() -> None:
    cfg = C.NodeConfig()
    assert cfg.p2p.listen_port == 18001 and cfg.api.port == 18002  # Zetrix's ports
    assert cfg.p2p.max_frame_bytes == 16 << 20
    assert cfg.block.max_block_txs == 10_000
    assert cfg.store == StoreTuning()
    assert cfg.log.format == "text"


def test_every_section_and_key_is_written_and_read_back(tmp_path: Path) -> None:
    cfg = C.NodeConfig()
    text = C.dumps(cfg)
    data = tomllib.loads(text)
    assert set(data) == set(C.SECTIONS)
    for name, cls in C.SECTIONS.items():
        assert set(data[name]) == {f.name for f in dataclasses.fields(cls)}, name
    assert C.loads(text) == cfg
    path = tmp_path / "config.toml"
    custom = C.with_overrides(cfg, {"p2p.listen_port": 3001, "p2p.peers": ["127.0.0.1:3002", "[::1]:3003"],
                                    "store.block_cache_mb": 16, "consensus.round_timeout_base": 2})
    C.save(custom, path)
    back = C.load(path)
    assert back == custom
    assert back.p2p.peers == ("127.0.0.1:3002", "[::1]:3003")
    assert back.consensus.round_timeout_base == 2.0 and isinstance(back.consensus.round_timeout_base, float)
    assert not os.path.exists(str(path) + ".tmp")


def test_partial_file_keeps_other_defaults() -> None:
    cfg = C.loads('[p2p]\nlisten_port = 4000\n[block]\nmax_block_txs = 500\n')
    assert cfg.p2p.listen_port == 4000 and cfg.block.max_block_txs == 500
    assert cfg.p2p.max_frame_bytes == P2PConfig().max_frame_bytes
    assert cfg.api == C.ApiConfig() and cfg.store == StoreTuning()
    assert C.loads("") == C.NodeConfig()


@pytest.mark.parametrize("text,message", [
    ("[p2p]\nlisten_prot = 1\n", "config.toml: unknown key p2p.listen_prot"),
    ("[network]\n", "config.toml: unknown section [network]"),
    ("p2p = 3\n", "config.toml: [p2p] must be a table, got 3"),
    ("[p2p]\nlisten_port = 70000\n", "config.toml: p2p.listen_port: must be <= 65535, got 70000"),
    ("[p2p]\nlisten_port = \"18001\"\n", "config.toml: p2p.listen_port: must be an integer, got '18001'"),
    ("[p2p]\nlisten_port = true\n", "config.toml: p2p.listen_port: must be an integer, got True"),
    ("[p2p]\nmax_frame_bytes = 100\n", "config.toml: p2p.max_frame_bytes: must be >= 1024, got 100"),
    ("[p2p]\nhandshake_timeout = \"5s\"\n", "config.toml: p2p.handshake_timeout: must be a finite number, got '5s'"),
    ("[p2p]\nidle_timeout = inf\n", "config.toml: p2p.idle_timeout: must be a finite number, got inf"),
    ("[p2p]\npeers = \"a:1\"\n", "config.toml: p2p.peers: must be a list of strings, got 'a:1'"),
    ("[p2p]\npeers = [\"a:0\"]\n", "config.toml: p2p.peers: peer 'a:0': port out of range"),
    ("[p2p]\npeers = [\"zz@a:1\"]\n", "config.toml: p2p.peers: peer 'zz@a:1': key is not hex"),
    ("[p2p]\nwrite_buffer_low = 9999999\n", "config.toml: p2p.write_buffer_low: must be <= write_buffer_high (4194304)"),
    ("[p2p]\nping_interval = 60.0\n", "config.toml: p2p.ping_interval: must be < idle_timeout (30)"),
    ("[p2p]\nmax_frame_bytes = 1073741824\n",
     "config.toml: p2p.burst_bytes: must hold one max frame (1073741829 bytes)"),
    ("[p2p]\nban_threshold = 5\n", "config.toml: p2p.ban_threshold: must be <= -1.0, got 5.0"),
    ("[log]\nformat = \"xml\"\n", "config.toml: log.format: must be one of text, json, got 'xml'"),
    ("[node]\nrole = \"observer\"\n", "config.toml: node.role: must be one of validator, full, got 'observer'"),
    ("[consensus]\nround_timeout_max = 0.5\n",
     "config.toml: consensus.round_timeout_max: must be >= round_timeout_base (1)"),
    ("[consensus]\nheartbeat_interval = 0.5\n",
     "config.toml: consensus.heartbeat_interval: must be at most round_timeout_base / 3 (0.333), got 0.5"),
    ("[consensus]\nround_timeout_base = 0.6\nround_timeout_max = 1.0\n",
     "config.toml: consensus.heartbeat_interval: must be at most round_timeout_base / 3 (0.2), got 0.3"),
    ("[store]\nblock_cache_mb = 0\n", "config.toml: store.block_cache_mb must be a positive int, got 0"),
    ("[store]\nbackground_jobs = 1.5\n", "config.toml: store.background_jobs: must be an integer, got 1.5"),
    ("[store]\nwal = 1\n", "config.toml: unknown key store.wal"),
    ("[pool]\nreplace_bump = -0.1\n", "config.toml: pool.replace_bump: must be >= 0.0, got -0.1"),
])
def test_bad_values_name_the_key(text: str, message: str) -> None:
    with pytest.raises(C.ConfigError) as e:
        C.loads(text)
    assert str(e.value) == message
    assert "\n" not in str(e.value)


def test_invalid_toml_is_one_line() -> None:
    with pytest.raises(C.ConfigError) as e:
        C.loads("[p2p\nlisten_port = 1\n")
    msg = str(e.value)
    assert msg.startswith("config.toml: invalid TOML: ") and "line 1" in msg and "\n" not in msg


def test_load_errors(tmp_path: Path) -> None:
    with pytest.raises(C.ConfigError, match="cannot read config"):
        C.load(tmp_path / "missing.toml")
    bad = tmp_path / "bin.toml"
    bad.write_bytes(b"\xff\xfe[p2p]")
    with pytest.raises(C.ConfigError, match="not UTF-8"):
        C.load(bad)
    named = tmp_path / "node.toml"
    named.write_text("[api]\nport = -1\n")
    with pytest.raises(C.ConfigError) as e:
        C.load(named)
    assert str(e.value) == f"{named}: api.port: must be >= 0, got -1"


def test_overrides_are_checked() -> None:
    cfg = C.NodeConfig()
    assert C.with_overrides(cfg, {"log.format": "json"}).log.format == "json"
    with pytest.raises(C.ConfigError, match="override: unknown key p2p.nope"):
        C.with_overrides(cfg, {"p2p.nope": 1})
    with pytest.raises(C.ConfigError, match="override: unknown key nosection.x"):
        C.with_overrides(cfg, {"nosection.x": 1})
    with pytest.raises(C.ConfigError, match="override: api.port: must be an integer"):
        C.with_overrides(cfg, {"api.port": "x"})


def test_p2p_config_direct_construction_is_checked() -> None:
    with pytest.raises(ValueError, match="max_peers"):
        P2PConfig(max_peers=0)
    with pytest.raises(ValueError, match="listen_port"):
        P2PConfig(listen_port=True)  # type: ignore[arg-type]


def test_parse_peer() -> None:
    k = bytes(range(32))
    assert parse_peer("10.0.0.1:18001") == ("10.0.0.1", 18001, None)
    assert parse_peer(f"{k.hex()}@node-2.local:7") == ("node-2.local", 7, k)
    assert parse_peer("[fe80::1]:18001") == ("fe80::1", 18001, None)
    for bad in ("host", ":1", "h:", "h:x", "h:65536", "abcd@h:1"):
        with pytest.raises(ValueError):
            parse_peer(bad)
