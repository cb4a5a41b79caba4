"""ContainerSpec: JSON round trip and the checks that keep a bad spec out of the container init."""

from __future__ import annotations

import json

import pytest

from core.errors import InvalidArgument
from core.runtime.spec import (
    DEFAULT_CAPABILITIES,
    DEFAULT_MASKED_PATHS,
    ContainerSpec,
    DeviceSpec,
    MountSpec,
    ProcessSpec,
    Rlimit,
    RootfsSpec,
    UserSpec,
    merge_env,
    rlimit_name,
)


def _spec(**kw: object) -> ContainerSpec:
    proc = kw.pop("process", None) or ProcessSpec(args=["sh"])
    return ContainerSpec(
        rootfs=RootfsSpec(lower=["/l/2", "/l/1"], mountpoint="/c/rootfs", upper="/c/upper", work="/c/work"),
        process=proc,  # type: ignore[arg-type]
        **kw,  # type: ignore[arg-type]
    )


def test_round_trip_through_json() -> None:
    spec = _spec(
        process=ProcessSpec(
            args=["sh", "-c", "echo hi"],
            env=["PATH=/bin", "A=b=c"],
            cwd="/w",
            user=UserSpec(name="nobody:staff", additional_gids=[7]),
            tty=True,
            tty_size=(24, 80),
            seccomp={"defaultAction": "SCMP_ACT_ERRNO", "syscalls": []},
            rlimits=[Rlimit("nofile", 10, 20)],
        ),
        hostname="web",
        mounts=[
            MountSpec("bind", "/data", "/srv/data", ["rbind", "ro"]),
            MountSpec("tmpfs", "/t", "", ["size=1m"]),
        ],
        devices=[DeviceSpec("/dev/fuse")],
        netns="/run/dockyard/netns/x",
        sysctls={"net.ipv4.ip_forward": "1"},
        init=True,
    )
    again = ContainerSpec.from_dict(json.loads(json.dumps(spec.to_dict())))
    assert again == spec
    assert again.process.tty_size == (24, 80)


def test_docker_defaults() -> None:
    spec = _spec()
    assert spec.process.capabilities == list(DEFAULT_CAPABILITIES) and len(DEFAULT_CAPABILITIES) == 14
    assert "/proc/kcore" in spec.masked_paths and tuple(spec.masked_paths) == DEFAULT_MASKED_PATHS
    assert "/proc/sysrq-trigger" in spec.readonly_paths
    assert (spec.netns, spec.pidns, spec.process.no_new_privs, spec.process.seccomp) == (
        "new",
        "new",
        False,
        None,
    )
    assert spec.shm_size == 64 * 1024 * 1024


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: setattr(s.process, "args", []), "no command"),
        (lambda s: setattr(s.process, "env", ["NOEQUALS"]), "NAME=value"),
        (lambda s: setattr(s.process, "cwd", "rel"), "absolute"),
        (lambda s: setattr(s.rootfs, "lower", []), "no layers"),
        (lambda s: setattr(s.rootfs, "work", None), "go together"),
        (lambda s: setattr(s.rootfs, "lower", ["/a:b"]), "contain no"),
        (lambda s: s.mounts.append(MountSpec("nfs", "/x", "/y")), "mount type"),
        (lambda s: s.mounts.append(MountSpec("bind", "x", "/y")), "absolute path other than /"),
        (lambda s: s.mounts.append(MountSpec("bind", "/", "/y")), "absolute path other than /"),
        (lambda s: s.mounts.append(MountSpec("bind", "/x", "rel")), "absolute host path"),
        (lambda s: s.mounts.append(MountSpec("bind", "/x", "/y", ["bogus"])), "unknown mount option"),
        (lambda s: s.process.rlimits.append(Rlimit("nofiles", 1, 2)), "unknown ulimit"),
        (lambda s: s.process.rlimits.append(Rlimit("nofile", 3, 2)), "above hard"),
        (lambda s: setattr(s, "netns", "maybe"), "net namespace"),
        (lambda s: setattr(s, "hostname", "bad_host!"), "invalid hostname"),
        (lambda s: (setattr(s, "hostname", "h"), setattr(s, "utsns", "host")), "UTS namespace"),
        (lambda s: s.sysctls.update({"../etc": "1"}), "invalid sysctl"),
        (lambda s: setattr(s.process, "tty_size", (0, 80)), "terminal size"),
    ],
)
def test_validation(change: object, message: str) -> None:
    spec = _spec()
    change(spec)  # type: ignore[operator]
    with pytest.raises(InvalidArgument, match=message):
        spec.validate()


def test_malformed_dict_is_invalid_argument() -> None:
    data = _spec().to_dict()
    data["surprise"] = 1
    with pytest.raises(InvalidArgument, match="malformed"):
        ContainerSpec.from_dict(data)
    data = _spec().to_dict()
    del data["process"]
    with pytest.raises(InvalidArgument, match="malformed"):
        ContainerSpec.from_dict(data)


def test_rlimit_names() -> None:
    assert rlimit_name("RLIMIT_NOFILE") == "nofile" == rlimit_name("nofile")
    with pytest.raises(InvalidArgument):
        rlimit_name("files")


def test_merge_env_image_then_request_in_first_seen_order() -> None:
    env = merge_env(["PATH=/bin", "A=1", "B=2"], ["B=3", "C=4", "A=5"], caller_env={})
    assert env == ["PATH=/bin", "A=5", "B=3", "C=4"]


def test_merge_env_bare_key_copies_the_callers_value_or_drops_it() -> None:
    caller = {"HOME": "/root", "EMPTY": ""}
    assert merge_env(["HOME=/"], ["HOME", "EMPTY", "MISSING"], caller_env=caller) == ["HOME=/root", "EMPTY="]
    assert merge_env(["X=1"], ["X"], caller_env={}) == ["X=1"]  # not in the caller's: the image's stays


def test_merge_env_keeps_values_with_equals_signs_and_refuses_an_empty_key() -> None:
    assert merge_env([], ["A=b=c", "E="], caller_env={}) == ["A=b=c", "E="]
    with pytest.raises(InvalidArgument, match="invalid environment variable"):
        merge_env([], ["=x"], caller_env={})
