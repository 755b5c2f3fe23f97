"""TagResource, UntagResource, ListTagsOfResource and DescribeLimits.

A table's tags live in their own engine row, ``TAGS_PREFIX + uid``: a JSON object of
key -> value in the order keys were first set.  Keyed by the table's internal uid, so
a table deleted and created again under the same name starts untagged, as in DynamoDB.
CreateTable's ``Tags`` are written in the same batch as the table (``store_for_create``).

Limits (DynamoDB Developer Guide, "Tagging restrictions"): at most 50 tags per resource,
keys of 1-128 characters and values of 0-256 (enforced by the request shapes), letters,
white space, digits and ``+ - = . _ : / @`` only, the ``aws:`` prefix reserved, one value
per key (tagging a key again replaces its value).  Every one of these is a
ValidationException (ScyllaDB's Alternator test suite, run against DynamoDB, expects it
for 51+ tags and for other characters), and TagResource and UntagResource answer an
empty body, as the API Reference says.
"""
from __future__ import annotations

import unicodedata
from typing import Any

import orjson

from dynamodbforge import errors
from dynamodbforge.database import Database

TAGS_PREFIX = b"\x00G"  # + uid (8 bytes) -> {"key": "value", ...}
MAX_TAGS = 50
_INVALID = "One or more parameter values were invalid: "

# DescribeLimits: DynamoDB's default account and table quotas per region.
LIMITS = {
    "AccountMaxReadCapacityUnits": 80000,
    "AccountMaxWriteCapacityUnits": 80000,
    "TableMaxReadCapacityUnits": 40000,
    "TableMaxWriteCapacityUnits": 40000,
}


def describe_limits(db: Database, req: dict[str, Any]) -> dict[str, Any]:
    return dict(LIMITS)


def _key(uid: int) -> bytes:
    return TAGS_PREFIX + uid.to_bytes(8, "big")


def load(reader: Any, uid: int) -> dict[str, str]:
    raw = reader.get(_key(uid))
    return orjson.loads(raw) if raw is not None else {}


def drop(batch: Any, uid: int) -> None:
    batch.delete(_key(uid))


_TAG_PUNCTUATION = frozenset("+-=._:/@")


def _allowed(text: str) -> bool:
    """Letters, white space and digits of any script, and ``+ - = . _ : / @``."""
    return all(c in _TAG_PUNCTUATION or unicodedata.category(c)[0] in "LZN" for c in text)


def _check_keys(keys: list[str]) -> None:
    for key in keys:
        if key.lower().startswith("aws:"):
            raise errors.validation(f"{_INVALID}Tag keys starting with 'aws:' are reserved for system use. Key: {key}")


def _check_tags(tags: list[dict[str, str]]) -> None:
    _check_keys([t["Key"] for t in tags])
    for tag in tags:
        for part in ("Key", "Value"):
            if not _allowed(tag[part]):  # refused by DynamoDB (Alternator); the wording is ours
                raise errors.validation(
                    f"{_INVALID}Tag {part.lower()}s may only contain letters, white space, digits and "
                    f"+ - = . _ : / @. Tag {part.lower()}: {tag[part]}")


def _merged(current: dict[str, str], tags: list[dict[str, str]]) -> dict[str, str]:
    _check_tags(tags)
    merged = dict(current)
    for tag in tags:
        merged[tag["Key"]] = tag["Value"]
    if len(merged) > MAX_TAGS:
        raise errors.validation(
            f"The number of tags for the resource exceeds the limit of {MAX_TAGS}. "
            f"Current tags: {len(current)}, requested: {len(tags)}"
        )
    return merged


def store_for_create(batch: Any, uid: int, tags: list[dict[str, str]] | None) -> None:
    """CreateTable's Tags, validated and written in the table's own batch."""
    if tags:
        batch.put(_key(uid), orjson.dumps(_merged({}, tags)))


def _table_name_of(arn: str) -> tuple[str, str]:
    """(table name, region) of a table's ARN, or AWS's ValidationException."""
    if not arn.startswith("arn:"):  # DynamoDB's newer wording (Alternator's test_tag_resource_incorrect)
        raise errors.validation(f"Invalid TableArn: ARNs must start with 'arn:': {arn}")  # prefix unverified
    parts = arn.split(":", 5)
    if (len(parts) != 6 or parts[0] != "arn" or parts[2] != "dynamodb" or not parts[5].startswith("table/")
            or "/" in parts[5][len("table/"):]):  # an index's ARN is no taggable resource
        raise errors.validation(f"Invalid TableArn: Invalid ResourceArn provided as input {arn}")
    return parts[5][len("table/"):], parts[3]


def _table_from_arn(db: Database, arn: str, reader: Any, name_region: tuple[str, str] | None = None,
                    not_found: str = "Requested resource not found: ResourcArn: {arn} not found") -> Any:
    name, region = name_region or _table_name_of(arn)
    info = db.catalog.find(name, reader)
    if info is None or region != db.region:
        raise errors.resource_not_found(not_found.format(arn=arn))
    return info


def tag_resource(db: Database, req: dict[str, Any]) -> bytes:
    name_region = _table_name_of(req["ResourceArn"])
    if not req["Tags"]:  # after the ARN, before the table (dynalite's tagResource.js, recorded from AWS)
        raise errors.validation("Atleast one Tag needs to be provided as Input.")
    with db.engine.write() as batch:
        info = _table_from_arn(db, req["ResourceArn"], batch, name_region)
        batch.put(_key(info.uid), orjson.dumps(_merged(load(batch, info.uid), req["Tags"])))
    return b""  # "an HTTP 200 response with an empty HTTP body"


def untag_resource(db: Database, req: dict[str, Any]) -> bytes:
    name_region = _table_name_of(req["ResourceArn"])
    if not req["TagKeys"]:  # as TagResource's Tags (dynalite's untagResource.js)
        raise errors.validation("Atleast one Tag Key needs to be provided as Input.")
    with db.engine.write() as batch:
        # UntagResource names no ARN when it finds no table (dynalite's untagResource.js)
        info = _table_from_arn(db, req["ResourceArn"], batch, name_region, "Requested resource not found")
        _check_keys(req["TagKeys"])
        current = load(batch, info.uid)
        remaining = {k: v for k, v in current.items() if k not in set(req["TagKeys"])}
        if len(remaining) != len(current):
            if remaining:
                batch.put(_key(info.uid), orjson.dumps(remaining))
            else:
                batch.delete(_key(info.uid))
    return b""


def list_tags_of_resource(db: Database, req: dict[str, Any]) -> dict[str, Any]:
    with db.engine.read() as reader:
        info = _table_from_arn(db, req["ResourceArn"], reader)
        tags = load(reader, info.uid)
    return {"Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}
