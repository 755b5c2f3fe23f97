"""Query and Scan: range reads over the ordered key space, paged as DynamoDB pages them.

A Query is one range scan inside one partition's key prefix, never a table scan.
A Scan walks the table in partition-hash order; a parallel-scan segment is a
contiguous range of the 4-byte partition hash, so every item belongs to exactly one
segment and segments are stable across pages.
"""
from __future__ import annotations

from typing import Any, Iterator

import orjson

from dynamodbforge import capacity, errors, indexes  # capacity
from dynamodbforge.catalog import TableInfo
from dynamodbforge.database import Database
from dynamodbforge.expressions import ExpressionContext
from dynamodbforge.expressions import legacy  # KeyConditions, QueryFilter, ScanFilter, AttributesToGet
from dynamodbforge.ops.items import key_of, partition_prefix, storage_key
from dynamodbforge.protocol import attributes
from dynamodbforge.storage import keycodec
from dynamodbforge.ttl import state as ttl_state  # --ttl-hide-expired

PAGE_BYTES = 1024 * 1024  # "a maximum of 1 MB of data" per Query/Scan page
_HASH_SPACE = 1 << 32


def _start_key(info: TableInfo, req: dict[str, Any]) -> bytes | None:
    esk = req.get("ExclusiveStartKey")
    if esk is None:
        return None
    try:
        attributes.validate_key(esk, info)
    except errors.DynamoDBError as exc:
        raise errors.validation(f"The provided starting key is invalid: {exc.message}") from None
    return storage_key(info, esk)


def _page(
    db: Database,
    info: TableInfo,
    req: dict[str, Any],
    rows: Iterator[tuple[bytes, bytes]],
    ctx: ExpressionContext,
    raw_ok: bool = False,
    look_ahead: bool = False,
    fetched: Any = None,
) -> dict[str, Any] | bytes:
    """Read rows until Limit items or 1 MB were evaluated; filter, project, count.

    ``look_ahead`` (a Query of the table itself): a page that stops at its Limit on the
    range's last item has no LastEvaluatedKey, as DynamoDB answers such a Query (20 items
    read with Limit=1 take 20 pages there, not 21: ScyllaDB Alternator's
    test_query_filter_paging, run against DynamoDB).  Scans and index Queries keep the
    key, and so does a page stopped by its 1 MB.

    ``fetched`` (an LSI read whose rows are items fetched from the table, index_query._Rows):
    the page costs its index entries (``index_bytes``, rounded up once) plus a table read
    per fetched item (``fetch_units``, each rounded up on its own; dynalite's query.js,
    recorded from DynamoDB: 3 small items fetched through an LSI cost 4 units).

    Sizes: the stored JSON of an item is never shorter than its DynamoDB size
    (capacity.read_units_for_raw), so while the JSON read stays under 1 MB the page
    cannot have reached 1 MB either, and at most 4 KB of it costs the minimum.  Exact
    sizes, which mean parsing every item, are only worked out past those bounds.  An item
    is parsed at most once, and only when something needs it (a filter, a projection,
    hidden items, an answer built as a dict); with ``raw_ok`` (the caller sends the
    result as it is) the stored bytes become the response's Items verbatim, as GetItem's do.
    """
    filt, proj = _read_options(ctx, req)
    limit = req.get("Limit")
    count_only = req.get("Select") == "COUNT"
    hidden = ttl_state.hidden_predicate(db, info)  # --ttl-hide-expired
    parse = filt is not None or proj is not None or hidden is not None
    raw_out = raw_ok and not parse and not count_only and req.get("ReturnConsumedCapacity", "NONE") == "NONE"
    need_items = parse or not (raw_out or count_only)  # the item itself, not only its bytes
    kept: list[Any] = []  # the items returned: dicts, or their stored bytes (raw_out)
    read: list[Any] = []  # every item evaluated: its dict where parsed, else its stored bytes
    json_bytes = 0  # their stored length: never less than their DynamoDB size
    exact: int | None = None  # their DynamoDB size, once the stored length passes 1 MB
    last: Any = None  # the item the page stopped at (LastEvaluatedKey), as in ``read``
    for _key, raw in rows:
        item = orjson.loads(raw) if need_items else None
        if hidden is not None and hidden(item):  # as if already deleted by TTL
            continue
        entry = raw if item is None else item
        read.append(entry)
        json_bytes += len(raw)
        if exact is not None:
            exact += _size_of(entry)
        elif json_bytes >= PAGE_BYTES:
            exact = sum(map(_size_of, read))
        if filt is None or filt.evaluate(item):
            kept.append(entry if proj is None else proj.apply(item))
        if (limit is not None and len(read) >= limit) or (exact is not None and exact >= PAGE_BYTES):
            last = entry
            if look_ahead and (exact is None or exact < PAGE_BYTES) and next(rows, None) is None:
                last = None  # the range ends here: nothing left to page to
            break
    scanned = len(read)
    if last is not None:
        last = key_of(info, _as_item(last))
    # under 4 KB of stored JSON the page costs the minimum, whatever its exact size
    size = exact if exact is not None else (
        json_bytes if json_bytes <= capacity.READ_UNIT_BYTES else sum(map(_size_of, read)))
    # capacity (item sizes summed, then rounded up to 4 KB once), Query's partition key
    usage = capacity.Usage(info, capacity.READ)
    usage.returned = len(kept)
    partition = None
    if read and ("KeyConditionExpression" in req or "KeyConditions" in req):
        partition = {info.hash_key.name: _as_item(read[0])[info.hash_key.name]}
    if fetched is not None and fetched.fetch_units:
        size = fetched.index_bytes
    units = capacity.read_units(size, bool(req.get("ConsistentRead")))
    usage.add(units + fetched.fetch_units if fetched is not None else units, partition)
    if raw_out:
        capacity.record(usage)
        tail = b'],"Count":%d,"ScannedCount":%d' % (len(kept), scanned)
        if last is not None:
            tail += b',"LastEvaluatedKey":' + orjson.dumps(last)
        return b'{"Items":[' + b",".join(kept) + tail + b"}"
    out: dict[str, Any] = {}
    if not count_only:
        out["Items"] = kept
    out["Count"] = len(kept)
    out["ScannedCount"] = scanned
    if last is not None:
        out["LastEvaluatedKey"] = last
    return capacity.attach(out, req, usage)


def _as_item(entry: Any) -> dict[str, Any]:
    """An item read by _page: kept as its dict where it was parsed, else as its stored bytes."""
    return entry if type(entry) is dict else orjson.loads(entry)


def _size_of(entry: Any) -> int:
    return attributes.item_size(_as_item(entry))


def _read_options(ctx: ExpressionContext, req: dict[str, Any]) -> tuple[Any, Any]:
    """the filter and projection of a Query/Scan, from expressions or legacy parameters."""
    cached = req.get("_compiled_read_options")
    if cached is not None:
        return cached
    if "FilterExpression" in req:
        filt = ctx.condition(req["FilterExpression"], param="FilterExpression")
    else:
        legacy_filter = req.get("QueryFilter") or req.get("ScanFilter")
        filt = legacy.filter_conditions(legacy_filter, req.get("ConditionalOperator")) if legacy_filter else None
    if "ProjectionExpression" in req:
        proj = ctx.projection(req["ProjectionExpression"])
    elif "AttributesToGet" in req:
        proj = legacy.attributes_to_get(req["AttributesToGet"])
    else:
        proj = None
    ctx.check_unused()
    req["_compiled_read_options"] = (filt, proj)
    return filt, proj


def _key_condition(ctx: ExpressionContext, info: TableInfo, req: dict[str, Any]) -> Any:
    """the KeyCondition of a Query, from KeyConditionExpression or legacy KeyConditions."""
    key_types = {info.hash_key.name: info.hash_key.type}
    range_name = info.range_key.name if info.range_key else None
    if info.range_key is not None:
        key_types[info.range_key.name] = info.range_key.type
    if "KeyConditionExpression" in req:
        return ctx.key_condition(req["KeyConditionExpression"], info.hash_key.name, range_name, key_types)
    if "KeyConditions" in req:
        return legacy.key_conditions(req["KeyConditions"], info.hash_key.name, range_name, key_types)
    raise errors.validation("Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.")


def _check_start_shape(info: TableInfo, req: dict[str, Any]) -> None:
    """A Query's ExclusiveStartKey must hold exactly the table's key attributes; AWS checks
    their number and presence before the key conditions (dynalite's query.js, recorded from
    DynamoDB).  Their types are _check_query_start's, worded as nubo-db captured (2026)."""
    esk = req.get("ExclusiveStartKey")
    if esk is None:
        return
    if len(esk) != len(info.key_names) or any(name not in esk for name in info.key_names):
        raise errors.validation("The provided starting key is invalid")


def _check_query_start(info: TableInfo, req: dict[str, Any], keyc: Any) -> None:
    """AWS's checks of a Query's ExclusiveStartKey against its key condition."""
    esk = req.get("ExclusiveStartKey")
    if esk is None:
        return
    try:
        attributes.validate_key(esk, info)
    except errors.DynamoDBError as exc:
        if exc.message == attributes.MSG_NOT_SCHEMA:  # Query says just this (nubo-db, 2026-10-09); Scan says why
            raise errors.validation("The provided starting key is invalid") from None
        raise errors.validation(f"The provided starting key is invalid: {exc.message}") from None
    from dynamodbforge.expressions import comparisons as C

    same_partition = C.equal(esk[info.hash_key.name], keyc.hash_value)
    if keyc.range_op is None:
        if not same_partition:
            raise errors.validation("The provided starting key is outside query boundaries based on provided conditions")
        return
    if not keyc.range_matches(esk.get(keyc.range_key)):
        raise errors.validation("The provided starting key does not match the range key predicate")
    if not same_partition:
        raise errors.validation("The query can return at most one row and cannot be restarted")


def check_key_paths(ctx: ExpressionContext, info: TableInfo, req: dict[str, Any], param: str) -> None:
    """A Query's or Scan's projection or filter may not reach into a key attribute of the
    table or of its indexes (indexes.check_scalar_key_paths)."""
    text = req.get(param)
    if text is None or ("." not in text and "[" not in text):  # no path reaches into anything
        return
    heads = (indexes.nested_heads(ctx.projection(text).paths) if param == "ProjectionExpression"
             else ctx.condition_heads(text, nested=True))
    indexes.check_scalar_key_paths(info, heads)


def _check_query_filter(ctx: ExpressionContext, info: TableInfo, req: dict[str, Any]) -> None:
    """a Query's filter may not test key attributes."""
    if "FilterExpression" in req:
        heads, what = ctx.condition_heads(req["FilterExpression"]), "Filter Expression"
    elif req.get("QueryFilter"):
        heads, what = set(req["QueryFilter"]), "QueryFilter"
    else:
        return
    for name in info.key_names:
        if name in heads:
            raise errors.validation(
                f"{what} can only contain non-primary key attributes: Primary key attribute: {name}"
            )


def query(db: Database, req: dict[str, Any]) -> dict[str, Any] | bytes:
    ctx = ExpressionContext(req.get("ExpressionAttributeNames"), req.get("ExpressionAttributeValues"))
    # Before the table is looked up, in DynamoDB's order (dynalite's query.js): each expression's
    # own errors (empty, syntax, operands), the key condition's first, then the filter's and the
    # projection's; then the key condition's rules that need no key schema.
    if "KeyConditionExpression" in req:
        ctx.check_key_condition(req["KeyConditionExpression"])
    _read_options(ctx, req)
    if "KeyConditionExpression" in req:
        ctx.check_key_condition_rules(req["KeyConditionExpression"])
    info = db.catalog.get(req["TableName"])
    if "IndexName" in req or req.get("Select") == "ALL_PROJECTED_ATTRIBUTES":  # index reads
        return _index_read("query", db, info, req, ctx)
    # start key's shape, key condition (expression or legacy), filter and projection, start key
    _check_start_shape(info, req)
    keyc = _key_condition(ctx, info, req)
    _check_query_start(info, req, keyc)
    check_key_paths(ctx, info, req, "ProjectionExpression")
    _check_query_filter(ctx, info, req)
    check_key_paths(ctx, info, req, "FilterExpression")
    prefix = partition_prefix(info, keyc.hash_value)
    start, end = prefix, keycodec.prefix_successor(prefix)
    if keyc.range_op is not None:
        assert info.range_key is not None
        start, end = _range_bounds(prefix, info.range_key.type, keyc.range_op, keyc.range_values, start, end)
    forward = req.get("ScanIndexForward", True)
    esk = _start_key(info, req)
    if esk is not None:
        if forward:
            start = max(start, esk + b"\x00")
        else:
            end = esk if end is None else min(end, esk)
    return _read_page(db, info, req, ctx, start, end, reverse=not forward, look_ahead=True)


def _read_page(
    db: Database, info: TableInfo, req: dict[str, Any], ctx: ExpressionContext,
    start: bytes, end: bytes | None, *, reverse: bool = False, look_ahead: bool = False,
) -> dict[str, Any] | bytes:
    """One page from one snapshot of the key range [start, end)."""
    if end is not None and start >= end:
        return _page(db, info, req, iter(()), ctx, raw_ok=True)
    with db.engine.read() as reader:
        return _page(db, info, req, reader.scan(start, end, reverse=reverse), ctx, raw_ok=True,
                     look_ahead=look_ahead)


def _range_bounds(
    prefix: bytes, type_name: str, op: str, values: list[dict[str, Any]], start: bytes, end: bytes | None
) -> tuple[bytes, bytes | None]:
    def enc(av: dict[str, Any]) -> bytes:
        return prefix + keycodec.encode(type_name, av[type_name])

    if op == "=":
        k = enc(values[0])
        return k, keycodec.prefix_successor(k)
    if op == "<":
        return start, enc(values[0])
    if op == "<=":
        return start, keycodec.prefix_successor(enc(values[0]))
    if op == ">":
        return keycodec.prefix_successor(enc(values[0])) or start, end
    if op == ">=":
        return enc(values[0]), end
    if op == "BETWEEN":
        return enc(values[0]), keycodec.prefix_successor(enc(values[1]))
    if op == "begins_with":
        raw = values[0][type_name]
        body = raw.encode("utf-8") if type_name == "S" else keycodec.encode_binary_b64(raw)[:-2]
        if type_name == "S":
            body = body.replace(b"\x00", b"\x00\xff")
        p = prefix + body
        return p, keycodec.prefix_successor(p)
    raise errors.validation("Query key condition not supported")


def scan(db: Database, req: dict[str, Any]) -> dict[str, Any] | bytes:
    ctx = ExpressionContext(req.get("ExpressionAttributeNames"), req.get("ExpressionAttributeValues"))
    _read_options(ctx, req)  # the expressions' errors come before a missing table (dynalite's scan.js)
    info = db.catalog.get(req["TableName"])
    if "IndexName" in req or req.get("Select") == "ALL_PROJECTED_ATTRIBUTES":  # index reads
        return _index_read("scan", db, info, req, ctx)
    start, end = info.item_prefix, keycodec.prefix_successor(info.item_prefix)
    total = req.get("TotalSegments")
    if total is not None:
        segment = req["Segment"]
        lo = (segment * _HASH_SPACE + total - 1) // total
        hi = ((segment + 1) * _HASH_SPACE + total - 1) // total
        start = info.item_prefix + lo.to_bytes(4, "big")
        if hi < _HASH_SPACE:
            end = info.item_prefix + hi.to_bytes(4, "big")
    esk = _start_key(info, req)
    if esk is not None:
        if total is not None and not (start <= esk and (end is None or esk < end)):
            raise errors.validation(
                "The provided starting key is invalid: Invalid ExclusiveStartKey. Please use ExclusiveStartKey "
                f"with correct Segment. TotalSegments: {total} Segment: {req['Segment']}"
            )
        start = max(start, esk + b"\x00")
    check_key_paths(ctx, info, req, "ProjectionExpression")
    check_key_paths(ctx, info, req, "FilterExpression")
    return _read_page(db, info, req, ctx, start, end)


def _index_read(kind: str, db: Database, info: TableInfo, req: dict[str, Any], ctx: ExpressionContext) -> dict[str, Any]:
    """Query/Scan with IndexName (ops/index_query.py)."""
    from dynamodbforge.ops import index_query

    index_query.check_select(req)
    return index_query.query(db, info, req, ctx) if kind == "query" else index_query.scan(db, info, req, ctx)
