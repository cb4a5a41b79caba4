"""Links, over netlink with pyroute2: bridges, veth pairs, addresses, routes.

This is the only module that imports pyroute2 (~100 ms to import), and only inside its functions. Its
callers are the set-up helper process (core.network.attach) and the commands that make or remove links
(``network create``/``rm``, ``connect``, ``disconnect``); ``ps``, ``run --network none|host``, the shim
and every tear-down never load it.
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


def delete_link(ipr: Any, name: str) -> bool:
    found = ipr.link_lookup(ifname=name)
    if not found:
        return False
    try:
        ipr.link("del", index=found[0])
    except Exception as err:
        if _code(err) != errno.ENODEV:
            raise _fail(f"cannot delete link {name}", err) from err
    return True


def add_veth(ipr: Any, ns_fd: int, bridge_index: int, mtu: int, veth: str, ifname: str, mac: str) -> None:
    """A veth pair: ``veth`` on the bridge (up), its peer made directly inside the namespace ``ns_fd``
    as ``ifname`` with ``mac`` (so no name ever clashes with the host's own interfaces)."""
    peer = {"ifname": ifname, "net_ns_fd": ns_fd, "address": mac, "mtu": mtu}
    for attempt in (1, 2):
        try:
            ipr.link("add", ifname=veth, kind="veth", mtu=mtu, peer=peer)
            break
        except Exception as err:
            if _code(err) == errno.EEXIST and attempt == 1:
                delete_link(ipr, veth)  # left by a start that died half-way: it is ours by its name
                continue
            raise _fail(f"cannot create veth {veth}", err) from err
    found = ipr.link_lookup(ifname=veth)
    if not found:
        raise RuntimeFailure(f"veth {veth} vanished while it was being set up")
    ipr.link("set", index=found[0], master=bridge_index, state="up")


def configure_inside(ipr: Any, endpoints: list[dict[str, Any]], default_gateway: str | None) -> None:
    """Inside the container's namespace (``ipr`` was opened there): loopback up, each interface's address
    and up, the default route via the primary network's gateway."""
    lo = ipr.link_lookup(ifname="lo")
    if lo:
        ipr.link("set", index=lo[0], state="up")
    for ep in endpoints:
        found = ipr.link_lookup(ifname=ep["ifname"])
        if not found:
            raise RuntimeFailure(f"interface {ep['ifname']} is missing in the container's namespace")
        index = found[0]
        try:
            ipr.addr("add", index=index, address=ep["ip"], prefixlen=int(ep["prefixlen"]))
        except Exception as err:
            if _code(err) != errno.EEXIST:
                raise _fail(f"cannot set address {ep['ip']} on {ep['ifname']}", err) from err
        ipr.link("set", index=index, state="up")
    if default_gateway:
        try:
            ipr.route("add", dst="0.0.0.0/0", gateway=default_gateway)
        except Exception as err:
            if _code(err) != errno.EEXIST:
                raise _fail(f"cannot set the default route via {default_gateway}", err) from err
