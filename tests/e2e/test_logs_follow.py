"""``logs -f`` of a container that writes as fast as it can into a small rotated json-file log
(``max-size=1m``, ``max-file=5``): the follower opens each new file while it still has a name and holds it
until it has read it, so it sees every line written after it attached, in order.

The guarantee has a limit: the follower must run at least once in max-file rotations (here ~20 rotations a
second, so once in ~250 ms). With max-file=3 a follower thread starved for ~150 ms on a loaded 2-core CI
machine (the suite's other worker, the shim and seq all busy) lost one file; a writer that kept files no
follower had opened yet would lift the limit (not built)."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from core.config import Config
from core.engine import LocalEngine
from core.models import ContainerConfig, ContainerCreate, HostConfig, LogConfig

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")

LINES = 300_000  # ~20 MB of records: some 20 rotations of 1 MB


def test_follow_sees_every_line_of_a_writer_rotating_at_full_speed(testbed, engine_config: Config) -> None:  # type: ignore[no-untyped-def]
    engine = LocalEngine(engine_config)
    engine.pull(testbed.ref("busybox:latest"))
    script = f"echo ready; until [ -e /go ]; do sleep 0.01; done; seq 1 {LINES}"
    summary = engine.create_container(
        ContainerCreate(
            ContainerConfig(image=testbed.ref("busybox:latest"), cmd=["sh", "-c", script]),
            HostConfig(log_config=LogConfig("json-file", {"max-size": "1m", "max-file": "5"})),
        )
    )
    got: list[str] = []
    attached = threading.Event()
    errors: list[BaseException] = []

    def follow() -> None:
        try:
            for line in engine.container_logs(summary.id, follow=True):
                got.append(line.text)
                if line.text == "ready\n":
                    attached.set()  # the follower holds the log file: let the writer go
        except BaseException as err:
            errors.append(err)
        finally:
            attached.set()

    try:
        engine.start_container(summary.id)
        pid = engine.container(summary.id).pid
        follower = threading.Thread(target=follow, daemon=True)
        t0 = time.monotonic()
        follower.start()
        assert attached.wait(30)
        Path(f"/proc/{pid}/root/go").touch()
        follower.join(120)
        elapsed = time.monotonic() - t0
        assert not follower.is_alive() and not errors, errors
    finally:
        engine.remove_container(summary.id, force=True)
    numbers = [int(t) for t in got[1:]]
    missing = LINES - len(numbers)
    print(f"\n[logs -f] {len(numbers)} of {LINES} lines in {elapsed:.2f} s, {missing} missing")
    assert got[0] == "ready\n"
    assert numbers == list(range(1, LINES + 1))
