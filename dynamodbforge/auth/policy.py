"""A pure IAM identity-policy evaluator, as IAM evaluates identity-based policies.

    evaluate(policies, action, resource_arn, context) -> "Allow" | "Deny" | "ImplicitDeny"

Explicit Deny wins, then Allow, else implicit deny.  Supported: Action/NotAction with
``*``/``?`` wildcards (case-insensitive), Resource/NotResource (ARN matched component by
component, wildcards, policy variables such as ``${aws:username}``), and Condition
operators String*, Numeric*, Date*, Bool, BinaryEquals, IpAddress/NotIpAddress, Arn*,
Null, each with ``...IfExists`` and the ``ForAllValues:``/``ForAnyValue:`` set
qualifiers.  ``context`` maps condition keys (any case) to a string, a list of strings,
or None/absent.  Policies are JSON documents (dicts) or ``compile_policy`` results.
"""
from __future__ import annotations

import base64
import functools
import ipaddress
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Iterable, Mapping

ALLOW = "Allow"
DENY = "Deny"
IMPLICIT_DENY = "ImplicitDeny"

Context = Mapping[str, Any]


class PolicyError(ValueError):
    """A policy document IAM would refuse (MalformedPolicyDocument)."""


# --- wildcards and policy variables ---------------------------------------------

@functools.lru_cache(maxsize=4096)
def _glob(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    out = []
    for ch in pattern:
        if ch == "*":
            out.append(".*")
        elif ch == "?":
            out.append(".")
        else:
            out.append(re.escape(ch))
    return re.compile("".join(out), re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def glob_match(pattern: str, value: str, ignore_case: bool = False) -> bool:
    return _glob(pattern, ignore_case).fullmatch(value) is not None


_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_SPECIAL = {"*": "*", "?": "?", "$": "$"}


class _Unresolved(Exception):
    pass


def substitute(text: str, context: Context) -> str:
    """Replace ``${key}`` / ``${key, 'default'}`` policy variables; a key that is absent
    and has no default makes the element fail to match (raises _Unresolved)."""
    if "${" not in text:
        return text

    def repl(match: re.Match[str]) -> str:
        inner = match.group(1)
        if inner in _SPECIAL:
            return "\\" + inner if inner in "*?" else "$"
        name, comma, default = inner.partition(",")
        value = _lookup(context, name.strip())
        if isinstance(value, list):
            value = value[0] if len(value) == 1 else None
        if value is None:
            if comma:
                return default.strip().strip("'")
            raise _Unresolved(name)
        return str(value).replace("*", "\\*").replace("?", "\\?")

    return _VARIABLE.sub(repl, text)


def _literal(text: str) -> str:
    return text.replace("\\*", "*").replace("\\?", "?")


def _glob_escaped(pattern: str, value: str, ignore_case: bool = False) -> bool:
    """Glob match where ``\\*``/``\\?`` (from ${*}, ${?} or substituted values) are literal."""
    if "\\" not in pattern:
        return glob_match(pattern, value, ignore_case)
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern) and pattern[i + 1] in "*?":
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if ch == "*" else "." if ch == "?" else re.escape(ch))
        i += 1
    return re.fullmatch("".join(out), value, re.DOTALL | (re.IGNORECASE if ignore_case else 0)) is not None


def _lookup(context: Context, key: str) -> Any:
    value = context.get(key)
    if value is None:
        value = context.get(key.lower())
    return value


# --- ARN matching -----------------------------------------------------------------

def arn_match(pattern: str, arn: str) -> bool:
    if pattern == "*":
        return True
    p_parts = pattern.split(":", 5)
    a_parts = arn.split(":", 5)
    if len(p_parts) != 6 or len(a_parts) != 6:
        return _glob_escaped(pattern, arn)
    return all(_glob_escaped(p, a) for p, a in zip(p_parts, a_parts))


# --- conditions ----------------------------------------------------------------------

def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _policy_str(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _to_number(text: str) -> Decimal | None:
    try:
        return Decimal(text)
    except (InvalidOperation, ValueError):
        return None


def _to_date(text: str) -> datetime | None:
    text = text.strip()
    try:
        if re.fullmatch(r"-?\d+(\.\d+)?", text):
            return datetime.fromtimestamp(float(text), timezone.utc)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except (ValueError, OverflowError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _cmp(convert: Callable[[str], Any], test: Callable[[Any, Any], bool]) -> Callable[[str, str, Context], bool]:
    def match(request_value: str, policy_value: str, _ctx: Context) -> bool:
        a, b = convert(request_value), convert(policy_value)
        return a is not None and b is not None and test(a, b)
    return match


def _string_equals(ignore_case: bool) -> Callable[[str, str, Context], bool]:
    def match(request_value: str, policy_value: str, ctx: Context) -> bool:
        try:
            expected = _literal(substitute(policy_value, ctx))
        except _Unresolved:
            return False
        if ignore_case:
            return request_value.lower() == expected.lower()
        return request_value == expected
    return match


def _string_like(request_value: str, policy_value: str, ctx: Context) -> bool:
    try:
        pattern = substitute(policy_value, ctx)
    except _Unresolved:
        return False
    return _glob_escaped(pattern, request_value)


def _arn_like(request_value: str, policy_value: str, ctx: Context) -> bool:
    try:
        pattern = substitute(policy_value, ctx)
    except _Unresolved:
        return False
    return arn_match(pattern, request_value)


def _bool(request_value: str, policy_value: str, _ctx: Context) -> bool:
    return request_value.lower() == policy_value.lower()


def _ip(request_value: str, policy_value: str, _ctx: Context) -> bool:
    try:
        return ipaddress.ip_address(request_value) in ipaddress.ip_network(policy_value, strict=False)
    except ValueError:
        return False


def _binary(request_value: str, policy_value: str, _ctx: Context) -> bool:
    try:
        return base64.b64decode(request_value) == base64.b64decode(policy_value)
    except ValueError:
        return False


# name -> (matcher, negated)
_OPERATORS: dict[str, tuple[Callable[[str, str, Context], bool], bool]] = {
    "stringequals": (_string_equals(False), False),
    "stringnotequals": (_string_equals(False), True),
    "stringequalsignorecase": (_string_equals(True), False),
    "stringnotequalsignorecase": (_string_equals(True), True),
    "stringlike": (_string_like, False),
    "stringnotlike": (_string_like, True),
    "numericequals": (_cmp(_to_number, lambda a, b: a == b), False),
    "numericnotequals": (_cmp(_to_number, lambda a, b: a == b), True),
    "numericlessthan": (_cmp(_to_number, lambda a, b: a < b), False),
    "numericlessthanequals": (_cmp(_to_number, lambda a, b: a <= b), False),
    "numericgreaterthan": (_cmp(_to_number, lambda a, b: a > b), False),
    "numericgreaterthanequals": (_cmp(_to_number, lambda a, b: a >= b), False),
    "dateequals": (_cmp(_to_date, lambda a, b: a == b), False),
    "datenotequals": (_cmp(_to_date, lambda a, b: a == b), True),
    "datelessthan": (_cmp(_to_date, lambda a, b: a < b), False),
    "datelessthanequals": (_cmp(_to_date, lambda a, b: a <= b), False),
    "dategreaterthan": (_cmp(_to_date, lambda a, b: a > b), False),
    "dategreaterthanequals": (_cmp(_to_date, lambda a, b: a >= b), False),
    "bool": (_bool, False),
    "binaryequals": (_binary, False),
    "ipaddress": (_ip, False),
    "notipaddress": (_ip, True),
    "arnequals": (_arn_like, False),
    "arnlike": (_arn_like, False),
    "arnnotequals": (_arn_like, True),
    "arnnotlike": (_arn_like, True),
}


@dataclass(frozen=True, slots=True)
class _Test:
    key: str
    values: tuple[str, ...]
    matcher: Callable[[str, str, Context], bool] | None  # None: the Null operator
    negated: bool
    if_exists: bool
    qualifier: str  # "", "forallvalues", "foranyvalue"

    def holds(self, context: Context) -> bool:
        raw = _lookup(context, self.key)
        if self.matcher is None:  # Null: "true" means the key must be absent
            absent = raw is None or raw == []
            return any((v.lower() == "true") == absent for v in self.values)
        present = raw is not None and raw != []
        request_values = [str(v) for v in _as_list(raw)] if present else []
        if self.qualifier == "forallvalues":
            # Every request value must match; an absent or empty key passes.
            return all(self._one(v, context) for v in request_values)
        if self.qualifier == "foranyvalue":
            if not request_values:
                return self.if_exists
            return any(self._one(v, context) for v in request_values)
        if not present:
            return self.if_exists or self.negated
        return any(self._one(v, context) for v in request_values) if not self.negated else all(
            self._one(v, context) for v in request_values
        )

    def _one(self, request_value: str, context: Context) -> bool:
        assert self.matcher is not None
        hit = any(self.matcher(request_value, policy_value, context) for policy_value in self.values)
        return not hit if self.negated else hit


def _compile_condition(block: Any) -> tuple[_Test, ...]:
    if block is None:
        return ()
    if not isinstance(block, dict):
        raise PolicyError("Condition must be an object")
    tests = []
    for op_name, keys in block.items():
        qualifier, _, operator = op_name.rpartition(":")
        qualifier = qualifier.lower()
        if qualifier not in ("", "forallvalues", "foranyvalue"):
            raise PolicyError(f"unknown condition set qualifier: {op_name}")
        op = operator.lower()
        if_exists = op.endswith("ifexists") and op != "ifexists"
        if if_exists:
            op = op[: -len("ifexists")]
        if op == "null":
            matcher, negated = None, False
        elif op in _OPERATORS:
            matcher, negated = _OPERATORS[op]
        else:
            raise PolicyError(f"unknown condition operator: {op_name}")
        if not isinstance(keys, dict):
            raise PolicyError(f"condition operator {op_name} must map keys to values")
        for key, values in keys.items():
            tests.append(_Test(key.lower(), tuple(_policy_str(v) for v in _as_list(values)), matcher, negated,
                               if_exists, qualifier))
    return tuple(tests)


# --- statements and policies ----------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Statement:
    effect: str
    actions: tuple[str, ...] | None
    not_actions: tuple[str, ...] | None
    resources: tuple[str, ...] | None
    not_resources: tuple[str, ...] | None
    conditions: tuple[_Test, ...]

    def matches(self, action: str, resource: str, context: Context) -> bool:
        if self.actions is not None:
            if not any(glob_match(p, action, True) for p in self.actions):
                return False
        elif self.not_actions is not None and any(glob_match(p, action, True) for p in self.not_actions):
            return False
        if self.resources is not None:
            if not any(_resource_match(p, resource, context) for p in self.resources):
                return False
        elif self.not_resources is not None and any(_resource_match(p, resource, context) for p in self.not_resources):
            return False
        return all(test.holds(context) for test in self.conditions)


def _resource_match(pattern: str, resource: str, context: Context) -> bool:
    try:
        pattern = substitute(pattern, context)
    except _Unresolved:
        return False
    return arn_match(pattern, resource)


@dataclass(frozen=True, slots=True)
class Policy:
    statements: tuple[Statement, ...]


def _strings(value: Any, element: str) -> tuple[str, ...]:
    items = _as_list(value)
    if not all(isinstance(v, str) for v in items):
        raise PolicyError(f"{element} must be a string or a list of strings")
    return tuple(items)


def compile_policy(document: Any) -> Policy:
    if isinstance(document, Policy):
        return document
    if isinstance(document, str):
        import json

        document = json.loads(document)
    if not isinstance(document, dict) or "Statement" not in document:
        raise PolicyError("a policy document must be an object with a Statement")
    statements = []
    for raw in _as_list(document["Statement"]):
        if not isinstance(raw, dict):
            raise PolicyError("each Statement must be an object")
        effect = raw.get("Effect")
        if effect not in (ALLOW, DENY):
            raise PolicyError("Effect must be Allow or Deny")
        if ("Action" in raw) == ("NotAction" in raw):
            raise PolicyError("a Statement needs exactly one of Action and NotAction")
        if ("Resource" in raw) == ("NotResource" in raw):
            raise PolicyError("a Statement needs exactly one of Resource and NotResource")
        statements.append(Statement(
            effect,
            _strings(raw["Action"], "Action") if "Action" in raw else None,
            _strings(raw["NotAction"], "NotAction") if "NotAction" in raw else None,
            _strings(raw["Resource"], "Resource") if "Resource" in raw else None,
            _strings(raw["NotResource"], "NotResource") if "NotResource" in raw else None,
            _compile_condition(raw.get("Condition")),
        ))
    return Policy(tuple(statements))


def evaluate(policies: Iterable[Any], action: str, resource_arn: str, context: Context) -> str:
    """IAM's decision for one (action, resource) request under identity policies."""
    allowed = False
    for policy in policies:
        for statement in compile_policy(policy).statements:
            if statement.effect == ALLOW and allowed:
                continue  # an Allow is already known; only a Deny can change the answer
            if statement.matches(action, resource_arn, context):
                if statement.effect == DENY:
                    return DENY
                allowed = True
    return ALLOW if allowed else IMPLICIT_DENY
