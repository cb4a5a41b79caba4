"""Loading a project as docker compose v2 does: finding the files, the environment (.env, COMPOSE_*), the
project name, profiles, several -f files merged, extends, env_file, and the consistency checks."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compose.errors import (
    ComposeError,
    ComposeFileNotFound,
    EnvFileError,
    InvalidComposeFile,
    InvalidProject,
    InvalidProjectName,
)
from compose.loader import LoadOptions, load_project, normalize_project_name
from compose.merge import merge_service
from compose.model import Project


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def load(root: Path, tree: dict[str, str] | None = None, cwd: Path | None = None, **kw: Any) -> Project:
    write(root, tree or {})
    kw.setdefault("environ", {})
    return load_project(LoadOptions(cwd=str(cwd or root), **kw))


SIMPLE = "services:\n  web:\n    image: busybox\n"


# --- files ---


def test_discovers_compose_yaml_in_a_parent_with_its_override(tmp_path: Path) -> None:
    (tmp_path / "app" / "sub").mkdir(parents=True)
    write(
        tmp_path / "app",
        {"compose.yaml": SIMPLE, "compose.override.yml": "services:\n  web:\n    user: nobody\n"},
    )
    project = load(tmp_path / "app", cwd=tmp_path / "app" / "sub")
    assert project.config_files == [
        tmp_path / "app" / "compose.yaml",
        tmp_path / "app" / "compose.override.yml",
    ]
    assert project.working_dir == tmp_path / "app"
    assert project.name == "app"
    assert project.services["web"]["user"] == "nobody"


def test_prefers_compose_yaml_and_warns_about_the_others(tmp_path: Path) -> None:
    project = load(
        tmp_path, {"compose.yaml": SIMPLE, "docker-compose.yml": "services: {other: {image: x}}\n"}
    )
    assert list(project.services) == ["web"]
    assert project.warnings[0].startswith("Found multiple config files with supported names: ")
    assert project.warnings[1] == f"Using {tmp_path / 'compose.yaml'}"


def test_docker_compose_yml_is_found_too(tmp_path: Path) -> None:
    assert load(tmp_path, {"docker-compose.yml": SIMPLE}).config_files == [tmp_path / "docker-compose.yml"]


def test_no_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ComposeFileNotFound, match="no configuration file provided: not found") as err:
        load(tmp_path / "x", cwd=Path("/"))
    assert err.value.exit_code == 1


def test_a_missing_named_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ComposeFileNotFound, match=f"open {tmp_path}/nope.yaml: no such file or directory"):
        load(tmp_path, files=["nope.yaml"])


def test_compose_file_variable_with_separator_from_dotenv(tmp_path: Path) -> None:
    write(tmp_path, {"a.yml": SIMPLE, "b.yml": "services:\n  web:\n    hostname: b\n"})
    write(tmp_path, {".env": "COMPOSE_FILE=a.yml;b.yml\nCOMPOSE_PATH_SEPARATOR=;\n"})
    project = load(tmp_path)
    assert project.config_files == [tmp_path / "a.yml", tmp_path / "b.yml"]
    assert project.services["web"]["hostname"] == "b"
    # the environment wins over .env
    project = load(tmp_path, environ={"COMPOSE_FILE": "a.yml"})
    assert project.config_files == [tmp_path / "a.yml"]


def test_stdin_file(tmp_path: Path) -> None:
    project = load(tmp_path, files=["-"], stdin=io.StringIO(SIMPLE))
    assert project.config_files == [Path("-")]
    assert project.working_dir == tmp_path
    assert project.services["web"]["image"] == "busybox"


# --- names ---


@pytest.mark.parametrize(
    ("directory", "name"), [("My.App Dir", "myappdir"), ("_-x_y", "x_y"), ("Web-2", "web-2")]
)
def test_name_from_the_directory_normalised(tmp_path: Path, directory: str, name: str) -> None:
    assert load(tmp_path / directory, {"compose.yaml": SIMPLE}).name == name


def test_name_precedence(tmp_path: Path) -> None:
    write(tmp_path, {"compose.yaml": "name: ${N:-From_File}\n" + SIMPLE})
    assert load(tmp_path).name == "from_file"
    assert load(tmp_path, environ={"N": "other"}).name == "other"
    assert load(tmp_path, environ={"COMPOSE_PROJECT_NAME": "env"}).name == "env"
    write(tmp_path, {".env": "COMPOSE_PROJECT_NAME=dotenv\n"})
    assert load(tmp_path).name == "dotenv"
    assert load(tmp_path, project_name="flag").name == "flag"
    # the name is in the environment interpolation sees
    write(tmp_path, {"compose.yaml": SIMPLE + "    hostname: h-${COMPOSE_PROJECT_NAME}\n"})
    assert load(tmp_path, project_name="p1").services["web"]["hostname"] == "h-p1"


@pytest.mark.parametrize("bad", ["My_App", "-x", "a.b", "ünï"])
def test_an_invalid_explicit_name_is_an_error(tmp_path: Path, bad: str) -> None:
    write(tmp_path, {"compose.yaml": SIMPLE})
    with pytest.raises(
        InvalidProjectName, match=f'invalid project name "{bad}": must consist only of lowercase'
    ):
        load(tmp_path, project_name=bad)
    with pytest.raises(InvalidProjectName):
        load(tmp_path, environ={"COMPOSE_PROJECT_NAME": bad})


def test_normalize_project_name() -> None:
    assert normalize_project_name("Hello World!_x") == "helloworld_x"
    assert normalize_project_name("__--a") == "a"


# --- environment ---


def test_dotenv_for_interpolation_environment_wins(tmp_path: Path) -> None:
    files = {
        "compose.yaml": "services:\n  web:\n    image: busybox:${TAG}\n    user: ${WHO}\n",
        ".env": "TAG=1.36\nWHO=dotenv\n",
    }
    project = load(tmp_path, files, environ={"WHO": "os"})
    assert project.services["web"]["image"] == "busybox:1.36"
    assert project.services["web"]["user"] == "os"
    assert project.environment["TAG"] == "1.36"


def test_explicit_env_files_replace_dotenv(tmp_path: Path) -> None:
    files = {
        "compose.yaml": "services:\n  web:\n    image: busybox:${TAG:-none}\n",
        ".env": "TAG=dotenv\n",
        "one.env": "TAG=one\n",
        "two.env": "TAG=two-${TAG}\n",
    }
    assert load(tmp_path, files, env_files=["one.env"]).services["web"]["image"] == "busybox:one"
    assert load(tmp_path, env_files=["one.env", "two.env"]).services["web"]["image"] == "busybox:two-one"
    with pytest.raises(ComposeFileNotFound, match=r"couldn't find env file: .*/missing\.env"):
        load(tmp_path, env_files=["missing.env"])


def test_dotenv_can_be_disabled(tmp_path: Path) -> None:
    files = {"compose.yaml": "services:\n  web:\n    image: busybox:${TAG:-none}\n", ".env": "TAG=dotenv\n"}
    assert (
        load(tmp_path, files, environ={"COMPOSE_DISABLE_ENV_FILE": "1"}).services["web"]["image"]
        == "busybox:none"
    )


def test_dotenv_of_the_project_directory(tmp_path: Path) -> None:
    write(
        tmp_path / "proj", {"compose.yaml": "services:\n  web:\n    image: ${IMG}\n", ".env": "IMG=alpine\n"}
    )
    project = load(tmp_path, files=["proj/compose.yaml"])
    assert project.working_dir == tmp_path / "proj"
    assert project.services["web"]["image"] == "alpine"
    project = load(tmp_path, project_directory="proj")
    assert project.services["web"]["image"] == "alpine"


def test_default_environ_is_the_process_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKYARD_TEST_TAG", "from-os")
    write(tmp_path, {"compose.yaml": "services:\n  web:\n    image: b:${DOCKYARD_TEST_TAG}\n"})
    project = load_project(LoadOptions(cwd=str(tmp_path)))
    assert project.services["web"]["image"] == "b:from-os"


def test_required_variable_error(tmp_path: Path) -> None:
    write(tmp_path, {"compose.yaml": "services:\n  web:\n    image: ${IMAGE:?set IMAGE}\n"})
    with pytest.raises(ComposeError) as err:
        load(tmp_path)
    assert str(err.value) == (
        "error while interpolating services.web.image: required variable IMAGE is missing a value: set IMAGE"
    )


def test_unset_variable_warns(tmp_path: Path) -> None:
    project = load(tmp_path, {"compose.yaml": "services:\n  web:\n    image: busybox${NOPE}\n"})
    assert project.warnings == ['The "NOPE" variable is not set. Defaulting to a blank string.']


# --- env_file and environment ---


def test_env_file_then_environment(tmp_path: Path) -> None:
    files = {
        "compose.yaml": (
            "services:\n  web:\n    image: busybox\n"
            "    env_file: [conf/a.env, {path: conf/missing.env, required: false}, conf/b.env]\n"
            "    environment: [C=from-environment, FROM_OS, UNSET]\n"
        ),
        "conf/a.env": "A=a\nB=a\nC=a\n",
        "conf/b.env": "B=b-${A}-${HOST_VAR}\n",
    }
    project = load(tmp_path, files, environ={"FROM_OS": "os", "HOST_VAR": "h"})
    env = project.services["web"]["environment"]
    assert env == {"A": "a", "B": "b-a-h", "C": "from-environment", "FROM_OS": "os", "UNSET": None}
    assert list(env) == ["A", "B", "C", "FROM_OS", "UNSET"]
    assert "env_file" not in project.services["web"]


def test_env_file_substitutions_look_in_the_project_environment_first(tmp_path: Path) -> None:
    files = {
        "compose.yaml": SIMPLE + "    env_file: [a.env, b.env]\n    environment: {SVC: s, A: over}\n",
        "a.env": "A=from-a\nSHARED=from-a\n",
        "b.env": "B=${SHARED}-${SVC}-${A}\n",
    }
    env = load(tmp_path, files, environ={"SHARED": "os"}).services["web"]["environment"]
    # the project's environment, then the service's `environment`, then what the files set
    assert env == {"SHARED": "from-a", "B": "os-s-over", "SVC": "s", "A": "over"}


def test_a_required_env_file_missing_is_an_error(tmp_path: Path) -> None:
    files = {"compose.yaml": "services:\n  web:\n    image: busybox\n    env_file: nope.env\n"}
    with pytest.raises(EnvFileError, match=f"env file {tmp_path}/nope.env not found"):
        load(tmp_path, files)


# --- profiles ---

PROFILED = """
services:
  web:
    image: busybox
    depends_on: [db]
  db:
    image: busybox
  debug:
    image: busybox
    profiles: [debug]
  tools:
    image: busybox
    profiles: [debug, ops]
"""


def test_profiles(tmp_path: Path) -> None:
    project = load(tmp_path, {"compose.yaml": PROFILED})
    assert sorted(project.services) == ["db", "web"]
    assert sorted(project.disabled) == ["debug", "tools"]
    assert sorted(load(tmp_path, profiles=["ops"]).services) == ["db", "tools", "web"]
    assert sorted(load(tmp_path, environ={"COMPOSE_PROFILES": "ops, debug"}).services) == [
        "db",
        "debug",
        "tools",
        "web",
    ]
    assert sorted(load(tmp_path, profiles=["*"]).services) == ["db", "debug", "tools", "web"]


def test_a_named_service_turns_its_profiles_on(tmp_path: Path) -> None:
    project = load(tmp_path, {"compose.yaml": PROFILED}, enable_services=["debug"])
    # docker compose activates the named service's profiles: `tools` shares `debug`
    assert sorted(project.services) == ["db", "debug", "tools", "web"]
    with pytest.raises(InvalidProject, match="no such service: nope"):
        load(tmp_path, enable_services=["nope"])


def test_naming_a_profiled_dependency_does_not_make_the_project_consistent(tmp_path: Path) -> None:
    # compose-go checks the project with the active profiles before it enables the named services
    text = "services:\n  web:\n    image: b\n    depends_on: [db]\n  db:\n    image: b\n    profiles: [x]\n"
    with pytest.raises(InvalidProject, match='service "web" depends on undefined service "db"'):
        load(tmp_path, {"compose.yaml": text}, enable_services=["db", "web"])


def test_profiles_from_dotenv(tmp_path: Path) -> None:
    assert sorted(load(tmp_path, {"compose.yaml": PROFILED, ".env": "COMPOSE_PROFILES=ops\n"}).services) == [
        "db",
        "tools",
        "web",
    ]


def test_container_names(tmp_path: Path) -> None:
    one = "    image: b\n    container_name: same\n"
    text = f"services:\n  a:\n{one}  b:\n{one}"
    with pytest.raises(
        InvalidProject, match=r'services\.b: container name "same" is already in use by service a'
    ):
        load(tmp_path, {"compose.yaml": text})
    text = "services:\n  a:\n    image: b\n    container_name: one\n    scale: 2\n"
    with pytest.raises(InvalidProject, match="can't set container_name and scale"):
        load(tmp_path, {"compose.yaml": text})


def test_a_named_service_needing_a_disabled_one(tmp_path: Path) -> None:
    text = "services:\n  a:\n    image: b\n    profiles: [p]\n    depends_on: [b]\n"
    text += "  b:\n    image: b\n    profiles: [q]\n"
    with pytest.raises(InvalidProject, match=r"^no such service: b$"):
        load(tmp_path, {"compose.yaml": text}, enable_services=["a"])
    assert sorted(load(tmp_path, enable_services=["a", "b"]).services) == ["a", "b"]


def test_depends_on_a_disabled_service(tmp_path: Path) -> None:
    text = "services:\n  web:\n    image: b\n    depends_on: [db]\n  db:\n    image: b\n    profiles: [x]\n"
    with pytest.raises(
        InvalidProject, match='service "web" depends on undefined service "db": invalid compose project'
    ):
        load(tmp_path, {"compose.yaml": text})
    assert sorted(load(tmp_path, profiles=["x"]).services) == ["db", "web"]
    optional = text.replace(
        "depends_on: [db]", "depends_on: {db: {condition: service_started, required: false}}"
    )
    project = load(tmp_path, {"compose.yaml": optional})
    assert sorted(project.services) == ["web"]
    assert project.services["web"]["depends_on"]["db"]["required"] is False


# --- several files ---

BASE = """
services:
  web:
    image: busybox
    command: [httpd, -f]
    environment: {A: "1", B: "1"}
    labels: [a=1]
    ports: ["8080:80", "9090:90"]
    expose: ["80"]
    volumes: [./data:/data, cache:/cache]
    networks: [front]
    depends_on: [db]
    cap_add: [NET_ADMIN]
    healthcheck: {test: [CMD, "true"], interval: 5s}
  db:
    image: busybox
networks:
  front:
    ipam: {config: [{subnet: 10.5.0.0/24}]}
volumes:
  cache: {}
"""
OVERRIDE = """
services:
  web:
    image: busybox:1.36
    command: httpd -f -v
    environment: [B=2, C=3]
    labels: {b: "2"}
    ports: ["9090:90", "127.0.0.1:7070:70"]
    expose: ["80", "81"]
    volumes: [./other:/data:ro]
    networks: {back: {aliases: [w]}}
    depends_on: {db: {condition: service_healthy}}
    cap_add: [NET_ADMIN, SYS_TIME]
    healthcheck: {timeout: 2s}
networks:
  back: {}
  front:
    ipam: {config: [{subnet: 10.5.0.0/24, gateway: 10.5.0.1}, {subnet: 10.6.0.0/24}]}
"""


def test_several_files_merged(tmp_path: Path) -> None:
    project = load(tmp_path, {"a.yaml": BASE, "b.yaml": OVERRIDE}, files=["a.yaml", "b.yaml"])
    web = project.services["web"]
    assert web["image"] == "busybox:1.36"
    assert web["command"] == ["httpd", "-f", "-v"]  # replaced
    assert web["environment"] == {"A": "1", "B": "2", "C": "3"}
    assert web["labels"] == {"a": "1", "b": "2"}
    assert [(p["host_ip"], p["published"], p["target"]) for p in web["ports"]] == [
        ("", "8080", 80),
        ("", "9090", 90),
        ("127.0.0.1", "7070", 70),
    ]
    assert web["expose"] == ["80", "81"]
    assert [(v["source"], v["target"], v["read_only"]) for v in web["volumes"]] == [
        (str(tmp_path / "other"), "/data", True),
        ("cache", "/cache", False),
    ]
    assert web["networks"] == {"front": None, "back": {"aliases": ["w"]}}
    assert web["depends_on"] == {"db": {"condition": "service_healthy", "required": True, "restart": False}}
    assert web["cap_add"] == ["NET_ADMIN", "SYS_TIME"]
    assert web["healthcheck"] == {"test": ["CMD", "true"], "interval": "5s", "timeout": "2s"}
    assert project.networks["front"]["ipam"]["config"] == [
        {"subnet": "10.5.0.0/24", "gateway": "10.5.0.1"},
        {"subnet": "10.6.0.0/24"},
    ]
    assert project.networks["back"]["name"] == f"{project.name}_back"
    assert project.config_files == [tmp_path / "a.yaml", tmp_path / "b.yaml"]


def test_reset_and_override_tags(tmp_path: Path) -> None:
    files = {
        "a.yaml": SIMPLE
        + "    ports: ['80:80']\n    environment: {A: '1'}\n    labels: {x: '1'}\n    user: root\n",
        "b.yaml": (
            "services:\n  web:\n    ports: !reset []\n    environment: !override {C: '3'}\n"
            "    labels: !reset\n    user: !override nobody\n"
        ),
    }
    web = load(tmp_path, files, files=["a.yaml", "b.yaml"]).services["web"]
    assert "ports" not in web
    assert "labels" not in web
    assert web["environment"] == {"C": "3"}
    assert web["user"] == "nobody"


def test_override_paths_are_relative_to_the_project_directory(tmp_path: Path) -> None:
    files = {
        "compose.yaml": SIMPLE,
        "over/o.yaml": "services:\n  web:\n    volumes: [./d:/d]\n    build: ctx\n",
    }
    project = load(tmp_path, files, files=["compose.yaml", "over/o.yaml"])
    assert project.services["web"]["volumes"][0]["source"] == str(tmp_path / "d")
    assert project.services["web"]["build"]["context"] == str(tmp_path / "ctx")


# --- extends ---


def test_extends_in_the_same_file(tmp_path: Path) -> None:
    text = """
services:
  base:
    image: busybox
    environment: {A: "1"}
    command: [sleep, "1"]
    ports: ["80"]
  middle:
    extends: base
    environment: {B: "2"}
  web:
    extends: {service: middle}
    command: [sleep, "2"]
    ports: ["81"]
"""
    web = load(tmp_path, {"compose.yaml": text}).services["web"]
    assert web["image"] == "busybox"
    assert web["environment"] == {"A": "1", "B": "2"}
    assert web["command"] == ["sleep", "2"]
    assert [p["target"] for p in web["ports"]] == [80, 81]
    assert "extends" not in web


def test_extends_another_file_resolves_its_paths_against_its_directory(tmp_path: Path) -> None:
    files = {
        "common/base.yaml": (
            "services:\n  base:\n    build: ./ctx\n    volumes: [./data:/data]\n    env_file: base.env\n"
            "  other:\n    extends: {file: more/deep.yaml, service: deep}\n"
        ),
        "common/base.env": "FROM_BASE=yes\n",
        "common/more/deep.yaml": "services:\n  deep:\n    image: deep\n    labels: [deep=1]\n",
        "app/compose.yaml": (
            "services:\n  web:\n    extends: {file: ../common/base.yaml, service: base}\n"
            "    volumes: [./logs:/logs]\n"
            "  two:\n    extends: {file: ../common/base.yaml, service: other}\n"
        ),
    }
    write(tmp_path, files)
    project = load(tmp_path / "app")
    web = project.services["web"]
    assert web["build"]["context"] == str(tmp_path / "common" / "ctx")
    assert [v["source"] for v in web["volumes"]] == [
        str(tmp_path / "common/data"),
        str(tmp_path / "app/logs"),
    ]
    assert web["environment"] == {"FROM_BASE": "yes"}
    assert project.services["two"]["image"] == "deep"
    assert project.services["two"]["labels"] == {"deep": "1"}


def test_extends_errors(tmp_path: Path) -> None:
    with pytest.raises(
        InvalidComposeFile, match=r'cannot extend service "web" in .*: service "nope" not found'
    ):
        load(tmp_path, {"compose.yaml": "services:\n  web:\n    extends: nope\n"})
    cycle = "services:\n  a:\n    extends: b\n  b:\n    extends: a\n"
    with pytest.raises(InvalidComposeFile, match="circular reference with extends"):
        load(tmp_path, {"compose.yaml": cycle})
    missing = "services:\n  web:\n    extends: {file: nope.yaml, service: x}\n"
    with pytest.raises(ComposeFileNotFound, match=r"nope\.yaml: no such file or directory"):
        load(tmp_path, {"compose.yaml": missing})


def test_one_file_repeating_a_key_keeps_the_last(tmp_path: Path) -> None:
    text = SIMPLE + "    ports: ['80:80', '81:81', '0.0.0.0:80:80']\n"
    text += "    volumes: [./a:/x, ./b:/x]\n    expose: [1, '1']\n"
    web = load(tmp_path, {"compose.yaml": text}).services["web"]
    assert [(p["host_ip"], p["target"]) for p in web["ports"]] == [("0.0.0.0", 80), ("", 81)]
    assert [v["source"] for v in web["volumes"]] == [str(tmp_path / "b")]
    assert web["expose"] == ["1"]


# --- project checks ---


@pytest.mark.parametrize(
    ("service", "message"),
    [
        ("    build: {}\n    image: ''\n", None),
        ("    user: x\n", 'service "web" has neither an image nor a build context specified'),
        ("    image: b\n    networks: [nope]\n", 'service "web" refers to undefined network nope'),
        ("    image: b\n    volumes: [nope:/x]\n", 'service "web" refers to undefined volume nope'),
        ("    image: b\n    network_mode: host\n    networks: [default]\n", "declares mutually exclusive"),
        ("    image: b\n    scale: 2\n    deploy: {replicas: 3}\n", "can't set distinct values on 'scale'"),
        (
            "    image: b\n    healthcheck: {test: [echo, hi]}\n",
            'must start either by "CMD", "CMD-SHELL" or "NONE"',
        ),
    ],
)
def test_inconsistent_projects(tmp_path: Path, service: str, message: str | None) -> None:
    files = {"compose.yaml": "services:\n  web:\n" + service}
    if message is None:
        load(tmp_path, files)
        return
    with pytest.raises(ComposeError, match=message.replace("(", r"\(")) as err:
        load(tmp_path, files)
    assert err.value.exit_code == 1


def test_networks_and_volumes_are_named(tmp_path: Path) -> None:
    text = """
services:
  web:
    image: b
    volumes: [data:/data, ext:/ext, named:/named]
  host:
    image: b
    network_mode: host
networks:
  ext: {external: true}
  custom: {name: my-net}
volumes:
  data:
  ext: {external: true}
  named: {name: "my-${SUFFIX}"}
"""
    project = load(tmp_path / "p", {"compose.yaml": text}, environ={"SUFFIX": "vol"}, all_resources=True)
    assert {k: v["name"] for k, v in project.networks.items()} == {
        "ext": "ext",
        "custom": "my-net",
        "default": "p_default",
    }
    assert project.networks["ext"]["external"] is True
    assert project.networks["default"]["external"] is False
    assert {k: v["name"] for k, v in project.volumes.items()} == {
        "data": "p_data",
        "ext": "ext",
        "named": "my-vol",
    }
    assert project.services["web"]["networks"] == {"default": None}
    assert "networks" not in project.services["host"]


def test_network_mode_of_another_service_depends_on_it(tmp_path: Path) -> None:
    text = "services:\n  web:\n    image: b\n    network_mode: service:vpn\n  vpn:\n    image: b\n"
    web = load(tmp_path, {"compose.yaml": text}).services["web"]
    assert web["depends_on"] == {"vpn": {"condition": "service_started", "restart": True, "required": True}}
    assert "networks" not in web
    # the implicit dependency is checked first, as compose-go's checkConsistency does
    with pytest.raises(InvalidProject, match='service "web" depends on undefined service "nope"'):
        load(tmp_path, {"compose.yaml": text.replace("service:vpn", "service:nope")})


def test_resources_no_enabled_service_uses_are_dropped(tmp_path: Path) -> None:
    text = """
services:
  web: {image: b, networks: [front], volumes: [data:/data]}
  debug: {image: b, profiles: [debug], networks: [back], volumes: [logs:/logs]}
networks: {front: {}, back: {}, unused: {}}
volumes: {data: {}, logs: {}, unused: {}}
"""
    project = load(tmp_path, {"compose.yaml": text})
    assert (list(project.networks), list(project.volumes)) == (["front"], ["data"])
    project = load(tmp_path, profiles=["debug"])
    assert (sorted(project.networks), sorted(project.volumes)) == (["back", "front"], ["data", "logs"])
    project = load(tmp_path, all_resources=True)
    assert (sorted(project.networks), sorted(project.volumes)) == (
        ["back", "front", "unused"],
        ["data", "logs", "unused"],
    )


def test_no_default_network_when_no_service_uses_it(tmp_path: Path) -> None:
    text = "services:\n  web:\n    image: b\n    networks: [n]\nnetworks:\n  n: {}\n"
    assert list(load(tmp_path, {"compose.yaml": text}).networks) == ["n"]


def test_loading_does_not_change_the_process_environment(tmp_path: Path) -> None:
    before = dict(os.environ)
    write(tmp_path, {"c.yaml": SIMPLE, ".env": "DOCKYARD_TEST_SET=1\n"})
    load_project(LoadOptions(cwd=str(tmp_path), files=[str(tmp_path / "c.yaml")], project_name="x"))
    assert dict(os.environ) == before


# --- merge properties ---

_word = st.text(alphabet="abcxyz019_-", min_size=1, max_size=6)
_ports = st.lists(
    st.fixed_dictionaries(
        {
            "target": st.integers(1, 5),
            "published": st.sampled_from(["", "80", "81"]),
            "protocol": st.sampled_from(["tcp", "udp"]),
            "host_ip": st.sampled_from(["", "127.0.0.1"]),
            "mode": st.just("ingress"),
        }
    ),
    max_size=4,
)
_volumes = st.lists(
    st.fixed_dictionaries(
        {"type": st.just("volume"), "source": _word, "target": _word.map(lambda w: "/" + w)}
    ),
    max_size=4,
)
services = st.fixed_dictionaries(
    {},
    optional={
        "image": _word,
        "command": st.lists(_word, max_size=3),
        "environment": st.dictionaries(_word, st.one_of(st.none(), _word), max_size=4),
        "labels": st.dictionaries(_word, _word, max_size=3),
        "ports": _ports,
        "volumes": _volumes,
        "cap_add": st.lists(st.sampled_from(["NET_ADMIN", "SYS_TIME", "CHOWN"]), max_size=3),
        "networks": st.dictionaries(
            _word,
            st.one_of(st.none(), st.fixed_dictionaries({"aliases": st.lists(_word, max_size=2)})),
            max_size=2,
        ),
        "user": _word,
    },
)


@settings(deadline=None)
@given(services, services)
def test_merge_rules(base: dict[str, Any], over: dict[str, Any]) -> None:
    merged = merge_service(base, over)
    for key in ("image", "user", "command"):  # replaced
        if key in over:
            assert merged[key] == over[key]
        elif key in base:
            assert merged[key] == base[key]
    for key in ("environment", "labels"):  # merged by key, the override winning
        assert merged.get(key, {}) == {**base.get(key, {}), **over.get(key, {})} or key not in merged
    # sequences keyed by target (volumes) or by binding (ports): every key once, the last definition kept
    targets = [v["target"] for v in merged.get("volumes", [])]
    assert len(targets) == len(set(targets))
    for vol in merged.get("volumes", []):
        last = [v for v in base.get("volumes", []) + over.get("volumes", []) if v["target"] == vol["target"]][
            -1
        ]
        assert vol == last
    assert merge_service(merged, over) == merged  # applying an override again changes nothing
    assert merge_service(merged, {}) == merged
