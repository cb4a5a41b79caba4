"""core.remote.wire, the remote client's HTTP/1.1, against a real HTTP/1.1 server (the standard library's
``http.server``, over a unix socket in a temp dir): answers framed by Content-Length, chunked and by the
connection's end, keep-alive (one connection for many requests), a kept-alive connection the server closed
(replaced, once), chunked request bodies, and a stream ended from another thread."""

from __future__ import annotations

import json
import socket
import socketserver
import tempfile
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.remote import wire


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        pass

    def address_string(self) -> str:
        return "unix"

    def _body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", ""):
            out = b""
            while True:
                size = int(self.rfile.readline().strip(), 16)
                if size == 0:
                    self.rfile.readline()
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length", "0")))

    def _send(self, status: int, body: bytes, *, close: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self.server.requests.append((self.path, self.server.connections))
        if self.path == "/json":
            self._send(200, json.dumps({"ok": True, "path": self.path}).encode())
        elif self.path.startswith("/q?"):
            self._send(200, self.path.encode())
        elif self.path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for part in (b"one\n", b"two\n", b"three\n"):
                self.wfile.write(b"%x\r\n%b\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
        elif self.path == "/to-close":
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b"until the end")
            self.close_connection = True
        elif self.path == "/close-after":
            self._send(200, b"{}", close=True)
        elif self.path == "/missing":
            self._send(404, b'{"message": "No such container: x"}')
        elif self.path == "/forever":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.write(b"5\r\nfirst\r\n")
            self.wfile.flush()
            self.server.hold.wait(10)
            self.close_connection = True
        else:
            self._send(404, b"{}")

    def do_HEAD(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "123")
        self.send_header("X-Docker-Container-Path-Stat", "abc")
        self.end_headers()

    def do_POST(self) -> None:
        data = self._body()
        self.server.requests.append((self.path, self.server.connections))
        self._send(201, json.dumps({"got": data.decode()}).encode())


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def __init__(self, path: str) -> None:
        self.connections = 0
        self.requests: list[tuple[str, int]] = []
        self.hold = threading.Event()
        super().__init__(path, _Handler)

    def process_request(self, request: socket.socket, client_address: object) -> None:  # type: ignore[override]
        self.connections += 1
        super().process_request(request, client_address)


@pytest.fixture
def server() -> Iterator[tuple[_Server, wire.Pool]]:
    with tempfile.TemporaryDirectory(prefix="dockyard-wire-") as d:
        path = str(Path(d) / "http.sock")
        srv = _Server(path)
        thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()

        def opener() -> socket.socket:
            s = socket.socket(socket.AF_UNIX)
            s.connect(path)
            return s

        pool = wire.Pool(opener, "docker")
        try:
            yield srv, pool
        finally:
            srv.hold.set()
            pool.close()
            srv.shutdown()
            srv.server_close()
            thread.join(5)


def test_one_connection_carries_many_requests(server: tuple[_Server, wire.Pool]) -> None:
    srv, pool = server
    for _ in range(3):
        r = pool.request("GET", "/json", {}, None, 5.0)
        assert r.status_code == 200 and r.json() == {"ok": True, "path": "/json"}
    r = pool.request("POST", "/post", {"Content-Type": "application/json"}, b'{"a": 1}', 5.0)
    assert r.status_code == 201 and r.json() == {"got": '{"a": 1}'}
    assert srv.connections == 1
    assert [c for _, c in srv.requests] == [1, 1, 1, 1]


def test_chunked_and_to_the_end_answers(server: tuple[_Server, wire.Pool]) -> None:
    srv, pool = server
    assert pool.request("GET", "/chunked", {}, None, 5.0).content == b"one\ntwo\nthree\n"
    assert pool.request("GET", "/to-close", {}, None, 5.0).content == b"until the end"
    # the answer that ran to the connection's end cannot be followed on that connection: a new one
    assert pool.request("GET", "/json", {}, None, 5.0).status_code == 200
    assert srv.connections == 2


def test_head_answers_have_no_body_and_headers_any_case(server: tuple[_Server, wire.Pool]) -> None:
    _, pool = server
    r = pool.request("HEAD", "/archive", {}, None, 5.0)
    assert r.content == b"" and r.headers.get("x-docker-container-path-stat") == "abc"
    assert r.headers["X-Docker-Container-Path-Stat"] == "abc" and "Content-Length" in r.headers
    r = pool.request("GET", "/json", {}, None, 5.0)  # the connection is still in step
    assert r.json()["ok"] is True


def test_a_kept_alive_connection_the_server_closed_is_replaced(server: tuple[_Server, wire.Pool]) -> None:
    srv, pool = server
    assert pool.request("GET", "/close-after", {}, None, 5.0).status_code == 200
    assert pool.request("GET", "/json", {}, None, 5.0).status_code == 200
    assert srv.connections == 2
    # an idle connection the server ends while it waits in the pool
    for conn in list(pool._idle):
        conn.sock.shutdown(socket.SHUT_WR)  # the server sees EOF and closes its end
    time.sleep(0.2)
    assert pool.request("GET", "/json", {}, None, 5.0).status_code == 200
    assert srv.connections == 3


def test_a_streamed_request_body_goes_chunked(server: tuple[_Server, wire.Pool]) -> None:
    _, pool = server
    r = pool.request("POST", "/build", {}, iter([b"abc", b"", b"def" * 1000]), 5.0)
    assert r.json() == {"got": "abc" + "def" * 1000}


def test_error_answers_are_read_whole(server: tuple[_Server, wire.Pool]) -> None:
    _, pool = server
    r = pool.request("GET", "/missing", {}, None, 5.0)
    assert r.status_code == 404 and r.json()["message"] == "No such container: x"
    assert pool.request("GET", "/json", {}, None, 5.0).status_code == 200


def test_a_stream_is_ended_from_another_thread(server: tuple[_Server, wire.Pool]) -> None:
    srv, pool = server
    body = pool.stream("GET", "/forever", {}, None, 5.0)
    chunks = body.chunks()
    assert next(chunks) == b"first"
    got: list[object] = []

    def reader() -> None:
        try:
            got.extend(chunks)
        except OSError as err:
            got.append(err)

    t = threading.Thread(target=reader)
    t.start()
    time.sleep(0.1)
    assert t.is_alive()  # blocked on the server's silence
    t0 = time.monotonic()
    body.close()
    t.join(3)
    assert not t.is_alive() and time.monotonic() - t0 < 2
    srv.hold.set()


def test_no_answer_is_an_os_error() -> None:
    a, b = socket.socketpair()
    b.close()  # the far side is gone before it answers
    pool = wire.Pool(lambda: a, "docker")
    with pytest.raises(OSError):
        pool.request("GET", "/_ping", {}, None, 2.0)
    pool.close()


def test_request_targets() -> None:
    from core.remote.client import _params, _target

    assert _target("/v1.43/containers/json", None) == "/v1.43/containers/json"
    params = _params({"all": True, "filters": {"name": ["a b"]}, "size": None})
    assert _target("/v1.43/containers/json", params) == (
        "/v1.43/containers/json?all=1&filters=%7B%22name%22%3A+%5B%22a+b%22%5D%7D"
    )
    assert _target("/v1.43/images/get?names=a", [("x", "1")]) == "/v1.43/images/get?names=a&x=1"
    assert _target("/v1.43/containers/a b/json", None) == "/v1.43/containers/a%20b/json"
    assert _target("/v1.43/images/127.0.0.1:5000/x:1/json", None) == "/v1.43/images/127.0.0.1:5000/x:1/json"


@settings(max_examples=300, deadline=None)
@given(text=st.text(), safe=st.sampled_from(["", "/", "/:@!$&'()*+,;=%"]))
def test_quote_is_urllibs(text: str, safe: str) -> None:
    """The client's own percent-encoding (urllib.parse costs every remote command ~2 ms to import) gives
    urllib's bytes exactly, for any text: quote, quote_plus and urlencode."""
    from urllib.parse import quote as url_quote
    from urllib.parse import quote_plus, urlencode

    from core.remote.client import encode_query, quote

    assert quote(text, safe) == url_quote(text, safe=safe)
    assert quote(text, safe, plus=True) == quote_plus(text, safe=safe)
    assert encode_query([(text, text), ("k", safe)]) == urlencode([(text, text), ("k", safe)])


def test_chunks_that_have_arrived_go_on_together() -> None:
    """dockerd sends every log line as a chunk of its own: those already in hand are handed on as one piece,
    and a piece never waits for chunks still on the way."""
    ours, theirs = socket.socketpair()
    lines = [b"line %d\n" % i for i in range(100)]
    answer = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    answer += b"".join(b"%x\r\n%b\r\n" % (len(x), x) for x in lines)
    theirs.sendall(answer)
    pool = wire.Pool(lambda: ours, "docker")
    body = pool.stream("GET", "/logs", {}, None, 5.0)
    chunks = body.chunks()
    assert next(chunks) == b"".join(lines)  # one piece: all of it had arrived
    theirs.sendall(b"4\r\nlast\r\n")
    assert next(chunks) == b"last"  # and then what comes, as it comes (no wait for the end)
    theirs.sendall(b"0\r\n\r\n")
    assert list(chunks) == []
    theirs.close()
    pool.close()


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.binary(min_size=1, max_size=60), max_size=25),
    st.lists(st.integers(min_value=0), max_size=25),
    st.booleans(),
)
def test_a_chunked_answer_cut_anywhere_reads_back_whole(
    payloads: list[bytes], cuts: list[int], extensions: bool
) -> None:
    """The buffered chunks are taken in one pass (dockerd sends a chunk per log line): whatever the cuts
    between the reads (inside a size line, a payload, or between the CR and the LF after it), the body is
    the payloads in order."""
    ours, theirs = socket.socketpair()
    ext = b";name=value" if extensions else b""
    body = b"".join(b"%x%b\r\n%b\r\n" % (len(p), ext, p) for p in payloads) + b"0\r\n\r\n"
    answer = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + body
    at = sorted({c % (len(answer) + 1) for c in cuts})
    pieces = [answer[a:b] for a, b in zip([0, *at], [*at, len(answer)], strict=True)]

    def send() -> None:
        for piece in pieces:
            theirs.sendall(piece)
            time.sleep(0.001)  # most pieces reach the reader on their own

    writer = threading.Thread(target=send)
    writer.start()
    pool = wire.Pool(lambda: ours, "docker")
    try:
        got = b"".join(pool.stream("GET", "/logs", {}, None, 5.0).chunks())
    finally:
        writer.join()
        theirs.close()
        pool.close()
    assert got == b"".join(payloads)
