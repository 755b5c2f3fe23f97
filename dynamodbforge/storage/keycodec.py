"""Order-preserving, self-delimiting encoding of key attribute values.

Byte order of the encodings equals DynamoDB's sort order for the type:
strings by UTF-8 bytes, binary by bytes, numbers numerically.  Every encoding is
prefix-free, so encoded components can be concatenated (partition key, then
sort key, then table key for index entries) and still compare component-wise.
"""
from __future__ import annotations

import base64
import struct

from dynamodbforge.protocol import numbers

_TERMINATOR = b"\x00\x00"


def _escape(raw: bytes) -> bytes:
    # 0x00 becomes 0x00 0xFF so the 0x00 0x00 terminator sorts before any continuation.
    return raw.replace(b"\x00", b"\x00\xff") + _TERMINATOR


def _unescape(data: bytes, pos: int) -> tuple[bytes, int]:
    out = bytearray()
    while True:
        nxt = data.index(b"\x00", pos)
        out += data[pos:nxt]
        if data[nxt + 1] == 0:
            return bytes(out), nxt + 2
        out.append(0)
        pos = nxt + 2


def encode_string(value: str) -> bytes:
    return _escape(value.encode("utf-8"))


def encode_binary_b64(value: str) -> bytes:
    return _escape(base64.b64decode(value))


_DIGIT_BYTES = bytes(range(256)).replace(b"0123456789", bytes(range(1, 11)))  # digit d -> byte d + 1


def encode_number(text: str) -> bytes:
    """Sign byte, exponent, one byte per digit, terminator; negatives inverted."""
    if text == "0":
        return b"\x80"
    if text.isdigit():  # fast path: a positive integer (stored numbers are normalised)
        significant = text.rstrip("0")
        return (
            b"\xc0"
            + struct.pack(">H", len(text) + 0x8000)
            + significant.encode("ascii").translate(_DIGIT_BYTES)
            + b"\x00"
        )
    sign, digits, exponent = numbers.decompose(text)
    # value = 0.d1d2...dn x 10**point
    point = exponent + len(digits)
    if not sign:
        return b"\xc0" + struct.pack(">H", point + 0x8000) + bytes(d + 1 for d in digits) + b"\x00"
    return (
        b"\x40"
        + struct.pack(">H", 0x7FFF - point)
        + bytes(0xFE - d for d in digits)
        + b"\xff"
    )


def decode_number(data: bytes, pos: int) -> tuple[str, int]:
    tag = data[pos]
    if tag == 0x80:
        return "0", pos + 1
    (raw_point,) = struct.unpack_from(">H", data, pos + 1)
    pos += 3
    if tag == 0xC0:
        point = raw_point - 0x8000
        end = data.index(b"\x00", pos)
        digits = "".join(str(b - 1) for b in data[pos:end])
        sign = ""
    else:
        point = 0x7FFF - raw_point
        end = data.index(b"\xff", pos)
        digits = "".join(str(0xFE - b) for b in data[pos:end])
        sign = "-"
    return numbers.format(numbers.to_decimal(f"{sign}0.{digits}E{point}")), end + 1


def encode(type_name: str, value: str) -> bytes:
    """Encode one key attribute value (``type_name`` is S, N or B; ``value`` its wire string)."""
    if type_name == "S":
        return encode_string(value)
    if type_name == "N":
        return encode_number(value)
    return encode_binary_b64(value)


def decode(type_name: str, data: bytes, pos: int = 0) -> tuple[str, int]:
    """Inverse of ``encode``: the wire string of the value and the position after it."""
    if type_name == "N":
        return decode_number(data, pos)
    raw, end = _unescape(data, pos)
    if type_name == "S":
        return raw.decode("utf-8"), end
    return base64.b64encode(raw).decode("ascii"), end


def prefix_successor(prefix: bytes) -> bytes | None:
    """Smallest byte string greater than every string starting with ``prefix`` (None: no bound)."""
    stripped = prefix.rstrip(b"\xff")
    if not stripped:
        return None
    return stripped[:-1] + bytes([stripped[-1] + 1])
