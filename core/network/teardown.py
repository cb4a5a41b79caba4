"""Tear-down of a container's network: run by the shim when its container is done for good, by whoever
finds a dead shim (``ps`` included), and by a start that finds leftovers. Kept to light imports (no
pyroute2, no engine models): the shim loads it at every container's end.

The host end of each veth is deleted explicitly (its peer goes with it) rather than left to the kernel's
asynchronous namespace clean-up, so nothing of the container is visible once this returns, even if
something still pins its namespace.
"""

from __future__ import annotations

import contextlib
import os
import subprocess

from core.config import Paths
from core.errors import DockyardError, RuntimeFailure
from core.network import endpoints, names, nat, netns
from core.network.ipam import Ipam
from core.network.layout import NetPaths


def release(paths: Paths, cid: str) -> None:
    """Undo everything a container's network start made: veths, namespace, addresses, published-port
    rules, its peers' hosts entries. Idempotent and cheap when there is nothing to do; no pyroute2.
    Raises RuntimeFailure (after doing all it can) if a step failed."""
    np = NetPaths(paths)
    att = endpoints.load(np, cid)
    ns_path = np.netns(cid)
    if att is None and not os.path.lexists(ns_path):
        return
    errors: list[str] = []
    nets: set[str] = set()
    if att is not None:
        from core.network import rtnl

        for ep in att.endpoints:
            nets.add(ep.network_id)
            try:
                rtnl.delete_link(ep.veth)
            except OSError as err:
                errors.append(str(err))
    try:
        netns.remove(ns_path)
    except OSError as err:
        errors.append(f"cannot remove the network namespace {ns_path}: {err}")
    # every network's addresses, not only the attachment's: a start killed between handing out an address
    # and recording the endpoint that uses it leaves an address the attachment does not name
    try:
        Ipam(np).release_everywhere(cid)
    except (OSError, DockyardError) as err:
        errors.append(str(err))
    endpoints.delete(np, cid)
    if att is not None and att.ports:
        try:
            nat.sync(np, att.nft_table)
        except (OSError, DockyardError, subprocess.SubprocessError) as err:
            errors.append(str(err))
    if nets:
        try:
            names.refresh(np, nets)
        except (OSError, DockyardError) as err:
            errors.append(str(err))
    if errors:
        raise RuntimeFailure(f"network clean-up of {cid[:12]}: {errors[0]}")


def release_stale(np: NetPaths, skip: str = "") -> None:
    """Tear down attachments whose owner is gone (a starter or shim killed before its clean-up)."""
    for att in endpoints.all_attachments(np):
        if att.cid != skip and not endpoints.owner_alive(np, att.cid):
            with contextlib.suppress(DockyardError, OSError):
                release(np.paths, att.cid)
