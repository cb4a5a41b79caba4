"""``dockyard system dial-stdio``: the Engine API over this process's stdin and stdout, what an ssh client
(dockyard's ``ssh://`` engines, the docker CLI's) runs on the engine's host. With a dockyard server on the
local socket (``-H``/``$DOCKER_HOST``, default /run/dockyard/docker.sock) stdio is joined to it; when none
runs there (and none was named), the API is served in-process: a dockyard host needs no daemon for remote
use. A client opens several connections at once (a ``run`` attaches on one and starts on another, and the
attach must see the start), so the dial-stdio processes of one engine share one in-process server: the first
serves on a socket in the engine's run directory, the others join it, and the server's process stays until
no connection is left."""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import threading
import time
import zlib
from typing import Any

from api.server import DEFAULT_HOST

LINGER = 2.0  # seconds the in-process server waits for a next connection once none is left


def main(root: str | None, host: str | None) -> int:
    named = host or os.environ.get("DOCKER_HOST") or ""
    address = (named or DEFAULT_HOST).removeprefix("unix://")
    if "://" in address:
        sys.stderr.write(f"Error: dial-stdio joins a unix socket, not {named}\n")
        return 1
    try:
        return _join(_connect(address))
    except OSError as err:
        if named:
            sys.stderr.write(
                f"Error: Cannot connect to the Docker daemon at unix://{address}: {err.strerror}\n"
            )
            return 1
    return _shared(root)


def _connect(path: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
    except BaseException:
        sock.close()
        raise
    return sock


def _shared(root: str | None) -> int:
    """Join the engine's in-process server, or become it."""
    run = os.environ.get("DOCKYARD_RUN") or "/run/dockyard"
    key = zlib.crc32(os.path.abspath(root or os.environ.get("DOCKYARD_ROOT") or "/var/lib/dockyard").encode())
    path = os.path.join(run, f"dial-stdio-{key:08x}.sock")
    for _ in range(20):
        with contextlib.suppress(OSError):
            return _join(_connect(path))
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            os.makedirs(run, mode=0o711, exist_ok=True)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)  # a dead server's (connecting to it failed)
            listener.bind(path)
        except OSError:
            listener.close()
            time.sleep(0.05)  # another dial-stdio is becoming the server
            continue
        return _serve(root, listener, path)
    sys.stderr.write(f"Error: cannot serve the API on {path}\n")
    return 1


def _serve(root: str | None, listener: socket.socket, path: str) -> int:
    from api.app import App
    from api.server import Server
    from core.interface import local_engine

    os.chmod(path, 0o600)
    listener.listen(64)
    active = [0]
    lock = threading.Condition()

    class Counting(Server):
        def finish_request(self, request: Any, client_address: Any) -> None:
            with lock:
                active[0] += 1
            try:
                super().finish_request(request, client_address)
            finally:
                with lock:
                    active[0] -= 1
                    lock.notify_all()

    server = Counting(listener, App(local_engine(root)))
    server.address = f"unix://{path}"
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 3600}, daemon=True).start()
    try:
        code = _join(_connect(path))
        # others may still be connected (a session attached on another connection): serve them out, and a
        # moment more for the connection a client opens next
        with lock:
            while True:
                while active[0]:
                    lock.wait()
                if not lock.wait_for(lambda: active[0] > 0, timeout=LINGER):
                    break
        return code
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)
        server.server_close()


def _join(sock: socket.socket) -> int:
    """stdin -> the socket (its end: a half-close), the socket -> stdout, until the socket's side ends."""

    def upstream() -> None:
        try:
            while data := os.read(0, 65536):
                sock.sendall(data)
        except OSError:
            pass
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_WR)

    threading.Thread(target=upstream, name="dial-stdio-in", daemon=True).start()
    try:
        while data := sock.recv(65536):
            view = memoryview(data)
            while view:
                view = view[os.write(1, view) :]
    except OSError:
        pass
    finally:
        sock.close()
    return 0
