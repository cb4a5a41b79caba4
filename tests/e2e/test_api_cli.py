"""The docker CLI (v28, negotiating API 1.43) against ``dockyard serve`` on a temp socket over the test
engine root: the everyday verbs, build/commit/save/load, networks, volumes, a published port answered by
curl, and ``run -it``/``exec -it`` through a real pty (typed input, ctrl-p ctrl-q, attach)."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest

from core.config import Config
from tests.e2e.apiserver import DOCKER, ApiServer, needs_docker_cli, running_server
from tests.testbed import Testbed

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")


@pytest.fixture
def api(engine_config: Config) -> Iterator[ApiServer]:
    needs_docker_cli()
    with running_server(engine_config) as server:
        yield server


def test_pull_run_ps_logs_exec_cp_stop_rm(api: ApiServer, testbed: Testbed, tmp_path: Path) -> None:
    ref = testbed.ref("busybox:latest")
    out = api.docker("pull", ref).stdout
    assert "Pull complete" in out or "Already exists" in out, out
    assert f"Status: Downloaded newer image for {ref}" in out
    assert ref.rsplit(":", 1)[0] in api.docker("images").stdout

    # run --rm: output and exit code, and nothing left
    assert api.docker("run", "--rm", ref, "echo", "hello").stdout == "hello\n"
    r = api.docker("run", "--rm", ref, "sh", "-c", "echo out; echo err >&2; exit 3", check=False)
    assert (r.returncode, r.stdout, r.stderr) == (3, "out\n", "err\n")
    assert api.docker("ps", "-aq").stdout == ""
    assert api.docker("run", "-i", "--rm", ref, "cat", input="piped\n").stdout == "piped\n"
    r = api.docker("run", "--rm", ref, "no-such-command", check=False)
    assert r.returncode == 127, r.stderr

    # run -d, ps, the same state in dockyard's own ps, inspect --format
    t0 = time.time()
    cid = api.docker(
        "run", "-d", "--name", "web", ref, "sh", "-c", "echo started; exec sleep 300"
    ).stdout.strip()
    assert len(cid) == 64
    ps = api.docker("ps", "--format", "{{.Names}} {{.Status}}").stdout
    assert ps.startswith("web Up"), ps
    assert "web" in api.dockyard("ps").stdout
    # and the other way round: made by dockyard's own command line, seen and managed through the API
    api.dockyard("run", "-d", "--name", "fromcli", ref, "sleep", "300")
    assert "fromcli" in api.docker("ps", "--format", "{{.Names}}").stdout.split()
    api.docker("rm", "-f", "fromcli")
    assert "fromcli" not in api.dockyard("ps", "-a").stdout
    fmt = api.docker("inspect", "--format", "{{.State.Status}} {{.Config.Image}} {{.Name}}", "web").stdout
    assert fmt.strip() == f"running {ref} /web"

    # exec and its exit code; exec -i with stdin
    assert api.docker("exec", "web", "cat", "/etc/hostname").stdout.strip() == cid[:12]
    assert api.docker("exec", "web", "sh", "-c", "exit 4", check=False).returncode == 4
    assert (
        api.docker("exec", "-i", "web", "sh", "-c", "cat > /tmp/in; cat /tmp/in", input="abc").stdout == "abc"
    )

    # cp both ways
    src = tmp_path / "up.txt"
    src.write_text("up\n")
    api.docker("cp", str(src), "web:/tmp/up.txt")
    assert api.docker("exec", "web", "cat", "/tmp/up.txt").stdout == "up\n"
    api.docker("cp", "web:/etc/hostname", str(tmp_path / "down"))
    assert (tmp_path / "down").read_text().strip() == cid[:12]
    api.docker("cp", "web:/etc", str(tmp_path / "etcdir"))
    assert (tmp_path / "etcdir" / "hostname").is_file()

    # logs -f of a container that prints and ends; logs with tail and timestamps
    api.docker(
        "run", "-d", "--name", "talker", ref, "sh", "-c", "for i in 1 2 3; do echo l$i; sleep 0.2; done"
    )
    assert api.docker("logs", "-f", "talker", timeout=20).stdout == "l1\nl2\nl3\n"
    assert api.docker("logs", "--tail", "1", "talker").stdout == "l3\n"
    stamped = api.docker("logs", "-t", "talker").stdout.splitlines()
    assert stamped[0].endswith(" l1") and stamped[0][:4].isdigit()
    assert api.docker("wait", "talker").stdout.strip() == "0"

    # stats, top, system df, events
    stats = api.docker("stats", "--no-stream", "--format", "{{.Name}} {{.CPUPerc}} {{.PIDs}}", "web").stdout
    assert stats.startswith("web ") and stats.strip().endswith("1"), stats
    assert "sleep 300" in api.docker("top", "web").stdout
    # NET I/O: the bytes of the container's interfaces, after some traffic to its gateway
    gateway = api.docker("inspect", "-f", "{{.NetworkSettings.Gateway}}", "web").stdout.strip()
    api.docker("exec", "web", "ping", "-c", "3", "-W", "1", gateway, check=False)
    net_io = api.docker("stats", "--no-stream", "--format", "{{.NetIO}}", "web").stdout.strip()
    rx, _, tx = net_io.partition(" / ")
    assert rx != "0B" and tx != "0B" and tx, net_io
    # the CPU % docker computes from cpu_stats and precpu_stats: a busy loop shows, a sleeper does not
    api.docker("run", "-d", "--name", "busy", ref, "sh", "-c", "while :; do :; done")
    time.sleep(0.5)
    percent = api.docker("stats", "--no-stream", "--format", "{{.Name}} {{.CPUPerc}}", "busy", "web").stdout
    cpu = {line.split()[0]: float(line.split()[1].rstrip("%")) for line in percent.splitlines()}
    assert cpu["busy"] > 10 and cpu["web"] < 5, cpu
    api.docker("rm", "-f", "busy")
    df = api.docker("system", "df").stdout
    assert df.splitlines()[1].split()[:3] == ["Images", "1", "1"], df
    events = api.docker("events", "--since", str(int(t0) - 1), "--until", str(int(time.time()) + 1)).stdout
    assert "container create " + cid in events and "container start " + cid in events
    assert "(image=" in events and "name=fromcli" in events  # the command line's events are here too

    # stop (twice: the second is docker's 304, no error), rm, and stop of a missing one
    api.docker("stop", "-t", "1", "web")
    assert api.docker("stop", "web").returncode == 0
    assert api.docker("inspect", "--format", "{{.State.Status}}", "web").stdout.strip() == "exited"
    api.docker("rm", "web", "talker")
    r = api.docker("rm", "web", check=False)
    assert r.returncode == 1 and "Error response from daemon: No such container: web" in r.stderr
    assert api.docker("ps", "-aq").stdout == ""


def test_build_commit_save_load(api: ApiServer, testbed: Testbed, tmp_path: Path) -> None:
    ref = testbed.ref("busybox:latest")
    api.docker("pull", "-q", ref)
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(
        f'FROM {ref}\nARG WHO=nobody\nCOPY greeting /greeting\nRUN echo "built for $WHO" > /who\n'
        'LABEL purpose=api-test\nCMD ["cat", "/greeting", "/who"]\n'
    )
    (ctx / "greeting").write_text("hello from the context\n")
    out = api.docker("build", "--build-arg", "WHO=api", "-t", "built:1", str(ctx)).stdout
    assert "Successfully built" in out and "Successfully tagged" in out, out
    assert api.docker("run", "--rm", "built:1").stdout == "hello from the context\nbuilt for api\n"
    labels = api.docker("inspect", "--format", "{{json .Config.Labels}}", "built:1").stdout
    assert json.loads(labels)["purpose"] == "api-test"
    bad = ctx / "Dockerfile.bad"
    bad.write_text(f"FROM {ref}\nRUN exit 7\n")
    r = api.docker("build", "-f", str(bad), str(ctx), check=False)
    assert r.returncode == 1, r

    api.docker("run", "--name", "tocommit", ref, "sh", "-c", "echo changed > /changed")
    image_id = api.docker("commit", "-m", "a change", "tocommit", "committed:v1").stdout.strip()
    assert image_id.startswith("sha256:")
    assert api.docker("run", "--rm", "committed:v1", "cat", "/changed").stdout == "changed\n"
    api.docker("rm", "tocommit")

    saved = tmp_path / "saved.tar"
    with open(saved, "wb") as f:
        subprocess.run([DOCKER, "save", "committed:v1"], stdout=f, check=True, env=api.env(), timeout=60)
    api.docker("rmi", "committed:v1")
    assert "committed" not in api.docker("images").stdout
    with open(saved, "rb") as f:
        loaded = subprocess.run(
            [DOCKER, "load"], stdin=f, capture_output=True, text=True, env=api.env(), timeout=60, check=True
        )
    assert "Loaded image: committed:v1" in loaded.stdout
    assert api.docker("run", "--rm", "committed:v1", "cat", "/changed").stdout == "changed\n"
    history = api.docker("history", "committed:v1").stdout
    assert "IMAGE" in history.splitlines()[0]


def test_networks_volumes_and_a_published_port(api: ApiServer, testbed: Testbed) -> None:
    ref = testbed.ref("busybox:latest")
    api.docker("pull", "-q", ref)
    api.docker("network", "create", "apinet")
    # docker's three built-in networks are listed beside the user's (the pseudo ones inspected by their id)
    listed = api.docker("network", "ls", "--format", "{{.Name}} {{.Driver}}").stdout.splitlines()
    assert {"apinet bridge", "bridge bridge", "host host", "none null"} <= set(listed), listed
    assert api.docker("network", "inspect", "--format", "{{.Driver}}", "apinet").stdout.strip() == "bridge"
    api.docker("volume", "create", "apivol")
    assert api.docker("volume", "ls", "-q").stdout.split() == ["apivol"]
    assert api.docker("volume", "inspect", "--format", "{{.Driver}}", "apivol").stdout.strip() == "local"

    api.docker("run", "--rm", "-v", "apivol:/data", ref, "sh", "-c", "echo from-volume > /data/index.html")
    api.docker(
        "run", "-d", "--name", "srv", "--network", "apinet", "-v", "apivol:/www",
        "-p", "127.0.0.1::80", ref, "httpd", "-f", "-p", "80", "-h", "/www",
    )  # fmt: skip
    port = api.docker("port", "srv", "80").stdout.strip().rsplit(":", 1)[1]
    body = ""
    for _ in range(50):
        r = subprocess.run(["curl", "-s", f"http://127.0.0.1:{port}/"], capture_output=True, text=True)
        body = r.stdout
        if body:
            break
        time.sleep(0.1)
    assert body == "from-volume\n"
    members = api.docker("network", "inspect", "--format", "{{range .Containers}}{{.Name}}{{end}}", "apinet")
    assert "srv" in members.stdout

    api.docker("run", "-d", "--name", "other", ref, "sleep", "300")
    api.docker("network", "connect", "apinet", "other")
    assert "apinet" in api.docker("inspect", "--format", "{{json .NetworkSettings.Networks}}", "other").stdout
    api.docker("network", "disconnect", "apinet", "other")
    r = api.docker("network", "rm", "apinet", check=False)
    assert r.returncode != 0 and "Error response from daemon" in r.stderr  # srv is still on it
    r = api.docker("volume", "rm", "apivol", check=False)
    assert r.returncode != 0  # in use by srv
    api.docker("rm", "-f", "srv", "other")
    api.docker("network", "rm", "apinet")
    api.docker("volume", "rm", "apivol")
    assert api.docker("volume", "ls", "-q").stdout == ""


def _spawn(api: ApiServer, *args: str) -> pexpect.spawn:
    return pexpect.spawn(DOCKER, list(args), env=api.env(), timeout=20, dimensions=(30, 100))


def test_run_it_detach_attach_and_exec_it_through_a_pty(api: ApiServer, testbed: Testbed) -> None:
    ref = testbed.ref("busybox:latest")
    api.docker("pull", "-q", ref)
    child = _spawn(api, "run", "-it", "--name", "shell", ref, "sh")
    child.expect(r"# ")
    child.sendline("echo typed-$((40+2))")
    child.expect("typed-42")
    child.sendline("stty size")
    child.expect(r"30 100")
    child.send("\x10\x11")  # ctrl-p ctrl-q: detach
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert api.docker("inspect", "--format", "{{.State.Status}}", "shell").stdout.strip() == "running"

    again = _spawn(api, "attach", "shell")
    time.sleep(0.3)
    again.sendline("echo back-$((1+1))")
    again.expect("back-2")
    again.sendline("exit 9")
    again.expect(pexpect.EOF)
    again.close()
    assert again.exitstatus == 9
    assert api.docker("inspect", "--format", "{{.State.ExitCode}}", "shell").stdout.strip() == "9"

    api.docker("run", "-d", "--name", "box", ref, "sleep", "300")
    ex = _spawn(api, "exec", "-it", "box", "sh")
    ex.expect(r"# ")
    ex.sendline("tty; stty size")
    ex.expect("/dev/pts/")
    ex.expect(r"30 100")
    ex.sendline("exit 5")
    ex.expect(pexpect.EOF)
    ex.close()
    assert ex.exitstatus == 5
    api.docker("rm", "-f", "shell", "box")
