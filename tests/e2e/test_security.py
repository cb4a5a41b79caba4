"""Capabilities, no_new_privs and seccomp on the real kernel: each test forks a child that calls
``security.apply`` exactly as the container init does, then reports from inside (syscall results) and
through ``/proc/self/status`` of an exec'd ``grep``."""

from __future__ import annotations

import ctypes
import json
import os
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from core.errors import RuntimeFailure
from core.runtime import capabilities, seccomp, security

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")

DOCKER_DEFAULT_MASK = 0x00000000A80425FB
GREP = ["/usr/bin/grep", "-E", "^(Cap|Seccomp|NoNewPrivs|Uid)", "/proc/self/status"]
NOBODY = 65534

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long

SYS_KEYCTL, SYS_CLONE3, SYS_GETPGID, SYS_DUP = 250, 435, 121, 32  # x86_64 numbers
CLONE_NEWUSER, CLONE_NEWUTS = 0x10000000, 0x04000000

if os.uname().machine != "x86_64":
    pytestmark = pytest.mark.skip(reason="syscall numbers in these tests are x86_64's")


def _syscall(nr: int, *args: int) -> tuple[int, int]:
    ctypes.set_errno(0)
    result = _libc.syscall(ctypes.c_long(nr), *(ctypes.c_long(a) for a in args))
    return int(result), ctypes.get_errno()


def _unshare(flags: int) -> tuple[int, int]:
    ctypes.set_errno(0)
    result = _libc.unshare(flags)
    return int(result), ctypes.get_errno()


def run_child(body: Callable[[], Any], exec_argv: list[str] | None = None) -> tuple[int, Any, dict[str, str]]:
    """Fork; the child runs ``body`` (its JSON-able result is reported), then execs ``exec_argv``.

    Returns (exit status, body's result or the error text, /proc/self/status lines of the exec'd program).
    """
    result_r, result_w = os.pipe()
    out_r, out_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 0
        try:
            os.close(result_r)
            os.close(out_r)
            try:
                value: Any = {"ok": body()}
            except BaseException as err:
                value = {"error": f"{type(err).__name__}: {err}", "trace": traceback.format_exc()}
                code = 3
            os.write(result_w, json.dumps(value).encode())
            os.close(result_w)
            if exec_argv and code == 0:
                os.dup2(out_w, 1)
                os.execv(exec_argv[0], exec_argv)
        except BaseException:
            code = 4
        os._exit(code)
    os.close(result_w)
    os.close(out_w)
    with os.fdopen(result_r, "rb") as f:
        reported = json.loads(f.read() or b"{}")
    with os.fdopen(out_r, "rb") as f:
        output = f.read().decode()
    _, status = os.waitpid(pid, 0)
    status_lines = dict(line.split(":\t", 1) for line in output.splitlines() if ":\t" in line)
    return os.waitstatus_to_exitcode(status), reported.get("ok", reported.get("error")), status_lines


@pytest.fixture(scope="module", autouse=True)
def private_run_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Children that build a filter themselves write the default cache under $DOCKYARD_RUN: keep it ours."""
    run = tmp_path_factory.mktemp("run")
    old = os.environ.get("DOCKYARD_RUN")
    os.environ["DOCKYARD_RUN"] = str(run)
    yield run
    if old is None:
        del os.environ["DOCKYARD_RUN"]
    else:
        os.environ["DOCKYARD_RUN"] = old


@pytest.fixture(scope="module")
def profile() -> dict[str, Any]:
    return seccomp.default_profile()


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("seccomp-cache")


def _mask(status: dict[str, str], key: str) -> int:
    return int(status[key].strip(), 16)


def test_docker_defaults_as_root(profile: dict[str, Any], cache_dir: Path) -> None:
    bpf = seccomp.build_filter(profile, security.DEFAULT_CAPABILITIES, cache_dir=cache_dir)

    def body() -> None:
        security.apply(security.DEFAULT_CAPABILITIES, False, bpf)

    code, reported, status = run_child(body, GREP)
    assert code == 0, reported
    for key in ("CapEff", "CapPrm", "CapBnd"):
        assert _mask(status, key) == DOCKER_DEFAULT_MASK, (key, status)
    assert _mask(status, "CapInh") == 0
    assert _mask(status, "CapAmb") == 0
    assert status["Seccomp"].strip() == "2"
    assert status["NoNewPrivs"].strip() == "0"  # docker's default: seccomp loaded while still privileged


def test_profile_forbids_what_docker_forbids(profile: dict[str, Any]) -> None:
    def probe() -> dict[str, tuple[int, int]]:
        return {
            "keyctl": _syscall(SYS_KEYCTL, 0, 0, 0, 0, 0),
            "unshare_user": _unshare(CLONE_NEWUSER),
            "clone3": _syscall(SYS_CLONE3, 0, 0),
            "beyond_profile": _syscall(1000),
            "getpid": (os.getpid(), 0),
        }

    def with_seccomp() -> dict[str, tuple[int, int]]:
        security.apply(security.DEFAULT_CAPABILITIES, False, profile)  # dict: built in the child
        return probe()

    def without_seccomp() -> dict[str, tuple[int, int]]:
        security.apply(security.DEFAULT_CAPABILITIES, False, None)
        return probe()

    code, filtered, _ = run_child(with_seccomp)
    assert code == 0, filtered
    assert filtered["keyctl"] == [-1, 1]  # EPERM: not in the allow list
    assert filtered["unshare_user"] == [-1, 1]  # EPERM: allowed only with CAP_SYS_ADMIN
    assert filtered["clone3"] == [-1, 38]  # errnoRet 38 (ENOSYS) so libc falls back to clone
    assert filtered["beyond_profile"] == [-1, 38]  # runc's ENOSYS stub for unknown new syscalls
    assert filtered["getpid"][0] > 0

    # The same calls without the filter: keyctl and an unprivileged user namespace work, so the
    # EPERMs above came from seccomp and not from the missing capabilities.
    code, plain, _ = run_child(without_seccomp)
    assert code == 0, plain
    assert plain["unshare_user"] == [0, 0]
    assert plain["keyctl"][1] != 1
    assert plain["beyond_profile"] == [-1, 38]


def test_cap_add_sys_admin_opens_the_conditional_rules(profile: dict[str, Any]) -> None:
    caps = security.resolve_capabilities(["sys_admin"], [], False)

    def body() -> dict[str, tuple[int, int]]:
        security.apply(caps, False, profile)
        return {"unshare_uts": _unshare(CLONE_NEWUTS), "clone3": _syscall(SYS_CLONE3, 0, 0)}

    code, reported, status = run_child(body, GREP)
    assert code == 0, reported
    assert _mask(status, "CapEff") == DOCKER_DEFAULT_MASK | 1 << 21
    assert _mask(status, "CapBnd") == DOCKER_DEFAULT_MASK | 1 << 21
    assert status["Seccomp"].strip() == "2"
    assert reported["unshare_uts"] == [0, 0]
    assert reported["clone3"][1] != 38  # reaches the kernel (EINVAL/EFAULT for our bogus arguments)


def test_all_gives_everything_available(profile: dict[str, Any]) -> None:
    def body() -> None:
        security.apply(["ALL"], False, profile)

    code, reported, status = run_child(body, GREP)
    assert code == 0, reported
    assert _mask(status, "CapEff") == capabilities.available_mask()
    assert _mask(status, "CapBnd") == capabilities.available_mask()
    assert status["Seccomp"].strip() == "2"


def test_drop_all_leaves_nothing(profile: dict[str, Any]) -> None:
    caps = security.resolve_capabilities([], ["ALL"], False)
    assert caps == []

    def body() -> None:
        security.apply(caps, False, profile)  # seccomp still loads: CAP_SYS_ADMIN is dropped after it

    code, reported, status = run_child(body, GREP)
    assert code == 0, reported
    for key in ("CapEff", "CapPrm", "CapBnd", "CapInh", "CapAmb"):
        assert _mask(status, key) == 0, key
    assert status["Seccomp"].strip() == "2"


def test_non_root_user(profile: dict[str, Any]) -> None:
    def body() -> list[int]:
        security.prepare_user_switch()
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)
        security.apply(security.DEFAULT_CAPABILITIES, False, profile)
        return list(security.current_sets())

    code, reported, status = run_child(body, GREP)
    assert code == 0, reported
    eff, prm, inh = reported
    assert (eff, prm, inh) == (0, DOCKER_DEFAULT_MASK, 0)  # before execve, like runc leaves it
    assert status["Uid"].split()[0] == str(NOBODY)
    assert _mask(status, "CapBnd") == DOCKER_DEFAULT_MASK
    assert _mask(status, "CapEff") == 0  # what `docker run --user 65534` shows
    assert _mask(status, "CapPrm") == 0
    assert _mask(status, "CapAmb") == 0
    assert status["Seccomp"].strip() == "2"
    assert status["NoNewPrivs"].strip() == "0"


def test_non_root_without_keepcaps_fails_closed(profile: dict[str, Any]) -> None:
    def body() -> None:
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)  # forgot prepare_user_switch(): every capability is gone
        security.apply(security.DEFAULT_CAPABILITIES, False, profile)

    code, reported, _ = run_child(body, GREP)
    assert code == 3
    assert "prepare_user_switch" in reported


def test_no_new_privs(profile: dict[str, Any]) -> None:
    def body() -> None:
        security.apply(security.DEFAULT_CAPABILITIES, True, profile)

    code, reported, status = run_child(body, GREP)
    assert code == 0, reported
    assert status["NoNewPrivs"].strip() == "1"
    assert status["Seccomp"].strip() == "2"
    assert _mask(status, "CapEff") == DOCKER_DEFAULT_MASK


def test_unavailable_capability_is_refused() -> None:
    missing = [c for c in capabilities.CAPABILITIES if c not in capabilities.available()]
    if not missing:
        pytest.skip("every capability is in our bounding set here")

    def body() -> None:
        security.apply([missing[0]], False, None)

    code, reported, _ = run_child(body)
    assert code == 3
    assert "not available" in reported
    with pytest.raises(Exception, match="not available"):
        security.resolve_capabilities([missing[0]], [], False)


def test_custom_profile_args_errno_and_conditions() -> None:
    custom = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            # two conditions on the same argument: runc turns them into two rules (OR)
            {
                "names": ["dup"],
                "action": "SCMP_ACT_ERRNO",
                "errnoRet": 55,
                "args": [
                    {"index": 0, "value": 42, "op": "SCMP_CMP_EQ"},
                    {"index": 0, "value": 43, "op": "SCMP_CMP_EQ"},
                ],
            },
            {
                "names": ["getpgid"],
                "action": "SCMP_ACT_ERRNO",
                "errnoRet": 57,
                "args": [{"index": 0, "value": 0xF000, "valueTwo": 0x5000, "op": "SCMP_CMP_MASKED_EQ"}],
            },
            # only with CAP_SYS_TIME, which the defaults lack
            {"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "includes": {"caps": ["CAP_SYS_TIME"]}},
            # excluded because the defaults have CAP_KILL
            {"names": ["getuid"], "action": "SCMP_ACT_ERRNO", "excludes": {"caps": ["CAP_KILL"]}},
            {"names": ["getgid"], "action": "SCMP_ACT_ERRNO"},  # errnoRet defaults to EPERM
        ],
    }

    def body() -> dict[str, tuple[int, int]]:
        security.apply(security.DEFAULT_CAPABILITIES, True, custom)
        return {
            "dup42": _syscall(SYS_DUP, 42),
            "dup43": _syscall(SYS_DUP, 43),
            "dup44": _syscall(SYS_DUP, 44),
            "getpgid_match": _syscall(SYS_GETPGID, 0x5123),
            "getpgid_other": _syscall(SYS_GETPGID, 0),
            "getppid": (os.getppid(), 0),
            "getuid": _syscall(102),
            "getgid": _syscall(104),
        }

    code, reported, _ = run_child(body)
    assert code == 0, reported
    assert reported["dup42"] == [-1, 55]
    assert reported["dup43"] == [-1, 55]
    assert reported["dup44"] == [-1, 9]  # EBADF from the kernel: the filter let it through
    assert reported["getpgid_match"] == [-1, 57]
    assert reported["getpgid_other"][0] > 0
    assert reported["getppid"][0] > 0
    assert reported["getuid"] == [0, 0]
    assert reported["getgid"] == [-1, 1]


def test_bpf_cache_on_disk(profile: dict[str, Any], tmp_path: Path) -> None:
    seccomp._memory_cache.clear()
    first = seccomp.build_filter(profile, security.DEFAULT_CAPABILITIES, cache_dir=tmp_path)
    files = list(tmp_path.glob("*.bpf"))
    assert len(files) == 1 and files[0].read_bytes() == first
    # A different capability set that changes the rules gets its own entry; one that does not shares it.
    seccomp._memory_cache.clear()
    with_admin = seccomp.build_filter(
        profile, [*security.DEFAULT_CAPABILITIES, "SYS_ADMIN"], cache_dir=tmp_path
    )
    assert with_admin != first
    same = seccomp.build_filter(profile, [*security.DEFAULT_CAPABILITIES, "LEASE"], cache_dir=tmp_path)
    assert same == first
    assert len(list(tmp_path.glob("*.bpf"))) == 2
    # Served from disk: poison the file and the (cleared) memory cache must return the poisoned bytes.
    seccomp._memory_cache.clear()
    files[0].write_bytes(first[:-8])
    assert seccomp.build_filter(profile, security.DEFAULT_CAPABILITIES, cache_dir=tmp_path) == first[:-8]
    seccomp._memory_cache.clear()


def test_apply_time_with_warm_cache(profile: dict[str, Any], cache_dir: Path) -> None:
    """The brief's budget: a few ms in the child once the BPF exists. Prints the numbers measured."""
    seccomp.build_filter(profile, security.DEFAULT_CAPABILITIES, cache_dir=cache_dir)  # warm disk + memory

    def timed_dict() -> float:
        t0 = time.perf_counter()
        security.apply(security.DEFAULT_CAPABILITIES, False, profile)  # memory cache hit (inherited)
        return time.perf_counter() - t0

    bpf = seccomp.build_filter(profile, security.DEFAULT_CAPABILITIES, cache_dir=cache_dir)

    def timed_bytes() -> float:
        t0 = time.perf_counter()
        security.apply(security.DEFAULT_CAPABILITIES, False, bpf)
        return time.perf_counter() - t0

    def timed_disk() -> float:
        seccomp._memory_cache.clear()
        t0 = time.perf_counter()
        data = seccomp.build_filter(profile, security.DEFAULT_CAPABILITIES, cache_dir=cache_dir)
        security.apply(security.DEFAULT_CAPABILITIES, False, data)
        return time.perf_counter() - t0

    results = {}
    for label, fn in (("dict", timed_dict), ("bytes", timed_bytes), ("disk", timed_disk)):
        samples = []
        for _ in range(5):
            code, elapsed, _ = run_child(fn)
            assert code == 0, elapsed
            samples.append(elapsed)
        results[label] = sorted(samples)[len(samples) // 2]
    print("apply() median seconds in the child:", {k: round(v * 1000, 2) for k, v in results.items()}, "ms")
    assert results["bytes"] < 0.05
    assert results["dict"] < 0.05
    assert results["disk"] < 0.05


def test_refuses_garbage_bpf() -> None:
    with pytest.raises(RuntimeFailure):
        seccomp.load(b"\x00" * 7)
