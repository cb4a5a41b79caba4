"""Linux capability names and numbers, Docker's default set, and Docker's cap-add / cap-drop rules.

Names are accepted the way docker accepts them: ``CAP_CHOWN``, ``chown`` or ``CHOWN``, plus the magic ``ALL``.
``ALL`` means every capability that is *available here*: known to the running kernel and still in our own
bounding set (moby does the same; on this kind of VM CAP_SYS_RESOURCE is missing from the bounding set, so
asking for it would make capset fail).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import cache

from core.errors import InvalidArgument

# Index = capability number (include/uapi/linux/capability.h).
CAPABILITIES: tuple[str, ...] = (
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
)

_NUMBERS: dict[str, int] = {name: i for i, name in enumerate(CAPABILITIES)}

# Docker's 14 defaults, in moby's order (oci/caps/defaults.go). As a mask: 0x00000000a80425fb.
DEFAULT_CAPABILITIES: tuple[str, ...] = (
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
)

ALL = "ALL"


def normalize(name: str) -> str:
    """``chown`` / ``CHOWN`` / ``cap_chown`` -> ``CAP_CHOWN``; ``all`` -> ``ALL``. Unknown: an error."""
    upper = name.strip().upper()
    if upper == ALL:
        return ALL
    if not upper.startswith("CAP_"):
        upper = "CAP_" + upper
    if upper not in _NUMBERS and not _is_numbered(upper):
        raise InvalidArgument(f"unknown capability: {name!r}")
    return upper


def _is_numbered(canonical: str) -> bool:
    """``CAP_41``: how :func:`name_of` spells a capability newer than our table, if the kernel has it."""
    digits = canonical[4:]
    return digits.isdigit() and len(CAPABILITIES) <= int(digits) <= last_cap()


def number(name: str) -> int:
    """The kernel's number for a capability name (any accepted spelling)."""
    canonical = normalize(name)
    if canonical == ALL:
        raise InvalidArgument("'ALL' is not a single capability")
    return _NUMBERS[canonical] if canonical in _NUMBERS else int(canonical[4:])


def name_of(num: int) -> str:
    if 0 <= num < len(CAPABILITIES):
        return CAPABILITIES[num]
    return f"CAP_{num}"  # a capability newer than this table: keep it addressable by number


def capbset_read(cap: int) -> int:
    """prctl(PR_CAPBSET_READ): 1 if ``cap`` is in our bounding set, 0 if not, -1 past the kernel's last."""
    # imported here: ctypes costs `run` ~1 ms, and parsing --cap-add needs only the names above
    from core.runtime import linux

    try:
        return linux.prctl(linux.PR_CAPBSET_READ, cap)
    except OSError:
        return -1


@cache
def last_cap() -> int:
    """The highest capability number the running kernel knows."""
    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            return int(f.read())
    except (OSError, ValueError):
        # No /proc (after pivot_root, before it is mounted): PR_CAPBSET_READ says EINVAL past the last one.
        cap = 0
        while cap < 64 and capbset_read(cap) >= 0:
            cap += 1
        return cap - 1


def bounding_mask() -> int:
    """Our own bounding set, as a bit mask (prctl: needs no capability and no /proc)."""
    mask = 0
    for cap in range(last_cap() + 1):
        if capbset_read(cap) == 1:
            mask |= 1 << cap
    return mask


def available_mask() -> int:
    """What ``ALL`` means here: capabilities the kernel knows that are still in our bounding set."""
    return bounding_mask() & ((1 << (last_cap() + 1)) - 1)


def available() -> list[str]:
    return from_mask(available_mask())


def to_mask(names: Iterable[str]) -> int:
    """A bit mask for capability names; ``ALL`` expands to :func:`available`."""
    mask = 0
    for name in names:
        canonical = normalize(name)
        mask |= available_mask() if canonical == ALL else 1 << number(canonical)
    return mask


def from_mask(mask: int) -> list[str]:
    return [name_of(i) for i in range(mask.bit_length()) if mask >> i & 1]


def expand(names: Iterable[str]) -> list[str]:
    """Canonical names with ``ALL`` expanded and duplicates removed, in capability-number order."""
    return from_mask(to_mask(names))


def resolve_capabilities(
    cap_add: Sequence[str] = (), cap_drop: Sequence[str] = (), privileged: bool = False
) -> list[str]:
    """The container's capability list from ``--cap-add`` / ``--cap-drop`` / ``--privileged``, as moby does.

    moby's ``caps.TweakCapabilities``: privileged -> all available; ``--cap-add ALL`` -> all available minus
    the drops; ``--cap-drop ALL`` -> only the adds; otherwise the defaults minus the drops, plus the adds.
    So a capability named in both lists is *kept* unless the add was ``ALL`` (the docker CLI's
    "CapAdd takes precedence over CapDrop" rule gives the same result). Names are case-insensitive,
    ``CAP_`` optional; an unknown name is an error, and so is one the kernel or our bounding set lacks.
    """
    if not privileged and not cap_add and not cap_drop:
        return list(DEFAULT_CAPABILITIES)  # the common case, without asking the kernel (ctypes, ~1 ms)
    everything = available()
    if privileged:
        return everything
    drops = [normalize(c) for c in cap_drop]
    adds = [normalize(c) for c in cap_add]
    for cap in adds:
        if cap != ALL and cap not in everything:
            raise InvalidArgument(
                f"capability not supported by the kernel or not available in this environment: {cap!r}"
            )
    if ALL in adds:
        caps = [c for c in everything if c not in drops]
    elif ALL in drops:
        caps = list(adds)
    else:
        caps = [c for c in DEFAULT_CAPABILITIES if c not in drops] + adds
    result: list[str] = []
    for cap in caps:  # moby may repeat a name (default + add); the kernel does not care, we dedupe
        if cap not in result:
            result.append(cap)
    return result
