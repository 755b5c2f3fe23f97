"""Contributor Insights: the most accessed and most throttled keys of a table, in bounded memory.

* The API (UpdateContributorInsights, DescribeContributorInsights, ListContributorInsights)
  keeps each table's (or index's) setting in the storage engine, so every worker sees it.
  Like DynamoDB, enabling answers ENABLING and reads back ENABLED; disabling answers
  DISABLING and reads back DISABLED.
* While a table's setting is ENABLED, each worker feeds the keys its requests touched into
  **Space-Saving** heavy-hitter sketches (Metwally et al.): at most ``CAPACITY`` counters
  per sketch, a new key replacing the smallest counter and inheriting its count as its
  error bound, so any key whose true weight exceeds total/CAPACITY is guaranteed to be
  listed.  Four sketches per time slot of ``SLOT_SECONDS``, like DynamoDB's four rules:
  partition keys (PKC) and partition+sort keys (SKC) by consumed capacity units, and the
  same two by throttled requests (PKT, SKT).  A report over a window merges the slots of
  the window.  Memory per table is bounded by CAPACITY x 4 x MAX_SLOTS counters.
* ``report()`` is served at ``GET /_ddbforge/insights?table=T&top=N&window=S`` for the
  ``ddbforge insights`` command.  Sketches are per worker process: with ``--workers N``
  a report shows the requests of the worker that answered it.
"""
from __future__ import annotations

import time
from typing import Any, Callable

import orjson

from dynamodbforge import errors
from dynamodbforge.storage.keycodec import prefix_successor

CAPACITY = 100
SLOT_SECONDS = 10
MAX_SLOTS = 60  # reports cover at most the last 10 minutes
CONFIG_PREFIX = b"\x00N"  # + uid (8 bytes) + index name -> setting JSON
ENABLING, ENABLED, DISABLING, DISABLED = "ENABLING", "ENABLED", "DISABLING", "DISABLED"
MODES = ("ACCESSED_AND_THROTTLED_KEYS", "THROTTLED_KEYS")
_CACHE_SECONDS = 1.0

PKC, SKC, PKT, SKT = 0, 1, 2, 3
RULES = ("PKC", "SKC", "PKT", "SKT")


class SpaceSaving:
    """Top-k heavy hitters over weighted keys with at most ``capacity`` counters."""

    __slots__ = ("capacity", "counts", "errors", "total")

    def __init__(self, capacity: int = CAPACITY) -> None:
        self.capacity = capacity
        self.counts: dict[Any, float] = {}
        self.errors: dict[Any, float] = {}
        self.total = 0.0

    def add(self, key: Any, weight: float = 1.0) -> None:
        self.total += weight
        counts = self.counts
        if key in counts:
            counts[key] += weight
            return
        if len(counts) < self.capacity:
            counts[key] = weight
            self.errors[key] = 0.0
            return
        victim = min(counts, key=counts.__getitem__)
        floor = counts.pop(victim)
        del self.errors[victim]
        counts[key] = floor + weight
        self.errors[key] = floor

    def top(self, n: int) -> list[tuple[Any, float, float]]:
        """[(key, estimated weight, maximum overestimation)], heaviest first."""
        ranked = sorted(self.counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
        return [(k, c, self.errors[k]) for k, c in ranked]


def merge(sketches: list[SpaceSaving], capacity: int = CAPACITY) -> SpaceSaving:
    out = SpaceSaving(capacity * 4)
    for sketch in sketches:
        out.total += sketch.total
        for key, count in sketch.counts.items():
            out.counts[key] = out.counts.get(key, 0.0) + count
            out.errors[key] = out.errors.get(key, 0.0) + sketch.errors[key]
    return out


class TableSketches:
    """Per-slot sketches of one table: slot number -> [PKC, SKC, PKT, SKT]."""

    __slots__ = ("slots",)

    def __init__(self) -> None:
        self.slots: dict[int, list[SpaceSaving]] = {}

    def current(self, now: float) -> list[SpaceSaving]:
        slot = int(now // SLOT_SECONDS)
        sketches = self.slots.get(slot)
        if sketches is None:
            sketches = self.slots[slot] = [SpaceSaving() for _ in RULES]
            for old in [s for s in self.slots if s <= slot - MAX_SLOTS]:
                del self.slots[old]
        return sketches

    def window(self, now: float, seconds: float) -> list[list[SpaceSaving]]:
        first = int((now - seconds) // SLOT_SECONDS) + 1
        return [v for k, v in self.slots.items() if k >= first]


class Tracker:
    """This worker's sketches and a short-lived cache of which tables have insights on."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.tables: dict[int, TableSketches] = {}
        self._enabled: dict[int, tuple[float, str | None]] = {}  # uid -> (expires, mode or None)

    def mode(self, db: Any, info: Any) -> str | None:
        """The table's Contributor Insights mode when ENABLED, else None (cached one second)."""
        now = time.monotonic()
        cached = self._enabled.get(info.uid)
        if cached is not None and cached[0] > now:
            return cached[1]
        raw = db.engine.get(_config_key(info.uid, ""))
        mode = None
        if raw is not None:
            setting = orjson.loads(raw)
            if setting["status"] == ENABLED:
                mode = setting.get("mode", MODES[0])
        self._enabled[info.uid] = (now + _CACHE_SECONDS, mode)
        return mode

    def forget(self, uid: int) -> None:
        self._enabled.pop(uid, None)

    def _sketches(self, info: Any) -> list[SpaceSaving]:
        table = self.tables.get(info.uid)
        if table is None:
            table = self.tables[info.uid] = TableSketches()
        return table.current(self.clock())

    def accessed(self, db: Any, usage: Any) -> None:
        if not usage.keys:
            return
        info = usage.info
        mode = self.mode(db, info)
        if mode != MODES[0]:
            return
        sketches = self._sketches(info)
        for key, units in usage.keys:
            pk, item = _key_ids(info, key)
            if pk is not None:
                sketches[PKC].add(pk, units)
                if item is not None:
                    sketches[SKC].add(item, units)

    def throttled(self, db: Any, info: Any, key: dict[str, Any] | None) -> None:
        if key is None or self.mode(db, info) is None:
            return
        sketches = self._sketches(info)
        pk, item = _key_ids(info, key)
        if pk is not None:
            sketches[PKT].add(pk)
            if item is not None:
                sketches[SKT].add(item)

    def report(self, db: Any, table: str, top: int = 10, window: float = 60.0) -> dict[str, Any]:
        info = db.catalog.get_table(table)
        window = max(1.0, min(float(window), SLOT_SECONDS * MAX_SLOTS))
        slots = self.tables.get(info.uid)
        per_slot = slots.window(self.clock(), window) if slots is not None else []
        setting = _load(db.engine, info.uid, "")
        out: dict[str, Any] = {
            "TableName": table,
            "ContributorInsightsStatus": setting["status"] if setting else DISABLED,
            "WindowSeconds": window,
        }
        names = {PKC: "MostAccessedPartitionKeys", SKC: "MostAccessedItems",
                 PKT: "MostThrottledPartitionKeys", SKT: "MostThrottledItems"}
        for rule, name in names.items():
            merged = merge([s[rule] for s in per_slot])
            out[name] = [
                {"Key": orjson.loads(k), ("Requests" if rule >= PKT else "CapacityUnits"): c, "MaxError": e}
                for k, c, e in merged.top(top)
            ]
        return out


def _key_ids(info: Any, key: dict[str, Any]) -> tuple[bytes | None, bytes | None]:
    h = info.hash_key.name
    hv = key.get(h)
    if hv is None:
        return None, None
    pk = orjson.dumps({h: hv})
    r = info.range_key
    if r is None or r.name not in key:
        return pk, (pk if r is None else None)
    return pk, orjson.dumps({h: hv, r.name: key[r.name]})


TRACKER = Tracker()


# --- settings in the engine ----------------------------------------------------------

def _config_key(uid: int, index: str) -> bytes:
    return CONFIG_PREFIX + uid.to_bytes(8, "big") + index.encode()


def _load(reader: Any, uid: int, index: str) -> dict[str, Any] | None:
    raw = reader.get(_config_key(uid, index))
    return orjson.loads(raw) if raw is not None else None


def _index_names(info: Any) -> list[str]:
    return [i["IndexName"] for i in info.description.get("GlobalSecondaryIndexes") or ()]


def _resolve(db: Any, req: dict[str, Any], reader: Any = None) -> tuple[Any, str]:
    name = req["TableName"]
    info = db.catalog.get_table(name, reader)
    index = req.get("IndexName", "")
    if index and index not in _index_names(info):
        raise errors.resource_not_found(f"Requested resource not found: Index: {index} not found for table: {name}")
    return info, index


def _rules(table: str, since_ms: int) -> list[str]:
    return [f"DynamoDBContributorInsights-{r}-{table}-{since_ms}" for r in RULES]


def update_contributor_insights(db: Any, req: dict[str, Any]) -> dict[str, Any]:
    enable = req["ContributorInsightsAction"] == "ENABLE"
    with db.engine.write() as batch:
        info, index = _resolve(db, req, batch)
        now = db.now()
        setting = _load(batch, info.uid, index) or {}
        setting.update(
            table=info.name,
            status=ENABLED if enable else DISABLED,
            updated=now,
            mode=req.get("ContributorInsightsMode", setting.get("mode", MODES[0])),
        )
        if enable:
            setting["since"] = int(now * 1000)
        batch.put(_config_key(info.uid, index), orjson.dumps(setting))
    TRACKER.forget(info.uid)
    out: dict[str, Any] = {"TableName": info.name}
    if index:
        out["IndexName"] = index
    out["ContributorInsightsStatus"] = ENABLING if enable else DISABLING
    out["ContributorInsightsMode"] = setting["mode"]
    return out


def describe_contributor_insights(db: Any, req: dict[str, Any]) -> dict[str, Any]:
    info, index = _resolve(db, req)
    setting = _load(db.engine, info.uid, index)
    out: dict[str, Any] = {"TableName": info.name}
    if index:
        out["IndexName"] = index
    if setting is None:
        out["ContributorInsightsStatus"] = DISABLED
        return out
    if setting["status"] == ENABLED:
        out["ContributorInsightsRuleList"] = _rules(info.name, setting["since"])
    out["ContributorInsightsStatus"] = setting["status"]
    out["LastUpdateDateTime"] = setting["updated"]
    out["ContributorInsightsMode"] = setting.get("mode", MODES[0])
    return out


def list_contributor_insights(db: Any, req: dict[str, Any]) -> dict[str, Any]:
    limit = req.get("MaxResults") or 100
    start = int(req["NextToken"]) if str(req.get("NextToken", "")).isdigit() else 0
    wanted = req.get("TableName")
    if wanted is not None and db.catalog.find(wanted) is None:
        raise errors.table_not_found(wanted)
    summaries = []
    with db.engine.read() as reader:
        for key, raw in reader.scan(CONFIG_PREFIX, prefix_successor(CONFIG_PREFIX)):
            uid = int.from_bytes(key[len(CONFIG_PREFIX):len(CONFIG_PREFIX) + 8], "big")
            index = key[len(CONFIG_PREFIX) + 8:].decode()
            setting = orjson.loads(raw)
            info = db.catalog.find(setting["table"], reader)
            if info is None or info.uid != uid or (wanted is not None and info.name != wanted):
                continue  # a dropped table's leftover setting, or another table
            summary: dict[str, Any] = {"TableName": info.name}
            if index:
                summary["IndexName"] = index
            summary["ContributorInsightsStatus"] = setting["status"]
            summary["ContributorInsightsMode"] = setting.get("mode", MODES[0])
            summaries.append(summary)
    summaries.sort(key=lambda s: (s["TableName"], s.get("IndexName", "")))
    page = summaries[start:start + limit]
    out: dict[str, Any] = {"ContributorInsightsSummaries": page}
    if start + limit < len(summaries):
        out["NextToken"] = str(start + limit)
    return out
