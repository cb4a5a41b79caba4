"""The last steps before ``execve``: capabilities, no_new_privs, seccomp (runc's order, Docker's defaults).

The container's init calls, in the container process::

    security.prepare_user_switch()        # PR_SET_KEEPCAPS: setuid to a non-root user keeps `permitted`
    os.setgroups(...); os.setgid(gid); os.setuid(uid)
    security.apply(caps, no_new_privs, bpf_or_profile)
    os.execve(...)

``prepare_user_switch`` is needed only when switching to a non-root uid (harmless otherwise): without it the
kernel empties every capability set at setuid, and :func:`apply` can no longer shrink the bounding set, so
it refuses (fails closed) rather than run the container with the host's bounding set.

What :func:`apply` does, in order:

1. raise ``effective`` to ``permitted`` (setuid cleared it), so the steps below are allowed;
2. drop from the bounding set every capability not asked for (needs CAP_SETPCAP);
3. without no_new_privs, load the seccomp filter now, while CAP_SYS_ADMIN is still effective — as runc does,
   so that Docker's default (``NoNewPrivs: 0``) still works for setuid programs in the container; if we
   never had CAP_SYS_ADMIN, no_new_privs is set instead (the kernel demands one or the other);
4. set permitted / effective / inheritable with capset: permitted = the list; effective = the list for root,
   empty for a non-root user (Docker's behaviour; execve clears it for non-root anyway); inheritable empty
   (CVE-2022-24769); then clear the ambient set;
5. with no_new_privs: set it, then load the seccomp filter last, so it filters as few of our own calls as
   possible.

``seccomp_profile`` may be a Docker profile (``dict``, built with :func:`core.runtime.seccomp.build_filter`)
or BPF bytes already built by the parent. Build in the parent before ``pivot_root``: afterwards libseccomp
and the cache directory are not visible (an in-memory cache inherited through fork still works).
Everything this module needs is imported at import time, so import it before ``pivot_root`` too.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence

from core.errors import RuntimeFailure
from core.runtime import linux, seccomp
from core.runtime.capabilities import (
    DEFAULT_CAPABILITIES,
    available_mask,
    from_mask,
    last_cap,
    resolve_capabilities,
    to_mask,
)

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~2 ms of a start)
if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "DEFAULT_CAPABILITIES",
    "apply",
    "current_sets",
    "prepare_user_switch",
    "resolve_capabilities",
]

_CAP_SYS_ADMIN = 21


def _prctl(option: int, arg2: int = 0, what: str = "prctl") -> int:
    try:
        return linux.prctl(option, arg2)
    except OSError as err:
        raise RuntimeFailure(f"{what} failed: {err.strerror}") from None


def current_sets() -> tuple[int, int, int]:
    """(effective, permitted, inheritable) of this thread, as 64-bit masks."""
    try:
        return linux.capget()
    except OSError as err:
        raise RuntimeFailure(f"capget failed: {err.strerror}") from None


def _capset(effective: int, permitted: int, inheritable: int) -> None:
    try:
        linux.capset(effective, permitted, inheritable)
    except OSError as err:
        raise RuntimeFailure(f"capset failed: {err.strerror}") from None


def prepare_user_switch() -> None:
    """Call before setuid to a non-root user, so ``permitted`` survives it (effective is cleared anyway)."""
    _prctl(linux.PR_SET_KEEPCAPS, 1, "prctl(PR_SET_KEEPCAPS)")


def apply(
    capabilities: Sequence[str], no_new_privs: bool, seccomp_profile: dict[str, Any] | bytes | None
) -> None:
    """Leave this process with exactly ``capabilities`` (``ALL`` allowed) and the seccomp filter loaded.

    Call it right before execve, after the user switch. Raises :class:`RuntimeFailure` if any step fails:
    the caller must then not execve.
    """
    wanted = to_mask(capabilities)
    bpf = seccomp.build_filter(seccomp_profile, capabilities) if isinstance(seccomp_profile, dict) else None
    if isinstance(seccomp_profile, bytes | bytearray):
        bpf = bytes(seccomp_profile)

    _eff, permitted, _inh = current_sets()
    bounding = available_mask()  # read once: the drops below are the only change to it
    missing = wanted & ~bounding
    if missing:
        raise RuntimeFailure(f"capabilities not available here: {', '.join(from_mask(missing))}")
    if wanted & ~permitted:
        raise RuntimeFailure(
            "capabilities were lost before apply(): call security.prepare_user_switch() before setuid"
        )
    # 1. setuid cleared `effective`; we need CAP_SETPCAP (bounding set) and CAP_SYS_ADMIN (seccomp) back.
    _capset(permitted, permitted, 0)

    # 2. Bounding set.
    for cap in range(last_cap() + 1):
        if wanted >> cap & 1 or not bounding >> cap & 1:
            continue  # kept, or already gone
        try:
            linux.prctl(linux.PR_CAPBSET_DROP, cap)
        except OSError as err:
            raise RuntimeFailure(
                f"cannot drop capability {cap} from the bounding set: {err.strerror}"
                + (" (call security.prepare_user_switch() before setuid)" if err.errno == 1 else "")
            ) from None

    # 3. Privileged seccomp, runc's order when no_new_privs is off. Without CAP_SYS_ADMIN the kernel only
    #    accepts a filter under no_new_privs, so then we set it (as libseccomp would by default).
    if bpf and not no_new_privs:
        if permitted >> _CAP_SYS_ADMIN & 1:
            seccomp.load(bpf)
            bpf = None
        else:
            no_new_privs = True

    # 4. The sets the program will run with.
    effective = wanted if os.geteuid() == 0 else 0
    _capset(effective, wanted, 0)
    try:
        linux.prctl(linux.PR_CAP_AMBIENT, linux.PR_CAP_AMBIENT_CLEAR_ALL)
    except OSError as err:
        if err.errno != 22:  # EINVAL: a kernel without ambient capabilities has none to clear
            raise RuntimeFailure(f"cannot clear ambient capabilities: {err.strerror}") from None
    if os.geteuid() != 0:
        with contextlib.suppress(OSError):
            linux.set_keepcaps(False)  # execve clears it too; do not leave it behind

    # 5. no_new_privs, then the unprivileged seccomp load as late as possible.
    if no_new_privs:
        _prctl(linux.PR_SET_NO_NEW_PRIVS, 1, "prctl(PR_SET_NO_NEW_PRIVS)")
        if bpf:
            seccomp.load(bpf)
