"""The five ``aws dynamodb`` commands of the product brief, verbatim, through the real AWS CLI.

Each answer must be what the CLI prints against real DynamoDB for that exact command.

Note on step 4: ``ROLE`` is one of DynamoDB's reserved words (Developer Guide, "Reserved words in
DynamoDB": ... REVOKE RIGHT ROLE ROLES ROLLBACK ...), so the brief's ``--update-expression "SET Role = :r"``
is refused by DynamoDB with ``Invalid UpdateExpression: Attribute name is a reserved keyword;
reserved keyword: Role`` and the item keeps ``Role = Developer``.  We must answer the same.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import urllib.parse
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from conftest import CREDENTIALS, REGION

TABLE = "DynamoDBForgeTable"

# Verbatim from the brief (shared/seed/README.md, "Step-by-Step Creation Guide").
SEED_COMMANDS = {
    "create": """aws dynamodb create-table \\
    --table-name DynamoDBForgeTable \\
    --attribute-definitions AttributeName=ID,AttributeType=S \\
    --key-schema AttributeName=ID,KeyType=HASH \\
    --provisioned-throughput ReadCapacityUnits=5,WriteCapacityUnits=5""",
    "put": """aws dynamodb put-item \\
    --table-name DynamoDBForgeTable \\
    --item '{"ID": {"S": "1"}, "Name": {"S": "Arkan"}, "Role": {"S": "Developer"}}'""",
    "get": """aws dynamodb get-item \\
    --table-name DynamoDBForgeTable \\
    --key '{"ID": {"S": "1"}}'""",
    "update": """aws dynamodb update-item \\
    --table-name DynamoDBForgeTable \\
    --key '{"ID": {"S": "1"}}' \\
    --update-expression "SET Role = :r" \\
    --expression-attribute-values '{":r": {"S": "Senior Developer"}}'""",
    "delete": """aws dynamodb delete-item \\
    --table-name DynamoDBForgeTable \\
    --key '{"ID": {"S": "1"}}'""",
}

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
# The CLI prints botocore's datetime with isoformat(): 2020-05-26T16:04:41.627000-07:00
CLI_DATETIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?[+-]\d\d:\d\d$")


def _readme() -> Path | None:
    here = Path(__file__).resolve()
    for base in [here.parents[2], here.parents[1], here.parents[2] / "..", Path("/work")]:
        candidate = base / "shared" / "seed" / "README.md"
        if candidate.is_file():
            return candidate
    return None


def _aws_executable() -> str:
    beside = Path(sys.executable).with_name("aws")
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("aws")
    if not found:
        pytest.skip("the AWS CLI (pip package awscli) is not installed")
    return found


def _cli_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID=CREDENTIALS["aws_access_key_id"],
        AWS_SECRET_ACCESS_KEY=CREDENTIALS["aws_secret_access_key"],
        AWS_DEFAULT_REGION=REGION,
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_EC2_METADATA_DISABLED="true",
        AWS_PAGER="",
    )
    return env


@pytest.fixture(scope="module")
def run(endpoint):
    aws = _aws_executable()
    env = _cli_env()

    def run_step(step: str) -> subprocess.CompletedProcess[str]:
        argv = shlex.split(SEED_COMMANDS[step].replace("\\\n", " "))
        assert argv[0] == "aws"
        argv = [aws, *argv[1:], "--endpoint-url", endpoint, "--output", "json"]
        return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)

    return run_step


def _delete_table_if_present(dynamodb) -> None:
    try:
        dynamodb.delete_table(TableName=TABLE)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
        return
    dynamodb.get_waiter("table_not_exists").wait(TableName=TABLE, WaiterConfig={"Delay": 1, "MaxAttempts": 60})


@pytest.fixture(scope="module")
def fresh_table(dynamodb):
    _delete_table_if_present(dynamodb)
    yield TABLE
    _delete_table_if_present(dynamodb)


def _is_loopback(endpoint: str) -> bool:
    host = urllib.parse.urlsplit(endpoint).hostname or ""
    return host in ("localhost", "::1") or host.startswith("127.")


def _error_line(stderr: str) -> str:
    # CLI v1 writes "\n<message>\n"; v2 may prefix "aws: [ERROR]: ".
    line = stderr.strip().splitlines()[-1]
    return line.removeprefix("aws: [ERROR]: ")


def _cli_timestamp(value) -> dt.datetime:
    if isinstance(value, str):
        assert CLI_DATETIME_RE.match(value), value
        return dt.datetime.fromisoformat(value)
    assert isinstance(value, (int, float)) and not isinstance(value, bool), value
    return dt.datetime.fromtimestamp(value, dt.timezone.utc)


def test_commands_are_the_briefs_verbatim():
    readme = _readme()
    if readme is None:
        pytest.skip("shared/seed/README.md is not beside this checkout")
    text = readme.read_text(encoding="utf-8", errors="replace")
    for step, command in SEED_COMMANDS.items():
        assert command in text, step


def test_seed_walkthrough(endpoint, dynamodb, fresh_table, run):
    # 1. create-table: the TableDescription, exactly as DynamoDB returns it for a provisioned table
    #    (aws-cli awscli/examples/dynamodb/create-table.rst, Example 1, plus DeletionProtectionEnabled
    #    which DynamoDB has returned since deletion protection shipped in 2023).
    started = dt.datetime.now(dt.timezone.utc)
    created = run("create")
    assert created.returncode == 0, created.stderr
    out = json.loads(created.stdout)
    assert created.stdout == json.dumps(out, indent=4, ensure_ascii=False) + "\n"
    desc = out["TableDescription"]

    # CLI v1 prints timestamps as they come over the wire (DynamoDB sends epoch seconds as a JSON
    # number, e.g. 1590534281.627); CLI v2 prints ISO 8601 (2020-05-26T16:04:41.627000-07:00).
    created_at = desc.pop("CreationDateTime")
    when = _cli_timestamp(created_at)
    delta = when - started
    assert dt.timedelta(minutes=-5) < delta < dt.timedelta(minutes=5)
    assert UUID_RE.match(desc.pop("TableId"))
    arn = desc.pop("TableArn")
    if _is_loopback(endpoint):
        assert arn == f"arn:aws:dynamodb:us-east-1:000000000000:table/{TABLE}"
    else:
        assert re.fullmatch(rf"arn:aws:dynamodb:us-east-1:\d{{12}}:table/{TABLE}", arn), arn
    # Since Nov 2024 DynamoDB may also describe warm throughput; its shape here is unverified, so it is
    # tolerated (not required) and only checked for sanity.
    warm = desc.pop("WarmThroughput", None)
    if warm is not None:
        assert warm.get("ReadUnitsPerSecond", 5) >= 5 and warm.get("WriteUnitsPerSecond", 5) >= 5  # unverified
    assert desc == {
        "AttributeDefinitions": [{"AttributeName": "ID", "AttributeType": "S"}],
        "TableName": TABLE,
        "KeySchema": [{"AttributeName": "ID", "KeyType": "HASH"}],
        "TableStatus": "CREATING",
        "ProvisionedThroughput": {"NumberOfDecreasesToday": 0, "ReadCapacityUnits": 5, "WriteCapacityUnits": 5},
        "TableSizeBytes": 0,
        "ItemCount": 0,
        "DeletionProtectionEnabled": False,
    }
    # A person following the brief waits for ACTIVE before writing (real DynamoDB needs it).
    dynamodb.get_waiter("table_exists").wait(TableName=TABLE, WaiterConfig={"Delay": 1, "MaxAttempts": 60})

    # 2. put-item: no ReturnValues, so DynamoDB answers {} and the CLI prints nothing.
    put = run("put")
    assert put.returncode == 0, put.stderr
    assert put.stdout == ""

    item = {"ID": {"S": "1"}, "Name": {"S": "Arkan"}, "Role": {"S": "Developer"}}

    # 3. get-item
    got = run("get")
    assert got.returncode == 0, got.stderr
    assert json.loads(got.stdout) == {"Item": item}
    assert got.stdout == json.dumps({"Item": json.loads(got.stdout)["Item"]}, indent=4, ensure_ascii=False) + "\n"

    # 4. update-item: "Role" is a reserved word, so DynamoDB refuses the expression (HTTP 400).
    #    CLI v1 exits 255 on a service error, v2 exits 254.
    updated = run("update")
    assert updated.returncode in (254, 255), (updated.returncode, updated.stdout, updated.stderr)
    assert updated.stdout == ""
    assert _error_line(updated.stderr) == (
        "An error occurred (ValidationException) when calling the UpdateItem operation: 1 validation error "
        "detected: Invalid UpdateExpression: Attribute name is a reserved keyword; reserved keyword: Role"
    )
    again = run("get")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout) == {"Item": item}  # unchanged: Role is still "Developer"

    # 5. delete-item: no ReturnValues, so nothing is printed; the item is gone.
    deleted = run("delete")
    assert deleted.returncode == 0, deleted.stderr
    assert deleted.stdout == ""
    gone = run("get")
    assert gone.returncode == 0, gone.stderr
    assert gone.stdout == ""  # GetItem of a missing item answers {} and the CLI prints nothing


def test_table_timestamp_has_millisecond_precision(endpoint, dynamodb, fresh_table, run):
    """DynamoDB's CreationDateTime is whole milliseconds: the CLI reference prints 16:04:41.627000-07:00
    (v2) and v1 prints the wire number, e.g. 1590534281.627."""
    try:
        dynamodb.describe_table(TableName=TABLE)
    except ClientError:  # running alone: make the brief's table first
        assert run("create").returncode == 0
    described = subprocess.run(
        [_aws_executable(), "dynamodb", "describe-table", "--table-name", TABLE, "--endpoint-url", endpoint,
         "--output", "json"], env=_cli_env(), capture_output=True, text=True, timeout=60)
    assert described.returncode == 0, described.stderr
    value = json.loads(described.stdout)["Table"]["CreationDateTime"]
    when = _cli_timestamp(value)
    if isinstance(value, str):
        assert when.microsecond % 1000 == 0, value
    else:
        assert abs(value * 1000 - round(value * 1000)) < 1e-3, f"not whole milliseconds: {value}"
