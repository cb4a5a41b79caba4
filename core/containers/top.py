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


def stats(cid: str, name: str, parent: str, *, running: bool, interval: float = 0.2) -> ContainerStats:
    """CPU % over ``interval`` (of one CPU, as docker: 100% = one core busy), memory and pids."""
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
    return ContainerStats(cid, name, cpu, b.memory_usage, limit, b.pids_current, b.cpu_usage_ns)
