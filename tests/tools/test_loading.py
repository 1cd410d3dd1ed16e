"""`load_tools`: the tools a Python file defines, by path, for `Agent(tools=...)` and `--tools`."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentkit import Agent, ConfigError
from agentkit.backends.scripted import ScriptedBackend
from agentkit.tools import Tool, load_tools

DECORATED = '''
from agentkit import tool

@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b

@tool
def sub(a: int, b: int) -> int:
    """Subtract b from a."""
    return a - b

def helper() -> None:
    """Not a tool."""
'''

LISTED = '''
from agentkit import tool

@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b

def double(x: int) -> int:
    """Twice x."""
    return 2 * x

TOOLS = [double]
'''


def _write(tmp_path: Path, text: str, name: str = "my_tools.py") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_the_decorated_functions_of_a_file_are_its_tools_in_order(tmp_path: Path) -> None:
    tools = load_tools(str(_write(tmp_path, DECORATED)))
    assert [t.name for t in tools if isinstance(t, Tool)] == ["add", "sub"] and len(tools) == 2


def test_a_tools_list_is_taken_as_it_is(tmp_path: Path) -> None:
    tools = load_tools(_write(tmp_path, LISTED))
    assert len(tools) == 1 and not isinstance(tools[0], Tool) and tools[0](3) == 6


def test_the_loaded_tools_serve_an_agent(tmp_path: Path) -> None:
    script = ['<tool_call>\n{"name": "add", "arguments": {"a": 2, "b": 40}}\n</tool_call>', "42."]
    agent = Agent(backend=ScriptedBackend(script), tools=load_tools(_write(tmp_path, DECORATED)))
    result = agent.run_sync("What is 2 + 40?")
    assert result.text == "42."
    assert [m.content for m in result.messages if getattr(m, "name", None) == "add"] == ["42"]


DATACLASS = '''
from __future__ import annotations

from dataclasses import dataclass

from agentkit import tool


@dataclass
class Row:
    a: int


@tool
def total(rows: list[Row]) -> int:
    """Sum the rows."""
    return sum(row.a for row in rows)
'''


async def test_a_file_may_define_the_dataclasses_its_tools_take(tmp_path: Path) -> None:
    from agentkit.tools import ToolContext

    (total,) = load_tools(_write(tmp_path, DATACLASS, "rows.py"))
    assert isinstance(total, Tool)
    assert (await total.call({"rows": [{"a": 2}, {"a": 40}]}, ToolContext())).content == "42"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (None, "my_tools.py: no such file"),
        ("x = 1\n", "my_tools.py: it defines no tools; decorate functions with @agentkit.tool or list them"),
        ("import not_a_module_anywhere\n", "my_tools.py: importing it failed: ModuleNotFoundError: "),
    ],
    ids=["missing", "no tools", "import fails"],
)
def test_a_file_that_gives_no_tools_is_a_config_error_naming_it(
    tmp_path: Path, text: str | None, problem: str
) -> None:
    path = tmp_path / "my_tools.py" if text is None else _write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_tools(path)
    assert str(caught.value).startswith(f"{tmp_path}/{problem}")


def test_a_folder_is_refused_asking_for_its_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_tools(tmp_path)
    assert str(caught.value) == f"{tmp_path}: a folder, not a Python file; give each tools file (.py) in it"


def test_the_cli_names_its_option_in_the_same_errors(tmp_path: Path) -> None:
    from agentkit.cli_options import load_tools as cli_load_tools

    with pytest.raises(ConfigError, match=r"^--tools .*my_tools\.py: no such file$"):
        cli_load_tools(tmp_path / "my_tools.py")
