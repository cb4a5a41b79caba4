"""Custom commands per object kind (lazydocker's ``c``), from ``[custom_commands]`` in tui.toml::

    [[custom_commands.containers]]
    name = "disk usage"
    command = "dockyard exec {{ .ID }} du -sh /"

    [[custom_commands.images]]
    name = "history"
    command = "dockyard history {{ .Name }}"
    attach = true                 # run in the embedded terminal (interactive) instead of capturing output

The command is a Go template, filled by the same engine as ``--format`` (:mod:`tui.gotemplate`, docker's
functions plus ``quote``, which shell-quotes a value) from the object's fields, then run with ``sh -c``.
Values are substituted as they are: write ``{{ quote .Name }}`` where a value may hold shell characters.

Fields by kind (missing ones are a template error, as in docker's ``--format``):
- containers: ID, ShortID, Name, Image, ImageID, Command, State, Status, Ports, Labels, Created
- images: ID, ShortID, Name (the tag's reference, or the short id), Repository, Tag
- networks: ID, ShortID, Name, Driver, Subnet, Containers
- volumes: Name, Driver, Mountpoint, Labels

This module is pure (no Textual): the settings loader validates with it and the panes fill with it.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Any

KINDS = ("containers", "images", "networks", "volumes")


@dataclass(frozen=True)
class CustomCommand:
    name: str
    command: str  # a Go template
    attach: bool = False  # run in the embedded terminal, not with captured output


class CommandError(Exception):
    """A template that does not parse or fails on the object's fields; the message says which."""


def _funcs() -> Any:
    from tui.gotemplate import Func, docker_funcs

    funcs = docker_funcs()
    funcs["quote"] = Func(lambda s: shlex.quote(str(s)), ["string"])
    return funcs


def check(command: str) -> str | None:
    """Why ``command`` is not a template that parses, or None."""
    from tui.gotemplate import TemplateError, parse

    try:
        parse(command, funcs=_funcs())
    except TemplateError as err:
        return str(err)
    return None


def render(cmd: CustomCommand, fields: dict[str, Any]) -> str:
    """The shell command line of ``cmd`` for an object with ``fields``."""
    from tui.gotemplate import StrMap, Struct, TemplateError, parse

    data = Struct({k: StrMap(v) if isinstance(v, dict) else v for k, v in fields.items()})
    try:
        return parse(cmd.command, funcs=_funcs()).execute(data)
    except TemplateError as err:
        raise CommandError(f"{cmd.name}: template: {err}") from None


def container_fields(c: Any) -> dict[str, Any]:
    """A :class:`core.models.ContainerSummary`'s placeholders (the names of ``docker ps --format``)."""
    from tui.output import ports_text, status_text

    return {
        "ID": c.id,
        "ShortID": c.id[:12],
        "Name": c.name,
        "Names": c.name,
        "Image": c.image,
        "ImageID": c.image_id,
        "Command": c.command,
        "State": c.status,
        "Status": status_text(c),
        "Ports": ports_text(c),
        "Labels": dict(c.labels),
        "Created": c.created,
    }


def image_fields(image_id: str, tag: str) -> dict[str, Any]:
    repo, _, version = tag.rpartition(":") if tag and ":" in tag.rsplit("/", 1)[-1] else (tag, "", "")
    short = image_id.removeprefix("sha256:")[:12]
    return {
        "ID": image_id,
        "ShortID": short,
        "Name": tag or short,
        "Repository": repo or "<none>",
        "Tag": version or "<none>",
    }


def network_fields(n: Any) -> dict[str, Any]:
    return {
        "ID": n.id,
        "ShortID": n.id[:12],
        "Name": n.name,
        "Driver": n.driver,
        "Subnet": n.subnet,
        "Containers": ",".join(n.containers),
    }


def volume_fields(v: Any) -> dict[str, Any]:
    return {
        "Name": v.name,
        "Driver": getattr(v, "driver", "local"),
        "Mountpoint": getattr(v, "mountpoint", ""),
        "Labels": dict(getattr(v, "labels", {}) or {}),
    }


def parse_table(raw: object, where: str) -> dict[str, list[CustomCommand]]:
    """``[custom_commands]`` of tui.toml: a table of kind = array of {name, command, attach}; errors name the
    entry (the settings loader turns them into InvalidArgument)."""
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: [custom_commands] must be a table of kinds ({', '.join(KINDS)})")
    out: dict[str, list[CustomCommand]] = {}
    for kind, entries in raw.items():
        if kind not in KINDS:
            raise ValueError(
                f"{where}: [custom_commands] has unknown kind {kind!r} (one of {', '.join(KINDS)})"
            )
        if not isinstance(entries, list):
            raise ValueError(
                f"{where}: custom_commands.{kind} must be an array of tables ([[custom_commands.{kind}]])"
            )
        cmds = []
        for i, entry in enumerate(entries):
            at = f"{where}: custom_commands.{kind}[{i}]"
            if not isinstance(entry, dict):
                raise ValueError(f"{at} must be a table with name and command")
            unknown = set(entry) - {"name", "command", "attach"}
            if unknown:
                raise ValueError(f"{at}: unknown key(s) {', '.join(sorted(unknown))}")
            name, command, attach = entry.get("name"), entry.get("command"), entry.get("attach", False)
            if not isinstance(name, str) or not name.strip():
                raise ValueError(f"{at}: name must be a non-empty string")
            if not isinstance(command, str) or not command.strip():
                raise ValueError(f"{at} ({name}): command must be a non-empty string")
            if not isinstance(attach, bool):
                raise ValueError(f"{at} ({name}): attach must be true or false")
            problem = check(command)
            if problem:
                raise ValueError(f"{at} ({name}): template: {problem}")
            cmds.append(CustomCommand(name.strip(), command, attach))
        out[kind] = cmds
    return out
