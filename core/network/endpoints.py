"""What a running container is attached to: ``<run>/network/endpoints/<cid>.json``.

Written by the starter before anything is made (so a crash half-way leaves a record that names what to
undo), read by the link set-up, by the nft rule builder (published ports), by the hosts-file writer (who
is on which network under which names) and by the tear-down, which deletes it last.

An owner is alive while its shim runs (the shim holds ``locks/shim-<id>.lock`` for its whole life) or while
someone holds its container lock (a start in progress). A record whose owner is neither is stale: the
starter that wrote it, or the shim that ran it, died before tearing it down.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
from typing import Any

from core.network.layout import NetPaths
from core.record import asdict, field, known_fields, record
from core.state.locks import held
from core.state.records import read_json, record_ids, write_json


@record
class Endpoint:
    network_id: str
    network: str  # the network's name when attached
    bridge: str
    subnet: str
    gateway: str
    ip: str
    mac: str
    veth: str  # the host end, on the bridge
    ifname: str  # inside the container: eth0, eth1, ...
    endpoint_id: str
    aliases: list[str] = field(default_factory=list)
    dns: bool = True
    internal: bool = False
    mtu: int = 1500
    fixed_ip: str = ""  # the --ip asked for, if any

    @property
    def prefixlen(self) -> int:
        return ipaddress.IPv4Network(self.subnet).prefixlen

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Endpoint:
        return cls(**known_fields(cls, data))


@record
class Attachment:
    cid: str
    name: str
    hostname: str
    netns: str
    endpoints: list[Endpoint] = field(default_factory=list)
    # published: container_port, protocol, host_ip ("" = every address), host_port, and the target ip
    ports: list[dict[str, Any]] = field(default_factory=list)
    extra_hosts: list[str] = field(default_factory=list)  # "name:ip"
    hosts_path: str = ""
    nft_table: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Attachment:
        known = known_fields(cls, data)
        known.pop("endpoints", None)
        return cls(endpoints=[Endpoint.from_json(e) for e in data.get("endpoints", [])], **known)

    def endpoint(self, network_id: str) -> Endpoint | None:
        for ep in self.endpoints:
            if ep.network_id == network_id:
                return ep
        return None


def veth_name(cid: str, network_id: str) -> str:
    """The host end's name: stable for a (container, network) pair, 13 characters (IFNAMSIZ is 16)."""
    return "vy" + hashlib.sha256(f"{cid}\0{network_id}".encode()).hexdigest()[:11]


def mac_for(ip: str) -> str:
    """docker's scheme, 02:42 and the IPv4 address: an address reused later comes back with the same MAC,
    so a peer's stale ARP entry is still right."""
    b = ipaddress.IPv4Address(ip).packed
    return "02:42:" + ":".join(f"{x:02x}" for x in b)


def load(np: NetPaths, cid: str) -> Attachment | None:
    try:
        return Attachment.from_json(read_json(np.endpoint(cid)))
    except FileNotFoundError:
        return None


def save(np: NetPaths, att: Attachment) -> None:
    write_json(np.endpoint(att.cid), att.to_json())


def delete(np: NetPaths, cid: str) -> None:
    try:
        os.unlink(np.endpoint(cid))
    except FileNotFoundError:
        pass


def all_attachments(np: NetPaths) -> list[Attachment]:
    out = []
    for cid in record_ids(np.endpoints):
        att = load(np, cid)
        if att is not None:
            out.append(att)
    return out


def owner_alive(np: NetPaths, cid: str) -> bool:
    """Is a shim running this container, or is a start of it in progress?"""
    return held(np.locks, f"shim-{cid}") or held(np.locks, f"container-{cid}")


def shim_alive(np: NetPaths, cid: str) -> bool:
    return held(np.locks, f"shim-{cid}")
