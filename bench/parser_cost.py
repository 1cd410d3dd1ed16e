"""Parser cost: a 1 MB Qwen3 output fed one character at a time versus one `parse_output`.

The streaming parser must do linear total work: feeding a megabyte one character per call
should cost a constant factor more than one batch call (the per-call overhead), not grow
quadratically. The table also shows 1 KB deltas, about what a server sends per read.

    python bench/parser_cost.py
"""

from __future__ import annotations

import json
import time

from agentkit.qwen3.parser import StreamParser, parse_output


def make_output(size: int) -> str:
    """Reasoning, then answer text and tool calls, to about `size` characters."""
    reasoning = "Let me think about which tools to call and in what order. " * max(1, min(40, size // 1000))
    parts = [f"<think>\n{reasoning}\n</think>\n\n"]
    total = len(parts[0])
    i = 0
    while total < size:
        args = json.dumps(
            {"path": f"src/module_{i}.py", "pattern": "def .*\\(", "context": i % 7, "note": "ünïcödé ✓"}
        )
        piece = f'I will search file {i} next.\n<tool_call>\n{{"name": "grep", "arguments": {args}}}\n</tool_call>\n'
        parts.append(piece)
        total += len(piece)
        i += 1
    return "".join(parts)


def stream_cost(text: str, step: int) -> tuple[float, int]:
    parser = StreamParser()
    calls = 0
    start = time.process_time()
    for i in range(0, len(text), step):
        for event in parser.feed(text[i : i + step]):
            calls += type(event).__name__ == "ToolCallReady"
    for event in parser.close():
        calls += type(event).__name__ == "ToolCallReady"
    return time.process_time() - start, calls


def main() -> None:
    print("\n| output | how it is fed | calls found | CPU s | vs one parse_output |")
    print("|---|---|---|---|---|")
    for size in (250_000, 1_000_000):
        text = make_output(size)
        start = time.process_time()
        batch = parse_output(text)
        once = time.process_time() - start
        label = f"{len(text) / 1e6:.2f} MB"
        print(f"| {label} | one parse_output call | {len(batch.tool_calls)} | {once:.3f} | 1.0x |")
        for step, name in ((1024, "1 KB deltas"), (1, "1 character per feed")):
            cost, calls = stream_cost(text, step)
            assert calls == len(batch.tool_calls)
            print(f"| {label} | {name} | {calls} | {cost:.3f} | {cost / once:.1f}x |")


if __name__ == "__main__":
    main()
