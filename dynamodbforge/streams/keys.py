"""Names shared by the trigger runner and the server, in a module that imports nothing.

The runner process imports only this (and the storage engine) until a trigger exists, so
that an idle runner stays small (see streams/runner.py, EngineSource).
"""
MAPPING_PREFIX = b"\x00RM"  # + uuid -> mapping JSON
CHECKPOINT_PREFIX = b"\x00RC"  # + uuid -> checkpoint JSON
MAPPINGS_END = MAPPING_PREFIX[:-1] + bytes([MAPPING_PREFIX[-1] + 1])  # after every mapping key
INTERNAL_PREFIX = "DynamoDBForgeTriggers_20240101."
STREAMS_PREFIX = "DynamoDBStreams_20120810."
