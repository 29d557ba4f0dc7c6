"""The Zetrix routes beyond http.py's first ones (docs/api.md lists every route).

`add_routes(app, node)` is called from `mbi.node.http.make_app`. Handlers run on the
node's loop; reads use one store snapshot per request (mbi/api/reads.py), submissions go
through the batched ingress (mbi/api/ingress.py). Every failure is a Zetrix error code
with a description: ApiError from the parsers, and the middleware below for what aiohttp
itself refuses (a body over `[api] max_body_bytes`, a wrong method).
"""
from __future__ import annotations

import hashlib
import logging
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from aiohttp import web
from google.protobuf.message import DecodeError

from mbi.api import jsonio as J
from mbi.api import proofs
from mbi.api.ingress import ApiIngress
from mbi.api.jsonio import ApiError, bad, not_found
from mbi.api.reads import (account_json, account_of, assets_json, metadata_json, pending_json,
                           tx_record_json)
from mbi.api.txjson import message_json, parse_message
from mbi.crypto.keys import is_address
from mbi.ledger import errors as E
from mbi.ledger.fees import estimate_fee
from mbi.ledger.validity import check_operation
from mbi.types.envelope import MAX_ENVELOPE_SIZE, MAX_SIGNATURES, EnvelopeError, SignedTransaction
from mbi.types.zetrix_protocol_pb2 import Transaction

if TYPE_CHECKING:
    from mbi.node.node import Node

log = logging.getLogger("mbi.api")

# Items per /submitTransaction or /testTransaction body: the node's `[api] max_items`.
# Transactions per /getTransactionHistory or /getTransactionCache answer at most.
MAX_LIST = 10_000
DEFAULT_LIST = 1000

Handler = Callable[[web.Request], Awaitable[web.Response]]


def _api(fn: Handler) -> Handler:
    async def wrapped(req: web.Request) -> web.Response:
        try:
            return await fn(req)
        except ApiError as e:
            return J.error(e.code, e.desc, e.status)
    wrapped.__name__ = fn.__name__
    return wrapped


def _items(body: Any, what: str, max_items: int) -> list[Any]:
    if not isinstance(body, dict):
        raise bad(f"body must be a JSON object with an items list, got {type(body).__name__}")
    items = body.get("items")
    if items is None:
        raise bad("missing field items")
    if not isinstance(items, list):
        raise bad(f"items must be a list, got {type(items).__name__}")
    if not items:
        raise bad("items is empty")
    if len(items) > max_items:
        raise bad(f"{len(items)} items; at most {max_items} per {what}")
    return items


def parse_submit_item(item: Any) -> SignedTransaction:
    """One /submitTransaction item → SignedTransaction; ApiError with the item's code."""
    if not isinstance(item, dict):
        raise bad(f"item must be an object, got {type(item).__name__}")
    if "transaction_blob" not in item:
        raise bad("missing field transaction_blob")
    blob = J.parse_hex(item["transaction_blob"], "transaction_blob", MAX_ENVELOPE_SIZE)
    sigs_in = item.get("signatures")
    if not isinstance(sigs_in, list):
        raise bad("signatures must be a list" if sigs_in is not None else "missing field signatures")
    if not sigs_in:
        raise ApiError(E.INVALID_SIGNATURE, "no signatures")
    if len(sigs_in) > MAX_SIGNATURES:
        raise bad(f"{len(sigs_in)} signatures; at most {MAX_SIGNATURES}")
    pairs: list[tuple[str, bytes]] = []
    for j, s in enumerate(sigs_in):
        if not isinstance(s, dict):
            raise bad(f"signatures[{j}] must be an object")
        pk, sd = s.get("public_key"), s.get("sign_data")
        if not isinstance(pk, str):
            raise bad(f"signatures[{j}].public_key must be a string")
        if len(pk) > 256:
            raise ApiError(E.INVALID_PUBKEY, f"signatures[{j}].public_key is not a public key")
        pairs.append((pk, J.parse_hex(sd, f"signatures[{j}].sign_data", 1024)))
    try:
        return SignedTransaction.from_parts(blob, pairs)
    except EnvelopeError as e:
        raise ApiError(e.code, str(e)) from None


def quote(tx: Transaction, signature_number: int, gas_price: int) -> tuple[int, int, bytes]:
    """(gas, fee, tx bytes) with fee_limit set to the fee itself: the fee depends on the
    size, which depends on fee_limit's varint, so iterate to the fixed point (≤ 10 steps,
    the varint only grows)."""
    tx.gas_price = max(tx.gas_price, gas_price)
    ops = [op.type for op in tx.operations]
    fee_limit = tx.fee_limit
    for _ in range(12):
        tx.fee_limit = fee_limit
        raw = tx.SerializeToString()
        gas, fee = estimate_fee(len(raw), ops, signature_number, tx.gas_price)
        if fee <= fee_limit:
            return gas, fee, raw
        fee_limit = fee
    raise ApiError(E.INTERNAL_ERROR, "fee quote did not converge")  # pragma: no cover


INGRESS: web.AppKey[ApiIngress] = web.AppKey("mbi_ingress", ApiIngress)  # the app's batched ingress


def add_routes(app: web.Application, node: "Node") -> None:
    ingress = ApiIngress(node)
    app[INGRESS] = ingress
    r = app.router
    g = node.genesis

    def snapshot():  # type: ignore[no-untyped-def]
        return node.store.snapshot()

    # -- accounts ----------------------------------------------------------------------
    def _account(address: str, **kw: Any) -> web.Response:
        with snapshot() as snap:
            got = account_of(snap, address)
            if got is None:
                raise not_found(f"account {address} does not exist")
            return J.ok(account_json(snap, got[0], got[1], **kw))

    def _asset_filter(req: web.Request) -> tuple[str | None, str | None]:
        code, issuer = J.q_str(req, "code", max_len=64), J.q_str(req, "issuer", max_len=64)
        if (code is None) != (issuer is None):
            raise bad("code and issuer go together")
        if issuer is not None and not is_address(issuer):
            raise ApiError(E.INVALID_ADDRESS, f"issuer {E.show(issuer)} is not a valid address")
        return code, issuer

    @_api
    async def get_account(req: web.Request) -> web.Response:
        address = J.q_address(req)
        code, issuer = _asset_filter(req)
        return _account(address, key=J.q_str(req, "key"), code=code, issuer=issuer)

    @_api
    async def get_account_base(req: web.Request) -> web.Response:
        return _account(J.q_address(req), base=True)

    @_api
    async def get_genesis_account(_: web.Request) -> web.Response:
        return _account(g.genesis_account)

    @_api
    async def get_account_assets(req: web.Request) -> web.Response:
        address = J.q_address(req)
        code, issuer = _asset_filter(req)
        with snapshot() as snap:
            if snap.get_account_entry(address) is None:
                raise not_found(f"account {address} does not exist")
            got = assets_json(snap, address, code, issuer)
        if code is not None and not got:
            raise not_found(f"account {address} holds no asset {E.show(code)} of {issuer}")
        return J.ok(got)

    @_api
    async def get_account_metadata(req: web.Request) -> web.Response:
        address = J.q_address(req)
        key = J.q_str(req, "key")
        with snapshot() as snap:
            if snap.get_account_entry(address) is None:
                raise not_found(f"account {address} does not exist")
            got = metadata_json(snap, address, key)
        if key is not None and not got:
            raise not_found(f"account {address} has no metadata key {E.show(key)}")
        return J.ok({m["key"]: m for m in got})

    # -- transactions ------------------------------------------------------------------
    @_api
    async def get_transaction_history(req: web.Request) -> web.Response:
        h = J.q_hash(req, required=False)
        seq = J.q_int(req, "ledger_seq", lo=1)
        start = J.q_int(req, "start", default=0)
        limit = J.q_int(req, "limit", default=DEFAULT_LIST, lo=1, hi=MAX_LIST)
        with snapshot() as snap:
            if h is not None:
                rec = snap.get_tx(h)
                if rec is None or (seq is not None and rec.ledger_seq != seq):
                    raise not_found(f"transaction {h.hex()} does not exist"
                                    + (f" in ledger {seq}" if seq is not None else ""))
                return J.ok({"total_count": 1, "transactions": [tx_record_json(rec)]})
            if seq is None:
                seq = snap.last_seq()
            if snap.get_header(seq) is None:
                raise not_found(f"ledger {seq} does not exist")
            hashes = snap.get_ledger_txs(seq)
            recs = snap.get_txs(hashes[start:start + limit])  # type: ignore[operator]
        return J.ok({"total_count": len(hashes), "transactions": [tx_record_json(x) for x in recs if x is not None]})

    @_api
    async def get_transaction_cache(req: web.Request) -> web.Response:
        h = J.q_hash(req, required=False)
        limit = J.q_int(req, "limit", default=DEFAULT_LIST, lo=1, hi=MAX_LIST)
        pool = node.pool
        if h is not None:
            stx = pool.by_hash.get(h)
            got = pool.pool.get(h) if stx is not None else None
            if got is None:
                raise not_found(f"transaction {h.hex()} is not pending")
            return J.ok({"total_count": 1, "transactions": [pending_json(stx, got[4])]})  # type: ignore[arg-type]
        out = []
        for th, stx in list(pool.by_hash.items()):
            if len(out) >= limit:  # type: ignore[operator]
                break
            got = pool.pool.get(th)
            if got is not None:
                out.append(pending_json(stx, got[4]))
        return J.ok({"total_count": len(pool), "transactions": out})

    @_api
    async def submit_transaction(req: web.Request) -> web.Response:
        items = _items(await J.json_body(req), "submitTransaction", node.cfg.api.max_items)
        answers: list[dict[str, Any] | None] = [None] * len(items)
        parsed: list[tuple[int, SignedTransaction]] = []
        for k, item in enumerate(items):
            try:
                stx = parse_submit_item(item)
            except ApiError as e:
                blob = item.get("transaction_blob") if isinstance(item, dict) else None
                hh = ""
                if isinstance(blob, str) and len(blob) % 2 == 0:
                    try:
                        hh = hashlib.sha256(bytes.fromhex(blob)).hexdigest()
                    except ValueError:
                        pass
                answers[k] = {"error_code": e.code, "error_desc": e.desc, "hash": hh}
                continue
            parsed.append((k, stx))
        results = await ingress.submit([t for _, t in parsed])
        for (k, stx), (code, desc) in zip(parsed, results):
            answers[k] = {"error_code": code, "error_desc": desc, "hash": stx.hash.hex()}
        success = sum(1 for a in answers if a is not None and a["error_code"] == 0)
        return J.respond({"results": answers, "success_count": success})

    @_api
    async def test_transaction(req: web.Request) -> web.Response:
        items = _items(await J.json_body(req), "testTransaction", node.cfg.api.max_items)
        txs_out: list[dict[str, Any]] = []
        first_err: tuple[int, str] | None = None
        last_hash = ""
        with snapshot() as snap:
            for k, item in enumerate(items):
                try:
                    entry = _test_one(snap, item, k)
                    last_hash = entry["hash"]
                except ApiError as e:
                    entry = {"error_code": e.code, "error_desc": e.desc}
                    first_err = first_err or (e.code, e.desc)
                txs_out.append(entry)
        body: dict[str, Any] = {"error_code": first_err[0] if first_err else 0,
                                "error_desc": first_err[1] if first_err else "",
                                "result": {"hash": last_hash, "txs": txs_out}}
        return J.respond(body)

    def _test_one(snap, item: Any, k: int) -> dict[str, Any]:  # type: ignore[no-untyped-def]
        if not isinstance(item, dict):
            raise bad(f"items[{k}] must be an object")
        tj = item.get("transaction_json")
        if tj is None:
            raise bad(f"items[{k}]: missing field transaction_json")
        nsig = J.parse_int(item.get("signature_number", 1), "signature_number", 1, MAX_SIGNATURES)
        tx = parse_message(Transaction, tj, text_bytes=True, path="transaction_json")
        assert isinstance(tx, Transaction)
        src = tx.source_address
        if not is_address(src):
            raise ApiError(E.INVALID_ADDRESS, f"source_address {E.show(src)} is not a valid address")
        if not tx.operations:
            raise ApiError(E.MISSING_OPERATIONS, "transaction has no operations")
        for j, op in enumerate(tx.operations):
            try:
                check_operation(op, src)
            except E.OpError as e:
                raise ApiError(e.code, f"operation {j}: {e.desc}") from None
        got = account_of(snap, src)
        if got is None:
            raise ApiError(E.ACCOUNT_NOT_EXIST, f"source account {src} does not exist")
        if tx.nonce and tx.nonce <= got[0].nonce:
            raise ApiError(E.BAD_SEQUENCE, f"nonce {tx.nonce} is already used; the account's nonce is {got[0].nonce}")
        if not tx.chain_id:
            tx.chain_id = g.chain_id
        gas, fee, raw = quote(tx, nsig, g.fees.gas_price)
        return {"hash": hashlib.sha256(raw).hexdigest(), "actual_fee": fee, "gas": gas,
                "transaction_env": {"transaction": message_json(tx)}}

    @_api
    async def get_transaction_blob(req: web.Request) -> web.Response:
        body = await J.json_body(req)
        if isinstance(body, dict) and isinstance(body.get("transaction"), dict):
            body = body["transaction"]
        tx = parse_message(Transaction, body, path="transaction")
        raw = tx.SerializeToString()
        if len(raw) >= MAX_ENVELOPE_SIZE:
            raise ApiError(E.TX_SIZE_TOO_BIG, f"transaction is {len(raw)} bytes")
        return J.ok({"hash": hashlib.sha256(raw).hexdigest(), "transaction_blob": raw.hex()})

    @_api
    async def get_transaction_from_blob(req: web.Request) -> web.Response:
        if req.method == "POST":
            body = await J.json_body(req)
            if not isinstance(body, dict) or "blob" not in body:
                raise bad("body must be {\"blob\": hex}")
            blob = J.parse_hex(body["blob"], "blob", MAX_ENVELOPE_SIZE)
        else:
            raw_q = J.q_str(req, "blob", required=True, max_len=2 * MAX_ENVELOPE_SIZE)
            blob = J.parse_hex(raw_q, "blob", MAX_ENVELOPE_SIZE)
        try:
            tx = Transaction.FromString(blob)
        except DecodeError as e:
            raise bad(f"blob is not a serialized Transaction: {e}") from None
        return J.ok({"hash": hashlib.sha256(blob).hexdigest(), "transaction": message_json(tx)})

    @_api
    async def call_contract(_: web.Request) -> web.Response:
        raise ApiError(E.CONTRACTS_UNSUPPORTED, "contracts are not supported on this network yet")

    # -- proofs ------------------------------------------------------------------------
    @_api
    async def get_transaction_proof(req: web.Request) -> web.Response:
        h = J.q_hash(req)
        assert h is not None
        return J.ok(await proofs.transaction_proof(node, h))

    @_api
    async def get_account_proof(req: web.Request) -> web.Response:
        return J.ok(await proofs.account_proof(node, J.q_address(req)))

    r.add_get("/getAccount", get_account)
    r.add_get("/getAccountBase", get_account_base)
    r.add_get("/getGenesisAccount", get_genesis_account)
    r.add_get("/getAccountAssets", get_account_assets)
    r.add_get("/getAccountMetaData", get_account_metadata)
    r.add_get("/getTransactionHistory", get_transaction_history)
    r.add_get("/getTransactionCache", get_transaction_cache)
    r.add_post("/submitTransaction", submit_transaction)
    r.add_post("/testTransaction", test_transaction)
    r.add_post("/getTransactionBlob", get_transaction_blob)
    r.add_get("/getTransactionFromBlob", get_transaction_from_blob)
    r.add_post("/getTransactionFromBlob", get_transaction_from_blob)
    r.add_get("/callContract", call_contract)
    r.add_post("/callContract", call_contract)
    r.add_get("/getTransactionProof", get_transaction_proof)
    r.add_get("/getAccountProof", get_account_proof)

    @web.middleware
    async def http_errors(req: web.Request, handler):  # type: ignore[no-untyped-def]
        try:
            return await handler(req)
        except web.HTTPRequestEntityTooLarge:
            lim = node.cfg.api.max_body_bytes
            return J.error(E.INVALID_PARAMETER, f"request body is larger than {lim} bytes ([api] max_body_bytes)",
                           status=413)
        except web.HTTPMethodNotAllowed as e:
            return J.error(E.INVALID_PARAMETER, f"{req.method} is not allowed on {req.path}; use {', '.join(sorted(e.allowed_methods))}",
                           status=405)
        except web.HTTPNotFound:
            return J.error(E.NOT_EXIST, f"no route {req.path}", status=404)
        except web.HTTPException as e:
            if e.status < 400:
                raise
            return J.error(E.INVALID_PARAMETER, f"HTTP {e.status}: {e.reason}", status=e.status)
        except Exception as e:  # noqa: BLE001 - a request must never take the node down
            log.exception("HTTP %s %s failed", req.method, req.path)
            return J.error(E.INTERNAL_ERROR, f"internal error: {type(e).__name__}", status=500)

    app.middlewares.append(http_errors)

    async def _cleanup(_: web.Application) -> None:
        ingress.close()

    app.on_cleanup.append(_cleanup)
