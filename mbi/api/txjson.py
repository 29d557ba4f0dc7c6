"""Protobuf messages to and from Zetrix JSON.

Out: snake_case field names, int64 as JSON numbers, bytes as lowercase hex, enums as
numbers, fields at their default value left out (as proto3 JSON does).

In (``/getTransactionBlob``, ``/testTransaction``): the same names; integers as numbers
or decimal strings; bytes as lowercase hex, or, with ``text_bytes=True``, as text taken
as its UTF-8 bytes (what zetrix-sdk-nodejs sends in ``transaction_json.metadata``).
Unknown fields, wrong types and out-of-range integers are refused with a path naming the
field, so the client learns exactly what is wrong.
"""
from __future__ import annotations

from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from mbi.api.jsonio import ApiError, bad
from mbi.ledger import errors as E

_INT_TYPES = {FieldDescriptor.TYPE_INT64: (-(1 << 63), (1 << 63) - 1),
              FieldDescriptor.TYPE_INT32: (-(1 << 31), (1 << 31) - 1),
              FieldDescriptor.TYPE_UINT64: (0, (1 << 64) - 1),
              FieldDescriptor.TYPE_UINT32: (0, (1 << 32) - 1),
              FieldDescriptor.TYPE_SINT64: (-(1 << 63), (1 << 63) - 1),
              FieldDescriptor.TYPE_SINT32: (-(1 << 31), (1 << 31) - 1)}
_MAX_DEPTH = 8
_MAX_ITEMS = 10_000


def _repeated(f: FieldDescriptor) -> bool:
    return f.is_repeated if hasattr(f, "is_repeated") else f.label == FieldDescriptor.LABEL_REPEATED


def message_json(m: Message) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f, v in m.ListFields():
        if _repeated(f):
            out[f.name] = [_value_json(f, x) for x in v]
        else:
            out[f.name] = _value_json(f, v)
    return out


def _value_json(f: FieldDescriptor, v: Any) -> Any:
    t = f.type
    if t == FieldDescriptor.TYPE_MESSAGE:
        return message_json(v)
    if t == FieldDescriptor.TYPE_BYTES:
        return bytes(v).hex()
    return v  # ints, bools, strings, enums (numbers)


def parse_message(cls: type[Message], data: Any, *, text_bytes: bool = False, path: str = "") -> Message:
    m = cls()
    _fill(m, cls.DESCRIPTOR, data, text_bytes, path or cls.DESCRIPTOR.name, 0)
    return m


def _fill(m: Message, d: Descriptor, data: Any, text_bytes: bool, path: str, depth: int) -> None:
    if depth > _MAX_DEPTH:
        raise bad(f"{path}: nested too deeply")
    if not isinstance(data, dict):
        raise bad(f"{path} must be a JSON object, got {type(data).__name__}")
    fields = d.fields_by_name
    for k, v in data.items():
        f = fields.get(k)
        if f is None:
            raise bad(f"{path}: unknown field {E.show(str(k), 48)}")
        if v is None:
            continue
        p = f"{path}.{k}"
        if _repeated(f):
            if not isinstance(v, list):
                raise bad(f"{p} must be a list, got {type(v).__name__}")
            if len(v) > _MAX_ITEMS:
                raise bad(f"{p} has more than {_MAX_ITEMS} items")
            target = getattr(m, k)
            for i, x in enumerate(v):
                if f.type == FieldDescriptor.TYPE_MESSAGE:
                    _fill(target.add(), f.message_type, x, text_bytes, f"{p}[{i}]", depth + 1)
                else:
                    target.append(_scalar(f, x, text_bytes, f"{p}[{i}]"))
        elif f.type == FieldDescriptor.TYPE_MESSAGE:
            _fill(getattr(m, k), f.message_type, v, text_bytes, p, depth + 1)
        else:
            setattr(m, k, _scalar(f, v, text_bytes, p))


def _scalar(f: FieldDescriptor, v: Any, text_bytes: bool, p: str) -> Any:
    t = f.type
    if t in _INT_TYPES or t == FieldDescriptor.TYPE_ENUM:
        lo, hi = _INT_TYPES.get(t, (-(1 << 31), (1 << 31) - 1))
        if isinstance(v, bool):
            raise bad(f"{p} must be an integer, got a boolean")
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        if isinstance(v, str):
            s = v[1:] if v.startswith("-") else v
            if not (s.isascii() and s.isdigit()) or len(s) > 20:
                raise bad(f"{p} must be an integer, got {E.show(v, 32)}")
            v = int(v)
        if not isinstance(v, int):
            raise bad(f"{p} must be an integer, got {type(v).__name__}")
        if not lo <= v <= hi:
            raise ApiError(E.MATH_OVERFLOW if abs(v) > hi else E.INVALID_PARAMETER, f"{p} = {v} is out of range")
        if t == FieldDescriptor.TYPE_ENUM and f.enum_type.values_by_number.get(v) is None:
            raise bad(f"{p}: {v} is not a known {f.enum_type.name}")
        return v
    if t == FieldDescriptor.TYPE_BOOL:
        if not isinstance(v, bool):
            raise bad(f"{p} must be true or false")
        return v
    if t == FieldDescriptor.TYPE_STRING:
        if not isinstance(v, str):
            raise bad(f"{p} must be a string, got {type(v).__name__}")
        try:
            v.encode("utf-8")
        except UnicodeEncodeError:
            raise bad(f"{p} is not valid UTF-8 text") from None
        return v
    if t == FieldDescriptor.TYPE_BYTES:
        if not isinstance(v, str):
            raise bad(f"{p} must be a string, got {type(v).__name__}")
        if text_bytes:
            try:
                return v.encode("utf-8")
            except UnicodeEncodeError:
                raise bad(f"{p} is not valid UTF-8 text") from None
        if len(v) % 2:
            raise bad(f"{p} has an odd number of hex digits")
        try:
            return bytes.fromhex(v)
        except ValueError:
            raise bad(f"{p} is not hex") from None
    raise bad(f"{p}: unsupported field type")  # not reached for the Zetrix protocol
