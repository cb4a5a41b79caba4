"""ContainerSpec: everything :func:`core.runtime.init.run` needs to turn a forked process into a container.

It is the runtime's whole input (like an OCI ``config.json``, but only what dockyard uses), round-trips
through JSON (``to_dict`` / ``from_dict``) so the shim can keep it in the container's directory, and is
validated on the way in: a bad spec fails in the engine with a clear message, not half-way through init.

Paths in ``rootfs`` and mount ``source`` are host paths; mount ``destination``, ``cwd``, masked and read-only
paths are paths inside the container.
"""

from __future__ import annotations

import os
import re

from core.errors import InvalidArgument
from core.record import asdict, field, record
from core.runtime.capabilities import DEFAULT_CAPABILITIES  # Docker's 14, re-exported for spec users

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~2 ms of a start)
if TYPE_CHECKING:
    from typing import Any

# Docker's defaults (moby oci/defaults.go): files are covered by /dev/null, directories by an empty
# read-only tmpfs; read-only paths are bind-remounted read-only.
DEFAULT_MASKED_PATHS: tuple[str, ...] = (
    "/proc/asound",
    "/proc/acpi",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
)
DEFAULT_READONLY_PATHS: tuple[str, ...] = (
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
)

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEFAULT_SHM_SIZE = 64 * 1024 * 1024

MOUNT_TYPES = ("bind", "volume", "tmpfs")
# Options a spec mount may carry. Propagation defaults to rprivate (docker's default for binds).
MOUNT_FLAG_OPTIONS = (
    "ro",
    "rw",
    "nosuid",
    "suid",
    "nodev",
    "dev",
    "noexec",
    "exec",
    "bind",
    "rbind",
    "private",
    "rprivate",
    "slave",
    "rslave",
    "shared",
    "rshared",
    "noatime",
    "relatime",
    "strictatime",
    "nodiratime",
)
MOUNT_VALUE_OPTIONS = ("size", "mode", "uid", "gid", "nr_inodes")

RLIMIT_NAMES = (
    "as",
    "core",
    "cpu",
    "data",
    "fsize",
    "locks",
    "memlock",
    "msgqueue",
    "nice",
    "nofile",
    "nproc",
    "rss",
    "rtprio",
    "rttime",
    "sigpending",
    "stack",
)
RLIM_INFINITY = -1

NAMESPACE_KINDS = ("net", "ipc", "uts", "pid", "cgroup")

_SYSCTL_RE = re.compile(r"^[a-z0-9_]+(\.[a-zA-Z0-9_-]+)+$")
_HOSTNAME_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,62})$")


@record
class RootfsSpec:
    """The image layers and the container's writable layer, mounted as overlay inside the new mount ns.

    ``lower`` is ordered top-most first (overlay's order). Without ``upper`` the root is read-only.
    ``mountpoint`` is an empty host directory; the overlay is mounted on it only inside the container's
    mount namespace, so it disappears with the container, even after ``kill -9``.
    """

    lower: list[str]
    mountpoint: str
    upper: str | None = None
    work: str | None = None


@record
class MountSpec:
    """A mount the user asked for: ``-v``, ``--mount``, ``--tmpfs``, and the engine's resolv.conf/hosts binds.

    ``type`` is ``bind``, ``volume`` (a bind of the volume's directory) or ``tmpfs``. ``options`` are
    mount(8)-style strings: ro, rw, nosuid, nodev, noexec, rprivate/rslave/rshared, size=N, mode=0755...
    """

    type: str
    destination: str
    source: str = ""
    options: list[str] = field(default_factory=list)


@record
class DeviceSpec:
    """A host device node recreated in the container (``--device host_path[:path]``)."""

    host_path: str
    path: str = ""  # inside the container; defaults to host_path


@record
class UserSpec:
    """Who the command runs as.

    With ``name`` None, ``uid``/``gid``/``additional_gids`` are used as given. With ``name`` a string
    (docker's ``--user``: "", "uid", "uid:gid", "name", "name:group"), it is resolved inside the container's
    root against its /etc/passwd and /etc/group, like docker: supplementary groups from /etc/group
    membership, HOME from the passwd entry; ``additional_gids`` (``--group-add``) are added.
    """

    uid: int = 0
    gid: int = 0
    additional_gids: list[int] = field(default_factory=list)
    name: str | None = None
    # --group-add: group names (looked up in the container's /etc/group) or gids
    additional_groups: list[str] = field(default_factory=list)


@record
class Rlimit:
    """A resource limit (``--ulimit``); by default the shim's own limits are inherited."""

    type: str  # nofile, nproc, core... (RLIMIT_ prefix and case are accepted)
    soft: int  # -1 = unlimited
    hard: int


@record
class ProcessSpec:
    """The command and what it runs with: environment, user, terminal, privileges, limits."""

    args: list[str]
    env: list[str] = field(default_factory=lambda: [f"PATH={DEFAULT_PATH}"])
    cwd: str = "/"
    user: UserSpec = field(default_factory=UserSpec)
    tty: bool = False
    tty_size: tuple[int, int] | None = None  # (rows, cols), set before the command starts
    capabilities: list[str] = field(default_factory=lambda: list(DEFAULT_CAPABILITIES))
    no_new_privs: bool = False  # docker sets it only with --security-opt no-new-privileges
    # a docker seccomp profile, or DEFAULT_SECCOMP for Docker's built-in one (the shim has it compiled and
    # cached; the record stays small); None = unconfined
    seccomp: dict[str, Any] | str | None = None
    rlimits: list[Rlimit] = field(default_factory=list)  # empty = inherit the shim's limits

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if self.tty_size is not None:
            data["tty_size"] = list(self.tty_size)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProcessSpec:
        """Raises KeyError, TypeError, ValueError or IndexError on malformed data (the caller words it)."""
        process = dict(data)
        user = UserSpec(**process.pop("user", {}))
        rlimits = [Rlimit(**r) for r in process.pop("rlimits", [])]
        tty_size = process.pop("tty_size", None)
        return cls(
            **process,
            user=user,
            rlimits=rlimits,
            tty_size=None if tty_size is None else (int(tty_size[0]), int(tty_size[1])),
        )


DEFAULT_SECCOMP = "default"


@record
class ContainerSpec:
    """One container process, completely: its root, command, mounts, namespaces and confinement."""

    rootfs: RootfsSpec
    process: ProcessSpec
    readonly_rootfs: bool = False
    hostname: str = ""
    domainname: str = ""
    mounts: list[MountSpec] = field(default_factory=list)
    masked_paths: list[str] = field(default_factory=lambda: list(DEFAULT_MASKED_PATHS))
    readonly_paths: list[str] = field(default_factory=lambda: list(DEFAULT_READONLY_PATHS))
    devices: list[DeviceSpec] = field(default_factory=list)
    # "new" (a private namespace), "host" (the shim's), or a path to join (/run/dockyard/netns/<id>,
    # /proc/<pid>/ns/net). A new netns gets its loopback up and nothing else.
    netns: str = "new"
    ipcns: str = "new"
    utsns: str = "new"
    pidns: str = "new"
    cgroupns: str = "new"
    shm_size: int = DEFAULT_SHM_SIZE
    sysctls: dict[str, str] = field(default_factory=dict)
    init: bool = False  # --init: a minimal reaper stays PID 1 (see core.runtime.tini)
    shm: bool = True  # False (--ipc none): no /dev/shm at all

    # -- JSON ------------------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["process"] = self.process.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ContainerSpec:
        try:
            raw = dict(data)
            proc = ProcessSpec.from_dict(raw.pop("process"))
            spec = cls(
                rootfs=RootfsSpec(**raw.pop("rootfs")),
                process=proc,
                mounts=[MountSpec(**m) for m in raw.pop("mounts", [])],
                devices=[DeviceSpec(**d) for d in raw.pop("devices", [])],
                **raw,
            )
        except (KeyError, TypeError, ValueError, IndexError) as err:
            raise InvalidArgument(f"container spec is malformed: {err}") from err
        spec.validate()
        return spec

    # -- checks ----------------------------------------------------------------------------------------

    def validate(self) -> None:
        """Raise InvalidArgument with the first problem found; init assumes a validated spec."""
        p = self.process
        if not p.args or not all(isinstance(a, str) for a in p.args) or not p.args[0]:
            raise InvalidArgument("no command given: the image has no Cmd/Entrypoint and none was specified")
        for item in p.env:
            if "=" not in item or item.startswith("="):
                raise InvalidArgument(f"environment entry {item!r} is not NAME=value")
            if "\0" in item:
                raise InvalidArgument("environment entries cannot contain NUL bytes")
        if not p.cwd.startswith("/"):
            raise InvalidArgument(f"working directory {p.cwd!r} must be an absolute path")
        if not self.rootfs.lower:
            raise InvalidArgument("rootfs has no layers")
        if (self.rootfs.upper is None) != (self.rootfs.work is None):
            raise InvalidArgument("rootfs upper and work directories go together")
        if not self.rootfs.mountpoint.startswith("/"):
            raise InvalidArgument("rootfs mountpoint must be an absolute path")
        for path in [*self.rootfs.lower, self.rootfs.upper or "/", self.rootfs.work or "/"]:
            if not path.startswith("/") or any(c in path for c in ",:\n"):
                raise InvalidArgument(f"layer path {path!r} must be absolute and contain no ',' or ':'")
        for m in self.mounts:
            _check_mount(m)
        for path in [*self.masked_paths, *self.readonly_paths]:
            if not path.startswith("/"):
                raise InvalidArgument(f"masked/read-only path {path!r} must be absolute")
        for d in self.devices:
            if not d.host_path.startswith("/") or (d.path and not d.path.startswith("/")):
                raise InvalidArgument(f"device {d.host_path!r}: paths must be absolute")
        for r in p.rlimits:
            rlimit_name(r.type)
            if r.soft != RLIM_INFINITY and (r.hard != RLIM_INFINITY and r.soft > r.hard):
                raise InvalidArgument(f"ulimit {r.type}: soft limit {r.soft} is above hard limit {r.hard}")
        for kind in NAMESPACE_KINDS:
            value = getattr(self, f"{kind}ns")
            if value not in ("new", "host") and not value.startswith("/"):
                raise InvalidArgument(f"{kind} namespace must be 'new', 'host' or a path, not {value!r}")
        if self.hostname and not _HOSTNAME_RE.match(self.hostname):
            raise InvalidArgument(f"invalid hostname {self.hostname!r}")
        if self.hostname and self.utsns != "new":
            raise InvalidArgument("a hostname needs the container's own UTS namespace")
        if self.shm_size <= 0:
            raise InvalidArgument("shm size must be positive")
        for key in self.sysctls:
            if not _SYSCTL_RE.match(key):
                raise InvalidArgument(f"invalid sysctl name {key!r}")
        if p.tty_size is not None and not (0 < p.tty_size[0] < 65536 and 0 < p.tty_size[1] < 65536):
            raise InvalidArgument(f"invalid terminal size {p.tty_size}")


def _check_mount(m: MountSpec) -> None:
    if m.type not in MOUNT_TYPES:
        raise InvalidArgument(f"mount type {m.type!r} is not one of {', '.join(MOUNT_TYPES)}")
    if not m.destination.startswith("/") or m.destination.rstrip("/") == "":
        raise InvalidArgument(f"mount destination {m.destination!r} must be an absolute path other than /")
    if m.type != "tmpfs" and not m.source.startswith("/"):
        raise InvalidArgument(f"bind mount source {m.source!r} must be an absolute host path")
    for opt in m.options:
        key = opt.split("=", 1)[0]
        if opt in MOUNT_FLAG_OPTIONS or ("=" in opt and key in MOUNT_VALUE_OPTIONS):
            continue
        raise InvalidArgument(f"unknown mount option {opt!r} for {m.destination}")


def merge_env(
    image_env: list[str], run_env: list[str], caller_env: dict[str, str] | None = None
) -> list[str]:
    """A process's environment as docker builds it: the image's ``K=V`` list, then the request's (``K=V``
    sets, a bare ``K`` copies the caller's value or is dropped), in first-seen order."""
    caller = os.environ if caller_env is None else caller_env
    order: list[str] = []
    values: dict[str, str] = {}
    for item in [*image_env, *run_env]:
        key, sep, val = item.partition("=")
        if not key:
            raise InvalidArgument(f"invalid environment variable: {item!r}")
        if not sep:
            if key not in caller:
                continue
            val = caller[key]
        if key not in values:
            order.append(key)
        values[key] = val
    return [f"{k}={values[k]}" for k in order]


def rlimit_name(kind: str) -> str:
    """Normalise 'RLIMIT_NOFILE' / 'nofile' to 'nofile'; InvalidArgument if unknown."""
    name = kind.lower().removeprefix("rlimit_")
    if name not in RLIMIT_NAMES:
        raise InvalidArgument(f"unknown ulimit {kind!r}")
    return name
