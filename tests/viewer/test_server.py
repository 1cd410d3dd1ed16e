"""The run viewer's server and JSON API, over transcripts written by real runs: what the page
gets, who may ask (the Host check and the token), 404s, and a live run's records as they come."""

from __future__ import annotations

import http.client
import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agentkit.viewer import RunViewer
from agentkit.viewer.api import read_after

from .runs import (
    LIVE_TASK,
    LOG_LINES,
    TASK,
    THINKING,
    LiveRun,
    answered_run,
    batch_runs,
    stopped_run,
)


@pytest.fixture
def runs() -> Path:
    return Path(os.environ["AGENTKIT_RUNS_DIR"])


@pytest.fixture
def viewer(runs: Path) -> Iterator[RunViewer]:
    with RunViewer(runs, poll=0.05, heartbeat=0.2, stream_time=20) as served:
        served.start()
        yield served


class Answer:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    def json(self) -> Any:
        return json.loads(self.body)


def get(viewer: RunViewer, path: str, *, host: str | None = None, token: str | None = "") -> Answer:
    """GET `path` with the viewer's token in the query (unless `token` is None or given)."""
    if token is not None:
        path += ("&" if "?" in path else "?") + f"token={token or viewer.token}"
    conn = http.client.HTTPConnection("127.0.0.1", viewer.port, timeout=10)
    try:
        conn.putrequest("GET", path, skip_host=True)
        conn.putheader("Host", host or f"127.0.0.1:{viewer.port}")
        conn.endheaders()
        response = conn.getresponse()
        return Answer(response.status, dict(response.getheaders()), response.read())
    finally:
        conn.close()


async def test_the_runs_list_has_each_runs_status_task_steps_tokens_and_duration(
    viewer: RunViewer, runs: Path
) -> None:
    answered = await answered_run(runs)
    stopped = await stopped_run(runs)
    data = get(viewer, "/api/runs").json()
    assert data["dir"] == str(runs)
    rows = {row["id"]: row for row in data["runs"]}
    assert list(rows) == [stopped.run_id, answered.run_id]  # newest first
    row = rows[answered.run_id]
    assert (row["status"], row["task"], row["steps"], row["backend"]) == ("answer", TASK, 3, "scripted")
    assert row["tokens"] == answered.tokens and row["batch"] is None
    assert 0 <= row["duration"] < 30 and row["last"] >= row["started"]
    assert (rows[stopped.run_id]["status"], rows[stopped.run_id]["steps"]) == ("max_steps", 1)


async def test_a_batch_is_listed_with_its_runs_by_task(viewer: RunViewer, runs: Path, tmp_path: Path) -> None:
    results = tmp_path / "results.jsonl"
    batch = await batch_runs(runs, results)
    await answered_run(runs)  # not in the batch
    data = get(viewer, "/api/runs").json()
    (listed,) = data["batches"]
    assert listed["results"] == str(results.resolve()) and listed["name"] == "results.jsonl"
    assert [r["batch"]["task"] for r in listed["runs"]] == ["1", "2", "3"]
    assert {r["id"] for r in listed["runs"]} == {r.run_id for r in batch}
    assert listed["counts"] == {"answer": 3} and listed["steps"] == 3
    assert sum(1 for r in data["runs"] if r["batch"] is None) == 1


async def test_a_run_comes_with_every_record_of_its_transcript(viewer: RunViewer, runs: Path) -> None:
    info = await answered_run(runs)
    data = get(viewer, f"/api/runs/{info.run_id[:6]}").json()  # a unique start of the id will do
    assert data["run"]["id"] == info.run_id and data["live"] is False
    kinds = [r["type"] for r in data["records"]]
    assert kinds[:3] == ["run", "run_started", "step_started"] and kinds[-1] == "run_finished"
    assert kinds.count("step_finished") == 3 and kinds.count("tool_call_finished") == 4
    first = next(r for r in data["records"] if r["type"] == "turn_finished")
    assert first["message"]["reasoning"] == THINKING
    results = [r["result"]["content"] for r in data["records"] if r["type"] == "tool_call_finished"]
    assert "42" in results and f"line {LOG_LINES - 1}: <b>ok</b>" in "\n".join(results)
    assert data["offset"] == info.path.stat().st_size


def test_an_unknown_run_or_page_is_a_404_that_says_why(viewer: RunViewer) -> None:
    missing = get(viewer, "/api/runs/nosuchrun")
    assert missing.status == 404 and "no run 'nosuchrun'" in missing.json()["error"]
    assert get(viewer, "/api/runs/nosuchrun/events").status == 404
    assert get(viewer, "/api/nothing").status == 404
    assert get(viewer, "/static/../server.py").status == 404
    assert get(viewer, "/static/nothing.js").status == 404


def test_the_page_and_its_files_are_served_with_a_policy_that_allows_nothing_from_elsewhere(
    viewer: RunViewer,
) -> None:
    page = get(viewer, "/")
    assert page.status == 200 and page.headers["Content-Type"].startswith("text/html")
    assert b'src="/static/viewer.js"' in page.body and b"http" not in page.body.replace(b"http-equiv", b"")
    policy = page.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "script-src 'self'" in policy
    for name, kind in (("viewer.js", "text/javascript"), ("viewer.css", "text/css")):
        served = get(viewer, f"/static/{name}")
        assert served.status == 200 and served.headers["Content-Type"].startswith(kind)
        assert b"innerHTML" not in served.body and b"https://" not in served.body


@pytest.mark.parametrize("host", ["evil.example:80", "evil.example", "127.0.0.1:1", "localhost"])
def test_a_request_naming_another_host_is_refused(viewer: RunViewer, host: str) -> None:
    """A page elsewhere that points its name at 127.0.0.1 (DNS rebinding) gets nothing."""
    refused = get(viewer, "/api/runs", host=host)
    assert refused.status == 403 and b"answers only at http://127.0.0.1" in refused.body
    assert get(viewer, "/api/runs", host=f"localhost:{viewer.port}").status == 200


def test_without_the_token_nothing_is_served_and_with_it_a_cookie_carries_it(viewer: RunViewer) -> None:
    for path in ("/", "/api/runs", "/static/viewer.js"):
        refused = get(viewer, path, token=None)
        assert refused.status == 403 and b"carries the viewer's token" in refused.body
    for wrong in ("wrong-token", "%C3%A9t%C3%A9", viewer.token[:-1]):
        assert get(viewer, "/api/runs", token=wrong).status == 403
    first = get(viewer, "/")
    cookie = first.headers["Set-Cookie"]
    assert cookie.startswith(f"agentkit-viewer-{viewer.port}={viewer.token};") and "HttpOnly" in cookie
    conn = http.client.HTTPConnection("127.0.0.1", viewer.port, timeout=10)
    try:
        conn.request("GET", "/api/runs", headers={"Cookie": cookie.split(";")[0]})
        assert conn.getresponse().status == 200
    finally:
        conn.close()
    assert viewer.url() == f"http://127.0.0.1:{viewer.port}/?token={viewer.token}"
    assert viewer.url("abc").endswith("#/run/abc")


def test_it_listens_on_loopback_only(viewer: RunViewer) -> None:
    assert viewer._server.server_address[0] == "127.0.0.1"


def test_a_line_still_being_written_is_left_for_the_next_read(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes(b'{"type": "run", "time": 1}\nnot json\n{"type": "step_sta')
    first = read_after(path)
    assert [r["type"] for r in first.records] == ["run"] and first.offset == path.read_bytes().index(b"{", 1)
    with path.open("ab") as file:
        file.write(b'rted", "step": 1}\n')
    second = read_after(path, first.offset)
    assert [r["type"] for r in second.records] == ["step_started"] and second.offset == path.stat().st_size


def events(viewer: RunViewer, run_id: str, offset: int, seconds: float = 30.0) -> Iterator[tuple[str, Any]]:
    """The (event, data) pairs of a run's live stream, until it ends (bounded)."""
    conn = http.client.HTTPConnection("127.0.0.1", viewer.port, timeout=seconds)
    try:
        conn.request("GET", f"/api/runs/{run_id}/events?from={offset}&token={viewer.token}")
        response = conn.getresponse()
        assert response.status == 200 and response.getheader("Content-Type", "").startswith(
            "text/event-stream"
        )
        deadline = time.monotonic() + seconds
        kind, data = "", ""
        while time.monotonic() < deadline:
            line = response.readline().decode()
            if not line:
                return
            if line.startswith("event: "):
                kind = line[7:].strip()
            elif line.startswith("data: "):
                data = line[6:]
            elif line == "\n" and kind:
                yield kind, json.loads(data)
                kind, data = "", ""
        raise AssertionError(f"the stream did not end within {seconds} s")
    finally:
        conn.close()


def test_a_run_in_progress_streams_its_new_records_until_its_process_ends(
    viewer: RunViewer, runs: Path, tmp_path: Path
) -> None:
    live = LiveRun(runs, tmp_path)
    try:
        info = live.waiting()
        data = get(viewer, f"/api/runs/{info.run_id}").json()
        assert (
            data["live"] is True and data["run"]["status"] == "running" and data["run"]["task"] == LIVE_TASK
        )
        before = [r["type"] for r in data["records"]]
        assert "tool_call_started" in before and "tool_call_finished" not in before
        listed = get(viewer, "/api/runs").json()["runs"]
        assert [r["status"] for r in listed if r["id"] == info.run_id] == ["running"]
        stream = events(viewer, info.run_id, data["offset"])
        live.go()
        got = list(stream)
    finally:
        live.close()
    kinds = [r["type"] for kind, body in got if kind == "records" for r in body["records"]]
    assert "tool_call_finished" in kinds and kinds[-1] == "run_finished"
    assert "run" not in kinds and "tool_call_started" not in kinds  # only what came after the offset
    assert kinds.count("step_started") == 1  # the second step
    assert got[-1][0] == "end" and got[-1][1]["status"] == "answer" and got[-1][1]["steps"] == 2


async def test_the_stream_of_a_finished_run_sends_what_is_left_and_ends(
    viewer: RunViewer, runs: Path
) -> None:
    info = await answered_run(runs)
    got = list(events(viewer, info.run_id, 0, seconds=10))
    assert [kind for kind, _ in got] == ["records", "end"]
    assert got[0][1]["records"][0]["type"] == "run" and got[0][1]["offset"] == info.path.stat().st_size
    assert list(events(viewer, info.run_id, info.path.stat().st_size, seconds=10)) == [("end", got[1][1])]


def test_a_stream_ends_when_the_viewer_closes(runs: Path, tmp_path: Path) -> None:
    live = LiveRun(runs, tmp_path)
    try:
        info = live.waiting()
        served = RunViewer(runs, poll=0.05, heartbeat=0.1, stream_time=60)
        served.start()
        started = time.monotonic()
        stream = events(served, info.run_id, 0, seconds=20)
        assert next(stream)[0] == "records"
        served.close()
        assert list(stream) == [] and time.monotonic() - started < 10
    finally:
        live.close()


def test_a_runs_directory_not_made_yet_lists_no_runs(tmp_path: Path) -> None:
    with RunViewer(tmp_path / "not-yet") as served:
        served.start()
        assert get(served, "/api/runs").json() == {
            "dir": str(tmp_path / "not-yet"),
            "runs": [],
            "batches": [],
            "unreadable": [],
        }


def test_a_connection_that_sends_no_request_is_dropped_after_the_request_timeout(runs: Path) -> None:
    with RunViewer(runs, request_timeout=0.5) as served:
        served.start()
        with socket.create_connection(("127.0.0.1", served.port), timeout=10) as idle:
            started = time.monotonic()
            assert idle.recv(1) == b""  # closed by the viewer, not by our own timeout
            assert 0.4 < time.monotonic() - started < 5
        assert get(served, "/api/runs").status == 200


async def test_files_that_are_not_transcripts_are_named_in_the_list_not_lost(
    viewer: RunViewer, runs: Path
) -> None:
    answered = await answered_run(runs)
    (runs / "20260101-000000-cut.jsonl").write_text('{"type": "run", "run_id": "cu')
    (runs / "results.jsonl").write_text('{"id": 1, "output": "42"}\n')
    data = get(viewer, "/api/runs").json()
    assert [row["id"] for row in data["runs"]] == [answered.run_id]
    assert data["unreadable"] == ["20260101-000000-cut.jsonl"]
