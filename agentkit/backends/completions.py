"""The completions backend: agentkit renders the Qwen3 prompt and parses the output itself.

It sends raw prompt text to `/v1/completions` and reads the stream with agentkit's parser,
which gives (a) calls rescued where a server-side parser would drop them, (b) a thinking
budget, (c) an append-only prompt: within one user query, step k+1's prompt is step k's
prompt + its output + `<|im_end|>\\n` + the tool results + the generation prompt, byte for
byte, so the server's prefix cache serves every earlier token; and (d) a broken stream is
continued, not thrown away: the same prompt plus the text received so far is sent again
and the model reads on; (e) with an output schema, an answer is valid by construction: a step
runs as usual (tools and thinking free), and when it ends without a call its answer is
written again, from the end of its think block on the same prompt, under vLLM's
`structured_outputs` (the free answer is never shown, and the prompt stays append-only).

The prompt is a function of the conversation alone (`prompt_text`): each turn this backend
wrote keeps its exact text (`AssistantMessage.raw`), so a resumed run, or another backend
object, sends the very bytes the first would have.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
from collections import OrderedDict
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agentkit.backends._server import ServerBackend
from agentkit.backends.base import (
    ModelEvent,
    ModelRequest,
    Retrying,
    TurnBuilder,
    extra_fields,
    hold_answer,
    usage_from,
)
from agentkit.backends.retry import Attempts
from agentkit.errors import ModelError, StreamBroken
from agentkit.messages import AssistantMessage, ContentDelta, Message, ToolMessage, UserMessage
from agentkit.qwen3.parser import ParserEvent, StreamParser
from agentkit.qwen3.template import IM_END, TemplateName, generation_prompt, render_prompt

if TYPE_CHECKING:
    from agentkit.profiles import ModelProfile

__all__ = ["BUDGET_CLOSE", "CompletionsBackend", "prompt_text"]

BUDGET_CLOSE = (
    "\n\nConsidering the limited time by the user, I have to give the solution based on the "
    "thinking directly now.\n</think>\n\n"
)
"""Appended to reasoning that used up its budget (Qwen3 technical report, §4.3)."""

STOP = ["<|im_end|>", "<|endoftext|>"]

ASSISTANT_OPEN = "<|im_start|>assistant\n"
NO_THINK = "<think>\n\n</think>\n\n"
"""What the hybrid template's generation prompt pre-fills for a step without thinking."""
THINK_CLOSE = "</think>"

DEFAULT_MAX_TOKENS = 32_768
"""Tokens per model call when neither the request nor the server says (Qwen3's model card
recommends 32,768 output tokens for most tasks)."""

_PROMPT_CACHE_SIZE = 64  # prompts kept for requests without a run's memo
_MEMO_KEY = "completions.prompt"


def prompt_text(
    messages: Sequence[Message],
    tools: Sequence[dict[str, Any]],
    think: bool,
    template: TemplateName = "qwen3",
) -> str:
    """The completions prompt of a conversation: what the official template renders, except
    that turns written by this backend since the latest user message stand as they were
    generated (`AssistantMessage.raw`), so that each step's prompt extends the last one.
    `template` is the model's prompt format (see `render_prompt`)."""
    last_user = max((i for i, m in enumerate(messages) if isinstance(m, UserMessage)), default=-1)
    tail = messages[last_user + 1 :]
    turns = [m for m in tail if isinstance(m, AssistantMessage)]
    if not turns or any(m.raw is None for m in turns):
        return render_prompt(messages, tools or None, enable_thinking=think, template=template)
    parts = [
        render_prompt(
            messages[: last_user + 1], tools or None, add_generation_prompt=False, template=template
        )
    ]
    i = 0
    while i < len(tail):
        message = tail[i]
        if isinstance(message, AssistantMessage):
            parts += [ASSISTANT_OPEN, message.raw or "", IM_END, "\n"]
            i += 1
            continue
        j = i
        while j < len(tail) and not isinstance(tail[j], AssistantMessage):
            j += 1
        parts.append(render_prompt(tail[i:j], add_generation_prompt=False, template=template))
        i = j
    parts.append(generation_prompt(template, think))
    return "".join(parts)


def _parser(profile: ModelProfile, think: bool) -> StreamParser:
    """The parser of a model's output after the generation prompt of a step."""
    if generation_prompt(profile.template, think).endswith("<think>\n"):  # the prompt opened it
        return StreamParser(thinking=True)
    if profile.thinks == "never":  # no thinking mode: a <think> it writes is text it means
        return StreamParser(thinking=False)
    # The model opens its own think block, or the prompt closed an empty one.
    return StreamParser(unopened=think)


class CompletionsBackend(ServerBackend):
    """Qwen3 over `/v1/completions`, with agentkit's own template and parser.

    Args:
        base_url: The server's API root (default `http://127.0.0.1:8000/v1`).
        model: The served model name; None asks the server.
        api_key: Bearer token, if the server wants one.
        transport: "aiohttp" (default), "httpx", or a transport object.
        client: An `openai.AsyncOpenAI` client to take the base URL and API key from.
        extra_body: More fields for every request body (server-specific options such as
            vLLM's `structured_outputs`), or a function of the request that returns them.
        connect_timeout: Seconds to open a connection.
        idle_timeout: Seconds a response may stay silent before it counts as stalled.
        retry: How failed requests are retried (and broken streams continued).
        structured_outputs: How an answer is made to match the run's output type: "auto"
            (vLLM's `structured_outputs` where the server is vLLM), "server" (always),
            "validate" (never: the loop checks the answer).
    """

    name = "completions"

    # A memo of `prompt_text`: id(assistant message) -> (the messages up to it, the tools,
    # the prompt through its output). Valid while every one of those messages is still the
    # same object in the conversation.
    @functools.cached_property
    def _prompts(self) -> OrderedDict[int, tuple[tuple[Message, ...], Sequence[dict[str, Any]], str]]:
        return OrderedDict()

    # The last prompt made, by the identity of what it was made from (kept alive with it).
    _last: tuple[tuple[int, int, int, int, bool, str], str, Sequence[Message]] | None = None

    def prompt_for(self, request: ModelRequest) -> str:
        """The prompt of a request: `prompt_text`, extending the previous step's prompt
        instead of rendering it again where the conversation only grew."""
        messages = request.messages
        profile = self.server.profile
        think = profile.thinks_when(request.decision.think)
        key = (
            id(messages),
            len(messages),
            id(messages[-1]) if messages else 0,
            id(request.tools),
            think,
            profile.template,
        )
        if self._last is not None and self._last[0] == key:
            return self._last[1]  # measured for the context budget just before it is sent
        prompt = self._prompt(request)
        self._last = (key, prompt, messages)
        return prompt

    def _prompt(self, request: ModelRequest) -> str:
        messages, tools = request.messages, request.tools
        profile = self.server.profile
        think, template = profile.thinks_when(request.decision.think), profile.template
        i = len(messages) - 1
        while i >= 0 and isinstance(messages[i], ToolMessage):
            i -= 1
        if 0 <= i < len(messages) - 1:
            # the run's own last prompt first; the shared cache for callers that keep none
            owned = request.memo.get(_MEMO_KEY) if request.memo is not None else None
            for entry in (owned, self._prompts.get(id(messages[i]))):
                if entry is None:
                    continue
                before, cached_tools, text = entry
                if (
                    len(before) == i + 1
                    and all(a is b for a, b in zip(before, messages, strict=False))
                    and (cached_tools is tools or cached_tools == tools)
                ):
                    if entry is not owned:
                        self._prompts.move_to_end(id(messages[i]))
                    tail = render_prompt(messages[i + 1 :], enable_thinking=think, template=template)
                    return text + IM_END + "\n" + tail
        return prompt_text(messages, tools, think, template)

    def _remember(self, request: ModelRequest, message: AssistantMessage, prompt: str, output: str) -> None:
        entry = ((*request.messages, message), request.tools, prompt + output)
        if request.memo is not None:  # the run owns it: kept as long as the run, whatever else runs
            request.memo[_MEMO_KEY] = entry
            return
        self._prompts[id(message)] = entry
        while len(self._prompts) > _PROMPT_CACHE_SIZE:
            self._prompts.popitem(last=False)

    async def prompt_size(self, request: ModelRequest) -> int:
        """The prompt's length in characters (for the context budget)."""
        return len(self.prompt_for(request))

    async def count_tokens(self, request: ModelRequest) -> int | None:
        """The prompt's exact token count from the server, where it can tell."""
        await self.server.model_name()
        return await self.server.count_tokens({"prompt": self.prompt_for(request)})

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelEvent]:
        server = self.server
        async for notice in server.prepare():
            yield notice
        step = await self._step(request)
        think, turn = step.think, step.turn
        text = _Generation(request, step.prompt)
        async for event in self._write(step, text):
            yield event
        raw = "".join(text.output)
        finish = text.finish
        if step.constrained and not turn.calls:
            # The answer: written again from the end of the think block, constrained to the
            # schema, on the same prompt (so that the next step's prompt extends it). A think
            # block the free text never closed is closed as a spent budget is.
            assert request.output_schema is not None
            kept = _before_answer(raw, think)
            answer = _Generation(
                request, step.prompt, kept, {"structured_outputs": {"json": request.output_schema}}
            )
            async for event in self._answer(step, answer):
                yield event
            raw = kept + "".join(answer.output)
            finish = answer.finish
        else:
            for waiting in step.held:
                yield turn.add(waiting)
        if not turn.usage.requests:  # the server did not say (llama-cpp-python does not)
            turn.estimate(len(step.prompt), len(raw))
        result = turn.turn(finish_reason=finish, raw=step.prefill + raw)
        self._remember(request, result.message, step.prompt, raw)
        yield result

    async def _step(self, request: ModelRequest) -> _Step:
        """What every generation of a model call shares, worked out before the first."""
        server = self.server
        model = await server.model_name()
        prompt = self.prompt_for(request)
        sampling = request.sampling.body()
        # /v1/completions defaults to 16 tokens: always say how many. vLLM caps the number at
        # what is left of the context window, so its whole window is a safe ceiling when
        # the loop did not work out what is left.
        ceiling: int = (
            request.max_tokens
            or sampling.pop("max_tokens", None)
            or await server.max_model_len()
            or DEFAULT_MAX_TOKENS
        )
        sampling.pop("max_tokens", None)
        profile = server.profile
        think = profile.thinks_when(request.decision.think)
        return _Step(
            prompt=prompt,
            fields={
                "model": model,
                "stream": True,
                "stream_options": {"include_usage": True},
                "stop": STOP,
                **sampling,
            },
            ceiling=ceiling,
            think=think,
            budget=request.decision.budget if think else None,
            prefill=generation_prompt(profile.template, think).removeprefix(ASSISTANT_OPEN),
            constrained=self.constrains(request),
            parser=_parser(profile, think),
            turn=TurnBuilder(),
            attempts=server.attempts(),
        )

    async def _write(self, step: _Step, text: _Generation) -> AsyncIterator[ModelEvent]:
        """The step's own text as it streams, parsed to its end. A thinking budget that runs
        out closes the reasoning, and the model goes on with the tokens that are left."""
        budget = step.budget
        limit = min(budget, step.ceiling) if budget else step.ceiling
        while True:
            async for item in self._generate(text, step.fields, limit, step.turn, step.attempts):
                if isinstance(item, Retrying):
                    yield item
                    continue
                for event in step.parsed(step.parser.feed(item)):
                    yield event
            if budget is None or text.finish != "length" or text.used >= step.ceiling:
                break
            budget = None
            for event in step.close_reasoning(text):
                yield event
            limit = step.ceiling - text.used
        for event in step.parsed(step.parser.close()):
            yield event
        step.turn.saw_reasoning = step.parser.saw_think

    async def _answer(self, step: _Step, answer: _Generation) -> AsyncIterator[ModelEvent]:
        """The answer written again under the constraint, streamed as content. It gets the
        call's own allowance: the thinking before it is prompt now (and vLLM caps the
        number at what the window leaves)."""
        turn = step.turn
        async for item in self._generate(answer, step.fields, step.ceiling, turn, step.attempts):
            if isinstance(item, Retrying):
                turn.content.clear()  # the answer is written anew
                yield item
            else:
                yield turn.add(ContentDelta(item))

    def _extra_after(self, request: ModelRequest, written: str, extra: dict[str, Any]) -> dict[str, Any]:
        """The extra fields of an attempt that goes on from `written`: a function of the
        request is asked again (its constraint must go on from there); else they stay."""
        if written and callable(self.extra_body):
            return extra_fields(self.extra_body, dataclasses.replace(request, continued=written))
        return extra

    async def _generate(
        self, text: _Generation, fields: dict[str, Any], limit: int, turn: TurnBuilder, attempts: Attempts
    ) -> AsyncIterator[str | Retrying]:
        """One generation's text as it streams, continued across broken streams (the same
        prompt plus the text received so far is sent again), with the retries as they come."""
        server = self.server
        request = text.request
        extra = extra_fields(self.extra_body, request)
        while True:
            written = text.kept + "".join(text.output)
            extra = self._extra_after(request, written, extra)
            body: dict[str, Any] = {
                **fields,
                "prompt": text.prompt + written,
                **extra,
                **text.constraint,
                "max_tokens": limit,
            }
            finish: str | None = None
            pieces = 0
            counted: int | None = None
            try:
                async for chunk in server.stream("/completions", server.body(body)):
                    for choice in chunk.get("choices") or ():
                        piece = choice.get("text")
                        if piece:
                            text.output.append(piece)
                            pieces += 1
                            yield piece
                        if choice.get("finish_reason"):
                            finish = choice["finish_reason"]
                    if chunk.get("usage"):
                        usage = usage_from(chunk["usage"])
                        turn.count(usage)
                        counted = usage.completion_tokens
                if finish is None:
                    raise server.cut_short("/completions")
            except ModelError as exc:
                if not (isinstance(exc, StreamBroken) and finish is not None):  # only [DONE] missing
                    retrying, limit = text.failed(exc, attempts, pieces, limit)
                    yield retrying
                    await asyncio.sleep(retrying.wait)
                    continue
            text.used += counted if counted is not None else pieces
            text.finish = finish
            return


@dataclass
class _Step:
    """One model call of this backend, while it streams.

    Attributes:
        prompt: The step's prompt.
        fields: The request fields every generation of the step sends.
        ceiling: Output tokens the call may use.
        think: Whether the step thinks.
        budget: Its thinking budget in tokens, if any.
        prefill: What the generation prompt wrote of the assistant's turn.
        constrained: Whether its answer is written again under the output schema; until a
            call shows there is none, the text after the think block is then `held`.
        parser: The parser of its output.
        turn: The turn being built.
        attempts: Its retry budget.
        held: Events held back (see `constrained`).
    """

    prompt: str
    fields: dict[str, Any]
    ceiling: int
    think: bool
    budget: int | None
    prefill: str
    constrained: bool
    parser: StreamParser
    turn: TurnBuilder
    attempts: Attempts
    held: list[ModelEvent] = field(default_factory=list)

    def parsed(self, events: list[ParserEvent]) -> list[ModelEvent]:
        """Parser events added to the turn, the answer held back when it is constrained."""
        return [
            self.turn.add(out) for event in events for out in hold_answer(event, self.held, self.constrained)
        ]

    def close_reasoning(self, text: _Generation) -> list[ModelEvent]:
        """After a spent thinking budget: close the reasoning if it is still open."""
        if not self.parser.in_reasoning:
            return []
        text.output.append(BUDGET_CLOSE)
        return [self.turn.add(event) for event in self.parser.feed(BUDGET_CLOSE)]


@dataclass
class _Generation:
    """One generation of a step: its prompt, the text it wrote, and its tokens.

    Attributes:
        request: The model call it serves.
        prompt: The step's prompt.
        kept: Text of the step that stands before this generation's (the think block,
            before an answer written again under the constraint).
        constraint: Request fields that constrain it (structured outputs).
        output: Its text, as received.
        used: Output tokens so far (as the server counted them, else one per piece).
        finish: Why it stopped.
    """

    request: ModelRequest
    prompt: str
    kept: str = ""
    constraint: dict[str, Any] = field(default_factory=dict)
    output: list[str] = field(default_factory=list)
    used: int = 0
    finish: str | None = None

    def failed(self, exc: ModelError, attempts: Attempts, pieces: int, limit: int) -> tuple[Retrying, int]:
        """After an attempt that wrote `pieces` and failed: the notice of the next attempt,
        and the tokens it may write. It continues the text, unless a constraint holds it."""
        wait = attempts.wait_after(exc)
        self.used += pieces
        if self.constraint:
            # A grammar starts at the first generated token: a half-written answer in the
            # prompt cannot be continued under it. Write it anew.
            self.output.clear()
            return Retrying(attempts.number, wait, str(exc), restart=True, kept=len(self.kept)), limit
        kept = len(self.kept) + sum(map(len, self.output))
        return Retrying(attempts.number, wait, str(exc), kept=kept), max(1, limit - pieces)


def _before_answer(output: str, think: bool) -> str:
    """The text of a step before its answer: through the end of the think block and the
    blank line the template puts after it (a block cut short is closed as a spent thinking
    budget is). Nothing for a step without thinking: its prompt holds the empty block."""
    if not think:
        return ""
    end = output.find(THINK_CLOSE)
    if end < 0:
        return output + BUDGET_CLOSE
    return output[: end + len(THINK_CLOSE)] + "\n\n"
