"""Issue 10: ExportTableToPointInTime (full, incremental; DYNAMODB_JSON, ION) to a local
directory in AWS's layout, DescribeExport/ListExports, and ImportTable (DYNAMODB_JSON, CSV;
GZIP or NONE) with DescribeImport/ListImports."""
from __future__ import annotations

import gzip
import json
import os
import time

import pytest
from botocore.exceptions import ClientError

from conftest import create_table, error_of, make_client, unique_name
from server_process import ServerProcess
from test_backups import scan_all, wait_active
from test_pitr import enable, next_second


@pytest.fixture(scope="module")
def export_root(tmp_path_factory):
    return str(tmp_path_factory.mktemp("s3"))


@pytest.fixture(scope="module")
def ddb(tmp_path_factory, export_root):
    srv = ServerProcess(str(tmp_path_factory.mktemp("export-data")), "--export-root", export_root).start()
    yield make_client(srv.endpoint)
    srv.stop()


def wait_export(ddb, arn: str) -> dict:
    deadline = time.monotonic() + 30
    while True:
        desc = ddb.describe_export(ExportArn=arn)["ExportDescription"]
        if desc["ExportStatus"] != "IN_PROGRESS" or time.monotonic() > deadline:
            return desc
        time.sleep(0.05)


def wait_import(ddb, arn: str) -> dict:
    deadline = time.monotonic() + 30
    while True:
        desc = ddb.describe_import(ImportArn=arn)["ImportTableDescription"]
        if desc["ImportStatus"] != "IN_PROGRESS" or time.monotonic() > deadline:
            return desc
        time.sleep(0.05)


def read_lines(path: str) -> list[str]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return [line for line in fh.read().splitlines() if line]


def source_table(ddb, n: int = 40) -> tuple[str, str]:
    table = create_table(ddb, unique_name("exp"), range_key=("sk", "N"))
    enable(ddb, table)
    for i in range(n):
        ddb.put_item(TableName=table, Item={
            "pk": {"S": f"p{i % 4}"}, "sk": {"N": str(i)}, "s": {"S": f"v{i}"}, "b": {"B": b"\x00\x01"},
            "ss": {"SS": ["a", "b"]}, "m": {"M": {"x": {"N": "1.5"}, "l": {"L": [{"BOOL": True}, {"NULL": True}]}}}})
    return table, ddb.describe_table(TableName=table)["Table"]["TableArn"]


def test_full_export_layout_and_reimport(ddb, export_root):
    table, arn = source_table(ddb)
    out = ddb.export_table_to_point_in_time(TableArn=arn, S3Bucket="my-bucket", S3Prefix="exports/2024")
    desc = out["ExportDescription"]
    assert desc["ExportStatus"] == "IN_PROGRESS" and desc["ExportType"] == "FULL_EXPORT"
    assert desc["ExportFormat"] == "DYNAMODB_JSON" and f":table/{table}/export/" in desc["ExportArn"]
    done = wait_export(ddb, desc["ExportArn"])
    assert done["ExportStatus"] == "COMPLETED" and done["ItemCount"] == 40
    export_id = desc["ExportArn"].rsplit("/", 1)[1]
    base = os.path.join(export_root, "my-bucket", "exports", "2024", "AWSDynamoDB", export_id)
    assert done["ExportManifest"] == f"exports/2024/AWSDynamoDB/{export_id}/manifest-summary.json"
    assert os.path.exists(os.path.join(base, "_started"))
    summary = json.load(open(os.path.join(base, "manifest-summary.json")))
    assert summary["version"] == "2020-06-30" and summary["exportArn"] == desc["ExportArn"]
    assert summary["itemCount"] == 40 and summary["outputFormat"] == "DYNAMODB_JSON"
    assert summary["tableArn"] == arn and summary["s3Bucket"] == "my-bucket" and summary["s3Prefix"] == "exports/2024"
    assert summary["manifestFilesS3Key"] == f"exports/2024/AWSDynamoDB/{export_id}/manifest-files.json"
    files = [json.loads(line) for line in open(os.path.join(base, "manifest-files.json"))]
    assert sum(f["itemCount"] for f in files) == 40
    lines = []
    for f in files:
        assert f["dataFileS3Key"].startswith(f"exports/2024/AWSDynamoDB/{export_id}/data/")
        assert f["dataFileS3Key"].endswith(".json.gz")
        lines += read_lines(os.path.join(export_root, "my-bucket", f["dataFileS3Key"]))
    items = [json.loads(line)["Item"] for line in lines]
    assert sorted(int(i["sk"]["N"]) for i in items) == list(range(40))
    assert all(set(json.loads(line)) == {"Item"} for line in lines)

    # Import the export back (as a user would after copying an AWS export).
    target = unique_name("imp")
    imp = ddb.import_table(
        S3BucketSource={"S3Bucket": "my-bucket", "S3KeyPrefix": f"exports/2024/AWSDynamoDB/{export_id}/data/"},
        InputFormat="DYNAMODB_JSON", InputCompressionType="GZIP",
        TableCreationParameters={
            "TableName": target, "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"},
                                     {"AttributeName": "sk", "AttributeType": "N"}],
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}]},
    )["ImportTableDescription"]
    assert imp["ImportStatus"] == "IN_PROGRESS" and f":table/{target}/import/" in imp["ImportArn"]
    result = wait_import(ddb, imp["ImportArn"])
    assert result["ImportStatus"] == "COMPLETED"
    assert result["ImportedItemCount"] == 40 and result["ProcessedItemCount"] == 40 and result["ErrorCount"] == 0
    wait_active(ddb, target)
    key = lambda i: (i["pk"]["S"], int(i["sk"]["N"]))  # noqa: E731
    assert sorted(scan_all(ddb, target), key=key) == sorted(scan_all(ddb, table), key=key)
    assert any(s["ImportArn"] == imp["ImportArn"] for s in ddb.list_imports()["ImportSummaryList"])
    table_arn = ddb.describe_table(TableName=target)["Table"]["TableArn"]
    assert [s["ImportArn"] for s in ddb.list_imports(TableArn=table_arn)["ImportSummaryList"]] == [imp["ImportArn"]]
    summaries = ddb.list_exports(TableArn=arn)["ExportSummaries"]
    assert summaries == [{"ExportArn": desc["ExportArn"], "ExportStatus": "COMPLETED", "ExportType": "FULL_EXPORT"}]


def test_export_at_past_time_and_ion(ddb, export_root):
    table, arn = source_table(ddb, 10)
    instant = next_second()
    ddb.delete_item(TableName=table, Key={"pk": {"S": "p0"}, "sk": {"N": "0"}})
    ddb.put_item(TableName=table, Item={"pk": {"S": "late"}, "sk": {"N": "1"}})
    desc = ddb.export_table_to_point_in_time(TableArn=arn, S3Bucket="bkt", ExportTime=instant)["ExportDescription"]
    done = wait_export(ddb, desc["ExportArn"])
    assert done["ItemCount"] == 10
    export_id = desc["ExportArn"].rsplit("/", 1)[1]
    data = os.path.join(export_root, "bkt", "AWSDynamoDB", export_id, "data")
    items = [json.loads(line)["Item"] for f in os.listdir(data) for line in read_lines(os.path.join(data, f))]
    assert {"S": "p0"} in [i["pk"] for i in items] and {"S": "late"} not in [i["pk"] for i in items]

    ion = ddb.export_table_to_point_in_time(TableArn=arn, S3Bucket="bkt", ExportFormat="ION")["ExportDescription"]
    assert wait_export(ddb, ion["ExportArn"])["ExportStatus"] == "COMPLETED"
    ion_dir = os.path.join(export_root, "bkt", "AWSDynamoDB", ion["ExportArn"].rsplit("/", 1)[1], "data")
    names = os.listdir(ion_dir)
    assert names and all(n.endswith(".ion.gz") for n in names)
    text = gzip.open(os.path.join(ion_dir, names[0]), "rt").read()
    assert text.startswith("$ion_1_0 ") and '{Item:{"pk":"late","sk":1d0}}' in text
    assert '"ss":$dynamodb_SS::["a","b"]' in text and '"b":{{AAE=}}' in text


def test_incremental_export(ddb, export_root):
    table, arn = source_table(ddb, 5)
    start = next_second()
    ddb.put_item(TableName=table, Item={"pk": {"S": "p0"}, "sk": {"N": "0"}, "s": {"S": "changed"}})
    ddb.delete_item(TableName=table, Key={"pk": {"S": "p1"}, "sk": {"N": "1"}})
    ddb.put_item(TableName=table, Item={"pk": {"S": "new"}, "sk": {"N": "9"}})
    end = next_second()
    ddb.put_item(TableName=table, Item={"pk": {"S": "after"}, "sk": {"N": "9"}})
    desc = ddb.export_table_to_point_in_time(
        TableArn=arn, S3Bucket="bkt", S3Prefix="inc", ExportType="INCREMENTAL_EXPORT",
        IncrementalExportSpecification={"ExportFromTime": start, "ExportToTime": end,
                                        "ExportViewType": "NEW_AND_OLD_IMAGES"})["ExportDescription"]
    assert desc["ExportType"] == "INCREMENTAL_EXPORT"
    done = wait_export(ddb, desc["ExportArn"])
    assert done["ItemCount"] == 3
    export_id = desc["ExportArn"].rsplit("/", 1)[1]
    base = os.path.join(export_root, "bkt", "inc", "AWSDynamoDB", export_id)
    summary = json.load(open(os.path.join(base, "manifest-summary.json")))
    assert summary["exportType"] == "INCREMENTAL_EXPORT" and summary["outputView"] == "NEW_AND_OLD_IMAGES"
    records = {}
    for f in os.listdir(os.path.join(base, "data")):
        for line in read_lines(os.path.join(base, "data", f)):
            rec = json.loads(line)
            records[rec["Keys"]["pk"]["S"]] = rec
    assert set(records) == {"p0", "p1", "new"}
    assert records["p0"]["NewImage"]["s"] == {"S": "changed"} and records["p0"]["OldImage"]["s"] == {"S": "v0"}
    assert "NewImage" not in records["p1"] and records["p1"]["OldImage"]["s"] == {"S": "v1"}
    assert "OldImage" not in records["new"]
    assert int(records["new"]["Metadata"]["WriteTimestampMicros"]["N"]) // 1_000_000 in (start, end - 1, end)


def test_csv_import_plain_and_gzip(ddb, export_root):
    folder = os.path.join(export_root, "csv-bucket", "people")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "part1.csv"), "w") as fh:
        fh.write("id,name,age\n1,ann,31\n2,bob,\n3,\"c, d\",44\nbroken\n")
    with gzip.open(os.path.join(folder, "part2.csv.gz"), "wt") as fh:
        fh.write("9|zed|50\n")
    params = {"BillingMode": "PAY_PER_REQUEST",
              "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "N"}],
              "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}]}
    target = unique_name("csv")
    imp = ddb.import_table(S3BucketSource={"S3Bucket": "csv-bucket", "S3KeyPrefix": "people/part1"},
                           InputFormat="CSV", InputCompressionType="NONE",
                           TableCreationParameters={"TableName": target, **params})["ImportTableDescription"]
    done = wait_import(ddb, imp["ImportArn"])
    assert done["ImportStatus"] == "COMPLETED"
    assert (done["ImportedItemCount"], done["ErrorCount"], done["ProcessedItemCount"]) == (3, 1, 4)
    wait_active(ddb, target)
    items = {int(i["id"]["N"]): i for i in scan_all(ddb, target)}
    assert items[1] == {"id": {"N": "1"}, "name": {"S": "ann"}, "age": {"S": "31"}}
    assert items[2] == {"id": {"N": "2"}, "name": {"S": "bob"}}
    assert items[3]["name"] == {"S": "c, d"}

    target2 = unique_name("csvgz")
    imp = ddb.import_table(S3BucketSource={"S3Bucket": "csv-bucket", "S3KeyPrefix": "people/part2"},
                           InputFormat="CSV", InputCompressionType="GZIP",
                           InputFormatOptions={"Csv": {"Delimiter": "|", "HeaderList": ["id", "name", "age"]}},
                           TableCreationParameters={"TableName": target2, **params})["ImportTableDescription"]
    assert wait_import(ddb, imp["ImportArn"])["ImportedItemCount"] == 1
    wait_active(ddb, target2)
    assert ddb.get_item(TableName=target2, Key={"id": {"N": "9"}})["Item"]["name"] == {"S": "zed"}

    with pytest.raises(ClientError) as exc:
        ddb.import_table(S3BucketSource={"S3Bucket": "csv-bucket", "S3KeyPrefix": "people/"}, InputFormat="CSV",
                         TableCreationParameters={"TableName": target2, **params})
    assert error_of(exc) == ("ResourceInUseException", f"Table already exists: {target2}")


def test_errors(ddb):
    table = create_table(ddb, unique_name("exp-err"))
    arn = ddb.describe_table(TableName=table)["Table"]["TableArn"]
    with pytest.raises(ClientError) as exc:
        ddb.export_table_to_point_in_time(TableArn=arn, S3Bucket="bkt")
    assert error_of(exc) == ("PointInTimeRecoveryUnavailableException",
                             f"Point in time recovery is not enabled for table '{table}'")
    missing = arn + "-missing"
    with pytest.raises(ClientError) as exc:
        ddb.export_table_to_point_in_time(TableArn=missing, S3Bucket="bkt")
    assert error_of(exc)[0] == "TableNotFoundException"
    enable(ddb, table)
    with pytest.raises(ClientError) as exc:
        ddb.export_table_to_point_in_time(TableArn=arn, S3Bucket="bkt", ExportTime=time.time() - 3600)
    assert error_of(exc)[0] == "InvalidExportTimeException"
    bogus = arn + "/export/01234567890123-abcdef12"
    with pytest.raises(ClientError) as exc:
        ddb.describe_export(ExportArn=bogus)
    assert error_of(exc) == ("ExportNotFoundException", f"Export not found: {bogus}")
    with pytest.raises(ClientError) as exc:
        ddb.describe_import(ImportArn=arn + "/import/01234567890123-abcdef12")
    assert error_of(exc)[0] == "ImportNotFoundException"
    # Same ClientToken: the same export comes back.
    one = ddb.export_table_to_point_in_time(TableArn=arn, S3Bucket="bkt", ClientToken="tok-1")["ExportDescription"]
    two = ddb.export_table_to_point_in_time(TableArn=arn, S3Bucket="bkt", ClientToken="tok-1")["ExportDescription"]
    assert one["ExportArn"] == two["ExportArn"]
    # An import from an empty prefix fails (the table stays, empty).
    target = unique_name("imp-empty")
    imp = ddb.import_table(S3BucketSource={"S3Bucket": "nothing-here"}, InputFormat="DYNAMODB_JSON",
                           TableCreationParameters={
                               "TableName": target, "BillingMode": "PAY_PER_REQUEST",
                               "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                               "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}]})["ImportTableDescription"]
    failed = wait_import(ddb, imp["ImportArn"])
    assert failed["ImportStatus"] == "FAILED" and "no objects found" in failed["FailureMessage"]
