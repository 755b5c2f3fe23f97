"""ExportTableToPointInTime, DescribeExport, ListExports — to a local directory standing in
for the S3 bucket: ``<export-root>/<S3Bucket>/<S3Prefix>/AWSDynamoDB/<ExportId>/`` with
AWS's layout::

    _started                      (empty; written first)
    data/<name>.json.gz | .ion.gz  gzipped, one item per line
    manifest-files.json           one JSON object per data file, one per line
    manifest-summary.json         the export's summary

Full export (DYNAMODB_JSON): ``{"Item": {...}}`` per line; ION: ``$ion_1_0 {Item:{...}}``.
Incremental export: ``{"Metadata":{"WriteTimestampMicros":{"N":..}},"Keys":{..},
"NewImage":{..},"OldImage":{..}}`` per changed item (NEW_IMAGE view: no OldImage).

The table's state at ExportTime comes from pitr.state_at on a snapshot taken when the
request arrives; the files are written by a background task (IN_PROGRESS -> COMPLETED).
"""
from __future__ import annotations

import base64
import datetime as dt
import gzip
import hashlib
import json
import os
import time
import uuid
from typing import Any

import orjson

from dynamodbforge import errors
from dynamodbforge.backups import common as C
from dynamodbforge.backups import pitr
from dynamodbforge.catalog import TableInfo
from dynamodbforge.database import Database

ITEMS_PER_FILE = 100_000
MAX_INCREMENTAL_SECONDS = 24 * 3600


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    stamp = dt.datetime.fromtimestamp(ts, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.")
    return stamp + f"{int(ts * 1000) % 1000:03d}Z"


# --- ION text encoding of DynamoDB items ---------------------------------------------------------

def _ion_number(text: str) -> str:
    t = text.replace("E", "d").replace("e", "d")
    return t if ("." in t or "d" in t) else t + "d0"


def _ion_string(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)


def ion_value(av: dict[str, Any]) -> str:
    (t, v), = av.items()
    if t == "S":
        return _ion_string(v)
    if t == "N":
        return _ion_number(v)
    if t == "B":
        return "{{" + v + "}}"
    if t == "BOOL":
        return "true" if v else "false"
    if t == "NULL":
        return "null"
    if t == "SS":
        return "$dynamodb_SS::[" + ",".join(_ion_string(x) for x in v) + "]"
    if t == "NS":
        return "$dynamodb_NS::[" + ",".join(_ion_number(x) for x in v) + "]"
    if t == "BS":
        return "$dynamodb_BS::[" + ",".join("{{" + x + "}}" for x in v) + "]"
    if t == "L":
        return "[" + ",".join(ion_value(x) for x in v) + "]"
    if t == "M":
        return ion_struct(v)
    raise ValueError(f"unknown attribute type {t}")


def ion_struct(item: dict[str, Any]) -> str:
    return "{" + ",".join(f"{_ion_string(k)}:{ion_value(v)}" for k, v in item.items()) + "}"


# --- descriptions --------------------------------------------------------------------------------

def _description(meta: dict[str, Any]) -> dict[str, Any]:
    keys = ("ExportArn", "ExportStatus", "StartTime", "EndTime", "ExportManifest", "TableArn", "TableId",
            "ExportTime", "ClientToken", "S3Bucket", "S3BucketOwner", "S3Prefix", "S3SseAlgorithm",
            "S3SseKmsKeyId", "FailureCode", "FailureMessage", "ExportFormat", "BilledSizeBytes", "ItemCount",
            "ExportType", "IncrementalExportSpecification")
    return {k: meta[k] for k in keys if meta.get(k) is not None}


def _get(db: Database, arn: str) -> dict[str, Any]:
    meta = C.load(db.engine, C.EXPORT_PREFIX + C.id_of_arn(arn).encode())
    if meta is None or meta["ExportArn"] != arn:
        raise C.export_not_found(arn)
    return meta


def describe_export(db: Database, req: dict[str, Any]) -> dict[str, Any]:
    return {"ExportDescription": _description(_get(db, req["ExportArn"]))}


def list_exports(db: Database, req: dict[str, Any]) -> dict[str, Any]:
    limit = req.get("MaxResults", 25)
    table_arn = req.get("TableArn")
    after = req.get("NextToken")
    with db.engine.read() as reader:
        metas = C.scan(reader, C.EXPORT_PREFIX)
    rows = [m for m in metas if (table_arn is None or m["TableArn"] == table_arn)
            and (after is None or C.id_of_arn(m["ExportArn"]) > after)]
    page = rows[:limit]
    out: dict[str, Any] = {"ExportSummaries": [
        {"ExportArn": m["ExportArn"], "ExportStatus": m["ExportStatus"], "ExportType": m["ExportType"]} for m in page
    ]}
    if len(rows) > limit:
        out["NextToken"] = C.id_of_arn(page[-1]["ExportArn"])
    return out


# --- ExportTableToPointInTime --------------------------------------------------------------------

def export_table_to_point_in_time(db: Database, req: dict[str, Any]) -> dict[str, Any]:
    table_arn = req["TableArn"]
    name = C.table_name_of(table_arn)
    info = db.catalog.find(name)
    if info is None or (table_arn.startswith("arn:") and info.description.get("TableArn") != table_arn):
        raise C.table_not_found(table_arn)
    token = req.get("ClientToken")
    if token is not None:
        with db.engine.read() as reader:
            for other in C.scan(reader, C.EXPORT_PREFIX):
                if other.get("ClientToken") == token:
                    if other["TableArn"] != info.description["TableArn"] or other["S3Bucket"] != req["S3Bucket"]:
                        raise C.export_conflict()
                    return {"ExportDescription": _description(other)}
    cfg = pitr.config(db, info)
    if cfg is None:
        raise C.pitr_unavailable(name)
    earliest, latest = pitr.window(db, cfg)
    export_type = req.get("ExportType", "FULL_EXPORT")
    incremental = None
    if export_type == "INCREMENTAL_EXPORT":
        spec = req.get("IncrementalExportSpecification")
        if not spec or "ExportFromTime" not in spec:
            raise errors.validation("IncrementalExportSpecification.ExportFromTime must be specified "
                                    "for an incremental export")
        lo = float(spec["ExportFromTime"])
        hi = float(spec.get("ExportToTime", latest))
        if not earliest <= lo < hi <= latest:
            raise C.invalid_export_time(
                "The incremental export period must lie within the point-in-time recovery window "
                "(EarliestRestorableDateTime to LatestRestorableDateTime) and ExportFromTime must be "
                "before ExportToTime")
        if hi - lo > MAX_INCREMENTAL_SECONDS:
            raise C.invalid_export_time("The incremental export period must not exceed 24 hours")
        incremental = {"ExportFromTime": lo, "ExportToTime": hi,
                       "ExportViewType": spec.get("ExportViewType", "NEW_AND_OLD_IMAGES")}
        export_time = hi
    else:
        if "IncrementalExportSpecification" in req:
            raise errors.validation("IncrementalExportSpecification is only valid for INCREMENTAL_EXPORT")
        export_time = float(req.get("ExportTime", latest))
        if not earliest <= export_time <= latest:
            raise C.invalid_export_time(
                "ExportTime must be within the point-in-time recovery window of the table "
                "(between EarliestRestorableDateTime and LatestRestorableDateTime)")
    export_id = C.new_id(db)
    fmt = req.get("ExportFormat", "DYNAMODB_JSON")
    directory = C.bucket_path(db, req["S3Bucket"], req.get("S3Prefix"))
    meta: dict[str, Any] = {
        "ExportArn": C.resource_arn(db, name, "export", export_id),
        "ExportStatus": "IN_PROGRESS",
        "StartTime": db.now(),
        "TableArn": info.description["TableArn"],
        "TableId": info.description.get("TableId"),
        "ExportTime": round(export_time, 3),
        "ClientToken": token or str(uuid.uuid4()),
        "S3Bucket": req["S3Bucket"],
        "S3BucketOwner": req.get("S3BucketOwner"),
        "S3Prefix": req.get("S3Prefix"),
        "S3SseAlgorithm": req.get("S3SseAlgorithm", "AES256"),
        "S3SseKmsKeyId": req.get("S3SseKmsKeyId"),
        "ExportFormat": fmt,
        "ExportType": export_type,
        "IncrementalExportSpecification": incremental,
    }
    snap = C.open_snapshot(db)
    try:
        with db.engine.write() as batch:
            C.save(batch, C.EXPORT_PREFIX + export_id.encode(), meta)
    except BaseException:
        snap.close()
        raise
    C.run_background(f"export-{export_id}", lambda: _run(db, snap, info, meta, export_id, directory))
    return {"ExportDescription": _description(meta)}


def _run(db: Database, snap: Any, info: TableInfo, meta: dict[str, Any], export_id: str, directory: str) -> None:
    started = time.monotonic()
    key = C.EXPORT_PREFIX + export_id.encode()
    try:
        count, size = _write(snap, info, meta, export_id, directory)
        changes = {"ExportStatus": "COMPLETED", "EndTime": db.now(), "ItemCount": count, "BilledSizeBytes": size,
                   "ExportManifest": f"{_s3_base(meta)}AWSDynamoDB/{export_id}/manifest-summary.json"}
        _summary_file(meta | changes, export_id, directory)
        C.log.info("export %s of %s: %d items in %.2fs", export_id, info.name, count, time.monotonic() - started)
    except Exception as exc:
        C.log.exception("export %s failed", export_id)
        changes = {"ExportStatus": "FAILED", "EndTime": db.now(), "FailureCode": "UnknownError",
                   "FailureMessage": str(exc)[:1000]}
    finally:
        snap.close()
    with C.task_database(db) as tdb:
        C.update(tdb, key, lambda m: m.update(changes))


def _s3_base(meta: dict[str, Any]) -> str:
    prefix = (meta.get("S3Prefix") or "").strip("/")
    return prefix + "/" if prefix else ""


def _write(snap: Any, info: TableInfo, meta: dict[str, Any], export_id: str, directory: str) -> tuple[int, int]:
    base = os.path.join(directory, "AWSDynamoDB", export_id)
    data_dir = os.path.join(base, "data")
    os.makedirs(data_dir, exist_ok=True)
    open(os.path.join(base, "_started"), "wb").close()
    ion = meta["ExportFormat"] == "ION"
    ext = ".ion.gz" if ion else ".json.gz"
    files: list[dict[str, Any]] = []
    count = size = 0
    state: dict[str, Any] = {"fh": None, "n": 0, "path": None}

    def close_file() -> None:
        if state["fh"] is None:
            return
        state["fh"].close()
        raw = open(state["path"], "rb").read()
        rel = os.path.relpath(state["path"], directory).replace(os.sep, "/")
        files.append({"itemCount": state["n"], "md5Checksum": base64.b64encode(hashlib.md5(raw).digest()).decode(),
                      "etag": hashlib.md5(raw).hexdigest(), "dataFileS3Key": _s3_base(meta) + rel})
        state["fh"] = None

    def emit(line: bytes) -> None:
        if state["fh"] is None or state["n"] >= ITEMS_PER_FILE:
            close_file()
            state["path"] = os.path.join(data_dir, uuid.uuid4().hex[:26] + ext)
            state["fh"] = gzip.open(state["path"], "wb")
            state["n"] = 0
            if ion:
                state["fh"].write(b"$ion_1_0 ")
        state["fh"].write(line)
        state["n"] += 1

    inc = meta.get("IncrementalExportSpecification")
    if inc is None:
        for _, raw in pitr.state_at(snap, info, meta["ExportTime"]):
            if ion:
                emit(("{Item:" + ion_struct(orjson.loads(raw)) + "}\n").encode())
            else:
                emit(b'{"Item":' + raw + b"}\n")
            count += 1
            size += len(raw)
    else:
        new_only = inc["ExportViewType"] == "NEW_IMAGE"
        for keys, old, new, ts in pitr.changes_between(snap, info, inc["ExportFromTime"], inc["ExportToTime"]):
            if old is None and new is None:
                continue
            rec: dict[str, Any] = {"Metadata": {"WriteTimestampMicros": {"N": str(int(ts * 1_000_000))}},
                                   "Keys": orjson.loads(keys)}
            if new is not None:
                rec["NewImage"] = orjson.loads(new)
            if old is not None and not new_only:
                rec["OldImage"] = orjson.loads(old)
            if ion:
                body = ",".join(f"{k}:{ion_struct(v)}" for k, v in rec.items())
                emit(("{" + body + "}\n").encode())
            else:
                emit(orjson.dumps(rec) + b"\n")
            count += 1
            size += len(new or old or b"")
    if state["fh"] is None and not files:  # an empty table still gets one (empty) data file
        state["path"] = os.path.join(data_dir, uuid.uuid4().hex[:26] + ext)
        state["fh"] = gzip.open(state["path"], "wb")
    close_file()
    with open(os.path.join(base, "manifest-files.json"), "wb") as fh:
        for entry in files:
            fh.write(orjson.dumps(entry) + b"\n")
    return count, size


def _summary_file(meta: dict[str, Any], export_id: str, directory: str) -> None:
    base = os.path.join(directory, "AWSDynamoDB", export_id)
    summary: dict[str, Any] = {
        "version": "2020-06-30" if meta["ExportType"] == "FULL_EXPORT" else "2023-08-01",
        "exportArn": meta["ExportArn"],
        "startTime": iso(meta["StartTime"]),
        "endTime": iso(meta["EndTime"]),
        "tableArn": meta["TableArn"],
        "tableId": meta["TableId"],
        "exportTime": iso(meta["ExportTime"]),
        "s3Bucket": meta["S3Bucket"],
        "s3Prefix": meta.get("S3Prefix"),
        "s3SseAlgorithm": meta.get("S3SseAlgorithm"),
        "s3SseKmsKeyId": meta.get("S3SseKmsKeyId"),
        "manifestFilesS3Key": f"{_s3_base(meta)}AWSDynamoDB/{export_id}/manifest-files.json",
        "billedSizeBytes": meta["BilledSizeBytes"],
        "itemCount": meta["ItemCount"],
        "outputFormat": meta["ExportFormat"],
    }
    inc = meta.get("IncrementalExportSpecification")
    if inc is not None:
        summary.update({"exportType": "INCREMENTAL_EXPORT", "exportFromTime": iso(inc["ExportFromTime"]),
                        "exportToTime": iso(inc["ExportToTime"]), "outputView": inc["ExportViewType"]})
    else:
        summary["exportType"] = "FULL_EXPORT"
    with open(os.path.join(base, "manifest-summary.json"), "wb") as fh:
        fh.write(orjson.dumps(summary))
