"""Volume routes: list, create, inspect, remove, prune."""

from __future__ import annotations

from typing import Any

from api.filters import request_filters
from api.http import ApiError, Request
from core.dockerjson import volume_to_docker


def list_volumes(req: Request) -> None:
    vols = req.engine.list_volumes(filters=request_filters(req))
    req.send_json({"Volumes": [volume_to_docker(v) for v in vols], "Warnings": None})


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
    names, freed = req.engine.prune_volumes(all=all_volumes, filters=filters)
    req.send_json({"VolumesDeleted": names or None, "SpaceReclaimed": freed})


ROUTES = [
    ("GET", "/volumes", list_volumes),
    ("POST", "/volumes/create", create),
    ("POST", "/volumes/prune", prune),
    ("GET", "/volumes/{name}", inspect),
    ("DELETE", "/volumes/{name}", remove),
]
