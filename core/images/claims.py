"""Claims on blobs and layers that are not yet named by an image record.

Every writer of the image store (pull, load, build, commit, import) holds a *shared* flock under
``<run>/locks`` on each blob and layer it counts on, from before it looks for that thing until the image
record that names it is written (or the writer gives up):

  pull-blob-<hex>         a blob (a layer's compressed form, a config, a manifest)
  pull-layer-<chain hex>  an unpacked layer

(the names date from when only pulls held them). A blob or layer that no image record names is an *orphan*:
what a writer killed between its layer and its record left. Whoever wants to delete one (a failed writer
cleaning up, ``image prune``, ``system prune``) takes its claim *exclusively without waiting*: if it cannot,
a writer in progress counts on it and it stays. The removal runs under the ``images`` lock, and a writer
saves its record under that lock before letting its claims go, so a remover sees either the record or the
claim — never neither. The last holder of a claim deletes its lock file.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import TracebackType

from core.state.ids import HEX64, digest_hex
from core.state.locks import FileLock, held, remove_unheld

TYPE_CHECKING = False
if TYPE_CHECKING:
    from core.images.store import ImageStore
    from core.storage.layers import LayerStore


def _key(digest: str) -> str:
    """The hex of a digest or chain id, for comparing (records hold ``sha256:<hex>``)."""
    return digest.removeprefix("sha256:")


def blob_claim(digest: str) -> str:
    return f"pull-blob-{digest_hex(digest)}"


def layer_claim(chain_id: str) -> str:
    return f"pull-layer-{digest_hex(chain_id)}"


class Claims:
    """The shared claims one writer holds; thread-safe (a pull's workers give claims up when they fail)."""

    def __init__(self, locks: Path) -> None:
        self.locks = locks
        self._held: dict[str, FileLock] = {}
        self._mutex = threading.Lock()

    def hold(self, names: Iterable[str]) -> None:
        """Shared holds, in a fixed order; each waits only while a remover deletes that thing."""
        for name in sorted(set(names)):
            with self._mutex:
                if name in self._held:
                    continue
            lock = FileLock(self.locks, name, shared=True)
            lock.acquire()
            with self._mutex:
                self._held[name] = lock

    def hold_blobs(self, digests: Iterable[str]) -> None:
        self.hold(blob_claim(d) for d in digests)

    def hold_layers(self, chain_ids: Iterable[str]) -> None:
        self.hold(layer_claim(c) for c in chain_ids)

    def take(self, name: str) -> FileLock | None:
        """An exclusive hold on ``name`` if no other writer holds it; this writer's own hold is let go
        first. Never waits: a writer that failed must not wait on one that succeeds."""
        with self._mutex:
            mine = self._held.pop(name, None)
        if mine is not None:
            mine.release()
        return try_exclusive(self.locks, name)

    def release(self) -> None:
        with self._mutex:
            held_now, self._held = self._held, {}
        for name, lock in held_now.items():
            lock.release()
            remove_unheld(self.locks, name)  # the last one out: no lock file per blob forever

    def __enter__(self) -> Claims:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()


def try_exclusive(locks: Path, name: str) -> FileLock | None:
    lock = FileLock(locks, name)
    return lock if lock.acquire(blocking=False) else None


def drop_unused(
    store: ImageStore,
    layers: LayerStore,
    claims: Claims,
    *,
    layer_ids: Iterable[str] = (),
    blobs: Iterable[str] = (),
) -> None:
    """A failed writer keeps nothing it added, except what an image record names or another writer in
    progress counts on."""
    taken: list[tuple[FileLock, str, str]] = []
    try:
        for kind, names in (("layer", layer_ids), ("blob", blobs)):
            for name in dict.fromkeys(names):
                lock = claims.take(layer_claim(name) if kind == "layer" else blob_claim(name))
                if lock is not None:
                    taken.append((lock, kind, name))
        if not taken:
            return
        with store.lock():
            used_layers = {_key(c) for c in store.chain_ids_in_use()}
            used_blobs = {_key(b) for b in store.blobs_in_use()}
            for _, kind, name in taken:
                if kind == "layer" and _key(name) not in used_layers:
                    layers.remove(name)
                elif kind == "blob" and _key(name) not in used_blobs:
                    store.blob_path(name).unlink(missing_ok=True)
    finally:
        for lock, _, _ in taken:
            lock.release(remove=True)


# ------------------------------------------------------------------------------------------ orphans


def _stored_blobs(store: ImageStore) -> Iterator[str]:
    try:
        names = os.listdir(store.paths.blobs)
    except FileNotFoundError:
        return
    for name in names:
        if HEX64.match(name):
            yield f"sha256:{name}"


def orphans(
    store: ImageStore, layers: LayerStore, keep_layers: Iterable[str] = ()
) -> tuple[list[str], list[str]]:
    """(layers, blobs) that no image record names and no writer claims: what a killed writer left between
    its layers and its record. A probe only (it takes no lock for long and writes nothing); a claim taken
    right after it may make one of them not an orphan any more — :func:`prune_orphans` checks again."""
    used_layers = {_key(c) for c in store.chain_ids_in_use()} | {_key(c) for c in keep_layers}
    used_blobs = {_key(b) for b in store.blobs_in_use()}
    locks = store.paths.locks
    lost_layers = [
        c for c in layers.chain_ids() if _key(c) not in used_layers and not held(locks, layer_claim(c))
    ]
    lost_blobs = [
        b for b in _stored_blobs(store) if _key(b) not in used_blobs and not held(locks, blob_claim(b))
    ]
    return lost_layers, lost_blobs


def orphan_bytes(store: ImageStore, layers: LayerStore, keep_layers: Iterable[str] = ()) -> int:
    """What :func:`prune_orphans` would free now (``system df``)."""
    from core.storage.usage import entry_usage

    lost_layers, lost_blobs = orphans(store, layers, keep_layers)
    return sum(entry_usage(layers.diff_dir(c).parent) for c in lost_layers) + sum(
        entry_usage(store.blob_path(b)) for b in lost_blobs
    )


def prune_orphans(
    store: ImageStore, layers: LayerStore, keep_layers: Iterable[str] = ()
) -> tuple[list[str], int]:
    """Remove the orphans whose claim can be taken; returns (their ids, bytes freed). Hold the images lock
    (a writer saves its record under it before letting its claims go)."""
    from core.storage.usage import entry_usage

    keep = {_key(c) for c in keep_layers}
    used_layers = {_key(c) for c in store.chain_ids_in_use()} | keep
    locks = store.paths.locks
    removed: list[str] = []
    freed = 0
    for chain in layers.chain_ids():
        if _key(chain) in used_layers:
            continue
        lock = try_exclusive(locks, layer_claim(chain))
        if lock is None:
            continue  # a writer in progress counts on it
        try:
            size = entry_usage(layers.diff_dir(chain).parent)
            if layers.remove(chain):
                freed += size
                removed.append(chain)
        finally:
            lock.release(remove=True)
    used_blobs = {_key(b) for b in store.blobs_in_use()}
    for blob in _stored_blobs(store):
        if _key(blob) in used_blobs:
            continue
        lock = try_exclusive(locks, blob_claim(blob))
        if lock is None:
            continue
        try:
            path = store.blob_path(blob)
            size = entry_usage(path)
            try:
                os.unlink(path)
            except FileNotFoundError:
                continue
            freed += size
            removed.append(blob)
        finally:
            lock.release(remove=True)
    _sweep_lock_files(locks)
    return removed, freed


def _sweep_lock_files(locks: Path) -> None:
    """The claim and fetch lock files of killed writers (a live holder's stay: removal needs its lock)."""
    try:
        names = os.listdir(locks)
    except FileNotFoundError:
        return
    for name in names:
        if name.startswith(("pull-blob-", "pull-layer-", "fetch-")) and name.endswith(".lock"):
            remove_unheld(locks, name.removesuffix(".lock"))


__all__ = [
    "Claims",
    "blob_claim",
    "drop_unused",
    "layer_claim",
    "orphan_bytes",
    "orphans",
    "prune_orphans",
    "try_exclusive",
]
