"""Exec records (core.containers.execs): found by id without a search of every container, running ones told
apart from ended ones by their exit files, and ended ones forgotten after a while, but never a running one."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from core.config import Paths
from core.containers.execs import KEEP_FINISHED, ExecStore
from core.errors import NotFound
from core.models import ExecConfig

CID = "c" * 64
OTHER = "d" * 64


@pytest.fixture
def store(tmp_path: Path) -> ExecStore:
    paths = Paths(tmp_path / "root", tmp_path / "run")
    for cid in (CID, OTHER):
        paths.container(cid).mkdir(parents=True)
    return ExecStore(paths)


def _started(store: ExecStore, pid: int, code: str | None) -> str:
    """An exec whose process is ``pid``; ``code`` is what its supervisor wrote (None: it is still running)."""
    rec = store.create(CID, ExecConfig(cmd=["sleep", "1"]))
    rec.pid, rec.started = pid, True
    store.save(rec)
    store.status_path(rec).write_text(code or "")
    return rec.id


def _dead_pid() -> int:
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


def test_an_exec_is_found_by_id_by_a_fresh_store_and_by_prefix(store: ExecStore) -> None:
    rec = store.create(CID, ExecConfig(cmd=["true"]))
    assert store.get(rec.id).container_id == CID
    other = ExecStore(store.paths)  # another process: nothing remembered, the files are searched
    assert other.get(rec.id).id == rec.id
    assert other.get(rec.id[:12]).id == rec.id
    with pytest.raises(NotFound, match="No such exec instance: nope"):
        other.get("nope")


def test_an_exec_whose_container_went_is_not_found_any_more(store: ExecStore) -> None:
    rec = store.create(CID, ExecConfig(cmd=["true"]))
    assert store.get(rec.id).id == rec.id
    for f in (store.paths.container(CID) / "execs").iterdir():
        f.unlink()
    with pytest.raises(NotFound):
        store.get(rec.id)


def test_running_ids_are_the_started_execs_whose_process_lives(store: ExecStore) -> None:
    created = store.create(CID, ExecConfig(cmd=["true"])).id  # never started
    running = _started(store, os.getpid(), None)
    ended = _started(store, os.getpid(), "3")
    lost = _started(store, _dead_pid(), None)  # its supervisor was killed before it wrote a code
    assert store.running_ids(CID) == [running]
    assert {r.id: (r.running, r.exit_code) for r in store.records(CID)} == {
        created: (False, None),
        running: (True, None),
        ended: (False, 3),
        lost: (False, -1),
    }
    # it ends: its supervisor writes the code, and the next look sees it
    (store.paths.container(CID) / "execs" / f"{running}.exit").write_text("0")
    assert store.running_ids(CID) == []
    assert store.running_ids(OTHER) == []


def test_running_ids_reads_no_record_of_an_exec_never_started(
    store: ExecStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # docker-py's exec_create without a start leaves these behind; each docker inspect asks running_ids
    for _ in range(20):
        store.create(CID, ExecConfig(cmd=["true"]))
    running = _started(store, os.getpid(), None)
    loaded: list[Path] = []
    load = store._load
    monkeypatch.setattr(store, "_load", lambda path: loaded.append(path) or load(path))
    assert store.running_ids(CID) == [running]
    assert [p.stem for p in loaded] == [running]


def test_ended_execs_are_forgotten_after_a_while_and_running_ones_never(store: ExecStore) -> None:
    old = time.time() - KEEP_FINISHED - 60
    ended_old = _started(store, os.getpid(), "0")
    ended_new = _started(store, os.getpid(), "1")
    running_long = _started(store, os.getpid(), None)
    lost_old = _started(store, _dead_pid(), None)
    never_started = store.create(CID, ExecConfig(cmd=["true"])).id
    execs = store.paths.container(CID) / "execs"
    for exec_id in (ended_old, running_long, lost_old):
        os.utime(execs / f"{exec_id}.exit", (old, old))
    # (an exit file is written once, when the exec ends: a store remembers when it saw it written, so the
    # clock is turned back for a store that has not looked yet: another process's)
    store = ExecStore(store.paths)
    assert store.running_ids(CID) == [running_long]
    store.create(CID, ExecConfig(cmd=["true"]))  # a new exec makes room
    left = {r.id for r in store.records(CID)}
    assert ended_old not in left and lost_old not in left
    assert {ended_new, running_long, never_started} <= left
    with pytest.raises(NotFound):
        store.get(ended_old)
