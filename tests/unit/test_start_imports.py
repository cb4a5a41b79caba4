"""What ``dockyard run`` imports is part of its start-up time (see bench/README.md): the command line's path
to the order and the shim's path to the container must not bring back modules that cost milliseconds and
that they do not need. Each path is replayed in a fresh interpreter; the check is on ``sys.modules``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from core.config import Config

ROOT = Path(__file__).resolve().parents[2]

# typing (~2 ms), dataclasses + inspect (~4 ms, plus ~0.35 ms a class), shutil, OpenSSL's hashlib, datetime:
# none is needed to start a container (see core.record, core.timestamps, tui.parser)
NEVER = {"typing", "dataclasses", "inspect", "shutil", "hashlib", "datetime"}

CLI = """
import json, sys
import tui.cli  # what `dockyard` imports before main, where it forks its shim
at_fork = set(sys.modules)
from tui.cli import build_parser
args = build_parser(["run"]).parse_args(["run", "--rm", "--network", "none", "busybox", "true"])
from tui.runflags import run_config
run_config(args)
import core.engine, core.containers.lifecycle, core.containers.runtime_spec, core.containers.store
import core.events, core.volumes, core.runtime.protocol, tui.attach, tui.commands.containers
import core.interface, core.streams, core.containers.validate
print(json.dumps({"at_fork": sorted(at_fork), "all": sorted(sys.modules)}))
"""

SHIM = """
import json, sys
import tui.cli  # a forked shim starts with what the command line had imported
import core.supervisor.shimstart, core.runtime.cgroupfs, core.runtime.linux
import core.supervisor.shim as shim
shim._warm_up()
import core.supervisor.container_process, core.containers.remove, core.network.shimside
print(json.dumps({"all": sorted(sys.modules)}))
"""


def _replay(code: str) -> dict[str, list[str]]:
    # a run dir of its own: the shim's warm-up fills the seccomp filter cache there, not in /run/dockyard.
    # The first replay fills it; the second is what every start but an engine's first looks like
    with tempfile.TemporaryDirectory(prefix="dockyard-imports-") as run:
        env = {**os.environ, "DOCKYARD_RUN": run}
        for _ in range(2):
            out = subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT, env=env
            )
    result: dict[str, list[str]] = json.loads(out.stdout)
    return result


@pytest.fixture(scope="module")
def cli() -> dict[str, list[str]]:
    return _replay(CLI)


def test_the_command_line_forks_its_shim_with_nothing_the_shim_does_not_need(
    cli: dict[str, list[str]],
) -> None:
    loaded = {"argparse", *NEVER} & set(cli["at_fork"])
    assert not loaded


def test_the_command_lines_path_to_the_order_is_light(cli: dict[str, list[str]]) -> None:
    # ctypes and threading too: the command line asks the kernel nothing a container start needs from it
    loaded = {"ctypes", "threading", *NEVER} & set(cli["all"])
    assert not loaded


def test_the_api_server_is_not_on_the_start_paths(cli: dict[str, list[str]]) -> None:
    # `dockyard serve` is a verb of its own: run (and ps, the workbench) never import the server face
    assert not [m for m in cli["all"] if m == "api" or m.startswith("api.")]
    code = (
        "import sys, tui.cli; tui.cli.build_parser(['ps'])\n"
        "print([m for m in sys.modules if m == 'api' or m.startswith('api.')])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"


def test_the_shims_path_to_the_container_is_light() -> None:
    loaded = {"argparse", *NEVER} & set(_replay(SHIM)["all"])
    assert not loaded


# A command against a remote engine (-H) is an HTTP client and a printer: the docker CLI's time for the same
# command is its budget (~20-30 ms for ``ps``). None of these is needed on that path: the HTTP client is
# core.remote.wire (httpx + httpcore cost ~100 ms: httpcore imports trio and anyio when they are installed);
# ssl only for TLS, hashlib/shutil only for the context store's writes, inspect/dataclasses nowhere.
REMOTE_NEVER = {"httpx", "httpcore", "h11", "anyio", "trio", "sniffio", "ssl", "asyncio", "subprocess"}
REMOTE_NEVER |= {"dataclasses", "inspect", "hashlib", "shutil", "rich", "textual", "api"}
# the local engine's rooms: a remote command never touches the engine root
LOCAL_ENGINE = (
    *("core.engine", "core.images", "core.state", "core.runtime", "core.network", "core.storage"),
    *("core.supervisor", "core.build", "core.volumes", "core.system", "core.containers.lifecycle"),
)

REMOTE = """
import json, sys
from tui.cli import main
code = main(sys.argv[1:])
print(json.dumps({"code": code, "all": sorted(sys.modules)}))
"""


def test_a_remote_commands_path_is_light(engine_config: Config) -> None:
    """``ps``, ``images``, ``inspect`` and ``logs`` against a real ``dockyard serve`` (``-H unix://``)."""
    from tests.e2e.apiserver import running_server

    with running_server(engine_config) as server:
        env = {k: v for k, v in server.engine_env().items() if not k.startswith("DOCKER")}
        env["DOCKER_CONFIG"] = str(server.docker_config)
        for verb, code in (
            (["ps", "-a"], 0),
            (["images"], 0),
            (["inspect", "no-such-thing"], 1),
            (["logs", "no-such-thing"], 1),
        ):
            out = subprocess.run(
                [sys.executable, "-c", REMOTE, "-H", server.host, *verb],
                capture_output=True,
                text=True,
                check=True,
                cwd=ROOT,
                env=env,
            )
            result = json.loads(out.stdout.splitlines()[-1])
            assert result["code"] == code, (verb, out.stderr)
            loaded = set(result["all"])
            assert not REMOTE_NEVER & loaded, verb
            assert not [m for m in loaded if m.startswith(LOCAL_ENGINE)], verb
            if verb[0] == "ps":  # typing too (~3 ms): core.remote keeps its annotations for the type checker
                assert "typing" not in loaded
                assert "tui.runflags" not in loaded  # run's flags: only for a parser of run/create
