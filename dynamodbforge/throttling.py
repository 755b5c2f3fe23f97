"""Throughput enforcement (``ddbforge serve --enforce-capacity``; off by default).

Token buckets, as DynamoDB's admission control behaves from a client's point of view:

* **provisioned tables (and provisioned GSIs)**: one read and one write bucket each,
  refilled at the provisioned units per second and holding up to ``burst_seconds``
  (DynamoDB's 300 seconds of unused capacity, "burst capacity") worth of units.  A new
  table starts with a full bucket.
* **every table, both modes**: one bucket per partition key value, refilled at one
  "partition second" per second: a read unit costs 1/3000 of it and a write unit 1/1000
  (DynamoDB's per-partition maximum of 3,000 RCU or 1,000 WCU per second, or a linear
  combination of both), holding one second's worth.
* **on-demand tables with OnDemandThroughput**: MaxRead/WriteRequestUnits per second.

A request is admitted when its buckets are not empty (the cost of a request is only
known once it ran: the old item's size counts); its consumption is then taken from them,
which may leave them below zero, so the following requests are throttled until the
refill catches up - the way a client sees DynamoDB throttle.  Throttled requests consume
nothing.

State lives in process memory: with ``--workers N`` each worker enforces the full limits
on the requests it serves, so N workers admit up to N times the configured throughput.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

from dynamodbforge import errors
from dynamodbforge.capacity import READ, Usage

PARTITION_READ_UNITS = 3000.0
PARTITION_WRITE_UNITS = 1000.0
BURST_SECONDS = 300.0
_MAX_PARTITION_BUCKETS = 100_000

PROVISIONED_MESSAGE = (
    "The level of configured provisioned throughput for the table was exceeded. "
    "Consider increasing your provisioning level with the UpdateTable API."
)
GSI_PROVISIONED_MESSAGE = (
    "The level of configured provisioned throughput for one or more global secondary indexes of the table was "
    "exceeded. Consider increasing your provisioning level for the under-provisioned global secondary indexes "
    "with the UpdateTable API"
)
ON_DEMAND_MESSAGE = (
    "Throughput exceeds the current capacity of your table or index. DynamoDB is automatically scaling your "
    "table or index so please try again shortly. If exceptions persist, check if you have a hot key: "
    "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html"
)
MAX_ON_DEMAND_MESSAGE = "Throughput exceeds the maximum OnDemandThroughput configured on table or index"


def _reason(kind: str, limit: str, resource: str, index: bool = False) -> dict[str, str]:
    return {"reason": ("Index" if index else "Table") + ("Read" if kind == READ else "Write") + limit,
            "resource": resource}


def provisioned_exceeded(reason: dict[str, str], message: str = PROVISIONED_MESSAGE) -> errors.DynamoDBError:
    return errors.DynamoDBError("ProvisionedThroughputExceededException", message,
                                extra={"ThrottlingReasons": [reason]})


def throttling(reason: dict[str, str], message: str = ON_DEMAND_MESSAGE) -> errors.DynamoDBError:
    return errors.DynamoDBError("ThrottlingException", message, extra={"ThrottlingReasons": [reason]})


class Bucket:
    __slots__ = ("tokens", "stamp", "rate", "size")

    def __init__(self, rate: float, size: float, now: float) -> None:
        self.rate = rate
        self.size = size
        self.tokens = size
        self.stamp = now

    def level(self, now: float) -> float:
        tokens = self.tokens + (now - self.stamp) * self.rate
        self.tokens = tokens if tokens < self.size else self.size
        self.stamp = now
        return self.tokens


@dataclass(slots=True)
class Limits:
    """What one table allows, read from its description (recomputed when it changes)."""

    on_demand: bool
    rcu: float
    wcu: float
    gsi: dict[str, tuple[float, float]]  # provisioned GSIs: name -> (rcu, wcu)
    max_read: float  # on-demand MaxReadRequestUnits (-1: none)
    max_write: float


def limits_of(desc: dict[str, Any]) -> Limits:
    on_demand = desc.get("BillingModeSummary", {}).get("BillingMode") == "PAY_PER_REQUEST"
    pt = desc.get("ProvisionedThroughput") or {}
    gsi = {}
    for index in desc.get("GlobalSecondaryIndexes") or ():
        ipt = index.get("ProvisionedThroughput") or {}
        if not on_demand and ipt.get("ReadCapacityUnits"):
            gsi[index["IndexName"]] = (float(ipt["ReadCapacityUnits"]), float(ipt.get("WriteCapacityUnits", 0)))
    odt = desc.get("OnDemandThroughput") or {}
    return Limits(on_demand, float(pt.get("ReadCapacityUnits") or 0), float(pt.get("WriteCapacityUnits") or 0),
                  gsi, float(odt.get("MaxReadRequestUnits", -1)), float(odt.get("MaxWriteRequestUnits", -1)))


class Throttler:
    def __init__(self, burst_seconds: float = BURST_SECONDS, clock: Callable[[], float] = time.monotonic,
                 partition_read_units: float = PARTITION_READ_UNITS,
                 partition_write_units: float = PARTITION_WRITE_UNITS) -> None:
        self.burst_seconds = burst_seconds
        self.clock = clock
        self.partition_read_cost = 1.0 / partition_read_units
        self.partition_write_cost = 1.0 / partition_write_units
        self._limits: dict[int, tuple[int, Limits]] = {}  # uid -> (id of description, limits)
        self._buckets: dict[tuple[int, str, str], Bucket] = {}  # (uid, kind, index or "") -> bucket
        self._partitions: dict[tuple[int, str], Bucket] = {}  # (uid, partition key value) -> bucket

    def _limits_for(self, info: Any) -> Limits:
        cached = self._limits.get(info.uid)
        if cached is not None and cached[0] == id(info.description):
            return cached[1]
        limits = limits_of(info.description)
        self._limits[info.uid] = (id(info.description), limits)
        return limits

    def _bucket(self, uid: int, kind: str, index: str, rate: float, now: float) -> Bucket:
        bucket = self._buckets.get((uid, kind, index))
        size = rate * self.burst_seconds if rate > 0 else 0.0
        if bucket is None:
            bucket = self._buckets[(uid, kind, index)] = Bucket(rate, size, now)
        elif bucket.rate != rate:  # UpdateTable changed the provisioning
            bucket.level(now)
            bucket.rate, bucket.size = rate, size
            bucket.tokens = min(bucket.tokens, size)
        return bucket

    def _on_demand_bucket(self, uid: int, kind: str, rate: float, now: float) -> Bucket:
        bucket = self._buckets.get((uid, kind, "\x00max"))
        if bucket is None or bucket.rate != rate:
            bucket = self._buckets[(uid, kind, "\x00max")] = Bucket(rate, rate, now)
        return bucket

    def _partition(self, uid: int, pk: str, now: float) -> Bucket:
        bucket = self._partitions.get((uid, pk))
        if bucket is None:
            if len(self._partitions) >= _MAX_PARTITION_BUCKETS:
                self._forget_idle(now)
            bucket = self._partitions[(uid, pk)] = Bucket(1.0, 1.0, now)
        return bucket

    def _forget_idle(self, now: float) -> None:
        """Drop partition buckets that have refilled completely (they hold no state)."""
        idle = [k for k, b in self._partitions.items() if b.tokens + (now - b.stamp) >= b.size]
        for k in idle:
            del self._partitions[k]
        if len(self._partitions) >= _MAX_PARTITION_BUCKETS:  # all busy: forget the oldest half
            for k in sorted(self._partitions, key=lambda k: self._partitions[k].stamp)[: len(self._partitions) // 2]:
                del self._partitions[k]

    # -- admission -----------------------------------------------------------------
    def check(self, info: Any, kind: str, partition: str | None) -> errors.DynamoDBError | None:
        """The error to throttle with, or None to admit a request on ``info``'s table."""
        now = self.clock()
        limits = self._limits_for(info)
        arn = info.description.get("TableArn", info.name)
        if limits.on_demand:
            cap = limits.max_read if kind == READ else limits.max_write
            if cap > 0 and self._on_demand_bucket(info.uid, kind, cap, now).level(now) <= 0:
                return throttling(_reason(kind, "MaxOnDemandThroughputExceeded", arn), MAX_ON_DEMAND_MESSAGE)
        else:
            rate = limits.rcu if kind == READ else limits.wcu
            if self._bucket(info.uid, kind, "", rate, now).level(now) <= 0:
                return provisioned_exceeded(_reason(kind, "ProvisionedThroughputExceeded", arn))
            if kind != READ:  # a write is throttled when any provisioned GSI it must update is
                for name, (_r, w) in limits.gsi.items():
                    if self._bucket(info.uid, kind, name, w, now).level(now) <= 0:
                        return provisioned_exceeded(
                            _reason(kind, "ProvisionedThroughputExceeded", f"{arn}/index/{name}", True),
                            GSI_PROVISIONED_MESSAGE)
        if partition is not None:
            bucket = self._partitions.get((info.uid, partition))
            if bucket is not None and bucket.level(now) <= 0:
                reason = _reason(kind, "KeyRangeThroughputExceeded", arn)
                return throttling(reason) if limits.on_demand else provisioned_exceeded(reason)
        return None

    def charge(self, usage: Usage, partition_of: Callable[[Any, dict[str, Any]], str]) -> None:
        """Take what ``usage`` consumed from its table's, indexes' and partitions' buckets."""
        now = self.clock()
        info = usage.info
        limits = self._limits_for(info)
        kind = usage.kind
        if limits.on_demand:
            cap = limits.max_read if kind == READ else limits.max_write
            if cap > 0:  # the table's own units: its indexes' writes have maxima of their own
                self._on_demand_bucket(info.uid, kind, cap, now).tokens -= usage.table_units
        else:
            rate = limits.rcu if kind == READ else limits.wcu
            bucket = self._bucket(info.uid, kind, "", rate, now)
            bucket.level(now)
            bucket.tokens -= usage.table_units
            if usage.gsi:
                for name, units in usage.gsi.items():
                    if name in limits.gsi:
                        r, w = limits.gsi[name]
                        gb = self._bucket(info.uid, kind, name, r if kind == READ else w, now)
                        gb.level(now)
                        gb.tokens -= units
        cost = self.partition_read_cost if kind == READ else self.partition_write_cost
        for key, units in usage.keys:
            bucket = self._partition(info.uid, partition_of(info, key), now)
            bucket.level(now)
            bucket.tokens -= units * cost
