"""Typed errors. Each carries a message a user can act on and the exit code the CLI uses.

Docker's conventions: 125 when the engine itself fails, 126 when the command cannot be invoked,
127 when the command is not found; a container's own exit code otherwise.
"""

from __future__ import annotations


class DockyardError(Exception):
    """Base class: ``str(err)`` is the one-line message shown after ``Error:``."""

    exit_code = 125

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InvalidArgument(DockyardError):
    """A flag, option or argument has a value we cannot use."""


class BadFlagValue(InvalidArgument):
    """A flag value the docker CLI refuses while it parses its flags (``-f name`` without ``=``): the CLI
    exits 125 for every verb, as for any flag error."""


class InvalidFilter(InvalidArgument):
    """A list or prune filter docker refuses (an unknown key, a bad value): docker's message; the CLI exits 1,
    as docker's does for what the daemon refuses."""

    exit_code = 1


class InvalidReference(InvalidArgument):
    """An image reference that docker would also reject."""


class NotFound(DockyardError):
    """Something named by the user does not exist."""


class ImageNotFound(NotFound):
    pass


class ContainerNotFound(NotFound):
    pass


class NetworkNotFound(NotFound):
    pass


class VolumeNotFound(NotFound):
    pass


class Conflict(DockyardError):
    """The request clashes with current state (name in use, image in use, container running...)."""


class RegistryError(DockyardError):
    """The registry answered with an error or could not be reached."""


class AuthenticationError(RegistryError):
    """The registry refused our credentials, or asked for credentials we do not have."""


class ManifestUnknown(RegistryError, ImageNotFound):
    """The registry does not know this repository or tag."""


class DigestMismatch(RegistryError):
    """Content did not hash to the digest that named it; nothing is kept."""


class UnsupportedMediaType(RegistryError):
    pass


class UnsafeLayer(DockyardError):
    """A layer archive tried to write outside its directory, or is malformed."""


class CorruptState(DockyardError):
    """A record under the engine root is unreadable."""


class StorageError(DockyardError):
    """Writing under the engine root failed (disk full, quota exceeded); what was half made is gone."""


class RuntimeFailure(DockyardError):
    """Setting up or supervising a container failed."""


class CannotInvoke(DockyardError):
    """The container's command exists but cannot be run (docker exit 126)."""

    exit_code = 126


class CommandNotFound(DockyardError):
    """The container's command does not exist (docker exit 127)."""

    exit_code = 127


class PermissionRequired(DockyardError):
    """The operation needs root or a capability we do not have."""


class BuildError(DockyardError):
    """A build step failed (a RUN exited non-zero, a COPY source is missing, ...). ``output`` holds the last
    lines the failing step printed. The exit code is 1, as ``docker build``'s."""

    exit_code = 1

    def __init__(self, message: str, output: list[str] | None = None) -> None:
        super().__init__(message)
        self.output = output or []


def error_for_exit_code(code: int, message: str) -> DockyardError:
    """The error for a container process that could not start, by docker's code for it (what the init,
    an exec or a shim reports): 127 CommandNotFound, 126 CannotInvoke, anything else RuntimeFailure (125)."""
    if code == CommandNotFound.exit_code:
        return CommandNotFound(message)
    if code == CannotInvoke.exit_code:
        return CannotInvoke(message)
    return RuntimeFailure(message)
