"""A create request: what ``run``'s flags parse into (tui.runflags), the checks core makes once
(core.containers.validate), and container records written before the request was typed."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from core.config import Paths
from core.containers.remove import hide_container
from core.containers.store import ContainerStore
from core.containers.validate import check_create, check_request
from core.errors import InvalidArgument
from core.models import (
    BindOptions,
    ContainerConfig,
    ContainerCreate,
    DeviceMapping,
    EndpointIPAMConfig,
    EndpointSettings,
    HostConfig,
    HostPortBinding,
    LogConfig,
    Mount,
    NetworkingConfig,
    RestartPolicy,
    TmpfsOptions,
    Ulimit,
    VolumeOptions,
)
from tui.cli import build_parser
from tui.runflags import run_config


def _request(*flags: str) -> ContainerCreate:
    return run_config(build_parser(["run"]).parse_args(["run", *flags, "busybox"]))


def test_every_flag_lands_in_its_docker_field(tmp_path: Path) -> None:
    env_file = tmp_path / "env"
    env_file.write_text("# comment\nFROM_FILE=1\n")
    args = build_parser(["run"]).parse_args(
        [
            "run", "-d", "-i", "-t", "--name", "web", "-e", "A=1", "--env-file", str(env_file),
            "-w", "/w", "-u", "nobody", "--entrypoint", "sh -c", "-h", "box",
            "-v", "/srv:/srv:ro", "-v", "data:/data", "-v", "/anon",
            "--mount", "type=bind,src=/a,dst=/b,bind-propagation=rslave",
            "--mount", "type=volume,dst=/c,volume-nocopy",
            "--mount", "type=tmpfs,dst=/d,tmpfs-size=1k,tmpfs-mode=700",
            "--tmpfs", "/t:size=1m,mode=1777", "--read-only", "--restart", "on-failure:3",
            "-m", "32m", "--memory-swap", "-1", "--cpus", "1.5", "--pids-limit", "50",
            "--cap-add", "NET_ADMIN", "--cap-drop", "CHOWN", "--privileged",
            "--security-opt", "no-new-privileges", "--init", "-l", "k=v",
            "--stop-signal", "SIGINT", "--stop-timeout", "3",
            "--ulimit", "nofile=10:20", "--ulimit", "nproc=5", "--shm-size", "1m",
            "--device", "/dev/fuse", "--device", "/dev/zero:/dev/z:r",
            "--network", "front", "--network-alias", "w", "--ip", "10.9.0.5",
            "-p", "8080:80", "-p", "127.0.0.1::53/udp", "-p", "9000:80", "-P",
            "--dns", "1.1.1.1", "--add-host", "db:10.0.0.2", "--log-opt", "max-size=1m",
            "--platform", "linux/arm64", "--pull", "always",
            "busybox", "echo", "hi",
        ]
    )  # fmt: skip
    assert run_config(args) == ContainerCreate(
        config=ContainerConfig(
            image="busybox",
            hostname="box",
            user="nobody",
            tty=True,
            open_stdin=True,
            attach_stdin=False,  # -d attaches nothing, -i or not (docker's CLI)
            attach_stdout=False,
            attach_stderr=False,
            env=["FROM_FILE=1", "A=1"],
            cmd=["echo", "hi"],
            working_dir="/w",
            entrypoint=["sh", "-c"],
            labels={"k": "v"},
            stop_signal="SIGINT",
            stop_timeout=3,
            exposed_ports=["80/tcp", "53/udp"],  # published ports are exposed too, as docker's CLI does
        ),
        host_config=HostConfig(
            network_mode="front",
            port_bindings={
                "80/tcp": [HostPortBinding("", "8080"), HostPortBinding("", "9000")],
                "53/udp": [HostPortBinding("127.0.0.1", "")],
            },
            publish_all_ports=True,
            restart_policy=RestartPolicy("on-failure", 3),
            mounts=[
                Mount("bind", "/srv", "/srv", True, BindOptions(create_mountpoint=True)),  # -v makes it
                Mount("volume", "/data", "data"),
                Mount("volume", "/anon"),
                Mount("bind", "/b", "/a", bind_options=BindOptions("rslave")),
                Mount("volume", "/c", volume_options=VolumeOptions(no_copy=True)),
                Mount("tmpfs", "/d", tmpfs_options=TmpfsOptions(1024, 0o700)),
                Mount("tmpfs", "/t", tmpfs_options=TmpfsOptions(1024 * 1024, 0o1777)),
            ],
            readonly_rootfs=True,
            cap_add=["NET_ADMIN"],
            cap_drop=["CHOWN"],
            privileged=True,
            security_opt=["no-new-privileges"],
            memory=32 * 1024 * 1024,
            memory_swap=-1,
            nano_cpus=1_500_000_000,
            pids_limit=50,
            shm_size=1024 * 1024,
            init=True,
            ulimits=[Ulimit("nofile", 10, 20), Ulimit("nproc", 5, 5)],
            devices=[DeviceMapping("/dev/fuse", "/dev/fuse"), DeviceMapping("/dev/zero", "/dev/z")],
            dns=["1.1.1.1"],
            extra_hosts=["db:10.0.0.2"],
            log_config=LogConfig("json-file", {"max-size": "1m"}),
        ),
        networking_config=NetworkingConfig(
            {"front": EndpointSettings(EndpointIPAMConfig("10.9.0.5"), ["w"])}
        ),
        name="web",
        platform="linux/arm64",
        pull="always",
    )


def test_no_flags_is_the_image_alone() -> None:
    assert _request() == ContainerCreate(ContainerConfig(image="busybox"))


def test_a_relative_bind_source_is_from_the_current_directory() -> None:
    (m,) = _request("-v", "./here:/in").host_config.mounts
    assert m == Mount(
        "bind", "/in", os.path.join(os.getcwd(), "here"), bind_options=BindOptions(create_mountpoint=True)
    )


@pytest.mark.parametrize(
    "flags, message",
    [
        (["-v", "rel"], "the destination must be absolute"),
        (["--mount", "type=bind,dst=/x"], "a bind mount needs a source"),
        (["--tmpfs", "t"], "the path must be absolute"),
        (["-p", "99999:80"], "^invalid hostPort: 99999$"),
        (["--ulimit", "nofile"], "expected NAME=SOFT"),
        (["--ulimit", "nofile=x"], "limits must be numbers"),
        (["--restart", "on-failure:x"], "the retry count must be a number"),
        (["-m", "lots"], """^invalid argument "lots" for "-m, --memory" flag: invalid size: 'lots'$"""),
        (["--log-opt", "=1"], "invalid --log-opt"),
    ],
)
def test_the_command_line_reads_text(flags: list[str], message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        _request(*flags)


@pytest.mark.parametrize(
    "flags, message",
    [
        (["-m", "1m"], "minimum memory limit allowed is 6MB"),
        (["--memory-swap", "64m"], "you should always set the memory limit when using the memory swap limit"),
        (
            ["-m", "64m", "--memory-swap", "32m"],
            "minimum memoryswap limit should be larger than memory limit",
        ),
        (["--cpus", "-1"], "invalid value -1.0 for --cpus: must be positive"),
        (["--restart", "sometimes"], "^invalid restart policy 'sometimes'$"),
        (["--restart", "always:2"], "^maximum retry count cannot be used with restart policy 'always'$"),
        (["--rm", "--restart", "always"], "conflicting options: cannot specify both --restart and --rm"),
        (
            ["--ulimit", "bogus=1"],
            "invalid ulimit 'bogus=1': expected NAME=SOFT\\[:HARD\\] with a known NAME",
        ),
        (["--ulimit", "nofile=10:5"], "invalid ulimit 'nofile=10:5': soft limit 10 is above hard limit 5"),
        (["--log-opt", "max-size=ten"], "invalid max-size 'ten'"),
        (["--log-opt", "colour=red"], "unknown log opt 'colour'"),
        (["-v", "/a:/x", "--tmpfs", "/x/"], "duplicate mount point: /x/"),
        (["--network", "host", "-h", "box"], "conflicting options: hostname and the network mode host"),
        (["--stop-signal", "FOO"], "^Invalid signal: FOO$"),
        (["--stop-signal", "0"], "^Invalid signal: 0$"),
    ],
)
def test_core_checks_what_a_request_means(flags: list[str], message: str) -> None:
    req = _request(*flags)
    with pytest.raises(InvalidArgument, match=message):
        check_request(req)


def test_checks_only_a_request_from_docker_json_can_fail() -> None:
    def fails(message: str, **host: object) -> None:
        with pytest.raises(InvalidArgument, match=message):
            check_request(ContainerCreate(ContainerConfig("busybox"), HostConfig(**host)))  # type: ignore[arg-type]

    fails("invalid port '80'", port_bindings={"80": [HostPortBinding()]})
    fails("invalid host port 'http'", port_bindings={"80/tcp": [HostPortBinding("", "http")]})
    fails("invalid mount type 'npipe'", mounts=[Mount("npipe", "/x")])
    fails("it must be an absolute path", mounts=[Mount("bind", "/x", "rel")])
    fails(
        "volume options on a bind mount", mounts=[Mount("bind", "/x", "/y", volume_options=VolumeOptions())]
    )
    fails('error looking up logging plugin syslog: plugin "syslog" not found', log_config=LogConfig("syslog"))
    fails("^maximum retry count cannot be negative$", restart_policy=RestartPolicy("on-failure", -1))


def test_create_checks_what_depends_on_the_host() -> None:
    with pytest.raises(InvalidArgument, match="security-opt"):
        check_create(_request("--security-opt", "bogus"))
    # a device that does not exist fails the start, not the create (docker's order)
    check_create(_request("--device", "/dev/no-such-device"))
    check_create(_request("--device", "/dev/null", "-m", "32m", "--restart", "on-failure:2"))


def test_create_refuses_more_cpus_than_the_host_has() -> None:
    ncpu = len(os.sched_getaffinity(0))
    message = f"^Range of CPUs is from 0.01 to {ncpu}.00, as there are only {ncpu} CPUs available$"
    with pytest.raises(InvalidArgument, match=message):
        check_create(_request("--cpus", str(ncpu + 0.01)))
    with pytest.raises(InvalidArgument, match=message):
        check_create(_request("--cpus", "1000"))
    check_create(_request("--cpus", str(ncpu)))  # all of them is allowed, as docker
    check_create(_request("--cpus", "0.01", "--stop-signal", "SIGUSR1"))


# a config.json written before the request was typed: `run` is the old RunConfig, flat
LEGACY = {
    "id": "c" * 64,
    "name": "old",
    "created": "2026-01-01T00:00:00Z",
    "image": "busybox",
    "image_id": "sha256:" + "b" * 64,
    "layers": ["sha256:" + "d" * 64],
    "run": {
        "image": "busybox",
        "command": ["sleep", "9"],
        "entrypoint": None,
        "name": "old",
        "env": ["A=1"],
        "workdir": "/w",
        "user": None,
        "hostname": None,
        "labels": {"k": "v"},
        "tty": True,
        "interactive": True,
        "detach": True,
        "auto_remove": False,
        "mounts": [
            {
                "type": "bind",
                "target": "/srv",
                "source": "/srv",
                "read_only": True,
                "options": {"propagation": "rslave"},
            },
            {
                "type": "volume",
                "target": "/data",
                "source": "e" * 64,
                "read_only": False,
                "options": {},
                "anonymous": True,
            },
            {
                "type": "volume",
                "target": "/named",
                "source": "vol",
                "read_only": False,
                "options": {"nocopy": "true"},
            },
            {
                "type": "tmpfs",
                "target": "/t",
                "source": "",
                "read_only": False,
                "options": {"size": "1024", "mode": "1777"},
            },
        ],
        "read_only": False,
        "restart": "on-failure:3",
        "memory": 33554432,
        "memory_swap": None,
        "cpus": 1.5,
        "pids_limit": None,
        "cap_add": ["NET_ADMIN"],
        "cap_drop": [],
        "privileged": False,
        "security_opt": [],
        "init": False,
        "stop_signal": None,
        "stop_timeout": None,
        "ulimits": {"nofile": [10, 20]},
        "shm_size": None,
        "devices": ["/dev/fuse", "/dev/zero:/dev/z:rwm"],
        "network": "front",
        "network_aliases": ["w"],
        "ip": "10.9.0.5",
        "ports": [{"container_port": 80, "protocol": "tcp", "host_ip": "", "host_port": 8080}],
        "publish_all": False,
        "dns": [],
        "extra_hosts": [],
        "log_opts": {"max-size": "1m"},
        "platform": None,
        "pull": "missing",
        "connected": [{"network": "back", "aliases": [], "ip": ""}],
    },
    "process": {"args": ["sleep", "9"], "env": ["A=1"], "cwd": "/w", "user": "", "hostname": "cccccccccccc"},
}


def test_a_record_written_before_typed_requests_still_loads(tmp_path: Path) -> None:
    paths = Paths(tmp_path / "root", tmp_path / "run")
    cdir = paths.container(LEGACY["id"])  # type: ignore[arg-type]
    cdir.mkdir(parents=True)
    (cdir / "config.json").write_text(json.dumps(LEGACY))
    (cdir / "state.json").write_text(json.dumps({"status": "exited", "exit_code": 3}))
    store = ContainerStore(paths)
    rec = store.load(LEGACY["id"])  # type: ignore[arg-type]
    assert rec is not None and rec.state.exit_code == 3
    assert rec.anonymous_volumes == ["e" * 64]
    assert rec.run == ContainerCreate(
        config=ContainerConfig(
            image="busybox",
            tty=True,
            open_stdin=True,
            attach_stdin=True,
            attach_stdout=False,
            attach_stderr=False,
            env=["A=1"],
            cmd=["sleep", "9"],
            working_dir="/w",
            labels={"k": "v"},
        ),
        host_config=HostConfig(
            network_mode="front",
            port_bindings={"80/tcp": [HostPortBinding("", "8080")]},
            restart_policy=RestartPolicy("on-failure", 3),
            mounts=[
                Mount("bind", "/srv", "/srv", True, bind_options=BindOptions("rslave")),
                Mount("volume", "/data", "e" * 64),
                Mount("volume", "/named", "vol", volume_options=VolumeOptions(no_copy=True)),
                Mount("tmpfs", "/t", tmpfs_options=TmpfsOptions(1024, 0o1777)),
            ],
            cap_add=["NET_ADMIN"],
            memory=33554432,
            nano_cpus=1_500_000_000,
            ulimits=[Ulimit("nofile", 10, 20)],
            devices=[DeviceMapping("/dev/fuse", "/dev/fuse"), DeviceMapping("/dev/zero", "/dev/z")],
            log_config=LogConfig(config={"max-size": "1m"}),
        ),
        networking_config=NetworkingConfig(
            {
                "front": EndpointSettings(EndpointIPAMConfig("10.9.0.5"), ["w"]),
                "back": EndpointSettings(None, []),
            }
        ),
        name="old",
    )
    assert rec.run.connected() == [("back", EndpointSettings())]
    # saved again, it is in today's layout, and reads back the same
    store.save_config(rec)
    saved = json.loads((cdir / "config.json").read_text())
    assert "config" in saved["run"] and saved["anonymous_volumes"] == ["e" * 64]
    assert store.load(rec.id) == rec
    # removal finds the anonymous volumes in either layout
    (cdir / "config.json").write_text(json.dumps(LEGACY))
    assert hide_container(paths, rec.id, volumes=True).volumes == ["e" * 64]
