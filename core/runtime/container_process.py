"""The shim's side of one container start: cgroup, stdio (pipes or a terminal), ``init.spawn``, and the
teardown after the container's PID 1 exits. Kept apart from the shim's event loop so the loop stays about
I/O and the protocol."""

from __future__ import annotations

import contextlib
import os

from core.config import Paths
from core.errors import DockyardError

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~2 ms of a start)
if TYPE_CHECKING:
    from typing import Any

    from core.runtime.shim import Shim


def spawn(shim: Shim) -> dict[str, Any]:
    from core.runtime import cgroups, init
    from core.runtime.spec import ContainerSpec

    rt = shim.runtime
    spec = ContainerSpec.from_dict(rt["spec"])
    cg = rt.get("cgroup") or {}
    limits = cgroups.CgroupLimits(
        memory=cg.get("memory"),
        memory_swap=cg.get("memory_swap"),
        cpu_quota=cg.get("cpu_quota"),
        pids=cg.get("pids"),
        allow_all_devices=bool(cg.get("allow_all_devices")),
    )
    to_close: list[int] = []
    net = rt.get("network")  # networks: hold a bridge network's published host ports (core.network)
    if net is not None:
        from core.network import shimside

        problem = shimside.hold_ports(net)
        if problem:
            return {"ok": False, "code": 125, "message": problem}
    try:
        shim.cgroup = cgroups.Cgroup.create(shim.cid, limits, parent=cg.get("parent", "dockyard"))
    except (DockyardError, OSError) as err:
        return {"ok": False, "code": 125, "message": f"cannot create the container's cgroup: {err}"}
    stdin_r = stdin_w = out_r = out_w = err_r = err_w = None
    try:
        if not spec.process.tty:
            out_r, out_w = os.pipe2(os.O_CLOEXEC)
            err_r, err_w = os.pipe2(os.O_CLOEXEC)
            to_close += [out_r, out_w, err_r, err_w]
        if rt.get("stdin") and not spec.process.tty:
            stdin_r, stdin_w = os.pipe2(os.O_CLOEXEC)
            to_close += [stdin_r, stdin_w]
        if spec.process.tty and shim.tty_size:
            spec.process.tty_size = shim.tty_size
        started = init.spawn(spec, stdio=(stdin_r, out_w, err_w), before_start=shim.cgroup.add)
    except DockyardError as err:
        for fd in to_close:
            with contextlib.suppress(OSError):
                os.close(fd)
        with contextlib.suppress(Exception):
            shim.cgroup.destroy()
        shim.cgroup = None
        return {"ok": False, "code": err.exit_code, "message": str(err)}
    for child_end in (stdin_r, out_w, err_w):
        if child_end is not None:
            os.close(child_end)
    import selectors

    if started.console_fd is not None:
        os.set_blocking(started.console_fd, False)
        shim.pty_master = started.console_fd
        shim.out_fds[started.console_fd] = "stdout"
        shim.sel.register(started.console_fd, selectors.EVENT_READ, "output")
    for read_end, stream in ((out_r, "stdout"), (err_r, "stderr")):
        if read_end is not None:
            os.set_blocking(read_end, False)
            shim.out_fds[read_end] = stream
            shim.sel.register(read_end, selectors.EVENT_READ, "output")
    if stdin_w is not None:
        shim.stdin_fd = stdin_w
    return {"ok": True, "pid": started.pid}


def cleanup_after_shim(paths: Paths, cid: str) -> None:
    """Also run by whoever finds a dead shim (``Lifecycle.reconcile``): safe to run twice."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(paths.shim_socket(cid))
    # networks: veths, namespace, address, port rules, peers' hosts entries (no pyroute2; a stat or two
    # when the container had no bridge network)
    from core.network import shimside

    shimside.release(paths, cid)
