"""A fixed, in-memory stand-in for the Engine, for what must not depend on a real one: snapshot tests
(the same pixels every run) and the 500-container benchmark. It is a :class:`core.interface.Engine` (mypy
checks its methods against the interface), answers what the workbench reads with fixed records, refuses
the rest with an engine error, and never touches the kernel.

Times are relative to when the fake is made ("Up 3 minutes"), so snapshots stay stable."""

from __future__ import annotations

import hashlib
import json
import queue
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import tui.output
from core.dockerjson import volume_to_docker
from core.errors import Conflict, DockyardError, NotFound
from core.filters import (
    ContainerFacts,
    prune_networks_filter,
    select_containers,
    select_images,
    select_networks,
    select_volumes,
)
from core.interface import Engine, EventStream, LogStream
from core.models import (
    ContainerStats,
    ContainerSummary,
    Event,
    ImageSummary,
    LogLine,
    NetworkSummary,
    PortBinding,
    PullProgress,
    PullResult,
    Volume,
)
from core.record import replace


def _hex(seed: str) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()


def _ago(now: datetime, seconds: float) -> str:
    return (now - timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


IMAGES = [
    ("busybox:latest", 4_261_000, 3),
    ("nginx:1.27", 192_000_000, 2),
    ("postgres:16", 432_000_000, 1),
    ("<none>", 12_500_000, 0),
]
NAMES = ["web", "api", "db", "cache", "worker", "cron", "proxy", "queue", "search", "metrics"]


class EngineGone(DockyardError):
    """The fake's engine is down (what a remote engine says when its connection is lost)."""


class _NoEvents(EventStream):
    """Nothing ever happens in the fake: following waits until closed."""

    def __init__(self, follow: bool) -> None:
        self._closed = threading.Event()
        self._follow = follow

    def __iter__(self) -> Iterator[Event]:
        if self._follow:
            self._closed.wait()
        return iter(())

    def close(self) -> None:
        self._closed.set()


class _FakeEvents(EventStream):
    """What :meth:`FakeEngine.emit` announces, to a follower; ends when closed or when the fake goes down
    (a lost connection)."""

    def __init__(self) -> None:
        self._queue: queue.Queue[Event | None] = queue.Queue()

    def put(self, event: Event | None) -> None:
        self._queue.put(event)

    def __iter__(self) -> Iterator[Event]:
        while True:
            event = self._queue.get()
            if event is None:
                return
            yield event

    def close(self) -> None:
        self._queue.put(None)


def _refuse(name: str) -> Callable[..., Any]:
    def refused(self: Engine, *args: Any, **kwargs: Any) -> Any:
        raise Conflict(f"the fake engine does not {name.replace('_', ' ')}")

    refused.__name__ = name
    return refused


# compose projects (FakeEngine(compose=True)): (project, service, number, status, health, exit code)
COMPOSE = [
    ("shop", "web", 1, "running", "healthy", None),
    ("shop", "web", 2, "running", "healthy", None),
    ("shop", "db", 1, "running", "unhealthy", None),
    ("shop", "migrate", 1, "exited", "", 0),
    ("blog", "app", 1, "exited", "", 137),
    ("blog", "db", 1, "exited", "", 0),
]


class _Lines(LogStream):
    """A log's lines, then (following) nothing more until closed."""

    def __init__(self, lines: list[LogLine], follow: bool) -> None:
        self._lines = lines
        self._follow = follow
        self._closed = threading.Event()

    def __iter__(self) -> Iterator[LogLine]:
        yield from self._lines
        if self._follow:
            self._closed.wait()

    def close(self) -> None:
        self._closed.set()


LOG_LINES = 200  # each container's log holds this many lines


class FakeEngine(Engine):
    def __init__(self, root: Path, containers: int = 8, *, compose: bool = False) -> None:
        self.root = root
        # whole minutes: inspect shows absolute times, and they must not change between two runs. The
        # workbench's clock (tui.output.now, which a snapshot test holds still) is the one floored, so the
        # relative times ("Up 3 minutes") come out the same even when a minute turns between the two reads
        self.now = datetime.fromtimestamp(tui.output.now(), UTC).replace(second=0, microsecond=0)
        self.lock = threading.Lock()
        self.images = []
        for i, (tag, size, users) in enumerate(IMAGES):
            self.images.append(
                ImageSummary(
                    id="sha256:" + _hex(f"image{i}"),
                    repo_tags=[] if tag == "<none>" else [tag],
                    repo_digests=[],
                    created=_ago(self.now, 86400 * (i + 2)),
                    size=size,
                    containers=users,
                )
            )
        self.containers = [self._container(i) for i in range(containers)]
        if compose:  # compose projects' containers first: they are the newest
            self.containers[:0] = [self._compose_container(i, *spec) for i, spec in enumerate(COMPOSE)]
        self.networks = [
            NetworkSummary(
                _hex("net-bridge"),
                "bridge",
                "bridge",
                subnet="10.199.0.0/24",
                gateway="10.199.0.1",
                created=_ago(self.now, 86400 * 9),
                containers=["web", "db"],
            ),
            NetworkSummary(_hex("net-host"), "host", "host", created=_ago(self.now, 86400 * 9)),
            NetworkSummary(_hex("net-none"), "none", "null", created=_ago(self.now, 86400 * 9)),
            NetworkSummary(
                _hex("net-shop"),
                "shop_default",
                "bridge",
                subnet="10.200.1.0/24",
                gateway="10.200.1.1",
                created=_ago(self.now, 3600 * 5),
                labels={"com.docker.compose.project": "shop"},
                containers=["api", "cache", "worker"],
            ),
            NetworkSummary(
                _hex("net-backend"),
                "backend",
                "bridge",
                subnet="10.200.2.0/24",
                gateway="10.200.2.1",
                internal=True,
                created=_ago(self.now, 86400 * 2),
            ),
        ]
        self.volumes = [
            Volume("pgdata", _ago(self.now, 86400)),
            Volume("cache", _ago(self.now, 7200)),
            Volume(_hex("anon")[:64], _ago(self.now, 600), anonymous=True),
        ]
        self.logs: dict[str, Path] = {}
        # the Engines pane and the fleet view: an engine that can go away and come back, and tell events
        self.name = "fake"
        self.down = False
        self.hung = threading.Event()  # set: every look blocks until released (a host that never answers)
        self.released = threading.Event()
        self.followers: list[_FakeEvents] = []
        self.calls: list[tuple[str, str]] = []  # (method, container) of the actions asked of it

    def _container(self, i: int) -> ContainerSummary:
        name = NAMES[i % len(NAMES)] + (f"-{i // len(NAMES)}" if i >= len(NAMES) else "")
        image = IMAGES[i % 3][0]
        if i == 6:  # pulled from a registry on this machine: the list shortens its name
            image = "127.0.0.1:38763/busybox:latest"
        status = "exited" if i % 4 == 3 else ("paused" if i % 7 == 5 else "running")
        ports = [PortBinding(80, "tcp", "0.0.0.0", 8000 + i)] if i % 3 == 1 else []
        return ContainerSummary(
            id=_hex(f"container{i}"),
            name=name,
            image=image,
            image_id=self.images[i % 3].id,
            command="sleep infinity",
            created=_ago(self.now, 3600 * (i + 1)),
            status=status,
            exit_code=(i % 3) if status == "exited" else None,
            started_at=_ago(self.now, 180 + 60 * i),
            finished_at=_ago(self.now, 120) if status == "exited" else "",
            ports=ports,
            labels={},
            pid=1000 + i if status != "exited" else 0,
            ip_addresses={"bridge": f"10.199.0.{i + 2}"} if status != "exited" else {},
        )

    def _compose_container(
        self, i: int, project: str, service: str, number: int, status: str, health: str, code: int | None
    ) -> ContainerSummary:
        workdir = f"/srv/{project}"
        return ContainerSummary(
            id=_hex(f"compose{i}"),
            name=f"{project}-{service}-{number}",
            image="busybox:latest",
            image_id=self.images[0].id,
            command="sh -c 'httpd -f'",
            # whole minutes, as the others: "Up 12 minutes" whatever the second the snapshot is taken at
            created=_ago(self.now, 3600 + 60 * i),
            status=status,
            exit_code=code,
            started_at=_ago(self.now, 60 * (12 + i)),
            finished_at=_ago(self.now, 300) if status == "exited" else "",
            ports=[PortBinding(80, "tcp", "0.0.0.0", 8080 + number)] if service == "web" else [],
            labels={
                "com.docker.compose.project": project,
                "com.docker.compose.service": service,
                "com.docker.compose.container-number": str(number),
                "com.docker.compose.oneoff": "False",
                "com.docker.compose.project.working_dir": workdir,
                "com.docker.compose.project.config_files": f"{workdir}/compose.yaml",
            },
            pid=2000 + i if status == "running" else 0,
            health=health,
        )

    # ------------------------------------------------------------ lists
    def list_containers(
        self, *, all: bool = False, filters: Mapping[str, Sequence[str]] | None = None
    ) -> list[ContainerSummary]:
        self._check()
        with self.lock:
            shown = [c for c in self.containers if all or c.status != "exited"]
        if not filters:
            return shown
        # the engine's own filters (core.filters), over what the fake knows of each container
        facts = [
            ContainerFacts(
                c.id,
                c.name,
                c.status,
                c.exit_code or 0,
                bool(c.started_at),
                c.created,
                c.image_id,
                dict(c.labels),
                ports=[(p.container_port, p.host_port, p.protocol) for p in c.ports],
                health=c.health or "none",
            )
            for c in sorted(self.containers, key=lambda c: c.created, reverse=True)
        ]
        family = {img.id: {img.id} for img in self.images}
        chosen = select_containers(
            facts,
            filters,
            all=all,
            image_family=lambda ref: next(
                (family[i.id] for i in self.images if ref in (i.id, *i.repo_tags)), None
            ),
        )
        ids = {c.id for c in chosen}
        return [c for c in self.containers if c.id in ids]

    def container(self, name: str) -> ContainerSummary:
        for c in self.containers:
            if name in (c.id, c.name) or c.id.startswith(name):
                return c
        raise NotFound(f"No such container: {name}")

    def list_images(
        self, *, all: bool = False, filters: Mapping[str, Sequence[str]] | None = None
    ) -> list[ImageSummary]:
        if not filters:
            return list(self.images)
        by_name = {name: img for img in self.images for name in (img.id, *img.repo_tags)}

        def resolve(name: str) -> ImageSummary:
            if name not in by_name:
                raise NotFound(f"No such image: {name}")
            return by_name[name]

        return select_images(
            self.images, filters, labels=lambda img: {}, resolve=resolve, has_children=lambda img: False
        )

    def list_networks(self, *, filters: Mapping[str, Sequence[str]] | None = None) -> list[NetworkSummary]:
        return select_networks(self.networks, filters) if filters else list(self.networks)

    def list_volumes(self, *, filters: Mapping[str, Sequence[str]] | None = None) -> list[Volume]:
        if not filters:
            return list(self.volumes)
        users = self.volume_users()
        return select_volumes(self.volumes, filters, in_use=lambda name: name in users)

    def volume_users(self) -> dict[str, list[str]]:
        return {"pgdata": ["db"], "cache": ["cache", "worker"]}

    def volume_size(self, name: str) -> int:
        return {"pgdata": 48_200_000, "cache": 1_300_000}.get(name, 0)

    def events(
        self,
        *,
        since: float | None = None,
        until: float | None = None,
        filters: dict[str, list[str]] | None = None,
        follow: bool = True,
    ) -> EventStream:
        self._check()
        if not follow:
            return _NoEvents(follow)
        stream = _FakeEvents()
        with self.lock:
            self.followers.append(stream)
        return stream

    # ------------------------------------------------------------ many engines
    def _check(self) -> None:
        if self.hung.is_set():
            self.released.wait(30)
        if self.down:
            raise EngineGone(f"Cannot connect to the Docker daemon at fake://{self.name}: connection refused")

    def emit(self, type: str, action: str, id: str) -> None:
        """Tell every follower of this engine's events about one event."""
        with self.lock:
            followers = list(self.followers)
        for stream in followers:
            stream.put(Event(time.time(), type, action, id))

    def go_down(self) -> None:
        """The connection is lost: every look fails and the event streams end."""
        self.down = True
        with self.lock:
            followers, self.followers = list(self.followers), []
        for stream in followers:
            stream.put(None)

    def come_back(self) -> None:
        self.down = False

    def version(self) -> dict[str, Any]:
        self._check()
        return {"Platform": {"Name": "Dockyard Engine"}, "Version": f"0.0-{self.name}", "ApiVersion": "1.43"}

    def info(self) -> dict[str, Any]:
        self._check()
        return {
            "Containers": len(self.containers),
            "ContainersRunning": sum(c.status == "running" for c in self.containers),
            "Images": len(self.images),
        }

    def _act(self, method: str, name: str, status: str) -> ContainerSummary:
        self._check()
        c = self.container(name)
        self.calls.append((method, c.id))
        with self.lock:
            i = self.containers.index(c)
            self.containers[i] = new = replace(c, status=status)
        self.emit("container", method, c.id)
        return new

    def stop_container(self, name: str, timeout: float | None = None) -> ContainerSummary:
        return self._act("stop", name, "exited")

    def restart_container(self, name: str, timeout: float | None = None) -> ContainerSummary:
        return self._act("restart", name, "running")

    def kill_container(self, name: str, signal: int | str = "SIGKILL") -> ContainerSummary:
        return self._act("kill", name, "exited")

    def remove_container(self, name: str, *, force: bool = False, volumes: bool = False) -> ContainerSummary:
        c = self._act("remove", name, "removing")
        with self.lock:
            self.containers = [x for x in self.containers if x.id != c.id]
        self.emit("container", "destroy", c.id)
        return c

    # ------------------------------------------------------------ details
    def container_stats(self, name: str) -> ContainerStats:
        c = self.container(name)
        n = int(c.id[:4], 16)
        return ContainerStats(
            c.id, c.name, (n % 900) / 10.0, (n % 200 + 20) * 1_000_000, 2_000_000_000, n % 12 + 1
        )

    def container_top(self, name: str, ps_args: str = "") -> tuple[list[str], list[list[str]]]:
        return (
            ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"],
            [["root", "4242", "4200", "0", "10:00", "?", "00:00:00", "sleep infinity"]],
        )

    def inspect_container(self, name: str, *, size: bool = False) -> dict[str, Any]:
        c = self.container(name)
        doc: dict[str, Any] = {
            "Id": c.id,
            "Created": "2026-01-02T03:04:05.000000006Z",  # fixed: snapshots show it
            "Path": "sleep",
            "Args": ["infinity"],
            "State": {
                "Status": c.status,
                "Running": c.status == "running",
                "Pid": c.pid,
                "ExitCode": c.exit_code or 0,
            },
            "Name": "/" + c.name,
            "Config": {
                "Image": c.image,
                "Env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "MODE=production"],
                "Cmd": ["sleep", "infinity"],
                "Tty": False,
                "OpenStdin": False,
            },
            "HostConfig": {"RestartPolicy": {"Name": "no", "MaximumRetryCount": 0}, "Memory": 0},
            "NetworkSettings": {
                "Ports": {
                    f"{p.container_port}/{p.protocol}": [{"HostIp": p.host_ip, "HostPort": str(p.host_port)}]
                    for p in c.ports
                },
                "Networks": {
                    net: {
                        "IPAddress": ip,
                        "IPPrefixLen": 24,
                        "Gateway": ip.rsplit(".", 1)[0] + ".1",
                        "MacAddress": "02:42:" + ":".join(f"{int(x):02x}" for x in ip.split(".")),
                    }
                    for net, ip in c.ip_addresses.items()
                },
            },
            "Mounts": [
                {
                    "Type": "volume",
                    "Name": "pgdata",
                    "Source": "/var/lib/dockyard/volumes/pgdata/_data",
                    "Destination": "/data",
                    "RW": True,
                }
            ],
        }
        if c.health:
            doc["State"]["Health"] = self._health(c)
            doc["Config"]["Healthcheck"] = {
                "Test": [
                    "CMD-SHELL",
                    "pg_isready -h localhost" if c.health == "unhealthy" else "wget -qO- :80",
                ],
                "Interval": 30_000_000_000,
                "Retries": 3,
            }
        return doc

    def _health(self, c: ContainerSummary) -> dict[str, Any]:
        """State.Health of a container with a health check (compose=True): five probes, 30 s apart."""
        failing = c.health == "unhealthy"
        probes = []
        fixed = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)  # snapshots show these times
        for n in range(5):
            start = (fixed + timedelta(seconds=30 * n)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            end = (fixed + timedelta(seconds=30 * n + 0.012)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            output = "pg_isready: no response\n" if failing else "ready\n"
            probes.append({"Start": start, "End": end, "ExitCode": 1 if failing else 0, "Output": output})
        return {"Status": c.health, "FailingStreak": 5 if failing else 0, "Log": probes}

    def inspect_image(self, name: str) -> dict[str, Any]:
        for img in self.images:
            if name in (img.id, *img.repo_tags):
                return {
                    "Id": img.id,
                    "RepoTags": img.repo_tags,
                    "Size": img.size,
                    "Os": "linux",
                    "Architecture": "amd64",
                    "Config": {"Cmd": ["sh"]},
                }
        raise NotFound(f"No such image: {name}")

    def inspect_volume(self, name: str) -> dict[str, Any]:
        for v in self.volumes:
            if v.name == name:
                return volume_to_docker(v)
        raise NotFound(f"No such volume: {name}")

    # ------------------------------------------------------------ networks

    def _network(self, name: str) -> NetworkSummary:
        for n in self.networks:
            if name in (n.id, n.name) or n.id.startswith(name):
                return n
        raise NotFound(f"network {name} not found")

    def inspect_network(self, name: str) -> dict[str, Any]:
        n = self._network(name)
        return {
            "Name": n.name,
            "Id": n.id,
            "Created": n.created,
            "Scope": n.scope,
            "Driver": n.driver,
            "IPAM": {"Driver": "default", "Config": [{"Subnet": n.subnet, "Gateway": n.gateway}]},
            "Internal": n.internal,
            "Containers": {c.id: {"Name": c.name} for c in self.containers if c.name in n.containers},
            "Labels": dict(n.labels),
        }

    def remove_network(self, name: str) -> None:
        n = self._network(name)
        if n.name == "bridge":
            raise Conflict("bridge is a pre-defined network and cannot be removed")
        if n.containers:
            raise Conflict(f"error while removing network: network {n.name} has active endpoints")
        with self.lock:
            self.networks.remove(n)

    def prune_networks(self, *, filters: Mapping[str, Sequence[str]] | None = None) -> list[str]:
        chosen = prune_networks_filter(filters, time.time())
        unused = [
            n.name
            for n in self.networks
            if n.name != "bridge" and not n.containers and chosen(n.created, n.labels)
        ]
        for name in unused:
            self.remove_network(name)
        return unused

    def container_log_path(self, name: str) -> Path:
        c = self.container(name)
        path = self.root / f"{c.id}-json.log"
        if not path.exists():
            lines = []
            for i in range(LOG_LINES):
                t = (self.now - timedelta(seconds=LOG_LINES - i)).strftime("%Y-%m-%dT%H:%M:%S.%f000Z")
                text = f"{c.name}: request {i} GET /api/items/{i % 17} 200 {i % 50 + 3}ms\n"
                if i % 25 == 24:
                    text = f"{c.name}: ERROR upstream timeout after 30s (request {i})\n"
                lines.append(
                    json.dumps({"log": text, "stream": "stderr" if "ERROR" in text else "stdout", "time": t})
                )
            path.write_text("\n".join(lines) + "\n")
        return path

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
        """The lines of the log ``container_log_path`` writes (the project logs read them this way)."""
        lines = []
        for raw in self.container_log_path(name).read_text().splitlines():
            d = json.loads(raw)
            lines.append(LogLine(d["stream"], d["time"], d["log"]))
        if tail is not None:
            lines = lines[-tail:] if tail else []
        return _Lines(lines, follow)

    def pull(
        self,
        reference: str,
        *,
        platform: str | None = None,
        progress: Callable[[PullProgress], None] | None = None,
    ) -> PullResult:
        report = progress or (lambda p: None)
        report(PullProgress("", "Pulling from", message=reference))
        layers = [("a1b2c3d4e5f6", 3_100_000), ("0f9e8d7c6b5a", 27_000_000), ("5566778899aa", 900_000)]
        for layer, total in layers:
            report(PullProgress(layer, "Pulling fs layer", 0, total))
        for step in range(1, 5):
            for layer, total in layers:
                report(PullProgress(layer, "Downloading", total * step // 4, total))
            time.sleep(0.01)
        for layer, total in layers:
            report(PullProgress(layer, "Pull complete", total, total))
        return PullResult(reference, "sha256:" + _hex(reference), self.images[0], True)


# what the workbench never asks of the fake is refused, so the fake is a whole Engine
for _name in sorted(FakeEngine.__abstractmethods__):
    setattr(FakeEngine, _name, _refuse(_name))
FakeEngine.__abstractmethods__ = frozenset()
