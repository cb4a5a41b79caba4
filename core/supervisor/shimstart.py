"""A shim's first moments: detach from its starter, take its name, and start priming the kernel's cgroup move
before the shim's own imports, so that the primer's wait in the kernel overlaps them.

There are two ways in, both ending in :func:`start`:

- ``python -S -m core.supervisor.shimstart ROOT RUN --ready-fd N --ctl-fd M``, spawned by
  :class:`core.supervisor.launcher.ShimLauncher` from any process (the workbench has threads, so it must
  not fork);
- a child that ``dockyard run`` forks as its first act (see ``ShimLauncher(fork=True)``): it has an
  interpreter already, with what the command line imported before ``main``, so the shim is ready ~10 ms
  sooner, and ``run`` no longer waits for it.

Either way the shim calls itself ``dockyard-shim ROOT`` (``ps``, ``/proc/PID/cmdline``), whatever command
line it was started with. Only ``os`` and ``sys`` are imported here.
"""

from __future__ import annotations

import os
import sys

SHIM_NAME = "dockyard-shim"


def start(root: str, run: str, ready_fd: int, ctl_fd: int) -> int:
    """Become the shim: fork once more so the shim proper is re-parented to init (our starter reaps this
    middle process at once) and can never gain a controlling terminal, then serve the order that comes on
    ``ctl_fd``. Returns the exit code."""
    if os.fork() != 0:
        os._exit(0)
    # what the shim and the container's setup find through the environment (the seccomp filter cache under
    # the run dir) must be this engine's run dir, not the default one, when the starter had it from its
    # configuration rather than from the environment (an in-process engine with --root/--run settings)
    os.environ["DOCKYARD_RUN"] = run
    from core.runtime.cgroupfs import Primer

    # first: its wait in the kernel (6-13 ms) then overlaps our imports rather than delaying the container
    primer = Primer()
    from core.runtime import linux

    # nothing of our starter's but the two pipes: an fd it had inheritable (a caller's pipe, say) would
    # otherwise stay open as long as the container runs
    linux.close_fds_above(ready_fd, ctl_fd, primer.fd)
    os.chdir("/")
    linux.set_name(SHIM_NAME)
    linux.set_command_line([SHIM_NAME, root])
    from core.supervisor.shim import serve

    return serve(root, run, ready_fd, ctl_fd, primer)


def main(argv: list[str]) -> int:
    root, run = argv[:2]
    ready_fd = int(argv[argv.index("--ready-fd") + 1])
    ctl_fd = int(argv[argv.index("--ctl-fd") + 1])
    return start(root, run, ready_fd, ctl_fd)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
