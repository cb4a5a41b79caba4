"""The one netlink request the tear-down path needs, spoken directly: delete a link by name.

Tear-down runs in the shim and in whatever command finds a dead shim (``ps`` included), where importing
pyroute2 (~100 ms) is not acceptable. Deleting the host end of a veth takes its peer in the container's
namespace with it, at once, without waiting for the kernel to destroy the namespace.
"""

from __future__ import annotations

import errno
import os
import socket
import struct

_RTM_DELLINK = 17
_NLM_F_REQUEST = 0x1
_NLM_F_ACK = 0x4
_NLMSG_ERROR = 0x2
_IFLA_IFNAME = 3


def _attr(kind: int, payload: bytes) -> bytes:
    raw = struct.pack("HH", 4 + len(payload), kind) + payload
    return raw + b"\0" * (-len(raw) % 4)


def delete_link(ifname: str) -> bool:
    """Delete the link ``ifname`` in this thread's namespace; False if there was none."""
    body = struct.pack("BxHiII", socket.AF_UNSPEC, 0, 0, 0, 0) + _attr(_IFLA_IFNAME, ifname.encode() + b"\0")
    seq = 1
    msg = struct.pack("IHHII", 16 + len(body), _RTM_DELLINK, _NLM_F_REQUEST | _NLM_F_ACK, seq, 0) + body
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, socket.NETLINK_ROUTE) as s:
        s.settimeout(5)
        s.sendto(msg, (0, 0))
        while True:
            data = s.recv(65536)
            off = 0
            while off + 16 <= len(data):
                length, kind, _flags, rseq, _pid = struct.unpack_from("IHHII", data, off)
                if kind == _NLMSG_ERROR and rseq == seq:
                    (code,) = struct.unpack_from("i", data, off + 16)
                    if code == 0:
                        return True
                    if -code == errno.ENODEV:
                        return False
                    raise OSError(-code, f"cannot delete link {ifname}: {os.strerror(-code)}")
                off += max(16, (length + 3) & ~3)
