"""Safe arithmetic: an expression is parsed and walked, never `eval`ed."""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable
from typing import Any

from agentkit.tools.tool import ToolError, tool

__all__ = ["CALCULATOR_TOOLS", "calculate", "evaluate"]

MAX_EXPONENT = 10_000
"""Largest power `**` computes (10**10**10 would take the machine with it)."""

MAX_DIGITS = 10_000
"""Largest integer, in digits, an operation may produce."""

_MAX_BITS = int(MAX_DIGITS * 3.33)

_BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type, Callable[[Any], Any]] = {ast.UAdd: operator.pos, ast.USub: operator.neg}
_FUNCTIONS: dict[str, Callable[..., Any]] = {
    name: getattr(math, name)
    for name in (
        "sqrt", "exp", "log", "log2", "log10", "sin", "cos", "tan", "asin", "acos", "atan", "atan2",
        "sinh", "cosh", "tanh", "floor", "ceil", "factorial", "gcd", "lcm", "hypot", "degrees", "radians",
    )
} | {"abs": abs, "round": round, "min": min, "max": max}  # fmt: skip
_CONSTANTS = {"pi": math.pi, "e": math.e, "tau": math.tau, "inf": math.inf}


def evaluate(expression: str) -> int | float:
    """The value of an arithmetic expression.

    Raises:
        ToolError: It is not arithmetic, or it is too large, saying which part.
    """
    try:
        tree = ast.parse(expression.replace("^", "**"), mode="eval")
    except SyntaxError as exc:
        raise ToolError(
            f"{expression!r} is not a valid expression ({exc.msg}); e.g. '2 * (3 + 4) ** 2'"
        ) from None
    try:
        value = _walk(tree.body)
    except ZeroDivisionError:
        raise ToolError("division by zero") from None
    except (OverflowError, ValueError) as exc:
        raise ToolError(f"cannot compute {expression!r}: {exc}") from None
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise ToolError(f"{expression!r} does not give a number")
    return value


def _walk(node: ast.AST) -> Any:
    if (
        isinstance(node, ast.Constant)
        and isinstance(node.value, (int, float))
        and not isinstance(node.value, bool)
    ):
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _walk(node.left), _walk(node.right)
        if isinstance(node.op, ast.Pow) and isinstance(right, (int, float)):
            if abs(right) > MAX_EXPONENT:
                raise ToolError(f"the exponent {right} is too large (at most {MAX_EXPONENT})")
            if isinstance(left, int) and left.bit_length() * abs(right) > _MAX_BITS:
                raise ToolError(f"the result would have more than {MAX_DIGITS} digits")
        result = _BINARY[type(node.op)](left, right)
        if isinstance(result, int) and result.bit_length() > _MAX_BITS:
            raise ToolError(f"the result has more than {MAX_DIGITS} digits")
        return result
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_walk(node.operand))
    if isinstance(node, ast.Name) and node.id in _CONSTANTS:
        return _CONSTANTS[node.id]
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in _FUNCTIONS
        and not node.keywords
    ):
        args = [_walk(arg) for arg in node.args]
        if node.func.id == "factorial" and args and isinstance(args[0], int) and args[0] > 3000:
            raise ToolError("factorial is limited to numbers up to 3000")
        return _FUNCTIONS[node.func.id](*args)
    shown = ast.unparse(node) if hasattr(ast, "unparse") else type(node).__name__
    raise ToolError(
        f"{shown!r} is not allowed: use numbers, + - * / // % ** (or ^), parentheses, "
        f"pi, e, and {', '.join(sorted(_FUNCTIONS))}"
    )


@tool
def calculate(expression: str) -> str:
    """Compute an arithmetic expression exactly, e.g. "17 * 23", "sqrt(2) / 3" or "2 ** 64".

    Args:
        expression: Numbers, + - * / // % ** (or ^), parentheses, pi, e, and math functions
            such as sqrt, log, sin, factorial.
    """
    value = evaluate(expression)
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return f"{expression} = {int(value)}"
    return f"{expression} = {value}"


CALCULATOR_TOOLS = [calculate]
