"""agentkit: run a locally served Qwen3 model as a tool-using agent.

```python
from agentkit import Agent, tool

@tool
def add(a: int, b: int) -> int:
    \"\"\"Add two integers.\"\"\"
    return a + b

agent = Agent(model="Qwen/Qwen3-4B", tools=[add])
print(agent.run_sync("What is 2 + 40?").output)
```

Names are imported on first use, so `import agentkit` stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "Agent": "agentkit.agent",
    "AgentServer": "agentkit.mcp.server",
    "AgentkitError": "agentkit.errors",
    "AssistantMessage": "agentkit.messages",
    "BatchProgress": "agentkit.batch",
    "BatchResult": "agentkit.batch",
    "BatchTask": "agentkit.batch",
    "ChatBackend": "agentkit.backends.chat",
    "ChatSession": "agentkit.chat",
    "CompletionsBackend": "agentkit.backends.completions",
    "ElicitationAnswer": "agentkit.mcp.asks",
    "ElicitationRequest": "agentkit.mcp.asks",
    "ConfigError": "agentkit.errors",
    "ContextOverflow": "agentkit.errors",
    "ContextPolicy": "agentkit.context",
    "Limits": "agentkit.limits",
    "ModelError": "agentkit.errors",
    "ModelTimeout": "agentkit.errors",
    "ModelUnreachable": "agentkit.errors",
    "ReplicaBackend": "agentkit.backends.replicas",
    "RetryPolicy": "agentkit.backends.retry",
    "RunResult": "agentkit.result",
    "Sampling": "agentkit.thinking",
    "SamplingRequest": "agentkit.mcp.asks",
    "SandboxPolicy": "agentkit.sandbox",
    "SandboxWarning": "agentkit.sandbox",
    "ScriptedBackend": "agentkit.backends.scripted",
    "StepContext": "agentkit.thinking",
    "SystemMessage": "agentkit.messages",
    "Telemetry": "agentkit.telemetry",
    "ThinkingDecision": "agentkit.thinking",
    "Timeouts": "agentkit.limits",
    "Tool": "agentkit.tools.tool",
    "ToolCall": "agentkit.messages",
    "ToolContext": "agentkit.tools.tool",
    "ToolError": "agentkit.errors",
    "ToolMessage": "agentkit.messages",
    "ToolResult": "agentkit.tools.tool",
    "Toolbox": "agentkit.tools.toolbox",
    "UserMessage": "agentkit.messages",
    "load_tools": "agentkit.tools.loading",
    "parse_output": "agentkit.qwen3.parser",
    "render_prompt": "agentkit.qwen3.template",
    "tool": "agentkit.tools.tool",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'agentkit' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


if TYPE_CHECKING:
    from agentkit.agent import Agent
    from agentkit.backends.chat import ChatBackend
    from agentkit.backends.completions import CompletionsBackend
    from agentkit.backends.replicas import ReplicaBackend
    from agentkit.backends.retry import RetryPolicy
    from agentkit.backends.scripted import ScriptedBackend
    from agentkit.batch import BatchProgress, BatchResult, BatchTask
    from agentkit.chat import ChatSession
    from agentkit.context import ContextPolicy
    from agentkit.errors import (
        AgentkitError,
        ConfigError,
        ContextOverflow,
        ModelError,
        ModelTimeout,
        ModelUnreachable,
        ToolError,
    )
    from agentkit.limits import Limits, Timeouts
    from agentkit.mcp.asks import ElicitationAnswer, ElicitationRequest, SamplingRequest
    from agentkit.mcp.server import AgentServer
    from agentkit.messages import AssistantMessage, SystemMessage, ToolCall, ToolMessage, UserMessage
    from agentkit.qwen3.parser import parse_output
    from agentkit.qwen3.template import render_prompt
    from agentkit.result import RunResult
    from agentkit.sandbox import SandboxPolicy, SandboxWarning
    from agentkit.telemetry import Telemetry
    from agentkit.thinking import Sampling, StepContext, ThinkingDecision
    from agentkit.tools.loading import load_tools
    from agentkit.tools.tool import Tool, ToolContext, ToolResult, tool
    from agentkit.tools.toolbox import Toolbox
