"""Compose: ``up -d`` and ``down -v`` of a five-service project (busybox sleepers on one user network, sharing
one named volume), as whole commands, in one run:

- ``dockyard compose`` on the in-process engine;
- Debian's ``docker-compose`` 1.29 (Python, over the Engine API) against dockerd, started here on its own
  socket, data root and exec root (bench/api.py's starter) and stopped after;
- Debian's ``podman-compose`` 1.0 (drives the podman CLI), on podman with runc and a fresh root
  (bench/peers.py).

    sudo .venv/bin/python bench/compose.py [--rounds 3] [--no-podman] [--no-dockerd]

Each round starts from nothing (the previous round's ``down -v`` removed it all). The sleepers trap SIGTERM,
so no tool waits for a stop timeout. Ratios are dockyard's median over each peer's (lower is better).
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(HERE))

from bench import peers  # noqa: E402
from bench.api import DOCKERD_CGROUP, start_dockerd, stop  # noqa: E402
from tests.testbed import ensure_images, start_testbed  # noqa: E402
from tests.testbed.common import remove_scratch  # noqa: E402

SERVICES = 5
PROJECT = "benchapp"


def compose_file() -> str:
    lines = ["services:"]
    for i in range(1, SERVICES + 1):
        lines += [
            f"  s{i}:",
            "    image: busybox",
            '    command: ["sh", "-c", "trap \'exit 0\' TERM; sleep 3600 & wait"]',
            "    networks: [back]",
            "    volumes:",
            "      - data:/data",
        ]
    lines += ["networks:", "  back: {}", "volumes:", "  data: {}", ""]
    return "\n".join(lines)


class Tool:
    def __init__(self, name: str, cmd: list[str], env: dict[str, str], cwd: Path) -> None:
        self.name = name
        self.cmd = cmd
        self.env = env
        self.cwd = cwd

    def run(self, *args: str) -> float:
        t0 = time.perf_counter()
        r = subprocess.run([*self.cmd, *args], env=self.env, cwd=self.cwd, capture_output=True, timeout=600)
        took = time.perf_counter() - t0
        if r.returncode != 0:
            raise SystemExit(f"{self.name} {' '.join(args)} failed: {r.stderr.decode()[-1200:]}")
        return took


def measure(tool: Tool, rounds: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"up -d": [], "down -v": []}
    tool.run("down", "-v")  # nothing left from an earlier, interrupted run
    for _ in range(rounds):
        subprocess.run(["sync"], check=False)
        out["up -d"].append(tool.run("up", "-d"))
        out["down -v"].append(tool.run("down", "-v"))
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--no-podman", action="store_true")
    ap.add_argument("--no-dockerd", action="store_true")
    args = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root")
    if not args.no_podman:
        peers.ensure_packages({**peers.PODMAN, "podman-compose": "podman-compose"})
    if not args.no_dockerd:
        peers.ensure_packages({"dockerd": "docker.io", "docker-compose": "docker-compose"})
    peers.compile_sources()
    # short: podman refuses a runroot longer than 50 characters
    base = Path(tempfile.mkdtemp(prefix="dybc-", dir="/dev/shm"))
    (base / "dockerd.json").write_text("{}\n")
    project = base / PROJECT
    project.mkdir()
    (project / "docker-compose.yml").write_text(compose_file())
    bed = start_testbed(ensure_images())
    engines = None
    dockerd = None
    had_docker0 = True
    results: dict[str, dict[str, list[float]]] = {}
    tools: list[Tool] = []
    try:
        ref = bed.ref("busybox:latest")
        engines = peers.prepare(base, ref, with_podman=not args.no_podman)
        tools.append(Tool("dockyard", [*engines.dockyard, "compose", "-p", PROJECT], engines.denv, project))
        if not args.no_dockerd:
            dockerd, had_docker0 = start_dockerd(base, ref)
            env = {**os.environ, "DOCKER_HOST": f"unix://{dockerd.sock}"}
            tools.append(Tool("docker-compose", ["docker-compose", "-p", PROJECT], env, project))
        if not args.no_podman:
            podman_args = shlex.join(engines.podman[1:])  # --root, --runroot, --storage-driver
            cmd = ["podman-compose", "--podman-args", podman_args, "-p", PROJECT]
            tools.append(Tool("podman-compose", cmd, engines.penv, project))
        for tool in tools:
            print(f"measuring {tool.name} ...", file=sys.stderr)
            results[tool.name] = measure(tool, args.rounds)
    finally:
        for tool in tools:
            try:
                tool.run("down", "-v")
            except (SystemExit, subprocess.TimeoutExpired):
                pass
        stop(dockerd.proc if dockerd is not None else None)
        if not had_docker0 and os.path.exists("/sys/class/net/docker0"):
            subprocess.run(["ip", "link", "del", "docker0"], capture_output=True)
        from tests.e2e.dockerdiff import remove_cgroup_tree

        remove_cgroup_tree(DOCKERD_CGROUP)
        if engines is not None:
            engines.close()
        bed.close()
        subprocess.run(["umount", "-R", str(base / "dockerd" / "data")], capture_output=True)
        remove_scratch(base)

    names = list(results)
    print(f"{SERVICES} services, one network, one volume; medians of {args.rounds} rounds")
    print("".ljust(10) + "".join(n.rjust(16) for n in names) + "   vs fastest peer")
    for row in ("up -d", "down -v"):
        medians = {n: statistics.median(results[n][row]) for n in names}
        line = row.ljust(10) + "".join(f"{medians[n] * 1000:13.0f} ms" for n in names)
        peer_times = [v for n, v in medians.items() if n != "dockyard"]
        if peer_times:
            fastest = min(peer_times)
            line += f"   {medians['dockyard'] / fastest:.2f}x"
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
