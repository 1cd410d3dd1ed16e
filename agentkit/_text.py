"""Text shown to the model about other text: a long text cut to its ends, sizes in words.

The two size formatters differ on purpose, each for what it names: `short_size` gives a
file's size in passing ("1.5 KB"), `limit_size` a limit someone set, usually a power of two
("1 GiB"). Exact counts that the model compares with a limit or an offset are written
`f"{count:,} bytes"` where they stand (`fetch`, `files`).
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["cut_middle", "limit_size", "short_size"]


def cut_middle(text: str, head: int, tail: int, note: Callable[[int], str]) -> str:
    """`text` with all but its first `head` and last `tail` characters replaced by a note.

    Args:
        text: The text to cut.
        head: Characters kept from the start.
        tail: Characters kept from the end.
        note: Makes what stands between the ends from the count of characters left out
            (the separating newlines included).

    Returns:
        The very same `text` when it is no longer than `head + tail`.
    """
    if len(text) <= head + tail:
        return text
    return text[:head] + note(len(text) - head - tail) + text[len(text) - tail :]


def short_size(size: int) -> str:
    """A size in passing, to a tenth of a KB: "70 B", "1.5 KB"."""
    return f"{size / 1024:.1f} KB" if size >= 1024 else f"{size} B"


def limit_size(size: int | None) -> str:
    """A size limit in the binary unit it was most likely set in: "1 GiB", "256 MiB";
    None (no limit) is "any amount"."""
    if size is None:
        return "any amount"
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if size >= 1 << shift:
            return f"{size / (1 << shift):g} {unit}"
    return f"{size} bytes"
