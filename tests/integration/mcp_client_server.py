"""An MCP server that exercises the client side of the protocol: it states instructions, asks
for the client's roots, logs, and has a slow tool that notes in a file whether it was
cancelled.

    python mcp_client_server.py                     # stdio
    python mcp_client_server.py --http --port N     # streamable HTTP at http://127.0.0.1:N/mcp
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Annotated

import anyio
from mcp.server.mcpserver import Context, ListRoots, MCPServer, Resolve
from mcp.types import ListRootsResult

INSTRUCTIONS = "Probe: call roots before anything else."

server = MCPServer("probe", instructions=INSTRUCTIONS, log_level="WARNING")


def ask_roots() -> ListRoots:
    return ListRoots()


@server.tool()
async def roots(found: Annotated[ListRootsResult, Resolve(ask_roots)]) -> str:
    """The client's roots, one URI a line."""
    return "\n".join(str(root.uri) for root in found.roots) or "(no roots)"


@server.tool()
async def chatty(ctx: Context) -> str:
    """Logs at three levels, then answers."""
    await ctx.debug("too fine to hear")
    await ctx.info("reading the probe")
    await ctx.warning({"disk": "almost full"})
    return "logged"


@server.tool()
async def slow(path: str, seconds: float = 30.0) -> str:
    """Sleeps; writes "started" to `path`, then "cancelled" if cancelled."""
    side = Path(path)
    side.write_text("started")
    try:
        await anyio.sleep(seconds)
    except anyio.get_cancelled_exc_class():
        side.write_text("cancelled")
        raise
    side.write_text("finished")
    return "slept"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--http", action="store_true")
    parser.add_argument("--port", type=int, default=8766)
    args = parser.parse_args()
    if args.http:
        server.run("streamable-http", host="127.0.0.1", port=args.port)
    else:
        server.run()
