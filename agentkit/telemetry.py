"""OpenTelemetry traces of runs, optional (`pip install 'agentkit[otel]'`).

A run is traced when it is asked for: `Agent(telemetry=True)` (or a `TracerProvider`, or a
`Telemetry`), `AGENTKIT_OTEL=1` in the environment, or `agentkit run --otel` (also `chat`
and `batch`). Otherwise nothing of OpenTelemetry is imported and a run does no work for it.

The spans follow the OpenTelemetry GenAI semantic conventions:

- `invoke_agent {gen_ai.agent.name}` (kind INTERNAL), one per run (a chat's turn, a batch's
  task): `gen_ai.operation.name` "invoke_agent", `gen_ai.provider.name`,
  `gen_ai.agent.name`, `gen_ai.conversation.id` (the run id; a chat's turns share it),
  `gen_ai.request.model`, `gen_ai.response.model`, `gen_ai.usage.input_tokens` and
  `gen_ai.usage.output_tokens` (summed over the run's model calls), and agentkit's own
  `agentkit.run.id`, `agentkit.backend`, `agentkit.resumed`, `agentkit.steps`,
  `agentkit.stop_reason`.
- `{gen_ai.operation.name} {gen_ai.request.model}` (kind CLIENT), one per model call, a
  child of the run's span: the operation is "text_completion" for the completions backend
  (agentkit renders the prompt) and "chat" otherwise; `gen_ai.request.model`,
  `gen_ai.response.model`, `gen_ai.response.finish_reasons`, `gen_ai.usage.input_tokens`,
  `gen_ai.usage.output_tokens`, `gen_ai.usage.cache_read.input_tokens`, `server.address`,
  `server.port`; the step's thinking decision as `agentkit.step`, `agentkit.thinking`,
  `agentkit.thinking.reason`, `agentkit.thinking.budget`; each retry as an
  `agentkit.model_retry` event (`agentkit.retry.attempt`, `.wait`, `.reason`, `.restart`),
  a compaction before the call as an `agentkit.compacted` event.
- `execute_tool {gen_ai.tool.name}` (kind INTERNAL), one per tool call, a child of the run's
  span: `gen_ai.tool.name`, `gen_ai.tool.call.id`, `gen_ai.tool.type` ("function"),
  `agentkit.step`, and `agentkit.tool.reused` when an earlier call's outcome answers it.

A span that ended in an error has status ERROR and `error.type`: the error's class for a
failed run and its model call (`ModelError`, `ModelUnreachable`, `ContextOverflow`, ...),
"tool_error" for a tool call answered with an error (an exception, a timeout, arguments
that do not fit, a refusal), "invalid_tool_call" for a call that could not be read. A run
that stopped at a limit is no error: `agentkit.stop_reason` says why it stopped.

Message contents are not recorded, as the conventions advise: they may hold personal data.
`Telemetry(capture_content=True)` or `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true`
(or `span_only`, `span_and_event`) adds `gen_ai.input.messages` and `gen_ai.output.messages`
(JSON, in the conventions' shape) to run and model spans, and `gen_ai.tool.call.arguments`
and `gen_ai.tool.call.result` to tool spans.

Where the spans go: the `TracerProvider` given, else the global one when the application
has set one, else agentkit sets up the SDK once (made global) with the exporter the standard
environment variables ask for: OTLP over HTTP by default (`OTEL_EXPORTER_OTLP_ENDPOINT`,
`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, `OTEL_EXPORTER_OTLP_HEADERS`, ...), `grpc` with
`OTEL_EXPORTER_OTLP_PROTOCOL=grpc` (and its exporter installed), `console` or `none` by
`OTEL_TRACES_EXPORTER`; service name `OTEL_SERVICE_NAME`, else "agentkit". Spans are sent
in batches in the background and the rest when the process exits, each request bounded
by `OTEL_EXPORTER_OTLP_TIMEOUT` (10 s by default).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import sys
import time
from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Union
from urllib.parse import urlsplit

from agentkit.defaults import TELEMETRY_ENV
from agentkit.errors import ConfigError
from agentkit.events import (
    Compacted,
    Event,
    ModelRetry,
    OutputRejected,
    RunFailed,
    RunFinished,
    RunStarted,
    ServerStatus,
    StepFinished,
    StepStarted,
    ToolApproval,
    ToolCallFinished,
    ToolCallStarted,
    TurnFinished,
)
from agentkit.messages import AssistantMessage, Message, ToolCallError, ToolMessage

__all__ = ["CAPTURE_CONTENT_ENV", "TELEMETRY_ENV", "RunTracer", "Telemetry", "TelemetryLike", "tracer_for"]

CAPTURE_CONTENT_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
"""The conventions' switch for recording message contents on spans."""

INSTALL_HINT = "pip install 'agentkit[otel]'"

_ON = {"1", "true", "yes", "on"}
_OFF = {"", "0", "false", "no", "off"}
_CAPTURE_ON = _ON | {"span_only", "span_and_event"}
_CAPTURE_OFF = _OFF | {"no_content", "event_only"}

_OPERATIONS = {"completions": "text_completion"}
"""`gen_ai.operation.name` of a model call by backend name; any other backend: "chat"."""

_PROVIDERS = {"vLLM": "vllm", "llama-cpp-python": "llama_cpp", "llama.cpp's server": "llama_cpp"}
_PROVIDERS |= {"SGLang": "sglang", "Ollama": "ollama"}
"""`gen_ai.provider.name` by the kind of server a backend found (`ServerKind.name`); a server
of unknown kind, or a backend with none (scripted), is "_OTHER", as the conventions say."""


@dataclass(frozen=True)
class Telemetry:
    """How an agent's runs are traced (see the module's text for the spans).

    Attributes:
        tracer_provider: Where the spans go: an OpenTelemetry `TracerProvider`; None: the
            global one, or the SDK set up from the `OTEL_*` environment variables.
        capture_content: Record message contents, tool arguments and results on the
            spans; None: as `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT` says
            (off when unset).
        agent_name: `gen_ai.agent.name`, in the run span's name.
    """

    tracer_provider: Any = None
    capture_content: bool | None = None
    agent_name: str = "agentkit"


TelemetryLike = Union[bool, Telemetry, Any, None]
"""What `Agent(telemetry=...)` takes: True, False, a `Telemetry`, a `TracerProvider`, or None
(on when `AGENTKIT_OTEL` is set to 1)."""


def tracer_for(setting: TelemetryLike) -> RunTracer | None:
    """The tracer of an agent's runs, or None when tracing is off (nothing is imported).

    Raises:
        ConfigError: Tracing is asked for and OpenTelemetry is not installed, or an
            environment variable holds a value it does not take.
    """
    if setting is None:
        setting = _switch(TELEMETRY_ENV, _ON, _OFF, "1 or 0")
    if setting is False:
        return None
    if setting is True:
        setting = Telemetry()
    elif not isinstance(setting, Telemetry):
        if not callable(getattr(setting, "get_tracer", None)):
            raise TypeError(
                "telemetry must be True, False, a Telemetry or an OpenTelemetry TracerProvider, got "
                f"{type(setting).__name__}"
            )
        setting = Telemetry(tracer_provider=setting)
    return RunTracer(setting)


def _switch(name: str, on: set[str], off: set[str], takes: str) -> bool:
    value = os.environ.get(name, "").strip().lower()
    if value in on:
        return True
    if value in off:
        return False
    raise ConfigError(f"{name}={os.environ[name]!r} is neither on nor off; set it to {takes}")


class RunTracer:
    """Turns each run's events into spans (made by `tracer_for`)."""

    def __init__(self, settings: Telemetry) -> None:
        try:
            from opentelemetry import trace
        except ImportError:
            raise ConfigError(
                f"tracing with OpenTelemetry needs its packages: {INSTALL_HINT} (or turn it off: "
                f"unset {TELEMETRY_ENV}, leave out --otel, Agent(telemetry=False))"
            ) from None
        from agentkit import __version__

        provider = settings.tracer_provider or _provider()
        self.tracer = provider.get_tracer("agentkit", __version__)
        self.trace = trace
        self.settings = settings
        self.capture = (
            settings.capture_content
            if settings.capture_content is not None
            else _switch(CAPTURE_CONTENT_ENV, _CAPTURE_ON, _CAPTURE_OFF, "true or false")
        )

    async def traced(
        self,
        events: AsyncGenerator[Event, None],
        *,
        run_id: str,
        backend: Any,
        model: str | None,
        messages: Sequence[Message],
    ) -> AsyncGenerator[Event, None]:
        """`events`, passed on as they come, each one noted on the run's spans; spans left
        open when the run ends early (cancelled, closed) are ended then."""
        spans = _RunSpans(self, run_id, backend, model, messages)
        outcome: BaseException | None = None
        try:
            async with contextlib.aclosing(events) as inner:
                async for event in inner:
                    note = spans.notes.get(type(event))
                    if note is not None:
                        note(event)
                    yield event
        except BaseException as exc:
            outcome = exc
            raise
        finally:
            spans.close(outcome)


def _provider() -> Any:
    """The global `TracerProvider` when the application has set one; else the SDK, set up
    once from the `OTEL_*` environment variables and made the global one."""
    from opentelemetry import trace

    current = trace.get_tracer_provider()
    if not isinstance(current, trace.ProxyTracerProvider):
        return current
    try:
        from opentelemetry.sdk.resources import SERVICE_NAME, Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        raise ConfigError(
            f"no OpenTelemetry tracer provider is set, and the SDK that agentkit would set up is not "
            f"installed: {INSTALL_HINT}"
        ) from None
    resource = Resource.create()
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: "agentkit"}))
    provider = TracerProvider(resource=resource)
    exporters = _exporters()
    for exporter in exporters:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    if exporters:
        _report_export_trouble()
    trace.set_tracer_provider(provider)
    return trace.get_tracer_provider()


def _exporters() -> list[Any]:
    """The span exporters `OTEL_TRACES_EXPORTER` names (default: OTLP, over the protocol
    `OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL` names, HTTP by default)."""
    names = [
        n.strip() for n in os.environ.get("OTEL_TRACES_EXPORTER", "otlp").lower().split(",") if n.strip()
    ]
    out: list[Any] = []
    for name in names:
        if name == "none":
            continue
        if name == "console":
            from opentelemetry.sdk.trace.export import ConsoleSpanExporter

            out.append(ConsoleSpanExporter(out=sys.stderr))  # stdout is the answer's
        elif name == "otlp":
            out.append(_otlp_exporter())
        else:
            raise ConfigError(f"OTEL_TRACES_EXPORTER names {name!r}; agentkit sets up otlp, console or none")
    return out


def _otlp_exporter() -> Any:
    protocol = (
        os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or "http/protobuf"
    ).strip()
    if protocol == "grpc":
        try:
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
        except ImportError:
            raise ConfigError(
                "OTEL_EXPORTER_OTLP_PROTOCOL=grpc needs the gRPC exporter: "
                "pip install opentelemetry-exporter-otlp-proto-grpc (or use http/protobuf)"
            ) from None
        return OTLPSpanExporter()
    if protocol != "http/protobuf":
        raise ConfigError(
            f"OTLP protocol {protocol!r} is not one agentkit sets up; use http/protobuf or grpc"
        )
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter
    except ImportError:
        raise ConfigError(f"the OTLP exporter is not installed: {INSTALL_HINT}") from None
    return HttpExporter()


_log = logging.getLogger("agentkit.telemetry")


class _ExportTrouble(logging.Filter):
    """Turns the OTLP exporter's log lines (a retry per attempt, the library's own wording)
    into one agentkit warning that names the endpoint and what to do; the rest are dropped."""

    def __init__(self) -> None:
        super().__init__()
        self.told = False

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        if not self.told:
            self.told = True
            text = record.getMessage()
            errno = re.search(r"\[Errno -?\d+\][^'\")]*", text)
            reason = errno.group(0) if errno else text[:160]
            endpoint = (
                os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
                or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
                or "the default endpoint (http://localhost:4318)"
            )
            _log.warning(
                "traces could not be sent to %s (%s): start an OTLP collector there, point "
                "OTEL_EXPORTER_OTLP_ENDPOINT at yours, or set OTEL_TRACES_EXPORTER=console (or none); "
                "the last spans are retried for up to OTEL_EXPORTER_OTLP_TIMEOUT seconds (10) at exit",
                endpoint,
                reason,
            )
        return False


def _report_export_trouble() -> None:
    """Puts one `_ExportTrouble` on each OpenTelemetry exporter logger made so far (the
    exporters are imported by now, and a filter acts only on its own logger's records)."""
    trouble = _ExportTrouble()
    for name in list(logging.root.manager.loggerDict):
        if name.startswith("opentelemetry.exporter"):
            logging.getLogger(name).addFilter(trouble)


class _RunSpans:
    """One run's spans: the run's, its model call's in progress, its tool calls' running."""

    def __init__(
        self, owner: RunTracer, run_id: str, backend: Any, model: str | None, messages: Sequence[Message]
    ) -> None:
        self.owner = owner
        self.tracer = owner.tracer
        self.capture = owner.capture
        self.backend = backend
        self.server = getattr(backend, "server", None)
        self.operation = _OPERATIONS.get(getattr(backend, "name", ""), "chat")
        self.messages = messages
        self.requested = model
        self.model: Any = None
        self.tools: dict[str, tuple[Any, int]] = {}
        self.input_tokens = self.output_tokens = self.calls = self.retries = 0
        self.named = False
        self.ended = False
        kind = owner.trace.SpanKind
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.provider.name": self.provider(),
            "gen_ai.agent.name": owner.settings.agent_name,
            "gen_ai.conversation.id": run_id,
            "agentkit.run.id": run_id,
        }
        if self.requested_model():
            attributes["gen_ai.request.model"] = self.requested_model()
        if self.capture:
            attributes["gen_ai.input.messages"] = _messages_json(messages)
        self.run = self.tracer.start_span(
            f"invoke_agent {owner.settings.agent_name}".strip(), kind=kind.INTERNAL, attributes=attributes
        )
        self.context = owner.trace.set_span_in_context(self.run)
        self.client, self.internal = kind.CLIENT, kind.INTERNAL
        self.notes: dict[type, Callable[[Any], None]] = {
            RunStarted: self.started,
            StepStarted: self.step_started,
            ModelRetry: self.retried,
            Compacted: self.compacted,
            TurnFinished: self.turn_finished,
            ToolCallStarted: self.tool_started,
            ToolApproval: self.tool_approval,
            ToolCallFinished: self.tool_finished,
            StepFinished: self.step_finished,
            OutputRejected: self.output_rejected,
            ServerStatus: self.server_status,
            RunFinished: self.finished,
            RunFailed: self.failed,
        }

    def requested_model(self) -> str | None:
        return self.requested or getattr(self.server, "model", None)

    def provider(self) -> str:
        kind = getattr(self.server, "kind", None)
        return _PROVIDERS.get(getattr(kind, "name", ""), "_OTHER")

    def started(self, event: RunStarted) -> None:
        self.run.set_attributes(
            {
                "agentkit.backend": event.backend,
                "agentkit.resumed": event.resumed,
                "agentkit.first_step": event.first_step,
            }
        )

    def step_started(self, event: StepStarted) -> None:
        model = self.requested_model()
        decision = event.decision
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": self.operation,
            "gen_ai.provider.name": self.provider(),
            "agentkit.step": event.step,
            "agentkit.thinking": decision.think,
            "agentkit.thinking.reason": decision.reason,
        }
        self.named = bool(model)
        if model:
            attributes["gen_ai.request.model"] = model
        if decision.budget is not None:
            attributes["agentkit.thinking.budget"] = decision.budget
        base_url = getattr(self.server, "base_url", None)
        if base_url:
            where = urlsplit(base_url)
            attributes["server.address"] = where.hostname or ""
            attributes["server.port"] = where.port or (443 if where.scheme == "https" else 80)
        if self.capture:
            attributes["gen_ai.input.messages"] = _messages_json(self.messages)
        self.model = self.tracer.start_span(
            f"{self.operation} {model or ''}".strip(), self.context, kind=self.client, attributes=attributes
        )
        self.retries = 0

    def retried(self, event: ModelRetry) -> None:
        if self.model is None:
            return
        self.retries += 1
        self.model.add_event(
            "agentkit.model_retry",
            {
                "agentkit.retry.attempt": event.attempt,
                "agentkit.retry.wait": event.wait,
                "agentkit.retry.reason": event.reason,
                "agentkit.retry.restart": event.restart,
            },
        )

    def compacted(self, event: Compacted) -> None:
        (self.model or self.run).add_event(
            "agentkit.compacted",
            {"agentkit.tokens_before": event.tokens_before, "agentkit.tokens_after": event.tokens_after},
        )

    def turn_finished(self, event: TurnFinished) -> None:
        self.input_tokens += event.usage.prompt_tokens
        self.output_tokens += event.usage.completion_tokens
        self.calls += 1
        if self.model is None:
            return
        span, self.model = self.model, None
        attributes: dict[str, Any] = {
            "gen_ai.provider.name": self.provider(),
            "gen_ai.response.finish_reasons": [event.finish_reason or "stop"],
            "gen_ai.usage.input_tokens": event.usage.prompt_tokens,
            "gen_ai.usage.output_tokens": event.usage.completion_tokens,
            "gen_ai.usage.cache_read.input_tokens": event.usage.cached_tokens,
            "agentkit.usage.estimated": event.usage.estimated,
            "agentkit.tool_calls": len(event.calls),
            "agentkit.retries": self.retries,
        }
        served = getattr(self.server, "model", None) or self.requested
        if served:
            attributes["gen_ai.response.model"] = served
            if not self.named:  # the model was asked of the server during the call
                span.update_name(f"{self.operation} {served}")
                attributes["gen_ai.request.model"] = served
        if self.capture:
            attributes["gen_ai.output.messages"] = json.dumps(
                [{**_message_dict(event.message), "finish_reason": event.finish_reason or "stop"}],
                ensure_ascii=False,
            )
        span.set_attributes(attributes)
        span.end()

    def tool_started(self, event: ToolCallStarted) -> None:
        call = event.call
        if event.reused is not None and event.reused in self.tools:  # the same call, asked again
            span, start = self.tools.pop(event.reused)
            span.set_attribute("agentkit.tool.reused", event.reused)
            self.tools[call.id] = (span, start)
            return
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": call.name,
            "gen_ai.tool.call.id": call.id,
            "gen_ai.tool.type": "function",
            "agentkit.step": event.step,
        }
        if event.reused is not None:
            attributes["agentkit.tool.reused"] = event.reused
        if self.capture:
            attributes["gen_ai.tool.call.arguments"] = json.dumps(call.arguments, ensure_ascii=False)
        start = time.time_ns()
        span = self.tracer.start_span(
            f"execute_tool {call.name}",
            self.context,
            kind=self.internal,
            attributes=attributes,
            start_time=start,
        )
        self.tools[call.id] = (span, start)

    def tool_approval(self, event: ToolApproval) -> None:
        found = self.tools.get(event.call_id)
        attributes: dict[str, Any] = {
            "agentkit.approval.policy": event.policy,
            "agentkit.approval.allowed": event.allowed,
            "agentkit.approval.decided_by": event.decided_by,
            "agentkit.approval.waited": event.waited,
        }
        if event.reason is not None:
            attributes["agentkit.approval.reason"] = event.reason
        (found[0] if found is not None else self.run).add_event("agentkit.approval", attributes)

    def tool_finished(self, event: ToolCallFinished) -> None:
        call, result = event.call, event.result
        now = time.time_ns()
        if call.id in self.tools:
            span, start = self.tools.pop(call.id)
            end = min(now, start + int(event.duration * 1e9)) if event.duration > 0 else now
        else:  # a call that could not be read: it never ran
            span = self.tracer.start_span(
                f"execute_tool {call.name or ''}".strip(),
                self.context,
                kind=self.internal,
                attributes={
                    "gen_ai.operation.name": "execute_tool",
                    "gen_ai.tool.call.id": call.id,
                    "agentkit.step": event.step,
                    **({"gen_ai.tool.name": call.name} if call.name else {}),
                },
                start_time=now,
            )
            end = now
        if isinstance(call, ToolCallError) or result.is_error:
            span.set_attribute(
                "error.type", "invalid_tool_call" if isinstance(call, ToolCallError) else "tool_error"
            )
            span.set_status(self.owner.trace.Status(self.owner.trace.StatusCode.ERROR))
        if self.capture:
            span.set_attribute("gen_ai.tool.call.result", result.full_content or result.content)
        span.end(end_time=end)

    def step_finished(self, event: StepFinished) -> None:
        for span, _ in self.tools.values():  # started, and not asked again after a retry
            span.set_attribute("agentkit.tool.abandoned", True)
            span.end()
        self.tools.clear()

    def output_rejected(self, event: OutputRejected) -> None:
        self.run.add_event("agentkit.output_rejected", {"agentkit.step": event.step})

    def server_status(self, event: ServerStatus) -> None:
        self.run.add_event(
            "agentkit.mcp_server",
            {
                "agentkit.mcp.server": event.name,
                "agentkit.mcp.ok": event.ok,
                "agentkit.mcp.seconds": event.seconds,
            },
        )

    def finished(self, event: RunFinished) -> None:
        result = event.result
        if self.capture and result.ok:
            answer = {"role": "assistant", "parts": [{"type": "text", "content": result.text}]}
            self.run.set_attribute(
                "gen_ai.output.messages", json.dumps([{**answer, "finish_reason": "stop"}])
            )
        self.end_run(result.stop_reason, result.steps, None, None)

    def failed(self, event: RunFailed) -> None:
        if self.model is not None:
            self.fail(self.model, event.kind, event.error)
            self.model.end()
            self.model = None
        steps = event.result.steps if event.result is not None else []
        self.end_run("error", steps, event.kind, event.error)

    def end_run(self, stop: str, steps: Sequence[Any], error: str | None, message: str | None) -> None:
        attributes: dict[str, Any] = {
            "agentkit.stop_reason": stop,
            "agentkit.steps": len(steps),
            "agentkit.model_calls": self.calls,
            "gen_ai.provider.name": self.provider(),
            "gen_ai.usage.input_tokens": self.input_tokens,
            "gen_ai.usage.output_tokens": self.output_tokens,
        }
        served = getattr(self.server, "model", None) or self.requested
        if served:
            attributes["gen_ai.response.model"] = served
        self.run.set_attributes(attributes)
        if error is not None:
            self.fail(self.run, error, message)
        self.close(None)

    def fail(self, span: Any, kind: str, message: str | None) -> None:
        span.set_attribute("error.type", kind)
        span.set_status(self.owner.trace.Status(self.owner.trace.StatusCode.ERROR, message))

    def close(self, outcome: BaseException | None) -> None:
        """End what is still open: at the run's end, or when it ended early (`outcome`: the
        error or cancellation that ended it)."""
        if self.ended:
            return
        self.ended = True
        failed = outcome is not None and not isinstance(
            outcome, (GeneratorExit, KeyboardInterrupt, asyncio.CancelledError)
        )
        for span in [self.model, *(span for span, _ in self.tools.values())]:
            if span is not None:
                if failed:
                    self.fail(span, type(outcome).__name__, str(outcome))
                span.end()
        self.model = None
        self.tools.clear()
        if outcome is not None:
            self.run.set_attribute("agentkit.stop_reason", "error" if failed else "interrupted")
            if failed:
                self.fail(self.run, type(outcome).__name__, str(outcome))
        self.run.end()


def _messages_json(messages: Sequence[Message]) -> str:
    """Messages in the conventions' shape (`gen_ai.input.messages`), as JSON."""
    return json.dumps([_message_dict(m) for m in messages], ensure_ascii=False)


def _message_dict(message: Message) -> dict[str, Any]:
    parts: list[dict[str, Any]] = []
    if isinstance(message, AssistantMessage):
        if message.reasoning:
            parts.append({"type": "reasoning", "content": message.reasoning})
        if message.content:
            parts.append({"type": "text", "content": message.content})
        parts += [
            {"type": "tool_call", "id": c.id, "name": c.name, "arguments": c.arguments}
            for c in message.tool_calls
        ]
    elif isinstance(message, ToolMessage):
        parts.append({"type": "tool_call_response", "id": message.tool_call_id, "response": message.content})
    else:
        parts.append({"type": "text", "content": message.content})
    return {"role": message.role, "parts": parts}
