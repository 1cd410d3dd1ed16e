"""Tools: the `Tool` protocol, `@tool` for typed functions, and the toolbox that runs calls."""

from agentkit.tools.tool import FunctionTool, Tool, ToolContext, ToolError, ToolResult, tool, tool_spec
from agentkit.tools.toolbox import Toolbox

__all__ = [
    "FunctionTool",
    "Tool",
    "ToolContext",
    "ToolError",
    "ToolResult",
    "Toolbox",
    "tool",
    "tool_spec",
]
