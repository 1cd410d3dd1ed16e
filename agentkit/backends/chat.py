"""The chat backend: the server renders the prompt and parses the output.

For any OpenAI-compatible server: vLLM (`--tool-call-parser hermes --reasoning-parser
qwen3`), SGLang, llama.cpp, Ollama. Reasoning is read from `reasoning_content` or
`reasoning`; tool-call deltas are assembled by index. Content still goes through agentkit's
parser, so a `<tool_call>` the server left in the text (its parser failed) is still read, and
a server without a reasoning parser still has its `<think>` block split off.

A chat request cannot be continued where a broken stream stopped, so a broken step starts
over (a `Retrying` with `restart=True`); the loop keeps the tool calls already running and
gives them to the new attempt when it asks for the same calls.

With an output schema, a reply without calls is asked for again with `response_format`; a
thinking step's request continues an assistant message holding its closed think block
(`continue_final_message`), so the schema holds from the first token.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from agentkit.backends._http import Transport
from agentkit.backends._server import ServerBackend
from agentkit.backends.base import (
    ExtraBody,
    ModelEvent,
    ModelRequest,
    Retrying,
    StructuredOutputs,
    Turn,
    TurnBuilder,
    extra_fields,
    hold_answer,
    usage_from,
)
from agentkit.backends.retry import Attempts, RetryPolicy
from agentkit.defaults import DEFAULT_CONNECT_TIMEOUT, DEFAULT_IDLE_TIMEOUT
from agentkit.errors import ModelError, StreamBroken
from agentkit.messages import (
    ContentDelta,
    Message,
    ReasoningDelta,
    ToolCall,
    ToolCallError,
    ToolCallInvalid,
    ToolCallReady,
    to_openai,
)
from agentkit.qwen3.parser import StreamParser, read_arguments

__all__ = ["ChatBackend"]


@dataclass
class _PendingCall:
    id: str | None = None
    name: str = ""
    arguments: list[str] = field(default_factory=list)

    def add_name(self, name: str) -> None:
        # The spec sends the name once; some servers (llama.cpp's) repeat it whole in every
        # chunk of the call. A piece equal to, or growing, the name so far replaces it.
        if name == self.name or name.startswith(self.name):
            self.name = name
        else:
            self.name += name

    def finish(self) -> ToolCall | ToolCallError:
        text = "".join(self.arguments)
        try:
            arguments = read_arguments(text)
        except ValueError as exc:
            error = ToolCallError(
                text,
                f"the arguments of {self.name or 'the call'} are not valid JSON: {exc}.",
                self.name or None,
            )
            if self.id:
                error.id = self.id
            return error
        call = ToolCall(name=self.name, arguments=arguments, raw=text)
        if self.id:
            call.id = self.id
        return call


class ChatBackend(ServerBackend):
    """Qwen3 (or any model) over `/v1/chat/completions`.

    Args:
        base_url: The server's API root (default `http://127.0.0.1:8000/v1`).
        model: The served model name; None asks the server.
        api_key: Bearer token, if the server wants one.
        transport: "aiohttp" (default), "httpx", or a transport object.
        client: An `openai.AsyncOpenAI` client to take the base URL and API key from.
        tool_choice: Sent when there are tools: "auto" (default), "required", "none", or
            a named function.
        extra_body: More fields for every request body (server-specific options), or a
            function of the request that returns them.
        connect_timeout: Seconds to open a connection.
        idle_timeout: Seconds a response may stay silent before it counts as stalled.
        retry: How failed requests are retried.
        structured_outputs: How an answer is made to match the run's output type: "auto"
            (`response_format` where the server is vLLM), "server" (always), "validate"
            (never: the loop checks the answer).
    """

    name = "chat"

    def __init__(
        self,
        base_url: str | None = None,
        model: str | None = None,
        *,
        api_key: str | None = None,
        transport: str | Transport | None = None,
        client: Any = None,
        tool_choice: str | dict[str, Any] = "auto",
        extra_body: ExtraBody = None,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
        retry: RetryPolicy | None = None,
        structured_outputs: StructuredOutputs = "auto",
    ) -> None:
        super().__init__(
            base_url,
            model,
            api_key=api_key,
            transport=transport,
            client=client,
            extra_body=extra_body,
            connect_timeout=connect_timeout,
            idle_timeout=idle_timeout,
            retry=retry,
            structured_outputs=structured_outputs,
        )
        self.tool_choice = tool_choice

    async def body_for(self, request: ModelRequest) -> dict[str, Any]:
        """The request body of a model call."""
        server = self.server
        model = await server.model_name()  # the listing also says what kind of server it is
        messages = [_message(m) for m in request.messages]
        profile = server.profile
        think = profile.thinks_when(request.decision.think)
        if not think and not server.thinking_flag and profile.thinks == "switch":
            _soft_switch_off(messages)
        body: dict[str, Any] = {
            "model": model,
            "messages": messages,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if request.tools:
            body["tools"] = list(request.tools)
            body["tool_choice"] = self.tool_choice
        # The 2507 templates ignore the flag, but vLLM's reasoning parser reads it: true, it
        # starts inside the reasoning (Thinking-2507's output has no <think>); false, it reads
        # all of it as the answer (Instruct-2507's).
        body["chat_template_kwargs"] = {"enable_thinking": think}
        if think and request.decision.budget and server.kind.thinking_budget:
            body["thinking_token_budget"] = request.decision.budget  # vLLM's reasoning budget
        body.update(request.sampling.body())
        if request.max_tokens is not None:
            body["max_tokens"] = request.max_tokens
        body.update(extra_fields(self.extra_body, request))
        return body

    async def prompt_size(self, request: ModelRequest) -> int:
        """The conversation's length in characters, as sent (for the context budget)."""
        return len(self.server.body({"messages": [_message(m) for m in request.messages]}))

    async def count_tokens(self, request: ModelRequest) -> int | None:
        """The prompt's exact token count from the server, where it can tell."""
        fields: dict[str, Any] = {"messages": [_message(m) for m in request.messages]}
        if request.tools:
            fields["tools"] = list(request.tools)
        await self.server.model_name()
        fields["chat_template_kwargs"] = {
            "enable_thinking": self.server.profile.thinks_when(request.decision.think)
        }
        return await self.server.count_tokens(fields)

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelEvent]:
        server = self.server
        async for notice in server.prepare():
            yield notice
        fields = await self.body_for(request)
        body = server.body(fields)
        attempts = server.attempts()
        constrained = self.constrains(request)
        # With a constrained answer, content is held back until a call shows it is not
        # the answer: an answer is asked for again with the schema as `response_format`.
        held: list[ModelEvent] = []
        profile = server.profile
        think = profile.thinks_when(request.decision.think)
        reply = _Reply()
        async for item in self._exchange(body, attempts, lambda: _Reply(think, profile.thinks != "never")):
            if isinstance(item, _Reply):
                reply = item
            else:
                for event in hold_answer(item, held, constrained):
                    yield event
        events = reply.close()
        turn = events[-1]
        assert isinstance(turn, Turn)
        if constrained and not turn.calls:
            body = server.body(_answer_fields(request, fields, turn, think))
            async for event in self._answer(body, attempts, turn):
                yield event
            reply.turn.usage = turn.usage
            events = [e for e in events if not isinstance(e, ContentDelta)]
        else:
            events = [*held, *events]
        _estimate_usage(reply, turn, len(body))
        if not think and turn.message.reasoning and server.thinking_flag and profile.thinks == "switch":
            server.thinks_anyway = True  # it ignores enable_thinking: the next steps say /no_think
        for event in events:
            yield event

    async def _answer(self, body: bytes, attempts: Attempts, turn: Turn) -> AsyncIterator[ModelEvent]:
        """The answer asked for again under the schema, streamed as content; it becomes the
        turn's content."""
        answer = _Reply()
        async for item in self._exchange(body, attempts, lambda: _Reply(False)):
            if isinstance(item, _Reply):
                answer = item
            elif isinstance(item, (ContentDelta, ReasoningDelta)):
                # After a closed think block everything is the answer, though a
                # reasoning parser that saw no `</think>` calls it reasoning.
                yield ContentDelta(item.text)
            else:
                yield item
        answer.close()
        said = answer.turn
        turn.message.content = "".join(said.reasoning) + "".join(said.content)
        turn.usage = turn.usage + said.usage
        turn.finish_reason = answer.finish

    async def _exchange(
        self, body: bytes, attempts: Attempts, new_reply: Callable[[], _Reply]
    ) -> AsyncIterator[ModelEvent | _Reply]:
        """One request's events as they stream, retried (from the start) when it fails;
        then the reply that got through, not yet closed."""
        server = self.server
        while True:
            reply = new_reply()
            try:
                async for chunk in server.stream("/chat/completions", body):
                    for event in reply.read(chunk):
                        yield event
                if reply.finish is None:
                    raise server.cut_short("/chat/completions")
            except ModelError as exc:
                if not (isinstance(exc, StreamBroken) and reply.finish is not None):  # only [DONE] missing
                    wait = attempts.wait_after(exc)
                    yield Retrying(attempts.number, wait, str(exc), restart=reply.started)
                    await asyncio.sleep(wait)
                    continue
            yield reply
            return


class _Reply:
    """One attempt's streamed reply, read into a turn.

    Args:
        think: Whether the step thinks.
        can_think: Whether the model has reasoning at all (not so Instruct-2507: a `<think>`
            in its content is text).
    """

    def __init__(self, think: bool = True, can_think: bool = True) -> None:
        self.turn = TurnBuilder()
        self.reasoning = StreamParser(thinking=True)  # the server's reasoning field
        # Content is parsed too, in case calls or reasoning were left in it: a server without
        # a reasoning parser leaves `<think>...</think>`, or, for a template that opened the
        # think block, the reasoning and a `</think>` with no `<think>`. That is looked for
        # only in a thinking step whose reasoning the server did not already split off.
        self._content_mode = (None if can_think else False, think)
        self._content: StreamParser | None = None
        self._reasoned = False
        self.pending: dict[int, _PendingCall] = {}
        self.finish: str | None = None
        self.started = False

    def read(self, chunk: dict[str, Any]) -> list[ModelEvent]:
        turn = self.turn
        out: list[ModelEvent] = []
        for choice in chunk.get("choices") or ():
            delta = choice.get("delta") or {}
            thought = delta.get("reasoning_content") or delta.get("reasoning")
            if thought:
                self._reasoned = True
                out += map(turn.add, self.reasoning.feed(thought))
            text = delta.get("content")
            if text:
                out += map(turn.add, self.content.feed(text))
            for part in delta.get("tool_calls") or ():
                out += self._read_call(part)
            if choice.get("finish_reason"):
                self.finish = choice["finish_reason"]
        if chunk.get("usage"):
            turn.count(usage_from(chunk["usage"]))
        self.started = self.started or bool(out) or bool(self.pending)
        return out

    def _read_call(self, part: dict[str, Any]) -> list[ModelEvent]:
        """A piece of a streamed tool call; the calls it shows complete."""
        out: list[ModelEvent] = []
        index = part.get("index", len(self.pending))
        if index not in self.pending:
            # A new index means the calls before it are complete.
            for done in [i for i in self.pending if i < index]:
                out.append(self._ready(self.pending.pop(done).finish()))
            self.pending[index] = _PendingCall()
        slot = self.pending[index]
        if part.get("id") and not slot.id:
            slot.id = part["id"]
        fn = part.get("function") or {}
        if fn.get("name"):
            slot.add_name(fn["name"])
        if fn.get("arguments"):
            slot.arguments.append(fn["arguments"])
        return out

    @property
    def content(self) -> StreamParser:
        """The parser of the content field, made at its first text."""
        if self._content is None:
            thinking, think = self._content_mode
            if self._reasoned:  # the server splits reasoning off: content is the answer
                thinking = False
            self._content = StreamParser(thinking, unopened=think)
        return self._content

    def _ready(self, item: ToolCall | ToolCallError) -> ModelEvent:
        return self.turn.add(ToolCallReady(item) if isinstance(item, ToolCall) else ToolCallInvalid(item))

    def close(self) -> list[ModelEvent]:
        turn = self.turn
        out: list[ModelEvent] = [self._ready(self.pending.pop(i).finish()) for i in sorted(self.pending)]
        out += map(turn.add, [*self.reasoning.close(), *self.content.close()])
        visible = turn.calls or turn.content or "".join(turn.reasoning)
        if not visible and (self.finish == "tool_calls" or turn.usage.completion_tokens > 1):
            # The server's parser consumed the reply: it saw a tool call it could not read.
            error = ToolCallError(
                "",
                "the server could not read your tool call and dropped your reply "
                f'({turn.usage.completion_tokens} tokens); its JSON needs a "name" and an '
                '"arguments" object.',
            )
            out.append(turn.add(ToolCallInvalid(error)))
        turn.saw_reasoning = turn.saw_reasoning or self.content.saw_think
        out.append(turn.turn(finish_reason=self.finish))
        return out


def _answer_fields(request: ModelRequest, fields: dict[str, Any], turn: Turn, think: bool) -> dict[str, Any]:
    """The request of the answer asked again under the schema. A thinking step goes on from
    its own think block (the reply continues an assistant message that closes it), so the
    constraint holds from the first token and the model does not think twice."""
    assert request.output_schema is not None
    fields = {**fields, "response_format": _response_format(request.output_schema)}
    if think:
        thought = "<think>\n" + (turn.message.reasoning or "").strip("\n") + "\n</think>\n\n"
        fields["messages"] = [*fields["messages"], {"role": "assistant", "content": thought}]
        fields.update(add_generation_prompt=False, continue_final_message=True)
    return fields


def _estimate_usage(reply: _Reply, turn: Turn, sent: int) -> None:
    """Usage estimated from sizes where the server did not say (llama-cpp-python does not)."""
    if reply.turn.usage.requests:
        return
    message = turn.message
    written = len(message.content) + len(message.reasoning or "")
    written += sum(len(c.raw or "") + len(c.name) for c in message.tool_calls)
    reply.turn.estimate(sent, written)
    turn.usage = reply.turn.usage


def _response_format(schema: dict[str, Any]) -> dict[str, Any]:
    """The OpenAI `response_format` that constrains an answer to `schema`."""
    name = "".join(c if c.isalnum() or c in "_-" else "_" for c in str(schema.get("title") or "answer"))
    return {
        "type": "json_schema",
        "json_schema": {"name": name[:64] or "answer", "schema": schema, "strict": True},
    }


def _soft_switch_off(messages: list[dict[str, Any]]) -> None:
    """Turn thinking off as the model card says to where the server ignores the template
    flag: `/no_think` at the end of the latest user message (of the request, not the
    conversation)."""
    for data in reversed(messages):
        if data.get("role") == "user" and isinstance(data.get("content"), str):
            data["content"] = data["content"].rstrip() + " /no_think"
            return


def _message(message: Message) -> dict[str, Any]:
    data = to_openai(message)
    if "reasoning_content" in data:  # vLLM >= 0.11 reads `reasoning`; older servers `reasoning_content`
        data["reasoning"] = data["reasoning_content"]
    return data
