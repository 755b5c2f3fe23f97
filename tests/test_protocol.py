"""Unit tests of protocol/ (pure functions, no server): AWS's exact error types and texts."""
from __future__ import annotations

import re

import pytest

from dynamodbforge.errors import DynamoDBError
from dynamodbforge.protocol import attributes as A
from dynamodbforge.protocol import numbers
from dynamodbforge.protocol.attributes import KeySchema
from dynamodbforge.protocol.validate import validate_request

INVALID = "One or more parameter values were invalid: "


def fails(op: str, body: dict) -> DynamoDBError:
    with pytest.raises(DynamoDBError) as info:
        validate_request(op, body)
    return info.value


def validation(op: str, body: dict) -> str:
    err = fails(op, body)
    assert err.type_name == "ValidationException", err.message
    assert err.prefix == "com.amazon.coral.validate#"
    return err.message


E1 = "1 validation error detected: "


def written(op: str, body: dict) -> str:
    """The message of a PutItem/UpdateItem/DeleteItem request error, which DynamoDB's newer
    validation framework reports in its envelope (paritysuite and nubo-db, 2026-10-09)."""
    message = validation(op, body)
    assert message.startswith(E1), message
    return message[len(E1):]


def serialization(op: str, body: dict) -> str:
    err = fails(op, body)
    assert err.type_name == "SerializationException", err.message
    assert err.body()["__type"] == "com.amazon.coral.service#SerializationException"
    assert "Message" in err.body()
    return err.message


def av_problem(av) -> str:
    with pytest.raises(DynamoDBError) as info:
        A.validate_attribute_value(av)
    return info.value.message


# --- serialization (type) errors ----------------------------------------------------------

@pytest.mark.parametrize("value, message", [
    (True, "TRUE_VALUE cannot be converted to String"),
    (False, "FALSE_VALUE cannot be converted to String"),
    (23, "NUMBER_VALUE cannot be converted to String"),
    (2147483648, "NUMBER_VALUE cannot be converted to String"),
    (34.56, "DECIMAL_VALUE cannot be converted to String"),
    ([], "Unrecognized collection type class java.lang.String"),
    ({}, "Start of structure or map found where not expected"),
])
def test_string_field_wrong_type(value, message):
    assert serialization("GetItem", {"TableName": value}) == message
    assert serialization("CreateTable", {"TableName": value}) == message


@pytest.mark.parametrize("value, message", [
    ("23", "STRING_VALUE cannot be converted to Long"),
    (True, "TRUE_VALUE cannot be converted to Long"),
    ([], "Unrecognized collection type class java.lang.Long"),
    ({}, "Start of structure or map found where not expected"),
])
def test_long_field_wrong_type(value, message):
    body = {"TableName": "abc", "ProvisionedThroughput": {"ReadCapacityUnits": value}}
    assert serialization("CreateTable", body) == message


def test_integer_field_wrong_type():
    assert serialization("ListTables", {"Limit": "23"}) == "STRING_VALUE cannot be converted to Integer"
    assert serialization("ListTables", {"Limit": False}) == "FALSE_VALUE cannot be converted to Integer"


@pytest.mark.parametrize("value, message", [
    ("23", "Unexpected token received from parser"),
    (23, "NUMBER_VALUE cannot be converted to Boolean"),
    (34.56, "DECIMAL_VALUE cannot be converted to Boolean"),
    ([], "Unrecognized collection type class java.lang.Boolean"),
    ({}, "Start of structure or map found where not expected"),
])
def test_boolean_field_wrong_type(value, message):
    assert serialization("GetItem", {"ConsistentRead": value}) == message


@pytest.mark.parametrize("value, message", [
    ("23", "Unexpected field type"),
    (23, "Unexpected field type"),
    (True, "Unexpected field type"),
    ({}, "Start of structure or map found where not expected"),
])
def test_list_field_wrong_type(value, message):
    assert serialization("CreateTable", {"KeySchema": value}) == message
    assert serialization("GetItem", {"AttributesToGet": value}) == message


def test_structure_field_and_member_wrong_type():
    assert serialization("CreateTable", {"ProvisionedThroughput": "x"}) == "Unexpected field type"
    assert serialization("CreateTable", {"ProvisionedThroughput": []}) == (
        "Unrecognized collection type class com.amazonaws.dynamodb.v20120810.ProvisionedThroughput")
    assert serialization("CreateTable", {"KeySchema": ["x"]}) == "Unexpected value type in payload"
    assert serialization("CreateTable", {"KeySchema": [[]]}) == (
        "Unrecognized collection type class com.amazonaws.dynamodb.v20120810.KeySchemaElement")


def test_map_field_wrong_type():
    assert serialization("PutItem", {"Item": "x"}) == "Unexpected field type"
    assert serialization("PutItem", {"Item": []}) == (
        "Unrecognized collection type java.util.Map<java.lang.String, "
        "com.amazonaws.dynamodb.v20120810.AttributeValue>")
    assert serialization("PutItem", {"ExpressionAttributeNames": []}) == (
        "Unrecognized collection type java.util.Map<java.lang.String, java.lang.String>")
    assert serialization("PutItem", {"ExpressionAttributeNames": {"#a": 1}}) == (
        "NUMBER_VALUE cannot be converted to String")


@pytest.mark.parametrize("av, message", [
    ("x", "Unexpected value type in payload"),
    ([], "Unrecognized collection type class com.amazonaws.dynamodb.v20120810.AttributeValue"),
    ({"S": 1}, "NUMBER_VALUE cannot be converted to String"),
    ({"N": 1}, "NUMBER_VALUE cannot be converted to String"),
    ({"B": True}, "only base-64-encoded strings are convertible to bytes"),
    ({"B": []}, "Unrecognized collection type class java.nio.ByteBuffer"),
    ({"B": "23456"}, "Base64 encoded length is expected a multiple of 4 bytes but found: 5"),
    ({"B": "=+/="}, "Invalid last non-pad Base64 character dectected"),
    ({"B": "+/+="}, "Invalid last non-pad Base64 character dectected"),
    ({"BOOL": "true"}, "Unexpected token received from parser"),
    ({"NULL": 1}, "NUMBER_VALUE cannot be converted to Boolean"),
    ({"SS": "a"}, "Unexpected field type"),
    ({"SS": [1]}, "NUMBER_VALUE cannot be converted to String"),
    ({"BS": ["23456"]}, "Base64 encoded length is expected a multiple of 4 bytes but found: 5"),
    ({"L": {}}, "Start of structure or map found where not expected"),
    ({"L": ["x"]}, "Unexpected value type in payload"),
    ({"M": "x"}, "Unexpected field type"),
    ({"M": []}, "Unrecognized collection type java.util.Map<java.lang.String, "
                "com.amazonaws.dynamodb.v20120810.AttributeValue>"),
    ({"M": {"a": 5}}, "Unexpected value type in payload"),
])
def test_attribute_value_wrong_types(av, message):
    assert serialization("PutItem", {"TableName": "abc", "Item": {"a": av}}) == message


def test_expected_value_is_a_field_struct():
    body = {"TableName": "abc", "Item": {"a": {"S": "x"}}, "Expected": {"a": {"Value": "x"}}}
    assert serialization("PutItem", body) == "Unexpected field type"


def test_serialization_beats_constraint_errors():
    assert serialization("PutItem", {"TableName": "a;", "ReturnValues": 5}) == (
        "NUMBER_VALUE cannot be converted to String")


# --- aggregated constraint errors ----------------------------------------------------------

def test_get_item_missing_everything():
    assert validation("GetItem", {}) == (
        "2 validation errors detected: "
        "Value null at 'tableName' failed to satisfy constraint: Member must not be null; "
        "Value null at 'key' failed to satisfy constraint: Member must not be null")


def test_put_item_bad_enums_and_table_name():
    """PutItem reports returnValues before tableName (Ketlark's registry of DynamoDB's answers)."""
    body = {"TableName": "abc;", "ReturnConsumedCapacity": "hi", "ReturnItemCollectionMetrics": "hi",
            "ReturnValues": "hi"}
    assert validation("PutItem", body) == (
        "5 validation errors detected: "
        "Value 'hi' at 'returnConsumedCapacity' failed to satisfy constraint: "
        "Member must satisfy enum value set: [INDEXES, TOTAL, NONE]; "
        "Value 'hi' at 'returnValues' failed to satisfy constraint: "
        "Member must satisfy enum value set: [ALL_NEW, UPDATED_OLD, ALL_OLD, NONE, UPDATED_NEW]; "
        "Value 'abc;' at 'tableName' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; "
        "Value null at 'item' failed to satisfy constraint: Member must not be null; "
        "Value 'hi' at 'returnItemCollectionMetrics' failed to satisfy constraint: "
        "Member must satisfy enum value set: [SIZE, NONE]")


def test_table_name_pattern_and_lengths():
    # A TableName may be an ARN (1 to 1,024 characters): empty fails that rule alone, as
    # DynamoDB answers (paritysuite and nubo-db captures)
    assert validation("GetItem", {"TableName": "", "Key": {}}) == (
        "1 validation error detected: "
        "Value '' at 'tableName' failed to satisfy constraint: Member must have length greater than or equal to 1")
    assert validation("GetItem", {"TableName": "a;", "Key": {}}) == (
        "2 validation errors detected: "
        "Value 'a;' at 'tableName' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; "
        "Value 'a;' at 'tableName' failed to satisfy constraint: Member must have length greater than or equal to 3")
    name = "a" * 256
    assert validation("GetItem", {"TableName": name, "Key": {}}) == (
        f"1 validation error detected: Value '{name}' at 'tableName' failed to satisfy constraint: "
        "Member must have length less than or equal to 255")


def test_global_index_errors_come_before_local_ones():
    body = {"TableName": "abc", "AttributeDefinitions": [{"AttributeName": "a", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "a", "KeyType": "HASH"}], "BillingMode": "PAY_PER_REQUEST",
            "LocalSecondaryIndexes": [{"IndexName": "l1", "KeySchema": [{"AttributeName": "a", "KeyType": "HASH"}],
                                       "Projection": {"ProjectionType": "ALL"}}],
            "GlobalSecondaryIndexes": [{"IndexName": "g1", "KeySchema": [{"AttributeName": "a", "KeyType": "HASH"}],
                                        "Projection": {"ProjectionType": "ALL"}}]}
    assert validation("CreateTable", body) == (
        "2 validation errors detected: Value 'g1' at 'globalSecondaryIndexes.1.member.indexName' failed to satisfy "
        "constraint: Member must have length greater than or equal to 3; Value 'l1' at "
        "'localSecondaryIndexes.1.member.indexName' failed to satisfy constraint: Member must have length greater "
        "than or equal to 3")


def test_at_most_ten_errors_reported():
    body = {"TableName": "abc", "AttributeDefinitions": [{"AttributeName": "a", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "a", "KeyType": "HASH"}],
            "ProvisionedThroughput": {"ReadCapacityUnits": 1, "WriteCapacityUnits": 1},
            "LocalSecondaryIndexes": [{}] * 9}
    message = validation("CreateTable", body)
    assert message.startswith("10 validation errors detected: ")
    assert message.count("failed to satisfy constraint") == 10
    assert message.split("; ")[0] == (
        "10 validation errors detected: Value null at 'localSecondaryIndexes.1.member.indexName' "
        "failed to satisfy constraint: Member must not be null")


# --- DDL operations ---------------------------------------------------------------------------

def test_ddl_table_name_early_checks():
    for op in ("CreateTable", "DescribeTable", "DeleteTable", "UpdateTable"):
        assert validation(op, {}) == "The parameter 'TableName' is required but was not present in the request"
    for op in ("DescribeTable", "DeleteTable", "UpdateTable"):
        assert validation(op, {"TableName": "a;"}) == (
            "TableName must be at least 3 characters long and at most 255 characters long")
    assert validation("DescribeTable", {"TableName": "abc;"}) == (
        "1 validation error detected: Value 'abc;' at 'tableName' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+")


def test_create_table_constraints():
    assert validation("CreateTable", {"TableName": "abc;"}) == (
        "3 validation errors detected: "
        "Value null at 'attributeDefinitions' failed to satisfy constraint: Member must not be null; "
        "Value 'abc;' at 'tableName' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; "
        "Value null at 'keySchema' failed to satisfy constraint: Member must not be null")
    body = {"TableName": "abc", "AttributeDefinitions": [{"AttributeName": "b", "AttributeType": "SS"}],
            "KeySchema": [{"KeyType": "HASH", "AttributeName": "a"}],
            "ProvisionedThroughput": {"ReadCapacityUnits": 1, "WriteCapacityUnits": 0}}
    assert validation("CreateTable", body) == (
        "2 validation errors detected: "
        "Value 'SS' at 'attributeDefinitions.1.member.attributeType' failed to satisfy constraint: "
        "Member must satisfy enum value set: [B, N, S]; "
        "Value '0' at 'provisionedThroughput.writeCapacityUnits' failed to satisfy constraint: "
        "Member must have value greater than or equal to 1")


def _table(**extra):
    body = {"TableName": "abc", "AttributeDefinitions": [{"AttributeName": "a", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "a", "KeyType": "HASH"}],
            "ProvisionedThroughput": {"ReadCapacityUnits": 1, "WriteCapacityUnits": 1}}
    body.update(extra)
    return {k: v for k, v in body.items() if v is not None}


def test_create_table_semantics():
    assert validate_request("CreateTable", _table())["TableName"] == "abc"
    assert validation("CreateTable", _table(ProvisionedThroughput={"ReadCapacityUnits": 1000000000001,
                                                                   "WriteCapacityUnits": 1})) == (
        "Given value 1000000000001 for ReadCapacityUnits is out of bounds")
    assert validation("CreateTable", _table(ProvisionedThroughput=None)) == (
        "No provisioned throughput specified for the table")
    assert validation("CreateTable", _table(ProvisionedThroughput=None, BillingMode="PROVISIONED")) == (
        INVALID + "ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode is PROVISIONED")
    assert validation("CreateTable", _table(BillingMode="PAY_PER_REQUEST")) == (
        INVALID + "Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is "
        "PAY_PER_REQUEST")
    assert validate_request("CreateTable", _table(BillingMode="PAY_PER_REQUEST", ProvisionedThroughput=None))
    assert validation("CreateTable", _table(AttributeDefinitions=[{"AttributeName": "b", "AttributeType": "S"}])) == (
        INVALID + "Some index key attributes are not defined in AttributeDefinitions. Keys: [a], "
        "AttributeDefinitions: [b]")
    assert validation("CreateTable", _table(KeySchema=[{"AttributeName": "a", "KeyType": "HASH"},
                                                       {"AttributeName": "b", "KeyType": "RANGE"}])) == (
        "Invalid KeySchema: Some index key attribute have no definition")
    two = [{"AttributeName": "a", "AttributeType": "S"}, {"AttributeName": "b", "AttributeType": "S"}]
    assert validation("CreateTable", _table(AttributeDefinitions=two, KeySchema=[
        {"AttributeName": "a", "KeyType": "RANGE"}, {"AttributeName": "b", "KeyType": "HASH"}])) == (
        "Invalid KeySchema: The first KeySchemaElement is not a HASH key type")
    assert validation("CreateTable", _table(AttributeDefinitions=two, KeySchema=[
        {"AttributeName": "a", "KeyType": "HASH"}, {"AttributeName": "b", "KeyType": "HASH"}])) == (
        "Invalid KeySchema: The second KeySchemaElement is not a RANGE key type")
    assert validation("CreateTable", _table(AttributeDefinitions=two, KeySchema=[
        {"AttributeName": "a", "KeyType": "HASH"}, {"AttributeName": "a", "KeyType": "RANGE"}])) == (
        "Both the Hash Key and the Range Key element in the KeySchema have the same name")
    assert validation("CreateTable", _table(AttributeDefinitions=two)) == (
        INVALID + "Number of attributes in KeySchema does not exactly match number of attributes defined in "
        "AttributeDefinitions")
    # the same name twice (DynamoDB's text, quoted in ScyllaDB issue 13870), before the count check
    assert validation("CreateTable", _table(AttributeDefinitions=[{"AttributeName": "a", "AttributeType": "S"},
                                                                  {"AttributeName": "a", "AttributeType": "N"}])) == (
        "Attribute Name is duplicated: a")


def test_table_class_values():
    message = ("Invalid table-class parameter provided. Please try again with a valid table-class value: "
               "[STANDARD, STANDARD_INFREQUENT_ACCESS].")
    for value in ("junk", "standard"):  # case matters
        assert validation("CreateTable", _table(TableClass=value)) == message
        assert validation("UpdateTable", {"TableName": "abc", "TableClass": value}) == message
    assert validate_request("CreateTable", _table(TableClass="STANDARD_INFREQUENT_ACCESS"))


def test_create_table_indexes():
    two = [{"AttributeName": "a", "AttributeType": "S"}, {"AttributeName": "b", "AttributeType": "S"}]
    ks = [{"AttributeName": "a", "KeyType": "HASH"}, {"AttributeName": "b", "KeyType": "RANGE"}]
    lsi = {"IndexName": "abc", "KeySchema": ks, "Projection": {"ProjectionType": "ALL"}}
    assert validate_request("CreateTable", _table(AttributeDefinitions=two, KeySchema=ks,
                                                  LocalSecondaryIndexes=[lsi]))
    assert validation("CreateTable", _table(AttributeDefinitions=two, KeySchema=ks, LocalSecondaryIndexes=[])) == (
        INVALID + "List of LocalSecondaryIndexes is empty")
    assert validation("CreateTable", _table(AttributeDefinitions=two, KeySchema=ks,
                                            LocalSecondaryIndexes=[lsi, lsi])) == (
        INVALID + "Duplicate index name: abc")
    bad = dict(lsi, Projection={"ProjectionType": "ALL", "NonKeyAttributes": ["x"]})
    assert validation("CreateTable", _table(AttributeDefinitions=two, KeySchema=ks,
                                            LocalSecondaryIndexes=[bad])) == (
        INVALID + "ProjectionType is ALL, but NonKeyAttributes is specified")
    for projection, message in [
            ({"ProjectionType": "INCLUDE"}, "ProjectionType is INCLUDE, but NonKeyAttributes is not specified"),
            ({"ProjectionType": "INCLUDE", "NonKeyAttributes": ["x", "x"]}, "Duplicate value in NonKeyAttributes: x")]:
        assert validation("CreateTable", _table(AttributeDefinitions=two, KeySchema=ks, LocalSecondaryIndexes=[
            dict(lsi, Projection=projection)])) == INVALID + message
    gsi = {"IndexName": "gsi1", "KeySchema": [{"AttributeName": "b", "KeyType": "HASH"}],
           "Projection": {"ProjectionType": "KEYS_ONLY"}}
    assert validation("CreateTable", _table(AttributeDefinitions=two, GlobalSecondaryIndexes=[gsi])) == (
        INVALID + "ProvisionedThroughput must be specified for index: gsi1")
    assert validate_request("CreateTable", _table(AttributeDefinitions=two, GlobalSecondaryIndexes=[gsi],
                                                  BillingMode="PAY_PER_REQUEST", ProvisionedThroughput=None))


def test_update_table():
    assert validation("UpdateTable", {"TableName": "abc"}).startswith(
        "At least one of ProvisionedThroughput, BillingMode, UpdateStreamEnabled, GlobalSecondaryIndexUpdates")
    assert validation("UpdateTable", {"TableName": "abc", "ProvisionedThroughput": {}}) == (
        "2 validation errors detected: "
        "Value null at 'provisionedThroughput.writeCapacityUnits' failed to satisfy constraint: "
        "Member must not be null; "
        "Value null at 'provisionedThroughput.readCapacityUnits' failed to satisfy constraint: "
        "Member must not be null")
    assert validation("UpdateTable", {"TableName": "abc", "GlobalSecondaryIndexUpdates": [{}]}) == (
        INVALID + "One of GlobalSecondaryIndexUpdate.Update, GlobalSecondaryIndexUpdate.Create, "
        "GlobalSecondaryIndexUpdate.Delete must not be null")
    assert validation("UpdateTable", {"TableName": "abc", "GlobalSecondaryIndexUpdates": [
        {"Delete": {"IndexName": "abc"}}, {"Delete": {"IndexName": "abc"}}]}) == (
        INVALID + "Only one global secondary index update per index is allowed simultaneously. Index: abc")
    create = {"IndexName": "ind", "KeySchema": [{"AttributeName": "x", "KeyType": "HASH"}],
              "Projection": {"ProjectionType": "ALL"}}
    assert validation("UpdateTable", {"TableName": "abc", "GlobalSecondaryIndexUpdates": [
        {"Create": create, "Delete": {"IndexName": "xyz"}}]}) == (
        INVALID + "Only one global secondary index action is allowed per GlobalSecondaryIndexUpdate object")
    assert validate_request("UpdateTable", {"TableName": "abc", "BillingMode": "PAY_PER_REQUEST"})


def test_list_tables():
    assert validate_request("ListTables", {}) == {}
    assert validation("ListTables", {"Limit": 0, "ExclusiveStartTableName": "a;"}) == (
        "3 validation errors detected: "
        "Value 'a;' at 'exclusiveStartTableName' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; "
        "Value 'a;' at 'exclusiveStartTableName' failed to satisfy constraint: "
        "Member must have length greater than or equal to 3; "
        "Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1")
    assert "less than or equal to 100" in validation("ListTables", {"Limit": 101})


def test_describe_endpoints_and_unknown_fields_ignored():
    assert validate_request("DescribeEndpoints", {}) == {}
    body = {"TableName": "abc", "Key": {"a": {"S": "x"}}, "Bogus": [1, 2], "Limit": "x"}
    assert validate_request("GetItem", body) is body


def test_null_fields_are_absent_and_removed():
    body = {"TableName": "abc", "Key": {"a": {"S": "x"}}, "ProjectionExpression": None}
    assert validate_request("GetItem", body) == {"TableName": "abc", "Key": {"a": {"S": "x"}}}


# --- item operations: request-only semantics ----------------------------------------------------

def test_expression_and_non_expression_params():
    body = {"TableName": "abc", "Item": {"a": {}}, "Expected": {"a": {}}, "ExpressionAttributeNames": {},
            "ExpressionAttributeValues": {}, "ConditionExpression": ""}
    assert written("PutItem", body) == (
        "Can not use both expression and non-expression parameters in the same request: "
        "Non-expression parameters: {Expected} Expression parameters: {ConditionExpression}")
    del body["ConditionExpression"]
    assert written("PutItem", body) == "ExpressionAttributeNames can only be specified when using expressions"
    del body["ExpressionAttributeNames"]
    assert written("PutItem", body) == "ExpressionAttributeValues can only be specified when using expressions"
    body = {"TableName": "abc", "Key": {"a": {}}, "AttributesToGet": ["a"], "ProjectionExpression": "a"}
    assert validation("GetItem", body) == (
        "Can not use both expression and non-expression parameters in the same request: "
        "Non-expression parameters: {AttributesToGet} Expression parameters: {ProjectionExpression}")
    body = {"TableName": "abc", "Key": {"a": {"S": "x"}}, "ExpressionAttributeValues": {":a": {"S": "x"}}}
    assert written("UpdateItem", body) == "ExpressionAttributeValues can only be specified when using expressions"
    # ... where the operations still on the older framework add which expressions are missing
    body = {"TableName": "abc", "ExpressionAttributeValues": {":a": {"S": "x"}}}
    assert validation("Scan", body) == (
        "ExpressionAttributeValues can only be specified when using expressions: FilterExpression is null")


def test_expression_attribute_maps():
    base = {"TableName": "abc", "Key": {"a": {"S": "x"}}, "ProjectionExpression": "a"}
    assert validation("GetItem", dict(base, ExpressionAttributeNames={})) == (
        "ExpressionAttributeNames must not be empty")
    assert validation("GetItem", dict(base, ExpressionAttributeNames={"a": "a"})) == (
        'ExpressionAttributeNames contains invalid key: Syntax error; key: "a"')
    base = {"TableName": "abc", "Item": {"a": {"S": "x"}}, "ConditionExpression": "a = :v"}
    assert written("PutItem", dict(base, ExpressionAttributeValues={})) == (
        "ExpressionAttributeValues must not be empty")
    assert written("PutItem", dict(base, ExpressionAttributeValues={"v": {"S": "x"}})) == (
        'ExpressionAttributeValues contains invalid key: Syntax error; key: "v"')
    # the newer framework reports an invalid value as itself; the older wraps it
    assert written("PutItem", dict(base, ExpressionAttributeValues={":v": {"SS": []}})) == (
        "One or more parameter values were invalid: An string set  may not be empty")
    assert validation("Scan", {"TableName": "abc", "FilterExpression": "a = :v",
                               "ExpressionAttributeValues": {":v": {"SS": []}}}) == (
        "ExpressionAttributeValues contains invalid value: One or more parameter values were invalid: "
        "An string set  may not be empty for key :v")
    body = dict(base, ExpressionAttributeValues={":v": {"N": "01.50"}})
    assert validate_request("PutItem", body)["ExpressionAttributeValues"] == {":v": {"N": "1.5"}}


def test_return_values_per_operation():
    for rv in ("ALL_NEW", "UPDATED_OLD", "UPDATED_NEW"):
        assert written("PutItem", {"TableName": "abc", "Item": {"a": {"S": "x"}}, "ReturnValues": rv}) == (
            "ReturnValues can only be ALL_OLD or NONE")
        assert written("DeleteItem", {"TableName": "abc", "Key": {"a": {"S": "x"}}, "ReturnValues": rv}) == (
            "ReturnValues can only be ALL_OLD or NONE")
        assert validate_request("UpdateItem", {"TableName": "abc", "Key": {"a": {"S": "x"}}, "ReturnValues": rv})
    assert validate_request("PutItem", {"TableName": "abc", "Item": {"a": {"S": "x"}}, "ReturnValues": "ALL_OLD"})


def test_item_values_checked_in_order():
    assert written("PutItem", {"TableName": "abc", "Item": {"a": {"S": "x"}, "b": {"NULL": False}}}) == (
        INVALID + "Null attribute value types must have the value of true")
    # AttributeValue problems come before the ReturnValues rule, which comes before size
    body = {"TableName": "abc", "Item": {"a": {"NS": []}}, "ReturnValues": "ALL_NEW"}
    assert written("PutItem", body) == INVALID + "An number set  may not be empty"


def test_item_too_big():
    key = {"a": {"S": "k"}}
    fits = dict(key, b={"S": "x" * (A.MAX_ITEM_BYTES - 3)})
    assert A.item_size(fits) == A.MAX_ITEM_BYTES
    assert validate_request("PutItem", {"TableName": "abc", "Item": fits})
    big = dict(key, b={"S": "x" * (A.MAX_ITEM_BYTES - 2)})
    assert validation("PutItem", {"TableName": "abc", "Item": big}) == (
        "Item size has exceeded the maximum allowed size")


def test_get_item_duplicate_attributes_to_get():
    assert validation("GetItem", {"TableName": "abc", "Key": {}, "AttributesToGet": ["a", "a"]}) == (
        INVALID + "Duplicate value in attribute name: a")


def test_expected_rules():
    def put(expected):
        return written("PutItem", {"TableName": "abc", "Item": {"a": {"S": "x"}}, "Expected": expected})
    assert put({"a": {}}) == INVALID + "Value must be provided when Exists is null for Attribute: a"
    assert put({"a": {"Exists": True}}) == INVALID + "Value must be provided when Exists is true for Attribute: a"
    assert put({"a": {"Exists": False, "Value": {"S": "x"}}}) == (
        INVALID + "Value cannot be used when Exists is false for Attribute: a")
    assert put({"a": {"ComparisonOperator": "EQ", "Exists": True}}) == (
        INVALID + "Exists and ComparisonOperator cannot be used together for Attribute: a")
    assert put({"a": {"ComparisonOperator": "BETWEEN", "AttributeValueList": [{"S": "x"}]}}) == (
        INVALID + "Invalid number of argument(s) for the BETWEEN ComparisonOperator")
    assert put({"a": {"AttributeValueList": [{"S": "x"}]}}) == (
        INVALID + "AttributeValueList can only be used with a ComparisonOperator for Attribute: a")
    assert validate_request("PutItem", {"TableName": "abc", "Item": {"a": {"S": "x"}},
                                        "Expected": {"a": {"Exists": False}}})


def test_update_item_attribute_updates():
    def upd(updates):
        return written("UpdateItem", {"TableName": "abc", "Key": {"a": {"S": "x"}}, "AttributeUpdates": updates})
    assert upd({"b": {"Action": "PUT"}}) == (
        INVALID + "Only DELETE action is allowed when no attribute value is specified")
    assert upd({"b": {"Action": "DELETE", "Value": {"S": "x"}}}) == (
        INVALID + "DELETE action with value is not supported for the type S")
    assert upd({"b": {"Action": "ADD", "Value": {"S": "x"}}}) == (
        INVALID + "ADD action is not supported for the type S")


# --- AttributeValues --------------------------------------------------------------------------

@pytest.mark.parametrize("av", [{}, {"a": ""}, {"M": {"a": {}}}, {"L": [{}]}, {"L": [{"a": {}}]}, {"S": None}])
def test_empty_attribute_value(av):
    assert av_problem(av) == "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes"


@pytest.mark.parametrize("av, message", [
    ({"NULL": False}, INVALID + "Null attribute value types must have the value of true"),
    ({"SS": []}, INVALID + "An string set  may not be empty"),
    ({"NS": []}, INVALID + "An number set  may not be empty"),
    ({"BS": []}, INVALID + "Binary sets should not be empty"),
    ({"SS": ["a", "a"]}, INVALID + "Input collection [a, a] contains duplicates."),
    ({"BS": ["Yg==", "Yg=="]}, INVALID + "Input collection [Yg==, Yg==]of type BS contains duplicates."),
    ({"S": "", "N": ""}, "The parameter cannot be converted to a numeric value"),
    ({"S": "a", "N": "b"}, "The parameter cannot be converted to a numeric value: b"),
    ({"NS": ["1", ""]}, "The parameter cannot be converted to a numeric value"),
    ({"NS": ["1", "b"]}, "The parameter cannot be converted to a numeric value: b"),
    ({"NS": ["1", "1"]}, "Input collection contains duplicates"),
    ({"NS": ["1", "1.0"]}, "Input collection contains duplicates"),
    ({"N": "123456789012345678901234567890123456789"},
     "Attempting to store more than 38 significant digits in a Number"),
    ({"N": "-1.23456789012345678901234567890123456789"},
     "Attempting to store more than 38 significant digits in a Number"),
    ({"N": "1e126"}, "Number overflow. Attempting to store a number with magnitude larger than supported range"),
    ({"N": "-1e-131"}, "Number underflow. Attempting to store a number with magnitude smaller than supported range"),
    # a zero's exponent is range-checked too, and a scale past 32 bits is no number at all
    # (captured from DynamoDB by the paritysuite conformance suite)
    ({"N": "0e126"}, "Number overflow. Attempting to store a number with magnitude larger than supported range"),
    ({"N": "0e-131"}, "Number underflow. Attempting to store a number with magnitude smaller than supported range"),
    ({"N": "1e9223372036854775808"}, "The parameter cannot be converted to a numeric value: 1e9223372036854775808"),
    ({"N": "1\n"}, "The parameter cannot be converted to a numeric value: 1\n"),
    ({"N": "\u0661"}, "The parameter cannot be converted to a numeric value: \u0661"),
    ({"S": "a", "N": "1"}, "Supplied AttributeValue has more than one datatypes set, must contain exactly one of "
                           "the supported datatypes"),
    ({"M": {"x": {"NULL": False}}}, INVALID + "Null attribute value types must have the value of true"),
])
def test_attribute_value_problems(av, message):
    assert av_problem(av) == message


def test_attribute_value_normalisation():
    av = {"M": {"n": {"N": "1E+2"}, "l": {"L": [{"N": "-0.50"}, {"NS": ["007", "2.50"]}]}, "b": {"B": "AAE="}}}
    assert A.validate_attribute_value(av) == {
        "M": {"n": {"N": "100"}, "l": {"L": [{"N": "-0.5"}, {"NS": ["2.5", "7"]}]}, "b": {"B": "AAE="}}}
    assert A.validate_attribute_value({"S": ""}) == {"S": ""}  # empty non-key strings are allowed
    assert A.validate_attribute_value({"B": ""}) == {"B": ""}
    assert A.validate_attribute_value({"SS": ["", "a"]}) == {"SS": ["", "a"]}


def _nested(depth):
    av = {"S": "leaf"}
    for _ in range(depth):
        av = {"M": {"n": av}}
    return av


def test_nesting_limit():
    assert A.validate_attribute_value(_nested(31))
    with pytest.raises(DynamoDBError) as info:
        A.validate_attribute_value(_nested(32))
    assert info.value.message.startswith("Nesting Levels have exceeded supported limits")
    assert A.validate_attribute_value({"L": [_nested(30)]})
    with pytest.raises(DynamoDBError):
        A.validate_attribute_value({"L": [_nested(31)]})
    # 31 nested maps (the innermost empty) are accepted, 32 are not
    empty31 = {"M": {}}
    for _ in range(30):
        empty31 = {"M": {"a": empty31}}
    assert A.validate_attribute_value(empty31)
    with pytest.raises(DynamoDBError) as info:
        A.validate_attribute_value({"M": {"a": empty31}})
    assert info.value.message == (
        "Nesting Levels have exceeded supported limits: Attributes in the item have nested levels beyond "
        "supported limit")


def test_attribute_names():
    message = "1 validation error detected: Attribute name is too large, must be less than 65536 bytes"
    assert validate_request("PutItem", {"TableName": "abc", "Item": {"a" * 65535: {"S": "x"}}})
    assert validation("PutItem", {"TableName": "abc", "Item": {"a" * 65536: {"S": "x"}}}) == message
    assert validation("PutItem", {"TableName": "abc", "Item": {"m": {"M": {"é" * 32768: {"S": "x"}}}}}) == message
    assert written("PutItem", {"TableName": "abc", "Item": {"": {"S": "x"}}}) == "Empty attribute name"
    body = {"TableName": "abc", "Key": {"a": {"S": "x"}}, "ProjectionExpression": "#a",
            "ExpressionAttributeNames": {"#a": ""}}
    assert validation("GetItem", body) == (
        "ExpressionAttributeNames contains invalid value: Empty attribute name for key #a")


# --- item size ---------------------------------------------------------------------------------

def test_item_size_rules():
    assert A.item_size({"a": {"S": "abc"}}) == 4
    assert A.item_size({"é": {"S": "é"}}) == 4
    assert A.item_size({"a": {"B": "AAEC"}}) == 4  # 3 raw bytes
    assert A.item_size({"a": {"BOOL": True}, "b": {"NULL": True}}) == 4
    assert A.item_size({"a": {"L": []}}) == 4
    assert A.item_size({"a": {"L": [{"S": "xy"}]}}) == 1 + 3 + 1 + 2
    assert A.item_size({"a": {"M": {"bb": {"S": "xy"}}}}) == 1 + 3 + 1 + 2 + 2
    assert A.item_size({"a": {"SS": ["ab", "c"]}}) == 4
    assert A.item_size({"a": {"BS": ["AA==", "AAE="]}}) == 4


@pytest.mark.parametrize("number, size", [
    ("1" + "0" * 125, 2), ("11" + "0" * 124, 2), ("11111" + "0" * 121, 4), ("111111" + "0" * 120, 4),
    ("1111111" + "0" * 119, 5), ("1" * 38 + "0" * 88, 20), ("12", 2), ("1.5", 3), ("0.05", 2), ("-12", 3),
    # sizes captured from DynamoDB (eu-west-2) by the paritysuite conformance suite
    ("0", 1), ("1", 2), ("123", 3), ("1234", 3), ("12345678901234567890123456789012345678", 20), ("0042", 2),
    ("100", 2), ("1010", 3), ("0.0000001", 2), ("1E125", 2), ("1E-100", 2), ("15", 2), ("1.2", 3), ("1.200", 3),
    ("1.234", 4), ("3.14159", 5), ("123456", 4), ("100.5", 4), ("0.15", 2), ("-42", 3), ("-0", 1),
])
def test_number_size(number, size):
    assert A.number_size(numbers.normalize(number)) == size


# --- keys ----------------------------------------------------------------------------------------

HASH = KeySchema("a", "S")
RANGE = KeySchema("a", "S", "b", "N")


@pytest.mark.parametrize("key", [
    {}, {"b": {"S": "a"}}, {"a": {"S": "a"}, "b": {"S": "a"}}, {"a": {"B": "abcd"}}, {"a": {"N": "1"}},
    {"a": {"BOOL": True}}, {"a": {"NULL": True}}, {"a": {"SS": ["a"]}}, {"a": {"M": {}}}, {"a": {"L": []}},
])
def test_key_does_not_match_schema(key):
    with pytest.raises(DynamoDBError) as info:
        A.validate_key(key, HASH)
    assert info.value.message == "The provided key element does not match the schema"


def test_key_rules():
    assert A.validate_key({"a": {"S": "x"}, "b": {"N": "1"}}, RANGE)
    for key, message in [
        ({"a": {"S": "x"}}, "The provided key element does not match the schema"),
        ({"a": {"S": ""}, "b": {"N": "1"}}, "One or more parameter values are not valid. The AttributeValue for a "
                                            "key attribute cannot contain an empty string value. Key: a"),
        ({"a": {"S": "x" * 2049}, "b": {"N": "1"}},
         INVALID + "Size of hashkey has exceeded the maximum size limit of2048 bytes"),
    ]:
        with pytest.raises(DynamoDBError) as info:
            A.validate_key(key, RANGE)
        assert info.value.message == message
    schema = KeySchema("a", "S", "b", "B")
    with pytest.raises(DynamoDBError) as info:
        A.validate_key({"a": {"S": "x"}, "b": {"B": ""}}, schema)
    assert info.value.message == ("One or more parameter values are not valid. The AttributeValue for a key "
                                  "attribute cannot contain an empty binary value. Key: b")
    schema = KeySchema("a", "S", "b", "S")
    with pytest.raises(DynamoDBError) as info:
        A.validate_key({"a": {"S": "x"}, "b": {"S": "y" * 1025}}, schema)
    assert info.value.message == INVALID + "Aggregated size of all range keys has exceeded the size limit of 1024 bytes"
    assert A.validate_key({"a": {"S": "x" * 2048}}, HASH)


def test_item_key_rules():
    assert A.validate_item_key({"a": {"S": "x"}, "b": {"N": "1"}, "c": {"S": ""}}, RANGE)
    for item, message in [
        ({"b": {"N": "1"}}, INVALID + "Missing the key a in the item"),
        ({"a": {"S": "x"}}, INVALID + "Missing the key b in the item"),
        ({"a": {"N": "1"}, "b": {"N": "1"}}, INVALID + "Type mismatch for key a expected: S actual: N"),
        ({"a": {"S": ""}, "b": {"N": "1"}}, "One or more parameter values are not valid. The AttributeValue for a "
                                            "key attribute cannot contain an empty string value. Key: a"),
    ]:
        with pytest.raises(DynamoDBError) as info:
            A.validate_item_key(item, RANGE)
        assert info.value.message == message


def test_key_schema_works_with_table_info_like_objects():
    class Attr:
        def __init__(self, name, type_):
            self.name, self.type = name, type_

    class Info:
        hash_key = Attr("a", "S")
        range_key = None

    assert A.validate_key({"a": {"S": "x"}}, Info())
    ks = KeySchema.from_description([{"AttributeName": "a", "KeyType": "HASH"},
                                     {"AttributeName": "b", "KeyType": "RANGE"}],
                                    [{"AttributeName": "b", "AttributeType": "N"},
                                     {"AttributeName": "a", "AttributeType": "S"}])
    assert ks == RANGE and ks.names == ("a", "b")


# --- other operations ------------------------------------------------------------------------------

def test_batch_write_normalises_items():
    body = {"RequestItems": {"abc": [{"PutRequest": {"Item": {"a": {"S": "x"}, "n": {"N": "2.0"}}}},
                                     {"DeleteRequest": {"Key": {"a": {"S": "y"}}}}]}}
    out = validate_request("BatchWriteItem", body)
    assert out["RequestItems"]["abc"][0]["PutRequest"]["Item"]["n"] == {"N": "2"}
    assert serialization("BatchWriteItem", {"RequestItems": {"abc": "x"}}).startswith(
        "class sun.reflect.generics.reflectiveObjects.ParameterizedTypeImpl cannot be cast")


def test_scan_segments():
    assert validation("Scan", {"TableName": "abc", "Segment": 1}) == (
        "The TotalSegments parameter is required but was not present in the request when Segment "
        "parameter is present")
    assert validation("Scan", {"TableName": "abc", "Segment": 2, "TotalSegments": 2}) == (
        "The Segment parameter is zero-based and must be less than parameter TotalSegments: "
        "Segment: 2 is not less than TotalSegments: 2")


def test_unknown_operation_passes_through():
    body = {"Anything": 1}
    assert validate_request("NoSuchOperation", body) is body



def test_members_in_the_newer_frameworks_words():
    """Members DynamoDB now reports in its newer validation framework's words — no echo, the
    request's own spelling — and the map echoes of BatchGetItem (JSON) and BatchWriteItem
    (Java's toString), as captured from DynamoDB by the paritysuite and nubo-db suites."""
    at = "1 validation error detected: Value at '{}' failed to satisfy constraint: Member must have {}"
    assert validation("BatchGetItem", {"RequestItems": {}}) == at.format("RequestItems", "length greater than or equal to 1")
    assert validation("BatchWriteItem", {"RequestItems": {}}) == at.format("RequestItems", "length greater than or equal to 1")
    assert validation("BatchGetItem", {"RequestItems": {"tbl": {"Keys": []}}}) == at.format(
        "RequestItems.tbl.member.Keys", "length greater than or equal to 1")
    keys = [{"pk": {"S": str(i)}} for i in range(101)]
    assert validation("BatchGetItem", {"RequestItems": {"tbl": {"Keys": keys}}}) == at.format(
        "RequestItems.tbl.member.Keys", "length less than or equal to 100")
    for op in ("TransactWriteItems", "TransactGetItems"):
        assert validation(op, {"TransactItems": []}) == at.format("TransactItems", "length greater than or equal to 1")
    assert validation("Query", {"TableName": "tbl", "Limit": 0}) == at.format("Limit", "value greater than or equal to 1")
    put = {"Put": {"TableName": "tbl", "Item": {"pk": {"S": "a"}}}}
    assert validation("TransactWriteItems", {"TransactItems": [put], "ClientRequestToken": "x" * 37}) == at.format(
        "ClientRequestToken", "length less than or equal to 36")
    map_keys = ("failed to satisfy constraint: Map keys must satisfy constraint: [Member must have length less than "
                "or equal to 255, Member must have length greater than or equal to 3, Member must satisfy regular "
                "expression pattern: [a-zA-Z0-9_.-]+]")
    assert validation("BatchGetItem", {"RequestItems": {"bad!name": {"Keys": [{"pk": {"S": "a"}}]}}}) == (
        "1 validation error detected: Value '{\"bad!name\":{\"Keys\":[{\"pk\":{\"S\":\"a\"}}]}}' at 'requestItems' "
        + map_keys)
    message = validation("BatchWriteItem", {"RequestItems": {"bad!name": [{"PutRequest": {"Item": {"pk": {"S": "a"}}}}]}})
    assert re.fullmatch(r"1 validation error detected: Value '\{bad!name=\[WriteRequest\(putRequest=PutRequest\(item="
                        r"\{pk=com\.amazonaws\.dynamodb\.v20120810\.AttributeValue@[0-9a-f]+\}, workloadProfileName="
                        r"null\), deleteRequest=null\)\]\}' at 'requestItems' " + re.escape(map_keys), message), message


def _deep(levels: int) -> dict:
    value: dict = {"S": "x"}
    for _ in range(levels):
        value = {"M": {"a": value}}
    return value


def test_values_nested_too_deep_are_reported_where_the_checks_reach_them():
    """A value nested past the limit is a value problem like the others: constraint errors
    and the checks that come before it win (paritysuite's validation-ordering captures)."""
    nested = ("Nesting Levels have exceeded supported limits: Attributes in the item have nested levels "
              "beyond supported limit")
    put = {"TableName": "abc", "Item": {"a": {"S": "x"}}, "ConditionalOperator": "XOR",
           "Expected": {"a": {"ComparisonOperator": "EQ", "AttributeValueList": [_deep(100)]},
                        "b": {"Exists": False}}}
    assert validation("PutItem", put) == (
        "1 validation error detected: Value 'XOR' at 'conditionalOperator' failed to satisfy constraint: "
        "Member must satisfy enum value set: [OR, AND]")
    delete = {"TableName": "abc", "Key": {"a": _deep(100)}, "ReturnValues": "BOGUS"}
    assert validation("DeleteItem", delete).startswith("1 validation error detected: Value 'BOGUS' at 'returnValues'")
    delete = {"TableName": "abc", "Key": {"a": {"S": "x"}}, "ReturnValues": "UPDATED_NEW",
              "ConditionExpression": "a = :v", "ExpressionAttributeValues": {":v": _deep(63)}}
    assert written("DeleteItem", delete) == "ReturnValues can only be ALL_OLD or NONE"
    del delete["ReturnValues"]
    assert written("DeleteItem", delete) == nested  # enveloped, as nubo-db's capture of 2026-08-12 shows
    assert validation("GetItem", {"TableName": "abc", "Key": {"a": _deep(40)}}) == nested


def test_update_item_reports_a_missing_key_after_the_other_members():
    """The member order of paritysuite's 2026-10-09 captures of UpdateItem."""
    update = {"UpdateExpression": "SET a = :a", "ExpressionAttributeValues": {":a": {"S": "x"}}}
    no_key = "Value null at 'key' failed to satisfy constraint: Member must not be null"
    assert validation("UpdateItem", {"TableName": "", **update}) == (
        "2 validation errors detected: Value '' at 'tableName' failed to satisfy constraint: Member must have "
        f"length greater than or equal to 1; {no_key}")
    assert validation("UpdateItem", {"TableName": "", **update, "ReturnConsumedCapacity": "INVALID",
                                     "ReturnValues": "INVALID"}) == (
        "4 validation errors detected: Value 'INVALID' at 'returnConsumedCapacity' failed to satisfy constraint: "
        "Member must satisfy enum value set: [INDEXES, TOTAL, NONE]; Value '' at 'tableName' failed to satisfy "
        "constraint: Member must have length greater than or equal to 1; Value 'INVALID' at 'returnValues' failed "
        "to satisfy constraint: Member must satisfy enum value set: [ALL_NEW, UPDATED_OLD, ALL_OLD, NONE, "
        f"UPDATED_NEW]; {no_key}")
    assert validation("UpdateItem", {"TableName": "abc", "AttributeUpdates": {"x": {"Action": "PUT", "Value": {"S": "1"}}},
                                     "Expected": {"a": {"Exists": False}, "b": {"Exists": False}},
                                     "ConditionalOperator": "XOR"}) == (
        "2 validation errors detected: Value 'XOR' at 'conditionalOperator' failed to satisfy constraint: Member "
        f"must satisfy enum value set: [OR, AND]; {no_key}")


def test_number_wording_by_validation_layer():
    """paritysuite's numberExponent and valueLayers captures (eu-west-2 and three more regions,
    October 2026): an exponent past 64 bits cannot be converted, a merely huge one over- or
    underflows; an empty number is echoed after a colon by the newer layer only."""
    nnum = "The parameter cannot be converted to a numeric value"
    overflow = "Number overflow. Attempting to store a number with magnitude larger than supported range"
    underflow = "Number underflow. Attempting to store a number with magnitude smaller than supported range"
    for text, message in (("1e99999999999", overflow), ("-1e99999999999", overflow), ("1e-99999999999", underflow),
                          ("1e2147483648", overflow), ("1e9223372036854775808", f"{nnum}: 1e9223372036854775808")):
        assert validation("GetItem", {"TableName": "abc", "Key": {"k": {"N": text}}}) == message
        assert written("PutItem", {"TableName": "abc", "Item": {"k": {"N": text}}}) == message
    assert validation("GetItem", {"TableName": "abc", "Key": {"k": {"N": ""}}}) == nnum + ": "
    # 1e2147483647: its precision minus its scale wraps a 32-bit integer in the older layer
    assert validation("BatchWriteItem", {"RequestItems": {"abc": [{"PutRequest": {"Item": {
        "k": {"N": "1e2147483647"}}}}]}}) == underflow
    assert written("PutItem", {"TableName": "abc", "Item": {"k": {"N": "1e2147483647"}}}) == overflow
    assert validation("BatchWriteItem", {"RequestItems": {"abc": [{"PutRequest": {"Item": {"k": {"N": ""}}}}]}}) == nnum


def test_which_constraint_errors_stand_alone():
    """paritysuite's validation-ordering captures: a violation in the newer framework's words is
    reported alone; BatchWriteItem reports a malformed table name only when nothing else is."""
    put = {"Put": {"TableName": "abc", "Item": {"a": {"S": "b"}}}}
    assert validation("TransactWriteItems", {"TransactItems": [put], "ClientRequestToken": "x" * 37,
                                             "ReturnConsumedCapacity": "BOGUS"}) == (
        "1 validation error detected: Value at 'ClientRequestToken' failed to satisfy constraint: Member must have "
        "length less than or equal to 36")
    bad_name = {"bad!name": [{"PutRequest": {"Item": {"pk": {"S": "a"}}}}]}
    assert validation("BatchWriteItem", {"RequestItems": bad_name, "ReturnConsumedCapacity": "BOGUS"}) == (
        "1 validation error detected: Value 'BOGUS' at 'returnConsumedCapacity' failed to satisfy constraint: "
        "Member must satisfy enum value set: [INDEXES, TOTAL, NONE]")
    assert "Map keys must satisfy constraint" in validation("BatchWriteItem", {"RequestItems": bad_name})


def test_which_value_problem_an_item_reports():
    """An empty name at the item's top level, then a value nested too deep anywhere, then the
    first other problem (paritysuite's deepRequests captures, TransactWriteItems)."""
    nested = ("Nesting Levels have exceeded supported limits: Attributes in the item have nested levels "
              "beyond supported limit")

    def put(item):
        return validation("TransactWriteItems", {"TransactItems": [{"Put": {"TableName": "abc", "Item": item}}]})

    assert put({"k": {"S": "a"}, "": {"S": "x"}, "d": _deep(100)}) == "Empty attribute name"
    assert put({"k": {"S": "a"}, "d": _deep(100), "": {"S": "x"}}) == "Empty attribute name"
    assert put({"k": {"S": "a"}, "m": {"M": {"": {"S": "x"}}}, "d": _deep(40)}) == nested


def test_every_registered_operation_resolves_to_a_function_with_its_request_shape():
    """ops/registry.py names each operation's function as "module:function" and imports it on
    first use: a misspelt entry must fail here, not at some user's first call.  Every
    operation has a request shape to validate against (backups' arrive with their module)."""
    from dynamodbforge.ops.registry import OPERATIONS
    from dynamodbforge.protocol import validate

    names = list(OPERATIONS)
    assert {"PutItem", "Query", "TransactWriteItems", "CreateBackup", "ImportTable"} <= set(names)
    assert all(callable(OPERATIONS[name]) for name in names)
    assert OPERATIONS.get("NoSuchOperation") is None
    assert [name for name in names if name not in validate.OPERATIONS] == []
