"""Value semantics of AttributeValues (wire format) as DynamoDB's expressions see them.

Numbers are normalised strings (``dynamodbforge.protocol.numbers``), binaries canonical
base64 (so equal bytes <=> equal text), and Python ``str`` order equals UTF-8 byte order.
"""
from __future__ import annotations

import base64
from typing import Any

from dynamodbforge.protocol import numbers

AV = dict[str, Any]

SET_TYPES = frozenset(("SS", "NS", "BS"))
ORDERED_TYPES = frozenset(("S", "N", "B"))
ALL_TYPES = ("S", "SS", "N", "NS", "B", "BS", "BOOL", "NULL", "L", "M")


def av_type(av: AV) -> str:
    """The type tag of an AttributeValue (``"S"``, ``"N"``, ...)."""
    for key in av:
        return key
    raise ValueError("empty AttributeValue")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text)


def equal(a: AV, b: AV) -> bool:
    """DynamoDB equality: same type and same value (sets compare unordered)."""
    (ta, va), = a.items()
    (tb, vb), = b.items()
    if ta != tb:
        return False
    if va == vb:
        return True
    if ta == "N":
        return numbers.compare(va, vb) == 0
    if ta in SET_TYPES:
        return len(va) == len(vb) and set(va) == set(vb)
    if ta == "L":
        return len(va) == len(vb) and all(equal(x, y) for x, y in zip(va, vb))
    if ta == "M":
        return va.keys() == vb.keys() and all(equal(va[k], vb[k]) for k in va)
    return False


def order(a: AV, b: AV) -> int | None:
    """-1/0/1 for two values of the same orderable type (S, N, B), else None."""
    (ta, va), = a.items()
    (tb, vb), = b.items()
    if ta != tb:
        return None
    if ta == "S":
        return -1 if va < vb else (1 if va > vb else 0)
    if ta == "N":
        return numbers.compare(va, vb)
    if ta == "B":
        x, y = _unb64(va), _unb64(vb)
        return -1 if x < y else (1 if x > y else 0)
    return None


def size(av: AV) -> int | None:
    """What ``size()`` returns, or None for types it does not measure (N, BOOL, NULL)."""
    (t, v), = av.items()
    if t == "S":  # UTF-16 code units, as DynamoDB counts (size("é𝄞") is 3, not 6 bytes)
        return len(v.encode("utf-16-le")) // 2
    if t == "B":
        return len(_unb64(v))
    if t in SET_TYPES or t == "L" or t == "M":
        return len(v)
    return None


def begins_with(a: AV, b: AV) -> bool:
    (ta, va), = a.items()
    (tb, vb), = b.items()
    if ta != tb:
        return False
    if ta == "S":
        return va.startswith(vb)
    if ta == "B":
        return _unb64(va).startswith(_unb64(vb))
    return False


def contains(a: AV, b: AV) -> bool:
    """Substring (S, B), set membership (SS/NS/BS) or list membership (L)."""
    (ta, va), = a.items()
    (tb, vb), = b.items()
    if ta == "S":
        return tb == "S" and vb in va
    if ta == "B":
        return tb == "B" and _unb64(vb) in _unb64(va)
    if ta in SET_TYPES:
        if ta[0] != tb or tb not in ORDERED_TYPES:
            return False
        if vb in va:
            return True
        return tb == "N" and any(numbers.compare(x, vb) == 0 for x in va)
    if ta == "L":
        return any(equal(x, b) for x in va)
    return False


def render(av: AV) -> str:
    """``{N:5}``-style rendering used inside AWS validation messages."""
    (t, v), = av.items()
    return "{" + f"{t}:{v}" + "}"
