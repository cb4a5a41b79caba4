"""The remote client's stream decoders, fed the bytes cut anywhere: Docker's multiplexed frames
(core.remote.frames, against the server's own encoder api.http.frame) and streams of JSON documents
(core.remote.client.json_documents: progress, events, build output)."""

from __future__ import annotations

import json
from collections.abc import Iterator

from hypothesis import given
from hypothesis import strategies as st

from api.http import frame
from core.remote.client import json_documents
from core.remote.frames import FrameDecoder


def _cut(data: bytes, cuts: list[int]) -> Iterator[bytes]:
    """``data`` in pieces, cut at ``cuts`` (positions, any order, repeats allowed)."""
    last = 0
    for at in sorted({c % (len(data) + 1) for c in cuts}):
        yield data[last:at]
        last = at
    yield data[last:]


frames_st = st.lists(st.tuples(st.sampled_from([1, 2]), st.binary(max_size=300)), max_size=40)


@given(frames_st, st.lists(st.integers(min_value=0), max_size=30))
def test_frames_come_back_whole_and_in_order_however_the_reads_cut_them(
    frames: list[tuple[int, bytes]], cuts: list[int]
) -> None:
    wire = b"".join(frame(sid, data) for sid, data in frames)
    decoder = FrameDecoder()
    got = [f for piece in _cut(wire, cuts) for f in decoder.feed(piece)]
    assert got == frames
    assert decoder.pending == 0


def test_a_frame_cut_short_waits_for_the_rest() -> None:
    decoder = FrameDecoder()
    whole = frame(1, b"hello\n")
    assert decoder.feed(whole[:5]) == [] and decoder.feed(whole[5:9]) == []
    assert decoder.pending == 9
    assert decoder.feed(whole[9:] + frame(2, b"")) == [(1, b"hello\n"), (2, b"")]


def test_a_hundred_thousand_one_line_frames_in_one_read() -> None:
    # dockerd's logs: a frame per line; decoded from an offset, not by copying the rest of the read per frame
    lines = [f"line {i}\n".encode() for i in range(100_000)]
    got = FrameDecoder().feed(b"".join(frame(1, line) for line in lines))
    assert [data for _, data in got] == lines


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@given(
    st.lists(json_values, max_size=12),
    st.lists(st.sampled_from(["", "\n", "\r\n", " ", "\t\n"]), min_size=13, max_size=13),
    st.lists(st.integers(min_value=0), max_size=30),
)
def test_json_documents_come_back_whole_however_the_reads_cut_them(
    docs: list[object], gaps: list[str], cuts: list[int]
) -> None:
    # as dockerd writes them: UTF-8 as it is (a character may be cut between two reads), one a line or
    # one right after the other (an object or array needs no separator)
    parts = []
    for doc, gap in zip(docs, gaps, strict=False):
        parts.append(json.dumps(doc, ensure_ascii=False))
        parts.append(gap if gap or isinstance(doc, dict | list) else "\n")
    data = "".join(parts).encode()
    assert list(json_documents(_cut(data, cuts))) == docs


def test_a_character_cut_between_two_reads_is_whole() -> None:
    data = json.dumps({"stream": "Schritt 1/2 : FROM busybox — grün ✓\n"}, ensure_ascii=False).encode()
    at = data.index("ü".encode()) + 1  # inside the two bytes of ü
    assert list(json_documents([data[:at], data[at:]])) == [json.loads(data)]


class _Answer:
    """A streamed answer's body, as the wire hands it on: in the pieces it arrived in."""

    def __init__(self, pieces: Iterator[bytes]) -> None:
        self._pieces = pieces

    def chunks(self) -> Iterator[bytes]:
        return self._pieces

    def close(self) -> None:
        pass


def _merged(pieces: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    out: list[tuple[str, bytes]] = []
    for stream, data in pieces:
        if out and out[-1][0] == stream:
            out[-1] = (stream, out[-1][1] + data)
        elif data:
            out.append((stream, data))
    return out


@given(frames_st, st.lists(st.integers(min_value=0), max_size=30))
def test_a_remote_log_is_printed_byte_for_byte_in_order(
    frames: list[tuple[int, bytes]], cuts: list[int]
) -> None:
    """``docker logs`` output from a remote engine: every frame's bytes (any bytes: a log need not be
    UTF-8), each to its stream, in the engine's order, however the reads cut the frames; the lines the
    same log gives one by one carry the same text."""
    from core.remote.engine import _RemoteLogs

    wire = b"".join(frame(sid, data) for sid, data in frames)
    names = {1: "stdout", 2: "stderr"}
    expected = _merged([(names[sid], data) for sid, data in frames])
    logs = _RemoteLogs(_Answer(_cut(wire, cuts)), tty=False, timestamps=False)  # type: ignore[arg-type]
    assert _merged(list(logs.output())) == expected
    lines = list(_RemoteLogs(_Answer(_cut(wire, cuts)), tty=False, timestamps=False))  # type: ignore[arg-type]
    for name in names.values():  # (a line is held until its end, so across streams the order may differ)
        whole = b"".join(data for stream, data in expected if stream == name).decode("utf-8", "replace")
        assert "".join(line.text for line in lines if line.stream == name) == whole
    tty = _RemoteLogs(_Answer(_cut(wire, cuts)), tty=True, timestamps=False)  # type: ignore[arg-type]
    assert b"".join(data for _, data in tty.output()) == wire  # a terminal's log is raw: no frames
