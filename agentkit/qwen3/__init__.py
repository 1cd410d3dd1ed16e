"""The Qwen3 Hermes format, pure and without I/O: render prompts, parse outputs."""

from agentkit.qwen3.parser import ParsedOutput, ParserEvent, StreamParser, parse_output
from agentkit.qwen3.template import render_prompt, template_source

__all__ = [
    "ParsedOutput",
    "ParserEvent",
    "StreamParser",
    "parse_output",
    "render_prompt",
    "template_source",
]
