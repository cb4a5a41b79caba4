"""core.state.records: listing the ``<id>.json`` records of a store (images, networks, endpoints, ipam,
bridge markers all list theirs with record_ids)."""

from __future__ import annotations

from pathlib import Path

from core.state.records import record_ids, temp_name, write_json

A, B = "a" * 64, "0123456789abcdef" * 4


def test_only_hex64_json_records_sorted(tmp_path: Path) -> None:
    write_json(tmp_path / f"{B}.json", {})
    write_json(tmp_path / f"{A}.json", {})
    for junk in [
        f"{A}.json.bak",
        f"{A[:-1]}.json",  # 63 digits
        f"{A}a.json",  # 65
        f"{A.upper()}.json",
        f"{'g' * 64}.json",
        f"{A}\n.json",  # a trailing newline: re's "$" would let it through
        f".{A}.json",
        "layer.json",
        A,  # no suffix
    ]:
        (tmp_path / junk).write_text("{}")
    (tmp_path / temp_name(tmp_path / f"{A}.json").name).write_text("{}")  # a writer's temp file
    (tmp_path / f"{'c' * 64}.json").mkdir()  # still named like one: the reader's open will say what it is
    assert record_ids(tmp_path) == sorted([A, B, "c" * 64])


def test_a_store_that_was_never_made_has_no_records(tmp_path: Path) -> None:
    assert record_ids(tmp_path / "missing") == []
