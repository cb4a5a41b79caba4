"""What docker compose v2 does with a project, over the engine interface alone (so it drives the local
engine and a remote one alike): converge (``up``), tear down (``down``), and the verbs that act on a
project's containers found by their labels (``stop``, ``start``, ``restart``, ``kill``, ``pause``,
``unpause``, ``ps``, ``ls``).

Progress goes to ``report`` as the lines compose 2.29's plain progress prints
(`` Container app-web-1  Started``, `` web Pulled ``); warnings (orphans) to ``warn``, or to ``report`` when
no ``warn`` is given.
"""

from __future__ import annotations

import functools
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from compose import graph
from compose import labels as L
from compose.confighash import service_hash
from compose.convert import container_create, container_name, image_name, network_name, volume_name
from compose.errors import ComposeError
from compose.model import Project, Service
from core.errors import (
    Conflict,
    ContainerNotFound,
    ImageNotFound,
    InvalidArgument,
    NetworkNotFound,
    NotFound,
    VolumeNotFound,
)
from core.models import BuildOptions, ContainerSummary

if TYPE_CHECKING:
    from core.interface import Engine

Report = Callable[[str], None]

POLL = 0.1  # seconds between looks at a dependency's state (compose polls every 500 ms)


@dataclass
class ProjectSummary:
    """One row of ``compose ls``."""

    name: str
    status: str  # compose's combined status: "running(2), exited(1)"
    config_files: str
    containers: list[ContainerSummary] = field(default_factory=list)


class _Out:
    def __init__(self, report: Report | None, warn: Report | None = None) -> None:
        self.report = report
        self.warn_to = warn
        self.lock = threading.Lock()  # events come from the threads that start containers together

    def event(self, resource: str, status: str) -> None:
        """compose's progress event (``NewEvent``): its plain line is `` Container app-web-1  Started``."""
        self._emit(f" {resource}  {status}")

    def text_event(self, resource: str, text: str) -> None:
        """compose's events that carry a text and no status (pulls, pushes): `` web Pulled `` (Go's Println
        of the empty status leaves the trailing space)."""
        self._emit(f" {resource} {text} ")

    def _emit(self, line: str) -> None:
        if self.report is not None:
            with self.lock:
                self.report(line)

    def warn(self, text: str) -> None:
        if self.warn_to is not None:
            self.warn_to(text)
        elif self.report is not None:
            self.report(f"WARN[0000] {text}")


def _together(jobs: list[Callable[[], None]]) -> None:
    """Run the jobs at once (threads: the engine's calls block on its processes, not on this one's CPU) and
    raise the first error; one job runs here."""
    if len(jobs) <= 1:
        for job in jobs:
            job()
        return
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(len(jobs), 8), thread_name_prefix="compose") as pool:
        futures = [pool.submit(job) for job in jobs]
        errors = [f.exception() for f in futures]
    for err in errors:
        if err is not None:
            raise err


# ================================================================================== reading the engine ====


def _sort_key(c: ContainerSummary) -> tuple[str, int, str]:
    return (c.labels.get(L.SERVICE, ""), L.container_number(c.labels), c.name)


def project_containers(
    engine: Engine,
    project_name: str,
    *,
    all: bool = True,
    services: Iterable[str] | None = None,
    oneoff: bool | None = False,
) -> list[ContainerSummary]:
    """The project's containers (service containers; ``oneoff`` True: ``run``'s, None: both), by service
    and number; ``all`` False: running ones only."""
    wanted = list(services or [])
    found = engine.list_containers(
        all=all, filters=L.project_filter(project_name, oneoff=oneoff, services=wanted)
    )
    if wanted:
        found = [c for c in found if c.labels.get(L.SERVICE) in wanted]
    return sorted(found, key=_sort_key)


def list_projects(engine: Engine, *, all: bool = False) -> list[ProjectSummary]:
    """``compose ls``: projects with running containers (``all``: with any), by name."""
    found = engine.list_containers(all=all, filters={"label": [L.PROJECT, L.CONFIG_HASH]})
    by_project: dict[str, list[ContainerSummary]] = {}
    for c in found:
        by_project.setdefault(c.labels[L.PROJECT], []).append(c)
    out = []
    for name in sorted(by_project):
        cs = by_project[name]
        counts: dict[str, int] = {}
        files: list[str] = []
        for c in cs:
            counts[c.status] = counts.get(c.status, 0) + 1
            for f in (c.labels.get(L.CONFIG_FILES) or "").split(","):
                if f and f not in files:
                    files.append(f)
        status = ", ".join(f"{s}({n})" for s, n in sorted(counts.items()))
        out.append(ProjectSummary(name, status, ",".join(files), sorted(cs, key=_sort_key)))
    return out


def _graph_from_labels(containers: Iterable[ContainerSummary]) -> dict[str, Service]:
    """The services and their depends_on as the containers' labels record them (``down`` without files)."""
    services: dict[str, Service] = {}
    for c in containers:
        name = c.labels.get(L.SERVICE, "")
        deps = L.parse_depends_on_label(c.labels.get(L.DEPENDS_ON, ""))
        svc = services.setdefault(name, {"depends_on": {}})
        for dep, (condition, restart) in deps.items():
            svc["depends_on"][dep] = {"condition": condition, "restart": restart, "required": True}
    return services


def _by_service(containers: Iterable[ContainerSummary]) -> dict[str, list[ContainerSummary]]:
    out: dict[str, list[ContainerSummary]] = {}
    for c in containers:
        out.setdefault(c.labels.get(L.SERVICE, ""), []).append(c)
    return out


# ========================================================================================= networks ====


def _used_networks(project: Project, services: Mapping[str, Service]) -> list[str]:
    keys: list[str] = []
    for svc in services.values():
        if svc.get("network_mode"):
            continue
        for key in svc.get("networks") or {"default": None}:
            if key not in keys:
                keys.append(key)
    return keys


def _used_volumes(services: Mapping[str, Service]) -> list[str]:
    keys: list[str] = []
    for svc in services.values():
        for v in svc.get("volumes") or []:
            if v.get("type", "volume") == "volume" and v.get("source") and v["source"] not in keys:
                keys.append(v["source"])
    return keys


def ensure_networks(engine: Engine, project: Project, keys: Iterable[str], out: _Out) -> None:
    for key in keys:
        cfg = project.networks.get(key) or {}
        name = network_name(project, key)
        try:
            doc = engine.inspect_network(name)
        except NotFound:
            doc = None
        if cfg.get("external"):
            if doc is None:
                raise ComposeError(f"network {name} declared as external, but could not be found")
            continue
        if doc is not None:
            have = doc.get("Labels") or {}
            if have.get(L.PROJECT) != project.name:
                out.warn(
                    f"a network with name {name} exists but was not created by compose.\n"
                    f"Set `external: true` to use an existing network"
                )
            continue
        ipam = ((cfg.get("ipam") or {}).get("config") or [{}])[0] if cfg.get("ipam") else {}
        if ipam.get("ip_range"):
            raise ComposeError(f"network {key}: ipam ip_range is not supported by dockyard")
        labels = dict(cfg.get("labels") or {})
        labels.update({L.NETWORK: key, L.PROJECT: project.name, L.VERSION: L.COMPOSE_VERSION})
        out.event(f"Network {name}", "Creating")
        try:
            engine.create_network(
                name,
                driver=str(cfg.get("driver") or "bridge"),
                subnet=ipam.get("subnet") or None,
                gateway=ipam.get("gateway") or None,
                internal=bool(cfg.get("internal")),
                labels=labels,
                options=dict(cfg.get("driver_opts") or {}) or None,
            )
        except Conflict:
            pass  # made by another `up` in the meantime
        out.event(f"Network {name}", "Created")


def ensure_volumes(engine: Engine, project: Project, keys: Iterable[str], out: _Out) -> None:
    for key in keys:
        cfg = project.volumes.get(key) or {}
        name = volume_name(project, key)
        try:
            doc: dict[str, Any] | None = engine.inspect_volume(name)
        except NotFound:
            doc = None
        if cfg.get("external"):
            if doc is None:
                raise ComposeError(f'external volume "{name}" not found')
            continue
        if doc is not None:
            if (doc.get("Labels") or {}).get(L.PROJECT) != project.name:
                out.warn(
                    f'volume "{name}" already exists but was not created by Docker Compose. '
                    "Use `external: true` to use an existing volume"
                )
            continue
        driver = str(cfg.get("driver") or "local")
        if driver != "local":
            raise ComposeError(f"volume {key}: driver {driver!r} is not supported: only 'local'")
        labels = dict(cfg.get("labels") or {})
        labels.update({L.VOLUME: key, L.PROJECT: project.name, L.VERSION: L.COMPOSE_VERSION})
        out.event(f"Volume {name}", "Creating")
        engine.create_volume(name, labels=labels, options=dict(cfg.get("driver_opts") or {}) or None)
        out.event(f"Volume {name}", "Created")


# =========================================================================================== images ====


def build_service(
    engine: Engine,
    project: Project,
    name: str,
    service: Service,
    out: _Out,
    *,
    no_cache: bool = False,
    pull: bool = False,
) -> str:
    """Build the service's image (``build:``) and tag it; its image id."""
    b = service.get("build")
    if not b:
        raise InvalidArgument(f'service "{name}" has no build section')
    tag = image_name(project, name, service)
    context = Path(str(b.get("context") or project.working_dir))
    if not context.is_absolute():
        context = project.working_dir / context
    dockerfile = Path(str(b.get("dockerfile") or "Dockerfile"))
    if not dockerfile.is_absolute():
        dockerfile = context / dockerfile
    out.event(f"Service {name}", "Building")
    result = engine.build(
        BuildOptions(
            context=context,
            dockerfile=dockerfile,
            tags=[tag],
            build_args={k: str(v) for k, v in (b.get("args") or {}).items() if v is not None},
            target=b.get("target") or None,
            labels=dict(b.get("labels") or {}),
            no_cache=no_cache,
            pull=pull,
        )
    )
    out.event(f"Service {name}", "Built")
    return result.image_id


def pull_service(engine: Engine, name: str, image: str, out: _Out) -> str:
    """Pull the service's image (compose's events name the service); its image id."""
    out.text_event(name, "Pulling")
    result = engine.pull(image)
    out.text_event(name, "Pulled")
    return result.image.id


def _image_id(engine: Engine, image: str) -> str | None:
    try:
        return engine.image(image).id
    except (ImageNotFound, NotFound):
        return None


def ensure_images(
    engine: Engine, project: Project, services: Mapping[str, Service], out: _Out, *, build: bool, pull: str
) -> dict[str, str]:
    """service -> image id: built (``--build``, or no image to pull), pulled (missing, or ``pull`` always),
    or present."""
    ids: dict[str, str] = {}
    done: dict[str, str] = {}
    for name in sorted(services):
        svc = services[name]
        image = image_name(project, name, svc)
        if image in done and not (build and svc.get("build")):
            ids[name] = done[image]
            continue
        have = _image_id(engine, image)
        if svc.get("build") and (build or have is None):
            ids[name] = build_service(engine, project, name, svc, out)
        elif pull == "always" or (have is None and pull != "never"):
            if not svc.get("image"):
                raise ComposeError(f'service "{name}" has neither an image nor a build context specified')
            ids[name] = pull_service(engine, name, image, out)
        elif have is None:
            raise ComposeError(f"No such image: {image}")
        else:
            ids[name] = have
        done[image] = ids[name]
    return ids


# ============================================================================================== up ====


def _enabled(project: Project, names: Iterable[str]) -> dict[str, Service]:
    """The project's services plus those a profile left out but that were named (compose enables them)."""
    services = dict(project.services)
    for n in names:
        if n not in services:
            if n in project.disabled:
                services[n] = project.disabled[n]
            else:
                raise ComposeError(f"no such service: {n}")
    return services


def _scale_of(name: str, service: Service, scale: Mapping[str, int] | None) -> int:
    n = (scale or {}).get(name)
    if n is None:
        n = int(service.get("scale", 1) if service.get("scale") is not None else 1)
    if n > 1 and service.get("container_name"):
        raise ComposeError(
            f'WARNING: The "{name}" service is using the custom container name '
            f'"{service["container_name"]}". Docker requires each container to have a unique name. '
            "Remove the custom name to scale the service"
        )
    return n


def _stop_signal_wait(
    engine: Engine, containers: list[ContainerSummary], timeout: float | None, out: _Out
) -> None:
    """Stop the containers together, as compose stops one level of the graph: the engine's stop (the
    container's stop signal, then SIGKILL after ``timeout`` or its own stop timeout) for all of them at
    once, so the whole takes one timeout, not one per container."""

    def stop_one(c: ContainerSummary) -> None:
        out.event(f"Container {c.name}", "Stopping")
        if c.status in ("running", "restarting", "paused"):
            try:
                engine.stop_container(c.id, timeout=timeout)
            except (ContainerNotFound, Conflict):
                pass
        out.event(f"Container {c.name}", "Stopped")

    _together([functools.partial(stop_one, c) for c in containers])


def _remove(engine: Engine, c: ContainerSummary, out: _Out, *, volumes: bool = False) -> None:
    out.event(f"Container {c.name}", "Removing")
    try:
        engine.remove_container(c.id, force=True, volumes=volumes)
    except ContainerNotFound:
        pass
    out.event(f"Container {c.name}", "Removed")


def up(
    engine: Engine,
    project: Project,
    *,
    services: list[str] | None = None,
    build: bool = False,
    force_recreate: bool = False,
    no_recreate: bool = False,
    no_deps: bool = False,
    remove_orphans: bool = False,
    wait: bool = False,
    scale: Mapping[str, int] | None = None,
    pull: str = "missing",
    report: Report | None = None,
    warn: Report | None = None,
    timeout: float | None = None,
    wait_timeout: float | None = None,
    start: bool = True,
) -> list[ContainerSummary]:
    """``docker compose up -d``: networks, volumes, images, then each service's containers created,
    recreated (config hash or image changed, ``force_recreate``) or kept, replicas added or removed to
    ``scale``, and started in dependency order, each waiting on its dependencies' conditions; ``wait``:
    until every one runs (healthy, where it has a health check). The project's containers after."""
    if force_recreate and no_recreate:
        raise InvalidArgument("--force-recreate and --no-recreate are incompatible")
    out = _Out(report, warn)
    enabled = _enabled(project, services or [])
    for n in scale or {}:
        if n not in enabled:
            raise ComposeError(f"no such service: {n}")
    targets = list(services or project.services)
    asked = set(targets)
    if not no_deps:
        targets = graph.with_dependencies(enabled, targets)
    scope = {n: enabled[n] for n in targets}
    graph.check_cycles(enabled)
    levels = graph.levels(scope)

    observed = project_containers(engine, project.name, all=True)
    known = set(enabled) | set(project.disabled)
    orphans = [c for c in observed if c.labels.get(L.SERVICE) not in known]
    if orphans:
        if remove_orphans:
            _stop_signal_wait(engine, orphans, timeout, out)
            for c in orphans:
                _remove(engine, c, out)
        else:
            out.warn(
                f"Found orphan containers ([{' '.join(c.name for c in orphans)}]) for this project. If you "
                "removed or renamed this service in your compose file, you can run this command with the "
                "--remove-orphans flag to clean it up."
            )
    by_service = _by_service(c for c in observed if c not in orphans)

    ensure_networks(engine, project, _used_networks(project, scope), out)
    ensure_volumes(engine, project, _used_volumes(scope), out)
    image_ids = ensure_images(engine, project, scope, out, build=build, pull=pull)

    # converge: create, recreate or keep each service's containers, level by level
    recreated: set[str] = set()
    for level in levels:
        for name in level:
            svc = scope[name]
            want = _scale_of(name, svc, scale)
            h = service_hash(svc)
            have = sorted(by_service.get(name, []), key=lambda c: L.container_number(c.labels))
            extra = [
                c for c in have if L.container_number(c.labels) > want or L.container_number(c.labels) < 1
            ]
            keep = [c for c in have if c not in extra]
            # numbers beyond the scale go, highest first (compose removes the newest replicas)
            extra.sort(key=lambda c: -L.container_number(c.labels))
            if extra:
                _stop_signal_wait(engine, extra, timeout, out)
                for c in extra:
                    _remove(engine, c, out)
            restart_deps = [
                d
                for d, cfg in (svc.get("depends_on") or {}).items()
                if (cfg or {}).get("restart") and d in recreated
            ]
            numbers = {L.container_number(c.labels) for c in keep}
            for c in keep:
                diverged = (
                    c.labels.get(L.CONFIG_HASH) != h
                    or c.labels.get(L.IMAGE, image_ids[name]) != image_ids[name]
                )
                # --force-recreate and --no-recreate are for the services asked for; their dependencies
                # are recreated when they diverged (compose's --always-recreate-deps is not here)
                named = name in asked
                if (force_recreate and named) or (not (no_recreate and named) and (diverged or restart_deps)):
                    _recreate(engine, project, name, svc, c, h, image_ids[name], out, timeout)
                    recreated.add(name)
            for number in range(1, want + 1):
                if number not in numbers:
                    cname = container_name(project, name, svc, number)
                    out.event(f"Container {cname}", "Creating")
                    engine.create_container(
                        container_create(
                            project, name, svc, number=number, config_hash=h, image_id=image_ids[name]
                        )
                    )
                    out.event(f"Container {cname}", "Created")
    if not start:
        return project_containers(engine, project.name, all=True)

    # start, level by level, each service after its dependencies' conditions hold; the services of a level
    # and the replicas of a service start together, as compose's do
    def start_one(c: ContainerSummary) -> None:
        out.event(f"Container {c.name}", "Starting")
        engine.start_container(c.id)
        out.event(f"Container {c.name}", "Started")

    def start_service(name: str) -> None:
        _wait_dependencies(engine, project.name, name, scope[name], scope, out, scale)
        todo = []
        for c in project_containers(engine, project.name, all=True, services=[name]):
            if c.status == "running":
                out.event(f"Container {c.name}", "Running")
            elif c.status != "paused":
                todo.append(c)
        _together([functools.partial(start_one, c) for c in todo])

    for level in levels:
        _together([functools.partial(start_service, name) for name in level])
    if wait:
        running = {n: svc for n, svc in scope.items() if _scale_of(n, svc, scale) > 0}
        _wait_all(engine, project, running, out, wait_timeout)
    return project_containers(engine, project.name, all=True)


def _recreate(
    engine: Engine,
    project: Project,
    name: str,
    svc: Service,
    old: ContainerSummary,
    h: str,
    image_id: str,
    out: _Out,
    timeout: float | None,
) -> None:
    """compose's recreate: the new container is made under a temporary name beside the old, the old one is
    stopped and removed, the new one takes its name."""
    number = L.container_number(old.labels)
    cname = container_name(project, name, svc, number)
    out.event(f"Container {old.name}", "Recreate")
    request = container_create(project, name, svc, number=number, config_hash=h, image_id=image_id)
    request.name = f"{old.id[:12]}_{cname}"
    request.config.labels[L.REPLACE] = old.name
    new = engine.create_container(request)
    try:
        if old.status in ("running", "restarting", "paused"):
            engine.stop_container(old.id, timeout=timeout)
        engine.remove_container(old.id, force=True)
        engine.rename_container(new.id, cname)
    except BaseException:
        engine.remove_container(new.id, force=True)
        raise
    out.event(f"Container {cname}", "Recreated")


def _inspect_state(engine: Engine, cid: str) -> tuple[str, int, str | None, bool]:
    """(status, exit code, health status or None, has a health check)."""
    doc = engine.inspect_container(cid)
    state = doc.get("State") or {}
    hc = (doc.get("Config") or {}).get("Healthcheck") or {}
    has_hc = bool(hc) and (hc.get("Test") or [""])[0] != "NONE"
    health = (state.get("Health") or {}).get("Status")
    return str(state.get("Status") or ""), int(state.get("ExitCode") or 0), health, has_hc


def _check(engine: Engine, containers: list[ContainerSummary], condition: str, dep: str) -> bool:
    """Whether ``condition`` holds for the dependency's containers now; raises when it never will."""
    if condition == "service_completed_successfully":
        for c in containers:
            status, code, _h, _ = _inspect_state(engine, c.id)
            if status == "exited":
                if code != 0:
                    raise ComposeError(f'service "{dep}" didn\'t complete successfully: exit {code}')
                return True
        return False
    for c in containers:
        status, code, health, has_hc = _inspect_state(engine, c.id)
        if status == "exited":
            raise ComposeError(f"container {c.name} exited ({code})")
        if not has_hc and condition == "running_or_healthy":
            if status != "running":
                return False
            continue
        if health is None:
            raise ComposeError(f"container {c.name} has no healthcheck configured")
        if health == "unhealthy":
            raise ComposeError(f"container {c.name} is unhealthy")
        if health != "healthy":
            return False
    return True


def _wait_for(
    engine: Engine,
    project_name: str,
    conditions: Mapping[str, str],
    out: _Out,
    timeout: float | None,
    *,
    dependant: str = "",
    required: Mapping[str, bool] | None = None,
) -> None:
    pending: dict[str, list[ContainerSummary]] = {}
    for dep, condition in conditions.items():
        if condition == "service_started":
            continue
        cs = project_containers(engine, project_name, all=True, services=[dep])
        if not cs:
            if (required or {}).get(dep, True):
                raise ComposeError(f"{dependant} is missing dependency {dep}")
            out.warn(f"{dependant} is missing dependency {dep}")
            continue
        for c in cs:
            out.event(f"Container {c.name}", "Waiting")
        pending[dep] = cs
    deadline = time.monotonic() + timeout if timeout else None
    while pending:
        for dep in list(pending):
            condition = conditions[dep]
            try:
                ok = _check(engine, pending[dep], condition, dep)
            except ComposeError as err:
                if not (required or {}).get(dep, True):
                    out.warn(f"optional dependency {dep!r} failed: {err}")
                    ok = True
                elif condition == "service_healthy":
                    for c in pending[dep]:
                        out.event(f"Container {c.name}", "Error")
                    raise ComposeError(f"dependency failed to start: {err}") from None
                else:
                    for c in pending[dep]:
                        out.event(f"Container {c.name}", str(err))
                    raise
            if ok:
                text = "Exited" if condition == "service_completed_successfully" else "Healthy"
                for c in pending.pop(dep):
                    out.event(f"Container {c.name}", text)
        if pending:
            if deadline is not None and time.monotonic() > deadline:
                raise ComposeError("timeout waiting for dependencies")
            time.sleep(POLL)


def _wait_dependencies(
    engine: Engine,
    project_name: str,
    name: str,
    svc: Service,
    scope: Mapping[str, Service],
    out: _Out,
    scale: Mapping[str, int] | None = None,
) -> None:
    deps = {d: cfg or {} for d, cfg in (svc.get("depends_on") or {}).items() if d in scope}
    conditions = {d: str(cfg.get("condition") or "service_started") for d, cfg in deps.items()}
    # a dependency scaled to nothing is not waited for (compose's shouldWaitForDependency)
    conditions = {d: c for d, c in conditions.items() if _scale_of(d, scope[d], scale) > 0}
    required = {d: bool(cfg.get("required", True)) for d, cfg in deps.items()}
    _wait_for(engine, project_name, conditions, out, None, dependant=name, required=required)


def _wait_all(
    engine: Engine, project: Project, scope: Mapping[str, Service], out: _Out, timeout: float | None
) -> None:
    """``--wait``: every service running or healthy; one a dependant needs to complete, completed."""
    conditions: dict[str, str] = {}
    for name in scope:
        cond = "running_or_healthy"
        for other in scope.values():
            if ((other.get("depends_on") or {}).get(name) or {}).get(
                "condition"
            ) == "service_completed_successfully":
                cond = "service_completed_successfully"
        conditions[name] = cond
    try:
        _wait_for(engine, project.name, conditions, out, timeout, dependant=project.name)
    except ComposeError as err:
        if str(err) == "timeout waiting for dependencies" and timeout:
            raise ComposeError(f"application not healthy after {timeout:g}s") from None
        raise


# ============================================================================================ down ====


def down(
    engine: Engine,
    project_name: str,
    *,
    volumes: bool = False,
    rmi: str | None = None,
    remove_orphans: bool = False,
    project: Project | None = None,
    report: Report | None = None,
    warn: Report | None = None,
    timeout: float | None = None,
) -> None:
    """``docker compose down``: the project's containers stopped in reverse dependency order and removed,
    its networks removed, with ``volumes`` its named volumes (and the containers' anonymous ones), with
    ``rmi`` ("local": built images without a custom name; "all") the images. Without ``project`` the
    labels say what belongs to it (``docker compose -p NAME down``)."""
    if rmi not in (None, "", "local", "all"):
        raise InvalidArgument(f'invalid value for --rmi: "{rmi}"')
    out = _Out(report, warn)
    containers = project_containers(engine, project_name, all=True, oneoff=None)
    if project is not None:
        known = set(project.services) | set(project.disabled)
        orphans = [c for c in containers if c.labels.get(L.SERVICE) not in known]
        if orphans and not remove_orphans:
            containers = [c for c in containers if c not in orphans]
            named = " ".join(c.name for c in orphans if not L.is_oneoff(c.labels))
            if named:
                out.warn(
                    f"Found orphan containers ([{named}]) "
                    "for this project. If you removed or renamed this service in your compose file, you can "
                    "run this command with the --remove-orphans flag to clean it up."
                )
    images = _images_to_remove(engine, project_name, project, containers, rmi)
    removed_any = bool(containers or images)
    by_service = _by_service(containers)
    services = _graph_from_labels(containers)
    if project is not None:
        for n, svc in project.services.items():
            if n in services:
                services[n] = svc
    for level in reversed(graph.levels(services)):
        group = [c for n in level for c in by_service.get(n, [])]
        if not group:
            continue
        _stop_signal_wait(engine, group, timeout, out)
        for c in group:
            _remove(engine, c, out, volumes=volumes)
    # networks: the project's own (by its model, or by the labels compose put on them)
    if project is not None:
        nets = [
            network_name(project, k) for k, n in project.networks.items() if not (n or {}).get("external")
        ]
        if "default" not in project.networks:
            nets.append(f"{project.name}_default")
    else:
        nets = [n.name for n in engine.list_networks(filters={"label": [f"{L.PROJECT}={project_name}"]})]
    for name in nets:
        try:
            doc = engine.inspect_network(name)
        except (NetworkNotFound, NotFound):
            continue
        if (doc.get("Labels") or {}).get(L.PROJECT) != project_name:
            continue  # a network of that name compose did not make for this project is left alone
        removed_any = True
        out.event(f"Network {name}", "Removing")
        _remove_network(engine, name)
        out.event(f"Network {name}", "Removed")
    if volumes:
        if project is not None:
            vols = [
                volume_name(project, k) for k, v in project.volumes.items() if not (v or {}).get("external")
            ]
        else:
            vols = [v.name for v in engine.list_volumes(filters={"label": [f"{L.PROJECT}={project_name}"]})]
        for name in vols:
            try:
                engine.inspect_volume(name)
            except (VolumeNotFound, NotFound):
                continue
            removed_any = True
            out.event(f"Volume {name}", "Removing")
            try:
                engine.remove_volume(name)
            except (VolumeNotFound, NotFound):
                pass
            out.event(f"Volume {name}", "Removed")
    if not removed_any:
        out.warn(f'Warning: No resource found to remove for project "{project_name}".')
    for image in images:
        out.event(f"Image {image}", "Removing")
        try:
            engine.remove_image(image)
        except (ImageNotFound, NotFound):
            pass
        except Conflict as err:
            out.warn(str(err))
            continue
        out.event(f"Image {image}", "Removed")


def _remove_network(engine: Engine, name: str, settle: float = 5.0) -> None:
    """Remove the network (gone already is fine). The engine's `rm` waits for a container's endpoint to be
    released, but a workbench `down` in the full suite still once found one held a moment longer (cause
    not found yet), so an "active endpoints" refusal is tried again for a few seconds."""
    deadline = time.monotonic() + settle
    while True:
        try:
            engine.remove_network(name)
            return
        except (NetworkNotFound, NotFound):
            return
        except Conflict as err:
            if "active endpoints" not in str(err) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _images_to_remove(
    engine: Engine,
    project_name: str,
    project: Project | None,
    containers: list[ContainerSummary],
    rmi: str | None,
) -> list[str]:
    if not rmi:
        return []
    images: list[str] = []
    if project is not None:
        for name, svc in project.services.items():
            image = image_name(project, name, svc)
            if rmi == "all" or not svc.get("image"):
                images.append(image)
    else:
        for c in containers:
            service = c.labels.get(L.SERVICE, "")
            if rmi == "all" or c.image == f"{project_name}-{service}":
                images.append(c.image)
    return [i for i in dict.fromkeys(images) if _image_id(engine, i)]


# ==================================================================================== the other verbs ====


def _selected(
    engine: Engine, project_name: str, services: Iterable[str] | None, *, all: bool = True
) -> list[ContainerSummary]:
    return project_containers(engine, project_name, all=all, services=services)


def stop(
    engine: Engine,
    project_name: str,
    services: Iterable[str] | None = None,
    *,
    timeout: float | None = None,
    report: Report | None = None,
) -> None:
    """Stop the containers in reverse dependency order (each level together)."""
    out = _Out(report)
    containers = _selected(engine, project_name, services)
    by_service = _by_service(containers)
    for level in reversed(graph.levels(_graph_from_labels(containers))):
        group = [
            c for n in level for c in by_service.get(n, []) if c.status in ("running", "restarting", "paused")
        ]
        if group:
            _stop_signal_wait(engine, group, timeout, out)


def start(
    engine: Engine,
    project_name: str,
    services: Iterable[str] | None = None,
    *,
    wait: bool = False,
    report: Report | None = None,
) -> None:
    """Start the stopped containers in dependency order, waiting on the conditions their labels record."""
    out = _Out(report)
    containers = _selected(engine, project_name, services)
    if not containers:
        raise ComposeError(f'no container found for project "{project_name}": not found')
    by_service = _by_service(containers)
    deps = _graph_from_labels(containers)
    for level in graph.levels(deps):
        for name in level:
            conditions = {
                d: str(cfg.get("condition")) for d, cfg in deps[name]["depends_on"].items() if d in by_service
            }
            _wait_for(engine, project_name, conditions, out, None, dependant=name)
            for c in by_service.get(name, []):
                if c.status in ("running", "paused", "restarting"):
                    continue
                out.event(f"Container {c.name}", "Starting")
                engine.start_container(c.id)
                out.event(f"Container {c.name}", "Started")


def restart(
    engine: Engine,
    project_name: str,
    services: Iterable[str] | None = None,
    *,
    timeout: float | None = None,
    report: Report | None = None,
) -> None:
    out = _Out(report)
    containers = _selected(engine, project_name, services)
    by_service = _by_service(containers)
    for level in graph.levels(_graph_from_labels(containers)):
        for name in level:
            for c in by_service.get(name, []):
                out.event(f"Container {c.name}", "Restarting")
                engine.restart_container(c.id, timeout=timeout)
                out.event(f"Container {c.name}", "Started")


def kill(
    engine: Engine,
    project_name: str,
    services: Iterable[str] | None = None,
    *,
    signal: str = "SIGKILL",
    report: Report | None = None,
) -> list[ContainerSummary]:
    """Send ``signal`` to the running containers; those it was sent to (none: compose says "no container to
    kill" and succeeds)."""
    out = _Out(report)
    containers = [
        c
        for c in _selected(engine, project_name, services)
        if c.status in ("running", "paused", "restarting")
    ]
    for c in containers:
        out.event(f"Container {c.name}", "Killing")
        engine.kill_container(c.id, signal)
        out.event(f"Container {c.name}", "Killed")
    return containers


def pause(
    engine: Engine, project_name: str, services: Iterable[str] | None = None, *, report: Report | None = None
) -> None:
    out = _Out(report)
    for c in _selected(engine, project_name, services, all=False):
        if c.status == "running":
            engine.pause_container(c.id)
            out.event(f"Container {c.name}", "Paused")


def unpause(
    engine: Engine, project_name: str, services: Iterable[str] | None = None, *, report: Report | None = None
) -> None:
    out = _Out(report)
    for c in _selected(engine, project_name, services, all=False):
        if c.status == "paused":
            engine.unpause_container(c.id)
            out.event(f"Container {c.name}", "Unpaused")


def remove(
    engine: Engine,
    project_name: str,
    services: Iterable[str] | None = None,
    *,
    stop_first: bool = False,
    volumes: bool = False,
    report: Report | None = None,
) -> list[ContainerSummary]:
    """``compose rm``: the stopped containers (``stop_first``: stop the running ones first); the removed."""
    out = _Out(report)
    containers = _selected(engine, project_name, services)
    if stop_first:
        stop(engine, project_name, services, report=report)
        containers = _selected(engine, project_name, services)
    gone = [c for c in containers if c.status not in ("running", "paused", "restarting")]
    for c in gone:
        _remove(engine, c, out, volumes=volumes)
    return gone


def run_container_name(project: Project, service: str) -> str:
    """A one-off container's name: ``<project>-<service>-run-<12 hex>`` (compose's slug, truncated)."""
    return f"{project.name}-{service}-run-{secrets.token_hex(6)}"
