"""The local engine's stream objects: cancellable log and event followers, and the attach stream's mapping of
the shim's frame protocol onto the interface's duplex stream (the shim's side played by the test over a real
socket pair)."""

from __future__ import annotations

import json
import select
import socket
import threading
import time
from pathlib import Path

from core.config import Paths
from core.events import emit, read_events
from core.interface import STDERR, STDOUT
from core.logs import read_logs
from core.runtime import protocol
from core.streams import AttachStream, LocalEventStream, LocalLogStream


def _line(text: str, stream: str = "stdout") -> bytes:
    return (
        json.dumps({"log": text, "stream": stream, "time": "2026-12-03T10:00:00.000000000Z"}).encode() + b"\n"
    )


def _drain_in_thread(stream: object) -> tuple[threading.Thread, list[object]]:
    got: list[object] = []

    def run() -> None:
        got.extend(stream)  # type: ignore[call-overload]

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, got


def test_closing_a_following_log_stream_ends_it(tmp_path: Path) -> None:
    log = tmp_path / "c-json.log"
    log.write_bytes(_line("one\n") + _line("two\n", "stderr"))
    stream = LocalLogStream(lambda closed: read_logs(log, follow=True, stop=closed, poll=0.02))
    t, got = _drain_in_thread(stream)
    deadline = time.monotonic() + 5
    while len(got) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    with log.open("ab") as f:
        f.write(_line("three\n"))
    while len(got) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    stream.close()
    t.join(2)
    assert not t.is_alive(), "the follower did not end when its stream was closed"
    assert [(x.stream, x.text) for x in got] == [  # type: ignore[attr-defined]
        ("stdout", "one\n"),
        ("stderr", "two\n"),
        ("stdout", "three\n"),
    ]


def test_closing_an_unstarted_stream_frees_the_generator(tmp_path: Path) -> None:
    released: list[bool] = []

    def produce(closed: object) -> object:
        try:
            yield 1
        finally:
            released.append(True)

    stream = LocalLogStream(produce)  # type: ignore[arg-type]
    assert next(iter(stream)) == 1
    stream.close()
    assert released == [True]


def test_closing_a_following_event_stream_ends_it(tmp_path: Path) -> None:
    paths = Paths(tmp_path / "root", tmp_path / "run")
    stream = LocalEventStream(lambda closed: read_events(paths, since=0, follow=True, stop=closed, poll=0.02))
    t, got = _drain_in_thread(stream)
    emit(paths, "container", "start", "a" * 64, {"name": "web"})
    deadline = time.monotonic() + 5
    while not got and time.monotonic() < deadline:
        time.sleep(0.01)
    stream.close()
    t.join(2)
    assert not t.is_alive()
    assert [(e.type, e.action, e.attributes["name"]) for e in got] == [  # type: ignore[attr-defined]
        ("container", "start", "web")
    ]


def _pair(tty: bool = False) -> tuple[AttachStream, socket.socket, list[int]]:
    ours, shim = socket.socketpair()
    killed: list[int] = []
    return AttachStream(ours, tty=tty, kill=killed.append), shim, killed


def _read_ready(stream: AttachStream) -> list[tuple[int, bytes]] | None:
    assert select.select([stream], [], [], 2)[0], "the stream never became readable"
    return stream.read()


def test_attach_stream_frames_exit_and_stays_readable_at_its_end() -> None:
    stream, shim, _ = _pair()
    shim.sendall(protocol.encode(protocol.STDOUT, b"out") + protocol.encode(protocol.STDERR, b"err"))
    assert _read_ready(stream) == [(STDOUT, b"out"), (STDERR, b"err")]
    shim.sendall(protocol.encode(protocol.STDOUT, b"last") + protocol.encode_json(protocol.EXIT, {"code": 3}))
    assert _read_ready(stream) == [(STDOUT, b"last")]
    assert stream.exit_code == 3
    # the end must wake a selector even though the shim keeps its side open
    assert _read_ready(stream) is None
    stream.close()
    shim.close()


def test_attach_stream_error_frame_is_an_error_with_dockers_code() -> None:
    stream, shim, _ = _pair()
    shim.sendall(protocol.encode_json(protocol.ERROR, {"code": 127, "message": "exec: nope: not found"}))
    assert _read_ready(stream) == []
    assert (stream.exit_code, stream.error) == (127, "exec: nope: not found")
    assert _read_ready(stream) is None
    stream.close()
    shim.close()


def test_attach_stream_input_resize_and_kill_reach_the_shim() -> None:
    stream, shim, killed = _pair(tty=True)
    stream.write(b"ls\r")
    stream.resize(40, 120)
    stream.resize(0, 80)  # an unknown size is not sent
    stream.close_stdin()
    stream.kill(15)
    reader = protocol.FrameReader()
    frames: list[tuple[int, bytes]] = []
    shim.settimeout(2)
    while len(frames) < 3:
        frames += reader.feed(shim.recv(65536))
    assert frames == [
        (protocol.STDIN, b"ls\r"),
        (protocol.RESIZE, json.dumps({"rows": 40, "cols": 120}).encode()),
        (protocol.STDIN_EOF, b""),
    ]
    assert killed == [15] and stream.tty and stream.input_backlog == 0
    stream.detach()
    assert stream.read() is None
    shim.close()


def test_attach_stream_ends_when_the_shim_goes_away() -> None:
    stream, shim, _ = _pair()
    shim.close()
    assert _read_ready(stream) is None
    assert stream.exit_code is None
    stream.close()
