"""A full disk under the engine root (a small tmpfs mounted by the test): running containers keep their
supervisor and lose only log output (counted, announced when space returns), reads keep working, writes
fail with one ``Error:`` line, and a pull that cannot be stored keeps nothing."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.config import Config
from core.engine import LocalEngine
from core.errors import StorageError
from core.images.pull import check_temp_clean
from core.models import PullProgress
from tests.e2e.test_pull import dockyard, fails, ok, store_is_empty
from tests.testbed import Testbed
from tests.testbed.common import shims_under, stop_shims_under

PAD = "0" * 200
# ~1000 numbered lines a second, each "line N <200 zeros>": enough to fill what room is left at once
NOISY = f'i=0; while :; do i=$((i+1)); echo "line $i {PAD}"; [ $((i % 50)) = 0 ] && sleep 0.05; done'
MARKER = re.compile(r"^dockyard: (\d+) bytes of output were not logged: no space left on device\n$")


def _fill(path: Path, leave: int = 0) -> None:
    """Take all the room on ``path``'s filesystem but about ``leave`` bytes."""
    st = os.statvfs(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        if leave:
            os.posix_fallocate(fd, 0, max(0, st.f_bavail * st.f_frsize - leave))
            return
        for size in (1 << 20, 65536, 4096, 512, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError:
                pass
    finally:
        os.close(fd)


@pytest.fixture
def small_root(engine_config: Config) -> Iterator[Config]:
    """``engine_config`` with its root on a 48 MB tmpfs of its own; everything on it is removed and the
    tmpfs unmounted afterwards."""
    root = engine_config.root
    # the test's private bridge, subnets and nft table are in <root>/daemon.json, which the mount hides:
    # without it, the CLI and the shims would use the host's default bridge and nft table
    settings = (root / "daemon.json").read_bytes()
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=48m,mode=0711", "dockyard-test", str(root)], check=True
    )
    (root / "daemon.json").write_bytes(settings)
    try:
        yield engine_config
    finally:
        (root / "filler").unlink(missing_ok=True)
        engine = LocalEngine(engine_config)
        try:
            for c in engine.list_containers(all=True):
                try:
                    engine.remove_container(c.id, force=True, volumes=True)
                except Exception:
                    pass
        finally:
            stop_shims_under(root)
            subprocess.run(["umount", "-l", str(root)], check=True)


@pytest.fixture
def busybox_root(testbed: Testbed, small_root: Config) -> Config:
    engine = LocalEngine(small_root)
    engine.pull(testbed.ref("busybox:latest"))
    engine.tag_image(testbed.ref("busybox:latest"), "busybox")
    return small_root


def _numbers(text: str) -> list[int]:
    return [int(m.group(1)) for m in re.finditer(rf"^line (\d+) {PAD}$", text, re.M)]


def _wait_for(what: str, check: object, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_full_disk_drops_log_output_and_keeps_every_container_supervised(busybox_root: Config) -> None:
    cfg = busybox_root
    noisy = ok(dockyard(cfg, "run", "-d", "--name", "noisy", "busybox", "sh", "-c", NOISY)).strip()
    quiet = ok(
        dockyard(
            cfg,
            "run",
            "-d",
            "--name",
            "quiet",
            "busybox",
            "sh",
            "-c",
            "while :; do echo tick; sleep 0.2; done",
        )
    ).strip()
    log = cfg.paths.container(noisy) / f"{noisy}-json.log"
    _wait_for("output in the log", lambda: log.exists() and log.stat().st_size > 10_000)
    shims = shims_under(cfg.root)
    assert len(shims) == 2

    _fill(cfg.root / "filler")
    time.sleep(2)  # ~2000 lines that cannot be written; before, the first failed write ended the shim
    assert sorted(shims_under(cfg.root)) == sorted(shims)
    running = ok(dockyard(cfg, "ps", "-q", "--no-trunc")).split()
    assert sorted(running) == sorted([noisy, quiet])
    ok(dockyard(cfg, "ps", "-a"))
    assert json.loads(ok(dockyard(cfg, "inspect", "noisy")))[0]["State"]["Running"] is True
    ok(dockyard(cfg, "logs", "--tail", "5", "noisy"))
    ok(dockyard(cfg, "info"))
    ok(dockyard(cfg, "system", "df"))
    # writes fail, with one line
    line = fails(dockyard(cfg, "exec", "noisy", "true"))
    assert line.endswith("no space left on device"), line
    line = fails(dockyard(cfg, "run", "--name", "late", "busybox", "true"))
    assert line.endswith("no space left on device"), line
    assert check_temp_clean(cfg.paths.containers) == []  # the half-made container went
    assert not any(c.name == "late" for c in LocalEngine(cfg).list_containers(all=True))
    before = _numbers(ok(dockyard(cfg, "logs", "noisy")))

    (cfg.root / "filler").unlink()

    def marker_seen() -> bool:
        return "bytes of output were not logged" in dockyard(cfg, "logs", "noisy").stderr  # a stderr record

    _wait_for("the marker record", marker_seen)
    _wait_for(
        "lines after the marker",
        lambda: len(_numbers(dockyard(cfg, "logs", "noisy").stdout)) > len(before) + 50,
    )
    records = [json.loads(rec) for rec in log.read_bytes().splitlines()]  # whole records only
    texts = [r["log"] for r in records]
    got = _numbers("".join(t for t in texts if t.startswith("line ")))
    assert got == sorted(got) and got[0] == 1
    markers = [int(m.group(1)) for t in texts if (m := MARKER.match(t))]
    assert markers and all(r["stream"] == "stderr" for r in records if MARKER.match(r["log"]))
    missing = sorted(set(range(1, got[-1] + 1)) - set(got))
    assert missing, "no line was lost: the disk never filled"
    # each marker counts exactly the bytes of the lines that went missing before it
    assert sum(markers) == sum(len(f"line {n} {PAD}\n") for n in missing)
    assert len(shims_under(cfg.root)) == 2

    # an event cut by the full disk is a line of its own that readers skip (core.events.emit), as here
    events = [e for x in (cfg.root / "events.jsonl").read_bytes().splitlines() if (e := _json_or_none(x))]
    resumed = [e for e in events if e["Action"] == "log_write_resumed" and e["Actor"]["ID"] == noisy]
    # a write that fits in the last block's slack can resume (and fail again) while the disk is still full;
    # the event of such a resume may not fit, the one after the space came back does
    counted = [int(e["Actor"]["Attributes"]["droppedBytes"]) for e in resumed]
    assert counted and counted[-1] == markers[-1] and set(counted) <= set(markers)


def _json_or_none(line: bytes) -> dict[str, Any] | None:
    try:
        obj = json.loads(line)
    except ValueError:
        return None
    return obj if isinstance(obj, dict) else None


def test_reads_work_when_a_dead_shim_cannot_be_recorded(busybox_root: Config) -> None:
    cfg = busybox_root
    cid = ok(dockyard(cfg, "run", "-d", "busybox", "sleep", "600")).strip()
    state = cfg.paths.container(cid) / "state.json"
    shim_pid = json.loads(state.read_bytes())["shim_pid"]
    os.kill(shim_pid, signal.SIGKILL)
    _wait_for("the shim to go", lambda: shim_pid not in shims_under(cfg.root))
    _fill(cfg.root / "filler")
    recorded = state.read_bytes()

    # `ps` finds the dead shim, stops the container, and cannot write that down: it says so and goes on
    assert "Exited (137)" in ok(dockyard(cfg, "ps", "-a"))
    info = json.loads(ok(dockyard(cfg, "inspect", cid)))[0]["State"]
    assert info["Status"] == "exited" and "not recorded yet: no space left on device" in info["Error"]
    ok(dockyard(cfg, "logs", cid))
    assert state.read_bytes() == recorded

    (cfg.root / "filler").unlink()
    ok(dockyard(cfg, "ps", "-a"))
    st = json.loads(state.read_bytes())
    assert st["status"] == "exited" and st["exit_code"] == 137 and "not recorded" not in st["error"]


def test_an_exit_on_a_full_disk_is_recorded_once_there_is_room(busybox_root: Config) -> None:
    cfg = busybox_root
    cid = ok(dockyard(cfg, "run", "-d", "busybox", "sh", "-c", "sleep 3; exit 3")).strip()
    state = cfg.paths.container(cid) / "state.json"
    shim_pid = json.loads(state.read_bytes())["shim_pid"]
    _fill(cfg.root / "filler")
    time.sleep(4)
    # the container is gone, its exit cannot be written: the shim waits for room (it used to crash, and the
    # next reader recorded "exit 137, the shim died")
    assert shim_pid in shims_under(cfg.root)
    assert json.loads(state.read_bytes())["status"] == "running"
    (cfg.root / "filler").unlink()
    _wait_for("the shim to finish", lambda: shim_pid not in shims_under(cfg.root))
    st = json.loads(state.read_bytes())
    assert (st["status"], st["exit_code"], st["error"]) == ("exited", 3, "")


def test_ps_lists_an_exit_that_cannot_be_recorded_as_exited(busybox_root: Config) -> None:
    """The shim waits for room to write the exit down: meanwhile listings show the container as exited with
    its code (not "Up" for as long as the disk stays full), and write nothing."""
    cfg = busybox_root
    cid = ok(dockyard(cfg, "run", "-d", "busybox", "sh", "-c", "sleep 1; exit 3")).strip()
    state = cfg.paths.container(cid) / "state.json"
    st = json.loads(state.read_bytes())
    pid, shim_pid = st["pid"], st["shim_pid"]
    _fill(cfg.root / "filler")
    _wait_for("the container to exit", lambda: not Path(f"/proc/{pid}").exists())
    recorded = state.read_bytes()
    assert json.loads(recorded)["status"] == "running"  # what the shim could not change

    listed = ok(dockyard(cfg, "ps", "-a", "--format", "{{.ID}} {{.Status}}"))
    assert f"{cid[:12]} Exited (3)" in listed, listed
    assert cid[:12] not in ok(dockyard(cfg, "ps", "-q"))
    info = json.loads(ok(dockyard(cfg, "inspect", cid)))[0]["State"]
    assert (info["Status"], info["Running"], info["ExitCode"]) == ("exited", False, 3), info
    assert ok(dockyard(cfg, "wait", cid)) == "3\n"
    # acting on it goes by the record: prune does not take it from under its shim (nor fail)
    ok(dockyard(cfg, "container", "prune", "-f"))
    assert state.read_bytes() == recorded and shim_pid in shims_under(cfg.root)

    (cfg.root / "filler").unlink()
    _wait_for("the shim to finish", lambda: shim_pid not in shims_under(cfg.root))
    st = json.loads(state.read_bytes())
    assert (st["status"], st["exit_code"], st["error"]) == ("exited", 3, "")


def test_stop_and_an_attached_run_hear_of_an_exit_that_cannot_be_recorded(busybox_root: Config) -> None:
    cfg = busybox_root
    cid = ok(dockyard(cfg, "run", "-d", "busybox", "sleep", "600")).strip()
    exe = Path(sys.executable).parent / "dockyard"
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("DOCKYARD_") or k == "DOCKYARD_CGROUP_PARENT"
    }
    env["DOCKYARD_RUN"] = str(cfg.run)
    attached = subprocess.Popen(
        [str(exe), "--root", str(cfg.root), "run", "--name", "fg", "busybox", "sh", "-c", "sleep 3; exit 5"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        _wait_for("the attached run", lambda: "fg" in dockyard(cfg, "ps").stdout)
        _fill(cfg.root / "filler")
        started = time.monotonic()
        ok(dockyard(cfg, "stop", "-t", "1", cid))
        assert time.monotonic() - started < 8  # it used to wait 40 s for the shim's answer, then 10 more
        assert attached.wait(timeout=10) == 5, attached.stderr.read() if attached.stderr else ""
    finally:
        attached.kill()
        attached.wait()
    (cfg.root / "filler").unlink()
    _wait_for("the exits to be recorded", lambda: dockyard(cfg, "ps", "-q").stdout == "")
    states = json.loads(ok(dockyard(cfg, "inspect", cid, "fg")))
    assert [s["State"]["ExitCode"] for s in states] == [137, 5]


def test_rm_f_on_a_full_disk_does_not_wait_for_room(busybox_root: Config) -> None:
    """Removing containers is how a user makes room: a shim waiting to record an exit must not hold it up."""
    cfg = busybox_root
    done = ok(dockyard(cfg, "run", "-d", "busybox", "sh", "-c", "sleep 2; exit 3")).strip()
    running = ok(dockyard(cfg, "run", "-d", "--restart", "always", "busybox", "sleep", "600")).strip()
    _fill(cfg.root / "filler")
    time.sleep(3)  # `done` has exited; its shim waits for room to write that down
    for cid in (done, running):
        started = time.monotonic()
        ok(dockyard(cfg, "rm", "-f", cid))
        assert time.monotonic() - started < 8  # it used to wait 10 s for the shim, then fail
        assert not cfg.paths.container(cid).exists()
    _wait_for("the shims to end", lambda: shims_under(cfg.root) == [])
    assert ok(dockyard(cfg, "ps", "-aq")) == ""


def test_pull_that_cannot_store_its_record_keeps_nothing(testbed: Testbed, small_root: Config) -> None:
    """The layers fit, the small config and manifest blobs after them do not."""
    cfg = small_root

    def fill_when_done(p: PullProgress) -> None:
        if p.status == "Pull complete":
            _fill(cfg.root / "filler")

    with pytest.raises(
        StorageError, match=r"^cannot store image .*: no space left on device .*nothing of it"
    ):
        LocalEngine(cfg).pull(testbed.ref("busybox:latest"), progress=fill_when_done)
    (cfg.root / "filler").unlink()
    store_is_empty(cfg)
    assert "Images          0" in ok(dockyard(cfg, "system", "df"))


def test_pull_into_a_nearly_full_root_fails_with_one_line(testbed: Testbed, small_root: Config) -> None:
    cfg = small_root
    _fill(cfg.root / "filler", leave=1 << 20)  # the busybox layer is ~1 MB packed, ~2 MB unpacked
    line = fails(dockyard(cfg, "pull", testbed.ref("busybox:latest")))
    # where the space runs out decides which step says so (the layer's unpacking, or a record's write)
    assert line.startswith("Error: ") and "no space left" in line.lower(), line
    (cfg.root / "filler").unlink()
    store_is_empty(cfg)
