"""``ssh://[user@]host[:port]``: each connection to the engine is the system ``ssh`` binary running the
engine host's ``dial-stdio`` (``dockyard system dial-stdio`` on a dockyard host, ``docker system
dial-stdio`` on a docker one), its stdin and stdout one end of a socket pair; so ``~/.ssh/config``, agents,
``ProxyJump`` and ``known_hosts`` apply as for any ssh. HTTP keep-alive carries many requests over one ssh
process (core.remote.wire keeps its connections). ``BatchMode`` keeps ssh from ever asking for a password or
a host key answer (an unknown host key, a refused key: ssh exits, and its own words are the error), and
``ConnectTimeout`` bounds a dead host.

An ssh connection takes a handshake of 0.1-0.3 s before its first byte, longer than anything else a command
does. So, as ansible does, the commands share one connection per host: the first one's ssh leaves a master
connection behind (``ControlMaster auto``, ``ControlPersist`` 60 s after its last session, its socket in a
folder of the user's own), and the next commands' ssh open a session over it, with no handshake.
``$DOCKYARD_SSH_PERSIST`` sets the seconds; 0 turns the sharing off (then ``~/.ssh/config``'s own applies:
command-line options would override it). And :func:`dial_ahead` starts the connections a command will need
as soon as it knows its engine, so that their handshakes overlap each other and the command's own start-up
(imports, parsing), where the docker CLI makes them one after another; :meth:`SSHDialer.open_socket` takes
those first."""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from _thread import allocate_lock

from core.remote.endpoint import CONNECT_TIMEOUT, Endpoint, EngineUnreachable

# what runs on the engine's host: dockyard's dial-stdio where there is a dockyard, docker's otherwise
REMOTE_COMMAND = (
    "if command -v dockyard >/dev/null 2>&1; then exec dockyard system dial-stdio; "
    "else exec docker system dial-stdio; fi"
)


PERSIST = 60  # seconds a shared connection outlives its last session (ansible's ControlPersist)


def sharing_options() -> list[str]:
    """ssh's options for sharing one connection among the commands (none: sharing is off, or there is no
    private folder for its socket)."""
    from core.errors import InvalidArgument

    text = os.environ.get("DOCKYARD_SSH_PERSIST", str(PERSIST)).strip()
    if not text.isdigit():
        raise InvalidArgument(f"DOCKYARD_SSH_PERSIST={text!r}: a number of seconds (0: no shared connection)")
    folder = control_folder() if int(text) else None
    if folder is None:
        return []
    return [
        "-o", "ControlMaster=auto",
        "-o", f"ControlPath={folder}/%C",
        "-o", f"ControlPersist={int(text)}",
    ]  # fmt: skip


def control_folder() -> str | None:
    """Where the shared connections' sockets are: ``$XDG_RUNTIME_DIR/dockyard-ssh``, else
    ``~/.cache/dockyard/ssh``; made private. None if it is not ours alone (another user could reach the
    host through it) or its path leaves no room for a socket's name (108 bytes in all)."""
    import stat

    base = os.environ.get("XDG_RUNTIME_DIR")
    folder = os.path.join(base, "dockyard-ssh") if base else os.path.expanduser("~/.cache/dockyard/ssh")
    if len(folder.encode()) + 42 > 107:  # "/" and %C, a 40-character hash
        return None
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        st = os.lstat(folder)
    except OSError:
        return None
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
        return None
    return folder


class _Connection:
    """One ssh process and our end of its stdio; its stderr is read in a thread, its last words kept."""

    def __init__(self, argv: list[str], url: str) -> None:
        ours, theirs = socket.socketpair()
        try:
            self.proc = subprocess.Popen(
                argv,
                stdin=theirs.fileno(),
                stdout=theirs.fileno(),
                stderr=subprocess.PIPE,
                start_new_session=True,  # a ^C at the terminal is ours to handle, not ssh's
            )
        except OSError as err:
            ours.close()
            raise EngineUnreachable(f"cannot run ssh for {url}: {err.strerror}") from None
        finally:
            theirs.close()
        self.argv = argv
        self.sock = ours
        self.error = ""
        self._watcher = threading.Thread(target=self._watch, name="ssh-stderr", daemon=True)
        self._watcher.start()

    def _watch(self) -> None:
        assert self.proc.stderr is not None
        text = self.proc.stderr.read().decode("utf-8", "replace")
        self.proc.wait()
        lines = [
            line.strip() for line in text.splitlines() if line.strip() and "Warning: Permanently" not in line
        ]
        if lines and self.proc.returncode:
            self.error = lines[-1]

    def ended(self, wait: float) -> bool:
        """Whether ssh has ended and its last words are read, waiting up to ``wait`` seconds."""
        self._watcher.join(wait)
        return not self._watcher.is_alive()

    def close(self) -> None:
        """Our end closed, ssh ends by itself (its stdin is gone); stopped if it has not within 2 s."""
        self.sock.close()
        if not self.ended(2):
            self.proc.terminate()
            self.proc.wait()


_ahead: list[_Connection] = []  # connections dialed before anyone asked, for the dialer of the same argv
_ahead_lock = allocate_lock()


def dial_ahead(endpoint: Endpoint, count: int = 1) -> None:
    """Start ``count`` connections to ``endpoint`` now, for its :class:`SSHDialer` to take when it needs
    them. One that is never taken ends when this process does (its stdin closes with us)."""
    argv = SSHDialer(endpoint).argv()
    for _ in range(count):
        conn = _Connection(argv, endpoint.url)
        with _ahead_lock:
            _ahead.append(conn)


def _take_ahead(argv: list[str]) -> _Connection | None:
    with _ahead_lock:
        for i, conn in enumerate(_ahead):
            if conn.argv == argv:
                return _ahead.pop(i)
    return None


class SSHDialer:
    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        userhost, port = endpoint.address, ""
        if userhost.rsplit("@", 1)[-1].count(":") == 1:  # host:port (an IPv6 address would have more)
            userhost, port = userhost.rsplit(":", 1)
        self.user, _, self.host = userhost.rpartition("@")
        self.port = port
        self._lock = allocate_lock()
        self._conns: list[_Connection] = []
        self._argv: list[str] | None = None
        self.last_error = ""

    def argv(self) -> list[str]:
        """The ssh command line (worked out once: the environment's settings as they were then)."""
        if self._argv is None:
            self._argv = self._command()
        return self._argv

    def _command(self) -> list[str]:
        argv = [
            os.environ.get("DOCKYARD_SSH", "ssh"),
            "-o", "BatchMode=yes",
            "-o", f"ConnectTimeout={int(CONNECT_TIMEOUT)}",
            "-o", "ServerAliveInterval=10",
            "-T", "-x",
            *sharing_options(),
        ]  # fmt: skip
        if self.user:
            argv += ["-l", self.user]
        if self.port:
            argv += ["-p", self.port]
        return [*argv, "--", self.host, REMOTE_COMMAND]

    def open_socket(self, timeout: float | None = None) -> socket.socket:
        """Our end of an ssh process's stdio to the engine's dial-stdio: one dialed ahead, else a new one."""
        argv = self.argv()
        conn = _take_ahead(argv) or _Connection(argv, self.endpoint.url)
        with self._lock:
            for old in self._conns:
                if old.error and old.proc.poll() is not None:
                    self.last_error = old.error
            self._conns = [c for c in self._conns if c.proc.poll() is None] + [conn]
        return conn.sock

    def failure(self, wait: float = 3.0) -> str:
        """Why the last ssh process ended (its last words), waiting a little for it to end."""
        with self._lock:
            conns = list(self._conns)
        deadline = time.monotonic() + wait
        for conn in conns:
            conn.ended(max(0.0, deadline - time.monotonic()))
        words = [c.error for c in conns if c.error]
        return words[-1] if words else self.last_error

    def close(self) -> None:
        with self._lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            conn.close()
        with _ahead_lock:  # dialed for us and not taken
            unused = [c for c in _ahead if c.argv == self._argv]
            _ahead[:] = [c for c in _ahead if c not in unused]
        for conn in unused:
            conn.close()
