"""The official Qwen3 chat templates, rendered as transformers renders chat templates.

They are the oracle agentkit's own templates are checked against: `make_goldens.py` writes
golden files from them, and the property tests compare against them directly when the
reference file is present (`shared/reference/qwen3_chat_template.jinja` in a directory above
the project, as `../shared` beside a checkout or `../../shared` beside a worktree).

The 2507 releases' official templates are the hybrid one with its last block, the generation
prompt, replaced; everything before it is the same text. Instruct-2507 opens the bare assistant
turn and reads no `enable_thinking`; Thinking-2507 opens `<think>` and a newline. No copy of
those two files can be fetched here (no network but package registries), so they are built from
the hybrid file. Evidence that this is their exact text: the Thinking-2507 template built so is
4,049 characters, the length a published byte-exact check (marin-community, Levanter SFT of
Qwen3-30B-A3B-Thinking-2507) gives for the model's `tokenizer.chat_template`; copies of both
2507 templates in mlx-community's and unsloth's repositories have the hybrid body; an
mlx-community Qwen3-4B-Instruct-2507 `chat_template.jinja` still has the hybrid's
`loop.last or (not loop.last and reasoning_content)` test; and llama.cpp-based tests render
Instruct-2507's generation prompt as the bare `<|im_start|>assistant\\n`.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jinja2.sandbox import ImmutableSandboxedEnvironment

_NAME = Path("shared") / "reference" / "qwen3_chat_template.jinja"
REFERENCE = next(
    (parent / _NAME for parent in Path(__file__).resolve().parents if (parent / _NAME).is_file()),
    Path(__file__).resolve().parents[3] / _NAME,
)

_GENERATION = "{%- if add_generation_prompt %}"
_TAILS = {
    "qwen3-instruct-2507": _GENERATION + "\n    {{- '<|im_start|>assistant\\n' }}\n{%- endif %}",
    "qwen3-thinking-2507": _GENERATION + "\n    {{- '<|im_start|>assistant\\n<think>\\n' }}\n{%- endif %}",
}
THINKING_2507_LENGTH = 4049
"""The published length of Qwen3-30B-A3B-Thinking-2507's `tokenizer.chat_template`."""


def _tojson(
    value: Any,
    ensure_ascii: bool = False,
    indent: Any = None,
    separators: Any = None,
    sort_keys: bool = False,
) -> str:
    return json.dumps(
        value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys
    )


def available() -> bool:
    return REFERENCE.is_file()


def official_source(template: str = "qwen3") -> str:
    """The official template text of a prompt format (see the module docstring for 2507)."""
    hybrid = REFERENCE.read_text(encoding="utf-8")
    if template == "qwen3":
        return hybrid
    return hybrid[: hybrid.rindex(_GENERATION)] + _TAILS[template]


@cache
def _template(template: str) -> Any:
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.filters["tojson"] = _tojson
    return env.from_string(official_source(template))


def official_render(
    messages: list[dict[str, Any]],
    tools: list[dict[str, Any]] | None = None,
    *,
    add_generation_prompt: bool = True,
    enable_thinking: bool = True,
    template: str = "qwen3",
) -> str:
    return str(
        _template(template).render(
            messages=messages,
            tools=tools,
            add_generation_prompt=add_generation_prompt,
            enable_thinking=enable_thinking,
        )
    )
