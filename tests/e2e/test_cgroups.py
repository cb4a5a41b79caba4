"""cgroups on the real kernel: limits that bite (OOM kill, pids), the freezer, stats, kill, destroy.

Everything lives under a parent named ``dockyard-test-<pid>`` (never the real ``dockyard``), removed at the
end. The host's detected version is tested fully; on a hybrid host the cgroup2 hierarchy (which holds no
resource controllers there) is tested too, for what it can do without them: membership, freezing, CPU
accounting, cgroup.kill and removal.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.errors import Conflict, NotFound, RuntimeFailure
from core.runtime import cgroupfs, cgroups
from core.runtime.cgroupfs import Primer
from core.runtime.cgroups import Cgroup, CgroupLimits

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")

MiB = 1 << 20
PARENT = f"dockyard-test-{os.getpid()}"


@pytest.fixture(scope="module")
def parent() -> Iterator[str]:
    yield PARENT
    assert Cgroup.remove_parent(PARENT), "a test left a cgroup behind"
    if cgroups.detect() == "v1" and _v2_usable():
        Cgroup.remove_parent(PARENT, version="v2")
    for root in {*cgroups.v1_roots().values()} if cgroups.detect() == "v1" else {cgroups.v2_root()}:
        assert not (root / PARENT).exists()


@pytest.fixture
def made(parent: str) -> Iterator[list[Cgroup]]:
    """Cgroups a test makes; destroyed afterwards even when the test fails."""
    groups: list[Cgroup] = []
    yield groups
    for group in groups:
        group.destroy()


class Child:
    """A Python child that waits for "go" on stdin, so it can be moved into a cgroup before it works."""

    def __init__(self, code: str) -> None:
        prologue = "import os, sys, time\nsys.stdin.readline()\n"
        self.proc = subprocess.Popen(
            [sys.executable, "-c", prologue + code],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.pid = self.proc.pid

    def go(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()

    def line(self) -> str:
        assert self.proc.stdout is not None
        return self.proc.stdout.readline().strip()

    def wait(self, timeout: float = 30) -> int:
        return self.proc.wait(timeout)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        for f in (self.proc.stdin, self.proc.stdout):
            if f is not None:
                f.close()


@pytest.fixture
def children() -> Iterator[list[Child]]:
    made: list[Child] = []
    yield made
    for child in made:
        child.close()


def _spawn(children: list[Child], code: str) -> Child:
    child = Child(code)
    children.append(child)
    return child


def _v2_usable() -> bool:
    try:
        return (cgroups.v2_root() / "cgroup.procs").exists()
    except RuntimeFailure:
        return False


def test_name_validation() -> None:
    for bad in ("", "..", ".", "a/b", "../x", "x y", "-x"):
        with pytest.raises(Exception, match="invalid"):
            Cgroup.create(bad, CgroupLimits(), PARENT)
    with pytest.raises(Exception, match="invalid"):
        Cgroup.create("ok", CgroupLimits(), "../etc")


def test_create_writes_limits_and_destroy_removes_every_dir(made: list[Cgroup], parent: str) -> None:
    limits = CgroupLimits(
        memory=32 * MiB, cpu_quota=50000, cpu_shares=512, pids=5, cpuset_cpus="0", memory_swap=None
    )
    group = Cgroup.create("limits", limits, parent)
    made.append(group)
    dirs = list(group.paths().values())
    assert dirs and all(d.is_dir() for d in dirs)
    assert Cgroup.open("limits", parent).paths() == group.paths()
    if group.version == "v1":
        p = group.paths()
        assert (p["memory"] / "memory.limit_in_bytes").read_text().strip() == str(32 * MiB)
        memsw = p["memory"] / "memory.memsw.limit_in_bytes"
        if memsw.exists():
            assert memsw.read_text().strip() == str(64 * MiB)  # docker's default: swap = memory
        assert (p["cpu"] / "cpu.cfs_quota_us").read_text().strip() == "50000"
        assert (p["cpu"] / "cpu.cfs_period_us").read_text().strip() == "100000"
        assert (p["cpu"] / "cpu.shares").read_text().strip() == "512"
        assert (p["pids"] / "pids.max").read_text().strip() == "5"
        assert (p["cpuset"] / "cpuset.cpus").read_text().strip() == "0"
    else:
        p2 = group.paths()[""]
        assert (p2 / "memory.max").read_text().strip() == str(32 * MiB)
        assert (p2 / "cpu.max").read_text().strip() == "50000 100000"
        assert (p2 / "pids.max").read_text().strip() == "5"
    stats = group.stats()
    assert stats.memory_limit == 32 * MiB
    assert stats.pids_limit == 5

    group.destroy()
    assert not any(d.exists() for d in dirs)
    group.destroy()  # idempotent
    with pytest.raises(NotFound):
        Cgroup.open("limits", parent)


def test_update(made: list[Cgroup], parent: str) -> None:
    group = Cgroup.create("update", CgroupLimits(memory=32 * MiB, pids=5), parent)
    made.append(group)
    group.update(CgroupLimits(memory=48 * MiB))  # still under memory+swap (64 MiB)
    assert group.stats().memory_limit == 48 * MiB
    assert group.stats().pids_limit == 5  # untouched
    if group.version == "v1" and (group.paths()["memory"] / "memory.memsw.limit_in_bytes").exists():
        with pytest.raises(RuntimeFailure, match="memory-swap"):
            group.update(CgroupLimits(memory=128 * MiB))  # above memory+swap: docker refuses too
        group.update(CgroupLimits(memory=128 * MiB, memory_swap=-1))
        assert group.stats().memory_limit == 128 * MiB
    group.update(CgroupLimits(pids=-1))
    assert group.stats().pids_limit is None


def test_memory_limit_oom_kills(made: list[Cgroup], children: list[Child], parent: str) -> None:
    group = Cgroup.create("oom", CgroupLimits(memory=32 * MiB), parent)
    made.append(group)
    child = _spawn(children, "b = b'x' * (64 << 20)\nprint('survived', flush=True)\n")
    group.add(child.pid)
    assert group.pids() == [child.pid]
    assert not group.oom_killed()
    child.go()
    assert child.wait() == -signal.SIGKILL
    assert child.line() == ""
    assert group.oom_killed()


def test_no_oom_under_the_limit(made: list[Cgroup], children: list[Child], parent: str) -> None:
    group = Cgroup.create("no-oom", CgroupLimits(memory=64 * MiB), parent)
    made.append(group)
    child = _spawn(children, "b = b'x' * (16 << 20)\nprint('survived', flush=True)\n")
    group.add(child.pid)
    child.go()
    assert child.line() == "survived"
    assert child.wait() == 0
    assert not group.oom_killed()


def test_pids_limit_stops_fork(made: list[Cgroup], children: list[Child], parent: str) -> None:
    group = Cgroup.create("pids", CgroupLimits(pids=5), parent)
    made.append(group)
    code = (
        "n = 0\n"
        "try:\n"
        "    while n < 20:\n"
        "        if os.fork() == 0:\n"
        "            time.sleep(60)\n"
        "            os._exit(0)\n"
        "        n += 1\n"
        "except BlockingIOError:\n"
        "    pass\n"
        "print(n, flush=True)\n"
        "time.sleep(60)\n"
    )
    child = _spawn(children, code)
    group.add(child.pid)
    child.go()
    assert child.line() == "4"  # 5 processes: the child and 4 forks; the 5th fork gets EAGAIN
    stats = group.stats()
    assert stats.pids_current == 5
    assert stats.pids_limit == 5
    assert len(group.pids()) == 5
    group.destroy()  # kills the grandchildren too
    assert child.wait() == -signal.SIGKILL
    assert not group.exists()


def _cpu(group: Cgroup) -> int:
    return group.stats().cpu_usage_ns


def _check_freezer(group: Cgroup, children: list[Child]) -> None:
    child = _spawn(children, "while True:\n    pass\n")
    group.add(child.pid)
    child.go()
    time.sleep(0.3)
    before = _cpu(group)
    time.sleep(0.5)
    running = _cpu(group) - before
    assert running > 30_000_000, running  # > 30 ms of CPU in 0.5 s, even on a busy 2-core machine

    group.freeze()
    assert group.frozen()
    start = _cpu(group)
    time.sleep(0.3)
    assert _cpu(group) - start < 1_000_000  # < 1 ms: nothing runs while frozen
    assert child.proc.poll() is None

    group.thaw()
    assert not group.frozen()
    start = _cpu(group)
    time.sleep(0.5)
    assert _cpu(group) - start > 30_000_000

    group.freeze()  # destroy must cope with a frozen cgroup
    group.destroy()
    assert child.wait() == -signal.SIGKILL


def test_freeze_and_thaw(made: list[Cgroup], children: list[Child], parent: str) -> None:
    group = Cgroup.create("freezer", CgroupLimits(), parent)
    made.append(group)
    _check_freezer(group, children)


def test_stats_are_plausible_and_cheap(made: list[Cgroup], children: list[Child], parent: str) -> None:
    group = Cgroup.create("stats", CgroupLimits(memory=128 * MiB, pids=10), parent)
    made.append(group)
    child = _spawn(children, "b = b'x' * (40 << 20)\nprint('ready', flush=True)\ntime.sleep(60)\n")
    group.add(child.pid)
    child.go()
    assert child.line() == "ready"
    stats = group.stats()
    assert 40 * MiB <= stats.memory_usage < 128 * MiB, stats
    assert stats.memory_limit == 128 * MiB
    assert stats.pids_current == 1
    assert stats.pids_limit == 10
    assert stats.cpu_usage_ns > 1_000_000  # allocating 40 MiB takes more than a millisecond of CPU
    n = 200
    t0 = time.perf_counter()
    for _ in range(n):
        group.stats()
    per_call = (time.perf_counter() - t0) / n
    print(f"stats() costs {per_call * 1e6:.0f} µs")
    assert per_call < 0.005


def test_kill_all_with_a_signal(made: list[Cgroup], children: list[Child], parent: str) -> None:
    group = Cgroup.create("kill", CgroupLimits(), parent)
    made.append(group)
    child = _spawn(children, "print('ready', flush=True)\ntime.sleep(60)\n")
    group.add(child.pid)
    child.go()
    assert child.line() == "ready"
    group.kill_all(signal.SIGTERM)
    assert child.wait() == -signal.SIGTERM
    assert group.pids() == []


def test_busy_name_is_a_conflict(made: list[Cgroup], children: list[Child], parent: str) -> None:
    group = Cgroup.create("busy", CgroupLimits(), parent)
    made.append(group)
    child = _spawn(children, "time.sleep(60)\n")
    group.add(child.pid)
    with pytest.raises(Conflict):
        Cgroup.create("busy", CgroupLimits(), parent)
    child.proc.kill()
    child.wait()
    again = Cgroup.create("busy", CgroupLimits(pids=3), parent)  # an empty leftover is reused
    assert again.stats().pids_limit == 3


def _versions() -> list[str]:
    return ["v1", "v2"] if cgroups.detect() == "v1" and _v2_usable() else [cgroups.detect()]


@pytest.mark.parametrize("version", _versions())
def test_device_allow_list(
    version: cgroups.Version, made: list[Cgroup], children: list[Child], parent: str, tmp_path: Path
) -> None:
    """v1: the devices controller; v2: an eBPF program attached to the cgroup (on a hybrid host, the
    unified hierarchy's cgroup decides through that program too)."""
    node = tmp_path / "blk"
    os.mknod(node, stat.S_IFBLK | 0o600, os.makedev(7, 0))  # a loop device node, outside /dev
    code = (
        f"for path in ('/dev/null', {str(node)!r}):\n"
        "    try:\n"
        "        os.close(os.open(path, os.O_RDONLY))\n"
        "        print('ok', flush=True)\n"
        "    except OSError as err:\n"
        "        print(err.errno, flush=True)\n"
        "try:\n"
        f"    os.mknod({str(node)!r} + '2', 0o600 | 0o20000, os.makedev(1, 3))\n"  # char 1:3, mknod allowed
        "    print('mknod ok', flush=True)\n"
        "except OSError as err:\n"
        "    print(err.errno, flush=True)\n"
    )
    for name, allow_all, expected_block in (("dev-default", False, "1"), ("dev-privileged", True, None)):
        group = Cgroup.create(name, CgroupLimits(allow_all_devices=allow_all), parent, version=version)
        made.append(group)
        child = _spawn(children, code)
        group.add(child.pid)
        child.go()
        assert child.line() == "ok"  # /dev/null is on the allow list
        block = child.line()
        if expected_block:
            assert block == expected_block  # EPERM from the device rules
        else:
            assert block != "1"  # opened, or ENXIO if there is no loop0: the cgroup did not refuse
        assert child.line() == "mknod ok"
        assert child.wait() == 0
        (tmp_path / "blk2").unlink()


@pytest.mark.skipif(not _v2_usable(), reason="no cgroup2 hierarchy")
def test_v2_hierarchy_core_files(made: list[Cgroup], children: list[Child], parent: str) -> None:
    """The v2 code on the real kernel: membership, freezer, cpu.stat, cgroup.kill, removal."""
    group = Cgroup.create("v2core", CgroupLimits(), parent, version="v2")
    made.append(group)
    assert group.version == "v2"
    assert group.paths()[""] == cgroups.v2_root() / parent / "v2core"
    _check_freezer(group, children)

    group = Cgroup.create("v2kill", CgroupLimits(), parent, version="v2")
    made.append(group)
    child = _spawn(children, "print('ready', flush=True)\ntime.sleep(60)\n")
    group.add(child.pid)
    child.go()
    assert child.line() == "ready"
    assert group.pids() == [child.pid]
    assert group.stats().pids_current == 1
    group.kill_all()  # cgroup.kill on Linux >= 5.14
    assert child.wait() == -signal.SIGKILL
    group.destroy()
    assert not group.exists()


@pytest.mark.skipif(not _v2_usable(), reason="no cgroup2 hierarchy")
def test_v2_missing_controller_is_reported(parent: str) -> None:
    available = set((cgroups.v2_root() / "cgroup.controllers").read_text().split())
    if "memory" in available:
        pytest.skip("the memory controller is available on cgroup2 here")
    with pytest.raises(RuntimeFailure, match="memory"):
        Cgroup.create("v2mem", CgroupLimits(memory=32 * MiB), parent, version="v2")
    assert not (cgroups.v2_root() / parent / "v2mem").exists()


def test_destroy_removes_nested_cgroups(made: list[Cgroup], children: list[Child], parent: str) -> None:
    """A container that made cgroups of its own (cgroupns + writable cgroupfs) still gets cleaned up."""
    group = Cgroup.create("nested", CgroupLimits(), parent)
    made.append(group)
    inner_dirs = []
    for top in set(group.paths().values()):
        inner = top / "inner" / "deeper"
        inner.mkdir(parents=True)
        for d in (inner.parent, inner):  # a v1 cpuset takes no task until it has cpus and mems
            for key in ("cpuset.cpus", "cpuset.mems"):
                if (d / key).exists():
                    (d / key).write_text((top / key).read_text())
        inner_dirs.append(inner)
    child = _spawn(children, "print('ready', flush=True)\ntime.sleep(60)\n")
    for inner in inner_dirs:
        (inner / "cgroup.procs").write_text(str(child.pid))
    child.go()
    assert child.line() == "ready"
    assert group.pids() == [child.pid]
    group.destroy()
    assert child.wait() == -signal.SIGKILL
    assert not group.exists()


def test_the_primer_makes_no_op_moves_that_makes_the_next_move_cheap() -> None:
    """The shim's primer moves this process into the cgroup it is in, again and again until stopped:
    nothing changes, no thread is left, and a real move right after still works. (What it saves, a grace
    period, is for bench/run.py to show.)"""
    before = Path("/proc/self/cgroup").read_text()
    threads = threading.active_count()
    primer = Primer(every=0.001)
    assert primer.fd >= 0
    time.sleep(0.02)  # several moves
    primer.stop()
    assert threading.active_count() == threads and primer.fd == -1
    assert Path("/proc/self/cgroup").read_text() == before
    cg = Cgroup.create(f"prime-{os.getpid()}", CgroupLimits(), parent=os.environ["DOCKYARD_CGROUP_PARENT"])
    child = subprocess.Popen(["sleep", "5"])
    try:
        cg.add(child.pid)
        assert child.pid in cg.pids()
    finally:
        child.kill()
        child.wait()
        cg.destroy()


def _other_hierarchies() -> dict[str, Path]:
    """A v1 host's hierarchies without a resource controller, keyed as /proc/<pid>/cgroup names them."""
    found: dict[str, Path] = {}
    for mountpoint, fstype, root, opts in cgroupfs.mounts():
        if root == "/" and fstype == "cgroup2":
            found.setdefault("", Path(mountpoint))
        elif root == "/" and fstype == "cgroup" and not opts & set(cgroups.V1_CONTROLLERS):
            found.update((o, Path(mountpoint)) for o in opts if o.startswith("name="))
    return found


@pytest.mark.skipif(
    cgroups.detect() != "v1" or not _other_hierarchies(), reason="needs a v1 host with a named hierarchy"
)
def test_v1_gives_its_own_cgroup_in_every_other_hierarchy(
    made: list[Cgroup], children: list[Child], parent: str
) -> None:
    """name=systemd (and a hybrid host's cgroup2) hold no controller of ours, but a container left in the
    shim's cgroup there would see the host's hierarchy from its cgroup namespace: it gets its own, as runc
    gives it, and its directories go with it."""
    group = Cgroup.create("others", CgroupLimits(), parent)
    made.append(group)
    others = _other_hierarchies()
    child = _spawn(children, "time.sleep(30)")
    group.add(child.pid)
    lines = Path(f"/proc/{child.pid}/cgroup").read_text().splitlines()
    for key in others:
        assert any(line.split(":", 2)[1:] == [key, f"/{parent}/others"] for line in lines), (key, lines)
    assert group.pids() == [child.pid]
    for key, root in others.items():
        assert group.paths()[key] == root / parent / "others"
    child.close()
    group.destroy()
    assert not any((root / parent / "others").exists() for root in others.values())
    Cgroup.remove_parent(parent)
    assert not any((root / parent).exists() for root in others.values())
