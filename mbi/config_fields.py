"""Typed, range-checked dataclass fields for configuration sections.

A section is a frozen dataclass whose fields are declared with ``setting(...)``;
``check_section`` validates an instance (called from ``__post_init__``) and raises
``FieldError`` naming the field. Annotations are read as strings (``from __future__
import annotations``): int, float, str, bool and tuple[str, ...] are supported.
"""
from __future__ import annotations

import math
from dataclasses import field, fields
from typing import Any


class FieldError(ValueError):
    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}")
        self.name = name
        self.detail = message


def setting(default: Any, *, min: float | None = None, max: float | None = None,
            choices: tuple[str, ...] | None = None, doc: str = "") -> Any:
    return field(default=default, metadata={"min": min, "max": max, "choices": choices, "doc": doc})


def _kind(obj: Any, ann: Any) -> str:
    return ann if isinstance(ann, str) else getattr(ann, "__name__", str(ann))


def coerce(ann: str, value: Any, name: str) -> Any:
    """Check a raw value (e.g. from TOML) against a field annotation; return the typed value."""
    if ann == "bool":
        if type(value) is not bool:
            raise FieldError(name, f"must be true or false, got {value!r}")
        return value
    if ann == "int":
        if type(value) is not int:
            raise FieldError(name, f"must be an integer, got {value!r}")
        return value
    if ann == "float":
        if type(value) not in (int, float) or not math.isfinite(value):
            raise FieldError(name, f"must be a finite number, got {value!r}")
        return float(value)
    if ann == "str":
        if not isinstance(value, str):
            raise FieldError(name, f"must be a string, got {value!r}")
        return value
    if ann == "tuple[str, ...]":
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            raise FieldError(name, f"must be a list of strings, got {value!r}")
        return tuple(value)
    raise TypeError(f"{name}: unsupported setting type {ann}")


def check_section(obj: Any, prefix: str = "") -> None:
    """Validate every field of a dataclass instance; coerce ints given for floats."""
    for f in fields(obj):
        name = prefix + f.name
        ann = _kind(obj, f.type)
        value = coerce(ann, getattr(obj, f.name), name)
        if value is not getattr(obj, f.name):
            object.__setattr__(obj, f.name, value)
        md = f.metadata
        lo, hi, choices = md.get("min"), md.get("max"), md.get("choices")
        if lo is not None and value < lo:
            raise FieldError(name, f"must be >= {lo}, got {value!r}")
        if hi is not None and value > hi:
            raise FieldError(name, f"must be <= {hi}, got {value!r}")
        if choices is not None and value not in choices:
            raise FieldError(name, f"must be one of {', '.join(choices)}, got {value!r}")
