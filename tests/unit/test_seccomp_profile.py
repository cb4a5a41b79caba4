"""How a Docker seccomp profile is evaluated for one container (moby's setupSeccomp), without the kernel."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import InvalidArgument
from core.runtime import seccomp
from core.runtime.capabilities import DEFAULT_CAPABILITIES


def _names(resolved: dict[str, Any], action: str = "SCMP_ACT_ALLOW") -> set[str]:
    return {n for rule in resolved["syscalls"] if rule["action"] == action for n in rule["names"]}


def _resolve(caps: list[str] | tuple[str, ...] = DEFAULT_CAPABILITIES, **kw: Any) -> dict[str, Any]:
    resolved = seccomp.resolve(seccomp.default_profile(), caps, **{"arch": "amd64", "kernel": "6.1.0", **kw})
    assert resolved is not None
    return resolved


def test_default_profile_is_dockers() -> None:
    profile = seccomp.default_profile()
    assert profile["defaultAction"] == "SCMP_ACT_ERRNO"
    assert profile["defaultErrnoRet"] == 1
    assert len(profile["syscalls"][0]["names"]) > 300
    assert seccomp.default_profile() is not profile  # a fresh copy each time


def test_architectures_from_arch_map() -> None:
    assert _resolve()["architectures"] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
    assert _resolve(arch="arm64")["architectures"] == ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]
    assert _resolve(arch="riscv64")["architectures"] == ["SCMP_ARCH_RISCV64"]


def test_arch_includes() -> None:
    assert "arch_prctl" in _names(_resolve())
    assert "arch_prctl" not in _names(_resolve(arch="arm64"))
    assert "set_tls" in _names(_resolve(arch="arm64"))
    assert "set_tls" not in _names(_resolve())


def test_default_caps_keep_admin_syscalls_out() -> None:
    allowed = _names(_resolve())
    for name in ("mount", "unshare", "setns", "bpf", "reboot", "init_module", "keyctl", "kcmp"):
        assert name not in allowed, name
    assert "chroot" in allowed  # CAP_SYS_CHROOT is a default
    assert "ptrace" in allowed  # minKernel 4.8
    errno_rules = [r for r in _resolve()["syscalls"] if r["action"] == "SCMP_ACT_ERRNO"]
    assert errno_rules == [{"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "args": [], "errnoRet": 38}]
    clone = [r for r in _resolve()["syscalls"] if r["names"] == ["clone"]]
    assert clone == [
        {
            "names": ["clone"],
            "action": "SCMP_ACT_ALLOW",
            "args": [{"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}],
        }
    ]


def test_sys_admin_flips_includes_and_excludes() -> None:
    resolved = _resolve([*DEFAULT_CAPABILITIES, "CAP_SYS_ADMIN"])
    allowed = _names(resolved)
    assert {"mount", "unshare", "setns", "clone3", "clone"} <= allowed
    assert not [r for r in resolved["syscalls"] if r["action"] == "SCMP_ACT_ERRNO"]  # clone3 ENOSYS excluded
    assert not [r for r in resolved["syscalls"] if r["names"] == ["clone"] and r["args"]]


def test_caps_accept_any_spelling_and_all() -> None:
    assert _names(_resolve(["sys_ptrace"])) >= {"kcmp", "pidfd_getfd"}
    everything = _names(_resolve(["ALL"], kernel="6.1"))
    assert {"reboot", "init_module", "acct", "syslog", "bpf", "perf_event_open"} <= everything


def test_min_kernel() -> None:
    assert "ptrace" in _names(_resolve(["CAP_CHOWN"], kernel="4.8.0"))
    assert "ptrace" not in _names(_resolve(["CAP_CHOWN"], kernel="4.4.0-210-generic"))
    assert "ptrace" in _names(_resolve(["CAP_CHOWN"], kernel="6.18.44-fc-v509"))


def test_disabled_profile() -> None:
    assert seccomp.resolve({}, DEFAULT_CAPABILITIES) is None
    assert seccomp.build_filter({}, DEFAULT_CAPABILITIES) == b""


def test_rejects_bad_profiles() -> None:
    base = {"defaultAction": "SCMP_ACT_ERRNO"}
    bad: list[dict[str, Any]] = [
        {"defaultAction": "SCMP_ACT_MAYBE"},
        {**base, "architectures": ["SCMP_ARCH_X86_64"], "archMap": [{"architecture": "SCMP_ARCH_X86_64"}]},
        {**base, "architectures": ["SCMP_ARCH_PDP11"]},
        {**base, "syscalls": [{"names": ["read"], "action": "SCMP_ACT_SOMETIMES"}]},
        {
            **base,
            "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "op": "X"}]}],
        },
        {
            **base,
            "syscalls": [
                {"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 6, "op": "SCMP_CMP_EQ"}]}
            ],
        },
        {**base, "syscalls": [{"name": "read", "names": ["write"], "action": "SCMP_ACT_ALLOW"}]},
        {**base, "syscalls": ["read"]},
    ]
    for profile in bad:
        with pytest.raises(InvalidArgument):
            seccomp.resolve(profile, DEFAULT_CAPABILITIES, arch="amd64", kernel="6.1")


def test_legacy_name_and_architectures() -> None:
    profile = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": [{"name": "getppid", "action": "SCMP_ACT_ERRNO", "errnoRet": 5}],
    }
    resolved = seccomp.resolve(profile, [], arch="amd64", kernel="6.1")
    assert resolved == {
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "args": [], "errnoRet": 5}],
    }


def test_cache_key_depends_on_rules_not_on_irrelevant_caps() -> None:
    a = seccomp.cache_key(_resolve())
    b = seccomp.cache_key(_resolve([*DEFAULT_CAPABILITIES, "CAP_LEASE"]))
    c = seccomp.cache_key(_resolve([*DEFAULT_CAPABILITIES, "CAP_SYS_ADMIN"]))
    assert a == b != c


@given(st.binary(max_size=200))
def test_the_cache_key_digest_is_sha256(data: bytes) -> None:
    assert seccomp._sha256_hex(data) == hashlib.sha256(data).hexdigest()
