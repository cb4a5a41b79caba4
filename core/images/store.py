"""Image records and tags: ``images/<image-id>.json``, the blobs they name, and name lookup.

The image id is the sha256 of the image config, as docker's. A record holds the config and manifest digests,
the layer chain (compressed digest, diff id, chain id of each layer), the repo tags and repo digests.
Tags live only in the records; moving a tag rewrites the two records involved under the ``images`` lock.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

from core.config import Paths
from core.errors import Conflict, ImageNotFound, InvalidReference
from core.images.reference import Reference, parse_reference
from core.record import asdict, field, record
from core.state.ids import digest_hex
from core.state.locks import FileLock
from core.state.records import read_json, record_ids, write_json

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~2 ms of a start)
if TYPE_CHECKING:
    from typing import Any


@record
class LayerRef:
    digest: str  # compressed blob digest, as in the manifest
    media_type: str
    size: int  # compressed size
    diff_id: str  # sha256 of the uncompressed tar
    chain_id: str  # hex, the key of layers/<chain-id>


@record
class ImageRecord:
    id: str  # "sha256:<hex>" of the config blob
    config_digest: str
    manifest_digest: str
    manifest_media_type: str
    layers: list[LayerRef]
    repo_tags: list[str] = field(default_factory=list)
    repo_digests: list[str] = field(default_factory=list)
    created: str = ""
    size: int = 0  # unpacked bytes of all layers
    platform: str = ""

    @property
    def hex(self) -> str:
        return digest_hex(self.id)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ImageRecord:
        layers = [LayerRef(**layer) for layer in data.get("layers", [])]
        return cls(**{**data, "layers": layers})


class ImageStore:
    def __init__(self, paths: Paths) -> None:
        self.paths = paths

    def lock(self) -> FileLock:
        return FileLock(self.paths.locks, "images")

    # ---------------------------------------------------------------- blobs

    def blob_path(self, digest: str) -> Path:
        return self.paths.blob(digest_hex(digest))

    def has_blob(self, digest: str) -> bool:
        return self.blob_path(digest).is_file()

    def read_blob(self, digest: str) -> bytes:
        try:
            return self.blob_path(digest).read_bytes()
        except FileNotFoundError:
            raise ImageNotFound(f"blob {digest} is missing from the store; pull the image again")

    # -------------------------------------------------------------- records

    def records(self) -> Iterator[ImageRecord]:
        for image_id in record_ids(self.paths.images):
            try:
                yield ImageRecord.from_json(read_json(self.paths.image(image_id)))
            except FileNotFoundError:
                continue  # removed while we listed

    def get(self, image_id: str) -> ImageRecord | None:
        try:
            return ImageRecord.from_json(read_json(self.paths.image(digest_hex(image_id))))
        except FileNotFoundError:
            return None

    def save(self, record: ImageRecord) -> None:
        write_json(self.paths.image(record.hex), record.to_json())

    def delete_record(self, record: ImageRecord) -> None:
        try:
            os.unlink(self.paths.image(record.hex))
        except FileNotFoundError:
            pass

    # --------------------------------------------------------------- lookup

    def resolve(self, name: str) -> ImageRecord:
        """Find an image by reference (``busybox``, ``host/x:tag``, ``x@sha256:...``), full id or id prefix
        (at least one hex digit, like docker)."""
        found = self.lookup(name)
        if found is None:
            raise ImageNotFound(f"No such image: {name}")
        return found

    def lookup(self, name: str) -> ImageRecord | None:
        text = name.strip()
        if not text:
            raise InvalidReference("invalid reference format: empty image name")
        bare = text.removeprefix("sha256:")
        records = list(self.records())
        if text.startswith("sha256:") or (all(c in "0123456789abcdef" for c in bare) and len(bare) <= 64):
            matches = [r for r in records if r.hex.startswith(bare)]
            if len(matches) == 1:
                return matches[0]
            if len(matches) > 1 and len(bare) < 64:
                raise Conflict(f"image id prefix {bare!r} is ambiguous: {len(matches)} images match")
            if text.startswith("sha256:"):
                return None
        try:
            ref = parse_reference(text)
        except InvalidReference:
            if all(c in "0123456789abcdef" for c in bare):
                return None
            raise
        return self._by_reference(ref, records)

    @staticmethod
    def _by_reference(ref: Reference, records: list[ImageRecord]) -> ImageRecord | None:
        if ref.digest:
            wanted = f"{ref.name}@{ref.digest}"
            for r in records:
                if wanted in r.repo_digests or (
                    r.manifest_digest == ref.digest
                    and any(d.startswith(ref.name + "@") for d in r.repo_digests)
                ):
                    return r
            return None
        tag = str(ref)
        for r in records:
            if tag in r.repo_tags:
                return r
        return None

    # ----------------------------------------------------------------- tags

    def add_tag(self, record: ImageRecord, ref: Reference) -> None:
        """Point ``ref`` (name:tag) at ``record``, taking it from whichever image held it. Hold the lock."""
        tag = str(ref.name_only().with_tag(ref.tag or "latest"))
        for other in self.records():
            if other.id != record.id and tag in other.repo_tags:
                other.repo_tags.remove(tag)
                self.save(other)
        current = self.get(record.id) or record
        if tag not in current.repo_tags:
            current.repo_tags.append(tag)
        record.repo_tags = current.repo_tags
        self.save(record)

    def add_repo_digest(self, record: ImageRecord, name: str, digest: str) -> None:
        entry = f"{name}@{digest}"
        if entry not in record.repo_digests:
            record.repo_digests.append(entry)

    def chain_ids_in_use(self, exclude: str | None = None) -> set[str]:
        return {layer.chain_id for r in self.records() if r.id != exclude for layer in r.layers}

    def blobs_of(self, record: ImageRecord) -> set[str]:
        """Every stored blob the record reaches: its config, manifest and layers, and also what the
        manifests its repo digests name hold. Pulling the same image in another form (zstd after gzip,
        schema2 after OCI) keeps one record whose ``layers`` describe the last manifest only; the blobs of
        the earlier manifests are reached through its repo digests, or they would leak on removal."""
        names = {record.config_digest, record.manifest_digest, *(layer.digest for layer in record.layers)}
        todo = [record.manifest_digest, *(d.rpartition("@")[2] for d in record.repo_digests)]
        seen: set[str] = set()
        while todo:
            digest = todo.pop()
            if digest in seen:
                continue
            seen.add(digest)
            names.add(digest)
            try:
                obj = json.loads(self.read_blob(digest))
            except (ImageNotFound, ValueError):
                continue  # not stored (an index's other platforms) or not JSON
            if not isinstance(obj, dict):
                continue
            for desc in [obj.get("config"), *(obj.get("layers") or [])]:
                if isinstance(desc, dict) and isinstance(desc.get("digest"), str):
                    names.add(desc["digest"])
            todo += [m["digest"] for m in obj.get("manifests") or [] if isinstance(m, dict) and "digest" in m]
        return names

    def blobs_in_use(self, exclude: str | None = None) -> set[str]:
        used: set[str] = set()
        for r in self.records():
            if r.id != exclude:
                used |= self.blobs_of(r)
        return used
