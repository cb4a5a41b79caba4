"""Claims (core.images.claims) against prunes in other processes: a layer and blob that a writer (build,
commit, import: they all make layers through ``new_layer`` and records through ``write_image``) has made but
no record names yet survive ``image prune -a`` and ``system prune`` run by another ``dockyard`` process, and
``rmi`` of an image whose layer a writer counts on leaves that layer; once the writer is gone without a record
(killed), the same layer and blob are reported reclaimable and pruned."""

from __future__ import annotations

import io
import json
import os
import tarfile

import pytest

from core.config import Config
from core.engine import LocalEngine
from core.images.claims import Claims
from core.images.commit import base_config, new_layer, write_image
from core.images.reference import parse_reference
from core.storage.diff import HashingWriter
from tests.e2e.test_pull import dockyard, layer_dirs, ok

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")


def _tar(name: str, data: bytes):  # type: ignore[no-untyped-def]
    def write(out: HashingWriter) -> int:
        with tarfile.open(fileobj=out, mode="w|") as tar:  # type: ignore[call-overload]
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        return len(data)

    return write


def _blobs(cfg: Config) -> set[str]:
    return {p.name for p in cfg.paths.blobs.iterdir() if not p.name.startswith(".tmp-")}


def _images_row(cfg: Config) -> dict[str, str]:
    rows = [json.loads(x) for x in ok(dockyard(cfg, "system", "df", "--format", "json")).splitlines()]
    return next(r for r in rows if r["Type"] == "Images")


def _prune_everything(cfg: Config) -> None:
    ok(dockyard(cfg, "image", "prune", "-a", "-f"))
    ok(dockyard(cfg, "system", "prune", "-a", "-f"))


def test_prune_in_another_process_keeps_what_a_writer_holds(engine_config: Config) -> None:
    engine = LocalEngine(engine_config)
    claims = Claims(engine.paths.locks)
    try:
        layer, _ = new_layer(
            engine.images, engine.layers, None, _tar("f", os.urandom(300_000)), claims=claims
        )
        assert layer is not None
        chain = layer.chain_id.removeprefix("sha256:")
        blob = layer.digest.removeprefix("sha256:")
        # made, no record names it yet: a build between its step's layer and the step's image
        _prune_everything(engine_config)
        assert layer_dirs(engine_config) == {chain}
        assert blob in _blobs(engine_config)
        assert _images_row(engine_config)["Reclaimable"] == "0B"  # a writer's layer is not reclaimable
        record = write_image(
            engine.images,
            engine.layers,
            base_config("linux/amd64"),
            [layer],
            tags=[parse_reference("claims-race:1")],
            claims=claims,
        )
    finally:
        claims.release()
    # the claims are gone and a record names the layer: no container uses the image, so prune -a takes
    # both, together
    _prune_everything(engine_config)
    assert engine.images.get(record.id) is None and layer_dirs(engine_config) == set()
    assert _blobs(engine_config) == set()


def test_tagged_record_keeps_its_layer_after_the_claims_go(engine_config: Config) -> None:
    engine = LocalEngine(engine_config)
    with Claims(engine.paths.locks) as claims:
        layer, _ = new_layer(engine.images, engine.layers, None, _tar("g", b"data" * 1000), claims=claims)
        assert layer is not None
        record = write_image(
            engine.images,
            engine.layers,
            base_config("linux/amd64"),
            [layer],
            tags=[parse_reference("claims-kept:1")],
            claims=claims,
        )
    ok(dockyard(engine_config, "image", "prune", "-f"))
    ok(dockyard(engine_config, "system", "prune", "-f"))
    assert engine.images.get(record.id) is not None
    assert layer_dirs(engine_config) == {layer.chain_id.removeprefix("sha256:")}
    assert _images_row(engine_config)["Reclaimable"] != _images_row(engine_config)["Size"]


def test_rmi_leaves_a_layer_a_writer_counts_on(engine_config: Config) -> None:
    """A build on an image holds that image's layers: an ``rmi`` meanwhile removes the record but not the
    layer, and the build's next record (which names the layer) is written whole."""
    engine = LocalEngine(engine_config)
    with Claims(engine.paths.locks) as first:
        base, _ = new_layer(engine.images, engine.layers, None, _tar("base", b"b" * 5000), claims=first)
        assert base is not None
        write_image(
            engine.images,
            engine.layers,
            base_config("linux/amd64"),
            [base],
            tags=[parse_reference("claims-base:1")],
            claims=first,
        )
    with Claims(engine.paths.locks) as build:
        build.hold_layers([base.chain_id])
        build.hold_blobs([base.digest])
        ok(dockyard(engine_config, "rmi", "claims-base:1"))
        assert layer_dirs(engine_config) == {base.chain_id.removeprefix("sha256:")}
        assert base.digest.removeprefix("sha256:") in _blobs(engine_config)
        top, _ = new_layer(
            engine.images, engine.layers, base.chain_id, _tar("top", b"t" * 5000), claims=build
        )
        assert top is not None
        record = write_image(
            engine.images,
            engine.layers,
            base_config("linux/amd64"),
            [base, top],
            tags=[parse_reference("claims-built:1")],
            claims=build,
        )
    ok(dockyard(engine_config, "image", "prune", "-f"))
    assert engine.images.get(record.id) is not None
    assert len(layer_dirs(engine_config)) == 2


def test_a_killed_writers_layer_is_reclaimable_and_pruned(engine_config: Config) -> None:
    engine = LocalEngine(engine_config)
    claims = Claims(engine.paths.locks)
    layer, _ = new_layer(engine.images, engine.layers, None, _tar("h", os.urandom(200_000)), claims=claims)
    assert layer is not None
    claims.release()  # the writer is gone before its record (its flocks died with it)
    row = _images_row(engine_config)
    assert row["TotalCount"] == "0"  # docker's df --format json: strings
    assert row["Size"] != "0B" and str(row["Reclaimable"]).startswith(str(row["Size"])), row
    out = ok(dockyard(engine_config, "image", "prune", "-f"))
    assert layer.chain_id in out and "Total reclaimed space: 0B" not in out, out
    assert layer_dirs(engine_config) == set() and _blobs(engine_config) == set()
