"""Query and Scan with IndexName: range reads over an index's entries.

Entries (indexes.py) are ordered by index partition hash, index partition key, index sort
key, then the table's key, so a Query is one range scan inside one index partition and a
Scan (or a parallel-scan segment: a range of the 4-byte hash) walks the index in order.
The page itself (Limit, 1 MB, filter, projection, COUNT, TTL hiding, capacity) is the
table's ``ops.query._page``; this module only chooses the range, the rows it reads and
the LastEvaluatedKey (index keys + table keys of the last entry evaluated).

Reading attributes an index does not project: on an LSI the item is fetched from the table
(in the same read snapshot; the table charges each fetched item, see _page); on a GSI ``Select=ALL_ATTRIBUTES``
is rejected unless it projects ALL, and a projection simply finds non-projected attributes
missing.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

import orjson

from dynamodbforge import capacity, errors, indexes
from dynamodbforge.catalog import KeyAttr, TableInfo
from dynamodbforge.database import Database
from dynamodbforge.expressions import ExpressionContext
from dynamodbforge.indexes import CREATING, DELETING, GSI, IndexDef
from dynamodbforge.ops import query as Q
from dynamodbforge.protocol import attributes
from dynamodbforge.storage import keycodec



@dataclass(slots=True)
class _Keys:
    """An index's own key schema, shaped like a TableInfo for the shared Query helpers."""

    hash_key: KeyAttr
    range_key: KeyAttr | None

    @property
    def key_names(self) -> tuple[str, ...]:
        return (self.hash_key.name,) if self.range_key is None else (self.hash_key.name, self.range_key.name)


def check_select(req: dict[str, Any]) -> None:
    """Select=ALL_PROJECTED_ATTRIBUTES needs an IndexName."""
    if req.get("Select") == "ALL_PROJECTED_ATTRIBUTES" and "IndexName" not in req:
        raise errors.validation("ALL_PROJECTED_ATTRIBUTES can be used only when Querying using an IndexName")


def resolve(info: TableInfo, req: dict[str, Any]) -> IndexDef:
    """The index a read names.  Whether it can answer Select=ALL_ATTRIBUTES is _check_select's,
    which Query and Scan ask after the start key (dynalite's query.js and scan.js)."""
    name = req["IndexName"]
    ix = indexes.table_indexes(info).by_name.get(name)
    if ix is None or ix.status == DELETING:
        raise errors.validation(f"The table does not have the specified index: {name}")
    if ix.kind == GSI:
        if req.get("ConsistentRead"):
            raise errors.validation("Consistent reads are not supported on global secondary indexes")
        if ix.status == CREATING:
            raise errors.validation(f"Cannot read from backfilling global secondary index: {name}")
    return ix


def _check_select(ix: IndexDef, req: dict[str, Any]) -> None:
    """A global index answers ALL_ATTRIBUTES only when it projects them all."""
    if ix.kind == GSI and req.get("Select") == "ALL_ATTRIBUTES" and ix.projection != "ALL":
        raise errors.validation(
            f"{indexes.INVALID}Select type ALL_ATTRIBUTES is not supported for global secondary index {ix.name} "
            "because its projection type is not ALL"
        )


def _needs_fetch(ctx: ExpressionContext, ix: IndexDef, req: dict[str, Any]) -> bool:
    """LSI only: whether the request reads attributes the index does not project."""
    if ix.kind == GSI or ix.projected is None:
        return False
    select = req.get("Select")
    if select == "ALL_ATTRIBUTES":
        return True
    wanted: set[str] = set()
    if select not in ("ALL_PROJECTED_ATTRIBUTES", "COUNT"):
        _filt, proj = Q._read_options(ctx, req)
        if proj is not None:
            wanted |= set(getattr(proj, "top_level_names", None) or req.get("AttributesToGet") or ())
    if "FilterExpression" in req:
        wanted |= ctx.condition_heads(req["FilterExpression"])
    elif req.get("QueryFilter") or req.get("ScanFilter"):
        wanted |= set(req.get("QueryFilter") or req.get("ScanFilter"))
    return not wanted <= ix.projected


class _Rows:
    """The rows ``_page`` reads, remembering the last one (for LastEvaluatedKey)."""

    def __init__(self, db: Database, info: TableInfo, reader: Any, rows: Iterator[tuple[bytes, bytes]],
                 fetch: bool, consistent: bool = False) -> None:
        self.db, self.info, self.reader, self.rows, self.fetch = db, info, reader, rows, fetch
        self.consistent = consistent
        self.last_raw: bytes | None = None
        self.index_bytes = 0  # fetching: the index entries read
        self.fetch_units = 0.0  # and the table reads, each item rounded up on its own

    def __iter__(self) -> Iterator[tuple[bytes, bytes]]:
        from dynamodbforge.ops.items import storage_key

        for key, raw in self.rows:
            self.last_raw = raw
            if self.fetch:
                entry = orjson.loads(raw)
                self.index_bytes += attributes.item_size(entry)
                base = self.reader.get(storage_key(self.info, entry))
                if base is not None:
                    self.fetch_units += capacity.read_units(attributes.item_size(orjson.loads(base)), self.consistent)
                    raw = base
                    self.last_raw = raw
            yield key, raw


def _page(db: Database, info: TableInfo, ix: IndexDef, req: dict[str, Any], ctx: ExpressionContext,
          start: bytes, end: bytes | None, reverse: bool = False) -> dict[str, Any]:
    fetch = _needs_fetch(ctx, ix, req)
    with db.engine.read() as reader:
        rows = _Rows(db, info, reader, iter(()) if end is not None and start >= end
                     else reader.scan(start, end, reverse=reverse), fetch, bool(req.get("ConsistentRead")))
        out = Q._page(db, info, req, iter(rows), ctx, fetched=rows if fetch else None)
    if "LastEvaluatedKey" in out and rows.last_raw is not None:
        last = orjson.loads(rows.last_raw)
        out["LastEvaluatedKey"] = {n: last[n] for n in ix.key_names if n in last}
    _index_capacity(out, req, ix, rows.fetch_units)
    return out


def _index_capacity(out: dict[str, Any], req: dict[str, Any], ix: IndexDef, table_units: float = 0.0) -> None:
    """In INDEXES mode, the units of an index read belong to the index, and those of the
    items an LSI read fetched to the table."""
    cap = out.get("ConsumedCapacity")
    if cap is None or req.get("ReturnConsumedCapacity") != "INDEXES":
        return
    units = cap.get("CapacityUnits", 0.0)
    field = "GlobalSecondaryIndexes" if ix.kind == GSI else "LocalSecondaryIndexes"
    cap["Table"] = {"CapacityUnits": table_units}
    cap[field] = {ix.name: {"CapacityUnits": units - table_units}}


def query(db: Database, info: TableInfo, req: dict[str, Any], ctx: ExpressionContext) -> dict[str, Any]:
    ix = resolve(info, req)
    keys = _Keys(ix.hash_key, ix.range_key)
    esk = req.get("ExclusiveStartKey")
    if esk is not None:  # its shape before the key conditions, as AWS checks them
        _check_start(info, ix, esk)
    keyc = Q._key_condition(ctx, keys, req)  # type: ignore[arg-type]
    if esk is not None:
        Q._check_query_start(keys, {"ExclusiveStartKey": _index_part(ix, esk)}, keyc)  # type: ignore[arg-type]
    Q.check_key_paths(ctx, info, req, "ProjectionExpression")
    Q._check_query_filter(ctx, keys, req)  # type: ignore[arg-type]
    _check_select(ix, req)
    Q.check_key_paths(ctx, info, req, "FilterExpression")
    prefix = ix.partition_prefix(keyc.hash_value)
    start, end = prefix, keycodec.prefix_successor(prefix)
    if keyc.range_op is not None:
        assert ix.range_key is not None
        start, end = Q._range_bounds(prefix, ix.range_key.type, keyc.range_op, keyc.range_values, start, end)
    forward = req.get("ScanIndexForward", True)
    if esk is not None:
        skey = ix.start_key(info, esk)
        if forward:
            start = max(start, skey + b"\x00")
        else:
            end = skey if end is None else min(end, skey)
    return _page(db, info, ix, req, ctx, start, end, reverse=not forward)


def _index_part(ix: IndexDef, esk: dict[str, Any]) -> dict[str, Any]:
    names = (ix.hash_key.name,) + ((ix.range_key.name,) if ix.range_key else ())
    return {n: esk[n] for n in names}


def _check_start(info: TableInfo, ix: IndexDef, esk: dict[str, Any], table_part: bool = True) -> None:
    """An index ExclusiveStartKey holds exactly the index keys and the table keys, well typed,
    checked as DynamoDB does (dynalite's query.js and scan.js, recorded from DynamoDB): the
    number of attributes, then the index's keys, then the table's."""
    if len(esk) != len(ix.key_names):
        raise errors.validation("The provided starting key is invalid")
    for attr in (ix.hash_key, ix.range_key):  # the index's own keys first, in these words
        if attr is not None:
            av = esk.get(attr.name)
            if av is None:
                raise errors.validation("The provided starting key is invalid")
            if len(av) != 1 or attr.type not in av:
                raise errors.validation(attributes.MSG_NOT_SCHEMA)
    if table_part:
        _check_start_table_part(info, esk)


def _check_start_table_part(info: TableInfo, esk: dict[str, Any]) -> None:
    """The table's keys among an index ExclusiveStartKey's attributes."""
    try:
        attributes.validate_key({n: esk[n] for n in info.key_names if n in esk}, info)
    except errors.DynamoDBError as exc:
        raise errors.validation(f"The provided starting key is invalid: {exc.message}") from None


def scan(db: Database, info: TableInfo, req: dict[str, Any], ctx: ExpressionContext) -> dict[str, Any]:
    ix = resolve(info, req)
    start, end = ix.prefix, keycodec.prefix_successor(ix.prefix)
    total = req.get("TotalSegments")
    if total is not None:
        segment = req["Segment"]
        lo = (segment * Q._HASH_SPACE + total - 1) // total
        hi = ((segment + 1) * Q._HASH_SPACE + total - 1) // total
        start = ix.prefix + lo.to_bytes(4, "big")
        if hi < Q._HASH_SPACE:
            end = ix.prefix + hi.to_bytes(4, "big")
    esk = req.get("ExclusiveStartKey")
    if esk is not None:  # Scan's order (dynalite's scan.js): the index's keys, Select, the table's
        _check_start(info, ix, esk, table_part=False)
    _check_select(ix, req)
    if esk is not None:
        _check_start_table_part(info, esk)
        skey = ix.start_key(info, esk)
        if total is not None and not (start <= skey and (end is None or skey < end)):
            raise errors.validation(
                "The provided starting key is invalid: Invalid ExclusiveStartKey. Please use ExclusiveStartKey "
                f"with correct Segment. TotalSegments: {total} Segment: {req['Segment']}"
            )
        start = max(start, skey + b"\x00")
    Q.check_key_paths(ctx, info, req, "ProjectionExpression")
    Q.check_key_paths(ctx, info, req, "FilterExpression")
    return _page(db, info, ix, req, ctx, start, end)
