"""Pulling from the loopback test bed, through the Engine and through the ``dockyard`` command.

Every variant of the busybox image (OCI, Docker schema2, image index and manifest list with platform
selection, zstd, uncompressed) is pulled and checked against what the bed built; the unpacked trees of
busybox and whiteout are compared file for file with ``umoci unpack`` of the same OCI layout, through a
read-only overlay mount of our layers (the way containers will see them). Auth: Basic and token
registries, login/logout as docker writes them, where credentials go, and that a blob redirect to
another host carries none.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import ssl
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.config import Config, host_platform
from core.engine import LocalEngine
from core.errors import AuthenticationError, RegistryError
from core.images.pull import check_temp_clean
from core.images.registry import RegistryClient
from core.models import PullProgress
from tests.e2e.faultproxy import FaultProxy
from tests.testbed import WHITEOUT_ABSENT, WHITEOUT_PRESENT, Testbed
from tests.testbed.build import Layout
from tests.testbed.common import make_scratch_dir, remove_scratch, run
from tests.testbed.registry import free_port

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
HOST_ARCH = host_platform().split("/")[1]

# registry name -> manifest media type the record must carry
VARIANTS = {
    "busybox:latest": OCI_MANIFEST,
    "busybox:gzip": OCI_MANIFEST,
    "busybox:v2s2": DOCKER_MANIFEST,
    "busybox:multi": OCI_MANIFEST,
    "busybox:multi-v2s2": DOCKER_MANIFEST,
    "busybox:zstd": OCI_MANIFEST,
    "busybox:uncompressed": OCI_MANIFEST,
}


# ---------------------------------------------------------------------------------------------- helpers


def dockyard(
    cfg: Config, *args: str, stdin: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run the installed ``dockyard`` command against ``cfg``'s root and docker config dir."""
    exe = Path(sys.executable).parent / "dockyard"
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("DOCKYARD_") or k == "DOCKYARD_CGROUP_PARENT"
    }
    env.update(DOCKER_CONFIG=str(cfg.docker_config), DOCKYARD_RUN=str(cfg.run))
    return subprocess.run(
        [str(exe), "--root", str(cfg.root), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        stdin=None if stdin is not None else subprocess.DEVNULL,
    )


def ok(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout: {proc.stdout}\nstderr: {proc.stderr}"
    return proc.stdout


def fails(proc: subprocess.CompletedProcess[str], code: int | None = None) -> str:
    """The one error line of a failed command; its exit status is docker's (by default 125 for ``run``, 1 for
    any other verb)."""
    if code is None:
        verb = (
            [a for a in proc.args[3:5] if not str(a).startswith("-")] if isinstance(proc.args, list) else []
        )
        code = 125 if verb[:1] == ["run"] or verb[:2] == ["container", "run"] else 1
    assert proc.returncode == code, f"exit {proc.returncode}\nstdout: {proc.stdout}\nstderr: {proc.stderr}"
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    return lines[0]


def layout_config(bed: Testbed, name: str, arch: str | None = None) -> tuple[dict[str, Any], str]:
    """(config, config digest) of ``name`` as built in its OCI layout (index entries picked by arch)."""
    lay = Layout(bed.layout(name).layout)
    desc = lay.descriptor(bed.layout(name).tag)
    obj = lay.read_json(desc["digest"])
    if "manifests" in obj:
        want = arch or HOST_ARCH
        desc = next(m for m in obj["manifests"] if m["platform"]["architecture"] == want)
        obj = lay.read_json(desc["digest"])
    digest = obj["config"]["digest"]
    return lay.read_json(digest), digest


def layer_dirs(cfg: Config) -> set[str]:
    try:
        return {p.name for p in cfg.paths.layers.iterdir()}
    except FileNotFoundError:
        return set()


def store_is_empty(cfg: Config) -> None:
    """Nothing kept: no image record, no layer, no blob, no temp entry anywhere under the root."""
    paths = cfg.paths
    for d in (paths.images, paths.layers):
        assert not d.exists() or not any(d.iterdir()), sorted(os.listdir(d))
    if paths.blobs.exists():
        assert [p for p in paths.blobs.rglob("*") if p.is_file()] == []
    assert check_temp_clean(cfg.root) == []
    if paths.tmp.exists():
        assert list(paths.tmp.iterdir()) == []


# ------------------------------------------------------------------------------------- tree comparison

Entry = tuple[str, int, int, int, object, int]


def snapshot(root: Path) -> tuple[dict[str, Entry], set[frozenset[str]]]:
    """Every entry below ``root``: (type, permission bits, uid, gid, content/target/rdev, mtime of
    non-directories) and the groups of hard-linked names."""
    entries: dict[str, Entry] = {}
    inodes: dict[tuple[int, int], list[str]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root)
            st = os.lstat(path)
            fmt = stat.S_IFMT(st.st_mode)
            extra: object = None
            mtime = 0
            if stat.S_ISREG(fmt):
                with open(path, "rb") as f:
                    extra = hashlib.sha256(f.read()).hexdigest()
                if st.st_nlink > 1:
                    inodes.setdefault((st.st_dev, st.st_ino), []).append(rel)
                mtime = st.st_mtime_ns
            elif stat.S_ISLNK(fmt):
                extra = os.readlink(path)
                mtime = st.st_mtime_ns
            elif stat.S_ISCHR(fmt) or stat.S_ISBLK(fmt):
                extra = st.st_rdev
            kind = stat.filemode(st.st_mode)[0]
            entries[rel] = (kind, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, extra, mtime)
    return entries, {frozenset(v) for v in inodes.values() if len(v) > 1}


def assert_same_tree(ours: Path, reference: Path) -> None:
    a, a_links = snapshot(ours)
    b, b_links = snapshot(reference)
    only_ours = sorted(set(a) - set(b))
    only_ref = sorted(set(b) - set(a))
    differ = sorted(k for k in set(a) & set(b) if a[k] != b[k])
    assert not (only_ours or only_ref or differ), (
        f"only in ours: {only_ours[:10]}\nonly in umoci's: {only_ref[:10]}\n"
        + "\n".join(f"{k}: ours {a[k]} umoci {b[k]}" for k in differ[:10])
    )
    assert a_links == b_links
    assert len(a) > 250  # the comparison really walked a busybox tree


@pytest.fixture(scope="module")
def umoci_rootfs(testbed: Testbed) -> Iterator[dict[str, Path]]:
    """``umoci unpack`` of the busybox and whiteout layouts (copies: umoci takes locks in the layout)."""
    work = make_scratch_dir("dockyard-umoci-")
    out = {}
    try:
        for name in ("busybox:latest", "whiteout:latest"):
            image = testbed.layout(name)
            copy = work / f"layout-{image.layout.name}"
            if not copy.exists():
                shutil.copytree(image.layout, copy)
            bundle = work / name.replace(":", "-")
            run(["umoci", "unpack", "--image", f"{copy}:{image.tag}", bundle])
            out[name] = bundle / "rootfs"
        yield out
    finally:
        remove_scratch(work)


class OverlayView:
    """Our layers of an image as a read-only overlay, top-most layer first, like a container's rootfs."""

    def __init__(self, engine: LocalEngine, image: str) -> None:
        record = engine.images.resolve(image)
        self.scratch = make_scratch_dir("dockyard-view-")
        self.target = self.scratch / "merged"
        self.target.mkdir()
        empty = self.scratch / "empty"  # overlayfs wants two lower dirs when there is no upper dir
        empty.mkdir()
        lower = engine.layers.lowerdirs([layer.chain_id for layer in record.layers]) + f":{empty}"
        self.mounted = False
        try:
            subprocess.run(
                ["mount", "-t", "overlay", "overlay", "-o", f"ro,lowerdir={lower}", str(self.target)],
                check=True,
                capture_output=True,
            )
            self.mounted = True
        except BaseException:
            remove_scratch(self.scratch)
            raise

    def __enter__(self) -> Path:
        return self.target

    def __exit__(self, *exc: object) -> None:
        try:
            if self.mounted:
                subprocess.run(["umount", str(self.target)], check=True, capture_output=True)
        finally:
            remove_scratch(self.scratch)


# ------------------------------------------------------------------------------------------- variants


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_engine_pulls_every_variant(testbed: Testbed, engine_config: Config, name: str) -> None:
    engine = LocalEngine(engine_config)
    events: list[PullProgress] = []
    result = engine.pull(testbed.ref(name), progress=events.append)

    assert result.digest == testbed.digests[name]
    assert result.new
    config, config_digest = layout_config(testbed, name)
    assert result.image.id == config_digest
    assert result.image.repo_tags == [testbed.ref(name)]
    record = engine.images.resolve(testbed.ref(name))
    assert record.manifest_media_type == VARIANTS[name]
    assert [layer.diff_id for layer in record.layers] == config["rootfs"]["diff_ids"]
    for layer in record.layers:
        assert engine.layers.exists(layer.chain_id)
        assert engine.images.has_blob(layer.digest)
    # the index/list digest names the pull; the platform's own manifest is what the record describes
    assert engine.images.has_blob(result.digest) and engine.images.has_blob(record.manifest_digest)
    assert f"{testbed.ref(name).rsplit(':', 1)[0]}@{testbed.digests[name]}" in record.repo_digests
    assert engine.image_config(record)["architecture"] == HOST_ARCH
    assert any(e.status == "Pull complete" for e in events)
    assert check_temp_clean(engine_config.root) == []
    assert layer_dirs(engine_config) == {layer.chain_id.removeprefix("sha256:") for layer in record.layers}


@pytest.mark.parametrize(
    "name", ["busybox:latest", "busybox:v2s2", "busybox:multi", "busybox:zstd", "busybox:uncompressed"]
)
def test_cli_pulls_every_variant(testbed: Testbed, engine_config: Config, name: str) -> None:
    ref = testbed.ref(name)
    out = ok(dockyard(engine_config, "pull", ref))
    lines = out.splitlines()
    assert lines[0] == f"{name.split(':')[1]}: Pulling from busybox"  # docker's header, said once
    assert not any("Pulling from" in line for line in lines[1:])
    assert f"Digest: {testbed.digests[name]}" in lines
    assert f"Status: Downloaded newer image for {ref}" in lines
    assert lines[-1] == ref
    assert any(line.endswith(": Pull complete") for line in lines)

    # again: nothing new
    out = ok(dockyard(engine_config, "pull", ref))
    assert f"Status: Image is up to date for {ref}" in out
    assert "Pull complete" not in out and "Already exists" in out

    listed = ok(dockyard(engine_config, "images", "--format", "json"))
    rows = [json.loads(line) for line in listed.splitlines()]
    _, config_digest = layout_config(testbed, name)
    assert [(r["Repository"], r["Tag"], r["ID"]) for r in rows] == [
        (ref.rsplit(":", 1)[0], name.split(":")[1], config_digest.removeprefix("sha256:")[:12])
    ]
    assert ok(dockyard(engine_config, "pull", "-q", ref)).strip() == ref


@pytest.mark.parametrize("name", ["busybox:multi", "busybox:multi-v2s2"])
def test_platform_selects_the_arm64_entry(testbed: Testbed, engine_config: Config, name: str) -> None:
    ref = testbed.ref(name)
    ok(dockyard(engine_config, "pull", "--platform", "linux/arm64", ref))
    engine = LocalEngine(engine_config)
    record = engine.images.resolve(ref)
    cfg = engine.image_config(record)
    assert (cfg["os"], cfg["architecture"], cfg.get("variant")) == ("linux", "arm64", "v8")
    _, arm_digest = layout_config(testbed, name, arch="arm64")
    assert record.id == arm_digest
    assert record.platform == "linux/arm64/v8"
    inspect = json.loads(ok(dockyard(engine_config, "image", "inspect", ref)))[0]
    assert (inspect["Architecture"], inspect["Variant"]) == ("arm64", "v8")

    # the host's entry is another image with the same layers: stored once
    before = layer_dirs(engine_config)
    out = ok(dockyard(engine_config, "pull", ref))
    assert "Already exists" in out and "Pull complete" not in out
    assert layer_dirs(engine_config) == before
    host = engine.images.resolve(ref)
    assert host.id != record.id and engine.image_config(host)["architecture"] == HOST_ARCH


def test_unknown_platform_is_refused(testbed: Testbed, engine_config: Config) -> None:
    line = fails(dockyard(engine_config, "pull", "--platform", "linux/s390x", testbed.ref("busybox:multi")))
    assert "no matching manifest for linux/s390x" in line and "arm64" in line
    store_is_empty(engine_config)


def test_explicit_platform_must_match_a_single_platform_image(
    testbed: Testbed, engine_config: Config
) -> None:
    ref = testbed.ref("busybox:latest")
    line = fails(dockyard(engine_config, "pull", "--platform", "linux/arm64", ref))
    assert f"wanted linux/arm64, actual: linux/{HOST_ARCH}" in line
    store_is_empty(engine_config)
    # without --platform, as docker, an image is taken whatever it was built for
    ok(dockyard(engine_config, "pull", "--platform", host_platform(), ref))


def test_shared_layers_are_stored_once(testbed: Testbed, engine_config: Config) -> None:
    engine = LocalEngine(engine_config)
    engine.pull(testbed.ref("busybox:latest"))
    dirs = layer_dirs(engine_config)
    blobs = sorted(p.name for p in engine_config.paths.blobs.rglob("*") if p.is_file())
    events: list[PullProgress] = []
    arm = engine.pull(testbed.ref("busybox:multi"), platform="linux/arm64", progress=events.append)
    assert {e.status for e in events if e.layer} == {"Already exists"}
    assert layer_dirs(engine_config) == dirs
    assert len(engine.list_images()) == 2
    # removing one image keeps the layer the other still uses
    engine.remove_image(arm.image.id)
    assert layer_dirs(engine_config) == dirs
    assert sorted(p.name for p in engine_config.paths.blobs.rglob("*") if p.is_file()) == blobs
    engine.remove_image(testbed.ref("busybox:latest"))
    store_is_empty(engine_config)


def test_concurrent_pulls_download_each_blob_once(testbed: Testbed, engine_config: Config) -> None:
    """Six ``dockyard pull`` processes of one image at once: one downloads each blob (counted at a proxy),
    the others wait for it and use it, and all succeed with one record and one copy of each layer."""
    exe = Path(sys.executable).parent / "dockyard"
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("DOCKYARD_") or k == "DOCKYARD_CGROUP_PARENT"
    }
    env.update(DOCKER_CONFIG=str(engine_config.docker_config), DOCKYARD_RUN=str(engine_config.run))
    with FaultProxy(testbed.open_addr) as proxy:
        proxy.throttle = 600_000  # bytes/s: the ~1 MB layer takes long enough for every process to ask
        ref = f"{proxy.addr}/busybox:latest"
        procs = [
            subprocess.Popen(
                [str(exe), "--root", str(engine_config.root), "pull", ref],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
            )
            for _ in range(6)
        ]
        try:
            outs = [p.communicate(timeout=60) for p in procs]
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.wait()
        for p, (out, err) in zip(procs, outs, strict=True):
            assert p.returncode == 0, f"exit {p.returncode}\nstdout: {out}\nstderr: {err}"
        manifests = proxy.seen("GET", "/manifests/")
        fetched = [r.path.rpartition("/")[2] for r in proxy.blob_requests()]
    assert len(manifests) >= 6  # every process did ask the registry
    engine = LocalEngine(engine_config)
    record = engine.images.resolve(ref)
    wanted = [record.config_digest, *(layer.digest for layer in record.layers)]
    assert sorted(fetched) == sorted(wanted), fetched  # each blob once, whoever fetched it
    assert sum("Waiting" in out or "Already exists" in out for out, _ in outs) >= 1
    assert len(engine.list_images()) == 1
    assert layer_dirs(engine_config) == {layer.chain_id.removeprefix("sha256:") for layer in record.layers}
    assert check_temp_clean(engine_config.root) == []
    # the last one out removes the lock files of the blobs and layers they shared
    locks = engine_config.paths.locks
    assert [n for n in os.listdir(locks) if n.startswith(("fetch-", "pull-"))] == []


# ------------------------------------------------------------------------------------ the unpacked trees


@pytest.mark.parametrize("name", ["busybox:latest", "busybox:zstd", "busybox:uncompressed", "busybox:v2s2"])
def test_busybox_tree_equals_umoci_unpack(
    testbed: Testbed, engine_config: Config, umoci_rootfs: dict[str, Path], name: str
) -> None:
    engine = LocalEngine(engine_config)
    engine.pull(testbed.ref(name))
    with OverlayView(engine, testbed.ref(name)) as merged:
        assert_same_tree(merged, umoci_rootfs["busybox:latest"])
        assert os.readlink(merged / "bin/sh") == "/bin/busybox"
        assert os.stat(merged / "tmp").st_mode & 0o7777 == 0o1777


def test_whiteout_tree_equals_umoci_unpack(
    testbed: Testbed, engine_config: Config, umoci_rootfs: dict[str, Path]
) -> None:
    engine = LocalEngine(engine_config)
    engine.pull(testbed.ref("whiteout:latest"))
    with OverlayView(engine, testbed.ref("whiteout:latest")) as merged:
        assert_same_tree(merged, umoci_rootfs["whiteout:latest"])
        for path in WHITEOUT_PRESENT:
            assert os.path.lexists(f"{merged}{path}"), path
        for path in WHITEOUT_ABSENT:
            assert not os.path.lexists(f"{merged}{path}"), path
        assert sorted(os.listdir(merged / "data/opaque")) == ["new.txt"]
        assert (merged / "data/opaque/new.txt").read_text() == "new\n"
        a, b = os.stat(merged / "data/hard-a"), os.stat(merged / "data/hard-b")
        assert (a.st_ino, a.st_nlink) == (b.st_ino, 2)
        st = os.stat(merged / "data/setuid")
        assert stat.S_IMODE(st.st_mode) == 0o4755
        st = os.stat(merged / "data/user-file")
        assert (st.st_uid, st.st_gid) == (1000, 1000)
        assert os.readlink(merged / "data/abs-link") == "/data/keep.txt"


# ----------------------------------------------------------------------------------------------- auth


def docker_config_json(cfg: Config) -> dict[str, Any]:
    path = cfg.docker_config_file
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    return json.loads(path.read_text())


def b64(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


def test_basic_registry_login_pull_logout(testbed: Testbed, engine_config: Config) -> None:
    addr = testbed.basic_addr
    user, password = testbed.basic_credentials
    ref = testbed.ref("busybox:latest", "basic")
    line = fails(dockyard(engine_config, "pull", ref))
    assert f"dockyard login {addr}" in line
    store_is_empty(engine_config)

    line = fails(dockyard(engine_config, "login", addr, "-u", user, "--password-stdin", stdin="wrong"))
    assert "refused" in line or "denied" in line
    assert not engine_config.docker_config_file.exists()

    proc = dockyard(engine_config, "login", addr, "-u", user, "-p", password)
    assert "Login Succeeded" in ok(proc)
    assert "--password-stdin" in proc.stderr  # docker's warning about -p
    assert docker_config_json(engine_config) == {"auths": {addr: {"auth": b64(user, password)}}}

    out = ok(dockyard(engine_config, "pull", ref))
    assert f"Digest: {testbed.digests['busybox:latest']}" in out

    assert f"Removing login credentials for {addr}" in ok(dockyard(engine_config, "logout", addr))
    assert addr not in docker_config_json(engine_config).get("auths", {})
    assert "Not logged in" in ok(dockyard(engine_config, "logout", addr))
    ok(dockyard(engine_config, "rmi", ref))
    fails(dockyard(engine_config, "pull", ref))


def test_token_registry_private_repo_needs_login(testbed: Testbed, engine_config: Config) -> None:
    addr = testbed.token_addr
    user, password = testbed.token_credentials
    private = testbed.ref("private/busybox:latest", "token")
    t0 = time.time()

    # public repositories pull anonymously, with a token for the pull scope only
    ok(dockyard(engine_config, "pull", testbed.ref("busybox:latest", "token")))
    line = fails(dockyard(engine_config, "pull", private))
    assert "private/busybox" in line and f"dockyard login {addr}" in line
    anon = [r for r in testbed.token_requests() if r["time"] >= t0]
    assert anon and all(r["user"] is None and not r["basic"] for r in anon)

    t1 = time.time()
    assert "Login Succeeded" in ok(
        dockyard(engine_config, "login", addr, "-u", user, "--password-stdin", stdin=password + "\n")
    )
    assert docker_config_json(engine_config)["auths"][addr] == {"auth": b64(user, password)}
    out = ok(dockyard(engine_config, "pull", private))
    assert f"Digest: {testbed.digests['private/busybox:latest']}" in out
    authed = [r for r in testbed.token_requests() if r["time"] >= t1]
    assert authed and all(r["user"] == user and r["status"] == 200 for r in authed)
    assert any("repository:private/busybox:pull" in r["scopes"] for r in authed)

    ok(dockyard(engine_config, "logout", addr))
    assert addr not in docker_config_json(engine_config)["auths"]
    ok(dockyard(engine_config, "rmi", private))
    fails(dockyard(engine_config, "pull", private))


def test_engine_login_refuses_bad_token_credentials(testbed: Testbed, engine_config: Config) -> None:
    engine = LocalEngine(engine_config)
    with pytest.raises(AuthenticationError):
        engine.login(testbed.token_addr, testbed.token_credentials[0], "not-the-password")
    assert not engine_config.docker_config_file.exists()


def test_credentials_go_only_where_asked(testbed: Testbed, engine_config: Config) -> None:
    """Basic credentials reach the token server only (the registry gets Bearer tokens); a registry that
    asks for nothing gets nothing, even when other registries' credentials are stored."""
    with FaultProxy(testbed.token_addr) as token_proxy, FaultProxy(testbed.open_addr) as open_proxy:
        engine_config.docker_config_file.write_text(
            json.dumps(
                {
                    "auths": {
                        token_proxy.addr: {"auth": b64(*testbed.token_credentials)},
                        testbed.basic_addr: {"auth": b64(*testbed.basic_credentials)},
                    }
                }
            )
        )
        t0 = time.time()
        ok(dockyard(engine_config, "pull", f"{token_proxy.addr}/private/busybox:latest"))
        ok(dockyard(engine_config, "pull", f"{open_proxy.addr}/whiteout:latest"))

        to_registry = [r.headers.get("authorization", "") for r in token_proxy.requests]
        assert any(h.startswith("Bearer ") for h in to_registry)
        assert not any(h.lower().startswith("basic") for h in to_registry)
        tokens = [r for r in testbed.token_requests() if r["time"] >= t0]
        assert tokens and {r["user"] for r in tokens} == {testbed.token_credentials[0]}
        assert open_proxy.requests and not any("authorization" in r.headers for r in open_proxy.requests)


@pytest.mark.parametrize("registry", ["basic", "token"])
def test_blob_redirect_to_another_host_carries_no_credentials(
    testbed: Testbed, engine_config: Config, registry: str
) -> None:
    # the registry (behind the proxy) sends blob GETs to 127.0.0.2, where the open registry serves them
    with (
        FaultProxy(testbed.open_addr, bind="127.0.0.2") as storage,
        FaultProxy(testbed.addr(registry)) as reg,
    ):
        reg.redirect_blobs = f"http://{storage.addr}"
        creds = testbed.credentials(registry)
        assert creds is not None
        ok(dockyard(engine_config, "login", reg.addr, "-u", creds[0], "--password-stdin", stdin=creds[1]))
        out = ok(dockyard(engine_config, "pull", f"{reg.addr}/busybox:latest"))
        assert "Pull complete" in out

        assert any("authorization" in r.headers for r in reg.seen("GET", "/manifests/"))
        redirected = storage.blob_requests()
        assert len(redirected) == 2  # the config and the layer
        assert not any("authorization" in r.headers for r in storage.requests)


def test_plain_http_client_makes_no_tls_context_until_https_is_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loading the CA bundle costs every pull from a loopback or insecure registry ~60 ms (and each of ten
    concurrent ones): a plain-http client makes the verifying context only when it meets an https URL (a
    blob redirected to object storage), and an https client as before."""
    made: list[object] = []
    real = ssl.create_default_context

    def counting(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        made.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(ssl, "create_default_context", counting)
    with RegistryClient(f"127.0.0.1:{free_port()}", scheme="http") as client:
        assert made == []
        with pytest.raises(RegistryError, match=r"cannot fetch 127\.0\.0\.1:"):
            client._follow("GET", f"https://127.0.0.1:{free_port()}/v2/", {}, False)
        assert len(made) == 1  # verifying, as httpx's default
    with RegistryClient(f"127.0.0.1:{free_port()}", scheme="https"):
        assert len(made) == 2


def test_pull_as_a_stream_of_docker_progress_messages(testbed: Testbed, engine_config: Config) -> None:
    engine = LocalEngine(engine_config)
    with engine.pull_stream(testbed.ref("busybox:latest")) as stream:
        messages = list(stream)
        result = stream.result
    assert result is not None and result.new and result.digest == testbed.digests["busybox:latest"]
    layers = [m for m in messages if "id" in m]
    assert layers and all(set(m) >= {"status", "id", "progressDetail"} for m in layers)
    assert any(m["status"] == "Pull complete" for m in layers)
    assert any(m["status"] == "Downloading" and m["progressDetail"].get("total") for m in layers)
    assert engine.images.resolve(testbed.ref("busybox:latest")).id == result.image.id


def test_closing_a_pull_stream_cancels_the_pull_and_keeps_nothing(
    testbed: Testbed, engine_config: Config
) -> None:
    engine = LocalEngine(engine_config)
    stream = engine.pull_stream(testbed.ref("busybox:latest"))
    first = next(iter(stream))  # the pull is under way: the next report it makes raises
    stream.close()  # returns once the pull has unwound
    assert "status" in first
    assert stream.result is None, "the pull finished although it was cancelled"
    assert engine.list_images(all=True) == []
    assert check_temp_clean(engine_config.root) == []
