"""Resolving mount targets inside a root: symlinks and ".." never leave it, with openat2 or the walker."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.runtime import linux, rootfs


@pytest.fixture
def root(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    r = tmp_path / "root"
    (r / "etc").mkdir(parents=True)
    (r / "etc" / "file").write_text("x")
    (tmp_path / "outside").mkdir()
    fd = os.open(r, os.O_PATH | os.O_DIRECTORY)
    try:
        yield r, fd
    finally:
        os.close(fd)


@pytest.fixture(params=["openat2", "walker"])
def resolver(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "openat2" and not linux.have_openat2():
        pytest.skip("kernel without openat2")
    if request.param == "walker":
        monkeypatch.setattr(linux, "have_openat2", lambda: False)
    return str(request.param)


def _where(fd: int) -> str:
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    finally:
        os.close(fd)


def test_symlinks_are_resolved_inside_the_root(root: tuple[Path, int], resolver: str) -> None:
    r, fd = root
    outside = r.parent / "outside"
    (r / "abs").symlink_to(str(outside))  # absolute: means <root>/<that path>
    (r / "rel").symlink_to("../../../../../../../../etc")
    (r / "dots").symlink_to("etc/../../../etc/file")
    assert _where(rootfs.open_in_root(fd, "/rel/file")) == str(r / "etc" / "file")
    assert _where(rootfs.open_in_root(fd, "dots")) == str(r / "etc" / "file")
    assert _where(rootfs.open_in_root(fd, "/../../etc")) == str(r / "etc")
    made = _where(rootfs.open_in_root(fd, "/abs/sub", create="dir"))
    assert made == str(r) + str(outside) + "/sub"
    assert list(outside.iterdir()) == []


def test_create_file_and_dirs(root: tuple[Path, int], resolver: str) -> None:
    r, fd = root
    assert _where(rootfs.open_in_root(fd, "/a/b/c.conf", create="file")) == str(r / "a" / "b" / "c.conf")
    assert (r / "a" / "b" / "c.conf").is_file()
    with pytest.raises(FileNotFoundError):
        rootfs.open_in_root(fd, "/missing")
    with pytest.raises(NotADirectoryError):
        rootfs.open_in_root(fd, "/etc/file/below", create="dir")


def test_symlink_loop(root: tuple[Path, int], resolver: str) -> None:
    r, fd = root
    (r / "loop").symlink_to("loop")
    with pytest.raises(OSError) as info:
        rootfs.open_in_root(fd, "/loop/x", create="dir")
    assert info.value.errno == 40  # ELOOP


def test_parse_options() -> None:
    flags, prop, data = rootfs.parse_options(["rbind", "ro", "nosuid", "rslave", "size=1m", "mode=0755"])
    assert flags == linux.MS_RDONLY | linux.MS_NOSUID
    assert prop == linux.MS_SLAVE | linux.MS_REC
    assert data == ["size=1m", "mode=0755"]
    assert rootfs.parse_options(["ro", "rw"])[0] == 0


def test_openat2_tries_again_when_a_rename_on_the_host_races_a_dotdot(root: tuple[Path, int]) -> None:
    """RESOLVE_IN_ROOT answers EAGAIN when any rename on the host races a ".." of the path (containers
    starting beside this one make such races): seen as "create mountpoint ...: resource temporarily
    unavailable" in a test beside two others. A child renames as fast as it can while both ways open."""
    if not linux.have_openat2():
        pytest.skip("kernel without openat2")
    import ctypes
    import subprocess
    import sys
    import time

    r, fd = root
    churn = r.parent / "churn"
    churn.mkdir()
    renamer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import os, sys\n"
            "os.chdir(sys.argv[1]); open('a', 'w').close()\n"
            "while True:\n    os.rename('a', 'b'); os.rename('b', 'a')\n",
            str(churn),
        ]
    )
    how = linux._OpenHow(os.O_PATH | os.O_CLOEXEC, 0, linux.RESOLVE_IN_ROOT)
    raw_eagain = failed = tries = 0
    deadline = time.monotonic() + 5  # a loaded machine races less often: look a while for a few races
    try:
        while raw_eagain < 20 and time.monotonic() < deadline:  # once, as the kernel answers
            tries += 1
            got = linux._libc.syscall(
                linux._nr("openat2"), fd, b"etc/../etc/../etc/file", ctypes.byref(how), ctypes.sizeof(how)
            )
            if got >= 0:
                os.close(got)
            elif ctypes.get_errno() == 11:
                raw_eagain += 1
        for _ in range(max(tries, 20_000)):  # tried again on EAGAIN
            try:
                os.close(linux.openat2(fd, "etc/../etc/../etc/file", os.O_PATH, 0, linux.RESOLVE_IN_ROOT))
            except OSError:
                failed += 1
    finally:
        renamer.kill()
        renamer.wait()
    if not raw_eagain:
        pytest.skip("no rename raced a lookup here (nothing to try again)")
    assert failed == 0, f"{failed} opens failed ({raw_eagain} of {tries} single tries met EAGAIN)"
