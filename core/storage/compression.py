"""Layer (de)compression as true streams: gzip and zstd in, gzip and zstd out.

Layers arrive from the network and are unpacked while they download, so nothing here ever seeks. Data moves
in 1 MiB chunks and Python never touches single bytes of payload. Output is bounded per ``read(n)`` call, so a
small hostile blob cannot make us hold gigabytes in memory at once; a stream that stops before its end marker
is reported as truncated (python-zstandard's own reader accepts a cut-off frame silently, hence the frame
walker below).
"""

from __future__ import annotations

import io
import zlib

from core.errors import InvalidArgument, UnsafeLayer

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~2 ms of a start)
if TYPE_CHECKING:
    from typing import BinaryIO, Literal

    Kind = Literal["gzip", "zstd", "none"]

CHUNK = 1 << 20
GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def _corrupt(what: str) -> UnsafeLayer:
    return UnsafeLayer(f"layer archive is truncated or corrupt: {what}")


def sniff(head: bytes) -> Kind:
    """The compression of a stream starting with ``head`` (4 bytes, fewer only if the stream is shorter)."""
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    return "none"


class _Reader(io.RawIOBase):
    """Base for the read-only, forward-only streams returned here: ``read(n)`` returns at most ``n`` bytes."""

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(b))
        n = len(data)
        b[:n] = data
        return n

    def readall(self) -> bytes:
        parts: list[bytes] = []
        while True:
            data = self.read(CHUNK)
            if not data:
                return b"".join(parts)
            parts.append(data)


class _Prefixed(_Reader):
    """An uncompressed stream: the bytes we peeked at, then the rest of the source."""

    def __init__(self, head: bytes, src: BinaryIO) -> None:
        self._head = head
        self._src = src

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            return self.readall()
        if self._head:
            out, self._head = self._head[:size], self._head[size:]
            return out
        return self._src.read(size)


class _Gunzip(_Reader):
    """gzip, including multi-member files (pigz, concatenated layers) and zero padding at the end."""

    def __init__(self, head: bytes, src: BinaryIO) -> None:
        self._src = src
        self._in = head  # compressed bytes not yet given to zlib
        self._d: zlib._Decompress | None = None  # None between members
        self._done = False

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            return self.readall()
        if size == 0:
            return b""
        while not self._done:
            if not self._in:
                self._in = self._src.read(CHUNK)
                if not self._in:
                    if self._d is not None:
                        raise _corrupt("gzip stream ends before its end marker")
                    self._done = True
                    break
            if self._d is None:
                rest = self._in.lstrip(b"\0")
                if not rest:
                    self._in = b""
                    continue
                # a member header may straddle two reads; wait for both magic bytes before judging
                if len(rest) < 2:
                    more = self._src.read(CHUNK)
                    if more:
                        self._in = rest + more
                        continue
                if not rest.startswith(GZIP_MAGIC):
                    raise _corrupt("unexpected data after the end of the gzip stream")
                self._in = rest
                self._d = zlib.decompressobj(wbits=31)
            try:
                out = self._d.decompress(self._in, size)
            except zlib.error as err:
                raise _corrupt(f"gzip: {err}") from None
            if self._d.eof:
                self._in = self._d.unused_data
                self._d = None
            else:
                self._in = self._d.unconsumed_tail
            if out:
                return out
        return b""


class _ZstdFrames:
    """Walks zstd frame and block headers (RFC 8878) as compressed bytes go by, to tell a complete stream from
    a cut-off one. Only headers are parsed; block contents and skippable frames are passed over by length."""

    MAGIC, SKIP_SIZE, FHD, HEADER_REST, BLOCK_HEADER, CHECKSUM, SKIP = range(7)

    def __init__(self) -> None:
        self._state = self.MAGIC
        self._need = 4  # length of the header field being collected
        self._acc = b""
        self._skip = 0  # bytes still to pass over in state SKIP
        self._after = (self.MAGIC, 4)  # where to go once the skip is done
        self._checksum = False

    @property
    def at_boundary(self) -> bool:
        return self._state == self.MAGIC and not self._acc

    def feed(self, data: bytes) -> None:
        pos, n = 0, len(data)
        while pos < n:
            if self._state == self.SKIP:
                step = min(self._skip, n - pos)
                pos += step
                self._skip -= step
                if self._skip == 0:
                    self._state, self._need = self._after
                continue
            take = min(self._need - len(self._acc), n - pos)
            self._acc += data[pos : pos + take]
            pos += take
            if len(self._acc) == self._need:
                field, self._acc = self._acc, b""
                self._field(field)

    def _skip_then(self, count: int, state: int, need: int) -> None:
        if count:
            self._state, self._skip, self._after = self.SKIP, count, (state, need)
        else:
            self._state, self._need = state, need

    def _field(self, field: bytes) -> None:
        st = self._state
        if st == self.MAGIC:
            magic = int.from_bytes(field, "little")
            if magic == 0xFD2FB528:
                self._state, self._need = self.FHD, 1
            elif magic & 0xFFFFFFF0 == 0x184D2A50:
                self._state, self._need = self.SKIP_SIZE, 4
            else:
                raise _corrupt("zstd: unexpected data where a frame should start")
        elif st == self.SKIP_SIZE:
            self._skip_then(int.from_bytes(field, "little"), self.MAGIC, 4)
        elif st == self.FHD:
            fhd = field[0]
            if fhd & 0x08:
                raise _corrupt("zstd: reserved frame header bit set")
            fcs_flag, single, did_flag = fhd >> 6, (fhd >> 5) & 1, fhd & 3
            self._checksum = bool(fhd & 0x04)
            fcs = (1 if single else 0, 2, 4, 8)[fcs_flag]
            rest = (0 if single else 1) + (0, 1, 2, 4)[did_flag] + fcs
            self._state, self._need = (self.HEADER_REST, rest) if rest else (self.BLOCK_HEADER, 3)
        elif st == self.HEADER_REST:
            self._state, self._need = self.BLOCK_HEADER, 3
        elif st == self.BLOCK_HEADER:
            header = int.from_bytes(field, "little")
            last, btype, bsize = header & 1, (header >> 1) & 3, header >> 3
            if btype == 3:
                raise _corrupt("zstd: reserved block type")
            if not last:
                after = (self.BLOCK_HEADER, 3)
            elif self._checksum:
                after = (self.CHECKSUM, 4)
            else:
                after = (self.MAGIC, 4)
            self._skip_then(1 if btype == 1 else bsize, *after)
        elif st == self.CHECKSUM:
            self._state, self._need = self.MAGIC, 4


class _Unzstd(_Reader):
    """zstd, including multi-frame streams and skippable frames."""

    def __init__(self, head: bytes, src: BinaryIO) -> None:
        import zstandard

        self._frames = _ZstdFrames()
        self._error = zstandard.ZstdError
        self._src = _Prefixed(head, src)
        source: BinaryIO = _SourceView(self)  # type: ignore[assignment]  # file-like enough for zstandard
        self._reader = zstandard.ZstdDecompressor().stream_reader(
            source, read_size=CHUNK, read_across_frames=True, closefd=False
        )
        self._ended = False

    def _source_read(self, size: int) -> bytes:
        data = self._src.read(size)
        if data:
            self._frames.feed(data)
        elif not self._frames.at_boundary:
            raise _corrupt("zstd stream ends inside a frame")
        return data

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            return self.readall()
        if self._ended or size == 0:
            return b""
        try:
            out = self._reader.read(size)
        except self._error as err:
            raise _corrupt(f"zstd: {err}") from None
        if not out:
            self._ended = True
        return out


class _SourceView(_Reader):
    """What python-zstandard reads from: our frame walker in front of the real source."""

    def __init__(self, owner: _Unzstd) -> None:
        super().__init__()
        self._owner = owner

    def read(self, size: int = -1) -> bytes:
        return self._owner._source_read(CHUNK if size is None or size < 0 else size)


def _read_head(src: BinaryIO, n: int) -> bytes:
    """Up to ``n`` bytes: network streams may return fewer than asked for."""
    parts: list[bytes] = []
    have = 0
    while have < n:
        data = src.read(n - have)
        if not data:
            break
        parts.append(data)
        have += len(data)
    return b"".join(parts)


def open_decompressed(stream: BinaryIO) -> BinaryIO:
    """A readable, forward-only stream of ``stream``'s content, decompressed if it is gzip or zstd.

    The kind is told by the magic bytes, as docker and containerd do, not by a media type, which registries
    get wrong. Errors in the compressed data raise :class:`core.errors.UnsafeLayer`.
    """
    head = _read_head(stream, 4)
    kind = sniff(head)
    reader: _Reader
    if kind == "gzip":
        reader = _Gunzip(head, stream)
    elif kind == "zstd":
        reader = _Unzstd(head, stream)
    else:
        reader = _Prefixed(head, stream)
    return reader  # type: ignore[return-value]


class _Compressor(io.RawIOBase):
    """A write-only stream compressing into ``dst``; ``close()`` ends the compressed stream, not ``dst``."""

    def __init__(self, kind: Kind, dst: BinaryIO, level: int | None) -> None:
        self._dst = dst
        self._zstd = None
        self._gzip = None
        if kind == "gzip":
            # wbits=31: a gzip wrapper with mtime 0 and no file name, so equal input gives equal digests
            self._gzip = zlib.compressobj(6 if level is None else level, zlib.DEFLATED, 31)
        elif kind == "zstd":
            import zstandard

            self._zstd = zstandard.ZstdCompressor(level=3 if level is None else level, write_checksum=True)
            self._zobj = self._zstd.compressobj()
        elif kind != "none":
            raise InvalidArgument(f"unknown compression {kind!r}: use gzip, zstd or none")

    def writable(self) -> bool:
        return True

    def write(self, b: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        data = bytes(b)
        if self._gzip is not None:
            out = self._gzip.compress(data)
        elif self._zstd is not None:
            out = self._zobj.compress(data)
        else:
            out = data
        if out:
            self._dst.write(out)
        return len(data)

    def close(self) -> None:
        if self.closed:
            return
        if self._gzip is not None:
            self._dst.write(self._gzip.flush())
        elif self._zstd is not None:
            self._dst.write(self._zobj.flush())
        super().close()


def open_compressor(kind: Kind, dst: BinaryIO, level: int | None = None) -> BinaryIO:
    """A writable stream compressing into ``dst`` (gzip level 6 or zstd level 3 by default, as docker).

    Close it to finish the compressed stream; ``dst`` stays open.
    """
    return _Compressor(kind, dst, level)  # type: ignore[return-value]


def compress(kind: Kind, src: BinaryIO, dst: BinaryIO, level: int | None = None) -> int:
    """Compress all of ``src`` into ``dst``; returns the number of uncompressed bytes read."""
    total = 0
    with open_compressor(kind, dst, level) as out:
        while True:
            data = src.read(CHUNK)
            if not data:
                break
            out.write(data)
            total += len(data)
    return total


class ReadAhead(_Reader):
    """Reads ``src`` on a helper thread, up to ``depth`` chunks ahead of the consumer.

    Decompression and hashing (zlib, zstd and hashlib release the GIL) then overlap with the consumer's
    work, such as writing extracted files. An error on the helper thread is raised to the consumer at the
    point in the stream where it happened. Use as a context manager, or call ``close()``.
    """

    def __init__(self, src: BinaryIO, depth: int = 4) -> None:
        import queue
        import threading

        super().__init__()
        self._src = src
        self._queue: queue.Queue[bytes | BaseException] = queue.Queue(maxsize=depth)
        self._full = queue.Full
        self._stop = threading.Event()
        self._buf = b""
        self._off = 0
        self._eof = False
        self._thread = threading.Thread(target=self._run, name="read-ahead", daemon=True)
        self._thread.start()

    def _put(self, item: bytes | BaseException) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return
            except self._full:
                continue

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                data = self._src.read(CHUNK)
                self._put(data)
                if not data:
                    return
        except BaseException as err:  # handed to the consumer, re-raised there
            self._put(err)

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            return self.readall()
        if self._off >= len(self._buf):
            if self._eof or size == 0:
                return b""
            item = self._queue.get()
            if isinstance(item, BaseException):
                self._eof = True
                raise item
            if not item:
                self._eof = True
                return b""
            self._buf, self._off = item, 0
        if self._off == 0 and size >= len(self._buf):
            out, self._buf = self._buf, b""  # the common case: hand the chunk over without copying
            return out
        out = self._buf[self._off : self._off + size]
        self._off += len(out)
        return out

    def close(self) -> None:
        if self.closed:
            return
        self._stop.set()
        # unblock a helper waiting on a full queue; it stops at its next check. Wait for it without a
        # timeout: once close() returns, the source is the caller's alone again (it may drain or close it)
        while not self._queue.empty():
            self._queue.get_nowait()
        self._thread.join()
        super().close()
