"""Ways of talking to a model: `completions` (default), `chat` and `scripted`."""

from __future__ import annotations

from typing import Any

from agentkit.backends.base import Backend, ModelEvent, ModelRequest, Turn

__all__ = ["BACKENDS", "Backend", "ModelEvent", "ModelRequest", "Turn", "make_backend"]

BACKENDS = ("completions", "chat", "scripted")


def make_backend(kind: str | Backend, **options: Any) -> Backend:
    """A backend from its name and options (base_url, model, api_key, transport, client)."""
    if not isinstance(kind, str):
        return kind
    if kind == "completions":
        from agentkit.backends.completions import CompletionsBackend

        return CompletionsBackend(**options)
    if kind == "chat":
        from agentkit.backends.chat import ChatBackend

        return ChatBackend(**options)
    if kind == "scripted":
        raise ValueError(
            "the scripted backend needs its turns: pass backend=ScriptedBackend([...]) "
            "(or --script FILE on the command line)"
        )
    raise ValueError(f"unknown backend {kind!r}: use one of {', '.join(BACKENDS)}")
