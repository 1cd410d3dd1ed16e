"""Both backends against llama-cpp-python's real server (the tiny Qwen3 as GGUF).

Its text is noise, so each turn is forced: a GBNF grammar of the exact text (completions, and
the chat answer) or a forced `tool_choice` (the chat call). What is real: the server, its
streams without usage, its repeated tool-call names, its indifference to `enable_thinking`,
and its tokenizer. Skipped where llama-cpp-python is not installed (see `llamacpp.py`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agentkit import Agent, tool
from agentkit.backends.base import ModelRequest
from agentkit.backends.chat import ChatBackend
from agentkit.backends.completions import CompletionsBackend
from agentkit.messages import UserMessage
from agentkit.thinking import ThinkingDecision

from .llamacpp import LlamaCppServer, gguf_model, llamacpp_server

ANSWER = "The sum is 5."
CALL = '<tool_call>\n{"name": "add", "arguments": {"a": 2, "b": 3}}\n</tool_call>'


@pytest.fixture(scope="module")
def llama(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaCppServer]:
    from .conftest import cache_dir

    gguf = gguf_model(tiny_model_dir, cache_dir())
    with llamacpp_server(gguf, tmp_path_factory.mktemp("llama") / "server.log") as server:
        yield server


def literal(text: str) -> str:
    """A GBNF grammar that matches exactly `text`."""
    return "root ::= " + json.dumps(text)


class Forced:
    """`extra_body` for the turns of a two-step run: the call, then the answer."""

    def __init__(self, call: dict[str, Any]) -> None:
        self.call = call
        self.requests: list[ModelRequest] = []

    def __call__(self, request: ModelRequest) -> dict[str, Any]:
        if request.continued:
            raise AssertionError("no stream should break here")
        self.requests.append(request)
        return self.call if len(self.requests) == 1 else {"grammar": literal(ANSWER)}


def agent(kind: str, llama: LlamaCppServer, ran: list[int]) -> tuple[Agent, Forced]:
    @tool
    def add(a: int, b: int) -> int:
        """Add two integers."""
        ran.append(a + b)
        return a + b

    if kind == "completions":
        forced = Forced({"grammar": literal(CALL)})
        backend: Any = CompletionsBackend(llama.base_url, llama.model, extra_body=forced)
    else:
        forced = Forced({"tool_choice": {"type": "function", "function": {"name": "add"}}})
        backend = ChatBackend(llama.base_url, llama.model, extra_body=forced)
    return Agent(llama.model, backend=backend, tools=[add], thinking="off", transcripts=False), forced


@pytest.mark.parametrize("kind", ["completions", "chat"])
async def test_a_tool_loop_over_llama_cpp_python(kind: str, llama: LlamaCppServer, report: Any) -> None:
    ran: list[int] = []
    runner, _ = agent(kind, llama, ran)
    result = await runner.run("What is 2 + 3?")
    assert result.ok and result.output == ANSWER, result
    (call,) = result.steps[0].message.tool_calls
    assert call.name == "add"  # one name, although the server repeats it in every chunk
    if kind == "completions":
        assert call.arguments == {"a": 2, "b": 3}
    assert len(ran) == 1
    assert result.usage.estimated and result.usage.prompt_tokens > 0  # it streams no usage
    backend = runner.backend
    assert backend.server.kind.name == "llama-cpp-python"  # type: ignore[attr-defined]
    report(
        f"llamacpp_{kind}",
        f"llama-cpp-python, {kind} backend: {len(result.steps)} steps, tool ran {len(ran)} time(s), "
        f"estimated usage {result.usage.prompt_tokens}+{result.usage.completion_tokens} tokens",
    )


async def test_the_server_is_known_by_its_listing_and_counts_with_its_tokenizer(
    llama: LlamaCppServer,
) -> None:
    chat = ChatBackend(llama.base_url, llama.model)
    body = await chat.body_for(
        ModelRequest([UserMessage("What is 2 + 3?")], decision=ThinkingDecision(False))
    )
    assert body["messages"][-1]["content"] == "What is 2 + 3? /no_think"  # it ignores the flag alone
    completions = CompletionsBackend(llama.base_url, llama.model)
    count = await completions.count_tokens(ModelRequest([UserMessage("What is 2 + 3?")]))
    assert isinstance(count, int) and 5 < count < 40
    await chat.aclose()
    await completions.aclose()
