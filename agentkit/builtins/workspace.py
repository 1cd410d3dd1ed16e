"""Confinement of file paths to a run's workspace."""

from __future__ import annotations

from pathlib import Path

from agentkit.errors import ToolError

__all__ = ["resolve_in", "show"]


def resolve_in(root: Path, path: str) -> Path:
    """The absolute path of `path` inside the workspace `root`, symlinks followed.

    Relative paths are taken from the workspace; absolute ones must already lie in it.

    Raises:
        ToolError: The path leaves the workspace (`..`, an absolute path elsewhere, a symlink
            pointing out, `~`), saying so in words the model can act on.
    """
    if "\0" in path:
        raise ToolError(f"the path {path!r} holds a NUL character; give a plain relative path")
    if path.startswith("~"):
        raise ToolError(f"the path {path!r} points at a home directory; paths are relative to the workspace")
    given = Path(path)
    candidate = given if given.is_absolute() else root / given
    resolved = candidate.resolve(strict=False)
    if resolved != root and root not in resolved.parents:
        hint = "a symlink in it points outside" if _through_symlink(root, given) else "it leads outside"
        raise ToolError(
            f"the path {path!r} is refused: {hint} the workspace. Use a path inside the workspace, "
            "relative to it (e.g. 'notes/todo.txt')"
        )
    return resolved


def _through_symlink(root: Path, given: Path) -> bool:
    current = root if not given.is_absolute() else Path(given.anchor)
    for part in given.parts if not given.is_absolute() else given.parts[1:]:
        current = current / part
        if current.is_symlink():
            return True
    return False


def show(root: Path, path: Path) -> str:
    """A path as the model should see it: relative to the workspace."""
    try:
        relative = path.relative_to(root)
    except ValueError:
        return str(path)
    return str(relative) if str(relative) != "." else "."
