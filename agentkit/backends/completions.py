"""The completions backend: agentkit renders the Qwen3 prompt and parses the output itself.

It sends raw prompt text to `/v1/completions` and reads the stream with agentkit's parser,
which gives (a) calls rescued where a server-side parser would drop them, (b) a thinking
budget, and (c) an append-only prompt: within one user query, step k+1's prompt is step k's
prompt + its output + `<|im_end|>\\n` + the tool results + the generation prompt, byte for
byte, so the server's prefix cache serves every earlier token.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import AsyncIterator, Sequence
from typing import Any

from agentkit.backends._http import Transport
from agentkit.backends._server import ServerConnection
from agentkit.backends.base import ExtraBody, ModelEvent, ModelRequest, TurnBuilder, extra_fields, usage_from
from agentkit.messages import AssistantMessage, ToolMessage
from agentkit.qwen3.parser import StreamParser
from agentkit.qwen3.template import IM_END, render_prompt

__all__ = ["BUDGET_CLOSE", "CompletionsBackend"]

BUDGET_CLOSE = (
    "\n\nConsidering the limited time by the user, I have to give the solution based on the "
    "thinking directly now.\n</think>\n\n"
)
"""Appended to reasoning that used up its budget (Qwen3 technical report, §4.3)."""

STOP = ["<|im_end|>", "<|endoftext|>"]

DEFAULT_MAX_TOKENS = 32_768
"""Tokens per model call when neither the request nor the server says (Qwen3's model card
recommends 32,768 output tokens for most tasks)."""

_PREFIX_CACHE_SIZE = 64


class CompletionsBackend:
    """Qwen3 over `/v1/completions`, with agentkit's own template and parser.

    Args:
        base_url: The server's API root (default `http://127.0.0.1:8000/v1`).
        model: The served model name; None asks the server.
        api_key: Bearer token, if the server wants one.
        transport: "aiohttp" (default), "httpx", or a transport object.
        client: An `openai.AsyncOpenAI` client to take the base URL and API key from.
        extra_body: More fields for every request body (server-specific options such as
            vLLM's `structured_outputs`), or a function of the request that returns them.
    """

    name = "completions"

    def __init__(
        self,
        base_url: str | None = None,
        model: str | None = None,
        *,
        api_key: str | None = None,
        transport: str | Transport | None = None,
        client: Any = None,
        extra_body: ExtraBody = None,
    ) -> None:
        self.server = ServerConnection(base_url, model, api_key=api_key, transport=transport, client=client)
        self.extra_body = extra_body
        # id(assistant message) -> (message, tools, prompt through that message's output)
        self._prefixes: OrderedDict[int, tuple[AssistantMessage, Sequence[dict[str, Any]], str]] = (
            OrderedDict()
        )

    def prompt_for(self, request: ModelRequest) -> str:
        """The prompt of a request: an extension of the previous one where possible."""
        messages = request.messages
        think = request.decision.think
        last = len(messages) - 1
        i = last
        while i >= 0 and isinstance(messages[i], ToolMessage):
            i -= 1
        if 0 <= i < last:
            entry = self._prefixes.get(id(messages[i]))
            if (
                entry is not None
                and entry[0] is messages[i]
                and (entry[1] is request.tools or entry[1] == request.tools)
            ):
                self._prefixes.move_to_end(id(messages[i]))
                return entry[2] + IM_END + "\n" + render_prompt(messages[i + 1 :], enable_thinking=think)
        return render_prompt(messages, request.tools or None, enable_thinking=think)

    def _remember(self, message: AssistantMessage, request: ModelRequest, prompt: str) -> None:
        self._prefixes[id(message)] = (message, request.tools, prompt)
        while len(self._prefixes) > _PREFIX_CACHE_SIZE:
            self._prefixes.popitem(last=False)

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelEvent]:
        model = await self.server.model_name()
        prompt = self.prompt_for(request)
        sampling = {**request.sampling.body(), **extra_fields(self.extra_body, request)}
        # /v1/completions defaults to 16 tokens: always say how many. vLLM caps the number at
        # what is left of the context window, so its whole window is a safe ceiling.
        ceiling: int = (
            sampling.pop("max_tokens", None) or await self.server.max_model_len() or DEFAULT_MAX_TOKENS
        )
        budget = request.decision.budget if request.decision.think else None
        parser = StreamParser()
        turn = TurnBuilder()
        output: list[str] = []
        finish: str | None = None
        limit = min(budget, ceiling) if budget else ceiling
        while True:
            body: dict[str, Any] = {
                "model": model,
                "prompt": prompt + "".join(output),
                "stream": True,
                "stream_options": {"include_usage": True},
                "stop": STOP,
                **sampling,
                "max_tokens": limit,
            }
            finish = None
            async for chunk in self.server.stream("/completions", self.server.body(body)):
                for choice in chunk.get("choices") or ():
                    text = choice.get("text")
                    if text:
                        output.append(text)
                        for event in parser.feed(text):
                            yield turn.add(event)
                    if choice.get("finish_reason"):
                        finish = choice["finish_reason"]
                if chunk.get("usage"):
                    turn.usage += usage_from(chunk["usage"])
            if budget is None or finish != "length":
                break
            # The budget ran out: close the reasoning if it is still open, then let the
            # model go on with the tokens that are left.
            budget = None
            used = turn.usage.completion_tokens
            if used >= ceiling:
                break
            if parser.in_reasoning:
                output.append(BUDGET_CLOSE)
                for event in parser.feed(BUDGET_CLOSE):
                    yield turn.add(event)
            limit = ceiling - used
        for event in parser.close():
            yield turn.add(event)
        turn.saw_reasoning = parser.saw_think
        raw = "".join(output)
        result = turn.turn(finish_reason=finish, raw=raw)
        self._remember(result.message, request, prompt + raw)
        yield result

    async def aclose(self) -> None:
        await self.server.aclose()
