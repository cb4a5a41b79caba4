"""Networking: throughput through a published port (host loopback -> container), container-to-container
throughput on one user network, connection set-up latency through the published port, and `run` latency with
a published port; dockyard vs podman in the same run, with ratios.

    sudo .venv/bin/python bench/net.py [--rounds 5] [--size-mb 512] [--no-podman]

Both engines get fresh roots on tmpfs, the same busybox image from the loopback test bed, and a user network
of their own (dockyard: its own bridge, subnet and nft table, set in a private daemon.json; podman: a network
in a private --network-config-dir). The server is busybox httpd serving a file of --size-mb from the
container's /tmp; traffic goes only to 127.0.0.1 and to the benchmark's own containers.
"""

from __future__ import annotations

import argparse
import json
import os
import re
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

from bench.peers import CGROUP_PARENT, PODMAN, compile_sources, ensure_packages, remove_cgroup_parent  # noqa: E402
from tests.testbed import ensure_images, start_testbed  # noqa: E402

DOCKYARD = str(Path(sys.executable).with_name("dockyard"))
DY_SETTINGS = {
    "bridge": "dybench0",
    "bip": "10.213.240.1/24",
    "default-address-pools": [{"base": "10.213.241.0/24", "size": 28}],
    "nft-table": "dybench",
}
PODMAN_SUBNET = "10.213.242.0/24"
PODMAN_NET = "dybenchnet"


class Engine:
    def __init__(self, name: str, cmd: list[str], env: dict[str, str]) -> None:
        self.name, self.cmd, self.env = name, cmd, env

    def run(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [*self.cmd, *args], env=self.env, capture_output=True, text=True, timeout=timeout, check=False
        )
        if check and proc.returncode != 0:
            raise SystemExit(f"{self.name} {' '.join(args)} failed: {proc.stderr[-800:]}")
        return proc


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(port: int, path: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                s.sendall(f"HEAD {path} HTTP/1.0\r\n\r\n".encode())
                if b" 200 " in s.recv(4096):
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"the server on 127.0.0.1:{port} did not come up")


def download(port: int, path: str) -> tuple[int, float]:
    """GET ``path`` through 127.0.0.1:port, reading everything; (bytes of body and headers, seconds)."""
    buf = bytearray(1 << 20)
    view = memoryview(buf)
    t0 = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(f"GET {path} HTTP/1.0\r\n\r\n".encode())
        total = 0
        while True:
            n = s.recv_into(view)
            if not n:
                break
            total += n
    return total, time.perf_counter() - t0


def connect_latencies(port: int, count: int) -> list[float]:
    out = []
    for _ in range(count):
        t0 = time.perf_counter()
        s = socket.create_connection(("127.0.0.1", port))
        out.append(time.perf_counter() - t0)
        s.close()
    return out


def request_latencies(port: int, count: int) -> list[float]:
    out = []
    for _ in range(count):
        t0 = time.perf_counter()
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.sendall(b"GET /small HTTP/1.0\r\n\r\n")
            while s.recv(65536):
                pass
        out.append(time.perf_counter() - t0)
    return out


_REAL = re.compile(r"real\s+(?:(\d+)m\s*)?([\d.]+)s")


def busybox_time(stderr: str) -> float:
    m = _REAL.search(stderr)
    if not m:
        raise SystemExit(f"no timing in: {stderr[-300:]}")
    return int(m.group(1) or 0) * 60 + float(m.group(2))


def timed(fn: Callable[[], object], rounds: int) -> list[float]:
    out = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def bench_engine(e: Engine, network: str, size_mb: int, rounds: int) -> dict[str, list[float]]:
    res: dict[str, list[float]] = {}
    port = free_port()
    serve = (
        f"dd if=/dev/zero of=/tmp/big bs=1M count={size_mb} 2>/dev/null; echo x > /tmp/small; "
        "httpd -f -p 80 -h /tmp"
    )
    e.run("run", "-d", "--name", "bnsrv", "--network", network, "-p", f"127.0.0.1:{port}:80", "busybox",
          "sh", "-c", serve)  # fmt: skip
    e.run("run", "-d", "--name", "bncli", "--network", network, "busybox", "sleep", "3600")
    try:
        wait_http(port, "/big")
        size = size_mb << 20
        rates = []
        for _ in range(rounds):
            got, secs = download(port, "/big")
            if got < size:
                raise SystemExit(f"{e.name}: short download ({got} of {size} bytes)")
            rates.append(size / secs / 1e6)
        res["published port MB/s (host -> ctr)"] = rates
        info = json.loads(e.run("inspect", "bnsrv").stdout)[0]["NetworkSettings"]["Networks"]
        ip = next(iter(info.values()))["IPAddress"]
        c2c = []
        for _ in range(rounds):
            p = e.run("exec", "bncli", "sh", "-c", f"time wget -q -O /dev/null http://{ip}/big")
            c2c.append(size / busybox_time(p.stderr) / 1e6)
        res["container -> container MB/s"] = c2c
        res["connect latency ms (published)"] = [x * 1000 for x in connect_latencies(port, 500)]
        res["small GET latency ms (published)"] = [x * 1000 for x in request_latencies(port, 200)]
    finally:
        e.run("rm", "-f", "bnsrv", "bncli", check=False)
    run_port = ["-p", "127.0.0.1::80"]
    res["run --rm -p latency ms"] = [
        x * 1000
        for x in timed(
            lambda: e.run("run", "--rm", "--network", network, *run_port, "busybox", "true"), max(rounds, 10)
        )
    ]
    res["run --rm latency ms (user network)"] = [
        x * 1000
        for x in timed(lambda: e.run("run", "--rm", "--network", network, "busybox", "true"), max(rounds, 10))
    ]
    return res


HIGHER_IS_BETTER = ("MB/s",)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--size-mb", type=int, default=512)
    ap.add_argument("--no-podman", action="store_true")
    args = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root")
    have_podman = not args.no_podman
    if have_podman:
        ensure_packages(PODMAN)
    compile_sources()
    base = Path(tempfile.mkdtemp(prefix="dockyard-bench-net-", dir="/dev/shm"))
    bed = start_testbed(ensure_images())
    dy: Engine | None = None
    pm: Engine | None = None
    results: dict[str, dict[str, list[float]]] = {}
    try:
        ref = bed.ref("busybox:latest")
        (base / "root").mkdir()
        (base / "root" / "daemon.json").write_text(json.dumps(DY_SETTINGS))
        denv = {**os.environ, "DOCKYARD_RUN": str(base / "run"), "DOCKYARD_CGROUP_PARENT": CGROUP_PARENT}
        dy = Engine("dockyard", [DOCKYARD, "--root", str(base / "root")], denv)
        dy.run("pull", "-q", ref)
        dy.run("tag", ref, "busybox")
        dy.run("network", "create", "benchnet")
        if have_podman:
            import resource

            hard_nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
            hard_nproc = resource.getrlimit(resource.RLIMIT_NPROC)[1]
            nofile = str(min(hard_nofile if hard_nofile != resource.RLIM_INFINITY else 1048576, 1048576))
            nproc = str(min(hard_nproc if hard_nproc != resource.RLIM_INFINITY else 32768, 32768))
            conf = base / "containers.conf"
            ulimits = f'default_ulimits = ["nofile={nofile}:{nofile}", "nproc={nproc}:{nproc}"]'
            conf.write_text(f'[containers]\n{ulimits}\n[engine]\nruntime = "runc"\n')
            (base / "cni").mkdir()
            pm = Engine(
                "podman",
                ["podman", "--root", str(base / "podman"), "--runroot", str(base / "podman-run"),
                 "--storage-driver", "overlay", "--network-config-dir", str(base / "cni")],
                {**os.environ, "CONTAINERS_CONF": str(conf)},
            )  # fmt: skip
            pm.run("pull", "-q", "--tls-verify=false", ref)
            pm.run("tag", ref, "busybox")
            pm.run("network", "create", "--subnet", PODMAN_SUBNET, PODMAN_NET)
        results["dockyard"] = bench_engine(dy, "benchnet", args.size_mb, args.rounds)
        if pm is not None:
            results["podman"] = bench_engine(pm, PODMAN_NET, args.size_mb, args.rounds)
    finally:
        bed.close()
        if dy is not None:
            for c in ("bnsrv", "bncli"):
                dy.run("rm", "-f", c, check=False)
            dy.run("network", "rm", "benchnet", check=False)
            dy.run("network", "rm", "bridge", check=False)  # the default bridge, made on first use
            # the namespaces' directory is a (shared) mount point of its own, as /run/netns is
            subprocess.run(["umount", "-l", str(base / "run" / "netns")], capture_output=True)
        if pm is not None:
            pm.run("rm", "-f", "bnsrv", "bncli", check=False)
            pm.run("network", "rm", "-f", PODMAN_NET, check=False)
            pm.run("system", "reset", "-f", check=False)
            subprocess.run(["umount", "-R", str(base / "podman")], capture_output=True)
            shutil.rmtree(f"/var/lib/cni/networks/{PODMAN_NET}", ignore_errors=True)
        shutil.rmtree(base, ignore_errors=True)
        remove_cgroup_parent()

    print(f"\n{args.size_mb} MiB payload, {args.rounds} rounds; medians (min or max in brackets)\n")
    names = list(results["dockyard"])
    for metric in names:
        line = f"{metric:38s}"
        for eng in results:
            xs = results[eng][metric]
            best = max(xs) if any(h in metric for h in HIGHER_IS_BETTER) else min(xs)
            line += f"  {eng} {statistics.median(xs):9.2f} ({best:.2f})"
        if "podman" in results:
            d, p = (
                statistics.median(results["dockyard"][metric]),
                statistics.median(results["podman"][metric]),
            )
            line += f"   dockyard/podman {d / p:.2f}"
        print(line)
    print("\n(MB/s: higher is better; ms: lower is better)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
