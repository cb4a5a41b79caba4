"""save/load of image archives with hand-made images: the format written, round trips, and hostile input.

No registry here: images are assembled in a temp store from tars made with Python's tarfile (and gzip), so
every byte of every archive is known. The e2e tests cross-check the format against skopeo.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import stat
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from core.config import Paths, host_platform
from core.errors import DigestMismatch, DockyardError, ImageNotFound, InvalidArgument, UnsafeLayer
from core.images import archive
from core.images.archive import load, oci_manifest, save
from core.images.reference import parse_platform, parse_reference
from core.images.store import ImageRecord, ImageStore, LayerRef
from core.models import PullProgress
from core.state.records import TEMP_PREFIX
from core.storage import compression
from core.storage.layers import LayerStore

HOST_OS, HOST_ARCH, HOST_VARIANT = parse_platform(host_platform())
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_TAR = "application/vnd.oci.image.layer.v1.tar"


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def layer_tar(files: dict[str, bytes | str]) -> bytes:
    """An uncompressed layer: bytes values are files, str values are symlink targets; parents implied."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        dirs: set[str] = set()
        for name, content in sorted(files.items()):
            parts = name.split("/")[:-1]
            for i in range(1, len(parts) + 1):
                d = "/".join(parts[:i])
                if d not in dirs:
                    dirs.add(d)
                    info = tarfile.TarInfo(d)
                    info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, 1700000000
                    tar.addfile(info)
            info = tarfile.TarInfo(name)
            info.mtime = 1700000000
            if isinstance(content, str):
                info.type, info.linkname, info.mode = tarfile.SYMTYPE, content, 0o777
                tar.addfile(info)
            else:
                info.size, info.mode = len(content), 0o644
                tar.addfile(info, io.BytesIO(content))
    return buf.getvalue()


def config_for(
    diff_ids: list[str], *, arch: str = HOST_ARCH, variant: str | None = HOST_VARIANT, **extra: Any
) -> bytes:
    cfg: dict[str, Any] = {
        "architecture": arch,
        "os": "linux",
        "created": "2024-01-02T03:04:05Z",
        "config": {"Cmd": ["sh"], "Env": ["PATH=/bin"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        **extra,
    }
    if variant:
        cfg["variant"] = variant
    return json.dumps(cfg, sort_keys=True).encode()


class Root:
    """One engine root: paths, image store and layer store."""

    def __init__(self, base: Path) -> None:
        self.paths = Paths(base / "root", base / "run")
        self.store = ImageStore(self.paths)
        self.layers = LayerStore(self.paths)
        for d in (self.paths.blobs, self.paths.images, self.paths.layers, self.paths.tmp):
            d.mkdir(parents=True, exist_ok=True)

    def put_blob(self, data: bytes) -> str:
        digest = sha(data)
        self.store.blob_path(digest).write_bytes(data)
        return digest

    def make_image(
        self, layers: list[bytes], tags: list[str], *, gzip_layers: bool = True, **cfg: Any
    ) -> ImageRecord:
        """Store an image as a pull would: compressed blobs, config, OCI manifest, unpacked layers, record."""
        diff_ids = [sha(t) for t in layers]
        refs, parent = [], None
        for tar_bytes, diff_id in zip(layers, diff_ids, strict=True):
            blob = gzip.compress(tar_bytes, mtime=0) if gzip_layers else tar_bytes
            digest = self.put_blob(blob)
            cid = self.layers.chain_id(parent, diff_id)
            self.layers.unpack(cid, parent, diff_id, io.BytesIO(blob))
            refs.append(LayerRef(digest, OCI_GZIP if gzip_layers else OCI_TAR, len(blob), diff_id, cid))
            parent = cid
        config = config_for(diff_ids, **cfg)
        config_digest = self.put_blob(config)
        manifest = oci_manifest(config_digest, len(config), [(r.media_type, r.digest, r.size) for r in refs])
        manifest_digest = self.put_blob(manifest)
        record = ImageRecord(
            id=config_digest,
            config_digest=config_digest,
            manifest_digest=manifest_digest,
            manifest_media_type=OCI_MANIFEST,
            layers=refs,
            created="2024-01-02T03:04:05Z",
            size=sum(self.layers.size(r.chain_id) for r in refs),
        )
        self.store.save(record)
        with self.store.lock():
            for tag in tags:
                self.store.add_tag(record, parse_reference(tag))
        return self.store.get(record.id) or record

    def leftovers(self) -> list[str]:
        """Everything under the root that is not an empty store directory."""
        found = []
        for dirpath, dirnames, filenames in os.walk(self.paths.root):
            for name in filenames + [d for d in dirnames if d.startswith(TEMP_PREFIX)]:
                found.append(os.path.relpath(os.path.join(dirpath, name), self.paths.root))
        found += [f"layers/{d}" for d in os.listdir(self.paths.layers)]
        return sorted(set(found))

    def temp_entries(self) -> list[str]:
        out = []
        for dirpath, dirnames, filenames in os.walk(self.paths.root):
            out += [os.path.join(dirpath, n) for n in dirnames + filenames if n.startswith(TEMP_PREFIX)]
        return out


@pytest.fixture
def src_root(tmp_path: Path) -> Root:
    return Root(tmp_path / "a")


@pytest.fixture
def dst_root(tmp_path: Path) -> Root:
    return Root(tmp_path / "b")


BASE = layer_tar({"bin/tool": b"#!/bin/sh\necho base\n", "etc/os-release": b"ID=test\n", "bin/sh": "tool"})
TOP = layer_tar({"app/data.txt": b"hello from the top layer\n" * 100})
OTHER = layer_tar({"other/file": b"another image\n"})


def saved(root: Root, items: list[tuple[ImageRecord, list[str]]]) -> bytes:
    out = io.BytesIO()
    save(root.store, items, out)
    return out.getvalue()


def members(data: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        out = {}
        for m in tar:
            f = tar.extractfile(m)
            out[m.name] = f.read() if f else b""
        return out


def tree(path: Path) -> dict[str, tuple[str, int, bytes]]:
    """Relative path -> (kind, mode, content or link target) for a directory tree."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(path):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = os.lstat(p)
            rel = str(p.relative_to(path))
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", 0, os.readlink(p).encode())
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir", stat.S_IMODE(st.st_mode), b"")
            else:
                out[rel] = ("file", stat.S_IMODE(st.st_mode), p.read_bytes())
    return out


# ---------------------------------------------------------------------------------------------- save


def test_save_writes_docker_and_oci_views_of_the_same_blobs(src_root: Root) -> None:
    rec = src_root.make_image([BASE, TOP], ["example.com/app:1", "busybox:latest"])
    data = saved(src_root, [(rec, ["example.com/app:1", "docker.io/library/busybox:latest"])])
    files = members(data)

    for name, content in files.items():  # every blob is named by its digest
        if name.startswith("blobs/sha256/") and content:
            assert sha(content) == "sha256:" + name.rsplit("/", 1)[1]
    manifest_json = json.loads(files["manifest.json"])
    assert manifest_json == [
        {
            "Config": "blobs/sha256/" + rec.hex,
            "RepoTags": ["example.com/app:1", "busybox:latest"],
            "Layers": ["blobs/sha256/" + sha(BASE)[7:], "blobs/sha256/" + sha(TOP)[7:]],
        }
    ]
    # layers go in uncompressed: the blob is the diff itself
    assert files["blobs/sha256/" + sha(BASE)[7:]] == BASE
    assert json.loads(files["oci-layout"]) == {"imageLayoutVersion": "1.0.0"}
    index = json.loads(files["index.json"])
    assert index["mediaType"] == OCI_INDEX
    names = [m["annotations"]["io.containerd.image.name"] for m in index["manifests"]]
    assert names == ["example.com/app:1", "docker.io/library/busybox:latest"]
    assert [m["annotations"]["org.opencontainers.image.ref.name"] for m in index["manifests"]] == [
        "1",
        "latest",
    ]
    desc = index["manifests"][0]
    assert desc["platform"]["os"] == "linux" and desc["platform"]["architecture"] == HOST_ARCH
    manifest = json.loads(files["blobs/sha256/" + desc["digest"][7:]])
    assert manifest["config"] == {
        "mediaType": OCI_CONFIG,
        "digest": rec.id,
        "size": len(files["blobs/sha256/" + rec.hex]),
    }
    assert [(layer["mediaType"], layer["digest"], layer["size"]) for layer in manifest["layers"]] == [
        (OCI_TAR, sha(BASE), len(BASE)),
        (OCI_TAR, sha(TOP), len(TOP)),
    ]
    assert json.loads(files["repositories"]) == {
        "example.com/app": {"1": sha(TOP)[7:]},
        "busybox": {"latest": sha(TOP)[7:]},
    }
    # reproducible: the same images give the same archive, byte for byte
    assert saved(src_root, [(rec, ["example.com/app:1", "docker.io/library/busybox:latest"])]) == data
    assert not src_root.temp_entries()


def test_save_writes_shared_layers_once_and_untagged_images_without_names(src_root: Root) -> None:
    one = src_root.make_image([BASE, TOP], ["one:1"])
    two = src_root.make_image([BASE, OTHER], [])
    files = members(saved(src_root, [(one, ["one:1"]), (two, [])]))
    with tarfile.open(fileobj=io.BytesIO(saved(src_root, [(one, ["one:1"]), (two, [])]))) as tar:
        names = [m.name for m in tar]
    assert names.count("blobs/sha256/" + sha(BASE)[7:]) == 1
    manifest_json = json.loads(files["manifest.json"])
    assert manifest_json[1]["RepoTags"] is None
    index = json.loads(files["index.json"])
    assert len(index["manifests"]) == 2 and "annotations" not in index["manifests"][1]


def test_save_refuses_a_damaged_store_without_finishing_the_archive(src_root: Root) -> None:
    rec = src_root.make_image([BASE, TOP], ["one:1"])
    # the stored top layer no longer decompresses to its diff id
    src_root.store.blob_path(rec.layers[1].digest).write_bytes(gzip.compress(OTHER))
    out = io.BytesIO()
    with pytest.raises(DockyardError, match="diff id"):
        save(src_root.store, [(rec, ["one:1"])], out)
    # the index files go last, so what was written is never a loadable archive missing an image
    partial = out.getvalue()
    assert "manifest.json" not in partial.decode("latin-1") and "index.json" not in partial.decode("latin-1")
    with pytest.raises(InvalidArgument):
        load(src_root.store, src_root.layers, io.BytesIO(partial))
    assert not src_root.temp_entries()


# ----------------------------------------------------------------------------------------- round trip


def test_save_then_load_round_trips_ids_tags_files_and_manifest(src_root: Root, dst_root: Root) -> None:
    one = src_root.make_image([BASE, TOP], ["example.com/app:1"])
    two = src_root.make_image([BASE, OTHER], ["busybox:latest"], gzip_layers=False)
    data = saved(src_root, [(one, ["example.com/app:1"]), (two, ["busybox:latest"])])
    events: list[PullProgress] = []
    lines = load(dst_root.store, dst_root.layers, io.BytesIO(data), events.append)
    assert lines == ["Loaded image: example.com/app:1", "Loaded image: busybox:latest"]

    for rec, tag in ((one, "example.com/app:1"), (two, "busybox:latest")):
        got = dst_root.store.resolve(tag)
        assert got.id == rec.id
        assert got.repo_tags == [str(parse_reference(tag))]
        assert [layer.diff_id for layer in got.layers] == [layer.diff_id for layer in rec.layers]
        assert [layer.chain_id for layer in got.layers] == [layer.chain_id for layer in rec.layers]
        for layer in got.layers:
            assert tree(dst_root.layers.diff_dir(layer.chain_id)) == tree(
                src_root.layers.diff_dir(layer.chain_id)
            )
            # stored as the uncompressed tar, named by the diff id
            assert layer.media_type == OCI_TAR and layer.digest == layer.diff_id
            assert sha(dst_root.store.blob_path(layer.digest).read_bytes()) == layer.diff_id
        # the synthesised manifest is the one the archive's OCI index names
        manifest = dst_root.store.read_blob(got.manifest_digest)
        assert sha(manifest) == got.manifest_digest
        assert json.loads(manifest)["config"]["digest"] == rec.id
        assert got.size == rec.size
    index = json.loads(members(data)["index.json"])
    assert dst_root.store.resolve("busybox:latest").manifest_digest == index["manifests"][1]["digest"]
    assert {e.status for e in events} >= {"Loading layer", "Loaded", "Already exists"}
    assert not dst_root.temp_entries()


def test_loading_again_only_moves_tags(src_root: Root, dst_root: Root) -> None:
    rec = src_root.make_image([BASE, TOP], ["app:1"])
    data = saved(src_root, [(rec, ["app:1"])])
    load(dst_root.store, dst_root.layers, io.BytesIO(data))
    before = dst_root.leftovers()
    other = dst_root.make_image([OTHER], [])
    with dst_root.store.lock():
        dst_root.store.add_tag(other, parse_reference("app:2"))
    assert load(dst_root.store, dst_root.layers, io.BytesIO(data)) == ["Loaded image: app:1"]
    assert set(dst_root.leftovers()) >= set(before)
    assert dst_root.store.resolve("app:1").id == rec.id


def test_load_takes_gzip_and_zstd_compressed_archives(src_root: Root, dst_root: Root) -> None:
    rec = src_root.make_image([BASE], ["app:1"])
    data = saved(src_root, [(rec, ["app:1"])])
    assert load(dst_root.store, dst_root.layers, io.BytesIO(gzip.compress(data))) == ["Loaded image: app:1"]
    zst = io.BytesIO()
    compression.compress("zstd", io.BytesIO(data), zst)
    assert load(dst_root.store, dst_root.layers, io.BytesIO(zst.getvalue())) == ["Loaded image: app:1"]


def test_untagged_image_loads_by_id(src_root: Root, dst_root: Root) -> None:
    rec = src_root.make_image([BASE], [])
    assert load(dst_root.store, dst_root.layers, io.BytesIO(saved(src_root, [(rec, [])]))) == [
        f"Loaded image ID: {rec.id}"
    ]
    assert dst_root.store.get(rec.id) is not None


# ------------------------------------------------------------------------------ other archive shapes


def tar_of(entries: list[tuple[str, bytes | None, Callable[[tarfile.TarInfo], None] | None]]) -> bytes:
    """A tar from (name, content, tweak): None content is a directory; tweak edits the header."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, content, tweak in entries:
            info = tarfile.TarInfo(name)
            if content is None:
                info.type = tarfile.DIRTYPE
            else:
                info.size = len(content)
            if tweak:
                tweak(info)
            tar.addfile(info, io.BytesIO(content) if content is not None and info.isreg() else None)
    return buf.getvalue()


def classic_archive(*, duplicate_link: bool = False, tags: list[str] | None = None) -> tuple[bytes, str]:
    """docker's pre-25 format: <id>/layer.tar, <config hex>.json; optionally docker's shared-layer symlink."""
    config = config_for([sha(BASE), sha(BASE)] if duplicate_link else [sha(BASE), sha(TOP)])
    cfg_hex = sha(config)[7:]
    l1, l2 = "1" * 64, "2" * 64
    entries: list[tuple[str, bytes | None, Callable[[tarfile.TarInfo], None] | None]] = [
        (l1, None, None),
        (f"{l1}/VERSION", b"1.0", None),
        (f"{l1}/json", b"{}", None),
        (f"{l1}/layer.tar", BASE, None),
        (l2, None, None),
    ]
    if duplicate_link:

        def link(info: tarfile.TarInfo) -> None:
            info.type, info.linkname, info.size = tarfile.SYMTYPE, f"../{l1}/layer.tar", 0

        entries.append((f"{l2}/layer.tar", b"", link))
    else:
        entries.append((f"{l2}/layer.tar", TOP, None))
    manifest = [
        {
            "Config": f"{cfg_hex}.json",
            "RepoTags": tags or ["classic:v1"],
            "Layers": [f"{l1}/layer.tar", f"{l2}/layer.tar"],
        }
    ]
    entries += [(f"{cfg_hex}.json", config, None), ("manifest.json", json.dumps(manifest).encode(), None)]
    entries.append(("repositories", json.dumps({"classic": {"v1": l2}}).encode(), None))
    return tar_of(entries), sha(config)


def test_load_classic_docker_archive(dst_root: Root) -> None:
    data, image_id = classic_archive()
    assert load(dst_root.store, dst_root.layers, io.BytesIO(data)) == ["Loaded image: classic:v1"]
    rec = dst_root.store.resolve("classic:v1")
    assert rec.id == image_id
    top = dst_root.layers.diff_dir(rec.layers[1].chain_id)
    assert (top / "app" / "data.txt").read_bytes() == b"hello from the top layer\n" * 100
    # a manifest was synthesised and stored, so the image can be pushed
    manifest = json.loads(dst_root.store.read_blob(rec.manifest_digest))
    assert [layer["digest"] for layer in manifest["layers"]] == [sha(BASE), sha(TOP)]


def test_load_follows_dockers_shared_layer_symlink_as_a_name_only(dst_root: Root) -> None:
    data, image_id = classic_archive(duplicate_link=True)
    assert load(dst_root.store, dst_root.layers, io.BytesIO(data)) == ["Loaded image: classic:v1"]
    assert dst_root.store.resolve("classic:v1").id == image_id


def oci_layout_archive(*, nested: bool, name_annotation: dict[str, str]) -> tuple[bytes, str, str]:
    """An OCI layout holding a two-platform index (host + s390x), optionally wrapped in a second index.
    Returns the archive, the host image's config digest and its manifest digest."""
    blobs: dict[str, bytes] = {}

    def put(data: bytes) -> dict[str, Any]:
        blobs[sha(data)] = data
        return {"digest": sha(data), "size": len(data)}

    layer = gzip.compress(BASE, mtime=0)
    images = {}
    for arch, variant in ((HOST_ARCH, HOST_VARIANT), ("s390x", None)):
        cfg = config_for([sha(BASE)], arch=arch, variant=variant)
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": {"mediaType": OCI_CONFIG, **put(cfg)},
                "layers": [{"mediaType": OCI_GZIP, **put(layer)}],
            }
        ).encode()
        plat = {"os": "linux", "architecture": arch, **({"variant": variant} if variant else {})}
        images[arch] = ({"mediaType": OCI_MANIFEST, **put(manifest), "platform": plat}, sha(cfg))
    # s390x first: the host's entry must be chosen by platform, not by position
    index = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [images["s390x"][0], images[HOST_ARCH][0]],
    }
    top_desc = {"mediaType": OCI_INDEX, **put(json.dumps(index).encode()), "annotations": name_annotation}
    if nested:
        outer = {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [{k: v for k, v in top_desc.items() if k != "annotations"}],
        }
        top_desc = {"mediaType": OCI_INDEX, **put(json.dumps(outer).encode()), "annotations": name_annotation}
    entries: list[tuple[str, bytes | None, Callable[[tarfile.TarInfo], None] | None]] = [
        ("oci-layout", b'{"imageLayoutVersion":"1.0.0"}', None),
        ("blobs", None, None),
        ("blobs/sha256", None, None),
    ]
    entries += [(f"blobs/sha256/{d[7:]}", b, None) for d, b in blobs.items()]
    entries.append(("index.json", json.dumps({"schemaVersion": 2, "manifests": [top_desc]}).encode(), None))
    return tar_of(entries), images[HOST_ARCH][1], images[HOST_ARCH][0]["digest"]


@pytest.mark.parametrize("nested", [False, True])
def test_load_oci_layout_picks_the_host_platform(dst_root: Root, nested: bool) -> None:
    data, config_digest, manifest_digest = oci_layout_archive(
        nested=nested, name_annotation={"io.containerd.image.name": "example.com/multi:2"}
    )
    assert load(dst_root.store, dst_root.layers, io.BytesIO(data)) == ["Loaded image: example.com/multi:2"]
    rec = dst_root.store.resolve("example.com/multi:2")
    assert rec.id == config_digest
    # an OCI layout's own manifest is kept as it was: a later push is bit-identical
    assert rec.manifest_digest == manifest_digest
    assert rec.layers[0].media_type == OCI_GZIP


def test_load_oci_layout_names(dst_root: Root) -> None:
    # a bare tag in ref.name names no repository (as docker): loaded by id
    data, config_digest, _ = oci_layout_archive(
        nested=False, name_annotation={"org.opencontainers.image.ref.name": "latest"}
    )
    assert load(dst_root.store, dst_root.layers, io.BytesIO(data)) == [f"Loaded image ID: {config_digest}"]
    data, _, _ = oci_layout_archive(
        nested=False, name_annotation={"org.opencontainers.image.ref.name": "reg.example/x:3"}
    )
    assert load(dst_root.store, dst_root.layers, io.BytesIO(data)) == ["Loaded image: reg.example/x:3"]


def test_load_refuses_an_index_without_the_wanted_platform(dst_root: Root) -> None:
    data, _, _ = oci_layout_archive(nested=True, name_annotation={})
    with pytest.raises(ImageNotFound, match="no image for platform linux/riscv64"):
        load(dst_root.store, dst_root.layers, io.BytesIO(data), platform="linux/riscv64")
    assert dst_root.leftovers() == []


# ------------------------------------------------------------------------------------ hostile input


def good_archive(tmp_path: Path) -> tuple[bytes, ImageRecord]:
    root = Root(tmp_path / "src")
    rec = root.make_image([BASE, TOP], ["app:1"])
    return saved(root, [(rec, ["app:1"])]), rec


def rewrite(data: bytes, edit: Callable[[str, bytes], tuple[str, bytes] | None]) -> bytes:
    """The archive with each member passed through ``edit`` (None drops it)."""
    entries: list[tuple[str, bytes | None, Callable[[tarfile.TarInfo], None] | None]] = []
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        for m in tar:
            if m.isdir():
                entries.append((m.name, None, None))
                continue
            f = tar.extractfile(m)
            got = edit(m.name, f.read() if f else b"")
            if got is not None:
                entries.append((got[0], got[1], None))
    return tar_of(entries)


def flip_top_layer(data: bytes) -> bytes:
    top = "blobs/sha256/" + sha(TOP)[7:]
    return rewrite(data, lambda n, b: (n, b[:-600] + b"X" + b[-599:]) if n == top else (n, b))


def add_entry(
    data: bytes, name: str, content: bytes | None, tweak: Callable[[tarfile.TarInfo], None] | None
) -> bytes:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        entries = [(m.name, None if m.isdir() else tar.extractfile(m).read(), None) for m in tar]  # type: ignore[union-attr]
    return tar_of([(name, content, tweak), *entries])


def drop(data: bytes, *names: str) -> bytes:
    return rewrite(data, lambda n, b: None if n in names else (n, b))


def symlink_to(target: str) -> Callable[[tarfile.TarInfo], None]:
    def tweak(info: tarfile.TarInfo) -> None:
        info.type, info.linkname, info.size = tarfile.SYMTYPE, target, 0

    return tweak


def hardlink_to(target: str) -> Callable[[tarfile.TarInfo], None]:
    def tweak(info: tarfile.TarInfo) -> None:
        info.type, info.linkname, info.size = tarfile.LNKTYPE, target, 0

    return tweak


def chardev(info: tarfile.TarInfo) -> None:
    info.type, info.devmajor, info.devminor, info.size = tarfile.CHRTYPE, 1, 3, 0


def damage_header(data: bytes, name: str) -> bytes:
    """Flip a byte in the name field of ``name``'s header: its checksum no longer matches."""
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        offset = tar.getmember(name).offset
    buf = bytearray(data)
    buf[offset] ^= 0x20
    return bytes(buf)


def huge_pax(info: tarfile.TarInfo) -> None:
    info.pax_headers = {"comment": "x" * (2 * 1024 * 1024)}


L1 = "1" * 64
CORRUPTIONS: dict[str, tuple[Callable[[bytes], bytes], type[DockyardError], str]] = {
    "blob-digest": (flip_top_layer, DigestMismatch, "hashes to"),
    "traversal": (lambda d: add_entry(d, "../x", b"evil", None), UnsafeLayer, "points outside the archive"),
    "traversal-inside": (lambda d: add_entry(d, "blobs/../../x", b"evil", None), UnsafeLayer, "outside"),
    "absolute": (lambda d: add_entry(d, "/etc/cron.d/x", b"evil", None), UnsafeLayer, "outside"),
    "symlink": (lambda d: add_entry(d, "evil", b"", symlink_to("/etc/passwd")), UnsafeLayer, "symbolic link"),
    "symlink-as-manifest": (
        lambda d: add_entry(drop(d, "manifest.json"), "manifest.json", b"", symlink_to("/etc/passwd")),
        UnsafeLayer,
        "symbolic link",
    ),
    "layer-symlink-escaping": (
        lambda d: add_entry(d, f"{L1}/layer.tar", b"", symlink_to("../../../etc/shadow")),
        UnsafeLayer,
        "symbolic link",
    ),
    "hardlink": (
        lambda d: add_entry(d, "oci-layout2", b"", hardlink_to("/etc/passwd")),
        UnsafeLayer,
        "hard link",
    ),
    "device": (lambda d: add_entry(d, "dev", b"", chardev), UnsafeLayer, "device"),
    "unexpected-name": (lambda d: add_entry(d, "etc/passwd", b"x", None), UnsafeLayer, "unexpected entry"),
    "duplicate": (lambda d: add_entry(d, "oci-layout", b"{}", None), InvalidArgument, "appears twice"),
    "truncated": (lambda d: d[: len(d) // 2], InvalidArgument, "truncated"),
    # tarfile alone would end the archive quietly at a damaged header
    "damaged-header": (lambda d: damage_header(d, "manifest.json"), InvalidArgument, "bad header"),
    "huge-extended-header": (
        lambda d: add_entry(d, "oci-layout", b"{}", huge_pax),
        InvalidArgument,
        "extended header",
    ),
    "not-a-tar": (lambda d: b"this is not an archive at all" * 40, InvalidArgument, "not a tar archive"),
    "empty": (lambda d: b"", InvalidArgument, "not a tar archive"),
    "missing-layer": (
        lambda d: drop(d, "blobs/sha256/" + sha(TOP)[7:]),
        InvalidArgument,
        "is not in the archive",
    ),
    "not-an-image-archive": (
        lambda d: drop(d, "index.json", "manifest.json"),
        InvalidArgument,
        "neither manifest.json",
    ),
}


@pytest.mark.parametrize("case", sorted(CORRUPTIONS))
def test_hostile_or_corrupt_archives_are_refused_and_leave_nothing(
    tmp_path: Path, dst_root: Root, case: str
) -> None:
    data, _ = good_archive(tmp_path)
    corrupt, error, words = CORRUPTIONS[case]
    with pytest.raises(error, match=words):
        load(dst_root.store, dst_root.layers, io.BytesIO(corrupt(data)))
    assert dst_root.leftovers() == []
    assert not (tmp_path / "x").exists() and not (dst_root.paths.root.parent / "x").exists()


def test_a_layer_that_is_not_its_diff_id_is_refused(dst_root: Root) -> None:
    data, _ = classic_archive()
    l2 = "2" * 64
    bad = rewrite(data, lambda n, b: (n, OTHER) if n == f"{l2}/layer.tar" else (n, b))
    with pytest.raises(DigestMismatch, match="the image config says"):
        load(dst_root.store, dst_root.layers, io.BytesIO(bad))
    assert dst_root.leftovers() == []


def test_a_failure_in_a_later_image_removes_the_layers_of_earlier_ones(
    tmp_path: Path, dst_root: Root
) -> None:
    # image 1 is sound; image 2's gzip layer decompresses to something else than its config says, which
    # only unpacking can tell (after image 1 was unpacked)
    src = Root(tmp_path / "src")
    one = src.make_image([BASE, TOP], ["one:1"])
    data = saved(src, [(one, ["one:1"])])
    files = members(data)
    bad_config = config_for([sha(OTHER)])  # claims OTHER ...
    bad_layer = gzip.compress(BASE, mtime=0)  # ... but holds BASE, compressed
    manifest = json.loads(files["manifest.json"])
    manifest.append(
        {
            "Config": "blobs/sha256/" + sha(bad_config)[7:],
            "RepoTags": ["two:2"],
            "Layers": ["blobs/sha256/" + sha(bad_layer)[7:]],
        }
    )
    entries: list[tuple[str, bytes | None, Callable[[tarfile.TarInfo], None] | None]] = [
        (n, b, None) for n, b in files.items() if n != "manifest.json" and not n.endswith(("blobs", "sha256"))
    ]
    entries += [
        ("blobs/sha256/" + sha(bad_config)[7:], bad_config, None),
        ("blobs/sha256/" + sha(bad_layer)[7:], bad_layer, None),
        ("manifest.json", json.dumps(manifest).encode(), None),
    ]
    with pytest.raises(DigestMismatch, match="not to its diff id"):
        load(dst_root.store, dst_root.layers, io.BytesIO(tar_of(entries)))
    assert dst_root.leftovers() == []


def test_oversized_metadata_is_refused_before_it_is_read(
    tmp_path: Path, dst_root: Root, monkeypatch: pytest.MonkeyPatch
) -> None:
    data, _ = good_archive(tmp_path)
    monkeypatch.setattr(archive, "MAX_METADATA_BYTES", 64)
    with pytest.raises(InvalidArgument, match="larger than 64 bytes"):
        load(dst_root.store, dst_root.layers, io.BytesIO(data))
    assert dst_root.leftovers() == []


def test_oci_descriptor_size_must_match(dst_root: Root) -> None:
    data, _, _ = oci_layout_archive(nested=False, name_annotation={})

    def lie(name: str, content: bytes) -> tuple[str, bytes]:
        if name == "index.json":
            index = json.loads(content)
            index["manifests"][0]["size"] += 1
            return name, json.dumps(index).encode()
        return name, content

    with pytest.raises(DigestMismatch, match="descriptor says"):
        load(dst_root.store, dst_root.layers, io.BytesIO(rewrite(data, lie)))
    assert dst_root.leftovers() == []


def test_oci_manifest_is_stable() -> None:
    # save writes it and load synthesises it: the two must agree byte for byte, now and later
    got = oci_manifest("sha256:" + "a" * 64, 10, [(OCI_TAR, "sha256:" + "b" * 64, 20)])
    assert got == (
        b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",'
        b'"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:'
        + b"a"
        * 64
        + b'",'
        b'"size":10},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:'
        + b"b" * 64
        + b'","size":20}]}'
    )


def test_docker_25_archive_with_registry_manifest_keeps_it(src_root: Root, dst_root: Root) -> None:
    """docker's containerd store saves the registry's compressed layers and manifest in the OCI part (behind
    a per-image index) and points manifest.json at the compressed blobs: the original manifest is kept."""
    rec = src_root.make_image([BASE, TOP], ["app:1"])
    blob = src_root.store.read_blob

    def member(digest: str) -> tuple[str, bytes, None]:
        return ("blobs/sha256/" + digest[7:], blob(digest), None)

    # as a registry served it: Docker schema2, which load would never synthesise
    docker_gzip = "application/vnd.docker.image.rootfs.diff.tar.gzip"
    original = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "digest": rec.config_digest,
                "size": len(blob(rec.config_digest)),
            },
            "layers": [{"mediaType": docker_gzip, "digest": x.digest, "size": x.size} for x in rec.layers],
        },
        indent=3,
    ).encode()

    inner = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [
                {
                    "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                    "digest": sha(original),
                    "size": len(original),
                    "platform": {"os": "linux", "architecture": HOST_ARCH},
                }
            ],
        }
    ).encode()
    index = {
        "schemaVersion": 2,
        "manifests": [{"mediaType": OCI_INDEX, "digest": sha(inner), "size": len(inner)}],
    }
    manifest_json = [
        {
            "Config": "blobs/sha256/" + rec.hex,
            "RepoTags": ["app:1"],
            "Layers": ["blobs/sha256/" + layer.digest[7:] for layer in rec.layers],
        }
    ]
    entries: list[tuple[str, bytes | None, Callable[[tarfile.TarInfo], None] | None]] = [
        *(member(layer.digest) for layer in rec.layers),
        member(rec.config_digest),
        ("blobs/sha256/" + sha(original)[7:], original, None),
        ("blobs/sha256/" + sha(inner)[7:], inner, None),
        ("index.json", json.dumps(index).encode(), None),
        ("manifest.json", json.dumps(manifest_json).encode(), None),
        ("oci-layout", b'{"imageLayoutVersion":"1.0.0"}', None),
    ]
    assert load(dst_root.store, dst_root.layers, io.BytesIO(tar_of(entries))) == ["Loaded image: app:1"]
    got = dst_root.store.resolve("app:1")
    assert got.manifest_digest == sha(original)
    assert dst_root.store.read_blob(got.manifest_digest) == original
    assert got.manifest_media_type == "application/vnd.docker.distribution.manifest.v2+json"
    assert [(layer.digest, layer.media_type) for layer in got.layers] == [
        (layer.digest, docker_gzip) for layer in rec.layers
    ]
    for layer in got.layers:
        assert tree(dst_root.layers.diff_dir(layer.chain_id)) == tree(
            src_root.layers.diff_dir(layer.chain_id)
        )
