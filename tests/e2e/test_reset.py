"""``system reset``: running and stopped containers (one on a user network with a published port), volumes
and images go, and afterwards nothing of the engine is left on the host: no bridge, no nft table, no mount
under its root or run dir, no cgroup folder, no shim, no state; then the engine works again."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from core.config import Config
from core.runtime import cgroups
from tests.testbed import Testbed
from tests.testbed.common import shims_under
from tests.testbed.registry import free_port

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")

DOCKYARD = str(Path(sys.executable).with_name("dockyard"))


def cli(cfg: Config, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DOCKYARD_ROOT", "DOCKYARD_RUN")}
    env["DOCKYARD_RUN"] = str(cfg.run)
    return subprocess.run(
        [DOCKYARD, "--root", str(cfg.root), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
    )


def ok(cfg: Config, *args: str, stdin: str | None = None) -> str:
    r = cli(cfg, *args, stdin=stdin)
    assert r.returncode == 0, f"{args}: {r.stderr}"
    assert "Traceback" not in r.stderr
    return r.stdout


def link_exists(name: str) -> bool:
    return subprocess.run(["ip", "link", "show", name], capture_output=True, check=False).returncode == 0


def nft_table_exists(table: str) -> bool:
    r = subprocess.run(["nft", "list", "table", "ip", table], capture_output=True, check=False)
    return r.returncode == 0


def mounts_under(*tops: Path) -> list[str]:
    out = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split(" ")[4]
        if any(point == str(t) or point.startswith(f"{t}/") for t in tops):
            out.append(point)
    return out


def running(pid: int) -> bool:
    """Not gone and not a zombie (an orphan's zombie waits for the host's init to reap it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def cgroup_dirs(parent: str) -> list[Path]:
    """The parent's folders in every hierarchy (v1 controllers and the cgroup2 tree)."""
    roots = list(cgroups.v1_roots().values())
    try:
        roots.append(cgroups.v2_root())
    except Exception:
        pass
    return [root / parent for root in dict.fromkeys(roots) if (root / parent).exists()]


def test_reset_leaves_nothing_of_the_engine(testbed: Testbed, engine_config: Config) -> None:
    cfg = engine_config
    ref = testbed.ref("busybox:latest")
    ok(cfg, "pull", "-q", ref)
    ok(cfg, "pull", "-q", testbed.ref("whiteout:latest"))  # an image no container uses
    ok(cfg, "network", "create", "resetnet")
    bridge = json.loads(ok(cfg, "network", "inspect", "resetnet"))[0]["Options"][
        "com.docker.network.bridge.name"
    ]
    # a bridge whose network record is gone (a crash in `network create` between the two)
    ok(cfg, "network", "create", "orphan")
    orphan = json.loads(ok(cfg, "network", "inspect", "orphan"))[0]
    (cfg.paths.networks / f"{orphan['Id']}.json").unlink()
    orphan_bridge = orphan["Options"]["com.docker.network.bridge.name"]
    # and one whose record is damaged (which makes every lookup of a network by name fail)
    ok(cfg, "network", "create", "damaged")
    damaged = json.loads(ok(cfg, "network", "inspect", "damaged"))[0]
    damaged_bridge = damaged["Options"]["com.docker.network.bridge.name"]
    ok(cfg, "volume", "create", "keepme")
    port = free_port()
    ok(cfg, "run", "-d", "--name", "web", "--network", "resetnet", "-p", f"127.0.0.1:{port}:80",
       "-v", "keepme:/data", ref, "sleep", "300")  # fmt: skip
    [web_shim] = shims_under(cfg.root)
    web_pid = json.loads(ok(cfg, "inspect", "web"))[0]["State"]["Pid"]
    # on the default bridge, and one its shim would start again if it merely died
    ok(cfg, "run", "-d", "--name", "idle", "--restart", "always", ref, "sleep", "300")
    ok(cfg, "run", "--name", "done", ref, "true")  # stopped
    ok(cfg, "run", "-d", "--name", "paused", "--network", "none", ref, "sleep", "300")
    ok(cfg, "pause", "paused")

    # what there is to remove (so the checks below can fail)
    assert link_exists(cfg.bridge) and link_exists(bridge) and link_exists(orphan_bridge)
    assert link_exists(damaged_bridge)
    assert nft_table_exists(cfg.nft_table)
    assert mounts_under(cfg.run)  # the shared netns dir and the containers' namespaces
    assert cgroup_dirs(cfg.cgroup_parent)
    assert shims_under(cfg.root)

    # no confirmation, no reset: a "no", and end of input (a pipe, a script)
    for answer in ("n\n", ""):
        out = ok(cfg, "system", "reset", stdin=answer)
        assert out.startswith("WARNING! This will remove:") and "[y/N]" in out
        assert str(cfg.root) in out
        assert len(ok(cfg, "ps", "-a", "-q").split()) == 4

    (cfg.paths.networks / f"{damaged['Id']}.json").write_text('{"name": ')
    # a supervisor killed with -9: its container runs on, unsupervised, with its network and cgroup
    os.kill(web_shim, signal.SIGKILL)
    assert ok(cfg, "system", "reset", "-f") == ""
    assert not running(web_pid), "the unsupervised container's process is left"

    assert not link_exists(cfg.bridge), "the default bridge is left"
    assert not link_exists(bridge), "the user network's bridge is left"
    assert not link_exists(orphan_bridge), "the bridge of a network without a record is left"
    assert not link_exists(damaged_bridge), "the bridge of a network with a damaged record is left"
    assert not nft_table_exists(cfg.nft_table), "the nft table is left"
    assert mounts_under(cfg.root, cfg.run) == []
    assert cgroup_dirs(cfg.cgroup_parent) == []
    assert shims_under(cfg.root) == []
    assert sorted(os.listdir(cfg.root)) == ["daemon.json"]  # the settings stay
    assert not cfg.run.exists() or os.listdir(cfg.run) == []
    assert ok(cfg, "ps", "-a", "-q") == ""
    assert ok(cfg, "images", "-q") == ""
    assert ok(cfg, "volume", "ls", "-q") == ""
    assert [line.split()[1] for line in ok(cfg, "network", "ls").splitlines()[1:]] == [
        "bridge",
        "host",
        "none",
    ]

    # and the engine works again: a pull, a published port, a user network
    ok(cfg, "network", "create", "again")
    out = ok(cfg, "run", "--rm", "--network", "again", "-p", f"127.0.0.1:{port}:80", ref, "echo", "back")
    assert out.strip() == "back"
    assert ok(cfg, "run", "--rm", ref, "echo", "default").strip() == "default"
    ok(cfg, "system", "reset", "-f")
    assert not link_exists(cfg.bridge) and not nft_table_exists(cfg.nft_table)
    assert sorted(os.listdir(cfg.root)) == ["daemon.json"]


def test_reset_leaves_a_bridge_another_engine_uses(testbed: Testbed, engine_config: Config) -> None:
    """Two engines configured with the same bridge name: a reset does not cut the other's containers off;
    it says so (exit 1, one line), and a second reset once they are gone finishes the job."""
    cfg = engine_config
    ok(cfg, "run", "--rm", testbed.ref("busybox:latest"), "true")  # makes the default bridge
    foreign = f"dyr{os.getpid() % 100000}"
    # a veth pair (the kernel here has no dummy links); its peer goes when it is deleted
    subprocess.run(["ip", "link", "add", foreign, "type", "veth", "peer", "name", foreign + "p"], check=True)
    try:
        subprocess.run(["ip", "link", "set", foreign, "master", cfg.bridge], check=True)
        r = cli(cfg, "system", "reset", "-f")
        assert r.returncode == 1, r.stderr
        assert r.stderr.startswith("Error: system reset: bridge ") and len(r.stderr.splitlines()) == 1
        assert link_exists(cfg.bridge) and link_exists(foreign)
        assert ok(cfg, "images", "-q") == ""  # the rest was done
    finally:
        subprocess.run(["ip", "link", "delete", foreign], check=False, capture_output=True)
    ok(cfg, "system", "reset", "-f")
    assert not link_exists(cfg.bridge) and not nft_table_exists(cfg.nft_table)
    assert sorted(os.listdir(cfg.root)) == ["daemon.json"]


def test_reset_of_an_engine_that_holds_nothing(engine_config: Config) -> None:
    """Nothing to remove is fine, and a reset can be run again (it is how a failed one is finished)."""
    for _ in range(2):
        assert ok(engine_config, "system", "reset", "-f") == ""
        assert sorted(os.listdir(engine_config.root)) == ["daemon.json"]
        assert not engine_config.run.exists() or os.listdir(engine_config.run) == []
