"""Parsing the sizes users type in flags (``--memory 32m``, ``--shm-size 1g``, ``--chunk-size 5MB``)."""

from __future__ import annotations

import re

from core.errors import InvalidArgument

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?b?)\s*$", re.IGNORECASE)


def parse_bytes(text: str) -> int:
    """docker's RAMInBytes: binary multiples, suffix b/k/m/g/t/p with optional "b"/"ib"."""
    m = _SIZE.match(text)
    if not m:
        raise InvalidArgument(f"invalid size: '{text}'")  # docker's words (go-units' RAMInBytes)
    number = float(m.group(1))
    power = " kmgtp".index(m.group(2).lower() or " ")
    return int(number * (1024**power))
