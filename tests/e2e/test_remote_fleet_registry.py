"""``login``, ``push`` and ``logout`` against remote engines, as the docker CLI does them: the engine checks
the login with the registry (``POST /auth``), the client keeps it in its own docker config, and sends it
with every pull and push (``X-Registry-Auth``); the engine itself keeps nothing. Against a ``dockyard serve``
and a dockerd the test starts, pushing to the test bed's Basic-auth registry: refused before the login,
pushed after it (the manifest is then in the registry, pulled back by the other engine), refused again after
the logout; a wrong password is refused by ``login``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.config import Config
from tests.e2e.apiserver import ApiServer, running_server
from tests.e2e.dockerdiff import Dockerd
from tests.e2e.test_remote_fleet import DOCKER
from tests.e2e.test_remote_fleet import dockerd as dockerd
from tests.testbed import Testbed

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")

DOCKYARD = str(Path(sys.executable).with_name("dockyard"))


@pytest.fixture
def api(engine_config: Config) -> Iterator[ApiServer]:
    with running_server(engine_config) as server:
        yield server


def _client(tmp_path: Path, name: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCKER_", "DOCKYARD_ROOT"))}
    (tmp_path / name).mkdir()
    env["DOCKER_CONFIG"] = str(tmp_path / name)
    return env


def _dy(
    env: dict[str, str], host: str, *args: str, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [DOCKYARD, "-H", host, *args], capture_output=True, text=True, env=env, input=input, timeout=120
    )


def _scenario(host: str, env: dict[str, str], testbed: Testbed, repo: str) -> str:
    user, password = testbed.credentials("basic") or ("", "")
    registry = testbed.addr("basic")
    source = testbed.ref("busybox:latest")
    target = testbed.ref(f"{repo}:v1", "basic")
    assert _dy(env, host, "pull", source).returncode == 0
    assert _dy(env, host, "tag", source, target).returncode == 0

    r = _dy(env, host, "push", target)
    assert r.returncode != 0 and r.stderr.startswith("Error: "), (r.returncode, r.stderr)
    assert r.stderr.count("\n") == 1, r.stderr

    r = _dy(env, host, "login", "-u", user, "--password-stdin", registry, input="wrong\n")
    assert r.returncode != 0 and r.stderr.startswith("Error: "), r.stderr
    assert (
        not (Path(env["DOCKER_CONFIG"]) / "config.json").exists()
        or registry not in (Path(env["DOCKER_CONFIG"]) / "config.json").read_text()
    )

    r = _dy(env, host, "login", "-u", user, "--password-stdin", registry, input=password + "\n")
    assert r.returncode == 0, r.stderr
    assert "Login Succeeded" in r.stdout
    stored: dict[str, Any] = json.loads((Path(env["DOCKER_CONFIG"]) / "config.json").read_text())
    assert registry in stored["auths"], stored  # the client keeps the login, as the docker CLI does

    r = _dy(env, host, "push", target)
    assert r.returncode == 0, r.stderr
    assert "v1: digest: sha256:" in r.stdout, r.stdout
    digest = r.stdout.split("digest: ")[1].split()[0]

    r = _dy(env, host, "logout", registry)
    assert r.returncode == 0 and f"Removing login credentials for {registry}" in r.stdout, r.stdout
    assert registry not in json.loads((Path(env["DOCKER_CONFIG"]) / "config.json").read_text()).get(
        "auths", {}
    )
    return digest


def test_login_push_logout_over_the_api(
    api: ApiServer, dockerd: Dockerd, testbed: Testbed, tmp_path: Path
) -> None:
    yard = _scenario(api.host, _client(tmp_path, "yard"), testbed, "remote/yard")
    dock = _scenario(dockerd.host, _client(tmp_path, "dock"), testbed, "remote/dock")
    assert yard.startswith("sha256:") and dock.startswith("sha256:")  # (dockerd writes its own manifest)

    # what dockyard pushed is in the registry: dockerd pulls it back with the docker CLI's own login
    user, password = testbed.credentials("basic") or ("", "")
    env = {**_client(tmp_path, "docker-cli"), "DOCKER_HOST": dockerd.host}
    registry = testbed.addr("basic")
    login = [DOCKER, "login", "-u", user, "--password-stdin", registry]
    assert subprocess.run(login, input=password, capture_output=True, text=True, env=env).returncode == 0
    r = subprocess.run(
        [DOCKER, "pull", testbed.ref("remote/yard:v1", "basic")], capture_output=True, text=True, env=env
    )
    assert r.returncode == 0 and f"Digest: {yard}" in r.stdout, r.stdout + r.stderr
    subprocess.run([DOCKER, "rmi", testbed.ref("remote/yard:v1", "basic")], capture_output=True, env=env)
