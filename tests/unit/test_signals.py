"""Signal names as docker takes them (``--signal``, ``--stop-signal``, STOPSIGNAL): core.runtime.signals."""

from __future__ import annotations

import signal

import pytest

from core.errors import InvalidArgument
from core.runtime.signals import parse_signal


@pytest.mark.parametrize(
    ("value", "want"),
    [
        ("SIGTERM", signal.SIGTERM),
        ("TERM", signal.SIGTERM),
        ("term", signal.SIGTERM),
        (" sigkill ", signal.SIGKILL),
        ("SIGRTMIN", signal.SIGRTMIN),
        ("15", 15),
        ("9", 9),
        (10, 10),
    ],
)
def test_names_numbers_and_any_case(value: int | str, want: int) -> None:
    assert parse_signal(value) == int(want)


@pytest.mark.parametrize(
    "value", ["", "0", str(signal.NSIG), "SIGBOGUS", "SIG_DFL", "_DFL", "DFL", "-1", "1.5"]
)
def test_what_is_not_a_signal_is_refused(value: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        parse_signal(value)
    assert str(err.value) == f"Invalid signal: {value}"  # docker's words (moby/sys/signal ParseSignal)
