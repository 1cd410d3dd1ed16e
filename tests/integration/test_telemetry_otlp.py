"""`agentkit run --otel` (and `chat`, `batch`) send their spans over OTLP/HTTP where
`OTEL_EXPORTER_OTLP_ENDPOINT` points: a receiver on loopback decodes what arrives (the
protobuf `ExportTraceServiceRequest`) and finds the run, its model calls and its tool call,
nested, with their GenAI attributes, the service name and a retry."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("opentelemetry.proto", reason="the otel extra is not installed")

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from ..fault_server import ANSWER, MODEL, FaultServer, Status

CLI_TIMEOUT = 120.0
"""Seconds the CLI may take for a two-step run and sending its spans at exit."""
RECEIVER_STOP_TIMEOUT = 5.0
"""Seconds the receiver's thread may take to stop."""

STEP_TOOL = '''from agentkit import tool


@tool
def step(n: int) -> str:
    """Do step n."""
    return f"did {n}"
'''


class _Receiver(BaseHTTPRequestHandler):
    """An OTLP/HTTP trace receiver: each POST /v1/traces decoded and kept."""

    received: list[ExportTraceServiceRequest]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.path != "/v1/traces":
            self.send_error(404)
            return
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        self.server.received.append(ExportTraceServiceRequest.FromString(body))  # type: ignore[attr-defined]
        answer = ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[ExportTraceServiceRequest]]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    server.received = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", server.received  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(RECEIVER_STOP_TIMEOUT)


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_value(v) for v in value.array_value.values]
    return getattr(value, kind) if kind else None


def _attrs(items: Any) -> dict[str, Any]:
    return {item.key: _value(item.value) for item in items if isinstance(item, KeyValue)}


@pytest.mark.parametrize("command", ["run", "chat", "batch"])
def test_the_cli_sends_a_runs_spans_over_otlp_http_with_their_genai_attributes(
    tmp_path: Path, receiver: tuple[str, list[ExportTraceServiceRequest]], command: str
) -> None:
    endpoint, received = receiver
    tools = tmp_path / "steptools.py"
    tools.write_text(STEP_TOOL)
    (tmp_path / "tasks.jsonl").write_text('"Do one step."\n')
    words, typed = {
        "run": (["run", "Do one step."], None),
        "chat": (["chat"], "Do one step.\n"),
        "batch": (["batch", str(tmp_path / "tasks.jsonl"), "-o", str(tmp_path / "out.jsonl")], None),
    }[command]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AGENTKIT_OTEL"))}
    env |= {"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_SERVICE_NAME": "agentkit-otlp-test"}
    with FaultServer(calls=1, tool="step", plan=[Status(503)]).in_thread() as server:
        done = subprocess.run(
            [sys.executable, "-m", "agentkit.cli", *words, "--base-url", server.base_url,
             "--tools", str(tools), "--runs-dir", str(tmp_path / "runs"), "--otel"],
            input=typed, capture_output=True, text=True, timeout=CLI_TIMEOUT, env=env,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert ANSWER in done.stdout or command == "batch"

    spans: list[Span] = []
    for request in received:
        for resource in request.resource_spans:
            assert _attrs(resource.resource.attributes)["service.name"] == "agentkit-otlp-test"
            for scope in resource.scope_spans:
                assert scope.scope.name == "agentkit"
                spans += scope.spans
    named = {span.name: span for span in spans}
    assert sorted(s.name for s in spans) == sorted(
        ["invoke_agent agentkit", f"text_completion {MODEL}", f"text_completion {MODEL}", "execute_tool step"]
    )
    run = named["invoke_agent agentkit"]
    models = sorted(
        (s for s in spans if s.name.startswith("text_completion")),
        key=lambda s: _attrs(s.attributes)["agentkit.step"],
    )
    call = named["execute_tool step"]
    assert run.parent_span_id == b"" and run.kind == Span.SPAN_KIND_INTERNAL
    assert {s.parent_span_id for s in [*models, call]} == {run.span_id}
    assert {s.trace_id for s in spans} == {run.trace_id}
    assert [s.kind for s in models] == [Span.SPAN_KIND_CLIENT] * 2 and call.kind == Span.SPAN_KIND_INTERNAL

    ran = _attrs(run.attributes)
    assert ran["gen_ai.operation.name"] == "invoke_agent" and ran["gen_ai.provider.name"] == "vllm"
    assert ran["agentkit.stop_reason"] == "answer" and ran["gen_ai.response.model"] == MODEL
    firsts = [_attrs(s.attributes) for s in models]
    for attrs in firsts:
        assert attrs["gen_ai.operation.name"] == "text_completion" and attrs["gen_ai.request.model"] == MODEL
        assert attrs["gen_ai.usage.input_tokens"] > 0 and attrs["gen_ai.usage.output_tokens"] > 0
        assert attrs["server.address"] == "127.0.0.1" and attrs["server.port"] == server.port
    assert ran["gen_ai.usage.input_tokens"] == sum(a["gen_ai.usage.input_tokens"] for a in firsts)
    assert ran["gen_ai.usage.output_tokens"] == sum(a["gen_ai.usage.output_tokens"] for a in firsts)
    assert [a["agentkit.thinking"] for a in firsts] == [True, False]
    assert [e.name for e in models[0].events] == ["agentkit.model_retry"]  # the 503 of the first request
    assert "503" in _attrs(models[0].events[0].attributes)["agentkit.retry.reason"]
    called = _attrs(call.attributes)
    assert called["gen_ai.tool.name"] == "step" and called["gen_ai.tool.call.id"]
    assert not {k for s in spans for k in _attrs(s.attributes)} & {
        "gen_ai.input.messages",
        "gen_ai.tool.call.result",
    }


def test_otel_asked_for_without_its_packages_is_refused_naming_the_extra(tmp_path: Path) -> None:
    blocker = tmp_path / "blocked"
    blocker.mkdir()
    (blocker / "opentelemetry.py").write_text("raise ImportError('not installed here')\n")
    (tmp_path / "turns.json").write_text('["Hi."]')
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(blocker), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(
        [sys.executable, "-m", "agentkit.cli", "run", "hi", "--backend", "scripted", "--script", "turns.json",
         "--otel"],
        capture_output=True, text=True, timeout=CLI_TIMEOUT, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 2
    assert "pip install 'agentkit[otel]'" in " ".join(done.stderr.replace("│", " ").split())
