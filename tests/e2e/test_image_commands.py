"""The image commands on a store filled from the test bed: images (table, json, -q, --digests, filters),
image inspect, tag, rmi (untag or delete, refusing an image a container uses), image prune (-a)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from core.config import Config
from core.engine import LocalEngine
from core.errors import Conflict, ImageNotFound, InvalidArgument
from tests.e2e.test_pull import HOST_ARCH, dockyard, fails, layer_dirs, layout_config, ok, store_is_empty
from tests.testbed import Testbed

HEX12 = re.compile(r"^[0-9a-f]{12}$")


@pytest.fixture
def two_images(testbed: Testbed, engine_config: Config) -> tuple[str, str]:
    """busybox:latest and whiteout:latest pulled into the test's store; their references."""
    busybox, whiteout = testbed.ref("busybox:latest"), testbed.ref("whiteout:latest")
    engine = LocalEngine(engine_config)
    engine.pull(busybox)
    engine.pull(whiteout)
    return busybox, whiteout


def fake_container(cfg: Config, image_id: str, name: str) -> Path:
    """What the container store keeps that the image commands look at: containers/<id>/config.json."""
    cid = os.urandom(32).hex()
    d = cfg.paths.containers / cid
    d.mkdir(parents=True)
    (d / "config.json").write_text(json.dumps({"id": cid, "name": name, "image_id": image_id}))
    return d


def short(image_id: str) -> str:
    return image_id.removeprefix("sha256:")[:12]


def test_images_table_json_quiet_digests(
    testbed: Testbed, engine_config: Config, two_images: tuple[str, str]
) -> None:
    busybox, whiteout = two_images
    _, bb_id = layout_config(testbed, "busybox:latest")
    _, wo_id = layout_config(testbed, "whiteout:latest")

    table = ok(dockyard(engine_config, "images")).splitlines()
    assert re.split(r"\s{2,}", table[0]) == ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"]
    cells = {tuple(re.split(r"\s{2,}", line)[:3]) for line in table[1:]}
    assert cells == {
        (busybox.rsplit(":", 1)[0], "latest", short(bb_id)),
        (whiteout.rsplit(":", 1)[0], "latest", short(wo_id)),
    }

    rows = [
        json.loads(line) for line in ok(dockyard(engine_config, "images", "--format", "json")).splitlines()
    ]
    assert {r["ID"] for r in rows} == {short(bb_id), short(wo_id)}
    for r in rows:
        assert {"Repository", "Tag", "ID", "CreatedAt", "CreatedSince", "Size", "Digest"} <= set(r)
        assert re.fullmatch(r"[\d.]+[kM]?B", r["Size"])

    quiet = ok(dockyard(engine_config, "images", "-q")).split()
    assert sorted(quiet) == sorted([short(bb_id), short(wo_id)])
    assert all(HEX12.match(q) for q in quiet)
    full = ok(dockyard(engine_config, "images", "-q", "--no-trunc")).split()
    assert sorted(full) == sorted([bb_id, wo_id])

    digests = ok(dockyard(engine_config, "images", "--digests")).splitlines()
    assert "DIGEST" in digests[0]
    assert any(testbed.digests["busybox:latest"] in line and short(bb_id) in line for line in digests)
    assert any(testbed.digests["whiteout:latest"] in line for line in digests)

    only = ok(dockyard(engine_config, "images", "--format", "{{.Repository}}:{{.Tag}}", busybox)).split()
    assert only == [busybox]
    assert ok(dockyard(engine_config, "images", "-q", whiteout.rsplit(":", 1)[0])).split() == [short(wo_id)]


def test_image_inspect_is_docker_shaped(
    testbed: Testbed, engine_config: Config, two_images: tuple[str, str]
) -> None:
    busybox, _ = two_images
    config, config_digest = layout_config(testbed, "busybox:latest")
    repo = busybox.rsplit(":", 1)[0]

    [obj] = json.loads(ok(dockyard(engine_config, "image", "inspect", busybox)))
    assert {
        "Id",
        "RepoTags",
        "RepoDigests",
        "Config",
        "RootFS",
        "Size",
        "Created",
        "Architecture",
        "Os",
    } <= set(obj)
    assert obj["Id"] == config_digest
    assert obj["RepoTags"] == [busybox]
    assert obj["RepoDigests"] == [f"{repo}@{testbed.digests['busybox:latest']}"]
    assert obj["Created"] == config["created"]
    assert obj["Config"]["Cmd"] == ["sh"]
    assert any(e.startswith("PATH=") for e in obj["Config"]["Env"])
    assert obj["RootFS"] == {"Type": "layers", "Layers": config["rootfs"]["diff_ids"]}
    assert (obj["Os"], obj["Architecture"]) == ("linux", HOST_ARCH)
    assert obj["Size"] > 1_000_000  # busybox-static alone is ~2 MB unpacked
    data = obj["GraphDriver"]["Data"]  # as docker's: the top layer is UpperDir, the ones below LowerDir
    layers = [data["UpperDir"], *filter(None, data.get("LowerDir", "").split(":"))]
    assert any(Path(layer, "bin/busybox").exists() for layer in layers)

    # by id, id prefix and digest reference: the same object
    for name in (config_digest, short(config_digest), f"{repo}@{testbed.digests['busybox:latest']}"):
        assert json.loads(ok(dockyard(engine_config, "image", "inspect", name)))[0]["Id"] == config_digest
    assert ok(dockyard(engine_config, "image", "inspect", "-f", "{{.Id}} {{.Os}}", busybox)).strip() == (
        f"{config_digest} linux"
    )
    proc = dockyard(engine_config, "image", "inspect", busybox, "no-such-image:1")
    assert proc.returncode == 1
    assert json.loads(proc.stdout)[0]["Id"] == config_digest
    assert proc.stderr.strip() == "Error: no such image: no-such-image:1: No such image: no-such-image:1"


def test_tag_and_rmi_untag_then_delete(
    testbed: Testbed, engine_config: Config, two_images: tuple[str, str]
) -> None:
    busybox, whiteout = two_images
    engine = LocalEngine(engine_config)
    bb_id = engine.images.resolve(busybox).id
    wo_layers = layer_dirs(engine_config) - {
        layer.chain_id.removeprefix("sha256:") for layer in engine.images.resolve(busybox).layers
    }

    ok(dockyard(engine_config, "tag", busybox, "mine/box:1"))
    ok(dockyard(engine_config, "tag", short(bb_id), "mine/box:2"))
    tags = json.loads(ok(dockyard(engine_config, "image", "inspect", "mine/box:1")))[0]["RepoTags"]
    assert sorted(tags) == sorted([busybox, "mine/box:1", "mine/box:2"])
    line = fails(dockyard(engine_config, "tag", busybox, "mine/box@sha256:" + "0" * 64))
    assert "digest" in line
    fails(dockyard(engine_config, "tag", "no-such-image", "mine/box:3"))
    fails(dockyard(engine_config, "tag", busybox, "Bad/Name"))

    # removing by id with several tags needs -f; by tag it only untags
    proc = dockyard(engine_config, "rmi", short(bb_id))
    assert proc.returncode == 1 and "must be forced" in proc.stderr
    assert ok(dockyard(engine_config, "rmi", "mine/box:1")).splitlines() == ["Untagged: mine/box:1"]
    assert ok(dockyard(engine_config, "rmi", "mine/box:2")).splitlines() == ["Untagged: mine/box:2"]
    assert engine.images.resolve(busybox).id == bb_id

    # the last tag: untagged and deleted, with the layers and blobs no other image uses
    out = ok(dockyard(engine_config, "rmi", busybox)).splitlines()
    assert f"Untagged: {busybox}" in out
    assert f"Deleted: {bb_id}" in out
    assert layer_dirs(engine_config) == wo_layers
    with pytest.raises(ImageNotFound):
        engine.images.resolve(busybox)
    proc = dockyard(engine_config, "rmi", busybox)
    assert proc.returncode == 1 and f"No such image: {busybox}" in proc.stderr

    # moving a tag onto another image leaves the first one dangling (no tags) but still present
    engine.pull(busybox)
    ok(dockyard(engine_config, "tag", whiteout, busybox))
    assert engine.images.resolve(busybox).id != bb_id
    dangling = [
        json.loads(line) for line in ok(dockyard(engine_config, "images", "--format", "json")).splitlines()
    ]
    assert any(r["ID"] == short(bb_id) and r["Tag"] == "<none>" for r in dangling)

    ok(dockyard(engine_config, "rmi", bb_id))
    ok(dockyard(engine_config, "rmi", "-f", short(engine.images.resolve(whiteout).id)))
    store_is_empty(engine_config)


def test_rmi_refuses_an_image_a_container_uses(
    testbed: Testbed, engine_config: Config, two_images: tuple[str, str]
) -> None:
    busybox, _ = two_images
    engine = LocalEngine(engine_config)
    record = engine.images.resolve(busybox)
    container = fake_container(engine_config, record.id, "busy-user")
    cfg = json.loads((container / "config.json").read_text())
    cfg["layers"] = [layer.chain_id for layer in record.layers]  # what a container sits on
    (container / "config.json").write_text(json.dumps(cfg))
    assert {i.id: i.containers for i in engine.list_images()}[record.id] == 1

    proc = dockyard(engine_config, "rmi", busybox)
    assert proc.returncode == 1
    cid = json.loads((container / "config.json").read_text())["id"]
    assert proc.stderr == (
        f'Error: conflict: unable to remove repository reference "{busybox}" (must force) - container '
        f"{cid[:12]} is using its referenced image {record.hex[:12]}\n"
    )  # docker's words
    with pytest.raises(Conflict, match=r"must be forced.*stopped container"):
        engine.remove_image(record.id)
    assert engine.images.resolve(busybox).id == record.id

    # prune -a keeps what containers use
    ok(dockyard(engine_config, "image", "prune", "-a", "-f"))
    assert engine.images.get(record.id) is not None

    # -f deletes it, as docker does: the container keeps its layers
    out = ok(dockyard(engine_config, "rmi", "-f", busybox)).splitlines()
    assert out[0] == f"Untagged: {busybox}"
    assert f"Deleted: {record.id}" in out
    assert engine.images.get(record.id) is None
    assert all(engine.layers.exists(layer.chain_id) for layer in record.layers)


def test_image_prune_dangling_then_all(
    testbed: Testbed, engine_config: Config, two_images: tuple[str, str]
) -> None:
    busybox, whiteout = two_images
    engine = LocalEngine(engine_config)
    bb, wo = engine.images.resolve(busybox), engine.images.resolve(whiteout)

    out = ok(dockyard(engine_config, "image", "prune", "-f"))
    assert out.strip() == "Total reclaimed space: 0B"
    assert len(engine.list_images()) == 2

    engine.tag_image(whiteout, busybox)  # busybox's image is now dangling
    out = ok(dockyard(engine_config, "image", "prune", "-f"))
    assert f"deleted: {bb.id}" in out and wo.id not in out
    m = re.search(r"Total reclaimed space: ([\d.]+)MB", out)
    assert m and float(m.group(1)) > 1.0
    assert [i.id for i in engine.list_images()] == [wo.id]
    assert all(engine.layers.exists(layer.chain_id) for layer in wo.layers)

    fake_container(engine_config, wo.id, "keeper")
    removed, _ = engine.prune_images(all=True)
    assert removed.deleted == []
    for entry in engine_config.paths.containers.iterdir():
        (entry / "config.json").unlink()
        entry.rmdir()
    out = ok(dockyard(engine_config, "image", "prune", "-a", "-f"))
    assert f"untagged: {whiteout}" in out and f"untagged: {busybox}" in out and f"deleted: {wo.id}" in out
    store_is_empty(engine_config)


def test_engine_tag_refuses_digest_and_unknown(
    testbed: Testbed, engine_config: Config, two_images: tuple[str, str]
) -> None:
    busybox, _ = two_images
    engine = LocalEngine(engine_config)
    with pytest.raises(InvalidArgument):
        engine.tag_image(busybox, "x@sha256:" + "1" * 64)
    with pytest.raises(ImageNotFound):
        engine.tag_image("nothing-here:1", "x:1")
    engine.tag_image(busybox, "localhost:5000/x")  # no tag means latest
    assert "localhost:5000/x:latest" in engine.images.resolve(busybox).repo_tags


def test_image_pulled_in_several_forms_is_removed_whole(testbed: Testbed, engine_config: Config) -> None:
    """gzip, zstd and schema2 forms of one image share one record (one config); and an index names two
    images. Removing them must leave no blob behind, and removing one must not take the other's."""
    engine = LocalEngine(engine_config)
    forms = ["busybox:latest", "busybox:zstd", "busybox:v2s2", "busybox:multi"]
    for name in forms:
        engine.pull(testbed.ref(name))
    arm = engine.pull(testbed.ref("busybox:multi"), platform="linux/arm64").image.id
    assert len(engine.list_images()) == 2

    engine.remove_image(arm)
    host = engine.images.resolve(testbed.ref("busybox:latest"))
    for name in forms:  # every form of the host image is still complete
        assert engine.images.has_blob(testbed.digests[name])
    assert engine.images.has_blob(host.config_digest)
    # the arm64 pull moved the :multi tag to the arm64 image, so it went with it
    assert testbed.ref("busybox:multi") not in engine.list_images()[0].repo_tags
    for name in forms[:3]:
        engine.remove_image(testbed.ref(name))
    store_is_empty(engine_config)


def test_rmi_refuses_an_image_a_created_container_uses(
    testbed: Testbed, engine_config: Config, two_images: tuple[str, str]
) -> None:
    """The same rule with a container made by the container code itself, not a hand-written record."""
    from core.models import ContainerConfig, ContainerCreate

    busybox, _ = two_images
    engine = LocalEngine(engine_config)
    image_id = engine.images.resolve(busybox).id
    engine.create_container(ContainerCreate(ContainerConfig(image=busybox), name="made-by-create"))
    proc = dockyard(engine_config, "rmi", busybox)
    cid = engine.container("made-by-create").id
    assert proc.returncode == 1 and f"container {cid[:12]} is using" in proc.stderr
    assert "made-by-create" not in ok(dockyard(engine_config, "image", "prune", "-a", "-f"))
    assert engine.images.get(image_id) is not None
    engine.remove_container("made-by-create")
    out = ok(dockyard(engine_config, "rmi", busybox)).splitlines()
    assert f"Deleted: {image_id}" in out


def test_image_commands_write_docker_events(testbed: Testbed, engine_config: Config) -> None:
    """pull, tag, rmi (untag, then delete) appear in the event log with docker's actions, so the workbench
    and `events -f` see image changes made by any process."""
    busybox = testbed.ref("busybox:latest")
    ok(dockyard(engine_config, "pull", "-q", busybox))
    ok(dockyard(engine_config, "tag", busybox, "mine:1"))
    ok(dockyard(engine_config, "rmi", "mine:1"))
    ok(dockyard(engine_config, "rmi", busybox))
    out = ok(
        dockyard(
            engine_config,
            "events",
            "--since",
            "1m",
            "--until",
            "0s",
            "--filter",
            "type=image",
            "--format",
            "json",
        )
    )
    seen = [
        (e["Action"], e["Actor"]["Attributes"].get("name", e["Actor"]["ID"]))
        for e in map(json.loads, out.splitlines())
    ]
    image_id = next(e for a, e in seen if a == "delete")
    digest_ref = next(e for a, e in seen if a == "untag" and "@sha256:" in e)
    assert seen == [
        ("pull", busybox),
        ("tag", "docker.io/library/mine:1"),
        ("untag", "docker.io/library/mine:1"),
        ("untag", busybox),
        ("untag", digest_ref),
        ("delete", image_id),  # the image alone: its layers are no events
    ], seen
    assert image_id.startswith("sha256:")
