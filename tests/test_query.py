"""Query against the running server: key conditions, order, paging, limits, Select, capacity.

Expected messages are DynamoDB's (as reproduced by dynalite / DynamoDB Local / alternator,
whose tests ran against the real service).
"""
from __future__ import annotations

import base64
from decimal import Decimal

import pytest
from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError

from conftest import create_table, error_of, unique_name

MB = 1024 * 1024
INVALID = "One or more parameter values were invalid: "


def S(v):
    return {"S": v}


def N(v):
    return {"N": str(v)}


def B(v: bytes):
    return {"B": v}


def put_all(client, table, items):
    for i in range(0, len(items), 25):
        client.batch_write_item(RequestItems={table: [{"PutRequest": {"Item": it}} for it in items[i:i + 25]]})


def query_all(client, **kw):
    items, pages = [], 0
    while True:
        r = client.query(**kw)
        pages += 1
        items += r["Items"]
        if "LastEvaluatedKey" not in r:
            return items, pages
        kw["ExclusiveStartKey"] = r["LastEvaluatedKey"]


def expect_error(fn, message, code="ValidationException", **kw):
    with pytest.raises(ClientError) as info:
        fn(**kw)
    assert error_of(info) == (code, message)


# --- sort key order -------------------------------------------------------------------------

NUMBERS = ["-1e10", "-100", "-10.5", "-10", "-1", "-0.5", "-0.001", "0", "1e-5", "0.001", "0.5", "1",
           "1.5", "2", "9.99", "10", "10.01", "100", "123456789012345678901234567890", "1e100"]
STRINGS = ["", "A", "Z", "a", "a\u0000", "aa", "ab", "b", "z", "\u00e9", "\u00ff", "\u0100", "\u4e2d",
           "\uffff", "\U0001f600", "~"]
BINARIES = [b"\x00", b"\x00\x00", b"\x00\x01", b"\x01", b"\x7f", b"\x80", b"\x80\x00", b"\xfe", b"\xff",
            b"\xff\x00", b"\xff\xff", b"a", b"ab"]


@pytest.mark.parametrize("sk_type", ["N", "S", "B"])
def test_sort_key_order(dynamodb, sk_type):
    table = create_table(dynamodb, unique_name("ord"), range_key=("sk", sk_type))
    try:
        if sk_type == "N":
            values = [N(v) for v in NUMBERS]
            ordered = sorted(values, key=lambda v: Decimal(v["N"]))
        elif sk_type == "S":
            values = [S(v) for v in STRINGS if v]  # an empty sort key is invalid
            ordered = sorted(values, key=lambda v: v["S"].encode("utf-8"))
        else:
            values = [B(v) for v in BINARIES]
            ordered = sorted(values, key=lambda v: v["B"])
        put_all(dynamodb, table, [{"pk": S("p"), "sk": v} for v in reversed(values)])
        put_all(dynamodb, table, [{"pk": S("other"), "sk": v} for v in values[:3]])

        def sks(**kw):
            items, _ = query_all(dynamodb, TableName=table, KeyConditionExpression="pk = :p",
                                 ExpressionAttributeValues={":p": S("p")}, **kw)
            return [it["sk"] for it in items]

        def norm(v):
            return {k: (Decimal(x) if k == "N" else x) for k, x in v.items()}

        assert [norm(v) for v in sks()] == [norm(v) for v in ordered]
        assert [norm(v) for v in sks(ScanIndexForward=False)] == [norm(v) for v in reversed(ordered)]
        for limit in (1, 3):
            assert [norm(v) for v in sks(Limit=limit)] == [norm(v) for v in ordered]
            assert [norm(v) for v in sks(Limit=limit, ScanIndexForward=False)] == [norm(v) for v in reversed(ordered)]
    finally:
        dynamodb.delete_table(TableName=table)


def test_number_sort_key_conditions(dynamodb, range_table):
    vals = [Decimal(v) for v in NUMBERS]
    put_all(dynamodb, range_table, [{"pk": S("nums"), "sk": N(v)} for v in NUMBERS])

    def run(expr, values, forward=True):
        items, _ = query_all(dynamodb, TableName=range_table, KeyConditionExpression="pk = :p AND " + expr,
                             ExpressionAttributeValues={":p": S("nums"), **values}, ScanIndexForward=forward)
        return [Decimal(it["sk"]["N"]) for it in items]

    ordered = sorted(vals)
    assert run("sk = :a", {":a": N("-10.50")}) == [Decimal("-10.5")]
    assert run("sk < :a", {":a": N("-0.5")}) == [v for v in ordered if v < Decimal("-0.5")]
    assert run("sk <= :a", {":a": N("-0.5")}) == [v for v in ordered if v <= Decimal("-0.5")]
    assert run("sk > :a", {":a": N("-0.5")}) == [v for v in ordered if v > Decimal("-0.5")]
    assert run(":a <= sk", {":a": N("-0.5")}) == [v for v in ordered if v >= Decimal("-0.5")]
    assert run("sk BETWEEN :a AND :b", {":a": N("-10"), ":b": N("10")}) == \
        [v for v in ordered if Decimal(-10) <= v <= Decimal(10)]
    assert run("sk BETWEEN :a AND :b", {":a": N("-10"), ":b": N("10")}, False) == \
        [v for v in reversed(ordered) if Decimal(-10) <= v <= Decimal(10)]
    assert run("sk >= :a", {":a": N("1e99")}) == [Decimal("1e100")]


def test_string_and_binary_sort_key_conditions(dynamodb):
    table = create_table(dynamodb, unique_name("sb"), range_key=("sk", "S"))
    btable = create_table(dynamodb, unique_name("bb"), range_key=("sk", "B"))
    try:
        strings = ["a", "ab", "abc", "abd", "ac", "b", "\u00e9t\u00e9", "\u00e9u", "\U0001f600x"]
        put_all(dynamodb, table, [{"pk": S("p"), "sk": S(v)} for v in strings])
        res = dynamodb.query(TableName=table, KeyConditionExpression="pk = :p AND begins_with(sk, :b)",
                             ExpressionAttributeValues={":p": S("p"), ":b": S("ab")})
        assert [i["sk"]["S"] for i in res["Items"]] == ["ab", "abc", "abd"]
        res = dynamodb.query(TableName=table, KeyConditionExpression="pk = :p AND begins_with(sk, :b)",
                             ExpressionAttributeValues={":p": S("p"), ":b": S("\u00e9")}, ScanIndexForward=False)
        assert [i["sk"]["S"] for i in res["Items"]] == ["\u00e9u", "\u00e9t\u00e9"]
        res = dynamodb.query(TableName=table, KeyConditionExpression="pk = :p AND sk BETWEEN :a AND :b",
                             ExpressionAttributeValues={":p": S("p"), ":a": S("abc"), ":b": S("b")})
        assert [i["sk"]["S"] for i in res["Items"]] == ["abc", "abd", "ac", "b"]

        binaries = [b"\x00", b"\x00\xff", b"\x01", b"\x01\x00", b"\x01\x02", b"\x02", b"\xff", b"\xff\x01"]
        put_all(dynamodb, btable, [{"pk": S("p"), "sk": B(v)} for v in binaries])
        res = dynamodb.query(TableName=btable, KeyConditionExpression="pk = :p AND begins_with(sk, :b)",
                             ExpressionAttributeValues={":p": S("p"), ":b": B(b"\x01")})
        assert [i["sk"]["B"] for i in res["Items"]] == [b"\x01", b"\x01\x00", b"\x01\x02"]
        res = dynamodb.query(TableName=btable, KeyConditionExpression="pk = :p AND sk > :b",
                             ExpressionAttributeValues={":p": S("p"), ":b": B(b"\x01\x02")})
        assert [i["sk"]["B"] for i in res["Items"]] == [b"\x02", b"\xff", b"\xff\x01"]
    finally:
        dynamodb.delete_table(TableName=table)
        dynamodb.delete_table(TableName=btable)


# --- paging, Limit, filters -----------------------------------------------------------------------

def test_paging_every_page_size(dynamodb, range_table):
    n = 17
    put_all(dynamodb, range_table, [{"pk": S("page"), "sk": N(i), "odd": {"BOOL": i % 2 == 1}} for i in range(n)])
    base = dict(TableName=range_table, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": S("page")})
    full = dynamodb.query(**base)
    assert full["Count"] == full["ScannedCount"] == n and "LastEvaluatedKey" not in full
    for forward in (True, False):
        want = list(range(n)) if forward else list(reversed(range(n)))
        for size in range(1, n + 2):
            items, pages = query_all(dynamodb, Limit=size, ScanIndexForward=forward, **base)
            assert [int(i["sk"]["N"]) for i in items] == want
            # A page that stops at Limit on the partition's last item has no LastEvaluatedKey
            # (DynamoDB: 20 items with Limit=1 take 20 pages, not 21), so no empty last page.
            assert pages == max(1, -(-n // size))
    r = dynamodb.query(Limit=n, **base)
    assert r["Count"] == n and "LastEvaluatedKey" not in r
    r = dynamodb.query(Limit=n - 1, **base)
    assert r["Count"] == n - 1 and r["LastEvaluatedKey"] == {"pk": S("page"), "sk": N(n - 2)}
    r = dynamodb.query(Limit=2, KeyConditionExpression="pk = :p AND sk < :s",
                       ExpressionAttributeValues={":p": S("page"), ":s": N(2)}, TableName=range_table)
    assert r["Count"] == 2 and "LastEvaluatedKey" not in r  # the key condition's range ends there too
    # Scan keeps the key when a page stops at Limit, even on the table's last item.
    r = dynamodb.scan(TableName=range_table, Limit=n)
    assert r["Count"] == n and r["LastEvaluatedKey"]
    # Limit counts items evaluated, before the filter.
    r = dynamodb.query(Limit=4, FilterExpression="odd = :t", **{**base, "ExpressionAttributeValues": {
        ":p": S("page"), ":t": {"BOOL": True}}})
    assert r["ScannedCount"] == 4 and r["Count"] == 2
    assert r["LastEvaluatedKey"] == {"pk": S("page"), "sk": N(3)}
    # A filter that removes the last evaluated item still pages from it.
    r = dynamodb.query(Limit=3, FilterExpression="odd = :t", **{**base, "ExpressionAttributeValues": {
        ":p": S("page"), ":t": {"BOOL": True}}})
    assert [i["sk"] for i in r["Items"]] == [N(1)] and r["LastEvaluatedKey"]["sk"] == N(2)


def test_paginator_and_resource(dynamodb, resource, range_table):
    put_all(dynamodb, range_table, [{"pk": S("pg"), "sk": N(i), "v": S(f"v{i}")} for i in range(23)])
    pages = list(dynamodb.get_paginator("query").paginate(
        TableName=range_table, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": S("pg")},
        PaginationConfig={"PageSize": 5}))
    assert [p["Count"] for p in pages] == [5, 5, 5, 5, 3]
    assert [int(i["sk"]["N"]) for p in pages for i in p["Items"]] == list(range(23))
    table = resource.Table(range_table)
    r = table.query(KeyConditionExpression=Key("pk").eq("pg") & Key("sk").between(3, 6),
                    FilterExpression=Attr("v").ne("v4"), ProjectionExpression="sk")
    assert r["Items"] == [{"sk": 3}, {"sk": 5}, {"sk": 6}] and r["ScannedCount"] == 4
    r = table.query(KeyConditionExpression=Key("pk").eq("pg") & Key("sk").lt(2), ScanIndexForward=False)
    assert [i["sk"] for i in r["Items"]] == [1, 0] and r["Items"][0]["v"] == "v1"


def test_one_megabyte_pages(dynamodb):
    table = create_table(dynamodb, unique_name("mb"), range_key=("sk", "S"))
    try:
        # Each item is exactly MB/8 bytes as DynamoDB sizes items (name + value bytes for strings).
        def item(pk, i, size):
            base = len("pk") + len(pk) + len("sk") + 3 + len("d")
            return {"pk": S(pk), "sk": S(f"{i:03d}"), "d": S("x" * (size - base))}

        put_all(dynamodb, table, [item("exact", i, MB // 8) for i in range(20)])
        put_all(dynamodb, table, [item("under", i, MB // 8 - 1) for i in range(20)])
        for pk, first in (("exact", 8), ("under", 9)):
            r = dynamodb.query(TableName=table, KeyConditionExpression="pk = :p",
                               ExpressionAttributeValues={":p": S(pk)}, ReturnConsumedCapacity="TOTAL")
            # The page ends with the item that brings the data read to 1 MB.
            assert r["Count"] == r["ScannedCount"] == first
            assert r["LastEvaluatedKey"]["sk"] == S(f"{first - 1:03d}")
            assert r["ConsumedCapacity"]["CapacityUnits"] == pytest.approx(
                -(-first * (MB // 8 if pk == "exact" else MB // 8 - 1) // 4096) / 2)
            items, pages = query_all(dynamodb, TableName=table, KeyConditionExpression="pk = :p",
                                     ExpressionAttributeValues={":p": S(pk)})
            assert len(items) == 20 and pages == 3
        # The 1 MB counts data read, not data returned: COUNT and projections page the same.
        r = dynamodb.query(TableName=table, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": S("exact")},
                           Select="COUNT")
        assert r["Count"] == 8 and "Items" not in r and "LastEvaluatedKey" in r
        r = dynamodb.query(TableName=table, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": S("exact")},
                           ProjectionExpression="sk")
        assert r["Count"] == 8
    finally:
        dynamodb.delete_table(TableName=table)


def test_select_count_and_capacity(dynamodb, range_table):
    put_all(dynamodb, range_table, [{"pk": S("cap"), "sk": N(i), "d": S("y" * 2000)} for i in range(6)])
    base = dict(TableName=range_table, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": S("cap")})
    r = dynamodb.query(Select="COUNT", **base)
    assert r["Count"] == 6 and r["ScannedCount"] == 6 and "Items" not in r
    # ~12 KB read: 3 units strongly consistent, 1.5 eventually; filtering does not reduce it.
    r = dynamodb.query(ReturnConsumedCapacity="TOTAL", ConsistentRead=True, **base)
    assert r["ConsumedCapacity"] == {"TableName": range_table, "CapacityUnits": 3.0}
    r = dynamodb.query(ReturnConsumedCapacity="INDEXES", FilterExpression="d = :z",
                       **{**base, "ExpressionAttributeValues": {":p": S("cap"), ":z": S("nope")}})
    assert r["Count"] == 0 and r["ScannedCount"] == 6
    assert r["ConsumedCapacity"] == {"TableName": range_table, "CapacityUnits": 1.5, "Table": {"CapacityUnits": 1.5}}
    r = dynamodb.query(Select="SPECIFIC_ATTRIBUTES", ProjectionExpression="sk", Limit=2, **base)
    assert r["Items"] == [{"sk": N(0)}, {"sk": N(1)}]
    r = dynamodb.query(Select="ALL_ATTRIBUTES", Limit=1, **base)
    assert set(r["Items"][0]) == {"pk", "sk", "d"}
    r = dynamodb.query(TableName=range_table, KeyConditionExpression="pk = :p",
                       ExpressionAttributeValues={":p": S("nothing-here")}, ReturnConsumedCapacity="TOTAL")
    assert r["Items"] == [] and r["Count"] == 0 and r["ConsumedCapacity"]["CapacityUnits"] == 0.5


# --- validation -------------------------------------------------------------------------------------

def test_key_condition_errors(dynamodb, range_table, hash_table):
    q = dynamodb.query

    def bad(expr, message, table=range_table, **values):
        # only the values the expression uses: an unused one is refused before the key schema
        used = {k: v for k, v in {":p": S("x"), **values}.items() if k in expr}
        expect_error(q, message, TableName=table, KeyConditionExpression=expr, ExpressionAttributeValues=used or None)

    vals = {":v": N(1)}
    bad("pk = :p AND zzz = :v", "Query condition missed key schema element: sk", **vals)
    bad("zzz = :v", "Query condition missed key schema element: pk", **vals)
    bad("pk = :p AND zzz = :v", "Query key condition not supported", table=hash_table, **vals)
    bad("pk = :p OR sk = :v", "Invalid operator used in KeyConditionExpression: OR", **vals)
    bad("pk = :p AND sk <> :v", "Invalid operator used in KeyConditionExpression: <>", **vals)
    bad("pk = :p AND sk IN (:v)", "Invalid operator used in KeyConditionExpression: IN", **vals)
    bad("pk = :p AND attribute_exists(sk)", "Invalid operator used in KeyConditionExpression: attribute_exists")
    bad("pk = :p AND contains(sk, :v)", "Invalid operator used in KeyConditionExpression: contains", **vals)
    bad("pk < :p", "Query key condition not supported")
    bad("pk = :p AND sk = :v AND sk > :v", "Invalid KeyConditionExpression: KeyConditionExpressions must only contain one condition per key", **vals)
    bad("pk = :p AND sk = :v", INVALID + "Condition parameter type does not match schema type", **{":v": S("1")})
    bad("pk = :p AND a.b = :v", "KeyConditionExpressions cannot have conditions on nested attributes", **vals)
    expect_error(q, "Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.",
                 TableName=range_table)
    expect_error(q, "Requested resource not found", "ResourceNotFoundException", TableName="no-such-table-q",
                 KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": S("x")})


def test_filter_and_select_errors(dynamodb, range_table):
    """Query reports Select's rules in DynamoDB's newer framework's envelope (nubo-db's
    capture of 2026-10-09; Scan's stay bare)."""
    E1 = "1 validation error detected: "
    base = dict(TableName=range_table, KeyConditionExpression="pk = :p")
    vals = {":p": S("x")}
    expect_error(dynamodb.query, "Filter Expression can only contain non-primary key attributes: Primary key attribute: sk",
                 FilterExpression="sk > :v", ExpressionAttributeValues={**vals, ":v": N(1)}, **base)
    expect_error(dynamodb.query, "Filter Expression can only contain non-primary key attributes: Primary key attribute: pk",
                 FilterExpression="#k = :p", ExpressionAttributeNames={"#k": "pk"}, ExpressionAttributeValues=vals, **base)
    expect_error(dynamodb.query, E1 + "ALL_PROJECTED_ATTRIBUTES can be used only when Querying using an IndexName",
                 Select="ALL_PROJECTED_ATTRIBUTES", ExpressionAttributeValues=vals, **base)
    expect_error(dynamodb.query, E1 + "Must specify the AttributesToGet or ProjectionExpression when choosing to get "
                 "SPECIFIC_ATTRIBUTES", Select="SPECIFIC_ATTRIBUTES", ExpressionAttributeValues=vals, **base)
    expect_error(dynamodb.query, E1 + "Cannot specify the ProjectionExpression when choosing to get ALL_ATTRIBUTES",
                 Select="ALL_ATTRIBUTES", ProjectionExpression="a", ExpressionAttributeValues=vals, **base)
    expect_error(dynamodb.query, E1 + "Cannot specify the ProjectionExpression when choosing to get only the Count",
                 Select="COUNT", ProjectionExpression="a", ExpressionAttributeValues=vals, **base)
    expect_error(dynamodb.query, "1 validation error detected: Value 'SOME' at 'select' failed to satisfy constraint: "
                 "Member must satisfy enum value set: [SPECIFIC_ATTRIBUTES, COUNT, ALL_ATTRIBUTES, "
                 "ALL_PROJECTED_ATTRIBUTES]", Select="SOME", ExpressionAttributeValues=vals, **base)


def test_exclusive_start_key_errors(dynamodb, range_table):
    base = dict(TableName=range_table, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": S("x")})
    # Query's words for a key that does not match the schema (nubo-db's capture; Scan adds why)
    msg = "The provided starting key is invalid"
    expect_error(dynamodb.query, msg, ExclusiveStartKey={"pk": S("x")}, **base)
    expect_error(dynamodb.query, msg, ExclusiveStartKey={"bad": S("p")}, **base)
    expect_error(dynamodb.query, msg, ExclusiveStartKey={"pk": S("x"), "sk": S("1")}, **base)
    expect_error(dynamodb.query, msg, ExclusiveStartKey={"pk": S("x"), "sk": N(1), "z": N(1)}, **base)
    expect_error(dynamodb.query, "The provided starting key is outside query boundaries based on provided conditions",
                 ExclusiveStartKey={"pk": S("y"), "sk": N(1)}, **base)
    ranged = dict(TableName=range_table, KeyConditionExpression="pk = :p AND sk > :v",
                  ExpressionAttributeValues={":p": S("x"), ":v": N(5)})
    expect_error(dynamodb.query, "The provided starting key does not match the range key predicate",
                 ExclusiveStartKey={"pk": S("x"), "sk": N(1)}, **ranged)
    expect_error(dynamodb.query, "The query can return at most one row and cannot be restarted",
                 ExclusiveStartKey={"pk": S("y"), "sk": N(6)}, **ranged)
    # A start key that matches resumes after it, whether or not the item exists.
    r = dynamodb.query(ExclusiveStartKey={"pk": S("x"), "sk": N(6)}, **ranged)
    assert r["Count"] == 0 and "LastEvaluatedKey" not in r


def test_key_condition_errors_in_written_order_and_before_the_table(dynamodb, range_table):
    """A key condition's clauses are checked in written order, and before the table is looked
    up (paritysuite's queryKeyCondition captures)."""
    operand = ("Invalid KeyConditionExpression: Incorrect operand type for operator or function; operator or "
               "function: begins_with, operand type: N")
    undefined = ("Invalid KeyConditionExpression: An expression attribute value used in expression is not defined; "
                 "attribute value: :missing")
    expect_error(dynamodb.query, undefined, TableName=range_table,
                 KeyConditionExpression="pk = :missing AND begins_with(sk, :n)", ExpressionAttributeValues={":n": N(1)})
    expect_error(dynamodb.query, operand, TableName=range_table,
                 KeyConditionExpression="begins_with(sk, :n) AND pk = :missing", ExpressionAttributeValues={":n": N(1)})
    expect_error(dynamodb.query, operand, TableName="no-such-table-kc",
                 KeyConditionExpression="pk = :p AND begins_with(sk, :n)",
                 ExpressionAttributeValues={":p": S("q"), ":n": N(1)})
    expect_error(dynamodb.query, "Requested resource not found", "ResourceNotFoundException", TableName="no-such-table-kc",
                 KeyConditionExpression="pk = :p AND begins_with(sk, :s)",
                 ExpressionAttributeValues={":p": S("q"), ":s": S("a")})


def test_start_key_shape_comes_before_the_key_conditions(dynamodb, range_table):
    """AWS checks an ExclusiveStartKey's number of attributes and their presence before the key
    conditions (dynalite's query.js, recorded from DynamoDB); their types after them."""
    bad_condition = dict(TableName=range_table, KeyConditionExpression="z = :z", ExpressionAttributeValues={":z": S("x")})
    for esk in ({"pk": S("a")}, {"pk": S("a"), "x": N(1)}, {"pk": S("a"), "sk": N(1), "x": S("y")}):
        expect_error(dynamodb.query, "The provided starting key is invalid", ExclusiveStartKey=esk, **bad_condition)
    for esk in ({"pk": S("a"), "sk": N(1)}, {"pk": S("a"), "sk": S("1")}):
        expect_error(dynamodb.query, "Query condition missed key schema element: pk", ExclusiveStartKey=esk,
                     **bad_condition)
    expect_error(dynamodb.query, "The provided starting key is invalid", ExclusiveStartKey={"pk": S("a"), "sk": S("1")},
                 TableName=range_table, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": S("a")})


def test_key_condition_rules_without_a_schema_come_before_a_missing_table(dynamodb):
    # dynalite's query.js (recorded from DynamoDB) asks these of a table that does not exist
    missing = unique_name("no-such-query")
    for expression, message in (
            ("a = :a OR b = :a", "Invalid operator used in KeyConditionExpression: OR"),
            ("attribute_exists(a) AND b = :a", "Invalid operator used in KeyConditionExpression: attribute_exists"),
            ("a.b = :a", "KeyConditionExpressions cannot have conditions on nested attributes"),
            ("a = size(:a)", "KeyConditionExpressions cannot contain nested operations")):
        expect_error(dynamodb.query, message, TableName=missing, KeyConditionExpression=expression,
                     ExpressionAttributeValues={":a": S("1")})
    expect_error(dynamodb.query, "Requested resource not found", "ResourceNotFoundException", TableName=missing,
                 KeyConditionExpression="a = :a", ExpressionAttributeValues={":a": S("1")})
    # each expression's own errors come first, the key condition's before the filter's, and
    # unused values before the key condition's rules
    expect_error(dynamodb.query, 'Invalid KeyConditionExpression: Syntax error; token: "4", near: "> 4"',
                 TableName=missing, KeyConditionExpression="a > 4", FilterExpression="")
    expect_error(dynamodb.query, "Value provided in ExpressionAttributeValues unused in expressions: keys: {:u}",
                 TableName=missing, KeyConditionExpression="a = :a OR b = :a",
                 ExpressionAttributeValues={":a": S("1"), ":u": S("2")})


def test_an_empty_filter_or_projection_comes_before_the_key_condition(dynamodb):
    # dynalite's query.js (recorded from DynamoDB): empty expressions first, the filter's first
    missing = unique_name("no-such-query")
    base = dict(TableName=missing, KeyConditionExpression="attribute_type(a, :a)", ExpressionAttributeValues={":a": S("N")})
    expect_error(dynamodb.query, "Invalid FilterExpression: The expression can not be empty;",
                 FilterExpression="", ProjectionExpression="", **base)
    expect_error(dynamodb.query, "Invalid ProjectionExpression: The expression can not be empty;",
                 FilterExpression="a > b", ProjectionExpression=" ", **base)
    expect_error(dynamodb.query, "Invalid operator used in KeyConditionExpression: attribute_type", **base)
