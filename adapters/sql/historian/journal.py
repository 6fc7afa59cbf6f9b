"""The historian's store-and-forward journal: a bounded queue of rows in segment files on disk.

Every row the historian takes from the bus is appended here first and written to the
database from here, so a database that is down or slow only makes the journal longer, and a
gateway killed with rows not yet written sends them after its restart.

Rows are numbered (`seq`, 1, 2, 3... for the life of the journal directory). `append()` adds
one *record* holding a batch of rows to the newest segment file; a segment is closed once it
reaches `segment_bytes` and a new one begun, named after its first row number. A record is
framed by its length and a CRC-32, so a record torn by a crash (kill -9 in the middle of a
write) is found when the journal is opened and cut off, not taken for data. The reader takes
records in order (`read()`), and `mark_sent()` says which rows the database has committed;
segments wholly sent are deleted.

The bound: the segments never hold more than `max_bytes`. When a new record would go past it,
the oldest segment is deleted, and the rows in it not yet sent are counted in `dropped` (an
exact count: rows are numbered). The journal never refuses a row.

The journal has an `id` (random, kept in the directory): the database records the last row
sent *per journal id*, so a journal directory deleted and begun again is never confused with
the old one.

Blocking file I/O, no event loop: each append is one `write()` of a whole record, handed to
the operating system at once (a crashed process loses nothing written; a crashed host may
lose the last moments unless `sync` asks for an fsync per append).
"""

from __future__ import annotations

import contextlib
import os
import struct
import uuid
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, NamedTuple

_HEAD = struct.Struct("<IIQI")  # payload length, CRC-32 of the rest, first seq, row count
HEAD_SIZE = _HEAD.size
"""Bytes of a record's head (before its payload)."""
_BODY = struct.Struct("<QI")  # the part of the head covered by the CRC
_NAMES = struct.Struct("<I")  # length of the point-name block
SUFFIX = ".seg"
ID_FILE = "journal.id"
RECORD_ROWS = 4096
"""Rows in one record at most (a drained batch larger than that makes several)."""
CACHE_ROWS = 32_768
"""The newest records appended are also kept in memory (about this many rows at most) until
read: a writer that keeps up reads them without decoding the file (which stays the record);
one that lags reads the file."""
MAX_RECORD = 256 * 1024 * 1024
"""A record length beyond this is taken as garbage (a torn or foreign tail)."""


class Row(NamedTuple):
    """One historian row: a point's value, quality (Data_Flags octet), time stamp, COV."""

    point: str
    value: float
    quality: int
    ts: float
    cov: int


class Columns(NamedTuple):
    """Rows column by column (points, values, qualities, time stamps, COVs): what a record
    holds, and what the writer hands to the database without making a tuple per row that
    outlives its insert (a million live tuples would keep the garbage collector busy)."""

    points: list[str]
    values: list[float]
    qualities: list[int]
    stamps: list[float]
    covs: list[int]

    def records(self) -> Iterator[tuple[str, float, int, float, int]]:
        """The rows as (point, value, quality, ts, cov) tuples, made one at a time."""
        return zip(*self, strict=True)

    def copy(self) -> Columns:
        """The same rows in lists of their own."""
        p, v, q, t, c = self
        return Columns(list(p), list(v), list(q), list(t), list(c))

    def slice(self, start: int) -> Columns:
        """The rows from index `start` on."""
        p, v, q, t, c = self
        return Columns(p[start:], v[start:], q[start:], t[start:], c[start:])


class Batch(NamedTuple):
    """Consecutive rows read from the journal: numbers `first`..`last`."""

    first: int
    last: int
    columns: Columns

    @property
    def length(self) -> int:
        """How many rows."""
        return self.last - self.first + 1

    @property
    def rows(self) -> list[Row]:
        """The rows as a list of Row (for tests; the writer uses `columns.records()`)."""
        new = tuple.__new__
        return [new(Row, r) for r in self.columns.records()]


def encode(first: int, rows: Sequence[Row]) -> bytes:
    """One framed record of `rows`, numbered from `first` (columns packed, not row by row)."""
    return encode_record(first, rows)[0]


def encode_record(first: int, rows: Sequence[Row]) -> tuple[bytes, Columns]:
    """One framed record of `rows` numbered from `first`, and its rows as columns."""
    n = len(rows)
    points, values, qualities, stamps, covs = zip(*rows, strict=True) if n else ((),) * 5
    names = "\n".join(points).encode()
    payload = b"".join(
        (
            _NAMES.pack(len(names)),
            names,
            struct.pack(f"<{n}d", *values),
            struct.pack(f"<{n}d", *stamps),
            struct.pack(f"<{n}B", *qualities),
            struct.pack(f"<{n}H", *covs),
        )
    )
    body = _BODY.pack(first, n)
    crc = zlib.crc32(payload, zlib.crc32(body))
    columns = Columns(list(points), list(values), list(qualities), list(stamps), list(covs))
    return _HEAD.pack(len(payload), crc, first, n) + payload, columns


def decode(payload: bytes | memoryview, n: int) -> list[Row]:
    """The rows of a record's payload (its head already checked)."""
    new = tuple.__new__
    return [new(Row, r) for r in decode_columns(payload, n).records()]


def decode_columns(payload: bytes | memoryview, n: int) -> Columns:
    """The columns of a record's payload (its head already checked)."""
    (size,) = _NAMES.unpack_from(payload, 0)
    at = _NAMES.size
    points = bytes(payload[at : at + size]).decode().split("\n") if n else []
    at += size
    values = struct.unpack_from(f"<{n}d", payload, at)
    at += 8 * n
    stamps = struct.unpack_from(f"<{n}d", payload, at)
    at += 8 * n
    qualities = struct.unpack_from(f"<{n}B", payload, at)
    at += n
    covs = struct.unpack_from(f"<{n}H", payload, at)
    return Columns(points, list(values), list(qualities), list(stamps), list(covs))


def scan(data: bytes) -> tuple[list[tuple[int, int, int]], int]:
    """The sound records at the start of a segment's bytes, as (offset, first seq, count),
    and the length of that sound part (where a torn or corrupt tail begins)."""
    records = []
    pos, end = 0, len(data)
    view = memoryview(data)
    while pos + _HEAD.size <= end:
        length, crc, first, n = _HEAD.unpack_from(data, pos)
        start = pos + _HEAD.size
        if length > MAX_RECORD or start + length > end:
            break
        body = view[pos + 8 : start]
        if zlib.crc32(view[start : start + length], zlib.crc32(body)) != crc:
            break
        records.append((pos, first, n))
        pos = start + length
    return records, pos


def rows_of(data: bytes) -> list[Row]:
    """The rows of a segment's sound records, in order (a torn tail left out); read only."""
    records, _ = scan(data)
    rows: list[Row] = []
    for offset, _first, n in records:
        length = _HEAD.unpack_from(data, offset)[0]
        start = offset + _HEAD.size
        rows.extend(decode(memoryview(data)[start : start + length], n))
    return rows


@dataclass
class Segment:
    """One segment file: the rows `first`..`last` (last = first - 1 when empty)."""

    path: Path
    first: int
    last: int
    size: int
    records: int = 0

    @property
    def rows(self) -> int:
        return self.last - self.first + 1


@dataclass
class OpenReport:
    """What opening the journal found: rows waiting, and torn tails cut off."""

    rows: int = 0
    segments: int = 0
    cut_bytes: int = 0
    cut_files: list[str] = field(default_factory=list)


class Journal:
    """The bounded on-disk row queue (see the module documentation)."""

    def __init__(
        self,
        directory: str | Path,
        max_bytes: int,
        segment_bytes: int = 16 * 1024 * 1024,
        sync: bool = False,
    ) -> None:
        if max_bytes < 4096:
            raise ValueError("the journal needs at least 4096 bytes")
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        # At least 4 segments fit in the bound, so a full journal drops a quarter at most.
        self.segment_bytes = max(1024, min(segment_bytes, max_bytes // 4))
        self.sync = sync
        self.dropped = 0
        """Rows deleted unsent because the journal was full (since this process began)."""
        self.appended = 0
        self.id = ""
        self.opened = OpenReport()
        self._segments: list[Segment] = []
        self._writer: BinaryIO | None = None
        self._writer_segment: Segment | None = None
        self._next = 1  # the number of the next row appended
        self._sent = 0  # every row up to this number is in the database
        # the reader: the segment it is in, the offset of its next record there
        self._reader: BinaryIO | None = None
        self._read_segment: Segment | None = None
        self._read_at = 0
        self._read_seq = 0  # the number of the last row read
        self._limbo = 0  # rows up to this number were being sent when their segment went
        # (segment path, offset) -> (record bytes, first seq, rows, columns): see CACHE_ROWS
        self._cache: dict[tuple[Path, int], tuple[int, int, int, Columns]] = {}
        self._cache_rows = 0
        self._open()

    # -- opening ---------------------------------------------------------------------------------

    def _open(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        try:
            self.id = (self.directory / ID_FILE).read_text().strip()
        except FileNotFoundError:
            self.id = ""
        report = self.opened
        for path in sorted(self.directory.glob(f"*{SUFFIX}")):
            data = path.read_bytes()
            records, sound = scan(data)
            if sound < len(data):
                with path.open("r+b") as f:
                    f.truncate(sound)
                report.cut_bytes += len(data) - sound
                report.cut_files.append(path.name)
            if not records:
                path.unlink()
                continue
            first = records[0][1]
            _, last_first, last_n = records[-1]
            segment = Segment(path, first, last_first + last_n - 1, sound, len(records))
            if self._segments and segment.first <= self._segments[-1].last:
                # Overlapping numbers: not written by this journal. Keep the older rows.
                path.unlink()
                continue
            self._segments.append(segment)
        if self._segments:
            self._next = self._segments[-1].last + 1
            self._sent = self._segments[0].first - 1
            if not self.id:
                self.id = self._new_id()  # rows may be sent twice, never skipped
        else:
            # Nothing on disk carries the numbering on: begin a new numbering, under a new id
            # (the database knows the old id's last row, which the new rows must not match).
            self.id = self._new_id()
        report.segments = len(self._segments)
        report.rows = self.pending

    def _new_id(self) -> str:
        new = uuid.uuid4().hex
        temp = self.directory / (ID_FILE + ".tmp")
        temp.write_text(new + "\n")
        os.replace(temp, self.directory / ID_FILE)
        return new

    # -- writing ---------------------------------------------------------------------------------

    def append(self, rows: Sequence[Row]) -> int:
        """Add `rows` (as records of at most `RECORD_ROWS`); returns how many old unsent rows
        were dropped to keep within the bound."""
        dropped = 0
        for start in range(0, len(rows), RECORD_ROWS):
            dropped += self._append(rows[start : start + RECORD_ROWS])
        return dropped

    def _append(self, rows: Sequence[Row]) -> int:
        record, columns = encode_record(self._next, rows)
        dropped = self._make_room(len(record))
        segment = self._active(len(record))
        writer = self._writer
        assert writer is not None
        writer.write(record)
        if self.sync:
            os.fsync(writer.fileno())
        cache = self._cache
        cache[(segment.path, segment.size)] = (len(record), self._next, len(rows), columns)
        self._cache_rows += len(rows)
        while self._cache_rows > CACHE_ROWS:
            self._cache_rows -= cache.pop(next(iter(cache)))[2]
        segment.size += len(record)
        segment.records += 1
        segment.last += len(rows)
        self._next += len(rows)
        self.appended += len(rows)
        return dropped

    def _active(self, size: int) -> Segment:
        """The segment to append a record of `size` bytes to (a new one when the newest is
        full), open for writing."""
        newest = self._segments[-1] if self._segments else None
        if newest is None or (newest.records and newest.size + size > self.segment_bytes):
            path = self.directory / f"{self._next:020d}{SUFFIX}"
            newest = Segment(path, self._next, self._next - 1, 0)
            self._segments.append(newest)
        if self._writer is None or self._writer_segment is not newest:
            self._close_writer()
            self._writer = newest.path.open("ab", buffering=0)
            self._writer_segment = newest
        return newest

    def _make_room(self, size: int) -> int:
        dropped = 0
        while self._segments and self.size + size > self.max_bytes:
            if len(self._segments) == 1:
                self._close_writer()  # the newest goes too: the record begins a new one
            dropped += self._drop_oldest()
        self.dropped += dropped
        return dropped

    def _drop_oldest(self) -> int:
        """Delete the oldest segment; returns its rows neither sent nor being sent.

        Rows already read (handed to the database writer, not yet committed) are not counted
        here: if that write fails, `rewind()` counts them, as they cannot be read again."""
        oldest = self._segments.pop(0)
        floor = max(self._sent, oldest.first - 1)
        in_flight = min(self._read_seq, oldest.last)
        if in_flight > floor:
            self._limbo = max(self._limbo, in_flight)
            floor = in_flight
        if self._read_segment is oldest:
            self._close_reader()
        if self._writer_segment is oldest:
            self._close_writer()
        with contextlib.suppress(FileNotFoundError):
            oldest.path.unlink()
        return oldest.last - floor

    # -- reading ---------------------------------------------------------------------------------

    def read(self, max_rows: int) -> Batch | None:
        """The next unsent rows in order (whole records, about `max_rows` at most, at least
        one record), or None when every row has been read. Reading does not mark them sent:
        the next `read()` goes on after them; `rewind()` reads from the first unsent again."""
        columns: Columns | None = None
        first = last = 0
        while last - first + 1 < max_rows or columns is None:
            record = self._next_record()
            if record is None:
                break
            start, part = record
            if columns is None:  # lists of its own: the batch grows, the record stays
                first, columns = start, part.copy()
            else:
                for column, more in zip(columns, part, strict=True):
                    column.extend(more)  # type: ignore[attr-defined]
            last = start + len(part.points) - 1
        if columns is None:
            return None
        return Batch(first, last, columns)

    def _next_record(self) -> tuple[int, Columns] | None:
        while True:
            segment = self._read_segment
            if segment is None or segment not in self._segments:
                segment = self._segment_after(self._read_position())
                if segment is None:
                    return None
                self._open_reader(segment)
            if self._read_at >= segment.size:
                later = self._segment_after(segment.last)
                if later is None or later is segment:
                    return None
                self._open_reader(later)
                continue
            cached = self._cache.pop((segment.path, self._read_at), None)
            if cached is not None:
                size, first, n, part = cached
                self._cache_rows -= n
                self._read_at += size
            else:
                reader = self._reader
                assert reader is not None
                reader.seek(self._read_at)
                head = reader.read(_HEAD.size)
                length, _crc, first, n = _HEAD.unpack(head)
                payload = reader.read(length)
                self._read_at += _HEAD.size + length
            last = first + n - 1
            done = self._read_position()
            if last <= done:
                continue  # sent before a restart, or read before a rewind's reopen
            self._read_seq = last
            if cached is None:
                part = decode_columns(payload, n)
            if first <= done:  # partly sent (not by this journal's batches: by hand)
                part, first = part.slice(done - first + 1), done + 1
            return first, part

    def _read_position(self) -> int:
        """The number of the last row read (or sent, if reading has not begun)."""
        return max(self._read_seq, self._sent, self._floor)

    @property
    def _floor(self) -> int:
        """The number of the row before the oldest one still on disk."""
        return self._segments[0].first - 1 if self._segments else self._next - 1

    def _segment_after(self, seq: int) -> Segment | None:
        """The segment holding row `seq + 1`, or the first one after it."""
        for segment in self._segments:
            if segment.last > seq:
                return segment
        return None

    def _open_reader(self, segment: Segment) -> None:
        self._close_reader()
        self._reader = segment.path.open("rb")
        self._read_segment = segment
        self._read_at = 0

    def rewind(self) -> None:
        """Read from the first unsent row again (after a failed database write)."""
        self._close_reader()
        if self._limbo > self._sent:
            self.dropped += self._limbo - self._sent
        self._limbo = 0
        self._read_seq = self._sent

    # -- sent ------------------------------------------------------------------------------------

    def mark_sent(self, seq: int) -> None:
        """Rows up to number `seq` are in the database: delete the segments wholly sent
        (never the newest, which carries the numbering across a restart)."""
        if seq <= self._sent:
            return
        self._sent = min(seq, self._next - 1)
        if self._sent >= self._limbo:
            self._limbo = 0
        while len(self._segments) > 1 and self._segments[0].last <= self._sent:
            oldest = self._segments.pop(0)
            if self._read_segment is oldest:
                self._close_reader()
            with contextlib.suppress(FileNotFoundError):
                oldest.path.unlink()

    @property
    def sent(self) -> int:
        """The number of the last row known to be in the database."""
        return self._sent

    @property
    def next_seq(self) -> int:
        return self._next

    @property
    def pending(self) -> int:
        """Rows in the journal not yet in the database."""
        return self._next - 1 - max(self._sent, self._floor)

    @property
    def size(self) -> int:
        """Bytes on disk in the segments."""
        return sum(s.size for s in self._segments)

    @property
    def segments(self) -> int:
        return len(self._segments)

    # -- closing ---------------------------------------------------------------------------------

    def _close_writer(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._writer = None
        self._writer_segment = None

    def _close_reader(self) -> None:
        if self._reader is not None:
            self._reader.close()
        self._reader = None
        self._read_segment = None
        self._read_at = 0

    def close(self) -> None:
        """Close the files (the journal can be opened again from its directory)."""
        self._cache.clear()
        self._cache_rows = 0
        self._close_writer()
        self._close_reader()
