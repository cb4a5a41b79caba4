"""The records :class:`core.engine.Engine` returns. Plain data: no methods that touch the disk."""

from __future__ import annotations

from core.record import asdict, field, known_fields, record
from core.record import replace as replace  # a record with some fields changed: the faces' too

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
class PortBinding:
    """A published port as ``ps``/``port`` show it (Docker's summary ``Port``); what a create request asks
    for is :class:`HostPortBinding`."""

    container_port: int
    protocol: str = "tcp"
    host_ip: str = ""
    host_port: int = 0  # 0: pick a free port


# ---------------------------------------------------------------------------------------------------------
# A container create request, shaped 1:1 like the body of the Engine API's ``POST /containers/create``
# (``Config``, ``HostConfig``, ``NetworkingConfig``). Each field is the snake_case of Docker's key; only what
# dockyard applies is here. core.dockerjson maps them to and from Docker's JSON, core.containers.validate
# checks them. A zero value means what it means to Docker ("" or 0: not set, the image's or the default).


DEFAULT_SHM_SIZE = 64 * 1024 * 1024  # /dev/shm of a container that asks for no size, as docker's


@record
class RestartPolicy:
    """``RestartPolicy``: ``Name``, ``MaximumRetryCount``."""

    name: str = "no"  # no | always | unless-stopped | on-failure
    maximum_retry_count: int = 0  # on-failure only


@record
class LogConfig:
    """``LogConfig``: ``Type``, ``Config``."""

    type: str = "json-file"  # the one driver dockyard has
    config: dict[str, str] = field(default_factory=dict)  # --log-opt: max-size, max-file (core.logopts)


@record
class Ulimit:
    """``Ulimit``: ``Name``, ``Soft``, ``Hard`` (-1: unlimited)."""

    name: str  # nofile, nproc, ... (core.runtime.spec.RLIMIT_NAMES)
    soft: int
    hard: int


@record
class DeviceMapping:
    """``DeviceMapping``: ``PathOnHost``, ``PathInContainer``. Docker's ``CgroupPermissions`` has no field:
    dockyard sets no per-device cgroup rule, so it could not apply one (it is written as "rwm")."""

    path_on_host: str
    path_in_container: str


@record
class HostPortBinding:
    """One entry of ``PortBindings`` (Docker's ``PortBinding``: ``HostIp``, ``HostPort``; the name
    ``PortBinding`` is the published-port summary's)."""

    host_ip: str = ""  # "": every address
    host_port: str = ""  # a port number; "": a free port, picked at start


@record
class BindOptions:
    """``BindOptions``: ``Propagation``, ``CreateMountpoint``."""

    propagation: str = ""  # "": rprivate
    # a missing source directory is made at start (-v, HostConfig.Binds); else it is refused (--mount)
    create_mountpoint: bool = False


@record
class VolumeOptions:
    """``VolumeOptions``: ``NoCopy``."""

    no_copy: bool = False  # do not copy the image's files at the target into a new volume


@record
class TmpfsOptions:
    """``TmpfsOptions``: ``SizeBytes``, ``Mode``."""

    size_bytes: int = 0  # 0: the kernel's default (half the RAM)
    mode: int = 0  # permission bits, e.g. 0o1777; 0: the kernel's default (1777)


@record
class Mount:
    """``Mount``: ``Type``, ``Target``, ``Source``, ``ReadOnly``, ``BindOptions``, ``VolumeOptions``,
    ``TmpfsOptions``. Every ``-v``, ``--mount`` and ``--tmpfs`` of a request is one of these."""

    type: str  # "bind" | "volume" | "tmpfs"
    target: str
    source: str = ""  # host path (bind) or volume name (volume); "" for an anonymous volume
    read_only: bool = False
    bind_options: BindOptions | None = None
    volume_options: VolumeOptions | None = None
    tmpfs_options: TmpfsOptions | None = None


@record
class HealthConfig:
    """Docker's ``HealthConfig`` (``Config.Healthcheck``): durations in nanoseconds, 0 meaning docker's
    default (interval 30s, timeout 30s, start period 0, start interval 5s; retries 3)."""

    test: list[str] = field(default_factory=list)  # ["CMD", arg...], ["CMD-SHELL", cmd], ["NONE"]; [] image's
    interval: int = 0
    timeout: int = 0
    start_period: int = 0
    start_interval: int = 0
    retries: int = 0


@record
class ContainerConfig:
    """``Config`` (Docker's ``ContainerConfig``): ``Hostname``, ``User``, ``Tty``, ``OpenStdin``,
    ``AttachStdin``, ``AttachStdout``, ``AttachStderr``, ``Env``, ``Cmd``, ``Image``, ``WorkingDir``,
    ``Entrypoint``, ``Labels``, ``StopSignal``, ``StopTimeout``, ``ExposedPorts``."""

    image: str
    hostname: str = ""  # "": the container id's first 12 characters
    user: str = ""  # user[:group] or uid[:gid]; "": the image's
    tty: bool = False
    open_stdin: bool = False  # -i
    attach_stdin: bool = False
    attach_stdout: bool = True  # False for -d
    attach_stderr: bool = True
    env: list[str] = field(default_factory=list)  # "K=V", or "K" to copy from the caller's environment
    cmd: list[str] | None = None  # None: the image's Cmd
    working_dir: str = ""  # "": the image's
    entrypoint: list[str] | None = None  # None: the image's; [] (``--entrypoint ""``) clears it
    labels: dict[str, str] = field(default_factory=dict)
    stop_signal: str = ""  # "": the image's, else SIGTERM
    stop_timeout: int | None = None  # seconds; None: 10
    exposed_ports: list[str] = field(
        default_factory=list
    )  # "80/tcp", added to the image's (-P publishes them)
    healthcheck: HealthConfig | None = None  # None: the image's; test ["NONE"]: none at all


@record
class HostConfig:
    """``HostConfig``: ``NetworkMode``, ``PortBindings``, ``PublishAllPorts``, ``RestartPolicy``,
    ``AutoRemove``, ``Mounts``, ``ReadonlyRootfs``, ``CapAdd``, ``CapDrop``, ``Privileged``, ``SecurityOpt``,
    ``Memory``, ``MemorySwap``, ``NanoCpus``, ``PidsLimit``, ``ShmSize``, ``Init``, ``Ulimits``, ``Devices``,
    ``Dns``, ``ExtraHosts``, ``LogConfig``, ``PidMode``, ``IpcMode``, ``UTSMode``, ``UsernsMode``,
    ``GroupAdd``, ``VolumesFrom``, ``DnsSearch``, ``DnsOptions``, ``Sysctls``, ``Links``, ``CpuShares``,
    ``CpusetCpus``, ``MemoryReservation``, ``OomKillDisable``, ``CgroupParent``, ``Runtime``,
    ``ContainerIDFile``."""

    network_mode: str = "default"  # "default"/"bridge" (the default network), a network name, none, host
    port_bindings: dict[str, list[HostPortBinding]] = field(default_factory=dict)  # "80/tcp" -> bindings
    publish_all_ports: bool = False  # -P: every exposed port to a free host port
    restart_policy: RestartPolicy = field(default_factory=RestartPolicy)
    auto_remove: bool = False  # --rm
    mounts: list[Mount] = field(default_factory=list)
    readonly_rootfs: bool = False
    cap_add: list[str] = field(default_factory=list)
    cap_drop: list[str] = field(default_factory=list)
    privileged: bool = False
    security_opt: list[str] = field(default_factory=list)  # no-new-privileges, seccomp=unconfined
    memory: int = 0  # bytes; 0: no limit
    memory_swap: int = 0  # memory + swap, bytes; -1: unlimited swap; 0: twice the memory
    nano_cpus: int = 0  # CPUs in units of 1e-9; 0: no limit
    pids_limit: int | None = None  # None: no limit
    shm_size: int = 0  # bytes of /dev/shm; 0: DEFAULT_SHM_SIZE
    init: bool = False  # an init as PID 1 that reaps zombies and forwards signals
    ulimits: list[Ulimit] = field(default_factory=list)
    devices: list[DeviceMapping] = field(default_factory=list)
    dns: list[str] = field(default_factory=list)
    extra_hosts: list[str] = field(default_factory=list)  # "host:ip" lines for /etc/hosts
    log_config: LogConfig = field(default_factory=LogConfig)
    # namespaces: "" (the container's own), "host", or "container:NAME" (pid, ipc); ipc also private,
    # shareable (both its own) and none (its own, without /dev/shm)
    pid_mode: str = ""
    ipc_mode: str = ""
    uts_mode: str = ""  # "" or "host"
    userns_mode: str = ""  # "" or "host": dockyard runs no user namespace remapping
    group_add: list[str] = field(default_factory=list)  # supplementary groups, names or gids
    volumes_from: list[str] = field(default_factory=list)  # "container[:ro|rw]"
    dns_search: list[str] = field(default_factory=list)
    dns_options: list[str] = field(default_factory=list)
    sysctls: dict[str, str] = field(default_factory=dict)  # namespaced ones only
    links: list[str] = field(default_factory=list)  # "name:alias" (/etc/hosts entries)
    cpu_shares: int = 0  # relative CPU weight; 0: the default 1024
    cpuset_cpus: str = ""  # "0-2,4"
    memory_reservation: int = 0  # bytes, a soft limit; 0: none
    oom_kill_disable: bool = False
    cgroup_parent: str = ""  # "": the engine's
    runtime: str = ""  # "" or "runc": the built-in runtime (docker's name for it)
    container_id_file: str = ""  # --cidfile (written by the client)


@record
class EndpointIPAMConfig:
    """``IPAMConfig`` of an endpoint: ``IPv4Address``."""

    ipv4_address: str = ""


@record
class EndpointSettings:
    """``EndpointSettings`` as a request gives it: ``IPAMConfig``, ``Aliases``."""

    ipam_config: EndpointIPAMConfig | None = None  # --ip
    aliases: list[str] = field(default_factory=list)  # --network-alias


@record
class NetworkingConfig:
    """``NetworkingConfig``: ``EndpointsConfig``, network name -> endpoint settings. The entry named by
    ``HostConfig.network_mode``, if there is one, holds the first network's settings (the command line writes
    it only for ``--ip``/``--network-alias``, as docker's does); every other entry is a network the container
    joins besides it (``network connect``), in the order joined."""

    endpoints_config: dict[str, EndpointSettings] = field(default_factory=dict)
    # ``network disconnect`` from the first network: HostConfig.network_mode stays (docker's does) but the
    # container joins that network only once connected to it again
    first_left: bool = False


@record
class ContainerCreate:
    """Everything ``create``/``run`` takes: Docker's create body, plus the query's ``name`` and ``platform``
    and the client's ``--pull`` policy. What the CLI parses flags into and the TUI's run form fills; a
    container's record keeps it as created (``ContainerRecord.run``)."""

    config: ContainerConfig
    host_config: HostConfig = field(default_factory=HostConfig)
    networking_config: NetworkingConfig = field(default_factory=NetworkingConfig)
    name: str = ""  # "": generated
    platform: str = ""  # of the image to pull if missing; "": the engine's
    pull: str = "missing"  # missing | always | never

    @property
    def image(self) -> str:
        return self.config.image

    def endpoint(self) -> EndpointSettings:
        """The first network's endpoint settings (empty when the request gives none)."""
        return (
            self.networking_config.endpoints_config.get(self.host_config.network_mode) or EndpointSettings()
        )

    def connected(self) -> list[tuple[str, EndpointSettings]]:
        """The networks joined besides the first, in order, with their settings."""
        mode = self.host_config.network_mode
        return [(n, ep) for n, ep in self.networking_config.endpoints_config.items() if n != mode]

    def joined(self) -> list[tuple[str, EndpointSettings]]:
        """The networks a start joins, in order (docker's NetworkSettings.Networks of a created container):
        the first (unless it was left: network disconnect) and those connected besides it; host/none as
        itself."""
        mode = self.host_config.network_mode or "default"
        first = [] if self.networking_config.first_left else [(mode, self.endpoint())]
        return [*first, *self.connected()]

    def to_json(self) -> JSONDict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: JSONDict) -> ContainerCreate:
        """What :meth:`to_json` wrote (``ContainerRecord`` turns the older flat layout into this first)."""
        hc = dict(data.get("host_config") or {})
        hc["port_bindings"] = {
            k: [HostPortBinding(**known_fields(HostPortBinding, b)) for b in v]
            for k, v in (hc.get("port_bindings") or {}).items()
        }
        hc["restart_policy"] = RestartPolicy(**known_fields(RestartPolicy, hc.get("restart_policy") or {}))
        hc["mounts"] = [_mount_from_json(m) for m in hc.get("mounts") or []]
        hc["ulimits"] = [Ulimit(**known_fields(Ulimit, u)) for u in hc.get("ulimits") or []]
        hc["devices"] = [DeviceMapping(**known_fields(DeviceMapping, d)) for d in hc.get("devices") or []]
        hc["log_config"] = LogConfig(**known_fields(LogConfig, hc.get("log_config") or {}))
        endpoints: dict[str, EndpointSettings] = {}
        for net, ep in ((data.get("networking_config") or {}).get("endpoints_config") or {}).items():
            ipam = ep.get("ipam_config")
            endpoints[net] = EndpointSettings(
                ipam_config=None
                if ipam is None
                else EndpointIPAMConfig(**known_fields(EndpointIPAMConfig, ipam)),
                aliases=list(ep.get("aliases") or []),
            )
        config = known_fields(ContainerConfig, data["config"])
        if config.get("healthcheck") is not None:
            config["healthcheck"] = HealthConfig(**known_fields(HealthConfig, config["healthcheck"]))
        return cls(
            config=ContainerConfig(**config),
            host_config=HostConfig(**known_fields(HostConfig, hc)),
            networking_config=NetworkingConfig(
                endpoints, first_left=bool((data.get("networking_config") or {}).get("first_left"))
            ),
            name=str(data.get("name") or ""),
            platform=str(data.get("platform") or ""),
            pull=str(data.get("pull") or "missing"),
        )


def _mount_from_json(data: JSONDict) -> Mount:
    m = known_fields(Mount, data)
    for key, cls in (
        ("bind_options", BindOptions),
        ("volume_options", VolumeOptions),
        ("tmpfs_options", TmpfsOptions),
    ):
        if m.get(key) is not None:
            m[key] = cls(**known_fields(cls, m[key]))
    return Mount(**m)


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
    health: str = ""  # State.Health.Status: starting | healthy | unhealthy; "": no health check
    # network name -> the container's IPv4 address on it (NetworkSettings.Networks), while it runs
    ip_addresses: dict[str, str] = field(default_factory=dict)

    @property
    def short_id(self) -> str:
        return self.id[:12]


@record(frozen=True)
class LogLine:
    stream: str  # "stdout" | "stderr"
    time: str  # RFC 3339 with nanoseconds, as docker's json-file
    text: str  # the line, with its trailing newline if it had one
    attrs: dict[str, str] = field(default_factory=dict)  # --log-opt labels=/env= (docker's json-file "attrs")


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
    cpu_usage_ns: int = 0  # CPU time the container's processes have used in all (what docker's stats count)
    net_rx: int = 0  # bytes received on the container's own interfaces (not lo)
    net_tx: int = 0
    block_read: int = 0  # bytes read and written by its cgroup (blkio / io.stat)
    block_write: int = 0


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


@record
class ContainerUpdate:
    """What ``docker update`` changes (Docker's ``POST /containers/{id}/update`` body); None leaves a setting
    as it is. Limits apply at once to a running container and stay for its next start."""

    memory: int | None = None  # bytes
    memory_swap: int | None = None  # memory + swap, bytes; -1 unlimited
    nano_cpus: int | None = None  # 1e9 per CPU
    pids_limit: int | None = None  # 0 or -1: unlimited
    restart_policy: RestartPolicy | None = None


@record(frozen=True)
class SystemPruneReport:
    """What ``system prune`` removed, kind by kind, and the bytes it freed."""

    containers: list[str]
    networks: list[str]
    volumes: list[str]
    images: RemovedImage
    reclaimed: int


@record(frozen=True)
class EngineTarget:
    """One engine the workbench can talk to (its Engines pane): a context of docker's context store, the
    ``-H`` given on the command line, or the in-process engine."""

    name: str  # the context's name; "-H" for the command line's host; "local" for the in-process engine
    endpoint: str  # unix:///..., tcp://..., ssh://..., or "in-process"
    description: str = ""
    current: bool = False  # the engine the workbench was started on
    error: str = ""  # why the context cannot be used (a malformed endpoint), "" when it can


@record(frozen=True)
class EngineProbe:
    """What one look at an engine found (``/version`` and ``/info``), or why it could not look."""

    reachable: bool
    kind: str = ""  # dockyard | docker | podman | "" when unknown
    version: str = ""  # the engine's own version ("20.10.24+dfsg1", "4.3.1", dockyard's)
    api_version: str = ""
    containers: int = 0
    running: int = 0
    images: int = 0
    error: str = ""  # one line: why it is unreachable
