"""Debian's ``docker-registry`` (CNCF distribution 2.8) on 127.0.0.1, and the child processes of the bed.

Every child is started in its own session (Ctrl-C in the terminal reaches pytest, which then stops it in
order) with ``PR_SET_PDEATHSIG`` = SIGKILL (if pytest itself is killed, the kernel kills the child), and is
remembered so an ``atexit`` hook stops whatever a crashed session left running.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import http.client
import os
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tests.testbed.common import TestbedError, run, tool_env

REGISTRY_BIN = "docker-registry"
LOOPBACK = "127.0.0.1"

# resolved in the parent: calling into a freshly dlopen'ed libc in a forked child of a threaded
# process can deadlock on the loader lock
_libc = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1
_live: dict[int, subprocess.Popen[bytes]] = {}


def _die_with_parent(parent_pid: int) -> None:
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)


def spawn(argv: Sequence[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start a helper process whose stdout and stderr go to ``log``; it dies when this process dies."""
    parent = os.getpid()
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env or tool_env(),
            start_new_session=True,
            preexec_fn=lambda: _die_with_parent(parent),
        )
    _live[proc.pid] = proc
    return proc


def stop(proc: subprocess.Popen[bytes], timeout: float = 3.0) -> None:
    """SIGTERM, then SIGKILL after ``timeout``; always reaps. Only the process we started, by its Popen."""
    _live.pop(proc.pid, None)
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@atexit.register
def _stop_leftovers() -> None:
    for proc in list(_live.values()):
        with contextlib.suppress(Exception):
            stop(proc, timeout=1.0)


def free_port() -> int:
    """A port that was free a moment ago (bind 0, close). The caller retries if someone takes it first."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


def write_htpasswd(path: Path, user: str, password: str) -> None:
    # distribution's htpasswd backend accepts bcrypt entries only (-B); -n prints instead of editing a file
    path.write_text(run(["htpasswd", "-Bbn", user, password]).strip() + "\n")
    path.chmod(0o600)


@dataclass(frozen=True)
class HtpasswdAuth:
    htpasswd: Path
    realm: str = "dockyard-testbed"

    def config(self) -> str:
        return f"auth:\n  htpasswd:\n    realm: {self.realm}\n    path: {self.htpasswd}\n"


@dataclass(frozen=True)
class TokenAuth:
    realm: str  # the token server's URL, e.g. http://127.0.0.1:PORT/token
    service: str
    issuer: str
    rootcertbundle: Path  # PEM certificate(s) whose keys may sign tokens

    def config(self) -> str:
        return (
            "auth:\n  token:\n"
            f"    realm: {self.realm}\n    service: {self.service}\n"
            f"    issuer: {self.issuer}\n    rootcertbundle: {self.rootcertbundle}\n"
        )


def registry_config(port: int, storage: Path, auth: HtpasswdAuth | TokenAuth | None) -> str:
    """Our own config: loopback only (the packaged one listens on all interfaces), no TLS, no
    background upload purging (it would walk the storage at start), deletes allowed for tests."""
    text = f"""\
version: 0.1
log:
  level: info
  formatter: text
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: {storage}
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
  maintenance:
    uploadpurging:
      enabled: false
  redirect:
    disable: true
http:
  addr: {LOOPBACK}:{port}
  secret: dockyard-testbed-not-a-secret
  headers:
    X-Content-Type-Options: [nosniff]
"""
    return text + (auth.config() if auth else "")


@dataclass
class Registry:
    """One running registry. ``addr`` is ``127.0.0.1:PORT``."""

    name: str
    workdir: Path  # config.yml and registry.log live here
    storage: Path
    auth: HtpasswdAuth | TokenAuth | None = None
    port: int = 0
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def addr(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    @property
    def log(self) -> Path:
        return self.workdir / "registry.log"

    def launch(self) -> None:
        """Start the process on a fresh free port; call :meth:`wait_ready` afterwards."""
        self.port = free_port()
        cfg = self.workdir / "config.yml"
        cfg.write_text(registry_config(self.port, self.storage, self.auth))
        self.proc = spawn([REGISTRY_BIN, "serve", str(cfg)], self.log)

    def wait_ready(self, timeout: float = 15.0) -> bool:
        """True once /v2/ answers (200 or 401); False if the process exited (e.g. port taken)."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            if _answers(self.port):
                return True
            time.sleep(0.01)
        raise TestbedError(
            f"registry {self.name} did not answer on {self.addr} within {timeout:.0f} s: {self.tail()}"
        )

    def start(self, attempts: int = 5) -> None:
        start_all([self], attempts)

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc)
            self.proc = None

    def tail(self, lines: int = 5) -> str:
        try:
            return " | ".join(self.log.read_text(errors="replace").strip().splitlines()[-lines:])
        except OSError:
            return "(no log)"


def start_all(registries: Sequence[Registry], attempts: int = 5) -> None:
    """Launch all at once (they start in parallel), then wait; relaunch those that lost a port race."""
    pending = list(registries)
    for _ in range(attempts):
        for r in pending:
            r.workdir.mkdir(parents=True, exist_ok=True)
            r.storage.mkdir(parents=True, exist_ok=True)
            r.launch()
        pending = [r for r in pending if not r.wait_ready()]
        for r in pending:
            r.stop()
        if not pending:
            return
    names = ", ".join(f"{r.name}: {r.tail()}" for r in pending)
    raise TestbedError(f"registry failed to start after {attempts} attempts ({names})")


def _answers(port: int) -> bool:
    conn = http.client.HTTPConnection(LOOPBACK, port, timeout=1.0)
    try:
        conn.request("GET", "/v2/")
        status = conn.getresponse().status
    except OSError:
        return False
    finally:
        conn.close()
    return status in (200, 401)
