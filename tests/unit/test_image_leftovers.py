"""What an interrupted pull leaves (a partial blob in ``blobs/``, a half-unpacked layer in ``tmp/``): ``system
df`` counts it in the Images row as reclaimable and ``image prune`` removes it, but never an entry whose
writer (named by the pid in the temp name) is still alive."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from core.config import Config
from core.engine import LocalEngine
from core.state.records import TEMP_PREFIX, temp_name

HEX = "ab" * 32


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def _leftovers(cfg: Config, pid: int) -> tuple[Path, Path]:
    """A partial blob and a half-unpacked layer dir, both written by ``pid``, 64 KiB each."""
    paths = cfg.paths
    blob = paths.blobs / f"{TEMP_PREFIX}{pid}-00000000-{HEX}"
    layer = paths.tmp / f"{TEMP_PREFIX}{pid}-00000000-{HEX}"
    paths.blobs.mkdir(parents=True)
    (layer / "diff" / "bin").mkdir(parents=True)
    blob.write_bytes(os.urandom(65536))
    (layer / "diff" / "bin" / "sh").write_bytes(os.urandom(65536))
    return blob, layer


def _engine(tmp_path: Path) -> LocalEngine:
    return LocalEngine(Config(root=tmp_path / "root", run=tmp_path / "run"))


def test_df_counts_a_killed_pulls_leftovers_as_reclaimable(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    _leftovers(engine.config, _dead_pid())
    images = next(r for r in engine.disk_usage() if r["Type"] == "Images")
    assert images["TotalCount"] == 0
    assert 2 * 65536 <= images["Size"] == images["Reclaimable"] < 4 * 65536


def test_image_prune_removes_dead_leftovers_and_keeps_a_live_pulls(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    dead = _leftovers(engine.config, _dead_pid())
    # what this process (a pull still running, as far as anyone can tell) is writing
    live_blob = temp_name(engine.paths.blobs / ("cd" * 32))
    live_blob.write_bytes(b"x" * 4096)
    live_layer = temp_name(engine.paths.tmp / ("cd" * 32))
    live_layer.mkdir()

    removed, freed = engine.prune_images()
    assert removed.deleted == [] and removed.untagged == []
    assert not any(p.exists() for p in dead)
    assert live_blob.exists() and live_layer.is_dir()
    assert 2 * 65536 <= freed < 4 * 65536
    # the live pull's entries are not reclaimable while it runs
    images = next(r for r in engine.disk_usage() if r["Type"] == "Images")
    assert images["Reclaimable"] == 0
