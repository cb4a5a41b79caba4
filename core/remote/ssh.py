"""``ssh://[user@]host[:port]``: each connection to the engine is the system ``ssh`` binary running the
engine host's ``dial-stdio`` (``dockyard system dial-stdio`` on a dockyard host, ``docker system
dial-stdio`` on a docker one), its stdin and stdout one end of a socket pair; so ``~/.ssh/config``, agents,
``ProxyJump`` and ``known_hosts`` apply as for any ssh. HTTP keep-alive carries many requests over one ssh
process (core.remote.wire keeps its connections). ``BatchMode`` keeps ssh from ever asking for a password or
a host key answer (an unknown host key, a refused key: ssh exits, and its own words are the error), and
``ConnectTimeout`` bounds a dead host."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import threading
import time

from core.remote.endpoint import CONNECT_TIMEOUT, Endpoint, EngineUnreachable

# what runs on the engine's host: dockyard's dial-stdio where there is a dockyard, docker's otherwise
REMOTE_COMMAND = (
    "if command -v dockyard >/dev/null 2>&1; then exec dockyard system dial-stdio; "
    "else exec docker system dial-stdio; fi"
)


class SSHDialer:
    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        userhost, port = endpoint.address, ""
        if userhost.rsplit("@", 1)[-1].count(":") == 1:  # host:port (an IPv6 address would have more)
            userhost, port = userhost.rsplit(":", 1)
        self.user, _, self.host = userhost.rpartition("@")
        self.port = port
        self._lock = threading.Lock()
        self._procs: list[subprocess.Popen[bytes]] = []
        self.last_error = ""

    def argv(self) -> list[str]:
        argv = [
            os.environ.get("DOCKYARD_SSH", "ssh"),
            "-o", "BatchMode=yes",
            "-o", f"ConnectTimeout={int(CONNECT_TIMEOUT)}",
            "-o", "ServerAliveInterval=10",
            "-T", "-x",
        ]  # fmt: skip
        if self.user:
            argv += ["-l", self.user]
        if self.port:
            argv += ["-p", self.port]
        return [*argv, "--", self.host, REMOTE_COMMAND]

    def open_socket(self, timeout: float | None = None) -> socket.socket:
        """A new ssh process to the engine's dial-stdio; our end of its stdio."""
        ours, theirs = socket.socketpair()
        try:
            proc = subprocess.Popen(
                self.argv(),
                stdin=theirs.fileno(),
                stdout=theirs.fileno(),
                stderr=subprocess.PIPE,
                start_new_session=True,  # a ^C at the terminal is ours to handle, not ssh's
            )
        except OSError as err:
            ours.close()
            raise EngineUnreachable(f"cannot run ssh for {self.endpoint.url}: {err.strerror}") from None
        finally:
            theirs.close()
        with self._lock:
            self._procs = [p for p in self._procs if p.poll() is None] + [proc]
        threading.Thread(target=self._watch, args=(proc,), name="ssh-stderr", daemon=True).start()
        return ours

    def _watch(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stderr is not None
        text = proc.stderr.read().decode("utf-8", "replace")
        proc.wait()
        lines = [
            line.strip() for line in text.splitlines() if line.strip() and "Warning: Permanently" not in line
        ]
        if lines and proc.returncode:
            self.last_error = lines[-1]

    def failure(self, wait: float = 3.0) -> str:
        """Why the last ssh process ended (its last words), waiting a little for it to end."""
        deadline = time.monotonic() + wait
        with self._lock:
            procs = list(self._procs)
        for p in procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(max(0.0, deadline - time.monotonic()))
        time.sleep(0.05)  # the stderr reader's last line
        return self.last_error

    def close(self) -> None:
        with self._lock:
            procs, self._procs = self._procs, []
        for p in procs:
            if p.poll() is None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    p.wait(2)  # its stdin closed with our socket: it ends by itself
            if p.poll() is None:
                p.terminate()
                p.wait()
