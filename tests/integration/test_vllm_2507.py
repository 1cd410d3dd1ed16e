"""A Qwen3-Thinking-2507 setup on a real vLLM: the tiny random-weight Qwen3 served under a
2507 name with agentkit's Thinking-2507 template, its turns forced (see `forcing.py`).

The prompt opens `<think>`, so the output has only `</think>`: agentkit's parser (completions
backend) and vLLM's `qwen3` reasoning parser (chat backend) must both read the text before it
as reasoning, and a policy of "off" must change nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agentkit import Agent
from agentkit.backends.chat import ChatBackend
from agentkit.backends.completions import CompletionsBackend
from agentkit.messages import AssistantMessage
from agentkit.thinking import ThinkingModeWarning

from .conftest import STRUCTURED_OUTPUTS, VllmServer, free_port
from .forcing import Script

NAME = "tiny-qwen3-thinking-2507"
TURN = "The user greets me.\n</think>\n\nHello there."


@pytest.fixture(scope="module")
def thinking_2507_server(
    tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[VllmServer]:
    pytest.importorskip("vllm")
    import agentkit.qwen3
    from agentkit.serving import ManagedServer, ServeConfig

    template = Path(agentkit.qwen3.__file__).with_name("template-thinking-2507.jinja")
    port = free_port()
    config = ServeConfig(
        model=str(tiny_model_dir),
        port=port,
        max_model_len=2048,
        served_model_name=NAME,
        extra_args=(
            "--enforce-eager",
            "--seed",
            "0",
            "--chat-template",
            str(template),
            "--structured-outputs-config",
            STRUCTURED_OUTPUTS,
        ),
        env={"VLLM_CPU_KVCACHE_SPACE": "1"},
        log_path=tmp_path_factory.mktemp("vllm-2507") / "server.log",
    )
    server = ManagedServer(config)
    server.start(timeout=600)
    try:
        yield VllmServer(
            server.base_url, NAME, server.log_path, server.started_in or 0.0, f"http://127.0.0.1:{port}"
        )
    finally:
        server.stop()


@pytest.mark.parametrize("kind", ["completions", "chat"])
async def test_output_without_an_opening_think_tag_is_reasoning_on_both_backends(
    kind: str, thinking_2507_server: VllmServer, tiny_tokenizer: Any
) -> None:
    script = Script([TURN], tiny_tokenizer)
    cls = CompletionsBackend if kind == "completions" else ChatBackend
    backend = cls(thinking_2507_server.base_url, NAME, extra_body=script)
    with pytest.warns(ThinkingModeWarning):
        agent = Agent(NAME, backend=backend, thinking="off", transcripts=False)
    result = await agent.run("Hi! /no_think")
    await agent.aclose()

    assert result.ok and result.output == "Hello there."
    assert isinstance(result.messages[-1], AssistantMessage)
    assert result.messages[-1].reasoning == "The user greets me."
    assert [s.decision.think for s in result.steps] == [True]
