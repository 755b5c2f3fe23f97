"""AttributeValue validation and normalisation, item size, key checks — AWS's messages.

Two kinds of problems are told apart, as AWS tells them apart:

* **type** problems (a JSON value of the wrong JSON type, bad base64) are found while
  the request is deserialised and raise ``SerializationException`` at once;
* **value** problems (empty sets, duplicates, bad numbers, NULL false, ...) are
  ValidationExceptions that AWS reports in the operation's own check order, so the
  walker returns them as a message (``walk``) and lets the caller decide when to raise.

Normalisation happens in place while walking: numbers become ``numbers.normalize``
form.  Binary values must already be canonical base64 (AWS rejects anything else),
so they are kept as given.  Sets must not hold duplicates (AWS rejects them), so
no de-duplication is needed.
"""
from __future__ import annotations

import binascii
from decimal import Decimal
from dataclasses import dataclass
from typing import Any

from dynamodbforge import errors
from dynamodbforge.errors import DynamoDBError
from dynamodbforge.protocol import numbers

MAX_ITEM_BYTES = 400 * 1024
MAX_HASH_KEY_BYTES = 2048
MAX_RANGE_KEY_BYTES = 1024
MAX_NESTING = 32  # the top-level attribute value is level 1
MAX_ATTRIBUTE_NAME_BYTES = 65535

INVALID = "One or more parameter values were invalid: "
MSG_EMPTY_AV = "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes"
MSG_MULTI_AV = (
    "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes"
)
MSG_NESTING = (
    "Nesting Levels have exceeded supported limits: Attributes in the item have nested levels beyond supported limit"
)
MSG_NAME_TOO_LARGE = "1 validation error detected: Attribute name is too large, must be less than 65536 bytes"
MSG_EMPTY_NAME = "Empty attribute name"  # paritysuite's deepRequests capture (TransactWriteItems)
MSG_NOT_SCHEMA = "The provided key element does not match the schema"
MSG_ITEM_TOO_BIG = errors.MSG_ITEM_TOO_BIG
MSG_UPDATE_TOO_BIG = "Item size to update has exceeded the maximum allowed size"
MSG_HASH_TOO_BIG = INVALID + "Size of hashkey has exceeded the maximum size limit of2048 bytes"
MSG_RANGE_TOO_BIG = INVALID + "Aggregated size of all range keys has exceeded the size limit of 1024 bytes"
_MSG_NUMERIC = "The parameter cannot be converted to a numeric value"
_MSG_NULL_FALSE = INVALID + "Null attribute value types must have the value of true"
_MSG_EMPTY_SS = INVALID + "An string set  may not be empty"
_MSG_EMPTY_NS = INVALID + "An number set  may not be empty"
_MSG_EMPTY_BS = INVALID + "Binary sets should not be empty"
_MSG_NS_DUPLICATES = "Input collection contains duplicates"

AV_TYPES = frozenset(("S", "N", "B", "BOOL", "NULL", "SS", "NS", "BS", "L", "M"))
_JAVA_PKG = "com.amazonaws.dynamodb.v20120810."
_JAVA_AV = _JAVA_PKG + "AttributeValue"
_AV_MAP_JAVA = "java.util.Map<java.lang.String, " + _JAVA_AV + ">"
# What AWS says when a list/map sits where a list/map *element* is expected and
# gets a scalar (e.g. BatchWriteItem RequestItems.<table> given a string).
CAST_MSG = (
    "class sun.reflect.generics.reflectiveObjects.ParameterizedTypeImpl cannot be cast to class java.lang.Class "
    "(sun.reflect.generics.reflectiveObjects.ParameterizedTypeImpl and java.lang.Class are in module java.base "
    "of loader 'bootstrap')"
)
_START_OF_MAP = "Start of structure or map found where not expected"


# --- serialization (type) errors, shared with validate.py ------------------------

def _json_token(value: Any) -> str:
    if value is True:
        return "TRUE_VALUE"
    if value is False:
        return "FALSE_VALUE"
    if type(value) is float:
        return "DECIMAL_VALUE"
    if type(value) is str:
        return "STRING_VALUE"
    return "NUMBER_VALUE"


def scalar_type_error(value: Any, target: str) -> DynamoDBError:
    """SerializationException for ``value`` given where a ``target`` scalar is expected.

    ``target`` is one of String, Boolean, Long, Integer, Double, Blob.
    """
    if type(value) is dict:
        return errors.serialization(_START_OF_MAP)
    if type(value) is list:
        java = {"Blob": "java.nio.ByteBuffer"}.get(target, "java.lang." + target)
        return errors.serialization("Unrecognized collection type class " + java)
    if target == "Blob":
        return errors.serialization("only base-64-encoded strings are convertible to bytes")
    if target == "Boolean" and type(value) is str:
        return errors.serialization("Unexpected token received from parser")
    return errors.serialization(f"{_json_token(value)} cannot be converted to {target}")


def structure_type_error(value: Any, java_name: str, in_container: bool) -> DynamoDBError:
    """A structure (e.g. AttributeValue, KeySchemaElement) given a non-object."""
    if type(value) is list:
        return errors.serialization("Unrecognized collection type class " + _JAVA_PKG + java_name)
    return errors.serialization("Unexpected value type in payload" if in_container else "Unexpected field type")


def list_type_error(value: Any, in_container: bool) -> DynamoDBError:
    if type(value) is dict:
        return errors.serialization(_START_OF_MAP)
    return errors.serialization(CAST_MSG if in_container else "Unexpected field type")


def map_type_error(value: Any, value_java: str, in_container: bool) -> DynamoDBError:
    if type(value) is list:
        return errors.serialization(f"Unrecognized collection type java.util.Map<java.lang.String, {value_java}>")
    return errors.serialization(CAST_MSG if in_container else "Unexpected field type")


# --- base64 ----------------------------------------------------------------------

_B64_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")


def check_base64(text: str) -> None:
    """Raise AWS's SerializationException unless ``text`` is canonical, padded base64."""
    try:
        raw = binascii.a2b_base64(text, strict_mode=True)
        if binascii.b2a_base64(raw, newline=False).decode("ascii") == text:
            return
    except (binascii.Error, ValueError):
        pass
    n = len(text)
    if n % 4:
        raise errors.serialization(f"Base64 encoded length is expected a multiple of 4 bytes but found: {n}")
    for ch in text:
        if ch not in _B64_ALPHABET and ch != "=":
            raise errors.serialization(f"Invalid Base64 character: '{ch}'")
    raise errors.serialization("Invalid last non-pad Base64 character dectected")


def binary_length(b64: str) -> int:
    """Decoded length of canonical base64 text, without decoding."""
    n = len(b64)
    if not n:
        return 0
    pad = 2 if b64.endswith("==") else (1 if b64[-1] == "=" else 0)
    return n // 4 * 3 - pad


# --- two wordings ----------------------------------------------------------------------

class Wording(str):
    """A value problem's message as the older validation layer words it, carrying the newer
    layer's words in ``newer`` (the operations that moved use them: shapes.Ctx.newer_framework).
    Captured side by side by paritysuite's valueLayers tests (four regions, 2026-10-09)."""

    newer: str

    def __new__(cls, older: str, newer: str) -> "Wording":
        self = super().__new__(cls, older)
        self.newer = newer
        return self


def _duplicates(type_name: str, members: list[str]) -> Wording:
    """Both layers' words for a set with duplicate members.  The newer lists the distinct
    members in the set's order, then the repeats, each quoted ("a", "b", "b"): a rule
    inferred from one capture per set type (unverified beyond them)."""
    key = {"SS": None, "NS": Decimal, "BS": binascii.a2b_base64}[type_name]
    distinct = sorted(set(members), key=key)
    seen: set[str] = set()
    repeats = []
    for m in members:
        if m in seen:
            repeats.append(m)
        seen.add(m)
    ordered = distinct + repeats
    if type_name == "SS":
        return Wording(INVALID + "Input collection [" + ", ".join(members) + "] contains duplicates.",
                       INVALID + "Input collection [" + ", ".join(f'"{m}"' for m in ordered) + "] contains duplicates.")
    if type_name == "BS":
        return Wording(INVALID + "Input collection [" + ", ".join(members) + "]of type BS contains duplicates.",
                       INVALID + "Input collection [" + ",".join(f'"{m}"' for m in ordered)
                       + "]of type BS contains duplicates.")
    return Wording(_MSG_NS_DUPLICATES, INVALID + "Input collection contains duplicates.")


# --- numbers -----------------------------------------------------------------------

def _number(text: str) -> tuple[str, str | None]:
    """(normalised text, None) or (text, AWS's message) for one wire number."""
    # Fast path: a plain integer without leading zeros is already canonical.
    if text.isascii():
        body = text[1:] if text[:1] == "-" else text
        if body.isdigit() and len(body) <= numbers.MAX_DIGITS and (body[0] != "0" or text == "0"):
            return text, None
    if not text:  # the newer framework echoes the (empty) value after a colon
        return text, Wording(_MSG_NUMERIC, _MSG_NUMERIC + ": ")
    try:
        return numbers.normalize(text), None
    except DynamoDBError as exc:
        if exc.message == numbers.OVERFLOW and numbers.older_layer_wraps(text):
            return text, Wording(numbers.UNDERFLOW, numbers.OVERFLOW)
        return text, exc.message


# --- the AttributeValue walker --------------------------------------------------------

def walk(av: Any, level: int = 1, in_container: bool = True) -> str | None:
    """Type-check and normalise one AttributeValue (in place).

    Raises SerializationException for type problems and the nesting-limit
    ValidationException; returns the first value problem's message (or None).
    ``in_container`` tells whether the value sits in a map/list (e.g. Item.x) or is
    a structure field (e.g. Expected.x.Value): AWS words type errors differently.
    """
    if type(av) is not dict:
        raise structure_type_error(av, "AttributeValue", in_container)
    err: str | None = None
    count = 0
    for key, val in av.items():
        if val is None or key not in AV_TYPES:
            continue
        count += 1
        if key == "S":
            if type(val) is not str:
                raise scalar_type_error(val, "String")
        elif key == "N":
            if type(val) is not str:
                raise scalar_type_error(val, "String")
            norm, msg = _number(val)
            if msg is not None:
                err = err or msg
            elif norm is not val:
                av["N"] = norm
        elif key == "B":
            if type(val) is not str:
                raise scalar_type_error(val, "Blob")
            if val:
                check_base64(val)
        elif key == "BOOL" or key == "NULL":
            if type(val) is not bool:
                raise scalar_type_error(val, "Boolean")
            if key == "NULL" and not val:
                err = err or _MSG_NULL_FALSE
        elif key == "M":
            if type(val) is not dict:
                raise map_type_error(val, _JAVA_AV, False)
            if level >= MAX_NESTING:
                raise errors.validation(MSG_NESTING)
            for name, sub in val.items():
                msg = walk(sub, level + 1) if sub is not None else MSG_EMPTY_AV
                if len(name) > 16383 or not name:
                    msg = msg or check_name(name)
                if msg is not None and err is None:
                    err = msg
        elif key == "L":
            if type(val) is not list:
                raise list_type_error(val, False)
            if level >= MAX_NESTING:
                raise errors.validation(MSG_NESTING)
            if val:
                for sub in val:
                    msg = walk(sub, level + 1) if sub is not None else MSG_EMPTY_AV
                    if msg is not None and err is None:
                        err = msg
        elif key == "SS":
            _check_string_members(val)
            if err is None:
                if not val:
                    err = _MSG_EMPTY_SS
                elif len(val) > 1:
                    if len(set(val)) != len(val):
                        err = _duplicates("SS", val)
                    else:
                        sort_set("SS", val)
        elif key == "NS":
            _check_string_members(val)
            if err is None:
                if not val:
                    err = _MSG_EMPTY_NS
                else:
                    for i, member in enumerate(val):
                        norm, msg = _number(member)
                        if msg is not None:
                            err = msg
                            break
                        if norm is not member:
                            val[i] = norm
                    if err is None and len(val) > 1:
                        if len(set(val)) != len(val):
                            err = _duplicates("NS", val)
                        else:
                            sort_set("NS", val)
        else:  # BS
            if type(val) is not list:
                raise list_type_error(val, False)
            for member in val:
                if type(member) is not str:
                    raise scalar_type_error(member, "Blob")
                if member:
                    check_base64(member)
            if err is None:
                if not val:
                    err = _MSG_EMPTY_BS
                elif len(val) > 1:
                    if len(set(val)) != len(val):
                        err = _duplicates("BS", val)
                    else:
                        sort_set("BS", val)
    if err is None and count != 1:
        err = MSG_EMPTY_AV if count == 0 else MSG_MULTI_AV
    return err


def sort_set(type_name: str, members: list[str]) -> list[str]:
    """Put a set's members (in place) in the order DynamoDB returns them: strings and
    binaries bytewise, numbers by value.  (Python orders str by code point, which is
    UTF-8 byte order; binaries are compared decoded.)"""
    if type_name == "SS":
        members.sort()
    elif type_name == "NS":
        members.sort(key=Decimal)
    else:
        members.sort(key=binascii.a2b_base64)
    return members


def _check_string_members(val: Any) -> None:
    """SS and NS travel as lists of JSON strings: anything else is a serialization error."""
    if type(val) is not list:
        raise list_type_error(val, False)
    for member in val:
        if type(member) is not str:
            raise scalar_type_error(member, "String")


def check_name(name: str) -> str | None:
    """Attribute-name rules: raises for a name over 65535 bytes; returns the empty-name problem."""
    if not name:
        return MSG_EMPTY_NAME
    if len(name) > 16383 and _utf8_len(name) > MAX_ATTRIBUTE_NAME_BYTES:
        raise errors.validation(MSG_NAME_TOO_LARGE)
    return None


def walk_map(attrs: Any, in_container: bool = False) -> str | None:
    """Walk a ``Map<String, AttributeValue>`` (Item, Key, ...); first value problem or None."""
    if type(attrs) is not dict:
        raise map_type_error(attrs, _JAVA_AV, in_container)
    err = None
    for name, val in attrs.items():
        msg = walk(val) if val is not None else MSG_EMPTY_AV
        if len(name) > 16383 or not name:
            msg = msg or check_name(name)
        if msg is not None and err is None:
            err = msg
    return err


def validate_attribute_value(av: Any) -> dict[str, Any]:
    """Validate and normalise (in place) one AttributeValue; return it or raise AWS's error."""
    msg = walk(av)
    if msg is not None:
        raise errors.validation(msg)
    return av


def validate_item(item: Any, max_size: int | None = MAX_ITEM_BYTES,
                  too_big_message: str = MSG_ITEM_TOO_BIG) -> dict[str, Any]:
    """Validate and normalise (in place) an item's values, then its size; return it."""
    msg = walk_map(item)
    if msg is not None:
        raise errors.validation(msg)
    if max_size is not None and item_size(item) > max_size:
        raise errors.validation(too_big_message)
    return item


# --- sizes ---------------------------------------------------------------------------

def _utf8_len(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def number_size(text: str) -> int:
    """Bytes of a normalised number: 1 + one per base-100 digit pair it spans.

    (1 byte per two significant digits, plus 1, as the Developer Guide puts it; the
    pairs are aligned on even powers of ten, as in DynamoDB's encoding.)  A negative
    number costs one byte more: DynamoDB sizes "-42" at 3 bytes (paritysuite's
    tier3 numberByteSize, captured from DynamoDB).
    """
    sign = 0
    if text[:1] == "-":
        text = text[1:]
        sign = 1
    dot = text.find(".")
    if dot < 0:
        stripped = text.rstrip("0")
        if not stripped:
            return 1  # zero
        lead = len(text) - 1  # power of ten of the leading digit
        count = len(stripped)
    else:
        int_part = text[:dot]
        frac = text[dot + 1:]
        if int_part != "0":
            lead = len(int_part) - 1
            count = len(int_part) + len(frac)
        else:
            significant = frac.lstrip("0")
            lead = -(len(frac) - len(significant)) - 1
            count = len(significant)
    last = lead - count + 1
    return lead // 2 - last // 2 + 2 + sign


def value_size(av: dict[str, Any]) -> int:
    """Size in bytes of one (normalised) AttributeValue, as DynamoDB counts it."""
    for key, val in av.items():
        if key == "S":
            return _utf8_len(val)
        if key == "N":
            return number_size(val)
        if key == "B":
            return binary_length(val)
        if key == "BOOL" or key == "NULL":
            return 1
        if key == "M":
            total = 3
            for name, sub in val.items():
                total += 1 + _utf8_len(name) + value_size(sub)
            return total
        if key == "L":
            total = 3
            for sub in val:
                total += 1 + value_size(sub)
            return total
        if key == "SS":
            return sum(_utf8_len(s) for s in val)
        if key == "NS":
            return sum(number_size(s) for s in val)
        if key == "BS":
            return sum(binary_length(s) for s in val)
    return 0


def item_size(item: dict[str, Any]) -> int:
    """Size in bytes of a (normalised) item: attribute name UTF-8 lengths plus value sizes.

    One write asks the size of the same item objects several times (the 400 KB check,
    table statistics, capacity units; a BatchWriteItem for 25 items at a time), so the
    last answers are remembered by object identity.  Items are never mutated once
    validated (updates build new dicts), and the memo holds a reference (so the id
    cannot be reused meanwhile), so an identity match is always exact.
    """
    memo = _SIZE_MEMO
    hit = memo.get(id(item))
    if hit is not None and hit[0] is item:
        return hit[1]
    total = 0
    for name, av in item.items():
        total += _utf8_len(name) + value_size(av)
    remember_size(item, total)
    return total


def attribute_size(name: str, av: dict[str, Any]) -> int:
    """One top-level attribute's share of its item's size (item sizes add these up)."""
    return _utf8_len(name) + value_size(av)


def remember_size(item: dict[str, Any], size: int) -> None:
    """Record ``item``'s size, worked out otherwise (see item_size), for later item_size calls."""
    memo = _SIZE_MEMO
    if len(memo) >= _SIZE_MEMO_MAX:
        del memo[next(iter(memo))]  # the oldest
    memo[id(item)] = (item, size)


_SIZE_MEMO: dict[int, tuple[Any, int]] = {}
_SIZE_MEMO_MAX = 64


# --- keys --------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class KeySchema:
    """A table's (or index's) primary key: partition key name/type, optional sort key."""

    hash_name: str
    hash_type: str  # S, N or B
    range_name: str | None = None
    range_type: str | None = None

    @property
    def names(self) -> tuple[str, ...]:
        return (self.hash_name,) if self.range_name is None else (self.hash_name, self.range_name)

    @classmethod
    def from_description(cls, key_schema: list[dict[str, Any]],
                         attribute_definitions: list[dict[str, Any]]) -> "KeySchema":
        """From CreateTable-style KeySchema + AttributeDefinitions lists."""
        types = {d["AttributeName"]: d["AttributeType"] for d in attribute_definitions}
        hash_name = range_name = None
        for element in key_schema:
            if element["KeyType"] == "HASH":
                hash_name = element["AttributeName"]
            else:
                range_name = element["AttributeName"]
        assert hash_name is not None
        return cls(hash_name, types[hash_name], range_name, types[range_name] if range_name else None)


def _parts(schema: Any) -> tuple[str, str, str | None, str | None]:
    """(hash name, hash type, range name, range type) of a KeySchema or a TableInfo-like object."""
    if type(schema) is KeySchema:
        return schema.hash_name, schema.hash_type, schema.range_name, schema.range_type
    h = schema.hash_key
    r = schema.range_key
    return h.name, h.type, (r.name if r is not None else None), (r.type if r is not None else None)


def _check_key_value(name: str, typ: str, val: Any, is_hash: bool) -> None:
    """Empty and size rules for one key attribute whose type is already known to be right."""
    if typ == "S":
        if not val:
            raise errors.request_level(errors.validation(
                "One or more parameter values are not valid. The AttributeValue for a key attribute cannot "
                f"contain an empty string value. Key: {name}"
            ))
        size = _utf8_len(val)
    elif typ == "B":
        if not val:
            raise errors.request_level(errors.validation(
                "One or more parameter values are not valid. The AttributeValue for a key attribute cannot "
                f"contain an empty binary value. Key: {name}"
            ))
        size = binary_length(val)
    else:
        return  # numbers are at most 21 bytes
    if is_hash:
        if size > MAX_HASH_KEY_BYTES:
            raise errors.validation(MSG_HASH_TOO_BIG)
    elif size > MAX_RANGE_KEY_BYTES:
        raise errors.validation(MSG_RANGE_TOO_BIG)


def _single(av: Any, typ: str) -> Any:
    """The value of ``av`` if it is exactly one ``typ`` value, else a sentinel."""
    if type(av) is dict and len(av) == 1:
        return av.get(typ, _MISSING)
    return _MISSING


_MISSING = object()


def validate_key(key: dict[str, Any], schema: Any) -> dict[str, Any]:
    """Check a Key (GetItem/UpdateItem/DeleteItem/...) against a table's key schema.

    ``schema`` is a ``KeySchema`` or any object with ``hash_key``/``range_key``
    (``name``, ``type``) attributes, such as ``catalog.TableInfo``.
    """
    hn, ht, rn, rt = _parts(schema)
    expected = 1 if rn is None else 2
    if len(key) != expected:
        raise errors.validation(MSG_NOT_SCHEMA)
    hv = _single(key.get(hn), ht)
    if hv is _MISSING:
        raise errors.validation(MSG_NOT_SCHEMA)
    rv = None
    if rn is not None:
        rv = _single(key.get(rn), rt)  # type: ignore[arg-type]
        if rv is _MISSING:
            raise errors.validation(MSG_NOT_SCHEMA)
    _check_key_value(hn, ht, hv, True)
    if rn is not None:
        _check_key_value(rn, rt, rv, False)  # type: ignore[arg-type]
    return key


def _item_key_attr(item: dict[str, Any], name: str, typ: str, is_hash: bool, as_schema: bool) -> None:
    av = item.get(name)
    if av is None:
        raise errors.validation(MSG_NOT_SCHEMA if as_schema else f"{INVALID}Missing the key {name} in the item")
    val = av.get(typ, _MISSING) if len(av) == 1 else _MISSING
    if val is _MISSING:
        actual = next(iter(av), "")
        raise errors.validation(
            MSG_NOT_SCHEMA if as_schema else f"{INVALID}Type mismatch for key {name} expected: {typ} actual: {actual}")
    _check_key_value(name, typ, val, is_hash)


def validate_item_key(item: dict[str, Any], schema: Any, *, as_schema: bool = False) -> dict[str, Any]:
    """Check that a (validated) item carries the table's key attributes, well typed and sized.

    ``as_schema``: a missing or mistyped key attribute reads "The provided key element does
    not match the schema", as BatchWriteItem's PutRequest says it (PutItem names the key)."""
    hn, ht, rn, rt = _parts(schema)
    _item_key_attr(item, hn, ht, True, as_schema)
    if rn is not None:
        _item_key_attr(item, rn, rt, False, as_schema)  # type: ignore[arg-type]
    return item


def extract_key(item: dict[str, Any], schema: Any) -> dict[str, Any]:
    """The key attributes of an item (which must carry them)."""
    hn, _, rn, _ = _parts(schema)
    if rn is None:
        return {hn: item[hn]}
    return {hn: item[hn], rn: item[rn]}
