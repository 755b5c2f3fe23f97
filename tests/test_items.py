"""Single-item operations: PutItem, GetItem, UpdateItem, DeleteItem."""
from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from conftest import error_of

ALL_TYPES = {
    "pk": {"S": "all-types"},
    "s": {"S": "héllo"},
    "n": {"N": "-12.5"},
    "b": {"B": b"\x00\x01binary"},
    "t": {"BOOL": True},
    "z": {"NULL": True},
    "m": {"M": {"inner": {"L": [{"N": "1"}, {"S": "x"}]}}},
    "l": {"L": [{"M": {}}, {"L": []}, {"SS": ["a"]}]},
    "ss": {"SS": ["b", "a"]},
    "ns": {"NS": ["1", "2.5"]},
    "bs": {"BS": [b"x", b"y"]},
}


def _canon(item):
    """Sets come back in any order, as in AWS."""
    out = {}
    for k, v in item.items():
        (t, val), = v.items()
        if t in ("SS", "NS", "BS"):
            out[k] = {t: sorted(val)}
        elif t == "M":
            out[k] = {t: _canon(val)}
        elif t == "L":
            out[k] = {t: [_canon({"_": e})["_"] for e in val]}
        else:
            out[k] = v
    return out


def test_put_get_every_type(dynamodb, hash_table):
    dynamodb.put_item(TableName=hash_table, Item=ALL_TYPES)
    item = dynamodb.get_item(TableName=hash_table, Key={"pk": {"S": "all-types"}}, ConsistentRead=True)["Item"]
    assert _canon(item) == _canon(ALL_TYPES)


def test_get_missing_item_has_no_item(dynamodb, hash_table):
    resp = dynamodb.get_item(TableName=hash_table, Key={"pk": {"S": "nothing-here"}})
    assert "Item" not in resp


def test_numbers_are_normalised_not_rounded(dynamodb, hash_table):
    big = "12345678901234567890123456789012345678"
    dynamodb.put_item(
        TableName=hash_table,
        Item={"pk": {"S": "nums"}, "a": {"N": "1.50"}, "b": {"N": big}, "c": {"N": "-0"},
              "d": {"N": "1E+2"}, "e": {"N": "0.000100"}, "f": {"NS": ["1.0", "2"]}},
    )
    item = dynamodb.get_item(TableName=hash_table, Key={"pk": {"S": "nums"}})["Item"]
    assert item["a"] == {"N": "1.5"}
    assert item["b"] == {"N": big}
    assert item["c"] == {"N": "0"}
    assert item["d"] == {"N": "100"}
    assert item["e"] == {"N": "0.0001"}
    assert sorted(item["f"]["NS"]) == ["1", "2"]


def test_put_return_values_all_old(dynamodb, hash_table):
    key = {"pk": {"S": "rv-put"}}
    resp = dynamodb.put_item(TableName=hash_table, Item={**key, "v": {"N": "1"}}, ReturnValues="ALL_OLD")
    assert "Attributes" not in resp
    resp = dynamodb.put_item(TableName=hash_table, Item={**key, "v": {"N": "2"}}, ReturnValues="ALL_OLD")
    assert resp["Attributes"] == {**key, "v": {"N": "1"}}


def test_conditional_put_failure_returns_old_item_when_asked(dynamodb, hash_table):
    key = {"pk": {"S": "cond-put"}}
    dynamodb.put_item(TableName=hash_table, Item={**key, "v": {"N": "1"}})
    with pytest.raises(ClientError) as exc:
        dynamodb.put_item(
            TableName=hash_table, Item={**key, "v": {"N": "2"}},
            ConditionExpression="attribute_not_exists(pk)",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    assert error_of(exc) == ("ConditionalCheckFailedException", "The conditional request failed")
    assert exc.value.response["Item"] == {**key, "v": {"N": "1"}}
    with pytest.raises(ClientError) as exc:
        dynamodb.put_item(
            TableName=hash_table, Item={**key, "v": {"N": "2"}}, ConditionExpression="attribute_not_exists(pk)"
        )
    assert "Item" not in exc.value.response
    assert dynamodb.get_item(TableName=hash_table, Key=key)["Item"]["v"] == {"N": "1"}


def test_update_creates_and_modifies(dynamodb, hash_table):
    key = {"pk": {"S": "upd"}}
    resp = dynamodb.update_item(
        TableName=hash_table, Key=key,
        UpdateExpression="SET #c = if_not_exists(#c, :zero) + :one, tags = :tags",
        ExpressionAttributeNames={"#c": "count"},
        ExpressionAttributeValues={":zero": {"N": "0"}, ":one": {"N": "1"}, ":tags": {"SS": ["a"]}},
        ReturnValues="ALL_NEW",
    )
    assert resp["Attributes"] == {**key, "count": {"N": "1"}, "tags": {"SS": ["a"]}}
    resp = dynamodb.update_item(
        TableName=hash_table, Key=key,
        UpdateExpression="ADD #c :five, tags :more REMOVE nothing",
        ExpressionAttributeNames={"#c": "count"},
        ExpressionAttributeValues={":five": {"N": "5"}, ":more": {"SS": ["b"]}},
        ReturnValues="UPDATED_NEW",
    )
    assert resp["Attributes"]["count"] == {"N": "6"}
    assert sorted(resp["Attributes"]["tags"]["SS"]) == ["a", "b"]
    resp = dynamodb.update_item(
        TableName=hash_table, Key=key, UpdateExpression="DELETE tags :a",
        ExpressionAttributeValues={":a": {"SS": ["a"]}}, ReturnValues="UPDATED_OLD",
    )
    assert sorted(resp["Attributes"]["tags"]["SS"]) == ["a", "b"]
    assert dynamodb.get_item(TableName=hash_table, Key=key)["Item"]["tags"] == {"SS": ["b"]}


def test_update_without_expression_creates_key_only_item(dynamodb, hash_table):
    key = {"pk": {"S": "upd-empty"}}
    resp = dynamodb.update_item(TableName=hash_table, Key=key, ReturnValues="ALL_NEW")
    assert resp["Attributes"] == key


def test_update_that_only_removes_creates_no_item(dynamodb, hash_table):
    """REMOVE (or AttributeUpdates DELETE) on an item that does not exist does nothing: no item
    is created, ALL_NEW returns no Attributes, and paths into the missing item are no error
    (ScyllaDB Alternator's suite, run against DynamoDB).  Any other action creates the item,
    and so does AttributeUpdates={}."""
    get = dynamodb.get_item
    cases = [
        {"UpdateExpression": "REMOVE a"},
        {"UpdateExpression": "REMOVE a, b.c, d[0]"},
        {"UpdateExpression": "DELETE s :v", "ExpressionAttributeValues": {":v": {"SS": ["x"]}}},
        {"AttributeUpdates": {"a": {"Action": "DELETE"}}},
        {"AttributeUpdates": {"a": {"Action": "DELETE", "Value": {"NS": ["4"]}}}},
    ]
    for i, spec in enumerate(cases):
        key = {"pk": {"S": f"only-removes-{i}"}}
        resp = dynamodb.update_item(TableName=hash_table, Key=key, ReturnValues="ALL_NEW", **spec)
        assert "Attributes" not in resp, spec
        assert "Item" not in get(TableName=hash_table, Key=key, ConsistentRead=True), spec
    key = {"pk": {"S": "only-removes-mixed"}}
    resp = dynamodb.update_item(TableName=hash_table, Key=key, ReturnValues="ALL_NEW",
                                UpdateExpression="SET a = :one REMOVE b", ExpressionAttributeValues={":one": {"N": "1"}})
    assert resp["Attributes"] == {**key, "a": {"N": "1"}}
    key = {"pk": {"S": "only-removes-nothing"}}
    dynamodb.update_item(TableName=hash_table, Key=key, AttributeUpdates={})
    assert get(TableName=hash_table, Key=key, ConsistentRead=True)["Item"] == key
    key = {"pk": {"S": "only-removes-existing"}}  # on an existing item REMOVE removes, the key stays
    dynamodb.put_item(TableName=hash_table, Item={**key, "a": {"S": "x"}})
    dynamodb.update_item(TableName=hash_table, Key=key, UpdateExpression="REMOVE a")
    assert get(TableName=hash_table, Key=key, ConsistentRead=True)["Item"] == key
    key = {"pk": {"S": "only-removes-transaction"}}
    dynamodb.transact_write_items(TransactItems=[{"Update": {"TableName": hash_table, "Key": key,
                                                             "UpdateExpression": "REMOVE a"}}])
    assert "Item" not in get(TableName=hash_table, Key=key, ConsistentRead=True)


def test_update_key_attribute_is_rejected(dynamodb, hash_table):
    with pytest.raises(ClientError) as exc:
        dynamodb.update_item(
            TableName=hash_table, Key={"pk": {"S": "x"}}, UpdateExpression="SET pk = :v",
            ExpressionAttributeValues={":v": {"S": "y"}},
        )
    assert error_of(exc) == (
        "ValidationException",
        "One or more parameter values were invalid: Cannot update attribute pk. This attribute is part of the key",
    )


def test_optimistic_locking_condition(dynamodb, hash_table):
    key = {"pk": {"S": "locked"}}
    dynamodb.put_item(TableName=hash_table, Item={**key, "version": {"N": "1"}})
    dynamodb.update_item(
        TableName=hash_table, Key=key, UpdateExpression="SET version = version + :one",
        ConditionExpression="version = :expected",
        ExpressionAttributeValues={":one": {"N": "1"}, ":expected": {"N": "1"}},
    )
    with pytest.raises(ClientError) as exc:
        dynamodb.update_item(
            TableName=hash_table, Key=key, UpdateExpression="SET version = version + :one",
            ConditionExpression="version = :expected",
            ExpressionAttributeValues={":one": {"N": "1"}, ":expected": {"N": "1"}},
        )
    assert error_of(exc)[0] == "ConditionalCheckFailedException"
    assert dynamodb.get_item(TableName=hash_table, Key=key)["Item"]["version"] == {"N": "2"}


def test_size_of_a_string_counts_utf16_code_units(dynamodb, hash_table):
    """size("é𝄞") is 3 in DynamoDB (1 + a surrogate pair), not its 6 UTF-8 bytes."""
    dynamodb.put_item(TableName=hash_table, Item={"pk": {"S": "utf16"}, "s": {"S": "é\U0001D11E"}})
    def holds(n: str) -> bool:
        try:
            dynamodb.update_item(TableName=hash_table, Key={"pk": {"S": "utf16"}}, UpdateExpression="SET t = :n",
                                 ConditionExpression="size(s) = :n", ExpressionAttributeValues={":n": {"N": n}})
            return True
        except dynamodb.exceptions.ConditionalCheckFailedException:
            return False
    assert holds("3") and not holds("6") and not holds("2")


def test_sets_come_back_in_dynamodb_order(dynamodb, hash_table):
    """Members as DynamoDB returns them, not as written: strings and binaries bytewise,
    numbers by value, also after ADD merges new members in."""
    item = {"pk": {"S": "sets"}, "ss": {"SS": ["é", "b", "", "B", "a"]}, "ns": {"NS": ["10", "9", "-1", "1E2", "0.5"]},
            "bs": {"BS": [b"\xff", b"a", b"\x00\x01", b"\x00"]}}
    dynamodb.put_item(TableName=hash_table, Item=item)
    got = dynamodb.get_item(TableName=hash_table, Key={"pk": {"S": "sets"}})["Item"]
    assert got["ss"] == {"SS": ["", "B", "a", "b", "é"]}
    assert got["ns"] == {"NS": ["-1", "0.5", "9", "10", "100"]}
    assert got["bs"] == {"BS": [b"\x00", b"\x00\x01", b"a", b"\xff"]}
    out = dynamodb.update_item(TableName=hash_table, Key={"pk": {"S": "sets"}}, UpdateExpression="ADD ss :s, ns :n",
                               ExpressionAttributeValues={":s": {"SS": ["c", "A"]}, ":n": {"NS": ["2", "-5"]}},
                               ReturnValues="UPDATED_NEW")["Attributes"]
    assert out == {"ss": {"SS": ["", "A", "B", "a", "b", "c", "é"]}, "ns": {"NS": ["-5", "-1", "0.5", "2", "9", "10", "100"]}}


def test_delete_return_values_and_condition(dynamodb, hash_table):
    key = {"pk": {"S": "del"}}
    dynamodb.put_item(TableName=hash_table, Item={**key, "v": {"S": "x"}})
    with pytest.raises(ClientError) as exc:
        dynamodb.delete_item(TableName=hash_table, Key=key, ConditionExpression="v = :y",
                             ExpressionAttributeValues={":y": {"S": "y"}})
    assert error_of(exc)[0] == "ConditionalCheckFailedException"
    resp = dynamodb.delete_item(TableName=hash_table, Key=key, ReturnValues="ALL_OLD")
    assert resp["Attributes"] == {**key, "v": {"S": "x"}}
    assert "Attributes" not in dynamodb.delete_item(TableName=hash_table, Key=key, ReturnValues="ALL_OLD")


def test_projection_expression(dynamodb, hash_table):
    key = {"pk": {"S": "proj"}}
    dynamodb.put_item(TableName=hash_table, Item={
        **key, "a": {"M": {"b": {"L": [{"N": "0"}, {"N": "1"}, {"M": {"c": {"S": "deep"}, "d": {"S": "no"}}}]}}},
        "e": {"S": "e"},
    })
    item = dynamodb.get_item(TableName=hash_table, Key=key, ProjectionExpression="a.b[2].c, #e",
                             ExpressionAttributeNames={"#e": "e"})["Item"]
    assert item == {"a": {"M": {"b": {"L": [{"M": {"c": {"S": "deep"}}}]}}}, "e": {"S": "e"}}


def test_consumed_capacity_units(dynamodb, hash_table):
    key = {"pk": {"S": "cap"}}
    resp = dynamodb.put_item(TableName=hash_table, Item={**key, "big": {"S": "x" * 3000}},
                             ReturnConsumedCapacity="TOTAL")
    assert resp["ConsumedCapacity"] == {"TableName": hash_table, "CapacityUnits": 3.0}
    resp = dynamodb.get_item(TableName=hash_table, Key=key, ReturnConsumedCapacity="TOTAL")
    assert resp["ConsumedCapacity"] == {"TableName": hash_table, "CapacityUnits": 0.5}
    resp = dynamodb.get_item(TableName=hash_table, Key=key, ConsistentRead=True, ReturnConsumedCapacity="INDEXES")
    assert resp["ConsumedCapacity"] == {"TableName": hash_table, "CapacityUnits": 1.0, "Table": {"CapacityUnits": 1.0}}
    resp = dynamodb.delete_item(TableName=hash_table, Key=key, ReturnConsumedCapacity="TOTAL")
    assert resp["ConsumedCapacity"] == {"TableName": hash_table, "CapacityUnits": 3.0}


def test_item_size_limit(dynamodb, hash_table):
    with pytest.raises(ClientError) as exc:
        dynamodb.put_item(TableName=hash_table, Item={"pk": {"S": "huge"}, "x": {"S": "x" * (400 * 1024)}})
    assert error_of(exc) == ("ValidationException", "Item size has exceeded the maximum allowed size")
    # exactly 400 KB is allowed: "pk"+"ok" (4 bytes) + "x" (1 byte) + value
    dynamodb.put_item(TableName=hash_table, Item={"pk": {"S": "ok"}, "x": {"S": "x" * (400 * 1024 - 5)}})


def test_resource_api_roundtrip(resource, hash_table):
    table = resource.Table(hash_table)
    table.put_item(Item={"pk": "res", "n": 3, "l": [1, "two"], "m": {"k": True}})
    item = table.get_item(Key={"pk": "res"})["Item"]
    assert item == {"pk": "res", "n": 3, "l": [1, "two"], "m": {"k": True}}


def test_repeated_update_expressions_compile_per_names_and_values(dynamodb, hash_table):
    """The same UpdateExpression text, sent again and again (compiled once and reused), still
    binds each request's own values, and still refuses values the expression does not use."""
    key = {"pk": {"S": "repeat-expr"}}
    for n in (1, 2, 3, 2):
        out = dynamodb.update_item(TableName=hash_table, Key=key, UpdateExpression="SET #c = :v",
                                   ExpressionAttributeNames={"#c": "c"},
                                   ExpressionAttributeValues={":v": {"N": str(n)}}, ReturnValues="ALL_NEW")
        assert out["Attributes"]["c"] == {"N": str(n)}
    for _ in range(2):  # the same expression again, with one value too many: refused every time
        with pytest.raises(ClientError) as excinfo:
            dynamodb.update_item(TableName=hash_table, Key=key, UpdateExpression="SET #c = :v",
                                 ExpressionAttributeNames={"#c": "c"},
                                 ExpressionAttributeValues={":v": {"N": "9"}, ":extra": {"N": "1"}})
        assert error_of(excinfo) == ("ValidationException", "1 validation error detected: Value provided in "
                                     "ExpressionAttributeValues unused in expressions: keys: {:extra}")
    for _ in range(2):  # and with a name too many
        with pytest.raises(ClientError) as excinfo:
            dynamodb.update_item(TableName=hash_table, Key=key, UpdateExpression="SET #c = :v",
                                 ExpressionAttributeNames={"#c": "c", "#d": "d"},
                                 ExpressionAttributeValues={":v": {"N": "9"}})
        assert error_of(excinfo) == ("ValidationException", "1 validation error detected: Value provided in "
                                     "ExpressionAttributeNames unused in expressions: keys: {#d}")
    assert dynamodb.get_item(TableName=hash_table, Key=key)["Item"]["c"] == {"N": "2"}


def test_write_request_errors_come_in_the_newer_frameworks_envelope(dynamodb, hash_table):
    """PutItem, UpdateItem and DeleteItem report the request's own errors as "1 validation
    error detected: ...", the captured cases (paritysuite and nubo-db, eu-west-2 and us-east-1,
    2026-10-09); the same mistakes inside a transaction are reported bare."""
    E1 = "1 validation error detected: "
    key = {"pk": {"S": "envelope"}}

    def message(call, **kw):
        with pytest.raises(ClientError) as excinfo:
            call(TableName=hash_table, **kw)
        code, text = error_of(excinfo)
        assert code == "ValidationException"
        return text

    assert message(dynamodb.put_item, Item=key, ExpressionAttributeValues={":v": {"S": "x"}}) == (
        E1 + "ExpressionAttributeValues can only be specified when using expressions")
    assert message(dynamodb.delete_item, Key=key, ExpressionAttributeNames={"#a": "a"}) == (
        E1 + "ExpressionAttributeNames can only be specified when using expressions")
    assert message(dynamodb.delete_item, Key=key, ConditionExpression="a = :v", ExpressionAttributeValues={}) == (
        E1 + "ExpressionAttributeValues must not be empty")
    assert message(dynamodb.put_item, Item=key, ConditionExpression="") == (
        E1 + "Invalid ConditionExpression: The expression can not be empty;")
    for rv in ("ALL_NEW", "UPDATED_NEW"):
        assert message(dynamodb.delete_item, Key=key, ReturnValues=rv) == E1 + "ReturnValues can only be ALL_OLD or NONE"
    assert message(dynamodb.delete_item, Key=key, Expected={"a": {"Exists": True}}) == (
        E1 + "One or more parameter values were invalid: Value must be provided when Exists is true for Attribute: a")
    assert message(dynamodb.update_item, Key=key, UpdateExpression="SET b = :w", ConditionExpression="a = :v",
                   ExpressionAttributeValues={":w": {"S": "x"}}) == (
        E1 + "Invalid ConditionExpression: An expression attribute value used in expression is not defined; "
             "attribute value: :v")
    assert message(dynamodb.put_item, Item={**key, "n": {"N": ""}}) == (
        E1 + "The parameter cannot be converted to a numeric value: ")
    deep = {"S": "x"}
    for _ in range(32):
        deep = {"M": {"n": deep}}
    assert message(dynamodb.update_item, Key=key, UpdateExpression="SET a = :v", ConditionExpression="a = :v",
                   ExpressionAttributeValues={":v": deep}) == (
        E1 + "Nesting Levels have exceeded supported limits: Attributes in the item have nested levels beyond "
             "supported limit")
    # errors that need the table are not the request's own: no envelope
    assert message(dynamodb.put_item, Item={"pk": {"N": "1"}}) == (
        "One or more parameter values were invalid: Type mismatch for key pk expected: S actual: N")
    with pytest.raises(ClientError) as excinfo:
        dynamodb.transact_write_items(TransactItems=[{"Put": {"TableName": hash_table, "Item": key,
                                                              "ConditionExpression": ""}}])
    assert error_of(excinfo) == ("ValidationException", "Invalid ConditionExpression: The expression can not be empty;")
