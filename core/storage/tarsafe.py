"""Extract a layer tar stream into an empty directory so that no entry can write outside it.

Rules (docker/containerd compatible where they are safe, stricter where they rely on chroot):

- Names are relative to ``dest``. A leading ``/`` is stripped (docker and containerd treat ``/etc/x`` as
  ``etc/x``), ``.`` and empty components are dropped and ``..`` is resolved lexically; a name that climbs
  above ``dest`` is refused. The raw name never reaches the kernel, only the cleaned one.
- ``dest`` is a private, empty directory that only we write to, so an in-memory map of what this extraction
  created (path -> kind) is the truth about it. An entry whose parent chain holds a symlink or a
  non-directory created earlier in the layer is refused: we never follow a symlink while creating anything.
  (containerd instead resolves such parents inside the root; no image built by docker, buildkit or umoci
  writes through its own symlinks, and a layer like Debian's ``lib -> usr/lib`` with nothing under ``lib/``
  extracts fine.) Missing parents are created as root-owned 0755 directories, as docker does.
- Final components are created with ``O_EXCL``/``O_NOFOLLOW``, ``mkdir``, ``symlink``, ``mknod`` and
  ``link(follow_symlinks=False)``: none of them follows a symlink at the last component.
- A later entry for the same path replaces the earlier one; a directory over a directory merges.
- A hard link must name a non-directory that this layer already created; it is resolved through the map, so
  never through a symlink. Symlink targets are data and may point anywhere: they are resolved inside the
  container later (openat2 ``RESOLVE_IN_ROOT``), never by us.
- As root, owners, modes (setuid/setgid/sticky included), mtimes, device nodes, fifos and PAX xattrs
  (``SCHILY.xattr.*``) are kept. ``trusted.overlay.*`` xattrs from the archive are dropped: only our
  whiteout conversion may speak to overlayfs.
- With ``on_whiteout``, OCI whiteouts (``.wh.NAME``, ``.wh..wh..opq``) are not extracted as files but handed
  to the callback, after the same path checks; other ``.wh..wh.*`` names (AUFS metadata) are skipped.

Anything hostile or malformed raises :class:`core.errors.UnsafeLayer` naming the entry; the caller discards
the whole directory.
"""

from __future__ import annotations

import errno
import os
import stat
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, Self

from core.errors import DockyardError, InvalidArgument, PermissionRequired, UnsafeLayer
from core.record import record

CHUNK = 1 << 20
MAX_READ = 2 * CHUNK  # file data never goes through read() (except sparse files, in CHUNK reads)
WHITEOUT_PREFIX = ".wh."
WHITEOUT_META_PREFIX = ".wh..wh."
WHITEOUT_OPAQUE = ".wh..wh..opq"
XATTR_PAX_PREFIX = "SCHILY.xattr."

# what this extraction made at a path
_DIR, _FILE, _SYMLINK, _OTHER, _WHITEOUT = "dir", "file", "symlink", "special file", "whiteout"

_O_CREATE_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_O_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_MAX_ID = 2**32 - 2  # (uid_t)-1 means "leave unchanged" to chown: never a real owner

WhiteoutHandler = Callable[[Path, "str | None"], None]
"""``on_whiteout(directory, name)``: ``name`` is the whited-out entry (nothing exists at ``directory/name``
yet), or ``None`` to make ``directory`` opaque. ``directory`` is a real directory inside ``dest``."""


@record
class ExtractStats:
    entries: int = 0  # tar members read, all kinds
    files: int = 0
    dirs: int = 0
    symlinks: int = 0
    hardlinks: int = 0
    specials: int = 0  # device nodes and fifos
    whiteouts: int = 0  # whiteouts and opaque markers handed to on_whiteout
    size: int = 0  # bytes of regular file content
    skipped_xattrs: int = 0  # not supported by the filesystem, not allowed for us, or trusted.overlay.*


class _Corrupt(Exception):
    """A damaged header, raised past tarfile's habit of treating it as the end of the archive."""


class _StrictTarInfo(tarfile.TarInfo):
    """tarfile silently ends the archive at a bad checksum or a cut-off header; we want to know."""

    @classmethod
    def fromtarfile(cls, tarfile_: tarfile.TarFile) -> Self:
        try:
            return super().fromtarfile(tarfile_)
        except tarfile.EmptyHeaderError:  # type: ignore[attr-defined]
            # the stream ended exactly between members, without the zero blocks: Go's archive/tar (docker,
            # containerd) accepts that and so do we; umoci writes such layers
            raise tarfile.EOFHeaderError("end of file") from None  # type: ignore[attr-defined]
        except (tarfile.TruncatedHeaderError, tarfile.InvalidHeaderError) as err:  # type: ignore[attr-defined]
            raise _Corrupt(f"bad header at byte {tarfile_.offset}: {err}") from None


class _ForwardReader:
    """The only "file" tarfile sees: forward-only seek, 1 MiB refills, and file data copied to disk straight
    from the refill buffer (no per-entry buffers, no slicing of large blocks)."""

    def __init__(self, src: BinaryIO) -> None:
        self._src = src
        self._buf = b""
        self._off = 0
        self._pos = 0

    def tell(self) -> int:
        return self._pos

    def _refill(self) -> bool:
        data = self._src.read(CHUNK)
        self._buf, self._off = data, 0
        return bool(data)

    def read(self, size: int = -1) -> bytes:
        # tarfile reads headers and header extensions (PAX, GNU long names) with read(); a hostile size
        # there must not make us buffer gigabytes. Go's archive/tar allows 1 MiB for these.
        if size is None or size < 0 or size > MAX_READ:
            raise _Corrupt(f"a header extension of {size} bytes is too large")
        avail = len(self._buf) - self._off
        if size <= avail:
            out = self._buf[self._off : self._off + size]
            self._off += size
            self._pos += size
            return out
        parts = [self._buf[self._off :]]
        got = avail
        while got < size and self._refill():
            take = min(size - got, len(self._buf))
            parts.append(self._buf[:take])
            self._off = take
            got += take
        self._pos += got
        return b"".join(parts)

    def seek(self, pos: int, whence: int = 0) -> int:
        if whence != 0 or pos < self._pos:
            raise tarfile.ReadError("layer stream cannot seek backwards")
        skip = pos - self._pos
        while skip:
            avail = len(self._buf) - self._off
            if not avail and not self._refill():
                break  # tarfile notices the short stream on its next read
            step = min(skip, len(self._buf) - self._off)
            self._off += step
            self._pos += step
            skip -= step
        return self._pos

    def drain(self) -> None:
        """Read the source to its end, discarding: bytes after the end marker are not entries, but a
        compressed stream only reports a damaged trailer when it is read."""
        while self._refill():
            pass

    def copy_to_fd(self, fd: int, size: int) -> None:
        """Write the next ``size`` bytes to ``fd``; a short stream is a truncated archive."""
        while size:
            avail = len(self._buf) - self._off
            if not avail:
                if not self._refill():
                    raise _Corrupt("file data ends early")
                avail = len(self._buf)
            step = min(size, avail)
            view = memoryview(self._buf)[self._off : self._off + step]
            while view:
                written = os.write(fd, view)
                view = view[written:]
            self._off += step
            self._pos += step
            size -= step


def _clean(name: str) -> str | None:
    """``name`` as a path relative to dest ("" for dest itself), or None if it climbs out."""
    parts: list[str] = []
    for comp in name.split("/"):
        if comp in ("", "."):
            continue
        if comp == "..":
            if not parts:
                return None
            parts.pop()
        else:
            parts.append(comp)
    return "/".join(parts)


def _mtime_ns(member: tarfile.TarInfo) -> int:
    try:
        ns = int(member.mtime * 1_000_000_000)
    except (OverflowError, ValueError, TypeError):
        return 0
    # keep within what utimensat accepts, as containerd's boundTime does
    return ns if -(2**63) <= ns < 2**63 else 0


class _Extractor:
    def __init__(self, dest: Path, on_whiteout: WhiteoutHandler | None, preserve_owner: bool) -> None:
        self.root = os.fspath(dest)
        self.on_whiteout = on_whiteout
        self.preserve_owner = preserve_owner
        self.kinds: dict[str, str] = {}
        self.children: dict[str, set[str]] = {}  # parent rel -> child rels, to forget a subtree quickly
        self.dir_meta: dict[str, tuple[int, int]] = {}  # rel -> (mode, mtime_ns), applied at the end
        self.stats = ExtractStats()
        self.name = ""  # the entry being worked on, for messages

    # -- helpers ---------------------------------------------------------------------------------------

    def unsafe(self, why: str) -> UnsafeLayer:
        return UnsafeLayer(f"refusing layer entry {self.name!r}: {why}")

    def full(self, rel: str) -> str:
        return f"{self.root}/{rel}" if rel else self.root

    def ensure_dir(self, rel: str) -> None:
        """Make ``rel`` an existing directory of this layer, creating missing ancestors as docker does."""
        missing: list[str] = []
        cur = rel
        while cur:
            kind = self.kinds.get(cur)
            if kind == _DIR:
                break
            if kind is not None:
                raise self.unsafe(f"its parent {cur!r} is a {kind} in this layer, not a directory")
            missing.append(cur)
            cur = cur.rpartition("/")[0]
        for d in reversed(missing):
            path = self.full(d)
            os.mkdir(path, 0o755)
            os.chmod(path, 0o755)  # independent of the umask
            self.add(d, _DIR)

    def add(self, rel: str, kind: str) -> None:
        self.kinds[rel] = kind
        parent = rel.rpartition("/")[0]
        children = self.children.get(parent)
        if children is None:
            self.children[parent] = {rel}
        else:
            children.add(rel)

    def remove(self, rel: str) -> None:
        """Remove what this layer made at ``rel``, and forget it (and, for a directory, all below it)."""
        kind = self.kinds.pop(rel)
        self.children[rel.rpartition("/")[0]].discard(rel)
        path = self.full(rel)
        if kind != _DIR:
            os.unlink(path)
            return
        from core.state.records import remove_tree

        remove_tree(Path(path))
        # forget the subtree through the children index: cost follows its size, not the layer's, so a
        # layer that replaces a directory over and over stays linear
        stack = [rel]
        while stack:
            d = stack.pop()
            self.dir_meta.pop(d, None)
            for child in self.children.pop(d, ()):
                if self.kinds.pop(child, None) == _DIR:
                    stack.append(child)

    def owner(self, member: tarfile.TarInfo) -> tuple[int, int] | None:
        if not self.preserve_owner:
            return None
        uid, gid = member.uid, member.gid
        if not (0 <= uid <= _MAX_ID and 0 <= gid <= _MAX_ID):
            raise self.unsafe(f"invalid owner {uid}:{gid}")
        return uid, gid

    def xattrs(self, member: tarfile.TarInfo) -> list[tuple[str, bytes]]:
        out = []
        for key, value in member.pax_headers.items():
            if not key.startswith(XATTR_PAX_PREFIX):
                continue
            name = key[len(XATTR_PAX_PREFIX) :]
            if name.startswith("trusted.overlay.") or not name:
                self.stats.skipped_xattrs += 1
                continue
            # tarfile decoded the raw value as UTF-8 with surrogateescape: this gives the bytes back
            out.append((name, value.encode("utf-8", "surrogateescape")))
        return out

    def set_xattrs(self, target: int | str, attrs: list[tuple[str, bytes]]) -> None:
        for name, value in attrs:
            try:
                if isinstance(target, int):
                    os.setxattr(target, name, value)
                else:
                    os.setxattr(target, name, value, follow_symlinks=False)
            except OSError as err:
                # docker skips what the filesystem cannot store; Linux refuses user.* on symlinks and device
                # nodes (EPERM); a non-root caller cannot set trusted.* and friends
                if err.errno in (errno.ENOTSUP, errno.EOPNOTSUPP) or (
                    err.errno == errno.EPERM and (name.startswith("user.") or not self.preserve_owner)
                ):
                    self.stats.skipped_xattrs += 1
                    continue
                raise self.unsafe(f"cannot set xattr {name}: {err.strerror}") from None

    # -- entry kinds -----------------------------------------------------------------------------------

    def regular(self, member: tarfile.TarInfo, rel: str, tf: tarfile.TarFile, reader: _ForwardReader) -> None:
        fd = os.open(self.full(rel), _O_CREATE_FILE, 0o600)
        self.add(rel, _FILE)
        try:
            if member.sparse is not None:
                src = tf.extractfile(member)
                assert src is not None
                while data := src.read(CHUNK):
                    view = memoryview(data)
                    while view:
                        view = view[os.write(fd, view) :]
            else:
                reader.seek(member.offset_data)
                reader.copy_to_fd(fd, member.size)
            owner = self.owner(member)
            if owner is not None:
                os.fchown(fd, *owner)
            os.fchmod(fd, member.mode & 0o7777)  # after chown, which clears setuid/setgid
            self.set_xattrs(fd, self.xattrs(member))  # after chown, which clears security.capability
            ns = _mtime_ns(member)
            os.utime(fd, ns=(ns, ns))
        finally:
            os.close(fd)
        self.stats.files += 1
        self.stats.size += member.size

    def directory(self, member: tarfile.TarInfo, rel: str, replaced_whiteout: bool) -> None:
        path = self.full(rel)
        if self.kinds.get(rel) != _DIR:
            os.mkdir(path, 0o700)  # final mode is set at the end: entries are still to come
            self.add(rel, _DIR)
            if replaced_whiteout and self.on_whiteout is not None:
                # deleted and re-created in one layer: the lower layers' directory must not show through
                self.on_whiteout(Path(path), None)
        owner = self.owner(member)
        if owner is not None:
            os.chown(path, *owner, follow_symlinks=False)
        self.set_xattrs(path, self.xattrs(member))
        self.dir_meta[rel] = (member.mode & 0o7777, _mtime_ns(member))
        self.stats.dirs += 1

    def symlink(self, member: tarfile.TarInfo, rel: str) -> None:
        path = self.full(rel)
        os.symlink(member.linkname, path)
        self.add(rel, _SYMLINK)
        owner = self.owner(member)
        if owner is not None:
            os.chown(path, *owner, follow_symlinks=False)
        self.set_xattrs(path, self.xattrs(member))
        ns = _mtime_ns(member)
        os.utime(path, ns=(ns, ns), follow_symlinks=False)
        self.stats.symlinks += 1

    def hardlink(self, member: tarfile.TarInfo, rel: str) -> None:
        target = _clean(member.linkname)
        if target is None:
            raise self.unsafe(f"hard link target {member.linkname!r} is outside the layer")
        kind = self.kinds.get(target)
        if kind is None or kind in (_DIR, _WHITEOUT):
            raise self.unsafe(f"hard link target {member.linkname!r} is not a file in this layer")
        os.link(self.full(target), self.full(rel), follow_symlinks=False)
        self.add(rel, kind)
        self.stats.hardlinks += 1

    def special(self, member: tarfile.TarInfo, rel: str) -> None:
        path = self.full(rel)
        if member.isfifo():
            os.mkfifo(path, 0o600)
        else:
            kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK
            try:
                os.mknod(path, kind | 0o600, os.makedev(member.devmajor, member.devminor))
            except PermissionError:
                raise PermissionRequired(
                    f"layer entry {self.name!r} is a device node: extracting it needs root"
                ) from None
        self.add(rel, _OTHER)
        owner = self.owner(member)
        if owner is not None:
            os.chown(path, *owner, follow_symlinks=False)
        os.chmod(path, member.mode & 0o7777)
        self.set_xattrs(path, self.xattrs(member))
        ns = _mtime_ns(member)
        os.utime(path, ns=(ns, ns), follow_symlinks=False)
        self.stats.specials += 1

    def whiteout(self, parent: str, base: str) -> None:
        assert self.on_whiteout is not None
        self.ensure_dir(parent)
        self.stats.whiteouts += 1
        if base == WHITEOUT_OPAQUE:
            self.on_whiteout(Path(self.full(parent)), None)
            return
        name = base[len(WHITEOUT_PREFIX) :]
        if name in ("", ".", ".."):
            raise self.unsafe("whiteout names no entry")
        rel = f"{parent}/{name}" if parent else name
        kind = self.kinds.get(rel)
        if kind is None:
            self.on_whiteout(Path(self.full(parent)), name)
            self.add(rel, _WHITEOUT)
        elif kind == _DIR:
            # a whiteout hides lower layers only (OCI layer.md); this layer's directory stays, but whatever
            # the lower layers had there must not merge into it
            self.on_whiteout(Path(self.full(rel)), None)
        # a non-directory of this layer already hides the lower entry: nothing to do

    # -- driver ----------------------------------------------------------------------------------------

    def entry(self, member: tarfile.TarInfo, tf: tarfile.TarFile, reader: _ForwardReader) -> None:
        self.name = member.name
        self.stats.entries += 1
        rel = _clean(member.name)
        if rel is None:
            raise self.unsafe("path climbs out of the layer directory")
        if not rel:
            return  # the layer root itself: its metadata belongs to whoever made dest, as in containerd
        parent, _, base = rel.rpartition("/")
        if self.on_whiteout is not None and base.startswith(WHITEOUT_PREFIX):
            if base == WHITEOUT_OPAQUE or not base.startswith(WHITEOUT_META_PREFIX):
                self.whiteout(parent, base)
            return  # other .wh..wh.* entries are AUFS bookkeeping, as containerd skips them
        if self.on_whiteout is not None and f"/{WHITEOUT_META_PREFIX}" in f"/{parent}":
            return  # inside an AUFS bookkeeping directory (.wh..wh.plnk/...)
        if member.type not in _KNOWN_TYPES:
            raise self.unsafe(f"unsupported entry type {member.type!r}")
        self.ensure_dir(parent)
        existing = self.kinds.get(rel)
        if member.isdir():
            if existing is not None and existing != _DIR:
                self.remove(rel)
            self.directory(member, rel, existing == _WHITEOUT)
            return
        if member.islnk() and _clean(member.linkname) == rel:
            return  # a link to itself changes nothing
        if existing is not None:
            self.remove(rel)
        if member.isreg():
            self.regular(member, rel, tf, reader)
        elif member.issym():
            self.symlink(member, rel)
        elif member.islnk():
            self.hardlink(member, rel)
        else:
            self.special(member, rel)

    def finish(self) -> None:
        """Directory modes and mtimes last: creating entries inside changed the mtimes."""
        for rel, (mode, ns) in self.dir_meta.items():
            fd = os.open(self.full(rel), _O_DIR)
            try:
                os.fchmod(fd, mode)
                os.utime(fd, ns=(ns, ns))
            finally:
                os.close(fd)


_KNOWN_TYPES = frozenset(
    {
        tarfile.REGTYPE,
        tarfile.AREGTYPE,
        tarfile.CONTTYPE,
        tarfile.GNUTYPE_SPARSE,
        tarfile.DIRTYPE,
        tarfile.SYMTYPE,
        tarfile.LNKTYPE,
        tarfile.CHRTYPE,
        tarfile.BLKTYPE,
        tarfile.FIFOTYPE,
    }
)


def extract(
    stream: BinaryIO,
    dest: Path,
    *,
    on_whiteout: WhiteoutHandler | None = None,
    preserve_owner: bool | None = None,
) -> ExtractStats:
    """Extract the (uncompressed) tar ``stream`` into the empty directory ``dest``, entries in order.

    Reads the stream to its end; what follows the end-of-archive marker is ignored (as Go's archive/tar
    does) but still read, so a caller hashing the stream sees every byte and a damaged compressed trailer
    is noticed. ``preserve_owner`` defaults to "running as root". Raises :class:`UnsafeLayer` for a hostile or
    damaged archive; ``dest`` is then in an unspecified state and must be discarded.
    """
    if preserve_owner is None:
        preserve_owner = os.geteuid() == 0
    with os.scandir(dest) as it:
        if next(it, None) is not None:
            raise InvalidArgument(f"cannot extract a layer into {dest}: the directory is not empty")
    ex = _Extractor(dest, on_whiteout, preserve_owner)
    reader = _ForwardReader(stream)
    try:
        tf = tarfile.TarFile(
            fileobj=reader,  # type: ignore[arg-type]
            mode="r",
            tarinfo=_StrictTarInfo,
            encoding="utf-8",
            errors="surrogateescape",
        )
        for member in iter(tf.next, None):
            ex.entry(member, tf, reader)
            # tarfile keeps every member otherwise; we never look back
            tf.members.clear()  # type: ignore[attr-defined]
        reader.drain()
        ex.finish()
    except (tarfile.TarError, _Corrupt, EOFError) as err:
        where = f" (after entry {ex.name!r})" if ex.name else ""
        raise UnsafeLayer(f"layer archive is truncated or corrupt{where}: {err}") from None
    except DockyardError:
        raise
    except (ValueError, OverflowError) as err:  # NUL in a name, absurd device numbers...
        raise ex.unsafe(str(err)) from None
    except OSError as err:
        if err.errno in (errno.ENOSPC, errno.EDQUOT):
            raise DockyardError(f"no space left to extract a layer into {dest}: {err.strerror}") from None
        raise ex.unsafe(err.strerror or str(err)) from None
    return ex.stats
