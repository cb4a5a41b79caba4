"""Invalid files: YAML errors, schema errors (naming the file, the path in the document and what is wrong, in
compose v2's words) and the keys the spec allows but dockyard does not implement, refused by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from compose.errors import ComposeError, InvalidComposeFile, UnsupportedKey
from compose.loader import LoadOptions, load_project
from compose.model import Project


def load_text(tmp_path: Path, text: str, name: str = "compose.yaml") -> Project:
    (tmp_path / name).write_text(text)
    return load_project(LoadOptions(cwd=str(tmp_path), files=[name], environ={}, all_resources=True))


def error_of(tmp_path: Path, text: str) -> ComposeError:
    with pytest.raises(ComposeError) as err:
        load_text(tmp_path, text)
    assert err.value.exit_code == 1
    assert "\n" not in str(err.value)
    return err.value


SVC = "services:\n  web:\n    image: busybox\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("services:\n  web:\n    imagee: x\n", "services.web additional properties 'imagee' not allowed"),
        ("foo: 1\n" + SVC, "(root) additional properties 'foo' not allowed"),
        (SVC + "    ports: '80'\n", "services.web.ports must be a array"),
        (SVC + "    restart: 5\n", "services.web.restart must be a string"),
        (
            SVC + "    depends_on: {db: {condition: bogus}}\n",
            "services.web.depends_on.db.condition value must be one of 'service_started', 'service_healthy', "
            "'service_completed_successfully'",
        ),
        (SVC + "    volumes: [{source: a}]\n", "services.web.volumes.0 must be a string"),
        (SVC + "    environment: [A=1, A=1]\n", "services.web.environment items at 0 and 1 are equal"),
        (SVC + "    environment: 5\n", "services.web.environment must be a mapping"),
        ("services:\n  web: 5\n", "services.web must be a mapping"),
        (SVC + "    cap_add: [A, B, A]\n", "services.web.cap_add items at 0 and 2 are equal"),
        (
            SVC + "networks:\n  n: {ipam: {config: [{subnet: 5}]}}\n",
            "networks.n.ipam.config.0.subnet must be a string",
        ),
    ],
)
def test_schema_errors_name_file_and_path(tmp_path: Path, text: str, message: str) -> None:
    err = error_of(tmp_path, text)
    assert isinstance(err, InvalidComposeFile)
    assert str(err) == f"validating {tmp_path / 'compose.yaml'}: {message}"


def test_the_failing_file_is_named_among_several(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(SVC)
    (tmp_path / "b.yaml").write_text("services:\n  web:\n    cap_add: NET_ADMIN\n")
    with pytest.raises(
        InvalidComposeFile, match=f"^validating {tmp_path / 'b.yaml'}: services.web.cap_add must be"
    ):
        load_project(LoadOptions(cwd=str(tmp_path), files=["a.yaml", "b.yaml"], environ={}))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "services:\n  web:\n    image: x\n    image: y\n",
            'yaml: line 4: mapping key "image" already defined at line 3',
        ),
        ("services:\n  web: [\n", "yaml: line 3: expected the node content, but found '<stream end>'"),
        ("services:\n  80: {image: x}\n", "non-string key in services: 80"),
    ],
)
def test_yaml_errors(tmp_path: Path, text: str, message: str) -> None:
    assert str(error_of(tmp_path, text)).endswith(message)
    assert str(tmp_path / "compose.yaml") in str(error_of(tmp_path, text))


def test_not_utf8(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_bytes(b"services:\n  web:\n    image: \xff\n")
    with pytest.raises(InvalidComposeFile, match="yaml: invalid UTF-8"):
        load_project(LoadOptions(cwd=str(tmp_path), environ={}))


def test_not_a_mapping_and_empty(tmp_path: Path) -> None:
    assert (
        str(error_of(tmp_path, "- a\n")) == f"{tmp_path / 'compose.yaml'}: top-level object must be a mapping"
    )
    assert str(error_of(tmp_path, "")) == "empty compose file"


def test_yaml_1_2_scalars_and_anchors(tmp_path: Path) -> None:
    text = """
x-base: &base
  image: busybox
  environment: {A: yes, B: 2020-01-01, C: on, D: 0o17, E: 1e3, F: 017, G: .inf, H: 1.5}
services:
  web:
    <<: *base
    tty: yes
    read_only: "false"
"""
    project = load_text(tmp_path, text)
    assert project.warnings == ['"yes" for boolean is not supported by YAML 1.2, please use `true`']
    web = project.services["web"]
    # only true/false are booleans (YAML 1.2, as go-yaml reads it); typed keys are cast as compose casts
    assert web["environment"] == {
        "A": "yes",
        "B": "2020-01-01",
        "C": "on",
        "D": "15",
        "E": "1000",
        "F": "15",
        "G": "+Inf",
        "H": "1.5",
    }
    assert web["tty"] is True
    assert web["read_only"] is False


def test_version_is_obsolete(tmp_path: Path) -> None:
    project = load_text(tmp_path, 'version: "3.8"\n' + SVC)
    assert project.warnings == [
        f"{tmp_path / 'compose.yaml'}: the attribute `version` is obsolete, it will be ignored, "
        "please remove it to avoid potential confusion"
    ]


def test_extensions_are_allowed_anywhere_and_dropped(tmp_path: Path) -> None:
    text = (
        "x-top: 1\nservices:\n  web:\n    image: b\n    x-svc: {a: 1}\n"
        "    environment: {x-kept: v}\n    labels: {x-label: v}\n"
        "    ports: [{target: 80, x-p: 1}]\n    build: {context: ., x-b: 1}\n"
        "networks:\n  n:\n    x-n: 1\nvolumes:\n  v:\n    x-v: 1\n"
    )
    project = load_text(tmp_path, text)
    web = project.services["web"]
    assert "x-svc" not in web
    assert web["environment"] == {"x-kept": "v"}
    assert web["labels"] == {"x-label": "v"}
    assert web["ports"][0] == {
        "target": 80,
        "published": "",
        "protocol": "tcp",
        "host_ip": "",
        "mode": "ingress",
    }
    assert "x-b" not in web["build"]
    assert "x-n" not in project.networks["n"]
    assert "x-v" not in project.volumes["v"]
    assert "x-top" not in project.to_document()


@pytest.mark.parametrize(
    ("text", "path"),
    [
        (SVC + "    secrets: [a]\n", "services.web.secrets"),
        (SVC + "    configs: [a]\n", "services.web.configs"),
        (SVC + "    devices: [/dev/a]\n", "services.web.devices"),
        (SVC + "    logging: {driver: json-file}\n", "services.web.logging"),
        (SVC + "    mem_limit: 1g\n", "services.web.mem_limit"),
        (SVC + "    deploy: {placement: {constraints: [a]}}\n", "services.web.deploy.placement"),
        (
            SVC + "    deploy: {resources: {reservations: {cpus: '1'}}}\n",
            "services.web.deploy.resources.reservations",
        ),
        (SVC + "    build: {context: ., cache_from: [a]}\n", "services.web.build.cache_from"),
        (SVC + "    healthcheck: {test: [NONE], x: 1}\n", None),
        (
            SVC + "    networks: {default: {ipv6_address: '::1'}}\n",
            "services.web.networks.default.ipv6_address",
        ),
        (SVC + "    ports: [{target: 80, app_protocol: http}]\n", "services.web.ports.0.app_protocol"),
        (
            SVC + "    volumes: [{type: bind, source: /a, target: /b, bind: {propagation: rshared}}]\n",
            "services.web.volumes.0.bind.propagation",
        ),
        (
            SVC + "    volumes: [{type: volume, target: /b, volume: {subpath: x}}]\n",
            "services.web.volumes.0.volume.subpath",
        ),
        (SVC + "    env_file: [{path: a.env, format: raw}]\n", "services.web.env_file.0.format"),
        (SVC + "secrets:\n  a: {file: x}\n", "secrets"),
        (SVC + "include: [other.yaml]\n", "include"),
        (SVC + "networks:\n  n: {attachable: true}\n", "networks.n.attachable"),
        (SVC + "networks:\n  n: {ipam: {driver: default}}\n", "networks.n.ipam.driver"),
        (
            SVC + "networks:\n  n: {ipam: {config: [{subnet: 10.0.0.0/24, aux_addresses: {a: 10.0.0.2}}]}}\n",
            "networks.n.ipam.config.0.aux_addresses",
        ),
    ],
)
def test_unsupported_keys_are_refused_by_name(tmp_path: Path, text: str, path: str | None) -> None:
    err = error_of(tmp_path, text)
    if path is None:  # not in the schema at all: the schema names it
        assert "additional properties 'x' not allowed" in str(err)
        return
    assert isinstance(err, UnsupportedKey)
    assert str(err) == f"{tmp_path / 'compose.yaml'}: {path}: not supported by dockyard compose"


@pytest.mark.parametrize(
    ("volume", "what"),
    [
        ("./a:/b:rshared", "bind option 'rshared' not supported by dockyard compose"),
        ("./a:/b:z", "bind option 'z' not supported by dockyard compose"),
    ],
)
def test_unsupported_short_volume_options(tmp_path: Path, volume: str, what: str) -> None:
    err = error_of(tmp_path, SVC + f"    volumes: ['{volume}']\n")
    assert str(err) == f"{tmp_path / 'compose.yaml'}: services.web.volumes.0: {what}"


def test_unsupported_volume_types(tmp_path: Path) -> None:
    err = error_of(tmp_path, SVC + "    volumes: [{type: npipe, source: a, target: /b}]\n")
    assert str(err).endswith("services.web.volumes.0.type: type 'npipe' not supported by dockyard compose")


def test_an_unsupported_key_in_an_extended_file_names_that_file(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text(SVC + "    secrets: [a]\n")
    err = error_of(tmp_path, "services:\n  app:\n    extends: {file: base.yaml, service: web}\n")
    assert str(err) == f"{tmp_path / 'base.yaml'}: services.web.secrets: not supported by dockyard compose"


def test_long_syntax_without_a_target(tmp_path: Path) -> None:
    err = error_of(tmp_path, SVC + "    ports: [{published: 80}]\n")
    assert str(err) == f"{tmp_path / 'compose.yaml'}: services.web.ports.0 is missing a target port"
    err = error_of(tmp_path, SVC + "    volumes: [{type: volume, source: v}]\n")
    assert str(err) == f"{tmp_path / 'compose.yaml'}: services.web.volumes.0 is missing a mount target"


def test_short_syntax_errors_name_the_file(tmp_path: Path) -> None:
    err = error_of(tmp_path, SVC + "    ports: ['8000-8002:80-81']\n")
    assert str(err) == (
        f"{tmp_path / 'compose.yaml'}: services.web.ports.0: "
        "invalid ranges specified for container and host Ports: 80-81 and 8000-8002"
    )
    err = error_of(tmp_path, SVC + "    stop_grace_period: 10x\n")
    assert (
        str(err)
        == f'{tmp_path / "compose.yaml"}: services.web.stop_grace_period: time: invalid duration "10x"'
    )
    err = error_of(tmp_path, SVC + "    ports: ['1.2.3:80:80']\n")
    assert str(err).endswith("services.web.ports.0: invalid IP address: 1.2.3")
