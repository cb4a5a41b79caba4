"""Network records: ``<root>/networks/<id>.json`` for user networks, and the default network (docker's
"bridge"), which is synthesised from the config (``bridge``, ``bip``) so that a changed setting takes effect
without a stale record to migrate.

Names are unique among networks; ``host`` and ``none`` are the two pseudo networks every engine has.
Subnets never overlap one another; ``network create`` without ``--subnet`` takes the first free subnet of
the configured address pools that overlaps neither a network of ours nor a route of the host.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import re
from typing import Any

from core.config import Config, Paths
from core.errors import Conflict, InvalidArgument, NetworkNotFound
from core.network.layout import NetPaths
from core.record import asdict, field, known_fields, record
from core.state.ids import NAME, new_id
from core.state.locks import FileLock
from core.state.records import read_json, record_ids, write_json
from core.timestamps import now_rfc3339

DEFAULT_NAME = "bridge"
PSEUDO = ("host", "none")
# what `--network` accepts for the default network: docker's name, and HostConfig.network_mode's default
DEFAULT_ALIASES = ("bridge", "default")
_IFNAME = re.compile(r"^[A-Za-z0-9_.-]{1,15}$")


@record
class Network:
    id: str
    name: str
    bridge: str  # the bridge interface
    subnet: str  # "10.199.1.0/24"
    gateway: str  # the bridge's address
    driver: str = "bridge"
    internal: bool = False  # no NAT, no route out of the bridge
    created: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)
    dns: bool = True  # containers resolve each other's names (docker: user-defined networks only)
    mtu: int = 1500
    default: bool = False  # the pre-defined "bridge" network

    @property
    def prefixlen(self) -> int:
        return ipaddress.IPv4Network(self.subnet).prefixlen

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Network:
        return cls(**known_fields(cls, data))


def parse_subnet(text: str) -> ipaddress.IPv4Network:
    try:
        net = ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        raise InvalidArgument(f"invalid subnet {text!r}: expected an IPv4 CIDR like 10.20.0.0/24") from None
    if not isinstance(net, ipaddress.IPv4Network):
        raise InvalidArgument(f"subnet {text}: IPv6 networks are not supported")
    if net.prefixlen > 29:
        raise InvalidArgument(f"subnet {net} is too small: use a prefix of /29 or shorter")
    return net


def check_gateway(subnet: ipaddress.IPv4Network, text: str | None) -> ipaddress.IPv4Address:
    """The gateway: the one given, which must be a host address of ``subnet``, else the first host."""
    if not text:
        return subnet.network_address + 1
    try:
        gw = ipaddress.IPv4Address(text.strip())
    except ValueError:
        raise InvalidArgument(f"invalid gateway {text!r}: expected an IPv4 address") from None
    if gw not in subnet or gw in (subnet.network_address, subnet.broadcast_address):
        raise InvalidArgument(f"gateway {gw} is not a host address of subnet {subnet}")
    return gw


def check_bridge_name(name: str) -> str:
    if not _IFNAME.match(name):
        raise InvalidArgument(f"invalid bridge name {name!r}: at most 15 of [A-Za-z0-9_.-]")
    return name


def host_routes() -> list[ipaddress.IPv4Network]:
    """The host's IPv4 routes (main table, from /proc: no netlink library on this path), default excepted."""
    out: list[ipaddress.IPv4Network] = []
    try:
        with open("/proc/net/route") as f:
            lines = f.read().splitlines()[1:]
    except OSError:
        return out
    for line in lines:
        parts = line.split()
        if len(parts) < 8:
            continue
        dest = int(parts[1], 16).to_bytes(4, "little")
        mask = int(parts[7], 16).to_bytes(4, "little")
        if mask == b"\0\0\0\0":
            continue
        prefix = bin(int.from_bytes(mask, "big")).count("1")
        out.append(ipaddress.IPv4Network((ipaddress.IPv4Address(dest), prefix), strict=False))
    return out


def pick_subnet(
    pools: list[dict[str, Any]],
    taken: list[ipaddress.IPv4Network],
) -> ipaddress.IPv4Network | None:
    """The first subnet of the pools (``{"base": CIDR, "size": prefix}``) that overlaps nothing taken."""
    for pool in pools:
        base = parse_subnet(str(pool["base"]))
        size = int(pool.get("size", 24))
        if size < base.prefixlen or size > 29:
            raise InvalidArgument(f"address pool {base}: size /{size} does not fit")
        for candidate in base.subnets(new_prefix=size):
            if not any(candidate.overlaps(t) for t in taken):
                return candidate
    return None


class NetworkStore:
    def __init__(self, paths: Paths, config: Config) -> None:
        self.paths = paths
        self.config = config
        self.np = NetPaths(paths)

    def lock(self) -> FileLock:
        return FileLock(self.paths.locks, "networks")

    # ------------------------------------------------------------------ reading

    def default(self) -> Network:
        bridge = check_bridge_name(self.config.bridge)
        try:
            iface = ipaddress.IPv4Interface(self.config.bip)
        except ValueError:
            raise InvalidArgument(
                f"invalid bip {self.config.bip!r}: expected the bridge address with its prefix, like "
                "10.199.0.1/24"
            ) from None
        subnet = parse_subnet(str(iface.network))
        gateway = check_gateway(subnet, str(iface.ip))
        seed = f"dockyard default bridge\0{bridge}\0{subnet}\0{gateway}".encode()
        return Network(
            id=hashlib.sha256(seed).hexdigest(),
            name=DEFAULT_NAME,
            bridge=bridge,
            subnet=str(subnet),
            gateway=str(gateway),
            dns=False,
            mtu=self.config.mtu,
            default=True,
        )

    def records(self) -> list[Network]:
        out = []
        for network_id in record_ids(self.np.records):
            try:
                out.append(Network.from_json(read_json(self.np.record(network_id))))
            except FileNotFoundError:
                continue  # removed while we listed
        return out

    def all(self) -> list[Network]:
        return [self.default(), *self.records()]

    def resolve(self, name_or_id: str) -> Network:
        key = name_or_id.strip()
        if not key:
            raise InvalidArgument("empty network name or id")
        if key in DEFAULT_ALIASES:
            return self.default()
        nets = self.all()
        for n in nets:
            if n.name == key or n.id == key:
                return n
        if all(c in "0123456789abcdef" for c in key):
            matches = [n for n in nets if n.id.startswith(key)]
            if len(matches) == 1:
                return matches[0]
            if len(matches) > 1:
                raise Conflict(f"network id prefix {key!r} matches several networks: use more characters")
        raise NetworkNotFound(f"network {name_or_id} not found")

    # ------------------------------------------------------------------ writing

    def create(
        self,
        name: str,
        *,
        subnet: str | None = None,
        gateway: str | None = None,
        internal: bool = False,
        labels: dict[str, str] | None = None,
        options: dict[str, str] | None = None,
    ) -> Network:
        if not NAME.match(name) or len(name) > 128:
            raise InvalidArgument(
                f"invalid network name {name!r}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
            )
        if name in (*PSEUDO, *DEFAULT_ALIASES):
            raise Conflict(f"network name {name} is reserved for a pre-defined network")
        if gateway and not subnet:
            raise InvalidArgument("--gateway needs --subnet")
        for key in options or {}:
            if key not in ("com.docker.network.driver.mtu", "mtu"):
                raise InvalidArgument(f"unsupported network option {key!r} (only mtu)")
        opts = dict(options or {})
        mtu_text = opts.get("com.docker.network.driver.mtu") or opts.get("mtu")
        mtu = self.config.mtu
        if mtu_text:
            try:
                mtu = int(mtu_text)
            except ValueError:
                raise InvalidArgument(f"invalid mtu {mtu_text!r}") from None
            if not 68 <= mtu <= 65535:
                raise InvalidArgument(f"invalid mtu {mtu}: must be between 68 and 65535")
        with self.lock():
            existing = self.all()
            for n in existing:
                if n.name == name:
                    raise Conflict(f"network with name {name} already exists")
            taken = [ipaddress.IPv4Network(n.subnet) for n in existing]
            if subnet:
                net = parse_subnet(subnet)
                for n in existing:
                    if net.overlaps(ipaddress.IPv4Network(n.subnet)):
                        raise Conflict(
                            f"invalid pool request: subnet {net} overlaps with network {n.name} ({n.subnet})"
                        )
            else:
                # routes through our own bridges are our own networks again: overlapping them is no harm
                picked = pick_subnet(self.config.address_pools, [*taken, *host_routes()])
                if picked is None:
                    raise Conflict(
                        "could not find an available, non-overlapping IPv4 address pool among the "
                        "defaults to assign to the network: remove unused networks or configure "
                        "default-address-pools"
                    )
                net = picked
            gw = check_gateway(net, gateway)
            nid = new_id()
            record = Network(
                id=nid,
                name=name,
                bridge=f"dy-{nid[:12]}",
                subnet=str(net),
                gateway=str(gw),
                internal=internal,
                created=now_rfc3339(),
                labels=dict(labels or {}),
                options=opts,
                dns=True,
                mtu=mtu,
            )
            write_json(self.np.record(nid), record.to_json())
        return record

    def delete_record(self, net: Network) -> None:
        if net.default:
            return
        try:
            os.unlink(self.np.record(net.id))
        except FileNotFoundError:
            pass
