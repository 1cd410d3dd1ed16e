"""Tool-call overhead through agentkit versus a bare `mcp` SDK call, on the same server.

Both sides call the `echo` tool of one server (tests/integration/mcp_fault_server.py) over
stdio and over streamable HTTP, 50 times after a warm-up, and the table gives the median wall
time per call. agentkit's path is the toolbox's, as the agent loop uses it: name lookup,
JSON-schema validation, the session's timeout and restart bookkeeping, and the conversion of
the result to text.

    python bench/mcp_overhead.py [--calls 50]
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from agentkit.mcp.config import McpConfig, ServerConfig
from agentkit.mcp.toolset import McpToolset
from agentkit.messages import ToolCall
from agentkit.tools.toolbox import Toolbox

SERVER = Path(__file__).resolve().parents[1] / "tests" / "integration" / "mcp_fault_server.py"
WARMUP = 5


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def bare_sdk(server: ServerConfig, calls: int) -> list[float]:
    from mcp import Client, StdioServerParameters

    target: Any = server.url
    if server.command:
        target = StdioServerParameters(command=server.command, args=list(server.args))
    times = []
    async with Client(target) as client:
        for i in range(calls + WARMUP):
            started = time.perf_counter()
            await client.call_tool("echo", {"text": "hello"})
            if i >= WARMUP:
                times.append(time.perf_counter() - started)
    return times


async def through_agentkit(server: ServerConfig, calls: int) -> list[float]:
    times = []
    async with McpToolset(McpConfig(servers={"bench": server})) as toolset:
        box = Toolbox(toolset.tools(), approval={"*": "auto"})
        for i in range(calls + WARMUP):
            started = time.perf_counter()
            answer = await box.run(ToolCall("bench__echo", {"text": "hello"}))
            if i >= WARMUP:
                times.append(time.perf_counter() - started)
            assert answer.content == "hello", answer
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=50)
    args = parser.parse_args()
    rows = []
    stdio = ServerConfig(command=sys.executable, args=[str(SERVER)])
    rows.append(
        ("stdio", asyncio.run(bare_sdk(stdio, args.calls)), asyncio.run(through_agentkit(stdio, args.calls)))
    )
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(SERVER), "--http", str(port)], stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        http = ServerConfig(url=f"http://127.0.0.1:{port}/mcp")
        rows.append(
            (
                "streamable HTTP",
                asyncio.run(bare_sdk(http, args.calls)),
                asyncio.run(through_agentkit(http, args.calls)),
            )
        )
    finally:
        proc.terminate()
        proc.wait()
    print(f"\nMCP tool call, median wall time of {args.calls} calls (ms)\n")
    print("| transport | bare SDK call_tool | through agentkit | overhead |")
    print("|---|---|---|---|")
    for name, bare, ours in rows:
        b, o = statistics.median(bare) * 1000, statistics.median(ours) * 1000
        print(f"| {name} | {b:.2f} | {o:.2f} | {o - b:+.2f} |")


if __name__ == "__main__":
    main()
