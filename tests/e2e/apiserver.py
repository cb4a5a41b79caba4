"""A ``dockyard serve`` of the test's own, on a socket in the test's scratch directory, over the test
engine root (``engine_config``): what tests/e2e/test_api_*.py drive with real clients (the docker CLI,
docker-py, docker-compose). The server is stopped by its PID; the containers are the engine_config
fixture's to remove."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.config import Config

DOCKYARD = str(Path(sys.executable).with_name("dockyard"))
DOCKER = shutil.which("docker") or "/usr/local/bin/docker"


class ApiServer:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.base = config.root.parent
        self.sock = self.base / "api.sock"
        self.docker_config = self.base / "docker-cli"
        self.docker_config.mkdir(exist_ok=True)
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = self.base / "api.log"

    @property
    def host(self) -> str:
        return f"unix://{self.sock}"

    def engine_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("DOCKYARD_ROOT", "DOCKER_HOST")}
        env["DOCKYARD_RUN"] = str(self.config.run)
        env["DOCKYARD_CGROUP_PARENT"] = self.config.cgroup_parent
        return env

    def env(self) -> dict[str, str]:
        """For clients: DOCKER_HOST on our socket, a docker config dir of their own, the legacy builder."""
        return {
            **self.engine_env(),
            "DOCKER_HOST": self.host,
            "DOCKER_CONFIG": str(self.docker_config),
            "DOCKER_BUILDKIT": "0",
            "DOCKER_CLI_HINTS": "false",
        }

    def start(self, *extra: str) -> None:
        assert self.proc is None
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [DOCKYARD, "--root", str(self.config.root), "serve", "-H", self.host, *extra],
                stdout=log,
                stderr=log,
                env=self.engine_env(),
                start_new_session=True,
            )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"the API server exited {self.proc.returncode}: {self.log.read_text()}")
            with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX) as s:
                s.connect(str(self.sock))
                return
            time.sleep(0.05)
        raise AssertionError(f"the API server did not listen: {self.log.read_text()}")

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()
        self.proc = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    # ------------------------------------------------------------------------------------ clients
    def docker(
        self, *args: str, input: str | bytes | None = None, timeout: float = 60, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        r = subprocess.run(
            [DOCKER, *args],
            capture_output=True,
            text=True,
            input=input if not isinstance(input, bytes) else input.decode(),
            timeout=timeout,
            env=self.env(),
        )
        if check:
            assert r.returncode == 0, f"docker {' '.join(args)}: rc {r.returncode}\n{r.stdout}\n{r.stderr}"
        return r

    def dockyard(
        self, *args: str, timeout: float = 60, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        r = subprocess.run(
            [DOCKYARD, "--root", str(self.config.root), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=self.engine_env(),
        )
        if check:
            assert r.returncode == 0, f"dockyard {' '.join(args)}: rc {r.returncode}\n{r.stderr}"
        return r

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        """One plain HTTP request on the socket: (status, headers, body)."""
        conn = UnixHTTPConnection(str(self.sock))
        try:
            data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
            hdrs = {"Content-Type": "application/json", **(headers or {})}
            conn.request(method, path, body=data, headers=hdrs)
            resp = conn.getresponse()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
        finally:
            conn.close()


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float = 60) -> None:
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self) -> None:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.path)
        self.sock = s


def needs_docker_cli() -> None:
    if not os.path.exists(DOCKER):
        pytest.skip("the docker CLI is not installed")


@contextlib.contextmanager
def running_server(config: Config, *extra: str) -> Iterator[ApiServer]:
    server = ApiServer(config)
    server.start(*extra)
    try:
        yield server
    finally:
        server.stop()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_certs(d: Path) -> None:
    """A test CA (ca.pem) and the server (IP 127.0.0.1) and client certificates it signs, in ``d``."""

    def ssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)

    ssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca-key.pem", "-out", "ca.pem",
        "-days", "1", "-subj", "/CN=test-ca")  # fmt: skip
    for name, ext in (("server", "subjectAltName=IP:127.0.0.1"), ("client", "extendedKeyUsage=clientAuth")):
        ssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}-key.pem", "-out", f"{name}.csr",
            "-subj", f"/CN={name}")  # fmt: skip
        (d / f"{name}.ext").write_text(ext + "\n")
        ssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-CAcreateserial",
            "-out", f"{name}.pem", "-days", "1", "-extfile", f"{name}.ext")  # fmt: skip


@contextlib.contextmanager
def tls_server(config: Config, certs: Path) -> Iterator[int]:
    """``dockyard serve`` on a free loopback port with mutual TLS from ``make_certs(certs)``; its port."""
    make_certs(certs)
    port = free_port()
    env = {**os.environ, "DOCKYARD_RUN": str(config.run)}
    proc = subprocess.Popen(
        [DOCKYARD, "--root", str(config.root), "serve", "-H", f"tcp://127.0.0.1:{port}", "--tlsverify",
         "--tlscacert", str(certs / "ca.pem"), "--tlscert", str(certs / "server.pem"),
         "--tlskey", str(certs / "server-key.pem")],
        env=env, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stderr is not None and "API listening on" in proc.stderr.readline()
        yield port
    finally:
        proc.terminate()
        proc.wait(10)
