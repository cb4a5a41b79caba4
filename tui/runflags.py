"""``create``/``run`` flags, parsed into a :class:`core.models.RunConfig` exactly as docker reads them."""

from __future__ import annotations

import argparse
import os
import shlex
from pathlib import Path

from core.errors import InvalidArgument
from core.models import Mount, PortBinding, RunConfig
from core.runtime.spec import RLIMIT_NAMES
from core.units import parse_bytes


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
    a("image", metavar="IMAGE")
    a("command", nargs=argparse.REMAINDER, metavar="COMMAND [ARG...]")


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
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as err:
        raise InvalidArgument(f"cannot read env file {path}: {err.strerror}") from err
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
    """``-v``: ``/ctr``, ``name:/ctr``, ``/host:/ctr[:ro|rw|z|Z|...]``."""
    parts = spec.split(":")
    if len(parts) == 1:
        if not parts[0].startswith("/"):
            raise InvalidArgument(f"invalid volume specification {spec!r}: the destination must be absolute")
        return Mount("volume", parts[0])
    if len(parts) > 3:
        raise InvalidArgument(f"invalid volume specification: {spec!r}")
    src, dst = parts[0], parts[1]
    mode = parts[2] if len(parts) == 3 else "rw"
    opts = set(mode.split(","))
    unknown = opts - {
        "ro",
        "rw",
        "z",
        "Z",
        "rprivate",
        "private",
        "rslave",
        "slave",
        "rshared",
        "shared",
        "nocopy",
        "consistent",
        "cached",
        "delegated",
    }
    if unknown or not dst.startswith("/") or not src:
        raise InvalidArgument(f"invalid volume specification: {spec!r}")
    options = {}
    for prop in ("rprivate", "private", "rslave", "slave", "rshared", "shared"):
        if prop in opts:
            options["propagation"] = prop
    if "nocopy" in opts:
        options["nocopy"] = "true"
    if src.startswith("/") or src.startswith("."):
        return Mount("bind", dst, os.path.abspath(src), "ro" in opts, options)
    return Mount("volume", dst, src, "ro" in opts, options)


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
    options: dict[str, str] = {}
    if kind == "bind":
        if not source:
            raise InvalidArgument(f"invalid --mount {spec!r}: a bind mount needs a source")
        if "bind-propagation" in fields:
            options["propagation"] = fields.pop("bind-propagation")
        source = os.path.abspath(source)
    elif kind == "tmpfs":
        if source:
            raise InvalidArgument(f"invalid --mount {spec!r}: a tmpfs has no source")
        if "tmpfs-size" in fields:
            options["size"] = str(parse_bytes(fields.pop("tmpfs-size")))
        if "tmpfs-mode" in fields:
            options["mode"] = fields.pop("tmpfs-mode")
    elif kind == "volume":
        if fields.pop("volume-nocopy", "false") in ("true", "1"):
            options["nocopy"] = "true"
    else:
        raise InvalidArgument(f"invalid --mount {spec!r}: type must be bind, volume or tmpfs")
    if fields:
        raise InvalidArgument(f"invalid --mount {spec!r}: unknown field(s) {', '.join(sorted(fields))}")
    return Mount(kind, target, source, ro, options)


def parse_tmpfs(spec: str) -> Mount:
    path, _, opts = spec.partition(":")
    if not path.startswith("/"):
        raise InvalidArgument(f"invalid --tmpfs {spec!r}: the path must be absolute")
    options: dict[str, str] = {}
    for opt in filter(None, opts.split(",")):
        k, _, v = opt.partition("=")
        if k == "size":
            options["size"] = str(parse_bytes(v))
        elif k == "mode":
            options["mode"] = v
        elif k in ("rw", "ro", "noexec", "exec", "nosuid", "suid", "nodev", "dev"):
            continue
        else:
            raise InvalidArgument(f"invalid --tmpfs option {opt!r}")
    return Mount("tmpfs", path, "", "ro" in opts.split(","), options)


def parse_publish(spec: str) -> list[PortBinding]:
    """``-p``: ``80``, ``8080:80``, ``127.0.0.1:8080:80``, ``127.0.0.1::80``, ``8080-8081:80-81``,
    with an optional ``/udp`` or ``/tcp``."""
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

    def span(text: str) -> list[int]:
        a, _, b = text.partition("-")
        try:
            lo, hi = int(a), int(b or a)
        except ValueError:
            raise InvalidArgument(f"invalid port {text!r} in -p {spec!r}") from None
        if not (0 < lo <= hi < 65536):
            raise InvalidArgument(f"invalid port range {text!r} in -p {spec!r}")
        return list(range(lo, hi + 1))

    ctr_ports = span(ctr)
    host_ports = span(host) if host else [0] * len(ctr_ports)
    if len(host_ports) != len(ctr_ports):
        if len(host_ports) > 1 and len(ctr_ports) == 1:
            host_ports = host_ports[:1]  # docker picks one from a host range; take the first
        else:
            raise InvalidArgument(f"invalid ranges in -p {spec!r}: host and container ranges differ in size")
    return [PortBinding(c, proto, ip, h) for c, h in zip(ctr_ports, host_ports, strict=True)]


def parse_ulimit(spec: str) -> tuple[str, tuple[int, int]]:
    name, sep, value = spec.partition("=")
    if not sep or name not in RLIMIT_NAMES:
        raise InvalidArgument(f"invalid ulimit {spec!r}: expected NAME=SOFT[:HARD] with a known NAME")
    soft_s, _, hard_s = value.partition(":")
    try:
        soft = int(soft_s)
        hard = int(hard_s) if hard_s else soft
    except ValueError:
        raise InvalidArgument(f"invalid ulimit {spec!r}: limits must be numbers (-1 for unlimited)") from None
    if soft != -1 and hard != -1 and soft > hard:
        raise InvalidArgument(f"invalid ulimit {spec!r}: soft limit {soft} is above hard limit {hard}")
    return name, (soft, hard)


def run_config(args: argparse.Namespace) -> RunConfig:
    command = list(args.command) if args.command else None
    if command and command[0] == "--":
        command = command[1:] or None
    env: list[str] = []
    for f in args.env_file:
        env += parse_env_file(f)
    env += args.env
    entrypoint = None
    if args.entrypoint is not None:
        entrypoint = shlex.split(args.entrypoint) if args.entrypoint else []
    mounts = [parse_volume(v) for v in args.volume]
    mounts += [parse_mount(m) for m in args.mount]
    mounts += [parse_tmpfs(t) for t in args.tmpfs]
    seen: set[str] = set()
    for m in mounts:
        key = m.target.rstrip("/")
        if key in seen:
            raise InvalidArgument(f"duplicate mount point: {m.target}")
        seen.add(key)
    ports = [b for spec in args.publish for b in parse_publish(spec)]
    memory = parse_bytes(args.memory) if args.memory else None
    if memory is not None and memory < 6 * 1024 * 1024:
        raise InvalidArgument("minimum memory limit allowed is 6MB")
    swap = None
    if args.memory_swap:
        swap = -1 if args.memory_swap == "-1" else parse_bytes(args.memory_swap)
        if memory is None:
            raise InvalidArgument("you should always set the memory limit when using the memory swap limit")
        if swap != -1 and swap < memory:
            raise InvalidArgument("minimum memoryswap limit should be larger than memory limit")
    if args.cpus is not None and args.cpus <= 0:
        raise InvalidArgument(f"invalid value {args.cpus} for --cpus: must be positive")
    ulimits = dict(parse_ulimit(u) for u in args.ulimit)
    log_opts = _kv(args.log_opt, "--log-opt")
    from core.logopts import parse_log_opts

    parse_log_opts(log_opts)
    from core.containers.resolve import parse_restart

    parse_restart(args.restart)
    detach = bool(getattr(args, "detach", False))
    if detach and args.rm and args.restart != "no":
        raise InvalidArgument("conflicting options: cannot specify both --restart and --rm")
    if args.rm and args.restart != "no":
        raise InvalidArgument("conflicting options: cannot specify both --restart and --rm")
    return RunConfig(
        image=args.image,
        command=command,
        entrypoint=entrypoint,
        name=args.name,
        env=env,
        workdir=args.workdir,
        user=args.user,
        hostname=args.hostname,
        labels=_kv(args.label, "label"),
        tty=args.tty,
        interactive=args.interactive,
        detach=detach,
        auto_remove=args.rm,
        mounts=mounts,
        read_only=args.read_only,
        restart=args.restart,
        memory=memory,
        memory_swap=swap,
        cpus=args.cpus,
        pids_limit=args.pids_limit,
        cap_add=args.cap_add,
        cap_drop=args.cap_drop,
        privileged=args.privileged,
        security_opt=args.security_opt,
        init=args.init,
        stop_signal=args.stop_signal,
        stop_timeout=args.stop_timeout,
        ulimits=ulimits,
        shm_size=parse_bytes(args.shm_size) if args.shm_size else None,
        devices=args.device,
        network=args.network,
        network_aliases=args.network_alias,
        ip=args.ip,
        ports=ports,
        publish_all=args.publish_all,
        dns=args.dns,
        extra_hosts=args.add_host,
        log_opts=log_opts,
        platform=args.platform,
        pull=args.pull,
    )
