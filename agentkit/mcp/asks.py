"""What MCP servers ask of the client: a message from its model (sampling) and answers from its
person (elicitation).

A server's `sampling/createMessage` is served by the agent's own backend, once it is approved
(`on_sampling`, `--yes`, or a person at the terminal): its system prompt, text messages, max
tokens, temperature and stop sequences make one model call, without thinking unless the
request's `metadata` asks for it (`{"thinking": true}`). Images and audio are refused (Qwen3
reads text); `modelPreferences` and `includeContext` are advisory and left aside (there is one
model, and servers see no other server's context); sampling tools are not declared.

A server's `elicitation/create` goes to `on_elicitation` as an `ElicitationRequest` whose form
fields are read from the requested schema; with no one to ask, a form whose required fields
all have defaults is accepted with them and any other request is declined. An accepted URL
request opens the URL in the browser (`webbrowser`, which honours `BROWSER`).

The SDK calls the same callbacks for a server's own requests (protocol 2025-11-25 and before)
and for the requests embedded in an `InputRequiredResult` (2026-07-28), so both are served
alike. Each answer becomes an `McpSampling` or `McpElicitation` event.
"""

from __future__ import annotations

import asyncio
import inspect
import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Union

from agentkit.defaults import DEFAULT_MCP_ASK_TIMEOUT
from agentkit.errors import AgentkitError
from agentkit.events import Event, McpElicitation, McpSampling
from agentkit.messages import AssistantMessage, Message, SystemMessage, UserMessage
from agentkit.thinking import Sampling, ThinkingDecision

if TYPE_CHECKING:
    from agentkit.backends.base import Backend

__all__ = [
    "ElicitationAnswer",
    "ElicitationRequest",
    "Elicitor",
    "FormField",
    "McpAsks",
    "SamplingApprover",
    "SamplingRequest",
    "form_fields",
]

USER_REJECTED = -1
"""The error code the MCP spec gives a sampling request the user rejected."""

SUMMARY_CHARS = 80
"""Characters of a sampling request's last message quoted in its event and question."""

THINKING_KEYS = ("thinking", "enable_thinking")
"""Keys of a sampling request's `metadata` whose value True turns thinking on."""

Action = Literal["accept", "decline", "cancel"]


@dataclass(frozen=True)
class SamplingRequest:
    """A server's request for a message from the agent's model, as an approver sees it.

    Attributes:
        server: The server's name in the config.
        messages: The conversation the model is given (its system prompt first).
        max_tokens: Output tokens the server allows.
        think: Whether the model thinks first (the request's metadata asked).
        temperature: The server's temperature (None: the model's preset).
        stop: Where the answer is cut (the server's stop sequences).
        summary: What it asks, in a few words (its last message, cut short).
    """

    server: str
    messages: tuple[Message, ...]
    max_tokens: int
    think: bool = False
    temperature: float | None = None
    stop: tuple[str, ...] = ()
    summary: str = ""


@dataclass(frozen=True)
class FormField:
    """One field of an elicitation form, read from the requested schema's property.

    Attributes:
        name: The property's name (the answer's key).
        kind: "string", "number", "integer", "boolean", "choice" (one of `options`) or
            "choices" (several of them).
        title: What to call it when asking (the property's title, else its name).
        description: The property's description.
        required: The answer must hold it.
        default: Its default value, when `has_default`.
        options: The values a choice takes.
        option_titles: How to show each option (its title, else the value).
        minimum: The least number, or the fewest characters / choices.
        maximum: The greatest number, or the most characters / choices.
        format: A string's format: "email", "uri", "date" or "date-time".
    """

    name: str
    kind: Literal["string", "number", "integer", "boolean", "choice", "choices"]
    title: str
    description: str | None = None
    required: bool = False
    default: Any = None
    has_default: bool = False
    options: tuple[str, ...] = ()
    option_titles: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    format: str | None = None

    def read(self, text: str) -> Any:
        """The value a person's typed answer stands for: an empty answer is the default
        (or, for a field that is not required, `None`: left out).

        Raises:
            ValueError: The answer does not fit the field; the message says what would.
        """
        text = text.strip()
        if not text:
            if self.has_default:
                return self.default
            if self.required:
                raise ValueError(f"{self.title} is required")
            return None
        if self.kind == "boolean":
            lowered = text.lower()
            if lowered in ("y", "yes", "true", "1"):
                return True
            if lowered in ("n", "no", "false", "0"):
                return False
            raise ValueError("answer yes or no")
        if self.kind in ("number", "integer"):
            try:
                value: Any = int(text) if self.kind == "integer" else float(text)
            except ValueError:
                wanted = "a whole number" if self.kind == "integer" else "a number"
                raise ValueError(f"give {wanted}") from None
        elif self.kind == "choice":
            value = self._option(text)
        elif self.kind == "choices":
            value = [self._option(part) for part in text.split(",") if part.strip()]
        else:
            value = text
        problem = self.check(value)
        if problem:
            raise ValueError(problem)
        return value

    def _option(self, text: str) -> str:
        text = text.strip()
        if text.isdigit() and 1 <= int(text) <= len(self.options):
            return self.options[int(text) - 1]
        for value, title in zip(self.options, self.option_titles, strict=True):
            if text.lower() in (value.lower(), title.lower()):
                return value
        raise ValueError(f"choose one of {', '.join(self.option_titles)} (or its number)")

    def check(self, value: Any) -> str | None:
        """What is wrong with a value for this field (None: it fits)."""
        kind = self.kind
        if kind == "boolean" and not isinstance(value, bool):
            return f"{self.name} must be true or false, not {value!r}"
        if kind in ("number", "integer"):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                return f"{self.name} must be a number, not {value!r}"
            if kind == "integer" and not float(value).is_integer():
                return f"{self.name} must be a whole number, not {value!r}"
            return self._bounds(value, "")
        if kind in ("string", "choice") and not isinstance(value, str):
            return f"{self.name} must be text, not {value!r}"
        if kind == "choice" and value not in self.options:
            return f"{self.name} must be one of {', '.join(self.options)}, not {value!r}"
        if kind == "choices":
            if not isinstance(value, list) or any(item not in self.options for item in value):
                return f"{self.name} must be a list of {', '.join(self.options)}, not {value!r}"
            return self._bounds(len(value), " choices")
        if kind == "string":
            return self._bounds(len(value), " characters") or _format_problem(self.format, value)
        return None

    def _bounds(self, size: float, unit: str) -> str | None:
        if self.minimum is not None and size < self.minimum:
            return f"{self.title} must be at least {self.minimum:g}{unit}"
        if self.maximum is not None and size > self.maximum:
            return f"{self.title} must be at most {self.maximum:g}{unit}"
        return None


def _format_problem(kind: str | None, text: str) -> str | None:
    import datetime
    from urllib.parse import urlsplit

    if kind == "email" and ("@" not in text or "." not in text.rpartition("@")[2] or " " in text):
        return "give an email address (name@example.com)"
    if kind == "uri":
        parts = urlsplit(text)
        if not parts.scheme or not (parts.netloc or parts.path):
            return "give a URI (https://example.com/...)"
    try:
        if kind == "date":
            datetime.date.fromisoformat(text)
        elif kind == "date-time":
            datetime.datetime.fromisoformat(text)
    except ValueError:
        return f"give a {kind} as YYYY-MM-DD{'THH:MM' if kind == 'date-time' else ''}"
    return None


def form_fields(schema: Mapping[str, Any]) -> tuple[FormField, ...]:
    """The fields of a requested schema (a flat object of strings, numbers, integers,
    booleans and enums, as the MCP spec allows).

    Raises:
        ValueError: A property is of a kind a form cannot hold (an object, say).
    """
    properties = schema.get("properties") or {}
    required = set(schema.get("required") or ())
    return tuple(_field(name, prop, name in required) for name, prop in properties.items())


def _field(name: str, prop: Any, required: bool) -> FormField:
    if not isinstance(prop, Mapping):
        raise ValueError(f"the form's field {name!r} has no schema")
    kind = prop.get("type")
    common: dict[str, Any] = {
        "name": name,
        "title": str(prop.get("title") or name),
        "description": prop.get("description"),
        "required": required,
        "default": prop.get("default"),
        "has_default": "default" in prop,
    }
    options, titles = _options(prop)
    if kind == "array":
        items = prop.get("items")
        options, titles = _options(items if isinstance(items, Mapping) else {})
        if not options:
            raise ValueError(f"the form's field {name!r} is a list of something other than choices")
        return FormField(
            kind="choices", options=options, option_titles=titles,
            minimum=prop.get("minItems"), maximum=prop.get("maxItems"), **common,
        )  # fmt: skip
    if options:
        return FormField(kind="choice", options=options, option_titles=titles, **common)
    if kind in ("number", "integer"):
        return FormField(kind=kind, minimum=prop.get("minimum"), maximum=prop.get("maximum"), **common)
    if kind == "boolean":
        return FormField(kind="boolean", **common)
    if kind == "string":
        return FormField(
            kind="string", minimum=prop.get("minLength"), maximum=prop.get("maxLength"),
            format=prop.get("format"), **common,
        )  # fmt: skip
    raise ValueError(
        f"the form's field {name!r} is of type {kind!r}; forms hold strings, numbers, integers, "
        "booleans and choices"
    )


def _is_option(entry: Any) -> bool:
    return isinstance(entry, Mapping) and "const" in entry


def _options(prop: Mapping[str, Any]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A property's choices and their titles: `enum` (with `enumNames`), or `oneOf`/`anyOf`
    of `{const, title}`."""
    if isinstance(prop.get("enum"), list):
        values = tuple(str(v) for v in prop["enum"])
        names = prop.get("enumNames")
        if isinstance(names, list) and len(names) == len(values):
            return values, tuple(str(t) for t in names)
        return values, values
    for key in ("oneOf", "anyOf"):
        entries = prop.get(key)
        if isinstance(entries, list) and entries and all(_is_option(e) for e in entries):
            values = tuple(str(e["const"]) for e in entries)
            return values, tuple(str(e.get("title") or e["const"]) for e in entries)
    return (), ()


@dataclass(frozen=True)
class ElicitationRequest:
    """What a server asks the person, as an `on_elicitation` callback sees it.

    Attributes:
        server: The server's name in the config.
        message: What the server says it needs.
        mode: "form" (fill in `fields`) or "url" (visit `url`, out of band).
        fields: The form's fields, in the server's order.
        url: The page to visit (URL mode).
    """

    server: str
    message: str
    mode: Literal["form", "url"] = "form"
    fields: tuple[FormField, ...] = ()
    url: str | None = None

    def defaults(self) -> dict[str, Any] | None:
        """The answer made of the fields' defaults, or None when a required field has none
        (or this is a URL request: no one can visit it)."""
        if self.mode != "form" or any(f.required and not f.has_default for f in self.fields):
            return None
        return {f.name: f.default for f in self.fields if f.has_default}


@dataclass(frozen=True)
class ElicitationAnswer:
    """The person's answer: "accept" (with `content`, the form's values by field name; none
    for a URL request), "decline" (said no) or "cancel" (dismissed it)."""

    action: Action
    content: dict[str, Any] | None = field(default=None)


SamplingApprover = Callable[[SamplingRequest], Union[bool, Awaitable[bool]]]
"""Decides whether a server's sampling request may use the model: True lets it."""

Elicitor = Callable[[ElicitationRequest], Union[ElicitationAnswer, Awaitable[ElicitationAnswer]]]
"""Answers a server's elicitation request (usually by asking a person)."""


class _Refused(Exception):
    """A sampling request that gets an error instead of a message; the text says why."""

    def __init__(self, message: str, code: int = USER_REJECTED) -> None:
        super().__init__(message)
        self.code = code


class McpAsks:
    """How a client answers its MCP servers' sampling and elicitation requests.

    Args:
        backend: The model that serves sampling (the agent's backend); None refuses
            sampling with `no_model` as the reason.
        model: The model's name, reported to servers (default: what the backend's server
            serves).
        presets: The sampling presets of a thinking (True) or non-thinking (False) call.
        on_sampling: Approves each sampling request; None refuses them all ("no one can
            approve it here").
        on_elicitation: Answers each elicitation request; None accepts a form whose required
            fields all have defaults (with them) and declines any other request.
        timeout: Seconds `on_sampling` and `on_elicitation` have to answer.
        no_model: Why there is no backend, when there is none (told to servers).
        on_event: Told of each `McpSampling` and `McpElicitation` event.
        open_url: Opens an accepted URL request's page (default: `webbrowser.open`).
    """

    def __init__(
        self,
        backend: Backend | None = None,
        *,
        model: str | None = None,
        presets: Callable[[bool], Sampling] | None = None,
        on_sampling: SamplingApprover | None = None,
        on_elicitation: Elicitor | None = None,
        timeout: float = DEFAULT_MCP_ASK_TIMEOUT,
        no_model: str | None = None,
        on_event: Callable[[Event], None] | None = None,
        open_url: Callable[[str], bool] | None = None,
    ) -> None:
        self.backend = backend
        self.model = model
        self.presets = presets
        self.on_sampling = on_sampling
        self.on_elicitation = on_elicitation
        self.timeout = timeout
        self.no_model = no_model or "this client has no model to sample with"
        self.on_event = on_event
        self.open_url = open_url

    def heard_by(self, on_event: Callable[[Event], None]) -> McpAsks:
        """The same answers, with their events told to `on_event` (a run's own servers)."""
        import copy

        heard = copy.copy(self)
        heard.on_event = on_event
        return heard

    def _tell(self, event: Event) -> None:
        if self.on_event is not None:
            self.on_event(event)

    # -- the SDK's callbacks ------------------------------------------------------------------

    def sampling_callback(self, server: str) -> Any:
        """The SDK's `sampling_callback` for one server."""

        async def callback(context: Any, params: Any) -> Any:
            return await self.sample(server, params)

        return callback

    def elicitation_callback(self, server: str) -> Any:
        """The SDK's `elicitation_callback` for one server."""

        async def callback(context: Any, params: Any) -> Any:
            return await self.elicit(server, params)

        return callback

    # -- sampling -----------------------------------------------------------------------------

    async def sample(self, server: str, params: Any) -> Any:
        """Answer one `sampling/createMessage` (the SDK's `CreateMessageRequestParams`) with a
        `CreateMessageResult`, or an `ErrorData` saying why not."""
        from mcp import types

        think = _wants_thinking(params.metadata)
        summary = ""
        approved = False
        try:
            request = sampling_request(server, params, think)
            summary = request.summary
            if self.backend is None:
                raise _Refused(self.no_model)
            if self.on_sampling is None:
                raise _Refused(
                    f"sampling needs approval and no one can approve it here (MCP server {server!r} asked "
                    "for a model answer): pass --yes on the command line, or on_sampling=... to the Agent"
                )
            approved = bool(await self._answer(self.on_sampling(request)))
            if not approved:
                raise _Refused(f"the user did not allow MCP server {server!r} to use the model")
            text, stop_reason, usage = await self._generate(request)
        except _Refused as exc:
            self._tell(McpSampling(server, summary, approved, think, params.max_tokens, error=str(exc)))
            return types.ErrorData(code=exc.code, message=str(exc))
        except asyncio.TimeoutError:
            message = f"no answer within {self.timeout:g} s to whether MCP server {server!r} may sample"
            self._tell(McpSampling(server, summary, False, think, params.max_tokens, error=message))
            return types.ErrorData(code=USER_REJECTED, message=message)
        except AgentkitError as exc:
            message = f"the model failed: {exc}"
            self._tell(McpSampling(server, summary, True, think, params.max_tokens, error=message))
            return types.ErrorData(code=types.INTERNAL_ERROR, message=message)
        self._tell(McpSampling(server, summary, True, think, params.max_tokens, usage, text, stop_reason))
        return types.CreateMessageResult(
            role="assistant",
            content=types.TextContent(text=text),
            model=self._model_name(),
            stop_reason=stop_reason,
        )

    async def _answer(self, outcome: Any) -> Any:
        """A callback's answer, awaited within the timeout if it is awaitable."""
        if inspect.isawaitable(outcome):
            return await asyncio.wait_for(_awaited(outcome), self.timeout)
        return outcome

    async def _generate(self, request: SamplingRequest) -> tuple[str, str, Any]:
        """One model call for the request: its text (cut at a stop sequence), why it
        stopped (in MCP's words) and its usage."""
        from agentkit.backends.base import ModelRequest, Turn, end_run

        assert self.backend is not None
        preset = self.presets(request.think) if self.presets is not None else Sampling()
        sampling = preset.merged(Sampling(temperature=request.temperature, max_tokens=request.max_tokens))
        memo: dict[str, Any] = {}
        model_request = ModelRequest(
            messages=list(request.messages),
            decision=ThinkingDecision(request.think, reason=f"sampling for MCP server {request.server!r}"),
            sampling=sampling,
            max_tokens=request.max_tokens,
            memo=memo,
        )
        turn: Turn | None = None
        try:
            async for event in self.backend.stream(model_request):
                if isinstance(event, Turn):
                    turn = event
        finally:
            end_run(self.backend, memo)
        if turn is None:
            raise AgentkitError("the model's stream ended without a turn")
        text, cut = _cut_at_stop(turn.message.content, request.stop)
        reason = "stopSequence" if cut else "maxTokens" if turn.finish_reason == "length" else "endTurn"
        return text, reason, turn.usage

    def _model_name(self) -> str:
        server = getattr(self.backend, "server", None)
        return str(getattr(server, "model", None) or self.model or getattr(self.backend, "name", "agentkit"))

    # -- elicitation --------------------------------------------------------------------------

    async def elicit(self, server: str, params: Any) -> Any:
        """Answer one `elicitation/create` (the SDK's `ElicitRequestParams`) with an
        `ElicitResult`, or an `ErrorData` for a form agentkit cannot show."""
        from mcp import types

        url = getattr(params, "url", None)
        mode: Literal["form", "url"] = "url" if url is not None else "form"
        try:
            fields = form_fields(params.requested_schema) if mode == "form" else ()
        except ValueError as exc:
            self._tell(McpElicitation(server, mode, params.message, "cancel", error=str(exc)))
            return types.ErrorData(code=types.INVALID_PARAMS, message=str(exc))
        request = ElicitationRequest(server, params.message, mode, fields, url)
        names = tuple(f.name for f in fields)
        error = None
        if self.on_elicitation is None:
            defaults = request.defaults()
            answer = (
                ElicitationAnswer("decline") if defaults is None else ElicitationAnswer("accept", defaults)
            )
            if defaults is None:
                error = "no one to ask: " + (
                    "a URL request needs a person" if mode == "url" else "a required field has no default"
                )
        else:
            try:
                answer = await self._answer(self.on_elicitation(request))
            except asyncio.TimeoutError:
                answer = ElicitationAnswer("cancel")
                error = f"no answer within {self.timeout:g} s"
        content = None
        if answer.action == "accept" and mode == "form":
            content, problem = _completed(fields, answer.content or {})
            if problem:
                message = f"the answer to MCP server {server!r}'s form does not fit it: {problem}"
                self._tell(McpElicitation(server, mode, params.message, "cancel", names, error=message))
                return types.ErrorData(code=types.INVALID_PARAMS, message=message)
        if answer.action == "accept" and url is not None:
            error = await self._open(url)
        self._tell(McpElicitation(server, mode, params.message, answer.action, names, content, url, error))
        return types.ElicitResult(action=answer.action, content=content)

    async def _open(self, url: str) -> str | None:
        """Open the page in the browser; why it could not be, if it could not."""
        import webbrowser

        from agentkit._threads import in_daemon_thread

        opener = self.open_url or webbrowser.open
        try:
            opened = await asyncio.wait_for(in_daemon_thread(opener, url), self.timeout)
        except Exception as exc:  # no browser: the person opens the URL themselves
            return f"could not open a browser ({type(exc).__name__}: {exc}); open {url} yourself"
        return None if opened else f"no browser to open; open {url} yourself"


async def _awaited(outcome: Awaitable[Any]) -> Any:
    return await outcome


def _completed(fields: Sequence[FormField], given: Mapping[str, Any]) -> tuple[dict[str, Any], str | None]:
    """An accepted form's content with defaults filled in for the fields left out, and what
    is wrong with it (a missing required field, a value that does not fit), if anything."""
    known = {f.name for f in fields}
    unknown = [name for name in given if name not in known]
    if unknown:
        return {}, f"the form has no field {unknown[0]!r}"
    content: dict[str, Any] = {}
    for item in fields:
        if item.name in given and given[item.name] is not None:
            problem = item.check(given[item.name])
            if problem:
                return {}, problem
            content[item.name] = given[item.name]
        elif item.has_default:
            content[item.name] = item.default
        elif item.required:
            return {}, f"the required field {item.name!r} has no value"
    return content, None


def _wants_thinking(metadata: Mapping[str, Any] | None) -> bool:
    return bool(metadata) and any(metadata.get(key) is True for key in THINKING_KEYS)  # type: ignore[union-attr]


def sampling_request(server: str, params: Any, think: bool = False) -> SamplingRequest:
    """A server's sampling request as agentkit messages.

    Raises:
        _Refused: It holds something the model cannot read (images, audio, tool use).
    """
    from mcp import types

    messages: list[Message] = [SystemMessage(params.system_prompt)] if params.system_prompt else []
    for message in params.messages:
        parts = []
        for block in message.content_as_list:
            if isinstance(block, types.TextContent):
                parts.append(block.text)
            elif isinstance(block, (types.ImageContent, types.AudioContent)):
                what = "an image" if isinstance(block, types.ImageContent) else "audio"
                raise _Refused(
                    f"the sampling request holds {what} ({block.mime_type}), and agentkit's model reads "
                    "text only; send the text instead",
                    types.INVALID_PARAMS,
                )
            else:
                raise _Refused(
                    f"the sampling request holds {block.type} content, which agentkit does not take "
                    "(it does not declare sampling tools)",
                    types.INVALID_PARAMS,
                )
        text = "\n".join(parts)
        messages.append(UserMessage(text) if message.role == "user" else AssistantMessage(text))
    if params.max_tokens < 1:
        raise _Refused(f"maxTokens must be at least 1, got {params.max_tokens}", types.INVALID_PARAMS)
    last = next((m.content for m in reversed(messages) if isinstance(m, UserMessage)), "")
    summary = " ".join(last.split())
    summary = summary if len(summary) <= SUMMARY_CHARS else summary[: SUMMARY_CHARS - 1] + "…"
    return SamplingRequest(
        server=server,
        messages=tuple(messages),
        max_tokens=params.max_tokens,
        think=think,
        temperature=params.temperature,
        stop=tuple(s for s in params.stop_sequences or () if s),
        summary=summary,
    )


def _cut_at_stop(text: str, stops: Sequence[str]) -> tuple[str, bool]:
    """The text up to its first stop sequence, and whether one was found (the backend runs
    to its own end; the stop sequences are applied to what it wrote)."""
    cuts = [index for stop in stops if (index := text.find(stop)) >= 0]
    return (text[: min(cuts)], True) if cuts else (text, False)
