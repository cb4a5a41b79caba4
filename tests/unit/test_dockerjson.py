"""core.dockerjson: a create request to Docker's create body and back, bodies docker's own client sends, and
the HostConfig section ``inspect`` shows."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.containers.validate import RESTART_POLICIES
from core.dockerjson import (
    create_from_docker,
    create_query,
    create_to_docker,
    host_config_from_docker,
    inspect_host_config,
    parse_bind,
    tmpfs_mount,
)
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

text = st.text(max_size=8)
name = st.text(min_size=1, max_size=8)  # where Docker's "" means a default (network mode, log driver, ...)
number = st.integers(-(2**63), 2**63 - 1)
words = st.lists(text, max_size=3)
port = st.builds(lambda n, p: f"{n}/{p}", st.integers(1, 65535), st.sampled_from(["tcp", "udp", "sctp"]))

mounts = st.builds(
    Mount,
    type=st.sampled_from(["bind", "volume", "tmpfs"]),
    target=text,
    source=text,
    read_only=st.booleans(),
    bind_options=st.none() | st.builds(BindOptions, text),
    volume_options=st.none() | st.builds(VolumeOptions, st.booleans()),
    tmpfs_options=st.none() | st.builds(TmpfsOptions, number, number),
)
configs = st.builds(
    ContainerConfig,
    image=text,
    hostname=text,
    user=text,
    tty=st.booleans(),
    open_stdin=st.booleans(),
    attach_stdin=st.booleans(),
    attach_stdout=st.booleans(),
    attach_stderr=st.booleans(),
    env=words,
    cmd=st.none() | words,
    working_dir=text,
    entrypoint=st.none() | words,
    labels=st.dictionaries(text, text, max_size=3),
    stop_signal=text,
    stop_timeout=st.none() | number,
    exposed_ports=st.lists(port, unique=True, max_size=3),
)
host_configs = st.builds(
    HostConfig,
    network_mode=name,
    port_bindings=st.dictionaries(
        port, st.lists(st.builds(HostPortBinding, text, text), max_size=2), max_size=3
    ),
    publish_all_ports=st.booleans(),
    restart_policy=st.builds(RestartPolicy, st.sampled_from(RESTART_POLICIES), number),
    auto_remove=st.booleans(),
    mounts=st.lists(mounts, max_size=3),
    readonly_rootfs=st.booleans(),
    cap_add=words,
    cap_drop=words,
    privileged=st.booleans(),
    security_opt=words,
    memory=number,
    memory_swap=number,
    nano_cpus=number,
    pids_limit=st.none() | number,
    shm_size=number,
    init=st.booleans(),
    ulimits=st.lists(st.builds(Ulimit, text, number, number), max_size=2),
    devices=st.lists(st.builds(DeviceMapping, text, name), max_size=2),
    dns=words,
    extra_hosts=words,
    log_config=st.builds(LogConfig, name, st.dictionaries(text, text, max_size=2)),
)
endpoints = st.builds(
    EndpointSettings, st.none() | st.builds(EndpointIPAMConfig, text), st.lists(text, max_size=2)
)
requests = st.builds(
    ContainerCreate,
    config=configs,
    host_config=host_configs,
    networking_config=st.builds(NetworkingConfig, st.dictionaries(name, endpoints, max_size=3)),
    name=text,
    platform=text,
    pull=st.sampled_from(["missing", "always", "never"]),
)


@settings(max_examples=300)
@given(requests)
def test_a_request_survives_docker_json(req: ContainerCreate) -> None:
    body = json.loads(json.dumps(create_to_docker(req)))
    assert create_from_docker(body, create_query(req), pull=req.pull) == req


@settings(max_examples=100)
@given(requests)
def test_a_request_survives_its_stored_json(req: ContainerCreate) -> None:
    assert ContainerCreate.from_json(json.loads(json.dumps(req.to_json()))) == req


# what `docker run -d --rm --name web -p 8080:80 -p 127.0.0.1::53/udp -v /srv:/srv:ro -v data:/data -v /anon
# --tmpfs /t:size=64m,mode=1777 -e A=1 -m 32m --cpus 1.5 --ulimit nofile=10:20 --network front --ip 10.9.0.5
# --network-alias web --log-opt max-size=1m busybox sleep 9` sends (docker 27), zero-valued keys dockyard has
# no field for included
DOCKER_CLI_BODY: dict[str, Any] = {
    "Hostname": "",
    "Domainname": "",
    "User": "",
    "AttachStdin": False,
    "AttachStdout": False,
    "AttachStderr": False,
    "ExposedPorts": {"53/udp": {}, "80/tcp": {}},
    "Tty": False,
    "OpenStdin": False,
    "StdinOnce": False,
    "Env": ["A=1"],
    "Cmd": ["sleep", "9"],
    "Image": "busybox",
    "Volumes": {"/anon": {}},
    "WorkingDir": "",
    "Entrypoint": None,
    "OnBuild": None,
    "Labels": {},
    "HostConfig": {
        "Binds": ["/srv:/srv:ro", "data:/data"],
        "ContainerIDFile": "",
        "LogConfig": {"Type": "", "Config": {"max-size": "1m"}},
        "NetworkMode": "front",
        "PortBindings": {
            "53/udp": [{"HostIp": "127.0.0.1", "HostPort": ""}],
            "80/tcp": [{"HostIp": "", "HostPort": "8080"}],
        },
        "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0},
        "AutoRemove": True,
        "VolumeDriver": "",
        "VolumesFrom": None,
        "ConsoleSize": [0, 0],
        "CapAdd": None,
        "CapDrop": None,
        "CgroupnsMode": "",
        "Dns": [],
        "DnsOptions": [],
        "DnsSearch": [],
        "ExtraHosts": None,
        "GroupAdd": None,
        "IpcMode": "",
        "Cgroup": "",
        "Links": None,
        "OomScoreAdj": 0,
        "PidMode": "",
        "Privileged": False,
        "PublishAllPorts": False,
        "ReadonlyRootfs": False,
        "SecurityOpt": None,
        "Tmpfs": {"/t": "size=64m,mode=1777"},
        "UTSMode": "",
        "UsernsMode": "",
        "ShmSize": 0,
        "Isolation": "",
        "CpuShares": 0,
        "Memory": 33554432,
        "NanoCpus": 1500000000,
        "CgroupParent": "",
        "BlkioWeight": 0,
        "Devices": [],
        "DeviceCgroupRules": None,
        "MemoryReservation": 0,
        "MemorySwap": 0,
        "OomKillDisable": None,
        "PidsLimit": None,
        "Ulimits": [{"Name": "nofile", "Hard": 20, "Soft": 10}],
        "Mounts": None,
        "Init": None,
    },
    "NetworkingConfig": {
        "EndpointsConfig": {
            "front": {"IPAMConfig": {"IPv4Address": "10.9.0.5"}, "Links": None, "Aliases": ["web"]}
        }
    },
}


def test_docker_clis_create_body() -> None:
    req = create_from_docker(DOCKER_CLI_BODY, {"name": "web"})
    assert req == ContainerCreate(
        config=ContainerConfig(
            image="busybox",
            attach_stdout=False,
            attach_stderr=False,
            env=["A=1"],
            cmd=["sleep", "9"],
            exposed_ports=["53/udp", "80/tcp"],
        ),
        host_config=HostConfig(
            network_mode="front",
            port_bindings={
                "53/udp": [HostPortBinding("127.0.0.1", "")],
                "80/tcp": [HostPortBinding("", "8080")],
            },
            auto_remove=True,
            mounts=[
                # a Binds entry: its missing source is made at start, as docker makes it
                Mount(
                    "bind", "/srv", "/srv", read_only=True, bind_options=BindOptions(create_mountpoint=True)
                ),
                Mount("volume", "/data", "data"),
                Mount("tmpfs", "/t", tmpfs_options=TmpfsOptions(64 * 1024 * 1024, 0o1777)),
                Mount("volume", "/anon"),
            ],
            memory=32 * 1024 * 1024,
            nano_cpus=1_500_000_000,
            ulimits=[Ulimit("nofile", 10, 20)],
            log_config=LogConfig("json-file", {"max-size": "1m"}),
        ),
        networking_config=NetworkingConfig(
            {"front": EndpointSettings(EndpointIPAMConfig("10.9.0.5"), ["web"])}
        ),
        name="web",
        pull="never",  # the Engine API does not pull on create
    )


def test_the_smallest_body_is_the_image_alone() -> None:
    req = create_from_docker({"Image": "busybox"})
    assert req == ContainerCreate(ContainerConfig(image="busybox"), pull="never")
    assert req.host_config.network_mode == "default" and req.host_config.restart_policy.name == "no"


def test_docker_api_mounts_and_devices() -> None:
    body = {
        "Image": "busybox",
        "Cmd": "true",  # docker's StrSlice: one string is a one-word command
        "HostConfig": {
            "Mounts": [
                {"Type": "bind", "Source": "/a", "Target": "/b", "BindOptions": {"Propagation": "rslave"}},
                {"Type": "volume", "Source": "v", "Target": "/v", "VolumeOptions": {"NoCopy": True}},
            ],
            "Devices": [{"PathOnHost": "/dev/fuse", "PathInContainer": "", "CgroupPermissions": "rwm"}],
            "RestartPolicy": {"Name": "", "MaximumRetryCount": 0},
        },
    }
    req = create_from_docker(body)
    assert req.config.cmd == ["true"]
    assert req.host_config.mounts == [
        Mount("bind", "/b", "/a", bind_options=BindOptions("rslave")),
        Mount("volume", "/v", "v", volume_options=VolumeOptions(no_copy=True)),
    ]
    assert req.host_config.devices == [DeviceMapping("/dev/fuse", "/dev/fuse")]
    assert req.host_config.restart_policy == RestartPolicy("no", 0)


@pytest.mark.parametrize(
    "body, key",
    [
        ({"Image": "x", "Memory": 1}, None),  # a HostConfig key at the top is not read (as docker)
        ({"Image": 3}, "Image"),
        ({"Image": "x", "Env": "A=1"}, "Env"),
        ({"Image": "x", "Tty": "yes"}, "Tty"),
        ({"Image": "x", "HostConfig": {"Memory": "32m"}}, "Memory"),
        ({"Image": "x", "HostConfig": []}, "HostConfig"),
        ({"Image": "x", "HostConfig": {"Binds": ["/only"]}}, "volume specification"),
        ({"Image": "x", "Labels": {"a": 1}}, "Labels"),
    ],
)
def test_malformed_bodies_are_invalid_arguments(body: dict[str, Any], key: str | None) -> None:
    if key is None:
        create_from_docker(body)
        return
    with pytest.raises(InvalidArgument, match=key):
        create_from_docker(body)


def test_the_create_body_has_dockers_keys() -> None:
    body = create_to_docker(
        ContainerCreate(ContainerConfig(image="busybox"), name="web", platform="linux/arm64")
    )
    assert body["Image"] == "busybox" and body["Cmd"] is None and body["ExposedPorts"] == {}
    host = body["HostConfig"]
    assert host["RestartPolicy"] == {"Name": "no", "MaximumRetryCount": 0}
    assert host["CapAdd"] is None and host["Mounts"] == [] and host["PidsLimit"] is None
    assert host["LogConfig"] == {"Type": "json-file", "Config": {}}
    assert body["NetworkingConfig"] == {"EndpointsConfig": {}}
    assert create_query(ContainerCreate(ContainerConfig("x"), name="web", platform="linux/arm64")) == {
        "name": "web",
        "platform": "linux/arm64",
    }


def test_inspect_shows_binds_and_tmpfs_as_docker_does() -> None:
    host = HostConfig(
        mounts=[
            Mount("bind", "/srv", "/data", read_only=True),
            Mount("volume", "/v", "vol"),
            Mount("volume", "/anon", "f" * 64),
            Mount("tmpfs", "/t", tmpfs_options=TmpfsOptions(1024, 0o1777)),
        ],
        restart_policy=RestartPolicy("on-failure", 3),
    )
    shown = inspect_host_config(host, anonymous={"f" * 64})
    # docker's keys in docker's order; Tmpfs, Sysctls, Mounts and Init only when set (Go's omitempty)
    assert list(shown)[:6] == [
        "Binds",
        "ContainerIDFile",
        "LogConfig",
        "NetworkMode",
        "PortBindings",
        "RestartPolicy",
    ]
    assert list(shown)[-3:] == ["IOMaximumBandwidth", "MaskedPaths", "ReadonlyPaths"]
    assert len(shown) == 65 + 1 and "Init" not in shown and "Mounts" not in shown  # docker's 65, and Tmpfs
    # each mount once: binds and named volumes in Binds (-v's form), tmpfs in Tmpfs; an anonymous volume is
    # the container Config's Volumes
    assert shown["Binds"] == ["/data:/srv:ro", "vol:/v"]
    assert shown["Tmpfs"] == {"/t": "size=1024,mode=1777"}
    assert shown["ShmSize"] == 64 * 1024 * 1024
    assert shown["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 3}
    assert shown["NetworkMode"] == "default"
    assert shown["CapAdd"] is None and shown["Dns"] == [] and shown["PidsLimit"] is None
    assert inspect_host_config(HostConfig(init=True, cap_add=["net_admin"]))["CapAdd"] == ["CAP_NET_ADMIN"]
    assert inspect_host_config(HostConfig(init=True))["Init"] is True
    # what the section says is what a create request reads back
    again = host_config_from_docker(shown)
    assert sorted(m.target for m in again.mounts) == ["/srv", "/t", "/v"]


def test_the_text_forms_of_mounts() -> None:
    assert parse_bind("/a:/b:ro,rshared") == Mount("bind", "/b", "/a", True, BindOptions("rshared", True))
    assert parse_bind("./rel:/b") == Mount(
        "bind", "/b", "./rel", bind_options=BindOptions(create_mountpoint=True)
    )
    assert parse_bind("vol:/b:nocopy") == Mount("volume", "/b", "vol", volume_options=VolumeOptions(True))
    for bad in ("/a", "/a:b", "/a:/b:sideways", "a:b:c:d"):
        with pytest.raises(InvalidArgument, match="invalid volume specification"):
            parse_bind(bad)
    with pytest.raises(InvalidArgument, match=r"^invalid spec: :/b: empty section between colons$"):
        parse_bind(":/b")
    assert tmpfs_mount("/t", "") == Mount("tmpfs", "/t")
    assert tmpfs_mount("/t", "ro,noexec,size=1k,mode=700") == Mount(
        "tmpfs", "/t", read_only=True, tmpfs_options=TmpfsOptions(1024, 0o700)
    )
    with pytest.raises(InvalidArgument, match="invalid --tmpfs option 'uid=1'"):
        tmpfs_mount("/t", "uid=1")
    with pytest.raises(InvalidArgument, match="octal"):
        tmpfs_mount("/t", "mode=rwx")


def test_inspect_documents_of_volumes_networks_and_configs() -> None:
    from core.dockerjson import docker_config, network_to_docker, volume_to_docker
    from core.models import Volume

    vol = volume_to_docker(Volume("v", "2026-12-03T13:58:51.467589393Z", labels={"z": "1", "a": "2"}))
    assert list(vol) == ["CreatedAt", "Driver", "Labels", "Mountpoint", "Name", "Options", "Scope"]
    assert vol["CreatedAt"] == "2026-12-03T13:58:51Z" and list(vol["Labels"]) == ["a", "z"]
    assert vol["Options"] is None
    host = network_to_docker(name="host", network_id="h" * 64, created="", driver="host")
    assert host["IPAM"] == {"Driver": "default", "Options": None, "Config": []}
    assert host["Created"] == "0001-01-01T00:00:00Z" and host["Containers"] == {} and host["Labels"] == {}
    user = network_to_docker(
        name="n", network_id="n" * 64, created="t", driver="bridge", subnet="10.0.0.0/24", gateway="10.0.0.1",
        containers={"b" * 64: {}, "a" * 64: {}}, labels={"b": "2", "a": "1"},
    )  # fmt: skip
    assert user["IPAM"]["Config"] == [{"Subnet": "10.0.0.0/24", "Gateway": "10.0.0.1"}]
    assert list(user["Containers"]) == ["a" * 64, "b" * 64] and list(user["Labels"]) == ["a", "b"]
    # Config: docker's keys in order; omitempty ones only when set (StopTimeout 0 is set)
    empty = docker_config({})
    assert list(empty) == [
        "Hostname", "Domainname", "User", "AttachStdin", "AttachStdout", "AttachStderr", "Tty", "OpenStdin",
        "StdinOnce", "Env", "Cmd", "Image", "Volumes", "WorkingDir", "Entrypoint", "OnBuild", "Labels",
    ]  # fmt: skip
    assert empty["Env"] is None and empty["Labels"] is None
    full = docker_config(
        {
            "ExposedPorts": {"90/tcp": {}, "80/tcp": {}},
            "StopTimeout": 0,
            "StopSignal": "SIGINT",
            "Labels": {"b": "", "a": ""},
        }
    )
    assert list(full)[6] == "ExposedPorts" and list(full)[-2:] == ["StopSignal", "StopTimeout"]
    assert list(full["ExposedPorts"]) == ["80/tcp", "90/tcp"] and list(full["Labels"]) == ["a", "b"]
