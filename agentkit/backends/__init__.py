"""Ways of talking to a model: `completions` (default), `chat` and `scripted`; several
servers of one model as one backend (`replicas`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agentkit.backends.base import Backend, ModelEvent, ModelRequest, Turn

__all__ = ["BACKENDS", "Backend", "ModelEvent", "ModelRequest", "Turn", "make_backend"]

BACKENDS = ("completions", "chat", "scripted")


def make_backend(kind: str | Backend, **options: Any) -> Backend:
    """A backend from its name and options (base_url, model, api_key, transport, client).

    Several base URLs (a list) make a `ReplicaBackend`: one backend per server, each run kept
    on one of them (`set_aside`: seconds a failed server is left out; one server ignores it).
    """
    if not isinstance(kind, str):
        return kind
    set_aside = options.pop("set_aside", None)
    urls = options.get("base_url")
    if isinstance(urls, Sequence) and not isinstance(urls, str):
        if not urls:
            raise ValueError("base_url is an empty list; give one server's API root or several")
        if len(urls) == 1:
            return make_backend(kind, **{**options, "base_url": urls[0]})
        from agentkit.backends.replicas import ReplicaBackend, replica_retry

        each = {**options, "retry": replica_retry(options.get("retry"))}
        backends = [make_backend(kind, **{**each, "base_url": url}) for url in urls]
        if set_aside is None:
            return ReplicaBackend(backends, retry=options.get("retry"))
        return ReplicaBackend(backends, retry=options.get("retry"), set_aside=set_aside)
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
