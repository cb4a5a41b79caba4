"""What a killed command leaves, and who frees it: addresses of containers that are gone for good (reclaimed
under the IPAM lock), addresses an endpoint record does not name (released by the network tear-down), lock
files of removed containers, and containers renamed out of sight by a remover that died."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from core.config import Paths
from core.containers.remove import has_hidden, sweep_hidden, sweep_lock_files
from core.network import endpoints, nat, teardown
from core.network.endpoints import Attachment
from core.network.ipam import Ipam
from core.network.layout import NetPaths
from core.state.locks import FileLock

NET = "a" * 64
SUBNET, GATEWAY = "10.9.0.0/29", "10.9.0.1"


def cid(i: int) -> str:
    return f"{i:064x}"


@pytest.fixture
def paths(tmp_path: Path) -> Paths:
    p = Paths(tmp_path / "root", tmp_path / "run")
    p.containers.mkdir(parents=True)
    p.locks.mkdir(parents=True)
    return p


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_allocation_reclaims_addresses_of_containers_that_are_gone(paths: Paths) -> None:
    ipam = Ipam(NetPaths(paths))
    for i in (1, 2, 3):
        ipam.allocate(NET, SUBNET, GATEWAY, cid(i))
    (paths.containers / cid(2)).mkdir()  # exists (stopped, say): its address is its own to free
    alive = {cid(3)}  # gone from the store but its shim still tears down: not yet
    ipam.allocate(NET, SUBNET, GATEWAY, cid(4), alive=lambda o: o in alive)
    owners = set(ipam.allocations(NET).values())
    assert owners == {cid(2), cid(3), cid(4)}  # cid(1): no container, nobody alive -> reclaimed


def test_reclaim_for_prune_drops_only_gone_owners(paths: Paths) -> None:
    ipam = Ipam(NetPaths(paths))
    for i in (1, 2):
        ipam.allocate(NET, SUBNET, GATEWAY, cid(i))
    (paths.containers / cid(2)).mkdir()
    assert ipam.reclaim(NET, alive=lambda o: False) == ["10.9.0.2"]
    assert set(ipam.allocations(NET).values()) == {cid(2)}


@pytest.mark.skipif(os.geteuid() != 0, reason="the namespace clean-up's umount needs root")
def test_teardown_frees_an_address_its_endpoint_record_does_not_name(paths: Paths) -> None:
    """A start killed between handing out the address and recording the endpoint that uses it."""
    np = NetPaths(paths)
    ipam = Ipam(np)
    ipam.allocate(NET, SUBNET, GATEWAY, cid(1))
    ipam.allocate(NET, SUBNET, GATEWAY, cid(2))
    endpoints.save(np, Attachment(cid=cid(1), name="x", hostname="x", netns=str(np.netns(cid(1)))))
    teardown.release(paths, cid(1))
    assert list(ipam.allocations(NET).values()) == [cid(2)]
    assert endpoints.load(np, cid(1)) is None


def test_lock_files_of_removed_containers_are_swept(paths: Paths) -> None:
    hidden = cid(3)
    (paths.containers / cid(1)).mkdir()
    (paths.containers / f".tmp-{os.getpid()}-0000-{hidden}").mkdir()  # being removed right now
    for c in (cid(1), cid(2), hidden, cid(4)):
        for kind in ("container", "shim"):
            (paths.locks / f"{kind}-{c}.lock").touch()
    (paths.locks / "images.lock").touch()
    held = FileLock(paths.locks, f"shim-{cid(4)}")  # a shim that still finishes
    held.acquire()
    try:
        sweep_lock_files(paths)
    finally:
        held.release()
    left = sorted(os.listdir(paths.locks))
    assert left == sorted(
        [f"{k}-{c}.lock" for k in ("container", "shim") for c in (cid(1), hidden)]
        + [f"shim-{cid(4)}.lock", "images.lock"]
    )


def test_sweep_finishes_a_removal_whose_remover_died(paths: Paths) -> None:
    np = NetPaths(paths)
    gone, busy = cid(1), cid(2)
    for c in (gone, busy):
        d = paths.containers / f".tmp-{dead_pid()}-0000-{c}"
        (d / "upper").mkdir(parents=True)
        (d / "config.json").write_text(json.dumps({"name": "x"}))
        Ipam(np).allocate(NET, SUBNET, GATEWAY, c)
        (paths.locks / f"container-{c}.lock").touch()
    (paths.containers / f".tmp-{dead_pid()}-0000-state.json").write_text("{}")  # a record's temp file
    assert has_hidden(paths)
    shim = FileLock(paths.locks, f"shim-{busy}")  # its shim is still tearing it down: left to it
    shim.acquire()
    try:
        assert sweep_hidden(paths, "dockyard-test-none") == 2
    finally:
        shim.release()
    assert [n[-64:] for n in os.listdir(paths.containers)] == [busy]
    assert list(Ipam(np).allocations(NET).values()) == [busy]
    assert f"container-{gone}.lock" not in os.listdir(paths.locks)


def test_sweep_skips_a_container_another_sweeper_holds(paths: Paths) -> None:
    c = cid(5)
    (paths.containers / f".tmp-{dead_pid()}-0000-{c}").mkdir()
    fd = os.open(paths.locks / f"container-{c}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        assert sweep_hidden(paths, "dockyard-test-none") == 0
    finally:
        os.close(fd)
    assert sweep_hidden(paths, "dockyard-test-none") == 1
    assert not has_hidden(paths)


def test_a_zombie_writer_counts_as_gone(paths: Paths) -> None:
    """A killed shim stays a zombie until its parent reaps it (on some hosts init never does)."""
    proc = subprocess.Popen(["true"])
    try:
        for _ in range(500):
            if Path(f"/proc/{proc.pid}/stat").read_bytes().split(b") ")[1][:1] == b"Z":
                break
            time.sleep(0.01)
        (paths.containers / f".tmp-{proc.pid}-0000-{cid(6)}").mkdir()
        (paths.containers / f".tmp-{os.getpid()}-0000-{cid(7)}").mkdir()  # a live writer: left alone
        assert sweep_hidden(paths, "dockyard-test-none") == 1
    finally:
        proc.wait()
    assert [n[-64:] for n in os.listdir(paths.containers)] == [cid(7)]


def test_nft_record_is_forgotten_before_a_load(paths: Paths, monkeypatch: pytest.MonkeyPatch) -> None:
    """An ``nft -f`` that completes after its caller was killed must not leave the old ruleset recorded
    as applied: the next sync would skip its reload and keep a dead container's port rule for good."""
    np = NetPaths(paths)
    np.nft_applied.parent.mkdir(parents=True)
    np.nft_applied.write_text("the ruleset before\n")

    def killed(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt  # the caller dies while nft loads the new ruleset

    monkeypatch.setattr(nat, "nft_binary", lambda: "/usr/sbin/nft")
    monkeypatch.setattr(nat.subprocess, "run", killed)
    with pytest.raises(KeyboardInterrupt):
        nat.sync(np, "dyt_unit")
    assert not np.nft_applied.exists()
