""".dockerignore matching: moby/patternmatcher's own test table, the ignorefile reader, and properties checked
with hypothesis against a small independent matcher."""

from __future__ import annotations

import itertools
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.build.ignore import IgnoreMatcher, check_glob, glob_regex, go_clean, read_patterns
from core.errors import InvalidArgument

# (pattern, path, matches-or-a-parent-matches) from patternmatcher_test.go's TestMatches
MATCHES = [
    ("**", "file", True),
    ("**", "file/", True),
    ("**/", "file", True),
    ("**/", "file/", True),
    ("**", "/", True),
    ("**/", "/", True),
    ("**", "dir/file", True),
    ("**/", "dir/file", True),
    ("**", "dir/file/", True),
    ("**/", "dir/file/", True),
    ("**/**", "dir/file", True),
    ("**/**", "dir/file/", True),
    ("dir/**", "dir/file", True),
    ("dir/**", "dir/file/", True),
    ("dir/**", "dir/dir2/file", True),
    ("dir/**", "dir/dir2/file/", True),
    ("**/dir", "dir", True),
    ("**/dir", "dir/file", True),
    ("**/dir2/*", "dir/dir2/file", True),
    ("**/dir2/*", "dir/dir2/file/", True),
    ("**/dir2/**", "dir/dir2/dir3/file", True),
    ("**/dir2/**", "dir/dir2/dir3/file/", True),
    ("**file", "file", True),
    ("**file", "dir/file", True),
    ("**/file", "dir/file", True),
    ("**file", "dir/dir/file", True),
    ("**/file", "dir/dir/file", True),
    ("**/file*", "dir/dir/file", True),
    ("**/file*", "dir/dir/file.txt", True),
    ("**/file*txt", "dir/dir/file.txt", True),
    ("**/file*.txt", "dir/dir/file.txt", True),
    ("**/file*.txt*", "dir/dir/file.txt", True),
    ("**/**/*.txt", "dir/dir/file.txt", True),
    ("**/**/*.txt2", "dir/dir/file.txt", False),
    ("**/*.txt", "file.txt", True),
    ("**/**/*.txt", "file.txt", True),
    ("a**/*.txt", "a/file.txt", True),
    ("a**/*.txt", "a/dir/file.txt", True),
    ("a**/*.txt", "a/dir/dir/file.txt", True),
    ("a/*.txt", "a/dir/file.txt", False),
    ("a/*.txt", "a/file.txt", True),
    ("a/*.txt**", "a/file.txt", True),
    ("a[b-d]e", "ae", False),
    ("a[b-d]e", "ace", True),
    ("a[b-d]e", "aae", False),
    ("a[^b-d]e", "aze", True),
    (".*", ".foo", True),
    (".*", "foo", False),
    ("abc.def", "abcdef", False),
    ("abc.def", "abc.def", True),
    ("abc.def", "abcZdef", False),
    ("abc?def", "abcZdef", True),
    ("abc?def", "abcdef", False),
    ("**/foo/bar", "foo/bar", True),
    ("**/foo/bar", "dir/foo/bar", True),
    ("**/foo/bar", "dir/dir2/foo/bar", True),
    ("abc/**", "abc", False),
    ("abc/**", "abc/def", True),
    ("abc/**", "abc/def/ghi", True),
    ("**/.foo", ".foo", True),
    ("**/.foo", "bar.foo", False),
    ("a(b)c/def", "a(b)c/def", True),
    ("a(b)c/def", "a(b)c/xyz", False),
    ("a.|)$(}+{bc", "a.|)$(}+{bc", True),
    ("dist/*.whl", "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", True),
    ("a\\\\", "a\\", True),
    ("a\\*b", "a*b", True),
]
MULTI = [
    (["**", "!util/docker/web"], "util/docker/web/foo", False),
    (["**", "!util/docker/web", "util/docker/web/foo"], "util/docker/web/foo", True),
    (["**", "!dist/*.whl"], "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", False),
    (["*.go"], "fileutils.go", True),
    (["!fileutils.go", "*.go"], "fileutils.go", True),
    (["*.go", "!fileutils.go"], "fileutils.go", False),
    (["docs", "!docs/README.md"], "docs/README.md", False),
    (["docs/", "!docs/README.md"], "docs/README.md", False),
    (["docs/*", "!docs/README.md"], "docs/README.md", False),
    (["*.go"], ".", False),
    ([], "/any/path/there", False),
]
# Go's filepath.Match table (patternmatcher's TestMatch), through the deprecated one-parent Matches; every
# case gives the same answer through MatchesOrParentMatches
GO_MATCH = [
    ("abc", "abc", True),
    ("*", "abc", True),
    ("*c", "abc", True),
    ("a*", "a", True),
    ("a*", "abc", True),
    ("a*", "ab/c", True),
    ("a*/b", "abc/b", True),
    ("a*/b", "a/c/b", False),
    ("a*b*c*d*e*/f", "axbxcxdxe/f", True),
    ("a*b*c*d*e*/f", "axbxcxdxexxx/f", True),
    ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", False),
    ("a*b*c*d*e*/f", "axbxcxdxexxx/fff", False),
    ("a*b?c*x", "abxbbxdbxebxczzx", True),
    ("a*b?c*x", "abxbbxdbxebxczzy", False),
    ("ab[c]", "abc", True),
    ("ab[b-d]", "abc", True),
    ("ab[e-g]", "abc", False),
    ("ab[^c]", "abc", False),
    ("ab[^b-d]", "abc", False),
    ("ab[^e-g]", "abc", True),
    ("a\\*b", "a*b", True),
    ("a\\*b", "ab", False),
    ("a?b", "a☺b", True),
    ("a[^a]b", "a☺b", True),
    ("a???b", "a☺b", False),
    ("a[^a][^a][^a]b", "a☺b", False),
    ("[a-ζ]*", "\u03b1", True),  # alpha
    ("*[a-ζ]", "A", False),
    ("a?b", "a/b", False),
    ("a*b", "a/b", False),
    ("[\\]a]", "]", True),
    ("[\\-]", "-", True),
    ("[x\\-]", "x", True),
    ("[x\\-]", "-", True),
    ("[x\\-]", "z", False),
    ("[\\-x]", "x", True),
    ("[\\-x]", "-", True),
    ("[\\-x]", "a", False),
    ("*x", "xxx", True),
]
BAD = ["[]a]", "[-]", "[x-]", "[-x]", "\\", "[a-b-c]", "[", "[^", "[^bc", "a[", "!"]


@pytest.mark.parametrize(("pattern", "path", "expected"), MATCHES)
def test_patternmatcher_table(pattern: str, path: str, expected: bool) -> None:
    assert IgnoreMatcher([pattern]).matches(path) is expected


@pytest.mark.parametrize(("patterns", "path", "expected"), MULTI)
def test_multiple_patterns(patterns: list[str], path: str, expected: bool) -> None:
    assert IgnoreMatcher(patterns).matches(path) is expected


@pytest.mark.parametrize(("pattern", "path", "expected"), GO_MATCH)
def test_go_filepath_match_table(pattern: str, path: str, expected: bool) -> None:
    assert IgnoreMatcher([pattern]).matches(path) is expected


@pytest.mark.parametrize("pattern", BAD)
def test_malformed_patterns_are_refused(pattern: str) -> None:
    with pytest.raises(InvalidArgument):
        IgnoreMatcher([pattern])


def test_reader_follows_ignorefile_readall() -> None:
    text = "\ufefftest1\n/test2\n/a/file/here\n\nlastfile\n# this is a comment\n! /inverted/abs/path\n!\n! \n"
    assert read_patterns(text) == [
        "test1",
        "test2",
        "a/file/here",
        "lastfile",
        "!inverted/abs/path",
        "!",
        "!",
    ]
    assert read_patterns("  docs/../src//x/  \n  #not a comment\n") == ["src/x", "#not a comment"]


def test_dockerfile_and_exception_inside_excluded_dir() -> None:
    m = IgnoreMatcher.from_text("*.log\n!dir/keep.log\nnode_modules\n**/*.md\n!README.md\n")
    assert m.matches("b.log")
    assert not m.matches("dir/c.log")  # * does not cross /
    assert m.matches("node_modules/x/y")
    assert m.matches("docs/README.md")
    assert not m.matches("README.md")
    assert not m.matches("docs")
    m2 = IgnoreMatcher.from_text("build\n!build/keep\n")
    assert m2.matches("build/other")
    assert not m2.matches("build/keep")
    assert not m2.matches("build/keep/inner")
    assert m2.may_reinclude_under("build")


def test_go_clean() -> None:
    assert go_clean("") == "."
    assert go_clean("//a//b/") == "/a/b"
    assert go_clean("a/../../b") == "../b"
    assert go_clean("/../a") == "/a"
    assert go_clean("./a/./b/.") == "a/b"


def test_glob_regex_is_filepath_match() -> None:
    assert glob_regex("*.txt").match("a.txt")
    assert not glob_regex("*.txt").match("d/a.txt")
    assert glob_regex("[!a]").match("!")  # Go negates with ^, not !
    assert not glob_regex("[^a]").match("a")
    check_glob("a\\[b")
    with pytest.raises(InvalidArgument):
        check_glob("a[")


# ---------------------------------------------------------------------------------- properties
#
# An independent matcher for a subset of the syntax (literal components, "*" inside a component, "**" as a
# whole component): it walks components recursively instead of building one regular expression.

# a small alphabet, so that patterns and paths often share names and prefixes
_NAMES = st.sampled_from(["a", "b", "ab", "b.go", ".a"])
_COMPONENT = st.one_of(_NAMES, st.sampled_from(["*", "a*", "*b", "*.go", "**", "**"]))


def _component_match(pattern: str, name: str) -> bool:
    rx = "".join("[^/]*" if c == "*" else re.escape(c) for c in pattern)
    return re.fullmatch(rx, name) is not None


def _ref_match(pat: list[str], parts: list[str]) -> bool:
    if not pat:
        return not parts
    if pat[0] == "**":
        if len(pat) == 1:
            return len(parts) >= 1  # a trailing ** needs something below: "dir/**" does not match "dir"
        return any(_ref_match(pat[1:], parts[i:]) for i in range(len(parts) + 1))
    return bool(parts) and _component_match(pat[0], parts[0]) and _ref_match(pat[1:], parts[1:])


def _ref_matches_or_parent(pattern: str, path: str) -> bool:
    pat = pattern.split("/")
    parts = path.split("/")
    return any(_ref_match(pat, parts[:i]) for i in range(1, len(parts) + 1))


def _normal(pat: list[str]) -> bool:
    # patternmatcher reads "a**" and "**b" specially; keep to forms both matchers read the same way:
    # ** as whole components, never two in a row, never at the start followed by nothing
    if pat == ["**"]:
        return False
    return all(not (x == "**" and y == "**") for x, y in itertools.pairwise(pat))


@settings(max_examples=1500, deadline=None)
@given(st.lists(_COMPONENT, min_size=1, max_size=4).filter(_normal), st.lists(_NAMES, min_size=1, max_size=5))
def test_matches_reference_implementation(pattern: list[str], path: list[str]) -> None:
    text, target = "/".join(pattern), "/".join(path)
    assert IgnoreMatcher([text]).matches(target) == _ref_matches_or_parent(text, target)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(_COMPONENT, min_size=1, max_size=3).filter(_normal),
    st.lists(_NAMES, min_size=1, max_size=4),
    st.lists(_NAMES, min_size=1, max_size=3),
)
def test_a_matched_directory_excludes_everything_below(
    pattern: list[str], path: list[str], below: list[str]
) -> None:
    m = IgnoreMatcher(["/".join(pattern)])
    if m.matches("/".join(path)):
        assert m.matches("/".join(path + below))


@settings(max_examples=200, deadline=None)
@given(st.lists(_COMPONENT, min_size=1, max_size=3).filter(_normal), st.lists(_NAMES, min_size=1, max_size=4))
def test_the_last_matching_pattern_decides(pattern: list[str], path: list[str]) -> None:
    text, target = "/".join(pattern), "/".join(path)
    assert not IgnoreMatcher([text, "!" + text]).matches(target)
    assert IgnoreMatcher(["!" + text, text]).matches(target) == IgnoreMatcher([text]).matches(target)
