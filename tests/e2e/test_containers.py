"""Containers end to end: real pulls from the test bed, real namespaces, cgroups and shims, driven through the
``dockyard`` command line as a user would (and through the Engine where the CLI adds nothing)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from core.config import Config
from core.engine import LocalEngine
from core.models import ContainerConfig, ContainerCreate

DOCKYARD = str(Path(sys.executable).with_name("dockyard"))


@dataclass
class Env:
    config: Config
    engine: LocalEngine
    image: str  # "busybox" tag, pulled from the test bed

    def cli(
        self,
        *args: str,
        timeout: float = 60,
        check: bool = False,
        input: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "DOCKYARD_RUN": str(self.config.run)}
        proc = subprocess.run(
            [DOCKYARD, "--root", str(self.config.root), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            input=input,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"dockyard {' '.join(args)} -> {proc.returncode}: {proc.stderr}")
        return proc


@pytest.fixture
def env(testbed, engine_config: Config) -> Iterator[Env]:  # type: ignore[no-untyped-def]
    engine = LocalEngine(engine_config)
    engine.pull(testbed.ref("busybox:latest"))
    engine.tag_image(testbed.ref("busybox:latest"), "busybox")
    e = Env(engine_config, engine, "busybox")
    yield e  # engine_config removes what is left (tests/conftest.py)


def test_run_echo_prints_and_rm_removes(env: Env) -> None:
    r = env.cli("run", "--rm", "busybox", "echo", "hi", check=True)
    assert r.stdout == "hi\n"
    assert env.cli("ps", "-aq").stdout == ""


def test_removed_containers_leave_no_lock_files(env: Env) -> None:
    """Two lock files a container (container-<id>, shim-<id>) would pile up in the run dir forever."""
    from tests.testbed.common import stop_shims_under

    def per_container() -> list[str]:
        return sorted(
            p.name
            for p in env.config.paths.locks.glob("*-*.lock")
            if p.name.startswith(("container-", "shim-"))
        )

    env.cli("run", "--rm", "busybox", "true", check=True)
    env.cli("run", "--name", "kept", "busybox", "true", check=True)
    cid = env.cli("run", "-d", "busybox", "sleep", "60", check=True).stdout.strip()
    kept = env.engine.container("kept").id
    # (the --rm one's shim may still be finishing, its lock not yet gone)
    assert {f"{kind}-{c}.lock" for kind in ("container", "shim") for c in (kept, cid)} <= set(per_container())
    env.cli("rm", "kept", check=True)
    env.cli("rm", "-f", cid, check=True)
    stop_shims_under(env.config.root)  # the --rm and -f shims finish after their command returned
    assert per_container() == []


def test_exit_code_passthrough_and_stays_exited(env: Env) -> None:
    r = env.cli("run", "--name", "three", "busybox", "sh", "-c", "exit 3")
    assert r.returncode == 3
    info = json.loads(env.cli("inspect", "three", check=True).stdout)[0]
    assert info["State"]["Status"] == "exited"
    assert info["State"]["ExitCode"] == 3
    assert info["State"]["Running"] is False
    assert env.cli("ps", "-a", "--filter", "exited=3", "-q").stdout.strip() == info["Id"][:12]


def test_command_not_found_127_and_not_executable_126(env: Env) -> None:
    r = env.cli("run", "--rm", "busybox", "nosuchcmd")
    assert r.returncode == 127
    assert "nosuchcmd" in r.stderr and "not found" in r.stderr
    r = env.cli("run", "--rm", "busybox", "/etc/passwd")
    assert r.returncode == 126, r.stderr


def test_pid1_is_the_command_and_isolation(env: Env) -> None:
    r = env.cli(
        "run",
        "--rm",
        "--hostname",
        "boxy",
        "busybox",
        "sh",
        "-c",
        "echo $$; hostname; grep -E '^(Seccomp|CapEff):' /proc/self/status; ls /proc | grep -c '^[0-9]'",
        check=True,
    )
    lines = r.stdout.split()
    assert lines[0] == "1"
    assert lines[1] == "boxy"
    assert "00000000a80425fb" in r.stdout  # docker's default 14 capabilities
    assert "Seccomp:\t2" in r.stdout or "Seccomp: 2" in r.stdout.replace("\t", " ")
    r = env.cli("run", "--rm", "busybox", "sh", "-c", "echo c > /proc/sysrq-trigger")
    assert r.returncode != 0
    r = env.cli("run", "--rm", "busybox", "mount", "-t", "tmpfs", "x", "/tmp")
    assert r.returncode != 0
    r = env.cli("run", "--rm", "busybox", "cat", "/proc/kcore")
    assert r.returncode != 0 or r.stdout == ""


def test_env_workdir_user_entrypoint(env: Env, tmp_path: Path) -> None:
    envfile = tmp_path / "env"
    envfile.write_text("# comment\nFROM_FILE=yes\n")
    r = env.cli(
        "run",
        "--rm",
        "-e",
        "A=1",
        "--env-file",
        str(envfile),
        "-w",
        "/tmp",
        "-u",
        "nobody",
        "busybox",
        "sh",
        "-c",
        "echo $A $FROM_FILE; pwd; id -u",
        check=True,
    )
    assert r.stdout.split() == ["1", "yes", "/tmp", "65534"]
    r = env.cli("run", "--rm", "--entrypoint", "echo", "busybox", "from", "entrypoint", check=True)
    assert r.stdout == "from entrypoint\n"


def test_memory_limit_oom_kill_gives_137(env: Env) -> None:
    r = env.cli(
        "run",
        "--name",
        "oom",
        "-m",
        "32m",
        "busybox",
        "sh",
        "-c",
        "x=$(head -c 67108864 /dev/zero | tr '\\0' a); echo survived ${#x}",
        timeout=120,
    )
    assert r.returncode == 137, (r.stdout, r.stderr)
    info = json.loads(env.cli("inspect", "oom", check=True).stdout)[0]
    assert info["State"]["OOMKilled"] is True
    assert info["HostConfig"]["Memory"] == 32 * 1024 * 1024


def test_pids_limit(env: Env) -> None:
    r = env.cli(
        "run",
        "--rm",
        "--pids-limit",
        "5",
        "busybox",
        "sh",
        "-c",
        "for i in 1 2 3 4 5 6 7 8; do sleep 5 & done; wait",
        timeout=60,
    )
    assert "fork" in r.stderr.lower() or "resource" in r.stderr.lower(), r.stderr


def test_detached_lifecycle(env: Env) -> None:
    cid = env.cli(
        "run", "-d", "--name", "web", "-l", "tier=front", "busybox", "sleep", "1000", check=True
    ).stdout.strip()
    assert len(cid) == 64
    ps = env.cli("ps", "--format", "json", check=True).stdout.splitlines()
    row = json.loads(ps[0])
    assert row["Names"] == "web" and row["State"] == "running" and row["Status"].startswith("Up")
    assert env.cli("ps", "-q", "--filter", "label=tier=front").stdout.strip() == cid[:12]
    assert env.cli("ps", "-q", "--filter", "name=nope").stdout == ""
    top = env.cli("top", "web", check=True).stdout
    assert "sleep 1000" in top
    stats = env.cli("stats", "--no-stream", "--format", "json", "web", check=True).stdout
    assert json.loads(stats)["Name"] == "web"
    env.cli("pause", "web", check=True)
    assert json.loads(env.cli("inspect", "web").stdout)[0]["State"]["Paused"] is True
    env.cli("unpause", "web", check=True)
    env.cli("rename", "web", "web2", check=True)
    assert env.cli("rm", "web2").returncode != 0  # running: refused without -f
    t0 = time.monotonic()
    env.cli("stop", "-t", "1", "web2", check=True)
    assert time.monotonic() - t0 < 15
    info = json.loads(env.cli("inspect", "web2").stdout)[0]
    assert (
        info["State"]["Status"] == "exited" and info["State"]["ExitCode"] == 137
    )  # sleep ignores SIGTERM as PID 1
    # start again on the same writable layer
    env.cli("start", "web2", check=True)
    env.cli("kill", "-s", "TERM", "web2", check=True)
    env.cli("kill", "web2")
    assert env.cli("wait", "web2", check=True).stdout.strip() in ("137", "143")
    env.cli("rm", "web2", check=True)
    assert env.cli("ps", "-aq").stdout == ""


def test_writable_layer_survives_restart(env: Env) -> None:
    env.cli("run", "--name", "keep", "busybox", "sh", "-c", "echo data > /kept", check=True)
    r = env.cli("start", "-a", "keep")
    assert r.returncode == 0
    c = env.engine.container("keep")
    upper = env.config.paths.container(c.id) / "upper" / "kept"
    assert upper.read_text() == "data\n"


def test_logs_never_lose_a_line(env: Env) -> None:
    n = 200_000
    env.cli("run", "--name", "chatty", "busybox", "seq", "1", str(n), check=True, timeout=120)
    out = env.cli("logs", "chatty", timeout=120, check=True).stdout.split("\n")
    assert out[-1] == ""
    numbers = out[:-1]
    assert len(numbers) == n
    assert numbers == [str(i) for i in range(1, n + 1)]
    tail = env.cli("logs", "--tail", "3", "chatty", check=True).stdout
    assert tail == f"{n - 2}\n{n - 1}\n{n}\n"
    stamped = env.cli("logs", "-t", "--tail", "1", "chatty", check=True).stdout
    assert stamped.split(" ", 1)[1] == f"{n}\n" and stamped[:4].isdigit()


def test_logs_follow_and_stderr(env: Env) -> None:
    env.cli(
        "run",
        "-d",
        "--name",
        "ticker",
        "busybox",
        "sh",
        "-c",
        "for i in 1 2 3; do echo out$i; echo err$i >&2; sleep 0.2; done",
        check=True,
    )
    r = env.cli("logs", "-f", "ticker", timeout=30, check=True)
    assert r.stdout == "out1\nout2\nout3\n"
    assert r.stderr == "err1\nerr2\nerr3\n"


def test_volumes_binds_tmpfs_readonly(env: Env, tmp_path: Path) -> None:
    host = tmp_path / "share"
    host.mkdir()
    (host / "in.txt").write_text("from host\n")
    r = env.cli(
        "run",
        "--rm",
        "-v",
        f"{host}:/share",
        "-v",
        "data:/data",
        "--tmpfs",
        "/scratch",
        "busybox",
        "sh",
        "-c",
        "cat /share/in.txt; echo v > /data/v; echo w > /share/out.txt; "
        "grep ' /scratch ' /proc/mounts | cut -d' ' -f3",
        check=True,
    )
    assert r.stdout == "from host\ntmpfs\n"
    assert (host / "out.txt").read_text() == "w\n"
    r = env.cli("run", "--rm", "-v", "data:/data:ro", "busybox", "sh", "-c", "cat /data/v; echo x > /data/y")
    assert r.stdout == "v\n" and r.returncode != 0
    assert "data" in env.cli("volume", "ls", "-q", check=True).stdout.split()
    r = env.cli("run", "--rm", "--read-only", "busybox", "touch", "/x")
    assert r.returncode != 0
    assert env.cli("volume", "rm", "data", check=True).stdout.strip() == "data"


def test_restart_policy_on_failure(env: Env) -> None:
    env.cli(
        "run",
        "-d",
        "--name",
        "flaky",
        "--restart",
        "on-failure:2",
        "busybox",
        "sh",
        "-c",
        "exit 1",
        check=True,
    )
    deadline = time.monotonic() + 20
    info = {}
    while time.monotonic() < deadline:
        info = json.loads(env.cli("inspect", "flaky").stdout)[0]
        if info["State"]["Status"] == "exited" and info["RestartCount"] == 2:
            break
        time.sleep(0.2)
    assert info["RestartCount"] == 2 and info["State"]["ExitCode"] == 1


def test_killed_shim_is_reconciled(env: Env) -> None:
    env.cli("run", "-d", "--name", "orphan", "busybox", "sleep", "1000", check=True)
    c = env.engine.container("orphan")
    state = json.loads((env.config.paths.container(c.id) / "state.json").read_text())
    os.kill(state["shim_pid"], signal.SIGKILL)
    time.sleep(0.2)
    ps = env.cli("ps", "-q").stdout
    assert ps == ""
    info = json.loads(env.cli("inspect", "orphan").stdout)[0]
    assert info["State"]["Running"] is False
    with pytest.raises(ProcessLookupError):
        for _ in range(50):
            os.kill(c.pid, 0)
            time.sleep(0.05)


def test_twenty_parallel_runs_from_separate_processes(env: Env) -> None:
    def one(i: int) -> subprocess.CompletedProcess[str]:
        return env.cli("run", "--rm", "busybox", "echo", f"n{i}", timeout=120)

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(one, range(20)))
    assert [r.returncode for r in results] == [0] * 20, [r.stderr for r in results if r.returncode]
    assert sorted(r.stdout for r in results) == sorted(f"n{i}\n" for i in range(20))


def test_interactive_tty_through_a_real_pty(env: Env) -> None:
    pexpect = pytest.importorskip("pexpect")
    child = pexpect.spawn(
        DOCKYARD,
        ["--root", str(env.config.root), "run", "-it", "--rm", "busybox", "sh"],
        env={**os.environ, "DOCKYARD_RUN": str(env.config.run)},
        timeout=20,
        dimensions=(30, 100),
        encoding="utf-8",
    )
    try:
        child.expect(r"[#$] ")
        child.sendline("tty; stty size; echo $((6*7))")
        child.expect("/dev/pts/")
        child.expect("30 100")
        child.expect("42")
        child.setwinsize(40, 120)
        time.sleep(0.3)
        child.sendline("stty size")
        child.expect("40 120")
        child.sendline("exit 4")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 4


def test_bad_flags_are_clear_errors(env: Env) -> None:
    for args, words in [
        (["run", "--restart", "sometimes", "busybox", "true"], "restart policy"),
        (["run", "-m", "lots", "busybox", "true"], "invalid size"),
        (["run", "--ulimit", "nofile=10:5", "busybox", "true"], "soft limit"),
        (["run", "-p", "99999:80", "busybox", "true"], "port"),
        (["run", "--security-opt", "bogus", "busybox", "true"], "security-opt"),
        (["run", "--name", "bad name", "busybox", "true"], "invalid container name (bad name)"),
        (["run", "--name", "x", "busybox", "true"], "invalid container name (x)"),  # docker wants two
        (["run", "nosuch/image:tag@", "true"], "invalid reference"),
    ]:
        r = env.cli(*args)
        assert r.returncode == 125, (args, r.stderr)
        assert words in r.stderr.lower(), (args, r.stderr)
        assert r.stderr.count("\n") <= 3
    assert env.cli("ps", "-aq").stdout == ""


def test_name_conflict_and_prune(env: Env) -> None:
    env.cli("create", "--name", "same", "busybox", "true", check=True)
    r = env.cli("create", "--name", "same", "busybox", "true")
    assert r.returncode == 1 and "already in use" in r.stderr  # docker create: 1 (run: 125)
    env.cli("container", "prune", "-f", check=True)
    assert env.cli("ps", "-aq").stdout == ""


def test_events_record_the_lifecycle(env: Env) -> None:
    """By the time ``run`` returns, the events docker has by then are there: die (and destroy with --rm)."""

    def actions(name: str) -> list[str]:
        out = env.cli(
            "events", "--since", "1m", "--until", "0s", "--filter", f"container={name}", "--format", "json",
            check=True,
        ).stdout  # fmt: skip
        return [json.loads(line)["Action"] for line in out.splitlines()]

    env.cli("run", "--rm", "--name", "ev", "busybox", "true", check=True)
    assert actions("ev") == ["create", "attach", "start", "die", "destroy"]  # docker's, attach included
    env.cli("run", "--name", "ev2", "busybox", "true", check=True)
    assert actions("ev2") == ["create", "attach", "start", "die"]
    env.cli("run", "-d", "--name", "ev3", "busybox", "true", check=True)
    env.cli("wait", "ev3", check=True)
    assert actions("ev3") == ["create", "start", "die"]  # nothing attached


def test_engine_api_create_start_wait(env: Env) -> None:
    c = env.engine.create_container(
        ContainerCreate(ContainerConfig(image="busybox", cmd=["sh", "-c", "exit 9"]))
    )
    env.engine.start_container(c.id)
    assert env.engine.wait_container(c.id) == 9
    assert env.engine.container(c.id).status == "exited"


def test_cp_both_directions_and_symlink_safety(env: Env, tmp_path: Path) -> None:
    sentinel = tmp_path / "host-secret"
    sentinel.write_text("host\n")
    env.cli(
        "run",
        "-d",
        "--name",
        "cpbox",
        "busybox",
        "sh",
        "-c",
        f"mkdir -p /d/sub; echo one > /d/a; echo two > /d/sub/b; ln -s {tmp_path} /escape; "
        "ln -s /etc/passwd /d/link; sleep 1000",
        check=True,
    )
    time.sleep(0.3)
    out = tmp_path / "out"
    out.mkdir()
    env.cli("cp", "cpbox:/d", str(out), check=True)
    assert (out / "d" / "a").read_text() == "one\n"
    assert (out / "d" / "sub" / "b").read_text() == "two\n"
    assert os.readlink(out / "d" / "link") == "/etc/passwd"  # copied as a link, not followed on the host
    env.cli("cp", "cpbox:/d/a", str(tmp_path / "renamed"), check=True)
    assert (tmp_path / "renamed").read_text() == "one\n"
    # a symlink in the container that names a host path resolves inside the container
    r = env.cli("cp", "cpbox:/escape/host-secret", str(tmp_path / "stolen"))
    assert r.returncode != 0 and not (tmp_path / "stolen").exists()
    up = tmp_path / "up.txt"
    up.write_text("uploaded\n")
    r = env.cli("cp", str(up), "cpbox:/escape/planted")  # must land in the container, never in tmp_path
    assert not (tmp_path / "planted").exists()
    env.cli("cp", str(up), "cpbox:/d/", check=True)
    env.cli("stop", "-t", "0", "cpbox", check=True)
    # a stopped container: through its overlay, mounted privately
    env.cli("cp", "cpbox:/d/up.txt", str(tmp_path / "back.txt"), check=True)
    assert (tmp_path / "back.txt").read_text() == "uploaded\n"
    tar = env.cli("cp", "cpbox:/d/sub", "-")
    assert tar.returncode == 0 and "sub/b" in tar.stdout
    # the private overlay mount of the stopped container did not leak into the host's mount table
    assert str(env.config.root) not in Path("/proc/self/mountinfo").read_text()


def test_named_volume_gets_the_image_content_first(env: Env) -> None:
    r = env.cli("run", "--rm", "-v", "etcvol:/etc", "busybox", "cat", "/etc/passwd", check=True)
    assert r.stdout.startswith("root:x:0:0:")
    data = env.config.paths.volumes / "etcvol" / "_data" / "group"
    assert data.read_text().startswith("root:x:0:")
    # an existing volume is not refilled
    (env.config.paths.volumes / "etcvol" / "_data" / "group").unlink()
    env.cli("run", "--rm", "-v", "etcvol:/etc", "busybox", "true", check=True)
    assert not data.exists()
    env.cli("volume", "rm", "etcvol", check=True)


def test_log_rotation_and_follow_across_it(env: Env) -> None:
    env.cli(
        "run",
        "-d",
        "--name",
        "rot",
        "--log-opt",
        "max-size=2k",
        "--log-opt",
        "max-file=3",
        "busybox",
        "sh",
        "-c",
        "i=0; while [ $i -lt 400 ]; do i=$((i+1)); echo line$i; done",
        check=True,
    )
    assert env.cli("wait", "rot", check=True).stdout.strip() == "0"
    c = env.engine.container("rot")
    logdir = env.config.paths.container(c.id)
    rotated = sorted(p.name for p in logdir.iterdir() if "-json.log" in p.name)
    assert len(rotated) == 3, rotated  # <id>-json.log, .1, .2: older ones dropped
    lines = env.cli("logs", "rot", check=True).stdout.split()
    assert lines[-1] == "line400" and len(lines) < 400
    assert lines == [f"line{i}" for i in range(401 - len(lines), 401)]  # contiguous, in order, no gaps


def test_init_capabilities_privileged_and_security_opts(env: Env) -> None:
    r = env.cli(
        "run",
        "--rm",
        "--init",
        "busybox",
        "sh",
        "-c",
        "echo $$; cat /proc/1/cmdline | tr '\\0' ' '",
        check=True,
    )
    assert r.stdout.split("\n")[0] != "1"  # our init is PID 1, the command its child
    r = env.cli("run", "--rm", "--cap-drop", "CHOWN", "busybox", "chown", "nobody", "/tmp")
    assert r.returncode != 0
    r = env.cli(
        "run",
        "--rm",
        "--cap-add",
        "SYS_ADMIN",
        "--security-opt",
        "seccomp=unconfined",
        "busybox",
        "mount",
        "-t",
        "tmpfs",
        "x",
        "/tmp",
        check=True,
    )
    r = env.cli(
        "run",
        "--rm",
        "--privileged",
        "busybox",
        "sh",
        "-c",
        "grep CapEff /proc/self/status; grep Seccomp: /proc/self/status",
        check=True,
    )
    assert "CapEff:\t000001ffffffffff" in r.stdout or "Seccomp:\t0" in r.stdout
    r = env.cli(
        "run",
        "--rm",
        "--security-opt",
        "no-new-privileges",
        "busybox",
        "grep",
        "NoNewPrivs",
        "/proc/self/status",
        check=True,
    )
    assert r.stdout.split()[-1] == "1"


def test_ulimit_shm_size_device_stop_signal(env: Env) -> None:
    r = env.cli(
        "run",
        "--rm",
        "--ulimit",
        "nofile=100:200",
        "--shm-size",
        "8m",
        "--device",
        "/dev/null:/dev/mynull",
        "busybox",
        "sh",
        "-c",
        "ulimit -n; ulimit -Hn; df -k /dev/shm | tail -1; echo ok > /dev/mynull",
        check=True,
    )
    out = r.stdout.split("\n")
    assert out[0] == "100" and out[1] == "200"
    assert " 8192 " in out[2]
    import resource

    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard != resource.RLIM_INFINITY:
        r = env.cli("run", "--rm", "--ulimit", f"nofile={hard + 1}:{hard + 1}", "busybox", "true")
        assert r.returncode == 125 and "hard limit" in r.stderr
    env.cli(
        "run",
        "-d",
        "--name",
        "sig",
        "--stop-signal",
        "SIGUSR1",
        "busybox",
        "sh",
        "-c",
        "trap 'echo got-usr1; exit 7' USR1; while true; do sleep 0.1; done",
        check=True,
    )
    time.sleep(0.3)
    env.cli("stop", "sig", check=True)
    assert env.cli("inspect", "-f", "{{.State.ExitCode}}", "sig").stdout.strip() == "7"
    assert "got-usr1" in env.cli("logs", "sig").stdout


def test_attach_and_restart(env: Env) -> None:
    env.cli(
        "run",
        "-d",
        "--name",
        "talker",
        "busybox",
        "sh",
        "-c",
        "i=0; while true; do i=$((i+1)); echo tick$i; sleep 0.2; done",
        check=True,
    )
    proc = subprocess.Popen(
        # without proxying: our SIGTERM below ends the CLI (proxied, PID 1 sh would ignore it, as on docker)
        [DOCKYARD, "--root", str(env.config.root), "attach", "--no-stdin", "--sig-proxy=false", "talker"],
        stdout=subprocess.PIPE,
        env={**os.environ, "DOCKYARD_RUN": str(env.config.run)},
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().decode()
        assert line.startswith("tick")
    finally:
        proc.terminate()
        proc.wait(5)
    before = env.engine.container("talker").started_at
    env.cli("restart", "-t", "1", "talker", check=True)
    after = env.engine.container("talker")
    assert after.status == "running" and after.started_at != before


def test_volume_commands(env: Env) -> None:
    assert env.cli("volume", "create", "--label", "k=v", "v1", check=True).stdout.strip() == "v1"
    info = json.loads(env.cli("volume", "inspect", "v1", check=True).stdout)[0]
    assert info["Name"] == "v1" and info["Labels"] == {"k": "v"} and info["Driver"] == "local"
    env.cli("run", "-d", "--name", "user", "-v", "v1:/v", "busybox", "sleep", "1000", check=True)
    r = env.cli("volume", "rm", "v1")
    assert r.returncode != 0 and "in use" in r.stderr
    env.cli("rm", "-f", "user", check=True)
    anon = env.cli("run", "-v", "/anon", "--name", "anonuser", "busybox", "true", check=True)
    assert anon.returncode == 0
    names = env.cli("volume", "ls", "-q", check=True).stdout.split()
    assert "v1" in names and len(names) == 2
    env.cli("rm", "-v", "anonuser", check=True)  # -v takes the anonymous volume along
    assert env.cli("volume", "ls", "-q", check=True).stdout.split() == ["v1"]
    out = env.cli("volume", "prune", "-f", "-a", check=True).stdout
    assert "v1" in out
    assert env.cli("volume", "ls", "-q").stdout == ""


def test_a_containers_volumes_are_made_at_its_create(env: Env) -> None:
    """As docker: `create -v` makes the named and anonymous volumes before any start, with their events,
    so `volume ls`, `volume rm` (in use, by container id) and `dangling` see them; an anonymous one is
    recorded anonymous (a plain `volume prune` takes it once its container is gone)."""
    t0 = time.time()
    cid = env.cli(
        "create", "--name", "mk", "-v", "/anon", "-v", "named:/n", "busybox", check=True
    ).stdout.strip()
    names = env.cli("volume", "ls", "-q", check=True).stdout.split()
    assert "named" in names and len(names) == 2
    (anon,) = set(names) - {"named"}
    assert env.engine.container("mk").status == "created"
    r = env.cli("volume", "rm", "named")
    assert r.returncode == 1 and r.stderr == f"Error: remove named: volume is in use - [{cid}]\n"
    assert env.cli("volume", "ls", "-q", "-f", "dangling=true", check=True).stdout == ""
    events = env.cli(
        "events", "--since", str(int(t0) - 1), "--until", str(int(time.time()) + 1),
        "--format", "{{.Type}} {{.Action}} {{.Actor.ID}}", check=True,
    ).stdout.splitlines()  # fmt: skip
    events = [e for e in events if e.startswith(("volume ", "container "))]
    assert sorted(events[:2]) == sorted([f"volume create {anon}", "volume create named"]), events
    assert events[2] == f"container create {cid}", events
    env.cli("rm", "mk", check=True)  # without -v: both stay, now dangling
    assert sorted(env.cli("volume", "ls", "-q", "-f", "dangling=true", check=True).stdout.split()) == sorted(
        [anon, "named"]
    )
    out = env.cli("volume", "prune", "-f", check=True).stdout
    assert anon in out and "named" not in out
    assert env.cli("volume", "ls", "-q", check=True).stdout.split() == ["named"]
    env.cli("volume", "rm", "named", check=True)


def test_update_changes_limits_at_once_and_for_the_next_start(env: Env) -> None:
    from core.runtime import cgroups

    env.cli("run", "-d", "--name", "upd", "-m", "64m", "busybox", "sleep", "1000", check=True)
    r = env.cli(
        "update", "-m", "96m", "--memory-swap", "192m", "--pids-limit", "50", "--restart", "always", "upd"
    )
    assert (r.returncode, r.stdout, r.stderr) == (0, "upd\n", "")
    cid = env.engine.container("upd").id
    stats = cgroups.Cgroup.open(cid, parent=env.config.cgroup_parent).stats()
    assert stats.memory_limit == 96 * 1024 * 1024
    doc = env.engine.inspect_container("upd")["HostConfig"]
    assert (doc["Memory"], doc["MemorySwap"], doc["PidsLimit"]) == (96 << 20, 192 << 20, 50)
    assert doc["RestartPolicy"] == {"Name": "always", "MaximumRetryCount": 0}
    # the shim takes the new policy: a process that dies (not a user's stop or kill) is started again
    os.kill(env.engine.container("upd").pid, signal.SIGKILL)
    deadline = time.monotonic() + 15
    while (c := env.engine.inspect_container("upd"))["RestartCount"] < 1 or c["State"]["Status"] != "running":
        assert time.monotonic() < deadline, "the updated restart policy was not applied"
        time.sleep(0.1)
    stats = cgroups.Cgroup.open(cid, parent=env.config.cgroup_parent).stats()
    assert stats.memory_limit == 96 * 1024 * 1024  # the restart made its cgroup with the updated limit
    # docker's refusals, with its wording
    r = env.cli("update", "-m", "4m", "upd")
    assert r.returncode != 0 and "minimum memory limit allowed is 6MB" in r.stderr
    assert "one or more flags" in env.cli("update", "upd").stderr
    env.cli("run", "-d", "--rm", "--name", "gone", "busybox", "sleep", "1000", check=True)
    r = env.cli("update", "--restart", "always", "gone")
    assert "AutoRemove is enabled" in r.stderr
    env.cli("rm", "-f", "upd", "gone", check=True)


def test_diff_lists_added_changed_and_deleted_paths(env: Env) -> None:
    env.cli(
        "run",
        "--name",
        "changer",
        "busybox",
        "sh",
        "-c",
        "echo x > /new.txt; mkdir -p /tmp/d; echo y > /tmp/d/f; echo z >> /etc/passwd; rm /bin/vi",
        check=True,
    )
    r = env.cli("diff", "changer", check=True)
    assert r.stdout.splitlines() == [
        "C /bin",
        "D /bin/vi",
        "C /etc",
        "C /etc/passwd",
        "A /new.txt",
        "C /tmp",
        "A /tmp/d",
        "A /tmp/d/f",
    ]
    assert env.engine.container_changes("changer")[0] == {"Path": "/bin", "Kind": 0}
    assert env.cli("container", "diff", "changer", check=True).stdout == r.stdout
    env.cli("rm", "changer", check=True)
