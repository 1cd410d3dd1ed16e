"""`@tool` functions: specs, validation and conversion of arguments, sync and async calls."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass

import pydantic
import pytest

from agentkit.tools import Tool, ToolContext, ToolError, ToolResult, tool


class Point(pydantic.BaseModel):
    x: int
    y: int


@tool
def norm(p: Point) -> int:
    """Manhattan norm of a point."""
    return abs(p.x) + abs(p.y)


def test_decorated_function_is_a_tool_and_still_callable() -> None:
    assert isinstance(norm, Tool)
    assert norm(Point(x=1, y=-2)) == 3
    spec = norm.spec()
    assert spec["type"] == "function"
    assert list(spec["function"]) == ["name", "description", "parameters"]
    assert spec["function"]["name"] == "norm"


async def test_arguments_are_converted_to_the_annotated_types() -> None:
    result = await norm.call({"p": {"x": 3, "y": -4}}, ToolContext())
    assert result == ToolResult("7", data=7)


async def test_sync_tools_run_off_the_event_loop() -> None:
    seen: list[bool] = []

    @tool
    def where() -> str:
        """Report the thread."""
        seen.append(threading.current_thread() is threading.main_thread())
        return "ok"

    await where.call({}, ToolContext())
    assert seen == [False]


async def test_async_tool_with_options_and_context() -> None:
    @tool(name="fetch_user", timeout=3)
    async def get(user_id: int, ctx: ToolContext) -> dict[str, object]:
        """Fetch a user."""
        await asyncio.sleep(0)
        return {"id": user_id, "step": ctx.step, "deps": ctx.deps}

    assert get.name == "fetch_user" and get.timeout == 3
    result = await get.call({"user_id": 7}, ToolContext(step=2, deps="db"))
    assert result.content == '{"id":7,"step":2,"deps":"db"}'


async def test_return_values_become_text() -> None:
    @dataclass
    class Row:
        a: int

    @tool
    def rows() -> list[Row]:
        """Rows."""
        return [Row(1)]

    @tool
    def nothing() -> None:
        """Nothing."""

    @tool
    def explicit() -> ToolResult:
        """Explicit."""
        return ToolResult("partial", is_error=True)

    assert (await rows.call({}, ToolContext())).content == '[{"a":1}]'
    assert "returned nothing" in (await nothing.call({}, ToolContext())).content
    assert (await explicit.call({}, ToolContext())) == ToolResult("partial", is_error=True)


async def test_pydantic_rejection_becomes_a_tool_error_naming_the_argument() -> None:
    with pytest.raises(ToolError, match=r"Invalid arguments for norm: p\.x"):
        await norm.call({"p": {"x": "abc", "y": 1}}, ToolContext())
