"""Shell, time and calculator built-ins."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from agentkit.builtins import BUILTIN_GROUPS, builtin_tools
from agentkit.builtins.calculator import calculate, evaluate
from agentkit.builtins.clock import current_time
from agentkit.builtins.shell import MAX_SHELL_OUTPUT, run_shell
from agentkit.errors import ConfigError
from agentkit.tools.scope import RunScope
from agentkit.tools.tool import ToolContext, ToolError


@pytest.fixture
def ctx(tmp_path: Path) -> ToolContext:
    return ToolContext(scope=RunScope(tmp_path))


async def test_shell_runs_in_the_workspace(ctx: ToolContext) -> None:
    result = await run_shell.call({"command": "echo hi > f.txt; cat f.txt; pwd; echo oops >&2; exit 3"}, ctx)
    assert result.content == f"exit code 3\nhi\n{ctx.scope.workspace}\noops"
    assert run_shell.approval == "ask"


async def test_shell_does_not_see_agentkit_secrets(ctx: ToolContext, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")
    result = await run_shell.call({"command": "env"}, ctx)
    assert "sk-secret" not in result.content


async def test_a_command_that_never_ends_is_killed(ctx: ToolContext) -> None:
    started = time.monotonic()
    result = await run_shell.call({"command": "sleep 1000 & sleep 1000", "timeout": 1}, ctx)
    assert time.monotonic() - started < 5
    assert result.content.startswith("killed: the command ran longer than 1 s")
    import subprocess

    assert "sleep 1000" not in subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout


async def test_fifty_megabytes_of_output_is_capped_while_read(ctx: ToolContext) -> None:
    started = time.monotonic()
    result = await run_shell.call({"command": "head -c 50000000 /dev/zero | tr '\\0' 'x'; echo END"}, ctx)
    assert time.monotonic() - started < 20
    assert len(result.content) < MAX_SHELL_OUTPUT + 200
    assert "bytes of output left out" in result.content and result.content.endswith("xEND")


async def test_current_time_in_a_zone() -> None:
    result = await current_time.call({"timezone": "Asia/Tokyo"}, ToolContext())
    assert '"timezone":"Asia/Tokyo"' in result.content and '"utc_offset":"+0900"' in result.content
    with pytest.raises(ToolError, match=r"Did you mean.*Europe/Paris"):
        await current_time.call({"timezone": "Europe/Pariss"}, ToolContext())


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("17 * 23", 391),
        ("2 ** 64", 2**64),
        ("2^10", 1024),
        ("sqrt(16) + pi * 0", 4.0),
        ("-(3 - 5) % 3", 2),
        ("7 // 2", 3),
    ],
)
def test_calculator_arithmetic(expression: str, value: float) -> None:
    assert evaluate(expression) == value


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("__import__('os').system('id')", "is not allowed"),
        ("().__class__", "is not allowed"),
        ("open('/etc/passwd')", "is not allowed"),
        ("10 ** 10 ** 10", "exponent"),
        ("(9 ** 9999) ** 9999", "more than 10000 digits"),
        ("factorial(100000)", "factorial is limited"),
        ("1 / 0", "division by zero"),
        ("2 +", "not a valid expression"),
    ],
)
def test_calculator_refuses_what_is_not_arithmetic(expression: str, message: str) -> None:
    started = time.monotonic()
    with pytest.raises(ToolError, match=message):
        evaluate(expression)
    assert time.monotonic() - started < 1


async def test_calculate_tool_formats_whole_numbers() -> None:
    assert (await calculate.call({"expression": "17 * 23"}, ToolContext())).content == "17 * 23 = 391"


def test_groups_enable_their_tools_and_unknown_names_are_refused() -> None:
    names = [t.name for t in builtin_tools(["files", "time", "calculator"])]
    assert names == [
        "read_file",
        "write_file",
        "edit_file",
        "list_files",
        "glob_files",
        "grep_files",
        "current_time",
        "calculate",
    ]
    assert set(BUILTIN_GROUPS) == {"files", "python", "shell", "fetch", "time", "calculator"}
    with pytest.raises(ConfigError, match="unknown built-in 'browser'"):
        builtin_tools(["browser"])
