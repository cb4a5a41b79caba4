"""Pure logic of core.network: the nft ruleset, hosts and resolv.conf contents, published-port requests,
subnet choice and network records, settings from daemon.json."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path

import pytest

from core.config import Config, Paths
from core.errors import Conflict, InvalidArgument, NetworkNotFound
from core.models import HostConfig, HostPortBinding
from core.network import names, nat, ports
from core.network.endpoints import Attachment, Endpoint, mac_for, veth_name
from core.network.store import NetworkStore, check_gateway, parse_subnet, pick_subnet


def test_ruleset_for_bridges_and_ports() -> None:
    bridges = [
        {"bridge": "dy-a", "subnet": "10.1.0.0/24", "internal": False},
        {"bridge": "dy-b", "subnet": "10.2.0.0/24", "internal": False},
        {"bridge": "dy-i", "subnet": "10.3.0.0/24", "internal": True},
    ]
    published = [
        {"protocol": "tcp", "host_ip": "", "host_port": 8080, "ip": "10.1.0.2", "container_port": 80},
        {
            "protocol": "udp",
            "host_ip": "127.0.0.1",
            "host_port": 5353,
            "ip": "10.1.0.2",
            "container_port": 53,
        },
    ]
    text = nat.render("dytest", bridges, published)
    assert text.startswith("table ip dytest\ndelete table ip dytest\ntable ip dytest {\n")
    assert "meta l4proto tcp th dport 8080 dnat to 10.1.0.2:80" in text
    assert "ip daddr 127.0.0.1 meta l4proto udp th dport 5353 dnat to 10.1.0.2:53" in text
    assert 'ip saddr 10.1.0.0/24 oifname != "dy-a" masquerade' in text
    assert "ip saddr 10.3.0.0/24 oifname" not in text  # internal: no outbound NAT
    assert 'oifname "dy-a" ip saddr 127.0.0.0/8 masquerade' in text
    assert 'iifname "dy-a" oifname { "dy-b", "dy-i" } drop' in text
    assert 'iifname "dy-i" oifname != "dy-i" drop' in text and 'oifname "dy-i" iifname != "dy-i" drop' in text
    assert text.count("fib daddr type local jump published") == 2
    # only our table is ever named
    assert {line.split()[2] for line in text.splitlines() if line.startswith("table ")} == {"dytest"}


def test_ruleset_without_bridges_only_deletes_our_table() -> None:
    assert nat.render("dytest", [], []) == "table ip dytest\ndelete table ip dytest\n"


@pytest.mark.parametrize("bad", ["", "1abc", "a b", "x;flush ruleset", "a" * 40])
def test_table_names_are_checked(bad: str) -> None:
    with pytest.raises(InvalidArgument):
        nat.render(bad, [], [])


def _ep(network_id: str, ip: str, aliases: list[str], dns: bool = True) -> Endpoint:
    return Endpoint(
        network_id=network_id, network="n", bridge="br", subnet="10.5.0.0/24", gateway="10.5.0.1", ip=ip,
        mac=mac_for(ip), veth="vyx", ifname="eth0", endpoint_id="e", aliases=aliases, dns=dns,
    )  # fmt: skip


def test_hosts_list_peers_on_name_resolving_networks() -> None:
    me = Attachment(
        "1" * 64, "me", "myhost", "/ns", [_ep("n1", "10.5.0.2", ["m"])], extra_hosts=["db:10.9.9.9"]
    )
    peer = Attachment("2" * 64, "peer", "h2", "/ns2", [_ep("n1", "10.5.0.3", ["p1", "p2"])])
    stranger = Attachment("3" * 64, "stranger", "h3", "/ns3", [_ep("n2", "10.6.0.3", [])])
    text = names.hosts_content(me, [me, peer, stranger])
    lines = text.splitlines()
    assert lines[0] == "127.0.0.1\tlocalhost"
    assert "10.9.9.9\tdb" in lines
    assert "10.5.0.2\tmyhost me m" in lines
    assert f"10.5.0.3\tpeer p1 p2 {'2' * 12}" in lines
    assert "stranger" not in text


def test_default_network_resolves_only_itself() -> None:
    me = Attachment("1" * 64, "me", "myhost", "/ns", [_ep("d", "10.5.0.2", [], dns=False)])
    peer = Attachment("2" * 64, "peer", "h2", "/ns2", [_ep("d", "10.5.0.3", [], dns=False)])
    text = names.hosts_content(me, [me, peer])
    assert "10.5.0.2\tmyhost\n" in text and "peer" not in text


def test_host_gateway_and_bad_extra_hosts() -> None:
    me = Attachment("1" * 64, "me", "h", "/ns", [_ep("n1", "10.5.0.2", [])], extra_hosts=["gw:host-gateway"])
    assert "10.5.0.1\tgw\n" in names.hosts_content(me, [me])
    for bad in ("nocolon", "x:not-an-ip", ":1.2.3.4"):
        with pytest.raises(InvalidArgument):
            names.check_extra_host(bad)
    assert names.check_extra_host("v6:[::1]") == ("v6", "::1")


def test_resolv_conf() -> None:
    host = "search example.org\nnameserver 127.0.0.53\nnameserver ::1\nnameserver 192.0.2.53\noptions edns0\n"
    assert names.resolv_content([], host) == "search example.org\nnameserver 192.0.2.53\noptions edns0\n"
    only_loopback = "nameserver 127.0.0.53\n"
    assert names.resolv_content([], only_loopback) == "nameserver 8.8.8.8\nnameserver 8.8.4.4\n"
    assert (
        names.resolv_content(["1.1.1.1"], host) == "search example.org\noptions edns0\nnameserver 1.1.1.1\n"
    )
    with pytest.raises(InvalidArgument):
        names.resolv_content(["not-an-ip"], host)


def test_write_in_place_keeps_the_inode(tmp_path: Path) -> None:
    f = tmp_path / "hosts"
    f.write_text("a much longer first version of the file\n")
    ino = f.stat().st_ino
    names.write_in_place(f, "short\n")
    assert f.read_text() == "short\n" and f.stat().st_ino == ino


def test_port_requests() -> None:
    host = HostConfig(
        port_bindings={
            "80/tcp": [HostPortBinding("", "8080")],
            "53/udp": [HostPortBinding("0.0.0.0", "")],
        },
        publish_all_ports=True,
    )
    got = ports.requested(host, ["80/tcp", "443/tcp", "9000"])
    assert got == [
        {"container_port": 80, "protocol": "tcp", "host_ip": "", "host_port": 8080},
        {"container_port": 53, "protocol": "udp", "host_ip": "", "host_port": 0},
        {"container_port": 443, "protocol": "tcp", "host_ip": "", "host_port": 0},
        {"container_port": 9000, "protocol": "tcp", "host_ip": "", "host_port": 0},
    ]
    assert ports.requested(HostConfig(), ["80/tcp"]) == []
    for bad in ({"1/sctp": [HostPortBinding()]}, {"1/tcp": [HostPortBinding("::1")]}):
        with pytest.raises(InvalidArgument):
            ports.requested(HostConfig(port_bindings=bad), [])


def test_port_check_picks_free_ports_and_reports_a_busy_one() -> None:
    picked = ports.check_and_pick(
        [{"container_port": 80, "protocol": "tcp", "host_ip": "127.0.0.1", "host_port": 0}] * 2
    )
    assert picked[0]["host_port"] != picked[1]["host_port"] and all(p["host_port"] for p in picked)
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        busy = s.getsockname()[1]
        with pytest.raises(Conflict, match="already in use"):
            ports.check_and_pick(
                [{"container_port": 80, "protocol": "tcp", "host_ip": "127.0.0.1", "host_port": busy}]
            )
    assert ports.state_entries([{"container_port": 1, "protocol": "udp", "host_ip": "", "host_port": 5}]) == [
        {"container_port": 1, "protocol": "udp", "host_ip": "0.0.0.0", "host_port": 5}
    ]


def test_subnets_and_gateways() -> None:
    assert str(parse_subnet("10.1.2.3/24")) == "10.1.2.0/24"
    for bad in ("10.1.2.0/30", "fd00::/64", "nonsense"):
        with pytest.raises(InvalidArgument):
            parse_subnet(bad)
    net = ipaddress.IPv4Network("10.1.2.0/24")
    assert str(check_gateway(net, None)) == "10.1.2.1"
    assert str(check_gateway(net, "10.1.2.254")) == "10.1.2.254"
    for bad in ("10.1.3.1", "10.1.2.0", "10.1.2.255"):
        with pytest.raises(InvalidArgument):
            check_gateway(net, bad)
    taken = [ipaddress.IPv4Network("10.50.0.0/24"), ipaddress.IPv4Network("10.50.1.128/25")]
    assert str(pick_subnet([{"base": "10.50.0.0/16", "size": 24}], taken)) == "10.50.2.0/24"
    assert pick_subnet([{"base": "10.50.0.0/23", "size": 24}], taken) is None


def test_names_are_stable_and_fit_ifnamsiz() -> None:
    assert mac_for("10.213.1.2") == "02:42:0a:d5:01:02"
    v = veth_name("a" * 64, "b" * 64)
    assert v == veth_name("a" * 64, "b" * 64) and len(v) <= 15 and v != veth_name("a" * 64, "c" * 64)


def test_network_records(tmp_path: Path) -> None:
    cfg = Config(root=tmp_path / "root", run=tmp_path / "run", bip="10.60.0.1/24",
                 address_pools=[{"base": "10.60.0.0/16", "size": 24}])  # fmt: skip
    store = NetworkStore(Paths(cfg.root, cfg.run), cfg)
    default = store.resolve("default")
    assert default.name == "bridge" and default.subnet == "10.60.0.0/24" and not default.dns
    assert store.resolve("bridge").id == default.id
    a = store.create("alpha")
    assert a.subnet == "10.60.1.0/24" and a.gateway == "10.60.1.1" and a.dns and a.bridge == f"dy-{a.id[:12]}"
    b = store.create("beta", subnet="10.70.0.0/24", gateway="10.70.0.254", internal=True, labels={"k": "v"})
    assert (b.gateway, b.internal, b.labels) == ("10.70.0.254", True, {"k": "v"})
    assert store.resolve(a.id[:10]).name == "alpha"
    with pytest.raises(Conflict, match="already exists"):
        store.create("alpha")
    with pytest.raises(Conflict, match="overlaps"):
        store.create("gamma", subnet="10.70.0.128/25")
    for reserved in ("host", "none", "bridge", "default"):
        with pytest.raises(Conflict):
            store.create(reserved)
    with pytest.raises(InvalidArgument):
        store.create("bad name")
    with pytest.raises(NetworkNotFound):
        store.resolve("nope")
    store.delete_record(a)
    assert [n.name for n in store.all()] == ["bridge", "beta"]


def test_daemon_json_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "daemon.json").write_text(
        json.dumps(
            {
                "bridge": "dyx0",
                "bip": "10.61.0.1/24",
                "mtu": 1400,
                "nft-table": "dyx",
                "default-address-pools": [{"base": "10.62.0.0/16", "size": 26}],
            }
        )
    )
    monkeypatch.delenv("DOCKYARD_CONFIG", raising=False)
    cfg = Config.load(root=root, run=tmp_path / "run")
    assert (cfg.bridge, cfg.bip, cfg.mtu, cfg.nft_table) == ("dyx0", "10.61.0.1/24", 1400, "dyx")
    assert cfg.address_pools == [{"base": "10.62.0.0/16", "size": 26}]
    (root / "daemon.json").write_text(json.dumps({"default-address-pools": "10.0.0.0/8"}))
    with pytest.raises(InvalidArgument):
        Config.load(root=root, run=tmp_path / "run")


def test_aliases_cannot_inject_hosts_lines() -> None:
    from core.network.manager import check_aliases

    assert check_aliases(["db", "db.internal", "db_1"]) == ["db", "db.internal", "db_1"]
    for bad in ("a b", "x\n10.0.0.1 evil", "", "-lead"):
        with pytest.raises(InvalidArgument):
            check_aliases([bad])
