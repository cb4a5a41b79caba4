"""The dataclasses :class:`core.engine.Engine` returns. Plain data: no methods that touch the disk."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ImageSummary:
    id: str  # "sha256:<hex>" of the config blob, as docker
    repo_tags: list[str]
    repo_digests: list[str]
    created: str  # RFC 3339, from the image config
    size: int  # bytes, unpacked, all layers
    containers: int = 0  # how many containers use it (-1 when unknown)

    @property
    def short_id(self) -> str:
        return self.id.removeprefix("sha256:")[:12]


@dataclass
class PullProgress:
    """One progress report. ``layer`` is the short digest, or "" for whole-image events."""

    layer: str
    status: str  # "Waiting", "Downloading", "Extracting", "Pull complete", "Already exists", ...
    current: int = 0
    total: int = 0
    message: str = ""


@dataclass(frozen=True)
class PullResult:
    reference: str  # the normalised reference that was pulled
    digest: str  # manifest digest
    image: ImageSummary
    new: bool  # False if we already had every piece ("Image is up to date")


@dataclass(frozen=True)
class RemovedImage:
    untagged: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)


JSONDict = dict[str, Any]
