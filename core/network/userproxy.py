"""The IPv6 side of published ports: a userland proxy, like docker's ``docker-proxy``.

Published ports are forwarded by nft DNAT on IPv4 only (core.network.nat). For a port published on every
address, docker also runs docker-proxy on ``[::]:HOSTPORT``, so ``curl -6 http://[::1]:8080/`` reaches the
container; this module is that proxy. The shim binds the ``[::]`` sockets itself (IPV6_V6ONLY, so the
IPv4 port stays the kernel's), which makes a port in use an error of the start, and then starts one
process of this module per container with the sockets and a *lifeline*: the read end of a pipe whose only
write end the shim holds. The proxy:

* TCP: accepts, connects to the container's IPv4 address and port, relays both ways with half-close (a
  client's shutdown(SHUT_WR) reaches the container as end of file and replies still come back) and
  backpressure (a side is read only as fast as the other side takes it), any number of connections;
* UDP: one flow per client address (a connected socket to the container, whose replies go back to that
  client), dropped after 90 s without traffic (docker-proxy's UDPConnTrackTimeout);
* ends when the lifeline reaches end of file: the shim exited, however (``kill -9`` included), or closed
  it; the shim also kills it by PID when the container is done (core.network.ports.stop_proxy).

It runs apart from the shim so that a proxy problem can never take the container's supervisor down, and
it is never waited for: a start only waits for the binds (done in the shim, before the proxy starts).

Usage (the shim's, see core.network.ports): ``python -m core.network.userproxy LIFELINE_FD SPECS_JSON``
where SPECS_JSON is a list of ``[fd, "tcp"|"udp", container_ip, container_port]``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import sys
from typing import Any, cast

UDP_IDLE = 90.0  # docker-proxy's UDPConnTrackTimeout
UDP_MAX = 65507  # the largest UDP payload over IPv4
CHUNK = 65536


async def _pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter, other: asyncio.StreamWriter) -> None:
    """Copy until end of file, then pass the end of file on (half-close); on an error abort both sides."""
    try:
        while True:
            data = await src.read(CHUNK)
            if not data:
                break
            dst.write(data)
            await dst.drain()  # backpressure: read no more while the other side does not take it
        if not dst.is_closing() and dst.can_write_eof():
            dst.write_eof()
    except (OSError, RuntimeError):
        dst.transport.abort()
        other.transport.abort()


async def _tcp_client(
    target: tuple[str, int], reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    try:
        up_reader, up_writer = await asyncio.open_connection(*target, limit=CHUNK)
    except OSError:
        writer.transport.abort()  # as docker-proxy: the client's connection is reset
        return
    try:
        await asyncio.gather(
            _pipe(reader, up_writer, writer),
            _pipe(up_reader, writer, up_writer),
        )
    finally:
        for w in (writer, up_writer):
            w.close()


class _UdpFlow:
    """One client's flow: a connected socket to the container; its replies go back to the client."""

    def __init__(self, listener: _UdpListener, client: Any) -> None:
        self.listener = listener
        self.client = client
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        self.sock.setblocking(False)
        self.sock.connect(listener.target)
        self.last = listener.loop.time()
        listener.loop.add_reader(self.sock.fileno(), self.replies)

    def send(self, data: bytes) -> None:
        self.last = self.listener.loop.time()
        try:
            self.sock.send(data)
        except OSError:
            pass  # nobody listening in the container (an ICMP error): datagrams are dropped, as docker's

    def replies(self) -> None:
        transport = self.listener.transport
        while True:
            try:
                data = self.sock.recv(UDP_MAX)
            except BlockingIOError:
                return
            except OSError:
                continue  # an ICMP error reported on the socket: nothing to relay
            self.last = self.listener.loop.time()
            if transport is not None and not transport.is_closing():
                transport.sendto(data, self.client)

    def close(self) -> None:
        self.listener.loop.remove_reader(self.sock.fileno())
        self.sock.close()


class _UdpListener(asyncio.DatagramProtocol):
    def __init__(self, loop: asyncio.AbstractEventLoop, target: tuple[str, int]) -> None:
        self.loop = loop
        self.target = target
        self.transport: asyncio.DatagramTransport | None = None
        self.flows: dict[Any, _UdpFlow] = {}
        self.told = False
        self.sweeper = loop.call_later(UDP_IDLE / 6, self.sweep)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: Any) -> None:
        flow = self.flows.get(addr)
        if flow is None:
            try:
                flow = self.flows[addr] = _UdpFlow(self, addr)
            except OSError as err:  # out of fds, most likely: the datagram is dropped (said once)
                if not self.told:
                    self.told = True
                    sys.stderr.write(f"userproxy: udp flow to {self.target}: {err}\n")
                return
        flow.send(data)

    def error_received(self, exc: Exception) -> None:
        pass  # an ICMP error for a reply to a client that went away

    def sweep(self) -> None:
        now = self.loop.time()
        for addr, flow in list(self.flows.items()):
            if now - flow.last >= UDP_IDLE:
                del self.flows[addr]
                flow.close()
        self.sweeper = self.loop.call_later(UDP_IDLE / 6, self.sweep)


def _tcp_handler(target: tuple[str, int]) -> Any:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _tcp_client(target, reader, writer)

    return handle


def _udp_factory(loop: asyncio.AbstractEventLoop, target: tuple[str, int]) -> Any:
    def make() -> _UdpListener:
        return _UdpListener(loop, target)

    return make


async def serve(lifeline: int, specs: list[list[Any]]) -> None:
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()

    def lifeline_ended() -> None:
        if not done.done():
            done.set_result(None)

    loop.add_reader(lifeline, lifeline_ended)
    servers: list[Any] = []
    for fd, proto, ip, port in specs:
        sock = socket.socket(fileno=int(fd))
        target = (str(ip), int(port))
        if proto == "tcp":
            handler = _tcp_handler(target)
            servers.append(await asyncio.start_server(handler, sock=sock, limit=CHUNK, backlog=511))
        else:
            transport, _ = await loop.create_datagram_endpoint(_udp_factory(loop, target), sock=sock)
            servers.append(transport)
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, 0, 0)  # serving: the shim started us at the lowest priority
    await done


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        sys.stderr.write("usage: python -m core.network.userproxy LIFELINE_FD SPECS_JSON\n")
        return 2
    import resource

    with contextlib.suppress(OSError, ValueError):  # one fd per TCP side and per UDP flow, as Go raises it
        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    try:
        asyncio.run(serve(int(argv[0]), json.loads(argv[1])))
    except KeyboardInterrupt:
        pass
    sys.stderr.flush()
    os._exit(0)  # the lifeline ended: whatever connections are left go with us, as docker-proxy's


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
