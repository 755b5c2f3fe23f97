"""BatchGetItem and BatchWriteItem against the running server."""
from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from conftest import INVALID, N, S, create_table, error_of, expect_error, unique_name


def test_batch_write_and_get(dynamodb, hash_table, range_table):
    r = dynamodb.batch_write_item(RequestItems={
        hash_table: [{"PutRequest": {"Item": {"pk": S(f"b{i}"), "v": N(i), "w": S("x")}}} for i in range(20)],
        range_table: [{"PutRequest": {"Item": {"pk": S("b"), "sk": N(i)}}} for i in range(5)],
    }, ReturnConsumedCapacity="TOTAL")
    assert r["UnprocessedItems"] == {}
    assert sorted((c["TableName"], c["CapacityUnits"]) for c in r["ConsumedCapacity"]) == \
        sorted([(hash_table, 20.0), (range_table, 5.0)])
    # Puts and deletes mixed in one request.
    dynamodb.batch_write_item(RequestItems={hash_table: [
        {"DeleteRequest": {"Key": {"pk": S("b0")}}}, {"PutRequest": {"Item": {"pk": S("b1"), "v": N(100)}}},
        {"DeleteRequest": {"Key": {"pk": S("never-existed")}}}]})
    r = dynamodb.batch_get_item(RequestItems={
        hash_table: {"Keys": [{"pk": S(f"b{i}")} for i in range(3)] + [{"pk": S("missing")}],
                     "ProjectionExpression": "#v", "ExpressionAttributeNames": {"#v": "v"}, "ConsistentRead": True},
        range_table: {"Keys": [{"pk": S("b"), "sk": N(i)} for i in range(5)], "ProjectionExpression": "sk"},
    }, ReturnConsumedCapacity="TOTAL")
    assert sorted(r["Responses"][hash_table], key=lambda i: i["v"]["N"]) == [{"v": N(100)}, {"v": N(2)}]
    assert sorted(int(i["sk"]["N"]) for i in r["Responses"][range_table]) == [0, 1, 2, 3, 4]
    assert all(set(i) == {"sk"} for i in r["Responses"][range_table])
    assert r["UnprocessedKeys"] == {}
    caps = {c["TableName"]: c["CapacityUnits"] for c in r["ConsumedCapacity"]}
    assert caps == {hash_table: 4.0, range_table: 2.5}  # per item: 1 consistent, 0.5 eventually


def test_batch_get_limits(dynamodb, hash_table, range_table):
    keys = [{"pk": S(f"k{i}")} for i in range(100)]
    r = dynamodb.batch_get_item(RequestItems={hash_table: {"Keys": keys}})
    assert r["Responses"][hash_table] == [] and r["UnprocessedKeys"] == {}
    expect_error(dynamodb.batch_get_item, "Too many items requested for the BatchGetItem call",
                 RequestItems={hash_table: {"Keys": keys[:60]}, range_table: {
                     "Keys": [{"pk": S("x"), "sk": N(i)} for i in range(41)]}})
    expect_error(dynamodb.batch_get_item, "Provided list of item keys contains duplicates",
                 RequestItems={hash_table: {"Keys": [{"pk": S("a")}, {"pk": S("a")}]}})
    expect_error(dynamodb.batch_get_item, "Provided list of item keys contains duplicates",
                 RequestItems={range_table: {"Keys": [{"pk": S("a"), "sk": N("1.0")}, {"sk": N(1), "pk": S("a")}]}})
    expect_error(dynamodb.batch_get_item, "The provided key element does not match the schema",
                 RequestItems={hash_table: {"Keys": [{"pk": N(1)}]}})
    expect_error(dynamodb.batch_get_item, "Requested resource not found", "ResourceNotFoundException",
                 RequestItems={"no-such-table-bg": {"Keys": [{"pk": S("a")}]}})
    expect_error(dynamodb.batch_get_item, "Can not use both expression and non-expression parameters in the same "
                 "request: Non-expression parameters: {AttributesToGet} Expression parameters: {ProjectionExpression}",
                 RequestItems={hash_table: {"Keys": [{"pk": S("a")}], "AttributesToGet": ["a"],
                                            "ProjectionExpression": "a"}})
    # ... also when each table's block is consistent but the request mixes both kinds
    expect_error(dynamodb.batch_get_item, "Can not use both expression and non-expression parameters in the same "
                 "request: Non-expression parameters: {AttributesToGet} Expression parameters: {ProjectionExpression}",
                 RequestItems={hash_table: {"Keys": [{"pk": S("a")}], "ProjectionExpression": "pk"},
                               range_table: {"Keys": [{"pk": S("a"), "sk": N(1)}], "AttributesToGet": ["pk"]}})


def test_batch_get_validation_order(dynamodb, hash_table):
    # per table, as AWS orders them (dynalite's batchGetItem.js, recorded from DynamoDB): duplicate
    # AttributesToGet names and the expression maps before the keys and their duplicates
    twice = [{"pk": S("a")}, {"pk": S("a")}]
    expect_error(dynamodb.batch_get_item, INVALID + "Duplicate value in attribute name: v",
                 RequestItems={hash_table: {"Keys": twice, "AttributesToGet": ["v", "v"]}})
    expect_error(dynamodb.batch_get_item, "ExpressionAttributeNames can only be specified when using expressions",
                 RequestItems={hash_table: {"Keys": twice, "ExpressionAttributeNames": {"#v": "v"}}})
    expect_error(dynamodb.batch_get_item, "ExpressionAttributeNames must not be empty",
                 RequestItems={hash_table: {"Keys": twice, "ProjectionExpression": "v", "ExpressionAttributeNames": {}}})
    expect_error(dynamodb.batch_get_item, "Provided list of item keys contains duplicates",
                 RequestItems={hash_table: {"Keys": twice, "ProjectionExpression": "v"}})


def test_batch_get_sixteen_megabytes(dynamodb):
    table = create_table(dynamodb, unique_name("big"))
    try:
        item_bytes = 400 * 1024 - 100
        for start in range(0, 44, 11):
            dynamodb.batch_write_item(RequestItems={table: [
                {"PutRequest": {"Item": {"pk": S(f"k{i:02d}"), "d": S("x" * (item_bytes - 4 - 1))}}}
                for i in range(start, min(start + 11, 44))]})
        keys = [{"pk": S(f"k{i:02d}")} for i in range(44)]
        r = dynamodb.batch_get_item(RequestItems={table: {"Keys": keys, "ProjectionExpression": "pk, d"}})
        got = r["Responses"][table]
        assert len(got) == (16 * 1024 * 1024) // item_bytes  # as many as fit in 16 MB
        rest = r["UnprocessedKeys"][table]
        assert rest["ProjectionExpression"] == "pk, d"
        assert {k["pk"]["S"] for k in rest["Keys"]} | {i["pk"]["S"] for i in got} == {f"k{i:02d}" for i in range(44)}
        r2 = dynamodb.batch_get_item(RequestItems=r["UnprocessedKeys"])
        assert len(r2["Responses"][table]) == len(rest["Keys"]) and r2["UnprocessedKeys"] == {}
    finally:
        dynamodb.delete_table(TableName=table)


def test_batch_write_limits(dynamodb, hash_table, range_table):
    puts = [{"PutRequest": {"Item": {"pk": S(f"w{i}")}}} for i in range(26)]
    dynamodb.batch_write_item(RequestItems={hash_table: puts[:25]})
    with pytest.raises(ClientError) as info:
        dynamodb.batch_write_item(RequestItems={hash_table: puts})
    code, message = error_of(info)
    assert code == "ValidationException"
    assert message.startswith("1 validation error detected: Value '{" + hash_table + "=[")
    assert message.endswith("]}' at 'requestItems' failed to satisfy constraint: Map value must satisfy constraint: "
                            "[Member must have length less than or equal to 25, Member must have length greater "
                            "than or equal to 1]")
    expect_error(dynamodb.batch_write_item, "Too many items requested for the BatchWriteItem call",
                 RequestItems={hash_table: puts[:20], range_table: [
                     {"PutRequest": {"Item": {"pk": S("x"), "sk": N(i)}}} for i in range(6)]})
    expect_error(dynamodb.batch_write_item, "Provided list of item keys contains duplicates",
                 RequestItems={hash_table: [{"PutRequest": {"Item": {"pk": S("d"), "a": N(1)}}},
                                            {"DeleteRequest": {"Key": {"pk": S("d")}}}]})
    expect_error(dynamodb.batch_write_item, "Item size has exceeded the maximum allowed size",
                 RequestItems={hash_table: [{"PutRequest": {"Item": {"pk": S("big"), "d": S("x" * 409600)}}}]})
    # A PutRequest's missing or mistyped key reads as a schema mismatch, unlike PutItem's (as
    # captured from DynamoDB by the paritysuite conformance suite, tier3 batchWriteItem)
    expect_error(dynamodb.batch_write_item, "The provided key element does not match the schema",
                 RequestItems={range_table: [{"PutRequest": {"Item": {"pk": S("a")}}}]})
    expect_error(dynamodb.batch_write_item, "The provided key element does not match the schema",
                 RequestItems={range_table: [{"DeleteRequest": {"Key": {"pk": S("a")}}}]})
    expect_error(dynamodb.batch_write_item, "The provided key element does not match the schema",
                 RequestItems={hash_table: [{"PutRequest": {"Item": {"pk": N(1)}}}]})
    expect_error(dynamodb.batch_write_item, "The provided key element does not match the schema",
                 RequestItems={hash_table: [{"PutRequest": {"Item": {"pk": {"L": [S("a")]}}}}]})
    expect_error(dynamodb.batch_write_item, "Requested resource not found", "ResourceNotFoundException",
                 RequestItems={"no-such-table-bw": [{"PutRequest": {"Item": {"pk": S("a")}}}]})
    # A rejected batch wrote nothing.
    assert "Item" not in dynamodb.get_item(TableName=hash_table, Key={"pk": S("d")})


def test_batch_writer_and_resource(resource, range_table):
    table = resource.Table(range_table)
    with table.batch_writer(overwrite_by_pkeys=["pk", "sk"]) as writer:
        for i in range(130):
            writer.put_item(Item={"pk": "bw", "sk": i, "payload": "p" * (i % 7)})
        writer.put_item(Item={"pk": "bw", "sk": 0, "payload": "last"})  # overwrites within a batch
        writer.delete_item(Key={"pk": "bw", "sk": 129})
    from boto3.dynamodb.conditions import Key
    items = []
    kw = {"KeyConditionExpression": Key("pk").eq("bw")}
    while True:
        r = table.query(**kw)
        items += r["Items"]
        if "LastEvaluatedKey" not in r:
            break
        kw["ExclusiveStartKey"] = r["LastEvaluatedKey"]
    assert [int(i["sk"]) for i in items] == list(range(129))
    assert items[0]["payload"] == "last"
    got = resource.batch_get_item(RequestItems={range_table: {"Keys": [{"pk": "bw", "sk": i} for i in (1, 2, 999)]}})
    assert sorted(int(i["sk"]) for i in got["Responses"][range_table]) == [1, 2]
