"""The chat backend: the server renders the prompt and parses the output.

For any OpenAI-compatible server: vLLM (`--tool-call-parser hermes --reasoning-parser
qwen3`), SGLang, llama.cpp, Ollama. Reasoning is read from `reasoning_content` or
`reasoning`; tool-call deltas are assembled by index. Content still goes through agentkit's
parser, so a `<tool_call>` the server left in the text (its parser failed) is still read, and
a server without a reasoning parser still has its `<think>` block split off.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from agentkit.backends._http import Transport
from agentkit.backends._server import ServerConnection
from agentkit.backends.base import ExtraBody, ModelEvent, ModelRequest, TurnBuilder, extra_fields, usage_from
from agentkit.messages import Message, ToolCall, ToolCallError, to_openai
from agentkit.qwen3.parser import StreamParser, ToolCallInvalid, ToolCallReady, read_arguments

__all__ = ["ChatBackend"]


@dataclass
class _PendingCall:
    id: str | None = None
    name: str = ""
    arguments: list[str] = field(default_factory=list)

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


class ChatBackend:
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
    ) -> None:
        self.server = ServerConnection(base_url, model, api_key=api_key, transport=transport, client=client)
        self.tool_choice = tool_choice
        self.extra_body = extra_body

    async def body_for(self, request: ModelRequest) -> dict[str, Any]:
        """The request body of a model call."""
        body: dict[str, Any] = {
            "model": await self.server.model_name(),
            "messages": [_message(m) for m in request.messages],
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if request.tools:
            body["tools"] = list(request.tools)
            body["tool_choice"] = self.tool_choice
        body["chat_template_kwargs"] = {"enable_thinking": request.decision.think}
        if request.decision.think and request.decision.budget:
            body["thinking_token_budget"] = request.decision.budget  # vLLM's reasoning budget
        body.update(request.sampling.body())
        body.update(extra_fields(self.extra_body, request))
        return body

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelEvent]:
        body = self.server.body(await self.body_for(request))
        turn = TurnBuilder()
        reasoning = StreamParser(thinking=True)  # the server's reasoning field
        content = StreamParser()  # content, in case calls or <think> were left in it
        pending: dict[int, _PendingCall] = {}
        server_calls: list[ToolCall | ToolCallError] = []
        finish: str | None = None
        async for chunk in self.server.stream("/chat/completions", body):
            for choice in chunk.get("choices") or ():
                delta = choice.get("delta") or {}
                thought = delta.get("reasoning_content") or delta.get("reasoning")
                if thought:
                    for event in reasoning.feed(thought):
                        yield turn.add(event)
                text = delta.get("content")
                if text:
                    for event in content.feed(text):
                        yield turn.add(event)
                for part in delta.get("tool_calls") or ():
                    index = part.get("index", len(pending))
                    if index not in pending:
                        # A new index means the calls before it are complete.
                        for done in [i for i in pending if i < index]:
                            yield _ready(turn, server_calls, pending.pop(done).finish())
                        pending[index] = _PendingCall()
                    slot = pending[index]
                    if part.get("id"):
                        slot.id = part["id"]
                    fn = part.get("function") or {}
                    if fn.get("name"):
                        slot.name += fn["name"]
                    if fn.get("arguments"):
                        slot.arguments.append(fn["arguments"])
                if choice.get("finish_reason"):
                    finish = choice["finish_reason"]
            if chunk.get("usage"):
                turn.usage += usage_from(chunk["usage"])
        for index in sorted(pending):
            yield _ready(turn, server_calls, pending.pop(index).finish())
        for event in [*reasoning.close(), *content.close()]:
            yield turn.add(event)
        visible = turn.calls or turn.content or "".join(turn.reasoning)
        if not visible and (finish == "tool_calls" or turn.usage.completion_tokens > 1):
            # The server's parser consumed the reply: it saw a tool call it could not read.
            error = ToolCallError(
                "",
                "the server could not read your tool call and dropped your reply "
                f'({turn.usage.completion_tokens} tokens); its JSON needs a "name" and an '
                '"arguments" object.',
            )
            yield turn.add(ToolCallInvalid(error))
        turn.saw_reasoning = turn.saw_reasoning or content.saw_think
        yield turn.turn(finish_reason=finish)

    async def aclose(self) -> None:
        await self.server.aclose()


def _message(message: Message) -> dict[str, Any]:
    data = to_openai(message)
    if "reasoning_content" in data:  # vLLM >= 0.11 reads `reasoning`; older servers `reasoning_content`
        data["reasoning"] = data["reasoning_content"]
    return data


def _ready(
    turn: TurnBuilder, calls: list[ToolCall | ToolCallError], item: ToolCall | ToolCallError
) -> ModelEvent:
    calls.append(item)
    return turn.add(ToolCallReady(item) if isinstance(item, ToolCall) else ToolCallInvalid(item))
