"""What a container sees of the cgroup hierarchies: on a v1 host, its own cgroup in each of them, the named
``name=systemd`` one and a hybrid host's cgroup2 included, and none of the host's (``release_agent``, other
engines' containers); the directories go when the container goes."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from core.config import Config
from core.engine import LocalEngine
from core.models import ContainerConfig, ContainerCreate
from core.runtime import cgroupfs, cgroups

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")


def _other_hierarchies() -> dict[str, Path]:
    """A v1 host's hierarchies without a resource controller, keyed as /proc/<pid>/cgroup names them."""
    found: dict[str, Path] = {}
    for mountpoint, fstype, root, opts in cgroupfs.mounts():
        if root == "/" and fstype == "cgroup2":
            found.setdefault("", Path(mountpoint))
        elif root == "/" and fstype == "cgroup" and not opts & set(cgroups.V1_CONTROLLERS):
            found.update((o, Path(mountpoint)) for o in opts if o.startswith("name="))
    return found


_SCRIPT = (
    "for d in /sys/fs/cgroup/*/; do echo \"dir $d $(ls -A $d | tr '\\n' ' ')\"; done; "
    "sed 's/^/own /' /proc/self/cgroup; echo done; sleep 1000"
)


@pytest.mark.skipif(
    cgroups.detect() != "v1" or not _other_hierarchies(), reason="needs a v1 host with a named hierarchy"
)
def test_a_container_sees_only_its_own_cgroup_in_every_hierarchy(testbed, engine_config: Config) -> None:  # type: ignore[no-untyped-def]
    engine = LocalEngine(engine_config)
    engine.pull(testbed.ref("busybox:latest"))
    summary = engine.create_container(
        ContainerCreate(ContainerConfig(image=testbed.ref("busybox:latest"), cmd=["sh", "-c", _SCRIPT]))
    )
    parent = engine_config.cgroup_parent
    others = _other_hierarchies()
    try:
        engine.start_container(summary.id)
        pid = engine.container(summary.id).pid
        deadline = time.monotonic() + 30
        out: list[str] = []
        while time.monotonic() < deadline:
            out = [line.text.rstrip("\n") for line in engine.container_logs(summary.id)]
            if "done" in out:
                break
            time.sleep(0.05)
        assert "done" in out, out
        # from the host: the container's own directory in the named hierarchies too
        host_view = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
        for key in others:
            assert f":{key}:/{parent}/{summary.id}" in "\n".join(host_view), (key, host_view)
            assert (others[key] / parent / summary.id).is_dir()
        # from inside: every hierarchy is rooted at the container's cgroup
        assert all(line.endswith(":/") for line in out if line.startswith("own ")), out
        dirs = {line.split()[1]: line.split()[2:] for line in out if line.startswith("dir ")}
        assert "/sys/fs/cgroup/systemd/" in dirs, dirs
        for name, entries in dirs.items():
            assert "release_agent" not in entries, (name, entries)  # a hierarchy's root file
            assert "cgroup.procs" in entries, (name, entries)
            assert not [e for e in entries if "." not in e and e not in ("tasks", "notify_on_release")], (
                name,
                entries,
            )  # no cgroup below: not the host's, not another container's
    finally:
        engine.remove_container(summary.id, force=True)
    for key, root in others.items():
        assert not (root / parent / summary.id).exists(), key
