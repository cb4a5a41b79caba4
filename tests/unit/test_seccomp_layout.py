"""The compiled filter is laid out as a binary tree (it loads ~3x faster); it must decide exactly as
libseccomp's default list layout does, for every syscall number on every architecture and for argument
values around every comparison in the profile. Both programs run here on a small classic-BPF interpreter
(the kernel's semantics for the instructions seccomp allows), so no kernel is needed and any difference
shows up as a failing case.
"""

from __future__ import annotations

import struct
from functools import cache
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.runtime import seccomp
from core.runtime.capabilities import DEFAULT_CAPABILITIES

pyseccomp = pytest.importorskip("pyseccomp")

_INSN = struct.Struct("=HBBI")
_U32 = 0xFFFFFFFF


def run_bpf(program: bytes, nr: int, arch: int, args: tuple[int, ...]) -> int:
    """The action a classic-BPF seccomp program returns for one syscall (a ``struct seccomp_data``)."""
    return trace_bpf(program, nr, arch, args)[0]


def trace_bpf(program: bytes, nr: int, arch: int, args: tuple[int, ...], ip: int = 0) -> tuple[int, int]:
    """The action, and how many instructions ran to reach it."""
    data = struct.pack("=iIQ6Q", nr, arch, ip, *args)
    insns = list(_INSN.iter_unpack(program))
    a = x = 0
    mem = [0] * 16
    pc = steps = 0
    while True:
        code, jt, jf, k = insns[pc]  # an IndexError here means the program ran off its end: a bad program
        pc += 1
        steps += 1
        cls = code & 0x07
        if cls == 0x00:  # LD
            mode = code & 0xE0
            if mode == 0x20 and code & 0x18 == 0:  # W ABS
                a = struct.unpack_from("=I", data, k)[0]
            elif mode == 0x00:
                a = k
            elif mode == 0x60:
                a = mem[k]
            elif mode == 0x80:
                a = len(data)
            else:
                raise AssertionError(f"LD mode {code:#x} not allowed in seccomp")
        elif cls == 0x01:  # LDX
            mode = code & 0xE0
            x = k if mode == 0x00 else mem[k] if mode == 0x60 else len(data)
        elif cls == 0x02:  # ST
            mem[k] = a
        elif cls == 0x03:  # STX
            mem[k] = x
        elif cls == 0x04:  # ALU
            op, src = code & 0xF0, (x if code & 0x08 else k)
            a = _alu(op, a, src)
        elif cls == 0x05:  # JMP
            op, src = code & 0xF0, (x if code & 0x08 else k)
            if op == 0x00:
                pc += k
                continue
            taken = {0x10: a == src, 0x20: a > src, 0x30: a >= src, 0x40: bool(a & src)}[op]
            pc += jt if taken else jf
        elif cls == 0x06:  # RET
            return (a if code & 0x18 == 0x10 else k), steps
        else:  # MISC
            if code & 0xF8 == 0x00:
                x = a
            else:
                a = x


def _alu(op: int, a: int, src: int) -> int:
    results = {
        0x00: lambda: a + src,
        0x10: lambda: a - src,
        0x20: lambda: a * src,
        0x30: lambda: a // src,
        0x40: lambda: a | src,
        0x50: lambda: a & src,
        0x60: lambda: a << src,
        0x70: lambda: a >> src,
        0x80: lambda: -a,
        0x90: lambda: a % src,
        0xA0: lambda: a ^ src,
    }
    return results[op]() & _U32


@cache
def _programs() -> tuple[bytes, bytes, dict[str, Any]]:
    resolved = seccomp.resolve(seccomp.default_profile(), DEFAULT_CAPABILITIES, arch="amd64", kernel="6.1.0")
    assert resolved is not None
    tree = seccomp.compile_bpf(resolved)
    original = pyseccomp.SyscallFilter.set_attr

    def no_optimize(self: Any, attr: int, value: int) -> None:
        if attr != pyseccomp.Attr.CTL_OPTIMIZE:
            original(self, attr, value)

    pyseccomp.SyscallFilter.set_attr = no_optimize
    try:
        listed = seccomp.compile_bpf(resolved)
    finally:
        pyseccomp.SyscallFilter.set_attr = original
    return tree, listed, resolved


_ARCHES = [seccomp.AUDIT_ARCH[a] for a in ("SCMP_ARCH_X86_64", "SCMP_ARCH_X86")] + [
    seccomp.AUDIT_ARCH["SCMP_ARCH_AARCH64"]  # not in the filter: killed or refused the same way by both
]


def test_the_tree_is_really_another_layout() -> None:
    tree, listed, _ = _programs()
    assert tree != listed
    # the reason for the layout: far fewer compares on the way to a syscall near the end of the list
    steps_tree = _steps(tree, 435)
    steps_list = _steps(listed, 435)
    assert steps_tree * 4 < steps_list, (steps_tree, steps_list)


def _steps(program: bytes, nr: int) -> int:
    return trace_bpf(program, nr, seccomp.AUDIT_ARCH["SCMP_ARCH_X86_64"], (0,) * 6)[1]


def test_every_syscall_number_on_every_arch_gets_the_same_action() -> None:
    tree, listed, _ = _programs()
    zero = (0,) * 6
    for arch in _ARCHES:
        for nr in [*range(0, 600), *range(0x40000000, 0x40000000 + 600), -1, 0x7FFFFFFF]:
            assert run_bpf(tree, nr, arch, zero) == run_bpf(listed, nr, arch, zero), (hex(arch), nr)


def _interesting_values() -> list[int]:
    _, _, resolved = _programs()
    values = {0, 1, _U32, 1 << 32, (1 << 64) - 1}
    for rule in resolved["syscalls"]:
        for arg in rule["args"]:
            for v in (arg["value"], arg["valueTwo"]):
                for near in (v - 1, v, v + 1, v | (1 << 32), v & _U32):
                    values.add(near & ((1 << 64) - 1))
    return sorted(values)


@cache
def _conditional_numbers() -> list[int]:
    _, _, resolved = _programs()
    names = {n for rule in resolved["syscalls"] if rule["args"] for n in rule["names"]}
    numbers = {pyseccomp.resolve_syscall(pyseccomp.Arch.NATIVE, n) for n in names}
    return sorted(n for n in numbers if n >= 0)


@settings(max_examples=400, deadline=None)
@given(data=st.data())
def test_syscalls_with_argument_rules_get_the_same_action_for_any_arguments(data: st.DataObject) -> None:
    tree, listed, _ = _programs()
    value = st.sampled_from(_interesting_values()) | st.integers(0, (1 << 64) - 1)
    nr = data.draw(st.sampled_from(_conditional_numbers()) | st.integers(0, 500))
    arch = data.draw(st.sampled_from(_ARCHES))
    args = tuple(data.draw(value) for _ in range(6))
    assert run_bpf(tree, nr, arch, args) == run_bpf(listed, nr, arch, args)


def test_the_interpreter_reads_what_the_profile_says() -> None:
    # guards the interpreter itself: a few answers known from docker's profile
    tree, _, _ = _programs()
    x86_64 = seccomp.AUDIT_ARCH["SCMP_ARCH_X86_64"]
    zero = (0,) * 6
    allow, eperm, enosys = 0x7FFF0000, 0x00050001, 0x00050026
    assert run_bpf(tree, 0, x86_64, zero) == allow  # read
    assert run_bpf(tree, 165, x86_64, zero) == eperm  # mount, without CAP_SYS_ADMIN
    assert run_bpf(tree, 599, x86_64, zero) == enosys  # newer than anything the profile names
    personality = 135
    assert run_bpf(tree, personality, x86_64, (0, 0, 0, 0, 0, 0)) == allow
    assert run_bpf(tree, personality, x86_64, (0x0008, 0, 0, 0, 0, 0)) == allow
    assert run_bpf(tree, personality, x86_64, (0x1234, 0, 0, 0, 0, 0)) == eperm
