"""core.storage.tarsafe: benign archives extract exactly as GNU tar does; hostile ones never write outside."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import os
import re
import stat
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.errors import UnsafeLayer
from core.storage.compression import open_decompressed
from core.storage.layers import OPAQUE_XATTR, overlay_whiteout
from core.storage.tarsafe import extract

ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not ROOT, reason="owners, device nodes and trusted.* xattrs need root")

GNU_TAR_X = ["tar", "-x", "-p", "--same-owner", "--numeric-owner", "--xattrs", "--xattrs-include=*"]
# cap_net_raw+ep, VFS_CAP_REVISION_2 (what `setcap cap_net_raw+ep` writes)
CAP_NET_RAW = bytes.fromhex("0100000200200000000000000000000000000000")


# -- building archives ---------------------------------------------------------------------------------


@dataclass
class E:
    """One tar entry to write."""

    name: str
    kind: bytes = tarfile.REGTYPE
    data: bytes = b""
    link: str = ""
    mode: int = 0o644
    uid: int = 0
    gid: int = 0
    mtime: int = 1_600_000_000
    xattrs: dict[str, bytes] | None = None
    dev: tuple[int, int] = (0, 0)


def build(entries: list[E], fmt: int = tarfile.PAX_FORMAT) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt, encoding="utf-8", errors="surrogateescape") as tf:
        for e in entries:
            ti = tarfile.TarInfo(e.name)
            ti.type = e.kind
            ti.mode, ti.uid, ti.gid, ti.mtime = e.mode, e.uid, e.gid, e.mtime
            ti.linkname = e.link
            ti.devmajor, ti.devminor = e.dev
            if e.xattrs:
                ti.pax_headers = {
                    f"SCHILY.xattr.{k}": v.decode("utf-8", "surrogateescape") for k, v in e.xattrs.items()
                }
            if e.kind in (tarfile.REGTYPE, tarfile.AREGTYPE):
                ti.size = len(e.data)
                tf.addfile(ti, io.BytesIO(e.data))
            else:
                tf.addfile(ti)
    return buf.getvalue()


def D(name: str, mode: int = 0o755, **kw: object) -> E:
    return E(name, tarfile.DIRTYPE, mode=mode, **kw)  # type: ignore[arg-type]


def L(name: str, target: str) -> E:
    return E(name, tarfile.SYMTYPE, link=target, mode=0o777)


def H(name: str, target: str) -> E:
    return E(name, tarfile.LNKTYPE, link=target)


def F(name: str, data: bytes = b"x", **kw: object) -> E:
    return E(name, data=data, **kw)  # type: ignore[arg-type]


def run_extract(data: bytes, dest: Path, whiteouts: bool = False) -> None:
    extract(io.BytesIO(data), dest, on_whiteout=overlay_whiteout if whiteouts else None)


# -- comparing trees -----------------------------------------------------------------------------------


def manifest(root: Path) -> dict[str, tuple[object, ...]]:
    """Everything GNU tar promises to restore, per path (atime and the root dir itself excluded)."""
    out: dict[str, tuple[object, ...]] = {}
    inodes: dict[int, str] = {}
    paths = []
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            paths.append(os.path.join(dirpath, n))
    for p in sorted(paths):
        rel = os.path.relpath(p, root)
        s = os.lstat(p)
        kind = stat.S_IFMT(s.st_mode)
        extra: object = None
        if stat.S_ISREG(kind):
            extra = hashlib.sha256(Path(p).read_bytes()).hexdigest()
            first = inodes.setdefault(s.st_ino, rel)
            extra = (extra, first)  # hard links share the first name seen
        elif stat.S_ISLNK(kind):
            extra = os.readlink(p)
        elif stat.S_ISCHR(kind) or stat.S_ISBLK(kind):
            extra = (os.major(s.st_rdev), os.minor(s.st_rdev))
        xattrs = {}
        for name in sorted(os.listxattr(p, follow_symlinks=False)):
            xattrs[name] = os.getxattr(p, name, follow_symlinks=False)
        out[rel] = (
            kind,
            stat.S_IMODE(s.st_mode),
            s.st_uid,
            s.st_gid,
            s.st_size,
            s.st_mtime_ns,
            extra,
            xattrs,
        )
    return out


def gnu_extract(data: bytes, dest: Path) -> None:
    archive = dest.parent / (dest.name + ".tar")
    archive.write_bytes(data)
    try:
        subprocess.run(
            [*GNU_TAR_X, "-C", str(dest), "-f", str(archive)],
            check=True,
            capture_output=True,
        )
    finally:
        archive.unlink()


def snapshot(base: Path, skip: Path) -> dict[str, tuple[int, int, int]]:
    """Every path under ``base`` except inside ``skip``: the sentinel around the extraction."""
    seen: dict[str, tuple[int, int, int]] = {}
    for dirpath, dirnames, filenames in os.walk(base):
        if Path(dirpath) == skip.parent and skip.name in dirnames:
            dirnames.remove(skip.name)
        for n in dirnames + filenames:
            p = os.path.join(dirpath, n)
            s = os.lstat(p)
            seen[p] = (s.st_mode, s.st_size, s.st_mtime_ns)
    return seen


@dataclass
class Sentinel:
    base: Path  # holds dest, a decoy "outside" dir and a decoy file
    dest: Path
    out: Path  # where hostile links point
    before: dict[str, tuple[int, int, int]]

    def check(self) -> None:
        assert snapshot(self.base, self.dest) == self.before, "something was written outside dest"
        assert not list(self.out.iterdir())


@contextlib.contextmanager
def sentinel_dir() -> Iterator[Sentinel]:
    with tempfile.TemporaryDirectory(prefix="tarsafe-") as tmp:
        base = Path(tmp)
        dest = base / "box" / "dest"
        dest.mkdir(parents=True)
        out = base / "out"
        out.mkdir()
        (base / "box" / "decoy").write_text("decoy")
        (base / "passwd").write_text("root:x:0:0\n")
        s = Sentinel(base, dest, out, {})
        s.before = snapshot(base, dest)
        try:
            yield s
        finally:
            s.check()


def refused(data: bytes, entry: str, whiteouts: bool = False) -> str:
    """Extract inside a sentinel; the archive must be refused with a message naming ``entry``."""
    with sentinel_dir() as s, pytest.raises(UnsafeLayer) as info:
        run_extract(data, s.dest, whiteouts)
    msg = str(info.value)
    assert repr(entry) in msg, msg
    return msg


# -- benign archives: same result as GNU tar ------------------------------------------------------------


def benign_entries() -> list[E]:
    return [
        D("etc", 0o755, mtime=1_500_000_001),
        F("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n", mode=0o644, mtime=1_500_000_002),
        F("etc/shadow", b"root:*:19000::::::\n", mode=0o640, gid=42),
        D("usr", mtime=1_500_000_003),
        D("usr/bin", mtime=1_500_000_004),
        F("usr/bin/su", b"\x7fELF su", mode=0o4755),
        F("usr/bin/wall", b"\x7fELF wall", mode=0o2755, gid=5),
        F("usr/bin/ping", b"\x7fELF ping", mode=0o755, xattrs={"security.capability": CAP_NET_RAW}),
        H("usr/bin/su-again", "usr/bin/su"),
        D("tmp", 0o1777, mtime=1_500_000_005),
        D("home", mtime=1_500_000_006),
        D("home/user", 0o700, uid=1000, gid=1000, mtime=1_500_000_007),
        F(
            "home/user/notes",
            b"hello",
            mode=0o600,
            uid=1000,
            gid=1000,
            xattrs={"user.comment": b"\xff\xfebin"},
        ),
        L("home/user/link-abs", "/etc/passwd"),
        L("home/user/link-rel", "../../usr/bin/su"),
        L("home/user/dangling", "../nowhere/at/all"),
        L("bin", "usr/bin"),  # Debian's merged-/usr links, nothing below them in the layer
        L("lib", "usr/lib"),
        D("dev", mtime=1_500_000_008),
        E("dev/null", tarfile.CHRTYPE, mode=0o666, dev=(1, 3)),
        E("dev/loop0", tarfile.BLKTYPE, mode=0o660, gid=6, dev=(7, 0)),
        E("dev/initctl", tarfile.FIFOTYPE, mode=0o600),
        F("/abs/leading-slash", b"stripped like GNU tar does"),
        F("./dot/prefixed", b"dot"),
        F("deep/" + "long-component-" * 8 + "/" + "file-with-a-long-name-" * 5, b"long names need PAX"),
        F("caf\udce9-latin1-name", b"not UTF-8 on disk"),
        F("etc/passwd", b"root:x:0:0:replaced:/root:/bin/sh\n", mode=0o600, mtime=1_500_000_009),
        D("etc", 0o750, mtime=1_500_000_010),  # a second entry for a dir merges and wins on metadata
        F("empty", b""),
    ]


@needs_root
def test_benign_archive_matches_gnu_tar(tmp_path: Path) -> None:
    data = build(benign_entries())
    ours, theirs = tmp_path / "ours", tmp_path / "gnu"
    ours.mkdir()
    theirs.mkdir()
    stats = extract(io.BytesIO(data), ours)
    gnu_extract(data, theirs)
    # implicit parents (abs/, dot/, deep/...) get the extraction time from both tools; compare explicit dirs
    implicit = {"abs", "dot", "deep", "deep/" + "long-component-" * 8}
    mine, gnu = manifest(ours), manifest(theirs)
    for rel in implicit:
        mine[rel] = (*mine[rel][:5], None, *mine[rel][6:])
        gnu[rel] = (*gnu[rel][:5], None, *gnu[rel][6:])
    assert mine == gnu
    # and the details that matter most, spelled out
    assert mine["usr/bin/su"][1] == 0o4755 and mine["usr/bin/wall"][1:4] == (0o2755, 0, 5)
    assert mine["tmp"][1] == 0o1777
    assert os.getxattr(ours / "usr/bin/ping", "security.capability") == CAP_NET_RAW
    assert os.getxattr(ours / "home/user/notes", "user.comment") == b"\xff\xfebin"
    assert os.readlink(ours / "home/user/link-abs") == "/etc/passwd"
    assert os.stat(ours / "usr/bin/su").st_ino == os.stat(ours / "usr/bin/su-again").st_ino
    assert (ours / "abs/leading-slash").read_bytes() == b"stripped like GNU tar does"
    assert (ours / "etc/passwd").read_bytes().startswith(b"root:x:0:0:replaced")
    assert os.stat(ours / "etc").st_mtime_ns == 1_500_000_010 * 10**9
    assert stats.files == 12 and stats.hardlinks == 1 and stats.symlinks == 5 and stats.specials == 3


@pytest.mark.parametrize("fmt", [tarfile.GNU_FORMAT, tarfile.USTAR_FORMAT, tarfile.PAX_FORMAT])
def test_formats(tmp_path: Path, fmt: int) -> None:
    entries = [D("a"), F("a/f", b"data" * 1000, mode=0o640), L("a/l", "f"), H("a/h", "a/f")]
    extract(io.BytesIO(build(entries, fmt)), tmp_path)
    assert (tmp_path / "a/f").read_bytes() == b"data" * 1000
    assert os.readlink(tmp_path / "a/l") == "f"
    assert os.stat(tmp_path / "a/h").st_ino == os.stat(tmp_path / "a/f").st_ino
    assert stat.S_IMODE(os.stat(tmp_path / "a/f").st_mode) == 0o640


@pytest.mark.parametrize("fmt", ["gnu", "pax"])
def test_sparse_files_from_gnu_tar(tmp_path: Path, fmt: str) -> None:
    src = tmp_path / "src"
    src.mkdir()
    with open(src / "sparse", "wb") as f:
        f.write(b"head")
        f.seek(5 << 20)
        f.write(b"middle")
        f.seek(12 << 20)
        f.write(b"tail")
    archive = tmp_path / "s.tar"
    subprocess.run(
        ["tar", f"--format={fmt}", "-S", "-C", str(src), "-cf", str(archive), "sparse"], check=True
    )
    dest = tmp_path / "dest"
    dest.mkdir()
    with open(archive, "rb") as f:
        stats = extract(f, dest)
    assert (dest / "sparse").read_bytes() == (src / "sparse").read_bytes()
    assert stats.size == (src / "sparse").stat().st_size


def test_directory_mtimes_are_set_after_their_contents(tmp_path: Path) -> None:
    data = build([D("d", mtime=1_000_000_000), F("d/f1"), D("d/sub", mtime=1_100_000_000), F("d/sub/f")])
    extract(io.BytesIO(data), tmp_path)
    assert os.stat(tmp_path / "d").st_mtime_ns == 1_000_000_000 * 10**9
    assert os.stat(tmp_path / "d/sub").st_mtime_ns == 1_100_000_000 * 10**9


def test_read_only_directory_still_receives_its_entries(tmp_path: Path) -> None:
    data = build([D("ro", 0o555), F("ro/f", b"inside")])
    extract(io.BytesIO(data), tmp_path)
    assert (tmp_path / "ro/f").read_bytes() == b"inside"
    assert stat.S_IMODE(os.stat(tmp_path / "ro").st_mode) == 0o555
    os.chmod(tmp_path / "ro", 0o755)


def test_later_entries_replace_earlier_ones(tmp_path: Path) -> None:
    data = build(
        [
            F("x", b"file first"),
            D("x"),  # a dir over a file
            F("x/inner"),
            F("x", b"file again"),  # a file over a dir (and its contents)
            D("y"),
            F("y/keep"),
            D("y", 0o700),  # a dir over a dir merges
            L("z", "somewhere"),
            F("z", b"file over symlink"),
            F("w", b"w"),
            H("w2", "w"),
            F("w", b"new w"),  # replacing w breaks the link, as tar does
        ]
    )
    extract(io.BytesIO(data), tmp_path)
    assert (tmp_path / "x").read_bytes() == b"file again"
    assert (tmp_path / "y/keep").exists() and stat.S_IMODE(os.stat(tmp_path / "y").st_mode) == 0o700
    assert not (tmp_path / "z").is_symlink() and (tmp_path / "z").read_bytes() == b"file over symlink"
    assert (tmp_path / "w2").read_bytes() == b"w" and (tmp_path / "w").read_bytes() == b"new w"


def test_replacing_a_directory_forgets_everything_below_it(tmp_path: Path) -> None:
    data = build(
        [
            D("d", 0o700),
            D("d/sub", 0o711, mtime=1_000_000_000),
            F("d/sub/f"),
            F("d", b"now a file"),  # the whole d/ tree goes
            D("d"),  # and d is a directory again
            F("d/sub/g"),  # d/sub is a new, implicit directory: none of the old d/sub metadata applies
        ]
    )
    extract(io.BytesIO(data), tmp_path)
    assert sorted(os.listdir(tmp_path / "d/sub")) == ["g"]
    assert stat.S_IMODE(os.stat(tmp_path / "d/sub").st_mode) == 0o755
    assert os.stat(tmp_path / "d/sub").st_mtime_ns != 1_000_000_000 * 10**9


def test_dest_must_be_empty(tmp_path: Path) -> None:
    (tmp_path / "already").write_text("here")
    with pytest.raises(Exception, match="not empty"):
        extract(io.BytesIO(build([F("f")])), tmp_path)


def test_empty_streams_are_empty_layers(tmp_path: Path) -> None:
    assert extract(io.BytesIO(b""), tmp_path).entries == 0
    assert extract(io.BytesIO(b"\0" * 1024), tmp_path).entries == 0


def test_missing_end_of_archive_marker_is_accepted_like_go(tmp_path: Path) -> None:
    # umoci 0.4.7's `insert` writes such layers; Go's archive/tar (docker, containerd) reads them
    data = build([F("a", b"1" * 700), F("b", b"2")])
    end = len(data.rstrip(b"\0"))
    end += -end % 512
    extract(io.BytesIO(data[:end]), tmp_path)
    assert (tmp_path / "b").read_bytes() == b"2"


def test_data_after_the_end_marker_is_ignored(tmp_path: Path) -> None:
    stream = io.BytesIO(build([F("a")]) + build([F("b")]) + b"garbage")
    assert extract(stream, tmp_path).entries == 1
    assert os.listdir(tmp_path) == ["a"]


# -- hostile archives -----------------------------------------------------------------------------------


def test_dotdot_is_refused() -> None:
    refused(build([F("../x", b"escaped")]), "../x")
    refused(build([D("a"), F("a/../../x")]), "a/../../x")
    refused(build([F("./../../x")]), "./../../x")


def test_dotdot_that_stays_inside_is_resolved_lexically() -> None:
    with sentinel_dir() as s:
        run_extract(build([D("a"), F("a/../b", b"inside")]), s.dest)
        assert (s.dest / "b").read_bytes() == b"inside"


def test_absolute_names_land_inside_dest() -> None:
    with sentinel_dir() as s:
        target = s.out / "absolute"
        run_extract(build([F(str(target), b"abs"), F("/etc/dockyard-tarsafe-probe", b"abs")]), s.dest)
        assert (s.dest / str(target).lstrip("/")).read_bytes() == b"abs"
        assert not target.exists()
        assert not Path("/etc/dockyard-tarsafe-probe").exists()


def test_write_through_symlink_is_refused() -> None:
    for target in ("{out}", "../../out", "/"):
        with sentinel_dir() as s:
            link = target.format(out=s.out)
            with pytest.raises(UnsafeLayer, match=r"'l/pwned'.*symlink"):
                run_extract(build([L("l", link), F("l/pwned", b"gotcha")]), s.dest)


def test_symlink_parent_dir_is_refused() -> None:
    with sentinel_dir() as s, pytest.raises(UnsafeLayer, match="'d/sub'"):
        run_extract(build([L("d", str(s.out)), D("d/sub"), F("d/sub/f")]), s.dest)
    with sentinel_dir() as s, pytest.raises(UnsafeLayer, match="'a/d/sub/f'"):
        run_extract(build([D("a"), L("a/d", "../../../out"), F("a/d/sub/f")]), s.dest)


def test_file_parent_is_refused() -> None:
    refused(build([F("f"), F("f/x")]), "f/x")


def test_symlink_replaced_by_dir_is_a_real_dir() -> None:
    with sentinel_dir() as s:
        run_extract(build([L("l", str(s.out)), D("l"), F("l/f", b"in")]), s.dest)
        assert not (s.dest / "l").is_symlink()
        assert (s.dest / "l/f").read_bytes() == b"in"


def test_file_over_symlink_does_not_write_through_it() -> None:
    with sentinel_dir() as s:
        run_extract(build([L("s", str(s.out / "t")), F("s", b"replaced")]), s.dest)
        assert (s.dest / "s").read_bytes() == b"replaced"


def test_hostile_hard_links_are_refused() -> None:
    refused(build([H("h", "../../passwd")]), "h")
    refused(build([H("h", "/etc/passwd")]), "h")  # means etc/passwd in this layer, which does not exist
    with sentinel_dir() as s, pytest.raises(UnsafeLayer, match="'h'"):
        run_extract(build([L("l", str(s.base)), H("h", "l/passwd")]), s.dest)
    refused(build([D("d"), H("h", "d")]), "h")  # directories cannot be hard-linked
    refused(build([F("later"), D("d"), F("d/f"), D("d", 0o700), F("d", b"x"), H("h", "d/f")]), "h")


def test_hard_link_to_symlink_links_the_symlink_itself() -> None:
    with sentinel_dir() as s:
        run_extract(build([L("s", str(s.out / "t")), H("h", "s")]), s.dest)
        assert os.readlink(s.dest / "h") == str(s.out / "t")
        assert os.lstat(s.dest / "h").st_ino == os.lstat(s.dest / "s").st_ino


def test_absolute_hard_link_inside_the_layer_works() -> None:
    with sentinel_dir() as s:
        run_extract(build([D("etc"), F("etc/passwd", b"pw"), H("copy", "/etc/passwd")]), s.dest)
        assert (s.dest / "copy").read_bytes() == b"pw"


def test_hard_link_then_write_through_link_named_parent_is_refused() -> None:
    with sentinel_dir() as s, pytest.raises(UnsafeLayer, match="'h/x'"):
        run_extract(build([L("s", str(s.out)), H("h", "s"), F("h/x")]), s.dest)


def test_unknown_entry_types_are_refused() -> None:
    refused(build([E("vol", b"V")]), "vol")


def test_invalid_owner_is_refused() -> None:
    if not ROOT:
        pytest.skip("owners are only applied as root")
    refused(build([F("f", uid=2**32 - 1)]), "f")


@needs_root
def test_whiteout_names_that_escape_are_refused() -> None:
    refused(build([F("../.wh.x", b"")]), "../.wh.x", whiteouts=True)
    refused(build([F("a/.wh..", b"")]), "a/.wh..", whiteouts=True)
    refused(build([F("a/.wh...", b"")]), "a/.wh...", whiteouts=True)
    refused(build([F(".wh.", b"")]), ".wh.", whiteouts=True)
    with sentinel_dir() as s, pytest.raises(UnsafeLayer, match=re.escape("'l/.wh.x'")):
        run_extract(build([L("l", str(s.out)), F("l/.wh.x", b"")]), s.dest, whiteouts=True)
    with sentinel_dir() as s, pytest.raises(UnsafeLayer, match=re.escape("'l/.wh..wh..opq'")):
        run_extract(build([L("l", str(s.out)), F("l/.wh..wh..opq", b"")]), s.dest, whiteouts=True)


@needs_root
def test_whiteouts_become_overlay_whiteouts(tmp_path: Path) -> None:
    data = build(
        [
            D("etc"),
            F("etc/.wh.gone", b""),
            F(".wh.deleted-dir", b""),
            D("opaque"),
            F("opaque/.wh..wh..opq", b""),
            F("opaque/kept", b"new"),
            F("implicit/.wh..wh..opq", b""),
            F(".wh..wh.plnk/123", b"aufs link store"),
            F(".wh..wh.aufs", b""),
            F("mine", b"this layer's file"),
            F(".wh.mine", b""),  # hides lower layers only: this layer's file stays
            D("again"),
            F(".wh.again", b""),  # ... and this layer's dir stays but turns opaque
            F(".wh.recreated", b""),
            D("recreated"),  # deleted, then made anew: must not merge with the lower dir
            F("recreated/f"),
            F("trusted", b"", xattrs={"trusted.overlay.redirect": b"/etc", "user.ok": b"1"}),
        ]
    )
    stats = extract(io.BytesIO(data), tmp_path, on_whiteout=overlay_whiteout)
    for p in ("etc/gone", "deleted-dir"):
        st_ = os.lstat(tmp_path / p)
        assert stat.S_ISCHR(st_.st_mode) and st_.st_rdev == 0 and (st_.st_uid, st_.st_gid) == (0, 0)
    assert not (tmp_path / "etc/.wh.gone").exists()
    for d in ("opaque", "implicit", "again", "recreated"):
        assert os.getxattr(tmp_path / d, OPAQUE_XATTR) == b"y"
    assert (tmp_path / "opaque/kept").read_bytes() == b"new"
    assert (tmp_path / "mine").read_bytes() == b"this layer's file"
    assert not any(n.startswith(".wh.") for n in os.listdir(tmp_path))
    assert (tmp_path / "recreated/f").is_file()
    assert OPAQUE_XATTR not in os.listxattr(tmp_path / "etc")
    assert os.listxattr(tmp_path / "trusted") == ["user.ok"]  # trusted.overlay.* from an archive is dropped
    assert stats.whiteouts == 7


def test_without_whiteout_handler_whiteouts_are_plain_files(tmp_path: Path) -> None:
    extract(io.BytesIO(build([F(".wh.x", b""), F("d/.wh..wh..opq", b"")])), tmp_path)
    assert (tmp_path / ".wh.x").is_file() and (tmp_path / "d/.wh..wh..opq").is_file()


# -- damaged archives -----------------------------------------------------------------------------------


def _two_files() -> bytes:
    return build([F("first", b"1" * 3000), F("second", b"2" * 3000)])


# first member: header at 0, data 512..3512, padding to 3584; second: header at 3584, data 4096..7096
@pytest.mark.parametrize("cut", [100, 1512, 3684, 5000, 7106])
def test_truncated_archives_are_refused(cut: int) -> None:
    data = _two_files()
    with sentinel_dir() as s, pytest.raises(UnsafeLayer, match="truncated or corrupt"):
        run_extract(data[:cut], s.dest)


def test_bad_header_checksum_is_refused() -> None:
    data = bytearray(_two_files())
    # the second member's header: PAX format writes no extra header for these short ASCII names
    second = data.index(b"second")
    data[second + 148] ^= 0x01
    with sentinel_dir() as s, pytest.raises(UnsafeLayer, match="truncated or corrupt"):
        run_extract(bytes(data), s.dest)


@pytest.mark.parametrize("kind", [tarfile.XHDTYPE, tarfile.GNUTYPE_LONGNAME])
def test_huge_header_extensions_are_refused_before_buffering(tmp_path: Path, kind: bytes) -> None:
    ti = tarfile.TarInfo("././@LongLink" if kind == tarfile.GNUTYPE_LONGNAME else "pax")
    ti.type, ti.size = kind, 1 << 40  # a terabyte of "header": must be refused, not read into memory
    header = ti.tobuf(format=tarfile.GNU_FORMAT)
    with pytest.raises(UnsafeLayer, match="too large"):
        extract(io.BytesIO(header + b"\0" * 4096), tmp_path)


def test_not_a_tar_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UnsafeLayer, match="truncated or corrupt"):
        extract(io.BytesIO(os.urandom(4096)), tmp_path)


@pytest.mark.parametrize("kind", ["gzip", "zstd"])
def test_compressed_corruption_is_refused(kind: str) -> None:
    raw = build([F("first", b"1" * 3000), F("big", os.urandom(200_000)), F("last")])
    if kind == "gzip":
        blob = gzip.compress(raw)
    else:
        blob = zstandard.ZstdCompressor(write_checksum=True).compress(raw)
    damaged = [blob[: len(blob) // 2], blob[:-3]]
    flipped = bytearray(blob)
    flipped[len(blob) // 2] ^= 0xFF
    damaged.append(bytes(flipped))
    for bad in damaged:
        with sentinel_dir() as s, pytest.raises(UnsafeLayer, match="truncated or corrupt"):
            extract(open_decompressed(io.BytesIO(bad)), s.dest)
    with sentinel_dir() as s:
        extract(open_decompressed(io.BytesIO(blob)), s.dest)
        assert (s.dest / "first").read_bytes() == b"1" * 3000


# -- property: random archives never write outside ------------------------------------------------------

# few names, so entries collide often: a symlink "l" and then "l/x" is what matters
_COMPONENTS = st.sampled_from(["l", "a", "..", ".", "", ".wh.l", ".wh..wh..opq", ".wh..."])
_NAMES = st.builds(
    lambda lead, parts: lead + "/".join(parts),
    st.sampled_from(["", "/", "./"]),
    st.lists(_COMPONENTS, min_size=1, max_size=3),
)
_LINK_TARGETS = st.one_of(
    st.sampled_from(["{out}", "{out}/l", "../out", "../../out", "/", "..", "{base}/passwd", "../../passwd"]),
    _NAMES,
)


@st.composite
def _entries(draw: st.DrawFn) -> list[tuple[str, str, str]]:
    kinds = st.sampled_from(["file", "dir", "symlink", "hardlink", "fifo"])
    return draw(st.lists(st.tuples(kinds, _NAMES, _LINK_TARGETS), min_size=1, max_size=10))


@settings(max_examples=500, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(entries=_entries(), whiteouts=st.booleans())
def test_random_archives_never_write_outside(entries: list[tuple[str, str, str]], whiteouts: bool) -> None:
    if whiteouts and not ROOT:
        whiteouts = False
    with sentinel_dir() as s:
        tar_entries = []
        for kind, name, target in entries:
            target = target.format(out=s.out, base=s.base)
            if kind == "file":
                tar_entries.append(F(name, b"payload"))
            elif kind == "dir":
                tar_entries.append(D(name))
            elif kind == "symlink":
                tar_entries.append(L(name, target))
            elif kind == "hardlink":
                tar_entries.append(H(name, target))
            else:
                tar_entries.append(E(name, tarfile.FIFOTYPE))
        try:
            run_extract(build(tar_entries), s.dest, whiteouts)
        except UnsafeLayer:
            pass
        # the tree inside dest holds no path through which a later writer could escape by accident either:
        # every directory on disk is a real directory
        for dirpath, _dirs, _files in os.walk(s.dest):
            assert not os.path.islink(dirpath)
