"""The git example of examples/README.md, run offline exactly as written: it starts
mcp-server-git (hence here, among the tests that start real servers)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from ..examples_readme import examples, run_offline, script_answer

GIT = "A git repository explained through `mcp-server-git`"


def test_git_repository_is_explained_from_what_the_git_server_said(tmp_path: Path) -> None:
    pytest.importorskip("mcp_server_git")
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    example = examples()[GIT]
    ran = run_offline(example, tmp_path)

    assert (tmp_path / "tmp" / "agentkit-demo-repo" / ".git").is_dir(), "the repository was made under TMPDIR"
    answer = script_answer(example)
    assert ran.stdout.strip() == answer.strip()
    ((_, log),) = ran.results("git__git_log")
    ((_, status),) = ran.results("git__git_status")
    ((_, diff),) = ran.results("git__git_diff_unstaged")

    commits = re.findall(r"^\d\. `([0-9a-f]{7})` ([^:]+): \*([^*]+)\*", answer, re.MULTILINE)
    assert len(commits) == 4
    entries = log.split("Commit: ")[1:]
    assert len(entries) == len(commits)
    for (short, author, message), entry in zip(commits, reversed(entries), strict=True):
        assert entry.startswith(short), f"{short} is not the commit the log shows there"
        assert f"Author: {author}\n" in entry
        assert f"Message: {message}\n" in entry
    assert re.search(r"modified:\s+README\.md", status)
    (quoted,) = re.findall(r'"([^"]+)"', answer)
    assert f"\n+{quoted}" in diff
