"""The DynamoDB Streams API: ListStreams, DescribeStream, GetShardIterator, GetRecords.

Sans-IO operations ``op(db, request) -> response``, dispatched by service.py for the
target prefix ``DynamoDBStreams_20120810.`` on the same endpoint as DynamoDB.

Shard iterators are self-describing (stream ARN, shard, position, creation time) so
any worker process can continue any iterator; they expire after 15 minutes.
A position is a change-log sequence: the iterator returns the shard's records with a
greater sequence.
"""
from __future__ import annotations

import base64
from datetime import datetime, timezone
from typing import Any, Callable

import orjson

from dynamodbforge import errors
from dynamodbforge.database import Database
from dynamodbforge.errors import DynamoDBError
from dynamodbforge.streams import metadata, retention
from dynamodbforge.streams.metadata import Shard, Stream, format_sequence, parse_sequence
from dynamodbforge.streams.keys import STREAMS_PREFIX  # noqa: F401 - re-exported
from dynamodbforge.streams.records import stream_record

ITERATOR_TTL_SECONDS = 15 * 60
MAX_RESPONSE_BYTES = 1024 * 1024  # GetRecords answers at most 1 MB
ITERATOR_TYPES = ("TRIM_HORIZON", "LATEST", "AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER")


# --- errors ---------------------------------------------------------------------------

def expired_iterator(created: float, now: float) -> DynamoDBError:
    fmt = "%a %b %d %H:%M:%S UTC %Y"
    then = datetime.fromtimestamp(created, timezone.utc).strftime(fmt)
    right_now = datetime.fromtimestamp(now, timezone.utc).strftime(fmt)
    return DynamoDBError(
        "ExpiredIteratorException",
        f"Iterator expired. The iterator was created at time {then} while right now it is {right_now} which is "
        f"further in the future than the tolerated delay of {ITERATOR_TTL_SECONDS * 1000} milliseconds.",
    )


def trimmed() -> DynamoDBError:
    return DynamoDBError(
        "TrimmedDataAccessException",
        "The operation attempted to read past the oldest stream record in a shard. The data you are trying "
        "to access has been trimmed.",
    )


def _constraint(value: Any, path: str, constraint: str) -> DynamoDBError:
    shown = "null" if value is None else f"'{value}'"
    return errors.validation(f"1 validation error detected: Value {shown} at '{path}' failed to satisfy "
                             f"constraint: {constraint}")


def _string(req: dict[str, Any], name: str, path: str, *, required: bool, lo: int, hi: int) -> str | None:
    value = req.get(name)
    if value is None:
        if required:
            raise _constraint(None, path, "Member must not be null")
        return None
    if not isinstance(value, str):
        raise errors.serialization("Start of structure or map found where not expected."
                                   if isinstance(value, (dict, list)) else "NUMBER_VALUE can not be converted to a String")
    if len(value) < lo:
        raise _constraint(value, path, f"Member must have length greater than or equal to {lo}")
    if len(value) > hi:
        raise _constraint(value, path, f"Member must have length less than or equal to {hi}")
    return value


def _limit(req: dict[str, Any], hi: int) -> int | None:
    value = req.get("Limit")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise errors.serialization("STRING_VALUE can not be converted to an Integer")
    if value < 1:
        raise _constraint(value, "limit", "Member must have value greater than or equal to 1")
    if value > hi:
        raise _constraint(value, "limit", f"Member must have value less than or equal to {hi}")
    return value


def _stream_or_error(db: Database, arn: str) -> Stream:
    parsed = metadata.parse_stream_arn(arn)
    if parsed is None:
        raise errors.validation(f"Invalid StreamArn: {arn}")
    stream = metadata.load(db.engine, *parsed)
    if stream is None:
        raise errors.resource_not_found(f"Requested resource not found: Stream: {arn} not found")
    return stream


# --- ListStreams ------------------------------------------------------------------------

def list_streams(db: Database, req: dict[str, Any]) -> dict[str, Any]:
    table = _string(req, "TableName", "tableName", required=False, lo=3, hi=255)
    start = _string(req, "ExclusiveStartStreamArn", "exclusiveStartStreamArn", required=False, lo=37, hi=1024)
    limit = _limit(req, 100) or 100
    if start is not None and metadata.parse_stream_arn(start) is None:
        raise errors.validation(f"Invalid ExclusiveStartStreamArn: {start}")
    with db.engine.read() as reader:
        streams = metadata.all_streams(reader, table)
    if start is not None:
        after = metadata.parse_stream_arn(start)
        streams = [s for s in streams if (s.table, s.label) > after]  # type: ignore[operator]
    page = streams[:limit]
    out: dict[str, Any] = {
        "Streams": [{"StreamArn": s.arn, "TableName": s.table, "StreamLabel": s.label} for s in page]
    }
    if len(streams) > limit:
        out["LastEvaluatedStreamArn"] = page[-1].arn
    return out


# --- DescribeStream ---------------------------------------------------------------------

def _shard_json(shard: Shard) -> dict[str, Any]:
    rng: dict[str, Any] = {"StartingSequenceNumber": format_sequence(shard.start + 1)}
    if shard.end is not None:
        rng["EndingSequenceNumber"] = format_sequence(max(shard.end, shard.start + 1))
    out: dict[str, Any] = {"ShardId": shard.shard_id, "SequenceNumberRange": rng}
    if shard.parent:
        out["ParentShardId"] = shard.parent
    return out


def describe_stream(db: Database, req: dict[str, Any]) -> dict[str, Any]:
    arn = _string(req, "StreamArn", "streamArn", required=True, lo=37, hi=1024)
    limit = _limit(req, 100) or 100
    start = _string(req, "ExclusiveStartShardId", "exclusiveStartShardId", required=False, lo=28, hi=65)
    stream = _stream_or_error(db, arn)  # type: ignore[arg-type]
    shards = list(stream.shards)
    if start is not None:
        shards = [s for s in shards if s.shard_id > start]
    page = shards[:limit]
    desc: dict[str, Any] = {
        "StreamArn": stream.arn,
        "StreamLabel": stream.label,
        "StreamStatus": "ENABLED" if stream.enabled else "DISABLED",
        "StreamViewType": stream.view_type,
        "CreationRequestDateTime": stream.created,
        "TableName": stream.table,
        "KeySchema": stream.key_schema,
        "Shards": [_shard_json(s) for s in page],
    }
    if len(shards) > limit:
        desc["LastEvaluatedShardId"] = page[-1].shard_id
    return {"StreamDescription": desc}


# --- shard iterators ----------------------------------------------------------------------

_ITERATOR_VERSION = "1"


def encode_iterator(arn: str, shard_id: str, position: int, created: float) -> str:
    payload = orjson.dumps({"s": shard_id, "p": position, "t": round(created, 3)})
    return f"{arn}|{_ITERATOR_VERSION}|{base64.urlsafe_b64encode(payload).decode()}"


def decode_iterator(text: str) -> tuple[str, str, int, float]:
    """(stream ARN, shard id, position, creation time) or ValidationException."""
    try:
        arn, version, payload = text.rsplit("|", 2)
        data = orjson.loads(base64.urlsafe_b64decode(payload.encode()))
        if version != _ITERATOR_VERSION or metadata.parse_stream_arn(arn) is None:
            raise ValueError(version)
        return arn, str(data["s"]), int(data["p"]), float(data["t"])
    except (ValueError, KeyError, TypeError, orjson.JSONDecodeError):
        raise errors.validation("Invalid ShardIterator") from None


def _shard_or_error(stream: Stream, shard_id: str) -> Shard:
    shard = stream.shard(shard_id)
    if shard is None:
        raise errors.resource_not_found(
            f"Requested resource not found: Shard does not exist: {shard_id} in stream {stream.arn}"
        )
    return shard


def get_shard_iterator(db: Database, req: dict[str, Any]) -> dict[str, Any]:
    arn = _string(req, "StreamArn", "streamArn", required=True, lo=37, hi=1024)
    shard_id = _string(req, "ShardId", "shardId", required=True, lo=28, hi=65)
    kind = _string(req, "ShardIteratorType", "shardIteratorType", required=True, lo=0, hi=64)
    if kind not in ITERATOR_TYPES:
        raise _constraint(kind, "shardIteratorType",
                          f"Member must satisfy enum value set: [{', '.join(ITERATOR_TYPES)}]")
    seq_text = _string(req, "SequenceNumber", "sequenceNumber", required=False, lo=21, hi=40)
    if kind in ("AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER"):
        if seq_text is None:
            raise errors.validation(f"Must specify a SequenceNumber for ShardIteratorType {kind}")
    elif seq_text is not None:
        raise errors.validation(f"Must not specify a SequenceNumber for ShardIteratorType {kind}")
    seq = None
    if seq_text is not None:
        seq = parse_sequence(seq_text)
        if seq is None:
            raise errors.validation(f"Invalid SequenceNumber: {seq_text}")
    stream = _stream_or_error(db, arn)  # type: ignore[arg-type]
    shard = _shard_or_error(stream, shard_id)  # type: ignore[arg-type]
    horizon = max(shard.start, db.engine.trim_horizon(stream.table))
    if kind == "TRIM_HORIZON":
        position = horizon
    elif kind == "LATEST":
        position = db.engine.last_sequence()
    elif kind == "AT_SEQUENCE_NUMBER":
        position = seq - 1  # type: ignore[operator]
    else:
        position = seq  # type: ignore[assignment]
    if shard.end is not None and position > shard.end:
        if kind in ("AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER"):
            raise errors.validation(
                f"Invalid SequenceNumber {seq_text} for ShardId {shard_id}: it is past the end of the shard"
            )
        position = shard.end
    position = max(position, shard.start)
    if kind in ("AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER") and position < horizon:
        raise trimmed()
    return {"ShardIterator": encode_iterator(stream.arn, shard.shard_id, position, db.clock())}


# --- GetRecords --------------------------------------------------------------------------

def get_records(db: Database, req: dict[str, Any]) -> dict[str, Any]:
    text = _string(req, "ShardIterator", "shardIterator", required=True, lo=1, hi=2048)
    limit = _limit(req, 1000) or 1000
    arn, shard_id, position, created = decode_iterator(text)  # type: ignore[arg-type]
    now = db.clock()
    if now - created > ITERATOR_TTL_SECONDS:
        raise expired_iterator(created, now)
    records, next_position, exhausted = read_shard(db, arn, shard_id, position, limit)
    out: dict[str, Any] = {"Records": records}
    if not exhausted:
        out["NextShardIterator"] = encode_iterator(arn, shard_id, next_position, now)
    return out


def read_shard(db: Database, arn: str, shard_id: str, position: int, limit: int
               ) -> tuple[list[dict[str, Any]], int, bool]:
    """Records after ``position`` (at most ``limit``, 1 MB); (records, next position, shard exhausted)."""
    stream = _stream_or_error(db, arn)
    shard = _shard_or_error(stream, shard_id)
    horizon = db.engine.trim_horizon(stream.table)
    if position < horizon and horizon > shard.start:
        raise trimmed()
    changes = db.engine.table_changes(stream.table, position, limit, up_to=shard.end)
    if shard.end is None and changes:
        # The stream may have been disabled (and re-enabled) since it was read: keep only its records.
        again = _stream_or_error(db, arn).shard(shard_id)
        if again is not None and again.end is not None:
            shard = again
            changes = [c for c in changes if c.sequence <= again.end]
    records: list[dict[str, Any]] = []
    size = 0
    next_position = position
    oldest = db.clock() - retention.stream_retention_seconds()  # older rows may be kept for others (PITR)
    for change in changes:
        if change.timestamp < oldest:
            next_position = change.sequence
            continue
        record = stream_record(stream, change, db.region)
        size += record["dynamodb"]["SizeBytes"] + 200
        if records and size > MAX_RESPONSE_BYTES:
            break
        records.append(record)
        next_position = change.sequence
    exhausted = False
    if shard.end is not None:
        exhausted = next_position >= shard.end or (len(records) == len(changes) and len(changes) < limit)
    return records, next_position, exhausted


# --- the registry --------------------------------------------------------------------------

Operation = Callable[[Database, dict[str, Any]], "dict[str, Any] | bytes"]

STREAMS_OPERATIONS: dict[str, Operation] = {
    "ListStreams": list_streams,
    "DescribeStream": describe_stream,
    "GetShardIterator": get_shard_iterator,
    "GetRecords": get_records,
}
