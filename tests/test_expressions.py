"""Pure unit tests for dynamodbforge.expressions (no server).

Expected messages come from tests run against real DynamoDB (dynalite, alternator and
others that capture AWS's text); see the expressions package docstrings.
"""
from __future__ import annotations

import base64

import pytest

from dynamodbforge.errors import DynamoDBError
from dynamodbforge.expressions import ExpressionContext
from dynamodbforge.expressions.lexer import tokenize
from dynamodbforge.expressions.reserved import RESERVED_WORDS, is_reserved


def S(x):
    return {"S": x}


def N(x):
    return {"N": str(x)}


def B(x: bytes):
    return {"B": base64.b64encode(x).decode()}


def L(*xs):
    return {"L": list(xs)}


def M(**kw):
    return {"M": kw}


VALUES = {
    ":s": S("hello"),
    ":he": S("he"),
    ":one": N(1),
    ":two": N(2),
    ":five": N(5),
    ":b": B(b"hi"),
    ":t": {"BOOL": True},
    ":null": {"NULL": True},
    ":ss": {"SS": ["a", "b"]},
    ":ns": {"NS": ["1", "2"]},
    ":l": L(N(1)),
    ":m": M(k=S("v")),
    ":tS": S("S"),
    ":tN": S("N"),
    ":bad": S("DOG"),
}


def ctx(names=None, values=None):
    return ExpressionContext(names, VALUES if values is None else values)


def cond_err(text, names=None, values=None, param="ConditionExpression"):
    with pytest.raises(DynamoDBError) as e:
        ctx(names, values).condition(text, param)
    assert e.value.type_name == "ValidationException"
    return e.value.message


def upd_err(text, names=None, values=None):
    with pytest.raises(DynamoDBError) as e:
        ctx(names, values).update(text)
    return e.value.message


def proj_err(text, names=None):
    with pytest.raises(DynamoDBError) as e:
        ExpressionContext(names, None).projection(text)
    return e.value.message


def ev(text, item, names=None, values=None):
    return ctx(names, values).condition(text).evaluate(item)


def apply(text, item, names=None, values=None, **kw):
    return ctx(names, values).update(text).apply(item, **kw).new_item


def apply_err(text, item, names=None, values=None, **kw):
    u = ctx(names, values).update(text)
    with pytest.raises(DynamoDBError) as e:
        u.apply(item, **kw)
    return e.value.message


# --- reserved words and lexer ---------------------------------------------------------


def test_reserved_words_full_list():
    assert len(RESERVED_WORDS) == 573
    assert is_reserved("status") and is_reserved("Status") and is_reserved("ZONE")
    assert not is_reserved("foo")


def test_lexer_tokens():
    kinds = [(t.kind, t.text) for t in tokenize("a.#b[3] <= :v_1")]
    assert kinds == [
        ("NAME", "a"), ("OP", "."), ("NAMEREF", "#b"), ("OP", "["), ("NUM", "3"), ("OP", "]"),
        ("OP", "<="), ("VALREF", ":v_1"), ("EOF", "<EOF>"),
    ]


# --- syntax errors -------------------------------------------------------------------


@pytest.mark.parametrize(
    "text,token,near",
    [
        ("foo", "<EOF>", "foo"),
        ("contains (themes, :s", "<EOF>", ":s"),
        ("NOT (#a)", "<EOF>", ")"),
        ("!!! INVALID !!!", "!", "!!"),
        ("attribute_type()", ")", "()"),
        ("a = ", "<EOF>", "= "),
        ("a != :s", "!", "a !="),
        ("a > 4", "4", "> 4"),
        ("a IN ()", ")", "()"),
        ("a = :s AND", "<EOF>", "AND"),
    ],
)
def test_condition_syntax_errors(text, token, near):
    assert cond_err(text, names={"#a": "a"}) == f'Invalid ConditionExpression: Syntax error; token: "{token}", near: "{near}"'


@pytest.mark.parametrize(
    "text,token,near",
    [
        ("SET _123 = :one", "_", "SET _123"),
        ("SET a = numx / :one", "/", "numx / :one"),
        ("SET a = :one, b = :two,", "<EOF>", ","),
        ("SET", "<EOF>", "SET"),
        ("SET a = :one +", "<EOF>", "+"),
    ],
)
def test_update_syntax_errors_exact(text, token, near):
    assert upd_err(text) == f'Invalid UpdateExpression: Syntax error; token: "{token}", near: "{near}"'


@pytest.mark.parametrize(
    "text",
    [
        "whatever", "set a", "add a", "delete a", "set a=set", "remove a = b", "add a = b", "delete a = b",
        "delete a b", "delete a if_not_exist(b)", "add abort b", "remove a b", "set a b", "set :a = b",
        "add :a b", "remove :a", "set a = b * c", 'set a[1] = "eight"', "set a[1] = 1",
        "SET a = if_not_exist(a, 100)", "SET if_not_exist(a, b) = a", "set (a = (b + c))",
        "set a = (b.c).d + e", "set a = b + c + d", "SET a = if_not_exists(a, :one+:two)",
        "SET a[:one] = :two", "SET a[#x] = :two", "SET a = _f(b)", "SET # = :one", "SET a = :", "HELLO b = :one",
    ],
)
def test_update_syntax_errors(text):
    assert upd_err(text, names={"#x": "x"}).startswith("Invalid UpdateExpression: Syntax error; ")


def test_projection_syntax_errors():
    assert proj_err("!!!") == 'Invalid ProjectionExpression: Syntax error; token: "!", near: "!!"'
    assert proj_err("a b") == 'Invalid ProjectionExpression: Syntax error; token: "b", near: "a b"'
    assert proj_err("a,") == 'Invalid ProjectionExpression: Syntax error; token: "<EOF>", near: ","'


@pytest.mark.parametrize("text", ["things are not gonna be ok", "a > 4", "(size(a))[0] > a", "a"])
def test_more_condition_syntax_errors(text):
    assert cond_err(text).startswith("Invalid ConditionExpression: Syntax error; ")


# --- empty / size ---------------------------------------------------------------------


def test_empty_expressions():
    assert cond_err("") == "Invalid ConditionExpression: The expression can not be empty;"
    assert cond_err("  ", param="FilterExpression") == "Invalid FilterExpression: The expression can not be empty;"
    assert upd_err("") == "Invalid UpdateExpression: The expression can not be empty;"
    assert proj_err("") == "Invalid ProjectionExpression: The expression can not be empty;"


def test_expression_size_limit():
    name = "a" + "z" * 4096
    assert proj_err(name) == "Invalid ProjectionExpression: Expression size has exceeded the maximum allowed size;"
    expr = f"{name} = :s"
    assert cond_err(expr, param="FilterExpression") == (
        "Invalid FilterExpression: Expression size has exceeded the maximum allowed size; "
        f"expression size: {len(expr)}"
    )
    assert upd_err(f"SET {name} = :s") == "Invalid UpdateExpression: Expression size has exceeded the maximum allowed size;"
    ExpressionContext(None, None).projection("a" + "z" * 4095)  # exactly 4096 bytes is fine


def test_operator_limit_and_deep_nesting_under_4_kb():
    """At most 300 operators (comparisons, AND, OR, NOT, BETWEEN, IN; not parentheses or
    functions) per condition, and deep nesting within 4 KB gets the expression's own error,
    not a crash or the item-nesting error (ScyllaDB Alternator's test_deeply_nested_expression_*,
    run against DynamoDB)."""
    ok = "a < b " + "or (a < b " * 149 + ")" * 149  # 299 operators
    assert ctx().condition(ok).evaluate({"a": N(1), "b": N(2)}) is True
    too_many = "Invalid ConditionExpression: The expression contains too many operators; operator count: 301"
    assert cond_err("a<b " + "or (a<b " * 454 + ")" * 454) == too_many
    assert cond_err("not " * 1000 + "a<b") == too_many
    assert cond_err("a = :s " + "AND a = :s " * 300, param="FilterExpression").endswith("operator count: 301")
    assert cond_err("a < " + "f(" * 1355 + "b" + ")" * 1355) == (
        "Invalid ConditionExpression: Invalid function name; function: f")
    assert cond_err("a < " + "size(" * 680 + "b" + ")" * 680) == (
        "Invalid ConditionExpression: Incorrect operand type for operator or function; operator or function: "
        "size, operand type: N")


def test_deep_parentheses_do_not_crash():
    text = "(" * 1000 + "a = :s" + ")" * 1000
    assert cond_err(text) == "Invalid ConditionExpression: The expression has redundant parentheses;"
    assert cond_err("(" * 2000 + "a = :s").startswith("Invalid ConditionExpression: Syntax error; ")


# --- static errors ---------------------------------------------------------------------


def test_reserved_keyword():
    assert cond_err("status = :s") == "Invalid ConditionExpression: Attribute name is a reserved keyword; reserved keyword: status"
    assert cond_err("a.Size = :s") == "Invalid ConditionExpression: Attribute name is a reserved keyword; reserved keyword: Size"
    assert upd_err(" set #c = :c set abOrt = :one ") == "Invalid UpdateExpression: Attribute name is a reserved keyword; reserved keyword: abOrt"
    assert upd_err(" remove Absolute ") == "Invalid UpdateExpression: Attribute name is a reserved keyword; reserved keyword: Absolute"
    assert proj_err("a, name") == "Invalid ProjectionExpression: Attribute name is a reserved keyword; reserved keyword: name"
    # placeholders are the way around it
    assert ev("#s = :s", {"status": S("hello")}, names={"#s": "status"})


def test_redundant_parentheses():
    msg = "Invalid ConditionExpression: The expression has redundant parentheses;"
    assert cond_err("((a = :s))") == msg
    assert cond_err("((c=:s) AND ((p=:s)))") == msg
    assert cond_err("((a)) = :s") == msg
    assert ev("((c=:s) AND (p=:s))", {"c": S("hello"), "p": S("hello")})
    assert ev("(a) = :s", {"a": S("hello")})
    assert ev("(size(a)) > :one", {"a": S("hello")})


def test_function_name_errors():
    assert cond_err("dog(a) = :s") == "Invalid ConditionExpression: Invalid function name; function: dog"
    assert upd_err("set #c = if_not_exist(:c) set c = d", names={"#c": "c"}) == (
        "Invalid UpdateExpression: Invalid function name; function: if_not_exist"
    )
    assert upd_err("SET a = f123_hi(b,c,d)") == "Invalid UpdateExpression: Invalid function name; function: f123_hi"
    assert upd_err("SET a = LIST_APPEND(:l, :l)") == "Invalid UpdateExpression: Invalid function name; function: LIST_APPEND"


def test_misused_functions():
    pre = "Invalid ConditionExpression: The function is not allowed to be used this way in an expression; function: "
    assert cond_err("size(a)") == pre + "size"
    assert cond_err("attribute_exists(a) < :one") == pre + "attribute_exists"
    assert cond_err("if_not_exists(a, a) = :one") == pre + "if_not_exists"
    assert cond_err("list_append(a, a) = :one") == pre + "list_append"
    assert cond_err("begins_with(contains(a, :s), :s)") == pre + "contains"
    assert upd_err("SET a = list_append(list_append(:l, :l), :l)") == (
        "Invalid UpdateExpression: The function is not allowed to be used this way in an expression; function: list_append"
    )


def test_multiple_sections():
    values = {":a": S("a"), ":b": S("a"), ":d": N(1), ":e": {"SS": ["x"]}, ":f": {"SS": ["y"]}}
    for text, section in [
        ("set a = #c set c = :d", "SET"),
        ("remove #d set a = b remove e", "REMOVE"),
        ("add #d :e set a = b add e :f", "ADD"),
        ("delete #d :e set a = b delete #e :f", "DELETE"),
    ]:
        assert upd_err(text, names={"#a": "a"}, values=values) == (
            f'Invalid UpdateExpression: The "{section}" section can only be used once in an update expression;'
        )


# --- undefined names / values ---------------------------------------------------------


def test_undefined_references():
    assert cond_err("#n = :s") == (
        "Invalid ConditionExpression: An expression attribute name used in the document path is not defined; attribute name: #n"
    )
    assert cond_err("a = :nope", param="FilterExpression") == (
        "Invalid FilterExpression: An expression attribute value used in expression is not defined; attribute value: :nope"
    )
    assert upd_err("SET #c = if_not_exists(:c)", names={"#a": "a"}) == (
        "Invalid UpdateExpression: An expression attribute name used in the document path is not defined; attribute name: #c"
    )
    assert upd_err("SET #a = if_not_exists(:c)", names={"#a": "a"}) == (
        "Invalid UpdateExpression: An expression attribute value used in expression is not defined; attribute value: :c"
    )
    assert proj_err("a.#u") == (
        "Invalid ProjectionExpression: An expression attribute name used in the document path is not defined; attribute name: #u"
    )


# --- unused names / values ------------------------------------------------------------


def test_check_unused():
    c = ExpressionContext({"#a": "a", "#b": "b"}, {":a": S("a"), ":b": S("a")})
    c.update("remove a set b = list_append(b, if_not_exists(a, :a))")
    c.condition("a = :b")
    with pytest.raises(DynamoDBError) as e:
        c.check_unused()
    assert e.value.message == "Value provided in ExpressionAttributeNames unused in expressions: keys: {#a, #b}"

    c = ExpressionContext(None, {":a": S("a"), ":b": S("a"), ":c": S("a")})
    c.update("remove a")
    c.condition("a = :b")
    with pytest.raises(DynamoDBError) as e:
        c.check_unused()
    assert e.value.message == "Value provided in ExpressionAttributeValues unused in expressions: keys: {:a, :c}"


def test_check_unused_counts_short_circuited_branches():
    c = ExpressionContext({"#n1": "a", "#n2": "b"}, {":v1": N(1), ":v2": N(2), ":v3": N(3)})
    c.condition("#n1 = :v1 OR #n2 = :v2")
    c.update("SET #n1 = :v3")
    c.check_unused()


def test_check_unused_names_before_values():
    c = ExpressionContext({"#x": "x"}, {":x": N(1)})
    c.projection("a")
    with pytest.raises(DynamoDBError) as e:
        c.check_unused()
    assert "ExpressionAttributeNames" in e.value.message


# --- request-dependent condition errors ------------------------------------------------


def test_between_bound_errors():
    assert cond_err("a BETWEEN :five AND :one") == (
        "Invalid ConditionExpression: The BETWEEN operator requires upper bound to be greater than or equal to lower bound; "
        "lower bound operand: AttributeValue: {N:5}, upper bound operand: AttributeValue: {N:1}"
    )
    assert cond_err("a between :one and :s") == (
        "Invalid ConditionExpression: The BETWEEN operator requires same data type for lower and upper bounds; "
        "lower bound operand: AttributeValue: {N:1}, upper bound operand: AttributeValue: {S:hello}"
    )
    # bounds from the item are not checked statically
    assert not ev("a BETWEEN b AND :one", {"a": N(1), "b": N(2)})


@pytest.mark.parametrize("op", ["<", "<=", ">", ">="])
@pytest.mark.parametrize("ref,t", [(":t", "BOOL"), (":null", "NULL"), (":ss", "SS"), (":ns", "NS"), (":l", "L"), (":m", "M")])
def test_ordering_rejects_unorderable_literals(op, ref, t):
    assert cond_err(f"n {op} {ref}") == (
        f"Invalid ConditionExpression: Incorrect operand type for operator or function; operator or function: {op}, operand type: {t}"
    )


def test_unorderable_checked_everywhere():
    for text in ["attribute_not_exists(zzz) OR n > :t", "NOT (n > :t)", "size(s) > :t", ":t > :one"]:
        assert "operand type: BOOL" in cond_err(text)
    assert "operator or function: BETWEEN, operand type: BOOL" in cond_err("n BETWEEN :t AND :t")
    ctx().condition("n = :t")  # equality is fine for any type
    ctx().condition("n <> :m")


def test_function_operand_errors():
    pre = "Invalid ConditionExpression: "
    assert cond_err("begins_with(a, :one)") == pre + "Incorrect operand type for operator or function; operator or function: begins_with, operand type: N"
    assert cond_err("begins_with(size(a), :s)") == pre + "Incorrect operand type for operator or function; operator or function: begins_with, operand type: N"
    assert cond_err("attribute_exists(:s)") == pre + "Operator or function requires a document path; operator or function: attribute_exists"
    assert cond_err("attribute_not_exists(:s)") == pre + "Operator or function requires a document path; operator or function: attribute_not_exists"
    assert cond_err("attribute_type(a, :bad)") == pre + "Invalid attribute type name found; type: DOG, valid types: {B,NULL,SS,BOOL,L,BS,N,NS,S,M}"
    assert cond_err("attribute_type(a, :one)") == pre + "Incorrect operand type for operator or function; operator or function: attribute_type, operand type: N"
    assert cond_err("attribute_type(a, b)").startswith(pre + "Incorrect operand type for operator or function; operator or function: attribute_type, operand type:")
    assert cond_err("size(:one) = :one") == pre + "Incorrect operand type for operator or function; operator or function: size, operand type: N"
    assert cond_err("size(a, a) = :one") == pre + "Incorrect number of operands for operator or function; operator or function: size, number of operands: 2"
    assert cond_err("contains(a)") == pre + "Incorrect number of operands for operator or function; operator or function: contains, number of operands: 1"
    assert cond_err("begins_with(a, :s, :s)") == pre + "Incorrect number of operands for operator or function; operator or function: begins_with, number of operands: 3"


def test_distinct_operands():
    pre = "Invalid ConditionExpression: The first operand must be distinct from the remaining operands for this operator or function; "
    assert cond_err("contains(a, a)") == pre + "operator: contains, first operand: [a]"
    assert cond_err("a.b[1] = a.b[1]") == pre + "operator: =, first operand: [a, b, [1]]"
    assert cond_err("#x = a", names={"#x": "a"}) == pre + "operator: =, first operand: [a]"
    assert ev("contains(a, a1)", {"a": S("hello"), "a1": S("ell")})


def test_error_precedence_in_conditions():
    # syntax > parens > unknown function > misused > reserved > undefined refs > ...
    assert "redundant" in cond_err("((dog(a) = :s))")
    assert "Invalid function name" in cond_err("dog(status) = :s AND size(a)")
    assert "not allowed" in cond_err("size(a) AND status = :s")
    assert "reserved keyword" in cond_err("status = :nope")
    assert "not defined" in cond_err("size(a, b) = :nope")
    assert "number of operands" in cond_err("size(a, b) = :s AND contains(c, c)")


def test_in_operand_limit():
    values = {f":v{i}": N(i) for i in range(100)}
    c = ExpressionContext(None, values)
    assert c.condition("a IN (" + ",".join(list(values)[:99]) + ")").evaluate({"a": N(37)})
    with pytest.raises(DynamoDBError):
        ExpressionContext(None, values).condition("a IN (" + ",".join(values) + ")")


# --- condition evaluation --------------------------------------------------------------

ITEM = {
    "p": S("key"),
    "a": N(1),
    "b": N(2),
    "c": N(3),
    "s": S("hello"),
    "bin": B(b"hi there"),
    "t": {"BOOL": True},
    "z": {"NULL": True},
    "ss": {"SS": ["x", "y"]},
    "ns": {"NS": ["2", "4", "7"]},
    "bs": {"BS": [base64.b64encode(b"hi").decode()]},
    "l": L(N(2), S("dog"), N(7)),
    "m": M(x=N(2), y=M(m=N(3), n=N(4))),
    "nested": M(x=N(1), y=L(N(-1), N(2), N(0))),
}


@pytest.mark.parametrize(
    "text,expected",
    [
        ("a = :one", True),
        ("a = :two", False),
        ("a <> :two", True),
        ("q <> :one", True),  # a missing attribute is "not equal" to anything
        ("q <> zz", True),
        ("q = zz", False),  # two missing attributes are not equal
        ("q = :one", False),
        ("a < b", True),
        ("a <= :one", True),
        ("a > :one", False),
        ("b >= :two", True),
        ("s < :s", False),
        ("s >= :he", True),
        ("a < :s", False),  # mismatched types are false, not errors
        ("l > :one", False),  # unorderable item values are false
        ("bin > :b", True),
        ("b BETWEEN a AND c", True),
        ("a BETWEEN :one AND :one", True),
        ("c BETWEEN :one AND :two", False),
        ("q BETWEEN :one AND :two", False),
        ("a IN (:two, :one)", True),
        ("a IN (:s, :two)", False),
        ("q IN (:one)", False),
        ("attribute_exists(a)", True),
        ("attribute_exists(q)", False),
        ("attribute_not_exists(q)", True),
        ("attribute_exists(m.y.n)", True),
        ("attribute_exists(l[2])", True),
        ("attribute_exists(l[3])", False),
        ("attribute_exists(m[0])", False),
        ("attribute_type(s, :tS)", True),
        ("attribute_type(a, :tS)", False),
        ("attribute_type(q, :tS)", False),
        ("attribute_type(:one, :tN)", True),
        ("begins_with(s, :he)", True),
        ("begins_with(s, :s)", True),
        ("begins_with(:s, s)", True),
        ("begins_with(bin, :b)", True),
        ("begins_with(a, :he)", False),
        ("contains(s, :he)", True),
        ("contains(ns, :two)", True),
        ("contains(ns, :one)", False),
        ("contains(l, :two)", True),
        ("contains(ss, :s)", False),
        ("contains(bin, :b)", True),
        ("contains(a, :one)", False),
        ("size(s) = :five", True),
        ("size(bin) > :five", True),
        ("size(ss) = :two", True),
        ("size(l) > :two", True),
        ("size(m) = :two", True),
        ("size(a) = :one", False),  # size() of a number has no value
        ("size(a) <> :one", True),
        ("size(s) = :s", False),
        ("size(s) = size(s)", True),
        ("nested.x < nested.y[1]", True),
        ("nested.x < nested.y[0]", False),
        ("nested.z < nested.y[100]", False),
        ("a < b AND b < c", True),
        ("a < b AND c < b", False),
        ("b < a OR b < c", True),
        ("a < b OR c < b AND b < c", True),  # AND binds tighter than OR
        ("NOT a < b AND c < b", False),  # NOT binds tighter than AND
        ("NOT NOT NOT NOT a < b", True),
        ("nOt b < a", True),
        ("(a < b OR b < a) AND (b < c AND (a < b OR b < c))", True),
        ("b BETWEEN a AND c AND a < b", True),
        ("a between a and c", True),
        ("t = :t", True),
        ("z = :null", True),
        ("ss = :vss", True),
        ("m = :vm", True),
        ("l = :vm", False),
    ],
)
def test_condition_evaluation(text, expected):
    values = VALUES | {":vss": {"SS": ["y", "x"]}, ":vm": ITEM["m"]}
    assert ev(text, ITEM, values=values) is expected


def test_set_and_number_equality_are_semantic():
    item = {"s": {"SS": ["dog", "chinchilla", "cat"]}, "n": N("10")}
    assert ev("s = :v", item, values={":v": {"SS": ["cat", "chinchilla", "dog"]}})
    assert ev("n = :v", item, values={":v": {"N": "10"}})
    assert ev("n > :v", item, values={":v": {"N": "9.5"}})


def test_string_order_is_utf8_byte_order():
    item = {"s": S("\uffff")}
    assert ev("s < :v", item, values={":v": S("\U0001f600")})


def test_binary_order_uses_bytes():
    item = {"b": B(b"\x00\xff")}
    assert ev("b < :v", item, values={":v": B(b"\x01")})


def test_condition_on_missing_item():
    c = ctx().condition("attribute_not_exists(p)")
    assert c.evaluate(None) is True
    assert ctx().condition("a = :one").evaluate(None) is False


# --- update ----------------------------------------------------------------------------


def test_set_and_remove_basics():
    item = {"p": S("k"), "a": S("hi"), "b": S("x")}
    new = apply("SET c = :one, a = :s REMOVE b", item)
    assert new == {"p": S("k"), "a": S("hello"), "c": N(1)}
    assert item == {"p": S("k"), "a": S("hi"), "b": S("x")}  # input untouched


def test_keywords_case_insensitive_and_whitespace():
    assert apply("  sEt   b=:one  ", {}) == {"b": N(1)}


def test_set_reads_before_writing():
    item = {"a": S("hello")}
    assert apply("REMOVE a SET b = a", item) == {"b": S("hello")}
    assert apply("SET c = b REMOVE b", {"b": S("x")}) == {"c": S("x")}
    assert apply_err("SET x = :one, y = x", item) == "The provided expression refers to an attribute that does not exist in the item"
    assert apply_err("SET z = z", item) == "The provided expression refers to an attribute that does not exist in the item"


def test_arithmetic():
    item = {"a": N(2), "s": S("x")}
    assert apply("SET a = a + :five", item)["a"] == N(7)
    assert apply("SET b = :one - a", item)["b"] == N(-1)
    assert apply("SET b = if_not_exists(b, :two) + :five", item)["b"] == N(7)
    assert apply("SET b = ((a)+(:one))", item)["b"] == N(3)
    assert apply("SET n = :v + :w", {}, values={":v": N("0.1"), ":w": N("0.2")})["n"] == N("0.3")
    assert apply_err("SET b = s + :one", item) == "An operand in the update expression has an incorrect data type"
    assert apply_err("SET b = q + :one", item) == "The provided expression refers to an attribute that does not exist in the item"
    assert apply_err("SET b = :v + :v", item, values={":v": N("9" + "0" * 125)}) == (
        "Number overflow. Attempting to store a number with magnitude larger than supported range"
    )
    # integers at the 38-digit edge: a result of one significant digit is fine, 39 are not
    nines = "9" * 38
    assert apply("SET n = :v + :one", {}, values={":v": N(nines), ":one": N(1)})["n"] == N("1" + "0" * 38)
    assert apply("SET n = :v - :w", {}, values={":v": N(-5), ":w": N(-5)})["n"] == N(0)
    assert apply("SET n = :v - :w", {}, values={":v": N(3), ":w": N(nines)})["n"] == N("-" + "9" * 37 + "6")
    # too many digits in a computed result is reported as an overflow (DynamoDB, per ScyllaDB
    # Alternator's test_update_expression_plus_imprecise: 1E50 + 1 and 1E50 - 1)
    overflow = "Number overflow. Attempting to store a number with magnitude larger than supported range"
    assert apply_err("SET n = :v + :v", {}, values={":v": N(nines)}) == overflow
    assert apply_err("SET n = :v + :one", {}, values={":v": N("1e50"), ":one": N(1)}) == overflow
    assert apply_err("SET n = :v - :one", {}, values={":v": N("1e50"), ":one": N(1)}) == overflow


def test_update_function_static_errors():
    values = {":a": S("a"), ":b": N(1), ":c": B(b"a"), ":d": {"BOOL": True}, ":e": {"NULL": True}, ":f": {"SS": ["a"]},
              ":g": {"NS": ["1"]}, ":h": {"BS": ["YQ=="]}, ":i": M(), ":j": L()}
    pre = "Invalid UpdateExpression: Incorrect operand type for operator or function; operator or function: "
    cases = [
        ("set a = list_append(:a, a)", "list_append", "S"), ("set a = list_append(a, :b)", "list_append", "N"),
        ("set a = list_append(:i, a)", "list_append", "M"), ("set a = a + :a", "+", "S"), ("set a = :a + :c", "+", "S"),
        ("set a = :c + a", "+", "B"), ("set a = a + :j", "+", "L"), ("set a = a - :f", "-", "SS"),
    ]
    for text, fn, t in cases:
        assert upd_err(text, values=values) == f"{pre}{fn}, operand type: {t}"
    assert upd_err("set a = if_not_exists(c)", values=values) == (
        "Invalid UpdateExpression: Incorrect number of operands for operator or function; operator or function: if_not_exists, number of operands: 1"
    )
    assert upd_err("set a = list_append(c)", values=values) == (
        "Invalid UpdateExpression: Incorrect number of operands for operator or function; operator or function: list_append, number of operands: 1"
    )
    for text in ["set a = if_not_exists(:a, c)", "set a = if_not_exists(if_not_exists(a, b), c)"]:
        assert upd_err(text, values=values) == (
            "Invalid UpdateExpression: Operator or function requires a document path; operator or function: if_not_exists"
        )


@pytest.mark.parametrize(
    "text,value,op,t",
    [
        ("set b = list_append(:a, a), c = if_not_exists(a) add a.b :a", S("a"), "ADD", "STRING"),
        ("delete a.b :a", S("a"), "DELETE", "STRING"),
        ("add a.b :a", {"NULL": True}, "ADD", "NULL"),
        ("add a.b :a", {"BOOL": False}, "ADD", "BOOLEAN"),
        ("delete a.b :a", B(b"a"), "DELETE", "BINARY"),
        ("add a.b :a", M(a=L(N(1))), "ADD", "MAP"),
        ("add a.b :a", L(N(1)), "ADD", "LIST"),
        ("delete a.b :a", L(N(1)), "DELETE", "LIST"),
        ("delete a.b :a", N(1), "DELETE", "NUMBER"),
    ],
)
def test_add_delete_operand_types(text, value, op, t):
    assert upd_err(text, values={":a": value, ":b": S("a")}) == (
        f"Invalid UpdateExpression: Incorrect operand type for operator or function; operator: {op}, operand type: {t}"
    )


@pytest.mark.parametrize(
    "text,one,two",
    [
        ("set d[1] = a, d.b = a, c[1].a = a, #c = if_not_exists(a)", "[c, [1], a]", "[c]"),
        ("set c.b.#c = a, c = a, #d = a", "[c, b, c]", "[c]"),
        ("set a = b remove a, #c, #d", "[a]", "[a]"),
        ("set #c[3].#d = a, #c[3] = a", "[c, [3], [3]]", "[c, [3]]"),
        ("remove c, #c.a, #d", "[c]", "[c, a]"),
        ("remove a, #c, a, #d", "[a]", "[a]"),
    ],
)
def test_update_path_overlap(text, one, two):
    assert upd_err(text, names={"#c": "c", "#d": "[3]"}) == (
        "Invalid UpdateExpression: Two document paths overlap with each other; must remove or rewrite one of these paths; "
        f"path one: {one}, path two: {two}"
    )


@pytest.mark.parametrize(
    "text,one,two",
    [
        ("set #c[3].#d = a, #c.#d[3] = if_not_exists(a)", "[c, [3], [3]]", "[c, [3], [3]]"),
        ("remove a.#c set a[1] = #d", "[a, c]", "[a, [1]]"),
        ("SET a.b = :one, a[1] = :two", "[a, b]", "[a, [1]]"),
    ],
)
def test_update_path_conflict(text, one, two):
    assert upd_err(text, names={"#b": "b", "#c": "c", "#d": "[3]"}) == (
        "Invalid UpdateExpression: Two document paths conflict with each other; must remove or rewrite one of these paths; "
        f"path one: {one}, path two: {two}"
    )


def test_list_append_and_if_not_exists():
    item = {"a": L(S("hi"), N(2))}
    assert apply("SET a = list_append(a, :l)", item)["a"] == L(S("hi"), N(2), N(1))
    assert apply("SET a = list_append(:l, a)", item)["a"] == L(N(1), S("hi"), N(2))
    assert apply("SET b = list_append(if_not_exists(b, :l), :l)", item)["b"] == L(N(1), N(1))
    assert apply("SET a = if_not_exists(a, :one), b = if_not_exists(c, :two)", item) == {"a": item["a"], "b": N(2)}
    assert apply("SET x = if_not_exists(b, if_not_exists(a, :one))", item)["x"] == item["a"]
    assert apply_err("SET c = list_append(b, :l)", item) == "The provided expression refers to an attribute that does not exist in the item"
    assert apply_err("SET c = list_append(:l, s)", {"s": S("x")}) == "An operand in the update expression has an incorrect data type"


def test_nested_set_and_remove():
    item = {"a": M(b=N(3), c=L(S("hi"), M(x=M(y=L(N(3), N(5), N(7))), q=N(2))))}
    new = apply("SET a.c[1].#n.y[1] = :two", item, names={"#n": "x"})
    assert new["a"]["M"]["c"]["L"][1]["M"]["x"]["M"]["y"] == L(N(3), N(2), N(7))
    assert item["a"]["M"]["c"]["L"][1]["M"]["x"]["M"]["y"] == L(N(3), N(5), N(7))  # untouched
    new = apply("REMOVE a.c[1].x.y[1], a.c[1].q", item)
    assert new["a"] == M(b=N(3), c=L(S("hi"), M(x=M(y=L(N(3), N(7))))))
    assert apply("REMOVE a.b", {"a": M(b=N(1))}) == {"a": M()}
    assert apply("REMOVE a[0]", {"a": L(N(1))}) == {"a": L()}


def test_list_index_semantics():
    item = {"a": L(N(2), N(3), N(4), N(5), N(6), N(7))}
    expected = L(N(2), N(4), N(17), N(6), N(7))
    values = {":v": N(17)}
    assert apply("REMOVE a[1] SET a[3] = :v", item, values=values)["a"] == expected
    assert apply("SET a[3] = :v REMOVE a[1]", item, values=values)["a"] == expected
    assert apply("REMOVE a[17]", item) == item
    three = {"a": L(S("one"), S("two"), S("three"))}
    assert apply("SET a[7] = :s", three)["a"] == L(S("one"), S("two"), S("three"), S("hello"))
    values = {":a1": S("a1"), ":a2": S("a2"), ":a3": S("a3"), ":a4": S("a4")}
    new = apply("SET a[84] = :a1, a[37] = :a2, a[17] = :a3, a[50] = :a4", three, values=values)
    assert new["a"] == L(S("one"), S("two"), S("three"), S("a3"), S("a2"), S("a4"), S("a1"))


def test_dynalite_nested_update_scenario():
    key = S("k")
    item = {"a": key, "b": M(a=N(1), b=N(2), c=N(3)), "c": L(N(1), N(3))}
    u = ctx(values={":a": N(2), ":b": {"SS": ["a"]}}).update(
        "set b.c=((c[1])+(b.a)),b.a = a,c[1] = a, c[4] = b.a - b.b, c[2] = b.c add c[8] :b, c[6] :a"
    )
    new = u.apply(item).new_item
    assert new == {
        "a": key,
        "b": M(a=key, b=N(2), c=N(4)),
        "c": L(N(1), key, N(3), N(-1), N(2), {"SS": ["a"]}),
    }
    assert u.project_updated(new) == {"b": M(a=key, c=N(4)), "c": L(key, N(3), N(2))}
    assert u.touched_top_level_names == {"b", "c"}


def test_invalid_document_paths():
    msg = "The document path provided in the update expression is invalid for update"
    item = {"a": S("hello"), "b": L(S("hi")), "c": M(**{"1": S("a")}), "d": L(S("a"), S("b"))}
    names = {"#1": "1"}
    values = {":a": {"SS": ["a"]}}
    for text in [
        "SET a.c = :a", "SET b.c = :a", "SET y.c = :a", "SET a[0] = :a", "SET y[0] = :a", "SET c[1] = :a",
        "SET d.#1 = :a", "REMOVE a.c", "REMOVE b.c", "REMOVE y.c", "REMOVE a[0]", "REMOVE y[1]", "REMOVE c[1]",
        "DELETE y.a :a", "DELETE c[1] :a", "DELETE d.#1 :a", "ADD y.a :a", "ADD c[1] :a", "ADD d.#1 :a",
    ]:
        assert apply_err(text, item, names=names if "#1" in text else None, values=values) == msg, text
    assert apply_err("SET b.a = :a", {}, values=values, item_exists=False) == msg


def test_remove_missing_things_is_fine():
    item = {"a": M(x=N(3)), "b": L(S("hi"))}
    assert apply("REMOVE a.y", item) == item
    assert apply("REMOVE b[7]", item) == item
    assert apply("REMOVE c", item) == item
    assert apply("REMOVE x.y", {}, item_exists=False) == {}
    assert apply("REMOVE x[0]", {}, item_exists=False) == {}


def test_add_numbers_and_sets():
    item = {"n": N(3), "s": S("hi"), "ss": {"SS": ["dog", "cat"]}}
    assert apply("ADD n :five", item)["n"] == N(8)
    assert apply("ADD fresh :five", item)["fresh"] == N(5)
    new = apply("ADD ss :v", item, values={":v": {"SS": ["cat", "pig"]}})
    assert new["ss"] == {"SS": ["cat", "dog", "pig"]}  # in DynamoDB's order (bytewise)
    assert apply("ADD more :ss", item)["more"] == {"SS": ["a", "b"]}
    assert apply_err("ADD s :one", item) == "An operand in the update expression has an incorrect data type"
    assert apply_err("ADD ss :ns", item) == "An operand in the update expression has an incorrect data type"
    assert apply_err("ADD n :ss", item) == "An operand in the update expression has an incorrect data type"


def test_delete_from_sets():
    item = {"a": {"SS": ["dog", "cat", "mouse"]}, "b": S("hi"), "n": N(1)}
    assert apply("DELETE a :v", item, values={":v": {"SS": ["cat", "mouse"]}})["a"] == {"SS": ["dog"]}
    assert apply("DELETE a :v", item, values={":v": {"SS": ["pig"]}})["a"] == item["a"]
    assert apply("DELETE a :v", item, values={":v": {"SS": ["dog", "cat", "mouse"]}}) == {"b": S("hi"), "n": N(1)}
    assert apply("DELETE q :v", item, values={":v": {"SS": ["dog"]}}) == item
    assert apply_err("DELETE a :ns", item) == "An operand in the update expression has an incorrect data type"
    assert apply_err("DELETE n :ns", item) == "An operand in the update expression has an incorrect data type"


def test_dynalite_mixed_clauses_on_new_item():
    values = {":c": {"SS": ["a", "b"]}, ":d": N(5), ":e": {"SS": ["a", "b"]}, ":f": L(S("a"), N(1))}
    u = ctx(values=values).update("REMOVE b DELETE c :c ADD d :d, e :e SET f = :f")
    new = u.apply({"a": S("k")}, item_exists=False).new_item
    assert new == {"a": S("k"), "d": N(5), "e": {"SS": ["a", "b"]}, "f": L(S("a"), N(1))}
    assert u.project_updated(new) == {"d": N(5), "e": {"SS": ["a", "b"]}, "f": L(S("a"), N(1))}


def test_update_result_and_key_paths():
    u = ctx().update("SET a.b = :one REMOVE c ADD d :one")
    res = u.apply({"a": M()})
    assert res.updated_attributes == {"a", "c", "d"}
    assert u.paths == (("a", "b"), ("c",), ("d",))
    assert u.touched_top_level_names == frozenset({"a", "c", "d"})


def test_dot_in_name_placeholder_is_literal():
    assert apply("SET #a = :one", {}, names={"#a": "a.b"}) == {"a.b": N(1)}


def test_name_tokens():
    assert apply("SET Alpha_Numeric_123 = :one", {}) == {"Alpha_Numeric_123": N(1)}
    assert apply("SET #123 = :_", {}, names={"#123": "x!"}, values={":_": N(7)}) == {"x!": N(7)}


# --- projection ---------------------------------------------------------------------------


PITEM = {
    "pk": S("p1"),
    "mylist": L(S("zero"), S("one"), S("two"), S("three")),
    "listOfMaps": L(M(val=S("a0"), x=S("x0")), M(val=S("a1"), x=S("x1")), M(val=S("a2"), x=S("x2"))),
    "listWithNull": L(S("keep0"), {"NULL": True}, S("keep2")),
    "deep": M(l1=M(l2=M(l3=S("bottom"), sib=S("s")))),
    "nestedList": L(M(inner=L(S("i0"), S("i1")))),
    "a": M(b=S("bv"), c=S("cv")),
}


def proj(text, names=None):
    return ExpressionContext(names, None).projection(text).apply(PITEM)


def test_projection_nested():
    assert proj("mylist[0], mylist[2]")["mylist"] == L(S("zero"), S("two"))
    assert proj("mylist[2], mylist[0]")["mylist"] == L(S("zero"), S("two"))
    assert proj("listOfMaps[0].val, listOfMaps[2].val")["listOfMaps"] == L(M(val=S("a0")), M(val=S("a2")))
    assert proj("listWithNull[1]")["listWithNull"] == L({"NULL": True})
    assert proj("deep.l1.l2.l3")["deep"] == M(l1=M(l2=M(l3=S("bottom"))))
    assert proj("nestedList[0].#i[1]", names={"#i": "inner"})["nestedList"] == L(M(inner=L(S("i1"))))
    assert proj("a.b, a.c, pk") == {"a": PITEM["a"], "pk": S("p1")}
    assert proj("nope, a.zz, mylist[9], pk.x") == {}


def test_projection_top_level_names():
    p = ExpressionContext({"#p": "pk"}, None).projection("#p, a.b, mylist[1]")
    assert p.top_level_names == {"pk", "a", "mylist"}


@pytest.mark.parametrize(
    "text,one,two",
    [("a, a.b", "[a]", "[a, b]"), ("a.b, a", "[a, b]", "[a]"), ("a, a", "[a]", "[a]"),
     ("alist[0], alist", "[alist, [0]]", "[alist]"), ("x, a.b, a", "[a, b]", "[a]"), ("#p, #p.#q", "[a]", "[a, b]")],
)
def test_projection_overlap(text, one, two):
    assert proj_err(text, names={"#p": "a", "#q": "b"} if "#" in text else None) == (
        "Invalid ProjectionExpression: Two document paths overlap with each other; must remove or rewrite one of "
        f"these paths; path one: {one}, path two: {two}"
    )


def test_projection_conflict():
    assert proj_err("a.b, a[0]") == (
        "Invalid ProjectionExpression: Two document paths conflict with each other; must remove or rewrite one of "
        "these paths; path one: [a, b], path two: [a, [0]]"
    )


# --- key conditions --------------------------------------------------------------------------


def key(text, values, hash_key="p", range_key="c", names=None, **kw):
    return ExpressionContext(names, values).key_condition(text, hash_key, range_key, **kw)


ONE_PER_KEY = "Invalid KeyConditionExpression: KeyConditionExpressions must only contain one condition per key"


def key_err(text, values=None, hash_key="p", range_key="c", names=None, **kw):
    with pytest.raises(DynamoDBError) as e:
        key(text, values or {}, hash_key, range_key, names, **kw)
    return e.value.message


def test_key_condition_shapes():
    v = {":p": S("x"), ":c": N(5), ":d": N(7)}
    k = key("p = :p", {":p": S("x")})
    assert (k.hash_key, k.hash_value, k.range_op) == ("p", S("x"), None)
    k = key(" p  =   :p  AND c < :c", v | {":d": N(1)} if False else {":p": S("x"), ":c": N(5)})
    assert (k.range_key, k.range_op, k.range_values) == ("c", "<", (N(5),))
    k = key(":p=p AND :c<c", {":p": S("x"), ":c": N(5)})
    assert (k.range_op, k.range_values) == (">", (N(5),))
    k = key("p=:p AnD c BeTwEeN :c aNd :d", v)
    assert (k.range_op, k.range_values) == ("BETWEEN", (N(5), N(7)))
    assert k.range_matches(N(6)) and not k.range_matches(N(8))
    k = key("((c=:c) AND (p=:p))", {":p": S("x"), ":c": N(5)})
    assert k.range_op == "=" and k.range_matches(N(5))
    k = key("#p = :p AND begins_with(#c, :s)", {":p": S("x"), ":s": S("ab")}, names={"#p": "p", "#c": "c"})
    assert k.range_op == "begins_with" and k.range_matches(S("abc")) and not k.range_matches(S("b"))


@pytest.mark.parametrize(
    "text,msg",
    [
        ("a > b and size(b) > c or a > c", "Invalid operator used in KeyConditionExpression: OR"),
        ("a in (b, size(c), d)", "Invalid operator used in KeyConditionExpression: IN"),
        ("attribute_exists(a)", "Invalid operator used in KeyConditionExpression: attribute_exists"),
        ("attribute_not_exists(a)", "Invalid operator used in KeyConditionExpression: attribute_not_exists"),
        ("contains(a.d, b)", "Invalid operator used in KeyConditionExpression: contains"),
        ("not a > b", "Invalid operator used in KeyConditionExpression: NOT"),
        ("a <> b", "Invalid operator used in KeyConditionExpression: <>"),
        ("attribute_type(a, :tS)", "Invalid operator used in KeyConditionExpression: attribute_type"),
        ("size(b) > a AND a.b > b AND b > c", "KeyConditionExpressions cannot contain nested operations"),
        ("a > size(b.d)", "KeyConditionExpressions cannot contain nested operations"),
        (":a between a and :b", "Invalid condition in KeyConditionExpression: BETWEEN operator must have the key attribute as its first operand"),
        ("begins_with(:a, b) and a > :b", "Invalid condition in KeyConditionExpression: begins_with operator must have the key attribute as its first operand"),
        ("b > a.b", "Invalid condition in KeyConditionExpression: Multiple attribute names used in one condition"),
        ("begins_with(a, b)", "Invalid condition in KeyConditionExpression: Multiple attribute names used in one condition"),
        ("b.d > a AND c.d > e.f", "KeyConditionExpressions cannot have conditions on nested attributes"),
        ("b[0] > a", "KeyConditionExpressions cannot have conditions on nested attributes"),
        (":b > :a AND a < :b", "Invalid condition in KeyConditionExpression: No key attribute specified"),
        ("b > :a AND b < :a and c = :a and d = :a", ONE_PER_KEY),
        ("p=:a AND p=:a", ONE_PER_KEY),
        (":a = a and b = :a and :a = c",
         "The number of query conditions (3) exceeds the number of key attributes defined in the schema (2)"),
        ("z = :a", "Query condition missed key schema element: p"),
        ("c = :a", "Query condition missed key schema element: p"),
        ("p = :a AND z = :a", "Query condition missed key schema element: c"),
        ("p < :a", "Query key condition not supported"),
        ("begins_with(p, :a)", "Query key condition not supported"),
    ],
)
def test_key_condition_errors(text, msg):
    """Messages as DynamoDB answers them (the last two wordings captured from DynamoDB by the
    paritysuite conformance suite, tests/tier3/error-messages/queryKeyConditionOperands)."""
    values = {":a": S("1"), ":b": S("1"), ":tS": S("S")}
    used = {k: v for k, v in values.items() if k in text}
    assert key_err(text, used) == msg


def test_key_condition_hash_only_table():
    assert key_err("p = :a AND c = :a", {":a": S("x")}, range_key=None) == "Query key condition not supported"


def test_key_condition_expression_errors_are_prefixed():
    assert key_err("a between :b and :a", {":a": S("a"), ":b": N(1)}) == (
        "Invalid KeyConditionExpression: The BETWEEN operator requires same data type for lower and upper bounds; "
        "lower bound operand: AttributeValue: {N:1}, upper bound operand: AttributeValue: {S:a}"
    )
    assert key_err("p = :p AND begins_with(c, :c)", {":p": S("x"), ":c": N(3)}) == (
        "Invalid KeyConditionExpression: Incorrect operand type for operator or function; operator or function: begins_with, operand type: N"
    )
    assert key_err("p = :p AND c != :c", {":p": S("x"), ":c": N(3)}).startswith("Invalid KeyConditionExpression: Syntax error; ")
    assert key_err("") == "Invalid KeyConditionExpression: The expression can not be empty;"
    assert key_err("p = :p") == (
        "Invalid KeyConditionExpression: An expression attribute value used in expression is not defined; attribute value: :p"
    )


def test_key_condition_schema_types():
    assert key_err("p = :p", {":p": N(1)}, key_types={"p": "S"}) == (
        "One or more parameter values were invalid: Condition parameter type does not match schema type"
    )


# --- caching -------------------------------------------------------------------------------


def test_parse_cache_is_request_independent():
    c1 = ExpressionContext({"#a": "x"}, {":v": N(1)}).condition("#a = :v")
    c2 = ExpressionContext({"#a": "y"}, {":v": N(2)}).condition("#a = :v")
    assert c1.evaluate({"x": N(1)}) and not c1.evaluate({"y": N(1)})
    assert c2.evaluate({"y": N(2)}) and not c2.evaluate({"x": N(1)})
