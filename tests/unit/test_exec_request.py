"""The caller's side of an exec request (``core.runtime.exec.spawn``) against a stand-in supervisor on a real
unix socket: what the caller makes of each answer a shim can give, and what the shim sees of the caller."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from core.errors import CommandNotFound, Conflict, RuntimeFailure
from core.runtime import protocol
from core.runtime.exec import spawn
from core.runtime.spec import ProcessSpec

Serve = Callable[[socket.socket, dict[str, object], dict[str, int]], None]


@contextmanager
def supervisor(tmp_path: Path, serve: Serve) -> Iterator[Path]:
    """A socket that takes one request the way the shim does (a JSON line, its fds named by ``fds``) and
    hands it to ``serve``."""
    path = tmp_path / "shim.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(1)
    failures: list[BaseException] = []

    def run() -> None:
        conn, _ = listener.accept()
        with conn:
            data, fds, _flags, _addr = socket.recv_fds(conn, 1 << 20, 8)
            request = json.loads(data.partition(b"\n")[0])
            named = dict(zip(request["fds"], fds, strict=True))
            try:
                serve(conn, request, named)
            except BaseException as err:  # reported by the test
                failures.append(err)
            finally:
                for fd in named.values():
                    os.close(fd)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield path
    finally:
        thread.join(10)
        listener.close()
        if failures:
            raise failures[0]


def _send(fd: int, message: dict[str, object], fds: list[int] | None = None) -> None:
    sock = socket.socket(fileno=os.dup(fd))
    with sock:
        socket.send_fds(sock, [json.dumps(message).encode()], fds or [])


def _report_pid(sync: int, pid: int) -> None:
    """What the shim says once it has forked the process: its pid, with a pidfd."""
    pidfd = os.pidfd_open(pid)
    try:
        _send(sync, {"type": "pid", "pid": pid}, [pidfd])
    finally:
        os.close(pidfd)


def test_no_supervisor_means_the_container_is_not_running(tmp_path: Path) -> None:
    with pytest.raises(Conflict, match="container box is not running"):
        spawn("box", tmp_path / "missing.sock", ProcessSpec(["true"]))


def test_a_supervisor_that_does_not_know_exec_says_to_restart_the_container(tmp_path: Path) -> None:
    def old_shim(conn: socket.socket, request: dict[str, object], fds: dict[str, int]) -> None:
        conn.sendall(protocol.encode_json(protocol.REPLY, {"ok": False, "error": "unknown request 'exec'"}))

    with supervisor(tmp_path, old_shim) as path, pytest.raises(RuntimeFailure, match="restart it"):
        spawn("box", path, ProcessSpec(["true"]))


def test_the_request_names_its_fds_and_carries_the_process_without_a_profile(tmp_path: Path) -> None:
    seen: dict[str, object] = {}

    def shim(conn: socket.socket, request: dict[str, object], fds: dict[str, int]) -> None:
        seen.update(request)
        _send(fds["sync"], {"type": "error", "code": 127, "message": "exec nosuch: not found"})

    process = ProcessSpec(["nosuch", "arg"], env=["A=1"], seccomp="default")
    with supervisor(tmp_path, shim) as path, pytest.raises(CommandNotFound, match="not found"):
        spawn("box", path, process, stdin=True, status_path=tmp_path / "exit")
    assert seen["op"] == "exec"
    assert seen["fds"] == ["sync", "stdin", "stdout", "stderr", "status"]
    sent = seen["process"]
    assert isinstance(sent, dict)
    assert sent["args"] == ["nosuch", "arg"] and sent["env"] == ["A=1"]
    assert sent["seccomp"] is None  # the shim loads the container's own filter, never one sent to it
    assert (tmp_path / "exit").exists()  # made before the start: an exec store tells started ones by it


def test_exit_code_detach_and_a_supervisor_that_goes_away(tmp_path: Path) -> None:
    sleeper = subprocess.Popen(["sleep", "30"])
    heard_eof = threading.Event()

    def shim(conn: socket.socket, request: dict[str, object], fds: dict[str, int]) -> None:
        _report_pid(fds["sync"], sleeper.pid)
        os.close(fds.pop("sync"))  # EOF: exec'd
        if conn.recv(1) == b"":  # the caller detached: a half-close, the connection stays
            heard_eof.set()
        conn.sendall(protocol.encode_json(protocol.EXIT, {"code": 3}))

    try:
        with supervisor(tmp_path, shim) as path:
            handle = spawn("box", path, ProcessSpec(["sleep"]))
            assert handle.pid == sleeper.pid and handle.stdout is not None
            handle.detach()
            assert handle.stdout is None
            assert handle.wait(timeout=10) == 3
            assert heard_eof.is_set()
            handle.close()

        def vanishing(conn: socket.socket, request: dict[str, object], fds: dict[str, int]) -> None:
            _report_pid(fds["sync"], sleeper.pid)

        (tmp_path / "shim.sock").unlink()
        with supervisor(tmp_path, vanishing) as path:
            handle = spawn("box", path, ProcessSpec(["sleep"]))
        # the supervisor closed without an exit: as if killed, and the process with it
        assert handle.wait(timeout=10) == 128 + signal.SIGKILL
        handle.kill(signal.SIGTERM)  # through the pidfd: the right process, however late
        assert sleeper.wait(10) == -signal.SIGTERM
        handle.close()
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_container_found_not_running_by_its_supervisor_is_a_conflict(tmp_path: Path) -> None:
    def shim(conn: socket.socket, request: dict[str, object], fds: dict[str, int]) -> None:
        refusal = {"type": "error", "code": 125, "message": "container box is not running", "conflict": True}
        _send(fds["sync"], refusal)

    with supervisor(tmp_path, shim) as path, pytest.raises(Conflict, match="box is not running"):
        spawn("box", path, ProcessSpec(["true"]))
