"""HTTP/1.1 to a Docker-API engine over the connections :mod:`core.remote.endpoint` (unix, tcp, TLS) and
:mod:`core.remote.ssh` open: what the remote client needs and no more. Requests with a JSON or byte body
(``Content-Length``) or a streamed one (``Transfer-Encoding: chunked``, as build and load send); answers
framed by ``Content-Length``, chunked, or the connection's end; keep-alive, so one command's ping and its
requests share one connection (as the docker CLI's); a streamed answer that another thread can end.

Why not httpx here: a remote command's whole budget is the docker CLI's time for the same command (~30 ms
for ``ps``), and ``import httpx`` costs ~100 ms on this path (httpcore imports trio and anyio when they are
installed, then http.client, email, cookiejar, ...). httpx stays the registry client (core/images)."""

from __future__ import annotations

import contextlib
import json
import select
import socket
from _thread import allocate_lock  # threading.Lock, without importing threading (~0.8 ms)
from collections.abc import Callable, Iterator

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~3 ms of a remote command)
if TYPE_CHECKING:
    from typing import Any

MAX_HEAD = 64 << 10
MAX_IDLE = 8  # kept-alive connections per engine
_NO_BODY = frozenset({204, 304})


class WireError(OSError):
    """The engine's answer was not HTTP/1.1 we can read, or the connection ended in the middle of it."""


class Headers(dict[str, str]):
    """An answer's headers, by lower-cased name (``get`` takes any case)."""

    def get(self, key: str, default: Any = None) -> Any:
        return super().get(key.lower(), default)

    def __getitem__(self, key: str) -> str:
        return super().__getitem__(key.lower())

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and super().__contains__(key.lower())


class Reader:
    """A socket's input, buffered, knowing how much it holds (a streamed answer's chunks that have already
    arrived are handed on together, not one by one: dockerd sends each log line as a chunk of its own)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = bytearray()
        self.pos = 0

    def _fill(self) -> bool:
        data = self.sock.recv(1 << 16)
        if not data:
            return False
        if self.pos:
            del self.buf[: self.pos]
            self.pos = 0
        self.buf += data
        return True

    def buffered(self) -> int:
        return len(self.buf) - self.pos

    def _take(self, n: int) -> bytes:
        out = bytes(self.buf[self.pos : self.pos + n])
        self.pos += len(out)
        return out

    def readline(self, limit: int = MAX_HEAD) -> bytes:
        """A line with its end; what is left at the connection's end (b"" if nothing)."""
        while True:
            end = self.buf.find(b"\n", self.pos)
            if end >= 0:
                return self._take(end + 1 - self.pos)
            if self.buffered() > limit:
                raise WireError("the engine sent an oversized line")
            if not self._fill():
                return self._take(self.buffered())

    def whole_chunks(self) -> list[bytes]:
        """The data of the chunks (of a chunked body) that have arrived whole, taken, without waiting; the
        last chunk (size 0) and one cut short are left. One pass over the buffer: dockerd sends each log
        line as a chunk of its own, and a function call or two per chunk was most of a log's reading."""
        buf, pos, out = self.buf, self.pos, []
        have = len(buf)
        while (end := buf.find(b"\n", pos)) >= 0:
            size = _chunk_size(bytes(buf[pos : end + 1]))
            start = end + 1
            stop = start + size
            if size == 0 or stop >= have:
                break
            if buf[stop] == 0x0A:  # a bare LF, as the line reader takes it too
                after = stop + 1
            elif buf[stop : stop + 2] == b"\r\n":
                after = stop + 2
            elif stop + 1 == have and buf[stop] == 0x0D:
                break  # its LF has not arrived yet
            else:
                raise WireError("a chunk of the engine's answer does not end where its size says")
            out.append(bytes(buf[start:stop]))
            pos = after
        self.pos = pos
        return out

    def read(self, n: int) -> bytes:
        """``n`` bytes, fewer only at the connection's end."""
        while self.buffered() < n:
            if not self._fill():
                break
        return self._take(n)

    def read1(self, n: int) -> bytes:
        """What has arrived (up to ``n``), waiting only when nothing has."""
        if not self.buffered() and not self._fill():
            return b""
        return self._take(n)


class Connection:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.rfile = Reader(sock)
        self.reused = False

    def stale(self) -> bool:
        """An idle kept-alive connection the engine closed (readable while idle: EOF, or junk)."""
        try:
            readable, _, _ = select.select([self.sock], [], [], 0)
        except (OSError, ValueError):
            return True
        return bool(readable)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


class Response:
    """A whole answer, read."""

    def __init__(self, status: int, reason: str, headers: Headers, content: bytes) -> None:
        self.status_code = status
        self.reason_phrase = reason
        self.headers = headers
        self.content = content

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.content)


class Pool:
    """Connections to one engine, opened by ``opener`` (a connected socket, TLS wrapped if it must be)."""

    def __init__(self, opener: Callable[[], socket.socket], host: str) -> None:
        self.opener = opener
        self.host = host
        self._idle: list[Connection] = []
        self._lock = allocate_lock()
        self._closed = False

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
            self._closed = True
        for conn in idle:
            conn.close()

    def _take(self) -> Connection:
        while True:
            with self._lock:
                conn = self._idle.pop() if self._idle else None
            if conn is None:
                return Connection(self.opener())
            if conn.stale():
                conn.close()
                continue
            conn.reused = True
            return conn

    def _give_back(self, conn: Connection) -> None:
        with self._lock:
            if not self._closed and len(self._idle) < MAX_IDLE:
                self._idle.append(conn)
                return
        conn.close()

    # ------------------------------------------------------------------------------------ requests
    def send(
        self,
        method: str,
        target: str,
        headers: dict[str, str],
        body: bytes | Iterator[bytes] | None,
        timeout: float | None,
    ) -> tuple[Connection, int, str, Headers]:
        """Send a request and read its answer's head; the connection is then the caller's (read the body
        with :func:`read_body` or :class:`Body`). A kept-alive connection that the engine closed before it
        answered is replaced by a new one, once (as Go's and httpx's clients do)."""
        head = _head(method, target, self.host, headers, body)
        while True:
            conn = self._take()
            reused = conn.reused
            try:
                conn.sock.settimeout(timeout)
                _write(conn.sock, head, body)
                status, reason, answer = _read_head(conn.rfile, method)
            except BaseException as err:
                conn.close()
                if reused and not isinstance(body, Iterator) and _closed_before_answer(err):
                    continue
                raise
            return conn, status, reason, answer

    def request(
        self,
        method: str,
        target: str,
        headers: dict[str, str],
        body: bytes | Iterator[bytes] | None,
        timeout: float | None,
    ) -> Response:
        conn, status, reason, answer = self.send(method, target, headers, body, timeout)
        try:
            content, reusable = read_body(conn, method, status, answer)
        except BaseException:
            conn.close()
            raise
        if reusable:
            self._give_back(conn)
        else:
            conn.close()
        return Response(status, reason, answer, content)

    def stream(
        self,
        method: str,
        target: str,
        headers: dict[str, str],
        body: bytes | Iterator[bytes] | None,
        timeout: float | None,
    ) -> Body:
        conn, status, reason, answer = self.send(method, target, headers, body, timeout)
        conn.sock.settimeout(None)  # a stream waits as long as the engine has nothing to say
        return Body(self, conn, method, status, reason, answer)


class Body:
    """An answer whose body is read as it comes (:meth:`chunks`); :meth:`close` from any thread ends a
    blocked read (it shuts the socket down, which wakes the reader)."""

    def __init__(
        self, pool: Pool, conn: Connection, method: str, status: int, reason: str, headers: Headers
    ) -> None:
        self._pool = pool
        self._conn: Connection | None = conn
        self.sock = conn.sock
        self.status_code = status
        self.reason_phrase = reason
        self.headers = headers
        self._method = method
        self._lock = allocate_lock()

    def chunks(self) -> Iterator[bytes]:
        conn = self._conn
        if conn is None:
            return
        reusable = False
        try:
            for chunk in _body_chunks(conn.rfile, self._method, self.status_code, self.headers):
                if chunk:
                    yield chunk
            reusable = _keep_alive(self.headers)
        finally:
            with self._lock:
                conn, self._conn = self._conn, None
            if conn is not None:
                if reusable:
                    self._pool._give_back(conn)
                else:
                    conn.close()

    def read(self) -> bytes:
        return b"".join(self.chunks())

    def close(self) -> None:
        with self._lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(OSError):
                conn.sock.shutdown(socket.SHUT_RDWR)
            conn.close()


# ---------------------------------------------------------------------------------------- the wire
def _head(method: str, target: str, host: str, headers: dict[str, str], body: object) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    if isinstance(body, bytes):
        lines.append(f"Content-Length: {len(body)}")
    elif body is not None:
        lines.append("Transfer-Encoding: chunked")
    elif method in ("POST", "PUT"):
        lines.append("Content-Length: 0")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _write(sock: socket.socket, head: bytes, body: bytes | Iterator[bytes] | None) -> None:
    if body is None:
        sock.sendall(head)
    elif isinstance(body, bytes):
        sock.sendall(head + body)
    else:
        sock.sendall(head)
        for chunk in body:
            if chunk:
                sock.sendall(b"%x\r\n%b\r\n" % (len(chunk), chunk))
        sock.sendall(b"0\r\n\r\n")


def _closed_before_answer(err: BaseException) -> bool:
    return isinstance(err, (BrokenPipeError, ConnectionResetError)) or (
        isinstance(err, WireError) and err.args[:1] == ("closed",)
    )


def _read_head(rfile: Reader, method: str) -> tuple[int, str, Headers]:
    while True:
        line = rfile.readline(MAX_HEAD)
        if not line:
            raise WireError("closed", "the engine closed the connection without an answer")
        try:
            version, status_text, *rest = line.decode("latin-1").rstrip("\r\n").split(" ", 2)
            status = int(status_text)
        except ValueError:
            raise WireError(f"not an HTTP answer: {line[:80]!r}") from None
        if not version.startswith("HTTP/1."):
            raise WireError(f"not an HTTP/1.1 answer: {line[:80]!r}")
        headers = Headers()
        size = len(line)
        while True:
            h = rfile.readline(MAX_HEAD)
            size += len(h)
            if not h:
                raise WireError("the engine closed the connection in the middle of an answer's head")
            if h in (b"\r\n", b"\n"):
                break
            if size > MAX_HEAD:
                raise WireError("the engine's answer has an oversized head")
            name, _, value = h.decode("latin-1").partition(":")
            key = name.strip().lower()
            value = value.strip()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        if 100 <= status < 200 and status != 101:
            continue  # 100 Continue: the answer follows
        return status, rest[0] if rest else "", headers


def _keep_alive(headers: Headers) -> bool:
    return "close" not in headers.get("connection", "").lower()


def _framed(method: str, status: int, headers: Headers) -> bool:
    """Whether the answer's end is known without the connection's end."""
    return (
        method == "HEAD"
        or status in _NO_BODY
        or "chunked" in headers.get("transfer-encoding", "").lower()
        or "content-length" in headers
    )


def read_body(conn: Connection, method: str, status: int, headers: Headers) -> tuple[bytes, bool]:
    """The whole body, and whether the connection can carry another request."""
    content = b"".join(_body_chunks(conn.rfile, method, status, headers))
    return content, _keep_alive(headers) and _framed(method, status, headers)


def _body_chunks(rfile: Reader, method: str, status: int, headers: Headers) -> Iterator[bytes]:
    if method == "HEAD" or status in _NO_BODY or status == 101:
        return
    if "chunked" in headers.get("transfer-encoding", "").lower():
        while True:
            size = _chunk_size(rfile.readline())
            if size == 0:
                _trailers(rfile)
                return
            data = _chunk(rfile, size)
            # the chunks that have already arrived go on with this one
            more = rfile.whole_chunks()
            yield data + b"".join(more) if more else data
    length = headers.get("content-length")
    if length is not None:
        try:
            left = int(length)
        except ValueError:
            raise WireError(f"bad Content-Length {length!r}") from None
        while left > 0:
            data = rfile.read1(min(left, 1 << 16))
            if not data:
                raise WireError("the engine closed the connection before the end of its answer")
            left -= len(data)
            yield data
        return
    while True:  # to the connection's end
        data = rfile.read1(1 << 16)
        if not data:
            return
        yield data


def _chunk_size(line: bytes) -> int:
    if not line:
        raise WireError("the engine closed the connection in the middle of a chunked answer")
    try:
        return int(line.split(b";", 1)[0].strip(), 16)
    except ValueError:
        raise WireError(f"bad chunk size {line[:40]!r}") from None


def _chunk(rfile: Reader, size: int) -> bytes:
    data = rfile.read(size)
    if len(data) < size:
        raise WireError("the engine closed the connection in the middle of a chunk")
    rfile.readline()  # the chunk's CRLF
    return data


def _trailers(rfile: Reader) -> None:
    while rfile.readline() not in (b"\r\n", b"\n", b""):
        pass
