"""The build context: which files COPY and ADD may read, and the content hash that keys their cache.

Paths are context-relative and ``/``-separated. A source is resolved like a path inside a chroot of the
context: symlinks are followed but never out of it (an absolute target starts again at the context root, a
``..`` stops there), and a source written as ``../x`` is refused outright. Paths the ``.dockerignore``
excludes do not exist as far as COPY is concerned.

The hash covers, for every file under every source, its path relative to the source, its type, its
permission bits and its content (or a symlink's target) — not mtimes or owners, as the Docker docs promise:
touching a file without changing it keeps the cache; changing a byte, a mode bit or a name does not.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from core.build.ignore import IgnoreMatcher, glob_regex, go_clean, has_glob
from core.errors import InvalidArgument, NotFound
from core.record import record
from core.storage.rootpath import resolve_in_root

_O_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
CHUNK = 1 << 20


class OutsideContext(InvalidArgument):
    pass


@record(frozen=True)
class Entry:
    rel: str  # relative to the source it was found under ("" for the source itself)
    path: str  # context-relative
    st: os.stat_result


class BuildContext:
    def __init__(self, root: Path | None, ignore: IgnoreMatcher | None = None) -> None:
        self.root = Path(root).resolve() if root is not None else None
        self.ignore = ignore or IgnoreMatcher([])
        self._hashes: dict[tuple[int, int, int, int, int], str] = {}

    # -- resolving -------------------------------------------------------------------------------------

    def _full(self, rel: str) -> Path:
        assert self.root is not None
        return self.root / rel if rel else self.root

    def resolve(self, path: str, *, follow_last: bool = True) -> str:
        """``path`` with symlinks resolved inside the context; missing components are kept."""
        return resolve_in_root(path, self._link_target, follow_last=follow_last)

    def _link_target(self, rel: str) -> str | None:
        full = self._full(rel)
        try:
            st = os.lstat(full)
        except (FileNotFoundError, NotADirectoryError):
            return None
        return os.readlink(full) if stat.S_ISLNK(st.st_mode) else None

    def lstat(self, rel: str) -> os.stat_result | None:
        try:
            return os.lstat(self._full(rel))
        except OSError:
            return None

    def excluded(self, rel: str) -> bool:
        return bool(rel) and self.ignore.matches(rel)

    # -- sources ---------------------------------------------------------------------------------------

    def sources(self, src: str) -> list[str]:
        """The context paths one COPY/ADD source names (wildcards expanded), symlinks resolved."""
        cleaned = go_clean(src)
        if cleaned == ".." or cleaned.startswith("../"):
            raise OutsideContext(f"forbidden path outside the build context: {src}")
        cleaned = cleaned.lstrip("/")
        if cleaned == ".":
            cleaned = ""
        if self.root is None:
            raise NotFound(f"{src!r} not found: the build has no context (the Dockerfile came from stdin)")
        if not has_glob(cleaned):
            rel = self.resolve(cleaned)
            if self.lstat(rel) is None:
                raise NotFound(f"{src!r} not found in the build context")
            if self.excluded(rel):
                raise NotFound(f"{src!r} not found in the build context: .dockerignore excludes it")
            return [rel]
        found = sorted(self._glob(cleaned.split("/"), ""))
        if not found:
            raise NotFound(f"no files in the build context match {src!r}")
        return found

    def _glob(self, parts: list[str], base: str) -> Iterator[str]:
        if not parts:
            yield base
            return
        head, rest = parts[0], parts[1:]
        if not has_glob(head):
            rel = self.resolve(f"{base}/{head}" if base else head)
            if self.lstat(rel) is not None and not self.excluded(rel):
                yield from self._glob(rest, rel)
            return
        rx = glob_regex(head)
        try:
            names = sorted(os.listdir(self._full(base)))
        except (NotADirectoryError, FileNotFoundError):
            return
        for name in names:
            if not rx.match(name):
                continue
            rel = f"{base}/{name}" if base else name
            if self.excluded(rel):
                continue
            target = self.resolve(rel)
            if target != rel and (self.lstat(target) is None or self.excluded(target)):
                continue
            yield from self._glob(rest, target)

    def walk(self, src: str) -> Iterator[Entry]:
        """Every entry at and under a resolved source, parents first, names sorted; excluded ones left out
        (a directory that is excluded but holds re-included files is kept as their parent)."""
        st = self.lstat(src)
        if st is None:
            return
        if src and stat.S_ISLNK(st.st_mode):
            st = os.stat(self._full(src))  # the source itself was resolved: it is not a symlink now
        yield Entry("", src, st)
        if stat.S_ISDIR(st.st_mode):
            yield from self._walk_dir(src, "")

    def _walk_dir(self, path: str, rel: str) -> Iterator[Entry]:
        try:
            names = sorted(os.listdir(self._full(path)), key=os.fsencode)
        except OSError as err:
            raise InvalidArgument(f"cannot read {path or '.'} in the build context: {err.strerror}") from None
        for name in names:
            child = f"{path}/{name}" if path else name
            child_rel = f"{rel}/{name}" if rel else name
            st = os.lstat(self._full(child))
            if self.excluded(child):
                if stat.S_ISDIR(st.st_mode) and self.ignore.may_reinclude_under(child):
                    inner = list(self._walk_dir(child, child_rel))
                    if inner:
                        yield Entry(child_rel, child, st)
                        yield from inner
                continue
            yield Entry(child_rel, child, st)
            if stat.S_ISDIR(st.st_mode):
                yield from self._walk_dir(child, child_rel)

    def open(self, path: str) -> int:
        return os.open(self._full(path), _O_FILE)

    def readlink(self, path: str) -> str:
        return os.readlink(self._full(path))

    # -- hashing ---------------------------------------------------------------------------------------

    def file_hash(self, path: str, st: os.stat_result) -> str:
        key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        cached = self._hashes.get(key)
        if cached is not None:
            return cached
        h = hashlib.sha256()
        fd = self.open(path)
        try:
            while True:
                data = os.read(fd, CHUNK)
                if not data:
                    break
                h.update(data)
        finally:
            os.close(fd)
        digest = h.hexdigest()
        self._hashes[key] = digest
        return digest

    def content_hash(self, sources: list[str]) -> str:
        h = hashlib.sha256()
        for src in sources:
            h.update(f"source {src}\0".encode())
            for e in self.walk(src):
                mode = e.st.st_mode
                h.update(f"{e.rel}\0{stat.S_IFMT(mode):o}\0{stat.S_IMODE(mode):o}\0".encode())
                if stat.S_ISREG(mode):
                    h.update(self.file_hash(e.path, e.st).encode())
                elif stat.S_ISLNK(mode):
                    h.update(self.readlink(e.path).encode())
                h.update(b"\n")
        return h.hexdigest()


__all__ = ["BuildContext", "Entry", "OutsideContext"]
