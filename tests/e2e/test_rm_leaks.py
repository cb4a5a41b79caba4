"""What removal frees, end to end: ``run --rm`` returns only once its container is gone, a ``--rm``
container goes whatever stops it (a start that fails, a shim that dies), ``rm`` of a container a killed start
left frees its namespace, veth, address and endpoint record, and addresses of containers that no longer
exist are reclaimed (allocation, ``network prune``)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from core.config import Config
from core.engine import LocalEngine
from core.network import endpoints
from core.network.layout import NetPaths
from tests.testbed.common import shims_under

DOCKYARD = str(Path(sys.executable).with_name("dockyard"))

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
    pytest.mark.skipif(shutil.which("nft") is None, reason="needs nftables (nft)"),
]


@dataclass
class Env:
    config: Config
    engine: LocalEngine
    ref: str  # the test bed's busybox, pulled

    @property
    def np(self) -> NetPaths:
        return NetPaths(self.config.paths)

    def cli(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [DOCKYARD, "--root", str(self.config.root), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, "DOCKYARD_RUN": str(self.config.run)},
            stdin=subprocess.DEVNULL,
        )

    def ok(self, *args: str) -> str:
        r = self.cli(*args)
        assert r.returncode == 0, f"dockyard {' '.join(args)} -> {r.returncode}: {r.stderr}"
        return r.stdout

    def default_network(self) -> str:
        self.ok("run", "--rm", self.ref, "true")  # makes the default network's bridge
        return next(n.id for n in self.engine.list_networks() if n.name == "bridge")

    def ipam(self, nid: str) -> dict[str, str]:
        path = self.np.ipam / f"{nid}.json"
        return dict(json.loads(path.read_text())["allocated"]) if path.exists() else {}


@pytest.fixture
def env(testbed, engine_config: Config) -> Iterator[Env]:  # type: ignore[no-untyped-def]
    engine = LocalEngine(engine_config)
    ref = testbed.ref("busybox:latest")
    engine.pull(ref)
    yield Env(engine_config, engine, ref)


def test_run_rm_returns_once_the_container_is_gone(env: Env) -> None:
    """An ``rmi`` right after ``run --rm`` found the container still there ("used by container", a
    ``.tmp-*`` directory in containers/) 8 times in 20; ``rmi -f`` then left a ``<none>`` image."""
    for _ in range(6):
        env.ok("run", "--rm", env.ref, "true")
        assert os.listdir(env.config.paths.containers) == []
        env.ok("rmi", env.ref)
        assert env.engine.list_images() == []
        env.engine.pull(env.ref)


def test_run_rm_that_cannot_start_leaves_no_container(env: Env, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-dir"
    for detach in ([], ["-d"]):
        r = env.cli("run", *detach, "--rm", "--mount", f"type=bind,src={missing},dst=/x", env.ref, "true")
        assert r.returncode == 125 and "bind source path does not exist" in r.stderr, r.stderr
        assert env.ok("ps", "-aq") == ""
    # a start that fails in the shim (no such command): gone by the time run -d returns
    r = env.cli("run", "-d", "--rm", env.ref, "nosuchcmd")
    assert r.returncode == 127, r.stderr
    assert os.listdir(env.config.paths.containers) == []
    # a created --rm container whose start fails goes too (docker's daemon removes it): its --mount source
    # goes away between the create and the start
    missing.mkdir()
    cid = env.ok("create", "--rm", "--mount", f"type=bind,src={missing},dst=/x", env.ref, "true").strip()
    missing.rmdir()
    assert env.cli("start", cid).returncode != 0
    assert env.ok("ps", "-aq") == ""


def test_rm_container_whose_shim_died_is_removed(env: Env) -> None:
    nid = env.default_network()
    cid = env.ok("run", "-d", "--rm", env.ref, "sleep", "100").strip()
    for pid in shims_under(env.config.root):
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while shims_under(env.config.root) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert env.ok("ps", "-aq") == ""  # gone, as its shim would have removed it
    assert not env.config.paths.container(cid).exists()
    assert endpoints.load(env.np, cid) is None
    assert not os.path.lexists(env.np.netns(cid))
    assert cid not in env.ipam(nid).values()


def test_rm_of_a_created_container_frees_what_a_killed_start_made(env: Env) -> None:
    """A ``run -d`` killed after the network was made: the container stays Created with a namespace, a veth,
    an address and an endpoint record, which ``rm -f`` must free (not the next networked start)."""
    nid = env.default_network()
    cid = env.ok("create", env.ref, "true").strip()
    rec = env.engine.lifecycle.store.load(cid)
    env.engine.lifecycle.networks().prepare_start(rec)  # what the killed start got done
    veth = endpoints.veth_name(cid, nid)
    assert os.path.exists(f"/sys/class/net/{veth}") and os.path.lexists(env.np.netns(cid))
    env.ok("rm", "-f", cid)
    assert not os.path.exists(f"/sys/class/net/{veth}")
    assert not os.path.lexists(env.np.netns(cid))
    assert endpoints.load(env.np, cid) is None
    assert cid not in env.ipam(nid).values()


def test_addresses_of_containers_that_are_gone_are_reclaimed(env: Env) -> None:
    nid = env.default_network()
    path = env.np.ipam / f"{nid}.json"
    ghost = "e" * 64  # a start killed between the address and the endpoint record, then removed

    def haunt() -> None:
        data = json.loads(path.read_text())
        data["allocated"][_inside(data)] = ghost
        path.write_text(json.dumps(data))

    haunt()
    cid = env.ok("run", "-d", env.ref, "sleep", "100").strip()
    assert ghost not in env.ipam(nid).values()  # the allocation dropped it, under the IPAM lock
    env.ok("rm", "-f", cid)
    haunt()
    env.ok("network", "prune", "-f")
    assert ghost not in env.ipam(nid).values()


def _inside(data: dict[str, object]) -> str:
    """An address of the network's subnet that nobody holds."""
    import ipaddress

    net = ipaddress.IPv4Network(str(data["subnet"]))
    held = set(data["allocated"])  # type: ignore[arg-type]
    return next(str(a) for a in list(net.hosts())[::-1] if str(a) not in held)


def test_run_rm_attached_whose_shim_dies_leaves_nothing(env: Env) -> None:
    proc = subprocess.Popen(
        [DOCKYARD, "--root", str(env.config.root), "run", "--rm", env.ref, "sleep", "100"],
        env={**os.environ, "DOCKYARD_RUN": str(env.config.run)},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while not any(
            json.loads((d / "state.json").read_text()).get("status") == "running"
            for d in env.config.paths.containers.glob("[0-9a-f]*")
        ):
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.02)
        for pid in shims_under(env.config.root):
            os.kill(pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert os.listdir(env.config.paths.containers) == []  # gone when run returned, not at the next ps
