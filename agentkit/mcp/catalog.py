"""What an MCP server offers besides tools: its resources, resource templates and prompts.

A session reads these lists when it connects (those its server declares in its capabilities)
and again when the server says one changed (`notifications/resources/list_changed`,
`notifications/prompts/list_changed`). Listings are paginated; at most
`DEFAULT_MCP_LIST_PAGES` pages are read, and a listing cut short says so. A listing that fails
keeps the list it had and its error: the server's tools go on working without it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from agentkit.defaults import DEFAULT_MCP_LIST_PAGES

__all__ = ["Catalog", "ListKind", "read_pages"]

ListKind = Literal["resources", "templates", "prompts"]

_FIELDS: dict[ListKind, str] = {
    "resources": "resources",
    "templates": "resource_templates",
    "prompts": "prompts",
}


async def read_pages(
    fetch: Callable[[str | None], Awaitable[Any]], items: str, max_pages: int = DEFAULT_MCP_LIST_PAGES
) -> tuple[list[Any], bool]:
    """Every item of a paginated listing, up to `max_pages` pages.

    Args:
        fetch: Asks for one page, given the cursor (None for the first).
        items: The attribute of a page that holds its items.
        max_pages: Pages read at most.

    Returns:
        The items, and whether the listing is complete (False: the server had more pages).
    """
    found: list[Any] = []
    cursor: str | None = None
    for _ in range(max_pages):
        page = await fetch(cursor)
        found += list(getattr(page, items) or [])
        cursor = page.next_cursor
        if not cursor:
            return found, True
    return found, False


@dataclass
class Catalog:
    """A server's resources, resource templates and prompts, as last listed.

    Attributes:
        resources: The SDK's `Resource`s.
        templates: The SDK's `ResourceTemplate`s (URIs with `{placeholders}`).
        prompts: The SDK's `Prompt`s.
        declared: The lists the server declares it has (from its capabilities).
        cut: The lists that had more pages than were read.
        errors: Why a list could not be read, by kind.
    """

    resources: list[Any] = field(default_factory=list)
    templates: list[Any] = field(default_factory=list)
    prompts: list[Any] = field(default_factory=list)
    declared: frozenset[ListKind] = frozenset()
    cut: set[ListKind] = field(default_factory=set)
    errors: dict[ListKind, str] = field(default_factory=dict)

    @staticmethod
    def kinds_of(capabilities: Any) -> frozenset[ListKind]:
        """The lists a server's capabilities declare."""
        kinds: set[ListKind] = set()
        if getattr(capabilities, "resources", None) is not None:
            kinds |= {"resources", "templates"}
        if getattr(capabilities, "prompts", None) is not None:
            kinds.add("prompts")
        return frozenset(kinds)

    async def refresh(
        self, client: Any, kinds: Iterable[ListKind] | None = None, *, fresh: bool = False
    ) -> None:
        """List again (`kinds`: these lists only; default: all the server declares).

        `fresh`: past the SDK's response cache (after the server said a list changed).
        """
        from agentkit.mcp._errors import describe_exception

        mode = "refresh" if fresh else "use"
        senders: dict[ListKind, Callable[[str | None], Awaitable[Any]]] = {
            "resources": lambda cursor: client.list_resources(
                cursor=cursor, cache_mode=mode if not cursor else "use"
            ),
            "templates": lambda cursor: client.list_resource_templates(
                cursor=cursor, cache_mode=mode if not cursor else "use"
            ),
            "prompts": lambda cursor: client.list_prompts(
                cursor=cursor, cache_mode=mode if not cursor else "use"
            ),
        }
        for kind in self.declared if kinds is None else kinds:
            if kind not in self.declared:
                continue
            try:
                items, complete = await read_pages(senders[kind], _FIELDS[kind])
            except Exception as exc:  # keep the old list; say why in `errors`
                self.errors[kind] = describe_exception(exc)
                continue
            setattr(self, kind, items)
            self.errors.pop(kind, None)
            if complete:
                self.cut.discard(kind)
            else:
                self.cut.add(kind)

    @property
    def has_resources(self) -> bool:
        """Whether the server listed any resource or resource template."""
        return bool(self.resources or self.templates)
