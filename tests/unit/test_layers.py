"""core.storage.layers: chain ids, unpack with DiffID check, races, removal and crash clean-up."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import signal
import stat
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from core.config import Config, Paths
from core.errors import DigestMismatch, InvalidArgument, NotFound, UnsafeLayer
from core.storage.layers import LayerStore

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="whiteouts are device nodes: needs root")
REPO = Path(__file__).resolve().parents[2]


def layer_tar(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, data in files.items():
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            ti.mtime = 1_600_000_000
            tf.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def diff_id(tar: bytes) -> str:
    return "sha256:" + hashlib.sha256(tar).hexdigest()


class NoRead(io.RawIOBase):
    def read(self, size: int = -1) -> bytes:
        raise AssertionError("the stream must not be read")


@pytest.fixture
def paths(engine_config: Config) -> Paths:
    return engine_config.paths


def test_chain_id_follows_the_oci_definition() -> None:
    a = "sha256:" + "a" * 64
    b = "sha256:" + "b" * 64
    assert LayerStore.chain_id(None, a) == a
    expected = "sha256:" + hashlib.sha256(f"{a} {b}".encode()).hexdigest()
    assert LayerStore.chain_id(a, b) == expected
    assert LayerStore.chain_id("a" * 64, "b" * 64) == expected  # bare hex is the same id
    c = "sha256:" + "c" * 64
    assert (
        LayerStore.chain_id(expected, c) == "sha256:" + hashlib.sha256(f"{expected} {c}".encode()).hexdigest()
    )
    for bad in ("sha512:" + "a" * 128, "sha256:../../etc", "A" * 64, ""):
        with pytest.raises(InvalidArgument):
            LayerStore.chain_id(None, bad)


def test_unpack_gzip_layer(paths: Paths) -> None:
    store = LayerStore(paths)
    tar = layer_tar({"etc/hostname": b"box\n", "bin/sh": b"#!" + b"x" * 5000})
    did = diff_id(tar)
    info = store.unpack(did, None, did, io.BytesIO(gzip.compress(tar)))
    assert info.chain_id == did and info.diff_id == did and info.parent is None
    assert info.size == 4 + 5002
    assert store.exists(did) and store.size(did) == info.size
    assert (store.diff_dir(did) / "etc/hostname").read_bytes() == b"box\n"
    record = json.loads((paths.layer(did.split(":")[1]) / "layer.json").read_text())
    assert record == {"chain_id": did, "diff_id": did, "parent": None, "size": info.size}
    assert store.info(did) == info
    assert store.chain_ids() == [did]
    assert os.listdir(paths.tmp) == []  # nothing left behind
    # host users cannot reach into a layer (device nodes, setuid files)
    assert stat.S_IMODE(os.stat(paths.layer(did.split(":")[1])).st_mode) == 0o700


def test_unpack_child_layer_and_lowerdirs(paths: Paths) -> None:
    store = LayerStore(paths)
    base_tar, top_tar = layer_tar({"a": b"1"}), layer_tar({"b": b"2"})
    base = store.unpack(diff_id(base_tar), None, diff_id(base_tar), io.BytesIO(base_tar))
    top_chain = LayerStore.chain_id(base.chain_id, diff_id(top_tar))
    top = store.unpack(top_chain, base.chain_id, diff_id(top_tar), io.BytesIO(top_tar))
    assert top.parent == base.chain_id
    lower = store.lowerdirs([base.chain_id, top.chain_id])
    assert lower == f"{store.diff_dir(top.chain_id)}:{store.diff_dir(base.chain_id)}"  # topmost first
    rel = store.lowerdirs([base.chain_id, top.chain_id], relative_to=paths.layers)
    assert rel == f"{top_chain.split(':')[1]}/diff:{base.chain_id.split(':')[1]}/diff"
    with pytest.raises(NotFound):
        store.lowerdirs([base.chain_id, "sha256:" + "f" * 64])
    with pytest.raises(InvalidArgument):
        store.lowerdirs([])


def test_unpack_refuses_a_chain_id_that_does_not_match(paths: Paths) -> None:
    tar = layer_tar({"a": b"1"})
    with pytest.raises(InvalidArgument, match="not the chain id"):
        LayerStore(paths).unpack("sha256:" + "e" * 64, None, diff_id(tar), io.BytesIO(tar))


def test_digest_mismatch_keeps_nothing(paths: Paths) -> None:
    store = LayerStore(paths)
    tar = layer_tar({"a": b"1"})
    claimed = diff_id(layer_tar({"a": b"2"}))
    with pytest.raises(DigestMismatch, match="nothing was kept"):
        store.unpack(claimed, None, claimed, io.BytesIO(gzip.compress(tar)))
    assert not store.exists(claimed)
    assert not paths.layer(claimed.split(":")[1]).exists()
    assert os.listdir(paths.tmp) == []


def test_bytes_after_the_end_marker_count_for_the_diff_id(paths: Paths) -> None:
    store = LayerStore(paths)
    tar = layer_tar({"a": b"1"}) + b"\0" * 4096  # extra blocking, as GNU tar's 10 KiB records have
    info = store.unpack(diff_id(tar), None, diff_id(tar), io.BytesIO(tar))
    assert info.size == 1
    short = layer_tar({"a": b"1"})
    with pytest.raises(DigestMismatch):
        store.unpack(diff_id(tar + b"\0" * 512), None, diff_id(tar + b"\0" * 512), io.BytesIO(short))


def test_unsafe_layer_keeps_nothing(paths: Paths) -> None:
    store = LayerStore(paths)
    tar = layer_tar({"../escape": b"x"})
    did = diff_id(tar)
    with pytest.raises(UnsafeLayer, match=r"'\.\./escape'"):
        store.unpack(did, None, did, io.BytesIO(tar))
    assert not store.exists(did)
    assert os.listdir(paths.tmp) == []
    assert not (paths.root / "escape").exists() and not (paths.tmp / "escape").exists()


def test_existing_layer_is_not_read_again(paths: Paths) -> None:
    store = LayerStore(paths)
    tar = layer_tar({"a": b"1"})
    did = diff_id(tar)
    first = store.unpack(did, None, did, io.BytesIO(tar))
    assert store.unpack(did, None, did, NoRead()) == first  # type: ignore[arg-type]


def test_losing_a_race_keeps_the_winners_layer(paths: Paths) -> None:
    store = LayerStore(paths)
    tar = layer_tar({"a": b"winner"})
    did = diff_id(tar)

    class RacingStream(io.BytesIO):
        """When our unpack reaches the end, another unpack of the same layer finishes first."""

        winner_inode = 0

        def read(self, size: int | None = -1) -> bytes:
            data = super().read(size)
            if not data and not self.winner_inode:
                LayerStore(paths).unpack(did, None, did, io.BytesIO(tar))
                self.winner_inode = os.stat(store.diff_dir(did) / "a").st_ino
            return data

    stream = RacingStream(tar)
    info = store.unpack(did, None, did, stream)
    assert stream.winner_inode
    assert info.chain_id == did and store.exists(did)
    assert os.stat(store.diff_dir(did) / "a").st_ino == stream.winner_inode  # theirs, not ours
    assert os.listdir(paths.tmp) == []  # the loser's copy is gone


def test_remove(paths: Paths) -> None:
    store = LayerStore(paths)
    tar = layer_tar({"a": b"1"})
    did = diff_id(tar)
    store.unpack(did, None, did, io.BytesIO(tar))
    os.chmod(store.diff_dir(did), 0o555)  # read-only dirs in a layer do not stop removal
    assert store.remove(did) is True
    assert not store.exists(did) and store.chain_ids() == []
    assert os.listdir(paths.tmp) == []
    assert store.remove(did) is False
    with pytest.raises(NotFound):
        store.info(did)


@needs_root
def test_whiteouts_are_converted_on_unpack(paths: Paths) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name in ("etc/", "etc/.wh.passwd", "var/.wh..wh..opq"):
            ti = tarfile.TarInfo(name.rstrip("/"))
            ti.type = tarfile.DIRTYPE if name.endswith("/") else tarfile.REGTYPE
            tf.addfile(ti, io.BytesIO(b""))
    tar = buf.getvalue()
    did = diff_id(tar)
    store = LayerStore(paths)
    store.unpack(did, None, did, io.BytesIO(tar))
    diff = store.diff_dir(did)
    assert os.stat(diff / "etc/passwd").st_rdev == 0 and not (diff / "etc/.wh.passwd").exists()
    assert os.getxattr(diff / "var", "trusted.overlay.opaque") == b"y"


_SLOW_UNPACK = """
import sys, io, gzip
sys.path.insert(0, sys.argv[1])
from pathlib import Path
from core.config import Paths
from core.storage.layers import LayerStore

class Slow(io.RawIOBase):
    # half a layer, then a read that blocks until we are killed
    def __init__(self):
        self.data = open(sys.argv[3], "rb").read()
        self.started = False
    def readable(self):
        return True
    def read(self, n=-1):
        if not self.started:
            self.started = True
            print("started", flush=True)
        if self.data:
            out, self.data = self.data[:n], self.data[n:]
            return out
        sys.stdin.read()
        return b""

did = sys.argv[4]
LayerStore(Paths(Path(sys.argv[2]), Path(sys.argv[2]) / "run")).unpack(did, None, did, Slow())
"""


def test_sweep_after_kill_9(paths: Paths, tmp_path: Path) -> None:
    tar = layer_tar({f"f{i}": b"x" * 1000 for i in range(50)})
    half = tmp_path / "half.tar"
    half.write_bytes(tar[: len(tar) // 2])
    did = diff_id(tar)
    proc = subprocess.Popen(
        [sys.executable, "-c", _SLOW_UNPACK, str(REPO), str(paths.root), str(half), did],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == b"started\n"
        deadline = time.monotonic() + 10
        while not any((paths.tmp / n / "diff" / "f0").exists() for n in os.listdir(paths.tmp)):
            assert time.monotonic() < deadline, "the child never started extracting"
            time.sleep(0.01)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.close()
        proc.stdout.close()
    store = LayerStore(paths)
    leftovers = os.listdir(paths.tmp)
    assert len(leftovers) == 1 and leftovers[0].startswith(f".tmp-{proc.pid}-")
    assert not store.exists(did)
    # a live writer's temp dir is left alone
    live = paths.tmp / f".tmp-{os.getpid()}-0000-live"
    live.mkdir()
    assert store.sweep() == 1
    assert os.listdir(paths.tmp) == [live.name]
    live.rmdir()
