"""SDK exceptions, whatever exception groups wrap them, in plain words (for a person or
the model). Its own module so that the MCP modules that word errors do not import the
session that raises them."""

from __future__ import annotations

import asyncio
import sys

from agentkit.errors import AgentkitError

if sys.version_info < (3, 11):  # pragma: no cover - anyio brings the backport there
    from exceptiongroup import BaseExceptionGroup  # type: ignore[import-not-found, unused-ignore]

__all__ = ["describe_exception", "leaves"]


def leaves(exc: BaseException) -> list[BaseException]:
    """The exceptions inside `exc`'s groups (nested ones too), or `exc` alone."""
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for sub in exc.exceptions for leaf in leaves(sub)]
    return [exc]


def describe_exception(exc: BaseException) -> str:
    """A readable account of an error, whatever exception groups the SDK wrapped it in."""
    from mcp.shared.exceptions import MCPError

    parts = []
    for leaf in leaves(exc):
        if isinstance(leaf, MCPError):
            parts.append(f"{leaf.message} (MCP error {leaf.code})")
        elif isinstance(leaf, AgentkitError):  # worded for a person already
            parts.append(str(leaf))
        elif isinstance(leaf, FileNotFoundError):
            parts.append(f"command not found: {leaf.filename or leaf}")
        elif isinstance(leaf, (TimeoutError, asyncio.TimeoutError)):
            parts.append("timed out")
        else:
            text = str(leaf)
            parts.append(f"{type(leaf).__name__}: {text}" if text else type(leaf).__name__)
    unique = list(dict.fromkeys(parts))
    return "; ".join(unique) or type(exc).__name__
