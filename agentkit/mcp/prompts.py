"""MCP prompts: listed for people, and got (`prompts/get`) to start a run from their messages.

A prompt's messages become the run's conversation: consecutive messages of one role are
joined into one; the last user message is the task and those before it the history. Text
is kept as it is; an embedded text resource is put between `<resource uri=...>` and
`</resource>`; images, audio and binary resources are saved in the run's workspace and the
text names each file (Qwen3 reads text only); a resource link is named with its URI.

    async with Agent(mcp="servers.json", workspace="work") as agent:
        start = await get_prompt(agent.mcp, "docs/summarize", {"topic": "MCP"}, workspace=Path("work"))
        result = await agent.run(start.task, history=start.history)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from agentkit.errors import ConfigError
from agentkit.mcp.resources import running_session
from agentkit.mcp.session import McpServerError, McpSession
from agentkit.mcp.tools import result_text, save_files
from agentkit.messages import AssistantMessage, Message, UserMessage

if TYPE_CHECKING:
    from agentkit.mcp.toolset import McpToolset

__all__ = ["PromptStart", "get_prompt", "missing_arguments", "parse_arguments", "prompt_messages"]


@dataclass(frozen=True)
class PromptStart:
    """A prompt's messages, as a run starts from them.

    Attributes:
        task: The last user message (what `Agent.run` takes as the task).
        history: The messages before it (`Agent.run(..., history=...)`).
        description: What the server says the prompt is.
    """

    task: str
    history: list[Message]
    description: str | None = None


def parse_arguments(items: list[str]) -> dict[str, str]:
    """`-a key=value` items as a dict.

    Raises:
        ConfigError: An item has no `=`, or gives a name given before.
    """
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"-a {item}: give a prompt argument as NAME=VALUE, e.g. -a topic=MCP")
        if key in out:
            raise ConfigError(
                f"-a {item}: the argument {key!r} is given twice (-a {key}={out[key]} before); give it once"
            )
        out[key] = value
    return out


def split_name(reference: str) -> tuple[str, str]:
    """`SERVER/NAME` as (server, name).

    Raises:
        ConfigError: It is not in that shape.
    """
    server, sep, name = reference.partition("/")
    if not sep or not server or not name:
        raise ConfigError(
            f"--prompt {reference}: give it as SERVER/NAME, e.g. --prompt docs/summarize "
            "(agentkit mcp prompts lists each server's prompts)"
        )
    return server, name


def describe_arguments(prompt: Any) -> str:
    """A prompt's arguments for people: `topic (required): what to summarize, style`."""
    parts = []
    for argument in prompt.arguments or []:
        text = argument.name + (" (required)" if argument.required else "")
        if argument.description:
            text += f": {argument.description}"
        parts.append(text)
    return ", ".join(parts)


def missing_arguments(prompt: Any, arguments: dict[str, str]) -> list[str]:
    """The names of the required arguments of a prompt that `arguments` lacks."""
    return [a.name for a in prompt.arguments or [] if a.required and a.name not in arguments]


def _find(session: McpSession, name: str, reference: str) -> Any:
    prompts = {p.name: p for p in session.catalog.prompts}
    found = prompts.get(name)
    if found is None:
        from agentkit.mcp.config import closest

        close = closest(name, prompts)
        hint = f" Did you mean {session.name}/{close}?" if close else ""
        raise ConfigError(
            f"--prompt {reference}: MCP server {session.name!r} has no prompt {name!r}.{hint} "
            f"Its prompts: {', '.join(prompts) or 'none'} (agentkit mcp prompts {session.name} shows them)"
        )
    return found


async def get_prompt(
    toolset: McpToolset | None,
    reference: str,
    arguments: dict[str, str] | None = None,
    *,
    workspace: Path,
    task: str | None = None,
) -> PromptStart:
    """Get a prompt of a running server and make it a run's start.

    Args:
        toolset: The servers, started (`agent.mcp` inside `async with agent:`).
        reference: `SERVER/NAME`.
        arguments: The prompt's arguments.
        workspace: Where images, audio and binary resources in its messages are saved.
        task: More for the model, added after the prompt's last user message.

    Raises:
        ConfigError: No such server or prompt, a required argument missing or one the
            prompt does not take, the server refused, or the prompt has no user message
            to start from. Each message names the fix.
    """
    server, name = split_name(reference)
    session = running_session(toolset, server, f"--prompt {reference}")
    prompt = _find(session, name, reference)
    given = dict(arguments or {})
    known = {a.name for a in prompt.arguments or []}
    unknown = [key for key in given if key not in known]
    missing = missing_arguments(prompt, given)
    if unknown or missing:
        from agentkit.mcp.config import closest

        problems = []
        for key in unknown:
            close = closest(key, known)
            problems.append(
                f"it takes no argument {key!r}" + (f" (did you mean {close!r}?)" if close else "")
            )
        if missing:
            problems.append(f"it needs {', '.join(missing)}")
        problem = "; ".join(problems)
        example = " ".join(f"-a {a}=VALUE" for a in (missing or [])) or "-a NAME=VALUE"
        raise ConfigError(
            f"--prompt {reference}: {problem}; its arguments: {describe_arguments(prompt) or 'none'}. "
            f"Give them as {example} (arguments={{...}} in Python)"
        )
    try:
        result = await session.request(
            f"prompts/get {name}", lambda client: client.get_prompt(name, given or None)
        )
    except McpServerError as exc:
        raise ConfigError(f"--prompt {reference}: {exc}") from None
    return prompt_start(result, workspace, reference, task)


def prompt_messages(result: Any, workspace: Path) -> list[Message]:
    """A `GetPromptResult`'s messages as agentkit messages, consecutive ones of a role joined
    (binary content saved in `workspace`)."""
    merged: list[tuple[str, list[str]]] = []
    for message in result.messages:
        text = _content_text(message.content, workspace)
        if merged and merged[-1][0] == message.role:
            merged[-1][1].append(text)
        else:
            merged.append((message.role, [text]))
    return [
        UserMessage("\n\n".join(parts)) if role == "user" else AssistantMessage("\n\n".join(parts))
        for role, parts in merged
    ]


def prompt_start(result: Any, workspace: Path, reference: str, task: str | None = None) -> PromptStart:
    """A `GetPromptResult` as a run's start (see `get_prompt`).

    Raises:
        ConfigError: It has no user message, or ends with the assistant's, and no `task`
            is given.
    """
    messages = prompt_messages(result, workspace)
    if task:
        if messages and isinstance(messages[-1], UserMessage):
            messages[-1] = UserMessage(f"{messages[-1].content}\n\n{task}")
        else:
            messages.append(UserMessage(task))
    if not messages or not isinstance(messages[-1], UserMessage):
        what = "has no messages" if not messages else "ends with an assistant message"
        raise ConfigError(
            f"--prompt {reference}: the prompt {what}, and a run starts from a user message; "
            "give the task as well (agentkit run TASK --prompt ...), which is added as the last user message"
        )
    last = messages[-1]
    assert isinstance(last, UserMessage)
    return PromptStart(str(last.content), messages[:-1], result.description)


def _content_text(block: Any, workspace: Path) -> str:
    resource = getattr(block, "resource", None) if getattr(block, "type", None) == "resource" else None
    if resource is not None and getattr(resource, "text", None) is not None:
        mime = f' mime="{resource.mime_type}"' if resource.mime_type else ""
        return f'<resource uri="{resource.uri}"{mime}>\n{resource.text}\n</resource>'
    one = SimpleNamespace(content=[block], structured_content=None)
    files = save_files(one, workspace, "prompt", shown_from=workspace) if _binary(block) else []
    return result_text(one, files)


def _binary(block: Any) -> bool:
    kind = getattr(block, "type", None)
    return kind in ("image", "audio") or (
        kind == "resource" and getattr(block.resource, "blob", None) is not None
    )
