"""A container's cgroup on cgroup v1 (a directory per controller) or v2 (one directory), with Docker's limits.

Layout: v1 ``/sys/fs/cgroup/<controller>/<parent>/<name>`` for each controller we use; v2
``/sys/fs/cgroup/<parent>/<name>`` with the controllers enabled in each ancestor's ``cgroup.subtree_control``.
:func:`detect` calls a *hybrid* host (v1 controllers plus a cgroup2 at ``/sys/fs/cgroup/unified`` that holds
none of them) v1, and pure v2 only when ``/sys/fs/cgroup`` itself is cgroup2. On v1 the container also gets
its own directory in every other mounted hierarchy, as runc gives it: named ones without a controller
(``name=systemd``) and a hybrid host's cgroup2. Left in the shim's cgroup there, its cgroup namespace would
be rooted at the shim's (the host's root): the container would see the whole host hierarchy, other
engines' containers and ``release_agent`` included.

Limits follow docker's flags and defaults: ``--memory`` with no ``--memory-swap`` allows as much swap again
(memory+swap = 2x memory), ``--memory-swap -1`` lifts the swap limit, ``--cpus`` is a CFS quota over a
100 ms period, ``--cpu-shares`` becomes ``cpu.weight`` on v2 (runc's mapping: 2 -> 1, 1024 -> 100,
262144 -> 10000), ``--pids-limit`` 0 or -1 means none. Devices: runc's default allow list, through the
``devices`` controller on v1 and an eBPF program attached to the cgroup on v2 (``--privileged`` lifts it).

Writes never create files: a cgroup file that is missing means a controller that is missing, and that is
reported rather than papered over. Reading stats costs a handful of small reads (``docker stats`` asks every
second).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import math
import os
import re
import signal as signal_mod
import struct
import sys
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from functools import cache
from pathlib import Path

from core.errors import Conflict, DockyardError, InvalidArgument, NotFound, RuntimeFailure
from core.record import field, record
from core.runtime import cgroupfs

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~2 ms of a start)
if TYPE_CHECKING:
    from typing import Literal

    Version = Literal["v1", "v2"]

CGROUP_ROOT = Path("/sys/fs/cgroup")
DEFAULT_PARENT = "dockyard"
# v1 controllers a container joins. cpu/cpuacct are often mounted together; duplicates are folded.
V1_CONTROLLERS = ("memory", "cpu", "cpuacct", "cpuset", "pids", "freezer", "devices", "blkio")
# v2 controllers we enable when the kernel offers them.
V2_CONTROLLERS = ("cpu", "cpuset", "memory", "pids", "io")

MIN_MEMORY = 6 * 1024 * 1024  # docker: "Minimum memory limit allowed is 6MB"
_UNLIMITED_V1 = 1 << 62  # memory.limit_in_bytes reads back 0x7ffffffffffff000 (PAGE_COUNTER_MAX) when unset
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$")
_CPUSET = re.compile(r"^\d+(-\d+)?(,\d+(-\d+)?)*$")

# runc's default device allow list (libcontainer/specconv AllowedDevices) plus /dev/console for -t.
DEFAULT_DEVICE_RULES = (
    "c *:* m",
    "b *:* m",
    "c 1:3 rwm",  # /dev/null
    "c 1:5 rwm",  # /dev/zero
    "c 1:7 rwm",  # /dev/full
    "c 1:8 rwm",  # /dev/random
    "c 1:9 rwm",  # /dev/urandom
    "c 5:0 rwm",  # /dev/tty
    "c 5:1 rwm",  # /dev/console
    "c 5:2 rwm",  # /dev/ptmx
    "c 136:* rwm",  # /dev/pts/*
    "c 10:200 rwm",  # /dev/net/tun
)
_DEVICE_RULE = re.compile(r"^[abc] (\*|\d+):(\*|\d+) [rwm]{1,3}$")


@record
class CgroupLimits:
    """Docker's resource flags. ``None``: "no limit" at create, "leave as is" at :meth:`Cgroup.update`."""

    memory: int | None = None  # bytes (--memory)
    memory_swap: int | None = None  # memory + swap, bytes (--memory-swap); -1 = unlimited; None = 2x memory
    cpu_quota: int | None = None  # µs per period (--cpu-quota; --cpus N = N * cpu_period); -1 = unlimited
    cpu_period: int = 100000  # µs (--cpu-period)
    cpu_shares: int | None = None  # relative weight (--cpu-shares); v2 maps it to cpu.weight
    pids: int | None = None  # --pids-limit; 0 or -1 = unlimited
    cpuset_cpus: str | None = None  # --cpuset-cpus, e.g. "0-1,3"
    memory_reservation: int | None = None  # bytes, a soft limit (--memory-reservation): v1 soft limit, v2 low
    oom_kill_disable: bool = False  # --oom-kill-disable: v1 memory.oom_control (v2 has no such switch)
    allow_all_devices: bool = False  # --privileged: no device restriction
    devices: tuple[str, ...] = field(default=())  # extra allow rules, v1 syntax "c 10:229 rwm" (--device)

    @staticmethod
    def quota_for_cpus(cpus: float, period: int = 100000) -> int:
        """``--cpus 1.5`` -> a quota of 150000 µs per 100000 µs period."""
        if cpus <= 0:
            raise InvalidArgument("--cpus must be a positive number")
        return round(cpus * period)

    def validate(self, creating: bool = True) -> None:
        """Refuse what docker refuses, with docker's reasons (an update may set swap alone)."""
        if self.memory is not None and self.memory != -1 and self.memory < MIN_MEMORY:
            raise InvalidArgument("minimum memory limit allowed is 6MB")
        if self.memory_swap is not None and self.memory_swap not in (0, -1):
            if creating and (self.memory is None or self.memory == -1):
                raise InvalidArgument("you should always set the memory limit when using a memory-swap limit")
            if self.memory is not None and self.memory > 0 and self.memory_swap < self.memory:
                raise InvalidArgument("minimum memory-swap limit should be larger than the memory limit")
        if not 1000 <= self.cpu_period <= 1000000:
            raise InvalidArgument(
                "CPU cfs period can not be less than 1ms (1000) or larger than 1s (1000000)"
            )
        if self.cpu_quota is not None and self.cpu_quota != -1 and self.cpu_quota < 1000:
            raise InvalidArgument("CPU cfs quota can not be less than 1ms (i.e. 1000)")
        if self.cpu_shares is not None and self.cpu_shares < 0:
            raise InvalidArgument("cpu shares must be positive")
        if self.pids is not None and self.pids < -1:
            raise InvalidArgument("pids limit must be -1 (unlimited) or more")
        if self.cpuset_cpus is not None and self.cpuset_cpus and not _CPUSET.match(self.cpuset_cpus):
            raise InvalidArgument(f"invalid cpuset {self.cpuset_cpus!r}: use a list like 0-2,4")
        for rule in self.devices:
            if not _DEVICE_RULE.match(rule):
                raise InvalidArgument(f"invalid device rule {rule!r}: use 'c|b|a MAJOR:MINOR rwm'")

    def swap_total(self, creating: bool) -> int | None:
        """memory+swap to write: docker's 2x default at create, -1 for unlimited, None to leave alone."""
        if self.memory_swap == -1:
            return -1
        if self.memory_swap:
            return self.memory_swap
        if creating and self.memory and self.memory > 0:
            return 2 * self.memory
        return None


@record(frozen=True)
class CgroupStats:
    cpu_usage_ns: int  # total CPU time of every process the cgroup ever held
    memory_usage: int  # what `docker stats` shows: usage minus the inactive file cache
    memory_limit: int | None  # None: unlimited
    pids_current: int
    pids_limit: int | None  # None: unlimited
    memory_cache: int = 0  # the inactive file cache left out of memory_usage
    block_read: int = 0  # bytes
    block_write: int = 0


# --------------------------------------------------------------------------------------------- mounts


@cache
def detect() -> Version:
    """``v2`` when /sys/fs/cgroup is a cgroup2 mount; ``v1`` when v1 controllers are mounted (hybrid too)."""
    mounts = cgroupfs.mounts()
    at_root = [m for m in mounts if m[0] == str(CGROUP_ROOT)]
    if at_root and at_root[-1][1] == "cgroup2":
        return "v2"
    if any(m[1] == "cgroup" and m[3] & set(V1_CONTROLLERS) for m in mounts):
        return "v1"
    if any(m[1] == "cgroup2" for m in mounts):
        return "v2"
    raise RuntimeFailure("no cgroup filesystem is mounted (mount cgroup2 on /sys/fs/cgroup)")


@cache
def v1_roots() -> dict[str, Path]:
    """controller -> mount point of its v1 hierarchy (only hierarchies mounted at their root)."""
    roots: dict[str, Path] = {}
    for mountpoint, fstype, root, opts in cgroupfs.mounts():
        if fstype != "cgroup" or root != "/":
            continue
        for ctrl in V1_CONTROLLERS:
            if ctrl in opts:
                roots[ctrl] = Path(mountpoint)
    return roots


@cache
def v1_other_roots() -> dict[str, Path]:
    """The hierarchies of a v1 host that hold none of :data:`V1_CONTROLLERS`, keyed as /proc/<pid>/cgroup
    names them: ``name=systemd`` and the like, and ``""`` for a hybrid host's cgroup2 (mounted at root)."""
    others: dict[str, Path] = {}
    for mountpoint, fstype, root, opts in cgroupfs.mounts():
        if root != "/":
            continue
        if fstype == "cgroup2":
            others.setdefault("", Path(mountpoint))
        elif fstype == "cgroup" and not opts & set(V1_CONTROLLERS):
            for name in (o for o in opts if o.startswith("name=")):
                others.setdefault(name, Path(mountpoint))
    return others


@cache
def v2_root() -> Path:
    """The cgroup2 mount: /sys/fs/cgroup on a v2 host, /sys/fs/cgroup/unified on a hybrid one."""
    candidates = [Path(m[0]) for m in cgroupfs.mounts() if m[1] == "cgroup2" and m[2] == "/"]
    if not candidates:
        raise RuntimeFailure("no cgroup2 filesystem is mounted")
    return CGROUP_ROOT if CGROUP_ROOT in candidates else candidates[0]


def cgroups_of(pid: int) -> list[Path]:
    """The cgroup directories ``pid`` is in, one per mounted hierarchy, from /proc/<pid>/cgroup."""
    return [Path(d) for d in cgroupfs.cgroups_of(pid)]


# --------------------------------------------------------------------------------------------- file I/O


def _read(path: Path) -> str | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
        return b"".join(chunks).decode()
    except OSError:
        return None
    finally:
        os.close(fd)


def _write(path: Path, value: str) -> None:
    try:
        # Never O_CREAT (see the module docstring). cgroupfs ignores O_TRUNC; plain files need it.
        fd = os.open(path, os.O_WRONLY | os.O_TRUNC | os.O_CLOEXEC)
    except OSError as err:
        raise RuntimeFailure(f"cannot open {path}: {err.strerror}") from err
    try:
        os.write(fd, value.encode())
    except OSError as err:
        raise RuntimeFailure(f"cannot write {value!r} to {path}: {err.strerror}") from err
    finally:
        os.close(fd)


def _int(text: str | None, default: int = 0) -> int:
    if text is None:
        return default
    text = text.strip()
    try:
        return int(text)
    except ValueError:
        return default


def _keyed(text: str | None) -> dict[str, int]:
    """``key value`` lines (memory.stat, cpu.stat, memory.events, memory.oom_control)."""
    out: dict[str, int] = {}
    for line in (text or "").splitlines():
        parts = line.split()
        if len(parts) == 2:
            try:
                out[parts[0]] = int(parts[1])
            except ValueError:
                pass
    return out


def _subtree(directory: Path) -> list[Path]:
    """``directory`` and every cgroup below it, parents before children."""
    found = [directory]
    for current in found:  # grows while we walk it: breadth first
        try:
            with os.scandir(current) as entries:
                found += [Path(e.path) for e in entries if e.is_dir(follow_symlinks=False)]
        except OSError:
            pass
    return found


def _procs(path: Path) -> set[int]:
    return {int(x) for x in (_read(path) or "").split() if x.isdigit()}


def check_name(name: str, what: str = "cgroup name") -> str:
    if not _NAME.match(name) or name in (".", ".."):
        raise InvalidArgument(f"invalid {what} {name!r}: use letters, digits, '_', '.' or '-', no '/'")
    return name


def _check_parent(parent: str) -> str:
    parts = parent.split("/")
    for part in parts:
        check_name(part, "cgroup parent")
    return parent


def shares_to_weight(shares: int) -> int:
    """cgroup v1 cpu.shares -> v2 cpu.weight, runc's mapping (2 -> 1, 1024 -> 100, 262144 -> 10000)."""
    if shares <= 2:
        return 1
    if shares >= 262144:
        return 10000
    log = math.log2(shares)
    return min(10000, math.ceil(10 ** ((log * log + 125 * log) / 612.0 - 7.0 / 34.0)))


# --------------------------------------------------------------------------------------------- v2 devices

# cgroup v2 has no devices controller: access to device nodes is decided by an eBPF program of type
# BPF_PROG_TYPE_CGROUP_DEVICE attached to the cgroup (what runc's devicefilter does). The kernel runs it for
# tasks in the cgroup on the unified hierarchy, so it also works on a hybrid host's /sys/fs/cgroup/unified.
_BPF_SYSCALL = {"x86_64": 321, "aarch64": 280, "armv7l": 386, "ppc64le": 361, "s390x": 351, "riscv64": 280}
_BPF_PROG_LOAD, _BPF_PROG_ATTACH = 5, 8
_BPF_PROG_TYPE_CGROUP_DEVICE, _BPF_CGROUP_DEVICE = 15, 6
_DEV_TYPE = {"b": 1, "c": 2}  # BPF_DEVCG_DEV_BLOCK, BPF_DEVCG_DEV_CHAR
_DEV_ACCESS = {"m": 1, "r": 2, "w": 4}  # BPF_DEVCG_ACC_MKNOD, _READ, _WRITE


def _ebpf(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    regs = (src << 4 | dst) if sys.byteorder == "little" else (dst << 4 | src)
    return struct.pack("=BBhi", code, regs, off, imm)


def device_filter_program(rules: Iterable[str]) -> bytes:
    """eBPF for an allow list in devices.allow syntax; anything no rule allows is denied.

    r2 = type, r3 = access, r4 = major, r5 = minor (from struct bpf_cgroup_dev_ctx in r1); then per rule:
    skip unless type matches, the access asked for is within the rule's, and major/minor match (``*`` = any).
    """
    ld_w, and_k, rsh_k, mov_x, mov_k, jne_k, exit_ = 0x61, 0x57, 0x77, 0xBF, 0xB7, 0x55, 0x95
    prog = [
        _ebpf(ld_w, 2, 1, 0),
        _ebpf(and_k, 2, imm=0xFFFF),
        _ebpf(ld_w, 3, 1, 0),
        _ebpf(rsh_k, 3, imm=16),
        _ebpf(ld_w, 4, 1, 4),
        _ebpf(ld_w, 5, 1, 8),
    ]
    for rule in rules:
        kind, numbers, access = rule.split()
        major, minor = numbers.split(":")
        allowed = sum(_DEV_ACCESS[a] for a in set(access))
        checks: list[tuple[bytes, ...]] = []
        if kind != "a":
            checks.append((_ebpf(jne_k, 2, imm=_DEV_TYPE[kind]),))
        if allowed != 7:
            checks.append((_ebpf(mov_x, 1, 3), _ebpf(and_k, 1, imm=~allowed & 7), _ebpf(jne_k, 1, imm=0)))
        if kind != "a" and major != "*":
            checks.append((_ebpf(jne_k, 4, imm=int(major)),))
        if kind != "a" and minor != "*":
            checks.append((_ebpf(jne_k, 5, imm=int(minor)),))
        body: list[bytes] = [insn for group in checks for insn in group]
        body += [_ebpf(mov_k, 0, imm=1), _ebpf(exit_)]
        # every conditional jump in the body skips to the end of this rule
        out: list[bytes] = []
        for i, insn in enumerate(body):
            if insn[0] == jne_k:
                code, regs, _off, imm = struct.unpack("=BBhi", insn)
                insn = struct.pack("=BBhi", code, regs, len(body) - i - 1, imm)
            out.append(insn)
        prog += out
    prog += [_ebpf(mov_k, 0, imm=0), _ebpf(exit_)]
    return b"".join(prog)


def _bpf(cmd: int, attr: ctypes.Array[ctypes.c_char]) -> int:
    nr = _BPF_SYSCALL.get(os.uname().machine)
    if nr is None:
        raise RuntimeFailure(f"device filtering on cgroup v2 is not supported on {os.uname().machine}")
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    result = libc.syscall(ctypes.c_long(nr), ctypes.c_int(cmd), attr, ctypes.c_uint(len(attr)))
    if result < 0:
        err = ctypes.get_errno()
        raise RuntimeFailure(f"bpf() command {cmd} failed: {os.strerror(err)}")
    return int(result)


def _attach_device_filter(directory: Path, rules: Iterable[str]) -> None:
    """Load the allow-list program and attach it to the cgroup, replacing one a leftover may carry."""
    program = device_filter_program(rules)
    insns = ctypes.create_string_buffer(program, len(program))
    license_ = ctypes.create_string_buffer(b"Apache-2.0")
    attr = ctypes.create_string_buffer(128)
    struct.pack_into(
        "=IIQQ",
        attr,
        0,
        _BPF_PROG_TYPE_CGROUP_DEVICE,
        len(program) // 8,
        ctypes.addressof(insns),
        ctypes.addressof(license_),
    )
    prog_fd = _bpf(_BPF_PROG_LOAD, attr)
    try:
        cgroup_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            attach = ctypes.create_string_buffer(128)
            struct.pack_into("=IIII", attach, 0, cgroup_fd, prog_fd, _BPF_CGROUP_DEVICE, 0)
            _bpf(_BPF_PROG_ATTACH, attach)
        finally:
            os.close(cgroup_fd)
    finally:
        os.close(prog_fd)  # the attachment keeps the program alive


# --------------------------------------------------------------------------------------------- the cgroup


class Cgroup(ABC):
    """One container's cgroup. Make it with :meth:`create` or :meth:`open`; the subclass is v1's or v2's."""

    version: Version

    def __init__(self, name: str, parent: str) -> None:
        self.name = check_name(name)
        self.parent = _check_parent(parent)

    # ---- construction

    @classmethod
    def create(
        cls,
        name: str,
        limits: CgroupLimits,
        parent: str = DEFAULT_PARENT,
        *,
        version: Version | None = None,
        root: Path | None = None,
    ) -> Cgroup:
        """Make the cgroup (and its parent) with ``limits``. An empty leftover of the same name is reused and
        every limit rewritten; one that still holds processes is a :class:`Conflict`.

        ``version`` / ``root`` override detection (tests use them: ``root`` is the cgroup2 mount for v2, or a
        directory holding one mount per controller for v1).
        """
        limits.validate()
        group = cls._for(name, parent, version, root)
        group._create(limits)
        return group

    @classmethod
    def open(
        cls,
        name: str,
        parent: str = DEFAULT_PARENT,
        *,
        version: Version | None = None,
        root: Path | None = None,
    ) -> Cgroup:
        """An existing cgroup; :class:`NotFound` if it is not there."""
        group = cls._for(name, parent, version, root)
        if not group.exists():
            raise NotFound(f"cgroup {parent}/{name} does not exist")
        return group

    @classmethod
    def remove_parent(
        cls, parent: str = DEFAULT_PARENT, *, version: Version | None = None, root: Path | None = None
    ) -> bool:
        """Remove the parent directories if no cgroup is left in them; True when they are gone."""
        _check_parent(parent)
        group = cls._for("placeholder", parent, version, root)
        gone = True
        for directory in group._parent_dirs():
            try:
                directory.rmdir()
            except FileNotFoundError:
                pass
            except OSError:
                gone = False
        return gone

    @staticmethod
    def _for(name: str, parent: str, version: Version | None, root: Path | None) -> Cgroup:
        version = version or detect()
        if version == "v2":
            return CgroupV2(name, parent, root or v2_root())
        if root is not None:
            roots = {c: root / c for c in V1_CONTROLLERS if (root / c).is_dir()}
            others = {}
        else:
            roots, others = v1_roots(), v1_other_roots()
        return CgroupV1(name, parent, roots, others)

    # ---- interface (both versions)

    @abstractmethod
    def paths(self) -> dict[str, Path]:
        """controller -> directory (v2: a single entry, key ``""``)."""
        ...

    @abstractmethod
    def _parent_dirs(self) -> list[Path]: ...

    @abstractmethod
    def _create(self, limits: CgroupLimits) -> None: ...

    def update(self, limits: CgroupLimits) -> None:
        """Change the limits that are not ``None`` (``docker update``)."""
        limits.validate(creating=False)
        if limits.memory is None and limits.memory_swap and limits.memory_swap > 0:
            current = self.stats().memory_limit
            if current is None:
                raise InvalidArgument("you should always set the memory limit when using a memory-swap limit")
            if limits.memory_swap < current:
                raise InvalidArgument("minimum memory-swap limit should be larger than the memory limit")
        self._write_limits(limits, creating=False)

    @abstractmethod
    def _write_limits(self, limits: CgroupLimits, creating: bool) -> None: ...

    @abstractmethod
    def stats(self) -> CgroupStats: ...

    @abstractmethod
    def oom_killed(self) -> bool:
        """Has the kernel's OOM killer killed a process in this cgroup?"""
        ...

    @abstractmethod
    def freeze(self, timeout: float = 5.0) -> None: ...

    @abstractmethod
    def thaw(self, timeout: float = 5.0) -> None: ...

    @abstractmethod
    def frozen(self) -> bool: ...

    def exists(self) -> bool:
        return any(p.is_dir() for p in self.paths().values())

    def add(self, pid: int) -> None:
        """Move process ``pid`` (all its threads) into the cgroup, in every hierarchy."""
        for directory in self._dirs_for_procs():
            _write(directory / "cgroup.procs", str(pid))

    def pids(self) -> list[int]:
        """Every process in the cgroup, including cgroups the container made inside it."""
        found: set[int] = set()
        for top in self._dirs_for_procs():
            for directory in _subtree(top):
                found |= _procs(directory / "cgroup.procs")
        return sorted(found)

    def _dirs_for_procs(self) -> list[Path]:
        return list(dict.fromkeys(self.paths().values()))

    def kill_all(self, sig: int = signal_mod.SIGKILL) -> None:
        """Send ``sig`` to every process in the cgroup."""
        for pid in self.pids():
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass

    def destroy(self, timeout: float = 10.0) -> None:
        """Kill what is left, wait until the cgroup is empty, remove every directory. Safe to repeat."""
        if not self.exists():
            return
        deadline = time.monotonic() + timeout
        if self.frozen():
            self.thaw()
        while self.pids():
            self.kill_all(signal_mod.SIGKILL)
            if time.monotonic() > deadline:
                raise RuntimeFailure(f"cgroup {self.parent}/{self.name} still has processes: {self.pids()}")
            time.sleep(0.005)
        # Children first: a container with a writable cgroup namespace may have made cgroups of its own.
        for directory in [d for top in self._dirs_for_procs() for d in reversed(_subtree(top))]:
            while True:
                try:
                    directory.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError as err:
                    # EBUSY: the last task is still on its way out of the kernel's books.
                    if err.errno != errno.EBUSY or time.monotonic() > deadline:
                        raise RuntimeFailure(f"cannot remove {directory}: {err.strerror}") from err
                    time.sleep(0.005)

    def _wait(self, check: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                raise RuntimeFailure(f"cgroup {self.parent}/{self.name}: timed out waiting to {what}")
            time.sleep(0.001)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.parent}/{self.name}>"


class CgroupV1(Cgroup):
    version: Version = "v1"

    def __init__(
        self, name: str, parent: str, roots: dict[str, Path], others: dict[str, Path] | None = None
    ) -> None:
        """``roots``: controller -> its hierarchy's mount; ``others``: hierarchies without a controller of
        ours (see :func:`v1_other_roots`), where the container only gets its own directory."""
        super().__init__(name, parent)
        if not roots:
            raise RuntimeFailure("no cgroup v1 controllers are mounted")
        self.roots = roots
        self.others = dict(others or {})
        self._paths = {key: root / parent / name for key, root in (*roots.items(), *self.others.items())}

    def paths(self) -> dict[str, Path]:
        """controller -> directory, plus ``name=...`` and ``""`` (hybrid cgroup2) for the others."""
        return dict(self._paths)

    def _parent_dirs(self) -> list[Path]:
        dirs: list[Path] = []
        parts = self.parent.split("/")
        for root in dict.fromkeys([*self.roots.values(), *self.others.values()]):
            for i in range(len(parts), 0, -1):
                dirs.append(root.joinpath(*parts[:i]))
        return dirs

    def _path(self, ctrl: str) -> Path | None:
        return self._paths.get(ctrl)

    def _create(self, limits: CgroupLimits) -> None:
        if self.exists() and self.pids():
            raise Conflict(f"cgroup {self.parent}/{self.name} already exists and holds processes")
        for ctrl, root in self.roots.items():
            parts = self.parent.split("/")
            for i in range(1, len(parts) + 1):
                directory = root.joinpath(*parts[:i])
                directory.mkdir(exist_ok=True)
                if ctrl == "cpuset":
                    self._inherit_cpuset(directory)
            self._paths[ctrl].mkdir(exist_ok=True)
            if ctrl == "cpuset":
                self._inherit_cpuset(self._paths[ctrl])
        for key, root in self.others.items():
            parts = self.parent.split("/")
            for i in range(1, len(parts) + 1):
                root.joinpath(*parts[:i]).mkdir(exist_ok=True)
            self._paths[key].mkdir(exist_ok=True)
        try:
            self._set_devices(limits)
            self._write_limits(limits, creating=True)
        except BaseException:
            with contextlib.suppress(DockyardError, OSError):
                self.destroy()  # best effort: the error worth reporting is the one that got us here
            raise

    @staticmethod
    def _inherit_cpuset(directory: Path) -> None:
        """A new v1 cpuset has no cpus or mems, and a task cannot join it until it has some."""
        for key in ("cpuset.cpus", "cpuset.mems"):
            if not (_read(directory / key) or "").strip():
                _write(directory / key, (_read(directory.parent / key) or "").strip() or "\n")

    def _set_devices(self, limits: CgroupLimits) -> None:
        path = self._path("devices")
        if path is None:
            return
        if limits.allow_all_devices:
            _write(path / "devices.allow", "a")
            return
        _write(path / "devices.deny", "a")
        for rule in (*DEFAULT_DEVICE_RULES, *limits.devices):
            _write(path / "devices.allow", rule)

    def _write_limits(self, limits: CgroupLimits, creating: bool) -> None:
        mem = self._path("memory")
        if mem is not None:
            memsw = mem / "memory.memsw.limit_in_bytes"
            has_swap_accounting = memsw.exists()
            total = limits.swap_total(creating)
            memory = limits.memory if limits.memory is not None else (-1 if creating else None)
            if creating and total is None:
                total = -1
            # The kernel insists on memory <= memory+swap at every moment: lift memsw, set memory, set memsw.
            if has_swap_accounting and total is not None:
                _write(memsw, "-1")
            if memory is not None:
                try:
                    _write(mem / "memory.limit_in_bytes", str(memory))
                except RuntimeFailure as err:
                    raise RuntimeFailure(
                        f"{err}: the memory limit cannot exceed memory+swap, change --memory-swap too"
                    ) from err
            if has_swap_accounting and total is not None:
                _write(memsw, str(total))
            if limits.memory_reservation is not None or creating:
                reservation = limits.memory_reservation
                _write(mem / "memory.soft_limit_in_bytes", str(reservation if reservation else -1))
            if limits.oom_kill_disable:
                _write(mem / "memory.oom_control", "1")
        cpu = self._path("cpu")
        if cpu is not None:
            if limits.cpu_shares or creating:
                _write(cpu / "cpu.shares", str(limits.cpu_shares or 1024))
            if limits.cpu_quota is not None or creating:
                _write(cpu / "cpu.cfs_period_us", str(limits.cpu_period))
                _write(
                    cpu / "cpu.cfs_quota_us", str(limits.cpu_quota if limits.cpu_quota is not None else -1)
                )
        pids = self._path("pids")
        if pids is not None and (limits.pids is not None or creating):
            _write(pids / "pids.max", str(limits.pids) if limits.pids and limits.pids > 0 else "max")
        cpuset = self._path("cpuset")
        if cpuset is not None and limits.cpuset_cpus:
            _write(cpuset / "cpuset.cpus", limits.cpuset_cpus)
        for ctrl, wanted in (
            ("memory", limits.memory or limits.memory_reservation or limits.oom_kill_disable),
            ("cpu", limits.cpu_quota or limits.cpu_shares),
            ("pids", limits.pids),
            ("cpuset", limits.cpuset_cpus),
        ):
            if wanted and self._path(ctrl) is None:
                raise RuntimeFailure(
                    f"the cgroup v1 {ctrl} controller is not mounted: cannot apply that limit"
                )

    def stats(self) -> CgroupStats:
        cpuacct = self._path("cpuacct")
        mem = self._path("memory")
        pids = self._path("pids")
        blkio = self._path("blkio")
        usage = _int(_read(mem / "memory.usage_in_bytes")) if mem else 0
        inactive = _keyed(_read(mem / "memory.stat")).get("total_inactive_file", 0) if mem else 0
        limit = _int(_read(mem / "memory.limit_in_bytes")) if mem else 0
        pids_max = (_read(pids / "pids.max") or "max").strip() if pids else "max"
        read = write = 0
        if blkio:
            for line in (_read(blkio / "blkio.throttle.io_service_bytes_recursive") or "").splitlines():
                parts = line.split()
                if len(parts) == 3 and parts[1] == "Read":
                    read += _int(parts[2])
                elif len(parts) == 3 and parts[1] == "Write":
                    write += _int(parts[2])
        return CgroupStats(
            cpu_usage_ns=_int(_read(cpuacct / "cpuacct.usage")) if cpuacct else 0,
            memory_usage=usage - inactive if usage > inactive else usage,
            memory_limit=limit if 0 < limit < _UNLIMITED_V1 else None,
            pids_current=_int(_read(pids / "pids.current")) if pids else len(self.pids()),
            pids_limit=None if pids_max == "max" else _int(pids_max),
            memory_cache=inactive,
            block_read=read,
            block_write=write,
        )

    def oom_killed(self) -> bool:
        mem = self._path("memory")
        if mem is None:
            return False
        control = _keyed(_read(mem / "memory.oom_control"))
        if "oom_kill" in control:  # kernels >= 4.13 count kills
            return control["oom_kill"] > 0
        return control.get("under_oom", 0) > 0

    def _freezer_state(self) -> str:
        path = self._path("freezer")
        return (_read(path / "freezer.state") or "").strip() if path else ""

    def frozen(self) -> bool:
        return self._freezer_state() == "FROZEN"

    def freeze(self, timeout: float = 5.0) -> None:
        path = self._path("freezer")
        if path is None:
            raise RuntimeFailure("the cgroup v1 freezer controller is not mounted: cannot pause")
        deadline = time.monotonic() + timeout
        while True:
            # FREEZING can stall on a task in uninterruptible sleep; asking again nudges it (runc does so).
            _write(path / "freezer.state", "FROZEN")
            for _ in range(10):
                if self._freezer_state() == "FROZEN":
                    return
                time.sleep(0.001)
            if time.monotonic() > deadline:
                _write(path / "freezer.state", "THAWED")
                raise RuntimeFailure(f"cgroup {self.parent}/{self.name}: could not freeze within {timeout}s")

    def thaw(self, timeout: float = 5.0) -> None:
        path = self._path("freezer")
        if path is None:
            return
        _write(path / "freezer.state", "THAWED")
        self._wait(lambda: self._freezer_state() == "THAWED", timeout, "thaw")

    def kill_all(self, sig: int = signal_mod.SIGKILL) -> None:
        """SIGKILL is sent frozen, so nothing can fork its way out between reading the list and killing."""
        if sig != signal_mod.SIGKILL or self._path("freezer") is None or not self.pids():
            super().kill_all(sig)
            return
        self.freeze()
        try:
            super().kill_all(sig)
        finally:
            self.thaw()


class CgroupV2(Cgroup):
    version: Version = "v2"

    def __init__(self, name: str, parent: str, root: Path) -> None:
        super().__init__(name, parent)
        self.root = root
        self.path = root / parent / name

    def paths(self) -> dict[str, Path]:
        return {"": self.path}

    def _parent_dirs(self) -> list[Path]:
        parts = self.parent.split("/")
        return [self.root.joinpath(*parts[:i]) for i in range(len(parts), 0, -1)]

    def _create(self, limits: CgroupLimits) -> None:
        if self.exists() and self.pids():
            raise Conflict(f"cgroup {self.parent}/{self.name} already exists and holds processes")
        available = set((_read(self.root / "cgroup.controllers") or "").split())
        wanted = [c for c in V2_CONTROLLERS if c in available]
        needed = {
            "memory": (limits.memory is not None and limits.memory > 0) or bool(limits.memory_reservation),
            "cpu": bool(limits.cpu_quota and limits.cpu_quota > 0) or bool(limits.cpu_shares),
            "pids": bool(limits.pids and limits.pids > 0),
            "cpuset": bool(limits.cpuset_cpus),
        }
        for ctrl, need in needed.items():
            if need and ctrl not in available:
                raise RuntimeFailure(
                    f"cgroup v2 controller {ctrl} is not available under {self.root}: cannot set that limit"
                )
        # Enable the controllers from the root down to our parent (never in the leaf: it holds processes).
        directory = self.root
        for part in self.parent.split("/"):
            self._enable(directory, wanted)
            directory = directory / part
            directory.mkdir(exist_ok=True)
        self._enable(directory, wanted)
        self.path.mkdir(exist_ok=True)
        try:
            if not limits.allow_all_devices:
                _attach_device_filter(self.path, (*DEFAULT_DEVICE_RULES, *limits.devices))
            self._write_limits(limits, creating=True)
        except BaseException:
            with contextlib.suppress(DockyardError, OSError):
                self.destroy()  # best effort: the error worth reporting is the one that got us here
            raise

    @staticmethod
    def _enable(directory: Path, controllers: list[str]) -> None:
        enabled = set((_read(directory / "cgroup.subtree_control") or "").split())
        missing = [c for c in controllers if c not in enabled]
        if missing:
            _write(directory / "cgroup.subtree_control", " ".join(f"+{c}" for c in missing))

    def _has(self, filename: str) -> bool:
        return (self.path / filename).exists()

    def _write_limits(self, limits: CgroupLimits, creating: bool) -> None:
        p = self.path
        if self._has("memory.max"):
            if limits.memory is not None or creating:
                memory = limits.memory if limits.memory is not None and limits.memory > 0 else None
                _write(p / "memory.max", str(memory) if memory else "max")
            total = limits.swap_total(creating)
            if self._has("memory.swap.max") and (total is not None or creating):
                if total is None or total == -1:
                    swap = "max"
                else:
                    memory_now = limits.memory or _int(_read(p / "memory.max"), default=0)
                    swap = str(max(0, total - memory_now)) if memory_now else "max"
                _write(p / "memory.swap.max", swap)
            if self._has("memory.low") and (limits.memory_reservation is not None or creating):
                _write(p / "memory.low", str(limits.memory_reservation or 0))
        if self._has("cpu.max"):
            if limits.cpu_quota is not None or creating:
                quota = limits.cpu_quota if limits.cpu_quota and limits.cpu_quota > 0 else None
                _write(p / "cpu.max", f"{quota if quota else 'max'} {limits.cpu_period}")
            if limits.cpu_shares or creating:
                _write(
                    p / "cpu.weight", str(shares_to_weight(limits.cpu_shares) if limits.cpu_shares else 100)
                )
        if self._has("pids.max") and (limits.pids is not None or creating):
            _write(p / "pids.max", str(limits.pids) if limits.pids and limits.pids > 0 else "max")
        if limits.cpuset_cpus:
            if not self._has("cpuset.cpus"):
                raise RuntimeFailure(
                    "the cgroup v2 cpuset controller is not enabled: cannot apply --cpuset-cpus"
                )
            _write(p / "cpuset.cpus", limits.cpuset_cpus)
        if not creating:
            for filename, wanted in (("memory.max", limits.memory), ("pids.max", limits.pids)):
                if wanted and wanted > 0 and not self._has(filename):
                    raise RuntimeFailure(f"{filename} is missing under {p}: that controller is not enabled")

    def stats(self) -> CgroupStats:
        p = self.path
        cpu = _keyed(_read(p / "cpu.stat"))
        usage = _int(_read(p / "memory.current"))
        inactive = _keyed(_read(p / "memory.stat")).get("inactive_file", 0)
        limit = (_read(p / "memory.max") or "max").strip()
        pids_max = (_read(p / "pids.max") or "max").strip()
        read = write = 0
        for line in (_read(p / "io.stat") or "").splitlines():
            for item in line.split()[1:]:
                key, _, value = item.partition("=")
                if key == "rbytes":
                    read += _int(value)
                elif key == "wbytes":
                    write += _int(value)
        pids_current = _read(p / "pids.current")
        return CgroupStats(
            cpu_usage_ns=cpu.get("usage_usec", 0) * 1000,
            memory_usage=usage - inactive if usage > inactive else usage,
            memory_limit=None if limit == "max" else _int(limit),
            pids_current=_int(pids_current) if pids_current is not None else len(self.pids()),
            pids_limit=None if pids_max == "max" else _int(pids_max),
            memory_cache=inactive,
            block_read=read,
            block_write=write,
        )

    def oom_killed(self) -> bool:
        return _keyed(_read(self.path / "memory.events")).get("oom_kill", 0) > 0

    def frozen(self) -> bool:
        return _keyed(_read(self.path / "cgroup.events")).get("frozen", 0) == 1

    def freeze(self, timeout: float = 5.0) -> None:
        if not self._has("cgroup.freeze"):
            raise RuntimeFailure("this kernel has no cgroup v2 freezer (cgroup.freeze needs Linux 5.2)")
        _write(self.path / "cgroup.freeze", "1")
        self._wait(self.frozen, timeout, "freeze")

    def thaw(self, timeout: float = 5.0) -> None:
        if not self._has("cgroup.freeze"):
            return
        _write(self.path / "cgroup.freeze", "0")
        self._wait(lambda: not self.frozen(), timeout, "thaw")

    def kill_all(self, sig: int = signal_mod.SIGKILL) -> None:
        """SIGKILL through cgroup.kill (Linux 5.14): the kernel kills everything, forks included, at once."""
        if sig == signal_mod.SIGKILL and self._has("cgroup.kill"):
            _write(self.path / "cgroup.kill", "1")
            return
        super().kill_all(sig)
