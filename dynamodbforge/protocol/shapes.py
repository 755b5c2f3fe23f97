"""Declarative request shapes and the generic walker that checks them like AWS.

One pass over the request does both of AWS's first two stages:

* **types** — a JSON value of the wrong JSON type raises ``SerializationException``
  at once (AWS finds these while deserialising, before any constraint check);
* **constraints** — not-null, length, range, pattern and enum violations are
  collected and, if any, raised together as AWS's aggregated ValidationException
  (``"N validation error(s) detected: ...; ..."``, at most 10 reported), ordered by
  the shape's declared field order.

AttributeValues are walked by ``attributes.walk`` in the same pass; their value
problems (ValidationExceptions AWS reports later, in operation-specific order) are
kept in ``Ctx.av_errors`` keyed by the id() of the map/value they belong to.

Unknown fields are ignored.  JSON ``null`` is treated as absent (and removed from
structures, so operations never see ``None``).
"""
from __future__ import annotations

import re
import zlib
from typing import Any

from dynamodbforge import errors
from dynamodbforge.protocol import attributes as A

MAX_REPORTED = 10


class Ctx:
    """Per-request walk state."""

    __slots__ = ("errors", "av_errors", "newer_framework", "nesting", "generic", "deferred")

    def __init__(self, newer_framework: bool = False) -> None:
        self.errors: list[str] = []
        self.av_errors: dict[int, tuple[str, str]] = {}  # id(map or value) -> (key, message)
        # the operation's request checks have moved to DynamoDB's newer validation framework
        # (see validate.NEWER_FRAMEWORK), which words some messages differently
        self.newer_framework = newer_framework
        self.nesting = False  # a value nested too deep was found (see _nesting)
        self.generic: list[str] | None = None  # errors in the newer framework's words (fail_generic)
        self.deferred: list[str] | None = None  # reported only when nothing else is (MapOf.defer_key_errors)

    def fail(self, path: str, value: Any, message: str, java: str = "Structure") -> None:
        self.errors.append(f"Value {render(value, java)} at '{path}' failed to satisfy constraint: {message}")

    def fail_generic(self, path: str, message: str) -> None:
        """The wording of DynamoDB's newer validation framework, which some members have
        moved to (2026 captures by the paritysuite and nubo-db conformance suites): no echo
        of the value, the member path in the request's own spelling ("Value at
        'RequestItems.t.member.Keys'")."""
        text = f"Value at '{_request_spelling(path)}' failed to satisfy constraint: {message}"
        self.errors.append(text)
        if self.generic is None:
            self.generic = []
        self.generic.append(text)


def _request_spelling(path: str) -> str:
    """``requestItems.t.member.keys`` -> ``RequestItems.t.member.Keys``: member names get
    their capital back; list indexes, "member" and the keys of RequestItems stay as they are."""
    out: list[str] = []
    previous = ""
    for segment in path.split("."):
        if segment == "member" or segment.isdigit() or previous == "requestItems":
            out.append(segment)
        else:
            out.append(segment[:1].upper() + segment[1:])
        previous = segment
    return ".".join(out)


# --- value rendering, as AWS (Java) prints values in constraint messages --------------

def _inner(value: Any, java: str = "Structure") -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if type(value) is str:
        return value
    if type(value) is list:
        return "[" + ", ".join(_inner(v, java) for v in value) + "]"
    if type(value) is dict and java == "Map":  # a Java Map prints as {k=v, ...}
        return "{" + ", ".join(f"{k}={_inner(v)}" for k, v in value.items()) + "}"
    if type(value) is dict:
        # A structure prints as Java's default Object.toString() (class@hash) in
        # AWS's messages; the hash cannot be reproduced, so derive a stable one.
        digest = zlib.crc32(repr(sorted(value.items(), key=lambda kv: kv[0])).encode()) & 0x7FFFFFFF
        return f"{A._JAVA_PKG}{java}@{digest:x}"
    if type(value) is float and value.is_integer():
        return str(int(value))
    return str(value)


def render(value: Any, java: str = "Structure") -> str:
    """``null`` or ``'...'`` as AWS renders a value in 'Value ... at ...' messages."""
    return "null" if value is None else "'" + _inner(value, java) + "'"


def lower_first(name: str) -> str:
    return name[:1].lower() + name[1:]


# --- shapes -------------------------------------------------------------------------

class Shape:
    __slots__ = ("not_null",)

    def __init__(self, not_null: bool = False) -> None:
        self.not_null = not_null

    def walk(self, value: Any, path: str, ctx: Ctx, in_container: bool) -> None:  # value is not None
        raise NotImplementedError


class Str(Shape):
    __slots__ = ("enum", "enum_text", "pattern", "regex", "min_len", "max_len", "generic")

    def __init__(self, not_null: bool = False, *, enum: tuple[str, ...] | None = None,
                 pattern: str | None = None, min_len: int | None = None, max_len: int | None = None,
                 generic: bool = False) -> None:
        super().__init__(not_null)
        self.generic = generic  # length errors in the newer framework's words (Ctx.fail_generic)
        self.enum = frozenset(enum) if enum else None
        self.enum_text = "Member must satisfy enum value set: [" + ", ".join(enum) + "]" if enum else ""
        self.pattern = pattern
        self.regex = re.compile(pattern).fullmatch if pattern else None
        self.min_len = min_len
        self.max_len = max_len

    def walk(self, value: Any, path: str, ctx: Ctx, in_container: bool) -> None:
        if type(value) is not str:
            raise A.scalar_type_error(value, "String")
        if self.enum is not None and value not in self.enum:
            ctx.fail(path, value, self.enum_text)
        if self.regex is not None and not self.regex(value):
            ctx.fail(path, value, f"Member must satisfy regular expression pattern: {self.pattern}")
        if self.min_len is not None and len(value) < self.min_len:
            _fail(ctx, self.generic, path, value, f"Member must have length greater than or equal to {self.min_len}")
        if self.max_len is not None and len(value) > self.max_len:
            _fail(ctx, self.generic, path, value, f"Member must have length less than or equal to {self.max_len}")


def _fail(ctx: Ctx, generic: bool, path: str, value: Any, message: str, java: str = "Structure") -> None:
    if generic:
        ctx.fail_generic(path, message)
    else:
        ctx.fail(path, value, message, java)


class Num(Shape):
    """Long or Integer (``java`` names the Java type in serialization messages)."""

    __slots__ = ("java", "minimum", "maximum", "generic")

    def __init__(self, not_null: bool = False, *, java: str = "Long",
                 minimum: int | None = None, maximum: int | None = None, generic: bool = False) -> None:
        super().__init__(not_null)
        self.generic = generic
        self.java = java
        self.minimum = minimum
        self.maximum = maximum

    def walk(self, value: Any, path: str, ctx: Ctx, in_container: bool) -> None:
        t = type(value)
        if t is not int:
            if t is not float:
                raise A.scalar_type_error(value, self.java)
        if self.minimum is not None and value < self.minimum:
            _fail(ctx, self.generic, path, value, f"Member must have value greater than or equal to {self.minimum}")
        if self.maximum is not None and value > self.maximum:
            _fail(ctx, self.generic, path, value, f"Member must have value less than or equal to {self.maximum}")


class Bool(Shape):
    __slots__ = ()

    def walk(self, value: Any, path: str, ctx: Ctx, in_container: bool) -> None:
        if type(value) is not bool:
            raise A.scalar_type_error(value, "Boolean")


class ListOf(Shape):
    __slots__ = ("member", "min_len", "max_len", "generic")

    def __init__(self, member: Shape, not_null: bool = False, *,
                 min_len: int | None = None, max_len: int | None = None, generic: bool = False) -> None:
        super().__init__(not_null)
        self.generic = generic
        self.member = member
        self.min_len = min_len
        self.max_len = max_len

    def _java(self) -> str:
        return _member_java(self.member)

    def walk(self, value: Any, path: str, ctx: Ctx, in_container: bool) -> None:
        if type(value) is not list:
            raise A.list_type_error(value, in_container)
        n = len(value)
        if self.min_len is not None and n < self.min_len:
            _fail(ctx, self.generic, path, value, f"Member must have length greater than or equal to {self.min_len}",
                  self._java())
        if self.max_len is not None and n > self.max_len:
            _fail(ctx, self.generic, path, value, f"Member must have length less than or equal to {self.max_len}",
                  self._java())
        member = self.member
        for i, item in enumerate(value):
            if item is None:
                if member.not_null:
                    ctx.fail(f"{path}.{i + 1}.member", None, "Member must not be null")
                continue
            member.walk(item, f"{path}.{i + 1}.member", ctx, True)


def _member_java(shape: Shape) -> str:
    return getattr(shape, "java", "Structure") if isinstance(shape, Struct) else "Structure"


class MapOf(Shape):
    __slots__ = ("value", "java", "min_len", "max_len", "key_checks", "value_checks", "generic", "echo",
                 "defer_key_errors")

    def __init__(self, value: Shape, java: str, not_null: bool = False, *,
                 min_len: int | None = None, max_len: int | None = None,
                 key_checks: tuple[tuple[str, Any], ...] = (),
                 value_checks: tuple[tuple[str, Any], ...] = (),
                 generic: bool = False, echo: Any = None, defer_key_errors: bool = False) -> None:
        super().__init__(not_null)
        self.defer_key_errors = defer_key_errors  # a bad key is reported only if nothing else is
        self.generic = generic  # length errors in the newer framework's words
        self.echo = echo  # value -> how a key/value check's message shows the whole map
        self.value = value
        self.java = java  # Java type of the values, e.g. java.lang.String
        self.min_len = min_len
        self.max_len = max_len
        self.key_checks = key_checks  # ((constraint text, predicate on key), ...)
        self.value_checks = value_checks  # ((constraint text, predicate on value), ...)

    def walk(self, value: Any, path: str, ctx: Ctx, in_container: bool) -> None:
        if type(value) is not dict:
            raise A.map_type_error(value, self.java, in_container)
        n = len(value)
        if self.min_len is not None and n < self.min_len:
            _fail(ctx, self.generic, path, value, f"Member must have length greater than or equal to {self.min_len}")
        if self.max_len is not None and n > self.max_len:
            _fail(ctx, self.generic, path, value, f"Member must have length less than or equal to {self.max_len}")
        if self.key_checks:
            for key in value:
                if not all(pred(key) for _, pred in self.key_checks):
                    texts = ", ".join(text for text, _ in self.key_checks)
                    mark = len(ctx.errors)
                    self._fail_whole(ctx, path, value, f"Map keys must satisfy constraint: [{texts}]")
                    if self.defer_key_errors:
                        ctx.deferred = (ctx.deferred or []) + ctx.errors[mark:]
                        del ctx.errors[mark:]
                    break
        if self.value_checks:
            for item in value.values():
                if item is not None and not all(pred(item) for _, pred in self.value_checks):
                    texts = ", ".join(text for text, _ in self.value_checks)
                    self._fail_whole(ctx, path, value, f"Map value must satisfy constraint: [{texts}]")
                    break
        shape = self.value
        for key, item in value.items():
            if item is None:
                continue
            shape.walk(item, f"{path}.{key}.member", ctx, True)

    def _fail_whole(self, ctx: Ctx, path: str, value: dict[str, Any], message: str) -> None:
        if self.echo is not None:
            ctx.errors.append(f"Value '{self.echo(value)}' at '{path}' failed to satisfy constraint: {message}")
        else:
            ctx.fail(path, value, message, "Map" if message.startswith("Map value") else "Structure")


class Struct(Shape):
    """A structure; ``fields`` in AWS's constraint-report order."""

    __slots__ = ("java", "fields", "order", "wire_names")

    def __init__(self, java: str, fields: dict[str, Shape], not_null: bool = False) -> None:
        super().__init__(not_null)
        self.java = java
        self.fields = fields
        self.order = {name: i for i, name in enumerate(fields)}
        self.wire_names = {name: lower_first(name) for name in fields}

    def walk(self, value: Any, path: str, ctx: Ctx, in_container: bool) -> None:
        if type(value) is not dict:
            raise A.structure_type_error(value, self.java, in_container)
        self.walk_fields(value, path, ctx)

    def walk_fields(self, value: dict[str, Any], path: str, ctx: Ctx) -> None:
        fields = self.fields
        errs = ctx.errors
        buckets: dict[int, list[str]] | None = None
        nulls: list[str] | None = None
        prefix = path + "." if path else ""
        # Types are checked in document order (as AWS deserialises) ...
        for name, item in value.items():
            shape = fields.get(name)
            if shape is None:
                continue
            if item is None:
                (nulls := nulls or []).append(name)
                continue
            mark = len(errs)
            shape.walk(item, prefix + self.wire_names[name], ctx, False)
            if len(errs) != mark:
                if buckets is None:
                    buckets = {}
                buckets[self.order[name]] = errs[mark:]
                del errs[mark:]
        if nulls:
            for name in nulls:
                del value[name]
        # ... and constraint errors are reported in declared field order.
        for i, (name, shape) in enumerate(fields.items()):
            if shape.not_null and name not in value:
                errs.append(f"Value null at '{prefix}{self.wire_names[name]}' failed to satisfy constraint: "
                            "Member must not be null")
            if buckets is not None and i in buckets:
                errs.extend(buckets[i])


class AttrValue(Shape):
    """One AttributeValue (e.g. Expected.x.Value, ExclusiveStartKey values)."""

    __slots__ = ()

    def walk(self, value: Any, path: str, ctx: Ctx, in_container: bool) -> None:
        try:
            msg = A.walk(value, 1, in_container)
        except errors.DynamoDBError as exc:
            msg = _nesting(exc, ctx)
        if msg is not None:
            ctx.av_errors[id(value)] = ("", _worded(msg, ctx))


def _worded(msg: str, ctx: Ctx) -> str:
    """A value problem's message in the words of the operation's validation layer."""
    return msg.newer if ctx.newer_framework and type(msg) is A.Wording else str(msg)


def _nesting(exc: errors.DynamoDBError, ctx: Ctx) -> str:
    """A value nested too deep is a value problem like the others, reported where the
    request's checks reach it: after the constraint errors (an unknown ReturnValues or
    ConditionalOperator) and the checks before it (paritysuite's validation-ordering
    captures), not the moment the walk finds it."""
    if exc.message != A.MSG_NESTING:
        raise exc
    ctx.nesting = True
    return exc.message


class AttrMap(Shape):
    """``Map<String, AttributeValue>`` (Item, Key, ExpressionAttributeValues, ...)."""

    __slots__ = ()

    def walk(self, value: Any, path: str, ctx: Ctx, in_container: bool) -> None:
        if type(value) is not dict:
            raise A.map_type_error(value, A._JAVA_AV, in_container)
        # Which problem is reported (paritysuite's deepRequests captures): an empty name at
        # this level, then a value nested too deep anywhere, then the first other problem.
        found = name_problem = too_deep = None
        for key, av in value.items():
            try:
                msg = A.walk(av) if av is not None else A.MSG_EMPTY_AV
            except errors.DynamoDBError as exc:
                msg = _nesting(exc, ctx)
                if too_deep is None:
                    too_deep = (key, msg)
            if (len(key) > 16383 or not key) and name_problem is None:
                problem = A.check_name(key)
                if problem is not None:
                    name_problem = (key, problem)
            if msg is not None and found is None:
                found = (key, msg)
        chosen = name_problem or too_deep or found
        if chosen is not None:
            ctx.av_errors[id(value)] = (chosen[0], _worded(chosen[1], ctx))


def raise_collected(ctx: Ctx) -> None:
    if ctx.generic:
        # the newer framework reports its first violation alone (paritysuite: a too long
        # ClientRequestToken alone, not with an unknown ReturnConsumedCapacity)
        raise errors.validation("1 validation error detected: " + ctx.generic[0])
    errs = ctx.errors or ctx.deferred or ()
    if errs:
        n = min(len(errs), MAX_REPORTED)
        plural = "s" if n > 1 else ""
        raise errors.validation(f"{n} validation error{plural} detected: " + "; ".join(errs[:n]))
