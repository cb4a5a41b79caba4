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


def log_attrs(opts: dict[str, str], labels: dict[str, str], env: list[str]) -> dict[str, str]:
    """The ``attrs`` the json-file driver writes on every record (docker's logger Info.ExtraAttributes):
    the labels named by ``labels=`` or matched by ``labels-regex=``, the Config.Env variables named by
    ``env=`` or matched by ``env-regex=``."""
    attrs: dict[str, str] = {}
    for key in filter(None, opts.get("labels", "").split(",")):
        if key in labels:
            attrs[key] = labels[key]
    # docker applies labels-regex only when labels= is set too (a quirk of its code, kept)
    if opts.get("labels-regex") and opts.get("labels"):
        rx = _regex(opts["labels-regex"], "labels-regex")
        attrs.update({k: v for k, v in labels.items() if rx.search(k)})
    values = {}
    for item in env:
        k, sep, v = item.partition("=")
        if sep:
            values[k] = v
    for key in filter(None, opts.get("env", "").split(",")):
        if key in values:
            attrs[key] = values[key]
    if opts.get("env-regex"):
        rx = _regex(opts["env-regex"], "env-regex")
        attrs.update({k: v for k, v in values.items() if rx.search(k)})
    return attrs


def _regex(text: str, what: str) -> re.Pattern[str]:
    try:
        return re.compile(text)
    except re.error as err:
        raise InvalidArgument(f"invalid {what} {text!r}: {err}") from None
