"""Inspect documents and list filters end to end, through the ``dockyard`` command line on real containers.

The documents are compared key by key with what dockerd writes: the same keys in the same order with the
same JSON types (tests/e2e/docker_shapes.py, recorded from a dockerd by hand). Values differ by nature (ids,
times, paths); where docker itself writes null or a value depending on what is set (a Go nil slice, map or
pointer), either is accepted - those keys are listed in NULLABLE with docker's reason."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from core.config import Config
from core.engine import LocalEngine
from tests.e2e import docker_shapes

DOCKYARD = str(Path(sys.executable).with_name("dockyard"))

# objects whose keys are data (names, ports, paths), not schema: only their values' shape counts
MAPS = {
    "Config.Labels",
    "Config.ExposedPorts",
    "Config.Volumes",
    "ContainerConfig.Labels",
    "ContainerConfig.ExposedPorts",
    "ContainerConfig.Volumes",
    "NetworkSettings.Ports",
    "NetworkSettings.Networks",
    "HostConfig.PortBindings",
    "HostConfig.LogConfig.Config",
    "HostConfig.Tmpfs",
    "HostConfig.Sysctls",
    "GraphDriver.Data",
    "Labels",
    "Options",
    "Containers",
    "IPAM.Options",
}
# docker writes null or a value here depending on what is set (Go's nil slices, maps and pointers)
NULLABLE = {
    "HostConfig.Binds",  # nil without -v
    "HostConfig.CapAdd",
    "HostConfig.CapDrop",
    "HostConfig.ExtraHosts",
    "HostConfig.SecurityOpt",
    "HostConfig.PidsLimit",  # *int64
    "Config.Cmd",
    "Config.Entrypoint",
    "Config.Volumes",
    "Config.Labels",
    "NetworkSettings.Ports.*",  # an exposed port nothing publishes
    "NetworkSettings.Networks.*.Aliases",  # dockerd 20.10 adds the short id once started; 1.45 does not
    "NetworkSettings.Networks.*.IPAMConfig",
    "Labels",
    "Options",
}


def shape(v: Any, path: str = "") -> Any:
    """A document's keys (in order) and JSON types; objects under MAPS as ``{"<map>": shape of a value}``."""
    if isinstance(v, dict):
        if path in MAPS:
            values = list(v.values())
            return {"<map>": shape(values[0], path + ".*") if values else None}
        return {k: shape(x, f"{path}.{k}" if path else k) for k, x in v.items()}
    if isinstance(v, list):
        return ["array", shape(v[0], path + "[]")] if v and isinstance(v[0], (dict, list)) else ["array"]
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    return "string"


def differences(want: Any, got: Any, path: str = "") -> list[str]:
    """Where the shape ``got`` is not docker's ``want``: missing, extra or reordered keys, other types."""
    if want == got:
        return []
    if path in NULLABLE and "null" in (want, got):
        return []
    if isinstance(want, dict) and isinstance(got, dict):
        if "<map>" in want or "<map>" in got:
            if want.get("<map>") is None or got.get("<map>") is None:
                return [] if ("<map>" in want) == ("<map>" in got) else [f"{path}: {want} != {got}"]
            return differences(want["<map>"], got["<map>"], path + ".*")
        if list(want) != list(got):
            missing = [k for k in want if k not in got]
            extra = [k for k in got if k not in want]
            return [f"{path or '.'}: keys differ (missing {missing}, extra {extra}, order {list(got)})"]
        out = []
        for k in want:
            out += differences(want[k], got[k], f"{path}.{k}" if path else k)
        return out
    if isinstance(want, list) and isinstance(got, list):
        if len(want) == 2 and len(got) == 2:
            return differences(want[1], got[1], path + "[]")
        return []  # an empty array against a full one: the element's shape is not known on one side
    return [f"{path}: docker has {want}, dockyard {got}"]


@dataclass
class Env:
    config: Config
    engine: LocalEngine

    def cli(self, *args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "DOCKYARD_RUN": str(self.config.run)}
        proc = subprocess.run(
            [DOCKYARD, "--root", str(self.config.root), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            stdin=subprocess.DEVNULL,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"dockyard {' '.join(args)} -> {proc.returncode}: {proc.stderr}")
        return proc

    def inspect(self, *args: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = json.loads(self.cli("inspect", *args).stdout)
        return out

    def lines(self, *args: str) -> list[str]:
        return self.cli(*args).stdout.split()


@pytest.fixture
def env(testbed, engine_config: Config) -> Iterator[Env]:  # type: ignore[no-untyped-def]
    engine = LocalEngine(engine_config)
    engine.pull(testbed.ref("busybox:latest"))
    engine.tag_image(testbed.ref("busybox:latest"), "busybox")
    yield Env(engine_config, engine)  # engine_config removes what is left (tests/conftest.py)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def assert_shaped_like(want: dict[str, Any], doc: dict[str, Any]) -> None:
    diffs = differences(want, shape(doc))
    assert not diffs, "\n".join(diffs)


# ------------------------------------------------------------------------------------------ documents


def test_documents_have_dockers_keys_order_and_types(env: Env, tmp_path: Path) -> None:
    env.cli("network", "create", "--label", "b=2", "--label", "a=1", "ifx-net")
    env.cli("volume", "create", "--label", "z=1", "--label", "a=2", "ifx-vol")
    env.cli("volume", "create", "ifx-vol2")
    port = free_port()
    env.cli(
        "run", "-d", "--name", "c1", "--network", "ifx-net", "-p", f"{port}:80", "-v", "ifx-vol:/data",
        "-v", f"{tmp_path}:/hosttmp:ro", "--label", "zz=1", "--label", "aa=2", "busybox", "sleep", "600",
    )  # fmt: skip
    env.cli("create", "--name", "c2", "--network", "ifx-net", "--network-alias", "foo", "busybox", "true")
    env.cli("run", "--name", "c3", "--network", "ifx-net", "busybox", "sh", "-c", "exit 3", check=False)

    running, created, exited = env.inspect("c1", "c2", "c3")
    assert_shaped_like(docker_shapes.CONTAINER_RUNNING, running)
    assert_shaped_like(docker_shapes.CONTAINER_CREATED, created)
    assert_shaped_like(docker_shapes.CONTAINER_EXITED, exited)
    (sized,) = env.inspect("-s", "c1")
    assert_shaped_like(docker_shapes.CONTAINER_SIZED, sized)
    assert "SizeRw" not in running
    assert sized["SizeRootFs"] >= sized["SizeRw"] >= 0 and sized["SizeRootFs"] > 0

    (image,) = env.inspect("--type", "image", "busybox")
    assert_shaped_like(docker_shapes.IMAGE, image)
    user, host = env.inspect("--type", "network", "ifx-net", "host")
    assert_shaped_like(docker_shapes.NETWORK_USER, user)
    assert_shaped_like(docker_shapes.NETWORK_HOST, host)
    labelled, plain = env.inspect("--type", "volume", "ifx-vol", "ifx-vol2")
    assert_shaped_like(docker_shapes.VOLUME_LABELLED, labelled)
    assert_shaped_like(docker_shapes.VOLUME_PLAIN, plain)

    # values docker's way: sorted labels, the request merged with its image, live network values
    assert list(running["Config"]["Labels"]) == sorted(running["Config"]["Labels"])
    assert {"aa": "2", "zz": "1"}.items() <= running["Config"]["Labels"].items()
    assert running["Config"]["Cmd"] == ["sleep", "600"] and running["Path"] == "sleep"
    assert running["HostConfig"]["Binds"] == ["ifx-vol:/data", f"{tmp_path}:/hosttmp:ro"]
    assert running["NetworkSettings"]["Ports"]["80/tcp"][0]["HostPort"] == str(port)
    ep = running["NetworkSettings"]["Networks"]["ifx-net"]
    assert ep["IPAddress"] and ep["NetworkID"] == user["Id"] and ep["EndpointID"]
    assert running["NetworkSettings"]["IPAddress"] == ""  # not on the default network: docker's ""
    assert user["Containers"][running["Id"]]["Name"] == "c1"
    assert list(user["Labels"]) == ["a", "b"] and list(labelled["Labels"]) == ["a", "z"]
    assert created["NetworkSettings"]["Networks"]["ifx-net"]["Aliases"] == ["foo"]
    assert exited["State"]["ExitCode"] == 3 and exited["State"]["Status"] == "exited"
    assert {m["Destination"]: m["Mode"] for m in running["Mounts"]} == {"/data": "z", "/hosttmp": "ro"}


def test_inspect_verbs_types_and_errors(env: Env) -> None:
    env.cli("run", "-d", "--name", "web", "busybox", "sleep", "600")
    env.cli("volume", "create", "web-data")
    (doc,) = json.loads(env.cli("container", "inspect", "web").stdout)
    assert doc["Name"] == "/web"
    assert env.cli("container", "inspect", "-f", "{{.Name}}", "web").stdout == "/web\n"
    # without --type, the first kind that has the name (docker's order: container, image, network, volume)
    kinds = env.inspect("web", "busybox", "bridge", "web-data")
    assert [("State" in d, "RootFS" in d, "IPAM" in d, "Mountpoint" in d) for d in kinds] == [
        (True, False, False, False),
        (False, True, False, False),
        (False, False, True, False),
        (False, False, False, True),
    ]
    r = env.cli("inspect", "web", "nosuch", check=False)
    assert r.returncode == 1 and r.stderr == "Error: No such object: nosuch\n"
    assert json.loads(r.stdout)[0]["Name"] == "/web"
    r = env.cli("container", "inspect", "busybox", check=False)  # an image is no container
    assert r.returncode == 1 and "No such container: busybox" in r.stderr and json.loads(r.stdout) == []
    r = env.cli("inspect", "--type", "network", "nosuch", check=False)
    assert r.returncode == 1 and "nosuch" in r.stderr
    r = env.cli("inspect", "--type", "bogus", "x", check=False)
    assert r.returncode == 1 and r.stderr.startswith(
        'unknown type: "bogus": must be one of "config", "container"'
    )
    # -s is for containers; other kinds pass it by
    sizes = env.inspect("-s", "web", "busybox")
    assert "SizeRw" in sizes[0] and "SizeRw" not in sizes[1]
