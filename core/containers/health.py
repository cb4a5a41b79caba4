"""Health checks as docker runs them (moby ``daemon/health.go``): settings, timing and the state machine.

A container's health check is its ``Config.Healthcheck`` (docker's ``HealthConfig``: ``Test``, and
``Interval``, ``Timeout``, ``StartPeriod``, ``StartInterval`` in nanoseconds, ``Retries``), the run request's
merged over its image's. ``Test`` is ``["CMD", arg...]`` (exec'd as it is), ``["CMD-SHELL", command]`` (run
by the image's shell, ``/bin/sh -c`` by default) or ``["NONE"]`` (no check, not even the image's); a zero
duration or retry count means docker's default.

The shim (``core.supervisor.health``) runs the probes; this module is the part without processes, so that it
can be tested on its own: when the next probe is due (:func:`next_delay`), what a result does to the
container's ``State.Health`` (:func:`record_result`), and how a probe's output is kept (:func:`kept_output`).

State.Health is docker's document: ``{"Status": "starting"|"healthy"|"unhealthy", "FailingStreak": N,
"Log": [{"Start", "End", "ExitCode", "Output"}, ...]}`` with the last :data:`MAX_LOG_ENTRIES` results.
"""

from __future__ import annotations

import re

from core.errors import InvalidArgument
from core.record import record

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~2 ms of a start)
if TYPE_CHECKING:
    from typing import Any

SECOND = 1_000_000_000
MAX_OUTPUT = 4096  # bytes of a probe's output kept, stdout and stderr together, then "..."
MAX_LOG_ENTRIES = 5
DEFAULT_INTERVAL = 30 * SECOND
DEFAULT_TIMEOUT = 30 * SECOND
DEFAULT_START_PERIOD = 0
DEFAULT_START_INTERVAL = 5 * SECOND
DEFAULT_RETRIES = 3
MINIMUM_DURATION = 1_000_000  # 1ms: docker refuses a shorter non-zero duration
DEFAULT_SHELL = ("/bin/sh", "-c")

STARTING, HEALTHY, UNHEALTHY, NONE = "starting", "healthy", "unhealthy", "none"
STATUSES = (STARTING, HEALTHY, UNHEALTHY, NONE)  # what ``ps -f health=`` takes
_RESULT_KEYS = ("Start", "End", "ExitCode", "Output")
_DURATION_FIELDS = ("Interval", "Timeout", "StartPeriod", "StartInterval")


# ------------------------------------------------------------------------------------------ durations


_UNITS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,  # U+00B5
    "μs": 1_000,  # U+03BC
    "ms": 1_000_000,
    "s": SECOND,
    "m": 60 * SECOND,
    "h": 3600 * SECOND,
}
_PART = re.compile(r"(\d*)(?:\.(\d*))?([^\d.]*)")


def parse_go_duration(text: str) -> int:
    """Go's ``time.ParseDuration`` in nanoseconds ("1m30s", "1.5h", "-300ms", "0"); InvalidArgument with Go's
    own message ("time: missing unit in duration \\"5\\"") for anything else."""
    s = text
    neg = s[:1] == "-"
    if s[:1] in "+-" and s:
        s = s[1:]
    if s == "0":
        return 0
    if not s:
        raise InvalidArgument(f'time: invalid duration "{text}"')
    total = 0
    pos = 0
    while pos < len(s):
        m = _PART.match(s, pos)
        assert m is not None  # every part may be empty: it always matches
        whole, frac, unit = m.group(1), m.group(2), m.group(3)
        if not whole and not frac:
            raise InvalidArgument(f'time: invalid duration "{text}"')
        if not unit:
            raise InvalidArgument(f'time: missing unit in duration "{text}"')
        scale = _UNITS.get(unit)
        if scale is None:
            raise InvalidArgument(f'time: unknown unit "{unit}" in duration "{text}"')
        value = int(whole or "0") * scale
        if frac:
            value += int(frac) * scale // 10 ** len(frac)
        total += value
        pos = m.end()
    if total >= 1 << 63:
        raise InvalidArgument(f'time: invalid duration "{text}"')
    return -total if neg else total


def format_go_duration(ns: int) -> str:
    """Go's ``time.Duration.String``: "300ms", "30s", "1m30s", "1h0m0s", "1.5µs", "0s"."""
    if ns == 0:
        return "0s"
    sign, u = ("-", -ns) if ns < 0 else ("", ns)
    if u < SECOND:
        if u < 1_000:
            return f"{sign}{u}ns"
        if u < 1_000_000:
            return f"{sign}{_fraction(u, 1_000)}µs"
        return f"{sign}{_fraction(u, 1_000_000)}ms"
    hours, rest = divmod(u, 3600 * SECOND)
    minutes, rest = divmod(rest, 60 * SECOND)
    text = f"{_fraction(rest, SECOND)}s"
    if hours:
        text = f"{hours}h{minutes}m{text}"
    elif minutes:
        text = f"{minutes}m{text}"
    return sign + text


def _fraction(value: int, unit: int) -> str:
    whole, frac = divmod(value, unit)
    if not frac:
        return str(whole)
    digits = str(frac).rjust(len(str(unit)) - 1, "0").rstrip("0")
    return f"{whole}.{digits}"


# ------------------------------------------------------------------------------------------- settings


def check_healthcheck(hc: dict[str, Any] | None) -> None:
    """docker's refusals at create (daemon ``validateHealthCheck``), for a ``Healthcheck`` document."""
    if not hc:
        return
    # in docker's order: Interval, Timeout, Retries, StartPeriod, StartInterval
    for key in ("Interval", "Timeout", "Retries", "StartPeriod", "StartInterval"):
        value = int(hc.get(key) or 0)
        if key == "Retries":
            if value < 0:
                raise InvalidArgument("Retries in Healthcheck cannot be negative")
        elif value != 0 and value < MINIMUM_DURATION:
            raise InvalidArgument(f"{key} in Healthcheck cannot be less than 1ms")
    test = hc.get("Test") or []
    if test and test[0] not in ("CMD", "CMD-SHELL", "NONE"):
        raise InvalidArgument(f"unknown Healthcheck type {test[0]!r}: use CMD, CMD-SHELL or NONE")
    if test and test[0] in ("CMD", "CMD-SHELL") and len(test) < 2:
        raise InvalidArgument(f"Healthcheck {test[0]} needs a command")


def ordered(hc: dict[str, Any]) -> dict[str, Any]:
    """A ``Healthcheck`` document with docker's key order, empty keys left out (records keep keys sorted)."""
    keys = ("Test", *_DURATION_FIELDS, "Retries")
    return {k: hc[k] for k in keys if hc.get(k)}


def merge_healthcheck(asked: dict[str, Any] | None, image: dict[str, Any] | None) -> dict[str, Any] | None:
    """The container's health check: the request's, each unset part taken from the image's (docker's
    ``merge`` of a container config with its image's)."""
    if asked is None:
        return dict(image) if image else None
    out = dict(asked)
    if image:
        if not out.get("Test") and image.get("Test"):
            out["Test"] = list(image["Test"])
        for key in (*_DURATION_FIELDS, "Retries"):
            if not out.get(key) and image.get(key):
                out[key] = image[key]
    return {k: v for k, v in out.items() if v}  # docker's omitempty


@record
class Settings:
    """A health check as the shim runs it: the command and docker's defaults filled in (seconds)."""

    args: list[str]
    interval: float = DEFAULT_INTERVAL / SECOND
    timeout: float = DEFAULT_TIMEOUT / SECOND
    start_period: float = DEFAULT_START_PERIOD / SECOND
    start_interval: float = DEFAULT_START_INTERVAL / SECOND
    retries: int = DEFAULT_RETRIES
    timeout_ns: int = DEFAULT_TIMEOUT  # as configured, for the "exceeded timeout (30s)" message

    @classmethod
    def of(cls, hc: dict[str, Any] | None, shell: list[str] | None = None) -> Settings | None:
        """The probe for a ``Healthcheck`` document; None when there is none to run (no check, ``NONE``, or
        a type docker does not know, which it ignores with a warning)."""
        args = probe_args((hc or {}).get("Test") or [], shell)
        if args is None:
            return None
        assert hc is not None

        def seconds(key: str, default: int) -> float:
            return int(hc.get(key) or 0 or default) / SECOND

        retries = int(hc.get("Retries") or 0)
        return cls(
            args=args,
            interval=seconds("Interval", DEFAULT_INTERVAL),
            timeout=seconds("Timeout", DEFAULT_TIMEOUT),
            start_period=seconds("StartPeriod", DEFAULT_START_PERIOD),
            start_interval=seconds("StartInterval", DEFAULT_START_INTERVAL),
            retries=retries if retries > 0 else DEFAULT_RETRIES,
            timeout_ns=int(hc.get("Timeout") or 0) or DEFAULT_TIMEOUT,
        )


def probe_args(test: list[str], shell: list[str] | None = None) -> list[str] | None:
    """The command a probe runs: ``CMD`` as it is, ``CMD-SHELL`` through the image's shell; None for no
    probe (``NONE``, nothing, an unknown type)."""
    if not test:
        return None
    kind, rest = test[0], list(test[1:])
    if kind == "CMD" and rest:
        return rest
    if kind == "CMD-SHELL" and rest:
        return [*(shell or DEFAULT_SHELL), *rest]
    return None


# --------------------------------------------------------------------------------------------- timing


def next_delay(s: Settings, since_start: float, status: str) -> float:
    """Seconds from the end of one probe (or the start of the container) to the next probe (docker's
    ``getInterval``): the interval; during the start period, the start interval while the container is
    still starting, and never past the end of the start period."""
    if since_start >= s.start_period:
        return s.interval
    remaining = s.start_period - since_start
    if remaining < s.interval:
        return remaining
    return s.start_interval if status == STARTING else s.interval


# ------------------------------------------------------------------------------------- state machine


def starting(previous: dict[str, Any] | None) -> dict[str, Any]:
    """State.Health as a (re)start sets it: starting, no failures; the log of earlier runs is kept."""
    log = list((previous or {}).get("Log") or [])
    return {"Status": STARTING, "FailingStreak": 0, "Log": log}


def stopped(health: dict[str, Any] | None) -> dict[str, Any] | None:
    """State.Health once the container has stopped: docker reports a stopped container unhealthy."""
    if health is None:
        return None
    return {**health, "Status": UNHEALTHY}


def record_result(
    health: dict[str, Any], result: dict[str, Any], s: Settings, since_start: float
) -> dict[str, Any]:
    """State.Health after a probe's ``result`` (``{"Start", "End", "ExitCode", "Output"}``) that started
    ``since_start`` seconds after the container (docker's ``handleProbeResult``): exit 0 is healthy and
    resets the streak; anything else is a failure, which counts (and after ``retries`` in a row makes it
    unhealthy) unless the container is still starting within its start period."""
    log = [*(health.get("Log") or []), result][-MAX_LOG_ENTRIES:]
    status = str(health.get("Status") or STARTING)
    streak = int(health.get("FailingStreak") or 0)
    if result.get("ExitCode") == 0:
        streak, status = 0, HEALTHY
    elif not (status == STARTING and since_start < s.start_period):
        streak += 1
        if streak >= s.retries:
            status = UNHEALTHY
    return {"Status": status, "FailingStreak": streak, "Log": log}


def kept_output(data: bytes, truncated: bool = False) -> str:
    """What the log keeps of a probe's output: its first :data:`MAX_OUTPUT` bytes, "..." if there was more
    (``truncated``, or more than that in ``data``); bytes that are not UTF-8 become U+FFFD, as Go's json
    writes them."""
    if len(data) > MAX_OUTPUT:
        data, truncated = data[:MAX_OUTPUT], True
    text = data.decode("utf-8", errors="replace")
    return text + "..." if truncated else text


def timeout_output(s: Settings, output: str) -> str:
    text = f"Health check exceeded timeout ({format_go_duration(s.timeout_ns)})"
    return f"{text}: {output}" if output else text


def document(health: dict[str, Any]) -> dict[str, Any]:
    """State.Health with docker's key order (the state record keeps its keys sorted)."""
    return {
        "Status": health.get("Status", STARTING),
        "FailingStreak": int(health.get("FailingStreak") or 0),
        "Log": [{k: r.get(k) for k in _RESULT_KEYS} for r in health.get("Log") or []],
    }


def status_of(health: dict[str, Any] | None) -> str:
    """``ps -f health=``'s value for a container: its State.Health status, or none without one."""
    return str((health or {}).get("Status") or NONE)


__all__ = [
    "DEFAULT_INTERVAL",
    "DEFAULT_RETRIES",
    "DEFAULT_START_INTERVAL",
    "DEFAULT_TIMEOUT",
    "MAX_LOG_ENTRIES",
    "MAX_OUTPUT",
    "STATUSES",
    "Settings",
    "check_healthcheck",
    "document",
    "format_go_duration",
    "kept_output",
    "merge_healthcheck",
    "next_delay",
    "ordered",
    "parse_go_duration",
    "probe_args",
    "record_result",
    "starting",
    "status_of",
    "stopped",
    "timeout_output",
]
