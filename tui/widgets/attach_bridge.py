"""Attach in the embedded terminal: a local pty whose far side speaks the shim's frame protocol.

The terminal widget draws whatever appears on a pty master. ``attach`` gives a socket of frames
(core.runtime.protocol), so a thread sits on the pty's slave side and copies: STDOUT/STDERR frames onto the
slave (they appear on the master, in the widget), bytes typed into the widget (read from the slave) into
STDIN frames, and the widget's size (which it sets on the pty) into RESIZE frames. When the container
exits (an EXIT frame) or the socket closes, the slave is closed and the widget sees the end.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import selectors
import socket
import struct
import termios
import threading
import tty

from core.runtime import protocol


def _winsize(fd: int) -> tuple[int, int]:
    rows, cols, _, _ = struct.unpack("HHHH", fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8))
    return rows, cols


class AttachBridge:
    """``master_fd`` goes to the terminal widget; :meth:`wait` returns the container's exit code (None if
    we detached or the socket closed without one)."""

    def __init__(self, sock: socket.socket, *, tty_mode: bool, stdin: bool = True) -> None:
        self.sock = sock
        self.master_fd, self._slave = os.openpty()
        tty.setraw(self._slave)
        if not tty_mode:
            # no terminal in the container: its "\n" needs a "\r" on ours, as a real tty would add
            attrs = termios.tcgetattr(self._slave)
            attrs[1] |= termios.OPOST | termios.ONLCR
            termios.tcsetattr(self._slave, termios.TCSANOW, attrs)
        self.stdin = stdin
        self.code: int | None = None
        self.error = ""
        self._done = threading.Event()
        self._stop_r, self._stop_w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        self._thread = threading.Thread(target=self._pump, name="attach-bridge", daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        reader = protocol.FrameReader()
        sel = selectors.DefaultSelector()
        sel.register(self.sock, selectors.EVENT_READ, "sock")
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
                        self.sock.sendall(
                            protocol.encode_json(protocol.RESIZE, {"rows": now[0], "cols": now[1]})
                        )
                for key, _ in sel.select(timeout=0.5):
                    if key.data == "stop":
                        return
                    if key.data == "pty":
                        data = os.read(self._slave, 65536)
                        if data:
                            self.sock.sendall(protocol.encode(protocol.STDIN, data))
                        continue
                    data = self.sock.recv(65536)
                    if not data:
                        return
                    for kind, payload in reader.feed(data):
                        if kind in (protocol.STDOUT, protocol.STDERR):
                            _write_all(self._slave, payload)
                        elif kind == protocol.EXIT:
                            self.code = int(json.loads(payload).get("code", 0))
                            return
                        elif kind == protocol.ERROR:
                            info = json.loads(payload)
                            self.error = str(info.get("message", ""))
                            self.code = int(info.get("code", 125))
                            _write_all(self._slave, f"\r\nError: {self.error}\r\n".encode())
                            return
        except OSError:
            return
        finally:
            sel.close()
            with contextlib.suppress(OSError):
                self.sock.close()
            with contextlib.suppress(OSError):
                os.close(self._slave)  # the widget reads EOF/EIO: the session is over
            self._done.set()

    def wait(self) -> int | None:
        self._done.wait()
        return self.code

    def close(self) -> None:
        """Detach: stop copying (the container keeps running)."""
        with contextlib.suppress(OSError):
            os.write(self._stop_w, b"x")
        self._done.wait(5)
        for fd in (self._stop_r, self._stop_w):
            with contextlib.suppress(OSError):
                os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]
