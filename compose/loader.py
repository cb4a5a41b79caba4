"""Loading a compose project: files -> the canonical model of compose/model.py, as docker compose v2 does it
(compose-go's ``cli`` and ``loader`` packages, wired as docker/compose's ``toProjectOptions``).

1. The environment: ``environ`` (the process's by default; it always wins), then ``--env-file`` files or
   ``<project dir>/.env``, read once from the directory known before the compose files are found and once
   more from the project directory after (as compose does).
2. The files: ``-f`` files, else ``COMPOSE_FILE`` (split on ``COMPOSE_PATH_SEPARATOR``, default ``:``),
   else ``compose.yaml``/``compose.yml``/``docker-compose.yml``/``docker-compose.yaml`` (and the matching
   ``*.override.*`` file) in the working directory or its nearest parent that has one.
3. The name: ``-p``, ``COMPOSE_PROJECT_NAME``, a ``name:`` in the files, else the project directory's
   basename, normalised; an explicit name that is not valid is an error.
4. Each file: YAML (duplicate keys refused), interpolation, schema validation, keys dockyard does not
   implement refused, short syntaxes made long, ``extends`` applied, then merged onto the files before it.
5. The project: relative paths resolved against the project directory, ``env_file`` read into
   ``environment``, networks and volumes named, consistency checks, profiles applied.
"""

from __future__ import annotations

import copy
import os
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from compose import normalize, schema
from compose.envfile import read_env_file
from compose.errors import (
    ComposeError,
    ComposeFileNotFound,
    EnvFileError,
    InvalidComposeFile,
    InvalidProject,
    InvalidProjectName,
)
from compose.interpolate import interpolate
from compose.merge import merge_documents, merge_service
from compose.model import Project

DEFAULT_FILES = ("compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml")
DEFAULT_OVERRIDE_FILES = (
    "compose.override.yml",
    "compose.override.yaml",
    "docker-compose.override.yml",
    "docker-compose.override.yaml",
)


@dataclass
class LoadOptions:
    """What ``docker compose`` takes from its flags and environment to find and load a project."""

    files: list[str] = field(default_factory=list)  # -f, in order; "-" reads ``stdin``
    project_name: str | None = None  # -p
    project_directory: str | None = None  # --project-directory
    profiles: list[str] = field(default_factory=list)  # --profile (else COMPOSE_PROFILES)
    env_files: list[str] = field(default_factory=list)  # --env-file (else <project dir>/.env if it exists)
    environ: Mapping[str, str] | None = None  # None: os.environ
    enable_services: list[str] = field(default_factory=list)  # services named on the command line
    cwd: str | None = None  # where relative -f/--env-file paths and discovery start; None: os.getcwd()
    stdin: IO[str] | None = None  # for "-"; None: sys.stdin
    # --all-resources: keep networks and volumes no enabled service uses (compose drops them by default)
    all_resources: bool = False


# --- YAML: compose-go reads YAML 1.2 (only true/false are booleans, no timestamps) and refuses duplicate keys


def _yaml_loader() -> type:
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    resolvers: dict[Any, list[Any]] = {}
    for first, entries in yaml.SafeLoader.yaml_implicit_resolvers.items():
        kept = [
            (tag, rx)
            for tag, rx in entries
            if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:timestamp")
        ]
        if kept:
            resolvers[first] = kept
    Loader.yaml_implicit_resolvers = resolvers
    Loader.add_implicit_resolver(
        "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
    )
    # go-yaml also reads 0o17 as an integer and 1e3 as a float (YAML 1.2's core schema)
    Loader.add_implicit_resolver("tag:yaml.org,2002:int", re.compile(r"^0o[0-7]+$"), ["0"])
    Loader.add_implicit_resolver(
        "tag:yaml.org,2002:float", re.compile(r"^[-+]?[0-9]+[eE][-+]?[0-9]+$"), list("-+0123456789")
    )

    def construct_int(loader: Any, node: Any) -> Any:
        value = loader.construct_scalar(node)
        if value.startswith("0o"):
            return int(value[2:], 8)
        return yaml.SafeLoader.construct_yaml_int(loader, node)

    Loader.add_constructor("tag:yaml.org,2002:int", construct_int)

    def construct_mapping(loader: Any, node: Any, deep: bool = False) -> Any:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = loader.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:
                continue
            line = key_node.start_mark.line + 1
            if key in seen:
                raise InvalidComposeFile(
                    f'line {line}: mapping key "{key}" already defined at line {seen[key]}'
                )
            seen[key] = line
        return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)

    Loader.add_constructor("tag:yaml.org,2002:map", construct_mapping)

    def construct_reset(loader: Any, node: Any) -> Any:
        return Reset()

    def construct_override(loader: Any, node: Any) -> Any:
        if isinstance(node, yaml.MappingNode):
            return Override(construct_mapping(loader, node, deep=True))
        if isinstance(node, yaml.SequenceNode):
            return Override(loader.construct_sequence(node, deep=True))
        tag = loader.resolve(yaml.ScalarNode, node.value, (True, False))
        return Override(loader.construct_object(yaml.ScalarNode(tag, node.value), deep=True))

    Loader.add_constructor("!reset", construct_reset)
    Loader.add_constructor("!override", construct_override)
    return Loader


class Reset:
    """A ``!reset`` value: the attribute is removed from what the files before this one set."""


class Override:
    """An ``!override`` value: it replaces what the files before this one set instead of merging with it."""

    def __init__(self, value: Any) -> None:
        self.value = value


Path_ = tuple[str | int, ...]


def take_tags(value: Any, path: Path_, paths: list[Path_]) -> Any:
    """``value`` without its ``!reset`` entries and with its ``!override`` ones unwrapped; the paths of both
    are added to ``paths`` (compose-go's ResetProcessor)."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if isinstance(v, Reset | Override):
                paths.append((*path, k))
                if isinstance(v, Reset):
                    continue
                v = v.value
            out[k] = take_tags(v, (*path, k), paths)
        return out
    if isinstance(value, list):
        items = []
        for i, v in enumerate(value):
            if isinstance(v, Reset | Override):
                paths.append((*path, i))
                if isinstance(v, Reset):
                    continue
                v = v.value
            items.append(take_tags(v, (*path, i), paths))
        return items
    return value


def drop_path(doc: Any, path: Path_) -> None:
    """Remove what ``path`` names from ``doc`` (a ``!reset`` or ``!override`` in a later file)."""
    for i, part in enumerate(path):
        in_dict = isinstance(doc, dict) and part in doc
        in_list = isinstance(doc, list) and isinstance(part, int) and part < len(doc)
        if not (in_dict or in_list):
            return
        if i == len(path) - 1:
            del doc[part]
            return
        doc = doc[part]


_LOADER: type | None = None


def _string_keys(value: Any, where: str) -> Any:
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                if where:
                    raise InvalidComposeFile(f"non-string key in {where}: {k!r}")
                raise InvalidComposeFile(f"non-string key at top level: {k!r}")
            out[k] = _string_keys(v, f"{where}.{k}" if where else k)
        return out
    if isinstance(value, list):
        return [_string_keys(v, f"{where}.{i}") for i, v in enumerate(value)]
    return value


def parse_yaml(text: str, filename: str) -> list[dict[str, Any]]:
    """The documents of a compose file, each a mapping with string keys."""
    global _LOADER
    import yaml

    if _LOADER is None:
        _LOADER = _yaml_loader()
    try:
        docs = list(yaml.load_all(text, Loader=_LOADER))
    except InvalidComposeFile as err:
        raise InvalidComposeFile(f"failed to parse {filename}: yaml: {err}")
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise InvalidComposeFile(f"failed to parse {filename}: yaml: {where}{problem}")
    out = []
    for doc in docs:
        if doc is None:
            continue
        if not isinstance(doc, dict):
            raise InvalidComposeFile(f"{filename}: top-level object must be a mapping")
        try:
            out.append(_string_keys(doc, ""))
        except InvalidComposeFile as err:
            raise InvalidComposeFile(f"{filename}: {err}")
    return out


# --- project names ---

_NAME_CHARS = re.compile(r"[a-z0-9_-]")


def normalize_project_name(name: str) -> str:
    """compose-go's NormalizeProjectName: lower case, only [a-z0-9_-], no leading ``_`` or ``-``."""
    return "".join(_NAME_CHARS.findall(name.lower())).lstrip("_-")


def _check_name(name: str) -> str:
    if normalize_project_name(name) != name:
        raise InvalidProjectName(
            f'invalid project name "{name}": must consist only of lowercase alphanumeric characters, '
            "hyphens, and underscores as well as start with a letter or number"
        )
    return name


# --- the loader ---


@dataclass
class _File:
    path: Path | None  # None for stdin
    name: str  # as errors name it
    text: str


class _Loader:
    def __init__(self, options: LoadOptions) -> None:
        self.options = options
        self.cwd = Path(options.cwd or os.getcwd()).absolute()
        self.warnings: list[str] = []
        environ = os.environ if options.environ is None else options.environ
        self.env: dict[str, str] = dict(environ)
        if "PWD" not in self.env:
            self.env["PWD"] = str(self.cwd)

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)

    def lookup(self, name: str) -> str | None:
        return self.env.get(name)

    def _abs(self, path: str) -> Path:
        return Path(os.path.normpath(self.cwd / os.path.expanduser(path)))

    # 1. environment
    def _load_env_files(self, workdir: Path) -> None:
        explicit = self.options.env_files
        if explicit:
            files = [self._abs(f) for f in explicit]
        else:
            disable = self.env.get("COMPOSE_DISABLE_ENV_FILE", "")
            if disable.lower() in ("1", "t", "true"):
                return
            default = workdir / ".env"
            if not default.is_file():
                return
            files = [default]
        found: dict[str, str] = {}  # compose-go's GetEnvFromFile: the environment first, then the files
        for path in files:
            if not path.exists():
                raise ComposeFileNotFound(f"couldn't find env file: {path}")
            read_env_file(path, self.env.get, found)
        for key, value in found.items():
            self.env.setdefault(key, value)

    # 2. files
    def _config_paths(self, first_workdir: Path) -> list[str]:
        if self.options.files:
            return list(self.options.files)
        if "COMPOSE_FILE" in self.env:
            sep = self.env.get("COMPOSE_PATH_SEPARATOR") or os.pathsep
            paths = []
            for f in self.env["COMPOSE_FILE"].split(sep):
                if f == "-":
                    paths.append(f)
                    continue
                path = self._abs(f)
                if not path.exists():
                    raise ComposeFileNotFound(f"stat {path}: no such file or directory")
                paths.append(str(path))
            return paths
        directory = first_workdir
        while True:
            candidates = [directory / n for n in DEFAULT_FILES if (directory / n).exists()]
            if candidates:
                if len(candidates) > 1:
                    self.warn(
                        f"Found multiple config files with supported names: {', '.join(map(str, candidates))}"
                    )
                    self.warn(f"Using {candidates[0]}")
                paths = [str(candidates[0])]
                overrides = [directory / n for n in DEFAULT_OVERRIDE_FILES if (directory / n).exists()]
                if overrides:
                    if len(overrides) > 1:
                        names = ", ".join(map(str, overrides))
                        self.warn(f"Found multiple override files with supported names: {names}")
                        self.warn(f"Using {overrides[0]}")
                    paths.append(str(overrides[0]))
                return paths
            if directory.parent == directory:
                raise ComposeFileNotFound("no configuration file provided: not found")
            directory = directory.parent

    def _read(self, spec: str) -> _File:
        if spec == "-":
            stream = self.options.stdin or sys.stdin
            return _File(None, "-", stream.read())
        path = self._abs(spec)
        try:
            return _File(path, str(path), path.read_text())
        except FileNotFoundError:
            raise ComposeFileNotFound(f"open {path}: no such file or directory")
        except IsADirectoryError:
            raise ComposeFileNotFound(f"read {path}: is a directory")
        except UnicodeDecodeError:
            raise InvalidComposeFile(f"failed to parse {path}: yaml: invalid UTF-8")
        except OSError as err:
            raise ComposeError(f"open {path}: {err.strerror}")

    # 3. name
    def _project_name(self, files: list[_File], workdir: Path) -> str:
        if self.options.project_name:
            return _check_name(self.options.project_name)
        from_env = self.env.get("COMPOSE_PROJECT_NAME", "")
        if from_env:
            return _check_name(from_env)
        named = ""
        for f in files:
            try:
                docs = parse_yaml(f.text, f.name)
            except InvalidComposeFile:
                continue  # reported when the file is loaded
            for doc in docs:
                if isinstance(doc.get("name"), str) and doc["name"]:
                    named = doc["name"]
        if named:
            named = normalize_project_name(str(interpolate({"name": named}, self.lookup, self.warn)["name"]))
            if named:
                return named
        name = normalize_project_name(workdir.name)
        if not name:
            raise InvalidProjectName("project name must not be empty")
        return name

    # 4. one file
    def _file_documents(self, f: _File) -> list[tuple[dict[str, Any], list[Path_]]]:
        """Each document of ``f``, canonical, with the paths its ``!reset``/``!override`` tags name."""
        out = []
        for tagged in parse_yaml(f.text, f.name):
            paths: list[Path_] = []
            raw = take_tags(tagged, (), paths)
            doc = interpolate(raw, self.lookup, self.warn)
            schema.validate(doc, f.name)
            if "version" in doc:
                self.warn(
                    f"{f.name}: the attribute `version` is obsolete, it will be ignored, "
                    "please remove it to avoid potential confusion"
                )
                doc.pop("version")
            doc = normalize.strip_extensions(doc)
            normalize.check_supported(doc, f.name)
            try:
                out.append((self._canonical(doc), paths))
            except InvalidComposeFile as err:
                raise type(err)(f"{f.name}: {err}")
        return out

    def _canonical(self, doc: dict[str, Any]) -> dict[str, Any]:
        out = dict(doc)
        if "services" in out:
            out["services"] = {
                name: normalize.canonical_service(svc or {}, f"services.{name}")
                for name, svc in (out["services"] or {}).items()
            }
        for key in ("networks", "volumes"):
            if key in out:
                out[key] = normalize.canonical_top(out[key])
        return out

    def _apply_extends(self, doc: dict[str, Any], f: _File, chain: tuple[tuple[str, str], ...] = ()) -> None:
        services = doc.get("services") or {}
        done: set[str] = set()
        for name in list(services):
            services[name] = self._extend(name, services, f, chain, done)

    def _extend(
        self,
        name: str,
        services: dict[str, Any],
        f: _File,
        chain: tuple[tuple[str, str], ...],
        done: set[str],
    ) -> dict[str, Any]:
        svc = services[name]
        if name in done or "extends" not in svc:
            return svc
        link = (f.name, name)
        if link in chain:
            cycle = " -> ".join(f"{n} ({fn})" for fn, n in (*chain, link))
            raise InvalidComposeFile(f"circular reference with extends: {cycle}")
        ext = svc["extends"]
        ref = ext["service"]
        if "file" in ext:
            base_dir = f.path.parent if f.path is not None else self.cwd
            other_path = Path(os.path.normpath(base_dir / os.path.expanduser(ext["file"])))
            try:
                other = _File(other_path, str(other_path), other_path.read_text())
            except OSError:
                raise ComposeFileNotFound(
                    f'cannot extend service "{name}" in {f.name}: '
                    f"open {other_path}: no such file or directory"
                )
            merged_other: dict[str, Any] = {}
            for d, _ in self._file_documents(other):
                merged_other = merge_documents(merged_other, d)
            other_services = merged_other.get("services") or {}
            if ref not in other_services:
                raise InvalidComposeFile(
                    f'cannot extend service "{name}" in {f.name}: service "{ref}" not found in {ext["file"]}'
                )
            base = self._extend(ref, other_services, other, (*chain, link), set())
            base = _resolve_paths(copy.deepcopy(base), other_path.parent)
        else:
            if ref not in services:
                raise InvalidComposeFile(
                    f'cannot extend service "{name}" in {f.name}: service "{ref}" not found'
                )
            base = self._extend(ref, services, f, (*chain, link), done)
        base = {k: v for k, v in base.items() if k != "extends"}
        merged = merge_service(base, {k: v for k, v in svc.items() if k != "extends"})
        services[name] = merged
        done.add(name)
        return merged

    def load(self) -> Project:
        opts = self.options
        first_workdir = self._abs(opts.project_directory) if opts.project_directory else None
        if first_workdir is None:
            named = [f for f in opts.files if f != "-"]
            first_workdir = self._abs(named[0]).parent if named else self.cwd
        self._load_env_files(first_workdir)
        specs = self._config_paths(first_workdir if opts.project_directory else self.cwd)
        files = [self._read(s) for s in specs]
        if opts.project_directory:
            workdir = self._abs(opts.project_directory)
        else:
            named_files = [f for f in files if f.path is not None]
            workdir = named_files[0].path.parent if named_files and named_files[0].path else self.cwd
        self._load_env_files(workdir)
        profiles = list(opts.profiles)
        if not profiles:
            profiles = [p.strip() for p in self.env.get("COMPOSE_PROFILES", "").split(",") if p.strip()]
        name = self._project_name(files, workdir)
        self.env["COMPOSE_PROJECT_NAME"] = name

        merged: dict[str, Any] = {}
        for f in files:
            for doc, paths in self._file_documents(f):
                self._apply_extends(doc, f)
                for path in paths:
                    drop_path(merged, path)
                merged = merge_documents(merged, doc)
        if not merged:
            raise InvalidComposeFile("empty compose file")
        return self._project(merged, name, workdir, files, profiles)

    # 5. the project
    def _project(
        self, doc: dict[str, Any], name: str, workdir: Path, files: list[_File], profiles: list[str]
    ) -> Project:
        services: dict[str, dict[str, Any]] = {}
        for sname, svc in (doc.get("services") or {}).items():
            svc = _resolve_paths(svc, workdir, self.env.get("HOME"))
            svc = normalize.finalize_service(sname, svc, f"services.{sname}")
            mode = svc.get("network_mode", "")
            if mode.startswith("service:"):  # compose-go's Normalize: the shared service starts first
                svc.setdefault("depends_on", {}).setdefault(
                    mode[len("service:") :],
                    {"condition": "service_started", "restart": True, "required": True},
                )
            services[sname] = svc

        networks = doc.get("networks") or {}
        uses_default = False
        for sname, svc in services.items():
            if "network_mode" in svc:
                if svc.get("networks"):
                    raise InvalidProject(
                        f"service {sname} declares mutually exclusive `network_mode` and `networks`: "
                        "invalid compose project"
                    )
                continue
            if not svc.get("networks"):
                svc["networks"] = {"default": None}
            if "default" in svc["networks"]:
                uses_default = True
        if uses_default and "default" not in networks:
            networks["default"] = {}
        for key, net in networks.items():
            net["external"] = bool(net.get("external", False))
            net["internal"] = bool(net.get("internal", False))
            if not net.get("name"):
                net["name"] = key if net["external"] else f"{name}_{key}"
        volumes = doc.get("volumes") or {}
        for key, vol in volumes.items():
            vol["external"] = bool(vol.get("external", False))
            if not vol.get("name"):
                vol["name"] = key if vol["external"] else f"{name}_{key}"

        # profiles: a service with none is always on; "*" turns all on. The project is checked with the
        # active profiles; then a service named on the command line turns its own profiles on (compose-go's
        # checkConsistency, then WithServicesEnabled)
        active = set(profiles)
        enabled = {n: s for n, s in services.items() if _enabled(s, active)}
        disabled = {n: s for n, s in services.items() if n not in enabled}
        for sname, svc in enabled.items():
            _check_service(sname, svc, enabled, disabled, networks, volumes)
        _check_container_names(enabled)
        for sname in self.options.enable_services:
            if sname not in services:
                raise InvalidProject(f"no such service: {sname}")
            if sname not in enabled:
                active.update(services[sname].get("profiles") or [])
        newly = {n: s for n, s in disabled.items() if _enabled(s, active)}
        enabled.update(newly)
        disabled = {n: s for n, s in disabled.items() if n not in newly}
        for sname, svc in newly.items():
            _check_service(sname, svc, enabled, disabled, networks, volumes, named=True)
        _check_container_names(enabled)

        for svc in enabled.values():
            svc["environment"] = self._environment(svc)
            if not svc["environment"]:
                svc.pop("environment")
            svc.pop("env_file", None)
            _resolve_build_args(svc, self.env)
        for svc in disabled.values():
            try:
                svc["environment"] = self._environment(svc)
                if not svc["environment"]:
                    svc.pop("environment")
                svc.pop("env_file", None)
            except EnvFileError:
                pass  # reported if the service is enabled
            _resolve_build_args(svc, self.env)

        if not self.options.all_resources:  # compose-go's WithoutUnnecessaryResources
            used_networks = {n for svc in enabled.values() for n in svc.get("networks") or {}}
            used_volumes = {
                v["source"]
                for svc in enabled.values()
                for v in svc.get("volumes") or []
                if v.get("type") == "volume" and v.get("source")
            }
            networks = {k: v for k, v in networks.items() if k in used_networks}
            volumes = {k: v for k, v in volumes.items() if k in used_volumes}

        project = Project(
            name=name,
            working_dir=workdir,
            config_files=[f.path if f.path is not None else Path("-") for f in files],
            services=dict(sorted(enabled.items())),
            networks=networks,
            volumes=volumes,
            disabled=dict(sorted(disabled.items())),
            environment=dict(self.env),
        )
        project.warnings = list(self.warnings)
        return project

    def _environment(self, svc: dict[str, Any]) -> dict[str, str | None]:
        """``env_file`` files read in order, then ``environment`` over them (a bare ``KEY`` taken from the
        project's environment), as compose-go's WithServicesEnvironmentResolved."""
        explicit: dict[str, str | None] = {
            k: (v if v is not None else self.env.get(k)) for k, v in (svc.get("environment") or {}).items()
        }
        found: dict[str, str] = {k: v for k, v in explicit.items() if v is not None}

        def lookup(key: str) -> str | None:  # the project's environment, then the service's environment
            return self.env[key] if key in self.env else explicit.get(key)

        for entry in svc.get("env_file") or []:
            path = Path(entry["path"])
            if not path.exists():
                if entry.get("required", True):
                    raise EnvFileError(f"env file {path} not found: stat {path}: no such file or directory")
                continue
            read_env_file(path, lookup, found)
        env: dict[str, str | None] = {k: v for k, v in found.items() if k not in explicit}
        env.update(explicit)
        return env


def _enabled(svc: dict[str, Any], active: set[str]) -> bool:
    profiles = svc.get("profiles") or []
    return not profiles or "*" in active or any(p in active for p in profiles)


def _resolve_build_args(svc: dict[str, Any], env: Mapping[str, str]) -> None:
    build = svc.get("build")
    if not isinstance(build, dict) or "args" not in build:
        return
    args: dict[str, str] = {}
    for key, value in build["args"].items():
        if value is None:
            value = env.get(key)
            if value is None:
                continue
        args[key] = value
    build["args"] = args


def _is_remote(context: str) -> bool:
    return "://" in context or context.startswith(("git@", "github.com/"))


def _abs_path(path: str, base: Path, home: str | None = None) -> str:
    if path.startswith("~"):
        path = (
            str(Path(home) / path[2:])
            if home and (path == "~" or path.startswith("~/"))
            else os.path.expanduser(path)
        )
    return os.path.normpath(os.path.join(base, path))


def _resolve_paths(svc: dict[str, Any], base: Path, home: str | None = None) -> dict[str, Any]:
    """Relative paths of a (canonical) service made absolute against ``base``, ``~`` expanded."""
    build = svc.get("build")
    if isinstance(build, dict):
        context = build.get("context", ".")
        build["context"] = context if _is_remote(context) else _abs_path(context, base, home)
        build.setdefault("dockerfile", "Dockerfile")
    for entry in svc.get("env_file") or []:
        entry["path"] = _abs_path(entry["path"], base, home)
    for vol in svc.get("volumes") or []:
        if vol.get("type") == "bind" and vol.get("source"):
            vol["source"] = _abs_path(vol["source"], base, home)
    return svc


def _check_service(
    name: str,
    svc: dict[str, Any],
    enabled: dict[str, Any],
    disabled: dict[str, Any],
    networks: dict[str, Any],
    volumes: dict[str, Any],
    named: bool = False,
) -> None:
    if "image" not in svc and "build" not in svc:
        raise InvalidProject(
            f'service "{name}" has neither an image nor a build context specified: invalid compose project'
        )
    for net in svc.get("networks") or {}:
        if net not in networks:
            raise InvalidProject(
                f'service "{name}" refers to undefined network {net}: invalid compose project'
            )
    for vol in svc.get("volumes") or []:
        if vol.get("type") == "volume" and vol.get("source") and vol["source"] not in volumes:
            raise InvalidProject(
                f'service "{name}" refers to undefined volume {vol["source"]}: invalid compose project'
            )
    for dep, cfg in list((svc.get("depends_on") or {}).items()):
        if dep in enabled:
            continue
        if dep in disabled and not cfg.get("required", True):
            continue
        if named:  # enabled by name after the check: compose's service selection finds it missing
            raise InvalidProject(f"no such service: {dep}")
        raise InvalidProject(
            f'service "{name}" depends on undefined service "{dep}": invalid compose project'
        )
    mode = svc.get("network_mode", "")
    if mode.startswith("service:") and mode[len("service:") :] not in enabled:
        ref = mode[len("service:") :]
        raise InvalidProject(f"service \"{ref}\" not found for network_mode 'service:{ref}'")


def _check_container_names(services: dict[str, Any]) -> None:
    seen: dict[str, str] = {}
    for name, svc in services.items():
        cname = svc.get("container_name")
        if not cname:
            continue
        if svc.get("scale", 1) > 1:
            raise InvalidProject(
                f"services.{name}: can't set container_name and scale as container name must be unique: "
                "invalid compose project"
            )
        if cname in seen:
            raise InvalidProject(
                f'services.{name}: container name "{cname}" is already in use by service {seen[cname]}'
            )
        seen[cname] = name


def load_project(options: LoadOptions) -> Project:
    """The project ``options`` name, loaded, validated and in canonical form (compose/model.py)."""
    return _Loader(options).load()


def warn_to(stream: IO[str]) -> Callable[[str], None]:
    """A printer for ``Project.warnings`` in compose's style (``WARN[0000] ...``)."""

    def emit(message: str) -> None:
        stream.write(f"WARN[0000] {message}\n")

    return emit
