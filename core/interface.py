"""The engine interface: everything a face (the command line, the workbench, later the API server and
compose) may ask of an engine, shaped like Docker's Engine API resource model.

Faces import this module, the records in :mod:`core.models` and :mod:`core.errors`, nothing else of core
(an import-contract test enforces it). The in-process engine (:class:`core.engine.LocalEngine`) is the
first implementation; a Docker-API client will be the second, so every method here is one the Engine API
has a route for, and what crosses this line is a record, a Docker-shaped JSON document or a stream object.

Streams are objects the caller closes (or uses as context managers): closing one cancels it and frees
what it held (sockets, fds, watchers). Long work reports progress through a callback that gets
:class:`core.models.PullProgress` (Docker's ``{"status", "id", "progressDetail"}`` messages) or
:class:`core.models.BuildEvent`.

This module is on the start path of ``run``: it imports nothing at run time but ``abc`` (already loaded by
the interpreter); the records are only annotations here.
"""

from __future__ import annotations

import abc

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~2 ms of a start)
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping, Sequence
    from pathlib import Path
    from typing import Any, BinaryIO, Self

    from core.images.reference import Reference
    from core.models import (
        BuildEvent,
        BuildOptions,
        BuildResult,
        ContainerCreate,
        ContainerStats,
        ContainerSummary,
        ContainerUpdate,
        EngineProbe,
        EngineTarget,
        Event,
        ExecConfig,
        HistoryEntry,
        ImageSummary,
        LogLine,
        Mount,
        NetworkSummary,
        PortBinding,
        PullProgress,
        PullResult,
        PushResult,
        RemovedImage,
        SystemPruneReport,
        Volume,
    )

    Progress = Callable[[PullProgress], None]
    JSONDocument = dict[str, Any]  # an inspect document: Docker's JSON, key for key
    # docker's filter model (``-f key=value``, the API's ``filters``): key -> values; the values of one key
    # are alternatives, different keys must all hold (core.filters has docker's exceptions)
    Filters = Mapping[str, Sequence[str]]

# Frame stream ids of a duplex stream, as Docker's multiplexed attach/exec stream numbers them
STDIN = 0
STDOUT = 1
STDERR = 2


# ============================================================================================ streams ====


class Stream(abc.ABC):
    """Something the engine streams until the caller closes it (or it ends by itself)."""

    @abc.abstractmethod
    def close(self) -> None:
        """Cancel and free everything the stream holds; idempotent, callable from another thread."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class LogStream(Stream):
    """A container's log lines (``docker logs``), ended at the log's end unless following."""

    @abc.abstractmethod
    def __iter__(self) -> Iterator[LogLine]: ...

    def output(self) -> Iterator[tuple[str, bytes]]:
        """The lines' text as the bytes to print, in order, each piece tagged "stdout" or "stderr": for a
        reader that copies the log out unchanged (``docker logs`` without ``--timestamps`` or
        ``--details``). A piece may hold many lines, and end inside one. By default, each line encoded; an
        engine that receives the log as bytes hands them on as they came (a remote one: a record per line
        was most of a long log's time)."""
        for line in self:
            yield line.stream, line.text.encode("utf-8", "surrogateescape")


class EventStream(Stream):
    """Engine events (``docker events``), oldest first."""

    @abc.abstractmethod
    def __iter__(self) -> Iterator[Event]: ...


class StatsStream(Stream):
    """Resource samples of one container (``docker stats``), one per interval."""

    @abc.abstractmethod
    def __iter__(self) -> Iterator[ContainerStats]: ...


class DuplexStream(Stream):
    """An attach or exec session: the process's output as frames tagged with their stream id, and its
    stdin, terminal size and signals. Built for a selector loop: :meth:`fileno` becomes readable when
    :meth:`read` has something to do, and :meth:`read` never blocks after that."""

    tty: bool = False
    exit_code: int | None = None  # set once the stream has ended with the process's exit
    error: str = ""  # set when the process could not be started (exit_code is then docker's 125/126/127)

    @abc.abstractmethod
    def fileno(self) -> int:
        """An fd that is readable when :meth:`read` will not block."""

    @abc.abstractmethod
    def read(self) -> list[tuple[int, bytes]] | None:
        """Output frames ``(STDOUT|STDERR, data)`` available now (possibly none, when only stdin moved);
        None once the stream has ended (then see :attr:`exit_code` and :attr:`error`)."""

    @abc.abstractmethod
    def write(self, data: bytes) -> None:
        """Queue ``data`` for the process's stdin; never blocks (see :attr:`input_backlog`)."""

    @property
    @abc.abstractmethod
    def input_backlog(self) -> int:
        """Bytes written but not yet taken by the process: stop reading input while this is large."""

    @abc.abstractmethod
    def close_stdin(self) -> None:
        """End of input, once what is queued has gone (with a terminal: the EOF character)."""

    @abc.abstractmethod
    def resize(self, rows: int, cols: int) -> None:
        """The terminal's new size (the process gets SIGWINCH); nothing without a terminal."""

    @abc.abstractmethod
    def kill(self, signum: int) -> None:
        """Send ``signum`` to the process (``exec``) or the container (``attach``)."""

    @abc.abstractmethod
    def detach(self) -> None:
        """Let go: the process keeps running, the stream ends."""


class ProgressStream(Stream):
    """Long work (a pull, a push) as Docker's JSON progress messages (``{"status", "id", "progressDetail"}``),
    the way the Engine API streams them; iterating ends when the work does, raising its error if it failed.
    Closing the stream cancels the work (nothing half-done is kept) and waits until it has stopped."""

    result: Any = None  # what the work returned (a PullResult, a PushResult), once iteration has ended

    @abc.abstractmethod
    def __iter__(self) -> Iterator[JSONDocument]: ...


class PreparedStart(abc.ABC):
    """Work an engine did ahead of a start (the local one: a supervisor process already warming up).
    Pass it to :meth:`Engine.start_container`, or :meth:`cancel` it if the start will not happen."""

    @abc.abstractmethod
    def cancel(self) -> None: ...


# ============================================================================================= engine ====


class Engine(abc.ABC):
    """One engine. Every method may raise :class:`core.errors.DockyardError` subclasses whose message a
    user can act on; names accept a name, a full id or a unique id prefix, as Docker's do."""

    # ------------------------------------------------------------------------------ containers
    @abc.abstractmethod
    def create_container(
        self, request: ContainerCreate, *, progress: Progress | None = None
    ) -> ContainerSummary:
        """``POST /containers/create``; pulls a missing image first (``request.pull``), with ``progress``."""

    def prepare_start(self) -> PreparedStart | None:
        """Start-up work to overlap with the creation of the container that will be started (None: none)."""
        return None

    def expect_requests(self) -> None:
        """A client is talking to the engine: more requests may follow within moments. A hint, for work
        that is cheaper done ahead of them; it does nothing by default."""
        return None

    @abc.abstractmethod
    def start_container(self, name: str, *, prepared: PreparedStart | None = None) -> None:
        """``POST /containers/{id}/start`` (detached); returns once the process runs."""

    @abc.abstractmethod
    def start_attached(
        self,
        name: str,
        *,
        stdin: bool = False,
        tty_size: tuple[int, int] | None = None,
        prepared: PreparedStart | None = None,
    ) -> DuplexStream:
        """Attach, then start, as ``docker start -a`` and ``docker run`` do, so no output is lost; raises
        if the process could not be started. A running container is just attached to."""

    @abc.abstractmethod
    def attach_container(self, name: str, *, stdin: bool = False) -> DuplexStream:
        """``POST /containers/{id}/attach`` to a running container."""

    def resize_container(self, name: str, rows: int, cols: int) -> None:
        """``POST /containers/{id}/resize``: the running container's terminal size, from outside an attach
        session (nothing without a terminal)."""
        with self.attach_container(name) as stream:
            stream.resize(rows, cols)

    @abc.abstractmethod
    def list_containers(self, *, all: bool = False, filters: Filters | None = None) -> list[ContainerSummary]:
        """``GET /containers/json``, newest first; ``filters`` as ``docker ps -f`` (an unknown key or a bad
        value raises InvalidFilter)."""

    @abc.abstractmethod
    def container(self, name: str) -> ContainerSummary: ...

    @abc.abstractmethod
    def inspect_container(self, name: str, *, size: bool = False) -> JSONDocument:
        """``GET /containers/{id}/json``; ``size`` adds SizeRw and SizeRootFs (walks its files)."""

    @abc.abstractmethod
    def stop_container(self, name: str, timeout: float | None = None) -> ContainerSummary: ...

    @abc.abstractmethod
    def kill_container(self, name: str, signal: int | str = "SIGKILL") -> ContainerSummary: ...

    @abc.abstractmethod
    def restart_container(self, name: str, timeout: float | None = None) -> ContainerSummary: ...

    @abc.abstractmethod
    def pause_container(self, name: str) -> None: ...

    @abc.abstractmethod
    def unpause_container(self, name: str) -> None: ...

    @abc.abstractmethod
    def rename_container(self, name: str, new_name: str) -> None: ...

    @abc.abstractmethod
    def wait_container(self, name: str) -> int:
        """Block until the container is not running; its exit code."""

    @abc.abstractmethod
    def remove_container(self, name: str, *, force: bool = False, volumes: bool = False) -> ContainerSummary:
        """``DELETE /containers/{id}``."""

    @abc.abstractmethod
    def update_container(self, name: str, update: ContainerUpdate) -> list[str]:
        """``POST /containers/{id}/update``: new limits and restart policy; docker's warnings."""

    @abc.abstractmethod
    def container_changes(self, name: str) -> list[JSONDocument]:
        """``GET /containers/{id}/changes`` (``docker diff``): ``{"Path", "Kind"}``, Kind 0 modified,
        1 added, 2 deleted, sorted by path."""

    @abc.abstractmethod
    def prune_containers(self, *, filters: Filters | None = None) -> tuple[list[str], int]:
        """Remove every stopped container (``until``, ``label``, ``label!`` narrow it): (ids, bytes freed)."""

    @abc.abstractmethod
    def container_top(self, name: str, ps_args: str = "") -> tuple[list[str], list[list[str]]]:
        """``GET /containers/{id}/top?ps_args=``: (titles, processes); with ``ps_args``, the host's ``ps``
        with those options, as dockerd runs it."""

    @abc.abstractmethod
    def container_stats(self, name: str) -> ContainerStats:
        """One sample (``stats --no-stream``); CPU % over a short interval."""

    @abc.abstractmethod
    def stats_stream(self, name: str, *, interval: float = 1.0) -> StatsStream: ...

    @abc.abstractmethod
    def container_logs(
        self,
        name: str,
        *,
        follow: bool = False,
        since: float | None = None,
        until: float | None = None,
        tail: int | None = None,
        timestamps: bool = True,
    ) -> LogStream:
        """The container's log lines; ``follow``: and those it writes from now on. ``timestamps=False``: the
        caller shows no line's time, so an engine that has to ask for them (a remote one: dockerd reads a
        json-file log a quarter faster without them) need not, and ``LogLine.time`` may be empty."""

    def container_log_path(self, name: str) -> Path | None:
        """The container's json-file log when it is readable on this machine (the workbench indexes it and
        reads it with pread, which makes a 2 GB log open at once); None when the engine is elsewhere."""
        return None

    @abc.abstractmethod
    def container_ports(self, name: str) -> list[PortBinding]: ...

    @abc.abstractmethod
    def export_container(self, name: str, out: BinaryIO) -> None:
        """``GET /containers/{id}/export``: the container's filesystem as a tar."""

    @abc.abstractmethod
    def archive_from_container(self, name: str, src: str, sink: BinaryIO) -> None:
        """``GET /containers/{id}/archive``: ``src`` as a tar."""

    @abc.abstractmethod
    def extract_to_container(self, name: str, dest: str, source: BinaryIO, *, archive: bool = False) -> None:
        """``PUT /containers/{id}/archive``: a tar unpacked at ``dest`` (through the safe extractor)."""

    @abc.abstractmethod
    def copy_from_container(self, name: str, src: str, dest: str, *, archive: bool = False) -> None:
        """``cp CONTAINER:SRC DEST`` with docker's rules for what DEST means."""

    @abc.abstractmethod
    def copy_to_container(self, name: str, src: str, dest: str, *, archive: bool = False) -> None:
        """``cp SRC CONTAINER:DEST``."""

    @abc.abstractmethod
    def commit(
        self,
        container: str,
        reference: str | None = None,
        *,
        message: str = "",
        author: str = "",
        changes: list[str] | None = None,
        pause: bool = True,
    ) -> ImageSummary: ...

    # ----------------------------------------------------------------------------------- exec
    @abc.abstractmethod
    def create_exec(self, container: str, config: ExecConfig) -> str:
        """``POST /containers/{id}/exec``: an exec instance for the running container; its id."""

    @abc.abstractmethod
    def start_exec(self, exec_id: str) -> DuplexStream:
        """``POST /exec/{id}/start``: run it (once). A detached exec returns an already ended stream; the
        stream's :meth:`DuplexStream.resize` is ``/exec/{id}/resize``."""

    @abc.abstractmethod
    def inspect_exec(self, exec_id: str) -> JSONDocument:
        """``GET /exec/{id}/json``: Running, ExitCode, Pid, ProcessConfig, as Docker's."""

    def exec(self, container: str, config: ExecConfig) -> DuplexStream:
        """``docker exec``: create and start in one call."""
        return self.start_exec(self.create_exec(container, config))

    # --------------------------------------------------------------------------------- images
    @abc.abstractmethod
    def pull(
        self, reference: str, *, platform: str | None = None, progress: Progress | None = None
    ) -> PullResult: ...

    @abc.abstractmethod
    def push(
        self, reference: str, *, progress: Progress | None = None, chunk_size: int | None = None
    ) -> PushResult: ...

    def pull_stream(self, reference: str, *, platform: str | None = None) -> ProgressStream:
        """:meth:`pull` as a stream of Docker's progress messages (``POST /images/create``)."""
        from core.dockerjson import progress_to_docker
        from core.progress import ThreadedProgress

        def work(report: Callable[[JSONDocument], None]) -> PullResult:
            return self.pull(reference, platform=platform, progress=lambda p: report(progress_to_docker(p)))

        return ThreadedProgress(work, name="pull")

    def push_stream(self, reference: str) -> ProgressStream:
        """:meth:`push` as a stream of Docker's progress messages (``POST /images/{name}/push``)."""
        from core.dockerjson import progress_to_docker
        from core.progress import ThreadedProgress

        def work(report: Callable[[JSONDocument], None]) -> PushResult:
            return self.push(reference, progress=lambda p: report(progress_to_docker(p)))

        return ThreadedProgress(work, name="push")

    @abc.abstractmethod
    def list_images(self, *, all: bool = False, filters: Filters | None = None) -> list[ImageSummary]:
        """``GET /images/json``; ``filters``: dangling, reference, label, before, since."""

    @abc.abstractmethod
    def image(self, name: str) -> ImageSummary:
        """The image a reference or id names (raises ImageNotFound)."""

    @abc.abstractmethod
    def inspect_image(self, name: str) -> JSONDocument: ...

    @abc.abstractmethod
    def history(self, name: str) -> list[HistoryEntry]: ...

    @abc.abstractmethod
    def tag_image(self, source: str, target: str) -> None: ...

    @abc.abstractmethod
    def remove_image(self, name: str, *, force: bool = False) -> RemovedImage: ...

    @abc.abstractmethod
    def prune_images(self, *, all: bool = False, filters: Filters | None = None) -> tuple[RemovedImage, int]:
        """Dangling images, or with ``all`` (docker's ``dangling=false``) every unused one; ``until``,
        ``label``, ``label!`` narrow it."""

    @abc.abstractmethod
    def save_images(self, names: list[str], out: BinaryIO) -> None: ...

    @abc.abstractmethod
    def load_images(self, src: BinaryIO, *, progress: Progress | None = None) -> list[str]: ...

    @abc.abstractmethod
    def import_image(
        self,
        src: BinaryIO,
        reference: str | None = None,
        *,
        message: str = "",
        changes: list[str] | None = None,
        platform: str | None = None,
        source_name: str = "-",
    ) -> ImageSummary: ...

    @abc.abstractmethod
    def build(
        self, options: BuildOptions, *, progress: Callable[[BuildEvent], None] | None = None
    ) -> BuildResult: ...

    @abc.abstractmethod
    def login(self, server: str, username: str, password: str) -> str:
        """Check the credentials with the registry and store them like docker; the key they went under."""

    @abc.abstractmethod
    def logout(self, server: str) -> bool: ...

    # ------------------------------------------------------------------------------- networks
    @abc.abstractmethod
    def create_network(
        self,
        name: str,
        *,
        driver: str = "bridge",
        subnet: str | None = None,
        gateway: str | None = None,
        internal: bool = False,
        labels: dict[str, str] | None = None,
        options: dict[str, str] | None = None,
    ) -> NetworkSummary: ...

    @abc.abstractmethod
    def list_networks(self, *, filters: Filters | None = None) -> list[NetworkSummary]:
        """``GET /networks``; ``filters``: driver, id, label, name, scope, type, dangling."""

    @abc.abstractmethod
    def inspect_network(self, name: str) -> JSONDocument: ...

    @abc.abstractmethod
    def remove_network(self, name: str) -> None: ...

    @abc.abstractmethod
    def prune_networks(self, *, filters: Filters | None = None) -> list[str]:
        """Remove the unused user networks (``until``, ``label``, ``label!`` narrow it); their names."""

    @abc.abstractmethod
    def connect_network(
        self, network: str, container: str, *, aliases: list[str] | None = None, ip: str | None = None
    ) -> None: ...

    @abc.abstractmethod
    def disconnect_network(self, network: str, container: str, *, force: bool = False) -> None: ...

    # -------------------------------------------------------------------------------- volumes
    @abc.abstractmethod
    def create_volume(
        self,
        name: str | None = None,
        *,
        labels: dict[str, str] | None = None,
        options: dict[str, str] | None = None,
    ) -> Volume: ...

    @abc.abstractmethod
    def list_volumes(self, *, filters: Filters | None = None) -> list[Volume]:
        """``GET /volumes``; ``filters``: dangling, driver, label, name."""

    @abc.abstractmethod
    def inspect_volume(self, name: str) -> JSONDocument: ...

    @abc.abstractmethod
    def volume_size(self, name: str) -> int:
        """Bytes the volume's files take (walks its tree: call it off a UI thread)."""

    @abc.abstractmethod
    def volume_users(self) -> dict[str, list[str]]:
        """volume name -> names of the containers that mount it."""

    @abc.abstractmethod
    def remove_volume(self, name: str, *, force: bool = False) -> None: ...

    @abc.abstractmethod
    def prune_volumes(self, *, all: bool = False, filters: Filters | None = None) -> tuple[list[str], int]:
        """Unused anonymous volumes, or every unused one with ``all`` (or ``all=true``); ``label``,
        ``label!`` narrow it: (names, bytes freed)."""

    def prune_system(
        self, *, all: bool = False, volumes: bool = False, filters: Filters | None = None
    ) -> SystemPruneReport:
        """``docker system prune``: stopped containers, unused networks, (unused anonymous volumes,) dangling
        (or with ``all`` unused) images, each with ``filters``; ``until`` does not go with ``volumes``,
        as docker's."""
        from core.errors import InvalidFilter
        from core.models import SystemPruneReport

        if volumes and filters and "until" in filters:
            raise InvalidFilter('The "until" filter is not supported with "--volumes"')
        containers, freed = self.prune_containers(filters=filters)
        networks = self.prune_networks(filters=filters)
        removed_volumes: list[str] = []
        if volumes:
            removed_volumes, volume_bytes = self.prune_volumes(
                filters={k: v for k, v in (filters or {}).items() if k != "until"}
            )
            freed += volume_bytes
        images, image_bytes = self.prune_images(all=all, filters=filters)
        return SystemPruneReport(containers, networks, removed_volumes, images, freed + image_bytes)

    # --------------------------------------------------------------------------------- system
    @abc.abstractmethod
    def info(self) -> JSONDocument:
        """``GET /info``."""

    @abc.abstractmethod
    def version(self) -> JSONDocument:
        """``GET /version``."""

    @abc.abstractmethod
    def disk_usage(self) -> list[JSONDocument]:
        """``docker system df`` rows: bytes by kind and what a prune reclaims."""

    @abc.abstractmethod
    def reset(self) -> None:
        """``podman system reset``: remove every container (running ones are killed), image, volume and
        network of the engine and everything it made on the host (bridges, nft table, mounts, cgroup
        folders, state directories); its settings stay. Asking for confirmation is the caller's job."""

    @abc.abstractmethod
    def events(
        self,
        *,
        since: float | None = None,
        until: float | None = None,
        filters: dict[str, list[str]] | None = None,
        follow: bool = True,
    ) -> EventStream: ...


# ===================================================================================== the local engine ====


def local_engine(root: str | None = None) -> Engine:
    """The in-process engine over ``root`` (default: $DOCKYARD_ROOT or /var/lib/dockyard)."""
    from core.config import Config
    from core.engine import LocalEngine

    return LocalEngine(Config.load(root=root))


def remote_selected(host: str | None = None, context: str | None = None) -> bool:
    """Whether the flags, the environment or docker's config choose an engine other than the in-process one
    (``-H``, ``--context``, ``$DOCKER_HOST``, ``$DOCKER_CONTEXT``, a ``currentContext``). Cheap: no import."""
    import os

    if host or context or os.environ.get("DOCKER_HOST") or os.environ.get("DOCKER_CONTEXT"):
        return True
    config = os.environ.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")
    try:
        with open(os.path.join(config, "config.json"), "rb") as f:
            return b'"currentContext"' in f.read()
    except OSError:
        return False


def dial_ahead(host: str | None = None, context: str | None = None, connections: int = 1) -> None:
    """Start connecting to the engine the flags, the environment or docker's config choose, before the
    command needs it: an ssh engine's handshakes (0.1-0.3 s each, ``connections`` of them at once) then
    overlap the caller's own start-up and each other. Nothing for the in-process engine or a socket (a
    connection there is immediate); a choice that cannot be used is left for :func:`engine_for` to report."""
    if not remote_selected(host, context):
        return
    from core.errors import DockyardError
    from core.remote.contexts import endpoint_for

    try:
        endpoint = endpoint_for(host=host, context=context)
        if endpoint is not None and endpoint.scheme == "ssh":
            from core.remote.ssh import dial_ahead as dial

            dial(endpoint, connections)
    except DockyardError:
        pass


def engine_for(
    *,
    root: str | None = None,
    host: str | None = None,
    context: str | None = None,
    tls: bool = False,
    tlsverify: bool | None = None,
    tlscacert: str | None = None,
    tlscert: str | None = None,
    tlskey: str | None = None,
) -> Engine:
    """The engine the docker CLI's rules choose: ``-H``/``--host`` (with ``--tls``, ``--tlsverify`` and the
    cert flags, or ``$DOCKER_TLS_VERIFY``/``$DOCKER_CERT_PATH``), ``--context``, ``$DOCKER_HOST``,
    ``$DOCKER_CONTEXT``, docker's ``currentContext``; with none of them (or the "default" context and no
    host), the in-process engine over ``root``. A remote one is a Docker Engine API client
    (:mod:`core.remote`), imported only then."""
    if remote_selected(host, context):
        from core.remote.contexts import endpoint_for
        from core.remote.engine import RemoteEngine

        endpoint = endpoint_for(
            host=host,
            context=context,
            tls=tls,
            tlsverify=tlsverify,
            tlscacert=tlscacert,
            tlscert=tlscert,
            tlskey=tlskey,
        )
        if endpoint is not None:
            return RemoteEngine(endpoint)
    return local_engine(root)


def docker_contexts() -> Any:
    """The docker CLI's context store (``dockyard context``): :mod:`core.remote.contexts`, whose functions
    read and write ``$DOCKER_CONFIG/contexts`` and ``config.json`` as the docker CLI does."""
    from core.remote import contexts

    return contexts


def engine_targets(current: Engine | None = None) -> list[EngineTarget]:
    """Every engine the workbench can show (its Engines pane): docker's contexts, the ``-H`` that
    ``current`` talks to, the in-process engine (:func:`core.remote.fleet.targets`)."""
    from core.remote.fleet import targets

    return targets(current)


def open_engine(target: EngineTarget, root: str | None = None) -> Engine:
    """An engine for one of :func:`engine_targets` (no connection is made until it is used)."""
    from core.remote.fleet import open_engine as open_

    return open_(target, root)


def engine_url(engine: Engine) -> str:
    """Where ``engine`` is: its endpoint's URL, or "in-process"."""
    from core.remote.fleet import engine_url as url

    return url(engine)


def probe_engine(engine: Engine, timeout: float = 3.0) -> EngineProbe:
    """One look at ``engine`` (kind, version, counts) within ``timeout``, or why it is unreachable."""
    from core.remote.fleet import probe

    return probe(engine, timeout)


def watch_engine(
    engine: Engine,
    on_state: Callable[[EngineProbe, float], object],
    on_event: Callable[[Event], object],
    *,
    first: float = 1.0,
    most: float = 30.0,
    light: bool = False,
) -> Any:
    """Follow ``engine``'s events in a thread of its own, reconnecting with backoff when the connection is
    lost (:class:`core.remote.fleet.EngineWatch`; call ``start()``, ``retry()``, ``stop()``). ``light``:
    each look asks only whether it answers (``/version``), not its counts."""
    from core.remote.fleet import EngineWatch

    return EngineWatch(engine, on_state, on_event, first=first, most=most, light=light)


# ====================================================================== pure parsers, for the faces ====
# The faces parse text the way docker's CLI does, with core's own parsers (one implementation each). They are
# re-exported here, imported on first use, so that importing this module stays free.


def parse_reference(text: str) -> Reference:
    """An image reference, normalised as docker does ("busybox" -> docker.io/library/busybox:latest)."""
    from core.images.reference import parse_reference as parse

    return parse(text)


def parse_bytes(text: str) -> int:
    """A size as docker's flags take it: "64m", "1g", "512" (bytes)."""
    from core.units import parse_bytes as parse

    return parse(text)


def parse_filters(items: Sequence[str]) -> dict[str, list[str]]:
    """``-f KEY=VALUE`` flags as docker's CLI reads them (the key lower-cased, both trimmed)."""
    if not items:  # most lists have none: spares the filters module's import
        return {}
    from core.filters import parse_filter_flags

    return parse_filter_flags(items)


def filters_from_json(text: str) -> dict[str, list[str]]:
    """The Engine API's ``filters`` parameter (``{"key": ["v"]}``, or the older ``{"key": {"v": true}}``)."""
    from core.filters import from_json

    return from_json(text)


def human_duration(seconds: float) -> str:
    """docker's units.HumanDuration: "Less than a second", "3 minutes", "About an hour", "2 weeks"."""
    from core.dockerjson import human_duration as text

    return text(seconds)


def container_status_text(c: ContainerSummary, now: float) -> str:
    """docker's Status of a container ("Up 5 seconds (healthy)", "Exited (0) 3 hours ago") at ``now`` (epoch
    seconds)."""
    from core.dockerjson import container_status_text as text

    return text(c, now)


def parse_duration(text: str) -> int:
    """A duration as docker's flags take it (Go's time.ParseDuration: "30s", "1m30s", "-5ms"), in
    nanoseconds; InvalidArgument with Go's message otherwise."""
    from core.containers.health import parse_go_duration

    return parse_go_duration(text)


def parse_since(text: str, now: float) -> float:
    """A time as ``--since``/``--until`` take it: RFC 3339, a Unix timestamp, or a duration ago ("10m")."""
    from core.logs import parse_since as parse

    return parse(text, now)


def parse_bind(spec: str) -> Mount:
    """``-v``'s ``SRC:TARGET[:OPTIONS]`` (Docker's ``HostConfig.Binds`` entry) as a mount."""
    from core.dockerjson import parse_bind as parse

    return parse(spec)


def tmpfs_mount(target: str, options: str) -> Mount:
    """``--tmpfs TARGET:OPTIONS`` (Docker's ``HostConfig.Tmpfs`` entry) as a mount."""
    from core.dockerjson import tmpfs_mount as parse

    return parse(target, options)


def check_request(request: ContainerCreate) -> None:
    """What is wrong with a create request whatever the host (the run form checks as the user types); the
    engine makes the same checks, and the host's, when the container is created."""
    from core.containers.validate import check_request as check

    check(request)


def create_warnings(request: ContainerCreate) -> list[str]:
    """The warnings that go with creating ``request`` (docker's ``Warnings`` of a create)."""
    from core.containers.validate import create_warnings as warnings

    return warnings(request)


def rlimit_names() -> frozenset[str]:
    """The names ``--ulimit`` accepts."""
    from core.runtime.spec import RLIMIT_NAMES

    return frozenset(RLIMIT_NAMES)


def client_version() -> str:
    """This program's version (``dockyard --version``; the engine's own is in :meth:`Engine.version`)."""
    from core.system import dockyard_version

    return dockyard_version()


def prepare_local_start(root: str | None, *, fork: bool) -> PreparedStart | None:
    """The local engine's :meth:`Engine.prepare_start`, callable before anything else is imported: ``run``
    calls it first thing, so the supervisor's start-up overlaps the command's own imports. ``fork`` only
    from a process that has nothing but the interpreter in it (see ``ShimLauncher``). None if it could not
    be done: the start then launches the supervisor itself, and reports any problem properly."""
    try:
        # nothing but os and sys: core.config alone takes ~10 ms to import, which the shim can spend starting
        from core.locations import root_dir, run_dir
        from core.supervisor.launcher import ShimLauncher

        PreparedStart.register(ShimLauncher)  # virtually: the launcher itself stays free of core imports
        return ShimLauncher(root_dir(root), run_dir(), fork=fork)  # type: ignore[return-value]
    except Exception:
        return None
