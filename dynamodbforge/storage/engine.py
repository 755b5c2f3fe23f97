"""The storage engine contract every backend satisfies (SQLite today, PostgreSQL later).

An ordered byte key space with point reads, range scans, snapshot reads and atomic,
serializable write batches.  A write batch also appends change records: the item
write and its change record commit together or not at all, which is what streams,
TTL, point-in-time recovery and replication rely on.
"""
from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Protocol


@dataclass(frozen=True, slots=True)
class ChangeRecord:
    """One item change.  Images are orjson-serialised wire-format items (None: absent)."""

    table: str
    keys: bytes  # orjson of the key attributes
    old_image: bytes | None
    new_image: bytes | None
    timestamp: float
    origin: str  # region that originated the write (replication)
    transaction_id: str | None = None
    user_identity: str | None = None  # e.g. "dynamodb.amazonaws.com" for TTL deletes
    sequence: int = 0  # assigned by the engine on commit
    # the item's size change in bytes (new - old): with the images' presence, what the
    # table's statistics add up (Catalog.stats); None: a record statistics do not count
    size_delta: int | None = None


class Reader(Protocol):
    def get(self, key: bytes) -> bytes | None: ...

    def scan(
        self, start: bytes, end: bytes | None, *, reverse: bool = False
    ) -> Iterator[tuple[bytes, bytes]]:
        """Pairs with start <= key < end (end None: unbounded), ascending or descending."""
        ...


class StatsReader(Reader, Protocol):
    def change_totals(self, table: str, after_sequence: int,
                      through_sequence: int | None = None) -> tuple[int, int, int]:
        """Over ``table``'s change records with sequence > after_sequence (and <=
        through_sequence, if given): (items added minus removed, size change) of those that
        count (size_delta not None), and the last sequence of them all (after_sequence: none)."""
        ...


class WriteBatch(StatsReader, Protocol):
    """Reads see the batch's own writes; everything commits atomically on exit."""

    def put(self, key: bytes, value: bytes) -> None: ...

    def delete(self, key: bytes) -> None: ...

    def delete_range(self, start: bytes, end: bytes | None) -> None: ...

    def log_change(self, record: ChangeRecord) -> None: ...

    def changed_tables(self, after_sequence: int, through_sequence: int | None = None) -> list[str]:
        """Names of the tables with change records after ``after_sequence`` (and at or
        before through_sequence, if given)."""
        ...

    def last_sequence(self) -> int:
        """Highest change sequence assigned so far, as this batch sees it (0: none)."""
        ...


class Engine(Protocol):
    def get(self, key: bytes) -> bytes | None:
        """Latest committed value (a single consistent point read)."""
        ...

    def read(self) -> AbstractContextManager[StatsReader]:
        """A consistent snapshot for several reads."""
        ...

    def write(self, *, undo_alone: bool = True) -> AbstractContextManager[WriteBatch]:
        """An exclusive write batch, serializable against every other writer.

        If the body raises, the batch's writes are undone.  ``undo_alone=False`` is a
        promise that the body raises nothing after its first write (only before it):
        the engine may then skip what undoing one batch on its own costs, and if it
        fails itself midway, undo more than this batch — never acknowledged work.
        """
        ...

    def changes(self, after_sequence: int, limit: int) -> list[ChangeRecord]: ...

    def trim_changes(self, before_timestamp: float, max_rows: int = ...,
                     before_trim: Callable[[WriteBatch], Any] | None = None) -> int:
        """Remove up to ``max_rows`` change records older than ``before_timestamp`` (oldest
        first); returns how many (``max_rows``: call again).  ``before_trim(batch)`` runs in
        the same write batch first, and only if there is something to remove."""
        ...

    # per-table reads of the change log
    def table_changes(
        self, table: str, after_sequence: int, limit: int, up_to: int | None = None
    ) -> list[ChangeRecord]:
        """``table``'s changes with after_sequence < sequence (<= up_to), ascending, at most ``limit``."""
        ...

    def last_sequence(self) -> int:
        """Highest committed change sequence ever assigned (trimming never lowers it; 0: none)."""
        ...

    def trim_horizon(self, table: str) -> int:
        """Highest sequence of ``table``'s changes removed by trim_changes (0: nothing trimmed)."""
        ...

    def close(self) -> None: ...
