"""`agentkit chat` in the terminal: a `ChatSession` behind a prompt with line editing and
history (prompt_toolkit), slash commands, and Ctrl-C that stops a step, not the session.

The command (`agentkit.cli.chat`) builds the agent and the event renderer and hands them here;
this module draws nothing of a run itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import difflib
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from agentkit.chat import ChatSession, policy_name
from agentkit.defaults import DEFAULT_STEP_CANCEL_GRACE
from agentkit.errors import AgentkitError
from agentkit.events import Event
from agentkit.messages import Message
from agentkit.thinking import PolicyLike, soft_switch

Opening = Callable[[Any, str], Awaitable[tuple[str, "list[Message] | None"]]]
"""Makes a chat's first message and the history before it (`--attach`, `--prompt`)."""

__all__ = ["COMMANDS", "ChatTerminal", "history_path"]

COMMANDS: Mapping[str, str] = {
    "/help": "what you can type",
    "/tools": "the tools the model may call",
    "/thinking [auto|on|off]": "show or set the thinking policy for the turns to come",
    "/reset": "start a new conversation (a new run)",
    "/save [FILE]": "write the conversation: Markdown for FILE.md, else JSON (default: chat-ID.md)",
    "/exit": "leave (Ctrl-D too)",
}

NOTES = (
    "A line that starts with /think or /no_think is a message: the model card's soft switch turns "
    "thinking on or off for it and for the turns after it, until the other one comes (it may also "
    "end the message, as in the card's example). Start a line with // to send a message that "
    "begins with a slash.",
    "Ctrl-C stops the model or tool at work; what had finished (your message, finished steps) is "
    "kept. At the prompt, Ctrl-C clears the line; on an empty line, Ctrl-C twice or Ctrl-D leaves.",
)

PROMPT = "\u203a "
"""What the prompt shows before the line: a right-pointing angle quotation mark."""


def history_path() -> Path:
    """Where the prompt's line history is kept: the user's state directory
    (`~/.local/state/agentkit/chat_history` on Linux)."""
    import platformdirs

    return platformdirs.user_state_path("agentkit", appauthor=False) / "chat_history"


class ChatTerminal:
    """Reads lines and runs them as turns or commands, rendering each turn's events.

    Args:
        out: Where answers go (stdout).
        err: Where everything else goes (stderr).
        show: Draws one event (the `agentkit run` renderer, or a JSON printer).
        pause: Ends any line `show` left open (before a message of this module's own).
        policies: The thinking policies `/thinking` chooses from, by name.
        interactive: Read with prompt_toolkit (stdin is a terminal); else plain lines.
    """

    def __init__(
        self,
        out: Console,
        err: Console,
        *,
        show: Callable[[Event], None],
        pause: Callable[[], None],
        policies: Mapping[str, PolicyLike],
        interactive: bool,
    ) -> None:
        self.out = out
        self.err = err
        self.show = show
        self.pause = pause
        self.policies = policies
        self.interactive = interactive
        self._lines: Any = None
        self._answers: Any = None
        self._step: asyncio.Task[None] | None = None
        self._grace = DEFAULT_STEP_CANCEL_GRACE  # the session's agent's, once it runs
        self._stray = False  # a Ctrl-C that came between a step and the prompt

    # -- reading ---------------------------------------------------------------------------

    def _sessions(self) -> None:
        from prompt_toolkit import PromptSession
        from prompt_toolkit.history import FileHistory, InMemoryHistory
        from prompt_toolkit.key_binding import KeyBindings
        from prompt_toolkit.output import create_output

        keys = KeyBindings()

        @keys.add("c-c")
        def _clear_or_leave(event: Any) -> None:
            buffer = event.app.current_buffer
            if buffer.text:
                buffer.reset()
            else:
                event.app.exit(exception=KeyboardInterrupt())

        try:
            path = history_path()
            path.parent.mkdir(parents=True, exist_ok=True)
            history: Any = FileHistory(str(path))
        except OSError as exc:
            self.err.print(f"[dim]line history kept for this session only ({escape(str(exc))})[/]")
            history = InMemoryHistory()
        # Answers piped to a file keep to themselves: the prompt is drawn on stderr then.
        screen = None if sys.stdout.isatty() else create_output(stdout=sys.stderr)
        self._lines = PromptSession(history=history, key_bindings=keys, output=screen)
        self._answers = PromptSession(history=InMemoryHistory(), output=screen)

    async def read(self) -> str | None:
        """The next line; None when the user leaves (Ctrl-D, Ctrl-C twice on an empty line,
        the end of piped input)."""
        if not self.interactive:
            from agentkit._threads import in_daemon_thread

            read: str = await in_daemon_thread(sys.stdin.readline)
            return read.rstrip("\n") if read else None
        if self._lines is None:
            self._sessions()
        interrupted = False
        while True:
            try:
                if self._stray:
                    self._stray = False
                    raise KeyboardInterrupt
                line: str = await self._lines.prompt_async(PROMPT, handle_sigint=False)
            except EOFError:
                return None
            except KeyboardInterrupt:
                if interrupted:
                    return None
                interrupted = True
                self.err.print("[dim](Ctrl-C again or Ctrl-D to leave)[/]")
                continue
            return line

    async def ask(self, question: str) -> str:
        """An answer to a tool-approval question, lowered; Ctrl-C stops the step (and
        refuses the call), Ctrl-D refuses it."""
        answer = await self.ask_text(question)
        return "n" if answer is None else answer.strip().lower()

    async def ask_text(self, question: str) -> str | None:
        """An answer as typed (a form's field); None for Ctrl-D, or Ctrl-C (which also
        stops the step)."""
        if self._answers is None:
            self._sessions()
        try:
            answer: str = await self._answers.prompt_async(question, handle_sigint=False)
        except EOFError:
            return None
        except KeyboardInterrupt:
            if self._step is not None:
                self._step.cancel()
            return None
        return answer

    # -- the session -----------------------------------------------------------------------

    def _interrupt(self) -> None:
        """SIGINT (Ctrl-C while the terminal is not in the prompt's hands): stop the step at
        work, or count as a Ctrl-C at the next prompt."""
        if self._step is not None:
            self._step.cancel()
        elif self._lines is not None and self._lines.app.is_running:
            with contextlib.suppress(Exception):  # prompt_toolkit's "already exiting"
                self._lines.app.exit(exception=KeyboardInterrupt())
        else:
            self._stray = True

    async def run(self, session: ChatSession, opening: Opening | None = None) -> None:
        """Greet, go on with a pending turn (or send the `opening` one: given the agent and an
        empty task, it returns the first message and the history before it), then read and
        answer lines until the user leaves."""
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not on Windows' loop
            loop.add_signal_handler(signal.SIGINT, self._interrupt)
        try:
            await self._session(session, opening)
        finally:
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(signal.SIGINT)
        self._goodbye(session)

    async def _session(self, session: ChatSession, opening: Opening | None) -> None:
        self._grace = session.agent.timeouts.step_cancel_grace
        async with contextlib.aclosing(session):
            await session.agent.start_servers(self.show)  # once for the whole session, shown as a run does
            if session.turns:
                self._recap(session)
            if session.pending:
                self.err.print("[dim]the last turn was cut off; going on with it[/]")
                await self._turn(session.finish())
            elif opening is not None:
                task, history = await opening(session.agent, "")
                await self._turn(session.send(task, history=history))
            self.err.print("[dim]/help for commands · Ctrl-D leaves[/]")
            while True:
                line = await self.read()
                if line is None:
                    break
                if not await self.handle(session, line.strip()):
                    break

    async def handle(self, session: ChatSession, line: str) -> bool:
        """Run one line: a message or a command. False: the user leaves."""
        if not line:
            return True
        word, _, rest = line.partition(" ")
        rest = rest.strip()
        if line.startswith("//"):
            line = line[1:]
        elif word in ("/think", "/no_think"):
            if not rest:
                self.err.print(
                    f"{word} goes with a message, e.g. `{word} why is the sky blue?`; "
                    "/thinking sets the policy"
                )
                return True
        elif word in ("/exit", "/quit"):
            return False
        elif word.startswith("/"):
            await self._command(session, word, rest)
            return True
        await self._turn(session.send(line))
        return True

    async def _command(self, session: ChatSession, word: str, rest: str) -> None:
        if word == "/help":
            width = max(len(name) for name in COMMANDS)
            for name, what in COMMANDS.items():
                self.err.print(f"  [bold]{escape(name.ljust(width))}[/]  {escape(what)}")
            for note in NOTES:
                self.err.print(f"\n{escape(note)}")
        elif word == "/tools":
            tools = list(session.agent.toolbox)
            if not tools:
                self.err.print("no tools (add some: --tools FILE, --builtin GROUP, --mcp-config FILE)")
            for tool in tools:
                first = (tool.description or "").strip().splitlines()
                self.err.print(f"  [bold]{escape(tool.name)}[/]  {escape(first[0] if first else '')}")
        elif word == "/thinking":
            self._thinking(session, rest)
        elif word == "/reset":
            await session.reset()
            self.err.print("[dim]a new conversation: the model remembers nothing of the last one[/]")
        elif word == "/save":
            target = Path(rest or f"chat-{session.run_id}.md")
            if not session.messages:
                self.err.print("nothing to save yet: the conversation is empty")
                return
            try:
                written = session.save(target)
            except OSError as exc:
                self.err.print(
                    f"[red]cannot write {escape(str(target))}:[/] {escape(exc.strerror or str(exc))}"
                )
                return
            self.err.print(f"saved to {escape(str(written))}")
        else:
            known = [name.split()[0] for name in COMMANDS]
            close = difflib.get_close_matches(word, [*known, "/think", "/no_think"], n=1)
            hint = f"did you mean {close[0]}? " if close else ""
            self.err.print(
                f"unknown command {escape(word)}; {hint}the commands: {', '.join(known)} "
                "(/think or /no_think start a message; // sends a line that starts with a slash)"
            )

    def _thinking(self, session: ChatSession, choice: str) -> None:
        if choice:
            if choice not in self.policies:
                self.err.print(f"/thinking takes {'|'.join(self.policies)}, not {escape(choice)!r}")
                return
            session.thinking = self.policies[choice]
        switch = soft_switch(session.messages)
        held = "" if switch is None else f" · {'/think' if switch else '/no_think'} in the conversation wins"
        self.err.print(f"thinking: {policy_name(session.thinking)}{held}")

    async def _turn(self, events: AsyncIterator[Event]) -> None:
        """Show one turn's events; Ctrl-C (SIGINT) stops it and the session goes on."""

        async def consume() -> None:
            async for event in events:
                self.show(event)

        step = self._step = asyncio.ensure_future(consume())
        try:
            await asyncio.wait({step})
        except asyncio.CancelledError:  # the session itself is stopped (SIGTERM)
            step.cancel()
            await asyncio.wait({step}, timeout=self._grace)
            raise
        finally:
            self._step = None
        if step.cancelled():
            self.pause()
            self.err.print("[yellow]stopped[/] [dim](what had finished is kept)[/]")
            return
        error = step.exception()
        if isinstance(error, AgentkitError):
            self.pause()
            self.err.print(f"[red]agentkit:[/] {escape(str(error))}")
        elif error is not None:
            raise error

    def _recap(self, session: ChatSession) -> None:
        """The end of a resumed conversation, to go on from."""
        from agentkit.messages import AssistantMessage, UserMessage

        self.err.print(f"[dim]chat {session.run_id}: {session.turns} turn(s) so far; the last:[/]")
        last = next((i for i in range(len(session.messages) - 1, -1, -1)
                     if isinstance(session.messages[i], UserMessage)), 0)  # fmt: skip
        for message in session.messages[last:]:
            if isinstance(message, UserMessage):
                self.err.print(f"{PROMPT}{escape(message.content)}")
            elif isinstance(message, AssistantMessage) and message.content:
                self.out.print(message.content, markup=False)

    def _goodbye(self, session: ChatSession) -> None:
        if session.transcript is not None and session.turns:
            self.err.print(
                f"[dim]transcript: {escape(str(session.transcript))} · go on with: "
                f"agentkit chat --resume {session.run_id}[/]"
            )
