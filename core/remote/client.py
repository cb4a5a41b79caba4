"""HTTP to a Docker-API engine over httpx: ``/_ping`` version negotiation as the docker CLI's (the lower
of the engine's API version and ours, refusing engines older than 1.40), JSON requests, streamed responses
that another thread can cancel, and the engine's error answers turned back into :mod:`core.errors` types
(404 -> the NotFound of what was asked for, 409 -> Conflict, ...) with the engine's own message, so the
command line prints the same line and exits with the same code as with the local engine."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Iterator, Mapping
from typing import Any

import httpx

from core import errors
from core.remote.endpoint import CONNECT_TIMEOUT, Endpoint, EngineUnreachable, unreachable

API_VERSION = "1.43"  # the newest API this client speaks (what dockyard serve answers)
MIN_API_VERSION = "1.40"
DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=CONNECT_TIMEOUT)


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
        self._lock = threading.Lock()
        self._version: str | None = None
        self.dialer: Any = None  # ssh: the SSHDialer whose processes carry the connections
        self.ping_headers: dict[str, str] = {}
        if endpoint.scheme == "unix":
            transport = httpx.HTTPTransport(uds=endpoint.address)
            base = "http://docker"
        elif endpoint.scheme == "tcp":
            ctx = endpoint.tls.context() if endpoint.tls is not None else None
            transport = httpx.HTTPTransport(verify=ctx) if ctx is not None else httpx.HTTPTransport()
            base = f"{'https' if ctx is not None else 'http'}://{endpoint.address}"
        elif endpoint.scheme == "ssh":
            from core.remote.ssh import SSHDialer, ssh_transport

            self.dialer = SSHDialer(endpoint)
            transport = ssh_transport(self.dialer)
            base = "http://docker"
        else:
            raise errors.InvalidArgument(f"unsupported engine address {endpoint.url}")
        self.http = httpx.Client(
            transport=transport,
            base_url=base,
            timeout=DEFAULT_TIMEOUT,
            headers={"User-Agent": "dockyard-remote", "Accept-Encoding": "identity"},
        )

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
            r = self.http.get("/_ping")
        except httpx.HTTPError as err:
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
        cause = err.__cause__ or err.__context__ or err
        while (cause.__cause__ or cause.__context__) is not None and not isinstance(cause, OSError):
            cause = cause.__cause__ or cause.__context__  # type: ignore[assignment]
        return unreachable(self.endpoint, cause if isinstance(cause, OSError) else err)

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
    ) -> httpx.Response:
        kwargs: dict[str, Any] = {"params": _params(params), "headers": dict(headers or {})}
        if body is not None:
            kwargs["content"] = json.dumps(body).encode()
            kwargs["headers"]["Content-Type"] = "application/json"
        elif content is not None:
            kwargs["content"] = content
        if timeout is not ...:
            kwargs["timeout"] = timeout
        try:
            r = self.http.request(method, self.path(path), **kwargs)
        except httpx.HTTPError as err:
            raise self._unreachable(err) from None
        if r.status_code >= 400 and r.status_code not in ok:
            raise self._error(r, path)
        return r

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
        kwargs: dict[str, Any] = {"params": _params(params), "headers": dict(headers or {})}
        if body is not None:
            kwargs["content"] = json.dumps(body).encode()
            kwargs["headers"]["Content-Type"] = "application/json"
        elif content is not None:
            kwargs["content"] = content
        request = self.http.build_request(
            method, self.path(path), timeout=httpx.Timeout(None, connect=CONNECT_TIMEOUT), **kwargs
        )
        try:
            r = self.http.send(request, stream=True)
        except httpx.HTTPError as err:
            raise self._unreachable(err) from None
        if r.status_code >= 400:
            try:
                r.read()
            finally:
                r.close()
            raise self._error(r, path)
        return StreamedResponse(r)

    # ------------------------------------------------------------------------------------ errors
    def _error(self, r: httpx.Response, path: str) -> errors.DockyardError:
        return error_from_response(r.status_code, _message(r), path)


def _params(params: Mapping[str, Any] | None) -> Any:
    if not params:
        return None
    if isinstance(params, list):  # (key, value) pairs, a key repeated (build's t=)
        return params
    out: dict[str, str] = {}
    for k, v in params.items():
        if v is None:
            continue
        if isinstance(v, bool):
            out[k] = "1" if v else "0"
        elif isinstance(v, (dict, list)):
            out[k] = json.dumps(v)
        else:
            out[k] = str(v)
    return out


def _message(r: httpx.Response) -> str:
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


class StreamedResponse:
    """A response read as it comes; :meth:`close` from any thread ends a blocked read (it shuts the socket
    down, which wakes the reader, then closes the response)."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._closed = False
        self._sock: socket.socket | None = None
        stream = response.extensions.get("network_stream")
        if stream is not None:
            with contextlib.suppress(Exception):
                self._sock = stream.get_extra_info("socket")

    @property
    def headers(self) -> httpx.Headers:
        return self.response.headers

    def chunks(self) -> Iterator[bytes]:
        try:
            yield from self.response.iter_raw()
        except (httpx.HTTPError, OSError, ValueError, AttributeError):
            if not self._closed:
                raise
        finally:
            self.close()

    def lines(self) -> Iterator[bytes]:
        buf = b""
        for chunk in self.chunks():
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                if line.strip():
                    yield line
        if buf.strip():
            yield buf

    def json_messages(self) -> Iterator[Any]:
        """A stream of JSON documents (one a line, or simply one after the other, as dockerd's)."""
        decoder = json.JSONDecoder()
        buf = ""
        for chunk in self.chunks():
            buf += chunk.decode("utf-8", "replace")
            while True:
                buf = buf.lstrip()
                if not buf:
                    break
                try:
                    doc, end = decoder.raw_decode(buf)
                except ValueError:
                    break
                buf = buf[end:]
                yield doc

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(Exception):
            self.response.close()
