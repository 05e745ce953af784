"""Arithmetic from a model's text, evaluated by walking the parsed expression (never ``eval``)."""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable

__all__ = ["CalculatorError", "evaluate"]

_BINARY: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type[ast.unaryop], Callable[[float], float]] = {
    ast.UAdd: operator.pos,
    ast.USub: operator.neg,
}
# Bounds that keep one expression cheap: no 9**9**9.
_MAX_EXPONENT = 1000
_MAX_MAGNITUDE = 10**100
_MAX_LENGTH = 500


class CalculatorError(ValueError):
    """The expression is not plain arithmetic, or cannot be computed."""


def evaluate(expression: str) -> int | float:
    """The value of ``expression``: numbers, + - * / // % ** and parentheses (``^`` is **)."""
    text = expression.strip().replace("^", "**").replace("\u00d7", "*").replace("\u00f7", "/")
    if not text:
        raise CalculatorError("the expression is empty")
    if len(text) > _MAX_LENGTH:
        raise CalculatorError(f"the expression is longer than {_MAX_LENGTH} characters")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        raise CalculatorError(f"{expression!r} is not an arithmetic expression") from None
    value = _value(tree.body)
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def _value(node: ast.expr) -> int | float:
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        number = node.value
        assert isinstance(number, int | float)
        return number
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_value(node.operand))
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _value(node.left), _value(node.right)
        if isinstance(node.op, ast.Pow) and abs(right) > _MAX_EXPONENT:
            raise CalculatorError(f"exponents above {_MAX_EXPONENT} are not computed")
        try:
            result = _BINARY[type(node.op)](left, right)
        except ZeroDivisionError:
            raise CalculatorError("division by zero") from None
        except OverflowError:
            raise CalculatorError("the result is too large") from None
        if isinstance(result, complex) or (isinstance(result, float) and math.isnan(result)):
            raise CalculatorError("the result is not a real number")
        if abs(result) > _MAX_MAGNITUDE:
            raise CalculatorError("the result is too large")
        return result
    raise CalculatorError(
        f"only numbers, + - * / // % ** and parentheses are allowed, not {ast.unparse(node)!r}"
    )
