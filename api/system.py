"""System routes: ``_ping``, ``version``, ``info``, ``events``, ``system/df``, ``auth``."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

from api.filters import request_filters
from api.http import API_VERSION, MIN_API_VERSION, ApiError, ClientGone, Request
from core.dockerjson import (
    container_summary_to_docker,
    event_to_docker,
    go_arch,
    image_summary_to_docker,
    volume_to_docker,
)
from core.errors import NotFound


def ping(req: Request) -> None:
    headers = {"Cache-Control": "no-cache, no-store, must-revalidate", "Pragma": "no-cache"}
    if req.method == "HEAD":
        req._finish_body()
        req._headers(200, {"Content-Type": "text/plain; charset=utf-8", "Content-Length": "0", **headers})
        return
    req._finish_body()
    req._headers(200, {"Content-Type": "text/plain; charset=utf-8", "Content-Length": "2", **headers})
    req.handler.wfile.write(b"OK")


def version_document(req: Request) -> dict[str, Any]:
    v = req.engine.version()
    details = {
        "ApiVersion": API_VERSION,
        "MinAPIVersion": MIN_API_VERSION,
        "Os": v.get("Os", "linux"),
        "Arch": go_arch(str(v.get("Arch", ""))),
        "KernelVersion": v.get("KernelVersion", ""),
        "Python": v.get("Python", ""),
        "GitCommit": "",
        "GoVersion": "python" + str(v.get("Python", "")),
        "BuildTime": "",
        "Experimental": "false",
    }
    return {
        "Platform": {"Name": "Dockyard"},
        "Components": [{"Name": "Engine", "Version": v.get("Version", ""), "Details": details}],
        "Version": v.get("Version", ""),
        "ApiVersion": API_VERSION,
        "MinAPIVersion": MIN_API_VERSION,
        "GitCommit": "",
        "GoVersion": details["GoVersion"],
        "Os": details["Os"],
        "Arch": details["Arch"],
        "KernelVersion": details["KernelVersion"],
        "BuildTime": "",
    }


def version(req: Request) -> None:
    req.send_json(version_document(req))


def info(req: Request) -> None:
    doc = dict(req.engine.info())
    doc.setdefault("Swarm", {"LocalNodeState": "inactive", "ControlAvailable": False})
    doc.setdefault(
        "Plugins", {"Volume": ["local"], "Network": ["bridge", "host", "null"], "Log": ["json-file"]}
    )
    doc.setdefault("Runtimes", {"runc": {"path": "runc"}})
    doc.setdefault("DefaultRuntime", "runc")
    doc.setdefault("IndexServerAddress", "https://index.docker.io/v1/")
    doc.setdefault("ExperimentalBuild", False)
    doc.setdefault("Labels", [])
    doc.setdefault("Architecture", "")
    doc["Architecture"] = go_arch(str(doc["Architecture"]))
    doc.setdefault(
        "RegistryConfig",
        {
            "InsecureRegistryCIDRs": ["127.0.0.0/8"],
            "IndexConfigs": {},
            "Mirrors": list(doc.get("RegistryMirrors") or []),
        },
    )
    req.send_json(doc)


def events(req: Request) -> None:
    since = req.qfloat("since")
    until = req.qfloat("until")
    filters = request_filters(req)
    now = time.time()
    stream = req.engine.events(
        since=now if since is None else since,
        until=until,
        filters=filters,
        follow=until is None or until > now,
    )
    req.start_stream("application/json")
    stop = req.watch_disconnect(stream.close)
    try:
        for ev in stream:
            req.write_json(event_to_docker(ev))
    except ClientGone:
        pass
    finally:
        stop()
        stream.close()


def system_df(req: Request) -> None:
    engine = req.engine
    rows = {r["Type"]: r for r in engine.disk_usage()}
    now = time.time()
    images = [image_summary_to_docker(i) for i in engine.list_images(all=True)]
    for i in images:
        i["SharedSize"] = 0
    containers = []
    for c in engine.list_containers(all=True):
        doc = container_summary_to_docker(c, now)
        try:
            sized = engine.inspect_container(c.id, size=True)
        except NotFound:
            continue  # removed meanwhile
        doc["SizeRw"] = int(sized.get("SizeRw") or 0)
        doc["SizeRootFs"] = int(sized.get("SizeRootFs") or 0)
        containers.append(doc)
    users = engine.volume_users()
    volumes = []
    for v in engine.list_volumes():
        doc = volume_to_docker(v)
        doc["UsageData"] = {"Size": engine.volume_size(v.name), "RefCount": len(users.get(v.name, []))}
        volumes.append(doc)
    req.send_json(
        {
            "LayersSize": int(rows.get("Images", {}).get("Size", 0)),
            "Images": images,
            "Containers": containers,
            "Volumes": volumes,
            "BuildCache": [],
        }
    )


def auth(req: Request) -> None:
    body = req.json_object(required=True)
    user, password = body.get("username"), body.get("password")
    server = body.get("serveraddress") or "https://index.docker.io/v1/"
    if not isinstance(user, str) or not isinstance(password, str) or not isinstance(server, str):
        raise ApiError(400, "invalid auth request: username, password and serveraddress are strings")
    req.engine.login(server, user, password)
    req.send_json({"Status": "Login Succeeded", "IdentityToken": ""})


def registry_auth(req: Request) -> dict[str, Any] | None:
    """The credentials in ``X-Registry-Auth`` (base64url JSON: username, password, serveraddress)."""
    raw = req.headers.get("X-Registry-Auth")
    if not raw:
        return None
    try:
        padded = raw + "=" * (-len(raw) % 4)
        doc = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, TypeError):
        raise ApiError(400, "invalid X-Registry-Auth header: not base64-encoded JSON") from None
    return doc if isinstance(doc, dict) else None


def unsupported(what: str) -> Any:
    def route(req: Request) -> None:
        raise ApiError(501, f"{what} is not supported by dockyard")

    return route


ROUTES = [
    ("GET", "/_ping", ping),
    ("HEAD", "/_ping", ping),
    ("GET", "/version", version),
    ("GET", "/info", info),
    ("GET", "/events", events),
    ("GET", "/system/df", system_df),
    ("POST", "/auth", auth),
    ("GET", "/swarm", unsupported("swarm")),
    ("POST", "/swarm/init", unsupported("swarm")),
    ("GET", "/nodes", unsupported("swarm")),
    ("GET", "/services", unsupported("swarm")),
    ("GET", "/secrets", unsupported("secrets (a swarm feature)")),
    ("GET", "/configs", unsupported("configs (a swarm feature)")),
    ("GET", "/plugins", unsupported("plugins")),
    ("POST", "/session", unsupported("BuildKit sessions (build with DOCKER_BUILDKIT=0)")),
]
