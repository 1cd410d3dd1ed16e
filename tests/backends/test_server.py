"""The server connection: base URLs, timeouts and extra request fields, checked up front."""

from __future__ import annotations

from typing import Any

import pytest

from agentkit import Agent
from agentkit.backends._server import ServerConnection, normalize_base_url
from agentkit.backends.chat import ChatBackend
from agentkit.backends.completions import CompletionsBackend
from agentkit.errors import ConfigError


@pytest.mark.parametrize(
    ("given", "root"),
    [
        ("http://h:8000", "http://h:8000/v1"),
        ("http://h:8000/v1", "http://h:8000/v1"),
        ("http://h:8000/v1/", "http://h:8000/v1"),
        ("  https://h/api/v1  ", "https://h/api/v1"),
    ],
)
def test_a_base_url_becomes_the_api_root(given: str, root: str) -> None:
    assert normalize_base_url(given) == root


@pytest.mark.parametrize(
    ("given", "message"),
    [
        (
            "127.0.0.1:8000/v1",
            "has no http:// or https:// scheme and host; did you mean --base-url http://127.0.0.1:8000/v1?",
        ),
        ("localhost:8000", "did you mean --base-url http://localhost:8000/v1?"),
        ("ftp://h/v1", "has no http:// or https:// scheme"),
        ("http://h:99999/v1", "has a port out of range (1-65535)"),
        ("http://h:8000/v1/completions", "names an endpoint; give the API root: --base-url http://h:8000/v1"),
        ("http://h:8000/v1/chat/completions", "give the API root: --base-url http://h:8000/v1"),
        ("", "the base URL is empty; the default is --base-url http://127.0.0.1:8000/v1"),
    ],
)
def test_a_wrong_base_url_says_what_to_write(given: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        normalize_base_url(given)
    assert message in str(caught.value)


@pytest.mark.parametrize("name", ["connect_timeout", "idle_timeout"])
def test_timeouts_must_be_positive(name: str) -> None:
    with pytest.raises(ValueError, match=f"{name} must be a number of seconds above 0"):
        options: dict[str, Any] = {name: -1}
        ServerConnection("http://h/v1", **options)


@pytest.mark.parametrize("cls", [CompletionsBackend, ChatBackend])
@pytest.mark.parametrize("field", ["prompt", "messages", "model", "stream", "stream_options"])
def test_extra_body_may_not_replace_what_agentkit_sends(cls: type, field: str) -> None:
    with pytest.raises(ConfigError, match=f"may not replace what agentkit sends itself: {field}"):
        cls("http://h/v1", "m", extra_body={field: "x", "top_k": 5})


def test_extra_body_may_add_server_options() -> None:
    backend = CompletionsBackend(
        "http://h/v1", "m", extra_body={"repetition_penalty": 1.05, "tool_choice": "none"}
    )
    assert backend.extra_body == {"repetition_penalty": 1.05, "tool_choice": "none"}


def test_a_tool_that_is_not_a_function_is_named() -> None:
    with pytest.raises(TypeError, match="tools must be functions or Tool objects, got 'add' \\(str\\)"):
        Agent(tools=["add"])  # type: ignore[list-item]
