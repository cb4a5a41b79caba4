"""The server's shared state: the engine, the route table, and the streams a request hands to another (an
attach waiting for its container's start, an exec's terminal that ``/exec/{id}/resize`` reaches)."""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from api.http import API_VERSION, ApiError, Request

if TYPE_CHECKING:
    from core.interface import DuplexStream, Engine, PreparedStart

Handler = Callable[[Request], None]


class PendingAttach:
    """``POST /containers/{id}/attach`` to a container that is not running yet (the docker CLI attaches
    before it starts): the start hands it the stream, so none of the output is lost."""

    def __init__(self, stdin: bool) -> None:
        self.stdin = stdin
        self.ready = threading.Event()
        self.stream: DuplexStream | None = None
        self.error: BaseException | None = None
        self.abandoned = False


def _compile(pattern: str) -> re.Pattern[str]:
    out = "^"
    for part in re.split(r"(\{[a-z_]+\*?\})", pattern):
        if part.startswith("{"):
            name = part.strip("{}*")
            out += f"(?P<{name}>.+)" if part.endswith("*}") else f"(?P<{name}>[^/]+)"
        else:
            out += re.escape(part)
    return re.compile(out + "$")


class App:
    def __init__(self, engine: Engine, *, verbose: bool = False) -> None:
        from api import containers, execs, images, networks, system, volumes

        self.engine = engine
        self.verbose = verbose
        version = engine.version().get("Version", "unknown")
        self.server_header = f"Dockyard/{version} (linux)"
        self.lock = threading.Lock()
        self.pending: dict[str, PendingAttach] = {}
        self.execs: dict[str, DuplexStream] = {}
        self.exec_keys: dict[str, str] = {}  # exec id -> its DetachKeys, from create to start
        self.attached: dict[str, list[DuplexStream]] = {}
        self.started = threading.Condition()  # notified when a container is started through this server
        self._warm: PreparedStart | None = None
        self._warming = False
        self.routes: list[tuple[str, re.Pattern[str], Handler]] = []
        for module in (system, containers, execs, images, networks, volumes):
            for method, pattern, handler in module.ROUTES:
                self.routes.append((method, _compile(pattern), handler))

    def route(self, method: str, path: str) -> tuple[Handler, dict[str, str]]:
        for m, pattern, handler in self.routes:
            if m == method or (method == "HEAD" and m == "GET" and pattern.pattern == "^/_ping$"):
                match = pattern.match(path)
                if match:
                    return handler, match.groupdict()
        raise ApiError(404, f"page not found: {method} {path}")

    # ------------------------------------------------------------------------- starts prepared ahead
    # One start is kept prepared (the local engine's supervisor, warmed up: its interpreter started and its
    # imports done), from the first create on, and made again each time a start takes it: a start then
    # skips the ~100-200 ms a supervisor takes to come up. An idle server that never started a container
    # holds none; the prepared one ends by itself when the server does.
    def warm_up(self) -> None:
        """Have a start prepared (in the background)."""
        with self.lock:
            if self._warm is not None or self._warming:
                return
            self._warming = True
        threading.Thread(target=self._prepare, name="api-prepare", daemon=True).start()

    def _prepare(self) -> None:
        prepared = None
        try:
            prepared = self.engine.prepare_start()
        except Exception:
            prepared = None  # a start then launches what it needs itself
        finally:
            with self.lock:
                self._warming = False
                if self._warm is None:
                    self._warm, prepared = prepared, None
            if prepared is not None:  # one was made meanwhile
                with contextlib.suppress(Exception):
                    prepared.cancel()

    def take_prepared(self) -> PreparedStart | None:
        with self.lock:
            prepared, self._warm = self._warm, None
        self.warm_up()
        return prepared

    def notify_started(self) -> None:
        with self.started:
            self.started.notify_all()

    # ------------------------------------------------------------------ streams held for other requests
    def hold_attached(self, cid: str, stream: DuplexStream) -> None:
        with self.lock:
            self.attached.setdefault(cid, []).append(stream)

    def release_attached(self, cid: str, stream: DuplexStream) -> None:
        with self.lock:
            held = self.attached.get(cid, [])
            if stream in held:
                held.remove(stream)
            if not held:
                self.attached.pop(cid, None)

    def attached_stream(self, cid: str) -> DuplexStream | None:
        with self.lock:
            held = self.attached.get(cid)
            return held[-1] if held else None


__all__ = ["API_VERSION", "App", "PendingAttach"]
