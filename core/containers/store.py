"""Container records: ``containers/<id>/config.json`` (what was asked) and ``state.json`` (what is).

Names are unique: creating or renaming takes the ``containers`` lock and checks every record. Lookups accept
a full id, a unique id prefix, or a name (with or without docker's leading slash).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from core.config import Paths
from core.errors import Conflict, ContainerNotFound, CorruptState, InvalidArgument
from core.models import (
    BindOptions,
    ContainerConfig,
    ContainerCreate,
    DeviceMapping,
    EndpointIPAMConfig,
    EndpointSettings,
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
from core.record import asdict, field, known_fields, record
from core.state.ids import HEX64, check_hex64, check_name
from core.state.locks import FileLock
from core.state.records import write_json

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~2 ms of a start)
if TYPE_CHECKING:
    from typing import Any

_ADJECTIVES = (
    "brave",
    "calm",
    "eager",
    "fond",
    "keen",
    "lucid",
    "merry",
    "noble",
    "quirky",
    "sharp",
    "tender",
    "vivid",
    "witty",
    "zealous",
    "bold",
    "clever",
    "dreamy",
    "gentle",
    "happy",
    "jolly",
)
_NOUNS = (
    "anchor",
    "barge",
    "buoy",
    "crane",
    "dock",
    "ferry",
    "harbor",
    "hull",
    "keel",
    "mast",
    "pier",
    "quay",
    "rudder",
    "sail",
    "skiff",
    "tug",
    "wharf",
    "yard",
    "bollard",
    "lighthouse",
)


@record
class ContainerState:
    status: str = "created"  # created | running | paused | restarting | exited | dead | removing
    pid: int = 0
    shim_pid: int = 0
    exit_code: int = 0
    error: str = ""
    oom_killed: bool = False
    started_at: str = ""
    finished_at: str = ""
    restart_count: int = 0
    manual_stop: bool = False  # stopped by the user: restart policies other than "always" do not restart
    ports: list[dict[str, Any]] = field(default_factory=list)  # published host ports, as bound at start
    network: dict[str, Any] = field(default_factory=dict)  # addresses etc. while running
    health: dict[str, Any] | None = None  # docker's State.Health, kept by the shim (core.supervisor.health)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ContainerState:
        return cls(**known_fields(cls, data))


@record
class ContainerRecord:
    id: str
    name: str
    created: str
    image: str  # as the user named it
    image_id: str
    layers: list[str]  # chain ids, lowest first
    run: ContainerCreate  # the request as created, its anonymous volumes named; networks as connected since
    process: dict[str, Any]  # resolved: args, env, cwd, user, hostname, tty, stop_signal ...
    state: ContainerState = field(default_factory=ContainerState)
    anonymous_volumes: list[str] = field(default_factory=list)  # named at create; `rm -v` removes them

    def config_json(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("state")
        return d

    @classmethod
    def from_config_json(cls, data: dict[str, Any], state: ContainerState) -> ContainerRecord:
        fields = known_fields(cls, data)
        run = fields.pop("run")
        if "config" in run:
            fields["run"] = ContainerCreate.from_json(run)
        else:
            fields["run"], fields["anonymous_volumes"] = legacy_run(run)
        return cls(state=state, **fields)


def anonymous_volumes(data: dict[str, Any]) -> list[str]:
    """The anonymous volumes a ``config.json`` names, without building its record (all removal reads)."""
    if "anonymous_volumes" in data:
        return [str(v) for v in data["anonymous_volumes"]]
    # the flat layout marked them on the mount
    mounts = (data.get("run") or {}).get("mounts") or []
    return [str(m.get("source", "")) for m in mounts if m.get("type") == "volume" and m.get("anonymous")]


def legacy_run(run: dict[str, Any]) -> tuple[ContainerCreate, list[str]]:
    """A container created by an older dockyard: its ``run`` is a flat dict with the keys of the old
    ``RunConfig`` (checked when it was created). The same request in today's records, and the anonymous
    volumes its mounts were marked with."""
    mounts = []
    for m in run.get("mounts") or []:
        opts = m.get("options") or {}
        mount = Mount(str(m["type"]), str(m["target"]), str(m.get("source") or ""), bool(m.get("read_only")))
        if m["type"] == "bind" and opts.get("propagation"):
            mount.bind_options = BindOptions(opts["propagation"])
        elif m["type"] == "volume" and opts.get("nocopy") == "true":
            mount.volume_options = VolumeOptions(no_copy=True)
        elif m["type"] == "tmpfs" and (opts.get("size") or opts.get("mode")):
            mount.tmpfs_options = TmpfsOptions(int(opts.get("size") or 0), int(opts.get("mode") or "0", 8))
        mounts.append(mount)
    anonymous = anonymous_volumes({"run": run})
    bindings: dict[str, list[HostPortBinding]] = {}
    for p in run.get("ports") or []:
        key = f"{p['container_port']}/{p.get('protocol') or 'tcp'}"
        port = int(p.get("host_port") or 0)
        bindings.setdefault(key, []).append(
            HostPortBinding(str(p.get("host_ip") or ""), str(port) if port else "")
        )
    policy, _, count = str(run.get("restart") or "no").partition(":")
    devices = []
    for d in run.get("devices") or []:
        parts = str(d).split(":")
        inside = parts[1] if len(parts) > 1 and parts[1].startswith("/") else parts[0]
        devices.append(DeviceMapping(parts[0], inside))
    mode = str(run.get("network") or "default")
    endpoints: dict[str, EndpointSettings] = {}
    ip, aliases = str(run.get("ip") or ""), list(run.get("network_aliases") or [])
    if ip or aliases:
        endpoints[mode] = EndpointSettings(EndpointIPAMConfig(ip) if ip else None, aliases)
    for c in run.get("connected") or []:
        extra_ip = str(c.get("ip") or "")
        endpoints[str(c["network"])] = EndpointSettings(
            EndpointIPAMConfig(extra_ip) if extra_ip else None, list(c.get("aliases") or [])
        )
    cpus = run.get("cpus")
    detach = bool(run.get("detach"))
    config = ContainerConfig(
        image=str(run["image"]),
        hostname=str(run.get("hostname") or ""),
        user=str(run.get("user") or ""),
        tty=bool(run.get("tty")),
        open_stdin=bool(run.get("interactive")),
        attach_stdin=bool(run.get("interactive")),
        attach_stdout=not detach,
        attach_stderr=not detach,
        env=list(run.get("env") or []),
        cmd=run.get("command"),
        working_dir=str(run.get("workdir") or ""),
        entrypoint=run.get("entrypoint"),
        labels=dict(run.get("labels") or {}),
        stop_signal=str(run.get("stop_signal") or ""),
        stop_timeout=run.get("stop_timeout"),
    )
    host = HostConfig(
        network_mode=mode,
        port_bindings=bindings,
        publish_all_ports=bool(run.get("publish_all")),
        restart_policy=RestartPolicy(policy, int(count or 0)),
        auto_remove=bool(run.get("auto_remove")),
        mounts=mounts,
        readonly_rootfs=bool(run.get("read_only")),
        cap_add=list(run.get("cap_add") or []),
        cap_drop=list(run.get("cap_drop") or []),
        privileged=bool(run.get("privileged")),
        security_opt=list(run.get("security_opt") or []),
        memory=int(run.get("memory") or 0),
        memory_swap=int(run.get("memory_swap") or 0),
        nano_cpus=round(cpus * 1e9) if cpus else 0,
        pids_limit=run.get("pids_limit"),
        shm_size=int(run.get("shm_size") or 0),
        init=bool(run.get("init")),
        ulimits=[Ulimit(k, int(v[0]), int(v[1])) for k, v in (run.get("ulimits") or {}).items()],
        devices=devices,
        dns=list(run.get("dns") or []),
        extra_hosts=list(run.get("extra_hosts") or []),
        log_config=LogConfig(config=dict(run.get("log_opts") or {})),
    )
    request = ContainerCreate(
        config=config,
        host_config=host,
        networking_config=NetworkingConfig(endpoints),
        name=str(run.get("name") or ""),
        platform=str(run.get("platform") or ""),
        pull=str(run.get("pull") or "missing"),
    )
    return request, anonymous


def _read_file(path: str) -> bytes:
    """A whole small file, without a file object (``ps`` reads two per container)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        parts = []
        while True:
            chunk = os.read(fd, 1 << 16)
            parts.append(chunk)
            if len(chunk) < 1 << 16:  # a regular file's short read is its end
                return b"".join(parts)
    finally:
        os.close(fd)


def _json(data: bytes, path: str) -> Any:
    import json

    try:
        return json.loads(data)
    except ValueError as err:
        raise CorruptState(f"record {path} is damaged ({err}); remove it or restore it from backup") from err


class ContainerStore:
    """The records under ``containers/``. Lists (``ps``, names) read through :meth:`snapshots`: a record is
    parsed again only when its files' bytes changed since this store last read them (the bytes are read and
    compared every time, so another process's change is seen at once; nothing is trusted to a clock)."""

    def __init__(self, paths: Paths) -> None:
        self.paths = paths
        # id -> (config.json's bytes, state.json's bytes or None, the record parsed from them): shared,
        # read-only records (see snapshot)
        self._snapshots: dict[str, tuple[bytes, bytes | None, ContainerRecord]] = {}
        self._names: dict[str, str] = {}  # name -> id as last seen: a hint, checked against the record
        self._root = str(paths.containers)

    def lock(self) -> FileLock:
        return FileLock(self.paths.locks, "containers")

    def container_lock(self, cid: str) -> FileLock:
        return FileLock(self.paths.locks, f"container-{cid}")

    def dir(self, cid: str) -> Path:
        return self.paths.container(cid)

    def ids(self) -> list[str]:
        try:
            return sorted(n for n in os.listdir(self._root) if HEX64.match(n))
        except FileNotFoundError:
            return []

    def _read(self, cid: str) -> tuple[bytes, bytes | None] | None:
        """The bytes of ``cid``'s config.json and state.json (None: no state record); None if it is gone."""
        base = f"{self._root}/{check_hex64(cid)}/"
        try:
            cfg = _read_file(base + "config.json")
        except FileNotFoundError:
            return None
        try:
            st: bytes | None = _read_file(base + "state.json")
        except FileNotFoundError:
            st = None
        return cfg, st

    def _parse(self, cid: str, cfg: bytes, st: bytes | None) -> ContainerRecord:
        base = os.path.join(self._root, cid)
        state = (
            ContainerState.from_json(_json(st, os.path.join(base, "state.json")))
            if st is not None
            else ContainerState(status="dead", error="state record missing")
        )
        return ContainerRecord.from_config_json(_json(cfg, os.path.join(base, "config.json")), state)

    def load(self, cid: str) -> ContainerRecord | None:
        """The record as it is on disk now, the caller's own to change."""
        found = self._read(cid)
        return self._parse(cid, *found) if found is not None else None

    def records(self) -> Iterator[ContainerRecord]:
        for cid in self.ids():
            rec = self.load(cid)
            if rec is not None:
                yield rec

    def snapshot(self, cid: str) -> ContainerRecord | None:
        """The record as it is on disk now, to read and never to change: the same object is handed to every
        caller for as long as its files hold the same bytes."""
        found = self._read(cid)
        if found is None:
            self._snapshots.pop(cid, None)
            return None
        cached = self._snapshots.get(cid)
        if cached is not None and cached[0] == found[0] and cached[1] == found[1]:
            return cached[2]
        rec = self._parse(cid, *found)
        self._snapshots[cid] = (found[0], found[1], rec)
        return rec

    def snapshots(self) -> list[ContainerRecord]:
        """Every record, as :meth:`snapshot` (read-only)."""
        ids = self.ids()
        out = []
        for cid in ids:
            rec = self.snapshot(cid)
            if rec is not None:
                out.append(rec)
        if len(self._snapshots) > len(out):
            for gone in set(self._snapshots) - set(ids):
                self._snapshots.pop(gone, None)
        self._names = {r.name: r.id for r in out}
        return out

    def save_config(self, rec: ContainerRecord) -> None:
        write_json(self.dir(rec.id) / "config.json", rec.config_json())

    def save_state(self, cid: str, state: ContainerState) -> None:
        write_json(self.dir(cid) / "state.json", state.to_json())

    def resolve(self, name_or_id: str, *, shared: bool = False) -> ContainerRecord:
        """The container a full id, a unique id prefix or a name names: the caller's own record, or with
        ``shared`` one to read and never change (:meth:`snapshot`: nothing is parsed again while its files
        stay the same)."""
        load = self.snapshot if shared else self.load
        key = name_or_id.strip().lstrip("/")
        if not key:
            raise InvalidArgument("empty container name or id")
        if HEX64.match(key):
            # a full id (what the engine passes between its own steps) names one record: no need to read all
            found = load(key)
            if found is not None:
                return found
        hint = self._names.get(key)
        if hint is not None:
            # the container that had this name when we last looked: if it still has it, it is the one (names
            # are unique), and the others need not be read
            found = load(hint)
            if found is not None and found.name == key:
                return found
        records = self.snapshots()  # read-only: unless ``shared``, what is returned is loaded again
        chosen = [r for r in records if r.id == key or r.name == key]
        if not chosen and all(c in "0123456789abcdef" for c in key):
            chosen = [r for r in records if r.id.startswith(key)]
            if len(chosen) > 1:
                raise Conflict(f"multiple containers match id prefix {key!r}: use more characters")
        if chosen:
            found = load(chosen[0].id)
            if found is not None:
                return found
        raise ContainerNotFound(f"No such container: {name_or_id}")

    def name_taken(self, name: str, exclude: str | None = None) -> ContainerRecord | None:
        """The container (read-only, see :meth:`snapshot`) that has ``name``, other than ``exclude``."""
        for r in self.snapshots():
            if r.name == name and r.id != exclude:
                return r
        return None

    def check_new_name(self, name: str, exclude: str | None = None) -> str:
        check_name(name)
        other = self.name_taken(name, exclude)
        if other is not None:
            raise Conflict(
                f'Conflict. The container name "/{name}" is already in use by container "{other.id}". '
                "You have to remove (or rename) that container to be able to reuse that name."
            )
        return name

    def generate_name(self, seed: str) -> str:
        taken = {r.name for r in self.snapshots()}
        n = int(seed[:8], 16)
        for i in range(len(_ADJECTIVES) * len(_NOUNS)):
            k = (n + i * 7919) % (len(_ADJECTIVES) * len(_NOUNS))
            name = f"{_ADJECTIVES[k % len(_ADJECTIVES)]}_{_NOUNS[k // len(_ADJECTIVES)]}"
            if name not in taken:
                return name
        return f"dockyard_{seed[:12]}"
