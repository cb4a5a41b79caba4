"""IP address management: one file a network, ``<run>/network/ipam/<network id>.json``, changed only under
the network's ``ipam-<id>`` lock, so concurrent starts from several processes never get the same address.

Addresses are handed out round-robin (the first free one after the last handed out), as docker does, so an
address freed a moment ago is not reused at once while peers may still have it in their ARP caches. The
network and broadcast addresses and the gateway are never handed out.

An address belongs to an owner (a container id). An owner that no longer exists (no container directory)
and is not alive (no shim, no start in progress: the ``alive`` callback) cannot free its address any more
(a ``kill -9`` between the allocation and the record that names it, or a removal that never got to it): every
allocation drops such entries, under the lock, at the cost of a stat per owner. Owners that exist but are not
alive (a stopped container whose clean-up died) are reclaimed only when no address is free, or when a fixed
address is wanted: their own next start or removal frees them.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable
from typing import Any

from core.errors import Conflict, InvalidArgument
from core.network.layout import NetPaths
from core.state.ids import check_hex64
from core.state.locks import FileLock
from core.state.records import read_json, record_ids, write_json


def reserved(subnet: ipaddress.IPv4Network, gateway: ipaddress.IPv4Address) -> set[int]:
    return {int(subnet.network_address), int(subnet.broadcast_address), int(gateway)}


def next_free(
    subnet: ipaddress.IPv4Network, skip: set[int], after: ipaddress.IPv4Address | None
) -> ipaddress.IPv4Address | None:
    """The first address of ``subnet`` after ``after`` (wrapping round) that is not in ``skip``."""
    first = int(subnet.network_address) + 1
    last = int(subnet.broadcast_address) - 1
    if last < first:
        return None
    start = first
    if after is not None and first <= int(after) < last:
        start = int(after) + 1
    span = last - first + 1
    for i in range(span):
        n = first + (start - first + i) % span
        if n not in skip:
            return ipaddress.IPv4Address(n)
    return None


class Ipam:
    def __init__(self, np: NetPaths) -> None:
        self.np = np

    def _path(self, network_id: str) -> Any:
        return self.np.ipam / f"{check_hex64(network_id)}.json"

    def lock(self, network_id: str) -> FileLock:
        return FileLock(self.np.locks, f"ipam-{check_hex64(network_id)}")

    def _load(self, network_id: str) -> dict[str, Any]:
        try:
            data: dict[str, Any] = read_json(self._path(network_id))
        except FileNotFoundError:
            data = {}
        data.setdefault("allocated", {})
        data.setdefault("last", "")
        return data

    def allocations(self, network_id: str) -> dict[str, str]:
        """address -> owner, as last written (read without the lock: a snapshot)."""
        return dict(self._load(network_id)["allocated"])

    def allocate(
        self,
        network_id: str,
        subnet: str,
        gateway: str,
        owner: str,
        *,
        want: str | None = None,
        alive: Callable[[str], bool] = lambda owner: True,
        network_name: str = "",
    ) -> str:
        net = ipaddress.IPv4Network(subnet)
        gw = ipaddress.IPv4Address(gateway)
        label = network_name or network_id[:12]
        with self.lock(network_id):
            data = self._load(network_id)
            allocated: dict[str, str] = {
                ip: o
                for ip, o in data["allocated"].items()
                if ipaddress.IPv4Address(ip) in net and not self._orphaned(o, owner, alive)
            }
            if want:
                try:
                    addr = ipaddress.IPv4Address(want)
                except ValueError:
                    raise InvalidArgument(f"invalid IP address {want!r}") from None
                if addr not in net:
                    raise InvalidArgument(f"address {addr} is not in the subnet {net} of network {label}")
                if int(addr) in reserved(net, gw):
                    raise InvalidArgument(
                        f"address {addr} is reserved on network {label} (network, broadcast or gateway)"
                    )
                holder = allocated.get(str(addr))
                if holder is not None and holder != owner and alive(holder):
                    raise Conflict(f"address {addr} is already in use on network {label}")
                # a fixed address replaces whatever else the owner held here (a re-run of a start)
                allocated = {ip: o for ip, o in allocated.items() if o != owner}
            else:
                mine = [ip for ip, o in allocated.items() if o == owner]
                if mine:  # a re-run of a start that got this far: the same address again
                    return mine[0]
                addr_or_none = self._pick(net, gw, allocated, owner, data["last"])
                if addr_or_none is None:
                    # reclaim what dead owners left, then try once more
                    allocated = {ip: o for ip, o in allocated.items() if o == owner or alive(o)}
                    addr_or_none = self._pick(net, gw, allocated, owner, data["last"])
                if addr_or_none is None:
                    raise Conflict(f"no free address left on network {label} ({net})")
                addr = addr_or_none
                data["last"] = str(addr)
            allocated[str(addr)] = owner
            data["allocated"] = allocated
            data["subnet"] = str(net)
            write_json(self._path(network_id), data)
        return str(addr)

    def _orphaned(self, holder: str, owner: str, alive: Callable[[str], bool]) -> bool:
        """Is ``holder`` a container that is gone for good (so nobody will ever free its address)? A
        container being removed (renamed out of sight) still has a live shim while it tears down."""
        if holder == owner:
            return False
        try:
            gone = not self.np.paths.container(holder).exists()
        except InvalidArgument:  # not a container id at all: nothing will ever free it either
            return True
        return gone and not alive(holder)

    def reclaim(self, network_id: str, alive: Callable[[str], bool]) -> list[str]:
        """Drop the addresses of owners that are gone for good (``network prune``, ``system prune``);
        returns them."""
        path = self._path(network_id)
        if not path.exists():
            return []
        with self.lock(network_id):
            data = self._load(network_id)
            dropped = [ip for ip, o in data["allocated"].items() if self._orphaned(o, "", alive)]
            if dropped:
                for ip in dropped:
                    del data["allocated"][ip]
                write_json(path, data)
        return dropped

    @staticmethod
    def _pick(
        net: ipaddress.IPv4Network,
        gw: ipaddress.IPv4Address,
        allocated: dict[str, str],
        owner: str,
        last: str,
    ) -> ipaddress.IPv4Address | None:
        skip = reserved(net, gw) | {int(ipaddress.IPv4Address(ip)) for ip in allocated}
        after = ipaddress.IPv4Address(last) if last else None
        return next_free(net, skip, after)

    def release(self, network_id: str, owner: str) -> list[str]:
        """Free every address ``owner`` holds on the network; returns them."""
        path = self._path(network_id)
        if not path.exists():
            return []
        with self.lock(network_id):
            data = self._load(network_id)
            freed = [ip for ip, o in data["allocated"].items() if o == owner]
            if freed:
                for ip in freed:
                    del data["allocated"][ip]
                write_json(path, data)
        return freed

    def networks(self) -> list[str]:
        """Ids of the networks that have an allocation file."""
        return record_ids(self.np.ipam)

    def release_everywhere(self, owner: str) -> None:
        """Free ``owner``'s addresses on every network (when its endpoint record is lost)."""
        for nid in self.networks():
            if owner in self._load(nid)["allocated"].values():
                self.release(nid, owner)

    def drop(self, network_id: str) -> None:
        """Forget a removed network's allocations."""
        with self.lock(network_id):
            try:
                os.unlink(self._path(network_id))
            except FileNotFoundError:
                pass
