"""A node's home directory: config.toml, node_key.json (mode 0600), genesis.json, data/.

`init_home` makes one; `init_network` makes N validator homes that share one genesis
and list each other as peers (what `mbi init --validators N` and `mbi devnet` use).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, replace

from mbi.crypto.keys import KeyFormatError, KeyPair
from mbi.ledger.genesis import Genesis, GenesisError
from mbi.node import config as C

CONFIG = "config.toml"
DEFAULT_SUPPLY = 100_000_000_000 * 1_000_000  # 100 billion ZETRIX in ZETA


class HomeError(ValueError):
    """A home directory that cannot be used; the message is one line for the operator."""


def write_private_json(path: str, payload: dict[str, str]) -> None:
    """Create `path` with mode 0600 before any byte is written (no readable window)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(payload, f, indent=2)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())


def key_json(kp: KeyPair) -> dict[str, str]:
    return {"address": kp.address, "public_key": kp.encoded_public_key, "private_key": kp.encoded_private_key}


def load_key(path: str) -> KeyPair:
    try:
        with open(path) as f:
            d = json.load(f)
        return KeyPair.from_private_key(d["private_key"])
    except FileNotFoundError:
        raise HomeError(f"{path}: node key file not found") from None
    except (OSError, ValueError, KeyError, TypeError, KeyFormatError) as e:
        raise HomeError(f"{path}: not a node key file ({type(e).__name__}: {e})") from None


def genesis_for(validators: list[KeyPair], faucet: KeyPair, chain_id: int = 1, network_id: int = 1,
                close_time: int = 0) -> Genesis:
    return Genesis.from_dict({
        "chain_id": chain_id, "network_id": network_id, "genesis_account": faucet.address,
        "total_supply": DEFAULT_SUPPLY, "fees": {"gas_price": 100, "base_reserve": 0},
        "validators": [{"address": k.address, "public_key": k.encoded_public_key} for k in validators],
        "close_time": close_time,
    })


@dataclass(frozen=True)
class Home:
    path: str
    config: C.NodeConfig
    genesis: Genesis
    key: KeyPair

    @property
    def data_dir(self) -> str:
        return os.path.join(self.path, self.config.node.data_dir)


def init_home(path: str, *, genesis: Genesis | None = None, key: KeyPair | None = None,
              config: C.NodeConfig | None = None, force: bool = False) -> Home:
    """Write a home. Without `genesis`, a one-validator chain of this node's key."""
    if os.path.exists(os.path.join(path, CONFIG)) and not force:
        raise HomeError(f"{path} already holds a node ({CONFIG} exists); pass --force to overwrite it")
    os.makedirs(path, exist_ok=True)
    key = key or KeyPair.generate()
    cfg = config or C.NodeConfig()
    if genesis is None:
        genesis = genesis_for([key], key)
    write_private_json(os.path.join(path, cfg.node.key_file), key_json(key))
    with open(os.path.join(path, cfg.node.genesis_file), "w") as f:
        f.write(genesis.to_json())
        f.write("\n")
    C.save(cfg, os.path.join(path, CONFIG))
    return Home(path, cfg, genesis, key)


def init_network(root: str, n: int, *, host: str = "127.0.0.1", p2p_base: int = 0, api_base: int = 0,
                 chain_id: int = 1, force: bool = False, base: C.NodeConfig | None = None) -> tuple[list[Home], KeyPair]:
    """N validator homes root/node0..node{n-1} with a shared genesis and a full peer mesh.

    Ports are p2p_base + i and api_base + i; with a base of 0 free ports are picked now.
    Returns the homes and the faucet key (the genesis account).
    """
    if n < 1:
        raise HomeError("a network needs at least one validator")
    keys = [KeyPair.generate() for _ in range(n)]
    faucet = KeyPair.generate()
    genesis = genesis_for(keys, faucet, chain_id=chain_id)
    p2p_ports = [p2p_base + i for i in range(n)] if p2p_base else free_ports(n)
    api_ports = [api_base + i for i in range(n)] if api_base else free_ports(n, avoid=set(p2p_ports))
    base = base or C.NodeConfig()
    homes = []
    for i in range(n):
        peers = tuple(f"{keys[j].raw_public_key.hex()}@{host}:{p2p_ports[j]}" for j in range(n) if j != i)
        cfg = replace(base, p2p=replace(base.p2p, listen_host=host, listen_port=p2p_ports[i], peers=peers),
                      api=replace(base.api, host=host, port=api_ports[i]))
        homes.append(init_home(os.path.join(root, f"node{i}"), genesis=genesis, key=keys[i], config=cfg, force=force))
    write_private_json(os.path.join(root, "faucet.json"), key_json(faucet))
    return homes, faucet


def free_ports(n: int, avoid: set[int] | None = None) -> list[int]:
    import socket

    out: list[int] = []
    socks = []
    try:
        while len(out) < n:
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
            p = s.getsockname()[1]
            if avoid and p in avoid:
                continue
            out.append(p)
    finally:
        for s in socks:
            s.close()
    return out


def load_home(path: str) -> Home:
    if not os.path.isdir(path):
        raise HomeError(f"{path}: no such home directory (run `mbi init --home {path}` first)")
    try:
        cfg = C.load(os.path.join(path, CONFIG))
    except C.ConfigError as e:
        raise HomeError(str(e)) from None
    gpath = os.path.join(path, cfg.node.genesis_file)
    try:
        genesis = Genesis.load(gpath)
    except FileNotFoundError:
        raise HomeError(f"{gpath}: genesis file not found") from None
    except (GenesisError, OSError) as e:
        raise HomeError(f"{gpath}: {e}") from None
    return Home(path, cfg, genesis, load_key(os.path.join(path, cfg.node.key_file)))
