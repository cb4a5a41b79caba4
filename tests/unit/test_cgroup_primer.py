"""The cgroup-move primer of a starting shim stops by itself: a shim kept prepared (the API server holds one
warm) may wait hours for its order, and 200 moves a second cost ~1.5% of a core all that time."""

from __future__ import annotations

import time

import pytest

from core.runtime.cgroupfs import Primer


def test_primer_ends_after_its_time_and_stop_still_works() -> None:
    primer = Primer(every=0.005, lasting=0.2)
    if primer.fd < 0:
        pytest.skip("no cgroup of ours to write to here")
    thread = primer._thread
    assert thread is not None and thread.is_alive()
    deadline = time.monotonic() + 5
    while thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not thread.is_alive()
    primer.stop()
    assert primer.fd == -1
    primer.stop()  # twice is fine


def test_primer_stops_when_told_before_its_time() -> None:
    primer = Primer(every=0.005, lasting=60)
    if primer.fd < 0:
        pytest.skip("no cgroup of ours to write to here")
    started = time.monotonic()
    primer.stop()
    assert time.monotonic() - started < 1 and primer._thread is None
