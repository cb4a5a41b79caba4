"""The docker CLI's context store and engine selection, read and written as the docker CLI does, so that a
context made by one works in the other.

- the config folder: ``$DOCKER_CONFIG`` or ``~/.docker``; its ``config.json`` has ``currentContext``;
- a context: ``contexts/meta/<sha256 of its name>/meta.json``
  (``{"Name", "Metadata": {"Description"}, "Endpoints": {"docker": {"Host", "SkipTLSVerify"}}}``), its TLS
  files in ``contexts/tls/<sha256>/docker/{ca,cert,key}.pem``;
- the choice (docker's ``resolveContextName``): ``--context`` (with ``-H`` too: an error), else ``-H``,
  else ``$DOCKER_HOST``, else ``$DOCKER_CONTEXT``, else ``currentContext``, else "default". The default
  context here is the in-process engine (unless ``-H``/``$DOCKER_HOST`` names one).
"""

from __future__ import annotations

import json
import os

from core.errors import Conflict, InvalidArgument, NotFound
from core.record import field, record
from core.remote.endpoint import Endpoint, TLSOptions, parse_host, tls_from_env

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~3 ms of a remote command)
if TYPE_CHECKING:
    from typing import Any

DEFAULT = "default"


class ContextNotFound(NotFound):
    pass


# paths are strings (os.path), not pathlib: pathlib and what it imports are ~3 ms of every remote command
def config_dir() -> str:
    return os.environ.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")


def _digest(name: str) -> str:
    import hashlib  # not on the -H path (~4 ms)

    return hashlib.sha256(name.encode()).hexdigest()


def meta_dir(name: str) -> str:
    return os.path.join(config_dir(), "contexts", "meta", _digest(name))


def tls_dir(name: str) -> str:
    return os.path.join(config_dir(), "contexts", "tls", _digest(name))


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        return f.read()


def _read_bytes(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def _write(path: str, data: str | bytes) -> None:
    with open(path, "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)


@record
class Context:
    name: str
    host: str  # the docker endpoint's Host ("" for the default: the local engine)
    description: str = ""
    skip_tls_verify: bool = False
    tls_files: dict[str, str] = field(default_factory=dict)  # ca / cert / key -> path
    extra: dict[str, Any] = field(default_factory=dict)  # what else meta.json had, kept on rewrite

    def endpoint(self) -> Endpoint | None:
        if not self.host:
            return None
        tls: TLSOptions | None = None
        if self.tls_files or self.skip_tls_verify:
            tls = TLSOptions(
                verify=not self.skip_tls_verify and bool(self.tls_files.get("ca")),
                ca=self.tls_files.get("ca", ""),
                cert=self.tls_files.get("cert", ""),
                key=self.tls_files.get("key", ""),
            )
        return parse_host(self.host, tls, name=self.name)


def _check_name(name: str) -> None:
    import re

    if name == DEFAULT:
        raise InvalidArgument('"default" is a reserved context name')
    if not re.fullmatch(r"[a-zA-Z0-9][a-zA-Z0-9_.+-]*", name):
        raise InvalidArgument(
            f'context name "{name}" is invalid, names are validated against regexp '
            '"^[a-zA-Z0-9][a-zA-Z0-9_.+-]+$"'
        )


def load(name: str) -> Context:
    if name == DEFAULT:
        return Context(DEFAULT, os.environ.get("DOCKER_HOST", ""), "Current DOCKER_HOST based configuration")
    path = os.path.join(meta_dir(name), "meta.json")
    try:
        doc = json.loads(_read(path))
    except FileNotFoundError:
        raise ContextNotFound(
            f'context "{name}": context not found: open {path}: no such file or directory'
        ) from None
    except (OSError, ValueError) as err:
        raise InvalidArgument(f"context {name!r}: cannot read {path}: {err}") from None
    return _from_meta(doc, name)


def _from_meta(doc: dict[str, Any], name: str) -> Context:
    docker = (doc.get("Endpoints") or {}).get("docker") or {}
    tls: dict[str, str] = {}
    folder = os.path.join(tls_dir(name), "docker")
    for key, file in (("ca", "ca.pem"), ("cert", "cert.pem"), ("key", "key.pem")):
        if os.path.isfile(os.path.join(folder, file)):
            tls[key] = os.path.join(folder, file)
    return Context(
        name=str(doc.get("Name") or name),
        host=str(docker.get("Host") or ""),
        description=str((doc.get("Metadata") or {}).get("Description") or ""),
        skip_tls_verify=bool(docker.get("SkipTLSVerify")),
        tls_files=tls,
        extra=doc,
    )


def list_contexts() -> list[Context]:
    out = [load(DEFAULT)]
    root = os.path.join(config_dir(), "contexts", "meta")
    found: list[Context] = []
    if os.path.isdir(root):
        for digest in os.listdir(root):
            try:
                doc = json.loads(_read(os.path.join(root, digest, "meta.json")))
            except (OSError, ValueError):
                continue
            name = str(doc.get("Name") or "")
            if name and digest == _digest(name):
                found.append(_from_meta(doc, name))
    return sorted(out + found, key=lambda c: c.name)  # as docker's: by name, default among them


def _config() -> dict[str, Any]:
    try:
        doc = json.loads(_read(os.path.join(config_dir(), "config.json")))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as err:
        raise InvalidArgument(f"cannot read {os.path.join(config_dir(), 'config.json')}: {err}") from None
    return doc if isinstance(doc, dict) else {}


def configured_context() -> str:
    """``currentContext`` in config.json (the one ``context use`` set), or "default"."""
    return str(_config().get("currentContext") or DEFAULT)


def current_name(context: str | None = None, host: str | None = None) -> str:
    """docker's resolveContextName."""
    if context and host:
        raise InvalidArgument("conflicting options: either specify --host or --context, not both")
    if context:
        return context
    if host or os.environ.get("DOCKER_HOST"):
        return DEFAULT
    if os.environ.get("DOCKER_CONTEXT"):
        return os.environ["DOCKER_CONTEXT"]
    return configured_context()


def use(name: str) -> None:
    """``context use``: currentContext in config.json (removed for "default"), every other key kept."""
    if name != DEFAULT:
        load(name)
    doc = _config()
    if name == DEFAULT:
        doc.pop("currentContext", None)
    else:
        doc["currentContext"] = name
    folder = config_dir()
    os.makedirs(folder, exist_ok=True)
    tmp = os.path.join(folder, ".config.json.tmp")
    _write(tmp, json.dumps(doc, indent="\t") + "\n")
    os.chmod(tmp, 0o600)
    os.replace(tmp, os.path.join(folder, "config.json"))


def save(ctx: Context, *, tls_material: dict[str, bytes] | None = None, create: bool) -> None:
    """Write a context's meta.json (and its TLS files) as the docker CLI does."""
    _check_name(ctx.name)
    folder = meta_dir(ctx.name)
    meta = os.path.join(folder, "meta.json")
    if create and os.path.exists(meta):
        raise Conflict(f'context "{ctx.name}" already exists')
    if not create and not os.path.exists(meta):
        load(ctx.name)  # raises docker's "context not found"
    if ctx.host:
        parse_host(ctx.host)  # refuse what cannot be used
    doc = dict(ctx.extra)
    doc["Name"] = ctx.name
    metadata = dict(doc.get("Metadata") or {})
    if ctx.description or "Description" in metadata:
        metadata["Description"] = ctx.description
    doc["Metadata"] = metadata
    endpoints = dict(doc.get("Endpoints") or {})
    endpoints["docker"] = {"Host": ctx.host, "SkipTLSVerify": ctx.skip_tls_verify}
    doc["Endpoints"] = endpoints
    os.makedirs(folder, mode=0o755, exist_ok=True)
    tmp = os.path.join(folder, ".meta.json.tmp")
    _write(tmp, json.dumps(doc, separators=(",", ":")))
    os.replace(tmp, meta)
    if tls_material is not None:
        tdir = os.path.join(tls_dir(ctx.name), "docker")
        if tls_material:
            os.makedirs(tdir, mode=0o700, exist_ok=True)
            for file, data in tls_material.items():
                _write(os.path.join(tdir, file), data)
                os.chmod(os.path.join(tdir, file), 0o600)


def remove(name: str, *, force: bool = False) -> None:
    if name == DEFAULT:
        raise InvalidArgument('default: context "default" cannot be removed')
    load(name)
    if name == configured_context() and not force:
        raise Conflict(f'context "{name}" is in use, set -f flag to force remove')
    import shutil

    shutil.rmtree(meta_dir(name), ignore_errors=True)
    shutil.rmtree(tls_dir(name), ignore_errors=True)
    if name == configured_context():
        use(DEFAULT)


def endpoint_for(
    *,
    host: str | None = None,
    context: str | None = None,
    tls: bool = False,
    tlsverify: bool | None = None,
    tlscacert: str | None = None,
    tlscert: str | None = None,
    tlskey: str | None = None,
) -> Endpoint | None:
    """The engine the command line's flags and the environment choose; None for the in-process engine."""
    name = current_name(context, host)
    tls_opts = tls_from_env(tls=tls, tlsverify=tlsverify, cacert=tlscacert, cert=tlscert, key=tlskey)
    if name == DEFAULT:
        address = host or os.environ.get("DOCKER_HOST", "")
        if not address:
            return None
        return parse_host(address, tls_opts)
    return load(name).endpoint()


def inspect_document(name: str) -> dict[str, Any]:
    """``context inspect``'s document, key for key as the docker CLI's."""
    ctx = load(name)
    metadata: dict[str, Any] = dict(ctx.extra.get("Metadata") or {}) if name != DEFAULT else {}
    if name == DEFAULT:
        metadata = {"Description": ctx.description} if ctx.description else {}
        metadata["StackOrchestrator"] = "swarm"
    endpoint = {"Host": ctx.host or "unix:///var/run/docker.sock", "SkipTLSVerify": ctx.skip_tls_verify}
    tls = {"docker": sorted(f"{k}.pem" for k in ctx.tls_files)} if ctx.tls_files else {}
    return {
        "Name": ctx.name,
        "Metadata": metadata,
        "Endpoints": {"docker": endpoint},
        "TLSMaterial": tls,
        "Storage": {
            "MetadataPath": meta_dir(name) if name != DEFAULT else "<IN MEMORY>",
            "TLSPath": tls_dir(name) if name != DEFAULT else "<IN MEMORY>",
        },
    }


def parse_docker_option(text: str) -> dict[str, str]:
    """``--docker host=...,ca=...,cert=...,key=...,skip-tls-verify=true`` (docker's comma separated
    key=value list)."""
    out: dict[str, str] = {}
    for part in text.split(","):
        if not part:
            continue
        key, eq, value = part.partition("=")
        key = key.strip().lower()
        if not eq or key not in ("host", "ca", "cert", "key", "skip-tls-verify", "from"):
            raise InvalidArgument(f"unable to create docker endpoint config: unrecognized config key: {key}")
        out[key] = value
    return out


def create_or_update(
    name: str, *, description: str | None, docker: str | None, create: bool, source: str | None = None
) -> None:
    """``context create`` / ``context update`` (``--from`` copies another context's endpoint)."""
    if create:
        if source is not None:
            base = load(source)
            ctx = Context(name, base.host, base.description, base.skip_tls_verify, {}, {})
            material = {f"{k}.pem": _read_bytes(v) for k, v in base.tls_files.items()}
        else:
            ctx = Context(name, "")
            material = {}
    else:
        ctx = load(name)
        material = {}
    if description is not None:
        ctx.description = description
    if docker is not None:
        opts = parse_docker_option(docker)
        if "from" in opts:
            base = load(opts["from"])
            ctx.host, ctx.skip_tls_verify = base.host, base.skip_tls_verify
            material = {f"{k}.pem": _read_bytes(v) for k, v in base.tls_files.items()}
        if "host" in opts:
            ctx.host = opts["host"]
        if "skip-tls-verify" in opts:
            ctx.skip_tls_verify = opts["skip-tls-verify"].lower() in ("1", "true", "t", "yes")
        for key in ("ca", "cert", "key"):
            if opts.get(key):
                try:
                    material[f"{key}.pem"] = _read_bytes(os.path.expanduser(opts[key]))
                except OSError as err:
                    raise InvalidArgument(f"unable to read {key} file {opts[key]}: {err.strerror}") from None
    elif create and source is None:
        ctx.host = os.environ.get("DOCKER_HOST", "")  # docker: a new context copies the current endpoint
    save(ctx, tls_material=material or None, create=create)
