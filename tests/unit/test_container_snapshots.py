"""Lists and name lookups read container records through :meth:`ContainerStore.snapshot`: a record is parsed
again only when its files' bytes changed, so another process's change (a rename, a start, a removal) is seen
by the very next read, and what a caller may change is always its own copy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.config import Paths
from core.containers.store import ContainerRecord, ContainerState, ContainerStore
from core.errors import Conflict, ContainerNotFound, CorruptState
from core.models import ContainerConfig, ContainerCreate
from core.state.records import write_json

A = "a" * 64
B = "ab" + "c" * 62


def _record(cid: str, name: str) -> ContainerRecord:
    run = ContainerCreate(config=ContainerConfig(image="busybox", cmd=["true"]), name=name)
    return ContainerRecord(cid, name, "2026-12-03T00:00:00Z", "busybox", "sha256:" + "e" * 64, [], run, {})


@pytest.fixture
def store(tmp_path: Path) -> ContainerStore:
    paths = Paths(tmp_path / "root", tmp_path / "run")
    s = ContainerStore(paths)
    for cid, name in ((A, "one"), (B, "two")):
        paths.container(cid).mkdir(parents=True)
        s.save_config(_record(cid, name))
        s.save_state(cid, ContainerState(status="created"))
    return s


def test_a_snapshot_is_reused_while_the_files_are_the_same_and_parsed_again_when_they_change(
    store: ContainerStore,
) -> None:
    first = store.snapshot(A)
    assert first is not None and first.name == "one"
    assert store.snapshot(A) is first  # same bytes: the same (read-only) object
    store.save_state(A, ContainerState(status="running", pid=4242))  # what another process would write
    second = store.snapshot(A)
    assert second is not None and second is not first
    assert (second.state.status, second.state.pid) == ("running", 4242)
    assert (first.state.status, first.state.pid) == ("created", 0)  # the old one was never changed


def test_a_change_that_keeps_the_size_is_still_seen(store: ContainerStore) -> None:
    # bytes are compared, not sizes or times: two writes within one clock tick of the same length differ
    store.save_state(A, ContainerState(status="running", pid=1111))
    assert store.snapshot(A).state.pid == 1111  # type: ignore[union-attr]
    store.save_state(A, ContainerState(status="running", pid=2222))
    assert store.snapshot(A).state.pid == 2222  # type: ignore[union-attr]


def test_loads_are_the_callers_own_and_never_the_shared_snapshot(store: ContainerStore) -> None:
    shared = store.snapshot(A)
    mine = store.load(A)
    assert mine is not None and mine is not shared and mine == shared
    mine.state.status = "exited"  # changing one's own copy leaves the shared one alone
    assert store.snapshot(A).state.status == "created"  # type: ignore[union-attr]
    assert store.resolve("one") is not shared
    assert store.resolve("one", shared=True) is shared


def test_snapshots_follow_removals_and_new_containers(store: ContainerStore, tmp_path: Path) -> None:
    assert [r.name for r in store.snapshots()] == ["one", "two"]
    (store.paths.container(B) / "config.json").unlink()
    assert [r.name for r in store.snapshots()] == ["one"]
    assert store.snapshot(B) is None
    c = "d" * 64
    store.paths.container(c).mkdir()
    store.save_config(_record(c, "three"))
    assert [r.name for r in store.snapshots()] == ["one", "three"]
    assert store.snapshot(c).state.status == "dead"  # type: ignore[union-attr]  # no state record


def test_a_name_follows_a_rename_made_elsewhere(store: ContainerStore) -> None:
    assert store.resolve("one").id == A  # remembered: "one" -> A
    # another process renames A to "uno" and gives "one" to B
    for cid, name in ((A, "uno"), (B, "one")):
        rec = store.load(cid)
        assert rec is not None
        write_json(store.dir(cid) / "config.json", {**rec.config_json(), "name": name})
    assert store.resolve("one").id == B
    assert store.resolve("uno").id == A
    assert store.resolve("/uno", shared=True).id == A


def test_prefixes_and_unknown_names(store: ContainerStore) -> None:
    assert store.resolve("aaaa").id == A
    with pytest.raises(Conflict, match="multiple containers match id prefix"):
        store.resolve("a")
    with pytest.raises(ContainerNotFound, match="No such container: nothing"):
        store.resolve("nothing")
    assert store.name_taken("two") is not None and store.name_taken("two", exclude=B) is None


def test_a_damaged_record_is_reported_by_its_path(store: ContainerStore) -> None:
    (store.dir(A) / "state.json").write_text("{not json")
    with pytest.raises(CorruptState, match=f"record .*{A}/state.json is damaged"):
        store.snapshot(A)
    (store.dir(A) / "state.json").write_text(json.dumps({"status": "exited"}))
    assert store.snapshot(A).state.status == "exited"  # type: ignore[union-attr]
