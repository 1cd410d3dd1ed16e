"""The official Qwen3 chat template, rendered as transformers renders chat templates.

It is the oracle agentkit's own template is checked against: `make_goldens.py` writes golden
files from it, and the property tests compare against it directly when the reference file is
present (`../shared/reference/qwen3_chat_template.jinja` beside the project).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jinja2.sandbox import ImmutableSandboxedEnvironment

REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "reference" / "qwen3_chat_template.jinja"


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


@cache
def _template() -> Any:
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.filters["tojson"] = _tojson
    return env.from_string(REFERENCE.read_text(encoding="utf-8"))


def official_render(
    messages: list[dict[str, Any]],
    tools: list[dict[str, Any]] | None = None,
    *,
    add_generation_prompt: bool = True,
    enable_thinking: bool = True,
) -> str:
    return str(
        _template().render(
            messages=messages,
            tools=tools,
            add_generation_prompt=add_generation_prompt,
            enable_thinking=enable_thinking,
        )
    )
