"""A small MCP server of documentation pages, written with the `mcp` SDK: the example server
for what MCP offers besides tools.

- Resources: two pages (`docs://pages/mcp.md`, `docs://pages/agents.md`) and a template,
  `docs://search/{word}`, whose resource is the lines of the pages that hold the word.
- A prompt with arguments: `summarize(topic, style="short")`.
- A tool that samples (asks the client's model): `ask_model(question)`.
- A tool that asks the person a form (elicitation): `feedback()`.

Its tools ask the 2026-07-28 way, by returning their questions (the SDK's `Resolve`
parameters), which is what agentkit speaks with it. Run by mcp_configs/docs.json:

    python tools/docs_mcp_server.py                      # stdio
    python tools/docs_mcp_server.py --http --port 8766   # streamable HTTP at http://127.0.0.1:8766/mcp
"""

from __future__ import annotations

import argparse
import json
from typing import Annotated

from mcp.server.elicitation import ElicitationResult
from mcp.server.mcpserver import MCPServer, Resolve
from mcp.server.mcpserver.resolve import Elicit, Sample
from mcp.types import CreateMessageResult, SamplingMessage, TextContent
from pydantic import BaseModel, Field

server = MCPServer(
    "docs",
    instructions="Documentation pages about MCP and agents; read them as resources.",
    log_level="WARNING",
)

PAGES = {
    "mcp.md": (
        "# MCP\n\nThe Model Context Protocol connects a model's client to servers that offer tools,\n"
        "resources (documents the client may read) and prompts (ready-made tasks). A server may\n"
        "also ask its client for a model's answer (sampling) or ask the person a form (elicitation).\n"
    ),
    "agents.md": (
        "# Agents\n\nAn agent is a model that calls tools in a loop until it can answer. agentkit runs\n"
        "Qwen3 as one: the model thinks, calls tools (its own and those of MCP servers), reads the\n"
        "results and goes on.\n"
    ),
}

ANSWER_STYLE = "Answer in one or two sentences."
"""The system prompt of the sampling request."""


@server.resource("docs://pages/mcp.md", name="mcp", description="What MCP is", mime_type="text/markdown")
def mcp_page() -> str:
    return PAGES["mcp.md"]


@server.resource(
    "docs://pages/agents.md", name="agents", description="What an agent is", mime_type="text/markdown"
)
def agents_page() -> str:
    return PAGES["agents.md"]


@server.resource("docs://search/{word}", name="search", description="The lines of the pages that hold a word")
def search(word: str) -> str:
    found = [
        f"{name}: {line}"
        for name, text in PAGES.items()
        for line in text.splitlines()
        if word.lower() in line.lower()
    ]
    return "\n".join(found) or f"No page mentions {word!r}."


@server.prompt()
def summarize(topic: str, style: str = "short") -> str:
    """Summarize what the pages say about a topic."""
    return f"Summarize what the documentation says about {topic}, in a {style} way. Quote the page you use."


def _question(question: str) -> Sample:
    message = SamplingMessage(role="user", content=TextContent(type="text", text=question))
    return Sample([message], max_tokens=200, system_prompt=ANSWER_STYLE)


@server.tool()
async def ask_model(question: str, answer: Annotated[CreateMessageResult, Resolve(_question)]) -> str:
    """Ask the client's own model a question (MCP sampling) and return its answer."""
    text = answer.content.text if isinstance(answer.content, TextContent) else ""
    return json.dumps({"question": question, "model_answer": text})


class Feedback(BaseModel):
    rating: int = Field(ge=1, le=5, description="How useful the pages are, 1 to 5")
    comment: str = Field("", description="Anything to add")


def _form() -> Elicit[Feedback]:
    return Elicit("How useful are the docs pages?", Feedback)


@server.tool()
async def feedback(answer: Annotated[ElicitationResult[Feedback], Resolve(_form)]) -> str:
    """Ask the person to rate the pages (an MCP elicitation form) and return their answer."""
    data = getattr(answer, "data", None)
    return json.dumps({"action": answer.action, "feedback": data.model_dump() if data is not None else None})


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--http", action="store_true", help="serve streamable HTTP instead of stdio")
    parser.add_argument("--port", type=int, default=8766)
    args = parser.parse_args()
    if args.http:
        server.run("streamable-http", host="127.0.0.1", port=args.port)
    else:
        server.run()
