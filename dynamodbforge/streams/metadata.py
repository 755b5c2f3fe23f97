"""Streams of a table: StreamSpecification on CreateTable/UpdateTable, persisted in the engine.

Every enablement of a table's stream creates a new stream (new label, new ARN), as
AWS does; disabling closes it.  A stream is stored under
``STREAM_PREFIX + table name + b"\\x00" + label`` in the engine's kv space, so every
worker process sees the same streams (nothing lives in process memory).

A stream owns the table's change-log rows with ``start_seq < sequence <= end_seq``
(``end_seq`` None while enabled): ``start_seq`` is the last sequence committed when
the stream was enabled, read inside the same write batch, so a write is in a stream
exactly when it committed after the enabling DDL and before the disabling one.
Each stream has one shard (shards are not rotated; see docs/STREAMS.md).
"""
from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

import orjson

from dynamodbforge import errors
from dynamodbforge.database import ACCOUNT_ID, Database
from dynamodbforge.storage.engine import Engine, Reader, WriteBatch
from dynamodbforge.storage.keycodec import prefix_successor

STREAM_PREFIX = b"\x00RS"  # + table name + b"\x00" + label -> stream JSON
VIEW_TYPES = ("NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES", "KEYS_ONLY")  # AWS's enum order
SEQ_BASE = 10**20  # sequence numbers are SEQ_BASE + change-log seq: 21+ decimal digits


def format_sequence(seq: int) -> str:
    return str(SEQ_BASE + seq)


def parse_sequence(text: Any) -> int | None:
    if not isinstance(text, str) or not text.isdigit() or len(text) > 40:
        return None
    value = int(text) - SEQ_BASE
    return value if value >= 0 else None


@dataclass(slots=True)
class Shard:
    shard_id: str
    start: int  # exclusive lower bound (change-log seq)
    end: int | None = None  # inclusive upper bound; None while open
    parent: str | None = None


@dataclass(slots=True)
class Stream:
    table: str
    label: str
    arn: str
    view_type: str
    key_schema: list[dict[str, str]]
    created: float
    start_seq: int
    end_seq: int | None = None
    disabled_at: float | None = None
    shards: list[Shard] = field(default_factory=list)

    @property
    def enabled(self) -> bool:
        return self.end_seq is None

    @property
    def key(self) -> bytes:
        return stream_key(self.table, self.label)

    def to_json(self) -> bytes:
        return orjson.dumps(asdict(self))

    @classmethod
    def from_json(cls, raw: bytes) -> "Stream":
        data = orjson.loads(raw)
        data["shards"] = [Shard(**s) for s in data.get("shards", [])]
        return cls(**data)

    def shard(self, shard_id: str) -> Shard | None:
        return next((s for s in self.shards if s.shard_id == shard_id), None)


def stream_key(table: str, label: str) -> bytes:
    return STREAM_PREFIX + table.encode() + b"\x00" + label.encode()


def make_label(when: float) -> str:
    """ISO-8601 to the millisecond, UTC, as AWS's stream labels: 2026-11-25T13:00:00.000."""
    moment = datetime.fromtimestamp(when, timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def stream_arn(db: Database, table: str, label: str) -> str:
    return f"arn:aws:dynamodb:{db.region}:{ACCOUNT_ID}:table/{table}/stream/{label}"


def parse_stream_arn(arn: Any) -> tuple[str, str] | None:
    """(table name, label) of a stream ARN, or None when it is not one."""
    if not isinstance(arn, str) or not arn.startswith("arn:aws:dynamodb:"):
        return None
    parts = arn.split(":", 5)
    if len(parts) != 6:
        return None
    resource = parts[5]
    if not resource.startswith("table/") or "/stream/" not in resource:
        return None
    table, _, label = resource[len("table/"):].rpartition("/stream/")
    if not table or not label:
        return None
    return table, label


def shard_id_for(arn: str, created: float, index: int) -> str:
    digest = hashlib.sha256(f"{arn}#{index}".encode()).hexdigest()[:8]
    return f"shardId-{int(created * 1000):020d}-{digest}"


# --- reads ------------------------------------------------------------------------

def load(reader: Reader | Engine, table: str, label: str) -> Stream | None:
    raw = reader.get(stream_key(table, label))
    return Stream.from_json(raw) if raw is not None else None


def load_arn(reader: Reader | Engine, arn: str) -> Stream | None:
    parsed = parse_stream_arn(arn)
    return load(reader, *parsed) if parsed else None


def all_streams(reader: Reader, table: str | None = None) -> list[Stream]:
    """Streams in (table name, label) order, of one table or of all."""
    prefix = STREAM_PREFIX + (table.encode() + b"\x00" if table is not None else b"")
    return [Stream.from_json(v) for _, v in reader.scan(prefix, prefix_successor(prefix))]


def current(reader: Reader | Engine, description: dict[str, Any]) -> Stream | None:
    """The table's enabled stream, if any (from its description)."""
    label = description.get("LatestStreamLabel")
    spec = description.get("StreamSpecification") or {}
    if not label or not spec.get("StreamEnabled"):
        return None
    return load(reader, description["TableName"], label)


# --- StreamSpecification validation (AWS's messages) -------------------------------

_INVALID = "One or more parameter values were invalid: "


def _check_shape(spec: Any) -> tuple[bool, str | None]:
    if not isinstance(spec, dict):
        raise errors.validation("Invalid StreamSpecification")
    enabled = spec.get("StreamEnabled")
    if enabled is None:
        raise errors.validation(
            "1 validation error detected: Value null at 'streamSpecification.streamEnabled' failed to "
            "satisfy constraint: Member must not be null"
        )
    view = spec.get("StreamViewType")
    if view is not None and view not in VIEW_TYPES:
        raise errors.validation(
            f"1 validation error detected: Value '{view}' at 'streamSpecification.streamViewType' failed to "
            f"satisfy constraint: Member must satisfy enum value set: [{', '.join(VIEW_TYPES)}]"
        )
    return bool(enabled), view


def validate_for_create(spec: Any) -> str | None:
    """The view type to create the table's stream with, or None for no stream."""
    if spec is None:
        return None
    enabled, view = _check_shape(spec)
    if enabled and view is None:
        raise errors.validation(_INVALID + "Table is being created with a stream enabled, UpdateViewType is required")
    if not enabled and view is not None:
        raise errors.validation(
            _INVALID + "Table is being created with a stream disabled, UpdateViewType should not be specified"
        )
    return view if enabled else None


# --- writes (inside the DDL's write batch) ----------------------------------------

def _enable(db: Database, batch: WriteBatch, desc: dict[str, Any], view: str) -> Stream:
    name = desc["TableName"]
    created = db.clock()
    label = make_label(created)
    while batch.get(stream_key(name, label)) is not None:  # re-enabled within the same millisecond
        created += 0.001
        label = make_label(created)
    arn = stream_arn(db, name, label)
    start = batch.last_sequence()
    stream = Stream(
        table=name, label=label, arn=arn, view_type=view,
        key_schema=[dict(k) for k in desc["KeySchema"]], created=created, start_seq=start,
        shards=[Shard(shard_id_for(arn, created, 0), start)],
    )
    batch.put(stream.key, stream.to_json())
    desc["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": view}
    desc["LatestStreamLabel"] = label
    desc["LatestStreamArn"] = arn
    return stream


def _disable(db: Database, batch: WriteBatch, stream: Stream) -> None:
    end = batch.last_sequence()
    stream.end_seq = end
    stream.disabled_at = db.clock()
    for shard in stream.shards:
        if shard.end is None:
            shard.end = end
    batch.put(stream.key, stream.to_json())


def on_create_table(db: Database, batch: WriteBatch, desc: dict[str, Any], view: str | None) -> None:
    if view is not None:
        _enable(db, batch, desc, view)


def on_update_table(db: Database, batch: WriteBatch, desc: dict[str, Any], spec: Any) -> bool:
    """Apply UpdateTable's StreamSpecification to ``desc``; True when the stream changed."""
    enabled, view = _check_shape(spec)
    name = desc["TableName"]
    active = current(batch, desc)
    if enabled:
        if view is None:
            raise errors.validation(_INVALID + "If stream is being enabled then UpdateViewType is required")
        if active is not None:
            raise errors.validation(f"Table already has an enabled stream: TableName: {name}")
        _enable(db, batch, desc, view)
        return True
    if view is not None:
        raise errors.validation(_INVALID + "If stream is being disabled, then UpdateViewType must not be specified")
    if active is None:
        raise errors.validation(f"Table has no stream to disable: TableName: {name}")
    _disable(db, batch, active)
    desc["StreamSpecification"] = {"StreamEnabled": False}
    return True


def on_delete_table(db: Database, batch: WriteBatch, desc: dict[str, Any]) -> None:
    """A deleted table's stream is disabled; its records stay readable until trimmed."""
    active = current(batch, desc)
    if active is not None:
        _disable(db, batch, active)
