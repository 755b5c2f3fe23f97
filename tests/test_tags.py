"""Issue 9: TagResource, UntagResource, ListTagsOfResource."""
from __future__ import annotations

import pytest

from conftest import create_table, error_of, unique_name
from test_bad_input import call


def tags_of(client, arn: str) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in client.list_tags_of_resource(ResourceArn=arn)["Tags"]}


@pytest.fixture()
def tagged(dynamodb):
    name = create_table(dynamodb, unique_name("tag"), Tags=[{"Key": "env", "Value": "test"}])
    arn = dynamodb.describe_table(TableName=name)["Table"]["TableArn"]
    yield name, arn
    dynamodb.delete_table(TableName=name)


def test_tags_from_create_table_and_tag_untag(dynamodb, tagged):
    name, arn = tagged
    assert tags_of(dynamodb, arn) == {"env": "test"}
    assert "Tags" not in dynamodb.describe_table(TableName=name)["Table"]
    dynamodb.tag_resource(ResourceArn=arn, Tags=[{"Key": "team", "Value": "core"}, {"Key": "env", "Value": "prod"}])
    assert tags_of(dynamodb, arn) == {"env": "prod", "team": "core"}  # tagging a key again replaces its value
    dynamodb.untag_resource(ResourceArn=arn, TagKeys=["env", "not-there"])  # an absent key is no error
    assert tags_of(dynamodb, arn) == {"team": "core"}
    dynamodb.tag_resource(ResourceArn=arn, Tags=[{"Key": "empty", "Value": ""}])
    assert tags_of(dynamodb, arn)["empty"] == ""


def test_fifty_tags_at_most(dynamodb, tagged):
    _, arn = tagged
    dynamodb.tag_resource(ResourceArn=arn, Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(49)])
    assert len(tags_of(dynamodb, arn)) == 50
    dynamodb.tag_resource(ResourceArn=arn, Tags=[{"Key": "k1", "Value": "again"}])  # replacing: still 50
    with pytest.raises(dynamodb.exceptions.ClientError) as excinfo:
        dynamodb.tag_resource(ResourceArn=arn, Tags=[{"Key": "one-too-many", "Value": "v"}])
    assert error_of(excinfo)[0] == "ValidationException"
    assert len(tags_of(dynamodb, arn)) == 50


def test_tag_limits(dynamodb, tagged):
    _, arn = tagged
    cases = [
        [{"Key": "x" * 129, "Value": "v"}],
        [{"Key": "k", "Value": "v" * 257}],
    ]
    for tags in cases:
        with pytest.raises(dynamodb.exceptions.ClientError) as excinfo:
            dynamodb.tag_resource(ResourceArn=arn, Tags=tags)
        code, message = error_of(excinfo)
        assert code == "ValidationException" and "validation error" in message, message
    with pytest.raises(dynamodb.exceptions.ClientError) as excinfo:
        dynamodb.tag_resource(ResourceArn=arn, Tags=[{"Key": "aws:reserved", "Value": "v"}])
    code, message = error_of(excinfo)
    assert code == "ValidationException" and "aws:" in message
    dynamodb.tag_resource(ResourceArn=arn, Tags=[{"Key": "x" * 128, "Value": "v" * 256}])


def test_unknown_and_malformed_arns(dynamodb, tagged):
    _, arn = tagged
    missing = arn.rsplit("/", 1)[0] + "/no-such-table-here"
    with pytest.raises(dynamodb.exceptions.ResourceNotFoundException):
        dynamodb.list_tags_of_resource(ResourceArn=missing)
    with pytest.raises(dynamodb.exceptions.ResourceNotFoundException):
        dynamodb.tag_resource(ResourceArn=missing, Tags=[{"Key": "a", "Value": "b"}])
    with pytest.raises(dynamodb.exceptions.ClientError) as excinfo:
        dynamodb.list_tags_of_resource(ResourceArn="not-an-arn")
    code, message = error_of(excinfo)
    assert code == "ValidationException" and "ARNs must start with 'arn:'" in message


def test_recreated_table_starts_untagged(dynamodb):
    name = create_table(dynamodb, unique_name("retag"), Tags=[{"Key": "a", "Value": "1"}])
    arn = dynamodb.describe_table(TableName=name)["Table"]["TableArn"]
    dynamodb.delete_table(TableName=name)
    create_table(dynamodb, name)
    try:
        assert tags_of(dynamodb, arn) == {}
    finally:
        dynamodb.delete_table(TableName=name)


def test_create_table_refuses_reserved_tag_keys(dynamodb):
    name = unique_name("badtag")
    with pytest.raises(dynamodb.exceptions.ClientError) as excinfo:
        create_table(dynamodb, name, Tags=[{"Key": "aws:x", "Value": "1"}])
    assert error_of(excinfo)[0] == "ValidationException"
    assert name not in dynamodb.list_tables()["TableNames"]


def test_tag_characters(dynamodb, tagged):
    """Letters, white space and digits of any script and ``+ - = . _ : / @``; anything else is
    a ValidationException (ScyllaDB Alternator's test_tag.py, run against DynamoDB)."""
    _, arn = tagged
    for key, value in [("ok", "#!%%^$$&"), ("->>;-)])", "ok"), ("!!!\\|", "<><")]:
        with pytest.raises(dynamodb.exceptions.ClientError) as excinfo:
            dynamodb.tag_resource(ResourceArn=arn, Tags=[{"Key": key, "Value": value}])
        assert error_of(excinfo)[0] == "ValidationException"
    allowed = [{"Key": "законные буквы", "Value": "ѮѮ value"}, {"Key": "a+b-c=d.e_f:g/h@i", "Value": "1 2 3"}]
    dynamodb.tag_resource(ResourceArn=arn, Tags=allowed)
    assert {t["Key"]: t["Value"] for t in allowed}.items() <= tags_of(dynamodb, arn).items()


def test_create_table_with_too_many_tags_creates_nothing(dynamodb):
    name = unique_name("tags100")
    with pytest.raises(dynamodb.exceptions.ClientError) as excinfo:
        create_table(dynamodb, name, Tags=[{"Key": str(i), "Value": str(i)} for i in range(100)])
    assert error_of(excinfo)[0] == "ValidationException"
    with pytest.raises(dynamodb.exceptions.ResourceNotFoundException):
        dynamodb.describe_table(TableName=name)


def test_tag_and_untag_answer_an_empty_body(endpoint, dynamodb, tagged):
    """The API Reference: "the service sends back an HTTP 200 response with an empty HTTP body"."""
    _, arn = tagged
    reply = call(endpoint, "TagResource", {"ResourceArn": arn, "Tags": [{"Key": "k", "Value": "v"}]})
    assert (reply.status, reply.body) == (200, b"")
    reply = call(endpoint, "UntagResource", {"ResourceArn": arn, "TagKeys": ["k"]})
    assert (reply.status, reply.body) == (200, b"")
    assert "k" not in tags_of(dynamodb, arn)


def test_empty_tags_and_index_arns_are_refused(dynamodb, tagged):
    """TagResource with no tags, and any tag operation on an index's ARN, are
    ValidationExceptions (Alternator's test_tag_resource_incorrect and test_tag_lsi_gsi)."""
    _, arn = tagged
    with pytest.raises(dynamodb.exceptions.ClientError) as excinfo:
        dynamodb.tag_resource(ResourceArn=arn, Tags=[])
    assert error_of(excinfo) == ("ValidationException", "Atleast one Tag needs to be provided as Input.")
    with pytest.raises(dynamodb.exceptions.ClientError) as excinfo:
        dynamodb.untag_resource(ResourceArn=arn, TagKeys=[])
    assert error_of(excinfo) == ("ValidationException", "Atleast one Tag Key needs to be provided as Input.")
    missing = arn.rsplit("/", 1)[0] + "/no-such-table-untag"
    with pytest.raises(dynamodb.exceptions.ClientError) as excinfo:
        dynamodb.untag_resource(ResourceArn=missing, TagKeys=["k"])
    assert error_of(excinfo) == ("ResourceNotFoundException", "Requested resource not found")
    with pytest.raises(dynamodb.exceptions.ClientError) as excinfo:
        dynamodb.tag_resource(ResourceArn=missing, Tags=[])  # the empty list is found before the table
    assert error_of(excinfo) == ("ValidationException", "Atleast one Tag needs to be provided as Input.")
    index_arn = arn + "/index/some-index"
    for call_it in (lambda: dynamodb.list_tags_of_resource(ResourceArn=index_arn),
                    lambda: dynamodb.tag_resource(ResourceArn=index_arn, Tags=[{"Key": "k", "Value": "v"}])):
        with pytest.raises(dynamodb.exceptions.ClientError) as excinfo:
            call_it()
        assert error_of(excinfo) == (
            "ValidationException", f"Invalid TableArn: Invalid ResourceArn provided as input {index_arn}")
