"""An MCP server of resources and prompts: a text resource, a binary one, a resource
template, prompts with and without arguments (one embeds a resource and an image, one is a
short conversation), and a tool that adds a resource and a prompt and says both lists
changed.

    python mcp_resources_server.py                     # stdio
    python mcp_resources_server.py --http --port N     # streamable HTTP at http://127.0.0.1:N/mcp
"""

from __future__ import annotations

import argparse
import base64

from mcp.server.mcpserver import AssistantMessage, Context, MCPServer, UserMessage
from mcp.server.mcpserver.prompts.base import Prompt
from mcp.server.mcpserver.resources import TextResource
from mcp.types import EmbeddedResource, ImageContent, TextResourceContents

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
"""A 1x1 PNG."""

README = "# Shelf\nThe shelf holds notes. Read note://{title} for one."

server = MCPServer("shelf", log_level="WARNING")


@server.resource("shelf://readme", name="readme", description="What the shelf is.", mime_type="text/markdown")
def readme() -> str:
    return README


@server.resource("shelf://logo", name="logo", mime_type="image/png")
def logo() -> bytes:
    return PNG


@server.resource("note://{title}", name="note", description="A note by its title.", mime_type="text/plain")
def note(title: str) -> str:
    return f"The note {title!r} says: remember the milk."


@server.prompt(description="Ask for a summary of a topic.")
def summarize(topic: str, style: str = "short") -> str:
    """Summarize a topic."""
    return f"Summarize {topic} in a {style} style."


@server.prompt(description="Review the readme, with the logo.")
def review() -> list[UserMessage | AssistantMessage]:
    return [
        UserMessage("Review this readme and the logo."),
        UserMessage(
            EmbeddedResource(
                type="resource",
                resource=TextResourceContents(uri="shelf://readme", mime_type="text/markdown", text=README),
            )
        ),
        UserMessage(ImageContent(type="image", data=base64.b64encode(PNG).decode(), mime_type="image/png")),
    ]


@server.prompt(description="A short exchange, then a question.")
def dialogue(name: str) -> list[UserMessage | AssistantMessage]:
    return [
        UserMessage(f"My name is {name}."),
        AssistantMessage(f"Hello {name}."),
        UserMessage("What is my name?"),
    ]


@server.tool()
async def add_note(ctx: Context, title: str) -> str:
    """Add a note resource and a prompt about it; both lists change."""
    server.add_resource(
        TextResource(uri=f"shelf://notes/{title}", name=title, text=f"Note {title}", mime_type="text/plain")
    )

    def about() -> str:
        return f"Tell me about the note {title}."

    server.add_prompt(Prompt.from_function(about, name=f"about_{title}", description=f"About {title}."))
    await ctx.notify_resources_changed()  # 2026-07-28: to the listen subscription
    await ctx.notify_prompts_changed()
    await ctx.session.send_resource_list_changed()  # earlier protocols: a notification
    await ctx.session.send_prompt_list_changed()
    return f"added {title}"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--http", action="store_true")
    parser.add_argument("--port", type=int, default=8767)
    args = parser.parse_args()
    if args.http:
        server.run("streamable-http", host="127.0.0.1", port=args.port)
    else:
        server.run()
