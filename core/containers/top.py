"""``top`` and ``stats`` for a running container: its processes from /proc, its usage from the cgroup."""

from __future__ import annotations

import os
import time
from pathlib import Path

from core.models import ContainerStats


def _proc_pids(cid: str, parent: str) -> list[int]:
    from core.runtime import cgroups

    try:
        return sorted(cgroups.Cgroup.open(cid, parent=parent).pids())
    except Exception:
        return []


def top(cid: str, parent: str) -> tuple[list[str], list[list[str]]]:
    """ps -ef's columns, as docker top prints by default: UID PID PPID C STIME TTY TIME CMD."""
    import pwd

    hz = os.sysconf("SC_CLK_TCK")
    boot = time.time() - float(Path("/proc/uptime").read_text().split()[0])
    rows = []
    for pid in _proc_pids(cid, parent):
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
            with open(f"/proc/{pid}/cmdline", "rb") as fb:
                cmdline = fb.read().replace(b"\0", b" ").decode(errors="replace").strip()
            uid = os.stat(f"/proc/{pid}").st_uid
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        ppid = fields[1]
        tty_nr = int(fields[4])
        utime, stime = int(fields[11]), int(fields[12])
        start = boot + int(fields[19]) / hz
        comm = stat[stat.find("(") + 1 : stat.rfind(")")]
        cpu_secs = (utime + stime) // hz
        try:
            user = pwd.getpwuid(uid).pw_name
        except KeyError:
            user = str(uid)
        elapsed = max(1.0, time.time() - start)
        rows.append(
            [
                user,
                str(pid),
                ppid,
                str(int(100 * (utime + stime) / hz / elapsed)),
                time.strftime("%H:%M", time.localtime(start)),
                "?" if tty_nr == 0 else f"pts/{tty_nr & 0xFF}",
                f"{cpu_secs // 3600:02d}:{cpu_secs // 60 % 60:02d}:{cpu_secs % 60:02d}",
                cmdline or f"[{comm}]",
            ]
        )
    return ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"], rows


def top_ps(cid: str, parent: str, ps_args: str) -> tuple[list[str], list[list[str]]]:
    """``top CONTAINER PS-OPTIONS`` as dockerd does it: the host's ``ps`` with those options (split on single
    spaces), keeping the rows of the container's processes (and the thread rows that follow one of them); the
    output must have a PID column."""
    import re
    import subprocess

    from core.errors import InvalidArgument, RuntimeFailure

    for key, value in re.findall(r"\s+([^\s]*)=\s*(PID[^\s]*)", ps_args):
        if key != "pid":
            raise InvalidArgument(f'specifying "{key}={value}" is not allowed')
    pids = set(_proc_pids(cid, parent))
    try:
        proc = subprocess.run(["ps", *ps_args.split(" ")], capture_output=True, check=False)
    except OSError as err:
        raise RuntimeFailure(f"Error running ps: {err.strerror or err}") from None
    if proc.returncode != 0:
        raise RuntimeFailure(f"Error running ps: exit status {proc.returncode}")
    lines = proc.stdout.decode(errors="replace").split("\n")
    titles = lines[0].split()
    if "PID" not in titles:
        raise RuntimeFailure("Couldn't find PID field in ps output")
    at = titles.index("PID")
    rows: list[list[str]] = []
    follows = False  # a thread line ("-" for its PID) belongs to the process row before it
    for line in lines[1:]:
        fields = line.split()
        if not fields or len(fields) <= at:
            continue
        if fields[at] == "-":
            if follows:
                rows.append([*fields[: len(titles) - 1], " ".join(fields[len(titles) - 1 :])])
            continue
        try:
            pid = int(fields[at])
        except ValueError:
            raise RuntimeFailure(f"Unexpected pid '{fields[at]}'") from None
        follows = pid in pids
        if follows:
            rows.append([*fields[: len(titles) - 1], " ".join(fields[len(titles) - 1 :])])
    return titles, rows


def net_io(pid: int) -> tuple[int, int]:
    """(received, sent) bytes of the interfaces in ``pid``'s network namespace but lo, as docker counts
    a container's network I/O (the endpoints of its sandbox)."""
    rx = tx = 0
    try:
        lines = Path(f"/proc/{pid}/net/dev").read_text().splitlines()[2:]
    except OSError:
        return 0, 0
    for line in lines:
        name, _, counters = line.partition(":")
        fields = counters.split()
        if name.strip() == "lo" or len(fields) < 9:
            continue
        rx += int(fields[0])
        tx += int(fields[8])
    return rx, tx


def stats(
    cid: str,
    name: str,
    parent: str,
    *,
    running: bool,
    interval: float = 0.2,
    pid: int = 0,
    own_net: bool = True,
) -> ContainerStats:
    """CPU % over ``interval`` (of one CPU, as docker: 100% = one core busy), memory, pids, block I/O and,
    with ``pid`` in a network namespace of its own (``own_net``), network I/O."""
    if not running:
        return ContainerStats(cid, name, 0.0, 0, 0, 0)
    from core.runtime import cgroups

    cg = cgroups.Cgroup.open(cid, parent=parent)
    a = cg.stats()
    t0 = time.monotonic()
    time.sleep(interval)
    b = cg.stats()
    dt = time.monotonic() - t0
    cpu = max(0.0, (b.cpu_usage_ns - a.cpu_usage_ns) / (dt * 1e9) * 100.0)
    limit = b.memory_limit or 0
    if not limit or limit >= 1 << 60:
        limit = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    rx, tx = net_io(pid) if pid and own_net else (0, 0)
    return ContainerStats(
        cid,
        name,
        cpu,
        b.memory_usage,
        limit,
        b.pids_current,
        b.cpu_usage_ns,
        net_rx=rx,
        net_tx=tx,
        block_read=b.block_read,
        block_write=b.block_write,
    )
