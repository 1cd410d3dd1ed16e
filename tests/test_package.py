"""The package as users meet it: a light import, a typed and linted code base."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_import_agentkit_does_not_load_heavy_dependencies() -> None:
    code = (
        "import sys, agentkit\n"
        "from agentkit import Agent, tool\n"
        "names = ('openai', 'mcp', 'rich', 'typer', 'aiohttp', 'httpx', 'jsonschema', 'griffe')\n"
        "heavy = [m for m in names if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_public_names_resolve() -> None:
    import agentkit

    for name in agentkit.__all__:
        assert getattr(agentkit, name) is not None


CHECKED_TREES = ("agentkit", "tests", "tools", "bench", "examples")


@pytest.mark.skipif(importlib.util.find_spec("mypy") is None, reason="mypy is not installed")
def test_mypy_strict_is_clean_on_the_package_its_tests_tools_benchmarks_and_examples() -> None:
    out = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout
    # Plain `mypy` checks what pyproject.toml names: every Python file of the five trees.
    files = sum(len(list((ROOT / tree).rglob("*.py"))) for tree in CHECKED_TREES)
    assert f"no issues found in {files} source files" in out.stdout, out.stdout


@pytest.mark.skipif(importlib.util.find_spec("ruff") is None, reason="ruff is not installed")
def test_ruff_is_clean() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "agentkit", "tests", "bench", "tools", "examples"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout


@pytest.mark.skipif(importlib.util.find_spec("ruff") is None, reason="ruff is not installed")
def test_ruff_format_is_clean_on_the_code_and_the_python_blocks_of_the_readmes() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--check", "."], cwd=ROOT, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stdout + out.stderr
    # ruff 0.16 and later format the Python code blocks of Markdown files too.
    readmes = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--check", "README.md", "examples/README.md"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert readmes.returncode == 0 and "2 files already formatted" in readmes.stdout, readmes.stdout
