"""Where the engine's two trees live, resolved with nothing but ``os``: the root (persistent state) and
the run dir (what must vanish at reboot). :mod:`core.config` builds on this; ``run`` uses it directly to
launch its shim before it has imported anything else (see :mod:`core.supervisor.launcher`)."""

from __future__ import annotations

import os

DEFAULT_ROOT = "/var/lib/dockyard"
DEFAULT_RUN = "/run/dockyard"


def root_dir(root: str | os.PathLike[str] | None = None) -> str:
    """``--root``, else ``DOCKYARD_ROOT``, else the default; absolute."""
    return os.path.abspath(root or os.environ.get("DOCKYARD_ROOT") or DEFAULT_ROOT)


def run_dir(run: str | os.PathLike[str] | None = None) -> str:
    """``DOCKYARD_RUN``, else the default; absolute."""
    return os.path.abspath(run or os.environ.get("DOCKYARD_RUN") or DEFAULT_RUN)
