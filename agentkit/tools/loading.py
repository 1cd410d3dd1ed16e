"""The tools a Python file defines, loaded by its path (what `agentkit run --tools FILE` does)."""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agentkit.errors import ConfigError
from agentkit.tools.tool import Tool

__all__ = ["load_tools"]


def load_tools(path: str | os.PathLike[str]) -> list[Tool | Callable[..., Any]]:
    """The tools a Python file defines: its `TOOLS` list if it has one, else its `@tool`s.

    The file runs as a module of its own, once per call, named `agentkit_user_tools_<stem>` in
    `sys.modules`; it need not be importable (on `sys.path` or in a package).

    Args:
        path: The Python file.

    Returns:
        The `TOOLS` list's items as they are (tools, or plain typed functions that `Agent`
        makes tools), else every `Tool` among the module's top-level names, in their order.

    Raises:
        ConfigError: The file does not exist, importing it failed (the message carries the
            exception), or it defines no tools.

    Example:
        ```python
        agent = Agent(tools=load_tools("my_tools.py"))
        ```
    """
    file = Path(path)
    if file.is_dir():
        raise ConfigError(f"{file}: a folder, not a Python file; give each tools file (.py) in it")
    if not file.is_file():
        raise ConfigError(f"{file}: no such file")
    spec = importlib.util.spec_from_file_location(f"agentkit_user_tools_{file.stem}", file)
    if spec is None or spec.loader is None:
        raise ConfigError(f"{file}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    # Registered as an import would be: dataclasses and pydantic look a class's module up there.
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[spec.name]
        raise ConfigError(f"{file}: importing it failed: {type(exc).__name__}: {exc}") from exc
    listed = getattr(module, "TOOLS", None)
    found = list(listed) if listed is not None else [v for v in vars(module).values() if isinstance(v, Tool)]
    if not found:
        raise ConfigError(
            f"{file}: it defines no tools; decorate functions with @agentkit.tool "
            "or list them in TOOLS = [...]"
        )
    return found
