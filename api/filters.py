"""The ``filters`` query parameter, parsed in one place (the interface's parser: Docker's JSON map of key to a
list of values, ``{"label": ["a=b"]}``, or from older clients to a map of value to true); a bad one is a 400
with docker's message."""

from __future__ import annotations

from api.http import Request
from core.interface import filters_from_json


def request_filters(req: Request) -> dict[str, list[str]]:
    return filters_from_json(req.q("filters"))
