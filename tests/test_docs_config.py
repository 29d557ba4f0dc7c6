"""docs/operator-guide.md documents every config.toml key (and no key that does not exist)."""
from __future__ import annotations

import os
import re
from dataclasses import fields

from mbi.node import config as C

GUIDE = os.path.join(os.path.dirname(__file__), "..", "docs", "operator-guide.md")


def test_every_config_key_is_in_the_operator_guide():
    text = open(GUIDE, encoding="utf-8").read()
    documented: dict[str, set[str]] = {}
    section = None
    for line in text.splitlines():
        m = re.match(r"^\*\*\[(\w+)\]\*\*$", line)
        if m:
            section = m.group(1)
            documented[section] = set()
            continue
        m = re.match(r"^\| `(\w+)` \|", line)
        if m and section is not None:
            documented[section].add(m.group(1))
    for name, cls in C.SECTIONS.items():
        keys = {f.name for f in fields(cls)}
        assert documented.get(name) == keys, f"[{name}] in docs/operator-guide.md: {documented.get(name)} vs {keys}"
