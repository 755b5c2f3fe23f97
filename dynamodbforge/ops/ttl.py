"""UpdateTimeToLive and DescribeTimeToLive.

A table has at most one TTL attribute.  UpdateTimeToLive records it as ENABLED or
DISABLED at once: that is what DynamoDB's DescribeTimeToLive shows right after the call
(ScyllaDB Alternator's test_ttl.py, run against DynamoDB, reads ENABLED and DISABLED
immediately; ENABLING and DISABLING are in the API but not what it answers).  Enabling
starts a fresh pass of the background sweeper (dynamodbforge/ttl/sweeper.py) in the same
batch.  The checks and their order follow AWS: the content checks ("already enabled",
"already disabled", "active on a different AttributeName") come before the cool-down
check, and only a successful change starts a cool-down.
"""
from __future__ import annotations

from typing import Any

from dynamodbforge import errors
from dynamodbforge.database import Database
from dynamodbforge.ttl import state
from dynamodbforge.ttl.state import DISABLED, DISABLING, ENABLED, ENABLING, TtlConfig


def update_time_to_live(db: Database, req: dict[str, Any]) -> dict[str, Any]:
    # Request shape (TimeToLiveSpecification, Enabled, AttributeName 1..255) is checked
    # by protocol/validate.py (UPDATE_TTL) before this runs.
    name = req["TableName"]
    spec = req["TimeToLiveSpecification"]
    enabled: bool = spec["Enabled"]
    attribute: str = spec["AttributeName"]
    with db.engine.write() as batch:
        info = db.catalog.get_table(name, batch)
        current = state.load_config(batch, info)
        active = current is not None and current.enabled
        if active and current is not None and current.attribute != attribute:
            raise errors.validation(
                f"TimeToLive is active on a different AttributeName: current AttributeName is {current.attribute}"
            )
        if enabled and active:
            raise errors.validation("TimeToLive is already enabled")
        if not enabled and not active:
            raise errors.validation("TimeToLive is already disabled")
        now = db.clock()
        if current is not None and now - current.changed_at < state.OPTIONS.cooldown_seconds:
            raise errors.validation("Time to live has been modified multiple times within a fixed interval")
        config = TtlConfig(info.name, attribute, enabled, ENABLED if enabled else DISABLED, now)
        batch.put(state.config_key(info), config.to_json())
        if enabled:  # items may carry the attribute already
            state.restart_sweep(batch, info.uid)
    return {"TimeToLiveSpecification": {"Enabled": enabled, "AttributeName": attribute}}


def describe_time_to_live(db: Database, req: dict[str, Any]) -> dict[str, Any]:
    name = req["TableName"]
    with db.engine.read() as reader:
        info = db.catalog.get_table(name, reader)
        config = state.load_config(reader, info)
    # A table whose TTL was never set, or was disabled, reads {"TimeToLiveStatus": "DISABLED"}
    # without AttributeName; else the attribute is named.  (ENABLING and DISABLING are only
    # found in data directories written by earlier versions, until the sweeper settles them.)
    if config is None or config.status == DISABLED:
        return {"TimeToLiveDescription": {"TimeToLiveStatus": DISABLED}}
    assert config.status in (ENABLING, ENABLED, DISABLING)
    return {"TimeToLiveDescription": {"TimeToLiveStatus": config.status, "AttributeName": config.attribute}}
