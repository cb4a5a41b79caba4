"""``ssh://`` engines through a real sshd (Debian's openssh-server) that the test starts on a loopback port
with a generated host key and user key: dockyard's ``-H ssh://host`` runs the system ssh (BatchMode) and
the host's ``dockyard system dial-stdio``, which serves the API in-process when no dockyard server runs
there; the same scenario as over a unix socket. A dead host, a refused key and an unknown host key are
one-line errors within seconds, never a prompt."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from core.config import Config
from tests.e2e.dockerdiff import Dockerd
from tests.e2e.test_remote_engines import dockerd, scenario  # noqa: F401 (the dockerd fixture)
from tests.testbed import Testbed

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
    pytest.mark.skipif(not Path("/usr/sbin/sshd").exists(), reason="needs openssh-server"),
]

BIN = Path(sys.executable).parent
DOCKYARD = str(BIN / "dockyard")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Sshd:
    dir: Path
    port: int
    proc: subprocess.Popen[bytes]
    client_env: dict[str, str]


def _keygen(path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)


@contextlib.contextmanager
def start_sshd(d: Path, client_config: Path, host_env: str, *, multiplex: bool = False) -> Iterator[Sshd]:
    """An sshd of the test's own on a loopback port (``host_env``: the sessions' environment, sshd's
    SetEnv), keys and known_hosts generated in ``d``; the client's ssh goes through a wrapper with its own
    config (ssh reads ~/.ssh/config from the password database, not $HOME), first in PATH (the docker CLI
    runs "ssh") and as DOCKYARD_SSH.

    ``multiplex``: host ``dyhost`` shares one ssh connection (ControlMaster) among the commands of a test,
    as many users configure it: a scenario of ~60 commands saves ~0.3 s of key exchange on each. What the
    engine sees is the same (a session per command, running dial-stdio); ``dyhost-direct`` is the same host
    without sharing, for the tests that count connections. The master is told to exit at the end."""
    d.mkdir(mode=0o700)
    _keygen(d / "host_key")
    _keygen(d / "user_key")
    _keygen(d / "other_key")
    (d / "authorized_keys").write_text((d / "user_key.pub").read_text())
    bindir = d / "bin"
    bindir.mkdir()
    wrapper = bindir / "ssh"
    wrapper.write_text(f'#!/bin/sh\nexec /usr/bin/ssh -F {d}/ssh_config "$@"\n')
    wrapper.chmod(0o755)
    # the master's socket: its path must fit in 108 bytes, which the pytest tmp dir may not
    control = Path(tempfile.mkdtemp(prefix="dyssh-")) if multiplex else None
    try:
        with _privsep_dir():
            yield from _serve(d, host_env, control, bindir, wrapper, client_config)
    finally:
        if control is not None:
            shutil.rmtree(control, ignore_errors=True)


_PRIVSEP = Path("/run/sshd")  # sshd's privilege separation directory: every connection needs it
_PRIVSEP_LOCK = Path("/run/dockyard-test-sshd.lock")
_PRIVSEP_MADE = Path("/run/dockyard-test-sshd.made")  # the directory is the tests' to remove


@contextlib.contextmanager
def _privsep_dir() -> Iterator[None]:
    """/run/sshd while this sshd runs. The sshds of other workers may use it at the same time: each holds a
    shared lock, and only the last one out removes it (and only if a test made it). Removing it under a
    running sshd resets every new connection to it."""
    fd = os.open(_PRIVSEP_LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        while True:
            fcntl.flock(fd, fcntl.LOCK_EX)
            if not _PRIVSEP.exists():
                _PRIVSEP.mkdir(mode=0o755)
                _PRIVSEP_MADE.touch()
            fcntl.flock(fd, fcntl.LOCK_SH)  # not atomic: a last one out may have removed it in between
            if _PRIVSEP.is_dir():
                break
        yield
    finally:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pass  # another sshd still uses it
        else:
            if _PRIVSEP_MADE.exists():
                shutil.rmtree(_PRIVSEP, ignore_errors=True)
                _PRIVSEP_MADE.unlink()
        os.close(fd)


def _serve(
    d: Path, host_env: str, control: Path | None, bindir: Path, wrapper: Path, client_config: Path
) -> Iterator[Sshd]:
    # a port picked free may be taken before sshd binds it (the other workers start servers too): sshd
    # then exits, and whatever took the port must not pass for it. Ready means sshd said it listens.
    for _attempt in range(5):
        port = _free_port()
        (d / "sshd_config").write_text(
            f"Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\nPidFile {d}/sshd.pid\n"
            f"AuthorizedKeysFile {d}/authorized_keys\nStrictModes no\nUsePAM no\nPasswordAuthentication no\n"
            f"KbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\nSetEnv {host_env}\n"
        )
        host_pub = (d / "host_key.pub").read_text().split()
        (d / "known_hosts").write_text(f"[127.0.0.1]:{port} {host_pub[0]} {host_pub[1]}\n")
        sharing = (
            f"  ControlMaster auto\n  ControlPath {control}/%C\n  ControlPersist 60\n" if control else ""
        )

        def host(alias: str, key: str, known: str, extra: str = "", port: int = port) -> str:
            return (
                f"Host {alias}\n  HostName 127.0.0.1\n  Port {port}\n  User root\n  IdentityFile {d}/{key}\n"
                f"  IdentitiesOnly yes\n  UserKnownHostsFile {d}/{known}\n{extra}"
            )

        (d / "ssh_config").write_text(
            host("dyhost", "user_key", "known_hosts", sharing)
            + host("dyhost-direct", "user_key", "known_hosts")
            + host("otherkey", "other_key", "known_hosts")
            + host("unknownhost", "user_key", "empty_known_hosts")
        )
        with open(d / "sshd.log", "wb") as log:
            proc = subprocess.Popen(
                ["/usr/sbin/sshd", "-D", "-e", "-f", str(d / "sshd_config")],
                stdout=subprocess.DEVNULL,
                stderr=log,
                start_new_session=True,
            )
        deadline = time.monotonic() + 10
        while (
            proc.poll() is None and f"listening on 127.0.0.1 port {port}." not in (d / "sshd.log").read_text()
        ):
            if time.monotonic() > deadline:
                proc.terminate()
                proc.wait(10)
                raise AssertionError("sshd did not listen: " + (d / "sshd.log").read_text())
            time.sleep(0.02)
        if proc.poll() is None:
            break
    else:
        raise AssertionError("sshd could not listen: " + (d / "sshd.log").read_text())
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCKER_", "DOCKYARD_ROOT"))}
        env["DOCKER_CONFIG"] = str(client_config)
        env["DOCKYARD_SSH"] = str(wrapper)
        env["PATH"] = f"{bindir}:{env.get('PATH', '')}"
        yield Sshd(d, port, proc, env)
    finally:
        if control is not None:  # the master (and with it its sshd session) ends before sshd
            subprocess.run(
                ["/usr/bin/ssh", "-F", str(d / "ssh_config"), "-O", "exit", "dyhost"],
                capture_output=True, timeout=10,
            )  # fmt: skip
        proc.terminate()
        proc.wait(10)


@pytest.fixture
def sshd(engine_config: Config, tmp_path: Path) -> Iterator[Sshd]:
    """To a dockyard host: the test's dockyard in PATH, the test's engine root and run directory."""
    path = f"{BIN}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    host_env = (
        f"PATH={path} DOCKYARD_ROOT={engine_config.root} DOCKYARD_RUN={engine_config.run} "
        f"DOCKYARD_CGROUP_PARENT={os.environ.get('DOCKYARD_CGROUP_PARENT', '')}"
    )
    with start_sshd(tmp_path / "ssh", tmp_path / "client-config", host_env, multiplex=True) as s:
        yield s


def test_dockyard_host_over_ssh_without_a_server(sshd: Sshd, testbed: Testbed) -> None:
    assert not Path("/run/dockyard/docker.sock").exists(), (
        "a dockyard server runs here: dial-stdio would join it"
    )
    host = "ssh://dyhost"

    def run(*args: str, input: str | None = None, check: bool = True, timeout: float = 120):  # type: ignore[no-untyped-def]
        r = subprocess.run(
            [DOCKYARD, "-H", host, *args], capture_output=True, text=True, input=input, env=sshd.client_env,
            timeout=timeout,
        )  # fmt: skip
        if check:
            assert r.returncode == 0, f"dockyard -H {host} {' '.join(args)}: rc {r.returncode}\n{r.stderr}"
        return r

    # (the docker CLI would run `docker system dial-stdio` there, which dials no dockyard: not compared)
    scenario(run, host, sshd.client_env, testbed.ref("busybox:latest"), docker_cli=False)
    # one ssh connection carries many requests: a `ps` is one ssh process, however many requests it makes
    log_before = (sshd.dir / "sshd.log").read_text().count("Accepted publickey")
    r = subprocess.run(
        [DOCKYARD, "-H", "ssh://dyhost-direct", "ps", "-a"], capture_output=True, text=True,
        env=sshd.client_env, timeout=60,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert (sshd.dir / "sshd.log").read_text().count("Accepted publickey") - log_before == 1


def _ssh_processes(sshd: Sshd) -> list[int]:
    """The ssh clients still running with this test's config (the wrapper's -F names the test's folder)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        # (a sharing master, the fixture's to end, is titled "ssh: PATH [mux]": its argv[0] is not "...ssh")
        if argv[0].endswith(b"ssh") and str(sshd.dir).encode() in b" ".join(argv) and b"-O" not in argv:
            found.append(int(pid))
    return found


def _no_ssh_left(sshd: Sshd) -> None:
    deadline = time.monotonic() + 5
    while _ssh_processes(sshd) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _ssh_processes(sshd)


def test_a_command_dials_the_connections_it_needs_at_once(sshd: Sshd, testbed: Testbed) -> None:
    """An attached ``run`` needs three connections (the requests, the attach stream, the wait for the exit):
    all three are dialed as the command starts, so their handshakes overlap, and each is used; a ``run -d``
    and a ``ps`` need one. None is left running after the command, nor after one that fails to parse."""
    ref = testbed.ref("busybox:latest")
    env = sshd.client_env
    pulled = subprocess.run([DOCKYARD, "-H", "ssh://dyhost", "pull", "-q", ref], env=env, capture_output=True)
    assert pulled.returncode == 0, pulled.stderr

    def accepted() -> int:
        return (sshd.dir / "sshd.log").read_text().count("Accepted publickey")

    for args, connections, printed in (
        (["run", "--rm", ref, "echo", "hi"], 3, "hi\n"),
        (["run", "-d", "--rm", ref, "true"], 1, None),  # (the container's id)
        (["ps", "-a"], 1, None),
    ):
        before = accepted()
        cmd = [DOCKYARD, "-H", "ssh://dyhost-direct", *args]
        r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)
        assert r.returncode == 0, r.stderr
        assert printed is None or r.stdout == printed
        assert accepted() - before == connections, args
        _no_ssh_left(sshd)
    r = subprocess.run(
        [DOCKYARD, "-H", "ssh://dyhost-direct", "ps", "--no-such-flag"], capture_output=True, text=True,
        env=env, timeout=60,
    )  # fmt: skip
    assert r.returncode == 125 and "--no-such-flag" in r.stderr, r.stderr
    _no_ssh_left(sshd)


def test_commands_share_one_ssh_connection(sshd: Sshd) -> None:
    """With sharing on (dockyard's default, off in the other tests): the first command's ssh leaves a master
    connection, in a private folder, and the next commands open sessions over it: three commands, one
    handshake. Its master is the test's to end."""
    runtime = Path(tempfile.mkdtemp(prefix="dyrt-"))  # a socket's path must fit in 108 bytes
    env = {**sshd.client_env, "DOCKYARD_SSH_PERSIST": "30", "XDG_RUNTIME_DIR": str(runtime)}
    folder = runtime / "dockyard-ssh"
    try:
        before = (sshd.dir / "sshd.log").read_text().count("Accepted publickey")
        for _ in range(3):
            r = subprocess.run(
                [DOCKYARD, "-H", "ssh://dyhost-direct", "ps", "-a"], capture_output=True, text=True, env=env,
                timeout=60,
            )  # fmt: skip
            assert r.returncode == 0, r.stderr
        assert (sshd.dir / "sshd.log").read_text().count("Accepted publickey") - before == 1
        assert folder.stat().st_mode & 0o777 == 0o700
        assert len(list(folder.iterdir())) == 1
        r = subprocess.run(
            [DOCKYARD, "-H", "ssh://dyhost-direct", "ps"], capture_output=True, text=True,
            env={**env, "DOCKYARD_SSH_PERSIST": "soon"}, timeout=60,
        )  # fmt: skip
        assert r.returncode == 1 and r.stderr.startswith("Error: DOCKYARD_SSH_PERSIST='soon': "), r.stderr
    finally:
        for sock in folder.iterdir() if folder.exists() else []:
            master = ["/usr/bin/ssh", "-S", str(sock), "-O", "exit", "x"]
            subprocess.run(master, capture_output=True, timeout=10)
        shutil.rmtree(runtime, ignore_errors=True)


@pytest.mark.parametrize(
    ("host", "words"),
    [
        ("ssh://otherkey", "Permission denied"),
        ("ssh://unknownhost", "Host key verification failed"),
        ("ssh://root@127.0.0.1:1", "Connection refused"),
    ],
)
def test_ssh_failures_are_one_line_within_seconds(sshd: Sshd, host: str, words: str) -> None:
    t0 = time.monotonic()
    r = subprocess.run(
        [DOCKYARD, "-H", host, "ps"], capture_output=True, text=True, env=sshd.client_env, timeout=30,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert time.monotonic() - t0 < 8
    assert r.returncode == 1, r.stderr
    assert r.stderr.startswith(f"Error: Cannot connect to the Docker daemon at {host}: "), r.stderr
    assert words in r.stderr and r.stderr.count("\n") == 1, r.stderr


def test_docker_host_over_ssh(dockerd: Dockerd, testbed: Testbed, tmp_path: Path) -> None:  # noqa: F811
    """To a docker host (no dockyard in its PATH): ``docker system dial-stdio`` there, to the dockerd the
    test started; the docker CLI over the same ssh is the reference."""
    host_env = f"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin DOCKER_HOST={dockerd.host}"
    with start_sshd(tmp_path / "ssh", tmp_path / "client-config", host_env, multiplex=True) as sshd:
        host = "ssh://dyhost"

        def run(*args: str, input: str | None = None, check: bool = True, timeout: float = 120):  # type: ignore[no-untyped-def]
            r = subprocess.run(
                [DOCKYARD, "-H", host, *args], capture_output=True, text=True, input=input,
                env=sshd.client_env, timeout=timeout,
            )  # fmt: skip
            if check:
                assert r.returncode == 0, (
                    f"dockyard -H {host} {' '.join(args)}: rc {r.returncode}\n{r.stderr}"
                )
            return r

        assert run("version", "--format", "{{.Server.APIVersion}}").stdout == "1.41\n"
        scenario(run, host, sshd.client_env, testbed.ref("busybox:latest"))
