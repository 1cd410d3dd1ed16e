"""Render Qwen3 prompts with agentkit's own chat templates.

One per prompt format: `template.jinja` for the hybrid Qwen3 models (thinking switched per
request), `template-instruct-2507.jinja` and `template-thinking-2507.jinja` for the 2507
releases, which have one mode each. Each renders byte for byte what the models' official
template renders.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, get_args

from agentkit.messages import AssistantMessage, Message, SystemMessage, ToolMessage, UserMessage, to_openai

__all__ = [
    "IM_END",
    "TemplateName",
    "generation_prompt",
    "render_prompt",
    "template_source",
]

IM_END = "<|im_end|>"

TemplateName = Literal["qwen3", "qwen3-instruct-2507", "qwen3-thinking-2507"]
"""The prompt formats: hybrid Qwen3, and the 2507 Instruct and Thinking releases."""

_FILES: dict[str, str] = {
    "qwen3": "template.jinja",
    "qwen3-instruct-2507": "template-instruct-2507.jinja",
    "qwen3-thinking-2507": "template-thinking-2507.jinja",
}


def _tojson(
    value: Any,
    ensure_ascii: bool = False,
    indent: int | None = None,
    separators: tuple[str, str] | None = None,
    sort_keys: bool = False,
) -> str:
    # As transformers defines it for chat templates: unlike Jinja's own tojson, it keeps
    # non-ASCII text, keeps key order and does no HTML escaping.
    return json.dumps(
        value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys
    )


def template_source(template: TemplateName = "qwen3") -> str:
    """The text of one of agentkit's chat templates (usable as a tokenizer's chat_template).

    Raises:
        ValueError: No template of that name.
    """
    if template not in _FILES:
        raise ValueError(
            f"no Qwen3 template named {template!r}: use one of {', '.join(get_args(TemplateName))}"
        )
    return Path(__file__).with_name(_FILES[template]).read_text(encoding="utf-8")


@functools.cache
def _template(template: TemplateName) -> Any:
    import jinja2  # on first render: the parser alone does not need it

    env = jinja2.Environment(
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=False, autoescape=False
    )
    env.filters["tojson"] = _tojson
    return env.from_string(template_source(template))


@functools.cache
def generation_prompt(template: TemplateName = "qwen3", enable_thinking: bool = True) -> str:
    """What a prompt in this format ends with: the assistant turn's opening and what the
    template pre-fills in it (an empty think block, or the opening of one)."""
    return render_prompt([], template=template, enable_thinking=enable_thinking)


def _as_dict(message: Message | Mapping[str, Any]) -> Mapping[str, Any]:
    if isinstance(message, Mapping):
        return message
    if isinstance(message, (SystemMessage, UserMessage, AssistantMessage, ToolMessage)):
        return to_openai(message)
    raise TypeError(f"a message must be a dict or an agentkit message, not {type(message).__name__}")


def _tool_spec(tool: Any) -> Any:
    spec = getattr(tool, "spec", None)
    return spec() if callable(spec) else tool


def render_prompt(
    messages: Sequence[Message | Mapping[str, Any]],
    tools: Iterable[Any] | None = None,
    *,
    add_generation_prompt: bool = True,
    enable_thinking: bool = True,
    template: TemplateName = "qwen3",
) -> str:
    """Render a conversation as the Qwen3 prompt text.

    Args:
        messages: OpenAI-style message dicts or agentkit messages (system, user, assistant,
            tool). Assistant reasoning comes from `reasoning_content` or a `<think>` block.
        tools: OpenAI function specs (`{"type": "function", "function": {...}}`) or objects
            with a `spec()` method, such as agentkit tools.
        add_generation_prompt: End with the opening of the assistant's turn.
        enable_thinking: When False, pre-fill an empty think block so the model answers
            without reasoning (the hybrid template only: the 2507 templates ignore it).
        template: The prompt format: "qwen3" (hybrid), "qwen3-instruct-2507" (never
            thinks) or "qwen3-thinking-2507" (the prompt opens the think block).

    Returns:
        The prompt, byte for byte what the model's official template renders.

    Raises:
        TypeError: A message is not a dict or an agentkit message, or lacks a field the
            prompt needs or has one of the wrong type (a first system message whose content
            is not text, tool-call arguments JSON cannot encode), or `tools` is not iterable.
        ValueError: Arguments or a tool spec JSON cannot encode (a circular reference),
            or no template of that name.
    """
    import jinja2  # not at module import: the parser alone does not need it

    specs = [_tool_spec(tool) for tool in tools] if tools is not None else None
    try:
        return str(
            _template(template).render(
                messages=[_as_dict(m) for m in messages],
                tools=specs,
                add_generation_prompt=add_generation_prompt,
                enable_thinking=enable_thinking,
            )
        )
    except jinja2.UndefinedError as exc:  # e.g. a system message without "content"
        raise TypeError(f"a message lacks a field the prompt needs: {exc}") from None
