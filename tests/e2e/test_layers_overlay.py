"""Layers unpacked by LayerStore, stacked by the real overlayfs: whiteouts and opaque dirs act as OCI says."""

from __future__ import annotations

import errno
import gzip
import hashlib
import io
import os
import stat
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import zstandard

from core.config import Config
from core.storage.layers import LayerStore

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(os.geteuid() != 0, reason="overlay mounts need root")]


def tar_of(entries: list[tuple[str, str, bytes | str, int]]) -> bytes:
    """entries: (name, kind, data-or-link-target, mode); kind is f, d, l (symlink) or h (hard link)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, kind, payload, mode in entries:
            ti = tarfile.TarInfo(name)
            ti.mode, ti.mtime = mode, 1_700_000_000
            data = b""
            if kind == "d":
                ti.type = tarfile.DIRTYPE
            elif kind == "l":
                ti.type, ti.linkname = tarfile.SYMTYPE, str(payload)
            elif kind == "h":
                ti.type, ti.linkname = tarfile.LNKTYPE, str(payload)
            else:
                data = payload if isinstance(payload, bytes) else payload.encode()
                ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


LOWER = tar_of(
    [
        ("etc", "d", "", 0o755),
        ("etc/keep", "f", "keep", 0o644),
        ("etc/gone", "f", "gone", 0o644),
        ("etc/shadow", "f", "secret", 0o600),
        ("files", "d", "", 0o755),
        ("files/a", "f", "A", 0o644),
        ("files/a_link", "h", "files/a", 0o644),
        ("lnk", "l", "files/a", 0o777),
        ("usr", "d", "", 0o755),
        ("usr/lib", "d", "", 0o755),
        ("usr/lib/libc.so", "f", "libc", 0o755),
        ("lib", "l", "usr/lib", 0o777),
        ("data", "d", "", 0o755),
        ("data/old", "f", "old", 0o644),
        ("data/sub", "d", "", 0o755),
        ("data/sub/b", "f", "B", 0o644),
        ("opq", "d", "", 0o755),
        ("opq/old1", "f", "1", 0o644),
        ("opq/olddir", "d", "", 0o755),
        ("opq/olddir/x", "f", "x", 0o644),
        ("deldir", "d", "", 0o755),
        ("deldir/f", "f", "f", 0o644),
        ("tmp", "d", "", 0o1777),
        ("usr/bin", "d", "", 0o755),
        ("usr/bin/su", "f", "su", 0o4755),
    ]
)
MIDDLE = tar_of(
    [
        ("etc", "d", "", 0o755),
        ("etc/.wh.gone", "f", "", 0o644),  # delete a file
        (".wh.deldir", "f", "", 0o644),  # delete a directory
        ("etc/new", "f", "new", 0o644),
        (".wh.data", "f", "", 0o644),  # delete a directory and make it anew in the same layer
        ("data", "d", "", 0o755),
        ("data/c", "f", "C", 0o644),
    ]
)
TOP = tar_of(
    [
        ("opq", "d", "", 0o755),
        ("opq/.wh..wh..opq", "f", "", 0o644),  # hide everything below
        ("opq/new", "f", "top", 0o644),
    ]
)


def _diff_id(tar: bytes) -> str:
    return "sha256:" + hashlib.sha256(tar).hexdigest()


@pytest.fixture
def merged(engine_config: Config) -> Iterator[Path]:
    store = LayerStore(engine_config.paths)
    chain: list[str] = []
    parent = None
    blobs = [gzip.compress(LOWER), zstandard.ZstdCompressor().compress(MIDDLE), TOP]  # all three kinds
    for tar, blob in zip([LOWER, MIDDLE, TOP], blobs, strict=True):
        did = _diff_id(tar)
        cid = LayerStore.chain_id(parent, did)
        store.unpack(cid, parent, did, io.BytesIO(blob))
        chain.append(cid)
        parent = cid
    with tempfile.TemporaryDirectory(prefix="dockyard-overlay-") as tmp:
        os.chmod(tmp, 0o755)  # so an unprivileged user can reach the mount point
        mnt = Path(tmp) / "merged"
        mnt.mkdir()
        lower = store.lowerdirs(chain)
        subprocess.run(
            ["mount", "-t", "overlay", "overlay", "-o", f"ro,lowerdir={lower}", str(mnt)],
            check=True,
            capture_output=True,
        )
        try:
            yield mnt
        finally:
            subprocess.run(["umount", str(mnt)], check=True)


def test_merged_view(merged: Path) -> None:
    assert sorted(os.listdir(merged / "etc")) == ["keep", "new", "shadow"]
    assert (merged / "etc/keep").read_text() == "keep"
    assert not (merged / "deldir").exists()
    assert sorted(os.listdir(merged / "data")) == ["c"]  # re-created dir does not merge with the old one
    assert sorted(os.listdir(merged / "opq")) == ["new"]
    assert (merged / "opq/new").read_text() == "top"
    assert sorted(os.listdir(merged)) == ["data", "etc", "files", "lib", "lnk", "opq", "tmp", "usr"]


def test_links_survive_stacking(merged: Path) -> None:
    assert os.readlink(merged / "lnk") == "files/a"
    assert (merged / "lnk").read_text() == "A"
    a, a_link = os.stat(merged / "files/a"), os.stat(merged / "files/a_link")
    assert a.st_ino == a_link.st_ino and a.st_nlink == 2
    assert (merged / "lib/libc.so").read_text() == "libc"


def test_modes_survive_stacking(merged: Path) -> None:
    assert stat.S_IMODE(os.stat(merged / "tmp").st_mode) == 0o1777
    assert stat.S_IMODE(os.stat(merged / "usr/bin/su").st_mode) == 0o4755


def test_no_whiteout_shows_through(merged: Path) -> None:
    for dirpath, dirnames, filenames in os.walk(merged):
        for name in dirnames + filenames:
            assert not name.startswith(".wh."), os.path.join(dirpath, name)
            st = os.lstat(os.path.join(dirpath, name))
            assert not (stat.S_ISCHR(st.st_mode) and st.st_rdev == 0), os.path.join(dirpath, name)


def test_mount_is_read_only(merged: Path) -> None:
    with pytest.raises(OSError) as info:
        (merged / "etc/keep").write_text("changed")
    assert info.value.errno == errno.EROFS


def test_unprivileged_users_read_through_the_mount(merged: Path) -> None:
    # layer dirs are 0700 on the host; overlayfs reads them with the mounter's credentials
    out = subprocess.run(["cat", str(merged / "etc/keep")], user=65534, capture_output=True, check=True)
    assert out.stdout == b"keep"
    # ... while the file modes inside the layer still apply
    denied = subprocess.run(["cat", str(merged / "etc/shadow")], user=65534, capture_output=True)
    assert denied.returncode != 0 and b"Permission denied" in denied.stderr
