"""The build cache: which image an instruction produced on a given parent.

A key is the sha256 of the parent image id, the instruction as it ran (after ARG/ENV substitution, with the
build args RUN sees) and, for COPY/ADD, the content hash of its sources. ``<root>/build-cache/keys/<key>``
holds the id of the image the step made. An entry is used only if that image and everything it names (its
layers, their blobs, its config and manifest) are still in the store: ``rmi`` or ``image prune`` of an
intermediate image simply turns its steps into misses.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from core.images.store import ImageRecord, ImageStore
from core.state.records import write_bytes
from core.storage.layers import LayerStore


class BuildCache:
    def __init__(self, images: ImageStore, layers: LayerStore) -> None:
        self.images = images
        self.layers = layers
        self.dir: Path = images.paths.root / "build-cache" / "keys"

    @staticmethod
    def key(parent: str, text: str, extra: str = "") -> str:
        h = hashlib.sha256()
        for part in (parent, text, extra):
            h.update(part.encode("utf-8", "surrogateescape") + b"\0")
        return h.hexdigest()

    def get(self, key: str) -> ImageRecord | None:
        try:
            image_id = (self.dir / key).read_text().strip()
        except (FileNotFoundError, NotADirectoryError):
            return None
        try:
            record = self.images.get(image_id)
        except ValueError:
            return None
        if record is None:
            return None
        for digest in (record.config_digest, record.manifest_digest, *(x.digest for x in record.layers)):
            if not self.images.has_blob(digest):
                return None
        if not all(self.layers.exists(x.chain_id) for x in record.layers):
            return None
        return record

    def put(self, key: str, image_id: str) -> None:
        write_bytes(self.dir / key, image_id.encode())


__all__ = ["BuildCache"]
