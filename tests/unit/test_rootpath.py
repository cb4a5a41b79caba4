"""Resolving a path inside a root (core.storage.rootpath), as the build context and a stack of layers use
it: symlinks are followed but never out of the root, whatever they say."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.build.context import BuildContext
from core.errors import InvalidArgument
from core.runtime import linux
from core.storage.diff import LayerUnion
from core.storage.rootpath import MAX_SYMLINKS, resolve_in_root


def _on_disk(root: Path):  # type: ignore[no-untyped-def]
    def link_target(rel: str) -> str | None:
        try:
            return os.readlink(root / rel)
        except (FileNotFoundError, NotADirectoryError, OSError):
            return None

    return link_target


def _fake(links: dict[str, str]):  # type: ignore[no-untyped-def]
    return links.get


@pytest.mark.parametrize(
    ("path", "want"),
    [
        ("", ""),
        ("/", ""),
        ("a/./b//c", "a/b/c"),
        ("../../..", ""),
        ("/../a/../../b", "b"),
        ("abs/x", "etc/x"),  # an absolute target starts again at the root
        ("up/passwd", "etc/passwd"),  # ../../.. stops at the root
        ("chain", "etc"),
        ("dir/sib/f", "dir/f"),
        ("dir/abs/x", "etc/x"),  # from any depth
        ("dir/up/x", "x"),
        ("missing/../etc", "etc"),  # missing components are kept, and .. undoes them
    ],
)
def test_links_resolve_inside_the_root(path: str, want: str) -> None:
    links = {"abs": "/etc", "up": "../../../../etc", "chain": "abs", "dir/sib": ".", "dir/abs": "/etc"}
    links["dir/up"] = "../../.."
    assert resolve_in_root(path, _fake(links)) == want


def test_the_last_link_is_left_alone_unless_followed() -> None:
    links = {"d": "/x", "d/l": "never asked", "x/l": "../y"}
    assert resolve_in_root("d/l", _fake(links)) == "y"
    assert resolve_in_root("d/l", _fake(links), follow_last=False) == "x/l"


def test_a_loop_is_refused_after_the_kernels_limit() -> None:
    with pytest.raises(InvalidArgument, match="too many levels of symbolic links"):
        resolve_in_root("a", _fake({"a": "b", "b": "a"}))
    chain = {f"l{i}": f"l{i + 1}" for i in range(MAX_SYMLINKS)}
    assert resolve_in_root("l0", _fake(chain)) == f"l{MAX_SYMLINKS}"  # 40 links: still allowed
    chain[f"l{MAX_SYMLINKS}"] = "end"
    with pytest.raises(InvalidArgument):
        resolve_in_root("l0", _fake(chain))


def test_nul_bytes_are_refused() -> None:
    with pytest.raises(InvalidArgument, match="NUL"):
        resolve_in_root("a\0b", _fake({}))
    with pytest.raises(InvalidArgument):
        resolve_in_root("a", _fake({"a": "x\0"}))


def test_the_build_context_and_a_layer_stack_resolve_alike(tmp_path: Path) -> None:
    ctx = tmp_path / "ctx"
    (ctx / "dir").mkdir(parents=True)
    (ctx / "dir" / "file").write_text("x")
    (ctx / "escape").symlink_to("/etc")
    (ctx / "rel").symlink_to("../../dir")
    (ctx / "dir" / "self").symlink_to("../dir")
    upper, lower = tmp_path / "upper", tmp_path / "lower"
    (upper / "dir").mkdir(parents=True)
    (lower / "dir").mkdir(parents=True)
    (lower / "dir" / "file").write_text("x")
    (lower / "escape").symlink_to("/etc")
    (upper / "rel").symlink_to("../../dir")  # a link in one layer, its target in another
    (upper / "dir" / "self").symlink_to("../dir")
    union = LayerUnion([upper, lower])
    context = BuildContext(ctx)
    for path, want in [
        ("escape/passwd", "etc/passwd"),
        ("rel/self/self/file", "dir/file"),
        ("dir/file/..", "dir"),
        ("nothing/here", "nothing/here"),
    ]:
        assert context.resolve(path) == want
        assert union.resolve(path) == want
    assert (
        context.resolve("escape", follow_last=False)
        == union.resolve("/escape", follow_last=False)
        == "escape"
    )


# ------------------------------------------------------------------------------------------- property

NAMES = ("a", "b", "etc")
_component = st.sampled_from(("..", ".", "", *NAMES))
_relative = st.lists(_component, max_size=6).map("/".join)
_path = st.tuples(st.booleans(), _relative).map(lambda t: ("/" if t[0] else "") + t[1])
_target = _path.map(lambda p: p or ".")  # a symlink cannot be empty
_kind = st.one_of(st.sampled_from(("missing", "dir", "file")), _target)  # any other str: a symlink to it
_tree = st.fixed_dictionaries({n: _kind for n in NAMES}).flatmap(
    lambda top: st.fixed_dictionaries(
        {"top": st.just(top), "in_a": st.fixed_dictionaries({n: _kind for n in NAMES})}
    )
)


def _make(base: Path, entries: dict[str, str]) -> None:
    for name, kind in entries.items():
        if kind == "dir":
            (base / name).mkdir()
        elif kind == "file":
            (base / name).write_text(name)
        elif kind != "missing":
            (base / name).symlink_to(kind)


def _inside(root: Path, path: str) -> bool:
    real = os.path.realpath(path)
    return real == str(root) or real.startswith(f"{root}/")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tree=_tree, path=_path, follow_last=st.booleans())
def test_the_result_never_escapes_the_root(
    tree: dict[str, dict[str, str]], path: str, follow_last: bool
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        root = base / "root"
        root.mkdir()
        for decoy in NAMES:  # what an escape would find: the same names beside the root and above it
            (base / decoy).mkdir()
            (base / decoy / "a").mkdir()
        _make(root, tree["top"])
        if tree["top"]["a"] == "dir":
            _make(root / "a", tree["in_a"])
        try:
            rel = resolve_in_root(path, _on_disk(root), follow_last=follow_last)
        except InvalidArgument:
            return  # a loop
        parts = rel.split("/") if rel else []
        assert not rel.startswith("/") and all(p not in ("", ".", "..") for p in parts)
        checked = rel if follow_last else "/".join(parts[:-1])
        assert _inside(root, str(root / checked) if checked else str(root))
        if follow_last and linux.have_openat2():
            # where the kernel's own in-root lookup lands, when the path exists: the same place
            rootfd = os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                fd = linux.openat2(rootfd, path or ".", os.O_PATH, 0, linux.RESOLVE_IN_ROOT)
            except OSError:
                return
            finally:
                os.close(rootfd)
            try:
                assert os.readlink(linux.fd_path(fd)) == str(root / rel if rel else root)
            finally:
                os.close(fd)
