"""Signal names as docker takes them: ``SIGTERM``, ``TERM``, ``term``, ``15``."""

from __future__ import annotations

import signal

from core.errors import InvalidArgument


def parse_signal(value: int | str) -> int:
    if isinstance(value, int):
        return value
    text = value.strip().upper()
    if text.isdigit():
        num = int(text)
        if not 0 < num < signal.NSIG:
            raise InvalidArgument(f"invalid signal: {value}")
        return num
    if not text.startswith("SIG"):
        text = "SIG" + text
    sig = getattr(signal, text, None)
    if not isinstance(sig, signal.Signals):
        raise InvalidArgument(f"invalid signal: {value}")
    return int(sig)
