"""The test bed itself, checked with tools other than ours (curl, skopeo, umoci, gzip, zstd, GNU tar).

If these fail, every e2e test built on the bed would be testing against a wrong reference.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from typing import Any

import pytest

from core.config import Config, host_platform
from tests.testbed import WHITEOUT_ABSENT, WHITEOUT_PRESENT, BuiltImages, Testbed, start_testbed
from tests.testbed.common import remove_scratch, scratch_parent

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
ACCEPT = ",".join([OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST])

OCI_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
OCI_TAR = "application/vnd.oci.image.layer.v1.tar"
DOCKER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"

# name -> (manifest media type, config media type, layer media types)
SINGLE = {
    "busybox:latest": (OCI_MANIFEST, OCI_CONFIG, [OCI_GZIP]),
    "busybox:gzip": (OCI_MANIFEST, OCI_CONFIG, [OCI_GZIP]),
    "private/busybox:latest": (OCI_MANIFEST, OCI_CONFIG, [OCI_GZIP]),
    "busybox:v2s2": (DOCKER_MANIFEST, DOCKER_CONFIG, [DOCKER_GZIP]),
    "busybox:zstd": (OCI_MANIFEST, OCI_CONFIG, [OCI_ZSTD]),
    "busybox:uncompressed": (OCI_MANIFEST, OCI_CONFIG, [OCI_TAR]),
    "whiteout:latest": (OCI_MANIFEST, OCI_CONFIG, [OCI_GZIP] * 3),
}
# how each layer media type is decompressed by an independent tool, and its magic bytes
DECOMPRESS = {
    OCI_GZIP: (["gzip", "-dc"], b"\x1f\x8b"),
    DOCKER_GZIP: (["gzip", "-dc"], b"\x1f\x8b"),
    OCI_ZSTD: (["zstd", "-dcq"], b"\x28\xb5\x2f\xfd"),
    OCI_TAR: (["cat"], None),
}


def curl(url: str, *args: str) -> tuple[int, dict[str, str], bytes]:
    """GET with curl; returns (status, lower-cased headers of the last response, body)."""
    proc = subprocess.run(
        ["curl", "-sS", "--noproxy", "*", "-D", "-", *args, url], capture_output=True, check=True, timeout=30
    )
    head, _, body = proc.stdout.partition(b"\r\n\r\n")
    while head.startswith(b"HTTP/1.1 100") or (head.startswith(b"HTTP/") and body.startswith(b"HTTP/")):
        head, _, body = body.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return int(lines[0].split()[1]), headers, body


def manifest(bed: Testbed, name: str) -> tuple[str, str, dict[str, Any]]:
    repo, _, tag = name.rpartition(":")
    status, headers, body = curl(
        f"http://{bed.open_addr}/v2/{repo}/manifests/{tag}", "-H", f"Accept: {ACCEPT}"
    )
    assert status == 200, body
    digest = headers["docker-content-digest"]
    assert digest == "sha256:" + hashlib.sha256(body).hexdigest()
    return headers["content-type"], digest, json.loads(body)


def blob(bed: Testbed, repo: str, digest: str) -> bytes:
    status, _, body = curl(f"http://{bed.open_addr}/v2/{repo}/blobs/{digest}", "-L")
    assert status == 200, f"{repo}@{digest}: HTTP {status}"
    assert "sha256:" + hashlib.sha256(body).hexdigest() == digest
    return body


def skopeo(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env["REGISTRY_AUTH_FILE"] = "/dev/null/none.json"  # never pick up a user's stored credentials
    return subprocess.run(
        ["skopeo", "--insecure-policy", *args],
        capture_output=True,
        text=True,
        check=check,
        env=env,
        timeout=60,
    )


# ---------------------------------------------------------------------------------------------- registries
def test_each_registry_challenges_as_configured(testbed: Testbed) -> None:
    status, _, _ = curl(f"http://{testbed.open_addr}/v2/")
    assert status == 200

    status, headers, _ = curl(f"http://{testbed.basic_addr}/v2/")
    assert status == 401 and headers["www-authenticate"].startswith("Basic ")
    user, password = testbed.basic_credentials
    assert curl(f"http://{testbed.basic_addr}/v2/", "-u", f"{user}:{password}")[0] == 200
    assert curl(f"http://{testbed.basic_addr}/v2/", "-u", f"{user}:wrong")[0] == 401

    status, headers, _ = curl(f"http://{testbed.token_addr}/v2/")
    assert status == 401
    challenge = headers["www-authenticate"]
    assert challenge.startswith("Bearer ")
    assert f'realm="{testbed.token_realm}"' in challenge and f'service="{testbed.token_service}"' in challenge


def _listening(port: int) -> list[str]:
    """Local addresses listening on ``port`` (IPv4 and IPv6), from /proc/net."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            addr, _, hex_port = local.partition(":")
            if state == "0A" and int(hex_port, 16) == port:
                found.append(addr)
    return found


def test_everything_listens_on_loopback_only(testbed: Testbed) -> None:
    for addr in (testbed.open_addr, testbed.basic_addr, testbed.token_addr, testbed.token_server_addr):
        host, _, port = addr.partition(":")
        assert host == "127.0.0.1"
        # 0100007F is 127.0.0.1 in /proc/net/tcp's little-endian hex; nothing on 0.0.0.0 or ::
        assert _listening(int(port)) == ["0100007F"], addr


def test_catalog_holds_every_image(testbed: Testbed) -> None:
    _, _, body = curl(f"http://{testbed.open_addr}/v2/_catalog")
    repos = set(json.loads(body)["repositories"])
    # a superset: tests that push (push, build, commit, hostile layers) add repositories to the same registry
    assert {name.rpartition(":")[0] for name in testbed.images} <= repos
    for name in testbed.images:
        repo, _, tag = name.rpartition(":")
        _, _, body = curl(f"http://{testbed.open_addr}/v2/{repo}/tags/list")
        assert tag in json.loads(body)["tags"]


# ---------------------------------------------------------------------------------------------- images
@pytest.mark.parametrize("name", sorted(SINGLE))
def test_manifest_and_layers_are_what_they_claim(testbed: Testbed, name: str) -> None:
    want_type, want_config, want_layers = SINGLE[name]
    content_type, digest, man = manifest(testbed, name)
    assert content_type == want_type
    assert man.get("mediaType", want_type) == want_type
    assert digest == testbed.digests[name]
    assert man["config"]["mediaType"] == want_config
    assert [layer["mediaType"] for layer in man["layers"]] == want_layers

    repo = name.rpartition(":")[0]
    config = json.loads(blob(testbed, repo, man["config"]["digest"]))
    assert config["os"] == "linux" and config["architecture"] == host_platform().split("/")[1]
    assert config["config"]["Cmd"] == ["sh"]
    assert any(e.startswith("PATH=") for e in config["config"]["Env"])
    diff_ids = config["rootfs"]["diff_ids"]
    assert len(diff_ids) == len(man["layers"])

    for layer, diff_id in zip(man["layers"], diff_ids, strict=True):
        data = blob(testbed, repo, layer["digest"])
        assert len(data) == layer["size"]
        cmd, magic = DECOMPRESS[layer["mediaType"]]
        if magic is not None:
            assert data.startswith(magic), f"{layer['mediaType']} blob does not start with {magic!r}"
        else:
            assert data[257:262] == b"ustar", "an uncompressed layer must be a plain tar"
        tar = subprocess.run(cmd, input=data, capture_output=True, check=True).stdout
        # the uncompressed stream is what the config's diff_id names
        assert "sha256:" + hashlib.sha256(tar).hexdigest() == diff_id
        # GNU tar reads it to the end without complaint (umoci insert's truncated tars would fail here)
        listing = subprocess.run(["tar", "-tvf", "-"], input=tar, capture_output=True)
        assert listing.returncode == 0 and listing.stderr == b"", listing.stderr
        assert tar[-1024:] == b"\0" * 1024, "tar lacks its end-of-archive blocks"


@pytest.mark.parametrize(
    ("name", "index_type", "entry_type"),
    [("busybox:multi", OCI_INDEX, OCI_MANIFEST), ("busybox:multi-v2s2", DOCKER_LIST, DOCKER_MANIFEST)],
)
def test_multi_platform_index(testbed: Testbed, name: str, index_type: str, entry_type: str) -> None:
    content_type, digest, index = manifest(testbed, name)
    assert content_type == index_type and digest == testbed.digests[name]
    platforms = {}
    for entry in index["manifests"]:
        assert entry["mediaType"] == entry_type
        p = entry["platform"]
        platforms["/".join(filter(None, (p["os"], p["architecture"], p.get("variant"))))] = entry
    host = "/".join(host_platform().split("/")[:2])
    assert set(platforms) == {host, "linux/arm64/v8"}
    # each entry resolves by digest, and the arm64 config really says arm64
    arm = platforms["linux/arm64/v8"]
    _, _, body = curl(
        f"http://{testbed.open_addr}/v2/busybox/manifests/{arm['digest']}", "-H", f"Accept: {ACCEPT}"
    )
    assert "sha256:" + hashlib.sha256(body).hexdigest() == arm["digest"]
    cfg = json.loads(blob(testbed, "busybox", json.loads(body)["config"]["digest"]))
    assert (cfg["architecture"], cfg.get("variant")) == ("arm64", "v8")


def test_layout_and_registry_agree(testbed: Testbed) -> None:
    """Images pushed without conversion are byte-identical in the layout and the registry."""
    for name, image in testbed.images.items():
        if name.endswith("v2s2"):
            continue  # converted by skopeo on the way
        index = json.loads((image.layout / "index.json").read_text())
        tagged = [
            m
            for m in index["manifests"]
            if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == image.tag
        ]
        assert len(tagged) == 1, f"{image.oci_ref} tagged {len(tagged)} times"
        assert tagged[0]["digest"] == testbed.digests[name], name


def _layer_members(testbed: Testbed, name: str) -> list[dict[str, tarfile.TarInfo]]:
    _, _, man = manifest(testbed, name)
    layers = []
    for layer in man["layers"]:
        data = subprocess.run(
            ["gzip", "-dc"], input=blob(testbed, "whiteout", layer["digest"]), capture_output=True, check=True
        ).stdout
        with tarfile.open(fileobj=io.BytesIO(data)) as tf:
            layers.append({m.name.removeprefix("./").rstrip("/"): m for m in tf.getmembers()})
    return layers


def test_whiteout_layers(testbed: Testbed) -> None:
    l1, l2, l3 = _layer_members(testbed, "whiteout:latest")
    assert l1["bin/busybox"].isfile() and l1["bin/sh"].issym()
    assert l1["data/hard-b"].islnk() and l1["data/hard-b"].linkname.removeprefix("./") == "data/hard-a"
    assert l1["data/rel-link"].issym() and l1["data/rel-link"].linkname == "keep.txt"
    assert l1["data/abs-link"].issym() and l1["data/abs-link"].linkname == "/data/keep.txt"
    assert l1["data/emptydir"].isdir() and not any(n.startswith("data/emptydir/") for n in l1)
    assert l1["data/dir"].isdir() and l1["data/dir/file.txt"].isfile()
    assert l1["data/setuid"].mode == 0o4755
    assert (l1["data/user-file"].uid, l1["data/user-file"].gid) == (1000, 1000)
    for gone in (
        "data/remove-me.txt",
        "data/rmdir/x.txt",
        "data/opaque/old1.txt",
        "data/opaque/olddir/old2.txt",
    ):
        assert l1[gone].isfile()

    assert {"data/.wh.remove-me.txt", "data/.wh.rmdir", "data/added.txt"} <= set(l2)
    assert not any(".wh..wh..opq" in n for n in l2)

    assert set(l3) == {"data/opaque", "data/opaque/.wh..wh..opq", "data/opaque/new.txt"}
    names = list(l3)
    assert names.index("data/opaque/.wh..wh..opq") < names.index("data/opaque/new.txt")


def test_whiteout_expectations_hold_for_umoci(testbed: Testbed, tmp_path: Path) -> None:
    """umoci's own unpack agrees with WHITEOUT_PRESENT / WHITEOUT_ABSENT (the oracle other tests use)."""
    bundle = tmp_path / "bundle"
    subprocess.run(
        ["umoci", "unpack", "--image", testbed.layout("whiteout:latest").oci_ref, str(bundle)],
        check=True,
        capture_output=True,
    )
    rootfs = bundle / "rootfs"
    for p in WHITEOUT_PRESENT:
        assert os.path.lexists(rootfs / p.lstrip("/")), p
    for p in WHITEOUT_ABSENT:
        assert not os.path.lexists(rootfs / p.lstrip("/")), p
    a, b = (rootfs / "data/hard-a").stat(), (rootfs / "data/hard-b").stat()
    assert a.st_ino == b.st_ino
    assert (rootfs / "data/setuid").stat().st_mode & 0o7777 == 0o4755
    assert (rootfs / "data/user-file").stat().st_uid == 1000
    assert os.readlink(rootfs / "bin/sh") == "/bin/busybox"
    out = subprocess.run(
        [str(rootfs / "bin/busybox"), "cat", str(rootfs / "data/opaque/new.txt")],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout == "new\n"


# ---------------------------------------------------------------------------------------------- auth
def _inspect(
    testbed: Testbed, registry: str, name: str, creds: str | None
) -> subprocess.CompletedProcess[str]:
    args = ["inspect", "--raw", "--tls-verify=false"]
    args += ["--creds", creds] if creds else ["--no-creds"]
    return skopeo(*args, f"docker://{testbed.ref(name, registry)}", check=False)


def test_basic_registry_needs_credentials(testbed: Testbed) -> None:
    assert _inspect(testbed, "basic", "busybox:latest", None).returncode != 0
    assert _inspect(testbed, "basic", "busybox:latest", "basicuser:wrong").returncode != 0
    ok = _inspect(testbed, "basic", "busybox:latest", ":".join(testbed.basic_credentials))
    assert ok.returncode == 0, ok.stderr
    assert "sha256:" + hashlib.sha256(ok.stdout.encode()).hexdigest() == testbed.digests["busybox:latest"]


def test_token_policy(testbed: Testbed) -> None:
    creds = ":".join(testbed.token_credentials)
    before = len(testbed.token_requests())
    assert _inspect(testbed, "token", "busybox:latest", None).returncode == 0  # anonymous pull
    denied = _inspect(testbed, "token", "private/busybox:latest", None)
    assert denied.returncode != 0 and ("denied" in denied.stderr or "unauthorized" in denied.stderr)
    assert _inspect(testbed, "token", "private/busybox:latest", creds).returncode == 0
    assert _inspect(testbed, "token", "busybox:latest", "tokenuser:wrong").returncode != 0

    log = testbed.token_requests()[before:]
    assert any(
        r["user"] is None and r["granted"] == [{"type": "repository", "name": "busybox", "actions": ["pull"]}]
        for r in log
        if r["status"] == 200
    )
    assert any(
        r["user"] == "tokenuser" and r["granted"][0]["name"] == "private/busybox"
        for r in log
        if r["status"] == 200
    )
    assert any(r["status"] == 401 for r in log)


def test_token_is_an_es256_jwt_with_x5c(testbed: Testbed) -> None:
    scope = "repository:private/busybox:pull,push"
    user, password = testbed.token_credentials
    status, _, body = curl(
        f"{testbed.token_realm}?service={testbed.token_service}&scope={scope}", "-u", f"{user}:{password}"
    )
    assert status == 200
    reply = json.loads(body)
    assert reply["token"] == reply["access_token"] and reply["expires_in"] > 0

    def part(s: str) -> dict[str, Any]:
        return json.loads(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)))

    header, claims, sig = reply["token"].split(".")
    assert part(header)["alg"] == "ES256" and len(part(header)["x5c"]) == 1
    c = part(claims)
    assert c["aud"] == testbed.token_service and c["sub"] == user
    assert c["access"] == [{"type": "repository", "name": "private/busybox", "actions": ["pull", "push"]}]
    assert len(base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4))) == 64  # raw r||s

    # the registry accepts it
    status, _, _ = curl(
        f"http://{testbed.token_addr}/v2/private/busybox/manifests/latest",
        "-H", f"Authorization: Bearer {reply['token']}", "-H", f"Accept: {ACCEPT}",
    )  # fmt: skip
    assert status == 200
    assert curl(f"{testbed.token_realm}?service=other&scope={scope}")[0] == 400
    assert curl(f"{testbed.token_realm}?service={testbed.token_service}", "-u", "tokenuser:nope")[0] == 401


@pytest.mark.parametrize("registry", ["basic", "token"])
def test_push_needs_credentials(testbed: Testbed, registry: str) -> None:
    src = f"oci:{testbed.layout('busybox:latest').oci_ref}"
    dest = f"docker://{testbed.ref(f'pushed-{registry}/busybox:t', registry)}"
    anon = skopeo("copy", "-q", "--dest-tls-verify=false", "--dest-no-creds", src, dest, check=False)
    assert anon.returncode != 0
    creds = ":".join(testbed.credentials(registry) or ())
    ok = skopeo("copy", "-q", "--dest-tls-verify=false", "--dest-creds", creds, src, dest, check=False)
    assert ok.returncode == 0, ok.stderr


# ---------------------------------------------------------------------------------------------- lifecycle
def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"  # a zombie waiting for a reaper is dead enough


def test_close_stops_processes_and_removes_scratch(testbed_images: BuiltImages) -> None:
    bed = start_testbed(testbed_images)
    pids, workdir = bed.pids(), bed.workdir
    try:
        assert len(pids) == 4 and all(_alive(p) for p in pids)
        assert workdir.is_dir()
    finally:
        bed.close()
    assert not any(_alive(p) for p in pids)
    assert not workdir.exists()
    bed.close()  # twice is harmless


def test_processes_die_with_a_killed_session(testbed_images: BuiltImages) -> None:
    """SIGKILL to the process that started the bed (no finalizers, no atexit) still takes the bed down."""
    script = (
        "import json, sys, time\n"
        "from tests.testbed import ensure_images, start_testbed\n"
        "bed = start_testbed(ensure_images())\n"
        "print(json.dumps({'pids': bed.pids(), 'workdir': str(bed.workdir)}), flush=True)\n"
        "time.sleep(60)\n"
    )
    root = Path(__file__).resolve().parents[2]
    child = subprocess.Popen([sys.executable, "-c", script], cwd=root, stdout=subprocess.PIPE, text=True)
    info: dict[str, Any] = {}
    try:
        assert child.stdout is not None
        info = json.loads(child.stdout.readline())
        assert all(_alive(p) for p in info["pids"])
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        deadline = time.monotonic() + 5
        while any(_alive(p) for p in info["pids"]) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not any(_alive(p) for p in info["pids"])
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        for pid in info.get("pids", []):
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        if info.get("workdir"):
            remove_scratch(Path(info["workdir"]))  # SIGKILL skipped the clean-up; we do it


def test_engine_config_is_fresh_and_private(engine_config: Config) -> None:
    base = engine_config.root.parent
    assert engine_config.run.parent == base and engine_config.docker_config == base / "docker"
    # nothing in the root but the session's private network settings (tests/netbed.py)
    assert engine_config.root.is_dir() and [p.name for p in engine_config.root.iterdir()] == ["daemon.json"]
    assert json.loads((engine_config.root / "daemon.json").read_text())["bridge"] != "dockyard0"
    assert engine_config.docker_config_file == base / "docker" / "config.json"
    assert not engine_config.docker_config_file.exists()
    assert base.parent == scratch_parent()
    assert engine_config.insecure_registries == []


def test_tests_never_build_the_debian_image() -> None:
    from tests.testbed.build import ensure_debian
    from tests.testbed.common import TestbedError

    with pytest.raises(TestbedError, match="bench/ only"):
        ensure_debian()
