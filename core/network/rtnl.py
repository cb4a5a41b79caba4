"""The few rtnetlink requests a container start and stop need, encoded by hand.

A start needs five requests (a veth pair whose peer is made inside the container's namespace, an address,
two links up, a default route) and a stop one (delete the host end, which takes its peer along). pyroute2
costs ~100 ms to import (its messages alone ~20 ms), far more than these requests take (~2 ms), and a start
pays it on every ``run``. So these are spoken directly: fixed-layout structs from linux/rtnetlink.h and
linux/if_link.h, one request at a time on a blocking socket, each acknowledged. Bridges, which are made
once a boot and whose state must be read back (address dumps), are pyroute2's job (core.network.bridge).

A socket belongs to the network namespace of the thread that made it: make one inside
``netns.entered(path)`` to act inside a container.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
import struct
from types import TracebackType

_NLMSG_ERROR = 0x2
_NLM_F_REQUEST = 0x1
_NLM_F_ACK = 0x4
_NLM_F_EXCL = 0x200
_NLM_F_CREATE = 0x400
_NLA_F_NESTED = 0x8000

_RTM_NEWLINK = 16
_RTM_DELLINK = 17
_RTM_NEWADDR = 20
_RTM_NEWROUTE = 24

_IFLA_ADDRESS = 1
_IFLA_IFNAME = 3
_IFLA_MTU = 4
_IFLA_MASTER = 10
_IFLA_LINKINFO = 18
_IFLA_NET_NS_FD = 28
_IFLA_INFO_KIND = 1
_IFLA_INFO_DATA = 2
_VETH_INFO_PEER = 1

_IFA_ADDRESS = 1
_IFA_LOCAL = 2

_RTA_GATEWAY = 5
_RT_TABLE_MAIN = 254
_RTPROT_BOOT = 3
_RT_SCOPE_UNIVERSE = 0
_RTN_UNICAST = 1

IFF_UP = 0x1


def _attr(kind: int, payload: bytes) -> bytes:
    raw = struct.pack("HH", 4 + len(payload), kind) + payload
    return raw + b"\0" * (-len(raw) % 4)


def _nest(kind: int, *attrs: bytes) -> bytes:
    return _attr(kind | _NLA_F_NESTED, b"".join(attrs))


def _str(value: str) -> bytes:
    return value.encode() + b"\0"


def _ifinfo(index: int = 0, flags: int = 0, change: int = 0) -> bytes:
    # struct ifinfomsg: family, pad, type, index, flags, change
    return struct.pack("BxHiII", socket.AF_UNSPEC, 0, index, flags, change)


def _mac(text: str) -> bytes:
    return bytes(int(part, 16) for part in text.split(":"))


class Rtnl:
    """An rtnetlink socket in the calling thread's current network namespace."""

    def __init__(self) -> None:
        self.sock = socket.socket(
            socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, socket.NETLINK_ROUTE
        )
        self.sock.settimeout(10)
        self.sock.bind((0, 0))
        self.seq = 0

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Rtnl:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def request(self, kind: int, flags: int, body: bytes, what: str) -> None:
        """Send one request and wait for its acknowledgement; a kernel error becomes OSError(errno)."""
        self.seq += 1
        seq = self.seq
        msg = struct.pack("IHHII", 16 + len(body), kind, _NLM_F_REQUEST | _NLM_F_ACK | flags, seq, 0) + body
        self.sock.sendto(msg, (0, 0))
        while True:
            data = self.sock.recv(65536)
            off = 0
            while off + 16 <= len(data):
                length, mtype, _flags, rseq, _pid = struct.unpack_from("IHHII", data, off)
                if mtype == _NLMSG_ERROR and rseq == seq:
                    (code,) = struct.unpack_from("i", data, off + 16)
                    if code == 0:
                        return
                    raise OSError(-code, f"{what}: {os.strerror(-code)}")
                off += max(16, (length + 3) & ~3)

    # ------------------------------------------------------------------ links

    def add_veth(self, name: str, peer: str, peer_ns_fd: int, mtu: int, peer_mac: str, master: int) -> None:
        """``name`` on bridge ``master`` and up, its peer made directly inside namespace ``peer_ns_fd`` as
        ``peer`` (so the peer's name never clashes with the host's interfaces)."""
        peer_msg = _ifinfo() + b"".join(
            (
                _attr(_IFLA_IFNAME, _str(peer)),
                _attr(_IFLA_NET_NS_FD, struct.pack("I", peer_ns_fd)),
                _attr(_IFLA_ADDRESS, _mac(peer_mac)),
                _attr(_IFLA_MTU, struct.pack("I", mtu)),
            )
        )
        body = _ifinfo(flags=IFF_UP, change=IFF_UP) + b"".join(
            (
                _attr(_IFLA_IFNAME, _str(name)),
                _attr(_IFLA_MTU, struct.pack("I", mtu)),
                _attr(_IFLA_MASTER, struct.pack("I", master)),
                _nest(
                    _IFLA_LINKINFO,
                    _attr(_IFLA_INFO_KIND, _str("veth")),
                    _nest(_IFLA_INFO_DATA, _attr(_VETH_INFO_PEER, peer_msg)),
                ),
            )
        )
        self.request(_RTM_NEWLINK, _NLM_F_CREATE | _NLM_F_EXCL, body, f"cannot create veth {name}")

    def set_up(self, name: str) -> None:
        index = socket.if_nametoindex(name)
        self.request(_RTM_NEWLINK, 0, _ifinfo(index, IFF_UP, IFF_UP), f"cannot bring {name} up")

    def delete_link(self, name: str) -> bool:
        """Delete the link ``name``; False if there was none."""
        body = _ifinfo() + _attr(_IFLA_IFNAME, _str(name))
        try:
            self.request(_RTM_DELLINK, 0, body, f"cannot delete link {name}")
        except OSError as err:
            if err.errno == errno.ENODEV:
                return False
            raise
        return True

    # ------------------------------------------------------------------ addresses and routes

    def add_address(self, name: str, address: str, prefixlen: int) -> None:
        index = socket.if_nametoindex(name)
        packed = ipaddress.IPv4Address(address).packed
        # struct ifaddrmsg: family, prefixlen, flags, scope, index
        body = struct.pack("BBBBI", socket.AF_INET, prefixlen, 0, 0, index)
        body += _attr(_IFA_LOCAL, packed) + _attr(_IFA_ADDRESS, packed)
        self.request(_RTM_NEWADDR, _NLM_F_CREATE | _NLM_F_EXCL, body, f"cannot add {address}/{prefixlen}")

    def add_default_route(self, gateway: str) -> None:
        # struct rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type, flags
        body = struct.pack(
            "BBBBBBBBI",
            socket.AF_INET,
            0,
            0,
            0,
            _RT_TABLE_MAIN,
            _RTPROT_BOOT,
            _RT_SCOPE_UNIVERSE,
            _RTN_UNICAST,
            0,
        )
        body += _attr(_RTA_GATEWAY, ipaddress.IPv4Address(gateway).packed)
        self.request(
            _RTM_NEWROUTE, _NLM_F_CREATE | _NLM_F_EXCL, body, f"cannot add the default route via {gateway}"
        )


def delete_link(ifname: str) -> bool:
    """Delete the link ``ifname`` in this thread's namespace; False if there was none."""
    with Rtnl() as r:
        return r.delete_link(ifname)
