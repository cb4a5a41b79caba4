"""A small HTTP proxy on loopback that sits between dockyard and a test registry and misbehaves on request.

It forwards every request to its upstream registry (one fresh upstream connection per request) and passes the
answer back, except where a fault is switched on:

  cut_blob_after   the next blob body is cut off after this many bytes (of the whole blob: a ``Range`` resume
                   counts from its start offset) and the client connection is torn down; one-shot
  corrupt_blob_at  every blob body gets the byte at this offset flipped
  throttle         blob bodies are sent at about this many bytes a second
  redirect_blobs   blob GETs are answered ``307`` to ``<base><same path>`` (another host) instead
  manifest_override  manifest GETs are answered with this (body, content type), no digest header
  ignore_range     ``Range`` is not passed on: the registry answers 200 with the whole blob, as some do
  close_after_headers  every blob answer is cut right after its headers: status and Content-Length, then
                   the connection is torn down with no body byte (a registry or middlebox that keeps failing)
  cut_manifests    every manifest answer is cut right after its headers, as close_after_headers for blobs
  stall_blobs      every blob answer sends its headers and then nothing, holding the connection open until
                   the client gives up or the proxy closes

``only_digest`` limits the blob faults to one blob. Every request is recorded (method, path, lower-cased
headers) so tests can check what was sent where, e.g. that a resume carried ``Range`` or that a redirected
blob fetch carried no ``Authorization``. It speaks only to the loopback addresses it is given.
"""

from __future__ import annotations

import http.client
import re
import select
import socket
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_BLOB_PATH = re.compile(r"^/v2/.+/blobs/(sha256:[0-9a-f]{64})$")
_MANIFEST_PATH = re.compile(r"^/v2/.+/manifests/[^/]+$")
_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "proxy-connection",
}
_CHUNK = 16 * 1024


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    headers: dict[str, str]  # lower-cased names


def _loopback(host: str) -> bool:
    return host.startswith("127.") or host == "localhost"


class FaultProxy:
    """``with FaultProxy(testbed.open_addr) as proxy: ... proxy.addr ...``"""

    def __init__(self, upstream: str, *, bind: str = "127.0.0.1") -> None:
        host, _, port = upstream.rpartition(":")
        if not (_loopback(host) and _loopback(bind)):
            raise ValueError(f"the fault proxy only talks to loopback, not {upstream} / {bind}")
        self.upstream = (host, int(port))
        self.bind = bind
        # faults, settable at any time
        self.cut_blob_after: int | None = None
        self.corrupt_blob_at: int | None = None
        self.throttle: float | None = None
        self.redirect_blobs: str | None = None
        self.manifest_override: tuple[bytes, str] | None = None
        self.only_digest: str | None = None
        self.ignore_range = False
        self.close_after_headers = False
        self.stall_blobs = False
        self.cut_manifests = False
        # observations
        self.requests: list[Seen] = []
        self.cuts = 0
        self.stalls = 0  # blob answers that began stalling
        self.blob_bytes_sent = 0
        self._lock = threading.Lock()
        self._closing = threading.Event()  # lets stalled answers go when the proxy closes
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    @property
    def addr(self) -> str:
        assert self._server is not None, "start the proxy first"
        return f"{self.bind}:{self._server.server_address[1]}"

    def start(self) -> FaultProxy:
        proxy = self

        class Handler(_Handler):
            owner = proxy

        server = ThreadingHTTPServer((self.bind, 0), Handler)
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="faultproxy", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self._closing.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ queries

    def seen(self, method: str | None = None, pattern: str = "") -> list[Seen]:
        with self._lock:
            return [
                r
                for r in self.requests
                if (method is None or r.method == method) and re.search(pattern, r.path)
            ]

    def blob_requests(self) -> list[Seen]:
        return [r for r in self.seen("GET") if _BLOB_PATH.match(r.path.split("?")[0])]

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()
            self.cuts = 0
            self.stalls = 0
            self.blob_bytes_sent = 0

    def _record(self, seen: Seen) -> None:
        with self._lock:
            self.requests.append(seen)

    def _take_cut(self) -> int | None:
        with self._lock:
            cut, self.cut_blob_after = self.cut_blob_after, None
            if cut is not None:
                self.cuts += 1
            return cut

    def _sent(self, n: int) -> None:
        with self._lock:
            self.blob_bytes_sent += n


class _Handler(BaseHTTPRequestHandler):
    owner: FaultProxy
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read .requests instead
        pass

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _handle(self) -> None:
        owner = self.owner
        headers = {k.lower(): v for k, v in self.headers.items()}
        owner._record(Seen(self.command, self.path, headers))
        body = self._read_body()
        path = self.path.split("?")[0]
        blob = _BLOB_PATH.match(path)
        faulty_blob = (
            blob is not None
            and self.command == "GET"
            and (owner.only_digest is None or blob.group(1) == owner.only_digest)
        )
        if faulty_blob and owner.redirect_blobs:
            self.send_response(307)
            self.send_header("Location", owner.redirect_blobs + self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.command == "GET" and _MANIFEST_PATH.match(path) and owner.manifest_override:
            data, ctype = owner.manifest_override
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return

        conn = http.client.HTTPConnection(*owner.upstream, timeout=30)
        try:
            fwd = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
            fwd.pop("Content-Length", None)
            if owner.ignore_range:
                fwd = {k: v for k, v in fwd.items() if k.lower() != "range"}
            if body or self.command in ("PUT", "POST", "PATCH"):
                fwd["Content-Length"] = str(len(body))
            conn.request(self.command, self.path, body=body or None, headers=fwd)
            resp = conn.getresponse()
            self.send_response(resp.status, resp.reason)
            length = resp.getheader("Content-Length")
            for k, v in resp.getheaders():
                if k.lower() not in _HOP_BY_HOP and k.lower() != "content-length":
                    self.send_header(k, v)
            if self.command == "HEAD":
                self.send_header("Content-Length", length or "0")
                self.end_headers()
                return
            if length is None:  # unknown length upstream: buffer it (small error bodies)
                data = resp.read()
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return
            self.send_header("Content-Length", length)
            self.end_headers()
            cut_manifest = owner.cut_manifests and self.command == "GET" and _MANIFEST_PATH.match(path)
            if cut_manifest or (
                faulty_blob and resp.status in (200, 206) and (owner.close_after_headers or owner.stall_blobs)
            ):
                self.wfile.flush()
                if owner.stall_blobs and not cut_manifest:
                    self._stall()
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return
            if faulty_blob and resp.status in (200, 206):
                start = 0
                m = re.match(r"bytes (\d+)-", resp.getheader("Content-Range") or "")
                if resp.status == 206 and m:
                    start = int(m.group(1))
                self._send_blob(resp, start, int(length))
            else:
                remaining = int(length)
                while remaining:
                    chunk = resp.read(min(remaining, 1 << 20))
                    if not chunk:
                        break
                    self.wfile.write(chunk)
                    remaining -= len(chunk)
        finally:
            conn.close()

    def _stall(self) -> None:
        """Send nothing until the client hangs up (EOF on its side) or the proxy closes."""
        with self.owner._lock:
            self.owner.stalls += 1
        while not self.owner._closing.wait(0.05):
            ready, _, _ = select.select([self.connection], [], [], 0)
            if ready:
                try:
                    if not self.connection.recv(1, socket.MSG_PEEK):
                        return
                except OSError:
                    return

    def _send_blob(self, resp: http.client.HTTPResponse, start: int, length: int) -> None:
        owner = self.owner
        cut = owner._take_cut()
        offset = start
        end = start + length
        began = time.monotonic()
        sent = 0
        while offset < end:
            chunk = bytearray(resp.read(min(_CHUNK, end - offset)))
            if not chunk:
                break
            at = owner.corrupt_blob_at
            if at is not None and offset <= at < offset + len(chunk):
                chunk[at - offset] ^= 0xFF
            if cut is not None and offset + len(chunk) >= cut:
                keep = max(0, cut - offset)
                self.wfile.write(chunk[:keep])
                self.wfile.flush()
                owner._sent(keep)
                # tear the connection down mid-body: the client sees a short read
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return
            self.wfile.write(chunk)
            owner._sent(len(chunk))
            offset += len(chunk)
            sent += len(chunk)
            rate = owner.throttle
            if rate:
                ahead = sent / rate - (time.monotonic() - began)
                if ahead > 0:
                    time.sleep(ahead)

    def _safe(self) -> None:
        try:
            self._handle()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client went away (killed, or cut by us)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _safe
