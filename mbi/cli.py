"""The ``mbi`` command line.

What exists today: version and CPU/kernel report, and key management in Zetrix's
encodings. The node commands (init, start, devnet, tx, status, bench e2e) arrive with
the node.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import NoReturn, Sequence

from mbi import __version__


def _cmd_version(_: argparse.Namespace) -> int:
    print(f"mbi-core {__version__}")
    return 0


def _cmd_cpu(_: argparse.Namespace) -> int:
    import core_ext

    print(json.dumps(core_ext.cpu_features(), indent=2))
    return 0


def _write_private(path: str, payload: dict[str, str], force: bool) -> None:
    """Create ``path`` with mode 0600 from the start (no window where others can read)."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if force else os.O_EXCL)
    fd = os.open(path, flags, 0o600)
    # Before writing: O_CREAT's mode is masked by umask, and an existing file (--force)
    # keeps its own mode, so the key would otherwise land in a readable file first.
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(payload, f, indent=2)
        f.write("\n")


def _cmd_keys_new(args: argparse.Namespace) -> int:
    from mbi.crypto import KeyPair

    kp = KeyPair.generate()
    public = {"address": kp.address, "public_key": kp.encoded_public_key}
    if args.out:
        try:
            _write_private(args.out, {**public, "private_key": kp.encoded_private_key}, args.force)
        except FileExistsError:
            print(f"mbi: {args.out} exists; pass --force to overwrite it", file=sys.stderr)
            return 1
        except OSError as e:
            print(f"mbi: cannot write {args.out}: {e.strerror or e}", file=sys.stderr)
            return 1
        print(json.dumps({**public, "key_file": args.out}, indent=2))
    else:
        print(json.dumps({**public, "private_key": kp.encoded_private_key}, indent=2))
    return 0


def _cmd_keys_inspect(args: argparse.Namespace) -> int:
    from mbi.crypto import (KeyFormatError, KeyPair, address_from_public_key,
                            decode_address, decode_public_key)

    s: str = args.key.strip()
    try:
        if s.startswith("priv"):
            kp = KeyPair.from_private_key(s)
            out = {"kind": "private_key", "address": kp.address,
                   "public_key": kp.encoded_public_key}
        elif s.startswith("b001"):
            decode_public_key(s)
            out = {"kind": "public_key", "address": address_from_public_key(s)}
        else:
            decode_address(s)
            out = {"kind": "address", "address": s}
    except KeyFormatError as e:
        print(json.dumps({"error_code": e.code, "error_desc": str(e)}), file=sys.stderr)
        return 2
    print(json.dumps(out, indent=2))
    return 0


class _Parser(argparse.ArgumentParser):
    """Usage errors are one line (the issue's operator-error rule), exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="mbi", description="MBI Core node tools")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("version", help="print the version").set_defaults(fn=_cmd_version)
    sub.add_parser("cpu", help="CPU features and the code path each native kernel uses"
                   ).set_defaults(fn=_cmd_cpu)
    keys = sub.add_parser("keys", help="key management (Zetrix encodings)")
    ksub = keys.add_subparsers(dest="keys_command", required=True)
    new = ksub.add_parser("new", help="generate a key pair")
    new.add_argument("--out", help="write the key file here (JSON, mode 0600) instead of "
                                   "printing the private key")
    new.add_argument("--force", action="store_true", help="overwrite an existing --out file")
    new.set_defaults(fn=_cmd_keys_new)
    ins = ksub.add_parser("inspect", help="validate a privB… key, b001… public key or "
                                          "ZTX3… address and show what it derives")
    ins.add_argument("key")
    ins.set_defaults(fn=_cmd_keys_inspect)
    from mbi.node import commands as node_commands

    node_commands.register(sub)
    from mbi.api.commands import register as register_api  # verify-proof, tx

    register_api(sub)
    from mbi.sim.cli import add_parser as add_sim_parser

    add_sim_parser(sub)
    from mbi.benchcli import register as register_bench; register_bench(sub)  # noqa: E702 - mbi bench e2e
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.fn(args))


if __name__ == "__main__":
    sys.exit(main())
