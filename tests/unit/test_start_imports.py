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
