"""The server's shared state: the engine, the route table, and the streams a request hands to another (an
attach waiting for its container's start, an exec's terminal that ``/exec/{id}/resize`` reaches)."""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from api.http import API_VERSION, ApiError, Request

if TYPE_CHECKING:
    from core.interface import DuplexStream, Engine, PreparedStart

# a start prepared at create (the engine's supervisor warming up while the client attaches and waits) is
# kept this long for the start that follows; at most MAX_PREPARED at once, so `docker create` x100 costs none
PREPARED_FOR = 10.0
MAX_PREPARED = 2

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
        self.prepared: dict[str, tuple[PreparedStart, float]] = {}
        self._janitor: threading.Thread | None = None
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
    def prepare_start(self) -> PreparedStart | None:
        with self.lock:
            if len(self.prepared) >= MAX_PREPARED:
                return None
        try:
            return self.engine.prepare_start()
        except Exception:
            return None  # the start will launch what it needs itself

    def keep_prepared(self, cid: str, prepared: PreparedStart) -> None:
        with self.lock:
            self.prepared[cid] = (prepared, time.monotonic() + PREPARED_FOR)
            if self._janitor is None:
                self._janitor = threading.Thread(target=self._expire, name="api-prepared", daemon=True)
                self._janitor.start()

    def take_prepared(self, cid: str) -> PreparedStart | None:
        with self.lock:
            entry = self.prepared.pop(cid, None)
        return entry[0] if entry else None

    def _expire(self) -> None:
        while True:
            time.sleep(1.0)
            now = time.monotonic()
            with self.lock:
                old = [cid for cid, (_, until) in self.prepared.items() if until < now]
                stale = [self.prepared.pop(cid)[0] for cid in old]
                if not self.prepared:
                    self._janitor = None
            for prepared in stale:
                with contextlib.suppress(Exception):
                    prepared.cancel()
            if not stale and self._janitor is None:
                return

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
