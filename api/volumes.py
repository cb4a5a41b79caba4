"""Volume routes: list, create, inspect, remove, prune."""

from __future__ import annotations

from typing import Any

from api.filters import label_matches, request_filters
from api.http import ApiError, Request
from core.models import Volume


def _filtered(req: Request, vols: list[Volume], filters: dict[str, list[str]]) -> list[Volume]:
    """docker's ``volume ls`` filters, applied here while ``Engine.list_volumes`` takes none."""
    users = req.engine.volume_users() if "dangling" in filters else {}
    out = []
    for v in vols:
        if "name" in filters and not any(f in v.name for f in filters["name"]):
            continue
        if "label" in filters and not label_matches(v.labels, filters["label"]):
            continue
        if "driver" in filters and v.driver not in filters["driver"]:
            continue
        if "dangling" in filters:
            want = filters["dangling"][-1].lower() in ("true", "1")
            if want != (not users.get(v.name)):
                continue
        out.append(v)
    return out


def list_volumes(req: Request) -> None:
    vols = _filtered(req, req.engine.list_volumes(), request_filters(req))
    req.send_json({"Volumes": [v.inspect() for v in vols], "Warnings": None})


def _str_map(body: dict[str, Any], key: str) -> dict[str, str]:
    value = body.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ApiError(400, f"invalid {key}: expected a map of strings")
    return dict(value)


def create(req: Request) -> None:
    body = req.json_object()
    name = body.get("Name") or None
    if name is not None and not isinstance(name, str):
        raise ApiError(400, "invalid Name: expected a string")
    driver = body.get("Driver") or "local"
    if driver != "local":
        raise ApiError(400, f"dockyard has only the local volume driver, not {driver!r}")
    if body.get("ClusterVolumeSpec"):
        raise ApiError(400, "cluster volumes (swarm) are not supported")
    if name is not None and any(v.name == name for v in req.engine.list_volumes()):
        # docker answers an existing volume of that name as created
        req.send_json(req.engine.inspect_volume(name), 201)
        return
    vol = req.engine.create_volume(
        name, labels=_str_map(body, "Labels"), options=_str_map(body, "DriverOpts")
    )
    req.send_json(req.engine.inspect_volume(vol.name), 201)


def inspect(req: Request) -> None:
    req.send_json(req.engine.inspect_volume(req.params["name"]))


def remove(req: Request) -> None:
    req.engine.remove_volume(req.params["name"], force=req.qbool("force"))
    req.send_empty(204)


def prune(req: Request) -> None:
    filters = request_filters(req)
    all_volumes = filters.pop("all", ["false"])[-1].lower() in ("true", "1")
    if filters:
        raise ApiError(400, f"volume prune filters are not supported yet: {', '.join(sorted(filters))}")
    names, freed = req.engine.prune_volumes(all=all_volumes)
    req.send_json({"VolumesDeleted": names or None, "SpaceReclaimed": freed})


ROUTES = [
    ("GET", "/volumes", list_volumes),
    ("POST", "/volumes/create", create),
    ("POST", "/volumes/prune", prune),
    ("GET", "/volumes/{name}", inspect),
    ("DELETE", "/volumes/{name}", remove),
]
