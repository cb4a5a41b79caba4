"""docker-py 7 (PyPI ``docker``) against ``dockyard serve``: containers, exec, archives, images (pull, build,
push to the test bed's registry), networks, volumes and decoded events."""

from __future__ import annotations

import io
import os
import tarfile
import time
from collections.abc import Iterator

import pytest

from core.config import Config
from tests.e2e.apiserver import ApiServer, running_server
from tests.testbed import Testbed

docker = pytest.importorskip("docker")

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")


@pytest.fixture
def api(engine_config: Config) -> Iterator[ApiServer]:
    with running_server(engine_config) as server:
        yield server


def _tar(name: str, data: bytes) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        info.mode = 0o640
        t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_docker_py_drives_dockyard(api: ApiServer, testbed: Testbed) -> None:
    client = docker.DockerClient(base_url=api.host, timeout=60)
    t0 = time.time()
    assert client.ping() is True
    assert client.version()["ApiVersion"] == "1.43"

    ref = testbed.ref("busybox:latest")
    image = client.images.pull(ref)
    assert ref in image.tags

    # containers.run in the foreground: its output; detached: list, streamed logs, wait
    assert client.containers.run(ref, ["echo", "hello"], remove=True) == b"hello\n"
    ctr = client.containers.run(
        ref, ["sh", "-c", "for i in 1 2 3; do echo line$i; sleep 0.2; done"], detach=True, name="talker"
    )
    assert "talker" in [c.name for c in client.containers.list()]
    assert b"".join(ctr.logs(stream=True, follow=True)) == b"line1\nline2\nline3\n"
    assert ctr.wait()["StatusCode"] == 0
    ctr.remove()

    box = client.containers.run(ref, ["sleep", "300"], detach=True, name="box", labels={"suite": "api"})
    assert [c.name for c in client.containers.list(filters={"label": "suite=api"})] == ["box"]
    assert client.containers.list(filters={"label": "suite=other"}) == []
    result = box.exec_run(["sh", "-c", "echo out; echo err >&2; exit 3"])
    assert result.exit_code == 3 and result.output == b"out\nerr\n"
    demuxed = box.exec_run(["sh", "-c", "echo o; echo e >&2"], demux=True)
    assert demuxed.output == (b"o\n", b"e\n")
    assert box.exec_run(["cat", "/etc/hostname"], tty=True).output.strip() == box.id[:12].encode()

    assert box.put_archive("/tmp", _tar("put.txt", b"payload")) is True
    assert box.exec_run(["cat", "/tmp/put.txt"]).output == b"payload"
    chunks, stat = box.get_archive("/tmp/put.txt")
    assert stat["name"] == "put.txt" and stat["size"] == 7 and stat["mode"] & 0o777 == 0o640
    with tarfile.open(fileobj=io.BytesIO(b"".join(chunks))) as t:
        member = t.extractfile("put.txt")
        assert member is not None and member.read() == b"payload"
    with pytest.raises(docker.errors.NotFound):
        box.get_archive("/no/such/path")

    # images: build from a Dockerfile object, then push to the test bed's registry and pull it back
    built, logs = client.images.build(
        fileobj=io.BytesIO(f"FROM {ref}\nRUN echo built > /b\nCMD cat /b\n".encode()), tag="pybuilt:1"
    )
    assert "pybuilt:1" in built.tags
    assert any("Successfully built" in entry.get("stream", "") for entry in logs)
    assert client.containers.run("pybuilt:1", remove=True) == b"built\n"
    target = testbed.ref("api/pushed:1")
    assert built.tag(target.rsplit(":", 1)[0], tag="1")
    pushed = list(client.images.push(target.rsplit(":", 1)[0], tag="1", stream=True, decode=True))
    assert any("aux" in m and m["aux"].get("Digest", "").startswith("sha256:") for m in pushed), pushed
    assert not any("error" in m for m in pushed)
    client.images.remove(target)
    again = client.images.pull(target)
    assert again.id == built.id

    # networks and volumes
    net = client.networks.create("pynet", labels={"suite": "api"})
    net.connect(box, aliases=["boxalias"])
    net.reload()
    assert box.id in net.attrs["Containers"]
    assert [n.name for n in client.networks.list(names=["pynet"])] == ["pynet"]
    net.disconnect(box)
    net.remove()
    vol = client.volumes.create("pyvol", labels={"suite": "api"})
    assert vol.attrs["Driver"] == "local"
    assert [v.name for v in client.volumes.list(filters={"label": "suite=api"})] == ["pyvol"]
    vol.remove()
    assert client.volumes.list() == []

    box.remove(force=True)
    with pytest.raises(docker.errors.NotFound):
        client.containers.get("box")

    # events, decoded, for what happened above
    events = list(client.events(since=int(t0) - 1, until=int(time.time()) + 1, decode=True))
    actions = {(e["Type"], e["Action"]) for e in events}
    assert {("container", "create"), ("container", "start"), ("container", "destroy")} <= actions
    assert ("network", "create") in actions and ("volume", "create") in actions
    client.close()
