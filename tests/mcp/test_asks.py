"""What MCP servers ask of the client (agentkit/mcp/asks.py): sampling served by the backend,
forms read from schemas, answers checked; and through the SDK's own client and server, in
process, in both protocol eras."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from mcp import Client, types

from agentkit import ElicitationAnswer, ElicitationRequest, SamplingRequest, ScriptedBackend
from agentkit.events import Event, McpElicitation, McpSampling
from agentkit.mcp.asks import FormField, McpAsks, form_fields
from agentkit.messages import AssistantMessage, SystemMessage, UserMessage
from agentkit.thinking import Sampling

from ..integration.mcp_asks_server import LOGIN, SYSTEM, build

BOOKING = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "title": "Name", "description": "Who the table is for", "minLength": 2},
        "seats": {"type": "integer", "minimum": 1, "maximum": 8, "default": 2},
        "price": {"type": "number"},
        "terrace": {"type": "boolean", "default": False},
        "when": {"type": "string", "enum": ["lunch", "dinner"], "enumNames": ["Lunch", "Dinner"]},
        "room": {
            "type": "string",
            "oneOf": [{"const": "a", "title": "Garden"}, {"const": "b", "title": "Hall"}],
        },
        "extras": {"type": "array", "items": {"type": "string", "enum": ["wine", "cake"]}, "maxItems": 1},
        "email": {"type": "string", "format": "email"},
    },
    "required": ["name", "seats"],
}


def fields() -> dict[str, FormField]:
    return {f.name: f for f in form_fields(BOOKING)}


def sampling_params(**more: Any) -> types.CreateMessageRequestParams:
    base: dict[str, Any] = {
        "messages": [
            types.SamplingMessage(role="user", content=types.TextContent(text="Earlier question")),
            types.SamplingMessage(role="assistant", content=types.TextContent(text="Earlier answer")),
            types.SamplingMessage(role="user", content=types.TextContent(text="Summarize: the sky is blue.")),
        ],
        "system_prompt": "Be brief.",
        "max_tokens": 40,
        "temperature": 0.3,
    }
    return types.CreateMessageRequestParams(**{**base, **more})


class Heard:
    """Collects the events an `McpAsks` tells."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def __call__(self, event: Event) -> None:
        self.events.append(event)


# -- forms ---------------------------------------------------------------------------------------


def test_form_fields_are_read_from_every_kind_of_property_the_spec_allows() -> None:
    got = fields()
    assert [f.kind for f in got.values()] == [
        "string", "integer", "number", "boolean", "choice", "choice", "choices", "string",
    ]  # fmt: skip
    assert got["name"].required and got["name"].title == "Name" and got["name"].minimum == 2
    assert got["seats"].has_default and got["seats"].default == 2 and got["seats"].maximum == 8
    assert got["when"].options == ("lunch", "dinner") and got["when"].option_titles == ("Lunch", "Dinner")
    assert got["room"].options == ("a", "b") and got["room"].option_titles == ("Garden", "Hall")
    assert got["extras"].options == ("wine", "cake") and got["extras"].maximum == 1


def test_a_property_a_form_cannot_hold_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="'address' is of type 'object'"):
        form_fields({"properties": {"address": {"type": "object"}}})


def test_typed_answers_become_values_or_say_what_would_fit() -> None:
    got = fields()
    assert got["seats"].read("") == 2  # the default
    assert got["seats"].read(" 4 ") == 4
    assert got["price"].read("") is None  # optional, left out
    assert got["terrace"].read("yes") is True
    assert got["when"].read("2") == "dinner" and got["when"].read("LUNCH") == "lunch"
    assert got["room"].read("Garden") == "a"
    assert got["extras"].read("wine") == ["wine"]
    problems = {
        ("name", ""): "Name is required",
        ("name", "A"): "Name must be at least 2 characters",
        ("seats", "nine"): "give a whole number",
        ("seats", "9"): "seats must be at most 8",
        ("terrace", "perhaps"): "answer yes or no",
        ("when", "brunch"): "choose one of Lunch, Dinner",
        ("extras", "wine,cake"): "extras must be at most 1 choices",
        ("email", "nobody"): "give an email address",
    }
    for (name, text), problem in problems.items():
        with pytest.raises(ValueError, match=problem):
            got[name].read(text)


def test_defaults_answer_a_form_only_when_every_required_field_has_one() -> None:
    form = form_fields(BOOKING)
    assert ElicitationRequest("s", "m", "form", form).defaults() is None  # `name` has none
    simple = form_fields(
        {"properties": {"seats": {"type": "integer", "default": 2}, "note": {"type": "string"}}}
    )
    assert ElicitationRequest("s", "m", "form", simple).defaults() == {"seats": 2}
    assert ElicitationRequest("s", "m", "url", (), "https://x.test").defaults() is None


# -- sampling ------------------------------------------------------------------------------------


async def test_sampling_reaches_the_model_as_the_server_asked_without_thinking() -> None:
    backend = ScriptedBackend(["The sky is blue."])
    heard = Heard()
    asks = McpAsks(
        backend,
        model="Qwen/Qwen3-4B",
        presets=lambda think: Sampling(temperature=0.6 if think else 0.7, top_p=0.8),
        on_sampling=lambda request: True,
        on_event=heard,
    )
    result = await asks.sample("notes", sampling_params())
    assert isinstance(result, types.CreateMessageResult) and isinstance(result.content, types.TextContent)
    assert (result.content.text, result.model, result.stop_reason) == (
        "The sky is blue.",
        "Qwen/Qwen3-4B",
        "endTurn",
    )
    (request,) = backend.requests
    assert request.messages == [
        SystemMessage("Be brief."),
        UserMessage("Earlier question"),
        AssistantMessage("Earlier answer"),
        UserMessage("Summarize: the sky is blue."),
    ]
    assert request.decision.think is False
    assert request.max_tokens == 40
    assert request.sampling == Sampling(temperature=0.3, top_p=0.8, max_tokens=40)
    assert request.tools == ()
    (event,) = heard.events
    assert isinstance(event, McpSampling)
    assert (event.server, event.request, event.approved, event.answer) == (
        "notes", "Summarize: the sky is blue.", True, "The sky is blue.",
    )  # fmt: skip
    assert event.usage is not None  # the scripted model counts none; tests with a server check them


async def test_metadata_turns_thinking_on_and_stop_sequences_cut_the_answer() -> None:
    backend = ScriptedBackend(["<think>\nHm.\n</think>\n\nFirst line.\n\nSecond part."])
    asks = McpAsks(backend, on_sampling=lambda request: True)
    result = await asks.sample("s", sampling_params(metadata={"thinking": True}, stop_sequences=["\n\n"]))
    assert (result.content.text, result.stop_reason) == ("First line.", "stopSequence")
    assert backend.requests[0].decision.think is True


async def test_sampling_without_an_approver_is_refused_with_the_fix() -> None:
    backend = ScriptedBackend([])
    heard = Heard()
    result = await McpAsks(backend, on_event=heard).sample("notes", sampling_params())
    assert isinstance(result, types.ErrorData) and result.code == -1
    assert "no one can approve it here" in result.message
    assert "pass --yes on the command line, or on_sampling=... to the Agent" in result.message
    assert backend.requests == []
    (event,) = heard.events
    assert isinstance(event, McpSampling) and not event.approved and event.error == result.message


async def test_a_sampling_request_the_person_refuses_never_reaches_the_model() -> None:
    backend = ScriptedBackend([])
    seen: list[SamplingRequest] = []

    async def refuse(request: SamplingRequest) -> bool:
        seen.append(request)
        return False

    result = await McpAsks(backend, on_sampling=refuse).sample(
        "notes", sampling_params(stop_sequences=["END"])
    )
    assert isinstance(result, types.ErrorData) and "did not allow" in result.message
    assert seen[0].server == "notes" and seen[0].max_tokens == 40 and seen[0].stop == ("END",)
    assert backend.requests == []


async def test_images_are_refused_with_a_clear_error() -> None:
    image = types.ImageContent(data="iVBORw0KGgo=", mime_type="image/png")
    params = sampling_params(messages=[types.SamplingMessage(role="user", content=image)])
    backend = ScriptedBackend([])
    result = await McpAsks(backend, on_sampling=lambda request: True).sample("s", params)
    assert isinstance(result, types.ErrorData) and result.code == types.INVALID_PARAMS
    assert "holds an image (image/png)" in result.message and "reads text only" in result.message
    assert backend.requests == []


async def test_no_model_and_a_slow_approver_each_get_an_error_saying_so() -> None:
    result = await McpAsks(None, no_model="no model here: give --base-url").sample("s", sampling_params())
    assert isinstance(result, types.ErrorData) and result.message == "no model here: give --base-url"

    async def never(request: SamplingRequest) -> bool:
        await asyncio.sleep(30)
        return True

    slow = McpAsks(ScriptedBackend([]), on_sampling=never, timeout=0.05)
    result = await slow.sample("s", sampling_params())
    assert isinstance(result, types.ErrorData) and "no answer within 0.05 s" in result.message


# -- elicitation ---------------------------------------------------------------------------------


def form(schema: dict[str, Any] = BOOKING) -> types.ElicitRequestFormParams:
    return types.ElicitRequestFormParams(message="Book a table", requested_schema=schema)


async def test_with_no_one_to_ask_defaults_answer_or_the_request_is_declined() -> None:
    heard = Heard()
    asks = McpAsks(on_event=heard)
    declined = await asks.elicit("s", form())
    assert isinstance(declined, types.ElicitResult) and declined.action == "decline"
    simple = {"properties": {"seats": {"type": "integer", "default": 2}}, "required": ["seats"]}
    accepted = await asks.elicit("s", form(simple))
    assert accepted.action == "accept" and accepted.content == {"seats": 2}
    url = await asks.elicit("s", types.ElicitRequestURLParams(message="Log in", url=LOGIN))
    assert url.action == "decline"
    events = [e for e in heard.events if isinstance(e, McpElicitation)]
    assert [(e.mode, e.action) for e in events] == [
        ("form", "decline"),
        ("form", "accept"),
        ("url", "decline"),
    ]
    assert events[0].error == "no one to ask: a required field has no default"


async def test_a_callbacks_answer_gets_the_defaults_it_left_out_and_is_checked() -> None:
    answers = iter([
        ElicitationAnswer("accept", {"name": "Ann"}),
        ElicitationAnswer("accept", {"name": "Ann", "seats": 12}),
        ElicitationAnswer("cancel"),
    ])  # fmt: skip
    asked: list[ElicitationRequest] = []

    def answer(request: ElicitationRequest) -> ElicitationAnswer:
        asked.append(request)
        return next(answers)

    asks = McpAsks(on_elicitation=answer)
    first = await asks.elicit("s", form())
    assert first.content == {"name": "Ann", "seats": 2, "terrace": False}
    assert [f.name for f in asked[0].fields][:2] == ["name", "seats"] and asked[0].message == "Book a table"
    bad = await asks.elicit("s", form())
    assert isinstance(bad, types.ErrorData) and "seats must be at most 8" in bad.message
    cancelled = await asks.elicit("s", form())
    assert cancelled.action == "cancel" and cancelled.content is None


async def test_an_accepted_url_request_opens_the_page() -> None:
    opened: list[str] = []
    heard = Heard()

    def open_url(url: str) -> bool:
        opened.append(url)
        return True

    asks = McpAsks(on_elicitation=lambda r: ElicitationAnswer("accept"), open_url=open_url, on_event=heard)
    result = await asks.elicit("s", types.ElicitRequestURLParams(message="Log in", url=LOGIN))
    assert result.action == "accept" and opened == [LOGIN]
    (event,) = heard.events
    assert isinstance(event, McpElicitation) and event.url == LOGIN and event.error is None


# -- through the SDK's client and server, both eras ----------------------------------------------


@pytest.mark.parametrize("legacy", [False, True], ids=["2026-07-28", "2025-11-25"])
async def test_the_sdks_servers_get_their_answers_in_either_protocol_era(legacy: bool) -> None:
    backend = ScriptedBackend(["One line.\n\nMore."])
    heard = Heard()
    opened: list[str] = []

    def open_url(url: str) -> bool:
        opened.append(url)
        return True

    asks = McpAsks(
        backend,
        on_sampling=lambda request: True,
        on_elicitation=lambda request: ElicitationAnswer(
            "accept", {"name": "Ann"} if request.fields else None
        ),
        on_event=heard,
        open_url=open_url,
    )
    async with Client(
        build(legacy),
        mode="legacy" if legacy else "auto",
        sampling_callback=asks.sampling_callback("asks"),
        elicitation_callback=asks.elicitation_callback("asks"),
    ) as client:
        assert client.session.protocol_version == ("2025-11-25" if legacy else "2026-07-28")
        results = {}
        for name in ("summarize", "book", "login"):
            result = await client.call_tool(name, {"text": "A long text."} if name == "summarize" else {})
            assert isinstance(result.content[0], types.TextContent)
            results[name] = json.loads(result.content[0].text)
    assert results["summarize"] == {"model": "scripted", "stop": "stopSequence", "text": "One line."}
    assert results["book"] == {
        "action": "accept", "data": {"name": "Ann", "seats": 2, "when": "dinner", "terrace": False}
    }  # fmt: skip
    assert results["login"] == {"action": "accept"} and opened == [LOGIN]
    assert backend.requests[0].messages[0] == SystemMessage(SYSTEM)
    assert [type(e).__name__ for e in heard.events] == ["McpSampling", "McpElicitation", "McpElicitation"]
