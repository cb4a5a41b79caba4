"""The API server's parsers, without a server: detach keys, the create body's keys, chunked
request bodies, and the summary texts docker's clients print."""

from __future__ import annotations

import io

import pytest

from api.containers import check_create_keys
from api.hijack import _DetachMatcher, parse_detach_keys
from api.http import ApiError, Body
from core.dockerjson import epoch_seconds, human_duration


def test_detach_keys() -> None:
    assert parse_detach_keys("ctrl-p,ctrl-q") == b"\x10\x11"
    assert parse_detach_keys("ctrl-a,x") == b"\x01x"
    with pytest.raises(ApiError):
        parse_detach_keys("ctrl-pp")
    m = _DetachMatcher(b"\x10\x11")
    assert m.feed(b"ab\x10") == (b"ab", False)  # held: it may begin the sequence
    assert m.feed(b"c") == (b"\x10c", False)  # it did not
    assert m.feed(b"\x10\x10") == (b"\x10", False)
    assert m.feed(b"\x11rest") == (b"", True)


def test_create_options_dockyard_lacks_are_refused_by_name() -> None:
    check_create_keys({"Image": "x", "Domainname": "", "HostConfig": {"Memory": 5, "CpuShares": 0}})
    check_create_keys({"Image": "x", "HostConfig": {"MemorySwappiness": -1, "CgroupnsMode": "private"}})
    with pytest.raises(ApiError) as err:
        check_create_keys(
            {"Image": "x", "MacAddress": "02:42:ac:11:00:02", "HostConfig": {"BlkioWeight": 300}}
        )
    assert err.value.status == 400
    assert "MacAddress" in err.value.message and "HostConfig.BlkioWeight" in err.value.message
    check_create_keys({"Image": "x", "Healthcheck": {"Test": ["CMD", "true"]}})  # read when given


def test_a_chunked_body_reads_as_a_file() -> None:
    raw = io.BytesIO(b"3\r\nabc\r\n5;ext=1\r\ndefgh\r\n0\r\nTrailer: x\r\n\r\nNEXT")
    body = Body(raw, {"Transfer-Encoding": "chunked"})
    assert body.read(4) == b"abcd"
    assert body.read() == b"efgh"
    assert body.done and raw.read() == b"NEXT"
    with pytest.raises(ApiError):
        Body(io.BytesIO(b"zz\r\n"), {"Transfer-Encoding": "chunked"}).read()
    sized = Body(io.BytesIO(b"0123456789"), {"Content-Length": "4"})
    assert sized.read_all(10) == b"0123"
    with pytest.raises(ApiError):
        Body(io.BytesIO(b"0123456789"), {"Content-Length": "10"}).read_all(5)


def test_summary_times() -> None:
    assert epoch_seconds("1970-01-01T00:01:40.5Z") == 100.5
    assert epoch_seconds("1970-01-01T01:00:00+01:00") == 0
    assert epoch_seconds("") == 0 and epoch_seconds("0001-01-01T00:00:00Z") == 0
    assert [human_duration(s) for s in (0.5, 1, 30, 90, 600, 3600, 7200, 86400 * 3, 86400 * 20)] == [
        "Less than a second",
        "1 second",
        "30 seconds",
        "About a minute",
        "10 minutes",
        "About an hour",
        "2 hours",
        "3 days",
        "2 weeks",
    ]
