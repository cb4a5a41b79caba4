"""``dockyard compose`` end to end, on the real engine and the test bed's registry: one three-service project
written by the test -- ``web`` built from a Dockerfile here (busybox httpd, a published port) that waits for
``db`` to be healthy (a health check that passes after ~2 s) and for the one-shot ``migrate`` to complete;
a named volume they share, a user network -- taken through ``up -d --wait``, ``ps``, ``logs``, a config
change that recreates only what changed, ``--scale``, ``exec``, ``run --rm`` and ``down -v``, which must
leave no container, network, volume, mount or cgroup behind. The tests share the project and run in order."""

from __future__ import annotations

import ipaddress
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from core.config import Config
from core.engine import LocalEngine
from core.errors import NotFound
from tests.netbed import NetSettings
from tests.testbed.common import make_scratch_dir, remove_scratch, stop_shims_under

DOCKYARD = str(Path(sys.executable).with_name("dockyard"))
P = "shop"  # the project's name

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")

COMPOSE = """\
name: shop
services:
  web:
    build: ./web
    init: true
    depends_on:
      db:
        condition: service_healthy
        restart: true
      migrate:
        condition: service_completed_successfully
    ports:
      - "127.0.0.1::80"
    networks: [back]
    environment:
      GREETING: hello
  db:
    image: busybox
    init: true
    command: ["sh", "-c", "echo db starting; sleep 2; touch /tmp/ready; echo db up; exec sleep 600"]
    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/ready"]
      interval: 300ms
      retries: 40
    volumes:
      - data:/data
    networks:
      back:
        aliases: [database]
        ipv4_address: DB_IP
      private: {}
  migrate:
    image: busybox
    command: ["sh", "-c", "echo schema-1 > /data/schema; echo migrated"]
    volumes:
      - data:/data
    networks: [back]
volumes:
  data: {}
networks:
  back:
    ipam:
      config:
        - subnet: SUBNET
  private:
    internal: true
"""

DOCKERFILE = """\
FROM busybox
RUN mkdir -p /www && echo hello from web > /www/index.html
CMD ["httpd", "-f", "-p", "80", "-h", "/www"]
"""


@dataclass
class Proj:
    config: Config
    engine: LocalEngine
    dir: Path
    ids: dict[str, str] = field(default_factory=dict)  # container name -> id, as last seen

    def cli(
        self, *args: str, timeout: float = 90, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [DOCKYARD, "--root", str(self.config.root), "compose", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=cwd or self.dir,
            env={**os.environ, "DOCKYARD_RUN": str(self.config.run)},
            stdin=subprocess.DEVNULL,
        )

    def ok(self, *args: str) -> subprocess.CompletedProcess[str]:
        r = self.cli(*args)
        assert r.returncode == 0, f"compose {' '.join(args)} -> {r.returncode}: {r.stderr}"
        return r

    def containers(self, all: bool = True) -> dict[str, str]:
        """name -> status of the project's containers."""
        found = self.engine.list_containers(all=all, filters={"label": [f"com.docker.compose.project={P}"]})
        return {c.name: c.status for c in found}

    def id_of(self, name: str) -> str:
        return self.engine.container(name).id


@pytest.fixture(scope="module")
def proj(testbed, _private_networks: NetSettings) -> Iterator[Proj]:  # type: ignore[no-untyped-def]
    base = make_scratch_dir("dockyard-compose-")
    cfg = Config(root=base / "root", run=base / "run", docker_config=base / "docker")
    for d in (cfg.root, cfg.run, base / "docker"):
        d.mkdir()
    _private_networks.apply(cfg)
    engine = LocalEngine(cfg)
    engine.pull(testbed.ref("busybox:latest"))
    engine.tag_image(testbed.ref("busybox:latest"), "busybox")
    project_dir = base / "shop"
    (project_dir / "web").mkdir(parents=True)
    (project_dir / "web" / "Dockerfile").write_text(DOCKERFILE)
    # the user network's subnet: the last /28 of this session's private pool (tests/netbed.py)
    pool = ipaddress.IPv4Network(_private_networks.pool)
    subnet = list(pool.subnets(new_prefix=28))[-1]
    global COMPOSE
    COMPOSE = COMPOSE.replace("SUBNET", str(subnet)).replace("DB_IP", str(subnet[10]))
    (project_dir / "compose.yaml").write_text(COMPOSE)
    try:
        yield Proj(cfg, engine, project_dir)
    finally:
        for c in engine.list_containers(all=True):
            try:
                engine.remove_container(c.id, force=True, volumes=True)
            except Exception:
                pass
        for n in engine.list_networks():
            if n.name.startswith(f"{P}_"):
                try:
                    engine.remove_network(n.id)
                except Exception:
                    pass
        stop_shims_under(base)
        remove_scratch(base)


def _get(url: str, timeout: float = 10) -> str:
    """The page, retrying while the server is not listening yet."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=3) as r:
                return str(r.read().decode())
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_up_wait_builds_waits_on_conditions_and_labels_as_compose(proj: Proj) -> None:
    t0 = time.monotonic()
    r = proj.ok("up", "-d", "--wait")
    lines = r.stderr.splitlines()
    # compose's plain progress, in its order: networks and volumes, the build, creates, then starts as the
    # conditions hold (web only after db is healthy and migrate has exited 0)
    for want in (
        " Network shop_back  Created",
        " Volume shop_data  Created",
        " Service web  Built",
        " Container shop-db-1  Created",
        " Container shop-web-1  Created",
        " Container shop-db-1  Healthy",
        " Container shop-migrate-1  Exited",
        " Container shop-web-1  Started",
    ):
        assert want in lines, r.stderr
    assert lines.index(" Container shop-db-1  Healthy") < lines.index(" Container shop-web-1  Starting")
    assert lines.index(" Container shop-migrate-1  Exited") < lines.index(" Container shop-web-1  Starting")
    assert time.monotonic() - t0 >= 2  # the health check passes only after db's 2 s
    assert proj.containers() == {"shop-db-1": "running", "shop-migrate-1": "exited", "shop-web-1": "running"}

    doc = proj.engine.inspect_container("shop-web-1")
    labels = doc["Config"]["Labels"]
    assert labels["com.docker.compose.project"] == P
    assert labels["com.docker.compose.service"] == "web"
    assert labels["com.docker.compose.container-number"] == "1"
    assert labels["com.docker.compose.oneoff"] == "False"
    assert re.fullmatch(r"[0-9a-f]{64}", labels["com.docker.compose.config-hash"])
    assert labels["com.docker.compose.project.working_dir"] == str(proj.dir)
    assert labels["com.docker.compose.project.config_files"] == str(proj.dir / "compose.yaml")
    assert sorted(labels["com.docker.compose.depends_on"].split(",")) == [
        "db:service_healthy:true",
        "migrate:service_completed_successfully:false",
    ]
    assert labels["com.docker.compose.image"] == proj.engine.image("shop-web").id
    assert labels["com.docker.compose.version"]
    assert doc["Config"]["Env"][:1] == ["GREETING=hello"] or "GREETING=hello" in doc["Config"]["Env"]
    net = proj.engine.inspect_network("shop_back")
    assert net["Labels"]["com.docker.compose.project"] == P
    assert net["Labels"]["com.docker.compose.network"] == "back"
    subnet = net["IPAM"]["Config"][0]["Subnet"]
    assert f"subnet: {subnet}" in COMPOSE
    db_net = proj.engine.inspect_container("shop-db-1")["NetworkSettings"]["Networks"]
    assert sorted(db_net) == ["shop_back", "shop_private"]
    assert db_net["shop_back"]["IPAddress"] == str(ipaddress.IPv4Network(subnet)[10])
    assert proj.engine.inspect_network("shop_private")["Internal"] is True
    vol = proj.engine.inspect_volume("shop_data")
    assert vol["Labels"]["com.docker.compose.project"] == P
    assert vol["Labels"]["com.docker.compose.volume"] == "data"

    # the published port answers on the host; the services find each other by name and alias on `back`
    addr = proj.ok("port", "web", "80").stdout.strip()
    assert re.fullmatch(r"127\.0\.0\.1:\d+", addr), addr
    assert _get(f"http://{addr}/") == "hello from web\n"
    r = proj.ok("exec", "-T", "db", "wget", "-qO-", "http://web/")
    assert r.stdout == "hello from web\n"
    r = proj.ok("exec", "-T", "web", "sh", "-c", "grep -w database /etc/hosts | wc -l")
    assert r.stdout.strip() == "1"

    # up again with nothing changed: nothing is recreated
    before = {n: proj.id_of(n) for n in ("shop-db-1", "shop-web-1")}
    r = proj.ok("up", "-d")
    assert " Container shop-web-1  Running" in r.stderr.splitlines(), r.stderr
    assert {n: proj.id_of(n) for n in before} == before


def test_ps_lists_the_project_as_compose(proj: Proj) -> None:
    out = proj.ok("ps").stdout.splitlines()
    assert re.split(r"\s{2,}", out[0].strip()) == [
        "NAME", "IMAGE", "COMMAND", "SERVICE", "CREATED", "STATUS", "PORTS",
    ]  # fmt: skip
    rows = [re.split(r"\s{2,}", line.strip()) for line in out[1:]]
    assert [r[0] for r in rows] == ["shop-db-1", "shop-web-1"]  # the exited one-shot only with -a
    db, web = rows
    assert db[1:4] == ["busybox", '"sh -c \'echo db star…"', "db"]
    assert re.fullmatch(r"Up .* \(healthy\)", db[5])
    assert web[1] == "shop-web" and web[3] == "web"
    assert re.fullmatch(r"127\.0\.0\.1:\d+->80/tcp", web[6])

    listed = [json.loads(line) for line in proj.ok("ps", "-a", "--format", "json").stdout.splitlines()]
    assert [(c["Name"], c["Service"], c["State"]) for c in listed] == [
        ("shop-db-1", "db", "running"),
        ("shop-migrate-1", "migrate", "exited"),
        ("shop-web-1", "web", "running"),
    ]
    assert listed[0]["Health"] == "healthy" and listed[1]["ExitCode"] == 0
    assert (listed[0]["Networks"], listed[0]["Mounts"]) == ("shop_back,shop_private", "shop_data")
    assert listed[0]["LocalVolumes"] == "1"
    assert listed[0]["Project"] == P and listed[0]["Command"] == '"sh -c \'echo db star…"'
    assert re.fullmatch(r"Up .* \(healthy\)", listed[0]["Status"])
    assert proj.ok("ps", "--services").stdout.split() == ["db", "web"]
    assert proj.ok("ps", "-q").stdout.split() == [proj.id_of("shop-db-1"), proj.id_of("shop-web-1")]
    assert proj.ok("ps", "--format", "{{.Service}}:{{.State}}", "web").stdout == "web:running\n"
    ls = proj.ok("ls", "--format", "json").stdout
    assert {"Name": P, "Status": "running(2)", "ConfigFiles": str(proj.dir / "compose.yaml")} in json.loads(
        ls
    )


def test_logs_prefix_each_line_with_the_container(proj: Proj) -> None:
    out = proj.ok("logs").stdout.splitlines()
    # compose pads the names to the longest ("migrate-1") plus one
    assert "db-1       | db starting" in out and "db-1       | db up" in out
    # the one-shot ran twice: the second `up` started its exited container again, as compose's does
    assert out.count("migrate-1  | migrated") == 2
    assert proj.ok("logs", "db", "--tail", "1").stdout == "db-1  | db up\n"
    stamped = proj.ok("logs", "-t", "--tail", "1", "migrate").stdout
    assert re.fullmatch(r"migrate-1  \| \d{4}-\d\d-\d\dT\S+Z migrated\n", stamped), stamped
    assert proj.ok("logs", "--no-log-prefix", "migrate").stdout == "migrated\nmigrated\n"


def test_a_config_change_recreates_only_that_service(proj: Proj) -> None:
    before = {n: proj.id_of(n) for n in ("shop-db-1", "shop-web-1", "shop-migrate-1")}
    (proj.dir / "compose.yaml").write_text(COMPOSE.replace("GREETING: hello", "GREETING: bonjour"))
    r = proj.ok("up", "-d", "--wait")
    lines = r.stderr.splitlines()
    assert " Container shop-web-1  Recreated" in lines, r.stderr
    assert not [line for line in lines if "Recreate" in line and "web" not in line], r.stderr
    after = {n: proj.id_of(n) for n in before}
    assert after["shop-web-1"] != before["shop-web-1"]
    assert after["shop-db-1"] == before["shop-db-1"]
    assert after["shop-migrate-1"] == before["shop-migrate-1"]
    assert "GREETING=bonjour" in proj.engine.inspect_container("shop-web-1")["Config"]["Env"]
    assert _get(f"http://{proj.ok('port', 'web', '80').stdout.strip()}/") == "hello from web\n"

    # db changes: web, which depends on it with `restart: true`, is recreated with it; migrate is not
    before = after
    changed = COMPOSE.replace("GREETING: hello", "GREETING: bonjour").replace("retries: 40", "retries: 41")
    (proj.dir / "compose.yaml").write_text(changed)
    r = proj.ok("up", "-d")
    after = {n: proj.id_of(n) for n in before}
    assert after["shop-db-1"] != before["shop-db-1"] and after["shop-web-1"] != before["shop-web-1"]
    assert after["shop-migrate-1"] == before["shop-migrate-1"]
    lines = r.stderr.splitlines()
    assert lines.index(" Container shop-db-1  Healthy") < lines.index(" Container shop-web-1  Starting")


def test_scale_adds_and_removes_numbered_replicas(proj: Proj) -> None:
    r = proj.ok("up", "-d", "--scale", "web=3")
    assert " Container shop-web-3  Started" in r.stderr.splitlines(), r.stderr
    running = proj.containers(all=False)
    assert [n for n in sorted(running) if n.startswith("shop-web-")] == [
        "shop-web-1",
        "shop-web-2",
        "shop-web-3",
    ]
    assert (
        proj.engine.inspect_container("shop-web-3")["Config"]["Labels"]["com.docker.compose.container-number"]
        == "3"
    )
    assert proj.ok("exec", "-T", "--index", "3", "web", "hostname").stdout.strip()
    r = proj.ok("up", "-d")
    assert " Container shop-web-3  Removed" in r.stderr.splitlines(), r.stderr
    assert [n for n in sorted(proj.containers()) if n.startswith("shop-web-")] == ["shop-web-1"]


def test_exec_and_run_give_the_commands_exit_code(proj: Proj) -> None:
    assert proj.ok("exec", "-T", "web", "cat", "/www/index.html").stdout == "hello from web\n"
    assert proj.cli("exec", "-T", "db", "sh", "-c", "exit 3").returncode == 3
    r = proj.ok("run", "--rm", "-T", "migrate", "cat", "/data/schema")
    assert r.stdout == "schema-1\n"
    r = proj.cli("run", "--rm", "-T", "-e", "CODE=4", "--no-deps", "migrate", "sh", "-c", 'exit "$CODE"')
    assert r.returncode == 4, r.stderr
    # the one-off containers were named <project>-<service>-run-<hex> and are gone
    oneoff = proj.engine.list_containers(all=True, filters={"label": ["com.docker.compose.oneoff=True"]})
    assert oneoff == []
    r = proj.ok("run", "-d", "migrate", "sh", "-c", "trap 'exit 0' TERM; sleep 30 & wait")
    assert re.fullmatch(r"shop-migrate-run-[0-9a-f]{12}\n", r.stdout), r.stdout
    labels = proj.engine.inspect_container(r.stdout.strip())["Config"]["Labels"]
    assert labels["com.docker.compose.oneoff"] == "True"
    assert "com.docker.compose.container-number" not in labels


def test_lifecycle_verbs_top_images_and_config(proj: Proj) -> None:
    r = proj.ok("stop", "-t", "1", "web")
    assert r.stderr.splitlines() == [" Container shop-web-1  Stopping", " Container shop-web-1  Stopped"]
    assert proj.containers()["shop-web-1"] == "exited"
    r = proj.ok("start", "web")
    assert " Container shop-web-1  Started" in r.stderr.splitlines(), r.stderr
    proj.ok("pause", "web")
    assert proj.containers()["shop-web-1"] == "paused"
    proj.ok("unpause", "web")
    proj.ok("restart", "-t", "1", "web")
    assert proj.containers()["shop-web-1"] == "running"
    top = proj.ok("top", "db").stdout.splitlines()
    assert top[0] == "shop-db-1" and top[1].split()[:2] == ["UID", "PID"]
    assert any("sleep 600" in line for line in top[2:]), top
    images = [re.split(r"\s{2,}", line.strip()) for line in proj.ok("images").stdout.splitlines()]
    assert images[0] == ["CONTAINER", "REPOSITORY", "TAG", "IMAGE ID", "SIZE"]
    assert images[-1][:3] == ["shop-web-1", "shop-web", "latest"]
    assert proj.ok("config", "--services").stdout == "db\nmigrate\nweb\n"
    assert proj.ok("config", "--volumes").stdout == "data\n"
    assert "GREETING: bonjour" in proj.ok("config").stdout
    r = proj.ok("kill", "web")
    assert " Container shop-web-1  Killed" in r.stderr.splitlines(), r.stderr
    r = proj.cli("kill", "web")  # nothing left running to kill: compose says so, and succeeds
    assert (r.returncode, r.stderr) == (0, "no container to kill")
    r = proj.ok("rm", "-f", "web")
    assert r.stderr.splitlines()[-1] == " Container shop-web-1  Removed", r.stderr
    assert "shop-web-1" not in proj.containers()
    proj.ok("up", "-d", "--no-deps", "web")
    assert proj.containers()["shop-web-1"] == "running"


def test_down_v_leaves_nothing_behind(proj: Proj) -> None:
    ids = [c.id for c in proj.engine.list_containers(all=True)]
    assert len(ids) == 4  # db, web, migrate and the detached one-off
    r = proj.ok("down", "-v")
    lines = r.stderr.splitlines()
    # reverse dependency order: web before what it depends on
    assert lines.index(" Container shop-web-1  Removed") < lines.index(" Container shop-db-1  Stopping")
    assert " Network shop_back  Removed" in lines and " Network shop_private  Removed" in lines
    assert " Volume shop_data  Removed" in lines
    assert proj.engine.list_containers(all=True) == []
    assert [n.name for n in proj.engine.list_networks()] == ["bridge", "host", "none"]
    assert proj.engine.list_volumes() == []
    assert str(proj.config.root) not in Path("/proc/self/mountinfo").read_text()
    parent = os.environ.get("DOCKYARD_CGROUP_PARENT", "")
    left = [p for p in Path("/sys/fs/cgroup").glob(f"*/{parent}/*") if any(i[:12] in p.name for i in ids)]
    assert left == []
    assert proj.cli("ps", "-a").stdout.splitlines()[1:] == []
    r = proj.ok("down")
    assert r.stderr == 'WARN[0000] Warning: No resource found to remove for project "shop".\n'
    r = proj.cli("exec", "-T", "web", "true")
    assert (r.returncode, r.stderr) == (1, 'service "web" is not running\n')
    r = proj.cli("-p", P, "start", cwd=proj.dir.parent)
    assert (r.returncode, r.stderr) == (1, 'no container found for project "shop": not found\n')


ATTACHED = """\
services:
  once:
    image: busybox
    command: ["sh", "-c", "echo one; echo two >&2"]
  loop:
    image: busybox
    init: true
    profiles: [loop]
    command: ["sh", "-c", "echo looping; exec sleep 600"]
"""


def test_attached_up_streams_prefixed_output_until_the_containers_exit(proj: Proj) -> None:
    (proj.dir / "attached.yaml").write_text(ATTACHED)
    r = proj.ok("-p", "att", "-f", "attached.yaml", "up")
    out = r.stdout.splitlines()
    assert out[0] == "Attaching to once-1"
    assert "once-1  | one" in out and "once-1 exited with code 0" in out
    assert "once-1  | two" in r.stderr.splitlines()
    # `-p NAME down` where there is no compose file: the labels say what belongs to the project
    r = proj.cli("-p", "att", "down", cwd=proj.dir.parent)
    assert r.returncode == 0, r.stderr
    assert r.stderr.splitlines() == [
        " Container att-once-1  Stopping",
        " Container att-once-1  Stopped",
        " Container att-once-1  Removing",
        " Container att-once-1  Removed",
        " Network att_default  Removing",
        " Network att_default  Removed",
    ]


def test_ctrl_c_stops_an_attached_project(proj: Proj) -> None:
    (proj.dir / "attached.yaml").write_text(ATTACHED)
    args = [DOCKYARD, "--root", str(proj.config.root), "compose", "-p", "att", "-f", "attached.yaml"]
    env = {**os.environ, "DOCKYARD_RUN": str(proj.config.run)}
    up = subprocess.Popen(
        [*args, "--profile", "loop", "up", "loop"],
        cwd=proj.dir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert up.stdout is not None
        seen = []
        for line in up.stdout:
            seen.append(line)
            if "loop-1  | looping" in line:
                break
        assert seen[0] == "Attaching to loop-1\n", seen
        up.send_signal(signal.SIGINT)
        _, err = up.communicate(timeout=30)
    finally:
        if up.poll() is None:
            up.kill()
            up.wait()
    assert up.returncode == 130, err
    assert "Gracefully stopping... (press Ctrl+C again to force)" in err.splitlines(), err
    assert " Container att-loop-1  Stopped" in err.splitlines(), err
    assert proj.containers(all=True) == {} or proj.engine.container("att-loop-1").status == "exited"
    proj.ok("-p", "att", "-f", "attached.yaml", "down")


FAILING = """\
services:
  bad:
    image: busybox
    init: true
    command: ["sleep", "600"]
    healthcheck:
      test: ["CMD", "false"]
      interval: 200ms
      retries: 1
  app:
    image: busybox
    command: ["true"]
    depends_on:
      bad:
        condition: service_healthy
  job:
    image: busybox
    command: ["sh", "-c", "exit 3"]
    profiles: [job]
  after:
    image: busybox
    command: ["true"]
    profiles: [job]
    depends_on:
      job:
        condition: service_completed_successfully
  outside:
    image: busybox
    profiles: [ext]
    networks: [ext]
networks:
  ext:
    external: true
    name: no-such-network
"""


def test_failed_dependencies_missing_externals_and_orphans_as_compose(proj: Proj) -> None:
    (proj.dir / "failing.yaml").write_text(FAILING)
    base = ("-p", "fail", "-f", "failing.yaml")
    r = proj.cli(*base, "up", "-d")
    assert r.returncode == 1
    assert r.stderr.splitlines()[-1] == "dependency failed to start: container fail-bad-1 is unhealthy", (
        r.stderr
    )
    assert " Container fail-bad-1  Error" in r.stderr.splitlines()
    assert proj.engine.container("fail-app-1").status == "created"  # never started
    r = proj.cli(*base, "--profile", "job", "up", "-d", "after")
    assert r.returncode == 1
    assert r.stderr.splitlines()[-1] == 'service "job" didn\'t complete successfully: exit 3', r.stderr
    assert (
        ' Container fail-job-1  service "job" didn\'t complete successfully: exit 3' in r.stderr.splitlines()
    )
    r = proj.cli(*base, "--profile", "ext", "up", "-d", "outside")
    assert r.returncode == 1
    assert r.stderr.splitlines()[-1] == "network no-such-network declared as external, but could not be found"
    # a service gone from the file leaves an orphan: warned about, removed only when asked
    (proj.dir / "failing.yaml").write_text(FAILING.replace("  app:\n", "  renamed:\n"))
    r = proj.cli(*base, "up", "-d", "--no-deps", "bad")
    assert "WARN[0000] Found orphan containers ([fail-app-1]) for this project." in r.stderr, r.stderr
    r = proj.cli(*base, "up", "-d", "--no-deps", "--remove-orphans", "bad")
    assert " Container fail-app-1  Removed" in r.stderr.splitlines(), r.stderr
    proj.ok(*base, "down", "-t", "0")
    assert proj.engine.list_containers(all=True) == []


def test_build_push_and_pull_the_services_images(proj: Proj, testbed) -> None:  # type: ignore[no-untyped-def]
    ref = f"{testbed.addr('open')}/compose-e2e/app:1"
    d = proj.dir / "pushing"
    (d / "app").mkdir(parents=True)
    (d / "app" / "Dockerfile").write_text("FROM busybox\nARG MSG\nRUN echo $MSG > /msg\n")
    (d / "compose.yaml").write_text(
        f"services:\n  app:\n    image: {ref}\n    build:\n      context: ./app\n      args:\n"
        "        MSG: built-by-compose\n    command: [cat, /msg]\n"
    )
    base = ("-p", "pushing", "--project-directory", str(d), "-f", str(d / "compose.yaml"))
    r = proj.ok(*base, "build")
    assert r.stderr.splitlines() == [" Service app  Building", " Service app  Built"]
    r = proj.ok(*base, "push")
    assert r.stderr.splitlines() == [" app Pushing ", " app Pushed "]
    proj.engine.remove_image(ref)
    r = proj.ok(*base, "pull")
    assert r.stderr.splitlines() == [" app Pulling ", " app Pulled "]
    assert proj.ok(*base, "run", "--rm", "-T", "app").stdout == "built-by-compose\n"
    proj.ok(*base, "down", "--rmi", "all")
    with pytest.raises(NotFound):
        proj.engine.image(ref)
