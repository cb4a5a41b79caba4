"""COPY, ADD and WORKDIR write into a scratch layer directory; :func:`core.storage.diff.write_diff` then turns
it into the step's layer, the same way a RUN step's container layer is turned into one.

The scratch directory plays overlay's upper dir over the image's layers: a directory the step writes into
that the image already has is created here with the image's owner and mode (as a copy-up would), a missing
one as root 0755 (or the ``--chown`` owner). Files from the build context become root-owned unless
``--chown`` says otherwise; files from another stage or image (``--from``) keep their owners. Modes and
mtimes are kept; ``--chmod`` replaces the permission bits of everything copied. Sources are copied through
file descriptors opened ``O_NOFOLLOW``.

ADD also unpacks a local tar archive (plain, gzip, bzip2, xz or zstd — told by content, not by name) into
the destination directory, through :func:`core.storage.tarsafe.extract`. Remote URLs are refused: builds here
run offline.
"""

from __future__ import annotations

import bz2
import contextlib
import lzma
import os
import stat
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Protocol

from core.build.context import Entry
from core.build.ignore import glob_regex, go_clean, has_glob
from core.errors import InvalidArgument, NotFound
from core.state.records import remove_tree
from core.storage import compression, tarsafe
from core.storage.diff import LayerUnion

_O_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_O_NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
Owner = tuple[int, int]


class Source(Protocol):
    def sources(self, src: str) -> list[str]: ...
    def walk(self, src: str) -> Iterator[Entry]: ...
    def open(self, path: str) -> int: ...
    def readlink(self, path: str) -> str: ...


class ImageSource:
    """``COPY --from``: paths inside another stage's or image's filesystem (symlinks resolved in its root)."""

    def __init__(self, union: LayerUnion) -> None:
        self.union = union

    def sources(self, src: str) -> list[str]:
        cleaned = go_clean("/" + src).lstrip("/")
        if not has_glob(cleaned):
            rel = self.union.resolve(cleaned)
            if cleaned and self.union.lookup(rel) is None:
                raise NotFound(f"{src!r} not found in the source image")
            return [rel]
        found: list[str] = []
        self._glob(cleaned.split("/"), "", found)
        if not found:
            raise NotFound(f"no files in the source image match {src!r}")
        return sorted(found)

    def _glob(self, parts: list[str], base: str, out: list[str]) -> None:
        if not parts:
            out.append(base)
            return
        head, rest = parts[0], parts[1:]
        if not has_glob(head):
            rel = self.union.resolve(f"{base}/{head}" if base else head)
            if self.union.lookup(rel) is not None:
                self._glob(rest, rel, out)
            return
        rx = glob_regex(head)
        for name in self.union.listdir(base):
            if rx.match(name):
                rel = self.union.resolve(f"{base}/{name}" if base else name)
                if self.union.lookup(rel) is not None:
                    self._glob(rest, rel, out)

    def walk(self, src: str) -> Iterator[Entry]:
        found = self.union.lookup(src)
        if found is None:
            return
        yield Entry("", src, found[1])
        if stat.S_ISDIR(found[1].st_mode):
            yield from self._walk(src, "")

    def _walk(self, path: str, rel: str) -> Iterator[Entry]:
        for name in self.union.listdir(path):
            child = f"{path}/{name}" if path else name
            child_rel = f"{rel}/{name}" if rel else name
            found = self.union.lookup(child)
            if found is None:
                continue
            yield Entry(child_rel, child, found[1])
            if stat.S_ISDIR(found[1].st_mode):
                yield from self._walk(child, child_rel)

    def open(self, path: str) -> int:
        found = self.union.lookup(path)
        if found is None:
            raise NotFound(f"/{path} vanished from the source image")
        return os.open(found[0] / path, _O_FILE)

    def readlink(self, path: str) -> str:
        found = self.union.lookup(path)
        if found is None:
            raise NotFound(f"/{path} vanished from the source image")
        return os.readlink(found[0] / path)


# ------------------------------------------------------------------------------------------ archives

_BZIP2_MAGIC = b"BZh"
_XZ_MAGIC = b"\xfd7zXZ\x00"


def _decompressed(f: BinaryIO) -> BinaryIO:
    f.seek(0)
    head = f.read(6)
    f.seek(0)
    if head.startswith(_BZIP2_MAGIC):
        return bz2.BZ2File(f)  # type: ignore[return-value]
    if head.startswith(_XZ_MAGIC):
        return lzma.LZMAFile(f)  # type: ignore[return-value]
    return compression.open_decompressed(f)


def is_archive(fd: int) -> bool:
    """True if the file open at ``fd`` is a tar archive, compressed or not (docker's test: its first
    header parses)."""
    with open(os.dup(fd), "rb") as f:
        try:
            block = _decompressed(f).read(tarfile.BLOCKSIZE)
        except Exception:
            return False
        if len(block) < tarfile.BLOCKSIZE or block == bytes(tarfile.BLOCKSIZE):
            return False
        try:
            tarfile.TarInfo.frombuf(block, "utf-8", "surrogateescape")
        except tarfile.HeaderError:
            return False
        return True


def extract_archive(fd: int, dest: Path) -> None:
    """Unpack the archive open at ``fd`` into the empty directory ``dest`` (owners kept, as docker's ADD)."""
    with open(os.dup(fd), "rb") as f:
        f.seek(0)
        tarsafe.extract(_decompressed(f), dest)


# ------------------------------------------------------------------------------------------ writing


class LayerWriter:
    """Writes one step's changes into ``upper`` over the image ``below``."""

    def __init__(self, upper: Path, below: LayerUnion, now: int) -> None:
        self.upper = upper
        self.below = below
        self.now = now
        self._dir_times: list[tuple[Path, int]] = []

    def _path(self, rel: str) -> Path:
        return self.upper / rel if rel else self.upper

    def ensure_dir(self, rel: str, owner: Owner | None = None, *, mode: int = 0o755) -> None:
        """Make ``rel`` a directory here, creating its parents as a copy-up would."""
        parts = [p for p in rel.split("/") if p]
        for i in range(len(parts)):
            sub = "/".join(parts[: i + 1])
            path = self._path(sub)
            try:
                st = os.lstat(path)
            except FileNotFoundError:
                st = None
            if st is not None:
                if stat.S_ISDIR(st.st_mode):
                    continue
                path.unlink()  # an earlier source of this step put a file here; a directory replaces it
            below = self.below.lookup(sub)
            if below is not None and stat.S_ISDIR(below[1].st_mode):
                bst = below[1]
                self._mkdir(path, stat.S_IMODE(bst.st_mode), (bst.st_uid, bst.st_gid), int(bst.st_mtime))
            elif below is not None and not stat.S_ISLNK(below[1].st_mode):
                raise InvalidArgument(f"cannot copy to /{sub}: it is not a directory in the image")
            else:
                self._mkdir(path, mode, owner or (0, 0), self.now)

    def _mkdir(self, path: Path, mode: int, owner: Owner, mtime: int) -> None:
        os.mkdir(path, 0o700)
        os.chown(path, *owner)
        os.chmod(path, mode)
        self._dir_times.append((path, mtime))

    def _clear(self, path: Path, keep_dir: bool) -> None:
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return
        if stat.S_ISDIR(st.st_mode):
            if keep_dir:
                return
            remove_tree(path)
        else:
            path.unlink()

    def copy(self, src: Source, entry: Entry, dest: str, owner: Owner | None, chmod: int | None) -> None:
        """One entry of a source at ``dest`` (relative to the root). ``owner`` None keeps the source's."""
        st = entry.st
        path = self._path(dest)
        uid, gid = owner if owner is not None else (st.st_uid, st.st_gid)
        perm = chmod if chmod is not None else stat.S_IMODE(st.st_mode)
        mtime_ns = st.st_mtime_ns
        mode = st.st_mode
        if stat.S_ISDIR(mode):
            parent = dest.rsplit("/", 1)[0] if "/" in dest else ""
            self.ensure_dir(parent, owner)
            self._clear(path, keep_dir=True)
            if path.is_dir():
                os.chown(path, uid, gid)
                os.chmod(path, perm)
                self._dir_times.append((path, mtime_ns // 1_000_000_000))
            else:
                self._mkdir(path, perm, (uid, gid), mtime_ns // 1_000_000_000)
            return
        parent = dest.rsplit("/", 1)[0] if "/" in dest else ""
        self.ensure_dir(parent, owner)
        self._clear(path, keep_dir=False)
        if stat.S_ISREG(mode):
            in_fd = src.open(entry.path)
            try:
                fst = os.fstat(in_fd)
                if not stat.S_ISREG(fst.st_mode):
                    raise InvalidArgument(f"{entry.path} changed while it was copied")
                out_fd = os.open(path, _O_NEW, 0o600)
                try:
                    _copy_data(in_fd, out_fd, fst.st_size)
                    os.fchown(out_fd, uid, gid)
                    os.fchmod(out_fd, perm)
                    os.utime(out_fd, ns=(mtime_ns, mtime_ns))
                finally:
                    os.close(out_fd)
            finally:
                os.close(in_fd)
        elif stat.S_ISLNK(mode):
            os.symlink(src.readlink(entry.path), path)
            os.chown(path, uid, gid, follow_symlinks=False)
            os.utime(path, ns=(mtime_ns, mtime_ns), follow_symlinks=False)
        elif stat.S_ISFIFO(mode) or stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            os.mknod(path, stat.S_IFMT(mode) | 0o600, st.st_rdev)
            os.chown(path, uid, gid)
            os.chmod(path, perm)
            os.utime(path, ns=(mtime_ns, mtime_ns))
        # sockets are left out, as docker leaves them out

    def write_file(self, rel: str, data: bytes, mode: int, owner: Owner) -> None:
        """A file with the given content (COPY of a heredoc)."""
        parent = rel.rsplit("/", 1)[0] if "/" in rel else ""
        self.ensure_dir(parent, owner)
        path = self._path(rel)
        self._clear(path, keep_dir=False)
        fd = os.open(path, _O_NEW, 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fchown(fd, *owner)
            os.fchmod(fd, mode)
            os.utime(fd, (self.now, self.now))
        finally:
            os.close(fd)

    def add_archive(self, src: Source, entry: Entry, dest: str, scratch: Path) -> None:
        """ADD of a local archive: its content lands inside the directory ``dest``."""
        self.ensure_dir(dest)
        tmp = scratch / f"extract-{len(self._dir_times)}-{os.urandom(4).hex()}"
        os.mkdir(tmp, 0o700)
        try:
            fd = src.open(entry.path)
            try:
                extract_archive(fd, tmp)
            finally:
                os.close(fd)
            self._merge(tmp, dest)
        finally:
            remove_tree(tmp)

    def _merge(self, from_dir: Path, dest: str) -> None:
        for name in sorted(os.listdir(from_dir)):
            item = from_dir / name
            rel = f"{dest}/{name}" if dest else name
            target = self._path(rel)
            st = os.lstat(item)
            if stat.S_ISDIR(st.st_mode):
                existing = target.is_dir() and not target.is_symlink()
                if not existing:
                    self._clear(target, keep_dir=False)
                    os.mkdir(target, 0o700)
                os.chown(target, st.st_uid, st.st_gid)
                os.chmod(target, stat.S_IMODE(st.st_mode))
                self._merge(item, rel)
                self._dir_times.append((target, int(st.st_mtime)))
            else:
                self._clear(target, keep_dir=False)
                os.rename(item, target)

    def finish(self) -> None:
        """Set directory mtimes last (creating entries inside a directory changes its mtime)."""
        for path, mtime in reversed(self._dir_times):
            with contextlib.suppress(FileNotFoundError):
                os.utime(path, (mtime, mtime), follow_symlinks=False)


def _copy_data(in_fd: int, out_fd: int, size: int) -> None:
    left = size
    while left > 0:
        try:
            n = os.sendfile(out_fd, in_fd, None, min(left, 1 << 30))
        except OSError:
            data = os.read(in_fd, min(left, 1 << 20))
            n = len(data)
            if n:
                os.write(out_fd, data)
        if n == 0:
            break
        left -= n


__all__ = ["ImageSource", "LayerWriter", "Source", "extract_archive", "is_archive"]
