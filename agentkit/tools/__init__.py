"""Tools: the `Tool` protocol, `@tool` for typed functions, the toolbox that runs calls, and
`load_tools` for the tools a Python file defines."""

from agentkit.tools.loading import load_tools
from agentkit.tools.tool import FunctionTool, Tool, ToolContext, ToolError, ToolResult, tool, tool_spec
from agentkit.tools.toolbox import Toolbox

__all__ = [
    "FunctionTool",
    "Tool",
    "ToolContext",
    "ToolError",
    "ToolResult",
    "Toolbox",
    "load_tools",
    "tool",
    "tool_spec",
]
