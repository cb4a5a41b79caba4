"""``dockyard serve`` itself: the ping and version negotiation, Docker's error documents and status codes,
bad input (never a traceback, never half-made state), streams that end when their client goes away,
listeners (unix socket mode, tcp only on loopback or with mutual TLS), and a ``kill -9`` of the server
that leaves every container running and manageable."""

from __future__ import annotations

import io
import json
import os
import shutil
import socket
import subprocess
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.config import Config
from tests.e2e.apiserver import (
    DOCKER,
    DOCKYARD,
    ApiServer,
    free_port,
    needs_docker_cli,
    running_server,
    tls_server,
)
from tests.testbed import Testbed

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")


@pytest.fixture
def api(engine_config: Config) -> Iterator[ApiServer]:
    with running_server(engine_config) as server:
        yield server


def _threads(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


def _settle_threads(pid: int, at_most: int, timeout: float = 10) -> int:
    deadline = time.monotonic() + timeout
    n = _threads(pid)
    while n > at_most and time.monotonic() < deadline:
        time.sleep(0.1)
        n = _threads(pid)
    return n


def _wakeups(pid: int) -> dict[int, int]:
    """Each thread of ``pid``: how many times it has slept and been woken."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            text = Path(f"/proc/{pid}/task/{tid}/status").read_text()
        except FileNotFoundError:
            continue  # a connection's thread, gone meanwhile
        for line in text.splitlines():
            if line.startswith("voluntary_ctxt_switches:"):
                out[int(tid)] = int(line.split()[1])
    return out


def test_a_request_keeps_cgroup_moves_primed_a_moment_then_the_server_sleeps(api: ApiServer) -> None:
    # the docker CLI's exec moves its process into the container's cgroups three requests after its first:
    # each request has the engine keep the kernel's fast path for that move open for a moment (a thread
    # moving the server into its own cgroup every few ms: cgroupfs.MovePrimer), and then nothing wakes
    api.request("GET", "/_ping")
    moving: list[int] = []
    for _ in range(10):  # a loaded machine may not run the thread within one hold: ask again
        time.sleep(0.3)  # the last hold is over
        api.request("GET", "/_ping")
        time.sleep(0.01)
        before = _wakeups(api.pid)  # the request is answered: what wakes from here on is not its work
        time.sleep(0.05)
        during = _wakeups(api.pid)
        moving = [tid for tid, n in during.items() if tid in before and n - before[tid] >= 3]
        if moving:
            break
    assert moving, "no thread of the server moved after a request"
    time.sleep(0.3)  # the hold (0.1 s) is over
    settled = _wakeups(api.pid)
    time.sleep(0.5)
    idle = _wakeups(api.pid)
    assert all(idle[tid] == settled[tid] for tid in moving if tid in idle), (settled, idle)


def test_ping_and_versions(api: ApiServer) -> None:
    for method in ("GET", "HEAD"):
        status, headers, body = api.request(method, "/_ping")
        assert status == 200
        assert headers["api-version"] == "1.43" and headers["ostype"] == "linux"
        assert headers["docker-experimental"] == "false" and headers["server"].startswith("Dockyard/")
        assert body == (b"OK" if method == "GET" else b"")
    for path in ("/version", "/v1.24/version", "/v1.43/version"):
        status, _, body = api.request("GET", path)
        doc = json.loads(body)
        assert status == 200 and doc["ApiVersion"] == "1.43" and doc["MinAPIVersion"] == "1.24"
    status, _, body = api.request("GET", "/v1.50/version")
    assert status == 400 and "too new" in json.loads(body)["message"]
    status, _, body = api.request("GET", "/v1.12/version")
    assert status == 400 and "too old" in json.loads(body)["message"]
    status, _, body = api.request("GET", "/v1.43/no/such/endpoint")
    assert status == 404 and json.loads(body)["message"] == "page not found: GET /no/such/endpoint"


def test_errors_as_docker_has_them(api: ApiServer, testbed: Testbed) -> None:
    ref = testbed.ref("busybox:latest")
    status, _, _ = api.request("POST", f"/v1.43/images/create?fromImage={ref.rsplit(':', 1)[0]}&tag=latest")
    assert status == 200

    def create(body: object, name: str = "", raw: bytes | None = None) -> tuple[int, str]:
        query = f"?name={name}" if name else ""
        status, _, data = api.request("POST", f"/v1.43/containers/create{query}", body, raw=raw)
        doc = json.loads(data)
        return status, doc.get("message") or doc.get("Id", "")

    # bad input: 400 with a message, nothing made
    assert create(None, raw=b'{"Image": ')[0] == 400
    status, message = create({"Image": ref, "Cmd": 5})
    assert status == 400 and "Cmd" in message
    assert create(["not", "an", "object"])[0] == 400
    status, message = create({"Image": ref, "HostConfig": {"BlkioWeight": 300, "Memory": 0}})
    assert status == 400 and "HostConfig.BlkioWeight" in message
    status, message = create(None, raw=b'{"Image": "' + b"x" * (9 << 20) + b'"}')
    assert status == 400 and "larger than" in message
    status, _, data = api.request("POST", "/v1.43/containers/create", raw=b"\xff\xfe not json")
    assert status == 400
    assert api.docker("ps", "-aq").stdout == "" if os.path.exists(DOCKER) else True
    _, _, listing = api.request("GET", "/v1.43/containers/json?all=1")
    assert json.loads(listing) == []
    status, _, _ = api.request("GET", "/v1.43/containers/json?all=maybe")
    assert status == 400
    status, _, _ = api.request("GET", '/v1.43/containers/json?filters={"label":5}')
    assert status == 400

    # not found: 404 naming it
    status, message = create({"Image": "no-such-image:here"})
    assert status == 404 and "no-such-image" in message
    status, _, data = api.request("GET", "/v1.43/containers/nosuch/json")
    assert status == 404 and json.loads(data)["message"] == "No such container: nosuch"
    assert api.request("GET", "/v1.43/networks/nosuch")[0] == 404
    assert api.request("GET", "/v1.43/volumes/nosuch")[0] == 404
    assert api.request("GET", "/v1.43/images/nosuch/json")[0] == 404

    # conflicts and not-modified
    status, cid = create({"Image": ref, "Cmd": ["sleep", "300"]}, name="one")
    assert status == 201 and len(cid) == 64
    status, message = create({"Image": ref}, name="one")
    assert status == 409
    assert api.request("POST", f"/v1.43/containers/{cid}/start")[0] == 204
    assert api.request("POST", f"/v1.43/containers/{cid}/start")[0] == 304
    status, _, data = api.request("DELETE", f"/v1.43/containers/{cid}")
    assert status == 409 and json.loads(data)["message"]
    assert api.request("POST", f"/v1.43/containers/{cid}/stop?t=0")[0] == 204
    assert api.request("POST", f"/v1.43/containers/{cid}/stop")[0] == 304
    status, _, data = api.request("POST", f"/v1.43/containers/{cid}/wait")
    assert status == 200 and json.loads(data)["StatusCode"] == 137
    assert api.request("DELETE", f"/v1.43/containers/{cid}")[0] == 204
    status, _, data = api.request("GET", "/v1.43/images/search?term=busybox")
    assert status == 501 and "search" in json.loads(data)["message"]


def test_streams_end_with_their_client_and_block_no_one(api: ApiServer, testbed: Testbed) -> None:
    ref = testbed.ref("busybox:latest")
    api.request("POST", f"/v1.43/images/create?fromImage={ref.rsplit(':', 1)[0]}&tag=latest")
    _, _, data = api.request(
        "POST", "/v1.43/containers/create?name=chatty", {"Image": ref, "Cmd": ["sleep", "300"]}
    )
    cid = json.loads(data)["Id"]
    api.request("POST", f"/v1.43/containers/{cid}/start")
    baseline = _settle_threads(api.pid, 1, timeout=2)
    streams = []
    for path in (
        "/v1.43/events",
        f"/v1.43/containers/{cid}/logs?follow=1&stdout=1&stderr=1",
        f"/v1.43/containers/{cid}/stats",
        f"/v1.43/containers/{cid}/wait",
    ):
        s = socket.socket(socket.AF_UNIX)
        s.connect(str(api.sock))
        method = "POST" if path.endswith("/wait") else "GET"
        s.sendall(f"{method} {path} HTTP/1.1\r\nHost: d\r\n\r\n".encode())
        assert s.recv(12).startswith(b"HTTP/1.1 200")
        streams.append(s)
    # the streams hold no one up
    t0 = time.monotonic()
    for _ in range(20):
        assert api.request("GET", "/_ping")[0] == 200
    assert time.monotonic() - t0 < 5
    assert _threads(api.pid) > baseline
    for s in streams:
        s.close()
    assert _settle_threads(api.pid, baseline) <= baseline

    # a build whose client goes away is cancelled: no image is tagged
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        df = f"FROM {ref}\nRUN sleep 2\nRUN echo after > /after\n".encode()
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(df)
        t.addfile(info, io.BytesIO(df))
    ctx = buf.getvalue()
    s = socket.socket(socket.AF_UNIX)
    s.connect(str(api.sock))
    s.sendall(
        b"POST /v1.43/build?t=cancelled:1 HTTP/1.1\r\nHost: d\r\nContent-Type: application/x-tar\r\n"
        + f"Content-Length: {len(ctx)}\r\n\r\n".encode()
        + ctx
    )
    assert s.recv(12).startswith(b"HTTP/1.1 200")
    time.sleep(0.5)
    s.close()
    assert _settle_threads(api.pid, baseline, timeout=20) <= baseline
    _, _, data = api.request("GET", "/v1.43/images/json")
    assert not any("cancelled:1" in t for i in json.loads(data) for t in i["RepoTags"])


def test_kill_9_of_the_server_leaves_containers_running_and_manageable(
    engine_config: Config, testbed: Testbed
) -> None:
    needs_docker_cli()
    server = ApiServer(engine_config)
    server.start()
    try:
        ref = testbed.ref("busybox:latest")
        server.docker("pull", "-q", ref)
        server.docker("run", "-d", "--name", "survivor", ref, "sleep", "300")
        server.docker("run", "-dt", "--name", "ttysurvivor", ref, "sh")
        pid = int(server.docker("inspect", "--format", "{{.State.Pid}}", "survivor").stdout)
        server.kill9()
        assert os.path.exists(f"/proc/{pid}")
        ps = server.dockyard("ps", "--format", "{{.Names}} {{.Status}}").stdout
        assert "survivor Up" in ps and "ttysurvivor Up" in ps
        server.dockyard("exec", "survivor", "true")
        server.start()  # the stale socket is taken over
        assert "survivor" in server.docker("ps", "--format", "{{.Names}}").stdout.split()
        assert server.docker("exec", "survivor", "echo", "still").stdout == "still\n"
        server.docker("stop", "-t", "1", "survivor")
        assert not os.path.exists(f"/proc/{pid}") or Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
        server.dockyard("rm", "-f", "ttysurvivor")
        assert server.docker("ps", "-q").stdout == ""
    finally:
        server.stop()


def _serve(config: Config, *args: str, timeout: float = 10) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DOCKYARD_RUN": str(config.run)}
    return subprocess.run(
        [DOCKYARD, "--root", str(config.root), "serve", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def test_listeners(engine_config: Config, tmp_path: Path) -> None:
    # tcp beyond loopback only with mutual TLS
    r = _serve(engine_config, "-H", f"tcp://0.0.0.0:{free_port()}")
    assert r.returncode != 0 and "mutual TLS" in r.stderr
    # a unix socket is 0660, and several -H at once (the alias, as podman's)
    sock = tmp_path / "a.sock"
    port = free_port()
    env = {**os.environ, "DOCKYARD_RUN": str(engine_config.run)}
    proc = subprocess.Popen(
        [DOCKYARD, "--root", str(engine_config.root), "system", "service", "-H", f"unix://{sock}",
         "-H", f"tcp://127.0.0.1:{port}"],
        env=env, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        assert "API listening on" in line, line
        assert oct(os.stat(sock).st_mode & 0o777) == "0o660"
        server = ApiServer(engine_config)
        server.sock = sock
        assert server.request("GET", "/_ping")[0] == 200
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.sendall(b"GET /v1.43/version HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        assert data.startswith(b"HTTP/1.1 200") and b'"ApiVersion": "1.43"' in data
    finally:
        proc.terminate()
        proc.wait(10)
    assert not sock.exists()


def test_mutual_tls(engine_config: Config, testbed: Testbed, tmp_path: Path) -> None:
    needs_docker_cli()
    with tls_server(engine_config, tmp_path) as port:
        client_dir = tmp_path / "client"
        client_dir.mkdir()
        for src, dst in (("ca.pem", "ca.pem"), ("client.pem", "cert.pem"), ("client-key.pem", "key.pem")):
            (client_dir / dst).write_bytes((tmp_path / src).read_bytes())
        cenv = {**os.environ, "DOCKER_HOST": f"tcp://127.0.0.1:{port}", "DOCKER_TLS_VERIFY": "1",
                "DOCKER_CERT_PATH": str(client_dir), "DOCKER_CONFIG": str(tmp_path / "cfg")}  # fmt: skip
        r = subprocess.run([DOCKER, "version", "--format", "{{.Server.APIVersion}}"], capture_output=True,
                           text=True, env=cenv, timeout=30)  # fmt: skip
        assert r.returncode == 0 and r.stdout.strip() == "1.43", r.stderr
        # hijacked streams over TLS: stdin to a container, its half-close, the output back
        ref = testbed.ref("busybox:latest")
        subprocess.run([DOCKER, "pull", "-q", ref], env=cenv, check=True, capture_output=True, timeout=60)
        cmd = [DOCKER, "run", "-i", "--rm", ref, "sh", "-c", "cat; exit 3"]
        r = subprocess.run(cmd, input="through tls\n", capture_output=True, text=True, env=cenv, timeout=60)
        assert (r.returncode, r.stdout) == (3, "through tls\n"), r.stderr
        # without a client certificate the handshake is refused
        (client_dir / "cert.pem").unlink()
        (client_dir / "key.pem").unlink()
        r = subprocess.run([DOCKER, "version"], capture_output=True, text=True, env=cenv, timeout=30)
        assert r.returncode != 0


def test_systemd_socket_activation(engine_config: Config, tmp_path: Path) -> None:
    activate = shutil.which("systemd-socket-activate")
    if activate is None:
        pytest.skip("systemd-socket-activate is not installed")
    sock = tmp_path / "activated.sock"
    proc = subprocess.Popen(
        [activate, "-l", str(sock), "-E", f"DOCKYARD_RUN={engine_config.run}", DOCKYARD, "--root",
         str(engine_config.root), "serve", "-H", "fd://"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stderr is not None and "Listening on" in proc.stderr.readline()
        server = ApiServer(engine_config)
        server.sock = sock
        status, _, body = server.request("GET", "/_ping")  # the first connection starts the server
        assert (status, body) == (200, b"OK")
        status, _, body = server.request("GET", "/v1.43/containers/json")
        assert (status, json.loads(body)) == (200, [])
    finally:
        proc.terminate()
        proc.wait(10)
    # without systemd's sockets, fd:// says what is missing
    r = _serve(engine_config, "-H", "fd://")
    assert r.returncode != 0 and "LISTEN_FDS" in r.stderr


def test_a_pull_whose_client_goes_away_is_cancelled(api: ApiServer, testbed: Testbed) -> None:
    from tests.e2e.faultproxy import FaultProxy

    with FaultProxy(testbed.open_addr) as proxy:
        proxy.throttle = 100_000  # busybox's ~1 MB layer takes ~10 s
        s = socket.socket(socket.AF_UNIX)
        s.connect(str(api.sock))
        line = f"POST /v1.43/images/create?fromImage={proxy.addr}/busybox&tag=latest HTTP/1.1\r\n"
        s.sendall(line.encode() + b"Host: d\r\nContent-Length: 0\r\n\r\n")
        assert s.recv(12).startswith(b"HTTP/1.1 200")
        deadline = time.monotonic() + 20
        while proxy.blob_bytes_sent < 10_000 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proxy.blob_bytes_sent >= 10_000  # the layer is on its way
        during = _threads(api.pid)
        s.close()
        # the pull stops at its next progress report (how soon depends on how the engine reads the layer)
        # and what it held goes with it; the image is never made
        assert _settle_threads(api.pid, during - 2, timeout=30) < during
    _, _, data = api.request("GET", "/v1.43/images/json")
    assert json.loads(data) == []


def test_an_attach_waiting_for_a_start_made_elsewhere(api: ApiServer, testbed: Testbed) -> None:
    ref = testbed.ref("busybox:latest")
    api.request("POST", f"/v1.43/images/create?fromImage={ref.rsplit(':', 1)[0]}&tag=latest")
    body = {"Image": ref, "Cmd": ["sh", "-c", "sleep 1; echo from-elsewhere"]}
    _, _, data = api.request("POST", "/v1.43/containers/create?name=waiter", body)
    cid = json.loads(data)["Id"]
    s = socket.socket(socket.AF_UNIX)
    s.connect(str(api.sock))
    s.sendall(
        f"POST /v1.43/containers/{cid}/attach?stream=1&stdout=1&stderr=1 HTTP/1.1\r\n".encode()
        + b"Host: d\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n"
    )
    s.settimeout(20)
    got = b""
    while b"\r\n\r\n" not in got:
        got += s.recv(4096)
    assert got.startswith(b"HTTP/1.1 101 UPGRADED")
    api.dockyard("start", "waiter")  # another face starts it: the waiting attach follows it
    rest = got.split(b"\r\n\r\n", 1)[1]
    while chunk := s.recv(4096):
        rest += chunk
    s.close()
    assert rest == bytes((1, 0, 0, 0, 0, 0, 0, 15)) + b"from-elsewhere\n"


def _raw(api: ApiServer, data: bytes) -> bytes:
    """Bytes sent as they are on a fresh connection; everything the server answers until it closes."""
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(10)
        s.connect(str(api.sock))
        s.sendall(data)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
        return out


def test_request_headers_are_read_as_http_has_them(api: ApiServer) -> None:
    # names in any case, values without their leading blanks; keep-alive until `Connection: close`
    body = json.dumps({"Name": "hdr-test-vol"}).encode()
    answer = _raw(
        api,
        b"GET /_ping HTTP/1.1\r\nhost: docker\r\n\r\n"
        b"POST /v1.43/volumes/create HTTP/1.1\r\nHOST: docker\r\ncontent-TYPE:\tapplication/json\r\n"
        b"CONTENT-LENGTH:   " + str(len(body)).encode() + b"\r\nconnection: close\r\n\r\n" + body,
    )
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n") and answer.count(b"HTTP/1.1 ") == 2
    assert b"HTTP/1.1 201 Created\r\n" in answer and b'"Name": "hdr-test-vol"' in answer
    assert api.request("DELETE", "/v1.43/volumes/hdr-test-vol")[0] == 204
    # a bad request line; a line that is no header, a folded one, too many, too long: refused, never half-read
    for bad, status in (
        (b"GET /_ping HTTP/2.0\r\n\r\n", b"505"),
        (b"GET /_ping HTTP/one\r\n\r\n", b"400"),
        (b"POST /_ping\r\n\r\n", b"400"),
        (b"GET /_ping HTTP/1.1\r\nHost docker\r\n\r\n", b"400"),
        (b"GET /_ping HTTP/1.1\r\nHost: docker\r\n folded\r\n\r\n", b"400"),
        (b"GET /_ping HTTP/1.1\r\n" + b"X-A: 1\r\n" * 101 + b"\r\n", b"431"),
        (b"GET /_ping HTTP/1.1\r\nX-A: " + b"a" * 70000 + b"\r\n\r\n", b"431"),
    ):
        answer = _raw(api, bad)
        # (before the version is known the library answers as HTTP/0.9 does: the error page alone)
        assert answer.startswith(b"HTTP/1.1 " + status) or b"Error code: " + status in answer, bad[:40]
    # Expect: 100-continue is answered before the body is sent
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(10)
        s.connect(str(api.sock))
        s.sendall(
            b"POST /v1.43/volumes/create HTTP/1.1\r\nHost: docker\r\nContent-Type: application/json\r\n"
            b"Expect: 100-continue\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n"
        )
        assert s.recv(65536).startswith(b"HTTP/1.1 100 Continue\r\n")
        s.sendall(body)
        assert b" 201 " in s.recv(65536).split(b"\r\n", 1)[0]
    assert api.request("DELETE", "/v1.43/volumes/hdr-test-vol")[0] == 204
