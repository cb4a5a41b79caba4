"""commit, export, import and history end to end: a container that deleted and created files is committed,
pushed to the test bed, pulled back by skopeo + umoci and by a fresh dockyard, and every tree is the same."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import stat
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from core.config import Config
from core.engine import LocalEngine
from core.models import ContainerConfig, ContainerCreate
from tests.netbed import NetSettings
from tests.testbed.common import make_scratch_dir, remove_scratch

DOCKYARD = str(Path(sys.executable).with_name("dockyard"))

# what the container does to busybox's tree: deletions (a file, a directory), a directory deleted and made
# again (overlay makes it opaque), new files with odd modes, owners, a hard link, a symlink, a fifo
CHANGES = (
    "set -e; rm /bin/ls; rm -rf /usr/sbin; mkdir /usr/sbin; echo only > /usr/sbin/only; "
    "mkdir -p /data/sub; echo created > /data/sub/f; ln /data/sub/f /data/hard; ln -s sub/f /data/sym; "
    "mkfifo /data/fifo; echo x > /data/setuid; chmod 4755 /data/setuid; echo o > /data/owned; "
    "chown 1000:1001 /data/owned; mkdir /data/empty; chmod 700 /data/empty; echo done"
)
# files the runtime creates as mount points; `export` shows them, an image never has them
RUNTIME_FILES = {"etc/hostname", "etc/hosts", "etc/resolv.conf"}


@dataclass
class Env:
    config: Config
    engine: LocalEngine
    registry: str

    def cli(
        self, *args: str, check: bool = False, input: bytes | None = None
    ) -> subprocess.CompletedProcess[bytes]:
        env = {**os.environ, "DOCKYARD_RUN": str(self.config.run)}
        proc = subprocess.run(
            [DOCKYARD, "--root", str(self.config.root), *args],
            capture_output=True,
            input=input,
            env=env,
            timeout=120,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"dockyard {' '.join(args)} -> {proc.returncode}: {proc.stderr.decode()}")
        return proc

    def changed_container(self) -> str:
        c = self.engine.create_container(
            ContainerCreate(ContainerConfig(image="busybox", cmd=["sh", "-c", CHANGES]))
        )
        self.engine.start_container(c.id)
        assert self.engine.wait_container(c.id) == 0, [x.text for x in self.engine.container_logs(c.id)]
        return c.id


@pytest.fixture
def env(testbed, engine_config: Config) -> Iterator[Env]:  # type: ignore[no-untyped-def]
    engine = LocalEngine(engine_config)
    engine.pull(testbed.ref("busybox:latest"))
    engine.tag_image(testbed.ref("busybox:latest"), "busybox")
    e = Env(engine_config, engine, testbed.addr("open"))
    yield e  # engine_config removes what is left (tests/conftest.py)


# ------------------------------------------------------------------------------------------ trees

Tree = dict[str, tuple[object, ...]]


def tree_of_tar(data: bytes, skip: set[str] = frozenset()) -> Tree:  # type: ignore[assignment]
    out: Tree = {}
    contents: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        for m in tf:
            name = m.name.rstrip("/")
            if name in skip:
                continue
            perm = m.mode & 0o7777
            if m.isdir():
                out[name] = ("dir", perm, m.uid, m.gid)
            elif m.issym():
                out[name] = ("symlink", m.linkname, m.uid, m.gid)
            elif m.islnk():
                out[name] = out[m.linkname.rstrip("/")]
                contents[name] = contents[m.linkname]
            elif m.isfifo():
                out[name] = ("fifo", perm, m.uid, m.gid)
            elif m.ischr() or m.isblk():
                out[name] = ("dev", perm, m.uid, m.gid, m.devmajor, m.devminor)
            else:
                f = tf.extractfile(m)
                assert f is not None
                body = f.read()
                contents[name] = body
                out[name] = ("file", perm, m.uid, m.gid, hashlib.sha256(body).hexdigest(), int(m.mtime))
    return out


def tree_of_dir(root: Path) -> Tree:
    out: Tree = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            rel = str(path.relative_to(root))
            st = os.lstat(path)
            perm = stat.S_IMODE(st.st_mode)
            if stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir", perm, st.st_uid, st.st_gid)
            elif stat.S_ISLNK(st.st_mode):
                out[rel] = ("symlink", os.readlink(path), st.st_uid, st.st_gid)
            elif stat.S_ISFIFO(st.st_mode):
                out[rel] = ("fifo", perm, st.st_uid, st.st_gid)
            elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                out[rel] = ("dev", perm, st.st_uid, st.st_gid, os.major(st.st_rdev), os.minor(st.st_rdev))
            else:
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                out[rel] = ("file", perm, st.st_uid, st.st_gid, digest, int(st.st_mtime))
    return out


def layer_names(engine: LocalEngine, image: str) -> list[str]:
    record = engine.images.resolve(image)
    blob = engine.images.blob_path(record.layers[-1].digest).read_bytes()
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(blob))) as tf:
        return [m.name for m in tf]


# ------------------------------------------------------------------------------------------ tests


def test_commit_round_trips_through_push_pull_and_umoci(
    env: Env, tmp_path: Path, _private_networks: NetSettings
) -> None:
    for tool in ("skopeo", "umoci"):
        if not shutil.which(tool):
            pytest.skip(f"{tool} is not installed")
    cid = env.changed_container()
    ref = f"{env.registry}/committed/demo:v1"
    r = env.cli(
        "commit",
        "-m",
        "a message",
        "-a",
        "Jane <j@example.com>",
        "-c",
        'CMD ["cat", "/usr/sbin/only"]',
        cid,
        ref,
        check=True,
    )
    image_id = r.stdout.decode().strip()
    assert image_id.startswith("sha256:") and env.engine.images.resolve(ref).id == image_id

    names = layer_names(env.engine, ref)
    assert "bin/.wh.ls" in names and "usr/.wh.sbin" not in names  # sbin was made again: opaque, not gone
    assert "usr/sbin/.wh..wh..opq" in names
    assert names.index("usr/sbin") < names.index("usr/sbin/.wh..wh..opq") < names.index("usr/sbin/only")
    assert not RUNTIME_FILES & set(names)  # the runtime's mount points stay out
    position = {n: i for i, n in enumerate(names)}
    for n in names:  # parents before children
        parent = n.rsplit("/", 1)[0] if "/" in n else ""
        assert position.get(parent, -1) < position[n]

    exported = env.cli("export", cid, check=True).stdout
    want = tree_of_tar(exported, skip=RUNTIME_FILES)
    assert "bin/ls" not in want and want["usr/sbin/only"][0] == "file" and "usr/sbin/chroot" not in want
    assert want["data/owned"][2:4] == (1000, 1001) and want["data/setuid"][1] == 0o4755
    assert want["data/hard"] == want["data/sub/f"] and want["data/fifo"][0] == "fifo"

    env.cli("push", ref, check=True)
    layout = tmp_path / "layout"
    subprocess.run(
        [
            "skopeo",
            "--insecure-policy",
            "copy",
            "--src-tls-verify=false",
            f"docker://{ref}",
            f"oci:{layout}:v1",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    bundle = tmp_path / "bundle"
    subprocess.run(
        ["umoci", "unpack", "--image", f"{layout}:v1", str(bundle)], check=True, capture_output=True
    )
    assert tree_of_dir(bundle / "rootfs") == want

    meta = json.loads(
        subprocess.run(
            ["skopeo", "inspect", "--config", "--tls-verify=false", f"docker://{ref}"],
            check=True,
            capture_output=True,
            timeout=60,
        ).stdout
    )
    assert meta["config"]["Cmd"] == ["cat", "/usr/sbin/only"]
    assert meta["author"] == "Jane <j@example.com>"
    assert (
        meta["history"][-1]["comment"] == "a message"
        and meta["history"][-1]["created_by"] == f"sh -c {CHANGES}"
    )

    # a fresh dockyard pulls it back and sees the same tree
    base = make_scratch_dir("dockyard-commit-pull-")
    try:
        cfg = Config(root=base / "root", run=env.config.run, docker_config=base / "docker")
        _private_networks.apply(cfg)  # this session's bridge, never the host's dockyard0
        other = LocalEngine(cfg)
        other.pull(ref)
        c = other.create_container(ContainerCreate(ContainerConfig(image=ref)))
        try:
            out = io.BytesIO()
            other.export_container(c.id, out)
            assert tree_of_tar(out.getvalue(), skip=RUNTIME_FILES) == want
            other.start_container(c.id)
            assert other.wait_container(c.id) == 0
            assert "".join(x.text for x in other.container_logs(c.id)) == "only\n"
        finally:
            other.remove_container(c.id, force=True)
    finally:
        remove_scratch(base)


def test_commit_config_changes_and_errors(env: Env) -> None:
    c = env.engine.create_container(
        ContainerCreate(
            ContainerConfig(
                image="busybox", cmd=["sh", "-c", "echo hi > /hi"], env=["FROM_RUN=1"], working_dir="/tmp"
            )
        )
    )
    env.engine.start_container(c.id)
    env.engine.wait_container(c.id)
    summary = env.engine.commit(
        c.id,
        "changed:1",
        changes=["ENV A=1 B=$A", "EXPOSE 80/udp", 'ENTRYPOINT ["cat"]', "USER nobody", "LABEL x=y"],
    )
    cfg = env.engine.inspect_image("changed:1")["Config"]
    assert "FROM_RUN=1" in cfg["Env"] and "A=1" in cfg["Env"] and "B=1" in cfg["Env"]
    assert not any(e.startswith("HOSTNAME=") for e in cfg["Env"])
    assert cfg["ExposedPorts"] == {"80/udp": {}}
    assert cfg["Entrypoint"] == ["cat"] and cfg["Cmd"] is None  # a new ENTRYPOINT drops the inherited CMD
    assert cfg["User"] == "nobody" and cfg["Labels"]["x"] == "y" and cfg["WorkingDir"] == "/tmp"
    hist = env.engine.history("changed:1")
    assert hist[0].id == summary.id and hist[0].created_by == "sh -c echo hi > /hi" and hist[0].size == 3
    assert hist[1].created_by == "testbed: busybox-static rootfs"
    r = env.cli("commit", "-c", "RUN echo no", c.id)
    assert r.returncode == 1 and b"RUN is not a valid change command" in r.stderr
    r = env.cli("commit", "no-such-container")
    assert r.returncode != 0 and b"No such container" in r.stderr


def test_commit_of_a_running_container_pauses_it_and_leaves_it_running(env: Env) -> None:
    c = env.engine.create_container(
        ContainerCreate(
            ContainerConfig(
                image="busybox",
                cmd=["sh", "-c", "echo live > /live; sleep 300"],
                attach_stdout=False,
                attach_stderr=False,
            )
        )
    )
    env.engine.start_container(c.id)
    for _ in range(200):
        if (env.config.paths.container(c.id) / "upper" / "live").exists():
            break
        time.sleep(0.02)
    env.cli("commit", c.id, "live:1", check=True)
    assert env.engine.container(c.id).status == "running"
    env.cli("commit", "--pause=false", c.id, "live:2", check=True)
    assert env.engine.container(c.id).status == "running"
    for tag in ("live:1", "live:2"):
        assert "live" in layer_names(env.engine, tag)
    events = [e.action for e in env.engine.events(since=0, follow=False) if e.id == c.id]
    assert "pause" in events and "unpause" in events and "commit" in events


def test_export_then_import_runs(env: Env, tmp_path: Path) -> None:
    cid = env.changed_container()
    out = tmp_path / "fs.tar"
    env.cli("export", "-o", str(out), cid, check=True)
    with tarfile.open(out) as tf:
        names = tf.getnames()
    assert "bin/ls" not in names and "data/sub/f" in names and "bin/sh" in names
    r = env.cli(
        "import", "-c", 'CMD ["cat", "/data/sub/f"]', "-m", "from a file", str(out), "imported:1", check=True
    )
    imported = r.stdout.decode().strip()
    assert env.engine.images.resolve("imported:1").id == imported
    assert len(env.engine.images.resolve("imported:1").layers) == 1
    assert env.cli("run", "--rm", "imported:1", check=True).stdout == b"created\n"
    hist = env.engine.history("imported:1")
    assert len(hist) == 1 and hist[0].comment == "from a file"
    # gzip on stdin, as `docker import -` takes it
    r = env.cli("import", "-", "imported:2", input=gzip.compress(out.read_bytes()), check=True)
    assert env.cli("run", "--rm", "imported:2", "cat", "/usr/sbin/only", check=True).stdout == b"only\n"
    # not a tar: refused, nothing left behind
    blobs_before = set(os.listdir(env.config.paths.blobs))
    r = env.cli("import", "-", input=b"this is not a tar archive at all" * 40)
    assert r.returncode != 0
    assert set(os.listdir(env.config.paths.blobs)) == blobs_before


def test_history_table(env: Env) -> None:
    cid = env.changed_container()
    env.cli("commit", "-m", "note", cid, "hist:1", check=True)
    out = env.cli("history", "hist:1", check=True).stdout.decode().splitlines()
    assert out[0].split() == ["IMAGE", "CREATED", "CREATED", "BY", "SIZE", "COMMENT"]
    assert out[1].endswith("note") and "sh -c set -e; rm /bin/ls; rm -rf /usr/sbin; …" in out[1]
    assert out[2].startswith(env.engine.images.resolve("busybox").hex[:12])
    q = env.cli("history", "-q", "--no-trunc", "hist:1", check=True).stdout.decode().split()
    assert q == [env.engine.images.resolve("hist:1").id, env.engine.images.resolve("busybox").id]
    j = [
        json.loads(x)
        for x in env.cli("history", "--format", "json", "hist:1", check=True).stdout.splitlines()
    ]
    assert j[0]["Comment"] == "note" and j[1]["CreatedBy"] == "testbed: busybox-static rootfs"


def test_write_diff_of_a_crafted_upper_dir(tmp_path: Path) -> None:
    """The diff writer on its own: whiteouts, opaque dirs, xattrs, hard links, sockets, scaffolding, bytes."""
    import socket

    from core.storage.diff import HashingWriter, write_diff

    if os.geteuid() != 0:
        pytest.skip("needs root (whiteout device nodes, trusted.* xattrs)")
    lower = tmp_path / "lower"
    (lower / "etc").mkdir(parents=True)
    (lower / "keep").write_text("k")
    upper = tmp_path / "upper"
    (upper / "etc").mkdir(parents=True)
    os.chmod(upper / "etc", 0o755)
    os.chmod(lower / "etc", 0o755)
    for name in ("hosts", "hostname", "resolv.conf"):
        (upper / "etc" / name).write_text("")  # the runtime's mount points: left out, and etc/ with them
    (upper / "proc").mkdir()
    os.mknod(upper / "gone", stat.S_IFCHR | 0o000, os.makedev(0, 0))
    (upper / "opq").mkdir()
    os.setxattr(upper / "opq", "trusted.overlay.opaque", b"y")
    (upper / "opq" / "new").write_text("n")
    (upper / "x").write_bytes(b"data")
    os.setxattr(upper / "x", "user.note", b"\xffbinary")
    os.setxattr(upper / "x", "trusted.overlay.origin", b"private")
    os.link(upper / "x", upper / "y")
    os.mknod(upper / "null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(upper / "sock"))
    sock.close()

    def diff() -> tuple[bytes, object]:
        buf = io.BytesIO()
        stats = write_diff(
            upper, buf, lowers=[lower], mountpoints=["proc", "etc/hosts", "etc/hostname", "etc/resolv.conf"]
        )
        return buf.getvalue(), stats

    data, stats = diff()
    assert diff()[0] == data  # the same tree gives the same bytes
    assert data.endswith(bytes(1024)) and len(data) % 512 == 0
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        members = {m.name: m for m in tf}
    assert list(members) == [".wh.gone", "null", "opq", "opq/.wh..wh..opq", "opq/new", "x", "y"]
    assert members["y"].islnk() and members["y"].linkname == "x"
    assert members["null"].ischr() and (members["null"].devmajor, members["null"].devminor) == (1, 3)
    assert (
        members["x"].pax_headers["SCHILY.xattr.user.note"].encode("utf-8", "surrogateescape") == b"\xffbinary"
    )
    assert not any("trusted.overlay" in k for m in members.values() for k in m.pax_headers)
    assert stats.whiteouts == 1 and stats.opaque_dirs == 1  # type: ignore[attr-defined]
    # nothing but scaffolding: an empty diff, the well-known 1024-byte empty layer
    empty = tmp_path / "empty"
    (empty / "proc").mkdir(parents=True)
    out = HashingWriter()
    assert write_diff(empty, out, mountpoints=["proc"]).empty
    assert out.digest == "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"
