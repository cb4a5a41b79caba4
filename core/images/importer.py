"""``export`` (a container's filesystem as a tar) and ``import`` (a tar as a one-layer image).

Export tars the union of the container's writable layer and its image's layers with overlay's rules
(:class:`core.storage.diff.LayerUnion`), read straight from the layer directories: no mount is needed, so a
stopped container (whose rootfs is not mounted anywhere) exports the same way as a running one.

Import takes a tar stream — plain, gzip, zstd, bzip2 or xz, told by its first bytes — and makes it the single
layer of a new image through :func:`core.images.commit.new_layer`: the tar is stored as given (its DiffID is
the hash of exactly those bytes) and unpacked with the same safe extractor as a pulled layer. ``--change``
instructions set the config, as ``docker import -c`` does.
"""

from __future__ import annotations

import bz2
import lzma
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, BinaryIO

from core.errors import InvalidArgument
from core.images.claims import Claims, drop_unused
from core.images.commit import (
    apply_changes,
    base_config,
    check_changes,
    new_layer,
    write_image,
)
from core.images.reference import parse_reference
from core.images.store import ImageRecord, ImageStore
from core.storage import compression
from core.storage.diff import DiffStats, LayerUnion
from core.storage.layers import LayerStore
from core.timestamps import now_rfc3339

if TYPE_CHECKING:
    from core.containers.lifecycle import Lifecycle

CHUNK = 1 << 20


def export_container(lifecycle: Lifecycle, layers: LayerStore, name: str, out: Any) -> DiffStats:
    rec = lifecycle.get(name)
    dirs = [lifecycle.paths.container(rec.id) / "upper", *(layers.diff_dir(c) for c in reversed(rec.layers))]
    return LayerUnion(dirs).write_tar(out)


class _Prefixed:
    """``head`` then the rest of ``src``: the bytes read to tell the compression are not lost."""

    def __init__(self, head: bytes, src: BinaryIO) -> None:
        self.head = head
        self.src = src

    def read(self, n: int = -1) -> bytes:
        if self.head:
            if n < 0:
                data, self.head = self.head + self.src.read(), b""
                return data
            data, self.head = self.head[:n], self.head[n:]
            return data
        return self.src.read(n)

    def readable(self) -> bool:
        return True


def open_any(src: BinaryIO) -> Any:
    """``src`` decompressed: gzip and zstd through the layer decompressor, bzip2 and xz through Python's."""
    head = b""
    while len(head) < 6:
        chunk = src.read(6 - len(head))
        if not chunk:
            break
        head += chunk
    stream = _Prefixed(head, src)
    if head.startswith(b"BZh"):
        return bz2.BZ2File(stream)  # type: ignore[call-overload]
    if head.startswith(b"\xfd7zXZ\x00"):
        return lzma.LZMAFile(stream)  # type: ignore[arg-type]
    return compression.open_decompressed(stream)  # type: ignore[arg-type]


def import_image(
    images: ImageStore,
    layers: LayerStore,
    src: BinaryIO,
    *,
    platform: str,
    reference: str | None = None,
    message: str = "",
    changes: Sequence[str] = (),
    source_name: str = "-",
) -> ImageRecord:
    tags = []
    if reference:
        ref = parse_reference(reference)
        if ref.digest:
            raise InvalidArgument(f"refusing to create a tag with a digest reference: {reference}")
        tags.append(ref.name_only().with_tag(ref.tag or "latest"))
    check_changes(changes)
    cfg = base_config(platform)
    apply_changes(cfg, changes)
    stream = open_any(src)

    def copy(out: Any) -> int:
        total = 0
        while True:
            data = stream.read(CHUNK)
            if not data:
                return total
            out.write(data)
            total += len(data)

    with Claims(images.paths.locks) as claims:  # until the record names the layer (core.images.claims)
        layer, size = new_layer(images, layers, None, copy, claims=claims)
        assert layer is not None
        try:
            if size == 0:
                raise InvalidArgument("the import source is empty: expected a tar archive")
            created = now_rfc3339()
            cfg["created"] = created
            cfg["history"] = [{"created": created, "comment": message or f"Imported from {source_name}"}]
            return write_image(images, layers, cfg, [layer], tags=tags, claims=claims)
        except BaseException:
            drop_unused(images, layers, claims, layer_ids=[layer.chain_id], blobs=[layer.digest])
            raise


__all__ = ["export_container", "import_image", "open_any"]
