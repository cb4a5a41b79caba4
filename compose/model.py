"""A loaded compose project: the contract between the loader (files -> model) and the orchestrator
(model -> engine calls).

The model is the Compose Specification's *canonical form*: what ``docker compose config`` prints, as plain
dicts and lists (so ``config`` can dump it as YAML, and the config hash can be computed from it). The loader
reads, interpolates, validates against the spec's JSON schema, merges (several ``-f`` files, ``extends``),
applies profiles and normalises every short syntax to the long one; the orchestrator reads only this form
and never the files. What the canonical form holds, per service (keys absent when not set):

- ``image`` str; ``build`` {``context``: absolute path, ``dockerfile``: str, ``args``: {str: str},
  ``target``: str, ``labels``: {str: str}}
- ``command``, ``entrypoint``: list[str] (a string form is split like a POSIX shell would)
- ``environment``: {str: str | None} (``env_file`` already merged in, file order, then ``environment``)
- ``ports``: list of {``target``: int, ``published``: str (may be a range "8000-8001" or ""),
  ``protocol``: "tcp" | "udp", ``host_ip``: str, ``mode``: "ingress"}
- ``expose``: list[str]
- ``volumes``: list of {``type``: "volume" | "bind" | "tmpfs", ``source``: str (a top-level volume *key* for
  named volumes, an absolute path for binds; absent for anonymous volumes and tmpfs), ``target``: str,
  ``read_only``: bool, ``bind``: {``create_host_path``: bool}, ``volume``: {``nocopy``: bool},
  ``tmpfs``: {``size``: int bytes, ``mode``: int}}
- ``networks``: {network key: {``aliases``: list[str], ``ipv4_address``: str} | None}; a service with no
  ``networks`` and no ``network_mode`` gets {"default": None}
- ``network_mode``: str
- ``depends_on``: {service: {``condition``: "service_started" | "service_healthy" |
  "service_completed_successfully", ``required``: bool, ``restart``: bool}} (a ``required: false``
  dependency may name a service left out by profiles: it is not in ``services`` then, and is skipped)
- ``healthcheck``: {``test``: list[str] (["CMD", ...], ["CMD-SHELL", cmd] or ["NONE"]), ``interval``,
  ``timeout``, ``start_period``, ``start_interval``: Go duration strings ("1m30s"), ``retries``: int,
  ``disable``: bool}
- ``restart``: str; ``user``, ``working_dir``, ``hostname``, ``container_name``, ``stop_signal``: str;
  ``stop_grace_period``: Go duration string; ``init``, ``read_only``, ``privileged``, ``tty``,
  ``stdin_open``: bool
- ``labels``: {str: str}; ``tmpfs``: list[str]; ``cap_add``, ``cap_drop``: list[str];
  ``extra_hosts``: list["host:ip"]; ``ulimits``: {name: {``soft``: int, ``hard``: int}}
- ``scale``: int (``deploy.replicas`` and ``scale`` reconciled into this one key); ``deploy``:
  {``resources``: {``limits``: {``cpus``: str, ``memory``: str, ``pids``: int}}}
- ``profiles``: list[str]

Top level: ``networks`` {key: {``name``: the engine's network name (``<project>_<key>`` unless ``name:``
or external), ``external``: bool, ``internal``: bool, ``driver``: str, ``labels``: {..},
``ipam``: {``config``: [{``subnet``, ``gateway``, ``ip_range``}]}}}; ``volumes`` {key: {``name``: the
engine's volume name (``<project>_<key>`` unless ``name:`` or external), ``external``: bool,
``driver``: str, ``driver_opts``: {..}, ``labels``: {..}}}.

A key the spec allows but dockyard does not implement is refused by the loader, by name, with the file and
the path in the document (never dropped in silence): the orchestrator may assume every key present is one it
must honour.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# the JSON-like values of the canonical form
Service = dict[str, Any]


@dataclass
class Project:
    """One compose project, resolved: its identity and its canonical model."""

    name: str  # compose's project name: lower case, [a-z0-9_-], starts with a letter or digit
    working_dir: Path  # the project directory (``--project-directory``, else the first file's directory)
    config_files: list[Path]  # absolute, in the order given (the ``.project.config_files`` label)
    services: dict[str, Service]  # only the services enabled by the active profiles
    networks: dict[str, dict[str, Any]] = field(default_factory=dict)
    volumes: dict[str, dict[str, Any]] = field(default_factory=dict)
    # services left out by profiles: `up` of one of them by name enables it, as docker compose does
    disabled: dict[str, Service] = field(default_factory=dict)
    # the environment interpolation used (os.environ over .env / --env-file), for `run` and `exec`
    environment: dict[str, str] = field(default_factory=dict)
    # what docker compose prints as WARN while loading (obsolete `version`, unset variables...), in order
    warnings: list[str] = field(default_factory=list)

    def to_document(self) -> dict[str, Any]:
        """The canonical document ``docker compose config`` prints (name, services, networks, volumes)."""
        doc: dict[str, Any] = {"name": self.name, "services": self.services}
        if self.networks:
            doc["networks"] = self.networks
        if self.volumes:
            doc["volumes"] = self.volumes
        return doc
