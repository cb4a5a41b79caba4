"""The smaller differences from docker that issue #12 (item 15) lists, each on real containers: the init
layer (/.dockerenv, /etc/mtab), HOSTNAME only in the process's environment, the kill events before die,
``rmi`` of a used or built image, ``ps -s``, ``top`` with ps options, ``stats`` I/O columns and
``logs --details``. What docker prints for each was taken from dockerd 20.10 (tests/e2e/test_docker_diff.py
compares the same workflows with a real dockerd)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.config import Config
from core.engine import LocalEngine
from tests.e2e.test_containers import Env


@pytest.fixture
def env(testbed, engine_config: Config) -> Iterator[Env]:  # type: ignore[no-untyped-def]
    engine = LocalEngine(engine_config)
    engine.pull(testbed.ref("busybox:latest"))
    engine.tag_image(testbed.ref("busybox:latest"), "busybox")
    yield Env(engine_config, engine, "busybox")  # engine_config removes what is left


def _events(e: Env, name: str, since: float) -> list[tuple[str, str]]:
    out = e.cli(
        "events", "--since", f"{since:.3f}", "--until", f"{time.time() + 1:.3f}",
        "--filter", f"container={name}", "--format", "json", check=True,
    ).stdout  # fmt: skip
    rows = [json.loads(line) for line in out.splitlines()]
    return [(r["Action"], r["Actor"]["Attributes"].get("signal", "")) for r in rows]


def test_init_layer_dockerenv_and_mtab_are_there_and_in_no_diff(env: Env) -> None:
    r = env.cli(
        "run", "--name", "il", "busybox", "sh", "-c",
        "readlink /etc/mtab; test -f /.dockerenv && stat -c '%s %a' /.dockerenv; grep -c ' / ' /etc/mtab",
        check=True,
    )  # fmt: skip
    assert r.stdout.split("\n")[:3] == ["/proc/mounts", "0 755", "1"]
    # none of it is the container's own change, nor the mountpoints of /proc, /sys, /dev
    assert env.cli("diff", "il", check=True).stdout == ""
    env.cli("commit", "il", "il-image", check=True)
    hist = env.engine.history("il-image")
    assert hist[0].size == 0  # the committed layer is empty: the init layer is not the container's
    # a container made from the committed image has them again, from its own init layer
    r = env.cli("run", "--rm", "il-image", "sh", "-c", "readlink /etc/mtab; ls -a / | grep -c dockerenv")
    assert r.stdout == "/proc/mounts\n1\n"


def test_hostname_is_in_the_process_env_only_and_config_env_is_dockers_merge(env: Env) -> None:
    env.cli("create", "--name", "he", "-h", "myhost", "-e", "A=1", "-e", "PATH=/bin", "busybox", check=True)
    config_env = json.loads(env.cli("inspect", "-f", "{{json .Config.Env}}", "he", check=True).stdout)
    # docker: the request's variables first, then the image's it does not set; no HOSTNAME
    assert config_env == ["A=1", "PATH=/bin"]
    env.cli("create", "--name", "he2", "-e", "A=1", "busybox", check=True)
    config_env = json.loads(env.cli("inspect", "-f", "{{json .Config.Env}}", "he2", check=True).stdout)
    assert config_env[0] == "A=1" and not any(e.startswith("HOSTNAME=") for e in config_env)
    r = env.cli("start", "-a", "he")
    r = env.cli("run", "--rm", "-h", "myhost", "-t", "-e", "A=1", "busybox", "env")
    lines = r.stdout.replace("\r", "").splitlines()
    assert lines[:3] == [
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOSTNAME=myhost",
        "TERM=xterm",
    ]
    assert "A=1" in lines
    # exec sees the same environment
    env.cli("run", "-d", "--name", "he3", "-h", "h3", "busybox", "sleep", "60", check=True)
    assert "HOSTNAME=h3" in env.cli("exec", "he3", "env", check=True).stdout.splitlines()
    env.cli("rm", "-f", "he3", check=True)


def test_stop_and_kill_record_kill_before_die(env: Env) -> None:
    t0 = time.time() - 0.5
    env.cli(
        "run", "-d", "--name", "ev1", "busybox", "sh", "-c", "trap 'exit 0' TERM; sleep 60 & wait", check=True
    )
    time.sleep(0.3)
    env.cli("stop", "ev1", check=True)
    assert _events(env, "ev1", t0)[2:] == [("kill", "15"), ("die", ""), ("stop", "")]
    # sleep as PID 1 ignores SIGTERM: the stop timeout sends SIGKILL, with an event of its own
    env.cli("run", "-d", "--name", "ev2", "busybox", "sleep", "60", check=True)
    env.cli("stop", "-t", "1", "ev2", check=True)
    assert _events(env, "ev2", t0)[2:] == [("kill", "15"), ("kill", "9"), ("die", ""), ("stop", "")]
    env.cli("run", "-d", "--name", "ev3", "busybox", "sleep", "60", check=True)
    env.cli("kill", "ev3", check=True)
    env.cli("wait", "ev3", check=True)
    assert _events(env, "ev3", t0)[2:] == [("kill", "9"), ("die", "")]


def test_rmi_force_deletes_an_image_a_stopped_container_uses(env: Env) -> None:
    env.cli("run", "--name", "maker", "busybox", "sh", "-c", "echo x > /f", check=True)
    image_id = env.cli("commit", "maker", "committed", check=True).stdout.strip()
    env.cli("create", "--name", "user", "committed", "cat", "/f", check=True)
    r = env.cli("rmi", "committed")
    assert r.returncode == 1 and "(must force) - container" in r.stderr
    out = env.cli("rmi", "-f", "committed", check=True).stdout.splitlines()
    assert out == ["Untagged: committed:latest", f"Deleted: {image_id}"]
    assert image_id not in env.cli("images", "-a", "--no-trunc", "-q").stdout
    # the container keeps its layers, so it still runs, as with docker
    r = env.cli("start", "-a", "user")
    assert r.returncode == 0 and r.stdout == "x\n"


def test_rmi_of_a_built_image_removes_its_intermediate_images(env: Env, tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM busybox\nRUN echo one > /1\nRUN echo two > /2\n")
    before = set(env.cli("images", "-a", "-q", "--no-trunc", check=True).stdout.split())
    env.cli("build", "-q", "-t", "built", str(tmp_path), check=True)
    during = set(env.cli("images", "-a", "-q", "--no-trunc", check=True).stdout.split())
    assert len(during - before) == 2  # the image and the intermediate image of its first RUN
    out = env.cli("rmi", "built", check=True).stdout.splitlines()
    assert out[0] == "Untagged: built:latest"
    deleted = [line.split(": ", 1)[1] for line in out[1:]]
    assert set(during - before) <= set(deleted)  # both images, then their layers
    assert len(deleted) == 4
    assert set(env.cli("images", "-a", "-q", "--no-trunc", check=True).stdout.split()) == before


def test_ps_size_column(env: Env) -> None:
    env.cli("run", "--name", "sz", "busybox", "sh", "-c", "head -c 2000 /dev/zero > /f", check=True)
    out = env.cli("ps", "-a", "-s", check=True).stdout.splitlines()
    assert out[0].split()[-1] == "SIZE"
    assert out[1].endswith("2kB (virtual 2MB)") or "2kB (virtual " in out[1]
    assert env.cli("ps", "-a", "--format", "{{.Size}}", check=True).stdout.startswith("2kB (virtual ")
    doc = env.engine.inspect_container("sz", size=True)
    assert doc["SizeRw"] == 2000 and doc["SizeRootFs"] > 2000


def test_top_runs_ps_with_the_given_options(env: Env) -> None:
    env.cli("run", "-d", "--name", "tp", "busybox", "sh", "-c", "sleep 60 & sleep 61", check=True)
    time.sleep(0.3)
    out = env.cli("top", "tp", "-o", "pid,comm,args", check=True).stdout.splitlines()
    assert out[0].split() == ["PID", "COMMAND", "COMMAND"]
    rows = sorted(line.split(None, 2)[1:] for line in out[1:])
    assert rows == [["sleep", "sleep 60"], ["sleep", "sleep 61"]]  # sh execs its last command
    pids = {int(line.split()[0]) for line in out[1:]}
    assert pids == set(_cgroup_pids(env, "tp"))
    r = env.cli("top", "tp", "-o", "comm")
    assert r.returncode != 0 and "Couldn't find PID field in ps output" in r.stderr
    env.cli("rm", "-f", "tp", check=True)


def _cgroup_pids(e: Env, name: str) -> list[int]:
    titles, rows = e.engine.container_top(name)
    at = titles.index("PID")
    return [int(r[at]) for r in rows]


def test_stats_net_and_block_io_columns(env: Env) -> None:
    env.cli("run", "-d", "--name", "st", "busybox", "sleep", "60", check=True)
    gateway = env.config.bip.split("/")[0] if env.config.bip else ""
    assert gateway
    env.cli("exec", "st", "ping", "-c", "2", "-W", "1", gateway)  # some traffic both ways
    out = env.cli("stats", "--no-stream", "st", check=True).stdout.splitlines()
    assert "NET I/O" in out[0] and "BLOCK I/O" in out[0]
    net = env.cli("stats", "--no-stream", "--format", "{{.NetIO}}|{{.BlockIO}}", "st", check=True).stdout
    rx, tx = net.split("|")[0].split(" / ")
    assert rx != "0B" and tx != "0B" and rx.endswith("B") and tx.endswith("B")
    assert " / " in net.split("|")[1]
    s = env.engine.container_stats("st")
    assert s.net_rx > 0 and s.net_tx > 0
    env.cli("rm", "-f", "st", check=True)


def test_logs_details_show_the_log_opt_labels_and_env(env: Env) -> None:
    env.cli(
        "run", "--name", "ld", "--label", "app=web", "-e", "TIER=db", "--log-opt", "labels=app",
        "--log-opt", "env=TIER", "busybox", "sh", "-c", "echo out; echo err >&2", check=True,
    )  # fmt: skip
    r = env.cli("logs", "--details", "ld", check=True)
    assert r.stdout == "TIER=db,app=web out\n" and r.stderr == "TIER=db,app=web err\n"
    assert env.cli("logs", "ld", check=True).stdout == "out\n"
    log = env.engine.container_log_path("ld")
    assert log is not None
    first = json.loads(log.read_text().splitlines()[0])
    assert list(first) == ["log", "stream", "attrs", "time"] and first["attrs"] == {
        "TIER": "db",
        "app": "web",
    }
    env.cli("run", "--name", "plain", "busybox", "echo", "hi", check=True)
    assert env.cli("logs", "--details", "plain", check=True).stdout == " hi\n"
