"""Many engines at once, for the workbench's Engines pane and fleet view: which engines there are (every
context of docker's context store, the ``-H`` the workbench was started with, the in-process engine), one
look at an engine (kind, version, counts) with a short timeout, and :class:`EngineWatch`, which follows one
engine's event stream and, when the connection is lost (the engine stopped, its socket went, ssh died),
says so and tries again with backoff (1, 2, 4 ... 30 s) until it answers.

Every call here blocks; the faces run them in threads. Nothing polls: a connected engine is followed through
its ``/events`` stream (the local engine through its event log), an unreachable one is tried again only at
its backoff times."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from core.errors import DockyardError
from core.models import EngineProbe, EngineTarget

if TYPE_CHECKING:
    from core.interface import Engine, EventStream
    from core.models import Event

PROBE_TIMEOUT = 3.0  # seconds: a look at an engine that does not answer in this time finds it unreachable
BACKOFF_FIRST = 1.0
BACKOFF_MAX = 30.0
IN_PROCESS = "in-process"


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split()) or type(err).__name__
    return text


def engine_url(engine: Engine | None) -> str:
    """Where ``engine`` is: its endpoint's URL, or "in-process" for the local engine."""
    endpoint = getattr(engine, "endpoint", None)
    url = getattr(endpoint, "url", None)
    return str(url) if url else IN_PROCESS


def targets(current: Engine | None = None) -> list[EngineTarget]:
    """Every engine there is to show: the contexts of docker's context store (sorted by name, "default"
    among them: ``$DOCKER_HOST`` when set, else the in-process engine), the engine ``current`` talks to
    when no context names it (``-H`` on the command line), and the in-process engine when no context is
    it. The one ``current`` talks to is marked."""
    from core.remote import contexts

    out: list[EngineTarget] = []
    try:
        found = contexts.list_contexts()
    except DockyardError:
        found = [contexts.load(contexts.DEFAULT)]
    for ctx in found:
        if not ctx.host:
            out.append(EngineTarget(ctx.name, IN_PROCESS, "the in-process engine on this machine"))
            continue
        try:
            endpoint = ctx.endpoint()
            url, error = (endpoint.url if endpoint is not None else ctx.host), ""
        except DockyardError as err:
            url, error = ctx.host, _one_line(err)
        out.append(EngineTarget(ctx.name, url, ctx.description, error=error))
    here = engine_url(current) if current is not None else ""
    if here and here != IN_PROCESS and not any(t.endpoint == here for t in out):
        out.append(EngineTarget("-H", here, "given on the command line"))
    if not any(t.endpoint == IN_PROCESS for t in out):
        out.append(EngineTarget("local", IN_PROCESS, "the in-process engine on this machine"))
    if here:
        # the one the workbench talks to: the command line's choice first, then the first with its address
        chosen = next((t for t in out if t.name == "-H" and t.endpoint == here), None) or next(
            (t for t in out if t.endpoint == here), None
        )
        out = [
            EngineTarget(t.name, t.endpoint, t.description, current=True, error=t.error) if t is chosen else t
            for t in out
        ]
    return out


def open_engine(target: EngineTarget, root: str | None = None) -> Engine:
    """An engine for ``target`` (no connection is made until it is used)."""
    from core.remote import contexts
    from core.remote.endpoint import parse_host, tls_from_env
    from core.remote.engine import RemoteEngine

    if target.error:
        raise DockyardError(f"engine {target.name}: {target.error}")
    if target.endpoint == IN_PROCESS:
        from core.interface import local_engine

        return local_engine(root)
    if target.name == "-H" or (target.name == contexts.DEFAULT and os.environ.get("DOCKER_HOST")):
        return RemoteEngine(parse_host(target.endpoint, tls_from_env()))
    endpoint = contexts.load(target.name).endpoint()
    if endpoint is None:
        from core.interface import local_engine

        return local_engine(root)
    return RemoteEngine(endpoint)


def kind_of(version: dict[str, Any]) -> str:
    """dockyard, docker or podman, from ``/version``'s Platform name and Components (as ``docker version``
    shows them); "" when it says neither."""
    platform = str((version.get("Platform") or {}).get("Name") or "").lower()
    components = [
        str(c.get("Name") or "").lower() for c in version.get("Components") or [] if isinstance(c, dict)
    ]
    if "dockyard" in platform or "Daemon" in version:  # the in-process engine's own version document
        return "dockyard"
    if "podman" in platform or any("podman" in c for c in components):
        return "podman"
    if "docker" in platform or "engine" in components:
        return "docker"
    return ""


def probe(engine: Engine, timeout: float = PROBE_TIMEOUT, *, light: bool = False) -> EngineProbe:
    """One look at ``engine``: ``/version`` and ``/info`` (each within ``timeout`` for a remote engine), or
    why it could not be reached; ``light``: ``/version`` only (no counts)."""
    try:
        api = getattr(engine, "api", None)
        if api is not None:  # a remote engine: its own short timeout, not the API client's minute
            version = api.json("GET", "/version", timeout=timeout) or {}
            info = {} if light else (api.json("GET", "/info", timeout=timeout) or {})
        else:
            version = engine.version()
            info = {} if light else engine.info()
    except Exception as err:
        return EngineProbe(False, error=_one_line(err))
    return EngineProbe(
        True,
        kind=kind_of(version),
        version=str(version.get("Version") or ""),
        api_version=str(version.get("ApiVersion") or ""),
        containers=int(info.get("Containers") or 0),
        running=int(info.get("ContainersRunning") or 0),
        images=int(info.get("Images") or 0),
    )


class EngineWatch:
    """Follows one engine in a thread of its own: a look at it (:func:`probe`), then its event stream; when
    that ends or fails (the connection is lost), a look again after 1, 2, 4 ... 30 s until it answers.

    ``on_state(probe, retry_in)`` is called from that thread after every look (``retry_in``: seconds to the
    next try when unreachable, else 0); ``on_event(event)`` for every event while connected. :meth:`retry`
    tries again at once, :meth:`stop` ends the thread (it closes the open stream, which wakes it)."""

    def __init__(
        self,
        engine: Engine,
        on_state: Callable[[EngineProbe, float], object],
        on_event: Callable[[Event], object],
        *,
        first: float = BACKOFF_FIRST,
        most: float = BACKOFF_MAX,
        timeout: float = PROBE_TIMEOUT,
        light: bool = False,
    ) -> None:
        self.engine = engine
        self.light = light
        self.on_state = on_state
        self.on_event = on_event
        self.first = first
        self.most = most
        self.timeout = timeout
        self.connected = False
        self.attempts = 0  # looks that found it unreachable since it last answered
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._stream: EventStream | None = None
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="engine-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._close_stream()

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def retry(self) -> None:
        """Look again now (a user asked), instead of at the next backoff time."""
        self._wake.set()

    def _close_stream(self) -> None:
        with self._lock:
            stream, self._stream = self._stream, None
        if stream is not None:
            with contextlib.suppress(Exception):
                stream.close()

    def delay(self) -> float:
        """Seconds to wait before the next look after ``attempts`` failed ones: 1, 2, 4 ... ``most``."""
        return min(self.most, self.first * (2 ** max(0, self.attempts - 1)))

    def _run(self) -> None:
        while not self._stop.is_set():
            found = probe(self.engine, self.timeout, light=self.light)
            if self._stop.is_set():
                return
            if not found.reachable:
                self.connected = False
                self.attempts += 1
                wait = self.delay()
                self.on_state(found, wait)
                self._wake.wait(wait)
                self._wake.clear()
                continue
            try:
                stream = self.engine.events(since=time.time(), follow=True)
            except Exception as err:
                self.connected = False
                self.attempts += 1
                wait = self.delay()
                self.on_state(EngineProbe(False, error=_one_line(err)), wait)
                self._wake.wait(wait)
                self._wake.clear()
                continue
            with self._lock:
                self._stream = stream
            if self._stop.is_set():
                self._close_stream()
                return
            self.connected = True
            self.attempts = 0
            self.on_state(found, 0.0)
            opened = time.monotonic()
            try:
                for event in stream:
                    self.on_event(event)
            except Exception:
                pass  # the connection broke: look again below
            finally:
                self._close_stream()
            if self._stop.is_set():
                return
            # the stream ended while nobody closed it: the engine went away (or restarted); the next look
            # says which, at once, unless streams keep ending as soon as they open (then with backoff)
            self.connected = False
            if time.monotonic() - opened < 1.0:
                self.attempts += 1
                self._wake.wait(self.delay())
                self._wake.clear()
