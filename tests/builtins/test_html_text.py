"""Tests of `agentkit/builtins/_html_text.py`: HTML to the text `fetch_url` shows.

`test_fetch.py` checks a whole page through the tool; these check the converter alone.
"""

from __future__ import annotations

from agentkit.builtins._html_text import html_to_text


def test_head_without_closing_tag_does_not_hide_the_body() -> None:
    title, text = html_to_text("<head><title>T</title><p>Body text</p><pre>a\n  b</pre>", "http://x/")
    assert title == "T"
    assert text == "Body text\n\na\n  b"


def test_list_item_wrapped_in_a_paragraph_keeps_its_marker() -> None:
    # Sphinx and Markdown renderers write loose lists as <li><p>…</p></li>.
    html = "<ul><li><p>one</p></li><li><p>two</p><p>more</p></li></ul><ol><li><p>first</p></li></ol>"
    _, text = html_to_text(html, "http://x/")
    assert text == "- one\n- two\nmore\n\n1. first"


def test_table_rows_are_lines_with_cells_split_by_bars() -> None:
    html = "<table><tr><th>file</th><th>speed</th></tr><tr><td>a.json</td><td>2.3 GB/s</td></tr></table>"
    assert html_to_text(html, "http://x/")[1] == "file | speed\na.json | 2.3 GB/s"


def test_ordered_list_counts_from_its_start() -> None:
    assert html_to_text('<ol start="3"><li>c</li><li>d</li></ol>', "http://x/")[1] == "3. c\n4. d"


def test_links_resolve_against_the_base_element_and_images_show_their_alt() -> None:
    html = '<head><base href="http://docs.example/v2/"></head><p><a href="api">API</a> <img alt="logo"></p>'
    assert html_to_text(html, "http://x/")[1] == "API (http://docs.example/v2/api) [image: logo]"
