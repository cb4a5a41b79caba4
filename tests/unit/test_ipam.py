"""IPAM: round-robin allocation, reserved addresses, fixed addresses, exhaustion and reclaiming, release,
and many processes allocating at once (file lock) never getting the same address."""

from __future__ import annotations

import ipaddress
import multiprocessing
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.config import Paths
from core.errors import Conflict, InvalidArgument
from core.network.ipam import Ipam, next_free, reserved
from core.network.layout import NetPaths

NET_ID = "a" * 64
OTHER_ID = "b" * 64


def owner(i: int) -> str:
    return f"{i:064x}"


@pytest.fixture
def ipam(tmp_path: Path) -> Ipam:
    return Ipam(NetPaths(Paths(tmp_path / "root", tmp_path / "run")))


def test_hands_out_in_order_skipping_network_gateway_and_broadcast(ipam: Ipam) -> None:
    got = [ipam.allocate(NET_ID, "10.9.0.0/29", "10.9.0.1", owner(i)) for i in range(5)]
    assert got == ["10.9.0.2", "10.9.0.3", "10.9.0.4", "10.9.0.5", "10.9.0.6"]
    with pytest.raises(Conflict, match="no free address"):
        ipam.allocate(NET_ID, "10.9.0.0/29", "10.9.0.1", owner(99))


def test_round_robin_does_not_reuse_a_freed_address_at_once(ipam: Ipam) -> None:
    a = ipam.allocate(NET_ID, "10.9.0.0/24", "10.9.0.1", owner(1))
    assert ipam.release(NET_ID, owner(1)) == [a]
    b = ipam.allocate(NET_ID, "10.9.0.0/24", "10.9.0.1", owner(2))
    assert b != a and ipaddress.IPv4Address(b) > ipaddress.IPv4Address(a)


def test_wraps_round_and_reuses_freed_addresses_when_the_end_is_reached(ipam: Ipam) -> None:
    got = [ipam.allocate(NET_ID, "10.9.0.0/29", "10.9.0.1", owner(i)) for i in range(5)]
    ipam.release(NET_ID, owner(1))  # 10.9.0.3
    assert ipam.allocate(NET_ID, "10.9.0.0/29", "10.9.0.1", owner(7)) == got[1]


def test_gateway_anywhere_in_the_subnet_is_skipped(ipam: Ipam) -> None:
    got = [ipam.allocate(NET_ID, "10.9.0.0/29", "10.9.0.3", owner(i)) for i in range(5)]
    assert "10.9.0.3" not in got and len(set(got)) == 5


def test_same_owner_gets_its_address_again(ipam: Ipam) -> None:
    a = ipam.allocate(NET_ID, "10.9.0.0/24", "10.9.0.1", owner(1))
    assert ipam.allocate(NET_ID, "10.9.0.0/24", "10.9.0.1", owner(1)) == a
    assert list(ipam.allocations(NET_ID).values()) == [owner(1)]


def test_fixed_address(ipam: Ipam) -> None:
    assert ipam.allocate(NET_ID, "10.9.0.0/24", "10.9.0.1", owner(1), want="10.9.0.50") == "10.9.0.50"
    with pytest.raises(Conflict, match="already in use"):
        ipam.allocate(NET_ID, "10.9.0.0/24", "10.9.0.1", owner(2), want="10.9.0.50")
    for bad, why in (("10.9.1.5", "not in the subnet"), ("10.9.0.1", "reserved"), ("10.9.0.255", "reserved"),
                     ("10.9.0.0", "reserved"), ("nope", "invalid IP")):  # fmt: skip
        with pytest.raises(InvalidArgument, match=why):
            ipam.allocate(NET_ID, "10.9.0.0/24", "10.9.0.1", owner(3), want=bad)
    # dynamic allocation goes round the fixed one
    got = {ipam.allocate(NET_ID, "10.9.0.0/24", "10.9.0.1", owner(i)) for i in range(10, 70)}
    assert "10.9.0.50" not in got


def test_fixed_address_of_a_dead_owner_is_reclaimed(ipam: Ipam) -> None:
    ipam.allocate(NET_ID, "10.9.0.0/24", "10.9.0.1", owner(1), want="10.9.0.7")
    got = ipam.allocate(
        NET_ID, "10.9.0.0/24", "10.9.0.1", owner(2), want="10.9.0.7", alive=lambda o: o != owner(1)
    )
    assert got == "10.9.0.7"
    assert ipam.allocations(NET_ID) == {"10.9.0.7": owner(2)}


def test_exhausted_network_reclaims_dead_owners_only(ipam: Ipam) -> None:
    for i in range(5):
        ipam.allocate(NET_ID, "10.9.0.0/29", "10.9.0.1", owner(i))
    for i in (*range(5), 9, 10):  # containers that exist: no liveness probe unless the network is full
        ipam.np.paths.container(owner(i)).mkdir(parents=True)
    dead = {owner(2), owner(4)}
    alive_calls: list[str] = []

    def alive(o: str) -> bool:
        alive_calls.append(o)
        return o not in dead

    a = ipam.allocate(NET_ID, "10.9.0.0/29", "10.9.0.1", owner(9), alive=alive)
    assert a in ("10.9.0.4", "10.9.0.6")
    held = ipam.allocations(NET_ID)
    assert owner(2) not in held.values() and owner(4) not in held.values()
    assert {owner(0), owner(1), owner(3), owner(9)} <= set(held.values())
    # liveness is asked only because the network was full
    alive_calls.clear()
    ipam.release(NET_ID, owner(0))
    ipam.allocate(NET_ID, "10.9.0.0/29", "10.9.0.1", owner(10), alive=alive)
    assert alive_calls == []


def test_release_and_networks_are_per_network(ipam: Ipam) -> None:
    a = ipam.allocate(NET_ID, "10.9.0.0/24", "10.9.0.1", owner(1))
    b = ipam.allocate(OTHER_ID, "10.8.0.0/24", "10.8.0.1", owner(1))
    assert sorted(ipam.networks()) == sorted([NET_ID, OTHER_ID])
    assert ipam.release(NET_ID, owner(1)) == [a]
    assert ipam.allocations(OTHER_ID) == {b: owner(1)}
    ipam.release_everywhere(owner(1))
    assert ipam.allocations(OTHER_ID) == {}
    assert ipam.release(NET_ID, owner(5)) == []
    ipam.drop(NET_ID)
    assert NET_ID not in ipam.networks()


@given(
    prefix=st.integers(min_value=24, max_value=29),
    taken=st.sets(st.integers(min_value=0, max_value=255)),
    after=st.one_of(st.none(), st.integers(min_value=0, max_value=255)),
)
def test_next_free_is_the_first_free_address_after_the_last(
    prefix: int, taken: set[int], after: int | None
) -> None:
    net = ipaddress.IPv4Network(f"10.1.2.0/{prefix}")
    gw = net.network_address + 1
    hosts = [int(h) for h in net.hosts()]
    skip = reserved(net, gw) | {int(net.network_address) + t for t in taken}
    last = (
        None if after is None else ipaddress.IPv4Address(int(net.network_address) + after % net.num_addresses)
    )
    got = next_free(net, skip, last)
    free = [h for h in hosts if h not in skip]
    if not free:
        assert got is None
        return
    assert got is not None and int(got) in free
    start = int(last) + 1 if last is not None and hosts[0] <= int(last) < hosts[-1] else hosts[0]
    order = [h for h in hosts if h >= start] + [h for h in hosts if h < start]
    assert int(got) == next(h for h in order if h not in skip)


def _grab(args: tuple[str, int, int]) -> list[str]:
    base, worker, count = args
    ipam = Ipam(NetPaths(Paths(Path(base) / "root", Path(base) / "run")))
    return [ipam.allocate(NET_ID, "10.7.0.0/22", "10.7.0.1", owner(worker * 1000 + i)) for i in range(count)]


def test_processes_allocating_at_once_never_share_an_address(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(6) as pool:
        results = pool.map(_grab, [(str(tmp_path), w, 40) for w in range(6)])
    flat = [ip for r in results for ip in r]
    assert len(flat) == 240 and len(set(flat)) == 240
    ipam = Ipam(NetPaths(Paths(tmp_path / "root", tmp_path / "run")))
    assert sorted(ipam.allocations(NET_ID)) == sorted(flat)
