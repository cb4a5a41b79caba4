"""Removing, untagging and pruning images, with docker's rules for what may go."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator

from core.errors import Conflict, InvalidArgument
from core.images.claims import blob_claim, layer_claim, try_exclusive
from core.images.reference import parse_reference
from core.images.store import ImageRecord, ImageStore
from core.models import RemovedImage
from core.storage.layers import LayerStore


def _delete_image(store: ImageStore, layers: LayerStore, record: ImageRecord, out: RemovedImage) -> int:
    """Drop the record, then every layer and blob no other image names; returns the bytes freed.
    Hold the images lock."""
    freed = 0
    store.delete_record(record)
    out.deleted.append(record.id)
    out.images.append(record.id)
    used_layers = store.chain_ids_in_use()
    for layer in reversed(record.layers):
        if layer.chain_id not in used_layers and layers.exists(layer.chain_id):
            # a layer a writer in progress counts on (a build on this image, a pull that found it) stays,
            # as an orphan its writer's record names soon or a later prune takes (core.images.claims)
            with _unclaimed(store, layer_claim(layer.chain_id)) as free:
                if free:
                    freed += layers.size(layer.chain_id)
                    layers.remove(layer.chain_id)
                    out.deleted.append(layer.chain_id)
    names = store.blobs_of(record)  # read before the loop below unlinks the manifests it walks
    used_blobs = store.blobs_in_use()
    for digest in names - used_blobs:
        try:
            path = store.blob_path(digest)
            with _unclaimed(store, blob_claim(digest)) as free:
                if free:
                    size = path.stat().st_size
                    os.unlink(path)
                    freed += size
        except (FileNotFoundError, ValueError, InvalidArgument):
            pass
    return freed


@contextlib.contextmanager
def _unclaimed(store: ImageStore, name: str) -> Iterator[bool]:
    """An exclusive hold on a claim for as long as the block runs, if no writer holds it (never waits)."""
    lock = try_exclusive(store.paths.locks, name)
    try:
        yield lock is not None
    finally:
        if lock is not None:
            lock.release(remove=True)


def remove_image(
    store: ImageStore, layers: LayerStore, name: str, *, force: bool, in_use: dict[str, list[str]]
) -> RemovedImage:
    """``docker rmi``: a tag reference untags (and deletes when it was the last tag); an id deletes.

    ``in_use`` maps image id -> names of containers using it. Docker refuses to delete an image a container
    uses, even with -f for running ones; we refuse unless -f, and -f only untags while containers remain.
    """
    out = RemovedImage()
    with store.lock():
        record = store.resolve(name)
        users = in_use.get(record.id, [])
        by_tag = None
        stripped = name.strip()
        if not stripped.startswith("sha256:") and not record.hex.startswith(stripped):
            ref = parse_reference(stripped)
            if not ref.digest:
                by_tag = str(ref)
        if by_tag and len(record.repo_tags) > 1:
            record.repo_tags.remove(by_tag)
            store.save(record)
            out.untagged.append(by_tag)
            return out
        if not by_tag and len(record.repo_tags) > 1 and not force:
            raise Conflict(
                f"unable to delete {record.hex[:12]} (must be forced) - image is referenced in "
                "multiple repositories"
            )
        if users:
            if not force:
                raise Conflict(
                    f"unable to remove image {name}: it is used by container {users[0]}; "
                    "stop and remove the container first (or use -f to untag only)"
                )
            out.untagged.extend(record.repo_tags)
            record.repo_tags = []
            store.save(record)
            return out
        out.untagged.extend(record.repo_tags)
        out.untagged.extend(record.repo_digests)
        _delete_image(store, layers, record, out)
        return out


def prune_images(
    store: ImageStore,
    layers: LayerStore,
    *,
    all_unused: bool,
    in_use: dict[str, list[str]],
    keep_layers: set[str] | None = None,
    select: Callable[[ImageRecord], bool] | None = None,
) -> tuple[RemovedImage, int]:
    """``docker image prune``: dangling images (no tags), or with ``-a`` every image no container uses; and
    what interrupted writers left behind: partial blobs and half-unpacked layers of dead writers (never
    those a running pull is still writing), and finished layers and blobs that no image record names and
    no writer in progress claims (core.images.claims), except layers in ``keep_layers`` (a container's).
    ``select`` narrows which images go (a prune's filters). Returns the bytes reclaimed."""
    from core.images.claims import prune_orphans
    from core.state.records import remove_tree
    from core.storage.usage import entry_usage, image_leftovers

    out = RemovedImage()
    reclaimed = 0
    with store.lock():
        for record in list(store.records()):
            if record.id in in_use:
                continue
            if record.repo_tags and not all_unused:
                continue
            if select is not None and not select(record):
                continue
            out.untagged.extend(record.repo_tags)
            reclaimed += _delete_image(store, layers, record, out)
        for leftover in image_leftovers(store.paths):
            reclaimed += entry_usage(leftover)
            remove_tree(leftover)  # gone already (a pull starting now swept it first) is fine too
        orphans, freed = prune_orphans(store, layers, keep_layers or ())
        out.deleted.extend(orphans)
        reclaimed += freed
    return out, reclaimed
