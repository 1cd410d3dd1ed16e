"""What `agentkit run --attach/--prompt` does before the run, and how `agentkit mcp prompts`
and `agentkit mcp resources` show what servers offer. The work itself is in
`agentkit.mcp.resources` and `agentkit.mcp.prompts`, which the Python API uses too."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.markup import escape

from agentkit.events import Event
from agentkit.messages import Message

__all__ = ["Opening", "no_mcp_config", "prompt_lines", "prompt_rows", "resource_lines", "resource_rows"]


@dataclass
class Opening:
    """A run's start from MCP: resources to attach, and a prompt to start from.

    Attributes:
        attach: `SERVER:URI` items.
        prompt: `SERVER/NAME`, or None.
        arguments: `NAME=VALUE` items for the prompt.
    """

    attach: list[str]
    prompt: str | None
    arguments: list[str]

    async def start(
        self, agent: Any, task: str, on_event: Callable[[Event], None] | None = None
    ) -> tuple[str, list[Message] | None]:
        """Start the agent's MCP servers and build the run's task and history.

        Binary contents go in the agent's workspace; without one, in a fresh folder that
        becomes the run's workspace.

        Args:
            agent: The agent whose servers are read.
            task: The task given on the command line ("" for none).
            on_event: Hears the servers start, as a run that starts them would
                (`Agent.start_servers`).

        Raises:
            ConfigError: No MCP config, or a bad reference, server, URI, prompt or argument;
                the message names the fix.
        """
        from agentkit.errors import ConfigError
        from agentkit.mcp.prompts import get_prompt, parse_arguments
        from agentkit.mcp.resources import Attachment, attach_resources

        if agent.mcp is None:
            flag = f"--prompt {self.prompt}" if self.prompt is not None else f"--attach {self.attach[0]}"
            raise ConfigError(f"{flag} reads from an MCP server, but {no_mcp_config()}")
        attachments = [Attachment.parse(item) for item in self.attach]
        arguments = parse_arguments(self.arguments)
        await agent.start_servers(on_event)  # they run until the agent is closed after the run
        given = agent.workspace
        workspace = (
            Path(given)
            if given is not None
            else Path(tempfile.gettempdir()) / f"agentkit-workspace-{uuid.uuid4().hex[:8]}"
        )
        history: list[Message] | None = None
        if self.prompt is not None:
            start = await get_prompt(
                agent.mcp, self.prompt, arguments, workspace=workspace, task=task or None
            )
            task, history = start.task, start.history
        if attachments:
            task = await attach_resources(agent.mcp, task, attachments, workspace)
        if given is None and workspace.exists():
            agent.workspace = workspace
        return task, history


def no_mcp_config() -> str:
    """That no MCP config was found, and the three ways to give one (the default file named
    in full, for this machine)."""
    import os

    from agentkit.mcp.config import CONFIG_ENV_VAR, user_mcp_config

    default = user_mcp_config()
    if os.environ.get(CONFIG_ENV_VAR) is not None:  # set but empty: the default file is not read
        return (
            f"no MCP config was found (${CONFIG_ENV_VAR} is set empty, which turns the default config "
            f"off): give one with --mcp-config FILE, or name it in ${CONFIG_ENV_VAR}"
        )
    return (
        f"no MCP config was found: give one with --mcp-config FILE, name it in ${CONFIG_ENV_VAR}, "
        f"or write {default}"
    )


def prompt_rows(toolset: Any) -> list[dict[str, Any]]:
    """Each running server's prompts: server, name, description and arguments."""
    return [
        {
            "server": session.name,
            "prompt": prompt.name,
            "description": prompt.description or prompt.title or "",
            "arguments": [
                {"name": a.name, "required": bool(a.required), "description": a.description or ""}
                for a in prompt.arguments or []
            ],
        }
        for session in toolset.sessions.values()
        if session.status == "ready"
        for prompt in session.catalog.prompts
    ]


def resource_rows(toolset: Any) -> list[dict[str, Any]]:
    """Each running server's resources and resource templates."""
    rows = []
    for session in toolset.sessions.values():
        if session.status != "ready":
            continue
        catalog = session.catalog
        for r in catalog.resources:
            rows.append(
                {"server": session.name, "uri": str(r.uri), "name": r.title or r.name,
                 "mime_type": r.mime_type, "description": r.description or ""}
            )  # fmt: skip
        for t in catalog.templates:
            rows.append(
                {"server": session.name, "uri_template": t.uri_template, "name": t.title or t.name,
                 "mime_type": t.mime_type, "description": t.description or ""}
            )  # fmt: skip
    return rows


def prompt_lines(row: dict[str, Any]) -> list[str]:
    """A prompt row for people (rich markup): `server/name`, its arguments, its description."""
    lines = [f"[bold]{escape(row['server'])}/{escape(row['prompt'])}[/]"]
    arguments = [a["name"] + (" (required)" if a["required"] else "") for a in row["arguments"]]
    if arguments:
        lines.append(f"  arguments: {escape(', '.join(arguments))}")
    if row["description"]:
        lines.append(f"  [dim]{escape(row['description'])}[/]")
    return lines


def resource_lines(row: dict[str, Any]) -> list[str]:
    """A resource row for people (rich markup): `server:uri`, then its name, type and description."""
    uri = row.get("uri") or row.get("uri_template")
    kind = " [dim](template: fill in the {...})[/]" if "uri_template" in row else ""
    lines = [f"[bold]{escape(row['server'])}:{escape(str(uri))}[/]{kind}"]
    about = " · ".join(x for x in (row["name"], row["mime_type"], row["description"]) if x)
    if about:
        lines.append(f"  [dim]{escape(about)}[/]")
    return lines
