"""Registry credentials in docker's ``~/.docker/config.json``, read and written the way the docker CLI does.

The file maps a registry key (``https://index.docker.io/v1/`` for Docker Hub, ``host[:port]`` otherwise)
to credentials in ``auths`` (``auth`` is base64 ``user:password``). When ``credHelpers`` names a helper for
that key, or ``credsStore`` names one for all keys, the secret lives in an external program
``docker-credential-<name>`` spoken to over stdin/stdout (docker-credential-helpers' protocol) and
``auths`` only keeps an empty entry, as docker does, so both tools see the same logins.

Keys written by older tools with a scheme or a path (``https://host/v2/``) are matched by host, as docker's
file store does. Every key of the file we do not own is kept as it is; writes are atomic, mode 0600.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from core.errors import DockyardError
from core.record import field, record
from core.state.records import write_bytes

DOCKER_HUB_KEY = "https://index.docker.io/v1/"
# spellings of Docker Hub found in config files written by docker, podman, skopeo or by hand
_DOCKER_HUB_HOSTS = frozenset({"index.docker.io", "docker.io", "registry-1.docker.io"})
HELPER_PREFIX = "docker-credential-"
# what a helper prints when it has nothing for the server (docker-credential-helpers' ErrCredentialsNotFound)
NOT_FOUND_MESSAGE = "credentials not found in native keychain"
# the username a helper stores an identity token under (docker's tokenUsername)
TOKEN_USERNAME = "<token>"
_HELPER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
HELPER_TIMEOUT = 120.0


class CredentialsError(DockyardError):
    """The docker config file or a credential helper could not be used."""


class CredentialHelperMissing(CredentialsError):
    """The config names a ``docker-credential-<name>`` program that is not on PATH."""


@record(frozen=True)
class Credentials:
    """What a registry login needs: a username and password, or an identity (OAuth2 refresh) token."""

    # empty strings, not None, for what is absent: the same convention as docker's AuthConfig and as
    # core.images.registry.Credentials, so one converts to the other without checks
    username: str = ""
    password: str = field(default="", repr=False)
    identitytoken: str = field(default="", repr=False)

    @property
    def identity_token(self) -> str:
        return self.identitytoken


def convert_to_hostname(key: str) -> str:
    """docker's ConvertToHostname: ``https://host:5000/v2/`` -> ``host:5000``; ``host/x`` -> ``host``."""
    if "://" in key:
        with contextlib.suppress(ValueError):
            parts = urlsplit(key)
            if parts.hostname:
                host = parts.hostname
                if ":" in host:
                    host = f"[{host}]"
                port = parts.port
                return f"{host}:{port}" if port is not None else host
    return key.partition("/")[0]


def _is_docker_hub(hostname: str) -> bool:
    return hostname.lower() in _DOCKER_HUB_HOSTS


def normalize_key(key: str) -> str:
    """The key docker itself would use for ``key``: Docker Hub's legacy URL, else ``host[:port]``."""
    host = convert_to_hostname(key.strip())
    if not host:
        raise CredentialsError(f'"{key}" does not name a registry')
    return DOCKER_HUB_KEY if _is_docker_hub(host) else host


def _same_registry(stored_key: str, key: str) -> bool:
    a, b = convert_to_hostname(stored_key), convert_to_hostname(key)
    if _is_docker_hub(a) and _is_docker_hub(b):
        return True
    return a.lower() == b.lower()


# --- the file ----------------------------------------------------------------------------------------------


def _load(config_file: Path) -> dict[str, Any]:
    """The whole file as a dict; a missing or empty file is an empty config (docker treats it so)."""
    try:
        raw = config_file.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as err:
        raise CredentialsError(f"cannot read docker config file {config_file}: {err.strerror}") from err
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except ValueError as err:
        raise CredentialsError(
            f"docker config file {config_file} is not valid JSON ({err}); fix or remove it"
        ) from err
    if not isinstance(data, dict):
        raise CredentialsError(f"docker config file {config_file} must hold a JSON object; fix or remove it")
    for section in ("auths", "credHelpers"):
        if section in data and data[section] is not None and not isinstance(data[section], dict):
            raise CredentialsError(f'docker config file {config_file}: "{section}" must be a JSON object')
    store = data.get("credsStore")
    if store is not None and not isinstance(store, str):
        raise CredentialsError(f'docker config file {config_file}: "credsStore" must be a string')
    return data


def _section(data: dict[str, Any], name: str) -> dict[str, Any]:
    value = data.get(name)
    return value if isinstance(value, dict) else {}


def _save(config_file: Path, data: dict[str, Any]) -> None:
    # Tab indentation is what docker writes, so a diff after `dockyard login` shows only what changed.
    payload = json.dumps(data, indent="\t", ensure_ascii=False).encode()
    write_bytes(_real_target(config_file), payload, mode=0o600)


def _real_target(config_file: Path) -> Path:
    """Replace the file a symlinked config.json points at, not the link (docker does the same)."""
    return Path(os.path.realpath(config_file))


@contextlib.contextmanager
def _locked(config_file: Path) -> Iterator[None]:
    """Serialise our read-modify-write of the file between dockyard processes.

    The lock is on the directory, not on the file: the file is replaced by rename, so a lock on it would
    guard an inode nobody reads any more. Docker itself takes no lock; we only avoid losing our own updates.
    """
    directory = _real_target(config_file).parent
    if not directory.exists():
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _decode_auth(value: str, config_file: Path, key: str) -> tuple[str, str]:
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, ValueError) as err:
        raise CredentialsError(
            f'docker config file {config_file}: the "auth" of "{key}" is not base64 of user:password; '
            "log in again or fix the file"
        ) from err
    username, colon, password = decoded.partition(":")
    if not colon or not username:
        raise CredentialsError(
            f'docker config file {config_file}: the "auth" of "{key}" is not user:password; '
            "log in again or fix the file"
        )
    return username, password.strip("\x00")


def _from_entry(entry: Any, config_file: Path, key: str) -> Credentials | None:
    if not isinstance(entry, dict):
        raise CredentialsError(f'docker config file {config_file}: auths entry "{key}" must be a JSON object')
    username = entry.get("username") or None
    password = entry.get("password") or None
    auth = entry.get("auth")
    if isinstance(auth, str) and auth:
        username, password = _decode_auth(auth, config_file, key)
    token = entry.get("identitytoken") or None
    if not username and not password and not token:
        return None
    return Credentials(
        username=str(username or ""), password=str(password or ""), identitytoken=str(token or "")
    )


def _find_entry(auths: dict[str, Any], key: str) -> str | None:
    """The auths key holding ``key``'s credentials: the exact key first, then any spelling of its host."""
    if key in auths:
        return key
    for stored in auths:
        if _same_registry(stored, key):
            return stored
    return None


# --- credential helpers ------------------------------------------------------------------------------------


def _helper_for(data: dict[str, Any], key: str, config_file: Path) -> str | None:
    """docker's getConfiguredCredentialStore: a per-registry helper first, then the default store."""
    helpers = _section(data, "credHelpers")
    name = helpers.get(key)
    if name is None:
        for stored, value in helpers.items():
            if _same_registry(stored, key):
                name = value
                break
    if name is None:
        name = data.get("credsStore") or None
    if name is None:
        return None
    if not isinstance(name, str) or not _HELPER_NAME.fullmatch(name):
        raise CredentialsError(f'docker config file {config_file}: "{name}" is not a credential helper name')
    return name


def _run_helper(helper: str, action: str, stdin: str, config_file: Path) -> subprocess.CompletedProcess[str]:
    program = HELPER_PREFIX + helper
    path = shutil.which(program)
    if path is None:
        raise CredentialHelperMissing(
            f'credential helper "{program}" (named in {config_file}) is not installed or not on PATH; '
            "install it or remove it from the file"
        )
    try:
        return subprocess.run(
            [path, action],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=HELPER_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as err:
        raise CredentialsError(
            f"credential helper {program} {action} did not answer in {HELPER_TIMEOUT:.0f}s"
        ) from err
    except OSError as err:
        raise CredentialsError(f"cannot run credential helper {program}: {err.strerror}") from err


def _helper_message(proc: subprocess.CompletedProcess[str]) -> str:
    # helpers print their error on stdout (the protocol); some also write to stderr
    text = (proc.stdout or "").strip() or (proc.stderr or "").strip()
    return " ".join(text.split()) or f"exit status {proc.returncode}"


def _helper_get(helper: str, key: str, config_file: Path) -> Credentials | None:
    proc = _run_helper(helper, "get", key, config_file)
    if proc.returncode != 0:
        message = _helper_message(proc)
        if NOT_FOUND_MESSAGE in message:
            return None
        raise CredentialsError(f"error getting credentials from {HELPER_PREFIX}{helper}: {message}")
    try:
        answer = json.loads(proc.stdout)
    except ValueError as err:
        raise CredentialsError(f"{HELPER_PREFIX}{helper} get answered something other than JSON") from err
    if not isinstance(answer, dict):
        raise CredentialsError(f"{HELPER_PREFIX}{helper} get answered something other than a JSON object")
    username = answer.get("Username") or ""
    secret = answer.get("Secret") or ""
    if not isinstance(username, str) or not isinstance(secret, str):
        raise CredentialsError(f"{HELPER_PREFIX}{helper} get answered a Username or Secret that is not text")
    if username == TOKEN_USERNAME:
        return Credentials(identitytoken=secret) if secret else None
    if not username and not secret:
        return None
    return Credentials(username=username, password=secret)


def _helper_store(helper: str, key: str, username: str, secret: str, config_file: Path) -> None:
    payload = json.dumps({"ServerURL": key, "Username": username, "Secret": secret})
    proc = _run_helper(helper, "store", payload, config_file)
    if proc.returncode != 0:
        raise CredentialsError(
            f"error storing credentials in {HELPER_PREFIX}{helper}: {_helper_message(proc)}"
        )


def _helper_erase(helper: str, key: str, config_file: Path) -> bool:
    proc = _run_helper(helper, "erase", key, config_file)
    if proc.returncode == 0:
        return True
    message = _helper_message(proc)
    if NOT_FOUND_MESSAGE in message:
        return False
    raise CredentialsError(f"error erasing credentials from {HELPER_PREFIX}{helper}: {message}")


# --- public API --------------------------------------------------------------------------------------------


def lookup(config_file: Path, key: str) -> Credentials | None:
    """The stored credentials for registry ``key`` (``https://index.docker.io/v1/``, ``host:port``, or
    either with a scheme); None when there are none. A configured helper is asked and, as with docker,
    the file's ``auths`` is not consulted for a key that a helper owns."""
    key = normalize_key(key)
    data = _load(config_file)
    helper = _helper_for(data, key, config_file)
    if helper is not None:
        return _helper_get(helper, key, config_file)
    auths = _section(data, "auths")
    found = _find_entry(auths, key)
    if found is None:
        return None
    return _from_entry(auths[found], config_file, found)


def store(config_file: Path, key: str, username: str, password: str) -> None:
    """Save a login, in the helper that owns ``key`` if one is configured, else base64 in ``auths``."""
    if not username:
        raise CredentialsError("a username is required to store credentials")
    key = normalize_key(key)
    with _locked(config_file):
        data = _load(config_file)
        helper = _helper_for(data, key, config_file)
        auths = data.get("auths")
        if not isinstance(auths, dict):
            auths = data["auths"] = {}
        entry = auths.get(key)
        entry = dict(entry) if isinstance(entry, dict) else {}
        for stale in ("auth", "username", "password", "identitytoken", "serveraddress"):
            entry.pop(stale, None)
        if helper is not None:
            _helper_store(helper, key, username, password, config_file)
        else:
            entry["auth"] = base64.b64encode(f"{username}:{password}".encode()).decode()
        # with a helper the entry stays empty, as docker leaves it: a record that a login exists
        auths[key] = entry
        _save(config_file, data)


def erase(config_file: Path, key: str) -> bool:
    """Forget the login for ``key`` (every spelling of its host in ``auths``, and the helper's copy).
    True if anything was removed."""
    key = normalize_key(key)
    if not config_file.exists():
        return False
    with _locked(config_file):
        data = _load(config_file)
        helper = _helper_for(data, key, config_file)
        removed = _helper_erase(helper, key, config_file) if helper is not None else False
        auths = data.get("auths")
        if isinstance(auths, dict):
            doomed = [stored for stored in auths if stored == key or _same_registry(stored, key)]
            for stored in doomed:
                del auths[stored]
            if doomed:
                removed = True
                _save(config_file, data)
        return removed
