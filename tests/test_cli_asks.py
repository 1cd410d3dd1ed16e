"""The terminal side of MCP sampling and elicitation (agentkit/cli_asks.py): questions, forms
asked again until an answer fits, `--yes` and no terminal."""

from __future__ import annotations

import inspect
import io
from collections.abc import Iterable

from rich.console import Console

from agentkit.cli_asks import TerminalAsks, describe_ask, mcp_call_asks
from agentkit.events import McpElicitation, McpSampling
from agentkit.mcp.asks import ElicitationRequest, SamplingRequest, form_fields
from agentkit.messages import Usage, UserMessage

FORM = form_fields(
    {
        "properties": {
            "name": {"type": "string", "description": "Who the table is for"},
            "seats": {"type": "integer", "minimum": 1, "maximum": 8, "default": 2},
            "when": {"type": "string", "enum": ["lunch", "dinner"]},
            "terrace": {"type": "boolean", "default": False},
        },
        "required": ["name", "seats"],
    }
)
BOOKING = ElicitationRequest("notes", "Book a table", "form", FORM)
SUMMARY = SamplingRequest("notes", (UserMessage("Summarize it"),), 64, summary="Summarize it")


class Typist:
    """Types the given answers, one per question, and keeps the questions."""

    def __init__(self, answers: Iterable[str | None]) -> None:
        self.answers = list(answers)
        self.questions: list[str] = []

    async def __call__(self, question: str) -> str | None:
        self.questions.append(question)
        return self.answers.pop(0)


def terminal(answers: Iterable[str | None], **options: object) -> tuple[TerminalAsks, Typist, io.StringIO]:
    screen = io.StringIO()
    typist = Typist(answers)
    settings = {"interactive": True, **options}
    asks = TerminalAsks(Console(file=screen, width=200, highlight=False), read=typist, **settings)  # type: ignore[arg-type]
    return asks, typist, screen


async def test_a_form_is_filled_in_with_defaults_and_wrong_answers_asked_again() -> None:
    asks, typist, screen = terminal(["y", "Ann", "12", "3", "brunch", "2", ""])
    answer = await asks.elicit(BOOKING)
    assert (answer.action, answer.content) == (
        "accept",
        {"name": "Ann", "seats": 3, "when": "dinner", "terrace": False},
    )
    assert typist.questions == [
        "Fill in the form? [y]es / [n]o / [c]ancel: ",
        "  name *: ",
        "  seats (whole number, 1..8) * [2]: ",
        "  seats (whole number, 1..8) * [2]: ",
        "  when: ",
        "  when: ",
        "  terrace (y/n) [no]: ",
    ]
    shown = screen.getvalue()
    assert "MCP server notes asks: Book a table" in shown
    assert "Who the table is for" in shown and "1) lunch, 2) dinner" in shown
    assert "✗ seats must be at most 8" in shown and "✗ choose one of lunch, dinner" in shown


async def test_a_field_that_never_fits_cancels_the_form_and_so_does_ctrl_d() -> None:
    asks, _, screen = terminal(["y", "", "", ""], tries=3)
    assert (await asks.elicit(BOOKING)).action == "cancel"
    assert "no answer fitted name; the form is cancelled" in screen.getvalue()
    asks, _, _ = terminal(["y", None])
    assert (await asks.elicit(BOOKING)).action == "cancel"


async def test_no_and_cancel_answer_the_form_as_such() -> None:
    asks, _, _ = terminal(["n"])
    assert (await asks.elicit(BOOKING)).action == "decline"
    asks, _, _ = terminal(["c"])
    assert (await asks.elicit(BOOKING)).action == "cancel"


async def test_a_url_request_is_put_as_a_question_with_the_page() -> None:
    asks, typist, screen = terminal(["y"])
    request = ElicitationRequest("notes", "Log in", "url", url="https://login.example.test/")
    answer = await asks.elicit(request)
    assert answer.action == "accept" and answer.content is None
    assert typist.questions == ["Open it in your browser? [y]es / [n]o / [c]ancel: "]
    assert "https://login.example.test/" in screen.getvalue()


async def test_yes_or_no_terminal_sends_defaults_only_when_every_required_field_has_one() -> None:
    for options in ({"approve_all": True}, {"interactive": False}):
        asks, typist, _ = terminal([], **options)
        assert (await asks.elicit(BOOKING)).action == "decline"
        simple = ElicitationRequest("notes", "Confirm", "form", FORM[1:2])
        answer = await asks.elicit(simple)
        assert (answer.action, answer.content) == ("accept", {"seats": 2})
        assert typist.questions == []


async def test_sampling_is_asked_once_per_server_with_always() -> None:
    asks, typist, screen = terminal(["a"])
    assert await asks.approve_sampling(SUMMARY) is True
    assert await asks.approve_sampling(SUMMARY) is True  # not asked again
    assert typist.questions == ["Allow it? [y]es / [n]o / [a]lways for this server: "]
    assert (
        "MCP server notes asks the model (at most 64 tokens, no thinking): Summarize it" in screen.getvalue()
    )
    asks, _, _ = terminal(["n"])
    assert await asks.approve_sampling(SUMMARY) is False


async def test_a_yes_no_question_asks_again_after_an_answer_not_understood() -> None:
    asks, typist, screen = terminal(["Ann", "Yes", "Ann"])
    answer = await asks.elicit(ElicitationRequest("notes", "Confirm", "form", FORM[:1]))
    assert (answer.action, answer.content) == ("accept", {"name": "Ann"})
    assert typist.questions[:2] == ["Fill in the form? [y]es / [n]o / [c]ancel: "] * 2
    assert "'Ann' is not an answer here; type one of y (yes), n (no), c (cancel)" in screen.getvalue()
    asks, typist, screen = terminal(["sure", "al"])
    assert await asks.approve_sampling(SUMMARY) is True and asks.always == {"notes"}
    assert "'sure' is not an answer here; type one of y (yes), n (no), a (always)" in screen.getvalue()
    asks, typist, screen = terminal(["sure", "ok", "fine"], tries=3)
    assert await asks.approve_sampling(SUMMARY) is False and len(typist.questions) == 3
    assert "no answer was understood, so it is no" in screen.getvalue()
    asks, _, _ = terminal(["", "y"])
    assert (await asks.elicit(BOOKING)).action == "cancel"  # an empty answer is the refusal


async def test_with_no_terminal_sampling_has_no_approver_unless_yes() -> None:
    asks, _, _ = terminal([], interactive=False)
    assert asks.sampling is None  # servers are told to pass --yes
    asks, typist, _ = terminal([], interactive=False, approve_all=True)
    assert asks.sampling is not None
    answer = asks.sampling(SUMMARY)
    assert inspect.isawaitable(answer)
    assert await answer is True and typist.questions == []


def test_the_events_read_as_one_line_each() -> None:
    sampled = McpSampling(
        "notes", "Summarize it", True, False, 64, Usage(30, 12, requests=1), "Short.", "endTurn"
    )
    assert describe_ask(sampled) == (
        "[magenta]◆[/] MCP server notes asked the model: Summarize it [dim]· 30+12 tokens · endTurn[/]"
    )
    refused = McpSampling("notes", "Summarize it", False, False, 64, error="no")
    assert "not answered: no" in describe_ask(refused)
    filled = McpElicitation("notes", "form", "Book", "accept", ("name",), {"name": "Ann"})
    assert describe_ask(filled).endswith("[dim]· accepted (name=Ann)[/]")


async def test_mcp_call_without_a_model_refuses_sampling_naming_base_url() -> None:
    from mcp import types

    asks = mcp_call_asks(
        "asks", Console(file=io.StringIO()), yes=True, base_url=None, model=None, api_key=None, script=None
    )
    params = types.CreateMessageRequestParams(
        messages=[types.SamplingMessage(role="user", content=types.TextContent(text="Hi"))], max_tokens=8
    )
    result = await asks.sample("asks", params)
    assert isinstance(result, types.ErrorData)
    assert "agentkit mcp call has no model to sample with (MCP server 'asks' asked for one)" in result.message
    assert "give --base-url URL (and --model NAME)" in result.message
    assert "or --script FILE (a JSON list of the model's answers)" in result.message


def test_the_readme_states_the_defaults_the_code_uses() -> None:
    from pathlib import Path

    from agentkit.defaults import DEFAULT_MCP_ASK_TIMEOUT, DEFAULT_MCP_FORM_TRIES

    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    assert f"A question waits {DEFAULT_MCP_ASK_TIMEOUT:g} s for an answer" in readme
    assert f"asked again ({DEFAULT_MCP_FORM_TRIES} times, then the form is cancelled)" in readme
