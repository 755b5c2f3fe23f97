"""Scan against the running server: paging, filters, projection, parallel segments."""
from __future__ import annotations

import pytest
from boto3.dynamodb.conditions import Attr
from botocore.exceptions import ClientError

from conftest import create_table, error_of, unique_name

INVALID = "One or more parameter values were invalid: "
N_ITEMS = 60


def S(v):
    return {"S": v}


def N(v):
    return {"N": str(v)}


@pytest.fixture(scope="module")
def scan_table(dynamodb):
    name = create_table(dynamodb, unique_name("scan"), range_key=("sk", "N"))
    items = [{"pk": S(f"p{i % 13}"), "sk": N(i), "even": {"BOOL": i % 2 == 0}, "v": S(f"v{i}")} for i in range(N_ITEMS)]
    for i in range(0, len(items), 25):
        dynamodb.batch_write_item(RequestItems={name: [{"PutRequest": {"Item": it}} for it in items[i:i + 25]]})
    yield name
    dynamodb.delete_table(TableName=name)


def scan_all(client, **kw):
    items, pages = [], 0
    while True:
        r = client.scan(**kw)
        pages += 1
        items += r["Items"]
        if "LastEvaluatedKey" not in r:
            return items, pages
        kw["ExclusiveStartKey"] = r["LastEvaluatedKey"]


def key(item):
    return item["pk"]["S"], int(item["sk"]["N"])


def expect_error(fn, message, code="ValidationException", **kw):
    with pytest.raises(ClientError) as info:
        fn(**kw)
    assert error_of(info) == (code, message)


def test_paging_every_page_size(dynamodb, scan_table):
    full = dynamodb.scan(TableName=scan_table)
    assert full["Count"] == full["ScannedCount"] == N_ITEMS and "LastEvaluatedKey" not in full
    order = [key(i) for i in full["Items"]]
    assert len(set(order)) == N_ITEMS
    for size in range(1, N_ITEMS + 2):
        items, pages = scan_all(dynamodb, TableName=scan_table, Limit=size)
        assert [key(i) for i in items] == order  # stable order across pages
        assert pages == N_ITEMS // size + 1


def test_filter_projection_count(dynamodb, resource, scan_table):
    r = dynamodb.scan(TableName=scan_table, Limit=10, FilterExpression="even = :t",
                      ExpressionAttributeValues={":t": {"BOOL": True}}, ProjectionExpression="sk, v")
    assert r["ScannedCount"] == 10 and r["Count"] == sum(1 for i in r["Items"])
    assert all(set(i) <= {"sk", "v"} and int(i["sk"]["N"]) % 2 == 0 for i in r["Items"])
    r = dynamodb.scan(TableName=scan_table, Select="COUNT", FilterExpression="even = :t",
                      ExpressionAttributeValues={":t": {"BOOL": False}})
    assert r["Count"] == N_ITEMS // 2 and r["ScannedCount"] == N_ITEMS and "Items" not in r
    items = resource.Table(scan_table).scan(FilterExpression=Attr("sk").lt(5) & Attr("pk").begins_with("p"))["Items"]
    assert sorted(int(i["sk"]) for i in items) == [0, 1, 2, 3, 4]
    pages = list(dynamodb.get_paginator("scan").paginate(TableName=scan_table, PaginationConfig={"PageSize": 7}))
    assert sum(p["Count"] for p in pages) == N_ITEMS and len(pages) == 9
    r = dynamodb.scan(TableName=scan_table, ReturnConsumedCapacity="TOTAL", ConsistentRead=True, Limit=3)
    assert r["ConsumedCapacity"] == {"TableName": scan_table, "CapacityUnits": 1.0}


@pytest.mark.parametrize("total", [1, 2, 3, 4, 7, 16, 100])
def test_parallel_scan_segments(dynamodb, scan_table, total):
    seen: list[tuple[str, int]] = []
    for segment in range(total):
        items, _ = scan_all(dynamodb, TableName=scan_table, Segment=segment, TotalSegments=total, Limit=4)
        whole = dynamodb.scan(TableName=scan_table, Segment=segment, TotalSegments=total)["Items"]
        assert [key(i) for i in items] == [key(i) for i in whole]  # stable across pages
        # A partition never straddles segments.
        parts = {i["pk"]["S"] for i in items}
        seen += [key(i) for i in items]
        for other in range(total):
            if other != segment and total <= 4:
                others = dynamodb.scan(TableName=scan_table, Segment=other, TotalSegments=total)["Items"]
                assert not parts & {i["pk"]["S"] for i in others}
    assert len(seen) == N_ITEMS and len(set(seen)) == N_ITEMS


def test_segment_validation(dynamodb, scan_table):
    expect_error(dynamodb.scan, "The TotalSegments parameter is required but was not present in the request "
                 "when Segment parameter is present", TableName=scan_table, Segment=0)
    expect_error(dynamodb.scan, "The Segment parameter is required but was not present in the request when "
                 "parameter TotalSegments is present", TableName=scan_table, TotalSegments=2)
    expect_error(dynamodb.scan, "The Segment parameter is zero-based and must be less than parameter "
                 "TotalSegments: Segment: 2 is not less than TotalSegments: 2", TableName=scan_table, Segment=2,
                 TotalSegments=2)
    # A start key from another segment.
    first = dynamodb.scan(TableName=scan_table, Segment=0, TotalSegments=2, Limit=1)["LastEvaluatedKey"]
    expect_error(dynamodb.scan, "The provided starting key is invalid: Invalid ExclusiveStartKey. Please use "
                 "ExclusiveStartKey with correct Segment. TotalSegments: 2 Segment: 1",
                 TableName=scan_table, Segment=1, TotalSegments=2, ExclusiveStartKey=first)
    expect_error(dynamodb.scan, "The provided starting key is invalid: The provided key element does not match the "
                 "schema", TableName=scan_table, ExclusiveStartKey={"pk": S("p1")})
    expect_error(dynamodb.scan, "ALL_PROJECTED_ATTRIBUTES can be used only when Querying using an IndexName",
                 TableName=scan_table, Select="ALL_PROJECTED_ATTRIBUTES")
    expect_error(dynamodb.scan, "Cannot specify the AttributesToGet when choosing to get only the Count",
                 TableName=scan_table, Select="COUNT", AttributesToGet=["v"])
    expect_error(dynamodb.scan, "Requested resource not found", "ResourceNotFoundException", TableName="no-such-scan")


def test_scan_one_megabyte(dynamodb):
    table = create_table(dynamodb, unique_name("smb"))
    try:
        size = 100 * 1024
        items = [{"pk": S(f"k{i:02d}"), "d": S("x" * (size - 4 - 1))} for i in range(25)]
        for i in range(0, 25, 10):
            dynamodb.batch_write_item(RequestItems={table: [{"PutRequest": {"Item": it}} for it in items[i:i + 10]]})
        r = dynamodb.scan(TableName=table, Select="COUNT")
        # 10 items are 1,024,000 bytes, the 11th reaches 1 MB: the page ends there.
        assert r["ScannedCount"] == 11 and "LastEvaluatedKey" in r
        got, pages = scan_all(dynamodb, TableName=table, ProjectionExpression="pk")
        assert len(got) == 25 and pages == 3
    finally:
        dynamodb.delete_table(TableName=table)


def test_validation_order(dynamodb, scan_table):
    """AWS's order (dynalite's scan.js, recorded from DynamoDB): duplicate AttributesToGet, then
    ScanFilter, then the Segment pair; expression errors before a missing table."""
    no_args = {"v": {"ComparisonOperator": "EQ"}}
    expect_error(dynamodb.scan, INVALID + "Duplicate value in attribute name: v", TableName=scan_table,
                 AttributesToGet=["v", "v"], ScanFilter={"v": {"ComparisonOperator": "EQ", "AttributeValueList": [{}]}})
    expect_error(dynamodb.scan, INVALID + "Invalid number of argument(s) for the EQ ComparisonOperator",
                 TableName=scan_table, Segment=1, ScanFilter=no_args)
    expect_error(dynamodb.scan, "The TotalSegments parameter is required but was not present in the request "
                 "when Segment parameter is present", TableName=scan_table, Segment=1,
                 FilterExpression="v = :a", ExpressionAttributeValues={":a": {}})
    expect_error(dynamodb.scan, 'Invalid FilterExpression: Syntax error; token: "4", near: "> 4"',
                 TableName="no-such-scan", FilterExpression="a > 4")
    expect_error(dynamodb.scan, "Value provided in ExpressionAttributeNames unused in expressions: keys: {#w}",
                 TableName="no-such-scan", FilterExpression="a = :a", ExpressionAttributeNames={"#w": "w"},
                 ExpressionAttributeValues={":a": S("x")})
