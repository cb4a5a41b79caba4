"""The dockyard command line against remote engines (``-H unix://...``): a ``dockyard serve`` of the
test's own over the test engine root, and a Debian dockerd 20.10 (API 1.41) the test starts on its own
socket, bridge and data root. The same scenario runs against both: pull, run --rm (output, exit codes,
piped stdin, a missing command), run -d, ps, logs, logs -f, exec, exec -it through a pty, inspect, stop,
rm, images, network and volume verbs. Against ``dockyard serve`` the remote answers are also compared
with the local engine's over the same root (``ps``, ``images``, ``inspect``: the same text)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pexpect
import pytest

from core.config import Config
from tests.e2e.apiserver import DOCKER, ApiServer, running_server
from tests.e2e.dockerdiff import Dockerd, start_dockerd
from tests.testbed import Testbed

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")

DOCKYARD = str(Path(sys.executable).with_name("dockyard"))

Run = Callable[..., subprocess.CompletedProcess[str]]


def _client_env(base: Path) -> dict[str, str]:
    """No engine from the environment, and a docker config folder of the test's own (no currentContext)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCKER_", "DOCKYARD_ROOT"))}
    (base / "client-config").mkdir(exist_ok=True)
    env["DOCKER_CONFIG"] = str(base / "client-config")
    return env


def _runner(host: str, env: dict[str, str]) -> Run:
    def run(*args: str, input: str | None = None, check: bool = True, timeout: float = 120):
        r = subprocess.run(
            [DOCKYARD, "-H", host, *args],
            capture_output=True,
            text=True,
            input=input,
            env=env,
            timeout=timeout,
        )
        if check:
            assert r.returncode == 0, f"dockyard -H {host} {' '.join(args)}: rc {r.returncode}\n{r.stderr}"
        return r

    return run


def scenario(run: Run, host: str, env: dict[str, str], ref: str, *, docker_cli: bool = True) -> None:
    """What every engine must do the same through dockyard's command line (``docker_cli``: where the docker
    CLI can reach the same engine, its answers are the reference)."""
    r = run("pull", ref)
    assert ref.rsplit(":", 1)[0].split("/")[-1] in run("images").stdout

    # run --rm: output, exit codes, piped stdin, a command that does not exist
    assert run("run", "--rm", ref, "echo", "hello").stdout == "hello\n"
    r = run("run", "--rm", ref, "sh", "-c", "echo out; echo err >&2; exit 3", check=False)
    assert (r.returncode, r.stdout, r.stderr) == (3, "out\n", "err\n")
    assert run("run", "-i", "--rm", ref, "cat", input="piped\n").stdout == "piped\n"
    r = run("run", "--rm", ref, "no-such-command", check=False)
    assert r.returncode == 127, r.stderr
    assert "no-such-command" in r.stderr and r.stderr.startswith("Error: "), r.stderr
    assert run("ps", "-aq").stdout == ""

    # run -d, ps, logs, logs -f
    cid = run(
        "run", "-d", "--name", "web", ref, "sh", "-c",
        "echo started; i=0; while :; do echo tick$i; i=$((i+1)); sleep 0.2; done",
    ).stdout.strip()  # fmt: skip
    assert len(cid) == 64, cid
    ps = run("ps", "--format", "{{.Names}} {{.Status}}").stdout
    assert ps.startswith("web Up"), ps
    assert run("ps", "-q").stdout.strip() == cid[:12]
    deadline = time.monotonic() + 10
    while "tick2" not in run("logs", "web").stdout:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert run("logs", "web").stdout.startswith("started\ntick0\n")
    follower = subprocess.Popen(
        [DOCKYARD, "-H", host, "logs", "-f", "--tail", "1", "web"], stdout=subprocess.PIPE, env=env, text=True
    )
    try:
        assert follower.stdout is not None
        first = follower.stdout.readline()
        assert first.startswith("tick"), first
        n = int(first[4:])
        assert follower.stdout.readline() == f"tick{n + 1}\n"  # a line written after the follow began
        assert follower.stdout.readline() == f"tick{n + 2}\n"
    finally:
        follower.send_signal(signal.SIGINT)
        follower.wait(10)

    # a line that itself starts like a time stays whole without -t (whose times are then not asked for);
    # with -t each line is led by the engine's time
    text = "2026-01-02T03:04:05Z not a time\nplain\n"
    run("run", "--name", "stamped", ref, "printf", text)
    assert run("logs", "stamped").stdout == text
    stamped = run("logs", "-t", "stamped").stdout.splitlines(keepends=True)
    assert "".join(line.split(" ", 1)[1] for line in stamped) == text
    assert all(line[:4].isdigit() and "T" in line.split(" ", 1)[0] for line in stamped), stamped
    if docker_cli:
        theirs = subprocess.run(
            [DOCKER, "-H", host, "logs", "stamped"], capture_output=True, text=True, env=env, timeout=60
        )
        assert theirs.stdout == text, theirs
    run("rm", "stamped")

    # exec, exec -it through a pty (typed input, the terminal's size, the exit)
    assert run("exec", "web", "echo", "from-exec").stdout == "from-exec\n"
    assert run("exec", "web", "sh", "-c", "exit 4", check=False).returncode == 4
    # a command that does not exist: the exit status the docker CLI gives for this engine (dockerd's exec
    # reports 126, dockyard's 127), and the engine's message
    r = run("exec", "web", "no-such-command", check=False)
    assert r.returncode in (126, 127), r
    if docker_cli:
        d = subprocess.run(
            [DOCKER, "-H", host, "exec", "web", "no-such-command"], capture_output=True, text=True, env=env,
            timeout=30,
        )  # fmt: skip
        assert r.returncode == d.returncode, (r, d)
    assert "no-such-command" in r.stderr + r.stdout, r
    child = pexpect.spawn(
        DOCKYARD, ["-H", host, "exec", "-it", "web", "sh"], env=env, timeout=20, dimensions=(30, 100)
    )
    try:
        child.expect(r"# ")
        child.sendline("echo typed-$((40+2))")
        child.expect("typed-42")
        child.sendline("stty size")
        child.expect("30 100")
        child.sendline("exit 5")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 5

    # cp both ways, with docker's rules for what DEST means
    work = Path(env["DOCKER_CONFIG"]).parent / "cp-work"
    (work / "in" / "sub").mkdir(parents=True, exist_ok=True)
    (work / "in" / "f").write_text("a\n")
    (work / "in" / "sub" / "g").write_text("b\n")
    run("cp", str(work / "in"), "web:/tmp/")
    assert run("exec", "web", "cat", "/tmp/in/sub/g").stdout == "b\n"
    run("cp", str(work / "in" / "f"), "web:/tmp/renamed")
    assert run("exec", "web", "cat", "/tmp/renamed").stdout == "a\n"
    run("cp", "web:/tmp/in", str(work / "out"))
    assert (work / "out" / "sub" / "g").read_text() == "b\n"
    run("cp", "web:/tmp/renamed", str(work / "out" / "h"))
    assert (work / "out" / "h").read_text() == "a\n"
    r = run("cp", "web:/nope", str(work / "x"), check=False)
    assert (r.returncode, r.stderr) == (1, "Error: Could not find the file /nope in container web\n")

    # inspect, stop, rm
    assert run("inspect", "--format", "{{.State.Running}} {{.Name}}", "web").stdout == "true /web\n"
    doc = json.loads(run("inspect", "web").stdout)
    assert doc[0]["Id"] == cid
    assert run("stop", "-t", "1", "web").stdout == "web\n"
    assert run("ps", "-a", "--format", "{{.Names}} {{.State}}").stdout == "web exited\n"
    r = run("rm", "web")
    assert r.stdout == "web\n"
    r = run("inspect", "web", check=False)
    assert (r.returncode, r.stderr) == (1, "Error: No such object: web\n")
    r = run("rm", "web", check=False)
    assert r.returncode == 1 and "No such container: web" in r.stderr, r.stderr

    # build (the classic builder's API): the context sent without what .dockerignore leaves out
    ctx = work / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(f"FROM {ref}\nCOPY . /ctx/\nRUN cat /ctx/hello.txt && echo built\n")
    (ctx / "hello.txt").write_text("hi\n")
    (ctx / "skip.txt").write_text("no\n")
    (ctx / ".dockerignore").write_text("skip.txt\n")
    image_id = run("build", "-q", "-t", "remote-built:1", str(ctx)).stdout.strip()
    assert image_id.startswith("sha256:"), image_id
    listing = run("run", "--rm", "remote-built:1", "ls", "/ctx").stdout.split()
    assert "hello.txt" in listing and "skip.txt" not in listing, listing
    assert "Untagged: remote-built:1" in run("rmi", "remote-built:1").stdout

    # networks and volumes
    net_id = run("network", "create", "remote-net").stdout.strip()
    assert len(net_id) == 64
    assert "remote-net" in run("network", "ls", "--format", "{{.Name}}").stdout.split()
    assert (
        run("network", "inspect", "--format", "{{.Name}} {{.Driver}}", "remote-net").stdout
        == "remote-net bridge\n"
    )
    assert run("network", "rm", "remote-net").stdout == "remote-net\n"
    r = run("network", "rm", "remote-net", check=False)
    assert r.returncode == 1 and "remote-net" in r.stderr and "not found" in r.stderr, r.stderr
    assert run("volume", "create", "remote-vol").stdout == "remote-vol\n"
    assert "remote-vol" in run("volume", "ls", "-q").stdout.split()
    assert (
        run("volume", "inspect", "--format", "{{.Name}} {{.Driver}}", "remote-vol").stdout
        == "remote-vol local\n"
    )
    assert run("volume", "rm", "remote-vol").stdout == "remote-vol\n"
    r = run("volume", "inspect", "remote-vol", check=False)
    assert r.returncode == 1, r.stderr


# ================================================================================ dockyard serve ====


@pytest.fixture
def api(engine_config: Config) -> Iterator[ApiServer]:
    with running_server(engine_config) as server:
        yield server


def _same_answer(run: Run, other: Run, args: tuple[str, ...]) -> None:
    """``run`` and ``other`` print the same for ``args``. Relative times ("7 minutes ago") may turn between
    the two calls (CI once saw 7 then 8): then ``run`` asked again must print what ``other`` did."""
    first = run(*args).stdout
    theirs = other(*args).stdout
    if theirs != first:
        assert run(*args).stdout == theirs, (args, first, theirs)


def test_dockyard_serve_through_the_cli(api: ApiServer, testbed: Testbed) -> None:
    env = _client_env(api.base)
    run = _runner(api.host, env)
    ref = testbed.ref("busybox:latest")
    scenario(run, api.host, env, ref)

    # the same answers as the local engine over the same root
    run("create", "--name", "made", "--label", "k=v", ref, "true")
    # (ps without CREATED: the list's Created is whole seconds, "Less than a second ago" vs "1 second ago")
    ps = (
        "ps",
        "-a",
        "--format",
        "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}",
    )
    for args in (ps, ("images",), ("inspect", "made"), ("network", "ls"), ("volume", "ls")):
        _same_answer(run, api.dockyard, args)
    # and the docker CLI's for this engine
    for args in (ps, ("images",), ("network", "ls"), ("volume", "ls")):
        _same_answer(run, api.docker, args)
    run("rm", "made")


def test_api_version_is_negotiated_down_and_unreachable_engine_is_one_line(
    api: ApiServer, tmp_path: Path
) -> None:
    env = _client_env(api.base)
    r = subprocess.run(
        [DOCKYARD, "-H", f"unix://{tmp_path}/nothing.sock", "ps"],
        capture_output=True,
        text=True,
        env=env,
        timeout=20,
    )
    assert r.returncode == 1
    assert r.stderr.startswith(
        f"Error: Cannot connect to the Docker daemon at unix://{tmp_path}/nothing.sock"
    ), r.stderr
    assert r.stderr.count("\n") == 1, r.stderr
    # DOCKER_HOST chooses the engine as -H does
    r = subprocess.run(
        [DOCKYARD, "version", "--format", "{{.Server.APIVersion}}"],
        capture_output=True, text=True, env={**env, "DOCKER_HOST": api.host}, timeout=20,
    )  # fmt: skip
    assert (r.returncode, r.stdout) == (0, "1.43\n"), r.stderr


# ====================================================================================== dockerd ====


@pytest.fixture
def dockerd(_private_networks, tmp_path_factory) -> Iterator[Dockerd]:  # type: ignore[no-untyped-def]
    """Debian's dockerd on a socket, bridge (dyr<k>, 10.217.k.1/24), address pool (10.218.k.0/24) and data
    root of its own: not the ones tests/e2e/test_docker_diff.py's dockerd uses, so both can run in one
    session."""
    from tests.testbed.common import detach_mounts_under

    slot = _private_networks.slot
    base = Path(tempfile_dir())
    d = start_dockerd(base, slot, name="dyr", nets=(217, 218))
    try:
        yield d
    finally:
        d.stop()
        detach_mounts_under(base)
        subprocess.run(["rm", "-rf", str(base)], check=False)


def tempfile_dir() -> str:
    import tempfile

    return tempfile.mkdtemp(prefix="dockyard-remote-dockerd-")


def test_dockerd_through_the_cli(dockerd: Dockerd, testbed: Testbed) -> None:
    env = _client_env(dockerd.base)
    run = _runner(dockerd.host, env)
    ref = testbed.ref("busybox:latest")
    # dockerd 20.10 speaks API 1.41: negotiated down from dockyard's 1.43
    assert run("version", "--format", "{{.Server.APIVersion}}").stdout == "1.41\n"
    from core.interface import engine_for

    engine = engine_for(host=dockerd.host)
    assert engine.api.version == "1.41"  # type: ignore[attr-defined]
    scenario(run, dockerd.host, env, ref)
    with contextlib.suppress(Exception):
        run("rmi", "-f", ref)
