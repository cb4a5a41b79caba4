"""Attach and exec start over a hijacked connection, as the docker CLI does them: the request goes out with
``Connection: Upgrade`` / ``Upgrade: tcp``, the engine answers ``101 UPGRADED`` (or 200, from engines that
do not upgrade) and the socket then carries the process's output (Docker's 8-byte multiplexed frames, or
raw bytes with a terminal) one way and its stdin the other; a half-close is the end of input.

:class:`HijackedStream` is the :class:`core.interface.DuplexStream` over it: its fileno is the socket's,
input goes through a writer thread (``write`` never blocks; :attr:`input_backlog` is what waits), resize and
kill go through their endpoints, and the exit code comes from a wait (attach) or the exec's inspect (exec).
"""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import threading
from collections.abc import Callable

from core.errors import DockyardError
from core.interface import STDOUT, DuplexStream
from core.remote.client import encode_query, error_from_response
from core.remote.endpoint import Endpoint
from core.remote.frames import FrameDecoder

MAX_HEADER = 64 << 10


def _is_tls(sock: socket.socket) -> bool:
    """A TLS socket (ssl is imported only where TLS is used: a TLS socket means it is)."""
    ssl = sys.modules.get("ssl")
    return ssl is not None and isinstance(sock, ssl.SSLSocket)


def hijack(
    endpoint: Endpoint,
    open_socket: Callable[[], socket.socket],
    path: str,
    params: dict[str, str],
    body: object,
) -> socket.socket:
    """Send the upgrade request; the connected socket, positioned just after the answer's head (so that
    the first output byte makes its fd readable for a selector)."""
    sock = open_socket()
    try:
        data = json.dumps(body).encode() if body is not None else b""
        query = ""
        if params:
            query = f"?{encode_query(params.items())}"
        head = (
            f"POST {path}{query} HTTP/1.1\r\nHost: docker\r\nUser-Agent: dockyard-remote\r\n"
            "Connection: Upgrade\r\nUpgrade: tcp\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
        )
        sock.sendall(head.encode() + data)
        buf = _read_head(sock, endpoint, path)
        head_bytes, rest = buf.split(b"\r\n\r\n", 1)
        lines = head_bytes.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        if status >= 400:
            headers = {}
            for line in lines[1:]:
                k, _, v = line.partition(":")
                headers[k.strip().lower()] = v.strip()
            length = int(headers.get("content-length", "0") or 0)
            sock.settimeout(5)
            with contextlib.suppress(OSError):
                while len(rest) < length:
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    rest += chunk
            try:
                doc = json.loads(rest[:length] if length else rest)
                message = str(doc.get("message", doc)) if isinstance(doc, dict) else str(doc)
            except ValueError:
                message = rest.decode("utf-8", "replace").strip() or lines[0]
            raise error_from_response(status, message, _route(path))
        sock.settimeout(None)
        return sock
    except BaseException:
        with contextlib.suppress(OSError):
            sock.close()
        raise


def _read_head(sock: socket.socket, endpoint: Endpoint, path: str) -> bytes:
    """The answer up to its blank line, taking nothing of what follows: peeked on a plain socket, byte by
    byte (from OpenSSL's buffer, no system call each) on a TLS one."""
    buf = b""
    tls = _is_tls(sock)
    while True:
        chunk = sock.recv(1) if tls else sock.recv(65536, socket.MSG_PEEK)
        if not chunk:
            raise DockyardError(f"the engine at {endpoint.url} closed the connection during {_route(path)}")
        if tls:
            buf += chunk
            if buf.endswith(b"\r\n\r\n"):
                return buf
        else:
            end = (buf + chunk).find(b"\r\n\r\n")
            if end >= 0:
                take = end + 4 - len(buf)
                buf += sock.recv(take)
                while len(buf) < end + 4:
                    buf += sock.recv(end + 4 - len(buf))
                return buf
            buf += sock.recv(len(chunk))
        if len(buf) > MAX_HEADER:
            raise DockyardError(f"the engine at {endpoint.url} sent an oversized answer to {_route(path)}")


def _route(path: str) -> str:
    """``/v1.43/containers/x/attach`` -> ``/containers/x/attach`` (what error mapping looks at)."""
    if path.startswith("/v"):
        return "/" + path.split("/", 2)[2]
    return path


class HijackedStream(DuplexStream):
    def __init__(
        self,
        sock: socket.socket,
        *,
        tty: bool,
        resize: Callable[[int, int], object],
        kill: Callable[[int], object],
        exit_code: Callable[[], tuple[int | None, str]],
        stdin: bool,
    ) -> None:
        self.tty = tty
        self._sock: socket.socket | None = sock
        self._tls = _is_tls(sock)
        self._frames = FrameDecoder()
        self._ended = False
        self._resize = resize
        self._kill = kill
        self._exit_code = exit_code
        self._lock = threading.Condition()
        self._out: list[bytes] = []
        self._backlog = 0
        self._eof_asked = False
        self._writer: threading.Thread | None = None
        if stdin and not self._tls:
            self._writer = threading.Thread(target=self._write_loop, name="hijack-stdin", daemon=True)
            self._writer.start()

    # ------------------------------------------------------------------------------------ output
    def fileno(self) -> int:
        if self._sock is None:
            raise ValueError("the stream is closed")
        return self._sock.fileno()

    def read(self) -> list[tuple[int, bytes]] | None:
        if self._ended or self._sock is None:
            return None
        try:
            data = self._sock.recv(65536)
            while self._tls and data and self._sock.pending():  # type: ignore[attr-defined]
                data += self._sock.recv(65536)
        except (OSError, ValueError):
            data = b""
        if not data:
            self._end()
            return None
        if self.tty:
            return [(STDOUT, data)]
        return [(kind, payload) for kind, payload in self._frames.feed(data) if payload]

    def _end(self) -> None:
        self._ended = True
        if self.exit_code is None:
            try:
                self.exit_code, self.error = self._exit_code()
            except DockyardError as err:
                self.error = str(err)
        with self._lock:
            self._lock.notify_all()

    # ------------------------------------------------------------------------------------- input
    def write(self, data: bytes) -> None:
        if not data or self._ended or self._sock is None:
            return
        if self._writer is None:  # TLS (one thread at a time on an SSL object) or no stdin asked for
            with contextlib.suppress(OSError):
                self._sock.sendall(data)
            return
        with self._lock:
            self._out.append(data)
            self._backlog += len(data)
            self._lock.notify_all()

    @property
    def input_backlog(self) -> int:
        return self._backlog

    def _write_loop(self) -> None:
        while True:
            with self._lock:
                while not self._out and not self._eof_asked and not self._ended and self._sock is not None:
                    self._lock.wait()
                if self._sock is None or self._ended:
                    return
                chunk = b"".join(self._out)
                self._out.clear()
                eof = self._eof_asked and not chunk
                sock = self._sock
            if eof:
                _half_close(sock)
                return
            try:
                sock.sendall(chunk)
            except OSError:
                return
            finally:
                with self._lock:
                    self._backlog -= len(chunk)

    def close_stdin(self) -> None:
        if self._sock is None:
            return
        if self._writer is None:
            _half_close(self._sock)
            return
        with self._lock:
            self._eof_asked = True
            self._lock.notify_all()

    # ---------------------------------------------------------------------------------- control
    def resize(self, rows: int, cols: int) -> None:
        if self.tty and rows > 0 and cols > 0:
            with contextlib.suppress(DockyardError):
                self._resize(rows, cols)

    def kill(self, signum: int) -> None:
        self._kill(signum)

    def detach(self) -> None:
        self.close()

    def close(self) -> None:
        self._ended = True
        sock, self._sock = self._sock, None
        with self._lock:
            self._lock.notify_all()
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()


def _half_close(sock: socket.socket) -> None:
    """The end of input, with the connection still open for output: a TCP half-close; over TLS (where
    ``shutdown`` would drop the TLS layer, and the output with it) TLS's close_notify alone, as Go's
    ``tls.Conn.CloseWrite`` sends it, without waiting for the engine's (OpenSSL reads on after it)."""
    if _is_tls(sock):
        import ssl

        sslobj = getattr(sock, "_sslobj", None)
        if sslobj is None:
            return
        timeout = sock.gettimeout()
        sock.setblocking(False)
        try:
            sslobj.shutdown()
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError, ssl.SSLError, OSError):
            pass
        finally:
            sock.settimeout(timeout)
        return
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_WR)
