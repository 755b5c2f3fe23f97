"""Per-operation request validation with AWS's error types, texts and order.

``validate_request(operation, body)`` runs, like AWS:

1. one shape walk (protocol/shapes.py): SerializationExceptions for wrong JSON types
   at once; constraint violations collected into the aggregated
   ``"N validation error(s) detected: ..."`` ValidationException;
   AttributeValues are type-checked and normalised in place in the same walk;
2. the DDL operations' early TableName checks ("The parameter 'TableName' is
   required ...", "TableName must be at least 3 characters long ...");
3. the operation's own request-only rules (``custom``), in AWS's order.

Checks that need the table (key schema, key sizes) belong to the operations
(``attributes.validate_key`` / ``validate_item_key``).  Operations not declared
here pass through unchanged.
"""
from __future__ import annotations

import re
import zlib
from dataclasses import dataclass, field
from typing import Any, Callable

from dynamodbforge import errors
from dynamodbforge.protocol import attributes as A
from dynamodbforge.protocol.shapes import (
    AttrMap, AttrValue, Bool, Ctx, ListOf, MapOf, Num, Shape, Str, Struct, raise_collected,
)

INVALID = A.INVALID
_PKG = "com.amazonaws.dynamodb.v20120810."
NAME_PATTERN = "[a-zA-Z0-9_.-]+"
MAX_CAPACITY = 1_000_000_000_000

# --- enums, in the order AWS lists them ------------------------------------------------
RETURN_CONSUMED = ("INDEXES", "TOTAL", "NONE")
RETURN_METRICS = ("SIZE", "NONE")
RETURN_VALUES = ("ALL_NEW", "UPDATED_OLD", "ALL_OLD", "NONE", "UPDATED_NEW")
RETURN_ON_FAILURE = ("ALL_OLD", "NONE")
CONDITIONAL_OPERATOR = ("OR", "AND")
COMPARISON_OPERATOR = ("IN", "NULL", "BETWEEN", "LT", "NOT_CONTAINS", "EQ", "GT", "NOT_NULL", "NE", "LE",
                       "BEGINS_WITH", "GE", "CONTAINS")
ATTRIBUTE_TYPE = ("B", "N", "S")
KEY_TYPE = ("HASH", "RANGE")
PROJECTION_TYPE = ("ALL", "INCLUDE", "KEYS_ONLY")
BILLING_MODE = ("PROVISIONED", "PAY_PER_REQUEST")
STREAM_VIEW_TYPE = ("NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES", "KEYS_ONLY")
SSE_TYPE = ("AES256", "KMS")
TABLE_CLASS = ("STANDARD", "STANDARD_INFREQUENT_ACCESS")
ATTRIBUTE_ACTION = ("ADD", "PUT", "DELETE")
SELECT = ("SPECIFIC_ATTRIBUTES", "COUNT", "ALL_ATTRIBUTES", "ALL_PROJECTED_ATTRIBUTES")


# --- shared shapes ----------------------------------------------------------------------

class TableNameStr(Str):
    """A TableName that may also be a table ARN (1 to 1,024 characters): an empty one fails
    that first length rule alone ("Member must have length greater than or equal to 1", as
    DynamoDB answers today: paritysuite and nubo-db conformance captures); any other is held
    to a table name's pattern and 3 to 255 characters."""

    __slots__ = ()

    def walk(self, value: Any, path: str, ctx: Ctx, in_container: bool) -> None:
        if value == "":
            ctx.fail(path, value, "Member must have length greater than or equal to 1")
            return
        Str.walk(self, value, path, ctx, in_container)


def table_name(not_null: bool = True) -> Str:
    return TableNameStr(not_null, pattern=NAME_PATTERN, min_len=3, max_len=255)


def index_name(not_null: bool = True) -> Str:
    return Str(not_null, pattern=NAME_PATTERN, min_len=3, max_len=255)


def throughput(not_null: bool = False) -> Struct:
    return Struct("ProvisionedThroughput", {
        "WriteCapacityUnits": Num(True, minimum=1),
        "ReadCapacityUnits": Num(True, minimum=1),
    }, not_null)


KEY_SCHEMA = ListOf(Struct("KeySchemaElement", {
    "AttributeName": Str(True, min_len=1, max_len=255),
    "KeyType": Str(True, enum=KEY_TYPE),
}), True, min_len=1, max_len=2)

PROJECTION = Struct("Projection", {
    "ProjectionType": Str(enum=PROJECTION_TYPE),
    "NonKeyAttributes": ListOf(Str(min_len=1, max_len=255), min_len=1, max_len=20),
}, True)

ON_DEMAND = Struct("OnDemandThroughput", {"MaxReadRequestUnits": Num(), "MaxWriteRequestUnits": Num()})
WARM = Struct("WarmThroughput", {"ReadUnitsPerSecond": Num(), "WriteUnitsPerSecond": Num()})

EXPECTED = MapOf(Struct("ExpectedAttributeValue", {
    "Value": AttrValue(),
    "Exists": Bool(),
    "ComparisonOperator": Str(enum=COMPARISON_OPERATOR),
    "AttributeValueList": ListOf(AttrValue()),
}), _PKG + "ExpectedAttributeValue")

CONDITIONS = MapOf(Struct("Condition", {
    "AttributeValueList": ListOf(AttrValue()),
    "ComparisonOperator": Str(True, enum=COMPARISON_OPERATOR),
}), _PKG + "Condition")

NAMES = MapOf(Str(), "java.lang.String")
ATTRIBUTES_TO_GET = ListOf(Str(), min_len=1, max_len=255)


def _common_write_fields() -> dict[str, Shape]:
    return {
        "ConditionalOperator": Str(enum=CONDITIONAL_OPERATOR),
        "Expected": EXPECTED,
        "ReturnValues": Str(enum=RETURN_VALUES),
        "ReturnItemCollectionMetrics": Str(enum=RETURN_METRICS),
        "ConditionExpression": Str(),
        "ExpressionAttributeValues": AttrMap(),
        "ExpressionAttributeNames": NAMES,
        "ReturnValuesOnConditionCheckFailure": Str(enum=RETURN_ON_FAILURE),
    }


# --- request-only semantic rules shared by item operations ------------------------------

_NAME_KEY = re.compile(r"#[0-9a-zA-Z_]+").fullmatch
_VALUE_KEY = re.compile(r":[0-9a-zA-Z_]+").fullmatch


def av_error(ctx: Ctx, obj: Any) -> tuple[str, str] | None:
    """The first value problem recorded for an AttrMap/AttrValue object, if any."""
    if obj is None or not ctx.av_errors:
        return None
    return ctx.av_errors.get(id(obj))


def raise_av(ctx: Ctx, obj: Any) -> None:
    found = av_error(ctx, obj)
    if found is not None:
        raise errors.validation(found[1])


def check_expression_params(data: dict[str, Any], expressions: tuple[str, ...],
                            non_expressions: tuple[str, ...], *, newer: bool = False) -> None:
    """The mixing and "only with expressions" rules; ``newer``: as DynamoDB's newer framework
    words them (no ": ConditionExpression is null" suffix, paritysuite's 2026-10-09 capture)."""
    used = [e for e in expressions if e in data]
    if used:
        if "KeyConditionExpression" not in data:  # KeyConditions may go with the other expressions
            non_expressions = tuple(n for n in non_expressions if n != "KeyConditions")
        non = [n for n in non_expressions if n in data]
        if non:
            raise errors.validation(
                "Can not use both expression and non-expression parameters in the same request: "
                "Non-expression parameters: {" + ", ".join(non) + "} "
                "Expression parameters: {" + ", ".join(used) + "}"
            )
    elif "ExpressionAttributeNames" in data:
        raise errors.validation("ExpressionAttributeNames can only be specified when using expressions")
    value_exprs = [e for e in expressions if e != "ProjectionExpression"]
    if value_exprs and "ExpressionAttributeValues" in data and not any(e in data for e in value_exprs):
        if newer:
            raise errors.validation("ExpressionAttributeValues can only be specified when using expressions")
        raise errors.validation(
            "ExpressionAttributeValues can only be specified when using expressions: "
            + " and ".join(value_exprs) + (" are" if len(value_exprs) > 1 else " is") + " null"
        )


def check_name_sizes(names: Any) -> None:
    """Attribute names named anywhere in a request (not only in items) are at most 65,535
    bytes (ScyllaDB Alternator's test_limit_attribute_length_nonkey_bad, run against DynamoDB:
    projections, AttributesToGet, AttributeUpdates, expression names)."""
    for name in names or ():
        if type(name) is str and len(name) > 16383:
            A.check_name(name)


def check_expression_maps(data: dict[str, Any], ctx: Ctx) -> None:
    """AWS's checks of ExpressionAttributeNames/Values made before parsing the expressions."""
    names = data.get("ExpressionAttributeNames")
    if names is not None:
        if not names:
            raise errors.validation("ExpressionAttributeNames must not be empty")
        check_name_sizes(names.values())
        for key, value in names.items():
            if not _NAME_KEY(key):
                raise errors.validation(f'ExpressionAttributeNames contains invalid key: Syntax error; key: "{key}"')
            if not value:
                raise errors.validation(
                    f"ExpressionAttributeNames contains invalid value: Empty attribute name for key {key}"
                )
    values = data.get("ExpressionAttributeValues")
    if values is not None:
        if not values:
            raise errors.validation("ExpressionAttributeValues must not be empty")
        for key in values:
            if not _VALUE_KEY(key):
                raise errors.validation(
                    f'ExpressionAttributeValues contains invalid key: Syntax error; key: "{key}"'
                )
        found = av_error(ctx, values)
        if found is not None:
            if ctx.newer_framework or found[1] == A.MSG_NESTING:
                raise errors.validation(found[1])
            raise errors.validation(
                f"ExpressionAttributeValues contains invalid value: {found[1]} for key {found[0]}"
            )


_ARG_COUNTS = {
    "EQ": (1, 1), "NE": (1, 1), "LE": (1, 1), "LT": (1, 1), "GE": (1, 1), "GT": (1, 1),
    "CONTAINS": (1, 1), "NOT_CONTAINS": (1, 1), "BEGINS_WITH": (1, 1),
    "NULL": (0, 0), "NOT_NULL": (0, 0), "IN": (1, 1 << 30), "BETWEEN": (2, 2),
}


def check_expected(data: dict[str, Any], ctx: Ctx) -> None:
    """The legacy Expected parameter's rules."""
    expected = data.get("Expected")
    if not expected:
        return
    for name, cond in expected.items():
        if cond is None:
            continue
        if "AttributeValueList" in cond and "Value" in cond:
            raise errors.validation(
                f"{INVALID}Value and AttributeValueList cannot be used together for Attribute: {name}"
            )
        op = cond.get("ComparisonOperator")
        if op is not None:
            if "Exists" in cond:
                raise errors.validation(
                    f"{INVALID}Exists and ComparisonOperator cannot be used together for Attribute: {name}"
                )
            if op not in ("NULL", "NOT_NULL") and "AttributeValueList" not in cond and "Value" not in cond:
                raise errors.validation(
                    f"{INVALID}Value or AttributeValueList must be used with ComparisonOperator: {op} "
                    f"for Attribute: {name}"
                )
            values = cond.get("AttributeValueList")
            if values is None:
                values = [cond["Value"]] if "Value" in cond else []
            _check_argument_list(ctx, op, values)
            _check_condition_values(op, values)
        elif "AttributeValueList" in cond:
            raise errors.validation(
                f"{INVALID}AttributeValueList can only be used with a ComparisonOperator for Attribute: {name}"
            )
        else:
            exists = cond.get("Exists")
            if (exists is None or exists) and "Value" not in cond:
                shown = "null" if exists is None else "true"
                raise errors.validation(
                    f"{INVALID}Value must be provided when Exists is {shown} for Attribute: {name}"
                )
            if exists is False and "Value" in cond:
                raise errors.validation(f"{INVALID}Value cannot be used when Exists is false for Attribute: {name}")
            if "Value" in cond:
                raise_av(ctx, cond["Value"])


def _check_argument_list(ctx: Ctx, op: str, values: list[Any]) -> None:
    """A legacy comparison's AttributeValueList: valid values, AWS's argument count, one type."""
    for av in values:
        raise_av(ctx, av)
    low, high = _ARG_COUNTS[op]
    if not low <= len(values) <= high:
        raise errors.validation(f"{INVALID}Invalid number of argument(s) for the {op} ComparisonOperator")
    if values:
        first = next(iter(values[0]), None)
        if any(next(iter(v), None) != first for v in values):
            raise errors.validation(f"{INVALID}AttributeValues inside AttributeValueList must be of same type")


# legacy Condition maps (KeyConditions, QueryFilter, ScanFilter) -----------------

# The value types each ComparisonOperator takes (the API Reference's Condition; EQ and NE
# take every type, lists and maps included; CONTAINS also takes BOOL and NULL).
_CONDITION_TYPES = {
    "LE": ("S", "N", "B"), "LT": ("S", "N", "B"), "GE": ("S", "N", "B"), "GT": ("S", "N", "B"),
    "CONTAINS": ("S", "N", "B", "BOOL", "NULL"), "NOT_CONTAINS": ("S", "N", "B", "BOOL", "NULL"),
    "BEGINS_WITH": ("S", "B"), "IN": ("S", "N", "B"), "BETWEEN": ("S", "N", "B"),
}


def _check_condition_values(op: str, values: list[Any]) -> None:
    """A legacy comparison's values against its operator: their types, BETWEEN's order."""
    allowed = _CONDITION_TYPES.get(op)
    if allowed is not None:
        for av in values:
            t = next(iter(av), None)
            if t not in allowed:
                raise errors.validation(f"{INVALID}ComparisonOperator {op} is not valid for {t} AttributeValue type")
    if op == "BETWEEN":
        from dynamodbforge.expressions import comparisons as C  # local: protocol must not import expressions early

        if (C.order(values[0], values[1]) or 0) > 0:
            raise errors.validation(
                "The BETWEEN condition was provided a range where the lower bound is greater than the upper bound"
            )


def check_conditions(conds: dict[str, Any] | None, ctx: Ctx) -> None:
    """AWS's rules for a map of legacy ``Condition`` structures, in AWS's order."""
    if not conds:
        return
    for cond in conds.values():
        if cond is None:
            continue
        op = cond["ComparisonOperator"]
        values = cond.get("AttributeValueList") or []
        _check_argument_list(ctx, op, values)
        _check_condition_values(op, values)


def check_conditional_operator(data: dict[str, Any], conditions: str) -> None:
    """ConditionalOperator joins two or more conditions of ``conditions`` (Expected, QueryFilter
    or ScanFilter), and is refused without them."""
    if data.get("ConditionalOperator") is None:
        return
    count = len(data.get(conditions) or ())
    if count == 0:
        raise errors.validation("ConditionalOperator cannot be used without Filter or Expected")
    if count == 1:
        raise errors.validation("ConditionalOperator can only be used when Filter or Expected has two or more elements")


def check_select(data: dict[str, Any]) -> None:
    """Select against AttributesToGet / ProjectionExpression / IndexName (DynamoDB's texts)."""
    select = data.get("Select")
    if select is None:
        return
    given = "AttributesToGet" if "AttributesToGet" in data else (
        "ProjectionExpression" if "ProjectionExpression" in data else None)
    if select == "SPECIFIC_ATTRIBUTES":
        if given is None:
            raise errors.validation(
                "Must specify the AttributesToGet or ProjectionExpression when choosing to get SPECIFIC_ATTRIBUTES"
            )
    elif select == "COUNT":
        if given is not None:
            raise errors.validation(f"Cannot specify the {given} when choosing to get only the Count")
    else:
        if given is not None:
            raise errors.validation(f"Cannot specify the {given} when choosing to get {select}")
        if select == "ALL_PROJECTED_ATTRIBUTES" and "IndexName" not in data:
            raise errors.validation("ALL_PROJECTED_ATTRIBUTES can be used only when Querying using an IndexName")


# --- operation declarations -------------------------------------------------------------

Custom = Callable[[dict[str, Any], Ctx], None]


@dataclass(slots=True)
class Operation:
    shape: Struct
    custom: Custom | None = None
    ddl_table_name: bool = False  # CreateTable/DescribeTable/UpdateTable/DeleteTable early checks
    extra_required: tuple[str, ...] = field(default=())


def _ddl_table_name_checks(data: dict[str, Any], length_too: bool = True) -> None:
    name = data.get("TableName")
    if name is None:
        raise errors.validation("The parameter 'TableName' is required but was not present in the request")
    if length_too and not 3 <= len(name) <= 255:
        raise errors.validation("TableName must be at least 3 characters long and at most 255 characters long")


# CreateTable ---------------------------------------------------------------------------

def _throughput_bounds(pt: dict[str, Any] | None, suffix: str = "") -> None:
    if not pt:
        return
    for unit in ("ReadCapacityUnits", "WriteCapacityUnits"):
        value = pt.get(unit)
        if value is not None and value > MAX_CAPACITY:
            raise errors.validation(f"Given value {int(value)} for {unit} is out of bounds{suffix}")


def _key_names(schema: list[dict[str, Any]]) -> list[str]:
    return [e.get("AttributeName") for e in schema]


def _undefined_keys(keys: list[str], defined: list[str]) -> errors.DynamoDBError:
    return errors.validation(
        f"{INVALID}Some index key attributes are not defined in AttributeDefinitions. "
        f"Keys: [{', '.join(keys)}], AttributeDefinitions: [{', '.join(defined)}]"
    )


def _check_key_types(schema: list[dict[str, Any]], keys: list[str]) -> None:
    """AWS's KeySchema shape rules, in AWS's order, shared by tables and indexes."""
    if len(keys) == 2 and keys[0] == keys[1]:
        raise errors.validation("Both the Hash Key and the Range Key element in the KeySchema have the same name")
    if schema[0].get("KeyType") != "HASH":
        raise errors.validation("Invalid KeySchema: The first KeySchemaElement is not a HASH key type")
    if len(schema) == 2 and schema[1].get("KeyType") != "RANGE":
        raise errors.validation("Invalid KeySchema: The second KeySchemaElement is not a RANGE key type")


def _check_index_key_schema(schema: list[dict[str, Any]], defined: list[str]) -> None:
    keys = _key_names(schema)
    if any(k not in defined for k in keys):
        raise _undefined_keys(keys, defined)
    _check_key_types(schema, keys)


def _check_projection(projection: dict[str, Any]) -> None:
    ptype = projection.get("ProjectionType")
    if ptype is None:
        raise errors.validation(f"{INVALID}Unknown ProjectionType: null")
    if "NonKeyAttributes" in projection and ptype != "INCLUDE":
        raise errors.validation(f"{INVALID}ProjectionType is {ptype}, but NonKeyAttributes is specified")
    if ptype == "INCLUDE":
        names = projection.get("NonKeyAttributes")
        if not names:
            raise errors.validation(f"{INVALID}ProjectionType is INCLUDE, but NonKeyAttributes is not specified")
        for i, name in enumerate(names):
            if name in names[:i]:  # refused by DynamoDB (Alternator's test_gsi_projection_error_duplicate);
                raise errors.validation(f"{INVALID}Duplicate value in NonKeyAttributes: {name}")  # text unverified


def _create_table(data: dict[str, Any], ctx: Ctx) -> None:
    _check_table_class(data)
    pt = data.get("ProvisionedThroughput")
    _throughput_bounds(pt)
    mode = data.get("BillingMode")
    if mode == "PAY_PER_REQUEST":
        if pt is not None:
            raise errors.validation(
                f"{INVALID}Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode "
                "is PAY_PER_REQUEST"
            )
    elif pt is None:
        if mode == "PROVISIONED":
            raise errors.validation(
                f"{INVALID}ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode "
                "is PROVISIONED"
            )
        raise errors.validation("No provisioned throughput specified for the table")

    definitions = data["AttributeDefinitions"]
    defined = [d.get("AttributeName") for d in definitions]
    for i, name in enumerate(defined):
        if name in defined[:i]:  # DynamoDB's text, as quoted in ScyllaDB issue 13870
            raise errors.validation(f"Attribute Name is duplicated: {name}")
    schema = data["KeySchema"]
    keys = _key_names(schema)
    if len(keys) == 2:
        if any(k not in defined for k in keys) or (keys[0] == keys[1] and len(defined) == 1):
            raise errors.validation("Invalid KeySchema: Some index key attribute have no definition")
    elif keys[0] not in defined:
        raise _undefined_keys(keys, defined)
    _check_key_types(schema, keys)

    lsis = data.get("LocalSecondaryIndexes")
    gsis = data.get("GlobalSecondaryIndexes")
    if lsis is None and gsis is None and len(keys) != len(defined):
        raise errors.validation(
            f"{INVALID}Number of attributes in KeySchema does not exactly match number of attributes defined "
            "in AttributeDefinitions"
        )
    used = set(keys)
    seen: set[str] = set()
    if lsis is not None:
        if not lsis:
            raise errors.validation(f"{INVALID}List of LocalSecondaryIndexes is empty")
        if len(schema) != 2:
            raise errors.validation(
                f"{INVALID}Table KeySchema does not have a range key, which is required when specifying a "
                "LocalSecondaryIndex"
            )
        for index in lsis:
            name = index["IndexName"]
            ischema = index["KeySchema"]
            _check_index_key_schema(ischema, defined)
            if len(ischema) != 2:
                raise errors.validation(f"{INVALID}Index KeySchema does not have a range key for index: {name}")
            ihash = ischema[0]["AttributeName"]
            if ihash != keys[0]:
                raise errors.validation(
                    f"{INVALID}Index KeySchema does not have the same leading hash key as table KeySchema for "
                    f"index: {name}. index hash key: {ihash}, table hash key: {keys[0]}"
                )
            _check_projection(index["Projection"])
            if name in seen:
                raise errors.validation(f"{INVALID}Duplicate index name: {name}")
            seen.add(name)
            used.update(_key_names(ischema))
        if len(lsis) > 5:
            raise errors.validation(f"{INVALID}Number of LocalSecondaryIndexes exceeds per-table limit of 5")
    if gsis is not None:
        if not gsis:
            raise errors.validation(f"{INVALID}List of GlobalSecondaryIndexes is empty")
        for index in gsis:
            name = index["IndexName"]
            ischema = index["KeySchema"]
            _check_index_key_schema(ischema, defined)
            _check_projection(index["Projection"])
            if name in seen:
                raise errors.validation(f"{INVALID}Duplicate index name: {name}")
            seen.add(name)
            used.update(_key_names(ischema))
            ipt = index.get("ProvisionedThroughput")
            if mode == "PAY_PER_REQUEST":
                if ipt is not None:
                    raise errors.validation(
                        f"{INVALID}ProvisionedThroughput should not be specified for index: {name} when "
                        "BillingMode is PAY_PER_REQUEST"
                    )
            elif ipt is None:
                raise errors.validation(f"{INVALID}ProvisionedThroughput must be specified for index: {name}")
            else:
                _throughput_bounds(ipt, f" for index {name}")
        if len(gsis) > 20:
            raise errors.validation(f"{INVALID}GlobalSecondaryIndex count exceeds the per-table limit of 20")
    if len(defined) != len(used) or any(d not in used for d in defined):
        raise errors.validation(
            f"{INVALID}Some AttributeDefinitions are not used. AttributeDefinitions: [{', '.join(defined)}], "
            f"keys used: [{', '.join(sorted(used))}]"
        )
    stream = data.get("StreamSpecification")
    if stream is not None and stream.get("StreamEnabled") and "StreamViewType" not in stream:
        raise errors.validation(f"{INVALID}StreamViewType is required when StreamEnabled is true")


def _index_defs() -> tuple[Struct, Struct]:
    lsi = Struct("LocalSecondaryIndex", {
        "IndexName": index_name(),
        "KeySchema": KEY_SCHEMA,
        "Projection": PROJECTION,
    })
    gsi = Struct("GlobalSecondaryIndex", {
        "IndexName": index_name(),
        "KeySchema": KEY_SCHEMA,
        "Projection": PROJECTION,
        "ProvisionedThroughput": throughput(),
        "OnDemandThroughput": ON_DEMAND,
        "WarmThroughput": WARM,
    })
    return lsi, gsi


_LSI, _GSI = _index_defs()
ATTRIBUTE_DEFINITIONS = ListOf(Struct("AttributeDefinition", {
    "AttributeName": Str(True, min_len=1, max_len=255),
    "AttributeType": Str(True, enum=ATTRIBUTE_TYPE),
}), True)
STREAM_SPEC = Struct("StreamSpecification", {
    "StreamEnabled": Bool(True),
    "StreamViewType": Str(enum=STREAM_VIEW_TYPE),
})
SSE_SPEC = Struct("SSESpecification", {
    "Enabled": Bool(),
    "SSEType": Str(enum=SSE_TYPE),
    "KMSMasterKeyId": Str(),
})
TAGS = ListOf(Struct("Tag", {
    "Key": Str(True, min_len=1, max_len=128),
    "Value": Str(True, min_len=0, max_len=256),
}))

CREATE_TABLE = Struct("CreateTableInput", {
    "AttributeDefinitions": ATTRIBUTE_DEFINITIONS,
    "TableName": Str(pattern=NAME_PATTERN, min_len=3, max_len=255),  # a name, never an ARN
    "KeySchema": KEY_SCHEMA,
    # DynamoDB reports a GSI's constraint errors before an LSI's (nubo-db, 2026-10-09)
    "GlobalSecondaryIndexes": ListOf(_GSI),
    "LocalSecondaryIndexes": ListOf(_LSI),
    "BillingMode": Str(enum=BILLING_MODE),
    "ProvisionedThroughput": throughput(),
    "StreamSpecification": STREAM_SPEC,
    "SSESpecification": SSE_SPEC,
    "Tags": TAGS,
    "TableClass": Str(),  # its values: _check_table_class
    "DeletionProtectionEnabled": Bool(),
    "OnDemandThroughput": ON_DEMAND,
    "WarmThroughput": WARM,
    "ResourcePolicy": Str(),
})


# UpdateTable ----------------------------------------------------------------------------

_UPDATE_TABLE_FIELDS = ("ProvisionedThroughput", "BillingMode", "StreamSpecification", "GlobalSecondaryIndexUpdates",
                        "SSESpecification", "ReplicaUpdates", "MultiRegionConsistency", "DeletionProtectionEnabled",
                        "OnDemandThroughput", "WarmThroughput", "TableClass", "AttributeDefinitions")


def _check_table_class(data: dict[str, Any]) -> None:
    """DynamoDB's own message for a TableClass it does not know, not the generic enum one
    (quoted in ScyllaDB Alternator's test_tableclass.py, run against DynamoDB)."""
    table_class = data.get("TableClass")
    if table_class is not None and table_class not in TABLE_CLASS:
        raise errors.validation("Invalid table-class parameter provided. Please try again with a valid "
                                "table-class value: [STANDARD, STANDARD_INFREQUENT_ACCESS].")


def _update_table(data: dict[str, Any], ctx: Ctx) -> None:
    _check_table_class(data)
    if not any(data.get(f) not in (None, []) for f in _UPDATE_TABLE_FIELDS if f != "AttributeDefinitions"):
        raise errors.validation(
            "At least one of ProvisionedThroughput, BillingMode, UpdateStreamEnabled, GlobalSecondaryIndexUpdates, "
            "SSESpecification, ReplicaUpdates, MultiAccountReplicaReady, ReplicaTransitRoleArn, "
            "MultiRegionConsistency, DeletionProtectionEnabled, OnDemandThroughput, WarmThroughput or TableClass "
            "is required"
        )
    pt = data.get("ProvisionedThroughput")
    _throughput_bounds(pt)
    if data.get("BillingMode") == "PAY_PER_REQUEST" and pt is not None:
        raise errors.validation(
            f"{INVALID}Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is "
            "PAY_PER_REQUEST"
        )
    updates = data.get("GlobalSecondaryIndexUpdates")
    if updates:
        seen: set[str] = set()
        for update in updates:
            if not any(update.get(k) is not None for k in ("Update", "Create", "Delete")):
                raise errors.validation(
                    f"{INVALID}One of GlobalSecondaryIndexUpdate.Update, GlobalSecondaryIndexUpdate.Create, "
                    "GlobalSecondaryIndexUpdate.Delete must not be null"
                )
            if sum(update.get(k) is not None for k in ("Update", "Create", "Delete")) > 1:
                raise errors.validation(
                    f"{INVALID}Only one global secondary index action is allowed per GlobalSecondaryIndexUpdate object"
                )
            action = update.get("Update") or update.get("Create") or update.get("Delete")
            name = action.get("IndexName")
            if name in seen:
                raise errors.validation(
                    f"{INVALID}Only one global secondary index update per index is allowed simultaneously. "
                    f"Index: {name}"
                )
            seen.add(name)
            if update.get("Update") is not None:
                _throughput_bounds(update["Update"].get("ProvisionedThroughput"), f" for index {name}")
            if update.get("Create") is not None:
                create = update["Create"]
                if create.get("KeySchema"):
                    keys = _key_names(create["KeySchema"])
                    if len(keys) == 2 and keys[0] == keys[1]:
                        raise errors.validation(
                            "Both the Hash Key and the Range Key element in the KeySchema have the same name"
                        )
                    if create["KeySchema"][0].get("KeyType") != "HASH":
                        raise errors.validation("Invalid KeySchema: The first KeySchemaElement is not a HASH key type")
                    if len(keys) == 2 and create["KeySchema"][1].get("KeyType") != "RANGE":
                        raise errors.validation(
                            "Invalid KeySchema: The second KeySchemaElement is not a RANGE key type"
                        )
                _check_projection(create["Projection"])
                _throughput_bounds(create.get("ProvisionedThroughput"), f" for index {name}")


UPDATE_TABLE = Struct("UpdateTableInput", {
    "AttributeDefinitions": ListOf(ATTRIBUTE_DEFINITIONS.member),
    "TableName": Str(pattern=NAME_PATTERN),
    "BillingMode": Str(enum=BILLING_MODE),
    "ProvisionedThroughput": throughput(),
    "GlobalSecondaryIndexUpdates": ListOf(Struct("GlobalSecondaryIndexUpdate", {
        "Update": Struct("UpdateGlobalSecondaryIndexAction", {
            "IndexName": index_name(),
            "ProvisionedThroughput": throughput(),
            "OnDemandThroughput": ON_DEMAND,
            "WarmThroughput": WARM,
        }),
        "Create": Struct("CreateGlobalSecondaryIndexAction", {
            "IndexName": index_name(),
            "KeySchema": KEY_SCHEMA,
            "Projection": PROJECTION,
            "ProvisionedThroughput": throughput(),
            "OnDemandThroughput": ON_DEMAND,
            "WarmThroughput": WARM,
        }),
        "Delete": Struct("DeleteGlobalSecondaryIndexAction", {"IndexName": index_name()}),
    })),
    "StreamSpecification": STREAM_SPEC,
    "SSESpecification": SSE_SPEC,
    "TableClass": Str(),  # its values: _check_table_class
    "DeletionProtectionEnabled": Bool(),
    "OnDemandThroughput": ON_DEMAND,
    "WarmThroughput": WARM,
})


# Item operations -----------------------------------------------------------------------

def _put_item(data: dict[str, Any], ctx: Ctx) -> None:
    check_expression_params(data, ("ConditionExpression",), ("Expected", "ConditionalOperator"), newer=True)
    check_conditional_operator(data, "Expected")
    item = data["Item"]
    raise_av(ctx, item)
    _check_put_delete_return_values(data)
    if A.item_size(item) > A.MAX_ITEM_BYTES:
        raise errors.validation(A.MSG_ITEM_TOO_BIG)
    check_expected(data, ctx)
    check_expression_maps(data, ctx)


def _check_put_delete_return_values(data: dict[str, Any]) -> None:
    """PutItem and DeleteItem can return only the old item (dynalite's suite, run against
    DynamoDB, and paritysuite's 2026 captures agree on these words)."""
    rv = data.get("ReturnValues")
    if rv is not None and rv != "NONE" and rv != "ALL_OLD":
        raise errors.validation("ReturnValues can only be ALL_OLD or NONE")


def _get_item(data: dict[str, Any], ctx: Ctx) -> None:
    check_expression_params(data, ("ProjectionExpression",), ("AttributesToGet",))
    raise_av(ctx, data["Key"])
    names = data.get("AttributesToGet")
    if names:
        check_name_sizes(names)
        _no_duplicate_names(names)
    check_expression_maps(data, ctx)


def _no_duplicate_names(names: list[str]) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise errors.validation(f"{INVALID}Duplicate value in attribute name: {name}")
        seen.add(name)


def _delete_item(data: dict[str, Any], ctx: Ctx) -> None:
    check_expression_params(data, ("ConditionExpression",), ("Expected", "ConditionalOperator"), newer=True)
    check_conditional_operator(data, "Expected")
    raise_av(ctx, data["Key"])
    _check_put_delete_return_values(data)
    check_expected(data, ctx)
    check_expression_maps(data, ctx)


def _update_item(data: dict[str, Any], ctx: Ctx) -> None:
    check_expression_params(data, ("UpdateExpression", "ConditionExpression"),
                            ("AttributeUpdates", "Expected", "ConditionalOperator"), newer=True)
    check_conditional_operator(data, "Expected")
    raise_av(ctx, data["Key"])
    updates = data.get("AttributeUpdates")
    if updates:
        check_name_sizes(updates)
        for update in updates.values():
            if update is None:
                continue
            value = update.get("Value")
            action = update.get("Action", "PUT")
            if value is not None:
                raise_av(ctx, value)
                vtype = next(iter(value), None)
                if action == "DELETE" and vtype not in ("SS", "NS", "BS"):
                    raise errors.validation(
                        f"{INVALID}DELETE action with value is not supported for the type {vtype}"
                    )
                if action == "ADD" and vtype not in ("L", "SS", "NS", "BS", "N"):
                    raise errors.validation(f"{INVALID}ADD action is not supported for the type {vtype}")
            elif action != "DELETE":
                raise errors.validation(
                    f"{INVALID}Only DELETE action is allowed when no attribute value is specified"
                )
    check_expected(data, ctx)
    check_expression_maps(data, ctx)


GET_ITEM = Struct("GetItemInput", {
    "ReturnConsumedCapacity": Str(enum=RETURN_CONSUMED),
    "AttributesToGet": ATTRIBUTES_TO_GET,
    "TableName": table_name(),
    "Key": AttrMap(True),
    "ConsistentRead": Bool(),
    "ProjectionExpression": Str(),
    "ExpressionAttributeNames": NAMES,
})

PUT_ITEM = Struct("PutItemInput", {
    "ReturnConsumedCapacity": Str(enum=RETURN_CONSUMED),
    # an unknown ReturnValues is reported before the table name (Ketlark's registry of
    # DynamoDB's answers, most regions: "Value 'INVALID' at 'returnValues' ...; Value '' at
    # 'tableName' ...")
    "ReturnValues": Str(enum=RETURN_VALUES),
    "TableName": table_name(),
    "Item": AttrMap(True),
    **{k: v for k, v in _common_write_fields().items() if k != "ReturnValues"},
})

DELETE_ITEM = Struct("DeleteItemInput", {
    "ReturnConsumedCapacity": Str(enum=RETURN_CONSUMED),
    "TableName": table_name(),
    "Key": AttrMap(True),
    **_common_write_fields(),
})

UPDATE_ITEM = Struct("UpdateItemInput", {
    "ReturnConsumedCapacity": Str(enum=RETURN_CONSUMED),
    "TableName": table_name(),
    "AttributeUpdates": MapOf(Struct("AttributeValueUpdate", {
        "Value": AttrValue(),
        "Action": Str(enum=ATTRIBUTE_ACTION),
    }), _PKG + "AttributeValueUpdate"),
    "UpdateExpression": Str(),
    **_common_write_fields(),
    # a missing Key is reported after the other members' errors (ConditionalOperator,
    # ReturnValues: paritysuite's and nubo-db's captures of 2026-10-09)
    "Key": AttrMap(True),
})


# Query / Scan -----------------------------------------------------------------------------

def _read_many(data: dict[str, Any], ctx: Ctx, expressions: tuple[str, ...], non: tuple[str, ...],
               filter_param: str, before_maps: Callable[[dict[str, Any]], None] | None = None) -> None:
    """Query's and Scan's shared checks, in AWS's order for each (dynalite's validations,
    recorded from DynamoDB): Scan checks AttributesToGet for duplicates before its
    ScanFilter, Query after its QueryFilter; ``before_maps`` (Scan's Segment pair) runs
    after the ExclusiveStartKey's values and before ExpressionAttributeNames/Values."""
    check_expression_params(data, expressions, non)
    check_conditional_operator(data, filter_param)
    names = data.get("AttributesToGet")
    if filter_param == "QueryFilter":
        check_conditions(data.get(filter_param), ctx)
    if names:
        check_name_sizes(names)
        _no_duplicate_names(names)
    if filter_param != "QueryFilter":
        check_conditions(data.get(filter_param), ctx)
    esk = data.get("ExclusiveStartKey")
    found = av_error(ctx, esk)
    if found is not None:  # the newer layer (Query) reports the value's problem as itself
        raise errors.validation(found[1] if ctx.newer_framework else f"The provided starting key is invalid: {found[1]}")
    if before_maps is not None:
        before_maps(data)
    if filter_param == "QueryFilter":  # Query's own rules, in AWS's order
        if "KeyConditions" not in data and "KeyConditionExpression" not in data:
            raise errors.validation(
                "Either the KeyConditions or KeyConditionExpression parameter must be specified in the request."
            )
        check_expression_maps(data, ctx)
        check_conditions(data.get("KeyConditions"), ctx)
        if "KeyConditions" in data and len(data["KeyConditions"]) not in (1, 2):
            raise errors.validation("Conditions can be of length 1 or 2 only")
    else:
        check_expression_maps(data, ctx)
    # Query words this one in the newer framework's envelope, Scan not (nubo-db, 2026-10-09)
    try:
        check_select(data)
    except errors.DynamoDBError as exc:
        if filter_param == "QueryFilter":
            raise errors.enveloped(exc) from None
        raise


def _query(data: dict[str, Any], ctx: Ctx) -> None:
    _read_many(data, ctx, ("ProjectionExpression", "FilterExpression", "KeyConditionExpression"),
               ("AttributesToGet", "QueryFilter", "ConditionalOperator", "KeyConditions"), "QueryFilter")


def _scan(data: dict[str, Any], ctx: Ctx) -> None:
    _read_many(data, ctx, ("ProjectionExpression", "FilterExpression"),
               ("AttributesToGet", "ScanFilter", "ConditionalOperator"), "ScanFilter", _check_segments)


def _check_segments(data: dict[str, Any]) -> None:
    """A parallel Scan's Segment and TotalSegments come together, Segment below TotalSegments."""
    segment, total = data.get("Segment"), data.get("TotalSegments")
    if segment is not None and total is None:
        raise errors.validation(
            "The TotalSegments parameter is required but was not present in the request when "
            "Segment parameter is present"
        )
    if total is not None and segment is None:
        raise errors.validation(
            "The Segment parameter is required but was not present in the request when parameter "
            "TotalSegments is present"
        )
    if segment is not None and total is not None and segment >= total:
        raise errors.validation(
            "The Segment parameter is zero-based and must be less than parameter TotalSegments: "
            f"Segment: {segment} is not less than TotalSegments: {total}"
        )


QUERY = Struct("QueryInput", {
    "AttributesToGet": ATTRIBUTES_TO_GET,
    "QueryFilter": CONDITIONS,
    "ConditionalOperator": Str(enum=CONDITIONAL_OPERATOR),
    "KeyConditions": CONDITIONS,
    "ReturnConsumedCapacity": Str(enum=RETURN_CONSUMED),
    "ExclusiveStartKey": AttrMap(),
    "IndexName": index_name(False),
    "Limit": Num(java="Integer", minimum=1, generic=True),  # newer framework wording (nubo-db capture)
    "TableName": table_name(),
    "Select": Str(enum=SELECT),
    "ScanIndexForward": Bool(),
    "ConsistentRead": Bool(),
    "ProjectionExpression": Str(),
    "FilterExpression": Str(),
    "KeyConditionExpression": Str(),
    "ExpressionAttributeValues": AttrMap(),
    "ExpressionAttributeNames": NAMES,
})

SCAN = Struct("ScanInput", {
    "AttributesToGet": ATTRIBUTES_TO_GET,
    "ScanFilter": CONDITIONS,
    "ConditionalOperator": Str(enum=CONDITIONAL_OPERATOR),
    "ReturnConsumedCapacity": Str(enum=RETURN_CONSUMED),
    "ExclusiveStartKey": AttrMap(),
    "IndexName": index_name(False),
    "Limit": Num(java="Integer", minimum=1),
    "TableName": table_name(),
    "Select": Str(enum=SELECT),
    "Segment": Num(java="Integer", minimum=0, maximum=999999),
    "TotalSegments": Num(java="Integer", minimum=1, maximum=1000000),
    "ConsistentRead": Bool(),
    "ProjectionExpression": Str(),
    "FilterExpression": Str(),
    "ExpressionAttributeValues": AttrMap(),
    "ExpressionAttributeNames": NAMES,
})


# Batch operations -----------------------------------------------------------------------

def _table_key_checks() -> tuple[tuple[str, Any], ...]:
    pattern = re.compile(NAME_PATTERN).fullmatch
    return (
        ("Member must have length less than or equal to 255", lambda k: len(k) <= 255),
        ("Member must have length greater than or equal to 3", lambda k: len(k) >= 3),
        ("Member must satisfy regular expression pattern: " + NAME_PATTERN, lambda k: bool(pattern(k))),
    )


def _json_echo(value: dict[str, Any]) -> str:
    """BatchGetItem's RequestItems as DynamoDB echoes it in a map-keys error: its JSON."""
    import orjson

    return orjson.dumps(value).decode()


def _java_av(av: Any) -> str:
    digest = zlib.crc32(repr(av).encode()) & 0x7FFFFFFF
    return f"{_PKG}AttributeValue@{digest:x}"


def _write_requests_echo(value: dict[str, Any]) -> str:
    """BatchWriteItem's RequestItems as DynamoDB (Java) prints it in a map error:
    ``{t=[WriteRequest(putRequest=PutRequest(item={pk=...AttributeValue@...}, ...), ...)]}``.
    Captures show PutRequests only; the DeleteRequest form is unverified."""
    def av_map(m: Any) -> str:
        if type(m) is not dict:
            return "null"
        return "{" + ", ".join(f"{k}={_java_av(v)}" for k, v in m.items()) + "}"

    def request(r: Any) -> str:
        if type(r) is not dict:
            return "null"
        put, delete = r.get("PutRequest"), r.get("DeleteRequest")
        put_s = (f"PutRequest(item={av_map(put.get('Item'))}, workloadProfileName=null)"
                 if type(put) is dict else "null")
        delete_s = f"DeleteRequest(key={av_map(delete.get('Key'))})" if type(delete) is dict else "null"
        return f"WriteRequest(putRequest={put_s}, deleteRequest={delete_s})"

    return "{" + ", ".join(
        f"{table}=[" + ", ".join(request(r) for r in (reqs if type(reqs) is list else [])) + "]"
        for table, reqs in value.items()) + "}"


BATCH_GET = Struct("BatchGetItemInput", {
    "RequestItems": MapOf(Struct("KeysAndAttributes", {
        "Keys": ListOf(AttrMap(), True, min_len=1, max_len=100, generic=True),
        "AttributesToGet": ATTRIBUTES_TO_GET,
        "ConsistentRead": Bool(),
        "ProjectionExpression": Str(),
        "ExpressionAttributeNames": NAMES,
    }), _PKG + "KeysAndAttributes", True, min_len=1, max_len=100, key_checks=_table_key_checks(),
        generic=True, echo=_json_echo),
    "ReturnConsumedCapacity": Str(enum=RETURN_CONSUMED),
})


def _batch_get(data: dict[str, Any], ctx: Ctx) -> None:
    import orjson  # duplicate keys are found before the table is looked up, as AWS does

    total = 0
    specs = data["RequestItems"].values()
    if any("ProjectionExpression" in spec for spec in specs) and any("AttributesToGet" in spec for spec in specs):
        # one request is either kind: DynamoDB refuses a mix even across tables (paritysuite)
        raise errors.validation(
            "Can not use both expression and non-expression parameters in the same request: "
            "Non-expression parameters: {AttributesToGet} Expression parameters: {ProjectionExpression}"
        )
    for spec in specs:  # per table, in AWS's order: parameters, names, expression maps, keys
        check_expression_params(spec, ("ProjectionExpression",), ("AttributesToGet",))
        names = spec.get("AttributesToGet")
        if names:
            _no_duplicate_names(names)
        check_expression_maps(spec, ctx)
        seen: set[bytes] = set()
        for key in spec["Keys"]:
            raise_av(ctx, key)
            ident = orjson.dumps(key, option=orjson.OPT_SORT_KEYS)
            if ident in seen:
                raise errors.validation("Provided list of item keys contains duplicates")
            seen.add(ident)
            total += 1
            if total > 100:
                raise errors.validation("Too many items requested for the BatchGetItem call")


BATCH_WRITE = Struct("BatchWriteItemInput", {
    "RequestItems": MapOf(ListOf(Struct("WriteRequest", {
        "PutRequest": Struct("PutRequest", {"Item": AttrMap(True)}),
        "DeleteRequest": Struct("DeleteRequest", {"Key": AttrMap(True)}),
    })), "java.util.List<" + _PKG + "WriteRequest>", True, min_len=1, max_len=25, generic=True,
        # a malformed table name is reported only when nothing else is (an unknown
        # ReturnConsumedCapacity alone: paritysuite's validation-ordering capture)
        echo=_write_requests_echo, key_checks=_table_key_checks(), defer_key_errors=True,
        value_checks=(  # AWS reports the list length on the map
            ("Member must have length less than or equal to 25", lambda v: type(v) is not list or len(v) <= 25),
            ("Member must have length greater than or equal to 1", lambda v: type(v) is not list or len(v) >= 1),
        )),
    "ReturnConsumedCapacity": Str(enum=RETURN_CONSUMED),
    "ReturnItemCollectionMetrics": Str(enum=RETURN_METRICS),
})


def _batch_write(data: dict[str, Any], ctx: Ctx) -> None:
    total = 0
    for requests in data["RequestItems"].values():
        for request in requests:
            put, delete = request.get("PutRequest"), request.get("DeleteRequest")
            if (put is None) == (delete is None):
                raise errors.validation(
                    f"{INVALID}Each WriteRequest must contain exactly one of the following: PutRequest, DeleteRequest"
                )
            if put is not None:
                raise_av(ctx, put["Item"])
                if A.item_size(put["Item"]) > A.MAX_ITEM_BYTES:
                    raise errors.validation(A.MSG_ITEM_TOO_BIG)
            else:
                raise_av(ctx, delete["Key"])
            total += 1
    if total > 25:
        raise errors.validation("Too many items requested for the BatchWriteItem call")


# Transactions ------------------------------------------------------------------------------

def _txn_write_item(kind: str) -> Struct:
    fields: dict[str, Shape] = {}
    if kind == "Put":
        fields["Item"] = AttrMap(True)
    else:
        fields["Key"] = AttrMap(True)
    if kind == "Update":
        fields["UpdateExpression"] = Str(True)
    fields["TableName"] = table_name()
    fields["ConditionExpression"] = Str(kind == "ConditionCheck")
    fields["ExpressionAttributeNames"] = NAMES
    fields["ExpressionAttributeValues"] = AttrMap()
    fields["ReturnValuesOnConditionCheckFailure"] = Str(enum=RETURN_ON_FAILURE)
    return Struct(kind, fields)


TRANSACT_WRITE = Struct("TransactWriteItemsInput", {
    "TransactItems": ListOf(Struct("TransactWriteItem", {
        "ConditionCheck": _txn_write_item("ConditionCheck"),
        "Put": _txn_write_item("Put"),
        "Delete": _txn_write_item("Delete"),
        "Update": _txn_write_item("Update"),
    }), True, min_len=1, max_len=100, generic=True),
    "ReturnConsumedCapacity": Str(enum=RETURN_CONSUMED),
    "ReturnItemCollectionMetrics": Str(enum=RETURN_METRICS),
    "ClientRequestToken": Str(min_len=1, max_len=36, generic=True),
})


def _transact_write(data: dict[str, Any], ctx: Ctx) -> None:
    for entry in data["TransactItems"]:
        actions = [entry[k] for k in ("ConditionCheck", "Put", "Delete", "Update") if k in entry]
        if not actions:  # DynamoDB's words (nubo-db's capture; the newer framework words it otherwise)
            raise errors.validation("Invalid Request: TransactWriteRequest should contain Delete or Put or Update request")
        if len(actions) != 1:
            raise errors.validation(
                "TransactItems can only contain one of Check, Put, Update or Delete"
            )
        action = actions[0]
        # Each action in turn, its expressions before its values: DynamoDB reports an earlier
        # action's bad condition before a later one's missing table or too deep a value, and
        # an action's own oversized or malformed expression before its key's nesting
        # (paritysuite's validation-ordering captures).
        check_expression_maps(action, ctx)
        _check_expressions(action)
        raise_av(ctx, action.get("Item"))
        raise_av(ctx, action.get("Key"))
        if "Item" in action and A.item_size(action["Item"]) > A.MAX_ITEM_BYTES:
            raise errors.validation(A.MSG_ITEM_TOO_BIG)


def _check_expressions(action: dict[str, Any]) -> None:
    """Parse and resolve a transaction action's expressions (request-level errors only; the
    operation compiles them again, from the parse cache)."""
    from dynamodbforge.expressions import ExpressionContext  # late: expressions imports protocol

    ectx = ExpressionContext(action.get("ExpressionAttributeNames"), action.get("ExpressionAttributeValues"))
    if "UpdateExpression" in action:
        ectx.update(action["UpdateExpression"])
    if "ConditionExpression" in action:
        ectx.condition(action["ConditionExpression"])
    ectx.check_unused()


TRANSACT_GET = Struct("TransactGetItemsInput", {
    "TransactItems": ListOf(Struct("TransactGetItem", {
        "Get": Struct("Get", {
            "Key": AttrMap(True),
            "TableName": table_name(),
            "ProjectionExpression": Str(),
            "ExpressionAttributeNames": NAMES,
        }, True),
    }), True, min_len=1, max_len=100, generic=True),
    "ReturnConsumedCapacity": Str(enum=RETURN_CONSUMED),
})


def _transact_get(data: dict[str, Any], ctx: Ctx) -> None:
    for entry in data["TransactItems"]:
        get = entry["Get"]
        raise_av(ctx, get["Key"])
        check_expression_maps(get, ctx)


# Simple operations ---------------------------------------------------------------------------

DDL_TABLE_NAME_ONLY = Struct("TableNameInput", {"TableName": Str(pattern=NAME_PATTERN)})

LIST_TABLES = Struct("ListTablesInput", {
    "ExclusiveStartTableName": Str(pattern=NAME_PATTERN, min_len=3, max_len=255),
    "Limit": Num(java="Integer", minimum=1, maximum=100),
})

UPDATE_TTL = Struct("UpdateTimeToLiveInput", {
    "TableName": table_name(),
    "TimeToLiveSpecification": Struct("TimeToLiveSpecification", {
        "AttributeName": Str(True, min_len=1, max_len=255),
        "Enabled": Bool(True),
    }, True),
})

DESCRIBE_TTL = Struct("DescribeTimeToLiveInput", {"TableName": table_name()})


# tags, limits, contributor insights --------------------------------------------

_ARN = Str(True, min_len=1, max_len=1283)
# an empty Tags list is refused (Alternator's test_tag_resource_incorrect, run against DynamoDB),
# in AWS's own words once the ARN is checked (ops/tags.py)
TAG_RESOURCE = Struct("TagResourceInput", {"ResourceArn": _ARN, "Tags": ListOf(TAGS.member, True)})
UNTAG_RESOURCE = Struct("UntagResourceInput", {
    "ResourceArn": _ARN,
    "TagKeys": ListOf(Str(min_len=1, max_len=128), True),
})
LIST_TAGS = Struct("ListTagsOfResourceInput", {"ResourceArn": _ARN, "NextToken": Str()})
UPDATE_INSIGHTS = Struct("UpdateContributorInsightsInput", {
    "TableName": Str(True, pattern=NAME_PATTERN, min_len=1, max_len=1024),
    "IndexName": index_name(False),
    "ContributorInsightsAction": Str(True, enum=("ENABLE", "DISABLE")),
    "ContributorInsightsMode": Str(enum=("ACCESSED_AND_THROTTLED_KEYS", "THROTTLED_KEYS")),
})
DESCRIBE_INSIGHTS = Struct("DescribeContributorInsightsInput", {
    "TableName": Str(True, pattern=NAME_PATTERN, min_len=1, max_len=1024),
    "IndexName": index_name(False),
})
LIST_INSIGHTS = Struct("ListContributorInsightsInput", {
    "TableName": Str(pattern=NAME_PATTERN, min_len=1, max_len=1024),
    "NextToken": Str(),
    "MaxResults": Num(java="Integer", maximum=100),
})


OPERATIONS: dict[str, Operation] = {
    "CreateTable": Operation(CREATE_TABLE, _create_table, ddl_table_name=True),
    "DescribeTable": Operation(DDL_TABLE_NAME_ONLY, None, ddl_table_name=True),
    "DeleteTable": Operation(DDL_TABLE_NAME_ONLY, None, ddl_table_name=True),
    "UpdateTable": Operation(UPDATE_TABLE, _update_table, ddl_table_name=True),
    "ListTables": Operation(LIST_TABLES),
    "DescribeEndpoints": Operation(Struct("DescribeEndpointsRequest", {})),
    "PutItem": Operation(PUT_ITEM, _put_item),
    "GetItem": Operation(GET_ITEM, _get_item),
    "UpdateItem": Operation(UPDATE_ITEM, _update_item),
    "DeleteItem": Operation(DELETE_ITEM, _delete_item),
    "Query": Operation(QUERY, _query),
    "Scan": Operation(SCAN, _scan),
    "BatchGetItem": Operation(BATCH_GET, _batch_get),
    "BatchWriteItem": Operation(BATCH_WRITE, _batch_write),
    "TransactWriteItems": Operation(TRANSACT_WRITE, _transact_write),
    "TransactGetItems": Operation(TRANSACT_GET, _transact_get),
    "UpdateTimeToLive": Operation(UPDATE_TTL),
    "DescribeTimeToLive": Operation(DESCRIBE_TTL),
    "TagResource": Operation(TAG_RESOURCE),
    "UntagResource": Operation(UNTAG_RESOURCE),
    "ListTagsOfResource": Operation(LIST_TAGS),
    "DescribeLimits": Operation(Struct("DescribeLimitsInput", {})),
    "UpdateContributorInsights": Operation(UPDATE_INSIGHTS),
    "DescribeContributorInsights": Operation(DESCRIBE_INSIGHTS),
    "ListContributorInsights": Operation(LIST_INSIGHTS),
}


def validate_request(operation: str, body: dict[str, Any]) -> dict[str, Any]:
    """Validate (and normalise in place) one request body; return it or raise AWS's error."""
    op = OPERATIONS.get(operation)
    if op is None:
        return body
    ctx = Ctx(operation in NEWER_FRAMEWORK)
    op.shape.walk_fields(body, "", ctx)
    if op.ddl_table_name:
        # CreateTable's name length is a shape constraint like any other ("Value 'ab' at
        # 'tableName' ... greater than or equal to 3", nubo-db's capture from DynamoDB)
        _ddl_table_name_checks(body, length_too=operation != "CreateTable")
    raise_collected(ctx)
    try:
        if op.custom is not None:
            op.custom(body, ctx)
        if ctx.nesting or (op.custom is None and ctx.av_errors):  # never let a value problem through
            raise errors.validation(next(iter(ctx.av_errors.values()))[1])
    except errors.DynamoDBError as exc:
        if operation in ENVELOPED:
            raise errors.enveloped(exc) from None
        raise
    return body


# Operations whose request checks DynamoDB has moved to its newer validation framework
# (captures of 2026 by the paritysuite and nubo-db conformance suites): an invalid value in
# ExpressionAttributeValues is reported as itself, without "ExpressionAttributeValues
# contains invalid value: ... for key :v"; and, for the writes, the request's own errors come
# in the "1 validation error detected: " envelope (errors.enveloped).  Scan,
# BatchWriteItem and the transactions still answer the older way.
NEWER_FRAMEWORK = frozenset(("PutItem", "UpdateItem", "DeleteItem", "GetItem", "BatchGetItem", "Query"))
ENVELOPED = frozenset(("PutItem", "UpdateItem", "DeleteItem"))
