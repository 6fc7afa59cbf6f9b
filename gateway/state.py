"""The gateway's local state store: operator state that must survive a restart.

A :class:`StateStore` is a small key-value store by namespace (an adapter keeps its state
under a namespace of its own, e.g. ``tase2-server/iccp/tags``), kept in one SQLite file,
``state.sqlite3``, in a state directory. It knows no protocol: values are JSON.

Every write is committed before :meth:`StateStore.put` or :meth:`StateStore.delete`
returns, with ``synchronous=FULL`` in WAL mode, so what a caller acknowledged is on disk
even if the process is killed right after; a write cut off half-way is rolled back by
SQLite when the file is next opened, never half applied. A directory that cannot be
created or written, or a file that is not a readable SQLite database, raises
:class:`StateStoreError` naming the path and the reason.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    import sqlite3

__all__ = ["STATE_FILE", "JsonValue", "StateStore", "StateStoreError", "check_state_dir"]

STATE_FILE: Final = "state.sqlite3"
"""The file name of the store inside its state directory."""

JsonValue = Any
"""A value that ``json.dumps`` accepts (dict, list, str, int, float, bool, None)."""

_SCHEMA: Final = (
    "CREATE TABLE IF NOT EXISTS state ("
    " namespace TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,"
    " PRIMARY KEY (namespace, key)) WITHOUT ROWID"
)


class StateStoreError(Exception):
    """The state store cannot be opened, read or written; the message names the path."""


def check_state_dir(state_dir: str | Path) -> None:
    """Raise :class:`StateStoreError` unless a store can be kept in ``state_dir``: it, or
    the nearest of its parents that exists, must be a writable directory. Nothing is
    created (a caller that has nothing to keep yet leaves no file behind)."""
    path = Path(state_dir)
    probe = path
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent
    if not probe.is_dir():
        raise StateStoreError(
            f"state directory {path} cannot be created: {probe} is not a directory"
        )
    if not os.access(probe, os.W_OK | os.X_OK):
        what = "is not writable" if probe == path else f"cannot be created in {probe}"
        raise StateStoreError(f"state directory {path} {what}")


class StateStore:
    """Durable key-value state by namespace in ``<state_dir>/state.sqlite3``.

    Opening creates the directory (and the file) when missing and checks that both are
    writable. Use it from one thread; each call is short (one transaction).
    """

    def __init__(self, state_dir: str | Path) -> None:
        self.directory = Path(state_dir)
        self.path = self.directory / STATE_FILE
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StateStoreError(
                f"state directory {self.directory} cannot be created: {exc.strerror or exc}"
            ) from None
        if not os.access(self.directory, os.W_OK | os.X_OK):
            raise StateStoreError(f"state directory {self.directory} is not writable")
        if self.path.exists() and not os.access(self.path, os.R_OK | os.W_OK):
            raise StateStoreError(f"state file {self.path} is not readable and writable")
        # Imported here, not at the top: sqlite3 and its library are ~1 MB of resident memory
        # that a gateway without stored state (no tags set yet) never needs.
        import sqlite3

        self._error: type[Exception] = sqlite3.Error
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None)
        except sqlite3.Error as exc:
            raise StateStoreError(f"state file {self.path} cannot be opened: {exc}") from None
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute(_SCHEMA)
            row = self._db.execute("PRAGMA quick_check").fetchone()
        except sqlite3.Error as exc:
            self._db.close()
            raise StateStoreError(f"state file {self.path} is not usable: {exc}") from None
        if row is None or row[0] != "ok":
            self._db.close()
            raise StateStoreError(f"state file {self.path} is damaged: {row[0] if row else '?'}")

    def _run(self, what: str, sql: str, args: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        try:
            return self._db.execute(sql, args)
        except self._error as exc:
            raise StateStoreError(f"state file {self.path}: {what} failed: {exc}") from None

    def get(self, namespace: str, key: str) -> JsonValue | None:
        """The value of ``key`` in ``namespace``, None when there is none."""
        row = self._run(
            "read", "SELECT value FROM state WHERE namespace = ? AND key = ?", (namespace, key)
        ).fetchone()
        return None if row is None else self._decode(namespace, key, row[0])

    def items(self, namespace: str) -> dict[str, JsonValue]:
        """Every key of ``namespace`` with its value."""
        rows = self._run(
            "read", "SELECT key, value FROM state WHERE namespace = ? ORDER BY key", (namespace,)
        )
        return {key: self._decode(namespace, key, text) for key, text in rows}

    def put(self, namespace: str, key: str, value: JsonValue) -> None:
        """Store ``value`` (JSON) under ``key``; on disk when this returns."""
        text = json.dumps(value, separators=(",", ":"), allow_nan=False)
        self._run(
            "write",
            "INSERT INTO state (namespace, key, value) VALUES (?, ?, ?) "
            "ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value",
            (namespace, key, text),
        )

    def delete(self, namespace: str, key: str) -> None:
        """Forget ``key`` (nothing happens when it is not there); on disk when this returns."""
        self._run("write", "DELETE FROM state WHERE namespace = ? AND key = ?", (namespace, key))

    def close(self) -> None:
        """Close the file (what was written is already on disk)."""
        self._db.close()

    def __enter__(self) -> StateStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[str]:
        """The namespaces that hold something."""
        rows = self._run("read", "SELECT DISTINCT namespace FROM state ORDER BY namespace")
        return iter([r[0] for r in rows])

    def _decode(self, namespace: str, key: str, text: str) -> JsonValue:
        try:
            return json.loads(text)
        except ValueError:
            raise StateStoreError(
                f"state file {self.path}: {namespace}/{key} is not valid JSON"
            ) from None
