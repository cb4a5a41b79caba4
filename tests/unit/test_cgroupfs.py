"""core.runtime.cgroupfs: mountinfo's escapes, and the cgroups this process is in."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.runtime import cgroupfs


def _by_regex(path: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), path)


@pytest.mark.parametrize(
    ("raw", "path"),
    [
        ("/sys/fs/cgroup", "/sys/fs/cgroup"),
        (r"/mnt/with\040space", "/mnt/with space"),
        (r"/a\011tab\012nl\134bs", "/a\ttab\nnl\\bs"),
        ("/trailing\\", "/trailing\\"),
        (r"/not\08octal", r"/not\08octal"),
    ],
)
def test_unescape(raw: str, path: str) -> None:
    assert cgroupfs.unescape(raw) == path


@given(st.text(alphabet="ab/\\0123456789 ", max_size=30))
def test_unescape_matches_the_kernel_rule(raw: str) -> None:
    assert cgroupfs.unescape(raw) == _by_regex(raw)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_the_cgroups_we_are_in_list_us() -> None:
    dirs = cgroupfs.cgroups_of(os.getpid())
    assert dirs, "no cgroup hierarchy is mounted"
    for d in dirs:
        assert str(os.getpid()) in Path(d, "cgroup.procs").read_text().split()
    assert cgroupfs.cgroups_of(2**22 + 1) == []  # no such process
