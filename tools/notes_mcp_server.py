"""A small MCP server of notes, written with the `mcp` SDK: agentkit's own example server.

It keeps notes in a JSON file and shows what MCP tools can do: typed arguments, structured
results, read-only and destructive hints, progress notifications, errors, and a tool list
that changes.

    python tools/notes_mcp_server.py                      # stdio (what mcp_configs/notes.json runs)
    python tools/notes_mcp_server.py --http --port 8765   # streamable HTTP at http://127.0.0.1:8765/mcp

The notes file is `$NOTES_FILE` (default: `notes.json` in the working directory).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import BaseModel

server = MCPServer(
    "notes", instructions="Notes kept in a JSON file: add, list, search, delete.", log_level="WARNING"
)


class Note(BaseModel):
    title: str
    text: str


class Notes(BaseModel):
    notes: list[Note]


def _file() -> Path:
    return Path(os.environ.get("NOTES_FILE", "notes.json"))


def _load() -> dict[str, str]:
    path = _file()
    if not path.exists():
        return {}
    return dict(json.loads(path.read_text(encoding="utf-8")))


def _save(notes: dict[str, str]) -> None:
    _file().write_text(json.dumps(notes, ensure_ascii=False, indent=1), encoding="utf-8")


@server.tool(annotations=ToolAnnotations(readOnlyHint=False, destructiveHint=False, idempotentHint=True))
def add_note(title: str, text: str) -> str:
    """Save a note under a title (replacing a note with the same title).

    Args:
        title: A short title, e.g. "groceries".
        text: The note's text.
    """
    notes = _load()
    notes[title] = text
    _save(notes)
    return f"saved note {title!r} ({len(text)} characters)"


@server.tool(annotations=ToolAnnotations(readOnlyHint=True))
def list_notes() -> Notes:
    """All notes, with their titles and texts."""
    return Notes(notes=[Note(title=t, text=x) for t, x in _load().items()])


@server.tool(annotations=ToolAnnotations(readOnlyHint=True))
def search_notes(query: str) -> Notes:
    """Notes whose title or text contains the query (case-insensitive).

    Args:
        query: The words to look for.
    """
    q = query.lower()
    return Notes(
        notes=[Note(title=t, text=x) for t, x in _load().items() if q in t.lower() or q in x.lower()]
    )


@server.tool(annotations=ToolAnnotations(readOnlyHint=False, destructiveHint=True))
def delete_note(title: str) -> str:
    """Delete a note for good.

    Args:
        title: The exact title of the note.
    """
    notes = _load()
    if title not in notes:
        raise ToolError(f"there is no note titled {title!r}; list_notes shows the titles")
    del notes[title]
    _save(notes)
    return f"deleted note {title!r}"


@server.tool(annotations=ToolAnnotations(readOnlyHint=True))
async def summarize_notes(ctx: Context, delay: float = 0.05) -> str:
    """Count the words of every note, reporting progress note by note.

    Args:
        delay: Seconds to spend on each note (to watch the progress).
    """
    notes = _load()
    total = 0
    for i, (title, text) in enumerate(notes.items(), 1):
        total += len(text.split())
        await ctx.report_progress(i, len(notes), f"read {title!r}")
        await asyncio.sleep(delay)
    return f"{len(notes)} notes, {total} words"


@server.tool()
async def enable_export(ctx: Context) -> str:
    """Add the export_notes tool to this server (its tool list changes)."""

    def export_notes() -> str:
        """All notes as one Markdown document."""
        return "\n\n".join(f"# {t}\n{x}" for t, x in _load().items())

    server.add_tool(export_notes, name="export_notes", annotations=ToolAnnotations(readOnlyHint=True))
    await ctx.notify_tools_changed()
    await ctx.session.send_tool_list_changed()
    return "export_notes is now available"


def main() -> None:
    parser = argparse.ArgumentParser(description="agentkit's example MCP server of notes")
    parser.add_argument("--http", action="store_true", help="serve streamable HTTP instead of stdio")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    if args.http:
        print(f"notes MCP server on http://{args.host}:{args.port}/mcp", file=sys.stderr, flush=True)
        server.run("streamable-http", host=args.host, port=args.port)
    else:
        server.run()


if __name__ == "__main__":
    main()
