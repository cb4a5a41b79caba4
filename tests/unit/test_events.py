"""core.events: the append-only event log every dockyard process writes and follows."""

from __future__ import annotations

import json
import multiprocessing
import threading
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core import events
from core.config import Paths
from core.errors import InvalidArgument
from core.events import LINE_LIMIT, emit, read_events
from core.models import Event

CID = "c" * 64
NID = "a" * 64


@pytest.fixture
def paths(tmp_path: Path) -> Paths:
    return Paths(tmp_path / "root", tmp_path / "run")


def test_emit_writes_docker_shaped_lines_and_reads_back(paths: Paths):
    before = time.time()
    emit(paths, "container", "start", CID, {"name": "web", "image": "busybox"})
    after = time.time()
    line = json.loads(paths.events.read_text())
    assert line["Type"] == "container" and line["Action"] == "start" and line["scope"] == "local"
    assert line["Actor"] == {"ID": CID, "Attributes": {"name": "web", "image": "busybox"}}
    assert line["time"] == line["timeNano"] // 10**9
    (ev,) = read_events(paths)
    assert ev == Event(ev.time, "container", "start", CID, {"name": "web", "image": "busybox"})
    assert before - 0.01 <= ev.time <= after + 0.01


def test_read_events_of_nothing(paths: Paths):
    assert list(read_events(paths)) == []
    assert list(read_events(paths, follow=True, stop=lambda: True)) == []


@settings(max_examples=50, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    attrs=st.dictionaries(st.text(max_size=30), st.text(max_size=3000), max_size=8),
    action=st.text(min_size=1, max_size=40),
)
def test_lines_stay_small_and_keep_the_identifying_attributes(
    paths: Paths, attrs: dict[str, str], action: str
):
    paths.events.unlink(missing_ok=True)
    attrs = {**attrs, "name": "web"}
    emit(paths, "container", action, CID, attrs)
    raw = paths.events.read_bytes()
    assert raw.count(b"\n") == 1 and len(raw) <= LINE_LIMIT
    (ev,) = read_events(paths)
    assert ev.action == action and ev.attributes["name"] == "web"
    for key, value in ev.attributes.items():
        assert attrs[key].startswith(value)


def _writer(root: str, run: str, worker: int, count: int, pad: int, pause: float, max_bytes: int) -> None:
    p = Paths(Path(root), Path(run))
    for i in range(count):
        emit(
            p,
            "container",
            "exec_start: sh",
            CID,
            {"worker": str(worker), "seq": str(i), "pad": "x" * pad},
            max_bytes=max_bytes,
        )
        if pause:
            time.sleep(pause)


def _run_writers(
    paths: Paths, workers: int, count: int, pad: int, pause: float = 0.0, max_bytes: int = 256 * 1024
) -> None:
    ctx = multiprocessing.get_context("fork")
    procs = [
        ctx.Process(target=_writer, args=(str(paths.root), str(paths.run), w, count, pad, pause, max_bytes))
        for w in range(workers)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0


def test_concurrent_writer_processes_never_interleave(paths: Paths):
    _run_writers(paths, workers=4, count=150, pad=3000)  # ~3.2 kB lines, 1.9 MB: rotations happen too
    files = [paths.events.with_name("events.jsonl.1"), paths.events]
    assert all(f.exists() for f in files)
    for f in files:
        for raw in f.read_bytes().splitlines():
            obj = json.loads(raw)  # a torn or interleaved line would not parse
            assert obj["Actor"]["Attributes"]["pad"] == "x" * 3000
    # the size bound holds: the pair holds at most max_bytes (plus the line that crossed)
    assert sum(f.stat().st_size for f in files) <= 256 * 1024 + LINE_LIMIT
    got = list(read_events(paths))
    by_worker: dict[str, list[int]] = {}
    for ev in got:
        by_worker.setdefault(ev.attributes["worker"], []).append(int(ev.attributes["seq"]))
    for seqs in by_worker.values():
        # the newest events of each writer are kept, in the order it wrote them, none missing
        assert seqs == list(range(seqs[0], 150))


def test_follower_sees_every_event_once_across_rotations(paths: Paths):
    got: list[Event] = []
    done = threading.Event()
    emit(paths, "container", "create", CID, {"name": "first"})

    def follow() -> None:
        for ev in read_events(paths, since=0, follow=True, stop=done, poll=0.01):
            got.append(ev)

    follower = threading.Thread(target=follow, daemon=True)
    follower.start()
    # 4 x 300 events of ~1.2 kB, 1 MiB bound: two or three rotations while the follower follows (it would
    # only miss events if three happened between two of its looks)
    _run_writers(paths, workers=4, count=300, pad=1100, pause=0.0005, max_bytes=1 << 20)
    assert paths.events.with_name("events.jsonl.1").exists()
    done.set()
    follower.join(20)
    assert not follower.is_alive()
    assert got[0].attributes == {"name": "first"}
    keys = [(ev.attributes["worker"], int(ev.attributes["seq"])) for ev in got[1:]]
    assert len(keys) == len(set(keys)) == 1200
    for w in "0123":
        assert [s for k, s in keys if k == w] == list(range(300))


def test_follow_from_now_skips_history_and_stops(paths: Paths):
    for i in range(5):
        emit(paths, "image", "pull", f"busybox:{i}", {"name": f"busybox:{i}"})
    time.sleep(0.01)
    stop = threading.Event()
    got: list[Event] = []
    t = threading.Thread(
        target=lambda: got.extend(read_events(paths, since=time.time(), follow=True, stop=stop, poll=0.01)),
        daemon=True,
    )
    t.start()
    time.sleep(0.1)
    emit(paths, "container", "die", CID, {"name": "web", "exitCode": "3"})
    emit(paths, "container", "destroy", CID, {"name": "web"})
    stop.set()  # the final pass still reads what was written before the stop
    t.join(10)
    assert [(e.action, e.attributes.get("exitCode")) for e in got] == [("die", "3"), ("destroy", None)]


def test_since_and_until(paths: Paths):
    for action in ("create", "start", "die"):
        emit(paths, "container", action, CID, {"name": "web"})
        time.sleep(0.02)
    evs = list(read_events(paths))
    mid = evs[1].time
    assert [e.action for e in read_events(paths, since=mid)] == ["start", "die"]
    assert [e.action for e in read_events(paths, until=mid)] == ["create", "start"]
    assert [e.action for e in read_events(paths, since=mid, until=mid)] == ["start"]
    # follow with an `until` in the past ends by itself
    assert [e.action for e in read_events(paths, until=mid, follow=True, poll=0.01)] == ["create", "start"]


@pytest.fixture
def sample(paths: Paths) -> Paths:
    emit(paths, "container", "create", CID, {"name": "web", "image": "busybox:latest", "tier": "front"})
    emit(paths, "container", "start", "d" * 64, {"name": "db", "image": "postgres", "tier": "back"})
    emit(paths, "container", "exec_create: sh -c ls", CID, {"name": "web", "execID": "1"})
    emit(paths, "image", "pull", "busybox:latest", {"name": "busybox:latest"})
    emit(paths, "image", "tag", "sha256:" + "e" * 64, {"name": "localhost:5000/app:v1"})
    emit(paths, "network", "connect", NID, {"name": "webnet", "type": "bridge", "container": CID})
    emit(paths, "volume", "create", "data", {"driver": "local"})
    return paths


def _actions(paths: Paths, **filters: list[str]) -> list[str]:
    return [f"{e.type}:{e.action}" for e in read_events(paths, filters=filters)]


def test_filters_as_docker(sample: Paths):
    assert _actions(sample, type=["volume", "network"]) == ["network:connect", "volume:create"]
    assert _actions(sample, event=["create"]) == ["container:create", "volume:create"]
    assert _actions(sample, action=["pull", "tag"]) == ["image:pull", "image:tag"]
    # exec_create matches "exec_create: <command>" (docker's fuzzy match for these actions)
    assert _actions(sample, event=["exec_create"]) == ["container:exec_create: sh -c ls"]
    # container: id or name, by prefix
    assert _actions(sample, container=["ccc"], type=["container"]) == [
        "container:create",
        "container:exec_create: sh -c ls",
    ]
    assert _actions(sample, container=["db"]) == ["container:start"]
    # image: the id, the name, or the name without its tag; container events by their image attribute
    assert _actions(sample, image=["busybox"]) == ["container:create", "image:pull"]
    assert _actions(sample, image=["localhost:5000/app"]) == ["image:tag"]
    assert _actions(sample, image=["postgres"]) == ["container:start"]
    # labels: every one must match; key alone or key=value
    assert _actions(sample, label=["tier"]) == ["container:create", "container:start"]
    assert _actions(sample, label=["tier=back"]) == ["container:start"]
    assert _actions(sample, label=["tier=back", "name=web"]) == []
    assert _actions(sample, network=["webnet"]) == ["network:connect"]
    assert _actions(sample, volume=["data"]) == ["volume:create"]
    assert _actions(sample, type=["container"], event=["start", "create"], label=["tier=front"]) == [
        "container:create"
    ]
    with pytest.raises(InvalidArgument):
        read_events(sample, filters={"colour": ["red"]})


def test_a_damaged_line_is_skipped(paths: Paths):
    emit(paths, "container", "create", CID, {})
    with open(paths.events, "ab") as f:
        f.write(b'{"Type":"container","Act\n[1,2]\n')
    emit(paths, "container", "start", CID, {})
    assert [e.action for e in read_events(paths)] == ["create", "start"]


def test_an_event_cut_by_a_full_disk_does_not_take_the_next_one_with_it(paths: Paths):
    emit(paths, "container", "create", CID, {})
    with open(paths.events, "ab") as f:
        f.write(b'{"status":"start","id":"')  # what a write that ran out of space leaves
    emit(paths, "container", "die", CID, {})
    assert [e.action for e in read_events(paths)] == ["create", "die"]
    assert paths.events.read_bytes().count(b"\n") == 3  # the cut line ended, then the new one


def test_emit_is_best_effort(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    blocker = tmp_path / "file"
    blocker.write_text("")
    broken = Paths(blocker / "root", tmp_path / "run")  # the root is under a regular file: cannot exist
    emit(broken, "container", "start", CID, {})
    assert "could not record container start event" in capsys.readouterr().err


def test_rotation_keeps_the_newest_half(paths: Paths):
    for i in range(400):
        emit(paths, "container", "start", CID, {"seq": str(i), "pad": "y" * 200}, max_bytes=40_000)
    old = paths.events.with_name("events.jsonl.1")
    assert 20_000 <= old.stat().st_size <= 20_000 + LINE_LIMIT
    assert paths.events.stat().st_size <= 20_000 + LINE_LIMIT
    seqs = [int(e.attributes["seq"]) for e in read_events(paths)]
    assert seqs == list(range(seqs[0], 400)) and len(seqs) > 60
    assert not events.rotate(paths, max_bytes=40_000) or paths.events.stat().st_size > 20_000
