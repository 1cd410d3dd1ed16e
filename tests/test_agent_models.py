"""An Agent follows its model's profile: a 2507 release keeps its one thinking mode."""

from __future__ import annotations

import pytest

from agentkit import Agent
from agentkit.backends.scripted import ScriptedBackend
from agentkit.messages import AssistantMessage
from agentkit.thinking import ThinkingModeWarning


def test_instruct_2507_never_thinks_though_the_policy_and_the_task_ask_for_it() -> None:
    backend = ScriptedBackend(["Four."])
    with pytest.warns(ThinkingModeWarning, match="has no thinking mode"):
        agent = Agent("Qwen/Qwen3-4B-Instruct-2507", backend=backend, thinking="on", transcripts=False)
    result = agent.run_sync("What is 2 + 2? /think")
    request = backend.requests[0]
    assert request.decision.think is False
    assert request.decision.reason == "Qwen/Qwen3-4B-Instruct-2507 never thinks"
    assert request.sampling.body() == {"temperature": 0.7, "top_p": 0.8, "top_k": 20, "min_p": 0.0}
    assert result.output == "Four."


def test_thinking_2507_always_thinks_though_the_policy_and_the_task_ask_it_not_to() -> None:
    backend = ScriptedBackend(["Two and two.\n</think>\n\nFour."])
    with pytest.warns(ThinkingModeWarning, match="has no non-thinking mode"):
        agent = Agent("qwen3-4b-thinking-2507", backend=backend, thinking="off", transcripts=False)
    result = agent.run_sync("What is 2 + 2? /no_think")
    request = backend.requests[0]
    assert request.decision.think is True
    assert request.sampling.body() == {"temperature": 0.6, "top_p": 0.95, "top_k": 20, "min_p": 0.0}
    assert isinstance(result.messages[-1], AssistantMessage)
    assert result.output == "Four." and result.messages[-1].reasoning == "Two and two."
