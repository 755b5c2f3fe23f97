"""The one recursive-descent parser for Condition/Filter/KeyCondition, Update and Projection.

``parse(kind, text)`` returns the AST plus the first *static* error (one that depends only
on the text: redundant parentheses, unknown or misused functions, reserved words,
repeated clauses), chosen in AWS's order of precedence for that kind.  Syntax errors
raise :class:`ExpressionError` immediately.  Results are cached by ``(kind, text)``.
"""
from __future__ import annotations

import sys
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterator

from dynamodbforge.expressions import ast as A
from dynamodbforge.expressions.lexer import EOF, NAME, NAMEREF, NUM, OP, VALREF, Token, syntax_error_message, tokenize
from dynamodbforge.expressions.reserved import is_reserved

CONDITION = "condition"
UPDATE = "update"
PROJECTION = "projection"

CONDITION_FUNCTIONS = {
    "attribute_exists": 1,
    "attribute_not_exists": 1,
    "attribute_type": 2,
    "begins_with": 2,
    "contains": 2,
    "size": 1,
}
UPDATE_FUNCTIONS = {"if_not_exists": 2, "list_append": 2}
KNOWN_FUNCTIONS = {**CONDITION_FUNCTIONS, **UPDATE_FUNCTIONS}
COMPARATORS = frozenset(("=", "<>", "<", "<=", ">", ">="))
_KEYWORDS = {
    CONDITION: frozenset(("AND", "OR", "NOT", "BETWEEN", "IN")),
    UPDATE: frozenset(("SET", "REMOVE", "ADD", "DELETE")),
    PROJECTION: frozenset(),
}
_CONDITION_WORDS = _KEYWORDS[CONDITION]
MAX_PATH_DEPTH = 32
MAX_OPERATORS = 300  # per condition, filter or key-condition expression (Developer Guide, limits)


class ExpressionError(Exception):
    """An invalid expression; ``message`` lacks the ``Invalid <Param>: `` prefix."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class _SyntaxFailure(Exception):
    def __init__(self, index: int) -> None:
        self.index = index


@dataclass(frozen=True, slots=True)
class Parsed:
    tree: Any  # None when the text has a syntax error
    static_error: str | None  # syntax error, or first static error by AWS precedence


class _Parser:
    def __init__(self, text: str, kind: str) -> None:
        self.text = text
        self.toks: list[Token] = tokenize(text)
        self.i = 0
        self.kind = kind
        self.keywords = _KEYWORDS[kind]
        self.redundant_parens = False
        self.operators = 0  # comparisons, AND, OR, NOT, BETWEEN, IN (see MAX_OPERATORS)
        self.match = self._match_parens()

    # --- token helpers -------------------------------------------------------
    def _match_parens(self) -> dict[int, int]:
        """Matching ``)`` of every ``(``; also notes groups holding a comparator or keyword."""
        match: dict[int, int] = {}
        stack: list[int] = []
        self.condition_groups: set[int] = set()
        for idx, tok in enumerate(self.toks):
            if tok.kind == OP:
                if tok.text == "(":
                    stack.append(idx)
                elif tok.text == ")" and stack:
                    match[stack.pop()] = idx
                elif stack and tok.text in COMPARATORS:
                    self.condition_groups.add(stack[-1])
            elif stack and tok.kind == NAME and tok.text.upper() in _CONDITION_WORDS:
                self.condition_groups.add(stack[-1])
        return match

    def fail(self) -> None:
        raise _SyntaxFailure(self.i)

    def op(self, text: str) -> bool:
        tok = self.toks[self.i]
        return tok.kind == OP and tok.text == text

    def expect_op(self, text: str) -> None:
        if not self.op(text):
            self.fail()
        self.i += 1

    def keyword(self, word: str) -> bool:
        tok = self.toks[self.i]
        return tok.kind == NAME and tok.text.upper() == word

    def after_group(self, open_index: int) -> Token | None:
        """The token after the ``)`` matching the ``(`` at ``open_index``."""
        close = self.match.get(open_index)
        return None if close is None else self.toks[close + 1]

    def is_redundant(self, open_index: int) -> bool:
        """``((x))``: a group whose whole content is another group."""
        inner = open_index + 1
        close = self.match.get(open_index)
        tok = self.toks[inner]
        return (
            close is not None and tok.kind == OP and tok.text == "(" and self.match.get(inner) == close - 1
        )

    # --- shared pieces -------------------------------------------------------
    def path(self) -> A.PathExpr:
        tok = self.toks[self.i]
        if tok.kind == NAME and tok.text.upper() not in self.keywords:
            elements: list[A.PathElement] = [tok.text]
        elif tok.kind == NAMEREF:
            elements = [tok.text]
        else:
            self.fail()
        self.i += 1
        while True:
            if self.op("."):
                self.i += 1
                tok = self.toks[self.i]
                if (tok.kind == NAME and tok.text.upper() not in self.keywords) or tok.kind == NAMEREF:
                    elements.append(tok.text)
                    self.i += 1
                else:
                    self.fail()
            elif self.op("["):
                self.i += 1
                tok = self.toks[self.i]
                if tok.kind != NUM:
                    self.fail()
                elements.append(int(tok.text))
                self.i += 1
                self.expect_op("]")
            else:
                return A.PathExpr(tuple(elements))

    def operand(self) -> A.Operand:
        tok = self.toks[self.i]
        if tok.kind == OP and tok.text == "(":
            if self.kind == CONDITION and self.is_redundant(self.i):
                self.redundant_parens = True
            self.i += 1
            inner = self.operand()
            self.expect_op(")")
            return inner
        if tok.kind == VALREF:
            self.i += 1
            return A.ValueRef(tok.text)
        if tok.kind == NAME and self.toks[self.i + 1].kind == OP and self.toks[self.i + 1].text == "(":
            if tok.text.upper() in self.keywords:
                self.fail()
            self.i += 2
            args = [self.operand()]
            while self.op(","):
                self.i += 1
                args.append(self.operand())
            self.expect_op(")")
            return A.FuncCall(tok.text, tuple(args))
        return self.path()

    # --- conditions ----------------------------------------------------------
    def condition(self) -> A.Condition:
        left = self.and_condition()
        while self.keyword("OR"):
            self.i += 1
            self.operators += 1
            left = A.Or(left, self.and_condition())
        return left

    def and_condition(self) -> A.Condition:
        left = self.not_condition()
        while self.keyword("AND"):
            self.i += 1
            self.operators += 1
            left = A.And(left, self.not_condition())
        return left

    def not_condition(self) -> A.Condition:
        if self.keyword("NOT"):
            self.i += 1
            self.operators += 1
            return A.Not(self.not_condition())
        return self.primary()

    def primary(self) -> A.Condition:
        if self.op("("):
            after = self.after_group(self.i)
            inner = self.toks[self.i + 1]
            operand_group = after is not None and (
                (after.kind == OP and after.text in COMPARATORS)
                or (after.kind == NAME and after.text.upper() in ("BETWEEN", "IN"))
                or (  # "(a)": nothing inside can make it a condition, so AWS reads an operand
                    self.i not in self.condition_groups
                    and not (inner.kind == OP and inner.text == "(")
                    and not (inner.kind == NAME and self.toks[self.i + 2].text == "(")
                )
            )
            if not operand_group:
                if self.is_redundant(self.i):
                    self.redundant_parens = True
                self.i += 1
                inner = self.condition()
                self.expect_op(")")
                return inner
        left = self.operand()
        tok = self.toks[self.i]
        if tok.kind == OP and tok.text in COMPARATORS:
            self.i += 1
            self.operators += 1
            return A.Compare(tok.text, left, self.operand())
        if self.keyword("BETWEEN"):
            self.i += 1
            self.operators += 1
            low = self.operand()
            if not self.keyword("AND"):
                self.fail()
            self.i += 1
            return A.Between(left, low, self.operand())
        if self.keyword("IN"):
            self.i += 1
            self.operators += 1
            self.expect_op("(")
            items = [self.operand()]
            while self.op(","):
                self.i += 1
                items.append(self.operand())
            self.expect_op(")")
            return A.In(left, tuple(items))
        if isinstance(left, A.FuncCall):
            return A.FuncCond(left)
        self.fail()
        raise AssertionError  # unreachable

    # --- update --------------------------------------------------------------
    def update(self) -> tuple[A.UpdateTree, list[str]]:
        actions: list[A.Action] = []
        sections: list[str] = []
        while True:
            tok = self.toks[self.i]
            word = tok.text.upper() if tok.kind == NAME else ""
            if word not in self.keywords:
                self.fail()
            self.i += 1
            sections.append(word)
            while True:
                path = self.path()
                if word == "SET":
                    self.expect_op("=")
                    actions.append(A.SetAction(path, self.set_value()))
                elif word == "REMOVE":
                    actions.append(A.RemoveAction(path))
                else:
                    tok = self.toks[self.i]
                    if tok.kind != VALREF:
                        self.fail()
                    self.i += 1
                    value = A.ValueRef(tok.text)
                    actions.append(A.AddAction(path, value) if word == "ADD" else A.DeleteAction(path, value))
                if not self.op(","):
                    break
                self.i += 1
            if self.toks[self.i].kind == EOF:
                return A.UpdateTree(tuple(actions)), sections

    def set_value(self) -> A.SetValue:
        if self.op("("):
            after = self.after_group(self.i)
            if after is None or not (after.kind == OP and after.text in ("+", "-")):
                self.i += 1
                inner = self.set_value()
                self.expect_op(")")
                return inner
        left = self.operand()
        if self.op("+") or self.op("-"):
            op = self.toks[self.i].text
            self.i += 1
            return A.Arith(op, left, self.operand())
        return left

    # --- projection ----------------------------------------------------------
    def projection(self) -> A.ProjectionTree:
        paths = [self.path()]
        while self.op(","):
            self.i += 1
            paths.append(self.path())
        return A.ProjectionTree(tuple(paths))

    def run(self) -> Any:
        if self.kind == CONDITION:
            result: Any = self.condition()
        elif self.kind == UPDATE:
            result = self.update()
        else:
            result = self.projection()
        if self.toks[self.i].kind != EOF:
            self.fail()
        return result


# --- static checks (text-only, request independent) --------------------------


class _Static:
    """First error per category, in source order."""

    def __init__(self) -> None:
        self.found: dict[str, str] = {}

    def note(self, category: str, message: str) -> None:
        self.found.setdefault(category, message)

    def first(self, order: tuple[str, ...]) -> str | None:
        for category in order:
            if category in self.found:
                return self.found[category]
        return None

    def path(self, path: A.PathExpr) -> None:
        for element in path.elements:
            if isinstance(element, str) and element[0] != "#" and is_reserved(element):
                self.note("reserved", f"Attribute name is a reserved keyword; reserved keyword: {element}")
        if len(path.elements) > MAX_PATH_DEPTH:
            self.note(
                "depth",
                f"The document path has too many nesting levels; nesting levels: {len(path.elements)}",
            )

    def misused(self, name: str) -> None:
        self.note("misused", f"The function is not allowed to be used this way in an expression; function: {name}")

    def call(self, call: A.FuncCall, allowed: dict[str, int]) -> None:
        for arg in call.args:
            self.operand(arg, allowed, in_function=call.name)
        if call.name not in KNOWN_FUNCTIONS:
            self.note("unknown", f"Invalid function name; function: {call.name}")

    def operand(self, node: A.Operand, allowed: dict[str, int], in_function: str | None = None) -> None:
        if isinstance(node, A.PathExpr):
            self.path(node)
        elif isinstance(node, A.FuncCall):
            self.call(node, allowed)
            if node.name in KNOWN_FUNCTIONS:
                if allowed is CONDITION_FUNCTIONS:
                    if node.name != "size":
                        self.misused(node.name)
                elif node.name not in UPDATE_FUNCTIONS or (in_function and node.name == "list_append"):
                    self.misused(node.name)

    def condition(self, node: A.Condition) -> None:
        if isinstance(node, (A.And, A.Or)):
            self.condition(node.left)
            self.condition(node.right)
        elif isinstance(node, A.Not):
            self.condition(node.operand)
        elif isinstance(node, A.Compare):
            self.operand(node.left, CONDITION_FUNCTIONS)
            self.operand(node.right, CONDITION_FUNCTIONS)
        elif isinstance(node, A.Between):
            for o in (node.operand, node.low, node.high):
                self.operand(o, CONDITION_FUNCTIONS)
        elif isinstance(node, A.In):
            for o in (node.operand, *node.items):
                self.operand(o, CONDITION_FUNCTIONS)
        elif isinstance(node, A.FuncCond):
            self.call(node.call, CONDITION_FUNCTIONS)
            if node.call.name == "size" or node.call.name in UPDATE_FUNCTIONS:
                self.misused(node.call.name)

    def set_value(self, node: A.SetValue) -> None:
        if isinstance(node, A.Arith):
            self.operand(node.left, UPDATE_FUNCTIONS)
            self.operand(node.right, UPDATE_FUNCTIONS)
        else:
            self.operand(node, UPDATE_FUNCTIONS)


_CONDITION_ORDER = ("parens", "unknown", "misused", "reserved", "depth")
_UPDATE_ORDER = ("reserved", "unknown", "section", "misused", "depth")
_PROJECTION_ORDER = ("reserved", "depth")


def _static_error(kind: str, tree: Any, parser: _Parser, sections: list[str] | None) -> str | None:
    static = _Static()
    if kind == CONDITION:
        if parser.redundant_parens:
            static.note("parens", "The expression has redundant parentheses;")
        static.condition(tree)
        return static.first(_CONDITION_ORDER)
    if kind == UPDATE:
        seen: set[str] = set()
        for section in sections or ():
            if section in seen:
                static.note("section", f'The "{section}" section can only be used once in an update expression;')
            seen.add(section)
        for action in tree.actions:
            static.path(action.path)
            if isinstance(action, A.SetAction):
                static.set_value(action.value)
        return static.first(_UPDATE_ORDER)
    for path in tree.paths:
        static.path(path)
    return static.first(_PROJECTION_ORDER)


@lru_cache(maxsize=8192)
def parse(kind: str, text: str) -> Parsed:
    """Parse ``text`` as ``kind`` (CONDITION, UPDATE or PROJECTION); cached.

    A syntax error comes back as ``Parsed(None, message)`` (so failures are cached too);
    otherwise ``static_error`` is the first static error, which outranks every
    request-dependent one.
    """
    parser = _Parser(text, kind)
    with deep_recursion():  # the static checks below recurse over the tree too
        try:
            result = parser.run()
        except _SyntaxFailure as failure:
            return Parsed(None, syntax_error_message(text, parser.toks, failure.index))
        if parser.operators > MAX_OPERATORS:
            # DynamoDB counts to one past the limit, and says so (ScyllaDB Alternator's
            # test_deeply_nested_expression_2, run against DynamoDB)
            return Parsed(result, f"The expression contains too many operators; operator count: {MAX_OPERATORS + 1}")
        sections = None
        if kind == UPDATE:
            result, sections = result
        return Parsed(result, _static_error(kind, result, parser, sections))


@contextmanager
def deep_recursion(depth: int = 40000) -> Iterator[None]:
    """Room for recursing over a 4 KB expression, which nests up to ~2,000 levels deep
    (parsing, static checks, resolution; evaluation stays within the default limit)."""
    limit = sys.getrecursionlimit()
    if limit < depth:
        sys.setrecursionlimit(depth)
    try:
        yield
    finally:
        if limit < depth:
            sys.setrecursionlimit(limit)
