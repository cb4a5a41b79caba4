"""Health checks end to end on real containers: the shim's probes (execs in the container), State.Health as
docker's, ``health_status`` events, ``ps`` status and ``-f health=``, the image's HEALTHCHECK from a build,
--no-healthcheck, timeouts and start periods. Intervals are a few hundred milliseconds to keep this quick."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from core.config import Config
from core.engine import LocalEngine

DOCKYARD = str(Path(sys.executable).with_name("dockyard"))
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z$")

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")


@dataclass
class Env:
    config: Config
    engine: LocalEngine
    tmp: Path
    registry: str  # 127.0.0.1:PORT of the test bed's open registry

    def cli(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [DOCKYARD, "--root", str(self.config.root), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, "DOCKYARD_RUN": str(self.config.run)},
        )

    def ok(self, *args: str) -> str:
        r = self.cli(*args)
        assert r.returncode == 0, (args, r.stderr)
        return r.stdout

    def inspect(self, name: str) -> dict[str, Any]:
        doc: dict[str, Any] = json.loads(self.ok("inspect", name))[0]
        return doc

    def health(self, name: str) -> dict[str, Any] | None:
        return self.inspect(name)["State"].get("Health")

    def wait_for(
        self, name: str, want: Callable[[dict[str, Any]], bool], timeout: float = 15
    ) -> dict[str, Any]:
        """Until State.Health satisfies ``want``; the last one seen."""
        deadline = time.monotonic() + timeout
        health: dict[str, Any] | None = None
        while time.monotonic() < deadline:
            health = self.engine.inspect_container(name)["State"].get("Health")
            if health is not None and want(health):
                return health
            time.sleep(0.05)
        raise AssertionError(f"health of {name} never got there: {health}")

    def ps_status(self, name: str, *flags: str) -> str:
        return self.ok("ps", *flags, "--filter", f"name={name}", "--format", "{{.Status}}").strip()

    def ps_names(self, *flags: str) -> list[str]:
        return sorted(self.ok("ps", *flags, "--format", "{{.Names}}").split())

    def events(self, name: str) -> list[str]:
        out = self.ok("events", "--since", "0", "--until", str(time.time() + 0.1), "-f", f"container={name}")
        return [line for line in out.splitlines() if line.strip()]


@pytest.fixture
def env(testbed, engine_config: Config, tmp_path: Path) -> Iterator[Env]:  # type: ignore[no-untyped-def]
    engine = LocalEngine(engine_config)
    engine.pull(testbed.ref("busybox:latest"))
    engine.tag_image(testbed.ref("busybox:latest"), "busybox")
    yield Env(engine_config, engine, tmp_path, testbed.addr("open"))


def _time(stamp: str) -> float:
    """Seconds since the epoch of an RFC 3339 time with nanoseconds (to the microsecond)."""
    return datetime.fromisoformat(stamp[:26] + "+00:00").timestamp()


def _status(want: str) -> Callable[[dict[str, Any]], bool]:
    return lambda h: h["Status"] == want


def test_starting_then_healthy_inspect_ps_filter_events_and_stop(env: Env) -> None:
    # with docker's default interval (30s) nothing is probed during this test: starting
    env.ok("run", "-d", "--name", "waiting", "--health-cmd", "echo hi; true", "busybox", "sleep", "60")
    doc = env.inspect("waiting")
    assert doc["Config"]["Healthcheck"] == {"Test": ["CMD-SHELL", "echo hi; true"]}
    assert doc["State"]["Health"] == {"Status": "starting", "FailingStreak": 0, "Log": []}
    assert re.fullmatch(r"Up .+ \(health: starting\)", env.ps_status("waiting"))
    env.ok(
        "run", "-d", "--name", "hc", "--health-cmd", "echo hi; true", "--health-interval", "300ms",
        "busybox", "sleep", "60",
    )  # fmt: skip
    assert env.inspect("hc")["Config"]["Healthcheck"] == {
        "Test": ["CMD-SHELL", "echo hi; true"],
        "Interval": 300_000_000,
    }
    env.ok("run", "-d", "--name", "plain", "busybox", "sleep", "60")
    assert "Health" not in env.inspect("plain")["State"]
    assert "Healthcheck" not in env.inspect("plain")["Config"]
    assert env.ps_names("-f", "health=none") == ["plain"]

    health = env.wait_for("hc", _status("healthy"))
    assert health["FailingStreak"] == 0
    first = health["Log"][0]
    assert (first["ExitCode"], first["Output"]) == (0, "hi\n")
    assert RFC3339.match(first["Start"]) and RFC3339.match(first["End"]) and first["Start"] <= first["End"]
    assert re.fullmatch(r"Up .+ \(healthy\)", env.ps_status("hc"))
    assert env.ps_names("-f", "health=healthy") == ["hc"]
    assert env.ps_names("-f", "health=starting") == ["waiting"]
    assert re.fullmatch(r"Up [^()]+", env.ps_status("plain"))  # no health: nothing added

    text = "\n".join(env.events("hc"))
    assert "container health_status: healthy" in text, text
    assert "container exec_create: /bin/sh -c echo hi; true" in text
    assert "container exec_start: /bin/sh -c echo hi; true" in text
    assert re.search(r"container exec_die \w{64} \(.*exitCode=0", text)
    assert text.count("health_status") == 1  # only changes are events

    env.ok("stop", "-t", "1", "hc")
    after = env.inspect("hc")["State"]
    assert after["Health"]["Status"] == "unhealthy"  # as docker reports a stopped container
    assert re.fullmatch(r"Exited \(\d+\) .+ ago", env.ps_status("hc", "-a"))
    assert env.ps_names("-a", "-f", "health=unhealthy") == ["hc"]
    bad = env.cli("ps", "-f", "health=bogus")
    assert bad.returncode != 0 and "Unrecognised filter value for health: bogus" in bad.stderr


def test_unhealthy_after_retries_then_healthy_again(env: Env) -> None:
    env.ok(
        "run", "-d", "--name", "flaky", "--health-cmd", "test -e /tmp/ok || { echo missing >&2; exit 1; }",
        "--health-interval", "200ms", "--health-retries", "2", "busybox", "sleep", "60",
    )  # fmt: skip
    bad = env.wait_for("flaky", _status("unhealthy"))
    assert bad["FailingStreak"] >= 2
    assert {(r["ExitCode"], r["Output"]) for r in bad["Log"]} == {(1, "missing\n")}
    assert re.fullmatch(r"Up .+ \(unhealthy\)", env.ps_status("flaky"))
    # the log keeps the last five results
    env.wait_for("flaky", lambda h: len(h["Log"]) == 5)
    time.sleep(0.5)
    assert len(env.health("flaky")["Log"]) == 5  # type: ignore[index]
    env.ok("exec", "flaky", "touch", "/tmp/ok")
    good = env.wait_for("flaky", _status("healthy"))
    assert good["FailingStreak"] == 0 and good["Log"][-1]["ExitCode"] == 0
    text = "\n".join(env.events("flaky"))
    assert text.index("health_status: unhealthy") < text.index("health_status: healthy")
    assert "health_status: starting" not in text


def test_timed_out_probe_is_killed_and_counts_as_a_failure(env: Env) -> None:
    env.ok(
        "run", "-d", "--name", "slow", "--health-cmd", "echo started; sleep 30", "--health-timeout", "300ms",
        "--health-interval", "100ms", "--health-retries", "1", "busybox", "sleep", "60",
    )  # fmt: skip
    health = env.wait_for("slow", lambda h: len(h["Log"]) >= 3)
    assert health["Status"] == "unhealthy"
    for result in health["Log"]:
        assert result["ExitCode"] == -1
        assert result["Output"] == "Health check exceeded timeout (300ms): started\n"
    # each probe was killed when its time was up: at most the one in flight is left
    ps = env.ok("exec", "slow", "ps", "-o", "args")
    assert ps.count("sleep 30") <= 1, ps


def test_start_period_failures_do_not_count_but_a_success_does(env: Env) -> None:
    env.ok(
        "run", "-d", "--name", "boot", "--health-cmd", "exit 1", "--health-interval", "200ms",
        "--health-start-period", "3s", "--health-start-interval", "100ms", "--health-retries", "1",
        "busybox", "sleep", "60",
    )  # fmt: skip
    early = env.wait_for("boot", lambda h: len(h["Log"]) >= 3)
    started = _time(env.inspect("boot")["State"]["StartedAt"])
    # three probes a start interval apart, all inside the start period: failures logged, not counted
    assert all(_time(r["Start"]) - started < 3.0 for r in early["Log"]), (started, early)
    assert (early["Status"], early["FailingStreak"]) == ("starting", 0)
    assert {r["ExitCode"] for r in early["Log"]} == {1}
    late = env.wait_for("boot", _status("unhealthy"), timeout=10)
    assert late["FailingStreak"] >= 1

    env.ok(
        "run", "-d", "--name", "ready", "--health-cmd", "test -e /tmp/up", "--health-interval", "30s",
        "--health-start-period", "60s", "--health-start-interval", "100ms", "busybox", "sleep", "60",
    )  # fmt: skip
    env.wait_for("ready", lambda h: len(h["Log"]) >= 2)
    assert env.health("ready")["Status"] == "starting"  # type: ignore[index]
    env.ok("exec", "ready", "touch", "/tmp/up")
    assert env.wait_for("ready", _status("healthy"))["FailingStreak"] == 0


def test_image_healthcheck_from_a_build_and_no_healthcheck(env: Env) -> None:
    ctx = env.tmp / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(
        "FROM busybox\n"
        'HEALTHCHECK --interval=300ms --timeout=2s --retries=2 CMD ["sh", "-c", "echo from-image"]\n'
    )
    env.ok("build", "-q", "-t", "checked", str(ctx))
    image_hc = {
        "Test": ["CMD", "sh", "-c", "echo from-image"],
        "Interval": 300_000_000,
        "Timeout": 2_000_000_000,
        "Retries": 2,
    }
    assert env.engine.inspect_image("checked")["Config"]["Healthcheck"] == image_hc
    # through a registry: the image goes, comes back by a pull, and its check is honoured the same
    ref = f"{env.registry}/health/checked:1"
    env.ok("tag", "checked", ref)
    env.ok("push", ref)
    env.ok("rmi", "checked", ref)
    assert env.cli("image", "inspect", "checked").returncode != 0
    env.ok("pull", ref)
    env.ok("tag", ref, "checked")

    env.ok("run", "-d", "--name", "img", "checked", "sleep", "60")
    assert env.inspect("img")["Config"]["Healthcheck"] == image_hc
    assert env.wait_for("img", _status("healthy"))["Log"][0]["Output"] == "from-image\n"

    # a flag changes one part; the rest stays the image's
    env.ok("run", "-d", "--name", "img2", "--health-retries", "5", "checked", "sleep", "60")
    assert env.inspect("img2")["Config"]["Healthcheck"] == {**image_hc, "Retries": 5}
    env.ok("commit", "img2", "committed:1")  # the container's check goes into the image, as docker's
    committed = env.engine.inspect_image("committed:1")["Config"]["Healthcheck"]
    assert committed == {**image_hc, "Retries": 5} and list(committed) == list(image_hc)

    env.ok("run", "-d", "--name", "off", "--no-healthcheck", "checked", "sleep", "60")
    off = env.inspect("off")
    assert off["Config"]["Healthcheck"]["Test"] == ["NONE"]
    time.sleep(1.0)
    assert "Health" not in env.inspect("off")["State"]
    assert env.ps_names("-f", "health=none") == ["off"]
    assert "health_status" not in "\n".join(env.events("off"))


def test_bad_health_flags_are_refused_like_docker(env: Env) -> None:
    cases = [
        (("--no-healthcheck", "--health-cmd", "true"), "--no-healthcheck conflicts with --health-* options"),
        (("--health-interval", "5"), 'invalid argument "5" for "--health-interval" flag: '
         'time: missing unit in duration "5"'),
        (("--health-timeout=-1s",), "--health-timeout cannot be negative"),
        (("--health-retries", "x"), 'invalid argument "x" for "--health-retries" flag'),
        (("--health-interval", "500us"), "Interval in Healthcheck cannot be less than 1ms"),
    ]  # fmt: skip
    for flags, message in cases:
        r = env.cli("run", "-d", *flags, "busybox", "true")
        assert r.returncode == 125, (flags, r.stderr)
        assert message in r.stderr, (flags, r.stderr)
    assert env.engine.list_containers(all=True) == []


def test_restart_starts_over_keeping_the_log_and_a_dying_container_is_not_probed(env: Env) -> None:
    env.ok(
        "run", "-d", "--name", "again", "--health-cmd", "true", "--health-interval", "1500ms",
        "busybox", "sleep", "60",
    )  # fmt: skip
    before = env.wait_for("again", _status("healthy"))
    env.ok("restart", "-t", "0", "again")
    after = env.engine.inspect_container("again")["State"].get("Health")  # in-process: before a probe
    assert after is not None
    assert (after["Status"], after["FailingStreak"]) == ("starting", 0)
    assert after["Log"][: len(before["Log"])] == before["Log"]  # kept across the restart, as docker
    env.wait_for("again", _status("healthy"))
    text = "\n".join(env.events("again"))
    assert text.count("health_status: healthy") == 2

    # probes every 100ms while the container ends: none of them fails for that
    env.ok(
        "run", "-d", "--name", "brief", "--health-cmd", "true", "--health-interval", "100ms",
        "busybox", "sh", "-c", "sleep 1; exit 3",
    )  # fmt: skip
    env.wait_for("brief", _status("healthy"))
    assert env.ok("wait", "brief").strip() == "3"
    time.sleep(0.3)
    final = env.health("brief")
    assert final is not None and final["Status"] == "unhealthy"  # stopped: docker says unhealthy
    assert final["FailingStreak"] == 0 and {r["ExitCode"] for r in final["Log"]} == {0}
