"""Making a container's links, in the starter's process: a few milliseconds, no pyroute2 on the way.

For each network: the bridge must exist (it is made once a boot, on first use, by core.network.bridge with
pyroute2, under the network's ``bridge-<id>`` lock; a marker under the run dir says it is complete, so
later starts only check that the interface is there). Then a veth pair, its peer made directly inside the
container's namespace; loopback up, each interface's address and up, the default route via the first
network that leads out; and, if the container publishes ports, the nft rules reloaded.
"""

from __future__ import annotations

import errno
import os
import socket
from typing import Any

from core.errors import RuntimeFailure
from core.network import nat, netns, rtnl
from core.network.endpoints import Attachment
from core.network.layout import NetPaths
from core.state.locks import FileLock
from core.state.records import write_json

_MARKER_KEYS = ("id", "name", "bridge", "subnet", "gateway", "internal", "mtu")


def _bridge_index(np: NetPaths, b: dict[str, Any]) -> int | None:
    """The bridge's index if it was completed in this boot (marker present and interface there)."""
    if not np.bridge_marker(b["id"]).exists():
        return None
    try:
        return socket.if_nametoindex(b["bridge"])
    except OSError:
        return None


def ensure_bridges(np: NetPaths, bridges: list[dict[str, Any]], table: str) -> dict[str, int]:
    """Network id -> bridge index, making or completing the bridges that need it (pyroute2, first use)."""
    out: dict[str, int] = {}
    made = False
    for b in bridges:
        index = _bridge_index(np, b)
        if index is None:
            with FileLock(np.locks, f"bridge-{b['id']}"):
                index = _bridge_index(np, b)  # another start may have made it meanwhile
                if index is None:
                    index = _make_bridge(np, b)
                    made = True
        out[b["id"]] = index
    if made:
        nat.sync(np, table)
    return out


def _make_bridge(np: NetPaths, b: dict[str, Any]) -> int:
    from core.network import bridge

    prefixlen = int(b["subnet"].rsplit("/", 1)[1])
    with bridge.iproute() as ipr:
        index, _mtu, _created = bridge.ensure_bridge(ipr, b["bridge"], b["gateway"], prefixlen, int(b["mtu"]))
    # published ports reached from 127.0.0.1 leave through the bridge with that source address
    nat.set_sysctl(f"/proc/sys/net/ipv4/conf/{b['bridge']}/route_localnet", "1")
    if not b.get("internal"):
        nat.set_sysctl("/proc/sys/net/ipv4/ip_forward", "1")
    write_json(np.bridge_marker(b["id"]), {k: b[k] for k in _MARKER_KEYS if k in b})
    return index


def _bridge_mtu(name: str, fallback: int) -> int:
    try:
        with open(f"/sys/class/net/{name}/mtu") as f:
            return int(f.read())
    except (OSError, ValueError):
        return fallback


def add_endpoints(
    att: Attachment, which: list[str], indexes: dict[str, int], default_gateway: str | None
) -> None:
    """Veths for the endpoints of ``att`` on networks ``which`` into its namespace, then configured inside."""
    eps = [ep for ep in att.endpoints if ep.network_id in which]
    ns_fd = os.open(att.netns, os.O_RDONLY | os.O_CLOEXEC)
    try:
        with rtnl.Rtnl() as host:
            for ep in eps:
                mtu = _bridge_mtu(ep.bridge, ep.mtu)  # the containers' MTU follows their bridge's
                try:
                    host.add_veth(ep.veth, ep.ifname, ns_fd, mtu, ep.mac, indexes[ep.network_id])
                except OSError as err:
                    if err.errno != errno.EEXIST:
                        raise
                    host.delete_link(ep.veth)  # left by a start that died half-way: ours by its name
                    host.add_veth(ep.veth, ep.ifname, ns_fd, mtu, ep.mac, indexes[ep.network_id])
    finally:
        os.close(ns_fd)
    with netns.entered(att.netns), rtnl.Rtnl() as inside:
        inside.set_up("lo")
        for ep in eps:
            inside.add_address(ep.ifname, ep.ip, ep.prefixlen)
            inside.set_up(ep.ifname)
        if default_gateway:
            inside.add_default_route(default_gateway)


def make_links(np: NetPaths, att: Attachment, bridges: list[dict[str, Any]], table: str) -> None:
    """Everything a starting container's network needs at the link level (its namespace exists)."""
    try:
        indexes = ensure_bridges(np, bridges, table)
        gateway = next((ep.gateway for ep in att.endpoints if not ep.internal), None)
        add_endpoints(att, [ep.network_id for ep in att.endpoints], indexes, gateway)
    except OSError as err:
        raise RuntimeFailure(f"cannot set up the network of {att.name}: {err}") from err
    if att.ports:
        nat.sync(np, table)
