"""The `agentkit` command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from agentkit.cli import app

runner = CliRunner()

TOOLS = '''
from agentkit import tool

@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b
'''

SCRIPT = [
    "<think>\nAdd them.\n</think>\n\n"
    '<tool_call>\n{"name": "add", "arguments": {"a": 2, "b": 40}}\n</tool_call>',
    "The answer is 42.",
]


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    tools = tmp_path / "mytools.py"
    tools.write_text(TOOLS)
    script = tmp_path / "script.json"
    script.write_text(json.dumps(SCRIPT))
    return tools, script


def test_scripted_run_prints_thinking_calls_and_answer(files: tuple[Path, Path]) -> None:
    tools, script = files
    result = runner.invoke(
        app, ["run", "What is 2+40?", "--backend", "scripted", "--script", str(script), "--tools", str(tools)]
    )
    assert result.exit_code == 0, result.output
    assert "The answer is 42." in result.stdout
    assert "Add them." in result.stderr
    assert "→ add" in result.stderr and '{"a": 2, "b": 40}' in result.stderr
    assert "← add" in result.stderr and " 42" in result.stderr
    assert "step 2 · no thinking" in result.stderr


def test_json_mode_prints_one_event_per_line(files: tuple[Path, Path]) -> None:
    tools, script = files
    result = runner.invoke(
        app, ["run", "x", "--backend", "scripted", "--script", str(script), "--tools", str(tools), "--json"]
    )
    assert result.exit_code == 0
    events = [json.loads(line) for line in result.stdout.splitlines()]
    kinds = [e["type"] for e in events]
    assert kinds[0] == "run_started" and kinds[-1] == "run_finished"
    assert "tool_call_started" in kinds and "tool_call_finished" in kinds
    assert events[-1]["output"] == "The answer is 42."
    assert events[-1]["decisions"][0] == {
        "step": 1,
        "think": True,
        "reason": "auto: first step of the user turn",
    }


def test_max_steps_exits_non_zero_with_one_line(files: tuple[Path, Path], tmp_path: Path) -> None:
    tools, _ = files
    looping = tmp_path / "loop.json"
    looping.write_text(json.dumps([SCRIPT[0]] * 3))
    result = runner.invoke(
        app,
        [
            "run",
            "x",
            "--backend",
            "scripted",
            "--script",
            str(looping),
            "--tools",
            str(tools),
            "--max-steps",
            "2",
        ],
    )
    assert result.exit_code == 3  # the step limit's own code
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("agentkit: stopped after 2 steps without an answer. If the model was getting")
    assert "agentkit runs resume " in last and "--max-steps 12" in last


def test_tools_file_without_tools_is_a_config_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty.py"
    empty.write_text("x = 1\n")
    result = runner.invoke(app, ["run", "x", "--tools", str(empty)])
    assert result.exit_code == 2
    assert "defines no tools; decorate functions with @agentkit.tool" in result.stderr


def test_scripted_backend_needs_a_script() -> None:
    result = runner.invoke(app, ["run", "x", "--backend", "scripted"])
    assert result.exit_code == 2
    assert "--backend scripted needs --script FILE" in result.stderr


def _commands() -> list[list[str]]:
    """Every command and group of the CLI, as the words that reach it."""
    import typer.main

    found: list[list[str]] = []

    def walk(command: object, path: list[str]) -> None:
        found.append(path)
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            walk(sub, [*path, name])

    walk(typer.main.get_command(app), [])
    return found


def _command(words: list[str]) -> Any:
    import typer.main

    command: Any = typer.main.get_command(app)
    for word in words:
        command = command.commands[word]
    return command


@pytest.mark.parametrize("command", _commands(), ids=lambda words: " ".join(words) or "agentkit")
def test_help_on_every_command_reads_at_80_columns(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "80", "NO_COLOR": "1"})
    assert result.exit_code == 0
    assert "Usage" in result.stdout
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    for placeholder in ("<bool>", "<str>", "<int", "<float", "<path>", "<list[", "range>", "[x>"):
        assert placeholder not in result.stdout, f"{placeholder} in the help of {command}"
    words = set(result.stdout.replace("│", " ").split())
    for param in _command(command).params:  # every option's names and variable shown whole
        envvar = getattr(param, "envvar", None)
        for name in [*param.opts, *param.secondary_opts, *([envvar] if isinstance(envvar, str) else [])]:
            if name.startswith("-") or name == envvar:
                assert name in words or f"{name}]" in words, f"{name} is cut in the help of {command}"


def test_run_help_groups_its_options_in_panels_with_defaults_and_variables_whole() -> None:
    text = runner.invoke(app, ["run", "--help"], env={"COLUMNS": "80", "NO_COLOR": "1"}).stdout
    for panel in ("Model", "Serving (with --serve)", "Thinking and sampling", "Tools", "MCP",
                  "Limits and faults", "Output and runs"):  # fmt: skip
        assert f"─ {panel}" in text
    for whole in ("[default: http://127.0.0.1:8000/v1]", "[env var: AGENTKIT_BASE_URL]",
                  "[env var: AGENTKIT_API_KEY]", "[default: 20]", "auto|on|off"):  # fmt: skip
        assert whole in text


def test_console_script_against_an_unreachable_server(unused_port: int) -> None:
    env = {**os.environ, "NO_COLOR": "1"}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "agentkit.cli",
            "run",
            "hi",
            "--base-url",
            f"http://127.0.0.1:{unused_port}/v1",
            "--model",
            "Qwen/Qwen3-8B",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 9  # a server failure's own code
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith(
        f"agentkit: no model server answers at http://127.0.0.1:{unused_port}/v1 (connection refused)."
    )
    assert f"vllm serve Qwen/Qwen3-8B --host 127.0.0.1 --port {unused_port} --enable-auto-tool-choice" in last
    assert " · transcript: " in last and " · resume: agentkit runs resume " in last


def test_the_readme_offline_example_runs() -> None:
    root = Path(__file__).resolve().parents[1]
    result = runner.invoke(
        app,
        [
            "run",
            "What is 17 * 23?",
            "--backend",
            "scripted",
            "--script",
            str(root / "examples/scripts/multiply.json"),
            "--tools",
            str(root / "tools/calculator.py"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "391" in result.stdout
    assert "← multiply" in result.stderr and "391.0" in result.stderr


def test_the_drop_in_tool_modules_load_and_run(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[1]
    script = tmp_path / "script.json"
    turns = [
        '<tool_call>\n{"name": "days_between", "arguments": {"start": "2026-11-02", "end": "2026-11-09", '
        '"count": "weekdays"}}\n</tool_call>\n'
        '<tool_call>\n{"name": "countdown", "arguments": {"seconds": 1}}\n</tool_call>\n'
        '<tool_call>\n{"name": "sqrt", "arguments": {"x": -1}}\n</tool_call>',
        "Five weekdays.",
    ]
    script.write_text(json.dumps(turns))
    result = runner.invoke(
        app,
        ["run", "x", "--backend", "scripted", "--script", str(script), "--runs-dir", str(tmp_path),
         "--tools", str(root / "tools/calendar_tools.py"), "--tools", str(root / "tools/calculator.py")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "← days_between" in result.stderr and " 5" in result.stderr
    assert "… countdown 1/1 0 s left" in result.stderr and "1 s are up" in result.stderr
    assert "✗ sqrt" in result.stderr and "x must be 0 or more" in result.stderr


def test_the_quickstart_example_runs_offline() -> None:
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run(
        [sys.executable, str(root / "examples" / "quickstart.py"), "--offline"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "→ get_weather({'city': 'Paris'})" in proc.stdout and "← 22°C, clear" in proc.stdout
    assert proc.stdout.strip().endswith("Paris: 14°C with light rain. Tokyo: 22°C and clear.")


@pytest.mark.parametrize("command", ["run", "chat", "batch"])
def test_sampling_flags_reach_every_request_over_each_modes_preset(tmp_path: Path, command: str) -> None:
    from .fault_server import FaultServer

    tools = tmp_path / "steptools.py"
    tools.write_text(
        "from agentkit import tool\n\n@tool\ndef step(n: int) -> str:\n"
        '    """Do step n."""\n    return f"did {n}"\n'
    )
    flags = ["--temperature", "0.3", "--top-k", "5", "--min-p", "0.05", "--presence-penalty", "1.5"]
    flags += ["--repetition-penalty", "1.1", "--seed", "7"]
    with FaultServer(calls=1, tool="step").in_thread() as server:
        how = {
            "run": (["run", "Do one step."], None),
            "chat": (["chat"], "Do one step.\n"),  # piped: one message a line
            "batch": (["batch", str(tmp_path / "tasks.jsonl"), "-o", str(tmp_path / "out.jsonl")], None),
        }
        (tmp_path / "tasks.jsonl").write_text('"Do one step."\n')
        words, typed = how[command]
        done = runner.invoke(
            app,
            [*words, "--base-url", server.base_url, "--tools", str(tools),
             "--runs-dir", str(tmp_path / "runs"), *flags],
            input=typed,
        )  # fmt: skip
        bodies = server.bodies("/completions")
    assert done.exit_code == 0, done.output
    assert len(bodies) == 2  # the first step thinks (auto), the one after the tool result does not
    for body, top_p in zip(bodies, (0.95, 0.8), strict=True):  # what no flag set keeps its mode's preset
        assert body["temperature"] == 0.3 and body["top_k"] == 5 and body["min_p"] == 0.05
        assert body["presence_penalty"] == 1.5 and body["repetition_penalty"] == 1.1 and body["seed"] == 7
        assert body["top_p"] == top_p


@pytest.mark.parametrize(
    ("flag", "value", "says"),
    [
        ("--top-p", "1.5", "'--top-p': Input should be less than or equal to 1"),
        ("--temperature", "-1", "'--temperature': Input should be greater than or equal to 0"),
        ("--top-k", "-2", "'--top-k': Input should be greater than or equal to -1"),
    ],
)
def test_a_sampling_value_out_of_range_is_refused_naming_the_flag(flag: str, value: str, says: str) -> None:
    done = runner.invoke(app, ["run", "hi", "--backend", "scripted", "--script", "x.json", flag, value])
    assert done.exit_code == 2
    assert says in " ".join(done.output.replace("│", " ").split())  # unwrapped from its box


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_the_version_flag_prints_the_version(flag: str) -> None:
    from agentkit import __version__

    done = runner.invoke(app, [flag])
    assert done.exit_code == 0 and done.output.strip() == f"agentkit {__version__}"


def test_shell_completion_is_offered_for_bash() -> None:
    done = subprocess.run(
        [str(Path(sys.executable).parent / "agentkit"), "--show-completion", "bash"],  # the console script
        capture_output=True, text=True, timeout=60, env={**os.environ, "SHELL": "/bin/bash"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "_agentkit_completion()" in done.stdout and "complete " in done.stdout


def test_run_serve_hands_the_serving_options_to_the_server(
    monkeypatch: pytest.MonkeyPatch, unused_port: int
) -> None:
    import agentkit.serving as serving

    configs: list[serving.ServeConfig] = []

    class Recorded:
        def __init__(self, config: serving.ServeConfig) -> None:
            configs.append(config)
            self.model = config.model

        def start(self, progress: object = None) -> None:
            raise serving.ServeError("not starting vLLM in a unit test")

    monkeypatch.setattr(serving, "ManagedServer", Recorded)
    result = runner.invoke(
        app,
        ["run", "hi", "--serve", "--base-url", f"http://127.0.0.1:{unused_port}/v1",
         "--model", "Qwen/Qwen3-8B", "--context-window", "65536", "--quantization", "awq",
         "--lora", "sql=/adapters/sql",
         "--tensor-parallel-size", "2", "--data-parallel-size", "3", "--serve-arg=--enforce-eager"],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "not starting vLLM in a unit test" in result.stderr
    [config] = configs
    assert (config.model, config.port, config.context, config.quantization) == (
        "Qwen/Qwen3-8B", unused_port, 65536, "awq"
    )  # fmt: skip
    assert config.lora == {"sql": "/adapters/sql"}
    assert (config.tensor_parallel_size, config.data_parallel_size) == (2, 3)
    assert config.extra_args == ("--enforce-eager",)


def test_run_serve_refuses_a_lora_without_its_path(unused_port: int) -> None:
    result = runner.invoke(
        app, ["run", "hi", "--serve", "--base-url", f"http://127.0.0.1:{unused_port}/v1", "--lora", "sql"]
    )
    assert result.exit_code == 2
    assert "--lora sql: give it as NAME=PATH" in result.stderr


ANSWER_MD = "# Totals\n\nThe sum is **42**.\n\n- first `item`\n- second item\n"


def _render(text_chunks: list[str], *, terminal: bool) -> str:
    import io

    from rich.console import Console

    from agentkit.cli import _Renderer
    from agentkit.events import StepFinished, TextDelta, TurnFinished
    from agentkit.messages import AssistantMessage, Usage

    out = io.StringIO()
    console = Console(file=out, force_terminal=terminal, width=60, color_system=None, emoji=False)
    render = _Renderer(console, Console(file=io.StringIO()), show_thinking=True)
    for chunk in text_chunks:
        render(TextDelta(1, chunk))
    message = AssistantMessage("".join(text_chunks))
    render(TurnFinished(1, message, (), Usage(), "stop"))
    render(StepFinished(1, message, Usage(), "stop", 0.1))
    return out.getvalue()


def _screen(output: str) -> list[str]:
    """The lines a terminal shows after `output`: text, newlines, carriage returns, cursor up
    and erase line (what rich's live display writes); other escape codes are ignored."""
    import re

    lines, row, col = [""], 0, 0
    for token in re.findall(r"\x1b\[[0-9;?]*[A-Za-z]|\r|\n|[^\x1b\r\n]+", output):
        if token == "\n":
            row, col = row + 1, 0
            lines += [""] * (row + 1 - len(lines))
        elif token == "\r":
            col = 0
        elif token == "\x1b[1A":
            row = max(0, row - 1)
        elif token == "\x1b[2K":
            lines[row] = ""
        elif not token.startswith("\x1b"):
            line = lines[row].ljust(col)
            lines[row] = line[:col] + token + line[col + len(token) :]
            col += len(token)
    return [line.rstrip() for line in lines]


def test_an_answer_is_rendered_as_markdown_in_a_terminal() -> None:
    shown = _render([ANSWER_MD[i : i + 5] for i in range(0, len(ANSWER_MD), 5)], terminal=True)
    screen = [line for line in _screen(shown) if line.strip()]
    assert [line.strip() for line in screen] == ["Totals", "The sum is 42.", "• first item", "• second item"]
    whole = _screen(_render([ANSWER_MD], terminal=True))  # drawn at once: the same lines and gaps
    assert _screen(shown) == whole


def test_a_long_answer_prints_its_finished_blocks_once_and_redraws_only_the_last() -> None:
    paragraphs = [f"Paragraph {n} says **{n}**." for n in range(40)]
    text = "\n\n".join(paragraphs) + "\n\n```\ncode\n\nmore code\n```\n"
    shown = _render([text[i : i + 7] for i in range(0, len(text), 7)], terminal=True)
    screen = [line.strip() for line in _screen(shown) if line.strip()]
    assert screen[:40] == [f"Paragraph {n} says {n}." for n in range(40)]
    assert "code" in screen[40] and "more code" in screen[-1]  # the fence kept whole, blank line and all
    assert shown.count("\x1b[1A") < 60  # blocks printed for good are not redrawn


def test_an_answer_piped_is_the_markdown_text_as_written() -> None:
    assert _render([ANSWER_MD[:9], ANSWER_MD[9:]], terminal=False) == ANSWER_MD + "\n"


def test_asking_a_2507_model_for_the_mode_it_lacks_prints_a_note(tmp_path: Path) -> None:
    script = tmp_path / "script.json"
    script.write_text(json.dumps(["Four."]))
    model = ["--model", "Qwen/Qwen3-4B-Instruct-2507", "--think", "on"]
    scripted = ["--backend", "scripted", "--script", str(script), "--runs-dir", str(tmp_path)]
    result = runner.invoke(app, ["run", "2 + 2?", *scripted, *model])
    assert result.exit_code == 0, result.output
    assert "note: Qwen/Qwen3-4B-Instruct-2507 has no thinking mode: thinking 'on' is ignored" in result.stderr
    assert "ThinkingModeWarning" not in result.stderr and "Four." in result.stdout


def test_no_model_server_is_found_before_the_mcp_servers_start(tmp_path: Path, unused_port: int) -> None:
    import time

    never_ready = tmp_path / "never_ready.py"
    started = tmp_path / "started"
    never_ready.write_text(f"import pathlib, time\npathlib.Path({str(started)!r}).touch()\ntime.sleep(60)\n")
    config = tmp_path / "mcp.json"
    config.write_text(
        json.dumps({"mcpServers": {"slow": {"command": sys.executable, "args": [str(never_ready)]}}})
    )
    began = time.monotonic()
    result = runner.invoke(
        app,
        ["run", "hi", "--base-url", f"http://127.0.0.1:{unused_port}/v1", "--mcp-config", str(config),
         "--runs-dir", str(tmp_path / "runs")],
    )  # fmt: skip
    took = time.monotonic() - began
    assert result.exit_code in (2, 9), result.output
    assert f"no model server answers at http://127.0.0.1:{unused_port}/v1" in result.stderr
    assert took < 5 and not started.exists()  # the MCP server was never started


def test_mcp_commands_take_the_default_config_and_say_how_to_give_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    none = runner.invoke(app, ["mcp", "list"])  # the tests' conftest sets AGENTKIT_MCP_CONFIG empty
    assert none.exit_code == 2
    said = " ".join(none.stderr.split())
    assert "no MCP config was found ($AGENTKIT_MCP_CONFIG is set empty" in said
    assert "give one with --mcp-config FILE, or name it in $AGENTKIT_MCP_CONFIG" in said
    config = tmp_path / "mcp.json"
    config.write_text(json.dumps({"mcpServers": {"off": {"command": "never-run", "enabled": False}}}))
    monkeypatch.setenv("AGENTKIT_MCP_CONFIG", str(config))
    listed = runner.invoke(app, ["mcp", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    assert "never-run" not in listed.stderr  # read from the default config; its server is off


def test_every_event_type_has_a_renderer_handler() -> None:
    import typing

    from agentkit.cli import _Renderer
    from agentkit.events import Event

    assert set(_Renderer._HANDLERS) == set(typing.get_args(Event))


def test_status_events_render_as_one_dim_line_each() -> None:
    import io

    from rich.console import Console

    from agentkit.cli import _Renderer
    from agentkit.events import Compacted, McpLog, ModelRetry, RunStarted, ToolApproval, ToolProgress

    err = io.StringIO()
    console = Console(file=err, width=200, color_system=None)
    render = _Renderer(Console(file=io.StringIO()), console, show_thinking=False, verbose=True)
    render(RunStarted("r1", "task", "scripted", None, workspace="/tmp/w", resumed=True, first_step=3,
                      sandbox="auto, but none is available"))  # fmt: skip
    render(ModelRetry(1, 2, 1.5, "the server closed the connection.", kept=1200))
    render(ModelRetry(1, 3, 0.25, "timed out", restart=True))
    render(ModelRetry(1, 4, 2, "busy"))
    render(Compacted(2, 30000, 12000, results=3, thoughts=2))
    render(ToolProgress(2, "c1", "fetch_url", 3, 10, "pages"))
    render(ToolProgress(2, "c1", "fetch_url", 0.5, None, None))
    render(McpLog("git", "info", "repo", {"head": "main"}))
    render(McpLog("time", "debug", None, "tick"))
    render(ToolApproval(2, "c2", "wipe", "ask", True, "approver", None, 1.5))
    quiet = _Renderer(Console(file=io.StringIO()), console, show_thinking=False)
    quiet(McpLog("time", "debug", None, "not shown"))
    quiet(ToolApproval(2, "c3", "wipe", "ask", True, "approver", None, 0.1))  # the prompt showed it
    quiet(ToolApproval(2, "c4", "launch", "deny", False, "policy", "not allowed", 0.0))
    assert err.getvalue().splitlines() == [
        "resuming run r1 at step 3",
        "workspace: /tmp/w",
        "sandbox: auto, but none is available",
        "↻ the server closed the connection · going on from the 1,200 characters received in 1.5s "
        "(attempt 2)",
        "↻ timed out · the step starts over in 0.2s (attempt 3)",
        "↻ busy · retrying in 2.0s (attempt 4)",
        "⇣ context: 30,000 → 12,000 tokens (left out 3 tool result(s) and the thinking of 2 step(s))",
        "  … fetch_url 3/10 pages",
        "  … fetch_url 0.5",
        '  git/repo info: {"head": "main"}',
        "  time debug: tick",
        "  ⚖ wipe allowed by the approver (ask)",
        "  ⚖ launch refused by policy (deny)",
    ]
