"""``cp`` between a container and the host, safe against symlinks in the container.

Every path inside the container is resolved by a child process that has entered the container's root: it
joins the running container's mount namespace (``setns``), or, for a stopped container, mounts the overlay in
a mount namespace of its own and ``chroot``s into it. Absolute and relative symlinks in the image then resolve
inside the container, as they would for the container's own processes, and can never name a host path.
The child and this process exchange a tar stream over a pipe: the host side only ever reads or writes the
host path the user named, and extracts what comes from the container with :mod:`core.storage.tarsafe`.
"""

from __future__ import annotations

import contextlib
import grp  # noqa: F401 - tarfile looks owners up; loaded before we enter the container's root
import json
import os
import pwd  # noqa: F401
import shutil
import signal
import stat
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from core.config import Paths
from core.containers.store import ContainerRecord
from core.errors import DockyardError, InvalidArgument, NotFound, RuntimeFailure
from core.models import LIVE_STATES
from core.storage import tarsafe
from core.storage.layers import LayerStore

_CHUNK = 1 << 20


# ------------------------------------------------------------------ in the container's root


def _enter_root(paths: Paths, layers: LayerStore, rec: ContainerRecord) -> None:
    """Runs in the forked child: afterwards "/" is the container's root filesystem."""
    from core.runtime import linux

    pid = rec.state.pid if rec.state.status in LIVE_STATES else 0
    if pid:
        linux.setns_path(f"/proc/{pid}/ns/mnt", linux.CLONE_NEWNS)
        os.chdir("/")
        return
    linux.unshare(linux.CLONE_NEWNS)
    linux.mount(None, "/", None, linux.MS_REC | linux.MS_PRIVATE)
    cdir = paths.container(rec.id)
    from core.containers.initlayer import init_layer

    init = init_layer(cdir)
    lower = ":".join(
        [*([str(init)] if init else []), *(str(layers.diff_dir(c)) for c in reversed(rec.layers))]
    )
    target = str(cdir / "rootfs")
    linux.mount(
        "overlay", target, "overlay", 0, f"lowerdir={lower},upperdir={cdir / 'upper'},workdir={cdir / 'work'}"
    )
    os.chdir(target)
    os.chroot(".")
    os.chdir("/")


def _child_result(pid: int, err_r: int) -> None:
    _pid, status = os.waitpid(pid, 0)
    message = b""
    with contextlib.suppress(OSError):
        while chunk := os.read(err_r, 65536):
            message += chunk
    os.close(err_r)
    if os.waitstatus_to_exitcode(status) != 0:
        text = message.decode(errors="replace").strip().splitlines()
        raise _error(text[-1] if text else "copy failed in the container")


def _error(text: str) -> DockyardError:
    try:
        obj = json.loads(text)
    except ValueError:
        return RuntimeFailure(text)
    kind = obj.get("kind")
    msg = str(obj.get("message", "copy failed"))
    if kind == "notfound":
        return NotFound(msg)
    if kind == "invalid":
        return InvalidArgument(msg)
    return RuntimeFailure(msg)


def _fail(kind: str, message: str) -> None:
    os.write(2, (json.dumps({"kind": kind, "message": message}) + "\n").encode())
    os._exit(1)


def _spawn(
    paths: Paths, layers: LayerStore, rec: ContainerRecord, work: Callable[[int], None], data_fd: int
) -> tuple[int, int]:
    """Fork the in-container child with its stderr on a pipe we read for errors; (pid, err_r)."""
    err_r, err_w = os.pipe2(os.O_CLOEXEC)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        try:
            os.dup2(err_w, 2)
            signal.signal(signal.SIGPIPE, signal.SIG_DFL)
            # nothing of ours but the data pipe and stderr may cross into the container's root
            os.closerange(3, data_fd)
            os.closerange(data_fd + 1, 1 << 16)
            _enter_root(paths, layers, rec)
            work(data_fd)
        except SystemExit:
            raise
        except BaseException as err:
            with contextlib.suppress(Exception):
                os.write(2, (json.dumps({"kind": "runtime", "message": str(err)}) + "\n").encode())
            os._exit(1)
        os._exit(0)
    os.close(err_w)
    return pid, err_r


# ---------------------------------------------------------------------------- stat


def stat_path(paths: Paths, layers: LayerStore, rec: ContainerRecord, path: str) -> dict[str, Any] | None:
    """What ``path`` is inside the container (resolving symlinks inside it): {"type": "dir"|"file"|...} or
    None if it does not exist."""
    r, w = os.pipe2(0)

    def work(fd: int) -> None:
        info: dict[str, Any]
        try:
            st = os.stat(path)
            info = {"type": "dir" if stat.S_ISDIR(st.st_mode) else "file", "mode": st.st_mode}
        except FileNotFoundError:
            info = {"type": None}
        except NotADirectoryError:
            info = {"type": None, "notdir": True}
        os.write(fd, json.dumps(info).encode())
        os.close(fd)

    pid, err_r = _spawn(paths, layers, rec, work, w)
    os.close(w)
    data = b""
    while chunk := os.read(r, 65536):
        data += chunk
    os.close(r)
    _child_result(pid, err_r)
    info: dict[str, Any] = json.loads(data)
    return info if info.get("type") else None


# ------------------------------------------------------------------ container -> host


def _tar_out(src: str, arcname: str, out_fd: int) -> None:
    """In the container: write ``src`` as a tar stream, its top entry named ``arcname``."""
    try:
        os.lstat(src.rstrip("/") or "/")
        resolved = os.path.realpath(src) if src.endswith("/.") or src.endswith("/") else src
        os.lstat(resolved)
    except FileNotFoundError:
        _fail("notfound", f"Could not find the file {src} in container")
    with (
        os.fdopen(out_fd, "wb", buffering=_CHUNK) as out,
        tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tf,
    ):
        if src.endswith("/."):
            base = src[:-2] or "/"
            for name in sorted(os.listdir(base)):
                tf.add(os.path.join(base, name), arcname=name)
        else:
            tf.add(resolved, arcname=arcname)


def copy_out(
    paths: Paths,
    layers: LayerStore,
    rec: ContainerRecord,
    src: str,
    sink: BinaryIO,
    arcname: str | None = None,
) -> None:
    """Write a tar of the container's ``src`` to ``sink`` (``docker cp CONTAINER:SRC -``)."""
    if not src.startswith("/"):
        src = "/" + src
    name = arcname if arcname is not None else (os.path.basename(src.rstrip("/")) or "/")
    r, w = os.pipe2(0)
    pid, err_r = _spawn(paths, layers, rec, lambda fd: _tar_out(src, name, fd), w)
    os.close(w)
    try:
        with os.fdopen(r, "rb", buffering=0) as src_pipe:
            while chunk := src_pipe.read(_CHUNK):
                sink.write(chunk)
    finally:
        _child_result(pid, err_r)


def copy_to_host(
    paths: Paths, layers: LayerStore, rec: ContainerRecord, src: str, dest: str, *, archive: bool = False
) -> None:
    """``docker cp CONTAINER:SRC DEST`` with docker's rules for what lands where."""
    info = stat_path(paths, layers, rec, src.removesuffix("/.") or "/")
    if info is None:
        raise NotFound(f"Could not find the file {src} in container {rec.name}")
    dest_path = Path(dest)
    contents_only = src.endswith("/.")
    name: str | None
    if dest_path.is_dir():
        target_dir, name = dest_path, os.path.basename(src.rstrip("/")) or "root"
        if contents_only:
            target_dir, name = dest_path, None
    else:
        if dest.endswith("/") and info["type"] != "dir":
            raise InvalidArgument(f"destination directory {dest} does not exist")
        if not dest_path.parent.is_dir():
            raise InvalidArgument(f"destination directory {dest_path.parent} does not exist")
        if contents_only or info["type"] == "dir":
            dest_path.mkdir()
            target_dir, name = dest_path, None
            contents_only = True
        else:
            target_dir, name = dest_path.parent, dest_path.name
    staging = Path(target_dir) / f".dockyard-cp-{os.getpid()}"
    staging.mkdir(mode=0o700)
    try:
        r, w = os.pipe2(0)
        arc = "." if contents_only else (name or "x")
        src_in = src if not contents_only or src.endswith("/.") else src.rstrip("/") + "/."
        pid, err_r = _spawn(paths, layers, rec, lambda fd: _tar_out(src_in, arc, fd), w)
        os.close(w)
        try:
            with os.fdopen(r, "rb", buffering=0) as pipe:
                tarsafe.extract(pipe, staging, preserve_owner=archive)
        finally:
            _child_result(pid, err_r)
        for entry in sorted(os.listdir(staging)):
            _merge(staging / entry, Path(target_dir) / entry)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _merge(src: Path, dst: Path) -> None:
    """Move ``src`` to ``dst``: directories merge, anything else replaces (like ``cp -a`` onto a tree)."""
    if stat.S_ISDIR(os.lstat(src).st_mode) and dst.is_dir() and not dst.is_symlink():
        for entry in os.listdir(src):
            _merge(src / entry, dst / entry)
        shutil.copystat(src, dst, follow_symlinks=False)
        return
    if os.path.lexists(dst):
        if dst.is_dir() and not dst.is_symlink():
            shutil.rmtree(dst)
        else:
            dst.unlink()
    os.rename(src, dst)


# ------------------------------------------------------------------ host -> container


def _untar_in(dest_dir: str, rename_to: str | None, archive: bool, in_fd: int) -> None:
    """In the container: extract the tar on ``in_fd`` into ``dest_dir`` (staged, then merged)."""
    if not os.path.isdir(dest_dir):
        _fail("invalid", f"destination directory {dest_dir} does not exist in the container")
    staging = os.path.join(dest_dir, f".dockyard-cp-{os.getpid()}")
    os.mkdir(staging, 0o700)
    try:
        with os.fdopen(in_fd, "rb", buffering=0) as pipe:
            tarsafe.extract(pipe, Path(staging), preserve_owner=archive)
        entries = sorted(os.listdir(staging))
        if rename_to is not None and len(entries) == 1:
            _merge(Path(staging) / entries[0], Path(dest_dir) / rename_to)
        else:
            for entry in entries:
                _merge(Path(staging) / entry, Path(dest_dir) / entry)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def copy_in(
    paths: Paths,
    layers: LayerStore,
    rec: ContainerRecord,
    dest: str,
    source: BinaryIO,
    *,
    rename_to: str | None = None,
    archive: bool = False,
) -> None:
    """Extract the tar ``source`` into the container's directory ``dest`` (``docker cp - CONTAINER:DEST``)."""
    if not dest.startswith("/"):
        dest = "/" + dest
    r, w = os.pipe2(0)
    pid, err_r = _spawn(paths, layers, rec, lambda fd: _untar_in(dest, rename_to, archive, fd), r)
    os.close(r)
    try:
        with os.fdopen(w, "wb", buffering=0) as pipe, contextlib.suppress(BrokenPipeError):
            while chunk := source.read(_CHUNK):
                pipe.write(chunk)
    finally:
        _child_result(pid, err_r)


def copy_from_host(
    paths: Paths, layers: LayerStore, rec: ContainerRecord, src: str, dest: str, *, archive: bool = False
) -> None:
    """``docker cp SRC CONTAINER:DEST``."""
    import io
    import threading

    src_path = Path(src.removesuffix("/."))
    if not os.path.lexists(src_path):
        raise NotFound(f"could not find the file {src} on the host")
    if not dest.startswith("/"):
        dest = "/" + dest
    info = stat_path(paths, layers, rec, dest)
    contents_only = src.endswith("/.")
    if info is not None and info["type"] == "dir":
        dest_dir, rename_to = dest, None
    else:
        if dest.endswith("/"):
            raise InvalidArgument(f"destination directory {dest} does not exist in the container")
        dest_dir, rename_to = os.path.dirname(dest.rstrip("/")) or "/", os.path.basename(dest.rstrip("/"))
        if contents_only and src_path.is_dir():
            # SRC/. onto a missing DEST: DEST is created with SRC's contents
            contents_only = False
    r, w = os.pipe2(0)
    failure: list[BaseException] = []

    def produce() -> None:
        try:
            with (
                os.fdopen(w, "wb", buffering=_CHUNK) as out,
                tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tf,
            ):
                if contents_only:
                    for name in sorted(os.listdir(src_path)):
                        tf.add(str(src_path / name), arcname=name)
                else:
                    tf.add(str(src_path), arcname=src_path.name or "root")
        except BaseException as err:  # the consumer sees a truncated tar and fails too
            failure.append(err)

    thread = threading.Thread(target=produce, daemon=True)
    thread.start()
    try:
        with os.fdopen(r, "rb", buffering=0) as pipe:
            copy_in(
                paths,
                layers,
                rec,
                dest_dir,
                io.BufferedReader(pipe),
                rename_to=None if contents_only else rename_to,
                archive=archive,
            )
    finally:
        thread.join()
    if failure and not isinstance(failure[0], BrokenPipeError):
        raise RuntimeFailure(f"reading {src}: {failure[0]}")


# ------------------------------------------------------------ image content -> new volume


def _copy_tree_to_fd(src: str, dst_fd: int) -> None:
    """In the container: copy the contents of ``src`` into the directory ``dst_fd`` (a new, empty volume),
    preserving owners, modes, times and links. Never follows a link on either side."""
    try:
        top = os.stat(src)
    except (FileNotFoundError, NotADirectoryError):
        return  # nothing at that path in the image: the volume stays empty, as with docker
    if not stat.S_ISDIR(top.st_mode):
        return
    os.fchown(dst_fd, top.st_uid, top.st_gid)
    os.fchmod(dst_fd, stat.S_IMODE(top.st_mode))
    links: dict[tuple[int, int], tuple[int, str]] = {}

    def walk(path: str, dfd: int) -> None:
        with os.scandir(path) as it:
            entries = sorted(it, key=lambda e: e.name)
        for e in entries:
            st = e.stat(follow_symlinks=False)
            name = e.name
            if stat.S_ISDIR(st.st_mode):
                os.mkdir(name, 0o700, dir_fd=dfd)
                sub = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=dfd)
                try:
                    walk(e.path, sub)
                    os.fchown(sub, st.st_uid, st.st_gid)
                    os.fchmod(sub, stat.S_IMODE(st.st_mode))
                    os.utime(sub, ns=(st.st_atime_ns, st.st_mtime_ns))
                finally:
                    os.close(sub)
                continue
            key = (st.st_dev, st.st_ino)
            if st.st_nlink > 1 and key in links:
                first_fd, first_name = links[key]
                os.link(first_name, name, src_dir_fd=first_fd, dst_dir_fd=dfd, follow_symlinks=False)
                continue
            if stat.S_ISLNK(st.st_mode):
                os.symlink(os.readlink(e.path), name, dir_fd=dfd)
            elif stat.S_ISREG(st.st_mode):
                with open(e.path, "rb") as fsrc:
                    fd = os.open(
                        name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600, dir_fd=dfd
                    )
                    with os.fdopen(fd, "wb") as fdst:
                        shutil.copyfileobj(fsrc, fdst, _CHUNK)
            elif stat.S_ISFIFO(st.st_mode) or stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                os.mknod(name, st.st_mode, st.st_rdev, dir_fd=dfd)
            else:
                continue  # sockets are not copied
            os.chown(name, st.st_uid, st.st_gid, dir_fd=dfd, follow_symlinks=False)
            if not stat.S_ISLNK(st.st_mode):
                os.chmod(name, stat.S_IMODE(st.st_mode), dir_fd=dfd)
            os.utime(name, ns=(st.st_atime_ns, st.st_mtime_ns), dir_fd=dfd, follow_symlinks=False)
            if st.st_nlink > 1:
                links[key] = (dfd, name)

    walk(src, dst_fd)


def populate_volume(
    paths: Paths, layers: LayerStore, rec: ContainerRecord, target: str, volume_dir: Path
) -> None:
    """Docker's copy-up: a new, empty volume mounted over a path the image has content at gets that content
    first. The image side is read inside the container's root (a private overlay mount), so its symlinks
    cannot point the copy at host files."""
    dst = os.open(volume_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        os.set_inheritable(dst, True)
        pid, err_r = _spawn(paths, layers, rec, lambda fd: _copy_tree_to_fd(target, fd), dst)
    finally:
        os.close(dst)
    _child_result(pid, err_r)
