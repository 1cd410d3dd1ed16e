"""The package's import graph keeps the rules of the map (../shared/DESIGN.md): the loop knows
no backend, tool kind or format; qwen3/ imports nothing of agentkit but messages; nothing
imports the CLI; no module-level import cycle. Read from the source with `ast`, nothing run."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "agentkit"


def _module(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, *, top_only: bool) -> set[str]:
    """The agentkit modules `path` imports at run time (under `if TYPE_CHECKING:` left out;
    with `top_only`, imports inside functions left out too)."""
    module = _module(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                for other in child.orelse:
                    visit(other, in_function)
                continue
            inner = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import) and not (top_only and in_function):
                found.update(alias.name for alias in child.names)
            elif isinstance(child, ast.ImportFrom) and not (top_only and in_function):
                base = child.module or ""
                if child.level:
                    base = ".".join([*package.split(".")[: len(package.split(".")) - child.level + 1], base])
                    base = base.rstrip(".")
                found.add(base)
                found.update(f"{base}.{alias.name}" for alias in child.names)
            visit(child, inner)

    visit(ast.parse(path.read_text()), False)
    modules = {_module(p) for p in PACKAGE.rglob("*.py")}
    return {name for name in found if name in modules and name != module}


MODULES = {_module(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def test_the_loop_knows_no_backend_tool_kind_or_format() -> None:
    bad = {
        name
        for name in _imports(MODULES["agentkit.loop"], top_only=False)
        if name.startswith(("agentkit.qwen3", "agentkit.mcp", "agentkit.builtins"))
        or (
            name.startswith("agentkit.backends")
            and name not in ("agentkit.backends", "agentkit.backends.base")
        )
    }
    assert not bad


@pytest.mark.parametrize("name", [name for name in MODULES if name.startswith("agentkit.qwen3")])
def test_the_qwen3_format_imports_nothing_of_agentkit_but_messages(name: str) -> None:
    imported = _imports(MODULES[name], top_only=False)
    assert {n for n in imported if not n.startswith("agentkit.qwen3")} <= {"agentkit.messages"}


def test_nothing_imports_the_cli() -> None:
    importers = [name for name, path in MODULES.items() if "agentkit.cli" in _imports(path, top_only=False)]
    assert importers == []


@pytest.mark.parametrize(
    ("name", "below"),
    [
        ("agentkit.store", "agentkit.loop"),  # transcripts do not need the step loop
        ("agentkit.sandbox", "agentkit.tools"),  # the sandbox is below the tools it confines
        ("agentkit.mcp.catalog", "agentkit.mcp.session"),
        ("agentkit.profiles", "agentkit.serving"),  # profiles are data; serving starts processes
    ],
)
def test_a_module_does_not_reach_up_to_what_uses_it(name: str, below: str) -> None:
    imported = _imports(MODULES[name], top_only=False)
    assert not {n for n in imported if n == below or n.startswith(below + ".")}


def test_no_module_level_import_cycle() -> None:
    graph = {name: _imports(path, top_only=True) for name, path in MODULES.items()}
    done: set[str] = set()

    def walk(name: str, trail: list[str]) -> None:
        if name in trail:
            raise AssertionError(" -> ".join([*trail[trail.index(name) :], name]))
        if name in done:
            return
        for other in sorted(graph.get(name, ())):
            if other.startswith(name + ".") or name == "agentkit":  # a package importing its parts
                continue
            walk(other, [*trail, name])
        done.add(name)

    for name in graph:
        walk(name, [])
