"""Resolve phase: bind ``#name``/``:value`` for one request, run the request-dependent
checks (AWS's precedence per expression kind) and build the evaluation closures.
"""
from __future__ import annotations

from typing import Any, Callable, NamedTuple

from dynamodbforge.expressions import ast as A
from dynamodbforge.expressions import comparisons as C
from dynamodbforge.expressions import evaluate as E
from dynamodbforge.expressions import update as U
from dynamodbforge.expressions.ast import path_str
from dynamodbforge.expressions.compiled import Condition, KeyCondition, Projection, Update
from dynamodbforge.expressions.parser import CONDITION_FUNCTIONS, ExpressionError

AV = dict[str, Any]

MAX_IN_OPERANDS = 100  # including the left-hand operand
_ANY_TYPE = "{NS,SS,L,BS,N,M,B,BOOL,NULL,S}"
_VALID_TYPES = "{B,NULL,SS,BOOL,L,BS,N,NS,S,M}"
_TYPE_WORDS = {
    "S": "STRING", "N": "NUMBER", "B": "BINARY", "NULL": "NULL", "BOOL": "BOOLEAN",
    "L": "LIST", "M": "MAP", "SS": "SS", "NS": "NS", "BS": "BS",
}
_CONDITION_ORDER = ("ref", "operand", "distinct", "function")
_UPDATE_ORDER = ("name", "value", "overlap", "conflict", "operand", "function")
_PROJECTION_ORDER = ("name", "overlap", "conflict")
_MISSING: E.OperandFn = lambda item: None  # noqa: E731  (placeholder after an error)


def _wrong_type(fn: str, t: str) -> str:
    return f"Incorrect operand type for operator or function; operator or function: {fn}, operand type: {t}"


def _wrong_count(fn: str, n: int) -> str:
    return f"Incorrect number of operands for operator or function; operator or function: {fn}, number of operands: {n}"


class _Op(NamedTuple):
    fn: E.OperandFn
    type: str | None  # statically known type: a :value's type, or N for size()
    path: tuple | None  # resolved document path
    literal: AV | None  # the :value


class Resolver:
    """Resolution state for one expression of one request."""

    def __init__(self, names: dict, values: dict, used_names: set, used_values: set, order: tuple) -> None:
        self.names = names
        self.values = values
        self.used_names = used_names
        self.used_values = used_values
        self.order = order
        self.errors: dict[str, str] = {}
        split = "name" in order
        self.name_category = "name" if split else "ref"
        self.value_category = "value" if split else "ref"
        self.seen_paths: list[tuple] = []
        self.overlap_found = False

    def note(self, category: str, message: str) -> None:
        self.errors.setdefault(category, message)

    def raise_first(self) -> None:
        if self.order is WRITTEN_ORDER:  # the first error in the expression's written order
            for message in self.errors.values():
                raise ExpressionError(message)
        for category in self.order:
            if category in self.errors:
                raise ExpressionError(self.errors[category])

    # --- references ------------------------------------------------------------
    def path(self, node: A.PathExpr) -> tuple | None:
        out: list[A.PathElement] = []
        for element in node.elements:
            if type(element) is str and element[0] == "#":
                name = self.names.get(element)
                if name is None:
                    self.note(
                        self.name_category,
                        "An expression attribute name used in the document path is not defined; "
                        f"attribute name: {element}",
                    )
                    return None
                self.used_names.add(element)
                out.append(name)
            else:
                out.append(element)
        return tuple(out)

    def value(self, ref: str) -> AV | None:
        value = self.values.get(ref)
        if value is None:
            self.note(
                self.value_category,
                f"An expression attribute value used in expression is not defined; attribute value: {ref}",
            )
            return None
        self.used_values.add(ref)
        return value

    def check_overlap(self, path: tuple) -> None:
        """AWS's overlap/conflict rules between document paths of one expression."""
        if self.overlap_found:
            return
        for earlier in self.seen_paths:
            for a, b in zip(earlier, path):
                if type(a) is not type(b):
                    self.note(
                        "conflict",
                        "Two document paths conflict with each other; must remove or rewrite one of these "
                        f"paths; path one: {path_str(earlier)}, path two: {path_str(path)}",
                    )
                    break
                if a != b:
                    break
            else:
                self.overlap_found = True
                self.note(
                    "overlap",
                    "Two document paths overlap with each other; must remove or rewrite one of these "
                    f"paths; path one: {path_str(earlier)}, path two: {path_str(path)}",
                )
                return
        self.seen_paths.append(path)

    # --- condition operands ----------------------------------------------------
    def operand(self, node: A.Operand) -> _Op:
        if isinstance(node, A.PathExpr):
            path = self.path(node)
            return _Op(E.path_fn(path) if path else _MISSING, None, path, None)
        if isinstance(node, A.ValueRef):
            value = self.value(node.name)
            if value is None:
                return _Op(_MISSING, None, None, None)
            return _Op(E.const_fn(value), C.av_type(value), None, value)
        args = [self.operand(a) for a in node.args]
        if node.name != "size":  # other functions were rejected by the static checks
            return _Op(_MISSING, None, None, None)
        if len(args) != 1:
            self.note("operand", _wrong_count("size", len(args)))
            return _Op(_MISSING, "N", None, None)
        if args[0].type in ("N", "BOOL", "NULL"):
            self.note("function", _wrong_type("size", args[0].type))
        return _Op(E.size_fn(args[0].fn), "N", None, None)

    def distinct(self, operator: str, first: _Op, second: _Op) -> None:
        if first.path is not None and first.path == second.path:
            self.note(
                "distinct",
                "The first operand must be distinct from the remaining operands for this operator or "
                f"function; operator: {operator}, first operand: {path_str(first.path)}",
            )

    def orderable(self, operator: str, *ops: _Op) -> None:
        for op in ops:
            if op.type is not None and op.type not in C.ORDERED_TYPES:
                self.note("function", _wrong_type(operator, op.type))
                return

    # --- conditions ------------------------------------------------------------
    def condition(self, node: A.Condition) -> E.Predicate:
        if isinstance(node, A.And):
            return E.and_fn(self.condition(node.left), self.condition(node.right))
        if isinstance(node, A.Or):
            return E.or_fn(self.condition(node.left), self.condition(node.right))
        if isinstance(node, A.Not):
            return E.not_fn(self.condition(node.operand))
        if isinstance(node, A.Compare):
            left, right = self.operand(node.left), self.operand(node.right)
            self.distinct(node.op, left, right)
            if node.op not in ("=", "<>"):
                self.orderable(node.op, left, right)
            return E.compare_fn(node.op, left.fn, right.fn)
        if isinstance(node, A.Between):
            x, lo, hi = self.operand(node.operand), self.operand(node.low), self.operand(node.high)
            self.orderable("BETWEEN", x, lo, hi)
            if lo.literal is not None and hi.literal is not None:
                bounds = (
                    f"lower bound operand: AttributeValue: {C.render(lo.literal)}, "
                    f"upper bound operand: AttributeValue: {C.render(hi.literal)}"
                )
                if lo.type != hi.type:
                    self.note(
                        "function",
                        f"The BETWEEN operator requires same data type for lower and upper bounds; {bounds}",
                    )
                elif (C.order(lo.literal, hi.literal) or 0) > 0:
                    self.note(
                        "function",
                        "The BETWEEN operator requires upper bound to be greater than or equal to lower "
                        f"bound; {bounds}",
                    )
            return E.between_fn(x.fn, lo.fn, hi.fn)
        if isinstance(node, A.In):
            x = self.operand(node.operand)
            items = [self.operand(o) for o in node.items]
            if len(items) + 1 > MAX_IN_OPERANDS:
                self.note(
                    "operand",
                    "Too many operands for operator or function; operator or function: IN, "
                    f"number of operands: {len(items) + 1}, maximum: {MAX_IN_OPERANDS}",
                )
            return E.in_fn(x.fn, [o.fn for o in items])
        assert isinstance(node, A.FuncCond)
        return self.function_condition(node.call)

    def function_condition(self, call: A.FuncCall) -> E.Predicate:
        name = call.name
        args = [self.operand(a) for a in call.args]
        expected = CONDITION_FUNCTIONS.get(name)
        if expected is None or name == "size":  # rejected by the static checks
            return lambda item: False
        if len(args) != expected:
            self.note("operand", _wrong_count(name, len(args)))
            return lambda item: False
        if expected == 2:
            self.distinct(name, args[0], args[1])
        if name in ("attribute_exists", "attribute_not_exists"):
            if not isinstance(call.args[0], A.PathExpr):
                self.note(
                    "function",
                    f"Operator or function requires a document path; operator or function: {name}",
                )
            return E.exists_fn(args[0].fn, name == "attribute_exists")
        if name == "attribute_type":
            kind = args[1]
            if kind.type != "S":
                if isinstance(call.args[1], A.PathExpr) or kind.type is not None:
                    self.note("function", _wrong_type(name, kind.type or _ANY_TYPE))
            elif kind.literal is not None and kind.literal["S"] not in C.ALL_TYPES:
                self.note(
                    "function",
                    f"Invalid attribute type name found; type: {kind.literal['S']}, valid types: {_VALID_TYPES}",
                )
            return E.type_fn(args[0].fn, kind.fn)
        if name == "begins_with":
            for arg in args:
                if arg.type is not None and arg.type not in ("S", "B"):
                    self.note("function", _wrong_type(name, arg.type))
                    break
            return E.binary_fn(C.begins_with, args[0].fn, args[1].fn)
        return E.binary_fn(C.contains, args[0].fn, args[1].fn)  # contains

    # --- update ----------------------------------------------------------------
    def update_operand(self, node: A.Operand) -> tuple[Callable, str | None]:
        """A SET operand: (closure raising on missing paths, the :value's type if it is one)."""
        if isinstance(node, A.PathExpr):
            path = self.path(node)
            return U.required(E.path_fn(path) if path else _MISSING), None
        if isinstance(node, A.ValueRef):
            value = self.value(node.name)
            if value is None:
                return U.required(_MISSING), None
            return E.const_fn(value), C.av_type(value)
        name = node.name
        args = [self.update_operand(a) for a in node.args]
        if name == "if_not_exists":
            if len(args) != 2:
                self.note("function", _wrong_count(name, len(args)))
                return U.required(_MISSING), None
            first = node.args[0]
            if not isinstance(first, A.PathExpr):
                self.note("function", f"Operator or function requires a document path; operator or function: {name}")
                return U.required(_MISSING), None
            path = self.path(first)
            return U.if_not_exists_fn(E.path_fn(path) if path else _MISSING, args[1][0]), None
        if name == "list_append":
            if len(args) != 2:
                self.note("function", _wrong_count(name, len(args)))
                return U.required(_MISSING), None
            for _, t in args:
                if t is not None and t != "L":
                    self.note("function", _wrong_type(name, t))
                    break
            return U.list_append_fn(args[0][0], args[1][0]), None
        return U.required(_MISSING), None  # rejected by the static checks

    def set_value(self, node: A.SetValue) -> Callable:
        if isinstance(node, A.Arith):
            left, right = self.update_operand(node.left), self.update_operand(node.right)
            for _, t in (left, right):
                if t is not None and t != "N":
                    self.note("function", _wrong_type(node.op, t))
                    break
            return U.arith_fn(node.op, left[0], right[0])
        return self.update_operand(node)[0]

    def update(self, tree: A.UpdateTree) -> list[U.CompiledAction]:
        actions: list[U.CompiledAction] = []
        for action in tree.actions:
            path = self.path(action.path)
            if path is not None:
                self.check_overlap(path)
            if isinstance(action, A.SetAction):
                compiled = U.CompiledAction("SET", path or (), value=self.set_value(action.value))
            elif isinstance(action, A.RemoveAction):
                compiled = U.CompiledAction("REMOVE", path or ())
            else:
                word = "ADD" if isinstance(action, A.AddAction) else "DELETE"
                operand = self.value(action.value.name)
                if operand is not None:
                    t = C.av_type(operand)
                    allowed = C.SET_TYPES | {"N"} if word == "ADD" else C.SET_TYPES
                    if t not in allowed:
                        self.note(
                            "operand",
                            "Incorrect operand type for operator or function; "
                            f"operator: {word}, operand type: {_TYPE_WORDS[t]}",
                        )
                compiled = U.CompiledAction(word, path or (), operand=operand)
            actions.append(compiled)
        return actions


# --- entry points ---------------------------------------------------------------

def resolve_condition(tree: A.Condition, text: str, r: Resolver) -> Condition:
    predicate = r.condition(tree)
    r.raise_first()
    return Condition(predicate, text)


def resolve_update(tree: A.UpdateTree, r: Resolver) -> Update:
    actions = r.update(tree)
    r.raise_first()
    return Update(actions)


def resolve_projection(tree: A.ProjectionTree, r: Resolver) -> Projection:
    paths = []
    for node in tree.paths:
        path = r.path(node)
        if path is not None:
            r.check_overlap(path)
            paths.append(path)
    r.raise_first()
    return Projection(tuple(paths))


CONDITION_ORDER = _CONDITION_ORDER
# KeyConditionExpression: DynamoDB reports its clauses' errors in written order (an operand of
# the wrong type before a later undefined value: paritysuite's queryKeyCondition captures)
WRITTEN_ORDER: tuple[str, ...] = ("written",)
UPDATE_ORDER = _UPDATE_ORDER
PROJECTION_ORDER = _PROJECTION_ORDER
