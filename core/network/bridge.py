"""Bridges, over netlink with pyroute2: made (or completed, if a crash left one half made) once a boot per
network, on ``network create`` or on the first start that needs it, with the address read back from a dump.

This is the only module that imports pyroute2 (~100 ms to import), and only inside its functions. The
per-container links (veths, addresses, routes) are a handful of fixed requests on every start, so they are
spoken directly by core.network.rtnl; ``ps``, ``run`` on an existing bridge, ``run --network none|host``,
the shim and every tear-down never load pyroute2.
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from core.errors import RuntimeFailure

_IFF_UP = 0x1


@contextmanager
def iproute() -> Iterator[Any]:
    """An rtnetlink socket in this thread's current network namespace."""
    from pyroute2 import IPRoute

    ipr = IPRoute()
    try:
        yield ipr
    finally:
        ipr.close()


def _code(err: BaseException) -> int:
    return int(getattr(err, "code", 0) or 0)


def _fail(what: str, err: BaseException) -> RuntimeFailure:
    return RuntimeFailure(f"{what}: {err}")


def ensure_bridge(ipr: Any, name: str, gateway: str, prefixlen: int, mtu: int) -> tuple[int, int, bool]:
    """The bridge ``name`` with ``gateway/prefixlen`` on it, up: made if missing, completed if half made.
    Returns (index, its MTU, whether it was made now)."""
    created = False
    found = ipr.link_lookup(ifname=name)
    if not found:
        try:
            ipr.link("add", ifname=name, kind="bridge", mtu=mtu)
            created = True
        except Exception as err:
            if _code(err) != errno.EEXIST:
                raise _fail(f"cannot create bridge {name}", err) from err
        found = ipr.link_lookup(ifname=name)
        if not found:
            raise RuntimeFailure(f"bridge {name} vanished while it was being set up")
    index = int(found[0])
    have = {
        (a.get_attr("IFA_ADDRESS"), int(a["prefixlen"]))
        for a in ipr.get_addr(index=index, family=socket.AF_INET)
    }
    if (gateway, prefixlen) not in have:
        try:
            ipr.addr("add", index=index, address=gateway, prefixlen=prefixlen)
        except Exception as err:
            if _code(err) != errno.EEXIST:
                raise _fail(f"cannot put {gateway}/{prefixlen} on bridge {name}", err) from err
    link = ipr.get_links(index)[0]
    if not int(link["flags"]) & _IFF_UP:
        ipr.link("set", index=index, state="up")
    return index, int(link.get_attr("IFLA_MTU") or mtu), created
