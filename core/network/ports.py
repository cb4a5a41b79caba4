"""Published ports: ``-p [ip:][host:]container[/proto]``, ``-P`` (every EXPOSEd port to a free host port).

Traffic is forwarded by the kernel (nft DNAT, see core.network.nat), not copied by a proxy. What a proxy
would give for free, this module does by hand:

* the host port is checked at start (a trial bind): a port in use is a clear error before anything is
  made, and ``-p 80`` gets a free port from the kernel here;
* the port is then *held* by the container's shim for the container's whole life (a bound socket, TCP ones
  listening), so no other program, and no other container, can take it meanwhile; the kernel closes the
  sockets when the shim exits, ``kill -9`` included. DNAT runs before any socket lookup, so the held
  sockets never see a packet.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
from typing import TYPE_CHECKING, Any

from core.errors import Conflict, InvalidArgument

if TYPE_CHECKING:
    from collections.abc import Callable

    from core.models import HostConfig

PROTOCOLS = ("tcp", "udp")


def _host_ip(text: str) -> str:
    if text in ("", "0.0.0.0"):
        return ""
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        raise InvalidArgument(f"invalid host address {text!r} in a published port") from None
    if addr.version != 4:
        raise InvalidArgument(f"cannot publish on {text}: only IPv4 host addresses are supported")
    return str(addr)


def requested(host: HostConfig, exposed: list[str]) -> list[dict[str, Any]]:
    """The ports to publish for a container's host config, checked; ``host_port`` 0 means "any free port"."""
    out: list[dict[str, Any]] = []
    seen: set[tuple[int, str, str, int]] = set()
    wanted: list[dict[str, Any]] = []
    for spec, bindings in host.port_bindings.items():
        number, _, kind = spec.partition("/")
        for b in bindings:
            wanted.append(
                {
                    "container_port": int(number),
                    "protocol": kind or "tcp",
                    "host_ip": b.host_ip,
                    "host_port": int(b.host_port or 0),
                }
            )
    if host.publish_all_ports:
        explicit = {(int(p["container_port"]), p.get("protocol", "tcp")) for p in wanted}
        for item in exposed:
            port_text, _, proto = item.partition("/")
            proto = proto or "tcp"
            try:
                port = int(port_text)
            except ValueError:
                continue
            if (port, proto) not in explicit:
                wanted.append({"container_port": port, "protocol": proto, "host_ip": "", "host_port": 0})
    for p in wanted:
        proto = str(p.get("protocol") or "tcp")
        if proto not in PROTOCOLS:
            raise InvalidArgument(
                f"cannot publish {p['container_port']}/{proto}: only tcp and udp are supported"
            )
        cport, hport = int(p["container_port"]), int(p.get("host_port") or 0)
        if not (0 < cport < 65536 and 0 <= hport < 65536):
            raise InvalidArgument(f"invalid published port {hport}:{cport}/{proto}")
        host_ip = _host_ip(str(p.get("host_ip") or ""))
        entry: dict[str, Any] = {
            "container_port": cport,
            "protocol": proto,
            "host_ip": host_ip,
            "host_port": hport,
        }
        key = (cport, proto, host_ip, hport)
        if key in seen and hport:
            continue
        seen.add(key)
        out.append(entry)
    return out


def _bind(
    host_ip: str, port: int, proto: str, in_use: Callable[[str, int, str], str] | None = None
) -> socket.socket:
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    s = socket.socket(socket.AF_INET, kind | socket.SOCK_CLOEXEC)
    try:
        if proto == "tcp":
            # a server's leftover TIME_WAIT must not block us; a listener (theirs or ours) still does
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host_ip or "0.0.0.0", port))
        if proto == "tcp":
            s.listen(1)
    except OSError as err:
        s.close()
        where = f"{host_ip or '0.0.0.0'}:{port}/{proto}" if port else f"{host_ip}/{proto}"
        if err.errno == errno.EADDRINUSE:
            if in_use is not None:
                raise Conflict(in_use(host_ip or "0.0.0.0", port, proto)) from None
            raise Conflict(f"cannot publish {where}: the host port is already in use") from None
        if err.errno == errno.EADDRNOTAVAIL:
            raise InvalidArgument(
                f"cannot publish {where}: {host_ip} is not an address of this host"
            ) from None
        raise Conflict(f"cannot publish {where}: {err.strerror}") from None
    return s


def check_and_pick(
    ports: list[dict[str, Any]], in_use: Callable[[str, int, str], str] | None = None
) -> list[dict[str, Any]]:
    """Trial-bind every port (all at once, so two ``-p 80``-style requests get two ports); raises
    Conflict for a port in use (``in_use(host_ip, port, proto)`` words it). Returns the ports with free
    ones picked."""
    out: list[dict[str, Any]] = []
    socks: list[socket.socket] = []
    try:
        for p in ports:
            s = _bind(p["host_ip"], int(p["host_port"]), p["protocol"], in_use)
            socks.append(s)
            out.append({**p, "host_port": s.getsockname()[1]})
    finally:
        for s in socks:
            s.close()
    return out


_HELD: list[socket.socket] = []


def hold_for_process(ports: list[dict[str, Any]]) -> None:
    """Bind the container's host ports and keep them bound until this process (the shim) exits.
    A second call (a restart inside the same shim) keeps the first call's sockets."""
    if _HELD:
        return
    socks: list[socket.socket] = []
    try:
        for p in ports:
            socks.append(_bind(str(p.get("host_ip") or ""), int(p["host_port"]), str(p["protocol"])))
    except BaseException:
        for s in socks:
            s.close()
        raise
    _HELD.extend(socks)


def state_entries(ports: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What ``ps``, ``port`` and ``inspect`` show: docker's 0.0.0.0 for "every address"."""
    return [
        {
            "container_port": int(p["container_port"]),
            "protocol": p["protocol"],
            "host_ip": p["host_ip"] or "0.0.0.0",
            "host_port": int(p["host_port"]),
        }
        for p in ports
    ]


def release_held() -> None:
    """Close the sockets :func:`hold_for_process` keeps (the shim, once its container is done for good)."""
    while _HELD:
        _HELD.pop().close()
