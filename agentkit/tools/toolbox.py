"""The toolbox: the tools of one agent by name, and the one place tool calls are run.

Every call is validated against its tool's JSON schema, approved if its policy says so, run
with a timeout (and at most so many at once), and answered with a `ToolMessage` whose text
is cut to the output cap. Whatever goes wrong (an unknown name, bad arguments, a refusal, an
exception, a timeout, an unreadable call) becomes an error result that tells the model what
to do: tool errors are answers, not crashes.
"""

from __future__ import annotations

import asyncio
import difflib
import fnmatch
import functools
import inspect
import sys
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from typing import Any, Union

from agentkit._text import cut_middle
from agentkit.defaults import DEFAULT_TOOL_TIMEOUT
from agentkit.events import ToolApproval
from agentkit.messages import ToolCall, ToolCallError, ToolMessage
from agentkit.tools.arguments import invalid_arguments, schema_problems, schema_validator
from agentkit.tools.tool import Approval, Tool, ToolContext, ToolError, ToolResult

__all__ = ["Approver", "Toolbox", "cap_output"]

Approver = Callable[[ToolCall, Tool], Union[bool, Awaitable[Union[bool, None]], None]]
"""Decides a call whose policy is "ask": True lets it run, False refuses it, None: no one
could be asked."""


class Toolbox:
    """The tools of an agent, looked up by name, and how their calls are run.

    Args:
        tools: The tools. Names must be unique.
        timeout: Default seconds per call, for tools that set none.
        max_concurrency: How many calls of one run may run at once (None: all).
        approval: Policy per tool name or glob pattern ("auto", "ask", "deny"), over each
            tool's own default (e.g. `{"run_python": "auto", "notes__*": "ask"}`).
        approver: Asked about each call whose policy is "ask": True lets it run, False
            refuses it, None says no one could be asked (refused too, and the model is told
            so); without one such calls are refused.
        max_output_chars: Results longer than this are cut to their head and tail (None:
            no cap); the whole text stays in `ToolMessage.full_content`.
    """

    def __init__(
        self,
        tools: Iterable[Tool] = (),
        *,
        timeout: float = DEFAULT_TOOL_TIMEOUT,
        max_concurrency: int | None = None,
        approval: Mapping[str, Approval] | None = None,
        approver: Approver | None = None,
        max_output_chars: int | None = None,
    ) -> None:
        self.timeout = timeout
        self.approval = dict(approval or {})
        self.approver = approver
        self.max_output_chars = max_output_chars
        self._tools: dict[str, Tool] = {}
        self._validators: dict[str, Any] = {}
        self._specs: list[dict[str, Any]] | None = None
        self.max_concurrency = max_concurrency
        self._limits: dict[asyncio.AbstractEventLoop, asyncio.Semaphore] = {}
        for item in tools:
            self.add(item)

    def add(self, item: Tool) -> None:
        """Add a tool; a second tool with the same name is refused."""
        if not isinstance(item, Tool):
            raise TypeError(
                f"{item!r} is not a tool: decorate a function with @agentkit.tool, "
                "or pass an object with name, description, parameters, spec() and call()"
            )
        if item.name in self._tools:
            raise ValueError(
                f"two tools are named {item.name!r}; names must be unique. "
                "Rename one, e.g. @tool(name='other_name')"
            )
        self._tools[item.name] = item
        self._specs = None

    def copy(self) -> Toolbox:
        """A toolbox with the same tools and settings, to change apart from this one (a run's
        own, with its per-run MCP servers' tools)."""
        return Toolbox(
            self,
            timeout=self.timeout,
            max_concurrency=self.max_concurrency,
            approval=self.approval,
            approver=self.approver,
            max_output_chars=self.max_output_chars,
        )

    def remove(self, name: str) -> None:
        """Remove a tool by name (no error if there is none)."""
        if self._tools.pop(name, None) is not None:
            self._validators.pop(name, None)
            self._specs = None

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __iter__(self) -> Iterator[Tool]:
        return iter(self._tools.values())

    def __len__(self) -> int:
        return len(self._tools)

    def specs(self) -> list[dict[str, Any]]:
        """The OpenAI function specs of all tools, in the order they were added.

        The same list object is returned until the tools change, so a backend can tell an
        unchanged tool set by identity.
        """
        if self._specs is None:
            self._specs = [t.spec() for t in self._tools.values()]
        return self._specs

    async def run(self, call: ToolCall, context: ToolContext | None = None) -> ToolMessage:
        """Run one call and answer it; never raises but for cancellation."""
        found = self._tools.get(call.name)
        if found is None:
            return _error(call, self._unknown(call.name))
        problem = self._check(found, call.arguments)
        if problem:
            return _error(call, problem)
        ctx = context or ToolContext()
        refusal = await self._approve(found, call, ctx)
        if refusal:
            return _error(call, refusal)
        ctx.call_id, ctx.tool_name = call.id, call.name
        timeout = found.timeout if found.timeout is not None else self.timeout
        try:
            if self.max_concurrency:
                async with self._limit(context):
                    result = await _within(found.call(call.arguments, ctx), timeout)
            else:
                result = await _within(found.call(call.arguments, ctx), timeout)
        except asyncio.TimeoutError:
            return _error(
                call,
                f"{call.name} did not finish within {timeout:g} s and was stopped. "
                "Try a smaller task or a different approach.",
            )
        except ToolError as exc:
            return _error(call, str(exc))
        except Exception as exc:  # a tool's bug is the model's information, not our crash
            return _error(
                call,
                f"{call.name} failed: {type(exc).__name__}: {exc}. "
                "Check the arguments, or try a different approach.",
            )
        if not isinstance(result, ToolResult):
            return _error(call, f"{call.name} returned {type(result).__name__}, not a ToolResult.")
        content = cap_output(result.content, self.max_output_chars)
        full = result.content if content is not result.content else None
        return ToolMessage(content, call.id, call.name, is_error=result.is_error, full_content=full)

    def _limit(self, context: ToolContext | None) -> asyncio.Semaphore:
        """The concurrency limit a call counts against: its run's (one per run scope), or,
        for calls made outside a run, one per event loop."""
        make = functools.partial(asyncio.Semaphore, self.max_concurrency or 1)
        if context is not None:
            return context.scope.resource("toolbox.concurrency", make)
        loop = asyncio.get_running_loop()
        if loop not in self._limits:
            self._limits = {loop: make()}  # a loop that ended left its semaphore behind
        return self._limits[loop]

    def approval_for(self, item: Tool) -> Approval:
        """The policy for a tool: by exact name, else the first matching pattern, else its own."""
        if item.name in self.approval:
            return self.approval[item.name]
        for pattern, decision in self.approval.items():
            if fnmatch.fnmatchcase(item.name, pattern):
                return decision
        own = getattr(item, "approval", "auto")
        return "ask" if own == "ask" else "deny" if own == "deny" else "auto"

    async def _approve(self, item: Tool, call: ToolCall, context: ToolContext) -> str | None:
        """None if the call may run, else why not (for the model); a decision on an "ask" or
        "deny" policy is reported through `context.on_approval`."""
        policy = self.approval_for(item)
        if policy == "auto":
            return None
        began = time.monotonic()
        decided_by = "policy"
        refusal: str | None = f"{call.name} is not allowed in this session. Go on without it."
        if policy == "ask":
            refusal = (
                f"{call.name} needs the user's approval and no one can approve it here. Go on without it."
            )
            if self.approver is not None:
                answer = self.approver(call, item)
                if inspect.isawaitable(answer):
                    answer = await answer
                if answer:
                    decided_by, refusal = "approver", None
                elif answer is not None:
                    decided_by = "approver"
                    refusal = (
                        f"the user did not allow this call to {call.name}. "
                        "Do not repeat it; go on without it or ask the user."
                    )
        if context.on_approval is not None:
            waited = time.monotonic() - began
            allowed = refusal is None
            context.on_approval(
                ToolApproval(context.step, call.id, call.name, policy, allowed, decided_by, refusal, waited)
            )
        return refusal

    @staticmethod
    def answer_unreadable(error: ToolCallError) -> ToolMessage:
        """The answer to a `<tool_call>` block that could not be read as a call."""
        return ToolMessage(
            "Error: your tool call could not be read: "
            f"{error.error} Write each call as <tool_call>\n"
            '{"name": "<tool name>", "arguments": {<arguments as a JSON object>}}\n'
            "</tool_call> with valid JSON (double quotes, no trailing commas).",
            error.id,
            error.name or "",
            is_error=True,
        )

    def _unknown(self, name: str) -> str:
        names = list(self._tools)
        if not names:
            return f"There is no tool named {name!r}: no tools are available. Answer directly."
        close = difflib.get_close_matches(name, names, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        return (
            f"There is no tool named {name!r}.{hint} Available tools: {', '.join(names)}. "
            "Call one of them by its exact name."
        )

    def _check(self, found: Tool, arguments: dict[str, Any]) -> str | None:
        """The one validation of a call's arguments: None if they fit the tool's schema."""
        validator = self._validators.get(found.name)
        if validator is None:
            validator = self._validators[found.name] = schema_validator(found.parameters)
        if validator is False:
            return None
        problems = schema_problems(validator, arguments)
        return invalid_arguments(found.name, problems, found.parameters) if problems else None


if sys.version_info >= (3, 11):

    async def _within(call: Awaitable[ToolResult], timeout: float | None) -> ToolResult:
        """The call's result, or `asyncio.TimeoutError` after `timeout` seconds; it runs in
        the caller's task (`asyncio.wait_for` would make a task of its own for it)."""
        async with asyncio.timeout(timeout):
            return await call

else:  # pragma: no cover - Python 3.10

    async def _within(call: Awaitable[ToolResult], timeout: float | None) -> ToolResult:
        return await asyncio.wait_for(call, timeout)


def _error(call: ToolCall, message: str) -> ToolMessage:
    return ToolMessage("Error: " + message, call.id, call.name, is_error=True)


def cap_output(text: str, limit: int | None) -> str:
    """`text` cut to its head and tail when longer than `limit`, with a marker between them.

    Two thirds of `limit` come from the start, where a result usually says what it is.
    Returns the very same object when nothing was cut.
    """
    if limit is None or len(text) <= limit:
        return text
    return cut_middle(
        text,
        limit * 2 // 3,
        limit // 3,
        lambda left_out: (
            f"\n\n[… {left_out:,} characters left out of {len(text):,}; "
            "the whole output is kept in the run's transcript …]\n\n"
        ),
    )
