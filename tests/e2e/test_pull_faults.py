"""Pulls that must fail cleanly or recover: corrupt blobs, dropped connections, bad manifests, bad
references, a pull killed with SIGKILL half way, and layers built to escape their directory.

"Cleanly" means: exit 1 (docker's for a failed pull) with one ``Error:`` line that says what went wrong, and
nothing kept under the engine root (no record, no layer, no blob, no temp entry) nor anywhere outside it.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.config import Config
from core.engine import LocalEngine
from core.errors import DigestMismatch, InvalidArgument, UnsafeLayer
from core.images.pull import check_temp_clean
from core.state.locks import FileLock
from core.storage.layers import LayerStore
from tests.e2e.faultproxy import FaultProxy
from tests.e2e.test_pull import HOST_ARCH, dockyard, fails, layer_dirs, ok, store_is_empty
from tests.testbed import LayoutImage, Testbed
from tests.testbed.build import Layout, push_verbatim
from tests.testbed.common import make_scratch_dir, remove_scratch
from tests.testbed.registry import free_port

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"


def busybox_blobs(bed: Testbed, name: str = "busybox:latest") -> tuple[str, str, int]:
    """(config digest, layer digest, layer size) of a single-layer busybox image as served."""
    lay = Layout(bed.layout(name).layout)
    manifest = lay.read_json(lay.descriptor(bed.layout(name).tag)["digest"])
    layer = manifest["layers"][0]
    return manifest["config"]["digest"], layer["digest"], layer["size"]


@pytest.fixture
def proxy(testbed: Testbed) -> Iterator[FaultProxy]:
    with FaultProxy(testbed.open_addr) as p:
        yield p


# ------------------------------------------------------------------------------------------ corruption


@pytest.mark.parametrize("name", ["busybox:latest", "busybox:zstd", "busybox:uncompressed"])
def test_corrupt_layer_is_refused(
    testbed: Testbed, engine_config: Config, proxy: FaultProxy, name: str
) -> None:
    _, layer, size = busybox_blobs(testbed, name)
    proxy.only_digest = layer
    proxy.corrupt_blob_at = size // 2
    line = fails(dockyard(engine_config, "pull", f"{proxy.addr}/{name}"))
    assert f"layer {layer} hashes to sha256:" in line and "corrupt" in line
    store_is_empty(engine_config)

    with pytest.raises(DigestMismatch):
        LocalEngine(engine_config).pull(f"{proxy.addr}/{name}")
    store_is_empty(engine_config)


def test_corrupt_gzip_trailer_is_refused(testbed: Testbed, engine_config: Config, proxy: FaultProxy) -> None:
    _, layer, size = busybox_blobs(testbed)
    proxy.only_digest = layer
    proxy.corrupt_blob_at = size - 1  # the last byte of ISIZE: only the end of the stream shows it
    line = fails(dockyard(engine_config, "pull", f"{proxy.addr}/busybox:latest"))
    assert f"layer {layer} hashes to" in line
    store_is_empty(engine_config)


def test_corrupt_config_is_refused(testbed: Testbed, engine_config: Config, proxy: FaultProxy) -> None:
    config, _, _ = busybox_blobs(testbed)
    proxy.only_digest = config
    proxy.corrupt_blob_at = 5
    line = fails(dockyard(engine_config, "pull", f"{proxy.addr}/busybox:latest"))
    assert config in line and "hashes to" in line
    store_is_empty(engine_config)


# --------------------------------------------------------------------------------------- dropped links


def test_dropped_connection_resumes_with_range(
    testbed: Testbed, engine_config: Config, proxy: FaultProxy
) -> None:
    _, layer, size = busybox_blobs(testbed)
    cut = 400_000
    assert cut < size
    proxy.only_digest = layer
    proxy.cut_blob_after = cut
    out = ok(dockyard(engine_config, "pull", f"{proxy.addr}/busybox:latest"))
    assert "Pull complete" in out
    assert proxy.cuts == 1
    fetches = [r for r in proxy.blob_requests() if r.path.endswith(layer)]
    assert len(fetches) == 2, fetches
    assert "range" not in fetches[0].headers
    assert fetches[1].headers["range"] == f"bytes={cut}-"
    record = LocalEngine(engine_config).images.resolve(f"{proxy.addr}/busybox:latest")
    assert LocalEngine(engine_config).images.blob_path(layer).stat().st_size == size
    assert layer_dirs(engine_config) == {record.layers[0].chain_id.removeprefix("sha256:")}
    assert check_temp_clean(engine_config.root) == []


def test_dropped_connection_resumes_when_range_is_ignored(
    testbed: Testbed, engine_config: Config, proxy: FaultProxy
) -> None:
    """A registry that answers a resume with 200 and the whole blob: what we already have is skipped."""
    _, layer, size = busybox_blobs(testbed)
    proxy.only_digest = layer
    proxy.cut_blob_after = 300_000
    proxy.ignore_range = True
    ok(dockyard(engine_config, "pull", f"{proxy.addr}/busybox:latest"))
    fetches = [r for r in proxy.blob_requests() if r.path.endswith(layer)]
    assert proxy.cuts == 1 and len(fetches) == 2
    assert fetches[1].headers["range"] == "bytes=300000-"
    assert proxy.blob_bytes_sent == 300_000 + size  # the second answer was the whole blob
    assert LocalEngine(engine_config).images.blob_path(layer).stat().st_size == size
    assert check_temp_clean(engine_config.root) == []


def _layer_fetches(proxy: FaultProxy, layer: str) -> int:
    return len([r for r in proxy.blob_requests() if r.path.endswith(layer)])


def test_registry_closing_after_the_headers_is_given_up_on(
    testbed: Testbed, engine_config: Config, proxy: FaultProxy
) -> None:
    """Every answer for the layer stops after its headers: docker's five retries with pauses, then one
    line naming the blob and how the last try failed (it used to ask ~4 times a second forever)."""
    _, layer, size = busybox_blobs(testbed)
    proxy.only_digest = layer
    proxy.close_after_headers = True
    t0 = time.monotonic()
    line = fails(dockyard(engine_config, "pull", f"{proxy.addr}/busybox:latest", timeout=40))
    elapsed = time.monotonic() - t0
    assert _layer_fetches(proxy, layer) == 6, proxy.blob_requests()
    assert f"giving up on blob {layer} from {proxy.addr} after 6 tries" in line, line
    assert f"the last failed: the connection broke after 0 of {size} bytes" in line, line
    assert 4.0 < elapsed < 20, elapsed  # pauses of 0.2 0.4 0.8 1.6 2.0 s between the tries
    store_is_empty(engine_config)


def test_stalled_blob_fails_after_the_read_timeout(
    testbed: Testbed, engine_config: Config, proxy: FaultProxy
) -> None:
    """Headers, then silence: each try ends after the read timeout from daemon.json, and the retries from
    daemon.json ("max-download-attempts", docker's key) bound the whole."""
    _, layer, _ = busybox_blobs(testbed)
    (engine_config.root / "daemon.json").write_text(
        json.dumps({"registry-read-timeout": 0.5, "max-download-attempts": 2})
    )
    proxy.only_digest = layer
    proxy.stall_blobs = True
    t0 = time.monotonic()
    line = fails(dockyard(engine_config, "pull", f"{proxy.addr}/busybox:latest", timeout=40))
    elapsed = time.monotonic() - t0
    assert _layer_fetches(proxy, layer) == 3
    assert f"giving up on blob {layer} from {proxy.addr} after 3 tries" in line, line
    assert "the last failed: no data for 0.5 s" in line and "registry-read-timeout" in line, line
    assert 1.5 < elapsed < 10, elapsed  # 3 x 0.5 s of silence, pauses of 0.2 and 0.4 s
    store_is_empty(engine_config)


def test_one_stall_is_retried_after_the_read_timeout(
    testbed: Testbed, engine_config: Config, proxy: FaultProxy
) -> None:
    """One stall, then a healthy registry: the read timeout ends the stalled try, the next one brings the
    blob, and the pull succeeds."""
    _, layer, size = busybox_blobs(testbed)
    (engine_config.root / "daemon.json").write_text(json.dumps({"registry-read-timeout": 0.5}))
    proxy.only_digest = layer
    proxy.stall_blobs = True
    engine = LocalEngine(Config.load(engine_config.root, engine_config.run))
    assert engine.config.registry_read_timeout == 0.5

    def heal_after_first_try() -> None:
        deadline = time.monotonic() + 10
        while proxy.stalls < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        proxy.stall_blobs = False

    healer = threading.Thread(target=heal_after_first_try)
    healer.start()
    try:
        engine.pull(f"{proxy.addr}/busybox:latest")
    finally:
        healer.join()
    assert _layer_fetches(proxy, layer) == 2
    assert engine.images.blob_path(layer).stat().st_size == size
    assert check_temp_clean(engine_config.root) == []


@pytest.mark.parametrize(
    ("env", "value", "expected"),
    [
        ("DOCKYARD_REGISTRY_READ_TIMEOUT", "2.5", 2.5),
        ("DOCKYARD_REGISTRY_READ_TIMEOUT", "0", "must be a number of seconds above 0"),
        ("DOCKYARD_REGISTRY_READ_TIMEOUT", "soon", "must be a number of seconds above 0"),
        ("DOCKYARD_MAX_DOWNLOAD_ATTEMPTS", "0", 0),
        ("DOCKYARD_MAX_DOWNLOAD_ATTEMPTS", "-1", "must be a whole number of retries"),
    ],
)
def test_download_settings_from_the_environment(
    engine_config: Config, monkeypatch: pytest.MonkeyPatch, env: str, value: str, expected: object
) -> None:
    (engine_config.root / "daemon.json").write_text(
        json.dumps({"registry-read-timeout": 7, "max-download-attempts": 3})
    )
    cfg = Config.load(engine_config.root, engine_config.run)
    assert (cfg.registry_read_timeout, cfg.max_download_attempts) == (7.0, 3)
    monkeypatch.setenv(env, value)
    if isinstance(expected, str):
        with pytest.raises(InvalidArgument, match=expected):
            Config.load(engine_config.root, engine_config.run)
        return
    cfg = Config.load(engine_config.root, engine_config.run)
    attr = "registry_read_timeout" if "TIMEOUT" in env else "max_download_attempts"
    assert getattr(cfg, attr) == expected  # the environment wins over daemon.json


def test_failed_pull_keeps_what_a_concurrent_pull_counts_on(
    testbed: Testbed, engine_config: Config, proxy: FaultProxy
) -> None:
    """A pull that fails removes the layers and blobs it added, but not those another pull in progress
    holds a claim on (that pull may already have found them and be about to write its record)."""
    lay = Layout(testbed.layout("whiteout:latest").layout)
    manifest = lay.read_json(lay.descriptor(testbed.layout("whiteout:latest").tag)["digest"])
    diff_ids = lay.read_json(manifest["config"]["digest"])["rootfs"]["diff_ids"]
    first, last = manifest["layers"][0], manifest["layers"][-1]
    first_chain = LayerStore.chain_id(None, diff_ids[0]).removeprefix("sha256:")
    first_blob = first["digest"].removeprefix("sha256:")
    proxy.only_digest = last["digest"]
    proxy.corrupt_blob_at = last["size"] // 2
    # one layer at a time: the first is complete before the last one fails
    (engine_config.root / "daemon.json").write_text(
        '{"max-download-attempts": 0, "max-concurrent-downloads": 1}'
    )
    locks = engine_config.paths.locks
    locks.mkdir(parents=True, exist_ok=True)
    others = [
        FileLock(locks, f"pull-layer-{first_chain}", shared=True),
        FileLock(locks, f"pull-blob-{first_blob}", shared=True),
    ]
    for lock in others:
        lock.acquire()
    try:
        fails(dockyard(engine_config, "pull", f"{proxy.addr}/whiteout:latest"))
    finally:
        for lock in others:
            lock.release(remove=True)
    assert layer_dirs(engine_config) == {first_chain}
    assert sorted(p.name for p in engine_config.paths.blobs.iterdir()) == [first_blob]
    assert check_temp_clean(engine_config.root) == []


def test_manifest_cut_after_the_headers_gives_one_line(
    testbed: Testbed, engine_config: Config, proxy: FaultProxy
) -> None:
    proxy.cut_manifests = True
    line = fails(dockyard(engine_config, "pull", f"{proxy.addr}/busybox:latest"))
    assert f"fetching manifest busybox:latest from {proxy.addr}: the connection broke" in line, line
    store_is_empty(engine_config)


class _Stop(Exception):
    pass


def test_a_slow_download_reports_as_bytes_arrive_and_a_cancel_lands_within_them(
    testbed: Testbed, engine_config: Config, proxy: FaultProxy
) -> None:
    """The decompressor reads a megabyte at a time: on a slow link (100 kB/s here) progress must still come
    as the bytes do, and a cancel (the TUI's Esc raises from the progress callback) end the pull then, not
    a megabyte later. Counted in bytes, not seconds: the cancel lands before the proxy sent 400 kB more."""
    _, layer, size = busybox_blobs(testbed)
    assert size > 1_000_000, "the test needs a layer over a megabyte"
    proxy.only_digest = layer
    proxy.throttle = 100_000
    seen: list[int] = []
    cancelled_at: list[int] = []

    def progress(p: Any) -> None:
        if p.status != "Downloading":
            return
        if cancelled_at:
            raise _Stop
        seen.append(p.current)
        if p.current >= 200_000:
            cancelled_at.append(proxy.blob_bytes_sent)
            raise _Stop

    with pytest.raises(_Stop):
        LocalEngine(engine_config).pull(f"{proxy.addr}/busybox:latest", progress=progress)
    assert len([n for n in seen if 0 < n < 1 << 20]) >= 2, seen  # reports before the first megabyte
    assert cancelled_at and cancelled_at[0] < 400_000, (cancelled_at, size)
    store_is_empty(engine_config)
    assert check_temp_clean(engine_config.root) == []


def test_unreachable_registry(engine_config: Config) -> None:
    line = fails(dockyard(engine_config, "pull", f"127.0.0.1:{free_port()}/busybox:latest"))
    assert "cannot reach registry 127.0.0.1:" in line
    store_is_empty(engine_config)


def test_killed_pull_leaves_nothing_a_new_pull_keeps(
    testbed: Testbed, engine_config: Config, proxy: FaultProxy
) -> None:
    _, layer, size = busybox_blobs(testbed)
    proxy.only_digest = layer
    proxy.throttle = 200_000  # bytes/s: the ~1 MB layer takes ~5 s
    exe = Path(sys.executable).parent / "dockyard"
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("DOCKYARD_") or k == "DOCKYARD_CGROUP_PARENT"
    }
    env.update(DOCKER_CONFIG=str(engine_config.docker_config), DOCKYARD_RUN=str(engine_config.run))
    ref = f"{proxy.addr}/busybox:latest"
    child = subprocess.Popen(
        [str(exe), "--root", str(engine_config.root), "pull", ref],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    try:
        deadline = time.monotonic() + 20
        while proxy.blob_bytes_sent < 300_000 and time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.02)
        assert child.poll() is None, "the pull ended before it could be killed"
        assert proxy.blob_bytes_sent < size
        os.kill(child.pid, signal.SIGKILL)
    finally:
        if child.poll() is None:
            child.kill()
        child.wait()
    assert child.returncode == -signal.SIGKILL
    # the kill really landed mid-download: a temp blob and a half-unpacked layer are left
    leftovers = check_temp_clean(engine_config.root)
    assert any(p.parent == engine_config.paths.tmp for p in leftovers), leftovers
    assert any(engine_config.paths.blobs in p.parents for p in leftovers), leftovers
    assert layer_dirs(engine_config) == set()
    assert not engine_config.paths.images.exists() or not any(engine_config.paths.images.iterdir())

    proxy.throttle = None
    out = ok(dockyard(engine_config, "pull", ref))
    assert "Downloaded newer image" in out
    assert check_temp_clean(engine_config.root) == []
    assert list(engine_config.paths.tmp.iterdir()) == []
    record = LocalEngine(engine_config).images.resolve(ref)
    assert layer_dirs(engine_config) == {layer.chain_id.removeprefix("sha256:") for layer in record.layers}


def test_pull_waiting_on_a_killed_pull_takes_over(
    testbed: Testbed, engine_config: Config, proxy: FaultProxy
) -> None:
    """Pull B waits for pull A's download of the same layer; A is killed with SIGKILL half way. Its flock
    goes with it, so B downloads the layer itself and succeeds; the next command sweeps A's leftovers."""
    _, layer, size = busybox_blobs(testbed)
    proxy.only_digest = layer
    proxy.throttle = 200_000  # bytes/s: the ~1 MB layer takes ~5 s
    exe = Path(sys.executable).parent / "dockyard"
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("DOCKYARD_") or k == "DOCKYARD_CGROUP_PARENT"
    }
    env.update(DOCKER_CONFIG=str(engine_config.docker_config), DOCKYARD_RUN=str(engine_config.run))
    ref = f"{proxy.addr}/busybox:latest"

    def start() -> subprocess.Popen[str]:
        return subprocess.Popen(
            [str(exe), "--root", str(engine_config.root), "pull", ref],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )

    first = start()
    second: subprocess.Popen[str] | None = None
    try:
        deadline = time.monotonic() + 20
        while proxy.blob_bytes_sent < 200_000 and time.monotonic() < deadline and first.poll() is None:
            time.sleep(0.02)
        second = start()
        # the second has asked for the manifest and found the layer's download taken
        while len(proxy.seen("GET", "/manifests/")) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.5)
        assert first.poll() is None and second.poll() is None
        assert _layer_fetches(proxy, layer) == 1
        proxy.throttle = None
        os.kill(first.pid, signal.SIGKILL)
        out, err = second.communicate(timeout=60)
    finally:
        for p in (first, second):
            if p is not None and p.poll() is None:
                p.kill()
            if p is not None:
                p.communicate()
    assert first.returncode == -signal.SIGKILL
    assert second.returncode == 0, f"stdout: {out}\nstderr: {err}"
    assert _layer_fetches(proxy, layer) == 2
    engine = LocalEngine(engine_config)
    record = engine.images.resolve(ref)
    assert engine.images.blob_path(layer).stat().st_size == size
    assert layer_dirs(engine_config) == {record.layers[0].chain_id.removeprefix("sha256:")}
    ok(dockyard(engine_config, "pull", ref))  # up to date; sweeps what the killed pull left
    assert check_temp_clean(engine_config.root) == []


# ------------------------------------------------------------------------------------ manifests, names


def _manifest(config_type: str = OCI_CONFIG, layer_type: str = OCI_GZIP) -> bytes:
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": config_type, "digest": "sha256:" + "1" * 64, "size": 10},
            "layers": [{"mediaType": layer_type, "digest": "sha256:" + "2" * 64, "size": 10}],
        }
    ).encode()


BAD_MANIFESTS: dict[str, tuple[bytes, str, str]] = {
    # case -> (body, content type, what the error line must say)
    "not-json": (b"<html>this is not json</html>", OCI_MANIFEST, "is not valid JSON"),
    "not-an-object": (b"[1, 2, 3]", OCI_MANIFEST, "is not a JSON object"),
    "unknown-type": (
        json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.example.thing.v1+json"}).encode(),
        "application/vnd.example.thing.v1+json",
        "unsupported manifest type 'application/vnd.example.thing.v1+json'",
    ),
    "schema1": (
        json.dumps({"schemaVersion": 1, "name": "busybox", "tag": "latest", "fsLayers": []}).encode(),
        "application/vnd.docker.distribution.manifest.v1+prettyjws",
        "unsupported manifest type 'application/vnd.docker.distribution.manifest.v1+prettyjws'",
    ),
    "helm-chart": (
        _manifest(config_type="application/vnd.cncf.helm.config.v1+json"),
        OCI_MANIFEST,
        "is not a container image",
    ),
    "odd-layer": (
        _manifest(layer_type="application/vnd.example.layer.v1"),
        OCI_MANIFEST,
        "unsupported type 'application/vnd.example.layer.v1'",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_MANIFESTS))
def test_bad_manifest_gives_one_clear_line(
    testbed: Testbed, engine_config: Config, proxy: FaultProxy, case: str
) -> None:
    body, ctype, expected = BAD_MANIFESTS[case]
    proxy.manifest_override = (body, ctype)
    line = fails(dockyard(engine_config, "pull", f"{proxy.addr}/busybox:latest"))
    assert expected in line, line
    store_is_empty(engine_config)


def test_manifest_not_matching_its_digest(testbed: Testbed, engine_config: Config, proxy: FaultProxy) -> None:
    digest = testbed.digests["busybox:latest"]
    proxy.manifest_override = (_manifest(), OCI_MANIFEST)
    line = fails(dockyard(engine_config, "pull", f"{proxy.addr}/busybox@{digest}"))
    assert digest in line and "hashes to" in line
    store_is_empty(engine_config)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("busybox:no-such-tag", "busybox:no-such-tag not found"),
        ("nosuchrepo:latest", "nosuchrepo:latest not found"),
    ],
)
def test_unknown_tag_or_repository(testbed: Testbed, engine_config: Config, name: str, expected: str) -> None:
    line = fails(dockyard(engine_config, "pull", testbed.ref(name)))
    assert expected in line
    store_is_empty(engine_config)


@pytest.mark.parametrize(
    "name", ["Busybox", "busybox:", "busybox@sha256:1234", "a:b:c", "busybox:la test", "-busybox", "x//y"]
)
def test_malformed_reference(engine_config: Config, name: str) -> None:
    line = fails(dockyard(engine_config, "pull", "--", name))
    assert "invalid reference format" in line
    store_is_empty(engine_config)


# -------------------------------------------------------------------------------------- hostile layers

Entry = tuple[str, str, str]  # (kind, name, data or link target)


def _tar(entries: list[Entry]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for kind, name, data in entries:
            info = tarfile.TarInfo(name)
            info.mtime = 1_700_000_000
            if kind == "file":
                info.size = len(data)
                info.mode = 0o644
                tf.addfile(info, io.BytesIO(data.encode()))
                continue
            if kind == "dir":
                info.type, info.mode = tarfile.DIRTYPE, 0o755
            elif kind == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, data
            elif kind == "hardlink":
                info.type, info.linkname = tarfile.LNKTYPE, data
            tf.addfile(info)
    raw = buf.getvalue()
    # tarfile itself would refuse to write some of these names, so check they went in verbatim
    with tarfile.open(fileobj=io.BytesIO(raw)) as check:
        names = [m.name for m in check.getmembers()]
    assert names == [name for _, name, _ in entries]
    return raw


def push_image(bed: Testbed, work: Path, name: str, layers: list[list[Entry]]) -> str:
    """Write an OCI layout by hand with these layers and push it verbatim to the open registry."""
    path = work / name.replace("/", "_").replace(":", "_")
    (path / "blobs/sha256").mkdir(parents=True)
    (path / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')

    def put(data: bytes) -> dict[str, Any]:
        digest = hashlib.sha256(data).hexdigest()
        (path / "blobs/sha256" / digest).write_bytes(data)
        return {"digest": f"sha256:{digest}", "size": len(data)}

    descs, diff_ids = [], []
    for entries in layers:
        raw = _tar(entries)
        diff_ids.append("sha256:" + hashlib.sha256(raw).hexdigest())
        descs.append({"mediaType": OCI_GZIP, **put(gzip.compress(raw, mtime=0))})
    config = {
        "architecture": HOST_ARCH,
        "os": "linux",
        "config": {"Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, **put(json.dumps(config).encode())},
        "layers": descs,
    }
    mdesc = {"mediaType": OCI_MANIFEST, **put(json.dumps(manifest).encode())}
    index = {
        "schemaVersion": 2,
        "manifests": [{**mdesc, "annotations": {"org.opencontainers.image.ref.name": "t"}}],
    }
    (path / "index.json").write_text(json.dumps(index))
    push_verbatim(LayoutImage(name, path, "t"), bed.open_addr, name)
    return bed.ref(name)


@pytest.fixture
def outside() -> Iterator[Path]:
    """A directory outside the engine root that hostile layers aim at, with one file in it."""
    base = make_scratch_dir("dockyard-outside-")
    target = base / "target"
    target.mkdir()
    (target / "sentinel").write_text("untouched\n")
    try:
        yield target
    finally:
        remove_scratch(base)


def escaped(cfg: Config, outside: Path) -> list[Path]:
    """Anything named ESCAPED* outside the layer directories, or a changed sentinel."""
    hits = []
    for top in (outside.parent, cfg.root.parent):
        for dirpath, dirnames, filenames in os.walk(top):
            if Path(dirpath) == cfg.paths.layers:
                dirnames.clear()  # inside a layer is where such a file may legitimately land
            hits += [Path(dirpath, n) for n in dirnames + filenames if n.startswith("ESCAPED")]
    assert sorted(os.listdir(outside)) == ["sentinel"]
    assert (outside / "sentinel").read_text() == "untouched\n"
    return hits


# case -> (layers, the entry the error must name)
HOSTILE: dict[str, tuple[list[list[Entry]], str]] = {
    "traversal": (
        [[("file", "ok.txt", "fine"), ("file", "../../ESCAPED-traversal", "x")]],
        "../../ESCAPED-traversal",
    ),
    "deep-traversal": (
        [[("dir", "a", ""), ("file", "a/../../../../ESCAPED-deep", "x")]],
        "a/../../../../ESCAPED-deep",
    ),
    "absolute-traversal": ([[("file", "/../../../ESCAPED-abs", "x")]], "/../../../ESCAPED-abs"),
    "symlink-then-write": (
        [[("symlink", "l", "{outside}"), ("file", "l/ESCAPED-through-symlink", "x")]],
        "l/ESCAPED-through-symlink",
    ),
    "symlink-parent-dir": (
        [[("dir", "d", ""), ("symlink", "d/up", "../.."), ("file", "d/up/ESCAPED-parent", "x")]],
        "d/up/ESCAPED-parent",
    ),
    "second-layer-traversal": (
        [[("file", "ok.txt", "a benign first layer")], [("file", "../ESCAPED-second", "x")]],
        "../ESCAPED-second",
    ),
    "hardlink-out-relative": ([[("hardlink", "h", "../../../../../../etc/passwd")]], "h"),
    "hardlink-out-absolute": ([[("hardlink", "h", "{outside}/sentinel")]], "h"),
    "hardlink-through-symlink": (
        [[("symlink", "s", "{outside}"), ("hardlink", "h", "s/sentinel")]],
        "h",
    ),
    "symlink-replaced-dir": (
        [[("dir", "x", ""), ("symlink", "x", "{outside}"), ("file", "x/ESCAPED-swap", "x")]],
        "x/ESCAPED-swap",
    ),
}


def _fill(layers: list[list[Entry]], outside: Path) -> list[list[Entry]]:
    return [
        [(k, n.format(outside=outside), d.format(outside=outside)) for k, n, d in layer] for layer in layers
    ]


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_layer_is_refused(
    testbed: Testbed, engine_config: Config, outside: Path, tmp_path: Path, case: str
) -> None:
    layers, entry = HOSTILE[case]
    ref = push_image(testbed, tmp_path, f"hostile/{case}:latest", _fill(layers, outside))
    # one layer at a time: a benign first layer is then always complete when a later one is refused,
    # and must be dropped with it
    (engine_config.root / "daemon.json").write_text('{"max-concurrent-downloads": 1}')
    engine_config.max_concurrent_downloads = 1
    line = fails(dockyard(engine_config, "pull", ref))
    assert f"refusing layer entry {entry.format(outside=outside)!r}" in line, line
    assert escaped(engine_config, outside) == []
    store_is_empty(engine_config)
    with pytest.raises(UnsafeLayer):
        LocalEngine(engine_config).pull(ref)
    store_is_empty(engine_config)


def test_absolute_names_land_inside_the_layer(
    testbed: Testbed, engine_config: Config, outside: Path, tmp_path: Path
) -> None:
    """docker's rule: ``/x`` in a layer means ``x`` in the rootfs, never the host's ``/x``."""
    name = f"{outside}/ESCAPED-absolute"
    ref = push_image(testbed, tmp_path, "hostile/absolute:latest", [[("file", name, "inside\n")]])
    ok(dockyard(engine_config, "pull", ref))
    assert escaped(engine_config, outside) == []
    record = LocalEngine(engine_config).images.resolve(ref)
    diff = LocalEngine(engine_config).layers.diff_dir(record.layers[0].chain_id)
    assert (diff / name.lstrip("/")).read_text() == "inside\n"


def test_symlink_in_a_lower_layer_is_not_followed(
    testbed: Testbed, engine_config: Config, outside: Path, tmp_path: Path
) -> None:
    """Layer 1 makes ``l -> <outside>``, layer 2 writes ``l/file``: each layer unpacks into its own empty
    directory, so the write lands in layer 2's own ``l/`` and never follows layer 1's link."""
    layers = [
        [("symlink", "l", str(outside))],
        [("file", "l/ESCAPED-cross-layer", "x")],
    ]
    ref = push_image(testbed, tmp_path, "hostile/cross-layer:latest", layers)
    ok(dockyard(engine_config, "pull", ref))
    assert escaped(engine_config, outside) == []
    engine = LocalEngine(engine_config)
    top = engine.images.resolve(ref).layers[1]
    assert (engine.layers.diff_dir(top.chain_id) / "l/ESCAPED-cross-layer").is_file()
