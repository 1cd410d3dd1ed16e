"""An MCP server that asks its client things: a model answer (sampling), a form (elicitation)
and a visit to a page (URL-mode elicitation).

Run, it serves the 2026-07-28 protocol (what agentkit negotiates): the tools' questions
travel embedded in `InputRequiredResult`s (the SDK's `Resolve` markers, and one built by hand
for the URL). `build(legacy=True)` makes the same tools ask with the server's own requests
(`ctx.session.create_message`, `ctx.elicit`, `ctx.elicit_url`), as servers of 2025-11-25 and
before do; the SDK serves those only on a handshake-era connection (a client with
`mode="legacy"`).

    python mcp_asks_server.py                     # stdio
    python mcp_asks_server.py --http --port N     # streamable HTTP at /mcp
    python mcp_asks_server.py --legacy            # stdio, asking with its own requests
"""

from __future__ import annotations

import argparse
import json
import warnings
from typing import Annotated, Any, Literal

from mcp.server.elicitation import ElicitationResult
from mcp.server.mcpserver import Context, MCPServer, Resolve
from mcp.server.mcpserver.resolve import Elicit, Sample
from mcp.shared.exceptions import MCPDeprecationWarning
from mcp.types import (
    CreateMessageResult,
    ElicitRequest,
    ElicitRequestURLParams,
    ElicitResult,
    InputRequiredResult,
    SamplingMessage,
    TextContent,
)
from pydantic import BaseModel, Field

SYSTEM = "Summarize the text in one line."
LOGIN = "https://login.example.test/start"


class Booking(BaseModel):
    name: str = Field(description="Who the table is for")
    seats: int = Field(2, ge=1, le=8, description="How many people")
    when: Literal["lunch", "dinner"] = "dinner"
    terrace: bool = False


class Confirm(BaseModel):
    seats: int = 2
    ok: bool = True


def question(text: str) -> list[SamplingMessage]:
    return [SamplingMessage(role="user", content=TextContent(text=text))]


def summary_of(result: CreateMessageResult) -> str:
    text = result.content.text if isinstance(result.content, TextContent) else ""
    return json.dumps({"model": result.model, "stop": result.stop_reason, "text": text})


def outcome(answer: Any) -> str:
    data = getattr(answer, "data", None)
    return json.dumps({"action": answer.action, "data": data.model_dump() if data is not None else None})


# -- the 2026-07-28 way: questions embedded in InputRequiredResult ---------------------------------


def ask_summary(text: str) -> Sample:
    return Sample(
        question(text), max_tokens=64, system_prompt=SYSTEM, temperature=0.2, stop_sequences=["\n\n"]
    )


def ask_booking() -> Elicit[Booking]:
    return Elicit("Book a table", Booking)


def ask_confirm() -> Elicit[Confirm]:
    return Elicit("Confirm the booking", Confirm)


def build(legacy: bool = False) -> MCPServer:
    """The server, asking the 2026-07-28 way or (`legacy`) with its own requests."""
    server = MCPServer("asks", log_level="WARNING")
    (legacy_tools if legacy else modern_tools)(server)
    return server


def modern_tools(server: MCPServer) -> None:
    @server.tool()
    async def summarize(text: str, answer: Annotated[CreateMessageResult, Resolve(ask_summary)]) -> str:
        """Asks the client's model for a one-line summary of the text."""
        return summary_of(answer)

    @server.tool()
    async def book(answer: Annotated[ElicitationResult[Booking], Resolve(ask_booking)]) -> str:
        """Asks the person for a booking (a name is required)."""
        return outcome(answer)

    @server.tool()
    async def confirm(answer: Annotated[ElicitationResult[Confirm], Resolve(ask_confirm)]) -> str:
        """Asks the person to confirm (every field has a default)."""
        return outcome(answer)

    @server.tool()
    async def login(ctx: Context) -> str | InputRequiredResult:
        """Asks the person to log in on a page."""
        answers = ctx.input_responses
        if not answers:
            page = ElicitRequestURLParams(message="Log in to the test service", url=LOGIN)
            return InputRequiredResult(input_requests={"login": ElicitRequest(params=page)})
        answer = answers["login"]
        assert isinstance(answer, ElicitResult)
        return json.dumps({"action": answer.action})


# -- the 2025-11-25 way: the server's own requests, mid-call ---------------------------------------


def legacy_tools(server: MCPServer) -> None:
    @server.tool()
    async def summarize(text: str, ctx: Context) -> str:
        """Asks the client's model for a one-line summary of the text."""
        with warnings.catch_warnings():  # deprecated as of 2026-07-28; this is the older protocol's way
            warnings.simplefilter("ignore", MCPDeprecationWarning)
            result = await ctx.session.create_message(
                question(text), max_tokens=64, system_prompt=SYSTEM, temperature=0.2, stop_sequences=["\n\n"]
            )
        return summary_of(result)

    @server.tool()
    async def book(ctx: Context) -> str:
        """Asks the person for a booking (a name is required)."""
        return outcome(await ctx.elicit("Book a table", Booking))

    @server.tool()
    async def confirm(ctx: Context) -> str:
        """Asks the person to confirm (every field has a default)."""
        return outcome(await ctx.elicit("Confirm the booking", Confirm))

    @server.tool()
    async def login(ctx: Context) -> str:
        """Asks the person to log in on a page."""
        answer = await ctx.elicit_url("Log in to the test service", LOGIN, "login-1")
        return json.dumps({"action": answer.action})


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--http", action="store_true")
    parser.add_argument("--port", type=int, default=8768)
    parser.add_argument("--legacy", action="store_true", help="ask with the server's own requests")
    args = parser.parse_args()
    if args.http:
        build(args.legacy).run("streamable-http", host="127.0.0.1", port=args.port)
    else:
        build(args.legacy).run()
