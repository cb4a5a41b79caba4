"""Bridge networks end to end: real namespaces, veths, bridges, addresses and nft rules, busybox containers
from the test bed, driven through the ``dockyard`` command line (and the Engine where the CLI adds nothing).

Every test runs on this session's own bridge, subnets and nft table (tests/netbed.py via ``engine_config``),
never the real defaults. Traffic goes only to 127.0.0.0/8 (published ports) and, from inside containers, to
the addresses of containers the test made.
"""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from core.config import Config
from core.engine import LocalEngine
from core.models import ContainerConfig, ContainerCreate, HostConfig, HostPortBinding
from core.network import endpoints
from core.network.layout import NetPaths

DOCKYARD = str(Path(sys.executable).with_name("dockyard"))

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
    pytest.mark.skipif(shutil.which("nft") is None, reason="needs nftables (nft)"),
]

UDP_ECHO_C = r"""
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
int main(int argc, char **argv) {
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons(atoi(argv[1]));
    if (bind(s, (struct sockaddr *)&a, sizeof a) != 0) return 1;
    char buf[2048];
    for (;;) {
        struct sockaddr_in from;
        socklen_t len = sizeof from;
        ssize_t n = recvfrom(s, buf, sizeof buf, 0, (struct sockaddr *)&from, &len);
        if (n >= 0) sendto(s, buf, (size_t)n, 0, (struct sockaddr *)&from, len);
    }
}
"""


@dataclass
class Net:
    config: Config
    engine: LocalEngine

    @property
    def np(self) -> NetPaths:
        return NetPaths(self.config.paths)

    def cli(self, *args: str, timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "DOCKYARD_RUN": str(self.config.run)}
        proc = subprocess.run(
            [DOCKYARD, "--root", str(self.config.root), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            stdin=subprocess.DEVNULL,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"dockyard {' '.join(args)} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
            )
        return proc

    def ip(self, container: str, network: str | None = None) -> str:
        info = self.engine.inspect_container(container)["NetworkSettings"]
        if network is None:  # the top-level address is the default network's only, as docker's
            return str(info["IPAddress"] or next(iter(info["Networks"].values()))["IPAddress"])
        return str(info["Networks"][network]["IPAddress"])

    def hosts(self, container: str) -> str:
        cid = self.engine.container(container).id
        return (self.config.paths.container(cid) / "hosts").read_text()

    def our_table(self) -> str:
        proc = subprocess.run(
            ["nft", "list", "table", "ip", self.config.nft_table], capture_output=True, text=True, check=False
        )
        return proc.stdout if proc.returncode == 0 else ""

    def bridge_ports(self, bridge: str) -> list[str]:
        try:
            return sorted(os.listdir(f"/sys/class/net/{bridge}/brif"))
        except FileNotFoundError:
            return []


@pytest.fixture
def net(testbed, engine_config: Config) -> Iterator[Net]:  # type: ignore[no-untyped-def]
    engine = LocalEngine(engine_config)
    engine.pull(testbed.ref("busybox:latest"))
    engine.tag_image(testbed.ref("busybox:latest"), "busybox")
    n = Net(engine_config, engine)
    try:
        yield n
    finally:
        for c in engine.list_containers(all=True):
            try:
                engine.remove_container(c.id, force=True)
            except Exception:
                pass
        for nw in engine.list_networks():
            if nw.name not in ("host", "none"):
                try:
                    engine.remove_network(nw.name)
                except Exception:
                    pass


@pytest.fixture(scope="session")
def udp_echo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A static UDP echo server (busybox has no UDP server) for a container to run from a bind mount."""
    if shutil.which("gcc") is None:
        pytest.skip("needs gcc (and libc6-dev) to build a static UDP echo server")
    d = tmp_path_factory.mktemp("udpecho")
    (d / "udpecho.c").write_text(UDP_ECHO_C)
    subprocess.run(["gcc", "-static", "-Os", "-o", str(d / "udpecho"), str(d / "udpecho.c")], check=True)
    return d


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_get(url: str, timeout: float = 10.0) -> str:
    """GET from 127.0.0.1, retrying while the server in the container is still starting."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=3) as r:
                return str(r.read().decode())
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def nothing_left(n: Net, cids: list[str]) -> None:
    """No veth, netns, address, endpoint record or published-port rule of these containers is left."""
    np = n.np
    links = set(os.listdir("/sys/class/net"))
    for cid in cids:
        for nid in n.engine.lifecycle.networks().ipam.networks():
            assert endpoints.veth_name(cid, nid) not in links
            assert cid not in n.engine.lifecycle.networks().ipam.allocations(nid).values()
        assert not os.path.lexists(np.netns(cid))
        assert not np.endpoint(cid).exists()
    assert "dnat to" not in n.our_table()


# --------------------------------------------------------------------------------------------- the tests


def test_names_and_aliases_resolve_on_a_user_network(net: Net) -> None:
    net.cli("network", "create", "front")
    net.cli(
        "run", "-d", "--name", "web", "--hostname", "webhost", "--network", "front",
        "--network-alias", "www", "busybox", "httpd", "-f", "-p", "80", "-h", "/etc",
    )  # fmt: skip
    out = net.cli(
        "run", "--rm", "--network", "front", "busybox", "sh", "-c",
        "ping -c1 -W3 web && ping -c1 -W3 www && timeout 10 wget -q -O- http://web/hostname "
        "&& timeout 10 wget -q -O- http://www/hostname",
    ).stdout  # fmt: skip
    assert "1 packets received" in out
    assert out.count("webhost") == 2
    web_ip = net.ip("web")
    assert ipaddress.IPv4Address(web_ip) in ipaddress.IPv4Network(
        net.engine.inspect_network("front")["IPAM"]["Config"][0]["Subnet"]
    )


def test_hosts_files_follow_joins_and_leaves(net: Net) -> None:
    net.cli("network", "create", "team")
    net.cli("run", "-d", "--name", "ann", "--network", "team", "busybox", "sleep", "60")
    # no line names bob yet (ann's own line holds its id: compare whole names)
    assert not any("bob" in line.split()[1:] for line in net.hosts("ann").splitlines())
    net.cli(
        "run", "-d", "--name", "bob", "--network", "team", "--network-alias", "bee", "busybox", "sleep", "60"
    )
    b_ip = net.ip("bob")
    line = next(x for x in net.hosts("ann").splitlines() if x.startswith(b_ip + "\t"))
    assert line.split()[1:3] == ["bob", "bee"]
    # the container sees the change through its bind mount (the file is rewritten in place)
    seen = net.cli("exec", "ann", "cat", "/etc/hosts").stdout
    assert f"{b_ip}\tbob bee" in seen
    net.cli("rm", "-f", "bob")
    assert b_ip not in net.hosts("ann")
    assert b_ip not in net.cli("exec", "ann", "cat", "/etc/hosts").stdout


def test_other_network_cannot_reach(net: Net) -> None:
    net.cli("network", "create", "one")
    net.cli("network", "create", "two")
    net.cli(
        "run", "-d", "--name", "srv", "--network", "one", "busybox", "httpd", "-f", "-p", "80", "-h", "/etc"
    )
    ip = net.ip("srv")
    same = net.cli("run", "--rm", "--network", "one", "busybox", "timeout", "10", "wget", "-q", "-O-",
                   f"http://{ip}/hostname").stdout  # fmt: skip
    assert same.strip()
    other = net.cli(
        "run", "--rm", "--network", "two", "busybox", "sh", "-c",
        f"ping -c1 -W2 {ip}; echo ping=$?; timeout 3 wget -q -O- http://{ip}/hostname; echo wget=$?; "
        "ping -c1 -W1 srv; echo name=$?",
    ).stdout  # fmt: skip
    assert "ping=0" not in other and "wget=0" not in other and "name=0" not in other
    assert "ping=1" in other


def test_network_none_has_only_loopback(net: Net) -> None:
    out = net.cli(
        "run", "--rm", "--network", "none", "busybox", "sh", "-c", "ip -o link; ip -o -4 addr"
    ).stdout
    links = [
        line.split(":")[1].strip().split("@")[0]
        for line in out.splitlines()
        if ": <" in line or "mtu" in line
    ]
    assert links == ["lo"], out
    assert "127.0.0.1/8" in out and "inet " in out and out.count("inet ") == 1


def test_bridge_container_has_address_route_mtu_and_loopback(net: Net) -> None:
    out = net.cli(
        "run", "--rm", "busybox", "sh", "-c", "ip -o -4 addr; ip route; ip -o link; cat /etc/resolv.conf"
    ).stdout
    gw = str(ipaddress.IPv4Interface(net.config.bip).ip)
    assert f"default via {gw} dev eth0" in out
    assert "lo " in out and "127.0.0.1/8" in out
    assert "eth0" in out and "mtu 1500" in out
    assert "nameserver 127." not in out  # loopback resolvers mean nothing inside


def test_published_tcp_port_answers_on_loopback(net: Net) -> None:
    port = free_port()
    net.cli("run", "-d", "--name", "pub", "--hostname", "published", "-p", f"{port}:80",
            "-p", "127.0.0.1::80", "busybox", "httpd", "-f", "-p", "80", "-h", "/etc")  # fmt: skip
    assert http_get(f"http://127.0.0.1:{port}/hostname").strip() == "published"
    mapping = net.cli("port", "pub").stdout.splitlines()
    assert f"80/tcp -> 0.0.0.0:{port}" in mapping
    random_port = int(next(x for x in mapping if "127.0.0.1" in x).rsplit(":", 1)[1])
    assert http_get(f"http://127.0.0.1:{random_port}/hostname").strip() == "published"
    ps = net.cli("ps", "--format", "{{.Ports}}").stdout
    assert f"0.0.0.0:{port}->80/tcp" in ps and f"127.0.0.1:{random_port}->80/tcp" in ps
    info = net.engine.inspect_container("pub")
    assert info["NetworkSettings"]["Ports"]["80/tcp"][0]["HostPort"] in (str(port), str(random_port))
    # the shim holds the host port for the container's life: nothing else may take it
    with socket.socket() as s, pytest.raises(OSError):
        s.bind(("0.0.0.0", port))
    net.cli("stop", "-t", "1", "pub")
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", port))  # freed with the container
    assert net.cli("port", "pub").stdout == ""


def test_published_udp_port_echoes(net: Net, udp_echo: Path) -> None:
    port = free_port(socket.SOCK_DGRAM)
    net.cli("run", "-d", "--name", "udp", "-v", f"{udp_echo}:/opt/udp:ro", "-p", f"127.0.0.1:{port}:5353/udp",
            "busybox", "/opt/udp/udpecho", "5353")  # fmt: skip
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.5)
        for _ in range(20):  # the server in the container may not be bound yet
            s.sendto(b"ping over udp", ("127.0.0.1", port))
            try:
                data, _ = s.recvfrom(100)
                break
            except TimeoutError:
                continue
        else:
            pytest.fail("no UDP answer through the published port")
    assert data == b"ping over udp"


def test_port_in_use_is_a_clear_error_and_leaves_nothing(net: Net) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        proc = net.cli("run", "-d", "--name", "clash", "-p", f"127.0.0.1:{port}:80", "busybox", "sleep", "30",
                       check=False)  # fmt: skip
    assert proc.returncode == 125
    assert "already in use" in proc.stderr and str(port) in proc.stderr
    cid = net.engine.container("clash").id
    assert net.engine.container("clash").status != "running"
    nothing_left(net, [cid])
    assert net.bridge_ports(net.config.bridge) == []


def test_fixed_ip_and_its_conflict(net: Net) -> None:
    net.cli("network", "create", "fixed")
    subnet = ipaddress.IPv4Network(net.engine.inspect_network("fixed")["IPAM"]["Config"][0]["Subnet"])
    want = str(subnet.network_address + 9)
    net.cli("run", "-d", "--name", "f1", "--network", "fixed", "--ip", want, "busybox", "sleep", "30")
    assert net.ip("f1") == want
    proc = net.cli("run", "-d", "--name", "f2", "--network", "fixed", "--ip", want, "busybox", "sleep", "30",
                   check=False)  # fmt: skip
    assert proc.returncode == 125 and "already in use" in proc.stderr
    bad = net.cli("run", "--rm", "--ip", want, "busybox", "true", check=False)
    assert bad.returncode == 125 and "user defined networks" in bad.stderr


def test_connect_and_disconnect_a_running_container(net: Net) -> None:
    net.cli("network", "create", "n1")
    net.cli("network", "create", "n2")
    net.cli(
        "run", "-d", "--name", "svc", "--network", "n1", "busybox", "httpd", "-f", "-p", "80", "-h", "/etc"
    )
    net.cli("run", "-d", "--name", "cli2", "--network", "n2", "busybox", "sleep", "60")
    probe = ["exec", "cli2", "sh", "-c", "timeout 5 wget -q -O- http://svcalias/hostname; echo rc=$?"]
    assert "rc=0" not in net.cli(*probe).stdout
    net.cli("network", "connect", "--alias", "svcalias", "n2", "svc")
    info = net.engine.inspect_container("svc")["NetworkSettings"]["Networks"]
    assert set(info) == {"n1", "n2"}
    assert "eth1" in net.cli("exec", "svc", "ip", "-o", "link").stdout
    assert "rc=0" in net.cli(*probe).stdout
    svc_id = net.engine.container("svc").id
    assert net.engine.inspect_network("n2")["Containers"][svc_id]["Name"] == "svc"
    assert "svcalias" in net.hosts("cli2")
    net.cli("network", "disconnect", "n2", "svc")
    assert "rc=0" not in net.cli(*probe).stdout
    assert "eth1" not in net.cli("exec", "svc", "ip", "-o", "link").stdout
    assert svc_id not in net.engine.inspect_network("n2")["Containers"]
    assert "svcalias" not in net.hosts("cli2")
    gone = net.cli("network", "disconnect", "n2", "svc", check=False)
    assert gone.returncode == 1 and "not connected" in gone.stderr  # docker: 1 for a daemon error


def test_network_verbs(net: Net) -> None:
    nid = net.cli("network", "create", "--label", "k=v", "verbs").stdout.strip()
    assert len(nid) == 64
    listing = net.cli("network", "ls").stdout
    assert listing.splitlines()[0].split() == ["NETWORK", "ID", "NAME", "DRIVER", "SCOPE"]
    names = {line.split()[1] for line in listing.splitlines()[1:]}
    assert {"bridge", "host", "none", "verbs"} <= names
    again = net.cli("network", "create", "verbs", check=False)
    assert again.returncode == 1 and "already exists" in again.stderr
    info = json.loads(net.cli("network", "inspect", "verbs").stdout)[0]
    assert info["Id"] == nid and info["Labels"] == {"k": "v"} and info["Driver"] == "bridge"
    bridge = info["Options"]["com.docker.network.bridge.name"]
    assert os.path.isdir(f"/sys/class/net/{bridge}")
    net.cli("run", "-d", "--name", "user", "--network", "verbs", "busybox", "sleep", "60")
    busy = net.cli("network", "rm", "verbs", check=False)
    assert busy.returncode == 1 and "active endpoints" in busy.stderr
    assert net.cli("network", "rm", "host", check=False).returncode != 0
    net.cli("rm", "-f", "user")
    net.cli("network", "create", "spare")
    pruned = net.cli("network", "prune", "-f").stdout
    assert "verbs" in pruned and "spare" in pruned
    assert not os.path.exists(f"/sys/class/net/{bridge}")
    assert not list(net.config.paths.locks.glob(f"*-{nid}.lock"))  # its bridge- and ipam- locks went too
    missing = net.cli("run", "--rm", "--network", "nosuch", "busybox", "true", check=False)
    assert missing.returncode == 125 and "nosuch not found" in missing.stderr


def test_fifty_create_rm_cycles_leave_nothing(net: Net) -> None:
    before = set(os.listdir("/sys/class/net"))
    cids = []
    for i in range(50):
        c = net.engine.create_container(
            ContainerCreate(
                ContainerConfig(image="busybox", cmd=["sleep", "30"]),
                HostConfig(port_bindings={"80/tcp": [HostPortBinding("127.0.0.1", "")]}),
            )
        )
        net.engine.start_container(c.id)
        if i == 0:
            assert "dnat to" in net.our_table()
            assert len(net.bridge_ports(net.config.bridge)) == 1
        net.engine.remove_container(c.id, force=True)
        cids.append(c.id)
    nothing_left(net, cids)
    assert net.bridge_ports(net.config.bridge) == []
    # (other sessions may make links meanwhile: only ours are compared)
    ours = {endpoints.veth_name(c, n) for c in cids for n in net.engine.lifecycle.networks().ipam.networks()}
    assert not (set(os.listdir("/sys/class/net")) - before) & ours
    assert os.listdir(net.config.paths.netns) == []
    assert not list(net.np.endpoints.glob("*.json"))


def test_concurrent_runs_never_share_an_address(net: Net) -> None:
    net.cli("network", "create", "crowd")

    def run(i: int) -> str:
        return net.cli("run", "-d", "--name", f"c{i}", "--network", "crowd", "busybox", "sleep", "60").stdout

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(run, range(8)))
    ips = [net.ip(f"c{i}") for i in range(8)]
    assert len(set(ips)) == 8, ips
    nid = net.engine.inspect_network("crowd")["Id"]
    assert sorted(net.engine.lifecycle.networks().ipam.allocations(nid)) == sorted(ips)


def test_killed_shim_frees_address_and_netns(net: Net) -> None:
    port = free_port()
    net.cli("run", "-d", "--name", "victim", "-p", f"127.0.0.1:{port}:80", "busybox", "sleep", "60")
    rec = net.engine.lifecycle.store.resolve("victim")
    ip = net.ip("victim")
    assert os.path.exists(net.np.netns(rec.id))
    os.kill(rec.state.shim_pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while endpoints.shim_alive(net.np, rec.id) and time.monotonic() < deadline:
        time.sleep(0.02)
    net.cli("ps", "-a")  # any command finds the dead shim and cleans up after it
    nothing_left(net, [rec.id])
    allocations = net.engine.lifecycle.networks().ipam.allocations(net.engine.inspect_network("bridge")["Id"])
    assert ip not in allocations
    assert net.engine.container("victim").status == "exited"
    net.cli("start", "victim")  # and it can start again, with the port
    assert net.engine.container("victim").status == "running"


def test_sequential_runs_reuse_a_published_port(net: Net) -> None:
    port = free_port()
    for _ in range(3):
        net.cli("run", "--rm", "-p", f"127.0.0.1:{port}:80", "busybox", "true")


def test_stop_start_keeps_networking(net: Net) -> None:
    net.cli("network", "create", "again")
    net.cli(
        "run", "-d", "--name", "s1", "--network", "again", "busybox", "httpd", "-f", "-p", "80", "-h", "/etc"
    )
    net.cli("stop", "-t", "1", "s1")
    net.cli("start", "s1")
    ip = net.ip("s1")
    out = net.cli("run", "--rm", "--network", "again", "busybox", "timeout", "10", "wget", "-q", "-O-",
                  "http://s1/hostname").stdout  # fmt: skip
    assert out.strip()
    assert ip


def test_pyroute2_stays_off_the_common_paths(net: Net) -> None:
    """pyroute2 costs ~100 ms to import: only making a bridge (once a boot) may load it, never ps, never
    `run --network none`, nor a `run` on an existing bridge, with or without a published port."""
    net.cli("run", "--rm", "busybox", "true")  # the bridge exists from here on
    probe = (
        "import sys, atexit\n"
        "atexit.register(lambda: sys.stderr.write('PYROUTE2=%s\\n' % ('pyroute2' in sys.modules)))\n"
        "from tui.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    env = {**os.environ, "DOCKYARD_RUN": str(net.config.run)}
    for args in (
        ["ps", "-a"],
        ["run", "--rm", "--network", "none", "busybox", "true"],
        ["run", "--rm", "busybox", "true"],
        ["run", "--rm", "-p", "127.0.0.1::80", "busybox", "true"],
    ):
        proc = subprocess.run(
            [sys.executable, "-c", probe, "--root", str(net.config.root), *args],
            capture_output=True, text=True, env=env, timeout=60, check=False,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        assert "PYROUTE2=False" in proc.stderr, (args, proc.stderr)


def test_connect_a_created_container_joins_at_start(net: Net) -> None:
    net.cli("network", "create", "later")
    net.cli("create", "--name", "idle", "busybox", "sleep", "60")
    net.cli("network", "connect", "--alias", "idler", "later", "idle")
    net.cli("start", "idle")
    nets = net.engine.inspect_container("idle")["NetworkSettings"]["Networks"]
    assert set(nets) == {"bridge", "later"}
    assert nets["later"]["Aliases"] == ["idler"]
    links = net.cli("exec", "idle", "ip", "-o", "link").stdout
    assert "eth0" in links and "eth1" in links
    # the default route stays on the primary network
    assert (
        f"default via {ipaddress.IPv4Interface(net.config.bip).ip} dev eth0"
        in net.cli("exec", "idle", "ip", "route").stdout
    )
    net.cli("network", "disconnect", "bridge", "idle")
    assert set(net.engine.inspect_container("idle")["NetworkSettings"]["Networks"]) == {"later"}
    net.cli("restart", "-t", "1", "idle")
    assert set(net.engine.inspect_container("idle")["NetworkSettings"]["Networks"]) == {"later"}


def test_created_container_leaves_and_rejoins_its_network(net: Net) -> None:
    """docker-compose 1.x's create, network disconnect, network connect --alias, start: as on dockerd the
    container keeps its NetworkMode, lists no network once it left, and joins with the new alias at start."""
    net.cli("network", "create", "dyx")
    net.cli("create", "--name", "c1", "--network", "dyx", "busybox", "sleep", "60")
    net.cli("network", "disconnect", "dyx", "c1")
    doc = net.engine.inspect_container("c1")
    assert doc["HostConfig"]["NetworkMode"] == "dyx"
    assert doc["NetworkSettings"]["Networks"] == {}
    again = net.cli("network", "disconnect", "dyx", "c1", check=False)
    assert again.returncode == 1 and "not connected" in again.stderr
    net.cli("network", "connect", "--alias", "foo", "dyx", "c1")
    doc = net.engine.inspect_container("c1")
    assert doc["HostConfig"]["NetworkMode"] == "dyx"
    assert set(doc["NetworkSettings"]["Networks"]) == {"dyx"}
    assert "foo" in doc["NetworkSettings"]["Networks"]["dyx"]["Aliases"]
    net.cli("start", "c1")
    ip = net.ip("c1", "dyx")
    subnet = net.engine.inspect_network("dyx")["IPAM"]["Config"][0]["Subnet"]
    assert ipaddress.IPv4Address(ip) in ipaddress.IPv4Network(subnet)
    assert f"inet {ip}/" in net.cli("exec", "c1", "ip", "-o", "-4", "addr", "show", "eth0").stdout
    out = net.cli("run", "--rm", "--network", "dyx", "busybox", "ping", "-c1", "-W3", "foo").stdout
    assert f"({ip})" in out and "1 packets received" in out
    cid = net.engine.container("c1").id
    net.cli("rm", "-f", "c1")
    nothing_left(net, [cid])


def test_left_network_stays_left_at_start_and_others_take_its_place(net: Net) -> None:
    net.cli("network", "create", "dyx")
    net.cli("network", "create", "dyx2")
    # left and never connected again: it starts with loopback only, and can join a network while it runs
    net.cli("create", "--name", "c2", "--network", "dyx", "busybox", "sleep", "60")
    net.cli("network", "disconnect", "dyx", "c2")
    net.cli("start", "c2")
    doc = net.engine.inspect_container("c2")
    assert doc["State"]["Status"] == "running"
    assert doc["HostConfig"]["NetworkMode"] == "dyx" and doc["NetworkSettings"]["Networks"] == {}
    assert net.cli("exec", "c2", "ip", "-o", "-4", "addr").stdout.count("inet ") == 1  # 127.0.0.1 only
    net.cli("network", "connect", "dyx", "c2")
    ip2 = net.ip("c2", "dyx")
    assert f"inet {ip2}/" in net.cli("exec", "c2", "ip", "-o", "-4", "addr").stdout
    gw = net.engine.inspect_network("dyx")["IPAM"]["Config"][0]["Gateway"]
    assert f"default via {gw}" in net.cli("exec", "c2", "ip", "route").stdout
    # left, then connected to another network: that one is its only network at start
    net.cli("create", "--name", "c3", "--network", "dyx", "busybox", "sleep", "60")
    net.cli("network", "disconnect", "dyx", "c3")
    net.cli("network", "connect", "--alias", "bar", "dyx2", "c3")
    net.cli("start", "c3")
    doc = net.engine.inspect_container("c3")
    assert doc["HostConfig"]["NetworkMode"] == "dyx"
    assert set(doc["NetworkSettings"]["Networks"]) == {"dyx2"}
    ip3 = net.ip("c3", "dyx2")
    addrs = net.cli("exec", "c3", "ip", "-o", "-4", "addr").stdout
    assert f"eth0    inet {ip3}/" in addrs and addrs.count("inet ") == 2
    out = net.cli("run", "--rm", "--network", "dyx2", "busybox", "ping", "-c1", "-W3", "bar").stdout
    assert f"({ip3})" in out
    # the network it left can go (docker's too): its NetworkMode still names it, and it starts on the rest
    net.cli("network", "create", "gone")
    net.cli("create", "--name", "c4", "--network", "gone", "busybox", "sleep", "60")
    net.cli("network", "disconnect", "gone", "c4")
    net.cli("network", "rm", "gone")
    net.cli("network", "connect", "dyx2", "c4")
    net.cli("start", "c4")
    doc = net.engine.inspect_container("c4")
    assert doc["HostConfig"]["NetworkMode"] == "gone"
    assert set(doc["NetworkSettings"]["Networks"]) == {"dyx2"}


def test_network_none_container_cannot_be_connected(net: Net) -> None:
    net.cli("network", "create", "dyx")
    net.cli("create", "--name", "lonely", "--network", "none", "busybox", "sleep", "60")
    refused = net.cli("network", "connect", "dyx", "lonely", check=False)
    assert refused.returncode == 1 and "cannot join other networks" in refused.stderr  # docker: 1 too
    doc = net.engine.inspect_container("lonely")
    assert doc["HostConfig"]["NetworkMode"] == "none"
    assert set(doc["NetworkSettings"]["Networks"]) == {"none"}
    net.cli("start", "lonely")
    assert net.cli("exec", "lonely", "ip", "-o", "-4", "addr").stdout.count("inet ") == 1


def test_network_rm_right_after_rm_of_its_containers(net: Net) -> None:
    """`docker rm -f c && docker network rm n` works: `rm` (and `stop`) return once the container's shim has
    released its endpoint, as dockerd's do. In one process (a CLI's start-up hides the race) and four at
    once, as compose's `down` does them: the network removal right after failed with active endpoints."""
    from concurrent.futures import ThreadPoolExecutor

    from core.engine import LocalEngine

    engine = LocalEngine(net.config)
    for _ in range(2):
        net.cli("network", "create", "quick")
        names = [f"quick{i}" for i in range(4)]
        for name in names:
            net.cli("run", "-d", "--name", name, "--network", "quick", "busybox", "sleep", "60")

        def finish(name: str) -> None:
            if name.endswith(("0", "1")):
                engine.stop_container(name, timeout=0)
                engine.remove_container(name)
            else:
                engine.remove_container(name, force=True)

        with ThreadPoolExecutor(len(names)) as pool:
            list(pool.map(finish, names))
        engine.remove_network("quick")


def test_network_rm_right_after_rm_of_an_auto_removing_container(net: Net) -> None:
    """`docker rm -f` of a `--rm` container returns once its shim has released the endpoint too: the shim
    removes such a container itself as it exits (its record goes first, then its network), and `rm` must
    not take the record's disappearance for the end of it."""
    from core.engine import LocalEngine

    engine = LocalEngine(net.config)
    for _ in range(5):
        net.cli("network", "create", "quickrm")
        net.cli("run", "-d", "--rm", "--name", "auto", "--network", "quickrm", "busybox", "sleep", "60")
        engine.remove_container("auto", force=True)
        engine.remove_network("quickrm")
