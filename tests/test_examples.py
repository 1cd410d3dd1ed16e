"""The example workflows of examples/README.md, run offline exactly as the README writes them.

The model's turns are scripted, so its answer is fixed; what these tests prove is that the
tools really ran and produced what the answer quotes: each figure is found in the result of
the tool call it came from. (The git example starts an MCP server: see
tests/integration/test_example_git.py.)
"""

from __future__ import annotations

import csv
import dataclasses
import importlib.util
import json
import re
import shlex
import socket
import subprocess
import sys
import time
import urllib.request
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from .examples_readme import (
    COMMAND_TIMEOUT,
    ROOT,
    agentkit_args,
    environment,
    examples,
    figures,
    run_offline,
    script_answer,
    states,
    tool_results,
)

RESEARCH = "Research notes from a folder of documents"
CSV = "A data question on a CSV, answered with Python"
GIT = "A git repository explained through `mcp-server-git`"
CUSTOM_TOOL = "A custom tool loaded with `--tools`"
EXTRACTION = "A structured extraction into a pydantic model"
CHAT = "A multi-turn chat with `/think` and `/no_think`"
BATCH = "A batch over a task file"

COVERED = {
    RESEARCH: ("tests/test_examples.py", "test_research_notes_cite_only_what_their_sources_say"),
    CSV: ("tests/test_examples.py", "test_csv_question_is_answered_with_figures_python_computed"),
    GIT: (
        "tests/integration/test_example_git.py",
        "test_git_repository_is_explained_from_what_the_git_server_said",
    ),
    CUSTOM_TOOL: ("tests/test_examples.py", "test_custom_tool_results_are_what_the_answer_quotes"),
    EXTRACTION: (
        "tests/test_examples.py",
        "test_extracted_invoice_validates_and_every_value_is_in_the_document",
    ),
    CHAT: ("tests/test_examples.py", "test_chat_thinks_per_message_as_the_soft_switches_say"),
    BATCH: ("tests/test_examples.py", "test_batch_writes_a_result_per_task_and_a_rerun_skips_them"),
}

PAGE_START_TIMEOUT = 10.0
"""Seconds the research example's page server has to answer after it is started."""

PAGE_POLL = 0.05
"""Seconds between two looks at whether the page server answers."""


def _without(args: list[str], *drop: str, with_value: tuple[str, ...] = ()) -> list[str]:
    kept, skip = [], False
    for arg in args:
        if skip:
            skip = False
        elif arg in with_value:
            skip = True
        elif arg not in drop:
            kept.append(arg)
    return kept


def test_every_example_has_a_gpu_and_an_offline_form_of_the_same_run() -> None:
    found = examples()
    assert set(found) == set(COVERED), "every example with commands is run by a test (COVERED)"
    for example in found.values():
        assert example.gpu and example.offline, f"{example.heading}: needs a # GPU and an # offline block"
        assert example.gpu[:-1] == example.offline[:-1], f"{example.heading}: other commands differ"
        gpu, offline = agentkit_args(example.gpu[-1]), agentkit_args(example.offline[-1])
        gpu_words, offline_words = shlex.split(example.gpu[-1]), shlex.split(example.offline[-1])
        assert gpu_words[: -len(gpu)] == offline_words[: -len(offline)], (
            f"{example.heading}: what comes before agentkit (a pipe, the environment) differs"
        )
        assert "--serve" in gpu and "--backend" not in gpu
        assert offline[offline.index("--backend") + 1] == "scripted"
        assert _without(gpu, "--serve") == _without(offline, with_value=("--backend", "--script")), (
            f"{example.heading}: the GPU and offline commands should differ only in the backend"
        )
        for label, commands in example.blocks.items():
            if f"{label}, offline" in example.blocks:
                offline_block = example.blocks[f"{label}, offline"]
                assert commands[:-1] == offline_block[:-1]
                assert shlex.split(commands[-1]) == _without(shlex.split(offline_block[-1]), "--offline"), (
                    f"{example.heading}: the {label} commands should differ only in --offline"
                )


def test_each_example_is_listed_in_the_top_readme_and_its_test_exists() -> None:
    top = (ROOT / "README.md").read_text(encoding="utf-8")
    for heading, (path, test) in COVERED.items():
        assert heading in top, f"README.md's list of examples lacks {heading!r}"
        assert f"def {test}(" in (ROOT / path).read_text(encoding="utf-8"), f"{path} has no {test}"


def _sources(ran: Any) -> dict[str, str]:
    """What each source the model read said: file path or URL -> the tool's result."""
    said = {args["path"]: text for args, text in ran.results("read_file")}
    said.update({args["url"]: text for args, text in ran.results("fetch_url")})
    return said


def test_research_notes_cite_only_what_their_sources_say(tmp_path: Path) -> None:
    example = examples()[RESEARCH]
    (url,) = re.findall(r"http://127\.0\.0\.1:\d+/[\w./-]*\w", example.offline[-1])
    port = int(url.split(":")[2].split("/")[0])
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", port)) == 0:
            pytest.fail(f"port {port} is in use; the research example serves its page there")

    def page_served() -> None:
        deadline = time.monotonic() + PAGE_START_TIMEOUT
        while True:
            try:
                with urllib.request.urlopen(url, timeout=PAGE_START_TIMEOUT) as response:
                    assert response.status == 200
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(PAGE_POLL)

    ran = run_offline(example, tmp_path, ready=page_served)

    answer = script_answer(example)
    assert ran.stdout.strip() == answer.strip()
    ((_, listed),) = ran.results("glob_files")
    documents = listed.split()
    assert documents == ["docs/costs.md", "docs/pilot-report.md", "docs/rider-survey.md"]
    said = _sources(ran)
    assert set(said) == {*documents, url}, "every document found was read, and the page fetched"
    assert 'GET /council-update.html HTTP/1.1" 200' in ran.background_output[0]

    cited = re.findall(r"^- (.+) \[(\S+)\]$", answer, re.MULTILINE)
    assert len(cited) >= 8
    for point, source in cited:
        assert source in said, f"the notes cite {source}, which the model never read"
        for figure in figures(point):
            assert states(said[source], figure), f"{source} does not say {figure} ({point!r})"
    listed_sources = answer.split("## Sources")[1]
    assert all(source in listed_sources for source in said)


def test_csv_question_is_answered_with_figures_python_computed(tmp_path: Path) -> None:
    example = examples()[CSV]
    ran = run_offline(example, tmp_path)

    answer = script_answer(example)
    assert ran.stdout.strip() == answer.strip()
    outputs = [text for _, text in ran.results("run_python")]
    assert len(outputs) == 2  # the second call used `rows`, loaded by the first
    revenue: defaultdict[str, float] = defaultdict(float)
    with (ROOT / "examples" / "csv" / "sales.csv").open(newline="") as f:
        for row in csv.DictReader(f):
            revenue[row["region"]] += int(row["units"]) * float(row["unit_price"])
    ranked = sorted(revenue.items(), key=lambda item: item[1], reverse=True)
    expected = [f"{region}: {total:,.2f}" for region, total in ranked]
    assert outputs[1].splitlines()[: len(ranked)] == expected
    for figure in figures(answer):
        assert any(states(output, figure) for output in outputs), f"no Python output gave {figure}"
    assert f"**{ranked[0][0]}**" in answer


def _module(path: str) -> Any:
    """An example's Python file, imported (it is not in a package)."""
    name = f"example_{Path(path).stem}"
    spec = importlib.util.spec_from_file_location(name, ROOT / path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # pydantic resolves the module's annotations through it
    spec.loader.exec_module(module)
    return module


def _units_tool() -> Any:
    return _module("examples/custom_tool/units.py").convert_units


def test_custom_tool_results_are_what_the_answer_quotes(tmp_path: Path) -> None:
    example = examples()[CUSTOM_TOOL]
    ran = run_offline(example, tmp_path)

    answer = script_answer(example)
    assert ran.stdout.strip() == answer.strip()
    results = ran.results("convert_units")
    assert len(results) == 3
    convert = _units_tool().fn
    for arguments, text in results:
        assert text == convert(**arguments)
        assert text in answer
    assert "350 °F = 176.6667 °C" in answer


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ((1, "cupz", "ml"), "unknown unit 'cupz'; did you mean 'cup'?"),
        ((1, "kg", "m"), "cannot convert mass (kg) to length (m)"),
        ((-500, "C", "F"), "below absolute zero"),
    ],
)
def test_unit_converter_tells_the_model_what_was_wrong(arguments: tuple[Any, ...], message: str) -> None:
    from agentkit import ToolError

    with pytest.raises(ToolError, match=re.escape(message)):
        _units_tool().fn(*arguments)


def _invoice_model() -> Any:
    return _module("examples/extraction/extract.py").Invoice


def test_extracted_invoice_validates_and_every_value_is_in_the_document(tmp_path: Path) -> None:
    example = examples()[EXTRACTION]
    ran = run_offline(example, tmp_path)

    assert ran.stdout.count("\n") == 1, "piped, the JSON is one line"
    assert json.loads(ran.stdout) == json.loads(script_answer(example))
    invoice = _invoice_model().model_validate_json(ran.stdout)
    ((arguments, document),) = ran.results("read_file")
    assert arguments == {"path": "invoice.md"}
    names = (invoice.number, invoice.seller, invoice.buyer, *(item.description for item in invoice.items))
    for text in names:
        assert text in document, f"the invoice does not say {text!r}"
    for day in (invoice.issued, invoice.due):
        assert f"{day.day} {day:%B %Y}" in document, f"the invoice has no date {day}"
    assert invoice.currency == "EUR" and "€" in document
    for item in invoice.items:
        for figure in (str(item.quantity), f"{item.unit_price:.2f}", f"{item.amount:.2f}"):
            assert states(document, figure), f"the invoice does not say {figure} ({item.description})"
        assert round(item.quantity * item.unit_price, 2) == item.amount
    for figure in (f"{invoice.subtotal:.2f}", f"{invoice.tax:.2f}", f"{invoice.total:.2f}"):
        assert states(document, figure), f"the invoice does not say {figure}"
    assert f"{invoice.tax_rate:g}%" in document
    assert round(sum(item.amount for item in invoice.items), 2) == invoice.subtotal
    assert round(invoice.subtotal + invoice.tax, 2) == invoice.total


def test_the_python_form_makes_the_same_invoice_an_invoice_object(tmp_path: Path) -> None:
    example = examples()[EXTRACTION]
    ran = run_offline(example, tmp_path, block="Python, offline")

    summary, dumped = ran.stdout.split("\n", 1)
    invoice_model = _invoice_model()
    invoice = invoice_model.model_validate_json(dumped)
    assert invoice == invoice_model.model_validate_json(script_answer(example))
    assert summary == "NPS-2026-0147 from Northwind Print Studio: 4 items, 491.39 EUR due in 30 days"
    assert ran.results("read_file")[0][0] == {"path": "invoice.md"}


def test_the_schema_file_is_the_pydantic_models_schema(tmp_path: Path) -> None:
    written = subprocess.run(
        ["python", "examples/extraction/extract.py", "--schema"],
        cwd=ROOT,
        env=environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=True,
    )
    committed = (ROOT / "examples" / "extraction" / "invoice.schema.json").read_text(encoding="utf-8")
    assert written.stdout == committed
    assert json.loads(committed) == _invoice_model().model_json_schema()


def _chat_turns(transcript: list[dict[str, Any]]) -> list[tuple[str, bool, str]]:
    """(the user's message, whether the model thought, why) for each turn of a chat."""
    messages = [transcript[0]["messages"][-1]["content"]]
    messages += [r["message"]["content"] for r in transcript if r["type"] == "user_turn"]
    decisions = [r["decision"] for r in transcript if r["type"] == "step_started"]
    assert len(decisions) == len(messages), "one step per message: no tools here"
    return [(m, d["think"], d["reason"]) for m, d in zip(messages, decisions, strict=True)]


def test_chat_thinks_per_message_as_the_soft_switches_say(tmp_path: Path) -> None:
    example = examples()[CHAT]
    ran = run_offline(example, tmp_path / "with")

    sent = shlex.split(example.offline[-1])[2:5]  # printf '%s\n' MESSAGE MESSAGE MESSAGE | ...
    script = json.loads((ROOT / "examples" / "chat" / "script.json").read_text(encoding="utf-8"))
    answers = [turn.rsplit("</think>", 1)[-1].strip() for turn in script]
    assert ran.stdout.splitlines() == answers
    turns = _chat_turns(ran.transcript)
    assert [message for message, _, _ in turns] == sent, "the switches stay in the messages"
    assert sent[1].endswith(" /no_think") and sent[2].endswith(" /think")
    assert [think for _, think, _ in turns] == [True, False, True]
    assert turns[1][2] == "/no_think in the conversation"
    for word, answer in zip(("strawberries", "blueberries", "blueberries"), answers, strict=True):
        assert f"**{word.count('r')}**" in answer, f"{answer!r} miscounts the r's in {word}"

    # Without its /think, the third message stays under the second's /no_think.
    unswitched = dataclasses.replace(
        example, blocks={"offline": [example.offline[-1].replace('"Really? /think"', '"Really?"')]}
    )
    again = _chat_turns(run_offline(unswitched, tmp_path / "without").transcript)
    assert again[2] == ("Really?", False, "/no_think in the conversation")


def test_batch_writes_a_result_per_task_and_a_rerun_skips_them(tmp_path: Path) -> None:
    from agentkit.batch import read_tasks, task_list

    example = examples()[BATCH]
    clone = tmp_path / "clone"  # the results file lands here, not in the repository
    clone.mkdir()
    (clone / "examples").symlink_to(ROOT / "examples")
    ran = run_offline(example, tmp_path, runs=4, cwd=clone)

    args = agentkit_args(example.offline[-1])
    tasks = task_list(read_tasks(ROOT / args[1]))
    results_file = clone / args[args.index("-o") + 1]
    written = results_file.read_text(encoding="utf-8")
    results = [json.loads(line) for line in written.splitlines()]
    assert sorted(r["id"] for r in results) == sorted(str(t.id) for t in tasks)
    script = json.loads((ROOT / args[args.index("--script") + 1]).read_text(encoding="utf-8"))["tasks"]
    transcripts = {transcript[0]["run_id"]: transcript for transcript in ran.transcripts}
    for task in tasks:
        (result,) = [r for r in results if r["id"] == task.id]
        assert result["stop_reason"] == "answer" and result["error"] is None
        assert result["output"] == script[task.task][-1]
        assert result["meta"] == task.meta
        transcript = transcripts[result["run_id"]]
        decisions = [r["decision"]["think"] for r in transcript if r["type"] == "step_started"]
        assert decisions[0] is (task.thinking != "off"), f"{task.id}: thinking {task.thinking}"
        ((arguments, review),) = tool_results(transcript, "read_file")
        assert arguments["path"] in task.task, f"{task.id} read {arguments['path']}"
        for figure in figures(result["output"]):
            assert states(review, figure), f"{arguments['path']} does not say {figure}"
    starts = [r["time"] for t in ran.transcripts for r in t if r["type"] == "run_started"]
    ends = [r["time"] for t in ran.transcripts for r in t if r["type"] == "run_finished"]
    assert max(starts) < min(ends), "the four runs went at once"

    again = run_offline(example, tmp_path, runs=4, cwd=clone)
    assert results_file.read_text(encoding="utf-8") == written, "nothing was run again"
    assert "ran 0 in" in again.stderr and "4 done before" in again.stderr


def test_the_python_batch_is_the_same_batch_as_the_command(tmp_path: Path) -> None:
    example = examples()[BATCH]
    clone = tmp_path / "clone"
    clone.mkdir()
    (clone / "examples").symlink_to(ROOT / "examples")
    ran = run_offline(example, tmp_path, block="Python, offline", runs=4, cwd=clone)

    results = [
        json.loads(line) for line in (clone / "reviews.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    assert len(results) == 4 and all(r["stop_reason"] == "answer" for r in results)
    printed = sorted(ran.stdout.splitlines())
    assert printed == sorted(f"{r['id']} (answer, 2 steps): {r['output']}" for r in results)
    command = run_offline(example, tmp_path, runs=4, cwd=clone)
    assert "ran 0 in" in command.stderr and "4 done before" in command.stderr
    again = run_offline(example, tmp_path, block="Python, offline", runs=4, cwd=clone)
    assert again.stdout == "4 of 4 tasks were already in reviews.jsonl: skipped\n"
