"""A small Docker token server (the ``auth: token`` side of distribution) for the test bed.

Protocol (docs: distribution's spec/auth/token.md and jwt.md): the registry answers 401 with
``WWW-Authenticate: Bearer realm=...,service=...,scope=...``; the client does
``GET <realm>?service=S&scope=repository:NAME:pull,push`` (scope may repeat), optionally with HTTP Basic
credentials, and receives ``{"token", "access_token", "expires_in", "issued_at"}``.

The JWT is ES256-signed; its header carries the signing certificate as ``x5c``. distribution 2.8
(registry/auth/token/token.go, VerifySigningKey) tries ``x5c`` first and verifies that chain against
``rootcertbundle``; the self-signed certificate is itself the bundle, so no ``kid`` (libtrust key id) is
needed.

Access policy (documented for tests; see POLICY below):
  * bad credentials                 -> 401 from the token server itself;
  * anonymous                       -> ``pull`` on every repository except those under ``private/``;
  * a known user (--user U:P)       -> ``pull``, ``push``, ``delete`` on every repository, and
                                       ``registry:catalog:*``.
The registry then refuses what the token does not grant (401/403 at the registry, not here): the
token server grants the subset of the requested actions that the policy allows, as Docker Hub does.

Runs as its own process (``python token_server.py --key ... --cert ... --port-file ...``) so a test that
forks never shares locks with a server thread. Standard library + ``cryptography`` only, no imports from
the project: it is started by path.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import secrets
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

PRIVATE_PREFIX = "private/"
POLICY = (
    "anonymous: pull on repositories outside private/; "
    "authenticated: pull,push,delete on all repositories and registry:catalog:*; "
    "wrong credentials: 401"
)


def make_signing_material(
    directory: Path, common_name: str = "dockyard-testbed-token-signer"
) -> tuple[Path, Path]:
    """A fresh P-256 key and a self-signed certificate for it (PEM); returns (key path, cert path)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        # a day of slack each side: the registry checks validity against its own clock
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, True, False, False, False), critical=True
        )
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    key_path, cert_path = directory / "token-signer.key", directory / "token-signer.crt"
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    key_path.chmod(0o600)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Signer:
    def __init__(self, key_pem: bytes, cert_pem: bytes) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec

        key = serialization.load_pem_private_key(key_pem, password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
            raise ValueError("the token signing key must be an EC P-256 key (ES256)")
        self._key = key
        cert = x509.load_pem_x509_certificate(cert_pem)
        self._x5c = [base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()]

    def sign(self, claims: dict[str, Any]) -> str:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

        header = {"typ": "JWT", "alg": "ES256", "x5c": self._x5c}
        signing_input = ".".join(
            _b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)
        )
        der = self._key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
        # JWS wants the raw r||s form (RFC 7518 3.4), not the DER that cryptography returns
        r, s = decode_dss_signature(der)
        return signing_input + "." + _b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


def parse_scope(scope: str) -> tuple[str, str, list[str]] | None:
    """``repository:library/busybox:pull,push`` -> ("repository", "library/busybox", ["pull", "push"])."""
    kind, sep, rest = scope.partition(":")
    name, sep2, actions = rest.rpartition(":")
    if not (sep and sep2 and kind and name):
        return None
    return kind, name, [a for a in actions.split(",") if a]


def granted_actions(kind: str, name: str, wanted: list[str], user: str | None) -> list[str]:
    if kind.startswith("repository"):  # "repository" or "repository(plugin)"
        if user is not None:
            allowed = {"pull", "push", "delete", "*"}
        elif not name.startswith(PRIVATE_PREFIX):
            allowed = {"pull"}
        else:
            allowed = set()
    elif kind == "registry" and name == "catalog":
        allowed = {"*"} if user is not None else set()
    else:
        allowed = set()
    return [a for a in wanted if a in allowed]


class TokenService:
    def __init__(
        self,
        signer: Signer,
        service: str,
        issuer: str,
        users: dict[str, str],
        log: Path | None,
        expires_in: int,
    ) -> None:
        self.signer, self.service, self.issuer, self.users = signer, service, issuer, users
        self.log, self.expires_in = log, expires_in
        self._log_lock = threading.Lock()

    def record(self, entry: dict[str, Any]) -> None:
        if self.log is None:
            return
        with self._log_lock, open(self.log, "a") as f:
            f.write(json.dumps(entry, sort_keys=True) + "\n")


class Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        sys.stderr.write(f"token-server {self.address_string()} {format % args}\n")

    def _send(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _credentials(self) -> tuple[str, str] | None:
        value = self.headers.get("Authorization", "")
        scheme, _, b64 = value.partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            user, _, password = base64.b64decode(b64.strip(), validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return ("", "")
        return user, password

    def do_GET(self) -> None:
        svc = self.server.service
        url = urlsplit(self.path)
        if url.path != "/token":
            self._send(404, {"errors": [{"code": "NOT_FOUND", "message": "only /token is served here"}]})
            return
        query = parse_qs(url.query)
        service = (query.get("service") or [""])[0]
        scopes = [s for value in query.get("scope", []) for s in value.split(" ") if s]
        creds = self._credentials()
        entry: dict[str, Any] = {
            "time": time.time(),
            "service": service,
            "scopes": scopes,
            "account": query["account"][0] if query.get("account") else None,
            "user": creds[0] if creds else None,
            "basic": creds is not None,
        }
        if service != svc.service:
            entry["status"] = 400
            svc.record(entry)
            self._send(400, {"errors": [{"code": "UNSUPPORTED", "message": f"unknown service {service!r}"}]})
            return
        user: str | None = None
        if creds is not None:
            if svc.users.get(creds[0]) != creds[1] or not creds[0]:
                entry["status"] = 401
                svc.record(entry)
                self._send(
                    401,
                    {"errors": [{"code": "UNAUTHORIZED", "message": "bad username or password"}]},
                    {"WWW-Authenticate": 'Basic realm="dockyard-testbed-token"'},
                )
                return
            user = creds[0]
        access = []
        for scope in scopes:
            parsed = parse_scope(scope)
            if parsed is None:
                continue
            kind, name, wanted = parsed
            access.append({"type": kind, "name": name, "actions": granted_actions(kind, name, wanted, user)})
        now = int(time.time())
        claims = {
            "iss": svc.issuer,
            "sub": user or "",
            "aud": service,
            "exp": now + svc.expires_in,
            "nbf": now - 1,
            "iat": now,
            "jti": secrets.token_hex(16),
            "access": access,
        }
        token = svc.signer.sign(claims)
        entry.update(status=200, granted=access)
        svc.record(entry)
        self._send(
            200,
            {
                "token": token,
                "access_token": token,
                "expires_in": svc.expires_in,
                "issued_at": datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            },
        )


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    service: TokenService


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--key", type=Path, required=True)
    p.add_argument("--cert", type=Path, required=True)
    p.add_argument("--service", required=True)
    p.add_argument("--issuer", required=True)
    p.add_argument("--user", action="append", default=[], help="USER:PASSWORD, may repeat")
    p.add_argument("--port-file", type=Path, required=True, help="written (atomically) once listening")
    p.add_argument("--requests-log", type=Path, help="one JSON line per token request")
    p.add_argument("--expires-in", type=int, default=300)
    args = p.parse_args(argv)
    users = dict(u.split(":", 1) for u in args.user)
    signer = Signer(args.key.read_bytes(), args.cert.read_bytes())
    server = _Server(("127.0.0.1", 0), Handler)  # port 0: the kernel picks a free one, no race
    server.service = TokenService(
        signer, args.service, args.issuer, users, args.requests_log, args.expires_in
    )
    tmp = args.port_file.with_name(f".tmp-{os.getpid()}-{hashlib.sha1(os.urandom(8)).hexdigest()[:8]}")
    tmp.write_text(str(server.server_address[1]))
    tmp.rename(args.port_file)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
