"""The orders pipeline, end to end, in one command:  python examples/orders_pipeline/run.py

   PutItem/UpdateItem/DeleteItem ──▶ orders ──stream──▶ handlers.on_order ──▶ order_totals
                                                               └──────────────▶ notifications/*.json

Starts ``ddbforge serve`` (temporary data directory, free port, ``--config triggers.toml``),
creates the tables, writes orders, waits until the aggregate table has caught up and
checks it against the orders; exits 0 on success.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from decimal import Decimal

import boto3

HERE = os.path.dirname(os.path.abspath(__file__))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> int:
    work = tempfile.mkdtemp(prefix="orders-pipeline-")
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    notify_dir = os.path.join(work, "notifications")
    env = dict(os.environ, ORDERS_ENDPOINT=endpoint, ORDERS_NOTIFY_DIR=notify_dir)
    server = subprocess.Popen(
        [sys.executable, "-m", "dynamodbforge", "serve", "--port", str(port), "--data-dir", os.path.join(work, "data"),
         "--config", os.path.join(HERE, "triggers.toml"), "--log-level", "warning"],
        cwd=HERE, env=env, start_new_session=True,
    )
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(endpoint, timeout=0.5)
                break
            except OSError:
                time.sleep(0.05)
        db = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id="example", aws_secret_access_key="example")
        db.create_table(TableName="orders", BillingMode="PAY_PER_REQUEST",
                        AttributeDefinitions=[{"AttributeName": "order_id", "AttributeType": "S"}],
                        KeySchema=[{"AttributeName": "order_id", "KeyType": "HASH"}],
                        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
        db.create_table(TableName="order_totals", BillingMode="PAY_PER_REQUEST",
                        AttributeDefinitions=[{"AttributeName": "customer", "AttributeType": "S"}],
                        KeySchema=[{"AttributeName": "customer", "KeyType": "HASH"}])
        customers = ["alice", "bob", "carol"]
        for i in range(30):
            db.put_item(TableName="orders", Item={
                "order_id": {"S": f"o{i:03d}"}, "customer": {"S": customers[i % 3]},
                "amount": {"N": str(Decimal(10 + i) + Decimal("0.5"))}})
        db.update_item(TableName="orders", Key={"order_id": {"S": "o000"}}, UpdateExpression="SET amount = :a",
                       ExpressionAttributeValues={":a": {"N": "100"}})
        db.delete_item(TableName="orders", Key={"order_id": {"S": "o001"}})

        expected: dict[str, list[Decimal]] = {}
        for item in db.scan(TableName="orders")["Items"]:
            expected.setdefault(item["customer"]["S"], []).append(Decimal(item["amount"]["N"]))
        deadline = time.monotonic() + 30
        while True:
            totals = {it["customer"]["S"]: (Decimal(it["total"]["N"]), int(it["orders"]["N"]))
                      for it in db.scan(TableName="order_totals")["Items"] if "total" in it}
            want = {c: (sum(v), len(v)) for c, v in expected.items()}
            if totals == want:
                break
            if time.monotonic() > deadline:
                print(f"aggregate did not converge: {totals} != {want}", file=sys.stderr)
                return 1
            time.sleep(0.1)
        notes = sorted(os.listdir(notify_dir))
        for customer, (total, count) in sorted(totals.items()):
            print(f"{customer:>6}: {count} orders, total {total}")
        print(f"{len(notes)} notifications written to {notify_dir}")
        if len(notes) != 30:
            print("expected 30 notifications", file=sys.stderr)
            return 1
        print("orders pipeline OK")
        return 0
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
