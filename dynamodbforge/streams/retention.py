"""How long change-log rows are kept — decided in this one place — and the trimming task.

Every consumer of the change log registers how long it needs rows
(``register_policy``); rows are trimmed only once *every* consumer is done with them,
i.e. after the longest registered retention.  Streams register
``--stream-retention-hours`` (24 h, as DynamoDB Streams); point-in-time recovery can
register its 35 days without streams ever returning records older than 24 h, because
stream readers also skip records older than the *stream* retention (``stream_cutoff``).
"""
from __future__ import annotations

import functools
import logging
from typing import Callable

from dynamodbforge.catalog import fold_stats_in
from dynamodbforge.database import Database
from dynamodbforge.streams import metadata

log = logging.getLogger("dynamodbforge.streams")

DEFAULT_STREAM_RETENTION_HOURS = 24.0
MAINTENANCE_INTERVAL_SECONDS = 60.0
MAINTENANCE_SLICE_ROWS = 20_000  # change records trimmed per step of the maintenance task

_stream_retention_seconds = DEFAULT_STREAM_RETENTION_HOURS * 3600
_policies: dict[str, Callable[[], float]] = {}


def set_stream_retention_hours(hours: float) -> None:
    global _stream_retention_seconds
    _stream_retention_seconds = float(hours) * 3600


def stream_retention_seconds() -> float:
    return _stream_retention_seconds


def register_policy(name: str, seconds: Callable[[], float]) -> None:
    """A change-log consumer (streams, PITR, replication...) and how long it needs rows."""
    _policies[name] = seconds


register_policy("streams", stream_retention_seconds)


def changelog_retention_seconds() -> float:
    return max(fn() for fn in _policies.values())


def maintain(db: Database, max_rows: int | None = None) -> int:
    """Trim change-log rows nobody needs any more, and forget streams disabled longer ago than
    the stream retention (their records are gone too).  Returns the number of rows trimmed.

    With ``max_rows``, trims at most that many (the server's maintenance task calls it again,
    between other work, while a full slice was trimmed)."""
    now = db.clock()
    cutoff_ts = now - changelog_retention_seconds()
    slice_rows = max_rows or MAINTENANCE_SLICE_ROWS
    trimmed = 0
    fold = functools.partial(fold_stats_in, db)  # table statistics first take in what trimming takes away
    while True:
        n = db.engine.trim_changes(cutoff_ts, slice_rows, before_trim=fold)
        trimmed += n
        if max_rows is not None or n < slice_rows:
            break
    cutoff = now - stream_retention_seconds()
    with db.engine.read() as reader:
        expired = [s for s in metadata.all_streams(reader) if s.disabled_at is not None and s.disabled_at < cutoff]
    if expired:
        with db.engine.write() as batch:
            for stream in expired:
                batch.delete(stream.key)
    if trimmed or expired:
        log.info("retention: trimmed %d change records, forgot %d disabled streams", trimmed, len(expired))
    return trimmed
