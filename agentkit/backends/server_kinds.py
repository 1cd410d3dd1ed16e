"""What agentkit knows of each kind of OpenAI-compatible server: its quirks, as data.

The kind is read from `GET /v1/models` (`owned_by`); what a server is seen to do overrides
it (a server that thinks although asked not to is switched to the `/no_think` soft switch).
Backends ask the kind, never the server's name. (Usage a server does not report, llama-cpp-
python's when streaming among them, is estimated whatever the kind.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["KINDS", "UNKNOWN", "ServerKind", "Tokenizer", "kind_of"]


@dataclass(frozen=True)
class Tokenizer:
    """An endpoint that counts a prompt's tokens exactly.

    Attributes:
        path: From the server's root (not `/v1`).
        field: The request field that holds the text (`prompt` for vLLM).
        chat: Whether it also counts a chat (`{"messages": [...]}`).
    """

    path: str
    field: str = "prompt"
    chat: bool = False


@dataclass(frozen=True)
class ServerKind:
    """One kind of server and how it differs from the OpenAI API and from vLLM.

    Attributes:
        name: What it is called in messages.
        thinking_flag: It honours `chat_template_kwargs.enable_thinking`. Where it does
            not, the chat backend turns thinking off with the model card's `/no_think`.
        thinking_budget: It honours `thinking_token_budget` (the chat backend's budget).
        tokenizer: How to count a prompt's tokens exactly, if it can.
        empty_body: What an empty 200 from it means, when it is not a passing fault
            (None: a passing fault, retried). llama-cpp-python ends a stream that way when
            the request fails after the stream began.
        cut_short: Why it may end a stream (`[DONE]`) without saying why the output stopped
            (no `finish_reason`), if it is known to. Such a stream is continued like any
            broken one; this is said with the retry.
        json_schema: It constrains an answer to a JSON schema: `structured_outputs`
            `{"json": ...}` on `/v1/completions`, `response_format` on chat (what
            `structured_outputs="auto"` uses).
    """

    name: str
    thinking_flag: bool = True
    thinking_budget: bool = True
    tokenizer: Tokenizer | None = None
    empty_body: str | None = None
    cut_short: str | None = None
    json_schema: bool = False


UNKNOWN = ServerKind("an OpenAI-compatible server")

KINDS: dict[str, ServerKind] = {
    "vllm": ServerKind("vLLM", tokenizer=Tokenizer("/tokenize", "prompt", chat=True), json_schema=True),
    "me": ServerKind(  # llama-cpp-python's server lists its models as owned by "me"
        "llama-cpp-python",
        thinking_flag=False,
        thinking_budget=False,
        tokenizer=Tokenizer("/extras/tokenize/count", "input"),
        empty_body=(
            "llama-cpp-python ends a stream with an empty answer when the request fails after "
            "it began, most often a prompt longer than its n_ctx: pass --context-window N "
            "(Agent(context=N)) with the server's --n_ctx, or start it with a larger one"
        ),
        cut_short=(
            "llama-cpp-python cuts a stream short when another request arrives; start it with "
            "--interrupt_requests False to serve several runs at once"
        ),
    ),
    "llamacpp": ServerKind("llama.cpp's server"),
    "sglang": ServerKind("SGLang"),
    "library": ServerKind("Ollama"),
}
"""Server kinds by the `owned_by` of their `GET /v1/models` entries."""


def kind_of(entry: Any) -> ServerKind:
    """The kind of server that listed this model entry."""
    owner = entry.get("owned_by") if isinstance(entry, dict) else None
    return KINDS.get(owner, UNKNOWN) if isinstance(owner, str) else UNKNOWN
