"""The Python API in a few lines: a tool, an agent, a run, streamed events.

python examples/quickstart.py                    # a Qwen3 on http://127.0.0.1:8000/v1
python examples/quickstart.py --offline          # no server: a scripted model
"""

from __future__ import annotations

import asyncio
import sys

from agentkit import Agent, ScriptedBackend, tool
from agentkit.events import TextDelta, ToolCallFinished, ToolCallStarted


@tool
def get_weather(city: str) -> str:
    """Current weather for a city.

    Args:
        city: City name, e.g. "Paris".
    """
    return {"paris": "14°C, light rain", "tokyo": "22°C, clear"}.get(city.lower(), "unknown city")


SCRIPT = [
    "<think>\nI need both cities.\n</think>\n\n"
    '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>\n'
    '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Tokyo"}}\n</tool_call>',
    "Paris: 14°C with light rain. Tokyo: 22°C and clear.",
]


async def main(offline: bool) -> None:
    backend = ScriptedBackend(SCRIPT, delay=0.01) if offline else "completions"
    async with Agent(model=None, backend=backend, tools=[get_weather]) as agent:
        async for event in agent.stream("What's the weather in Paris and Tokyo?"):
            if isinstance(event, ToolCallStarted):
                print(f"\n→ {event.call.name}({event.call.arguments})")
            elif isinstance(event, ToolCallFinished):
                print(f"← {event.result.content}")
            elif isinstance(event, TextDelta):
                print(event.text, end="", flush=True)
    print()


if __name__ == "__main__":
    asyncio.run(main("--offline" in sys.argv))
