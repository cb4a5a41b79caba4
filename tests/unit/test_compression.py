"""core.storage.compression: streaming gzip/zstd in and out, never seeking, bounded reads, damage detected."""

from __future__ import annotations

import gzip
import io
import os
import shutil
import subprocess
import time

import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import UnsafeLayer
from core.storage.compression import CHUNK, ReadAhead, compress, open_compressor, open_decompressed, sniff

DATA = os.urandom(100_000) * 4 + b"\0" * 300_000 + b"tail"


class Pipe:
    """A network-like source: no seek, no tell, and short reads."""

    def __init__(self, data: bytes, piece: int = 4096) -> None:
        self._data = memoryview(data)
        self._pos = 0
        self._piece = piece

    def read(self, size: int = -1) -> bytes:
        n = self._piece if size is None or size < 0 else min(size, self._piece)
        out = bytes(self._data[self._pos : self._pos + n])
        self._pos += len(out)
        return out

    def seek(self, *args: object) -> int:
        raise AssertionError("a stream must never seek")

    def tell(self) -> int:
        raise AssertionError("a stream must never tell")


def read_all(blob: bytes, size: int = CHUNK, piece: int = 4096) -> bytes:
    stream = open_decompressed(Pipe(blob, piece))  # type: ignore[arg-type]
    parts = []
    while True:
        data = stream.read(size)
        if not data:
            return b"".join(parts)
        assert len(data) <= size
        parts.append(data)


def zstd(data: bytes, **kw: object) -> bytes:
    return zstandard.ZstdCompressor(**kw).compress(data)  # type: ignore[arg-type]


def test_sniff() -> None:
    assert sniff(b"\x1f\x8b\x08\x00") == "gzip"
    assert sniff(b"\x28\xb5\x2f\xfd") == "zstd"
    assert sniff(b"ustar") == "none" and sniff(b"") == "none"


@pytest.mark.parametrize(
    "blob",
    [
        pytest.param(DATA, id="plain"),
        pytest.param(gzip.compress(DATA), id="gzip"),
        pytest.param(gzip.compress(DATA[:1000]) + gzip.compress(DATA[1000:]), id="gzip-multi-member"),
        pytest.param(gzip.compress(DATA) + b"\0" * 1000, id="gzip-zero-padded"),
        pytest.param(zstd(DATA), id="zstd"),
        pytest.param(zstd(DATA, write_checksum=True, write_content_size=False), id="zstd-checksum"),
        pytest.param(zstd(DATA[:7]) + zstd(DATA[7:], level=19), id="zstd-multi-frame"),
        pytest.param(
            zstd(DATA) + (0x184D2A5E).to_bytes(4, "little") + (5).to_bytes(4, "little") + b"12345",
            id="zstd-skippable-frame",
        ),
    ],
)
@pytest.mark.parametrize("size", [511, 4097, CHUNK])
def test_round_trip(blob: bytes, size: int) -> None:
    assert read_all(blob, size=size) == DATA


def test_tiny_reads_byte_by_byte() -> None:
    small = b"abc" * 1000
    for blob in (gzip.compress(small), zstd(small), small):
        assert read_all(blob, size=1, piece=1) == small


@pytest.mark.skipif(
    shutil.which("zstd") is None or shutil.which("gzip") is None, reason="needs gzip and zstd"
)
@pytest.mark.parametrize("tool", [["gzip", "-c"], ["zstd", "-c", "-q"], ["zstd", "-c", "-q", "--no-check"]])
def test_command_line_tools_output(tool: list[str]) -> None:
    blob = subprocess.run(tool, input=DATA, capture_output=True, check=True).stdout
    assert read_all(blob) == DATA


def test_reads_are_bounded_for_highly_compressible_input() -> None:
    big = 256 << 20
    comp = zstandard.ZstdCompressor()
    blob = comp.compress(b"\0" * big)
    assert len(blob) < 64 << 10  # a small blob that expands a lot
    stream = open_decompressed(io.BytesIO(blob))
    total = 0
    while data := stream.read(CHUNK):
        assert len(data) <= CHUNK
        total += len(data)
    assert total == big
    gz = gzip.compress(b"\0" * (64 << 20), compresslevel=9)
    stream = open_decompressed(io.BytesIO(gz))
    total = 0
    while data := stream.read(CHUNK):
        assert len(data) <= CHUNK
        total += len(data)
    assert total == 64 << 20


@pytest.mark.parametrize(
    "blob",
    [
        pytest.param(gzip.compress(DATA)[:-1], id="gzip-cut-in-trailer"),
        pytest.param(gzip.compress(DATA)[:5000], id="gzip-cut-in-data"),
        pytest.param(gzip.compress(DATA)[:5], id="gzip-cut-in-header"),
        pytest.param(gzip.compress(DATA) + b"garbage", id="gzip-trailing-garbage"),
        pytest.param(zstd(DATA)[:-1], id="zstd-cut-in-last-block"),
        pytest.param(zstd(DATA, write_checksum=True)[:-2], id="zstd-cut-in-checksum"),
        pytest.param(zstd(DATA)[:6], id="zstd-cut-in-header"),
        pytest.param(zstd(DATA) + b"garbage!", id="zstd-trailing-garbage"),
        pytest.param(zstd(DATA) + (0x184D2A50).to_bytes(4, "little") + b"\x09", id="zstd-cut-skippable"),
    ],
)
def test_damaged_streams_are_refused(blob: bytes) -> None:
    with pytest.raises(UnsafeLayer, match="truncated or corrupt"):
        read_all(blob)


def test_flipped_bits_are_refused() -> None:
    for blob in (gzip.compress(DATA), zstd(DATA, write_checksum=True)):
        bad = bytearray(blob)
        bad[len(bad) // 3] ^= 0x55
        with pytest.raises(UnsafeLayer):
            read_all(bytes(bad))


@pytest.mark.parametrize("kind", ["gzip", "zstd", "none"])
def test_compress_round_trip_and_is_deterministic(kind: str) -> None:
    out1, out2 = io.BytesIO(), io.BytesIO()
    assert compress(kind, io.BytesIO(DATA), out1) == len(DATA)  # type: ignore[arg-type]
    compress(kind, io.BytesIO(DATA), out2)  # type: ignore[arg-type]
    assert out1.getvalue() == out2.getvalue()  # same input, same digest: pushes are reproducible
    assert read_all(out1.getvalue()) == DATA
    if kind == "gzip":
        assert gzip.decompress(out1.getvalue()) == DATA
    elif kind == "zstd":
        assert zstandard.ZstdDecompressor().decompressobj().decompress(out1.getvalue()) == DATA


def test_open_compressor_leaves_destination_open() -> None:
    dst = io.BytesIO()
    with open_compressor("gzip", dst) as w:
        w.write(b"hello ")
        w.write(b"world")
    assert not dst.closed
    assert gzip.decompress(dst.getvalue()) == b"hello world"


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(Exception, match="unknown compression"):
        open_compressor("bzip2", io.BytesIO())  # type: ignore[arg-type]


@settings(max_examples=60, deadline=None, database=None)
@given(
    data=st.binary(max_size=20_000),
    kind=st.sampled_from(["gzip", "zstd"]),
    size=st.integers(1, 5000),
    piece=st.integers(1, 5000),
    members=st.integers(1, 3),
)
def test_any_data_any_read_pattern(data: bytes, kind: str, size: int, piece: int, members: int) -> None:
    step = max(1, len(data) // members)
    parts = [data[i : i + step] for i in range(0, len(data), step)] or [b""]
    blob = b"".join(gzip.compress(p) if kind == "gzip" else zstd(p) for p in parts)
    assert read_all(blob, size=size, piece=piece) == data


class Failing:
    """Gives some data, then fails the way a broken download would."""

    def __init__(self, data: bytes, error: Exception) -> None:
        self._data = data
        self._error = error

    def read(self, size: int = -1) -> bytes:
        if self._data:
            out, self._data = self._data[:size], self._data[size:]
            return out
        raise self._error


def test_read_ahead_passes_data_through() -> None:
    with ReadAhead(Pipe(DATA, piece=70_000), depth=2) as ahead:  # type: ignore[arg-type]
        parts = []
        while data := ahead.read(1000 if len(parts) % 2 else CHUNK):
            assert len(data) <= CHUNK
            parts.append(data)
    assert b"".join(parts) == DATA


def test_read_ahead_raises_source_errors_in_order() -> None:
    with ReadAhead(Failing(b"x" * 5000, UnsafeLayer("broken download")), depth=1) as ahead:  # type: ignore[arg-type]
        got = b""
        with pytest.raises(UnsafeLayer, match="broken download"):
            while True:
                got += ahead.read(100)
        assert got == b"x" * 5000  # everything before the failure arrived first


def test_read_ahead_close_stops_the_helper_thread() -> None:
    endless = Pipe(b"z" * (64 << 20), piece=CHUNK)
    ahead = ReadAhead(endless, depth=2)  # type: ignore[arg-type]
    assert ahead.read(10) == b"z" * 10
    time.sleep(0.05)  # let the helper fill its queue and block
    ahead.close()
    assert not ahead._thread.is_alive()
    assert endless._pos < 16 << 20  # it stopped reading instead of consuming everything
