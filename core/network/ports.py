"""Published ports: ``-p [ip:][host:]container[/proto]``, ``-P`` (every EXPOSEd port to a free host port).

Traffic is forwarded by the kernel (nft DNAT, see core.network.nat), not copied by a proxy. What a proxy
would give for free, this module does by hand:

* the host port is checked at start (a trial bind): a port in use is a clear error before anything is
  made, and ``-p 80`` gets a free port from the kernel here;
* the port is then *held* by the container's shim for the container's whole life (a bound socket, TCP ones
  listening), so no other program, and no other container, can take it meanwhile; the kernel closes the
  sockets when the shim exits, ``kill -9`` included. DNAT runs before any socket lookup, so the held
  sockets never see a packet.

IPv6: DNAT is IPv4 only; for a port published on every address, when the host has IPv6, docker's
docker-proxy also listens on ``[::]:HOSTPORT``. Here too: the starter trial-binds ``[::]`` beside
``0.0.0.0`` (a port in use is the start's error, in docker's words) and marks the port ``"ipv6": True``;
the shim binds the ``[::]`` sockets (IPV6_V6ONLY) and hands them to a userland proxy process
(core.network.userproxy) that relays to the container's IPv4 address; ``ps``, ``port`` and ``inspect`` show
both bindings, as docker's.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import json
import os
import signal
import socket
import sys
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


_IPV6: list[bool] = []


def ipv6_available() -> bool:
    """Whether the host has IPv6 (``/proc/net/if_inet6``) and ``::1`` is usable (cached)."""
    if not _IPV6:
        ok = os.path.exists("/proc/net/if_inet6")
        if ok:
            try:
                with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as s:
                    s.bind(("::1", 0))
            except OSError:
                ok = False
        _IPV6.append(ok)
    return _IPV6[0]


def _bind(
    host_ip: str,
    port: int,
    proto: str,
    in_use: Callable[[str, int, str], str] | None = None,
    backlog: int = 1,
) -> socket.socket:
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    family = socket.AF_INET6 if ":" in host_ip else socket.AF_INET
    s = socket.socket(family, kind | socket.SOCK_CLOEXEC)
    try:
        if family == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)  # 0.0.0.0 stays the kernel's (DNAT)
        if proto == "tcp":
            # a server's leftover TIME_WAIT must not block us; a listener (theirs or ours) still does
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host_ip or "0.0.0.0", port))
        if proto == "tcp":
            s.listen(backlog)
    except OSError as err:
        s.close()
        shown = f"[{host_ip}]" if ":" in host_ip else host_ip or "0.0.0.0"
        where = f"{shown}:{port}/{proto}" if port else f"{host_ip}/{proto}"
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
    v6 = any(not p["host_ip"] for p in ports) and ipv6_available()
    try:
        for p in ports:
            for attempt in range(20):
                s = _bind(p["host_ip"], int(p["host_port"]), p["protocol"], in_use)
                socks.append(s)
                port = s.getsockname()[1]
                if not (v6 and not p["host_ip"]):
                    out.append({**p, "host_port": port})
                    break
                # every address: [::] too (docker-proxy's), on the same port
                try:
                    socks.append(_bind("::", port, p["protocol"], in_use))
                except Conflict:
                    if int(p["host_port"]) or attempt == 19:
                        raise
                    continue  # a free port picked on 0.0.0.0 that [::] has in use: pick another
                out.append({**p, "host_port": port, "ipv6": True})
                break
    finally:
        for s in socks:
            s.close()
    return out


_HELD: list[socket.socket] = []


def hold_for_process(ports: list[dict[str, Any]]) -> None:
    """Bind the container's host ports and keep them bound until this process (the shim) exits.
    A second call (a restart inside the same shim) keeps the first call's sockets, and the userland proxy
    (which lives as long: the container's address does not change meanwhile)."""
    if _HELD:
        return
    socks: list[socket.socket] = []
    try:
        for p in ports:
            socks.append(_bind(str(p.get("host_ip") or ""), int(p["host_port"]), str(p["protocol"])))
        v6 = [p for p in ports if p.get("ipv6") and p.get("ip")]
        if v6:
            _start_proxy(v6)  # a [::] port in use raises here: nothing is held then
    except BaseException:
        for s in socks:
            s.close()
        raise
    _HELD.extend(socks)


_PROXY: list[int] = []  # [pid, lifeline write end] of this shim's userland proxy


def _start_proxy(ports: list[dict[str, Any]]) -> None:
    """Bind ``[::]`` for the ports (a port in use raises Conflict) and start the userland proxy with the
    sockets; not waited for (core.network.userproxy). The proxy owns the sockets from then on."""
    socks: list[socket.socket] = []
    try:
        for p in ports:
            socks.append(_bind("::", int(p["host_port"]), str(p["protocol"]), backlog=511))
    except BaseException:
        for s in socks:
            s.close()
        raise
    life_r, life_w = os.pipe()  # both close-on-exec: only the proxy gets the read end (dup2 below)
    first = 3
    actions: list[Any] = [(os.POSIX_SPAWN_DUP2, life_r, first)]
    specs: list[list[Any]] = []
    for i, (p, s) in enumerate(zip(ports, socks, strict=True)):
        actions.append((os.POSIX_SPAWN_DUP2, s.fileno(), first + 1 + i))
        specs.append([first + 1 + i, p["protocol"], p["ip"], int(p["container_port"])])
    # the targets must be numbers above every source, so that no dup2 clobbers a later source
    top = max([life_r, first + len(specs), *(s.fileno() for s in socks)]) + 1
    actions = [(os.POSIX_SPAWN_DUP2, src, top + i) for i, (_, src, _) in enumerate(actions)]
    actions += [(os.POSIX_SPAWN_DUP2, top + i, first + i) for i in range(len(specs) + 1)]
    actions += [(os.POSIX_SPAWN_CLOSE, top + i) for i in range(len(specs) + 1)]
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": root}
    argv = [sys.executable, "-S", "-m", "core.network.userproxy", str(first), json.dumps(specs)]
    try:
        pid = os.posix_spawn(sys.executable, argv, env, file_actions=actions)
    except OSError as err:
        os.close(life_w)
        raise Conflict(f"cannot start the userland proxy for [::]: {err}") from None
    finally:
        os.close(life_r)
        for s in socks:
            s.close()
    # off the start's critical path: its interpreter's start yields the CPU to the container's (it resets
    # its priority once it serves; until then the kernel queues the connections on the listening sockets)
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, pid, 19)
    _PROXY[:] = [pid, life_w]


def proxy_reaped(pid: int) -> bool:
    """The shim reaped ``pid``: True if it was the proxy (not to be killed by PID any more)."""
    if _PROXY and _PROXY[0] == pid:
        _PROXY[0] = 0
        return True
    return False


def stop_proxy() -> None:
    """End this shim's userland proxy, by PID (it is our child: the PID cannot be reused until reaped)."""
    if not _PROXY:
        return
    pid, life_w = _PROXY
    _PROXY.clear()
    os.close(life_w)
    if pid:
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass


def state_entries(ports: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What ``ps``, ``port`` and ``inspect`` show: docker's 0.0.0.0 for "every address"."""
    out: list[dict[str, Any]] = []
    for p in ports:
        entry = {
            "container_port": int(p["container_port"]),
            "protocol": p["protocol"],
            "host_ip": p["host_ip"] or "0.0.0.0",
            "host_port": int(p["host_port"]),
        }
        out.append(entry)
        if p.get("ipv6"):
            out.append({**entry, "host_ip": "::"})  # the userland proxy's, as docker's
    return out


def release_held() -> None:
    """Close the sockets :func:`hold_for_process` keeps (the shim, once its container is done for good)."""
    stop_proxy()
    while _HELD:
        _HELD.pop().close()
