"""Capacity units: how much every operation consumes, and how ConsumedCapacity is reported.

The ONE place for capacity math.  Operations build a ``Usage`` per table they
touch, add the units of the table and of each index, and call ``report`` /
``report_many`` to get the response's ``ConsumedCapacity`` (or None).  Reporting also
hands the usage to the current request's meter, which feeds throttling (--enforce-capacity),
CloudWatch-style metrics and Contributor Insights, whatever ReturnConsumedCapacity says.

AWS's rules (Developer Guide, "Read/write capacity mode", "Capacity unit consumption"):

* a read costs 1 unit per 4 KB of item size, rounded up, at least 1; an eventually
  consistent read half that; a transactional read twice (2 units per 4 KB);
* a write costs 1 unit per 1 KB, rounded up, at least 1, of the larger of the item
  before and after the write; a transactional write twice;
* Query and Scan add up the sizes of all items read (before any filter), then round up
  to 4 KB once; BatchGetItem rounds every item on its own;
* a missing item still costs the minimum (1, or 0.5 eventually consistent).

Response shape (verified against the AWS CLI reference examples):

* TOTAL:   ``{"TableName": t, "CapacityUnits": u}``; transactions also report
  ``"ReadCapacityUnits"`` (TransactGetItems) or ``"WriteCapacityUnits"`` (TransactWriteItems).
* INDEXES: TOTAL plus ``"Table": {"CapacityUnits": ...}`` and, for each index involved,
  ``"GlobalSecondaryIndexes"`` / ``"LocalSecondaryIndexes"``: ``{name: {"CapacityUnits": ...}}``.
  ``CapacityUnits`` at the top is the sum of table and indexes.

Index engineers: charge an index with ``usage.add_gsi(name, units)`` / ``usage.add_lsi(...)``
(writes: ``write_units`` of the larger projected image, per index touched; LSI fetches of
non-projected attributes: ``usage.add(read_units(...))`` on the table).
"""
from __future__ import annotations

import math
import threading
from typing import Any

READ_UNIT_BYTES = 4096
WRITE_UNIT_BYTES = 1024
TRANSACTION_FACTOR = 2.0

READ = "read"
WRITE = "write"


def read_units(size: int, consistent: bool = True) -> float:
    """Reads cost one unit per 4 KB (at least one), half that when eventually consistent."""
    units = float(max(1, math.ceil(size / READ_UNIT_BYTES)))
    return units if consistent else units / 2


def write_units(size: int) -> float:
    """Writes cost one unit per 1 KB (at least one)."""
    return float(max(1, math.ceil(size / WRITE_UNIT_BYTES)))


def read_units_for_raw(raw: bytes | None, consistent: bool) -> float | None:
    """Read units of a stored item from its JSON bytes, when that needs no parsing.

    The JSON encoding of an item is never shorter than its DynamoDB size (every name
    and value is written at least byte for byte, plus quotes and type tags), so an item
    stored in at most 4 KB of JSON costs exactly the minimum.  None: parse and measure.
    """
    if raw is None or len(raw) <= READ_UNIT_BYTES:
        return 1.0 if consistent else 0.5
    return None


class Usage:
    """Capacity one request consumed on one table (and its indexes)."""

    __slots__ = ("info", "kind", "transactional", "table_units", "gsi", "lsi", "keys", "returned")

    def __init__(self, info: Any, kind: str, transactional: bool = False) -> None:
        self.info = info  # catalog.TableInfo
        self.kind = kind  # READ or WRITE
        self.transactional = transactional
        self.table_units = 0.0
        self.gsi: dict[str, float] | None = None
        self.lsi: dict[str, float] | None = None
        # (key dict, units) of the items/partitions touched, for hot-key throttling and insights
        self.keys: list[tuple[dict[str, Any], float]] = []
        self.returned = 0  # items returned (Query/Scan ReturnedItemCount)

    @property
    def table(self) -> str:
        return self.info.name

    def add(self, units: float, key: dict[str, Any] | None = None) -> "Usage":
        self.table_units += units
        if key is not None:
            self.keys.append((key, units))
        return self

    def add_gsi(self, name: str, units: float) -> "Usage":
        if self.gsi is None:
            self.gsi = {}
        self.gsi[name] = self.gsi.get(name, 0.0) + units
        return self

    def add_lsi(self, name: str, units: float) -> "Usage":
        if self.lsi is None:
            self.lsi = {}
        self.lsi[name] = self.lsi.get(name, 0.0) + units
        return self

    @property
    def total(self) -> float:
        total = self.table_units
        if self.gsi:
            total += sum(self.gsi.values())
        if self.lsi:
            total += sum(self.lsi.values())
        return total

    def _units(self, units: float) -> dict[str, Any]:
        out: dict[str, Any] = {"CapacityUnits": units}
        if self.transactional:
            out["ReadCapacityUnits" if self.kind == READ else "WriteCapacityUnits"] = units
        return out

    def render(self, mode: str) -> dict[str, Any]:
        out: dict[str, Any] = {"TableName": self.info.name}
        out.update(self._units(self.total))
        if mode == "INDEXES":
            out["Table"] = self._units(self.table_units)
            if self.lsi:
                out["LocalSecondaryIndexes"] = {n: self._units(u) for n, u in self.lsi.items()}
            if self.gsi:
                out["GlobalSecondaryIndexes"] = {n: self._units(u) for n, u in self.gsi.items()}
        return out


# --- the current request's meter ------------------------------------------------------

class Meter:
    """Everything one request consumed; read by observe.py after the operation."""

    __slots__ = ("usages",)

    def __init__(self) -> None:
        self.usages: list[Usage] = []


_local = threading.local()


def begin() -> Meter:
    meter = Meter()
    _local.meter = meter
    return meter


def end() -> None:
    _local.meter = None


def record(usage: Usage) -> None:
    meter = getattr(_local, "meter", None)
    if meter is not None:
        meter.usages.append(usage)


def report(req: dict[str, Any], usage: Usage) -> dict[str, Any] | None:
    """Record ``usage`` for this request; the ConsumedCapacity to answer (None: not asked)."""
    record(usage)
    mode = req.get("ReturnConsumedCapacity", "NONE")
    if mode == "NONE":
        return None
    return usage.render(mode)


def report_many(req: dict[str, Any], usages: list[Usage]) -> list[dict[str, Any]] | None:
    """As ``report``, for the multi-table operations (a list, one entry per table)."""
    for usage in usages:
        record(usage)
    mode = req.get("ReturnConsumedCapacity", "NONE")
    if mode == "NONE":
        return None
    return [u.render(mode) for u in usages]


def attach(out: dict[str, Any], req: dict[str, Any], usage: Usage) -> dict[str, Any]:
    cap = report(req, usage)
    if cap is not None:
        out["ConsumedCapacity"] = cap
    return out
