"""`ddbforge insights` and the serve options (capacity enforcement)."""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def add_serve_arguments(serve: argparse.ArgumentParser) -> None:
    serve.add_argument("--enforce-capacity", action="store_true",
                       help="throttle like DynamoDB: provisioned tables beyond their capacity (with burst), "
                       "every table beyond 3,000 RCU / 1,000 WCU per second on one partition key")
    serve.add_argument("--burst-seconds", type=float, default=300.0, metavar="SECONDS",
                       help="with --enforce-capacity: unused provisioned capacity kept for bursts "
                       "(default 300, DynamoDB's)")


def on_worker_start(args: argparse.Namespace, db: Any) -> None:
    from dynamodbforge import observe
    from dynamodbforge.throttling import Throttler

    observe.install_table_gauges(db)
    if getattr(args, "enforce_capacity", False):
        observe.THROTTLER = Throttler(burst_seconds=args.burst_seconds)


def add_command(sub: Any) -> None:
    cmd = sub.add_parser("insights", help="top accessed / throttled keys of a table (Contributor Insights)")
    cmd.add_argument("--endpoint", required=True, help="server URL, e.g. http://127.0.0.1:8000")
    cmd.add_argument("--table", required=True)
    cmd.add_argument("--top", type=int, default=10, help="how many keys per list (default 10)")
    cmd.add_argument("--window", type=float, default=60.0, metavar="SECONDS",
                     help="how far back to look (default 60, at most 600)")
    cmd.add_argument("--json", action="store_true", help="print the raw report")


def _fetch(args: argparse.Namespace) -> dict[str, Any]:
    import urllib.error  # here, not at the top: the server imports this module too (on_worker_start)
    import urllib.parse
    import urllib.request

    query = urllib.parse.urlencode({"table": args.table, "top": args.top, "window": args.window})
    url = args.endpoint.rstrip("/") + "/_ddbforge/insights?" + query
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        body = json.loads(exc.read() or b"{}")
        raise SystemExit(f"ddbforge insights: {body.get('message', exc)}") from None


def _key_text(key: dict[str, Any]) -> str:
    return ", ".join(f"{name}={next(iter(av.values()))}" for name, av in key.items())


def run(args: argparse.Namespace) -> int:
    report = _fetch(args)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    out = sys.stdout
    status = report["ContributorInsightsStatus"]
    print(f"Table {report['TableName']}: Contributor Insights {status}, last {report['WindowSeconds']:g} s",
          file=out)
    if status != "ENABLED":
        print("  (enable it with UpdateContributorInsights to collect keys)", file=out)
    sections = (
        ("Most accessed partition keys", "MostAccessedPartitionKeys", "CapacityUnits", "units"),
        ("Most accessed items (partition + sort key)", "MostAccessedItems", "CapacityUnits", "units"),
        ("Most throttled partition keys", "MostThrottledPartitionKeys", "Requests", "throttled"),
        ("Most throttled items (partition + sort key)", "MostThrottledItems", "Requests", "throttled"),
    )
    for title, field, measure, unit in sections:
        print(f"\n{title}:", file=out)
        rows = report.get(field) or []
        if not rows:
            print("  (none)", file=out)
        for rank, row in enumerate(rows, 1):
            error = f" (+/- {row['MaxError']:g})" if row.get("MaxError") else ""
            print(f"  {rank:>3}. {_key_text(row['Key'])}  {row[measure]:g} {unit}{error}", file=out)
    return 0
