"""save/load with real images from the test bed, checked with skopeo and podman (tools we did not write).

- save -> load into a fresh root gives the same image ids, tags and unpacked files (whiteouts included);
- skopeo reads our save output as ``docker-archive:`` and as ``oci-archive:``, podman loads it;
- we load what skopeo writes: ``docker-archive:`` (legacy layer dirs, symlinks), ``oci-archive:`` (one image,
  or a whole multi-platform index);
- corrupt and hostile archives are refused with a clear error and leave nothing behind.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import stat
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest

from core.config import Config
from core.errors import DigestMismatch, DockyardError, InvalidArgument, UnsafeLayer
from core.images.access import open_client
from core.images.archive import load, save
from core.images.pull import Puller, check_temp_clean
from core.images.reference import parse_reference
from core.images.store import ImageRecord, ImageStore
from core.models import PullProgress
from core.storage.layers import LayerStore
from tests.testbed import WHITEOUT_ABSENT, WHITEOUT_PRESENT, Testbed


class Root:
    """One engine root with the rooms save/load need."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.store = ImageStore(config.paths)
        self.layers = LayerStore(config.paths)

    def pull(self, ref: str) -> ImageRecord:
        r = parse_reference(ref)
        with open_client(self.config, r) as client:
            return Puller(self.config, self.store, self.layers).pull(client, r).record

    def save(self, path: Path, items: list[tuple[ImageRecord, list[str]]]) -> None:
        with open(path, "wb") as out:
            save(self.store, items, out)

    def load(self, path: Path, **kw: Any) -> list[str]:
        with open(path, "rb") as src:
            return load(self.store, self.layers, src, **kw)

    def is_empty(self) -> bool:
        paths = self.config.paths
        listed = [p for d in (paths.images, paths.blobs, paths.layers) if d.exists() for p in d.iterdir()]
        return listed == [] and check_temp_clean(paths.root) == []


@pytest.fixture
def scratch(engine_config: Config) -> Path:
    """Inside the engine_config fixture's scratch dir, which it removes afterwards."""
    return engine_config.root.parent


@pytest.fixture
def src(engine_config: Config, testbed: Testbed) -> Root:
    return Root(engine_config)


@pytest.fixture
def dst(scratch: Path) -> Root:
    return Root(Config(root=scratch / "root2", run=scratch / "run2", docker_config=scratch / "docker"))


def skopeo(scratch: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    auth = scratch / "auth.json"
    auth.write_text("{}")
    env["REGISTRY_AUTH_FILE"] = str(auth)  # an empty one: no user credentials
    proc = subprocess.run(
        ["skopeo", "--insecure-policy", *args], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 0, f"skopeo {' '.join(args)}: {proc.stderr}"
    return proc.stdout


def snapshot(path: Path) -> dict[str, tuple[Any, ...]]:
    """Everything about a tree that a layer carries: kind, mode, owner, content, link target, device,
    the overlay opaque xattr, mtimes of non-directories, and hard-link counts."""
    out: dict[str, tuple[Any, ...]] = {}
    for dirpath, dirnames, filenames in os.walk(path):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = os.lstat(p)
            rel = str(p.relative_to(path))
            kind = stat.S_IFMT(st.st_mode)
            extra: Any = None
            if stat.S_ISREG(kind):
                extra = hashlib.sha256(p.read_bytes()).hexdigest()
            elif stat.S_ISLNK(kind):
                extra = os.readlink(p)
            elif stat.S_ISCHR(kind) or stat.S_ISBLK(kind):
                extra = st.st_rdev
            try:
                opaque = os.getxattr(p, "trusted.overlay.opaque", follow_symlinks=False)
            except OSError:
                opaque = None
            # directories get their mtime from what is extracted into them later, overlay whiteouts
            # (0:0 char devices) are made by us at unpack time: neither carries the layer's mtime
            whiteout = stat.S_ISCHR(kind) and st.st_rdev == 0
            mtime = None if stat.S_ISDIR(kind) or whiteout else st.st_mtime_ns
            out[rel] = (
                kind,
                stat.S_IMODE(st.st_mode),
                st.st_uid,
                st.st_gid,
                extra,
                opaque,
                mtime,
                st.st_nlink,
            )
    return out


def assert_same_image(a: Root, ra: ImageRecord, b: Root, rb: ImageRecord) -> None:
    assert rb.id == ra.id
    assert [layer.chain_id for layer in rb.layers] == [layer.chain_id for layer in ra.layers]
    for layer in rb.layers:
        assert snapshot(b.layers.diff_dir(layer.chain_id)) == snapshot(a.layers.diff_dir(layer.chain_id))
    assert rb.size == ra.size


# ----------------------------------------------------------------------------------------------- round trip


def test_save_load_round_trip_into_a_fresh_root(
    testbed: Testbed, src: Root, dst: Root, scratch: Path
) -> None:
    busybox = src.pull(testbed.ref("busybox:latest"))
    whiteout = src.pull(testbed.ref("whiteout:latest"))
    with src.store.lock():
        src.store.add_tag(busybox, parse_reference("mine/bb:1"))
    archive = scratch / "saved.tar"
    src.save(
        archive,
        [
            (busybox, [testbed.ref("busybox:latest"), "mine/bb:1"]),
            (whiteout, [testbed.ref("whiteout:latest")]),
        ],
    )
    events: list[PullProgress] = []
    lines = dst.load(archive, progress=events.append)
    assert lines == [
        f"Loaded image: {testbed.ref('busybox:latest')}",
        "Loaded image: mine/bb:1",
        f"Loaded image: {testbed.ref('whiteout:latest')}",
    ]
    for record, tags in (
        (busybox, [testbed.ref("busybox:latest"), "mine/bb:1"]),
        (whiteout, [testbed.ref("whiteout:latest")]),
    ):
        got = dst.store.resolve(tags[0])
        assert_same_image(src, record, dst, got)
        assert sorted(got.repo_tags) == sorted(str(parse_reference(t)) for t in tags)
        assert got.repo_digests == []  # as docker: a loaded image has no registry digest
    # the whiteouts came through as overlay whiteouts: check the merged view layer by layer
    got = dst.store.resolve(testbed.ref("whiteout:latest"))
    merged: dict[str, Path] = {}
    for layer in got.layers:
        diff = dst.layers.diff_dir(layer.chain_id)
        for dirpath, dirnames, filenames in os.walk(diff):
            for name in dirnames + filenames:
                p = Path(dirpath) / name
                rel = "/" + str(p.relative_to(diff))
                st = os.lstat(p)
                if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                    merged = {k: v for k, v in merged.items() if k != rel and not k.startswith(rel + "/")}
                    continue
                if stat.S_ISDIR(st.st_mode) and _opaque(p):
                    merged = {k: v for k, v in merged.items() if not k.startswith(rel + "/")}
                merged[rel] = p
    assert all(path in merged for path in WHITEOUT_PRESENT), sorted(merged)
    assert not any(path in merged for path in WHITEOUT_ABSENT)
    assert {e.status for e in events} >= {"Loading layer", "Loaded"}
    assert check_temp_clean(dst.config.root) == []

    # the same archive again: nothing new is unpacked, the tags stay
    assert dst.load(archive) == lines
    assert check_temp_clean(dst.config.root) == []


def _opaque(p: Path) -> bool:
    try:
        return os.getxattr(p, "trusted.overlay.opaque", follow_symlinks=False) == b"y"
    except OSError:
        return False


# ------------------------------------------------------------------------------------ other tools read ours


def test_skopeo_and_podman_read_our_save_output(testbed: Testbed, src: Root, scratch: Path) -> None:
    record = src.pull(testbed.ref("busybox:latest"))
    archive = scratch / "one.tar"
    src.save(archive, [(record, [testbed.ref("busybox:latest")])])
    config = src.store.read_blob(record.config_digest)
    diff_ids = [layer.diff_id for layer in record.layers]

    for transport in ("docker-archive", "oci-archive"):
        info = json.loads(skopeo(scratch, "inspect", f"{transport}:{archive}"))
        assert info["Layers"] == diff_ids  # uncompressed layers: their digests are the diff ids
        raw_config = skopeo(scratch, "inspect", "--config", "--raw", f"{transport}:{archive}").encode()
        assert raw_config == config

    # copied out through skopeo's docker-archive reader: dir: keeps whatever it read, byte for byte
    out = scratch / "copied"
    skopeo(scratch, "copy", "--preserve-digests", f"docker-archive:{archive}", f"dir:{out}")
    manifest = json.loads((out / "manifest.json").read_bytes())
    assert manifest["config"]["digest"] == record.config_digest
    assert (out / record.config_digest[7:]).read_bytes() == config
    assert [layer["digest"] for layer in manifest["layers"]] == diff_ids
    for diff_id in diff_ids:
        assert "sha256:" + hashlib.sha256((out / diff_id[7:]).read_bytes()).hexdigest() == diff_id

    if shutil.which("podman") is None:
        pytest.skip("podman is not installed: skopeo checks passed, podman load not checked")
    base = [
        "podman", "--root", str(scratch / "podman-root"), "--runroot", str(scratch / "podman-run"),
        "--tmpdir", str(scratch / "podman-tmp"), "--storage-driver", "vfs", "--events-backend", "none",
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    proc = subprocess.run(
        [*base, "load", "-i", str(archive)], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert f"Loaded image: {testbed.ref('busybox:latest')}" in proc.stdout
    proc = subprocess.run([*base, "images", "--no-trunc", "--format", "{{.ID}} {{.Repository}}:{{.Tag}}"],
                          capture_output=True, text=True, env=env, timeout=60)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [record.id, testbed.ref("busybox:latest")]


# ------------------------------------------------------------------------------------ we read other tools'


def test_load_a_docker_archive_written_by_skopeo(
    testbed: Testbed, src: Root, dst: Root, scratch: Path
) -> None:
    pulled = src.pull(testbed.ref("whiteout:latest"))
    archive = scratch / "skopeo-docker.tar"
    skopeo(scratch, "copy", "--src-tls-verify=false", f"docker://{testbed.ref('whiteout:latest')}",
           f"docker-archive:{archive}:example.com/foo/bar:v1")  # fmt: skip
    # skopeo's legacy layer dirs are symlinks to the real files: accepted as names, never followed on disk
    with tarfile.open(archive) as tar:
        assert any(m.issym() for m in tar.getmembers())
    assert dst.load(archive) == ["Loaded image: example.com/foo/bar:v1"]
    got = dst.store.resolve("example.com/foo/bar:v1")
    assert_same_image(src, pulled, dst, got)


def test_load_an_oci_archive_written_by_skopeo(testbed: Testbed, src: Root, dst: Root, scratch: Path) -> None:
    pulled = src.pull(testbed.ref("busybox:latest"))
    plain, named = scratch / "plain.tar", scratch / "named.tar"
    skopeo(
        scratch,
        "copy",
        "--src-tls-verify=false",
        f"docker://{testbed.ref('busybox:latest')}",
        f"oci-archive:{plain}",
    )
    skopeo(scratch, "copy", "--src-tls-verify=false", f"docker://{testbed.ref('busybox:latest')}",
           f"oci-archive:{named}:example.com/named/busybox:v9")  # fmt: skip

    assert dst.load(plain) == [f"Loaded image ID: {pulled.id}"]
    got = dst.store.get(pulled.id)
    assert got is not None
    assert_same_image(src, pulled, dst, got)
    # the layout's own manifest is kept: the same digest the registry serves
    assert got.manifest_digest == testbed.digests["busybox:latest"]
    assert [layer.digest for layer in got.layers] == [layer.digest for layer in pulled.layers]

    assert dst.load(named) == ["Loaded image: example.com/named/busybox:v9"]
    assert dst.store.resolve("example.com/named/busybox:v9").id == pulled.id
    assert check_temp_clean(dst.config.root) == []


def test_load_picks_the_platform_from_a_multi_platform_oci_archive(
    testbed: Testbed, src: Root, dst: Root, scratch: Path
) -> None:
    host_image = src.pull(testbed.ref("busybox:latest"))
    archive = scratch / "multi.tar"
    skopeo(scratch, "copy", "--all", "--src-tls-verify=false", f"docker://{testbed.ref('busybox:multi')}",
           f"oci-archive:{archive}:example.com/multi:1")  # fmt: skip
    assert dst.load(archive) == ["Loaded image: example.com/multi:1"]
    assert dst.store.resolve("example.com/multi:1").id == host_image.id

    arm = Root(Config(root=scratch / "root3", run=scratch / "run3", docker_config=scratch / "docker"))
    assert arm.load(archive, platform="linux/arm64/v8") == ["Loaded image: example.com/multi:1"]
    got = arm.store.resolve("example.com/multi:1")
    assert got.id != host_image.id
    assert json.loads(arm.store.read_blob(got.config_digest))["architecture"] == "arm64"


# ------------------------------------------------------------------------------------------ hostile input


def _rewrite(archive: bytes, *, prepend: list[tuple[tarfile.TarInfo, bytes]] = (), flip: str = "") -> bytes:  # type: ignore[assignment]
    out = io.BytesIO()
    with tarfile.open(fileobj=io.BytesIO(archive)) as tin, tarfile.open(fileobj=out, mode="w") as tout:
        for info, data in prepend:
            tout.addfile(info, io.BytesIO(data) if info.isreg() else None)
        for m in tin:
            data = tin.extractfile(m).read() if m.isreg() else b""  # type: ignore[union-attr]
            if m.name == flip:
                data = data[:1000] + bytes([data[1000] ^ 1]) + data[1001:]
            tout.addfile(m, io.BytesIO(data) if m.isreg() else None)
    return out.getvalue()


def _member(name: str, data: bytes = b"", *, link: str = "") -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    if link:
        info.type, info.linkname = tarfile.SYMTYPE, link
    else:
        info.size = len(data)
    return info, data


CASES: dict[str, tuple[type[DockyardError], str]] = {
    "flipped-layer-byte": (DigestMismatch, "hashes to"),
    "truncated": (InvalidArgument, "truncated"),
    "path-traversal": (UnsafeLayer, "points outside the archive"),
    "symlink-member": (UnsafeLayer, "symbolic link"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_corrupt_or_hostile_archives_are_refused_and_leave_nothing(
    testbed: Testbed, src: Root, dst: Root, scratch: Path, case: str
) -> None:
    record = src.pull(testbed.ref("busybox:latest"))
    good = scratch / "good.tar"
    src.save(good, [(record, [testbed.ref("busybox:latest")])])
    data = good.read_bytes()
    layer_member = "blobs/sha256/" + record.layers[0].diff_id[7:]
    bad = {
        "flipped-layer-byte": lambda: _rewrite(data, flip=layer_member),
        "truncated": lambda: data[: len(data) * 2 // 3],
        "path-traversal": lambda: _rewrite(data, prepend=[_member("../x", b"escaped")]),
        "symlink-member": lambda: _rewrite(
            data, prepend=[_member("blobs/sha256/" + "0" * 64, link="/etc/shadow")]
        ),
    }[case]()
    path = scratch / "bad.tar"
    path.write_bytes(bad)
    error, words = CASES[case]
    with pytest.raises(error, match=words) as info:
        dst.load(path)
    assert "\n" not in str(info.value)  # one line a user can read
    assert dst.is_empty()
    assert not (scratch / "x").exists() and not (dst.config.root / "x").exists()
