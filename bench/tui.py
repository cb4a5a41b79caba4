"""Workbench benchmarks: first paint, the containers pane with 500 containers, the log viewer on a 2 GB log,
idle CPU.

    .venv/bin/python bench/tui.py [--rounds 5] [--idle 30] [--log-gb 2] [--json FILE] [--only NAME,...]

first_paint   ``dockyard`` (the real command, interpreter start-up and imports included) in a pseudo-terminal
              of 80x24 on an empty engine root; time from spawn until the first frame with the Containers
              tab reaches the terminal. Median of --rounds. Target < 0.5 s.
containers    in-process, headless, 80x24 (and 200x50): a fake engine listing 500 containers (the numbers come
              from tests/tui/fakeengine.py); time until the table holds 500 rows and has been painted, then
              every frame's cost while the cursor walks down all 500 rows one key at a time and pages back
              up. A frame is one run of the screen's update (layout, compositor, output). Target: no frame
              over 50 ms.
logview       a 2 GB json-file log (docker's format, ~10 M lines) written to tmpfs, opened in the LogView
              widget: time until the last line is on screen (jump to end), and until the whole index is
              built. Target < 1 s to the end.
idle          ``dockyard`` in a pty left alone for --idle seconds; CPU time used (utime+stime of the
              process, all threads) over that window, as % of one core. Three cases: an empty real engine;
              the fake engine with 8 containers (stats sampled every 5 s while the list is in view); the same
              with the Logs pane open (the log viewer watches its file).
"""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import json
import os
import pty
import select
import shutil
import signal
import statistics
import struct
import sys
import tempfile
import termios
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(HERE))
PY = (
    str(HERE / ".venv" / "bin" / "python") if (HERE / ".venv" / "bin" / "python").exists() else sys.executable
)


# ----------------------------------------------------------------------------------------- pty helpers


class PtyProc:
    """A child on a pseudo-terminal of rows x cols; we read what it paints."""

    def __init__(self, argv: list[str], env: dict[str, str], rows: int = 24, cols: int = 80) -> None:
        self.t0 = time.monotonic()
        pid, fd = pty.fork()
        if pid == 0:  # child
            try:
                os.execve(argv[0], argv, env)
            finally:
                os._exit(127)
        self.pid, self.fd = pid, fd
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.out = bytearray()

    def read_until(self, needle: bytes, timeout: float) -> float | None:
        """Seconds from spawn until ``needle`` appeared in the output (None on timeout)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r, _, _ = select.select([self.fd], [], [], 0.05)
            if r:
                try:
                    chunk = os.read(self.fd, 65536)
                except OSError:
                    return None
                self.out += chunk
                if needle in self.out:
                    return time.monotonic() - self.t0
        return None

    def drain(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            r, _, _ = select.select([self.fd], [], [], min(0.5, max(0.0, deadline - time.monotonic())))
            if r:
                try:
                    os.read(self.fd, 65536)
                except OSError:
                    return

    def send(self, data: bytes) -> None:
        os.write(self.fd, data)

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = int(fields[11]) + int(fields[12])  # utime + stime, all threads
        return ticks / os.sysconf("SC_CLK_TCK")

    def close(self) -> None:
        try:
            self.send(b"q")
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                done, _ = os.waitpid(self.pid, os.WNOHANG)
                if done:
                    break
                self.drain(0.1)
            else:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass
        os.close(self.fd)


def _env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEXTUAL")}
    env.update(
        TERM="xterm-256color",
        COLORTERM="truecolor",
        DOCKYARD_RUN=str(tmp / "run"),
        DOCKYARD_TUI_CONFIG=str(tmp / "tui.toml"),  # defaults, whatever the user's file says
        PYTHONPATH=str(HERE),
    )
    return env


def _empty_root(tmp: Path) -> Path:
    for d in ("root", "run"):
        (tmp / d).mkdir(exist_ok=True)
    return tmp / "root"


# ------------------------------------------------------------------------------------------ first paint


def bench_first_paint(rounds: int) -> dict[str, Any]:
    times = []
    with tempfile.TemporaryDirectory(prefix="dy-tui-bench-", dir="/dev/shm") as d:
        tmp = Path(d)
        root = _empty_root(tmp)
        dockyard = str(Path(PY).with_name("dockyard"))
        argv = (
            [dockyard, "--root", str(root)]
            if os.path.exists(dockyard)
            else [PY, "-m", "tui.cli", "--root", str(root)]
        )
        for _ in range(rounds):
            p = PtyProc(argv, _env(tmp))
            t = p.read_until(b"Containers", 10.0)
            p.drain(0.3)
            p.close()
            if t is None:
                raise RuntimeError(
                    "dockyard never painted its first frame:\n" + p.out[-2000:].decode(errors="replace")
                )
            times.append(t)
    return {"rounds": rounds, "median_s": statistics.median(times), "min_s": min(times), "max_s": max(times)}


# ------------------------------------------------------------------------------------------- containers


async def _containers(n: int, size: tuple[int, int]) -> dict[str, Any]:
    from textual.screen import Screen

    from tests.tui.fakeengine import FakeEngine
    from tui.app import DockyardApp
    from tui.screens.main import MainScreen
    from tui.settings import Settings

    frames: list[float] = []
    original = Screen._on_timer_update

    def timed(self: Screen[Any]) -> None:
        t = time.perf_counter()
        original(self)
        frames.append(time.perf_counter() - t)

    Screen._on_timer_update = timed  # type: ignore[method-assign]
    try:
        with tempfile.TemporaryDirectory(prefix="dy-tui-bench-") as d:
            engine = FakeEngine(Path(d), containers=n)
            app = DockyardApp(engine, Settings(stats_interval=0))  # type: ignore[arg-type]
            t0 = time.perf_counter()
            async with app.run_test(size=size) as pilot:
                main = None
                while True:
                    main = next((s for s in app.screen_stack if isinstance(s, MainScreen)), None)
                    if main is not None and len(main.pane("containers").shown) == n:
                        break
                    await pilot.pause(0.005)
                frames_before = len(frames)
                while len(frames) == frames_before:  # the frame that shows them
                    await pilot.pause(0.005)
                populated = time.perf_counter() - t0
                frames.clear()
                keys_t = []
                for _ in range(n - 1):
                    t = time.perf_counter()
                    await pilot.press("down")
                    keys_t.append(time.perf_counter() - t)
                while main.pane("containers").table.cursor_row > 0:
                    t = time.perf_counter()
                    await pilot.press("pageup")
                    keys_t.append(time.perf_counter() - t)
                await pilot.pause(0.1)
                table = main.pane("containers").table
                assert table.cursor_row == 0, table.cursor_row
    finally:
        Screen._on_timer_update = original  # type: ignore[method-assign]
    frames_ms = sorted(f * 1000 for f in frames)
    return {
        "size": f"{size[0]}x{size[1]}",
        "containers": n,
        "populated_s": populated,
        "frames": len(frames_ms),
        "frame_median_ms": statistics.median(frames_ms),
        "frame_p99_ms": frames_ms[int(len(frames_ms) * 0.99) - 1],
        "frame_max_ms": frames_ms[-1],
        "frames_over_50ms": sum(1 for f in frames_ms if f > 50),
        "key_median_ms": statistics.median(keys_t) * 1000,
        "key_max_ms": max(keys_t) * 1000,
    }


def bench_containers(n: int = 500) -> list[dict[str, Any]]:
    return [asyncio.run(_containers(n, (80, 24))), asyncio.run(_containers(n, (200, 50)))]


# ---------------------------------------------------------------------------------------------- logview


def write_log(path: Path, size: int) -> int:
    """A json-file log of ``size`` bytes (about); returns the number of lines. The last line is marked."""
    line_tpl = (
        '{{"log":"GET /api/items/{i} 200 {ms}ms user-agent=bench lorem ipsum dolor sit amet\\n",'
        '"stream":"stdout","time":"2026-01-02T03:04:05.{ns:09d}Z"}}\n'
    )
    block_lines = [line_tpl.format(i=i, ms=i % 97, ns=i) for i in range(5000)]
    block = "".join(block_lines).encode()
    lines = 0
    middle = b'{"log":"the NEEDLE-in-the-middle line\\n","stream":"stdout","time":"2026-01-02T03:04:05.5Z"}\n'
    with open(path, "wb") as f:
        written = 0
        while written + len(block) < size:
            f.write(block)
            written += len(block)
            lines += len(block_lines)
            if middle and written >= size // 2:
                f.write(middle)  # the only line with "needle" (search finds it 1 GB from the top)
                written += len(middle)
                lines += 1
                middle = b""
        last = b'{"log":"THE-LAST-LINE\\n","stream":"stdout","time":"2026-01-02T03:04:06.000000000Z"}\n'
        f.write(last)
        lines += 1
    return lines


async def _logview(path: Path) -> dict[str, Any]:
    from textual.app import App, ComposeResult

    from tui.widgets.logview import LogView

    statuses: list[tuple[float, str]] = []

    class Viewer(App[None]):
        def compose(self) -> ComposeResult:
            yield LogView(path, follow=True, json_lines=True, id="lv")

        def on_log_view_status(self, msg: LogView.Status) -> None:
            statuses.append((time.perf_counter(), msg.text))

    app = Viewer()
    t0 = time.perf_counter()
    async with app.run_test(size=(80, 24)) as pilot:
        view = app.query_one(LogView)
        end_s = None
        indexed_s = None
        deadline = time.perf_counter() + 120
        while time.perf_counter() < deadline:
            if end_s is None and any("THE-LAST-LINE" in t for t in view.visible_text()):
                end_s = time.perf_counter() - t0
            if indexed_s is None and getattr(view, "_indexed_done", False):
                indexed_s = time.perf_counter() - t0
            if end_s is not None and indexed_s is not None:
                break
            await pilot.pause(0.01)
        # jump to the top and back to the end with the keys a person uses
        view.focus()
        t = time.perf_counter()
        await pilot.press("home")
        await pilot.press("end")
        await pilot.pause(0.05)
        jump_s = time.perf_counter() - t
        at_end = any("THE-LAST-LINE" in t for t in view.visible_text())

        async def until(cond: Any, timeout: float = 180.0) -> float | None:
            # a cheap check every 5 ms: painting the rows to look for the text would compete with the scan
            t = time.perf_counter()
            while time.perf_counter() - t < timeout:
                if cond():
                    return time.perf_counter() - t
                await pilot.pause(0.005)
            return None

        def answered() -> bool:
            return view._search_row is not None or getattr(view, "_notice", "").startswith("not found")

        def on_screen(text: str) -> bool:
            return any(text in line for line in view.visible_text())

        searches: dict[str, Any] = {}
        # from the top: the nearest match is a few hundred KB on; the only "needle" is 1 GB on (its case
        # differs: the search ignores case); "no-such-text" is nowhere (the whole file is read)
        for label, term, shown in (
            ("near", "items/4321 ", "items/4321 "),
            ("middle", "needle", "NEEDLE-in-the-middle"),
            ("not_found", "no-such-text", None),
            # in every record's keys, in no message: each line's frame holds it (the whole file is read)
            ("frame_word", "stdout", None),
        ):
            view.search("")
            await pilot.press("home")
            await pilot.pause(0.05)
            statuses.clear()
            view._notice = ""  # the last search's "not found" is not this one's answer
            view.search(term)
            took = await until(answered)
            await pilot.pause(0.05)
            ok = on_screen(shown) if shown else view._notice.startswith("not found")
            progress = sorted({text for when, text in statuses if "%" in text and "search" in text})
            searches[label] = {"s": took if ok else None, "progress_updates": len(progress)}
        view.search("")
        # the same search while following (at the end): it must jump to the match, 1 GB back
        await pilot.press("end")
        await pilot.pause(0.05)
        view._notice = ""
        view.search("needle")
        took = await until(answered)
        await pilot.pause(0.05)
        ok = on_screen("NEEDLE-in-the-middle")
        searches["middle_while_following"] = {"s": took if ok else None, "progress_updates": 0}
        view.search("")
        # the filter, for comparison: the whole file, every line with "needle"
        view.set_filter("needle")
        filter_s = await until(lambda: view._filter_progress is None and len(view.rows) == 1)
        view.set_filter(None)
    return {
        "end_visible_s": end_s,
        "index_complete_s": indexed_s,
        "home_end_keys_s": jump_s,
        "end_after_keys": at_end,
        "search": searches,
        "filter_s": filter_s,
    }


def bench_logview(gb: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="dy-tui-log-", dir="/dev/shm") as d:
        path = Path(d) / "big-json.log"
        t = time.perf_counter()
        lines = write_log(path, int(gb * (1 << 30)))
        made = time.perf_counter() - t
        result = asyncio.run(_logview(path))
        result.update(bytes=path.stat().st_size, lines=lines, write_s=made)
    return result


# ------------------------------------------------------------------------------------------------- idle


FAKE_CHILD = """
import sys, pathlib
sys.path.insert(0, {here!r})
from tests.tui.fakeengine import FakeEngine
from tui.app import DockyardApp
from tui.settings import Settings
DockyardApp(FakeEngine(pathlib.Path({tmp!r}), containers=8), Settings()).run()
"""


def bench_idle(seconds: float) -> list[dict[str, Any]]:
    out = []
    with tempfile.TemporaryDirectory(prefix="dy-tui-bench-", dir="/dev/shm") as d:
        tmp = Path(d)
        root = _empty_root(tmp)
        dockyard = str(Path(PY).with_name("dockyard"))
        real = (
            [dockyard, "--root", str(root)]
            if os.path.exists(dockyard)
            else [PY, "-m", "tui.cli", "--root", str(root)]
        )
        fake = [PY, "-c", FAKE_CHILD.format(here=str(HERE), tmp=str(tmp))]
        for label, argv, keys in (
            ("real engine, no containers", real, b""),
            ("fake engine, 8 containers (stats every 5 s)", fake, b""),
            ("fake engine, Logs pane open", fake, b"l"),
        ):
            p = PtyProc(argv, _env(tmp))
            try:
                if p.read_until(b"Containers", 15.0) is None:
                    raise RuntimeError(f"{label}: no first frame")
                if keys:
                    p.send(keys)
                p.drain(2.0)  # settle: initial loads, first stats sample
                c0, t0 = p.cpu_seconds(), time.monotonic()
                p.drain(seconds)
                c1, t1 = p.cpu_seconds(), time.monotonic()
            finally:
                p.close()
            out.append(
                {
                    "case": label,
                    "seconds": t1 - t0,
                    "cpu_s": c1 - c0,
                    "cpu_percent": 100 * (c1 - c0) / (t1 - t0),
                }
            )
    return out


# ------------------------------------------------------------------------------- a followed log's cost


def _write_lines(p: PtyProc, log: Any, secs: float, n: list[int]) -> None:
    """Append a json-file record to ``log`` every 0.2 s for ``secs``, reading what ``p`` paints meanwhile."""
    end = time.monotonic() + secs
    while time.monotonic() < end:
        n[0] += 1
        when = time.strftime("%Y-%m-%dT%H:%M:%S.000000000Z", time.gmtime())
        rec = {"log": f"bench line {n[0]}\n", "stream": "stdout", "time": when}
        log.write((json.dumps(rec) + "\n").encode())
        p.drain(0.2)


def bench_follow_cpu(seconds: float) -> list[dict[str, Any]]:
    """CPU of the workbench while the Logs pane follows a container that writes 5 lines a second: on the
    Logs pane (visible), and after going back to the Containers pane (hidden). The fake engine's log file
    is appended to by this process."""
    out = []
    with tempfile.TemporaryDirectory(prefix="dy-tui-bench-", dir="/dev/shm") as d:
        tmp = Path(d)
        _empty_root(tmp)
        fake = [PY, "-c", FAKE_CHILD.format(here=str(HERE), tmp=str(tmp))]
        # "hidden": back on the Containers pane, whose detail panel (open by default) shows the same
        # container's logs live: that is visible work; "hidden, panel closed" (v) leaves only the hidden pane
        # "nothing written": the same screen with the container silent, what the rest of the app costs
        cases = (
            ("visible", b"l", True),
            ("visible, nothing written", b"l", False),
            ("hidden", b"l1", True),
            ("hidden, panel closed", b"l1v", True),
            ("hidden, panel closed, nothing written", b"l1v", False),
        )
        for label, keys, writing in cases:
            for old in tmp.glob("*-json.log"):
                old.unlink()
            p = PtyProc(fake, _env(tmp))
            try:
                if p.read_until(b"Containers", 15.0) is None:
                    raise RuntimeError(f"{label}: no first frame")
                p.drain(2.0)  # the list loads, the cursor is on the first container
                for _ in range(5):
                    p.send(keys[:1])
                    if p.read_until(b"Logs of", 3.0) is not None:
                        break
                else:
                    raise RuntimeError(f"{label}: the Logs pane did not open")
                for k in keys[1:]:
                    p.drain(0.5)
                    p.send(bytes([k]))
                logs = list(tmp.glob("*-json.log"))
                if len(logs) != 1:
                    raise RuntimeError(f"{label}: expected one log file, found {logs}")
                with open(logs[0], "ab", buffering=0) as log:
                    count = [0]
                    _write_lines(p, log, 2.0, count)  # settle
                    c0, t0 = p.cpu_seconds(), time.monotonic()
                    if writing:
                        _write_lines(p, log, seconds, count)
                    else:
                        p.drain(seconds)
                    c1, t1 = p.cpu_seconds(), time.monotonic()
                if os.waitpid(p.pid, os.WNOHANG)[0]:
                    raise RuntimeError(f"{label}: the workbench died")
            finally:
                p.close()
            out.append(
                {
                    "case": f"Logs pane following 5 lines/s, {label}",
                    "seconds": t1 - t0,
                    "cpu_s": c1 - c0,
                    "cpu_percent": 100 * (c1 - c0) / (t1 - t0),
                }
            )
    return out


# ------------------------------------------------------------------------------------------------- main


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--idle", type=float, default=30.0)
    ap.add_argument("--log-gb", type=float, default=2.0)
    ap.add_argument("--only", default="first_paint,containers,logview,idle,follow_cpu")
    ap.add_argument("--json", help="write the results here too")
    args = ap.parse_args()
    only = set(args.only.split(","))
    results: dict[str, Any] = {}
    if "first_paint" in only:
        r = results["first_paint"] = bench_first_paint(args.rounds)
        print(
            f"first paint (80x24, pty, empty root): median {r['median_s'] * 1000:.0f} ms "
            f"(min {r['min_s'] * 1000:.0f}, max {r['max_s'] * 1000:.0f}, {r['rounds']} runs); "
            "target < 500 ms"
        )
    if "containers" in only:
        results["containers"] = bench_containers()
        for r in results["containers"]:
            print(
                f"containers pane {r['size']}, {r['containers']} rows: "
                f"shown after {r['populated_s'] * 1000:.0f} ms; "
                f"{r['frames']} frames while scrolling: median {r['frame_median_ms']:.1f} ms, "
                f"p99 {r['frame_p99_ms']:.1f} ms, max {r['frame_max_ms']:.1f} ms, "
                f"{r['frames_over_50ms']} over 50 ms; key to idle median {r['key_median_ms']:.1f} ms, "
                f"max {r['key_max_ms']:.1f} ms"
            )
    if "logview" in only:
        if shutil.disk_usage("/dev/shm").free < args.log_gb * (1 << 30) * 1.2:
            print("logview: not enough room on /dev/shm; skipped")
        else:
            r = results["logview"] = bench_logview(args.log_gb)
            print(
                f"log viewer on {r['bytes'] / (1 << 30):.2f} GiB ({r['lines']:,} lines, written in "
                f"{r['write_s']:.1f} s): last line on screen after {r['end_visible_s'] * 1000:.0f} ms "
                f"(target < 1 s); index complete after {r['index_complete_s']:.2f} s; "
                f"Home then End keys {r['home_end_keys_s'] * 1000:.0f} ms (at end: {r['end_after_keys']})"
            )

            def secs(v: float | None) -> str:
                return "timed out" if v is None else f"{v * 1000:.0f} ms"

            for label, what in (
                ("near", "first match a few hundred KB on"),
                ("middle", "first match 1 GB on"),
                ("not_found", "not found (whole file)"),
                ("frame_word", "not found, a word in every record's keys (whole file)"),
                ("middle_while_following", "match 1 GB away while following"),
            ):
                sr = r["search"][label]
                print(
                    f"  search from the top, {what}: {secs(sr['s'])}"
                    f" ({sr['progress_updates']} progress updates in the status line)"
                )
            print(f"  filter of the whole file (one matching line): {secs(r['filter_s'])}")
    if "idle" in only:
        results["idle"] = bench_idle(args.idle)
        for r in results["idle"]:
            print(
                f"idle CPU, {r['case']}: {r['cpu_percent']:.2f}% of a core "
                f"({r['cpu_s']:.2f} s CPU over {r['seconds']:.0f} s)"
            )
    if "follow_cpu" in only:
        results["follow_cpu"] = bench_follow_cpu(args.idle)
        for r in results["follow_cpu"]:
            print(
                f"CPU, {r['case']}: {r['cpu_percent']:.2f}% of a core "
                f"({r['cpu_s']:.2f} s CPU over {r['seconds']:.0f} s)"
            )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
