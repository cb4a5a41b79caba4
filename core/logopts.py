"""``--log-opt`` values for the json-file driver, checked as dockerd checks them. Apart from core.logs so
that ``create`` can check them without importing the log reader and writer."""

from __future__ import annotations

import re

from core.errors import InvalidArgument

# docker's go-units FromHumanSize: decimal multipliers, an optional "i" and "b" are tolerated
_HUMAN_SIZE = re.compile(r"(\d+(?:\.\d+)?) ?([kKmMgGtTpP])?[iI]?[bB]?")
_DECIMAL = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12, "p": 10**15}
LOG_OPTS = ("max-size", "max-file", "compress", "labels", "labels-regex", "env", "env-regex", "tag")


def parse_log_opts(opts: dict[str, str]) -> tuple[int | None, int]:
    """``(max_size, max_file)`` from ``--log-opt`` values, checked as dockerd checks them."""
    for key in opts:
        if key not in LOG_OPTS:
            raise InvalidArgument(f"unknown log opt '{key}' for json-file log driver")
    max_size: int | None = None
    if "max-size" in opts:
        m = _HUMAN_SIZE.fullmatch(opts["max-size"].strip())
        if m is None:
            raise InvalidArgument(f"invalid max-size {opts['max-size']!r}: use a size like 10m or 500k")
        max_size = int(float(m.group(1)) * _DECIMAL[(m.group(2) or "").lower()])
        if max_size <= 0:
            raise InvalidArgument("max-size must be a positive number")
    max_file = 1
    if "max-file" in opts:
        try:
            max_file = int(opts["max-file"])
        except ValueError:
            raise InvalidArgument(f"invalid max-file {opts['max-file']!r}: use a whole number")
        if max_file < 1:
            raise InvalidArgument("max-file cannot be less than 1")
    if opts.get("compress", "false").lower() in ("1", "t", "true"):
        raise InvalidArgument("log opt compress is not supported by dockyard's json-file driver")
    return max_size, max_file
