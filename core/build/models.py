"""What ``Engine.build`` takes, reports and returns."""

from __future__ import annotations

from pathlib import Path

from core.errors import DockyardError
from core.record import field, record


class BuildError(DockyardError):
    """A build step failed (a RUN exited non-zero, a COPY source is missing, ...). ``output`` holds the last
    lines the failing step printed. The exit code is 1, as ``docker build``'s."""

    exit_code = 1

    def __init__(self, message: str, output: list[str] | None = None) -> None:
        super().__init__(message)
        self.output = output or []


@record
class BuildOptions:
    context: Path | None  # None: no context (a Dockerfile read from stdin, ``docker build -``)
    dockerfile: Path | None = None  # default: <context>/Dockerfile
    dockerfile_text: str | None = None  # the Dockerfile itself (read from stdin by the CLI)
    tags: list[str] = field(default_factory=list)
    build_args: dict[str, str] = field(default_factory=dict)
    target: str | None = None
    no_cache: bool = False
    pull: bool = False  # pull base images even when present
    labels: dict[str, str] = field(default_factory=dict)
    network: str = "default"  # what RUN steps get: default (bridge), none, host
    platform: str | None = None


@record(frozen=True)
class BuildEvent:
    """One progress report. ``kind``: "step" (a step starts; ``text`` is its title), "output" (a line a RUN
    printed, ``stream`` stdout or stderr), "cached", "done" (``seconds`` it took), "warning", "info"."""

    kind: str
    step: int
    text: str = ""
    seconds: float = 0.0
    stream: str = ""


@record(frozen=True)
class BuildResult:
    image_id: str
    tags: list[str]
    steps: int  # steps run or reused (FROM included)
    cached: int  # steps taken from the cache
    seconds: float
    warnings: list[str] = field(default_factory=list)


__all__ = ["BuildError", "BuildEvent", "BuildOptions", "BuildResult"]
