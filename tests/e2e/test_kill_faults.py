"""Fault campaign: ``kill -9`` of ``dockyard run -d``, ``dockyard rm -f`` and of a shim at seeded random
moments, then the commands a user would type next (``ps -a``, ``rm -f`` of whatever is listed), then a look
at the store and the host for anything a container held that is still there: mounts under the root,
namespaces, veths, cgroups, nft rules, endpoint and IPAM records, lock files, temp files.

A few trials of each kind by default; ``DOCKYARD_FAULT_TRIALS=60`` (say) for a real campaign and
``DOCKYARD_FAULT_SEED`` to replay one. Every trial's leaks are collected and reported together with the
seed, and a summary line (trials, failing trials, leaks) is printed for the record.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from core.config import Config
from core.engine import LocalEngine
from core.network import endpoints
from core.network.layout import NetPaths
from tests.testbed.common import shims_under

DOCKYARD = str(Path(sys.executable).with_name("dockyard"))
TRIALS = int(os.environ.get("DOCKYARD_FAULT_TRIALS", "3"))
SEED = int(os.environ.get("DOCKYARD_FAULT_SEED", "11"))
HEX64 = re.compile(r"[0-9a-f]{64}")

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
    pytest.mark.skipif(shutil.which("nft") is None, reason="needs nftables (nft)"),
]


@dataclass
class Bed:
    config: Config
    engine: LocalEngine
    network_ids: list[str]
    seen: set[str] = field(default_factory=set)  # every container id met, for the veth check

    def cli(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [DOCKYARD, "--root", str(self.config.root), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, "DOCKYARD_RUN": str(self.config.run)},
            stdin=subprocess.DEVNULL,
        )

    def spawn(self, *args: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [DOCKYARD, "--root", str(self.config.root), *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "DOCKYARD_RUN": str(self.config.run)},
        )

    def timed(self, *args: str) -> float:
        t0 = time.monotonic()
        r = self.cli(*args)
        assert r.returncode == 0, r.stderr
        return time.monotonic() - t0

    def kill_at(self, delay: float, *args: str) -> None:
        proc = self.spawn(*args)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)

    def note_ids(self) -> None:
        """Remember every container id the store, the run dir or the event log mentions."""
        paths = self.config.paths
        for d in (paths.containers, NetPaths(paths).endpoints, paths.netns):
            with_ids = os.listdir(d) if d.is_dir() else []
            self.seen.update(m.group(0) for name in with_ids for m in HEX64.finditer(name))
        if paths.events.exists():
            self.seen.update(HEX64.findall(paths.events.read_text(errors="replace")))

    def clean_up(self) -> None:
        """What a user does after a crash: list everything, force-remove everything listed."""
        self.note_ids()
        listed = self.cli("ps", "-aq", "--no-trunc")
        assert listed.returncode == 0, listed.stderr
        ids = listed.stdout.split()
        if ids:
            r = self.cli("rm", "-f", *ids)
            assert r.returncode == 0, r.stderr
        # the shims of the removed containers finish their own tear-down after rm returned
        deadline = time.monotonic() + 10
        while shims_under(self.config.root) and time.monotonic() < deadline:
            time.sleep(0.02)

    def leaks(self) -> list[str]:
        """What is left of containers that no longer exist (after clean_up, none exists)."""
        paths = self.config.paths
        np = NetPaths(paths)
        out: list[str] = []
        left = sorted(os.listdir(paths.containers)) if paths.containers.is_dir() else []
        out += [f"container dir {n}" for n in left]
        root, run = str(self.config.root.resolve()), str(self.config.run.resolve())
        for line in Path("/proc/self/mountinfo").read_text().splitlines():
            mnt = line.split()[4]
            # the netns directory itself is a shared mount the engine keeps (namespaces are bound in it)
            if mnt.startswith((root + "/", run + "/")) and mnt != str(paths.netns.resolve()):
                out.append(f"mount {mnt}")
        if paths.netns.is_dir():
            out += [f"netns {n}" for n in os.listdir(paths.netns)]
        out += [f"endpoint record {a.cid[:12]}" for a in endpoints.all_attachments(np)]
        if np.ipam.is_dir():
            for name in os.listdir(np.ipam):
                if name.endswith(".json"):
                    alloc = json.loads((np.ipam / name).read_text()).get("allocated", {})
                    out += [f"IPAM {ip} for {owner[:12]}" for ip, owner in alloc.items()]
        for cid in self.seen:
            for nid in self.network_ids:
                veth = endpoints.veth_name(cid, nid)
                if os.path.exists(f"/sys/class/net/{veth}"):
                    out.append(f"veth {veth} of {cid[:12]}")
        parent = os.environ.get("DOCKYARD_CGROUP_PARENT", "dockyard")
        for ctrl in Path("/sys/fs/cgroup").iterdir():
            base = ctrl / parent
            if base.is_dir():
                out += [f"cgroup {p}" for p in base.iterdir() if p.is_dir()]
        nft = subprocess.run(
            ["nft", "list", "table", "ip", self.config.nft_table], capture_output=True, text=True
        )
        out += [f"nft rule: {line.strip()}" for line in nft.stdout.splitlines() if "dnat to" in line]
        if paths.locks.is_dir():
            out += [
                f"lock file {n}" for n in os.listdir(paths.locks) if n.startswith(("container-", "shim-"))
            ]
        for top in (self.config.root, self.config.run):
            for dirpath, dirnames, filenames in os.walk(top):
                out += [f"temp {dirpath}/{n}" for n in dirnames + filenames if n.startswith(".tmp-")]
        return out


@pytest.fixture
def bed(testbed, engine_config: Config) -> Iterator[Bed]:  # type: ignore[no-untyped-def]
    engine = LocalEngine(engine_config)
    engine.pull(testbed.ref("busybox:latest"))
    engine.tag_image(testbed.ref("busybox:latest"), "busybox")
    b = Bed(engine_config, engine, [])
    # one networked start first: it makes the default network's bridge, and gives the typical durations
    b.timed("run", "--rm", "busybox", "true")
    b.network_ids = [n.id for n in engine.list_networks() if n.driver == "bridge"]
    yield b


def _wait_dead(pids: list[int], timeout: float = 10) -> None:
    """Until each pid is gone or a zombie (init may be slow to reap, or never do it)."""
    deadline = time.monotonic() + timeout
    for pid in pids:
        while time.monotonic() < deadline:
            try:
                state = Path(f"/proc/{pid}/stat").read_bytes().rsplit(b") ", 1)[1][:1]
            except (FileNotFoundError, ProcessLookupError):
                break
            if state in (b"Z", b"X"):
                break
            time.sleep(0.005)


def _campaign(bed: Bed, kind: str, trial: Callable[[int], str]) -> None:
    """Run the trials of one kind; every trial's new leaks are reported together, with the seed. A leak
    stays for good, so a trial is counted as failed only for what it added."""
    failures: list[str] = []
    known: set[str] = set()
    for i in range(TRIALS):
        detail = trial(i)
        bed.clean_up()
        found = [leak for leak in bed.leaks() if leak not in known]
        if found:
            known.update(found)
            failures.append(f"trial {i} ({detail}): " + "; ".join(found[:8]))
    summary = (
        f"fault campaign {kind}: seed {SEED}, {TRIALS} trials, {len(failures)} left something, "
        f"{len(known)} leaks"
    )
    sys.stderr.write(summary + "\n")
    assert not failures, summary + "\n" + "\n".join(failures)


def test_kill_run_detached_at_random_moments(bed: Bed) -> None:
    rng = random.Random(SEED)
    span = bed.timed("run", "-d", "busybox", "sleep", "100") * 1.2
    bed.clean_up()

    def trial(i: int) -> str:
        delay = rng.uniform(0, span)
        args = ["run", "-d", "busybox", "sleep", "100"]
        if rng.random() < 0.3:
            args[2:2] = ["-p", "127.0.0.1::80"]  # a published port: nft rules too
        bed.kill_at(delay, *args)
        return f"{' '.join(args[:-3])} killed after {delay * 1000:.0f} ms"

    _campaign(bed, "run -d", trial)


def test_kill_rm_force_at_random_moments(bed: Bed) -> None:
    rng = random.Random(SEED + 1)
    cid = bed.cli("run", "-d", "busybox", "sleep", "100").stdout.strip()
    span = bed.timed("rm", "-f", cid) * 1.2

    def trial(i: int) -> str:
        args = ["run", "-d", "busybox", "sleep", "100"]
        if rng.random() < 0.3:
            args = ["create", "busybox", "true"]  # never started: removal of a created container
        r = bed.cli(*args)
        assert r.returncode == 0, r.stderr
        delay = rng.uniform(0, span)
        bed.kill_at(delay, "rm", "-f", r.stdout.strip())
        return f"rm -f of a {args[0]} container killed after {delay * 1000:.0f} ms"

    _campaign(bed, "rm -f", trial)


def test_kill_shim_at_random_moments(bed: Bed) -> None:
    rng = random.Random(SEED + 2)

    def trial(i: int) -> str:
        life = rng.uniform(0, 0.3)
        rm = rng.random() < 0.6
        args = ["run", "-d", *(["--rm"] if rm else []), "busybox", "sleep", f"{life:.2f}"]
        r = bed.cli(*args)
        assert r.returncode == 0, r.stderr
        delay = rng.uniform(0, life + 0.1)  # while it runs, and around its exit (hiding, tear-down)
        time.sleep(delay)
        killed = shims_under(bed.config.root)
        for pid in killed:
            os.kill(pid, signal.SIGKILL)
        _wait_dead(killed)  # SIGKILL lands asynchronously: the user's next command comes after it
        return f"shim of {' '.join(args[1:-2])} (life {life:.2f} s) killed after {delay * 1000:.0f} ms"

    _campaign(bed, "shim", trial)


def _store_entries(config: Config) -> set[str]:
    """Every blob, layer and temp entry of the image store."""
    paths = config.paths
    out: set[str] = set()
    for d in (paths.blobs, paths.root / "layers", paths.tmp):
        if d.is_dir():
            out.update(
                f"{d.name}/{p.relative_to(d)}" for p in d.rglob("*") if p.parent == d or d.name == "blobs"
            )
    return out


def test_kill_pull_at_random_moments(bed: Bed, testbed) -> None:  # type: ignore[no-untyped-def]
    """kill -9 of a pull, then what a user does next: prune, pull again (which must resume and succeed),
    remove the image. Nothing of the killed pull may outlive that: no temp entry, no blob, no layer."""
    rng = random.Random(SEED + 3)
    ref = testbed.ref("whiteout:latest")  # three layers: kills land between layers too
    before = _store_entries(bed.config)
    span = bed.timed("pull", ref) * 1.2
    assert bed.cli("rmi", ref).returncode == 0
    assert _store_entries(bed.config) == before
    failures: list[str] = []
    for i in range(TRIALS):
        delay = rng.uniform(0, span)
        bed.kill_at(delay, "pull", ref)
        found = []
        r = bed.cli("image", "prune", "-f")
        if r.returncode != 0:
            found.append(f"image prune: {r.stderr.strip()}")
        # what a killed pull was writing is reclaimable: prune takes it (its finished layers a later pull of
        # the image reuses, and they go with that image)
        found += [f"prune left {e}" for e in sorted(_store_entries(bed.config) - before) if ".tmp-" in e]
        r = bed.cli("pull", ref)
        if r.returncode != 0:
            found.append(f"the next pull failed: {r.stderr.strip()}")
        bed.cli("rmi", ref)
        left = sorted(_store_entries(bed.config) - before)
        found += [f"left {e}" for e in left[:8]]
        if found:
            failures.append(f"trial {i} (killed after {delay * 1000:.0f} ms): " + "; ".join(found))
            # start the next trial from a clean store
            for e in left:
                path = bed.config.paths.root / e
                if path.is_dir():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)
    summary = f"fault campaign pull: seed {SEED}, {TRIALS} trials, {len(failures)} left something"
    sys.stderr.write(summary + "\n")
    assert not failures, summary + "\n" + "\n".join(failures)
