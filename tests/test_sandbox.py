"""The sandbox of `run_python` and `run_shell`: every escape and abuse case blocked, through
the real tools in a real bubblewrap; the network only when allowed; the modes."""

from __future__ import annotations

import json
import os
import shutil
import sys
import warnings
from pathlib import Path

import pytest

import agentkit.sandbox as sandbox
from agentkit import Agent
from agentkit.backends.scripted import ScriptedBackend
from agentkit.events import RunStarted
from agentkit.sandbox import SandboxPolicy, SandboxStatus, SandboxWarning, python_paths, sandbox_status
from agentkit.store import read_transcript
from agentkit.tools.tool import ToolError

from .sandbox_cases import CASES, TOOLS, Case, Env, connect_loopback

works = sandbox_status().available
needs_sandbox = pytest.mark.skipif(
    not works and not os.environ.get("CI"),  # CI installs bubblewrap: there it must work
    reason=f"no sandbox here: {sandbox_status().problem}",
)


@needs_sandbox
@pytest.mark.parametrize("tool", TOOLS)
@pytest.mark.parametrize(("name", "case"), CASES, ids=[name for name, _ in CASES])
async def test_the_sandbox_blocks(name: str, case: Case, tool: str, tmp_path: Path) -> None:
    env = Env(tmp_path, SandboxPolicy("required"))
    try:
        blocked, what = await case(env, TOOLS[tool])
    finally:
        await env.close()
    assert blocked, f"{name} through {tool}: {what}"


@needs_sandbox
@pytest.mark.parametrize("tool", TOOLS)
async def test_the_network_is_there_only_for_the_tools_allowed_it(tool: str, tmp_path: Path) -> None:
    other = next(t for t in TOOLS if t != tool)
    env = Env(tmp_path, SandboxPolicy("required", network=frozenset({tool})))
    try:
        allowed, what = await connect_loopback(env, TOOLS[tool])
        assert not allowed, what  # it connected: not "blocked"
        assert what == "connected to the host's server"
        denied, what = await connect_loopback(env, TOOLS[other])
        assert denied, what
    finally:
        await env.close()


@needs_sandbox
async def test_code_in_the_sandbox_has_agentkits_python_packages_and_its_workspace(tmp_path: Path) -> None:
    env = Env(tmp_path, SandboxPolicy("required"))
    try:
        code = "import os, pydantic\nopen('made.txt', 'w').write('x')\nprint(os.getcwd(), pydantic.VERSION)"
        result = await env.call(TOOLS["run_python"], code)
        shell = await env.call(
            TOOLS["run_shell"], "python3 -c 'import pydantic' && echo ok; echo y > sh.txt; pwd"
        )
    finally:
        await env.close()
    assert result.startswith(str(env.workspace) + " ")
    assert shell.splitlines()[1:] == ["ok", str(env.workspace)]
    for name in ("made.txt", "sh.txt"):  # the files are the user's, not nobody's
        assert (env.workspace / name).stat().st_uid == os.getuid()


def test_the_sandbox_mounts_no_home_folder_and_not_the_scripts_folder(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    home = str(Path.home())
    monkeypatch.setattr(sys, "path", [home, "/", os.getcwd(), *sys.path])
    mounted = python_paths()
    assert home not in mounted and "/" not in mounted and "/root" not in mounted
    assert os.getcwd() not in mounted or os.getcwd().startswith(sys.prefix)
    assert any(sys.base_prefix == p or sys.base_prefix.startswith(p + "/") for p in mounted) or (
        sys.base_prefix.startswith("/usr")
    )


@pytest.fixture
def no_sandbox(monkeypatch: pytest.MonkeyPatch) -> SandboxStatus:
    status = SandboxStatus(False, problem="bubblewrap (bwrap) is not installed")
    monkeypatch.setattr(sandbox, "_status", status)
    return status


async def test_required_without_a_sandbox_refuses_the_call_and_says_how_to_get_one(
    no_sandbox: SandboxStatus, tmp_path: Path
) -> None:
    env = Env(tmp_path, SandboxPolicy("required"))
    try:
        for tool in TOOLS.values():
            with pytest.raises(ToolError) as refused:  # the model gets this message as the call's error
                await env.call(tool, "echo hi" if tool.name == "run_shell" else "print('hi')")
            message = str(refused.value)
            assert message.startswith(f"{tool.name} is refused: the sandbox is required")
            assert "bubblewrap (bwrap) is not installed" in message and "apt install bubblewrap" in message
    finally:
        await env.close()
    assert not any(env.workspace.iterdir())


async def test_auto_without_a_sandbox_runs_the_code_and_warns_once(
    no_sandbox: SandboxStatus, tmp_path: Path
) -> None:
    env = Env(tmp_path, SandboxPolicy("auto"))
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert await env.call(TOOLS["run_python"], "print('ran')") == "ran"
            assert (await env.call(TOOLS["run_shell"], "echo ran")).endswith("ran")
    finally:
        await env.close()
    [warning] = [w for w in caught if issubclass(w.category, SandboxWarning)]
    text = str(warning.message)
    assert "without a sandbox" in text and "read every file" in text and "apt install bubblewrap" in text


def test_a_bubblewrap_that_cannot_sandbox_is_reported_with_its_words(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = Path(__file__).parent / "fake_bwrap"
    monkeypatch.setattr(shutil, "which", lambda name: str(fake))  # the module agentkit.sandbox uses
    status = sandbox._probe()
    assert not status.available
    assert (
        status.problem
        == "bubblewrap cannot make a sandbox here (bwrap: No permissions to create new namespace)"
    )
    assert status.fix.startswith("let bubblewrap make namespaces here")  # not "install it"


def test_the_policy_checks_its_arguments() -> None:
    with pytest.raises(ValueError, match="sandbox mode must be one of auto, required, off"):
        SandboxPolicy("strict")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="a list of tool names, not the string 'run_shell'"):
        SandboxPolicy.of("auto", "run_shell")
    policy = SandboxPolicy.of("auto", ["run_shell"])
    assert policy.network_for("run_shell") and not policy.network_for("run_python")
    with pytest.raises(ValueError, match="sandbox_network names run_shel, which this agent has no tool"):
        Agent(backend=ScriptedBackend(["Hi."]), builtins=["shell"], sandbox_network=["run_shel"])


async def test_a_run_names_its_sandbox_at_the_start_and_in_its_transcript(tmp_path: Path) -> None:
    script = [
        "<tool_call>\n"
        + json.dumps({"name": "run_shell", "arguments": {"command": "true"}})
        + "\n</tool_call>",
        "Done.",
    ]
    agent = Agent(
        backend=ScriptedBackend(script), builtins=["shell"], approval={"run_shell": "auto"},
        transcripts=tmp_path, sandbox="off",
    )  # fmt: skip
    events = [e async for e in agent.stream("go")]
    started = events[0]
    assert isinstance(started, RunStarted)
    assert started.sandbox == "off (--sandbox off): model-written code runs outside any sandbox"
    records = read_transcript(agent.last_transcript)  # type: ignore[arg-type]
    assert records[0]["config"]["sandbox"] == "off"
    assert next(r for r in records if r["type"] == "run_started")["sandbox"] == started.sandbox

    plain = Agent(backend=ScriptedBackend(["Hi."]), transcripts=False)
    events = [e async for e in plain.stream("go")]
    first = events[0]
    assert isinstance(first, RunStarted) and first.sandbox is None


@needs_sandbox
def test_a_working_sandbox_is_named_with_its_network() -> None:
    assert SandboxPolicy("auto").describe(["run_python"]).startswith("auto: bubblewrap")
    assert SandboxPolicy("auto").describe(["run_python"]).endswith("(network off)")
    on = SandboxPolicy("required", network=frozenset({"run_shell"})).describe(["run_python", "run_shell"])
    assert on.endswith("(network on for run_shell)")
