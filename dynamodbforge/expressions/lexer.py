"""The one tokenizer shared by every expression kind.

Tokens follow DynamoDB's lexical rules: a bare name starts with a letter and continues
with letters, digits or ``_``; ``#ref`` / ``:ref`` continue with one or more of those;
integers only appear as list indexes.  Any other character becomes a one-character
``BAD`` token, so the parser reports it as the syntax error's token the way AWS does.
"""
from __future__ import annotations

import re
from typing import NamedTuple

NAME = "NAME"
NAMEREF = "NAMEREF"
VALREF = "VALREF"
NUM = "NUM"
OP = "OP"
BAD = "BAD"
EOF = "EOF"

_TOKEN_RE = re.compile(
    r"""
    (?P<ws>[ \t\r\n]+)
  | (?P<NAME>[A-Za-z][A-Za-z0-9_]*)
  | (?P<NAMEREF>\#[A-Za-z0-9_]+)
  | (?P<VALREF>:[A-Za-z0-9_]+)
  | (?P<NUM>[0-9]+)
  | (?P<OP><>|<=|>=|[=<>()\[\],.+\-])
  | (?P<BAD>.)
    """,
    re.VERBOSE | re.DOTALL,
)


class Token(NamedTuple):
    kind: str
    text: str
    start: int
    end: int


def tokenize(text: str) -> list[Token]:
    """All tokens of ``text`` followed by one EOF token (whitespace dropped)."""
    tokens: list[Token] = []
    append = tokens.append
    for m in _TOKEN_RE.finditer(text):
        kind = m.lastgroup
        if kind == "ws":
            continue
        append(Token(kind, m.group(), m.start(), m.end()))  # type: ignore[arg-type]
    n = len(text)
    append(Token(EOF, "<EOF>", n, n))
    return tokens


def syntax_error_message(text: str, tokens: list[Token], index: int) -> str:
    """AWS's text for a syntax error at ``tokens[index]``.

    ``near`` is the source from the previous token through the next one, e.g.
    ``Syntax error; token: "/", near: "numx / :v"``.
    """
    tok = tokens[index]
    start = tokens[index - 1].start if index > 0 else tok.start
    end = tokens[index + 1].end if tok.kind != EOF and index + 1 < len(tokens) else tok.end
    return f'Syntax error; token: "{tok.text}", near: "{text[start:end]}"'
