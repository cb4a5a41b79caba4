"""Attaching the user's terminal to a container's shim: raw mode, window size, detach keys (ctrl-p ctrl-q).

Used by ``run`` (without -d), ``start -a`` and ``attach``. The shim speaks the frame protocol of
``core.runtime.protocol``; this side copies stdin into STDIN frames and STDOUT/STDERR frames onto our own
stdout/stderr, and returns the container's exit code from the EXIT frame.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import socket
import sys
import termios
import tty
from collections.abc import Iterator

from core.errors import InvalidArgument
from core.runtime import protocol

DETACHED = -1


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
        tty.setraw(fd)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def terminal_size() -> tuple[int, int] | None:
    try:
        size = os.get_terminal_size(sys.stdout.fileno())
    except OSError:
        return None
    return size.lines, size.columns


def stream(sock: socket.socket, *, stdin: bool, tty_mode: bool, detach_keys: bytes = b"\x10\x11") -> int:
    """Pump I/O until the container exits (its exit code) or the user detaches (DETACHED)."""
    out = sys.stdout.buffer
    err = sys.stderr.buffer
    reader = protocol.FrameReader()
    # poll, not epoll: stdin may be a regular file or /dev/null (`run -i ... < script.sh`), which epoll
    # refuses (EPERM) and poll reports always readable
    sel = selectors.PollSelector()
    sock.setblocking(True)
    sel.register(sock, selectors.EVENT_READ, "sock")
    in_fd = sys.stdin.fileno() if stdin else None
    if in_fd is not None:
        sel.register(in_fd, selectors.EVENT_READ, "stdin")
    wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    sel.register(wake_r, selectors.EVENT_READ, "winch")
    old_handler = None
    if tty_mode:
        old_handler = signal.signal(signal.SIGWINCH, lambda *_: os.write(wake_w, b"w"))
        size = terminal_size()
        if size:
            sock.sendall(protocol.encode_json(protocol.RESIZE, {"rows": size[0], "cols": size[1]}))
    matched = 0
    try:
        with raw_terminal(sys.stdin.fileno(), tty_mode and stdin):
            while True:
                for key, _ in sel.select():
                    if key.data == "sock":
                        data = sock.recv(65536)
                        if not data:
                            return 0
                        for kind, payload in reader.feed(data):
                            if kind == protocol.STDOUT:
                                out.write(payload)
                                out.flush()
                            elif kind == protocol.STDERR:
                                err.write(payload)
                                err.flush()
                            elif kind == protocol.EXIT:
                                return int(json.loads(payload).get("code", 0))
                            elif kind == protocol.ERROR:
                                info = json.loads(payload)
                                err.write(f"Error: {info.get('message')}\n".encode())
                                return int(info.get("code", 125))
                    elif key.data == "stdin":
                        assert in_fd is not None
                        data = os.read(in_fd, 65536)
                        if not data:
                            sel.unregister(in_fd)
                            sock.sendall(protocol.encode(protocol.STDIN_EOF, b""))
                            continue
                        if tty_mode and detach_keys:
                            for b in data:
                                matched = (
                                    matched + 1 if b == detach_keys[matched] else int(b == detach_keys[0])
                                )
                                if matched == len(detach_keys):
                                    return DETACHED
                        sock.sendall(protocol.encode(protocol.STDIN, data))
                    elif key.data == "winch":
                        os.read(wake_r, 64)
                        size = terminal_size()
                        if size:
                            sock.sendall(
                                protocol.encode_json(protocol.RESIZE, {"rows": size[0], "cols": size[1]})
                            )
    finally:
        if old_handler is not None:
            signal.signal(signal.SIGWINCH, old_handler)
        os.close(wake_r)
        os.close(wake_w)
        sel.close()
