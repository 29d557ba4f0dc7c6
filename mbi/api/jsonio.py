"""Zetrix JSON conventions: `{"error_code", "error_desc", "result"}`, snake_case fields,
int64 as JSON numbers, bytes as lowercase hex. Parameter parsing that turns every bad
input into an ApiError with a specific code, never an exception the client sees as 500.
"""
from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from mbi.crypto.keys import is_address
from mbi.ledger import errors as E

INT64_MAX = (1 << 63) - 1


class ApiError(Exception):
    """A request the API answers with a Zetrix error code (HTTP 200 unless `status`)."""

    def __init__(self, code: int, desc: str, status: int = 200) -> None:
        super().__init__(code, desc)
        self.code = code
        self.desc = desc
        self.status = status


def dumps(body: Any) -> str:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


def respond(body: Any, status: int = 200) -> web.Response:
    return web.Response(text=dumps(body), status=status, content_type="application/json")


def ok(result: Any) -> web.Response:
    return respond({"error_code": 0, "error_desc": "", "result": result})


def error(code: int, desc: str, status: int = 200, **extra: Any) -> web.Response:
    return respond({"error_code": code, "error_desc": desc, "result": None, **extra}, status)


def not_found(desc: str) -> ApiError:
    return ApiError(E.NOT_EXIST, desc)


def bad(desc: str) -> ApiError:
    return ApiError(E.INVALID_PARAMETER, desc)


# -- query parameters -------------------------------------------------------------------
def q_str(req: web.Request, name: str, required: bool = False, max_len: int = 1024) -> str | None:
    v = req.query.get(name)
    if v is None or v == "":
        if required:
            raise bad(f"missing parameter {name}")
        return None
    if len(v) > max_len:
        raise bad(f"parameter {name} is longer than {max_len} characters")
    return v


def q_int(req: web.Request, name: str, default: int | None = None, lo: int = 0, hi: int = INT64_MAX,
          required: bool = False) -> int | None:
    v = req.query.get(name)
    if v is None or v == "":
        if required:
            raise bad(f"missing parameter {name}")
        return default
    return parse_int(v, name, lo, hi)


def q_bool(req: web.Request, name: str) -> bool:
    v = req.query.get(name, "false").lower()
    if v in ("true", "1"):
        return True
    if v in ("false", "0", ""):
        return False
    raise bad(f"parameter {name} must be true or false, got {v[:32]!r}")


def q_address(req: web.Request, name: str = "address") -> str:
    a = q_str(req, name, required=True, max_len=64)
    assert a is not None
    if not is_address(a):
        raise ApiError(E.INVALID_ADDRESS, f"{name} {E.show(a)} is not a valid address")
    return a


def q_hash(req: web.Request, name: str = "hash", required: bool = True) -> bytes | None:
    v = q_str(req, name, required=required, max_len=64)
    if v is None:
        return None
    return parse_hash(v, name)


def parse_hash(v: object, name: str) -> bytes:
    if not isinstance(v, str) or len(v) != 64:
        raise bad(f"{name} must be 64 hex characters")
    try:
        return bytes.fromhex(v)
    except ValueError:
        raise bad(f"{name} is not hex") from None


def parse_int(v: object, name: str, lo: int = 0, hi: int = INT64_MAX) -> int:
    """An integer given as a JSON number or a decimal string (the SDKs send both)."""
    if isinstance(v, bool):
        raise bad(f"{name} must be an integer, got a boolean")
    if isinstance(v, int):
        n = v
    elif isinstance(v, str):
        s = v[1:] if v.startswith("-") else v
        if not s.isdigit() or not s.isascii() or len(s) > 19:
            raise bad(f"{name} must be an integer, got {E.show(v, 32)}")
        n = int(v)
    else:
        raise bad(f"{name} must be an integer, got {type(v).__name__}")
    if not lo <= n <= hi:
        raise bad(f"{name} must be in [{lo}, {hi}], got {n}")
    return n


def parse_hex(v: object, name: str, max_bytes: int) -> bytes:
    if not isinstance(v, str):
        raise bad(f"{name} must be a hex string, got {type(v).__name__}")
    if len(v) > 2 * max_bytes:
        raise ApiError(E.TX_SIZE_TOO_BIG, f"{name} is longer than {max_bytes} bytes")
    if len(v) % 2:
        raise bad(f"{name} has an odd number of hex digits")
    try:
        return bytes.fromhex(v)
    except ValueError:
        raise bad(f"{name} is not hex") from None


async def json_body(req: web.Request) -> Any:
    """The parsed JSON body; ApiError 2 for an empty or malformed one (413 is raised by
    aiohttp for a body over client_max_size and answered by the error middleware)."""
    raw = await req.read()
    if not raw:
        raise bad("request body is empty; expected JSON")
    try:
        return json.loads(raw)
    except UnicodeDecodeError:
        raise bad("request body is not UTF-8") from None
    except (ValueError, RecursionError) as e:
        raise bad(f"request body is not JSON: {str(e)[:120]}") from None
