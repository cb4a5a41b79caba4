"""The remote engine's pure parts: ``-H`` parsing, engine selection by the docker CLI's rules (flags,
environment, docker's context store in a temp DOCKER_CONFIG), the engine's error answers mapped back to
core.errors types, list entries read back so that they print as the engine wrote them; and the local start
path staying free of the client (httpx, ssl)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core import dockerjson, errors
from core.remote import contexts
from core.remote.client import error_from_response
from core.remote.endpoint import TLSOptions, parse_host

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for k in list(os.environ):
        if k.startswith("DOCKER_"):
            monkeypatch.delenv(k)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "cfg"))
    return tmp_path / "cfg"


def test_parse_host_as_the_docker_cli() -> None:
    assert parse_host("unix:///run/x.sock").address == "/run/x.sock"
    assert parse_host("/run/x.sock").url == "unix:///run/x.sock"
    assert parse_host("tcp://10.0.0.1").address == "10.0.0.1:2375"
    assert parse_host("tcp://10.0.0.1", TLSOptions()).address == "10.0.0.1:2376"
    assert parse_host("tcp://h:1234/").address == "h:1234"
    assert parse_host("ssh://me@host:2222").address == "me@host:2222"
    for bad in ("", "foo://x", "unix://", "tcp://h:port"):
        with pytest.raises(errors.InvalidArgument):
            parse_host(bad)


def test_selection_order(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert contexts.endpoint_for() is None  # nothing: the in-process engine
    assert contexts.current_name() == "default"
    contexts.create_or_update("a", description="A", docker="host=unix:///a.sock", create=True)
    contexts.create_or_update("b", description=None, docker="host=tcp://127.0.0.1:5555", create=True)
    meta = clean_env / "contexts" / "meta" / hashlib.sha256(b"a").hexdigest() / "meta.json"
    assert json.loads(meta.read_text()) == {
        "Name": "a",
        "Metadata": {"Description": "A"},
        "Endpoints": {"docker": {"Host": "unix:///a.sock", "SkipTLSVerify": False}},
    }
    contexts.use("a")
    assert json.loads((clean_env / "config.json").read_text())["currentContext"] == "a"
    assert contexts.endpoint_for() == parse_host("unix:///a.sock", name="a")
    monkeypatch.setenv("DOCKER_CONTEXT", "b")
    assert contexts.endpoint_for() == parse_host("tcp://127.0.0.1:5555", name="b")
    monkeypatch.setenv("DOCKER_HOST", "unix:///env.sock")
    assert contexts.endpoint_for() == parse_host("unix:///env.sock")
    assert contexts.endpoint_for(context="a") == parse_host("unix:///a.sock", name="a")
    assert contexts.endpoint_for(host="unix:///flag.sock") == parse_host("unix:///flag.sock")
    with pytest.raises(errors.InvalidArgument, match="conflicting options"):
        contexts.endpoint_for(host="unix:///flag.sock", context="a")
    with pytest.raises(errors.NotFound, match='context "nope": context not found'):
        contexts.endpoint_for(context="nope")
    with pytest.raises(errors.Conflict, match="in use"):
        contexts.remove("a")
    contexts.use("default")
    assert "currentContext" not in json.loads((clean_env / "config.json").read_text())
    contexts.remove("a")
    assert [c.name for c in contexts.list_contexts()] == ["b", "default"]


def test_tls_from_the_environment(clean_env: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    certs = tmp_path / "certs"
    certs.mkdir()
    for f in ("ca.pem", "cert.pem", "key.pem"):
        (certs / f).write_text("x")
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1")
    monkeypatch.setenv("DOCKER_TLS_VERIFY", "1")
    monkeypatch.setenv("DOCKER_CERT_PATH", str(certs))
    ep = contexts.endpoint_for()
    assert ep is not None and ep.address == "127.0.0.1:2376"
    assert ep.tls == TLSOptions(True, str(certs / "ca.pem"), str(certs / "cert.pem"), str(certs / "key.pem"))


def test_errors_map_back_to_the_local_types() -> None:
    cases = [
        (404, "No such container: web", "/containers/web/json", errors.ContainerNotFound),
        (404, "No such image: busybox:nope", "/containers/create", errors.ImageNotFound),
        (404, "network foo not found", "/networks/foo", errors.NetworkNotFound),
        (404, "get vol: no such volume", "/volumes/vol", errors.VolumeNotFound),
        (409, 'Conflict. The container name "/web" is already in use', "/containers/create", errors.Conflict),
        (400, 'invalid filter "nope"', "/containers/json", errors.InvalidFilter),
        (
            400,
            'exec: "x": executable file not found in $PATH: unknown',
            "/containers/a/start",
            errors.CommandNotFound,
        ),
        (
            500,
            "OCI runtime create failed: exec: permission denied",
            "/containers/a/start",
            errors.CannotInvoke,
        ),
        (500, "something broke", "/info", errors.DockyardError),
    ]
    for status, message, path, cls in cases:
        err = error_from_response(status, message, path)
        assert type(err) is cls, (status, message, type(err))
        assert str(err) == message
    assert error_from_response(404, "No such container: web", "/x").exit_code == 125
    assert errors.CommandNotFound("x").exit_code == 127


@pytest.mark.parametrize(
    "status",
    ["Up Less than a second", "Up 5 seconds", "Up About a minute", "Up 7 minutes (healthy)",
     "Up 3 hours (Paused)", "Up 2 days (health: starting)", "Exited (0) 3 hours ago",
     "Exited (137) About a minute ago", "Created", "Up 3 weeks (unhealthy)"],
)  # fmt: skip
def test_list_entries_print_back_as_the_engine_wrote_them(status: str) -> None:
    now = time.time()
    doc = {
        "Id": "a" * 64,
        "Names": ["/web"],
        "Image": "busybox",
        "ImageID": "sha256:" + "b" * 64,
        "Command": "sh",
        "Created": int(now) - 99999,
        "Ports": [{"PrivatePort": 80, "PublicPort": 8080, "IP": "0.0.0.0", "Type": "tcp"}],
        "Labels": {"k": "v"},
        "State": "exited"
        if status.startswith("Exited")
        else "created"
        if status == "Created"
        else "paused"
        if "Paused" in status
        else "running",
        "Status": status,
    }
    c = dockerjson.container_summary_from_docker(doc, now)
    assert dockerjson.container_status_text(c, now + 0.2) == status
    back = dockerjson.container_summary_to_docker(c, now + 0.2)
    assert {k: back[k] for k in doc} == doc


def test_the_local_start_path_does_not_load_the_client(tmp_path: Path) -> None:
    """With no host and no context, choosing the engine imports nothing of core.remote (httpx ~57 ms)."""
    code = (
        "import sys, json\n"
        "from core.interface import engine_for\n"
        f"engine_for(root={str(tmp_path / 'root')!r})\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith(('httpx', 'core.remote', 'ssl')))))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    env["DOCKER_CONFIG"] = str(tmp_path / "cfg")
    env["DOCKYARD_RUN"] = str(tmp_path / "run")
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env, check=True
    )
    assert json.loads(out.stdout) == []


@pytest.mark.parametrize(
    ("args", "dialed"),
    [
        (["run", "--rm", "busybox", "true"], 3),  # the requests, the attach stream, the wait for the exit
        (["run", "-i", "--rm", "busybox", "sh"], 3),
        (["run", "-d", "busybox", "true"], 1),
        (["run", "-dit", "busybox", "sh"], 1),
        (["run", "-eMODE=dev", "-v/d:/d", "busybox", "true"], 3),  # a "d" in a flag's value is no -d
        (["exec", "ctr", "true"], 2),  # the requests, the exec stream
        (["exec", "-d", "ctr", "true"], 1),
        (["ps", "-a"], 1),
        (["ps", "--no-such-flag"], 1),  # dialed before the parser ran: it still ends (its stdin closes)
    ],
)
@pytest.mark.parametrize("select", ["-H", "--host=", "DOCKER_HOST", "context"])
def test_an_ssh_engine_is_dialed_before_anything_else(
    clean_env: Path, tmp_path: Path, args: list[str], dialed: int, select: str
) -> None:
    """The connections a command needs are all started before its first request, so their handshakes
    overlap: an ssh that fails at once (it records that it ran) leaves as many records as the verb needs,
    where dialing each when it is needed would stop at the first one's failure."""
    record = tmp_path / "dialed"
    ssh = tmp_path / "ssh"
    ssh.write_text(
        f'#!/bin/sh\necho "$*" >> {record}\necho "ssh: connect to host h: Connection refused" >&2\nexit 255\n'
    )
    ssh.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    env["DOCKER_CONFIG"] = str(clean_env)
    env["DOCKYARD_SSH"] = str(ssh)
    glob: list[str] = []
    if select == "-H":
        glob = ["-H", "ssh://h"]
    elif select == "--host=":
        glob = ["--host=ssh://h"]
    elif select == "DOCKER_HOST":
        env["DOCKER_HOST"] = "ssh://h"
    else:
        subprocess.run([sys.executable, "-m", "tui.cli", "context", "create", "far", "--docker", "host=ssh://h"],
                       cwd=ROOT, env=env, check=True, capture_output=True)  # fmt: skip
        glob = ["--context", "far"]
    r = subprocess.run(
        [sys.executable, "-m", "tui.cli", *glob, *args], capture_output=True, text=True, cwd=ROOT, env=env,
        timeout=60,
    )  # fmt: skip
    if "--no-such-flag" in args:
        assert r.returncode == 125 and r.stderr.startswith("Error: unknown flag: --no-such-flag"), r.stderr
    else:
        assert r.returncode in (1, 125), r.stderr  # run's engine errors are 125, other verbs' 1
        assert r.stderr.startswith("Error: Cannot connect to the Docker daemon at ssh://h: "), r.stderr
        assert "Connection refused" in r.stderr and r.stderr.count("\n") == 1, r.stderr
    deadline = time.monotonic() + 5
    while (
        not record.exists() or len(record.read_text().splitlines()) < dialed
    ) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(record.read_text().splitlines()) == dialed, record.read_text()
    assert all(" -- h if command -v dockyard " in line for line in record.read_text().splitlines())
