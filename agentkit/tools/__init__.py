"""Tools: the `Tool` protocol, `@tool` for typed functions, and the toolbox that runs calls."""

from agentkit.tools.tool import FunctionTool, Tool, ToolContext, ToolError, ToolResult, tool, tool_spec
from agentkit.tools.toolbox import DEFAULT_TOOL_TIMEOUT, Toolbox

__all__ = [
    "DEFAULT_TOOL_TIMEOUT",
    "FunctionTool",
    "Tool",
    "ToolContext",
    "ToolError",
    "ToolResult",
    "Toolbox",
    "tool",
    "tool_spec",
]
