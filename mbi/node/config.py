"""Node configuration: one frozen dataclass per config.toml section, with defaults.

Read with tomllib, written with tomli_w. Every key is checked: an unknown section or
key, a wrong type or an out-of-range value raises ``ConfigError`` with a one-line
message naming ``section.key``. Meanings of the settings: docs/operator-guide.md.
"""
from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field, fields
from typing import Any, Mapping

import tomli_w

from mbi.config_fields import FieldError, check_section, coerce, setting
from mbi.p2p.config import P2PConfig
from mbi.store.db import StoreTuning

_MiB = 1 << 20


class ConfigError(ValueError):
    """A bad config file or value; str() is one line naming the key."""


@dataclass(frozen=True)
class NodeSection:
    role: str = setting("validator", choices=("validator", "full"), doc="vote (validator) or follow (full)")
    data_dir: str = setting("data", doc="store directory, relative to the home")
    key_file: str = setting("node_key.json", doc="node key file, relative to the home")
    genesis_file: str = setting("genesis.json", doc="genesis file, relative to the home")
    gc_young_threshold: int = setting(50_000, min=0,
                                      doc="allocations between young-generation garbage collections in `mbi start` "
                                          "(0: Python's default, 700)")

    def __post_init__(self) -> None:
        check_section(self)


@dataclass(frozen=True)
class ApiConfig:
    host: str = setting("127.0.0.1", doc="HTTP API bind address")
    port: int = setting(18002, min=0, max=65535, doc="HTTP API port")
    max_body_bytes: int = setting(4 * _MiB, min=1024, doc="largest request body accepted")
    max_items: int = setting(1000, min=1, max=100_000, doc="items per /submitTransaction or /testTransaction body")

    def __post_init__(self) -> None:
        check_section(self)


@dataclass(frozen=True)
class BlockConfig:
    max_block_txs: int = setting(10_000, min=1, doc="transactions per block at most")
    max_block_bytes: int = setting(8 * _MiB, min=1024, doc="encoded transaction bytes per block at most")

    def __post_init__(self) -> None:
        check_section(self)


@dataclass(frozen=True)
class ConsensusConfig:
    round_timeout_base: float = setting(1.0, min=0.01, doc="first round timeout (seconds)")
    round_timeout_backoff: float = setting(1.5, min=1.0, doc="timeout multiplier per failed round")
    round_timeout_max: float = setting(30.0, min=0.01, doc="longest round timeout (seconds)")
    heartbeat_interval: float = setting(0.3, min=0.001,
                                        doc="an idle leader proposes an empty block after this long "
                                            "(at most round_timeout_base / 3)")
    min_block_interval: float = setting(
        0.05, min=0.0, doc="a leader proposes no sooner than this long after it saw the parent block, so a light "
                           "load is carried in fewer, larger blocks (heartbeat_interval if that is shorter; 0: off)")
    block_time_budget: float = setting(0.5, min=0.0, max=1.0,
                                       doc="a leader caps its block at what this node measured fits in this "
                                           "fraction of round_timeout_base (0: only the [block] caps)")
    block_time_min_txs: int = setting(500, min=1, doc="the time cap never goes below this many transactions")
    block_time_after_timeout: float = setting(1.0, min=1.0,
                                              doc="a leader whose round follows a timed-out one multiplies its "
                                                  "time cap by this (the backlog of the lost round drains faster)")
    unreachable_leader_timeout: float = setting(
        0.2, min=0.0, doc="a round whose leader, or whose next leader (who collects its votes), is a validator with no "
                          "connection to this one times out after at most this long: no block of it can be certified "
                          "until that validator reconnects (0: off; docs/consensus.md §3.3)")
    vote_journal: bool = setting(False, doc="append every vote received from a peer (voter, round, block id, "
                                            "commit id, signature) to DATA/votes.log, for fault drills")

    def __post_init__(self) -> None:
        check_section(self)
        if self.round_timeout_max < self.round_timeout_base:
            raise FieldError("round_timeout_max", f"must be >= round_timeout_base ({self.round_timeout_base:g})")
        # An idle leader's own round lasts its heartbeat and the next leader's, plus three
        # network hops (proposal, votes, next proposal): with more than a third of the timer
        # each, every idle leader times out its own round (docs/consensus.md §3.3).
        if self.heartbeat_interval * 3 > self.round_timeout_base:
            raise FieldError("heartbeat_interval", f"must be at most round_timeout_base / 3 "
                                                   f"({self.round_timeout_base / 3:.3g}), got {self.heartbeat_interval:g}")


@dataclass(frozen=True)
class PoolConfig:
    capacity: int = setting(200_000, min=1, doc="transactions held at most")
    capacity_bytes: int = setting(256 * _MiB, min=1024, doc="transaction bytes held at most")
    per_sender_limit: int = setting(64, min=1, doc="pending transactions per account")
    max_nonce_gap: int = setting(1024, min=0, doc="how far ahead of the account nonce a tx may be")
    ttl: float = setting(600.0, min=1.0, doc="seconds a transaction may wait")
    replace_bump: float = setting(0.10, min=0.0, max=10.0, doc="gas price rise needed to replace (fraction)")

    def __post_init__(self) -> None:
        check_section(self)


@dataclass(frozen=True)
class VerifyConfig:
    batch_size: int = setting(4096, min=1, doc="signatures per verify_batch call at most")
    max_delay: float = setting(0.005, min=0.0, doc="seconds to wait for a batch to fill")
    threads: int = setting(0, min=0, doc="verifier threads (0: one per core)")
    kernel_threads: int = setting(0, min=0, max=256,
                                  doc="threads per native kernel call: signatures, hashing, Merkle "
                                      "(0: MBI_THREADS if set, else one per core)")
    cache_size: int = setting(1 << 20, min=0, doc="verified transaction hashes remembered")

    def __post_init__(self) -> None:
        check_section(self)


@dataclass(frozen=True)
class SyncConfig:
    batch_blocks: int = setting(256, min=1, doc="blocks per SYNC_REQUEST (a response also fits one frame)")
    recent_blocks_mb: int = setting(
        128, min=0, doc="MiB of the latest executed blocks kept in memory, so that sync answers to a peer that "
                        "restarted need not rebuild them from the store (0: always read the store)")
    ignore_gossip_behind: int = setting(
        8, min=0, doc="a node more than this many heights below the highest its peers report ignores relayed "
                      "transactions until it is back within it: they reach it in the blocks it syncs, and admitting "
                      "them takes the time catching up needs (0: never)")

    def __post_init__(self) -> None:
        check_section(self)


@dataclass(frozen=True)
class LogConfig:
    format: str = setting("text", choices=("text", "json"), doc="plain text or JSON lines")
    level: str = setting("info", choices=("debug", "info", "warning", "error"), doc="lowest level logged")

    def __post_init__(self) -> None:
        check_section(self)


@dataclass(frozen=True)
class NodeConfig:
    node: NodeSection = field(default_factory=NodeSection)
    p2p: P2PConfig = field(default_factory=P2PConfig)
    api: ApiConfig = field(default_factory=ApiConfig)
    block: BlockConfig = field(default_factory=BlockConfig)
    consensus: ConsensusConfig = field(default_factory=ConsensusConfig)
    pool: PoolConfig = field(default_factory=PoolConfig)
    verify: VerifyConfig = field(default_factory=VerifyConfig)
    sync: SyncConfig = field(default_factory=SyncConfig)
    log: LogConfig = field(default_factory=LogConfig)
    store: StoreTuning = field(default_factory=StoreTuning)


SECTIONS: dict[str, type] = {"node": NodeSection, "p2p": P2PConfig, "api": ApiConfig, "block": BlockConfig,
                             "consensus": ConsensusConfig, "pool": PoolConfig, "verify": VerifyConfig,
                             "sync": SyncConfig, "log": LogConfig, "store": StoreTuning}


def _ann(f: dataclasses.Field[Any]) -> str:
    return f.type if isinstance(f.type, str) else f.type.__name__


def _section(name: str, cls: type, raw: Any, source: str) -> Any:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{source}: [{name}] must be a table, got {raw!r}")
    known = {f.name: f for f in fields(cls)}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        f = known.get(key)
        if f is None:
            raise ConfigError(f"{source}: unknown key {name}.{key}")
        try:
            values[key] = coerce(_ann(f), value, f"{name}.{key}")
        except FieldError as e:
            raise ConfigError(f"{source}: {e}") from None
    try:
        return cls(**values)
    except FieldError as e:
        raise ConfigError(f"{source}: {name}.{e}") from None
    except ValueError as e:  # StoreTuning's own check: "StoreTuning.x must be ..."
        msg = str(e).replace(f"{cls.__name__}.", f"{name}.")
        raise ConfigError(f"{source}: {msg}") from None


def from_dict(data: Mapping[str, Any], source: str = "config") -> NodeConfig:
    parts: dict[str, Any] = {}
    for name, raw in data.items():
        cls = SECTIONS.get(name)
        if cls is None:
            raise ConfigError(f"{source}: unknown section [{name}]")
        parts[name] = _section(name, cls, raw, source)
    return NodeConfig(**parts)


def loads(text: str, source: str = "config.toml") -> NodeConfig:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{source}: invalid TOML: {e}") from None
    return from_dict(data, source)


def load(path: str | os.PathLike[str]) -> NodeConfig:
    p = os.fspath(path)
    try:
        with open(p, "rb") as fh:
            raw = fh.read()
    except OSError as e:
        raise ConfigError(f"{p}: cannot read config: {e.strerror or e}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{p}: config is not UTF-8") from None
    return loads(text, p)


def to_dict(cfg: NodeConfig) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for sec in fields(cfg):
        obj = getattr(cfg, sec.name)
        out[sec.name] = {f.name: (list(v) if isinstance(v := getattr(obj, f.name), tuple) else v)
                         for f in fields(obj)}
    return out


def dumps(cfg: NodeConfig) -> str:
    return tomli_w.dumps(to_dict(cfg))


def save(cfg: NodeConfig, path: str | os.PathLike[str]) -> None:
    """Write atomically (temp file + rename), so a crash never leaves half a config."""
    p = os.fspath(path)
    tmp = p + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(dumps(cfg))
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, p)


def with_overrides(cfg: NodeConfig, overrides: Mapping[str, Any], source: str = "override") -> NodeConfig:
    """Apply {"section.key": value} (e.g. from command-line flags), checked like the file."""
    data = to_dict(cfg)
    for dotted, value in overrides.items():
        sec, _, key = dotted.partition(".")
        if sec not in data or not key:
            raise ConfigError(f"{source}: unknown key {dotted}")
        if key not in data[sec]:
            raise ConfigError(f"{source}: unknown key {dotted}")
        data[sec][key] = value
    return from_dict(data, source)


__all__ = ["ApiConfig", "BlockConfig", "ConfigError", "ConsensusConfig", "LogConfig", "NodeConfig",
           "NodeSection", "P2PConfig", "PoolConfig", "SECTIONS", "StoreTuning", "SyncConfig", "VerifyConfig",
           "dumps", "from_dict", "load", "loads", "save", "to_dict", "with_overrides"]
