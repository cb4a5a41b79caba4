"""Images made here rather than pulled: a layer from a tree of changes, an image record from a config and a
layer chain, ``commit`` of a container, and ``history``.

Every layer we make takes one path, the one a pulled layer takes: a tar stream is written (by
:func:`core.storage.diff.write_diff` for a writable layer, or copied from an import), hashed as it goes (its
DiffID) and gzip-compressed into a blob (its digest); the blob is then unpacked by
:meth:`LayerStore.unpack`, which checks the DiffID again and turns whiteouts into overlay form. So a built
layer on disk is exactly what a pull of the pushed image would unpack, and push sends the stored blob as is.

Records are written last, once their blobs and layers are in place; an image made twice from the same
config is the same record.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from core.errors import Conflict, CorruptState, ImageNotFound, InvalidArgument
from core.images.archive import MEDIA_OCI_LAYER, MEDIA_OCI_LAYER_GZIP, MEDIA_OCI_LAYER_ZSTD, oci_manifest
from core.images.claims import Claims, drop_unused
from core.images.reference import Reference
from core.images.registry import sha256_digest
from core.images.store import ImageRecord, ImageStore, LayerRef
from core.models import HistoryEntry
from core.record import record
from core.state.records import fsync_dir, temp_name, write_bytes
from core.storage import compression
from core.storage.diff import DiffStats, HashingWriter
from core.storage.layers import LayerStore
from core.timestamps import now_rfc3339

if TYPE_CHECKING:
    from core.config import Paths
    from core.containers.lifecycle import Lifecycle
    from core.containers.store import ContainerRecord
    from core.models import ContainerCreate

MEDIA_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
# Built layers are compressed when they are made (push sends stored blobs byte for byte). zlib's level 6 runs
# at ~16 MB/s here, level 1 at ~60 MB/s for a blob ~10% larger: a build should not wait on compression.
LAYER_GZIP_LEVEL = 1
# the same bytes under OCI names, so a manifest we write never mixes docker and OCI media types
_OCI_LAYER_TYPE = {
    "application/vnd.docker.image.rootfs.diff.tar.gzip": MEDIA_OCI_LAYER_GZIP,
    "application/vnd.docker.image.rootfs.diff.tar.zstd": MEDIA_OCI_LAYER_ZSTD,
    "application/vnd.docker.image.rootfs.diff.tar": MEDIA_OCI_LAYER,
}
# what ``commit`` leaves out of a container's writable layer when the image did not have it (docker keeps
# these in the container's init layer): the runtime's mount points
RUNTIME_MOUNTPOINTS = ("proc", "sys", "dev", "etc/hostname", "etc/hosts", "etc/resolv.conf")

T = TypeVar("T")


# ------------------------------------------------------------------------------------------ layers


def new_layer(
    images: ImageStore,
    layers: LayerStore,
    parent_chain: str | None,
    write: Callable[[HashingWriter], T],
    *,
    claims: Claims,
    keep_empty: bool = True,
) -> tuple[LayerRef | None, T]:
    """Make a layer from ``write(out)``, which writes one uncompressed layer tar to ``out``.

    Returns the layer (blob stored, layer unpacked on top of ``parent_chain``) and what ``write`` returned.
    With ``keep_empty=False`` a tar without entries (``write`` must return :class:`DiffStats`) makes no
    layer and ``None`` is returned for it. The blob and the layer are claimed in ``claims`` (see
    :mod:`core.images.claims`) before they are looked for: the caller lets the claims go once the image
    record that names them is written, and until then no prune takes them.
    """
    images.paths.blobs.mkdir(parents=True, exist_ok=True)
    tmp = temp_name(images.paths.blobs / "layer")
    placed = None
    made_layer: str | None = None
    try:
        with open(tmp, "xb") as f:
            sink = HashingWriter(f)  # the compressed side: the blob's digest and size
            comp = compression.open_compressor("gzip", sink, LAYER_GZIP_LEVEL)  # type: ignore[arg-type]
            raw = HashingWriter(comp)
            result = write(raw)
            comp.close()
            f.flush()
            os.fsync(f.fileno())
        if not keep_empty and isinstance(result, DiffStats) and result.empty:
            tmp.unlink()
            return None, result
        digest = sink.digest
        diff_id = raw.digest
        chain = layers.chain_id(parent_chain, diff_id)
        claims.hold_blobs([digest])
        claims.hold_layers([chain])
        final = images.blob_path(digest)
        if final.exists():
            tmp.unlink()
        else:
            os.chmod(tmp, 0o644)
            os.rename(tmp, final)
            fsync_dir(final.parent)
            placed = final
        if not layers.exists(chain):
            with open(final, "rb") as blob:
                layers.unpack(chain, parent_chain, diff_id, blob)
            made_layer = chain
        ref = LayerRef(digest, MEDIA_OCI_LAYER_GZIP, sink.count, diff_id, chain)
        return ref, result
    except BaseException:
        tmp.unlink(missing_ok=True)
        drop_unused(
            images,
            layers,
            claims,
            layer_ids=[made_layer] if made_layer else [],
            blobs=[f"sha256:{placed.name}"] if placed is not None else [],
        )
        raise


# ------------------------------------------------------------------------------------------ images


def oci_layer_type(media_type: str) -> str:
    return _OCI_LAYER_TYPE.get(media_type, media_type)


def base_config(platform: str) -> dict[str, Any]:
    """The config of an image with nothing in it (``FROM scratch``, ``import``)."""
    parts = platform.split("/")
    cfg: dict[str, Any] = {"architecture": parts[1] if len(parts) > 1 else "amd64", "os": parts[0]}
    if len(parts) > 2:
        cfg["variant"] = parts[2]
    cfg.update({"config": {}, "rootfs": {"type": "layers", "diff_ids": []}, "history": []})
    return cfg


def parent_layers(images: ImageStore, record: ImageRecord) -> list[LayerRef]:
    """The record's layers, refusing one whose blob is gone (its image could then never be pushed)."""
    for layer in record.layers:
        if not images.has_blob(layer.digest):
            raise ImageNotFound(
                f"layer blob {layer.digest} of image {record.id} is missing from the store; "
                "pull the image again"
            )
    return [
        LayerRef(x.digest, oci_layer_type(x.media_type), x.size, x.diff_id, x.chain_id) for x in record.layers
    ]


def write_image(
    images: ImageStore,
    layers: LayerStore,
    config: dict[str, Any],
    chain: Sequence[LayerRef],
    *,
    claims: Claims,
    tags: Sequence[Reference] = (),
) -> ImageRecord:
    """Store ``config`` (its ``rootfs`` set from ``chain``) with an OCI manifest and write the image record.

    Every layer must already be stored, and claimed in ``claims`` by the caller (:func:`new_layer` does it
    for the layers it makes); the config and manifest blobs are claimed here. An identical config gives the
    same image id and record. The caller releases ``claims`` after this returns.
    """
    chain = [LayerRef(x.digest, oci_layer_type(x.media_type), x.size, x.diff_id, x.chain_id) for x in chain]
    claims.hold_blobs([x.digest for x in chain])
    claims.hold_layers([x.chain_id for x in chain])
    for layer in chain:
        if not layers.exists(layer.chain_id) or not images.has_blob(layer.digest):
            raise CorruptState(f"layer {layer.diff_id} is not in the store; cannot write the image")
    config = dict(config)
    config["rootfs"] = {"type": "layers", "diff_ids": [x.diff_id for x in chain]}
    cfg_bytes = json.dumps(config, separators=(",", ":")).encode()
    config_digest = sha256_digest(cfg_bytes)
    manifest = oci_manifest(config_digest, len(cfg_bytes), [(x.media_type, x.digest, x.size) for x in chain])
    manifest_digest = sha256_digest(manifest)
    claims.hold_blobs([config_digest, manifest_digest])
    for digest, data in ((config_digest, cfg_bytes), (manifest_digest, manifest)):
        if not images.has_blob(digest):
            write_bytes(images.blob_path(digest), data)
    platform = "/".join(x for x in (config.get("os"), config.get("architecture"), config.get("variant")) if x)
    with images.lock():
        record = images.get(config_digest)
        if record is None:
            record = ImageRecord(
                id=config_digest,
                config_digest=config_digest,
                manifest_digest=manifest_digest,
                manifest_media_type=MEDIA_OCI_MANIFEST,
                layers=list(chain),
                created=str(config.get("created", "")),
                size=sum(layers.size(x.chain_id) for x in chain),
                platform=platform,
            )
            images.save(record)
        for ref in tags:
            images.add_tag(record, ref)
    return record


def record_config(images: ImageStore, record: ImageRecord) -> dict[str, Any]:
    cfg: dict[str, Any] = json.loads(images.read_blob(record.config_digest))
    return cfg


# ------------------------------------------------------------------------------------------ parents

# Docker records each built or committed image's parent; we keep the same links beside the build cache,
# so ``history`` can name intermediate images and ``images`` can hide them.


def parents_dir(images: ImageStore) -> Path:
    return images.paths.root / "build-cache" / "parents"


def set_parent(images: ImageStore, child: str, parent: str) -> None:
    d = parents_dir(images)
    hexid = child.removeprefix("sha256:")
    if len(hexid) == 64 and parent:
        write_bytes(d / hexid, parent.encode())


def get_parent(images: ImageStore, child: str) -> str | None:
    hexid = child.removeprefix("sha256:")
    if len(hexid) != 64:
        return None
    try:
        return (parents_dir(images) / hexid).read_text().strip() or None
    except (FileNotFoundError, ValueError):
        return None


def intermediate_ids(images: ImageStore) -> set[str]:
    """Images that another image still in the store names as its parent (docker's intermediate images;
    the caller keeps the tagged ones visible)."""
    try:
        names = os.listdir(parents_dir(images))
    except FileNotFoundError:
        return set()
    parents = set()
    for name in names:
        if len(name) == 64 and images.paths.image(name).exists():
            with contextlib.suppress(OSError):
                parents.add((parents_dir(images) / name).read_text().strip())
    return parents


# ------------------------------------------------------------------------------------------ history


def history(images: ImageStore, layers: LayerStore, record: ImageRecord) -> list[HistoryEntry]:
    """docker history: newest first, one row per history entry, sizes from the layers they made."""
    cfg = record_config(images, record)
    hist = list(cfg.get("history") or [])
    if not hist:  # an image without history: one row per layer, as docker shows it
        hist = [{"created": cfg.get("created", ""), "created_by": ""} for _ in record.layers]
    ids: dict[int, ImageRecord] = {len(hist) - 1: record}
    current: ImageRecord | None = record
    seen = {record.id}
    while current is not None:
        parent_id = get_parent(images, current.id)
        if not parent_id or parent_id in seen:
            break
        seen.add(parent_id)
        current = images.get(parent_id)
        if current is None:
            break
        n = len(record_config(images, current).get("history") or [])
        if 0 < n <= len(hist):
            ids[n - 1] = current
    rows: list[HistoryEntry] = []
    layer_index = 0
    for i, h in enumerate(hist):
        empty = bool(h.get("empty_layer"))
        size = 0
        if not empty and layer_index < len(record.layers):
            with contextlib.suppress(Exception):
                size = layers.size(record.layers[layer_index].chain_id)
            layer_index += 1
        owner = ids.get(i)
        rows.append(
            HistoryEntry(
                id=owner.id if owner else "<missing>",
                created=str(h.get("created", "")),
                created_by=str(h.get("created_by", "")),
                size=size,
                comment=str(h.get("comment", "")),
                empty_layer=empty,
                tags=list(owner.repo_tags) if owner else [],
            )
        )
    rows.reverse()
    return rows


# ------------------------------------------------------------------------------------------ commit


@record
class CommitRequest:
    container: str
    reference: str | None = None  # repository[:tag]
    message: str = ""
    author: str = ""
    changes: list[str] | None = None  # Dockerfile instructions: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ...
    pause: bool = True


def container_config(
    image_cfg: dict[str, Any], run: ContainerCreate, process: dict[str, Any]
) -> dict[str, Any]:
    """The image config docker commit writes: the image's, with what the container was created with."""
    cfg = dict(image_cfg.get("config") or {})
    asked = run.config
    if asked.entrypoint is not None:
        cfg["Entrypoint"] = list(asked.entrypoint) or None
        cfg["Cmd"] = list(asked.cmd or []) or None
    elif asked.cmd is not None:
        cfg["Cmd"] = list(asked.cmd)
    env = [e for e in process.get("env", []) if not e.startswith("HOSTNAME=")]
    if env:
        cfg["Env"] = env
    if asked.working_dir:
        cfg["WorkingDir"] = asked.working_dir
    if asked.user:
        cfg["User"] = asked.user
    labels = {**(cfg.get("Labels") or {}), **asked.labels}
    if labels:
        cfg["Labels"] = labels
    ports = dict(cfg.get("ExposedPorts") or {})
    for key in [*asked.exposed_ports, *run.host_config.port_bindings]:
        ports[key] = {}
    if ports:
        cfg["ExposedPorts"] = ports
    if asked.stop_signal:
        cfg["StopSignal"] = asked.stop_signal
    if process.get("healthcheck"):  # the container's, merged with its image's at create
        from core.containers.health import ordered

        cfg["Healthcheck"] = ordered(process["healthcheck"])
    if asked.tty:
        cfg["Tty"] = True
    return {k: v for k, v in cfg.items() if v is not None}


def check_changes(changes: Sequence[str]) -> None:
    """docker commit/import ``--change`` takes only these instructions."""
    allowed = {
        "cmd",
        "entrypoint",
        "env",
        "expose",
        "label",
        "onbuild",
        "user",
        "volume",
        "workdir",
        "stopsignal",
    }
    for text in changes:
        word = text.strip().split(None, 1)[0].lower() if text.strip() else ""
        if word not in allowed:
            raise InvalidArgument(
                f"{word.upper() or 'an empty change'} is not a valid change command: use one of "
                "CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR"
            )


def apply_changes(config: dict[str, Any], changes: Sequence[str]) -> None:
    """Apply ``--change`` instructions to an image config (shared with ``build``'s metadata steps)."""
    if not changes:
        return
    check_changes(changes)
    from core.build.changes import MetaState, apply_instruction
    from core.build.dockerfile import parse

    state = MetaState()
    for text in changes:
        # one change a line: a change never continues onto the next
        for instr in parse(text.replace("\n", " ") + "\n", filename="--change").instructions:
            env_list = (config.get("config") or {}).get("Env") or []
            env = {k: v for k, _, v in (e.partition("=") for e in env_list)}
            apply_instruction(config, instr, env, state=state)


def diff_inputs(paths: Paths, layers: LayerStore, rec: ContainerRecord) -> tuple[Path, list[Path], list[str]]:
    """What a container's changes are read from: its upper directory, its image's layer directories (topmost
    first) and the mount points the runtime made, which are not changes of the container's own."""
    upper = paths.container(rec.id) / "upper"
    lowers = [layers.diff_dir(c) for c in reversed(rec.layers)]
    return upper, lowers, [*RUNTIME_MOUNTPOINTS, *(m.target for m in rec.run.host_config.mounts)]


def commit_container(
    lifecycle: Lifecycle, images: ImageStore, layers: LayerStore, req: CommitRequest
) -> ImageRecord:
    """``docker commit``: the container's writable layer as a new layer on its image, with its config.

    A running container is frozen while its layer is read (``pause``), unless asked not to be.
    """
    from core.images.reference import parse_reference
    from core.storage.diff import write_diff

    tags = []
    if req.reference:
        ref = parse_reference(req.reference)
        if ref.digest:
            raise InvalidArgument(f"refusing to create a tag with a digest reference: {req.reference}")
        tags.append(ref)
    if req.changes:
        check_changes(req.changes)
    rec = lifecycle.get(req.container)
    image = images.get(rec.image_id)
    if image is None or [x.chain_id for x in image.layers] != list(rec.layers):
        raise Conflict(
            f"cannot commit container {rec.name}: its image {rec.image_id[:19]} is no longer in the store"
        )
    chain = parent_layers(images, image)
    cfg = record_config(images, image)
    upper, lowers, mountpoints = diff_inputs(lifecycle.paths, layers, rec)
    paused = False
    if req.pause and rec.state.status == "running":
        lifecycle.pause(rec.id)
        paused = True
    claims = Claims(lifecycle.paths.locks)
    with claims:
        try:
            layer, _stats = new_layer(
                images,
                layers,
                rec.layers[-1] if rec.layers else None,
                lambda out: write_diff(upper, out, lowers=lowers, mountpoints=mountpoints),
                claims=claims,
            )
        finally:
            if paused:
                with contextlib.suppress(Exception):
                    lifecycle.unpause(rec.id)
        assert layer is not None
        try:
            record = _commit_record(images, layers, req, rec, cfg, chain, layer, tags, claims)
        except BaseException:
            drop_unused(images, layers, claims, layer_ids=[layer.chain_id], blobs=[layer.digest])
            raise
    set_parent(images, record.id, image.id)
    return record


def _commit_record(
    images: ImageStore,
    layers: LayerStore,
    req: CommitRequest,
    rec: ContainerRecord,
    cfg: dict[str, Any],
    chain: list[LayerRef],
    layer: LayerRef,
    tags: list[Reference],
    claims: Claims,
) -> ImageRecord:
    created = now_rfc3339()
    new_cfg: dict[str, Any] = {
        "created": created,
        **({"author": req.author} if req.author else {}),
        "architecture": cfg.get("architecture", ""),
        "os": cfg.get("os", "linux"),
        **({"variant": cfg["variant"]} if cfg.get("variant") else {}),
        "config": container_config(cfg, rec.run, rec.process),
        "rootfs": {},
        "history": list(cfg.get("history") or []),
    }
    apply_changes(new_cfg, req.changes or [])
    entry: dict[str, Any] = {"created": created, "created_by": " ".join(rec.process.get("args", []))}
    if req.author:
        entry["author"] = req.author
    if req.message:
        entry["comment"] = req.message
    new_cfg["history"].append(entry)
    return write_image(images, layers, new_cfg, [*chain, layer], tags=tags, claims=claims)


__all__ = [
    "RUNTIME_MOUNTPOINTS",
    "CommitRequest",
    "HistoryEntry",
    "apply_changes",
    "base_config",
    "commit_container",
    "container_config",
    "get_parent",
    "history",
    "intermediate_ids",
    "new_layer",
    "parent_layers",
    "record_config",
    "set_parent",
    "write_image",
]
