"""core.filters: parsing ``-f`` flags, docker's matchers (name regex, label lists, booleans, ports), Go's
path.Match for image references, and the selection rules of each list, on hand-made facts."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import InvalidArgument, InvalidFilter
from core.filters import (
    ContainerFacts,
    bool_value,
    match,
    match_kv_list,
    match_labels,
    parse_filter_flags,
    parse_ports,
    path_match,
    prune_volumes_filter,
    reference_match,
    select_containers,
    select_images,
    select_networks,
    select_volumes,
    until_time,
)
from core.models import ImageSummary, NetworkSummary, Volume

# ------------------------------------------------------------------------------------------ parsing


def test_flags_are_key_value_pairs_with_the_key_lowercased() -> None:
    assert parse_filter_flags(["name=web", " Label = a=b ", "name=db", "name=web", ""]) == {
        "name": ["web", "db"],
        "label": ["a=b"],
    }
    assert parse_filter_flags(["dangling="]) == {"dangling": [""]}
    with pytest.raises(InvalidArgument, match=r"bad format of filter \(expected name=value\)") as err:
        parse_filter_flags(["name"])
    assert not isinstance(err.value, InvalidFilter)  # a usage error: the CLI's 125, not the engine's 1


_key = st.text(st.characters(blacklist_characters="="), min_size=1, max_size=12)
_value = st.text(max_size=16)


@given(st.lists(st.tuples(_key, _value), max_size=8))
def test_parsing_keeps_every_pair_once_in_order(pairs: list[tuple[str, str]]) -> None:
    parsed = parse_filter_flags(f"{k}={v}" for k, v in pairs)
    want: dict[str, list[str]] = {}
    for k, v in pairs:
        values = want.setdefault(k.strip().lower(), [])
        if v.strip() not in values:
            values.append(v.strip())
    assert parsed == want


@given(st.text(st.characters(blacklist_characters="="), min_size=1))
def test_a_flag_without_equals_is_refused(text: str) -> None:
    with pytest.raises(InvalidArgument):
        parse_filter_flags([text])


def test_the_apis_filters_parameter_in_both_of_dockers_forms() -> None:
    from core.interface import filters_from_json

    assert filters_from_json('{"label": ["a=1", "b"], "status": {"running": true, "paused": false}}') == {
        "label": ["a=1", "b"],
        "status": ["running"],
    }
    assert filters_from_json("") == {}
    for bad in ("[1]", "{", '{"a": "b"}', '{"a": [1]}'):
        with pytest.raises(InvalidFilter, match="invalid filter"):
            filters_from_json(bad)


# ------------------------------------------------------------------------------------------ matchers


def test_match_is_exact_or_a_regex_found_anywhere() -> None:
    f = {"name": ["^we", "b$"]}
    assert match(f, "name", "web") and match(f, "name", "db") and not match(f, "name", "cache")
    assert match({}, "name", "anything")  # not filtered on
    assert match({"name": ["a.c"]}, "name", "xabcx") and not match({"name": ["^a.c$"]}, "name", "xabcx")
    assert not match({"name": ["("]}, "name", "x(")  # a pattern that does not compile matches nothing...
    assert match({"name": ["("]}, "name", "(")  # ...but an exact value always does


@given(st.text(max_size=12), st.text(max_size=12))
def test_regex_match_agrees_with_search(pattern: str, source: str) -> None:
    escaped = re.escape(pattern)
    assert match({"name": [escaped]}, "name", source) == (pattern in source)


def test_label_values_must_all_hold() -> None:
    labels = {"app": "web", "tier": "front"}
    assert match_kv_list({"label": ["app", "tier=front"]}, "label", labels)
    assert not match_kv_list({"label": ["app=web", "tier=back"]}, "label", labels)
    assert not match_kv_list({"label": ["app"]}, "label", {})
    assert match_kv_list({}, "label", {})
    assert match_kv_list({"label": ["k=a=b"]}, "label", {"k": "a=b"})
    # prunes: label! removes what it (all of it) matches
    assert not match_labels({"label!": ["app=web"]}, labels)
    assert match_labels({"label!": ["app=web", "tier=back"]}, labels)
    assert match_labels({"label": ["app"], "label!": ["keep"]}, labels)


@given(st.dictionaries(_key, _value, max_size=5))
def test_a_containers_own_labels_always_match(labels: dict[str, str]) -> None:
    wanted = [f"{k}={v}" for k, v in labels.items()] + list(labels)
    assert match_kv_list({"label": wanted}, "label", labels) == bool(labels) or not wanted


def test_booleans_ports_and_times() -> None:
    assert bool_value({"dangling": ["true"]}, "dangling", False) is True
    assert bool_value({"dangling": ["0"]}, "dangling", True) is False
    assert bool_value({}, "dangling", True) is True
    for bad in (["x"], ["true", "false"]):
        with pytest.raises(InvalidFilter, match="Invalid filter 'dangling="):
            bool_value({"dangling": bad}, "dangling", False)
    assert parse_ports("publish", "80") == {(80, "tcp")}
    assert parse_ports("expose", "53/udp") == {(53, "udp")}
    assert parse_ports("expose", "8000-8002") == {(8000, "tcp"), (8001, "tcp"), (8002, "tcp")}
    with pytest.raises(InvalidFilter, match="should not contain ':'"):
        parse_ports("publish", "1:2")
    with pytest.raises(InvalidFilter, match="invalid port range"):
        parse_ports("publish", "x")
    assert until_time({"until": ["10m"]}, 1000.0) == 400.0
    assert until_time({"until": ["1700000000"]}, 0.0) == 1700000000.0
    assert until_time({}, 0.0) is None
    with pytest.raises(InvalidFilter, match='failed to parse value as time or duration: "soon"'):
        until_time({"until": ["soon"]}, 0.0)
    with pytest.raises(InvalidFilter, match="more than one until filter"):
        until_time({"until": ["1h", "2h"]}, 0.0)


# ---------------------------------------------------------------------------- Go's path.Match (glob)

# Go's own table for path.Match (src/path/match_test.go)
GO_MATCH_CASES = [
    ("abc", "abc", True),
    ("*", "abc", True),
    ("*c", "abc", True),
    ("a*", "a", True),
    ("a*", "abc", True),
    ("a*", "ab/c", False),
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
    ("[a-ζ]*", "α", True),  # noqa: RUF001
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
GO_BAD_PATTERNS = [
    ("[]a]", "]"),
    ("[-]", "-"),
    ("[x-]", "x"),
    ("[x-]", "-"),
    ("[x-]", "z"),
    ("[-x]", "x"),
    ("[-x]", "-"),
    ("[-x]", "a"),
    ("\\", "a"),
    ("[a-b-c]", "a"),
    ("[", "a"),
    ("[^", "a"),
    ("[^bc", "a"),
    ("a[", "a"),
    ("a[", "ab"),
    ("a[", "x"),
    ("a/b[", "x"),
]


@pytest.mark.parametrize(("pattern", "name", "matched"), GO_MATCH_CASES)
def test_path_match_is_gos(pattern: str, name: str, matched: bool) -> None:
    assert path_match(pattern, name) is matched


@pytest.mark.parametrize(("pattern", "name"), GO_BAD_PATTERNS)
def test_bad_patterns_are_dockers_syntax_error(pattern: str, name: str) -> None:
    with pytest.raises(InvalidFilter, match=r"^syntax error in pattern$"):
        path_match(pattern, name)


@given(st.text(max_size=20))
def test_an_escaped_name_matches_itself_and_star_matches_one_segment(name: str) -> None:
    escaped = "".join("\\" + c if c in "*?[]\\" else c for c in name)
    assert path_match(escaped, name)
    assert path_match("*", name) == ("/" not in name)


def test_references_match_with_or_without_their_tag() -> None:
    assert reference_match("busy*", "busybox:latest")
    assert reference_match("busybox", "busybox:latest")  # the name alone
    assert reference_match("*:1", "kid:1") and not reference_match("*:2", "kid:1")
    assert not reference_match("box", "team/box:1")  # * and names never cross a "/"
    assert reference_match("team/*", "team/box:1")
    assert reference_match("localhost:5000/app", "localhost:5000/app:v1")
    assert reference_match("app", "app@sha256:" + "0" * 64)


# --------------------------------------------------------------------------------------- selections


def facts(name: str, status: str = "running", **kw: object) -> ContainerFacts:
    base: dict[str, object] = {
        "id": (name * 64)[:64].encode().hex()[:64],
        "name": name,
        "status": status,
        "exit_code": 0,
        "started": status != "created",
        "created": "",
        "image_id": "sha256:img",
    }
    base.update(kw)
    return ContainerFacts(**base)  # type: ignore[arg-type]


def names_of(items: list[ContainerFacts]) -> list[str]:
    return [c.name for c in items]


def test_container_selection() -> None:
    items = [  # newest first, as the engine passes them
        facts("new", labels={"a": "1"}),
        facts("mid", "exited", exit_code=2),
        facts("old", "created", networks={"n1": "abcdef"}, mounts=[("vol", "", "/data")]),
    ]
    fam = {"busybox": {"sha256:img"}}
    pick = lambda f, all=True: names_of(  # noqa: E731
        select_containers(items, f, all=all, image_family=lambda ref: fam.get(ref))
    )
    assert pick({}, all=False) == ["new"]
    assert pick({"status": ["exited"]}, all=False) == ["mid"]  # status implies all
    assert pick({"exited": ["2"]}) == ["mid"] and pick({"exited": ["0"]}) == []
    assert pick({"before": ["new"]}) == ["mid", "old"] and pick({"since": ["old"]}) == ["new", "mid"]
    assert pick({"network": ["abc"]}) == ["old"]  # a network id prefix
    assert pick({"volume": ["/data"]}) == pick({"volume": ["vol"]}) == ["old"]
    assert pick({"ancestor": ["busybox"]}) == ["new", "mid", "old"] and pick({"ancestor": ["x"]}) == []
    assert pick({"label": ["a=1"]}) == ["new"]
    assert pick({"name": ["^/m"]}) == ["mid"]
    assert pick({"is-task": ["0"]}) == ["new", "mid", "old"] and pick({"is-task": ["1"]}) == []
    with pytest.raises(InvalidFilter, match=r"^Invalid filter 'isolated'$"):
        pick({"isolated": ["x"]})
    with pytest.raises(InvalidFilter, match="No such container: gone"):
        pick({"since": ["gone"]})


def test_image_network_and_volume_selection() -> None:
    tagged = ImageSummary("sha256:a", ["busybox:latest", "mine:1"], [], "2026-01-01T00:00:00Z", 1)
    bare = ImageSummary("sha256:b", [], [], "2026-02-01T00:00:00Z", 1)
    by = {"busybox": tagged}
    chosen = select_images(
        [tagged, bare],
        {"reference": ["mine"]},
        labels=lambda i: {},
        resolve=lambda n: by[n],
        has_children=lambda i: False,
    )
    assert [(i.id, i.repo_tags) for i in chosen] == [("sha256:a", ["mine:1"])]  # only the matching tag
    since = select_images(
        [tagged, bare],
        {"since": ["busybox"]},
        labels=lambda i: {},
        resolve=lambda n: by[n],
        has_children=lambda i: False,
    )
    assert [i.id for i in since] == ["sha256:b"]
    dangling = select_images(
        [tagged, bare],
        {"dangling": ["true"]},
        labels=lambda i: {},
        resolve=by.__getitem__,
        has_children=lambda i: False,
    )
    assert [i.id for i in dangling] == ["sha256:b"]

    nets = [
        NetworkSummary("1" * 64, "bridge", "bridge", containers=["x"]),
        NetworkSummary("2" * 64, "host", "host"),
        NetworkSummary("3" * 64, "mine", "bridge", labels={"k": "v"}),
    ]
    assert [n.name for n in select_networks(nets, {"type": ["custom"]})] == ["mine"]
    assert [n.name for n in select_networks(nets, {"dangling": ["1"]})] == ["mine"]
    assert [n.name for n in select_networks(nets, {"label": ["k"], "driver": ["bridge"]})] == ["mine"]
    assert [n.name for n in select_networks(nets, {"id": ["^2"]})] == ["host"]

    vols = [Volume("a", "", labels={"k": "v"}), Volume("b", "", anonymous=True)]
    assert [v.name for v in select_volumes(vols, {"dangling": ["true"]}, in_use={"a"}.__contains__)] == ["b"]
    assert [v.name for v in select_volumes(vols, {"label": ["k=v"]}, in_use=lambda n: False)] == ["a"]
    chosen_vols = prune_volumes_filter({"label": ["k"]}, all=False)
    assert [v.name for v in vols if chosen_vols(v)] == []  # named volumes only with all
    assert [v.name for v in vols if prune_volumes_filter({"all": ["true"]}, all=False)(v)] == ["a", "b"]
    with pytest.raises(InvalidFilter, match=r"^Invalid filter 'until'$"):
        prune_volumes_filter({"until": ["1h"]}, all=False)
