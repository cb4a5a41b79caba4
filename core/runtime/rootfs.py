"""Build a container's root filesystem inside its own mount namespace, then pivot into it.

Called by :mod:`core.runtime.init` in the container's PID 1 before it execs, in this order (runc's):

1. :func:`mount_overlay` - the image layers plus the writable layer, on the container's ``rootfs/`` dir. The
   mount exists only in the new mount namespace, so it vanishes with the container, even after kill -9.
2. :func:`mount_all` - /proc, a minimal /dev (tmpfs, device nodes, devpts, shm, mqueue), read-only /sys and
   /sys/fs/cgroup, then the user's binds, volumes and tmpfs mounts.
3. :func:`pivot` - pivot_root(".", ".") and a lazy unmount of the old root: nothing of the host stays visible.
4. :func:`mask_paths`, :func:`readonly_paths`, :func:`readonly_root` - after the pivot, like runc.

Every mount target is resolved *inside* the root: openat2(RESOLVE_IN_ROOT) (or a component-by-component walk
with O_NOFOLLOW on old kernels), so a symlink in the image such as ``/data -> /etc`` lands on the container's
/etc, never the host's. The mount itself is done on ``/proc/self/fd/N`` of the resolved O_PATH fd, so the
path cannot be swapped between the check and the mount. Mount sources for masking are verified too
(/dev/null must be the character device 1:3, CVE-2025-31133).
"""

from __future__ import annotations

import errno
import os
import stat
from collections import deque
from collections.abc import Callable

from core.runtime import linux
from core.runtime.linux import (
    MS_BIND,
    MS_NODEV,
    MS_NOEXEC,
    MS_NOSUID,
    MS_RDONLY,
    MS_REC,
    MS_REMOUNT,
    MS_STRICTATIME,
    fd_path,
)
from core.runtime.spec import ContainerSpec, MountSpec, RootfsSpec

_O_PATH = os.O_PATH | os.O_CLOEXEC
_MAX_SYMLINKS = 40

# runc's list: bind targets allowed under /proc (lxcfs-style overrides); anything else there is refused.
_PROC_ALLOWED = frozenset(
    {
        "proc/cpuinfo",
        "proc/diskstats",
        "proc/meminfo",
        "proc/stat",
        "proc/swaps",
        "proc/uptime",
        "proc/loadavg",
        "proc/slabinfo",
        "proc/net/dev",
        "proc/sys/kernel/ns_last_pid",
    }
)

# name, major, minor: runc's default devices, each 0666 root:root.
_DEVICES = (
    ("null", 1, 3),
    ("zero", 1, 5),
    ("full", 1, 7),
    ("random", 1, 8),
    ("urandom", 1, 9),
    ("tty", 5, 0),
)
_DEV_LINKS = (
    ("/proc/self/fd", "fd"),
    ("/proc/self/fd/0", "stdin"),
    ("/proc/self/fd/1", "stdout"),
    ("/proc/self/fd/2", "stderr"),
    ("pts/ptmx", "ptmx"),
)

_PROPAGATION = {
    "private": linux.MS_PRIVATE,
    "rprivate": linux.MS_PRIVATE | MS_REC,
    "slave": linux.MS_SLAVE,
    "rslave": linux.MS_SLAVE | MS_REC,
    "shared": linux.MS_SHARED,
    "rshared": linux.MS_SHARED | MS_REC,
}
_FLAG_OPTIONS = {
    "ro": (MS_RDONLY, True),
    "rw": (MS_RDONLY, False),
    "nosuid": (MS_NOSUID, True),
    "suid": (MS_NOSUID, False),
    "nodev": (MS_NODEV, True),
    "dev": (MS_NODEV, False),
    "noexec": (MS_NOEXEC, True),
    "exec": (MS_NOEXEC, False),
    "noatime": (linux.MS_NOATIME, True),
    "nodiratime": (linux.MS_NODIRATIME, True),
    "relatime": (linux.MS_RELATIME, True),
    "strictatime": (MS_STRICTATIME, True),
}
_MOUNT_DATA_MAX = 4000  # mount(2) copies at most one page of options


class SetupError(Exception):
    """A step of the root filesystem set-up failed; the message names the step and the path."""


def _err(what: str, err: OSError) -> SetupError:
    text = err.strerror or str(err)
    return SetupError(f"{what}: {text[:1].lower()}{text[1:]}")  # runc's (and docker's) lowercase style


# -- resolving paths inside the root ---------------------------------------------------------------------


def open_in_root(rootfd: int, path: str, *, create: str | None = None, mode: int = 0o755) -> int:
    """An O_PATH fd for ``path`` resolved with ``rootfd`` as "/", following symlinks only inside the root.

    ``create`` is None (the path must exist), "dir" or "file": missing components are made as directories
    and the last one as ``create`` says. Raises OSError (FileNotFoundError, NotADirectoryError, ELOOP...).
    """
    if linux.have_openat2():
        try:
            return linux.openat2(
                rootfd, path, os.O_PATH, 0, linux.RESOLVE_IN_ROOT | linux.RESOLVE_NO_MAGICLINKS
            )
        except FileNotFoundError:
            if create is None:
                raise
    return _walk_in_root(rootfd, path, create, mode)


def _walk_in_root(rootfd: int, path: str, create: str | None, mode: int) -> int:
    """Resolve one component at a time with O_NOFOLLOW, reading symlinks ourselves and clamping at the
    root, creating what is missing. Used to create mountpoints, and when openat2 is unavailable."""
    parts = deque(p for p in path.split("/") if p not in ("", "."))
    stack = [rootfd]  # stack[1:] are fds we opened; ".." pops, never past the root
    links = 0
    try:
        while parts:
            name = parts.popleft()
            if name == "..":
                if len(stack) > 1:
                    os.close(stack.pop())
                continue
            parent = stack[-1]
            try:
                fd = os.open(name, _O_PATH | os.O_NOFOLLOW, dir_fd=parent)
            except FileNotFoundError:
                if create is None:
                    raise
                if not parts and create == "file":
                    try:
                        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
                        os.close(os.open(name, flags, 0o644, dir_fd=parent))
                    except FileExistsError:
                        pass
                else:
                    try:
                        os.mkdir(name, mode, dir_fd=parent)
                    except FileExistsError:
                        pass
                fd = os.open(name, _O_PATH | os.O_NOFOLLOW, dir_fd=parent)
            st = os.fstat(fd)
            if stat.S_ISLNK(st.st_mode):
                links += 1
                try:
                    target = os.readlink("", dir_fd=fd)
                finally:
                    os.close(fd)
                if links > _MAX_SYMLINKS:
                    raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), path)
                if target.startswith("/"):
                    while len(stack) > 1:
                        os.close(stack.pop())
                parts.extendleft(reversed([p for p in target.split("/") if p not in ("", ".")]))
                continue
            if parts and not stat.S_ISDIR(st.st_mode):
                os.close(fd)
                raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), path)
            stack.append(fd)
        return stack.pop() if len(stack) > 1 else os.dup(rootfd)
    finally:
        for fd in stack[1:]:
            os.close(fd)


def _path_in_root(rootfd: int, fd: int) -> str:
    """Where ``fd`` is, relative to the root ("" for the root itself); for checks and messages only."""
    root = os.readlink(fd_path(rootfd)).rstrip("/")
    where = os.readlink(fd_path(fd))
    if where == root:
        return ""
    if not where.startswith(root + "/"):
        raise SetupError(f"{where} resolved outside the container's root")
    return where[len(root) + 1 :]


# -- the overlay -----------------------------------------------------------------------------------------


def make_mounts_slave() -> None:
    """Stop every mount we make from propagating to the host (runc's default rootfs propagation)."""
    linux.mount(None, "/", None, linux.MS_SLAVE | MS_REC)


def mount_overlay(rootfs: RootfsSpec) -> None:
    target = rootfs.mountpoint
    if rootfs.upper is None and len(rootfs.lower) == 1:
        # overlay needs two lower layers without an upper one: a read-only bind does the same job
        try:
            linux.mount(rootfs.lower[0], target, None, MS_BIND | MS_REC)
            linux.mount(None, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY)
        except OSError as err:
            raise _err(f"mount rootfs {rootfs.lower[0]} on {target}", err) from None
        return
    dirs = [*rootfs.lower, *([rootfs.upper, rootfs.work] if rootfs.upper and rootfs.work else [])]
    data = _overlay_options(rootfs, lambda p: p)
    cwd = None
    if len(data) > _MOUNT_DATA_MAX:
        # docker's trick for long layer chains: name the layers relative to their common parent
        base = os.path.commonpath(dirs)
        data = _overlay_options(rootfs, lambda p: os.path.relpath(p, base))
        if len(data) > _MOUNT_DATA_MAX:
            raise SetupError(f"too many layers ({len(rootfs.lower)}) for one overlay mount")
        cwd = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        os.chdir(base)
    try:
        linux.mount("overlay", target, "overlay", 0, data)
    except OSError as err:
        raise _err(f"mount overlay rootfs on {target}", err) from None
    finally:
        if cwd is not None:
            os.fchdir(cwd)
            os.close(cwd)


def _overlay_options(rootfs: RootfsSpec, conv: Callable[[str], str]) -> str:
    opts = "lowerdir=" + ":".join(conv(p) for p in rootfs.lower)
    if rootfs.upper and rootfs.work:
        opts += f",upperdir={conv(rootfs.upper)},workdir={conv(rootfs.work)}"
    return opts


# -- mounts inside the root ------------------------------------------------------------------------------


def owns_dev(spec: ContainerSpec) -> bool:
    """False when the user mounts something on /dev: then /dev and everything below it is theirs."""
    return all(_norm(m.destination) != "/dev" for m in spec.mounts)


def mount_all(spec: ContainerSpec, rootfd: int) -> None:
    """The system mounts (unless a user mount takes their place), /dev's nodes, then the user's mounts."""
    user_dests = {_norm(m.destination) for m in spec.mounts}
    own_dev = owns_dev(spec)

    def wanted(dest: str) -> bool:
        return dest not in user_dests and (own_dev or not dest.startswith("/dev/"))

    nse = MS_NOSUID | MS_NOEXEC | MS_NODEV
    if wanted("/proc"):
        _mount_fs(rootfd, "/proc", "proc", "proc", nse)
    if own_dev:
        _mount_fs(rootfd, "/dev", "tmpfs", "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k")
        _make_dev_nodes(rootfd)
    if wanted("/dev/pts"):
        data = "newinstance,ptmxmode=0666,mode=0620,gid=5"
        _mount_fs(rootfd, "/dev/pts", "devpts", "devpts", MS_NOSUID | MS_NOEXEC, data)
    if wanted("/dev/shm") and spec.shm:
        _mount_fs(rootfd, "/dev/shm", "tmpfs", "shm", nse, f"mode=1777,size={spec.shm_size}")
    if wanted("/dev/mqueue"):
        _mount_fs(rootfd, "/dev/mqueue", "mqueue", "mqueue", nse)
    if wanted("/sys"):
        _mount_fs(rootfd, "/sys", "sysfs", "sysfs", nse | MS_RDONLY)
        if wanted("/sys/fs/cgroup"):
            _mount_cgroup(rootfd)
    for dev in spec.devices:
        _make_device(rootfd, dev.host_path, dev.path or dev.host_path)
    # parents before children, whatever order the user gave them in (docker sorts the same way)
    for m in sorted(spec.mounts, key=lambda m: _norm(m.destination).count("/")):
        if m.type == "tmpfs":
            _mount_tmpfs(rootfd, m)
        else:
            _mount_bind(rootfd, m)


def _norm(path: str) -> str:
    return "/" + "/".join(p for p in path.split("/") if p not in ("", "."))


def _mount_fs(rootfd: int, dest: str, fstype: str, source: str, flags: int, data: str | None = None) -> None:
    try:
        fd = open_in_root(rootfd, dest, create="dir")
    except OSError as err:
        raise _err(f"create mountpoint {dest}", err) from None
    try:
        linux.mount(source, fd_path(fd), fstype, flags, data)
    except OSError as err:
        raise _err(f"mount {fstype} on {dest}", err) from None
    finally:
        os.close(fd)


def _make_dev_nodes(rootfd: int) -> None:
    devfd = open_in_root(rootfd, "/dev")
    old = os.umask(0)
    try:
        for name, major, minor in _DEVICES:
            try:
                os.mknod(name, stat.S_IFCHR | 0o666, os.makedev(major, minor), dir_fd=devfd)
            except OSError as err:
                raise _err(f"mknod /dev/{name}", err) from None
        for target, name in _DEV_LINKS:
            os.symlink(target, name, dir_fd=devfd)
    finally:
        os.umask(old)
        os.close(devfd)


def _make_device(rootfd: int, host_path: str, path: str) -> None:
    try:
        st = os.stat(host_path)
    except OSError as err:
        raise _err(f"device {host_path}", err) from None
    if not (stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)):
        raise SetupError(f"device {host_path} is not a character or block device")
    parent, _, name = _norm(path).rpartition("/")
    try:
        dirfd = open_in_root(rootfd, parent or "/", create="dir")
    except OSError as err:
        raise _err(f"create directory for device {path}", err) from None
    old = os.umask(0)
    try:
        os.mknod(name, stat.S_IFMT(st.st_mode) | stat.S_IMODE(st.st_mode), st.st_rdev, dir_fd=dirfd)
        os.chown(name, st.st_uid, st.st_gid, dir_fd=dirfd, follow_symlinks=False)
    except FileExistsError:
        pass
    except OSError as err:
        raise _err(f"mknod {path}", err) from None
    finally:
        os.umask(old)
        os.close(dirfd)


def _mount_cgroup(rootfd: int) -> None:
    """/sys/fs/cgroup read-only: cgroup2 on a unified host; on v1/hybrid a tmpfs holding each hierarchy."""
    hierarchies = []
    unified = False
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            mountpoint = left.split()[4]
            fstype, _source, superopts = right.split()[:3]
            if mountpoint == "/sys/fs/cgroup" and fstype == "cgroup2":
                unified = True
            elif mountpoint.startswith("/sys/fs/cgroup/") and fstype in ("cgroup", "cgroup2"):
                opts = ",".join(o for o in superopts.split(",") if o not in ("rw", "ro"))
                hierarchies.append((mountpoint.rsplit("/", 1)[1], fstype, opts))
    ro = MS_NOSUID | MS_NOEXEC | MS_NODEV | MS_RDONLY
    if unified:
        _mount_fs(rootfd, "/sys/fs/cgroup", "cgroup2", "cgroup2", ro)
        return
    if not hierarchies:
        return
    _mount_fs(rootfd, "/sys/fs/cgroup", "tmpfs", "tmpfs", MS_NOSUID | MS_NOEXEC | MS_NODEV, "mode=755")
    for name, fstype, opts in hierarchies:
        _mount_fs(rootfd, f"/sys/fs/cgroup/{name}", fstype, fstype, ro, opts or None)
    cgfd = open_in_root(rootfd, "/sys/fs/cgroup")
    try:
        for name, _fstype, _opts in hierarchies:
            if "," in name:  # co-mounted controllers (cpu,cpuacct): docker adds a link for each
                for part in name.split(","):
                    try:
                        os.symlink(name, part, dir_fd=cgfd)
                    except FileExistsError:
                        pass
    finally:
        os.close(cgfd)
    _remount(rootfd, "/sys/fs/cgroup", MS_RDONLY)


def _mount_tmpfs(rootfd: int, m: MountSpec) -> None:
    flags, _propagation, data = parse_options(m.options)
    fd = _target(rootfd, m.destination, "dir")
    try:
        linux.mount("tmpfs", fd_path(fd), "tmpfs", flags, ",".join(data) or None)
    except OSError as err:
        raise _err(f"mount tmpfs on {m.destination}", err) from None
    finally:
        os.close(fd)


def _mount_bind(rootfd: int, m: MountSpec) -> None:
    flags, propagation, _data = parse_options(m.options)
    try:
        src = os.open(m.source, _O_PATH)
    except OSError as err:
        raise _err(f"bind source {m.source}", err) from None
    try:
        is_dir = stat.S_ISDIR(os.fstat(src).st_mode)
        fd = _target(rootfd, m.destination, "dir" if is_dir else "file")
        try:
            if stat.S_ISDIR(os.fstat(fd).st_mode) != is_dir:
                what = ("directory", "file") if is_dir else ("file", "directory")
                raise SetupError(
                    f"cannot mount {what[0]} {m.source} on {m.destination}: it is a {what[1]} in the"
                    " container (are you trying to mount a directory onto a file, or the reverse?)"
                )
            rec = 0 if "bind" in m.options else MS_REC
            linux.mount(fd_path(src), fd_path(fd), None, MS_BIND | rec)
        except OSError as err:
            raise _err(f"bind mount {m.source} on {m.destination}", err) from None
        finally:
            os.close(fd)
    finally:
        os.close(src)
    try:
        fd = open_in_root(rootfd, m.destination)  # re-resolve: now the new mount is on top
        try:
            linux.mount(None, fd_path(fd), None, propagation or (linux.MS_PRIVATE | MS_REC))
            if flags:
                linux.mount(None, fd_path(fd), None, MS_BIND | MS_REMOUNT | flags | linux.mount_flags_of(fd))
        finally:
            os.close(fd)
    except OSError as err:
        raise _err(f"set options {','.join(m.options)} on {m.destination}", err) from None


def _target(rootfd: int, dest: str, kind: str) -> int:
    """Resolve (creating if needed) a user mount's destination inside the root and refuse /proc and /."""
    try:
        fd = open_in_root(rootfd, dest, create=kind)
    except OSError as err:
        raise _err(f"create mountpoint {dest}", err) from None
    try:
        where = _path_in_root(rootfd, fd)
        if where == "" or ((where == "proc" or where.startswith("proc/")) and where not in _PROC_ALLOWED):
            raise SetupError(f"mount destination {dest} resolves to /{where}, where mounts are not allowed")
    except BaseException:
        os.close(fd)
        raise
    return fd


def parse_options(options: list[str]) -> tuple[int, int, list[str]]:
    """mount(8)-style options to (MS_* flags, propagation flags, filesystem data items)."""
    flags = 0
    propagation = 0
    data = []
    for opt in options:
        if opt in _FLAG_OPTIONS:
            bit, on = _FLAG_OPTIONS[opt]
            flags = flags | bit if on else flags & ~bit
        elif opt in _PROPAGATION:
            propagation = _PROPAGATION[opt]
        elif opt in ("bind", "rbind"):
            continue
        else:
            data.append(opt)
    return flags, propagation, data


def _remount(rootfd: int, dest: str, add: int) -> None:
    fd = open_in_root(rootfd, dest)
    try:
        linux.mount(None, fd_path(fd), None, MS_BIND | MS_REMOUNT | add | linux.mount_flags_of(fd))
    except OSError as err:
        raise _err(f"remount {dest} read-only", err) from None
    finally:
        os.close(fd)


# -- the switch ------------------------------------------------------------------------------------------


def pivot(root: str) -> None:
    """Make ``root`` the process's "/" and detach the host's tree (runc's pivot_root(".", ".") trick).

    No directory fd survives: both are closed here, and cwd ends up at the new "/" (CVE-2024-21626).
    """
    old = os.open("/", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        new = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fchdir(new)
            linux.pivot_root(".", ".")
            # the old root is now mounted on top of the new one; step onto it and lazily detach it
            os.fchdir(old)
            linux.mount(None, ".", None, linux.MS_SLAVE | MS_REC)
            linux.umount2(".", linux.MNT_DETACH)
        finally:
            os.close(new)
    except OSError as err:
        raise _err(f"pivot_root into {root}", err) from None
    finally:
        os.close(old)
    os.chdir("/")


# -- after the pivot ------------------------------------------------------------------------------------


def _open_dev_null() -> int:
    """An O_PATH fd of the container's /dev/null, checked to be the real null device (CVE-2025-31133)."""
    fd = os.open("/dev/null", _O_PATH | os.O_NOFOLLOW)
    st = os.fstat(fd)
    if not stat.S_ISCHR(st.st_mode) or st.st_rdev != os.makedev(1, 3):
        os.close(fd)
        raise SetupError("/dev/null in the container is not the null device (1:3); refusing to mask with it")
    return fd


def mask_paths(paths: list[str]) -> None:
    """Hide files under /dev/null and directories under an empty read-only tmpfs."""
    if not paths:
        return
    null = _open_dev_null()
    try:
        for path in paths:
            try:
                fd = os.open(path, _O_PATH | os.O_NOFOLLOW)
            except (FileNotFoundError, NotADirectoryError):
                continue
            try:
                mode = os.fstat(fd).st_mode
                if stat.S_ISDIR(mode):
                    flags = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC
                    linux.mount("tmpfs", fd_path(fd), "tmpfs", flags, "size=0,mode=0555")
                elif not stat.S_ISLNK(mode):
                    linux.mount(fd_path(null), fd_path(fd), None, MS_BIND)
            except OSError as err:
                raise _err(f"mask {path}", err) from None
            finally:
                os.close(fd)
    finally:
        os.close(null)


def readonly_paths(paths: list[str]) -> None:
    for path in paths:
        try:
            fd = os.open(path, _O_PATH | os.O_NOFOLLOW)
        except (FileNotFoundError, NotADirectoryError):
            continue
        try:
            linux.mount(fd_path(fd), fd_path(fd), None, MS_BIND | MS_REC)
            top = os.open(path, _O_PATH | os.O_NOFOLLOW)  # the bind we just made
            try:
                flags = MS_BIND | MS_REMOUNT | MS_RDONLY | linux.mount_flags_of(top)
                linux.mount(None, fd_path(top), None, flags)
            finally:
                os.close(top)
        except OSError as err:
            raise _err(f"make {path} read-only", err) from None
        finally:
            os.close(fd)


def readonly_root() -> None:
    try:
        linux.mount(None, "/", None, MS_BIND | MS_REMOUNT | MS_RDONLY | linux.mount_flags_of("/"))
    except OSError as err:
        raise _err("remount / read-only", err) from None


def reopen_dev_null_stdio() -> None:
    """Stdio that is the host's /dev/null becomes the container's, so no fd points into the host's /dev."""
    null_dev = os.makedev(1, 3)
    fd = -1
    try:
        for std in (0, 1, 2):
            try:
                st = os.fstat(std)
            except OSError:
                continue
            if stat.S_ISCHR(st.st_mode) and st.st_rdev == null_dev:
                if fd < 0:
                    fd = os.open("/dev/null", os.O_RDWR | os.O_CLOEXEC)
                os.dup2(fd, std)
    finally:
        if fd >= 0:
            os.close(fd)


def make_console(slave_fd: int) -> None:
    """Bind the container's terminal onto /dev/console, like runc does for -t."""
    try:
        os.close(os.open("/dev/console", os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600))
        fd = os.open("/dev/console", _O_PATH | os.O_NOFOLLOW)
        try:
            linux.mount(fd_path(slave_fd), fd_path(fd), None, MS_BIND)
        finally:
            os.close(fd)
    except OSError as err:
        raise _err("bind the terminal on /dev/console", err) from None
