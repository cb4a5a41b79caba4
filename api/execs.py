"""Exec routes: create, start (hijacked, or detached), resize, inspect."""

from __future__ import annotations

import contextlib
import threading

from api.hijack import DEFAULT_DETACH_KEYS, parse_detach_keys, pump
from api.http import ApiError, Request, frame
from core.dockerjson import exec_config_from_docker
from core.interface import DuplexStream


def create(req: Request) -> None:
    body = req.json_object(required=True)
    config = exec_config_from_docker(body)
    if not config.cmd:
        raise ApiError(400, "No exec command specified")
    keys = body.get("DetachKeys") or ""
    if not isinstance(keys, str):
        raise ApiError(400, "invalid DetachKeys: expected a string")
    if keys:
        parse_detach_keys(keys)  # a bad sequence fails here, as docker's
    exec_id = req.engine.create_exec(req.params["id"], config)
    with req.app.lock:
        req.app.exec_keys[exec_id] = keys
    req.send_json({"Id": exec_id}, 201)


def _drain(stream: DuplexStream) -> None:
    """A detached start of an exec created attached: its output is read and dropped until it ends."""
    import selectors

    sel = selectors.DefaultSelector()
    try:
        sel.register(stream.fileno(), selectors.EVENT_READ)
        while True:
            sel.select()
            if stream.read() is None:
                return
    except (OSError, ValueError):
        return
    finally:
        sel.close()
        stream.close()


def start(req: Request) -> None:
    body = req.json_object()
    detach = body.get("Detach", False)
    if not isinstance(detach, bool):
        raise ApiError(400, "invalid Detach: expected true or false")
    exec_id = req.params["id"]
    info = req.engine.inspect_exec(exec_id)
    exec_id = str(info.get("ID") or exec_id)
    if detach:
        stream = req.engine.start_exec(exec_id)
        threading.Thread(target=_drain, args=(stream,), name="exec-drain", daemon=True).start()
        req.send_empty(200)
        return
    if info.get("Running") or info.get("Pid"):
        raise ApiError(409, f"exec {exec_id} has already been started")
    req.engine.container(str(info.get("ContainerID")))  # 404 before the upgrade
    tty = bool((info.get("ProcessConfig") or {}).get("tty"))
    stdin = bool(info.get("OpenStdin"))
    with req.app.lock:
        keys_text = req.app.exec_keys.pop(exec_id, "")
    content = "application/vnd.docker.raw-stream" if tty else "application/vnd.docker.multiplexed-stream"
    # upgraded first, then started (as dockerd): a client that reads the answer's head through a buffer
    # (docker-py) must not find the process's first output in it
    sock, early = req.hijack(content)
    try:
        stream = req.engine.start_exec(exec_id)
    except Exception as err:
        message = f"{err}\r\n".encode()
        with contextlib.suppress(OSError):
            sock.sendall(message if tty else frame(2, message))
            sock.close()
        return
    size = body.get("ConsoleSize")
    if isinstance(size, list) and len(size) == 2 and all(isinstance(v, int) and v > 0 for v in size):
        stream.resize(size[0], size[1])
    with req.app.lock:
        req.app.execs[exec_id] = stream
    try:
        pump(
            sock,
            stream,
            stdin=stdin,
            early=early,
            detach_keys=parse_detach_keys(keys_text or DEFAULT_DETACH_KEYS),
        )
    finally:
        with req.app.lock:
            req.app.execs.pop(exec_id, None)
        stream.close()


def resize(req: Request) -> None:
    h, w = req.qint("h", 0) or 0, req.qint("w", 0) or 0
    if h <= 0 or w <= 0:
        raise ApiError(400, "resize needs a height and width above 0 (?h=&w=)")
    info = req.engine.inspect_exec(req.params["id"])
    with req.app.lock:
        stream = req.app.execs.get(str(info.get("ID")))
    if stream is None:
        if not info.get("Running"):
            raise ApiError(409, f"exec {info.get('ID')} is not running")
        raise ApiError(409, f"exec {info.get('ID')} was not started by this server: its terminal is not here")
    stream.resize(h, w)
    req.send_empty(200)


def inspect(req: Request) -> None:
    req.send_json(req.engine.inspect_exec(req.params["id"]))


ROUTES = [
    ("POST", "/containers/{id}/exec", create),
    ("POST", "/exec/{id}/start", start),
    ("POST", "/exec/{id}/resize", resize),
    ("GET", "/exec/{id}/json", inspect),
]
