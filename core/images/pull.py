"""Pull: manifest (or index and platform), config, then every layer downloaded and unpacked at once.

Each layer streams from the registry through a tee that hashes the compressed bytes and writes them to a
temp blob, into the decompressor, into the safe extractor — download and unpacking overlap, and a dropped
connection is resumed with ``Range`` underneath. Every digest is checked: the manifest's, the config's, each
compressed blob's, and each uncompressed layer against the config's ``diff_ids``. On any mismatch the
temp files and half layers go and no record is written.

Pulls in other processes (or threads) share the work through flocks under ``<run>/locks``:

  fetch-<blob hex>        exclusive while one pull downloads (and unpacks) that blob; a second pull of the
                          same blob waits on it, then finds the blob and the layer in place and uses them
  pull-blob-<hex>,        the claims of :mod:`core.images.claims`, shared by every writer in progress that
  pull-layer-<chain hex>  counts on that blob or layer, from before it looks for it until its image record is
                          written. A failed pull removes what it added only if it can take that lock
                          exclusively (never waiting): what another writer counts on stays, so a failure
                          cannot pull a layer from under a sibling's finished record.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from core.config import Config
from core.errors import (
    DigestMismatch,
    ImageNotFound,
    RegistryError,
    StorageError,
    UnsafeLayer,
    UnsupportedMediaType,
)
from core.images.claims import Claims, blob_claim, drop_unused, layer_claim
from core.images.reference import Reference, parse_platform, platform_matches
from core.images.registry import (
    INDEX_TYPES,
    MANIFEST_TYPES,
    Manifest,
    RegistryClient,
    sha256_digest,
)
from core.images.store import ImageRecord, ImageStore, LayerRef
from core.models import PullProgress
from core.record import record
from core.state.ids import digest_hex
from core.state.locks import FileLock
from core.state.records import TEMP_PREFIX, sweep_temp, temp_name
from core.storage.layers import LayerStore

LAYER_TYPES = {
    "application/vnd.oci.image.layer.v1.tar",
    "application/vnd.oci.image.layer.v1.tar+gzip",
    "application/vnd.oci.image.layer.v1.tar+zstd",
    "application/vnd.docker.image.rootfs.diff.tar",
    "application/vnd.docker.image.rootfs.diff.tar.gzip",
    "application/vnd.docker.image.rootfs.diff.tar.zstd",
}
CONFIG_TYPES = {"application/vnd.oci.image.config.v1+json", "application/vnd.docker.container.image.v1+json"}

Progress = Callable[[PullProgress], None]


@record(frozen=True)
class PulledImage:
    record: ImageRecord
    manifest_digest: str  # the digest that names what was pulled (index digest for a multi-platform image)
    new: bool


class _Readable(Protocol):
    def read1(self, n: int = -1, /) -> bytes: ...


# progress is reported (and a cancel heard: the callback raises) at least this often while bytes arrive
REPORT_EVERY = 0.1


class _Tee:
    """Read-through wrapper: hashes and stores the compressed bytes and reports progress.

    It reads the network's pieces as they come (``read1``), so progress, and a cancel raised from the
    callback, keep the network's pace however much the consumer asks for at once (the decompressor's
    read-ahead asks a megabyte at a time). It also refuses a body longer than the manifest declared, so a
    hostile registry cannot fill the disk.
    """

    def __init__(self, src: _Readable, sink: BinaryIO, size: int, report: Callable[[int], None]) -> None:
        self.src, self.sink, self.size, self.report = src, sink, size, report
        self.hash = hashlib.sha256()
        self.count = 0
        self._reported_at = 0.0
        self._reported = 0  # the count last told

    def read(self, n: int = -1) -> bytes:
        want = n if n is not None and n >= 0 else 1 << 62
        parts: list[bytes] = []
        got = 0
        while got < want:
            data = self.src.read1(min(want - got, 1 << 20))
            if not data:
                break
            self.count += len(data)
            if self.count > self.size:
                raise DigestMismatch(f"layer is larger than the {self.size} bytes its manifest declares")
            self.hash.update(data)
            self.sink.write(data)
            parts.append(data)
            got += len(data)
            if time.monotonic() - self._reported_at >= REPORT_EVERY:
                self._tell()
        if self.count != self._reported:
            self._tell()  # where this read ended is always told
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def _tell(self) -> None:
        self._reported, self._reported_at = self.count, time.monotonic()
        self.report(self.count)

    def readable(self) -> bool:
        return True

    def drain(self) -> None:
        while self.read(1024 * 1024):
            pass

    @property
    def digest(self) -> str:
        return "sha256:" + self.hash.hexdigest()


def _fetch_lock(locks: Path, digest: str) -> FileLock:
    return FileLock(locks, f"fetch-{digest_hex(digest)}")


def select_manifest(client: RegistryClient, repo: str, top: Manifest, platform: str) -> Manifest:
    """From an index, the manifest for ``platform``; a plain manifest is returned as is."""
    if top.media_type in MANIFEST_TYPES:
        return top
    if top.media_type not in INDEX_TYPES:
        raise UnsupportedMediaType(f"unsupported manifest type {top.media_type!r} for {repo}")
    wanted = parse_platform(platform)
    entries = top.json().get("manifests") or []
    for entry in entries:
        if entry.get("mediaType", MANIFEST_TYPES[0]) in MANIFEST_TYPES and platform_matches(
            wanted, entry.get("platform") or {}
        ):
            chosen = client.get_manifest(repo, entry["digest"])
            if chosen.media_type not in MANIFEST_TYPES:
                raise UnsupportedMediaType(f"index entry {entry['digest']} is not an image manifest")
            return chosen
    have = ", ".join(
        "/".join(x for x in (p.get("os"), p.get("architecture"), p.get("variant")) if x)
        for p in (e.get("platform") or {} for e in entries)
    )
    raise ImageNotFound(
        f"no matching manifest for {platform} in the manifest list entries (has: {have or 'none'})"
    )


class Puller:
    def __init__(self, config: Config, store: ImageStore, layers: LayerStore) -> None:
        self.config = config
        self.store = store
        self.layers = layers
        self.paths = config.paths

    def pull(
        self,
        client: RegistryClient,
        ref: Reference,
        *,
        platform: str | None = None,
        progress: Progress | None = None,
    ) -> PulledImage:
        report = progress or (lambda _p: None)
        explicit_platform = platform is not None
        platform = platform or self.config.platform
        for d in (self.paths.blobs, self.paths.layers, self.paths.tmp, self.paths.images):
            d.mkdir(parents=True, exist_ok=True)
        # whatever a killed pull left behind goes first
        sweep_temp(self.paths.blobs)
        sweep_temp(self.paths.tmp)
        self.layers.sweep()

        repo = ref.path
        top = client.get_manifest(repo, ref.digest or ref.tag or "latest")
        if ref.digest and top.digest != ref.digest:
            raise DigestMismatch(f"registry sent manifest {top.digest} for {ref}")
        manifest = select_manifest(client, repo, top, platform)
        mobj = manifest.json()
        cfg_desc = mobj.get("config") or {}
        layer_descs: list[dict[str, Any]] = mobj.get("layers") or []
        if cfg_desc.get("mediaType") not in CONFIG_TYPES:
            raise UnsupportedMediaType(
                f"{ref} is not a container image (config type {cfg_desc.get('mediaType')!r})"
            )
        for desc in layer_descs:
            if desc.get("mediaType") not in LAYER_TYPES:
                raise UnsupportedMediaType(f"{ref} has a layer of unsupported type {desc.get('mediaType')!r}")
        config_digest = cfg_desc["digest"]
        report(PullProgress("", "Pulling from", message=f"{ref.path}"))
        claims = Claims(self.paths.locks)
        added: list[tuple[LayerRef, bool, bool]] = []  # (layer, layer dir was new, blob was new)
        config_new = False
        # the small blobs this pull would add (a failure takes them away again)
        had_small = {d for d in (manifest.digest, top.digest) if self.store.has_blob(d)}
        try:
            claims.hold([blob_claim(d) for d in dict.fromkeys((config_digest, manifest.digest, top.digest))])
            config_bytes, config_new = self._config_blob(client, repo, config_digest)
            config_obj = json.loads(config_bytes)
            diff_ids: list[str] = list((config_obj.get("rootfs") or {}).get("diff_ids") or [])
            if len(diff_ids) != len(layer_descs):
                raise DigestMismatch(
                    f"{ref}: the manifest lists {len(layer_descs)} layers but the config "
                    f"{len(diff_ids)} diff ids"
                )
            # like docker: a single-platform image of another platform is fine by default (it may run
            # under emulation), but not when the user asked for a platform by name
            if (
                not ref.digest
                and not platform_matches(parse_platform(platform), config_obj)
                and (top.media_type in INDEX_TYPES or explicit_platform)
            ):
                actual = "/".join(
                    str(config_obj.get(k)) for k in ("os", "architecture", "variant") if config_obj.get(k)
                )
                raise ImageNotFound(
                    f"image {ref} was found but does not match the specified platform: "
                    f"wanted {platform}, actual: {actual or 'unknown'}"
                )

            chain: list[LayerRef] = []
            parent: str | None = None
            for desc, diff_id in zip(layer_descs, diff_ids, strict=True):
                cid = self.layers.chain_id(parent, diff_id)
                chain.append(
                    LayerRef(desc["digest"], desc["mediaType"], int(desc.get("size", 0)), diff_id, cid)
                )
                parent = cid
            claims.hold(
                [blob_claim(layer.digest) for layer in chain]
                + [layer_claim(layer.chain_id) for layer in chain]
            )

            new = self._fetch_layers(client, repo, chain, report, claims, added)

            record, new = self._record(ref, top, manifest, config_digest, config_obj, chain, new)
        except BaseException as err:
            # what this pull added goes (layers nothing names would be invisible to `system df` and to every
            # prune), except what an image record names or another pull in progress counts on
            self._drop_unused(
                claims,
                layers=[layer.chain_id for layer, new_dir, _ in added if new_dir],
                blobs=[layer.digest for layer, _, new_blob in added if new_blob]
                + ([config_digest] if config_new else [])
                + [d for d in dict.fromkeys((manifest.digest, top.digest)) if d not in had_small],
            )
            if isinstance(err, OSError):
                reason = err.strerror or str(err)
                raise StorageError(
                    f"cannot store image {ref}: {reason[:1].lower() + reason[1:]}"
                    f"{f' ({err.filename})' if err.filename else ''}; nothing of it was kept"
                ) from err
            raise
        finally:
            claims.release()
        return PulledImage(record=record, manifest_digest=top.digest, new=new)

    def _record(
        self,
        ref: Reference,
        top: Manifest,
        manifest: Manifest,
        config_digest: str,
        config_obj: dict[str, Any],
        chain: list[LayerRef],
        new: bool,
    ) -> tuple[ImageRecord, bool]:
        """The manifests and the image record, once every layer and the config are in place; (record, new)."""
        self._put_blob(manifest.digest, manifest.data)
        if top.digest != manifest.digest:
            self._put_blob(top.digest, top.data)
        size = sum(self.layers.size(layer.chain_id) for layer in chain)
        os_arch = "/".join(
            x for x in (config_obj.get("os"), config_obj.get("architecture"), config_obj.get("variant")) if x
        )
        with self.store.lock():
            record = self.store.get(config_digest) or ImageRecord(
                id=config_digest,
                config_digest=config_digest,
                manifest_digest=manifest.digest,
                manifest_media_type=manifest.media_type,
                layers=chain,
                created=config_obj.get("created", ""),
                size=size,
                platform=os_arch,
            )
            new = new or not record.repo_digests
            # the record describes the manifest last pulled; its layers are the blobs that manifest names
            record.manifest_digest = manifest.digest
            record.manifest_media_type = manifest.media_type
            record.layers = chain
            self.store.add_repo_digest(record, ref.name, top.digest)
            if ref.tag and not ref.digest:
                self.store.add_tag(record, ref)
            else:
                self.store.save(record)
        return record, new

    def _config_blob(self, client: RegistryClient, repo: str, digest: str) -> tuple[bytes, bool]:
        """The image config, from the store or fetched once and stored at once (so that a concurrent
        pull of the same image finds it): (bytes, whether this pull stored it)."""
        lock = _fetch_lock(self.paths.locks, digest)
        lock.acquire()
        try:
            if self.store.has_blob(digest):
                data, new = self.store.read_blob(digest), False
            else:
                data, new = client.get_blob_bytes(repo, digest), True
            if sha256_digest(data) != digest:
                raise DigestMismatch(f"config {digest} does not match its digest")
            if new:
                self._put_blob(digest, data)
            return data, new
        finally:
            lock.release(remove=True)

    def _put_blob(self, digest: str, data: bytes) -> None:
        path = self.store.blob_path(digest)
        if path.exists():
            return
        from core.state.records import write_bytes

        write_bytes(path, data)

    def _fetch_layers(
        self,
        client: RegistryClient,
        repo: str,
        chain: list[LayerRef],
        report: Progress,
        claims: Claims,
        added: list[tuple[LayerRef, bool, bool]],
    ) -> bool:
        """Download and unpack what is missing; ``added`` collects what this pull put in the store."""
        todo: list[tuple[LayerRef, str | None]] = []
        for i, layer in enumerate(chain):
            short = layer.digest.removeprefix("sha256:")[:12]
            if self.layers.exists(layer.chain_id) and self.store.has_blob(layer.digest):
                report(PullProgress(short, "Already exists", layer.size, layer.size))
            else:
                report(PullProgress(short, "Pulling fs layer", 0, layer.size))
                todo.append((layer, chain[i - 1].chain_id if i else None))
        if not todo:
            return False
        errors: list[BaseException] = []
        cancel = threading.Event()

        def work(item: tuple[LayerRef, str | None]) -> None:
            if cancel.is_set():
                return
            try:
                got = self._fetch_layer(client, repo, item[0], item[1], report, claims)
                if got is not None:
                    added.append((item[0], *got))
            except BaseException as err:
                cancel.set()
                errors.append(err)

        workers = max(1, min(self.config.max_concurrent_downloads, len(todo)))
        if workers == 1:
            for item in todo:
                work(item)
        else:
            # not at the top: ~9 ms that a pull of a present (or one-layer) image does not need
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="pull") as pool:
                list(pool.map(work, todo))
        if errors:
            raise errors[0]
        return True

    def _drop_unused(self, claims: Claims, *, layers: list[str], blobs: list[str]) -> None:
        """A failed pull keeps nothing it added (docker releases them the same way), except what an image
        record names or another writer in progress counts on."""
        drop_unused(self.store, self.layers, claims, layer_ids=layers, blobs=blobs)

    def _fetch_layer(
        self,
        client: RegistryClient,
        repo: str,
        layer: LayerRef,
        parent: str | None,
        report: Progress,
        claims: Claims,
    ) -> tuple[bool, bool] | None:
        """Fetch one layer under its blob's fetch lock: (layer dir was new, blob was new), or None when
        another pull brought both while this one waited."""
        short = layer.digest.removeprefix("sha256:")[:12]
        lock = _fetch_lock(self.paths.locks, layer.digest)
        if not lock.acquire(blocking=False):
            report(PullProgress(short, "Waiting", 0, layer.size))
            lock.acquire()
        try:
            new_dir = not self.layers.exists(layer.chain_id)
            new_blob = not self.store.has_blob(layer.digest)
            if not (new_dir or new_blob):
                report(PullProgress(short, "Already exists", layer.size, layer.size))
                return None
            self._download_layer(client, repo, layer, parent, report, claims)
            return new_dir, new_blob
        finally:
            lock.release(remove=True)

    def _download_layer(
        self,
        client: RegistryClient,
        repo: str,
        layer: LayerRef,
        parent: str | None,
        report: Progress,
        claims: Claims,
    ) -> None:
        short = layer.digest.removeprefix("sha256:")[:12]
        final = self.store.blob_path(layer.digest)
        tmp = temp_name(final)
        created_layer = False

        def retrying(n: int, delay: float, why: str) -> None:
            report(PullProgress(short, f"Retrying in {delay:g} s", 0, layer.size, message=why))

        try:
            with (
                client.open_blob(repo, layer.digest, on_retry=retrying) as reader,
                open(tmp, "wb") as sink,
            ):
                tee = _Tee(
                    reader,
                    sink,
                    layer.size or (1 << 62),
                    lambda n: report(PullProgress(short, "Downloading", n, layer.size)),
                )
                if self.layers.exists(layer.chain_id):
                    tee.drain()
                else:
                    try:
                        self.layers.unpack(layer.chain_id, parent, layer.diff_id, tee)  # type: ignore[arg-type]
                    except (UnsafeLayer, DigestMismatch) as err:
                        _blame_download(tee, layer, err)
                        raise
                    created_layer = True
                    tee.drain()  # what follows the tar's end: the compression trailer, padding
                sink.flush()
                os.fsync(sink.fileno())
            if tee.digest != layer.digest:
                raise DigestMismatch(
                    f"layer {layer.digest} hashes to {tee.digest}: the registry sent "
                    "corrupt data; nothing was kept"
                )
            if layer.size and tee.count != layer.size:
                raise DigestMismatch(
                    f"layer {layer.digest} is {tee.count} bytes, the manifest says {layer.size}"
                )
            os.rename(tmp, final)
            report(PullProgress(short, "Pull complete", layer.size, layer.size))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            if created_layer:
                self._drop_unused(claims, layers=[layer.chain_id], blobs=[])
            raise


def _blame_download(tee: _Tee, layer: LayerRef, err: Exception) -> None:
    """A damaged download breaks the decompressor or the tar (or the diff id) before the blob's own digest
    can be checked: read the rest (bounded by the declared size) and, if the blob does not hash to its
    digest, say so — the registry or the network is at fault, not the image."""
    try:
        tee.drain()
    except DigestMismatch:
        raise
    except Exception:
        return  # cannot tell: keep the original error
    if tee.digest != layer.digest:
        raise DigestMismatch(
            f"layer {layer.digest} hashes to {tee.digest}: the registry sent corrupt data; nothing was kept"
        ) from err


def check_temp_clean(root: Path) -> list[Path]:
    """Temp entries anywhere under the store (tests and ``system check`` use it)."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            if name.startswith(TEMP_PREFIX):
                found.append(Path(dirpath) / name)
    return found


__all__ = ["PulledImage", "Puller", "RegistryError", "check_temp_clean", "select_manifest"]
