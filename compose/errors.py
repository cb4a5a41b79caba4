"""Typed compose errors: one line each, naming the file and the path in the document where there is one.

docker compose v2 exits 1 for every error it reports while loading a project (the per-category exit codes 14
for a missing file and 15 for a file it could not parse were the legacy metrics system's, removed in
docker/compose 23351ece8, v2.33): so do these.
"""

from __future__ import annotations

from core.errors import DockyardError


class ComposeError(DockyardError):
    """Any error loading a compose project."""

    exit_code = 1


class ComposeFileNotFound(ComposeError):
    """No compose file was given or found, or a named one (compose, env or extends file) is missing."""


class InvalidComposeFile(ComposeError):
    """The YAML does not parse, or the document does not validate against the Compose Specification."""


class InterpolationError(InvalidComposeFile):
    """A ``${VAR:?err}`` whose variable is missing, or a ``$`` that starts no valid substitution."""


class EnvFileError(ComposeError):
    """A ``.env`` or ``env_file`` that cannot be parsed."""


class UnsupportedKey(InvalidComposeFile):
    """A key the specification allows but dockyard compose does not implement."""


class InvalidProject(ComposeError):
    """The files are valid one by one but the project is not: an undefined network, volume or service."""


class InvalidProjectName(ComposeError):
    """An explicit project name (``-p``, ``COMPOSE_PROJECT_NAME``) that compose would not accept."""
