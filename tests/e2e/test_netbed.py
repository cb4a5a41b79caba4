"""The test sessions' private networks (tests/netbed.py): what a session killed before its clean-up left
(its bridge, a user network's bridge on its subnets, its nft table) goes with the next session's start."""

from __future__ import annotations

import fcntl
import os
import subprocess
from pathlib import Path

import pytest

from tests import netbed

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")


def _free_slot() -> int:
    for k in range(250, 0, -1):
        if Path(f"/sys/class/net/dyt{k}").exists():
            continue
        netbed.LOCK_DIR.mkdir(mode=0o700, exist_ok=True)
        fd = os.open(netbed.LOCK_DIR / f"{k}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            continue
        finally:
            os.close(fd)  # free again: the slot of a session that is gone
        return k
    raise AssertionError("no free slot")


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


def test_a_dead_sessions_bridges_and_table_go_with_the_next_reserve() -> None:
    k = _free_slot()
    user_bridge = f"dytu{k}"
    try:
        _ip("link", "add", f"dyt{k}", "type", "bridge")
        _ip("addr", "add", f"10.213.{k}.1/24", "dev", f"dyt{k}")
        _ip("link", "add", user_bridge, "type", "bridge")
        _ip("addr", "add", f"10.214.{k}.1/28", "dev", user_bridge)
        subprocess.run(["nft", "add", "table", "ip", f"dyt{k}"], check=True)
        held = netbed.reserve()  # another slot (or this one), and the sweep on the way
        netbed.cleanup(held)
        assert not Path(f"/sys/class/net/dyt{k}").exists()
        assert not Path(f"/sys/class/net/{user_bridge}").exists()
        tables = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True, check=True).stdout
        assert f"table ip dyt{k}\n" not in tables + "\n"
    finally:
        for name in (f"dyt{k}", user_bridge):
            subprocess.run(["ip", "link", "del", name], capture_output=True, check=False)
        subprocess.run(["nft", "delete", "table", "ip", f"dyt{k}"], capture_output=True, check=False)


def test_a_living_sessions_network_is_left_alone() -> None:
    held = netbed.reserve()
    try:
        _ip("link", "add", held.bridge, "type", "bridge")
        netbed.sweep_dead_sessions()
        assert Path(f"/sys/class/net/{held.bridge}").exists()
    finally:
        netbed.cleanup(held)
    assert not Path(f"/sys/class/net/{held.bridge}").exists()
