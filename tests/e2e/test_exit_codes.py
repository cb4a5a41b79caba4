"""Exit statuses as the docker CLI's, case by case. The expected codes are what the docker CLI 28.2 over
dockerd 20.10 returned for the same commands (run by hand on 2026-12-03 against the reference dockerd, with
a missing name ``nosuch``, a running and a stopped busybox container):

- an engine (daemon) error exits 1 for every verb but ``run``, ``create`` included (``docker create --mount
  type=bind,source=/nonexist,...`` -> 1, ``docker create --name <taken>`` -> 1), and ``start`` of a container
  whose command is not found (1, where ``run`` gives 127);
- ``exec`` of a command that cannot start exits 126, whether it is not found, not executable, or its user
  does not exist;
- ``run`` exits 125 for an engine error (a taken name, a missing ``--mount`` source, an unreachable
  registry), 127 when the command is not found, else the container's own code;
- an unknown flag or a bad flag value exits 125 for every verb (``docker ps --al``, ``docker stop -t abc``);
- an unknown command and a missing argument exit 1 (``docker foo``, ``docker run``);
- ``rm -f`` of a container that is not there exits 0, with the message on stderr.

Only dockyard runs here; the table is the comparison.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from core.config import Config
from core.engine import LocalEngine

DOCKYARD = str(Path(sys.executable).with_name("dockyard"))

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
    pytest.mark.skipif(shutil.which("nft") is None, reason="needs nftables (nft)"),
]

# (arguments, docker's exit status); {ref} busybox, {up}/{down} a running and a stopped container (by
# name), {bad} a created one whose command is not found, {tmp} a scratch directory
CASES: list[tuple[str, int]] = [
    # engine errors of verbs other than run: 1
    ("logs nosuch", 1),
    ("exec nosuch true", 1),
    ("exec {down} true", 1),
    ("cp nosuch:/etc/hosts {tmp}/x", 1),
    ("cp {up}:/nonexist {tmp}/x", 1),
    ("tag nosuch:latest foo:bar", 1),
    ("pull 127.0.0.1:1/nosuch:latest", 1),
    ("rename nosuch other", 1),
    ("top nosuch", 1),
    ("top {down}", 1),
    ("network rm nosuch", 1),
    ("network inspect nosuch", 1),
    ("network create --driver nosuch ffnet", 1),
    ("ps -f foo=bar", 1),
    ("ps -f status=bogus", 1),
    ("rm nosuch", 1),
    ("stop nosuch", 1),
    ("start nosuch", 1),
    ("kill nosuch", 1),
    ("kill {down}", 1),
    ("restart nosuch", 1),
    ("wait nosuch", 1),
    ("pause nosuch", 1),
    ("unpause nosuch", 1),
    ("port nosuch", 1),
    ("inspect nosuch", 1),
    ("container inspect nosuch", 1),
    ("image inspect nosuch", 1),
    ("diff nosuch", 1),
    ("export nosuch", 1),
    ("commit nosuch", 1),
    ("update --memory 10m nosuch", 1),
    ("attach nosuch", 1),
    ("stats --no-stream nosuch", 1),
    ("rmi nosuch", 1),
    ("history nosuch", 1),
    ("save nosuch", 1),
    ("volume rm nosuch", 1),
    ("volume inspect nosuch", 1),
    ("push nosuch:latest", 1),
    ("load -i /nonexist", 1),
    ("import /nonexist", 1),
    ("events --since bogus --until 1", 1),
    ("create --mount type=bind,source=/nonexist,target=/x {ref}", 1),
    ("create --name {down} {ref}", 1),
    ("start {bad}", 1),  # its command is not found: 1 for start (run: 127)
    ("start -a {bad}", 1),
    # exec: a command that cannot start is 126, not found included
    ("exec {up} nosuchcmd", 126),
    ("exec {up} /etc", 126),
    ("exec -u nosuchuser {up} true", 126),
    # usage: an unknown command or a missing argument 1, a bad flag 125 (every verb)
    ("foo", 1),
    ("run", 1),
    ("create", 1),
    ("ps --al", 125),
    ("run --priv {ref} true", 125),
    ("create --priv {ref}", 125),
    ("run --memory abc {ref}", 125),
    ("stop -t abc {up}", 125),
    # run: 125 for an engine error, 127 for a command not found, else the container's code
    ("run --name {down} {ref} true", 125),
    ("run --mount type=bind,source=/nonexist,target=/x {ref}", 125),
    ("run 127.0.0.1:1/nosuch", 125),
    ("run --rm {ref} nosuchcmd", 127),
    ("run --rm {ref} sh -c 'exit 3'", 3),
    ("exec {up} sh -c 'exit 4'", 4),
    # rm -f of what is not there: 0, said on stderr
    ("rm -f nosuch", 0),
]


@dataclass
class Env:
    config: Config
    values: dict[str, str]

    def cli(self, line: str) -> subprocess.CompletedProcess[str]:
        import shlex

        args = [a.format(**self.values) for a in shlex.split(line)]
        return subprocess.run(
            [DOCKYARD, "--root", str(self.config.root), *args],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "DOCKYARD_RUN": str(self.config.run)},
            stdin=subprocess.DEVNULL,
            cwd=self.values["tmp"],
        )


def test_exit_statuses_are_dockers(testbed, engine_config: Config, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    engine = LocalEngine(engine_config)
    ref = testbed.ref("busybox:latest")
    engine.pull(ref)
    env = Env(engine_config, {"ref": ref, "up": "up", "down": "down", "bad": "bad", "tmp": str(tmp_path)})
    for line in (
        f"run -d --name up {ref} sleep 300",
        f"run --name down {ref} true",
        f"create --name bad {ref} nosuchcmd",
    ):
        r = env.cli(line)
        assert r.returncode == 0, r.stderr
    wrong = []
    for line, code in CASES:
        r = env.cli(line)
        said = r.stderr.strip()
        if r.returncode != code or "Traceback" in said or (code not in (0, 3, 4) and not said):
            wrong.append(f"dockyard {line}: {r.returncode} (docker: {code}): {said.splitlines()[-1:]}")
    r = env.cli("rm -f nosuch")
    assert "nosuch" in r.stderr and r.stdout == "", r
    assert not wrong, f"{len(wrong)} of {len(CASES)} differ:\n" + "\n".join(wrong)
