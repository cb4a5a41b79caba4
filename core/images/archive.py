"""``docker save`` and ``docker load``: image archives in docker's format and in the OCI image layout.

Save writes what docker 25+ writes: one tar holding an OCI image layout (``oci-layout``, ``index.json``,
``blobs/sha256/...``) *and* docker's ``manifest.json`` + ``repositories`` pointing into the same blobs. Layers
go in uncompressed, named by their diff id, as docker's classic format has them; the OCI manifest written
beside them names those uncompressed layers. docker, podman and skopeo (``docker-archive:`` and
``oci-archive:``) all read it.

Load takes either form: a docker archive (``manifest.json``, layers at ``<id>/layer.tar`` or in ``blobs/``),
or an OCI layout (``index.json`` + blobs, nested indexes, the host's platform picked from a multi-platform
index). The archive is untrusted: it is read once as a stream and only regular files at the names these
formats use are kept, each copied to a numbered file in a private scratch directory — no name from the
archive ever becomes a path, nothing is extracted with ``extractall``, links and devices are refused,
metadata files are size-bounded. Every blob is checked against the digest that names it and every layer
against its diff id; only then are layers unpacked, blobs moved into the store and records written (under
the images lock). A failure removes what this load added; a killed load leaves only ``.tmp-<pid>-`` entries,
which the next pull or load sweeps.
"""

from __future__ import annotations

import errno
import hashlib
import io
import json
import os
import posixpath
import re
import shutil
import tarfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any, BinaryIO, Self

from core.errors import (
    CorruptState,
    DigestMismatch,
    DockyardError,
    ImageNotFound,
    InvalidArgument,
    InvalidReference,
    UnsafeLayer,
    UnsupportedMediaType,
)
from core.images.claims import Claims, drop_unused
from core.images.reference import (
    Reference,
    best_platform_index,
    format_platform,
    normalize_platform,
    parse_platform,
    parse_reference,
)
from core.images.registry import INDEX_TYPES, MANIFEST_TYPES, sha256_digest
from core.images.store import ImageRecord, ImageStore, LayerRef
from core.models import PullProgress
from core.record import field, record
from core.state.ids import digest_hex
from core.state.records import fsync_dir, remove_tree, sweep_temp, temp_name, write_bytes
from core.storage.compression import open_decompressed, sniff
from core.storage.layers import LayerStore

Progress = Callable[[PullProgress], None]

MEDIA_OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
MEDIA_OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
MEDIA_OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
MEDIA_OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
UNCOMPRESSED_LAYER_TYPES = {MEDIA_OCI_LAYER, "application/vnd.docker.image.rootfs.diff.tar"}
LAYER_TYPES = {
    MEDIA_OCI_LAYER,
    MEDIA_OCI_LAYER_GZIP,
    MEDIA_OCI_LAYER_ZSTD,
    "application/vnd.docker.image.rootfs.diff.tar",
    "application/vnd.docker.image.rootfs.diff.tar.gzip",
    "application/vnd.docker.image.rootfs.diff.tar.zstd",
}
CONFIG_TYPES = {MEDIA_OCI_CONFIG, "application/vnd.docker.container.image.v1+json"}
ANNOTATION_IMAGE_NAME = "io.containerd.image.name"  # the full name docker 25+ and containerd write
ANNOTATION_REF_NAME = "org.opencontainers.image.ref.name"
OCI_LAYOUT = b'{"imageLayoutVersion":"1.0.0"}'

# Bounds on what an archive may make us hold or do.
MAX_METADATA_BYTES = 16 * 1024 * 1024  # manifest.json, index.json, configs, manifests: read into memory
MAX_MEMBERS = 100_000
MAX_HEADER_BYTES = 1024 * 1024  # a pax or GNU long-name header; tarfile holds it in memory
MAX_INDEX_DEPTH = 4
FREE_SPACE_RESERVE = 64 * 1024 * 1024  # refuse a member that would leave less than this free
CHUNK = 1024 * 1024

_HEX = r"[a-f0-9]{64}"
# the names docker (classic and 25+), podman/skopeo and OCI layouts use; anything else is refused
_FILE_NAMES = re.compile(
    rf"(manifest\.json|repositories|index\.json|oci-layout|blobs/sha256/{_HEX}|{_HEX}\.json|{_HEX}\.tar"
    rf"|{_HEX}/layer\.tar|{_HEX}/json|{_HEX}/VERSION)"
)
_DIR_NAMES = re.compile(rf"(\.|blobs|blobs/sha256|{_HEX})")
_LAYER_TAR = re.compile(rf"{_HEX}/layer\.tar")
_LAYER_FILE = re.compile(rf"{_HEX}/layer\.tar|{_HEX}\.tar")  # what such a link may point at


def _malformed(what: str) -> InvalidArgument:
    return InvalidArgument(f"invalid image archive: {what}")


# ======================================================================================= shared helpers


def oci_manifest(config_digest: str, config_size: int, layers: Sequence[tuple[str, str, int]]) -> bytes:
    """The OCI manifest for a config and ``(media type, digest, size)`` layers, serialised one way only,
    so save (which writes it) and load (which synthesises it for docker archives) agree byte for byte."""
    obj = {
        "schemaVersion": 2,
        "mediaType": MEDIA_OCI_MANIFEST,
        "config": {"mediaType": MEDIA_OCI_CONFIG, "digest": config_digest, "size": config_size},
        "layers": [{"mediaType": m, "digest": d, "size": s} for m, d, s in layers],
    }
    return json.dumps(obj, separators=(",", ":")).encode()


class _Hashing:
    """Read-through wrapper that hashes and counts what passes, and reports progress."""

    def __init__(self, src: IO[bytes], report: Callable[[int], None] | None = None) -> None:
        self.src = src
        self.hash = hashlib.sha256()
        self.count = 0
        self.report = report

    def read(self, n: int = -1) -> bytes:
        data = self.src.read(n)
        if data:
            self.hash.update(data)
            self.count += len(data)
            if self.report:
                self.report(self.count)
        return data

    def readable(self) -> bool:
        return True

    @property
    def digest(self) -> str:
        return "sha256:" + self.hash.hexdigest()


# ================================================================================================== save


def save(
    store: ImageStore,
    records_with_tags: Sequence[tuple[ImageRecord, Sequence[str | Reference]]],
    out: BinaryIO,
) -> None:
    """Write ``docker save`` output for the images to ``out`` (which need not be seekable).

    Each item is an image and the tags (full or familiar references) to name it by in the archive; an
    image with no tags is saved untagged, as ``docker save <id>`` does.
    """
    if not records_with_tags:
        raise InvalidArgument("no images to save")
    paths = store.paths
    paths.tmp.mkdir(parents=True, exist_ok=True)
    # merge repeated images (``save busybox busybox:latest``) and drop duplicate tags
    merged: dict[str, tuple[ImageRecord, list[Reference]]] = {}
    for image, tags in records_with_tags:
        entry = merged.setdefault(image.id, (image, []))
        for tag in tags:
            ref = parse_reference(tag) if isinstance(tag, str) else tag
            if ref.digest:
                continue  # docker saves digest references untagged
            if ref not in entry[1]:
                entry[1].append(ref)

    # manifest.json and index.json go last and a tarfile left by an exception writes no end-of-archive
    # blocks: a failed save leaves an archive no loader accepts, never one that silently lacks images
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        _write_archive(store, list(merged.values()), tar)


def _write_archive(
    store: ImageStore, images: list[tuple[ImageRecord, list[Reference]]], tar: tarfile.TarFile
) -> None:
    written: dict[str, int] = {}  # digest -> size of what is already in the archive
    manifest_json: list[dict[str, Any]] = []
    index_entries: list[dict[str, Any]] = []
    repositories: dict[str, dict[str, str]] = {}
    _add_dir(tar, "blobs")
    _add_dir(tar, "blobs/sha256")
    for image, tags in images:
        config = store.read_blob(image.config_digest)
        if sha256_digest(config) != image.config_digest:
            raise CorruptState(f"stored config of image {image.id} is damaged; pull the image again")
        cfg = json.loads(config)
        diff_ids = list((cfg.get("rootfs") or {}).get("diff_ids") or [])
        if diff_ids != [layer.diff_id for layer in image.layers]:
            raise CorruptState(f"image {image.id}: its record and its config list different layers")
        layer_descs = []
        for layer in image.layers:
            size = _save_layer(store, tar, layer, written)
            layer_descs.append((MEDIA_OCI_LAYER, layer.diff_id, size))
        _add_blob(tar, image.config_digest, config, written)
        manifest = oci_manifest(image.config_digest, len(config), layer_descs)
        manifest_digest = sha256_digest(manifest)
        _add_blob(tar, manifest_digest, manifest, written)

        platform = normalize_platform(cfg)
        desc: dict[str, Any] = {
            "mediaType": MEDIA_OCI_MANIFEST,
            "digest": manifest_digest,
            "size": len(manifest),
        }
        if platform:  # as written in the config (docker's Platform() of the image)
            desc["platform"] = {"architecture": cfg["architecture"], "os": cfg["os"]}
            if cfg.get("variant"):
                desc["platform"]["variant"] = cfg["variant"]
        for ref in tags:
            tag = ref.tag or "latest"
            index_entries.append(
                {
                    **desc,
                    "annotations": {ANNOTATION_IMAGE_NAME: str(ref), ANNOTATION_REF_NAME: tag},
                }
            )
            if image.layers:
                repositories.setdefault(ref.familiar_name, {})[tag] = digest_hex(image.layers[-1].diff_id)
        if not tags:
            index_entries.append(desc)
        manifest_json.append(
            {
                "Config": "blobs/sha256/" + digest_hex(image.config_digest),
                "RepoTags": [r.familiar() for r in tags] or None,
                "Layers": ["blobs/sha256/" + digest_hex(layer.diff_id) for layer in image.layers],
            }
        )
    index = {"schemaVersion": 2, "mediaType": MEDIA_OCI_INDEX, "manifests": index_entries}
    _add_file(tar, "index.json", json.dumps(index, separators=(",", ":")).encode())
    _add_file(tar, "manifest.json", json.dumps(manifest_json, separators=(",", ":")).encode() + b"\n")
    _add_file(tar, "oci-layout", OCI_LAYOUT)
    if repositories:
        _add_file(tar, "repositories", json.dumps(repositories, separators=(",", ":")).encode() + b"\n")


def _info(name: str, size: int, *, is_dir: bool = False) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = 0 if is_dir else size
    info.type = tarfile.DIRTYPE if is_dir else tarfile.REGTYPE
    info.mode = 0o755 if is_dir else 0o644
    info.mtime = 0  # as docker: the same images give the same archive
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def _add_dir(tar: tarfile.TarFile, name: str) -> None:
    tar.addfile(_info(name, 0, is_dir=True))


def _add_file(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    tar.addfile(_info(name, len(data)), io.BytesIO(data))


def _add_blob(tar: tarfile.TarFile, digest: str, data: bytes, written: dict[str, int]) -> None:
    if digest in written:
        return
    _add_file(tar, "blobs/sha256/" + digest_hex(digest), data)
    written[digest] = len(data)


def _save_layer(store: ImageStore, tar: tarfile.TarFile, layer: LayerRef, written: dict[str, int]) -> int:
    """Put the layer's uncompressed tar into the archive as ``blobs/sha256/<diff id>``; returns its size.

    A tar header needs the size first, so a compressed blob is decompressed to a scratch file under the
    store's tmp dir (checked against the diff id on the way) and copied from there.
    """
    if layer.diff_id in written:  # shared with an image saved before
        return written[layer.diff_id]
    name = "blobs/sha256/" + digest_hex(layer.diff_id)
    path = store.blob_path(layer.digest)
    if not path.is_file():
        raise ImageNotFound(f"layer {layer.digest} is missing from the store; pull the image again")
    if layer.media_type in UNCOMPRESSED_LAYER_TYPES:
        size = path.stat().st_size
        with open(path, "rb") as src:
            hashing = _Hashing(src)
            tar.addfile(_info(name, size), hashing)
        if hashing.digest != layer.diff_id:
            raise CorruptState(f"stored layer {layer.digest} is damaged; pull the image again")
        written[layer.diff_id] = size
        return size
    scratch = temp_name(store.paths.tmp / digest_hex(layer.diff_id))
    try:
        with open(path, "rb") as src, open(scratch, "wb") as dst:
            hashing = _Hashing(open_decompressed(src))
            shutil.copyfileobj(hashing, dst, CHUNK)
        if hashing.digest != layer.diff_id:
            raise CorruptState(
                f"stored layer {layer.digest} decompresses to {hashing.digest}, not its diff id "
                f"{layer.diff_id}; pull the image again"
            )
        with open(scratch, "rb") as src:
            tar.addfile(_info(name, hashing.count), src)
        written[layer.diff_id] = hashing.count
        return hashing.count
    finally:
        scratch.unlink(missing_ok=True)


# ================================================================================================== load


@record
class _Staged:
    """One regular file from the archive, copied to ``path`` (a numbered scratch file)."""

    path: Path
    size: int
    digest: str


@record
class _Layer:
    staged: _Staged
    media_type: str
    digest: str  # of the blob as stored
    diff_id: str


@record
class _Image:
    config: bytes
    config_digest: str
    manifest: bytes
    manifest_media_type: str
    layers: list[_Layer]
    names: list[Reference] = field(default_factory=list)
    manifest_staged: _Staged | None = None  # an OCI layout's own manifest blob


class _Archive:
    """The archive's accepted members, by normalised name."""

    def __init__(self, scratch: Path) -> None:
        self.scratch = scratch
        self.files: dict[str, _Staged] = {}
        self.aliases: dict[str, str] = {}  # docker's duplicate-layer symlinks: name -> target name

    def get(self, name: str, what: str) -> _Staged:
        key = _normalise(name)
        key = self.aliases.get(key, key)
        found = self.files.get(key)
        if found is None:
            raise _malformed(f"{what} {name!r} is not in the archive")
        return found

    def has(self, name: str) -> bool:
        return name in self.files

    def read(self, name: str, what: str) -> bytes:
        staged = self.get(name, what)
        if staged.size > MAX_METADATA_BYTES:
            raise _malformed(f"{what} {name!r} is larger than {MAX_METADATA_BYTES} bytes")
        return staged.path.read_bytes()

    def blob(self, digest: str, what: str) -> _Staged:
        if not isinstance(digest, str):
            raise _malformed(f"{what} has no digest")
        try:
            hexpart = digest_hex(digest)
        except InvalidArgument as err:
            raise _malformed(f"{what}: {err}") from None
        return self.get("blobs/sha256/" + hexpart, what)


def _normalise(name: str) -> str:
    """A member name in canonical form; refuses absolute names and ``..`` outright."""
    if "\0" in name or "\\" in name:
        raise UnsafeLayer(f"image archive entry {name!r} has a forbidden character; refusing the archive")
    if name.startswith("/") or ".." in name.split("/"):
        raise UnsafeLayer(f"image archive entry {name!r} points outside the archive; refusing the archive")
    norm = posixpath.normpath(name)
    return norm


def load(
    store: ImageStore,
    layers: LayerStore,
    src: BinaryIO,
    progress: Progress | None = None,
    *,
    platform: str | None = None,
) -> list[str]:
    """``docker load``: read a docker archive or OCI layout tar (optionally gzip/zstd/xz/bzip2-compressed)
    from ``src``; returns docker's lines, ``Loaded image: busybox:latest`` / ``Loaded image ID: sha256:...``.

    ``platform`` (default: the host's) picks the image from a multi-platform OCI index.
    """
    from core.config import host_platform

    report = progress or (lambda _p: None)
    paths = store.paths
    for d in (paths.blobs, paths.tmp, paths.images, paths.layers):
        d.mkdir(parents=True, exist_ok=True)
    sweep_temp(paths.tmp)
    sweep_temp(paths.blobs)
    scratch = temp_name(paths.tmp / "load")
    scratch.mkdir(mode=0o700)
    try:
        archive = _stage(src, scratch)
        if archive.has("manifest.json"):
            images = _plan_docker(archive)
        elif archive.has("index.json"):
            images = _plan_oci(archive, parse_platform(platform or host_platform()))
        else:
            raise _malformed("it has neither manifest.json (docker) nor index.json (OCI layout)")
        if not images:
            raise _malformed("it holds no images")
        return _commit(store, layers, images, report)
    finally:
        remove_tree(scratch)


# ----------------------------------------------------------------------------------------- staging


class _Corrupt(Exception):
    pass


class _StrictTarInfo(tarfile.TarInfo):
    """tarfile quietly ends an archive at a damaged header and reads extended headers of any size into
    memory; an image archive gets neither."""

    @classmethod
    def fromtarfile(cls, tarfile_: tarfile.TarFile) -> Self:
        try:
            return super().fromtarfile(tarfile_)
        except tarfile.EmptyHeaderError:  # type: ignore[attr-defined]
            if tarfile_.offset == 0:
                raise
            # the stream ended between members without the zero blocks: Go's archive/tar (docker) accepts it
            raise tarfile.EOFHeaderError("end of file") from None  # type: ignore[attr-defined]
        except (tarfile.TruncatedHeaderError, tarfile.InvalidHeaderError) as err:  # type: ignore[attr-defined]
            if tarfile_.offset == 0:
                raise
            raise _Corrupt(f"bad header at byte {tarfile_.offset}: {err}") from None

    def _proc_member(self, tarfile_: tarfile.TarFile) -> Any:
        if self.type in _EXTENDED_HEADERS and self.size > MAX_HEADER_BYTES:
            raise _Corrupt(f"an extended header of {self.size} bytes at byte {self.offset}")
        return super()._proc_member(tarfile_)  # type: ignore[misc]


_EXTENDED_HEADERS = {
    tarfile.XHDTYPE,
    tarfile.XGLTYPE,
    tarfile.SOLARIS_XHDTYPE,
    tarfile.GNUTYPE_LONGNAME,
    tarfile.GNUTYPE_LONGLINK,
}


def _stage(src: BinaryIO, scratch: Path) -> _Archive:
    archive = _Archive(scratch)
    try:
        # gzip and zstd here (docker load takes ``docker save | gzip``), bzip2 and xz by tarfile's "r|*"
        with tarfile.open(
            fileobj=open_decompressed(src), mode="r|*", tarinfo=_StrictTarInfo, errors="surrogateescape"
        ) as tar:
            for count, member in enumerate(tar, 1):
                if count > MAX_MEMBERS:
                    raise _malformed(f"more than {MAX_MEMBERS} entries")
                _stage_member(archive, tar, member, count)
                tar.members.clear()  # type: ignore[attr-defined]  # stream mode never looks back
    except (tarfile.TarError, EOFError, _Corrupt) as err:
        raise _malformed(f"it is not a tar archive, or it is truncated or corrupt ({err})") from None
    except (ValueError, OverflowError) as err:  # a NUL in a name, absurd numbers in a header
        raise UnsafeLayer(f"image archive has a malformed entry ({err}); refusing it") from None
    # docker's duplicate-layer links must land on a layer file the archive really holds
    for name, target in archive.aliases.items():
        if target not in archive.files:
            raise _malformed(f"{name!r} links to {target!r}, which is not in the archive")
    return archive


def _stage_member(archive: _Archive, tar: tarfile.TarFile, member: tarfile.TarInfo, n: int) -> None:
    name = _normalise(member.name)
    if name in archive.files or name in archive.aliases:
        raise _malformed(f"entry {name!r} appears twice")
    if member.isdir():
        if not _DIR_NAMES.fullmatch(name):
            raise UnsafeLayer(f"unexpected directory {name!r} in the image archive; refusing it")
        return
    if member.issym():
        # docker (before 25) stored a layer shared by two images once and linked the second name to it,
        # <id>/layer.tar -> ../<other id>/layer.tar, and skopeo/podman link every legacy layer dir to the
        # real file, <id>/layer.tar -> ../<diff id>.tar. Those shapes are kept as name aliases (no link is
        # ever made on disk); every other link is refused.
        target = posixpath.normpath(posixpath.join(posixpath.dirname(name), member.linkname))
        if (
            _LAYER_TAR.fullmatch(name)
            and not member.linkname.startswith("/")
            and _LAYER_FILE.fullmatch(target)
            and target != name
        ):
            archive.aliases[name] = target
            return
        raise UnsafeLayer(
            f"image archive entry {name!r} is a symbolic link to {member.linkname!r}; refusing the archive"
        )
    if not member.isreg():
        kind = "hard link" if member.islnk() else "device or special file"
        raise UnsafeLayer(f"image archive entry {name!r} is a {kind}; refusing the archive")
    if not _FILE_NAMES.fullmatch(name):
        raise UnsafeLayer(f"unexpected entry {name!r} in the image archive; refusing it")
    if (name in ("repositories", "oci-layout") or name.endswith("json")) and member.size > MAX_METADATA_BYTES:
        raise _malformed(f"{name!r} is larger than {MAX_METADATA_BYTES} bytes")
    free = _free_bytes(archive.scratch)
    if member.size > free - FREE_SPACE_RESERVE:
        raise InvalidArgument(
            f"not enough space under {archive.scratch.parent} to load the archive "
            f"({name!r} is {member.size} bytes, {max(free, 0)} free)"
        )
    data = tar.extractfile(member)
    if data is None:  # pragma: no cover - a regular member always has a file object
        raise _malformed(f"cannot read entry {name!r}")
    path = archive.scratch / f"{n:06d}"
    hashing = _Hashing(data)
    with open(path, "xb") as out:
        shutil.copyfileobj(hashing, out, CHUNK)
    if hashing.count != member.size:
        raise _malformed(f"entry {name!r} is truncated")
    if name.startswith("blobs/sha256/") and hashing.digest != "sha256:" + name.rsplit("/", 1)[1]:
        raise DigestMismatch(
            f"image archive blob {name} hashes to {hashing.digest}: the archive is corrupt; "
            "nothing was loaded"
        )
    archive.files[name] = _Staged(path, member.size, hashing.digest)


def _free_bytes(path: Path) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


# ----------------------------------------------------------------------------------------- planning


def _json_object(data: bytes, what: str) -> Any:
    try:
        return json.loads(data)
    except ValueError as err:
        raise _malformed(f"{what} is not valid JSON ({err})") from None


def _config_diff_ids(config: bytes, what: str) -> list[str]:
    obj = _json_object(config, what)
    if not isinstance(obj, dict):
        raise _malformed(f"{what} is not a JSON object")
    diff_ids = (obj.get("rootfs") or {}).get("diff_ids")
    if not isinstance(diff_ids, list) or not all(isinstance(d, str) for d in diff_ids):
        raise _malformed(f"{what} has no rootfs.diff_ids")
    for d in diff_ids:
        try:
            digest_hex(d)
        except InvalidArgument as err:
            raise _malformed(f"{what}: {err}") from None
    return diff_ids


def _layer_kind(staged: _Staged) -> str:
    with open(staged.path, "rb") as f:
        return sniff(f.read(4))


def _plan_docker(archive: _Archive) -> list[_Image]:
    """docker's ``manifest.json``: ``[{"Config": path, "RepoTags": [...], "Layers": [paths]}]``."""
    items = _json_object(archive.read("manifest.json", "manifest"), "manifest.json")
    if not isinstance(items, list):
        raise _malformed("manifest.json is not a list")
    images: list[_Image] = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("Config"), str):
            raise _malformed("a manifest.json entry names no Config")
        layer_paths = item.get("Layers") or []
        if not isinstance(layer_paths, list) or not all(isinstance(p, str) for p in layer_paths):
            raise _malformed("a manifest.json entry has an invalid Layers list")
        config_name = item["Config"]
        config = archive.read(config_name, "image config")
        config_digest = sha256_digest(config)
        base = posixpath.basename(_normalise(config_name)).removesuffix(".json")
        if re.fullmatch(_HEX, base) and "sha256:" + base != config_digest:
            raise DigestMismatch(
                f"image config {config_name} hashes to {config_digest}: the archive is corrupt; "
                "nothing was loaded"
            )
        diff_ids = _config_diff_ids(config, f"image config {config_name}")
        if len(diff_ids) != len(layer_paths):
            raise _malformed(
                f"manifest.json lists {len(layer_paths)} layers for {config_name} but its config "
                f"{len(diff_ids)} diff ids"
            )
        planned: list[_Layer] = []
        for path, diff_id in zip(layer_paths, diff_ids, strict=True):
            staged = archive.get(path, "layer")
            kind = _layer_kind(staged)
            if kind == "none":
                # docker's format: the uncompressed tar, whose digest is the diff id itself
                if staged.digest != diff_id:
                    raise DigestMismatch(
                        f"layer {path} hashes to {staged.digest}, but the image config says {diff_id}: "
                        "the archive is corrupt; nothing was loaded"
                    )
                media = MEDIA_OCI_LAYER
            else:  # docker load accepts compressed layer files too; unpack checks the diff id
                media = MEDIA_OCI_LAYER_GZIP if kind == "gzip" else MEDIA_OCI_LAYER_ZSTD
            planned.append(_Layer(staged, media, staged.digest, diff_id))
        manifest = oci_manifest(
            config_digest,
            len(config),
            [(layer.media_type, layer.digest, layer.staged.size) for layer in planned],
        )
        names: list[Reference] = []
        for tag in item.get("RepoTags") or []:
            if not isinstance(tag, str):
                raise _malformed("RepoTags holds a non-string")
            try:
                ref = parse_reference(tag)
            except InvalidReference as err:
                raise _malformed(f"invalid tag {tag!r} in manifest.json ({err})") from None
            if ref.digest:
                raise _malformed(f"RepoTags entry {tag!r} has a digest")
            if ref not in names:
                names.append(ref)
        images.append(_Image(config, config_digest, manifest, MEDIA_OCI_MANIFEST, planned, names))
    if archive.has("index.json"):
        _adopt_layout_manifests(archive, images)
    return images


def _adopt_layout_manifests(archive: _Archive, images: list[_Image]) -> None:
    """A docker 25+ archive also holds an OCI layout; where it has a manifest naming exactly an image's
    config and layer blobs (docker's containerd store keeps the registry's manifest and compressed layers),
    keep that manifest instead of a synthesised one, so a later push is bit-identical to the original.
    Only an optional refinement: anything unreadable here is ignored, manifest.json decides what loads."""
    wanted = {(i.config_digest, tuple(layer.digest for layer in i.layers)): i for i in images}
    todo: list[tuple[Any, int]] = []
    try:
        index = json.loads(archive.read("index.json", "index"))
        todo = [(d, 0) for d in index.get("manifests") or []]
    except (ValueError, AttributeError, DockyardError):
        return
    while todo:
        desc, depth = todo.pop()
        try:
            staged = archive.blob(desc["digest"], "manifest")
            if staged.size > MAX_METADATA_BYTES or staged.size != desc.get("size"):
                continue
            data = staged.path.read_bytes()
            obj = json.loads(data)
            media = obj.get("mediaType") or desc.get("mediaType")
            if media in INDEX_TYPES and depth < MAX_INDEX_DEPTH:
                todo += [(d, depth + 1) for d in obj.get("manifests") or [] if isinstance(d, dict)]
                continue
            if media not in MANIFEST_TYPES or obj["config"]["mediaType"] not in CONFIG_TYPES:
                continue
            key = (obj["config"]["digest"], tuple(layer["digest"] for layer in obj["layers"]))
            image = wanted.get(key)
            if image is None or len(obj["layers"]) != len(image.layers):
                continue
            if not all(layer["mediaType"] in LAYER_TYPES for layer in obj["layers"]):
                continue
            image.manifest, image.manifest_media_type = data, media
            for planned, layer in zip(image.layers, obj["layers"], strict=True):
                planned.media_type = layer["mediaType"]
        except (ValueError, KeyError, TypeError, AttributeError, DockyardError):
            continue


def _plan_oci(archive: _Archive, platform: tuple[str, str, str | None]) -> list[_Image]:
    """An OCI image layout: every entry of ``index.json``, each resolved to one image manifest."""
    if archive.has("oci-layout"):
        layout = _json_object(archive.read("oci-layout", "layout marker"), "oci-layout")
        if not isinstance(layout, dict) or layout.get("imageLayoutVersion") != "1.0.0":
            raise _malformed(f"unsupported OCI layout version in oci-layout: {layout!r}")
    index = _json_object(archive.read("index.json", "index"), "index.json")
    if not isinstance(index, dict) or not isinstance(index.get("manifests"), list):
        raise _malformed("index.json has no manifests list")
    by_digest: dict[str, _Image] = {}
    order: list[str] = []
    for desc in index["manifests"]:
        if not isinstance(desc, dict):
            raise _malformed("index.json holds a non-object descriptor")
        manifest_desc = _resolve_manifest(archive, desc, platform, 0)
        digest = manifest_desc["digest"]
        image = by_digest.get(digest)
        if image is None:
            image = _plan_oci_image(archive, manifest_desc)
            by_digest[digest] = image
            order.append(digest)
        ref = _name_from_annotations(desc.get("annotations") or {})
        if ref is not None and ref not in image.names:
            image.names.append(ref)
    return [by_digest[d] for d in order]


def _name_from_annotations(annotations: dict[str, Any]) -> Reference | None:
    """The name an index entry gives its image: containerd's full-name annotation, else the OCI ref name
    when it is a whole reference (``example.com/app:1``); a bare tag (``latest``) names no repository."""
    for key in (ANNOTATION_IMAGE_NAME, ANNOTATION_REF_NAME):
        value = annotations.get(key)
        if not isinstance(value, str) or not value:
            continue
        if key == ANNOTATION_REF_NAME and "/" not in value and ":" not in value:
            continue
        try:
            ref = parse_reference(value)
        except InvalidReference:
            continue
        if not ref.digest:
            return ref
    return None


def _check_desc(archive: _Archive, desc: dict[str, Any], what: str) -> _Staged:
    staged = archive.blob(desc.get("digest"), what)  # type: ignore[arg-type]
    size = desc.get("size")
    if not isinstance(size, int) or size != staged.size:
        raise DigestMismatch(
            f"{what} {desc.get('digest')} is {staged.size} bytes but its descriptor says {size}: "
            "the archive is corrupt; nothing was loaded"
        )
    return staged


def _resolve_manifest(
    archive: _Archive, desc: dict[str, Any], platform: tuple[str, str, str | None], depth: int
) -> dict[str, Any]:
    media = desc.get("mediaType")
    if media in MANIFEST_TYPES:
        return desc
    if media not in INDEX_TYPES:
        raise UnsupportedMediaType(f"image archive: unsupported manifest type {media!r}")
    if depth >= MAX_INDEX_DEPTH:
        raise _malformed(f"indexes nested more than {MAX_INDEX_DEPTH} deep")
    staged = _check_desc(archive, desc, "index")
    index = _json_object(archive.read("blobs/sha256/" + digest_hex(desc["digest"]), "index"), "index")
    entries = index.get("manifests") if isinstance(index, dict) else None
    if not isinstance(entries, list):
        raise _malformed(f"index {desc['digest']} has no manifests list")
    del staged
    # candidates: image manifests reachable from here, with their platform (from the descriptor, else from
    # the image config, as an index written without platforms still says it in the config)
    found: list[tuple[dict[str, Any], dict[str, Any] | None]] = []
    for entry in entries:
        if not isinstance(entry, dict):
            raise _malformed(f"index {desc['digest']} holds a non-object descriptor")
        if entry.get("mediaType") in INDEX_TYPES:
            try:
                inner = _resolve_manifest(archive, entry, platform, depth + 1)
            except ImageNotFound:
                continue
            found.append((inner, _manifest_platform(archive, inner)))
        elif entry.get("mediaType") in MANIFEST_TYPES:
            found.append((entry, entry.get("platform") or _manifest_platform(archive, entry)))
    best = best_platform_index(platform, [p for _, p in found])
    if best is None:
        have = ", ".join(
            sorted({format_platform(p) for p in (normalize_platform(c or {}) for _, c in found) if p})
        )
        raise ImageNotFound(
            f"the image archive has no image for platform {format_platform(platform)} (has: {have or 'none'})"
        )
    return found[best][0]


def _manifest_platform(archive: _Archive, desc: dict[str, Any]) -> dict[str, Any] | None:
    try:
        manifest = _json_object(archive.read("blobs/sha256/" + digest_hex(desc["digest"]), "manifest"), "")
        cfg_digest = manifest["config"]["digest"]
        cfg = _json_object(archive.read("blobs/sha256/" + digest_hex(cfg_digest), "config"), "")
    except (InvalidArgument, KeyError, TypeError):
        return None
    return cfg if isinstance(cfg, dict) else None


def _plan_oci_image(archive: _Archive, desc: dict[str, Any]) -> _Image:
    staged = _check_desc(archive, desc, "manifest")
    data = archive.read("blobs/sha256/" + digest_hex(desc["digest"]), "manifest")
    manifest = _json_object(data, f"manifest {desc['digest']}")
    if not isinstance(manifest, dict):
        raise _malformed(f"manifest {desc['digest']} is not a JSON object")
    media_type = manifest.get("mediaType") or desc.get("mediaType")
    if media_type not in MANIFEST_TYPES:
        raise UnsupportedMediaType(f"image archive: manifest {desc['digest']} has type {media_type!r}")
    cfg_desc = manifest.get("config")
    if not isinstance(cfg_desc, dict) or cfg_desc.get("mediaType") not in CONFIG_TYPES:
        raise UnsupportedMediaType(
            f"image archive: manifest {desc['digest']} is not a container image "
            f"(config type {(cfg_desc or {}).get('mediaType')!r})"
        )
    cfg_staged = _check_desc(archive, cfg_desc, "image config")
    config = archive.read("blobs/sha256/" + digest_hex(cfg_desc["digest"]), "image config")
    diff_ids = _config_diff_ids(config, f"image config {cfg_desc['digest']}")
    layer_descs = manifest.get("layers") or []
    if not isinstance(layer_descs, list) or len(layer_descs) != len(diff_ids):
        raise _malformed(f"manifest {desc['digest']} and its config list different numbers of layers")
    planned = []
    for layer_desc, diff_id in zip(layer_descs, diff_ids, strict=True):
        if not isinstance(layer_desc, dict) or layer_desc.get("mediaType") not in LAYER_TYPES:
            raise UnsupportedMediaType(
                f"image archive: layer of unsupported type {(layer_desc or {}).get('mediaType')!r}"
            )
        layer_staged = _check_desc(archive, layer_desc, "layer")
        if layer_desc["mediaType"] in UNCOMPRESSED_LAYER_TYPES and layer_staged.digest != diff_id:
            raise DigestMismatch(
                f"layer {layer_desc['digest']} is not the layer {diff_id} its config names: the archive is "
                "corrupt; nothing was loaded"
            )
        planned.append(_Layer(layer_staged, layer_desc["mediaType"], layer_staged.digest, diff_id))
    del cfg_staged
    return _Image(config, cfg_desc["digest"], data, media_type, planned, [], staged)


# ----------------------------------------------------------------------------------------- commit


def _commit(store: ImageStore, layers: LayerStore, images: list[_Image], report: Progress) -> list[str]:
    # every layer and blob is claimed before it is looked for, until the records are written
    # (core.images.claims): a prune meanwhile leaves them be
    with Claims(store.paths.locks) as claims:
        return _commit_claimed(store, layers, images, report, claims)


def _commit_claimed(
    store: ImageStore, layers: LayerStore, images: list[_Image], report: Progress, claims: Claims
) -> list[str]:
    created_layers: list[str] = []
    added_blobs: list[str] = []
    try:
        records: list[tuple[_Image, list[LayerRef]]] = []
        for image in images:
            chain: list[LayerRef] = []
            parent: str | None = None
            claims.hold_blobs(
                [image.config_digest, sha256_digest(image.manifest), *(x.digest for x in image.layers)]
            )
            for layer in image.layers:
                cid = layers.chain_id(parent, layer.diff_id)
                claims.hold_layers([cid])
                short = layer.diff_id.removeprefix("sha256:")[:12]
                if layers.exists(cid):
                    report(PullProgress(short, "Already exists", layer.staged.size, layer.staged.size))
                else:
                    total = layer.staged.size
                    with open(layer.staged.path, "rb") as f:
                        reader = _Hashing(f, _layer_progress(report, short, total))
                        layers.unpack(cid, parent, layer.diff_id, reader)  # type: ignore[arg-type]
                    created_layers.append(cid)
                    report(PullProgress(short, "Loaded", total, total))
                chain.append(LayerRef(layer.digest, layer.media_type, layer.staged.size, layer.diff_id, cid))
                parent = cid
            records.append((image, chain))

        # blobs last: a record is written only once everything it names is in place
        for image, _chain in records:
            if store.get(image.config_digest) is not None:
                continue  # already here (pulled or loaded before): its own blobs stay, only tags change
            for layer in image.layers:
                if _place_blob(store, layer.digest, staged=layer.staged):
                    added_blobs.append(layer.digest)
            if _place_blob(store, image.config_digest, data=image.config):
                added_blobs.append(image.config_digest)
            manifest_digest = sha256_digest(image.manifest)
            if _place_blob(store, manifest_digest, data=image.manifest):
                added_blobs.append(manifest_digest)

        lines: list[str] = []
        with store.lock():
            for image, chain in records:
                record = store.get(image.config_digest)
                if record is None:
                    cfg = json.loads(image.config)
                    platform = "/".join(
                        x for x in (cfg.get("os"), cfg.get("architecture"), cfg.get("variant")) if x
                    )
                    record = ImageRecord(
                        id=image.config_digest,
                        config_digest=image.config_digest,
                        manifest_digest=sha256_digest(image.manifest),
                        manifest_media_type=image.manifest_media_type,
                        layers=chain,
                        created=cfg.get("created", "") if isinstance(cfg.get("created"), str) else "",
                        size=sum(layers.size(layer.chain_id) for layer in chain),
                        platform=platform,
                    )
                    store.save(record)
                for ref in image.names:
                    store.add_tag(record, ref)
                    lines.append(f"Loaded image: {ref.familiar()}")
                if not image.names:
                    lines.append(f"Loaded image ID: {record.id}")
        return lines
    except BaseException:
        drop_unused(store, layers, claims, layer_ids=reversed(created_layers), blobs=added_blobs)
        raise


def _layer_progress(report: Progress, short: str, total: int) -> Callable[[int], None]:
    return lambda n: report(PullProgress(short, "Loading layer", n, total))


def _place_blob(
    store: ImageStore, digest: str, *, staged: _Staged | None = None, data: bytes | None = None
) -> bool:
    """Put a verified blob into the store unless it is there; True if this call added it."""
    final = store.blob_path(digest)
    if final.exists():
        return False
    if staged is None:
        assert data is not None
        write_bytes(final, data)
        return True
    # the scratch dir is normally on the store's filesystem: a hard link to a temp name, then a rename,
    # makes the final name appear atomically without copying gigabytes
    tmp = temp_name(final)
    try:
        with open(staged.path, "rb") as f:
            os.fsync(f.fileno())
        try:
            os.link(staged.path, tmp)
        except OSError as err:
            if err.errno != errno.EXDEV:
                raise
            with open(staged.path, "rb") as src, open(tmp, "xb") as dst:
                shutil.copyfileobj(src, dst, CHUNK)
                dst.flush()
                os.fsync(dst.fileno())
        os.chmod(tmp, 0o644)
        os.rename(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(final.parent)
    return True


__all__ = ["load", "oci_manifest", "save"]
