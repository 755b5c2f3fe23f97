"""Create the benchmark table (hash pk S, range sk N) and load N items of ~200 bytes.

python bench/preload.py --endpoint http://127.0.0.1:8000 --items 10000
Items are keyed pk = "p<i>", sk = i % 10, matching bench/lua/*.lua.
"""
from __future__ import annotations

import argparse
import sys

import boto3


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--endpoint", default="http://127.0.0.1:8000")
    ap.add_argument("--table", default="bench")
    ap.add_argument("--items", type=int, default=10000)
    args = ap.parse_args()
    client = boto3.client("dynamodb", endpoint_url=args.endpoint, region_name="us-east-1",
                          aws_access_key_id="bench", aws_secret_access_key="bench")
    try:
        client.delete_table(TableName=args.table)
    except client.exceptions.ResourceNotFoundException:
        pass
    client.create_table(
        TableName=args.table,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "sk", "AttributeType": "N"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        BillingMode="PAY_PER_REQUEST",
    )
    client.get_waiter("table_exists").wait(TableName=args.table)
    payload = "x" * 150
    for i in range(args.items):
        client.put_item(TableName=args.table, Item={
            "pk": {"S": f"p{i}"}, "sk": {"N": str(i % 10)}, "payload": {"S": payload}, "c": {"N": "0"},
        })
        if i % 1000 == 0:
            print(f"\rloaded {i}/{args.items}", end="", file=sys.stderr, flush=True)
    print(f"\rloaded {args.items}/{args.items}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
