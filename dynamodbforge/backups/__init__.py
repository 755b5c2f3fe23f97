"""Issue 10: on-demand backups, point-in-time recovery, export to / import from a directory.

Modules:
  common.py    metadata keys, ids/ARNs, errors, options, snapshot connections, background tasks
  loader.py    creating a restored/imported table and loading items into it in chunks
  ondemand.py  CreateBackup, DescribeBackup, ListBackups, DeleteBackup, RestoreTableFromBackup,
               scheduled backups with retention
  pitr.py      UpdateContinuousBackups, DescribeContinuousBackups, RestoreTableToPointInTime,
               the PITR change-log retention policy, the state of a table at an instant
  export.py    ExportTableToPointInTime (full and incremental; DYNAMODB_JSON and ION), DescribeExport, ListExports
  importer.py  ImportTable (DYNAMODB_JSON, ION, CSV; GZIP or NONE), DescribeImport, ListImports
  api.py       the operation registry and request shapes of the above
  launch.py    ``ddbforge serve`` options and per-worker start-up
"""
