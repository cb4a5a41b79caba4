"""What a pull killed half way leaves (a partial blob, a half-unpacked layer) is reported by ``system df``
and removed by ``image prune`` / ``system prune``; a pull still running keeps what it is writing through a
prune, and finishes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.config import Config
from core.engine import LocalEngine
from core.images.pull import check_temp_clean
from tests.e2e.faultproxy import FaultProxy
from tests.e2e.test_pull import dockyard, ok
from tests.e2e.test_pull_faults import busybox_blobs
from tests.testbed import Testbed

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")


@pytest.fixture
def slow_proxy(testbed: Testbed) -> Iterator[tuple[FaultProxy, int]]:
    """A proxy sending busybox's ~1 MB layer at 200 kB/s (~5 s); yields it and the layer's size."""
    _, layer, size = busybox_blobs(testbed)
    with FaultProxy(testbed.open_addr) as p:
        p.only_digest = layer
        p.throttle = 200_000
        yield p, size


def _start_pull(cfg: Config, ref: str) -> subprocess.Popen[bytes]:
    exe = Path(sys.executable).parent / "dockyard"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKYARD_")}
    env.update(DOCKER_CONFIG=str(cfg.docker_config), DOCKYARD_RUN=str(cfg.run))
    return subprocess.Popen(
        [str(exe), "--root", str(cfg.root), "pull", "-q", ref],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )


def _wait_mid_download(cfg: Config, proxy: FaultProxy, child: subprocess.Popen[bytes], size: int) -> None:
    """Until some of the layer is on disk (in the temp blob), with most of it still to come."""

    def written() -> int:
        return sum(p.stat().st_size for p in cfg.paths.blobs.glob(".tmp-*"))

    deadline = time.monotonic() + 20
    while written() < 100_000 and time.monotonic() < deadline and child.poll() is None:
        time.sleep(0.02)
    assert child.poll() is None, "the pull ended before the test could act"
    assert written() >= 100_000 and proxy.blob_bytes_sent < size


def _images_row(cfg: Config) -> dict[str, str]:
    rows = [json.loads(line) for line in ok(dockyard(cfg, "system", "df", "--format", "json")).splitlines()]
    return next(r for r in rows if r["Type"] == "Images")


def test_killed_pulls_leftovers_are_reported_and_pruned(
    testbed: Testbed, engine_config: Config, slow_proxy: tuple[FaultProxy, int]
) -> None:
    proxy, size = slow_proxy
    assert _images_row(engine_config)["Reclaimable"] == "0B"
    child = _start_pull(engine_config, f"{proxy.addr}/busybox:latest")
    try:
        _wait_mid_download(engine_config, proxy, child, size)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        if child.poll() is None:
            child.kill()
        child.wait()
    assert check_temp_clean(engine_config.root) != []
    row = _images_row(engine_config)
    assert row["TotalCount"] == 0
    assert row["Size"] != "0B" and row["Reclaimable"].startswith(row["Size"]), row

    out = ok(dockyard(engine_config, "system", "prune", "-f"))
    assert "Total reclaimed space: 0B" not in out, out
    assert check_temp_clean(engine_config.root) == []
    assert _images_row(engine_config)["Size"] == "0B"


def test_prune_keeps_what_a_running_pull_writes(
    testbed: Testbed, engine_config: Config, slow_proxy: tuple[FaultProxy, int]
) -> None:
    proxy, size = slow_proxy
    ref = f"{proxy.addr}/busybox:latest"
    child = _start_pull(engine_config, ref)
    try:
        _wait_mid_download(engine_config, proxy, child, size)
        before = check_temp_clean(engine_config.root)
        assert before
        assert _images_row(engine_config)["Reclaimable"] == "0B"  # nothing of a live pull is reclaimable
        ok(dockyard(engine_config, "image", "prune", "-a", "-f"))
        assert all(p.exists() for p in before)
        _, stderr = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 0, stderr
    LocalEngine(engine_config).images.resolve(ref)
    assert check_temp_clean(engine_config.root) == []
