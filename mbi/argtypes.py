"""Checked argparse value types shared by the `mbi` subcommands (one-line errors)."""
from __future__ import annotations

import argparse
from typing import Callable, TypeVar

N = TypeVar("N", int, float)


def parsed(conv: Callable[[str], N], noun: str, ok: Callable[[N], bool], message: str) -> Callable[[str], N]:
    """A type= for argparse: convert with `conv`, then require `ok(value)`."""
    def parse(text: str) -> N:
        try:
            v = conv(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not {noun}: {text!r}") from None
        if not ok(v):
            raise argparse.ArgumentTypeError(message.format(v=v))
        return v
    return parse


port = parsed(int, "a port number", lambda v: 0 <= v <= 65535, "port must be 0-65535, got {v}")
positive_int = parsed(int, "an integer", lambda v: v >= 1, "must be at least 1, got {v}")
positive_float = parsed(float, "a number", lambda v: v > 0, "must be positive, got {v}")
nonneg_float = parsed(float, "a number", lambda v: v >= 0, "must be >= 0, got {v}")
fraction = parsed(float, "a number", lambda v: 0 <= v < 1, "must be in [0, 1), got {v}")
