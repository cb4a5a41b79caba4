"""The running test bed: three registries on 127.0.0.1 and a token server, started from the cached images.

  open   no auth
  basic  htpasswd (bcrypt) Basic auth; every request needs BASIC_CREDENTIALS
  token  Bearer token auth against our token server (token_server.py). Policy: anonymous clients may
         pull any repository outside ``private/``; TOKEN_CREDENTIALS may pull, push and delete anything
         and list the catalog; wrong credentials get 401 from the token server.

Each registry serves its own copy of the pristine storage built by build.py, so every registry holds
every image in build.IMAGES (``private/busybox:latest`` included) and tests may push or delete freely.
"""

from __future__ import annotations

import atexit
import base64
import json
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.testbed.build import BuiltImages, LayoutImage
from tests.testbed.common import TestbedError, make_scratch_dir, remove_scratch
from tests.testbed.registry import HtpasswdAuth, Registry, TokenAuth, spawn, start_all, stop, write_htpasswd

BASIC_CREDENTIALS = ("basicuser", "basic-secret")
TOKEN_CREDENTIALS = ("tokenuser", "token-secret")
TOKEN_SERVICE = "dockyard-testbed"
TOKEN_ISSUER = "dockyard-testbed-issuer"
REGISTRIES = ("open", "basic", "token")


@dataclass
class Testbed:
    """What tests get from the ``testbed`` fixture. Addresses are ``127.0.0.1:PORT``."""

    __test__ = False  # not a test class, despite the name

    open_addr: str
    basic_addr: str
    token_addr: str
    token_server_addr: str
    images: dict[str, LayoutImage]  # registry name ("busybox:latest") -> OCI layout + tag it came from
    digests: dict[str, str]  # registry name -> manifest digest as served
    workdir: Path
    basic_credentials: tuple[str, str] = BASIC_CREDENTIALS
    token_credentials: tuple[str, str] = TOKEN_CREDENTIALS
    token_service: str = TOKEN_SERVICE
    _registries: dict[str, Registry] = field(default_factory=dict, repr=False)
    _token_proc: Any = field(default=None, repr=False)

    @property
    def token_realm(self) -> str:
        return f"http://{self.token_server_addr}/token"

    def addr(self, registry: str = "open") -> str:
        try:
            return {"open": self.open_addr, "basic": self.basic_addr, "token": self.token_addr}[registry]
        except KeyError:
            raise ValueError(f"unknown test bed registry {registry!r}; use one of {', '.join(REGISTRIES)}")

    def ref(self, name: str, registry: str = "open") -> str:
        """``ref("busybox:latest")`` -> ``"127.0.0.1:PORT/busybox:latest"``."""
        return f"{self.addr(registry)}/{name}"

    def layout(self, name: str) -> LayoutImage:
        """The OCI layout image a name was pushed from (``busybox:v2s2`` -> the busybox layout, :latest)."""
        return self.images[name]

    def credentials(self, registry: str) -> tuple[str, str] | None:
        return {"open": None, "basic": self.basic_credentials, "token": self.token_credentials}[registry]

    def docker_config(self, *registries: str) -> dict[str, Any]:
        """A ``config.json`` body holding the credentials of the given registries (default: basic, token)."""
        auths = {}
        for reg in registries or ("basic", "token"):
            creds = self.credentials(reg)
            if creds:
                auths[self.addr(reg)] = {"auth": base64.b64encode(":".join(creds).encode()).decode()}
        return {"auths": auths}

    def token_requests(self) -> list[dict[str, Any]]:
        """Every request the token server answered so far: service, scopes, user, status, granted."""
        path = self.workdir / "token" / "requests.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def pids(self) -> list[int]:
        """PIDs of the processes this bed started (registries, token server) that are still running."""
        procs = [r.proc for r in self._registries.values()] + [self._token_proc]
        return [p.pid for p in procs if p is not None and p.poll() is None]

    def log(self, registry: str) -> str:
        """The registry's own log (access log included), for failure messages."""
        return self._registries[registry].log.read_text(errors="replace")

    def close(self) -> None:
        """Stop every process by its Popen and remove the scratch tree. Safe to call twice."""
        for reg in self._registries.values():
            reg.stop()
        if self._token_proc is not None:
            stop(self._token_proc)
            self._token_proc = None
        if self.workdir.exists():
            remove_scratch(self.workdir)
        atexit.unregister(self.close)


def _wait_for_file(path: Path, proc: Any, log: Path, timeout: float = 15.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            return path.read_text().strip()
        if proc.poll() is not None:
            tail = " | ".join(log.read_text(errors="replace").strip().splitlines()[-5:])
            raise TestbedError(f"token server exited with {proc.returncode}: {tail}")
        time.sleep(0.01)
    raise TestbedError(f"token server did not start within {timeout:.0f} s (see {log})")


def start_testbed(built: BuiltImages) -> Testbed:
    """Start the token server and the three registries on copies of ``built.storage``."""
    from tests.testbed import token_server

    work = make_scratch_dir("dockyard-testbed-run-")
    bed = Testbed("", "", "", "", built.images, built.digests, work)
    atexit.register(bed.close)  # an interrupted session still stops the processes and removes the tree
    try:
        tdir = work / "token"
        key, cert = token_server.make_signing_material(tdir)
        port_file, token_log = tdir / "port", tdir / "token-server.log"
        # started first: the interpreter and `cryptography` import while we copy the storage
        bed._token_proc = spawn(
            [sys.executable, token_server.__file__, "--key", str(key), "--cert", str(cert),
             "--service", TOKEN_SERVICE, "--issuer", TOKEN_ISSUER, "--user", ":".join(TOKEN_CREDENTIALS),
             "--port-file", str(port_file), "--requests-log", str(tdir / "requests.jsonl")],
            token_log,
        )  # fmt: skip
        for name in REGISTRIES:
            shutil.copytree(built.storage, work / name / "storage", symlinks=True)
        htpasswd = work / "basic" / "htpasswd"
        write_htpasswd(htpasswd, *BASIC_CREDENTIALS)
        token_port = _wait_for_file(port_file, bed._token_proc, token_log)
        bed.token_server_addr = f"127.0.0.1:{token_port}"
        auths: dict[str, HtpasswdAuth | TokenAuth | None] = {
            "open": None,
            "basic": HtpasswdAuth(htpasswd),
            "token": TokenAuth(bed.token_realm, TOKEN_SERVICE, TOKEN_ISSUER, cert),
        }
        bed._registries = {n: Registry(n, work / n, work / n / "storage", auths[n]) for n in REGISTRIES}
        start_all(list(bed._registries.values()))
        bed.open_addr, bed.basic_addr, bed.token_addr = (bed._registries[n].addr for n in REGISTRIES)
    except BaseException:
        bed.close()
        raise
    return bed
