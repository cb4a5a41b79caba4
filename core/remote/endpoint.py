"""Where a remote engine is: ``unix:///path``, ``tcp://host:port`` (with TLS when asked), as the docker CLI
reads ``-H``/``DOCKER_HOST`` and a context's endpoint; and raw sockets to it for hijacked connections."""

from __future__ import annotations

import os
import socket

from core.errors import InvalidArgument
from core.record import record

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    import ssl

DEFAULT_TCP_PORT = 2375
DEFAULT_TLS_PORT = 2376
CONNECT_TIMEOUT = 5.0


class EngineUnreachable(InvalidArgument):
    """The engine's endpoint could not be reached (docker's "Cannot connect to the Docker daemon")."""


@record(frozen=True)
class TLSOptions:
    """``--tls``/``--tlsverify`` and the three PEM files (``DOCKER_CERT_PATH``, a context's TLS folder)."""

    verify: bool = False  # check the engine's certificate against ``ca``
    ca: str = ""
    cert: str = ""
    key: str = ""

    def context(self) -> ssl.SSLContext:
        import ssl  # only for TLS (~5 ms)

        if self.verify:
            ctx = ssl.create_default_context(cafile=self.ca or None)
            ctx.check_hostname = True
        else:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        if self.cert:
            try:
                ctx.load_cert_chain(self.cert, self.key or None)
            except OSError as err:  # ssl.SSLError included
                raise InvalidArgument(f"could not load the client certificate {self.cert}: {err}") from None
        return ctx


@record(frozen=True)
class Endpoint:
    """One engine's address. ``scheme`` is ``unix``, ``tcp`` or ``ssh``."""

    scheme: str
    address: str  # the socket path (unix), host:port (tcp), [user@]host[:port] (ssh)
    tls: TLSOptions | None = None
    name: str = ""  # the context it came from, if any

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.address}"

    @property
    def host(self) -> str:
        return self.address.rsplit(":", 1)[0].strip("[]")

    @property
    def port(self) -> int:
        return int(self.address.rsplit(":", 1)[1])

    def describe(self) -> str:
        return self.url

    def open_socket(self, timeout: float | None = CONNECT_TIMEOUT) -> socket.socket:
        """A connected socket to the engine (TLS wrapped), for a connection the client hijacks."""
        try:
            if self.scheme == "unix":
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.settimeout(timeout)
                try:
                    sock.connect(self.address)
                except BaseException:
                    sock.close()
                    raise
                return sock
            if self.scheme == "tcp":
                sock = socket.create_connection((self.host, self.port), timeout=timeout)
                if self.tls is not None:
                    try:
                        return self.tls.context().wrap_socket(sock, server_hostname=self.host)
                    except BaseException:
                        sock.close()
                        raise
                return sock
        except OSError as err:  # ssl.SSLError included
            raise unreachable(self, err) from None
        raise InvalidArgument(f"no raw connection over {self.scheme}:// ({self.url})")


def unreachable(endpoint: Endpoint, err: BaseException) -> EngineUnreachable:
    reason = getattr(err, "strerror", None) or str(err) or type(err).__name__
    return EngineUnreachable(f"Cannot connect to the Docker daemon at {endpoint.url}: {reason}")


def parse_host(text: str, tls: TLSOptions | None = None, *, name: str = "") -> Endpoint:
    """``-H``'s value as the docker CLI reads it (opts.ParseHost): ``unix:///path``, ``tcp://host[:port]``
    (the port defaults to 2376 with TLS, 2375 without), ``ssh://[user@]host[:port]``; a bare path or
    ``host:port`` too."""
    text = text.strip()
    if not text:
        raise InvalidArgument("invalid host: empty")
    if "://" not in text:
        text = ("unix://" if text.startswith("/") else "tcp://") + text
    scheme, _, rest = text.partition("://")
    scheme = scheme.lower()
    if scheme == "unix":
        if not rest:
            raise InvalidArgument(f"invalid bind address ({text}): empty unix socket path")
        return Endpoint("unix", rest, None, name)
    if scheme in ("tcp", "http", "https"):
        rest = rest.split("/", 1)[0]
        if not rest:
            raise InvalidArgument(f"invalid bind address ({text}): no host")
        if scheme == "https" and tls is None:
            tls = TLSOptions()
        has_port = "]:" in rest if rest.startswith("[") else ":" in rest
        if not has_port:
            rest = f"{rest}:{DEFAULT_TLS_PORT if tls is not None else DEFAULT_TCP_PORT}"
        try:
            int(rest.rsplit(":", 1)[1])
        except ValueError:
            raise InvalidArgument(f"invalid bind address ({text}): bad port") from None
        return Endpoint("tcp", rest, tls, name)
    if scheme == "ssh":
        rest = rest.rstrip("/")
        if not rest or "/" in rest:
            raise InvalidArgument(f"invalid ssh host ({text}): expected ssh://[user@]host[:port]")
        return Endpoint("ssh", rest, None, name)
    if scheme == "fd":
        raise InvalidArgument(f"{text}: fd:// is only for an engine started by systemd, not for a client")
    raise InvalidArgument(f"Invalid bind address format: {text}")


def tls_from_env(
    *,
    tls: bool = False,
    tlsverify: bool | None = None,
    cacert: str | None = None,
    cert: str | None = None,
    key: str | None = None,
) -> TLSOptions | None:
    """The TLS settings the docker CLI takes from its flags and environment: ``--tlsverify`` (or a non-empty
    ``DOCKER_TLS_VERIFY``) checks the engine's certificate; ``--tls`` alone only encrypts; the files default
    to ``ca.pem``, ``cert.pem``, ``key.pem`` under ``DOCKER_CERT_PATH`` (default ``~/.docker``)."""
    if tlsverify is None:
        tlsverify = bool(os.environ.get("DOCKER_TLS_VERIFY"))
    if not (tls or tlsverify or cacert or cert or key):
        return None
    base = os.environ.get("DOCKER_CERT_PATH") or os.path.join(os.path.expanduser("~"), ".docker")

    def pick(given: str | None, default: str) -> str:
        if given:
            return given
        path = os.path.join(base, default)
        return path if os.path.exists(path) else ""

    return TLSOptions(
        verify=bool(tlsverify),
        ca=pick(cacert, "ca.pem"),
        cert=pick(cert, "cert.pem"),
        key=pick(key, "key.pem"),
    )
