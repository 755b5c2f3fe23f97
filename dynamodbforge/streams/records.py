"""Change-log rows -> DynamoDB Streams records (the shape GetRecords and Lambda events carry)."""
from __future__ import annotations

import hashlib
from typing import Any

import orjson

from dynamodbforge.storage.engine import ChangeRecord
from dynamodbforge.streams.metadata import Stream, format_sequence


def _size(item: dict[str, Any] | None) -> int:
    if not item:
        return 0
    from dynamodbforge.protocol import attributes

    return attributes.item_size(item)


def stream_record(stream: Stream, change: ChangeRecord, region: str) -> dict[str, Any]:
    keys = orjson.loads(change.keys)
    old = orjson.loads(change.old_image) if change.old_image is not None else None
    new = orjson.loads(change.new_image) if change.new_image is not None else None
    if old is None:
        event = "INSERT"
    elif new is None:
        event = "REMOVE"
    else:
        event = "MODIFY"
    view = stream.view_type
    body: dict[str, Any] = {"ApproximateCreationDateTime": int(change.timestamp), "Keys": keys}
    size = _size(keys)
    if new is not None and view in ("NEW_IMAGE", "NEW_AND_OLD_IMAGES"):
        body["NewImage"] = new
        size += _size(new)
    if old is not None and view in ("OLD_IMAGE", "NEW_AND_OLD_IMAGES"):
        body["OldImage"] = old
        size += _size(old)
    sequence = format_sequence(change.sequence)
    body["SequenceNumber"] = sequence
    body["SizeBytes"] = size
    body["StreamViewType"] = view
    record: dict[str, Any] = {
        "eventID": hashlib.md5(f"{stream.arn}#{sequence}".encode()).hexdigest(),
        "eventName": event,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": region,
        "dynamodb": body,
    }
    if change.user_identity:  # TTL deletions are done by the service itself
        # The Streams API's Identity shape is capitalised; Lambda events spell it in lower case.
        record["userIdentity"] = {"PrincipalId": change.user_identity, "Type": "Service"}
    return record


def lambda_record(record: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    """A GetRecords record as a Lambda DynamoDB event record (eventSourceARN, lower-case userIdentity)."""
    record["eventSourceARN"] = stream_arn
    identity = record.get("userIdentity")
    if identity is not None and "Type" in identity:
        record["userIdentity"] = {"type": identity["Type"], "principalId": identity["PrincipalId"]}
    return record
