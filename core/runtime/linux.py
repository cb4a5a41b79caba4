"""Thin ctypes wrappers over the Linux system calls a container runtime needs.

Each wrapper checks errno and raises ``OSError(errno, strerror, path)`` so a caller can name the step and the
path that failed. Nothing here decides policy: :mod:`core.runtime.rootfs` and :mod:`core.runtime.init` do.

Only ``os``, ``ctypes``, ``struct`` and ``fcntl`` are imported: this module is loaded by the shim before it
forks a container, and everything the child needs must already be in memory (no imports on the start path).
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import struct

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
_libc.unshare.argtypes = [ctypes.c_int]
_libc.setns.argtypes = [ctypes.c_int, ctypes.c_int]
_libc.sethostname.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
_libc.setdomainname.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]

# Namespace flags (linux/sched.h).
CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

# mount(2) flags (linux/mount.h).
MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_SYNCHRONOUS = 0x10
MS_REMOUNT = 0x20
MS_MANDLOCK = 0x40
MS_DIRSYNC = 0x80
MS_NOSYMFOLLOW = 0x100
MS_NOATIME = 0x400
MS_NODIRATIME = 0x800
MS_BIND = 0x1000
MS_MOVE = 0x2000
MS_REC = 0x4000
MS_SILENT = 0x8000
MS_UNBINDABLE = 1 << 17
MS_PRIVATE = 1 << 18
MS_SLAVE = 1 << 19
MS_SHARED = 1 << 20
MS_RELATIME = 1 << 21
MS_STRICTATIME = 1 << 24
MS_LAZYTIME = 1 << 25

MNT_FORCE = 1
MNT_DETACH = 2
UMOUNT_NOFOLLOW = 8

# statvfs f_flag bits (ST_*) that a bind remount must carry over, mapped to their MS_* flag.
_ST_TO_MS = {
    os.ST_RDONLY: MS_RDONLY,
    os.ST_NOSUID: MS_NOSUID,
    os.ST_NODEV: MS_NODEV,
    os.ST_NOEXEC: MS_NOEXEC,
    os.ST_NOATIME: MS_NOATIME,
    os.ST_NODIRATIME: MS_NODIRATIME,
    os.ST_RELATIME: MS_RELATIME,
}

# openat2(2) resolve flags (linux/openat2.h).
RESOLVE_NO_XDEV = 0x01
RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_NO_SYMLINKS = 0x04
RESOLVE_BENEATH = 0x08
RESOLVE_IN_ROOT = 0x10

# prctl(2) options.
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_KEEPCAPS = 8
PR_SET_NAME = 15
PR_CAPBSET_READ = 23
PR_CAPBSET_DROP = 24
PR_SET_CHILD_SUBREAPER = 36
PR_GET_CHILD_SUBREAPER = 37
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4

# Terminal ioctls (asm-generic/ioctls.h; identical on x86_64 and arm64).
TIOCSCTTY = 0x540E
TIOCSWINSZ = 0x5414
TIOCGPTN = 0x80045430
TIOCSPTLCK = 0x40045431
TIOCGPTPEER = 0x5441

# Syscalls glibc does not wrap. Numbers from 424 on are shared by every architecture.
_ARCH_SYSCALLS: dict[str, dict[str, int]] = {
    "x86_64": {"pivot_root": 155, "capget": 125, "capset": 126, "rt_sigaction": 13},
    "aarch64": {"pivot_root": 41, "capget": 90, "capset": 91, "rt_sigaction": 134},
    "riscv64": {"pivot_root": 41, "capget": 90, "capset": 91, "rt_sigaction": 134},
    "ppc64le": {"pivot_root": 203, "capget": 183, "capset": 184, "rt_sigaction": 173},
    "s390x": {"pivot_root": 217, "capget": 184, "capset": 185, "rt_sigaction": 174},
}
_MACHINE = os.uname().machine
_COMMON_SYSCALLS = {"close_range": 436, "openat2": 437}
_SYSCALLS = {**_ARCH_SYSCALLS.get(_MACHINE, {}), **_COMMON_SYSCALLS}


def _raise(path: str | None = None) -> None:
    err = ctypes.get_errno()
    raise OSError(err, os.strerror(err), path)


def _nr(name: str) -> int:
    try:
        return _SYSCALLS[name]
    except KeyError:
        raise OSError(38, f"{name} is not known on {_MACHINE}") from None  # ENOSYS


def _b(value: str | None) -> bytes | None:
    return None if value is None else os.fsencode(value)


_KERNEL_SIGACTION_DEFAULT = ctypes.create_string_buffer(64)  # handler SIG_DFL (0), no flags, empty mask


def default_signal_raw(sig: int) -> None:
    """SIG_DFL for ``sig`` through the bare syscall: glibc refuses its own signals (32, 33), and its
    posix_spawn leaves them *ignored* in the child (our shims are spawned so), a disposition every process
    started from there would inherit through execve. Only for a process about to exec."""
    if _libc.syscall(_nr("rt_sigaction"), sig, _KERNEL_SIGACTION_DEFAULT, None, 8) != 0:
        _raise()


def fd_path(fd: int) -> str:
    """A path naming exactly the file behind ``fd``: lets path-based calls (mount) act on a checked fd."""
    return f"/proc/self/fd/{fd}"


# -- namespaces ------------------------------------------------------------------------------------------


def unshare(flags: int) -> None:
    if _libc.unshare(flags) != 0:
        _raise()


def setns(fd: int, nstype: int = 0) -> None:
    if _libc.setns(fd, nstype) != 0:
        _raise()


def setns_path(path: str, nstype: int) -> None:
    """Join the namespace behind ``path`` (a /proc/<pid>/ns/* file or a bind mount of one)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        if _libc.setns(fd, nstype) != 0:
            _raise(path)
    finally:
        os.close(fd)


def sethostname(name: str) -> None:
    raw = name.encode()
    if _libc.sethostname(raw, len(raw)) != 0:
        _raise()


def setdomainname(name: str) -> None:
    raw = name.encode()
    if _libc.setdomainname(raw, len(raw)) != 0:
        _raise()


# -- mounts ----------------------------------------------------------------------------------------------


def mount(
    source: str | None, target: str, fstype: str | None, flags: int = 0, data: str | None = None
) -> None:
    if _libc.mount(_b(source), _b(target), _b(fstype), flags, _b(data)) != 0:
        _raise(target)


def umount2(target: str, flags: int = 0) -> None:
    if _libc.umount2(_b(target), flags) != 0:
        _raise(target)


def pivot_root(new_root: str, put_old: str) -> None:
    if _libc.syscall(_nr("pivot_root"), _b(new_root), _b(put_old)) != 0:
        _raise(new_root)


def mount_flags_of(path: str | int) -> int:
    """The MS_* flags a bind remount of ``path`` must keep (the kernel refuses to drop locked ones)."""
    f_flag = os.statvfs(path).f_flag
    return sum(ms for st, ms in _ST_TO_MS.items() if f_flag & st)


class _OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]


_openat2_works: bool | None = None


OPENAT2_TRIES = 32  # as filepath-securejoin (runc) tries
_EAGAIN = 11  # errno.EAGAIN (Linux): no import on the shim's start path


def openat2(dirfd: int, path: str, flags: int, mode: int = 0, resolve: int = 0) -> int:
    """openat2(2); raises OSError(ENOSYS) on kernels older than 5.6 (see :func:`have_openat2`).

    With RESOLVE_IN_ROOT or RESOLVE_BENEATH the kernel answers EAGAIN when a rename or mount anywhere on
    the host raced a ".." of the path (it cannot prove the walk stayed inside): it is tried again, as
    filepath-securejoin does, before EAGAIN is raised. Other containers starting make such races."""
    how = _OpenHow(flags | os.O_CLOEXEC, mode, resolve)
    nr, name = _nr("openat2"), _b(path)
    err = _EAGAIN
    for _ in range(OPENAT2_TRIES):
        fd = _libc.syscall(nr, dirfd, name, ctypes.byref(how), ctypes.sizeof(how))
        if fd >= 0:
            return int(fd)
        err = ctypes.get_errno()
        if err != _EAGAIN:
            break
    raise OSError(err, os.strerror(err), path)


def have_openat2() -> bool:
    global _openat2_works
    if _openat2_works is None:
        try:
            os.close(openat2(-100, "/", os.O_PATH))  # AT_FDCWD
            _openat2_works = True
        except OSError:
            _openat2_works = False
    return _openat2_works


# -- file descriptors ------------------------------------------------------------------------------------


def close_range(first: int, last: int = 0xFFFFFFFF, flags: int = 0) -> None:
    """Close every fd in [first, last]; falls back to a loop on kernels without close_range (5.9)."""
    if first > last:
        return
    if _libc.syscall(_nr("close_range"), first, last, flags) == 0:
        return
    if ctypes.get_errno() not in (38, 1):  # ENOSYS, or EPERM from a seccomp filter
        _raise()
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if first <= fd <= last:
            try:
                os.close(fd)
            except OSError:
                pass


def close_fds_above(*keep: int, lowest: int = 3) -> None:
    """Close every fd >= ``lowest`` except those in ``keep``."""
    for fd in sorted(k for k in set(keep) if k >= lowest):
        close_range(lowest, fd - 1)
        lowest = fd + 1
    close_range(lowest)


# -- process attributes ----------------------------------------------------------------------------------


def prctl(option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
    ret = _libc.prctl(option, arg2, arg3, arg4, arg5)
    if ret < 0:
        _raise()
    return int(ret)


def set_child_subreaper(on: bool = True) -> None:
    """Orphaned descendants are re-parented to us, so we can wait() for a container's PID 1 directly."""
    prctl(PR_SET_CHILD_SUBREAPER, 1 if on else 0)


def is_child_subreaper() -> bool:
    value = ctypes.c_int(0)
    if _libc.prctl(PR_GET_CHILD_SUBREAPER, ctypes.addressof(value), 0, 0, 0) != 0:
        _raise()
    return bool(value.value)


def set_dumpable(on: bool) -> None:
    """A non-dumpable process's /proc/<pid>/{exe,fd,mem} cannot be opened by other (capless) processes.

    This is what keeps a container away from our interpreter binary (CVE-2019-5736) while we still run
    Python inside its namespaces; execve of the container's command resets it to dumpable.
    """
    prctl(PR_SET_DUMPABLE, 1 if on else 0)


def set_keepcaps(on: bool) -> None:
    prctl(PR_SET_KEEPCAPS, 1 if on else 0)


def set_no_new_privs() -> None:
    prctl(PR_SET_NO_NEW_PRIVS, 1)


def set_name(name: str) -> None:
    """Set the thread name shown by ps (comm, at most 15 bytes)."""
    buf = ctypes.create_string_buffer(name.encode()[:15])
    if _libc.prctl(PR_SET_NAME, ctypes.addressof(buf), 0, 0, 0) != 0:
        _raise()


def set_command_line(args: list[str]) -> None:
    """Make /proc/self/cmdline show ``args`` (cut to fit) by overwriting the argv area in place, as
    setproctitle does. Python keeps its own copy of argv, so nothing reads that memory again. Best effort:
    nothing happens if /proc is not there."""
    try:
        with open("/proc/self/stat", "rb") as f:
            stat = f.read()
        fields = stat[stat.rindex(b")") + 2 :].split()
        start, end = int(fields[45]), int(fields[46])  # arg_start, arg_end: fields 48 and 49 of proc(5)
    except (OSError, ValueError, IndexError):
        return
    size = end - start
    if size <= 0:
        return
    data = b"\0".join(a.encode() for a in args)[: size - 1].ljust(size, b"\0")
    ctypes.memmove(start, data, size)


# -- capabilities ----------------------------------------------------------------------------------------

_CAP_V3 = 0x20080522


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


def capget() -> tuple[int, int, int]:
    """This thread's (effective, permitted, inheritable) capability sets as 64-bit masks."""
    header = _CapHeader(_CAP_V3, 0)
    data = (_CapData * 2)()
    if _libc.syscall(_nr("capget"), ctypes.byref(header), data) != 0:
        _raise()
    eff = data[0].effective | (data[1].effective << 32)
    prm = data[0].permitted | (data[1].permitted << 32)
    inh = data[0].inheritable | (data[1].inheritable << 32)
    return eff, prm, inh


def capset(effective: int, permitted: int, inheritable: int) -> None:
    header = _CapHeader(_CAP_V3, 0)
    data = (_CapData * 2)()
    m = 0xFFFFFFFF
    data[0] = _CapData(effective & m, permitted & m, inheritable & m)
    data[1] = _CapData(effective >> 32, permitted >> 32, inheritable >> 32)
    if _libc.syscall(_nr("capset"), ctypes.byref(header), data) != 0:
        _raise()


def last_cap() -> int:
    """The highest capability number this kernel knows."""
    try:
        with open("/proc/sys/kernel/cap_last_cap", "rb") as f:
            return int(f.read())
    except OSError:
        return 40


# -- network ---------------------------------------------------------------------------------------------

_SIOCGIFFLAGS = 0x8913
_SIOCSIFFLAGS = 0x8914
_IFF_UP = 0x1


def bring_up_loopback() -> None:
    """``ip link set lo up`` in the current network namespace, with two ioctls (no netlink library)."""
    import socket  # already imported by the shim; deferred so importing this module stays cheap

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
        req = struct.pack("16sH22x", b"lo", 0)
        flags = struct.unpack("16sH22x", fcntl.ioctl(sock.fileno(), _SIOCGIFFLAGS, req))[1]
        if not flags & _IFF_UP:
            fcntl.ioctl(sock.fileno(), _SIOCSIFFLAGS, struct.pack("16sH22x", b"lo", flags | _IFF_UP))


# -- terminals -------------------------------------------------------------------------------------------


def set_window_size(fd: int, rows: int, cols: int) -> None:
    fcntl.ioctl(fd, TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def unlock_pty(master_fd: int) -> None:
    fcntl.ioctl(master_fd, TIOCSPTLCK, struct.pack("i", 0))


def open_pty_peer(master_fd: int, flags: int) -> int:
    """Open the slave side of ``master_fd`` without a path lookup (TIOCGPTPEER, Linux 4.13)."""
    return int(fcntl.ioctl(master_fd, TIOCGPTPEER, flags))


def pty_number(master_fd: int) -> int:
    return int(struct.unpack("I", fcntl.ioctl(master_fd, TIOCGPTN, b"\0\0\0\0"))[0])


def set_controlling_tty(fd: int) -> None:
    fcntl.ioctl(fd, TIOCSCTTY, 0)
