"""Published ports over IPv6: the userland proxy (core.network.userproxy) on ``[::]:HOSTPORT``, as docker's
docker-proxy: TCP (half-close, many connections, a large transfer) and UDP to the container through ``::1``,
the ``[::]`` bindings in ``port``/``ps``/``inspect``, a ``[::]`` port in use as the start's error, and the
proxy process gone (and its sockets with it) after stop, restart, ``rm -f`` and ``kill -9`` of the shim.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from core.network.ports import ipv6_available
from tests.e2e.test_network import Net, free_port, http_get, net, udp_echo  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.skipif(not ipv6_available(), reason="needs IPv6 on the host (::1)")]


def get6(port: int, path: str = "/hostname", timeout: float = 10.0) -> bytes:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"http://[::1]:{port}{path}", timeout=5) as r:
                return bytes(r.read())
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def proxies(n: Net, name: str) -> list[int]:
    """PIDs of the userland proxies that are children of the container's shim (none once it stopped)."""
    cid = n.engine.container(name).id
    state = json.loads((n.config.paths.container(cid) / "state.json").read_text())
    return [pid for pid in _userproxy_pids() if _ppid(pid) == int(state.get("shim_pid") or -1)]


def _userproxy_pids() -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmd = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            if b"core.network.userproxy" in cmd:
                out.append(int(entry))
    return out


def _ppid(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError):
        return -1


def v6_port_free(port: int, kind: int = socket.SOCK_STREAM) -> bool:
    with socket.socket(socket.AF_INET6, kind) as s:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("::", port))
        except OSError:
            return False
    return True


def gone(pids: list[int], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while any(os.path.exists(f"/proc/{p}") for p in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def run_httpd(n: Net, name: str, port: int) -> None:
    script = "mkdir -p /www && cp -f /bin/busybox /www/big && hostname > /www/hostname && "
    script += "exec httpd -f -p 80 -h /www"
    n.cli("run", "-d", "--name", name, "--hostname", "over-six", "-p", f"{port}:80", "-p", "80",
          "busybox", "sh", "-c", script)  # fmt: skip


def test_tcp_over_ipv6_with_half_close_many_connections_and_bindings(net: Net) -> None:  # noqa: F811
    port = free_port()
    run_httpd(net, "six", port)
    assert get6(port).strip() == b"over-six"
    # a large file: the same bytes as over IPv4 (DNAT), through the proxy's backpressure
    big = get6(port, "/big")
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/big", timeout=10) as r:
        assert big == r.read() and len(big) > 500_000
    # half-close: the request's end of file reaches httpd, the answer still comes back
    with socket.create_connection(("::1", port), timeout=10) as s:
        s.sendall(b"GET /hostname HTTP/1.0\r\n\r\n")
        s.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := s.recv(4096):
            answer += chunk
    assert answer.startswith(b"HTTP/1.") and answer.rstrip().endswith(b"over-six")
    with ThreadPoolExecutor(32) as pool:
        results = list(pool.map(lambda _: get6(port), range(200)))
    assert all(r.strip() == b"over-six" for r in results)
    # the bindings, as docker's
    lines = net.cli("port", "six").stdout.splitlines()
    assert f"80/tcp -> 0.0.0.0:{port}" in lines and f"80/tcp -> [::]:{port}" in lines
    random_port = next(int(x.rsplit(":", 1)[1]) for x in lines if x.startswith("80/tcp -> [::]:") and
                       not x.endswith(f":{port}"))  # fmt: skip
    assert f"80/tcp -> 0.0.0.0:{random_port}" in lines and len(lines) == 4
    assert get6(random_port).strip() == b"over-six"
    ps = net.cli("ps", "--format", "{{.Ports}}").stdout
    assert f"0.0.0.0:{port}->80/tcp" in ps and f"[::]:{port}->80/tcp" in ps
    info = net.engine.inspect_container("six")["NetworkSettings"]["Ports"]["80/tcp"]
    assert {"HostIp": "::", "HostPort": str(port)} in info
    assert {"HostIp": "0.0.0.0", "HostPort": str(port)} in info
    pids = proxies(net, "six")
    assert len(pids) == 1
    # started at the lowest priority (off the start's critical path), normal once serving
    assert os.getpriority(os.PRIO_PROCESS, pids[0]) == 0
    # restart: a new shim, a new proxy; the old one is gone
    net.cli("restart", "-t", "1", "six")
    assert gone(pids)
    assert get6(port).strip() == b"over-six"
    pids = proxies(net, "six")
    assert len(pids) == 1
    net.cli("stop", "-t", "1", "six")
    assert gone(pids)
    assert v6_port_free(port) and v6_port_free(random_port)
    assert net.cli("port", "six").stdout == ""
    net.cli("start", "six")
    assert get6(port).strip() == b"over-six"
    pids = proxies(net, "six")
    net.cli("rm", "-f", "six")
    assert gone(pids) and v6_port_free(port)


def test_proxy_goes_with_a_killed_shim(net: Net) -> None:  # noqa: F811
    port = free_port()
    run_httpd(net, "kil", port)
    assert get6(port).strip() == b"over-six"
    pids = proxies(net, "kil")
    assert len(pids) == 1
    cid = net.engine.container("kil").id
    shim = int(json.loads((net.config.paths.container(cid) / "state.json").read_text())["shim_pid"])
    os.kill(shim, signal.SIGKILL)
    assert gone(pids), "the proxy outlived its shim"
    deadline = time.monotonic() + 10
    while not v6_port_free(port):
        assert time.monotonic() < deadline, "[::] port still held"
        time.sleep(0.1)
    assert not _userproxy_pids() or all(_ppid(p) != shim for p in _userproxy_pids())


def test_udp_over_ipv6(net: Net, udp_echo: Path) -> None:  # noqa: F811
    port = free_port(socket.SOCK_DGRAM)
    net.cli("run", "-d", "--name", "udp6", "-v", f"{udp_echo}:/opt/udp:ro", "-p", f"{port}:5353/udp",
            "busybox", "/opt/udp/udpecho", "5353")  # fmt: skip
    assert f"5353/udp -> [::]:{port}" in net.cli("port", "udp6").stdout.splitlines()
    clients = [socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) for _ in range(3)]
    try:
        for i, s in enumerate(clients):  # each client its own flow, its own answers
            s.settimeout(0.5)
            for _ in range(20):  # the server in the container may not be bound yet
                s.sendto(b"ping %d over udp6" % i, ("::1", port))
                try:
                    data, _ = s.recvfrom(100)
                    break
                except TimeoutError:
                    continue
            else:
                cid = net.engine.container("udp6").id
                log = (net.config.paths.container(cid) / "shim.log").read_text()
                pytest.fail(f"no UDP answer through [::1] {proxies(net, 'udp6')} {log}")
            assert data == b"ping %d over udp6" % i
    finally:
        for s in clients:
            s.close()
    pids = proxies(net, "udp6")
    net.cli("rm", "-f", "udp6")
    assert gone(pids) and v6_port_free(port, socket.SOCK_DGRAM)


def test_ipv6_port_in_use_fails_the_start_cleanly(net: Net) -> None:  # noqa: F811
    port = free_port()
    with socket.socket(socket.AF_INET6) as taken:
        taken.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        taken.bind(("::", port))
        taken.listen(1)
        proc = net.cli("run", "-d", "--name", "busy6", "-p", f"{port}:80", "busybox", "sleep", "30",
                       check=False)  # fmt: skip
        assert proc.returncode == 125, proc.stderr
        assert f"Error starting userland proxy: listen tcp6 [::]:{port}: bind: address already in use" in (
            proc.stderr
        )
        assert net.cli("ps", "-a", "--format", "{{.Status}}").stdout == "Created\n"  # as docker's
    with socket.socket() as s:  # the IPv4 side was not kept either
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", port))
    assert "dnat to" not in net.our_table()


def test_ps_groups_ipv6_ranges_as_docker(net: Net) -> None:  # noqa: F811
    for _ in range(50):
        port = free_port()
        if port < 65535 and v6_port_free(port) and v6_port_free(port + 1):
            with socket.socket() as s:
                try:
                    s.bind(("0.0.0.0", port + 1))
                except OSError:
                    continue
            break
    net.cli("run", "-d", "--name", "rng", "-p", f"{port}:{port}", "-p", f"{port + 1}:{port + 1}",
            "busybox", "sleep", "30")  # fmt: skip
    shown = net.cli("ps", "--format", "{{.Ports}}").stdout.strip()
    # docker CLI 28 against dockerd 20.10, by hand: the same form
    span = f"{port}-{port + 1}"
    assert shown == f"0.0.0.0:{span}->{span}/tcp, [::]:{span}->{span}/tcp"


def test_proxy_lives_through_a_restart_by_policy(net: Net) -> None:  # noqa: F811
    """A restart by the restart policy stays in the same shim, with the same address: the proxy stays."""
    port = free_port()
    script = "mkdir -p /www && hostname > /www/hostname && exec httpd -f -p 80 -h /www"
    net.cli("run", "-d", "--name", "pol", "--hostname", "over-six", "--restart", "always", "-p", f"{port}:80",
            "busybox", "sh", "-c", script)  # fmt: skip
    assert get6(port).strip() == b"over-six"
    pids = proxies(net, "pol")
    assert len(pids) == 1
    cid = net.engine.container("pol").id
    state = json.loads((net.config.paths.container(cid) / "state.json").read_text())
    os.kill(int(state["pid"]), signal.SIGKILL)  # the container's PID 1: the policy restarts it
    deadline = time.monotonic() + 10
    while (
        json.loads((net.config.paths.container(cid) / "state.json").read_text()).get("restart_count", 0) < 1
    ):
        assert time.monotonic() < deadline, "not restarted"
        time.sleep(0.05)
    assert get6(port).strip() == b"over-six"
    assert proxies(net, "pol") == pids
    net.cli("rm", "-f", "pol")
    assert gone(pids) and v6_port_free(port)


def test_tcp_echo_both_ways_with_backpressure(net: Net) -> None:  # noqa: F811
    """16 MiB through an echo in the container, read back only after a pause: the buffers on both ways fill
    up and the proxy must pace them (no loss, no deadlock); the half-close then ends the echo."""
    port = free_port()
    net.cli("run", "-d", "--name", "echo6", "-p", f"{port}:7", "busybox", "nc", "-ll", "-p", "7", "-e",
            "cat")  # fmt: skip
    payload = os.urandom(16 << 20)
    deadline = time.monotonic() + 10
    while True:
        try:
            s = socket.create_connection(("::1", port), timeout=20)
            s.sendall(b"x")
            if s.recv(1) == b"x":
                break
            s.close()
        except OSError:
            pass
        assert time.monotonic() < deadline, "no echo through [::1]"
        time.sleep(0.1)
    got = bytearray()
    with s:

        def send() -> None:
            s.sendall(payload)
            s.shutdown(socket.SHUT_WR)

        with ThreadPoolExecutor(1) as pool:
            sent = pool.submit(send)
            time.sleep(0.5)  # nothing read meanwhile: the buffers on the way fill up
            while chunk := s.recv(65536):
                got.extend(chunk)
            sent.result(timeout=30)
    assert bytes(got) == payload
