"""A hijacked connection (attach, exec start) pumped to and from a :class:`core.interface.DuplexStream`:
output as raw bytes with a terminal or Docker's 8-byte multiplexed frames without; the client's bytes to
the process's stdin, its half-close as the end of input; the detach keys (with a terminal) let go of the
process. A client that goes away detaches: the process goes on, as with dockerd."""

from __future__ import annotations

import contextlib
import selectors
import socket
import ssl
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from api.http import ApiError, frame

if TYPE_CHECKING:
    from core.interface import DuplexStream

DEFAULT_DETACH_KEYS = "ctrl-p,ctrl-q"
MAX_INPUT_BACKLOG = 4 << 20  # stop reading the client while this much input waits for the process


def parse_detach_keys(text: str) -> bytes:
    """Docker's ``detachKeys``: comma-separated ``ctrl-<x>`` or single characters."""
    out = bytearray()
    for key in text.split(","):
        key = key.strip()
        if len(key) == 1:
            out.append(ord(key))
        elif key.lower().startswith("ctrl-") and len(key) == 6:
            c = key[5].lower()
            codes = {"@": 0, "[": 27, "\\": 28, "]": 29, "^": 30, "_": 31}
            if "a" <= c <= "z":
                out.append(ord(c) - ord("a") + 1)
            elif c in codes:
                out.append(codes[c])
            else:
                raise ApiError(400, f"invalid detach keys {text!r}: unknown key {key!r}")
        else:
            raise ApiError(400, f"invalid detach keys {text!r}: unknown key {key!r}")
    if not out:
        raise ApiError(400, f"invalid detach keys {text!r}")
    return bytes(out)


class _DetachMatcher:
    """Finds the detach sequence in the input; bytes that may begin it are held until it is decided."""

    def __init__(self, keys: bytes) -> None:
        self.keys = keys
        self.held = b""

    def feed(self, data: bytes) -> tuple[bytes, bool]:
        out = bytearray()
        for b in data:
            candidate = self.held + bytes((b,))
            if self.keys.startswith(candidate):
                self.held = candidate
                if candidate == self.keys:
                    return bytes(out), True
                continue
            out += self.held  # what looked like the start of the sequence was not
            self.held = b""
            if self.keys.startswith(bytes((b,))):
                self.held = bytes((b,))
            else:
                out.append(b)
        return bytes(out), False


def pump(
    sock: socket.socket,
    stream: DuplexStream,
    *,
    stdin: bool,
    early: bytes = b"",
    input_eof: bool = False,
    detach_keys: bytes | None = None,
    stdout: bool = True,
    stderr: bool = True,
) -> None:
    """Run the session until the process ends, the client detaches or goes away; closes the socket."""
    matcher = _DetachMatcher(detach_keys) if detach_keys and stream.tty and stdin else None
    sel = selectors.DefaultSelector()
    sel.register(stream.fileno(), selectors.EVENT_READ, "out")
    reading = not input_eof
    paused = False
    if reading:
        sel.register(sock, selectors.EVENT_READ, "in")
    detached = False

    def take_input(data: bytes) -> bool:
        """False once the detach keys were typed."""
        if not stdin:
            return True
        if matcher is not None:
            data, hit = matcher.feed(data)
            if data:
                stream.write(data)
            return not hit
        stream.write(data)
        return True

    try:
        if early and not take_input(early):
            detached = True
            return
        if input_eof and stdin and not stream.tty:
            stream.close_stdin()
        while True:
            pending_tls = isinstance(sock, ssl.SSLSocket) and reading and not paused and sock.pending()
            events = sel.select(0 if pending_tls else (0.05 if paused else (None if reading else 1.0)))
            if not reading and _hung_up(sock):
                detached = True  # the client closed both ways (not just its input): it is gone
                return
            if pending_tls and not any(key.data == "in" for key, _ in events):
                events.append((sel.get_key(sock), selectors.EVENT_READ))
            if paused and stream.input_backlog < MAX_INPUT_BACKLOG // 2:
                sel.register(sock, selectors.EVENT_READ, "in")
                paused = False
            for key, _mask in events:
                if key.data == "out":
                    frames = stream.read()
                    if frames is None:
                        return  # the process ended (its exit code is on the stream)
                    for sid, data in frames:
                        if (sid == 1 and not stdout) or (sid == 2 and not stderr):
                            continue
                        try:
                            sock.sendall(data if stream.tty else frame(sid, data))
                        except OSError:
                            detached = True  # the client went away: the process goes on
                            return
                else:
                    try:
                        data = sock.recv(65536)
                    except (BlockingIOError, InterruptedError, ssl.SSLWantReadError):
                        continue
                    except OSError:
                        data = b""
                    if not data:
                        # half-close: the end of the input; the output goes on until the process ends.
                        # With a terminal it is no end of input (that would type ^D): the docker CLI
                        # closes so when it detaches, and the process must go on, as with dockerd
                        sel.unregister(sock)
                        reading = False
                        if stdin and not stream.tty:
                            stream.close_stdin()
                        continue
                    if not take_input(data):
                        detached = True
                        return
                    if stream.input_backlog > MAX_INPUT_BACKLOG:
                        sel.unregister(sock)
                        paused = True
    finally:
        sel.close()
        if detached:
            with contextlib.suppress(Exception):
                stream.detach()
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            sock.close()


def _hung_up(sock: socket.socket) -> bool:
    """The peer has closed the connection altogether (a unix socket says so; TCP only once we write)."""
    import select

    poller = select.poll()
    poller.register(sock, 0)
    return any(ev & (select.POLLHUP | select.POLLERR) for _, ev in poller.poll(0))


def buffer_until(
    sock: socket.socket, ready: threading.Event, early: bytes, elsewhere: Callable[[], bool]
) -> tuple[bytes, bool, bool]:
    """While an attach waits for its container's start, take what the client sends (the docker CLI sends
    its stdin, and half-closes, at once). Ends when ``ready`` is set, or when ``elsewhere()`` (asked about
    twice a second) says the container was started by someone else. Returns (input, input ended, client
    gone)."""
    data = bytearray(early)
    eof = False
    next_look = time.monotonic() + 0.5
    while not ready.is_set():
        if time.monotonic() >= next_look:
            if elsewhere():
                break
            next_look = time.monotonic() + 0.5
        if eof:
            if _hung_up(sock):
                return bytes(data), True, True
            ready.wait(0.5)
            continue
        sel = selectors.DefaultSelector()
        try:
            sel.register(sock, selectors.EVENT_READ)
            if not sel.select(0.05):
                continue
        finally:
            sel.close()
        try:
            chunk = sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            continue
        except OSError:
            return bytes(data), True, True
        if not chunk:
            eof = True
        else:
            data += chunk
            if len(data) > MAX_INPUT_BACKLOG:
                ready.wait()
    return bytes(data), eof, False
