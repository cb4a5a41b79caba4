"""``dockyard exec`` end to end: a busybox container from the test bed running ``sleep 1000``, and new
processes started in it through the Engine and through the command line (a real pty for -t)."""

from __future__ import annotations

import contextlib
import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from core.config import Config
from core.engine import LocalEngine
from core.errors import CommandNotFound, Conflict, InvalidArgument, NotFound, RuntimeFailure
from core.interface import STDERR, STDOUT, DuplexStream
from core.models import ContainerConfig, ContainerCreate, ExecConfig, HostConfig, RestartPolicy
from core.runtime import cgroups
from core.runtime.exec import ExecHandle

DOCKYARD = str(Path(sys.executable).with_name("dockyard"))

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")


@dataclass
class Box:
    config: Config
    engine: LocalEngine
    id: str
    name: str
    pid: int  # the container's PID 1 on the host

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "DOCKYARD_RUN": str(self.config.run),
            "DOCKYARD_CGROUP_PARENT": self.config.cgroup_parent,
        }

    def cli(
        self, *args: str, input: str | None = None, timeout: float = 30
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [DOCKYARD, "--root", str(self.config.root), *args],
            capture_output=True,
            text=True,
            input=input,
            timeout=timeout,
            env=self.env(),
        )

    def shim_pid(self) -> int:
        return int(json.loads((self.engine.paths.container(self.id) / "state.json").read_text())["shim_pid"])

    def run(self, *args: str, **kw: object) -> tuple[int, str, str]:
        """Engine.exec with pipes: (exit code, stdout, stderr)."""
        with exec_handle(self.engine, self.name, list(args), **kw) as h:  # type: ignore[arg-type]
            out, err = _read_all(h)
            return h.wait(timeout=10), out, err


def exec_handle(
    engine: LocalEngine,
    name: str,
    args: list[str],
    *,
    env: list[str] | None = None,
    user: str | None = None,
    workdir: str | None = None,
    tty: bool = False,
    stdin: bool = False,
    detach: bool = False,
    privileged: bool = False,
    tty_size: tuple[int, int] | None = None,
) -> ExecHandle:
    """The runtime's handle on an exec'd process (what Engine.exec streams), to look at the process itself."""
    config = ExecConfig(list(args), env or [], user, workdir, tty, stdin, detach, privileged, tty_size)
    return engine.exec_process(name, config)


def stream_all(stream: DuplexStream, timeout: float = 10) -> tuple[str, str]:
    """Everything an exec stream says until it ends, through its one fd: (stdout, stderr)."""
    out = {STDOUT: bytearray(), STDERR: bytearray()}
    deadline = time.monotonic() + timeout
    while True:
        ready, _, _ = select.select([stream], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            raise TimeoutError("the exec stream did not end")
        frames = stream.read()
        if frames is None:
            return out[STDOUT].decode(), out[STDERR].decode()
        for sid, data in frames:
            out[sid] += data


def _read_all(h: ExecHandle, timeout: float = 10) -> tuple[str, str]:
    bufs: dict[int, bytearray] = {}
    fds = [fd for fd in (h.stdout, h.stderr) if fd is not None]
    for fd in fds:
        bufs[fd] = bytearray()
    deadline = time.monotonic() + timeout
    while fds:
        ready, _, _ = select.select(fds, [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            raise TimeoutError("exec output did not end")
        for fd in ready:
            data = os.read(fd, 65536)
            if data:
                bufs[fd] += data
            else:
                fds.remove(fd)
    out = bufs.get(h.stdout, bytearray()) if h.stdout is not None else bytearray()
    err = bufs.get(h.stderr, bytearray()) if h.stderr is not None else bytearray()
    return out.decode(), err.decode()


@contextlib.contextmanager
def _sleeper(testbed: Any, engine_config: Config, label: str, **host: Any) -> Iterator[Box]:
    """A started busybox ``sleep 1000`` on an engine of its own (cgroup parent named by ``label``), removed
    after; ``host`` are HostConfig fields."""
    engine_config.cgroup_parent = f"dockyard-test-{label}-{os.getpid()}"
    engine = LocalEngine(engine_config)
    engine.pull(testbed.ref("busybox:latest"))
    summary = engine.create_container(
        ContainerCreate(
            ContainerConfig(
                image=testbed.ref("busybox:latest"),
                cmd=["sleep", "1000"],
                hostname="exechost",
                attach_stdout=False,
                attach_stderr=False,
            ),
            HostConfig(**host),
        )
    )
    try:
        engine.start_container(summary.id)
        c = engine.container(summary.id)
        assert c.status == "running" and c.pid > 0
        yield Box(engine_config, engine, c.id, c.name, c.pid)
    finally:
        with contextlib.suppress(Exception):
            engine.remove_container(summary.id, force=True)
        with contextlib.suppress(Exception):
            cgroups.Cgroup.remove_parent(engine_config.cgroup_parent)


@pytest.fixture
def box(testbed, engine_config: Config) -> Iterator[Box]:  # type: ignore[no-untyped-def]
    with _sleeper(testbed, engine_config, "exec") as sleeper:
        yield sleeper


def test_echo_and_exit_codes(box: Box) -> None:
    assert box.run("echo", "hi") == (0, "hi\n", "")
    code, _out, _err = box.run("sh", "-c", "exit 5")
    assert code == 5
    code, out, err = box.run("sh", "-c", "echo out; echo err >&2; kill -9 $$")
    assert (code, out, err) == (137, "out\n", "err\n")
    with pytest.raises(CommandNotFound, match="executable file not found"):
        exec_handle(box.engine, box.name, ["nosuchcommand"])


def _status_field(text: str, key: str) -> str:
    m = re.search(rf"^{key}:\s*(\S+)", text, re.M)
    assert m, f"{key} not in {text!r}"
    return m.group(1)


def test_security_matches_the_container(box: Box) -> None:
    host_view = Path(f"/proc/{box.pid}/status").read_text()
    code, out, _ = box.run("cat", "/proc/self/status")
    assert code == 0
    assert _status_field(out, "Seccomp") == "2"
    assert _status_field(out, "CapEff") == _status_field(host_view, "CapEff")
    assert _status_field(out, "CapBnd") == _status_field(host_view, "CapBnd")
    assert _status_field(out, "NoNewPrivs") == _status_field(host_view, "NoNewPrivs")
    # nothing ignored, in the exec'd process as in PID 1 (docker's); the shims, spawned with glibc's
    # posix_spawn, have its signals 32 and 33 ignored, and ignored signals survive execve
    assert _status_field(out, "SigIgn") == _status_field(host_view, "SigIgn") == "0000000000000000"
    # --privileged: every capability, the container's seccomp filter all the same (docker's behaviour)
    code, out, _ = box.run("cat", "/proc/self/status", privileged=True)
    assert int(_status_field(out, "CapEff"), 16) > int(_status_field(host_view, "CapEff"), 16)
    assert _status_field(out, "Seccomp") == "2"


def test_namespaces_cgroup_and_root(box: Box) -> None:
    assert box.run("hostname") == (0, "exechost\n", "")
    # PID 1 is the container's command: we are in its pid namespace, and see only its processes
    _code, out, _ = box.run(
        "sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '; echo; ls /proc | grep -c '^[0-9]'"
    )
    lines = out.splitlines()
    assert lines[0].strip() == "sleep 1000"
    assert int(lines[1]) <= 4  # sleep, sh, ls, grep
    with exec_handle(box.engine, box.name, ["sleep", "30"]) as h:
        try:
            for ns in ("pid", "mnt", "net", "uts", "ipc", "cgroup"):
                assert os.readlink(f"/proc/{h.pid}/ns/{ns}") == os.readlink(f"/proc/{box.pid}/ns/{ns}"), ns
            assert Path(f"/proc/{h.pid}/cgroup").read_text() == Path(f"/proc/{box.pid}/cgroup").read_text()
            assert os.stat(f"/proc/{h.pid}/root").st_ino == os.stat(f"/proc/{box.pid}/root").st_ino
            assert h.pid in cgroups.Cgroup.open(box.id, parent=box.config.cgroup_parent).pids()
        finally:
            h.kill(signal.SIGKILL)
            assert h.wait(timeout=10) == 137
    # inside, the cgroup namespace is rooted at the container's cgroup and "/" is the container's root
    _code, out, _ = box.run("sh", "-c", "cat /proc/self/cgroup; readlink /proc/self/root; pwd; ls /")
    assert all(line.endswith(":/") for line in out.splitlines() if line.count(":") >= 2)
    assert "\n/\n/\n" in out and "bin" in out.split()


def test_the_command_starts_with_default_signals_whatever_its_caller_had(box: Box) -> None:
    # Python ignores SIGPIPE and SIGXFSZ and handles SIGINT; a caller may ignore or block more: none of it
    # reaches the command (ignored signals and the mask survive execve)
    old_usr2 = signal.signal(signal.SIGUSR2, signal.SIG_IGN)
    old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
    try:
        code, out, _ = box.run("cat", "/proc/self/status")
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
        signal.signal(signal.SIGUSR2, old_usr2)
    assert code == 0
    for key in ("SigIgn", "SigBlk", "SigCgt"):
        assert _status_field(out, key) == "0000000000000000", (key, out)


def test_only_stdio_fds(box: Box) -> None:
    code, out, _ = box.run("ls", "/proc/self/fd")
    assert code == 0
    assert sorted(int(x) for x in out.split()) == [0, 1, 2, 3]  # 3: ls's own directory fd
    # nothing of ours: the fds are pipes to the caller, no host path
    code, out, _ = box.run("sh", "-c", "for i in 0 1 2; do readlink /proc/self/fd/$i; done")
    targets = out.split()
    assert targets[0] == "/dev/null" and all(t.startswith("pipe:") for t in targets[1:]), targets


def test_env_workdir_user(box: Box) -> None:
    code, out, _ = box.run("env", env=["FOO=bar", "PATH=/bin:/usr/bin"])
    assert code == 0
    env = dict(line.split("=", 1) for line in out.splitlines())
    assert env["FOO"] == "bar" and env["PATH"] == "/bin:/usr/bin"
    assert env["HOSTNAME"] == "exechost" and env["HOME"] == "/root"
    assert box.run("pwd", workdir="/tmp") == (0, "/tmp\n", "")
    assert box.run("id", "-u", user="nobody") == (0, "65534\n", "")
    _code, out, _ = box.run("sh", "-c", "id -u; id -g; echo $HOME", user="1234:5678")
    assert out.split() == ["1234", "5678", "/"]
    with pytest.raises(RuntimeFailure, match="unable to find user nosuchuser"):
        exec_handle(box.engine, box.name, ["true"], user="nosuchuser")
    with pytest.raises(InvalidArgument, match="absolute path"):
        exec_handle(box.engine, box.name, ["true"], workdir="tmp")


def test_stdin(box: Box) -> None:
    with exec_handle(box.engine, box.name, ["sh", "-c", "tr a-z A-Z; echo done >&2"], stdin=True) as h:
        assert h.stdin is not None
        os.write(h.stdin, b"hello\n")
        h.close_stdin()
        out, err = _read_all(h)
        assert (h.wait(timeout=10), out, err) == (0, "HELLO\n", "done\n")
    # without stdin the command reads EOF at once
    assert box.run("cat") == (0, "", "")


def test_detached(box: Box, tmp_path: Path) -> None:
    h = exec_handle(box.engine, box.name, ["sh", "-c", "sleep 0.2; echo ran > /tmp/detached"], detach=True)
    try:
        assert h.stdout is None and h.master_fd is None
        assert h.wait(timeout=10) == 0
    finally:
        h.close()
    assert box.run("cat", "/tmp/detached") == (0, "ran\n", "")


def test_cli_exec(box: Box) -> None:
    r = box.cli("exec", box.name, "echo", "hi")
    assert (r.returncode, r.stdout) == (0, "hi\n")
    assert box.cli("exec", box.name, "sh", "-c", "exit 5").returncode == 5
    r = box.cli("exec", box.name, "nosuchcommand")
    assert r.returncode == 126  # docker's exec: 126 for a command not found too (run: 127)
    assert "executable file not found in $PATH" in r.stderr
    r = box.cli("exec", box.name, "/etc/passwd")
    assert r.returncode == 126, r.stderr
    r = box.cli(
        "exec",
        "-i",
        "-e",
        "A=1",
        "-w",
        "/etc",
        "-u",
        "nobody",
        box.name,
        "sh",
        "-c",
        "echo $A $(pwd) $(id -u); cat",
        input="piped\n",
    )
    assert (r.returncode, r.stdout) == (0, "1 /etc 65534\npiped\n"), r.stderr
    r = box.cli("container", "exec", box.id[:12], "hostname")
    assert (r.returncode, r.stdout) == (0, "exechost\n")
    r = box.cli("exec", "-d", box.name, "sleep", "1")
    assert (r.returncode, r.stdout) == (0, "")


def test_exec_into_stopped_container(box: Box) -> None:
    box.engine.stop_container(box.id, timeout=1)
    with pytest.raises(Conflict, match="is not running"):
        exec_handle(box.engine, box.name, ["true"])
    r = box.cli("exec", box.name, "true")
    assert r.returncode == 1  # docker's CLI: 1 for a daemon error of exec
    assert f"Error: Container {box.id} is not running\n" == r.stderr  # docker's words


def _read_until(fd: int, pattern: bytes, timeout: float = 10) -> bytes:
    buf = b""
    deadline = time.monotonic() + timeout
    while pattern not in buf:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            raise TimeoutError(f"{pattern!r} not seen; got {buf!r}")
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            chunk = b""
        if not chunk:
            raise EOFError(f"{pattern!r} not seen; got {buf!r}")
        buf += chunk
    return buf


def test_cli_tty_through_a_real_pty(box: Box) -> None:
    """`dockyard exec -it` on a real terminal: a tty inside, its size follows ours (SIGWINCH), exit code."""
    import fcntl
    import struct
    import termios

    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - the child becomes the CLI
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
        os.execve(
            DOCKYARD, [DOCKYARD, "--root", str(box.config.root), "exec", "-it", box.name, "sh"], box.env()
        )
    try:
        _read_until(fd, b"# ")
        os.write(fd, b"tty; stty size\n")
        out = _read_until(fd, b"24 80")
        assert re.search(rb"/dev/pts/\d+", out), out
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 132, 0, 0))
        os.kill(pid, signal.SIGWINCH)  # the kernel sends it to the foreground group; be sure the CLI has it
        time.sleep(0.2)
        os.write(fd, b"stty size\n")
        _read_until(fd, b"50 132")
        os.write(fd, b"exit 3\n")
        with contextlib.suppress(TimeoutError, EOFError):
            _read_until(fd, b"\0never", timeout=5)
        _pid, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 3
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
        os.close(fd)


def test_tty_handle_and_detach(box: Box) -> None:
    """The TUI's way: a pty master, resize, and a detached session that keeps running (the middle drains)."""
    h = exec_handle(box.engine, box.name, ["sh"], tty=True, stdin=True, tty_size=(30, 100))
    try:
        assert h.master_fd is not None and h.stdout is None
        os.write(h.master_fd, b"tty; echo term=$TERM; stty size\n")
        out = _read_until(h.master_fd, b"30 100")
        assert re.search(rb"\n/dev/pts/\d+\r?\n", out), out
        assert b"term=xterm" in out  # docker exec -t sets TERM when the container has none
        h.resize(40, 120)
        os.write(h.master_fd, b"stty size\n")
        _read_until(h.master_fd, b"40 120")
        os.write(h.master_fd, b"(sleep 0.3; yes | head -c 1000000; echo survived > /tmp/tty-detach) &\n")
        time.sleep(0.1)
        h.detach()  # our end closes: the shell must neither get SIGHUP nor block on a full terminal
        assert h.poll() is None  # the shell itself lives on, waiting for input that will never come
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if box.run("cat", "/tmp/tty-detach")[1] == "survived\n":
                break
            time.sleep(0.1)
        else:
            raise AssertionError("the detached session did not keep running")
    finally:
        h.kill(signal.SIGKILL)
        assert h.wait(timeout=10) == 137
        h.close()


def test_the_shim_starts_the_process_and_it_outlives_its_caller(box: Box) -> None:
    """containerd-shim's way: the container's supervisor is the process's parent (no process of the
    caller's in between), reaps it and reports its exit; a caller killed while its exec runs leaves it
    running to its end."""
    with exec_handle(box.engine, box.name, ["sleep", "30"]) as h:
        assert _status_field(Path(f"/proc/{h.pid}/status").read_text(), "PPid") == str(box.shim_pid())
        assert h.poll() is None
        h.kill(signal.SIGTERM)
        assert h.wait(timeout=10) == 143
    script = "echo > /tmp/caller-started; sleep 0.5; echo finished > /tmp/caller-gone"
    caller = subprocess.Popen(
        [DOCKYARD, "--root", str(box.config.root), "exec", box.name, "sh", "-c", script], env=box.env()
    )
    try:
        deadline = time.monotonic() + 10
        while box.run("cat", "/tmp/caller-started")[0] != 0:
            assert time.monotonic() < deadline, "the exec did not start"
            time.sleep(0.02)
    finally:
        caller.kill()
        caller.wait()
    deadline = time.monotonic() + 10
    while box.run("cat", "/tmp/caller-gone")[1] != "finished\n":
        assert time.monotonic() < deadline, "the exec died with its caller"
        time.sleep(0.1)


def test_a_container_restarted_by_its_shim_after_an_exec_gets_a_pid_namespace_of_its_own(
    testbed: Any, engine_config: Config
) -> None:
    """The shim points its children's pid namespace at the container for each exec's fork, and back: the
    container's next PID 1, forked by the same shim (restart policy), is in a new namespace beside the old
    one, not nested in it."""
    policy = RestartPolicy("on-failure", 1)
    with _sleeper(testbed, engine_config, "exec-restart", restart_policy=policy) as sleeper:
        engine, first = sleeper.engine, sleeper.pid
        with engine.exec_process(sleeper.id, ExecConfig(["true"])) as h:
            assert h.wait(timeout=10) == 0
        # the shim keeps what execs join while PID 1 lives; none of it may outlive PID 1
        shim_fds = Path(f"/proc/{sleeper.shim_pid()}/fd")
        own_pidns = os.readlink(f"/proc/{sleeper.shim_pid()}/ns/pid")

        def namespaces_held() -> set[str]:
            links = set()
            for fd in shim_fds.iterdir():
                with contextlib.suppress(FileNotFoundError):
                    links.add(os.readlink(fd))
            kinds = ("mnt:", "ipc:", "uts:", "pid:", "cgroup:")
            return {link for link in links if link.startswith(kinds) and link != own_pidns}

        assert len(namespaces_held()) == 5  # else the test below is moot
        os.kill(first, signal.SIGKILL)  # exit 137: on-failure brings it back, in the same shim
        deadline = time.monotonic() + 15
        while True:
            c = engine.container(sleeper.id)
            if c.status == "running" and c.pid not in (0, first):
                break
            assert time.monotonic() < deadline, f"not restarted: {c.status}"
            time.sleep(0.05)
        assert namespaces_held() == set()  # let go of when the old PID 1 ended, none taken since
        # two levels: the host's pid and 1 in the container's namespace (nested, there would be three)
        nspid = re.search(r"^NSpid:(.*)$", Path(f"/proc/{c.pid}/status").read_text(), re.M)
        assert nspid is not None and nspid.group(1).split() == [str(c.pid), "1"]
        with engine.exec_process(sleeper.id, ExecConfig(["cat", "/proc/1/cmdline"])) as h:
            assert h.wait(timeout=10) == 0


def test_a_failed_start_is_on_record_when_the_caller_hears_of_it(box: Box) -> None:
    """The process that could not exec the command exits 127; its supervisor records that as it reaps it,
    and `exec inspect` right after the failed start must say so (the API's clients read the exit code
    there: null would be taken for 0)."""
    for _ in range(20):
        exec_id = box.engine.create_exec(box.name, ExecConfig(["no-such-command"]))
        with pytest.raises(CommandNotFound):
            box.engine.start_exec(exec_id)
        assert box.engine.inspect_exec(exec_id)["ExitCode"] == 127


def test_an_exec_that_reaches_the_shim_after_pid_1_died_is_told_the_container_is_not_running(
    testbed: Any, engine_config: Config
) -> None:
    """PID 1 dead but not reaped yet (the shim stopped meanwhile, so the request is served first): the fork
    into a pid namespace whose init is gone fails (ENOMEM), and that is docker's "not running", not an
    out-of-memory error."""
    from concurrent.futures import ThreadPoolExecutor

    with _sleeper(testbed, engine_config, "exec-late") as sleeper:
        with sleeper.engine.exec_process(sleeper.id, ExecConfig(["true"])) as h:
            assert h.wait(timeout=10) == 0  # the shim now holds what execs join
        shim = sleeper.shim_pid()
        os.kill(shim, signal.SIGSTOP)
        try:
            os.kill(sleeper.pid, signal.SIGKILL)
            deadline = time.monotonic() + 10
            while _status_field(Path(f"/proc/{sleeper.pid}/status").read_text(), "State") != "Z":
                assert time.monotonic() < deadline
                time.sleep(0.01)
            with ThreadPoolExecutor(1) as pool:
                late = pool.submit(sleeper.engine.exec_process, sleeper.id, ExecConfig(["true"]))
                time.sleep(0.3)  # the request waits in the shim's socket
                os.kill(shim, signal.SIGCONT)
                with pytest.raises(Conflict, match="is not running"):
                    late.result(timeout=10).close()
        finally:
            os.kill(shim, signal.SIGCONT)


def test_cwd_through_a_leaked_fd_is_refused(box: Box) -> None:
    """CVE-2024-21626's shape: a working directory through /proc/self/fd/N must never land outside the root
    (every fd but stdio and the close-on-exec sync socket is closed before the chdir)."""
    for n in range(3, 12):
        with pytest.raises(RuntimeFailure):
            h = exec_handle(box.engine, box.name, ["pwd"], workdir=f"/proc/self/fd/{n}")
            h.close()  # pragma: no cover - only reached if the exec wrongly started
    assert box.run("pwd", workdir="/proc/self/cwd") == (0, "/\n", "")  # still the container's "/"


def test_paused_and_from_a_thread(box: Box) -> None:
    from concurrent.futures import ThreadPoolExecutor

    # the TUI calls exec from worker threads: fork from a threaded process must work
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda i: box.run("echo", str(i)), range(4)))
    assert [r[1] for r in results] == ["0\n", "1\n", "2\n", "3\n"]
    box.engine.pause_container(box.name)
    try:
        with pytest.raises(Conflict, match="is paused"):
            exec_handle(box.engine, box.name, ["true"])
    finally:
        box.engine.unpause_container(box.name)
    assert box.run("true")[0] == 0


def test_cli_signals_and_closed_stdio(box: Box) -> None:
    # ^C (SIGINT) to the CLI reaches the process, whose exit code comes back
    proc = subprocess.Popen(
        [DOCKYARD, "--root", str(box.config.root), "exec", box.name, "sh", "-c", "echo ready; sleep 100"],
        stdout=subprocess.PIPE,
        env=box.env(),
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 130
    finally:
        proc.kill()
        proc.wait()
    _code, out, _ = box.run("ps")
    assert not re.search(r"sleep 100$", out, re.M), out
    # a CLI started with stdin closed: our pipes must not land on fd 0 and get clobbered
    r = subprocess.run(
        ["sh", "-c", f'"{DOCKYARD}" --root "{box.config.root}" exec {box.name} echo hi 0<&-'],
        capture_output=True,
        text=True,
        env=box.env(),
        timeout=30,
    )
    assert (r.returncode, r.stdout) == (0, "hi\n"), r.stderr


def test_cli_detach_keys_leave_the_session_running(box: Box) -> None:
    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - the child becomes the CLI
        os.execve(
            DOCKYARD, [DOCKYARD, "--root", str(box.config.root), "exec", "-it", box.name, "sh"], box.env()
        )
    try:
        _read_until(fd, b"# ")
        os.write(fd, b"(sleep 0.5; echo still-here > /tmp/detach-keys) &\n")
        _read_until(fd, b"# ")
        os.write(fd, b"\x10\x11")  # ctrl-p ctrl-q
        _pid, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        deadline = time.monotonic() + 10
        while box.run("cat", "/tmp/detach-keys")[1] != "still-here\n":
            assert time.monotonic() < deadline, "the detached shell did not keep running"
            time.sleep(0.1)
        _code, out, _ = box.run("ps")
        assert re.search(r"\bsh\s*$", out, re.M), out  # the interactive shell lives on
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
        os.close(fd)
        box.run("sh", "-c", "kill -9 -1")  # everything but PID 1 (and this sh)


def test_host_network_container(box: Box) -> None:
    """Namespaces the container shares with the host are not joined (nothing to join), the rest are."""
    summary = box.engine.create_container(
        ContainerCreate(
            ContainerConfig(image=box.engine.container(box.id).image, cmd=["sleep", "1000"]),
            HostConfig(network_mode="host"),
        )
    )
    try:
        box.engine.start_container(summary.id)
        pid1 = box.engine.container(summary.id).pid
        with exec_handle(box.engine, summary.id, ["sh", "-c", "hostname; cat /proc/1/cmdline"]) as h:
            out, _err = _read_all(h)
            assert h.wait(timeout=10) == 0
        assert out.split("\n")[0] == os.uname().nodename
        assert out.split("\n")[1].startswith("sleep")
        assert os.readlink(f"/proc/{pid1}/ns/net") == os.readlink("/proc/self/ns/net")
    finally:
        box.engine.remove_container(summary.id, force=True)


def test_exec_i_reads_stdin_from_a_regular_file(box: Box, tmp_path: Path) -> None:
    """`exec -i CTR sh < script.sh`: a regular file as stdin (epoll refuses those; the pump uses poll)."""
    script = tmp_path / "script.sh"
    script.write_text("echo from-a-file\nexit 4\n")
    with script.open() as f:
        r = subprocess.run(
            [DOCKYARD, "--root", str(box.config.root), "exec", "-i", box.name, "sh"],
            stdin=f,
            capture_output=True,
            text=True,
            timeout=30,
            env=box.env(),
        )
    assert (r.returncode, r.stdout) == (4, "from-a-file\n"), r.stderr


# ---------------------------------------------------------------- through the engine interface's stream


def test_stream_output_exit_and_stdin(box: Box) -> None:
    with box.engine.exec(box.name, ExecConfig(["sh", "-c", "echo out; echo err >&2; exit 3"])) as s:
        assert stream_all(s) == ("out\n", "err\n")
        assert s.exit_code == 3 and s.read() is None
    cfg = ExecConfig(["sh", "-c", "tr a-z A-Z; echo done >&2"], attach_stdin=True)
    with box.engine.exec(box.name, cfg) as s:
        s.write(b"hello\n")
        s.close_stdin()
        assert stream_all(s) == ("HELLO\n", "done\n") and s.exit_code == 0


def test_stream_input_never_blocks_on_a_process_that_does_not_read(box: Box) -> None:
    # 4 MB to a process that sleeps before reading: write() queues instead of blocking, the backlog shows it
    cfg = ExecConfig(["sh", "-c", "sleep 0.5; wc -c"], attach_stdin=True)
    with box.engine.exec(box.name, cfg) as s:
        s.write(b"x" * (4 << 20))
        assert s.input_backlog > 0
        s.close_stdin()
        out, _ = stream_all(s)
        assert (out.strip(), s.input_backlog, s.exit_code) == (str(4 << 20), 0, 0)


def test_stream_tty_resize_kill_and_detached(box: Box) -> None:
    cfg = ExecConfig(["sh"], tty=True, attach_stdin=True, console_size=(30, 100))
    with box.engine.exec(box.name, cfg) as s:
        assert s.tty
        s.write(b"stty size\n")
        seen = b""
        deadline = time.monotonic() + 10
        while b"30 100" not in seen and time.monotonic() < deadline:
            select.select([s], [], [], 1)
            seen += b"".join(d for _sid, d in s.read() or [])
        assert b"30 100" in seen
        s.resize(40, 120)
        s.write(b"stty size\n")
        while b"40 120" not in seen and time.monotonic() < deadline:
            select.select([s], [], [], 1)
            seen += b"".join(d for _sid, d in s.read() or [])
        assert b"40 120" in seen
        s.kill(signal.SIGKILL)
        stream_all(s)
        assert s.exit_code == 137
    detached = box.engine.exec(
        box.name, ExecConfig(["sh", "-c", "echo ran > /tmp/stream-detached"], detach=True)
    )
    assert detached.read() is None and detached.exit_code is None
    detached.close()
    deadline = time.monotonic() + 10
    while box.run("cat", "/tmp/stream-detached")[1] != "ran\n":
        assert time.monotonic() < deadline, "the detached exec did not run"
        time.sleep(0.05)


def test_exec_instances_create_start_inspect(box: Box) -> None:
    """Docker's exec model: create (not started), start once, inspect Running/ExitCode/Pid."""
    eid = box.engine.create_exec(box.name, ExecConfig(["sh", "-c", "read x; exit 3"], attach_stdin=True))
    doc = box.engine.inspect_exec(eid)
    assert (doc["ID"], doc["Running"], doc["ExitCode"], doc["Pid"]) == (eid, False, None, 0)
    assert doc["ContainerID"] == box.id and doc["OpenStdin"] is True
    assert doc["ProcessConfig"] == {
        "arguments": ["-c", "read x; exit 3"],
        "entrypoint": "sh",
        "privileged": False,
        "tty": False,
        "user": "",
    }
    with box.engine.start_exec(eid) as s:
        running = box.engine.inspect_exec(eid[:12])  # a unique prefix names it too
        assert running["Running"] is True and running["ExitCode"] is None and running["Pid"] > 0
        s.write(b"go\n")
        stream_all(s)
        assert s.exit_code == 3
    done = box.engine.inspect_exec(eid)
    assert (done["Running"], done["ExitCode"]) == (False, 3)
    with pytest.raises(Conflict, match="has already run"):
        box.engine.start_exec(eid)
    with pytest.raises(NotFound, match="No such exec instance"):
        box.engine.inspect_exec("0" * 64)


def test_a_detached_exec_reports_its_exit_code(box: Box) -> None:
    # nobody waits for a detached exec: its supervisor writes the code for inspect
    eid = box.engine.create_exec(box.name, ExecConfig(["sh", "-c", "sleep 0.3; exit 7"], detach=True))
    box.engine.start_exec(eid).close()
    deadline = time.monotonic() + 10
    while (doc := box.engine.inspect_exec(eid))["Running"]:
        assert time.monotonic() < deadline, "the detached exec did not end"
        time.sleep(0.05)
    assert doc["ExitCode"] == 7


def test_exec_create_refuses_a_stopped_container_and_records_go_with_it(box: Box) -> None:
    summary = box.engine.create_container(
        ContainerCreate(ContainerConfig(image=box.engine.container(box.id).image, cmd=["sleep", "1000"]))
    )
    try:
        with pytest.raises(Conflict, match="is not running"):
            box.engine.create_exec(summary.id, ExecConfig(["true"]))
        box.engine.start_container(summary.id)
        eid = box.engine.create_exec(summary.id, ExecConfig(["true"]))
        assert box.engine.inspect_exec(eid)["ContainerID"] == summary.id
    finally:
        box.engine.remove_container(summary.id, force=True)
    with pytest.raises(NotFound):
        box.engine.inspect_exec(eid)
