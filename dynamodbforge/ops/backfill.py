"""Online GSI creation and deletion: UpdateTable's GlobalSecondaryIndexUpdates,
and the background jobs that backfill a new index or free a dropped one.

State lives in the storage engine, never in process memory, so any worker process sharing
the data directory can run the jobs and a restart resumes them:

* the table description (catalog) holds the index with ``IndexStatus`` CREATING
  (+ ``Backfilling: true``) or DELETING;
* ``JOB_PREFIX + uid + number`` holds the job: ``{"op": "backfill"|"drop", "table",
  "index", "cursor" (hex storage key of the last base item processed, or null),
  "processed", "started"}``.

``backfill_step(db, budget)`` is sans-IO: it runs one job chunk of at most ``budget`` items
inside ONE write batch (which re-reads the job, so two processes never process the same
chunk twice).

Why the index stays exact while writes go on (the cursor rule)
-------------------------------------------------------------
Base items are visited in storage-key order; the job's cursor is the last key visited, and
it advances in the same write batch that writes the entries of the visited items.  Writers
are serialized with backfill chunks (one write batch at a time), and every item write goes
through ``ops.items.write_in_batch`` -> ``indexes.maintain``, which reads the job inside its
own batch and, for a CREATING index:

* item key <= cursor (already visited): maintains the entry like for any ACTIVE index —
  delete the old entry, put the new one.  The invariant "entry exists iff the current item
  has the index key" held after the visit and every later write keeps it;
* item key > cursor (not visited yet): does nothing.  No entry exists for such an item (the
  index was created empty and only the backfill writes entries above the cursor), and when
  the backfill reaches the item it indexes the item's state *at that moment*, which already
  includes this write.

So when the cursor reaches the end every item is indexed exactly once with its latest state,
statistics (ItemCount/IndexSizeBytes) are exact, and no entry is ever left behind.  Writes
re-read the table description inside their batch (``maintain``), so a write prepared before
the index existed still follows the rule.  The finishing chunk flips the index to ACTIVE and
deletes the job in the same batch; a writer that still holds the old description (CREATING)
finds no job and maintains normally.

Deleting: the index turns DELETING at once (writers stop maintaining it, reads reject it),
then ``drop`` chunks delete its entries range by range; the last chunk removes the index from
the description, its statistics and the job.
"""
from __future__ import annotations

import asyncio
import copy
import logging
import time
from dataclasses import dataclass
from typing import Any

import orjson

from dynamodbforge import errors, indexes
from dynamodbforge.catalog import JOB_PREFIX, Catalog, TableInfo
from dynamodbforge.database import Database
from dynamodbforge.indexes import ACTIVE, CREATING, DELETING, GSI, INVALID
from dynamodbforge.protocol import attributes
from dynamodbforge.storage.keycodec import prefix_successor

log = logging.getLogger("dynamodbforge.indexes")

DEFAULT_BUDGET = 500  # base items (or index entries) per write batch
ONE_AT_A_TIME = "Subscriber limit exceeded: Only 1 online index can be created or deleted simultaneously per table"


# --- UpdateTable ----------------------------------------------------------------------------

def on_update_table(db: Database, batch: Any, info: TableInfo, desc: dict[str, Any], req: dict[str, Any]) -> bool:
    """Apply GlobalSecondaryIndexUpdates to ``desc`` (a copy) inside UpdateTable's batch.

    Returns whether anything changed (the table then reports UPDATING).
    """
    updates = req.get("GlobalSecondaryIndexUpdates") or []
    if not updates and ("GlobalSecondaryIndexes" not in desc or "BillingMode" not in req):
        return False
    creates = [u["Create"] for u in updates if u.get("Create") is not None]
    deletes = [u["Delete"] for u in updates if u.get("Delete") is not None]
    changes = [u["Update"] for u in updates if u.get("Update") is not None]
    tix = indexes.table_indexes(info)
    if len(creates) + len(deletes) > 1:
        raise errors.limit_exceeded(ONE_AT_A_TIME)
    billing = desc.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED")
    gsis = desc.setdefault("GlobalSecondaryIndexes", [])
    if billing == "PAY_PER_REQUEST":  # on-demand GSIs show 0/0, as the table does
        for spec in gsis:
            spec["ProvisionedThroughput"] = indexes._throughput(billing, None)
    for change in changes:
        name = change["IndexName"]
        ix = tix.by_name.get(name)
        if ix is None or ix.kind != GSI:
            raise errors.resource_not_found(f"Requested resource not found: Index {name} for table {info.name}")
        pt = change.get("ProvisionedThroughput")
        if pt is not None:
            if billing == "PAY_PER_REQUEST":
                raise errors.validation(
                    f"{INVALID}ProvisionedThroughput should not be specified for index: {name} when BillingMode is "
                    "PAY_PER_REQUEST"
                )
            for spec in gsis:
                if spec["IndexName"] == name:
                    old = spec["ProvisionedThroughput"]
                    spec["ProvisionedThroughput"] = {
                        "NumberOfDecreasesToday": old.get("NumberOfDecreasesToday", 0),
                        "ReadCapacityUnits": pt["ReadCapacityUnits"], "WriteCapacityUnits": pt["WriteCapacityUnits"],
                    }
    if (creates or deletes) and any(ix.status in (CREATING, DELETING) for ix in tix.all):
        raise errors.limit_exceeded(ONE_AT_A_TIME)
    for delete in deletes:
        name = delete["IndexName"]
        ix = tix.by_name.get(name)
        if ix is None:
            raise errors.resource_not_found(f"Requested resource not found: Index {name} for table {info.name}")
        if ix.kind != GSI:
            raise errors.validation(f"Cannot delete an index that is not a GlobalSecondaryIndex: {name}")
        for spec in gsis:
            if spec["IndexName"] == name:
                spec["IndexStatus"] = DELETING
                spec.pop("Backfilling", None)
        _put_job(batch, ix.job_key, {"op": "drop", "table": info.name, "index": name, "cursor": None,
                                     "processed": 0, "started": db.clock()})
    for create in creates:
        _create(db, batch, info, desc, req, create, billing, tix)
    if not gsis:
        del desc["GlobalSecondaryIndexes"]
    return bool(creates or deletes or changes)


def _create(db: Database, batch: Any, info: TableInfo, desc: dict[str, Any], req: dict[str, Any],
            create: dict[str, Any], billing: str, tix: indexes.TableIndexes) -> None:
    name = create["IndexName"]
    if name in tix.by_name:
        raise errors.validation("Attempting to create an index which already exists")
    gsis = desc["GlobalSecondaryIndexes"]
    if len(gsis) >= indexes.MAX_GSIS:
        raise errors.limit_exceeded(
            f"Subscriber limit exceeded: The number of global secondary indexes for table {info.name} exceeds "
            f"the per-table limit of {indexes.MAX_GSIS}"
        )
    keys = [k["AttributeName"] for k in create["KeySchema"]]
    defs = req.get("AttributeDefinitions") or []
    given = {d["AttributeName"]: d["AttributeType"] for d in defs}
    if any(k not in given for k in keys):
        raise errors.validation(
            f"{INVALID}Some index key attributes are not defined in AttributeDefinitions. Keys: [{', '.join(keys)}], "
            f"AttributeDefinitions: [{', '.join(given)}]"
        )
    existing = {d["AttributeName"]: d["AttributeType"] for d in desc["AttributeDefinitions"]}
    for k in keys:
        if k in existing and existing[k] != given[k]:
            raise errors.validation(
                f"{INVALID}Attributes cannot be redefined. Please check that your attribute has the same type as "
                f"previously defined. Existing schema: {k}:{existing[k]} New schema: {k}:{given[k]}"
            )
    pt = create.get("ProvisionedThroughput")
    if billing == "PAY_PER_REQUEST" and pt is not None:
        raise errors.validation(
            f"{INVALID}ProvisionedThroughput should not be specified for index: {name} when BillingMode is "
            "PAY_PER_REQUEST"
        )
    if billing != "PAY_PER_REQUEST" and pt is None:
        raise errors.validation(f"{INVALID}ProvisionedThroughput must be specified for index: {name}")
    for k in keys:
        if k not in existing:
            desc["AttributeDefinitions"].append({"AttributeName": k, "AttributeType": given[k]})
    spec = {
        "IndexName": name,
        "KeySchema": indexes._key_schema(create["KeySchema"]),
        "Projection": indexes._projection(create["Projection"]),
        "IndexStatus": CREATING,
        "Backfilling": True,
        "ProvisionedThroughput": indexes._throughput(billing, pt),
    }
    indexes.count_projected([desc.get("LocalSecondaryIndexes", []), gsis + [spec]])
    gsis.append(spec)
    number = desc.get("_NextIndexNumber", 1)
    desc.setdefault("_IndexNumbers", {})[name] = number
    desc["_NextIndexNumber"] = number + 1
    job_key = JOB_PREFIX + info.uid.to_bytes(8, "big") + number.to_bytes(2, "big")
    _put_job(batch, job_key, {"op": "backfill", "table": info.name, "index": name, "cursor": None,
                              "processed": 0, "started": db.clock()})
    log.info("Creating index %s of table %s: backfill queued", name, info.name)


def _put_job(batch: Any, key: bytes, job: dict[str, Any]) -> None:
    batch.put(key, orjson.dumps(job))


# --- the background jobs ------------------------------------------------------------------

@dataclass(slots=True)
class StepResult:
    idle: bool = True  # no job to run
    table: str | None = None
    index: str | None = None
    op: str | None = None
    processed: int = 0  # items (backfill) or entries (drop) this step
    finished: bool = False  # the job completed in this step


def pending_jobs(db: Database) -> list[tuple[bytes, dict[str, Any]]]:
    with db.engine.read() as reader:
        return [(k, orjson.loads(v)) for k, v in reader.scan(JOB_PREFIX, prefix_successor(JOB_PREFIX))]


def backfill_step(db: Database, budget: int = DEFAULT_BUDGET) -> StepResult:
    """Run one bounded chunk of the first pending index job (one write batch)."""
    jobs = pending_jobs(db)
    if not jobs:
        return StepResult()
    key, job = jobs[0]
    with db.engine.write() as batch:
        raw = batch.get(key)
        if raw is None:
            return StepResult(idle=False)
        job = orjson.loads(raw)
        result = StepResult(idle=False, table=job["table"], index=job["index"], op=job["op"])
        uid = int.from_bytes(key[len(JOB_PREFIX):len(JOB_PREFIX) + 8], "big")
        number = int.from_bytes(key[len(JOB_PREFIX) + 8:], "big")
        info = db.catalog.find(job["table"], batch)
        ix = indexes.table_indexes(info).by_name.get(job["index"]) if info is not None and info.uid == uid else None
        if ix is None or ix.number != number:
            batch.delete(key)  # the table (and with it the index) is gone
            result.finished = True
            return result
        if job["op"] == "backfill":
            if ix.status != CREATING:
                batch.delete(key)
                result.finished = True
                return result
            _backfill_chunk(batch, info, ix, key, job, budget, result)  # type: ignore[arg-type]
        else:
            _drop_chunk(batch, info, ix, key, job, budget, result)  # type: ignore[arg-type]
    return result


def _backfill_chunk(batch: Any, info: TableInfo, ix: indexes.IndexDef, key: bytes, job: dict[str, Any],
                    budget: int, result: StepResult) -> None:
    cursor = job.get("cursor")
    start = info.item_prefix if cursor is None else bytes.fromhex(cursor) + b"\x00"
    end = prefix_successor(info.item_prefix)
    suffix_at = len(info.item_prefix) + 4
    n = count = size = 0
    last: bytes | None = None
    for skey, raw in batch.scan(start, end):
        n += 1
        last = skey
        item = orjson.loads(raw)
        ekey = ix.entry_key(item, skey[suffix_at:], strict=False)
        if ekey is not None:
            projected = ix.project(item)
            batch.put(ekey, raw if projected is item else orjson.dumps(projected))
            count += 1
            size += attributes.item_size(projected)
        if n >= budget:
            break
    if count:
        indexes.adjust_index_stats(batch, ix, count, size)
    job["processed"] = job.get("processed", 0) + n
    result.processed = n
    if n < budget:  # reached the end of the table: the index is complete
        desc = copy.deepcopy(info.description)
        for spec in desc.get("GlobalSecondaryIndexes", ()):
            if spec["IndexName"] == ix.name:
                spec["IndexStatus"] = ACTIVE
                spec.pop("Backfilling", None)
        Catalog.save(batch, TableInfo.from_description(info.uid, desc))
        batch.delete(key)
        result.finished = True
    else:
        job["cursor"] = last.hex()  # type: ignore[union-attr]
        batch.put(key, orjson.dumps(job))


def _drop_chunk(batch: Any, info: TableInfo, ix: indexes.IndexDef, key: bytes, job: dict[str, Any],
                budget: int, result: StepResult) -> None:
    start, end = ix.prefix, prefix_successor(ix.prefix)
    n = 0
    last: bytes | None = None
    for k, _ in batch.scan(start, end):
        n += 1
        last = k
        if n >= budget:
            break
    if last is not None:
        batch.delete_range(start, last + b"\x00")
    job["processed"] = job.get("processed", 0) + n
    result.processed = n
    if n < budget:  # no entries left: the index is gone
        desc = copy.deepcopy(info.description)
        gsis = [s for s in desc.get("GlobalSecondaryIndexes", ()) if s["IndexName"] != ix.name]
        if gsis:
            desc["GlobalSecondaryIndexes"] = gsis
        else:
            desc.pop("GlobalSecondaryIndexes", None)
        desc.get("_IndexNumbers", {}).pop(ix.name, None)
        used = set(info.key_names)
        for field_name in ("LocalSecondaryIndexes", "GlobalSecondaryIndexes"):
            for spec in desc.get(field_name, ()):
                used.update(k["AttributeName"] for k in spec["KeySchema"])
        desc["AttributeDefinitions"] = [d for d in desc["AttributeDefinitions"] if d["AttributeName"] in used]
        Catalog.save(batch, TableInfo.from_description(info.uid, desc))
        batch.delete(ix.stats_key)
        batch.delete(key)
        result.finished = True
    else:
        batch.put(key, orjson.dumps(job))


async def run_backfiller(db: Database, interval: float = 0.2, budget: int = DEFAULT_BUDGET,
                         log_every: float = 2.0) -> None:
    """The asyncio driver started by ``ddbforge serve``: runs job chunks until cancelled.

    Between two chunks it yields to the event loop, so requests wait for at most one chunk;
    with no job it polls the (tiny) job key range every ``interval`` seconds — but only
    after table metadata changed: a job is queued in the same batch as the table
    description that names its index (Catalog.save, which moves the engine's catalog
    generation), so while the generation stays where it was when no job was found, none
    is, and the poll (a read transaction, five times a second on an idle server) is skipped.
    """
    last_log: dict[tuple[str, str], float] = {}
    generation_of = getattr(db.engine, "catalog_generation", None)
    idle_at: int | None = None  # the catalog generation when the last poll found no job
    while True:
        generation = generation_of() if generation_of is not None else None
        if generation is not None and generation == idle_at:
            await asyncio.sleep(interval)
            continue
        try:
            result = backfill_step(db, budget)
        except asyncio.CancelledError:
            raise
        except Exception:  # a job bug must never take the server down
            log.exception("index job step failed; retrying")
            await asyncio.sleep(1.0)
            continue
        if result.idle:
            idle_at = generation  # read before the poll: a job queued since is seen next time
            await asyncio.sleep(interval)
            continue
        idle_at = None
        if result.table is not None and result.index is not None:
            _progress(db, result, last_log, log_every)
        await asyncio.sleep(0)


def _progress(db: Database, result: StepResult, last_log: dict[tuple[str, str], float], every: float) -> None:
    ident = (result.table or "", result.index or "")
    now = time.monotonic()
    if result.finished:
        last_log.pop(ident, None)
        what = "backfilled, now ACTIVE" if result.op == "backfill" else "deleted, storage freed"
        log.info("Index %s of table %s %s", result.index, result.table, what)
        return
    if now - last_log.get(ident, 0.0) < every:
        return
    last_log[ident] = now
    info = db.catalog.find(result.table or "")
    job = None
    if info is not None:
        ix = indexes.table_indexes(info).by_name.get(result.index or "")
        raw = db.engine.get(ix.job_key) if ix is not None else None
        job = orjson.loads(raw) if raw else None
    if job is None or info is None:
        return
    if result.op == "backfill":
        with db.engine.read() as reader:
            total, _ = Catalog.stats(reader, info)
        pct = 100.0 * job["processed"] / total if total else 100.0
        log.info("Backfilling index %s of table %s: %d of %d items (%.0f%%), %.1f s", result.index, result.table,
                 job["processed"], total, min(pct, 100.0), db.clock() - job.get("started", db.clock()))
    else:
        log.info("Deleting index %s of table %s: %d entries freed", result.index, result.table, job["processed"])
