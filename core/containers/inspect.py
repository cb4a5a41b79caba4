"""``docker inspect`` for a container: gathers what the document needs (the record, its image's config, the
health the supervisor recorded, sizes when asked) and has :mod:`core.dockerjson` write Docker's document."""

from __future__ import annotations

import json
from typing import Any

from core.config import Paths
from core.containers.health import document as health_document
from core.containers.store import ContainerRecord
from core.dockerjson import container_to_docker
from core.models import LIVE_STATES

TYPE_CHECKING = False
if TYPE_CHECKING:
    from core.containers.execs import ExecStore


def image_config(paths: Paths, image_id: str) -> dict[str, Any]:
    """The config blob of the container's image ({} when the image is gone: ``rmi -f`` of a used image)."""
    from core.state.ids import HEX64

    hexid = image_id.removeprefix("sha256:")
    if not HEX64.match(hexid):
        return {}
    try:
        record = json.loads(paths.image(hexid).read_bytes())
        cfg: dict[str, Any] = json.loads(
            paths.blob(record["config_digest"].removeprefix("sha256:")).read_bytes()
        )
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    return cfg


def container_size(paths: Paths, rec: ContainerRecord, image_size: int) -> tuple[int, int]:
    """(SizeRw, SizeRootFs): bytes of the container's own changes, and those plus its image's. Walks the
    writable layer: only for ``inspect -s`` / ``ps -s``. Bytes as dockerd counts them: each file's size,
    not the blocks it takes (core.containers.size)."""
    from core.containers.size import writable_size

    rw = writable_size(paths.container(rec.id) / "upper")
    return rw, rw + image_size


def inspect_container(
    paths: Paths,
    rec: ContainerRecord,
    *,
    size: bool = False,
    image_size: int = 0,
    execs: ExecStore | None = None,
) -> dict[str, Any]:
    """``execs``: the engine's exec store (it remembers which execs ended), else one made here."""
    from core.runtime.spec import DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS

    health = health_document(rec.state.health) if rec.state.health is not None else None
    exec_ids = None
    if rec.state.status in LIVE_STATES:
        if execs is None:
            from core.containers.execs import ExecStore

            execs = ExecStore(paths)
        exec_ids = execs.running_ids(rec.id) or None
    return container_to_docker(
        rec,
        exec_ids=exec_ids,
        paths=paths,
        image_config=image_config(paths, rec.image_id),
        state_health=health or None,
        size=container_size(paths, rec, image_size) if size else None,
        masked_paths=list(DEFAULT_MASKED_PATHS),
        readonly_paths=list(DEFAULT_READONLY_PATHS),
    )
