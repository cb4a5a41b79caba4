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
from core.record import field, record
from core.storage.layers import LayerStore


@record
class ImageUsers:
    """Who holds images and layers, for docker's removal rules: image id -> ids of the containers made from
    it (and of the running ones), and the layers containers sit on (kept while a container exists, even
    after its image was removed with ``rmi -f``, as dockerd's layer references do)."""

    containers: dict[str, list[str]] = field(default_factory=dict)
    running: dict[str, list[str]] = field(default_factory=dict)
    layers: set[str] = field(default_factory=set)


def _delete_image(
    store: ImageStore,
    layers: LayerStore,
    record: ImageRecord,
    out: RemovedImage,
    keep: set[str] | None = None,
) -> int:
    """Drop the record, then every layer and blob no other image (and no container: ``keep``) names;
    returns the bytes freed. Hold the images lock."""
    freed = 0
    store.delete_record(record)
    out.deleted.append(record.id)
    out.images.append(record.id)
    used_layers = store.chain_ids_in_use() | (keep or set())
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
    store: ImageStore, layers: LayerStore, name: str, *, force: bool, users: ImageUsers
) -> RemovedImage:
    """``docker rmi`` with dockerd's rules (daemon/images/image_delete.go).

    A tag untags; when it was the image's last reference the image is deleted, unless a container uses it
    and -f was not given (-f deletes it even then: the container keeps its layers). An id deletes the image
    after untagging it if it has at most one tag; more tags, or a stopped container using it, need -f; a
    running container or child images refuse even -f. A deleted image's parents (a build's intermediate
    images) go too while nothing else holds them.
    """
    from core.images.commit import get_parent

    out = RemovedImage()
    with store.lock():
        record = store.resolve(name)
        stripped = name.strip()
        by_id = stripped.startswith("sha256:") or record.hex.startswith(stripped)
        quiet = False
        if not by_id:
            ref = parse_reference(stripped)
            given = str(ref)
            if not force and _single_reference(record):
                holders = users.containers.get(record.id, [])
                if holders:
                    raise Conflict(
                        f'conflict: unable to remove repository reference "{stripped}" (must force) - '
                        f"container {holders[0][:12]} is using its referenced image {record.hex[:12]}"
                    )
            if given in record.repo_tags:
                record.repo_tags.remove(given)
                out.untagged.append(given)
            elif given in record.repo_digests:
                record.repo_digests.remove(given)
                out.untagged.append(given)
            # the last tag of a repository takes that repository's digest references with it; they stay on
            # the record until it is deleted (the blobs of every form it was pulled in are reached by them)
            kept = [d for d in record.repo_digests if _repo(d) != _repo(given)]
            if record.repo_tags or kept:
                store.save(record)
                return out
            out.untagged.extend(record.repo_digests)
            store.save(record)  # untagged even if what follows finds the image still held
            quiet = True
        elif _single_reference(record):
            out.untagged.extend([*record.repo_tags, *record.repo_digests])
            record.repo_tags = []
        _delete_helper(store, layers, record, out, users, force=force, quiet=quiet, parent_of=get_parent)
        return out


def _single_reference(record: ImageRecord) -> bool:
    """dockerd's isSingleReference: at most one tag, and every reference in one repository (a tag and the
    digests of its repository count as one)."""
    refs = [*record.repo_tags, *record.repo_digests]
    if len(refs) <= 1:
        return len(refs) == 1
    if len(record.repo_tags) > 1:
        return False
    digest_repos = {_repo(d) for d in record.repo_digests}
    single = _repo(record.repo_tags[0]) if record.repo_tags else _repo(record.repo_digests[0])
    return digest_repos == {single}


def _repo(reference: str) -> str:
    try:
        return parse_reference(reference).name
    except ValueError:
        return reference


def _delete_helper(
    store: ImageStore,
    layers: LayerStore,
    record: ImageRecord,
    out: RemovedImage,
    users: ImageUsers,
    *,
    force: bool,
    quiet: bool,
    parent_of: Callable[[ImageStore, str], str | None],
) -> None:
    """dockerd's imageDeleteHelper: refuse on a conflict (children or a running container always; other
    references or a stopped container unless ``force``), else delete the image and then, quietly, its
    parent. ``quiet``: a conflict ends the removal without an error (the untag already did something)."""
    conflict: tuple[bool, bool, str] | None = None  # (hard, used, what)
    children = [c for c in store.records() if c.id != record.id and parent_of(store, c.id) == record.id]
    running = users.running.get(record.id, [])
    stopped = [c for c in users.containers.get(record.id, []) if c not in running]
    if children:
        conflict = (True, False, "image has dependent child images")
    elif running:
        conflict = (True, True, f"image is being used by running container {running[0][:12]}")
    elif not force and record.repo_tags:
        conflict = (False, False, "image is referenced in multiple repositories")
    elif not force and stopped:
        conflict = (False, True, f"image is being used by stopped container {stopped[0][:12]}")
    if conflict is not None:
        hard, used, what = conflict
        dangling = not (record.repo_tags or children)
        if quiet and (not dangling or used):
            return
        forced = "cannot be forced" if hard else "must be forced"
        raise Conflict(f"conflict: unable to delete {record.hex[:12]} ({forced}) - {what}")
    parent = parent_of(store, record.id)
    out.untagged.extend(t for t in [*record.repo_tags, *record.repo_digests] if t not in out.untagged)
    _delete_image(store, layers, record, out, users.layers)
    if parent:
        parent_record = store.get(parent)
        if parent_record is not None:
            _delete_helper(
                store, layers, parent_record, out, users, force=False, quiet=True, parent_of=parent_of
            )


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
