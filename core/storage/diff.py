"""Overlay directories back to OCI layer tars, and the union view of a stack of layers.

:func:`write_diff` turns a writable layer (a container's ``upper/``, or a scratch dir a build step filled)
into a layer tar, the inverse of what :mod:`core.storage.layers` does on unpack: an overlay whiteout (a 0:0
character device, or a file marked ``trusted.overlay.whiteout``) becomes an empty ``.wh.NAME`` file, a
directory marked ``trusted.overlay.opaque=y`` gets a ``.wh..wh..opq`` entry right after its own header (the
form docker's overlay2 driver writes). Owners, modes, mtimes (whole seconds, as moby writes them), device
numbers, xattrs (``SCHILY.xattr.*``, overlay's private ones left out) and hard links between files are kept.
Entries come parents first, names in byte order, so the same tree always gives the same bytes and diff id;
the archive ends with two zero blocks and no record padding, as Go's archive/tar ends it (so an empty diff
is the well-known 1024-byte empty layer).

The tree is walked through directory file descriptors opened ``O_NOFOLLOW``, never through path strings, so a
container that swaps a directory for a symlink while it is committed cannot make us read outside its layer.

The runtime creates mount points (``/proc``, ``/etc/hosts``, ...) inside the writable layer when the image
lacks them; docker keeps those in a separate init layer. ``mountpoints`` names them so that an empty one the
image did not have, and a directory that only holds such entries, stay out of the diff: a ``RUN`` that
changes nothing produces no layer, and a commit does not capture the runtime's scaffolding.

:class:`LayerUnion` answers "what does the stacked filesystem hold at this path" for a list of layer
directories (topmost first) with overlay's rules, resolves symlinks inside that root, and writes the merged
tree as a tar (``export``).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import posixpath
import stat
import tarfile
from collections.abc import Callable, Collection, Iterator, Sequence
from pathlib import Path
from typing import Protocol

from core.errors import InvalidArgument, UnsafeLayer
from core.record import record
from core.storage.rootpath import resolve_in_root

OPAQUE_XATTR = "trusted.overlay.opaque"
WHITEOUT_XATTR = "trusted.overlay.whiteout"
METACOPY_XATTR = "trusted.overlay.metacopy"
REDIRECT_XATTR = "trusted.overlay.redirect"
WHITEOUT_PREFIX = ".wh."
WHITEOUT_OPAQUE = ".wh..wh..opq"
BLOCK = 512
CHUNK = 1 << 20
# xattrs that describe overlay's bookkeeping or the host's labels, never the image's content
_PRIVATE_XATTR_PREFIXES = ("trusted.overlay.", "user.overlay.", "security.selinux")
_O_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_O_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


class _Writable(Protocol):
    def write(self, data: bytes, /) -> int | None: ...


@record
class DiffStats:
    entries: int = 0  # tar entries written (whiteouts and opaque markers included)
    files: int = 0
    bytes: int = 0  # regular file content
    whiteouts: int = 0
    opaque_dirs: int = 0
    skipped: int = 0  # sockets, and runtime mount points left out

    @property
    def empty(self) -> bool:
        return self.entries == 0


# --------------------------------------------------------------------------------------- tar writing


class TarWriter:
    """A minimal streaming tar writer: PAX headers only where needed, Go's end of archive."""

    def __init__(self, out: _Writable) -> None:
        self.out = out
        self.stats = DiffStats()

    def header(self, info: tarfile.TarInfo) -> None:
        info.uname = info.gname = ""
        self.out.write(info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape"))
        self.stats.entries += 1

    def file(self, info: tarfile.TarInfo, fd: int) -> None:
        """A regular file's header and exactly ``info.size`` bytes of ``fd``: a file that shrank while we read
        it (a running container's) is padded with zeros, one that grew is cut, so the archive stays valid."""
        self.header(info)
        left = info.size
        while left > 0:
            data = os.read(fd, min(CHUNK, left))
            if not data:
                self.out.write(bytes(left))
                break
            self.out.write(data)
            left -= len(data)
        pad = -info.size % BLOCK
        if pad:
            self.out.write(bytes(pad))
        self.stats.files += 1
        self.stats.bytes += info.size

    def close(self) -> None:
        self.out.write(bytes(2 * BLOCK))


def _xattrs(path: str) -> dict[str, bytes]:
    """The xattrs worth carrying in a layer (``path`` is never followed if it is a symlink)."""
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError as err:
        if err.errno in (errno.ENOTSUP, errno.EOPNOTSUPP, errno.EPERM):
            return {}
        raise
    out: dict[str, bytes] = {}
    for name in sorted(names):
        if name.startswith(_PRIVATE_XATTR_PREFIXES):
            continue
        with contextlib.suppress(OSError):
            out[name] = os.getxattr(path, name, follow_symlinks=False)
    return out


def _getxattr(path: str, name: str) -> bytes | None:
    try:
        return os.getxattr(path, name, follow_symlinks=False)
    except OSError:
        return None


def _fdpath(dirfd: int, name: str) -> str:
    """A path for xattr calls that reaches ``name`` through the directory fd, not through a path string."""
    return f"/proc/self/fd/{dirfd}/{name}"


def _tarinfo(name: str, st: os.stat_result, xattrs: dict[str, bytes]) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.mode = stat.S_IMODE(st.st_mode)
    info.uid, info.gid = st.st_uid, st.st_gid
    info.mtime = int(st.st_mtime)
    if xattrs:
        info.pax_headers = {
            "SCHILY.xattr." + key: value.decode("utf-8", "surrogateescape") for key, value in xattrs.items()
        }
    return info


def _is_whiteout(st: os.stat_result, xattr_path: str | None) -> bool:
    if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
        return True
    # newer kernels may mark a whiteout as an empty regular file carrying this xattr
    return (
        xattr_path is not None
        and stat.S_ISREG(st.st_mode)
        and st.st_size == 0
        and _getxattr(xattr_path, WHITEOUT_XATTR) is not None
    )


class _Entries:
    """Emits the non-directory entries both writers share; hard links are tracked by (device, inode)."""

    def __init__(self, tar: TarWriter) -> None:
        self.tar = tar
        self.links: dict[tuple[int, int], str] = {}

    def emit(
        self,
        name: str,
        st: os.stat_result,
        dirfd: int,
        base: str,
        open_data: Callable[[], int] | None = None,
    ) -> None:
        """One non-directory entry. An entry that vanished or changed kind since it was listed (only a
        running container's layer, committed without pausing it, can do that) is left out."""
        mode = st.st_mode
        if stat.S_ISSOCK(mode):
            self.tar.stats.skipped += 1  # docker skips sockets: they mean nothing outside a running system
            return
        fd = -1
        try:
            xattrs = _xattrs(_fdpath(dirfd, base))
            info = _tarinfo(name, st, xattrs)
            key = (st.st_dev, st.st_ino) if st.st_nlink > 1 else None
            first = self.links.get(key) if key else None
            if first is not None:
                info.type, info.linkname = tarfile.LNKTYPE, first
            elif stat.S_ISREG(mode):
                fd = open_data() if open_data is not None else os.open(base, _O_FILE, dir_fd=dirfd)
                fst = os.fstat(fd)
                if not stat.S_ISREG(fst.st_mode):
                    raise FileNotFoundError(name)
                info.type, info.size = tarfile.REGTYPE, fst.st_size
            elif stat.S_ISLNK(mode):
                info.type, info.linkname = tarfile.SYMTYPE, os.readlink(base, dir_fd=dirfd)
            elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
                info.type = tarfile.CHRTYPE if stat.S_ISCHR(mode) else tarfile.BLKTYPE
                info.devmajor, info.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
            elif stat.S_ISFIFO(mode):
                info.type = tarfile.FIFOTYPE
            else:
                self.tar.stats.skipped += 1
                return
        except OSError as err:
            if fd >= 0:
                os.close(fd)
            if err.errno in (errno.ENOENT, errno.ELOOP, errno.ENOTDIR, errno.EINVAL, errno.ENXIO):
                self.tar.stats.skipped += 1
                return
            raise
        try:
            if fd >= 0:
                self.tar.file(info, fd)
            else:
                self.tar.header(info)
        finally:
            if fd >= 0:
                os.close(fd)
        if key and first is None:
            self.links[key] = name

    def directory(self, name: str, st: os.stat_result, dirfd: int, base: str) -> None:
        info = _tarinfo(name + "/", st, _xattrs(_fdpath(dirfd, base)))
        info.type = tarfile.DIRTYPE
        self.tar.header(info)


def _listdir(fd: int) -> list[str]:
    return sorted(os.listdir(fd), key=os.fsencode)


def _open_dir(name: str, dirfd: int) -> int:
    return os.open(name, _O_DIR, dir_fd=dirfd)


# ----------------------------------------------------------------------------------- upper dir -> tar


def write_diff(
    upper: Path,
    out: _Writable,
    *,
    lowers: Sequence[Path] = (),
    mountpoints: Collection[str] = (),
) -> DiffStats:
    """Write the changes held in ``upper`` as an OCI layer tar to ``out``; returns what was written.

    ``lowers`` are the layer directories beneath it, topmost first: they are consulted only for the
    ``mountpoints`` rule (see the module docstring) and for overlay metacopy files, whose data lives below.
    """
    union = LayerUnion(lowers)
    skip = _scaffolding(upper, union, mountpoints) if mountpoints else set()
    tar = TarWriter(out)
    entries = _Entries(tar)
    root = os.open(upper, _O_DIR)
    try:
        _walk_upper(root, "", entries, skip, union)
    finally:
        os.close(root)
    tar.stats.skipped += len(skip)
    tar.close()
    return tar.stats


def _upper_entries(dirfd: int, prefix: str, skip: set[str]) -> Iterator[tuple[str, str, os.stat_result, str]]:
    """(path below the upper dir, name in ``dirfd``, lstat, a path for its xattrs) of each entry, in name
    order, without the runtime's scaffolding."""
    for base in _listdir(dirfd):
        name = prefix + base
        if name in skip:
            continue
        try:
            st = os.stat(base, dir_fd=dirfd, follow_symlinks=False)
        except FileNotFoundError:
            continue  # removed since the listing (a running container's layer)
        yield name, base, st, _fdpath(dirfd, base)


def _walk_upper(dirfd: int, prefix: str, entries: _Entries, skip: set[str], union: LayerUnion) -> None:
    tar = entries.tar
    for name, base, st, xpath in _upper_entries(dirfd, prefix, skip):
        if _is_whiteout(st, xpath):
            info = tarfile.TarInfo(prefix + WHITEOUT_PREFIX + base)
            info.type, info.mode, info.mtime = tarfile.REGTYPE, 0o600, int(st.st_mtime)
            tar.header(info)
            tar.stats.whiteouts += 1
            continue
        if stat.S_ISDIR(st.st_mode):
            if _getxattr(xpath, REDIRECT_XATTR) is not None:
                raise InvalidArgument(
                    f"/{name} was renamed inside the container with overlay's redirect_dir on; "
                    "such a directory cannot be committed (turn the overlay module's redirect_dir off)"
                )
            entries.directory(name, st, dirfd, base)
            if _getxattr(xpath, OPAQUE_XATTR) == b"y":
                info = tarfile.TarInfo(f"{name}/{WHITEOUT_OPAQUE}")
                info.type, info.mode = tarfile.REGTYPE, stat.S_IMODE(st.st_mode)
                info.uid, info.gid, info.mtime = st.st_uid, st.st_gid, int(st.st_mtime)
                tar.header(info)
                tar.stats.opaque_dirs += 1
            try:
                fd = _open_dir(base, dirfd)
            except OSError as err:
                if err.errno not in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP):
                    raise
                continue  # replaced since its header was written: its content is gone with it
            try:
                _walk_upper(fd, name + "/", entries, skip, union)
            finally:
                os.close(fd)
            continue
        opener = None
        if stat.S_ISREG(st.st_mode) and _getxattr(xpath, METACOPY_XATTR) is not None:
            opener = _metacopy_opener(name, xpath, union)
        entries.emit(name, st, dirfd, base, opener)


def _metacopy_opener(name: str, xpath: str, union: LayerUnion) -> Callable[[], int]:
    """A metacopy file holds only metadata; its data is the lower file it redirects to (or the same path)."""
    redirect = _getxattr(xpath, REDIRECT_XATTR)
    source = os.fsdecode(redirect).lstrip("/") if redirect else name
    found = union.lookup(source)
    if found is None or not stat.S_ISREG(found[1].st_mode):
        raise UnsafeLayer(f"/{name} is an overlay metacopy file whose data is missing from the lower layers")
    path = found[0] / source
    return lambda: os.open(path, _O_FILE)


def _scaffolding(upper: Path, lower: LayerUnion, mountpoints: Collection[str]) -> set[str]:
    """Runtime-made mount points the image did not have, and directories that exist only to hold them."""
    skip: set[str] = set()
    ancestors: set[str] = set()
    for mp in mountpoints:
        rel = posixpath.normpath("/" + mp).lstrip("/")
        if not rel:
            continue
        try:
            st = os.lstat(upper / rel)
        except OSError:
            continue
        empty = (stat.S_ISREG(st.st_mode) and st.st_size == 0) or (
            stat.S_ISDIR(st.st_mode) and not os.listdir(upper / rel)
        )
        if empty and lower.lookup(rel) is None:
            skip.add(rel)
            parent = posixpath.dirname(rel)
            while parent:
                ancestors.add(parent)
                parent = posixpath.dirname(parent)
    # deepest first, so a parent sees its children's verdicts
    for rel in sorted(ancestors, key=lambda p: p.count("/"), reverse=True):
        path = upper / rel
        try:
            st = os.lstat(path)
            children = os.listdir(path)
        except OSError:
            continue
        if not stat.S_ISDIR(st.st_mode) or _getxattr(str(path), OPAQUE_XATTR) == b"y":
            continue
        if any(f"{rel}/{c}" not in skip for c in children):
            continue
        below = lower.lookup(rel)
        if below is None or (
            stat.S_ISDIR(below[1].st_mode)
            and below[1].st_mode == st.st_mode
            and (below[1].st_uid, below[1].st_gid) == (st.st_uid, st.st_gid)
        ):
            skip.add(rel)
    return skip


# ------------------------------------------------------------------------------------------ the union


class LayerUnion:
    """The filesystem a stack of overlay-form layer directories shows, topmost first."""

    def __init__(self, layers: Sequence[Path]) -> None:
        self.layers = [Path(p) for p in layers]

    # -- lookups (on store layers, which only we write) ---------------------------------------------

    def lookup(self, rel: str) -> tuple[Path, os.stat_result] | None:
        """The layer dir holding what the union shows at ``rel`` and its lstat; None if nothing is there.

        Symlinks are not followed (see :meth:`resolve`); a non-directory on the way means nothing is there.
        """
        parts = [p for p in rel.split("/") if p and p != "."]
        if not parts:
            if not self.layers:
                return None
            return self.layers[0], os.lstat(self.layers[0])
        candidates = list(self.layers)
        prefix = ""
        for i, part in enumerate(parts):
            path_rel = prefix + part
            nxt: list[Path] = []
            found: tuple[Path, os.stat_result] | None = None
            for layer in candidates:
                full = layer / path_rel
                try:
                    st = os.lstat(full)
                except (FileNotFoundError, NotADirectoryError):
                    continue
                if found is None:
                    if _is_whiteout(st, str(full)):
                        return None
                    found = (layer, st)
                    if not stat.S_ISDIR(st.st_mode):
                        break
                elif not stat.S_ISDIR(st.st_mode):
                    break  # a file or whiteout here hides the rest below
                nxt.append(layer)
                if _getxattr(str(full), OPAQUE_XATTR) == b"y":
                    break
            if found is None:
                return None
            if i == len(parts) - 1:
                return found
            if not stat.S_ISDIR(found[1].st_mode):
                return None
            candidates = nxt
            prefix = path_rel + "/"
        return None

    def listdir(self, rel: str) -> list[str]:
        """The names the union shows in directory ``rel`` (not symlink-resolved), sorted."""
        found = self.lookup(rel)
        if found is None or not stat.S_ISDIR(found[1].st_mode):
            return []
        names: set[str] = set()
        for layer in self.layers:
            # every layer's copy, hidden or not: the lookup below is the judge of what shows
            with contextlib.suppress(FileNotFoundError, NotADirectoryError):
                names.update(os.listdir(layer / rel if rel else layer))
        prefix = f"{rel}/" if rel else ""
        return sorted((n for n in names if self.lookup(prefix + n) is not None), key=os.fsencode)

    def resolve(self, path: str, *, follow_last: bool = True) -> str:
        """``path`` (absolute, inside the root) with every symlink resolved inside the root, like a lookup
        after chroot (see :func:`core.storage.rootpath.resolve_in_root`). Returns a relative path ("" for
        the root)."""
        return resolve_in_root(path, self._link_target, follow_last=follow_last)

    def _link_target(self, rel: str) -> str | None:
        found = self.lookup(rel)
        if found is None or not stat.S_ISLNK(found[1].st_mode):
            return None
        return os.readlink(found[0] / rel)

    def read_file(self, path: str, limit: int = 16 << 20) -> bytes | None:
        """The content of a regular file (symlinks resolved inside the root), or None."""
        rel = self.resolve(path)
        found = self.lookup(rel)
        if found is None or not stat.S_ISREG(found[1].st_mode):
            return None
        fd = os.open(found[0] / rel, _O_FILE)
        try:
            return os.read(fd, limit)
        finally:
            os.close(fd)

    # -- the merged tree as a tar (export; the top layer may be a running container's) ---------------

    def write_tar(self, out: _Writable) -> DiffStats:
        """Write the merged tree: what a process in the container would see, minus mounts."""
        tar = TarWriter(out)
        entries = _Entries(tar)
        fds: list[int] = []
        try:
            for layer in self.layers:
                fds.append(os.open(layer, _O_DIR))
            self._merge(fds, "", entries)
        finally:
            for fd in fds:
                os.close(fd)
        tar.close()
        return tar.stats

    def _merge(self, dirfds: list[int], prefix: str, entries: _Entries) -> None:
        """Emit the merged children of one directory; ``dirfds`` are the layers' copies of it, topmost
        first, already cut at the first opaque one."""
        names: set[str] = set()
        listing: list[set[str]] = []
        for fd in dirfds:
            try:
                found = set(os.listdir(fd))
            except OSError:
                found = set()
            listing.append(found)
            names |= found
        for base in sorted(names, key=os.fsencode):
            name = prefix + base
            top: tuple[int, os.stat_result] | None = None
            below: list[int] = []  # fds of this name's directory in the layers that merge into it
            for fd, found in zip(dirfds, listing, strict=True):
                if base not in found:
                    continue
                try:
                    st = os.stat(base, dir_fd=fd, follow_symlinks=False)
                except FileNotFoundError:
                    continue
                if top is None:
                    top = (fd, st)
                    if _is_whiteout(st, _fdpath(fd, base)) or not stat.S_ISDIR(st.st_mode):
                        break
                elif not stat.S_ISDIR(st.st_mode):
                    break
                below.append(fd)
                if _getxattr(_fdpath(fd, base), OPAQUE_XATTR) == b"y":
                    break
            if top is None:
                continue
            fd, st = top
            if _is_whiteout(st, _fdpath(fd, base)):
                continue
            if not stat.S_ISDIR(st.st_mode):
                entries.emit(name, st, fd, base)
                continue
            entries.directory(name, st, fd, base)
            child_fds: list[int] = []
            try:
                for parent_fd in below:
                    child_fds.append(_open_dir(base, parent_fd))
                self._merge(child_fds, name + "/", entries)
            finally:
                for cfd in child_fds:
                    os.close(cfd)


# ------------------------------------------------------------------------------------ hashing writers


class HashingWriter:
    """Counts and hashes what passes on to ``dst`` (the DiffID of an uncompressed layer stream)."""

    def __init__(self, dst: _Writable | None = None) -> None:
        self.dst = dst
        self.sha = hashlib.sha256()
        self.count = 0

    def write(self, data: bytes) -> int:
        self.sha.update(data)
        self.count += len(data)
        if self.dst is not None:
            self.dst.write(data)
        return len(data)

    @property
    def digest(self) -> str:
        return "sha256:" + self.sha.hexdigest()


__all__ = [
    "DiffStats",
    "HashingWriter",
    "LayerUnion",
    "TarWriter",
    "write_diff",
]


# docker's change kinds (``GET /containers/{id}/changes``, ``docker diff``)
CHANGE_MODIFIED, CHANGE_ADDED, CHANGE_DELETED = 0, 1, 2


def changes(
    upper: Path, *, lowers: Sequence[Path] = (), mountpoints: Collection[str] = ()
) -> list[tuple[str, int]]:
    """``docker diff``: every path the container's upper directory changes, as ``(path, kind)`` sorted by
    path: added where no lower layer has it, modified where one does (a directory that holds a change is
    modified too, as docker reports it), deleted where the upper holds a whiteout. Below an opaque
    directory everything counts as added: the lower contents are hidden there."""
    union = LayerUnion(lowers)
    skip = _scaffolding(upper, union, mountpoints) if mountpoints else set()
    out: list[tuple[str, int]] = []
    root = os.open(upper, _O_DIR)
    try:
        _walk_changes(root, "", skip, union, out, fresh=False)
    finally:
        os.close(root)
    return sorted(out)


def _walk_changes(
    dirfd: int, prefix: str, skip: set[str], union: LayerUnion, out: list[tuple[str, int]], *, fresh: bool
) -> None:
    for name, base, st, xpath in _upper_entries(dirfd, prefix, skip):
        if _is_whiteout(st, xpath):
            out.append(("/" + name, CHANGE_DELETED))
            continue
        below = not fresh and union.lookup(name) is not None
        out.append(("/" + name, CHANGE_MODIFIED if below else CHANGE_ADDED))
        if not stat.S_ISDIR(st.st_mode):
            continue
        try:
            fd = _open_dir(base, dirfd)
        except OSError as err:
            if err.errno not in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP):
                raise
            continue
        try:
            opaque = _getxattr(xpath, OPAQUE_XATTR) == b"y"
            _walk_changes(fd, name + "/", skip, union, out, fresh=fresh or not below or opaque)
        finally:
            os.close(fd)
