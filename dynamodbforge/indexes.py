"""Secondary indexes: definitions, entry encoding, atomic maintenance, describing.

Storage layout (all keyed by the table's internal uid, so dropping a table drops them):

* ``INDEX_PREFIX + uid(8) + number(2) + entry key`` -> projected item (orjson).  The entry
  key is ``crc32(index pk)(4) + enc(index pk) + [enc(index sk)] + enc(table pk) + [enc(table sk)]``
  with the order-preserving, prefix-free encodings of storage/keycodec.py: entries are laid
  out in index-partition-hash order (so a parallel index scan splits the 4-byte hash like a
  table scan), inside a partition by index sort key, and ties (GSI keys need not be unique)
  by the table's primary key, so paging through ties is stable.
* ``INDEX_STATS_PREFIX + uid + number`` -> (ItemCount, IndexSizeBytes) of the index.
* ``COLLECTION_PREFIX + uid + enc(table pk)`` -> item-collection size in bytes (tables with
  LSIs only): the items of one partition key plus their LSI entries.
* ``JOB_PREFIX + uid + number`` -> a background job of the index (backfill or drop), see
  ops/backfill.py.

An index's number is allocated once (``_NextIndexNumber`` in the table description) and
never reused, so a dropped index whose entries are still being deleted can never mix with
a new index of the same name.

Maintenance: ``maintain`` is called by ``ops.items.write_in_batch`` for every item write,
inside the write batch that writes the item and its change record, so an index entry
commits atomically with its base item.  For each index it deletes the old entry (if the
old item had the index key) and puts the new one (if the new item has it).  Items without
the index key attributes are absent from the index (sparse indexes).  A write whose new
item carries an index key attribute of the wrong type, or an empty string/binary value,
is rejected with AWS's ValidationException (the batch is rolled back).

The table description is re-read inside the write batch (a cached point read): a write
prepared before an index was created, or before it started DELETING, still maintains
exactly the indexes that exist when it commits.  See ops/backfill.py for why writes to
items the backfill has not reached yet leave the index alone.
"""
from __future__ import annotations

import os
import struct
import zlib
from dataclasses import dataclass, field
from typing import Any

import orjson

from dynamodbforge import errors
from dynamodbforge.capacity import write_units
from dynamodbforge.catalog import COLLECTION_PREFIX, INDEX_PREFIX, INDEX_STATS_PREFIX, JOB_PREFIX, KeyAttr, TableInfo, key_attrs
from dynamodbforge.protocol import attributes
from dynamodbforge.storage import keycodec

INVALID = attributes.INVALID
LSI, GSI = "LSI", "GSI"
ACTIVE, CREATING, DELETING = "ACTIVE", "CREATING", "DELETING"

MAX_LSIS = 5
MAX_GSIS = 20
MAX_PROJECTED_ATTRIBUTES = 100  # NonKeyAttributes over all of a table's indexes

# "The maximum size of any item collection is 10 GB" (tables with LSIs).  Overridable for
# tests (nobody wants to write 10 GB in CI).
ITEM_COLLECTION_LIMIT = int(os.environ.get("DDBFORGE_ITEM_COLLECTION_LIMIT_BYTES", str(10 * 1024 ** 3)))

_STATS = struct.Struct(">qq")
_COLL = struct.Struct(">q")
_GB = 1024 ** 3


@dataclass(slots=True)
class IndexDef:
    name: str
    number: int
    kind: str  # LSI or GSI
    hash_key: KeyAttr
    range_key: KeyAttr | None
    projection: str  # ALL, KEYS_ONLY or INCLUDE
    non_key: tuple[str, ...]
    status: str  # ACTIVE, CREATING (backfilling) or DELETING
    table_keys: tuple[str, ...]
    prefix: bytes = b""
    stats_key: bytes = b""
    job_key: bytes = b""
    key_names: tuple[str, ...] = ()  # index keys then table keys, no duplicates (LastEvaluatedKey)
    projected: frozenset[str] | None = None  # None: ALL
    uid_bytes: bytes = b""  # the table's uid, 8 bytes

    def __post_init__(self) -> None:
        self.prefix = index_prefix(self.uid_bytes, self.number)
        self.stats_key = INDEX_STATS_PREFIX + self.uid_bytes + self.number.to_bytes(2, "big")
        self.job_key = JOB_PREFIX + self.uid_bytes + self.number.to_bytes(2, "big")
        names = [self.hash_key.name] + ([self.range_key.name] if self.range_key else [])
        names += [n for n in self.table_keys if n not in names]
        self.key_names = tuple(names)
        if self.projection != "ALL":
            self.projected = frozenset(self.key_names) | frozenset(self.non_key)

    # -- entries -------------------------------------------------------------
    def entry_key(self, item: dict[str, Any], table_suffix: bytes, strict: bool) -> bytes | None:
        """The entry key of ``item`` in this index, or None if the item is not indexed.

        ``strict`` (a write's new item): a wrong type or empty value raises AWS's error;
        otherwise (old items, backfill) such an item is simply not indexed.
        """
        h = self.hash_key
        hv = item.get(h.name)
        if hv is None:
            return None
        hval = _key_value(self, h, hv, True, strict)
        if hval is None:
            return None
        enc = keycodec.encode(h.type, hval)
        out = self.prefix + zlib.crc32(enc).to_bytes(4, "big") + enc
        r = self.range_key
        if r is not None:
            rv = item.get(r.name)
            if rv is None:
                return None
            rval = _key_value(self, r, rv, False, strict)
            if rval is None:
                return None
            out += keycodec.encode(r.type, rval)
        return out + table_suffix

    def indexes(self, item: dict[str, Any]) -> bool:
        """Whether ``item`` has an entry in this index (its index keys, valid)."""
        hv = item.get(self.hash_key.name)
        if hv is None or _key_value(self, self.hash_key, hv, True, False) is None:
            return False
        r = self.range_key
        if r is None:
            return True
        rv = item.get(r.name)
        return rv is not None and _key_value(self, r, rv, False, False) is not None

    def key_values(self, item: dict[str, Any]) -> tuple[Any, Any]:
        """The item's index key attribute values (to tell whether a write moves its entry)."""
        return item.get(self.hash_key.name), item.get(self.range_key.name) if self.range_key else None

    def project(self, item: dict[str, Any]) -> dict[str, Any]:
        if self.projected is None:
            return item
        return {k: v for k, v in item.items() if k in self.projected}

    def partition_prefix(self, hash_value: dict[str, Any]) -> bytes:
        enc = keycodec.encode(self.hash_key.type, hash_value[self.hash_key.type])
        return self.prefix + zlib.crc32(enc).to_bytes(4, "big") + enc

    def start_key(self, info: TableInfo, esk: dict[str, Any]) -> bytes:
        """The entry key an ExclusiveStartKey (index keys + table keys) names."""
        from dynamodbforge.ops.items import storage_key  # late: ops imports this module

        suffix = storage_key(info, esk)[len(info.item_prefix) + 4:]
        key = self.entry_key(esk, suffix, strict=False)
        if key is None:
            raise errors.validation("The provided starting key is invalid: The provided key element does not match the schema")
        return key


def index_prefix(uid_bytes: bytes, number: int) -> bytes:
    return INDEX_PREFIX + uid_bytes + number.to_bytes(2, "big")


def _key_value(ix: IndexDef, attr: KeyAttr, av: dict[str, Any], is_hash: bool, strict: bool,
               updating: bool = False) -> str | None:
    """The index key value in ``av``, or None when it cannot be one.  ``strict``: raise
    DynamoDB's error instead.  A wrong type or size is the item's own error (``item_level``:
    in a transaction, that action's ValidationError reason); an empty value refuses the
    whole request (``request_level``), worded for an update when ``updating``."""
    value = av.get(attr.type) if len(av) == 1 else None
    if value is None:
        if strict:
            actual = next(iter(av), "")
            raise errors.item_level(errors.validation(
                f"{INVALID}Type mismatch for Index Key {attr.name} Expected: {attr.type} Actual: {actual} "
                f"IndexName: {ix.name}"
            ))
        return None
    if attr.type != "N":
        if not value:
            if strict:
                what = "string" if attr.type == "S" else "binary"
                if updating:
                    message = (
                        "One or more parameter values are not valid. The update expression attempted to update a "
                        "secondary index key to a value that is not supported. The AttributeValue for a key "
                        f"attribute cannot contain an empty {what} value."
                    )
                else:
                    message = (
                        "One or more parameter values are not valid. A value specified for a secondary index key is "
                        f"not supported. The AttributeValue for a key attribute cannot contain an empty {what} "
                        f"value. IndexName: {ix.name}, IndexKey: {attr.name}"
                    )
                raise errors.request_level(errors.validation(message))
            return None
        size = len(value.encode("utf-8")) if attr.type == "S" else attributes.binary_length(value)
        limit = attributes.MAX_HASH_KEY_BYTES if is_hash else attributes.MAX_RANGE_KEY_BYTES
        if size > limit:
            if strict:
                raise errors.item_level(errors.validation(
                    attributes.MSG_HASH_TOO_BIG if is_hash else attributes.MSG_RANGE_TOO_BIG))
            return None
    return value


def check_item_keys(info: TableInfo, item: dict[str, Any], *, updating: bool = False) -> None:
    """Raise DynamoDB's error for an index key attribute of ``item`` (about to be written)
    that no index could hold, checking global indexes before local ones, as DynamoDB does
    (nubo-db's captures: an attribute keying both reports the GSI).  ``maintain`` checks
    again in the write batch, for an index created since the request was prepared."""
    for ix in table_indexes(info).maintained:
        for attr, is_hash in ((ix.hash_key, True), (ix.range_key, False)):
            if attr is not None:
                av = item.get(attr.name)
                if av is not None:
                    _key_value(ix, attr, av, is_hash, True, updating)


@dataclass(slots=True)
class TableIndexes:
    all: tuple[IndexDef, ...] = ()
    by_name: dict[str, IndexDef] = field(default_factory=dict)
    maintained: tuple[IndexDef, ...] = ()  # every index but DELETING ones, global then local
    has_lsi: bool = False


_NONE = TableIndexes()
_CACHE: dict[int, tuple[dict[str, Any], TableIndexes]] = {}


def check_scalar_key_paths(info: TableInfo, heads: set[str]) -> None:
    """DynamoDB refuses an expression that reaches into a key attribute of the table or of
    one of its indexes (``k.a``, ``k[0]``; ``heads``: the attributes it reaches into): key
    attributes are scalars."""
    if not heads:
        return
    for name in info.key_names:
        if name in heads:
            raise errors.validation(f"{_NOT_SCALAR}Key: {name}")
    for ix in table_indexes(info).all:
        for attr in (ix.hash_key, ix.range_key):
            if attr is not None and attr.name in heads:
                raise errors.validation(f"{_NOT_SCALAR}IndexKey: {attr.name}")


def check_update_key_types(info: TableInfo, value_types: dict[str, str]) -> None:
    """An UpdateExpression that sets an index key to a value of another type, known before any
    item is read (``SET k = :v``), is refused at once, as PutItem refuses such an item."""
    if not value_types:
        return
    for ix in table_indexes(info).maintained:  # global indexes first, as the write's own check
        for attr in (ix.hash_key, ix.range_key):
            if attr is not None and value_types.get(attr.name, attr.type) != attr.type:
                raise errors.item_level(errors.validation(  # a transaction cancels for it
                    f"{INVALID}Type mismatch for Index Key {attr.name} Expected: {attr.type} "
                    f"Actual: {value_types[attr.name]} IndexName: {ix.name}"
                ))


UPDATE_TO_UNSUPPORTED_TYPE = "The update expression attempted to update the secondary index key to unsupported type"

_NOT_SCALAR = "Key attributes must be scalars; list random access '[]' and map lookup '.' are not allowed: "


def nested_heads(paths: Any) -> set[str]:
    """The attributes a projection's or update's document paths reach into."""
    return {path[0] for path in paths if len(path) > 1}


def table_indexes(info: TableInfo) -> TableIndexes:
    """The parsed indexes of a table (cached per table description object)."""
    desc = info.description
    if "LocalSecondaryIndexes" not in desc and "GlobalSecondaryIndexes" not in desc:
        return _NONE
    cached = _CACHE.get(info.uid)
    if cached is not None and cached[0] is desc:
        return cached[1]
    parsed = _parse(info)
    _CACHE[info.uid] = (desc, parsed)
    return parsed


def _parse(info: TableInfo) -> TableIndexes:
    desc = info.description
    types = {d["AttributeName"]: d["AttributeType"] for d in desc["AttributeDefinitions"]}
    numbers = desc.get("_IndexNumbers", {})
    uid_bytes = info.uid.to_bytes(8, "big")
    out: list[IndexDef] = []
    for kind, field_name in ((LSI, "LocalSecondaryIndexes"), (GSI, "GlobalSecondaryIndexes")):
        for spec in desc.get(field_name, ()):
            hash_key, range_key = key_attrs(spec["KeySchema"], types)
            projection = spec["Projection"]
            out.append(IndexDef(
                spec["IndexName"], numbers[spec["IndexName"]], kind, hash_key, range_key,
                projection.get("ProjectionType", "ALL"), tuple(projection.get("NonKeyAttributes", ())),
                spec.get("IndexStatus", ACTIVE), info.key_names, uid_bytes=uid_bytes,
            ))
    live = [ix for ix in out if ix.status != DELETING]
    return TableIndexes(
        tuple(out), {ix.name: ix for ix in out},
        tuple([ix for ix in live if ix.kind == GSI] + [ix for ix in live if ix.kind == LSI]),  # GSIs first
        any(ix.kind == LSI for ix in out),
    )


# --- statistics ------------------------------------------------------------------------

def index_stats(reader: Any, ix: IndexDef) -> tuple[int, int]:
    raw = reader.get(ix.stats_key)
    return _STATS.unpack(raw) if raw else (0, 0)


def adjust_index_stats(batch: Any, ix: IndexDef, count_delta: int, size_delta: int) -> None:
    raw = batch.get(ix.stats_key)
    count, size = _STATS.unpack(raw) if raw else (0, 0)
    batch.put(ix.stats_key, _STATS.pack(count + count_delta, size + size_delta))


def collection_key(info: TableInfo, skey: bytes) -> bytes:
    """Item-collection size key: from the item's storage key, its encoded partition key."""
    body = skey[len(info.item_prefix) + 4:]
    pk_len = _encoded_len(info.hash_key.type, body)
    return COLLECTION_PREFIX + info.uid.to_bytes(8, "big") + body[:pk_len]


def _encoded_len(type_name: str, data: bytes) -> int:
    return keycodec.decode(type_name, data, 0)[1]


def collection_size(reader: Any, key: bytes) -> int:
    raw = reader.get(key)
    return _COLL.unpack(raw)[0] if raw else 0


# --- maintenance (inside the write batch) ------------------------------------------------

def maintain(
    db: Any, batch: Any, info: TableInfo, skey: bytes,
    old: dict[str, Any] | None, new: dict[str, Any] | None,
) -> None:
    """Bring every index of the table in line with ``old`` -> ``new`` (see module docstring)."""
    live = db.catalog.current(info, batch)
    if live is None or live.uid != info.uid:
        return
    tix = table_indexes(live)
    if not tix.maintained:
        return
    suffix = skey[len(live.item_prefix) + 4:]
    collection_delta = 0
    for ix in tix.maintained:
        new_key = ix.entry_key(new, suffix, strict=True) if new is not None else None
        if ix.status == CREATING and not _reached(batch, ix, skey):
            continue  # the backfill has not reached this item: it will index its state then
        old_key = ix.entry_key(old, suffix, strict=False) if old is not None else None
        if old_key is None and new_key is None:
            continue
        old_proj = ix.project(old) if old_key is not None else None  # type: ignore[arg-type]
        new_proj = ix.project(new) if new_key is not None else None  # type: ignore[arg-type]
        if old_key == new_key and old_proj == new_proj:
            continue
        count_delta = size_delta = 0
        if old_key is not None:
            if old_key != new_key:
                batch.delete(old_key)
            count_delta -= 1
            size_delta -= attributes.item_size(old_proj)  # type: ignore[arg-type]
        if new_key is not None:
            batch.put(new_key, orjson.dumps(new_proj))
            count_delta += 1
            size_delta += attributes.item_size(new_proj)  # type: ignore[arg-type]
        adjust_index_stats(batch, ix, count_delta, size_delta)
        if ix.kind == LSI:
            collection_delta += size_delta
    if tix.has_lsi:
        collection_delta += (attributes.item_size(new) if new is not None else 0) - (
            attributes.item_size(old) if old is not None else 0)
        if collection_delta:
            ckey = collection_key(live, skey)
            size = collection_size(batch, ckey) + collection_delta
            if collection_delta > 0 and size > ITEM_COLLECTION_LIMIT:
                raise errors.DynamoDBError("ItemCollectionSizeLimitExceededException", "Collection size exceeded.")
            if size > 0:
                batch.put(ckey, _COLL.pack(size))
            else:
                batch.delete(ckey)


def charge_writes(usage: Any, info: TableInfo, old: dict[str, Any] | None, new: dict[str, Any] | None,
                  factor: float = 1.0) -> None:
    """Add to ``usage`` (capacity.Usage) what a write of ``old`` -> ``new`` costs each index.

    The Developer Guide's rules for index writes, each 1 unit per KB of the index entry
    (the projected item), at least one: an item entering the index is one write, leaving
    it one write, an index key that changes value two (delete the old entry, put the new
    one), a change of projected attributes only one (of the larger entry); nothing when
    the item is in the index neither before nor after, or its entry is unchanged.
    """
    tix = table_indexes(info)
    for ix in tix.maintained:
        was = old is not None and ix.indexes(old)
        now = new is not None and ix.indexes(new)
        if not was and not now:
            continue
        old_entry = ix.project(old) if was else None  # type: ignore[arg-type]
        new_entry = ix.project(new) if now else None  # type: ignore[arg-type]
        old_size = attributes.item_size(old_entry) if old_entry is not None else 0
        new_size = attributes.item_size(new_entry) if new_entry is not None else 0
        if was and now:
            if ix.key_values(old) != ix.key_values(new):  # type: ignore[arg-type]
                units = write_units(old_size) + write_units(new_size)
            elif old_entry != new_entry:
                units = write_units(max(old_size, new_size))
            else:
                continue
        else:
            units = write_units(old_size or new_size)
        if ix.kind == GSI:
            usage.add_gsi(ix.name, factor * units)
        else:
            usage.add_lsi(ix.name, factor * units)


def _reached(batch: Any, ix: IndexDef, skey: bytes) -> bool:
    """Whether the backfill of a CREATING index has already processed storage key ``skey``."""
    raw = batch.get(ix.job_key)
    if raw is None:
        return True  # the backfill finished since this table description was read
    cursor = orjson.loads(raw).get("cursor")
    return cursor is not None and skey <= bytes.fromhex(cursor)


# --- ItemCollectionMetrics ------------------------------------------------------------------

def item_collection_metrics(db: Any, info: TableInfo, key: dict[str, Any]) -> dict[str, Any] | None:
    """AWS's ItemCollectionMetrics for the collection of ``key`` (tables with LSIs only)."""
    if not table_indexes(info).has_lsi:
        return None
    from dynamodbforge.ops.items import storage_key

    size = collection_size(db.engine, collection_key(info, storage_key(info, key)))
    lower = size // _GB
    return {
        "ItemCollectionKey": {info.hash_key.name: key[info.hash_key.name]},
        "SizeEstimateRangeGB": [float(lower), float(lower + 1)],
    }


def add_item_collection_metrics(db: Any, req: dict[str, Any], info: TableInfo, key: dict[str, Any],
                                out: dict[str, Any]) -> dict[str, Any]:
    if req.get("ReturnItemCollectionMetrics") == "SIZE":
        metrics = item_collection_metrics(db, info, key)
        if metrics is not None:
            out["ItemCollectionMetrics"] = metrics
    return out


def item_collection_metrics_by_table(db: Any, req: dict[str, Any],
                                     written: list[tuple[TableInfo, dict[str, Any]]]) -> dict[str, Any] | None:
    """BatchWriteItem / TransactWriteItems: {table: [metrics, ...]} for the item collections
    (tables with LSIs) the request wrote, when ReturnItemCollectionMetrics=SIZE."""
    if req.get("ReturnItemCollectionMetrics") != "SIZE":
        return None
    out: dict[str, list[dict[str, Any]]] = {}
    for info, key in written:
        metrics = item_collection_metrics(db, info, key)
        if metrics is not None:
            out.setdefault(info.name, []).append(metrics)
    return out


# --- CreateTable / DescribeTable -------------------------------------------------------------

def _index_arn(db: Any, table: str, index: str) -> str:
    return f"{db.table_arn(table)}/index/{index}"


def _throughput(billing: str, pt: dict[str, Any] | None) -> dict[str, Any]:
    if billing == "PAY_PER_REQUEST" or pt is None:
        return {"NumberOfDecreasesToday": 0, "ReadCapacityUnits": 0, "WriteCapacityUnits": 0}
    return {"NumberOfDecreasesToday": 0, "ReadCapacityUnits": pt["ReadCapacityUnits"],
            "WriteCapacityUnits": pt["WriteCapacityUnits"]}


def _projection(spec: dict[str, Any]) -> dict[str, Any]:
    out = {"ProjectionType": spec.get("ProjectionType", "ALL")}
    if "NonKeyAttributes" in spec:
        out["NonKeyAttributes"] = list(spec["NonKeyAttributes"])
    return out


def _key_schema(schema: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"AttributeName": k["AttributeName"], "KeyType": k["KeyType"]} for k in schema]


def count_projected(descs: list[list[dict[str, Any]]]) -> None:
    total = 0
    for specs in descs:
        for spec in specs:
            if spec["Projection"].get("ProjectionType") == "INCLUDE":
                total += len(spec["Projection"].get("NonKeyAttributes", ()))
    if total > MAX_PROJECTED_ATTRIBUTES:
        raise errors.validation(
            f"{INVALID}Number of projected attributes in all indexes exceeds limit of {MAX_PROJECTED_ATTRIBUTES}"
        )


def on_create_table(db: Any, req: dict[str, Any], desc: dict[str, Any]) -> None:
    """Put the request's LSIs/GSIs into a new table's description (validated already)."""
    lsis = req.get("LocalSecondaryIndexes") or []
    gsis = req.get("GlobalSecondaryIndexes") or []
    if not lsis and not gsis:
        return
    count_projected([lsis, gsis])
    billing = req.get("BillingMode", "PROVISIONED")
    numbers: dict[str, int] = {}
    if lsis:
        desc["LocalSecondaryIndexes"] = [
            {"IndexName": s["IndexName"], "KeySchema": _key_schema(s["KeySchema"]),
             "Projection": _projection(s["Projection"])}
            for s in lsis
        ]
    if gsis:
        desc["GlobalSecondaryIndexes"] = [
            {"IndexName": s["IndexName"], "KeySchema": _key_schema(s["KeySchema"]),
             "Projection": _projection(s["Projection"]), "IndexStatus": ACTIVE,
             "ProvisionedThroughput": _throughput(billing, s.get("ProvisionedThroughput"))}
            for s in gsis
        ]
    for s in lsis + gsis:
        numbers[s["IndexName"]] = len(numbers) + 1
    desc["_IndexNumbers"] = numbers
    desc["_NextIndexNumber"] = len(numbers) + 1


_LSI_ORDER = ("IndexName", "KeySchema", "Projection", "IndexSizeBytes", "ItemCount", "IndexArn")
_GSI_ORDER = ("IndexName", "KeySchema", "Projection", "IndexStatus", "Backfilling", "ProvisionedThroughput",
              "IndexSizeBytes", "ItemCount", "IndexArn", "OnDemandThroughput", "WarmThroughput")


def describe(db: Any, info: TableInfo, desc: dict[str, Any], table_status: str) -> None:
    """Fill the live index fields of a (copied) table description, as AWS shows them."""
    tix = table_indexes(info)
    if not tix.all:
        return
    for field_name, order in (("LocalSecondaryIndexes", _LSI_ORDER), ("GlobalSecondaryIndexes", _GSI_ORDER)):
        specs = desc.get(field_name)
        if not specs:
            continue
        shown = []
        for spec in specs:
            ix = tix.by_name[spec["IndexName"]]
            entry = dict(spec)
            count, size = index_stats(db.engine, ix)
            entry["IndexSizeBytes"] = size
            entry["ItemCount"] = count
            entry["IndexArn"] = _index_arn(db, info.name, ix.name)
            if ix.kind == GSI and table_status == "CREATING":
                entry["IndexStatus"] = CREATING
            shown.append({k: entry[k] for k in order if k in entry})
        desc[field_name] = shown
