"""An OpenAI-compatible model server on loopback that fails on purpose, streaming like vLLM.

It serves `GET /v1/models`, `POST /v1/completions`, `POST /v1/chat/completions` (with
`"stream": true`) and `POST /tokenize` over raw asyncio streams, so every byte, chunk and
socket close is under the test's control. The model is a deterministic tool loop: while the
conversation holds fewer than `calls` tool results it reasons and calls a tool, then it answers.

Each POST may get a fault, from a plan consumed in order or at a seeded rate: a TCP reset, an
HTTP error status, an empty or HTML body, a stall, a trickle, a cut stream, an error event.
A `/v1/completions` prompt that already ends with the start of its reply (a client resending
prompt + partial output after a broken stream) gets only the rest of the reply.

    async with FaultServer(plan=[Cut(after=3), None]) as server: ...
    with FaultServer(rate=0.1).in_thread() as server: ...
    python tests/fault_server.py --port 8765 --rate 0.1 --seed 1 --latency 0.05 --calls 9
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import random
import signal
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from email.utils import formatdate
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Literal, Union

if TYPE_CHECKING:
    from typing_extensions import Self


__all__ = [
    "BAD_GATEWAY_HTML",
    "DEFAULT_KINDS",
    "MODEL",
    "Cut",
    "Empty",
    "ErrorEvent",
    "Fault",
    "FaultServer",
    "Hang",
    "Html",
    "Record",
    "Reply",
    "Reset",
    "Stall",
    "State",
    "Status",
    "Trickle",
    "accept_and_hang",
    "completion_text",
    "context_length_error",
    "estimate_tokens",
    "parse_fault",
]

MODEL = "Qwen/Qwen3-8B"
MAX_MODEL_LEN = 32_768
REASONING = "I need to call the tool again to make progress on the task."
ANSWER = "All steps are done; the final result is 42."
PIECE = 4
"""Characters per streamed piece: one SSE event, one HTTP chunk, one counted token."""

GENERATION_PROMPT = "<|im_start|>assistant\n"
NO_THINK_PREFILL = "<think>\n\n</think>\n\n"
BAD_GATEWAY_HTML = "<html><body><h1>502 Bad Gateway</h1></body></html>"

IDLE_TIMEOUT = 60.0
"""Seconds a keep-alive connection may wait for its next request."""
READ_TIMEOUT = 10.0
"""Seconds to read a request's body once its headers came."""
WRITE_TIMEOUT = 30.0
"""Seconds a write may wait for a client that does not read."""
SHUTDOWN_TIMEOUT = 5.0
"""Seconds `stop()` waits for connection handlers after aborting their sockets."""


# -- faults ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reset:
    """Read the request, then close with a TCP RST (SO_LINGER 0) before any response byte."""


@dataclass(frozen=True)
class Status:
    """Answer with this HTTP status (keep-alive).

    Attributes:
        code: The status code.
        retry_after: The `Retry-After` header value, if any.
        body: The body; None gives an OpenAI-style JSON error for the code.
        content_type: The body's media type.
    """

    code: int = 503
    retry_after: str | float | None = None
    body: str | None = None
    content_type: str = "application/json"


@dataclass(frozen=True)
class Empty:
    """Answer 200 with an empty body (`content-length: 0`)."""

    code: int = 200


@dataclass(frozen=True)
class Html:
    """Answer with an HTML page, as a proxy in front of the server might."""

    code: int = 200
    body: str = BAD_GATEWAY_HTML


@dataclass(frozen=True)
class Stall:
    """Send nothing for `seconds`, then go on or end the connection.

    Attributes:
        seconds: How long to send nothing.
        after: None stalls before the response headers; K stalls after the headers and K
            events (0: before the first event).
        then: "continue" (answer normally), "fin" (close) or "reset" (RST).
    """

    seconds: float = 1.0
    after: int | None = None
    then: Literal["continue", "fin", "reset"] = "continue"


@dataclass(frozen=True)
class Trickle:
    """Send the response body one byte every `interval` seconds (headers too if `headers`)."""

    interval: float = 0.01
    headers: bool = False


@dataclass(frozen=True)
class Cut:
    """Stream `after` events, then end the stream early.

    Attributes:
        after: Complete events to send; None sends all but `data: [DONE]` (the finish_reason
            and usage events arrive, `[DONE]` does not).
        partial: Then send the first half of the next event's bytes (as a chunk of its own).
        end: "fin" closes the socket (a chunked body then lacks its terminator),
            "terminator" ends the chunked body properly and keeps the connection,
            "reset" closes with a TCP RST.
        grace: Seconds between the last bytes and an RST, for the client to read them: an RST
            that arrives first makes the client's kernel drop the bytes it has not read yet.
        framing: "chunked" (as vLLM) or "close" (`Connection: close`, the body ends at FIN,
            so a "fin" cut is a well-formed HTTP response).
    """

    after: int | None = 2
    partial: bool = False
    end: Literal["fin", "terminator", "reset"] = "fin"
    grace: float = 0.05
    framing: Literal["chunked", "close"] = "chunked"


@dataclass(frozen=True)
class ErrorEvent:
    """After `after` events send `data: {"error": {...}}` then `[DONE]`, as vLLM does on engine errors."""

    after: int = 1
    message: str = "The engine failed while generating the response."
    type: str = "InternalServerError"
    code: int = 500


Fault = Union[Reset, Status, Empty, Html, Stall, Trickle, Cut, ErrorEvent]

_KINDS: dict[str, type[Any]] = {
    "reset": Reset,
    "status": Status,
    "empty": Empty,
    "html": Html,
    "stall": Stall,
    "trickle": Trickle,
    "cut": Cut,
    "error_event": ErrorEvent,
}

DEFAULT_KINDS: tuple[Fault, ...] = (
    Reset(),
    Status(502),
    Status(503),
    Status(429, retry_after="0"),
    Cut(after=3),
    Cut(after=3, end="reset"),
)
"""Faults drawn at `rate`: the transient ones a retrying client should get through."""


def context_length_error(
    max_model_len: int = 2048, prompt_tokens: int = 1900, completion: int = 200
) -> Status:
    """The 400 vLLM answers when a request does not fit the context window."""
    message = (
        f"This model's maximum context length is {max_model_len} tokens. However, you requested "
        f"{prompt_tokens + completion} tokens ({prompt_tokens} in the messages, {completion} in the "
        "completion). Please reduce the length of the messages or completion."
    )
    body = {"object": "error", "message": message, "type": "BadRequestError", "param": None, "code": 400}
    return Status(400, body=json.dumps(body))


def parse_fault(text: str) -> Fault | None:
    """A fault from its string form: `kind[:value,...,key=value,...]`.

    Values fill the dataclass fields in order, or by name; "none" is None. Examples:
    `reset`, `status:429,retry_after=2`, `stall:5,after=0,then=fin`, `cut:3,end=reset`,
    `cut:after=none` (all but [DONE]), `none` (no fault).
    """
    kind, _, args = text.strip().partition(":")
    if kind.lower() in ("none", "ok", ""):
        return None
    cls = _KINDS.get(kind.lower())
    if cls is None:
        raise ValueError(f"unknown fault kind {kind!r}: use one of {', '.join(_KINDS)}")
    names = [f.name for f in dataclasses.fields(cls)]
    values: dict[str, Any] = {}
    for i, arg in enumerate(a for a in args.split(",") if a):
        key, eq, raw = arg.partition("=")
        if not eq:
            key, raw = names[i], arg
        if key not in names:
            raise ValueError(f"fault {kind!r} has no field {key!r}: its fields are {', '.join(names)}")
        values[key] = _value(raw)
    fault: Fault = cls(**values)
    return fault


def _value(raw: str) -> Any:
    lowered = raw.lower()
    if lowered in ("none", "null"):
        return None
    if lowered in ("true", "false"):
        return lowered == "true"
    for convert in (int, float):
        try:
            return convert(raw)
        except ValueError:
            pass
    return raw


# -- the model ------------------------------------------------------------------------------


@dataclass(frozen=True)
class State:
    """What the model's next turn depends on.

    Attributes:
        api: "completions" or "chat".
        step: Tool results the conversation holds.
        thinking: False when the client turned thinking off (prefill or chat_template_kwargs).
        body: The request body.
    """

    api: str
    step: int
    thinking: bool
    body: Mapping[str, Any]


@dataclass(frozen=True)
class Reply:
    """One model turn: reasoning (when thinking), then a tool call if `tool` is set, else `answer`."""

    reasoning: str = ""
    tool: str | None = None
    arguments: Mapping[str, Any] = field(default_factory=dict)
    answer: str = ""


def completion_text(reply: Reply, thinking: bool = True) -> str:
    """The raw Qwen3 output of a reply, as `/v1/completions` streams it."""
    text = f"<think>\n{reply.reasoning}\n</think>\n\n" if thinking and reply.reasoning else ""
    if reply.tool is None:
        return text + reply.answer
    call = json.dumps({"name": reply.tool, "arguments": dict(reply.arguments)}, ensure_ascii=False)
    return text + f"<tool_call>\n{call}\n</tool_call>"


def estimate_tokens(text: str) -> int:
    """The server's token count of a text: `len(text) // 4 + 1` (chat: of the messages' JSON)."""
    return len(text) // 4 + 1


def _split_prompt(prompt: str) -> tuple[str, str, bool]:
    """(history, reply text already written, thinking) of a completions prompt."""
    start = prompt.rfind(GENERATION_PROMPT)
    if start < 0:
        return prompt, "", True
    written = prompt[start + len(GENERATION_PROMPT) :]
    if written.startswith(NO_THINK_PREFILL):
        return prompt[:start], written[len(NO_THINK_PREFILL) :], False
    return prompt[:start], written, True


def _rest(text: str, written: str) -> str:
    """What is left of the reply `text` after `written`, the part the prompt already holds."""
    if text.startswith(written):
        return text[len(written) :]
    if "</think>" in written and "</think>\n\n" in text:
        return text.split("</think>\n\n", 1)[1]  # the client closed the reasoning: go on after it
    return text


def _pieces(text: str, size: int = PIECE) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def _event(payload: Any) -> bytes:
    data = (
        payload
        if isinstance(payload, str)
        else json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    )
    return b"data: " + data.encode() + b"\n\n"


DONE = _event("[DONE]")


# -- the wire -------------------------------------------------------------------------------


@dataclass
class Record:
    """One request the server read.

    Attributes:
        method: The HTTP method.
        path: The request path, without a query.
        body: The parsed JSON body, None when it had none or it was not JSON.
        fault: The fault applied, None when healthy.
        at: `time.monotonic()` when the request was read.
        step: Tool results the conversation held (generation requests).
        resumed: Reply text the prompt already held (a continuation).
        sent: Reply text sent in complete events.
        connection: The serial number of the TCP connection it came on (from 1).
    """

    method: str
    path: str
    body: Any
    fault: Fault | None
    at: float
    step: int | None = None
    resumed: str = ""
    sent: str = ""
    connection: int = 0


@dataclass
class _Request:
    method: str
    path: str
    headers: dict[str, str]
    raw: bytes
    keep_alive: bool


@dataclass
class _Answer:
    """A response before faults: status, media type, and its parts with the text each carries."""

    status: int
    content_type: str
    parts: list[tuple[bytes, str]]
    stream: bool = False

    @classmethod
    def json(cls, payload: Any, status: int = 200) -> _Answer:
        return cls(status, "application/json", [(json.dumps(payload).encode(), "")])


def _error(code: int, message: str, *, param: str | None = None) -> _Answer:
    return _Answer.json({"error": _error_info(code, message, param)}, code)


_ERROR_TYPES = {
    400: "BadRequestError",
    401: "AuthenticationError",
    403: "PermissionDeniedError",
    404: "NotFoundError",
    408: "RequestTimeoutError",
    429: "RateLimitError",
}


def _error_info(code: int, message: str, param: str | None = None) -> dict[str, Any]:
    kind = _ERROR_TYPES.get(code, "InternalServerError" if code >= 500 else "BadRequestError")
    return {"message": message, "type": kind, "param": param, "code": code}


def _phrase(code: int) -> str:
    try:
        return HTTPStatus(code).phrase
    except ValueError:
        return "Unknown"


def _head(status: int, content_type: str | None, *headers: tuple[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status} {_phrase(status)}", f"date: {formatdate(usegmt=True)}", "server: uvicorn"]
    if content_type:
        lines.append(f"content-type: {content_type}")
    lines += [f"{name}: {value}" for name, value in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


TERMINATOR = b"0\r\n\r\n"


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP RST: SO_LINGER 0 makes close() drop the connection instead of a FIN."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class FaultServer:
    """A vLLM-like server on 127.0.0.1 whose answers fail as planned.

    Args:
        port: The port to bind; 0 picks a free one (see `port` after start). A restart after
            `stop()` binds the same port again.
        calls: Tool calls the model makes before it answers.
        tool: The name of the tool it calls.
        arguments: The arguments of call number n (1-based) -> dict; default `{"n": n}`.
        answer: The final answer text.
        reasoning: The reasoning before each tool call (when thinking).
        reply: A function of the `State` returning the `Reply`; replaces the four above.
        model: The served model name; requests naming another model get vLLM's 404.
        max_model_len: The context window `/v1/models` and `/tokenize` report; a prompt that
            fills it (by `estimate_tokens`) gets vLLM's context-length 400.
        check_max_tokens: Also refuse a request whose prompt plus `max_tokens` exceeds the
            window, as some servers do (vLLM caps `max_tokens` instead).
        plan: Faults for the POST requests, one each in order (None: healthy); `plan` is a
            deque the test may extend while the server runs.
        rate: The chance that a POST past the plan gets a fault drawn from `kinds`.
        seed: Seed of the random draws of `rate`.
        kinds: The faults `rate` draws from.
        fault_paths: Paths whose POSTs take faults; None means every POST.
        latency: Seconds between a stream's headers and its first event.
        token_delay: Seconds between events.
        piece: Characters per streamed piece.
        keep: Keep at least the newest `keep` records in `requests` (a long-running server's
            memory stays bounded); None keeps all.
    """

    def __init__(
        self,
        *,
        port: int = 0,
        calls: int = 1,
        tool: str = "step",
        arguments: Callable[[int], Mapping[str, Any]] | None = None,
        answer: str = ANSWER,
        reasoning: str = REASONING,
        reply: Callable[[State], Reply] | None = None,
        model: str = MODEL,
        max_model_len: int = MAX_MODEL_LEN,
        check_max_tokens: bool = False,
        plan: Iterable[Fault | None] = (),
        rate: float = 0.0,
        seed: int = 0,
        kinds: Iterable[Fault] = DEFAULT_KINDS,
        fault_paths: Collection[str] | None = None,
        latency: float = 0.0,
        token_delay: float = 0.0,
        piece: int = PIECE,
        keep: int | None = None,
    ) -> None:
        self.port = port
        self.calls = calls
        self.tool = tool
        self.arguments = arguments or (lambda n: {"n": n})
        self.answer = answer
        self.reasoning = reasoning
        self.reply = reply or self._scripted_reply
        self.model = model
        self.max_model_len = max_model_len
        self.check_max_tokens = check_max_tokens
        self.plan: deque[Fault | None] = deque(plan)
        self.rate = rate
        self.kinds = tuple(kinds)
        self.fault_paths = fault_paths
        self.latency = latency
        self.token_delay = token_delay
        self.piece = piece
        self.requests: list[Record] = []
        self.keep = keep
        self._count = 0
        self._connections = 0
        self._random = random.Random(seed)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._thread_loop: asyncio.AbstractEventLoop | None = None

    @property
    def base_url(self) -> str:
        """The API root, `http://127.0.0.1:PORT/v1`."""
        return f"http://127.0.0.1:{self.port}/v1"

    def bodies(self, path: str) -> list[Any]:
        """The JSON bodies of the requests whose path ends with `path`, in order."""
        return [r.body for r in self.requests if r.path.endswith(path)]

    # -- life cycle

    async def start(self) -> None:
        """Listen on 127.0.0.1:`port` (a free port the first time if it is 0)."""
        if self._server is not None:
            return
        self._server = await asyncio.start_server(
            self._handle, "127.0.0.1", self.port, limit=1 << 20, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop listening (the port refuses connections) and abort every open connection."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=SHUTDOWN_TIMEOUT)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(server.wait_closed(), SHUTDOWN_TIMEOUT)

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @contextlib.contextmanager
    def in_thread(self) -> Iterator[FaultServer]:
        """Run the server on its own event loop in a thread, for synchronous tests."""
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="fault-server", daemon=True)
        thread.start()
        self._thread_loop = loop
        try:
            self.up()
            yield self
        finally:
            try:
                self.down()
            finally:
                self._thread_loop = None
                loop.call_soon_threadsafe(loop.stop)
                thread.join(SHUTDOWN_TIMEOUT)
                if not thread.is_alive():
                    loop.close()

    def up(self) -> None:
        """`start()` from another thread, for a server running `in_thread()`."""
        self._in_thread(self.start())

    def down(self) -> None:
        """`stop()` from another thread, for a server running `in_thread()`."""
        self._in_thread(self.stop())

    def _in_thread(self, coro: Any) -> None:
        if self._thread_loop is None:
            coro.close()
            raise RuntimeError("up() and down() serve in_thread(); in async code await start() or stop()")
        asyncio.run_coroutine_threadsafe(coro, self._thread_loop).result(SHUTDOWN_TIMEOUT * 2)

    # -- connections

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._server is None:  # accepted while stopping
            writer.transport.abort()
            return
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        self._connections += 1
        number = self._connections
        try:
            while True:
                request = await self._read(reader)
                if request is None or not await self._respond(request, writer, number):
                    break
                if not request.keep_alive:
                    break
        except (
            ValueError,  # a malformed request line or content-length
            ConnectionError,
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
            asyncio.TimeoutError,
            asyncio.CancelledError,  # stop(): asyncio's own done-callback must not see a cancelled task
        ):
            pass
        finally:
            self._writers.discard(writer)
            self._tasks.discard(task)
            writer.close()

    async def _read(self, reader: asyncio.StreamReader) -> _Request | None:
        """The next request on the connection, None when the client closed it."""
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), IDLE_TIMEOUT)
        except asyncio.IncompleteReadError as exc:
            if exc.partial.strip():
                raise
            return None
        lines = head.decode("latin-1").split("\r\n")
        method, target, version = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length") or 0)
        raw = await asyncio.wait_for(reader.readexactly(length), READ_TIMEOUT) if length else b""
        connection = headers.get("connection", "").lower()
        keep_alive = connection != "close" and (version != "HTTP/1.0" or connection == "keep-alive")
        if "chunked" in headers.get("transfer-encoding", "").lower():
            keep_alive = False  # its body was not read: the connection cannot carry another request
        return _Request(method.upper(), target.split("?", 1)[0], headers, raw, keep_alive)

    async def _respond(self, request: _Request, writer: asyncio.StreamWriter, connection: int) -> bool:
        """Answer one request; False when the connection must not carry another."""
        try:
            body = json.loads(request.raw) if request.raw else None
        except ValueError:
            body = None
        fault = self._fault(request) if request.method == "POST" else None
        record = Record(request.method, request.path, body, fault, time.monotonic(), connection=connection)
        self.requests.append(record)
        if self.keep is not None and len(self.requests) > 2 * self.keep:
            del self.requests[: -self.keep]
        self._count += 1
        if "chunked" in request.headers.get("transfer-encoding", "").lower():
            answer = _error(411, "this test server reads Content-Length bodies only")
        elif request.raw and body is None:
            answer = _error(400, "the request body is not valid JSON")
        else:
            answer = self._route(request.method, request.path, body, record)
        return await self._send(writer, answer, fault, record)

    def _fault(self, request: _Request) -> Fault | None:
        if self.fault_paths is not None and request.path not in self.fault_paths:
            return None
        if self.plan:
            return self.plan.popleft()
        if self.rate and self._random.random() < self.rate:
            return self._random.choice(self.kinds)
        return None

    async def _send(
        self, writer: asyncio.StreamWriter, answer: _Answer, fault: Fault | None, record: Record
    ) -> bool:
        """Write `answer` as `fault` says; False when the connection is closed or must be."""
        if isinstance(fault, Reset):
            _reset(writer)
            return False
        if isinstance(fault, ErrorEvent) and not answer.stream:
            fault = Status(fault.code, body=json.dumps({"error": _error_info(fault.code, fault.message)}))
        if isinstance(fault, (Status, Empty, Html)):
            await self._write(writer, _plain(fault))
            return True
        if isinstance(fault, Stall) and fault.after is None:
            await asyncio.sleep(fault.seconds)
            if fault.then != "continue":
                return self._close(writer, fault.then)
        if isinstance(fault, ErrorEvent):
            error = _event({"error": _error_info(fault.code, fault.message)})
            answer = dataclasses.replace(
                answer, parts=[*answer.parts[: fault.after], (error, ""), (DONE, "")]
            )
        chunked = answer.stream and not (isinstance(fault, Cut) and fault.framing == "close")
        if chunked:
            framing = ("transfer-encoding", "chunked")
        elif answer.stream:
            framing = ("connection", "close")
        else:
            framing = ("content-length", str(sum(len(part) for part, _ in answer.parts)))
        head = _head(answer.status, answer.content_type, framing)
        if isinstance(fault, Trickle):
            return await self._trickle(writer, head, answer, chunked, fault, record)
        return await self._stream(writer, head, answer, chunked, fault, record)

    async def _trickle(
        self,
        writer: asyncio.StreamWriter,
        head: bytes,
        answer: _Answer,
        chunked: bool,
        fault: Trickle,
        record: Record,
    ) -> bool:
        frame = _chunk if chunked else bytes
        data = b"".join(frame(part) for part, _ in answer.parts) + (TERMINATOR if chunked else b"")
        if fault.headers:
            data = head + data
        else:
            await self._write(writer, head)
        for i in range(len(data)):
            await self._write(writer, data[i : i + 1])
            await asyncio.sleep(fault.interval)
        record.sent = "".join(text for _, text in answer.parts)
        return chunked or not answer.stream

    async def _stream(
        self,
        writer: asyncio.StreamWriter,
        head: bytes,
        answer: _Answer,
        chunked: bool,
        fault: Stall | Cut | ErrorEvent | None,
        record: Record,
    ) -> bool:
        """The headers, then the parts one write each, stalled or cut where the fault says."""
        frame = _chunk if chunked else bytes
        parts = answer.parts
        count = len(parts)
        if isinstance(fault, Cut):
            count = min(len(parts) - 1 if fault.after is None else fault.after, len(parts))
        stall = fault if isinstance(fault, Stall) and fault.after is not None else None
        await self._write(writer, head)
        for i in range(count + 1):
            if i == 0 and answer.stream and self.latency:
                await asyncio.sleep(self.latency)
            if stall and i == min(stall.after or 0, count):
                await asyncio.sleep(stall.seconds)
                if stall.then != "continue":
                    return self._close(writer, stall.then)
            if i == count:
                break
            if i and self.token_delay:
                await asyncio.sleep(self.token_delay)
            part, text = parts[i]
            await self._write(writer, frame(part))
            record.sent += text
        if isinstance(fault, Cut):
            if fault.partial and count < len(parts):
                half = parts[count][0]
                await self._write(writer, frame(half[: len(half) // 2]))
            if fault.end == "terminator" and chunked:
                await self._write(writer, TERMINATOR)
                return True
            if fault.end == "reset":
                await asyncio.sleep(fault.grace)
            return self._close(writer, fault.end)
        if chunked:
            await self._write(writer, TERMINATOR)
        return chunked or not answer.stream

    @staticmethod
    async def _write(writer: asyncio.StreamWriter, data: bytes) -> None:
        writer.write(data)
        await asyncio.wait_for(writer.drain(), WRITE_TIMEOUT)

    @staticmethod
    def _close(writer: asyncio.StreamWriter, how: str) -> bool:
        """End the connection: "reset" now with an RST, else with a FIN once the handler returns."""
        if how == "reset":
            _reset(writer)
        return False

    # -- endpoints

    def _route(self, method: str, path: str, body: Any, record: Record) -> _Answer:
        if method == "GET" and path in ("/v1/models", "/models"):
            return _Answer.json(
                {
                    "object": "list",
                    "data": [
                        {
                            "id": self.model,
                            "object": "model",
                            "created": 0,
                            "owned_by": "vllm",
                            "root": self.model,
                            "parent": None,
                            "max_model_len": self.max_model_len,
                        }
                    ],
                }
            )
        if method == "GET" and path in ("/health", "/ping"):
            return _Answer(200, "application/json", [])
        endpoints = {
            "/v1/completions": self._completions,
            "/v1/chat/completions": self._chat,
            "/tokenize": self._tokenize,
            "/v1/tokenize": self._tokenize,
        }
        if path not in endpoints:
            return _Answer.json({"detail": "Not Found"}, 404)
        if method != "POST":
            return _Answer.json({"detail": "Method Not Allowed"}, 405)
        if not isinstance(body, dict):
            return _error(400, "the request body must be a JSON object")
        if body.get("model", self.model) != self.model:
            return _error(404, f"The model `{body['model']}` does not exist.", param="model")
        return endpoints[path](body, record)

    def _tokenize(self, body: dict[str, Any], record: Record) -> _Answer:
        if isinstance(body.get("prompt"), str):
            count = estimate_tokens(body["prompt"])
        elif isinstance(body.get("messages"), list):
            count = estimate_tokens(json.dumps(body["messages"], ensure_ascii=False))
        else:
            return _error(400, 'send "prompt" (a string) or "messages" (a list)')
        return _Answer.json(
            {
                "count": count,
                "max_model_len": self.max_model_len,
                "tokens": list(range(count)),
                "token_strs": None,
            }
        )

    def _scripted_reply(self, state: State) -> Reply:
        if state.step < self.calls:
            return Reply(reasoning=self.reasoning, tool=self.tool, arguments=self.arguments(state.step + 1))
        return Reply(answer=self.answer)

    def _check(self, body: dict[str, Any], prompt_tokens: int) -> _Answer | None:
        """vLLM's answer to a request it refuses, None for one it serves."""
        if body.get("stream") is not True:
            return _error(400, 'this test server only streams: send "stream": true')
        asked = int(body.get("max_tokens") or 0)
        if prompt_tokens >= self.max_model_len or (
            self.check_max_tokens and prompt_tokens + asked > self.max_model_len
        ):
            status = context_length_error(self.max_model_len, prompt_tokens, asked)
            return _Answer(400, "application/json", [((status.body or "").encode(), "")])
        return None

    def _completions(self, body: dict[str, Any], record: Record) -> _Answer:
        prompt = body.get("prompt")
        if not isinstance(prompt, str):
            return _error(400, '"prompt" must be a string', param="prompt")
        prompt_tokens = estimate_tokens(prompt)
        refused = self._check(body, prompt_tokens)
        if refused:
            return refused
        history, written, thinking = _split_prompt(prompt)
        record.step = history.count("<tool_response>")
        record.resumed = written
        reply = self.reply(State("completions", record.step, thinking, body))
        pieces = _pieces(_rest(completion_text(reply, thinking), written), self.piece)
        finish = "stop"
        limit = body.get("max_tokens")
        if isinstance(limit, int) and len(pieces) > limit:
            pieces, finish = pieces[:limit], "length"
        ident = f"cmpl-{self._count}"

        def chunk(choices: list[dict[str, Any]], **more: Any) -> dict[str, Any]:
            return {
                "id": ident,
                "object": "text_completion",
                "created": int(time.time()),
                "model": self.model,
                "choices": choices,
                **more,
            }

        def choice(text: str, finish_reason: str | None = None) -> dict[str, Any]:
            return {
                "index": 0,
                "text": text,
                "logprobs": None,
                "finish_reason": finish_reason,
                "stop_reason": None,
            }

        parts = [(_event(chunk([choice(p)])), p) for p in pieces]
        parts.append((_event(chunk([choice("", finish)])), ""))
        parts += self._usage(body, chunk, prompt_tokens, len(pieces))
        return _Answer(200, "text/event-stream; charset=utf-8", [*parts, (DONE, "")], stream=True)

    def _chat(self, body: dict[str, Any], record: Record) -> _Answer:
        messages = body.get("messages")
        if not isinstance(messages, list):
            return _error(400, '"messages" must be a list', param="messages")
        prompt_tokens = estimate_tokens(json.dumps(messages, ensure_ascii=False))
        refused = self._check(body, prompt_tokens)
        if refused:
            return refused
        thinking = (body.get("chat_template_kwargs") or {}).get("enable_thinking", True) is not False
        record.step = sum(1 for m in messages if isinstance(m, dict) and m.get("role") == "tool")
        reply = self.reply(State("chat", record.step, thinking, body))
        deltas: list[tuple[dict[str, Any], str]] = []
        if thinking and reply.reasoning:
            deltas += [({"reasoning": p}, p) for p in _pieces(f"\n{reply.reasoning}\n", self.piece)]
        if reply.tool is None:
            deltas += [({"content": p}, p) for p in _pieces(reply.answer, self.piece)]
            finish = "stop"
        else:
            call = {"id": f"chatcmpl-tool-{record.step}", "type": "function"}
            deltas.append(
                (
                    {"tool_calls": [{"index": 0, **call, "function": {"name": reply.tool, "arguments": ""}}]},
                    "",
                )
            )
            arguments = json.dumps(dict(reply.arguments), ensure_ascii=False)
            deltas += [
                ({"tool_calls": [{"index": 0, "function": {"arguments": p}}]}, p)
                for p in _pieces(arguments, self.piece)
            ]
            finish = "tool_calls"
        limit = body.get("max_completion_tokens") or body.get("max_tokens")
        if isinstance(limit, int) and len(deltas) > limit:
            deltas, finish = deltas[:limit], "length"
        ident = f"chatcmpl-{self._count}"

        def chunk(choices: list[dict[str, Any]], **more: Any) -> dict[str, Any]:
            return {
                "id": ident,
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": self.model,
                "choices": choices,
                **more,
            }

        def choice(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
            return {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}

        parts = [(_event(chunk([choice({"role": "assistant", "content": ""})])), "")]
        parts += [(_event(chunk([choice(delta)])), text) for delta, text in deltas]
        parts.append((_event(chunk([choice({}, finish)])), ""))
        parts += self._usage(body, chunk, prompt_tokens, len(deltas))
        return _Answer(200, "text/event-stream; charset=utf-8", [*parts, (DONE, "")], stream=True)

    @staticmethod
    def _usage(
        body: dict[str, Any], chunk: Callable[..., dict[str, Any]], prompt: int, completion: int
    ) -> list[tuple[bytes, str]]:
        if not (body.get("stream_options") or {}).get("include_usage"):
            return []
        usage = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }
        return [(_event(chunk([], usage=usage)), "")]


def _plain(fault: Status | Empty | Html) -> bytes:
    """The whole response of a fault that replaces the answer."""
    if isinstance(fault, Empty):
        return _head(fault.code, "text/event-stream; charset=utf-8", ("content-length", "0"))
    extra: tuple[tuple[str, str], ...] = ()
    if isinstance(fault, Html):
        body, media = fault.body.encode(), "text/html"
    else:
        text = fault.body
        if text is None:
            text = json.dumps({"error": _error_info(fault.code, _phrase(fault.code))})
        body, media = text.encode(), fault.content_type
        if fault.retry_after is not None:
            extra = (("retry-after", str(fault.retry_after)),)
    return _head(fault.code, media, ("content-length", str(len(body))), *extra) + body


# -- a port that never answers --------------------------------------------------------------


@dataclass(frozen=True)
class Hang:
    """A loopback port whose connections open and are never answered."""

    port: int

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"


@contextlib.contextmanager
def accept_and_hang(backlog: int = 64) -> Iterator[Hang]:
    """Listen without ever accepting: the kernel completes up to `backlog` handshakes, nothing answers.

    Closing it resets the connections still queued.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(backlog)
        yield Hang(sock.getsockname()[1])


# -- as a process ---------------------------------------------------------------------------


async def _serve(server: FaultServer) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        print(f"fault server listening on {server.base_url}", flush=True)
        await stop.wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (printed at start)")
    parser.add_argument("--calls", type=int, default=1, help="tool calls before the answer")
    parser.add_argument("--tool", default="step", help="the name of the tool the model calls")
    parser.add_argument("--answer", default=ANSWER, help="the final answer")
    parser.add_argument("--model", default=MODEL, help="the served model name")
    parser.add_argument("--max-model-len", type=int, default=MAX_MODEL_LEN)
    parser.add_argument("--rate", type=float, default=0.0, help="share of POSTs that get a fault")
    parser.add_argument("--seed", type=int, default=0, help="seed of the fault draws")
    parser.add_argument(
        "--kind",
        action="append",
        type=parse_fault,
        help="a fault --rate draws from (repeat; e.g. status:503)",
    )
    parser.add_argument(
        "--fault",
        action="append",
        type=parse_fault,
        default=[],
        help="the next POST's fault (repeat; none=healthy)",
    )
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before a stream's first event")
    parser.add_argument("--token-delay", type=float, default=0.0, help="seconds between events")
    args = parser.parse_args(argv)
    server = FaultServer(
        port=args.port,
        calls=args.calls,
        tool=args.tool,
        answer=args.answer,
        model=args.model,
        max_model_len=args.max_model_len,
        plan=args.fault,
        rate=args.rate,
        seed=args.seed,
        kinds=[k for k in args.kind if k is not None] if args.kind else DEFAULT_KINDS,
        latency=args.latency,
        token_delay=args.token_delay,
        keep=1000,
    )
    asyncio.run(_serve(server))


if __name__ == "__main__":
    main()
