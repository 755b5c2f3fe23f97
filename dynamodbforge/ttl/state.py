"""TTL facts kept in the storage engine, and the expiry rule itself.

Everything lives in the engine (never in process memory) so every worker process
sharing a data directory sees the same TTL settings and sweep progress:

* ``CONFIG_PREFIX + uid``  the table's TTL setting (attribute, target, status, last change)
* ``SWEEP_PREFIX + uid``   the sweeper's progress on that table (cursor, passes, deletions)
* ``LEASE_KEY``            which worker process sweeps now, and until when

Rows are keyed by the table's internal uid, so a table that is deleted and created
again under the same name starts with TTL disabled, as in DynamoDB; rows of tables
that no longer exist are removed by the sweeper.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Callable

import orjson

from dynamodbforge.catalog import TableInfo

# One prefix byte ("E" for expiry) for every TTL row; item rows start with 0x01.
_BASE = b"\x00E"
CONFIG_PREFIX = _BASE + b"\x01"
SWEEP_PREFIX = _BASE + b"\x02"
LEASE_KEY = _BASE + b"\x03"

ENABLING, ENABLED, DISABLING, DISABLED = "ENABLING", "ENABLED", "DISABLING", "DISABLED"

# "Items with an expiration time more than five years in the past are not deleted"
# (DynamoDB Developer Guide, Time to Live): such a value is taken to be a mistake.
FIVE_YEARS_SECONDS = Decimal(5 * 365 * 86400 + 86400)  # five years, counting one leap day

SERVICE_IDENTITY = "dynamodb.amazonaws.com"  # userIdentity.principalId of TTL deletions


@dataclass(slots=True)
class Options:
    """Process-wide TTL settings, set once by ``ddbforge serve`` before serving."""

    # --ttl-hide-expired: reads skip expired items that the sweeper has not deleted yet
    # (DynamoDB itself returns them: "Items that have expired and not been deleted
    # will still show up in reads, queries, and scans").
    hide_expired: bool = False
    # UpdateTimeToLive: "Any additional UpdateTimeToLive calls for the same table during
    # this one hour duration result in a ValidationException".
    cooldown_seconds: float = 3600.0


OPTIONS = Options()


@dataclass(slots=True)
class TtlConfig:
    table: str
    attribute: str
    enabled: bool  # what the last successful UpdateTimeToLive asked for
    status: str  # ENABLING / ENABLED / DISABLING / DISABLED
    changed_at: float  # time of the last successful UpdateTimeToLive (cool-down)

    def to_json(self) -> bytes:
        return orjson.dumps(
            {"table": self.table, "attribute": self.attribute, "enabled": self.enabled,
             "status": self.status, "changed_at": self.changed_at}
        )

    @classmethod
    def from_json(cls, raw: bytes) -> "TtlConfig":
        d = orjson.loads(raw)
        return cls(d["table"], d["attribute"], d["enabled"], d["status"], d["changed_at"])


@dataclass(slots=True)
class SweepState:
    cursor: bytes | None = None  # last storage key examined in the current pass (None: start)
    passes: int = 0  # completed passes over the table
    last_pass_end: float = 0.0  # the sweep time (``now``) of the last completed pass
    deleted: int = 0  # items deleted by TTL in this table, all processes together
    touched: float = 0.0  # when the sweeper last worked on this table (round robin between tables)

    def to_json(self) -> bytes:
        return orjson.dumps(
            {"cursor": self.cursor.hex() if self.cursor is not None else None, "passes": self.passes,
             "last_pass_end": self.last_pass_end, "deleted": self.deleted, "touched": self.touched}
        )

    @classmethod
    def from_json(cls, raw: bytes) -> "SweepState":
        d = orjson.loads(raw)
        cursor = bytes.fromhex(d["cursor"]) if d.get("cursor") is not None else None
        return cls(cursor, d.get("passes", 0), d.get("last_pass_end", 0.0), d.get("deleted", 0),
                   d.get("touched", 0.0))


def uid_bytes(uid: int) -> bytes:
    return uid.to_bytes(8, "big")


def config_key(info: TableInfo) -> bytes:
    return CONFIG_PREFIX + uid_bytes(info.uid)


def sweep_key(uid: int) -> bytes:
    return SWEEP_PREFIX + uid_bytes(uid)


def load_config(reader: Any, info: TableInfo) -> TtlConfig | None:
    raw = reader.get(config_key(info))
    return TtlConfig.from_json(raw) if raw is not None else None


def load_sweep(reader: Any, uid: int) -> SweepState:
    raw = reader.get(sweep_key(uid))
    return SweepState.from_json(raw) if raw is not None else SweepState()


def restart_sweep(batch: Any, uid: int) -> None:
    """Start a fresh sweep pass over table ``uid`` (TTL was just enabled), keeping its count
    of deletions."""
    batch.put(sweep_key(uid), SweepState(deleted=load_sweep(batch, uid).deleted).to_json())


# --- the expiry rule -----------------------------------------------------------

def expiry_of(item: dict[str, Any], attribute: str) -> Decimal | None:
    """The item's expiry time (epoch seconds), or None when TTL ignores the item.

    TTL only considers a top-level attribute of type Number; an absent attribute, any
    other type (a String holding a date, a Number Set, ...) leaves the item alone.
    """
    av = item.get(attribute)
    if type(av) is not dict or len(av) != 1:
        return None
    text = av.get("N")
    if type(text) is not str:
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def is_expired(item: dict[str, Any], attribute: str, now: float) -> bool:
    """DynamoDB's rule: expired when the epoch-seconds value is less than the current
    time, but not when it is more than five years in the past."""
    expiry = expiry_of(item, attribute)
    if expiry is None:
        return False
    current = Decimal(now)
    return current - FIVE_YEARS_SECONDS <= expiry < current


def hidden_predicate(db: Any, info: TableInfo, reader: Any = None) -> Callable[[dict[str, Any]], bool] | None:
    """For the read paths: with --ttl-hide-expired, a predicate telling which of the
    table's items to leave out of GetItem/Query/Scan/BatchGetItem/TransactGetItems;
    None (nothing to hide) otherwise, which costs the read path one attribute test."""
    if not OPTIONS.hide_expired:
        return None
    config = load_config(reader if reader is not None else db.engine, info)
    if config is None or not config.enabled:
        return None
    attribute, now = config.attribute, db.clock()
    return lambda item: is_expired(item, attribute, now)
