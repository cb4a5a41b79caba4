"""Capability names, Docker's defaults and moby's cap-add / cap-drop rules (TweakCapabilities)."""

from __future__ import annotations

import pytest

from core.errors import InvalidArgument
from core.runtime import capabilities as caps
from core.runtime import security


def test_default_set_is_dockers() -> None:
    assert len(caps.DEFAULT_CAPABILITIES) == 14
    assert caps.to_mask(caps.DEFAULT_CAPABILITIES) == 0xA80425FB
    assert security.DEFAULT_CAPABILITIES == caps.DEFAULT_CAPABILITIES


@pytest.mark.parametrize("spelling", ["CAP_CHOWN", "chown", "CHOWN", "cap_chown", " Chown "])
def test_spellings(spelling: str) -> None:
    assert caps.normalize(spelling) == "CAP_CHOWN"
    assert caps.number(spelling) == 0


def test_numbers_round_trip() -> None:
    for i, name in enumerate(caps.CAPABILITIES):
        assert caps.number(name) == i
        assert caps.name_of(i) == name
    assert caps.number("CAP_SYS_ADMIN") == 21
    assert caps.number("checkpoint_restore") == 40
    assert caps.from_mask(0xA80425FB) == sorted(caps.DEFAULT_CAPABILITIES, key=caps.number)


def test_unknown_names_are_refused() -> None:
    for bad in ("CAP_NOPE", "nope", "", "CAP_999"):
        with pytest.raises(InvalidArgument, match="unknown capability"):
            caps.normalize(bad)
    with pytest.raises(InvalidArgument):
        caps.number("ALL")


def test_all_means_what_is_available() -> None:
    assert caps.normalize("all") == "ALL"
    available = caps.available()
    assert available == caps.from_mask(caps.available_mask())
    assert caps.expand(["ALL"]) == available
    assert caps.to_mask(["ALL", "chown"]) == caps.available_mask() | 1
    assert caps.available_mask() & ~((1 << (caps.last_cap() + 1)) - 1) == 0


def test_expand_dedupes_and_orders() -> None:
    assert caps.expand(["kill", "CAP_CHOWN", "chown"]) == ["CAP_CHOWN", "CAP_KILL"]


# moby's TweakCapabilities, case by case
def test_no_flags_gives_defaults() -> None:
    assert caps.resolve_capabilities([], [], False) == list(caps.DEFAULT_CAPABILITIES)


def test_privileged_gives_everything() -> None:
    assert caps.resolve_capabilities(["chown"], ["ALL"], True) == caps.available()


def test_add_and_drop() -> None:
    result = caps.resolve_capabilities(["net_admin"], ["MKNOD", "cap_kill"], False)
    assert "CAP_NET_ADMIN" in result
    assert "CAP_MKNOD" not in result and "CAP_KILL" not in result
    assert len(result) == 13


def test_add_all_minus_drops() -> None:
    result = caps.resolve_capabilities(["ALL"], ["chown"], False)
    assert result == [c for c in caps.available() if c != "CAP_CHOWN"]


def test_drop_all_keeps_only_adds() -> None:
    assert caps.resolve_capabilities(["chown", "KILL"], ["all"], False) == ["CAP_CHOWN", "CAP_KILL"]
    assert caps.resolve_capabilities([], ["ALL"], False) == []


def test_add_and_drop_of_the_same_capability_keeps_it() -> None:
    # moby drops from the defaults first, then appends the adds: the add wins (the CLI documents
    # "CapAdd takes precedence over CapDrop").
    result = caps.resolve_capabilities(["chown"], ["chown"], False)
    assert "CAP_CHOWN" in result
    result = caps.resolve_capabilities(["sys_admin"], ["sys_admin"], False)
    assert "CAP_SYS_ADMIN" in result


def test_adding_a_default_does_not_duplicate() -> None:
    result = caps.resolve_capabilities(["chown"], [], False)
    assert result.count("CAP_CHOWN") == 1
    assert len(result) == 14


def test_unknown_in_flags_is_an_error() -> None:
    with pytest.raises(InvalidArgument):
        caps.resolve_capabilities(["CAP_FLY"], [], False)
    with pytest.raises(InvalidArgument):
        caps.resolve_capabilities([], ["CAP_FLY"], False)


def test_adding_an_unavailable_capability_is_an_error() -> None:
    missing = [c for c in caps.CAPABILITIES[: caps.last_cap() + 1] if c not in caps.available()]
    if not missing:
        pytest.skip("every capability is available here")
    with pytest.raises(InvalidArgument, match="not available"):
        caps.resolve_capabilities([missing[0]], [], False)
