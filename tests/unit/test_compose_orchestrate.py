"""The pure parts of compose's orchestration: the dependency graph (order, cycles), the config hash (stable,
and changed by exactly what changes a container), compose v2's labels, and the canonical service turned into
the engine's create request."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest

from compose import graph
from compose import labels as L
from compose.confighash import service_hash
from compose.convert import container_create, image_name, restart_policy
from compose.errors import ComposeError
from compose.model import Project
from compose.orchestrate import _scale_of, run_container_name
from core.errors import InvalidArgument
from core.models import BindOptions, Mount, TmpfsOptions, VolumeOptions


def _dep(condition: str = "service_started", restart: bool = False) -> dict[str, Any]:
    return {"condition": condition, "required": True, "restart": restart}


# ------------------------------------------------------------------------------------------------- graph


def test_levels_put_each_service_after_what_it_depends_on() -> None:
    services = {
        "web": {"depends_on": {"db": _dep("service_healthy"), "migrate": _dep()}},
        "migrate": {"depends_on": {"db": _dep()}},
        "db": {},
        "cache": {},
        "worker": {"depends_on": {"cache": _dep(), "web": _dep()}},
    }
    assert graph.levels(services) == [["cache", "db"], ["migrate"], ["web"], ["worker"]]
    assert graph.start_order(services) == ["cache", "db", "migrate", "web", "worker"]
    assert graph.stop_order(services) == ["worker", "web", "migrate", "cache", "db"]


def test_dependencies_outside_the_selection_are_left_out() -> None:
    # --no-deps, or a dependency a profile disabled: the service starts with what is there
    assert graph.levels({"web": {"depends_on": {"db": _dep()}}}) == [["web"]]


def test_a_cycle_is_an_error_that_names_the_loop() -> None:
    services = {
        "a": {"depends_on": {"b": _dep()}},
        "b": {"depends_on": {"c": _dep()}},
        "c": {"depends_on": {"a": _dep()}},
    }
    with pytest.raises(graph.DependencyCycle, match=r"^dependency cycle detected: a -> b -> c -> a$"):
        graph.levels(services)
    with pytest.raises(InvalidArgument):
        graph.check_cycles({"self": {"depends_on": {"self": _dep()}}})


def test_with_dependencies_and_dependents_are_transitive() -> None:
    services = {
        "web": {"depends_on": {"api": _dep(restart=True)}},
        "api": {"depends_on": {"db": _dep(restart=False)}},
        "db": {},
        "other": {},
    }
    assert sorted(graph.with_dependencies(services, ["web"])) == ["api", "db", "web"]
    assert sorted(graph.with_dependencies(services, ["other"])) == ["other"]
    assert sorted(graph.dependents(services, "db")) == ["api", "web"]
    assert graph.dependents(services, "db", restart_only=True) == []
    assert graph.dependents(services, "api", restart_only=True) == ["web"]


# ------------------------------------------------------------------------------------------- config hash

SERVICE: dict[str, Any] = {
    "image": "busybox",
    "command": ["sleep", "60"],
    "environment": {"A": "1", "B": None},
    "networks": {"default": None},
    "ports": [{"target": 80, "published": "8080", "protocol": "tcp", "host_ip": "", "mode": "ingress"}],
}


def test_the_hash_is_stable_and_independent_of_key_order() -> None:
    h = service_hash(SERVICE)
    assert re.fullmatch(r"[0-9a-f]{64}", h)
    assert service_hash(copy.deepcopy(SERVICE)) == h
    assert service_hash(dict(reversed(list(SERVICE.items())))) == h
    env_reordered = {**SERVICE, "environment": {"B": None, "A": "1"}}
    assert service_hash(env_reordered) == h


@pytest.mark.parametrize(
    "change",
    [
        {"command": ["sleep", "61"]},
        {"environment": {"A": "2", "B": None}},
        {"image": "busybox:1.36"},
        {"ports": []},
        {"labels": {"x": "y"}},
        {"healthcheck": {"test": ["CMD", "true"]}},
    ],
)
def test_a_config_change_changes_the_hash(change: dict[str, Any]) -> None:
    assert service_hash({**SERVICE, **change}) != service_hash(SERVICE)


@pytest.mark.parametrize(
    "change",
    [
        {"build": {"context": "/src", "dockerfile": "Dockerfile"}},
        {"scale": 3},
        {"depends_on": {"db": _dep("service_healthy")}},
        {"profiles": ["debug"]},
        {"pull_policy": "always"},
    ],
)
def test_what_does_not_change_a_container_leaves_the_hash(change: dict[str, Any]) -> None:
    # compose's ServiceHash leaves out build, pull_policy, scale, deploy.replicas, depends_on, profiles
    assert service_hash({**SERVICE, **change}) == service_hash(SERVICE)


def test_deploy_replicas_is_left_out_but_limits_count() -> None:
    with_replicas = {**SERVICE, "deploy": {"replicas": 3, "resources": {"limits": {"memory": "64m"}}}}
    other_replicas = {**SERVICE, "deploy": {"replicas": 1, "resources": {"limits": {"memory": "64m"}}}}
    other_limits = {**SERVICE, "deploy": {"replicas": 3, "resources": {"limits": {"memory": "32m"}}}}
    assert service_hash(with_replicas) == service_hash(other_replicas)
    assert service_hash(with_replicas) != service_hash(other_limits)
    assert with_replicas["deploy"]["replicas"] == 3  # the model itself is not changed


# ------------------------------------------------------------------------------------------------ labels


def test_depends_on_label_is_composes_format_and_reads_back() -> None:
    svc = {
        "depends_on": {
            "db": _dep("service_healthy", restart=True),
            "migrate": _dep("service_completed_successfully"),
        }
    }
    text = L.depends_on_label(svc)
    assert text == "db:service_healthy:true,migrate:service_completed_successfully:false"
    assert L.parse_depends_on_label(text) == {
        "db": ("service_healthy", True),
        "migrate": ("service_completed_successfully", False),
    }
    assert L.depends_on_label({}) == ""
    assert L.parse_depends_on_label("") == {}


def test_project_filter_selects_by_labels() -> None:
    assert L.project_filter("app") == {
        "label": ["com.docker.compose.project=app", "com.docker.compose.oneoff=False"]
    }
    assert L.project_filter("app", oneoff=None, services=["web"]) == {
        "label": ["com.docker.compose.project=app", "com.docker.compose.service=web"]
    }
    assert L.project_filter("app", oneoff=True)["label"][1] == "com.docker.compose.oneoff=True"
    assert L.container_number({L.CONTAINER_NUMBER: "3"}) == 3
    assert L.container_number({}) == 0
    assert L.is_oneoff({L.ONEOFF: "True"}) and not L.is_oneoff({L.ONEOFF: "False"})


# --------------------------------------------------------------------------------------------- convert


def _project(**services: dict[str, Any]) -> Project:
    return Project(
        name="app",
        working_dir=Path("/srv/app"),
        config_files=[Path("/srv/app/compose.yaml"), Path("/srv/app/compose.override.yaml")],
        services=services,
        networks={
            "default": {"name": "app_default"},
            "back": {"name": "app_back"},
            "ext": {"name": "shared", "external": True},
        },
        volumes={"data": {"name": "app_data"}, "named": {"name": "custom-name"}},
        environment={"FROM_ENV": "outer"},
    )


def test_labels_identity_and_names_as_compose_v2() -> None:
    svc = {
        "image": "busybox",
        "depends_on": {"db": _dep("service_healthy", True)},
        "networks": {"default": None},
    }
    p = _project(web=svc, db={"image": "busybox"})
    req = container_create(p, "web", svc, number=2, config_hash="ab" * 32, image_id="sha256:" + "c" * 64)
    assert req.name == "app-web-2"
    assert req.config.labels == {
        "com.docker.compose.project": "app",
        "com.docker.compose.service": "web",
        "com.docker.compose.oneoff": "False",
        "com.docker.compose.container-number": "2",
        "com.docker.compose.config-hash": "ab" * 32,
        "com.docker.compose.project.working_dir": "/srv/app",
        "com.docker.compose.project.config_files": "/srv/app/compose.yaml,/srv/app/compose.override.yaml",
        "com.docker.compose.depends_on": "db:service_healthy:true",
        "com.docker.compose.image": "sha256:" + "c" * 64,
        "com.docker.compose.version": L.COMPOSE_VERSION,
    }
    assert req.host_config.network_mode == "app_default"
    assert req.networking_config.endpoints_config["app_default"].aliases == ["app-web-2", "web"]
    oneoff = container_create(
        p,
        "web",
        svc,
        number=0,
        config_hash="x",
        oneoff=True,
        container="app-web-run-0123456789ab",
        use_aliases=False,
    )
    assert oneoff.name == "app-web-run-0123456789ab"
    assert oneoff.config.labels["com.docker.compose.oneoff"] == "True"
    assert "com.docker.compose.container-number" not in oneoff.config.labels
    assert oneoff.networking_config.endpoints_config["app_default"].aliases == ["app-web-run-0123456789ab"]
    assert re.fullmatch(r"app-web-run-[0-9a-f]{12}", run_container_name(p, "web"))


def test_container_name_and_built_image_name() -> None:
    p = _project()
    svc = {"build": {"context": "/srv/app"}, "container_name": "custom", "networks": {"default": None}}
    assert container_create(p, "api", svc, number=1, config_hash="x").name == "custom"
    assert image_name(p, "api", svc) == "app-api"
    assert image_name(p, "api", {"image": "nginx:1", "build": {}}) == "nginx:1"
    with pytest.raises(ComposeError, match="custom container name"):
        _scale_of("api", svc, {"api": 2})
    assert _scale_of("web", {"scale": 3}, None) == 3
    assert _scale_of("web", {"scale": 3}, {"web": 0}) == 0
    assert _scale_of("web", {}, None) == 1


def test_service_settings_become_the_create_request() -> None:
    svc: dict[str, Any] = {
        "image": "busybox",
        "command": ["sh", "-c", "echo hi"],
        "entrypoint": ["/bin/init"],
        "environment": {"A": "1", "FROM_ENV": None, "UNSET": None},
        "ports": [
            {"target": 80, "published": "8080", "protocol": "tcp", "host_ip": "127.0.0.1", "mode": "ingress"},
            {"target": 53, "published": "", "protocol": "udp", "host_ip": "", "mode": "ingress"},
        ],
        "expose": ["9000", "9001/udp"],
        "volumes": [
            {"type": "volume", "source": "data", "target": "/data"},
            {
                "type": "volume",
                "source": "named",
                "target": "/named",
                "read_only": True,
                "volume": {"nocopy": True},
            },
            {"type": "volume", "target": "/anon"},
            {
                "type": "bind",
                "source": "/srv/app/conf",
                "target": "/conf",
                "bind": {"create_host_path": True},
            },
            {"type": "tmpfs", "target": "/scratch", "tmpfs": {"size": 1048576, "mode": 0o1777}},
        ],
        "networks": {"back": {"aliases": ["api", "backend"], "ipv4_address": "10.5.0.7"}, "default": None},
        "healthcheck": {
            "test": ["CMD-SHELL", "true"],
            "interval": "1m30s",
            "timeout": "500ms",
            "retries": 5,
            "start_period": "2s",
        },
        "restart": "on-failure:3",
        "user": "1000:1000",
        "working_dir": "/app",
        "hostname": "h",
        "stop_signal": "SIGINT",
        "stop_grace_period": "1m",
        "init": True,
        "read_only": True,
        "privileged": False,
        "tty": True,
        "stdin_open": True,
        "labels": {"mine": "yes"},
        "tmpfs": ["/run:size=64k"],
        "cap_add": ["NET_ADMIN"],
        "cap_drop": ["MKNOD"],
        "extra_hosts": ["gw:10.0.0.1"],
        "ulimits": {"nofile": {"soft": 1024, "hard": 2048}},
        "deploy": {"resources": {"limits": {"cpus": "0.5", "memory": "64m", "pids": 100}}},
    }
    p = _project(api=svc)
    req = container_create(p, "api", svc, number=1, config_hash="x")
    c, h = req.config, req.host_config
    assert (c.cmd, c.entrypoint, c.user, c.working_dir, c.hostname) == (
        ["sh", "-c", "echo hi"], ["/bin/init"], "1000:1000", "/app", "h",
    )  # fmt: skip
    assert c.env == ["A=1", "FROM_ENV=outer"]  # a key without a value takes the project's, or is left out
    assert c.exposed_ports == ["80/tcp", "53/udp", "9000/tcp", "9001/udp"]
    assert c.labels["mine"] == "yes"
    assert (c.stop_signal, c.stop_timeout, c.tty, c.open_stdin) == ("SIGINT", 60, True, True)
    assert c.healthcheck is not None
    assert (c.healthcheck.test, c.healthcheck.interval, c.healthcheck.timeout, c.healthcheck.retries) == (
        ["CMD-SHELL", "true"], 90_000_000_000, 500_000_000, 5,
    )  # fmt: skip
    assert c.healthcheck.start_period == 2_000_000_000
    assert {k: [(b.host_ip, b.host_port) for b in v] for k, v in h.port_bindings.items()} == {
        "80/tcp": [("127.0.0.1", "8080")],
        "53/udp": [("", "")],
    }
    assert h.mounts[:5] == [
        Mount(type="volume", target="/data", source="app_data"),
        Mount(
            type="volume",
            target="/named",
            source="custom-name",
            read_only=True,
            volume_options=VolumeOptions(no_copy=True),
        ),
        Mount(type="volume", target="/anon", source=""),
        Mount(
            type="bind",
            target="/conf",
            source="/srv/app/conf",
            bind_options=BindOptions(create_mountpoint=True),
        ),
        Mount(type="tmpfs", target="/scratch", tmpfs_options=TmpfsOptions(size_bytes=1048576, mode=0o1777)),
    ]
    assert h.mounts[5].type == "tmpfs" and h.mounts[5].target == "/run"
    assert (h.restart_policy.name, h.restart_policy.maximum_retry_count) == ("on-failure", 3)
    assert (h.init, h.readonly_rootfs, h.privileged) == (True, True, False)
    assert (h.cap_add, h.cap_drop, h.extra_hosts) == (["NET_ADMIN"], ["MKNOD"], ["gw:10.0.0.1"])
    assert [(u.name, u.soft, u.hard) for u in h.ulimits] == [("nofile", 1024, 2048)]
    assert (h.nano_cpus, h.memory, h.pids_limit) == (500_000_000, 64 * 1024 * 1024, 100)
    # networks in compose's order (by name here: no priorities); the first is the network mode
    assert h.network_mode == "app_back"
    eps = req.networking_config.endpoints_config
    assert list(eps) == ["app_back", "app_default"]
    assert eps["app_back"].aliases == ["app-api-1", "api", "backend"]
    assert eps["app_back"].ipam_config is not None and eps["app_back"].ipam_config.ipv4_address == "10.5.0.7"
    assert eps["app_default"].ipam_config is None


def test_network_modes_and_disabled_health_checks() -> None:
    p = _project(db={"image": "busybox"})
    req = container_create(
        p, "x", {"image": "busybox", "network_mode": "service:db"}, number=1, config_hash="x"
    )
    assert req.host_config.network_mode == "container:app-db-1"
    assert req.networking_config.endpoints_config == {}
    req = container_create(p, "x", {"image": "busybox", "network_mode": "host"}, number=1, config_hash="x")
    assert req.host_config.network_mode == "host"
    req = container_create(
        p, "x", {"image": "busybox", "healthcheck": {"disable": True}}, number=1, config_hash="x"
    )
    assert req.config.healthcheck is not None and req.config.healthcheck.test == ["NONE"]


def test_restart_policies() -> None:
    assert restart_policy("always").name == "always"
    assert restart_policy("unless-stopped").name == "unless-stopped"
    assert restart_policy("no").name == "no"
    with pytest.raises(InvalidArgument):
        restart_policy("sometimes")
