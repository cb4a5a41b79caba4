"""Network routes: list, inspect, create, connect, disconnect, remove, prune."""

from __future__ import annotations

import contextlib
from typing import Any

from api.filters import request_filters
from api.http import ApiError, Request
from core.errors import NetworkNotFound


def _doc(req: Request, name: str) -> dict[str, Any]:
    doc = dict(req.engine.inspect_network(name))
    if not doc.get("Created"):
        doc["Created"] = "0001-01-01T00:00:00Z"  # a time docker's clients can parse (the built-in networks')
    return doc


def list_networks(req: Request) -> None:
    docs = []
    for n in req.engine.list_networks(filters=request_filters(req)):
        with contextlib.suppress(NetworkNotFound):
            docs.append(_doc(req, n.id))
    req.send_json(docs)


def inspect(req: Request) -> None:
    req.send_json(_doc(req, req.params["id"]))


def _str(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ApiError(400, f"invalid {key}: expected a string")
    return value


def _str_map(body: dict[str, Any], key: str) -> dict[str, str]:
    value = body.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ApiError(400, f"invalid {key}: expected a map of strings")
    return dict(value)


def create(req: Request) -> None:
    body = req.json_object(required=True)
    name = _str(body, "Name")
    if not name:
        raise ApiError(400, "the network needs a Name")
    # Attachable (docker-compose sets it) means nothing more than what every dockyard network allows
    for key in ("EnableIPv6", "Ingress", "ConfigOnly"):
        if body.get(key):
            raise ApiError(400, f"dockyard does not support {key} networks")
    if body.get("ConfigFrom"):
        raise ApiError(400, "dockyard does not support ConfigFrom")
    scope = _str(body, "Scope")
    if scope not in ("", "local"):
        raise ApiError(400, f"dockyard does not support the {scope} scope")
    ipam = body.get("IPAM") or {}
    if not isinstance(ipam, dict):
        raise ApiError(400, "invalid IPAM: expected an object")
    if _str(ipam, "Driver") not in ("", "default"):
        raise ApiError(400, f"dockyard does not support the IPAM driver {_str(ipam, 'Driver')!r}")
    configs = ipam.get("Config") or []
    if not isinstance(configs, list) or not all(isinstance(c, dict) for c in configs):
        raise ApiError(400, "invalid IPAM.Config: expected a list of objects")
    if len(configs) > 1:
        raise ApiError(400, "dockyard supports one IPAM config (one IPv4 subnet) a network")
    subnet = gateway = None
    if configs:
        subnet = _str(configs[0], "Subnet") or None
        gateway = _str(configs[0], "Gateway") or None
        for key in ("IPRange", "AuxiliaryAddresses"):
            if configs[0].get(key):
                raise ApiError(400, f"dockyard does not support IPAM.Config.{key}")
    existing = {n.name for n in req.engine.list_networks()}
    if name in existing:
        raise ApiError(409, f"network with name {name} already exists")
    net = req.engine.create_network(
        name,
        driver=_str(body, "Driver") or "bridge",
        subnet=subnet,
        gateway=gateway,
        internal=bool(body.get("Internal")),
        labels=_str_map(body, "Labels"),
        options=_str_map(body, "Options"),
    )
    req.send_json({"Id": net.id, "Warning": ""}, 201)


def connect(req: Request) -> None:
    body = req.json_object(required=True)
    container = _str(body, "Container")
    if not container:
        raise ApiError(400, "the container to connect is needed (Container)")
    ep = body.get("EndpointConfig") or {}
    if not isinstance(ep, dict):
        raise ApiError(400, "invalid EndpointConfig: expected an object")
    ipam = ep.get("IPAMConfig") or {}
    if not isinstance(ipam, dict):
        raise ApiError(400, "invalid EndpointConfig.IPAMConfig: expected an object")
    aliases = ep.get("Aliases") or []
    if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
        raise ApiError(400, "invalid EndpointConfig.Aliases: expected a list of strings")
    for key in ("Links", "DriverOpts", "MacAddress"):
        if ep.get(key):
            raise ApiError(400, f"dockyard does not support EndpointConfig.{key}")
    if ipam.get("IPv6Address"):
        raise ApiError(400, "dockyard does not support IPv6 addresses")
    req.engine.connect_network(
        req.params["id"], container, aliases=list(aliases), ip=_str(ipam, "IPv4Address") or None
    )
    req.send_empty(200)


def disconnect(req: Request) -> None:
    body = req.json_object(required=True)
    container = _str(body, "Container")
    if not container:
        raise ApiError(400, "the container to disconnect is needed (Container)")
    req.engine.disconnect_network(req.params["id"], container, force=bool(body.get("Force")))
    req.send_empty(200)


def remove(req: Request) -> None:
    req.engine.remove_network(req.params["id"])
    req.send_empty(204)


def prune(req: Request) -> None:
    req.send_json({"NetworksDeleted": req.engine.prune_networks(filters=request_filters(req)) or None})


ROUTES = [
    ("GET", "/networks", list_networks),
    ("POST", "/networks/create", create),
    ("POST", "/networks/prune", prune),
    ("GET", "/networks/{id}", inspect),
    ("POST", "/networks/{id}/connect", connect),
    ("POST", "/networks/{id}/disconnect", disconnect),
    ("DELETE", "/networks/{id}", remove),
]
