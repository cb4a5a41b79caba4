"""Launching a container's shim process: see :class:`ShimLauncher`. Kept light (no engine imports), since
``run`` launches its shim before it has even parsed its flags."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from core.config import Paths

if TYPE_CHECKING:
    from core.containers.lifecycle import Lifecycle, StartHandle
    from core.containers.store import ContainerRecord


def shim_env() -> dict[str, str]:
    keep = ("PATH", "LANG", "LC_ALL", "TZ", "DOCKYARD_ROOT", "DOCKYARD_RUN", "DOCKYARD_CGROUP_PARENT")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.setdefault("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
    return env


def source_root() -> str:
    """The directory holding the ``core`` package, so the shim imports the same code as its starter."""
    return str(Path(__file__).resolve().parent.parent.parent)


class ShimLauncher:
    """A shim process started ahead of its container.

    Python start-up and the shim's imports take tens of milliseconds; ``run`` launches the shim first and
    creates the container meanwhile, then hands the shim the container's id through the control pipe.
    A launcher that is never ordered (create failed) is cancelled: its shim sees the pipe close and exits.
    """

    def __init__(self, paths: Paths) -> None:
        self.ready_r, ready_w = os.pipe2(os.O_CLOEXEC)
        ctl_r, self.ctl_w = os.pipe2(os.O_CLOEXEC)
        cmd = [
            sys.executable,
            "-m",
            "core.runtime.shim",
            str(paths.root),
            str(paths.run),
            "--ready-fd",
            str(ready_w),
            "--ctl-fd",
            str(ctl_r),
        ]
        try:
            # not waited for: the shim outlives us, and is re-parented to init when we exit
            self.proc = subprocess.Popen(
                cmd,
                pass_fds=[ready_w, ctl_r],
                start_new_session=True,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                close_fds=True,
                cwd="/",
                env={**shim_env(), "PYTHONPATH": source_root()},
            )
        finally:
            os.close(ready_w)
            os.close(ctl_r)

    def order(self, lc: Lifecycle, rec: ContainerRecord, attach: bool) -> StartHandle:
        from core.containers.lifecycle import StartHandle

        os.write(self.ctl_w, json.dumps({"id": rec.id, "attach": attach}).encode() + b"\n")
        os.close(self.ctl_w)
        self.ctl_w = -1
        handle = StartHandle(lc, rec, self.ready_r)
        self.ready_r = -1
        handle.expect_listening()
        return handle

    def cancel(self) -> None:
        for fd in (self.ctl_w, self.ready_r):
            if fd >= 0:
                os.close(fd)
        self.ctl_w = self.ready_r = -1
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)
