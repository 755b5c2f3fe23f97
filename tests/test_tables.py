"""Table operations: CreateTable, DescribeTable, ListTables, UpdateTable, DeleteTable."""
from __future__ import annotations

import re

import pytest
from botocore.exceptions import ClientError

from conftest import REGION, create_table, error_of, unique_name

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def test_create_provisioned_table_description(dynamodb):
    name = unique_name()
    resp = dynamodb.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "ID", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "ID", "KeyType": "HASH"}],
        ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 5},
    )
    desc = resp["TableDescription"]
    assert desc["TableName"] == name
    assert desc["TableStatus"] == "CREATING"
    assert desc["AttributeDefinitions"] == [{"AttributeName": "ID", "AttributeType": "S"}]
    assert desc["KeySchema"] == [{"AttributeName": "ID", "KeyType": "HASH"}]
    assert desc["ProvisionedThroughput"] == {
        "NumberOfDecreasesToday": 0, "ReadCapacityUnits": 5, "WriteCapacityUnits": 5
    }
    assert desc["TableSizeBytes"] == 0 and desc["ItemCount"] == 0
    assert desc["TableArn"] == f"arn:aws:dynamodb:us-east-1:000000000000:table/{name}"
    assert UUID_RE.match(desc["TableId"])
    assert "BillingModeSummary" not in desc
    dynamodb.get_waiter("table_exists").wait(TableName=name)
    table = dynamodb.describe_table(TableName=name)["Table"]
    assert table["TableStatus"] == "ACTIVE"
    assert table["TableId"] == desc["TableId"]
    assert table["CreationDateTime"] == desc["CreationDateTime"]
    dynamodb.delete_table(TableName=name)


def test_create_on_demand_table(dynamodb):
    name = create_table(dynamodb, unique_name(), range_key=("sk", "N"))
    table = dynamodb.describe_table(TableName=name)["Table"]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert table["ProvisionedThroughput"] == {
        "NumberOfDecreasesToday": 0, "ReadCapacityUnits": 0, "WriteCapacityUnits": 0
    }
    assert table["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}
    ]
    dynamodb.delete_table(TableName=name)


def test_create_existing_table_is_resource_in_use(dynamodb, hash_table):
    with pytest.raises(ClientError) as exc:
        create_table(dynamodb, hash_table)
    assert error_of(exc) == ("ResourceInUseException", f"Table already exists: {hash_table}")


def test_describe_missing_table(dynamodb):
    with pytest.raises(ClientError) as exc:
        dynamodb.describe_table(TableName="no-such-table")
    assert error_of(exc) == (
        "ResourceNotFoundException", "Requested resource not found: Table: no-such-table not found"
    )


def test_delete_missing_table(dynamodb):
    with pytest.raises(ClientError) as exc:
        dynamodb.delete_table(TableName="no-such-table")
    assert error_of(exc) == (
        "ResourceNotFoundException", "Requested resource not found: Table: no-such-table not found"
    )


def test_delete_table_returns_deleting_and_removes_items(dynamodb):
    name = create_table(dynamodb, unique_name())
    dynamodb.put_item(TableName=name, Item={"pk": {"S": "a"}})
    resp = dynamodb.delete_table(TableName=name)
    assert resp["TableDescription"]["TableStatus"] == "DELETING"
    assert resp["TableDescription"]["ItemCount"] == 1
    dynamodb.get_waiter("table_not_exists").wait(TableName=name)
    create_table(dynamodb, name)
    assert "Item" not in dynamodb.get_item(TableName=name, Key={"pk": {"S": "a"}})
    dynamodb.delete_table(TableName=name)


def test_delete_table_describes_less_than_describe_table(dynamodb):
    """DeleteTable's TableDescription has no CreationDateTime, KeySchema, AttributeDefinitions
    or index descriptions (ScyllaDB Alternator's test_delete_table_description*, run against
    DynamoDB); it keeps the name, status, id, ARN, billing, throughput and counts."""
    name = unique_name("deldesc")
    dynamodb.create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "sk", "AttributeType": "S"},
                              {"AttributeName": "x", "AttributeType": "S"}],
        GlobalSecondaryIndexes=[{"IndexName": "gsi", "KeySchema": [{"AttributeName": "x", "KeyType": "HASH"}],
                                 "Projection": {"ProjectionType": "ALL"}}],
        LocalSecondaryIndexes=[{"IndexName": "lsi", "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"},
                                                                {"AttributeName": "x", "KeyType": "RANGE"}],
                                "Projection": {"ProjectionType": "ALL"}}])
    dynamodb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    described = dynamodb.describe_table(TableName=name)["Table"]
    got = dynamodb.delete_table(TableName=name)["TableDescription"]
    for field in ("CreationDateTime", "KeySchema", "AttributeDefinitions", "GlobalSecondaryIndexes",
                  "LocalSecondaryIndexes"):
        assert field in described and field not in got, field
    assert got["TableName"] == name and got["TableStatus"] == "DELETING"
    assert got["TableId"] == described["TableId"] and got["TableArn"] == described["TableArn"]
    assert got["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert got["ProvisionedThroughput"] == {"NumberOfDecreasesToday": 0, "ReadCapacityUnits": 0,
                                            "WriteCapacityUnits": 0}
    assert (got["ItemCount"], got["TableSizeBytes"]) == (0, 0)


def test_list_tables_paging(dynamodb):
    prefix = unique_name("list")
    names = sorted(create_table(dynamodb, f"{prefix}-{i}") for i in range(5))
    seen: list[str] = []
    start = None
    while True:
        kwargs = {"Limit": 2}
        if start:
            kwargs["ExclusiveStartTableName"] = start
        resp = dynamodb.list_tables(**kwargs)
        seen += resp["TableNames"]
        assert len(resp["TableNames"]) <= 2
        start = resp.get("LastEvaluatedTableName")
        if not start:
            break
        assert start == resp["TableNames"][-1]
    assert [n for n in seen if n.startswith(prefix)] == names
    assert seen == sorted(seen)
    paginated = [n for page in dynamodb.get_paginator("list_tables").paginate() for n in page["TableNames"]]
    assert paginated == seen
    for n in names:
        dynamodb.delete_table(TableName=n)


def test_item_count_and_size_are_live(dynamodb):
    name = create_table(dynamodb, unique_name())
    dynamodb.put_item(TableName=name, Item={"pk": {"S": "ab"}, "x": {"S": "hello"}})
    dynamodb.put_item(TableName=name, Item={"pk": {"S": "cd"}})
    table = dynamodb.describe_table(TableName=name)["Table"]
    assert table["ItemCount"] == 2
    # "pk"+"ab" = 4 bytes, "x"+"hello" = 6 bytes, "pk"+"cd" = 4 bytes
    assert table["TableSizeBytes"] == 14
    dynamodb.delete_item(TableName=name, Key={"pk": {"S": "ab"}})
    table = dynamodb.describe_table(TableName=name)["Table"]
    assert (table["ItemCount"], table["TableSizeBytes"]) == (1, 4)
    dynamodb.delete_table(TableName=name)


def test_item_size_follows_updates(dynamodb):
    """UpdateItem works out the new size from the old one and the attributes it changed."""
    name = create_table(dynamodb, unique_name())

    def size() -> int:
        return dynamodb.describe_table(TableName=name)["Table"]["TableSizeBytes"]

    key = {"pk": {"S": "ab"}}
    dynamodb.put_item(TableName=name, Item={**key, "m": {"M": {"x": {"N": "1"}}}, "s": {"S": "héllo"}})
    # pk 2+2; m 1 + (3 + (1 + 1 + 2)), a 1-digit number being 2 bytes; s 1 + 6 ("é" is 2 bytes)
    assert size() == 4 + 8 + 7
    dynamodb.update_item(TableName=name, Key=key, UpdateExpression="SET m.y = :l REMOVE s ADD n :n",
                         ExpressionAttributeValues={":l": {"L": [{"S": "ab"}, {"BOOL": True}]}, ":n": {"N": "12"}})
    # m 1 + (3 + 4 + (1 + 1 + (3 + (1 + 2) + (1 + 1)))) = 18; n 1 + 2
    assert size() == 4 + 18 + 3
    out = dynamodb.update_item(TableName=name, Key=key, AttributeUpdates={"big": {"Value": {"S": "z" * 1500}}},
                               ReturnConsumedCapacity="TOTAL")
    assert size() == 25 + 3 + 1500
    assert out["ConsumedCapacity"]["CapacityUnits"] == 2.0  # the new item, 1,528 bytes: two 1 KB units
    dynamodb.update_item(TableName=name, Key=key, UpdateExpression="REMOVE big, m.x")
    assert size() == 4 + (18 - 4) + 3
    dynamodb.delete_table(TableName=name)


def test_item_count_and_size_stay_exact_under_concurrent_writes(dynamodb):
    """Concurrent writes share commits (group commit); statistics must still add up exactly,
    including writes whose condition failed (they change nothing) and deletes."""
    from concurrent.futures import ThreadPoolExecutor

    name = create_table(dynamodb, unique_name())

    def work(t: int) -> None:
        for i in range(10):
            dynamodb.put_item(TableName=name, Item={"pk": {"S": f"{t:02d}{i}"}, "v": {"S": "abc"}})
        for i in range(3):  # already there: the condition fails, nothing is written
            with pytest.raises(ClientError):
                dynamodb.put_item(TableName=name, Item={"pk": {"S": f"{t:02d}{i}"}, "v": {"S": "zzzzzz"}},
                                  ConditionExpression="attribute_not_exists(pk)")
        for i in range(4):
            dynamodb.delete_item(TableName=name, Key={"pk": {"S": f"{t:02d}{i}"}})

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(work, range(16)))
    table = dynamodb.describe_table(TableName=name)["Table"]
    # 16 x 6 items of "pk"+"tti" (5 bytes) + "v"+"abc" (4 bytes)
    assert (table["ItemCount"], table["TableSizeBytes"]) == (96, 96 * 9)
    dynamodb.delete_table(TableName=name)


def test_update_table_throughput(dynamodb):
    name = unique_name()
    dynamodb.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 5},
    )
    resp = dynamodb.update_table(
        TableName=name, ProvisionedThroughput={"ReadCapacityUnits": 10, "WriteCapacityUnits": 5}
    )
    desc = resp["TableDescription"]
    assert desc["TableStatus"] == "UPDATING"
    assert desc["ProvisionedThroughput"]["ReadCapacityUnits"] == 10
    assert "LastIncreaseDateTime" in desc["ProvisionedThroughput"]
    with pytest.raises(ClientError) as exc:
        dynamodb.update_table(
            TableName=name, ProvisionedThroughput={"ReadCapacityUnits": 10, "WriteCapacityUnits": 5}
        )
    code, message = error_of(exc)
    assert code == "ValidationException"
    assert message.startswith("The provisioned throughput for the table will not change.")
    resp = dynamodb.update_table(TableName=name, BillingMode="PAY_PER_REQUEST")
    assert resp["TableDescription"]["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    with pytest.raises(ClientError) as exc:
        dynamodb.update_table(TableName=name, BillingMode="PROVISIONED")
    assert error_of(exc) == (
        "ValidationException",
        "One or more parameter values were invalid: ProvisionedThroughput must be specified when "
        "BillingMode is PROVISIONED",
    )
    dynamodb.delete_table(TableName=name)


def test_deletion_protection(dynamodb):
    name = create_table(dynamodb, unique_name(), DeletionProtectionEnabled=True)
    assert dynamodb.describe_table(TableName=name)["Table"]["DeletionProtectionEnabled"] is True
    with pytest.raises(ClientError) as exc:
        dynamodb.delete_table(TableName=name)
    assert error_of(exc) == (
        "ValidationException",
        "Resource cannot be deleted as it is currently protected against deletion. "
        "Disable deletion protection first.",
    )
    dynamodb.update_table(TableName=name, DeletionProtectionEnabled=False)
    dynamodb.delete_table(TableName=name)


def test_describe_endpoints(dynamodb, endpoint):
    resp = dynamodb.describe_endpoints()
    assert resp["Endpoints"] == [{"Address": endpoint.split("://", 1)[1], "CachePeriodInMinutes": 1440}]


def test_sse_specification_is_described(dynamodb):
    """Enabled: a KMS key (the AWS managed one unless named); disabled or absent: the AWS
    owned key, which DynamoDB leaves out of the description."""
    name = create_table(dynamodb, unique_name("sse"), SSESpecification={"Enabled": True})
    sse = dynamodb.describe_table(TableName=name)["Table"]["SSEDescription"]
    assert sse["Status"] == "ENABLED" and sse["SSEType"] == "KMS"
    assert sse["KMSMasterKeyArn"].startswith(f"arn:aws:kms:{REGION}:")
    dynamodb.update_table(TableName=name, SSESpecification={"Enabled": False})
    assert "SSEDescription" not in dynamodb.describe_table(TableName=name)["Table"]
    key = f"arn:aws:kms:{REGION}:000000000000:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    dynamodb.update_table(TableName=name, SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": key})
    assert dynamodb.describe_table(TableName=name)["Table"]["SSEDescription"] == {
        "Status": "ENABLED", "SSEType": "KMS", "KMSMasterKeyArn": key}
    dynamodb.delete_table(TableName=name)
    plain = create_table(dynamodb, unique_name("nosse"), SSESpecification={"Enabled": False})
    assert "SSEDescription" not in dynamodb.describe_table(TableName=plain)["Table"]
    dynamodb.delete_table(TableName=plain)
