"""Our terminal on a container's process: ``run`` (without -d), ``start -a``, ``attach`` and ``exec``.

The engine hands back a :class:`core.interface.DuplexStream`; :func:`pump` copies our stdin into it and its
output frames onto our stdout/stderr, keeps the window size in step (SIGWINCH), honours the detach keys
(ctrl-p ctrl-q with a terminal), optionally forwards the signals we receive to the process (docker's
``--sig-proxy``: every catchable signal but the ones in :data:`NOT_FORWARDED`), and returns the process's exit
code (or :data:`DETACHED`).
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import selectors
import signal
import sys
import termios
import tty
from collections.abc import Iterator

from core.errors import InvalidArgument

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~2 ms of a start)
if TYPE_CHECKING:
    from core.interface import DuplexStream

DETACHED = -1
# docker's ForwardAllSignals skips SIGCHLD (about our own children), SIGPIPE and SIGURG (its Go runtime's);
# SIGWINCH resizes the terminal instead; SIGKILL and SIGSTOP cannot be caught. Deliberately not forwarded
# either: the synchronous fault signals, whose Python handler would return to the faulting instruction and
# spin forever if we ever really faulted, instead of crashing
NOT_FORWARDED = frozenset(
    {
        signal.SIGCHLD,
        signal.SIGPIPE,
        signal.SIGURG,
        signal.SIGWINCH,
        signal.SIGKILL,
        signal.SIGSTOP,
        signal.SIGSEGV,
        signal.SIGBUS,
        signal.SIGFPE,
        signal.SIGILL,
    }
)
FORWARDED = tuple(sorted(s for s in signal.valid_signals() if s not in NOT_FORWARDED))
# while this much of our input waits for the process to read it, we stop reading more (and keep copying its
# output, so neither side waits on the other)
INPUT_LIMIT = 256 * 1024


def parse_detach_keys(spec: str | None) -> bytes:
    """docker's --detach-keys: "ctrl-p,ctrl-q", "ctrl-a,x"; "" disables detaching."""
    if spec is None:
        return b"\x10\x11"
    out = bytearray()
    for key in filter(None, spec.split(",")):
        k = key.strip().lower()
        if k.startswith("ctrl-") and len(k) == 6 and ("a" <= k[5] <= "z" or k[5] in "@[\\]^_"):
            out.append(ord(k[5].upper()) & 0x1F)
        elif len(k) == 1:
            out.append(ord(k))
        else:
            raise InvalidArgument(f"invalid detach key {key!r}: use a letter or ctrl-<letter>")
    return bytes(out)


@contextlib.contextmanager
def raw_terminal(fd: int, enable: bool) -> Iterator[None]:
    if not enable or not os.isatty(fd):
        yield
        return
    saved = termios.tcgetattr(fd)
    try:
        # TCSANOW, not setraw's default TCSAFLUSH: what the user typed before the stream was ready (a
        # command typed ahead into `run -it ... sh`) goes to the container instead of being thrown away
        tty.setraw(fd, termios.TCSANOW)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def terminal_size() -> tuple[int, int] | None:
    """(rows, cols) of our terminal: stdout's, else stdin's (``exec -it c sh > log``)."""
    for fd in (sys.stdout.fileno(), 0):
        try:
            size = os.get_terminal_size(fd)
        except (OSError, ValueError):
            continue
        if size.lines > 0 and size.columns > 0:  # a fresh pty says 0x0: unknown
            return size.lines, size.columns
    return None


def pump(
    stream: DuplexStream,
    *,
    stdin: bool,
    tty_mode: bool,
    detach_keys: bytes = b"\x10\x11",
    forward_signals: bool = False,
) -> int:
    """Copy I/O until the process ends (its exit code) or the user detaches (DETACHED)."""
    for f in (sys.stdout, sys.stderr):  # what was printed before goes first: the rest bypasses the buffers
        f.flush()
    # poll, not epoll: stdin may be a regular file or /dev/null (`run -i ... < script.sh`), which epoll
    # refuses (EPERM) and poll reports always readable
    sel = selectors.PollSelector()
    sel.register(stream.fileno(), selectors.EVENT_READ, "stream")
    in_fd = sys.stdin.fileno() if stdin else None
    reading_input = False

    def want_input(on: bool) -> None:
        nonlocal reading_input
        if in_fd is None or on == reading_input:
            return
        if on:
            sel.register(in_fd, selectors.EVENT_READ, "stdin")
        else:
            sel.unregister(in_fd)
        reading_input = on

    want_input(True)
    wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    sel.register(wake_r, selectors.EVENT_READ, "signal")
    pending: list[int] = []

    def on_signal(signum: int, _frame: object) -> None:
        pending.append(signum)
        with contextlib.suppress(OSError):
            os.write(wake_w, b"s")

    watched = (*(FORWARDED if forward_signals else ()), *((signal.SIGWINCH,) if tty_mode else ()))
    matched = 0
    try:
        with raw_terminal(sys.stdin.fileno(), tty_mode and stdin):
            # caught only while the terminal is ours: restoring it from a background job must meet the
            # default SIGTTOU, not a handler that forwards it and lets the call start again, forever
            old = {s: signal.signal(s, on_signal) for s in watched}
            try:
                if tty_mode:
                    _resize(stream)
                while True:
                    for key, _mask in sel.select():
                        if key.data == "stream":
                            frames = stream.read()
                            if frames is None:
                                return _ended(stream)
                            for sid, data in frames:
                                _write_out(2 if sid == 2 else 1, data)
                            want_input(stream.input_backlog < INPUT_LIMIT and in_fd is not None)
                        elif key.data == "stdin":
                            assert in_fd is not None
                            data = os.read(in_fd, 65536)
                            if not data:
                                want_input(False)
                                in_fd = None
                                stream.close_stdin()
                                continue
                            if tty_mode and detach_keys:
                                for b in data:
                                    matched = (
                                        matched + 1 if b == detach_keys[matched] else int(b == detach_keys[0])
                                    )
                                    if matched == len(detach_keys):
                                        stream.detach()
                                        return DETACHED
                            stream.write(data)
                            if stream.input_backlog >= INPUT_LIMIT:
                                want_input(False)
                        elif key.data == "signal":
                            os.read(wake_r, 256)
                            while pending:
                                signum = pending.pop(0)
                                if signum == signal.SIGWINCH:
                                    _resize(stream)
                                else:
                                    _forward(stream, signum)
            finally:
                for s, h in old.items():
                    signal.signal(s, h)
    finally:
        sel.close()
        os.close(wake_r)
        os.close(wake_w)


def _forward(stream: DuplexStream, signum: int) -> None:
    """docker's sig-proxy: a signal that cannot be delivered (the process has just exited, its supervisor is
    busy) is dropped; the exit, when it comes, ends the pump as usual."""
    from core.errors import DockyardError

    with contextlib.suppress(DockyardError, OSError):
        stream.kill(signum)


def parse_bool_flag(value: str | bool, flag: str) -> bool:
    """A Go boolean flag's value (strconv.ParseBool), as ``--sig-proxy=false`` takes it."""
    if isinstance(value, bool):
        return value
    if value in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if value in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    raise InvalidArgument(
        f'invalid argument "{value}" for "{flag}" flag: strconv.ParseBool: parsing "{value}": invalid syntax'
    )


def _ended(stream: DuplexStream) -> int:
    if stream.error:
        sys.stderr.write(f"Error: {stream.error}\n")
        sys.stderr.flush()
    return stream.exit_code if stream.exit_code is not None else 0


def _resize(stream: DuplexStream) -> None:
    size = terminal_size()
    if size:
        stream.resize(*size)


def _write_out(fd: int, data: bytes) -> None:
    """Our stdout/stderr, by os.write: unbuffered, and fine when the fd is closed or non-blocking."""
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view) :]
        except BlockingIOError:
            select.select([], [fd], [], 1.0)  # our stdout is non-blocking (shared with another process)
        except OSError as err:
            if err.errno == errno.EPIPE:
                raise BrokenPipeError(err.errno, err.strerror) from None  # `exec c yes | head -1`
            if err.errno == errno.EBADF:
                return  # our stdout/stderr is closed: the output goes nowhere, like >&-
            raise
