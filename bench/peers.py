"""The two engines as the start-up and build benchmarks set them up: each with a fresh root under ``base``
(tmpfs), the test bed's busybox pulled from the loopback registry and tagged ``busybox``, and a way to tear
everything but ``base`` itself down again (the caller removes it with ``remove_scratch``).

dockyard gets a bridge, subnets and nft table of the run's own (tests/netbed.py, written to the root's
daemon.json), so the host's default ``dockyard0`` is never touched. Podman runs with runc (crun refuses this
host's hybrid cgroups) and pinned ulimits (no CAP_SYS_RESOURCE here) through a private CONTAINERS_CONF, so
the host's configuration is untouched.
"""

from __future__ import annotations

import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from core.config import Config
from tests import netbed

DOCKYARD = str(Path(sys.executable).with_name("dockyard"))
CGROUP_PARENT = "dockyard-bench"  # the containers' cgroups, removed with the engines


@dataclass
class Engines:
    base: Path
    dockyard: list[str]  # the command, with its --root
    denv: dict[str, str]
    net: netbed.NetSettings
    podman: list[str] = field(default_factory=list)  # empty when podman is not measured
    penv: dict[str, str] = field(default_factory=dict)
    podman_bridge_was_there: bool = True

    def close(self) -> None:
        if self.podman:
            subprocess.run([*self.podman, "system", "reset", "-f"], capture_output=True, env=self.penv)
            subprocess.run(["umount", "-R", str(self.base / "podman")], capture_output=True)
            # podman's default network makes its bridge on first use and leaves it: ours to remove if we
            # made it (its CNI iptables chains stay: podman's, and empty)
            if not self.podman_bridge_was_there and os.path.exists(f"/sys/class/net/{PODMAN_BRIDGE}"):
                subprocess.run(["ip", "link", "del", PODMAN_BRIDGE], capture_output=True)
        netbed.cleanup(self.net)
        remove_cgroup_parent()


def compile_sources() -> None:
    """Byte-compile the project first, so no timed command pays for it (the venv may be fresh)."""
    root = Path(__file__).resolve().parents[1]
    dirs = [str(root / d) for d in ("core", "tui", "api", "compose")]
    subprocess.run([sys.executable, "-m", "compileall", "-q", *dirs], check=True, capture_output=True)


def ensure_packages(packages: dict[str, str]) -> None:
    """Install with apt the Debian packages (tool -> package) whose tool is not on PATH: a benchmark
    compares against its peer, it does not quietly skip it."""
    missing = sorted({pkg for tool, pkg in packages.items() if shutil.which(tool) is None})
    if not missing:
        return
    if os.geteuid() != 0:
        raise SystemExit(f"missing {', '.join(missing)}: run as root or apt-get install them")
    print(f"installing {' '.join(missing)} ...", file=sys.stderr)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    # none of these starts a service that listens anywhere but docker-registry, whose packaged unit never
    # runs here (no systemd as PID 1)
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing], check=True, env=env
    )


PODMAN = {"podman": "podman", "runc": "runc"}  # crun (podman's default) refuses this host's hybrid cgroups
PODMAN_BRIDGE = "cni-podman0"  # podman 4.3's default network (CNI)


def timed(
    cmd: list[str], env: dict[str, str], rounds: int, *, warmup: int = 0, sync: bool = False
) -> list[float]:
    """Wall times of ``rounds`` runs of ``cmd`` (after ``warmup`` untimed ones); ``sync`` flushes the page
    cache's dirty data before each, so one run's writeback does not land in the next one's time."""
    out = []
    for i in range(warmup + rounds):
        if sync:
            subprocess.run(["sync"], check=False)
        t0 = time.perf_counter()
        r = subprocess.run(cmd, env=env, capture_output=True)
        if i >= warmup:
            out.append(time.perf_counter() - t0)
        if r.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed: {r.stderr.decode()[-800:]}")
    return out


def fmt(xs: list[float]) -> str:
    return f"min {min(xs) * 1000:8.1f} ms   median {statistics.median(xs) * 1000:8.1f} ms   (n={len(xs)})"


def remove_cgroup_parent() -> None:
    """The benches' containers' cgroup parent, empty once they are gone."""
    from core.runtime import cgroups

    try:
        cgroups.Cgroup.remove_parent(CGROUP_PARENT)
    except Exception:
        pass


def podman_conf(base: Path) -> Path:
    conf = base / "containers.conf"
    hard_nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    hard_nproc = resource.getrlimit(resource.RLIMIT_NPROC)[1]
    nofile = str(min(hard_nofile if hard_nofile != resource.RLIM_INFINITY else 1048576, 1048576))
    nproc = str(min(hard_nproc if hard_nproc != resource.RLIM_INFINITY else 32768, 32768))
    conf.write_text(
        f'[containers]\ndefault_ulimits = ["nofile={nofile}:{nofile}", "nproc={nproc}:{nproc}"]\n'
        '[engine]\nruntime = "runc"\n'
    )
    return conf


def prepare(base: Path, ref: str, *, with_podman: bool) -> Engines:
    """Both engines under ``base`` with ``ref`` pulled and tagged ``busybox``."""
    denv = {**os.environ, "DOCKYARD_RUN": str(base / "run"), "DOCKYARD_CGROUP_PARENT": CGROUP_PARENT}
    engines = Engines(base, [DOCKYARD, "--root", str(base / "root")], denv, netbed.reserve())
    engines.net.apply(Config(root=base / "root"))
    subprocess.run([*engines.dockyard, "pull", "-q", ref], env=denv, check=True, capture_output=True)
    subprocess.run([*engines.dockyard, "tag", ref, "busybox"], env=denv, check=True)
    if with_podman:
        engines.podman_bridge_was_there = os.path.exists(f"/sys/class/net/{PODMAN_BRIDGE}")
        engines.penv = {**os.environ, "CONTAINERS_CONF": str(podman_conf(base))}
        engines.podman = ["podman", "--root", str(base / "podman"), "--runroot", str(base / "podman-run")]
        engines.podman += ["--storage-driver", "overlay"]
        pull = [*engines.podman, "pull", "-q", "--tls-verify=false", ref]
        subprocess.run(pull, env=engines.penv, check=True, capture_output=True)
        tag = [*engines.podman, "tag", ref, "busybox"]
        subprocess.run(tag, env=engines.penv, check=True, capture_output=True)
    return engines
