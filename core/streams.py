"""The local engine's stream objects (see :mod:`core.interface`): logs, events and stats as cancellable
iterators; attach over the shim's socket and exec over the process's own fds as duplex streams."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import select
import socket
import time

from core.interface import STDERR, STDOUT, DuplexStream, EventStream, LogStream, StatsStream
from core.runtime import protocol

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~2 ms of a start)
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import Any

    from core.runtime.exec import ExecHandle

    Stop = Callable[[], bool]

# after an exec'd process exits, what is left in its pipes is taken for at most this long: a background
# process of the container may hold them open for ever
DRAIN_AFTER_EXIT = 1.0


class _Cancellable:
    """An iterator made by ``produce(stop)``; :meth:`close` makes ``stop()`` true, so a follower ends at its
    next check, and closes the generator, so whatever it holds is released."""

    def __init__(self, produce: Callable[[Stop], Iterator[Any]]) -> None:
        import threading  # not at module level: `run` imports this module, and needs no threads

        self._closed = threading.Event()
        self._it = produce(self._closed.is_set)

    def __iter__(self) -> Iterator[Any]:
        return self._it

    def close(self) -> None:
        self._closed.set()
        # a generator running in another thread cannot be closed from here ("generator already
        # executing"): it sees stop() at its next check and ends by itself
        close = getattr(self._it, "close", None)  # a generator's: runs its finally blocks now
        if close is not None:
            with contextlib.suppress(ValueError):
                close()


class LocalLogStream(_Cancellable, LogStream):
    pass


class LocalEventStream(_Cancellable, EventStream):
    pass


class LocalStatsStream(_Cancellable, StatsStream):
    pass


# ================================================================================================ attach ====


class AttachStream(DuplexStream):
    """A connection to a container's shim (``core.runtime.protocol`` frames)."""

    def __init__(self, sock: socket.socket, *, tty: bool, kill: Callable[[int], None]) -> None:
        self.tty = tty
        self._sock: socket.socket | None = sock
        self._kill = kill
        self._reader = protocol.FrameReader()
        self._ended = False

    def fileno(self) -> int:
        if self._sock is None:
            raise ValueError("the attach stream is closed")
        return self._sock.fileno()

    def read(self) -> list[tuple[int, bytes]] | None:
        if self._ended or self._sock is None:
            return None
        try:
            data = self._sock.recv(65536)
        except OSError:
            data = b""
        if not data:
            self._end()
            return None
        frames: list[tuple[int, bytes]] = []
        for kind, payload in self._reader.feed(data):
            if kind in (protocol.STDOUT, protocol.STDERR):
                frames.append((STDOUT if kind == protocol.STDOUT else STDERR, payload))
            elif kind == protocol.EXIT:
                self.exit_code = int(json.loads(payload).get("code", 0))
                self._end()
                break
            elif kind == protocol.ERROR:
                info = json.loads(payload)
                self.error = str(info.get("message", "")) or "the container could not start"
                self.exit_code = int(info.get("code", 125))
                self._end()
                break
        return frames

    def _send(self, frame: bytes) -> None:
        if self._sock is not None and not self._ended:
            with contextlib.suppress(OSError):  # the shim is gone: the next read says so
                self._sock.sendall(frame)

    def write(self, data: bytes) -> None:
        # the shim takes input as fast as it comes (it queues for the container): no backlog on our side
        if data:
            self._send(protocol.encode(protocol.STDIN, data))

    @property
    def input_backlog(self) -> int:
        return 0

    def close_stdin(self) -> None:
        self._send(protocol.encode(protocol.STDIN_EOF, b""))

    def resize(self, rows: int, cols: int) -> None:
        if rows > 0 and cols > 0:
            self._send(protocol.encode_json(protocol.RESIZE, {"rows": rows, "cols": cols}))

    def kill(self, signum: int) -> None:
        self._kill(signum)

    def detach(self) -> None:
        self.close()

    def _end(self) -> None:
        self._ended = True
        if self._sock is not None:
            # the socket reads EOF from now on, so a selector wakes the caller to see the end
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RD)

    def close(self) -> None:
        self._ended = True
        sock, self._sock = self._sock, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.close()


# ================================================================================================== exec ====


class ExecStream(DuplexStream):
    """An exec'd process's terminal (or stdout and stderr pipes), its stdin and its exit, behind one epoll
    fd. Input is written without blocking: while the process does not read, it waits in a buffer (and the
    caller sees :attr:`input_backlog` grow), so neither side ever waits on the other."""

    def __init__(self, handle: ExecHandle, *, tty: bool, stdin: bool, detach: bool) -> None:
        self.tty = tty
        self._handle = handle
        self._ended = detach
        self._epoll = select.epoll()
        self._outs: dict[int, int] = {}
        self._in_fd: int | None = None
        self._in_buf = bytearray()
        self._in_eof = False
        # written once the stream has ended, so the epoll stays readable and a caller's selector wakes it
        # to read the end (the process's own fds are gone by then)
        self._end_r, self._end_w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        self._epoll.register(self._end_r, select.EPOLLIN)
        if detach:
            handle.close()  # the process goes on by itself
            self._set_ended()
            return
        if tty:
            assert handle.master_fd is not None
            self._outs[handle.master_fd] = STDOUT
        else:
            for fd, sid in ((handle.stdout, STDOUT), (handle.stderr, STDERR)):
                if fd is not None:
                    self._outs[fd] = sid
        for fd in self._outs:
            self._epoll.register(fd, select.EPOLLIN)
        self._exit_fd = handle.exit_fd
        self._epoll.register(self._exit_fd, select.EPOLLIN)
        if stdin:
            # a dup of our end, non-blocking, so it can wait in the epoll for room beside the output fds
            target = handle.master_fd if tty else handle.stdin
            if target is not None:
                self._in_fd = os.dup(target)
                os.set_blocking(self._in_fd, False)

    def fileno(self) -> int:
        return self._epoll.fileno()

    def read(self) -> list[tuple[int, bytes]] | None:
        if self._ended:
            return None
        frames: list[tuple[int, bytes]] = []
        exited = False
        for fd, _mask in self._epoll.poll(0):
            if fd == self._in_fd:
                self._flush()
            elif fd == self._exit_fd:
                exited = True
            elif fd in self._outs:
                data = self._read_out(fd)
                if data:
                    frames.append((self._outs[fd], data))
        if exited:
            frames += self._drain()
            self.exit_code = self._handle.wait()
            self._set_ended()
            return frames or None
        return frames

    def _set_ended(self) -> None:
        self._ended = True
        with contextlib.suppress(OSError):
            os.write(self._end_w, b"x")

    def _read_out(self, fd: int) -> bytes:
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return b""  # the terminal is shared with our non-blocking input dup: nothing yet
        except OSError as err:
            if err.errno != errno.EIO:  # EIO: the terminal's last slave closed
                raise
            data = b""
        if not data:
            self._epoll.unregister(fd)
            del self._outs[fd]
        return data

    def _drain(self) -> list[tuple[int, bytes]]:
        """The process has exited: take what is left in its pipes/terminal without waiting on a
        straggler that still holds them (a background process in the container)."""
        frames: list[tuple[int, bytes]] = []
        deadline = time.monotonic() + DRAIN_AFTER_EXIT
        with contextlib.suppress(KeyError, OSError):
            self._epoll.unregister(self._exit_fd)
        if self._in_fd is not None:
            with contextlib.suppress(KeyError, OSError):
                self._epoll.unregister(self._in_fd)
        while self._outs and time.monotonic() < deadline:
            ready = self._epoll.poll(max(0.0, min(0.05, deadline - time.monotonic())))
            if not ready:
                break  # nothing buffered: whatever still holds the pipe is not the exited process
            for fd, _mask in ready:
                if fd in self._outs:
                    sid = self._outs[fd]
                    data = self._read_out(fd)
                    if data:
                        frames.append((sid, data))
        return frames

    def write(self, data: bytes) -> None:
        if data and self._in_fd is not None and not self._in_eof:
            self._in_buf += data
            self._flush()

    @property
    def input_backlog(self) -> int:
        return len(self._in_buf)

    def _flush(self) -> None:
        if self._in_fd is None:
            return
        while self._in_buf:
            try:
                n = os.write(self._in_fd, self._in_buf)
            except BlockingIOError:
                break
            except OSError:  # the process closed its stdin (EPIPE) or the terminal is gone (EIO)
                self._in_buf.clear()
                break
            del self._in_buf[:n]
        self._watch_input()
        if self._in_eof and not self._in_buf:
            self._finish_input()

    def _watch_input(self) -> None:
        """Wait in the epoll for room in the process's stdin only while there is something to write."""
        assert self._in_fd is not None
        with contextlib.suppress(FileNotFoundError, OSError):
            self._epoll.unregister(self._in_fd)
        if self._in_buf and not self._ended:
            self._epoll.register(self._in_fd, select.EPOLLOUT)

    def close_stdin(self) -> None:
        self._in_eof = True
        if not self._in_buf:
            self._finish_input()

    def _finish_input(self) -> None:
        if self._in_fd is None:
            return
        with contextlib.suppress(FileNotFoundError, OSError):
            self._epoll.unregister(self._in_fd)
        os.close(self._in_fd)
        self._in_fd = None
        if not self.tty:
            self._handle.close_stdin()  # EOF for the process, as with docker exec -i

    def resize(self, rows: int, cols: int) -> None:
        self._handle.resize(rows, cols)

    def kill(self, signum: int) -> None:
        self._handle.kill(signum)

    def wait(self, timeout: float | None = None) -> int:
        """Block until the process exits (TimeoutError after ``timeout``); its exit code."""
        code = self._handle.wait(timeout)
        self.exit_code = code
        return code

    def detach(self) -> None:
        self._set_ended()
        self._handle.detach()

    def close(self) -> None:
        self._set_ended()
        for fd in (self._end_r, self._end_w):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._end_r = self._end_w = -1
        if self._in_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._in_fd)
            self._in_fd = None
        self._handle.close()
        with contextlib.suppress(OSError):
            self._epoll.close()
