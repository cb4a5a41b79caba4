"""One line that says what went wrong, for the command line's ``Error:`` and the workbench's notifications.

An engine error is its own message; an OSError from the system (a full disk, a quota, a read-only root)
becomes ``[verb: ]path: no space left on device``, never ``[Errno 28] ...`` nor a traceback; anything else
is its first line."""

from __future__ import annotations

import os


def os_error_message(err: OSError, verb: str | None = None) -> str:
    """``run: /var/lib/dockyard/containers/<id>/hosts: no space left on device``."""
    reason = err.strerror or str(err) or type(err).__name__
    parts = [verb] if verb else []
    if err.filename is not None:
        parts.append(os.fsdecode(err.filename))
    if err.filename2 is not None:
        parts[-1] += f" -> {os.fsdecode(err.filename2)}"
    return ": ".join([*parts, reason[:1].lower() + reason[1:]])


def one_line(err: BaseException) -> str:
    if isinstance(err, OSError) and not _is_engine_error(err):
        return os_error_message(err)
    text = str(err).strip()
    first = text.splitlines()[0] if text else ""
    return first or type(err).__name__


def _is_engine_error(err: BaseException) -> bool:
    from core.errors import DockyardError

    return isinstance(err, DockyardError)


__all__ = ["one_line", "os_error_message"]
