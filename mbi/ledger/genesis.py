"""Genesis (JSON): the network's identity, first account, fees and validators.

    {
      "chain_id": 1,                       // int64 > 0; transactions must carry it
      "network_id": 1,                     // int64; P2P handshake identity
      "genesis_account": "ZTX3...",        // receives the whole supply
      "total_supply": 100000000000000000,  // ZETA (1 ZETRIX = 1,000,000 ZETA)
      "fees": {"gas_price": 100, "base_reserve": 0},
      "validators": [{"address": "ZTX3...", "public_key": "b001..."}],
      "close_time": 0                      // µs; the genesis ledger's close_time (optional)
    }

Unknown keys are rejected so that a typo cannot silently fall back to a default.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

from mbi.crypto.keys import KeyFormatError, address_from_raw_public_key, decode_public_key, is_address
from mbi.ledger.fees import INT64_MAX, FeeConfig

_KEYS = {"chain_id", "network_id", "genesis_account", "total_supply", "fees", "validators", "close_time"}


class GenesisError(ValueError):
    pass


def _int(d: dict, key: str, lo: int, hi: int = INT64_MAX, where: str = "genesis") -> int:
    if key not in d:
        raise GenesisError(f"{where}.{key} is required")
    v = d[key]
    if type(v) is not int or not lo <= v <= hi:
        raise GenesisError(f"{where}.{key} must be an integer in [{lo}, {hi}], got {v!r}")
    return v


@dataclass(frozen=True, slots=True)
class Validator:
    address: str
    public_key: str  # b001... hex
    raw_public_key: bytes


@dataclass(frozen=True, slots=True)
class Genesis:
    chain_id: int
    network_id: int
    genesis_account: str
    total_supply: int
    fees: FeeConfig
    validators: tuple[Validator, ...]
    close_time: int = 0

    @classmethod
    def from_dict(cls, d: Any) -> "Genesis":
        if not isinstance(d, dict):
            raise GenesisError(f"genesis must be a JSON object, got {type(d).__name__}")
        unknown = set(d) - _KEYS
        if unknown:
            raise GenesisError(f"genesis has unknown keys {sorted(unknown)}; allowed: {sorted(_KEYS)}")
        chain_id = _int(d, "chain_id", 1)
        network_id = _int(d, "network_id", 0)
        acct = d.get("genesis_account")
        if not isinstance(acct, str) or not is_address(acct):
            raise GenesisError(f"genesis.genesis_account must be a valid ZTX3… address, got {acct!r}")
        supply = _int(d, "total_supply", 0)
        fees_d = d.get("fees")
        if not isinstance(fees_d, dict) or set(fees_d) - {"gas_price", "base_reserve"}:
            raise GenesisError("genesis.fees must be an object with gas_price and base_reserve")
        fees = FeeConfig(_int(fees_d, "gas_price", 0, where="genesis.fees"),
                         _int(fees_d, "base_reserve", 0, where="genesis.fees"))
        if supply < fees.base_reserve:
            raise GenesisError("genesis.total_supply is below fees.base_reserve")
        vals_d = d.get("validators")
        if not isinstance(vals_d, list) or not vals_d:
            raise GenesisError("genesis.validators must be a non-empty list")
        vals = []
        seen = set()
        for i, v in enumerate(vals_d):
            if not isinstance(v, dict) or "public_key" not in v or set(v) - {"address", "public_key"}:
                raise GenesisError(f"genesis.validators[{i}] must be {{\"address\", \"public_key\"}}")
            try:
                raw = decode_public_key(v["public_key"])
            except KeyFormatError as exc:
                raise GenesisError(f"genesis.validators[{i}].public_key: {exc}") from None
            addr = address_from_raw_public_key(raw)
            if "address" in v and v["address"] != addr:
                raise GenesisError(f"genesis.validators[{i}].address {v['address']!r} does not match its "
                                   f"public key (which gives {addr})")
            if addr in seen:
                raise GenesisError(f"genesis.validators[{i}] repeats validator {addr}")
            seen.add(addr)
            vals.append(Validator(addr, v["public_key"], raw))
        close_time = _int(d, "close_time", 0) if "close_time" in d else 0
        return cls(chain_id, network_id, acct, supply, fees, tuple(vals), close_time)

    @classmethod
    def from_json(cls, text: str | bytes) -> "Genesis":
        try:
            d = json.loads(text)
        except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError, deep nesting
            raise GenesisError(f"genesis is not valid JSON: {exc}") from None
        return cls.from_dict(d)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> "Genesis":
        with open(path, "rb") as f:
            return cls.from_json(f.read())

    def to_dict(self) -> dict[str, Any]:
        return {
            "chain_id": self.chain_id,
            "network_id": self.network_id,
            "genesis_account": self.genesis_account,
            "total_supply": self.total_supply,
            "fees": {"gas_price": self.fees.gas_price, "base_reserve": self.fees.base_reserve},
            "validators": [{"address": v.address, "public_key": v.public_key} for v in self.validators],
            "close_time": self.close_time,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)
