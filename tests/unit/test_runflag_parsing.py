"""The run/create flags of issue 12 item 9 and the local volume driver's options: parsing (the real
argparse parser), the Docker JSON mapping both ways, and the checks core makes, in docker's words."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from core.containers.validate import check_create, check_request
from core.dockerjson import create_from_docker, create_to_docker, host_config_from_docker
from core.errors import InvalidArgument
from core.models import ContainerConfig, ContainerCreate, HostConfig, LogConfig
from core.network.names import resolv_content
from core.runtime.hostmounts import parse_options
from core.runtime.linux import MS_BIND, MS_NOEXEC, MS_RDONLY, MS_REC
from core.volumes import check_options
from tui.cli import build_parser
from tui.runflags import parse_attach, parse_expose, parse_link, parse_sysctl, run_config


def _run(*argv: str) -> ContainerCreate:
    args = build_parser(["run"]).parse_args(["run", *argv, "busybox", "true"])
    assert isinstance(args, argparse.Namespace)
    return run_config(args)


def _req(**host: object) -> ContainerCreate:
    return ContainerCreate(ContainerConfig("busybox"), HostConfig(**host))  # type: ignore[arg-type]


def test_every_flag_lands_in_the_request(tmp_path: Path) -> None:
    labels = tmp_path / "labels"
    labels.write_text("# comment\n\na=1\nb=2\n")
    req = _run(
        "--pid", "host", "--ipc", "shareable", "--uts", "host", "--userns", "host",
        "--group-add", "wheel", "--group-add", "777", "--volumes-from", "src:ro",
        "--cidfile", "rel/cid", "--dns-search", "example.com", "--dns-option", "ndots:2",
        "--sysctl", "net.ipv4.ip_forward=1", "--sysctl", "kernel.sem=1 2 3 4",
        "--expose", "80", "--expose", "90-92/udp", "-p", "8080:8080",
        "--link", "web:db", "--link", "/cache", "--log-driver", "local", "-c", "512",
        "--cpuset-cpus", "0-1", "--memory-reservation", "16m", "--oom-kill-disable",
        "--cgroup-parent", "/mine", "--label-file", str(labels), "-l", "b=3", "--runtime", "runc",
        "--platform", "linux/amd64",
    )  # fmt: skip
    h = req.host_config
    assert (h.pid_mode, h.ipc_mode, h.uts_mode, h.userns_mode) == ("host", "shareable", "host", "host")
    assert h.group_add == ["wheel", "777"] and h.volumes_from == ["src:ro"]
    assert Path(h.container_id_file).is_absolute() and h.container_id_file.endswith("/rel/cid")
    assert (h.dns_search, h.dns_options) == (["example.com"], ["ndots:2"])
    assert h.sysctls == {"net.ipv4.ip_forward": "1", "kernel.sem": "1 2 3 4"}
    assert req.config.exposed_ports == ["8080/tcp", "80/tcp", "90/udp", "91/udp", "92/udp"]
    assert h.links == ["web:db", "cache:cache"]
    assert h.log_config == LogConfig("local", {})
    assert (h.cpu_shares, h.cpuset_cpus, h.memory_reservation, h.oom_kill_disable) == (
        512,
        "0-1",
        16 << 20,
        True,
    )
    assert (h.cgroup_parent, h.runtime, req.platform) == ("/mine", "runc", "linux/amd64")
    assert {k: v for k, v in req.config.labels.items()} == {"a": "1", "b": "3"}


def test_attach_flags_set_the_attach_fields() -> None:
    plain = _run()
    assert (plain.config.attach_stdin, plain.config.attach_stdout, plain.config.attach_stderr) == (
        False,
        True,
        True,
    )
    c = _run("-a", "stdout").config
    assert (c.attach_stdin, c.attach_stdout, c.attach_stderr) == (False, True, False)
    c = _run("-a", "STDERR", "-i").config  # -i attaches stdin too, as docker's
    assert (c.attach_stdin, c.attach_stdout, c.attach_stderr) == (True, False, True)
    c = _run("-d", "-i").config
    assert (c.attach_stdin, c.attach_stdout, c.attach_stderr) == (False, False, False)
    with pytest.raises(InvalidArgument, match="cannot specify both --attach and --detach"):
        _run("-d", "-a", "stdout")
    with pytest.raises(InvalidArgument, match="valid streams are STDIN, STDOUT and STDERR"):
        parse_attach(["stdio"])


@pytest.mark.parametrize(
    ("spec", "ports"),
    [
        ("80", ["80/tcp"]),
        ("53/udp", ["53/udp"]),
        ("90-92/UDP", ["90/udp", "91/udp", "92/udp"]),
        ("7-7", ["7/tcp"]),
    ],
)
def test_parse_expose(spec: str, ports: list[str]) -> None:
    assert parse_expose(spec) == ports


@pytest.mark.parametrize("spec", ["foo", "80-", "-80", "92-90", "70000", ""])
def test_parse_expose_refuses(spec: str) -> None:
    with pytest.raises(InvalidArgument, match="invalid range format for --expose"):
        parse_expose(spec)


def test_parse_link_and_sysctl() -> None:
    assert parse_link("web") == "web:web"
    assert parse_link("/web:db") == "web:db"
    with pytest.raises(InvalidArgument):
        parse_link(":db")
    assert parse_sysctl("net.core.somaxconn=1024") == ("net.core.somaxconn", "1024")
    with pytest.raises(InvalidArgument, match="is not allowed"):
        parse_sysctl("net.core.somaxconn")


def test_docker_json_round_trip() -> None:
    req = _run(
        "--pid", "container:a", "--ipc", "none", "--group-add", "10", "--volumes-from", "b",
        "--dns-search", "x.org", "--dns-option", "rotate", "--sysctl", "fs.mqueue.msg_max=20",
        "--link", "c:d", "--log-driver", "none", "--cpu-shares", "100", "--cpuset-cpus", "0",
        "--memory-reservation", "8m", "--oom-kill-disable", "--cgroup-parent", "p", "--runtime", "runc",
        "--uts", "host", "--userns", "host", "--cidfile", "/tmp/cid",
    )  # fmt: skip
    body = create_to_docker(req)
    h = body["HostConfig"]
    assert h["PidMode"] == "container:a" and h["IpcMode"] == "none" and h["UTSMode"] == "host"
    assert h["UsernsMode"] == "host" and h["GroupAdd"] == ["10"] and h["VolumesFrom"] == ["b"]
    assert h["DnsSearch"] == ["x.org"] and h["DnsOptions"] == ["rotate"]
    assert h["Sysctls"] == {"fs.mqueue.msg_max": "20"} and h["Links"] == ["c:d"]
    assert h["LogConfig"] == {"Type": "none", "Config": {}}
    assert (h["CpuShares"], h["CpusetCpus"], h["MemoryReservation"], h["OomKillDisable"]) == (
        100,
        "0",
        8 << 20,
        True,
    )
    assert (h["CgroupParent"], h["Runtime"], h["ContainerIDFile"]) == ("p", "runc", "/tmp/cid")
    back = create_from_docker(body, pull=req.pull)
    assert back.host_config == req.host_config
    assert back.config == req.config
    # what docker's clients send for "not set": nulls and missing keys
    empty = host_config_from_docker(
        {"GroupAdd": None, "Links": None, "Sysctls": None, "OomKillDisable": None}
    )
    assert empty == HostConfig()
    assert create_to_docker(_req())["HostConfig"]["GroupAdd"] is None


@pytest.mark.parametrize(
    ("host", "message"),
    [
        ({"pid_mode": "private"}, "--pid: invalid PID mode"),
        ({"ipc_mode": "foo"}, "Invalid IPC mode: foo"),
        ({"uts_mode": "private"}, "--uts: invalid UTS mode"),
        ({"userns_mode": "private"}, "--userns: invalid USER mode"),
        ({"runtime": "crun"}, "Unknown runtime specified crun"),
        (
            {"log_config": LogConfig("syslog")},
            'error looking up logging plugin syslog: plugin "syslog" not found',
        ),
        ({"log_config": LogConfig("none", {"max-size": "1m"})}, "invalid logging opts for driver none"),
        ({"log_config": LogConfig("local", {"foo": "x"})}, "unknown log opt 'foo'"),
        ({"sysctls": {"kernel.hostname": "x"}}, "sysctl 'kernel.hostname=x' is not allowed"),
        ({"sysctls": {"vm.swappiness": "1"}}, "sysctl 'vm.swappiness=1' is not allowed"),
        (
            {"sysctls": {"net.ipv4.ip_forward": "1"}, "network_mode": "host"},
            'sysctl "net.ipv4.ip_forward" not allowed in host network namespace',
        ),
        (
            {"sysctls": {"fs.mqueue.msg_max": "9"}, "ipc_mode": "host"},
            'sysctl "fs.mqueue.msg_max" is not allowed in the hosts ipc namespace',
        ),
        ({"volumes_from": ["a:rx"]}, "invalid mode: rx"),
        ({"volumes_from": [":ro"]}, "invalid --volumes-from"),
        ({"group_add": [""]}, "invalid --group-add"),
        ({"dns_search": ["-bad-"]}, "-bad- is not a valid domain"),
        ({"dns_search": ["a..b"]}, "a..b is not a valid domain"),
        ({"dns_options": ["nd ots"]}, "invalid --dns-option"),
        ({"links": ["a:b"], "network_mode": "host"}, "host type networking can't be used with links"),
        ({"cpu_shares": -1}, "invalid CPU shares"),
        ({"memory_reservation": 1024}, "minimum memory reservation allowed is 6MB"),
        (
            {"memory": 8 << 20, "memory_reservation": 16 << 20},
            "minimum memory limit can not be less than memory reservation limit",
        ),
        ({"cpuset_cpus": "0-"}, "invalid value 0- for cpuset cpus"),
        ({"cpuset_cpus": "3-1"}, "invalid value 3-1 for cpuset cpus"),
        ({"cgroup_parent": "a/../b"}, "invalid cgroup parent"),
    ],
)
def test_request_refusals(host: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidArgument, match=message.replace("(", r"\(")):
        check_request(_req(**host))


def test_request_accepts_docker_forms() -> None:
    check_request(
        _req(
            pid_mode="container:abc",
            ipc_mode="container:abc",
            sysctls={"kernel.shm_rmid_forced": "1", "net.core.somaxconn": "10", "fs.mqueue.queues_max": "9"},
            dns_search=["example.com", "."],
            links=["a:b"],
            log_config=LogConfig("local", {"max-size": "1m", "max-file": "2"}),
            cgroup_parent="/a/b",
            runtime="runc",
        )
    )
    for mode in ("", "private", "shareable", "host", "none"):
        check_request(_req(ipc_mode=mode))
    hostname = ContainerCreate(ContainerConfig("busybox", hostname="x"), HostConfig(uts_mode="host"))
    with pytest.raises(InvalidArgument, match="conflicting options: hostname and the UTS mode"):
        check_request(hostname)


def test_host_dependent_checks() -> None:
    import os

    ncpu = max(os.sched_getaffinity(0))
    with pytest.raises(InvalidArgument, match="Requested CPUs are not available"):
        check_create(_req(cpuset_cpus=f"0-{ncpu + 1}"))
    check_create(_req(cpuset_cpus=f"0-{ncpu}"))
    bad = ContainerCreate(ContainerConfig("busybox"), platform="linux/s390x")
    with pytest.raises(InvalidArgument, match="cannot run on this host"):
        check_create(bad)
    with pytest.raises(InvalidArgument, match='error parsing specified platform: "foo"'):
        check_create(ContainerCreate(ContainerConfig("busybox"), platform="foo"))


def test_resolv_conf_with_search_and_options() -> None:
    host = (
        "domain corp\nsearch a.example b.example\nnameserver 127.0.0.53\nnameserver 10.0.0.2\noptions edns0\n"
    )
    # nothing asked: the host's file, loopback resolvers dropped
    assert (
        resolv_content([], host)
        == "domain corp\nsearch a.example b.example\nnameserver 10.0.0.2\noptions edns0\n"
    )
    # docker builds the file: search, servers, options, each the host's unless given
    assert resolv_content([], host, ["x.org"], []) == "search x.org\nnameserver 10.0.0.2\noptions edns0\n"
    assert (
        resolv_content(["1.1.1.1"], host, [], ["ndots:3", "rotate"])
        == "search a.example b.example\nnameserver 1.1.1.1\noptions ndots:3 rotate\n"
    )
    assert resolv_content([], "nameserver 127.0.0.1\n", ["."], ["ndots:1"]) == (
        "nameserver 8.8.8.8\nnameserver 8.8.4.4\noptions ndots:1\n"
    )


def test_volume_driver_options() -> None:
    check_options("v", {})
    check_options("v", {"type": "tmpfs", "device": "tmpfs", "o": "size=1m"})
    check_options("v", {"type": "none", "device": "/srv", "o": "bind"})
    check_options("v", {"o": "size=1m"})  # docker accepts it alone (and mounts nothing)
    for opts, message in (
        ({"foo": "bar"}, 'create v: invalid option: "foo"'),
        ({"type": "tmpfs"}, 'create v: missing required option: "device"'),
        ({"device": "/dev/sdb1"}, 'create v: missing required option: "type"'),
        ({"size": "1g"}, "create v: quota size requested but no quota support"),
    ):
        with pytest.raises(InvalidArgument, match=message):
            check_options("v", opts)


def test_mount_option_text_as_flags_and_data() -> None:
    assert parse_options("size=10m,uid=1000") == (0, "size=10m,uid=1000")
    assert parse_options("bind") == (MS_BIND, "")
    assert parse_options("rbind,ro") == (MS_BIND | MS_REC | MS_RDONLY, "")
    assert parse_options("noexec,exec,ro,rw,mode=755") == (0, "mode=755")
    assert parse_options("noexec,,nr_inodes=5") == (MS_NOEXEC, "nr_inodes=5")
