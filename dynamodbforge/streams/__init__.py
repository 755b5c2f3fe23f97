"""DynamoDB Streams and stream-driven triggers.

* ``metadata``  – streams of a table (StreamSpecification), persisted in the engine's kv space
* ``records``   – change-log rows -> DynamoDB Streams records
* ``api``       – ListStreams, DescribeStream, GetShardIterator, GetRecords (sans-IO)
* ``retention`` – the one place deciding how long change-log rows are kept, and trimming
* ``mappings``  – event source mappings (triggers) and their durable checkpoints
* ``filters``   – Lambda event-filter patterns (FilterCriteria)
* ``lambda_api``– the Lambda REST routes for Create/List/Get/Delete EventSourceMapping
* ``runner``    – the trigger-runner process that invokes handlers (out of the server process)
* ``launch``    – ``ddbforge serve`` glue: --trigger/--config, starting and supervising the runner

See docs/STREAMS.md.
"""
