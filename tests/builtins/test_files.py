"""File tools: confined to the workspace, honest about binary and huge files."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from agentkit.builtins.files import edit_file, glob_files, grep_files, list_files, read_file, write_file
from agentkit.tools.scope import RunScope
from agentkit.tools.tool import ToolContext, ToolError


@pytest.fixture
def ctx(tmp_path: Path) -> ToolContext:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    return ToolContext(scope=RunScope(workspace))


async def call(tool: Any, ctx: ToolContext, **arguments: Any) -> str:
    return (await tool.call(arguments, ctx)).content  # type: ignore[no-any-return]


async def test_write_then_read_with_line_numbers(ctx: ToolContext) -> None:
    assert await call(write_file, ctx, path="notes/todo.txt", content="milk\neggs\nbread\n") == (
        "created notes/todo.txt (16 characters, 3 lines)"
    )
    assert (ctx.scope.workspace / "notes" / "todo.txt").read_text() == "milk\neggs\nbread\n"
    assert await call(read_file, ctx, path="notes/todo.txt") == (
        "notes/todo.txt (lines 1-3 of 3)\n     1\tmilk\n     2\teggs\n     3\tbread"
    )
    assert await call(read_file, ctx, path="notes/todo.txt", start_line=2, end_line=2) == (
        "notes/todo.txt (lines 2-2; 16 bytes in all)\n     2\teggs\n"
        "[more lines follow: read again with start_line=3]"
    )


async def test_edit_replaces_a_unique_string(ctx: ToolContext) -> None:
    (ctx.scope.workspace / "a.py").write_text("x = 1\ny = 2\nx = 1\n")
    with pytest.raises(ToolError, match="occurs 2 times"):
        await edit_file.call({"path": "a.py", "old_text": "x = 1", "new_text": "x = 3"}, ctx)
    with pytest.raises(ToolError, match=r"does not occur.*closest line is: 'y = 2'"):
        await edit_file.call({"path": "a.py", "old_text": "y = 3", "new_text": "z"}, ctx)
    assert "at line 2" in await call(edit_file, ctx, path="a.py", old_text="y = 2", new_text="y = 20")
    assert (ctx.scope.workspace / "a.py").read_text() == "x = 1\ny = 20\nx = 1\n"


async def test_list_glob_and_grep(ctx: ToolContext) -> None:
    root = ctx.scope.workspace
    (root / "src").mkdir()
    (root / "src" / "a.py").write_text("def alpha():\n    return 1\n")
    (root / "src" / "b.txt").write_text("TODO: beta\n")
    (root / "blob.bin").write_bytes(b"\0\1\2TODO")
    assert await call(list_files, ctx) == "blob.bin  (7 bytes)\nsrc/"
    assert (
        await call(list_files, ctx, recursive=True)
        == "blob.bin  (7 bytes)\nsrc/\nsrc/a.py  (26 bytes)\nsrc/b.txt  (11 bytes)"
    )
    assert await call(glob_files, ctx, pattern="**/*.py") == "src/a.py"
    assert await call(grep_files, ctx, pattern=r"def \w+\(") == "src/a.py:1: def alpha():"
    assert (
        await call(grep_files, ctx, pattern="todo", ignore_case=True) == "src/b.txt:1: TODO: beta"
    )  # binary skipped
    assert await call(grep_files, ctx, pattern="return", include="*.txt") == "no matches for 'return'"


async def test_binary_and_huge_files_are_summarized(ctx: ToolContext) -> None:
    root = ctx.scope.workspace
    (root / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40)
    summary = await call(read_file, ctx, path="image.png")
    assert summary.startswith("image.png is a binary file (image/png, 10,248 bytes)")
    (root / "big.log").write_text("".join(f"line {i}\n" for i in range(1, 200_001)))
    big = await call(read_file, ctx, path="big.log")
    assert big.startswith("big.log (lines 1-2000; ")
    assert big.endswith("[more lines follow: read again with start_line=2001]")
    (root / "min.js").write_text("x" * 1_000_000)
    assert "[… 998,000 more characters]" in await call(read_file, ctx, path="min.js")


@pytest.mark.parametrize(
    "path",
    ["../outside.txt", "/etc/passwd", "/proc/self/environ", "a/../../outside.txt", "~/.ssh/id_rsa", "x\0y"],
)
async def test_escapes_are_refused(ctx: ToolContext, path: str) -> None:
    for tool, arguments in (
        (read_file, {"path": path}),
        (write_file, {"path": path, "content": "x"}),
        (list_files, {"path": path}),
    ):
        with pytest.raises(ToolError, match=r"refused|home directory|NUL"):
            await tool.call(arguments, ctx)
    assert not (ctx.scope.workspace.parent / "outside.txt").exists()


async def test_symlinks_pointing_out_are_refused_and_hidden(ctx: ToolContext, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("s3cr3t")
    os.symlink(secret, ctx.scope.workspace / "link.txt")
    os.symlink(tmp_path, ctx.scope.workspace / "up")
    with pytest.raises(ToolError, match="a symlink in it points outside the workspace"):
        await read_file.call({"path": "link.txt"}, ctx)
    with pytest.raises(ToolError, match="refused"):
        await write_file.call({"path": "up/planted.txt", "content": "x"}, ctx)
    assert not (tmp_path / "planted.txt").exists()
    listing = await call(list_files, ctx)
    assert "link.txt" not in listing and "up" not in listing
    assert await call(grep_files, ctx, pattern="s3") == "no matches for 's3'"
    with pytest.raises(ToolError, match="leaves the workspace"):
        await glob_files.call({"pattern": "../*"}, ctx)


async def test_a_symlink_inside_the_workspace_is_fine(ctx: ToolContext) -> None:
    (ctx.scope.workspace / "real.txt").write_text("hello\n")
    os.symlink(ctx.scope.workspace / "real.txt", ctx.scope.workspace / "alias.txt")
    assert "hello" in await call(read_file, ctx, path="alias.txt")


async def test_writes_and_edits_ask_for_approval_by_default() -> None:
    assert (write_file.approval, edit_file.approval, read_file.approval) == ("ask", "ask", "auto")
