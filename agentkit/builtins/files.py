"""File tools confined to the run's workspace: read, write, edit, list, glob and grep.

Every path is resolved inside the workspace (`resolve_in`): `..`, absolute paths elsewhere
and symlinks pointing out are refused. Binary and huge files are summarized instead of
dumped. Writes and edits ask for approval by default.
"""

from __future__ import annotations

import fnmatch
import mimetypes
import os
import re
from pathlib import Path

from agentkit.builtins.workspace import resolve_in, show
from agentkit.tools.tool import ToolContext, ToolError, tool

__all__ = [
    "FILE_TOOLS",
    "MAX_LINE_CHARS",
    "MAX_LIST_ENTRIES",
    "MAX_MATCHES",
    "MAX_READ_LINES",
    "edit_file",
    "glob_files",
    "grep_files",
    "list_files",
    "read_file",
    "write_file",
]

MAX_READ_LINES = 2_000
"""Lines one read returns at most (a longer file is read in ranges)."""

MAX_LINE_CHARS = 2_000
"""Characters shown of one line (minified files have megabyte lines)."""

MAX_LIST_ENTRIES = 500
"""Entries list_files and glob_files return at most."""

MAX_MATCHES = 200
"""Matches grep_files returns at most."""

MAX_GREP_FILE_BYTES = 5_000_000
"""Files larger than this are skipped by grep_files."""

_SNIFF = 8192


def _is_binary(path: Path) -> bool:
    with path.open("rb") as f:
        head = f.read(_SNIFF)
    if b"\0" in head:
        return True
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start < len(head) - 4  # a character cut at the end of the sample is fine
    return False


def _binary_summary(root: Path, path: Path) -> str:
    kind = mimetypes.guess_type(path.name)[0] or "unknown type"
    return (
        f"{show(root, path)} is a binary file ({kind}, {path.stat().st_size:,} bytes); "
        "its bytes are not shown. Use run_python to inspect it if you need to."
    )


def _existing_file(ctx: ToolContext, path: str) -> tuple[Path, Path]:
    root = ctx.scope.workspace
    target = resolve_in(root, path)
    if not target.exists():
        raise ToolError(f"{path!r} does not exist in the workspace; list_files shows what is there")
    if target.is_dir():
        raise ToolError(f"{path!r} is a directory; use list_files to see its contents")
    return root, target


@tool
def read_file(path: str, ctx: ToolContext, start_line: int = 1, end_line: int | None = None) -> str:
    """Read a text file of the workspace, with line numbers.

    Args:
        path: File path, relative to the workspace.
        start_line: First line to show (1 = the first line).
        end_line: Last line to show (default: up to 2,000 lines from start_line).
    """
    root, target = _existing_file(ctx, path)
    if _is_binary(target):
        return _binary_summary(root, target)
    if start_line < 1:
        raise ToolError("start_line counts from 1")
    if end_line is not None and end_line < start_line:
        raise ToolError(f"end_line ({end_line}) is before start_line ({start_line})")
    last = min(end_line or start_line + MAX_READ_LINES - 1, start_line + MAX_READ_LINES - 1)
    lines: list[str] = []
    more = False
    number = 0
    with target.open(encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f, 1):
            if number > last:
                more = True
                break
            if number >= start_line:
                text = line.rstrip("\n")
                if len(text) > MAX_LINE_CHARS:
                    text = text[:MAX_LINE_CHARS] + f" [… {len(text) - MAX_LINE_CHARS:,} more characters]"
                lines.append(f"{number:>6}\t{text}")
    name = show(root, target)
    if not lines:
        return f"{name} has {number} lines; there is nothing from line {start_line} on."
    shown = f"lines {start_line}-{start_line + len(lines) - 1}"
    size = target.stat().st_size
    if more:
        header = f"{name} ({shown}; {size:,} bytes in all)"
        footer = f"\n[more lines follow: read again with start_line={start_line + len(lines)}]"
    else:
        header, footer = f"{name} ({shown} of {number})", ""
    return header + "\n" + "\n".join(lines) + footer


@tool(approval="ask")
def write_file(path: str, content: str, ctx: ToolContext) -> str:
    """Create or overwrite a text file in the workspace (folders are created as needed).

    Args:
        path: File path, relative to the workspace.
        content: The complete new content of the file.
    """
    root = ctx.scope.workspace
    target = resolve_in(root, path)
    if target.is_dir():
        raise ToolError(f"{path!r} is a directory; give a file path")
    existed = target.exists()
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(content, encoding="utf-8")
    lines = content.count("\n") + (1 if content and not content.endswith("\n") else 0)
    verb = "overwrote" if existed else "created"
    return f"{verb} {show(root, target)} ({len(content):,} characters, {lines} lines)"


@tool(approval="ask")
def edit_file(path: str, old_text: str, new_text: str, ctx: ToolContext) -> str:
    """Replace one exact piece of text in a file of the workspace.

    Args:
        path: File path, relative to the workspace.
        old_text: The text to replace; it must occur exactly once in the file (include a few
            surrounding lines if needed to make it unique).
        new_text: The text to put in its place.
    """
    root, target = _existing_file(ctx, path)
    if _is_binary(target):
        raise ToolError(f"{path!r} is a binary file; edit_file only edits text")
    if not old_text:
        raise ToolError("old_text is empty; give the exact text to replace")
    text = target.read_text(encoding="utf-8")
    count = text.count(old_text)
    if count == 0:
        hint = _closest_line(text, old_text)
        raise ToolError(
            f"old_text does not occur in {path!r}"
            + (f"; the closest line is: {hint!r}" if hint else "")
            + ". Read the file and copy the text exactly, whitespace included."
        )
    if count > 1:
        raise ToolError(
            f"old_text occurs {count} times in {path!r}; include more surrounding text so it occurs once"
        )
    target.write_text(text.replace(old_text, new_text, 1), encoding="utf-8")
    line = text[: text.index(old_text)].count("\n") + 1
    return (
        f"edited {show(root, target)} at line {line}: {len(old_text)} characters replaced by {len(new_text)}"
    )


def _closest_line(text: str, wanted: str) -> str | None:
    import difflib

    first = wanted.strip().splitlines()[0] if wanted.strip() else ""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    close = difflib.get_close_matches(first, lines, n=1, cutoff=0.6)
    return close[0] if close else None


@tool
def list_files(ctx: ToolContext, path: str = ".", recursive: bool = False) -> str:
    """List a folder of the workspace: folders end with "/", files show their size.

    Args:
        path: Folder path, relative to the workspace ("." is the workspace itself).
        recursive: Include the contents of subfolders too.
    """
    root = ctx.scope.workspace
    folder = resolve_in(root, path)
    if not folder.exists():
        raise ToolError(f"{path!r} does not exist in the workspace")
    if not folder.is_dir():
        raise ToolError(f"{path!r} is a file; use read_file to read it")
    entries = sorted(folder.rglob("*") if recursive else folder.iterdir())
    lines: list[str] = []
    for entry in entries:
        if len(lines) >= MAX_LIST_ENTRIES:
            lines.append(f"[… {len(entries) - MAX_LIST_ENTRIES} more entries not shown]")
            break
        if _escapes(root, entry):
            continue
        name = show(root, entry)
        lines.append(name + "/" if entry.is_dir() else f"{name}  ({entry.stat().st_size:,} bytes)")
    if lines:
        return "\n".join(lines)
    return "the workspace is empty" if folder == root else f"{show(root, folder)}/ is empty"


def _escapes(root: Path, entry: Path) -> bool:
    """Whether an entry is a symlink leading out of the workspace (listed tools skip those)."""
    try:
        resolved = entry.resolve()
    except OSError:
        return True
    return resolved != root and root not in resolved.parents


@tool
def glob_files(pattern: str, ctx: ToolContext) -> str:
    """Find files of the workspace by a glob pattern, e.g. "**/*.py" or "docs/*.md".

    Args:
        pattern: A glob pattern relative to the workspace; "**" matches any folders.
    """
    root = ctx.scope.workspace
    if pattern.startswith("/") or ".." in Path(pattern).parts:
        raise ToolError(
            f"the pattern {pattern!r} leaves the workspace; give one relative to it, e.g. '**/*.py'"
        )
    found = [p for p in sorted(root.glob(pattern)) if not _escapes(root, p)]
    if not found:
        return f"no files match {pattern!r}"
    lines = [show(root, p) + ("/" if p.is_dir() else "") for p in found[:MAX_LIST_ENTRIES]]
    if len(found) > MAX_LIST_ENTRIES:
        lines.append(f"[… {len(found) - MAX_LIST_ENTRIES} more not shown; use a narrower pattern]")
    return "\n".join(lines)


@tool
def grep_files(
    pattern: str, ctx: ToolContext, path: str = ".", include: str = "*", ignore_case: bool = False
) -> str:
    """Search the text files of the workspace for a regular expression; shows file:line: text.

    Args:
        pattern: A Python regular expression, e.g. "def \\w+\\(" or "TODO".
        path: A folder (searched recursively) or a file, relative to the workspace.
        include: Only files whose name matches this glob, e.g. "*.py".
        ignore_case: Match regardless of case.
    """
    root = ctx.scope.workspace
    try:
        regex = re.compile(pattern, re.IGNORECASE if ignore_case else 0)
    except re.error as exc:
        raise ToolError(f"the pattern {pattern!r} is not a valid regular expression: {exc}") from None
    start = resolve_in(root, path)
    if not start.exists():
        raise ToolError(f"{path!r} does not exist in the workspace")
    files = [start] if start.is_file() else sorted(p for p in start.rglob("*") if p.is_file())
    matches: list[str] = []
    for file in files:
        if not fnmatch.fnmatch(file.name, include) or _escapes(root, file):
            continue
        if file.stat().st_size > MAX_GREP_FILE_BYTES or _is_binary(file):
            continue
        with file.open(encoding="utf-8", errors="replace") as f:
            for number, line in enumerate(f, 1):
                if regex.search(line):
                    matches.append(f"{show(root, file)}:{number}: {line.rstrip(os.linesep)[:300]}")
                    if len(matches) >= MAX_MATCHES:
                        matches.append(f"[stopped at {MAX_MATCHES} matches; narrow the pattern or the path]")
                        return "\n".join(matches)
    return "\n".join(matches) if matches else f"no matches for {pattern!r}"


FILE_TOOLS = [read_file, write_file, edit_file, list_files, glob_files, grep_files]
