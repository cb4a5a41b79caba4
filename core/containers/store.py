"""Container records: ``containers/<id>/config.json`` (what was asked) and ``state.json`` (what is).

Names are unique: creating or renaming takes the ``containers`` lock and checks every record. Lookups accept
a full id, a unique id prefix, or a name (with or without docker's leading slash).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from core.config import Paths
from core.errors import Conflict, ContainerNotFound, InvalidArgument
from core.record import asdict, field, known_fields, record
from core.state.ids import HEX64, check_name
from core.state.locks import FileLock
from core.state.records import read_json, write_json

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
    run: dict[str, Any]  # the RunConfig as created
    process: dict[str, Any]  # resolved: args, env, cwd, user, hostname, tty, stop_signal ...
    state: ContainerState = field(default_factory=ContainerState)

    def config_json(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("state")
        return d


class ContainerStore:
    def __init__(self, paths: Paths) -> None:
        self.paths = paths

    def lock(self) -> FileLock:
        return FileLock(self.paths.locks, "containers")

    def container_lock(self, cid: str) -> FileLock:
        return FileLock(self.paths.locks, f"container-{cid}")

    def dir(self, cid: str) -> Path:
        return self.paths.container(cid)

    def ids(self) -> list[str]:
        try:
            return sorted(n for n in os.listdir(self.paths.containers) if HEX64.match(n))
        except FileNotFoundError:
            return []

    def load(self, cid: str) -> ContainerRecord | None:
        d = self.dir(cid)
        try:
            cfg = read_json(d / "config.json")
        except FileNotFoundError:
            return None
        try:
            state = ContainerState.from_json(read_json(d / "state.json"))
        except FileNotFoundError:
            state = ContainerState(status="dead", error="state record missing")
        return ContainerRecord(state=state, **known_fields(ContainerRecord, cfg))

    def records(self) -> Iterator[ContainerRecord]:
        for cid in self.ids():
            rec = self.load(cid)
            if rec is not None:
                yield rec

    def save_config(self, rec: ContainerRecord) -> None:
        write_json(self.dir(rec.id) / "config.json", rec.config_json())

    def save_state(self, cid: str, state: ContainerState) -> None:
        write_json(self.dir(cid) / "state.json", state.to_json())

    def resolve(self, name_or_id: str) -> ContainerRecord:
        key = name_or_id.strip().lstrip("/")
        if not key:
            raise InvalidArgument("empty container name or id")
        records = list(self.records())
        for r in records:
            if r.id == key or r.name == key:
                return r
        matches = (
            [r for r in records if r.id.startswith(key)] if all(c in "0123456789abcdef" for c in key) else []
        )
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise Conflict(f"multiple containers match id prefix {key!r}: use more characters")
        raise ContainerNotFound(f"No such container: {name_or_id}")

    def name_taken(self, name: str, exclude: str | None = None) -> ContainerRecord | None:
        for r in self.records():
            if r.name == name and r.id != exclude:
                return r
        return None

    def check_new_name(self, name: str, exclude: str | None = None) -> str:
        check_name(name)
        other = self.name_taken(name, exclude)
        if other is not None:
            raise Conflict(
                f'the container name "/{name}" is already in use by container "{other.id}". '
                "You have to remove (or rename) that container to be able to reuse that name"
            )
        return name

    def generate_name(self, seed: str) -> str:
        taken = {r.name for r in self.records()}
        n = int(seed[:8], 16)
        for i in range(len(_ADJECTIVES) * len(_NOUNS)):
            k = (n + i * 7919) % (len(_ADJECTIVES) * len(_NOUNS))
            name = f"{_ADJECTIVES[k % len(_ADJECTIVES)]}_{_NOUNS[k // len(_ADJECTIVES)]}"
            if name not in taken:
                return name
        return f"dockyard_{seed[:12]}"
