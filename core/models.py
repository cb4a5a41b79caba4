"""The records :class:`core.engine.Engine` returns. Plain data: no methods that touch the disk."""

from __future__ import annotations

from core.record import field, record

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~2 ms of a start)
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

    JSONDict = dict[str, Any]

# a container's status (docker's State.Status) falls in these groups
RUNNING_STATES = ("running", "paused", "restarting")  # its shim looks after it: stop, kill and rm -f apply
LIVE_STATES = ("running", "paused")  # its processes exist (paused: frozen), so do its namespaces
STOPPED_STATES = ("created", "exited", "dead")  # nothing of it runs: prune removes it


@record(frozen=True)
class ImageSummary:
    id: str  # "sha256:<hex>" of the config blob, as docker
    repo_tags: list[str]
    repo_digests: list[str]
    created: str  # RFC 3339, from the image config
    size: int  # bytes, unpacked, all layers
    containers: int = 0  # how many containers use it (-1 when unknown)

    @property
    def short_id(self) -> str:
        return self.id.removeprefix("sha256:")[:12]


@record
class PullProgress:
    """One progress report. ``layer`` is the short digest, or "" for whole-image events."""

    layer: str
    status: str  # "Waiting", "Downloading", "Extracting", "Pull complete", "Already exists", ...
    current: int = 0
    total: int = 0
    message: str = ""


@record(frozen=True)
class PullResult:
    reference: str  # the normalised reference that was pulled
    digest: str  # manifest digest
    image: ImageSummary
    new: bool  # False if we already had every piece ("Image is up to date")


@record(frozen=True)
class RemovedImage:
    """What ``rmi``/``image prune`` did, in docker's output order: names untagged, then ids deleted (each
    image followed by the layers that went with it); ``images`` are the image ids alone."""

    untagged: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)


@record
class Mount:
    """One mount as the user asked for it: ``-v``, ``--mount`` or ``--tmpfs``."""

    type: str  # "bind" | "volume" | "tmpfs"
    target: str
    source: str = ""  # host path (bind) or volume name (volume); "" for an anonymous volume
    read_only: bool = False
    options: dict[str, str] = field(default_factory=dict)  # tmpfs size/mode, bind propagation, volume nocopy


@record
class PortBinding:
    container_port: int
    protocol: str = "tcp"
    host_ip: str = ""
    host_port: int = 0  # 0: pick a free port


@record
class RunConfig:
    """Everything ``create``/``run`` takes: what the CLI parses flags into and the TUI's run form fills."""

    image: str
    command: list[str] | None = None  # None: the image's Cmd
    entrypoint: list[str] | None = None  # None: the image's; [] (``--entrypoint ""``) clears it
    name: str | None = None
    env: list[str] = field(default_factory=list)  # "K=V", or "K" to copy from the caller's environment
    workdir: str | None = None
    user: str | None = None
    hostname: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    tty: bool = False
    interactive: bool = False
    detach: bool = False
    auto_remove: bool = False
    mounts: list[Mount] = field(default_factory=list)
    read_only: bool = False
    restart: str = "no"  # no | on-failure[:N] | always | unless-stopped
    memory: int | None = None
    memory_swap: int | None = None
    cpus: float | None = None
    pids_limit: int | None = None
    cap_add: list[str] = field(default_factory=list)
    cap_drop: list[str] = field(default_factory=list)
    privileged: bool = False
    security_opt: list[str] = field(default_factory=list)
    init: bool = False
    stop_signal: str | None = None
    stop_timeout: int | None = None
    ulimits: dict[str, tuple[int, int]] = field(default_factory=dict)
    shm_size: int | None = None
    devices: list[str] = field(default_factory=list)  # "/dev/x[:/dev/y[:rwm]]"
    network: str = "default"  # "default" (the default bridge), a network name, "none", "host"
    network_aliases: list[str] = field(default_factory=list)
    ip: str | None = None
    ports: list[PortBinding] = field(default_factory=list)
    publish_all: bool = False
    dns: list[str] = field(default_factory=list)
    extra_hosts: list[str] = field(default_factory=list)
    log_opts: dict[str, str] = field(default_factory=dict)  # max-size, max-file
    platform: str | None = None
    pull: str = "missing"  # missing | always | never


@record(frozen=True)
class ContainerSummary:
    id: str
    name: str
    image: str  # as the user named it
    image_id: str
    command: str
    created: str
    status: str  # created | running | paused | restarting | exited | dead
    exit_code: int | None
    started_at: str
    finished_at: str
    ports: list[PortBinding]
    labels: dict[str, str]
    pid: int = 0

    @property
    def short_id(self) -> str:
        return self.id[:12]


@record(frozen=True)
class LogLine:
    stream: str  # "stdout" | "stderr"
    time: str  # RFC 3339 with nanoseconds, as docker's json-file
    text: str  # the line, with its trailing newline if it had one


@record(frozen=True)
class Event:
    time: float  # seconds since the epoch
    type: str  # container | image | network | volume
    action: str  # create, start, die, destroy, pull, tag, ...
    id: str
    attributes: dict[str, str] = field(default_factory=dict)


@record(frozen=True)
class ContainerStats:
    id: str
    name: str
    cpu_percent: float
    memory_usage: int
    memory_limit: int
    pids: int


@record(frozen=True)
class NetworkSummary:
    """One network as ``network ls`` shows it (core.network)."""

    id: str
    name: str
    driver: str  # "bridge", or "host" / "null" for the two pseudo networks
    scope: str = "local"
    subnet: str = ""
    gateway: str = ""
    internal: bool = False
    created: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    containers: list[str] = field(default_factory=list)  # names of the containers attached now

    @property
    def short_id(self) -> str:
        return self.id[:12]


@record
class Volume:
    name: str
    created: str
    labels: dict[str, str] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)
    anonymous: bool = False
    driver: str = "local"
    mountpoint: str = ""

    def inspect(self) -> dict[str, Any]:
        return {
            "CreatedAt": self.created,
            "Driver": self.driver,
            "Labels": self.labels or None,
            "Mountpoint": self.mountpoint,
            "Name": self.name,
            "Options": self.options or None,
            "Scope": "local",
        }


@record(frozen=True)
class HistoryEntry:
    id: str  # the image this step produced, when it is still here; "<missing>" otherwise
    created: str
    created_by: str
    size: int  # bytes of the step's layer, unpacked; 0 for an empty layer
    comment: str
    empty_layer: bool
    tags: list[str]


@record
class BuildOptions:
    context: Path | None  # None: no context (a Dockerfile read from stdin, ``docker build -``)
    dockerfile: Path | None = None  # default: <context>/Dockerfile
    dockerfile_text: str | None = None  # the Dockerfile itself (read from stdin by the CLI)
    # the context as a tar (plain or compressed), as Docker's API sends it; unpacked by the engine, and a
    # relative ``dockerfile`` is then inside it
    context_archive: bytes | None = None
    tags: list[str] = field(default_factory=list)
    build_args: dict[str, str] = field(default_factory=dict)
    target: str | None = None
    no_cache: bool = False
    pull: bool = False  # pull base images even when present
    labels: dict[str, str] = field(default_factory=dict)
    network: str = "default"  # what RUN steps get: default (bridge), none, host
    platform: str | None = None


@record(frozen=True)
class BuildEvent:
    """One progress report. ``kind``: "step" (a step starts; ``text`` is its title), "output" (a line a RUN
    printed, ``stream`` stdout or stderr), "cached", "done" (``seconds`` it took), "warning", "info"."""

    kind: str
    step: int
    text: str = ""
    seconds: float = 0.0
    stream: str = ""


@record(frozen=True)
class BuildResult:
    image_id: str
    tags: list[str]
    steps: int  # steps run or reused (FROM included)
    cached: int  # steps taken from the cache
    seconds: float
    warnings: list[str] = field(default_factory=list)


@record(frozen=True)
class PushResult:
    reference: str  # the normalised reference that was pushed
    digest: str  # the manifest's digest
    size: int  # the manifest's size in bytes (docker prints both: "latest: digest: D size: N")


@record
class ExecConfig:
    """What ``exec`` takes, as Docker's ExecConfig (``POST /containers/{id}/exec``)."""

    cmd: list[str]
    env: list[str] = field(default_factory=list)
    user: str | None = None
    working_dir: str | None = None
    tty: bool = False
    attach_stdin: bool = False
    detach: bool = False
    privileged: bool = False
    console_size: tuple[int, int] | None = None  # (rows, cols) of the terminal to start with
