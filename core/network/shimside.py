"""What the shim does for a container's network, in the shim's process and without pyroute2 (the shim's
size is what every running container costs):

* :func:`hold_ports` binds the published host ports and keeps them for the shim's whole life (the starter
  checked them and made the namespace and links already; the shim was launched before, so it binds them
  itself rather than inherit them);
* :func:`release` undoes everything once the container is done for good.

``runtime.json`` carries ``"network": {"ports": [...]}`` for containers on a bridge network.
"""

from __future__ import annotations

import sys

from core.config import Paths
from core.errors import DockyardError

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~2 ms of a start)
if TYPE_CHECKING:
    from typing import Any


def hold_ports(section: dict[str, Any]) -> str | None:
    """None, or why the ports cannot be held (one-line, for the start's error)."""
    from core.network import ports

    try:
        ports.hold_for_process(list(section.get("ports") or []))
    except DockyardError as err:
        return str(err)
    return None


def release(paths: Paths, cid: str) -> None:
    """Best effort: a failure is reported on stderr (the shim's log), never raised into the shim."""
    import os

    from core.network.layout import NetPaths

    held = sys.modules.get("core.network.ports")
    if held is not None:
        held.release_held()  # the container is done: its host ports are free from now on
    np = NetPaths(paths)
    if not np.endpoint(cid).exists() and not os.path.lexists(np.netns(cid)):
        return  # never on a bridge network (or already released): do not even load the rest
    from core.network import teardown

    try:
        teardown.release(paths, cid)
    except Exception as err:
        sys.stderr.write(f"network clean-up of {cid[:12]} failed: {err}\n")
