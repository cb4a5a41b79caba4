"""Remote engines: the docker CLI and dockyard's command line against the same engines, in one run, and the
workbench's idle CPU with three engines connected.

Engines, each started here on a socket of its own and stopped after (by PID):
- ``dockyard serve`` over a fresh root on tmpfs (bench/peers.py);
- Debian's dockerd (bench/api.py's start: own data root, exec root, cgroup parent, ``--iptables=false``);
- over ssh (unless ``--no-ssh``): an sshd on a loopback port with generated keys (the e2e tests' start),
  whose sessions reach that dockerd, so both CLIs run ``docker system dial-stdio`` there. Twice: dockyard as
  shipped (its commands share one ssh connection, which the docker CLI's do not), and with that sharing off
  (``DOCKYARD_SSH_PERSIST=0``: a handshake per command, as the docker CLI's).

Each engine holds 50 created containers and one that printed 10,000 lines. Measured per endpoint, for
``docker -H X`` and ``dockyard -H X`` (whole commands, interpreter start-up included): ``ps -a``,
``images``, ``inspect CTR``, ``logs CTR`` (10,000 lines) and ``run --rm busybox true``; ratios are
dockyard / docker (the issue's target: at most 1.0x). The workbench's first paint against the dockyard
server (``dockyard -H unix://...`` in a pty, 80x24: to the first frame and to the first remote rows), and the
fleet view of 3 (fake) engines x 100 containers: every frame's cost while the cursor walks every row.

Then the workbench (``dockyard`` in a pty of 120x30) with three engines connected: contexts for the
dockyard server and dockerd plus the in-process engine (the ``default`` context), the Engines pane opened
and then the fleet view of all three; after it settles, its CPU time is read from ``/proc/<pid>/stat``
(all threads) over ``--idle`` seconds (target: under 1% of a core).

    sudo .venv/bin/python bench/remote.py [--rounds 10] [--idle 30] [--no-ssh]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
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
from bench.api import DOCKER, DOCKERD_CGROUP, Server, cpu_ticks, start_dockerd, start_dockyard, stop  # noqa: E402
from tests.testbed import ensure_images, start_testbed  # noqa: E402
from tests.testbed.common import remove_scratch  # noqa: E402

DOCKYARD = peers.DOCKYARD
CONTAINERS = 50
LOG_LINES = 10_000


def timed(fn: Callable[[], object], rounds: int, warmup: int = 2) -> float:
    out = []
    for i in range(warmup + rounds):
        t0 = time.perf_counter()
        fn()
        if i >= warmup:
            out.append(time.perf_counter() - t0)
    return statistics.median(out)


def client_env(config: Path) -> dict[str, str]:
    """No engine from the environment; a docker config folder of the bench's own."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("DOCKER_", "DOCKYARD_ROOT", "DOCKYARD_RUN"))
    }
    config.mkdir(exist_ok=True)
    env["DOCKER_CONFIG"] = str(config)
    env["DOCKER_CLI_HINTS"] = "false"
    return env


def run(argv: list[str], env: dict[str, str], lines: int | None = None) -> None:
    r = subprocess.run(argv, env=env, capture_output=True, timeout=300)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(argv)}: rc {r.returncode}: {r.stderr.decode()[-600:]}")
    got = r.stdout.count(b"\n")
    if lines is not None and got != lines:
        raise SystemExit(f"{' '.join(argv)}: {got} lines, expected {lines}")


def populate(s: Server) -> None:
    for i in range(CONTAINERS):
        s.docker("create", "--name", f"bench-remote-{i}", "busybox", "true")
    s.docker("run", "--name", "bench-remote-logs", "busybox", "seq", "1", str(LOG_LINES))


def unpopulate(s: Server) -> None:
    s.docker("rm", "-f", "bench-remote-logs", *[f"bench-remote-{i}" for i in range(CONTAINERS)], check=False)


def measure(host: str, env: dict[str, str], rounds: int) -> dict[str, tuple[float, float]]:
    """(dockyard, docker) medians, in seconds, for each command against ``host``."""
    commands: dict[str, tuple[list[str], int | None]] = {
        "ps -a": (["ps", "-a"], CONTAINERS + 2),
        "images": (["images"], None),
        "inspect CTR": (["inspect", "bench-remote-logs"], None),
        f"logs CTR ({LOG_LINES:,} lines)": (["logs", "bench-remote-logs"], LOG_LINES),
        "run --rm busybox true": (["run", "--rm", "--network", "none", "busybox", "true"], None),
    }
    out = {}
    for label, (args, lines) in commands.items():
        ours = timed(lambda a=args, n=lines: run([DOCKYARD, "-H", host, *a], env, n), rounds)
        theirs = timed(lambda a=args, n=lines: run([DOCKER, "-H", host, *a], env, n), rounds)
        out[label] = (ours, theirs)
    return out


# ====================================================================== the workbench's idle CPU


def _tmux(sock: str, *args: str) -> str:
    r = subprocess.run(["tmux", "-L", sock, *args], capture_output=True, text=True, timeout=10)
    if r.returncode != 0:
        raise SystemExit(f"tmux {args[0]}: {r.stderr.strip()}")
    return r.stdout


def _wait_screen(sock: str, cond: Callable[[str], bool], what: str, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        screen = _tmux(sock, "capture-pane", "-p", "-t", "wb")
        if cond(screen):
            return screen
        time.sleep(0.2)
    raise SystemExit(f"the workbench did not show {what}:\n{screen}")


def workbench_idle(env: dict[str, str], seconds: float) -> tuple[float, int]:
    """The real ``dockyard`` workbench in a tmux pane (120x30) with three engines connected and the fleet
    view open: % of a core over ``seconds`` while idle (``/proc/<pid>/stat``, every thread), and how many
    engines the Engines pane showed connected."""
    import shlex

    sock = f"dockyard-bench-remote-{os.getpid()}"
    exports = " ".join(
        f"{k}={shlex.quote(v)}"
        for k, v in env.items()
        if k.startswith(("DOCKER", "DOCKYARD", "TERM", "PATH"))
    )
    _tmux(sock, "new-session", "-d", "-s", "wb", "-x", "120", "-y", "30", f"exec env {exports} {DOCKYARD}")
    try:
        pid = int(_tmux(sock, "list-panes", "-t", "wb", "-F", "#{pane_pid}").split()[0])
        _wait_screen(sock, lambda s: "Containers" in s, "the panes")
        _tmux(sock, "send-keys", "-t", "wb", "E")
        screen = _wait_screen(sock, lambda s: s.count(" connected ") >= 3, "three engines connected")
        connected = screen.count(" connected ")
        _tmux(sock, "send-keys", "-t", "wb", "F")
        _wait_screen(sock, lambda s: "ENGINE" in s and "bench-remote-logs" in s, "the fleet")
        time.sleep(5.0)  # lists read, garbage collection frozen
        ticks0 = cpu_ticks(pid)
        t0 = time.monotonic()
        time.sleep(seconds)
        ticks = cpu_ticks(pid) - ticks0
        elapsed = time.monotonic() - t0
        return ticks / os.sysconf("SC_CLK_TCK") / elapsed * 100, connected
    finally:
        subprocess.run(["tmux", "-L", sock, "kill-server"], capture_output=True)


def first_paint(host: str, env: dict[str, str], rounds: int) -> tuple[float, float]:
    """``dockyard -H host`` (the real command) in a pty of 80x24: medians of seconds from spawn to the first
    frame (the Containers tab) and to the first container row from the remote engine."""
    from bench.tui import PtyProc

    paint, rows = [], []
    for _ in range(rounds):
        p = PtyProc([DOCKYARD, "-H", host], {**env, "TERM": "xterm-256color"})
        t = p.read_until(b"Containers", 10.0)
        r = p.read_until(b"bench-remote-", 10.0)
        p.drain(0.2)
        p.close()
        if t is None or r is None:
            raise SystemExit("the workbench did not paint:\n" + p.out[-2000:].decode(errors="replace"))
        paint.append(t)
        rows.append(r)
    return statistics.median(paint), statistics.median(rows)


async def _fleet_scroll(engines: int, per_engine: int) -> dict[str, float]:
    """The fleet view of ``engines`` fake engines x ``per_engine`` containers (tests/tui/fakeengine.py),
    headless at 120x30: every frame's cost while the cursor walks down every row and pages back up."""
    from textual.screen import Screen

    from core.models import EngineTarget
    from tests.tui.fakeengine import FakeEngine
    from tui.app import DockyardApp
    from tui.screens.engines import EnginesScreen
    from tui.settings import Settings
    from tui.widgets.engines import Fleet
    from tui.widgets.fleet import FleetPane

    frames: list[float] = []
    original = Screen._on_timer_update

    def timed(self: Screen[object]) -> None:
        t = time.perf_counter()
        original(self)
        frames.append(time.perf_counter() - t)

    Screen._on_timer_update = timed  # type: ignore[method-assign]
    try:
        with tempfile.TemporaryDirectory(prefix="dy-fleet-bench-") as d:
            fakes = {}
            for i in range(engines):
                (Path(d) / str(i)).mkdir()
                fakes[f"engine{i}"] = FakeEngine(Path(d) / str(i), containers=per_engine)
            targets = [EngineTarget(n, f"unix:///run/{n}.sock", current=i == 0) for i, n in enumerate(fakes)]
            app = DockyardApp(fakes["engine0"], Settings(stats_interval=0))
            app.fleet = Fleet(app, find=lambda current: targets, opener=lambda t: fakes[t.name])
            total = engines * per_engine
            async with app.run_test(size=(120, 30)) as pilot:
                await pilot.press("F")
                while not isinstance(app.screen, EnginesScreen):
                    await pilot.pause(0.01)
                pane = app.screen.query_one(FleetPane)
                while len(pane.shown) != total:
                    await pilot.pause(0.01)
                await pilot.pause(0.2)
                frames.clear()
                for _ in range(total - 1):
                    await pilot.press("down")
                while pane.table.cursor_row > 0:
                    await pilot.press("pageup")
                await pilot.pause(0.1)
    finally:
        Screen._on_timer_update = original  # type: ignore[method-assign]
    ms = sorted(f * 1000 for f in frames)
    return {
        "rows": float(total),
        "frames": float(len(ms)),
        "median_ms": statistics.median(ms),
        "max_ms": ms[-1],
        "over_50ms": float(sum(1 for f in ms if f > 50)),
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--idle", type=float, default=30.0, help="seconds of idle CPU measurement")
    ap.add_argument("--no-ssh", action="store_true")
    args = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root")
    peers.ensure_packages({"dockerd": "docker.io"})
    ssh = not args.no_ssh and Path("/usr/sbin/sshd").exists()
    peers.compile_sources()
    base = Path(tempfile.mkdtemp(prefix="dockyard-bench-remote-", dir="/dev/shm"))
    (base / "dockerd.json").write_text("{}\n")
    bed = start_testbed(ensure_images())
    engines = None
    servers: list[Server] = []
    had_docker0 = True
    results: dict[str, dict[str, tuple[float, float]]] = {}
    idle: tuple[float, int] | None = None
    paint: tuple[float, float] | None = None
    try:
        ref = bed.ref("busybox:latest")
        engines = peers.prepare(base, ref, with_podman=False)
        yard = start_dockyard(engines, base)
        servers.append(yard)
        dockerd, had_docker0 = start_dockerd(base, ref)
        servers.append(dockerd)
        for s in servers:
            populate(s)
        env = client_env(base / "client")
        for s in servers:
            print(f"measuring {s.name} over unix ...", file=sys.stderr)
            results[f"{s.name} (unix)"] = measure(f"unix://{s.sock}", env, args.rounds)
        if ssh:
            from tests.e2e.test_remote_ssh import start_sshd

            host_env = f"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin DOCKER_HOST=unix://{dockerd.sock}"
            with start_sshd(base / "ssh", base / "ssh-client", host_env) as sshd:
                # dockyard as shipped: its commands share one ssh connection (a master it leaves for 60 s;
                # ended below), which the docker CLI does not; and with the sharing off, where each
                # command makes its own handshake as the docker CLI's do
                runtime = Path(tempfile.mkdtemp(prefix="dyrt-"))  # the master's socket: a short path
                senv = {**sshd.client_env, "DOCKER_CLI_HINTS": "false", "XDG_RUNTIME_DIR": str(runtime)}
                rounds = max(3, args.rounds // 2)
                try:
                    print("measuring dockerd over ssh ...", file=sys.stderr)
                    senv["DOCKYARD_SSH_PERSIST"] = "60"
                    results["dockerd (ssh)"] = measure("ssh://dyhost", senv, rounds)
                    print("measuring dockerd over ssh, dockyard's sharing off ...", file=sys.stderr)
                    senv["DOCKYARD_SSH_PERSIST"] = "0"
                    results["dockerd (ssh, no sharing)"] = measure("ssh://dyhost", senv, rounds)
                finally:
                    for sock in (runtime / "dockyard-ssh").glob("*"):
                        end = ["ssh", "-S", str(sock), "-O", "exit", "dyhost"]
                        subprocess.run(end, capture_output=True, timeout=10)
                    shutil.rmtree(runtime, ignore_errors=True)

        # the workbench: contexts for both servers beside the in-process engine over the dockyard root
        wenv = client_env(base / "workbench")
        for name, s in (("yard", yard), ("dock", dockerd)):
            run([DOCKER, "context", "create", name, "--docker", f"host=unix://{s.sock}"], wenv)
        wenv.update({k: v for k, v in engines.denv.items() if k.startswith("DOCKYARD_")})
        wenv["DOCKYARD_ROOT"] = str(base / "root")
        wenv["TERM"] = "xterm-256color"
        print("measuring the workbench's first paint against dockyard serve ...", file=sys.stderr)
        paint = first_paint(f"unix://{yard.sock}", env, max(3, args.rounds))
        print(f"measuring the workbench's idle CPU over {args.idle:.0f} s ...", file=sys.stderr)
        idle = workbench_idle(wenv, args.idle)
    finally:
        for s in servers:
            unpopulate(s)
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

    width = max(len(c) for r in results.values() for c in r) + 2
    for endpoint, rows in results.items():
        print(f"\n{endpoint}".ljust(width + 1) + f"{'dockyard':>12}{'docker':>12}{'ratio':>9}")
        for label, (ours, theirs) in rows.items():
            print(f"{label.ljust(width)}{ours * 1000:9.1f} ms{theirs * 1000:9.1f} ms{ours / theirs:8.2f}x")
    if paint is not None:
        print(
            f"\nworkbench -H unix://(dockyard serve), 80x24: first paint {paint[0] * 1000:.0f} ms, "
            f"first remote rows {paint[1] * 1000:.0f} ms (target: first paint < 500 ms)"
        )
    scroll = asyncio.run(_fleet_scroll(3, 100))
    print(
        "fleet view of 3 engines x 100 containers (fake engines, 120x30): "
        f"{scroll['frames']:.0f} frames while walking {scroll['rows']:.0f} rows, "
        f"median {scroll['median_ms']:.1f} ms, max {scroll['max_ms']:.1f} ms, "
        f"{scroll['over_50ms']:.0f} over 50 ms"
    )
    if idle is not None:
        print(f"\nworkbench idle CPU, {idle[1]} engines connected, fleet view open: {idle[0]:.2f}% of a core")
    return 0


if __name__ == "__main__":
    sys.exit(main())
