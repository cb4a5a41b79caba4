"""An OCI distribution (registry v2) client over httpx: auth, manifests, blobs and uploads.

Auth follows docker: try anonymously; on a 401 read ``WWW-Authenticate``. ``Bearer`` means fetch a token from
the realm the registry names (with the user's credentials when we have them) for the scope we need and
retry; ``Basic`` means retry with the credentials. Tokens are cached per scope for the client's lifetime.

Credentials go only to the registry host itself and to the token realm that registry named. Redirects are
followed by hand so that a blob redirected to another host (object storage) never carries our
``Authorization`` header.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import urlencode, urljoin, urlsplit

from core.errors import (
    AuthenticationError,
    DigestMismatch,
    ManifestUnknown,
    RegistryError,
)
from core.record import record

if TYPE_CHECKING:
    import httpx

MEDIA_OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MEDIA_DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
INDEX_TYPES = (MEDIA_OCI_INDEX, MEDIA_DOCKER_LIST)
MANIFEST_TYPES = (MEDIA_OCI_MANIFEST, MEDIA_DOCKER_MANIFEST)
ACCEPT_MANIFESTS = ", ".join((*MANIFEST_TYPES, *INDEX_TYPES))

USER_AGENT = "dockyard/0.1"
MAX_MANIFEST_BYTES = 4 * 1024 * 1024  # distribution's own limit; refuses a hostile endless body
_CHALLENGE_PARAM = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')


@record(frozen=True)
class Credentials:
    username: str = ""
    password: str = ""
    identity_token: str = ""  # an OAuth2 refresh token, as docker stores for some registries


@record(frozen=True)
class Manifest:
    data: bytes
    media_type: str
    digest: str

    def json(self) -> dict[str, Any]:
        try:
            obj = json.loads(self.data)
        except ValueError as err:
            raise RegistryError(f"manifest {self.digest} is not valid JSON: {err}") from err
        if not isinstance(obj, dict):
            raise RegistryError(f"manifest {self.digest} is not a JSON object")
        return obj


class RegistryUnreachable(RegistryError):
    """The connection failed (refused, reset, timed out) before an answer came: worth another try."""


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """``Bearer realm="x",service="y"`` -> ("bearer", {"realm": "x", "service": "y"})."""
    scheme, _, rest = header.strip().partition(" ")
    params = {
        m.group(1).lower(): (m.group(2) if m.group(2) is not None else m.group(3))
        for m in _CHALLENGE_PARAM.finditer(rest)
    }
    return scheme.lower(), {k: v.replace('\\"', '"') for k, v in params.items()}


def _error_text(resp: httpx.Response) -> str:
    """The registry's own error words (``{"errors":[{"code","message"}]}``) or the HTTP status."""
    try:
        body = json.loads(resp.read()[:65536])
        errs = body.get("errors") or []
        if errs:
            return "; ".join(
                f"{str(e.get('code', '')).lower().replace('_', ' ')}: {e.get('message', '')}".strip(": ")
                for e in errs
            )
    except Exception:
        pass
    return f"HTTP {resp.status_code} {resp.reason_phrase}".strip()


def _error_codes(resp: httpx.Response) -> set[str]:
    try:
        body = json.loads(resp.read()[:65536])
        return {str(e.get("code", "")) for e in body.get("errors") or []}
    except Exception:
        return set()


def _lazy_tls_transport(limits: httpx.Limits) -> httpx.BaseTransport:
    """httpx's default (verifying) transport, made when the first request needs it. The class is made
    here because httpx is imported only when a registry is spoken to."""
    import httpx

    class LazyTransport(httpx.BaseTransport):
        def __init__(self, limits: httpx.Limits) -> None:
            self._limits = limits
            self._real: httpx.HTTPTransport | None = None
            self._lock = threading.Lock()

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            with self._lock:
                if self._real is None:
                    self._real = httpx.HTTPTransport(
                        limits=self._limits, trust_env=False
                    )  # as the Client's own
            return self._real.handle_request(request)

        def close(self) -> None:
            if self._real is not None:
                self._real.close()

    return LazyTransport(limits)


class RegistryClient:
    """One registry host. Thread-safe: layer downloads share it from a thread pool."""

    def __init__(
        self,
        host: str,
        *,
        scheme: str = "https",
        credentials: Credentials | None = None,
        timeout: float = 30.0,
        retries: int = 5,
    ) -> None:
        """``timeout``: seconds without a byte before a read fails; ``retries``: how often one blob
        download is tried again after its first try (docker's max-download-attempts)."""
        import httpx

        self.host = host
        self.scheme = scheme
        self.base = f"{scheme}://{host}"
        self.credentials = credentials
        self.read_timeout = timeout
        self.retries = retries
        self._tokens: dict[str, str] = {}
        self._basic = False  # the registry asked for Basic auth
        self._challenge: tuple[str, dict[str, str]] | None = None
        self._lock = threading.Lock()
        limits = httpx.Limits(max_connections=16, max_keepalive_connections=16)
        plain: dict[str, httpx.BaseTransport] = {}
        tls: httpx.BaseTransport | None = None
        if scheme == "http":
            # building a verifying TLS context loads the CA bundle: ~60 ms of every pull from a loopback or
            # insecure registry, and of each of ten concurrent pulls. Plain http:// gets a transport whose
            # TLS side is never used (it is mounted for http:// only); https (a blob redirected to object
            # storage) gets the usual verifying one, made on first use.
            plain["http://"] = httpx.HTTPTransport(limits=limits, verify=False, trust_env=False)
            tls = _lazy_tls_transport(limits)
        self._http = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=10.0),
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT},
            limits=limits,
            trust_env=False,
            transport=tls,
            mounts=plain or None,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ auth

    def _auth_header(self, scope: str) -> dict[str, str]:
        with self._lock:
            if scope in self._tokens:
                return {"Authorization": f"Bearer {self._tokens[scope]}"}
            if self._basic and self.credentials and self.credentials.username:
                raw = f"{self.credentials.username}:{self.credentials.password}".encode()
                return {"Authorization": "Basic " + base64.b64encode(raw).decode()}
        return {}

    def _authenticate(self, resp: httpx.Response, scope: str) -> bool:
        """React to a 401; True if a retry may now succeed."""
        header = resp.headers.get("www-authenticate", "")
        scheme, params = parse_challenge(header)
        if scheme == "basic":
            if not (self.credentials and self.credentials.username) or self._basic:
                return False
            with self._lock:
                self._basic = True
            return True
        if scheme == "bearer" and "realm" in params:
            with self._lock:
                if scope in self._tokens:
                    # a token we already had was refused: do not loop
                    del self._tokens[scope]
                    return False
            token = self._fetch_token(params, scope)
            with self._lock:
                self._tokens[scope] = token
            return True
        return False

    def _fetch_token(self, params: dict[str, str], scope: str) -> str:
        import httpx

        realm = params["realm"]
        realm_parts = urlsplit(realm)
        if realm_parts.scheme not in ("http", "https") or not realm_parts.netloc:
            raise AuthenticationError(f"registry {self.host} named an invalid token realm {realm!r}")
        query: dict[str, str] = {}
        if params.get("service"):
            query["service"] = params["service"]
        wanted_scope = scope or params.get("scope", "")
        if wanted_scope:
            query["scope"] = wanted_scope
        creds = self.credentials
        try:
            if creds and creds.identity_token:
                # docker's OAuth2 refresh-token flow
                form = {
                    "grant_type": "refresh_token",
                    "refresh_token": creds.identity_token,
                    "client_id": "dockyard",
                    **query,
                }
                r = self._http.post(realm, data=form)
            else:
                headers = {}
                if creds and creds.username:
                    raw = f"{creds.username}:{creds.password}".encode()
                    headers["Authorization"] = "Basic " + base64.b64encode(raw).decode()
                    query["account"] = creds.username
                r = self._http.get(realm + ("&" if "?" in realm else "?") + urlencode(query), headers=headers)
        except httpx.HTTPError as err:
            raise RegistryError(f"cannot reach the token service {realm_parts.netloc}: {err}") from err
        if r.status_code in (401, 403):
            raise AuthenticationError(
                f"the registry {self.host} refused the credentials"
                + ("" if creds and creds.username else f" (none given: run 'dockyard login {self.host}')")
            )
        if r.status_code != 200:
            raise AuthenticationError(f"token service for {self.host} answered {_error_text(r)}")
        try:
            body = r.json()
        except ValueError as err:
            raise AuthenticationError(f"token service for {self.host} sent an invalid answer") from err
        token = body.get("token") or body.get("access_token")
        if not isinstance(token, str) or not token:
            raise AuthenticationError(f"token service for {self.host} sent no token")
        return token

    # -------------------------------------------------------------- requests

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        scope: str,
        headers: dict[str, str] | None = None,
        content: bytes | Iterator[bytes] | None = None,
        stream: bool = False,
    ) -> httpx.Response:
        """Send a request with auth; follow redirects by hand (auth only to our host). The caller closes
        a streamed response."""
        import httpx

        url = path_or_url if "://" in path_or_url else self.base + path_or_url
        for attempt in range(3):
            hdrs = dict(headers or {})
            if urlsplit(url).netloc == self.host:
                hdrs.update(self._auth_header(scope))
            try:
                req = self._http.build_request(method, url, headers=hdrs, content=content)
                resp = self._http.send(req, stream=True)
            except httpx.HTTPError as err:
                raise RegistryUnreachable(
                    f"cannot reach registry {self.host}: {self._describe(err)}"
                ) from err
            if resp.status_code == 401 and urlsplit(url).netloc == self.host and attempt < 2:
                resp.read()
                resp.close()
                if self._authenticate(resp, scope):
                    continue
                raise AuthenticationError(self._denied_message(scope))
            if resp.status_code in (301, 302, 303, 307, 308) and "location" in resp.headers:
                resp.close()
                url = urljoin(url, resp.headers["location"])
                if resp.status_code == 303:
                    method = "GET"
                return self._follow(method, url, headers or {}, stream)
            if not stream:
                resp.read()
                resp.close()
            return resp
        raise AuthenticationError(self._denied_message(scope))

    def _follow(self, method: str, url: str, headers: dict[str, str], stream: bool) -> httpx.Response:
        import httpx

        for _ in range(10):
            hdrs = dict(headers)
            # auth only when the redirect stays on the registry host itself
            if urlsplit(url).netloc == self.host:
                hdrs.update(self._auth_header(""))
            try:
                resp = self._http.send(self._http.build_request(method, url, headers=hdrs), stream=True)
            except httpx.HTTPError as err:
                raise RegistryUnreachable(
                    f"cannot fetch {urlsplit(url).netloc} (redirected by {self.host}): {self._describe(err)}"
                ) from err
            if resp.status_code in (301, 302, 303, 307, 308) and "location" in resp.headers:
                resp.close()
                url = urljoin(url, resp.headers["location"])
                continue
            if not stream:
                resp.read()
                resp.close()
            return resp
        raise RegistryError(f"too many redirects from registry {self.host}")

    def _describe(self, err: Exception) -> str:
        """A transport error in words: httpx's read timeout says only "timed out"."""
        import httpx

        if isinstance(err, httpx.ReadTimeout):
            return (
                f'no data for {self.read_timeout:g} s (wait longer with "registry-read-timeout" in '
                "daemon.json or DOCKYARD_REGISTRY_READ_TIMEOUT)"
            )
        return str(err) or type(err).__name__

    def _denied_message(self, scope: str) -> str:
        repo = scope.split(":")[1] if scope.count(":") >= 2 else ""
        what = f"access to {repo}" if repo else "access"
        if self.credentials and self.credentials.username:
            return f"{what} denied on {self.host}: the credentials were refused or lack permission"
        return (
            f"{what} denied on {self.host}: the repository does not exist or requires "
            f"'dockyard login {self.host}'"
        )

    def ping(self) -> None:
        """GET /v2/ — checks that the host is a registry and that login credentials work."""
        resp = self.request("GET", "/v2/", scope="")
        if resp.status_code != 200:
            raise RegistryError(f"registry {self.host} answered {_error_text(resp)}")

    # ------------------------------------------------------------- manifests

    def get_manifest(self, repo: str, reference: str, accept: str = ACCEPT_MANIFESTS) -> Manifest:
        """Fetch a manifest or index by tag or digest; verify its digest."""
        import httpx

        scope = f"repository:{repo}:pull"
        resp = self.request(
            "GET", f"/v2/{repo}/manifests/{reference}", scope=scope, headers={"Accept": accept}, stream=True
        )
        try:
            if resp.status_code == 404:
                raise ManifestUnknown(
                    f"manifest for {self.host}/{repo}:{reference.removeprefix('sha256:')} "
                    f"not found: {_error_text(resp)}"
                )
            if resp.status_code != 200:
                raise RegistryError(
                    f"fetching manifest {repo}:{reference} from {self.host}: {_error_text(resp)}"
                )
            data = b""
            try:
                for chunk in resp.iter_bytes():
                    data += chunk
                    if len(data) > MAX_MANIFEST_BYTES:
                        raise RegistryError(f"manifest {repo}:{reference} from {self.host} is too large")
            except (httpx.TransportError, httpx.StreamError) as err:
                why = self._describe(err)
                raise RegistryUnreachable(
                    f"fetching manifest {repo}:{reference} from {self.host}: the connection broke after "
                    f"{len(data)} bytes ({why})"
                ) from err
        finally:
            resp.close()
        digest = sha256_digest(data)
        if reference.startswith("sha256:") and reference != digest:
            raise DigestMismatch(f"manifest {reference} from {self.host} hashes to {digest}: refusing it")
        header_digest = resp.headers.get("docker-content-digest")
        if header_digest and header_digest.startswith("sha256:") and header_digest != digest:
            raise DigestMismatch(
                f"manifest {repo}:{reference} from {self.host} hashes to {digest}, "
                f"but the registry named it {header_digest}: refusing it"
            )
        media_type = resp.headers.get("content-type", "").split(";")[0].strip()
        try:
            declared = json.loads(data).get("mediaType")
        except (ValueError, AttributeError):
            declared = None
        if declared:
            media_type = declared
        return Manifest(data=data, media_type=media_type, digest=digest)

    def put_manifest(self, repo: str, reference: str, data: bytes, media_type: str) -> str:
        scope = f"repository:{repo}:pull,push"
        resp = self.request(
            "PUT",
            f"/v2/{repo}/manifests/{reference}",
            scope=scope,
            headers={"Content-Type": media_type},
            content=data,
        )
        if resp.status_code not in (200, 201, 202):
            raise RegistryError(f"pushing manifest {repo}:{reference} to {self.host}: {_error_text(resp)}")
        return resp.headers.get("docker-content-digest") or sha256_digest(data)

    # ----------------------------------------------------------------- blobs

    def get_blob_bytes(self, repo: str, digest: str, limit: int = 64 * 1024 * 1024) -> bytes:
        """A small blob (an image config), read whole and verified."""
        with self.open_blob(repo, digest) as reader:
            data = reader.read(limit + 1)
        if len(data) > limit:
            raise RegistryError(f"blob {digest} from {self.host} is larger than {limit} bytes")
        if sha256_digest(data) != digest:
            raise DigestMismatch(
                f"blob {digest} from {self.host} hashes to {sha256_digest(data)}: refusing it"
            )
        return data

    @contextmanager
    def open_blob(
        self,
        repo: str,
        digest: str,
        *,
        offset: int = 0,
        retries: int | None = None,
        on_retry: Callable[[int, float, str], None] | None = None,
    ) -> Iterator[BlobReader]:
        reader = BlobReader(
            self,
            repo,
            digest,
            offset=offset,
            retries=self.retries if retries is None else retries,
            on_retry=on_retry,
        )
        try:
            yield reader
        finally:
            reader.close()

    def blob_exists(self, repo: str, digest: str) -> bool:
        resp = self.request("HEAD", f"/v2/{repo}/blobs/{digest}", scope=f"repository:{repo}:pull,push")
        if resp.status_code == 200:
            return True
        if resp.status_code == 404:
            return False
        raise RegistryError(f"checking blob {digest} on {self.host}/{repo}: HTTP {resp.status_code}")

    def mount_blob(self, repo: str, digest: str, from_repo: str) -> bool:
        """Cross-repository mount; True if the registry mounted it (201), False if it started an upload."""
        scope = f"repository:{repo}:pull,push repository:{from_repo}:pull"
        q = urlencode({"mount": digest, "from": from_repo})
        resp = self.request("POST", f"/v2/{repo}/blobs/uploads/?{q}", scope=scope)
        if resp.status_code == 201:
            return True
        if resp.status_code == 202:
            loc = resp.headers.get("location")
            if loc:  # cancel the upload session it opened instead of mounting
                self.request("DELETE", urljoin(self.base + "/", loc), scope=f"repository:{repo}:pull,push")
            return False
        raise RegistryError(f"mounting blob {digest} into {self.host}/{repo}: {_error_text(resp)}")

    def upload_blob(
        self,
        repo: str,
        digest: str,
        source: BinaryIO,
        size: int,
        *,
        chunk_size: int | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        """Upload a blob: monolithic (POST then one PUT) or chunked (PATCH ranges then PUT)."""
        scope = f"repository:{repo}:pull,push"
        resp = self.request("POST", f"/v2/{repo}/blobs/uploads/", scope=scope)
        if resp.status_code != 202 or "location" not in resp.headers:
            raise RegistryError(f"starting upload to {self.host}/{repo}: {_error_text(resp)}")
        location = urljoin(self.base + "/", resp.headers["location"])
        sent = 0
        if chunk_size:
            while sent < size:
                chunk = source.read(min(chunk_size, size - sent))
                if not chunk:
                    raise RegistryError(f"blob {digest} ended early while uploading")
                end = sent + len(chunk) - 1
                resp = self.request(
                    "PATCH",
                    location,
                    scope=scope,
                    content=chunk,
                    headers={
                        "Content-Type": "application/octet-stream",
                        "Content-Range": f"{sent}-{end}",
                        "Content-Length": str(len(chunk)),
                    },
                )
                if resp.status_code != 202 or "location" not in resp.headers:
                    raise RegistryError(f"uploading blob {digest} to {self.host}/{repo}: {_error_text(resp)}")
                location = urljoin(self.base + "/", resp.headers["location"])
                sent += len(chunk)
                if progress:
                    progress(sent)
            body: bytes | Iterator[bytes] = b""
        else:

            def _chunks() -> Iterator[bytes]:
                nonlocal sent
                while True:
                    chunk = source.read(1024 * 1024)
                    if not chunk:
                        return
                    sent += len(chunk)
                    if progress:
                        progress(sent)
                    yield chunk

            body = _chunks()
        sep = "&" if "?" in location else "?"
        headers = {"Content-Type": "application/octet-stream"}
        if not chunk_size:
            headers["Content-Length"] = str(size)
        resp = self.request(
            "PUT",
            f"{location}{sep}{urlencode({'digest': digest})}",
            scope=scope,
            content=body,
            headers=headers,
        )
        if resp.status_code not in (201, 204):
            raise RegistryError(f"finishing upload of {digest} to {self.host}/{repo}: {_error_text(resp)}")


class _Transient(Exception):
    """One failed try of a blob download that another try may get past."""


class BlobReader:
    """A file-like stream of one blob that survives dropped connections, within limits.

    If the connection breaks mid-body the reader re-requests the rest with ``Range: bytes=<offset>-`` and
    carries on, so the caller (hashing, decompressing and extracting as it reads) never sees the break.
    Every failed try — refused or reset connection, an answer cut short (even right after its headers),
    a read that stalls past the client's read timeout, a 5xx or 429 — spends one of ``retries``, whether or
    not bytes came in between, with a growing pause before the next (docker's budget: five retries per
    layer). Without that a registry that keeps closing after the headers is asked again and again forever.
    When the budget is spent the reader raises :class:`RegistryError` naming the blob and the last failure.
    """

    def __init__(
        self,
        client: RegistryClient,
        repo: str,
        digest: str,
        *,
        offset: int = 0,
        retries: int = 5,
        on_retry: Callable[[int, float, str], None] | None = None,
    ) -> None:
        self.client = client
        self.repo = repo
        self.digest = digest
        self.offset = offset
        self.retries = retries
        self.failures = 0
        self.on_retry = on_retry
        self.size: int | None = None
        self._resp: httpx.Response | None = None
        self._iter: Iterator[bytes] | None = None
        self._buf = b""
        self._eof = False
        self._connect()

    def _connect(self) -> None:
        """Open (or reopen at ``offset``) until it works or the retries are spent."""
        while True:
            try:
                self._open()
                return
            except _Transient as err:
                self._close_response()
                self._failed(str(err))
            except BaseException:
                self._close_response()  # the constructor raises: nobody else would close it
                raise

    def _failed(self, why: str) -> None:
        """Count a failed try; wait before the next or, with the retries spent, give up."""
        self.failures += 1
        if self.failures > self.retries:
            raise RegistryError(
                f"giving up on blob {self.digest} from {self.client.host} after {self.failures} tries "
                f"(the first and {self.retries} retries); the last failed: {why}"
            )
        delay = min(0.2 * 2 ** (self.failures - 1), 2.0)
        if self.on_retry is not None:
            self.on_retry(self.failures, delay, why)
        time.sleep(delay)

    def _open(self) -> None:
        import httpx

        # identity: we hash the bytes as sent, so no transfer compression (httpx offers gzip by default)
        headers = {"Accept-Encoding": "identity"}
        if self.offset:
            headers["Range"] = f"bytes={self.offset}-"
        try:
            resp = self.client.request(
                "GET",
                f"/v2/{self.repo}/blobs/{self.digest}",
                scope=f"repository:{self.repo}:pull",
                headers=headers,
                stream=True,
            )
        except RegistryUnreachable as err:
            raise _Transient(str(err)) from err
        self._resp = resp
        if resp.status_code == 404:
            raise ManifestUnknown(f"blob {self.digest} not found in {self.client.host}/{self.repo}")
        if resp.status_code >= 500 or resp.status_code == 429:
            raise _Transient(f"the registry answered {_error_text(resp)}")
        if resp.status_code == 200 and self.offset:
            # the server ignored Range: skip what we already have
            skip = self.offset
            it = resp.iter_raw()
            try:
                for chunk in it:
                    if skip >= len(chunk):
                        skip -= len(chunk)
                        continue
                    self._buf = chunk[skip:]
                    break
            except (httpx.TransportError, httpx.StreamError) as err:
                raise _Transient(self.client._describe(err)) from err
            self._iter = it
            return
        if resp.status_code not in (200, 206):
            raise RegistryError(f"fetching blob {self.digest} from {self.client.host}: {_error_text(resp)}")
        if self.size is None:
            if resp.status_code == 200 and resp.headers.get("content-length", "").isdigit():
                self.size = int(resp.headers["content-length"])
            elif resp.status_code == 206:
                total = resp.headers.get("content-range", "").rpartition("/")[2]
                self.size = int(total) if total.isdigit() else None
        # iter_raw: the blob's own bytes; a registry must not add transfer compression to them. No
        # chunk_size: httpx would hold up to that much back until it has a full chunk, and a dropped
        # connection would lose it, so a resume would start up to a chunk earlier than it could.
        self._iter = resp.iter_raw()

    def read(self, n: int = -1) -> bytes:
        out = []
        want = n if n >= 0 else 1 << 62
        got = 0
        while got < want and (self._buf or self._fill()):
            take = self._take_buffered(want - got)
            out.append(take)
            got += len(take)
        return b"".join(out)

    def read1(self, n: int = -1) -> bytes:
        """At most ``n`` bytes, as soon as some are here: what is buffered, else the next piece the network
        delivers (b"" only at the end). A caller that reports progress or checks for cancellation between
        reads does so at the network's pace, not once per ``n`` bytes (a megabyte takes 10 s at 100 kB/s)."""
        if n == 0 or not (self._buf or self._fill()):
            return b""
        return self._take_buffered(n)

    def _fill(self) -> bool:
        """Wait for the next piece of the body into the (empty) buffer, reconnecting after a break as the
        retries allow; False at the end of the blob."""
        import httpx

        while not self._buf:
            if self._eof:
                return False
            try:
                assert self._iter is not None
                self._buf = next(self._iter)
            except StopIteration:
                self._eof = True
                if self.size is not None and self.offset < self.size:
                    self._reconnect(f"the connection closed after {self.offset} of {self.size} bytes")
                    self._eof = False
            except (httpx.TransportError, httpx.StreamError) as err:
                self._reconnect(self._cut_short(err))
        return True

    def _take_buffered(self, n: int) -> bytes:
        """Up to ``n`` (all with -1) of the bytes already received."""
        take = self._buf if n < 0 else self._buf[:n]
        self._buf = self._buf[len(take) :]
        self.offset += len(take)
        return take

    def _cut_short(self, err: Exception) -> str:
        import httpx

        if isinstance(err, httpx.ReadTimeout):
            return self.client._describe(err)
        of = f" of {self.size}" if self.size is not None else ""
        return f"the connection broke after {self.offset}{of} bytes ({err or type(err).__name__})"

    def _reconnect(self, why: str) -> None:
        self._close_response()
        self._failed(why)
        self._connect()

    def readable(self) -> bool:
        return True

    def _close_response(self) -> None:
        if self._resp is not None:
            self._resp.close()
            self._resp = None
        self._iter = None

    def close(self) -> None:
        self._close_response()
