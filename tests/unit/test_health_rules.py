"""The health check's rules without processes (core.containers.health): Go's durations, docker's schedule,
the state machine, what a result keeps, how a request's check merges with its image's, and the flags."""

from __future__ import annotations

import argparse

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.containers import health as h
from core.errors import InvalidArgument
from core.models import HealthConfig

S = h.SECOND


@pytest.mark.parametrize(
    "text, ns",
    [
        ("0", 0),
        ("30s", 30 * S),
        ("1m30s", 90 * S),
        ("1.5h", 5400 * S),
        ("300ms", 300_000_000),
        ("500us", 500_000),
        ("500µs", 500_000),
        ("1ns", 1),
        (".5s", S // 2),
        ("1.s", S),
        ("-1s", -S),
        ("+2m", 120 * S),
        ("1h2m3s4ms", 3723 * S + 4_000_000),
    ],
)
def test_go_durations_parse(text: str, ns: int) -> None:
    assert h.parse_go_duration(text) == ns


@pytest.mark.parametrize(
    "text, message",
    [
        ("5", 'time: missing unit in duration "5"'),
        ("", 'time: invalid duration ""'),
        ("s", 'time: invalid duration "s"'),
        ("1x", 'time: unknown unit "x" in duration "1x"'),
        ("1s2", 'time: missing unit in duration "1s2"'),
        ("-", 'time: invalid duration "-"'),
        ("1.2.3s", 'time: missing unit in duration "1.2.3s"'),
    ],
)
def test_bad_go_durations_say_what_go_says(text: str, message: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        h.parse_go_duration(text)
    assert str(err.value) == message


@pytest.mark.parametrize(
    "ns, text",
    [
        (0, "0s"),
        (300_000_000, "300ms"),
        (30 * S, "30s"),
        (90 * S, "1m30s"),
        (3600 * S, "1h0m0s"),
        (1_500, "1.5µs"),
        (999, "999ns"),
        (S + 500_000_000, "1.5s"),
        (-2 * S, "-2s"),
        (2_000_000, "2ms"),
    ],
)
def test_go_durations_print_as_go(ns: int, text: str) -> None:
    assert h.format_go_duration(ns) == text


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_printed_durations_parse_back(ns: int) -> None:
    assert h.parse_go_duration(h.format_go_duration(ns)) == ns


def test_settings_take_docker_defaults_and_the_shell() -> None:
    s = h.Settings.of({"Test": ["CMD-SHELL", "curl -f localhost"]})
    assert s is not None
    assert s.args == ["/bin/sh", "-c", "curl -f localhost"]
    assert (s.interval, s.timeout, s.start_period, s.start_interval, s.retries) == (30.0, 30.0, 0.0, 5.0, 3)
    s = h.Settings.of({"Test": ["CMD-SHELL", "x"], "Interval": S, "Retries": 2}, ["/bin/bash", "-ec"])
    assert s is not None and s.args == ["/bin/bash", "-ec", "x"] and (s.interval, s.retries) == (1.0, 2)
    s = h.Settings.of({"Test": ["CMD", "true", "a b"]})
    assert s is not None and s.args == ["true", "a b"]
    assert h.Settings.of({"Test": ["NONE"]}) is None
    assert h.Settings.of({"Test": []}) is None
    assert h.Settings.of(None) is None
    assert h.Settings.of({"Test": ["WHAT", "x"]}) is None  # docker ignores an unknown type


def test_schedule_follows_docker() -> None:
    s = h.Settings(args=["true"], interval=1.0, start_period=10.0, start_interval=0.2)
    assert h.next_delay(s, 0.0, h.STARTING) == 0.2  # starting, in the start period: the start interval
    assert h.next_delay(s, 3.0, h.HEALTHY) == 1.0  # healthy already: the interval
    assert h.next_delay(s, 9.5, h.STARTING) == pytest.approx(0.5)  # never past the end of the period
    assert h.next_delay(s, 10.0, h.STARTING) == 1.0
    plain = h.Settings(args=["true"], interval=2.0)
    assert h.next_delay(plain, 0.0, h.STARTING) == 2.0


def _result(code: int, output: str = "") -> dict[str, object]:
    return {"Start": "s", "End": "e", "ExitCode": code, "Output": output}


def test_state_machine() -> None:
    s = h.Settings(args=["x"], retries=2, start_period=5.0)
    health = h.starting({"Status": "unhealthy", "FailingStreak": 7, "Log": [_result(1)]})
    assert health == {"Status": "starting", "FailingStreak": 0, "Log": [_result(1)]}  # log kept on restart
    # failures inside the start period while starting: logged, not counted
    health = h.record_result(health, _result(1), s, since_start=1.0)
    assert (health["Status"], health["FailingStreak"], len(health["Log"])) == ("starting", 0, 2)
    # a success in the start period makes it healthy at once
    health = h.record_result(health, _result(0), s, since_start=2.0)
    assert (health["Status"], health["FailingStreak"]) == ("healthy", 0)
    # healthy: failures count even inside the start period
    health = h.record_result(health, _result(1), s, since_start=3.0)
    assert (health["Status"], health["FailingStreak"]) == ("healthy", 1)
    health = h.record_result(health, _result(7), s, since_start=6.0)  # any code but 0 is a failure
    assert (health["Status"], health["FailingStreak"]) == ("unhealthy", 2)
    health = h.record_result(health, _result(-1), s, since_start=7.0)
    assert (health["Status"], health["FailingStreak"]) == ("unhealthy", 3)
    health = h.record_result(health, _result(0), s, since_start=8.0)
    assert (health["Status"], health["FailingStreak"]) == ("healthy", 0)
    assert len(health["Log"]) == h.MAX_LOG_ENTRIES and health["Log"][-1] == _result(0)
    # after the start period, failures while starting count
    fresh = h.starting(None)
    fresh = h.record_result(fresh, _result(1), s, since_start=5.0)
    fresh = h.record_result(fresh, _result(1), s, since_start=6.0)
    assert (fresh["Status"], fresh["FailingStreak"]) == ("unhealthy", 2)
    assert h.stopped(fresh) == {**fresh, "Status": "unhealthy"} and h.stopped(None) is None
    assert h.status_of(None) == "none" and h.status_of(fresh) == "unhealthy"


@given(st.lists(st.sampled_from([0, 1, 2, -1]), max_size=30), st.integers(min_value=1, max_value=5))
def test_state_machine_invariants(codes: list[int], retries: int) -> None:
    s = h.Settings(args=["x"], retries=retries)
    health = h.starting(None)
    for i, code in enumerate(codes):
        health = h.record_result(health, _result(code), s, since_start=float(i))
        assert len(health["Log"]) == min(i + 1, h.MAX_LOG_ENTRIES)
        if code == 0:
            assert (health["Status"], health["FailingStreak"]) == ("healthy", 0)
        else:
            assert health["FailingStreak"] >= 1
        if health["FailingStreak"] >= retries:
            assert health["Status"] == "unhealthy"


def test_output_kept_as_docker() -> None:
    assert h.kept_output(b"hi\n") == "hi\n"
    assert h.kept_output(b"x" * 5000) == "x" * 4096 + "..."
    assert h.kept_output(b"x" * 4096) == "x" * 4096
    assert h.kept_output(b"x" * 10, truncated=True) == "x" * 10 + "..."
    assert h.kept_output(b"\xff ok") == "\ufffd ok"
    s = h.Settings(args=["x"], timeout_ns=300_000_000)
    assert h.timeout_output(s, "") == "Health check exceeded timeout (300ms)"
    assert h.timeout_output(s, "half\n") == "Health check exceeded timeout (300ms): half\n"


def test_document_has_dockers_key_order() -> None:
    stored = {
        "Log": [{"Output": "o", "Start": "s", "ExitCode": 0, "End": "e"}],
        "Status": "healthy",
        "FailingStreak": 0,
    }
    doc = h.document(stored)
    assert list(doc) == ["Status", "FailingStreak", "Log"]
    assert list(doc["Log"][0]) == ["Start", "End", "ExitCode", "Output"]


def test_ordered_has_dockers_key_order() -> None:
    stored = {"Retries": 2, "Interval": S, "Test": ["CMD", "true"], "Timeout": 0}
    assert list(h.ordered(stored).items()) == [("Test", ["CMD", "true"]), ("Interval", S), ("Retries", 2)]


def test_merge_with_the_images_check() -> None:
    image = {"Test": ["CMD", "true"], "Interval": 5 * S, "Retries": 2}
    assert h.merge_healthcheck(None, image) == image
    assert h.merge_healthcheck(None, None) is None
    assert h.merge_healthcheck({"Retries": 5}, image) == {**image, "Retries": 5}
    assert h.merge_healthcheck({"Test": ["CMD-SHELL", "x"]}, image) == {
        "Test": ["CMD-SHELL", "x"],
        "Interval": 5 * S,
        "Retries": 2,
    }
    assert h.merge_healthcheck({"Test": ["NONE"]}, None) == {"Test": ["NONE"]}


@pytest.mark.parametrize(
    "hc, message",
    [
        ({"Interval": 500_000}, "Interval in Healthcheck cannot be less than 1ms"),
        ({"Timeout": -1}, "Timeout in Healthcheck cannot be less than 1ms"),
        ({"Retries": -1}, "Retries in Healthcheck cannot be negative"),
        ({"StartPeriod": 1}, "StartPeriod in Healthcheck cannot be less than 1ms"),
        ({"StartInterval": 10}, "StartInterval in Healthcheck cannot be less than 1ms"),
        ({"Test": ["CMD"]}, "Healthcheck CMD needs a command"),
        ({"Test": ["SHELL", "x"]}, "unknown Healthcheck type 'SHELL'"),
    ],
)
def test_create_refuses_what_docker_refuses(hc: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidArgument, match=message.replace("(", r"\(")):
        h.check_healthcheck(hc)


def _flags(*argv: str) -> argparse.Namespace:
    from tui.runflags import add_run_flags

    p = argparse.ArgumentParser(add_help=False)
    add_run_flags(p, run=True)
    return p.parse_args([*argv, "busybox"])


def test_run_flags_as_dockers_cli() -> None:
    from tui.runflags import health_config

    assert health_config(_flags()) is None
    assert health_config(_flags("--no-healthcheck")) == HealthConfig(test=["NONE"])
    assert health_config(_flags("--health-cmd", "curl -f x", "--health-interval", "1m")) == HealthConfig(
        test=["CMD-SHELL", "curl -f x"], interval=60 * S
    )
    got = health_config(
        _flags(
            "--health-timeout=2s",
            "--health-retries=3",
            "--health-start-period=4.5s",
            "--health-start-interval=100ms",
        )
    )
    assert got == HealthConfig(
        test=[], timeout=2 * S, retries=3, start_period=4_500_000_000, start_interval=10**8
    )
    for argv, message in [
        (("--no-healthcheck", "--health-retries", "1"), "--no-healthcheck conflicts with --health-* options"),
        (("--health-interval=-1s",), "--health-interval cannot be negative"),
        (("--health-retries=-2",), "--health-retries cannot be negative"),
        (
            ("--health-start-period", "1"),
            'invalid argument "1" for "--health-start-period" flag: time: missing unit',
        ),
    ]:
        with pytest.raises(InvalidArgument, match=message.replace("*", r"\*")):
            health_config(_flags(*argv))
