"""DynamoDB numbers: up to 38 significant digits, magnitude 1E-130 .. 9.99..E+125.

Numbers travel as strings and are stored in their normalised form (``"1.50"`` ->
``"1.5"``, ``"-0"`` -> ``"0"``, ``"1E+2"`` -> ``"100"``), so that equal numbers
compare equal byte-for-byte and come back the way AWS returns them.
"""
from __future__ import annotations

import decimal
import re
from decimal import Decimal

from dynamodbforge import errors

# Enough precision that arithmetic on two legal numbers is exact before we check
# the 38-digit rule (AWS rejects results that need more digits, it does not round).
# Exponents unbounded: a sent exponent of any size is read exactly, so check() reports it
# (an Emax of 999999 made 1E100000000 infinite and 1E-100000000 zero).
_CTX = decimal.Context(prec=300, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN, traps=[decimal.InvalidOperation])

_NUMBER_RE = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\Z", re.ASCII)

MAX_DIGITS = 38  # "Attempting to store more than 38 significant digits in a Number"
MAX_EXPONENT = 125  # largest magnitude 9.9999999999999999999999999999999999999E+125
MIN_EXPONENT = -130  # smallest magnitude 1E-130
_LONG_MIN, _LONG_MAX = -(2 ** 63), 2 ** 63 - 1


def parse(text: str) -> Decimal:
    """Parse a wire number string, raising AWS's ValidationException when it is not legal."""
    literal = _NUMBER_RE.match(text) if isinstance(text, str) else None
    if literal is None:
        if not text:
            raise errors.validation("The parameter cannot be converted to a numeric value")
        raise errors.validation(f"The parameter cannot be converted to a numeric value: {text}")
    exp = literal.group(2)
    if exp is not None and not _LONG_MIN <= int(exp[1:]) <= _LONG_MAX:
        # DynamoDB's parsing needs the exponent in a signed 64-bit integer:
        # 1e9223372036854775808 "cannot be converted to a numeric value", where
        # 1e99999999999 is merely an overflow (paritysuite's numberExponent captures,
        # eu-west-2, October 2026)
        raise errors.validation(f"The parameter cannot be converted to a numeric value: {text}")
    value = _CTX.create_decimal(text)
    if not value.is_finite() or (value.is_zero() and any(c in "123456789" for c in literal.group(1))):
        # an exponent beyond even the context's unbounded range (over 10**17 digits)
        raise errors.validation(UNDERFLOW if value.is_zero() else OVERFLOW)
    if value.is_zero():
        # A zero's written exponent is range-checked too: DynamoDB refuses 0e126 as an
        # overflow and 0e-131 as an underflow (paritysuite's captures from DynamoDB).
        exponent = value.as_tuple().exponent
        assert isinstance(exponent, int)
        if exponent > MAX_EXPONENT:
            raise errors.validation(OVERFLOW)
        if exponent < MIN_EXPONENT:
            raise errors.validation(UNDERFLOW)
    check(value)
    return value


OVERFLOW = "Number overflow. Attempting to store a number with magnitude larger than supported range"
UNDERFLOW = "Number underflow. Attempting to store a number with magnitude smaller than supported range"


def check(value: Decimal, *, computed: bool = False) -> None:
    """Raise AWS's errors for a value outside DynamoDB's number range or precision.

    ``computed``: the value is the result of an update's arithmetic, for which DynamoDB
    reports too many digits as an overflow too (1E50 + 1: "Number overflow...", as seen by
    ScyllaDB Alternator's suite against DynamoDB), not as the 38-digit error of a value sent.
    """
    if value.is_zero():
        return
    sign, digits, exponent = value.normalize(_CTX).as_tuple()
    assert isinstance(exponent, int)
    if len(digits) > MAX_DIGITS:
        raise errors.validation(OVERFLOW if computed else
                                "Attempting to store more than 38 significant digits in a Number")
    magnitude = exponent + len(digits) - 1  # power of ten of the leading digit
    if magnitude > MAX_EXPONENT:
        raise errors.validation(OVERFLOW)
    if magnitude < MIN_EXPONENT:
        raise errors.validation(UNDERFLOW)


def format(value: Decimal) -> str:
    """The canonical string DynamoDB returns: no exponent, no trailing zeros, no '-0'."""
    if value.is_zero():
        return "0"
    value = value.normalize(_CTX)
    text = "{:f}".format(value)
    return text


def normalize(text: str) -> str:
    """Validate and canonicalise a wire number string."""
    return format(parse(text))


def to_decimal(text: str) -> Decimal:
    """Decimal of an already-normalised stored number (no validation)."""
    return _CTX.create_decimal(text)


def _integer(text: str) -> bool:
    """Whether a stored number is a plain integer ("42", "-7"): Python ints then do its
    arithmetic exactly, without Decimal (a counter's ``SET #c = #c + :one``)."""
    body = text[1:] if text[:1] == "-" else text
    return body.isdigit() and body.isascii()


def _small_integer_result(total: int) -> str | None:
    """The canonical text of an integer result, when no range or precision rule can apply
    (at most 38 digits); None: let Decimal check it."""
    text = str(total)
    return text if len(text) - (total < 0) <= MAX_DIGITS else None


def add(a: str, b: str) -> str:
    """a + b as DynamoDB computes it (exact; range and precision checked)."""
    if _integer(a) and _integer(b):
        text = _small_integer_result(int(a) + int(b))
        if text is not None:
            return text
    result = _CTX.add(to_decimal(a), to_decimal(b))
    check(result, computed=True)
    return format(result)


def subtract(a: str, b: str) -> str:
    if _integer(a) and _integer(b):
        text = _small_integer_result(int(a) - int(b))
        if text is not None:
            return text
    result = _CTX.subtract(to_decimal(a), to_decimal(b))
    check(result, computed=True)
    return format(result)


def compare(a: str, b: str) -> int:
    """-1, 0 or 1 comparing two numbers numerically."""
    if _integer(a) and _integer(b):
        ia, ib = int(a), int(b)
        return -1 if ia < ib else (1 if ia > ib else 0)
    da, db = to_decimal(a), to_decimal(b)
    return -1 if da < db else (1 if da > db else 0)


def decompose(text: str) -> tuple[int, tuple[int, ...], int]:
    """(sign, significant digits, exponent) of a non-zero stored number, exactly."""
    sign, digits, exponent = to_decimal(text).normalize(_CTX).as_tuple()
    assert isinstance(exponent, int)
    return sign, digits, exponent


def older_layer_wraps(text: str) -> bool:
    """Whether DynamoDB's older validation layer reports an overflowing literal as an
    *underflow*: its precision minus its scale no longer fits a 32-bit integer and wraps
    negative (1e2147483647: paritysuite's valueLayers capture, four regions, 2026-10-09;
    the newer layer says overflow).  Only that one literal is captured; the rule is inferred."""
    literal = _NUMBER_RE.match(text)
    if literal is None or literal.group(2) is None:
        return False
    whole, _, frac = literal.group(1).partition(".")
    digits = (whole + frac).lstrip("0")
    if not digits:
        return False
    scale = len(frac) - int(literal.group(2)[1:])
    if not -(2 ** 31) <= scale <= 2 ** 31 - 1:
        return False
    return len(digits) - scale > 2 ** 31 - 1

