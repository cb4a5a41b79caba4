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
import socket
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


def _helper_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL")}
    env.setdefault("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
    env["PYTHONPATH"] = _source_root()
    return env


def _take_lock(np: NetPaths, cid: str) -> int:
    np.gates.mkdir(parents=True, exist_ok=True)
    np.locks.mkdir(parents=True, exist_ok=True)
    try:
        os.unlink(np.gate(cid))
    except FileNotFoundError:
        pass
    lock_fd = os.open(np.locks / f"{_lock_name(cid)}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    fcntl.flock(lock_fd, fcntl.LOCK_EX)  # waits out a helper of an earlier, aborted start
    return lock_fd


class Prelaunched:
    """A helper started ahead of need (``run`` starts one before it has parsed its flags): its Python
    start-up and the pyroute2 import overlap the starter's own work. It waits on a socket for its order:
    the request, plus the locked fd and the container's log as SCM_RIGHTS. A helper never ordered sees
    the socket close (its starter finished or died) and exits."""

    def __init__(self) -> None:
        self.sock, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "core.network.attach", "--wait-fd", str(child.fileno())],
                pass_fds=[child.fileno()],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,  # a ^C at the terminal must not cut it off between two links
                cwd="/",
                env=_helper_env(),
            )
        finally:
            child.close()

    def order(self, np: NetPaths, cid: str, req: dict[str, Any], log_path: Path) -> subprocess.Popen[bytes]:
        lock_fd = _take_lock(np, cid)
        try:
            log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
            try:
                socket.send_fds(self.sock, [json.dumps(req).encode() + b"\n"], [lock_fd, log_fd])
            finally:
                os.close(log_fd)
        finally:
            os.close(lock_fd)  # from now on only the helper holds the lock
            self.cancel()
        return self.proc

    def cancel(self) -> None:
        self.sock.close()


_prelaunched: Prelaunched | None = None


def prelaunch() -> None:
    """Start a warm helper for this process's next container start (see :class:`Prelaunched`)."""
    global _prelaunched
    if _prelaunched is None:
        _prelaunched = Prelaunched()


def launch(np: NetPaths, cid: str, req: dict[str, Any], log_path: Path) -> subprocess.Popen[bytes]:
    """Start the helper for container ``cid`` (the warm one if this process has one); its result will be at
    ``np.gate(cid)``."""
    global _prelaunched
    warm, _prelaunched = _prelaunched, None
    if warm is not None:
        if warm.proc.poll() is None:
            try:
                return warm.order(np, cid, req, log_path)
            except OSError:
                pass  # it died meanwhile: start a fresh one
        warm.cancel()
    lock_fd = _take_lock(np, cid)
    try:
        with open(log_path, "ab") as log:
            return subprocess.Popen(
                [sys.executable, "-m", "core.network.attach", json.dumps(req)],
                pass_fds=[lock_fd],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log,
                start_new_session=True,
                cwd="/",
                env=_helper_env(),
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


def _await_order(fd: int) -> tuple[dict[str, Any], list[int]] | None:
    """The warm helper's wait: import pyroute2 first (the point of starting early), then read the order."""
    import pyroute2  # noqa: F401

    sock = socket.socket(fileno=fd)
    data, fds, _flags, _addr = socket.recv_fds(sock, 1 << 20, 4)
    while data and not data.endswith(b"\n"):
        more = sock.recv(1 << 20)
        if not more:
            break
        data += more
    sock.close()
    if not data.endswith(b"\n"):
        for extra in fds:
            os.close(extra)
        return None
    return json.loads(data), fds


def main(argv: list[str]) -> int:
    if argv[0] == "--wait-fd":
        order = _await_order(int(argv[1]))
        if order is None:
            return 0  # never needed
        req, fds = order
        if len(fds) >= 2:
            os.dup2(fds[1], 2)  # our diagnostics go to the container's shim.log
            os.close(fds[1])
        # fds[0], the locked netsetup lock, stays open until we exit: that is the hand-over
    else:
        req = json.loads(argv[0])
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
