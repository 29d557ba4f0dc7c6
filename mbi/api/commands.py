"""`mbi verify-proof` and `mbi tx`: the API's command-line tools (registered in mbi/cli.py)."""
from __future__ import annotations

import argparse
import json
import sys


def _cmd_verify_proof(args: argparse.Namespace) -> int:
    from mbi.api.verify import ProofError, verify_proof
    from mbi.ledger.genesis import Genesis, GenesisError

    try:
        genesis = Genesis.load(args.genesis)
    except (OSError, GenesisError, ValueError) as e:
        print(f"verify-proof: {args.genesis}: {e}", file=sys.stderr)
        return 2
    try:
        with open(args.file) as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        print(f"verify-proof: {args.file}: {e}", file=sys.stderr)
        return 2
    # accept the whole API answer or just its result
    if isinstance(doc, dict) and "result" in doc and "kind" not in doc:
        doc = doc["result"]
    try:
        summary = verify_proof(doc, genesis)
    except ProofError as e:
        print(f"INVALID: {e}", file=sys.stderr)
        return 1
    print(f"valid: {summary}")
    return 0


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser("verify-proof", help="check a saved /getTransactionProof or /getAccountProof answer offline")
    p.add_argument("file", help="the proof (JSON, the API answer or its result)")
    p.add_argument("--genesis", required=True, help="the network's genesis.json (its validator set)")
    p.set_defaults(fn=_cmd_verify_proof)
    from mbi.api.txcli import register as register_tx

    register_tx(sub)
