"""Issue 9: the Prometheus endpoint (CloudWatch's DynamoDB metrics) and Contributor Insights."""
from __future__ import annotations

import os
import re
import urllib.request

import pytest

from conftest import create_table, error_of, make_client, unique_name
from server_process import ServerProcess

from dynamodbforge.insights import SpaceSaving, merge

EXTERNAL = bool(os.environ.get("DDBFORGE_ENDPOINT"))


@pytest.fixture(scope="module")
def server():
    if EXTERNAL:
        pytest.skip("reads this server's /metrics")
    proc = ServerProcess(None).start()  # one worker: every request counts in the scraped process
    try:
        yield proc
    finally:
        proc.stop()


def scrape(endpoint: str) -> tuple[str, dict[str, float]]:
    with urllib.request.urlopen(endpoint + "/metrics", timeout=5) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = resp.read().decode()
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    return text, samples


def test_metrics_mirror_cloudwatch(server):
    client = make_client(server.endpoint)
    name = create_table(client, unique_name("met"), range_key=("sk", "N"))
    for i in range(3):
        client.put_item(TableName=name, Item={"pk": {"S": "a"}, "sk": {"N": str(i)}, "v": {"S": "x" * 1500}})
    client.get_item(TableName=name, Key={"pk": {"S": "a"}, "sk": {"N": "0"}})  # eventually consistent: 0.5
    client.query(TableName=name, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "a"}})
    with pytest.raises(client.exceptions.ConditionalCheckFailedException):
        client.put_item(TableName=name, Item={"pk": {"S": "a"}, "sk": {"N": "0"}},
                        ConditionExpression="attribute_not_exists(pk)")
    with pytest.raises(client.exceptions.ClientError):
        client.get_item(TableName=name, Key={"nope": {"S": "a"}})  # a user error
    text, s = scrape(server.endpoint)
    t = f'table="{name}"'
    assert s[f'ddbforge_consumed_write_capacity_units_total{{{t},operation="PutItem"}}'] == 6.0  # 3 x 2 KB
    assert s[f'ddbforge_consumed_read_capacity_units_total{{{t},operation="GetItem"}}'] == 0.5
    assert s[f'ddbforge_consumed_read_capacity_units_total{{{t},operation="Query"}}'] == 1.0  # ~4.6 KB, halved
    assert s[f'ddbforge_returned_item_count_total{{{t},operation="Query"}}'] == 3.0
    assert s[f'ddbforge_conditional_check_failed_requests_total{{{t}}}'] == 1.0
    assert s['ddbforge_user_errors_total{operation="GetItem"}'] >= 1.0
    assert s[f'ddbforge_successful_request_latency_seconds_count{{{t},operation="PutItem"}}'] == 3.0
    assert s[f'ddbforge_successful_request_latency_seconds_bucket{{{t},operation="PutItem",le="+Inf"}}'] == 3.0
    assert s[f'ddbforge_item_count{{{t}}}'] == 3.0
    assert s[f'ddbforge_table_size_bytes{{{t}}}'] > 4500
    assert "# TYPE ddbforge_successful_request_latency_seconds histogram" in text
    assert "# TYPE ddbforge_item_count gauge" in text
    # the bucket counts are cumulative
    buckets = [float(v) for v in re.findall(
        rf'ddbforge_successful_request_latency_seconds_bucket{{{re.escape(t)},operation="PutItem",le="[^"]+"}} (\S+)',
        text)]
    assert buckets == sorted(buckets) and buckets[-1] == 3.0


def test_health_check_still_answers(server):
    with urllib.request.urlopen(server.endpoint + "/", timeout=5) as resp:
        assert resp.read().startswith(b"healthy: ")


# --- Contributor Insights ---------------------------------------------------------------------

def test_contributor_insights_api(dynamodb):
    name = create_table(dynamodb, unique_name("ci"))
    try:
        out = dynamodb.describe_contributor_insights(TableName=name)
        assert out["TableName"] == name and out["ContributorInsightsStatus"] == "DISABLED"
        out = dynamodb.update_contributor_insights(TableName=name, ContributorInsightsAction="ENABLE")
        assert out["TableName"] == name and out["ContributorInsightsStatus"] == "ENABLING"
        out = dynamodb.describe_contributor_insights(TableName=name)
        assert out["ContributorInsightsStatus"] == "ENABLED"
        rules = out["ContributorInsightsRuleList"]
        assert [r.split("-")[1] for r in rules] == ["PKC", "SKC", "PKT", "SKT"]
        assert all(r.startswith(f"DynamoDBContributorInsights-") and name in r for r in rules)
        summaries = dynamodb.list_contributor_insights(TableName=name)["ContributorInsightsSummaries"]
        assert [(s["TableName"], s["ContributorInsightsStatus"]) for s in summaries] == [(name, "ENABLED")]
        assert any(s["TableName"] == name for s in dynamodb.list_contributor_insights()["ContributorInsightsSummaries"])
        out = dynamodb.update_contributor_insights(TableName=name, ContributorInsightsAction="DISABLE")
        assert out["ContributorInsightsStatus"] == "DISABLING"
        out = dynamodb.describe_contributor_insights(TableName=name)
        assert out["ContributorInsightsStatus"] == "DISABLED" and "ContributorInsightsRuleList" not in out
        with pytest.raises(dynamodb.exceptions.ClientError) as excinfo:
            dynamodb.update_contributor_insights(TableName=name, ContributorInsightsAction="SOMETIMES")
        assert error_of(excinfo)[0] == "ValidationException"
    finally:
        dynamodb.delete_table(TableName=name)
    with pytest.raises(dynamodb.exceptions.ResourceNotFoundException):
        dynamodb.describe_contributor_insights(TableName=name)


def test_space_saving_finds_heavy_hitters_in_bounded_memory():
    sketch = SpaceSaving(capacity=20)
    for i in range(10_000):
        sketch.add(f"cold{i}", 1.0)  # 10,000 distinct keys
        if i % 4 == 0:
            sketch.add("hot", 1.0)  # 2,500
        if i % 10 == 0:
            sketch.add("warm", 1.0)  # 1,000
    assert len(sketch.counts) == 20
    top = sketch.top(2)
    assert [k for k, _, _ in top] == ["hot", "warm"]
    key, count, error = top[0]
    assert count - error <= 2500 <= count  # Space-Saving's guarantee
    merged = merge([sketch, sketch])
    assert merged.top(1)[0][0] == "hot"
