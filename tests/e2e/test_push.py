"""push against the real registries of the test bed, checked with skopeo (a client we did not write).

What is checked: the pushed manifest is the stored one byte for byte (same digest as pulled), blobs go by
cross-repository mount when the image came from the same registry, by monolithic or chunked upload
otherwise (the registry's own access log shows which), credentials for Basic and Bearer registries, and
``skopeo copy`` of what we pushed gives back the same manifest and blobs.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from core.config import Config
from core.errors import AuthenticationError, ImageNotFound
from core.images.access import open_client
from core.images.archive import load, save
from core.images.pull import Puller, check_temp_clean
from core.images.push import push
from core.images.reference import Reference, parse_reference
from core.images.store import ImageRecord, ImageStore
from core.models import PullProgress
from core.storage.layers import LayerStore
from tests.testbed import Testbed


def skopeo(*args: str, auth_file: Path) -> str:
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env["REGISTRY_AUTH_FILE"] = str(auth_file)  # an empty one: only the credentials we pass
    proc = subprocess.run(
        ["skopeo", "--insecure-policy", *args], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 0, f"skopeo {' '.join(args)}: {proc.stderr}"
    return proc.stdout


def creds_args(bed: Testbed, registry: str, flag: str = "--creds") -> list[str]:
    creds = bed.credentials(registry)
    return [flag, ":".join(creds)] if creds else []


class Engine:
    """The rooms push needs, on one test root (the Engine facade is the lead's; this stays independent)."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.store = ImageStore(config.paths)
        self.layers = LayerStore(config.paths)

    def pull(self, ref: str) -> ImageRecord:
        r = parse_reference(ref)
        with open_client(self.config, r) as client:
            return Puller(self.config, self.store, self.layers).pull(client, r).record

    def push(self, record: ImageRecord, ref: str, **kw: object) -> tuple[str, list[PullProgress]]:
        events: list[PullProgress] = []
        r = parse_reference(ref)
        with open_client(self.config, r) as client:
            digest = push(client, self.store, record, r, events.append, **kw)  # type: ignore[arg-type]
        return digest, events


@pytest.fixture
def engine(engine_config: Config, testbed: Testbed) -> Engine:
    # credentials for the Basic and Bearer registries, where docker keeps them
    assert engine_config.docker_config is not None
    (engine_config.docker_config / "config.json").write_text(
        json.dumps(testbed.docker_config("basic", "token"))
    )
    return Engine(engine_config)


def access_log(bed: Testbed, registry: str, method: str, repo: str) -> list[str]:
    """The registry's access-log lines for ``method`` requests on ``repo``'s blob endpoints."""
    return [line for line in bed.log(registry).splitlines() if f'"{method} /v2/{repo}/blobs/' in line]


def assert_bit_identical(
    bed: Testbed, engine: Engine, record: ImageRecord, ref: Reference, registry: str, tmp: Path
) -> None:
    """skopeo accepts the pushed image and copies it out unchanged: same manifest digest, same blobs."""
    tmp.mkdir(parents=True, exist_ok=True)
    auth = tmp / "auth.json"
    auth.write_text("{}")
    inspected = json.loads(
        skopeo("inspect", "--tls-verify=false", *creds_args(bed, registry), f"docker://{ref}", auth_file=auth)
    )
    assert inspected["Digest"] == record.manifest_digest
    raw = skopeo(
        "inspect",
        "--raw",
        "--tls-verify=false",
        *creds_args(bed, registry),
        f"docker://{ref}",
        auth_file=auth,
    )
    assert raw.encode() == engine.store.read_blob(record.manifest_digest)
    # an oci: layout takes OCI manifests as they are (told not to compress uncompressed layers and to fail
    # rather than change a digest); a Docker schema2 manifest would be converted, so it goes to dir:,
    # which keeps any manifest verbatim
    dest = tmp / "copied"
    if record.manifest_media_type == "application/vnd.oci.image.manifest.v1+json":
        skopeo(
            "copy", "--preserve-digests", "--dest-oci-accept-uncompressed-layers", "--src-tls-verify=false",
            *creds_args(bed, registry, "--src-creds"), f"docker://{ref}", f"oci:{dest}:copied",
            auth_file=auth,
        )  # fmt: skip
        index = json.loads((dest / "index.json").read_text())
        assert [m["digest"] for m in index["manifests"]] == [record.manifest_digest]
        blob_dir = dest / "blobs" / "sha256"
        manifest_bytes = (blob_dir / record.manifest_digest[7:]).read_bytes()
    else:
        skopeo(
            "copy", "--preserve-digests", "--src-tls-verify=false", *creds_args(bed, registry, "--src-creds"),
            f"docker://{ref}", f"dir:{dest}", auth_file=auth,
        )  # fmt: skip
        blob_dir = dest
        manifest_bytes = (dest / "manifest.json").read_bytes()
    assert manifest_bytes == engine.store.read_blob(record.manifest_digest)
    manifest = json.loads(manifest_bytes)
    digests = [manifest["config"]["digest"], *(layer["digest"] for layer in manifest["layers"])]
    assert digests == [record.config_digest, *(layer.digest for layer in record.layers)]
    for digest in digests:
        assert (blob_dir / digest[7:]).read_bytes() == engine.store.read_blob(digest)


def statuses(events: list[PullProgress]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for e in events:
        out.setdefault(e.layer, []).append(e.status)
    return out


def test_push_mounts_blobs_from_the_repository_the_image_came_from(
    testbed: Testbed, engine: Engine, tmp_path: Path
) -> None:
    record = engine.pull(testbed.ref("busybox:latest"))
    target = testbed.ref("mounted/busybox:v1")
    digest, events = engine.push(record, target)

    assert digest == record.manifest_digest == testbed.digests["busybox:latest"]
    by_layer = statuses(events)
    short = record.layers[0].diff_id[7:19]
    assert by_layer[short] == ["Preparing", "Mounted from busybox"]
    assert "" not in by_layer  # per-layer events only; the CLI prints the repository and digest lines
    # the registry saw mounts (POST ?mount=...&from=busybox), and no upload at all
    posts = access_log(testbed, "open", "POST", "mounted/busybox")
    assert len(posts) == 2 and all("mount=sha256" in p and "from=busybox" in p for p in posts)
    assert access_log(testbed, "open", "PATCH", "mounted/busybox") == []
    assert not [line for line in access_log(testbed, "open", "PUT", "mounted/busybox")]
    # docker records where the image now also lives
    stored = engine.store.get(record.id)
    assert stored is not None and f"{testbed.open_addr}/mounted/busybox@{digest}" in stored.repo_digests
    assert_bit_identical(testbed, engine, record, parse_reference(target), "open", tmp_path)

    # again: every blob is already there, nothing moves
    digest2, events2 = engine.push(record, target)
    assert digest2 == digest
    assert statuses(events2)[short] == ["Preparing", "Layer already exists"]
    assert check_temp_clean(engine.config.root) == []


def test_chunked_upload_to_a_fresh_repository_with_basic_auth(
    testbed: Testbed, engine: Engine, tmp_path: Path
) -> None:
    record = engine.pull(testbed.ref("busybox:latest"))
    # another registry: nothing to mount from, every blob is uploaded
    target = testbed.ref("fresh/chunked:c1", "basic")
    layer_size = record.layers[0].size
    chunk = 64 * 1024
    assert layer_size > 4 * chunk, "the test needs a layer spanning several chunks"
    digest, events = engine.push(record, target, chunk_size=chunk)
    assert digest == record.manifest_digest

    short = record.layers[0].diff_id[7:19]
    pushing = [e.current for e in events if e.layer == short and e.status == "Pushing"]
    assert pushing == [min(chunk * i, layer_size) for i in range(1, len(pushing) + 1)]
    assert pushing[-1] == layer_size
    assert statuses(events)[short][-1] == "Pushed"
    patches = access_log(testbed, "basic", "PATCH", "fresh/chunked")
    # the layer in ceil(size / chunk) PATCHes, the small config in one
    assert len(patches) == -(-layer_size // chunk) + 1
    assert_bit_identical(testbed, engine, record, parse_reference(target), "basic", tmp_path)


def test_monolithic_upload_with_bearer_tokens_keeps_a_docker_schema2_manifest(
    testbed: Testbed, engine: Engine, tmp_path: Path
) -> None:
    record = engine.pull(testbed.ref("busybox:v2s2"))
    assert record.manifest_media_type == "application/vnd.docker.distribution.manifest.v2+json"
    target = testbed.ref("fresh/mono:m1", "token")
    digest, _ = engine.push(record, target)
    assert digest == record.manifest_digest == testbed.digests["busybox:v2s2"]
    assert access_log(testbed, "token", "PATCH", "fresh/mono") == []
    # monolithic: one PUT with the whole blob per upload (layer and config)
    puts = access_log(testbed, "token", "PUT", "fresh/mono")
    assert len(puts) == 2 and all("digest=sha256" in p for p in puts)
    assert_bit_identical(testbed, engine, record, parse_reference(target), "token", tmp_path)
    # the token server was asked for push rights on the repository
    scopes = [s for r in testbed.token_requests() for s in r.get("scopes", [])]
    assert any("fresh/mono" in str(s) and "push" in str(s) for s in scopes)


def test_push_without_rights_is_refused(testbed: Testbed, engine_config: Config) -> None:
    eng = Engine(engine_config)  # no credentials stored
    record = eng.pull(testbed.ref("busybox:latest"))
    for registry in ("basic", "token"):
        with pytest.raises(AuthenticationError):
            eng.push(record, testbed.ref("denied/busybox:x", registry))


def test_a_loaded_image_can_be_pushed_and_pulled_back(
    testbed: Testbed, engine: Engine, tmp_path: Path
) -> None:
    """docker save -> load gives uncompressed layers and a synthesised manifest; it must push as is."""
    pulled = engine.pull(testbed.ref("whiteout:latest"))
    archive = tmp_path / "saved.tar"
    with open(archive, "wb") as out:
        save(engine.store, [(pulled, [testbed.ref("whiteout:latest")])], out)

    # more roots beside the fixture's, inside the scratch dir it removes
    base = engine.config.root.parent
    second = Engine(Config(root=base / "root2", run=base / "run2", docker_config=engine.config.docker_config))
    with open(archive, "rb") as src:
        load(second.store, second.layers, src)
    loaded = second.store.resolve(testbed.ref("whiteout:latest"))
    assert loaded.id == pulled.id
    target = testbed.ref("loaded/whiteout:l1")
    digest, _ = second.push(loaded, target)
    assert digest == loaded.manifest_digest
    assert_bit_identical(testbed, second, loaded, parse_reference(target), "open", tmp_path / "copy")

    third = Engine(Config(root=base / "root3", run=base / "run3", docker_config=engine.config.docker_config))
    back = third.pull(target)
    assert back.id == pulled.id and back.manifest_digest == digest
    for a, b in zip(back.layers, pulled.layers, strict=True):
        assert a.chain_id == b.chain_id


def test_push_refuses_an_image_whose_blobs_are_gone(testbed: Testbed, engine: Engine) -> None:
    record = engine.pull(testbed.ref("busybox:latest"))
    engine.store.blob_path(record.layers[0].digest).unlink()
    with pytest.raises(ImageNotFound, match="missing from the store"):
        engine.push(record, testbed.ref("gone/busybox:1"))
    # refused before anything was sent
    assert access_log(testbed, "open", "POST", "gone/busybox") == []
    assert access_log(testbed, "open", "HEAD", "gone/busybox") == []
