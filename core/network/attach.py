"""Making a container's links, off the start's critical path.

pyroute2 takes ~100 ms to import; the links themselves take a few milliseconds. So the starter does what
needs no netlink itself (address, namespace, hosts files, port checks: all plain files and syscalls), then
launches this module as a helper process (``python -m core.network.attach REQUEST``), which imports
pyroute2 and makes the bridge (if missing), the veth pairs, addresses and routes, and loads the nft rules,
while the starter goes on building the container's spec and handing it to its shim. The shim waits for
the helper (:func:`wait`) only just before the container's setup process joins the namespace.

The hand-over: the starter takes ``locks/netsetup-<id>.lock`` and passes the locked fd to the helper,
so the lock is held exactly as long as the helper lives, and the helper writes its result to
``<run>/network/gates/<id>.json``. The waiter reads the result, or learns that the helper died without
one when it can take the lock.

:func:`configure` is also called in-process by ``network connect``.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from core.config import Paths
from core.network.layout import NetPaths
from core.state.locks import FileLock
from core.state.records import read_json, write_json

GATE_TIMEOUT = 30.0


def _lock_name(cid: str) -> str:
    return f"netsetup-{cid}"


def configure(req: dict[str, Any]) -> None:
    """Bridges (made or completed), veth pairs into the namespace, addresses, routes; then nft if asked
    or if a bridge was made."""
    from core.network import bridge, nat, netns

    np = NetPaths(Paths(Path(req["root"]), Path(req["run"])))
    need_sync = bool(req.get("nat"))
    indexes: dict[str, tuple[int, int]] = {}
    with bridge.iproute() as ipr:
        for b in req["bridges"]:
            with FileLock(np.locks, f"bridge-{b['id']}"):
                prefixlen = int(b["subnet"].rsplit("/", 1)[1])
                index, mtu, created = bridge.ensure_bridge(
                    ipr, b["bridge"], b["gateway"], prefixlen, b["mtu"]
                )
                # published ports reached from 127.0.0.1 leave through the bridge with that source
                nat.set_sysctl(f"/proc/sys/net/ipv4/conf/{b['bridge']}/route_localnet", "1")
                if not b.get("internal"):
                    nat.set_sysctl("/proc/sys/net/ipv4/ip_forward", "1")
                marker = np.bridge_marker(b["id"])
                if created or not marker.exists():
                    keys = ("id", "name", "bridge", "subnet", "gateway", "internal", "mtu")
                    write_json(marker, {k: b[k] for k in keys if k in b})
                    need_sync = True
            indexes[b["id"]] = (index, mtu)
        if req["endpoints"]:
            ns_fd = os.open(req["netns"], os.O_RDONLY | os.O_CLOEXEC)
            try:
                for ep in req["endpoints"]:
                    index, mtu = indexes[ep["network_id"]]
                    bridge.add_veth(ipr, ns_fd, index, mtu, ep["veth"], ep["ifname"], ep["mac"])
            finally:
                os.close(ns_fd)
    if req["endpoints"] or req.get("default_gateway"):
        with netns.entered(req["netns"]), bridge.iproute() as inside:
            bridge.configure_inside(inside, req["endpoints"], req.get("default_gateway"))
    if need_sync:
        nat.sync(np, req["table"])


# ------------------------------------------------------------------ the starter's side


def _source_root() -> str:
    return str(Path(__file__).resolve().parent.parent.parent)


def launch(np: NetPaths, cid: str, req: dict[str, Any], log_path: Path) -> subprocess.Popen[bytes]:
    """Start the helper for container ``cid``; its result will be at ``np.gate(cid)``."""
    np.gates.mkdir(parents=True, exist_ok=True)
    np.locks.mkdir(parents=True, exist_ok=True)
    try:
        os.unlink(np.gate(cid))
    except FileNotFoundError:
        pass
    lock_fd = os.open(np.locks / f"{_lock_name(cid)}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX)  # waits out a helper of an earlier, aborted start
        with open(log_path, "ab") as log:
            env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL")}
            env.setdefault("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
            env["PYTHONPATH"] = _source_root()
            return subprocess.Popen(
                [sys.executable, "-m", "core.network.attach", json.dumps(req)],
                pass_fds=[lock_fd],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log,
                start_new_session=True,  # a ^C at the terminal must not cut it off between two links
                cwd="/",
                env=env,
            )
    finally:
        os.close(lock_fd)  # from now on only the helper holds the lock


# ------------------------------------------------------------------ the shim's side


def _result(np: NetPaths, cid: str) -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = read_json(np.gate(cid))
    except (FileNotFoundError, ValueError):
        return None
    return data


def wait(np: NetPaths, cid: str, timeout: float = GATE_TIMEOUT) -> str | None:
    """Block until the helper for ``cid`` is done: None when the links are made, else why not."""
    deadline = time.monotonic() + timeout
    lock = FileLock(np.locks, _lock_name(cid))
    delay = 0.0005
    while True:
        res = _result(np, cid)
        if res is None and lock.acquire(blocking=False):
            lock.release()
            res = _result(np, cid)  # it writes, then exits: look once more
            if res is None:
                return "the network set-up helper exited without finishing (see the container's shim.log)"
        if res is not None:
            return None if res.get("ok") else str(res.get("message") or "network set-up failed")
        if time.monotonic() > deadline:
            return f"network set-up did not finish within {timeout:.0f} s"
        time.sleep(delay)
        delay = min(delay * 2, 0.01)


# ------------------------------------------------------------------ the helper process


def main(argv: list[str]) -> int:
    req: dict[str, Any] = json.loads(argv[0])
    np = NetPaths(Paths(Path(req["root"]), Path(req["run"])))
    cid = str(req["cid"])
    try:
        configure(req)
    except Exception as err:
        sys.stderr.write(f"network set-up of {cid[:12]} failed:\n{traceback.format_exc()}")
        write_json(np.gate(cid), {"ok": False, "message": f"network set-up failed: {err}"})
        return 1
    write_json(np.gate(cid), {"ok": True})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
