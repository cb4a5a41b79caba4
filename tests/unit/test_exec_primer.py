"""The engine's cgroup-move primer (core.runtime.cgroupfs.MovePrimer): it runs from an exec's creation until
its start (or a few seconds, for an exec never started) and for a moment after each request, and otherwise
sleeps without waking: an idle engine costs nothing."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from core.runtime import cgroupfs
from core.runtime.cgroupfs import MovePrimer, cgroups_of

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not cgroups_of(os.getpid()), reason="moves a process between cgroups: needs root"
)


def _wakeups(thread: threading.Thread) -> int:
    """How many times the thread has gone to sleep and been woken (voluntary context switches)."""
    for line in Path(f"/proc/self/task/{thread.native_id}/status").read_text().splitlines():
        if line.startswith("voluntary_ctxt_switches:"):
            return int(line.split()[1])
    raise AssertionError("no voluntary_ctxt_switches in /proc")


def _wait_for(cond: object, timeout: float = 2.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():  # type: ignore[operator]
            return True
        time.sleep(0.01)
    return False


def test_it_primes_between_create_and_start_and_then_sleeps() -> None:
    primer = MovePrimer()
    primer.expect()
    primer.expect()  # two execs on their way
    thread = primer._thread
    assert thread is not None and thread.is_alive() and thread.name == "exec-cgroup-primer"
    assert primer._waiting == 2
    primer.started()
    assert primer._waiting == 1  # one is still waiting: moves go on
    primer.started()
    assert primer._waiting == 0
    # idle: blocked on its condition without a timeout, woken by nothing (priming, it wakes every 5 ms)
    time.sleep(0.05)
    before = _wakeups(thread)
    time.sleep(0.3)
    assert _wakeups(thread) == before
    primer.expect()  # the same thread takes up the next exec
    assert primer._thread is thread
    # moving every few milliseconds: ~20 wakeups in 0.1 s when idle, but a full parallel run once gave it
    # only 3 in that time (a move can wait ~20 ms for an RCU grace period): given time, it keeps moving
    assert _wait_for(lambda: _wakeups(thread) > before + 5)
    primer.started()


def test_an_exec_never_started_stops_the_priming_after_a_while(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cgroupfs, "PRIME_FOR", 0.1)
    primer = MovePrimer()
    primer.expect()  # created, never started (docker-py's exec_create alone)
    assert _wait_for(lambda: primer._waiting == 0, timeout=3)
    primer.started()  # a late start does not go below zero
    assert primer._waiting == 0


def test_a_request_holds_the_priming_for_a_moment_then_it_sleeps() -> None:
    primer = MovePrimer()
    primer.hold(0.3)
    thread = primer._thread
    assert thread is not None and thread.is_alive()
    start = _wakeups(thread)
    assert _wait_for(lambda: _wakeups(thread) > start + 5)  # moving while the hold lasts
    time.sleep(0.35)  # the hold is over
    before = _wakeups(thread)
    time.sleep(0.3)
    assert _wakeups(thread) == before
    assert primer._waiting == 0


def test_the_engine_keeps_one_primer() -> None:
    assert cgroupfs.move_primer() is cgroupfs.move_primer()
