"""Push: every blob the stored manifest names, then the stored manifest itself, byte for byte.

The manifest is sent exactly as it was stored, so the pushed image has the same manifest digest as the one
pulled (or loaded, or built) and ``pull`` of what we pushed gives back the same bytes. For each blob, like
docker: a ``HEAD`` first ("Layer already exists"), then a cross-repository mount from a repository of the
same registry the image is known to have come from ("Mounted from x"), and only then an upload —
monolithic (one ``PUT``) by default or chunked (``PATCH`` ranges) when a chunk size is given.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from core.errors import CorruptState, ImageNotFound, InvalidReference, RegistryError, UnsupportedMediaType
from core.images.reference import Reference, parse_reference
from core.images.registry import MANIFEST_TYPES, RegistryClient, sha256_digest
from core.images.store import ImageRecord, ImageStore
from core.models import PullProgress
from core.record import record

Progress = Callable[[PullProgress], None]

# docker's default max-concurrent-uploads is 5; 3 keeps a slow link from being split too thin
DEFAULT_UPLOAD_WORKERS = 3
# docker tries at most this many source repositories for a mount before it uploads
MAX_MOUNT_CANDIDATES = 3
# media types docker never pushes: the blob lives elsewhere (the descriptor's urls)
_FOREIGN_TYPES = {
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
}


@record(frozen=True)
class _Blob:
    digest: str
    size: int
    media_type: str
    progress_id: str  # what docker shows: the short diff id of a layer, "" for the config (not shown)


def stored_manifest(store: ImageStore, record: ImageRecord) -> tuple[bytes, str, dict[str, Any]]:
    """The record's manifest bytes (checked against their digest), media type and parsed form."""
    if not record.manifest_digest:
        raise ImageNotFound(f"image {record.id} has no manifest in the store; it cannot be pushed")
    data = store.read_blob(record.manifest_digest)
    if sha256_digest(data) != record.manifest_digest:
        raise CorruptState(
            f"stored manifest {record.manifest_digest} of image {record.id} is damaged; pull the image again"
        )
    try:
        obj = json.loads(data)
    except ValueError as err:
        raise CorruptState(f"stored manifest {record.manifest_digest} is not JSON: {err}") from err
    if not isinstance(obj, dict):
        raise CorruptState(f"stored manifest {record.manifest_digest} is not a JSON object")
    media_type = obj.get("mediaType") or record.manifest_media_type
    if media_type not in MANIFEST_TYPES:
        raise UnsupportedMediaType(f"image {record.id} has a manifest of type {media_type!r}; cannot push it")
    return data, media_type, obj


def _blobs_to_push(record: ImageRecord, manifest: dict[str, Any]) -> list[_Blob]:
    cfg = manifest.get("config") or {}
    if not isinstance(cfg.get("digest"), str):
        raise CorruptState(f"stored manifest {record.manifest_digest} names no config")
    layers = manifest.get("layers") or []
    diff_ids = {layer.digest: layer.diff_id for layer in record.layers}
    blobs: list[_Blob] = []
    seen: set[str] = set()
    for desc in layers:
        if desc.get("mediaType") in _FOREIGN_TYPES or desc.get("urls"):
            continue  # a foreign layer: the registry fetches it from its urls, docker never uploads it
        digest = desc.get("digest")
        if not isinstance(digest, str):
            raise CorruptState(f"stored manifest {record.manifest_digest} has a layer without a digest")
        if digest in seen:
            continue  # the same layer twice (e.g. repeated empty layers): one upload, as docker
        seen.add(digest)
        short = diff_ids.get(digest, digest).removeprefix("sha256:")[:12]
        blobs.append(_Blob(digest, int(desc.get("size", 0)), str(desc.get("mediaType", "")), short))
    blobs.append(_Blob(cfg["digest"], int(cfg.get("size", 0)), str(cfg.get("mediaType", "")), ""))
    return blobs


def mount_candidates(record: ImageRecord, ref: Reference) -> list[str]:
    """Repositories on ``ref``'s registry the image was pulled from or pushed to (its repo digests), best
    first: those are the ones whose blobs the registry surely holds."""
    out: list[str] = []
    for entry in record.repo_digests:
        try:
            src = parse_reference(entry)
        except InvalidReference:
            continue
        if src.domain == ref.domain and src.path != ref.path and src.path not in out:
            out.append(src.path)
    return out[:MAX_MOUNT_CANDIDATES]


def push(
    client: RegistryClient,
    store: ImageStore,
    record: ImageRecord,
    ref: Reference,
    progress: Progress | None,
    *,
    chunk_size: int | None = None,
    workers: int = DEFAULT_UPLOAD_WORKERS,
) -> str:
    """Push ``record`` to ``ref`` (a tag, or a digest that must be the record's); returns the manifest digest.

    ``chunk_size`` switches blob uploads from one monolithic ``PUT`` to ``PATCH`` chunks of that many bytes.
    On success the record gains the repo digest ``<ref.name>@<digest>``, as docker records it, so later
    pushes to other repositories of the registry can mount from this one.
    """
    # per-layer events only: the caller prints docker's "The push refers to repository [...]" and the
    # closing "<tag>: digest: ... size: ..." line itself (it has the returned digest)
    report = progress or (lambda _p: None)
    if chunk_size is not None and chunk_size <= 0:
        raise ValueError("chunk_size must be positive")
    data, media_type, manifest = stored_manifest(store, record)
    if ref.digest and ref.digest != record.manifest_digest:
        raise InvalidReference(
            f"cannot push {ref}: the image's manifest is {record.manifest_digest}, not {ref.digest}"
        )
    blobs = _blobs_to_push(record, manifest)
    for blob in blobs:
        if not store.has_blob(blob.digest):
            raise ImageNotFound(
                f"blob {blob.digest} of image {record.id} is missing from the store; pull the image again"
            )
        actual = store.blob_path(blob.digest).stat().st_size
        if blob.size and actual != blob.size:
            raise CorruptState(
                f"stored blob {blob.digest} is {actual} bytes, its manifest says {blob.size}; pull it again"
            )

    repo = ref.path
    for blob in blobs:
        if blob.progress_id:
            report(PullProgress(blob.progress_id, "Preparing", 0, blob.size))
    candidates = mount_candidates(record, ref)

    errors: list[BaseException] = []
    cancel = threading.Event()

    def work(blob: _Blob) -> None:
        if cancel.is_set():
            return
        try:
            _push_blob(client, store, repo, blob, candidates, chunk_size, report)
        except BaseException as err:
            cancel.set()
            errors.append(err)

    # layers in parallel; the config last, as docker does (a registry may check it against the layers)
    layer_blobs, config_blob = blobs[:-1], blobs[-1]
    n = max(1, min(workers, len(layer_blobs)))
    if n == 1:
        for blob in layer_blobs:
            work(blob)
    else:
        with ThreadPoolExecutor(max_workers=n, thread_name_prefix="push") as pool:
            list(pool.map(work, layer_blobs))
    if not errors:
        work(config_blob)
    if errors:
        raise errors[0]

    reference = ref.digest or ref.tag or "latest"
    pushed = client.put_manifest(repo, reference, data, media_type)
    if pushed != record.manifest_digest:
        raise RegistryError(
            f"registry {ref.domain} stored the manifest as {pushed}, expected {record.manifest_digest}"
        )
    with store.lock():
        # re-read: a tag may have moved since the caller resolved the record
        current = store.get(record.id)
        if current is not None:
            store.add_repo_digest(current, ref.name, pushed)
            store.save(current)
            record.repo_digests = current.repo_digests
    return pushed


def _push_blob(
    client: RegistryClient,
    store: ImageStore,
    repo: str,
    blob: _Blob,
    candidates: list[str],
    chunk_size: int | None,
    report: Progress,
) -> None:
    pid = blob.progress_id
    if client.blob_exists(repo, blob.digest):
        if pid:
            report(PullProgress(pid, "Layer already exists", blob.size, blob.size))
        return
    for source in candidates:
        if client.mount_blob(repo, blob.digest, source):
            if pid:
                report(PullProgress(pid, f"Mounted from {source}", blob.size, blob.size))
            return
    path = store.blob_path(blob.digest)
    size = path.stat().st_size
    with open(path, "rb") as src:
        client.upload_blob(
            repo,
            blob.digest,
            src,
            size,
            chunk_size=chunk_size,
            progress=(lambda n: report(PullProgress(pid, "Pushing", n, size))) if pid else None,
        )
    if pid:
        report(PullProgress(pid, "Pushed", size, size))


__all__ = ["DEFAULT_UPLOAD_WORKERS", "mount_candidates", "push", "stored_manifest"]
