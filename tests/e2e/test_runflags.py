"""``run``/``create`` flags end to end, each checked from inside a real container: namespaces shared with
the host (--pid/--ipc/--uts host) or another container (container:NAME), supplementary groups (``id``, for
run and exec), DNS options (/etc/resolv.conf), sysctls (/proc/sys), cgroup flags (the cgroup's files),
--link (/etc/hosts), --cidfile, -a, --volumes-from, --expose, --log-driver, --label-file; and the local
volume driver's options (a tmpfs volume is a tmpfs inside, a bind volume shows the host directory, and
nothing stays mounted once the last user is gone)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.config import Config
from core.engine import LocalEngine
from core.runtime import cgroups
from tests.e2e.test_containers import Env

GROUP_FILE = "root:x:0:\nadm:x:4:root\nwheel:x:10:root,nobody\nstaff:x:50:nobody\nnogroup:x:65534:\n"


@pytest.fixture
def env(testbed, engine_config: Config) -> Iterator[Env]:  # type: ignore[no-untyped-def]
    engine = LocalEngine(engine_config)
    engine.pull(testbed.ref("busybox:latest"))
    engine.tag_image(testbed.ref("busybox:latest"), "busybox")
    yield Env(engine_config, engine, "busybox")


def _ns(kind: str) -> str:
    return str(os.stat(f"/proc/self/ns/{kind}").st_ino)


def _mounted(path: Path | str) -> bool:
    where = os.path.realpath(path)
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == where for line in f)


def _wait_unmounted(path: Path | str, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while _mounted(path):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


# ------------------------------------------------------------------------------------------ namespaces


def test_pid_ipc_uts_host_share_the_hosts_namespaces(env: Env) -> None:
    script = "for n in pid ipc uts; do stat -L -c %i /proc/self/ns/$n; done; hostname"
    r = env.cli(
        "run", "--rm", "--network", "none", "--pid", "host", "--ipc", "host", "--uts", "host",
        "busybox", "sh", "-c", script, check=True,
    )  # fmt: skip
    assert r.stdout.split() == [_ns("pid"), _ns("ipc"), _ns("uts"), os.uname().nodename]
    # the host's processes are visible, this shell is not PID 1
    r = env.cli(
        "run", "--rm", "--network", "none", "--pid", "host", "busybox", "sh", "-c", "echo $$; ls /proc"
    )
    first, *rest = r.stdout.split()
    assert first != "1" and str(os.getpid()) in rest
    # by default every one of them is the container's own
    r = env.cli("run", "--rm", "--network", "none", "busybox", "sh", "-c", script, check=True)
    own = r.stdout.split()
    assert set(own[:3]).isdisjoint({_ns("pid"), _ns("ipc"), _ns("uts")})


def test_pid_and_ipc_of_another_container(env: Env) -> None:
    env.cli(
        "run", "-d", "--name", "donor", "--network", "none", "--ipc", "shareable",
        "busybox", "sh", "-c", "echo shared > /dev/shm/note; exec sleep 60", check=True,
    )  # fmt: skip
    donor = json.loads(env.cli("inspect", "donor", check=True).stdout)[0]
    r = env.cli(
        "run", "--rm", "--network", "none", "--pid", "container:donor", "--ipc", "container:donor",
        "busybox", "sh", "-c", "ps -o comm; cat /dev/shm/note; stat -L -c %i /proc/self/ns/ipc", check=True,
    )  # fmt: skip
    lines = r.stdout.split()
    assert "sleep" in lines  # the donor's PID 1, seen from the joiner
    assert "shared" in lines
    donor_ipc = env.cli("exec", "donor", "stat", "-L", "-c", "%i", "/proc/self/ns/ipc", check=True).stdout
    assert lines[-1] == donor_ipc.strip()
    shm = env.config.paths.container(donor["Id"]) / "shm"
    assert _mounted(shm)
    # a private (the default) container's IPC cannot be joined, as docker's
    env.cli("run", "-d", "--name", "private", "--network", "none", "busybox", "sleep", "60", check=True)
    r = env.cli("run", "--rm", "--network", "none", "--ipc", "container:private", "busybox", "true")
    assert r.returncode == 125 and "non-shareable IPC" in r.stderr
    r = env.cli("run", "--rm", "--network", "none", "--pid", "container:nosuch", "busybox", "true")
    assert r.returncode == 125 and "No such container: nosuch" in r.stderr
    env.cli("rm", "-f", "donor", "private", check=True)
    assert _wait_unmounted(shm)  # the shareable /dev/shm goes with its container
    r = env.cli("run", "--rm", "--network", "none", "--ipc", "none", "busybox", "ls", "/dev/shm")
    assert r.returncode != 0 and "No such file" in r.stderr


def test_namespace_refusals(env: Env) -> None:
    cases = [
        (["--pid", "foo"], "--pid: invalid PID mode"),
        (["--ipc", "foo"], "Invalid IPC mode: foo"),
        (["--uts", "foo"], "--uts: invalid UTS mode"),
        (["--userns", "foo"], "--userns: invalid USER mode"),
        (["--uts", "host", "-h", "x"], "conflicting options: hostname and the UTS mode"),
        (["--runtime", "crun"], "Unknown runtime specified crun"),
        (["--platform", "linux/s390x"], "cannot run on this host"),
        (["--platform", "foo"], 'error parsing specified platform: "foo"'),
    ]
    for flags, message in cases:
        r = env.cli("run", "--rm", "--network", "none", *flags, "busybox", "true")
        assert r.returncode == 125 and message in r.stderr, (flags, r.stderr)
    host = os.uname().machine.replace("x86_64", "amd64").replace("aarch64", "arm64")
    r = env.cli(
        "run", "--rm", "--network", "none", "--userns", "host", "--runtime", "runc",
        "--platform", f"linux/{host}", "busybox", "echo", "ok",
    )  # fmt: skip
    assert r.returncode == 0 and r.stdout == "ok\n", r.stderr
    assert env.cli("ps", "-aq").stdout == ""


# -------------------------------------------------------------------------------------------- groups


def _groups_image(env: Env) -> None:
    env.cli(
        "run", "--name", "grp", "--network", "none", "busybox", "sh", "-c",
        f"printf '{GROUP_FILE}' > /etc/group", check=True,
    )  # fmt: skip
    env.cli("commit", "grp", "groups", check=True)
    env.cli("rm", "grp", check=True)


def test_supplementary_groups_as_docker_sets_them(env: Env) -> None:
    _groups_image(env)
    # each line as docker 20.10 prints it for the same image (compared by hand against the reference)
    expected = {
        (): "uid=0(root) gid=0(root) groups=0(root),4(adm),10(wheel)",
        ("-u", "nobody"): "uid=65534(nobody) gid=65534(nogroup) groups=10(wheel),50(staff),65534(nogroup)",
        ("-u", "1234"): "uid=1234 gid=0(root) groups=0(root)",
        ("-u", "root:staff"): "uid=0(root) gid=50(staff) groups=50(staff)",
        ("-u", "nobody", "--group-add", "staff", "--group-add", "777", "--group-add", "wheel"): (
            "uid=65534(nobody) gid=65534(nogroup) groups=10(wheel),50(staff),777,65534(nogroup)"
        ),
    }
    for flags, line in expected.items():
        r = env.cli("run", "--rm", "--network", "none", *flags, "groups", "id", check=True)
        assert r.stdout.strip() == line, flags
    r = env.cli("run", "--rm", "--network", "none", "--group-add", "nosuch", "groups", "id")
    assert r.returncode == 125
    assert "Unable to find group nosuch: no matching entries in group file" in r.stderr
    # exec: the container's user and --group-add; -u replaces the user, the added groups stay
    env.cli(
        "run", "-d", "--name", "ex", "--network", "none", "--group-add", "777", "groups", "sleep", "60",
        check=True,
    )  # fmt: skip
    r = env.cli("exec", "ex", "id", check=True)
    assert r.stdout.strip() == "uid=0(root) gid=0(root) groups=0(root),4(adm),10(wheel),777"
    r = env.cli("exec", "-u", "nobody", "ex", "id", check=True)
    assert (
        r.stdout.strip()
        == "uid=65534(nobody) gid=65534(nogroup) groups=10(wheel),50(staff),777,65534(nogroup)"
    )
    env.cli("rm", "-f", "ex", check=True)


# ------------------------------------------------------------------------------- dns, sysctl, hosts


def test_dns_search_and_options(env: Env) -> None:
    for network in ("none", "default"):
        r = env.cli(
            "run", "--rm", "--network", network, "--dns", "192.0.2.53", "--dns-search", "example.com",
            "--dns-search", "corp.example", "--dns-option", "ndots:2", "--dns-option", "rotate",
            "busybox", "cat", "/etc/resolv.conf", check=True,
        )  # fmt: skip
        assert r.stdout == (
            "search example.com corp.example\nnameserver 192.0.2.53\noptions ndots:2 rotate\n"
        ), network
    r = env.cli(
        "run", "--rm", "--network", "none", "--dns", "192.0.2.53", "--dns-search", ".",
        "busybox", "cat", "/etc/resolv.conf", check=True,
    )  # fmt: skip
    assert r.stdout == "nameserver 192.0.2.53\n"
    r = env.cli("run", "--rm", "--network", "none", "--dns-search=-bad-", "busybox", "true")
    assert r.returncode == 125 and "-bad- is not a valid domain" in r.stderr


def test_sysctls_are_set_in_the_containers_namespaces(env: Env) -> None:
    host_forward = Path("/proc/sys/net/ipv4/ip_forward").read_text()
    host_shmmax = Path("/proc/sys/kernel/shmmax").read_text()
    r = env.cli(
        "run", "--rm", "--network", "none", "--sysctl", "net.ipv4.ip_forward=0",
        "--sysctl", "kernel.shmmax=1000000", "--sysctl", "net.ipv4.ping_group_range=0 0",
        "busybox", "cat", "/proc/sys/net/ipv4/ip_forward", "/proc/sys/kernel/shmmax",
        "/proc/sys/net/ipv4/ping_group_range", check=True,
    )  # fmt: skip
    assert r.stdout.split() == ["0", "1000000", "0", "0"]
    assert Path("/proc/sys/net/ipv4/ip_forward").read_text() == host_forward  # the host's are untouched
    assert Path("/proc/sys/kernel/shmmax").read_text() == host_shmmax
    for flags, message in (
        (["--sysctl", "kernel.hostname=x"], "sysctl 'kernel.hostname=x' is not allowed"),
        (["--sysctl", "vm.swappiness=1"], "sysctl 'vm.swappiness=1' is not allowed"),
        (["--network", "host", "--sysctl", "net.ipv4.ip_forward=1"], "not allowed in host network namespace"),
        (["--ipc", "host", "--sysctl", "kernel.shmmax=1"], "is not allowed in the hosts ipc namespace"),
    ):
        r = env.cli("run", "--rm", *flags, "busybox", "true")
        assert r.returncode == 125 and message in r.stderr, flags
    assert Path("/proc/sys/net/ipv4/ip_forward").read_text() == host_forward


def test_link_writes_hosts_entries(env: Env) -> None:
    env.cli(
        "run", "-d", "--name", "web", "-h", "webhost", "--expose", "90/udp", "-p", "80",
        "-e", "GREETING=hello", "-e", "X=theirs", "busybox", "sleep", "60", check=True,
    )  # fmt: skip
    ip = json.loads(env.cli("inspect", "web", check=True).stdout)[0]["NetworkSettings"]["IPAddress"]
    assert ip
    r = env.cli(
        "run", "--rm", "--link", "web:db", "--link", "web", "busybox", "cat", "/etc/hosts", check=True
    )
    assert f"{ip}\tdb webhost web\n" in r.stdout  # docker's legacy link line: alias, host name, name
    assert f"{ip}\tweb webhost\n" in r.stdout
    r = env.cli("run", "--rm", "--link", "web:db", "busybox", "ping", "-c", "1", "-W", "2", "db")
    assert r.returncode == 0, r.stdout + r.stderr
    # docker's legacy link variables on the default bridge (the container's own win)
    r = env.cli(
        "run",
        "--rm",
        "--name",
        "me",
        "--link",
        "web:db-1",
        "-e",
        "DB_1_ENV_X=mine",
        "busybox",
        "env",
        check=True,
    )
    got = set(r.stdout.split())
    assert {
        "DB_1_NAME=/me/db-1",
        f"DB_1_PORT=tcp://{ip}:80",
        f"DB_1_PORT_80_TCP=tcp://{ip}:80",
        f"DB_1_PORT_80_TCP_ADDR={ip}",
        "DB_1_PORT_80_TCP_PORT=80",
        "DB_1_PORT_80_TCP_PROTO=tcp",
        f"DB_1_PORT_90_UDP=udp://{ip}:90",
        "DB_1_ENV_GREETING=hello",
        "DB_1_ENV_X=mine",
    } <= got
    assert not any(v.startswith("DB_1_ENV_PATH=") for v in got)
    r = env.cli("run", "--rm", "--network", "host", "--link", "web", "busybox", "true")
    assert r.returncode == 125 and "host type networking can't be used with links" in r.stderr
    r = env.cli("run", "--rm", "--link", "nosuch:x", "busybox", "true")
    assert r.returncode == 125 and "could not get container for nosuch: No such container: nosuch" in r.stderr
    env.cli("stop", "-t", "0", "web", check=True)
    r = env.cli("run", "--rm", "--link", "web:db", "busybox", "true")
    assert r.returncode == 125 and "Cannot link to a non running container: /web AS" in r.stderr
    env.cli("rm", "web", check=True)
    assert env.cli("ps", "-aq").stdout == ""


# ------------------------------------------------------------------------------- cgroups


def test_cgroup_flags_reach_the_cgroup_files(env: Env) -> None:
    cid = env.cli(
        "run", "-d", "--network", "none", "--cpu-shares", "512", "--cpuset-cpus", "0",
        "--memory-reservation", "10m", "--oom-kill-disable", "busybox", "sleep", "60", check=True,
    ).stdout.strip()  # fmt: skip
    cg = cgroups.Cgroup.open(cid, parent=env.config.cgroup_parent)
    paths = cg.paths()
    if cg.version == "v1":
        assert (paths["cpu"] / "cpu.shares").read_text().strip() == "512"
        assert (paths["cpuset"] / "cpuset.cpus").read_text().strip() == "0"
        assert (paths["memory"] / "memory.soft_limit_in_bytes").read_text().strip() == str(10 << 20)
        assert "oom_kill_disable 1" in (paths["memory"] / "memory.oom_control").read_text()
    else:
        leaf = paths[""]
        assert (leaf / "cpu.weight").read_text().strip() == str(cgroups.shares_to_weight(512))
        assert (leaf / "cpuset.cpus").read_text().strip() == "0"
        assert (leaf / "memory.low").read_text().strip() == str(10 << 20)
    host = json.loads(env.cli("inspect", cid, check=True).stdout)[0]["HostConfig"]
    assert (host["CpuShares"], host["CpusetCpus"], host["MemoryReservation"], host["OomKillDisable"]) == (
        512, "0", 10 << 20, True,
    )  # fmt: skip
    env.cli("rm", "-f", cid, check=True)
    ncpu = len(os.sched_getaffinity(0))
    r = env.cli("run", "--rm", "--cpuset-cpus", f"0-{ncpu + 3}", "busybox", "true")
    assert r.returncode == 125 and "Requested CPUs are not available" in r.stderr
    r = env.cli("run", "--rm", "-m", "8m", "--memory-reservation", "16m", "busybox", "true")
    assert r.returncode == 125 and "memory reservation" in r.stderr


def test_cgroup_parent(env: Env) -> None:
    parent = f"dockyard-test-parent-{os.getpid()}"
    try:
        cid = env.cli(
            "run", "-d", "--network", "none", "--cgroup-parent", f"/{parent}/sub", "busybox", "sleep", "60",
            check=True,
        ).stdout.strip()  # fmt: skip
        cg = cgroups.Cgroup.open(cid, parent=f"{parent}/sub")
        assert cg.pids()  # the container's processes are in it
        assert env.cli("top", cid, check=True).stdout.count("sleep 60") == 1
        env.cli("exec", cid, "true", check=True)
        env.cli("rm", "-f", cid, check=True)
        assert not cg.exists()
    finally:
        cgroups.Cgroup.remove_parent(f"{parent}/sub")
    assert not any(Path(p).is_dir() for p in (f"/sys/fs/cgroup/memory/{parent}", f"/sys/fs/cgroup/{parent}"))


# ------------------------------------------------------------------------------- the client's flags


def test_cidfile(env: Env, tmp_path: Path) -> None:
    cidfile = tmp_path / "cid"
    cid = env.cli("run", "-d", "--cidfile", str(cidfile), "busybox", "sleep", "60", check=True).stdout.strip()
    assert cidfile.read_text() == cid
    r = env.cli("run", "--rm", "--cidfile", str(cidfile), "busybox", "true")
    assert r.returncode == 125 and "container ID file found" in r.stderr
    assert cidfile.read_text() == cid
    env.cli("rm", "-f", cid, check=True)
    other = tmp_path / "other"
    r = env.cli("create", "--cidfile", str(other), "--pull", "never", "nosuch-image")
    assert r.returncode != 0 and not other.exists()  # a failed create leaves no file


def test_attach_picks_the_streams(env: Env) -> None:
    script = "echo out; echo err >&2"
    r = env.cli("run", "--rm", "-a", "stdout", "busybox", "sh", "-c", script, check=True)
    assert (r.stdout, r.stderr) == ("out\n", "")
    r = env.cli("run", "--rm", "-a", "STDERR", "busybox", "sh", "-c", script, check=True)
    assert (r.stdout, r.stderr) == ("", "err\n")
    r = env.cli(
        "run", "--rm", "-a", "stdin", "-a", "stdout", "-i", "busybox", "cat", input="typed\n", check=True
    )
    assert r.stdout == "typed\n"
    r = env.cli("run", "--rm", "-d", "-a", "stdout", "busybox", "true")
    assert r.returncode != 0 and "cannot specify both --attach and --detach" in r.stderr
    r = env.cli("run", "--rm", "-a", "foo", "busybox", "true")
    assert r.returncode == 125 and "valid streams are STDIN, STDOUT and STDERR" in r.stderr


def test_volumes_from(env: Env, tmp_path: Path) -> None:
    host = tmp_path / "host"
    host.mkdir()
    (host / "h").write_text("from host\n")
    env.cli(
        "run", "--name", "src", "--network", "none", "-v", "/data", "-v", f"{host}:/b:ro",
        "busybox", "sh", "-c", "echo in-volume > /data/f", check=True,
    )  # fmt: skip
    r = env.cli(
        "run", "--rm", "--network", "none", "--volumes-from", "src", "busybox", "sh", "-c",
        "cat /data/f /b/h; touch /b/x",
    )  # fmt: skip
    assert r.stdout == "in-volume\nfrom host\n" and "Read-only file system" in r.stderr
    r = env.cli("run", "--rm", "--network", "none", "--volumes-from", "src:ro", "busybox", "touch", "/data/g")
    assert r.returncode != 0 and "Read-only file system" in r.stderr
    r = env.cli(
        "run",
        "--rm",
        "--network",
        "none",
        "--volumes-from",
        "src:rw",
        "busybox",
        "touch",
        "/b/rw",
        check=True,
    )
    assert (host / "rw").exists()
    r = env.cli("run", "--rm", "--volumes-from", "nosuch", "busybox", "true")
    assert r.returncode == 125 and "No such container: nosuch" in r.stderr
    r = env.cli("run", "--rm", "--volumes-from", "src:xx", "busybox", "true")
    assert r.returncode == 125 and "invalid mode: xx" in r.stderr
    env.cli("rm", "-v", "src", check=True)


def test_expose_label_file_and_log_drivers(env: Env, tmp_path: Path) -> None:
    labels = tmp_path / "labels"
    labels.write_text("# comment\na=1\nb=2\n\n")
    env.cli(
        "run", "-d", "--name", "xp", "--expose", "80", "--expose", "90-91/udp", "-p", "8080",
        "--label-file", str(labels), "-l", "b=3", "busybox", "sleep", "60", check=True,
    )  # fmt: skip
    info = json.loads(env.cli("inspect", "xp", check=True).stdout)[0]
    assert set(info["Config"]["ExposedPorts"]) == {"80/tcp", "90/udp", "91/udp", "8080/tcp"}
    assert {k: info["Config"]["Labels"][k] for k in ("a", "b")} == {"a": "1", "b": "3"}
    ports = env.cli("ps", "--format", "{{.Ports}}", check=True).stdout.strip()
    assert ports.startswith("80/tcp, 90-91/udp, 0.0.0.0:"), ports
    env.cli("rm", "-f", "xp", check=True)
    r = env.cli("run", "--rm", "--expose", "foo", "busybox", "true")
    assert r.returncode == 125 and "invalid range format for --expose: foo" in r.stderr

    cid = env.cli("run", "-d", "--log-driver", "none", "busybox", "echo", "hi", check=True).stdout.strip()
    env.cli("wait", cid, check=True)
    assert not (env.config.paths.container(cid) / f"{cid}-json.log").exists()
    r = env.cli("logs", cid)
    assert r.returncode != 0 and "configured logging driver does not support reading" in r.stderr
    env.cli("rm", cid, check=True)
    r = env.cli("run", "--rm", "--log-driver", "none", "busybox", "echo", "attached")
    assert r.stdout == "attached\n"  # an attached client still gets the output
    cid = env.cli("run", "-d", "--log-driver", "local", "busybox", "echo", "kept", check=True).stdout.strip()
    env.cli("wait", cid, check=True)
    assert env.cli("logs", cid, check=True).stdout == "kept\n"
    env.cli("rm", cid, check=True)
    for flags, message in (
        (["--log-driver", "syslog"], 'error looking up logging plugin syslog: plugin "syslog" not found'),
        (["--log-driver", "none", "--log-opt", "max-size=1m"], "invalid logging opts for driver none"),
    ):
        r = env.cli("run", "--rm", *flags, "busybox", "true")
        assert r.returncode == 125 and message in r.stderr


# ------------------------------------------------------------------------------- volume driver options


def test_volume_driver_options_tmpfs_and_bind(env: Env, tmp_path: Path) -> None:
    env.cli(
        "volume",
        "create",
        "-o",
        "type=tmpfs",
        "-o",
        "device=tmpfs",
        "-o",
        "o=size=10m,uid=1000",
        "t",
        check=True,
    )
    info = json.loads(env.cli("volume", "inspect", "t", check=True).stdout)[0]
    assert info["Options"] == {"device": "tmpfs", "o": "size=10m,uid=1000", "type": "tmpfs"}
    data = env.config.paths.volumes / "t" / "_data"
    assert not _mounted(data)  # mounted only while a container uses it
    r = env.cli(
        "run", "--rm", "--network", "none", "-v", "t:/d", "busybox", "sh", "-c",
        "grep ' /d ' /proc/mounts; stat -c %u /d", check=True,
    )  # fmt: skip
    assert r.stdout.startswith("tmpfs /d tmpfs rw,") and "size=10240k,uid=1000" in r.stdout
    assert r.stdout.split()[-1] == "1000"
    assert _wait_unmounted(data)  # the last user is gone
    # two users: it stays mounted until the second one stops
    a = env.cli(
        "run",
        "-d",
        "--network",
        "none",
        "-v",
        "t:/d",
        "busybox",
        "sh",
        "-c",
        "echo a > /d/a; exec sleep 60",
        check=True,
    ).stdout.strip()
    b = env.cli(
        "run", "-d", "--network", "none", "-v", "t:/d", "busybox", "sleep", "60", check=True
    ).stdout.strip()
    assert env.cli("exec", b, "cat", "/d/a", check=True).stdout == "a\n"
    env.cli("rm", "-f", a, check=True)
    time.sleep(0.3)
    assert _mounted(data)
    env.cli("stop", "-t", "0", b, check=True)
    assert _wait_unmounted(data)
    env.cli("rm", b, check=True)

    host = tmp_path / "shared"
    host.mkdir()
    (host / "hello").write_text("from the host\n")
    env.cli(
        "volume", "create", "-o", "type=none", "-o", "o=bind", "-o", f"device={host}", "bindvol", check=True
    )
    r = env.cli(
        "run",
        "--rm",
        "--network",
        "none",
        "-v",
        "bindvol:/d",
        "busybox",
        "sh",
        "-c",
        "cat /d/hello; echo back > /d/new",
        check=True,
    )
    assert r.stdout == "from the host\n" and (host / "new").read_text() == "back\n"
    assert _wait_unmounted(env.config.paths.volumes / "bindvol" / "_data")
    env.cli("volume", "rm", "t", "bindvol", check=True)
    assert sorted(p.name for p in host.iterdir()) == ["hello", "new"]  # removing the volume kept the files

    env.cli(
        "volume",
        "create",
        "-o",
        "type=none",
        "-o",
        "o=bind",
        "-o",
        f"device={tmp_path}/missing",
        "bad",
        check=True,
    )
    r = env.cli("run", "--rm", "--network", "none", "-v", "bad:/d", "busybox", "true")
    assert r.returncode == 125
    assert "failed to mount local volume: mount " in r.stderr and "no such file or directory" in r.stderr
    env.cli("volume", "rm", "bad", check=True)
    for opts, message in (
        (["-o", "foo=bar"], 'invalid option: "foo"'),
        (["-o", "type=tmpfs"], 'missing required option: "device"'),
        (["-o", "size=10m"], "quota size requested but no quota support"),
    ):
        r = env.cli("volume", "create", *opts, "v")
        assert r.returncode != 0 and message in r.stderr, opts
    assert not any(_mounted(p / "_data") for p in env.config.paths.volumes.glob("*"))


def test_platform_of_a_local_image_is_checked(env: Env, testbed) -> None:  # type: ignore[no-untyped-def]
    """An image of another platform under the name: --pull never says so (docker's words), else the
    host's platform is pulled and run."""
    ref = testbed.ref("busybox:multi")
    env.engine.pull(ref, platform="linux/arm64")
    host = os.uname().machine.replace("x86_64", "amd64").replace("aarch64", "arm64")
    if host == "arm64":
        pytest.skip("the index's other entry is this host's own platform")
    r = env.cli("run", "--rm", "--pull", "never", "--platform", f"linux/{host}", ref, "true")
    assert r.returncode == 125
    assert (
        f"was found but does not match the specified platform: wanted linux/{host}, actual: linux/arm64"
        in (r.stderr)
    )
    r = env.cli("run", "--rm", "-q", "--platform", f"linux/{host}", ref, "echo", "ran", check=True)
    assert r.stdout == "ran\n"
    arch = json.loads(env.cli("image", "inspect", ref, check=True).stdout)[0]["Architecture"]
    assert arch == host
