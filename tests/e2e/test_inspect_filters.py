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
    engine.remove_image(testbed.ref("busybox:latest"))  # only "busybox" names it, as on the reference dockerd
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
    env.cli("run", "-d", "--name", "web", "-e", "ZED=1", "busybox", "sleep", "600")
    env.cli("volume", "create", "web-data")
    (doc,) = json.loads(env.cli("container", "inspect", "web").stdout)
    assert doc["Name"] == "/web" and doc["ExecIDs"] is None
    # Config.Env as docker's: the request's variables, then the image's; HOSTNAME is the process's only
    assert doc["Config"]["Env"][0] == "ZED=1" and any(e.startswith("PATH=") for e in doc["Config"]["Env"])
    assert not any(e.startswith("HOSTNAME=") for e in doc["Config"]["Env"])
    env.cli("exec", "-d", "web", "sleep", "60")
    (doc,) = env.inspect("web")
    assert len(doc["ExecIDs"]) == 1  # the execs running in it
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


# -------------------------------------------------------------------------------------------- filters


def names(env: Env, *args: str) -> set[str]:
    """The names a list prints with ``args`` (its -f flags), one a line."""
    return set(env.cli(*args).stdout.split())


def test_ps_filters(env: Env) -> None:
    port = free_port()
    env.cli("network", "create", "n1")
    env.cli(
        "run", "-d", "--name", "web", "--label", "app=web", "--label", "tier=front",
        "-p", f"127.0.0.1:{port}:80", "-v", "vol1:/data", "--network", "n1", "busybox", "sleep", "600",
    )  # fmt: skip
    env.cli("run", "-d", "--name", "db", "--label", "app=db", "busybox", "sleep", "600")
    env.cli("run", "--name", "done", "busybox", "sh", "-c", "exit 3", check=False)
    env.cli("create", "--name", "made", "busybox", "true")
    env.cli("commit", "-c", "EXPOSE 90", "done", "kid:1")  # an image built on busybox
    env.cli("run", "-d", "--name", "kidc", "kid:1", "sleep", "600")
    web = env.engine.container("web").id

    def ps(*flags: str) -> set[str]:
        return names(env, "ps", "-a", "--format", "{{.Names}}", *flags)

    everyone = {"web", "db", "done", "made", "kidc"}
    assert ps() == everyone
    assert ps("-f", f"id={web[:10]}") == {"web"}
    # name: a regular expression, found in the name with or without its "/"
    assert ps("-f", "name=^we") == ps("-f", "name=^/we") == {"web"}
    assert ps("-f", "name=b$") == {"web", "db"}
    assert ps("-f", "name=e") == {"web", "done", "made"}
    assert ps("-f", "name=db", "-f", "name=made") == {"db", "made"}  # one key: either value
    # label: every value must hold
    assert ps("-f", "label=app") == {"web", "db"}
    assert ps("-f", "label=app=web") == {"web"}
    assert ps("-f", "label=app=web", "-f", "label=tier=front") == {"web"}
    assert ps("-f", "label=app=db", "-f", "label=tier") == set()
    assert ps("-f", "exited=3") == {"done"}
    assert ps("-f", "exited=0") == set()  # "made" never ran: no exit code
    assert names(env, "ps", "--format", "{{.Names}}", "-f", "exited=3") == set()  # as docker: not without -a
    assert names(env, "ps", "--format", "{{.Names}}", "-f", "status=exited") == {"done"}  # status implies -a
    assert ps("-f", "status=created") == {"made"}
    assert ps("-f", "status=running", "-f", "status=created") == {"web", "db", "kidc", "made"}
    assert ps("-f", "ancestor=busybox") == everyone  # kid:1 is built on busybox
    assert ps("-f", "ancestor=kid:1") == {"kidc"}
    assert ps("-f", "ancestor=nosuch") == set()
    assert ps("-f", "before=made") == {"web", "db", "done"}
    assert ps("-f", "since=done") == {"made", "kidc"}
    assert ps("-f", "volume=vol1") == ps("-f", "volume=/data") == {"web"}
    assert ps("-f", "network=n1") == {"web"}
    assert ps("-f", "network=bridge") == {"db", "done", "made", "kidc"}
    assert ps("-f", f"publish={port}") == ps("-f", f"publish={port}/tcp") == {"web"}
    assert ps("-f", f"publish={port}/udp") == set()
    assert ps("-f", "expose=80") == {"web"}
    assert ps("-f", "expose=90") == ps("-f", "expose=85-95/tcp") == {"kidc"}  # exposed by its image
    assert ps("-f", "health=none") == everyone and ps("-f", "health=healthy") == set()
    assert ps("-f", "is-task=false") == everyone and ps("-f", "is-task=true") == set()
    assert ps("-f", "isolation=hyperv") == everyone  # a Windows filter: docker on Linux ignores it
    assert ps("-f", "ancestor=busybox", "-f", "status=running", "-f", "label=app") == {"web", "db"}

    for flag, message in (
        ("bogus=1", "Invalid filter 'bogus'"),
        ("status=foo", "Invalid filter 'status=foo'"),
        ("exited=x", "Invalid filter 'exited=x'"),
        ("health=x", "Unrecognised filter value for health: x"),
        ("is-task=x", "Invalid filter 'is-task=[x]'"),
        ("publish=1:2", "filter for 'publish' should not contain ':': 1:2"),
        ("before=nosuch", "No such container: nosuch"),
    ):
        r = env.cli("ps", "-f", flag, check=False)
        assert (r.returncode, r.stderr) == (1, f"Error: {message}\n"), flag
    r = env.cli("ps", "-f", "name", check=False)
    assert r.returncode == 125 and "bad format of filter (expected name=value)" in r.stderr


def test_images_networks_and_volumes_filters(env: Env) -> None:
    env.cli("network", "create", "--label", "a=1", "n1")
    env.cli("network", "create", "n2")
    env.cli("volume", "create", "--label", "k=v", "vol2")
    env.cli("run", "-d", "--name", "web", "--network", "n1", "-v", "vol1:/data", "busybox", "sleep", "600")
    env.cli("commit", "-c", "LABEL tier=kid", "web", "kid:1")
    dangling = env.cli("commit", "web").stdout.strip()  # no name, nothing built on it

    def images(*flags: str) -> set[str]:
        return names(env, "images", "--format", "{{.Repository}}:{{.Tag}}", *flags)

    assert images() == {"busybox:latest", "kid:1", "<none>:<none>"}
    assert images("-f", "dangling=true") == {"<none>:<none>"}
    assert names(env, "images", "-q", "--no-trunc", "-f", "dangling=true") == {dangling}
    assert images("-f", "dangling=false") == {"busybox:latest", "kid:1"}
    assert images("-f", "reference=busy*") == {"busybox:latest"}
    assert images("-f", "reference=*:1") == images("-f", "reference=kid") == {"kid:1"}
    assert images("-f", "reference=b?sybox:[a-m]*") == {"busybox:latest"}
    assert images("-f", "label=tier=kid") == {"kid:1"}
    assert images("-f", "before=kid:1") == {"busybox:latest"}
    assert images("-f", "since=busybox", "-f", "dangling=false") == {"kid:1"}
    for flag, message in (
        ("bogus=1", "Invalid filter 'bogus'"),
        ("dangling=x", "Invalid filter 'dangling=[x]'"),
        ("reference=[", "syntax error in pattern"),
    ):
        r = env.cli("images", "-f", flag, check=False)
        assert (r.returncode, r.stderr) == (1, f"Error: {message}\n"), flag
    r = env.cli("images", "-f", "before=nosuch", check=False)
    assert r.returncode == 1 and "nosuch" in r.stderr

    def networks(*flags: str) -> set[str]:
        return names(env, "network", "ls", "--format", "{{.Name}}", *flags)

    n1 = env.engine.inspect_network("n1")["Id"]
    assert networks() == {"bridge", "host", "none", "n1", "n2"}
    assert networks("-f", "driver=bridge") == {"bridge", "n1", "n2"}
    assert networks("-f", "driver=host", "-f", "driver=null") == {"host", "none"}
    assert networks("-f", "name=^n[0-9]") == {"n1", "n2"}
    assert networks("-f", f"id={n1[:12]}") == {"n1"}
    assert networks("-f", "label=a=1") == networks("-f", "label=a") == {"n1"}
    assert networks("-f", "scope=local") == networks() and networks("-f", "scope=swarm") == set()
    assert networks("-f", "type=custom") == {"n1", "n2"}
    assert networks("-f", "type=builtin") == {"bridge", "host", "none"}
    assert networks("-f", "dangling=true") == {"n2"}
    assert networks("-f", "dangling=false") == {"bridge", "host", "none", "n1"}
    for flag, message in (
        ("bogus=1", "Invalid filter 'bogus'"),
        ("type=x", "invalid filter: 'type'='x'"),
        (
            "dangling=x",
            """invalid value for filter 'dangling', must be "true" (or "1"), or "false" (or "0")""",
        ),
    ):
        r = env.cli("network", "ls", "-f", flag, check=False)
        assert (r.returncode, r.stderr) == (1, f"Error: {message}\n"), flag

    def volumes(*flags: str) -> set[str]:
        return names(env, "volume", "ls", "--format", "{{.Name}}", *flags)

    assert volumes() == {"vol1", "vol2"}
    assert volumes("-f", "dangling=true") == {"vol2"} and volumes("-f", "dangling=false") == {"vol1"}
    assert volumes("-f", "driver=local") == {"vol1", "vol2"} and volumes("-f", "driver=other") == set()
    assert volumes("-f", "name=1$") == {"vol1"}
    assert volumes("-f", "label=k=v") == volumes("-f", "label=k") == {"vol2"}
    for flag, message in (
        ("bogus=1", "Invalid filter 'bogus'"),
        ("dangling=x", "Invalid filter 'dangling=[x]'"),
    ):
        r = env.cli("volume", "ls", "-f", flag, check=False)
        assert (r.returncode, r.stderr) == (1, f"Error: {message}\n"), flag


def test_prune_filters(env: Env) -> None:
    for name, labels in (("old", ["app=old"]), ("keep", ["app=old", "keep=1"]), ("other", [])):
        env.cli(
            "create", "--name", name, *(x for label in labels for x in ("--label", label)), "busybox", "true"
        )

    def containers() -> set[str]:
        return names(env, "ps", "-a", "--format", "{{.Names}}")

    env.cli("container", "prune", "-f", "--filter", "until=1h")  # all were made less than an hour ago
    assert containers() == {"old", "keep", "other"}
    env.cli("container", "prune", "-f", "--filter", "label=app=old", "--filter", "label!=keep")
    assert containers() == {"keep", "other"}
    env.cli("container", "prune", "-f", "--filter", "until=2000-01-01T00:00:00Z")
    assert containers() == {"keep", "other"}
    env.cli("container", "prune", "-f", "--filter", "label!=keep")
    assert containers() == {"keep"}

    env.cli("network", "create", "--label", "team=a", "na")
    env.cli("network", "create", "--label", "team=b", "nb")
    env.cli("network", "prune", "-f", "--filter", "label=team=a")
    assert names(env, "network", "ls", "--format", "{{.Name}}", "-f", "type=custom") == {"nb"}
    env.cli("network", "prune", "-f", "--filter", "until=10m")
    assert names(env, "network", "ls", "--format", "{{.Name}}", "-f", "type=custom") == {"nb"}

    env.cli("volume", "create", "--label", "k=1", "v1")
    env.cli("volume", "create", "v2")
    env.cli("volume", "prune", "-f", "--filter", "label=k=1")  # named volumes need all=true
    assert names(env, "volume", "ls", "-q") == {"v1", "v2"}
    env.cli("volume", "prune", "-f", "--filter", "all=true", "--filter", "label=k=1")
    assert names(env, "volume", "ls", "-q") == {"v2"}

    env.cli("commit", "-c", "LABEL drop=1", "keep", "dropme:1")
    env.cli("commit", "keep", "keepme:1")
    env.cli("image", "prune", "-a", "-f", "--filter", "label=drop=1")
    images = names(env, "images", "--format", "{{.Repository}}")
    assert "dropme" not in images and {"keepme", "busybox"} <= images
    env.cli("image", "prune", "-a", "-f", "--filter", "until=2000-01-01T00:00:00Z")
    assert "keepme" in names(env, "images", "--format", "{{.Repository}}")

    env.cli("create", "--name", "sys", "--label", "sys=1", "busybox", "true")
    env.cli("system", "prune", "-f", "--filter", "label=sys=1")
    assert containers() == {"keep"}

    for args, message in (
        (("container", "prune", "-f", "--filter", "bogus=1"), "Invalid filter 'bogus'"),
        (
            ("container", "prune", "-f", "--filter", "until=xx"),
            'failed to parse value as time or duration: "xx"',
        ),
        (("image", "prune", "-f", "--filter", "bogus=1"), "Invalid filter 'bogus'"),
        (("network", "prune", "-f", "--filter", "bogus=1"), "Invalid filter 'bogus'"),
        (("volume", "prune", "-f", "--filter", "until=1h"), "Invalid filter 'until'"),
        (("system", "prune", "-f", "--filter", "bogus=1"), "Invalid filter 'bogus'"),
        (
            ("system", "prune", "-f", "--volumes", "--filter", "until=1h"),
            'The "until" filter is not supported with "--volumes"',
        ),
    ):
        r = env.cli(*args, check=False)
        assert (r.returncode, r.stderr) == (1, f"Error: {message}\n"), args
