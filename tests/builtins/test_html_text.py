"""Tests of `agentkit/builtins/_html_text.py`: HTML to the text `fetch_url` shows.

`test_fetch.py` checks a whole page through the tool; these check the converter alone.
"""

from __future__ import annotations

from agentkit.builtins._html_text import html_to_text


def test_head_without_closing_tag_does_not_hide_the_body() -> None:
    title, text = html_to_text("<head><title>T</title><p>Body text</p><pre>a\n  b</pre>", "http://x/")
    assert title == "T"
    assert text == "Body text\n\na\n  b"
