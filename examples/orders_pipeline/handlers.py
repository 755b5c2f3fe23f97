"""Stream handler of the orders pipeline: keeps ``order_totals`` up to date and writes notifications.

Runs in DynamoDBForge's trigger runner (``ddbforge serve --config triggers.toml``) and
receives exactly what AWS Lambda receives for a DynamoDB stream: ``{"Records": [...]}``.

Delivery is at-least-once, in order per item, so the handler is idempotent: each
customer's total remembers the last stream sequence number applied to it and a
conditional update skips a record that was already applied.
"""
from __future__ import annotations

import json
import os
from decimal import Decimal

import boto3
from botocore.exceptions import ClientError

ENDPOINT = os.environ.get("ORDERS_ENDPOINT", "http://127.0.0.1:8000")
TOTALS_TABLE = os.environ.get("ORDERS_TOTALS_TABLE", "order_totals")
NOTIFY_DIR = os.environ.get("ORDERS_NOTIFY_DIR", "notifications")

_client = None


def client():
    global _client
    if _client is None:
        _client = boto3.client("dynamodb", endpoint_url=ENDPOINT, region_name="us-east-1",
                               aws_access_key_id="example", aws_secret_access_key="example")
    return _client


def _amount(image) -> Decimal:
    return Decimal(image["amount"]["N"]) if image and "amount" in image else Decimal(0)


def on_order(event, context):
    for record in event["Records"]:
        change = record["dynamodb"]
        new, old = change.get("NewImage"), change.get("OldImage")
        customer = (new or old)["customer"]["S"]
        delta = _amount(new) - _amount(old)
        count = {"INSERT": 1, "REMOVE": -1}.get(record["eventName"], 0)
        seq = int(change["SequenceNumber"])
        try:
            client().update_item(
                TableName=TOTALS_TABLE,
                Key={"customer": {"S": customer}},
                UpdateExpression="ADD #total :d, #orders :c SET last_seq = :s",
                ConditionExpression="attribute_not_exists(last_seq) OR last_seq < :s",
                ExpressionAttributeNames={"#total": "total", "#orders": "orders"},
                ExpressionAttributeValues={":d": {"N": str(delta)}, ":c": {"N": str(count)}, ":s": {"N": str(seq)}},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise  # the runner retries the batch
        if record["eventName"] == "INSERT":
            os.makedirs(NOTIFY_DIR, exist_ok=True)
            order_id = new["order_id"]["S"]
            with open(os.path.join(NOTIFY_DIR, f"{order_id}.json"), "w") as fh:
                json.dump({"order": order_id, "customer": customer, "amount": new["amount"]["N"],
                           "message": f"Thank you {customer}, order {order_id} received."}, fh)
    return {"batchItemFailures": []}
