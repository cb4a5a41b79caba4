"""``create``/``run`` flags, parsed into a :class:`core.models.ContainerCreate` exactly as docker reads them.

Only text is read here; what the request means (limits, policies, conflicts) is checked by core when the
container is created (core.containers.validate). The text forms docker's JSON also carries (``-v``'s binds,
``--tmpfs``'s options) are read by core.dockerjson, for both."""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import Callable, Iterator

from core.errors import InvalidArgument
from core.interface import DuplexStream, parse_bind, parse_bytes, parse_duration, tmpfs_mount
from core.models import (
    BindOptions,
    ContainerConfig,
    ContainerCreate,
    DeviceMapping,
    EndpointIPAMConfig,
    EndpointSettings,
    HealthConfig,
    HostConfig,
    HostPortBinding,
    LogConfig,
    Mount,
    NetworkingConfig,
    RestartPolicy,
    TmpfsOptions,
    Ulimit,
    VolumeOptions,
)


def add_run_flags(p: argparse.ArgumentParser, *, run: bool) -> None:
    a = p.add_argument
    if run:
        a("-d", "--detach", action="store_true", help="run in the background and print the container id")
        a("--rm", action="store_true", help="remove the container when it exits")
        a("--detach-keys", default=None, help="key sequence to detach (default ctrl-p,ctrl-q)")
        a("--sig-proxy", default="true", help="proxy received signals to the process (default true)")
    else:
        a("--rm", action="store_true", help="remove the container when it exits")
    a("-i", "--interactive", action="store_true", help="keep STDIN open")
    a("-t", "--tty", action="store_true", help="allocate a pseudo-TTY")
    a("--name", help="assign a name to the container")
    a("-e", "--env", action="append", default=[], help="set an environment variable (K=V or K)")
    a("--env-file", action="append", default=[], help="read environment variables from a file")
    a("-w", "--workdir", help="working directory inside the container")
    a("-u", "--user", help="user[:group] or uid[:gid]")
    a("--entrypoint", default=None, help="overwrite the image's ENTRYPOINT")
    a("-h", "--hostname", help="container host name")
    a("-v", "--volume", action="append", default=[], help="bind mount or volume: [SRC:]DST[:ro|rw]")
    a("--mount", action="append", default=[], help="type=bind|volume|tmpfs,source=...,target=...[,readonly]")
    a("--tmpfs", action="append", default=[], help="mount a tmpfs: PATH[:size=64m,mode=1777]")
    a("--read-only", action="store_true", help="mount the root filesystem read-only")
    a("--restart", default="no", help="no | on-failure[:N] | always | unless-stopped")
    a("-m", "--memory", help="memory limit (e.g. 32m)")
    a("--memory-swap", help="memory + swap limit; -1 for unlimited swap")
    a("--cpus", type=float, help="number of CPUs")
    a("--pids-limit", type=int, help="maximum number of processes")
    a("--cap-add", action="append", default=[], help="add a Linux capability")
    a("--cap-drop", action="append", default=[], help="drop a Linux capability")
    a("--privileged", action="store_true", help="give extended privileges")
    a("--security-opt", action="append", default=[], help="no-new-privileges | seccomp=unconfined")
    a(
        "--init",
        action="store_true",
        help="run an init inside the container that reaps zombies and forwards signals",
    )
    a("-l", "--label", action="append", default=[], help="set metadata (K=V)")
    a("--stop-signal", help="signal to stop the container (default SIGTERM)")
    a("--stop-timeout", type=int, help="seconds to wait before killing the container on stop")
    a("--ulimit", action="append", default=[], help="ulimit: NAME=SOFT[:HARD]")
    a("--shm-size", help="size of /dev/shm (default 64m)")
    a("--device", action="append", default=[], help="add a host device: HOST[:CONTAINER[:rwm]]")
    a("--network", "--net", default="default", help="network: default bridge, a network name, none or host")
    a("--network-alias", action="append", default=[], help="alias for the container on its network")
    a("--ip", help="IPv4 address on the network")
    a("-p", "--publish", action="append", default=[], help="publish a port: [IP:][HOST:]CONTAINER[/PROTO]")
    a("-P", "--publish-all", action="store_true", help="publish every exposed port to a free host port")
    a("--dns", action="append", default=[], help="DNS server for the container")
    a("--add-host", action="append", default=[], help="add a host-to-IP line to /etc/hosts (HOST:IP)")
    a("--log-opt", action="append", default=[], help="log options: max-size=10m, max-file=3")
    a("--platform", help="platform of the image to pull if missing")
    a(
        "--pull",
        default="missing",
        choices=["missing", "always", "never"],
        help="pull the image before running",
    )
    a("-q", "--quiet", action="store_true", help="suppress the pull output")
    a("--health-cmd", default="", help="command to run to check health")
    a("--health-interval", default="0s", help="time between running the check (ms|s|m|h) (default 0s)")
    a("--health-timeout", default="0s", help="maximum time to allow one check to run (ms|s|m|h) (default 0s)")
    a("--health-retries", default="0", help="consecutive failures needed to report unhealthy")
    a("--health-start-period", default="0s", help="start period before failures count (default 0s)")
    a("--health-start-interval", default="0s", help="time between checks in the start period (default 0s)")
    a("--no-healthcheck", action="store_true", help="disable any container-specified HEALTHCHECK")
    add_namespace_flags(p)
    a("image", metavar="IMAGE")
    a("command", nargs=argparse.REMAINDER, metavar="COMMAND [ARG...]")


def add_namespace_flags(p: argparse.ArgumentParser) -> None:
    """Namespaces, groups, DNS, sysctls, links, logging, cgroup and runtime flags of ``create``/``run``."""
    a = p.add_argument
    a("--pid", default="", help="PID namespace: host or container:NAME")
    a("--ipc", default="", help="IPC mode: private, shareable, host, none or container:NAME")
    a("--uts", default="", help="UTS namespace: host")
    a("--userns", default="", help="user namespace: host (no remapping)")
    a("--group-add", action="append", default=[], help="add a supplementary group (name or gid)")
    a("--volumes-from", action="append", default=[], help="mount the volumes of a container: C[:ro|rw]")
    a("--cidfile", default="", help="write the container id to this file")
    a("--dns-search", action="append", default=[], help="DNS search domain")
    a("--dns-option", action="append", default=[], help="DNS resolver option")
    a("--sysctl", action="append", default=[], help="namespaced kernel parameter: NAME=VALUE")
    a("--expose", action="append", default=[], help="expose a port or a range: PORT[-PORT][/PROTO]")
    a(
        "-a",
        "--attach",
        action="append",
        default=[],
        help="attach to STDIN, STDOUT or STDERR",
    )
    a("--link", action="append", default=[], help="add a link to another container: NAME[:ALIAS]")
    a("--log-driver", default="", help="logging driver: json-file, local or none")
    a("-c", "--cpu-shares", type=int, default=0, help="CPU shares (relative weight)")
    a("--cpuset-cpus", default="", help="CPUs the container may run on (0-3, 0,1)")
    a("--memory-reservation", default="", help="memory soft limit (e.g. 16m)")
    a("--oom-kill-disable", action="store_true", help="disable the OOM killer")
    a("--cgroup-parent", default="", help="parent cgroup for the container")
    a("--label-file", action="append", default=[], help="read labels from a file of K=V lines")
    a("--runtime", default="", help="runtime to use (the built-in one: runc)")


def parse_expose(spec: str) -> list[str]:
    """``--expose PORT[-PORT][/PROTO]``: "80/tcp" keys, a range one key a port (docker's wording)."""
    body, _, proto = spec.partition("/")
    proto = proto or "tcp"
    lo_s, dash, hi_s = body.partition("-")
    ports: list[int] = []
    for text in (lo_s, hi_s if dash else lo_s):
        if not text.isdigit() or int(text) > 65535:
            raise InvalidArgument(
                f"invalid range format for --expose: {spec}, error: strconv.ParseUint: "
                f'parsing "{text}": invalid syntax'
            )
        ports.append(int(text))
    lo, hi = ports
    if hi < lo:
        raise InvalidArgument(f"invalid range format for --expose: {spec}, error: invalid port range")
    return [f"{port}/{proto.lower()}" for port in range(lo, hi + 1)]


def parse_attach(items: list[str]) -> set[str]:
    """``-a STDIN|STDOUT|STDERR`` (any case)."""
    out = set()
    for item in items:
        if item.lower() not in ("stdin", "stdout", "stderr"):
            raise InvalidArgument(
                f'invalid argument "{item}" for "-a, --attach" flag: '
                "valid streams are STDIN, STDOUT and STDERR"
            )
        out.add(item.lower())
    return out


def parse_link(spec: str) -> str:
    """``--link NAME[:ALIAS]`` as ``HostConfig.Links`` holds it: "name:alias"."""
    name, _, alias = spec.partition(":")
    name = name.lstrip("/")
    if not name:
        raise InvalidArgument(f"invalid link format {spec!r}: expected NAME[:ALIAS]")
    return f"{name}:{alias or name}"


def parse_sysctl(spec: str) -> tuple[str, str]:
    """``--sysctl NAME=VALUE`` (core checks that the name is a namespaced one)."""
    key, sep, value = spec.partition("=")
    if not sep or not key:
        raise InvalidArgument(
            f'invalid argument "{spec}" for "--sysctl" flag: sysctl {spec!r} is not allowed'
        )
    return key, value


def _kv(items: list[str], what: str) -> dict[str, str]:
    out = {}
    for item in items:
        k, sep, v = item.partition("=")
        if not k:
            raise InvalidArgument(f"invalid {what}: {item!r}")
        out[k] = v if sep else ""
    return out


def parse_env_file(path: str) -> list[str]:
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError as err:
        why = err.strerror or str(err)  # docker's words: Go's "open PATH: no such file or directory"
        raise InvalidArgument(f"open {path}: {why[:1].lower()}{why[1:]}") from err
    out = []
    for n, line in enumerate(lines, 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        if text.startswith("="):
            raise InvalidArgument(f"{path}:{n}: variable name is empty")
        if " " in text.partition("=")[0]:
            raise InvalidArgument(f"{path}:{n}: variable name {text.partition('=')[0]!r} contains whitespace")
        out.append(line.lstrip())
    return out


def parse_volume(spec: str) -> Mount:
    """``-v``: ``/ctr`` (an anonymous volume), ``name:/ctr``, ``/host:/ctr[:ro|rw|z|Z|...]``; a relative host
    path is taken from the current directory."""
    if ":" not in spec:
        if not spec.startswith("/"):
            raise InvalidArgument(f"invalid volume specification {spec!r}: the destination must be absolute")
        return Mount("volume", spec)
    m = parse_bind(spec)
    if m.type == "bind":
        m.source = os.path.abspath(m.source)
    return m


def parse_mount(spec: str) -> Mount:
    """``--mount type=bind,source=/a,target=/b,readonly``."""
    fields: dict[str, str] = {}
    for part in spec.split(","):
        k, sep, v = part.partition("=")
        fields[k.strip().lower()] = v if sep else "true"
    kind = fields.pop("type", "volume")
    target = fields.pop("target", None) or fields.pop("destination", None) or fields.pop("dst", None)
    if not target or not target.startswith("/"):
        raise InvalidArgument(f"invalid --mount {spec!r}: target must be an absolute path")
    source = fields.pop("source", None) or fields.pop("src", None) or ""
    ro = fields.pop("readonly", fields.pop("ro", "false")).lower() in ("true", "1", "")
    m = Mount(kind, target, source, ro)
    if kind == "bind":
        if not source:
            raise InvalidArgument(f"invalid --mount {spec!r}: a bind mount needs a source")
        if "bind-propagation" in fields:
            m.bind_options = BindOptions(fields.pop("bind-propagation"))
        m.source = os.path.abspath(source)
    elif kind == "tmpfs":
        if source:
            raise InvalidArgument(f"invalid --mount {spec!r}: a tmpfs has no source")
        size, mode = fields.pop("tmpfs-size", None), fields.pop("tmpfs-mode", None)
        if size is not None or mode is not None:
            try:
                bits = int(mode, 8) if mode is not None else 0
            except ValueError:
                raise InvalidArgument(f"invalid --mount {spec!r}: tmpfs-mode is an octal number") from None
            m.tmpfs_options = TmpfsOptions(parse_bytes(size) if size is not None else 0, bits)
    elif kind == "volume":
        if fields.pop("volume-nocopy", "false") in ("true", "1"):
            m.volume_options = VolumeOptions(no_copy=True)
    else:
        raise InvalidArgument(f'invalid mount config for type "{kind}": mount type unknown')  # docker's words
    if fields:
        raise InvalidArgument(f"invalid --mount {spec!r}: unknown field(s) {', '.join(sorted(fields))}")
    return m


def parse_tmpfs(spec: str) -> Mount:
    """``--tmpfs PATH[:size=64m,mode=1777]``."""
    path, _, opts = spec.partition(":")
    if not path.startswith("/"):
        raise InvalidArgument(f"invalid --tmpfs {spec!r}: the path must be absolute")
    return tmpfs_mount(path, opts)


def parse_publish(spec: str) -> list[tuple[str, HostPortBinding]]:
    """``-p``: ``80``, ``8080:80``, ``127.0.0.1:8080:80``, ``127.0.0.1::80``, ``8080-8081:80-81``,
    with an optional ``/udp`` or ``/tcp``: ("80/tcp", binding) pairs."""
    body, _, proto = spec.partition("/")
    proto = proto or "tcp"
    if proto not in ("tcp", "udp", "sctp"):
        raise InvalidArgument(f"invalid protocol {proto!r} in -p {spec!r}")
    if body.startswith("["):  # [::1]:8080:80
        ip, _, rest = body[1:].partition("]")
        rest = rest.lstrip(":")
        parts = [ip, *rest.split(":")]
    else:
        parts = body.split(":")
    if len(parts) == 1:
        ip, host, ctr = "", "", parts[0]
    elif len(parts) == 2:
        ip, host, ctr = "", parts[0], parts[1]
    elif len(parts) == 3:
        ip, host, ctr = parts
    else:
        raise InvalidArgument(f"invalid publish specification: {spec!r}")

    def span(text: str, what: str) -> list[int]:
        a, _, b = text.partition("-")
        try:
            lo, hi = int(a), int(b or a)
        except ValueError:
            raise InvalidArgument(f"invalid {what}: {text}") from None  # docker's words (go-connections)
        if not (0 < lo <= hi < 65536):
            raise InvalidArgument(f"invalid {what}: {text}")
        return list(range(lo, hi + 1))

    ctr_ports = span(ctr, "containerPort")
    host_ports = span(host, "hostPort") if host else [0] * len(ctr_ports)
    if len(host_ports) != len(ctr_ports):
        if len(host_ports) > 1 and len(ctr_ports) == 1:
            host_ports = host_ports[:1]  # docker picks one from a host range; take the first
        else:
            raise InvalidArgument(f"invalid ranges in -p {spec!r}: host and container ranges differ in size")
    return [
        (f"{c}/{proto}", HostPortBinding(ip, str(h) if h else ""))
        for c, h in zip(ctr_ports, host_ports, strict=True)
    ]


def parse_ulimit(spec: str) -> Ulimit:
    """``--ulimit NAME=SOFT[:HARD]`` (core checks the name and that soft is not above hard)."""
    name, sep, value = spec.partition("=")
    if not sep or not name:
        raise InvalidArgument(f"invalid ulimit {spec!r}: expected NAME=SOFT[:HARD] with a known NAME")
    soft_s, _, hard_s = value.partition(":")
    try:
        soft = int(soft_s)
        hard = int(hard_s) if hard_s else soft
    except ValueError:
        raise InvalidArgument(f"invalid ulimit {spec!r}: limits must be numbers (-1 for unlimited)") from None
    return Ulimit(name, soft, hard)


def parse_restart(text: str) -> RestartPolicy:
    """``--restart no | always | unless-stopped | on-failure[:N]`` (core checks the name)."""
    name, _, count = text.partition(":")
    if count and not count.isdigit():
        raise InvalidArgument(f"invalid restart policy {text!r}: the retry count must be a number")
    return RestartPolicy(name, int(count or 0))


def parse_device(spec: str) -> DeviceMapping:
    """``--device HOST[:CONTAINER][:PERMISSIONS]``. The permissions are accepted and not kept: dockyard sets
    no per-device cgroup rule to apply them with."""
    parts = spec.split(":")
    inside = parts[1] if len(parts) > 1 and parts[1].startswith("/") else parts[0]
    return DeviceMapping(parts[0], inside)


def health_config(args: argparse.Namespace) -> HealthConfig | None:
    """``--health-*`` and ``--no-healthcheck`` as docker's CLI reads them: None when none is given (the
    image's check), ``["NONE"]`` for --no-healthcheck, else the parts given (no test keeps the image's)."""

    def duration(flag: str) -> int:
        text = str(getattr(args, flag.removeprefix("--").replace("-", "_")))
        if text == "0s":  # the default, so every run's: spares the duration parser's import
            return 0
        try:
            return parse_duration(text)
        except InvalidArgument as err:
            raise InvalidArgument(f'invalid argument "{text}" for "{flag}" flag: {err}') from None

    interval = duration("--health-interval")
    timeout = duration("--health-timeout")
    start_period = duration("--health-start-period")
    start_interval = duration("--health-start-interval")
    try:
        retries = int(args.health_retries, 10)
    except ValueError:
        raise InvalidArgument(
            f'invalid argument "{args.health_retries}" for "--health-retries" flag: '
            f'strconv.ParseInt: parsing "{args.health_retries}": invalid syntax'
        ) from None
    given = bool(args.health_cmd) or any((interval, timeout, start_period, start_interval, retries))
    if args.no_healthcheck:
        if given:
            raise InvalidArgument("--no-healthcheck conflicts with --health-* options")
        return HealthConfig(test=["NONE"])
    if not given:
        return None
    for flag, value in (
        ("--health-interval", interval),
        ("--health-timeout", timeout),
        ("--health-retries", retries),
        ("--health-start-period", start_period),
        ("--health-start-interval", start_interval),
    ):
        if value < 0:
            raise InvalidArgument(f"{flag} cannot be negative")
    return HealthConfig(
        test=["CMD-SHELL", args.health_cmd] if args.health_cmd else [],
        interval=interval,
        timeout=timeout,
        start_period=start_period,
        start_interval=start_interval,
        retries=retries,
    )


def run_config(args: argparse.Namespace) -> ContainerCreate:
    """The create request the flags stand for (text parsed here; core.containers.validate checks it)."""
    command = list(args.command) if args.command else None
    if command and command[0] == "--":
        command = command[1:] or None
    env: list[str] = []
    for f in args.env_file:
        env += parse_env_file(f)
    for item in args.env:
        if not item.partition("=")[0]:  # docker's CLI refuses it as it reads the flag (opts.ValidateEnv)
            raise InvalidArgument(
                f'invalid argument "{item}" for "-e, --env" flag: invalid environment variable: {item}'
            )
    env += args.env
    entrypoint = None
    if args.entrypoint is not None:
        import shlex  # only for --entrypoint

        entrypoint = shlex.split(args.entrypoint) if args.entrypoint else []
    mounts = [parse_volume(v) for v in args.volume]
    mounts += [parse_mount(m) for m in args.mount]
    mounts += [parse_tmpfs(t) for t in args.tmpfs]
    bindings: dict[str, list[HostPortBinding]] = {}
    for spec in args.publish:
        for port, binding in parse_publish(spec):
            bindings.setdefault(port, []).append(binding)
    memory = flag_size(args.memory, "-m, --memory") if args.memory else 0
    swap = 0
    if args.memory_swap:
        swap = -1 if args.memory_swap == "-1" else flag_size(args.memory_swap, "--memory-swap")
    ulimits = {u.name: u for u in map(parse_ulimit, args.ulimit)}  # a later --ulimit of a name wins
    endpoint = EndpointSettings(EndpointIPAMConfig(args.ip) if args.ip else None, list(args.network_alias))
    detach = bool(getattr(args, "detach", False))
    attach = parse_attach(args.attach)
    if attach and detach:
        raise InvalidArgument("conflicting options: cannot specify both --attach and --detach")
    exposed: list[str] = list(bindings)  # docker's CLI exposes every published port too
    for spec in args.expose:
        exposed += [p for p in parse_expose(spec) if p not in exposed]
    labels: dict[str, str] = {}
    for f in args.label_file:
        labels.update(_kv(parse_env_file(f), "label"))
    labels.update(_kv(args.label, "label"))
    config = ContainerConfig(
        image=args.image,
        hostname=args.hostname or "",
        user=args.user or "",
        tty=args.tty,
        open_stdin=args.interactive,
        attach_stdin=("stdin" in attach or args.interactive) and not detach,
        attach_stdout="stdout" in attach if attach else not detach,
        attach_stderr="stderr" in attach if attach else not detach,
        env=env,
        cmd=command,
        working_dir=args.workdir or "",
        entrypoint=entrypoint,
        labels=labels,
        stop_signal=args.stop_signal or "",
        stop_timeout=args.stop_timeout,
        exposed_ports=exposed,
        healthcheck=health_config(args),
    )
    host = HostConfig(
        network_mode=args.network,
        port_bindings=bindings,
        publish_all_ports=args.publish_all,
        restart_policy=parse_restart(args.restart),
        auto_remove=args.rm,
        mounts=mounts,
        readonly_rootfs=args.read_only,
        cap_add=args.cap_add,
        cap_drop=args.cap_drop,
        privileged=args.privileged,
        security_opt=args.security_opt,
        memory=memory,
        memory_swap=swap,
        nano_cpus=round(args.cpus * 1e9) if args.cpus is not None else 0,
        pids_limit=args.pids_limit,
        shm_size=flag_size(args.shm_size, "--shm-size") if args.shm_size else 0,
        init=args.init,
        ulimits=list(ulimits.values()),
        devices=[parse_device(d) for d in args.device],
        dns=args.dns,
        extra_hosts=args.add_host,
        log_config=LogConfig(args.log_driver or "json-file", _kv(args.log_opt, "--log-opt")),
        pid_mode=args.pid,
        ipc_mode=args.ipc,
        uts_mode=args.uts,
        userns_mode=args.userns,
        group_add=list(args.group_add),
        volumes_from=list(args.volumes_from),
        dns_search=list(args.dns_search),
        dns_options=list(args.dns_option),
        sysctls=dict(map(parse_sysctl, args.sysctl)),
        links=[parse_link(x) for x in args.link],
        cpu_shares=args.cpu_shares,
        cpuset_cpus=args.cpuset_cpus,
        memory_reservation=flag_size(args.memory_reservation, "--memory-reservation")
        if args.memory_reservation
        else 0,
        oom_kill_disable=args.oom_kill_disable,
        cgroup_parent=args.cgroup_parent,
        runtime=args.runtime,
        container_id_file=os.path.abspath(args.cidfile) if args.cidfile else "",
    )
    return ContainerCreate(
        config=config,
        host_config=host,
        # the first network's settings, when it has any (as docker's CLI sends them)
        networking_config=NetworkingConfig({args.network: endpoint} if args.ip or args.network_alias else {}),
        name=args.name or "",
        platform=args.platform or "",
        pull=args.pull,
    )


@contextlib.contextmanager
def cidfile_open(path: str) -> Iterator[Callable[[str], None]]:
    """``--cidfile``: made before the create (refused if it exists, as docker's CLI does), the id written
    into it after; removed again when the create fails."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    except FileExistsError:
        raise InvalidArgument(
            f"container ID file found, make sure the other container isn't running or delete {path}"
        ) from None
    except OSError as err:
        raise InvalidArgument(f"failed to create the container ID file: {err.strerror}: {path}") from None
    written = False

    def write_id(cid: str) -> None:
        nonlocal written
        os.write(fd, cid.encode())
        written = True

    try:
        yield write_id
    finally:
        os.close(fd)
        if not written:
            with contextlib.suppress(OSError):
                os.unlink(path)


class AttachedStreams(DuplexStream):
    """``run -a``: an attach stream that passes on only the output streams named (stdout, stderr)."""

    def __init__(self, inner: DuplexStream, names: set[str]) -> None:
        self.inner = inner
        self.ids = {i for i, n in ((1, "stdout"), (2, "stderr")) if n in names}
        self.tty = inner.tty  # a terminal's one stream is stdout's

    def fileno(self) -> int:
        return self.inner.fileno()

    def read(self) -> list[tuple[int, bytes]] | None:
        frames = self.inner.read()
        if frames is None:
            self.exit_code, self.error = self.inner.exit_code, self.inner.error
            return None
        return [(sid, data) for sid, data in frames if (1 if self.inner.tty else sid) in self.ids]

    def write(self, data: bytes) -> None:
        self.inner.write(data)

    @property
    def input_backlog(self) -> int:
        return self.inner.input_backlog

    def close_stdin(self) -> None:
        self.inner.close_stdin()

    def resize(self, rows: int, cols: int) -> None:
        self.inner.resize(rows, cols)

    def kill(self, signum: int) -> None:
        self.inner.kill(signum)

    def detach(self) -> None:
        self.inner.detach()

    def close(self) -> None:
        self.inner.close()


def flag_size(value: str, flag: str) -> int:
    """A size flag's value (``-m 32m``), refused as the docker CLI's flag parser does: exit 125, and
    ``invalid argument "lots" for "-m, --memory" flag: invalid size: 'lots'``."""
    from core.errors import BadFlagValue

    try:
        return parse_bytes(value)
    except InvalidArgument as err:
        raise BadFlagValue(f'invalid argument "{value}" for "{flag}" flag: {err}') from err
