"""DynamoDB's expression language: one lexer, one parser, one AST for every expression kind.

    ctx = ExpressionContext(names, values)          # one per request
    cond = ctx.condition(text, param="ConditionExpression")
    upd = ctx.update(text); proj = ctx.projection(text)
    keyc = ctx.key_condition(text, hash_key, range_key)
    ctx.check_unused()

Pipeline: lexer -> parser (cached by text; static checks) -> resolve (per request:
names/values, request-dependent checks, closures) -> evaluate / update / projection.
"""
from dynamodbforge.expressions.compiled import Condition, KeyCondition, Projection, Update
from dynamodbforge.expressions.context import ExpressionContext
from dynamodbforge.expressions.parser import ExpressionError
from dynamodbforge.expressions.update import UpdateResult

__all__ = [
    "Condition",
    "ExpressionContext",
    "ExpressionError",
    "KeyCondition",
    "Projection",
    "Update",
    "UpdateResult",
]
