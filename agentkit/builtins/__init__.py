"""Built-in tools, enabled by group name: files, python, shell, fetch, time, calculator.

File, Python and shell tools work in the run's workspace (`RunScope.workspace`); `python`
and `shell` run code, so they are off unless named, and ask for approval by default, as do
file writes and edits.
"""

from __future__ import annotations

from collections.abc import Iterable

from agentkit.errors import ConfigError
from agentkit.tools.tool import Tool

__all__ = ["BUILTIN_GROUPS", "builtin_tools"]

BUILTIN_GROUPS = ("files", "python", "shell", "fetch", "time", "calculator")


def builtin_tools(names: Iterable[str], *, allow_private_fetch: bool = False) -> list[Tool]:
    """The tools of the named groups, in the order named.

    Args:
        names: Group names from `BUILTIN_GROUPS`.
        allow_private_fetch: Let `fetch_url` reach private, loopback and link-local
            addresses (off: an agent should not probe the machine's own network).

    Raises:
        ConfigError: A name is not a group.
    """
    tools: list[Tool] = []
    for name in dict.fromkeys(names):
        if name == "files":
            from agentkit.builtins.files import FILE_TOOLS

            tools += FILE_TOOLS
        elif name == "python":
            from agentkit.builtins.python import PYTHON_TOOLS

            tools += PYTHON_TOOLS
        elif name == "shell":
            from agentkit.builtins.shell import SHELL_TOOLS

            tools += SHELL_TOOLS
        elif name == "fetch":
            from agentkit.builtins.fetch import make_fetch_tool

            tools.append(make_fetch_tool(allow_private=allow_private_fetch))
        elif name == "time":
            from agentkit.builtins.clock import TIME_TOOLS

            tools += TIME_TOOLS
        elif name == "calculator":
            from agentkit.builtins.calculator import CALCULATOR_TOOLS

            tools += CALCULATOR_TOOLS
        else:
            raise ConfigError(f"unknown built-in {name!r}: choose from {', '.join(BUILTIN_GROUPS)}")
    return tools
