"""TransactWriteItems / TransactGetItems: semantics, errors, idempotency and invariants under load."""
from __future__ import annotations

import json
import os
import random
import sqlite3
import threading
import time

import pytest
from botocore.exceptions import ClientError

from conftest import create_table, error_of, make_client, unique_name
from server_process import ServerProcess


def _put(table, pk, **attrs):
    return {"Put": {"TableName": table, "Item": {"pk": {"S": pk}, **attrs}}}


def test_all_or_nothing_with_reasons_in_request_order(dynamodb, hash_table):
    dynamodb.put_item(TableName=hash_table, Item={"pk": {"S": "tx-a"}, "v": {"N": "1"}})
    with pytest.raises(ClientError) as exc:
        dynamodb.transact_write_items(
            TransactItems=[
                _put(hash_table, "tx-new", v={"N": "9"}),
                {"ConditionCheck": {
                    "TableName": hash_table, "Key": {"pk": {"S": "tx-a"}},
                    "ConditionExpression": "v = :two", "ExpressionAttributeValues": {":two": {"N": "2"}},
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                }},
                {"Delete": {"TableName": hash_table, "Key": {"pk": {"S": "tx-other"}}}},
            ]
        )
    code, message = error_of(exc)
    assert code == "TransactionCanceledException"
    assert message == (
        "Transaction cancelled, please refer cancellation reasons for specific reasons "
        "[None, ConditionalCheckFailed, None]"
    )
    assert exc.value.response["CancellationReasons"] == [
        {"Code": "None"},
        {"Code": "ConditionalCheckFailed", "Message": "The conditional request failed",
         "Item": {"pk": {"S": "tx-a"}, "v": {"N": "1"}}},
        {"Code": "None"},
    ]
    assert "Item" not in dynamodb.get_item(TableName=hash_table, Key={"pk": {"S": "tx-new"}})


def test_an_items_own_error_cancels_with_a_validation_error_reason(dynamodb, hash_table):
    """A key of the wrong type (or too big an item) is that action's ValidationError in a
    TransactionCanceledException, the other actions "None" and unchecked (ScyllaDB Alternator's
    test_transact_write_cancellation_reasons_validationerror*, run against DynamoDB); request-
    level errors (an unknown table, a bad expression) still refuse the whole request."""
    with pytest.raises(ClientError) as exc:
        dynamodb.transact_write_items(TransactItems=[
            {"Put": {"TableName": hash_table, "Item": {"pk": {"N": "7"}}}},
            {"Put": {"TableName": hash_table, "Item": {"pk": {"N": "8"}}}},
            {"Put": {"TableName": hash_table, "Item": {"pk": {"S": "tx-valerr"}},
                     "ConditionExpression": "attribute_exists(pk)"}},
        ])
    assert error_of(exc) == ("TransactionCanceledException", "Transaction cancelled, please refer cancellation "
                             "reasons for specific reasons [ValidationError, None, None]")
    assert exc.value.response["CancellationReasons"] == [
        {"Code": "ValidationError",
         "Message": "One or more parameter values were invalid: Type mismatch for key pk expected: S actual: N"},
        {"Code": "None"}, {"Code": "None"}]
    with pytest.raises(ClientError) as exc:
        dynamodb.transact_write_items(TransactItems=[
            {"Update": {"TableName": hash_table, "Key": {"pk": {"N": "1"}}, "UpdateExpression": "SET a = :a",
                        "ExpressionAttributeValues": {":a": {"S": "x"}}}}])
    assert exc.value.response["CancellationReasons"] == [
        {"Code": "ValidationError", "Message": "The provided key element does not match the schema"}]
    with pytest.raises(ClientError) as exc:
        dynamodb.transact_write_items(TransactItems=[
            {"Put": {"TableName": hash_table, "Item": {"pk": {"S": "tx-ok"}}, "ConditionExpression": "#n = :v",
                     "ExpressionAttributeValues": {":v": {"S": "x"}}}}])
    assert error_of(exc)[0] == "ValidationException"
    assert "Item" not in dynamodb.get_item(TableName=hash_table, Key={"pk": {"S": "tx-valerr"}})


def test_an_empty_key_value_refuses_the_whole_transaction(dynamodb, hash_table):
    """Unlike a mistyped key, an empty string or binary key value is a ValidationException of
    the whole request, for every kind of action (paritysuite's tier3 transactWriteItems
    captures from DynamoDB)."""
    empty_s = "One or more parameter values are not valid. The AttributeValue for a key attribute cannot " \
              "contain an empty string value. Key: pk"
    for action in (
        {"Put": {"TableName": hash_table, "Item": {"pk": {"S": ""}}}},
        {"Update": {"TableName": hash_table, "Key": {"pk": {"S": ""}}, "UpdateExpression": "SET a = :a",
                    "ExpressionAttributeValues": {":a": {"S": "x"}}}},
        {"Delete": {"TableName": hash_table, "Key": {"pk": {"S": ""}}}},
        {"ConditionCheck": {"TableName": hash_table, "Key": {"pk": {"S": ""}},
                            "ConditionExpression": "attribute_exists(pk)"}},
    ):
        with pytest.raises(ClientError) as exc:
            dynamodb.transact_write_items(TransactItems=[_put(hash_table, "tx-fine"), action])
        assert error_of(exc) == ("ValidationException", empty_s)
    assert "Item" not in dynamodb.get_item(TableName=hash_table, Key={"pk": {"S": "tx-fine"}})


def test_a_get_with_a_bad_key_cancels_with_a_validation_error_reason(dynamodb, hash_table):
    with pytest.raises(ClientError) as exc:
        dynamodb.transact_get_items(TransactItems=[
            {"Get": {"TableName": hash_table, "Key": {"pk": {"S": "x"}}}},
            {"Get": {"TableName": hash_table, "Key": {}}},
        ])
    assert error_of(exc) == ("TransactionCanceledException", "Transaction cancelled, please refer cancellation "
                             "reasons for specific reasons [None, ValidationError]")
    assert exc.value.response["CancellationReasons"] == [
        {"Code": "None"},
        {"Code": "ValidationError", "Message": "The provided key element does not match the schema"}]


def test_commit_applies_every_action(dynamodb, hash_table):
    dynamodb.put_item(TableName=hash_table, Item={"pk": {"S": "tx-b"}, "n": {"N": "10"}})
    dynamodb.put_item(TableName=hash_table, Item={"pk": {"S": "tx-gone"}})
    resp = dynamodb.transact_write_items(
        TransactItems=[
            _put(hash_table, "tx-c", v={"S": "new"}),
            {"Update": {"TableName": hash_table, "Key": {"pk": {"S": "tx-b"}},
                        "UpdateExpression": "SET n = n - :d", "ConditionExpression": "n >= :d",
                        "ExpressionAttributeValues": {":d": {"N": "4"}}}},
            {"Delete": {"TableName": hash_table, "Key": {"pk": {"S": "tx-gone"}}}},
        ],
        ReturnConsumedCapacity="TOTAL",
    )
    assert resp["ConsumedCapacity"] == [{"TableName": hash_table, "CapacityUnits": 6.0, "WriteCapacityUnits": 6.0}]  # issue 9: as AWS
    got = dynamodb.transact_get_items(TransactItems=[
        {"Get": {"TableName": hash_table, "Key": {"pk": {"S": "tx-b"}}}},
        {"Get": {"TableName": hash_table, "Key": {"pk": {"S": "tx-gone"}}}},
        {"Get": {"TableName": hash_table, "Key": {"pk": {"S": "tx-c"}}, "ProjectionExpression": "v"}},
    ])["Responses"]
    assert got == [{"Item": {"pk": {"S": "tx-b"}, "n": {"N": "6"}}}, {}, {"Item": {"v": {"S": "new"}}}]


def test_one_action_per_item(dynamodb, hash_table):
    with pytest.raises(ClientError) as exc:
        dynamodb.transact_write_items(TransactItems=[_put(hash_table, "dup"), _put(hash_table, "dup")])
    assert error_of(exc) == (
        "ValidationException", "Transaction request cannot include multiple operations on one item"
    )


def test_client_request_token_idempotency(dynamodb, hash_table):
    token = unique_name("token")
    items = [{"Update": {"TableName": hash_table, "Key": {"pk": {"S": "idem"}},
                         "UpdateExpression": "ADD n :one", "ExpressionAttributeValues": {":one": {"N": "1"}}}}]
    dynamodb.transact_write_items(TransactItems=items, ClientRequestToken=token)
    dynamodb.transact_write_items(TransactItems=items, ClientRequestToken=token)
    assert dynamodb.get_item(TableName=hash_table, Key={"pk": {"S": "idem"}})["Item"]["n"] == {"N": "1"}
    other = [{"Update": {**items[0]["Update"], "ExpressionAttributeValues": {":one": {"N": "2"}}}}]
    with pytest.raises(ClientError) as exc:
        dynamodb.transact_write_items(TransactItems=other, ClientRequestToken=token)
    assert error_of(exc)[0] == "IdempotentParameterMismatchException"


ACCOUNTS = 100
START_BALANCE = 1000


def _transfer_workload(endpoint, table, stop, errors, totals, seed):
    client = make_client(endpoint)
    rng = random.Random(seed)
    while not stop.is_set():
        a, b = rng.sample(range(ACCOUNTS), 2)
        amount = str(rng.randint(1, 300))
        try:
            client.transact_write_items(TransactItems=[
                {"Update": {"TableName": table, "Key": {"pk": {"S": f"acct{a}"}},
                            "UpdateExpression": "SET balance = balance - :x",
                            "ConditionExpression": "balance >= :x",
                            "ExpressionAttributeValues": {":x": {"N": amount}}}},
                {"Update": {"TableName": table, "Key": {"pk": {"S": f"acct{b}"}},
                            "UpdateExpression": "SET balance = balance + :x",
                            "ExpressionAttributeValues": {":x": {"N": amount}}}},
            ])
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "TransactionCanceledException":
                errors.append(exc)
        except Exception as exc:  # connection reset when the server is killed
            if not stop.is_set():
                errors.append(exc)
            return


def _snapshot_reader(endpoint, table, stop, errors, totals):
    client = make_client(endpoint)
    while not stop.is_set():
        try:
            total = 0
            for start in range(0, ACCOUNTS, 100):
                resp = client.transact_get_items(TransactItems=[
                    {"Get": {"TableName": table, "Key": {"pk": {"S": f"acct{i}"}}}}
                    for i in range(start, min(start + 100, ACCOUNTS))
                ])
                for r in resp["Responses"]:
                    balance = int(r["Item"]["balance"]["N"])
                    if balance < 0:
                        errors.append(AssertionError(f"negative balance {balance}"))
                    total += balance
            totals.append(total)
        except Exception as exc:
            if not stop.is_set():
                errors.append(exc)
            return


def _total(client, table):
    return sum(int(i["balance"]["N"]) for i in client.scan(TableName=table, ConsistentRead=True)["Items"])


@pytest.mark.parametrize("workers", ["1", "2"])
def test_bank_transfer_invariant_survives_kill_9(tmp_path, workers):
    """16 writers move money with transactions while readers take snapshots; kill -9; recount.

    With two worker processes the same invariant must hold across processes."""
    seconds = float(os.environ.get("DDBFORGE_SOAK_SECONDS", "4"))
    server = ServerProcess(str(tmp_path), "--workers", workers).start()
    try:
        client = make_client(server.endpoint)
        table = create_table(client, "bank")
        for i in range(ACCOUNTS):
            client.put_item(TableName=table, Item={"pk": {"S": f"acct{i}"}, "balance": {"N": str(START_BALANCE)}})
        stop = threading.Event()
        errors: list[Exception] = []
        totals: list[int] = []
        threads = [threading.Thread(target=_transfer_workload, args=(server.endpoint, table, stop, errors, totals, s))
                   for s in range(16)]
        threads += [threading.Thread(target=_snapshot_reader, args=(server.endpoint, table, stop, errors, totals))
                    for _ in range(2)]
        for t in threads:
            t.start()
        time.sleep(seconds)
        server.kill9()  # mid-run: transfers are in flight
        stop.set()
        for t in threads:
            t.join()
        assert not errors, errors[:3]
        assert totals and all(t == ACCOUNTS * START_BALANCE for t in totals)
        server = ServerProcess(str(tmp_path), "--workers", workers, port=server.port).start()
        client = make_client(server.endpoint)
        assert _total(client, table) == ACCOUNTS * START_BALANCE
    finally:
        server.stop()


def test_concurrent_optimistic_locking_loses_no_update(dynamodb, hash_table, endpoint):
    key = {"pk": {"S": "hot-version"}}
    dynamodb.put_item(TableName=hash_table, Item={**key, "version": {"N": "0"}, "count": {"N": "0"}})
    per_thread = 15
    done: list[int] = []

    def worker():
        client = make_client(endpoint)
        successes = 0
        while successes < per_thread:
            version = client.get_item(TableName=hash_table, Key=key, ConsistentRead=True)["Item"]["version"]["N"]
            try:
                client.update_item(
                    TableName=hash_table, Key=key,
                    UpdateExpression="SET version = version + :one, #c = #c + :one",
                    ConditionExpression="version = :v", ExpressionAttributeNames={"#c": "count"},
                    ExpressionAttributeValues={":one": {"N": "1"}, ":v": {"N": version}},
                )
                successes += 1
            except ClientError as exc:
                assert exc.response["Error"]["Code"] == "ConditionalCheckFailedException"
        done.append(successes)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    item = dynamodb.get_item(TableName=hash_table, Key=key)["Item"]
    assert item["count"] == {"N": str(8 * per_thread)}
    assert item["version"] == {"N": str(8 * per_thread)}


def test_change_log_has_one_entry_per_item_with_one_transaction_marker(tmp_path):
    """Each item a transaction writes is one change record; all carry the transaction's id."""
    server = ServerProcess(str(tmp_path)).start()
    try:
        client = make_client(server.endpoint)
        table = create_table(client, "txlog")
        client.put_item(TableName=table, Item={"pk": {"S": "plain"}})
        client.put_item(TableName=table, Item={"pk": {"S": "gone"}})
        client.transact_write_items(TransactItems=[
            _put(table, "t1"),
            {"Update": {"TableName": table, "Key": {"pk": {"S": "t2"}}, "UpdateExpression": "SET v = :v",
                        "ExpressionAttributeValues": {":v": {"N": "1"}}}},
            {"Delete": {"TableName": table, "Key": {"pk": {"S": "gone"}}}},
            {"ConditionCheck": {"TableName": table, "Key": {"pk": {"S": "plain"}},
                                "ConditionExpression": "attribute_exists(pk)"}},
        ])
    finally:
        server.stop()
    with sqlite3.connect(os.path.join(str(tmp_path), "ddbforge.sqlite3")) as conn:
        rows = conn.execute("SELECT keys, txid FROM changelog WHERE tbl = ? ORDER BY seq", (table,)).fetchall()
    keys = [json.loads(k)["pk"]["S"] for k, _ in rows]
    assert keys == ["plain", "gone", "t1", "t2", "gone"]  # the ConditionCheck wrote nothing
    markers = [txid for _, txid in rows]
    assert markers[:2] == [None, None]
    assert markers[2] is not None and markers[2:] == [markers[2]] * 3


def test_transaction_across_tables(dynamodb, hash_table, range_table):
    resp = dynamodb.transact_write_items(TransactItems=[
        _put(hash_table, "cross-a", v={"N": "1"}),
        {"Put": {"TableName": range_table, "Item": {"pk": {"S": "cross-b"}, "sk": {"N": "7"}}}},
    ], ReturnConsumedCapacity="TOTAL")
    assert sorted(c["TableName"] for c in resp["ConsumedCapacity"]) == sorted([hash_table, range_table])
    got = dynamodb.transact_get_items(TransactItems=[
        {"Get": {"TableName": hash_table, "Key": {"pk": {"S": "cross-a"}}}},
        {"Get": {"TableName": range_table, "Key": {"pk": {"S": "cross-b"}, "sk": {"N": "7"}}}},
    ])["Responses"]
    assert got == [{"Item": {"pk": {"S": "cross-a"}, "v": {"N": "1"}}},
                   {"Item": {"pk": {"S": "cross-b"}, "sk": {"N": "7"}}}]
    with pytest.raises(ClientError) as exc:  # a failed condition in one table undoes the other's write
        dynamodb.transact_write_items(TransactItems=[
            _put(hash_table, "cross-c"),
            {"ConditionCheck": {"TableName": range_table, "Key": {"pk": {"S": "cross-b"}, "sk": {"N": "7"}},
                                "ConditionExpression": "attribute_not_exists(pk)"}},
        ])
    assert error_of(exc)[0] == "TransactionCanceledException"
    assert "Item" not in dynamodb.get_item(TableName=hash_table, Key={"pk": {"S": "cross-c"}})


def test_request_errors_are_reported_action_by_action(dynamodb, hash_table):
    """Each action's expressions are checked in request order before any table is looked up,
    and before a later action's values (paritysuite's validation-ordering captures)."""
    deep = {"S": "x"}
    for _ in range(100):
        deep = {"M": {"a": deep}}
    with pytest.raises(ClientError) as exc:
        dynamodb.transact_write_items(TransactItems=[
            {"Put": {"TableName": "no-such-table-tx", "Item": {"pk": {"S": "a"}}}},
            {"ConditionCheck": {"TableName": hash_table, "Key": {"pk": {"S": "b"}}, "ConditionExpression": "a = = b"}},
        ])
    assert error_of(exc) == ("ValidationException", 'Invalid ConditionExpression: Syntax error; token: "=", near: "= = b"')
    with pytest.raises(ClientError) as exc:
        dynamodb.transact_write_items(TransactItems=[
            {"ConditionCheck": {"TableName": hash_table, "Key": {"pk": {"S": "b"}},
                                "ConditionExpression": "attribute_not_exists("}},
            {"Put": {"TableName": hash_table, "Item": {"pk": {"S": "a"}, "d": deep}}},
        ])
    assert error_of(exc) == ("ValidationException", 'Invalid ConditionExpression: Syntax error; token: "<EOF>", near: "("')
    with pytest.raises(ClientError) as exc:
        dynamodb.transact_write_items(TransactItems=[
            {"Delete": {"TableName": hash_table, "Key": {"pk": deep}, "ConditionExpression": "a = = b"}}])
    assert error_of(exc) == ("ValidationException", 'Invalid ConditionExpression: Syntax error; token: "=", near: "= = b"')
    with pytest.raises(ClientError) as exc:
        dynamodb.transact_write_items(TransactItems=[
            {"Put": {"TableName": "no-such-table-tx", "Item": {"pk": {"S": "a"}}}},
            {"ConditionCheck": {"TableName": hash_table, "Key": {"pk": {"S": "b"}},
                                "ConditionExpression": "attribute_exists(pk)", "ExpressionAttributeValues": {":v": {"S": "x"}}}},
        ])
    assert error_of(exc) == ("ValidationException", "Value provided in ExpressionAttributeValues unused in expressions: "
                                                    "keys: {:v}")


def test_a_replay_reports_a_transactional_read(dynamodb, hash_table):
    """A same-token replay answers as the first call did, except that it consumed a
    transactional read of each item as it is now (Ketlark's capture from DynamoDB)."""
    item = {"Put": {"TableName": hash_table, "Item": {"pk": {"S": "tx-replay-cap"}, "big": {"S": "x" * 1536}}}}
    kw = dict(ClientRequestToken="tx-replay-cap-token", ReturnConsumedCapacity="INDEXES", TransactItems=[item])
    first = dynamodb.transact_write_items(**kw)["ConsumedCapacity"]
    assert first == [{"TableName": hash_table, "CapacityUnits": 4.0, "WriteCapacityUnits": 4.0,
                      "Table": {"CapacityUnits": 4.0, "WriteCapacityUnits": 4.0}}]
    replay = dynamodb.transact_write_items(**kw)["ConsumedCapacity"]
    assert replay == [{"TableName": hash_table, "CapacityUnits": 2.0, "ReadCapacityUnits": 2.0,
                       "Table": {"CapacityUnits": 2.0, "ReadCapacityUnits": 2.0}}]


def test_a_get_whose_projection_matches_nothing_has_no_item(dynamodb, hash_table):
    for pk in ("tx-proj-none", "tx-proj-a"):
        dynamodb.put_item(TableName=hash_table, Item={"pk": {"S": pk}, "a": {"S": "x"}})
    out = dynamodb.transact_get_items(TransactItems=[
        {"Get": {"TableName": hash_table, "Key": {"pk": {"S": "tx-proj-none"}}, "ProjectionExpression": "nothing"}},
        {"Get": {"TableName": hash_table, "Key": {"pk": {"S": "tx-proj-a"}}, "ProjectionExpression": "a"}}])
    assert out["Responses"] == [{}, {"Item": {"a": {"S": "x"}}}]
