"""Issue 9: consumed capacity as AWS computes it, billing modes, limits, throttling.

Worked examples from the DynamoDB Developer Guide ("Read/write capacity mode",
"Capacity unit consumption"): reads are 4 KB units (eventually consistent: half,
transactional: double), writes 1 KB units of the larger of the old and new item,
Query/Scan add item sizes up before rounding, BatchGetItem rounds each item.
"""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import boto3
import pytest
from botocore.config import Config

from conftest import CREDENTIALS, REGION, create_table, error_of, make_client, unique_name
from server_process import ServerProcess

from dynamodbforge import capacity

EXTERNAL = bool(os.environ.get("DDBFORGE_ENDPOINT"))


def sized_item(pk: str, size: int, **extra) -> dict:
    """An item of exactly ``size`` bytes as DynamoDB counts them (names + values)."""
    base = 2 + len(pk)  # "pk" + value
    base += sum(len(k) + len(v["S"]) for k, v in extra.items())
    filler = size - base - len("data")
    assert filler >= 0
    return {"pk": {"S": pk}, "data": {"S": "x" * filler}, **extra}


# --- the math itself ----------------------------------------------------------------------

def test_unit_math_matches_the_developer_guide():
    assert capacity.read_units(3584, True) == 1.0  # 3.5 KB strongly consistent: 1 RCU
    assert capacity.read_units(3584, False) == 0.5  # eventually consistent: 0.5
    assert capacity.read_units(7 * 1024, True) == 2.0  # 7 KB: 2 RCU
    assert capacity.read_units(7 * 1024, False) == 1.0
    assert capacity.read_units(0, True) == 1.0  # at least one unit
    assert capacity.write_units(1536) == 2.0  # 1.5 KB: 2 WCU
    assert capacity.write_units(1024) == 1.0
    assert capacity.write_units(0) == 1.0
    assert capacity.read_units_for_raw(b"x" * 4096, True) == 1.0
    assert capacity.read_units_for_raw(b"x" * 4097, True) is None


# --- every operation ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def table(dynamodb):
    name = create_table(dynamodb, unique_name("cap"))
    yield name
    dynamodb.delete_table(TableName=name)


@pytest.fixture(scope="module")
def range_tbl(dynamodb):
    name = create_table(dynamodb, unique_name("capr"), range_key=("sk", "N"))
    yield name
    dynamodb.delete_table(TableName=name)


def test_get_item_reads_4kb_units(dynamodb, table):
    dynamodb.put_item(TableName=table, Item=sized_item("g35", 3584))
    dynamodb.put_item(TableName=table, Item=sized_item("g7", 7 * 1024))
    cases = [("g35", True, 1.0), ("g35", False, 0.5), ("g7", True, 2.0), ("g7", False, 1.0),
             ("missing", True, 1.0), ("missing", False, 0.5)]
    for pk, consistent, units in cases:
        out = dynamodb.get_item(TableName=table, Key={"pk": {"S": pk}}, ConsistentRead=consistent,
                                ReturnConsumedCapacity="TOTAL")
        assert out["ConsumedCapacity"] == {"TableName": table, "CapacityUnits": units}, (pk, consistent)


def test_writes_cost_1kb_units_of_the_larger_image(dynamodb, table):
    out = dynamodb.put_item(TableName=table, Item=sized_item("w15", 1536), ReturnConsumedCapacity="TOTAL")
    assert out["ConsumedCapacity"] == {"TableName": table, "CapacityUnits": 2.0}
    dynamodb.put_item(TableName=table, Item=sized_item("w5", 5 * 1024))
    # shrink a 5 KB item to about 3 KB: the larger (old) image counts -> 5 WCU
    out = dynamodb.update_item(TableName=table, Key={"pk": {"S": "w5"}}, UpdateExpression="SET #d = :v",
                               ExpressionAttributeNames={"#d": "data"},
                               ExpressionAttributeValues={":v": {"S": "y" * 3000}},
                               ReturnConsumedCapacity="TOTAL")
    assert out["ConsumedCapacity"]["CapacityUnits"] == 5.0
    out = dynamodb.delete_item(TableName=table, Key={"pk": {"S": "w15"}}, ReturnConsumedCapacity="TOTAL")
    assert out["ConsumedCapacity"]["CapacityUnits"] == 2.0
    out = dynamodb.delete_item(TableName=table, Key={"pk": {"S": "nothing"}}, ReturnConsumedCapacity="TOTAL")
    assert out["ConsumedCapacity"]["CapacityUnits"] == 1.0


def test_indexes_mode_adds_the_table_entry(dynamodb, table):
    out = dynamodb.put_item(TableName=table, Item=sized_item("ix", 100), ReturnConsumedCapacity="INDEXES")
    assert out["ConsumedCapacity"] == {"TableName": table, "CapacityUnits": 1.0, "Table": {"CapacityUnits": 1.0}}
    out = dynamodb.get_item(TableName=table, Key={"pk": {"S": "ix"}}, ReturnConsumedCapacity="INDEXES")
    assert out["ConsumedCapacity"] == {"TableName": table, "CapacityUnits": 0.5, "Table": {"CapacityUnits": 0.5}}
    out = dynamodb.get_item(TableName=table, Key={"pk": {"S": "ix"}}, ReturnConsumedCapacity="NONE")
    assert "ConsumedCapacity" not in out


def test_transactions_cost_double_and_name_the_unit_kind(dynamodb, table):
    dynamodb.put_item(TableName=table, Item=sized_item("t7", 7 * 1024))
    out = dynamodb.transact_get_items(TransactItems=[{"Get": {"TableName": table, "Key": {"pk": {"S": "t7"}}}}],
                                      ReturnConsumedCapacity="TOTAL")
    # 7 KB transactional read: 2 x 2 = 4 RCU (the AWS CLI example's shape)
    assert out["ConsumedCapacity"] == [{"TableName": table, "CapacityUnits": 4.0, "ReadCapacityUnits": 4.0}]
    out = dynamodb.transact_write_items(
        TransactItems=[{"Put": {"TableName": table, "Item": sized_item("t15", 1536)}},
                       {"Put": {"TableName": table, "Item": sized_item("t1", 500)}}],
        ReturnConsumedCapacity="INDEXES")
    # 1.5 KB -> 2 x 2 = 4, 0.5 KB -> 2 x 1 = 2
    assert out["ConsumedCapacity"] == [{"TableName": table, "CapacityUnits": 6.0, "WriteCapacityUnits": 6.0,
                                        "Table": {"CapacityUnits": 6.0, "WriteCapacityUnits": 6.0}}]


@pytest.fixture(scope="module")
def indexed(dynamodb):
    """A GSI projecting one attribute (INCLUDE) and an LSI projecting everything."""
    name = unique_name("capix")
    dynamodb.create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in ("pk", "sk", "g", "l")],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[{"IndexName": "gsi", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                                 "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["proj"]}}],
        LocalSecondaryIndexes=[{"IndexName": "lsi", "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"},
                                                                  {"AttributeName": "l", "KeyType": "RANGE"}],
                                "Projection": {"ProjectionType": "ALL"}}],
    )
    dynamodb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    yield name
    dynamodb.delete_table(TableName=name)


def _arms(cc: dict) -> tuple:
    """(total, table, gsi, lsi) of an INDEXES-mode ConsumedCapacity; None for an absent arm."""
    return (cc["CapacityUnits"], cc["Table"]["CapacityUnits"],
            cc.get("GlobalSecondaryIndexes", {}).get("gsi", {}).get("CapacityUnits"),
            cc.get("LocalSecondaryIndexes", {}).get("lsi", {}).get("CapacityUnits"))


def test_writes_charge_each_index_they_change(dynamodb, indexed):
    """The Developer Guide's rules: entering or leaving an index is one write, moving an
    entry (its index key changes) two, changing projected attributes only one; an index the
    item is in neither before nor after, or whose entry is unchanged, costs nothing."""
    def put(pk, **attrs):
        item = {"pk": {"S": pk}, "sk": {"S": "1"}, **{k: {"S": v} for k, v in attrs.items()}}
        return _arms(dynamodb.put_item(TableName=indexed, Item=item, ReturnConsumedCapacity="INDEXES")["ConsumedCapacity"])

    def update(pk, expr, values=None):
        extra = {"ExpressionAttributeValues": {k: {"S": v} for k, v in values.items()}} if values else {}
        out = dynamodb.update_item(TableName=indexed, Key={"pk": {"S": pk}, "sk": {"S": "1"}}, UpdateExpression=expr,
                                   ReturnConsumedCapacity="INDEXES", **extra)
        return _arms(out["ConsumedCapacity"])

    assert put("a", g="g1", proj="p") == (2.0, 1.0, 1.0, None)
    assert put("b", misc="o") == (1.0, 1.0, None, None)  # sparse: in no index
    assert put("c", l="L1") == (2.0, 1.0, None, 1.0)
    assert put("d", g="g", l="L", proj="p") == (3.0, 1.0, 1.0, 1.0)
    assert put("d", g="g", l="L", proj="p") == (1.0, 1.0, None, None)  # identical overwrite
    full = {"g": "g", "l": "L", "proj": "p", "misc": "o"}
    for pk in "efghi":
        put(pk, **full)
    assert update("e", "SET misc = :v", {":v": "o2"}) == (2.0, 1.0, None, 1.0)  # not projected in the GSI
    assert update("f", "SET proj = :v", {":v": "p2"}) == (3.0, 1.0, 1.0, 1.0)
    assert update("g", "SET g = :v", {":v": "moved"}) == (4.0, 1.0, 2.0, 1.0)  # delete + put
    assert update("h", "REMOVE g") == (3.0, 1.0, 1.0, 1.0)
    assert update("i", "SET l = :v", {":v": "L2"}) == (3.0, 1.0, None, 2.0)
    out = dynamodb.delete_item(TableName=indexed, Key={"pk": {"S": "a"}, "sk": {"S": "1"}}, ReturnConsumedCapacity="INDEXES")
    assert _arms(out["ConsumedCapacity"]) == (2.0, 1.0, 1.0, None)
    out = dynamodb.delete_item(TableName=indexed, Key={"pk": {"S": "b"}, "sk": {"S": "1"}}, ReturnConsumedCapacity="TOTAL")
    assert out["ConsumedCapacity"] == {"TableName": indexed, "CapacityUnits": 1.0}
    # TOTAL folds the index writes in, without the arms
    out = dynamodb.put_item(TableName=indexed, Item={"pk": {"S": "j"}, "sk": {"S": "1"}, "g": {"S": "x"}},
                            ReturnConsumedCapacity="TOTAL")
    assert out["ConsumedCapacity"] == {"TableName": indexed, "CapacityUnits": 2.0}


def test_index_entries_cost_1kb_units_of_what_they_project(dynamodb, indexed):
    big = {"pk": {"S": "big"}, "sk": {"S": "1"}, "g": {"S": "g"}, "l": {"S": "L"}, "data": {"S": "x" * 3000}}
    out = dynamodb.put_item(TableName=indexed, Item=big, ReturnConsumedCapacity="INDEXES")
    # 3,016 bytes in the table and the LSI (ALL): 3 units each; the GSI entry (its keys) 10 bytes: 1
    assert _arms(out["ConsumedCapacity"]) == (7.0, 3.0, 1.0, 3.0)


def test_batch_and_transaction_writes_charge_indexes(dynamodb, indexed):
    out = dynamodb.batch_write_item(RequestItems={indexed: [
        {"PutRequest": {"Item": {"pk": {"S": "ba"}, "sk": {"S": "1"}, "g": {"S": "g"}, "proj": {"S": "p"}}}},
        {"PutRequest": {"Item": {"pk": {"S": "bb"}, "sk": {"S": "1"}, "misc": {"S": "o"}}}},
    ]}, ReturnConsumedCapacity="INDEXES")
    assert out["ConsumedCapacity"] == [{"TableName": indexed, "CapacityUnits": 3.0, "Table": {"CapacityUnits": 2.0},
                                        "GlobalSecondaryIndexes": {"gsi": {"CapacityUnits": 1.0}}}]
    out = dynamodb.transact_write_items(TransactItems=[
        {"Put": {"TableName": indexed, "Item": {"pk": {"S": "ta"}, "sk": {"S": "1"}, "l": {"S": "L"}}}},
        {"ConditionCheck": {"TableName": indexed, "Key": {"pk": {"S": "ba"}, "sk": {"S": "1"}},
                            "ConditionExpression": "attribute_exists(pk)"}},
    ], ReturnConsumedCapacity="INDEXES")
    both = {"CapacityUnits": 2.0, "WriteCapacityUnits": 2.0}
    assert out["ConsumedCapacity"] == [{"TableName": indexed, "CapacityUnits": 6.0, "WriteCapacityUnits": 6.0,
                                        "Table": {"CapacityUnits": 4.0, "WriteCapacityUnits": 4.0},
                                        "LocalSecondaryIndexes": {"lsi": both}}]


def test_lsi_query_fetching_from_the_table_charges_each_fetched_item(dynamodb):
    """An LSI read of attributes the index does not project fetches each item from the table:
    the index read (entries summed, rounded once) plus one table read per item, each rounded
    up (dynalite's query.js, recorded from DynamoDB: 3 small items, 4 units, table 3, index 1)."""
    name = unique_name("caplsi")
    dynamodb.create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in ("a", "b", "d")],
        KeySchema=[{"AttributeName": "a", "KeyType": "HASH"}, {"AttributeName": "b", "KeyType": "RANGE"}],
        LocalSecondaryIndexes=[{"IndexName": "index2", "KeySchema": [{"AttributeName": "a", "KeyType": "HASH"},
                                                                     {"AttributeName": "d", "KeyType": "RANGE"}],
                                "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["c"]}}])
    for i in range(3):
        dynamodb.put_item(TableName=name, Item={"a": {"S": "x"}, "b": {"S": str(i)}, "c": {"S": "c"},
                                                "d": {"S": f"d{i}"}, "e": {"S": "e"}})
    query = dict(TableName=name, IndexName="index2", KeyConditionExpression="a = :a",
                 ExpressionAttributeValues={":a": {"S": "x"}})
    r = dynamodb.query(Select="ALL_ATTRIBUTES", ConsistentRead=True, ReturnConsumedCapacity="INDEXES", **query)
    assert r["Count"] == 3 and all(i["e"] == {"S": "e"} for i in r["Items"])
    assert r["ConsumedCapacity"] == {"TableName": name, "CapacityUnits": 4.0, "Table": {"CapacityUnits": 3.0},
                                     "LocalSecondaryIndexes": {"index2": {"CapacityUnits": 1.0}}}
    r = dynamodb.query(Select="ALL_ATTRIBUTES", ReturnConsumedCapacity="TOTAL", **query)
    assert r["ConsumedCapacity"] == {"TableName": name, "CapacityUnits": 2.0}  # eventually consistent: half
    r = dynamodb.query(ConsistentRead=True, ReturnConsumedCapacity="INDEXES", **query)  # projected only
    assert r["ConsumedCapacity"] == {"TableName": name, "CapacityUnits": 1.0, "Table": {"CapacityUnits": 0.0},
                                     "LocalSecondaryIndexes": {"index2": {"CapacityUnits": 1.0}}}
    dynamodb.delete_table(TableName=name)


def test_query_sums_item_sizes_then_rounds(dynamodb, range_tbl):
    with_items = [{"PutRequest": {"Item": {"pk": {"S": "q"}, "sk": {"N": str(i)}, "a": {"S": "x" * 34}}}}
                  for i in range(10)]  # 10 items of 40 bytes: pk(3) + sk(2+2) + a(1+34) ~ 40
    dynamodb.batch_write_item(RequestItems={range_tbl: with_items})
    out = dynamodb.query(TableName=range_tbl, KeyConditionExpression="pk = :p",
                         ExpressionAttributeValues={":p": {"S": "q"}}, ReturnConsumedCapacity="TOTAL")
    assert out["Count"] == 10
    assert out["ConsumedCapacity"] == {"TableName": range_tbl, "CapacityUnits": 0.5}  # 400 B -> 4 KB, halved
    out = dynamodb.query(TableName=range_tbl, KeyConditionExpression="pk = :p", ConsistentRead=True,
                         ExpressionAttributeValues={":p": {"S": "q"}}, ReturnConsumedCapacity="TOTAL")
    assert out["ConsumedCapacity"]["CapacityUnits"] == 1.0
    # the filter does not reduce the capacity: items are read before they are filtered
    out = dynamodb.query(TableName=range_tbl, KeyConditionExpression="pk = :p", FilterExpression="a = :n",
                         ExpressionAttributeValues={":p": {"S": "q"}, ":n": {"S": "nope"}},
                         ConsistentRead=True, ReturnConsumedCapacity="TOTAL")
    assert out["Count"] == 0 and out["ConsumedCapacity"]["CapacityUnits"] == 1.0


def test_query_counts_item_sizes_not_their_json(dynamodb, range_tbl):
    # 60 items of 40 small numbers: 199 bytes each as DynamoDB counts them (198 for sk 0):
    # pk 2+4, sk 2+2, n0 2+1, n1..n9 9 x (2+2), n10..n39 30 x (3+2); their JSON is ~3.5x that
    numbers = {f"n{j}": {"N": str(j)} for j in range(40)}
    for start in range(0, 60, 25):
        dynamodb.batch_write_item(RequestItems={range_tbl: [
            {"PutRequest": {"Item": {"pk": {"S": "nums"}, "sk": {"N": str(i)}, **numbers}}}
            for i in range(start, min(start + 25, 60))]})
    query = dict(TableName=range_tbl, KeyConditionExpression="pk = :p", ConsistentRead=True,
                 ExpressionAttributeValues={":p": {"S": "nums"}})
    out = dynamodb.query(**query, ReturnConsumedCapacity="TOTAL")
    assert out["Count"] == 60 and out["ConsumedCapacity"]["CapacityUnits"] == 3.0  # 11,939 bytes
    # 20 items: 3,979 bytes, one unit, though over 13 KB as JSON
    out = dynamodb.query(**query, Limit=20, ReturnConsumedCapacity="TOTAL")
    assert out["Count"] == 20 and out["ConsumedCapacity"]["CapacityUnits"] == 1.0
    # the same page without capacity (answered from the stored bytes) holds the same items
    plain = dynamodb.query(**query, Limit=20)
    assert plain["Items"] == out["Items"] and plain["LastEvaluatedKey"] == out["LastEvaluatedKey"]
    assert plain["Count"] == plain["ScannedCount"] == 20 and "ConsumedCapacity" not in plain


def test_scan_sums_item_sizes(dynamodb):
    name = create_table(dynamodb, unique_name("capscan"))
    try:
        for i in range(3):
            dynamodb.put_item(TableName=name, Item=sized_item(f"s{i}", 3000))  # 9000 B -> 3 units
        out = dynamodb.scan(TableName=name, ConsistentRead=True, ReturnConsumedCapacity="TOTAL")
        assert out["ConsumedCapacity"] == {"TableName": name, "CapacityUnits": 3.0}
        out = dynamodb.scan(TableName=name, ReturnConsumedCapacity="TOTAL")
        assert out["ConsumedCapacity"]["CapacityUnits"] == 1.5
    finally:
        dynamodb.delete_table(TableName=name)


def test_batches_round_each_item(dynamodb, table):
    puts = [{"PutRequest": {"Item": sized_item(f"b{i}", 1536)}} for i in range(3)]
    out = dynamodb.batch_write_item(RequestItems={table: puts}, ReturnConsumedCapacity="TOTAL")
    assert out["ConsumedCapacity"] == [{"TableName": table, "CapacityUnits": 6.0}]
    keys = [{"pk": {"S": f"b{i}"}} for i in range(3)] + [{"pk": {"S": "absent"}}]
    out = dynamodb.batch_get_item(RequestItems={table: {"Keys": keys, "ConsistentRead": True}},
                                  ReturnConsumedCapacity="INDEXES")
    # each 1.5 KB item rounds to 4 KB on its own: 3 units, plus 1 for the missing key
    assert out["ConsumedCapacity"] == [{"TableName": table, "CapacityUnits": 4.0, "Table": {"CapacityUnits": 4.0}}]


# --- billing modes and limits -------------------------------------------------------------

def test_describe_limits(dynamodb):
    out = dynamodb.describe_limits()
    out.pop("ResponseMetadata")
    assert out == {"AccountMaxReadCapacityUnits": 80000, "AccountMaxWriteCapacityUnits": 80000,
                   "TableMaxReadCapacityUnits": 40000, "TableMaxWriteCapacityUnits": 40000}


def test_on_demand_throughput_is_described_and_updated(dynamodb):
    name = create_table(dynamodb, unique_name("odt"), OnDemandThroughput={"MaxReadRequestUnits": 100})
    try:
        desc = dynamodb.describe_table(TableName=name)["Table"]
        assert desc["OnDemandThroughput"] == {"MaxReadRequestUnits": 100, "MaxWriteRequestUnits": -1}
        dynamodb.update_table(TableName=name, OnDemandThroughput={"MaxWriteRequestUnits": 50})
        desc = dynamodb.describe_table(TableName=name)["Table"]
        assert desc["OnDemandThroughput"] == {"MaxReadRequestUnits": 100, "MaxWriteRequestUnits": 50}
        dynamodb.update_table(TableName=name, BillingMode="PROVISIONED",
                              ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 5})
        desc = dynamodb.describe_table(TableName=name)["Table"]
        assert "OnDemandThroughput" not in desc
        assert desc["BillingModeSummary"]["BillingMode"] == "PROVISIONED"
        assert desc["ProvisionedThroughput"]["ReadCapacityUnits"] == 5
    finally:
        dynamodb.delete_table(TableName=name)


@pytest.mark.skipif(EXTERNAL, reason="switches billing modes five times (a day's allowance on AWS)")
def test_switching_to_on_demand_is_limited_to_four_times_a_day(dynamodb):
    name = unique_name("switch")
    dynamodb.create_table(TableName=name, AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                          KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                          ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1})
    try:
        for _ in range(4):
            dynamodb.update_table(TableName=name, BillingMode="PAY_PER_REQUEST")
            dynamodb.update_table(TableName=name, BillingMode="PROVISIONED",  # back: allowed at any time
                                  ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1})
        with pytest.raises(dynamodb.exceptions.ClientError) as excinfo:
            dynamodb.update_table(TableName=name, BillingMode="PAY_PER_REQUEST")
        code, message = error_of(excinfo)
        assert code == "LimitExceededException"
        assert message.startswith("Subscriber limit exceeded: Update to PayPerRequest mode are limited to")
    finally:
        dynamodb.delete_table(TableName=name)


# --- enforcement ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def enforcing():
    if EXTERNAL:
        pytest.skip("starts its own server with --enforce-capacity")
    server = ServerProcess(None, "--enforce-capacity", "--burst-seconds", "2").start()
    try:
        yield server
    finally:
        server.stop()


def test_provisioned_table_throttles_and_boto3_retries_recover(enforcing):
    client = make_client(enforcing.endpoint)
    name = unique_name("prov")
    client.create_table(TableName=name, AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                        ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1})
    throttled = []
    for i in range(10):  # 1 WCU with 2 s of burst: the third or fourth write is refused
        try:
            client.put_item(TableName=name, Item={"pk": {"S": f"k{i}"}})
        except client.exceptions.ProvisionedThroughputExceededException as exc:
            throttled.append(exc.response)
    assert throttled, "no write was throttled"
    err = throttled[0]["Error"]
    assert err["Message"] == ("The level of configured provisioned throughput for the table was exceeded. "
                              "Consider increasing your provisioning level with the UpdateTable API.")
    assert throttled[0]["ThrottlingReasons"][0]["reason"] == "TableWriteProvisionedThroughputExceeded"
    # reads have their own bucket
    client.get_item(TableName=name, Key={"pk": {"S": "k0"}})
    # boto3's standard retry mode backs off until the bucket refills, as against AWS
    retrying = boto3.client("dynamodb", endpoint_url=enforcing.endpoint, region_name=REGION,
                            config=Config(retries={"mode": "standard", "max_attempts": 10}), **CREDENTIALS)
    for i in range(3):
        retrying.put_item(TableName=name, Item={"pk": {"S": f"r{i}"}})
    # more capacity: no more throttling
    client.update_table(TableName=name, ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1000})
    for i in range(20):
        client.put_item(TableName=name, Item={"pk": {"S": f"after{i}"}})


def test_writes_to_an_under_provisioned_gsi_are_throttled(enforcing):
    """Index writes are charged to a provisioned GSI's own bucket, so writing items that
    enter a 1-WCU index is throttled while the table has capacity to spare."""
    client = make_client(enforcing.endpoint)
    name = unique_name("provgsi")
    client.create_table(
        TableName=name, AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                              {"AttributeName": "g", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        ProvisionedThroughput={"ReadCapacityUnits": 100, "WriteCapacityUnits": 1000},
        GlobalSecondaryIndexes=[{"IndexName": "small", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                                 "Projection": {"ProjectionType": "KEYS_ONLY"},
                                 "ProvisionedThroughput": {"ReadCapacityUnits": 1, "WriteCapacityUnits": 1}}])
    for i in range(10):  # not in the index: only the table's bucket pays
        client.put_item(TableName=name, Item={"pk": {"S": f"plain{i}"}})
    throttled = []
    for i in range(10):
        try:
            client.put_item(TableName=name, Item={"pk": {"S": f"k{i}"}, "g": {"S": "x"}})
        except client.exceptions.ProvisionedThroughputExceededException as exc:
            throttled.append(exc.response)
    assert throttled, "no write was throttled"
    assert throttled[0]["Error"]["Message"].startswith(
        "The level of configured provisioned throughput for one or more global secondary indexes")


def test_throttled_batch_write_returns_unprocessed_items(enforcing):
    client = make_client(enforcing.endpoint)
    name = unique_name("provb")
    client.create_table(TableName=name, AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                        ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1})
    other = create_table(client, unique_name("odb"))
    client.batch_write_item(RequestItems={name: [{"PutRequest": {"Item": {"pk": {"S": f"x{i}"}}}}
                                                 for i in range(5)]})  # drains the bucket
    out = client.batch_write_item(RequestItems={
        name: [{"PutRequest": {"Item": {"pk": {"S": "late"}}}}],
        other: [{"PutRequest": {"Item": {"pk": {"S": "fine"}}}}],
    })
    assert out["UnprocessedItems"] == {name: [{"PutRequest": {"Item": {"pk": {"S": "late"}}}}]}
    assert "Item" in client.get_item(TableName=other, Key={"pk": {"S": "fine"}})
    with pytest.raises(client.exceptions.ProvisionedThroughputExceededException):
        client.batch_write_item(RequestItems={name: [{"PutRequest": {"Item": {"pk": {"S": "late"}}}}]})


def test_hot_partition_key_throttles_alone_and_insights_name_it(enforcing, tmp_path):
    """Load test (loopback, a few seconds): one key driven past 1,000 WCU/s on an on-demand table."""
    client = make_client(enforcing.endpoint)
    name = create_table(client, unique_name("hot"))
    out = client.update_contributor_insights(TableName=name, ContributorInsightsAction="ENABLE")
    assert out["ContributorInsightsStatus"] == "ENABLING"
    big = "x" * (20 * 1024)  # 20 WCU per write: 50 writes a second exceed one partition's 1,000 WCU
    results = {"hot_ok": 0, "hot_throttled": 0, "cold_ok": 0, "cold_throttled": 0}
    lock = threading.Lock()
    stop = time.monotonic() + 3.0

    def hammer(kind: str, keys: list[str], payload: str) -> None:
        c = make_client(enforcing.endpoint)
        i = 0
        while time.monotonic() < stop:
            key = keys[i % len(keys)]
            i += 1
            try:
                c.put_item(TableName=name, Item={"pk": {"S": key}, "v": {"S": payload}})
                outcome = f"{kind}_ok"
            except c.exceptions.ThrottlingException as exc:
                assert exc.response["Error"]["Message"].startswith(
                    "Throughput exceeds the current capacity of your table or index.")
                outcome = f"{kind}_throttled"
            with lock:
                results[outcome] += 1

    threads = [threading.Thread(target=hammer, args=("hot", ["HOT"], big)) for _ in range(3)]
    threads.append(threading.Thread(target=hammer, args=("cold", [f"cold{i}" for i in range(200)], "small")))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results["hot_throttled"] > 0, results
    assert results["cold_throttled"] == 0, results
    assert results["cold_ok"] > 0, results

    report = subprocess.run(
        [sys.executable, "-m", "dynamodbforge", "insights", "--endpoint", enforcing.endpoint, "--table", name,
         "--top", "3", "--window", "60"], capture_output=True, text=True, timeout=30)
    assert report.returncode == 0, report.stderr
    text = report.stdout
    accessed = text.split("Most accessed partition keys:")[1].split("\n")[1]
    throttled = text.split("Most throttled partition keys:")[1].split("\n")[1]
    assert "pk=HOT" in accessed, text
    assert "pk=HOT" in throttled, text
