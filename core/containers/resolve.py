"""What a container runs: the image's config merged with the run request, with docker's precedence rules."""

from __future__ import annotations

from core.errors import InvalidArgument
from core.models import ContainerCreate

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~2 ms of a start)
if TYPE_CHECKING:
    from typing import Any

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def resolve_process(req: ContainerCreate, image_config: dict[str, Any], container_id: str) -> dict[str, Any]:
    """The process to start: args, env, cwd, user, hostname, tty, stop signal and timeout."""
    cfg = image_config.get("config") or {}
    run = req.config
    if run.entrypoint is not None:
        entrypoint = list(run.entrypoint)
        # docker: overriding the entrypoint drops the image's Cmd too
        cmd = list(run.cmd) if run.cmd is not None else []
    else:
        entrypoint = list(cfg.get("Entrypoint") or [])
        cmd = list(run.cmd) if run.cmd is not None else list(cfg.get("Cmd") or [])
    args = entrypoint + cmd
    if not args:
        raise InvalidArgument(
            "no command specified: the image has no default command; give one after the image name"
        )
    from core.containers.health import merge_healthcheck
    from core.dockerjson import health_config_to_docker
    from core.runtime.spec import merge_env  # a create loads it anyway; `ps` and the like need not

    hostname = run.hostname or container_id[:12]
    # the container's Config.Env: the image's, then the request's. PATH, HOSTNAME and TERM are added to the
    # process's environment only, when it starts (process_env), as docker does
    env = config_env(list(cfg.get("Env") or []), merge_env([], run.env))
    workdir = run.working_dir or cfg.get("WorkingDir") or "/"
    if not workdir.startswith("/"):
        raise InvalidArgument(
            f"the working directory {workdir!r} is invalid: it needs to be an absolute path"
        )
    return {
        "args": args,
        "env": env,
        "cwd": workdir,
        "user": run.user or cfg.get("User") or "",
        "hostname": hostname,
        "tty": run.tty,
        "stdin": run.open_stdin,
        "stop_signal": run.stop_signal or cfg.get("StopSignal") or "SIGTERM",
        "stop_timeout": run.stop_timeout if run.stop_timeout is not None else 10,
        "labels": {**(cfg.get("Labels") or {}), **run.labels},
        "exposed_ports": sorted({*(cfg.get("ExposedPorts") or {}), *run.exposed_ports}),
        "image_volumes": sorted((cfg.get("Volumes") or {}).keys()),
        "healthcheck": merge_healthcheck(
            health_config_to_docker(run.healthcheck) if run.healthcheck is not None else None,
            cfg.get("Healthcheck"),
        ),
        "shell": list(cfg.get("Shell") or []),  # the image's SHELL: a CMD-SHELL health check runs in it
    }


def process_env(process: dict[str, Any]) -> list[str]:
    """The environment a container's process (and an exec in it) starts with, as docker's
    CreateDaemonEnvironment makes it: PATH, HOSTNAME and, with a terminal, TERM=xterm, each replaced in place
    by the container's own value where it has one, then the rest of the container's Config.Env."""
    from core.runtime.spec import merge_env

    defaults = [f"PATH={DEFAULT_PATH}", f"HOSTNAME={process.get('hostname', '')}"]
    if process.get("tty"):
        defaults.append("TERM=xterm")
    return merge_env(defaults, list(process.get("env") or []), {})


def config_env(image_env: list[str], run_env: list[str]) -> list[str]:
    """A container's Config.Env as dockerd merges it: the request's variables first, then each of the
    image's whose name the request does not set."""
    names = {e.partition("=")[0] for e in run_env}
    return [*run_env, *(e for e in image_env if e.partition("=")[0] not in names)]
