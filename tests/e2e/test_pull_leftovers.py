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
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from core.config import Config
from core.engine import LocalEngine
from core.images.pull import check_temp_clean
from tests.e2e.faultproxy import FaultProxy
from tests.e2e.test_pull import dockyard, layer_dirs, ok
from tests.e2e.test_pull_faults import busybox_blobs
from tests.testbed import Testbed
from tests.testbed.build import Layout

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")


@pytest.fixture
def proxy(testbed: Testbed) -> Iterator[tuple[FaultProxy, int]]:
    """A proxy whose faults apply to busybox's layer (1,088,439 bytes); yields it and the layer's size."""
    _, layer, size = busybox_blobs(testbed)
    with FaultProxy(testbed.open_addr) as p:
        p.only_digest = layer
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


def _wait(what: str, done: Callable[[], bool], child: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while not done() and time.monotonic() < deadline and child.poll() is None:
        time.sleep(0.005)
    assert child.poll() is None, f"the pull ended before {what}"
    assert done(), f"timed out waiting for {what}"


def _written(cfg: Config) -> int:
    """Bytes in the temp blobs: the unpacker reads the download 1 MiB at a time, so they land in steps."""
    return sum(p.stat().st_size for p in cfg.paths.blobs.glob(".tmp-*"))


def _images_row(cfg: Config) -> dict[str, str]:
    rows = [json.loads(line) for line in ok(dockyard(cfg, "system", "df", "--format", "json")).splitlines()]
    return next(r for r in rows if r["Type"] == "Images")


CUT = 1_070_000  # bytes of the layer sent before the connection drops: past the first MiB


class _CrawlAfterCut(FaultProxy):
    """Sends the layer at full speed until the cut, then at 1 kB/s: the resumed download crawls, whatever
    the timing of the client's reconnect (a throttle set by the test after the cut could come too late)."""

    @property  # type: ignore[override]
    def throttle(self) -> float | None:
        return 1_000 if self.blob_bytes_sent >= CUT else None

    @throttle.setter
    def throttle(self, value: float | None) -> None:
        pass  # FaultProxy.__init__ sets it; this proxy's rate follows the bytes sent


def test_killed_pulls_leftovers_are_reported_and_pruned(testbed: Testbed, engine_config: Config) -> None:
    _, layer, size = busybox_blobs(testbed)
    assert _images_row(engine_config)["Reclaimable"] == "0B"
    with _CrawlAfterCut(testbed.open_addr) as fault:
        fault.only_digest = layer
        # the unpacker reads the download 1 MiB at a time: the first MiB lands on disk, then the connection
        # drops and the resume crawls, so the pull is still running, with data written, when it is killed
        fault.cut_blob_after = CUT
        child = _start_pull(engine_config, f"{fault.addr}/busybox:latest")
        try:
            _wait("the first MiB on disk", lambda: _written(engine_config) >= 1 << 20, child)
            os.kill(child.pid, signal.SIGKILL)
            assert fault.blob_bytes_sent < size  # killed before the whole layer came
        finally:
            if child.poll() is None:
                child.kill()
            child.wait()
    assert check_temp_clean(engine_config.root) != []
    row = _images_row(engine_config)
    assert row["TotalCount"] == "0"  # docker's df --format json: strings
    assert row["Size"] != "0B" and row["Reclaimable"].startswith(row["Size"]), row

    out = ok(dockyard(engine_config, "system", "prune", "-f"))
    assert "Total reclaimed space: 0B" not in out, out
    assert check_temp_clean(engine_config.root) == []
    assert _images_row(engine_config)["Size"] == "0B"


def test_prune_keeps_what_a_running_pull_writes(
    testbed: Testbed, engine_config: Config, proxy: tuple[FaultProxy, int]
) -> None:
    fault, size = proxy
    fault.throttle = 100_000  # bytes/s: the layer takes ~11 s, the first MiB lands after ~10 s
    ref = f"{fault.addr}/busybox:latest"
    child = _start_pull(engine_config, ref)
    try:
        _wait("its temp blob and layer dir", lambda: len(check_temp_clean(engine_config.root)) >= 2, child)
        before = check_temp_clean(engine_config.root)
        assert _images_row(engine_config)["Reclaimable"] == "0B"  # nothing of a live pull is reclaimable
        ok(dockyard(engine_config, "image", "prune", "-a", "-f"))
        assert all(p.exists() for p in before)
        assert child.poll() is None and fault.blob_bytes_sent < size, "the pull ended too soon to tell"
        _, stderr = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 0, stderr
    LocalEngine(engine_config).images.resolve(ref)
    assert check_temp_clean(engine_config.root) == []


def _layer_blobs(cfg: Config) -> list[str]:
    return sorted(p.name for p in cfg.paths.blobs.iterdir() if not p.name.startswith(".tmp-"))


def test_killed_pulls_finished_layers_are_reported_and_pruned(
    testbed: Testbed, engine_config: Config
) -> None:
    """A pull killed after some layers were finished (unpacked and their blobs in place) but before its image
    record: those layers and blobs are named by no record. ``system df`` counts them as reclaimable and
    ``system prune`` removes them (they were invisible to both before the claims of core.images.claims)."""
    lay = Layout(testbed.layout("whiteout:latest").layout)
    manifest = lay.read_json(lay.descriptor(testbed.layout("whiteout:latest").tag)["digest"])
    last = manifest["layers"][-1]["digest"]
    # one layer at a time, the last one stalls: the first layers finish, the record never comes
    (engine_config.root / "daemon.json").write_text('{"max-concurrent-downloads": 1}')
    with FaultProxy(testbed.open_addr) as fault:
        fault.only_digest = last
        fault.stall_blobs = True
        child = _start_pull(engine_config, f"{fault.addr}/whiteout:latest")
        try:
            _wait("the stalled last layer", lambda: fault.stalls >= 1, child)
            os.kill(child.pid, signal.SIGKILL)
        finally:
            if child.poll() is None:
                child.kill()
            child.wait()
    finished = layer_dirs(engine_config)
    assert len(finished) == len(manifest["layers"]) - 1, finished
    assert len(_layer_blobs(engine_config)) >= len(finished)  # the config and the finished layers' blobs
    assert not engine_config.paths.images.exists() or not any(engine_config.paths.images.iterdir())
    row = _images_row(engine_config)
    assert row["TotalCount"] == "0"  # docker's df --format json: strings
    assert row["Size"] != "0B" and row["Reclaimable"].startswith(row["Size"]), row

    out = ok(dockyard(engine_config, "system", "prune", "-f"))
    assert "Total reclaimed space: 0B" not in out, out
    assert layer_dirs(engine_config) == set()
    assert _layer_blobs(engine_config) == []
    assert check_temp_clean(engine_config.root) == []
    assert _images_row(engine_config)["Size"] == "0B"
    # nothing of the killed pull's locks is left in the run dir
    assert [n for n in os.listdir(engine_config.paths.locks) if n.startswith(("pull-", "fetch-"))] == []
    # and the image pulls again from nothing
    ok(dockyard(engine_config, "pull", "-q", testbed.ref("whiteout:latest")))
