"""Build the test bed's images with tools we did not write (umoci, skopeo, GNU tar, busybox-static).

Output, cached under ``$DOCKYARD_TESTBED_CACHE`` (default /var/tmp) in ``dockyard-testbed-<key>/`` where
``<key>`` hashes this builder, registry.py and the versions of the tools it runs:

  oci/busybox    OCI layout, tags latest (= gzip), zstd, uncompressed, multi (image index)
  oci/whiteout   OCI layout, tag latest (3 layers: whiteouts and an opaque directory)
  storage/       a registry storage tree (distribution's filesystem driver) holding every image below,
                 pushed once by skopeo; each session's registries start from a copy of it
  testbed.json   names, layouts and the manifest digests as pushed

Registry names (all present in every registry of the bed):
  busybox:latest        OCI manifest, gzip layer
  busybox:gzip          same manifest as :latest
  busybox:v2s2          Docker schema2 manifest and media types (skopeo --format v2s2)
  busybox:multi         OCI image index, linux/<host arch> + linux/arm64/v8 (the arm64 entry is the
                        same layers with a relabelled config: for platform selection only)
  busybox:multi-v2s2    the same index as a Docker manifest list
  busybox:zstd          layer application/vnd.oci.image.layer.v1.tar+zstd (skopeo --dest-compress-format)
  busybox:uncompressed  layer application/vnd.oci.image.layer.v1.tar; pushed with plain HTTP by
                        push_verbatim() because skopeo gzips uncompressed layers on the way to a registry
  whiteout:latest       see WHITEOUT_* below
  private/busybox:latest  = busybox:latest, for the token registry's "credentials required" case

The whole build holds a file lock, so parallel pytest-xdist workers build once and share the result.

``python -m tests.testbed.build [--debian] [--force]`` (from the checkout) builds and prints the layouts;
``--debian`` adds a debootstrap --variant=minbase bookworm image for bench/ (~25 s or more, downloads
from this machine's apt mirror; never built by the tests).
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the checkout importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.testbed.common import (
    STATIC_BUSYBOX,
    TestbedError,
    make_scratch_dir,
    remove_scratch,
    run,
    tool_env,
)

PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
REF_NAME = "org.opencontainers.image.ref.name"

# What a correct extraction of whiteout:latest shows under /data (and what it must not show).
WHITEOUT_PRESENT = (
    "/data/keep.txt",
    "/data/hard-a",
    "/data/hard-b",  # hard link to hard-a
    "/data/rel-link",  # -> keep.txt
    "/data/abs-link",  # -> /data/keep.txt
    "/data/dir/file.txt",
    "/data/emptydir",
    "/data/setuid",  # mode 4755
    "/data/user-file",  # owned by 1000:1000
    "/data/added.txt",  # added by layer 2
    "/data/opaque/new.txt",  # added by layer 3, inside the opaque dir
)
WHITEOUT_ABSENT = (
    "/data/remove-me.txt",  # .wh.remove-me.txt in layer 2
    "/data/rmdir",  # .wh.rmdir in layer 2
    "/data/opaque/old1.txt",  # hidden by .wh..wh..opq in layer 3
    "/data/opaque/olddir",
)
PRIVATE_REPO = "private/busybox"

CACHE_PARENT_ENV = "DOCKYARD_TESTBED_CACHE"
_TOOLS_IN_KEY = ("umoci", "skopeo", "docker-registry", "tar")


@dataclass(frozen=True)
class LayoutImage:
    """An image in an OCI layout: ``umoci unpack --image {oci_ref}`` or ``skopeo ... oci:{oci_ref}``."""

    name: str  # repository:tag in the registries
    layout: Path
    tag: str  # the tag inside the layout's index.json

    @property
    def oci_ref(self) -> str:
        return f"{self.layout}:{self.tag}"


@dataclass(frozen=True)
class BuiltImages:
    root: Path
    storage: Path  # pristine registry storage holding every image
    images: dict[str, LayoutImage]
    digests: dict[str, str]  # name -> manifest digest in the registry
    build_seconds: float


# name -> (layout, tag in the layout, how it reaches the registry)
IMAGES: dict[str, tuple[str, str, str]] = {
    "busybox:latest": ("busybox", "latest", "skopeo"),
    "busybox:gzip": ("busybox", "gzip", "skopeo"),
    "busybox:v2s2": ("busybox", "latest", "skopeo-v2s2"),
    "busybox:multi": ("busybox", "multi", "skopeo-all"),
    "busybox:multi-v2s2": ("busybox", "multi", "skopeo-all-v2s2"),
    "busybox:zstd": ("busybox", "zstd", "skopeo"),
    "busybox:uncompressed": ("busybox", "uncompressed", "verbatim"),
    "whiteout:latest": ("whiteout", "latest", "skopeo"),
    f"{PRIVATE_REPO}:latest": ("busybox", "latest", "skopeo"),
}


def host_arch() -> str:
    from core.config import host_platform

    return host_platform().split("/")[1]


def cache_parent() -> Path:
    return Path(os.environ.get(CACHE_PARENT_ENV) or "/var/tmp")


def cache_key(sources: tuple[bytes, ...] | None = None) -> str:
    """Changes when the builder, the registry code or a tool changes: a stale cache is never reused.

    ``sources`` replaces the hashed code (the Debian image hashes only its own builder, so editing the
    busybox recipe does not cost bench/ a 25 s debootstrap).
    """
    h = hashlib.sha256()
    if sources is None:
        here = Path(__file__).resolve().parent
        sources = tuple((here / name).read_bytes() for name in ("build.py", "registry.py"))
    for src in sources:
        h.update(hashlib.sha256(src).digest())
    for tool in _TOOLS_IN_KEY:
        path = shutil.which(tool)
        st = os.stat(path) if path else None
        h.update(f"{tool}:{path}:{st.st_size if st else 0}:{st.st_mtime_ns if st else 0}\n".encode())
    st = os.stat(STATIC_BUSYBOX)
    h.update(f"busybox:{st.st_size}:{st.st_mtime_ns}:{host_arch()}\n".encode())
    return h.hexdigest()[:16]


# ---------------------------------------------------------------------------------------------- layouts
class Layout:
    """Read and add blobs of an OCI layout (for the hand-made index, and to read what umoci wrote)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def blob_path(self, digest: str) -> Path:
        algo, _, hexd = digest.partition(":")
        return self.path / "blobs" / algo / hexd

    def read_json(self, digest: str) -> Any:
        return json.loads(self.blob_path(digest).read_bytes())

    def put_json(self, obj: Any) -> tuple[str, int]:
        data = json.dumps(obj, separators=(",", ":")).encode()
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        self.blob_path(digest).write_bytes(data)
        return digest, len(data)

    def index(self) -> dict[str, Any]:
        return json.loads((self.path / "index.json").read_text())

    def descriptor(self, tag: str) -> dict[str, Any]:
        for m in self.index()["manifests"]:
            if m.get("annotations", {}).get(REF_NAME) == tag:
                return dict(m)
        raise TestbedError(f"tag {tag!r} not in OCI layout {self.path}")

    def set_tag(self, tag: str, descriptor: dict[str, Any]) -> None:
        idx = self.index()
        keep = [m for m in idx["manifests"] if m.get("annotations", {}).get(REF_NAME) != tag]
        entry = {k: v for k, v in descriptor.items() if k != "annotations"}
        entry["annotations"] = {REF_NAME: tag}
        idx["manifests"] = [*keep, entry]
        (self.path / "index.json").write_text(json.dumps(idx, separators=(",", ":")))


def _skopeo(*args: str | os.PathLike[str], auth_file: Path) -> str:
    return run(["skopeo", "--insecure-policy", *args], env=tool_env(auth_file))


def make_busybox_rootfs(dest: Path) -> None:
    """busybox-static, one symlink per applet at its own install path, passwd/group: a FROM-scratch rootfs."""
    for d in (
        "bin",
        "sbin",
        "usr/bin",
        "usr/sbin",
        "etc",
        "proc",
        "sys",
        "dev",
        "tmp",
        "root",
        "var/tmp",
        "home",
    ):
        (dest / d).mkdir(parents=True, exist_ok=True)
    for d in ("tmp", "var/tmp"):
        (dest / d).chmod(0o1777)
    (dest / "root").chmod(0o700)
    shutil.copyfile(STATIC_BUSYBOX, dest / "bin/busybox")
    (dest / "bin/busybox").chmod(0o755)
    for applet in run([STATIC_BUSYBOX, "--list-full"]).split():
        target = dest / applet
        if applet != "bin/busybox" and not target.exists():
            target.symlink_to("/bin/busybox")
    (dest / "etc/passwd").write_text(
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
    )
    (dest / "etc/group").write_text("root:x:0:\nnogroup:x:65534:\n")


def _repack_from(image: str, src: Path, bundle: Path, created_by: str) -> None:
    # Not `umoci insert`: umoci 0.4.7 never closes the tar writer there, so its layers lack the end-of-
    # archive blocks (GNU tar and tarfile: "unexpected EOF"). unpack + copy + repack writes sound tars.
    run(["umoci", "unpack", "--image", image, bundle])
    run(["cp", "-a", f"{src}/.", bundle / "rootfs/"])
    run(["umoci", "repack", "--image", image, "--history.created_by", created_by, bundle])
    shutil.rmtree(bundle)


def build_busybox(layout: Path, work: Path, auth_file: Path) -> None:
    arch = host_arch()
    rootfs = work / "busybox-rootfs"
    make_busybox_rootfs(rootfs)
    img = f"{layout}:latest"
    run(["umoci", "init", "--layout", layout])
    run(["umoci", "new", "--image", img])
    _repack_from(img, rootfs, work / "bundle", "testbed: busybox-static rootfs")
    run(
        ["umoci", "config", "--image", img, "--no-history", "--architecture", arch, "--os", "linux",
         "--config.cmd", "sh", "--config.env", PATH_ENV, "--config.workingdir", "/",
         "--config.label", "org.opencontainers.image.title=testbed-busybox"]
    )  # fmt: skip
    lay = Layout(layout)
    latest = lay.descriptor("latest")
    lay.set_tag("gzip", latest)

    # an index with the real image and an arm64/v8 relabelled copy (same layers)
    manifest = lay.read_json(latest["digest"])
    config = lay.read_json(manifest["config"]["digest"])
    arm_cfg_digest, arm_cfg_size = lay.put_json(dict(config, architecture="arm64", variant="v8"))
    arm_digest, arm_size = lay.put_json(
        dict(manifest, config=dict(manifest["config"], digest=arm_cfg_digest, size=arm_cfg_size))
    )
    index = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            {"mediaType": OCI_MANIFEST, "digest": latest["digest"], "size": latest["size"],
             "platform": {"architecture": arch, "os": "linux"}},
            {"mediaType": OCI_MANIFEST, "digest": arm_digest, "size": arm_size,
             "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"},
             "annotations": {"org.testbed.note": "host binaries relabelled: platform selection only"}},
        ],
    }  # fmt: skip
    index_digest, index_size = lay.put_json(index)
    lay.set_tag("multi", {"mediaType": OCI_INDEX, "digest": index_digest, "size": index_size})

    # zstd: skopeo recompresses into a side layout; copying back between layouts keeps the blobs as they are
    side = work / "zstd-layout"
    _skopeo(
        "copy", "-q", "--dest-compress-format", "zstd", f"oci:{img}", f"oci:{side}:zstd", auth_file=auth_file
    )
    _skopeo("copy", "-q", "--preserve-digests", f"oci:{side}:zstd", f"oci:{layout}:zstd", auth_file=auth_file)
    # uncompressed: only the dir: transport decompresses; oci: then must be told to accept plain tars
    plain = work / "plain-dir"
    _skopeo("copy", "-q", "--dest-decompress", f"oci:{img}", f"dir:{plain}", auth_file=auth_file)
    _skopeo(
        "copy", "-q", "--preserve-digests", "--dest-oci-accept-uncompressed-layers",
        f"dir:{plain}", f"oci:{layout}:uncompressed", auth_file=auth_file,
    )  # fmt: skip
    run(["umoci", "gc", "--layout", layout])
    for d in (side, plain, rootfs):
        shutil.rmtree(d)


def _write(path: Path, text: str, mode: int = 0o644) -> None:
    path.write_text(text)
    path.chmod(mode)


def build_whiteout(layout: Path, work: Path) -> None:
    """whiteout:latest, three layers.

    L1: busybox + /data: regular files, a hard link pair, relative and absolute symlinks, a dir with a
        file, an empty dir, a 4755 file, a file owned by 1000:1000, and what L2/L3 remove or hide.
    L2: deletes /data/remove-me.txt and /data/rmdir (``.wh.`` entries written by ``umoci repack``) and
        adds /data/added.txt.
    L3: a hand-made tar (umoci repack never writes opaque markers) that makes /data/opaque opaque
        (``.wh..wh..opq``) and adds /data/opaque/new.txt; added with ``umoci raw add-layer``.
    """
    arch = host_arch()
    img = f"{layout}:latest"
    bundle = work / "whiteout-bundle"
    run(["umoci", "init", "--layout", layout])
    run(["umoci", "new", "--image", img])
    run(["umoci", "unpack", "--image", img, bundle])
    root = bundle / "rootfs"
    make_busybox_rootfs(root)
    d = root / "data"
    for sub in ("rmdir/sub", "opaque/olddir", "emptydir", "dir"):
        (d / sub).mkdir(parents=True)
    _write(d / "keep.txt", "keep\n")
    _write(d / "remove-me.txt", "gone\n")
    _write(d / "dir/file.txt", "in a dir\n")
    _write(d / "hard-a", "one inode, two names\n")
    os.link(d / "hard-a", d / "hard-b")
    (d / "rel-link").symlink_to("keep.txt")
    (d / "abs-link").symlink_to("/data/keep.txt")
    _write(d / "setuid", "#!/bin/sh\necho setuid\n", 0o755)
    (d / "setuid").chmod(0o4755)  # after write: chmod keeps the bit that a plain write may drop
    _write(d / "user-file", "owned by 1000\n")
    os.chown(d / "user-file", 1000, 1000)
    _write(d / "rmdir/x.txt", "x\n")
    _write(d / "rmdir/sub/y.txt", "y\n")
    _write(d / "opaque/old1.txt", "old1\n")
    _write(d / "opaque/olddir/old2.txt", "old2\n")
    repack = ["umoci", "repack", "--refresh-bundle", "--image", img, "--history.created_by"]
    run([*repack, "L1: busybox + /data", bundle])

    (d / "remove-me.txt").unlink()
    shutil.rmtree(d / "rmdir")
    _write(d / "added.txt", "added by layer 2\n")
    run([*repack, "L2: rm file + dir (whiteouts), add a file", bundle])

    opq = work / "opaque-layer"
    (opq / "data/opaque").mkdir(parents=True)
    _write(opq / "data/opaque/.wh..wh..opq", "")
    _write(opq / "data/opaque/new.txt", "new\n")
    tar = work / "opaque-layer.tar"
    # --sort=name puts .wh..wh..opq before new.txt, the order Docker writes them in
    run(
        [
            "tar",
            "-C",
            opq,
            "--sort=name",
            "--numeric-owner",
            "--owner=0",
            "--group=0",
            "-cf",
            tar,
            "data/opaque",
        ]
    )
    run(["umoci", "raw", "add-layer", "--image", img, "--history.created_by", "L3: opaque /data/opaque", tar])
    run(
        ["umoci", "config", "--image", img, "--no-history", "--architecture", arch, "--os", "linux",
         "--config.cmd", "sh", "--config.env", PATH_ENV,
         "--config.label", "org.testbed.expect.present=" + ",".join(WHITEOUT_PRESENT),
         "--config.label", "org.testbed.expect.absent=" + ",".join(WHITEOUT_ABSENT)]
    )  # fmt: skip
    run(["umoci", "gc", "--layout", layout])
    for p in (bundle, opq):
        shutil.rmtree(p)
    tar.unlink()


# ---------------------------------------------------------------------------------------------- pushing
def push_skopeo(image: LayoutImage, addr: str, name: str, work: Path, extra: tuple[str, ...] = ()) -> str:
    """Push a layout image to ``addr`` (plain HTTP, loopback) under ``name``; returns the manifest digest."""
    if not addr.startswith(("127.", "localhost:")):
        raise TestbedError(f"refusing to push to {addr}: the test bed only talks to loopback")
    digest_file = work / f"digest-{hashlib.sha1(name.encode()).hexdigest()[:12]}"
    auth_file = work / "no-auth.json"
    if not auth_file.exists():
        auth_file.write_text('{"auths": {}}')
    preserve = () if "--format" in extra else ("--preserve-digests",)
    _skopeo(
        "copy", "-q", "--dest-tls-verify=false", "--dest-no-creds", "--digestfile", digest_file,
        *preserve, *extra, f"oci:{image.oci_ref}", f"docker://{addr}/{name}", auth_file=auth_file,
    )  # fmt: skip
    return digest_file.read_text().strip()


def push_verbatim(image: LayoutImage, addr: str, name: str) -> str:
    """Upload blobs and manifest exactly as they are in the layout (monolithic POST+PUT uploads)."""
    host, _, port = addr.partition(":")
    if not host.startswith("127."):
        raise TestbedError(f"refusing to push to {addr}: the test bed only talks to loopback")
    lay = Layout(image.layout)
    desc = lay.descriptor(image.tag)
    manifest = lay.read_json(desc["digest"])
    repo, _, tag = name.rpartition(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        for blob in [manifest["config"], *manifest["layers"]]:
            conn.request("POST", f"/v2/{repo}/blobs/uploads/", headers={"Content-Length": "0"})
            resp = conn.getresponse()
            resp.read()
            location = resp.getheader("Location")
            if resp.status != 202 or not location:
                raise TestbedError(f"upload start for {blob['digest']} at {addr}: HTTP {resp.status}")
            path = location.split(addr, 1)[-1] if "://" in location else location
            sep = "&" if "?" in path else "?"
            data = lay.blob_path(blob["digest"]).read_bytes()
            conn.request(
                "PUT",
                f"{path}{sep}digest={blob['digest']}",
                body=data,
                headers={"Content-Type": "application/octet-stream", "Content-Length": str(len(data))},
            )
            resp = conn.getresponse()
            resp.read()
            if resp.status != 201:
                raise TestbedError(f"upload of {blob['digest']} to {addr}: HTTP {resp.status}")
        body = lay.blob_path(desc["digest"]).read_bytes()
        conn.request(
            "PUT", f"/v2/{repo}/manifests/{tag}", body=body, headers={"Content-Type": desc["mediaType"]}
        )
        resp = conn.getresponse()
        text = resp.read().decode(errors="replace")
        if resp.status != 201:
            raise TestbedError(f"manifest PUT {name} to {addr}: HTTP {resp.status}: {text[:200]}")
    finally:
        conn.close()
    return str(desc["digest"])


def fill_storage(storage: Path, images: dict[str, LayoutImage], work: Path) -> dict[str, str]:
    """Start a throw-away open registry on ``storage`` and push every image into it."""
    from tests.testbed.registry import Registry

    reg = Registry("build", work / "build-registry", storage)
    reg.start()
    digests: dict[str, str] = {}
    try:
        for name, image in images.items():
            how = IMAGES[name][2]
            if how == "verbatim":
                digests[name] = push_verbatim(image, reg.addr, name)
                continue
            extra = {
                "skopeo": (),
                "skopeo-v2s2": ("--format", "v2s2"),
                "skopeo-all": ("--all",),
                "skopeo-all-v2s2": ("--all", "--format", "v2s2"),
            }[how]
            digests[name] = push_skopeo(image, reg.addr, name, work, extra)
    finally:
        reg.stop()
    return digests


# ---------------------------------------------------------------------------------------------- cache
def _images_in(root: Path) -> dict[str, LayoutImage]:
    return {name: LayoutImage(name, root / "oci" / lay, tag) for name, (lay, tag, _) in IMAGES.items()}


def _load(root: Path) -> BuiltImages | None:
    try:
        meta = json.loads((root / "testbed.json").read_text())
    except (OSError, ValueError):
        return None
    if set(meta.get("digests", {})) != set(IMAGES):
        return None
    return BuiltImages(root, root / "storage", _images_in(root), meta["digests"], meta["build_seconds"])


def build_into(dest: Path) -> BuiltImages:
    """Build every layout and the pristine storage in ``dest`` (which must not exist)."""
    t0 = time.monotonic()
    dest.mkdir(parents=True)
    work = make_scratch_dir("dockyard-testbed-build-")  # bundles and rootfs trees: many small files, tmpfs
    try:
        auth_file = work / "no-auth.json"
        auth_file.write_text('{"auths": {}}')
        build_busybox(dest / "oci/busybox", work, auth_file)
        build_whiteout(dest / "oci/whiteout", work)
        images = _images_in(dest)
        digests = fill_storage(dest / "storage", images, work)
    finally:
        remove_scratch(work)
    seconds = round(time.monotonic() - t0, 2)
    meta = {
        "digests": digests,
        "build_seconds": seconds,
        "built_at": time.time(),
        "key": dest.name.split(".tmp-")[0],
    }
    (dest / "testbed.json").write_text(json.dumps(meta, indent=1, sort_keys=True))
    return BuiltImages(dest, dest / "storage", images, digests, seconds)


def ensure_images(force: bool = False) -> BuiltImages:
    """The cached images, built first if needed (once across processes: a file lock guards the build)."""
    from core.state.locks import FileLock

    parent = cache_parent()
    parent.mkdir(parents=True, exist_ok=True)
    name = f"dockyard-testbed-{cache_key()}"
    final = parent / name
    if not force and (built := _load(final)) is not None:
        os.utime(final / "testbed.json")  # "last used", for _prune_old_caches
        return built
    with FileLock(parent, name):
        if not force and (built := _load(final)) is not None:
            return built  # another worker built it while we waited
        for stale in parent.glob(f"{name}.tmp-*"):  # a killed build; we hold the lock, so none is live
            remove_scratch(stale)
        tmp = parent / f"{name}.tmp-{os.getpid()}"
        try:
            built = build_into(tmp)
            if final.exists():
                remove_scratch(final)
            tmp.rename(final)
        except BaseException:
            remove_scratch(tmp)
            raise
    _prune_old_caches(parent, keep=name, pattern=r"dockyard-testbed-[0-9a-f]{16}")
    loaded = _load(final)
    assert loaded is not None
    return loaded


def _prune_old_caches(parent: Path, keep: str, pattern: str, unused_for: float = 2 * 3600) -> None:
    """Remove caches of other builder versions nobody used for a while (each is ~12 MB)."""
    import re

    from core.state.locks import FileLock

    now = time.time()
    for entry in parent.glob("dockyard-testbed-*"):
        if entry.name == keep or not re.fullmatch(pattern, entry.name):
            continue
        last_used = max(p.stat().st_mtime for p in (entry, *entry.glob("*.json"), *entry.glob("done")))
        if now - last_used < unused_for:
            continue
        lock = FileLock(parent, entry.name)
        if lock.acquire(blocking=False):  # not being built right now
            try:
                remove_scratch(entry)
                lock.path.unlink(missing_ok=True)
            finally:
                lock.release()


# ---------------------------------------------------------------------------------------------- debian
def _apt_mirror() -> str:
    """The first Debian archive URI configured for apt on this machine (not the security archive)."""
    import re

    uris: list[str] = []
    for f in sorted(Path("/etc/apt/sources.list.d").glob("*.sources")):
        uris += re.findall(r"^URIs:\s*(\S+)", f.read_text(), re.M)
    for f in [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*.list"))]:
        if f.is_file():
            uris += re.findall(r"^deb\s+(?:\[[^]]*\]\s+)?(\S+)", f.read_text(), re.M)
    for uri in uris:
        if re.search(r"/debian/?$", uri):
            return uri
    raise TestbedError("no Debian archive in the apt sources; set DEBIAN_MIRROR")


def ensure_debian(force: bool = False) -> LayoutImage:
    """debian:bookworm (debootstrap --variant=minbase) as an OCI layout, cached like the other images.

    For bench/ only: slow (~25 s and more) and it downloads from the apt mirror, so the tests never
    build it (refused under pytest).
    """
    from core.state.locks import FileLock

    if "PYTEST_CURRENT_TEST" in os.environ:
        raise TestbedError("the Debian image is for bench/ only; tests must use the busybox images")
    if shutil.which("debootstrap") is None:
        raise TestbedError("debootstrap is missing: apt-get install debootstrap")
    parent = cache_parent()
    import inspect

    name = f"dockyard-testbed-debian-{cache_key(tuple(inspect.getsource(f).encode() for f in _DEBIAN_CODE))}"
    final = parent / name
    image = LayoutImage("debian:bookworm", final / "oci/debian", "bookworm")
    if not force and (final / "done").is_file():
        os.utime(final / "done")  # "last used", for _prune_old_caches
        return image
    with FileLock(parent, name):
        if not force and (final / "done").is_file():
            return image
        if final.exists():
            remove_scratch(final)
        work = make_scratch_dir("dockyard-testbed-debian-")
        try:
            rootfs = work / "rootfs"
            mirror = os.environ.get("DEBIAN_MIRROR") or _apt_mirror()
            run(["debootstrap", "--variant=minbase", "bookworm", rootfs, mirror])
            # container-style clean-up: the runtime provides /dev, resolv.conf, hostname, hosts
            for pattern in ("var/cache/apt/*.bin", "var/cache/apt/archives/*.deb", "var/lib/apt/lists/*",
                            "var/log/*.log", "dev/*", "etc/resolv.conf", "tmp/*"):  # fmt: skip
                for p in rootfs.glob(pattern):
                    if p.is_dir() and not p.is_symlink():
                        shutil.rmtree(p)
                    else:
                        p.unlink()
            (rootfs / "etc/hostname").write_text("")
            final.mkdir(parents=True)
            img = image.oci_ref
            run(["umoci", "init", "--layout", image.layout])
            run(["umoci", "new", "--image", img])
            _repack_from(img, rootfs, work / "bundle", "debootstrap --variant=minbase bookworm")
            run(
                ["umoci", "config", "--image", img, "--no-history", "--architecture", host_arch(),
                 "--os", "linux", "--config.cmd", "bash", "--config.env", PATH_ENV,
                 "--config.label", "org.opencontainers.image.title=testbed-debian"]
            )  # fmt: skip
            run(["umoci", "tag", "--image", img, "latest"])
            run(["umoci", "gc", "--layout", image.layout])
            (final / "done").write_text("")
        finally:
            remove_scratch(work)
    _prune_old_caches(parent, keep=name, pattern=r"dockyard-testbed-debian-[0-9a-f]{16}")
    return image


_DEBIAN_CODE = (ensure_debian, _repack_from, _apt_mirror)


def main(argv: list[str] | None = None) -> int:
    import argparse

    p = argparse.ArgumentParser(description="Build (or find cached) test bed images; print their layouts.")
    p.add_argument("--debian", action="store_true", help="also build debian:bookworm (slow; for bench/)")
    p.add_argument("--force", action="store_true", help="rebuild even if cached")
    args = p.parse_args(argv)
    from tests.testbed.common import unavailable_reason

    reason = unavailable_reason()
    if reason:
        print(reason, file=sys.stderr)
        return 1
    t0 = time.monotonic()
    built = ensure_images(force=args.force)
    out: dict[str, Any] = {
        "cache": str(built.root),
        "storage": str(built.storage),
        "images": {
            n: {"layout": str(i.layout), "tag": i.tag, "digest": built.digests[n]}
            for n, i in built.images.items()
        },
    }
    if args.debian:
        deb = ensure_debian(force=args.force)
        out["images"][deb.name] = {"layout": str(deb.layout), "tag": deb.tag}
    out["seconds"] = round(time.monotonic() - t0, 2)
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
