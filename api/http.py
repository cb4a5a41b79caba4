"""HTTP/1.1 for the Engine API on the standard library's ``BaseHTTPRequestHandler``: one thread per
connection (so a stream never blocks another request), versioned paths, Docker's error documents, request
bodies with a length or chunked, close-delimited streamed responses, and hijacking (``101 UPGRADED``: the
handler then owns the socket).

The standard library's server was chosen over an asyncio or WSGI stack because attach and exec take over
the connection after the response line: with a thread per connection that is a plain socket the handler
keeps, while WSGI has no hijack and asyncio would put every engine call (all blocking) behind a thread pool.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import re
import select
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote

from core.errors import (
    AuthenticationError,
    Conflict,
    DockyardError,
    InvalidArgument,
    NotFound,
)

if TYPE_CHECKING:
    from api.app import App

API_VERSION = "1.43"
MIN_API_VERSION = "1.24"
MAX_JSON_BODY = 8 * 1024 * 1024  # a create or build request is a few kB; anything this large is refused
_VERSIONED = re.compile(r"^/v(\d+)\.(\d+)(/.*)$")


class ApiError(Exception):
    """An error answered as Docker's ``{"message": ...}`` with ``status``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class NotModified(Exception):
    """304: start of a started container, stop of a stopped one."""


class ClientGone(Exception):
    """The client closed the connection while we were answering it."""


def status_for(err: BaseException) -> int:
    """Docker's status code for an engine error."""
    if isinstance(err, ApiError):
        return err.status
    if isinstance(err, NotFound):
        return 404
    if isinstance(err, Conflict):
        return 409
    if isinstance(err, InvalidArgument):
        return 400
    if isinstance(err, AuthenticationError):
        return 401
    return 500


def error_message(err: BaseException) -> str:
    if isinstance(err, ApiError | DockyardError):
        return str(err)
    if isinstance(err, OSError):
        reason = err.strerror or str(err) or type(err).__name__
        where = f"{err.filename}: " if err.filename else ""
        return f"{where}{reason[:1].lower()}{reason[1:]}"
    return f"{type(err).__name__}: {err}"


# ------------------------------------------------------------------------------------------- request bodies


class Body:
    """A request's body as a file: ``Content-Length`` bytes, or chunks (``Transfer-Encoding: chunked``, what
    the docker CLI sends for a build context, ``cp`` and ``load``)."""

    def __init__(self, rfile: Any, headers: Any) -> None:
        self._rfile = rfile
        self._chunked = "chunked" in str(headers.get("Transfer-Encoding", "")).lower()
        length = headers.get("Content-Length")
        try:
            self._left = int(length) if length is not None and not self._chunked else 0
        except ValueError:
            raise ApiError(400, f"invalid Content-Length: {length!r}") from None
        if self._left < 0:
            raise ApiError(400, f"invalid Content-Length: {length!r}")
        self._chunk_left = 0
        self._done = not self._chunked and self._left == 0

    @property
    def done(self) -> bool:
        return self._done

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            parts = []
            while chunk := self.read(1 << 20):
                parts.append(chunk)
            return b"".join(parts)
        # as a buffered file does: n bytes unless the body ends first (chunks are joined)
        out = bytearray()
        while len(out) < n:
            piece = self._read1(n - len(out))
            if not piece:
                break
            out += piece
        return bytes(out)

    def _read1(self, n: int) -> bytes:
        if self._done or n == 0:
            return b""
        if not self._chunked:
            data = self._rfile.read(min(n, self._left))
            if not data:
                raise ApiError(400, "the request body ended early")
            self._left -= len(data)
            self._done = self._left == 0
            return data
        if self._chunk_left == 0:
            line = self._rfile.readline(1024)
            if not line.endswith(b"\n"):
                raise ApiError(400, "a malformed chunked request body")
            try:
                self._chunk_left = int(line.split(b";")[0].strip(), 16)
            except ValueError:
                raise ApiError(400, "a malformed chunked request body") from None
            if self._chunk_left == 0:
                while self._rfile.readline(1024).strip():  # trailers, then the blank line
                    pass
                self._done = True
                return b""
        data = self._rfile.read(min(n, self._chunk_left))
        if not data:
            raise ApiError(400, "the request body ended early")
        self._chunk_left -= len(data)
        if self._chunk_left == 0:
            self._rfile.readline(16)  # the CRLF after a chunk
        return data

    def read_all(self, limit: int) -> bytes:
        """The whole body; ApiError 400 if it is larger than ``limit``."""
        parts: list[bytes] = []
        size = 0
        while chunk := self.read(1 << 20):
            size += len(chunk)
            if size > limit:
                raise ApiError(400, f"the request body is larger than {limit} bytes")
            parts.append(chunk)
        return b"".join(parts)

    def readinto(self, b: Any) -> int:
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)

    def drain(self, limit: int = 1 << 20) -> bool:
        """Read what is left (up to ``limit``), so the connection can take the next request."""
        taken = 0
        while not self._done and taken <= limit:
            taken += len(self.read(65536))
        return self._done

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        pass


# ------------------------------------------------------------------------------------------------ requests


class Request:
    """One request as a route sees it: path parameters, query, headers, body, and the ways to answer."""

    def __init__(self, handler: Handler, method: str, path: str, query: dict[str, list[str]]) -> None:
        self.handler = handler
        self.app: App = handler.server.app  # type: ignore[attr-defined]
        self.engine = self.app.engine
        self.method = method
        self.path = path
        self.query = query
        self.headers = handler.headers
        self.params: dict[str, str] = {}
        self.body = Body(handler.rfile, handler.headers)
        self.answered = False
        self.streaming = False

    # -------------------------------------------------------------- query
    def q(self, name: str, default: str = "") -> str:
        values = self.query.get(name)
        return values[-1] if values else default

    def has(self, name: str) -> bool:
        return name in self.query

    def qbool(self, name: str, default: bool = False) -> bool:
        if name not in self.query:
            return default
        value = self.q(name).strip().lower()
        if value in ("1", "true", "yes", "on"):
            return True
        if value in ("0", "false", "no", "off", ""):
            return False
        raise ApiError(400, f"invalid value for {name}: {self.q(name)!r} (expected a boolean)")

    def qint(self, name: str, default: int | None = None) -> int | None:
        text = self.q(name).strip()
        if not text:
            return default
        try:
            return int(text)
        except ValueError:
            raise ApiError(400, f"invalid value for {name}: {text!r} (expected a whole number)") from None

    def qfloat(self, name: str) -> float | None:
        text = self.q(name).strip()
        if not text:
            return None
        try:
            return float(text)
        except ValueError:
            raise ApiError(400, f"invalid value for {name}: {text!r} (expected a number)") from None

    def qjson(self, name: str) -> Any:
        text = self.q(name)
        if not text:
            return None
        try:
            return json.loads(text)
        except ValueError:
            raise ApiError(400, f"invalid value for {name}: not JSON") from None

    # --------------------------------------------------------------- body
    def json(self, *, required: bool = False) -> Any:
        """The body as JSON (None when there is none and it is not ``required``)."""
        try:
            data = self.body.read_all(MAX_JSON_BODY)
        except ApiError:
            self.handler.close_connection = True
            raise
        if not data.strip():
            if required:
                raise ApiError(400, "the request needs a JSON body")
            return None
        try:
            return json.loads(data)
        except ValueError as err:
            raise ApiError(400, f"malformed JSON in the request body: {err}") from None

    def json_object(self, *, required: bool = False) -> dict[str, Any]:
        value = self.json(required=required)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise ApiError(400, "the request body must be a JSON object")
        return value

    # ------------------------------------------------------------ answers
    def _headers(self, status: int, headers: dict[str, str], reason: str | None = None) -> None:
        h = self.handler
        h.send_response(status, reason)
        h.send_header("Api-Version", API_VERSION)
        h.send_header("Docker-Experimental", "false")
        h.send_header("Ostype", "linux")
        for k, v in headers.items():
            h.send_header(k, v)
        h.end_headers()
        self.answered = True

    def send_json(self, obj: Any, status: int = 200) -> None:
        data = json.dumps(obj).encode() + b"\n"
        self.send_bytes(data, status, "application/json")

    def send_bytes(self, data: bytes, status: int = 200, content_type: str = "text/plain") -> None:
        self._finish_body()
        self._headers(status, {"Content-Type": content_type, "Content-Length": str(len(data))})
        if self.method != "HEAD":
            self.handler.wfile.write(data)

    def send_empty(self, status: int = 204, headers: dict[str, str] | None = None) -> None:
        self._finish_body()
        extra = {} if status in (204, 304) else {"Content-Length": "0"}
        self._headers(status, {**extra, **(headers or {})})

    def _finish_body(self) -> None:
        """Anything the route did not read of the body is read now, so the connection can go on."""
        try:
            if not self.body.done and not self.body.drain():
                self.handler.close_connection = True
        except (ApiError, OSError):
            self.handler.close_connection = True

    def start_stream(
        self, content_type: str, status: int = 200, headers: dict[str, str] | None = None
    ) -> None:
        """Answer with a body that ends when the connection closes (Docker's streams: pull progress, logs,
        events, stats, exports)."""
        self.handler.close_connection = True
        self.streaming = True
        self._headers(
            status,
            {
                "Content-Type": content_type,
                "Transfer-Encoding": "chunked",  # docker-py reads a stream only when it is chunked
                "Connection": "close",
                **(headers or {}),
            },
        )
        self.handler.wfile.flush()

    def write(self, data: bytes) -> None:
        if not data:
            return
        try:
            self.handler.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.handler.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, OSError) as err:
            raise ClientGone() from err

    def end_stream(self) -> None:
        """The last chunk of a streamed answer."""
        if self.streaming:
            self.streaming = False
            with contextlib.suppress(OSError):
                self.handler.wfile.write(b"0\r\n\r\n")
                self.handler.wfile.flush()

    def write_json(self, obj: Any) -> None:
        self.write(json.dumps(obj).encode() + b"\n")

    def hijack(self, content_type: str) -> tuple[socket.socket, bytes]:
        """Answer ``101 UPGRADED`` (or 200 to a client that asked for no upgrade, as dockerd does) and take
        the connection: the socket and what the client had already sent past the request."""
        upgrade = "upgrade" in str(self.headers.get("Connection", "")).lower()
        self.handler.close_connection = True
        if upgrade:
            headers = {"Content-Type": content_type, "Connection": "Upgrade", "Upgrade": "tcp"}
            self._headers(101, headers, "UPGRADED")  # dockerd's words
        else:
            self._headers(200, {"Content-Type": content_type})
        self.handler.wfile.flush()
        sock: socket.socket = self.handler.connection
        early = b""
        sock.setblocking(False)
        try:
            early = self.handler.rfile.peek(65536)[:65536]  # type: ignore[attr-defined]
            if early:
                self.handler.rfile.read(len(early))
        except (BlockingIOError, OSError, ValueError):
            early = b""
        finally:
            sock.setblocking(True)
        return sock, early or b""

    def watch_disconnect(self, on_gone: Callable[[], None]) -> Callable[[], None]:
        """Call ``on_gone`` once the client closes the connection (a stream whose client went away ends and
        frees what it held: a pull or build is cancelled). Returns the way to stop watching."""
        sock: socket.socket = self.handler.connection
        stop_r, stop_w = socket.socketpair()

        def watch() -> None:
            try:
                while True:
                    ready, _, _ = select.select([sock, stop_r], [], [])
                    if stop_r in ready:
                        return
                    try:
                        data = sock.recv(4096, socket.MSG_PEEK)
                    except (BlockingIOError, InterruptedError):
                        continue
                    except OSError:
                        data = b""
                    if not data:
                        on_gone()
                        return
                    # the client sent more (a pipelined request): it is not gone; look again later
                    if stop_r in select.select([stop_r], [], [], 0.2)[0]:
                        return
            except (OSError, ValueError):
                return
            finally:
                stop_r.close()

        threading.Thread(target=watch, name="api-disconnect", daemon=True).start()

        def stop() -> None:
            with contextlib.suppress(OSError):
                stop_w.send(b"x")
                stop_w.close()

        return stop


# ------------------------------------------------------------------------------------------------ handler

Route = tuple[str, "re.Pattern[str]", Callable[[Request], None]]


_MAX_LINE = 65536  # http.client's limits on a header line and on the number of headers
_MAX_HEADERS = 100


def read_headers(rfile: Any) -> http.client.HTTPMessage:
    """A request's headers into the message ``http.client.parse_headers`` makes, with its limits (431 past
    them), but without its email parser, which costs a fifth of a small request's time. A line that is no
    ``Name: value`` (or folded, obsolete in HTTP/1.1) is refused (ValueError: 400), where the email parser
    would quietly drop it and all that follows."""
    msg = http.client.HTTPMessage()
    for _ in range(_MAX_HEADERS + 1):
        line = rfile.readline(_MAX_LINE + 1)
        if len(line) > _MAX_LINE:
            raise http.client.LineTooLong("header line")
        if line in (b"\r\n", b"\n", b""):
            return msg
        text = line.decode("iso-8859-1")
        name, colon, value = text.partition(":")
        if not colon or not name or name != name.strip() or text[0] in " \t":
            raise ValueError(f"malformed header line {text.rstrip()[:80]!r}")
        msg.set_raw(name, value.lstrip(" \t").rstrip("\r\n"))  # as the email parser's compat32 policy
    raise http.client.HTTPException(f"got more than {_MAX_HEADERS} headers")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    sys_version = ""
    server_version = "Dockyard"
    raw_requestline: bytes  # set by the library's handle_one_request

    def parse_request(self) -> bool:
        """The standard library's ``parse_request`` (the request line as it reads it, the same errors), with
        the headers read by :func:`read_headers`: the library's email parser costs a fifth of a small
        request's time even when there is nothing to parse."""
        self.command = None  # type: ignore[assignment]  # set in case of an error on the first line
        self.request_version = version = self.default_request_version
        self.close_connection = True
        requestline = str(self.raw_requestline, "iso-8859-1").rstrip("\r\n")
        self.requestline = requestline
        words = requestline.split()
        if not words:
            return False
        if len(words) >= 3:  # enough to tell the protocol version
            version = words[-1]
            try:
                if not version.startswith("HTTP/"):
                    raise ValueError
                numbers = version.split("/", 1)[1].split(".")
                if len(numbers) != 2:
                    raise ValueError
                number = int(numbers[0]), int(numbers[1])
            except (ValueError, IndexError):
                self.send_error(HTTPStatus.BAD_REQUEST, f"Bad request version ({version!r})")
                return False
            if number >= (1, 1) and self.protocol_version >= "HTTP/1.1":
                self.close_connection = False
            if number >= (2, 0):
                self.send_error(
                    HTTPStatus.HTTP_VERSION_NOT_SUPPORTED, f"Invalid HTTP version ({number[0]}.{number[1]})"
                )
                return False
            self.request_version = version
        if not 2 <= len(words) <= 3:
            self.send_error(HTTPStatus.BAD_REQUEST, f"Bad request syntax ({requestline!r})")
            return False
        command, path = words[:2]
        if len(words) == 2:
            self.close_connection = True
            if command != "GET":
                self.send_error(HTTPStatus.BAD_REQUEST, f"Bad HTTP/0.9 request type ({command!r})")
                return False
        self.command, self.path = command, path
        if self.path.startswith("//"):
            self.path = "/" + self.path.lstrip("/")  # as the library: never an absolute URI without scheme
        try:
            self.headers = read_headers(self.rfile)
        except http.client.LineTooLong as err:
            self.send_error(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "Line too long", str(err))
            return False
        except http.client.HTTPException as err:
            self.send_error(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "Too many headers", str(err))
            return False
        except ValueError as err:
            self.close_connection = True
            self.send_error(HTTPStatus.BAD_REQUEST, "Bad request headers", str(err))
            return False
        # Connection and Expect, as the library reads them
        conntype = self.headers.get("Connection", "").lower()
        if conntype == "close":
            self.close_connection = True
        elif conntype == "keep-alive" and self.protocol_version >= "HTTP/1.1":
            self.close_connection = False
        expect = self.headers.get("Expect", "").lower()
        http11 = self.protocol_version >= "HTTP/1.1" and self.request_version >= "HTTP/1.1"
        if expect == "100-continue" and http11:
            return self.handle_expect_100()
        return True

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.app.verbose:  # type: ignore[attr-defined]
            sys.stderr.write(f"api: {format % args}\n")

    def version_string(self) -> str:
        return self.server.app.server_header  # type: ignore[attr-defined]

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except (ConnectionResetError, BrokenPipeError, ClientGone):
            self.close_connection = True

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        raw_path, _, qs = self.path.partition("?")
        path = raw_path
        app = self.server.app  # type: ignore[attr-defined]
        req: Request | None = None
        try:
            m = _VERSIONED.match(raw_path)
            if m:
                version = (int(m.group(1)), int(m.group(2)))
                path = m.group(3)
                if version > _tuple(API_VERSION):
                    raise ApiError(
                        400,
                        f"client version {m.group(1)}.{m.group(2)} is too new. "
                        f"Maximum supported API version is {API_VERSION}",
                    )
                if version < _tuple(MIN_API_VERSION):
                    raise ApiError(
                        400,
                        f"client version {m.group(1)}.{m.group(2)} is too old. "
                        f"Minimum supported API version is {MIN_API_VERSION}, please upgrade your client "
                        "to a newer version",
                    )
            try:
                query = parse_qs(qs, keep_blank_values=True, strict_parsing=False)
            except ValueError:
                raise ApiError(400, "malformed query string") from None
            req = Request(self, method, path, query)
            # before the request's own work: the docker CLI's exec sends three requests before the start
            # whose process moves into the container's cgroups, and the engine can make that move cheap
            # if it knows ahead (~8 ms of a 25 ms exec)
            app.engine.expect_requests()
            route, params = app.route(method, path)
            req.params = {k: unquote(v) for k, v in params.items()}
            route(req)
            if not req.answered:
                req.send_empty(204)
            req.end_stream()
        except NotModified:
            if req is not None and not req.answered:
                req.send_empty(304)
        except ClientGone:
            self.close_connection = True
        except (ConnectionResetError, BrokenPipeError):
            self.close_connection = True
        except Exception as err:
            status = status_for(err)
            if status == 500 and not isinstance(err, DockyardError | OSError):
                import traceback

                sys.stderr.write(f"api: {method} {raw_path}: internal error\n{traceback.format_exc()}")
            message = error_message(err)
            if req is None:
                self._plain_error(status, message)
            elif req.streaming:
                # the stream has begun: the error goes in it, as docker's progress and build streams carry
                with contextlib.suppress(ClientGone, OSError):
                    req.write_json({"errorDetail": {"message": message}, "error": message})
                req.end_stream()
            elif req.answered:
                self.close_connection = True
            else:
                with contextlib.suppress(OSError):
                    req.send_json({"message": message}, status)

    def _plain_error(self, status: int, message: str) -> None:
        data = json.dumps({"message": message}).encode() + b"\n"
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Api-Version", API_VERSION)
            self.end_headers()
            self.wfile.write(data)


def _tuple(version: str) -> tuple[int, int]:
    major, minor = version.split(".")
    return int(major), int(minor)


def iter_frames(frames: Iterator[tuple[int, bytes]], tty: bool) -> Iterator[bytes]:
    """Output as the wire carries it: raw with a terminal, else Docker's 8-byte multiplexed frames."""
    for sid, data in frames:
        yield data if tty else frame(sid, data)


def frame(sid: int, data: bytes) -> bytes:
    return bytes((sid, 0, 0, 0)) + len(data).to_bytes(4, "big") + data
