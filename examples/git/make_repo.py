"""Make the small git repository the git example explains, and print its path.

python examples/git/make_repo.py            # <temp dir>/agentkit-demo-repo, made afresh
python examples/git/make_repo.py DIR        # there instead (DIR must not exist, or be one made here)

Four commits by two authors with fixed dates (so the history reads the same on every
machine), then a change left uncommitted, for `git status` and `git diff` to show.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

MARKER = ".agentkit-demo-repo"
"""A file the script leaves in the repository, so that it only ever deletes its own."""

GIT_TIMEOUT = 30.0
"""Seconds one git command may take."""

ADA = ("Ada Lovelace", "ada@example.com")
GRACE = ("Grace Hopper", "grace@example.com")

# (author, date, message, files written before the commit)
HISTORY: list[tuple[tuple[str, str], str, str, dict[str, str]]] = [
    (
        ADA,
        "2026-03-02T09:15:00+01:00",
        "Add the forecast command",
        {
            "README.md": "# tinyweather\n\nA forecast in the terminal: `tinyweather Paris`.\n",
            "tinyweather.py": (
                '"""tinyweather: a forecast in the terminal."""\n\nimport sys\n\n'
                "FORECASTS = {'Paris': 'light rain, 14 °C', 'Tokyo': 'clear, 22 °C'}\n\n\n"
                "def forecast(city):\n    return FORECASTS.get(city, 'no forecast for ' + city)\n\n\n"
                "if __name__ == '__main__':\n    print(forecast(sys.argv[1]))\n"
            ),
        },
    ),
    (
        GRACE,
        "2026-03-04T14:40:00+01:00",
        "Match city names case-insensitively",
        {
            "tinyweather.py": (
                '"""tinyweather: a forecast in the terminal."""\n\nimport sys\n\n'
                "FORECASTS = {'paris': 'light rain, 14 °C', 'tokyo': 'clear, 22 °C'}\n\n\n"
                "def forecast(city):\n    return FORECASTS.get(city.lower(), 'no forecast for ' + city)\n\n\n"
                "if __name__ == '__main__':\n    print(forecast(sys.argv[1]))\n"
            ),
        },
    ),
    (
        ADA,
        "2026-03-09T11:05:00+01:00",
        "Cache forecasts for ten minutes",
        {
            "cache.py": (
                '"""Forecasts kept for a while, so that a city asked twice is fetched once."""\n\n'
                "import time\n\nTTL = 600\n_seen = {}\n\n\n"
                "def cached(city, fetch):\n    now = time.time()\n"
                "    if city in _seen and now - _seen[city][0] < TTL:\n        return _seen[city][1]\n"
                "    value = fetch(city)\n    _seen[city] = (now, value)\n    return value\n"
            ),
        },
    ),
    (
        GRACE,
        "2026-03-11T16:20:00+01:00",
        "Add tests for the cache",
        {
            "test_cache.py": (
                "from cache import cached\n\n\n"
                "def test_a_city_is_fetched_once():\n    calls = []\n"
                "    fetch = lambda city: calls.append(city) or 'sunny'\n"
                "    cached('Oslo', fetch)\n    cached('Oslo', fetch)\n    assert calls == ['Oslo']\n"
            ),
        },
    ),
]

# Left uncommitted: work in progress on the README.
IN_PROGRESS = {
    "README.md": (
        "# tinyweather\n\nA forecast in the terminal: `tinyweather Paris`.\n\n"
        "Forecasts are cached for ten minutes (see cache.py).\n"
    )
}


def _git(repo: Path, *args: str, env: dict[str, str] | None = None) -> None:
    subprocess.run(
        ["git", "-c", "commit.gpgsign=false", "-c", "core.hooksPath=/dev/null", *args],
        cwd=repo,
        env=env,
        check=True,
        capture_output=True,
        timeout=GIT_TIMEOUT,
    )


def _write(repo: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (repo / name).write_text(text, encoding="utf-8")


def make_repo(repo: Path) -> Path:
    """Make the demo repository at `repo` (replacing one this script made there before)."""
    if repo.exists():
        if not (repo / MARKER).is_file():
            raise SystemExit(f"{repo} exists and was not made by this script; name another folder")
        shutil.rmtree(repo)
    repo.mkdir(parents=True)
    (repo / MARKER).write_text("made by examples/git/make_repo.py\n", encoding="utf-8")
    _git(repo, "init", "--quiet", "--initial-branch=main")
    (repo / ".git" / "info" / "exclude").write_text(MARKER + "\n", encoding="utf-8")
    for (name, email), date, message, files in HISTORY:
        _write(repo, files)
        _git(repo, "add", *files)
        env = {
            **os.environ,
            "GIT_AUTHOR_NAME": name,
            "GIT_AUTHOR_EMAIL": email,
            "GIT_AUTHOR_DATE": date,
            "GIT_COMMITTER_NAME": name,
            "GIT_COMMITTER_EMAIL": email,
            "GIT_COMMITTER_DATE": date,
        }
        _git(repo, "commit", "--quiet", "-m", message, env=env)
    _write(repo, IN_PROGRESS)
    return repo


if __name__ == "__main__":
    where = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.gettempdir()) / "agentkit-demo-repo"
    print(make_repo(where.resolve()))
