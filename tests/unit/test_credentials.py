"""docker's ~/.docker/config.json: auths, credHelpers and credsStore, read and written as docker does.

The credential-helper tests put a fake ``docker-credential-test`` program on PATH: a test double of an
external program that speaks docker-credential-helpers' protocol and keeps its secrets in a JSON file.
"""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from core.images.credentials import (
    DOCKER_HUB_KEY,
    CredentialHelperMissing,
    Credentials,
    CredentialsError,
    convert_to_hostname,
    erase,
    lookup,
    normalize_key,
    store,
)

REPO_ROOT = Path(__file__).resolve().parents[2]


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def write_docker_config(path: Path, data: dict[str, object]) -> None:
    """As docker's configfile.Save writes it: tab-indented JSON, no trailing newline, mode 0600."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent="\t"))
    path.chmod(0o600)


DOCKER_WRITTEN = {
    "auths": {
        "https://index.docker.io/v1/": {"auth": b64("hubuser:hubpass")},
        "localhost:5000": {"auth": b64("alice:s3cr:et")},
        "ghcr.io": {"auth": b64("bob:tok"), "email": "bob@example.com"},
        "quay.io": {},
    },
    "HttpHeaders": {"X-Meta": "kept"},
    "psFormat": "table {{.ID}}\\t{{.Names}}",
    "currentContext": "default",
    "plugins": {"debug": {"hooks": "exec"}},
    "aliases": {"builder": "buildx"},
}


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    return tmp_path / "dot-docker" / "config.json"


# --- reading ------------------------------------------------------------------------------------------------


def test_lookup_docker_written_file(config_file: Path) -> None:
    write_docker_config(config_file, DOCKER_WRITTEN)
    assert lookup(config_file, DOCKER_HUB_KEY) == Credentials("hubuser", "hubpass")
    # a password may itself contain ':'; only the first one separates
    assert lookup(config_file, "localhost:5000") == Credentials("alice", "s3cr:et")
    assert lookup(config_file, "ghcr.io") == Credentials("bob", "tok")
    # an empty entry (left by docker when a helper holds the secret) is no credentials
    assert lookup(config_file, "quay.io") is None
    assert lookup(config_file, "example.com:5000") is None


def test_lookup_missing_or_empty_file(config_file: Path) -> None:
    assert lookup(config_file, "localhost:5000") is None
    assert not config_file.parent.exists()
    config_file.parent.mkdir()
    config_file.write_text("  \n")
    assert lookup(config_file, "localhost:5000") is None


def test_lookup_username_password_and_identity_token_fields(config_file: Path) -> None:
    write_docker_config(
        config_file,
        {
            "auths": {
                "plain.example": {"username": "u", "password": "p"},
                "token.example": {"identitytoken": "refresh-token"},
                "both.example": {"auth": b64("from:auth"), "username": "ignored", "password": "ignored"},
            }
        },
    )
    assert lookup(config_file, "plain.example") == Credentials("u", "p")
    tok = lookup(config_file, "token.example")
    assert tok is not None and tok.identitytoken == "refresh-token" and tok.identity_token == "refresh-token"
    assert tok.username == "" and tok.password == ""
    assert lookup(config_file, "both.example") == Credentials("from", "auth")


def test_keys_with_or_without_scheme(config_file: Path) -> None:
    write_docker_config(
        config_file,
        {
            "auths": {
                "https://legacy.example:5000/v2/": {"auth": b64("legacy:pw")},
                "plain.example": {"auth": b64("plain:pw")},
                "docker.io": {"auth": b64("podman:style")},
                "http://[::1]:5001": {"auth": b64("six:pw")},
            }
        },
    )
    assert lookup(config_file, "legacy.example:5000") == Credentials("legacy", "pw")
    assert lookup(config_file, "https://legacy.example:5000") == Credentials("legacy", "pw")
    assert lookup(config_file, "https://plain.example") == Credentials("plain", "pw")
    assert lookup(config_file, "http://plain.example/") == Credentials("plain", "pw")
    assert lookup(config_file, "PLAIN.example") == Credentials("plain", "pw")
    # Docker Hub under any of its spellings
    assert lookup(config_file, DOCKER_HUB_KEY) == Credentials("podman", "style")
    assert lookup(config_file, "index.docker.io") == Credentials("podman", "style")
    assert lookup(config_file, "[::1]:5001") == Credentials("six", "pw")
    # the port is part of the registry's identity
    assert lookup(config_file, "legacy.example") is None
    assert lookup(config_file, "legacy.example:5001") is None


def test_exact_key_wins_over_other_spellings(config_file: Path) -> None:
    write_docker_config(
        config_file,
        {"auths": {"https://reg.example": {"auth": b64("old:pw")}, "reg.example": {"auth": b64("new:pw")}}},
    )
    assert lookup(config_file, "reg.example") == Credentials("new", "pw")


def test_normalize_key_and_hostname() -> None:
    assert normalize_key("docker.io") == DOCKER_HUB_KEY
    assert normalize_key("https://index.docker.io/v1/") == DOCKER_HUB_KEY
    assert normalize_key("registry-1.docker.io") == DOCKER_HUB_KEY
    assert normalize_key("https://localhost:5000/v2/") == "localhost:5000"
    assert normalize_key("localhost:5000") == "localhost:5000"
    assert convert_to_hostname("http://[::1]:5000/x") == "[::1]:5000"
    assert convert_to_hostname("host/path") == "host"
    with pytest.raises(CredentialsError):
        normalize_key("")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is not valid JSON"),
        ("[1, 2]", "must hold a JSON object"),
        ('{"auths": []}', '"auths" must be a JSON object'),
        ('{"credHelpers": "x"}', '"credHelpers" must be a JSON object'),
        ('{"credsStore": 5}', '"credsStore" must be a string'),
        ('{"auths": {"localhost:5000": "abc"}}', "must be a JSON object"),
        ('{"auths": {"localhost:5000": {"auth": "***"}}}', "is not base64"),
        ('{"auths": {"localhost:5000": {"auth": "' + b64("nocolon") + '"}}}', "is not user:password"),
        ('{"auths": {"localhost:5000": {"auth": "' + b64(":pw") + '"}}}', "is not user:password"),
    ],
)
def test_malformed_file_is_a_clear_error(config_file: Path, content: str, message: str) -> None:
    config_file.parent.mkdir(parents=True)
    config_file.write_text(content)
    with pytest.raises(CredentialsError, match=message) as err:
        lookup(config_file, "localhost:5000")
    assert "\n" not in str(err.value)
    assert str(config_file) in str(err.value)


def test_malformed_file_is_not_overwritten_by_store(config_file: Path) -> None:
    config_file.parent.mkdir(parents=True)
    config_file.write_text("{not json")
    with pytest.raises(CredentialsError):
        store(config_file, "localhost:5000", "u", "p")
    assert config_file.read_text() == "{not json"


def test_repr_hides_secrets() -> None:
    text = repr(Credentials("user", "hunter2", "tok-secret"))
    assert "user" in text and "hunter2" not in text and "tok-secret" not in text


# --- writing ------------------------------------------------------------------------------------------------


def test_store_round_trip_creates_private_file(config_file: Path) -> None:
    store(config_file, "localhost:5000", "alice", "pä:ss wörd")
    assert lookup(config_file, "localhost:5000") == Credentials("alice", "pä:ss wörd")
    assert stat.S_IMODE(config_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(config_file.parent.stat().st_mode) == 0o700
    data = json.loads(config_file.read_text())
    assert data == {"auths": {"localhost:5000": {"auth": b64("alice:pä:ss wörd")}}}
    # tab-indented like docker's own writes
    assert '\n\t"auths"' in config_file.read_text()
    # no temp files left beside it
    assert sorted(p.name for p in config_file.parent.iterdir()) == ["config.json"]


def test_store_keeps_every_other_key(config_file: Path) -> None:
    write_docker_config(config_file, DOCKER_WRITTEN)
    config_file.chmod(0o644)
    store(config_file, "https://index.docker.io/v1/", "newhub", "newpass")
    store(config_file, "https://registry.example:8443", "carol", "pw")
    data = json.loads(config_file.read_text())
    for key in ("HttpHeaders", "psFormat", "currentContext", "plugins", "aliases"):
        assert data[key] == DOCKER_WRITTEN[key]
    assert data["auths"]["localhost:5000"] == DOCKER_WRITTEN["auths"]["localhost:5000"]
    # fields of an entry other than the secret itself survive a new login
    assert data["auths"]["ghcr.io"] == {"auth": b64("bob:tok"), "email": "bob@example.com"}
    assert data["auths"]["https://index.docker.io/v1/"] == {"auth": b64("newhub:newpass")}
    assert data["auths"]["registry.example:8443"] == {"auth": b64("carol:pw")}
    assert list(data) == list(DOCKER_WRITTEN)  # key order kept
    assert stat.S_IMODE(config_file.stat().st_mode) == 0o600
    assert lookup(config_file, "docker.io") == Credentials("newhub", "newpass")


def test_store_replaces_stale_fields(config_file: Path) -> None:
    write_docker_config(
        config_file, {"auths": {"reg.example": {"username": "old", "password": "old", "identitytoken": "t"}}}
    )
    store(config_file, "reg.example", "new", "pw")
    assert json.loads(config_file.read_text())["auths"]["reg.example"] == {"auth": b64("new:pw")}
    assert lookup(config_file, "reg.example") == Credentials("new", "pw")


def test_store_through_symlink_keeps_the_link(tmp_path: Path) -> None:
    real = tmp_path / "dotfiles" / "docker-config.json"
    write_docker_config(real, {"auths": {}, "psFormat": "x"})
    link_dir = tmp_path / "home" / ".docker"
    link_dir.mkdir(parents=True)
    link = link_dir / "config.json"
    link.symlink_to(real)
    store(link, "localhost:5000", "u", "p")
    assert link.is_symlink()
    assert json.loads(real.read_text())["auths"]["localhost:5000"] == {"auth": b64("u:p")}
    assert lookup(link, "localhost:5000") == Credentials("u", "p")


def test_erase(config_file: Path) -> None:
    write_docker_config(
        config_file,
        {
            "auths": {
                "localhost:5000": {"auth": b64("a:b")},
                "https://localhost:5000/v2/": {"auth": b64("c:d")},
                "http://localhost:5000": {"auth": b64("e:f")},
                "localhost:5001": {"auth": b64("keep:me")},
            },
            "currentContext": "default",
        },
    )
    assert erase(config_file, "localhost:5000") is True
    data = json.loads(config_file.read_text())
    assert data == {"auths": {"localhost:5001": {"auth": b64("keep:me")}}, "currentContext": "default"}
    assert lookup(config_file, "localhost:5000") is None
    assert erase(config_file, "localhost:5000") is False
    assert stat.S_IMODE(config_file.stat().st_mode) == 0o600


def test_erase_without_file_creates_nothing(config_file: Path) -> None:
    assert erase(config_file, "localhost:5000") is False
    assert not config_file.parent.exists()


def test_concurrent_stores_lose_nothing(config_file: Path) -> None:
    """Several processes logging in at once: each read-modify-write holds the lock, so every login stays."""
    script = textwrap.dedent(
        """
        import sys
        from pathlib import Path
        from core.images.credentials import store
        path, worker = Path(sys.argv[1]), sys.argv[2]
        for i in range(8):
            store(path, f"reg{worker}-{i}.example", "u" + worker, str(i))
        """
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", script, str(config_file), str(w)], cwd=REPO_ROOT)
        for w in range(4)
    ]
    for proc in procs:
        assert proc.wait(timeout=120) == 0
    auths = json.loads(config_file.read_text())["auths"]
    assert len(auths) == 32
    assert lookup(config_file, "reg3-7.example") == Credentials("u3", "7")


# --- credential helpers -------------------------------------------------------------------------------------

FAKE_HELPER = """\
#!{python}
# A test double of a docker-credential-helpers program: secrets live in $FAKE_HELPER_STORE (JSON),
# every call is appended to $FAKE_HELPER_STORE.log as [action, stdin].
import json, os, sys
store_path = os.environ["FAKE_HELPER_STORE"]
action = sys.argv[1]
data = sys.stdin.read()
with open(store_path + ".log", "a") as log:
    log.write(json.dumps([action, data]) + "\\n")
try:
    with open(store_path) as f:
        secrets = json.load(f)
except FileNotFoundError:
    secrets = {{}}
if os.environ.get("FAKE_HELPER_FAIL"):
    print("the keyring is locked")
    sys.exit(1)
if action == "get":
    if data not in secrets:
        print("credentials not found in native keychain")
        sys.exit(1)
    user, secret = secrets[data]
    print(json.dumps({{"ServerURL": data, "Username": user, "Secret": secret}}))
elif action == "store":
    req = json.loads(data)
    secrets[req["ServerURL"]] = [req["Username"], req["Secret"]]
    with open(store_path, "w") as f:
        json.dump(secrets, f)
elif action == "erase":
    if data not in secrets:
        print("credentials not found in native keychain")
        sys.exit(1)
    del secrets[data]
    with open(store_path, "w") as f:
        json.dump(secrets, f)
elif action == "list":
    print(json.dumps({{k: v[0] for k, v in secrets.items()}}))
else:
    print("unknown action")
    sys.exit(1)
"""


@pytest.fixture
def helper(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Installs docker-credential-test on PATH; returns the path of its secrets file."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    program = bindir / "docker-credential-test"
    program.write_text(FAKE_HELPER.format(python=sys.executable))
    program.chmod(0o755)
    secrets = tmp_path / "helper-secrets.json"
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("FAKE_HELPER_STORE", str(secrets))
    return secrets


def helper_calls(secrets: Path) -> list[list[str]]:
    log = Path(str(secrets) + ".log")
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines()]


def test_creds_store_round_trip(config_file: Path, helper: Path) -> None:
    write_docker_config(config_file, {"auths": {}, "credsStore": "test", "currentContext": "default"})
    store(config_file, "docker.io", "hubuser", "hubpass")
    # the secret went to the helper, under docker's key; the file keeps only an empty entry
    assert json.loads(helper.read_text()) == {DOCKER_HUB_KEY: ["hubuser", "hubpass"]}
    data = json.loads(config_file.read_text())
    assert data == {"auths": {DOCKER_HUB_KEY: {}}, "credsStore": "test", "currentContext": "default"}
    assert "hubpass" not in config_file.read_text()
    assert lookup(config_file, DOCKER_HUB_KEY) == Credentials("hubuser", "hubpass")
    # the server URL goes on stdin exactly, without a newline
    assert ["get", DOCKER_HUB_KEY] in helper_calls(helper)
    assert [
        "store",
        json.dumps({"ServerURL": DOCKER_HUB_KEY, "Username": "hubuser", "Secret": "hubpass"}),
    ] in (helper_calls(helper))


def test_creds_store_not_found_is_none(config_file: Path, helper: Path) -> None:
    # as docker: a key the helper owns is not looked up in auths
    write_docker_config(
        config_file, {"auths": {"localhost:5000": {"auth": b64("file:pw")}}, "credsStore": "test"}
    )
    assert lookup(config_file, "localhost:5000") is None


def test_helper_identity_token(config_file: Path, helper: Path) -> None:
    write_docker_config(config_file, {"credsStore": "test"})
    helper.write_text(json.dumps({"reg.example": ["<token>", "refresh-123"]}))
    assert lookup(config_file, "reg.example") == Credentials(identitytoken="refresh-123")


def test_cred_helpers_per_registry(config_file: Path, helper: Path) -> None:
    write_docker_config(
        config_file,
        {
            "auths": {"other.example": {"auth": b64("file:pw")}},
            "credHelpers": {"helped.example": "test", "https://helped2.example": "test"},
        },
    )
    helper.write_text(json.dumps({"helped.example": ["hu", "hp"], "helped2.example": ["h2", "p2"]}))
    assert lookup(config_file, "helped.example") == Credentials("hu", "hp")
    assert lookup(config_file, "helped2.example") == Credentials("h2", "p2")
    assert lookup(config_file, "other.example") == Credentials("file", "pw")
    store(config_file, "helped.example", "new", "secret")
    assert json.loads(helper.read_text())["helped.example"] == ["new", "secret"]
    assert json.loads(config_file.read_text())["auths"]["helped.example"] == {}
    store(config_file, "other.example", "file2", "pw2")
    assert json.loads(config_file.read_text())["auths"]["other.example"] == {"auth": b64("file2:pw2")}


def test_cred_helpers_override_creds_store(config_file: Path, helper: Path) -> None:
    write_docker_config(config_file, {"credsStore": "absent-store", "credHelpers": {"reg.example": "test"}})
    helper.write_text(json.dumps({"reg.example": ["u", "p"]}))
    assert lookup(config_file, "reg.example") == Credentials("u", "p")
    with pytest.raises(CredentialHelperMissing):
        lookup(config_file, "elsewhere.example")


def test_helper_erase(config_file: Path, helper: Path) -> None:
    write_docker_config(config_file, {"credsStore": "test"})
    store(config_file, "localhost:5000", "u", "p")
    assert erase(config_file, "localhost:5000") is True
    assert json.loads(helper.read_text()) == {}
    assert json.loads(config_file.read_text()) == {"credsStore": "test", "auths": {}}
    assert erase(config_file, "localhost:5000") is False
    assert lookup(config_file, "localhost:5000") is None


def test_missing_helper_is_a_clear_error(
    config_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    write_docker_config(config_file, {"credsStore": "nosuchhelper"})
    with pytest.raises(CredentialHelperMissing, match="docker-credential-nosuchhelper") as err:
        lookup(config_file, "localhost:5000")
    assert "PATH" in str(err.value)
    with pytest.raises(CredentialHelperMissing):
        store(config_file, "localhost:5000", "u", "p")
    # nothing was written when the helper could not take the secret
    assert json.loads(config_file.read_text()) == {"credsStore": "nosuchhelper"}


def test_helper_failure_is_reported(config_file: Path, helper: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_docker_config(config_file, {"credsStore": "test"})
    monkeypatch.setenv("FAKE_HELPER_FAIL", "1")
    with pytest.raises(CredentialsError, match="the keyring is locked"):
        lookup(config_file, "localhost:5000")
    with pytest.raises(CredentialsError, match="error storing credentials"):
        store(config_file, "localhost:5000", "u", "p")
    with pytest.raises(CredentialsError, match="error erasing credentials"):
        erase(config_file, "localhost:5000")


def test_helper_name_cannot_be_a_path(config_file: Path) -> None:
    write_docker_config(config_file, {"credsStore": "../../bin/sh"})
    with pytest.raises(CredentialsError, match="not a credential helper name"):
        lookup(config_file, "localhost:5000")


def test_helper_bad_answer(config_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bindir = tmp_path / "bin2"
    bindir.mkdir()
    program = bindir / "docker-credential-garbage"
    program.write_text("#!/bin/sh\necho 'this is not json'\n")
    program.chmod(0o755)
    monkeypatch.setenv("PATH", str(bindir))
    write_docker_config(config_file, {"credsStore": "garbage"})
    with pytest.raises(CredentialsError, match="other than JSON"):
        lookup(config_file, "localhost:5000")
