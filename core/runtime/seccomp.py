"""Seccomp: a Docker-format profile (JSON) -> a classic-BPF program -> loaded into the calling process.

Three steps, so the container's start path stays cheap:

1. :func:`resolve` (pure Python) evaluates the profile the way moby's ``setupSeccomp`` does: the native
   architecture and its sub-architectures from ``archMap`` (or a plain ``architectures`` list), and each
   rule's ``includes`` / ``excludes`` by ``caps`` (against the container's final capability set),
   ``arches`` (Go names: amd64, arm64, x86, ...) and ``minKernel``. The result has the shape of an OCI
   ``linux.seccomp``.
2. :func:`build_filter` turns that into BPF with libseccomp (through ``pyseccomp``) the way runc's
   ``InitSeccomp`` does (but laid out as a binary tree, see :func:`compile_bpf`), and caches the bytes on
   disk keyed by the resolved rules, the architecture and the libseccomp version, plus in memory (so a
   child forked after the parent built it needs no file at all).
3. :func:`load` hands the bytes to ``prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER)``: no libseccomp needed.

Like runc (``libcontainer/seccomp/patchbpf``), the program is prefixed with a stub that answers ``ENOSYS``
for syscalls newer than any the profile names, so a C library probing a new syscall (clone3, fchmodat2...)
falls back instead of failing with the default ``EPERM``.

``seccomp_default.json`` beside this file is Docker's default profile, unmodified: moby/moby
``profiles/seccomp/default.json`` at commit 00f3d189e420d485e42d15fe494f96d272284e0e (Apache-2.0, like this
project).

The container's init must call :func:`build_filter` (or import this module and build once) *before*
``pivot_root``: afterwards neither the cache directory nor libseccomp is visible, and only the in-memory
cache or bytes handed to :func:`load` work.
"""

from __future__ import annotations

import ctypes
import json
import os
import struct
from collections.abc import Sequence
from functools import cache
from pathlib import Path

from core.errors import InvalidArgument, RuntimeFailure
from core.runtime import capabilities as caps_mod

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~2 ms of a start)
if TYPE_CHECKING:
    from typing import Any

_PROFILE_FILE = Path(__file__).with_name("seccomp_default.json")
_FORMAT = "dockyard-seccomp-2"  # bump when the compiled form changes, so stale cache entries are ignored

# uname machine -> the "native" names Docker profiles use in includes/excludes.arches
_NATIVE = {
    "x86_64": "amd64",
    "amd64": "amd64",
    "i386": "x86",
    "i686": "x86",
    "aarch64": "arm64",
    "arm64": "arm64",
    "armv7l": "arm",
    "armv6l": "arm",
    "ppc64le": "ppc64le",
    "s390x": "s390x",
    "riscv64": "riscv64",
    "mips64": "mips64",
}
_NATIVE_TO_SCMP = {
    "amd64": "SCMP_ARCH_X86_64",
    "x86": "SCMP_ARCH_X86",
    "arm64": "SCMP_ARCH_AARCH64",
    "arm": "SCMP_ARCH_ARM",
    "ppc64le": "SCMP_ARCH_PPC64LE",
    "s390x": "SCMP_ARCH_S390X",
    "riscv64": "SCMP_ARCH_RISCV64",
    "mips64": "SCMP_ARCH_MIPS64",
}

# libseccomp's arch tokens are the kernel's AUDIT_ARCH_* values (what seccomp_data.arch holds).
_LE, _64, _N32 = 0x40000000, 0x80000000, 0x20000000
AUDIT_ARCH: dict[str, int] = {
    "SCMP_ARCH_X86": 3 | _LE,
    "SCMP_ARCH_X86_64": 62 | _64 | _LE,
    "SCMP_ARCH_X32": 62 | _LE,  # libseccomp's private token; x32 calls arrive as X86_64 with bit 30 set
    "SCMP_ARCH_ARM": 40 | _LE,
    "SCMP_ARCH_AARCH64": 183 | _64 | _LE,
    "SCMP_ARCH_MIPS": 8,
    "SCMP_ARCH_MIPS64": 8 | _64,
    "SCMP_ARCH_MIPS64N32": 8 | _64 | _N32,
    "SCMP_ARCH_MIPSEL": 8 | _LE,
    "SCMP_ARCH_MIPSEL64": 8 | _64 | _LE,
    "SCMP_ARCH_MIPSEL64N32": 8 | _64 | _LE | _N32,
    "SCMP_ARCH_PPC": 20,
    "SCMP_ARCH_PPC64": 21 | _64,
    "SCMP_ARCH_PPC64LE": 21 | _64 | _LE,
    "SCMP_ARCH_S390": 22,
    "SCMP_ARCH_S390X": 22 | _64,
    "SCMP_ARCH_RISCV64": 243 | _64 | _LE,
}
_X32_SYSCALL_BIT = 0x40000000

_ACTIONS = {
    "SCMP_ACT_KILL": 0x00000000,
    "SCMP_ACT_KILL_THREAD": 0x00000000,
    "SCMP_ACT_KILL_PROCESS": 0x80000000,
    "SCMP_ACT_TRAP": 0x00030000,
    "SCMP_ACT_ERRNO": 0x00050000,
    "SCMP_ACT_TRACE": 0x7FF00000,
    "SCMP_ACT_LOG": 0x7FFC0000,
    "SCMP_ACT_ALLOW": 0x7FFF0000,
}
_OPS = {
    "SCMP_CMP_NE": 1,
    "SCMP_CMP_LT": 2,
    "SCMP_CMP_LE": 3,
    "SCMP_CMP_EQ": 4,
    "SCMP_CMP_GE": 5,
    "SCMP_CMP_GT": 6,
    "SCMP_CMP_MASKED_EQ": 7,
}
_EPERM, _ENOSYS = 1, 38

# prctl / classic BPF
_PR_SET_SECCOMP = 22
_SECCOMP_MODE_FILTER = 2
_BPF_MAXINSNS = 4096
_INSN = struct.Struct("=HBBI")  # struct sock_filter: code, jt, jf, k (host byte order)
_LD_W_ABS, _JEQ_K, _JGT_K, _JGE_K, _RET_K = 0x20, 0x15, 0x25, 0x35, 0x06


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


_libc = ctypes.CDLL(None, use_errno=True)
_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p, ctypes.c_ulong, ctypes.c_ulong]
_libc.prctl.restype = ctypes.c_int

_memory_cache: dict[str, bytes] = {}


# --------------------------------------------------------------------------------------------- profile


@cache
def _default_profile_text() -> str:
    return _PROFILE_FILE.read_text()


def default_profile() -> dict[str, Any]:
    """Docker's default profile (a fresh copy: callers may change it)."""
    result: dict[str, Any] = json.loads(_default_profile_text())
    return result


def native_arch() -> str:
    """The running architecture in the names Docker profiles use (``amd64``, ``arm64``, ...)."""
    machine = os.uname().machine
    return _NATIVE.get(machine, machine)


def _kernel_tuple(release: str) -> tuple[int, ...]:
    parts: list[int] = []
    for piece in release.split("-")[0].split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        if not digits:
            break
        parts.append(int(digits))
        if len(digits) != len(piece):
            break
    if not parts:
        raise InvalidArgument(f"seccomp profile: cannot parse kernel version {release!r}")
    return tuple(parts)


def _kernel_at_least(want: str, running: str) -> bool:
    w, r = _kernel_tuple(want), _kernel_tuple(running)
    width = max(len(w), len(r))
    return r + (0,) * (width - len(r)) >= w + (0,) * (width - len(w))


def _list(value: Any) -> list[Any]:
    return list(value) if value else []


def resolve(
    profile: dict[str, Any],
    capabilities: Sequence[str],
    *,
    arch: str | None = None,
    kernel: str | None = None,
) -> dict[str, Any] | None:
    """Evaluate a Docker seccomp profile for one container; ``None`` when the profile disables seccomp.

    ``capabilities`` is the container's final capability set (``ALL`` allowed). ``arch`` (Docker's native
    names) and ``kernel`` (a release string) default to the running machine's.
    """
    if not isinstance(profile, dict):
        raise InvalidArgument("seccomp profile must be a JSON object")
    if not profile.get("defaultAction") and not profile.get("syscalls"):
        return None  # what moby treats as "seccomp disabled"
    arch = arch or native_arch()
    kernel = kernel or os.uname().release
    capset = set(caps_mod.expand(capabilities))

    if profile.get("architectures") and profile.get("archMap"):
        raise InvalidArgument("seccomp profile: use either 'architectures' or 'archMap', not both")
    arches = [str(a) for a in _list(profile.get("architectures"))]
    scmp_native = _NATIVE_TO_SCMP.get(arch)
    for entry in _list(profile.get("archMap")):
        if entry.get("architecture") == scmp_native:
            arches = [entry["architecture"], *_list(entry.get("subArchitectures"))]
            break
    for a in arches:
        if a not in AUDIT_ARCH:
            raise InvalidArgument(f"seccomp profile: unknown architecture {a!r}")

    default_action = str(profile.get("defaultAction") or "")
    if default_action not in _ACTIONS:
        raise InvalidArgument(f"seccomp profile: unsupported defaultAction {default_action!r}")

    syscalls: list[dict[str, Any]] = []
    for rule in _list(profile.get("syscalls")):
        if not isinstance(rule, dict):
            raise InvalidArgument("seccomp profile: each entry of 'syscalls' must be an object")
        excludes = rule.get("excludes") or {}
        includes = rule.get("includes") or {}
        if arch in _list(excludes.get("arches")):
            continue
        if any(caps_mod.normalize(c) in capset for c in _list(excludes.get("caps"))):
            continue
        if excludes.get("minKernel") and _kernel_at_least(str(excludes["minKernel"]), kernel):
            continue
        if includes.get("arches") and arch not in includes["arches"]:
            continue
        if any(caps_mod.normalize(c) not in capset for c in _list(includes.get("caps"))):
            continue
        if includes.get("minKernel") and not _kernel_at_least(str(includes["minKernel"]), kernel):
            continue
        if rule.get("name") and rule.get("names"):
            raise InvalidArgument("seccomp profile: use either 'name' or 'names' in a rule, not both")
        names = [rule["name"]] if rule.get("name") else [str(n) for n in _list(rule.get("names"))]
        action = str(rule.get("action") or "")
        if action not in _ACTIONS:
            raise InvalidArgument(f"seccomp profile: unsupported action {action!r} for {names}")
        args = []
        for arg in _list(rule.get("args")):
            op = str(arg.get("op") or "")
            if op not in _OPS:
                raise InvalidArgument(f"seccomp profile: unknown operator {op!r} for {names}")
            index = int(arg.get("index", 0))
            if not 0 <= index < 6:
                raise InvalidArgument(f"seccomp profile: argument index {index} out of range for {names}")
            args.append(
                {
                    "index": index,
                    "value": int(arg.get("value", 0)),
                    "valueTwo": int(arg.get("valueTwo", 0)),
                    "op": op,
                }
            )
        resolved: dict[str, Any] = {"names": names, "action": action, "args": args}
        if rule.get("errnoRet") is not None:
            resolved["errnoRet"] = int(rule["errnoRet"])
        syscalls.append(resolved)

    result: dict[str, Any] = {
        "defaultAction": default_action,
        "architectures": arches,
        "syscalls": syscalls,
    }
    if profile.get("defaultErrnoRet") is not None:
        result["defaultErrnoRet"] = int(profile["defaultErrnoRet"])
    return result


def _action_value(action: str, errno_ret: int | None) -> int:
    value = _ACTIONS[action]
    if action in ("SCMP_ACT_ERRNO", "SCMP_ACT_TRACE"):
        value |= (_EPERM if errno_ret is None else errno_ret) & 0xFFFF
    return value


# --------------------------------------------------------------------------------------------- compile


@cache
def libseccomp_version() -> str:
    """``2.5.4``: part of the cache key (a newer libseccomp may know more syscalls)."""

    class _Version(ctypes.Structure):
        _fields_ = [("major", ctypes.c_uint), ("minor", ctypes.c_uint), ("micro", ctypes.c_uint)]

    try:
        lib = ctypes.CDLL("libseccomp.so.2")
    except OSError as err:
        raise RuntimeFailure(f"libseccomp is not installed (apt-get install libseccomp2): {err}") from err
    lib.seccomp_version.restype = ctypes.POINTER(_Version)
    v = lib.seccomp_version().contents
    return f"{v.major}.{v.minor}.{v.micro}"


def _sha256_hex(data: bytes) -> str:
    # The interpreter's own SHA-256 where it has one: hashlib would load OpenSSL (~2 ms of every container
    # start, since the shim builds the default filter as it starts) for this one digest.
    try:
        from _sha2 import sha256  # type: ignore[import-not-found,unused-ignore]  # CPython 3.12+
    except ImportError:
        try:
            from _sha256 import sha256  # type: ignore[import-not-found,no-redef,unused-ignore]  # 3.11
        except ImportError:
            from hashlib import sha256  # type: ignore[assignment,unused-ignore]
    return str(sha256(data).hexdigest())


def cache_key(resolved: dict[str, Any]) -> str:
    material = json.dumps(
        [_FORMAT, os.uname().machine, libseccomp_version(), resolved], sort_keys=True, separators=(",", ":")
    )
    return _sha256_hex(material.encode())


def default_cache_dir() -> Path:
    """``$DOCKYARD_RUN/seccomp``: a tmpfs, so a kernel or library upgrade (a reboot) starts it afresh."""
    return Path(os.environ.get("DOCKYARD_RUN") or "/run/dockyard") / "seccomp"


def build_filter(
    profile: dict[str, Any], capabilities: Sequence[str], *, cache_dir: Path | None = None
) -> bytes:
    """The BPF program (``struct sock_filter`` array) for ``profile`` with the container's capabilities.

    Built with libseccomp on first use, then served from memory or ``cache_dir`` (default
    :func:`default_cache_dir`). A profile that disables seccomp gives ``b""``, which :func:`load` ignores.
    """
    resolved = resolve(profile, capabilities)
    if resolved is None:
        return b""
    key = cache_key(resolved)
    cached = _memory_cache.get(key)
    if cached is not None:
        return cached
    path = (cache_dir or default_cache_dir()) / f"{key}.bpf"
    try:
        data = path.read_bytes()
    except OSError:
        data = b""
    if not data or len(data) % _INSN.size:
        data = compile_bpf(resolved)
        try:
            from core.state.records import write_bytes

            path.parent.mkdir(parents=True, exist_ok=True)
            write_bytes(path, data)
        except OSError:
            pass  # a cache we cannot write only costs time
    _memory_cache[key] = data
    return data


def compile_bpf(resolved: dict[str, Any]) -> bytes:
    """libseccomp does the hard part (arch dispatch, argument comparisons); we only add the ENOSYS stub."""
    try:
        import pyseccomp
    except (ImportError, RuntimeError) as err:
        raise RuntimeFailure(f"cannot build the seccomp filter: {err}") from err

    default_errno = resolved.get("defaultErrnoRet")
    default_action = _action_value(resolved["defaultAction"], default_errno)
    try:
        filt = pyseccomp.SyscallFilter(default_action)
        for a in resolved["architectures"]:
            try:
                filt.add_arch(AUDIT_ARCH[a])
            except OSError as err:
                if err.errno != 17:  # EEXIST: the native arch is always there
                    raise
        filt.set_attr(pyseccomp.Attr.CTL_NNP, 0)  # we set no_new_privs ourselves, only when asked
        try:
            # A binary tree of syscall numbers instead of libseccomp's default list (runc's choice): the
            # same decisions, but loading docker's profile costs 0.6 ms instead of 1.7. The kernel runs the
            # filter once per syscall number as it loads it (the constant-action cache), and a list walks
            # hundreds of compares each time; every container start and every exec pays the load.
            filt.set_attr(pyseccomp.Attr.CTL_OPTIMIZE, 2)
        except OSError:
            pass  # libseccomp before 2.5 has only the list
    except OSError as err:
        raise RuntimeFailure(f"cannot set up the seccomp filter: {err}") from err

    for rule in resolved["syscalls"]:
        action = _action_value(rule["action"], rule.get("errnoRet"))
        if action == default_action:
            continue  # libseccomp refuses a rule that repeats the default; runc skips it too
        conditions = [
            pyseccomp.Arg(
                a["index"],
                _OPS[a["op"]],
                a["value"],
                a["valueTwo"] if a["op"] == "SCMP_CMP_MASKED_EQ" else 0,
            )
            for a in rule["args"]
        ]
        indexes = [a["index"] for a in rule["args"]]
        # Conditions on the same argument cannot be ANDed by libseccomp: like runc, add them as separate
        # rules (an OR).
        groups = [[c] for c in conditions] if len(set(indexes)) != len(indexes) else [conditions]
        for name in rule["names"]:
            nr = pyseccomp.resolve_syscall(pyseccomp.Arch.NATIVE, name)
            if nr == -1:
                continue  # unknown to this libseccomp: like runc, ignore it
            for group in groups:
                try:
                    filt.add_rule(action, nr, *group)
                except OSError as err:
                    raise RuntimeFailure(f"seccomp rule for {name!r} rejected by libseccomp: {err}") from err

    fd = os.memfd_create("seccomp-bpf")
    try:
        with os.fdopen(fd, "w+b", closefd=False) as f:
            filt.export_bpf(f)
        os.lseek(fd, 0, os.SEEK_SET)
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
        program = b"".join(chunks)
    finally:
        os.close(fd)

    stub = _enosys_stub(resolved, pyseccomp)
    data = stub + program
    if len(data) // _INSN.size > _BPF_MAXINSNS:
        raise RuntimeFailure(f"seccomp filter too large ({len(data) // _INSN.size} instructions)")
    return data


def _enosys_stub(resolved: dict[str, Any], pyseccomp: Any) -> bytes:
    """Per architecture: a syscall numbered above every syscall the profile names returns ENOSYS."""
    default = resolved["defaultAction"]
    if default in ("SCMP_ACT_ALLOW", "SCMP_ACT_LOG") or (
        default == "SCMP_ACT_ERRNO" and resolved.get("defaultErrnoRet") == _ENOSYS
    ):
        return b""
    names = {n for rule in resolved["syscalls"] for n in rule["names"]}
    arches = [a for a in resolved["architectures"] if a != "SCMP_ARCH_X32"]
    native = _NATIVE_TO_SCMP.get(native_arch())
    if native and native not in arches:
        arches.insert(0, native)
    blocks: list[list[tuple[int, int | str, int | str, int]]] = []
    for a in arches:
        token = AUDIT_ARCH[a]
        numbers = [pyseccomp.resolve_syscall(token, n) for n in names]
        valid = [nr for nr in numbers if 0 <= nr < _X32_SYSCALL_BIT]
        if not valid:
            continue
        block: list[tuple[int, int | str, int | str, int]] = [
            (_LD_W_ABS, 0, 0, 4),  # A = seccomp_data.arch
            (_JEQ_K, 0, "next", token),
            (_LD_W_ABS, 0, 0, 0),  # A = seccomp_data.nr
        ]
        if a == "SCMP_ARCH_X86_64":
            block.append((_JGE_K, "main", 0, _X32_SYSCALL_BIT))  # x32 calls: the real filter decides
        block += [(_JGT_K, 0, "main", max(valid)), (_RET_K, 0, 0, _ACTIONS["SCMP_ACT_ERRNO"] | _ENOSYS)]
        blocks.append(block)
    flat: list[tuple[int, int | str, int | str, int]] = []
    starts: list[int] = []
    for block in blocks:
        starts.append(len(flat))
        flat += block
    main = len(flat)
    out = bytearray()
    for i, (code, jt, jf, k) in enumerate(flat):
        block_index = max(b for b, s in enumerate(starts) if s <= i)
        next_start = starts[block_index + 1] if block_index + 1 < len(starts) else main

        def target(label: int | str, i: int = i, next_start: int = next_start) -> int:
            if label == "main":
                return main - i - 1
            if label == "next":
                return next_start - i - 1
            return int(label)

        out += _INSN.pack(code, target(jt), target(jf), k)
    return bytes(out)


# --------------------------------------------------------------------------------------------- load


def load(bpf: bytes) -> None:
    """Install ``bpf`` as this process's seccomp filter. Needs no_new_privs or CAP_SYS_ADMIN.

    Empty bytes mean "no filter" and do nothing. Uses only libc, so it works after pivot_root.
    """
    if not bpf:
        return
    count, rest = divmod(len(bpf), _INSN.size)
    if rest or count > _BPF_MAXINSNS:
        raise RuntimeFailure(f"not a seccomp BPF program ({len(bpf)} bytes)")
    buf = ctypes.create_string_buffer(bpf, len(bpf))
    prog = _SockFprog(count, ctypes.cast(buf, ctypes.c_void_p))
    if _libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.addressof(prog), 0, 0) != 0:
        err = ctypes.get_errno()
        hint = " (set no_new_privs or keep CAP_SYS_ADMIN until the filter is loaded)" if err == 13 else ""
        raise RuntimeFailure(f"loading the seccomp filter failed: {os.strerror(err)}{hint}")
