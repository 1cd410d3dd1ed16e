"""Output of a child process, kept within a size while it is read."""

from __future__ import annotations

__all__ = ["CappedOutput"]


class CappedOutput:
    """The head and tail of a byte stream, with a count of what was dropped between them.

    It cuts while reading, so a command that prints gigabytes never holds them: unlike
    `agentkit._text.cut_middle`, which cuts a text already whole.
    """

    def __init__(self, limit: int) -> None:
        self.half = max(1, limit - 100) // 2  # room for the note on what was left out
        self.head = bytearray()
        self.tail = bytearray()
        self.dropped = 0

    def add(self, chunk: bytes) -> None:
        room = self.half - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        if chunk:
            self.tail += chunk
            extra = len(self.tail) - self.half
            if extra > 0:
                del self.tail[:extra]
                self.dropped += extra

    def text(self) -> str:
        head = self.head.decode("utf-8", "replace")
        tail = self.tail.decode("utf-8", "replace")
        if self.dropped:
            return f"{head}\n[… {self.dropped:,} bytes of output left out …]\n{tail}"
        return head + tail
