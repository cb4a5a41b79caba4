"""The cgroup v2 code against a fake cgroup2 tree in a temp dir.

This host's cgroup2 hierarchy holds no resource controllers (they are bound to v1), so the kernel cannot show
memory.max, cpu.max, pids.max or memory.events here. These tests check what the v2 code writes and how it
parses what the kernel would write, following Documentation/admin-guide/cgroup-v2.rst. The parts of v2 the
kernel does offer here (membership, cgroup.freeze, cpu.stat, cgroup.kill, removal) are exercised for real
in tests/e2e/test_cgroups.py.
"""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import pytest

from core.errors import InvalidArgument, RuntimeFailure
from core.runtime.cgroups import (
    DEFAULT_DEVICE_RULES,
    Cgroup,
    CgroupLimits,
    CgroupV2,
    device_filter_program,
    shares_to_weight,
)

MiB = 1 << 20
# The device allow list is an eBPF program the kernel attaches to a real cgroup2 directory: it cannot go on a
# fake tree (tests/e2e/test_cgroups.py checks it on the real kernel). Fake-tree cgroups skip it.
NODEV = {"allow_all_devices": True}
LEAF_FILES = {
    "cgroup.procs": "",
    "cgroup.freeze": "0\n",
    "cgroup.events": "populated 0\nfrozen 0\n",
    "cgroup.kill": "",
    "cgroup.subtree_control": "",
    "memory.max": "max\n",
    "memory.swap.max": "max\n",
    "memory.low": "0\n",
    "memory.current": "0\n",
    "memory.stat": "anon 0\ninactive_file 0\n",
    "memory.events": "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n",
    "cpu.max": "max 100000\n",
    "cpu.weight": "100\n",
    "cpu.stat": "usage_usec 0\nuser_usec 0\nsystem_usec 0\n",
    "pids.max": "max\n",
    "pids.current": "0\n",
    "cpuset.cpus": "\n",
    "io.stat": "",
}


def fake_tree(tmp_path: Path, controllers: str = "cpuset cpu io memory pids hugetlb") -> Path:
    """A cgroup2 root with parent ``p`` and leaf ``c`` made, with the files the kernel makes at mkdir."""
    root = tmp_path / "cgroup2"
    root.mkdir()
    (root / "cgroup.controllers").write_text(controllers + "\n")
    (root / "cgroup.subtree_control").write_text("")
    (root / "p").mkdir()
    (root / "p" / "cgroup.subtree_control").write_text("")
    (root / "p" / "cgroup.controllers").write_text(controllers + "\n")
    leaf = root / "p" / "c"
    leaf.mkdir()
    for name, content in LEAF_FILES.items():
        if name.split(".")[0] in ("cgroup", *controllers.split()):
            (leaf / name).write_text(content)
    return root


def read(root: Path, name: str) -> str:
    return (root / "p" / "c" / name).read_text().strip()


def test_create_enables_controllers_and_writes_limits(tmp_path: Path) -> None:
    root = fake_tree(tmp_path)
    limits = CgroupLimits(
        memory=32 * MiB, cpu_quota=150000, cpu_shares=512, pids=5, cpuset_cpus="0-1", **NODEV
    )
    group = Cgroup.create("c", limits, "p", version="v2", root=root)
    assert isinstance(group, CgroupV2)
    assert group.paths() == {"": root / "p" / "c"}
    # controllers enabled from the root down to the parent (hugetlb is not one we use)
    assert (root / "cgroup.subtree_control").read_text() == "+cpu +cpuset +memory +pids +io"
    assert (root / "p" / "cgroup.subtree_control").read_text() == "+cpu +cpuset +memory +pids +io"
    assert read(root, "memory.max") == str(32 * MiB)
    assert read(root, "memory.swap.max") == str(32 * MiB)  # docker: memory+swap = 2x memory
    assert read(root, "cpu.max") == "150000 100000"
    assert read(root, "cpu.weight") == str(shares_to_weight(512))
    assert read(root, "pids.max") == "5"
    assert read(root, "cpuset.cpus") == "0-1"


def test_memory_reservation_is_memory_low(tmp_path: Path) -> None:
    """--memory-reservation is v2's memory.low; --oom-kill-disable has no v2 switch and writes nothing."""
    root = fake_tree(tmp_path)
    group = Cgroup.create(
        "c",
        CgroupLimits(memory_reservation=16 * MiB, oom_kill_disable=True, **NODEV),
        "p",
        version="v2",
        root=root,
    )
    assert read(root, "memory.low") == str(16 * MiB)
    assert read(root, "memory.max") == "max"
    assert sorted(p.name for p in (root / "p" / "c").iterdir()) == sorted(LEAF_FILES)  # nothing made up
    group.update(CgroupLimits(pids=3))
    assert read(root, "memory.low") == str(16 * MiB)  # an update that does not name it leaves it
    group.update(CgroupLimits(memory_reservation=0))
    assert read(root, "memory.low") == "0"


def test_create_without_limits_writes_unlimited(tmp_path: Path) -> None:
    root = fake_tree(tmp_path)
    (root / "p" / "c" / "memory.max").write_text("12345\n")  # a leftover's stale limit
    Cgroup.create("c", CgroupLimits(**NODEV), "p", version="v2", root=root)
    assert read(root, "memory.max") == "max"
    assert read(root, "memory.swap.max") == "max"
    assert read(root, "cpu.max") == "max 100000"
    assert read(root, "cpu.weight") == "100"
    assert read(root, "pids.max") == "max"


def test_swap_settings(tmp_path: Path) -> None:
    root = fake_tree(tmp_path)
    group = Cgroup.create(
        "c", CgroupLimits(memory=64 * MiB, memory_swap=96 * MiB, **NODEV), "p", version="v2", root=root
    )
    assert read(root, "memory.swap.max") == str(32 * MiB)  # v2 counts swap alone
    group.update(CgroupLimits(memory_swap=-1))
    assert read(root, "memory.swap.max") == "max"
    group.update(CgroupLimits(memory_swap=80 * MiB))  # memory stays 64 MiB
    with pytest.raises(InvalidArgument):
        group.update(CgroupLimits(memory_swap=32 * MiB))  # below the memory limit
    assert read(root, "memory.swap.max") == str(16 * MiB)
    assert read(root, "memory.max") == str(64 * MiB)


def test_update_changes_only_what_is_given(tmp_path: Path) -> None:
    root = fake_tree(tmp_path)
    group = Cgroup.create("c", CgroupLimits(memory=32 * MiB, pids=5, **NODEV), "p", version="v2", root=root)
    group.update(CgroupLimits(pids=7))
    assert read(root, "pids.max") == "7"
    assert read(root, "memory.max") == str(32 * MiB)
    group.update(CgroupLimits(cpu_quota=50000, cpu_period=200000))
    assert read(root, "cpu.max") == "50000 200000"
    group.update(CgroupLimits(pids=0))
    assert read(root, "pids.max") == "max"


def test_missing_controller_is_an_error(tmp_path: Path) -> None:
    root = fake_tree(tmp_path, controllers="cpu pids")
    with pytest.raises(RuntimeFailure, match="memory"):
        Cgroup.create("c", CgroupLimits(memory=32 * MiB, **NODEV), "p", version="v2", root=root)
    with pytest.raises(RuntimeFailure, match="cpuset"):
        Cgroup.create("c", CgroupLimits(cpuset_cpus="0", **NODEV), "p", version="v2", root=root)
    Cgroup.create("c", CgroupLimits(pids=3, **NODEV), "p", version="v2", root=root)
    assert read(root, "pids.max") == "3"
    assert (root / "cgroup.subtree_control").read_text() == "+cpu +pids"


def test_stats_parse_the_kernel_formats(tmp_path: Path) -> None:
    root = fake_tree(tmp_path)
    leaf = root / "p" / "c"
    group = Cgroup.open("c", "p", version="v2", root=root)
    (leaf / "cpu.stat").write_text("usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 0\n")
    (leaf / "memory.current").write_text("10485760\n")
    (leaf / "memory.stat").write_text("anon 9437184\nfile 1048576\ninactive_file 1048576\nactive_file 0\n")
    (leaf / "memory.max").write_text("33554432\n")
    (leaf / "pids.current").write_text("3\n")
    (leaf / "pids.max").write_text("max\n")
    (leaf / "io.stat").write_text(
        "8:0 rbytes=100 wbytes=200 rios=1 wios=2 dbytes=0 dios=0\n8:16 rbytes=1 wbytes=2 rios=1 wios=1\n"
    )
    stats = group.stats()
    assert stats.cpu_usage_ns == 1_500_000
    assert stats.memory_usage == 10485760 - 1048576
    assert stats.memory_cache == 1048576
    assert stats.memory_limit == 32 * MiB
    assert stats.pids_current == 3
    assert stats.pids_limit is None
    assert (stats.block_read, stats.block_write) == (101, 202)
    (leaf / "memory.max").write_text("max\n")
    (leaf / "pids.max").write_text("10\n")
    assert group.stats().memory_limit is None
    assert group.stats().pids_limit == 10


def test_oom_killed_reads_memory_events(tmp_path: Path) -> None:
    root = fake_tree(tmp_path)
    group = Cgroup.open("c", "p", version="v2", root=root)
    assert not group.oom_killed()
    (root / "p" / "c" / "memory.events").write_text(
        "low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\noom_group_kill 0\n"
    )
    assert group.oom_killed()


def test_freeze_waits_for_the_kernel(tmp_path: Path) -> None:
    root = fake_tree(tmp_path)
    leaf = root / "p" / "c"
    group = Cgroup.open("c", "p", version="v2", root=root)
    with pytest.raises(RuntimeFailure, match="freeze"):
        group.freeze(timeout=0.05)  # cgroup.events never says frozen
    assert read(root, "cgroup.freeze") == "1"
    (leaf / "cgroup.events").write_text("populated 1\nfrozen 1\n")
    group.freeze()
    assert group.frozen()
    (leaf / "cgroup.events").write_text("populated 1\nfrozen 0\n")
    group.thaw()
    assert read(root, "cgroup.freeze") == "0"
    assert not group.frozen()


def test_kill_all_uses_cgroup_kill_or_signals(tmp_path: Path) -> None:
    root = fake_tree(tmp_path)
    leaf = root / "p" / "c"
    group = Cgroup.open("c", "p", version="v2", root=root)
    group.kill_all()
    assert read(root, "cgroup.kill") == "1"
    # Without cgroup.kill (Linux < 5.14), or for another signal: every listed process is signalled.
    proc = subprocess.Popen(["sleep", "30"])
    try:
        (leaf / "cgroup.procs").write_text(f"{proc.pid}\n")
        assert group.pids() == [proc.pid]
        group.kill_all(signal.SIGTERM)
        assert proc.wait(10) == -signal.SIGTERM
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_add_writes_cgroup_procs(tmp_path: Path) -> None:
    root = fake_tree(tmp_path)
    group = Cgroup.open("c", "p", version="v2", root=root)
    group.add(4242)
    assert read(root, "cgroup.procs") == "4242"


def test_open_missing(tmp_path: Path) -> None:
    root = fake_tree(tmp_path)
    with pytest.raises(Exception, match="does not exist"):
        Cgroup.open("nope", "p", version="v2", root=root)


def test_shares_to_weight() -> None:
    assert shares_to_weight(2) == 1
    assert shares_to_weight(1024) == 100
    assert shares_to_weight(262144) == 10000
    assert shares_to_weight(512) == 59
    assert shares_to_weight(1) == 1
    assert shares_to_weight(10**7) == 10000


@pytest.mark.parametrize(
    "limits",
    [
        CgroupLimits(memory=1 * MiB),
        CgroupLimits(memory_swap=64 * MiB),
        CgroupLimits(memory=64 * MiB, memory_swap=32 * MiB),
        CgroupLimits(cpu_quota=500),
        CgroupLimits(cpu_period=100),
        CgroupLimits(cpu_shares=-5),
        CgroupLimits(pids=-2),
        CgroupLimits(cpuset_cpus="0;1"),
        CgroupLimits(devices=("c 1:3 rwx",)),
    ],
)
def test_docker_refusals(limits: CgroupLimits) -> None:
    with pytest.raises(InvalidArgument):
        limits.validate()


def test_swap_default_and_cpus() -> None:
    assert CgroupLimits(memory=32 * MiB).swap_total(creating=True) == 64 * MiB
    assert CgroupLimits(memory=32 * MiB).swap_total(creating=False) is None
    assert CgroupLimits(memory=32 * MiB, memory_swap=-1).swap_total(creating=True) == -1
    assert CgroupLimits.quota_for_cpus(1.5) == 150000
    with pytest.raises(InvalidArgument):
        CgroupLimits.quota_for_cpus(0)


def test_device_program_on_a_fake_tree_is_refused(tmp_path: Path) -> None:
    root = fake_tree(tmp_path)
    with pytest.raises(RuntimeFailure, match="bpf"):
        Cgroup.create("c", CgroupLimits(), "p", version="v2", root=root)


def test_device_program_shape() -> None:
    allow_all = device_filter_program(["a *:* rwm"])
    assert len(allow_all) == 8 * (6 + 2 + 2)  # prologue, "r0 = 1; exit", then the default "r0 = 0; exit"
    assert allow_all[-8:-7] == b"\x95"  # exit
    full = device_filter_program(DEFAULT_DEVICE_RULES)
    assert len(full) % 8 == 0 and len(full) // 8 < 4096
    # c 1:3 rwm: type, major, minor checks (no access check: rwm is everything) + "r0 = 1; exit"
    assert len(device_filter_program(["c 1:3 rwm"])) == 8 * (6 + 5 + 2)


def test_a_nested_parent_enables_the_controllers_at_every_level(tmp_path: Path) -> None:
    """--cgroup-parent a/b: the container's cgroup is <root>/a/b/<name>, controllers enabled down to b."""
    root = fake_tree(tmp_path)
    for level in ("a", "a/b"):
        (root / level).mkdir()
        (root / level / "cgroup.subtree_control").write_text("")
    leaf = root / "a" / "b" / "c"
    leaf.mkdir()
    for name, content in LEAF_FILES.items():
        (leaf / name).write_text(content)
    group = Cgroup.create(
        "c", CgroupLimits(memory_reservation=8 * MiB, cpu_shares=2, **NODEV), "a/b", version="v2", root=root
    )
    assert group.paths() == {"": leaf}
    for level in (root, root / "a", root / "a" / "b"):
        assert (level / "cgroup.subtree_control").read_text() == "+cpu +cpuset +memory +pids +io"
    assert (leaf / "memory.low").read_text() == str(8 * MiB)
    assert (leaf / "cpu.weight").read_text() == "1"
    assert not (root / "p" / "c" / "memory.low").read_text().strip("0\n")  # the other cgroup is untouched
