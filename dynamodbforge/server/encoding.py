"""Response compression as DynamoDB negotiates it: gzip or deflate, from 4 KB up.

What DynamoDB does with ``Accept-Encoding`` was measured by ScyllaDB Alternator's
``test_compressed_response*`` against DynamoDB (not documented by AWS):

* only answers of at least ``THRESHOLD_BYTES`` are compressed;
* codings are tokens, case-insensitive; a malformed element (``"gzip"``, ``gzip br``,
  ``gzip:q=1``) is ignored, and so are codings other than gzip and deflate, ``identity``
  included;
* the first ``q=`` of an element counts (spaces around ``=`` allowed); an unreadable one
  means 1, more than 1 means 1, and 0 or less means "not acceptable"; a coding listed
  twice gets its best weight;
* ``*`` stands for the codings not listed;
* the highest weight wins; on a tie a coding listed by name beats one matched by ``*``,
  then the one listed first, then gzip.
"""
from __future__ import annotations

import re
import zlib

THRESHOLD_BYTES = 4096
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_SUPPORTED = ("gzip", "deflate")  # in order of preference on a full tie


def choose(header: bytes | None) -> str | None:
    """The coding to answer with (``"gzip"``, ``"deflate"``), or None for none."""
    if not header:
        return None
    named: dict[str, tuple[float, int]] = {}  # coding -> (weight, first position)
    wildcard: tuple[float, int] | None = None
    for position, element in enumerate(header.decode("latin-1").split(",")):
        token, *params = element.split(";")
        token = token.strip().lower()
        if not token or not _TOKEN.fullmatch(token):
            continue
        weight = 1.0
        for param in params:
            name, eq, value = param.partition("=")
            if eq and name.strip().lower() == "q":
                try:
                    weight = float(value.strip())
                except ValueError:
                    pass
                if weight != weight:  # NaN
                    weight = 1.0
                break
        weight = min(weight, 1.0)
        if token == "*":
            wildcard = (weight, position) if wildcard is None else (max(wildcard[0], weight), wildcard[1])
        elif token in _SUPPORTED:
            seen = named.get(token)
            named[token] = (weight, position) if seen is None else (max(seen[0], weight), seen[1])
    best: tuple[float, int, int, int] | None = None
    choice = None
    for preference, coding in enumerate(_SUPPORTED):
        if coding in named:
            weight, position = named[coding]
            rank = (weight, 1, -position, -preference)
        elif wildcard is not None:
            rank = (wildcard[0], 0, -wildcard[1], -preference)
        else:
            continue
        if rank[0] > 0 and (best is None or rank > best):
            best, choice = rank, coding
    return choice


def compress(body: bytes, coding: str) -> bytes:
    """``body`` in ``coding``: gzip, or deflate (the zlib format, RFC 1950)."""
    if coding == "gzip":
        return zlib.compress(body, 6, wbits=31)
    return zlib.compress(body, 6)
