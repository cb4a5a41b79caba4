"""info, version, system df and system prune against a real store: a pulled image, a running and a
stopped container, a used and an unused volume."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.config import Config
from tests.testbed import Testbed

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")

DOCKYARD = str(Path(sys.executable).with_name("dockyard"))


def cli(cfg: Config, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("DOCKYARD_ROOT", "DOCKYARD_RUN")}
    env["DOCKYARD_RUN"] = str(cfg.run)
    r = subprocess.run(
        [DOCKYARD, "--root", str(cfg.root), *args], capture_output=True, text=True, timeout=60, env=env
    )
    assert r.returncode == 0, f"{args}: {r.stderr}"
    return r.stdout


def test_info_version_df_and_prune(testbed: Testbed, engine_config: Config) -> None:
    ref = testbed.ref("busybox:latest")
    cli(engine_config, "pull", "-q", ref)
    cli(engine_config, "pull", "-q", testbed.ref("whiteout:latest"))  # an image no container uses
    cli(engine_config, "volume", "create", "kept")
    cli(engine_config, "volume", "create")  # anonymous, unused: prune --volumes takes it
    cli(engine_config, "run", "-d", "--name", "up", "-v", "kept:/v", "--network", "none", ref, "sleep", "300")
    cli(
        engine_config,
        "run",
        "--name",
        "down",
        "--network",
        "none",
        ref,
        "sh",
        "-c",
        "head -c 100000 /dev/zero > /f",
    )

    info = json.loads(cli(engine_config, "info", "--format", "json"))
    assert (info["Containers"], info["ContainersRunning"], info["ContainersStopped"]) == (2, 1, 1)
    assert info["Images"] == 2 and info["Driver"] == "overlay"
    assert info["DockerRootDir"] == str(engine_config.root)
    assert info["CgroupVersion"] in ("1", "2")
    assert "Containers: 2" in cli(engine_config, "info")
    assert json.loads(cli(engine_config, "version", "--format", "json"))["Server"]["Os"] == "linux"

    rows = {
        r["Type"]: r
        for r in map(json.loads, cli(engine_config, "system", "df", "--format", "json").splitlines())
    }
    assert (rows["Images"]["TotalCount"], rows["Images"]["Active"]) == ("2", "1")  # docker's strings
    assert rows["Images"]["Size"].endswith("MB")  # busybox's ~2 MB layer, counted once
    assert rows["Images"]["Reclaimable"] != "0B"  # the whiteout image no container uses
    assert (rows["Containers"]["TotalCount"], rows["Containers"]["Active"]) == ("2", "1")
    assert rows["Containers"]["Reclaimable"].startswith("1")  # the stopped one's ~100 kB
    assert (rows["Local Volumes"]["TotalCount"], rows["Local Volumes"]["Active"]) == ("2", "1")
    table = cli(engine_config, "system", "df").splitlines()
    assert table[0].split() == ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]

    out = cli(engine_config, "system", "prune", "-a", "-f", "--volumes")
    assert "Deleted Containers:" in out and "Deleted Images:" in out and "Total reclaimed space:" in out
    names = cli(engine_config, "ps", "-a", "--format", "{{.Names}}").split()
    assert names == ["up"]  # the running one stays
    assert len(cli(engine_config, "images", "-q").split()) == 1  # busybox, in use, stays
    assert cli(engine_config, "volume", "ls", "-q").split() == ["kept"]  # in use; the anonymous one went
