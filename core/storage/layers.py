"""The unpacked-layer store: ``layers/<chain-id>/diff`` (overlay-ready) and ``layers/<chain-id>/layer.json``.

A layer is keyed by its OCI ChainID, which names the layer *and everything under it*, so two images that share
a base share its directories. A layer is unpacked into a temp dir under ``<root>/tmp`` (named so a sweeper
knows when its writer died), hashed while it unpacks, checked against its DiffID and only then renamed into
``layers/``. Whoever renames first wins; the loser throws its copy away. ``kill -9`` at any moment leaves
either a finished layer or a temp dir that :meth:`LayerStore.sweep` removes.

Whiteouts become what overlayfs reads natively (Documentation/filesystems/overlayfs.rst): ``.wh.NAME``
turns into a 0:0 character device ``NAME``, ``.wh..wh..opq`` into ``trusted.overlay.opaque=y`` on its
directory.

Chain ids and diff ids are ``sha256:<hex>`` digests, as in image configs; a bare 64-hex id is accepted too.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from core.config import Paths
from core.errors import CorruptState, DigestMismatch, InvalidArgument, NotFound
from core.record import record
from core.state import ids, records
from core.storage import compression

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~2 ms of a start)
if TYPE_CHECKING:
    from typing import Any, BinaryIO

OPAQUE_XATTR = "trusted.overlay.opaque"
DRAIN_CHUNK = 1 << 20


def _hex(digest: str) -> str:
    """The hex part of a ``sha256:<hex>`` digest (or a bare 64-hex id), checked before it becomes a path."""
    return ids.digest_hex(digest) if ":" in digest else ids.check_hex64(digest)


def _digest(value: str) -> str:
    return f"sha256:{_hex(value)}"


def overlay_whiteout(directory: Path, name: str | None) -> None:
    """The :data:`tarsafe.WhiteoutHandler` for overlayfs: a 0:0 char device, or the opaque xattr."""
    if name is None:
        os.setxattr(directory, OPAQUE_XATTR, b"y", follow_symlinks=False)
    else:
        path = directory / name
        os.mknod(path, stat.S_IFCHR | 0o000, os.makedev(0, 0))
        os.chown(path, 0, 0, follow_symlinks=False)


@record(frozen=True)
class LayerInfo:
    chain_id: str  # sha256:<hex>
    diff_id: str  # sha256:<hex> of the uncompressed tar
    parent: str | None  # chain id of the layer below, None for a base layer
    size: int  # bytes of regular file content
    path: Path  # the layer's directory; overlay wants path / "diff"

    @property
    def diff(self) -> Path:
        return self.path / "diff"

    def to_json(self) -> dict[str, Any]:
        return {"chain_id": self.chain_id, "diff_id": self.diff_id, "parent": self.parent, "size": self.size}


class _HashingReader:
    """Hashes every byte that goes through it: the DiffID is the digest of the uncompressed tar."""

    def __init__(self, src: BinaryIO) -> None:
        import hashlib  # not at the top: OpenSSL's loading costs ~2 ms that `run` does not need

        self._src = src
        self.sha = hashlib.sha256()
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        data = self._src.read(size)
        self.sha.update(data)
        self.count += len(data)
        return data


class LayerStore:
    def __init__(self, paths: Paths) -> None:
        self.paths = paths

    @staticmethod
    def chain_id(parent_chain_id: str | None, diff_id: str) -> str:
        """OCI image-spec ChainID: the diff id for a base layer, else sha256 of ``"<parent> <diff_id>"``."""
        diff = _digest(diff_id)
        if parent_chain_id is None:
            return diff
        import hashlib

        text = f"{_digest(parent_chain_id)} {diff}"
        return "sha256:" + hashlib.sha256(text.encode()).hexdigest()

    def _dir(self, chain_id: str) -> Path:
        return self.paths.layer(_hex(chain_id))

    def exists(self, chain_id: str) -> bool:
        return (self._dir(chain_id) / "layer.json").is_file()

    def diff_dir(self, chain_id: str) -> Path:
        return self._dir(chain_id) / "diff"

    def info(self, chain_id: str) -> LayerInfo:
        path = self._dir(chain_id)
        try:
            data = records.read_json(path / "layer.json")
        except FileNotFoundError:
            raise NotFound(f"layer {_digest(chain_id)} is not unpacked") from None
        try:
            return LayerInfo(
                chain_id=str(data["chain_id"]),
                diff_id=str(data["diff_id"]),
                parent=data["parent"],
                size=int(data["size"]),
                path=path,
            )
        except (KeyError, TypeError, ValueError) as err:
            raise CorruptState(
                f"layer record {path / 'layer.json'} is damaged ({err}); remove the layer"
            ) from err

    def size(self, chain_id: str) -> int:
        return self.info(chain_id).size

    def chain_ids(self) -> list[str]:
        """Every unpacked layer, as ``sha256:<hex>``."""
        try:
            names = os.listdir(self.paths.layers)
        except FileNotFoundError:
            return []
        return sorted(
            f"sha256:{n}"
            for n in names
            if ids.HEX64.match(n) and (self.paths.layers / n / "layer.json").is_file()
        )

    def unpack(
        self, chain_id: str, parent_chain_id: str | None, diff_id_expected: str, stream: BinaryIO
    ) -> LayerInfo:
        """Unpack a layer blob (gzip, zstd or plain tar, told by its magic) as ``chain_id``.

        ``stream`` is read forward only, so it may come straight from a download. If the layer is already
        there, nothing is read and the stored layer is returned. The parent need not be unpacked yet (overlay
        layers are independent directories); it is only recorded. The uncompressed content must hash to
        ``diff_id_expected`` (else :class:`DigestMismatch`, nothing kept); a hostile or damaged archive raises
        :class:`core.errors.UnsafeLayer`.
        """
        chain = _digest(chain_id)
        diff_id = _digest(diff_id_expected)
        parent = _digest(parent_chain_id) if parent_chain_id is not None else None
        if self.chain_id(parent, diff_id) != chain:
            raise InvalidArgument(
                f"layer {chain} is not the chain id of diff id {diff_id} on parent {parent or 'none'}"
            )
        final = self._dir(chain)
        if self.exists(chain):
            return self.info(chain)

        self.paths.tmp.mkdir(parents=True, exist_ok=True)
        self.paths.layers.mkdir(parents=True, exist_ok=True)
        tmp = records.temp_name(self.paths.tmp / final.name)
        # 0700 for good: a layer may hold device nodes and setuid files that no host user should reach;
        # overlayfs reads lower layers with the mounter's (root's) credentials, so containers are unaffected
        os.mkdir(tmp, 0o700)
        try:
            os.mkdir(tmp / "diff", 0o755)
            hashing = _HashingReader(compression.open_decompressed(stream))
            # decompression and hashing run on a helper thread while this one writes files
            with compression.ReadAhead(hashing) as ahead:  # type: ignore[arg-type]
                from core.storage import tarsafe  # tarfile: ~2 ms that `run` does not need

                stats = tarsafe.extract(ahead, tmp / "diff", on_whiteout=overlay_whiteout)  # type: ignore[arg-type]
                while ahead.read(DRAIN_CHUNK):  # extract reads to the end; this only makes sure of it
                    pass
            got = "sha256:" + hashing.sha.hexdigest()
            if got != diff_id:
                raise DigestMismatch(
                    f"layer content hashes to {got}, not to its diff id {diff_id}; nothing was kept"
                )
            info = LayerInfo(chain_id=chain, diff_id=diff_id, parent=parent, size=stats.size, path=final)
            records.write_json(tmp / "layer.json", info.to_json())
            try:
                os.rename(tmp, final)
            except OSError as err:
                if err.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                    raise
                # another process unpacked the same layer first: keep theirs
                records.remove_tree(tmp)
                return self.info(chain)
            records.fsync_dir(self.paths.layers)
            return info
        except BaseException:
            records.remove_tree(tmp)
            raise

    def remove(self, chain_id: str) -> bool:
        """Remove a layer; False if it was not there. The caller makes sure no image or container uses it.

        The directory is first renamed into the temp area, so it vanishes at once and a crash halfway
        through the deletion leaves only something :meth:`sweep` finishes.
        """
        final = self._dir(chain_id)
        self.paths.tmp.mkdir(parents=True, exist_ok=True)
        doomed = records.temp_name(self.paths.tmp / final.name)
        try:
            os.rename(final, doomed)
        except FileNotFoundError:
            return False
        records.remove_tree(doomed)
        return True

    def lowerdirs(self, chain_ids: list[str], relative_to: Path | None = None) -> str:
        """The ``lowerdir=`` value for an overlay mount of these layers, given base first (image order).

        overlayfs wants the topmost layer first, so the order is reversed. With ``relative_to`` the paths are
        relative to it: mount(2) resolves them against the caller's working directory, which keeps the
        option string under the kernel's one-page limit for images with many layers.
        """
        if not chain_ids:
            raise InvalidArgument("an overlay mount needs at least one layer")
        dirs = []
        for cid in reversed(chain_ids):
            if not self.exists(cid):
                raise NotFound(f"layer {_digest(cid)} is not unpacked")
            d = self.diff_dir(cid)
            text = os.path.relpath(d, relative_to) if relative_to is not None else os.fspath(d)
            if any(c in text for c in ":,\\"):
                raise InvalidArgument(
                    f"layer path {text!r} contains ':', ',' or '\\', which overlayfs cannot take"
                )
            dirs.append(text)
        return ":".join(dirs)

    def sweep(self) -> int:
        """Remove temp dirs whose writer is gone (interrupted unpacks and removals); returns how many."""
        return records.sweep_temp(self.paths.tmp)
