"""``docker compose config``'s output: the canonical document as YAML in compose v2's order and shape, and
the ``--services`` and ``--volumes`` lists."""

from __future__ import annotations

from pathlib import Path

import yaml

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
  data:
    name: shop_data
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
    assert config_volumes(project) == ["data", "static"]
