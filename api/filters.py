"""The ``filters`` query parameter, parsed in one place: Docker's JSON map of key to a list of values
(``{"label": ["a=b"]}``) or, from older clients, to a map of value to true (``{"label": {"a=b": true}}``)."""

from __future__ import annotations

import json

from api.http import ApiError, Request


def parse_filters(text: str) -> dict[str, list[str]]:
    if not text.strip():
        return {}
    try:
        raw = json.loads(text)
    except ValueError:
        raise ApiError(400, "invalid filters: not JSON") from None
    if not isinstance(raw, dict):
        raise ApiError(400, "invalid filters: expected a JSON object of key to values")
    out: dict[str, list[str]] = {}
    for key, value in raw.items():
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            out[key] = list(value)
        elif isinstance(value, dict) and all(isinstance(v, bool) for v in value.values()):
            out[key] = [k for k, on in value.items() if on]
        elif isinstance(value, str):
            out[key] = [value]
        else:
            raise ApiError(400, f"invalid filter {key!r}: expected a list of strings")
    return out


def request_filters(req: Request) -> dict[str, list[str]]:
    return parse_filters(req.q("filters"))


def label_matches(labels: dict[str, str], wanted: list[str]) -> bool:
    """Docker's ``label`` filter: every ``KEY`` or ``KEY=VALUE`` given must be on the object."""
    for item in wanted:
        key, eq, value = item.partition("=")
        if key not in labels or (eq and labels[key] != value):
            return False
    return True
