"""Drop-in tools for `agentkit run --tools tools/calculator.py`: arithmetic a model gets wrong.

Any Python file works the same way: decorate typed functions with `@tool`; the docstring
tells the model what the tool does, the `Args:` section what each argument means.
"""

from __future__ import annotations

import math

from agentkit import tool


@tool
def multiply(a: float, b: float) -> float:
    """Multiply two numbers exactly.

    Args:
        a: The first factor.
        b: The second factor.
    """
    return a * b


@tool
def sqrt(x: float) -> float:
    """Square root of a non-negative number.

    Args:
        x: The number, 0 or more.
    """
    if x < 0:
        raise ValueError("x must be 0 or more; the square root of a negative number is not real")
    return math.sqrt(x)
