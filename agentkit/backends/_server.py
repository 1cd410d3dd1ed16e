"""The model server a backend talks to: its URL, credentials, model name, window, transport
and retry policy; and `ServerBackend`, what the backends that talk to one share."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from agentkit.backends._http import EmptyBody, Transport, make_transport
from agentkit.backends.base import (
    ExtraBody,
    ModelRequest,
    Retrying,
    StructuredOutputs,
    check_extra,
    check_structured_outputs,
)
from agentkit.backends.retry import Attempts, RetryPolicy
from agentkit.backends.server_kinds import UNKNOWN, ServerKind, kind_of
from agentkit.defaults import DEFAULT_BASE_URL, DEFAULT_CONNECT_TIMEOUT, DEFAULT_IDLE_TIMEOUT
from agentkit.errors import ConfigError, ModelError, ModelUnreachable, StreamBroken

if TYPE_CHECKING:
    from agentkit.profiles import ModelProfile

__all__ = ["DEFAULT_BASE_URL", "ServerBackend", "ServerConnection", "normalize_base_url"]


def normalize_base_url(url: str) -> str:
    """`http://host:8000`, `.../v1` and `.../v1/` all become `http://host:8000/v1`.

    Raises:
        ConfigError: The URL is empty, has no `http://` or `https://` scheme and host, a port
            out of range, or names an endpoint instead of the API root.
    """
    text = url.strip()
    if not text:
        raise ConfigError(f"the base URL is empty; the default is --base-url {DEFAULT_BASE_URL}")
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        guess = "http://" + text.split("://", 1)[-1].strip("/")
        guess = guess if guess.endswith("/v1") else guess + "/v1"
        raise ConfigError(
            f"the base URL {url!r} has no http:// or https:// scheme and host; "
            f"did you mean --base-url {guess}?"
        )
    try:
        parts.port  # noqa: B018 - raises on a port out of range
    except ValueError:
        raise ConfigError(f"the base URL {url!r} has a port out of range (1-65535)") from None
    text = text.rstrip("/")
    for endpoint in ("/chat/completions", "/completions", "/models"):
        if text.endswith(endpoint):
            root = text[: -len(endpoint)]
            raise ConfigError(f"the base URL {url!r} names an endpoint; give the API root: --base-url {root}")
    return text if text.endswith("/v1") else text + "/v1"


class ServerConnection:
    """An OpenAI-compatible server: requests go out as ready JSON bytes.

    Args:
        base_url: The server's API root; `/v1` is added when missing.
        model: The served model name; None asks the server (`GET /v1/models`) once.
        api_key: Sent as a bearer token when set.
        transport: "aiohttp" (default), "httpx", or a transport object.
        client: An `openai.AsyncOpenAI` client whose base URL and API key to use.
        connect_timeout: Seconds to open a connection (for a transport made here).
        idle_timeout: Seconds a response may stay silent (for a transport made here).
        retry: How failed requests are retried.
    """

    def __init__(
        self,
        base_url: str | None = None,
        model: str | None = None,
        *,
        api_key: str | None = None,
        transport: str | Transport | None = None,
        client: Any = None,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
        retry: RetryPolicy | None = None,
    ) -> None:
        for name, value in (("connect_timeout", connect_timeout), ("idle_timeout", idle_timeout)):
            if not value > 0:
                raise ValueError(f"{name} must be a number of seconds above 0, got {value!r}")
        if client is not None:
            base_url = base_url or str(client.base_url)
            api_key = api_key or getattr(client, "api_key", None)
        self.base_url = normalize_base_url(DEFAULT_BASE_URL if base_url is None else base_url)
        self.root = self.base_url[: -len("/v1")]
        self.model = model
        self.retry = retry or RetryPolicy()
        self.transport = make_transport(transport, connect_timeout=connect_timeout, idle_timeout=idle_timeout)
        self.headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
        if api_key and api_key != "EMPTY":
            self.headers["Authorization"] = f"Bearer {api_key}"
        self.answered = False
        """Whether the server has ever answered: a refused connection before that means
        no server is there (fail at once); after it, a server restarting (retry)."""
        self.kind: ServerKind = UNKNOWN
        """What kind of server it is (known once its models are listed)."""
        self.thinks_anyway = False
        """Seen to think although `enable_thinking` was false: it ignores the flag."""
        self._listed = False
        self._max_model_len: int | None = None
        self._checkpoint: str | None = None  # where the server loaded the model from (vLLM's "root")
        self._lock: asyncio.Lock | None = None
        self._lock_loop: asyncio.AbstractEventLoop | None = None
        self._tokenize = True  # until the server shows it cannot

    def attempts(self) -> Attempts:
        """A fresh retry budget for one model call."""
        return Attempts(self.retry)

    async def prepare(self) -> AsyncIterator[Retrying]:
        """Ask the server for its models once, shared by concurrent runs; yields a
        `Retrying` for each failed attempt it retries."""
        if self._listed:
            return
        async with self._listing_lock():
            if self._listed:
                return
            attempts = self.attempts()
            while True:
                try:
                    listing = await self.get("/models")
                    break
                except ModelError as exc:
                    if not exc.retryable and exc.status is not None and self.model is not None:
                        listing = None  # no listing: the configured name will do
                        break
                    wait = attempts.wait_after(exc)
                    yield Retrying(attempts.number, wait, str(exc))
                    await asyncio.sleep(wait)
            self._read_listing(listing)

    def _listing_lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if self._lock is None or self._lock_loop is not loop:
            self._lock, self._lock_loop = asyncio.Lock(), loop
        return self._lock

    def _read_listing(self, listing: Any) -> None:
        data = listing.get("data") if isinstance(listing, dict) else None
        entries = [m for m in data or () if isinstance(m, dict) and m.get("id")]
        chosen = next((m for m in entries if m["id"] == self.model), None)
        if self.model is None:
            if not entries:
                raise ModelError(
                    f"the server at {self.base_url} lists no models; pass --model NAME",
                    url=self.base_url + "/models",
                )
            chosen = entries[0]
            self.model = str(chosen["id"])
        root = chosen.get("root") if chosen else None
        self._checkpoint = root if isinstance(root, str) else None
        length = chosen.get("max_model_len") if chosen else None
        self._max_model_len = length if isinstance(length, int) and length > 0 else None
        self.kind = kind_of(chosen or (entries[0] if entries else None))
        self._listed = True

    @property
    def profile(self) -> ModelProfile:
        """The served model's profile: by the name asked for, else by the checkpoint the
        server loaded (vLLM lists it), for a model served under a name of its own."""
        from agentkit.profiles import PROFILES, profile_for

        for name in (self.model, self._checkpoint):
            found = profile_for(name) if name else None
            if found is not None and (found.name in PROFILES or found.thinks != "switch"):
                return found
        return profile_for(self.model)

    @property
    def thinking_flag(self) -> bool:
        """Whether `chat_template_kwargs.enable_thinking` turns thinking off here."""
        return self.kind.thinking_flag and not self.thinks_anyway

    async def model_name(self) -> str:
        """The model to ask for: as configured, else the first one the server serves."""
        async for _ in self.prepare():
            pass
        assert self.model is not None
        return self.model

    async def check(self) -> None:
        """Fail at once if nothing has ever answered at the base URL: one request, before a
        run starts slower things (MCP servers). Other failures are left to the first step,
        which retries them."""
        if self._listed or self.answered:
            return
        try:
            await self.get("/models")
        except ModelUnreachable as exc:
            if not exc.retryable:
                raise
        except ModelError:
            pass

    async def max_model_len(self) -> int | None:
        """The context window the server reports for the model (vLLM does), if any."""
        async for _ in self.prepare():
            pass
        return self._max_model_len

    def body(self, fields: dict[str, Any]) -> bytes:
        return json.dumps(fields, ensure_ascii=False).encode("utf-8", "surrogatepass")

    async def stream(self, path: str, body: bytes) -> AsyncIterator[dict[str, Any]]:
        """POST a ready body to `path` and yield the streamed events."""
        try:
            async for event in self.transport.stream(self.base_url + path, body, self.headers):
                self.answered = True
                yield event
        except ModelError as exc:
            raise self._seen(exc) from None

    async def get(self, path: str) -> Any:
        try:
            answer = await self.transport.get_json(self.base_url + path, self.headers)
        except ModelError as exc:
            raise self._seen(exc) from None
        self.answered = True
        return answer

    async def count_tokens(self, fields: dict[str, Any]) -> int | None:
        """The exact token count of a prompt (`{"prompt": ...}`) or chat (`{"messages": ...}`)
        from the server's tokenizer endpoint (vLLM's `/tokenize`); None where it has none."""
        tokenizer = self.kind.tokenizer
        if not self._tokenize or tokenizer is None or ("prompt" not in fields and not tokenizer.chat):
            return None
        if "prompt" in fields:
            fields = {tokenizer.field: fields["prompt"]}
        body = self.body({"model": self.model, **fields})
        try:
            answer = await self.transport.post_json(self.root + tokenizer.path, body, self.headers)
        except ModelError as exc:
            if exc.status is not None and not exc.retryable:
                self._tokenize = False  # 404 or 405: this server has no /tokenize
            return None
        count = answer.get("count") if isinstance(answer, dict) else None
        return count if isinstance(count, int) else None

    def cut_short(self, url_path: str) -> StreamBroken:
        """The error for a stream that ended (`[DONE]`) without a `finish_reason`."""
        why = f" ({self.kind.cut_short})" if self.kind.cut_short else ""
        url = self.base_url + url_path
        return StreamBroken(
            f"the stream from {url} ended without saying why the output stopped (no finish_reason){why}",
            url=url,
            retryable=True,
        )

    def _seen(self, exc: ModelError) -> ModelError:
        """The error as the caller should see it, knowing whether the server ever answered
        and what kind of server it is."""
        if exc.status is not None:
            self.answered = True
        if isinstance(exc, EmptyBody) and self.kind.empty_body:
            return ModelError(f"{exc}: {self.kind.empty_body}", url=exc.url, status=200)
        if not isinstance(exc, ModelUnreachable):
            return exc
        if self.answered:
            return ModelUnreachable(
                f"the model server at {self.base_url} stopped answering ({exc})", url=exc.url, retryable=True
            )
        from agentkit.serving import serve_hint

        return ModelUnreachable(
            f"no model server answers at {self.base_url} ({exc}). {serve_hint(self.base_url, self.model)}",
            url=exc.url,
        )

    async def aclose(self) -> None:
        await self.transport.aclose()


class ServerBackend:
    """What the backends that talk to one OpenAI-compatible server share: the connection,
    the extra request fields, how an answer is held to its output schema, and the calls
    that go straight to the server. Its arguments are documented on `ChatBackend` and
    `CompletionsBackend`, the public faces of it.
    """

    def __init__(
        self,
        base_url: str | None = None,
        model: str | None = None,
        *,
        api_key: str | None = None,
        transport: str | Transport | None = None,
        client: Any = None,
        extra_body: ExtraBody = None,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
        retry: RetryPolicy | None = None,
        structured_outputs: StructuredOutputs = "auto",
    ) -> None:
        self.structured_outputs = check_structured_outputs(structured_outputs)
        self.server = ServerConnection(
            base_url,
            model,
            api_key=api_key,
            transport=transport,
            client=client,
            connect_timeout=connect_timeout,
            idle_timeout=idle_timeout,
            retry=retry,
        )
        self.extra_body = check_extra(extra_body) if isinstance(extra_body, dict) else extra_body

    async def check(self) -> None:
        """Fail at once if no model server has ever answered at the base URL."""
        await self.server.check()

    async def context_window(self) -> int | None:
        return await self.server.max_model_len()

    def constrains(self, request: ModelRequest) -> bool:
        """Whether this request's answer is constrained to its output schema by the server."""
        if request.output_schema is None or self.structured_outputs == "validate":
            return False
        return self.structured_outputs == "server" or self.server.kind.json_schema

    async def aclose(self) -> None:
        await self.server.aclose()
