"""ImportTable, DescribeImport, ListImports — from a local directory standing in for S3.

``S3BucketSource {S3Bucket, S3KeyPrefix}`` names ``<export-root>/<S3Bucket>`` and every
file below it whose relative path starts with S3KeyPrefix (S3 prefix semantics), so an
export copied from AWS (``aws s3 sync s3://bucket/prefix <export-root>/bucket/prefix``)
imports with ``S3KeyPrefix="prefix/AWSDynamoDB/<ExportId>/data/"``.  Manifest files,
``_started`` and checksum files are skipped.

Formats: DYNAMODB_JSON (one ``{"Item": {...}}`` per line), CSV (header line or
``HeaderList``; key attributes typed from AttributeDefinitions, other values as strings,
empty values omitted).  InputCompressionType GZIP or NONE.  Lines that cannot be imported
are counted in ErrorCount and skipped, as AWS does.  The new table is created at once
(CREATING) and loaded by a background task (IN_PROGRESS -> COMPLETED).
"""
from __future__ import annotations

import csv
import gzip
import io
import os
import time
from typing import Any, Iterator

import orjson

from dynamodbforge import errors, indexes
from dynamodbforge.backups import common as C
from dynamodbforge.backups import loader
from dynamodbforge.catalog import Catalog, TableInfo
from dynamodbforge.database import Database
from dynamodbforge.ops.items import storage_key
from dynamodbforge.protocol import attributes

_SKIP_NAMES = ("manifest-summary.json", "manifest-files.json", "_started")
_SKIP_SUFFIXES = (".md5", ".checksum")


def _description(meta: dict[str, Any]) -> dict[str, Any]:
    keys = ("ImportArn", "ImportStatus", "TableArn", "TableId", "ClientToken", "S3BucketSource", "ErrorCount",
            "CloudWatchLogGroupArn", "InputFormat", "InputFormatOptions", "InputCompressionType",
            "TableCreationParameters", "StartTime", "EndTime", "ProcessedSizeBytes", "ProcessedItemCount",
            "ImportedItemCount", "FailureCode", "FailureMessage")
    return {k: meta[k] for k in keys if meta.get(k) is not None}


def _summary(meta: dict[str, Any]) -> dict[str, Any]:
    keys = ("ImportArn", "ImportStatus", "TableArn", "S3BucketSource", "CloudWatchLogGroupArn", "InputFormat",
            "StartTime", "EndTime")
    return {k: meta[k] for k in keys if meta.get(k) is not None}


def describe_import(db: Database, req: dict[str, Any]) -> dict[str, Any]:
    arn = req["ImportArn"]
    meta = C.load(db.engine, C.IMPORT_PREFIX + C.id_of_arn(arn).encode())
    if meta is None or meta["ImportArn"] != arn:
        raise C.import_not_found(arn)
    return {"ImportTableDescription": _description(meta)}


def list_imports(db: Database, req: dict[str, Any]) -> dict[str, Any]:
    limit = req.get("PageSize", 25)
    table_arn, after = req.get("TableArn"), req.get("NextToken")
    with db.engine.read() as reader:
        metas = C.scan(reader, C.IMPORT_PREFIX)
    rows = [m for m in metas if (table_arn is None or m["TableArn"] == table_arn)
            and (after is None or C.id_of_arn(m["ImportArn"]) > after)]
    page = rows[:limit]
    out: dict[str, Any] = {"ImportSummaryList": [_summary(m) for m in page]}
    if len(rows) > limit:
        out["NextToken"] = C.id_of_arn(page[-1]["ImportArn"])
    return out


def import_table(db: Database, req: dict[str, Any]) -> dict[str, Any]:
    params = req["TableCreationParameters"]
    name = params["TableName"]
    fmt = req["InputFormat"]
    compression = req.get("InputCompressionType", "NONE")
    if fmt == "ION":
        raise errors.validation("InputFormat ION is not supported by DynamoDBForge; use DYNAMODB_JSON or CSV")
    if compression == "ZSTD":
        raise errors.validation("InputCompressionType ZSTD is not supported by DynamoDBForge; use GZIP or NONE")
    token = req.get("ClientToken")
    if token is not None:
        with db.engine.read() as reader:
            for other in C.scan(reader, C.IMPORT_PREFIX):
                if other.get("ClientToken") == token:
                    if other["TableCreationParameters"]["TableName"] != name:
                        raise C.import_conflict()
                    return {"ImportTableDescription": _description(other)}
    source = req["S3BucketSource"]
    root = C.bucket_path(db, source["S3Bucket"], None)
    create_req: dict[str, Any] = {k: params[k] for k in ("TableName", "AttributeDefinitions", "KeySchema")}
    billing = params.get("BillingMode", "PROVISIONED")
    create_req["BillingMode"] = billing
    if "ProvisionedThroughput" in params:
        create_req["ProvisionedThroughput"] = params["ProvisionedThroughput"]
    if params.get("GlobalSecondaryIndexes"):
        create_req["GlobalSecondaryIndexes"] = params["GlobalSecondaryIndexes"]
    import_id = C.new_id(db)
    info = loader.create_target(db, create_req, {}, errors.resource_in_use(f"Table already exists: {name}"))
    meta: dict[str, Any] = {
        "ImportArn": C.resource_arn(db, name, "import", import_id),
        "ImportStatus": "IN_PROGRESS",
        "TableArn": info.description["TableArn"],
        "TableId": info.description.get("TableId"),
        "ClientToken": token,
        "S3BucketSource": source,
        "ErrorCount": 0,
        "InputFormat": fmt,
        "InputFormatOptions": req.get("InputFormatOptions"),
        "InputCompressionType": compression,
        "TableCreationParameters": params,
        "StartTime": db.now(),
        "ProcessedSizeBytes": 0,
        "ProcessedItemCount": 0,
        "ImportedItemCount": 0,
    }
    with db.engine.write() as batch:
        C.save(batch, C.IMPORT_PREFIX + import_id.encode(), meta)
    C.run_background(f"import-{import_id}", lambda: _run(db, info, meta, import_id, root))
    return {"ImportTableDescription": _description(meta)}


# --- reading the source ----------------------------------------------------------------------

def source_files(root: str, prefix: str) -> list[str]:
    out = []
    for dirpath, _, names in os.walk(root):
        for fname in names:
            path = os.path.join(dirpath, fname)
            rel = os.path.relpath(path, root).replace(os.sep, "/")
            if not rel.startswith(prefix):
                continue
            if fname in _SKIP_NAMES or fname.endswith(_SKIP_SUFFIXES):
                continue
            out.append(path)
    return sorted(out)


def _open_text(path: str, compression: str) -> io.TextIOBase:
    if compression == "GZIP":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


def _json_items(fh: io.TextIOBase) -> Iterator[tuple[int, dict[str, Any] | None]]:
    for line in fh:
        if not line.strip():
            continue
        try:
            obj = orjson.loads(line)
            item = obj["Item"] if isinstance(obj, dict) else None
            yield len(line), item if isinstance(item, dict) else None
        except (orjson.JSONDecodeError, KeyError):
            yield len(line), None


def _csv_items(fh: io.TextIOBase, info: TableInfo, options: dict[str, Any]
               ) -> Iterator[tuple[int, dict[str, Any] | None]]:
    csv_opts = (options or {}).get("Csv") or {}
    reader = csv.reader(fh, delimiter=csv_opts.get("Delimiter", ","))
    header = csv_opts.get("HeaderList")
    types = {d["AttributeName"]: d["AttributeType"] for d in info.description["AttributeDefinitions"]}
    for row in reader:
        if header is None:
            header = row
            continue
        size = sum(len(v) for v in row)
        if len(row) != len(header):
            yield size, None
            continue
        item = {name: {types.get(name, "S"): value} for name, value in zip(header, row) if value != ""}
        yield size, item


def _run(db: Database, info: TableInfo, meta: dict[str, Any], import_id: str, root: str) -> None:
    started = time.monotonic()
    key = C.IMPORT_PREFIX + import_id.encode()
    counters = {"ProcessedSizeBytes": 0, "ProcessedItemCount": 0, "ImportedItemCount": 0, "ErrorCount": 0}
    label = f"import {import_id}"
    changes: dict[str, Any]
    with C.task_database(db) as tdb:
        try:
            prefix = meta["S3BucketSource"].get("S3KeyPrefix", "")
            files = source_files(root, prefix) if os.path.isdir(root) else []
            if not files:
                raise FileNotFoundError(f"no objects found under s3://{meta['S3BucketSource']['S3Bucket']}/{prefix}")
            chunk: list[dict[str, Any]] = []
            for path in files:
                with _open_text(path, meta["InputCompressionType"]) as fh:
                    rows = (_csv_items(fh, info, meta.get("InputFormatOptions") or {})
                            if meta["InputFormat"] == "CSV" else _json_items(fh))
                    for size, item in rows:
                        counters["ProcessedItemCount"] += 1
                        counters["ProcessedSizeBytes"] += size
                        if item is None:
                            counters["ErrorCount"] += 1
                            continue
                        try:
                            attributes.validate_item(item)
                            attributes.validate_item_key(item, info)
                        except errors.DynamoDBError:
                            counters["ErrorCount"] += 1
                            continue
                        chunk.append(item)
                        if len(chunk) >= C.LOAD_CHUNK:
                            counters["ImportedItemCount"] += _write(tdb, info, chunk)
                            chunk = []
            if chunk:
                counters["ImportedItemCount"] += _write(tdb, info, chunk)
            loader.finish(tdb, info, label, counters["ImportedItemCount"], started)
            changes = {"ImportStatus": "COMPLETED", "EndTime": tdb.now(), **counters}
        except Exception as exc:
            C.log.exception("%s failed", label)
            loader.finish(tdb, info, label, counters["ImportedItemCount"], started)
            changes = {"ImportStatus": "FAILED", "EndTime": tdb.now(), "FailureCode": "UnknownError",
                       "FailureMessage": str(exc)[:1000], **counters}
        C.update(tdb, key, lambda m: m.update(changes))


def _write(db: Database, info: TableInfo, items: list[dict[str, Any]]) -> int:
    """Put a chunk of items (later duplicates overwrite earlier ones, as AWS's import)."""
    with db.engine.write() as batch:
        count_delta = size_delta = 0
        for item in items:
            skey = storage_key(info, item)
            old_raw = batch.get(skey)
            old = orjson.loads(old_raw) if old_raw is not None else None
            if old is not None:
                count_delta -= 1
                size_delta -= attributes.item_size(old)
            batch.put(skey, orjson.dumps(item))
            indexes.maintain(db, batch, info, skey, old, item)  # index entries
            count_delta += 1
            size_delta += attributes.item_size(item)
        Catalog.adjust_stats(batch, info, count_delta, size_delta)
    return len(items)
