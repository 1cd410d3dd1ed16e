"""MCP resources: offered to the model as two tools per server, and attached to tasks.

A server that lists resources (or resource templates) gives the model:

- `server__read_resource(uri)`: reads one. Its description names the server's resources
  and templates (up to `DEFAULT_MCP_RESOURCES_SHOWN`), so the model can read one at once;
  a template's `{placeholders}` are for the model to fill in.
- `server__list_resources()`: lists them all, afresh (for servers with more than the
  description shows, or whose list changes).

Two tools rather than three (templates come with `list_resources`) and no cursor for the
model to handle: a small model calls fewer, simpler tools more reliably. Text contents come
back as text; binary ones are saved in the run's workspace and the text names the file.
`"resources": false` in a server's config turns the tools off.

`attach_resources` reads resources before a run and puts them in its task (`agentkit run
--attach SERVER:URI`).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentkit._text import short_size
from agentkit.defaults import DEFAULT_MCP_LIST_PAGES, DEFAULT_MCP_RESOURCES_SHOWN, TOOL_TIMEOUT_BACKSTOP
from agentkit.errors import ConfigError
from agentkit.mcp.session import McpServerError, McpSession
from agentkit.mcp.tools import SavedFile, prefixed_name, save_files
from agentkit.tools.tool import Approval, ToolContext, ToolResult, tool_spec

if TYPE_CHECKING:
    from agentkit.mcp.toolset import McpToolset

__all__ = [
    "Attachment",
    "ListResourcesTool",
    "ReadResourceTool",
    "attach_resources",
    "read_resource",
    "resource_tools",
]

_DESCRIPTION_CHARS = 120
"""A resource's description is cut to this many characters in the tools' texts."""

LIST_TOOL = "list_resources"
READ_TOOL = "read_resource"


def resource_tools(session: McpSession) -> list[ListResourcesTool | ReadResourceTool]:
    """The resource tools of a server: none if its config says `"resources": false`, if it
    lists no resources or templates, or for a name the server's own tools already take."""
    if not session.config.resources or not session.catalog.has_resources:
        return []
    own = {spec.name for spec in session.tools}
    made: list[ListResourcesTool | ReadResourceTool] = [ListResourcesTool(session), ReadResourceTool(session)]
    return [item for item in made if item.remote_name not in own]


class _ResourceTool:
    """What the two resource tools share: read-only, never asking for approval."""

    remote_name = ""
    approval: Approval = "auto"
    read_only = True
    destructive = False
    requires_approval = False

    def __init__(self, session: McpSession, description: str, parameters: dict[str, Any]) -> None:
        self.server = session
        self.name = prefixed_name(session.name, self.remote_name)
        self.description = description
        self.parameters = parameters
        self.timeout: float | None = session.config.timeout + TOOL_TIMEOUT_BACKSTOP
        self._spec = tool_spec(self.name, description, parameters)

    def spec(self) -> dict[str, Any]:
        return self._spec

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


class ListResourcesTool(_ResourceTool):
    """`server__list_resources`: the server's resources and resource templates, listed afresh."""

    remote_name = LIST_TOOL

    def __init__(self, session: McpSession) -> None:
        super().__init__(
            session,
            f"List the resources (URIs with a name and type) and resource templates of the MCP server "
            f"{session.name!r}; read one with {prefixed_name(session.name, READ_TOOL)}.",
            {"type": "object", "properties": {}},
        )

    async def call(self, arguments: dict[str, Any], context: ToolContext) -> ToolResult:
        catalog = self.server.catalog
        try:
            await self.server.request(
                "resources/list",
                lambda client: catalog.refresh(client, ("resources", "templates"), fresh=True),
            )
        except McpServerError as exc:
            return ToolResult(str(exc), is_error=True)
        problems = [f"{kind}: {error}" for kind, error in catalog.errors.items() if kind != "prompts"]
        if problems and not catalog.has_resources:
            return ToolResult(
                f"MCP server {self.server.name!r} could not list its resources ({'; '.join(problems)})",
                is_error=True,
            )
        return ToolResult(catalog_text(self.server, limit=None))


class ReadResourceTool(_ResourceTool):
    """`server__read_resource(uri)`: one resource's contents."""

    remote_name = READ_TOOL

    def __init__(self, session: McpSession) -> None:
        super().__init__(
            session,
            f"Read a resource of the MCP server {session.name!r} by its URI. "
            + catalog_text(session, limit=DEFAULT_MCP_RESOURCES_SHOWN),
            {
                "type": "object",
                "properties": {
                    "uri": {
                        "type": "string",
                        "description": "A resource's URI, or a template's with its {placeholders} filled.",
                    }
                },
                "required": ["uri"],
            },
        )

    async def call(self, arguments: dict[str, Any], context: ToolContext) -> ToolResult:
        uri = str(arguments["uri"])
        try:
            result = await read_resource(self.server, uri)
        except McpServerError as exc:
            return ToolResult(f"{exc}. {_known_uris(self.server)}", is_error=True)
        made_now = not context.scope.has_workspace
        root = context.scope.workspace if _has_blob(result) else None
        files = save_contents(result, root, shown_from=root) if root is not None else []
        if made_now and root is not None:
            files = [f and f.located(f"in the run's workspace {root}") for f in files]
        return ToolResult(contents_text(result, files, framed=len(result.contents) > 1))


async def read_resource(session: McpSession, uri: str) -> Any:
    """Read one resource of a server; the SDK's `ReadResourceResult`.

    Raises:
        McpServerError: The server is down, or refused (no such resource, say).
    """
    return await session.request(f"reading {uri}", lambda client: client.read_resource(uri))


def catalog_text(session: McpSession, *, limit: int | None) -> str:
    """A server's resources and templates, one a line, for the model (`limit`: at most this
    many named, the rest counted, with the tool that lists them all)."""
    catalog = session.catalog
    lines = [
        f"- {r.uri}" + _about(r.name, r.title, r.mime_type, r.description, r.size) for r in catalog.resources
    ]
    templates = [
        f"- {t.uri_template}" + _about(t.name, t.title, t.mime_type, t.description, None)
        for t in catalog.templates
    ]
    shown_resources = lines if limit is None else lines[:limit]
    room = None if limit is None else max(0, limit - len(shown_resources))
    shown_templates = templates if room is None else templates[:room]
    parts = []
    if shown_resources:
        parts.append("Resources:\n" + "\n".join(shown_resources))
    if shown_templates:
        parts.append(
            "Resource templates (replace each {placeholder} to make a URI):\n" + "\n".join(shown_templates)
        )
    hidden = len(lines) - len(shown_resources) + len(templates) - len(shown_templates)
    if hidden:
        parts.append(f"({hidden} more: {prefixed_name(session.name, LIST_TOOL)} lists them all)")
    if catalog.cut & {"resources", "templates"}:
        parts.append(f"(the server has more than the {DEFAULT_MCP_LIST_PAGES} pages of resources read)")
    return "\n".join(parts) if parts else "The server lists no resources."


def _about(name: str, title: str | None, mime: str | None, description: str | None, size: int | None) -> str:
    label = title or name
    facts = ", ".join(x for x in (mime, short_size(size) if size is not None else None) if x)
    text = f" — {label}" if label else ""
    if facts:
        text += f" ({facts})"
    if description:
        said = " ".join(description.split())
        text += ": " + (said if len(said) <= _DESCRIPTION_CHARS else said[: _DESCRIPTION_CHARS - 1] + "…")
    return text


def _known_uris(session: McpSession) -> str:
    catalog = session.catalog
    if not catalog.has_resources:
        return "The server lists no resources."
    shown = [str(r.uri) for r in catalog.resources[:DEFAULT_MCP_RESOURCES_SHOWN]]
    shown += [t.uri_template for t in catalog.templates[: max(0, DEFAULT_MCP_RESOURCES_SHOWN - len(shown))]]
    more = len(catalog.resources) + len(catalog.templates) - len(shown)
    return "Its resources and templates: " + ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def _has_blob(result: Any) -> bool:
    return any(getattr(c, "blob", None) is not None for c in result.contents or [])


def save_contents(result: Any, folder: Path, *, shown_from: Path | None = None) -> list[SavedFile | None]:
    """Write the binary contents of a `ReadResourceResult` into `folder` (see `save_files`);
    one entry per content, None for text."""
    from mcp.types import CallToolResult, EmbeddedResource

    blocks = CallToolResult(content=[EmbeddedResource(type="resource", resource=c) for c in result.contents])
    return save_files(blocks, folder, "resource", shown_from=shown_from)


def contents_text(result: Any, files: Sequence[SavedFile | None] = (), *, framed: bool = False) -> str:
    """The contents of a `ReadResourceResult` as text: text as it is, binary contents as the
    file each was saved as (`files`, from `save_contents`) or their type and size.

    `framed`: each content between `<resource uri=... mime=...>` and `</resource>` (several
    contents, or a resource attached to a task)."""
    contents = list(result.contents or [])
    saved = (list(files) + [None] * len(contents))[: len(contents)]
    parts = []
    for content, file in zip(contents, saved, strict=True):
        body = _content_body(content, file)
        if framed:
            mime = f' mime="{content.mime_type}"' if content.mime_type else ""
            body = f'<resource uri="{content.uri}"{mime}>\n{body}\n</resource>'
        parts.append(body)
    return "\n".join(parts) if parts else "(the resource is empty)"


def _content_body(content: Any, saved: SavedFile | None) -> str:
    text = getattr(content, "text", None)
    if text is not None:
        return str(text)
    mime = content.mime_type or "application/octet-stream"
    if saved is not None and saved.error is None:
        return f"[binary: {mime}, {short_size(saved.size)}, saved as {saved.shown}]"
    try:
        size = short_size(len(base64.b64decode(content.blob or "", validate=True)))
    except (binascii.Error, ValueError):
        size = "invalid base64"
    why = f"; {saved.error}" if saved is not None and saved.error else ""
    return f"[binary: {mime}, {size}{why}]"


# -- attachments --------------------------------------------------------------------------------


_PLACEHOLDER = re.compile(r"\{[+#./;?&]?([^{}]*)\}")
"""An RFC 6570 expression left in a URI (`{n}`, `{+path}`): a template not filled in."""


@dataclass(frozen=True)
class Attachment:
    """A resource to read before a run and put in its task.

    Attributes:
        server: The MCP server's name in the config.
        uri: The resource's URI.
    """

    server: str
    uri: str

    @classmethod
    def parse(cls, text: str) -> Attachment:
        """`SERVER:URI` (the URI may hold colons of its own: `docs:file:///a.md`).

        Raises:
            ConfigError: It is not in that shape.
        """
        server, sep, uri = text.partition(":")
        if not sep or not server or not uri or uri.startswith("//"):
            forgot = f" ({text} is a URI with no server before it)" if uri.startswith("//") else ""
            raise ConfigError(
                f"--attach {text}: give it as SERVER:URI, e.g. --attach {'SERVER:' + text if forgot else 'docs:file:///notes.md'}"
                f"{forgot} (agentkit mcp resources lists each server's resources)"
            )
        placeholder = _PLACEHOLDER.search(uri)
        if placeholder:
            raise ConfigError(
                f"--attach {text}: {placeholder.group(0)} is a placeholder of the server's URI template; "
                f"put the {placeholder.group(1)} you want in its place, e.g. "
                f"--attach {server}:{uri.replace(placeholder.group(0), 'VALUE', 1)} "
                f"(agentkit mcp resources {server} lists its templates)"
            )
        return cls(server, uri)

    def __str__(self) -> str:
        return f"{self.server}:{self.uri}"


def running_session(toolset: McpToolset | None, server: str, what: str) -> McpSession:
    """The session of a running server, by name.

    Raises:
        ConfigError: No such server, or it is not running; the message names those that are.
    """
    sessions = toolset.sessions if toolset is not None else {}
    session = sessions.get(server)
    if session is None or session.status != "ready":
        running = [name for name, s in sessions.items() if s.status == "ready"]
        why = "is not running" + (f" ({session.error})" if session is not None and session.error else "")
        if session is None:
            why = (
                "is not in the MCP config"
                if toolset is not None
                else "cannot be reached: the agent has no MCP servers"
            )
        raise ConfigError(
            f"{what}: MCP server {server!r} {why}; the running servers: {', '.join(running) or 'none'} "
            "(agentkit mcp list shows the config's servers)"
        )
    return session


async def attach_resources(
    toolset: McpToolset | None,
    task: str,
    attachments: Iterable[Attachment | str],
    workspace: Path,
) -> str:
    """The task with resources read from running MCP servers added after it.

    Each resource goes in a `<resource server=... uri=...>` block: text contents as they are,
    binary ones saved in `workspace` and named there by their path in it.

    Args:
        toolset: The servers, started (`agent.mcp` inside `async with agent:`).
        task: The user's message.
        attachments: `Attachment`s or `SERVER:URI` strings.
        workspace: Where binary contents are saved (the run's workspace).

    Raises:
        ConfigError: A server is not running, or could not read the URI; the message names
            the running servers or the server's resources.
    """
    blocks = [task]
    for item in attachments:
        attachment = item if isinstance(item, Attachment) else Attachment.parse(item)
        session = running_session(toolset, attachment.server, f"--attach {attachment}")
        try:
            result = await read_resource(session, attachment.uri)
        except McpServerError as exc:
            raise ConfigError(f"--attach {attachment}: {exc}. {_known_uris(session)}") from None
        files = save_contents(result, workspace, shown_from=workspace) if _has_blob(result) else []
        body = contents_text(result, files)
        blocks.append(f'<resource server="{attachment.server}" uri="{attachment.uri}">\n{body}\n</resource>')
    return "\n\n".join(blocks)
