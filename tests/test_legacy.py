"""The legacy parameters: Expected, KeyConditions, QueryFilter, ScanFilter, ConditionalOperator,
AttributesToGet and AttributeUpdates — evaluated by the expression language's comparisons."""
from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from conftest import INVALID, N, S, error_of, expect_error, expect_write_error


ITEM = {"pk": S("item"), "s": S("hello"), "n": N(5), "ss": {"SS": ["a", "b"]}, "ns": {"NS": ["1", "2"]},
        "l": {"L": [S("x"), N(1)]}, "b": {"B": b"\x01\x02"}, "t": {"BOOL": True}}

# (operator, values, expected outcome on ITEM)
CASES = [
    ("s", "EQ", [S("hello")], True), ("s", "EQ", [S("hell")], False), ("n", "EQ", [N("5.0")], True),
    ("ss", "EQ", [{"SS": ["b", "a"]}], True), ("n", "EQ", [S("5")], False),
    ("s", "NE", [S("x")], True), ("s", "NE", [S("hello")], False), ("missing", "NE", [S("x")], True),
    ("n", "LT", [N(6)], True), ("n", "LT", [N(5)], False), ("n", "LE", [N(5)], True), ("n", "GT", [N(4)], True),
    ("n", "GE", [N(6)], False), ("s", "GT", [S("hellN")], True), ("n", "GT", [S("1")], False),
    ("b", "LT", [{"B": b"\x01\x03"}], True),
    ("s", "NOT_NULL", [], True), ("missing", "NOT_NULL", [], False), ("missing", "NULL", [], True),
    ("s", "NULL", [], False),
    ("s", "CONTAINS", [S("ell")], True), ("ss", "CONTAINS", [S("a")], True), ("ns", "CONTAINS", [N(3)], False),
    ("l", "CONTAINS", [S("x")], True), ("b", "CONTAINS", [{"B": b"\x02"}], True),
    ("s", "NOT_CONTAINS", [S("z")], True), ("ss", "NOT_CONTAINS", [S("a")], False),
    ("missing", "NOT_CONTAINS", [S("a")], False),
    ("s", "BEGINS_WITH", [S("he")], True), ("s", "BEGINS_WITH", [S("lo")], False),
    ("b", "BEGINS_WITH", [{"B": b"\x01"}], True),
    ("n", "IN", [N(1), N(5)], True), ("n", "IN", [N(1), N(2)], False), ("s", "IN", [S("hello")], True),
    ("n", "BETWEEN", [N(5), N(9)], True), ("n", "BETWEEN", [N(6), N(9)], False),
    ("s", "BETWEEN", [S("a"), S("i")], True),
]


@pytest.mark.parametrize("attr,op,values,outcome", CASES)
def test_expected_and_scan_filter_operators(dynamodb, hash_table, attr, op, values, outcome):
    dynamodb.put_item(TableName=hash_table, Item=ITEM)
    cond = {attr: {"ComparisonOperator": op, **({"AttributeValueList": values} if values else {})}}
    try:
        dynamodb.put_item(TableName=hash_table, Item=ITEM, Expected=cond)
        held = True
    except ClientError as e:
        assert error_of(type("I", (), {"value": e})) == ("ConditionalCheckFailedException",
                                                         "The conditional request failed")
        held = False
    assert held is outcome
    r = dynamodb.scan(TableName=hash_table, ScanFilter={"pk": {"ComparisonOperator": "EQ",
                                                               "AttributeValueList": [S("item")]}, **cond})
    assert r["Count"] == (1 if outcome else 0)


def test_expected_exists_value_and_conditional_operator(dynamodb, hash_table):
    dynamodb.put_item(TableName=hash_table, Item={"pk": S("e"), "a": N(1)})
    put = dynamodb.put_item
    put(TableName=hash_table, Item={"pk": S("e"), "a": N(2)}, Expected={"a": {"Value": N(1)}})
    put(TableName=hash_table, Item={"pk": S("e"), "a": N(3)}, Expected={"a": {"Exists": True, "Value": N(2)}})
    put(TableName=hash_table, Item={"pk": S("e"), "a": N(4)}, Expected={"zz": {"Exists": False}})
    expect_error(put, "The conditional request failed", "ConditionalCheckFailedException",
                 TableName=hash_table, Item={"pk": S("e")}, Expected={"a": {"Exists": False}})
    expect_error(put, "The conditional request failed", "ConditionalCheckFailedException",
                 TableName=hash_table, Item={"pk": S("e")}, Expected={"a": {"Value": N(1)}, "zz": {"Exists": False}})
    put(TableName=hash_table, Item={"pk": S("e"), "a": N(5)}, ConditionalOperator="OR",
        Expected={"a": {"Value": N(1)}, "zz": {"Exists": False}})
    # A new item: Exists false holds for every attribute.
    put(TableName=hash_table, Item={"pk": S("e-new")}, Expected={"pk": {"Exists": False}})
    # DeleteItem and UpdateItem take Expected too.
    expect_error(dynamodb.delete_item, "The conditional request failed", "ConditionalCheckFailedException",
                 TableName=hash_table, Key={"pk": S("e")}, Expected={"a": {"ComparisonOperator": "LT",
                                                                          "AttributeValueList": [N(5)]}})
    dynamodb.delete_item(TableName=hash_table, Key={"pk": S("e")},
                         Expected={"a": {"ComparisonOperator": "GE", "AttributeValueList": [N(5)]}})
    assert "Item" not in dynamodb.get_item(TableName=hash_table, Key={"pk": S("e")})


def test_attribute_updates(dynamodb, hash_table):
    key = {"pk": S("u")}
    upd = dynamodb.update_item
    r = upd(TableName=hash_table, Key=key, ReturnValues="ALL_NEW", AttributeUpdates={
        "n": {"Action": "ADD", "Value": N(3)}, "ss": {"Action": "ADD", "Value": {"SS": ["a", "b"]}},
        "l": {"Action": "ADD", "Value": {"L": [S("x")]}}, "p": {"Value": S("put")}, "gone": {"Action": "DELETE"}})
    assert r["Attributes"] == {"pk": S("u"), "n": N(3), "ss": {"SS": ["a", "b"]}, "l": {"L": [S("x")]}, "p": S("put")}
    r = upd(TableName=hash_table, Key=key, ReturnValues="UPDATED_NEW", AttributeUpdates={
        "n": {"Action": "ADD", "Value": N(-4.5)}, "ss": {"Action": "DELETE", "Value": {"SS": ["a", "z"]}},
        "l": {"Action": "ADD", "Value": {"L": [N(2)]}}, "p": {"Action": "DELETE"}},
        Expected={"n": {"Value": N(3)}})
    assert r["Attributes"] == {"n": N(-1.5), "ss": {"SS": ["b"]}, "l": {"L": [S("x"), N(2)]}}
    r = upd(TableName=hash_table, Key=key, ReturnValues="ALL_NEW",
            AttributeUpdates={"ss": {"Action": "DELETE", "Value": {"SS": ["b"]}}})
    assert "ss" not in r["Attributes"] and "p" not in r["Attributes"]
    expect_error(upd, "Type mismatch for attribute to update", TableName=hash_table, Key=key,
                 AttributeUpdates={"l": {"Action": "ADD", "Value": N(1)}})
    expect_error(upd, INVALID + "Cannot update attribute pk. This attribute is part of the key",
                 TableName=hash_table, Key=key, AttributeUpdates={"pk": {"Value": S("v")}})
    expect_write_error(upd, INVALID + "ADD action is not supported for the type S", TableName=hash_table, Key=key,
                 AttributeUpdates={"x": {"Action": "ADD", "Value": S("v")}})
    expect_write_error(upd, INVALID + "DELETE action with value is not supported for the type N", TableName=hash_table,
                 Key=key, AttributeUpdates={"x": {"Action": "DELETE", "Value": N(1)}})
    expect_write_error(upd, INVALID + "Only DELETE action is allowed when no attribute value is specified",
                 TableName=hash_table, Key=key, AttributeUpdates={"x": {"Action": "PUT"}})
    expect_error(upd, "The conditional request failed", "ConditionalCheckFailedException", TableName=hash_table,
                 Key=key, AttributeUpdates={"x": {"Value": N(1)}}, Expected={"n": {"Value": N(99)}})


def test_key_conditions_query_filter_attributes_to_get(dynamodb, range_table):
    for i in range(10):
        dynamodb.put_item(TableName=range_table, Item={"pk": S("kc"), "sk": N(i), "v": N(i % 3), "w": S("w")})

    def q(sk=None, **kw):
        conds = {"pk": {"ComparisonOperator": "EQ", "AttributeValueList": [S("kc")]}}
        if sk:
            conds["sk"] = {"ComparisonOperator": sk[0], "AttributeValueList": [N(v) for v in sk[1:]]}
        return dynamodb.query(TableName=range_table, KeyConditions=conds, **kw)

    def sks(r):
        return [int(i["sk"]["N"]) for i in r["Items"]]

    assert sks(q()) == list(range(10))
    assert sks(q(("EQ", 3))) == [3]
    assert sks(q(("LT", 3))) == [0, 1, 2]
    assert sks(q(("LE", 3), ScanIndexForward=False)) == [3, 2, 1, 0]
    assert sks(q(("GT", 7))) == [8, 9]
    assert sks(q(("GE", 7))) == [7, 8, 9]
    assert sks(q(("BETWEEN", 2, 4))) == [2, 3, 4]
    r = q(QueryFilter={"v": {"ComparisonOperator": "EQ", "AttributeValueList": [N(0)]},
                       "w": {"ComparisonOperator": "NULL"}}, ConditionalOperator="OR", AttributesToGet=["sk", "v"])
    assert sks(r) == [0, 3, 6, 9] and set(r["Items"][0]) == {"sk", "v"}
    r = q(QueryFilter={"v": {"ComparisonOperator": "EQ", "AttributeValueList": [N(0)]}}, Limit=4)
    assert r["ScannedCount"] == 4 and sks(r) == [0, 3]
    # KeyConditions go with the expression parameters (but not with KeyConditionExpression).
    r = q(FilterExpression="v = :z", ExpressionAttributeValues={":z": N(1)}, ProjectionExpression="sk")
    assert sks(r) == [1, 4, 7]
    r = dynamodb.get_item(TableName=range_table, Key={"pk": S("kc"), "sk": N(1)}, AttributesToGet=["v", "nope"])
    assert r["Item"] == {"v": N(1)}
    r = dynamodb.scan(TableName=range_table, ScanFilter={"pk": {"ComparisonOperator": "EQ",
                                                               "AttributeValueList": [S("kc")]}},
                      AttributesToGet=["sk"], Select="SPECIFIC_ATTRIBUTES")
    assert sorted(sks(r)) == list(range(10))


def test_legacy_errors(dynamodb, range_table, hash_table):
    pk = {"pk": {"ComparisonOperator": "EQ", "AttributeValueList": [S("kc")]}}

    def q(message, **kw):
        expect_error(dynamodb.query, message, TableName=range_table, **kw)

    q("Can not use both expression and non-expression parameters in the same request: Non-expression parameters: "
      "{AttributesToGet} Expression parameters: {ProjectionExpression}", KeyConditions=pk, AttributesToGet=["a"],
      ProjectionExpression="a")
    q("Can not use both expression and non-expression parameters in the same request: Non-expression parameters: "
      "{QueryFilter, KeyConditions} Expression parameters: {KeyConditionExpression}",
      KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": S("x")}, KeyConditions=pk,
      QueryFilter={"v": {"ComparisonOperator": "NULL"}})
    q(INVALID + "Invalid number of argument(s) for the EQ ComparisonOperator",
      KeyConditions={"pk": {"ComparisonOperator": "EQ", "AttributeValueList": [S("a"), S("b")]}})
    q(INVALID + "Invalid number of argument(s) for the NULL ComparisonOperator", KeyConditions=pk,
      QueryFilter={"v": {"ComparisonOperator": "NULL", "AttributeValueList": [S("a")]}})
    q(INVALID + "Invalid number of argument(s) for the BETWEEN ComparisonOperator", KeyConditions=pk,
      QueryFilter={"v": {"ComparisonOperator": "BETWEEN", "AttributeValueList": [N(1)]}})
    q(INVALID + "AttributeValues inside AttributeValueList must be of same type", KeyConditions=pk,
      QueryFilter={"v": {"ComparisonOperator": "IN", "AttributeValueList": [N(1), S("1")]}})
    q(INVALID + "ComparisonOperator LT is not valid for SS AttributeValue type", KeyConditions=pk,
      QueryFilter={"v": {"ComparisonOperator": "LT", "AttributeValueList": [{"SS": ["a"]}]}})
    q(INVALID + "ComparisonOperator BEGINS_WITH is not valid for N AttributeValue type", KeyConditions=pk,
      QueryFilter={"v": {"ComparisonOperator": "BEGINS_WITH", "AttributeValueList": [N(1)]}})
    q("The BETWEEN condition was provided a range where the lower bound is greater than the upper bound",
      KeyConditions=pk, QueryFilter={"v": {"ComparisonOperator": "BETWEEN", "AttributeValueList": [N(9), N(1)]}})
    q("Conditions can be of length 1 or 2 only", KeyConditions={
        **pk, "sk": {"ComparisonOperator": "EQ", "AttributeValueList": [N(1)]},
        "x": {"ComparisonOperator": "EQ", "AttributeValueList": [N(1)]}})
    q("Attempted conditional constraint is not an indexable operation", KeyConditions={
        **pk, "sk": {"ComparisonOperator": "NE", "AttributeValueList": [N(1)]}})
    q("Query key condition not supported", KeyConditions={
        "pk": {"ComparisonOperator": "BEGINS_WITH", "AttributeValueList": [S("k")]}})
    q("Query condition missed key schema element: sk", KeyConditions={
        **pk, "zz": {"ComparisonOperator": "EQ", "AttributeValueList": [N(1)]}})
    q(INVALID + "Condition parameter type does not match schema type", KeyConditions={
        **pk, "sk": {"ComparisonOperator": "EQ", "AttributeValueList": [S("1")]}})
    q("QueryFilter can only contain non-primary key attributes: Primary key attribute: sk", KeyConditions=pk,
      QueryFilter={"sk": {"ComparisonOperator": "NOT_NULL"}})
    q(INVALID + "Duplicate value in attribute name: a", KeyConditions=pk, AttributesToGet=["a", "a"])
    expect_error(dynamodb.scan, "Can not use both expression and non-expression parameters in the same request: "
                 "Non-expression parameters: {ScanFilter} Expression parameters: {FilterExpression}",
                 TableName=hash_table, ScanFilter={"a": {"ComparisonOperator": "NULL"}}, FilterExpression="a = :a",
                 ExpressionAttributeValues={":a": N(1)})
    put = dynamodb.put_item
    item = {"pk": S("x")}
    expect_write_error(put, "Can not use both expression and non-expression parameters in the same request: "
                 "Non-expression parameters: {Expected} Expression parameters: {ConditionExpression}",
                 TableName=hash_table, Item=item, Expected={"a": {"Exists": False}},
                 ConditionExpression="attribute_exists(a)")
    expect_write_error(put, INVALID + "Invalid number of argument(s) for the EQ ComparisonOperator", TableName=hash_table,
                 Item=item, Expected={"a": {"ComparisonOperator": "EQ", "AttributeValueList": [N(1), N(2)]}})
    expect_write_error(put, INVALID + "Value or AttributeValueList must be used with ComparisonOperator: EQ for "
                 "Attribute: a", TableName=hash_table, Item=item, Expected={"a": {"ComparisonOperator": "EQ"}})
    expect_write_error(put, INVALID + "Exists and ComparisonOperator cannot be used together for Attribute: a",
                 TableName=hash_table, Item=item, Expected={"a": {"ComparisonOperator": "NULL", "Exists": False}})
    expect_write_error(put, INVALID + "Value must be provided when Exists is true for Attribute: a",
                 TableName=hash_table, Item=item, Expected={"a": {"Exists": True}})
    expect_write_error(put, INVALID + "Value cannot be used when Exists is false for Attribute: a",
                 TableName=hash_table, Item=item, Expected={"a": {"Exists": False, "Value": N(1)}})
    expect_write_error(put, INVALID + "AttributeValueList can only be used with a ComparisonOperator for Attribute: a",
                 TableName=hash_table, Item=item, Expected={"a": {"AttributeValueList": [N(1)]}})
    expect_write_error(dynamodb.update_item, "Can not use both expression and non-expression parameters in the same "
                 "request: Non-expression parameters: {AttributeUpdates} Expression parameters: {UpdateExpression}",
                 TableName=hash_table, Key=item, AttributeUpdates={"a": {"Value": N(1)}}, UpdateExpression="SET b = :b",
                 ExpressionAttributeValues={":b": N(1)})
    expect_error(dynamodb.get_item, "Can not use both expression and non-expression parameters in the same request: "
                 "Non-expression parameters: {AttributesToGet} Expression parameters: {ProjectionExpression}",
                 TableName=hash_table, Key=item, AttributesToGet=["a"], ProjectionExpression="a")


def test_expected_values_are_checked_like_filter_conditions(dynamodb, hash_table):
    """Expected's AttributeValueList obeys the same per-operator types as QueryFilter/ScanFilter
    (ScyllaDB Alternator's test_expected.py, run against DynamoDB: a ValidationException, not a
    failed condition), and BETWEEN's bounds must be in order."""
    dynamodb.put_item(TableName=hash_table, Item={"pk": S("ev"), "a": N(2), "s": S("cat")})
    upd = dynamodb.update_item
    key, change = {"pk": S("ev")}, {"z": {"Value": N(1)}}
    for op, values, shown in [
        ("LE", [{"L": [N(1)]}], "L"), ("CONTAINS", [{"L": [N(1)]}], "L"), ("NOT_CONTAINS", [{"L": [N(1)]}], "L"),
        ("BEGINS_WITH", [N(3)], "N"), ("IN", [{"L": [N(1)]}, {"L": [N(2)]}], "L"),
        ("BETWEEN", [{"NS": ["1"]}, {"NS": ["2"]}], "NS"), ("BETWEEN", [{"L": [N(1)]}, {"L": [N(2)]}], "L"),
    ]:
        expect_write_error(upd, INVALID + f"ComparisonOperator {op} is not valid for {shown} AttributeValue type",
                     TableName=hash_table, Key=key, AttributeUpdates=change,
                     Expected={"a": {"ComparisonOperator": op, "AttributeValueList": values}})
    for values in ([N(4), N(3)], [S("dog"), S("aardvark")]):
        expect_write_error(upd, "The BETWEEN condition was provided a range where the lower bound is greater than the "
                     "upper bound", TableName=hash_table, Key=key, AttributeUpdates=change,
                     Expected={"a": {"ComparisonOperator": "BETWEEN", "AttributeValueList": values}})
    # the item's own types only make the condition false
    expect_error(upd, "The conditional request failed", "ConditionalCheckFailedException", TableName=hash_table,
                 Key=key, AttributeUpdates=change,
                 Expected={"s": {"ComparisonOperator": "BETWEEN", "AttributeValueList": [N(1), N(3)]}})
    assert "z" not in dynamodb.get_item(TableName=hash_table, Key=key)["Item"]


def test_eq_and_ne_compare_every_type(dynamodb, hash_table):
    """EQ and NE take lists, maps, booleans and nulls too (the Condition docs: "EQ is
    supported for all data types, including lists and maps"); CONTAINS takes a BOOL or NULL."""
    item = {"pk": S("eq-all"), "l": {"L": [N(1), S("x")]}, "m": {"M": {"k": S("v")}}, "t": {"BOOL": True},
            "z": {"NULL": True}}
    dynamodb.put_item(TableName=hash_table, Item=item)
    pk = {"pk": {"ComparisonOperator": "EQ", "AttributeValueList": [S("eq-all")]}}

    def count(**conds):
        return dynamodb.scan(TableName=hash_table, ScanFilter={**pk, **conds})["Count"]

    assert count(l={"ComparisonOperator": "EQ", "AttributeValueList": [{"L": [N(1), S("x")]}]}) == 1
    assert count(l={"ComparisonOperator": "NE", "AttributeValueList": [{"L": [N(1)]}]}) == 1
    assert count(m={"ComparisonOperator": "EQ", "AttributeValueList": [{"M": {"k": S("v")}}]}) == 1
    assert count(t={"ComparisonOperator": "EQ", "AttributeValueList": [{"BOOL": False}]}) == 0
    assert count(z={"ComparisonOperator": "EQ", "AttributeValueList": [{"NULL": True}]}) == 1
    assert count(l={"ComparisonOperator": "CONTAINS", "AttributeValueList": [{"BOOL": True}]}) == 0
    dynamodb.put_item(TableName=hash_table, Item=item,
                      Expected={"l": {"ComparisonOperator": "EQ", "AttributeValueList": [{"L": [N(1), S("x")]}]}})


def test_conditional_operator_needs_two_or_more_conditions(dynamodb, hash_table, range_table):
    """ConditionalOperator is refused without Expected/QueryFilter/ScanFilter (or with an empty
    one) and with only one condition; it counts as a non-expression parameter."""
    without = "ConditionalOperator cannot be used without Filter or Expected"
    one = "ConditionalOperator can only be used when Filter or Expected has two or more elements"
    key, cond = {"pk": S("co")}, {"ComparisonOperator": "NULL"}
    upd = dynamodb.update_item
    for op in ("AND", "OR"):
        expect_write_error(upd, without, TableName=hash_table, Key=key, AttributeUpdates={"z": {"Value": N(4)}},
                     ConditionalOperator=op)
        expect_write_error(upd, without, TableName=hash_table, Key=key, AttributeUpdates={"z": {"Value": N(4)}},
                     Expected={}, ConditionalOperator=op)
    expect_write_error(upd, one, TableName=hash_table, Key=key, Expected={"a": cond}, ConditionalOperator="OR")
    expect_write_error(dynamodb.put_item, one, TableName=hash_table, Item=key, Expected={"a": cond},
                 ConditionalOperator="AND")
    expect_write_error(dynamodb.delete_item, without, TableName=hash_table, Key=key, ConditionalOperator="AND")
    expect_error(dynamodb.scan, without, TableName=hash_table, ConditionalOperator="AND", ScanFilter={})
    expect_error(dynamodb.scan, one, TableName=hash_table, ConditionalOperator="OR", ScanFilter={"a": cond})
    pk = {"pk": {"ComparisonOperator": "EQ", "AttributeValueList": [S("co")]}}
    expect_error(dynamodb.query, without, TableName=range_table, KeyConditions=pk, ConditionalOperator="AND")
    expect_error(dynamodb.query, without, TableName=range_table, ConditionalOperator="AND")
    expect_write_error(dynamodb.put_item, "Can not use both expression and non-expression parameters in the same request: "
                 "Non-expression parameters: {Expected, ConditionalOperator} Expression parameters: "
                 "{ConditionExpression}", TableName=hash_table, Item=key, Expected={"a": cond},
                 ConditionalOperator="AND", ConditionExpression="attribute_exists(pk)")
    assert "Item" not in dynamodb.get_item(TableName=hash_table, Key=key)
