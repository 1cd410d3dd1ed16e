"""The current date and time, in any IANA time zone."""

from __future__ import annotations

import datetime as dt
import difflib
import zoneinfo

from agentkit.tools.tool import ToolError, tool

__all__ = ["TIME_TOOLS", "current_time"]


@tool
def current_time(timezone: str = "UTC") -> dict[str, str]:
    """The current date, time and weekday in a time zone.

    Args:
        timezone: An IANA time zone name, e.g. "Europe/Paris", "America/New_York" or "UTC".
    """
    try:
        zone = zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        close = difflib.get_close_matches(timezone, sorted(zoneinfo.available_timezones()), n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise ToolError(
            f"{timezone!r} is not a known time zone.{hint} Use names like 'Asia/Tokyo'."
        ) from None
    now = dt.datetime.now(zone)
    return {
        "timezone": timezone,
        "datetime": now.isoformat(timespec="seconds"),
        "weekday": now.strftime("%A"),
        "utc_offset": now.strftime("%z"),
    }


TIME_TOOLS = [current_time]
