"""Issue 5: global and local secondary indexes, maintained atomically, created and dropped online."""
from __future__ import annotations

import os
import random
import threading
import time

import pytest
from botocore.exceptions import ClientError

from conftest import create_table, error_of, make_client, unique_name
from server_process import ServerProcess

INVALID = "One or more parameter values were invalid: "
BIG = int(os.environ.get("DDBFORGE_INDEX_TEST_ITEMS", "20000"))


def _attrs(*pairs):
    return [{"AttributeName": n, "AttributeType": t} for n, t in pairs]


def _ks(h, r=None):
    out = [{"AttributeName": h, "KeyType": "HASH"}]
    if r:
        out.append({"AttributeName": r, "KeyType": "RANGE"})
    return out


def _wait_index(client, table, index, status="ACTIVE", timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        desc = client.describe_table(TableName=table)["Table"]
        gsis = {g["IndexName"]: g for g in desc.get("GlobalSecondaryIndexes", [])}
        if status is None and index not in gsis:
            return desc
        if status is not None and gsis.get(index, {}).get("IndexStatus") == status:
            return desc
        time.sleep(0.05)
    raise AssertionError(f"index {index} did not reach {status}")


def _full(call, **kw):
    items, key = [], None
    while True:
        if key:
            kw["ExclusiveStartKey"] = key
        resp = call(**kw)
        items += resp.get("Items", [])
        key = resp.get("LastEvaluatedKey")
        if not key:
            return items


@pytest.fixture(scope="module")
def table(dynamodb):
    name = unique_name("idx")
    dynamodb.create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=_attrs(("pk", "S"), ("sk", "N"), ("g", "S"), ("l", "S"), ("gs", "N")),
        KeySchema=_ks("pk", "sk"),
        LocalSecondaryIndexes=[
            {"IndexName": "lsi", "KeySchema": _ks("pk", "l"), "Projection": {"ProjectionType": "KEYS_ONLY"}},
        ],
        GlobalSecondaryIndexes=[
            {"IndexName": "gsi", "KeySchema": _ks("g", "gs"),
             "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["x"]}},
            {"IndexName": "gall", "KeySchema": _ks("g"), "Projection": {"ProjectionType": "ALL"}},
        ],
    )
    yield name
    dynamodb.delete_table(TableName=name)


def test_create_and_describe(dynamodb, table):
    desc = dynamodb.describe_table(TableName=table)["Table"]
    (lsi,) = desc["LocalSecondaryIndexes"]
    assert list(lsi) == ["IndexName", "KeySchema", "Projection", "IndexSizeBytes", "ItemCount", "IndexArn"]
    assert lsi["IndexArn"] == f"arn:aws:dynamodb:us-east-1:000000000000:table/{table}/index/lsi"
    gsi = desc["GlobalSecondaryIndexes"][0]
    assert list(gsi) == ["IndexName", "KeySchema", "Projection", "IndexStatus", "ProvisionedThroughput",
                         "IndexSizeBytes", "ItemCount", "IndexArn"]
    assert gsi["IndexStatus"] == "ACTIVE"
    assert gsi["Projection"] == {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["x"]}
    assert gsi["ProvisionedThroughput"] == {"NumberOfDecreasesToday": 0, "ReadCapacityUnits": 0,
                                            "WriteCapacityUnits": 0}


def test_provisioned_gsi_throughput(dynamodb):
    name = unique_name("idxp")
    resp = dynamodb.create_table(
        TableName=name, AttributeDefinitions=_attrs(("pk", "S"), ("g", "S")), KeySchema=_ks("pk"),
        ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 5},
        GlobalSecondaryIndexes=[{"IndexName": "gsi", "KeySchema": _ks("g"), "Projection": {"ProjectionType": "ALL"},
                                 "ProvisionedThroughput": {"ReadCapacityUnits": 3, "WriteCapacityUnits": 4}}],
    )
    gsi = resp["TableDescription"]["GlobalSecondaryIndexes"][0]
    assert gsi["IndexStatus"] == "CREATING"
    assert gsi["ProvisionedThroughput"] == {"NumberOfDecreasesToday": 0, "ReadCapacityUnits": 3,
                                            "WriteCapacityUnits": 4}
    dynamodb.delete_table(TableName=name)


def test_create_table_validation(dynamodb):
    def fails(**kw):
        with pytest.raises(ClientError) as info:
            dynamodb.create_table(TableName=unique_name("bad"), BillingMode="PAY_PER_REQUEST", **kw)
        return error_of(info)

    assert fails(AttributeDefinitions=_attrs(("a", "S"), ("b", "S")), KeySchema=_ks("a"),
                 GlobalSecondaryIndexes=[{"IndexName": "gg1", "KeySchema": _ks("a"),
                                          "Projection": {"ProjectionType": "ALL"}}]) == (
        "ValidationException",
        INVALID + "Some AttributeDefinitions are not used. AttributeDefinitions: [a, b], keys used: [a]")
    lsis = [{"IndexName": f"l{i}xx", "KeySchema": _ks("a", "b"), "Projection": {"ProjectionType": "ALL"}}
            for i in range(6)]
    assert fails(AttributeDefinitions=_attrs(("a", "S"), ("b", "S"), ("c", "S")), KeySchema=_ks("a", "c"),
                 LocalSecondaryIndexes=lsis) == (
        "ValidationException", INVALID + "Number of LocalSecondaryIndexes exceeds per-table limit of 5")
    assert fails(AttributeDefinitions=_attrs(("a", "S"), ("b", "S")), KeySchema=_ks("a", "b"),
                 LocalSecondaryIndexes=[{"IndexName": "lsi", "KeySchema": _ks("b", "a"),
                                         "Projection": {"ProjectionType": "ALL"}}]) == (
        "ValidationException",
        INVALID + "Index KeySchema does not have the same leading hash key as table KeySchema for index: lsi. "
        "index hash key: b, table hash key: a")


def test_sparse_types_and_counts(dynamodb, table):
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "s1"}, "sk": {"N": "1"}, "other": {"S": "v"}})
    with pytest.raises(ClientError) as info:
        dynamodb.put_item(TableName=table, Item={"pk": {"S": "s1"}, "sk": {"N": "2"}, "g": {"N": "5"}})
    assert error_of(info) == ("ValidationException",
                              INVALID + "Type mismatch for Index Key g Expected: S Actual: N IndexName: gsi")
    with pytest.raises(ClientError) as info:
        dynamodb.put_item(TableName=table, Item={"pk": {"S": "s1"}, "sk": {"N": "2"}, "l": {"S": ""}})
    assert error_of(info)[1] == (
        "One or more parameter values are not valid. A value specified for a secondary index key is not "
        "supported. The AttributeValue for a key attribute cannot contain an empty string value. "
        "IndexName: lsi, IndexKey: l")
    assert "Item" not in dynamodb.get_item(TableName=table, Key={"pk": {"S": "s1"}, "sk": {"N": "2"}})
    # g alone: in "gall" (hash g), not in "gsi" (needs g and gs)
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "s1"}, "sk": {"N": "3"}, "g": {"S": "sparse"}})
    got = dynamodb.query(TableName=table, IndexName="gall", KeyConditionExpression="g = :g",
                         ExpressionAttributeValues={":g": {"S": "sparse"}})
    assert got["Items"] == [{"pk": {"S": "s1"}, "sk": {"N": "3"}, "g": {"S": "sparse"}}]
    assert dynamodb.scan(TableName=table, IndexName="gsi", FilterExpression="g = :g",
                         ExpressionAttributeValues={":g": {"S": "sparse"}})["Count"] == 0
    # moving the key: update, then delete
    dynamodb.update_item(TableName=table, Key={"pk": {"S": "s1"}, "sk": {"N": "3"}},
                         UpdateExpression="SET g = :n", ExpressionAttributeValues={":n": {"S": "sparse2"}})
    for value, count in (("sparse", 0), ("sparse2", 1)):
        assert dynamodb.query(TableName=table, IndexName="gall", KeyConditionExpression="g = :g",
                              ExpressionAttributeValues={":g": {"S": value}})["Count"] == count
    dynamodb.delete_item(TableName=table, Key={"pk": {"S": "s1"}, "sk": {"N": "3"}})
    assert dynamodb.query(TableName=table, IndexName="gall", KeyConditionExpression="g = :g",
                          ExpressionAttributeValues={":g": {"S": "sparse2"}})["Count"] == 0


def test_index_key_errors_name_global_indexes_first_and_word_updates(dynamodb):
    """An attribute keying both an LSI and a GSI reports the GSI; an update that empties an
    index key says so in its own words; in a transaction a mistyped index key cancels with
    that action's reason and an empty one refuses the request (nubo-db's captures)."""
    name = unique_name("idxerr")
    dynamodb.create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=_attrs(("pk", "S"), ("sk", "S"), ("k", "S")), KeySchema=_ks("pk", "sk"),
        LocalSecondaryIndexes=[{"IndexName": "lsi1", "KeySchema": _ks("pk", "k"), "Projection": {"ProjectionType": "ALL"}}],
        GlobalSecondaryIndexes=[{"IndexName": "gsi1", "KeySchema": _ks("k"), "Projection": {"ProjectionType": "ALL"}}],
    )
    key = {"pk": {"S": "a"}, "sk": {"S": "1"}}
    mistyped = INVALID + "Type mismatch for Index Key k Expected: S Actual: N IndexName: gsi1"
    put_empty = ("One or more parameter values are not valid. A value specified for a secondary index key is not "
                 "supported. The AttributeValue for a key attribute cannot contain an empty string value. "
                 "IndexName: gsi1, IndexKey: k")
    update_empty = ("One or more parameter values are not valid. The update expression attempted to update a "
                    "secondary index key to a value that is not supported. The AttributeValue for a key attribute "
                    "cannot contain an empty string value.")
    for value, message in (({"N": "5"}, mistyped), ({"S": ""}, put_empty)):
        with pytest.raises(ClientError) as info:
            dynamodb.put_item(TableName=name, Item={**key, "k": value})
        assert error_of(info) == ("ValidationException", message)
        with pytest.raises(ClientError) as info:
            dynamodb.batch_write_item(RequestItems={name: [{"PutRequest": {"Item": {**key, "k": value}}}]})
        assert error_of(info) == ("ValidationException", message)
    set_k = {"TableName": name, "Key": key, "UpdateExpression": "SET k = :v"}
    with pytest.raises(ClientError) as info:
        dynamodb.update_item(**set_k, ExpressionAttributeValues={":v": {"S": ""}})
    assert error_of(info) == ("ValidationException", update_empty)
    with pytest.raises(ClientError) as info:
        dynamodb.update_item(**set_k, ExpressionAttributeValues={":v": {"N": "5"}})
    assert error_of(info) == ("ValidationException", mistyped)
    for action in ({"Put": {"TableName": name, "Item": {**key, "k": {"N": "5"}}}},
                   {"Update": {**set_k, "ExpressionAttributeValues": {":v": {"N": "5"}}}}):
        with pytest.raises(ClientError) as info:
            dynamodb.transact_write_items(TransactItems=[action])
        assert error_of(info)[0] == "TransactionCanceledException"
        assert info.value.response["CancellationReasons"] == [{"Code": "ValidationError", "Message": mistyped}]
    for action, message in (({"Put": {"TableName": name, "Item": {**key, "k": {"S": ""}}}}, put_empty),
                            ({"Update": {**set_k, "ExpressionAttributeValues": {":v": {"S": ""}}}}, update_empty)):
        with pytest.raises(ClientError) as info:
            dynamodb.transact_write_items(TransactItems=[action])
        assert error_of(info) == ("ValidationException", message)
    assert "Item" not in dynamodb.get_item(TableName=name, Key=key)
    dynamodb.delete_table(TableName=name)


def test_ties_page_stably(dynamodb, table):
    for i in range(30):
        dynamodb.put_item(TableName=table, Item={
            "pk": {"S": f"tie{i % 7}"}, "sk": {"N": str(i)}, "g": {"S": "tie"}, "gs": {"N": "1"},
            "x": {"N": str(i)}, "y": {"S": "not projected"}})
    pages, key = [], None
    while True:
        kw = {"ExclusiveStartKey": key} if key else {}
        resp = dynamodb.query(TableName=table, IndexName="gsi", KeyConditionExpression="g = :g AND gs = :s",
                              ExpressionAttributeValues={":g": {"S": "tie"}, ":s": {"N": "1"}}, Limit=4, **kw)
        pages.append(resp["Items"])
        key = resp.get("LastEvaluatedKey")
        if key:
            assert set(key) == {"g", "gs", "pk", "sk"}
        else:
            break
    items = [it for page in pages for it in page]
    assert len(items) == 30
    assert [(it["pk"]["S"], int(it["sk"]["N"])) for it in items] == sorted(
        (f"tie{i % 7}", i) for i in range(30))
    assert all(set(it) == {"pk", "sk", "g", "gs", "x"} for it in items)  # INCLUDE x, not y
    back = _full(dynamodb.query, TableName=table, IndexName="gsi", KeyConditionExpression="g = :g",
                 ExpressionAttributeValues={":g": {"S": "tie"}}, ScanIndexForward=False, Limit=7)
    assert back == items[::-1]


def test_index_read_rules(dynamodb, table):
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "r1"}, "sk": {"N": "1"}, "l": {"S": "b"},
                                             "g": {"S": "rules"}, "gs": {"N": "1"}, "big": {"S": "z" * 100}})
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "r1"}, "sk": {"N": "2"}, "l": {"S": "a"}})

    def err(op, **kw):
        with pytest.raises(ClientError) as info:
            getattr(dynamodb, op)(TableName=table, **kw)
        return error_of(info)

    q = {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "r1"}}}
    projected = dynamodb.query(IndexName="lsi", TableName=table, **q)["Items"]
    assert projected == [{"pk": {"S": "r1"}, "sk": {"N": "2"}, "l": {"S": "a"}},
                         {"pk": {"S": "r1"}, "sk": {"N": "1"}, "l": {"S": "b"}}]
    fetched = dynamodb.query(IndexName="lsi", TableName=table, Select="ALL_ATTRIBUTES", **q)["Items"]
    assert fetched[1]["big"] == {"S": "z" * 100}
    some = dynamodb.query(IndexName="lsi", TableName=table, ProjectionExpression="big", **q)["Items"]
    assert some == [{}, {"big": {"S": "z" * 100}}]  # fetched from the table: the LSI does not project it
    assert err("query", IndexName="gsi", Select="ALL_ATTRIBUTES", KeyConditionExpression="g = :g",
               ExpressionAttributeValues={":g": {"S": "rules"}}) == (
        "ValidationException", INVALID + "Select type ALL_ATTRIBUTES is not supported for global secondary "
        "index gsi because its projection type is not ALL")
    assert err("query", IndexName="gsi", ConsistentRead=True, KeyConditionExpression="g = :g",
               ExpressionAttributeValues={":g": {"S": "rules"}}) == (
        "ValidationException", "Consistent reads are not supported on global secondary indexes")
    assert err("scan", IndexName="nosuch") == (
        "ValidationException", "The table does not have the specified index: nosuch")
    assert err("scan", Select="ALL_PROJECTED_ATTRIBUTES") == (
        "ValidationException", "ALL_PROJECTED_ATTRIBUTES can be used only when Querying using an IndexName")
    # an LSI with ConsistentRead is fine
    assert dynamodb.query(IndexName="lsi", TableName=table, ConsistentRead=True, **q)["Count"] == 2
    cap = dynamodb.query(IndexName="gall", TableName=table, KeyConditionExpression="g = :g",
                         ExpressionAttributeValues={":g": {"S": "rules"}},
                         ReturnConsumedCapacity="INDEXES")["ConsumedCapacity"]
    assert cap["GlobalSecondaryIndexes"] == {"gall": {"CapacityUnits": 0.5}}


def test_parallel_scan_of_index(dynamodb, table):
    everything = _full(dynamodb.scan, TableName=table, IndexName="gall")
    seen = []
    for segment in range(4):
        seen += _full(dynamodb.scan, TableName=table, IndexName="gall", Segment=segment, TotalSegments=4, Limit=5)
    key = lambda it: (it["pk"]["S"], it["sk"]["N"])  # noqa: E731
    assert sorted(map(key, seen)) == sorted(map(key, everything))
    assert len(set(map(key, seen))) == len(seen)
    table_items = _full(dynamodb.scan, TableName=table)
    assert sorted(map(key, everything)) == sorted(key(it) for it in table_items if "g" in it)
    desc = dynamodb.describe_table(TableName=table)["Table"]
    gall = [g for g in desc["GlobalSecondaryIndexes"] if g["IndexName"] == "gall"][0]
    assert gall["ItemCount"] == len(everything)


def test_item_collection_metrics(dynamodb, table):
    resp = dynamodb.put_item(TableName=table, Item={"pk": {"S": "m1"}, "sk": {"N": "1"}},
                             ReturnItemCollectionMetrics="SIZE")
    assert resp["ItemCollectionMetrics"] == {"ItemCollectionKey": {"pk": {"S": "m1"}},
                                             "SizeEstimateRangeGB": [0.0, 1.0]}
    plain = create_table(dynamodb, unique_name("nolsi"))
    resp = dynamodb.put_item(TableName=plain, Item={"pk": {"S": "m1"}}, ReturnItemCollectionMetrics="SIZE")
    assert "ItemCollectionMetrics" not in resp
    dynamodb.delete_table(TableName=plain)


def test_item_collection_metrics_of_batches_and_transactions(dynamodb, table):
    resp = dynamodb.batch_write_item(
        RequestItems={table: [{"PutRequest": {"Item": {"pk": {"S": "m2"}, "sk": {"N": "1"}}}},
                              {"PutRequest": {"Item": {"pk": {"S": "m3"}, "sk": {"N": "1"}}}}]},
        ReturnItemCollectionMetrics="SIZE",
    )
    assert resp["ItemCollectionMetrics"] == {table: [
        {"ItemCollectionKey": {"pk": {"S": "m2"}}, "SizeEstimateRangeGB": [0.0, 1.0]},
        {"ItemCollectionKey": {"pk": {"S": "m3"}}, "SizeEstimateRangeGB": [0.0, 1.0]},
    ]}
    resp = dynamodb.transact_write_items(
        TransactItems=[{"Put": {"TableName": table, "Item": {"pk": {"S": "m4"}, "sk": {"N": "1"}}}}],
        ReturnItemCollectionMetrics="SIZE",
    )
    assert resp["ItemCollectionMetrics"] == {table: [
        {"ItemCollectionKey": {"pk": {"S": "m4"}}, "SizeEstimateRangeGB": [0.0, 1.0]},
    ]}


def test_item_collection_size_limit(tmp_path, monkeypatch):
    monkeypatch.setenv("DDBFORGE_ITEM_COLLECTION_LIMIT_BYTES", "2000")
    server = ServerProcess(None).start()
    try:
        client = make_client(server.endpoint)
        name = unique_name("coll")
        client.create_table(
            TableName=name, BillingMode="PAY_PER_REQUEST", AttributeDefinitions=_attrs(("pk", "S"), ("sk", "N"),
                                                                                       ("l", "S")),
            KeySchema=_ks("pk", "sk"),
            LocalSecondaryIndexes=[{"IndexName": "lsi", "KeySchema": _ks("pk", "l"),
                                    "Projection": {"ProjectionType": "ALL"}}])
        client.put_item(TableName=name, Item={"pk": {"S": "a"}, "sk": {"N": "1"}, "l": {"S": "x"},
                                              "pad": {"S": "p" * 600}})
        with pytest.raises(ClientError) as info:
            client.put_item(TableName=name, Item={"pk": {"S": "a"}, "sk": {"N": "2"}, "l": {"S": "y"},
                                                  "pad": {"S": "p" * 600}})
        assert error_of(info) == ("ItemCollectionSizeLimitExceededException", "Collection size exceeded.")
        client.put_item(TableName=name, Item={"pk": {"S": "b"}, "sk": {"N": "2"}, "pad": {"S": "p" * 600}})
        client.delete_item(TableName=name, Key={"pk": {"S": "a"}, "sk": {"N": "1"}})
        client.put_item(TableName=name, Item={"pk": {"S": "a"}, "sk": {"N": "2"}, "l": {"S": "y"},
                                              "pad": {"S": "p" * 600}})
    finally:
        server.stop()


def _expected(items):
    return sorted((it["pk"]["S"], it["n"]["S"]) for it in items if "n" in it and "S" in it["n"])


def test_online_create_while_writing(dynamodb):
    """An index created on a table with many items while writers run holds exactly the matching items."""
    name = create_table(dynamodb, unique_name("online"))
    rng = random.Random(5)
    started = time.monotonic()
    for base in range(0, BIG, 25):
        dynamodb.batch_write_item(RequestItems={name: [
            {"PutRequest": {"Item": {"pk": {"S": f"k{i:06d}"}, **(
                {"n": {"S": f"v{i % 97}"}} if i % 5 else {"n": {"N": "1"}} if i % 10 == 0 else {})}}}
            for i in range(base, min(base + 25, BIG))]})
    load_s = time.monotonic() - started
    stop = threading.Event()
    errors: list[BaseException] = []

    def writer(seed: int) -> None:
        client = make_client(dynamodb.meta.endpoint_url)
        r = random.Random(seed)
        try:
            while not stop.is_set():
                k = f"k{r.randrange(BIG + 500):06d}"
                action = r.random()
                if action < 0.4:
                    client.put_item(TableName=name, Item={"pk": {"S": k}, "n": {"S": f"w{r.randrange(50)}"}})
                elif action < 0.7:
                    client.update_item(TableName=name, Key={"pk": {"S": k}}, UpdateExpression="REMOVE n")
                elif action < 0.85:
                    client.delete_item(TableName=name, Key={"pk": {"S": k}})
                else:
                    client.update_item(TableName=name, Key={"pk": {"S": k}}, UpdateExpression="SET n = :v",
                                       ExpressionAttributeValues={":v": {"S": f"u{r.randrange(9)}"}})
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(s,)) for s in range(3)]
    for t in threads:
        t.start()
    time.sleep(0.2)
    started = time.monotonic()
    resp = dynamodb.update_table(
        TableName=name, AttributeDefinitions=_attrs(("n", "S")),
        GlobalSecondaryIndexUpdates=[{"Create": {"IndexName": "byn", "KeySchema": _ks("n"),
                                                 "Projection": {"ProjectionType": "KEYS_ONLY"}}}])
    assert resp["TableDescription"]["TableStatus"] == "UPDATING"
    gsi = dynamodb.describe_table(TableName=name)["Table"]["GlobalSecondaryIndexes"][0]
    assert gsi["IndexStatus"] == "CREATING" and gsi["Backfilling"] is True
    with pytest.raises(ClientError) as info:
        dynamodb.query(TableName=name, IndexName="byn", KeyConditionExpression="n = :n",
                       ExpressionAttributeValues={":n": {"S": "v1"}})
    assert error_of(info) == ("ValidationException", "Cannot read from backfilling global secondary index: byn")
    desc = _wait_index(dynamodb, name, "byn", "ACTIVE", timeout=120)
    backfill_s = time.monotonic() - started
    time.sleep(0.3)
    stop.set()
    for t in threads:
        t.join()
    assert not errors, errors
    table_items = _full(dynamodb.scan, TableName=name)
    index_items = _full(dynamodb.scan, TableName=name, IndexName="byn")
    assert sorted((it["pk"]["S"], it["n"]["S"]) for it in index_items) == _expected(table_items)
    gsi = _wait_index(dynamodb, name, "byn")["GlobalSecondaryIndexes"][0]
    assert "Backfilling" not in gsi
    assert gsi["ItemCount"] == len(index_items)
    print(f"\n{BIG} items loaded in {load_s:.1f}s; index backfilled under writes in {backfill_s:.1f}s")

    # delete it online: DELETING, then gone
    dynamodb.update_table(TableName=name, GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": "byn"}}])
    desc = dynamodb.describe_table(TableName=name)["Table"]
    assert desc["GlobalSecondaryIndexes"][0]["IndexStatus"] == "DELETING"
    desc = _wait_index(dynamodb, name, "byn", None)
    assert "GlobalSecondaryIndexes" not in desc
    assert desc["AttributeDefinitions"] == [{"AttributeName": "pk", "AttributeType": "S"}]
    with pytest.raises(ClientError) as info:
        dynamodb.scan(TableName=name, IndexName="byn")
    assert error_of(info)[1] == "The table does not have the specified index: byn"
    dynamodb.delete_table(TableName=name)


def test_update_table_index_errors(dynamodb, table):
    def err(**kw):
        with pytest.raises(ClientError) as info:
            dynamodb.update_table(TableName=table, **kw)
        return error_of(info)

    create = {"IndexName": "gsi", "KeySchema": _ks("g"), "Projection": {"ProjectionType": "ALL"}}
    assert err(AttributeDefinitions=_attrs(("g", "S")), GlobalSecondaryIndexUpdates=[{"Create": create}]) == (
        "ValidationException", "Attempting to create an index which already exists")
    two = [{"Create": dict(create, IndexName="new1")}, {"Create": dict(create, IndexName="new2")}]
    assert err(AttributeDefinitions=_attrs(("g", "S")), GlobalSecondaryIndexUpdates=two)[0] == "LimitExceededException"
    both = [{"Create": dict(create, IndexName="new1"), "Delete": {"IndexName": "gsi"}}]  # one entry, two actions
    assert err(AttributeDefinitions=_attrs(("g", "S")), GlobalSecondaryIndexUpdates=both) == (
        "ValidationException",
        INVALID + "Only one global secondary index action is allowed per GlobalSecondaryIndexUpdate object")
    assert err(GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": "nosuch"}}])[0] == "ResourceNotFoundException"
    assert err(AttributeDefinitions=_attrs(("g", "N")),
               GlobalSecondaryIndexUpdates=[{"Create": dict(create, IndexName="g22")}])[1].startswith(
        INVALID + "Attributes cannot be redefined")


def test_backfill_resumes_after_restart(tmp_path):
    """Sans-IO: job state lives in the engine; a new process picks the backfill up where it was."""
    from dynamodbforge.database import Database
    from dynamodbforge.ops import registry
    from dynamodbforge.ops.backfill import backfill_step
    from dynamodbforge.protocol.validate import validate_request
    from dynamodbforge.storage.sqlite import SQLiteEngine

    path = str(tmp_path / "db.sqlite3")

    def call(db, op, req):
        return registry.OPERATIONS[op](db, validate_request(op, req))

    db = Database(SQLiteEngine(path))
    call(db, "CreateTable", {"TableName": "resume", "BillingMode": "PAY_PER_REQUEST",
                             "AttributeDefinitions": _attrs(("pk", "S")), "KeySchema": _ks("pk")})
    for i in range(1000):
        call(db, "PutItem", {"TableName": "resume", "Item": {"pk": {"S": f"p{i}"}, "v": {"N": str(i % 10)}}})
    call(db, "UpdateTable", {"TableName": "resume", "AttributeDefinitions": _attrs(("v", "N")),
                             "GlobalSecondaryIndexUpdates": [{"Create": {
                                 "IndexName": "byv", "KeySchema": _ks("v"), "Projection": {"ProjectionType": "ALL"}}}]})
    for _ in range(3):
        backfill_step(db, 100)
    call(db, "PutItem", {"TableName": "resume", "Item": {"pk": {"S": "p999"}, "v": {"N": "42"}}})
    db.close()
    db = Database(SQLiteEngine(path))  # "restart"
    steps = 0
    while not backfill_step(db, 100).idle:
        steps += 1
    assert steps == 8  # 1000 items / 100 per step, 3 done before the restart, + the finishing check
    desc = call(db, "DescribeTable", {"TableName": "resume"})["Table"]
    gsi = desc["GlobalSecondaryIndexes"][0]
    assert gsi["IndexStatus"] == "ACTIVE" and gsi["ItemCount"] == 1000
    got = call(db, "Query", {"TableName": "resume", "IndexName": "byv", "KeyConditionExpression": "v = :v",
                             "ExpressionAttributeValues": {":v": {"N": "42"}}})
    assert got["Items"] == [{"pk": {"S": "p999"}, "v": {"N": "42"}}]
    db.close()


def test_expressions_may_not_reach_into_key_attributes(dynamodb, table):
    """A projection, filter or update path into a key attribute of the table or of an index
    (``k.a``, ``k[0]``) is refused before anything is read: key attributes are scalars."""
    scalars = "Key attributes must be scalars; list random access '[]' and map lookup '.' are not allowed: "
    key = {"pk": {"S": "nest"}, "sk": {"N": "1"}}
    dynamodb.put_item(TableName=table, Item={**key, "g": {"S": "g"}, "gs": {"N": "2"}, "l": {"S": "l"}})

    def err(call, **kw):
        with pytest.raises(ClientError) as info:
            call(TableName=table, **kw)
        return error_of(info)

    def expect(attr, kind="IndexKey"):
        return ("ValidationException", f"{scalars}{kind}: {attr}")

    assert err(dynamodb.get_item, Key=key, ProjectionExpression="#p.a", ExpressionAttributeNames={"#p": "pk"}) == (
        expect("pk", "Key"))
    assert err(dynamodb.get_item, Key=key, ProjectionExpression="l[0]") == expect("l")
    assert err(dynamodb.scan, FilterExpression="gs.a = :v", ExpressionAttributeValues={":v": {"N": "1"}}) == (
        expect("gs"))
    assert err(dynamodb.scan, ProjectionExpression="sk[1]") == expect("sk", "Key")
    query = dict(KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "nest"}})
    assert err(dynamodb.query, ProjectionExpression="g.x", **query) == expect("g")
    assert err(dynamodb.query, FilterExpression="attribute_exists(l.c)", **query) == expect("l")
    assert err(dynamodb.query, IndexName="gall", KeyConditionExpression="g = :g", FilterExpression="size(l[2]) > :n",
               ExpressionAttributeValues={":g": {"S": "g"}, ":n": {"N": "0"}}) == expect("l")
    assert err(dynamodb.update_item, Key=key, UpdateExpression="SET g.y = :v",
               ExpressionAttributeValues={":v": {"N": "3"}}) == expect("g")
    assert err(dynamodb.update_item, Key=key, UpdateExpression="REMOVE gs[0]") == expect("gs")
    # a table key is refused earlier, as an update of the key itself
    assert err(dynamodb.update_item, Key=key, UpdateExpression="SET pk.y = :v",
               ExpressionAttributeValues={":v": {"N": "3"}}) == (
        "ValidationException", INVALID + "Cannot update attribute pk. This attribute is part of the key")
    # nothing was changed, and top-level use of the same attributes is fine
    assert dynamodb.get_item(TableName=table, Key=key, ProjectionExpression="g, l, pk")["Item"] == {
        "g": {"S": "g"}, "l": {"S": "l"}, "pk": {"S": "nest"}}
    assert dynamodb.scan(TableName=table, FilterExpression="pk = :p AND gs = :v",
                         ExpressionAttributeValues={":p": {"S": "nest"}, ":v": {"N": "2"}})["Count"] == 1


def test_index_query_checks_in_aws_order(dynamodb, table):
    """An index Query checks its start key's shape, then its key conditions, then whether the
    index can answer Select=ALL_ATTRIBUTES (dynalite's query.js, recorded from DynamoDB)."""
    def err(**kw):
        with pytest.raises(ClientError) as info:
            dynamodb.query(TableName=table, IndexName="gsi", **kw)
        return error_of(info)

    all_attrs = INVALID + ("Select type ALL_ATTRIBUTES is not supported for global secondary index gsi because its "
                           "projection type is not ALL")
    cond = dict(KeyConditionExpression="g = :g", ExpressionAttributeValues={":g": {"S": "g"}})
    assert err(Select="ALL_ATTRIBUTES", ExclusiveStartKey={"g": {"S": "g"}}, **cond) == (
        "ValidationException", "The provided starting key is invalid")
    assert err(Select="ALL_ATTRIBUTES", KeyConditionExpression="gs = :n", ExpressionAttributeValues={
        ":n": {"N": "1"}}) == ("ValidationException", "Query condition missed key schema element: g")
    assert err(Select="ALL_ATTRIBUTES", **cond) == ("ValidationException", all_attrs)
    # an index key of the wrong type in the start key: these words, without the prefix
    wrong = {"g": {"N": "1"}, "gs": {"N": "1"}, "pk": {"S": "p"}, "sk": {"N": "1"}}
    assert err(ExclusiveStartKey=wrong, **cond) == (
        "ValidationException", "The provided key element does not match the schema")


def test_update_of_an_index_key_to_another_type(dynamodb, table):
    """A value of the wrong type for an index key: known before the item is read (``SET k = :v``),
    "Type mismatch for Index Key" at once, before conditions and nested paths; worked out from
    the item (``SET k = other``), DynamoDB's "unsupported type" (dynalite's updateItem.js)."""
    key = {"pk": {"S": "types"}, "sk": {"N": "1"}}
    dynamodb.put_item(TableName=table, Item={**key, "g": {"S": "g"}, "n": {"N": "5"}})

    def err(**kw):
        with pytest.raises(ClientError) as info:
            dynamodb.update_item(TableName=table, Key=key, **kw)
        return error_of(info)

    mismatch = INVALID + "Type mismatch for Index Key g Expected: S Actual: N IndexName: "
    code, message = err(UpdateExpression="SET g = :n", ExpressionAttributeValues={":n": {"N": "1"}},
                        ConditionExpression="attribute_not_exists(pk)")  # the condition would fail too
    assert code == "ValidationException" and message in (mismatch + "gsi", mismatch + "gall"), message
    code, message = err(UpdateExpression="SET l.a = :s ADD g :n",
                        ExpressionAttributeValues={":s": {"S": "x"}, ":n": {"N": "1"}})
    assert message.startswith(mismatch), message  # before the path into the LSI key l
    code, message = err(UpdateExpression="SET gs = :s", ExpressionAttributeValues={":s": {"S": "x"}})
    assert message == INVALID + "Type mismatch for Index Key gs Expected: N Actual: S IndexName: gsi"
    unsupported = ("ValidationException",
                   "The update expression attempted to update the secondary index key to unsupported type")
    assert err(UpdateExpression="SET g = n") == unsupported
    assert err(UpdateExpression="SET g = if_not_exists(n, :s)", ExpressionAttributeValues={":s": {"S": "x"}}) == (
        unsupported)
    item = dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True)["Item"]
    assert item == {**key, "g": {"S": "g"}, "n": {"N": "5"}}  # nothing was written
    dynamodb.update_item(TableName=table, Key=key, UpdateExpression="SET g = :s, gs = n",
                         ExpressionAttributeValues={":s": {"S": "h"}})
    assert dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True)["Item"]["gs"] == {"N": "5"}
