"""OpenTelemetry traces of real runs (scripted model, or the fault server over HTTP), read
from the SDK's in-memory exporter: the spans' names, nesting and GenAI attributes, usage,
errors, retries, contents only on request; and nothing of OpenTelemetry when it is off."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk", reason="the otel extra is not installed")

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from agentkit import Agent, RetryPolicy, ScriptedBackend, Telemetry, tool
from agentkit.errors import ConfigError, ModelError
from agentkit.events import StepStarted
from agentkit.telemetry import CAPTURE_CONTENT_ENV, TELEMETRY_ENV

from .fault_server import ANSWER, MODEL, FaultServer, Status

ROOT = Path(__file__).resolve().parents[1]

CALL = (
    '<think>\nadd them\n</think>\n\n<tool_call>\n{"name": "add", "arguments": {"a": 1, "b": 2}}\n</tool_call>'
)
CONTENT_KEYS = {
    "gen_ai.input.messages",
    "gen_ai.output.messages",
    "gen_ai.tool.call.arguments",
    "gen_ai.tool.call.result",
}


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@tool
def broken(x: int) -> str:
    """Always fails."""
    raise ValueError("no such x")


@pytest.fixture
def spans() -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider, exporter
    provider.shutdown()


@pytest.fixture(autouse=True)
def _no_content_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CAPTURE_CONTENT_ENV, raising=False)
    monkeypatch.delenv(TELEMETRY_ENV, raising=False)


def _adder(telemetry: Any) -> Agent:
    """An agent whose model calls `add` once, then answers."""
    return Agent(
        backend=ScriptedBackend([CALL, "It is 3."]), tools=[add], transcripts=False, telemetry=telemetry
    )


def _by_name(finished: Sequence[ReadableSpan]) -> dict[str, list[ReadableSpan]]:
    out: dict[str, list[ReadableSpan]] = {}
    for span in finished:
        out.setdefault(span.name, []).append(span)
    return out


def _attrs(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def _parent_id(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


async def test_a_run_is_an_agent_span_with_its_model_and_tool_calls_as_children(
    spans: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, exporter = spans
    result = await _adder(provider).run("What is 1 + 2?")
    assert result.output == "It is 3."

    found = _by_name(exporter.get_finished_spans())
    assert sorted(found) == ["chat", "execute_tool add", "invoke_agent agentkit"]
    (run,) = found["invoke_agent agentkit"]
    models = sorted(found["chat"], key=lambda s: _attrs(s)["agentkit.step"])
    (call,) = found["execute_tool add"]
    assert run.parent is None and run.kind is SpanKind.INTERNAL
    assert {_parent_id(s) for s in [*models, call]} == {run.context.span_id}
    assert {s.context.trace_id for s in [*models, call]} == {run.context.trace_id}
    assert [s.kind for s in models] == [SpanKind.CLIENT, SpanKind.CLIENT] and call.kind is SpanKind.INTERNAL

    assert _attrs(run) | {"gen_ai.conversation.id": "-"} == _attrs(run) | {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": "agentkit",
        "gen_ai.provider.name": "_OTHER",
        "agentkit.backend": "scripted",
        "agentkit.stop_reason": "answer",
        "agentkit.steps": 2,
        "gen_ai.conversation.id": "-",
    }
    assert _attrs(run)["gen_ai.conversation.id"] == result.run_id == _attrs(run)["agentkit.run.id"]
    first, second = (_attrs(s) for s in models)
    assert first["gen_ai.operation.name"] == "chat"
    assert (first["agentkit.thinking"], second["agentkit.thinking"]) == (True, False)
    assert first["agentkit.thinking.reason"] == result.steps[0].decision.reason
    assert first["agentkit.tool_calls"] == 1 and second["agentkit.tool_calls"] == 0
    assert _attrs(call) == {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "add",
        "gen_ai.tool.call.id": result.steps[0].message.tool_calls[0].id,
        "gen_ai.tool.type": "function",
        "agentkit.step": 1,
    }
    times = [(s.start_time or 0, s.end_time or 0) for s in (models[0], call, models[1])]
    # the call starts once the model has written it (the model may still be writing on), and
    # the next model call waits for its result
    assert times[0][0] <= times[1][0] <= times[1][1] <= times[2][0]
    assert all(start <= end for start, end in times)
    assert all(s.status.status_code is StatusCode.UNSET for s in [run, *models, call])
    every = {key for span in exporter.get_finished_spans() for key in _attrs(span)}
    assert not every & CONTENT_KEYS  # no message content unless asked for


async def test_a_server_run_has_model_names_usage_and_address_and_the_run_sums_its_usage(
    spans: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, exporter = spans
    async with FaultServer(calls=2, tool="step") as server:

        @tool
        def step(n: int) -> str:
            """Do step n."""
            return f"did {n}"

        agent = Agent(base_url=server.base_url, tools=[step], transcripts=False, telemetry=provider)
        result = await agent.run("Do two steps.")
    assert result.output == ANSWER and len(result.steps) == 3

    found = _by_name(exporter.get_finished_spans())
    models = sorted(found[f"text_completion {MODEL}"], key=lambda s: _attrs(s)["agentkit.step"])
    (run,) = found["invoke_agent agentkit"]
    assert len(models) == 3 and len(found["execute_tool step"]) == 2
    for span, record in zip(models, result.steps, strict=True):
        attrs = _attrs(span)
        assert attrs["gen_ai.operation.name"] == "text_completion"
        assert attrs["gen_ai.provider.name"] == "vllm"
        assert attrs["gen_ai.response.model"] == MODEL
        assert attrs["gen_ai.usage.input_tokens"] == record.usage.prompt_tokens > 0
        assert attrs["gen_ai.usage.output_tokens"] == record.usage.completion_tokens > 0
        assert attrs["gen_ai.response.finish_reasons"] == (record.finish_reason,)
        assert attrs["server.address"] == "127.0.0.1" and attrs["server.port"] == server.port
    assert _attrs(run)["gen_ai.usage.input_tokens"] == result.usage.prompt_tokens
    assert _attrs(run)["gen_ai.usage.output_tokens"] == result.usage.completion_tokens
    assert _attrs(run)["gen_ai.response.model"] == MODEL and _attrs(run)["gen_ai.provider.name"] == "vllm"


async def test_a_retried_model_request_is_an_event_on_its_model_span(
    spans: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, exporter = spans
    async with FaultServer(calls=0, plan=[Status(503)]) as server:
        agent = Agent(
            base_url=server.base_url,
            retry=RetryPolicy(base=0.01),
            transcripts=False,
            telemetry=provider,
        )
        result = await agent.run("Answer.")
    assert result.ok

    (model,) = _by_name(exporter.get_finished_spans())[f"text_completion {MODEL}"]
    (retry,) = model.events
    assert retry.name == "agentkit.model_retry"
    attrs = dict(retry.attributes or {})
    assert attrs["agentkit.retry.attempt"] == 2 and "503" in str(attrs["agentkit.retry.reason"])
    assert _attrs(model)["agentkit.retries"] == 1 and model.status.status_code is StatusCode.UNSET


async def test_a_failing_tool_and_an_unreadable_call_are_error_spans_and_the_run_goes_on(
    spans: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, exporter = spans
    turns = [
        '<tool_call>\n{"name": "broken", "arguments": {"x": 1}}\n</tool_call>\n'
        "<tool_call>\n{not json}\n</tool_call>",
        "Sorry, it failed.",
    ]
    agent = Agent(backend=ScriptedBackend(turns), tools=[broken], transcripts=False, telemetry=provider)
    result = await agent.run("Try it.")
    assert result.ok

    found = _by_name(exporter.get_finished_spans())
    (failed,) = found["execute_tool broken"]
    assert failed.status.status_code is StatusCode.ERROR
    assert _attrs(failed)["error.type"] == "tool_error"
    (unreadable,) = found["execute_tool"]
    assert unreadable.status.status_code is StatusCode.ERROR
    assert _attrs(unreadable)["error.type"] == "invalid_tool_call"
    (run,) = found["invoke_agent agentkit"]
    assert run.status.status_code is StatusCode.UNSET and _attrs(run)["agentkit.stop_reason"] == "answer"


async def test_a_failed_run_ends_its_model_span_and_its_own_in_error(
    spans: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, exporter = spans
    agent = Agent(backend=ScriptedBackend([]), transcripts=False, telemetry=provider)
    with pytest.raises(ModelError):
        await agent.run("Anything.")

    found = _by_name(exporter.get_finished_spans())
    (model,) = found["chat"]
    (run,) = found["invoke_agent agentkit"]
    for span in (model, run):
        assert span.status.status_code is StatusCode.ERROR
        assert _attrs(span)["error.type"] == "ModelError"
        assert "ran out of turns" in (span.status.description or "")
    assert _attrs(run)["agentkit.stop_reason"] == "error"


async def test_a_run_broken_by_the_applications_own_code_ends_its_span_in_error_naming_the_exception(
    spans: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, exporter = spans

    def policy(context: Any) -> bool:
        raise ZeroDivisionError("the policy's own bug")

    agent = Agent(backend=ScriptedBackend(["Hi."]), thinking=policy, transcripts=False, telemetry=provider)
    with pytest.raises(ZeroDivisionError):
        await agent.run("Say hi.")

    (run,) = _by_name(exporter.get_finished_spans())["invoke_agent agentkit"]
    assert run.status.status_code is StatusCode.ERROR and run.status.description == "the policy's own bug"
    assert _attrs(run)["error.type"] == "ZeroDivisionError" and _attrs(run)["agentkit.stop_reason"] == "error"


async def test_a_run_closed_early_ends_its_spans_as_interrupted(
    spans: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, exporter = spans
    stream = _adder(provider).stream("What is 1 + 2?")
    async for event in stream:
        if isinstance(event, StepStarted):
            break
    await stream.aclose()

    found = _by_name(exporter.get_finished_spans())
    (run,) = found["invoke_agent agentkit"]
    assert _attrs(run)["agentkit.stop_reason"] == "interrupted"
    assert run.status.status_code is StatusCode.UNSET
    assert len(found["chat"]) == 1  # the model call it was in, ended too


async def test_a_run_inside_the_applications_span_is_its_child(
    spans: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, exporter = spans
    agent = Agent(backend=ScriptedBackend(["Hi."]), transcripts=False, telemetry=provider)
    with provider.get_tracer("app").start_as_current_span("request") as outer:
        await agent.run("Say hi.")
    (run,) = _by_name(exporter.get_finished_spans())["invoke_agent agentkit"]
    assert _parent_id(run) == outer.get_span_context().span_id


@pytest.mark.parametrize("how", ["argument", "environment"])
async def test_contents_are_recorded_only_when_asked_for(
    spans: tuple[TracerProvider, InMemorySpanExporter], monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    provider, exporter = spans
    if how == "environment":
        monkeypatch.setenv(CAPTURE_CONTENT_ENV, "span_only")
        setting: Any = Telemetry(provider, agent_name="adder")
    else:
        setting = Telemetry(provider, capture_content=True, agent_name="adder")
    await _adder(setting).run("What is 1 + 2?")

    found = _by_name(exporter.get_finished_spans())
    (run,) = found["invoke_agent adder"]
    assert json.loads(_attrs(run)["gen_ai.input.messages"]) == [
        {"role": "user", "parts": [{"type": "text", "content": "What is 1 + 2?"}]}
    ]
    assert json.loads(_attrs(run)["gen_ai.output.messages"])[0]["parts"] == [
        {"type": "text", "content": "It is 3."}
    ]
    first = min(found["chat"], key=lambda s: _attrs(s)["agentkit.step"])
    (said,) = json.loads(_attrs(first)["gen_ai.output.messages"])
    assert said["parts"][0] == {"type": "reasoning", "content": "add them"}
    assert said["parts"][1]["type"] == "tool_call" and said["parts"][1]["arguments"] == {"a": 1, "b": 2}
    (call,) = found["execute_tool add"]
    assert json.loads(_attrs(call)["gen_ai.tool.call.arguments"]) == {"a": 1, "b": 2}
    assert _attrs(call)["gen_ai.tool.call.result"] == "3"


def test_telemetry_off_adds_nothing_to_a_run() -> None:
    agent = Agent(backend=ScriptedBackend(["Hi."]), transcripts=False)
    assert agent._tracer is None


def test_a_run_with_telemetry_off_imports_nothing_of_opentelemetry() -> None:
    code = (
        "import sys\n"
        "from agentkit import Agent, ScriptedBackend\n"
        "agent = Agent(backend=ScriptedBackend(['Hi.']), transcripts=False, telemetry=False)\n"
        "assert agent.run_sync('Say hi.').output == 'Hi.'\n"
        "print(sorted(m for m in sys.modules if m.startswith(('opentelemetry', 'agentkit.telemetry'))))"
    )
    env = {k: v for k, v in os.environ.items() if k != TELEMETRY_ENV}
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        capture_output=True, text=True, timeout=60, env=env, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    assert "opentelemetry" not in done.stderr  # the import-time report lists every module loaded


def test_enabled_without_opentelemetry_installed_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry", None)  # as if not installed
    with pytest.raises(ConfigError, match=r"pip install 'agentkit\[otel\]'"):
        Agent(backend=ScriptedBackend(["Hi."]), transcripts=False, telemetry=True)


@pytest.mark.parametrize(("name", "value"), [(TELEMETRY_ENV, "maybe"), (CAPTURE_CONTENT_ENV, "lots")])
def test_a_switch_set_to_neither_on_nor_off_is_refused_naming_it(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    provider = TracerProvider()
    with pytest.raises(ConfigError, match=f"{name}='{value}' is neither on nor off"):
        Agent(
            backend=ScriptedBackend(["Hi."]),
            transcripts=False,
            telemetry=None if name == TELEMETRY_ENV else provider,
        )


def test_telemetry_takes_a_tracer_provider_or_says_what_it_takes() -> None:
    with pytest.raises(TypeError, match="TracerProvider"):
        Agent(backend=ScriptedBackend(["Hi."]), transcripts=False, telemetry="yes")


def test_the_environment_switch_sets_up_the_sdk_and_spans_are_flushed_at_exit() -> None:
    code = (
        "from agentkit import Agent, ScriptedBackend\n"
        "agent = Agent(backend=ScriptedBackend(['Hi.']), transcripts=False)\n"
        "print(agent.run_sync('Say hi.').output)\n"
    )
    env = {**os.environ, TELEMETRY_ENV: "1", "OTEL_TRACES_EXPORTER": "console", "OTEL_SERVICE_NAME": "svc-x"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "Hi.\n"  # stdout is the program's: the console exporter writes to stderr
    assert '"name": "invoke_agent agentkit"' in done.stderr and '"name": "chat"' in done.stderr
    assert '"service.name": "svc-x"' in done.stderr


def test_a_collector_that_does_not_answer_is_one_line_naming_it_and_the_fix() -> None:
    with socket.socket() as sock:  # a loopback port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    code = (
        "from agentkit import Agent, ScriptedBackend\n"
        "agent = Agent(backend=ScriptedBackend(['Hi.']), transcripts=False, telemetry=True)\n"
        "print(agent.run_sync('Say hi.').output)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env |= {"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}", "OTEL_EXPORTER_OTLP_TIMEOUT": "2"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env, cwd=ROOT
    )
    assert done.returncode == 0 and done.stdout == "Hi.\n", done.stderr
    (line,) = done.stderr.splitlines()
    assert line.startswith(
        f"traces could not be sent to http://127.0.0.1:{port} ([Errno 111] Connection refused)"
    )
    assert "OTEL_EXPORTER_OTLP_ENDPOINT" in line and "OTEL_TRACES_EXPORTER=console" in line


def test_the_global_provider_is_the_one_used_when_the_application_set_it() -> None:
    code = (
        "from opentelemetry import trace\n"
        "from opentelemetry.sdk.trace import TracerProvider\n"
        "from opentelemetry.sdk.trace.export import SimpleSpanProcessor\n"
        "from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter\n"
        "from agentkit import Agent, ScriptedBackend\n"
        "exporter = InMemorySpanExporter()\n"
        "provider = TracerProvider()\n"
        "provider.add_span_processor(SimpleSpanProcessor(exporter))\n"
        "trace.set_tracer_provider(provider)\n"
        "Agent(backend=ScriptedBackend(['Hi.']), transcripts=False, telemetry=True).run_sync('Say hi.')\n"
        "print(sorted(s.name for s in exporter.get_finished_spans()))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT,
        env={k: v for k, v in os.environ.items() if not k.startswith("OTEL_")},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['chat', 'invoke_agent agentkit']"


async def test_an_approval_is_an_event_on_its_tool_span(
    spans: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, exporter = spans
    asked: list[str] = []

    def refuse(call: Any, item: Any) -> bool:
        asked.append(call.name)
        return False

    agent = Agent(
        backend=ScriptedBackend([CALL, "I may not add."]),
        tools=[add],
        approval={"add": "ask"},
        approve=refuse,
        transcripts=False,
        telemetry=provider,
    )
    assert (await agent.run("What is 1 + 2?")).ok and asked == ["add"]
    (call,) = _by_name(exporter.get_finished_spans())["execute_tool add"]
    (event,) = [e for e in call.events if e.name == "agentkit.approval"]
    attributes = dict(event.attributes or {})
    assert attributes | {"agentkit.approval.waited": 0} == {
        "agentkit.approval.policy": "ask",
        "agentkit.approval.allowed": False,
        "agentkit.approval.decided_by": "approver",
        "agentkit.approval.reason": "the user did not allow this call to add. "
        "Do not repeat it; go on without it or ask the user.",
        "agentkit.approval.waited": 0,
    }
    waited = attributes["agentkit.approval.waited"]
    assert isinstance(waited, float) and waited >= 0
    assert call.status.status_code is StatusCode.ERROR  # the refused call answered with an error
