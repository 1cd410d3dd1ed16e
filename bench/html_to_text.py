"""Compare HTML-to-text converters for `fetch_url` on saved real web pages.

Candidates: agentkit's own converter (`agentkit/builtins/_html_text.py`, on the standard
library's `HTMLParser`), markdownify, html2text and trafilatura. For each it measures speed
(mean ms per page, and the ms its import adds to a process that has already loaded what
`fetch.py` needs) and what a model would read:

- headings kept as headings (a line starting with `#`), list items kept as items, links
  kept with their target, code blocks kept line by line (and marked as code: fenced or
  indented), table cells and paragraphs kept —
  each as the share of those found in the page's content (its `<main>` or `<article>`, else
  its `<body>` without `<nav>`, `<header>`, `<footer>` and `<aside>`);
- leftovers: the share of script and style text, and of navigation and footer text, that
  reaches the output (lower is better);
- the size of the output, which the model pays for in tokens.

Pages are not kept in this repository (their text belongs to their sites). Real pages saved
for tests are in trafilatura's repository (Apache-2.0 code; the pages are the sites' own):

    git clone --depth 1 https://github.com/adbar/trafilatura /tmp/trafilatura
    python bench/html_to_text.py /tmp/trafilatura/tests/cache

and Python's own documentation is one page on every machine:
`$(python -c 'import idlelib, os; print(os.path.dirname(idlelib.__file__))')/help.html`.

Run: `PYTHONPATH=$PWD python bench/html_to_text.py PAGE_OR_FOLDER... [--repeat N] [--show NAME]`
(needs `pip install markdownify html2text trafilatura`; a missing one is skipped).
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin

from lxml import html as lxml_html  # installed with trafilatura

Convert = Callable[[str, str], str]

_PRELOADED = "import aiohttp, yarl, json, codecs, agentkit.tools.tool"
"""What `fetch.py` has imported before the converter; import times are measured on top."""

_BOILERPLATE = ("nav", "header", "footer", "aside")
_UNESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!<>|~])")
_SPACE = re.compile(r"\s+")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
_MARKDOWN_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_TEXT_LINK = re.compile(r" \((?:https?|mailto|ftp):[^)\s]*\)")
_EMPHASIS = re.compile(r"\*\*|__|`|(?<![\w*])[*_](?=\S)|(?<=\S)[*_](?![\w*])")


def _plain(text: str) -> str:
    """`text` without link targets and emphasis marks, in whichever syntax a converter used,
    so that words are compared with words."""
    return _EMPHASIS.sub("", _TEXT_LINK.sub("", _MARKDOWN_LINK.sub(r"\1", text)))


def _agentkit(page: str, base: str) -> str:
    from agentkit.builtins._html_text import html_to_text

    title, text = html_to_text(page, base)
    return f"Title: {title}\n\n{text}" if title else text


def _markdownify(page: str, base: str) -> str:
    from markdownify import markdownify

    return str(markdownify(page, heading_style="ATX"))


def _html2text(page: str, base: str) -> str:
    import html2text

    converter = html2text.HTML2Text(baseurl=base)
    converter.body_width = 0  # no hard wrapping: it splits links and code
    return str(converter.handle(page))


def _trafilatura(page: str, base: str) -> str:
    import trafilatura

    found = trafilatura.extract(
        page,
        url=base,
        output_format="markdown",
        include_links=True,
        include_tables=True,
        include_formatting=True,
        include_comments=False,
    )
    return found or ""


CANDIDATES: dict[str, tuple[str, Convert]] = {
    "agentkit (HTMLParser)": ("agentkit.builtins._html_text", _agentkit),
    "markdownify": ("markdownify", _markdownify),
    "html2text": ("html2text", _html2text),
    "trafilatura": ("trafilatura", _trafilatura),
}


def _norm(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


@dataclass
class Reference:
    """What a page's content holds, read with lxml, to check each output against."""

    base: str
    headings: list[str] = field(default_factory=list)
    items: list[str] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)  # (href as written, absolute)
    code: list[list[str]] = field(default_factory=list)
    cells: list[str] = field(default_factory=list)
    paragraphs: list[str] = field(default_factory=list)
    scripts: list[str] = field(default_factory=list)
    boilerplate: list[str] = field(default_factory=list)


def _reference(page: str) -> Reference:
    tree = lxml_html.fromstring(page)
    canonical = tree.xpath("//link[@rel='canonical']/@href | //meta[@property='og:url']/@content")
    ref = Reference(base=str(canonical[0]) if canonical else "https://example.invalid/")
    for element in tree.xpath("//script | //style"):
        ref.scripts += [line.strip() for line in (element.text or "").splitlines() if len(line.strip()) >= 30]
    main = tree.xpath("//main | //article")
    root = main[0] if main else (tree.xpath("//body") or [tree])[0]
    inside = set(root.iter())
    boilerplate = [
        element
        for element in tree.xpath(" | ".join(f"//{tag}" for tag in _BOILERPLATE))
        if not (main and element in inside) and root not in set(element.iter())
    ]
    for element in boilerplate:
        ref.boilerplate += [_norm(t) for t in element.xpath(".//text()") if len(_norm(t)) >= 25]
    for element in boilerplate:
        if element.getparent() is not None:
            element.drop_tree()
    for element in root.xpath(".//script | .//style | .//noscript | .//template"):
        element.drop_tree()
    ref.headings = [
        h for h in (_norm(e.text_content()) for e in root.xpath(".//h1|.//h2|.//h3|.//h4")) if len(h) >= 3
    ]
    ref.items = [i for i in (_norm(e.text_content())[:40] for e in root.xpath(".//li")) if len(i) >= 5]
    for anchor in root.xpath(".//a[@href]"):
        href = str(anchor.get("href")).strip()
        target = urljoin(ref.base, href)
        if (
            not href.startswith("#")
            and target.startswith(("http:", "https:"))
            and len(_norm(anchor.text_content())) >= 3
        ):
            ref.links.append((href, target))
    for pre in root.xpath(".//pre"):
        lines = [line.strip() for line in pre.text_content().splitlines() if line.strip()]
        if len(lines) >= 2:
            ref.code.append(lines[:3])
    ref.cells = [c for c in (_norm(e.text_content()) for e in root.xpath(".//td|.//th")) if len(c) >= 3]
    ref.paragraphs = [p[:60] for p in (_norm(e.text_content()) for e in root.xpath(".//p")) if len(p) >= 60]
    return ref


def _share(found: int, total: int) -> float | None:
    return found / total if total else None


def _scores(ref: Reference, output: str) -> dict[str, float | None]:
    text = _UNESCAPE.sub(r"\1", output)
    plain = _plain(text)
    flat = _norm(plain)
    lines = [_norm(line) for line in plain.splitlines()]
    stripped = "\n".join(line.strip() for line in text.splitlines() if line.strip())
    heading_lines = {line.lstrip("#").strip() for line in lines if line.startswith("#")}
    item_lines = [_LIST_ITEM.sub("", line) for line in lines if _LIST_ITEM.match(line)]
    return {
        "headings": _share(
            sum(any(h in line for line in heading_lines) for h in ref.headings), len(ref.headings)
        ),
        "list items": _share(
            sum(any(line.startswith(i) for line in item_lines) for i in ref.items), len(ref.items)
        ),
        "links": _share(sum(href in text or target in text for href, target in ref.links), len(ref.links)),
        "code": _share(sum("\n".join(block) in stripped for block in ref.code), len(ref.code)),
        "code marked": _share(sum(_marked_as_code(text, block) for block in ref.code), len(ref.code)),
        "cells": _share(sum(cell in flat for cell in ref.cells), len(ref.cells)),
        "paragraphs": _share(sum(p in flat for p in ref.paragraphs), len(ref.paragraphs)),
        "script left": _share(sum(s in text for s in ref.scripts), len(ref.scripts)),
        "nav left": _share(sum(b in flat for b in ref.boilerplate), len(ref.boilerplate)),
    }


def _marked_as_code(text: str, block: list[str]) -> bool:
    """Whether the output shows a code block as code: inside a ``` fence, or indented."""
    lines = text.splitlines()
    for index, line in enumerate(lines):
        if line.strip() == block[0]:
            before = [earlier.strip() for earlier in lines[max(0, index - 2) : index]]
            return any(earlier.startswith("```") for earlier in before) or line.startswith(("    ", "\t"))
    return False


def _import_ms(module: str, repeat: int) -> float:
    code = (
        f"{_PRELOADED}\nimport time\nt = time.perf_counter()\nimport {module}\nprint(time.perf_counter() - t)"
    )
    runs = [
        float(
            subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
            ).stdout
        )
        for _ in range(repeat)
    ]
    return min(runs) * 1000


def _pages(paths: list[str]) -> list[Path]:
    found: list[Path] = []
    for name in paths:
        path = Path(name)
        found += sorted(path.glob("*.htm*")) if path.is_dir() else [path]
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pages", nargs="+", help="HTML files or folders of them")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per page (the median counts)")
    parser.add_argument("--show", help="print each converter's output for the page of this file name")
    parser.add_argument("--show-lines", type=int, default=60)
    args = parser.parse_args()

    pages = [(path.name, path.read_bytes().decode("utf-8", "replace")) for path in _pages(args.pages)]
    references = {name: _reference(page) for name, page in pages}
    available: dict[str, tuple[str, Convert]] = {}
    for label, (module, convert) in CANDIDATES.items():
        try:
            __import__(module)
        except ImportError:
            print(f"skipped {label}: {module} is not installed", file=sys.stderr)
            continue
        available[label] = (module, convert)

    metrics = list(_scores(Reference(base=""), ""))
    rows = []
    for label, (module, convert) in available.items():
        times, sizes, empty = [], [], 0
        totals: dict[str, list[float]] = {m: [] for m in metrics}
        for name, page in pages:
            ref = references[name]
            output = convert(page, ref.base)  # warm-up, and the output scored
            runs = []
            for _ in range(args.repeat):
                began = time.perf_counter()
                convert(page, ref.base)
                runs.append(time.perf_counter() - began)
            times.append(statistics.median(runs) * 1000)
            sizes.append(len(output))
            empty += not output.strip()
            for metric, value in _scores(ref, output).items():
                if value is not None:
                    totals[metric].append(value)
            if args.show and name == args.show:
                print(f"===== {label}: {name} ({len(output):,} chars) =====")
                print("\n".join(output.splitlines()[: args.show_lines]))
        row = [
            label,
            f"{statistics.mean(times):.1f}",
            f"{_import_ms(module, 3):.0f}",
            f"{statistics.mean(sizes) / 1000:.1f}k",
            str(empty),
        ]
        row += [f"{statistics.mean(totals[m]):.0%}" if totals[m] else "-" for m in metrics]
        rows.append(row)

    counts = {
        m: sum(v is not None for v in (_scores(references[n], "x")[m] for n, _ in pages)) for m in metrics
    }
    header = ["library", "ms/page", "import ms", "chars", "empty"] + [f"{m} ({counts[m]})" for m in metrics]
    print(f"{len(pages)} pages; median of {args.repeat} runs each; (n) = pages that have the element")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
