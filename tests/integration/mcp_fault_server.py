"""An MCP server that misbehaves on request, for agentkit's fault tests.

    python mcp_fault_server.py [--ignore-sigterm] [--exit-at-start] [--http PORT]

With --ignore-sigterm it also stays up when its stdin closes: only SIGKILL stops it.

Tools: echo, sleep (reports progress), crash (the process dies mid-call), fail (an error
result), picture (an image), whoami (its pid), grow (adds a tool and says the list changed).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import signal
import sys
import time

from mcp.server.mcpserver import Context, Image, MCPServer
from mcp.server.mcpserver.exceptions import ToolError

server = MCPServer("faults", log_level="WARNING")

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


@server.tool()
def echo(text: str) -> str:
    """Echo the text."""
    return text


@server.tool()
async def sleep(seconds: float, ctx: Context) -> str:
    """Sleep, reporting progress each tenth."""
    for i in range(10):
        await ctx.report_progress(i + 1, 10, f"{(i + 1) * 10}%")
        await asyncio.sleep(seconds / 10)
    return f"slept {seconds}"


@server.tool()
async def crash() -> str:
    """Die in the middle of the call."""
    print("fault server: crashing now", file=sys.stderr, flush=True)
    await asyncio.sleep(0.05)
    os._exit(9)


@server.tool()
def fail(reason: str = "it broke") -> str:
    """Answer with an error."""
    raise ToolError(reason)


@server.tool()
def picture() -> Image:
    """A 1x1 PNG."""
    return Image(data=PNG, format="png")


@server.tool()
def whoami() -> int:
    """The server's process id."""
    return os.getpid()


@server.tool()
async def grow(ctx: Context) -> str:
    """Add the tool `extra` and tell the client the tool list changed."""

    def extra() -> str:
        """A tool that was not there at first."""
        return "extra!"

    server.add_tool(extra, name="extra")
    await ctx.notify_tools_changed()
    await ctx.session.send_tool_list_changed()
    return "grown"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ignore-sigterm", action="store_true")
    parser.add_argument("--exit-at-start", action="store_true")
    parser.add_argument("--http", type=int, default=0)
    parser.add_argument("--tag", help="ignored: marks the process for tests to find")
    args = parser.parse_args()
    if args.exit_at_start:
        print("fault server: missing FAULT_TOKEN, cannot start", file=sys.stderr, flush=True)
        sys.exit(3)
    if args.ignore_sigterm:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if args.http:
        server.run("streamable-http", host="127.0.0.1", port=args.http)
    else:
        server.run()
    if args.ignore_sigterm:  # and stdin closing: only SIGKILL stops it now
        print("fault server: stdin closed, staying up anyway", file=sys.stderr, flush=True)
        time.sleep(3600)


if __name__ == "__main__":
    main()
