"""agentkit against its peers: the same 10-step tool loop, each framework in its own process.

Frameworks (bench/peers/adapters.py): agentkit (completions and chat backends), the OpenAI
Agents SDK, PydanticAI, smolagents, Qwen-Agent, and two floors: the `openai` SDK alone (the
loop by hand) and a bare aiohttp client (sends ready bodies, reads the bytes). Every
measurement starts a fresh runner process (bench/peers/runner.py) per framework, against a
stub server in its own process (bench/stub_server.py), with the frameworks' order reversed
every other round. Each section prints a markdown table (medians over the rounds, with the
rounds' range) and writes a plot to bench/results/.

- steps: CPU and wall milliseconds per model call, runs one after another, streamed and not.
- load: 64, 256 and 1024 runs at once against a server of 50 ms per call and no slot limit:
  model calls a second against the ideal (runs at once / latency), run time p50/p99 and the
  client's peak RSS.
- startup: a fresh interpreter's time to import the framework, and its CLI's `--help`.

Needs the peers' environment (bench/peers/setup.sh):

    bash bench/peers/setup.sh
    bench/peers/.venv/bin/python bench/peers/compare.py                # everything, 3 rounds
    bench/peers/.venv/bin/python bench/peers/compare.py steps --rounds 5 --frameworks "agentkit chat" "floor: bare aiohttp"
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).parents[2]
sys.path.insert(0, str(ROOT))
from bench.batch_scaling import cpu_seconds  # noqa: E402
from bench.peers.adapters import FRAMEWORKS, STEPS  # noqa: E402
from bench.step_overhead import free_port, wait_for_port  # noqa: E402

RESULTS = ROOT / "bench" / "results"
RUNNER = Path(__file__).with_name("runner.py")
STUB = ROOT / "bench" / "stub_server.py"
PACKAGES = ("openai-agents", "pydantic-ai-slim", "smolagents", "qwen-agent", "openai", "aiohttp", "httpx")
RUNNER_TIMEOUT = 600.0  # seconds a runner may take before it is stopped and its row marked


@contextlib.contextmanager
def stub_server(token_delay: float, latency: float = 0.0, slots: int = 0) -> Iterator[tuple[str, int]]:
    """The stub server in its own process: its base URL and pid."""
    port = free_port()
    command = [sys.executable, str(STUB), "--port", str(port), "--calls", str(STEPS - 1)]
    command += ["--token-delay", str(token_delay), "--latency", str(latency), "--slots", str(slots)]
    server = subprocess.Popen(command, stderr=subprocess.DEVNULL)  # clients leave mid-stream on purpose
    try:
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}/v1", server.pid
    finally:
        server.terminate()
        server.wait(10)


def runner(framework: str, base_url: str, args: Sequence[str], stream: bool = True) -> dict[str, Any]:
    """One runner process's measurement (its last line of output, JSON)."""
    command = [sys.executable, str(RUNNER), framework, "--base-url", base_url]
    command += [] if stream else ["--no-stream"]
    try:
        done = subprocess.run(
            [*command, *args], capture_output=True, text=True, timeout=RUNNER_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired:
        return {"failed": f"no result in {RUNNER_TIMEOUT:g} s"}
    lines = done.stdout.strip().splitlines()
    if done.returncode < 0:
        return {"failed": f"stopped by signal {-done.returncode}"}
    if done.returncode or not lines:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"failed": last if len(last) < 160 else last[:157] + "..."}
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def orders(frameworks: list[str], rounds: int) -> Iterator[tuple[int, list[str]]]:
    """Each round's order: as given, then reversed, and so on."""
    for r in range(rounds):
        yield r, frameworks if r % 2 == 0 else frameworks[::-1]


def summary(values: list[float]) -> tuple[float, float, float]:
    """Median, lowest and highest."""
    return statistics.median(values), min(values), max(values)


def cell(values: list[float], digits: int = 2) -> str:
    """`median (low-high)`, or the median alone for one value."""
    if not values:
        return "—"
    mid, low, high = summary(values)
    if len(values) == 1:
        return f"{mid:.{digits}f}"
    return f"{mid:.{digits}f} ({low:.{digits}f}-{high:.{digits}f})"


def note_of(results: list[dict[str, Any]]) -> str | None:
    """Why a row has no number: the framework cannot, or its runner failed."""
    for result in results:
        if "unsupported" in result:
            return f"n/a: {result['unsupported']}"
        if "failed" in result:
            return f"failed: {result['failed']}"
    return None


def pyplot() -> Any:
    """matplotlib's pyplot, drawing to files only (the peers' environment has matplotlib)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(fig: Any, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    pyplot().close(fig)


# --- steps -------------------------------------------------------------------------------


def measure_steps(frameworks: list[str], rounds: int, runs: int, token_delay: float) -> dict[str, Any]:
    """Per framework and stream mode: each round's median CPU and wall ms per model call."""
    table: dict[str, dict[str, list[dict[str, Any]]]] = {f: {"stream": [], "whole": []} for f in frameworks}
    with stub_server(token_delay) as (base_url, _):
        for r, order in orders(frameworks, rounds):
            for name in order:
                for mode in ("stream", "whole"):
                    result = runner(name, base_url, ["steps", "--runs", str(runs)], stream=mode == "stream")
                    table[name][mode].append(result)
                    shown = (
                        f"{statistics.median(result['cpu_ms']):.2f} ms CPU" if "cpu_ms" in result else result
                    )
                    print(f"  round {r + 1} {name} {mode}: {shown}", file=sys.stderr, flush=True)
    return table


def steps_table(table: dict[str, Any]) -> str:
    floor = [
        statistics.median(r["cpu_ms"])
        for r in table.get("floor: bare aiohttp", {}).get("stream", [])
        if "cpu_ms" in r
    ]
    lines = [
        "| framework | CPU ms/call, streamed | CPU ms/call, whole answers | wall ms/call, streamed "
        "| wall ms/call, whole answers | CPU x bare aiohttp (streamed) |",
        "|---|---|---|---|---|---|",
    ]
    for name, modes in table.items():
        row = [name]
        for key in ("cpu_ms", "wall_ms"):
            for mode in ("stream", "whole"):
                note = note_of(modes[mode])
                row.append(note or cell([statistics.median(r[key]) for r in modes[mode]]))
        cpu = [statistics.median(r["cpu_ms"]) for r in modes["stream"] if "cpu_ms" in r]
        row.append(f"{statistics.median(cpu) / statistics.median(floor):.1f}x" if cpu and floor else "—")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def steps_plot(table: dict[str, Any], path: Path) -> None:
    plt = pyplot()
    names = list(table)
    fig, ax = plt.subplots(figsize=(8, 0.5 * len(names) + 1.5))
    labelled: set[str] = set()
    for i, (mode, color) in enumerate((("stream", "tab:blue"), ("whole", "tab:orange"))):
        for j, name in enumerate(names):
            values = [statistics.median(r["cpu_ms"]) for r in table[name][mode] if "cpu_ms" in r]
            if not values:
                continue
            mid, low, high = summary(values)
            y = j + (i - 0.5) * 0.38
            label = {"stream": "streamed", "whole": "whole answers"}[mode]
            ax.barh(y, mid, height=0.36, color=color, label=None if label in labelled else label)
            labelled.add(label)
            ax.errorbar(mid, y, xerr=[[mid - low], [high - mid]], color="black", capsize=2, lw=0.8)
            ax.text(mid * 1.08, y, f"{mid:.2f}", va="center", fontsize=7)
    ax.set_yticks(range(len(names)), names)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("client CPU ms per model call (log scale; bars: median of rounds, whiskers: range)")
    ax.set_title("10-step tool loop against a local stub server")
    ax.legend(loc="lower right", fontsize=8)
    save(fig, path)


# --- load --------------------------------------------------------------------------------


def measure_load(
    frameworks: list[str], rounds: int, levels: list[int], latency: float, warmup: float, window: float
) -> dict[str, Any]:
    """Per concurrency level and framework: each round's load measurement, with the stub's CPU."""
    table: dict[str, dict[str, list[dict[str, Any]]]] = {str(c): {f: [] for f in frameworks} for c in levels}
    with stub_server(0.0, latency, slots=max(levels) * 4) as (base_url, pid):
        for concurrency in levels:
            for r, order in orders(frameworks, rounds):
                for name in order:
                    args = ["load", "--concurrency", str(concurrency), "--warmup", str(warmup)]
                    before = cpu_seconds(pid)
                    result = runner(name, base_url, [*args, "--window", str(window)])
                    calls = result.get("calls_per_s", 0) * window
                    if calls:
                        # the stub's CPU per call, over warm-up and window: a rough share, for scale
                        result["stub_cpu_ms_per_call"] = (cpu_seconds(pid) - before) / calls * 1000
                    table[str(concurrency)][name].append(result)
                    shown = f"{result['calls_per_s']:.0f} calls/s" if "calls_per_s" in result else result
                    print(
                        f"  {concurrency} at once, round {r + 1} {name}: {shown}", file=sys.stderr, flush=True
                    )
    return table


def load_table(table: dict[str, Any], latency: float) -> str:
    lines = [
        "| runs at once | framework | calls/s | % of ideal | run time p50 s | run time p99 s "
        "| runs finished | client CPU ms/call | peak RSS MB |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for level, rows in table.items():
        ideal = int(level) / latency
        for name, results in rows.items():
            note = note_of(results)
            if note:
                lines.append(f"| {level} | {name} | {note} | | | | | | |")
                continue
            rate = [r["calls_per_s"] for r in results]
            share = [x / ideal * 100 for x in rate]
            p50 = [r["run_p50_s"] for r in results if r["runs"]]
            p99 = [r["run_p99_s"] for r in results if r["runs"]]
            finished = [float(r["runs"]) for r in results]
            cpu = [r["cpu_ms_per_call"] for r in results]
            rss = [r["peak_rss_mb"] for r in results]
            row = [level, name, cell(rate, 0), cell(share, 1), cell(p50), cell(p99), cell(finished, 0)]
            row += [cell(cpu), cell(rss, 0)]
            lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def load_plot(table: dict[str, Any], latency: float, path: Path) -> None:
    plt = pyplot()
    levels = [int(c) for c in table]
    names = list(next(iter(table.values())))
    fig, (share_ax, rss_ax) = plt.subplots(1, 2, figsize=(11, 4.5))
    for name in names:
        shares, rss, xs = [], [], []
        for level in levels:
            results = [r for r in table[str(level)][name] if "calls_per_s" in r]
            if not results:
                continue
            xs.append(level)
            shares.append(statistics.median(r["calls_per_s"] / (level / latency) * 100 for r in results))
            rss.append(statistics.median(r["peak_rss_mb"] for r in results))
        share_ax.plot(xs, shares, marker="o", label=name)
        rss_ax.plot(xs, rss, marker="o", label=name)
    for ax in (share_ax, rss_ax):
        ax.set_xscale("log", base=2)
        ax.set_xticks(levels, [str(c) for c in levels])
        ax.set_xlabel("runs at once")
        ax.grid(alpha=0.3)
    share_ax.set_yscale("log")
    share_ax.set_ylabel("% of ideal throughput (runs at once / latency)")
    share_ax.set_title(f"Model calls a second, {latency * 1000:g} ms per call")
    rss_ax.set_ylabel("client peak RSS (MB)")
    rss_ax.set_title("Client memory")
    rss_ax.legend(fontsize=7)
    save(fig, path)


# --- start-up ----------------------------------------------------------------------------


def import_ms(statement: str) -> float:
    """A fresh interpreter's milliseconds to run the import statement."""
    code = f"import time; t = time.perf_counter(); {statement}; print((time.perf_counter() - t) * 1000)"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    return float(done.stdout.strip().splitlines()[-1])


def help_ms(cli: str) -> float:
    """Wall milliseconds of `CLI --help`, from start to exit."""
    command = [str(Path(sys.executable).with_name(cli)), "--help"]
    start = time.perf_counter()
    subprocess.run(command, capture_output=True, timeout=120, check=True)
    return (time.perf_counter() - start) * 1000


def measure_startup(frameworks: list[str], rounds: int) -> dict[str, Any]:
    table: dict[str, dict[str, list[float]]] = {f: {"import": [], "help": []} for f in frameworks}
    for _, order in orders(frameworks, rounds):
        for name in order:
            framework = FRAMEWORKS[name]
            table[name]["import"].append(import_ms(framework.imports))
            if framework.cli:
                table[name]["help"].append(help_ms(framework.cli))
    return table


def startup_table(table: dict[str, Any]) -> str:
    lines = ["| framework | import | import ms | CLI | `--help` ms |", "|---|---|---|---|---|"]
    for name, times in table.items():
        framework = FRAMEWORKS[name]
        cli = f"`{framework.cli} --help`" if framework.cli else "no CLI"
        helped = cell(times["help"], 0) if times["help"] else "—"
        lines.append(f"| {name} | `{framework.imports}` | {cell(times['import'], 0)} | {cli} | {helped} |")
    return "\n".join(lines)


def startup_plot(table: dict[str, Any], path: Path) -> None:
    plt = pyplot()
    names = list(table)
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(names) + 1.5))
    for j, name in enumerate(names):
        for i, (key, color, label) in enumerate(
            (("import", "tab:blue", "import"), ("help", "tab:green", "CLI --help"))
        ):
            if table[name][key]:
                mid = statistics.median(table[name][key])
                ax.barh(j + (i - 0.5) * 0.38, mid, height=0.36, color=color, label=label if j == 0 else None)
                ax.text(mid + 10, j + (i - 0.5) * 0.38, f"{mid:.0f}", va="center", fontsize=7)
    ax.set_yticks(range(len(names)), names)
    ax.invert_yaxis()
    ax.set_xlabel("milliseconds (median of rounds)")
    ax.set_title("Start-up: import in a fresh interpreter, and the CLI's --help")
    ax.legend(loc="lower right", fontsize=8)
    save(fig, path)


# --- the run -----------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    versions = {}
    for package in PACKAGES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[package] = metadata.version(package)
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": model,
        "cores": os.cpu_count(),
        "load_average": os.getloadavg(),
        "python": platform.python_version(),
        "agentkit_commit": commit,
        "versions": versions,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "sections", nargs="*", default=["steps", "load", "startup"], help="steps, load, startup"
    )
    parser.add_argument("--frameworks", nargs="+", default=list(FRAMEWORKS), choices=list(FRAMEWORKS))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--runs", type=int, default=20, help="steps: runs per process, after 3 of warm-up")
    parser.add_argument("--token-delay", type=float, default=0.0, help="steps: seconds between events")
    parser.add_argument(
        "--concurrency", type=int, nargs="+", default=[64, 256, 1024], help="load: runs at once"
    )
    parser.add_argument("--latency", type=float, default=0.05, help="load: seconds per model call")
    parser.add_argument("--warmup", type=float, default=3.0, help="load: seconds before the window")
    parser.add_argument("--window", type=float, default=10.0, help="load: seconds measured")
    parser.add_argument("--out", default="peers", help="stem of the files written to bench/results/")
    args = parser.parse_args()
    unknown = set(args.sections) - {"steps", "load", "startup"}
    if unknown:
        parser.error(f"unknown sections {sorted(unknown)}: choose from steps, load, startup")
    RESULTS.mkdir(exist_ok=True)
    about = machine()
    print(f"\n{about['date']}: {about['cpu']}, {about['cores']} cores, Python {about['python']}")
    print(
        f"agentkit {about['agentkit_commit']}; " + ", ".join(f"{k} {v}" for k, v in about["versions"].items())
    )
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in about['load_average'])}")
    record: dict[str, Any] = {"machine": about, "arguments": vars(args)}
    if "steps" in args.sections:
        table = measure_steps(args.frameworks, args.rounds, args.runs, args.token_delay)
        record["steps"] = table
        print(
            f"\nClient CPU and wall ms per model call: 10-step tool loop, {args.runs} runs per process, "
            f"median of {args.rounds} rounds (range); stub events {args.token_delay * 1000:g} ms apart\n"
        )
        print(steps_table(table))
        steps_plot(table, RESULTS / f"{args.out}_steps.png")
    if "load" in args.sections:
        table = measure_load(
            args.frameworks, args.rounds, args.concurrency, args.latency, args.warmup, args.window
        )
        record["load"] = table
        print(
            f"\nRuns at once against a stub of {args.latency * 1000:g} ms per model call (no slot limit): "
            f"ideal = runs at once / latency calls/s; {args.window:g} s window after {args.warmup:g} s, "
            f"median of {args.rounds} rounds (range)\n"
        )
        print(load_table(table, args.latency))
        load_plot(table, args.latency, RESULTS / f"{args.out}_load.png")
    if "startup" in args.sections:
        # one row per framework: agentkit's two backends import the same and share a CLI
        once = list({FRAMEWORKS[f].imports: f for f in reversed(args.frameworks)}.values())[::-1]
        table = measure_startup(once, args.rounds)
        record["startup"] = table
        print(f"\nStart-up, fresh process each time, median of {args.rounds} rounds (range)\n")
        print(startup_table(table))
        startup_plot(table, RESULTS / f"{args.out}_startup.png")
    record["machine"]["load_average_end"] = os.getloadavg()
    path = RESULTS / f"{args.out}.json"
    path.write_text(json.dumps(record, indent=1) + "\n")
    print(f"\nload average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; raw numbers in {path}")


if __name__ == "__main__":
    main()
