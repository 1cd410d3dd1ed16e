"""Directing a random-weight model: force the exact text of a scripted Qwen3 turn.

vLLM's structured outputs (`structured_outputs.regex`) make the server generate exactly the
given text; everything after that is real (tokenization, detokenization, streaming, the
server's parsers or agentkit's). A regex fixes the bytes but not the token ids, so a
`logit_bias` on the text's canonical tokens (longer tokens weigh more) makes the model spell
`<think>`, `</think>` and `<tool_call>` as the single special ids a real Qwen3 emits, and end
on `<|im_end|>`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from agentkit.backends.base import ModelRequest

IM_END_ID = 151645


def forced(text: str, tokenizer: Any) -> dict[str, Any]:
    """Request-body fields that make vLLM generate exactly `text`, then `<|im_end|>`."""
    ids = tokenizer.encode(text, add_special_tokens=False).ids
    bias = {str(i): min(100, 5 * len(tokenizer.id_to_token(i))) for i in ids}
    bias[str(IM_END_ID)] = 50
    return {"structured_outputs": {"regex": re.escape(text)}, "logit_bias": bias}


class Script:
    """A backend `extra_body` that forces the scripted turns, one per model call, in order.

    A call the backend sends again to go on from the text it received (a broken stream
    continued) is forced to the rest of the same turn.
    """

    def __init__(self, turns: Sequence[str], tokenizer: Any) -> None:
        self.turns = list(turns)
        self.tokenizer = tokenizer
        self.requests: list[ModelRequest] = []

    def __call__(self, request: ModelRequest) -> dict[str, Any]:
        if request.continued:
            turn = self.turns[len(self.requests) - 1]
            if not turn.startswith(request.continued):
                raise AssertionError(f"the output went off the script: {request.continued!r}")
            return forced(turn[len(request.continued) :], self.tokenizer)
        if len(self.requests) >= len(self.turns):
            raise AssertionError(f"the script has {len(self.turns)} turns; a request asked for one more")
        turn = self.turns[len(self.requests)]
        self.requests.append(request)
        return forced(turn, self.tokenizer)
