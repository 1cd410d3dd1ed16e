"""The fault server itself: it streams like vLLM and each fault does what it says on the wire."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.fault_server import (
    MODEL,
    Cut,
    Empty,
    ErrorEvent,
    FaultServer,
    Html,
    Reset,
    Stall,
    Status,
    Trickle,
    accept_and_hang,
    context_length_error,
    parse_fault,
)

USER = "<|im_start|>user\nWrite two notes.<|im_end|>\n<|im_start|>assistant\n"
RESULT = (
    "<|im_end|>\n<|im_start|>user\n<tool_response>\nok\n</tool_response><|im_end|>\n<|im_start|>assistant\n"
)


def request(path: str, body: dict[str, Any] | None = None, *, close: bool = True) -> bytes:
    """The bytes of a request, as a client sends them."""
    data = json.dumps(body).encode() if body is not None else b""
    lines = [f"{'POST' if body is not None else 'GET'} {path} HTTP/1.1", "host: 127.0.0.1"]
    if body is not None:
        lines += ["content-type: application/json", f"content-length: {len(data)}"]
    if close:
        lines.append("connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + data


def completion(prompt: str = USER, **more: Any) -> dict[str, Any]:
    return {
        "model": MODEL,
        "prompt": prompt,
        "stream": True,
        "stream_options": {"include_usage": True},
        **more,
    }


async def exchange(port: int, data: bytes, *, timeout: float = 3.0) -> tuple[bytes, BaseException | None]:
    """Send `data`, read until the server closes; the bytes and the error that ended the read."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    received = b""
    error: BaseException | None = None
    try:
        while chunk := await asyncio.wait_for(reader.read(65536), timeout):
            received += chunk
    except (ConnectionError, asyncio.TimeoutError) as exc:
        error = exc
    finally:
        writer.transport.abort()
    return received, error


def split(raw: bytes) -> tuple[bytes, list[bytes], bool]:
    """(head, chunks, terminated) of a chunked response."""
    head, _, rest = raw.partition(b"\r\n\r\n")
    chunks: list[bytes] = []
    while rest:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            return head, chunks, True
        chunks.append(rest[:size])
        rest = rest[size + 2 :]
    return head, chunks, False


def payloads(chunks: list[bytes]) -> list[Any]:
    """The data of each SSE event: decoded JSON, or the text `[DONE]`."""
    out = []
    for chunk in b"".join(chunks).split(b"\n\n"):
        if chunk.startswith(b"data: "):
            data = chunk[6:].decode()
            out.append(data if data == "[DONE]" else json.loads(data))
    return out


def text_of(events: list[Any]) -> str:
    return "".join(c["text"] for e in events if isinstance(e, dict) for c in e.get("choices", []))


# -- healthy answers ------------------------------------------------------------------------


async def test_models_and_tokenize_answer_as_vllm_does() -> None:
    async with FaultServer(max_model_len=2048) as server, aiohttp.ClientSession() as session:
        async with session.get(server.base_url + "/models") as resp:
            listing = await resp.json()
        async with session.post(
            f"http://127.0.0.1:{server.port}/tokenize", json={"prompt": "x" * 40}
        ) as resp:
            counted = await resp.json()
    assert listing["data"][0] == {
        "id": MODEL,
        "object": "model",
        "created": 0,
        "owned_by": "vllm",
        "root": MODEL,
        "parent": None,
        "max_model_len": 2048,
    }
    assert counted["count"] == 11 and counted["max_model_len"] == 2048 and len(counted["tokens"]) == 11


async def test_completions_stream_one_event_per_chunk_through_a_scripted_tool_loop() -> None:
    async with FaultServer(
        calls=2, tool="write_note", arguments=lambda n: {"n": n}, answer="The answer is 42."
    ) as server:
        replies = []
        for prompt in (USER, USER + "out" + RESULT, USER + "out" + RESULT + "out" + RESULT):
            raw, error = await exchange(server.port, request("/v1/completions", completion(prompt)))
            head, chunks, terminated = split(raw)
            assert error is None and terminated and b"transfer-encoding: chunked" in head
            assert all(
                c.startswith(b"data: ") and c.endswith(b"\n\n") and c.count(b"\n\n") == 1 for c in chunks
            )
            events = payloads(chunks)
            assert events[-1] == "[DONE]" and events[-3]["choices"][0]["finish_reason"] == "stop"
            assert events[-2]["usage"]["completion_tokens"] == len(events) - 3
            replies.append(text_of(events))
    assert replies[0].startswith("<think>\n") and replies[0].endswith(
        '<tool_call>\n{"name": "write_note", "arguments": {"n": 1}}\n</tool_call>'
    )
    assert '"arguments": {"n": 2}' in replies[1]
    assert replies[2] == "The answer is 42."
    assert [r.step for r in server.requests] == [0, 1, 2]


async def test_chat_streams_reasoning_then_a_tool_call_then_the_answer() -> None:
    body: dict[str, Any] = {"model": MODEL, "messages": [{"role": "user", "content": "go"}], "stream": True}
    async with FaultServer(calls=1, tool="write_note") as server:
        first, _ = await exchange(server.port, request("/v1/chat/completions", body))
        body["messages"] += [{"role": "assistant", "content": ""}, {"role": "tool", "content": "ok"}]
        second, _ = await exchange(server.port, request("/v1/chat/completions", body))
    events = payloads(split(first)[1])
    deltas = [e["choices"][0]["delta"] for e in events[:-1]]
    assert deltas[0] == {"role": "assistant", "content": ""}
    assert "".join(d.get("reasoning", "") for d in deltas).strip() == FaultServer().reasoning
    calls = [d["tool_calls"][0] for d in deltas if "tool_calls" in d]
    assert calls[0]["function"] == {"name": "write_note", "arguments": ""} and calls[0]["type"] == "function"
    assert json.loads("".join(c["function"]["arguments"] for c in calls)) == {"n": 1}
    assert events[-2]["choices"][0]["finish_reason"] == "tool_calls" and events[-1] == "[DONE]"
    answer = payloads(split(second)[1])
    assert "".join(e["choices"][0]["delta"].get("content", "") for e in answer[:-1]) == FaultServer().answer


async def test_a_prompt_holding_the_start_of_its_reply_gets_only_the_rest() -> None:
    async with FaultServer() as server:
        full, _ = await exchange(server.port, request("/v1/completions", completion()))
        reply = text_of(payloads(split(full)[1]))
        rest, _ = await exchange(server.port, request("/v1/completions", completion(USER + reply[:21])))
        prefilled = USER + "<think>\n\n</think>\n\n"
        direct, _ = await exchange(server.port, request("/v1/completions", completion(prefilled + "<tool")))
    assert reply[:21] + text_of(payloads(split(rest)[1])) == reply
    assert server.requests[1].resumed == reply[:21]
    assert (
        text_of(payloads(split(direct)[1])) == '_call>\n{"name": "step", "arguments": {"n": 1}}\n</tool_call>'
    )


# -- faults ---------------------------------------------------------------------------------


async def test_reset_closes_with_an_rst_before_any_byte() -> None:
    async with FaultServer(plan=[Reset(), Reset()]) as server:
        raw, error = await exchange(server.port, request("/v1/completions", completion()))
        assert raw == b"" and isinstance(error, ConnectionResetError)
        async with aiohttp.ClientSession() as session:
            with pytest.raises(aiohttp.ClientOSError, match="Connection reset by peer"):
                async with session.post(server.base_url + "/completions", json=completion()) as resp:
                    await resp.read()


async def test_status_faults_answer_with_their_code_headers_and_body_on_a_kept_connection() -> None:
    plan = [Status(429, retry_after=2), context_length_error(), None]
    connector = aiohttp.TCPConnector(limit=1)
    async with FaultServer(plan=plan) as server, aiohttp.ClientSession(connector=connector) as session:
        answers = []
        for _ in range(3):
            async with session.post(server.base_url + "/completions", json=completion()) as resp:
                answers.append((resp.status, resp.headers.get("retry-after"), await resp.read()))
    assert answers[0][:2] == (429, "2") and json.loads(answers[0][2])["error"]["type"] == "RateLimitError"
    assert answers[1][0] == 400 and json.loads(answers[1][2]) == {
        "object": "error",
        "message": "This model's maximum context length is 2048 tokens. However, you requested 2100 "
        "tokens (1900 in the messages, 200 in the completion). Please reduce the length of the messages "
        "or completion.",
        "type": "BadRequestError",
        "param": None,
        "code": 400,
    }
    assert answers[2][0] == 200 and answers[2][2].endswith(b"data: [DONE]\n\n")
    assert {r.connection for r in server.requests} == {1}


async def test_empty_and_html_faults_answer_200_without_events() -> None:
    async with FaultServer(plan=[Empty(), Html()]) as server:
        empty, _ = await exchange(server.port, request("/v1/completions", completion()))
        html, _ = await exchange(server.port, request("/v1/completions", completion()))
    assert empty.startswith(b"HTTP/1.1 200 OK") and empty.endswith(b"content-length: 0\r\n\r\n")
    assert b"content-type: text/html" in html
    assert html.endswith(b"<html><body><h1>502 Bad Gateway</h1></body></html>")


async def test_stalls_send_nothing_for_their_time_where_they_say() -> None:
    async with FaultServer(plan=[Stall(0.2), Stall(0.2, after=2, then="fin"), Stall(0.2, after=0)]) as server:
        for stall in server.plan.copy():
            assert isinstance(stall, Stall)
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(request("/v1/completions", completion()))
            started = time.monotonic()
            first = await reader.read(65536)
            waited = time.monotonic() - started
            rest = await asyncio.wait_for(reader.read(), 3)
            writer.close()
            if stall.after is None:  # the headers come late
                assert waited >= 0.19 and first.startswith(b"HTTP/1.1 200")
            else:  # the headers come at once
                assert waited < 0.15 and first.startswith(b"HTTP/1.1 200")
            if stall.then == "fin":
                assert split(first + rest)[2] is False and len(split(first + rest)[1]) == 2
            else:
                assert (first + rest).endswith(b"data: [DONE]\n\n\r\n0\r\n\r\n")


async def test_trickle_sends_one_byte_at_a_time() -> None:
    async with FaultServer(plan=[Trickle(interval=0.001)], answer="Hi.", calls=0) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(request("/v1/completions", {"model": MODEL, "prompt": USER, "stream": True}))
        head = await reader.readuntil(b"\r\n\r\n")
        reads = []
        while data := await asyncio.wait_for(reader.read(65536), 3):
            reads.append(data)
        writer.close()
    assert head.startswith(b"HTTP/1.1 200") and max(len(r) for r in reads) <= 4
    assert text_of(payloads(split(head + b"".join(reads))[1])) == "Hi."


@pytest.mark.parametrize(
    ("cut", "terminated", "events"),
    [
        (Cut(after=2), False, 2),
        (Cut(after=2, end="terminator"), True, 2),
        (Cut(after=2, partial=True), False, 2),
        (Cut(after=None, end="terminator"), True, None),
    ],
)
async def test_cut_streams_end_before_done(cut: Cut, terminated: bool, events: int | None) -> None:
    async with FaultServer(plan=[cut]) as server:
        raw, error = await exchange(server.port, request("/v1/completions", completion()))
    _, chunks, ended = split(raw)
    assert error is None and ended is terminated and b"[DONE]" not in raw
    if cut.partial:  # then half of the third event, as a chunk of its own
        assert len(chunks) == 3 and chunks[2].startswith(b"data: {") and not chunks[2].endswith(b"\n\n")
        chunks = chunks[:2]
    if events is None:  # all but [DONE]: the finish reason and the usage came
        assert (
            payloads(chunks)[-2]["choices"][0]["finish_reason"] == "stop" and "usage" in payloads(chunks)[-1]
        )
    else:
        assert len(payloads(chunks)) == events
        assert all(e["choices"][0]["finish_reason"] is None for e in payloads(chunks))
    assert server.requests[0].sent == text_of(payloads(chunks[:events]))


async def test_cut_with_close_framing_ends_the_body_at_fin() -> None:
    async with (
        FaultServer(plan=[Cut(after=3, framing="close")]) as server,
        aiohttp.ClientSession() as session,
        session.post(server.base_url + "/completions", json=completion()) as resp,
    ):
        body = await resp.read()  # a well-formed response: the server's FIN ends it
    assert resp.headers["connection"] == "close" and "transfer-encoding" not in resp.headers
    assert body.count(b"data: ") == 3 and b"[DONE]" not in body


async def test_cut_with_reset_delivers_the_events_then_the_rst() -> None:
    async with FaultServer(plan=[Cut(after=3, end="reset"), Cut(after=3, end="reset")]) as server:
        raw, error = await exchange(server.port, request("/v1/completions", completion()))
        assert isinstance(error, ConnectionResetError) and len(split(raw)[1]) == 3
        async with aiohttp.ClientSession() as session:
            with pytest.raises(aiohttp.ClientPayloadError, match="Connection reset by peer"):
                async with session.post(server.base_url + "/completions", json=completion()) as resp:
                    await resp.read()


async def test_error_event_arrives_mid_stream_then_done() -> None:
    async with FaultServer(plan=[ErrorEvent(after=2, message="engine died")]) as server:
        raw, _ = await exchange(server.port, request("/v1/completions", completion()))
    events = payloads(split(raw)[1])
    assert len(events) == 4 and events[-1] == "[DONE]"
    assert events[2] == {
        "error": {"message": "engine died", "type": "InternalServerError", "param": None, "code": 500}
    }


async def test_rate_draws_the_same_faults_from_the_same_seed() -> None:
    drawn = []
    for _ in range(2):
        async with FaultServer(rate=0.5, seed=7, kinds=[Status(503), Empty()]) as server:
            for _ in range(12):
                await exchange(server.port, request("/v1/completions", completion()))
            drawn.append([r.fault for r in server.requests])
    assert drawn[0] == drawn[1] and {Status(503), Empty(), None} == set(drawn[0])


def test_faults_parse_from_their_string_form() -> None:
    assert parse_fault("reset") == Reset()
    assert parse_fault("status:429,retry_after=2") == Status(429, retry_after=2)
    assert parse_fault("stall:5,after=0,then=fin") == Stall(5, after=0, then="fin")
    assert parse_fault("cut:after=none,end=reset") == Cut(after=None, end="reset")
    assert parse_fault("none") is None
    with pytest.raises(ValueError, match="no field 'colour'"):
        parse_fault("cut:colour=red")


# -- ports that refuse or never answer ------------------------------------------------------


async def test_accept_and_hang_connects_and_never_answers() -> None:
    with accept_and_hang() as hang:
        raw, error = await exchange(hang.port, request("/v1/models"), timeout=0.3)
    assert raw == b"" and isinstance(error, asyncio.TimeoutError)


async def test_a_stopped_server_refuses_then_serves_again_on_the_same_port() -> None:
    async with FaultServer() as server:
        port = server.port
        await server.stop()
        with pytest.raises(ConnectionRefusedError):
            await asyncio.open_connection("127.0.0.1", port)
        await server.start()
        raw, _ = await exchange(server.port, request("/v1/models"))
    assert server.port == port and raw.startswith(b"HTTP/1.1 200")


async def test_stop_aborts_connections_in_the_middle_of_a_stall() -> None:
    server = FaultServer(plan=[Stall(30)])
    await server.start()
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(request("/v1/completions", completion()))
    await asyncio.sleep(0.1)
    started = time.monotonic()
    await server.stop()
    assert await asyncio.wait_for(reader.read(), 1) == b"" and time.monotonic() - started < 1
    writer.close()


def test_in_thread_serves_synchronous_clients_and_goes_down_and_up() -> None:
    with FaultServer().in_thread() as server:
        with urllib.request.urlopen(server.base_url + "/models", timeout=3) as resp:
            assert json.load(resp)["data"][0]["id"] == MODEL
        server.down()
        with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", server.port), 1):
            pass
        server.up()
        with socket.create_connection(("127.0.0.1", server.port), 1):
            pass


def test_runs_as_a_process_that_prints_its_url() -> None:
    script = Path(__file__).with_name("fault_server.py")
    proc = subprocess.Popen(
        [sys.executable, str(script), "--port", "0", "--latency", "0.01", "--rate", "0.5", "--seed", "1"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().split()[-1]
        with urllib.request.urlopen(url + "/models", timeout=3) as resp:
            assert json.load(resp)["data"][0]["owned_by"] == "vllm"
    finally:
        proc.terminate()
        assert proc.wait(5) == 0
