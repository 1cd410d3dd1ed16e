"""The MCP servers of a config: started together, their tools kept current, stopped together."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Union

from agentkit.defaults import DEFAULT_MCP_LOG_LEVEL
from agentkit.errors import ConfigError
from agentkit.events import ServerStatus
from agentkit.mcp.config import McpConfig, load_mcp_configs
from agentkit.mcp.resources import ListResourcesTool, ReadResourceTool, resource_tools
from agentkit.mcp.session import LogHandler, McpServerError, McpSession, Roots
from agentkit.mcp.tools import McpTool

if TYPE_CHECKING:
    from agentkit.mcp.asks import McpAsks

__all__ = ["McpSource", "McpToolset", "ServerTool", "mcp_config"]

McpSource = Union[str, Path, McpConfig, Sequence[Union[str, Path]]]
"""Where MCP servers come from: config file path(s) or a parsed `McpConfig`."""

ServerTool = Union[McpTool, ListResourcesTool, ReadResourceTool]
"""A tool a server gives the model: one of its own, or one reading its resources."""

StartWatcher = Callable[[McpSession, "ServerStatus | None"], None]
"""Told as each server begins to start (no status yet) and as it is up or has failed (its status)."""


class McpToolset:
    """Every enabled server of an MCP config, and its tools as agentkit tools.

    Args:
        source: Config file path(s) or an `McpConfig`.
        strict: Fail when any server fails to start (default: go on without it).
        on_change: Called when a server's tool, resource or prompt list changed (after the
            new list is read).
        roots: The folders offered to every server as the client's roots (`roots/list`);
            None declares no roots capability.
        on_log: Told of each log message a server sends (`notifications/message`).
        log_level: The least severe level servers are asked to send.
        asks: Answers the servers' sampling and elicitation requests; None declares
            neither capability.
    """

    def __init__(
        self,
        source: McpSource,
        *,
        strict: bool = False,
        on_change: Callable[[McpToolset], Awaitable[None] | None] | None = None,
        roots: Roots | None = None,
        on_log: LogHandler | None = None,
        log_level: str = DEFAULT_MCP_LOG_LEVEL,
        asks: McpAsks | None = None,
    ) -> None:
        self.config = mcp_config(source)
        self.strict = strict
        self.on_change = on_change
        self.sessions = {
            name: McpSession(
                name,
                server,
                on_tools_changed=self._changed,
                roots=roots,
                on_log=on_log,
                log_level=log_level,
                asks=asks,
            )
            for name, server in self.config.enabled().items()
        }
        self.reports: list[ServerStatus] = []

    async def start(self, watch: StartWatcher | None = None) -> list[ServerStatus]:
        """Start every server at once; report each. In strict mode a failure raises (and
        the servers that did start are stopped).

        Args:
            watch: Told as each server begins to start and as each is up or has failed, in
                the order that happens (the returned reports are in config order).
        """

        async def start(session: McpSession) -> ServerStatus:
            if watch is not None:
                watch(session, None)
            try:
                await session.start()
            except McpServerError as exc:
                report = self._report(session, exc)
            else:
                report = self._report(session, None)
            if watch is not None:
                watch(session, report)
            return report

        results = await asyncio.gather(
            *(start(session) for session in self.sessions.values()), return_exceptions=True
        )
        self.reports = []
        for result in results:
            if isinstance(result, BaseException):
                raise result
            self.reports.append(result)
        failed = [r for r in self.reports if not r.ok]
        if failed and self.strict:
            await self.close()
            raise McpServerError("\n".join(r.error or r.name for r in failed))
        self.tools()  # refuse name collisions now, not at the first call
        return self.reports

    def _report(self, session: McpSession, error: McpServerError | None) -> ServerStatus:
        return ServerStatus(
            session.name,
            session.config.describe(),
            error is None,
            tuple(t.name for t in self._tools_of(session)) if error is None else (),
            session.started_in or 0.0,
            str(error) if error is not None else None,
        )

    def _tools_of(self, session: McpSession) -> list[ServerTool]:
        return [*(McpTool(session, spec) for spec in session.tools), *resource_tools(session)]

    def tools(self) -> list[ServerTool]:
        """The tools of the servers that are up, with those reading their resources.

        Raises:
            ConfigError: Two servers give tools the same name (after the `server__` prefix).
        """
        seen: dict[str, str] = {}
        out = []
        for session in self.sessions.values():
            if session.status != "ready":
                continue
            for item in self._tools_of(session):
                if item.name in seen:
                    raise ConfigError(
                        f"MCP servers {seen[item.name]!r} and {session.name!r} both give a tool named "
                        f"{item.name!r}; rename one of the servers in the MCP config"
                    )
                seen[item.name] = session.name
                out.append(item)
        return out

    def instructions(self) -> dict[str, str]:
        """What the running servers said (in `initialize`) about using them, by server name."""
        return {
            session.name: session.instructions
            for session in self.sessions.values()
            if session.status == "ready" and session.instructions
        }

    async def _changed(self, session: McpSession) -> None:
        if self.on_change is not None:
            outcome = self.on_change(self)
            if outcome is not None:
                await outcome

    async def close(self) -> None:
        """Stop every server (concurrently); nothing is left running."""
        await asyncio.gather(*(session.close() for session in self.sessions.values()))

    async def __aenter__(self) -> McpToolset:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


def mcp_config(source: McpSource) -> McpConfig:
    """The config of an MCP source: config file path(s) read, or the `McpConfig` itself."""
    return source if isinstance(source, McpConfig) else load_mcp_configs(_paths(source))


def _paths(source: str | Path | Iterable[str | Path]) -> list[str | Path]:
    if isinstance(source, (str, Path)):
        return [source]
    return list(source)
