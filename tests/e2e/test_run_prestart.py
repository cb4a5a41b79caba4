"""``run``'s bind sources and what a run that fails before its start leaves behind.

- ``-v /host/missing:/x`` makes the missing host directory (root's, 0755), as docker does; ``--mount
  type=bind`` with a missing source is refused, with docker's words (checked against dockerd 20.10:
  ``invalid mount config for type "bind": bind source path does not exist: /tmp/.../zz``, exit 125).
- ``run --rm --name X`` that fails before the container starts (a missing --mount source, a published port
  that is taken, a device that is not there, a rejected ``-v``, a network that is not there) leaves no
  container and the name free, from the command line and from the engine path the workbench's run form
  takes (create, then start).
"""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from core.config import Config
from core.engine import LocalEngine
from core.errors import DockyardError
from core.models import ContainerConfig, ContainerCreate, HostConfig, HostPortBinding, Mount

DOCKYARD = str(Path(sys.executable).with_name("dockyard"))

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
    pytest.mark.skipif(shutil.which("nft") is None, reason="needs nftables (nft)"),
]


@dataclass
class Env:
    config: Config
    engine: LocalEngine
    ref: str

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [DOCKYARD, "--root", str(self.config.root), *args],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "DOCKYARD_RUN": str(self.config.run)},
            stdin=subprocess.DEVNULL,
        )

    def ok(self, *args: str) -> str:
        r = self.cli(*args)
        assert r.returncode == 0, f"dockyard {' '.join(args)} -> {r.returncode}: {r.stderr}"
        return r.stdout

    def nothing_left(self) -> None:
        assert self.ok("ps", "-aq") == ""
        assert self.ok("volume", "ls", "-q") == ""  # a --rm container's anonymous volumes go with it
        containers = self.config.paths.containers
        assert not containers.exists() or os.listdir(containers) == []


@pytest.fixture
def env(testbed, engine_config: Config) -> Iterator[Env]:  # type: ignore[no-untyped-def]
    engine = LocalEngine(engine_config)
    ref = testbed.ref("busybox:latest")
    engine.pull(ref)
    yield Env(engine_config, engine, ref)


@pytest.fixture
def taken_port() -> Iterator[int]:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    try:
        yield s.getsockname()[1]
    finally:
        s.close()


def test_v_makes_a_missing_host_directory(env: Env, tmp_path: Path) -> None:
    missing = tmp_path / "made" / "by" / "run"
    out = env.ok("run", "--rm", "-v", f"{missing}:/x", env.ref, "sh", "-c", "test -d /x && echo there")
    assert out == "there\n"
    st = missing.stat()
    assert stat.S_ISDIR(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o755 and st.st_uid == 0
    # made at start, as docker makes it: `create` alone does not
    later = tmp_path / "at-start"
    cid = env.ok("create", "-v", f"{later}:/y", env.ref, "true").strip()
    assert not later.exists()
    env.ok("start", cid)
    assert later.is_dir()
    env.ok("rm", "-f", cid)


def test_mount_bind_with_a_missing_source_is_refused_as_docker_refuses_it(env: Env, tmp_path: Path) -> None:
    missing = tmp_path / "zz"
    r = env.cli("run", "--rm", "--mount", f"type=bind,source={missing},target=/x", env.ref, "true")
    assert r.returncode == 125, r.stderr
    assert r.stderr == (
        f'Error: invalid mount config for type "bind": bind source path does not exist: {missing}\n'
    )
    assert not missing.exists()
    env.nothing_left()


def _prestart_failures(tmp_path: Path, port: int) -> dict[str, list[str]]:
    return {
        "missing --mount source": ["--mount", f"type=bind,source={tmp_path / 'none'},target=/x"],
        "published port taken": ["-p", f"127.0.0.1:{port}:80"],
        "no such device": ["--device", "/dev/no-such-device"],
        "rejected -v": ["-v", f"{tmp_path}:relative"],
        "no such network": ["--network", "nosuch"],
    }


@pytest.mark.parametrize("detach", [False, True])
def test_run_rm_name_that_fails_before_the_start_leaves_nothing(
    env: Env, tmp_path: Path, taken_port: int, detach: bool
) -> None:
    for why, flags in _prestart_failures(tmp_path, taken_port).items():
        args = [
            "run",
            *(["-d"] if detach else []),
            "--rm",
            "--name",
            "xx",
            "-v",
            "/anon",
            *flags,
            env.ref,
            "true",
        ]
        r = env.cli(*args)
        # docker's CLI: 127 for a start that says "no such file or directory" (the device's)
        assert r.returncode == (127 if why == "no such device" else 125), f"{why}: {r.returncode} {r.stderr}"
        assert r.stderr.startswith("Error: ") and len(r.stderr.splitlines()) == 1, f"{why}: {r.stderr}"
        env.nothing_left()
    env.ok("run", "--rm", "--name", "xx", env.ref, "true")  # the name is free


def test_the_run_forms_engine_path_leaves_nothing_either(env: Env, tmp_path: Path, taken_port: int) -> None:
    """The run form creates, then starts: a start that fails takes its --rm container with it."""
    host = HostConfig(
        auto_remove=True, port_bindings={"80/tcp": [HostPortBinding("127.0.0.1", str(taken_port))]}
    )
    req = ContainerCreate(ContainerConfig(image=env.ref, cmd=["true"]), host, name="xx")
    created = env.engine.create_container(req)
    with pytest.raises(DockyardError):
        env.engine.start_container(created.id)
    env.nothing_left()
    # a --mount source that goes away between create and start
    src = tmp_path / "gone"
    src.mkdir()
    host = HostConfig(auto_remove=True, mounts=[Mount("bind", "/x", str(src))])
    created = env.engine.create_container(
        ContainerCreate(ContainerConfig(image=env.ref, cmd=["true"]), host, name="xx")
    )
    src.rmdir()
    with pytest.raises(DockyardError, match="bind source path does not exist"):
        env.engine.start_container(created.id)
    env.nothing_left()
