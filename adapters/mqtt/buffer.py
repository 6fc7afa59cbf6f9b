"""Store and forward for QoS 1 publications, sans-IO: a bounded ordered buffer and its journal.

Every QoS 1 publication enters `ForwardBuffer` and stays there until the broker acknowledges
it, so a connection loss loses nothing: `rewind()` makes every unacknowledged message due
again, in the original order. When the buffer is full the oldest message is dropped and
counted in `overflow`. With a `Journal` the buffer's contents survive a restart of the
gateway: an append-only file of put/remove records, compacted when it grows.
"""

from __future__ import annotations

import os
import struct
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

_PUT = 1
_REMOVE = 2
_RECORD = struct.Struct("<BQI")  # kind, seq, body length
_PUT_HEAD = struct.Struct("<BH")  # retain, topic length


@dataclass(slots=True)
class OutMessage:
    """One buffered publication; `seq` orders messages and survives restarts."""

    seq: int
    topic: str
    payload: bytes
    retain: bool = False


class Journal:
    """The on-disk copy of a ForwardBuffer: append-only records, replayed on open.

    Writes are buffered; `flush()` hands them to the operating system (the adapter does so
    after each batch), which survives a crash of the gateway process but not of the host.
    A torn record at the end (a crash mid-write) is ignored on replay.
    """

    def __init__(self, path: str | Path, compact_after: int = 100_000) -> None:
        self.path = Path(path)
        self.compact_after = compact_after
        self._records = 0
        self._file: BinaryIO | None = None

    def load(self) -> list[OutMessage]:
        """The messages put and not yet removed, in order; opens the journal for appending."""
        live: dict[int, OutMessage] = {}
        if self.path.exists():
            live = _replay(self.path.read_bytes())
        messages = sorted(live.values(), key=lambda m: m.seq)
        self.rewrite(messages)
        return messages

    def put(self, message: OutMessage) -> None:
        topic = message.topic.encode()
        body = _PUT_HEAD.pack(message.retain, len(topic)) + topic + message.payload
        self._write(_RECORD.pack(_PUT, message.seq, len(body)) + body)

    def remove(self, seq: int) -> None:
        self._write(_RECORD.pack(_REMOVE, seq, 0))

    def _write(self, record: bytes) -> None:
        if self._file is None:
            self._file = self.path.open("ab")
        self._file.write(record)
        self._records += 1

    def needs_compaction(self, live: int) -> bool:
        """Whether the journal holds many more records than live messages."""
        return self._records > max(self.compact_after, 4 * live)

    def rewrite(self, messages: list[OutMessage]) -> None:
        """Replace the journal by one holding only `messages` (atomically, by rename)."""
        self.close()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temp = self.path.with_suffix(self.path.suffix + ".tmp")
        with temp.open("wb") as out:
            self._file = out
            self._records = 0
            for message in messages:
                self.put(message)
            out.flush()
            os.fsync(out.fileno())
        self._file = None
        os.replace(temp, self.path)
        self._records = len(messages)

    def flush(self) -> None:
        if self._file is not None:
            self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def _replay(data: bytes) -> dict[int, OutMessage]:
    live: dict[int, OutMessage] = {}
    pos = 0
    end = len(data)
    while pos + _RECORD.size <= end:
        kind, seq, length = _RECORD.unpack_from(data, pos)
        body_at = pos + _RECORD.size
        if body_at + length > end or kind not in (_PUT, _REMOVE):
            break  # a torn or foreign tail: keep what was complete
        if kind == _PUT:
            retain, topic_len = _PUT_HEAD.unpack_from(data, body_at)
            topic_at = body_at + _PUT_HEAD.size
            topic = data[topic_at : topic_at + topic_len].decode()
            payload = data[topic_at + topic_len : body_at + length]
            live[seq] = OutMessage(seq, topic, payload, bool(retain))
        else:
            live.pop(seq, None)
        pos = body_at + length
    return live


class ForwardBuffer:
    """Bounded, ordered QoS 1 publications: unsent, in flight, removed when acknowledged."""

    def __init__(self, maxlen: int, journal: Journal | None = None) -> None:
        if maxlen < 1:
            raise ValueError("the buffer must hold at least one message")
        self.maxlen = maxlen
        self.overflow = 0
        self.acknowledged = 0
        self._journal = journal
        self._items: deque[OutMessage] = deque()
        self._sent = 0  # how many messages at the front are in flight
        self._next_seq = 1
        if journal is not None:
            restored = journal.load()
            self._items.extend(restored[-maxlen:])
            self.overflow += max(0, len(restored) - maxlen)
            if restored:
                self._next_seq = restored[-1].seq + 1

    def __len__(self) -> int:
        return len(self._items)

    @property
    def in_flight(self) -> int:
        """Messages handed to the broker and not yet acknowledged."""
        return self._sent

    @property
    def unsent(self) -> int:
        return len(self._items) - self._sent

    def push(self, topic: str, payload: bytes, retain: bool = False) -> int:
        """Append a publication and return how many old ones were dropped to make room."""
        message = OutMessage(self._next_seq, topic, payload, retain)
        self._next_seq += 1
        dropped = 0
        while len(self._items) >= self.maxlen:
            self._drop_oldest()
            dropped += 1
        self._items.append(message)
        if self._journal is not None:
            self._journal.put(message)
        return dropped

    def _drop_oldest(self) -> None:
        oldest = self._items.popleft()
        if self._sent:
            self._sent -= 1
        self.overflow += 1
        if self._journal is not None:
            self._journal.remove(oldest.seq)

    def take(self, limit: int) -> list[OutMessage]:
        """Up to `limit` unsent messages, in order, now counted as in flight."""
        count = min(limit, len(self._items) - self._sent)
        if count <= 0:
            return []
        start = self._sent
        self._sent += count
        items = self._items
        return [items[i] for i in range(start, start + count)]

    def ack(self, seq: int) -> bool:
        """Remove an acknowledged message; False if it is no longer buffered (dropped)."""
        items = self._items
        for i in range(self._sent):
            if items[i].seq == seq:
                del items[i]
                self._sent -= 1
                self.acknowledged += 1
                if self._journal is not None:
                    self._journal.remove(seq)
                    if self._journal.needs_compaction(len(items)):
                        self._journal.rewrite(list(items))
                return True
        return False

    def rewind(self) -> None:
        """After a connection loss: every in-flight message is due again, in order."""
        self._sent = 0

    def flush(self) -> None:
        """Hand journal writes to the operating system."""
        if self._journal is not None:
            self._journal.flush()

    def close(self) -> None:
        if self._journal is not None:
            self._journal.close()
