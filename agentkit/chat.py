"""`ChatSession`: a conversation of many user turns with one `Agent`, kept as one run.

Each `send` is one user turn: the agent's loop runs on the conversation so far plus the new
message, with the agent's tools and policies, until the model answers or a limit stops it
(limits count per turn). All turns write one transcript, so `agentkit runs list` shows the
chat, and `ChatSession.resume` (`agentkit chat --resume ID`) rebuilds the whole conversation,
and the thinking policy last set (`/thinking`).

The soft switches `/think` and `/no_think` stay in the user's message as typed; the model
follows the latest one in the conversation, turn over turn, as the Qwen3 model card says
(the thinking policy does the same, so the prompt's thinking mode agrees).
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import AsyncGenerator, Sequence
from pathlib import Path

from agentkit.agent import Agent, check_task
from agentkit.errors import ConfigError
from agentkit.events import Event, RunFinished, StepFinished
from agentkit.messages import AssistantMessage, Message, SystemMessage, ToolMessage, UserMessage, to_openai
from agentkit.result import Resume, RunResult
from agentkit.store import TranscriptWriter, find_run, load_run, writer_alive
from agentkit.thinking import Always, Auto, Never, PolicyLike
from agentkit.tools.scope import RunScope

__all__ = ["ChatSession", "policy_name"]

_NAMED = ("on", "off", "auto")


class ChatSession:
    """A multi-turn conversation with an agent, recorded as one run.

    Use it as `async with ChatSession(agent) as chat:` so that MCP servers and connections
    start once for the whole session; then `async for event in chat.send("..."):` per turn.
    A turn cancelled mid-way (its task cancelled, e.g. on Ctrl-C) keeps what had finished:
    the user's message and every step whose tool calls all returned; the step in progress
    is dropped, so no tool call is left unanswered.

    Args:
        agent: The agent that answers; its tools, policies and limits apply to every turn.

    Attributes:
        messages: The conversation so far (with each turn's thinking, which the model is
            not shown again in later turns).
        run_id: The run the conversation is recorded as.
        transcript: Its transcript, once the first turn has started (None without one).
        pending: The last turn was cut off when its process died (a resumed chat);
            `finish()` goes on with it, `send` leaves it as it stands.
        last_result: The result of the latest turn.
    """

    def __init__(self, agent: Agent) -> None:
        self.agent = agent
        self._chosen: str | None = None  # the thinking policy set in this session, by name
        self._fresh()

    def _fresh(self) -> None:
        agent = self.agent
        self.messages: list[Message] = []
        self.run_id = uuid.uuid4().hex[:12]
        self.transcript: Path | None = None
        self.pending = False
        self.last_result: RunResult | None = None
        self._task = ""
        self._resume: Resume | None = None
        self._scope = RunScope(agent.workspace, agent.sandbox)
        self._kept: str | None = None  # the thinking policy the transcript has last, by name

    @classmethod
    def resume(cls, agent: Agent, run_id: str) -> ChatSession:
        """The conversation of an earlier chat (or run), to go on with.

        A turn whose process died mid-way is `pending`: `finish()` takes it up from its last
        finished step, without running a finished tool call again. A turn that was cancelled
        or stopped at a limit stands as it is: the next message goes on from there.

        Raises:
            ConfigError: No such run, it is still running, or the agent lacks its tools.
        """
        if agent.transcripts is None:
            raise ConfigError(
                "this agent keeps no transcripts (transcripts=False), so it cannot resume chats"
            )
        saved = load_run(find_run(run_id, agent.transcripts))
        if saved.status == "running":
            raise ConfigError(f"run {saved.run_id} is still running in another process")
        writer = writer_alive(saved.records)
        if writer is not None:
            raise ConfigError(
                f"chat {saved.run_id} is still open in another process (pid {writer}); leave it there "
                "first (/exit), so that two sessions do not write one transcript"
            )
        agent.check_tools_of(saved)
        session = cls(agent)
        session.run_id, session.transcript, session._task = saved.run_id, saved.path, saved.task
        session.messages = list(saved.messages)
        workspace = saved.config.get("workspace")
        if workspace and agent.workspace is None:
            session._scope = RunScope(Path(workspace), agent.sandbox)
        if saved.status == "killed":
            session.pending, session._resume = True, saved.resume
        kept = [r.get("thinking") for r in saved.records if r.get("type") == "thinking_set"]
        session._kept = kept[-1] if kept else None
        if session._kept in _NAMED and session._kept != policy_name(agent.thinking):
            agent.thinking = session._kept  # as last set in the chat (another kind of policy: the agent's)
        return session

    @property
    def turns(self) -> int:
        """User messages in the conversation."""
        return sum(isinstance(m, UserMessage) for m in self.messages)

    @property
    def thinking(self) -> PolicyLike:
        """The agent's thinking policy; set it ("auto", "on", "off", a policy) for the turns
        to come."""
        return self.agent.thinking

    @thinking.setter
    def thinking(self, policy: PolicyLike) -> None:
        self.agent.thinking = policy
        self._chosen = policy_name(policy)
        self._keep_thinking()

    def _keep_thinking(self) -> None:
        """Write the thinking policy set in this session into the chat's transcript (once it
        has one, and when it differs from what the transcript has), for `resume`."""
        if self._chosen is None or self.transcript is None or self._chosen == self._kept:
            return
        writer = TranscriptWriter("", self.run_id, path=self.transcript)
        try:
            writer.thinking_set(self._chosen)
        finally:
            writer.close()
        self._kept = self._chosen

    async def send(
        self, text: str, *, history: Sequence[Message] | None = None
    ) -> AsyncGenerator[Event, None]:
        """One user turn: yield its events until the model answers or the turn stops.

        `history`: messages to put before this one (an MCP prompt's conversation); they
        join the conversation with it.

        Raises:
            ConfigError: The message is empty or not valid text.
            ModelError: As `Agent.stream` (a `RunFailed` event first); the turn's finished
                steps are kept.
        """
        check_task(text)
        self.pending, self._resume = False, None
        extra = list(history or ())
        working = self.agent.conversation(text, [*self.messages, *extra])
        new = len(working) - 1 - len(extra)
        if not self.messages:  # the first turn: the system prompt the agent put first is history
            self.messages, self._task, new = working[:-1], text, len(working) - 1
        async with contextlib.aclosing(self._turn(working, new, None)) as inner:
            async for event in inner:
                yield event

    async def finish(self) -> AsyncGenerator[Event, None]:
        """Go on with a `pending` turn (see `resume`) and yield its events."""
        if not self.pending:
            raise ConfigError("no turn of this chat is waiting to be finished")
        self.pending = False
        working = list(self.messages)
        async with contextlib.aclosing(self._turn(working, len(working), self._resume)) as inner:
            async for event in inner:
                yield event

    async def _turn(
        self, working: list[Message], new: int, resume: Resume | None
    ) -> AsyncGenerator[Event, None]:
        """Run the loop on `working`; on the way out, whatever the way, keep its messages
        from index `new` through the last finished step."""
        done = len(working) if resume is None else new  # a new turn keeps its user message
        try:
            events = self.agent._drive(
                working,
                self._task,
                self.run_id,
                resume=resume,
                path=self.transcript,
                scope=self._scope,
                chat=True,
                output=self.agent._output,  # the agent's output type, if it has one, for every answer
            )
            async with contextlib.aclosing(events) as inner:
                async for event in inner:
                    if self.transcript is None and self.agent.transcripts is not None:
                        self.transcript = self.agent.last_transcript
                    if isinstance(event, StepFinished):
                        done = len(working)
                    elif isinstance(event, RunFinished):
                        self.last_result = event.result
                    yield event
        finally:
            self.messages.extend(working[new:done])
            self._keep_thinking()  # set before the chat had a transcript (the turn's writer is closed)

    async def reset(self) -> None:
        """Start a new conversation (a new run, a new transcript); tools keep their settings."""
        await self._scope.aclose()
        self._fresh()

    def save(self, path: str | Path) -> Path:
        """Write the conversation to a file: Markdown for `.md`, else JSON (the OpenAI chat
        format, with thinking as `reasoning_content`: `Agent.run(..., history=...)` reads it).

        Returns the path written.
        """
        file = Path(path).expanduser()
        if file.suffix.lower() in (".md", ".markdown"):
            text = self.markdown()
        else:
            body = {"run_id": self.run_id, "messages": [to_openai(m) for m in self.messages]}
            text = json.dumps(body, ensure_ascii=False, indent=1) + "\n"
        file.write_text(text, encoding="utf-8")
        return file

    def markdown(self) -> str:
        """The conversation for people to read: each message under a heading, thinking and
        tool results quoted."""
        parts = [f"# Chat {self.run_id}\n"]
        for message in self.messages:
            if isinstance(message, SystemMessage):
                parts.append(f"## System\n\n{message.content}\n")
            elif isinstance(message, UserMessage):
                parts.append(f"## User\n\n{message.content}\n")
            elif isinstance(message, AssistantMessage):
                lines = ["## Assistant\n"]
                if message.reasoning and message.reasoning.strip():
                    lines.append(_quote(message.reasoning.strip(), "Thinking") + "\n")
                if message.content:
                    lines.append(message.content + "\n")
                for call in message.tool_calls:
                    lines.append(f"`{call.name}` `{json.dumps(call.arguments, ensure_ascii=False)}`\n")
                parts.append("\n".join(lines))
            elif isinstance(message, ToolMessage):
                parts.append(_quote(message.content, f"Result of `{message.name}`") + "\n")
        return "\n".join(parts)

    async def aclose(self) -> None:
        """Close what the turns' tools shared, the MCP servers and the connections."""
        await self._scope.aclose()
        await self.agent.aclose()

    async def __aenter__(self) -> ChatSession:
        await self.agent.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def policy_name(policy: PolicyLike) -> str:
    """A thinking policy as `/thinking` names it: "on", "off" or "auto" for the built-in ones
    (whatever their budget), else its class name."""
    if isinstance(policy, str):
        return policy
    names = {Always: "on", Never: "off", Auto: "auto"}
    return names.get(type(policy), type(policy).__name__)


def _quote(text: str, title: str) -> str:
    body = "\n".join(f"> {line}" if line else ">" for line in text.splitlines())
    return f"> **{title}**\n>\n{body}"
