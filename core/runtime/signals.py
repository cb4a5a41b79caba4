"""Signal names as docker takes them: ``SIGTERM``, ``TERM``, ``term``, ``15``."""

from __future__ import annotations

import signal

from core.errors import InvalidArgument


def parse_signal(value: int | str) -> int:
    """The signal's number; anything else raises with docker's message (``Invalid signal: FOO``)."""
    if isinstance(value, int):
        return value
    text = value.strip().upper()
    if text.isdigit():
        num = int(text)
        if not 0 < num < signal.NSIG:
            raise InvalidArgument(f"Invalid signal: {value}")
        return num
    if not text.startswith("SIG"):
        text = "SIG" + text
    sig = getattr(signal, text, None)
    if not isinstance(sig, signal.Signals):
        raise InvalidArgument(f"Invalid signal: {value}")
    return int(sig)
