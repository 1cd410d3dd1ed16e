"""Drop-in tools for `agentkit run --tools tools/calendar_tools.py`: dates, and an async tool.

Shows typed parameters pydantic converts for you (`datetime.date` from "2026-11-22"),
`Literal` choices, and an `async` tool that reports progress through its `ToolContext`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Literal

from agentkit import ToolContext, tool


@tool
def days_between(start: dt.date, end: dt.date, count: Literal["calendar", "weekdays"] = "calendar") -> int:
    """Count the days from start to end (end not included).

    Args:
        start: The first day, as YYYY-MM-DD.
        end: The day after the last, as YYYY-MM-DD.
        count: "calendar" counts every day; "weekdays" only Monday to Friday.
    """
    if end < start:
        start, end = end, start
    if count == "calendar":
        return (end - start).days
    return sum(1 for i in range((end - start).days) if (start + dt.timedelta(days=i)).weekday() < 5)


@tool(timeout=120)
async def countdown(seconds: int, ctx: ToolContext) -> str:
    """Wait the given number of seconds, reporting each second, then say it is time.

    Args:
        seconds: How long to wait (at most 60).
    """
    seconds = max(0, min(seconds, 60))
    for done in range(1, seconds + 1):
        await asyncio.sleep(1)
        ctx.progress(done, seconds, f"{seconds - done} s left")
    return f"{seconds} s are up"
