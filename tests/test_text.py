"""The cutter and size formatters that tool results share (agentkit/_text.py)."""

from __future__ import annotations

from agentkit._text import cut_middle, limit_size, short_size


def note(left_out: int) -> str:
    return f"[{left_out} out]"


def test_cut_middle_keeps_the_ends_and_counts_what_it_left_out() -> None:
    assert cut_middle("abcdefghij", 3, 2, note) == "abc[5 out]ij"


def test_cut_middle_returns_a_short_text_itself() -> None:
    text = "abcde"
    assert cut_middle(text, 3, 2, note) is text


def test_cut_middle_with_no_tail_keeps_the_head_only() -> None:
    assert cut_middle("abcdefghij", 4, 0, note) == "abcd[6 out]"


def test_short_size_switches_to_kilobytes_at_1024() -> None:
    assert [short_size(n) for n in (0, 1023, 1024, 1536)] == ["0 B", "1023 B", "1.0 KB", "1.5 KB"]


def test_limit_size_names_the_binary_unit() -> None:
    assert [limit_size(n) for n in (None, 100, 1 << 10, 3 << 19, 1 << 30)] == [
        "any amount",
        "100 bytes",
        "1 KiB",
        "1.5 MiB",
        "1 GiB",
    ]
