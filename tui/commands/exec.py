"""``dockyard exec`` (and ``container exec``): run a command in a running container, docker's flags.

The Engine starts the process and hands back an ExecHandle: a pty master with ``-t``, pipes without. This
side copies our stdin to it (``-i``) and its output to our stdout/stderr, keeps the window size in step
(SIGWINCH), forwards SIGINT/SIGTERM/SIGHUP/SIGQUIT to the process, honours the detach keys (ctrl-p ctrl-q
with ``-it``), and exits with the command's exit code.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import select
import selectors
import signal
from typing import Any

from tui.cli import CLIError, make_engine

_FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)
_DRAIN_AFTER_EXIT = 1.0  # seconds to keep reading output another process in the container still holds


def register(sub: Any) -> None:
    _add_parser(sub)
    group = sub.choices.get("container")
    if group is not None:  # `dockyard container exec`, when the container group is being built
        for action in group._actions:
            if isinstance(action, argparse._SubParsersAction):
                _add_parser(action)


def _add_parser(sub: Any) -> None:
    p = sub.add_parser("exec", help="Execute a command in a running container")
    a = p.add_argument
    a("-d", "--detach", action="store_true", help="run the command in the background")
    a("--detach-keys", default=None, help="key sequence to detach (default ctrl-p,ctrl-q)")
    a("-e", "--env", action="append", default=[], help="set an environment variable (K=V or K)")
    a("--env-file", action="append", default=[], help="read environment variables from a file")
    a("-i", "--interactive", action="store_true", help="keep STDIN open")
    a("--privileged", action="store_true", help="give the command every capability")
    a("-t", "--tty", action="store_true", help="allocate a pseudo-TTY")
    a("-u", "--user", help="user[:group] or uid[:gid]")
    a("-w", "--workdir", help="working directory inside the container")
    a("container", metavar="CONTAINER")
    a("command", nargs=argparse.REMAINDER, metavar="COMMAND [ARG...]")
    p.set_defaults(func=cmd_exec)


def cmd_exec(args: argparse.Namespace) -> int:
    from tui.attach import parse_detach_keys
    from tui.runflags import parse_env_file

    if not args.command:
        raise CLIError('"exec" requires at least 2 arguments: CONTAINER COMMAND [ARG...]')
    if args.interactive and args.tty and not args.detach and not os.isatty(0):
        raise CLIError("the input device is not a TTY")
    detach_keys = parse_detach_keys(args.detach_keys)
    env = []
    for path in args.env_file:
        env += parse_env_file(path)
    env += args.env
    engine = make_engine(args)
    handle = engine.exec(
        args.container,
        list(args.command),
        env=env,
        user=args.user,
        workdir=args.workdir,
        tty=args.tty,
        stdin=args.interactive,
        detach=args.detach,
        privileged=args.privileged,
        tty_size=_terminal_size() if args.tty else None,
    )
    with handle:
        if args.detach:
            return 0
        return pump(handle, stdin=args.interactive, tty=args.tty, detach_keys=detach_keys)


def pump(handle: Any, *, stdin: bool, tty: bool, detach_keys: bytes) -> int:
    """Copy I/O between our stdio and the exec'd process until it exits; its exit code (0 on detach)."""
    from tui.attach import raw_terminal

    # the process's fd -> ours it goes to, by os.write: unbuffered, and fine when fd 1 is closed
    out: dict[int, int] = {handle.master_fd: 1} if tty else {handle.stdout: 1, handle.stderr: 2}
    # poll, not epoll: stdin may be a regular file or /dev/null (`exec -i ... < script.sh`), which epoll
    # refuses (EPERM) and poll reports always readable
    sel = selectors.PollSelector()
    for fd in out:
        sel.register(fd, selectors.EVENT_READ, "out")
    sel.register(handle.exit_fd, selectors.EVENT_READ, "exit")
    feeder = _Feeder(sel, handle, tty) if stdin else None
    wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    sel.register(wake_r, selectors.EVENT_READ, "signal")
    pending: list[int] = []

    def on_signal(signum: int, _frame: object) -> None:
        pending.append(signum)
        with contextlib.suppress(OSError):
            os.write(wake_w, b"s")

    watched = (*_FORWARDED, signal.SIGWINCH) if tty else _FORWARDED
    old = {s: signal.signal(s, on_signal) for s in watched}
    matched = 0
    try:
        with raw_terminal(0, tty and stdin):
            while True:
                for key, _mask in sel.select():
                    if key.data == "out":
                        if not _copy_out(key.fd, out[key.fd]):
                            sel.unregister(key.fd)
                            del out[key.fd]
                    elif key.data == "in":
                        assert feeder is not None
                        data = feeder.read()
                        if tty and detach_keys:
                            for b in data:
                                matched = (
                                    matched + 1 if b == detach_keys[matched] else int(b == detach_keys[0])
                                )
                                if matched == len(detach_keys):
                                    handle.detach()
                                    return 0
                        feeder.push(data)
                    elif key.data == "to_process":
                        assert feeder is not None
                        feeder.flush()
                    elif key.data == "signal":
                        os.read(wake_r, 256)
                        while pending:
                            signum = pending.pop(0)
                            if signum == signal.SIGWINCH:
                                _resize(handle)
                            else:
                                handle.kill(signum)
                    elif key.data == "exit":
                        _drain(out)
                        return int(handle.wait())
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        if feeder is not None:
            feeder.close()
        sel.close()
        os.close(wake_r)
        os.close(wake_w)


def _resize(handle: Any) -> None:
    size = _terminal_size()
    if size:
        handle.resize(*size)


def _terminal_size() -> tuple[int, int] | None:
    """(rows, cols) of our terminal: stdout's, else stdin's (``exec -it c sh > log``)."""
    for fd in (1, 0):
        try:
            size = os.get_terminal_size(fd)
        except OSError:
            continue
        if size.lines > 0 and size.columns > 0:  # a fresh pty says 0x0: unknown
            return size.lines, size.columns
    return None


class _Feeder:
    """Our stdin to the process, never blocking: while the process does not read, we stop reading (and keep
    copying its output, so neither side waits on the other)."""

    LIMIT = 256 * 1024

    def __init__(self, sel: selectors.BaseSelector, handle: Any, tty: bool) -> None:
        self.sel = sel
        self.handle = handle
        self.tty = tty
        self.in_fd: int | None = 0
        # a dup of our end, non-blocking, so it can sit in the selector beside the master's read side
        target = handle.master_fd if tty else handle.stdin
        self.fd: int | None = os.dup(target)
        os.set_blocking(self.fd, False)
        self.buf = bytearray()
        self.eof = False
        sel.register(self.in_fd, selectors.EVENT_READ, "in")

    def read(self) -> bytes:
        assert self.in_fd is not None
        data = os.read(self.in_fd, 65536)
        if not data:
            self.sel.unregister(self.in_fd)
            self.in_fd = None
            self.eof = True
            self._maybe_close()
        return data

    def push(self, data: bytes) -> None:
        if data and self.fd is not None:
            self.buf += data
            self.flush()

    def flush(self) -> None:
        if self.fd is None:
            return
        while self.buf:
            try:
                n = os.write(self.fd, self.buf)
            except BlockingIOError:
                break
            except OSError:  # the process closed its stdin (EPIPE) or the terminal is gone (EIO)
                self.buf.clear()
                break
            del self.buf[:n]
        self._update()
        self._maybe_close()

    def _update(self) -> None:
        waiting = bool(self.buf)
        with contextlib.suppress(KeyError):
            self.sel.unregister(self.fd)  # type: ignore[arg-type]
        if waiting:
            self.sel.register(self.fd, selectors.EVENT_WRITE, "to_process")  # type: ignore[arg-type]
        if self.in_fd is not None:
            registered = self.in_fd in self.sel.get_map()
            if len(self.buf) >= self.LIMIT and registered:
                self.sel.unregister(self.in_fd)
            elif len(self.buf) < self.LIMIT and not registered:
                self.sel.register(self.in_fd, selectors.EVENT_READ, "in")

    def _maybe_close(self) -> None:
        if self.eof and not self.buf and self.fd is not None:
            with contextlib.suppress(KeyError):
                self.sel.unregister(self.fd)
            os.close(self.fd)
            self.fd = None
            if not self.tty:
                self.handle.close_stdin()  # EOF for the process, as with docker exec -i

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def _copy_out(fd: int, dest: int) -> bool:
    try:
        data = os.read(fd, 65536)
    except BlockingIOError:
        return True  # the terminal is non-blocking while we feed it: nothing yet
    except OSError as err:
        if err.errno != errno.EIO:  # EIO: the terminal's last slave closed
            raise
        data = b""
    if not data:
        return False
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(dest, view) :]
        except BlockingIOError:
            select.select([], [dest], [], 1.0)  # our stdout is non-blocking (shared with another process)
        except OSError as err:
            if err.errno == errno.EPIPE:
                raise BrokenPipeError(err.errno, err.strerror) from None  # `exec c yes | head -1`
            if err.errno == errno.EBADF:
                return True  # our stdout/stderr is closed: the output goes nowhere, like >&-
            raise
    return True


def _drain(out: dict[int, int]) -> None:
    """The process has exited: take what is left in its pipes/terminal without waiting on a straggler that
    still holds them (a background process in the container)."""
    import time

    deadline = time.monotonic() + _DRAIN_AFTER_EXIT
    sel = selectors.DefaultSelector()
    for fd in out:
        sel.register(fd, selectors.EVENT_READ)
    try:
        while out and time.monotonic() < deadline:
            ready = sel.select(max(0.0, min(0.05, deadline - time.monotonic())))
            if not ready:
                break  # nothing buffered: whatever still holds the pipe is not the exited process
            for key, _mask in ready:
                if not _copy_out(key.fd, out[key.fd]):
                    sel.unregister(key.fd)
                    del out[key.fd]
    finally:
        sel.close()


def _write_all(fd: int | None, data: bytes) -> None:
    if fd is None:
        return
    view = memoryview(data)
    while view:
        try:
            n = os.write(fd, view)
        except BrokenPipeError:
            return  # the process closed its stdin
        view = view[n:]
