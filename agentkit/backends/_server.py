"""The model server a backend talks to: its URL, credentials, model name and transport."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from agentkit.backends._http import Transport, make_transport
from agentkit.errors import ModelError, ModelUnreachable

__all__ = ["DEFAULT_BASE_URL", "ServerConnection"]

DEFAULT_BASE_URL = "http://127.0.0.1:8000/v1"
"""Where `vllm serve` listens by default."""


def normalize_base_url(url: str) -> str:
    """`http://host:8000`, `.../v1` and `.../v1/` all become `http://host:8000/v1`."""
    url = url.rstrip("/")
    return url if url.endswith("/v1") else url + "/v1"


class ServerConnection:
    """An OpenAI-compatible server: requests go out as ready JSON bytes.

    Args:
        base_url: The server's API root; `/v1` is added when missing.
        model: The served model name; None asks the server (`GET /v1/models`) once.
        api_key: Sent as a bearer token when set.
        transport: "aiohttp" (default), "httpx", or a transport object.
        client: An `openai.AsyncOpenAI` client whose base URL and API key to use.
    """

    def __init__(
        self,
        base_url: str | None = None,
        model: str | None = None,
        *,
        api_key: str | None = None,
        transport: str | Transport | None = None,
        client: Any = None,
    ) -> None:
        if client is not None:
            base_url = base_url or str(client.base_url)
            api_key = api_key or getattr(client, "api_key", None)
        self.base_url = normalize_base_url(base_url or DEFAULT_BASE_URL)
        self.model = model
        self._listed = False
        self._max_model_len: int | None = None
        self.transport = make_transport(transport)
        self.headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
        if api_key and api_key != "EMPTY":
            self.headers["Authorization"] = f"Bearer {api_key}"

    async def model_name(self) -> str:
        """The model to ask for: as configured, else the first one the server serves."""
        if not self._listed:
            await self._list_models()
        if self.model is None:
            raise ModelError(
                f"the server at {self.base_url} lists no models; pass --model NAME",
                url=self.base_url + "/models",
            )
        return self.model

    async def max_model_len(self) -> int | None:
        """The context window the server reports for the model (vLLM does), if any."""
        if not self._listed:
            await self._list_models()
        return self._max_model_len

    async def _list_models(self) -> None:
        # One GET /v1/models per connection: it names the model when none was given, and
        # vLLM's listing also gives the context window.
        try:
            listing = await self.get("/models")
        except ModelUnreachable:
            raise
        except ModelError:
            if self.model is None:
                raise
            listing = None
        entries = [m for m in (listing or {}).get("data", []) if isinstance(m, dict) and m.get("id")]
        chosen = next((m for m in entries if m["id"] == self.model), None)
        if self.model is None and entries:
            chosen = entries[0]
            self.model = str(chosen["id"])
        length = chosen.get("max_model_len") if chosen else None
        self._max_model_len = length if isinstance(length, int) else None
        self._listed = True

    def body(self, fields: dict[str, Any]) -> bytes:
        return json.dumps(fields, ensure_ascii=False).encode()

    async def stream(self, path: str, body: bytes) -> AsyncIterator[dict[str, Any]]:
        """POST a ready body to `path` and yield the streamed events."""
        try:
            async for event in self.transport.stream(self.base_url + path, body, self.headers):
                yield event
        except ModelUnreachable as exc:
            raise self._unreachable(exc) from None

    async def get(self, path: str) -> Any:
        try:
            return await self.transport.get_json(self.base_url + path, self.headers)
        except ModelUnreachable as exc:
            raise self._unreachable(exc) from None

    def _unreachable(self, exc: ModelUnreachable) -> ModelUnreachable:
        from agentkit.serving import serve_hint

        return ModelUnreachable(
            f"no model server answers at {self.base_url} ({exc}). {serve_hint(self.base_url, self.model)}",
            url=exc.url,
        )

    async def aclose(self) -> None:
        await self.transport.aclose()
