"""Pure unit tests of the IAM evaluator (auth/policy.py) and the per-operation checks
(auth/authorizer.py), including the AWS Developer Guide's fine-grained examples at the
decision level (indexes included, whether or not the server builds them yet)."""
from __future__ import annotations

import pytest

from dynamodbforge.auth.authorizer import (
    Authorizer, Caller, checks_for, projection_names, update_target_names,
)
from dynamodbforge.auth.policy import PolicyError, compile_policy, evaluate
from dynamodbforge.auth.principals import PrincipalsError, parse_principals
from dynamodbforge.errors import DynamoDBError

REGION = "us-east-1"
TABLE_ARN = "arn:aws:dynamodb:us-east-1:000000000000:table/GameScores"
INDEX_ARN = TABLE_ARN + "/index/TopScoreDateTimeIndex"


def policy(*statements: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action, resource="*", condition=None) -> dict:  # type: ignore[no-untyped-def]
    st = {"Effect": "Allow", "Action": action, "Resource": resource}
    if condition:
        st["Condition"] = condition
    return st


def deny(action, resource="*", condition=None) -> dict:  # type: ignore[no-untyped-def]
    return {**allow(action, resource, condition), "Effect": "Deny"}


# --- evaluation logic ---------------------------------------------------------------

def test_default_deny_allow_and_explicit_deny_wins() -> None:
    assert evaluate([], "dynamodb:GetItem", TABLE_ARN, {}) == "ImplicitDeny"
    p = policy(allow("dynamodb:*", TABLE_ARN))
    assert evaluate([p], "dynamodb:GetItem", TABLE_ARN, {}) == "Allow"
    assert evaluate([p, policy(deny("dynamodb:GetItem"))], "dynamodb:GetItem", TABLE_ARN, {}) == "Deny"
    assert evaluate([policy(deny("dynamodb:GetItem")), p], "dynamodb:PutItem", TABLE_ARN, {}) == "Allow"


def test_action_wildcards_are_case_insensitive() -> None:
    p = policy(allow(["dynamodb:Get*", "dynamodb:Query"], TABLE_ARN))
    assert evaluate([p], "dynamodb:GetItem", TABLE_ARN, {}) == "Allow"
    assert evaluate([p], "dynamodb:getitem", TABLE_ARN, {}) == "Allow"
    assert evaluate([p], "dynamodb:PutItem", TABLE_ARN, {}) == "ImplicitDeny"
    q = policy(allow("dynamodb:?etItem", TABLE_ARN))
    assert evaluate([q], "dynamodb:GetItem", TABLE_ARN, {}) == "Allow"


def test_not_action_and_not_resource() -> None:
    p = policy({"Effect": "Allow", "NotAction": "dynamodb:Delete*", "Resource": "*"})
    assert evaluate([p], "dynamodb:PutItem", TABLE_ARN, {}) == "Allow"
    assert evaluate([p], "dynamodb:DeleteItem", TABLE_ARN, {}) == "ImplicitDeny"
    q = policy({"Effect": "Allow", "Action": "dynamodb:*", "NotResource": TABLE_ARN})
    assert evaluate([q], "dynamodb:PutItem", TABLE_ARN, {}) == "ImplicitDeny"
    assert evaluate([q], "dynamodb:PutItem", TABLE_ARN + "2", {}) == "Allow"


def test_resource_arns_tables_indexes_streams_backups() -> None:
    p = policy(allow("dynamodb:*", ["arn:aws:dynamodb:*:*:table/GameScores",
                                   "arn:aws:dynamodb:*:*:table/GameScores/index/*"]))
    assert evaluate([p], "dynamodb:Query", INDEX_ARN, {}) == "Allow"
    assert evaluate([p], "dynamodb:Query", TABLE_ARN, {}) == "Allow"
    assert evaluate([p], "dynamodb:Query", TABLE_ARN.replace("GameScores", "Other"), {}) == "ImplicitDeny"
    table_only = policy(allow("dynamodb:*", TABLE_ARN))
    assert evaluate([table_only], "dynamodb:Query", INDEX_ARN, {}) == "ImplicitDeny"
    stream = TABLE_ARN + "/stream/2024-01-01T00:00:00.000"
    backup = TABLE_ARN + "/backup/01700000000000-abcdefgh"
    s = policy(allow("dynamodb:GetRecords", "arn:aws:dynamodb:us-east-1:000000000000:table/GameScores/stream/*"),
               allow("dynamodb:DescribeBackup", "arn:aws:dynamodb:*:*:table/GameScores/backup/*"))
    assert evaluate([s], "dynamodb:GetRecords", stream, {}) == "Allow"
    assert evaluate([s], "dynamodb:GetRecords", TABLE_ARN, {}) == "ImplicitDeny"
    assert evaluate([s], "dynamodb:DescribeBackup", backup, {}) == "Allow"
    # A wildcard in the region component does not spill into other components.
    assert evaluate([policy(allow("dynamodb:*", "arn:aws:dynamodb:us-*:000000000000:table/GameScores"))],
                    "dynamodb:GetItem", TABLE_ARN, {}) == "Allow"


def test_policy_variables_in_resource_and_condition() -> None:
    ctx = {"aws:username": "alice", "aws:userid": "AIDAEXAMPLE"}
    p = policy(allow("dynamodb:*", "arn:aws:dynamodb:*:*:table/${aws:username}-*"))
    assert evaluate([p], "dynamodb:GetItem", TABLE_ARN.replace("GameScores", "alice-data"), ctx) == "Allow"
    assert evaluate([p], "dynamodb:GetItem", TABLE_ARN.replace("GameScores", "bob-data"), ctx) == "ImplicitDeny"
    q = policy(allow("dynamodb:GetItem", "*", {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["${aws:userid}"]}}))
    assert evaluate([q], "dynamodb:GetItem", TABLE_ARN, {**ctx, "dynamodb:leadingkeys": ["AIDAEXAMPLE"]}) == "Allow"
    assert evaluate([q], "dynamodb:GetItem", TABLE_ARN, {**ctx, "dynamodb:leadingkeys": ["other"]}) == "ImplicitDeny"
    # An unresolvable variable never matches; a default value applies.
    r = policy(allow("dynamodb:*", "arn:aws:dynamodb:*:*:table/${aws:PrincipalTag/team}"))
    assert evaluate([r], "dynamodb:GetItem", TABLE_ARN, ctx) == "ImplicitDeny"
    d = policy(allow("dynamodb:*", "arn:aws:dynamodb:*:*:table/${aws:PrincipalTag/team, 'GameScores'}"))
    assert evaluate([d], "dynamodb:GetItem", TABLE_ARN, ctx) == "Allow"


def test_condition_operators() -> None:
    def decide(condition: dict, ctx: dict) -> str:
        return evaluate([policy(allow("dynamodb:GetItem", "*", condition))], "dynamodb:GetItem", TABLE_ARN, ctx)

    assert decide({"StringEquals": {"dynamodb:Select": "SPECIFIC_ATTRIBUTES"}},
                  {"dynamodb:select": "SPECIFIC_ATTRIBUTES"}) == "Allow"
    assert decide({"StringEquals": {"dynamodb:Select": "SPECIFIC_ATTRIBUTES"}}, {}) == "ImplicitDeny"
    assert decide({"StringEqualsIfExists": {"dynamodb:Select": "SPECIFIC_ATTRIBUTES"}}, {}) == "Allow"
    assert decide({"StringNotEquals": {"dynamodb:Select": "ALL_ATTRIBUTES"}}, {}) == "Allow"  # absent key
    assert decide({"StringLike": {"aws:username": "al*"}}, {"aws:username": "alice"}) == "Allow"
    assert decide({"StringNotLike": {"aws:username": "al*"}}, {"aws:username": "alice"}) == "ImplicitDeny"
    assert decide({"StringEqualsIgnoreCase": {"aws:username": "ALICE"}}, {"aws:username": "alice"}) == "Allow"
    assert decide({"Bool": {"aws:SecureTransport": "true"}}, {"aws:securetransport": "true"}) == "Allow"
    assert decide({"Bool": {"aws:SecureTransport": True}}, {"aws:securetransport": "false"}) == "ImplicitDeny"
    assert decide({"Null": {"dynamodb:Attributes": "true"}}, {}) == "Allow"
    assert decide({"Null": {"dynamodb:Attributes": "false"}}, {}) == "ImplicitDeny"
    assert decide({"Null": {"dynamodb:Attributes": "false"}}, {"dynamodb:attributes": ["a"]}) == "Allow"
    assert decide({"NumericLessThan": {"aws:EpochTime": "2000000000"}}, {"aws:epochtime": "1700000000"}) == "Allow"
    assert decide({"NumericGreaterThanEquals": {"aws:EpochTime": 1700000001}},
                  {"aws:epochtime": "1700000000"}) == "ImplicitDeny"
    assert decide({"DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}},
                  {"aws:currenttime": "2024-05-01T12:00:00Z"}) == "Allow"
    assert decide({"DateGreaterThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}},
                  {"aws:currenttime": "2024-05-01T12:00:00Z"}) == "ImplicitDeny"
    assert decide({"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "127.0.0.0/8"]}}, {"aws:sourceip": "127.0.0.1"}) == "Allow"
    assert decide({"NotIpAddress": {"aws:SourceIp": "127.0.0.0/8"}}, {"aws:sourceip": "127.0.0.1"}) == "ImplicitDeny"
    assert decide({"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:user/a*"}},
                  {"aws:principalarn": "arn:aws:iam::000000000000:user/alice"}) == "Allow"
    # Several operators AND; several values OR.
    both = {"StringEquals": {"aws:username": ["bob", "alice"]}, "Bool": {"aws:SecureTransport": "true"}}
    assert decide(both, {"aws:username": "alice", "aws:securetransport": "true"}) == "Allow"
    assert decide(both, {"aws:username": "alice", "aws:securetransport": "false"}) == "ImplicitDeny"


def test_set_qualifiers() -> None:
    def decide(condition: dict, attrs) -> str:  # type: ignore[no-untyped-def]
        ctx = {} if attrs is None else {"dynamodb:attributes": attrs}
        return evaluate([policy(allow("dynamodb:GetItem", "*", condition))], "dynamodb:GetItem", TABLE_ARN, ctx)

    all_of = {"ForAllValues:StringEquals": {"dynamodb:Attributes": ["a", "b", "c"]}}
    assert decide(all_of, ["a", "b"]) == "Allow"
    assert decide(all_of, ["a", "z"]) == "ImplicitDeny"
    assert decide(all_of, None) == "Allow"  # absent: vacuously true (hence the Select condition in AWS's examples)
    any_of = {"ForAnyValue:StringEquals": {"dynamodb:Attributes": ["secret"]}}
    assert decide(any_of, ["a", "secret"]) == "Allow"
    assert decide(any_of, ["a"]) == "ImplicitDeny"
    assert decide(any_of, None) == "ImplicitDeny"
    like = {"ForAllValues:StringLike": {"dynamodb:Attributes": ["pub_*"]}}
    assert decide(like, ["pub_a", "pub_b"]) == "Allow"
    assert decide(like, ["pub_a", "priv"]) == "ImplicitDeny"


def test_deny_with_condition() -> None:
    policies = [policy(allow("dynamodb:*", "*"),
                       deny("dynamodb:*", "*", {"ForAnyValue:StringEquals": {"dynamodb:Attributes": ["ssn"]}}))]
    assert evaluate(policies, "dynamodb:GetItem", TABLE_ARN, {"dynamodb:attributes": ["name"]}) == "Allow"
    assert evaluate(policies, "dynamodb:GetItem", TABLE_ARN, {"dynamodb:attributes": ["name", "ssn"]}) == "Deny"


def test_malformed_policies_are_refused() -> None:
    with pytest.raises(PolicyError):
        compile_policy({"Statement": [{"Effect": "Maybe", "Action": "*", "Resource": "*"}]})
    with pytest.raises(PolicyError):
        compile_policy({"Statement": [{"Effect": "Allow", "Resource": "*"}]})
    with pytest.raises(PolicyError):
        compile_policy({"Statement": [allow("*", "*", {"StringSortOf": {"a": "b"}})]})


def test_principals_file_validation() -> None:
    good = {"principals": [{"name": "alice", "access_key_id": "AK1", "secret_access_key": "s", "policies": []}]}
    principals = parse_principals(good)
    assert principals["AK1"].arn == "arn:aws:iam::000000000000:user/alice"
    assert principals["AK1"].user_id.startswith("AIDA") and len(principals["AK1"].user_id) == 21
    with pytest.raises(PrincipalsError):
        parse_principals({"principals": [{"name": "alice"}]})
    with pytest.raises(PrincipalsError):
        parse_principals({"principals": good["principals"] * 2})
    with pytest.raises(PrincipalsError):
        parse_principals({"principals": [{**good["principals"][0], "policies": [{"Statement": [{}]}]}]})


# --- what each operation is checked as -------------------------------------------------

KEYS = {"GameScores": ("UserId", {"TopScoreDateTimeIndex": "GameTitle"}), "Other": ("pk", {})}


def _checks(operation: str, request: dict):  # type: ignore[no-untyped-def]
    return checks_for(operation, request, REGION, KEYS.get)


def test_expression_name_scanning() -> None:
    assert projection_names("a, #b.c, d[1].e, a", {"#b": "bee"}) == ["a", "bee", "d"]
    assert update_target_names("SET a = :v, #n.x = if_not_exists(#n.x, :z) REMOVE r1, r2[0] ADD c :one "
                               "DELETE s :set", {"#n": "nested"}) == ["a", "nested", "r1", "r2", "c", "s"]
    assert update_target_names("set a = b + :v", None) == ["a"]


def test_item_operation_contexts() -> None:
    (c,) = _checks("GetItem", {"TableName": "GameScores", "Key": {"UserId": {"S": "u1"}, "GameTitle": {"S": "g"}},
                                "ProjectionExpression": "#t, Wins", "ExpressionAttributeNames": {"#t": "TopScore"}})
    assert (c.action, c.resource) == ("dynamodb:GetItem", TABLE_ARN)
    assert c.context["dynamodb:leadingkeys"] == ["u1"]
    assert c.context["dynamodb:attributes"] == ["TopScore", "Wins"]
    assert c.context["dynamodb:select"] == "SPECIFIC_ATTRIBUTES"
    (c,) = _checks("GetItem", {"TableName": "GameScores", "Key": {"UserId": {"S": "u1"}}})
    assert c.context["dynamodb:select"] == "ALL_ATTRIBUTES" and "dynamodb:attributes" not in c.context
    (c,) = _checks("PutItem", {"TableName": "GameScores", "Item": {"UserId": {"S": "u1"}, "Wins": {"N": "3"}},
                                "ReturnValues": "ALL_OLD", "ReturnConsumedCapacity": "TOTAL"})
    assert c.context["dynamodb:attributes"] == ["UserId", "Wins"]
    assert c.context["dynamodb:returnvalues"] == "ALL_OLD"
    assert c.context["dynamodb:returnconsumedcapacity"] == "TOTAL"
    (c,) = _checks("UpdateItem", {"TableName": "GameScores", "Key": {"UserId": {"N": "42"}},
                                   "UpdateExpression": "SET Wins = Wins + :one"})
    assert c.context["dynamodb:leadingkeys"] == ["42"] and c.context["dynamodb:attributes"] == ["UserId", "Wins"]


def test_query_on_index_uses_index_arn_and_index_partition_key() -> None:
    (c,) = _checks("Query", {"TableName": "GameScores", "IndexName": "TopScoreDateTimeIndex",
                              "KeyConditionExpression": "GameTitle = :g", "ExpressionAttributeValues": {":g": {"S": "Meteor"}},
                              "Select": "SPECIFIC_ATTRIBUTES", "ProjectionExpression": "TopScore, UserId"})
    assert c.resource == INDEX_ARN
    assert c.context["dynamodb:leadingkeys"] == ["Meteor"]
    (c,) = _checks("Query", {"TableName": "GameScores", "KeyConditionExpression": ":u = #k",
                              "ExpressionAttributeNames": {"#k": "UserId"}, "ExpressionAttributeValues": {":u": {"S": "u9"}}})
    assert c.resource == TABLE_ARN and c.context["dynamodb:leadingkeys"] == ["u9"]
    (c,) = _checks("Scan", {"TableName": "GameScores"})
    assert "dynamodb:leadingkeys" not in c.context and c.context["dynamodb:select"] == "ALL_ATTRIBUTES"


def test_batch_and_transaction_checks() -> None:
    checks = _checks("BatchWriteItem", {"RequestItems": {
        "GameScores": [{"PutRequest": {"Item": {"UserId": {"S": "a"}}}}, {"DeleteRequest": {"Key": {"UserId": {"S": "b"}}}}],
        "Other": [{"PutRequest": {"Item": {"pk": {"S": "c"}, "x": {"S": "1"}}}}]}})
    assert [(c.action, c.resource.rsplit("/", 1)[1], c.context["dynamodb:leadingkeys"]) for c in checks] == [
        ("dynamodb:BatchWriteItem", "GameScores", ["a"]), ("dynamodb:BatchWriteItem", "GameScores", ["b"]),
        ("dynamodb:BatchWriteItem", "Other", ["c"])]
    checks = _checks("TransactWriteItems", {"TransactItems": [
        {"Put": {"TableName": "GameScores", "Item": {"UserId": {"S": "a"}}}},
        {"Update": {"TableName": "Other", "Key": {"pk": {"S": "b"}}, "UpdateExpression": "SET y = :v"}},
        {"Delete": {"TableName": "GameScores", "Key": {"UserId": {"S": "c"}}}},
        {"ConditionCheck": {"TableName": "GameScores", "Key": {"UserId": {"S": "d"}}, "ConditionExpression": "x"}}]})
    assert [c.action for c in checks] == ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
                                          "dynamodb:ConditionCheckItem"]
    checks = _checks("TransactGetItems", {"TransactItems": [{"Get": {"TableName": "Other", "Key": {"pk": {"S": "z"}}}}]})
    assert [(c.action, c.context["dynamodb:leadingkeys"]) for c in checks] == [("dynamodb:GetItem", ["z"])]
    (c,) = _checks("ListTables", {})
    assert c.resource == "*"
    (c,) = _checks("DescribeStream", {"StreamArn": TABLE_ARN + "/stream/x"})
    assert c.resource == TABLE_ARN + "/stream/x"


# --- the Developer Guide's examples, decided at the authorizer level -----------------------

def _caller(*policies: dict, name: str = "alice") -> Caller:
    (principal,) = parse_principals({"principals": [{
        "name": name, "access_key_id": "AK" + name, "secret_access_key": "s", "policies": list(policies)}]}).values()
    return Caller(principal, "127.0.0.1", False)


def _authorize(caller: Caller, operation: str, request: dict) -> str | None:
    try:
        Authorizer(REGION, KEYS.get, clock=lambda: 1_700_000_000.0).authorize(caller, operation, request)
    except DynamoDBError as exc:
        assert exc.type_name == "AccessDeniedException"
        assert exc.body()["__type"] == "com.amazon.coral.service#AccessDeniedException"
        return exc.message
    return None


def test_read_only_access_to_one_index() -> None:
    """The Developer Guide's "TopScoreDateTimeIndex" example: Query on one GSI, projected
    attributes only, Select SPECIFIC_ATTRIBUTES."""
    caller = _caller(policy(allow("dynamodb:Query", INDEX_ARN, {
        "ForAllValues:StringEquals": {"dynamodb:Attributes": ["TopScoreDateTime", "GameTitle", "TopScore", "UserId"]},
        "StringEquals": {"dynamodb:Select": "SPECIFIC_ATTRIBUTES"}})))
    base = {"TableName": "GameScores", "IndexName": "TopScoreDateTimeIndex", "KeyConditionExpression": "GameTitle = :g",
            "ExpressionAttributeValues": {":g": {"S": "Meteor Blasters"}}}
    ok = {**base, "Select": "SPECIFIC_ATTRIBUTES", "ProjectionExpression": "TopScore, UserId"}
    assert _authorize(caller, "Query", ok) is None
    assert _authorize(caller, "Query", {**base, "ProjectionExpression": "TopScore, UserId"}) is None  # Select implied
    assert _authorize(caller, "Query", {**base, "Select": "ALL_ATTRIBUTES"}) is not None
    assert _authorize(caller, "Query", {**base, "ProjectionExpression": "TopScore, Wins"}) is not None
    msg = _authorize(caller, "Query", {**ok, "IndexName": None, "TableName": "GameScores"})
    assert msg == ("User: arn:aws:iam::000000000000:user/alice is not authorized to perform: dynamodb:Query on resource: "
                   f"{TABLE_ARN} because no identity-based policy allows the dynamodb:Query action")
    assert _authorize(caller, "Scan", {"TableName": "GameScores", "IndexName": "TopScoreDateTimeIndex"}) is not None


def test_explicit_deny_message() -> None:
    caller = _caller(policy(allow("dynamodb:*"), deny("dynamodb:DeleteItem", TABLE_ARN)))
    msg = _authorize(caller, "DeleteItem", {"TableName": "GameScores", "Key": {"UserId": {"S": "x"}}})
    assert msg == ("User: arn:aws:iam::000000000000:user/alice is not authorized to perform: dynamodb:DeleteItem on "
                   f"resource: {TABLE_ARN} with an explicit deny in an identity-based policy")


def test_authorizer_context_has_global_keys() -> None:
    caller = _caller(policy(allow("dynamodb:ListTables", "*", {
        "IpAddress": {"aws:SourceIp": "127.0.0.0/8"}, "StringEquals": {"aws:username": "alice"},
        "DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}, "Bool": {"aws:SecureTransport": "false"}})))
    assert _authorize(caller, "ListTables", {}) is None
    other = Caller(caller.principal, "10.1.2.3", False)
    with pytest.raises(DynamoDBError):
        Authorizer(REGION, KEYS.get).authorize(other, "ListTables", {})
