"""Around every DynamoDB operation: throttling, CloudWatch-style metrics, Contributor Insights.

``Service`` calls ``run`` for each validated request of the DynamoDB API, and ``error``
for requests refused before they reached an operation.  The hot path is a few dict
increments per request (no locks: operations run on the worker's event-loop thread).

Metrics (rendered at ``GET /metrics``), named after DynamoDB's CloudWatch metrics:

====================================================  ==========================
ddbforge_consumed_read_capacity_units_total            ConsumedReadCapacityUnits
ddbforge_consumed_write_capacity_units_total           ConsumedWriteCapacityUnits
ddbforge_index_consumed_{read,write}_capacity_units_total   (GlobalSecondaryIndexName)
ddbforge_throttled_requests_total                      ThrottledRequests
ddbforge_{read,write}_throttle_events_total            Read/WriteThrottleEvents
ddbforge_successful_request_latency_seconds            SuccessfulRequestLatency
ddbforge_returned_item_count_total                     ReturnedItemCount
ddbforge_user_errors_total                             UserErrors
ddbforge_system_errors_total                           SystemErrors
ddbforge_conditional_check_failed_requests_total       ConditionalCheckFailedRequests
ddbforge_transaction_conflict_total                    TransactionConflict
ddbforge_item_count / ddbforge_table_size_bytes         ItemCount / TableSizeBytes
====================================================  ==========================

UserErrors counts HTTP 400 answers other than throttling, conditional-check failures and
transaction conflicts (those have their own metrics).  Values are per worker process.
"""
from __future__ import annotations

from time import perf_counter
from typing import Any, Callable

from dynamodbforge import capacity, errors
from dynamodbforge.capacity import READ, WRITE
from dynamodbforge.insights import TRACKER
from dynamodbforge.metrics import REGISTRY
from dynamodbforge.throttling import Throttler

# Set by ``ddbforge serve --enforce-capacity`` (None: never throttle).
THROTTLER: Throttler | None = None

_TO = ("table", "operation")
CONSUMED_READ = REGISTRY.fast_counter(
    "ddbforge_consumed_read_capacity_units_total", "Read capacity units consumed (ConsumedReadCapacityUnits)", _TO)
CONSUMED_WRITE = REGISTRY.fast_counter(
    "ddbforge_consumed_write_capacity_units_total", "Write capacity units consumed (ConsumedWriteCapacityUnits)", _TO)
INDEX_READ = REGISTRY.fast_counter(
    "ddbforge_index_consumed_read_capacity_units_total", "Read capacity units consumed by secondary indexes",
    ("table", "index"))
INDEX_WRITE = REGISTRY.fast_counter(
    "ddbforge_index_consumed_write_capacity_units_total", "Write capacity units consumed by secondary indexes",
    ("table", "index"))
THROTTLED = REGISTRY.fast_counter(
    "ddbforge_throttled_requests_total", "Requests refused for exceeding throughput (ThrottledRequests)", _TO)
READ_THROTTLES = REGISTRY.fast_counter(
    "ddbforge_read_throttle_events_total", "Throttled reads (ReadThrottleEvents)", ("table",))
WRITE_THROTTLES = REGISTRY.fast_counter(
    "ddbforge_write_throttle_events_total", "Throttled writes (WriteThrottleEvents)", ("table",))
LATENCY = REGISTRY.histogram(
    "ddbforge_successful_request_latency_seconds", "Time to execute successful requests (SuccessfulRequestLatency)",
    _TO)
RETURNED = REGISTRY.fast_counter(
    "ddbforge_returned_item_count_total", "Items returned by Query and Scan (ReturnedItemCount)", _TO)
USER_ERRORS = REGISTRY.fast_counter(
    "ddbforge_user_errors_total", "Requests answered with an HTTP 400 client error (UserErrors)", ("operation",))
SYSTEM_ERRORS = REGISTRY.fast_counter(
    "ddbforge_system_errors_total", "Requests answered with an HTTP 500 error (SystemErrors)", ("operation",))
CONDITIONAL_FAILED = REGISTRY.fast_counter(
    "ddbforge_conditional_check_failed_requests_total",
    "Conditional writes whose condition was false (ConditionalCheckFailedRequests)", ("table",))
TRANSACTION_CONFLICT = REGISTRY.fast_counter(
    "ddbforge_transaction_conflict_total", "Item requests rejected by a transaction conflict (TransactionConflict)",
    ("table",))

_THROTTLE_TYPES = frozenset({"ProvisionedThroughputExceededException", "ThrottlingException",
                             "RequestLimitExceeded"})
_QUERY_SCAN = frozenset({"Query", "Scan"})
_WRITE_OPS = {"PutItem": "Item", "UpdateItem": "Key", "DeleteItem": "Key"}


def install_table_gauges(db: Any) -> None:
    """ItemCount and TableSizeBytes per table, read from the catalog when scraped."""
    def collect(index: int) -> Callable[[], list[tuple[dict[str, str], float]]]:
        def samples() -> list[tuple[dict[str, str], float]]:
            out = []
            with db.engine.read() as reader:
                for name in db.catalog.names(reader, None):
                    info = db.catalog.find(name, reader)
                    if info is not None:
                        out.append(({"table": name}, float(db.catalog.stats(reader, info)[index])))
            return out
        return samples

    REGISTRY.gauge("ddbforge_item_count", "Items in the table (ItemCount)", collect(0))
    REGISTRY.gauge("ddbforge_table_size_bytes", "Size of the table's items in bytes (TableSizeBytes)", collect(1))


def _partition(info: Any, key: dict[str, Any]) -> str:
    value = key.get(info.hash_key.name)
    return value.get(info.hash_key.type, "") if isinstance(value, dict) else ""


def _partition_or_none(info: Any, key: dict[str, Any] | None) -> str | None:
    if not key:
        return None
    value = key.get(info.hash_key.name)
    return value.get(info.hash_key.type) if isinstance(value, dict) else None


# --- admission (--enforce-capacity) ----------------------------------------------------

def _throttled(db: Any, op: str, info: Any, kind: str, key: dict[str, Any] | None) -> None:
    THROTTLED.inc_key((info.name, op))
    (READ_THROTTLES if kind == READ else WRITE_THROTTLES).inc_key((info.name,))
    TRACKER.throttled(db, info, key)


def _check(db: Any, throttler: Throttler, op: str, table: str, kind: str,
           key: dict[str, Any] | None) -> errors.DynamoDBError | None:
    info = db.catalog.find(table)
    if info is None:
        return None  # the operation answers ResourceNotFoundException
    err = throttler.check(info, kind, _partition_or_none(info, key))
    if err is not None:
        _throttled(db, op, info, kind, key)
        err.counted = True  # type: ignore[attr-defined]
    return err


def _admit(db: Any, throttler: Throttler, op: str, req: dict[str, Any]) -> Callable[[Any], None] | None:
    """Raise the throttling error of a request over its limits; for batches, set throttled
    entries aside and return a function that adds them to the answer's Unprocessed*."""
    if op in _WRITE_OPS or op == "GetItem":
        kind = READ if op == "GetItem" else WRITE
        err = _check(db, throttler, op, req["TableName"], kind, req.get(_WRITE_OPS.get(op, "Key")))
        if err is not None:
            raise err
        return None
    if op in _QUERY_SCAN:
        err = _check(db, throttler, op, req["TableName"], READ, None)
        if err is not None:
            raise err
        return None
    if op in ("TransactWriteItems", "TransactGetItems"):
        reasons, failed = [], None
        for entry in req["TransactItems"]:
            kind_name, spec = next(iter(entry.items()))
            key = spec.get("Item") if kind_name == "Put" else spec.get("Key")
            err = _check(db, throttler, op, spec["TableName"], READ if kind_name == "Get" else WRITE, key)
            if err is not None:
                failed = failed or err
                reasons.append({"Code": "ThrottlingError", "Message": err.message})
            else:
                reasons.append({"Code": "None"})
        if failed is not None:
            codes = ", ".join(r["Code"] for r in reasons)
            cancelled = errors.DynamoDBError(
                "TransactionCanceledException",
                f"Transaction cancelled, please refer cancellation reasons for specific reasons [{codes}]",
                extra={"CancellationReasons": reasons}, message_key="Message")
            cancelled.counted = True  # type: ignore[attr-defined]
            raise cancelled
        return None
    if op == "BatchWriteItem":
        return _admit_batch(db, throttler, op, req, WRITE)
    if op == "BatchGetItem":
        return _admit_batch(db, throttler, op, req, READ)
    return None


def _admit_batch(db: Any, throttler: Throttler, op: str, req: dict[str, Any],
                 kind: str) -> Callable[[Any], None] | None:
    request_items = req["RequestItems"]
    kept: dict[str, Any] = {}
    held: dict[str, Any] = {}
    first = None
    for table, spec in request_items.items():
        entries = spec if kind == WRITE else spec["Keys"]
        keep, hold = [], []
        for entry in entries:
            key = entry if kind == READ else (
                entry["PutRequest"]["Item"] if "PutRequest" in entry else entry["DeleteRequest"]["Key"])
            err = _check(db, throttler, op, table, kind, key)
            if err is None:
                keep.append(entry)
            else:
                first = first or err
                hold.append(entry)
        if keep:
            kept[table] = keep if kind == WRITE else {**spec, "Keys": keep}
        if hold:
            held[table] = hold if kind == WRITE else {**spec, "Keys": hold}
    if not held:
        return None
    if not kept:  # nothing could be processed: the request itself is throttled
        assert first is not None
        raise first
    req["RequestItems"] = kept
    field = "UnprocessedItems" if kind == WRITE else "UnprocessedKeys"

    def merge(result: Any) -> None:
        unprocessed = result.setdefault(field, {})
        for table, value in held.items():
            if kind == WRITE:
                unprocessed.setdefault(table, []).extend(value)
            elif table in unprocessed:
                unprocessed[table]["Keys"].extend(value["Keys"])
            else:
                unprocessed[table] = value
    return merge


# --- the request path ----------------------------------------------------------------

def run(db: Any, op: str, operation: Callable[[Any, dict[str, Any]], Any], req: dict[str, Any]) -> Any:
    throttler = THROTTLER
    merge = _admit(db, throttler, op, req) if throttler is not None else None
    meter = capacity.begin()
    start = perf_counter()
    try:
        result = operation(db, req)
    except errors.DynamoDBError as exc:
        _count_error(op, req, exc)
        raise
    finally:
        capacity.end()
    elapsed = perf_counter() - start
    usages = meter.usages
    if throttler is not None and op == "Query":  # a Query's partition is known once it ran (reads: no effects)
        for usage in usages:
            for key, _units in usage.keys:
                err = throttler.check(usage.info, READ, _partition(usage.info, key))
                if err is not None:
                    _throttled(db, op, usage.info, READ, key)
                    err.counted = True  # type: ignore[attr-defined]
                    raise err
    if merge is not None:
        merge(result)
    if not usages:
        LATENCY.observe_key((req.get("TableName", ""), op), elapsed)
        return result
    seen = None
    for usage in usages:
        info = usage.info
        key = (info.name, op)
        if usage.kind == READ:
            CONSUMED_READ.inc_key(key, usage.table_units)
            indexes = INDEX_READ
        else:
            CONSUMED_WRITE.inc_key(key, usage.table_units)
            indexes = INDEX_WRITE
        if usage.gsi:
            for name, units in usage.gsi.items():
                indexes.inc_key((info.name, name), units)
        if usage.lsi:
            for name, units in usage.lsi.items():
                indexes.inc_key((info.name, name), units)
        if op in _QUERY_SCAN:
            RETURNED.inc_key(key, usage.returned)
        if seen is None or info.name not in seen:
            LATENCY.observe_key(key, elapsed)
            seen = seen or set()
            seen.add(info.name)
        if usage.keys:
            TRACKER.accessed(db, usage)
        if throttler is not None:
            throttler.charge(usage, _partition)
    return result


def _table_of(req: dict[str, Any]) -> str:
    return req.get("TableName", "") if isinstance(req, dict) else ""


def _count_error(op: str, req: dict[str, Any], exc: errors.DynamoDBError) -> None:
    exc.counted = True  # type: ignore[attr-defined]
    name = exc.type_name
    if name in _THROTTLE_TYPES:
        return  # counted when refused
    if name == "ConditionalCheckFailedException":
        CONDITIONAL_FAILED.inc_key((_table_of(req),))
    elif name == "TransactionConflictException":
        TRANSACTION_CONFLICT.inc_key((_table_of(req),))
    elif exc.status >= 500:
        SYSTEM_ERRORS.inc_key((op,))
    else:
        USER_ERRORS.inc_key((op,))


def error(target: str | None, exc: errors.DynamoDBError | None) -> None:
    """An error answered outside ``run`` (bad request, unknown operation, bug)."""
    if exc is not None and getattr(exc, "counted", False):
        return
    op = target.rpartition(".")[2] if target else ""
    if exc is None or exc.status >= 500:
        SYSTEM_ERRORS.inc_key((op,))
    else:
        USER_ERRORS.inc_key((op,))
