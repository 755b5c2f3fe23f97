"""Operation registry and request shapes (merged into ops/registry.py and
protocol/validate.py by ops/registry.py, so those files only gain one delimited block)."""
from __future__ import annotations

from typing import Any

from dynamodbforge.backups import export, importer, ondemand, pitr
from dynamodbforge.protocol.shapes import Bool, ListOf, Num, Str, Struct
from dynamodbforge.protocol.validate import (
    BILLING_MODE, KEY_SCHEMA, PROJECTION, Operation, table_name, throughput,
)

OPERATIONS: dict[str, Any] = {
    "CreateBackup": ondemand.create_backup,
    "DescribeBackup": ondemand.describe_backup,
    "ListBackups": ondemand.list_backups,
    "DeleteBackup": ondemand.delete_backup,
    "RestoreTableFromBackup": ondemand.restore_table_from_backup,
    "UpdateContinuousBackups": pitr.update_continuous_backups,
    "DescribeContinuousBackups": pitr.describe_continuous_backups,
    "RestoreTableToPointInTime": pitr.restore_table_to_point_in_time,
    "ExportTableToPointInTime": export.export_table_to_point_in_time,
    "DescribeExport": export.describe_export,
    "ListExports": export.list_exports,
    "ImportTable": importer.import_table,
    "DescribeImport": importer.describe_import,
    "ListImports": importer.list_imports,
}

# --- shapes (field order = AWS's constraint-report order) ------------------------------------

NAME_PATTERN = "[a-zA-Z0-9_.-]+"


def _table_arn(not_null: bool = True) -> Str:  # TableName parameters that also take an ARN
    return Str(not_null, min_len=1, max_len=1024)


def _arn(not_null: bool = True) -> Str:
    return Str(not_null, min_len=37, max_len=1024)


def _date(not_null: bool = False) -> Num:
    return Num(not_null, java="Date")


_GSI = Struct("GlobalSecondaryIndex", {
    "IndexName": Str(True, pattern=NAME_PATTERN, min_len=3, max_len=255),
    "KeySchema": KEY_SCHEMA,
    "Projection": PROJECTION,
    "ProvisionedThroughput": throughput(),
})
_LSI = Struct("LocalSecondaryIndex", {
    "IndexName": Str(True, pattern=NAME_PATTERN, min_len=3, max_len=255),
    "KeySchema": KEY_SCHEMA,
    "Projection": PROJECTION,
})


def _overrides() -> dict[str, Any]:
    return {
        "BillingModeOverride": Str(enum=BILLING_MODE),
        "GlobalSecondaryIndexOverride": ListOf(_GSI),
        "LocalSecondaryIndexOverride": ListOf(_LSI),
        "ProvisionedThroughputOverride": throughput(),
    }


SHAPES: dict[str, Operation] = {
    "CreateBackup": Operation(Struct("CreateBackupInput", {
        "TableName": _table_arn(),
        "BackupName": Str(True, pattern=NAME_PATTERN, min_len=3, max_len=255),
    })),
    "DescribeBackup": Operation(Struct("DescribeBackupInput", {"BackupArn": _arn()})),
    "DeleteBackup": Operation(Struct("DeleteBackupInput", {"BackupArn": _arn()})),
    "ListBackups": Operation(Struct("ListBackupsInput", {
        "TableName": _table_arn(False),
        "Limit": Num(java="Integer", minimum=1, maximum=100),
        "TimeRangeLowerBound": _date(),
        "TimeRangeUpperBound": _date(),
        "ExclusiveStartBackupArn": _arn(False),
        "BackupType": Str(enum=("USER", "SYSTEM", "AWS_BACKUP", "ALL")),
    })),
    "RestoreTableFromBackup": Operation(Struct("RestoreTableFromBackupInput", {
        "TargetTableName": table_name(),
        "BackupArn": _arn(),
        **_overrides(),
    })),
    "UpdateContinuousBackups": Operation(Struct("UpdateContinuousBackupsInput", {
        "TableName": _table_arn(),
        "PointInTimeRecoverySpecification": Struct("PointInTimeRecoverySpecification", {
            "PointInTimeRecoveryEnabled": Bool(True),
            "RecoveryPeriodInDays": Num(java="Integer", minimum=1, maximum=35),
        }, True),
    })),
    "DescribeContinuousBackups": Operation(Struct("DescribeContinuousBackupsInput", {"TableName": _table_arn()})),
    "RestoreTableToPointInTime": Operation(Struct("RestoreTableToPointInTimeInput", {
        "SourceTableArn": _table_arn(False),
        "SourceTableName": table_name(False),
        "TargetTableName": table_name(),
        "UseLatestRestorableTime": Bool(),
        "RestoreDateTime": _date(),
        **_overrides(),
    })),
    "ExportTableToPointInTime": Operation(Struct("ExportTableToPointInTimeInput", {
        "TableArn": _table_arn(),
        "ExportTime": _date(),
        "ClientToken": Str(pattern="^[^\\$]+$"),
        "S3Bucket": Str(True, pattern="^[a-z0-9A-Z]+[\\.\\-\\w]*[a-z0-9A-Z]+$", max_len=255),
        "S3BucketOwner": Str(pattern="[0-9]{12}"),
        "S3Prefix": Str(max_len=1024),
        "S3SseAlgorithm": Str(enum=("AES256", "KMS")),
        "S3SseKmsKeyId": Str(min_len=1, max_len=2048),
        "ExportFormat": Str(enum=("DYNAMODB_JSON", "ION")),
        "ExportType": Str(enum=("FULL_EXPORT", "INCREMENTAL_EXPORT")),
        "IncrementalExportSpecification": Struct("IncrementalExportSpecification", {
            "ExportFromTime": _date(),
            "ExportToTime": _date(),
            "ExportViewType": Str(enum=("NEW_IMAGE", "NEW_AND_OLD_IMAGES")),
        }),
    })),
    "DescribeExport": Operation(Struct("DescribeExportInput", {"ExportArn": _arn()})),
    "ListExports": Operation(Struct("ListExportsInput", {
        "TableArn": _table_arn(False),
        "MaxResults": Num(java="Integer", minimum=1, maximum=25),
        "NextToken": Str(),
    })),
    "ImportTable": Operation(Struct("ImportTableInput", {
        "ClientToken": Str(pattern="^[^\\$]+$"),
        "S3BucketSource": Struct("S3BucketSource", {
            "S3BucketOwner": Str(pattern="[0-9]{12}"),
            "S3Bucket": Str(True, pattern="^[a-z0-9A-Z]+[\\.\\-\\w]*[a-z0-9A-Z]+$", max_len=255),
            "S3KeyPrefix": Str(max_len=1024),
        }, True),
        "InputFormat": Str(True, enum=("DYNAMODB_JSON", "ION", "CSV")),
        "InputFormatOptions": Struct("InputFormatOptions", {
            "Csv": Struct("CsvOptions", {
                "Delimiter": Str(min_len=1, max_len=1),
                "HeaderList": ListOf(Str(min_len=1, max_len=65536), min_len=1, max_len=255),
            }),
        }),
        "InputCompressionType": Str(enum=("GZIP", "ZSTD", "NONE")),
        "TableCreationParameters": Struct("TableCreationParameters", {
            "TableName": table_name(),
            "AttributeDefinitions": ListOf(Struct("AttributeDefinition", {
                "AttributeName": Str(True, min_len=1, max_len=255),
                "AttributeType": Str(True, enum=("B", "N", "S")),
            }), True),
            "KeySchema": KEY_SCHEMA,
            "BillingMode": Str(enum=BILLING_MODE),
            "ProvisionedThroughput": throughput(),
            "GlobalSecondaryIndexes": ListOf(_GSI),
        }, True),
    })),
    "DescribeImport": Operation(Struct("DescribeImportInput", {"ImportArn": _arn()})),
    "ListImports": Operation(Struct("ListImportsInput", {
        "TableArn": _table_arn(False),
        "PageSize": Num(java="Integer", minimum=1, maximum=25),
        "NextToken": Str(),
    })),
}
