"""LocalEngine — the in-process implementation of :class:`core.interface.Engine`. Thin: it sequences the
rooms under core/, holding no logic of its own."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from core.config import Config
from core.errors import InvalidArgument, InvalidReference
from core.images.reference import Reference, parse_reference
from core.images.store import ImageRecord, ImageStore
from core.interface import Engine, PreparedStart
from core.models import (
    LIVE_STATES,
    RUNNING_STATES,
    STOPPED_STATES,
    ContainerCreate,
    ContainerStats,
    ContainerSummary,
    ContainerUpdate,
    Event,
    ImageSummary,
    LogLine,
    NetworkSummary,
    PortBinding,
    PullProgress,
    PullResult,
    PushResult,
    RemovedImage,
)
from core.storage.layers import LayerStore

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~2 ms of a start)
if TYPE_CHECKING:
    from typing import Any, BinaryIO

    from core.containers.execs import ExecStore
    from core.containers.lifecycle import Lifecycle
    from core.containers.store import ContainerRecord
    from core.filters import ContainerFacts
    from core.images.manage import ImageUsers
    from core.interface import Filters, PreparedStart
    from core.models import BuildEvent, BuildOptions, BuildResult, ExecConfig, HistoryEntry, Volume
    from core.network.manager import NetworkManager
    from core.runtime.exec import ExecHandle
    from core.streams import AttachStream, ExecStream, LocalEventStream, LocalLogStream, LocalStatsStream
    from core.supervisor.launcher import ShimLauncher
    from core.volumes import VolumeStore


Progress = Callable[[PullProgress], None]


class LocalEngine(Engine):
    def __init__(self, config: Config | None = None) -> None:
        self.config = config or Config.load()
        self.paths = self.config.paths
        self.images = ImageStore(self.paths)
        self.layers = LayerStore(self.paths)
        self._lifecycle: Lifecycle | None = None
        self._networks: NetworkManager | None = None
        self._execs: ExecStore | None = None

    @property
    def networks(self) -> NetworkManager:
        if self._networks is None:
            from core.network.manager import NetworkManager

            self._networks = NetworkManager(self.paths, self.config)
        return self._networks

    @property
    def lifecycle(self) -> Lifecycle:
        if self._lifecycle is None:
            from core.containers.lifecycle import Lifecycle
            from core.containers.store import ContainerStore

            self._lifecycle = Lifecycle(
                self.paths,
                ContainerStore(self.paths),
                self.layers,
                self.volume_store,
                cgroup_parent=self.config.cgroup_parent,
                config=self.config,
            )
        return self._lifecycle

    @property
    def volume_store(self) -> VolumeStore:
        from core.volumes import VolumeStore

        return VolumeStore(self.paths)

    # ------------------------------------------------------------------ images

    def pull(
        self, reference: str, *, platform: str | None = None, progress: Progress | None = None
    ) -> PullResult:
        from core.images.access import open_client
        from core.images.pull import Puller

        ref = parse_reference(reference)
        with open_client(self.config, ref) as client:
            pulled = Puller(self.config, self.images, self.layers).pull(
                client, ref, platform=platform, progress=progress
            )
        self._emit("image", "pull", str(ref), name=str(ref))
        return PullResult(str(ref), pulled.manifest_digest, self._summary(pulled.record), pulled.new)

    def list_images(self, *, all: bool = False, filters: Filters | None = None) -> list[ImageSummary]:
        users = self._image_users()
        records = {r.id: r for r in self.images.records()}
        out = [self._summary(r, users) for r in records.values()]
        hidden = self.intermediate_images()
        if not all:  # docker hides intermediate images (untagged parents of other images) without -a
            out = [s for s in out if s.repo_tags or s.id not in hidden]
        out.sort(key=lambda s: s.created, reverse=True)
        if not filters:
            return out
        from core.filters import select_images

        def labels(img: ImageSummary) -> dict[str, str]:
            return dict((self.image_config(records[img.id]).get("config") or {}).get("Labels") or {})

        return select_images(
            out,
            filters,
            labels=labels,
            resolve=self._filter_image,
            has_children=lambda img: img.id in hidden,
        )

    def _filter_image(self, name: str) -> ImageSummary:
        """An image a filter names (``before=``, ``since=``): docker's message when there is none."""
        from core.errors import ImageNotFound, InvalidFilter

        try:
            return self.image(name)
        except ImageNotFound as err:
            raise InvalidFilter(str(err)) from None

    def image(self, name: str) -> ImageSummary:
        return self._summary(self.images.resolve(name))

    def inspect_image(self, name: str) -> dict[str, Any]:
        from core.dockerjson import image_to_docker
        from core.images.commit import get_parent

        record = self.images.resolve(name)
        diffs = [str(self.layers.diff_dir(layer.chain_id)) for layer in reversed(record.layers)]
        graph: dict[str, str] = {}
        if diffs:
            top = self.layers.diff_dir(record.layers[-1].chain_id).parent
            graph = {"MergedDir": str(top / "merged"), "UpperDir": diffs[0], "WorkDir": str(top / "work")}
            if len(diffs) > 1:
                graph["LowerDir"] = ":".join(diffs[1:])
        return image_to_docker(
            image_id=record.id,
            repo_tags=[parse_reference(t).familiar() for t in record.repo_tags],
            repo_digests=[_familiar_digest(d) for d in record.repo_digests],
            parent=get_parent(self.images, record.id) or "",
            image_config=self.image_config(record),
            size=record.size,
            graph_data=graph,
        )

    def image_config(self, record: ImageRecord) -> dict[str, Any]:
        cfg: dict[str, Any] = json.loads(self.images.read_blob(record.config_digest))
        return cfg

    def tag_image(self, source: str, target: str) -> None:
        try:
            ref = parse_reference(target)
        except InvalidReference as err:  # docker's words
            raise InvalidReference(
                f'Error parsing reference: "{target}" is not a valid repository/tag: {err}'
            ) from err
        if ref.digest:
            raise InvalidArgument(f"refusing to create a tag with a digest reference: {target}")
        with self.images.lock():
            record = self.images.resolve(source)
            self.images.add_tag(record, ref)
        self._emit("image", "tag", record.id, name=str(ref))

    def remove_image(self, name: str, *, force: bool = False) -> RemovedImage:
        from core.images.manage import remove_image

        removed = remove_image(self.images, self.layers, name, force=force, users=self._image_holders())
        self._emit_removed(removed)
        return removed

    def prune_images(self, *, all: bool = False, filters: Filters | None = None) -> tuple[RemovedImage, int]:
        import time

        from core.filters import prune_images_filter
        from core.images.manage import prune_images

        dangling_only, chosen = prune_images_filter(filters, time.time(), all=all)

        def select(record: ImageRecord) -> bool:
            if not filters:
                return True
            labels = (self.image_config(record).get("config") or {}).get("Labels") or {}
            return chosen(record.created, labels)

        removed, freed = prune_images(
            self.images,
            self.layers,
            all_unused=not dangling_only,
            in_use=self._image_users(),
            keep_layers=self._container_layers(),
            select=select,
        )
        self._emit_removed(removed)
        if removed.deleted or removed.untagged:
            self._emit("image", "prune", "", reclaimed=str(freed))
        return removed, freed

    def _emit_removed(self, removed: RemovedImage) -> None:
        # docker's actions: "untag" per name removed, "delete" per image gone
        for name in removed.untagged:
            self._emit("image", "untag", name, name=name)
        for image_id in removed.images:
            self._emit("image", "delete", image_id)

    def push(
        self, reference: str, *, progress: Progress | None = None, chunk_size: int | None = None
    ) -> PushResult:
        from core.images.access import open_client
        from core.images.push import push

        ref = parse_reference(reference)
        record = self.images.resolve(reference)
        with open_client(self.config, ref) as client:
            digest = push(client, self.images, record, ref, progress, chunk_size=chunk_size)
        self._emit("image", "push", str(ref), name=str(ref))
        return PushResult(str(ref), digest, len(self.images.read_blob(record.manifest_digest)))

    def save_images(self, names: list[str], out: BinaryIO) -> None:
        from core.images.archive import save

        items = []
        for name in names:
            record = self.images.resolve(name)
            tags = [name] if not record.hex.startswith(name.removeprefix("sha256:")) else []
            items.append((record, [str(parse_reference(t)) for t in tags]))
        save(self.images, items, out)
        for record, _ in items:
            self._emit("image", "save", record.id)

    def load_images(self, src: BinaryIO, *, progress: Progress | None = None) -> list[str]:
        from core.images.archive import load

        loaded = load(self.images, self.layers, src, progress)
        for name in loaded:
            self._emit("image", "load", name, name=name)
        return loaded

    def login(self, server: str, username: str, password: str) -> str:
        """Check the credentials against the registry, then store them like docker; returns the key used."""
        from core.images import credentials
        from core.images.reference import registry_scheme
        from core.images.registry import Credentials, RegistryClient

        ref = _server_reference(server)
        scheme = registry_scheme(ref.domain, self.config.insecure_registries)
        with RegistryClient(
            ref.api_host, scheme=scheme, credentials=Credentials(username, password)
        ) as client:
            client.ping()
        credentials.store(self.config.docker_config_file, ref.credential_key, username, password)
        return ref.credential_key

    def logout(self, server: str) -> bool:
        from core.images import credentials

        ref = _server_reference(server)
        return credentials.erase(self.config.docker_config_file, ref.credential_key)

    # -------------------------------------------------------------- containers

    def create_container(self, req: ContainerCreate, *, progress: Progress | None = None) -> ContainerSummary:
        from core.containers.validate import check_create
        from core.errors import ImageNotFound

        check_create(req)  # before a pull: a bad request costs nothing
        record = None
        if req.pull != "always":
            try:
                record = self.images.resolve(req.image)
            except ImageNotFound:
                if req.pull == "never":
                    raise
        if record is not None and req.platform and not self._platform_fits(record, req.platform):
            # another platform's image under this name: docker pulls the one asked for, or says why not
            if req.pull == "never":
                from core.images.reference import normalize_platform

                actual = normalize_platform(self.image_config(record)) or ("unknown", "", "")
                raise ImageNotFound(
                    f"image with reference {req.image} was found but does not match the specified platform:"
                    f" wanted {req.platform}, actual: {'/'.join(p for p in actual[:2] if p)}"
                )
            record = None
        if record is None:
            result = self.pull(req.image, platform=req.platform or None, progress=progress)
            record = self.images.resolve(result.image.id)
        cfg = self.image_config(record)
        name = req.image
        rec = self.lifecycle.create(req, name, record.id, cfg, [layer.chain_id for layer in record.layers])
        return self._container_summary(rec)

    def _platform_fits(self, record: ImageRecord, platform: str) -> bool:
        from core.images.reference import normalize_platform, parse_platform

        have = normalize_platform(self.image_config(record))
        return have is None or have[:2] == parse_platform(platform)[:2]

    def prepare_start(self) -> PreparedStart:
        """Launch a shim ahead of its container (it warms up while the caller creates the container)."""
        from core.supervisor.launcher import ShimLauncher

        PreparedStart.register(ShimLauncher)  # virtually: the launcher itself stays free of core imports
        return ShimLauncher(self.paths.root, self.paths.run)  # type: ignore[return-value]

    def expect_requests(self) -> None:
        """Keeps the kernel's fast path for cgroup moves open for a moment: an exec among the coming
        requests then moves its process in ~0.1 ms instead of 6-16 (see ``cgroupfs.MovePrimer``)."""
        from core.runtime.cgroupfs import move_primer

        move_primer().hold()

    def start_container(self, name: str, *, prepared: PreparedStart | None = None) -> None:
        self.lifecycle.start(name, launcher=_launcher(prepared))

    def start_attached(
        self,
        name: str,
        *,
        stdin: bool = False,
        tty_size: tuple[int, int] | None = None,
        prepared: PreparedStart | None = None,
    ) -> AttachStream:
        from core.runtime import protocol

        rec = self.lifecycle.get(name)
        if rec.state.status not in RUNNING_STATES:
            # docker's order: the client attaches, then the container starts (create, attach, start, die)
            self._emit("container", "attach", rec.id, name=rec.name, image=rec.image)
        handle = self.lifecycle.start(rec.id, attach=True, launcher=_launcher(prepared))
        if handle.already_running:
            return self.attach_container(rec.id, stdin=stdin)
        hello: dict[str, Any] = {"op": "attach", "stdin": stdin}
        if tty_size:
            hello.update(rows=tty_size[0], cols=tty_size[1])
        # connected before the shim runs the command (it waits for one client): nothing it prints is lost
        sock = protocol.connect(self.lifecycle.sock(handle.record.id), hello)
        try:
            handle.result()
        except BaseException:
            sock.close()
            raise
        return self._attach_stream(handle.record, sock)

    def attach_container(self, name: str, *, stdin: bool = False) -> AttachStream:
        from core.errors import Conflict
        from core.runtime import protocol

        rec = self.lifecycle.get(name)
        if rec.state.status not in RUNNING_STATES:
            raise Conflict(f"You cannot attach to a stopped container {rec.name}, start it first")
        sock = protocol.connect(self.lifecycle.sock(rec.id), {"op": "attach", "stdin": stdin})
        self._emit("container", "attach", rec.id, name=rec.name, image=rec.image)
        return self._attach_stream(rec, sock)

    def resize_container(self, name: str, rows: int, cols: int) -> None:
        from core.runtime import protocol

        rec = self.lifecycle.get(name)
        if rec.state.status not in RUNNING_STATES or rows <= 0 or cols <= 0:
            return
        # the shim applies a size given in the hello at once (a frame after it could be dropped with the
        # connection), so connect, say it, and go
        protocol.connect(self.lifecycle.sock(rec.id), {"op": "attach", "rows": rows, "cols": cols}).close()

    def _attach_stream(self, rec: ContainerRecord, sock: Any) -> AttachStream:
        from core.streams import AttachStream

        def kill(signum: int) -> None:
            self.lifecycle.kill(rec.id, signum)

        return AttachStream(sock, tty=bool(rec.process.get("tty")), kill=kill)

    def list_containers(self, *, all: bool = False, filters: Filters | None = None) -> list[ContainerSummary]:
        records = sorted(self.lifecycle.all(observed=True), key=lambda r: r.created, reverse=True)
        if filters:
            from core.filters import select_containers

            by_id = {r.id: r for r in records}
            chosen = select_containers(
                [_container_facts(r) for r in records], filters, all=all, image_family=self._image_family
            )
            return [self._container_summary(by_id[c.id]) for c in chosen]
        out = [self._container_summary(r) for r in records]
        if not all:
            out = [c for c in out if c.status in RUNNING_STATES]
        return out

    def _image_family(self, name: str) -> set[str] | None:
        """The id of the image ``name`` names and those of every image built on it (``ps -f ancestor=``)."""
        from core.errors import DockyardError
        from core.images.commit import parents_dir

        try:
            root = self.images.resolve(name).id
        except DockyardError:
            return None
        children: dict[str, list[str]] = {}
        try:
            entries = os.listdir(parents_dir(self.images))
        except FileNotFoundError:
            entries = []
        for child in entries:
            try:
                parent = (parents_dir(self.images) / child).read_text().strip()
            except OSError:
                continue
            children.setdefault(parent, []).append(f"sha256:{child}")
        family, todo = set(), [root]
        while todo:
            image_id = todo.pop()
            if image_id not in family:
                family.add(image_id)
                todo += children.get(image_id, [])
        return family

    def container(self, name: str) -> ContainerSummary:
        return self._container_summary(self.lifecycle.observed(self.lifecycle.get(name, shared=True)))

    def stop_container(self, name: str, timeout: float | None = None) -> ContainerSummary:
        return self._container_summary(self.lifecycle.stop(name, timeout))

    def kill_container(self, name: str, signal: int | str = "SIGKILL") -> ContainerSummary:
        from core.runtime.signals import parse_signal

        return self._container_summary(self.lifecycle.kill(name, parse_signal(signal)))

    def restart_container(self, name: str, timeout: float | None = None) -> ContainerSummary:
        self.lifecycle.stop(name, timeout)
        self.lifecycle.start(name)
        return self.container(name)

    def remove_container(self, name: str, *, force: bool = False, volumes: bool = False) -> ContainerSummary:
        return self._container_summary(self.lifecycle.remove(name, force=force, volumes=volumes))

    def wait_container(self, name: str) -> int:
        return self.lifecycle.wait(name)

    def rename_container(self, name: str, new_name: str) -> None:
        self.lifecycle.rename(name, new_name)

    def pause_container(self, name: str) -> None:
        self.lifecycle.pause(name)

    def unpause_container(self, name: str) -> None:
        self.lifecycle.unpause(name)

    def update_container(self, name: str, update: ContainerUpdate) -> list[str]:
        self.lifecycle.update(name, update)
        return []

    def container_changes(self, name: str) -> list[dict[str, Any]]:
        from core.images.commit import diff_inputs
        from core.storage.diff import changes

        rec = self.lifecycle.get(name)
        upper, lowers, mountpoints = diff_inputs(self.paths, self.layers, rec)
        return [{"Path": p, "Kind": k} for p, k in changes(upper, lowers=lowers, mountpoints=mountpoints)]

    def prune_containers(self, *, filters: Filters | None = None) -> tuple[list[str], int]:
        """Remove every stopped container; (ids, bytes freed from their writable layers)."""
        import time

        from core.filters import prune_containers_filter
        from core.storage.usage import disk_usage

        chosen = prune_containers_filter(filters, time.time())
        removed, freed = [], 0
        for rec in self.lifecycle.all():
            if rec.state.status in STOPPED_STATES and chosen(rec.created, rec.process.get("labels", {})):
                size = disk_usage(self.paths.container(rec.id) / "upper")
                self.lifecycle.remove(rec.id)
                removed.append(rec.id)
                freed += size
        return removed, freed

    def inspect_container(self, name: str, *, size: bool = False) -> dict[str, Any]:
        from core.containers.inspect import inspect_container

        rec = self.lifecycle.observed(self.lifecycle.get(name, shared=True))  # read only
        image_size = 0
        if size:
            found = self.images.get(rec.image_id)
            image_size = found.size if found is not None else 0
        return inspect_container(self.paths, rec, size=size, image_size=image_size, execs=self.execs)

    def container_logs(
        self,
        name: str,
        *,
        follow: bool = False,
        since: float | None = None,
        until: float | None = None,
        tail: int | None = None,
        timestamps: bool = True,  # the json-file log has them anyway
    ) -> LocalLogStream:
        from core.logs import read_logs
        from core.streams import LocalLogStream

        rec = self.lifecycle.get(name)
        if rec.run.host_config.log_config.type == "none":
            from core.errors import InvalidArgument

            raise InvalidArgument("configured logging driver does not support reading")
        path = self.paths.container(rec.id) / f"{rec.id}-json.log"
        lc = self.lifecycle

        def produce(closed: Callable[[], bool]) -> Iterator[LogLine]:
            def stopped() -> bool:
                if closed():
                    return True
                latest = lc.store.load(rec.id)
                return latest is None or lc.reconcile(latest).state.status not in RUNNING_STATES

            return read_logs(
                path, since=since, until=until, tail=tail, follow=follow, stop=stopped if follow else closed
            )

        return LocalLogStream(produce)

    def container_log_path(self, name: str) -> Path:
        """The container's json-file log, for viewers that index it lazily and read it with pread (the
        TUI's log view). Read-only: the shim is the only writer."""
        rec = self.lifecycle.get(name)
        return self.paths.container(rec.id) / f"{rec.id}-json.log"

    def container_top(self, name: str, ps_args: str = "") -> tuple[list[str], list[list[str]]]:
        from core.containers.top import top, top_ps

        rec = self.lifecycle.get(name)
        if rec.state.status not in LIVE_STATES:
            from core.errors import Conflict

            raise Conflict(f"Container {rec.id} is not running")
        if ps_args:
            return top_ps(rec.id, self.lifecycle.cgroup_parent_of(rec), ps_args)
        return top(rec.id, self.lifecycle.cgroup_parent_of(rec))

    def container_stats(self, name: str) -> ContainerStats:
        from core.containers.top import stats

        rec = self.lifecycle.get(name)
        return stats(
            rec.id,
            rec.name,
            self.lifecycle.cgroup_parent_of(rec),
            running=rec.state.status in LIVE_STATES,
            pid=rec.state.pid,
            own_net=rec.run.host_config.network_mode != "host",
        )

    def stats_stream(self, name: str, *, interval: float = 1.0) -> LocalStatsStream:
        """A sample every ``interval`` seconds while the container exists (a stopped one reads zeros)."""
        import time

        from core.streams import LocalStatsStream

        cid = self.lifecycle.get(name).id

        def produce(closed: Callable[[], bool]) -> Iterator[ContainerStats]:
            while not closed():
                started = time.monotonic()
                yield self.container_stats(cid)
                while not closed() and time.monotonic() - started < interval:
                    time.sleep(min(0.1, interval))

        return LocalStatsStream(produce)

    def copy_from_container(self, name: str, src: str, dest: str, *, archive: bool = False) -> None:
        """``cp CONTAINER:SRC DEST`` (for a tar on stdout see :meth:`archive_from_container`)."""
        from core.containers import copy

        copy.copy_to_host(self.paths, self.layers, self.lifecycle.get(name), src, dest, archive=archive)

    def archive_from_container(self, name: str, src: str, sink: BinaryIO) -> None:
        from core.containers import copy

        copy.copy_out(self.paths, self.layers, self.lifecycle.get(name), src, sink)

    def copy_to_container(self, name: str, src: str, dest: str, *, archive: bool = False) -> None:
        from core.containers import copy

        copy.copy_from_host(self.paths, self.layers, self.lifecycle.get(name), src, dest, archive=archive)

    def extract_to_container(self, name: str, dest: str, source: BinaryIO, *, archive: bool = False) -> None:
        from core.containers import copy

        copy.copy_in(self.paths, self.layers, self.lifecycle.get(name), dest, source, archive=archive)

    @property
    def execs(self) -> ExecStore:
        if self._execs is None:
            from core.containers.execs import ExecStore

            self._execs = ExecStore(self.paths)
        return self._execs

    def create_exec(self, container: str, config: ExecConfig) -> str:
        from core.runtime.cgroupfs import move_primer
        from core.runtime.exec import check_exec_target

        rec = self.lifecycle.get(container, shared=True)  # read only
        check_exec_target(rec.id, rec.state.status, rec.state.pid)
        if not config.cmd or not config.cmd[0]:
            raise InvalidArgument("no command given: exec needs a command to run in the container")
        exec_id = self.execs.create(rec.id, config).id
        move_primer().expect()  # its start is a round trip away: its cgroup moves are made cheap meanwhile
        return exec_id

    def start_exec(self, exec_id: str) -> ExecStream:
        from core.errors import Conflict
        from core.runtime.cgroupfs import move_primer
        from core.streams import ExecStream

        store = self.execs
        rec = store.get(exec_id)
        if rec.started:
            state = "is already running" if rec.running else "has already run"
            raise Conflict(f"exec {rec.id} {state}")
        config = rec.config
        try:
            handle = self.exec_process(rec.container_id, config, status_path=store.status_path(rec))
        finally:
            move_primer().started()
        rec.pid, rec.started = handle.pid, True
        try:
            store.save(rec)
        except BaseException:
            handle.kill(9)
            handle.close()
            raise
        return ExecStream(handle, tty=config.tty, stdin=config.attach_stdin, detach=config.detach)

    def inspect_exec(self, exec_id: str) -> dict[str, Any]:
        return self.execs.get(exec_id).inspect()

    def exec_process(
        self, container: str, config: ExecConfig, *, status_path: Path | None = None
    ) -> ExecHandle:
        """The exec'd process as the runtime hands it over (its pid, pty or pipes, a pidfd): what
        :meth:`exec` streams, for callers inside core that need the process itself."""
        from core.runtime import exec as container_exec

        rec = self.lifecycle.get(container, shared=True)  # read only
        target = container_exec.Target(
            rec.id,
            rec.name,
            rec.state.status,
            rec.state.pid,
            self.paths.container(rec.id),
            self.paths.shim_socket(rec.id),
        )
        opts = container_exec.ExecOptions(
            list(config.cmd),
            list(config.env),
            config.user,
            config.working_dir,
            config.tty,
            config.attach_stdin,
            config.detach,
            config.privileged,
            config.console_size,
            status_path,
        )
        return container_exec.exec_in_container(target, opts)

    # ---------------------------------------------------------------- networks (core.network)

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
    ) -> NetworkSummary:
        mgr = self.networks
        net = mgr.create(
            name,
            driver=driver,
            subnet=subnet,
            gateway=gateway,
            internal=internal,
            labels=labels,
            options=options,
        )
        self._emit("network", "create", net.id, name=net.name, type=net.driver)
        return next(n for n in mgr.summaries() if n.id == net.id)

    def list_networks(self, *, filters: Filters | None = None) -> list[NetworkSummary]:
        if filters:
            from core.filters import select_networks

            return select_networks(self.networks.summaries(), filters)
        return self.networks.summaries()

    def inspect_network(self, name: str) -> dict[str, Any]:
        return self.networks.inspect(name)

    def remove_network(self, name: str) -> None:
        net = self.networks.remove(name)
        self._emit("network", "destroy", net.id, name=net.name, type=net.driver)

    def prune_networks(self, *, filters: Filters | None = None) -> list[str]:
        """Remove the user networks no container uses; their names."""
        import time

        from core.filters import prune_networks_filter

        chosen = prune_networks_filter(filters, time.time())
        return self.networks.prune(select=lambda n: chosen(n.created, n.labels))

    def connect_network(
        self, network: str, container: str, *, aliases: list[str] | None = None, ip: str | None = None
    ) -> None:
        rec = self.lifecycle.get(container)
        self.networks.connect(network, rec, aliases=aliases, ip=ip)
        self._emit("network", "connect", network, container=rec.id)

    def disconnect_network(self, network: str, container: str, *, force: bool = False) -> None:
        rec = self.lifecycle.get(container)
        self.networks.disconnect(network, rec, force=force)
        self._emit("network", "disconnect", network, container=rec.id)

    def container_ports(self, name: str) -> list[PortBinding]:
        """The published ports of a running container (``docker port``); none when it is not running."""
        return list(self.container(name).ports)

    # ----------------------------------------------------------------- volumes

    def create_volume(
        self,
        name: str | None = None,
        *,
        labels: dict[str, str] | None = None,
        options: dict[str, str] | None = None,
    ) -> Volume:
        vol, new = self.volume_store.create(name, labels=labels, options=options)
        if new:
            self._emit("volume", "create", vol.name, driver="local")
        return vol

    def list_volumes(self, *, filters: Filters | None = None) -> list[Volume]:
        if filters:
            from core.filters import select_volumes

            users = self.volume_users() if "dangling" in filters else {}
            return select_volumes(self.volume_store.all(), filters, in_use=lambda name: name in users)
        return self.volume_store.all()

    def volume_size(self, name: str) -> int:
        """Bytes the volume's files take (walks its tree: call it off the UI thread)."""
        store = self.volume_store
        return store.size(store.get(name).name)

    def inspect_volume(self, name: str) -> dict[str, Any]:
        from core.dockerjson import volume_to_docker

        return volume_to_docker(self.volume_store.get(name))

    def volume_users(self) -> dict[str, list[str]]:
        users: dict[str, list[str]] = {}
        for rec in self.lifecycle.store.records():
            for m in rec.run.host_config.mounts:
                if m.type == "volume" and m.source:
                    users.setdefault(m.source, []).append(rec.name)
        return users

    def remove_volume(self, name: str, *, force: bool = False) -> None:
        # docker names the users by their ids
        users = [
            rec.id
            for rec in self.lifecycle.store.records()
            if any(m.type == "volume" and m.source == name for m in rec.run.host_config.mounts)
        ]
        self.volume_store.remove(name, in_use_by=users, force=force)
        self._emit("volume", "destroy", name, driver="local")

    def prune_volumes(self, *, all: bool = False, filters: Filters | None = None) -> tuple[list[str], int]:
        from core.filters import prune_volumes_filter

        chosen = prune_volumes_filter(filters, all=all)
        users = self.volume_users()
        removed, freed = [], 0
        for vol in self.volume_store.all():
            if vol.name in users or not chosen(vol):
                continue
            size = self.volume_store.size(vol.name)
            self.volume_store.remove(vol.name, in_use_by=[])
            removed.append(vol.name)
            freed += size
        return removed, freed

    # ------------------------------------------------------------------ system

    def info(self) -> dict[str, Any]:
        """``docker info``: what this engine is and what it holds."""
        from core.system import info

        return info(self.config, self.list_containers(all=True), len(self.list_images(all=True)))

    def version(self) -> dict[str, Any]:
        from core.system import version

        return version()

    def disk_usage(self) -> list[dict[str, Any]]:
        """``docker system df``: bytes by kind (images, containers, volumes) and what a prune reclaims."""
        from core.system import disk_usage

        return disk_usage(
            self.config,
            self.images,
            self.layers,
            self.list_containers(all=True),
            self.list_volumes(),
            self.volume_users(),
            self.volume_size,
            keep_layers=self._container_layers(),
        )

    def reset(self) -> None:
        """``system reset``: every container, image, volume and network, and what the engine made on the
        host, goes (core.reset)."""
        from core.reset import reset

        reset(self.config, self.lifecycle, self.images, self.layers, self.volume_store, self.networks)

    # ------------------------------------------------------------------ events

    def events(
        self,
        *,
        since: float | None = None,
        until: float | None = None,
        filters: dict[str, list[str]] | None = None,
        follow: bool = True,
    ) -> LocalEventStream:
        from core.events import read_events
        from core.streams import LocalEventStream

        def produce(closed: Callable[[], bool]) -> Iterator[Event]:
            return read_events(
                self.paths, since=since, until=until, filters=filters or {}, follow=follow, stop=closed
            )

        return LocalEventStream(produce)

    def _emit(self, type_: str, action: str, id_: str, **attrs: str) -> None:
        try:
            import core.events as events

            events.emit(self.paths, type_, action, id_, attrs)
        except Exception:
            pass

    # ------------------------------------------------------- images you make

    def commit(
        self,
        container: str,
        reference: str | None = None,
        *,
        message: str = "",
        author: str = "",
        changes: list[str] | None = None,
        pause: bool = True,
    ) -> ImageSummary:
        """``docker commit``: the container's changes as a new layer on its image (frozen while read)."""
        from core.images.commit import CommitRequest, commit_container

        req = CommitRequest(container, reference, message, author, changes, pause)
        record = commit_container(self.lifecycle, self.images, self.layers, req)
        self._emit("container", "commit", self.lifecycle.get(container).id, imageID=record.id)
        return self._summary(record)

    def build(
        self, options: BuildOptions, *, progress: Callable[[BuildEvent], None] | None = None
    ) -> BuildResult:
        """Build a Dockerfile; ``progress`` gets each step, its RUN output and CACHED/DONE as they happen."""
        from core.build.executor import build

        if options.context_archive is not None:
            return self._build_from_archive(options, progress)
        result = build(self, options, progress)
        self._emit("image", "build", result.image_id)
        return result

    def _build_from_archive(
        self, options: BuildOptions, progress: Callable[[BuildEvent], None] | None
    ) -> BuildResult:
        """A context sent as a tar is unpacked (safely: it is a stranger's archive) into a directory that
        lives as long as the build."""
        import io
        import tempfile

        from core.images.importer import open_any
        from core.record import replace
        from core.storage import tarsafe

        assert options.context_archive is not None
        with tempfile.TemporaryDirectory(prefix="dockyard-context-") as tmp:
            context = Path(tmp)
            tarsafe.extract(open_any(io.BytesIO(options.context_archive)), context, preserve_owner=False)
            dockerfile = options.dockerfile
            if dockerfile is not None and not dockerfile.is_absolute():
                dockerfile = context / dockerfile
            return self.build(
                replace(options, context=context, dockerfile=dockerfile, context_archive=None),
                progress=progress,
            )

    def history(self, name: str) -> list[HistoryEntry]:
        from core.images.commit import history

        return history(self.images, self.layers, self.images.resolve(name))

    def export_container(self, name: str, out: BinaryIO) -> None:
        """Write the container's filesystem (its image's layers and its own changes) as a tar to ``out``."""
        from core.images.importer import export_container

        export_container(self.lifecycle, self.layers, name, out)

    def import_image(
        self,
        src: BinaryIO,
        reference: str | None = None,
        *,
        message: str = "",
        changes: list[str] | None = None,
        platform: str | None = None,
        source_name: str = "-",
    ) -> ImageSummary:
        """``docker import``: a tar (plain, gzip, zstd, bzip2, xz) as a one-layer image."""
        from core.images.importer import import_image

        record = import_image(
            self.images,
            self.layers,
            src,
            platform=platform or self.config.platform,
            reference=reference,
            message=message,
            changes=changes or [],
            source_name=source_name,
        )
        self._emit("image", "import", record.id)
        return self._summary(record)

    def intermediate_images(self) -> set[str]:
        """Ids of untagged images that other images were built on (``images`` hides them without ``-a``)."""
        from core.images.commit import intermediate_ids

        return intermediate_ids(self.images)

    # ---------------------------------------------------------------- helpers

    def _container_summary(self, rec: ContainerRecord) -> ContainerSummary:
        st = rec.state
        ports = [
            PortBinding(
                int(p.get("container_port", 0)),
                p.get("protocol", "tcp"),
                p.get("host_ip", ""),
                int(p.get("host_port", 0)),
            )
            for p in st.ports
            if st.status in RUNNING_STATES  # networks: ports exist while it runs
        ]
        if st.status in RUNNING_STATES and rec.run.host_config.network_mode not in ("host", "none"):
            # exposed ports that are not published show too, as docker's NetworkSettings.Ports has them
            published = {(p.container_port, p.protocol) for p in ports}
            for key in rec.process.get("exposed_ports") or []:
                port, _, proto = str(key).partition("/")
                if port.isdigit() and (int(port), proto or "tcp") not in published:
                    ports.append(PortBinding(int(port), proto or "tcp"))
        return ContainerSummary(
            id=rec.id,
            name=rec.name,
            image=rec.image,
            image_id=rec.image_id,
            # docker's list: Path, then each argument, in single quotes if it has a space
            command=" ".join(
                a if i == 0 or " " not in a else f"'{a}'" for i, a in enumerate(rec.process.get("args", []))
            ),
            created=rec.created,
            status=st.status,
            exit_code=st.exit_code if st.status in ("exited", "dead") else None,
            started_at=st.started_at,
            finished_at=st.finished_at,
            ports=ports,
            labels=dict(rec.process.get("labels", {})),
            pid=st.pid,
            health=str((st.health or {}).get("Status") or ""),
            ip_addresses={
                str(name): str((ep or {}).get("IPAddress") or "")
                for name, ep in ((st.network or {}).get("networks") or {}).items()
                if (ep or {}).get("IPAddress")
            }
            if st.status in RUNNING_STATES
            else {},
        )

    def _summary(self, record: ImageRecord, users: dict[str, list[str]] | None = None) -> ImageSummary:
        users = users if users is not None else self._image_users()
        return ImageSummary(
            id=record.id,
            repo_tags=[parse_reference(t).familiar() for t in record.repo_tags],
            repo_digests=[_familiar_digest(d) for d in record.repo_digests],
            created=record.created,
            size=record.size,
            containers=len(users.get(record.id, [])),
        )

    def _image_holders(self) -> ImageUsers:
        """The containers holding each image (all, and the running ones) and the layers they sit on."""
        from core.images.manage import ImageUsers

        out = ImageUsers()
        try:
            entries = list(self.paths.containers.iterdir())
        except FileNotFoundError:
            return out
        for entry in entries:
            try:
                cfg = json.loads((entry / "config.json").read_bytes())
            except (OSError, ValueError):
                continue
            image_id, cid = cfg.get("image_id"), cfg.get("id") or entry.name
            out.layers.update(cfg.get("layers") or [])
            if not image_id:
                continue
            out.containers.setdefault(image_id, []).append(cid)
            try:
                status = json.loads((entry / "state.json").read_bytes()).get("status")
            except (OSError, ValueError):
                status = None
            if status in RUNNING_STATES:
                out.running.setdefault(image_id, []).append(cid)
        return out

    def _image_users(self) -> dict[str, list[str]]:
        """image id -> names of the containers created from it."""
        users: dict[str, list[str]] = {}
        try:
            entries = list(self.paths.containers.iterdir())
        except FileNotFoundError:
            return users
        for entry in entries:
            try:
                cfg = json.loads((entry / "config.json").read_bytes())
            except (OSError, ValueError):
                continue
            image_id = cfg.get("image_id")
            if image_id:
                users.setdefault(image_id, []).append(cfg.get("name", entry.name[:12]))
        return users

    def _container_layers(self) -> set[str]:
        """Chain ids of the layers some container is made of (never an orphan, whatever the records say)."""
        used: set[str] = set()
        try:
            entries = list(self.paths.containers.iterdir())
        except FileNotFoundError:
            return used
        for entry in entries:
            try:
                layers = json.loads((entry / "config.json").read_bytes()).get("layers") or []
            except (OSError, ValueError, AttributeError):
                continue
            used.update(x for x in layers if isinstance(x, str))
        return used


def _container_facts(rec: ContainerRecord) -> ContainerFacts:
    """What ``ps -f`` looks at in a container's record (core.filters)."""
    from core.filters import ContainerFacts

    st = rec.state
    running = st.status in RUNNING_STATES
    mounts = []
    for m in rec.run.host_config.mounts:
        if m.type == "volume":
            mounts.append((m.source, "", m.target))
        elif m.type == "bind":
            mounts.append(("", m.source, m.target))
    networks: dict[str, str] = {}
    live = (st.network or {}).get("networks") or {} if running else {}
    if live:
        networks = {name: str((ep or {}).get("NetworkID", "")) for name, ep in live.items()}
    else:
        for name, _ in rec.run.joined():
            networks["bridge" if name == "default" else name] = ""
    ports: list[tuple[int, int, str]] = []
    if running:
        published = set()
        for p in st.ports:
            proto = str(p.get("protocol", "tcp"))
            ports.append((int(p.get("container_port", 0)), int(p.get("host_port", 0)), proto))
            published.add((int(p.get("container_port", 0)), proto))
        for text in rec.process.get("exposed_ports") or []:
            port, _, proto = str(text).partition("/")
            if port.isdigit() and (int(port), proto or "tcp") not in published:
                ports.append((int(port), 0, proto or "tcp"))
    from core.containers.health import status_of

    return ContainerFacts(
        id=rec.id,
        name=rec.name,
        status=st.status,
        exit_code=st.exit_code,
        started=bool(st.started_at),
        created=rec.created,
        image_id=rec.image_id,
        labels=dict(rec.process.get("labels", {})),
        mounts=mounts,
        networks=networks,
        ports=ports,
        health=status_of(st.health),
    )


def _launcher(prepared: PreparedStart | None) -> ShimLauncher | None:
    from core.supervisor.launcher import ShimLauncher

    if prepared is not None and not isinstance(prepared, ShimLauncher):
        raise InvalidArgument(f"{type(prepared).__name__} was not prepared by this engine")
    return prepared


def _familiar_digest(entry: str) -> str:
    name, _, digest = entry.rpartition("@")
    try:
        return f"{parse_reference(name).familiar_name}@{digest}"
    except InvalidArgument:
        return entry


def _server_reference(server: str) -> Reference:
    """``dockyard login [SERVER]``: no server means Docker Hub, like docker."""
    text = (server or "docker.io").strip()
    for prefix in ("https://", "http://"):
        text = text.removeprefix(prefix)
    text = text.split("/", 1)[0]
    if text in ("index.docker.io", "registry-1.docker.io"):
        text = "docker.io"
    return parse_reference(f"{text}/x")
