"""MCP tools as agentkit `Tool`s, and MCP results as the text the model reads."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

from agentkit.mcp.session import McpServerError, McpSession
from agentkit.tools.tool import Approval, ToolContext, ToolResult, tool_spec

__all__ = ["McpTool", "prefixed_name", "result_text"]

SEPARATOR = "__"


def prefixed_name(server: str, tool: str) -> str:
    """`server__tool`, with characters a function name may not hold replaced by `_`."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", server) + SEPARATOR + tool


class McpTool:
    """A tool of an MCP server, named `server__tool`.

    Its input schema goes to the model as the server gave it and is what agentkit validates
    arguments against before the call.

    Attributes:
        server: The session of the server that owns it.
        remote_name: The tool's name on its server.
        read_only: The server's `readOnlyHint`.
        destructive: Whether the server marked the tool destructive (`destructiveHint` true
            and not read-only). A tool without annotations is not taken as marked, though
            MCP allows any such tool to be destructive; `require_approval` covers those.
        requires_approval: The config asks for approval before each call.
        approval: "ask" for destructive tools and those the config names, else "auto".
    """

    def __init__(self, session: McpSession, spec: Any) -> None:
        self.server = session
        self.remote_name: str = spec.name
        self.name = prefixed_name(session.name, spec.name)
        self.description: str = spec.description or spec.title or f"The {spec.name} tool of {session.name}."
        schema = spec.input_schema if isinstance(spec.input_schema, dict) else {}
        self.parameters: dict[str, Any] = schema or {"type": "object", "properties": {}}
        hints = spec.annotations
        self.read_only = bool(hints and hints.read_only_hint)
        self.destructive = bool(hints and hints.destructive_hint is True and not self.read_only)
        approval = session.config.require_approval
        self.requires_approval = approval is True or (isinstance(approval, list) and spec.name in approval)
        self.approval: Approval = "ask" if self.destructive or self.requires_approval else "auto"
        # The session's own timeout answers first, with the server told to cancel.
        self.timeout: float | None = session.config.tool_timeout + 5
        self._spec = tool_spec(self.name, self.description, self.parameters)

    def spec(self) -> dict[str, Any]:
        return self._spec

    def __repr__(self) -> str:
        return f"McpTool({self.name!r})"

    async def call(self, arguments: dict[str, Any], context: ToolContext) -> ToolResult:
        async def progress(done: float, total: float | None, message: str | None) -> None:
            context.progress(done, total, message)

        try:
            result = await self.server.call_tool(self.remote_name, arguments, progress=progress)
        except McpServerError as exc:
            return ToolResult(str(exc), is_error=True)
        return ToolResult(result_text(result), is_error=bool(result.is_error), data=result.structured_content)


def _size(data: str | None) -> str:
    if not data:
        return "0 B"
    try:
        size = len(base64.b64decode(data, validate=False))
    except ValueError:
        size = len(data)
    return f"{size / 1024:.1f} KB" if size >= 1024 else f"{size} B"


def _block_text(block: Any) -> str:
    kind = getattr(block, "type", None)
    if kind == "text":
        return str(block.text)
    if kind in ("image", "audio"):
        return f"[{kind}: {block.mime_type or 'unknown type'}, {_size(block.data)}]"
    if kind == "resource_link":
        return f"[resource link: {block.name} {block.uri}]"
    if kind == "resource":
        resource = block.resource
        text = getattr(resource, "text", None)
        if text is not None:
            return str(text)
        blob = getattr(resource, "blob", None)
        return f"[resource: {resource.uri}, {resource.mime_type or 'binary'}, {_size(blob)}]"
    return f"[{kind or 'unknown'} content]"


def result_text(result: Any) -> str:
    """What the model reads of a tool result: text joined, structured content as JSON, and a
    short placeholder for images, audio and binary resources."""
    parts = [_block_text(block) for block in result.content or []]
    structured = result.structured_content
    if structured is not None and not _already_said(parts, structured):
        parts.append(json.dumps(structured, ensure_ascii=False))
    return "\n".join(parts) if parts else "(the tool returned nothing)"


def _already_said(parts: list[str], structured: Any) -> bool:
    """Whether the text blocks already carry the structured result (servers usually send both)."""
    values = [structured]
    if isinstance(structured, dict) and len(structured) == 1:
        values.append(next(iter(structured.values())))  # {"result": ...}, {"content": ...} wrappers
    for part in parts:
        for value in values:
            if part == value:
                return True
            try:
                if json.loads(part) == value:
                    return True
            except ValueError:
                continue
    return False
