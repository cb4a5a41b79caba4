"""The shim reads a client's request line and its fds, and not a byte more: an attach client's first input
(sent right behind its request, before the container has started) must stay in the socket until the
container can take it."""

from __future__ import annotations

import os
import socket
import threading
import time

import pytest

from core.runtime import protocol
from core.supervisor.shim import MAX_REQUEST, _read_request_line


def test_the_line_and_its_fds_and_nothing_after_them() -> None:
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    r, w = os.pipe()
    with ours, theirs:
        first = protocol.encode(protocol.STDIN, b"typed ahead")
        socket.send_fds(theirs, [b'{"op": "exec"}\n' + first], [r, w])
        theirs.sendall(protocol.encode(protocol.STDIN_EOF, b""))
        line, fds = _read_request_line(ours)
        assert line == b'{"op": "exec"}' and len(fds) == 2
        assert all(not os.get_inheritable(fd) for fd in fds)
        os.write(fds[1], b"x")
        assert os.read(r, 1) == b"x"  # the pipe itself came across
        for fd in (*fds, r, w):
            os.close(fd)
        rest = ours.recv(4096)
        assert rest.startswith(first)  # still there for the frame reader


def test_a_line_in_pieces_is_waited_for() -> None:
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    ours.settimeout(5)
    line = b'{"op": "attach", "pad": "' + b"p" * 100_000 + b'"}'

    def send() -> None:
        theirs.sendall(line[:10])
        time.sleep(0.05)
        theirs.sendall(line[10:70_000])
        time.sleep(0.05)
        theirs.sendall(line[70_000:] + b"\nafter")

    sender = threading.Thread(target=send)
    sender.start()
    with ours, theirs:
        got, fds = _read_request_line(ours)
        sender.join()
        assert got == line and fds == []
        assert ours.recv(100) == b"after"


def test_no_line_is_an_error() -> None:
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with ours:
        theirs.sendall(b'{"op": "att')
        theirs.close()
        with pytest.raises(ValueError):
            _read_request_line(ours)
    assert MAX_REQUEST >= 1 << 16
