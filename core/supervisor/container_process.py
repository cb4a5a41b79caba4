"""The shim's side of one container start: cgroup, stdio (pipes or a terminal), ``init.spawn``, and the
teardown after the container's PID 1 exits. Kept apart from the shim's event loop so the loop stays about
I/O and the protocol: :func:`spawn` takes what the start needs and returns a :class:`Spawned` for the shim to
take over; it knows nothing of the shim."""

from __future__ import annotations

import contextlib
import os

from core.config import Paths
from core.errors import DockyardError, RuntimeFailure
from core.record import record

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~2 ms of a start)
if TYPE_CHECKING:
    from typing import Any

    from core.runtime.cgroups import Cgroup


@record
class Spawned:
    """A container whose PID 1 runs, and the host ends of its stdio (blocking; the shim makes its own)."""

    pid: int
    cgroup: Cgroup
    outputs: dict[int, str]  # read end -> "stdout" or "stderr" (a terminal's master is "stdout")
    console_fd: int | None = None  # the terminal's master, with a tty: stdin goes there too
    stdin_fd: int | None = None  # the write end of the container's stdin pipe (stdin without a tty)


def spawn(cid: str, runtime: dict[str, Any], tty_size: tuple[int, int] | None = None) -> Spawned:
    """Start the container ``runtime.json`` describes: hold its published ports, make its cgroup, fork it.

    Raises :class:`DockyardError` when it cannot start; its ``exit_code`` (125, 126 or 127) and message are
    the start's result. Nothing is left behind then but the held ports (the shim's cleanup frees them)."""
    from core.runtime import cgroups, init
    from core.runtime.spec import ContainerSpec

    spec = ContainerSpec.from_dict(runtime["spec"])
    cg = runtime.get("cgroup") or {}
    limits = cgroups.CgroupLimits(
        memory=cg.get("memory"),
        memory_swap=cg.get("memory_swap"),
        cpu_quota=cg.get("cpu_quota"),
        pids=cg.get("pids"),
        allow_all_devices=bool(cg.get("allow_all_devices")),
        cpu_shares=cg.get("cpu_shares"),
        cpuset_cpus=cg.get("cpuset_cpus"),
        memory_reservation=cg.get("memory_reservation"),
        oom_kill_disable=bool(cg.get("oom_kill_disable")),
    )
    to_close: list[int] = []
    net = runtime.get("network")  # networks: hold a bridge network's published host ports (core.network)
    if net is not None:
        from core.network import shimside

        problem = shimside.hold_ports(net)
        if problem:
            raise RuntimeFailure(problem)
    try:
        cgroup = cgroups.Cgroup.create(cid, limits, parent=cg.get("parent", "dockyard"))
    except (DockyardError, OSError) as err:
        raise RuntimeFailure(f"cannot create the container's cgroup: {err}") from err
    stdin_r = stdin_w = out_r = out_w = err_r = err_w = None
    try:
        if not spec.process.tty:
            out_r, out_w = os.pipe2(os.O_CLOEXEC)
            err_r, err_w = os.pipe2(os.O_CLOEXEC)
            to_close += [out_r, out_w, err_r, err_w]
        if runtime.get("stdin") and not spec.process.tty:
            stdin_r, stdin_w = os.pipe2(os.O_CLOEXEC)
            to_close += [stdin_r, stdin_w]
        if spec.process.tty and tty_size:
            spec.process.tty_size = tty_size
        started = init.spawn(spec, stdio=(stdin_r, out_w, err_w), before_start=cgroup.add)
    except DockyardError:
        for fd in to_close:
            with contextlib.suppress(OSError):
                os.close(fd)
        with contextlib.suppress(Exception):
            cgroup.destroy()
        raise
    for child_end in (stdin_r, out_w, err_w):
        if child_end is not None:
            os.close(child_end)
    outputs: dict[int, str] = {}
    if started.console_fd is not None:
        outputs[started.console_fd] = "stdout"
    for read_end, stream in ((out_r, "stdout"), (err_r, "stderr")):
        if read_end is not None:
            outputs[read_end] = stream
    return Spawned(started.pid, cgroup, outputs, started.console_fd, stdin_w)


def cleanup_after_shim(paths: Paths, cid: str) -> None:
    """Also run by whoever finds a dead shim (``Lifecycle.reconcile``): safe to run twice."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(paths.shim_socket(cid))
    # networks: veths, namespace, address, port rules, peers' hosts entries (no pyroute2; a stat or two
    # when the container had no bridge network)
    from core.network import shimside

    shimside.release(paths, cid)
    # a shareable /dev/shm and the volumes mounted by their driver options, if it had any
    from core.containers.runtime_spec import release_host_mounts

    release_host_mounts(paths, cid)
