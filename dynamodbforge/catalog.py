"""Table metadata, persisted in the storage engine so every worker process sees it.

Each request looks its table up with one point read; the parsed ``TableInfo`` is
cached per process and reused while the stored bytes are unchanged, so DDL done by
another worker is seen at once without cache invalidation messages.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

import orjson

from dynamodbforge import errors
from dynamodbforge.storage.engine import Engine, Reader, StatsReader, WriteBatch
from dynamodbforge.storage.keycodec import prefix_successor

TABLE_PREFIX = b"\x00T"  # + table name -> table metadata JSON
UID_COUNTER = b"\x00U"  # -> next table uid
STATS_PREFIX = b"\x00S"  # + uid -> (item count, size bytes, change sequence they hold records up to)
ITEM_PREFIX = b"\x01"  # + uid + encoded keys -> item JSON
# secondary indexes (layout in indexes.py)
INDEX_PREFIX = b"\x02"  # + uid + index number(2) + entry key -> projected item JSON
INDEX_STATS_PREFIX = b"\x00I"  # + uid + index number -> (item count, size bytes)
COLLECTION_PREFIX = b"\x00C"  # + uid + encoded partition key -> item collection size (tables with LSIs)
JOB_PREFIX = b"\x00J"  # + uid + index number -> background backfill / drop job

_STATS = struct.Struct(">qqq")
_STATS_BEFORE_SIZED_RECORDS = struct.Struct(">qq")  # rows written before change records carried sizes


@dataclass(frozen=True, slots=True)
class KeyAttr:
    name: str
    type: str  # S, N or B


def key_attrs(key_schema: list[dict[str, Any]], types: dict[str, str]) -> tuple[KeyAttr, KeyAttr | None]:
    """(partition key, sort key or None) of a table's or an index's KeySchema."""
    hash_key = range_key = None
    for element in key_schema:
        attr = KeyAttr(element["AttributeName"], types[element["AttributeName"]])
        if element["KeyType"] == "HASH":
            hash_key = attr
        else:
            range_key = attr
    assert hash_key is not None
    return hash_key, range_key


@dataclass(slots=True)
class TableInfo:
    """A table as stored: its static TableDescription fields plus our internal uid."""

    name: str
    uid: int
    hash_key: KeyAttr
    range_key: KeyAttr | None
    description: dict[str, Any]  # static TableDescription fields (no live counters)
    item_prefix: bytes = field(default=b"")

    def __post_init__(self) -> None:
        self.item_prefix = ITEM_PREFIX + self.uid.to_bytes(8, "big")

    @property
    def key_names(self) -> tuple[str, ...]:
        if self.range_key is None:
            return (self.hash_key.name,)
        return (self.hash_key.name, self.range_key.name)

    def to_json(self) -> bytes:
        return orjson.dumps({"uid": self.uid, "description": self.description})

    @classmethod
    def from_json(cls, raw: bytes) -> "TableInfo":
        data = orjson.loads(raw)
        return cls.from_description(data["uid"], data["description"])

    @classmethod
    def from_description(cls, uid: int, desc: dict[str, Any]) -> "TableInfo":
        types = {d["AttributeName"]: d["AttributeType"] for d in desc["AttributeDefinitions"]}
        hash_key, range_key = key_attrs(desc["KeySchema"], types)
        return cls(desc["TableName"], uid, hash_key, range_key, desc)


class Catalog:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._parsed: dict[str, tuple[bytes, TableInfo]] = {}  # raw JSON -> parsed, per name
        self._current: dict[str, TableInfo] = {}  # committed metadata, valid for _generation
        generation = getattr(engine, "catalog_generation", None)
        self._generation_of = generation
        self._generation = -1

    def find(self, name: str, reader: Reader | None = None) -> TableInfo | None:
        """The table's metadata.  Without ``reader`` (outside a write batch) it comes from
        a per-process cache that the engine's catalog generation keeps current."""
        generation_of = self._generation_of
        if reader is None and generation_of is not None:
            generation = generation_of()
            if generation != self._generation:
                self._current.clear()
                self._generation = generation
            hit = self._current.get(name)
            if hit is not None:
                return hit
            info = self._load(name, self._engine, latest=True)
            if info is not None and generation_of() == generation:
                self._current[name] = info
            return info
        return self._load(name, reader or self._engine)

    def current(self, info: TableInfo, batch: Reader) -> TableInfo | None:
        """``info`` as it stands inside the open write ``batch`` (None: the table is gone).

        A write validated against cached metadata must still act on the metadata that
        commits with it (an index added meanwhile must be maintained).  Inside a write
        batch this process holds the database's write lock, and every catalog change
        bumps the generation before it writes; so an unchanged generation, with ``info``
        still the cached entry, proves ``info`` current without reading it again.
        """
        generation_of = self._generation_of
        if (generation_of is not None and generation_of() == self._generation
                and self._current.get(info.name) is info):
            return info
        return self._load(info.name, batch)

    def _load(self, name: str, reader: Reader | Engine, latest: bool = False) -> TableInfo | None:
        key = TABLE_PREFIX + name.encode()
        get_latest = getattr(reader, "get_latest", None) if latest else None
        raw = get_latest(key) if get_latest is not None else reader.get(key)
        if raw is None:
            return None
        cached = self._parsed.get(name)
        if cached is not None and cached[0] == raw:
            return cached[1]
        info = TableInfo.from_json(raw)
        self._parsed[name] = (raw, info)
        return info

    def get(self, name: str, reader: Reader | None = None) -> TableInfo:
        """The table, or AWS's ResourceNotFoundException as item operations word it."""
        info = self.find(name, reader)
        if info is None:
            raise errors.resource_not_found()
        return info

    def get_table(self, name: str, reader: Reader | None = None) -> TableInfo:
        """The table, or ResourceNotFoundException as table operations word it (with the name)."""
        info = self.find(name, reader)
        if info is None:
            raise errors.table_not_found(name)
        return info

    def names(self, reader: Reader, start_after: str | None) -> list[str]:
        start = TABLE_PREFIX + (start_after.encode() + b"\x00" if start_after is not None else b"")
        end = prefix_successor(TABLE_PREFIX)
        return [k[len(TABLE_PREFIX):].decode() for k, _ in reader.scan(start, end)]

    # -- writes (inside a batch) -------------------------------------------
    @staticmethod
    def allocate_uid(batch: WriteBatch) -> int:
        """A new table's uid.  Its statistics start at the change log's present end: records
        of an earlier table of the same name are not its own."""
        raw = batch.get(UID_COUNTER)
        uid = int(raw) + 1 if raw else 1
        batch.put(UID_COUNTER, str(uid).encode())
        batch.put(STATS_PREFIX + uid.to_bytes(8, "big"), _STATS.pack(0, 0, batch.last_sequence()))
        return uid

    @staticmethod
    def save(batch: WriteBatch, info: TableInfo) -> None:
        metadata_changed(batch)
        batch.put(TABLE_PREFIX + info.name.encode(), info.to_json())

    @staticmethod
    def drop(batch: WriteBatch, info: TableInfo) -> None:
        metadata_changed(batch)
        batch.delete(TABLE_PREFIX + info.name.encode())
        batch.delete(STATS_PREFIX + info.uid.to_bytes(8, "big"))
        batch.delete_range(info.item_prefix, prefix_successor(info.item_prefix))
        uid = info.uid.to_bytes(8, "big")  # index entries, their statistics, collections, jobs
        for prefix in (INDEX_PREFIX + uid, INDEX_STATS_PREFIX + uid, COLLECTION_PREFIX + uid, JOB_PREFIX + uid):
            batch.delete_range(prefix, prefix_successor(prefix))

    # -- live statistics (ItemCount, TableSizeBytes) -------------------------
    # A write does not touch the statistics row: its change record carries the size
    # change, and the row plus the table's change records after the row's sequence are
    # the statistics (exact, and as durable as the writes).  One row rewritten by every
    # commit was a WAL page per single-item write; fold_stats moves the records' sums into
    # the row now and then (and before the change log is trimmed), keeping reads short.
    @staticmethod
    def stats(reader: StatsReader, info: TableInfo) -> tuple[int, int]:
        """(ItemCount, TableSizeBytes).  ``reader``: one snapshot (``engine.read()``), so that
        no other worker's fold falls between reading the row and the records."""
        count, size, folded = _stats_row(reader, info.uid)
        more_count, more_size, _ = reader.change_totals(info.name, folded)
        return count + more_count, size + more_size

    @staticmethod
    def fold_stats(batch: WriteBatch, info: TableInfo, through: int | None = None) -> None:
        """Add the table's change records after the row's sequence (up to ``through``, if
        given) into its statistics row."""
        count, size, folded = _stats_row(batch, info.uid)
        more_count, more_size, last = batch.change_totals(info.name, folded, through)
        if last > folded:
            batch.put(STATS_PREFIX + info.uid.to_bytes(8, "big"),
                      _STATS.pack(count + more_count, size + more_size, last))

    @staticmethod
    def adjust_stats(batch: WriteBatch, info: TableInfo, count_delta: int, size_delta: int) -> None:
        """For writes without change records of their own (restores, imports)."""
        count, size, folded = _stats_row(batch, info.uid)
        batch.put(STATS_PREFIX + info.uid.to_bytes(8, "big"),
                  _STATS.pack(count + count_delta, size + size_delta, folded))


def _stats_row(reader: Reader, uid: int) -> tuple[int, int, int]:
    """(count, size, sequence) of a statistics row (sequence 0: a row from before change
    records carried sizes, which holds every record the log has)."""
    raw = reader.get(STATS_PREFIX + uid.to_bytes(8, "big"))
    if raw is None:
        return 0, 0, 0
    if len(raw) == _STATS_BEFORE_SIZED_RECORDS.size:
        return (*_STATS_BEFORE_SIZED_RECORDS.unpack(raw), 0)
    return _STATS.unpack(raw)


def fold_all_stats(db: Any, after: int | None = None, limit: int | None = None) -> int:
    """fold_stats_in a write batch of its own; returns the sequence through which every
    table's records are now folded, if they were up to ``after`` before.  With ``limit`` (and
    ``after``), folds at most the ``limit`` sequences after ``after``.  The server's
    maintenance task calls it every second while the change log grows, passing what the
    previous call returned, in slices of ``limit``, each a short batch of its own."""
    with db.engine.write() as batch:
        return fold_stats_in(db, batch, after, limit)


def fold_stats_in(db: Any, batch: WriteBatch, after: int | None = None, limit: int | None = None) -> int:
    """fold_stats for every table (``after``: only the tables with change records after that
    sequence, and up to ``after + limit``: one pass over those records, not a query per
    table); see fold_all_stats."""
    through = batch.last_sequence()  # every other writer waits for this batch: nothing is in flight
    bound = None  # the last sequence folded, when short of ``through``'s
    if after is not None and limit is not None:
        through = bound = min(through, after + limit)
    names = db.catalog.names(batch, None) if after is None else batch.changed_tables(after, through)
    for name in names:
        info = db.catalog.find(name, batch)
        if info is not None:
            Catalog.fold_stats(batch, info, bound)
    return through


def metadata_changed(batch: WriteBatch) -> None:
    """Tell every process of the data directory that metadata changes in ``batch`` (the
    engine's catalog generation): tables here, event source mappings in streams/mappings."""
    notify = getattr(batch, "catalog_changed", None)
    if notify is not None:
        notify()
