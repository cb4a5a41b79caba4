"""``docker compose config``'s output: the canonical document as YAML in compose v2's order and shape, and
the ``--services`` and ``--volumes`` lists."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compose.dump import config_services, config_volumes, dump_yaml
from compose.loader import LoadOptions, load_project
from compose.model import Project

TEXT = """
name: Shop
services:
  web:
    build: ./web
    command: httpd -f -p 8080
    ports: ["127.0.0.1:8080:8080"]
    environment: {Z: last, A: "$$literal", EMPTY: ""}
    depends_on:
      db: {condition: service_healthy}
      migrate: {condition: service_completed_successfully}
    volumes: [static:/www, ./conf:/conf:ro]
    restart: always
  migrate:
    image: busybox
    depends_on: [db]
  db:
    image: busybox
    healthcheck: {test: [CMD, "true"], interval: 2s}
    networks: [back]
networks:
  back: {}
volumes:
  static: {}
  data: {}
"""


def load(tmp_path: Path) -> Project:
    (tmp_path / "compose.yaml").write_text(TEXT)
    return load_project(LoadOptions(cwd=str(tmp_path), environ={}))


def test_dump_order_and_shape(tmp_path: Path) -> None:
    assert (
        dump_yaml(load(tmp_path))
        == f"""name: shop
services:
  db:
    healthcheck:
      test:
        - CMD
        - "true"
      interval: 2s
    image: busybox
    networks:
      back: null
  migrate:
    depends_on:
      db:
        condition: service_started
        required: true
    image: busybox
    networks:
      default: null
  web:
    build:
      context: {tmp_path}/web
      dockerfile: Dockerfile
    command:
      - httpd
      - -f
      - -p
      - "8080"
    depends_on:
      db:
        condition: service_healthy
        required: true
      migrate:
        condition: service_completed_successfully
        required: true
    environment:
      A: $$literal
      EMPTY: ""
      Z: last
    networks:
      default: null
    ports:
      - mode: ingress
        host_ip: 127.0.0.1
        target: 8080
        published: "8080"
        protocol: tcp
    restart: always
    volumes:
      - type: volume
        source: static
        target: /www
        volume: {{}}
      - type: bind
        source: {tmp_path}/conf
        target: /conf
        read_only: true
        bind:
          create_host_path: true
networks:
  back:
    name: shop_back
  default:
    name: shop_default
volumes:
  static:
    name: shop_static
"""
    )


def test_dump_reads_back_as_the_same_project(tmp_path: Path) -> None:
    project = load(tmp_path)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "compose.yaml").write_text(dump_yaml(project))
    again = load_project(LoadOptions(cwd=str(tmp_path / "out"), environ={}))
    assert again.name == project.name
    assert again.services == project.services
    assert again.networks == project.networks
    assert again.volumes == project.volumes
    assert yaml.safe_load(dump_yaml(again)) == yaml.safe_load(dump_yaml(project))


def test_services_dependencies_first_and_volumes(tmp_path: Path) -> None:
    project = load(tmp_path)
    assert config_services(project) == ["db", "migrate", "web"]
    assert config_volumes(project) == ["static"]  # `data` is used by no service
    (tmp_path / "compose.yaml").write_text(TEXT)
    everything = load_project(LoadOptions(cwd=str(tmp_path), environ={}, all_resources=True))
    assert config_volumes(everything) == ["data", "static"]


def test_numbers_printed_as_compose_types_them(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text(
        "services:\n  web:\n    image: b\n    deploy: {resources: {limits: {cpus: '0.5', memory: 1m}}}\n"
        "    volumes: [{type: tmpfs, target: /t, tmpfs: {size: 1k}}]\n"
    )
    text = dump_yaml(load_project(LoadOptions(cwd=str(tmp_path), environ={})))
    assert '          cpus: 0.5\n          memory: "1048576"\n' in text
    assert '        tmpfs:\n          size: "1024"\n' in text


_name = st.text(alphabet="abcdefgh", min_size=1, max_size=5)
_value = st.text(alphabet=st.characters(blacklist_categories=["Cs", "Cc"]), max_size=8)
_short_ports = st.lists(
    st.builds(
        lambda ip, host, target, proto: f"{ip}{host}{target}/{proto}",
        st.sampled_from(["", "127.0.0.1:"]),
        st.sampled_from([":", "8080:", "9000-9001:"]),
        st.integers(1, 65535),
        st.sampled_from(["tcp", "udp"]),
    ).map(lambda p: p.lstrip(":")),
    max_size=3,
    unique=True,
)
_services = st.dictionaries(
    _name,
    st.fixed_dictionaries(
        {"image": _name},
        optional={
            "command": st.one_of(st.lists(_value, max_size=3), st.just("sh -c 'echo $$HOME'")),
            "environment": st.one_of(
                st.dictionaries(_name, st.one_of(_value, st.none()), max_size=3),
                st.lists(st.builds(lambda k, v: f"{k}={v}", _name, _value), max_size=3, unique=True),
            ),
            "labels": st.dictionaries(_name.map(lambda n: "com.x." + n), _value, max_size=2),
            "ports": _short_ports,
            "volumes": st.lists(
                st.builds(
                    lambda s, t, ro: f"{s}:/{t}{ro}",
                    st.sampled_from(["./d", "/abs", "vol"]),
                    _name,
                    st.sampled_from(["", ":ro"]),
                ),
                max_size=2,
                unique=True,
            ),
            "healthcheck": st.fixed_dictionaries(
                {"test": st.just("true"), "interval": st.sampled_from(["90s", "1.5s"])}
            ),
            "user": _name,
        },
    ),
    min_size=1,
    max_size=3,
)


@settings(deadline=None, max_examples=25, suppress_health_check=[HealthCheck.too_slow])
@given(_services)
def test_dump_reads_back_as_the_same_project_for_any_services(services: dict[str, Any]) -> None:
    for svc in services.values():  # each target once, as the schema wants
        targets = {}
        for v in svc.get("volumes", []):
            targets[v.split(":")[1]] = v
        if "volumes" in svc:
            svc["volumes"] = list(targets.values())
    doc = {"services": services, "volumes": {"vol": {}}}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "compose.yaml").write_text(json.dumps(doc))  # JSON is YAML with every string quoted
        project = load_project(LoadOptions(cwd=tmp, project_name="p", environ={}))
        (root / "out").mkdir()
        (root / "out" / "compose.yaml").write_text(dump_yaml(project))
        again = load_project(LoadOptions(cwd=str(root / "out"), project_name="p", environ={}))
    assert again.services == project.services
    assert again.volumes == project.volumes
    assert dump_yaml(again) == dump_yaml(project)


def test_strings_that_read_as_other_types_are_quoted(tmp_path: Path) -> None:
    words = ["0E0", "0o17", "1e3", "010", "yes", "off", "null", "~", "", "true", "1.5", "2020-01-01", "*a"]
    (tmp_path / "compose.yaml").write_text(
        json.dumps({"services": {"web": {"image": "b", "command": words}}})
    )
    project = load_project(LoadOptions(cwd=str(tmp_path), environ={}))
    assert project.services["web"]["command"] == words
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "compose.yaml").write_text(dump_yaml(project))
    again = load_project(LoadOptions(cwd=str(tmp_path / "out"), project_name=project.name, environ={}))
    assert again.services["web"]["command"] == words
