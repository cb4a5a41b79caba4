"""Exec instances (docker's ``POST /containers/{id}/exec``, ``/exec/{id}/start``, ``/exec/{id}/json``):
``containers/<cid>/execs/<exec-id>.json`` holds what was asked and, once started, the process's pid;
``<exec-id>.exit`` holds its exit code, written by the process's parent, the container's shim (see
``core.runtime.exec``), so that it is known even for a detached exec or when the starter went away.

The records go with their container. They mean nothing after a reboot (the processes are gone with it), so
they are written atomically but not fsynced: an exec must stay as quick as it is.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from core.config import Paths
from core.errors import Conflict, NotFound
from core.models import ExecConfig
from core.record import asdict, record
from core.state.ids import HEX64, new_id
from core.state.records import read_json, record_ids, write_json
from core.timestamps import now_rfc3339

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~2 ms of a start)
if TYPE_CHECKING:
    from typing import Any

# finished exec records older than this are dropped when the container gets a new one (docker forgets
# finished execs too), so a container exec'd into every few seconds does not pile them up
KEEP_FINISHED = 300.0


@record
class ExecRecord:
    id: str
    container_id: str
    config: ExecConfig
    created: str
    pid: int = 0  # 0: not started
    started: bool = False
    exit_code: int | None = None  # filled in from the .exit file when read
    running: bool = False  # derived when read: started, no exit code, the process still there
    finished_at: float = 0.0  # mtime of the .exit file

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        for derived in ("exit_code", "running", "finished_at"):
            d.pop(derived)
        return d

    def inspect(self) -> dict[str, Any]:
        """Docker's ExecInspect document."""
        cfg = self.config
        return {
            "CanRemove": False,
            "ContainerID": self.container_id,
            "DetachKeys": "",
            "ExitCode": self.exit_code,
            "ID": self.id,
            "OpenStderr": not cfg.detach,
            "OpenStdin": cfg.attach_stdin,
            "OpenStdout": not cfg.detach,
            "ProcessConfig": {
                "arguments": list(cfg.cmd[1:]),
                "entrypoint": cfg.cmd[0] if cfg.cmd else "",
                "privileged": cfg.privileged,
                "tty": cfg.tty,
                "user": cfg.user or "",
            },
            "Running": self.running,
            "Pid": self.pid,
        }


class ExecStore:
    def __init__(self, paths: Paths) -> None:
        self.paths = paths
        # exec id -> its container's id, as last seen: where to look first (the file there decides)
        self._where: dict[str, str] = {}
        self._ended: dict[str, float] = {}  # exec id -> when it ended (its exit file's mtime), once seen

    def _dir(self, container_id: str) -> Path:
        return self.paths.container(container_id) / "execs"

    def create(self, container_id: str, config: ExecConfig) -> ExecRecord:
        self._forget_finished(container_id)
        rec = ExecRecord(new_id(), container_id, config, now_rfc3339())
        self.save(rec)
        self._where[rec.id] = container_id
        return rec

    def save(self, rec: ExecRecord) -> None:
        write_json(self._dir(rec.container_id) / f"{rec.id}.json", rec.to_json(), durable=False)

    def status_path(self, rec: ExecRecord) -> Path:
        return self._dir(rec.container_id) / f"{rec.id}.exit"

    def get(self, exec_id: str) -> ExecRecord:
        """The exec with this id (docker takes the full id; a unique prefix of 12 or more works too)."""
        key = exec_id.strip()
        if HEX64.match(key):
            known = self._where.get(key)
            if known is not None:
                try:
                    return self._load(self._dir(known) / f"{key}.json")
                except NotFound:
                    self._where.pop(key, None)  # gone with its container, or forgotten
            found = [p for p in self.paths.containers.glob(f"*/execs/{key}.json")]
        elif len(key) >= 12 and all(c in "0123456789abcdef" for c in key):
            found = [p for p in self.paths.containers.glob(f"*/execs/{key}*.json")]
        else:
            found = []
        if len(found) > 1:
            raise Conflict(f"multiple execs match id prefix {key!r}: use more characters")
        if not found:
            raise NotFound(f"No such exec instance: {exec_id}")
        rec = self._load(found[0])
        self._where[rec.id] = rec.container_id
        return rec

    def _load(self, path: Path) -> ExecRecord:
        try:
            data = read_json(path)
        except FileNotFoundError:
            raise NotFound(f"No such exec instance: {path.stem}") from None
        rec = ExecRecord(
            id=data["id"],
            container_id=data["container_id"],
            config=_exec_config(data["config"]),
            created=data["created"],
            pid=int(data.get("pid") or 0),
            started=bool(data.get("started")),
        )
        status = path.with_suffix(".exit")
        try:
            text = status.read_text().strip()
            rec.finished_at = status.stat().st_mtime
        except FileNotFoundError:
            text = ""
        if text:
            rec.exit_code = int(text)
        elif rec.started:
            rec.running = rec.pid > 0 and os.path.exists(f"/proc/{rec.pid}")
            if not rec.running:
                # its supervisor was killed before it could say: the code is lost, and -1 says so
                rec.exit_code = -1
        return rec

    def records(self, container_id: str) -> list[ExecRecord]:
        out = []
        for exec_id in record_ids(self._dir(container_id)):
            try:
                out.append(self._load(self._dir(container_id) / f"{exec_id}.json"))
            except NotFound:
                continue  # forgotten meanwhile
        return out

    def _scan(self, container_id: str) -> tuple[list[str], dict[str, float]]:
        """The container's exec ids, and (id -> mtime of its exit file, 0 when there is none yet) those that
        may not have ended: whose supervisor has not written an exit code. Ended ones are told by their exit
        file's size alone, without reading their records (a container exec'd into every second keeps 300 of
        them), and an exec that ended stays ended: it is remembered and not looked at again."""
        directory = os.path.join(self.paths.container(container_id), "execs")
        try:
            names = os.listdir(directory)
        except FileNotFoundError:
            return [], {}
        ids = sorted(n[:-5] for n in names if n.endswith(".json") and HEX64.fullmatch(n[:-5]))
        unfinished: dict[str, float] = {}
        for exec_id in ids:
            if exec_id in self._ended:
                continue
            try:
                st = os.stat(os.path.join(directory, exec_id + ".exit"))
            except FileNotFoundError:
                unfinished[exec_id] = 0.0  # never started
                continue
            if st.st_size > 0:
                self._ended[exec_id] = st.st_mtime  # written once, when it ended: it stays so
            else:
                unfinished[exec_id] = st.st_mtime  # running, or its supervisor was killed before it could say
        return ids, unfinished

    def running_ids(self, container_id: str) -> list[str]:
        """The ids of the container's execs that are running now."""
        out = []
        for exec_id, mtime in self._scan(container_id)[1].items():
            if not mtime:
                continue  # no exit file: never started (a start makes it before the process), so not running
            try:
                if self._load(self._dir(container_id) / f"{exec_id}.json").running:
                    out.append(exec_id)
            except NotFound:
                continue
        return out

    def _forget_finished(self, container_id: str) -> None:
        cutoff = time.time() - KEEP_FINISHED
        directory = self._dir(container_id)
        ids, unfinished = self._scan(container_id)
        for exec_id in ids:
            if exec_id in unfinished:
                mtime = unfinished[exec_id]
                if not mtime or mtime >= cutoff:
                    continue
                try:  # an old exit file still empty: running for long, or its code was lost
                    if self._load(directory / f"{exec_id}.json").exit_code is None:
                        continue
                except NotFound:
                    continue
            elif self._ended.get(exec_id, cutoff) >= cutoff:
                continue
            for path in (directory / f"{exec_id}.json", directory / f"{exec_id}.exit"):
                path.unlink(missing_ok=True)
            self._where.pop(exec_id, None)
            self._ended.pop(exec_id, None)


def _exec_config(data: dict[str, Any]) -> ExecConfig:
    size = data.get("console_size")  # a tuple, stored as a JSON list
    return ExecConfig(**{**data, "console_size": (int(size[0]), int(size[1])) if size else None})
