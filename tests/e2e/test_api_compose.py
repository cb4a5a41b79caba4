"""Debian's docker-compose 1.29 (a Python client of the Engine API) against ``dockyard serve``: ``up -d`` of
two services on their own network with a named volume and a published port answered by curl, ``ps``,
``logs``, and ``down -v`` leaving nothing behind."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.config import Config
from tests.e2e.apiserver import ApiServer, needs_docker_cli, running_server
from tests.testbed import Testbed

COMPOSE = shutil.which("docker-compose") or "/usr/bin/docker-compose"

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
    pytest.mark.skipif(not os.path.exists(COMPOSE), reason="docker-compose is not installed"),
]

COMPOSE_FILE = """\
version: "3.8"
services:
  web:
    image: {image}
    command: ["httpd", "-f", "-p", "80", "-h", "/site"]
    ports: ["127.0.0.1::80"]
    volumes: ["site:/site"]
    networks: [back]
    depends_on: [writer]
    stop_grace_period: 1s
  writer:
    image: {image}
    command: ["sh", "-c", "echo served-by-compose > /site/index.html; echo writer ready; exec sleep 300"]
    volumes: ["site:/site"]
    networks: [back]
    stop_grace_period: 1s
volumes:
  site: {{}}
networks:
  back: {{}}
"""


@pytest.fixture
def api(engine_config: Config) -> Iterator[ApiServer]:
    needs_docker_cli()
    with running_server(engine_config) as server:
        yield server


def test_compose_up_ps_logs_down(api: ApiServer, testbed: Testbed, tmp_path: Path) -> None:
    ref = testbed.ref("busybox:latest")
    api.docker("pull", "-q", ref)
    project = tmp_path / "proj"
    project.mkdir()
    (project / "docker-compose.yml").write_text(COMPOSE_FILE.format(image=ref))

    def compose(*args: str) -> subprocess.CompletedProcess[str]:
        r = subprocess.run(
            [COMPOSE, "-p", "apitest", *args],
            cwd=project,
            capture_output=True,
            text=True,
            timeout=120,
            env=api.env(),
        )
        assert r.returncode == 0, f"docker-compose {' '.join(args)}: {r.stdout}\n{r.stderr}"
        return r

    compose("up", "-d")
    ps = compose("ps").stdout
    assert "apitest_web_1" in ps and "apitest_writer_1" in ps and ps.count(" Up ") == 2, ps
    port = api.docker("port", "apitest_web_1", "80").stdout.strip().rsplit(":", 1)[1]
    body = ""
    for _ in range(50):
        body = subprocess.run(
            ["curl", "-s", f"http://127.0.0.1:{port}/"], capture_output=True, text=True
        ).stdout
        if body:
            break
        time.sleep(0.1)
    assert body == "served-by-compose\n"
    assert "writer ready" in compose("logs", "writer").stdout
    # compose's service names are network aliases (it sets them by a disconnect and connect of the created
    # container): the writer reaches web by name
    got = api.docker("exec", "apitest_writer_1", "wget", "-q", "-O-", "http://web/").stdout
    assert got == "served-by-compose\n"
    # one state: dockyard's own command line sees what compose made
    assert "apitest_web_1" in api.dockyard("ps").stdout
    assert "apitest_back" in api.docker("network", "ls", "--format", "{{.Name}}").stdout
    assert api.docker("volume", "ls", "-q").stdout.split() == ["apitest_site"]

    compose("down", "-v")
    assert api.docker("ps", "-aq").stdout == ""
    assert "apitest_back" not in api.docker("network", "ls", "--format", "{{.Name}}").stdout
    assert api.docker("volume", "ls", "-q").stdout == ""
