"""The node's HTTP server (aiohttp, on the node's loop): the first Zetrix routes, health,
status and Prometheus metrics. Shapes follow `../shared/zetrix-compat.md`: snake_case,
int64 as JSON numbers, bytes as lowercase hex, `error_code`/`error_desc`, and code 4 with
a null result for "not found". The rest of the Zetrix API arrives with the API issue.
"""
from __future__ import annotations

import json
import logging
import time
from typing import TYPE_CHECKING, Any

from aiohttp import web

from mbi import __version__
from mbi.types.mbi_types_pb2 import LedgerHeader

if TYPE_CHECKING:
    from mbi.node.node import Node

log = logging.getLogger("mbi.api")

ERR_INVALID_PARAMETER = 2
ERR_NOT_EXIST = 4
_INT64_MAX = (1 << 63) - 1


def _json(body: Any, status: int = 200) -> web.Response:
    return web.Response(text=json.dumps(body, separators=(",", ":")), status=status, content_type="application/json")


def _ok(result: Any) -> web.Response:
    return _json({"error_code": 0, "result": result})


def _err(code: int, desc: str, status: int = 200) -> web.Response:
    return _json({"error_code": code, "error_desc": desc, "result": None}, status)


def header_json(h: LedgerHeader) -> dict[str, Any]:
    return {"seq": h.seq, "hash": h.hash.hex(), "previous_hash": h.previous_hash.hex(),
            "account_tree_hash": h.account_tree_hash.hex(), "close_time": h.close_time,
            "consensus_value_hash": h.consensus_value_hash.hex(), "version": h.version, "tx_count": h.tx_count,
            "validators_hash": h.validators_hash.hex(), "fees_hash": h.fees_hash.hex(), "chain_id": h.chain_id,
            "tx_root": h.tx_root.hex(), "receipts_root": h.receipts_root.hex(), "account_count": h.account_count}


def _bool_param(req: web.Request, name: str) -> bool:
    v = req.query.get(name, "false").lower()
    if v in ("true", "1"):
        return True
    if v in ("false", "0", ""):
        return False
    raise ValueError(f"{name} must be true or false, got {v!r}")


def make_app(node: "Node") -> web.Application:
    app = web.Application(client_max_size=node.cfg.api.max_body_bytes)
    r = app.router

    async def hello(_: web.Request) -> web.Response:
        g = node.genesis
        return _json({"error_code": 0, "zetrix_version": f"mbi-core {__version__}", "license_version": "none",
                      "ledger_version": "1000", "overlay_version": "1", "monitor_version": "1",
                      "network_id": g.network_id, "chain_id": g.chain_id, "hash_type": 0,
                      "current_time": int(time.time() * 1e6), "websocket_address": ""})

    async def get_ledger(req: web.Request) -> web.Response:
        try:
            with_validator = _bool_param(req, "with_validator")
            with_fee = _bool_param(req, "with_fee")
            raw_seq = req.query.get("seq")
            if raw_seq is None or raw_seq == "":
                seq = node.chain.ledger.seq
            else:
                if not raw_seq.isdigit() or len(raw_seq) > 19:
                    raise ValueError(f"seq must be a positive integer, got {raw_seq!r}")
                seq = int(raw_seq)
                if not 1 <= seq <= _INT64_MAX:
                    raise ValueError(f"seq must be in [1, 2**63), got {seq}")
        except ValueError as e:
            return _err(ERR_INVALID_PARAMETER, str(e))
        raw = node.store.get_header(seq)
        if raw is None:
            return _err(ERR_NOT_EXIST, f"ledger {seq} does not exist")
        out: dict[str, Any] = {"header": header_json(LedgerHeader.FromString(raw))}
        if with_validator:
            out["validators"] = [{"address": v.address, "public_key": v.public_key, "pledge_coin_amount": 0}
                                 for v in node.genesis.validators]
        if with_fee:
            out["fees"] = {"gas_price": node.genesis.fees.gas_price, "base_reserve": node.genesis.fees.base_reserve}
        return _ok(out)

    async def modules_status(_: web.Request) -> web.Response:
        seq = node.chain.ledger.seq
        return _json({
            "ledger_manager": {"ledger_sequence": seq, "chain_max_ledger_seq": node.chain_max_height() + 1,
                               "hash_type": 0, "tx_count": node.txs_committed,
                               "catching_up": node.catching_up()},
            "consensus": {"round": node.core.round, "committed_height": node.core.committed_height,
                          "leader": node.vs.leader(node.core.round), "validator_index": node.core.index,
                          "halted": node.core.halted},
            "peer_manager": {"peers": len(node.net.peer_keys())},
            "glue_manager": {"transaction_size": len(node.pool)},
        })

    async def health(_: web.Request) -> web.Response:
        st = node.status()
        limit = max(10.0, 5 * node.cfg.consensus.round_timeout_base, 3 * node.cfg.consensus.heartbeat_interval)
        problems = []
        if st["halted"]:
            problems.append("halted: " + st["halted"])
        if st["catching_up"]:
            problems.append(f"catching up: height {st['height']} of {st['chain_max_height']}")
        age = st["last_commit_age"]
        if age is None and node.chain.height == 0:
            age = time.time() - node.started_at
        if age is not None and age > limit:
            problems.append(f"no commit for {age:.1f} s")
        if problems:
            return _json({"status": "unhealthy", "problems": problems, "height": st["height"]}, status=503)
        return _json({"status": "ok", "height": st["height"]})

    async def status(_: web.Request) -> web.Response:
        return _json(node.status())

    async def metrics(_: web.Request) -> web.Response:
        return web.Response(body=node.metrics.render(), content_type="text/plain", charset="utf-8")

    r.add_get("/hello", hello)
    r.add_get("/getLedger", get_ledger)
    r.add_get("/getModulesStatus", modules_status)
    r.add_get("/health", health)
    r.add_get("/status", status)
    r.add_get("/metrics", metrics)
    # The rest of the Zetrix API; its middleware turns every error (404, 405, 413, an
    # exception in a handler) into the Zetrix JSON shape, for these routes too.
    from mbi.api.routes import add_routes

    add_routes(app, node)
    return app


async def start_http(node: "Node", host: str, port: int) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(make_app(node), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_address=True)
    await site.start()
    bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, bound
