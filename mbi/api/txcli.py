"""`mbi tx pay|issue|send-asset|get`: a minimal wallet over the HTTP API.

Signs with a key file in the `mbi keys new --out` / node_key.json format, takes the nonce
from /getAccount and the chain id from /hello, quotes the fee with /testTransaction
(unless --fee-limit), submits, prints the hash, then waits for the result (unless
--no-wait) and prints it. Exit status: 0 when the transaction succeeded (or was admitted,
with --no-wait), 1 when it was refused or failed, 2 for a usage or connection problem.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from mbi import argtypes as A
from mbi.types.zetrix_protocol_pb2 import Operation, Transaction


class TxCliError(Exception):
    pass


class TxRefused(Exception):
    """The node refused the transaction (its fee quote or its submission)."""


def _http(url: str, path: str, body: Any = None, timeout: float = 10.0) -> Any:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url.rstrip("/") + path, data=data, method="POST" if data is not None else "GET",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return json.loads(r.read())
    except urllib.error.HTTPError as e:
        try:
            return json.loads(e.read())
        except ValueError:
            raise TxCliError(f"{url}{path}: HTTP {e.code}") from None
    except (OSError, ValueError) as e:
        raise TxCliError(f"{url}{path}: {e}") from None


def _key(path: str):  # type: ignore[no-untyped-def]
    from mbi.node.home import HomeError, load_key

    try:
        return load_key(path)
    except HomeError as e:
        raise TxCliError(str(e)) from None


def _ops(args: argparse.Namespace) -> list[Operation]:
    op = Operation()
    if args.tx_command == "pay":
        op.type = Operation.PAY_COIN
        op.pay_coin.dest_address = args.to
        op.pay_coin.amount = args.amount
    elif args.tx_command == "issue":
        op.type = Operation.ISSUE_ASSET
        op.issue_asset.code = args.code
        op.issue_asset.amount = args.amount
    else:
        op.type = Operation.PAY_ASSET
        op.pay_asset.dest_address = args.to
        op.pay_asset.asset.key.code = args.code
        op.pay_asset.asset.key.issuer = args.issuer
        op.pay_asset.asset.amount = args.amount
    return [op]


def build_and_send(url: str, kp, ops: list[Operation], *, fee_limit: int | None = None,  # type: ignore[no-untyped-def]
                   gas_price: int | None = None, nonce: int | None = None) -> tuple[str, dict[str, Any]]:
    """(hash, submit result) for a transaction of `ops` signed by `kp`."""
    hello = _http(url, "/hello")
    chain_id = int(hello["chain_id"])
    if nonce is None:
        acct = _http(url, f"/getAccount?address={urllib.parse.quote(kp.address)}")
        if acct.get("error_code") != 0:
            raise TxCliError(f"account {kp.address}: {acct.get('error_desc')}")
        nonce = int(acct["result"]["nonce"]) + 1
    tx = Transaction(source_address=kp.address, nonce=nonce, operations=ops, chain_id=chain_id)
    if gas_price is not None:
        tx.gas_price = gas_price
    if fee_limit is None:
        from mbi.api.txjson import message_json

        q = _http(url, "/testTransaction", {"items": [{"transaction_json": message_json(tx), "signature_number": 1}]})
        if q.get("error_code") != 0:
            raise TxRefused(f"{q.get('error_code')} {q.get('error_desc')} (fee quote)")
        quoted = q["result"]["txs"][0]["transaction_env"]["transaction"]
        tx.fee_limit, tx.gas_price = int(quoted["fee_limit"]), int(quoted["gas_price"])
    else:
        tx.fee_limit = fee_limit
        if gas_price is None:
            led = _http(url, "/getLedger?with_fee=true")
            tx.gas_price = int(led["result"]["fees"]["gas_price"])
    blob = tx.SerializeToString()
    item = {"transaction_blob": blob.hex(),
            "signatures": [{"public_key": kp.encoded_public_key, "sign_data": kp.sign(blob).hex()}]}
    r = _http(url, "/submitTransaction", {"items": [item]})
    results = r.get("results") or [{"error_code": r.get("error_code"), "error_desc": r.get("error_desc"), "hash": ""}]
    return results[0].get("hash", ""), results[0]


def wait_for(url: str, h: str, timeout: float) -> dict[str, Any] | None:
    end = time.time() + timeout
    while time.time() < end:
        got = _http(url, f"/getTransactionHistory?hash={h}")
        if got.get("error_code") == 0:
            return got["result"]["transactions"][0]
        time.sleep(0.2)
    return None


def _cmd_tx(args: argparse.Namespace) -> int:
    try:
        if args.tx_command == "get":
            got = _http(args.url, f"/getTransactionHistory?hash={urllib.parse.quote(args.hash)}")
            if got.get("error_code") != 0:
                pending = _http(args.url, f"/getTransactionCache?hash={urllib.parse.quote(args.hash)}")
                if pending.get("error_code") == 0:
                    print(json.dumps(pending["result"]["transactions"][0], indent=2))
                    return 0
                print(f"tx: {got.get('error_code')} {got.get('error_desc')}", file=sys.stderr)
                return 1
            print(json.dumps(got["result"]["transactions"][0], indent=2))
            return 0
        kp = _key(args.key)
        h, res = build_and_send(args.url, kp, _ops(args), fee_limit=args.fee_limit, gas_price=args.gas_price,
                                nonce=args.nonce)
        if res.get("error_code") != 0:
            print(f"refused: {res.get('error_code')} {res.get('error_desc')}", file=sys.stderr)
            if h:
                print(h)
            return 1
        print(h, flush=True)
        if args.no_wait:
            return 0
        rec = wait_for(args.url, h, args.timeout)
        if rec is None:
            print(f"tx: not executed within {args.timeout:g} s (still pending?)", file=sys.stderr)
            return 1
        print(json.dumps({"ledger_seq": rec["ledger_seq"], "error_code": rec["error_code"],
                          "error_desc": rec["error_desc"], "actual_fee": rec["actual_fee"]}))
        return 0 if rec["error_code"] == 0 else 1
    except TxRefused as e:
        print(f"refused: {e}", file=sys.stderr)
        return 1
    except TxCliError as e:
        print(f"tx: {e}", file=sys.stderr)
        return 2


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser("tx", help="build, sign, submit and follow a transaction over the HTTP API")
    tsub = p.add_subparsers(dest="tx_command", required=True)

    def common(q: argparse.ArgumentParser, signing: bool = True) -> None:
        q.add_argument("--url", default="http://127.0.0.1:18002", help="the node's HTTP address")
        if signing:
            q.add_argument("--key", required=True, help="key file (mbi keys new --out / node_key.json)")
            q.add_argument("--fee-limit", type=A.positive_int, help="default: the node's /testTransaction quote")
            q.add_argument("--gas-price", type=A.positive_int)
            q.add_argument("--nonce", type=A.positive_int, help="default: the account's nonce + 1")
            q.add_argument("--no-wait", action="store_true", help="print the hash and return once admitted")
            q.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for the result")
        q.set_defaults(fn=_cmd_tx)

    q = tsub.add_parser("pay", help="pay coin (ZETA)")
    q.add_argument("--to", required=True)
    q.add_argument("--amount", type=A.positive_int, required=True, help="ZETA (1 ZETRIX = 1,000,000 ZETA)")
    common(q)
    q = tsub.add_parser("issue", help="issue an asset")
    q.add_argument("--code", required=True)
    q.add_argument("--amount", type=A.positive_int, required=True)
    common(q)
    q = tsub.add_parser("send-asset", help="pay an asset")
    q.add_argument("--to", required=True)
    q.add_argument("--code", required=True)
    q.add_argument("--issuer", required=True)
    q.add_argument("--amount", type=A.positive_int, required=True)
    common(q)
    q = tsub.add_parser("get", help="show a transaction (executed or pending)")
    q.add_argument("hash")
    common(q, signing=False)
