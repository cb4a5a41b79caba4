"""The Engine API face: the same docker CLI (and docker-py) against ``dockyard serve``, against
dockerd (Debian's docker.io, started here on its own socket, data root and exec root with
``--iptables=false``, and stopped after) and against ``podman system service``, in one run:

- ``docker run --rm busybox true`` and ``docker exec CTR true`` (wall time of the whole CLI command);
- ``docker ps -a`` with 100 containers; ``docker logs`` of a container that printed 1,000,000 lines;
- docker-py ``containers.list()`` x 100;
- each server's idle RSS (dockerd's with containerd's) and CPU over a few idle seconds.

The servers take turns round by round on every timed step (see ``interleaved``), so the machine's drift
during the run does not favour one of them.

    sudo .venv/bin/python bench/api.py [--rounds 10] [--no-podman] [--no-dockerd] [--only exec,ps]

Every engine gets a fresh root on tmpfs and the test bed's busybox from the loopback registry.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(HERE))

from bench import peers  # noqa: E402
from tests.testbed import ensure_images, start_testbed  # noqa: E402
from tests.testbed.common import remove_scratch  # noqa: E402

DOCKER = shutil.which("docker") or "/usr/local/bin/docker"
DOCKERD_CGROUP = "dockyard-bench-dockerd"  # its containers' cgroups, removed after (not dockerd's "docker")
DOCKERD_BIP = "10.236.0.1/24"  # the bench dockerd's docker0, away from the test and bench subnets


def wait_socket(path: Path, proc: subprocess.Popen[bytes], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited with {proc.returncode}")
        with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX) as s:
            s.connect(str(path))
            return
        time.sleep(0.1)
    raise SystemExit(f"{what} did not listen on {path}")


def stop(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


class Server:
    def __init__(self, name: str, sock: Path, proc: subprocess.Popen[bytes], env: dict[str, str]) -> None:
        self.name = name
        self.sock = sock
        self.proc = proc
        self.env = {**env, "DOCKER_HOST": f"unix://{sock}", "DOCKER_CONFIG": str(sock.parent / f"{name}-cli")}
        self.extra_pids: list[int] = []

    def docker(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        r = subprocess.run([DOCKER, *args], env=self.env, capture_output=True, text=True, timeout=600)
        if check and r.returncode != 0:
            raise SystemExit(f"{self.name}: docker {' '.join(args)}: {r.stderr[-800:]}")
        return r

    def pids(self) -> list[int]:
        return [self.proc.pid, *self.extra_pids]


def start_dockyard(engines: peers.Engines, base: Path) -> Server:
    sock = base / "dockyard.sock"
    proc = subprocess.Popen(
        [*engines.dockyard, "serve", "-H", f"unix://{sock}"],
        env=engines.denv,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    wait_socket(sock, proc, "dockyard serve")
    return Server("dockyard", sock, proc, engines.denv)


def start_dockerd(base: Path, ref: str) -> tuple[Server, bool]:
    had_docker0 = os.path.exists("/sys/class/net/docker0")
    sock = base / "dockerd.sock"
    d = base / "dockerd"
    d.mkdir()
    cmd = ["dockerd", "--iptables=false", "--ip-masq=false", "--bip", DOCKERD_BIP]
    cmd += [
        "--data-root",
        str(d / "data"),
        "--exec-root",
        str(d / "exec"),
        "--pidfile",
        str(d / "dockerd.pid"),
    ]
    cmd += [
        "-H",
        f"unix://{sock}",
        "--containerd-namespace",
        "bench",
        "--cgroup-parent",
        DOCKERD_CGROUP,
        "--config-file",
        str(base / "dockerd.json"),
    ]
    with open(d / "dockerd.log", "wb") as log:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log, start_new_session=True)
    wait_socket(sock, proc, "dockerd")
    server = Server("dockerd", sock, proc, dict(os.environ))
    server.extra_pids = [p for p in children(proc.pid) if "containerd" in Path(f"/proc/{p}/comm").read_text()]
    server.docker("pull", "-q", ref)
    server.docker("tag", ref, "busybox")
    return server, had_docker0


def start_podman(engines: peers.Engines, base: Path) -> Server:
    sock = base / "podman.sock"
    proc = subprocess.Popen(
        [*engines.podman, "system", "service", "-t", "0", f"unix://{sock}"],
        env=engines.penv,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    wait_socket(sock, proc, "podman system service")
    return Server("podman", sock, proc, engines.penv)


def interleaved(
    servers: list[Server], make: Callable[[Server], Callable[[], object]], rounds: int, warmup: int = 1
) -> dict[str, float]:
    """Median wall time of ``make(server)()`` per server. The servers take turns round by round (in
    alternating order), so a drift in this machine's speed (other work on it, its clock) falls on all of
    them alike instead of on whichever was measured while it lasted."""
    times: dict[str, list[float]] = {s.name: [] for s in servers}
    fns = {s.name: make(s) for s in servers}
    for i in range(warmup + rounds):
        for s in servers if i % 2 == 0 else servers[::-1]:
            t0 = time.perf_counter()
            fns[s.name]()
            if i >= warmup:
                times[s.name].append(time.perf_counter() - t0)
    return {name: statistics.median(ts) for name, ts in times.items()}


STEPS = ("run", "exec", "docker-py", "ps", "logs", "idle")


def measure(
    servers: list[Server], rounds: int, steps: tuple[str, ...] = STEPS
) -> dict[str, dict[str, float]]:
    import docker  # docker-py, from the test extras

    res: dict[str, dict[str, float]] = {s.name: {} for s in servers}

    def record(label: str, medians: dict[str, float]) -> None:
        for name, value in medians.items():
            res[name][label] = value

    if "run" in steps:
        print("run --rm ...", file=sys.stderr)
        record(
            "run --rm busybox true",
            interleaved(
                servers, lambda s: lambda: s.docker("run", "--rm", "busybox", "true"), rounds, warmup=2
            ),
        )
    for s in servers:
        s.docker("run", "-d", "--name", "bench-exec", "busybox", "sleep", "3600")
    if "exec" in steps:
        print("exec ...", file=sys.stderr)
        record(
            "exec CTR true",
            interleaved(servers, lambda s: lambda: s.docker("exec", "bench-exec", "true"), rounds, warmup=2),
        )
    clients = {s.name: docker.DockerClient(base_url=s.env["DOCKER_HOST"], timeout=600) for s in servers}
    if "docker-py" in steps:
        print("docker-py ...", file=sys.stderr)
        record(
            "docker-py containers.list() x100",
            interleaved(
                servers, lambda s: lambda: [clients[s.name].containers.list() for _ in range(100)], 3
            ),
        )
    ps_names = [f"bench-ps-{i}" for i in range(100)] if "ps" in steps else []
    for s in servers:
        for name in ps_names:
            s.docker("create", "--name", name, "busybox", "true")
    if "ps" in steps:
        print("ps ...", file=sys.stderr)
        record(
            "ps -a (100 containers)", interleaved(servers, lambda s: lambda: s.docker("ps", "-a"), rounds, 2)
        )
    logs_names = ["bench-logs"] if "logs" in steps else []
    for s in servers:
        for name in logs_names:
            s.docker("run", "--name", name, "busybox", "seq", "1000000")

    def logs(s: Server) -> Callable[[], None]:
        def run() -> None:
            r = subprocess.run([DOCKER, "logs", "bench-logs"], env=s.env, stdout=subprocess.PIPE, timeout=600)
            assert r.stdout.count(b"\n") == 1000000, r.stdout[-200:]

        return run

    if "logs" in steps:
        print("logs ...", file=sys.stderr)
        record("logs (1,000,000 lines)", interleaved(servers, logs, max(3, rounds // 3)))
    for s in servers:
        clients[s.name].close()
        s.docker("rm", "-f", "bench-exec", *logs_names, *ps_names)
    if "idle" not in steps:
        return res
    # idle: a few seconds after the last request, all servers over the same seconds
    time.sleep(2)
    ticks0 = {s.name: sum(cpu_ticks(p) for p in s.pids()) for s in servers}
    time.sleep(5)
    for s in servers:
        ticks = sum(cpu_ticks(p) for p in s.pids()) - ticks0[s.name]
        res[s.name]["idle RSS (MB)"] = sum(rss_kb(p) for p in s.pids()) / 1024
        res[s.name]["idle CPU (% of a core)"] = ticks / os.sysconf("SC_CLK_TCK") / 5 * 100
    return res


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--no-podman", action="store_true")
    ap.add_argument("--no-dockerd", action="store_true")
    ap.add_argument("--only", default=",".join(STEPS), help=f"comma-separated steps of {', '.join(STEPS)}")
    args = ap.parse_args()
    steps = tuple(x.strip() for x in args.only.split(",") if x.strip())
    if not steps or set(steps) - set(STEPS):
        raise SystemExit(f"--only takes steps among {', '.join(STEPS)}")
    if os.geteuid() != 0:
        raise SystemExit("run as root")
    if not args.no_podman:
        peers.ensure_packages(peers.PODMAN)
    if not args.no_dockerd:
        peers.ensure_packages({"dockerd": "docker.io"})
    peers.compile_sources()
    base = Path(tempfile.mkdtemp(prefix="dockyard-bench-api-", dir="/dev/shm"))
    (base / "dockerd.json").write_text("{}\n")
    bed = start_testbed(ensure_images())
    engines = None
    servers: list[Server] = []
    had_docker0 = True
    results: dict[str, dict[str, float]] = {}
    try:
        ref = bed.ref("busybox:latest")
        engines = peers.prepare(base, ref, with_podman=not args.no_podman)
        servers.append(start_dockyard(engines, base))
        if not args.no_dockerd:
            dockerd, had_docker0 = start_dockerd(base, ref)
            servers.append(dockerd)
        if not args.no_podman:
            servers.append(start_podman(engines, base))
        results = measure(servers, args.rounds, steps)
    finally:
        for s in servers:
            stop(s.proc)
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
    rows = list(results[names[0]])
    width = max(len(r) for r in rows) + 2
    print(
        "".ljust(width) + "".join(n.rjust(14) for n in names) + "".join(f"{'vs ' + n:>14}" for n in names[1:])
    )
    for row in rows:
        ms = not row.startswith("idle")
        values = [results[n][row] * (1000 if ms else 1) for n in names]
        unit = " ms" if ms else ""
        line = row.ljust(width) + "".join(f"{v:11.1f}{unit or '   '}" for v in values)
        for v in values[1:]:
            line += f"{(values[0] / v if v else float('inf')):13.2f}x"
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
