"""Network settings private to one test session (one pytest-xdist worker), so tests never touch the real
default bridge (``dockyard0``), its subnet or the ``dockyard`` nft table, and parallel sessions never share
a bridge, a subnet or a table.

A session reserves a slot ``k`` with a lock file held for its whole life (released by the kernel if the
session dies) and a subnet that no host route uses: default bridge ``dyt<k>`` on 10.213.<k>.0/24, user
networks from 10.214.<k>.0/24 in /28s, nft table ``dyt<k>``. At the end the bridge, the table and any
bridge left on the session's subnets (a failed test's network) are removed.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from core.config import Config

# one small lock file a slot, kept (unlinking a lock file others may have open would let two sessions
# hold the "same" slot)
LOCK_DIR = (Path("/dev/shm") if Path("/dev/shm").is_dir() else Path("/tmp")) / "dockyard-test-net"


@dataclass(frozen=True)
class NetSettings:
    slot: int
    bridge: str
    bip: str
    pool: str
    pool_size: int
    nft_table: str
    lock_fd: int

    def apply(self, cfg: Config) -> None:
        """Put the settings on ``cfg`` and into ``<root>/daemon.json`` (for CLI subprocesses and shims)."""
        cfg.bridge = self.bridge
        cfg.bip = self.bip
        cfg.address_pools = [{"base": self.pool, "size": self.pool_size}]
        cfg.nft_table = self.nft_table
        cfg.root.mkdir(parents=True, exist_ok=True)
        settings = cfg.root / "daemon.json"
        data = json.loads(settings.read_text()) if settings.exists() else {}
        data.update(self.daemon_json())
        settings.write_text(json.dumps(data))

    def daemon_json(self) -> dict[str, object]:
        return {
            "bridge": self.bridge,
            "bip": self.bip,
            "default-address-pools": [{"base": self.pool, "size": self.pool_size}],
            "nft-table": self.nft_table,
        }

    @property
    def subnets(self) -> list[ipaddress.IPv4Network]:
        return [ipaddress.IPv4Interface(self.bip).network, ipaddress.IPv4Network(self.pool)]


def reserve() -> NetSettings:
    from core.network.store import host_routes

    sweep_dead_sessions()
    routes = host_routes()
    start = os.getpid() % 250
    for i in range(250):
        k = (start + i) % 250 + 1
        subnets = [ipaddress.IPv4Network(f"10.213.{k}.0/24"), ipaddress.IPv4Network(f"10.214.{k}.0/24")]
        if any(s.overlaps(r) for s in subnets for r in routes):
            continue
        LOCK_DIR.mkdir(mode=0o700, exist_ok=True)
        fd = os.open(LOCK_DIR / f"{k}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        return _settings(k, fd)
    raise RuntimeError("no free test network slot (10.213.k.0/24 and 10.214.k.0/24 all in use)")


def _settings(k: int, fd: int) -> NetSettings:
    return NetSettings(k, f"dyt{k}", f"10.213.{k}.1/24", f"10.214.{k}.0/24", 28, f"dyt{k}", fd)


def sweep_dead_sessions() -> None:
    """Remove the bridges and nft tables of slots whose session died without its clean-up: a ``dyt<k>``
    link or table whose slot lock can be taken has no living owner. Taken and released here, one at a time."""
    if os.geteuid() != 0:
        return
    links = subprocess.run(["ip", "-j", "link"], capture_output=True, text=True, check=False).stdout
    tables = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True, check=False).stdout
    names = {link.get("ifname", "") for link in json.loads(links or "[]")}
    names |= {line.split()[-1] for line in tables.splitlines() if line.startswith("table ip ")}
    slots = sorted({int(n[3:]) for n in names if n.startswith("dyt") and n[3:].isdigit()})
    for k in slots:
        try:
            fd = os.open(LOCK_DIR / f"{k}.lock", os.O_RDWR | os.O_CLOEXEC)
        except FileNotFoundError:
            continue  # not a slot of ours: never made by a session here
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)  # a living session's
            continue
        cleanup(_settings(k, fd))  # closes fd, which releases the lock


def leftover_bridges(settings: NetSettings) -> list[str]:
    """Our bridges still present: the session's default bridge and any bridge on the session's subnets."""
    out = subprocess.run(["ip", "-j", "addr"], capture_output=True, text=True, check=False).stdout
    found = []
    for link in json.loads(out or "[]"):
        name = link.get("ifname", "")
        for a in link.get("addr_info", []):
            if a.get("family") != "inet":
                continue
            addr = ipaddress.IPv4Address(a["local"])
            if any(addr in s for s in settings.subnets) and name not in found:
                found.append(name)
        if name == settings.bridge and name not in found:
            found.append(name)
    return found


def cleanup(settings: NetSettings) -> None:
    from core.network import rtnl

    if os.geteuid() == 0:
        for name in leftover_bridges(settings):
            with contextlib.suppress(OSError):
                rtnl.delete_link(name)
        subprocess.run(
            ["nft", "-f", "-"],
            input=f"table ip {settings.nft_table}\ndelete table ip {settings.nft_table}\n",
            capture_output=True,
            text=True,
            check=False,
        )
    os.close(settings.lock_fd)
