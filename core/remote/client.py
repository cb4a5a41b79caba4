"""HTTP to a Docker-API engine (:mod:`core.remote.wire`, kept-alive connections): ``/_ping`` version
negotiation as the docker CLI's (the lower of the engine's API version and ours, refusing engines older
than 1.40), JSON requests, streamed responses that another thread can cancel, and the engine's error answers
turned back into :mod:`core.errors` types (404 -> the NotFound of what was asked for, 409 -> Conflict, ...)
with the engine's own message, so the command line prints the same line and exits with the same code as with
the local engine."""

from __future__ import annotations

import codecs
import json
import re
import socket
from _thread import allocate_lock  # threading.Lock, without importing threading (~0.8 ms)
from collections.abc import Iterable, Iterator, Mapping

from core import errors
from core.remote import wire
from core.remote.endpoint import Endpoint, EngineUnreachable, unreachable

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~3 ms of a remote command)
if TYPE_CHECKING:
    from typing import Any

API_VERSION = "1.43"  # the newest API this client speaks (what dockyard serve answers)
MIN_API_VERSION = "1.40"
DEFAULT_TIMEOUT = 60.0  # seconds an answer may take (connecting: endpoint.CONNECT_TIMEOUT); streams wait
HEADERS = {"User-Agent": "dockyard-remote", "Accept-Encoding": "identity"}


def _vtuple(v: str) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in v.split("."))
    except ValueError:
        return (0,)


class UnsupportedByEngine(errors.DockyardError):
    """A method the remote engine (the Docker Engine API) cannot do."""


def unsupported(method: str, endpoint: Endpoint, why: str = "") -> UnsupportedByEngine:
    text = f"{method} is not available on the remote engine at {endpoint.url}"
    return UnsupportedByEngine(f"{text}: {why}" if why else text)


class ApiClient:
    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self._lock = allocate_lock()
        self._version: str | None = None
        self.dialer: Any = None  # ssh: the SSHDialer whose processes carry the connections
        self.ping_headers: dict[str, str] = {}
        if endpoint.scheme == "unix":
            self.http = wire.Pool(endpoint.open_socket, "docker")
        elif endpoint.scheme == "tcp":
            if endpoint.tls is not None:
                endpoint.tls.context()  # a bad certificate file is an error now, not at the first request
            self.http = wire.Pool(endpoint.open_socket, endpoint.address)
        elif endpoint.scheme == "ssh":
            from core.remote.ssh import SSHDialer

            self.dialer = SSHDialer(endpoint)
            self.http = wire.Pool(self.dialer.open_socket, "docker")
        else:
            raise errors.InvalidArgument(f"unsupported engine address {endpoint.url}")

    def close(self) -> None:
        self.http.close()
        if self.dialer is not None:
            self.dialer.close()

    def open_socket(self) -> socket.socket:
        """A raw connection for a hijacked stream (ssh: a new ssh process)."""
        if self.dialer is not None:
            sock: socket.socket = self.dialer.open_socket()
            return sock
        return self.endpoint.open_socket()

    # ------------------------------------------------------------------------------ negotiation
    @property
    def version(self) -> str:
        """The API version both sides speak (pings the engine the first time)."""
        if self._version is None:
            with self._lock:
                if self._version is None:
                    self._version = self._negotiate()
        return self._version

    def _negotiate(self) -> str:
        try:
            r = self.http.request("GET", "/_ping", dict(HEADERS), None, DEFAULT_TIMEOUT)
        except OSError as err:
            raise self._unreachable(err) from None
        if r.status_code >= 400 and r.status_code != 404:
            raise self._error(r, "/_ping")
        self.ping_headers = {k.lower(): v for k, v in r.headers.items()}
        server = r.headers.get("API-Version") or ""
        if not server:  # an engine without the header is older than negotiation (API < 1.25)
            raise errors.DockyardError(
                f"the engine at {self.endpoint.url} does not say its API version; dockyard needs API "
                f"{MIN_API_VERSION} or newer"
            )
        if _vtuple(server) < _vtuple(MIN_API_VERSION):
            raise errors.DockyardError(
                f"the engine at {self.endpoint.url} speaks API {server}; dockyard needs {MIN_API_VERSION} "
                "or newer"
            )
        return min(server, API_VERSION, key=_vtuple)

    def _unreachable(self, err: BaseException) -> EngineUnreachable:
        if self.dialer is not None:
            why = self.dialer.failure() or f"ssh ended without an answer ({err})"
            return EngineUnreachable(f"Cannot connect to the Docker daemon at {self.endpoint.url}: {why}")
        return unreachable(self.endpoint, err)

    def path(self, path: str) -> str:
        return f"/v{self.version}{path}"

    # ---------------------------------------------------------------------------------- requests
    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        content: bytes | Iterator[bytes] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | object | None = ...,
        ok: tuple[int, ...] = (),
    ) -> wire.Response:
        target, hdrs, data = self._prepare(path, params, body, content, headers)
        wait = DEFAULT_TIMEOUT if timeout is ... else timeout
        seconds = float(wait) if isinstance(wait, (int, float)) else None
        try:
            r = self.http.request(method, target, hdrs, data, seconds)
        except OSError as err:
            raise self._unreachable(err) from None
        if r.status_code >= 400 and r.status_code not in ok:
            raise self._error(r, path)
        return r

    def _prepare(
        self,
        path: str,
        params: Mapping[str, Any] | None,
        body: Any,
        content: bytes | Iterator[bytes] | None,
        headers: Mapping[str, str] | None,
    ) -> tuple[str, dict[str, str], bytes | Iterator[bytes] | None]:
        hdrs = {**HEADERS, **(headers or {})}
        data: bytes | Iterator[bytes] | None = content
        if body is not None:
            data = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        return _target(self.path(path), _params(params)), hdrs, data

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        r = self.request(method, path, **kwargs)
        if not r.content:
            return None
        return r.json()

    def stream(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        content: bytes | Iterator[bytes] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> StreamedResponse:
        target, hdrs, data = self._prepare(path, params, body, content, headers)
        try:
            r = self.http.stream(method, target, hdrs, data, DEFAULT_TIMEOUT)
        except OSError as err:
            raise self._unreachable(err) from None
        if r.status_code >= 400:
            try:
                content_ = r.read()
            except OSError:
                content_ = b""
            finally:
                r.close()
            raise self._error(wire.Response(r.status_code, r.reason_phrase, r.headers, content_), path)
        return StreamedResponse(r)

    # ------------------------------------------------------------------------------------ errors
    def _error(self, r: wire.Response, path: str) -> errors.DockyardError:
        return error_from_response(r.status_code, _message(r), path)


def _params(params: Mapping[str, Any] | None) -> list[tuple[str, str]] | None:
    if not params:
        return None
    if isinstance(params, list):  # (key, value) pairs, a key repeated (build's t=)
        return [(str(k), str(v)) for k, v in params]
    out: list[tuple[str, str]] = []
    for k, v in params.items():
        if v is None:
            continue
        if isinstance(v, bool):
            out.append((k, "1" if v else "0"))
        elif isinstance(v, (dict, list)):
            out.append((k, json.dumps(v)))
        else:
            out.append((k, str(v)))
    return out


def _target(path: str, params: list[tuple[str, str]] | None) -> str:
    """The request target: the path percent-encoded where it must be (as httpx did), then the query."""
    if not params and path.isascii() and " " not in path and "#" not in path:
        return path
    path, sep, query = path.partition("?")
    path = quote(path, safe="/:@!$&'()*+,;=%")
    if params:
        encoded = encode_query(params)
        query = f"{query}&{encoded}" if query else encoded
        sep = "?"
    return f"{path}{sep}{query}"


def encode_query(pairs: Iterable[tuple[str, str]]) -> str:
    """urllib.parse's ``urlencode`` of name/value pairs."""
    return "&".join(f"{quote(k, plus=True)}={quote(str(v), plus=True)}" for k, v in pairs)


_ALWAYS_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~")


def quote(text: str, safe: str = "", *, plus: bool = False) -> str:
    """urllib.parse's ``quote`` (``quote_plus`` with ``plus``: a space becomes "+"), without importing
    urllib.parse: it and ipaddress, which it imports, are ~2 ms of every remote command that has a query."""
    keep = _ALWAYS_SAFE.union(safe.encode())
    out = []
    for byte in text.encode():
        if byte in keep:
            out.append(chr(byte))
        elif plus and byte == 0x20:
            out.append("+")
        else:
            out.append(f"%{byte:02X}")
    return "".join(out)


def _message(r: wire.Response) -> str:
    try:
        doc = r.json()
    except ValueError:
        return r.text.strip() or f"{r.status_code} {r.reason_phrase}"
    if isinstance(doc, dict):
        return str(doc.get("message") or doc.get("cause") or doc)
    return str(doc)


def error_from_response(status: int, message: str, path: str) -> errors.DockyardError:
    """The engine's error answer as the error the local engine would raise for the same failure."""
    low = message.lower()
    if status == 404:
        if "no such image" in low or "image not known" in low or "reference does not exist" in low:
            return errors.ImageNotFound(message)
        if "manifest unknown" in low or "not found: manifest" in low or "repository does not exist" in low:
            return errors.ManifestUnknown(message)
        if "no such container" in low:
            return errors.ContainerNotFound(message)
        if "network" in low and ("not found" in low or "no such" in low):
            return errors.NetworkNotFound(message)
        if "volume" in low:
            return errors.VolumeNotFound(message)
        for prefix, cls in (
            ("/containers/", errors.ContainerNotFound),
            ("/images/", errors.ImageNotFound),
            ("/networks/", errors.NetworkNotFound),
            ("/volumes/", errors.VolumeNotFound),
        ):
            if path.startswith(prefix):
                return cls(message)
        return errors.NotFound(message)
    # a container's command that cannot start (dockerd answers 400 or 500 with the runtime's words)
    if "executable file not found" in low or ("no such file or directory" in low and "exec" in low):
        return errors.CommandNotFound(message)
    if "permission denied" in low and ("exec" in low or "oci runtime" in low):
        return errors.CannotInvoke(message)
    if status == 409:
        return errors.Conflict(message)
    if status == 400:
        if "filter" in low:
            return errors.InvalidFilter(message)
        if "reference format" in low:
            return errors.InvalidReference(message)
        return errors.InvalidArgument(message)
    if status in (401, 403) and ("unauthorized" in low or ("denied" in low and "registry" in low)):
        return errors.AuthenticationError(message)
    return errors.DockyardError(message)


_BLANK = re.compile(r"[ \t\n\r]*")  # what JSON allows between documents


def json_documents(chunks: Iterable[bytes]) -> Iterator[Any]:
    """The JSON documents in a byte stream, cut anywhere: one a line, or one right after the other.

    Decoded incrementally (a UTF-8 character cut between two reads is whole: dockerd writes non-ASCII text
    as it is), read on from an offset (not a copy of the rest per document), and a document cut short is
    tried again only once more has come (a number at the very end may go on in the next read)."""
    decoder = json.JSONDecoder()
    text = codecs.getincrementaldecoder("utf-8")("replace")
    buf = ""
    for chunk in _with_end(chunks):
        last = chunk is None
        buf += text.decode(b"" if chunk is None else chunk, final=last)
        pos = 0
        while True:
            pos = _BLANK.match(buf, pos).end()  # type: ignore[union-attr]  # matches the empty string
            if pos == len(buf):
                break
            try:
                doc, after = decoder.raw_decode(buf, pos)
            except ValueError:
                break  # cut short (or not JSON: the rest waits, as a cut document would)
            if after == len(buf) and not last and type(doc) in (int, float):
                break
            pos = after
            yield doc
        buf = buf[pos:]


def _with_end(chunks: Iterable[bytes]) -> Iterator[bytes | None]:
    """The chunks, then None for the end of the stream."""
    yield from chunks
    yield None


class StreamedResponse:
    """A response read as it comes; :meth:`close` from any thread ends a blocked read (it shuts the socket
    down, which wakes the reader, then closes the connection)."""

    def __init__(self, body: wire.Body) -> None:
        self.body = body
        self._closed = False
        self._sock: socket.socket | None = body.sock

    @property
    def headers(self) -> wire.Headers:
        return self.body.headers

    def chunks(self) -> Iterator[bytes]:
        try:
            yield from self.body.chunks()
        except (OSError, ValueError, AttributeError):
            if not self._closed:
                raise
        finally:
            self.close()

    def json_messages(self) -> Iterator[Any]:
        """A stream of JSON documents (one a line, or simply one after the other, as dockerd's)."""
        return json_documents(self.chunks())

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.body.close()
