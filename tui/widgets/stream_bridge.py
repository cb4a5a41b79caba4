"""A container's process in the embedded terminal: a local pty whose far side is an engine's duplex stream.

The terminal widget draws whatever appears on a pty master. ``attach`` and ``exec`` give a
:class:`core.interface.DuplexStream` (a shim's socket, an exec'd process's fds, or later a remote engine's
hijacked connection), so a thread sits on the pty's slave side and copies: output frames onto the slave
(they appear on the master, in the widget), bytes typed into the widget (read from the slave) into the
stream's stdin, and the widget's size (which it sets on the pty) into resizes. When the process ends or the
stream closes, the slave is closed and the widget sees the end.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import selectors
import struct
import termios
import threading
import tty

TYPE_CHECKING = False
if TYPE_CHECKING:
    from core.interface import DuplexStream


def _winsize(fd: int) -> tuple[int, int]:
    rows, cols, _, _ = struct.unpack("HHHH", fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8))
    return rows, cols


class StreamBridge:
    """``master_fd`` goes to the terminal widget; :meth:`wait` returns the process's exit code (None if we
    detached or the stream closed without one). The bridge owns the stream and closes it when done."""

    def __init__(self, stream: DuplexStream, *, stdin: bool = True) -> None:
        self.stream = stream
        self.master_fd, self._slave = os.openpty()
        tty.setraw(self._slave)
        if not stream.tty:
            # no terminal in the container: its "\n" needs a "\r" on ours, as a real tty would add
            attrs = termios.tcgetattr(self._slave)
            attrs[1] |= termios.OPOST | termios.ONLCR
            termios.tcsetattr(self._slave, termios.TCSANOW, attrs)
        self.stdin = stdin
        self.code: int | None = None
        self.error = ""
        self._done = threading.Event()
        self._stop_r, self._stop_w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        self._thread = threading.Thread(target=self._pump, name="stream-bridge", daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        sel = selectors.DefaultSelector()
        sel.register(self.stream.fileno(), selectors.EVENT_READ, "stream")
        sel.register(self._stop_r, selectors.EVENT_READ, "stop")
        if self.stdin:
            sel.register(self._slave, selectors.EVENT_READ, "pty")
        size = (0, 0)
        try:
            while True:
                with contextlib.suppress(OSError):
                    now = _winsize(self._slave)
                    if now != size and now[0] and now[1]:
                        size = now
                        self.stream.resize(*now)
                for key, _ in sel.select(timeout=0.5):
                    if key.data == "stop":
                        return
                    if key.data == "pty":
                        data = os.read(self._slave, 65536)
                        if data:
                            self.stream.write(data)
                        continue
                    frames = self.stream.read()
                    if frames is None:
                        self.code = self.stream.exit_code
                        if self.stream.error:
                            self.error = self.stream.error
                            _write_all(self._slave, f"\r\nError: {self.error}\r\n".encode())
                        return
                    for _sid, data in frames:
                        _write_all(self._slave, data)
        except OSError:
            return
        finally:
            sel.close()
            with contextlib.suppress(OSError):
                os.close(self._slave)  # the widget reads EOF/EIO: the session is over
            self._done.set()

    def wait(self, timeout: float | None = None) -> int | None:
        self._done.wait(timeout)
        return self.code

    def ended(self, timeout: float) -> bool:
        """Whether the stream has ended, waiting up to ``timeout`` seconds for it."""
        return self._done.wait(timeout)

    def kill(self, signum: int) -> None:
        with contextlib.suppress(Exception):
            self.stream.kill(signum)

    def close(self) -> None:
        """Stop copying and let go of the stream (an attached container keeps running)."""
        with contextlib.suppress(OSError):
            os.write(self._stop_w, b"x")
        self._done.wait(5)
        for fd in (self._stop_r, self._stop_w):
            with contextlib.suppress(OSError):
                os.close(fd)
        self.stream.close()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]
