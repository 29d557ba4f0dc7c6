"""Structured logs: plain text or JSON lines, with height, round and peer where they apply.

Callers pass context as `extra={"height": h, "round": r, "peer": p}`; the formatter adds
whichever are present. The node also stamps its name on every line.
"""
from __future__ import annotations

import json
import logging
import sys
import time

_CONTEXT = ("height", "round", "peer")


class JsonFormatter(logging.Formatter):
    def __init__(self, node: str) -> None:
        super().__init__()
        self.node = node

    def format(self, record: logging.LogRecord) -> str:
        out = {"ts": round(record.created, 6), "level": record.levelname.lower(), "node": self.node,
               "logger": record.name, "msg": record.getMessage()}
        for k in _CONTEXT:
            v = getattr(record, k, None)
            if v is not None:
                out[k] = v
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, separators=(",", ":"))


class TextFormatter(logging.Formatter):
    def __init__(self, node: str) -> None:
        super().__init__()
        self.node = node

    def format(self, record: logging.LogRecord) -> str:
        t = time.strftime("%H:%M:%S", time.localtime(record.created)) + f".{int(record.msecs):03d}"
        ctx = " ".join(f"{k}={getattr(record, k)}" for k in _CONTEXT if getattr(record, k, None) is not None)
        line = f"{t} {record.levelname:<7} {self.node} {record.getMessage()}"
        if ctx:
            line += f" [{ctx}]"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def setup(fmt: str, level: str, node: str, stream=None) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter(node) if fmt == "json" else TextFormatter(node))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(getattr(logging, level.upper()))
