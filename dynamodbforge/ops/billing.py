"""Billing modes on CreateTable/UpdateTable: OnDemandThroughput and switch limits.

* OnDemandThroughput (MaxReadRequestUnits / MaxWriteRequestUnits, -1: no maximum) is
  kept in the description of PAY_PER_REQUEST tables, as DescribeTable reports it.
* "You can switch tables from provisioned capacity mode to on-demand mode up to four
  times in a 24-hour rolling window. You can switch tables from on-demand mode to
  provisioned capacity mode at any time." (Developer Guide, "Considerations when
  switching capacity modes").  The times of the switches to on-demand are kept in the
  private description field ``_OnDemandSwitches``.
"""
from __future__ import annotations

from typing import Any

from dynamodbforge import errors

MAX_SWITCHES_TO_ON_DEMAND = 4
WINDOW_SECONDS = 24 * 3600
_SWITCHES = "_OnDemandSwitches"


def _on_demand(spec: dict[str, Any] | None, current: dict[str, Any] | None = None) -> dict[str, Any]:
    base = dict(current or {"MaxReadRequestUnits": -1, "MaxWriteRequestUnits": -1})
    for name in ("MaxReadRequestUnits", "MaxWriteRequestUnits"):
        if spec and name in spec:
            base[name] = int(spec[name])
    return {"MaxReadRequestUnits": base["MaxReadRequestUnits"], "MaxWriteRequestUnits": base["MaxWriteRequestUnits"]}


def on_create_table(req: dict[str, Any], desc: dict[str, Any]) -> None:
    if req.get("BillingMode") == "PAY_PER_REQUEST":
        desc["OnDemandThroughput"] = _on_demand(req.get("OnDemandThroughput"))


def on_switch_to_on_demand(desc: dict[str, Any], now: float) -> None:
    """Count one more switch from PROVISIONED, refusing a fifth within 24 hours."""
    recent = [t for t in desc.get(_SWITCHES, ()) if now - t < WINDOW_SECONDS]
    if len(recent) >= MAX_SWITCHES_TO_ON_DEMAND:
        raise errors.limit_exceeded(
            "Subscriber limit exceeded: Update to PayPerRequest mode are limited to "
            f"{MAX_SWITCHES_TO_ON_DEMAND} times in 1 day(s)."
        )
    desc[_SWITCHES] = recent + [now]


def on_update_table(req: dict[str, Any], desc: dict[str, Any]) -> None:
    """After the billing mode was settled: keep OnDemandThroughput in step with it."""
    on_demand = desc.get("BillingModeSummary", {}).get("BillingMode") == "PAY_PER_REQUEST"
    if on_demand:
        desc["OnDemandThroughput"] = _on_demand(req.get("OnDemandThroughput"), desc.get("OnDemandThroughput"))
    else:
        desc.pop("OnDemandThroughput", None)
