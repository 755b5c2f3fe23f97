"""Event source mappings (triggers) and their durable checkpoints, kept in the engine.

A mapping attaches a handler (``module:function``) to a stream.  It is created by
``ddbforge serve --trigger TABLE=module:function`` / ``--config FILE`` (source "cli",
following the table: when the table's stream is disabled and re-enabled, or the table
re-created, the mapping finishes the old stream and moves on to the new one), or by
the Lambda API CreateEventSourceMapping (source "api", on one stream ARN — or, as an
extension, on a table ARN, which follows the table as above).

Keys: ``MAPPING_PREFIX + uuid`` -> mapping JSON, ``CHECKPOINT_PREFIX + uuid`` ->
``{"StreamArn", "ShardId", "Position"}``: the last change-log sequence whose records
were all handled (or sent to the on-failure destination).  The trigger runner reads
them through the internal operations below (target ``DynamoDBForgeTriggers_20240101.``).
"""
from __future__ import annotations

import uuid as uuidlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

import orjson

from dynamodbforge.catalog import metadata_changed
from dynamodbforge.database import ACCOUNT_ID, Database
from dynamodbforge.errors import DynamoDBError
from dynamodbforge.streams import metadata
from dynamodbforge.streams.keys import CHECKPOINT_PREFIX, INTERNAL_PREFIX, MAPPING_PREFIX, MAPPINGS_END  # noqa: F401 - re-exported
from dynamodbforge.streams.filters import FilterError, compile_filters

_CLI_NAMESPACE = uuidlib.UUID("6c0f3a55-6f7e-4d7c-9a8e-3e1d5b0c7a11")


# --- Lambda's errors ---------------------------------------------------------------------

def invalid_parameter(message: str) -> DynamoDBError:
    return DynamoDBError("InvalidParameterValueException", message, prefix="", extra={"Type": "User"})


def mapping_not_found(uuid: str) -> DynamoDBError:
    return DynamoDBError("ResourceNotFoundException", f"The resource you requested does not exist. (UUID: {uuid})",
                         status=404, prefix="", extra={"Type": "User"})


def conflict(message: str) -> DynamoDBError:
    return DynamoDBError("ResourceConflictException", message, status=409, prefix="", extra={"Type": "User"})


# --- the declared form (CLI / config file) -------------------------------------------------

@dataclass(slots=True)
class TriggerSpec:
    table: str
    handler: str
    batch_size: int = 100
    starting_position: str = "TRIM_HORIZON"
    maximum_batching_window_seconds: int = 0
    maximum_retry_attempts: int = -1
    bisect_batch_on_function_error: bool = False
    on_failure: str | None = None
    filter_patterns: list[Any] = field(default_factory=list)

    def request(self, db: Database) -> dict[str, Any]:
        req: dict[str, Any] = {
            "EventSourceArn": db.table_arn(self.table),
            "FunctionName": self.handler,
            "BatchSize": self.batch_size,
            "StartingPosition": self.starting_position,
            "MaximumBatchingWindowInSeconds": self.maximum_batching_window_seconds,
            "MaximumRetryAttempts": self.maximum_retry_attempts,
            "BisectBatchOnFunctionError": self.bisect_batch_on_function_error,
        }
        if self.on_failure:
            req["DestinationConfig"] = {"OnFailure": {"Destination": self.on_failure}}
        if self.filter_patterns:
            req["FilterCriteria"] = {"Filters": [
                {"Pattern": p if isinstance(p, str) else orjson.dumps(p).decode()} for p in self.filter_patterns
            ]}
        return req


# --- storage -------------------------------------------------------------------------------

def _load(reader: Any, uuid: str) -> dict[str, Any] | None:
    raw = reader.get(MAPPING_PREFIX + uuid.encode())
    return orjson.loads(raw) if raw is not None else None


def _all(reader: Any) -> list[dict[str, Any]]:
    return [orjson.loads(v) for _, v in reader.scan(MAPPING_PREFIX, MAPPINGS_END)]


def load_checkpoint(reader: Any, uuid: str) -> dict[str, Any] | None:
    raw = reader.get(CHECKPOINT_PREFIX + uuid.encode())
    return orjson.loads(raw) if raw is not None else None


def _iso(when: float) -> str:
    return datetime.fromtimestamp(when, timezone.utc).isoformat()


def public(db: Database, m: dict[str, Any], state: str | None = None) -> dict[str, Any]:
    """A mapping as Lambda's EventSourceMappingConfiguration."""
    out: dict[str, Any] = {
        "UUID": m["UUID"],
        "StartingPosition": m["StartingPosition"],
        "BatchSize": m["BatchSize"],
        "MaximumBatchingWindowInSeconds": m["MaximumBatchingWindowInSeconds"],
        "ParallelizationFactor": 1,
        "EventSourceArn": m["EventSourceArn"],
        "FunctionArn": f"arn:aws:lambda:{db.region}:{ACCOUNT_ID}:function:{m['FunctionName']}",
        "LastModified": m["LastModified"],
        "LastProcessingResult": m.get("LastProcessingResult", "No records processed"),
        "State": state or ("Enabled" if m.get("Enabled", True) else "Disabled"),
        "StateTransitionReason": "User action",
        "DestinationConfig": m.get("DestinationConfig") or {"OnFailure": {}},
        "MaximumRecordAgeInSeconds": m.get("MaximumRecordAgeInSeconds", -1),
        "BisectBatchOnFunctionError": m["BisectBatchOnFunctionError"],
        "MaximumRetryAttempts": m["MaximumRetryAttempts"],
        "TumblingWindowInSeconds": 0,
        "FunctionResponseTypes": m.get("FunctionResponseTypes", []),
    }
    if m.get("FilterCriteria"):
        out["FilterCriteria"] = m["FilterCriteria"]
    return out


# --- validation ----------------------------------------------------------------------------

def _int(req: dict[str, Any], name: str, default: int, lo: int, hi: int) -> int:
    value = req.get(name, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise invalid_parameter(f"{name} must be an integer between {lo} and {hi}, got {value!r}")
    return value


def _resolve_source(db: Database, arn: Any) -> tuple[str, str, bool]:
    """(event source ARN, table name, follows the table)."""
    if not isinstance(arn, str) or not arn:
        raise invalid_parameter("EventSourceArn is required")
    parsed = metadata.parse_stream_arn(arn)
    if parsed is not None:
        if metadata.load(db.engine, *parsed) is None:
            raise invalid_parameter(f"Stream not found: {arn}")
        return arn, parsed[0], False
    table_prefix = f"arn:aws:dynamodb:{db.region}:{ACCOUNT_ID}:table/"
    if arn.startswith(table_prefix) and "/" not in arn[len(table_prefix):]:
        return arn, arn[len(table_prefix):], True
    raise invalid_parameter(f"Unsupported event source: {arn} (a DynamoDB stream or table ARN is expected)")


def build(db: Database, req: dict[str, Any], source: str, uuid: str | None = None) -> dict[str, Any]:
    arn, table, follow = _resolve_source(db, req.get("EventSourceArn"))
    function = req.get("FunctionName")
    if not isinstance(function, str) or not function:
        raise invalid_parameter("FunctionName is required")
    position = req.get("StartingPosition")
    if position not in ("TRIM_HORIZON", "LATEST"):
        raise invalid_parameter("StartingPosition must be TRIM_HORIZON or LATEST for a DynamoDB stream")
    try:
        compile_filters(req.get("FilterCriteria"))
    except FilterError as exc:
        raise invalid_parameter(str(exc)) from None
    destination = ((req.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
    if destination is not None and not isinstance(destination, str):
        raise invalid_parameter("DestinationConfig.OnFailure.Destination must be a string")
    types = req.get("FunctionResponseTypes") or []
    if any(t != "ReportBatchItemFailures" for t in types):
        raise invalid_parameter("FunctionResponseTypes may only contain ReportBatchItemFailures")
    return {
        "UUID": uuid or str(uuidlib.uuid4()),
        "EventSourceArn": arn,
        "Table": table,
        "Follow": follow,
        "FunctionName": function,
        "StartingPosition": position,
        "BatchSize": _int(req, "BatchSize", 100, 1, 10000),
        "MaximumBatchingWindowInSeconds": _int(req, "MaximumBatchingWindowInSeconds", 0, 0, 300),
        "MaximumRetryAttempts": _int(req, "MaximumRetryAttempts", -1, -1, 10000),
        "MaximumRecordAgeInSeconds": _int(req, "MaximumRecordAgeInSeconds", -1, -1, 604800),
        "BisectBatchOnFunctionError": bool(req.get("BisectBatchOnFunctionError", False)),
        "FilterCriteria": req.get("FilterCriteria"),
        "DestinationConfig": {"OnFailure": {"Destination": destination}} if destination else None,
        "FunctionResponseTypes": list(types),
        "Enabled": bool(req.get("Enabled", True)),
        "Source": source,
        "LastModified": db.clock(),
    }


def _initial_checkpoint(db: Database, batch: Any, m: dict[str, Any]) -> dict[str, Any] | None:
    """LATEST means: records written after the mapping was created."""
    if m["StartingPosition"] != "LATEST":
        return None
    if m["Follow"]:
        info = db.catalog.find(m["Table"], batch)
        stream = metadata.current(batch, info.description) if info is not None else None
    else:
        stream = metadata.load_arn(batch, m["EventSourceArn"])
    if stream is None:
        return None  # the stream comes later: all of it is after the mapping
    shard = stream.shards[-1]
    position = batch.last_sequence()
    if shard.end is not None:
        position = min(position, shard.end)
    return {"StreamArn": stream.arn, "ShardId": shard.shard_id, "Position": max(position, shard.start)}


def _save(batch: Any, m: dict[str, Any]) -> None:
    batch.put(MAPPING_PREFIX + m["UUID"].encode(), orjson.dumps(m))


# --- the Lambda API (sans-IO) ---------------------------------------------------------------

def create_event_source_mapping(db: Database, req: dict[str, Any]) -> dict[str, Any]:
    m = build(db, req, "api")
    with db.engine.write() as batch:
        for other in _all(batch):
            if other["EventSourceArn"] == m["EventSourceArn"] and other["FunctionName"] == m["FunctionName"]:
                raise conflict(
                    f"The event source arn ({m['EventSourceArn']}) and function ({m['FunctionName']}) provided "
                    f"mapping already exists. Please update or delete the existing mapping with UUID {other['UUID']}"
                )
        _save(batch, m)
        metadata_changed(batch)  # the trigger runner looks again (see runner.EngineSource)
        checkpoint = _initial_checkpoint(db, batch, m)
        if checkpoint is not None:
            batch.put(CHECKPOINT_PREFIX + m["UUID"].encode(), orjson.dumps(checkpoint))
    return public(db, m, "Creating")


def list_event_source_mappings(db: Database, req: dict[str, Any]) -> dict[str, Any]:
    with db.engine.read() as reader:
        found = _all(reader)
    arn, function = req.get("EventSourceArn"), req.get("FunctionName")
    found = [m for m in found if (not arn or m["EventSourceArn"] == arn)
             and (not function or m["FunctionName"] == function or public(db, m)["FunctionArn"] == function)]
    start = 0
    if req.get("Marker"):
        start = next((i + 1 for i, m in enumerate(found) if m["UUID"] == req["Marker"]), len(found))
    limit = int(req.get("MaxItems") or 100)
    page = found[start:start + limit]
    out: dict[str, Any] = {"EventSourceMappings": [public(db, m) for m in page]}
    if start + limit < len(found):
        out["NextMarker"] = page[-1]["UUID"]
    return out


def get_event_source_mapping(db: Database, req: dict[str, Any]) -> dict[str, Any]:
    m = _load(db.engine, str(req.get("UUID", "")))
    if m is None:
        raise mapping_not_found(str(req.get("UUID", "")))
    return public(db, m)


def delete_event_source_mapping(db: Database, req: dict[str, Any]) -> dict[str, Any]:
    uuid = str(req.get("UUID", ""))
    with db.engine.write() as batch:
        m = _load(batch, uuid)
        if m is None:
            raise mapping_not_found(uuid)
        batch.delete(MAPPING_PREFIX + uuid.encode())
        batch.delete(CHECKPOINT_PREFIX + uuid.encode())
        metadata_changed(batch)
    return public(db, m, "Deleting")


def update_event_source_mapping(db: Database, req: dict[str, Any]) -> dict[str, Any]:
    uuid = str(req.get("UUID", ""))
    with db.engine.write() as batch:
        m = _load(batch, uuid)
        if m is None:
            raise mapping_not_found(uuid)
        merged = {**{k: v for k, v in m.items() if v is not None}, **{k: v for k, v in req.items() if k != "UUID"}}
        new = build(db, merged, m["Source"], uuid)
        _save(batch, new)
        metadata_changed(batch)
    return public(db, new, "Updating")


# --- declared (CLI / config) mappings ----------------------------------------------------------

def ensure_declared(db: Database, specs: list[TriggerSpec]) -> list[dict[str, Any]]:
    """Create or update the declared mappings (checkpoints kept); drop declared ones no longer declared."""
    wanted = {}
    for spec in specs:
        uuid = str(uuidlib.uuid5(_CLI_NAMESPACE, f"{spec.table}|{spec.handler}"))
        wanted[uuid] = build(db, spec.request(db), "cli", uuid)
    with db.engine.write() as batch:
        metadata_changed(batch)
        for m in _all(batch):
            if m.get("Source") == "cli" and m["UUID"] not in wanted:
                batch.delete(MAPPING_PREFIX + m["UUID"].encode())
                batch.delete(CHECKPOINT_PREFIX + m["UUID"].encode())
        for uuid, m in wanted.items():
            existing = _load(batch, uuid)
            if existing is not None:
                m["LastProcessingResult"] = existing.get("LastProcessingResult")
            _save(batch, m)
            if existing is None:
                checkpoint = _initial_checkpoint(db, batch, m)
                if checkpoint is not None:
                    batch.put(CHECKPOINT_PREFIX + uuid.encode(), orjson.dumps(checkpoint))
    return list(wanted.values())


# --- internal operations for the trigger runner ------------------------------------------------

def list_triggers(db: Database, req: dict[str, Any]) -> dict[str, Any]:
    out = []
    with db.engine.read() as reader:
        for m in _all(reader):
            if not m.get("Enabled", True):
                continue
            latest = None
            if m["Follow"]:
                info = db.catalog.find(m["Table"], reader)
                if info is not None:
                    stream = metadata.current(reader, info.description)
                    latest = stream.arn if stream is not None else info.description.get("LatestStreamArn")
            else:
                latest = m["EventSourceArn"]
            out.append({"Mapping": m, "Checkpoint": load_checkpoint(reader, m["UUID"]), "LatestStreamArn": latest,
                        "StreamArns": [s.arn for s in metadata.all_streams(reader, m["Table"])]
                        if m["Follow"] else [m["EventSourceArn"]]})
    return {"Triggers": out}


def put_checkpoint(db: Database, req: dict[str, Any]) -> dict[str, Any]:
    uuid = str(req.get("UUID", ""))
    with db.engine.write() as batch:
        m = _load(batch, uuid)
        if m is None:
            return {"Saved": False}
        if req.get("StreamArn") is not None:
            checkpoint = {"StreamArn": req["StreamArn"], "ShardId": req["ShardId"], "Position": int(req["Position"])}
            batch.put(CHECKPOINT_PREFIX + uuid.encode(), orjson.dumps(checkpoint))
        if req.get("LastProcessingResult") and req["LastProcessingResult"] != m.get("LastProcessingResult"):
            m["LastProcessingResult"] = req["LastProcessingResult"]
            _save(batch, m)
    return {"Saved": True}


INTERNAL_OPERATIONS: dict[str, Callable[[Database, dict[str, Any]], Any]] = {
    "ListTriggers": list_triggers,
    "PutCheckpoint": put_checkpoint,
    # The Lambda API's operations, also reachable with an X-Amz-Target (no REST routing needed).
    "CreateEventSourceMapping": create_event_source_mapping,
    "ListEventSourceMappings": list_event_source_mappings,
    "GetEventSourceMapping": get_event_source_mapping,
    "UpdateEventSourceMapping": update_event_source_mapping,
    "DeleteEventSourceMapping": delete_event_source_mapping,
}
