"""Every short syntax in its canonical long form (compose/model.py), as compose-go's transform and
normalisation make it: ports, volumes, tmpfs, environment, depends_on, healthcheck, command, build, ulimits,
extra_hosts, durations, byte sizes, deploy.replicas and scale."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compose.errors import InvalidComposeFile
from compose.loader import LoadOptions, load_project
from compose.normalize import format_duration, parse_bytes, parse_duration, parse_port, parse_volume


def service(tmp_path: Path, body: str, environ: dict[str, str] | None = None) -> dict[str, Any]:
    (tmp_path / "compose.yaml").write_text("services:\n  web:\n    image: busybox\n" + body)
    project = load_project(LoadOptions(cwd=str(tmp_path), environ=environ or {"HOME": "/home/u"}))
    return project.services["web"]


def port(target: int, published: str = "", protocol: str = "tcp", host_ip: str = "") -> dict[str, Any]:
    return {
        "target": target,
        "published": published,
        "protocol": protocol,
        "host_ip": host_ip,
        "mode": "ingress",
    }


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("80", [port(80)]),
        ("80/udp", [port(80, protocol="udp")]),
        ("8080:80", [port(80, "8080")]),
        ("127.0.0.1:8080:80/udp", [port(80, "8080", "udp", "127.0.0.1")]),
        ("127.0.0.1::80", [port(80, "", host_ip="127.0.0.1")]),
        ("[::1]:8080:80", [port(80, "8080", host_ip="::1")]),
        ("::1:8080:80", [port(80, "8080", host_ip="::1")]),
        ("3000-3001:3000-3001", [port(3000, "3000"), port(3001, "3001")]),
        ("3000-3001", [port(3000), port(3001)]),
        ("8000-8001:80", [port(80, "8000-8001")]),
        ("9090-9091:8080-8081/UDP", [port(8080, "9090", "udp"), port(8081, "9091", "udp")]),
    ],
)
def test_short_ports(spec: str, expected: list[dict[str, Any]]) -> None:
    assert parse_port(spec) == expected


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("8000-8002:80-81", "invalid ranges specified for container and host Ports: 80-81 and 8000-8002"),
        ("80/xtp", "invalid proto: xtp"),
        ("a:80", "invalid hostPort: a"),
        ("80:b", "invalid containerPort: 80:b"),
        ("nope:80:80", "invalid IP address: nope"),
        ("70000", "invalid containerPort: 70000"),
    ],
)
def test_bad_short_ports(spec: str, message: str) -> None:
    with pytest.raises(InvalidComposeFile, match=f"^{message}$"):
        parse_port(spec)


@settings(deadline=None)
@given(st.integers(1, 65535), st.integers(0, 65535), st.sampled_from(["tcp", "udp"]), st.booleans())
def test_short_ports_round_trip(target: int, published: int, proto: str, with_ip: bool) -> None:
    ip = "10.0.0.1:" if with_ip else ""
    assert parse_port(f"{ip}{published}:{target}/{proto}") == [
        port(target, str(published), proto, "10.0.0.1" if with_ip else "")
    ]


def test_ports_long_and_short_in_a_service(tmp_path: Path) -> None:
    web = service(tmp_path, "    ports: [80, '8080:80', {target: 90, published: 9090, host_ip: 127.0.0.1}]\n")
    assert web["ports"] == [port(80), port(80, "8080"), port(90, "9090", host_ip="127.0.0.1")]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("/data", {"type": "volume", "target": "/data", "volume": {}}),
        ("named:/x", {"type": "volume", "source": "named", "target": "/x", "volume": {}}),
        (
            "named:/x:ro,nocopy",
            {
                "type": "volume",
                "source": "named",
                "target": "/x",
                "read_only": True,
                "volume": {"nocopy": True},
            },
        ),
        (
            "./data:/data:ro",
            {
                "type": "bind",
                "source": "./data",
                "target": "/data",
                "read_only": True,
                "bind": {"create_host_path": True},
            },
        ),
        (
            "/abs:/y:rw",
            {
                "type": "bind",
                "source": "/abs",
                "target": "/y",
                "read_only": False,
                "bind": {"create_host_path": True},
            },
        ),
        ("~/h:/h", {"type": "bind", "source": "~/h", "target": "/h", "bind": {"create_host_path": True}}),
    ],
)
def test_short_volumes(spec: str, expected: dict[str, Any]) -> None:
    assert parse_volume(spec) == expected


def test_volumes_in_a_service(tmp_path: Path) -> None:
    body = """    volumes:
      - ./data:/data:ro
      - named:/x
      - /abs:/y/
      - ~/h:/h
      - /anon
      - {type: tmpfs, target: /t, tmpfs: {size: 64m, mode: 01777}}
      - {type: bind, source: ../up, target: /up}
volumes:
  named: {}
"""
    web = service(tmp_path, body)
    assert web["volumes"] == [
        {
            "type": "bind",
            "source": str(tmp_path / "data"),
            "target": "/data",
            "read_only": True,
            "bind": {"create_host_path": True},
        },
        {
            "type": "volume",
            "source": "named",
            "target": "/x",
            "read_only": False,
            "volume": {"nocopy": False},
        },
        {
            "type": "bind",
            "source": "/abs",
            "target": "/y",
            "read_only": False,
            "bind": {"create_host_path": True},
        },
        {
            "type": "bind",
            "source": "/home/u/h",
            "target": "/h",
            "read_only": False,
            "bind": {"create_host_path": True},
        },
        {"type": "volume", "target": "/anon", "read_only": False, "volume": {"nocopy": False}},
        {
            "type": "tmpfs",
            "target": "/t",
            "read_only": False,
            "tmpfs": {"size": 64 * 1024**2, "mode": 0o1777},
        },
        {
            "type": "bind",
            "source": str(tmp_path.parent / "up"),
            "target": "/up",
            "read_only": False,
            "bind": {"create_host_path": False},
        },
    ]


def test_lists_and_mappings(tmp_path: Path) -> None:
    body = """    environment: [A=1, B=, C, D=x=y]
    labels: [com.example.a=1, flag]
    tmpfs: /run
    cap_add: [NET_ADMIN]
    extra_hosts: ["db=10.0.0.2", "cache:10.0.0.3"]
    ulimits: {nofile: {soft: 1024, hard: 2048}, nproc: 512}
    expose: [80, "3000-3001"]
"""
    web = service(tmp_path, body, environ={"C": "from-env"})
    assert web["environment"] == {"A": "1", "B": "", "C": "from-env", "D": "x=y"}
    assert web["labels"] == {"com.example.a": "1", "flag": ""}
    assert web["tmpfs"] == ["/run"]
    assert web["cap_add"] == ["NET_ADMIN"]
    assert web["extra_hosts"] == ["db:10.0.0.2", "cache:10.0.0.3"]
    assert web["ulimits"] == {"nofile": {"soft": 1024, "hard": 2048}, "nproc": {"soft": 512, "hard": 512}}
    assert web["expose"] == ["80", "3000-3001"]


def test_environment_mapping_values_are_strings(tmp_path: Path) -> None:
    web = service(tmp_path, "    environment: {N: 1, F: 1.5, T: true, E: '', U: null}\n")
    assert web["environment"] == {"N": "1", "F": "1.5", "T": "true", "E": "", "U": None}


def test_depends_on_healthcheck_command(tmp_path: Path) -> None:
    body = """    depends_on: [db]
    healthcheck:
      {test: wget -q localhost || exit 1, interval: 1m30s, timeout: 500ms, start_period: 0s, retries: 3}
    command: sh -c 'echo "a b" && sleep 1'
    entrypoint: [/bin/sh, -c]
    stop_grace_period: 90s
  db:
    image: busybox
    healthcheck: {test: [CMD, pg_isready], start_interval: 1.5s}
  off:
    image: busybox
    healthcheck: {disable: true}
"""
    (tmp_path / "compose.yaml").write_text("services:\n  web:\n    image: busybox\n" + body)
    project = load_project(LoadOptions(cwd=str(tmp_path), environ={}))
    web = project.services["web"]
    assert web["depends_on"] == {"db": {"condition": "service_started", "required": True, "restart": False}}
    assert web["healthcheck"] == {
        "test": ["CMD-SHELL", "wget -q localhost || exit 1"],
        "interval": "1m30s",
        "timeout": "500ms",
        "start_period": "0s",
        "retries": 3,
    }
    assert web["command"] == ["sh", "-c", 'echo "a b" && sleep 1']
    assert web["entrypoint"] == ["/bin/sh", "-c"]
    assert web["stop_grace_period"] == "1m30s"
    assert project.services["db"]["healthcheck"] == {"test": ["CMD", "pg_isready"], "start_interval": "1.5s"}
    assert project.services["off"]["healthcheck"] == {"disable": True}


def test_null_and_empty_commands(tmp_path: Path) -> None:
    web = service(tmp_path, "    command: null\n    entrypoint: ''\n")
    assert "command" not in web
    assert web["entrypoint"] == []  # an explicit empty entrypoint overrides the image's


def test_build_forms(tmp_path: Path) -> None:
    web = service(tmp_path, "    build: ./app\n")
    assert web["build"] == {"context": str(tmp_path / "app"), "dockerfile": "Dockerfile"}
    web = service(
        tmp_path,
        "    build: {context: app, dockerfile: Containerfile, target: prod, args: [A=1, FROM_ENV, NOT_SET],"
        " labels: {l: v}}\n",
        environ={"FROM_ENV": "e"},
    )
    assert web["build"] == {
        "context": str(tmp_path / "app"),
        "dockerfile": "Containerfile",
        "target": "prod",
        "args": {"A": "1", "FROM_ENV": "e"},
        "labels": {"l": "v"},
    }
    web = service(tmp_path, "    build: https://github.com/docker/app.git#main\n")
    assert web["build"]["context"] == "https://github.com/docker/app.git#main"


def test_deploy_and_scale(tmp_path: Path) -> None:
    web = service(
        tmp_path, "    deploy: {replicas: 3, resources: {limits: {cpus: 0.5, memory: 1.5g, pids: 100}}}\n"
    )
    assert web["scale"] == 3
    assert web["deploy"] == {
        "resources": {"limits": {"cpus": "0.5", "memory": str(int(1.5 * 1024**3)), "pids": 100}}
    }
    web = service(tmp_path, "    scale: 2\n    deploy: {replicas: 2}\n")
    assert web["scale"] == 2
    assert "deploy" not in web
    web = service(tmp_path, "    scale: 0\n")
    assert web["scale"] == 0


def test_service_networks(tmp_path: Path) -> None:
    body = """    networks:
      front: {aliases: [www], ipv4_address: 10.1.0.5}
      back:
networks:
  front: {ipam: {config: [{subnet: 10.1.0.0/24, gateway: 10.1.0.1, ip_range: 10.1.0.0/25}]}}
  back: {internal: true, driver: bridge, labels: [a=b], driver_opts: {mtu: 1400}}
"""
    (tmp_path / "compose.yaml").write_text("services:\n  web:\n    image: busybox\n" + body)
    project = load_project(LoadOptions(cwd=str(tmp_path), project_name="p", environ={}))
    assert project.services["web"]["networks"] == {
        "front": {"aliases": ["www"], "ipv4_address": "10.1.0.5"},
        "back": None,
    }
    assert project.networks["back"] == {
        "internal": True,
        "driver": "bridge",
        "labels": {"a": "b"},
        "driver_opts": {"mtu": "1400"},
        "external": False,
        "name": "p_back",
    }
    assert project.networks["front"]["ipam"] == {
        "config": [{"subnet": "10.1.0.0/24", "gateway": "10.1.0.1", "ip_range": "10.1.0.0/25"}]
    }
    assert "default" not in project.networks


@pytest.mark.parametrize(
    ("text", "ns", "go"),
    [
        ("0s", 0, "0s"),
        ("90s", 90 * 10**9, "1m30s"),
        ("1h", 3600 * 10**9, "1h0m0s"),
        ("1.5s", 1_500_000_000, "1.5s"),
        ("500ms", 500_000_000, "500ms"),
        ("1m0.5s", 60_500_000_000, "1m0.5s"),
        ("2h45m", (2 * 3600 + 45 * 60) * 10**9, "2h45m0s"),
        ("1us", 1000, "1µs"),
        ("1500ns", 1500, "1.5µs"),
        ("2d", 48 * 3600 * 10**9, "48h0m0s"),
        ("1w", 7 * 24 * 3600 * 10**9, "168h0m0s"),
    ],
)
def test_durations_print_as_go_does(text: Any, ns: int, go: str) -> None:
    assert parse_duration(text) == ns
    assert format_duration(ns) == go


@pytest.mark.parametrize("text", ["10", "1x", "m", ""])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match=r"time: (missing unit|invalid duration)"):
        parse_duration(text)


@settings(deadline=None)
@given(st.integers(0, 10**15))
def test_durations_round_trip(ns: int) -> None:
    assert parse_duration(format_duration(ns)) == ns


@pytest.mark.parametrize(
    ("text", "size"), [("1024", 1024), ("512m", 512 * 1024**2), ("1GB", 1024**3), ("64k", 65536), (7, 7)]
)
def test_byte_sizes(text: Any, size: int) -> None:
    assert parse_bytes(text) == size
