"""Engine selection as the docker CLI's: TCP with mutual TLS (``--tlsverify`` and the cert flags, or
``DOCKER_TLS_VERIFY``/``DOCKER_CERT_PATH``) to a ``dockyard serve`` with generated certificates (a wrong
client certificate is refused, in one line); and docker's context store shared with the real docker CLI
both ways (a context dockyard made is used by ``docker``, one docker made by ``dockyard``; ``context use``
of either moves the other's current context)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.config import Config
from tests.e2e.apiserver import DOCKER, make_certs, needs_docker_cli, running_server, tls_server
from tests.testbed import Testbed

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")

DOCKYARD = str(Path(sys.executable).with_name("dockyard"))


def _env(cfg: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCKER_", "DOCKYARD_ROOT"))}
    env["DOCKER_CONFIG"] = str(cfg)
    return env


def test_mutual_tls_flags_env_and_a_refused_certificate(
    engine_config: Config, testbed: Testbed, tmp_path: Path
) -> None:
    with tls_server(engine_config, tmp_path) as port:
        cenv = _env(tmp_path / "cfg")
        host = f"tcp://127.0.0.1:{port}"
        flags = ["-H", host, "--tlsverify", "--tlscacert", str(tmp_path / "ca.pem"),
                 "--tlscert", str(tmp_path / "client.pem"),
                 "--tlskey", str(tmp_path / "client-key.pem")]  # fmt: skip
        ref = testbed.ref("busybox:latest")

        def dy(
            *args: str, env: dict[str, str] = cenv, input: str | None = None
        ) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [DOCKYARD, *args], capture_output=True, text=True, env=env, input=input, timeout=60
            )

        r = dy(*flags, "pull", ref)
        assert r.returncode == 0, r.stderr
        # a hijacked stream over TLS: stdin in, its end, the output and the exit status back
        r = dy(*flags, "run", "-i", "--rm", ref, "sh", "-c", "cat; exit 3", input="through tls\n")
        assert (r.returncode, r.stdout) == (3, "through tls\n"), r.stderr
        # DOCKER_HOST, DOCKER_TLS_VERIFY and DOCKER_CERT_PATH (ca.pem, cert.pem, key.pem) as the docker CLI's
        certs = tmp_path / "client"
        certs.mkdir()
        for src, dst in (("ca.pem", "ca.pem"), ("client.pem", "cert.pem"), ("client-key.pem", "key.pem")):
            (certs / dst).write_bytes((tmp_path / src).read_bytes())
        tenv = {**cenv, "DOCKER_HOST": host, "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": str(certs)}
        r = dy("images", "--format", "{{.Repository}}", env=tenv)
        assert r.returncode == 0 and ref.rsplit(":", 1)[0] in r.stdout.split(), r.stderr
        # a client certificate the engine's CA did not sign: refused, one line, exit 1
        (certs / "cert.pem").write_bytes((tmp_path / "server.pem").read_bytes())
        (certs / "key.pem").write_bytes((tmp_path / "server-key.pem").read_bytes())
        other = tmp_path / "other"
        other.mkdir()
        make_certs(other)
        (certs / "cert.pem").write_bytes((other / "client.pem").read_bytes())
        (certs / "key.pem").write_bytes((other / "client-key.pem").read_bytes())
        r = dy("ps", env=tenv)
        assert r.returncode == 1 and r.stderr.startswith("Error: "), r.stderr
        assert r.stderr.count("\n") == 1, r.stderr
        # no client certificate at all: refused too
        r = dy("-H", host, "--tlsverify", "--tlscacert", str(tmp_path / "ca.pem"), "ps")
        assert r.returncode == 1 and r.stderr.startswith("Error: "), r.stderr


def test_contexts_shared_with_the_docker_cli(engine_config: Config, testbed: Testbed, tmp_path: Path) -> None:
    needs_docker_cli()
    env = _env(tmp_path / "cfg")

    def dy(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        r = subprocess.run([DOCKYARD, *args], capture_output=True, text=True, env=env, timeout=60)
        assert not check or r.returncode == 0, (args, r.stderr)
        return r

    def dk(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        r = subprocess.run([DOCKER, *args], capture_output=True, text=True, env=env, timeout=60)
        assert not check or r.returncode == 0, (args, r.stderr)
        return r

    with running_server(engine_config) as api:
        ref = testbed.ref("busybox:latest")
        # made by dockyard, used by docker
        r = dy("context", "create", "yard", "--description", "dockyard serve", "--docker", f"host={api.host}")
        assert (r.stdout, r.stderr) == ("yard\n", 'Successfully created context "yard"\n')
        ls = dk("context", "ls", "--format", "{{.Name}}|{{.Description}}|{{.DockerEndpoint}}").stdout
        assert f"yard|dockyard serve|{api.host}" in ls.splitlines(), ls
        assert dk("--context", "yard", "pull", "-q", ref).returncode == 0
        assert dk("--context", "yard", "run", "--rm", ref, "echo", "via-docker").stdout == "via-docker\n"
        # the same metadata document, key for key
        assert (
            json.loads(dy("context", "inspect", "yard").stdout)[0]
            == json.loads(dk("context", "inspect", "yard").stdout)[0]
        )
        # made by docker, used by dockyard (--context, DOCKER_CONTEXT, and `use` from either side)
        dk("context", "create", "dk", "--docker", f"host={api.host}")
        assert dy("--context", "dk", "run", "--rm", ref, "echo", "via-dockyard").stdout == "via-dockyard\n"
        r = subprocess.run(
            [DOCKYARD, "ps", "-a", "-q"], capture_output=True, text=True, env={**env, "DOCKER_CONTEXT": "dk"}
        )
        assert r.returncode == 0, r.stderr
        dk("context", "use", "dk")
        assert dy("context", "show").stdout == "dk\n"
        assert dy("images", "--format", "{{.Repository}}").stdout.split() == [ref.rsplit(":", 1)[0]]
        dy("context", "use", "yard")
        assert dk("context", "show").stdout == "yard\n"
        assert "yard *" in dy("context", "ls").stdout
        r = dy("context", "rm", "yard", check=False)
        assert (r.returncode, r.stderr) == (
            1,
            'Error: context "yard" is in use, set -f flag to force remove\n',
        )
        dy("context", "use", "default")
        assert dk("context", "show").stdout == "default\n"
        # -H and --context together: docker's error
        r = dy("-H", api.host, "--context", "dk", "ps", check=False)
        assert r.returncode == 1 and "conflicting options" in r.stderr, r.stderr
        # removed by one, gone for the other
        assert dy("context", "rm", "dk").stdout == "dk\n"
        assert dk("context", "rm", "yard").stdout == "yard\n"
        assert dy("context", "ls", "-q").stdout == "default\n"
        assert dk("context", "ls", "-q").stdout == "default\n"
        # with no host and no context: the in-process engine, as before
        r = dy("--root", str(engine_config.root), "context", "ls")
        assert "(in-process engine)" in r.stdout
